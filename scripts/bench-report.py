#!/usr/bin/env python3
"""The table of scripts/bench.sh, from its raw lines (one file, given as the only argument):

  META key=value...                                   build and machine facts for the header
  round=R system=S case=C RESULT key=value...         one wrk run (bench/run-wrk.sh's RESULT line)
  LEADERS round=R system=S case=C changes=N           leader changes the nodes counted during a case
  STALL round=R system=S case=C max_s=X|n/a           the longest Raft-thread stall a node reported after it
  FAILOVER round=R system=S case=failover key=value... bench/write-load.py's summary of the failover case
  GOODPUT round=R system=S case=goodput key=value...  and of the goodput case
  RSS round=R system=S node=N role=... kb=K [anon_kb=A file_kb=F]
                                                    a node's VmRSS after the writes, and its private and
                                                    mapped-file parts
  RESTART round=R system=S node=N how=H secs=T kb=K   a follower restarted (BENCH=engines), RSS after it
  REDIS round=R system=metcd|redis case=C key=value... a redis-benchmark run (scripts/bench-redis.sh)
  NOTE free text                                      anything the reader must know

Rows are cases, columns each system's median ops/s, p50 and p99 over the rounds and the most leader
changes in a round, then the ratio of the medians metcd/etcd and metcd's longest Raft-thread stall; the
fault cases follow in a table of their own, then the redis-benchmark cases, with the ratios of metcd's
throughput to etcd's PUT and linearizable GET at 64 connections. With META bench=engines, rows are the systems (metcd:ENGINE,
etcd) instead. Runs with errors (connect/read/write/timeout, or any non-2xx status, which includes a 404
for a key the fill should have written) are listed under the tables.
"""
import statistics
import sys
from collections import defaultdict

SYSTEMS = ("metcd", "etcd")
# Row labels in run order; metcd's read levels in brackets, then etcd's.
LABELS = {
    "fill": "fill: every key once, 64c, leader",
    "put-1-leader": "PUT  1c  leader",
    "put-64-leader": "PUT  64c leader",
    "put-64-follower": "PUT  64c follower",
    "get-lin-1-leader": "GET  1c  linearizable, leader",
    "get-lin-64-leader": "GET  64c linearizable, leader",
    "get-stale-64-leader": "GET  64c stale/serializable, leader",
    "get-default-64-leader": "GET  64c default (metcd), leader",
    "put-64-leader-watched": "PUT  64c leader, watchers open",
    "watch": "WATCH delay PUT answer->event",
}
FAULT_LABELS = {
    "failover": "failover: kill -9 of the leader",
    "goodput": "goodput: leader killed every few s",
}
ERROR_KEYS = ("err_connect", "err_read", "err_write", "err_status", "err_timeout")


def fields(tokens):
    """key=value tokens as a dict (tokens without '=' are skipped)."""
    return dict(t.split("=", 1) for t in tokens if "=" in t)


class Raw:
    """The raw lines, by kind: meta (dict), runs, rss, restarts, leaders, stalls, faults (lists of dicts), notes."""

    def __init__(self, path):
        self.meta, self.notes = {}, []
        self.runs, self.rss, self.restarts, self.leaders, self.stalls, self.faults = [], [], [], [], [], []
        self.redis = []
        tagged = {"RSS": self.rss, "RESTART": self.restarts, "LEADERS": self.leaders, "STALL": self.stalls,
                  "FAILOVER": self.faults, "GOODPUT": self.faults, "REDIS": self.redis}
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                tag = line.split(" ", 1)[0]
                if tag == "META":
                    key, _, value = line[5:].partition("=")
                    self.meta[key] = value
                elif tag == "NOTE":
                    self.notes.append(line[5:])
                elif tag in tagged:
                    tagged[tag].append(fields(line.split()[1:]))
                elif " RESULT " in line and " case=warmup" not in line:
                    self.runs.append(fields(line.split()))

    def leader_changes(self, system, case):
        """The most leader changes in one round of a case, or None if not counted."""
        counts = [int(float(r["changes"])) for r in self.leaders if r["system"] == system and r["case"] == case]
        return max(counts) if counts else None

    def stall_ms(self, system, case=None):
        """The longest Raft-thread stall reported after a case (any case if None), in ms; "n/a" if none was."""
        values = [float(r["max_s"]) * 1000 for r in self.stalls if r["system"] == system
                  and (case is None or r["case"] == case) and r["max_s"] != "n/a"]
        return f"{max(values):.0f}" if values else "n/a"


