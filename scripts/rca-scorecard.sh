#!/usr/bin/env bash
# RCA scorecard (spec triage §8.4), against `waylog demo`: post a native alert for the PMT_502
# spike, send a traffic burst through the demo's gateway, wait for the
# checkout:payment.charge:PMT_502 row and its incident, build the snapshot TriageReport twice
# (`waylog --json triage <id> --snapshot`) and read the blast radius. Writes scorecard.json and
# prints an `RCA scorecard` block. Exits 1 when the two report hashes differ or a hard check
# fails (root-cause count > 0, affected services > 1, the alert accepted, the burst served).
#
# usage: scripts/rca-scorecard.sh [-h]
#   With WAYLOG_URL set it uses that running demo (and DEMO_GATEWAY_URL); with WAYLOG_URL unset
#   it starts its own `waylog demo` on free ports with a temporary data dir.
#   env: WAYLOG_BIN, WAYLOG_URL, DEMO_GATEWAY_URL, WAYLOG_READ_KEY, WAYLOG_WRITE_KEY (default demo),
#        REQUESTS (default 20), CONCURRENCY (default 5), WAYLOG_SCENARIO (default cold-demo),
#        ARTIFACTS_DIR (default ./data/demo-state/proof; scorecard.json is written there)
set -euo pipefail

if [[ $# -gt 0 ]]; then
  case "$1" in
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [-h]" >&2; exit 1 ;;
  esac
fi

# shellcheck source=scripts/demo-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/demo-lib.sh"
REQUESTS="${REQUESTS:-20}"
CONCURRENCY="${CONCURRENCY:-5}"
SCENARIO="${WAYLOG_SCENARIO:-cold-demo}"
ARTIFACTS_DIR="${ARTIFACTS_DIR:-./data/demo-state/proof}"
resolve_bin

TMP="$(mktemp -d "${TMPDIR:-/tmp}/waylog-scorecard.XXXXXX")"
trap 'stop_own_demo; rm -rf "$TMP"' EXIT
if [[ -z "${WAYLOG_URL:-}" ]]; then
  start_own_demo "$TMP"
fi
DEMO_GATEWAY_URL="${DEMO_GATEWAY_URL:-http://127.0.0.1:9081}"
mkdir -p "$ARTIFACTS_DIR"

# 1. The native alert (spec triage §7), matched to the incident by family.
now_unix="$(date -u +%s)"
alert_id="alert_scorecard_pmt_502_$now_unix"
alert="$(jq -cn --arg id "$alert_id" --arg ts "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  '{source: "waylog", alert_id: $id, service: "checkout", env: "demo", severity: "critical",
    reason: "PMT_502 spike", message: "checkout payment.charge failing with PMT_502",
    error_code: "PMT_502", timestamp: $ts}')"
# The demo's write key is `demo` unless the demo was started with another.
write_auth=(-H "Authorization: Bearer ${WAYLOG_WRITE_KEY:-demo}")
status="$(curl -s -o "$TMP/alert.json" -w '%{http_code}' --max-time 30 -X POST \
  "${write_auth[@]}" -H 'Content-Type: application/json' --data "$alert" \
  "$WAYLOG_URL/v1/alerts" || echo 000)"
[[ "$status" == 201 ]] || fail "alert $alert_id accepted (HTTP $status: $(cat "$TMP/alert.json" 2>/dev/null))"

# 2. The burst; the triage latency is measured from its end.
status="$(burst "$REQUESTS" "$CONCURRENCY" "$TMP/burst.json")"
[[ "$status" == 200 ]] || fail "traffic burst through $DEMO_GATEWAY_URL (HTTP $status)"
burst_end_ms="$(date +%s%3N)"

# 3. The row and the incident.
wait_for_pmt_row 15 || fail "waylog errors lists $PMT_FAMILY with affected_traces > 0"
incident=""
for _ in $(seq 1 20); do
  incident="$(waylog_get /v1/incidents/active |
    jq -c "[.incidents[] | select($PMT_SELECT)][0] // empty")" || true
  [[ -n "$incident" ]] && break
  sleep 1
done
[[ -n "$incident" ]] || fail "/v1/incidents/active holds the $PMT_FAMILY incident"
id="$(jq -r '.incident_id' <<<"$incident")"

