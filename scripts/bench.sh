#!/usr/bin/env bash
# `make bench`: metcd (and, when installed, etcd) under the same wrk workload on this machine.
#
# Each round starts a fresh three-node cluster of each system in turn (the order alternates between
# rounds, so neither always runs on a warmer or cooler machine), writes the whole keyspace once,
# runs the cases below for DURATION seconds each, records every node's RSS after the writes and
# stops the cluster. The end prints one table (medians over rounds) and writes it, with the raw
# RESULT lines, to data/bench/results-<time>.txt.
#
# BENCH=engines (`make bench-engines`) measures the storage engines instead: each of metcd's engines and etcd
# hold KEYSPACE=1,000,000 keys; after the fill come PUT and linearizable GET at 64 connections, every
# node's RSS, then a follower is restarted twice (after SIGTERM, then after kill -9), each time timed from
# launch until it serves a read at the index it had applied before, with its RSS once it has.
#
# Environment (all optional):
#   ENGINE=map|mapdb|leveldb  metcd's engine (default map)
#   BENCH=compare|engines     the side-by-side cases (default) or the engine table
#   ROUNDS=1                  rounds per system; use 3 for medians worth comparing (runs vary ±30%)
#   DURATION=10               seconds per measured run
#   WARMUP=10                 seconds of unmeasured load on each node before the cases (0: none), the
#                             same for both systems: a JVM compiles a code path only once it runs it
#   FILL_SECONDS=150          upper bound for writing the keyspace once
#   NODES=3                   metcd cluster size (etcd is always three members)
#   BENCH_DIR                 the shared wrk scripts (default ../shared/bench next to this checkout)
#   KEYSPACE, VALUE_SIZE, ... workload settings, passed through to wrk-common.lua
#   SYSTEMS="metcd etcd"      what to measure (etcd is left out when it is not installed); metcd:ENGINE
#                             names an engine (BENCH=engines: "metcd:map metcd:mapdb metcd:leveldb etcd")
#
# Everything stays on 127.0.0.1. Every wrk run is bounded by run-wrk.sh (timeout DURATION+60). The
# script stops only the processes it started, by their recorded PIDs, also on error or Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

BENCH_DIR=${BENCH_DIR:-$root/../shared/bench}
BENCH=${BENCH:-compare}
ROUNDS=${ROUNDS:-1}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-10}
export ENGINE=${ENGINE:-map}
export NODES=${NODES:-3}
case $BENCH in
  compare)
    FILL_SECONDS=${FILL_SECONDS:-150}
    SYSTEMS=${SYSTEMS:-metcd etcd}
    export KEYSPACE=${KEYSPACE:-100000} ;;
  engines)
    FILL_SECONDS=${FILL_SECONDS:-900}
    SYSTEMS=${SYSTEMS:-metcd:map metcd:mapdb metcd:leveldb etcd}
    export KEYSPACE=${KEYSPACE:-1000000} ;;
  *) echo "bench: BENCH must be compare or engines, not '$BENCH'" >&2; exit 2 ;;
esac
# How long a restarted node may take to serve again before the bench gives up on it.
RESTART_WAIT_S=${RESTART_WAIT_S:-120}
# The bench cluster gets its own data dir, so a `make cluster`'s data in data/ is never touched
# (config/cluster.env reads DATA from the environment).
export DATA=data/bench
ETCD_DIR=data/bench-etcd
ETCDCTL_ENDPOINTS=http://127.0.0.1:2379,http://127.0.0.1:22379,http://127.0.0.1:32379
source config/cluster.env # ports of the metcd nodes (CLIENT_PORT_BASE)

stamp=$(date +%Y%m%d-%H%M%S)
raw=$DATA/raw-$stamp.txt     # machine-readable lines: RESULT, RSS, NOTE, META
log=$DATA/bench-$stamp.log   # everything wrk and the cluster scripts printed
results=$DATA/results-$stamp.txt
wrk_out=$DATA/wrk-$stamp.out # the current run's output, until it is appended to $log