def fmt(value, digits):
    return "-" if value is None else f"{value:.{digits}f}"


def median_of(rows, key):
    return statistics.median(float(r[key]) for r in rows) if rows else None


def changes(raw, system, case):
    n = raw.leader_changes(system, case)
    return "-" if n is None else str(n)


def engine_table(raw):
    """One row per system: throughput and p99 of each case, RSS after the writes, restart times and RSS,
    leader changes over the cases and the longest Raft-thread stall."""
    runs = raw.runs
    systems = list(dict.fromkeys(r["system"] for r in runs))
    cases = [c for c in ("fill", "put-64-leader", "get-lin-64-leader") if any(r["case"] == c for r in runs)]
    head = f"{'system':14}"
    for c in cases:
        head += f" | {c + ' ops/s':>22} {'p99 ms':>8}"
    head += f" | {'RSS MB':>6} | {'restart s (TERM/-9)':>19} | {'RSS MB after':>12} | {'leader chg':>10} | {'stall ms':>8}"
    print(head)
    print("-" * len(head))
    for s in systems:
        row = f"{s:14}"
        for c in cases:
            rs = [r for r in runs if r["system"] == s and r["case"] == c]
            row += f" | {fmt(median_of(rs, 'ops_s'), 0):>22} {fmt(median_of(rs, 'p99_ms'), 1):>8}"
        kb = max((int(r["kb"]) for r in raw.rss if r["system"] == s), default=None)
        row += f" | {fmt(kb / 1024 if kb else None, 0):>6}"
        by_how = {h: [r for r in raw.restarts if r["system"] == s and r["how"] == h] for h in ("sigterm", "kill9")}
        secs = "/".join(fmt(median_of(by_how[h], "secs"), 1) for h in by_how)
        after = "/".join(fmt(max((int(r["kb"]) / 1024 for r in by_how[h]), default=None), 0) for h in by_how)
        counted = [raw.leader_changes(s, c) for c in cases]
        total = sum(n for n in counted if n is not None) if any(n is not None for n in counted) else None
        print(row + f" | {secs:>19} | {after:>12} | {fmt(total, 0):>10} | {raw.stall_ms(s):>8}")
    print()
    print("RSS MB: the largest node's after the writes; restart: a follower, from launch until it serves a read at")
    print("the index it had applied before (SIGTERM, then kill -9), and its RSS then; leader chg: during fill, PUT")
    print("and GET; stall ms: the longest Raft-thread stall a node reported (n/a: not exposed)")
    print()


def case_table(raw, systems):
    """Rows are the wrk cases: per system median ops/s, p50, p99 and leader changes; the ratio; metcd's stall."""
    by_case = defaultdict(lambda: defaultdict(list))  # case -> system -> [run]
    for r in raw.runs:
        by_case[r["case"]][r["system"]].append(r)
    head = f"{'case':36}"
    for s in systems:
        head += f" | {s + ' ops/s':>11} {'p50 ms':>7} {'p99 ms':>8} {'ldr':>3}"
    if len(systems) == 2:
        head += " | metcd/etcd"
    if "metcd" in systems:
        head += " | stall ms"
    print(head)
    print("-" * len(head))
    order = [c for c in LABELS if c in by_case] + sorted(c for c in by_case if c not in LABELS)
    for case in order:
        row = f"{LABELS.get(case, case):36}"
        medians = {}
        for s in systems:
            rs = by_case[case].get(s, [])
            medians[s] = median_of(rs, "ops_s")
            row += (f" | {fmt(medians[s], 0):>11} {fmt(median_of(rs, 'p50_ms'), 2):>7}"
                    f" {fmt(median_of(rs, 'p99_ms'), 2):>8} {changes(raw, s, case):>3}")
        if len(systems) == 2:
            m, e = medians["metcd"], medians["etcd"]
            row += f" | {f'{m / e:.2f}x' if m is not None and e else '-':>10}"
        if "metcd" in systems:
            row += f" | {raw.stall_ms('metcd', case):>8}"
        print(row)
    print()
    print("ldr: leader changes during the case (the most any node counted, most over the rounds); stall ms: the")
    print("longest Raft-thread stall a metcd node reported after the case (n/a: not exposed)")
    if "watch" in by_case:
        print("WATCH: watchers of one prefix on a follower, PUTs at a fixed rate to the leader: ops/s is the PUT rate")
        print("reached, p50/p99 the delay from a PUT's answer to its event at the watchers; watchers open: the same")
        print("watchers on the keys the PUT case writes, held while it runs")
    print()


