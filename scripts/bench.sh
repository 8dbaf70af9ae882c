#!/usr/bin/env bash
# `make bench`: metcd and etcd 3.4 (when it is installed, or can be) under the same workload on this machine.
#
# Each round starts a fresh three-node cluster of each system in turn (the order alternates between
# rounds, so neither always runs on a warmer or cooler machine), writes the whole keyspace once, puts
# WARMUP seconds of unmeasured load on every node, runs the wrk cases for DURATION seconds each, records
# every node's RSS after the writes, then the two fault cases (below), and stops the cluster. The end
# prints one table (medians over rounds) and writes it, with the raw lines, to data/bench/results-*.txt.
# Beside each case: the leader changes the nodes counted during it, and the longest Raft-thread stall a
# metcd node reports (metcd_raft_thread_stall_max_seconds; n/a where a node does not expose it).
#
# The fault cases (bench/write-load.py: FAULT_CLIENTS writers, a fresh connection and a random node for
# every write; a node that refused a connection is left alone for 1 s, as etcd's client leaves an endpoint
# it cannot reach, while the writers send to the others; a write gets FAULT_TIMEOUT_S, as a
# client with a deadline gives it, since etcd keeps a write proposed while it has no leader until its 7 s
# request timeout without an answer; metcd keeps it until a leader is known and forwards it):
#   failover  KILLS times: kill -9 of the leader, then, once a write invoked after the kill has been
#             acknowledged, the killed node is started again and serves, and SETTLE_S seconds pass.
#             Reported: the median and the longest time from a kill to that first acknowledged write.
#   goodput   GOODPUT_S seconds of writes, with a kill -9 of the leader every KILL_EVERY_S (5-7: drawn
#             at random, the same draws for both systems), each killed node started again at once.
#             Reported: the acknowledged writes, and their ratio metcd/etcd.
#   In both, any node found down (one killed while it was still starting, one whose start failed) is started
#   again, in the background and never twice at once, so that the kills stay on time.
#
# The watch cases (BENCH=compare, unless WATCHERS=0; bench/WatchBench.java, run by the JDK's source launcher):
#   watch     WATCHERS watchers of one prefix on a follower while WATCH_RATE PUT/s of keys under it go to the
#             leader, for DURATION s. Reported: the delay from a PUT's answer to its event at the watchers (p50,
#             p99) and the PUT rate reached; events that never came count as errors.
#   put-64-leader-watched  the PUT 64c case again, with WATCHERS watchers of the keys it writes open on the
#             follower: beside the PUT 64c row, what the watchers cost the writes.
#
# BENCH=engines (`make bench-engines`) measures the storage engines instead: each of metcd's engines and
# etcd hold KEYSPACE=1,000,000 keys; after the fill come PUT and linearizable GET at 64 connections, every
# node's RSS, then a follower is restarted twice (after SIGTERM, then after kill -9), each time timed from
# launch until it serves a read at the index it had applied before, with its RSS once it has. The fault
# cases run there only with FAULTS=1.
#
# Environment (all optional):
#   ENGINE=map|mapdb|leveldb  metcd's engine (default map)
#   BENCH=compare|engines     the side-by-side cases (default) or the engine table
#   ROUNDS=1                  rounds per system; use 3 for medians worth comparing (runs vary ±30%)
#   DURATION=10               seconds per measured wrk run
#   WARMUP=10                 seconds of unmeasured load on each node before the cases (0: none), the
#                             same for both systems: a JVM compiles a code path only once it runs it
#   FILL_SECONDS=150          upper bound for writing the keyspace once
#   FAULTS=1|0                run the fault cases (default 1; BENCH=engines: 0)
#   KILLS=5 SETTLE_S=3        failover: kills, and seconds of undisturbed load before each
#   GOODPUT_S=60 KILL_EVERY_S=5-7 FAULT_CLIENTS=8 SEED=1
#   FAULT_TIMEOUT_S=0.5       seconds a fault-case writer gives a write before it sends another
#   WATCHERS=1000 WATCH_RATE=1000  the watch cases' watchers and PUT rate (WATCHERS=0: no watch cases)
#   NODES=3                   metcd cluster size (etcd is always three members)
#   KEYSPACE, VALUE_SIZE, ... workload settings, passed to bench/workload.lua and bench/write-load.py
#   SYSTEMS="metcd etcd"      what to measure; metcd:ENGINE names an engine (BENCH=engines: "metcd:map
#                             metcd:mapdb metcd:leveldb etcd")
#   BENCH_INSTALL=1|0         install what is missing (wrk, etcd, redis) with apt-get when root (default 1)
#   REDIS_BENCH=1|0, REDIS_*  the redis-benchmark cases (scripts/bench-redis.sh: what they measure)
#
# Everything stays on 127.0.0.1, on the ports of `make cluster` (Redis ports included), the reference
# redis-server's REDIS_REFERENCE_PORT and etcd's 2379/2380, 22379/22380,
# 32379/32380: the bench refuses to start if one is in use. Every load is bounded in time and count. The
# script stops only the processes it started, by their recorded PIDs, also on error or Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