# The measured cases, in run order: writes first (they also warm the JVM up), then reads of the
# filled keyspace. Fields: case id, connections, node it targets, metcd kind, etcd kind ("-": none).
# The ids are the report's row keys (scripts/bench-report.py labels them).
if [[ $BENCH == compare ]]; then
  CASES=(
    "put-1-leader          1 leader   put            put"
    "put-64-leader        64 leader   put            put"
    "put-64-follower      64 follower put            put"
    "get-lin-1-leader      1 leader   get-consistent get"
    "get-lin-64-leader    64 leader   get-consistent get"
    "get-stale-64-leader  64 leader   get-stale      get-serializable"
    "get-default-64-leader 64 leader  get-default    -"
  )
  FIRST_READ_CASE=get-lin-1-leader # RSS is sampled just before it, after all the writes
else
  CASES=(
    "put-64-leader        64 leader   put            put"
    "get-lin-64-leader    64 leader   get-consistent get"
  )
  FIRST_READ_CASE=get-lin-64-leader
fi

say() { echo "$*" | tee -a "$log"; }
note() { echo "NOTE $*" >>"$raw"; say "  note: $*"; }
die() { echo "bench: $*" >&2; exit 1; }

check_prerequisites() {
  command -v wrk >/dev/null || { echo "install wrk: apt-get install wrk"; exit 1; }
  [[ -x $BENCH_DIR/run-wrk.sh ]] || die "no shared bench scripts in $BENCH_DIR (set BENCH_DIR)"
  command -v python3 >/dev/null || die "python3 is needed for the report (scripts/bench-report.py)"
  command -v curl >/dev/null || die "curl is needed to read metcd's /-/status"
  if [[ " $SYSTEMS " == *" metcd "* && ! -f target/metcd.jar ]]; then
    die "target/metcd.jar is missing: run make bench (it builds first)"
  fi
  [[ $ROUNDS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $FILL_SECONDS =~ ^[1-9][0-9]*$ ]] ||
    die "ROUNDS, DURATION and FILL_SECONDS must be positive integers"
}

# etcd is optional: measured only when both binaries are installed.
etcd_available() { command -v etcd >/dev/null && command -v etcdctl >/dev/null; }

# Our own wrk and clusters, stopped on any exit. wrk runs in the background so that a signal to
# this script reaches the trap at once instead of after the run (run-wrk.sh execs `timeout`, which
# passes our SIGTERM on to wrk).
wrk_pid='' metcd_up=0 etcd_up=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $wrk_pid ]]; then kill -TERM "$wrk_pid" 2>/dev/null || true; wait "$wrk_pid" 2>/dev/null || true; fi
  if ((metcd_up)); then metcd_stop || true; fi
  if ((etcd_up)); then etcd_stop || true; fi
  rm -f "$wrk_out"
  if ((rc != 0)) && grep -q ' RESULT ' "$raw" 2>/dev/null; then
    echo "bench: stopped early; the runs measured so far are in $raw (scripts/bench-report.py $raw)" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------- metcd
metcd_url() { echo "http://$HOST:$((CLIENT_PORT_BASE + $1))"; }

# A field of node $1's /-/status ("leaderId", "role", "term"), or nothing.
metcd_status_field() {
  curl -fsS --max-time 2 "$(metcd_url "$1")/-/status" 2>/dev/null |
    sed -n 's/.*"'"$2"'"[[:space:]]*:[[:space:]]*"\{0,1\}\([^",}]*\).*/\1/p'
}

metcd_start() {
  local n port
  # Our bench cluster binds the same ports as `make cluster`: say so rather than fail obscurely.
  if command -v ss >/dev/null; then
    for ((n = 1; n <= NODES; n++)); do
      for port in $((CLIENT_PORT_BASE + n)) $((PEER_PORT_BASE + n)); do
        if ss -Hltn "sport = :$port" | grep -q .; then
          die "port $port is in use (a running \`make cluster\`? stop it with make cluster-stop)"
        fi
      done
    done
  fi
  metcd_up=1
  bin/local-cluster clean >>"$log" 2>&1
  bin/local-cluster start >>"$log" 2>&1 || die "metcd cluster did not start; see $log"
}

