#!/usr/bin/env bash
# Builds the Ansible collection seqr_s3.seqr_s3 into OUT_DIR/seqr_s3-seqr_s3-<version>.tar.gz and prints
# "built <path>" on its last line. The collection holds roles/seqr_s3 (the seqr_s3 wheel from build-wheel.sh in
# its files/, the role's default seqr_s3_package_wheel pointing there), playbooks/site.yml and remove.yml,
# meta/runtime.yml, README, CHANGELOG and galaxy.yml: collection/galaxy.in.yml plus python/pyproject.toml's
# version, the project's one version number. Everything is assembled in a temporary staging folder, so the
# working tree's role gets no build leftovers.
# Usage: scripts/build-collection.sh [PYTHON] [OUT_DIR]   (defaults: .venv/bin/python, dist; `make collection`)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-}
if [ -z "$python" ]; then
  if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
out=${2:-dist}
galaxy=$(dirname "$python")/ansible-galaxy
[ -x "$galaxy" ] || galaxy=ansible-galaxy

version=$("$python" -c 'import tomllib; print(tomllib.load(open("python/pyproject.toml", "rb"))["project"]["version"])')
wheel=$(bash scripts/build-wheel.sh "$python" | tail -n1 | cut -d' ' -f2-)
if [ "$(basename "$wheel")" != "seqr_s3-$version-py3-none-any.whl" ]; then
  echo "build-collection: the wheel $wheel does not carry version $version" >&2
  exit 1
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
collection=$stage/seqr_s3
mkdir -p "$collection/roles" "$collection/playbooks" "$collection/meta"
cp -R roles/seqr_s3 "$collection/roles/seqr_s3"
# Ansible loads no plugins from a role inside a collection, and a role's unqualified filter names do not look in
# its collection: the filters go to the collection's plugins/filter/, and the role's uses of them are qualified.
mkdir -p "$collection/plugins/filter"
mv "$collection/roles/seqr_s3/filter_plugins/seqr_s3_filters.py" "$collection/plugins/filter/"
rm -r "$collection/roles/seqr_s3/filter_plugins"
"$python" - "$collection" <<'PY'
import re
import sys
from pathlib import Path

collection = Path(sys.argv[1])
plugin = (collection / "plugins" / "filter" / "seqr_s3_filters.py").read_text()
names = sorted(set(re.findall(r'^    "(seqr_s3_[a-z_]+)": ', plugin, flags=re.M)), key=len, reverse=True)
use = re.compile(r"\|\s*(" + "|".join(names) + r")\b")
for path in (collection / "roles" / "seqr_s3").rglob("*"):
    if path.suffix in {".yml", ".j2"}:
        text = path.read_text()
        qualified = use.sub(lambda m: "| seqr_s3.seqr_s3." + m.group(1), text)
        if qualified != text:
            path.write_text(qualified)
PY
find "$collection" -name __pycache__ -prune -exec rm -rf {} +
cp playbooks/site.yml playbooks/remove.yml "$collection/playbooks/"
cp collection/meta/runtime.yml "$collection/meta/"
cp collection/README.md CHANGELOG.md "$collection/"
{ cat collection/galaxy.in.yml; echo "version: $version"; } >"$collection/galaxy.yml"

# The role installs the wheel it carries unless the inventory names another.
cp "$wheel" "$collection/roles/seqr_s3/files/"
"$python" - "$collection/roles/seqr_s3/defaults/main.yml" "$(basename "$wheel")" <<'PY'
import sys
from pathlib import Path

defaults, wheel = Path(sys.argv[1]), sys.argv[2]
line = 'seqr_s3_package_wheel: ""\n'
text = defaults.read_text()
if text.count(line) != 1:
    sys.exit(f"build-collection: {defaults} has no single line {line.strip()!r} to point at the bundled wheel")
defaults.write_text(text.replace(line, f'seqr_s3_package_wheel: "{{{{ role_path }}}}/files/{wheel}"\n'))
PY

# Nothing in the collection may point outside it (the issue this artifact exists for).
links=$(find "$collection" -type l)
if [ -n "$links" ]; then
  echo "build-collection: symbolic links in the collection: $links" >&2
  exit 1
fi

mkdir -p "$out"
"$galaxy" collection build "$collection" --output-path "$out" --force >/dev/null
artifact=$(cd "$out" && pwd)/seqr_s3-seqr_s3-$version.tar.gz
[ -f "$artifact" ] || { echo "build-collection: ansible-galaxy wrote no $artifact" >&2; exit 1; }
echo "built $artifact"
