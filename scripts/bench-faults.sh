# The fault cases of scripts/bench.sh, which sources this file: failover and goodput under kill -9 of the
# leader. They use bench.sh's functions of each system (KIND_leader, KIND_pid, KIND_start_node...), its
# leader-change count (lc_*) and settings. Kill times go to FILE.kills ("TIME NODE" lines) and every
# write to FILE.writes; bench/write-load.py turns both into one FAILOVER or GOODPUT line.

# bench/write-load.py on every node of system kind $1 through API $2, in the background, for at most $4
# seconds, its writes recorded in $3.
start_write_load() {
  local kind=$1 api=$2 file=$3 secs=$4 urls=() n
  for n in $("${kind}_nodes"); do urls+=("$("${kind}_url" "$n")"); done
  python3 bench/write-load.py run --api "$api" --urls "$(IFS=,; echo "${urls[*]}")" --out "$file" \
    --clients "$FAULT_CLIENTS" --seconds "$secs" --timeout "$FAULT_TIMEOUT_S" --seed "$SEED" >>"$log" 2>&1 &
  load_pid=$!
}

# Waits for the write load to end, after SIGTERM if $1 is "stop".
end_write_load() {
  [[ ${1:-} != stop ]] || kill -TERM "$load_pid" 2>/dev/null || true
  wait "$load_pid" || note "the write load exited with status $?; see $log"
  load_pid=''
}

# kill -9 of the leader of system kind $1 (found within $2 seconds), its time appended to $3; the node
# killed in $killed, the time in $killed_at. Not in a subshell: the leader-change count keeps what the
# node had counted.
killed='' killed_at=''
kill_leader() {
  local kind=$1 bound=$2 file=$3 pid
  killed=$("${kind}_leader" "$bound") || return 1
  lc_node_ends "$kind" "$killed"
  pid=$("${kind}_pid" "$killed")
  [[ $pid =~ ^[0-9]+$ ]] && kill -KILL "$pid" || return 1
  # Read once the signal is sent: a write invoked after this cannot be acknowledged by the killed node.
  killed_at=$(now)
  echo "$killed_at $killed" >>"$file"
  await_exit "$pid"
}

# Waits until the write load has recorded in $1 an acknowledged write invoked at or after time $2, at
# most $3 seconds. Lines are appended as writes complete: the one sought is near the end.
await_ack_after() {
  local deadline=$((SECONDS + $3))
  until tail -n 5000 "$1" | awk -v t="$2" '$3 == "ok" && $1 >= t { found = 1 } END { exit !found }'; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# Waits until node $2 of system kind $1 serves, at most $3 seconds.
await_serving() {
  local deadline=$((SECONDS + $3))
  until "${1}_serves" "$2"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Appends what bench/write-load.py makes of a fault case's files to $raw and shows it.
summarize_faults() {
  local system=$1 round=$2 id=$3 file=$4 line
  line=$(python3 bench/write-load.py summarize "$file.writes" --kills "$file.kills" --case "$id" \
    --label "round=$round system=$system case=$id") || { note "$system round $round: no $id figures; see $log"; return 0; }
  echo "$line" >>"$raw"
  awk -v tag="$(printf '%-6s r%s %-22s' "$system" "$round" "$id")" '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      if ($1 == "FAILOVER") printf "  %s kill to first new ack: median %s s, max %s s (%s kills, %s recovered)\n",
        tag, v["median_s"], v["max_s"], v["kills"], v["recovered"]
      else printf "  %s %s writes acknowledged in %s s (%s/s), %s failed, %s refused, %s kills\n",
        tag, v["acked"], v["secs"], v["ops_s"], v["failed"], v["refused"], v["kills"]
    }' <<<"$line" | tee -a "$log"
  rm -f "$file.writes" "$file.kills"
}

# KILLS times: kill -9 of the leader, wait until the load has an acknowledged write invoked after the
# kill (a new leader serves), start the killed node again, wait until it serves, then SETTLE_S seconds
# (also before the first kill).
failover_case() {
  local system=$1 round=$2 api=$3 kind file k
  kind=$(kind_of "$system")
  file=$DATA/failover-$stamp
  : >"$file.kills"
  lc_begin "$kind"
  start_write_load "$kind" "$api" "$file.writes" $((KILLS * (SETTLE_S + FAILOVER_WAIT_S + RESTART_WAIT_S) + SETTLE_S))
  sleep "$SETTLE_S"
  for ((k = 1; k <= KILLS; k++)); do
    kill_leader "$kind" 10 "$file.kills" || { note "$system round $round failover: no leader to kill (kill $k)"; break; }
    await_ack_after "$file.writes" "$killed_at" "$FAILOVER_WAIT_S" ||
      note "$system round $round failover: no write acknowledged within ${FAILOVER_WAIT_S}s of kill $k"
    { "${kind}_start_node" "$killed" && await_serving "$kind" "$killed" "$RESTART_WAIT_S"; } ||
      { note "$system round $round failover: node $killed did not serve within ${RESTART_WAIT_S}s of its restart"; break; }
    sleep "$SETTLE_S"
  done
  end_write_load stop
  lc_end "$kind" "$round" "$system" failover
  summarize_faults "$system" "$round" failover "$file"
}

# GOODPUT_S seconds of writes; every KILL_EVERY_S (MIN-MAX, drawn from SEED and the round, so every system
# of a round gets the same draws) kill -9 of the leader, and the killed node started again at once.
goodput_case() {
  local system=$1 round=$2 api=$3 kind file lo=${KILL_EVERY_S%-*} hi=${KILL_EVERY_S#*-} start next gap_ms pause n
  kind=$(kind_of "$system")
  file=$DATA/goodput-$stamp
  : >"$file.kills"
  RANDOM=$((SEED * 1000 + round))
  lc_begin "$kind"
  start_write_load "$kind" "$api" "$file.writes" "$GOODPUT_S"
  start=$(now)
  next=$start
  while :; do
    gap_ms=$((lo * 1000 + RANDOM % ((hi - lo) * 1000 + 1))) # drawn here: a subshell's draws are its own
    next=$(awk -v t="$next" -v ms="$gap_ms" 'BEGIN { printf "%.3f", t + ms / 1000 }')
    # No kill in the last second: its effect would not be measured.
    pause=$(awk -v t="$next" -v now="$(now)" -v end="$start" -v len="$GOODPUT_S" \
      'BEGIN { if (t > end + len - 1) print "end"; else printf "%.3f", (t > now ? t - now : 0) }')
    [[ $pause != end ]] || break
    sleep "$pause"
    if kill_leader "$kind" 2 "$file.kills"; then
      "${kind}_start_node" "$killed" || note "$system round $round goodput: node $killed did not start again"
    else
      note "$system round $round goodput: no leader to kill at $(since "$start") s"
    fi
  done
  end_write_load
  # Every node serving again, so that its leader-change count can be read.
  for n in $("${kind}_nodes"); do
    [[ -d /proc/$("${kind}_pid" "$n") ]] || "${kind}_start_node" "$n" || true
    await_serving "$kind" "$n" 30 || note "$system round $round goodput: node $n not serving 30 s after the case"
  done
  lc_end "$kind" "$round" "$system" goodput
  summarize_faults "$system" "$round" goodput "$file"
}
