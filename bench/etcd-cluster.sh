#!/usr/bin/env bash
# A three-member etcd cluster on loopback, for the benchmark's side-by-side runs (scripts/bench.sh).
#
#   bench/etcd-cluster.sh start DIR             members m1..m3, data in DIR/mN, logs DIR/mN.log, and one
#                                               "mN PID" line each in DIR/etcd.pids; waits until healthy
#   bench/etcd-cluster.sh start-member N DIR    member N again, with the flags it had (after it was killed),
#                                               its new "mN PID" line appended; may run beside another's
#   bench/etcd-cluster.sh stop DIR              stops the PIDs recorded in DIR/etcd.pids
#
# Member N: client URL http://127.0.0.1:P (P = 2379, 22379, 32379), peer port P+1. etcd's defaults
# otherwise, as metcd's (a WAL synced before every acknowledgement, a snapshot every 100,000 writes).
# Every wait is bounded (START_WAIT_S, STOP_WAIT_S); nothing is stopped by name.
set -euo pipefail
CLIENT_PORTS=(2379 22379 32379)
START_WAIT_S=${START_WAIT_S:-30}
STOP_WAIT_S=${STOP_WAIT_S:-15}

usage() { sed -n '2,12p' "$0" >&2; exit 2; }
die() { echo "etcd-cluster: $*" >&2; exit 1; }

client_url() { echo "http://127.0.0.1:${CLIENT_PORTS[$1 - 1]}"; }
peer_url() { echo "http://127.0.0.1:$((CLIENT_PORTS[$1 - 1] + 1))"; }
endpoints() { echo "$(client_url 1),$(client_url 2),$(client_url 3)"; }

# The recorded PID of member $2 in dir $1, if that process is alive and still that member (PIDs are reused).
member_pid() {
  local pid
  pid=$(awk -v name="m$2" '$1 == name { print $2 }' "$1/etcd.pids" 2>/dev/null | tail -n 1)
  [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--name m$2 " && echo "$pid"
}

# Member $2 of the cluster in dir $1, in the background. setsid detaches it from our session; the inner
# sh records its own PID and execs etcd, so the PID recorded is etcd's.
launch() {
  local dir=$1 n=$2 cluster=() i
  for i in 1 2 3; do cluster+=("m$i=$(peer_url "$i")"); done
  setsid -f sh -c 'echo "$1 $$" >>"$2"; shift 2; exec "$@"' sh "m$n" "$dir/etcd.pids" \
    etcd --name "m$n" --data-dir "$dir/m$n" \
    --listen-client-urls "$(client_url "$n")" --advertise-client-urls "$(client_url "$n")" \
    --listen-peer-urls "$(peer_url "$n")" --initial-advertise-peer-urls "$(peer_url "$n")" \
    --initial-cluster "$(IFS=,; echo "${cluster[*]}")" --initial-cluster-token metcd-bench \
    --initial-cluster-state new --logger zap --log-outputs stderr </dev/null >>"$dir/m$n.log" 2>&1
}

start() {
  local dir=$1 n port
  command -v etcd >/dev/null && command -v etcdctl >/dev/null || die "etcd and etcdctl are not installed"
  mkdir -p "$dir"
  if [[ -s $dir/etcd.pids ]]; then die "$dir/etcd.pids exists: stop that cluster first"; fi
  for n in 1 2 3; do
    for port in "${CLIENT_PORTS[n - 1]}" $((CLIENT_PORTS[n - 1] + 1)); do
      if ss -Hltn "sport = :$port" | grep -q .; then die "port $port is in use"; fi
    done
  done
  : >"$dir/etcd.pids"
  for n in 1 2 3; do : >"$dir/m$n.log"; launch "$dir" "$n"; done
  local deadline=$((SECONDS + START_WAIT_S))
  while ((SECONDS < deadline)); do
    if [[ $(wc -l <"$dir/etcd.pids") == 3 ]] && etcdctl --endpoints="$(endpoints)" --dial-timeout=1s --command-timeout=2s endpoint health >/dev/null 2>&1; then
      echo "etcd cluster up: $(endpoints) (PIDs $(awk '{ printf "%s ", $2 }' "$dir/etcd.pids"))"
      return 0
    fi
    sleep 0.5
  done
  stop "$dir"
  die "etcd not healthy within ${START_WAIT_S}s; see $dir/m*.log"
}

start_member() {
  local n=$1 dir=$2
  [[ $n =~ ^[123]$ ]] || usage
  [[ -f $dir/etcd.pids ]] || die "no cluster in $dir"
  if member_pid "$dir" "$n" >/dev/null; then die "member m$n is running"; fi
  # Its line is appended after the older ones, which stay: a member's pid is its last line, and the file is
  # never rewritten, since another member may be launched at the same time (scripts/bench-faults.sh).
  launch "$dir" "$n"
  local deadline=$((SECONDS + 10))
  until member_pid "$dir" "$n" >/dev/null; do
    ((SECONDS < deadline)) || die "member m$n did not start; see $dir/m$n.log"
    sleep 0.05
  done
}

stop() {
  local dir=$1 n pid stopped=()
  [[ -f $dir/etcd.pids ]] || return 0
  for n in 1 2 3; do
    if pid=$(member_pid "$dir" "$n"); then kill -TERM "$pid"; stopped+=("$n:$pid"); fi
  done
  local deadline=$((SECONDS + STOP_WAIT_S)) m
  for m in "${stopped[@]}"; do
    while member_pid "$dir" "${m%%:*}" >/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if member_pid "$dir" "${m%%:*}" >/dev/null; then echo "etcd m${m%%:*} ignored SIGTERM: SIGKILL" >&2; kill -KILL "${m#*:}"; fi
  done
  rm -f "$dir/etcd.pids"
  echo "etcd cluster stopped (${stopped[*]:-no member was running})"
}

case ${1:-}/$# in
  start/2) start "$2" ;;
  stop/2) stop "$2" ;;
  start-member/3) start_member "$2" "$3" ;;
  *) usage ;;
esac
