# Sourced by scripts/molecule-matrix.sh and scripts/molecule-real-seqr.sh: what their results rows share.

# Whole minutes since START (seconds since the epoch), rounded.
run_minutes() {
  echo $(( ($(date +%s) - $1 + 30) / 60 ))
}

# verify's pytest summary in LOG without its time, e.g. "154 passed, 14 skipped": the last one; empty if none.
verify_counts() {
  grep -aoE '[0-9]+ (passed|failed|skipped|errors?)(, [0-9]+ [a-z]+)* in [0-9.]+s' "$1" | tail -n1 \
    | sed -E 's/ in [0-9.]+s$//'
}
