#!/usr/bin/env bash
# Demo acceptance (spec triage §8.4), against a running `waylog demo`: the gateway answers, a
# traffic burst goes through it with its two signals, the PMT_502 family appears in
# `waylog errors`, the read verbs answer on it (recent, blast, explain, search, event) and the
# engine opens the active dependency incident, whose snapshot names payment.charge. Prints
# `PASS: <check>` per check and `Demo acceptance passed.`; the first failure prints
# `FAIL: <check>` and exits 1.
#
# usage: scripts/demo-acceptance.sh [-h]
#   Start the demo first (`cargo run --release -- demo`, or `waylog demo`).
#   env: WAYLOG_BIN, WAYLOG_URL (default http://127.0.0.1:8080), DEMO_GATEWAY_URL (default
#        http://127.0.0.1:9081), WAYLOG_READ_KEY, REQUESTS (default 20), CONCURRENCY (default 5)
#        (details in scripts/demo-lib.sh)
set -euo pipefail

if [[ $# -gt 0 ]]; then
  case "$1" in
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [-h]" >&2; exit 1 ;;
  esac
fi

# shellcheck source=scripts/demo-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/demo-lib.sh"
WAYLOG_URL="${WAYLOG_URL:-http://127.0.0.1:8080}"
DEMO_GATEWAY_URL="${DEMO_GATEWAY_URL:-http://127.0.0.1:9081}"
REQUESTS="${REQUESTS:-20}"
CONCURRENCY="${CONCURRENCY:-5}"
resolve_bin

TMP="$(mktemp -d "${TMPDIR:-/tmp}/waylog-acceptance.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

if [[ "$(http_code "$DEMO_GATEWAY_URL/demo")" != 200 || "$(http_code "$DEMO_GATEWAY_URL/healthz")" != 200 ]]; then
  fail "gateway GET /demo and /healthz at $DEMO_GATEWAY_URL (start the demo with: waylog demo)"
fi
pass "gateway GET /demo and /healthz answer 200"

cli capabilities >"$TMP/capabilities.txt" || fail "waylog capabilities"
pass "waylog capabilities"

status="$(burst "$REQUESTS" "$CONCURRENCY" "$TMP/burst.json")"
[[ "$status" == 200 ]] || fail "traffic burst (HTTP $status)"
pass "traffic burst captured ($REQUESTS requests / $CONCURRENCY concurrency)"
accepted="$(jq -r '[.signals[] | select(.accepted) | "\(.type):\(.service):\(.reason)"] | join(", ")' "$TMP/burst.json")"
for signal in deploy:checkout:demo_checkout_rollout dependency:payment:payment_gateway_5xx; do
  [[ ", $accepted, " == *", $signal, "* ]] || fail "burst signal $signal accepted (accepted: ${accepted:-none})"
done
pass "burst signals accepted: $accepted"

wait_for_pmt_row 12 || fail "waylog errors lists $PMT_FAMILY with affected_traces > 0"
pass "waylog errors lists $PMT_FAMILY (affected_traces $(jq -r .affected_traces <<<"$PMT_ROW"))"

cli recent >"$TMP/recent.txt" || fail "waylog recent"
pass "waylog recent"

cli blast "$PMT_FAMILY" --window 15m >"$TMP/blast.txt" || fail "waylog blast $PMT_FAMILY --window 15m"
pass "waylog blast $PMT_FAMILY --window 15m"

trace_id="$(jq -r '.sample_traces[0] // empty' <<<"$PMT_ROW")"
[[ -n "$trace_id" ]] || fail "sample trace of $PMT_FAMILY"
cli explain "$trace_id" >"$TMP/explain.txt" || fail "waylog explain $trace_id"
pass "waylog explain $trace_id"

search="$(cli --json search PMT_502)" || fail "waylog search PMT_502"
event_id="$(jq -r '.events[0].event_id // empty' <<<"$search")"
[[ -n "$event_id" ]] || fail "waylog search PMT_502 finds an event"
pass "waylog search PMT_502"
cli event "$event_id" >"$TMP/event.txt" || fail "waylog event $event_id"
pass "waylog event $event_id"

incident_id=""
for _ in $(seq 1 20); do
  incidents="$(waylog_get /v1/incidents/active)" || fail "GET /v1/incidents/active"
  incident_id="$(jq -r "[.incidents[] | select($PMT_SELECT and .cause == \"dependency\" and (.confidence == \"high\" or .confidence == \"medium\") and .status == \"active\")][0].incident_id // empty" <<<"$incidents")"
  [[ -n "$incident_id" ]] && break
  sleep 1
done
[[ -n "$incident_id" ]] || fail "active $PMT_FAMILY incident with cause dependency in /v1/incidents/active"
pass "active incident $incident_id (cause dependency) in /v1/incidents/active"

snapshot="$(cli incident "$incident_id")" || fail "waylog incident $incident_id"
[[ "$snapshot" == *payment.charge* ]] || fail "waylog incident $incident_id mentions payment.charge"
pass "waylog incident $incident_id"

echo "Demo acceptance passed."
