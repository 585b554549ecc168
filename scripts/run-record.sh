# Sourced by scripts/molecule-matrix.sh, scripts/molecule-real-seqr.sh and scripts/molecule-s3-networks.sh: what
# their results rows share.

# The short commit of the git tree at DIR (default: here), LENGTH characters if given, with "+changes" when
# tracked files differ from it.
tree_commit() {
  local dir=${1:-.} commit
  commit=$(git -C "$dir" rev-parse --short${2:+=$2} HEAD) || return 1
  [ -z "$(git -C "$dir" status --porcelain --untracked-files=no)" ] || commit="$commit+changes"
  echo "$commit"
}

# Whole minutes since START (seconds since the epoch), rounded.
run_minutes() {
  echo $(( ($(date +%s) - $1 + 30) / 60 ))
}

# verify's pytest summary in LOG without its time, e.g. "154 passed, 14 skipped": the last one; empty if none.
verify_counts() {
  grep -aoE '[0-9]+ (passed|failed|skipped|errors?)(, [0-9]+ [a-z]+)* in [0-9.]+s' "$1" | tail -n1 \
    | sed -E 's/ in [0-9.]+s$//'
}