# 4. The engine attaches the alert at its next tick: wait (20 polls) for a report citing it.
for _ in $(seq 1 20); do
  cli --json triage "$id" --snapshot >"$TMP/triage0.json" || fail "waylog --json triage $id --snapshot"
  jq -e --arg a "$alert_id" '[(.alerts // [])[] | select(.alert_id == $a)] | length > 0' \
    "$TMP/triage0.json" >/dev/null && break
  sleep 1
done

# 5. The snapshot report twice; a round during which the incident moved (a tick wrote a new
#    version between the two builds) is repeated, at most 5 rounds.
updated_at() {
  waylog_get "/v1/incidents/$id" | jq -r '.incident.updated_at // .updated_at'
}
stable=false
for _ in $(seq 1 5); do
  before="$(updated_at)"
  cli --json triage "$id" --snapshot >"$TMP/triage1.json" || fail "waylog --json triage $id --snapshot"
  cli --json triage "$id" --snapshot >"$TMP/triage2.json" || fail "waylog --json triage $id --snapshot (again)"
  after="$(updated_at)"
  h1="$(jq -r '.report_hash' "$TMP/triage1.json")"
  h2="$(jq -r '.report_hash' "$TMP/triage2.json")"
  if [[ "$h1" == "$h2" ]]; then
    stable=true
    break
  fi
  [[ "$before" != "$after" ]] || break
done
triage_latency_ms=$(($(date +%s%3N) - burst_end_ms))
report="$TMP/triage2.json"
cp "$report" "$ARTIFACTS_DIR/scorecard-report.json"

# 6. The blast radius and the naive count.
blast="$(cli --json blast "$PMT_FAMILY" --window 15m)" || fail "waylog blast $PMT_FAMILY"
root="$(jq -r '.count' <<<"$PMT_ROW")"
services="$(jq -r '.affected_services' <<<"$blast")"
[[ "$root" =~ ^[0-9]+$ && "$services" =~ ^[0-9]+$ ]] ||
  fail "numeric counts (root=$root services=$services)"
naive=$((root * services))

jq -n \
  --slurpfile r "$report" \
  --argjson incident "$incident" \
  --arg scenario "$SCENARIO" \
  --argjson latency "$triage_latency_ms" \
  --argjson stable "$stable" \
  --argjson root "$root" \
  --argjson naive "$naive" \
  '$r[0] as $r | {
    root_cause_accuracy: ([$r.blast_snapshot.top_error_families[]
      | select(.service == "checkout" and .step == "payment.charge" and .error_code == "PMT_502")]
      | length > 0),
    cause_classification: ($incident.cause == "dependency"),
    evidence_completeness: {
      trace_present: (($r.sample_traces // []) | length > 0),
      dependency_signal_present: ([($r.signals // [])[] | select(.type == "dependency")] | length > 0),
      alert_present: (($r.alerts // []) | length > 0),
      next_checks_present: (($r.next_checks // []) | length > 0)
    },
    scenario: $scenario,
    triage_latency_ms: $latency,
    report_hash_stable: $stable,
    propagated_error_inflation_avoided: ($naive - $root),
    root_cause_count: $root,
    naive_propagated_count: $naive,
    report_hash: $r.report_hash
  }' >"$ARTIFACTS_DIR/scorecard.json"

echo "RCA scorecard"
jq -r '
  def line(k; v): "  \(k): \(v)";
  line("incident"; "'"$id"'"),
  line("scenario"; .scenario),
  line("root_cause_accuracy"; .root_cause_accuracy),
  line("cause_classification"; .cause_classification),
  (.evidence_completeness | to_entries[] | line("evidence." + .key; .value)),
  line("triage_latency_ms"; .triage_latency_ms),
  line("report_hash_stable"; .report_hash_stable),
  line("root_cause_count"; .root_cause_count),
  line("naive_propagated_count"; .naive_propagated_count),
  line("propagated_error_inflation_avoided"; .propagated_error_inflation_avoided),
  line("report_hash"; .report_hash)' "$ARTIFACTS_DIR/scorecard.json"
echo "  scorecard: $ARTIFACTS_DIR/scorecard.json"

[[ "$stable" == true ]] || fail "report_hash stable across two snapshot builds ($h1 != $h2)"
((root > 0)) || fail "root-cause count $root > 0"
((services > 1)) || fail "affected services $services > 1"
echo "PASS: RCA scorecard"
