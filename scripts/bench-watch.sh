# Sourced by scripts/bench.sh: the watch cases (described at the top of bench.sh), with its helpers
# (lc_begin, lc_end, run_case, note, say, the system functions) and settings (WATCHERS, WATCH_RATE, DURATION).

# The watch cases (see the top). Args: system round kind api leader follower
watch_cases() {
  local system=$1 round=$2 kind=$3 api=$4 leader=$5 at=${6:-$5} java result rc=0 hold_pid held
  java="$(bin/find-jdk)/bin/java"
  echo "### $system round $round watch: $WATCHERS watchers on node $at, $WATCH_RATE PUT/s to node $leader" >>"$log"
  lc_begin "$kind"
  timeout -k 5 $((DURATION + 120)) "$java" bench/WatchBench.java "$api" "$("${kind}_url" "$at")" \
    "$("${kind}_url" "$leader")" "$WATCHERS" "$WATCH_RATE" "$DURATION" >"$out" 2>&1 &
  load_pid=$!
  wait "$load_pid" || rc=$?
  load_pid=''
  lc_end "$kind" "$round" "$system" watch
  cat "$out" >>"$log"
  result=$(grep -m1 '^RESULT ' "$out" || true)
  if ((rc != 0)) || [[ -z $result ]]; then
    note "$system round $round watch: bench/WatchBench.java failed (exit $rc); see $log"
  else
    echo "round=$round system=$system case=watch $result" >>"$raw"
    say "  $(printf '%-6s r%s %-22s' "$system" "$round" watch) $(sed -E 's/.*ops_s=([^ ]*).* p50_ms=([^ ]*) p99_ms=([^ ]*).*/\1 PUT\/s  delay p50 \2 ms  p99 \3 ms/' <<<"$result")"
  fi
  # The same watchers, on the keys the PUT case writes, held while it runs.
  timeout -k 5 $((DURATION + 120)) "$java" bench/WatchBench.java "$api" "$("${kind}_url" "$at")" \
    "$("${kind}_url" "$leader")" "$WATCHERS" 0 $((DURATION + 5)) "${KEY_PREFIX:-bench-}" >"$out.hold" 2>&1 &
  hold_pid=$!
  local deadline=$((SECONDS + 60))
  until grep -q '^WATCHING' "$out.hold" 2>/dev/null || ((SECONDS > deadline)) || [[ ! -d /proc/$hold_pid ]]; do sleep 0.2; done
  if grep -q '^WATCHING' "$out.hold"; then
    run_case "$system" "$round" put-64-leader-watched "$api@$("${kind}_url" "$leader")" put 64 "$DURATION"
  else
    note "$system round $round: the watchers for put-64-leader-watched did not start; see $log"
  fi
  wait "$hold_pid" || true
  held=$(grep -m1 '^HELD ' "$out.hold" || true)
  cat "$out.hold" >>"$log"
  rm -f "$out.hold"
  [[ -z $held ]] || say "  $system r$round put-64-leader-watched: ${held#HELD }"
}
