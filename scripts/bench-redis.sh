# The Redis-protocol cases of scripts/bench.sh, which sources this file: redis-benchmark's SET and GET
# (REDIS_VALUE_SIZE=256-byte values, REDIS_CLIENTS=50 connections, without and with `-P 16`) against the
# metcd leader's Redis port, in the same round as the wrk cases (so beside etcd's PUT and linearizable GET
# at 64 connections), and against one local redis-server with `appendfsync always` as the unreplicated
# reference: a single process that also syncs every write before answering it.
#
# Keys are redis-benchmark's `key:NNNNNNNNNNNN`, REDIS_KEYSPACE of them (-r); the SET cases run first and
# write each key several times over, so the GET cases read keys that exist. Each run is bounded by its
# request count (REDIS_REQUESTS, REDIS_PIPELINED_REQUESTS with -P 16) and by REDIS_TIMEOUT_S. One line per
# run goes to $raw: REDIS round=R system=metcd|redis case=C ops_s=.. p50_ms=.. p99_ms=.. avg_ms=.. max_ms=..
# (from redis-benchmark's --csv; with -P 16 a latency is that of the whole pipelined batch).
#
# Environment (all optional): REDIS_BENCH=1|0 (default 1; BENCH=engines: 0), REDIS_REFERENCE_PORT=7479
# (the redis-server's port, on 127.0.0.1, its data in a temporary dir), REDIS_KEYSPACE=10000,
# REDIS_REQUESTS=100000, REDIS_PIPELINED_REQUESTS=400000, REDIS_CLIENTS=50, REDIS_VALUE_SIZE=256,
# REDIS_TIMEOUT_S=300 (a run at 500 SET/s would take 200 s).

if [[ $BENCH == compare ]]; then REDIS_BENCH=${REDIS_BENCH:-1}; else REDIS_BENCH=${REDIS_BENCH:-0}; fi
REDIS_REFERENCE_PORT=${REDIS_REFERENCE_PORT:-7479}
REDIS_KEYSPACE=${REDIS_KEYSPACE:-10000}
REDIS_REQUESTS=${REDIS_REQUESTS:-100000}
REDIS_PIPELINED_REQUESTS=${REDIS_PIPELINED_REQUESTS:-400000}
REDIS_CLIENTS=${REDIS_CLIENTS:-50}
REDIS_VALUE_SIZE=${REDIS_VALUE_SIZE:-256}
REDIS_TIMEOUT_S=${REDIS_TIMEOUT_S:-300}

# The cases, in run order (writes first, so the reads find their keys). Fields: case id, redis-benchmark
# test, pipeline depth.
REDIS_CASES=(
  "redis-set-50     set  1"
  "redis-set-50-p16 set 16"
  "redis-get-50     get  1"
  "redis-get-50-p16 get 16"
)

redis_reference_pid='' redis_reference_dir=''

# Whether the Redis cases run; checks their settings and tools, installing redis-tools and redis-server when
# bench.sh may (install_packages), and says why they are skipped otherwise.
redis_check_prerequisites() {
  ((REDIS_BENCH)) || return 0
  [[ $REDIS_KEYSPACE =~ ^[1-9][0-9]*$ && $REDIS_REQUESTS =~ ^[1-9][0-9]*$ && $REDIS_CLIENTS =~ ^[1-9][0-9]*$ &&
     $REDIS_PIPELINED_REQUESTS =~ ^[1-9][0-9]*$ && $REDIS_VALUE_SIZE =~ ^[1-9][0-9]*$ &&
     $REDIS_TIMEOUT_S =~ ^[1-9][0-9]*$ && $REDIS_REFERENCE_PORT =~ ^[1-9][0-9]*$ ]] ||
    die "REDIS_KEYSPACE, REDIS_REQUESTS, REDIS_PIPELINED_REQUESTS, REDIS_CLIENTS, REDIS_VALUE_SIZE, REDIS_TIMEOUT_S and REDIS_REFERENCE_PORT must be positive integers"
  if ! on_path redis-benchmark redis-server redis-cli; then
    install_packages redis-tools redis-server && on_path redis-benchmark redis-server redis-cli || {
      say "redis-benchmark/redis-server not installed: the Redis cases are skipped (Debian: apt-get install redis-tools redis-server)"
      REDIS_BENCH=0
    }
  fi
  if ((REDIS_BENCH)); then
    echo "META redis=${REDIS_CLIENTS} clients, ${REDIS_VALUE_SIZE} B values, ${REDIS_KEYSPACE} keys, ${REDIS_REQUESTS} requests (${REDIS_PIPELINED_REQUESTS} with -P 16); reference: $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/redis-server \1/p'), appendfsync always" >>"$raw"
  fi
}

# The ports the Redis cases bind, for check_ports: the metcd nodes' Redis ports and the reference's.
redis_ports() {
  ((REDIS_BENCH)) || return 0
  local n
  for ((n = 1; n <= NODES; n++)); do echo "$((REDIS_PORT_BASE + n)) (metcd node $n, Redis)"; done
  echo "$REDIS_REFERENCE_PORT (redis-server reference)"
}

