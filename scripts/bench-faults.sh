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

# Nodes a fault case found down are started again in the background, so that the case goes on (kills on
# time, the load measured) while they start; whatever brought a node down (a kill, a kill while it was still
# starting, a start that failed), it is started again while the case runs, and never twice at once.
declare -A start_job=()     # node -> pid of its start in flight, or empty
declare -A starts_failed=() # node -> starts in this case that ended in failure

# True while node $2 of system kind $1 has a process that runs, by the pid its system recorded.
node_alive() {
  local pid
  pid=$("${1}_pid" "$2" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && process_runs "$pid"
}

# Collects node $1's start job, which has ended or is about to, counting a failure.
collect_start() {
  wait "${start_job[$1]}" || starts_failed[$1]=$((${starts_failed[$1]:-0} + 1))
  start_job[$1]=''
}

# Starts again, each in the background, the nodes of system kind $1 that are down and have no start in flight.
revive_down_nodes() {
  local kind=$1 n
  for n in $("${kind}_nodes"); do
    if [[ -n ${start_job[$n]:-} ]]; then
      if kill -0 "${start_job[$n]}" 2>/dev/null; then continue; fi
      collect_start "$n"
    fi
    if ! node_alive "$kind" "$n"; then
      "${kind}_start_node" "$n" &
      start_job[$n]=$!
    fi
  done
}

# Sleeps until time $2 (a `now` reading), starting again meanwhile every node of system kind $1 found down. The
# last stretch is one sleep, so that what follows happens on time.
revive_until() {
  local kind=$1 until=$2 left
  while :; do
    left=$(awk -v t="$until" -v now="$(now)" 'BEGIN { printf "%.3f", (t > now ? t - now : 0) }')
    if awk -v left="$left" 'BEGIN { exit !(left <= 0.25) }'; then
      sleep "$left"
      return 0
    fi
    revive_down_nodes "$kind"
    sleep 0.2
  done
}

# Waits until node $2 of system kind $1 serves, at most $3 seconds, starting again meanwhile every node found down.
bring_back() {
  local kind=$1 n=$2 deadline=$((SECONDS + $3))
  until "${kind}_serves" "$n"; do
    ((SECONDS < deadline)) || return 1
    revive_down_nodes "$kind"
    sleep 0.1
  done
}

# Waits for every start still in flight; each is bounded by its system's start script.
await_starts() {
  local n
  for n in "${!start_job[@]}"; do [[ -z ${start_job[$n]} ]] || collect_start "$n"; done
}

# Waits for every start still in flight, and notes the starts that failed in case $3 of system $1, round $2.
finish_starts() {
  local n
  await_starts
  for n in "${!starts_failed[@]}"; do
    note "$1 round $2 $3: ${starts_failed[$n]} start(s) of node $n ended without it running" \
      "(killed while starting, or failed); see $log"
  done
  starts_failed=()
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
  python3 bench/write-load.py timeline "$file.writes" --kills "$file.kills" >>"$log" 2>&1 ||
    note "write-load.py timeline failed; see $log"
  rm -f "$file.writes" "$file.kills"
}

# The time $1 seconds from now, as `now` reads it.
from_now() { awk -v t="$(now)" -v s="$1" 'BEGIN { printf "%.3f", t + s }'; }

# KILLS times: kill -9 of the leader, wait until the load has an acknowledged write invoked after the
# kill (a new leader serves), then until the killed node, started again, serves, then SETTLE_S seconds
# (also before the first kill). Outside the wait for that first write, a node found down is started again.
failover_case() {
  local system=$1 round=$2 api=$3 kind file k
  kind=$(kind_of "$system")
  file=$DATA/failover-$stamp
  : >"$file.kills"
  lc_begin "$kind"
  start_write_load "$kind" "$api" "$file.writes" $((KILLS * (SETTLE_S + FAILOVER_WAIT_S + RESTART_WAIT_S) + SETTLE_S))
  revive_until "$kind" "$(from_now "$SETTLE_S")"
  for ((k = 1; k <= KILLS; k++)); do
    kill_leader "$kind" 10 "$file.kills" || { note "$system round $round failover: no leader to kill (kill $k)"; break; }
    await_ack_after "$file.writes" "$killed_at" "$FAILOVER_WAIT_S" ||
      note "$system round $round failover: no write acknowledged within ${FAILOVER_WAIT_S}s of kill $k"
    bring_back "$kind" "$killed" "$RESTART_WAIT_S" ||
      { note "$system round $round failover: node $killed did not serve again within ${RESTART_WAIT_S}s (kill $k)"; break; }
    revive_until "$kind" "$(from_now "$SETTLE_S")"
  done
  end_write_load stop
  finish_starts "$system" "$round" failover
  lc_end "$kind" "$round" "$system" failover
  summarize_faults "$system" "$round" failover "$file"
}

# GOODPUT_S seconds of writes; every KILL_EVERY_S (MIN-MAX, drawn from SEED and the round, so every system
# of a round gets the same draws) kill -9 of the leader. The killed node is started again at once, and any
# node found down until the writes end (killed again while it was starting, a start that failed) as well.
goodput_case() {
  local system=$1 round=$2 api=$3 kind file lo=${KILL_EVERY_S%-*} hi=${KILL_EVERY_S#*-} start next gap_ms n
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
    if awk -v t="$next" -v end="$start" -v len="$GOODPUT_S" 'BEGIN { exit !(t > end + len - 1) }'; then break; fi
    revive_until "$kind" "$next"
    if kill_leader "$kind" 2 "$file.kills"; then
      revive_down_nodes "$kind"
    else
      note "$system round $round goodput: no leader to kill at $(since "$start") s"
    fi
  done
  while kill -0 "$load_pid" 2>/dev/null; do
    revive_down_nodes "$kind"
    sleep 0.2
  done
  end_write_load
  # Every node serving again, so that its leader-change count can be read.
  for n in $("${kind}_nodes"); do
    bring_back "$kind" "$n" 30 || note "$system round $round goodput: node $n not serving 30 s after the case"
  done
  finish_starts "$system" "$round" goodput
  lc_end "$kind" "$round" "$system" goodput
  summarize_faults "$system" "$round" goodput "$file"
}