BENCH=${BENCH:-compare}
ROUNDS=${ROUNDS:-1}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-10}
KILLS=${KILLS:-5}
SETTLE_S=${SETTLE_S:-3}
GOODPUT_S=${GOODPUT_S:-60}
KILL_EVERY_S=${KILL_EVERY_S:-5-7}
FAULT_CLIENTS=${FAULT_CLIENTS:-8}
FAULT_TIMEOUT_S=${FAULT_TIMEOUT_S:-0.5}
SEED=${SEED:-1}
WATCHERS=${WATCHERS:-1000}
WATCH_RATE=${WATCH_RATE:-1000}
export ENGINE=${ENGINE:-map}
export NODES=${NODES:-3}
case $BENCH in
  compare)
    FILL_SECONDS=${FILL_SECONDS:-150}
    FAULTS=${FAULTS:-1}
    SYSTEMS=${SYSTEMS:-metcd etcd}
    export KEYSPACE=${KEYSPACE:-100000} ;;
  engines)
    FILL_SECONDS=${FILL_SECONDS:-900}
    FAULTS=${FAULTS:-0}
    SYSTEMS=${SYSTEMS:-metcd:map metcd:mapdb metcd:leveldb etcd}
    export KEYSPACE=${KEYSPACE:-1000000} ;;
  *) echo "bench: BENCH must be compare or engines, not '$BENCH'" >&2; exit 2 ;;
esac
# How long a restarted node may take to serve again, and a new leader to acknowledge a write.
RESTART_WAIT_S=${RESTART_WAIT_S:-120}
FAILOVER_WAIT_S=${FAILOVER_WAIT_S:-30}
# The bench cluster gets its own data dir, so a `make cluster`'s data in data/ is never touched
# (config/cluster.env reads DATA from the environment).
export DATA=data/bench
ETCD_DIR=$DATA/etcd
source config/cluster.env # ports of the metcd nodes

stamp=$(date +%Y%m%d-%H%M%S)
raw=$DATA/raw-$stamp.txt     # machine-readable lines, for scripts/bench-report.py
log=$DATA/bench-$stamp.log   # everything wrk, the load generator and the cluster scripts printed
results=$DATA/results-$stamp.txt
out=$DATA/current-$stamp.out # the current run's output, until it is appended to $log

# The measured wrk cases, in run order: writes first (they also warm the JVM up), then reads of the
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

# ----------------------------------------------------------------------------------- prerequisites
# Installs the Debian packages $@ when this is root with apt-get and BENCH_INSTALL is not 0.
install_packages() {
  [[ ${BENCH_INSTALL:-1} != 0 && $(id -u) == 0 ]] && command -v apt-get >/dev/null || return 1
  say "bench: installing $* (apt-get)"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; } \
    >>"$log" 2>&1
}

