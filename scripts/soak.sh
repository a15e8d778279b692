#!/usr/bin/env bash
# usage: scripts/soak.sh [cycles (default 20)] [seconds per cycle (default 15)]
# Soak test (issue 14), loopback only and bounded: steady ingest with concurrent reads and
# /v1/query, a kill -9 at the end of every cycle, SIGSTOP stalls on every third cycle, and the
# abuse cases (300 stalled connections, 8 parallel gzip'd array bombs, one OTLP request of
# 4 million empty spans) in the middle cycle. After every restart the stored event ids must
# equal the acknowledged ones exactly once. Prints per-cycle checks and a JSON report (acked
# vs stored, peak RSS, fds, WAL segments, orphan Parquet files, ack p50/p99); exits 1 on any
# lost or duplicated event. Uses the debug binary of $CARGO_TARGET_DIR unless WAYLOG_BIN is set.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-20}
seconds=${2:-15}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/waylog-target}
bin=${WAYLOG_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet --bin waylog
  bin=$CARGO_TARGET_DIR/debug/waylog
fi
exec python3 scripts/soak.py --bin "$bin" --cycles "$cycles" --cycle-seconds "$seconds"