metcd_stop() {
  # The node logs go with the data directory: keep their warnings (leader changes, failed requests)
  # and the first lines of any stack trace after them in our log.
  grep -H -A 12 -E ' (WARN|ERROR) ' "$DATA"/node*.log 2>/dev/null | tail -n 400 >>"$log" || true
  bin/local-cluster clean >>"$log" 2>&1
  metcd_up=0
}

# The leader's node id, as the nodes report it, waiting up to 10 s (an election may be under way).
metcd_leader() {
  local deadline=$((SECONDS + 10)) n id
  while ((SECONDS < deadline)); do
    for ((n = 1; n <= NODES; n++)); do
      id=$(metcd_status_field "$n" leaderId)
      if [[ $id =~ ^[1-9][0-9]*$ && $(metcd_status_field "$id" role) == leader ]]; then echo "$id"; return; fi
    done
    sleep 0.5
  done
  return 1
}

metcd_pid() { cat "$DATA/node$1.pid"; }

# ----------------------------------------------------------------------------------------- etcd
ETCD_CLIENT_PORTS=(2379 22379 32379)
etcd_url() { echo "http://127.0.0.1:${ETCD_CLIENT_PORTS[$1 - 1]}"; }

etcd_start() {
  etcd_up=1
  etcd_clean
  "$BENCH_DIR/etcd-cluster.sh" start "$ETCD_DIR" >>"$log" 2>&1 || die "etcd cluster did not start; see $log"
}

etcd_stop() {
  etcd_clean
  etcd_up=0
}

# Stops a cluster left in our dir (by its recorded PIDs) and removes its data: each round starts empty.
etcd_clean() {
  "$BENCH_DIR/etcd-cluster.sh" stop "$ETCD_DIR" >>"$log" 2>&1
  rm -rf "$ETCD_DIR"/m[123] "$ETCD_DIR"/m[123].log
}

# The leader's member number (1..3, m1..m3), from `etcdctl endpoint status` (5th field: is leader).
etcd_leader() {
  local deadline=$((SECONDS + 10)) url n
  while ((SECONDS < deadline)); do
    url=$(etcdctl --endpoints="$ETCDCTL_ENDPOINTS" --dial-timeout=1s --command-timeout=3s \
      endpoint status -w simple 2>/dev/null | awk -F', ' '$5 == "true" { print $1 }')
    for n in 1 2 3; do [[ $url == "$(etcd_url "$n")" ]] && { echo "$n"; return; }; done
    sleep 0.5
  done
  return 1
}

etcd_pid() { awk -v name="m$1" '$1 == name { print $2 }' "$ETCD_DIR/etcd.pids"; }

# -------------------------------------------------------------------------------- measurement
# Runs one wrk run and appends its RESULT line, tagged with system, round and case, to $raw.
# Args: system round case target kind conns seconds
run_case() {
  local system=$1 round=$2 id=$3 target=$4 kind=$5 conns=$6 secs=$7 result rc=0
  echo "### $system round $round $id: run-wrk.sh $target $kind $conns $secs" >>"$log"
  "$BENCH_DIR/run-wrk.sh" "$target" "$kind" "$conns" "$secs" >"$wrk_out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || rc=$?
  wrk_pid=''
  cat "$wrk_out" >>"$log"
  result=$(grep -m1 '^RESULT ' "$wrk_out" || true)
  rm -f "$wrk_out"
  if ((rc != 0)) || [[ -z $result ]]; then
    note "$system round $round $id: wrk failed (exit $rc); see $log"
    return 0
  fi
  echo "round=$round system=$system case=$id $result" >>"$raw"
  # One progress line: ops/s, p50, p99 and the error counts of this run.
  awk -v tag="$(printf '%-6s r%s %-22s' "$system" "$round" "$id")" '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      errs = v["err_connect"] + v["err_read"] + v["err_write"] + v["err_status"] + v["err_timeout"]
      printf "  %s %8s ops/s  p50 %7s ms  p99 %8s ms%s\n", tag, v["ops_s"], v["p50_ms"], v["p99_ms"],
        errs ? "  ERRORS " errs : ""
    }' <<<"$result" | tee -a "$log"
}