def fault_table(raw, systems):
    """The failover and goodput cases: per system, the figures of bench/write-load.py and leader changes."""
    if not raw.faults:
        return
    if raw.meta.get("faults"):
        print(f"faults: {raw.meta['faults']}")
    head = f"{'case':36}"
    for s in systems:
        head += f" | {s:>30} {'ldr':>3}"
    if len(systems) == 2:
        head += " | metcd/etcd"
    print(head)
    print("-" * len(head))
    for case in FAULT_LABELS:
        rows = {s: [r for r in raw.faults if r["system"] == s and r["case"] == case] for s in systems}
        if not any(rows.values()):
            continue
        line, key = f"{FAULT_LABELS[case]:36}", {}
        for s in systems:
            rs = rows[s]
            if not rs:
                text = "-"
            elif case == "failover":
                key[s] = median_of(rs, "median_s")
                worst = max(float(r["max_s"]) for r in rs)
                recovered = sum(int(r["recovered"]) for r in rs)
                kills = sum(int(r["kills"]) for r in rs)
                text = f"median {key[s]:.2f} s, max {worst:.2f} s ({recovered}/{kills})"
            else:
                key[s] = median_of(rs, "acked")
                text = f"{key[s]:.0f} acked, {median_of(rs, 'ops_s'):.0f}/s ({sum(int(r['kills']) for r in rs)} kills)"
            line += f" | {text:>30} {changes(raw, s, case):>3}"
        if len(systems) == 2:
            m, e = key.get("metcd"), key.get("etcd")
            line += f" | {f'{m / e:.2f}x' if m is not None and e else '-':>10}"
        print(line)
    print()
    print("failover: time from a kill to the first acknowledged write invoked after it (recovered/kills); goodput:")
    print("acknowledged writes over the whole period" + ("; the ratio is metcd's over etcd's for both" if len(systems) == 2 else ""))
    print()


# The redis-benchmark cases, and the etcd wrk case each is compared with.
REDIS_LABELS = {
    "redis-set-50": ("SET  50c", "put-64-leader"),
    "redis-set-50-p16": ("SET  50c -P 16", "put-64-leader"),
    "redis-get-50": ("GET  50c", "get-lin-64-leader"),
    "redis-get-50-p16": ("GET  50c -P 16", "get-lin-64-leader"),
}


