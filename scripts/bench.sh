#!/usr/bin/env bash
# usage: scripts/bench.sh [ingest|stages|ceilings|otlp|query|reads|tick|triage|metrics|ui|vs-duckdb|delta|all]
#   (env: ROWS=10000000 DURATION=20s CLIENTS=4 BATCH=500 RATE=100000 OPEN_CLIENTS=8 LABELS=1000 CEILING_SECS=10s;
#    reads: ONLY=<name part>; delta: FLUSHES=50 FLUSH_ROWS=2000 FILES=10000 FILES_PER_COMMIT=10 DELTA_S3=1)
# `ui` (not part of `all`) needs chromium and Playwright: run scripts/setup-test-deps.sh first.
# Whole-system benchmarks against the real release binary. Prints one JSON line per figure;
# results go to docs/perf.md with machine, commit and command.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/waylog-release}
# WAYLOG_BIN: a release binary built before (e.g. a copy, while others share the target dir).
if [ -n "${WAYLOG_BIN:-}" ]; then
  BIN=$WAYLOG_BIN
else
  cargo build --release --quiet
  BIN="$CARGO_TARGET_DIR/release/waylog"
fi
ROWS=${ROWS:-10000000}
DURATION=${DURATION:-20s}
CLIENTS=${CLIENTS:-4}
BATCH=${BATCH:-500}
work=$(mktemp -d /tmp/waylog-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# start_server DIR [extra args...]: starts waylog, sets $url and $pid, waits for ready.
start_server() {
  local dir=$1; shift
  local out="$work/server.$RANDOM.out"
  errfile="$out.err"
  "$BIN" serve --addr 127.0.0.1:0 --otlp-grpc-addr 127.0.0.1:0 --data-dir "$dir" "$@" >"$out" 2>"$errfile" &
  pid=$!; pids+=("$pid")
  for _ in $(seq 1 600); do
    if grep -q '^waylog ready' "$out" 2>/dev/null; then break; fi
    sleep 0.05
  done
  url=$(sed -n 's/^waylog listening on \(http:[^ ]*\)$/\1/p' "$out")
  grpc_addr=$(sed -n 's/^waylog otlp grpc listening on \([^ ]*\)$/\1/p' "$out")
  ready_line=$(grep '^waylog ready' "$out" || true)
  [ -n "$url" ] && [ -n "$ready_line" ] || { echo "server did not start" >&2; cat "$out.err" >&2; exit 1; }
}

# server_cpu: CPU seconds the server ($pid) used so far, per thread name (request workers
# `tokio-rt-worker`, `waylog-writer`, `waylog-background`), from /proc (Linux).
server_cpu() {
  python3 - "$pid" <<'PY'
import collections, json, os, sys
pid, hz, cpu = sys.argv[1], os.sysconf("SC_CLK_TCK"), collections.Counter()
for t in os.listdir(f"/proc/{pid}/task"):
    stat = open(f"/proc/{pid}/task/{t}/stat").read()
    fields = stat[stat.rindex(")") + 2:].split()
    cpu[stat[stat.index("(") + 1:stat.rindex(")")]] += (int(fields[11]) + int(fields[12])) / hz
print(json.dumps({"server_cpu_s": {k: round(v, 1) for k, v in cpu.items() if v > 0}}))
PY
}

if [ "$what" = ingest ] || [ "$what" = all ]; then
  echo "# startup: empty data dir to ready"
  for i in 1 2 3; do
    start_server "$work/empty$i"
    echo "{\"startup\": \"$ready_line\"}"
    kill -TERM "$pid"; wait "$pid" || true
  done

  echo "# ingest: $CLIENTS clients, pre-encoded NDJSON batches of $BATCH ~1KiB events, fsync before ack"
  start_server "$work/ingest" --hot-max-bytes 16GiB --hot-window 1h
  max=$("$BIN" loadgen --addr "$url" --clients "$CLIENTS" --batch "$BATCH" --duration "$DURATION")
  echo "{\"max_throughput\": $max}"
  server_cpu
  # Open loop (latency from each request's scheduled time): the issue's offered rate, then
  # half the measured maximum.
  RATE=${RATE:-100000}
  OPEN_CLIENTS=${OPEN_CLIENTS:-8}
  fixed=$("$BIN" loadgen --addr "$url" --clients "$OPEN_CLIENTS" --batch "$BATCH" --duration "$DURATION" --rate "$RATE")
  echo "{\"open_loop_latency\": $fixed}"
  rate=$(python3 -c "import json,sys; print(int(json.loads(sys.argv[1])['events_per_sec']/2))" "$max")
  half=$("$BIN" loadgen --addr "$url" --clients "$OPEN_CLIENTS" --batch "$BATCH" --duration "$DURATION" --rate "$rate")
  echo "{\"half_rate_latency\": $half}"

  echo "# WAL replay: kill -9, restart on the same directory"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  start_server "$work/ingest" --hot-max-bytes 16GiB --hot-window 1h
  recovered=$(grep -h 'recovered' "$errfile" | tail -n 1 | sed 's/\x1b\[[0-9;]*m//g')
  echo "{\"replay\": \"$recovered\"}"
  kill -TERM "$pid"; wait "$pid" || true
fi

if [ "$what" = stages ] || [ "$what" = ingest ] || [ "$what" = all ]; then
  echo "# ingest stages: one request of $BATCH events, each CPU stage alone on one core, and the WAL group commit"
  "$BIN" bench-ingest-stages --batch "$BATCH" --iterations 200 --data-dir "$work"
fi

if [ "$what" = ceilings ] || [ "$what" = ingest ] || [ "$what" = all ]; then
  # The physical ceilings of durable ingest on this box, each alone (no HTTP, no load
  # generator): WAL group commit + fdatasync of the requests' records from $CLIENTS closed-loop
  # appenders (no parsing), and the decoder on the pre-encoded bodies on 1 and 2 threads.
  CEILING_SECS=${CEILING_SECS:-10s}
  echo "# ingest ceilings: fsync-only ($CLIENTS appenders) and parse-only (1 and 2 threads), $CEILING_SECS each"
  "$BIN" bench-ingest-ceilings --batch "$BATCH" --clients "$CLIENTS" --threads 2 --duration "$CEILING_SECS" --data-dir "$work"
fi

if [ "$what" = otlp ] || [ "$what" = all ]; then
  OTLP_BATCH=${OTLP_BATCH:-512}
  for transport in http grpc; do
    echo "# otlp $transport: $CLIENTS exporters, $OTLP_BATCH spans per export, fsync before ack"
    start_server "$work/otlp-$transport" --hot-max-bytes 16GiB --hot-window 1h
    "$BIN" loadgen-otlp --addr "$url" --grpc-addr "$grpc_addr" --transport "$transport" \
      --clients "$CLIENTS" --batch "$OTLP_BATCH" --duration "$DURATION"
    kill -TERM "$pid"; wait "$pid" || true
  done
fi

if [ "$what" = query ] || [ "$what" = all ]; then
  echo "# query: $ROWS events, hot then cold"
  "$BIN" bench-query --rows "$ROWS" --data-dir "$work/query"
fi

if [ "$what" = reads ] || [ "$what" = all ]; then
  echo "# read endpoints: $ROWS events, half cold, half hot"
  "$BIN" bench-reads --rows "$ROWS" --iterations 10 --data-dir "$work/reads" ${ONLY:+--only "$ONLY"}
fi

if [ "$what" = tick ] || [ "$what" = triage ] || [ "$what" = all ]; then
  echo "# incident engine tick: $ROWS events over the four detection windows, half cold, half hot"
  # 100 ticks per state: p99 is then the 99th tick, and `first_tick` / `max_ms` report the
  # first one after the load separately. `triage` is the same run: after the spiking ticks it
  # times GET /v1/triage/{id} (live, snapshot) and its Markdown rendering for the incident the
  # ticks opened (spec triage §6; target p99 <= 150 ms).
  "$BIN" bench-tick --rows "$ROWS" --iterations 100 --data-dir "$work/tick"
fi

if [ "$what" = metrics ] || [ "$what" = all ]; then
  LABELS=${LABELS:-1000}
  echo "# /metrics scrape cost: $ROWS events (half cold, half hot), $LABELS extra label values, 200 scrapes per format"
  "$BIN" bench-metrics --rows "$ROWS" --iterations 200 --labels "$LABELS" --data-dir "$work/metrics"
fi

if [ "$what" = vs-duckdb ]; then
  # Ad-hoc SQL side by side on the same files (issue: speed against DuckDB): per size, the
  # benchmark traffic loaded and flushed by `bench-query`, then `waylog serve` on that data dir
  # and scripts/vs_duckdb.py (DuckDB in-process, 2 threads, warm) against POST /v1/query.
  python=${WAYLOG_TEST_PYTHON:-${WAYLOG_VENV:-$HOME/.cache/waylog-venv}/bin/python}
  "$python" -c 'import duckdb' 2>/dev/null || { echo "duckdb is missing: run scripts/setup-test-deps.sh" >&2; exit 1; }
  for n in ${VS_ROWS:-3000000 10000000}; do
    echo "# vs-duckdb: $n events of the benchmark traffic, flushed to Parquet"
    "$BIN" bench-query --rows "$n" --iterations 1 --data-dir "$work/vs$n" >/dev/null
    start_server "$work/vs$n" --hot-max-bytes 16GiB --hot-window 1h
    sleep "${VS_SETTLE:-5}" # the background warmers (footers, trace indexes) of a fresh server
    "$python" scripts/vs_duckdb.py --url "$url" --data-dir "$work/vs$n" --iterations "${VS_ITERATIONS:-30}"
    kill -TERM "$pid"; wait "$pid" || true
    rm -rf "$work/vs$n"
  done
fi

if [ "$what" = delta ] || [ "$what" = all ]; then
  # Issue 17: flush phases (encode, Parquet PUT, Delta commit alone, whole flush) per flush,
  # and the snapshot load of a synthesized 10k-file table before and after compaction; on
  # local disk (fsync), then on moto's S3 server on loopback (tests/peers/s3_server.py).
  delta_args=(--flushes "${FLUSHES:-50}" --rows-per-flush "${FLUSH_ROWS:-2000}"
              --files "${FILES:-10000}" --files-per-commit "${FILES_PER_COMMIT:-10}")
  echo "# delta: local disk"
  "$BIN" bench-delta --data-dir "$work/delta-local" "${delta_args[@]}"
  rm -rf "$work/delta-local"
  python=${WAYLOG_TEST_PYTHON:-${WAYLOG_VENV:-$HOME/.cache/waylog-venv}/bin/python}
  if [ "${DELTA_S3:-1}" = 1 ] && "$python" -c 'import moto.server, boto3' 2>/dev/null; then
    echo "# delta: moto S3 on loopback"
    mkfifo "$work/s3.in"
    "$python" tests/peers/s3_server.py waylog-bench <"$work/s3.in" >"$work/s3.out" 2>/dev/null &
    pids+=("$!")
    exec 7>"$work/s3.in" # holds the peer's stdin open until the script exits
    for _ in $(seq 1 1200); do grep -q "^s3 listening" "$work/s3.out" 2>/dev/null && break; sleep 0.1; done # moto starts slowly on a busy box
    endpoint=$(sed -n 's/^s3 listening on //p' "$work/s3.out")
    [ -n "$endpoint" ] || { echo "s3 peer did not start" >&2; exit 1; }
    "$BIN" bench-delta --data-dir "$work/delta-s3" --cold-store s3://waylog-bench/bench \
      --s3-endpoint "$endpoint" --s3-allow-http true --s3-region us-east-1 \
      --s3-access-key-id test --s3-secret-access-key test "${delta_args[@]}"
  else
    echo "# delta: S3 skipped (DELTA_S3=0 or moto missing: run scripts/setup-test-deps.sh)"
  fi
fi

if [ "$what" = ui ]; then
  echo "# ui: first paint of /ui/incidents in headless chromium, $ROWS events stored (half cold, half hot)"
  python=${WAYLOG_TEST_PYTHON:-${WAYLOG_VENV:-$HOME/.cache/waylog-venv}/bin/python}
  chromium=${WAYLOG_TEST_CHROMIUM:-$(command -v chromium || true)}
  [ -n "$chromium" ] || { echo "chromium is missing: run scripts/setup-test-deps.sh" >&2; exit 1; }
  "$BIN" bench-reads --rows "$ROWS" --iterations 1 --data-dir "$work/ui" >/dev/null
  start_server "$work/ui" --hot-max-bytes 16GiB --hot-window 1h
  "$python" scripts/ui_first_paint.py --url "$url" --chromium "$chromium" --runs 5
  kill -TERM "$pid"; wait "$pid" || true
fi
