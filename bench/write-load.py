#!/usr/bin/env python3
"""Writes under faults, for the benchmark's failover and goodput cases (scripts/bench.sh).

    write-load.py run --api kv|etcd --urls URL,URL,URL --out FILE [--clients 8] [--seconds 60]
                      [--max-requests 500000] [--timeout 0.5]
    write-load.py summarize FILE --kills FILE [--case failover|goodput]
    write-load.py timeline FILE [--kills FILE]

run: CLIENTS threads, each writing in a loop until SECONDS have passed, MAX_REQUESTS writes were sent,
or SIGTERM/SIGINT: a random key of the workload (KEYSPACE, KEY_PREFIX, VALUE_SIZE, as bench/workload.lua
names and fills them), to a node picked at random for every write, on a fresh connection. A node that
refuses a connection is left alone by every writer for DOWN_FOR_S, and the writer sends its next write
to another node at once. Unlike wrk, every write's invocation and completion times are kept: FILE gets
one line per write as it completes, "invoked completed outcome node", times in seconds since the epoch (the
clock `date +%s.%N` reads), outcome "ok", an HTTP status, or an error name, node the 1-based position of
the URL it was sent to. At the end, writes still in
flight are left unrecorded: the period is over.

summarize: with FILE and the kill times (one "TIME NODE" line per kill -9), prints one line:
  FAILOVER ... recovered=R median_s= max_s= each_s= acked= ops_s= failed= refused= secs= kills=
where each kill's time is from the kill to the completion of the first acknowledged write invoked after
it (a kill whose cluster acknowledged nothing before the next kill or the end counts until then, and is
not "recovered"); or
  GOODPUT ... acked= ops_s= failed= refused= secs= kills=
(--case failover or goodput); refused counts the writes sent to a dead node, failed the other writes not
acknowledged (an error status, a timeout, a connection closed), secs runs from the first invocation to the
last completion.

timeline: where a run's writes went (scripts/bench.sh puts it in its log after each fault case): one line
per second from the first invocation, the writes acknowledged in it, the kills in it, and the failed ones
by outcome and node; then each outcome's writes and the writer-seconds they cost.
"""
import argparse
import base64
import http.client
import json
import os
import random
import signal
import statistics
import sys
import threading
import time
import urllib.parse

# How long the writers leave a node alone after it refused a connection, as etcd's own client does: gRPC
# waits 1 s before it connects to such an endpoint again, and sends to the others meanwhile. The
# clients of both systems do the same, so a node killed and started again costs the writers the
# time it is missed, not a refused connection and a pause for every write sent to it while it starts.
DOWN_FOR_S = 1.0
# A writer whose write could not connect while every node is left alone waits this long before the
# next one: eight threads retrying without a pause would spin the CPU the nodes need.
PAUSE_AFTER_CONNECT_ERROR_S = 0.01


def workload_key(i, keyspace, prefix):
    return f"{prefix}{i:0{max(6, len(str(keyspace - 1)))}d}"


