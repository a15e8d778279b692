#!/usr/bin/env bash
# Rollup comparison (spec triage §8.4), against `waylog demo`: send a traffic burst through the
# demo's gateway, wait for the checkout:payment.charge:PMT_502 row of `waylog errors`, read its
# blast radius, and print the root-cause count next to the naive propagated count
# (root × affected services). Fails unless the counts are numeric, root > 0, services > 1 and
# naive > root.
#
# usage: scripts/rollup-comparison.sh [-h]
#   With WAYLOG_URL set it uses that running demo (and DEMO_GATEWAY_URL, default
#   http://127.0.0.1:9081); with WAYLOG_URL unset it starts its own `waylog demo` on free
#   ports with a temporary data dir and stops it afterwards.
#   env: WAYLOG_BIN, WAYLOG_URL, DEMO_GATEWAY_URL, WAYLOG_READ_KEY, REQUESTS (default 20),
#        CONCURRENCY (default 5) (details in scripts/demo-lib.sh)
set -euo pipefail

if [[ $# -gt 0 ]]; then
  case "$1" in
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [-h]" >&2; exit 1 ;;
  esac
fi

# shellcheck source=scripts/demo-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/demo-lib.sh"
REQUESTS="${REQUESTS:-20}"
CONCURRENCY="${CONCURRENCY:-5}"
resolve_bin

TMP="$(mktemp -d "${TMPDIR:-/tmp}/waylog-rollup.XXXXXX")"
trap 'stop_own_demo; rm -rf "$TMP"' EXIT
if [[ -z "${WAYLOG_URL:-}" ]]; then
  start_own_demo "$TMP"
fi
DEMO_GATEWAY_URL="${DEMO_GATEWAY_URL:-http://127.0.0.1:9081}"

status="$(burst "$REQUESTS" "$CONCURRENCY" "$TMP/burst.json")"
[[ "$status" == 200 ]] || fail "traffic burst through $DEMO_GATEWAY_URL (HTTP $status)"

wait_for_pmt_row 15 || fail "waylog errors lists $PMT_FAMILY with affected_traces > 0"
blast="$(cli --json blast "$PMT_FAMILY" --window 15m)" || fail "waylog blast $PMT_FAMILY"

root="$(jq -r '.count' <<<"$PMT_ROW")"
traces="$(jq -r '.affected_traces' <<<"$PMT_ROW")"
services="$(jq -r '.affected_services' <<<"$blast")"
is_num() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_num "$root" && is_num "$traces" && is_num "$services" ||
  fail "numeric counts (root=$root traces=$traces services=$services)"
naive=$((root * services))

echo "Rollup comparison"
echo "  workload: $REQUESTS demo requests, concurrency $CONCURRENCY"
echo "  root-cause counted PMT_502: $root"
echo "  affected traces: $traces"
echo "  affected services: $services"
echo "  naive propagated count: $root * $services = $naive"

((root > 0)) || fail "root-cause count $root > 0"
((services > 1)) || fail "affected services $services > 1"
((naive > root)) || fail "naive count $naive > root $root"
echo "PASS: waylog counts the root cause once per failed request instead of once per propagated service hop."
