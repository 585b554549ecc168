#!/usr/bin/env bash
# Builds the wheel the role installs (seqr_s3_package_wheel) from python/ into dist/ and prints one line:
# "built <path>" when dist/ got a new wheel, "unchanged <path>" when the same bytes were already there.
# The same source gives the same bytes (fixed file times), so a rebuild never makes the role reinstall.
# Usage: scripts/build-wheel.sh [PYTHON]   (default: .venv/bin/python, else python3; `make wheel` runs it)
# With setuptools >= 70.1 in PYTHON nothing is downloaded; otherwise pip fetches setuptools from its index.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-}
if [ -z "$python" ]; then
  if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
if [ ! -f python/pyproject.toml ]; then
  echo "build-wheel: python/pyproject.toml is missing: run this from a checkout of the project" >&2
  exit 1
fi

isolation=()
if "$python" - <<'EOF' 2>/dev/null; then
import sys
import setuptools

major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
sys.exit(0 if (major, minor) >= (70, 1) else 1)  # 70.1: bdist_wheel built in, no `wheel` package needed
EOF
  isolation=(--no-build-isolation)
fi

out=$(mktemp -d)
trap 'rm -rf "$out" python/build' EXIT
# setuptools keeps modules deleted from src/ in build/: start from none, so the wheel holds exactly src/.
rm -rf python/build
# 1980-01-01, the earliest time a zip entry can carry: file times no longer depend on the checkout.
SOURCE_DATE_EPOCH=315532800 "$python" -m pip wheel --quiet --no-deps "${isolation[@]}" --wheel-dir "$out" ./python
built=("$out"/seqr_s3-*-py3-none-any.whl)
if [ ${#built[@]} -ne 1 ] || [ ! -f "${built[0]}" ]; then
  echo "build-wheel: expected one seqr_s3-*-py3-none-any.whl, pip wrote: $(ls "$out")" >&2
  exit 1
fi
name=$(basename "${built[0]}")
mkdir -p dist
if cmp -s "${built[0]}" "dist/$name"; then
  echo "unchanged $PWD/dist/$name"
else
  mv "${built[0]}" "dist/$name"
  echo "built $PWD/dist/$name"
fi