# VmRSS of a process in kB, or nothing if it is gone.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

# Appends an RSS line per node of the running cluster. Args: system round leader pid...(node order)
record_rss() {
  local system=$1 round=$2 leader=$3 n=0 pid kb
  shift 3
  for pid in "$@"; do
    n=$((n + 1))
    kb=$(rss_kb "$pid")
    [[ -n $kb ]] || { note "$system round $round: node $n (pid $pid) is gone"; continue; }
    echo "RSS round=$round system=$system node=$n role=$([[ $n == "$leader" ]] && echo leader || echo follower) kb=$kb" >>"$raw"
  done
}

# Seconds since $1 (a `date +%s.%N` reading), to the millisecond.
since() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.3f", t1 - t0 }'; }

# Waits up to STOP_WAIT_S for process $1 to be gone.
await_exit() {
  local deadline=$((SECONDS + 15))
  while [[ -d /proc/$1 ]] && ((SECONDS < deadline)); do sleep 0.05; done
  [[ ! -d /proc/$1 ]]
}

# The key the fill wrote first: a restarted node must serve it.
first_key() {
  local last=$((KEYSPACE - 1))
  printf "%s%0$((${#last} > 6 ? ${#last} : 6))d" "${KEY_PREFIX:-bench-}" 0
}

