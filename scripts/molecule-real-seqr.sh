#!/usr/bin/env bash
# `make molecule-real-seqr SEQR_SOURCE=/path/to/seqr`: the real_seqr Molecule scenario against that checkout, on
# a seqr host whose Debian release suits the checkout's Python (scripts/seqr_host_release.py reads seqr's own
# Dockerfile; SEQR_S3_DEBIAN_RELEASE overrides it), and one row per run appended to molecule/real_seqr/RESULTS.md:
# seqr commit and date, host OS, Python, result, verify's pytest counts, minutes, date.
# Without SEQR_SOURCE it prints how to run it and succeeds (CI has no seqr checkout). Log:
# .cache/molecule-real-seqr/<seqr commit>.log. Expects the collection installed (the Makefile target does that).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/run-record.sh
source_dir=${1:-}
if [ -z "$source_dir" ]; then
  echo "molecule-real-seqr: skipped, SEQR_SOURCE is unset (run: make molecule-real-seqr SEQR_SOURCE=/path/to/seqr)"
  exit 0
fi
[ -d "$source_dir" ] || { echo "molecule-real-seqr: SEQR_SOURCE '$source_dir' is not a folder" >&2; exit 2; }
source_dir=$(cd "$source_dir" && pwd)

choice=$(.venv/bin/python scripts/seqr_host_release.py "$source_dir") || exit 2
read -r release host_python _seqr_python <<<"$choice"
declare -A debian=([bullseye]=11 [bookworm]=12 [trixie]=13)

if git -C "$source_dir" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  seqr_commit=$(tree_commit "$source_dir" 8)
  seqr_date=$(git -C "$source_dir" log -1 --format=%cs HEAD)
else
  seqr_commit=unknown
  seqr_date=unknown
fi

export CONTAINERS_CONF=$PWD/scripts/containers.conf
export MOLECULE_EPHEMERAL_DIRECTORY=$PWD/.cache/molecule/real_seqr
mkdir -p .cache/molecule-real-seqr
log=.cache/molecule-real-seqr/${seqr_commit%+changes}.log
: >"$log"
start=$(date +%s)
# The S3 host stays on bookworm; the seqr host runs the chosen release (molecule.yml reads SEQR_S3_DEBIAN_RELEASE).
if bash scripts/build-image.sh bookworm 2>&1 | tee -a "$log" && bash scripts/build-image.sh "$release" 2>&1 | tee -a "$log" \
  && SEQR_SOURCE=$source_dir SEQR_S3_DEBIAN_RELEASE=$release .venv/bin/molecule test -s real_seqr 2>&1 | tee -a "$log"; then
  result=passed
else
  result=FAILED
fi
minutes=$(run_minutes "$start")
counts=$(verify_counts "$log")
printf '| %s | %s | Debian %s (%s) | %s | %s | %s | %s | %s |\n' "$seqr_commit" "$seqr_date" "${debian[$release]}" \
  "$release" "$host_python" "$result" "${counts:-none (see log)}" "$minutes" "$(date -u +%Y-%m-%d)" \
  >>molecule/real_seqr/RESULTS.md
echo "molecule-real-seqr: seqr $seqr_commit ($seqr_date) on Debian ${debian[$release]} $result" \
  "(${counts:-no verify counts}, $minutes min), log $log, row added to molecule/real_seqr/RESULTS.md"
[ "$result" = passed ]
