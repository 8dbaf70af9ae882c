#!/usr/bin/env bash
# Makes bin/metcd's start-up cache for the JDK bin/find-jdk picks (see bin/metcd): runs one node of a
# one-member cluster in a temporary directory with METCD_STARTUP_CACHE=record, sends it the requests a node
# serves (writes, reads at every level, status, a snapshot), and stops it; the JVM writes the cache as it
# exits. Bounded: the node gets 60 s to start and 30 s to stop. A failure only costs start-up time, so it
# warns and exits 0.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
port=${STARTUP_CACHE_PORT:-3399}
dir=$(mktemp -d)
pid=''
cleanup() {
  [[ -z $pid ]] || kill -KILL "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
warn() { echo "startup-cache: $* (nodes will start without the cache; see $dir/node.log)" >&2; cp "$dir/node.log" target/startup-cache.log 2>/dev/null; exit 0; }

METCD_STARTUP_CACHE=record bin/metcd --id 1 --cluster "http://127.0.0.1:$((port + 10000))" --port "$port" \
  --data-dir "$dir/node" --snapshot-count 100 >"$dir/node.log" 2>&1 &
pid=$!
url=http://127.0.0.1:$port
deadline=$((SECONDS + 60))
until curl -fs -o /dev/null --max-time 1 "$url/-/health"; do
  ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null || warn "the training node did not start"
  sleep 0.2
done
for i in $(seq 1 50); do
  curl -fs -o /dev/null -XPUT "$url/key-$i" --data-binary "value-$i" &&
    curl -fs -o /dev/null "$url/key-$i" &&
    curl -fs -o /dev/null "$url/key-$i?level=stale" &&
    curl -fs -o /dev/null "$url/key-$i?level=consistent" || warn "the training node failed a request"
done
curl -fs -o /dev/null -XDELETE "$url/key-1"
curl -fs -o /dev/null "$url/-/status"
curl -fs -o /dev/null "$url/-/members"
curl -fs -o /dev/null "$url/-/metrics"
curl -fs -o /dev/null -XPOST "$url/-/snapshot"
kill -TERM "$pid"
deadline=$((SECONDS + 30))
while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
kill -0 "$pid" 2>/dev/null && warn "the training node did not stop"
wait "$pid"
pid=''
echo "startup-cache: $(ls target/metcd-jdk*.* 2>/dev/null | tr '\n' ' ')"
