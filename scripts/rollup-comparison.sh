#!/usr/bin/env bash
# Rollup comparison (spec triage §8.4): start a fresh waylog server on a free port with a
# temporary data dir, send a `waylog demo` burst to it, then print the root-cause count of
# PMT_502 next to the naive propagated count (root × affected services) and the number of
# services touched. Fails unless root > 0, services > 1 and naive > root.
#
# usage: scripts/rollup-comparison.sh [-h]
#   env: REQUESTS (default 50), SEED (default 42), WINDOW (default 15m),
#        WAYLOG_BIN (default: cargo build, then ${CARGO_TARGET_DIR:-$HOME/.cache/waylog-target}/debug/waylog)
set -euo pipefail

usage() { echo "usage: $0 [-h]  (env: REQUESTS, SEED, WINDOW, WAYLOG_BIN)"; }
if [[ $# -gt 0 ]]; then
  case "$1" in
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 1 ;;
  esac
fi

REQUESTS="${REQUESTS:-50}"
SEED="${SEED:-42}"
WINDOW="${WINDOW:-15m}"
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ -n "${WAYLOG_BIN:-}" ]]; then
  BIN="$WAYLOG_BIN"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/waylog-target}"
  (cd "$ROOT_DIR" && cargo build --quiet --bin waylog)
  BIN="$CARGO_TARGET_DIR/debug/waylog"
fi
[[ -x "$BIN" ]] || { echo "FAIL: waylog binary not found at $BIN" >&2; exit 1; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/waylog-rollup.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# A fresh server with open scopes on a free port.
env -u WAYLOG_WRITE_KEY -u WAYLOG_READ_KEY -u WAYLOG_PROFILE \
  "$BIN" serve --addr 127.0.0.1:0 --otlp-grpc-addr 127.0.0.1:0 --data-dir "$TMP/data" >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!

URL=""
for _ in $(seq 1 200); do
  if grep -q '^waylog ready' "$TMP/server.out" 2>/dev/null; then
    URL="$(sed -n 's/^waylog listening on //p' "$TMP/server.out" | head -n1)"
    break
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "FAIL: server exited early" >&2
    cat "$TMP/server.err" >&2 || true
    exit 1
  fi
  sleep 0.1
done
[[ -n "$URL" ]] || { echo "FAIL: server did not become ready" >&2; exit 1; }

# The burst (the demo prints its own report; keep it for debugging).
if ! "$BIN" --addr "$URL" demo --requests "$REQUESTS" --seed "$SEED" --window "$WINDOW" >"$TMP/demo.out" 2>&1; then
  echo "FAIL: waylog demo burst" >&2
  cat "$TMP/demo.out" >&2
  exit 1
fi

get() { curl -fsS --max-time 30 "$URL$1"; }

# Wait for the PMT_502 row, then read the rollup and the blast radius.
ROOT=""
for _ in $(seq 1 15); do
  ROOT="$(get "/v1/rollups/root_cause?window=$WINDOW&limit=50" |
    jq -r '[.rows[] | select(.error_code == "PMT_502") | .root_cause_count][0] // empty')"
  [[ -n "$ROOT" ]] && break
  sleep 1
done
BLAST="$(get "/v1/blast_radius?error_family=checkout%3Apayment.charge%3APMT_502&window=$WINDOW")"
TRACES="$(jq -r '.affected_requests' <<<"$BLAST")"
SERVICES="$(jq -r '.affected_services' <<<"$BLAST")"

is_num() { [[ "$1" =~ ^[0-9]+$ ]]; }
if ! is_num "${ROOT:-x}" || ! is_num "$TRACES" || ! is_num "$SERVICES"; then
  echo "FAIL: non-numeric counts (root=${ROOT:-none} traces=$TRACES services=$SERVICES)" >&2
  exit 1
fi
NAIVE=$((ROOT * SERVICES))

echo "Rollup comparison"
echo "  workload: $REQUESTS demo requests, concurrency 1"
echo "  root-cause counted PMT_502: $ROOT"
echo "  affected traces: $TRACES"
echo "  affected services: $SERVICES"
echo "  naive propagated count: $ROOT * $SERVICES = $NAIVE"

if ((ROOT <= 0)); then echo "FAIL: root-cause count is $ROOT, want > 0" >&2; exit 1; fi
if ((SERVICES <= 1)); then echo "FAIL: affected services is $SERVICES, want > 1" >&2; exit 1; fi
if ((NAIVE <= ROOT)); then echo "FAIL: naive count $NAIVE is not above root $ROOT" >&2; exit 1; fi
echo "PASS: waylog counts the root cause once per failed request instead of once per propagated service hop."