def workload_value(size):
    """The value bench/workload.lua writes: the alphabet walked with a stride of 7919."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(letters[(i * 7919) % len(letters)] for i in range(1, size + 1)).encode()


class Writer:
    """Builds one write request for each API and tells whether its answer acknowledged it."""

    def __init__(self, api, keyspace, prefix, value):
        self.api, self.keyspace, self.prefix, self.value = api, keyspace, prefix, value
        self.value64 = base64.b64encode(value).decode()

    def request(self, rng):
        key = workload_key(rng.randrange(self.keyspace), self.keyspace, self.prefix)
        if self.api == "kv":
            return "PUT", "/" + key, self.value, {"Content-Type": "application/octet-stream"}
        body = json.dumps({"key": base64.b64encode(key.encode()).decode(), "value": self.value64}).encode()
        return "POST", "/v3/kv/put", body, {"Content-Type": "application/json"}

    def acknowledged(self, status, body):
        if self.api == "kv":
            return status == 204
        # etcd's gateway answers 200 with the new revision in the header of a committed put.
        return status == 200 and b'"revision"' in body


def run(args):
    targets = [urllib.parse.urlsplit(u) for u in args.urls.split(",")]
    writer = Writer(args.api, int(os.environ.get("KEYSPACE", "100000")), os.environ.get("KEY_PREFIX", "bench-"),
                    workload_value(int(os.environ.get("VALUE_SIZE", "256"))))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    deadline = time.monotonic() + args.seconds
    budget = threading.Semaphore(args.max_requests)
    lock = threading.Lock()
    out = open(args.out, "w")
    down_until = [0.0] * len(targets)  # by target: monotonic time until which writers leave it alone

    def pick(rng):
        """A node not left alone, at random; any node if all are."""
        now = time.monotonic()
        with lock:
            up = [i for i, until in enumerate(down_until) if until <= now]
        return rng.choice(up or range(len(targets)))

    def refused(i):
        """Leaves target i alone; whether some other node is not left alone."""
        now = time.monotonic()
        with lock:
            down_until[i] = max(down_until[i], now + DOWN_FOR_S)
            return any(until <= now for until in down_until)

    def record(invoked, completed, outcome, node):
        # Flushed line by line, so that scripts/bench-faults.sh sees the first write acknowledged after a kill.
        with lock:
            if not out.closed:
                out.write(f"{invoked:.6f} {completed:.6f} {outcome} {node}\n")
                out.flush()

    def client(n):
        rng = random.Random(args.seed * 1000 + n)
        while not stop.is_set() and time.monotonic() < deadline and budget.acquire(blocking=False):
            i = pick(rng)
            target = targets[i]
            method, path, body, headers = writer.request(rng)
            invoked = time.time()
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=args.timeout)
            try:
                connection.request(method, path, body, headers)
                answer = connection.getresponse()
                outcome = "ok" if writer.acknowledged(answer.status, answer.read()) else str(answer.status)
            except (ConnectionError, TimeoutError, OSError, http.client.HTTPException) as e:
                outcome = type(e).__name__
            finally:
                connection.close()
            if not stop.is_set() and time.monotonic() < deadline:
                record(invoked, time.time(), outcome, i + 1)
            if outcome == "ConnectionRefusedError" and not refused(i):
                stop.wait(PAUSE_AFTER_CONNECT_ERROR_S)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    for t in threads:
        t.start()
    # The main thread waits in short steps, so that a signal's handler runs at once; then it leaves the
    # writes in flight behind (the threads are daemons).
    while not stop.is_set() and time.monotonic() < deadline and any(t.is_alive() for t in threads):
        stop.wait(0.1)
    with lock:
        out.close()


def read_records(path):
    with open(path) as f:
        return [(float(f[0]), float(f[1]), f[2], f[3] if len(f) > 3 else "-")
                for f in (line.split() for line in f if line.strip())]


def summarize(args):
    records = read_records(args.file)
    with open(args.kills) as f:
        kills = sorted(float(line.split()[0]) for line in f if line.strip())
    acked = [r for r in records if r[2] == "ok"]
    refused = sum(1 for r in records if r[2] == "ConnectionRefusedError")
    failed = len(records) - len(acked) - refused
    start = min((r[0] for r in records), default=0.0)
    end = max((r[1] for r in records), default=0.0)
    secs = max(end - start, 1e-9)
    common = (f"acked={len(acked)} ops_s={len(acked) / secs:.0f} failed={failed} refused={refused} secs={secs:.1f}"
              f" kills={len(kills)}")
    if args.case == "goodput":
        print(f"GOODPUT {args.label} {common}")
        return
    gaps, recovered = [], 0
    for i, kill in enumerate(kills):
        until = kills[i + 1] if i + 1 < len(kills) else end
        first = min((c for inv, c, o, _ in acked if inv >= kill and c <= until), default=None)
        recovered += first is not None
        gaps.append((first if first is not None else until) - kill)
    median = f"{statistics.median(gaps):.3f}" if gaps else "-"
    worst = f"{max(gaps):.3f}" if gaps else "-"
    each = ",".join(f"{g:.3f}" for g in gaps) or "-"
    print(f"FAILOVER {args.label} recovered={recovered} median_s={median} max_s={worst} each_s={each} {common}")


def timeline(args):
    """Per second from the first invocation: acknowledged writes, failed ones by outcome and node, kills."""
    records = read_records(args.file)
    kills = []
    if args.kills:
        with open(args.kills) as f:
            kills = [(float(t), n) for t, n in (line.split()[:2] for line in f if line.strip())]
    if not records:
        return
    start = min(r[0] for r in records)
    seconds = int(max(r[1] for r in records) - start) + 1
    acked = [0] * seconds
    failed = [dict() for _ in range(seconds)]
    for invoked, completed, outcome, node in records:
        s = int(completed - start)
        if outcome == "ok":
            acked[s] += 1
        else:
            what = f"{outcome}@{node}"
            failed[s][what] = failed[s].get(what, 0) + 1
    for s in range(seconds):
        marks = " ".join(f"KILL@{n}(+{t - start - s:.2f})" for t, n in kills if s <= t - start < s + 1)
        fails = " ".join(f"{k}={v}" for k, v in sorted(failed[s].items()))
        print(f"{s:4d} {acked[s]:5d} {marks} {fails}".rstrip())
    totals = {}
    for invoked, completed, outcome, node in records:
        if outcome != "ok":
            key = (outcome, node)
            n, t = totals.get(key, (0, 0.0))
            totals[key] = (n + 1, t + completed - invoked)
    for (outcome, node), (n, t) in sorted(totals.items()):
        print(f"failed {outcome}@{node}: {n} writes, {t:.1f} writer-seconds")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--api", choices=("kv", "etcd"), required=True)
    r.add_argument("--urls", required=True, help="the nodes' client URLs, comma-separated")
    r.add_argument("--out", required=True)
    r.add_argument("--clients", type=int, default=8)
    r.add_argument("--seconds", type=float, default=60)
    r.add_argument("--max-requests", type=int, default=500000)
    r.add_argument("--timeout", type=float, default=0.5,
                   help="seconds a writer gives a write, connecting included, before it sends another")
    r.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("summarize")
    s.add_argument("file")
    s.add_argument("--kills", required=True)
    s.add_argument("--case", choices=("failover", "goodput"), default="failover")
    s.add_argument("--label", default="-", help="free text copied into the line")
    t = sub.add_parser("timeline")
    t.add_argument("file")
    t.add_argument("--kills")
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    elif args.command == "timeline":
        timeline(args)
    else:
        summarize(args)


if __name__ == "__main__":
    sys.exit(main())
