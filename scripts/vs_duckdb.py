#!/usr/bin/env python3
"""Ad-hoc SQL side by side (issue: speed against DuckDB), run by `scripts/bench.sh vs-duckdb`.

DuckDB in-process (2 threads, Parquet metadata cache on, warm) reads the cold Parquet files of
a waylog data dir; waylog answers the same statements through `POST /v1/query` of a running
server over that data dir (one keep-alive HTTP connection, the response read whole). Two
statements: the rollup `GROUP BY service, anchor_error_code` over failed rows, and a
`WHERE trace_id = ...` lookup (a different trace each iteration, the same ids for both
engines). Each is run `--warmup` times untimed, then `--iterations` times; prints one JSON line
with p50 / p99 per engine, the ratio of the p50s, and whether both answered the same.

usage: vs_duckdb.py --url http://127.0.0.1:PORT --data-dir DIR [--iterations 30] [--warmup 5]
"""
import argparse
import glob
import http.client
import json
import os
import time
import urllib.parse

import duckdb

FAILED = "('error', 'timeout', 'partial', 'aborted')"
ROLLUP = (
    "SELECT service, anchor_error_code, count(*) AS n FROM events "
    f"WHERE status IN {FAILED} GROUP BY service, anchor_error_code ORDER BY n DESC, service, anchor_error_code"
)
LOOKUP = (
    "SELECT event_id, service, status, ts_start, ts_end, anchor_error_code FROM events "
    "WHERE trace_id = '{}' ORDER BY ts_start, event_id"
)


def percentile(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(p * len(s) + 0.5)) - 1))]


class Waylog:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)

    def query(self, sql):
        body = json.dumps({"sql": sql, "limit": 10000})
        self.conn.request("POST", "/v1/query", body, {"content-type": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise SystemExit(f"waylog answered {resp.status}: {data[:300]!r}")
        return json.loads(data)


def timed(run, sqls, warmup, iterations):
    for i in range(warmup):
        run(sqls[i % len(sqls)])
    ms = []
    last = None
    for i in range(iterations):
        t = time.perf_counter()
        last = run(sqls[i % len(sqls)])
        ms.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(percentile(ms, 0.5), 2), "p99_ms": round(percentile(ms, 0.99), 2)}, last


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    a = ap.parse_args()

    # The table's data files, not the Delta log's checkpoints (`_delta_log/*.checkpoint.parquet`).
    files = sorted(
        f for f in glob.glob(os.path.join(a.data_dir, "cold", "events", "**", "*.parquet"), recursive=True)
        if "_delta_log" not in f.split(os.sep)
    )
    if not files:
        raise SystemExit(f"no Parquet files under {a.data_dir}/cold/events")
    db = duckdb.connect()
    db.execute("SET threads = 2")
    for setting in ("SET parquet_metadata_cache = true", "SET enable_object_cache = true"):
        try:
            db.execute(setting)
        except duckdb.Error:
            pass
    db.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet({files!r}, hive_partitioning = false)")
    rows = db.execute("SELECT count(*) FROM events").fetchone()[0]
    traces = [r[0] for r in db.execute(
        f"SELECT DISTINCT trace_id FROM (SELECT trace_id FROM events WHERE status IN {FAILED} LIMIT 5000) "
        "ORDER BY trace_id LIMIT 20").fetchall()]
    if not traces:
        raise SystemExit("no failed trace in the data")
    lookups = [LOOKUP.format(t) for t in traces]

    duck = lambda sql: db.execute(sql).fetchall()
    way = Waylog(a.url)
    wq = lambda sql: way.query(sql)["rows"]
    out = {"rows": rows, "files": len(files)}
    for name, sqls in (("rollup", [ROLLUP]), ("trace_lookup", lookups)):
        d, dres = timed(duck, sqls, a.warmup, a.iterations)
        w, wres = timed(wq, sqls, a.warmup, a.iterations)
        out[name] = {
            "duckdb": d,
            "waylog": w,
            "ratio_p50": round(w["p50_ms"] / d["p50_ms"], 2),
            "same_row_count": len(dres) == len(wres),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