check_prerequisites() {
  [[ $ROUNDS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $FILL_SECONDS =~ ^[1-9][0-9]*$ &&
     $KILLS =~ ^[1-9][0-9]*$ && $GOODPUT_S =~ ^[1-9][0-9]*$ && $FAULT_CLIENTS =~ ^[1-9][0-9]*$ &&
     $WARMUP =~ ^[0-9]+$ && $SETTLE_S =~ ^[0-9]+$ && $SEED =~ ^[0-9]+$ && $KILL_EVERY_S =~ ^[1-9][0-9]*-[1-9][0-9]*$ &&
     $FAULT_TIMEOUT_S =~ ^[0-9]*\.?[0-9]+$ && $WATCHERS =~ ^[0-9]+$ && $WATCH_RATE =~ ^[1-9][0-9]*$ ]] ||
    die "ROUNDS, DURATION, FILL_SECONDS, KILLS, GOODPUT_S, FAULT_CLIENTS, WATCH_RATE must be positive integers, WARMUP, SETTLE_S, SEED and WATCHERS integers, KILL_EVERY_S MIN-MAX, FAULT_TIMEOUT_S seconds"
  # The tools the bench needs, and the Debian packages they come in.
  local -A package_of=([wrk]=wrk [curl]=curl [python3]=python3 [ss]=iproute2)
  local missing=() packages=() tool
  for tool in "${!package_of[@]}"; do
    command -v "$tool" >/dev/null || { missing+=("$tool"); packages+=("${package_of[$tool]}"); }
  done
  if ((${#missing[@]})); then
    install_packages "${packages[@]}" && on_path "${missing[@]}" ||
      die "missing: ${missing[*]}; install them (Debian: apt-get install ${packages[*]})"
  fi
  if [[ " $SYSTEMS " == *" etcd "* ]] && ! etcd_available; then
    install_packages etcd-server etcd-client && etcd_available ||
      say "etcd/etcdctl not installed: etcd skipped, metcd measured alone (for the comparison: apt-get install etcd-server etcd-client)"
  fi
  redis_check_prerequisites
  [[ -f target/metcd.jar ]] || die "target/metcd.jar is missing: run make bench (it builds first)"
}

on_path() {
  local tool
  for tool in "$@"; do command -v "$tool" >/dev/null || return 1; done
}
etcd_available() { on_path etcd etcdctl; }

# Every port a bench cluster binds must be free: a running `make cluster`, another etcd...
check_ports() {
  local n port busy=()
  for ((n = 1; n <= NODES; n++)); do
    for port in $((CLIENT_PORT_BASE + n)) $((PEER_PORT_BASE + n)); do
      ss -Hltn "sport = :$port" | grep -q . && busy+=("$port (metcd node $n)")
    done
  done
  while read -r port what; do ss -Hltn "sport = :$port" | grep -q . && busy+=("$port $what"); done < <(redis_ports)
  if [[ " ${systems[*]} " == *" etcd "* ]]; then
    for port in 2379 2380 22379 22380 32379 32380; do ss -Hltn "sport = :$port" | grep -q . && busy+=("$port (etcd)"); done
  fi
  ((${#busy[@]} == 0)) ||
    die "ports in use: ${busy[*]}; stop what holds them (a \`make cluster\`: make cluster-stop; Debian's etcd service: systemctl stop etcd)"
}

# Our own load generators and clusters, stopped on any exit. A load runs in the background so that a
# signal to this script reaches the trap at once instead of after the run.
load_pid='' metcd_up=0 etcd_up=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $load_pid ]]; then kill -TERM "$load_pid" 2>/dev/null || true; wait "$load_pid" 2>/dev/null || true; fi
  await_starts || true # a node start in flight, which would leave a node behind the stops below
  redis_reference_stop || true
  if ((metcd_up)); then metcd_stop || true; fi
  if ((etcd_up)); then etcd_stop || true; fi
  rm -f "$out"
  if ((rc != 0)) && grep -q ' RESULT ' "$raw" 2>/dev/null; then
    echo "bench: stopped early; the runs measured so far are in $raw (scripts/bench-report.py $raw)" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------------------ the two systems
# Each system answers the same questions through functions named after it: metcd_* and etcd_*.
# url N, pid N, start, stop, leader (with a bound in seconds), start_node N (after a kill), serves N,
# applied N, reads_first_key N, leader_changes N, stall N.

# A sample of metric $2 (without labels) from the Prometheus text at URL $1, or nothing (also when the
# node does not answer).
metric() { curl -fsS --max-time 2 "$1" 2>/dev/null | awk -v name="$2" '$1 == name { v = $2 } END { print v }' || true; }

metcd_url() { echo "http://$HOST:$((CLIENT_PORT_BASE + $1))"; }
metcd_pid() { cat "$DATA/node$1.pid"; }

# A field of node $1's /-/status ("leaderId", "role", "appliedIndex"), or nothing.
metcd_status_field() {
  curl -fsS --max-time 2 "$(metcd_url "$1")/-/status" 2>/dev/null |
    sed -n 's/.*"'"$2"'"[[:space:]]*:[[:space:]]*"\{0,1\}\([^",}]*\).*/\1/p'
}

metcd_start() {
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

# The leader's node id as the nodes report it, waiting up to $1 seconds (an election may be under way).
metcd_leader() {
  local deadline=$((SECONDS + ${1:-10})) n id
  while ((SECONDS < deadline)); do
    for ((n = 1; n <= NODES; n++)); do
      id=$(metcd_status_field "$n" leaderId)
      if [[ $id =~ ^[1-9][0-9]*$ && $(metcd_status_field "$id" role) == leader ]]; then echo "$id"; return; fi
    done
    sleep 0.1
  done
  return 1
}

metcd_nodes() { seq 1 "$NODES"; }
metcd_start_node() { bin/local-cluster start-node "$1" >>"$log" 2>&1; }
metcd_serves() { curl -fs -o /dev/null --max-time 2 "$(metcd_url "$1")/-/health"; }
metcd_applied() { metcd_status_field "$1" appliedIndex; }
metcd_reads_first_key() { curl -fs -o /dev/null --max-time 2 "$(metcd_url "$1")/$(first_key)?level=default"; }
metcd_leader_changes() { metric "$(metcd_url "$1")/-/metrics" metcd_leader_changes_total; }
metcd_stall() { metric "$(metcd_url "$1")/-/metrics" metcd_raft_thread_stall_max_seconds; }

ETCD_CLIENT_PORTS=(2379 22379 32379)
etcd_url() { echo "http://127.0.0.1:${ETCD_CLIENT_PORTS[$1 - 1]}"; }
etcd_pid() { awk -v name="m$1" '$1 == name { print $2 }' "$ETCD_DIR/etcd.pids" | tail -n 1; }
etcd_nodes() { seq 1 3; }
etcdctl_at() { etcdctl --endpoints="$1" --dial-timeout=1s --command-timeout=3s "${@:2}"; }

etcd_start() {
  etcd_up=1
  etcd_clean
  bench/etcd-cluster.sh start "$ETCD_DIR" >>"$log" 2>&1 || die "etcd cluster did not start; see $log"
}
etcd_stop() { etcd_clean; etcd_up=0; }
# Stops a cluster left in our dir and removes its data: each round starts empty.
etcd_clean() {
  bench/etcd-cluster.sh stop "$ETCD_DIR" >>"$log" 2>&1
  rm -rf "$ETCD_DIR"
}

# The leader's member number, from each member's own status (its 5th field says whether it leads).
etcd_leader() {
  local deadline=$((SECONDS + ${1:-10})) n
  while ((SECONDS < deadline)); do
    for n in 1 2 3; do
      if [[ $(etcdctl_at "$(etcd_url "$n")" endpoint status -w simple 2>/dev/null | awk -F', ' '{ print $5 }') == true ]]; then
        echo "$n"; return
      fi
    done
    sleep 0.1
  done
  return 1
}

etcd_start_node() { bench/etcd-cluster.sh start-member "$1" "$ETCD_DIR" >>"$log" 2>&1; }
etcd_serves() { etcdctl_at "$(etcd_url "$1")" endpoint health >/dev/null 2>&1; }
etcd_applied() {
  etcdctl_at "$(etcd_url "$1")" endpoint status -w json 2>/dev/null | sed -n 's/.*"raftAppliedIndex":\([0-9]*\).*/\1/p'
}
etcd_reads_first_key() { etcdctl_at "$(etcd_url "$1")" get --consistency=s "$(first_key)" 2>/dev/null | grep -q .; }
etcd_leader_changes() { metric "$(etcd_url "$1")/metrics" etcd_server_leader_changes_seen_total; }
etcd_stall() { :; } # etcd has no such gauge

# ---------------------------------------------------------------------------------- measurement
# The adapter prefix of system $1 ("metcd:leveldb" -> metcd).
kind_of() { echo "${1%%:*}"; }

# Leader changes, as the nodes count them, over one case: per node, what its counter grew by in each
# of its lives (a node killed in the case is read just before, and starts again from 0), and the case's
# figure is the largest over the nodes.
declare -A lc_base lc_sum
lc_begin() {
  local kind=$1 n v
  for n in $("${kind}_nodes"); do v=$("${kind}_leader_changes" "$n"); lc_base[$n]=${v:-0}; lc_sum[$n]=0; done
}
lc_node_ends() { # kind node: node is about to be killed
  local v
  v=$("${1}_leader_changes" "$2")
  lc_sum[$2]=$(awk -v s="${lc_sum[$2]}" -v v="${v:-${lc_base[$2]}}" -v b="${lc_base[$2]}" 'BEGIN { print s + v - b }')
  lc_base[$2]=0
}
lc_end() { # kind round system case: appends a LEADERS line
  local kind=$1 n
  for n in $("${kind}_nodes"); do lc_node_ends "$kind" "$n"; done
  n=$(for n in $("${kind}_nodes"); do echo "${lc_sum[$n]}"; done | sort -g | tail -n 1)
  echo "LEADERS round=$2 system=$3 case=$4 changes=$n" >>"$raw"
  # The longest Raft-thread stall a node reports, in seconds ("n/a" when none exposes it).
  n=$(for n in $("${kind}_nodes"); do "${kind}_stall" "$n"; done | sort -g | tail -n 1)
  echo "STALL round=$2 system=$3 case=$4 max_s=${n:-n/a}" >>"$raw"
}

# Runs one wrk run and appends its RESULT line, tagged with system, round and case, to $raw.
# Args: system round case target kind conns seconds
run_case() {
  local system=$1 round=$2 id=$3 target=$4 kind=$5 conns=$6 secs=$7 result rc=0
  echo "### $system round $round $id: bench/run-wrk.sh $target $kind $conns $secs" >>"$log"
  lc_begin "$(kind_of "$system")"
  bench/run-wrk.sh "$target" "$kind" "$conns" "$secs" >"$out" 2>&1 &
  load_pid=$!
  wait "$load_pid" || rc=$?
  load_pid=''
  lc_end "$(kind_of "$system")" "$round" "$system" "$id"
  cat "$out" >>"$log"
  result=$(grep -m1 '^RESULT ' "$out" || true)
  rm -f "$out"
  if ((rc != 0)) || [[ -z $result ]]; then
    note "$system round $round $id: wrk failed (exit $rc); see $log"
    return 0
  fi
  echo "round=$round system=$system case=$id $result" >>"$raw"
  # One progress line: ops/s, p50, p99, the error counts and leader changes of this run.
  awk -v tag="$(printf '%-6s r%s %-22s' "$system" "$round" "$id")" -v lc="$(tail -n 2 "$raw" | sed -n 's/^LEADERS.*changes=//p')" '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      errs = v["err_connect"] + v["err_read"] + v["err_write"] + v["err_status"] + v["err_timeout"]
      printf "  %s %8s ops/s  p50 %7s ms  p99 %8s ms%s%s\n", tag, v["ops_s"], v["p50_ms"], v["p99_ms"],
        errs ? "  ERRORS " errs : "", (lc + 0 > 0) ? "  LEADER CHANGES " lc : ""
    }' <<<"$result" | tee -a "$log"
}

# VmRSS of a process in kB, or nothing if it is gone.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }
# The two parts of it: "anon_kb=A file_kb=F", private memory (heap, malloc) and mapped files' pages (the
# JVM's start-up cache, the WAL's and engines' memory maps, bbolt's for etcd), or nothing if it is gone.
rss_parts() {
  awk '/^RssAnon:/ { a = $2 } /^Rss(File|Shmem):/ { f += $2 } END { if (a != "") print "anon_kb=" a " file_kb=" f }' \
    "/proc/$1/status" 2>/dev/null || true
}

# Appends an RSS line per node of the running cluster. Args: system round leader pid...(node order)
record_rss() {
  local system=$1 round=$2 leader=$3 n=0 pid kb
  shift 3
  for pid in "$@"; do
    n=$((n + 1))
    kb=$(rss_kb "$pid")
    [[ -n $kb ]] || { note "$system round $round: node $n (pid $pid) is gone"; continue; }
    echo "RSS round=$round system=$system node=$n role=$([[ $n == "$leader" ]] && echo leader || echo follower) kb=$kb $(rss_parts "$pid")" >>"$raw"
  done
}

now() { date +%s.%N; }
# Seconds since $1 (a `now` reading), to the millisecond.
since() { awk -v t0="$1" -v t1="$(now)" 'BEGIN { printf "%.3f", t1 - t0 }'; }

# Whether process $1 runs: it exists and is no zombie. A killed node's process stays a zombie until the
# process that adopted it reaps it (1-2 s under this machine's init), though its ports are free at once.
process_runs() {
  local stat
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != [ZX] ]]
}

# Waits up to 15 s for process $1 to end.
await_exit() {
  local deadline=$((SECONDS + 15))
  while process_runs "$1" && ((SECONDS < deadline)); do sleep 0.02; done
  ! process_runs "$1"
}

# The key the fill wrote first: a restarted node must serve it.
first_key() {
  local last=$((KEYSPACE - 1))
  printf "%s%0$((${#last} > 6 ? ${#last} : 6))d" "${KEY_PREFIX:-bench-}" 0
}

# Node $2 of system kind $1, stopped with signal $3 and started again: prints the seconds from launch
# until it has applied what it had before and serves a read of its own.
timed_restart() {
  local kind=$1 n=$2 sig=$3 pid before t0 applied
  before=$("${kind}_applied" "$n")
  [[ $before =~ ^[0-9]+$ ]] || return 1
  pid=$("${kind}_pid" "$n")
  kill -"$sig" "$pid"
  await_exit "$pid" || return 1
  t0=$(now)
  "${kind}_start_node" "$n" || return 1
  local deadline=$((SECONDS + RESTART_WAIT_S))
  while ((SECONDS < deadline)); do
    applied=$("${kind}_applied" "$n")
    if [[ $applied =~ ^[0-9]+$ ]] && ((applied >= before)) && "${kind}_reads_first_key" "$n"; then
      since "$t0"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# Restarts follower $3 of system $1 after SIGTERM, then after kill -9, and appends a RESTART line for
# each, with the node's RSS once it serves again.
record_restarts() {
  local system=$1 round=$2 n=$3 kind how sig secs pid
  kind=$(kind_of "$system")
  for how in sigterm kill9; do
    sig=TERM
    [[ $how == kill9 ]] && sig=KILL
    if secs=$(timed_restart "$kind" "$n" "$sig"); then
      pid=$("${kind}_pid" "$n")
      echo "RESTART round=$round system=$system node=$n how=$how secs=$secs kb=$(rss_kb "$pid")" >>"$raw"
      say "  $system r$round restart of node $n after $how: serving again in $secs s, RSS $(( $(rss_kb "$pid") / 1024 )) MB"
    else
      note "$system round $round: node $n did not serve again within ${RESTART_WAIT_S}s of its restart after $how"
      return 0
    fi
  done
}

source scripts/bench-faults.sh # failover_case, goodput_case
source scripts/bench-watch.sh  # watch_cases
source scripts/bench-redis.sh  # redis-benchmark on the metcd leader and on a local redis-server

# True while every node's process is alive: after a crash the rest of the round would mean nothing.
all_alive() {
  local pid
  for pid in "$@"; do [[ -d /proc/$pid ]] || return 1; done
}

# One round of one system: fresh cluster, fill, warm-up, the cases, RSS, the fault cases, stop.
bench_round() {
  local system=$1 round=$2 kind leader follower api kind_col pids=() n c id conns where wrk_kind
  kind=$(kind_of "$system")
  if [[ $kind == metcd ]]; then
    [[ $system != metcd:* ]] || ENGINE=${system#metcd:}
    api=kv kind_col=4
  else
    api=etcd kind_col=5
  fi
  "${kind}_start"
  leader=$("${kind}_leader") || die "$system: no leader found; see $log"
  # Every node knows the leader before anything is measured: a node that learns of it during a case
  # would count a leader change there.
  for n in $("${kind}_nodes"); do await_serving "$kind" "$n" 30 || die "$system: node $n does not serve; see $log"; done
  for n in $("${kind}_nodes"); do pids+=("$("${kind}_pid" "$n")"); done
  say "round $round/$ROUNDS $system: ${#pids[@]} nodes up, leader node $leader; writing $KEYSPACE keys"
  run_case "$system" "$round" fill "$api@$("${kind}_url" "$leader")" fill 64 "$FILL_SECONDS"
  # The leader may have changed under the fill's load: target the current one.
  leader=$("${kind}_leader") || die "$system: no leader after fill"
  follower=''
  for ((n = 1; n <= ${#pids[@]}; n++)); do [[ $n == "$leader" ]] || { follower=$n; break; }; done
  if ((WARMUP > 0)); then
    # Writes through every node and reads on the leader, as the cases do; measured but not reported.
    for ((n = 1; n <= ${#pids[@]}; n++)); do
      run_case "$system" "$round" "warmup-put-node$n" "$api@$("${kind}_url" "$n")" put 64 "$WARMUP"
    done
    run_case "$system" "$round" warmup-get "$api@$("${kind}_url" "$leader")" \
      "$([[ $kind == metcd ]] && echo get-consistent || echo get)" 64 "$WARMUP"
  fi

  for c in "${CASES[@]}"; do
    read -r id conns where _ _ <<<"$c"
    wrk_kind=$(awk -v col="$kind_col" '{ print $col }' <<<"$c")
    [[ $wrk_kind != - ]] || continue
    [[ $id != "$FIRST_READ_CASE" ]] || record_rss "$system" "$round" "$leader" "${pids[@]}"
    if [[ $where == follower ]]; then
      [[ -n $follower ]] || { note "$system: no follower (NODES=$NODES): $id skipped"; continue; }
      n=$follower
    else
      n=$leader
    fi
    run_case "$system" "$round" "$id" "$api@$("${kind}_url" "$n")" "$wrk_kind" "$conns" "$DURATION"
    if ! all_alive "${pids[@]}"; then
      note "$system round $round: a node died during $id; rest of the round skipped (logs in $log)"
      [[ $kind == metcd ]] && for ((n = 1; n <= NODES; n++)); do tail -n 30 "$DATA/node$n.log" >>"$log" 2>&1 || true; done
      break
    fi
  done
  if [[ $BENCH == compare ]] && ((WATCHERS > 0)) && all_alive "${pids[@]}"; then
    watch_cases "$system" "$round" "$kind" "$api" "$leader" "$follower"
  fi
  if [[ $kind == metcd ]] && all_alive "${pids[@]}"; then redis_metcd_cases "$round"; fi
  n=$("${kind}_leader") || n='none'
  [[ $n == "$leader" ]] || note "$system round $round: leader changed from node $leader to $n during the cases"
  if [[ $BENCH == engines && -n $follower ]]; then
    record_restarts "$system" "$round" "$follower"
    pids=()
    for n in $("${kind}_nodes"); do pids+=("$("${kind}_pid" "$n")"); done
  fi
  if ((FAULTS)) && all_alive "${pids[@]}"; then
    failover_case "$system" "$round" "$api"
    goodput_case "$system" "$round" "$api"
  fi
  "${kind}_stop"
}

# What the table's header shows about this build and machine.
write_meta() {
  local commit jdk
  commit=$(git rev-parse --short HEAD 2>/dev/null) || commit='none (no commit yet)'
  # What runs is the working tree: say when it differs from the commit.
  [[ -z $(git status --porcelain -- src pom.xml config bench 2>/dev/null) ]] || commit+=' + uncommitted changes'
  jdk=$("$(bin/find-jdk)/bin/java" -version 2>&1 | head -n 1) || jdk=unknown
  {
    echo "META date=$(date '+%Y-%m-%d %H:%M %Z')"
    echo "META bench=$BENCH"
    [[ $BENCH == engines ]] || echo "META engine=$ENGINE"
    echo "META commit=$commit"
    echo "META jdk=$jdk"
    echo "META machine=$(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
    echo "META keyspace=$KEYSPACE"
    echo "META workload=${KEYSPACE} keys x ${VALUE_SIZE:-256} B values, ${DURATION} s per run, rounds=$ROUNDS, metcd nodes=$NODES"
    if ((FAULTS)); then
      echo "META faults=$FAULT_CLIENTS writers, fresh connection, random node and ${FAULT_TIMEOUT_S} s per write; failover: $KILLS kills; goodput: ${GOODPUT_S} s, a kill every ${KILL_EVERY_S} s"
    fi
    if [[ " ${systems[*]} " == *" etcd "* ]]; then echo "META etcd=$(etcd --version | head -n 1)"; fi
  } >>"$raw"
}

main() {
  mkdir -p "$DATA"
  : >"$raw"
  check_prerequisites
  local system order round i
  systems=()
  for system in $SYSTEMS; do
    case $system in
      metcd | metcd:map | metcd:mapdb | metcd:leveldb) systems+=("$system") ;;
      etcd) if etcd_available; then systems+=(etcd); fi ;;
      *) die "SYSTEMS may name metcd, metcd:ENGINE and etcd, not '$system'" ;;
    esac
  done
  ((${#systems[@]})) || die "nothing to measure"
  check_ports
  write_meta
  # Roughly: each measured run, plus about a minute per cluster for start, fill and stop, plus the faults.
  local minutes=$(((ROUNDS * ${#systems[@]} * (${#CASES[@]} * DURATION + 4 * WARMUP + 60 + 3 * DURATION +
    FAULTS * (GOODPUT_S + KILLS * (SETTLE_S + 10))) + 59) / 60))
  [[ $BENCH == compare ]] || minutes="$minutes-$((minutes + ROUNDS * ${#systems[@]} * KEYSPACE / 4000 / 60))"
  say "bench: ${systems[*]}, $BENCH, engine $ENGINE, $ROUNDS round(s), ${DURATION}s per run, about $minutes min; log $log"
  for ((round = 1; round <= ROUNDS; round++)); do
    # Alternate which system goes first, so slow drift of the machine does not favour one.
    order=("${systems[@]}")
    if ((round % 2 == 0)); then order=(); for ((i = ${#systems[@]} - 1; i >= 0; i--)); do order+=("${systems[i]}"); done; fi
    for system in "${order[@]}"; do bench_round "$system" "$round"; done
    redis_reference_round "$round"
  done

  python3 scripts/bench-report.py "$raw" >"$results.table"
  { cat "$results.table"; echo; echo "# raw lines"; cat "$raw"; } >"$results"
  rm -f "$results.table" "$raw"
  echo
  sed '/^# raw lines$/,$d' "$results"
  echo "written: $results (table and raw lines); log: $log"
}

main "$@"
