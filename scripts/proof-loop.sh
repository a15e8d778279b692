#!/usr/bin/env bash
# Proof loop (spec triage §8.4), against `waylog demo`: post a native PMT_502 alert, burst
# traffic through the demo's gateway, wait for the PMT_502 row and the active incident, then
# check that the snapshot TriageReport's report_hash is the same from the CLI (`waylog --json
# triage <id> --snapshot`), the read route (`GET /v1/triage/{id}?snapshot=true`), the tool
# (`POST /v1/tools/triage_incident`) and a plan (template `triage`, `steps[0].result`); a
# round whose hashes differ while the incident's updated_at moved is repeated (at most 5).
# Then the report's evidence (alert, sample trace, dependency signal, next check) and the
# three renders (markdown, slack, pagerduty, and the `render_triage_report` tool). Prints
# `PASS: <check>` per check and `Proof loop passed.`; the first failure prints `FAIL: <check>`
# and exits 1. Artifacts: $PROOF_DIR (default ./data/demo-state/proof).
#
# usage: scripts/proof-loop.sh [-h]
#   With WAYLOG_URL set it uses that running demo (and DEMO_GATEWAY_URL); with WAYLOG_URL unset
#   it starts its own `waylog demo` on free ports and stops it afterwards.
#   env: WAYLOG_BIN, WAYLOG_URL, DEMO_GATEWAY_URL, WAYLOG_READ_KEY, WAYLOG_WRITE_KEY (default
#        demo, the demo's own), WAYLOG_AGENT_KEY, REQUESTS (default 20), CONCURRENCY (default
#        5), PROOF_DIR
#        (details in scripts/demo-lib.sh)
set -euo pipefail

