#!/usr/bin/env bash
# One bounded, closed-loop wrk run of bench/workload.lua: prints wrk's report and a RESULT line.
#
#   bench/run-wrk.sh API@URL KIND CONNS SECONDS
#
# API@URL  kv@http://127.0.0.1:3379 (metcd) or etcd@http://127.0.0.1:2379 (etcd's v3 JSON gateway)
# KIND     put, get (the server's default read), fill (every key once, in order; SECONDS is its bound);
#          kv: get-stale, get-default, get-consistent; etcd: get-serializable (get is linearizable)
# CONNS    connections, each waiting for its answer before sending again
# SECONDS  length of the run
#
# Environment: THREADS (wrk's -t, default min(2, CONNS); fill takes 1), WRK_TIMEOUT (per request, default
# 10s), and the workload's settings (bench/workload.lua: KEYSPACE, VALUE_SIZE, KEY_PREFIX, SEED,
# MAX_REQUESTS, CHECK). Bounded by wrk's -d, MAX_REQUESTS and a timeout of SECONDS+60. Exits non-zero
# when wrk fails.
set -euo pipefail
usage() { sed -n '2,17p' "$0" >&2; exit 2; }
(($# == 4)) || usage
target=$1 kind=$2 conns=$3 secs=$4
[[ $target == *@http://* && $conns =~ ^[1-9][0-9]*$ && $secs =~ ^[1-9][0-9]*$ ]] || usage
export API=${target%%@*} MODE=random OP LEVEL='' SERIALIZABLE=0
url=${target#*@}
case $API/$kind in
  */put | */get) OP=$kind ;;
  */fill) OP=put MODE=fill ;;
  kv/get-stale | kv/get-default | kv/get-consistent) OP=get LEVEL=${kind#get-} ;;
  etcd/get-serializable) OP=get SERIALIZABLE=1 ;;
  *) echo "run-wrk: '$kind' is not a kind of run for API '$API'" >&2; usage ;;
esac
threads=${THREADS:-$((conns < 2 ? conns : 2))}
[[ $MODE != fill ]] || threads=1
export WRK_THREADS=$threads WRK_CONNS=$conns LABEL="target=$API kind=$kind conns=$conns url=$url"

script=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/workload.lua
echo "# wrk -t$threads -c$conns -d${secs}s $url (API=$API OP=$OP MODE=$MODE${LEVEL:+ LEVEL=$LEVEL})"
# exec: a signal to this script reaches timeout, which passes it on to wrk.
exec timeout -k 5 $((secs + 60)) wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout "${WRK_TIMEOUT:-10s}" \
  --latency -s "$script" "$url"
