#!/usr/bin/env bash
# `make molecule-s3-networks`: the s3_networks Molecule scenario (radosgw over HTTPS with a private CA, broken
# certificates refused, its STS, requester pays, a forward proxy) from a fresh `molecule test`, one row appended to molecule/s3_networks/RESULTS.md:
# commit, result, verify's pytest counts, minutes, date. Log: .cache/molecule-s3-networks.log. Expects the
# collection installed and igv-tools (the Makefile target does both).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/run-record.sh
export CONTAINERS_CONF=$PWD/scripts/containers.conf
export MOLECULE_EPHEMERAL_DIRECTORY=$PWD/.cache/molecule/s3_networks
commit=$(tree_commit)
log=.cache/molecule-s3-networks.log
start=$(date +%s)
if bash scripts/build-image.sh bookworm >"$log" 2>&1 && .venv/bin/molecule test -s s3_networks >>"$log" 2>&1; then
  result=passed
else
  result=FAILED
fi
minutes=$(run_minutes "$start")
counts=$(verify_counts "$log")
printf '| %s | %s | %s | %s | %s |\n' "$commit" "$result" "${counts:-none (see log)}" "$minutes" \
  "$(date -u +%Y-%m-%d)" >>molecule/s3_networks/RESULTS.md
echo "molecule-s3-networks: $result (${counts:-no verify counts}, $minutes min), log $log"
[ "$result" = passed ]
