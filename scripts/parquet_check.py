#!/usr/bin/env python3
"""Read waylog's cold Parquet files with external readers and summarize them as JSON.

Usage: scripts/parquet_check.py <cold_dir>

Reads every <cold_dir>/events/**/*.parquet data file (not the Delta log's checkpoints) with pyarrow (and with duckdb when it is
importable, cross-checking the two) and prints one JSON object:
  {"rows": N, "by_service": {"<service>": n, ...}, "schema_version": "1",
   "files": F, "readers": ["pyarrow", "duckdb"]}
"schema_version" is the key-value metadata `waylog.schema_version` shared by every file (null
when there are no files). Exits 1 when the files disagree on the schema version, miss it, or
when the readers disagree; exits 2 when pyarrow is missing or the directory does not exist.
"""

import glob
import json
import os
import sys


def fail(code, msg):
    print(f"parquet_check: {msg}", file=sys.stderr)
    sys.exit(code)


def main(argv):
    if len(argv) != 2:
        fail(2, "usage: parquet_check.py <cold_dir>")
    cold = argv[1]
    if not os.path.isdir(cold):
        fail(2, f"{cold}: not a directory")
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        fail(2, f"pyarrow is not importable: {e}")

    # The data files; the Delta log's checkpoints (events/_delta_log/*.parquet) are not rows.
    files = sorted(
        f
        for f in glob.glob(os.path.join(cold, "events", "**", "*.parquet"), recursive=True)
        if "_delta_log" not in f
    )
    rows = 0
    by_service = {}
    versions = set()
    for path in files:
        pf = pq.ParquetFile(path)
        meta = pf.metadata.metadata or {}
        version = meta.get(b"waylog.schema_version")
        if version is None:
            fail(1, f"{path}: no waylog.schema_version metadata")
        versions.add(version.decode())
        table = pf.read(columns=["event_id", "service", "ts_start"])
        if table.num_rows != pf.metadata.num_rows:
            fail(1, f"{path}: read {table.num_rows} rows, footer says {pf.metadata.num_rows}")
        rows += table.num_rows
        for service in table.column("service").to_pylist():
            by_service[service] = by_service.get(service, 0) + 1
    if len(versions) > 1:
        fail(1, f"files disagree on waylog.schema_version: {sorted(versions)}")

    readers = ["pyarrow"]
    try:
        import duckdb
    except ImportError:
        duckdb = None
    if duckdb is not None and files:
        con = duckdb.connect()
        got = con.execute(
            "SELECT service, count(*) FROM read_parquet(?, hive_partitioning = false) GROUP BY service",
            [files],
        ).fetchall()
        duck = {service: n for service, n in got}
        if duck != by_service:
            fail(1, f"duckdb and pyarrow disagree: duckdb={duck} pyarrow={by_service}")
        readers.append("duckdb")

    out = {
        "rows": rows,
        "by_service": dict(sorted(by_service.items())),
        "schema_version": versions.pop() if versions else None,
        "files": len(files),
        "readers": readers,
    }
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv)