def redis_table(raw):
    """The redis-benchmark cases: metcd's leader and the reference redis-server, median ops/s, p50 and p99; metcd's
    ops/s over etcd's in the case named beside it, and p99 against etcd's there."""
    if not raw.redis:
        return
    print(f"redis-benchmark: {raw.meta.get('redis', '')}")
    head = f"{'case':16}"
    for s in ("metcd", "redis"):
        head += f" | {s + ' ops/s':>11} {'p50 ms':>7} {'p99 ms':>8}"
    head += f" | {'metcd/etcd':>10} {'etcd case':>17} {'etcd p99':>8}"
    print(head)
    print("-" * len(head))
    for case, (label, etcd_case) in REDIS_LABELS.items():
        rows = {s: [r for r in raw.redis if r["system"] == s and r["case"] == case] for s in ("metcd", "redis")}
        if not any(rows.values()):
            continue
        line = f"{label:16}"
        for s, rs in rows.items():
            line += (f" | {fmt(median_of(rs, 'ops_s'), 0):>11} {fmt(median_of(rs, 'p50_ms'), 2):>7}"
                     f" {fmt(median_of(rs, 'p99_ms'), 2):>8}")
        etcd = [r for r in raw.runs if r["system"] == "etcd" and r["case"] == etcd_case]
        m, e = median_of(rows["metcd"], "ops_s"), median_of(etcd, "ops_s")
        line += f" | {f'{m / e:.2f}x' if m is not None and e else '-':>10} {etcd_case:>17} {fmt(median_of(etcd, 'p99_ms'), 2):>8}"
        print(line)
    print()
    print("metcd: the leader's Redis port (GET reads at the default level, the leader's lease); redis: one")
    print("redis-server, appendfsync always, no replica; metcd/etcd: metcd's ops/s over etcd's in the etcd case")
    print("(PUT or linearizable GET, 64 connections, same round); with -P 16 a latency is a whole batch's")
    print()


def main(path):
    raw = Raw(path)
    meta, runs = raw.meta, raw.runs
    systems = [s for s in SYSTEMS if any(r["system"] == s for r in runs)] or ["metcd"]

    print(f"metcd benchmark  {meta.get('date', '')}")
    for key in ("engine", "commit", "jdk", "machine", "workload", "etcd"):
        if key in meta:
            print(f"  {key + ':':10} {meta[key]}")
    if not any(r["system"] == "etcd" for r in runs):
        print("  etcd:      not measured (etcd/etcdctl not installed)")
    rounds = max((int(r["round"]) for r in runs), default=0)
    print(f"  values are medians over {rounds} round(s)" if rounds > 1 else "  one round: single runs, which vary by about ±30%")
    print()

    if meta.get("bench") == "engines":
        engine_table(raw)
        fault_table(raw, list(dict.fromkeys(r["system"] for r in runs)))
        print_problems(raw)
        return

    case_table(raw, systems)
    fault_table(raw, systems)
    redis_table(raw)
    # RSS after the writes: per node, the largest over the rounds (the leader moves between rounds).
    for s in systems:
        per_node = {}
        for r in raw.rss:
            n = int(r["node"])
            if r["system"] == s and (n not in per_node or int(r["kb"]) > int(per_node[n]["kb"])):
                per_node[n] = r
        if per_node:
            nodes = ", ".join(f"node {n} {rss_parts(r)}" for n, r in sorted(per_node.items()))
            print(f"RSS after writes, MB (max over rounds) {s}: {nodes}")
    print()
    print_problems(raw)


def rss_parts(r):
    """'266 (anon 190, file 76)': a node's RSS in MB, with its private and mapped-file parts when recorded."""
    mb = lambda key: f"{int(r[key]) / 1024:.0f}"
    return mb("kb") + (f" (anon {mb('anon_kb')}, file {mb('file_kb')})" if "anon_kb" in r else "")


def print_problems(raw):
    problems = []
    for r in raw.runs:
        errors = {k: int(r.get(k, 0)) for k in ERROR_KEYS if int(r.get(k, 0))}
        if errors:
            what = ", ".join(f"{k}={v}" for k, v in errors.items())
            problems.append(f"{r['system']} round {r['round']} {r['case']}: {what}")
        # The fill must have written every key, or the reads after it count 404s (metcd) or misses.
        if r["case"] == "fill" and r.get("hits", "-") != "-":
            keyspace = int(raw.meta.get("keyspace", 0))
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
    unacknowledged = [f"{r['system']} round {r['round']} {r['case']} {r['failed']} failed, {r['refused']} refused"
                      for r in raw.faults]
    if unacknowledged:
        print("fault cases, writes not acknowledged (refused: sent to the killed node; failed: an error status, a")
        print(f"timeout or a closed connection, as expected under kills): {'; '.join(unacknowledged)}")
    for n in raw.notes:
        print(f"note: {n}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench-report.py RAW-LINES-FILE")
    main(sys.argv[1])