# One redis-benchmark run against 127.0.0.1:$4 and its REDIS line in $raw. Args: system round case port
# test pipeline
redis_run() {
  local system=$1 round=$2 id=$3 port=$4 test=$5 pipeline=$6 requests=$REDIS_REQUESTS rc=0 line
  ((pipeline == 1)) || requests=$REDIS_PIPELINED_REQUESTS
  local args=(-h "$HOST" -p "$port" -t "$test" -d "$REDIS_VALUE_SIZE" -r "$REDIS_KEYSPACE" -n "$requests"
    -c "$REDIS_CLIENTS" -P "$pipeline" --csv)
  echo "### $system round $round $id: redis-benchmark ${args[*]}" >>"$log"
  [[ $system != metcd ]] || lc_begin metcd
  timeout -k 5 "$REDIS_TIMEOUT_S" redis-benchmark "${args[@]}" >"$out" 2>&1 &
  load_pid=$!
  wait "$load_pid" || rc=$?
  load_pid=''
  [[ $system != metcd ]] || lc_end metcd "$round" "$system" "$id"
  cat "$out" >>"$log"
  # The CSV row of the test: "SET","rps","avg","min","p50","p95","p99","max" (milliseconds).
  line=$(tr -d '"' <"$out" | awk -F, -v t="${test^^}" '$1 == t && NF >= 8 {
      printf "ops_s=%s avg_ms=%s p50_ms=%s p99_ms=%s max_ms=%s", $2, $3, $5, $7, $8 }')
  rm -f "$out"
  if ((rc != 0)) || [[ -z $line ]]; then
    note "$system round $round $id: redis-benchmark failed (exit $rc); see $log"
    return 0
  fi
  echo "REDIS round=$round system=$system case=$id requests=$requests $line" >>"$raw"
  awk -v tag="$(printf '%-6s r%s %-22s' "$system" "$round" "$id")" '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "  %s %8.0f ops/s  p50 %7s ms  p99 %8s ms\n", tag, v["ops_s"], v["p50_ms"], v["p99_ms"]
    }' <<<"$line" | tee -a "$log"
}

# Every Redis case against port $3 for system $1 (metcd or redis), round $2.
redis_cases() {
  local system=$1 round=$2 port=$3 c id test pipeline
  for c in "${REDIS_CASES[@]}"; do
    read -r id test pipeline <<<"$c"
    redis_run "$system" "$round" "$id" "$port" "$test" "$pipeline"
  done
}

# The Redis cases against the current metcd leader in round $1; bench_round calls it after the wrk cases.
redis_metcd_cases() {
  ((REDIS_BENCH)) || return 0
  local leader
  leader=$(metcd_leader) || { note "metcd round $1: no leader for the Redis cases; skipped"; return 0; }
  say "round $1 metcd: redis-benchmark on the leader's (node $leader) Redis port $((REDIS_PORT_BASE + leader))"
  redis_cases metcd "$1" "$((REDIS_PORT_BASE + leader))"
}

# The Redis cases against a fresh redis-server with appendfsync always, started for round $1 and stopped.
redis_reference_round() {
  ((REDIS_BENCH)) || return 0
  redis_reference_dir=$(mktemp -d "${TMPDIR:-/tmp}/metcd-bench-redis.XXXXXX")
  # No RDB snapshots: the append-only file, synced before every answer, is the only persistence.
  redis-server --bind "$HOST" --port "$REDIS_REFERENCE_PORT" --dir "$redis_reference_dir" --save '' \
    --appendonly yes --appendfsync always --logfile "$redis_reference_dir/redis.log" >>"$log" 2>&1 &
  redis_reference_pid=$!
  local deadline=$((SECONDS + 15))
  until redis-cli -h "$HOST" -p "$REDIS_REFERENCE_PORT" ping 2>/dev/null | grep -q PONG; do
    if ((SECONDS >= deadline)) || [[ ! -d /proc/$redis_reference_pid ]]; then
      note "redis-server did not start on port $REDIS_REFERENCE_PORT; the reference is skipped in round $1"
      redis_reference_stop
      return 0
    fi
    sleep 0.1
  done
  say "round $1 redis-server $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'), appendfsync always, port $REDIS_REFERENCE_PORT"
  redis_cases redis "$1" "$REDIS_REFERENCE_PORT"
  redis_reference_stop
}

# Stops the reference redis-server started by redis_reference_round (by its PID) and removes its data.
redis_reference_stop() {
  if [[ -n $redis_reference_pid ]]; then
    kill -TERM "$redis_reference_pid" 2>/dev/null && await_exit "$redis_reference_pid" ||
      kill -KILL "$redis_reference_pid" 2>/dev/null || true
    wait "$redis_reference_pid" 2>/dev/null || true
    redis_reference_pid=''
  fi
  if [[ -n $redis_reference_dir ]]; then rm -rf "$redis_reference_dir"; redis_reference_dir=''; fi
}
