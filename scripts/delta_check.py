#!/usr/bin/env python3
"""Read one of waylog's cold Delta tables with the `deltalake` package and summarize it as JSON.

Usage: scripts/delta_check.py <table_uri> [<app_id>] [<storage_options_json>]

<table_uri> is a directory (`<cold>/events`) or `s3://bucket/prefix/events`. Prints:
  {"version": V, "files": F, "rows": N, "by_service": {...}, "event_ids": [...sorted],
   "txn": <transaction_version(app_id) or null>, "pyarrow_rows": N or null}
"rows", "by_service" and "event_ids" come from deltalake's own scan; "pyarrow_rows" reads the
file list deltalake reports with pyarrow (local tables only). Exits 1 when the two disagree,
2 when deltalake is missing.
"""

import json
import sys


def main(argv):
    if len(argv) < 2:
        print("usage: delta_check.py <table_uri> [<app_id>] [<storage_options_json>]", file=sys.stderr)
        sys.exit(2)
    uri = argv[1]
    app_id = argv[2] if len(argv) > 2 and argv[2] else None
    options = json.loads(argv[3]) if len(argv) > 3 else None
    try:
        from deltalake import DeltaTable
    except ImportError as e:
        print(f"delta_check: deltalake is not importable: {e}", file=sys.stderr)
        sys.exit(2)
    dt = DeltaTable(uri, storage_options=options)
    table = dt.to_pyarrow_table(columns=["event_id", "service", "ts_start"])
    by_service = {}
    for service in table.column("service").to_pylist():
        by_service[service] = by_service.get(service, 0) + 1
    files = dt.file_uris()
    pyarrow_rows = None
    if "://" not in uri:
        import pyarrow.parquet as pq

        pyarrow_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        if pyarrow_rows != table.num_rows:
            print(f"delta_check: deltalake read {table.num_rows} rows, its files hold {pyarrow_rows}", file=sys.stderr)
            sys.exit(1)
    out = {
        "version": dt.version(),
        "files": len(files),
        "rows": table.num_rows,
        "by_service": dict(sorted(by_service.items())),
        "event_ids": sorted(table.column("event_id").to_pylist()),
        "txn": dt.transaction_version(app_id) if app_id else None,
        "pyarrow_rows": pyarrow_rows,
    }
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv)
