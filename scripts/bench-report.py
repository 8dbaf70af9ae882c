#!/usr/bin/env python3
"""The table of scripts/bench.sh, from its raw lines (one file, given as the only argument):

  META key=value...                                   build and machine facts for the header
  round=R system=S case=C RESULT key=value...         one wrk run (run-wrk.sh's RESULT line)
  RSS round=R system=S node=N role=... kb=K           a node's VmRSS after the writes
  RESTART round=R system=S node=N how=H secs=T kb=K   a follower restarted (BENCH=engines), RSS after it
  NOTE free text                                      anything the reader must know

Rows are cases, columns each system's median ops/s, p50 and p99 over the rounds, then the ratio of
the medians metcd/etcd. With META bench=engines, rows are the systems (metcd:ENGINE, etcd) instead. Runs with errors (connect/read/write/timeout, or any non-2xx status, which
includes a 404 for a key the fill should have written) are listed under the table.
"""
import statistics
import sys
from collections import defaultdict

SYSTEMS = ("metcd", "etcd")
# Row labels in run order; metcd's read levels in brackets, then etcd's.
LABELS = {
    "fill": "fill: every key once, 64 conns -> leader",
    "put-1-leader": "PUT  1 conn  -> leader",
    "put-64-leader": "PUT  64 conns -> leader",
    "put-64-follower": "PUT  64 conns -> follower",
    "get-lin-1-leader": "GET  1 conn  linearizable -> leader",
    "get-lin-64-leader": "GET  64 conns linearizable -> leader",
    "get-stale-64-leader": "GET  64 conns stale/serializable -> leader",
    "get-default-64-leader": "GET  64 conns default (metcd only) -> leader",
}
ERROR_KEYS = ("err_connect", "err_read", "err_write", "err_status", "err_timeout")


def fields(tokens):
    """key=value tokens as a dict (tokens without '=' are skipped)."""
    return dict(t.split("=", 1) for t in tokens if "=" in t)


def parse(path):
    meta, runs, rss, restarts, notes = {}, [], [], [], []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("META "):
                key, _, value = line[5:].partition("=")
                meta[key] = value
            elif line.startswith("NOTE "):
                notes.append(line[5:])
            elif line.startswith("RSS "):
                rss.append(fields(line.split()[1:]))
            elif line.startswith("RESTART "):
                restarts.append(fields(line.split()[1:]))
            elif " RESULT " in line and " case=warmup" not in line:
                runs.append(fields(line.split()))
    return meta, runs, rss, restarts, notes


def fmt(value, digits):
    return "-" if value is None else f"{value:.{digits}f}"


def median_of(rows, key):
    return statistics.median(float(r[key]) for r in rows) if rows else None


def engine_table(runs, rss, restarts):
    """One row per system: throughput and p99 of each case, RSS after the writes, restart times and RSS."""
    systems = list(dict.fromkeys(r["system"] for r in runs))
    cases = [c for c in ("fill", "put-64-leader", "get-lin-64-leader") if any(r["case"] == c for r in runs)]
    head = f"{'system':14}"
    for c in cases:
        head += f" | {c + ' ops/s':>22} {'p99 ms':>8}"
    head += f" | {'RSS MB':>6} | {'restart s (TERM/-9)':>19} | {'RSS MB after':>12}"
    print(head)
    print("-" * len(head))
    for s in systems:
        row = f"{s:14}"
        for c in cases:
            rs = [r for r in runs if r["system"] == s and r["case"] == c]
            row += f" | {fmt(median_of(rs, 'ops_s'), 0):>22} {fmt(median_of(rs, 'p99_ms'), 1):>8}"
        kb = max((int(r["kb"]) for r in rss if r["system"] == s), default=None)
        row += f" | {fmt(kb / 1024 if kb else None, 0):>6}"
        by_how = {h: [r for r in restarts if r["system"] == s and r["how"] == h] for h in ("sigterm", "kill9")}
        secs = "/".join(fmt(median_of(by_how[h], "secs"), 1) for h in by_how)
        after = "/".join(fmt(max((int(r["kb"]) / 1024 for r in by_how[h]), default=None), 0) for h in by_how)
        print(row + f" | {secs:>19} | {after:>12}")
    print()
    print("RSS MB: the largest node's after the writes; restart: a follower, from launch until it serves a read at")
    print("the index it had applied before (SIGTERM, then kill -9), and its RSS then")
    print()