if [[ $# -gt 0 ]]; then
  case "$1" in
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [-h]" >&2; exit 1 ;;
  esac
fi

# shellcheck source=scripts/demo-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/demo-lib.sh"
REQUESTS="${REQUESTS:-20}"
CONCURRENCY="${CONCURRENCY:-5}"
PROOF_DIR="${PROOF_DIR:-./data/demo-state/proof}"
resolve_bin

TMP="$(mktemp -d "${TMPDIR:-/tmp}/waylog-proof.XXXXXX")"
trap 'stop_own_demo; rm -rf "$TMP"' EXIT
if [[ -z "${WAYLOG_URL:-}" ]]; then
  start_own_demo "$TMP"
fi
DEMO_GATEWAY_URL="${DEMO_GATEWAY_URL:-http://127.0.0.1:9081}"
mkdir -p "$PROOF_DIR"

# agent_post PATH BODY: POST JSON to an agent route (with the agent key when set).
agent_post() {
  local auth=()
  [[ -n "${WAYLOG_AGENT_KEY:-}" ]] && auth=(-H "Authorization: Bearer $WAYLOG_AGENT_KEY")
  curl -fsS --max-time 60 "${auth[@]}" -H 'Content-Type: application/json' \
    -X POST --data "$2" "$WAYLOG_URL$1"
}

# render_code FORMAT OUT: GET the rendered report (snapshot) into OUT; prints the status.
render_code() {
  local auth=()
  [[ -n "${WAYLOG_READ_KEY:-}" ]] && auth=(-H "Authorization: Bearer $WAYLOG_READ_KEY")
  curl -s -o "$2" -w '%{http_code}' --max-time 30 "${auth[@]}" \
    "$WAYLOG_URL/v1/triage/$incident_id/report?format=$1&snapshot=true" || echo 000
}

now="$(date +%s)"
alert_id="alert_proof_pmt_502_$now"
alert="$(jq -cn --arg id "$alert_id" --arg ts "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  '{source: "waylog", alert_id: $id, service: "checkout", env: "demo", severity: "critical",
    reason: "PMT_502 spike", message: "payment charge failures above threshold",
    error_code: "PMT_502", timestamp: $ts}')"
# The demo's write key is `demo` unless it was started with another WAYLOG_WRITE_KEY.
write_auth=(-H "Authorization: Bearer ${WAYLOG_WRITE_KEY:-demo}")
status="$(curl -s -o "$PROOF_DIR/alert.json" -w '%{http_code}' --max-time 30 "${write_auth[@]}" \
  -H 'Content-Type: application/json' -X POST --data "$alert" "$WAYLOG_URL/v1/alerts" || echo 000)"
[[ "$status" == 201 ]] || fail "native alert $alert_id accepted (HTTP $status)"
pass "native alert $alert_id accepted"

status="$(burst "$REQUESTS" "$CONCURRENCY" "$PROOF_DIR/burst.json")"
[[ "$status" == 200 ]] || fail "traffic burst (HTTP $status)"
pass "traffic burst captured ($REQUESTS requests / $CONCURRENCY concurrency)"

wait_for_pmt_row 15 || fail "waylog errors lists $PMT_FAMILY with affected_traces > 0"
pass "waylog errors lists $PMT_FAMILY"

incident_id=""
for _ in $(seq 1 20); do
  incidents="$(waylog_get /v1/incidents/active)" || fail "GET /v1/incidents/active"
  incident_id="$(jq -r "[.incidents[] | select($PMT_SELECT and .status == \"active\")][0].incident_id // empty" <<<"$incidents")"
  [[ -n "$incident_id" ]] && break
  sleep 1
done
[[ -n "$incident_id" ]] || fail "active $PMT_FAMILY incident in /v1/incidents/active"
pass "active incident $incident_id"

updated_at() { waylog_get "/v1/incidents/$incident_id" | jq -r .incident.updated_at; }

stable=""
for round in 1 2 3 4 5; do
  before="$(updated_at)" || fail "GET /v1/incidents/$incident_id"
  cli --json triage "$incident_id" --snapshot >"$PROOF_DIR/cli.json" || fail "waylog --json triage $incident_id --snapshot"
  waylog_get "/v1/triage/$incident_id?snapshot=true" >"$PROOF_DIR/read.json" || fail "GET /v1/triage/$incident_id"
  agent_post /v1/tools/triage_incident "{\"incident_id\":\"$incident_id\",\"snapshot\":true}" \
    >"$PROOF_DIR/tool.json" || fail "POST /v1/tools/triage_incident"
  agent_post /v1/plans/execute "{\"template\":\"triage\",\"params\":{\"incident_id\":\"$incident_id\",\"snapshot\":true}}" \
    >"$PROOF_DIR/plan.json" || fail "POST /v1/plans/execute (template triage)"
  after="$(updated_at)" || fail "GET /v1/incidents/$incident_id"
  hashes="$(jq -r .report_hash "$PROOF_DIR/cli.json") $(jq -r .report_hash "$PROOF_DIR/read.json") $(jq -r .report_hash "$PROOF_DIR/tool.json") $(jq -r '.steps[0].result.report_hash' "$PROOF_DIR/plan.json")"
  echo "round $round: updated_at $before -> $after, hashes $hashes" >>"$PROOF_DIR/rounds.txt"
  read -r h_cli h_read h_tool h_plan <<<"$hashes"
  if [[ "$h_cli" == "$h_read" && "$h_read" == "$h_tool" && "$h_tool" == "$h_plan" && "$h_cli" == sha256:* ]]; then
    stable="$h_cli"
    break
  fi
  # Different hashes are a failure unless the incident changed during the round.
  [[ "$before" != "$after" ]] || fail "report_hash stable across CLI/read/tool/plan ($hashes)"
done
[[ -n "$stable" ]] || fail "report_hash stable across CLI/read/tool/plan (the incident kept moving for 5 rounds)"
pass "report_hash stable across CLI/read/tool/plan ($stable)"

report="$PROOF_DIR/read.json"
jq -e --arg id "$alert_id" '[.alerts[]? | select(.alert_id == $id and (.signal_id | length) > 0)] | length > 0' "$report" >/dev/null \
  || fail "report holds alert $alert_id with its signal_id"
pass "report holds alert $alert_id"
first_trace="$(jq -r '.sample_traces[0].trace_id // empty' "$report")"
[[ -n "$first_trace" ]] || fail "report holds a sample trace"
pass "report holds sample trace $first_trace"
jq -e '[.signals[]? | select(.type == "dependency")] | length > 0' "$report" >/dev/null \
  || fail "report holds a dependency signal"
pass "report holds a dependency signal"
jq -e '[.next_checks[]? | select((.id | length) > 0 and (.prompt | length) > 0)] | length > 0' "$report" >/dev/null \
  || fail "report holds a next check (id, prompt)"
pass "report holds a next check"

for format in markdown slack pagerduty; do
  status="$(render_code "$format" "$PROOF_DIR/report.$format")"
  [[ "$status" == 200 ]] || fail "render $format (HTTP $status)"
  for needle in "$incident_id" "$stable" "$alert_id"; do
    grep -qF -- "$needle" "$PROOF_DIR/report.$format" || fail "render $format holds $needle"
  done
  pass "render $format"
done
grep -qF -- "$first_trace" "$PROOF_DIR/report.markdown" || fail "markdown render holds sample trace $first_trace"
grep -qF -- 'signal `sig_' "$PROOF_DIR/report.markdown" || fail 'markdown render cites a signal `sig_…`'
pass "markdown render holds the sample trace and a signal"

# The incident may have ticked since: the tool's rendering must hold the hash of the report
# built at the same state (read route, tool, read route again; a round that moved is
# repeated, at most 5).
rendered=false
for _ in $(seq 1 5); do
  before="$(waylog_get "/v1/triage/$incident_id?snapshot=true" | jq -r .report_hash)"
  agent_post /v1/tools/render_triage_report "{\"incident_id\":\"$incident_id\",\"snapshot\":true}" \
    >"$PROOF_DIR/render_tool.json" || fail "POST /v1/tools/render_triage_report"
  after="$(waylog_get "/v1/triage/$incident_id?snapshot=true" | jq -r .report_hash)"
  if jq -r .body "$PROOF_DIR/render_tool.json" | grep -qF -- "$after"; then
    rendered=true
    break
  fi
  # A race with an incident update (the hash moved, or a tick ran mid-render): try again.
  [[ "$before" != "$after" ]] || sleep 1
done
[[ "$rendered" == true ]] || fail "render_triage_report holds the report_hash"
pass "render_triage_report holds the report_hash"

echo "Proof loop passed."
