#!/usr/bin/env bash
# The release check behind `make molecule-matrix`: the default Molecule scenario once per Debian release of the
# seqr host (arguments, e.g. bullseye bookworm trixie), each from a fresh `molecule test`, and one row per run
# appended to molecule/default/platforms.md: release, commit, result, verify's pytest counts, minutes, date.
# With SEQR_S3_WHEELHOUSE set (a wheelhouse for that release's Python) converge runs with the seqr host cut off
# every package index, and the row says so. Logs: .cache/molecule-matrix/<release>.log. Expects the collection installed (make collection-installed) and
# igv-tools; the Makefile target does both. Exits non-zero when any release failed.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/run-record.sh
[ $# -gt 0 ] || { echo "usage: $0 RELEASE..." >&2; exit 2; }
export CONTAINERS_CONF=$PWD/scripts/containers.conf
export MOLECULE_EPHEMERAL_DIRECTORY=$PWD/.cache/molecule/default
table=molecule/default/platforms.md
mkdir -p .cache/molecule-matrix
commit=$(tree_commit)
offline=""
[ -z "${SEQR_S3_WHEELHOUSE:-}" ] || offline=" (no package index: wheelhouse)"
failed=0
for release in "$@"; do
  log=.cache/molecule-matrix/$release.log
  start=$(date +%s)
  if bash scripts/build-image.sh bookworm >"$log" 2>&1 && bash scripts/build-image.sh "$release" >>"$log" 2>&1 \
    && SEQR_S3_DEBIAN_RELEASE=$release .venv/bin/molecule test >>"$log" 2>&1; then
    result=passed
  else
    result=FAILED
    failed=1
  fi
  minutes=$(run_minutes "$start")
  counts=$(verify_counts "$log")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$release$offline" "$commit" "$result" "${counts:-none (see log)}" \
    "$minutes" "$(date -u +%Y-%m-%d)" >>"$table"
  echo "molecule-matrix: $release $result (${counts:-no verify counts}, $minutes min), log $log"
done
exit "$failed"
