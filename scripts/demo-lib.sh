# Shared by the demo scripts (scripts/demo-acceptance.sh, scripts/rollup-comparison.sh):
# settings, PASS/FAIL lines, the waylog CLI, the gateway burst, the PMT_502 row poll, and a
# `waylog demo` started by the script itself. Source it; it defines functions and variables
# only (needs bash, curl and jq).
#
# env:
#   WAYLOG_BIN        the waylog binary (default: $CARGO_TARGET_DIR/release/waylog, else
#                     ./target/release/waylog, else `waylog` on PATH)
#   WAYLOG_URL        the waylog server of the demo (default http://127.0.0.1:8080)
#   DEMO_GATEWAY_URL  the demo's api-gateway (default http://127.0.0.1:9081)
#   WAYLOG_READ_KEY   read key, when the server has one (the CLI reads it; curl sends it)
#   WAYLOG_CLI_TIMEOUT per-request timeout of the CLI (default 10s)

DEMO_ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PMT_FAMILY="checkout:payment.charge:PMT_502"
# jq filter: the error-family object is the PMT_502 family of the demo.
PMT_SELECT='.error_family.service == "checkout" and .error_family.step == "payment.charge" and .error_family.error_code == "PMT_502"'

fail() {
  echo "FAIL: $*"
  exit 1
}

pass() {
  echo "PASS: $*"
}

# resolve_bin: sets BIN from WAYLOG_BIN or the defaults above.
resolve_bin() {
  local target="${CARGO_TARGET_DIR:-$DEMO_ROOT_DIR/target}"
  if [[ -n "${WAYLOG_BIN:-}" ]]; then
    BIN="$WAYLOG_BIN"
  elif [[ -x "$target/release/waylog" ]]; then
    BIN="$target/release/waylog"
  elif [[ -x "$DEMO_ROOT_DIR/target/release/waylog" ]]; then
    BIN="$DEMO_ROOT_DIR/target/release/waylog"
  elif command -v waylog >/dev/null 2>&1; then
    BIN="$(command -v waylog)"
  else
    fail "waylog binary (build it with 'cargo build --release' or set WAYLOG_BIN)"
  fi
  [[ -x "$BIN" ]] || fail "waylog binary is not executable: $BIN"
}

# cli ARGS...: the waylog CLI against WAYLOG_URL.
cli() {
  "$BIN" --addr "$WAYLOG_URL" --timeout "${WAYLOG_CLI_TIMEOUT:-10s}" "$@"
}

# http_code URL: the status of GET URL (000 when unreachable).
http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$1" || echo 000
}

# waylog_get PATH: GET a waylog read route (with the read key when set).
waylog_get() {
  local auth=()
  [[ -n "${WAYLOG_READ_KEY:-}" ]] && auth=(-H "Authorization: Bearer $WAYLOG_READ_KEY")
  curl -fsS --max-time 30 "${auth[@]}" "$WAYLOG_URL$1"
}

# burst REQUESTS CONCURRENCY OUT: POST /demo/burst to the gateway, the body to OUT; prints
# the HTTP status (000 when unreachable).
burst() {
  curl -s -o "$3" -w '%{http_code}' --max-time 300 -X POST "$DEMO_GATEWAY_URL/demo/burst" \
    -H 'Content-Type: application/json' \
    --data "{\"requests\":$1,\"concurrency\":$2}" || echo 000
}

# wait_for_pmt_row POLLS: poll `waylog --json errors --window 15m --limit 10` (1 s apart)
# until it holds the PMT_502 row with affected_traces > 0; the row is left in PMT_ROW.
wait_for_pmt_row() {
  local errors
  PMT_ROW=""
  for _ in $(seq 1 "$1"); do
    errors="$(cli --json errors --window 15m --limit 10)" || return 1
    PMT_ROW="$(jq -c "[.rows[] | select($PMT_SELECT and .affected_traces > 0)][0] // empty" <<<"$errors")"
    [[ -n "$PMT_ROW" ]] && return 0
    sleep 1
  done
  return 1
}

# start_own_demo DIR: run `waylog demo` on free ports with data in DIR (no startup burst),
# wait for its listeners and point WAYLOG_URL / DEMO_GATEWAY_URL at it. The caller's EXIT trap
# must call stop_own_demo.
start_own_demo() {
  local dir="$1"
  env -u WAYLOG_WRITE_KEY -u WAYLOG_READ_KEY -u WAYLOG_PROFILE -u WAYLOG_ADDR -u WAYLOG_DATA_DIR \
    "$BIN" demo --listen 127.0.0.1:0 --gateway-port 0 --checkout-port 0 --payment-port 0 \
    --db-port 0 --requests 0 --tick 1s --data-dir "$dir/data" >"$dir/demo.out" 2>"$dir/demo.err" &
  DEMO_PID=$!
  for _ in $(seq 1 600); do
    if grep -q '^listening: db ' "$dir/demo.out" 2>/dev/null; then
      WAYLOG_URL="$(sed -n 's/^waylog listening on //p' "$dir/demo.out" | head -n1)"
      DEMO_GATEWAY_URL="$(sed -n 's/^listening: api-gateway //p' "$dir/demo.out" | head -n1)"
      return 0
    fi
    if ! kill -0 "$DEMO_PID" 2>/dev/null; then
      cat "$dir/demo.err" >&2
      fail "waylog demo exited while starting"
    fi
    sleep 0.1
  done
  fail "waylog demo did not start within 60 s"
}

# stop_own_demo: SIGTERM the demo started by start_own_demo and wait for it.
stop_own_demo() {
  if [[ -n "${DEMO_PID:-}" ]] && kill -0 "$DEMO_PID" 2>/dev/null; then
    kill -TERM "$DEMO_PID" 2>/dev/null || true
    wait "$DEMO_PID" 2>/dev/null || true
  fi
}