def main(path):
    meta, runs, rss, restarts, notes = parse(path)
    by_case = defaultdict(lambda: defaultdict(list))  # case -> system -> [run]
    for r in runs:
        by_case[r["case"]][r["system"]].append(r)
    systems = [s for s in SYSTEMS if any(s in by_case[c] for c in by_case)] or ["metcd"]
    engines = meta.get("bench") == "engines"

    print(f"metcd benchmark  {meta.get('date', '')}")
    for key in ("engine", "commit", "jdk", "machine", "workload", "etcd"):
        if key in meta:
            print(f"  {key + ':':10} {meta[key]}")
    if not any(r["system"] == "etcd" for r in runs):
        print("  etcd:      not measured (etcd/etcdctl not installed)")
    rounds = max((int(r["round"]) for r in runs), default=0)
    print(f"  values are medians over {rounds} round(s)" if rounds > 1 else "  one round: single runs, which vary by about ±30%")
    print()

    if engines:
        engine_table(runs, rss, restarts)
        print_problems(meta, runs, notes)
        return

    head = f"{'case':46}"
    for s in systems:
        head += f" | {s + ' ops/s':>11} {'p50 ms':>7} {'p99 ms':>8}"
    if len(systems) == 2:
        head += " | metcd/etcd"
    print(head)
    print("-" * len(head))
    order = [c for c in LABELS if c in by_case] + sorted(c for c in by_case if c not in LABELS)
    for case in order:
        row = f"{LABELS.get(case, case):46}"
        medians = {}
        for s in systems:
            rs = by_case[case].get(s, [])
            ops = statistics.median(float(r["ops_s"]) for r in rs) if rs else None
            p50 = statistics.median(float(r["p50_ms"]) for r in rs) if rs else None
            p99 = statistics.median(float(r["p99_ms"]) for r in rs) if rs else None
            medians[s] = ops
            row += f" | {fmt(ops, 0):>11} {fmt(p50, 2):>7} {fmt(p99, 2):>8}"
        if len(systems) == 2:
            m, e = medians["metcd"], medians["etcd"]
            row += f" | {f'{m / e:.2f}x' if m is not None and e else '-':>10}"
        print(row)
    print()

    # RSS after the writes: per node, the largest over the rounds (the leader moves between rounds).
    for s in systems:
        per_node = defaultdict(int)
        for r in rss:
            if r["system"] == s:
                per_node[int(r["node"])] = max(per_node[int(r["node"])], int(r["kb"]))
        if per_node:
            nodes = ", ".join(f"node {n} {kb / 1024:.0f}" for n, kb in sorted(per_node.items()))
            print(f"RSS after writes, MB (max over rounds) {s}: {nodes}")
    print()
    print_problems(meta, runs, notes)


def print_problems(meta, runs, notes):
    problems = []
    for r in runs:
        errors = {k: int(r.get(k, 0)) for k in ERROR_KEYS if int(r.get(k, 0))}
        if errors:
            what = ", ".join(f"{k}={v}" for k, v in errors.items())
            problems.append(f"{r['system']} round {r['round']} {r['case']}: {what}")
        # The fill must have written every key, or the reads after it count 404s (metcd) or misses.
        if r["case"] == "fill" and r.get("hits", "-") != "-":
            keyspace = int(meta.get("keyspace", 0))
            if int(r["hits"]) < keyspace or int(r.get("misses", 0)):
                problems.append(f"{r['system']} round {r['round']} fill: {r['hits']} writes succeeded, {r['misses']} failed (keyspace {keyspace})")
        if int(r.get("capped", 0) or 0):
            problems.append(f"{r['system']} round {r['round']} {r['case']}: stopped at the MAX_REQUESTS cap")
    if problems:
        print("ERRORS (err_status counts non-2xx answers; after the fill a GET should never get 404):")
        for p in problems:
            print(f"  {p}")
    else:
        print("errors: none (no failed request, no non-2xx answer, every fill complete)")
    for n in notes:
        print(f"note: {n}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench-report.py RAW-LINES-FILE")
    main(sys.argv[1])