# metcd node $1, stopped with signal $2 and started again: prints the seconds from launch until it has
# applied what it had before and answers a default-level read.
metcd_restart() {
  local n=$1 sig=$2 pid before t0 applied
  before=$(metcd_status_field "$n" appliedIndex)
  [[ $before =~ ^[0-9]+$ ]] || return 1
  pid=$(metcd_pid "$n")
  kill -"$sig" "$pid"
  await_exit "$pid" || return 1
  t0=$(date +%s.%N)
  bin/local-cluster start-node "$n" >>"$log" 2>&1 || return 1
  local deadline=$((SECONDS + RESTART_WAIT_S))
  while ((SECONDS < deadline)); do
    applied=$(metcd_status_field "$n" appliedIndex)
    if [[ $applied =~ ^[0-9]+$ ]] && ((applied >= before)) &&
       curl -fs -o /dev/null --max-time 2 "$(metcd_url "$n")/$(first_key)?level=default"; then
      since "$t0"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# etcd member $1's applied Raft index, from its own endpoint status.
etcd_applied() {
  etcdctl --endpoints="$(etcd_url "$1")" --dial-timeout=1s --command-timeout=2s endpoint status -w json 2>/dev/null |
    sed -n 's/.*"raftAppliedIndex":\([0-9]*\).*/\1/p'
}

# etcd member $1, stopped with signal $2 and started again with the command line it had: as metcd_restart,
# with a serializable read.
etcd_restart() {
  local n=$1 sig=$2 pid before t0 applied args=()
  before=$(etcd_applied "$n")
  [[ $before =~ ^[0-9]+$ ]] || return 1
  pid=$(etcd_pid "$n")
  mapfile -d '' args <"/proc/$pid/cmdline"
  kill -"$sig" "$pid"
  await_exit "$pid" || return 1
  sed -i "/^m$n /d" "$ETCD_DIR/etcd.pids"
  t0=$(date +%s.%N)
  setsid -f sh -c 'echo "$1 $$" >>"$2"; shift 2; exec "$@"' sh "m$n" "$ETCD_DIR/etcd.pids" "${args[@]}" \
    </dev/null >>"$ETCD_DIR/m$n.log" 2>&1
  local deadline=$((SECONDS + RESTART_WAIT_S))
  while ((SECONDS < deadline)); do
    applied=$(etcd_applied "$n")
    if [[ $applied =~ ^[0-9]+$ ]] && ((applied >= before)) &&
       etcdctl --endpoints="$(etcd_url "$n")" --dial-timeout=1s --command-timeout=2s get --consistency=s \
         "$(first_key)" 2>/dev/null | grep -q .; then
      since "$t0"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# Restarts follower $3 of $1 (metcd or etcd) after SIGTERM, then after kill -9, and appends a RESTART line
# for each, with the node's RSS once it serves again.
record_restarts() {
  local system=$1 round=$2 n=$3 kind=${1%%:*} how sig secs pid
  for how in sigterm kill9; do
    sig=TERM
    [[ $how == kill9 ]] && sig=KILL
    if secs=$("${kind}_restart" "$n" "$sig"); then
      pid=$("${kind}_pid" "$n")
      echo "RESTART round=$round system=$system node=$n how=$how secs=$secs kb=$(rss_kb "$pid")" >>"$raw"
      say "  $system r$round restart of node $n after $how: serving again in $secs s, RSS $(( $(rss_kb "$pid") / 1024 )) MB"
    else
      note "$system round $round: node $n did not serve again within ${RESTART_WAIT_S}s of its restart after $how"
      return 0
    fi
  done
}

# True while every node's process is alive: after a crash the rest of the round would mean nothing.
all_alive() {
  local pid
  for pid in "$@"; do [[ -d /proc/$pid ]] || return 1; done
}

# One round of one system: fresh cluster, fill, the cases, RSS, stop.
bench_round() {
  local system=$1 round=$2 leader follower api kind_col url_of pids=() n pid c id conns where kind
  if [[ $system == metcd* ]]; then
    [[ $system != metcd:* ]] || ENGINE=${system#metcd:}
    metcd_start
    leader=$(metcd_leader) || die "$system: no leader found; see $log"
    for ((n = 1; n <= NODES; n++)); do pids+=("$(metcd_pid "$n")"); done
    api=kv kind_col=4 url_of=metcd_url
  else
    etcd_start
    leader=$(etcd_leader) || die "etcd: no leader found; see $log"
    for n in 1 2 3; do pids+=("$(etcd_pid "$n")"); done
    api=etcd kind_col=5 url_of=etcd_url
  fi
  say "round $round/$ROUNDS $system: ${#pids[@]} nodes up, leader node $leader; writing $KEYSPACE keys"
  run_case "$system" "$round" fill "$api@$($url_of "$leader")" fill 64 "$FILL_SECONDS"
  # The leader may have changed under the fill's load: target the current one.
  leader=$(if [[ $system == metcd* ]]; then metcd_leader; else etcd_leader; fi) || die "$system: no leader after fill"
  follower=''
  for ((n = 1; n <= ${#pids[@]}; n++)); do [[ $n == "$leader" ]] || { follower=$n; break; }; done
  if ((WARMUP > 0)); then
    # Writes through every node and reads on the leader, as the cases do; measured but not reported.
    for ((n = 1; n <= ${#pids[@]}; n++)); do
      run_case "$system" "$round" "warmup-put-node$n" "$api@$($url_of "$n")" put 64 "$WARMUP"
    done
    run_case "$system" "$round" warmup-get "$api@$($url_of "$leader")" \
      "$([[ $system == metcd* ]] && echo get-consistent || echo get)" 64 "$WARMUP"
  fi

  for c in "${CASES[@]}"; do
    read -r id conns where _ _ <<<"$c"
    kind=$(awk -v col="$kind_col" '{ print $col }' <<<"$c")
    [[ $kind != - ]] || continue
    [[ $id != "$FIRST_READ_CASE" ]] || record_rss "$system" "$round" "$leader" "${pids[@]}"
    if [[ $where == follower ]]; then
      [[ -n $follower ]] || { note "$system: no follower (NODES=$NODES): $id skipped"; continue; }
      n=$follower
    else
      n=$leader
    fi
    run_case "$system" "$round" "$id" "$api@$($url_of "$n")" "$kind" "$conns" "$DURATION"
    if ! all_alive "${pids[@]}"; then
      note "$system round $round: a node died during $id; rest of the round skipped (logs in $log)"
      [[ $system == metcd* ]] && for ((n = 1; n <= NODES; n++)); do tail -n 30 "$DATA/node$n.log" >>"$log" 2>&1 || true; done
      break
    fi
  done
  # A leader change during the round (a new term) disturbs the numbers: worth knowing.
  n=$(if [[ $system == metcd* ]]; then metcd_leader; else etcd_leader; fi) || n='none'
  [[ $n == "$leader" ]] || note "$system round $round: leader changed from node $leader to $n during the round"
  if [[ $BENCH == engines && -n $follower ]]; then record_restarts "$system" "$round" "$follower"; fi

  if [[ $system == metcd* ]]; then metcd_stop; else etcd_stop; fi
}

# What the table's header shows about this build and machine.
write_meta() {
  local commit jdk
  commit=$(git rev-parse --short HEAD 2>/dev/null) || commit='none (no commit yet)'
  # What runs is the working tree: say when it differs from the commit.
  [[ -z $(git status --porcelain -- src pom.xml config 2>/dev/null) ]] || commit+=' + uncommitted changes'
  jdk=$("$(bin/find-jdk)/bin/java" -version 2>&1 | head -n 1) || jdk=unknown
  {
    echo "META date=$(date '+%Y-%m-%d %H:%M %Z')"
    echo "META bench=$BENCH"
    [[ $BENCH == engines ]] || echo "META engine=$ENGINE"
    echo "META commit=$commit"
    echo "META jdk=$jdk"
    echo "META machine=$(nproc) cores, $(uname -r)"
    echo "META keyspace=$KEYSPACE"
    echo "META workload=${KEYSPACE} keys x ${VALUE_SIZE:-256} B values, ${DURATION} s per run, rounds=$ROUNDS, metcd nodes=$NODES"
    if [[ " ${systems[*]} " == *" etcd "* ]]; then echo "META etcd=$(etcd --version | head -n 1)"; fi
  } >>"$raw"
}

main() {
  check_prerequisites
  mkdir -p "$DATA" "$ETCD_DIR"
  : >"$raw"
  local systems=() system order round i
  for system in $SYSTEMS; do
    case $system in
      metcd | metcd:map | metcd:mapdb | metcd:leveldb) systems+=("$system") ;;
      etcd) if etcd_available; then systems+=(etcd); else
              say "etcd/etcdctl not on PATH: etcd skipped, metcd measured alone (apt-get install etcd-server etcd-client)"; fi ;;
      *) die "SYSTEMS may name metcd, metcd:ENGINE and etcd, not '$system'" ;;
    esac
  done
  ((${#systems[@]})) || die "nothing to measure"
  write_meta
  # Roughly: each measured run, plus about a minute per cluster for start, fill and stop.
  local minutes=$(((ROUNDS * ${#systems[@]} * (${#CASES[@]} * DURATION + 4 * WARMUP + 60) + 59) / 60))
  [[ $BENCH == compare ]] || minutes="$minutes-$((minutes + ROUNDS * ${#systems[@]} * KEYSPACE / 4000 / 60))"
  say "bench: ${systems[*]}, $BENCH, engine $ENGINE, $ROUNDS round(s), ${DURATION}s per run, about $minutes min; log $log"
  for ((round = 1; round <= ROUNDS; round++)); do
    # Alternate which system goes first, so slow drift of the machine does not favour one.
    order=("${systems[@]}")
    if ((round % 2 == 0)); then order=(); for ((i = ${#systems[@]} - 1; i >= 0; i--)); do order+=("${systems[i]}"); done; fi
    for system in "${order[@]}"; do bench_round "$system" "$round"; done
  done

  python3 scripts/bench-report.py "$raw" >"$results.table"
  { cat "$results.table"; echo; echo "# raw lines"; cat "$raw"; } >"$results"
  rm -f "$results.table" "$raw"
  echo
  sed '/^# raw lines$/,$d' "$results"
  echo "written: $results (table and raw RESULT lines); wrk output: $log"
}

main "$@"
