#!/usr/bin/env bash
# Fills a wheelhouse for seqr hosts without a route to a package index (the role's seqr_s3_pip_wheelhouse):
# the wheels of boto3 at the version the role pins for the host's Python (roles/seqr_s3/vars/main.yml)
# and of everything it depends on, for the seqr host's Python, not this machine's.
# Usage: scripts/build-wheelhouse.sh [PYTHON] [DEST] [HOST_PYTHON_VERSION] [HOST_PLATFORM] [EXTRA...]
#   DEST defaults to dist/wheelhouse. HOST_PYTHON_VERSION is the Python of seqr's virtualenv (pip's
#   --python-version: 3.9 on Debian 11, 3.11 on Debian 12, the default, 3.13 on Debian 13); HOST_PLATFORM is
#   pip's --platform (default manylinux2014_x86_64; manylinux2014_aarch64 for ARM hosts). Both matter: boto3's
#   dependencies differ by Python version (urllib3 1.x below 3.10). EXTRA requirements (name==version) are
#   added with their dependencies: the versions seqr's virtualenv has now of packages boto3's install would
#   replace, so that `seqr_s3_state: absent` can put them back without an index (the role refuses a wheelhouse
#   that lacks them and names them). `make wheelhouse` runs it (WHEELHOUSE_EXTRA).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-}
if [ -z "$python" ]; then
  if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
dest=${2:-dist/wheelhouse}
host_python=${3:-3.11}
platform=${4:-manylinux2014_x86_64}
extras=("${@:5}")

# The boto3 the role installs into a virtualenv of that Python (roles/seqr_s3/vars/main.yml's pins).
boto3=$("$python" scripts/wheelhouse_resolve.py --role-boto3-pin "$host_python")
mkdir -p "$dest"
# Wheels only (a host without an index cannot build an sdist either), dependencies resolved for the host's
# Python: pip alone would evaluate their markers for the Python running it (scripts/wheelhouse_resolve.py).
"$python" scripts/wheelhouse_resolve.py "$dest" "$host_python" "$platform" "boto3==$boto3" "${extras[@]}"
echo "wheelhouse $(cd "$dest" && pwd): boto3 $boto3 for CPython $host_python on $platform ($(ls "$dest" | wc -l) wheels)"
