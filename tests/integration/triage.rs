//! TriageReport v1 through the real server and CLI (spec triage §6): incidents are written into
//! a data directory with the library (the engine is off, so nothing moves them), the events,
//! the suspect deployment and the signals arrive over HTTP, and the report must be the same —
//! same `report_hash` — from `GET /v1/triage/{id}`, `waylog --json triage`, after a restart, and
//! change when new evidence arrives. The renderings, the error table of §6.4 and the snapshot
//! mode are checked on the same fixture.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use waylog::incidents::model::{Cause, Confidence, ErrorFamily, Incident, Status};
use waylog::incidents::store::{StoredIncident, incidents_to_batch};
use waylog::triage::report::TriageReport;

use crate::harness::*;

const READ_KEY: &str = "rk-triage";
const AUTH: (&str, &str) = ("Authorization", "Bearer rk-triage");
const MIN: i64 = 60 * SEC_NS;

/// The fixture's clock: incidents and events are placed relative to this.
struct Times {
    now: i64,
    started: i64,
    updated: i64,
}

fn times() -> Times {
    let now = now_ns();
    Times {
        now,
        started: now - 10 * MIN,
        updated: now - MIN,
    }
}

/// The failing events of the family, all before the incident's `updated_at`; their trace ids
/// are the first `n`.
fn failing_events(t: &Times, n: i64) -> (Vec<Value>, Vec<String>) {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let mut e = event_at(&format!("tri-f{i}"), t.started + MIN + i * SEC_NS);
            e["trace_id"] = json!(format!("{:032x}", 0xabc0 + i));
            e
        })
        .collect();
    let traces = events
        .iter()
        .map(|e| e["trace_id"].as_str().unwrap().to_owned())
        .collect();
    (events, traces)
}

/// `inc_tri`: every capture filled (propagation, blast with two sampled traces, alerts,
/// runtime, dimensions, a suspect deploy); `inc_story`: only `sample_traces`, so its report
/// carries the full reads §4.1 story.
fn incidents(t: &Times, traces: &[String]) -> (Incident, Incident) {
    let family = ErrorFamily::new("checkout", "payment.charge", "PMT_502");
    let mut a = Incident::skeleton(
        "inc_tri".into(),
        "prod".into(),
        family.clone(),
        t.started,
        t.updated,
    );
    a.status = Status::Active;
    a.cause = Cause::Deploy;
    a.confidence = Confidence::High;
    a.severity = 8;
    a.affected_requests = 12;
    a.affected_services = 2;
    a.suspect_deploy_id = "d-tri".into();
    a.next_checks = vec![
        "Roll back checkout to the previous version.".into(),
        "Check the acquirer's status page.".into(),
    ];
    let captured = json_time(t.updated);
    let occurred = json_time(t.started + 2 * MIN);
    a.propagation = Some(
        serde_json::from_value(json!({"latest": {
            "origin_service": "payment", "origin_step": "acquirer.charge",
            "path": [
                {"service": "checkout", "step": "payment.charge", "start_ms": 0, "duration_ms": 40, "status": "ok"},
                {"service": "payment", "step": "acquirer.charge", "start_ms": 9, "duration_ms": 30, "status": "error", "error_code": "PMT_502"}
            ],
            "sample_trace_id": traces[0], "first_seen_at": json_time(t.started),
            "captured_at": captured, "capture_status": "ok"}}))
        .unwrap(),
    );
    a.blast = Some(
        serde_json::from_value(json!({"latest": {
            "affected_requests": 12, "affected_users": 5, "affected_services": 2,
            "top_services": ["checkout", "payment"], "sampled_traces": [traces[0], traces[1]],
            "captured_at": captured, "capture_status": "ok"}}))
        .unwrap(),
    );
    a.alerts = Some(
        serde_json::from_value(json!({"latest": {
            "matches": [{"signal_id": "sig_alert_1", "alert_id": "am-1", "source": "alertmanager",
                "severity": "critical", "reason": "PMT_502 spike\nacquirer failing",
                "provider_url": "http://am.example/#/alerts", "evidence_ids": ["sig_alert_1"],
                "matched_at": captured, "strategy": "family"}],
            "captured_at": captured, "capture_status": "ok"}}))
        .unwrap(),
    );
    a.runtime = Some(
        serde_json::from_value(
            json!({"matches": [{"subtype": "oom_kill", "service": "payment",
            "reason": "OOMKilled", "severity": "error", "source": "kubernetes",
            "signal_id": "sig_rt_1", "occurred_at": occurred, "captured_at": captured,
            "capture_status": "ok"}]}),
        )
        .unwrap(),
    );
    a.suspect_dimensions = Some(
        serde_json::from_value(json!({"latest": {"baseline": "current_window",
            "failing_events": 12, "baseline_events": 40,
            "dimensions": [{"dimension": "version", "value": "2026.05.04-1", "failing_count": 12,
                "failing_share": 1, "baseline_count": 4, "baseline_share": 0.1, "score": 0.9}],
            "captured_at": captured, "capture_status": "ok"}}))
        .unwrap(),
    );
    let mut b = Incident::skeleton(
        "inc_story".into(),
        "prod".into(),
        family,
        t.started,
        t.updated,
    );
    b.sample_traces = vec![traces[2].clone()];
    (a, b)
}

fn json_time(ns: i64) -> String {
    waylog::incidents::model::json_time(ns)
}

fn write_incidents(data_dir: &Path, incidents: &[Incident]) {
    let rows: Vec<StoredIncident> = incidents
        .iter()
        .map(|i| StoredIncident {
            written_at_ns: i.updated_at,
            incident: i.clone(),
            version: 1,
        })
        .collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let cfg = storage_config(data_dir, Duration::from_secs(7 * 86400));
        let (storage, _) = Storage::open(cfg, Arc::new(waylog::clock::SystemClock))
            .await
            .unwrap();
        storage
            .append(
                TableId::IncidentVersions,
                incidents_to_batch(&rows).unwrap(),
            )
            .await
            .unwrap();
        storage.close().unwrap();
    });
}

fn start(data_dir: &Path) -> Server {
    Server::start(
        data_dir,
        &[],
        &[
            ("WAYLOG_READ_KEY", READ_KEY),
            // The stored rows are the fixture: no engine tick may write new versions.
            ("WAYLOG_INCIDENTS_ENABLED", "false"),
        ],
    )
}

fn get(server: &Server, path: &str) -> Resp {
    server.request("GET", path, &[AUTH], None)
}

fn report(server: &Server, path: &str) -> (Value, TriageReport) {
    let r = get(server, path);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let parsed: TriageReport = serde_json::from_str(&r.body).unwrap();
    // The body is the report's own compact emission.
    assert_eq!(r.body, serde_json::to_string(&parsed).unwrap());
    (r.json(), parsed)
}

fn cli(server: &Server, args: &[&str]) -> CliOut {
    let mut all = vec!["--addr", server.url.as_str(), "--api-key", READ_KEY];
    all.extend_from_slice(args);
    waylog_cli(&all)
}

fn post_signal(server: &Server, body: Value) {
    let r = server.request(
        "POST",
        "/v1/signals",
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

struct Fixture {
    dir: TestDir,
    server: Server,
    t: Times,
    traces: Vec<String>,
}

/// Incidents in storage, then over HTTP: the failing events, the deployment (with healthy
/// traffic before it and failures after it) and two signals inside the window.
fn fixture() -> Fixture {
    let dir = TestDir::new();
    let t = times();
    let (failing, traces) = failing_events(&t, 6);
    let (a, b) = incidents(&t, &traces);
    write_incidents(&dir.data_dir(), &[a, b]);
    let server = start(&dir.data_dir());
    let accepted = server.ingest(&failing);
    assert_eq!(accepted["accepted"], 6, "{accepted}");
    // Three healthy checkout requests in the 5 minutes before the deployment.
    let healthy: Vec<Value> = (0..3)
        .map(|i| {
            let mut e = ok_event(&format!("tri-ok{i}"), "checkout");
            let ts = t.now - 2 * MIN + i * SEC_NS;
            e["ts_start"] = json!(rfc3339(ts));
            e["ts_end"] = json!(rfc3339(ts + 5_000_000));
            e
        })
        .collect();
    server.ingest(&healthy);
    let r = server.request(
        "POST",
        "/v1/deployments",
        &[("Content-Type", "application/json")],
        Some(
            json!({"id": "d-tri", "service": "checkout", "env": "prod", "version": "2026.05.04-1",
                   "commit_sha": "9fceb02", "pr_url": "https://git.example/pr/412",
                   "commit_author": "dana"})
            .to_string()
            .as_bytes(),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let listed = get(&server, "/v1/deployments");
    assert_eq!(listed.status, 200, "{}", listed.body);
    let first_seen = listed.json()["deployments"][0]["first_seen"]
        .as_str()
        .unwrap_or_else(|| panic!("first_seen in {}", listed.body))
        .to_owned();
    let fs = waylog::rfc3339::parse_rfc3339_ns(&first_seen).unwrap();
    // One failing request after the deployment: error rate 0 -> 1.
    let mut after = event_at("tri-after", fs + 20_000_000);
    after["trace_id"] = json!(trace_id());
    server.ingest(&[after]);
    post_signal(
        &server,
        json!({"type": "dependency", "source": "statuspage", "service": "payment", "env": "prod",
               "severity": "critical", "reason": "acquirer degraded",
               "timestamp": rfc3339(t.started + 3 * MIN)}),
    );
    post_signal(
        &server,
        json!({"type": "runtime", "source": "kubernetes", "service": "payment", "env": "prod",
               "severity": "warning", "reason": "OOMKilled", "timestamp": rfc3339(t.started + 2 * MIN),
               "metadata": {"subtype": "oom_kill"}}),
    );
    Fixture {
        dir,
        server,
        t,
        traces,
    }
}

#[test]
fn report_is_built_from_the_incident_and_live_reads_and_hashes_the_same_everywhere() {
    let fx = fixture();
    let s = &fx.server;
    let (v, r) = report(s, "/v1/triage/inc_tri?snapshot=true");

    // §6.2, member by member.
    assert_eq!(v["schema_version"], "triage.v1");
    assert_eq!(
        v["incident_ref"],
        json!({"id": "inc_tri", "window": "15m0s"})
    );
    assert_eq!(
        v["blast_snapshot"],
        json!({"requests": 12, "users": 5, "services": 2, "top_error_families": [
            {"service": "checkout", "step": "payment.charge", "error_code": "PMT_502", "count": 6}]})
    );
    assert_eq!(v["first_failure"]["origin_service"], "payment");
    assert_eq!(v["first_failure"]["origin_step"], "acquirer.charge");
    assert_eq!(
        v["sample_traces"],
        json!([
            {"trace_id": fx.traces[0], "summary": "payment/acquirer.charge → acquirer.charge"},
            {"trace_id": fx.traces[1], "summary": ""}
        ])
    );
    let sc = &v["suspect_change"];
    assert_eq!(sc["deploy_id"], "d-tri");
    assert_eq!(sc["service"], "checkout");
    assert_eq!(sc["version"], "2026.05.04-1");
    assert_eq!(sc["commit_author"], "dana");
    assert_eq!(sc["error_rate_before"], 0, "{sc}");
    assert_eq!(sc["error_rate_after"], 1, "{sc}");
    // Signals: both posted ones, newest first, each citing itself.
    let signals = v["signals"].as_array().unwrap();
    let kinds: Vec<&str> = signals
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["dependency", "runtime"], "{signals:?}");
    for s in signals {
        assert_eq!(s["evidence_ids"], json!([s["id"].clone()]));
    }
    assert_eq!(v["alerts"][0]["alert_id"], "am-1");
    assert_eq!(v["runtime"][0]["subtype"], "oom_kill");
    assert!(v["runtime"][0].get("captured_at").is_none());
    assert_eq!(v["suspect_dimensions"][0]["score"], 0.9);
    assert_eq!(
        v["next_checks"],
        json!([{"id": "check_0", "prompt": "Roll back checkout to the previous version."},
               {"id": "check_1", "prompt": "Check the acquirer's status page."}])
    );
    assert_eq!(v["confidence"], "high");
    assert!(v.get("plan_run_id").is_none());
    // The hash is the §6.3 hash of what was sent.
    assert_eq!(
        r.report_hash,
        waylog::triage::hash::report_hash(&r).unwrap()
    );
    assert_eq!(
        r.evidence_fingerprint,
        waylog::triage::hash::evidence_fingerprint(&r)
    );

    // The same state gives the same hash: again, live mode twice, and through the CLI.
    let (_, again) = report(s, "/v1/triage/inc_tri?snapshot=true");
    assert_eq!(again.report_hash, r.report_hash);
    let (_, live) = report(s, "/v1/triage/inc_tri");
    let (_, live2) = report(s, "/v1/triage/inc_tri");
    assert_eq!(live.report_hash, live2.report_hash);
    // Live mode counts the failure after the deployment too (end = now).
    assert_eq!(live.blast_snapshot.top_error_families[0].count, 7);
    assert_ne!(live.report_hash, r.report_hash);
    let out = cli(s, &["--json", "triage", "inc_tri", "--snapshot"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let from_cli: TriageReport = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(from_cli.report_hash, r.report_hash);

    // Renderings: HTTP and CLI print the same bytes; content types of §6.4.
    for (format, ctype) in [
        ("markdown", "text/markdown; charset=utf-8"),
        ("slack", "application/json"),
        ("pagerduty", "text/plain; charset=utf-8"),
    ] {
        let http = get(
            s,
            &format!("/v1/triage/inc_tri/report?format={format}&snapshot=true"),
        );
        assert_eq!(http.status, 200, "{format}: {}", http.body);
        assert_eq!(http.header("content-type"), Some(ctype), "{format}");
        assert!(
            http.body.contains(&r.report_hash),
            "{format}: {}",
            http.body
        );
        let out = cli(s, &["triage", "inc_tri", "--snapshot", "--format", format]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout.trim_end(), http.body.trim_end(), "{format}");
    }
    // The default format is markdown, and a trailing `/` is tolerated.
    let md = get(s, "/v1/triage/inc_tri/report/?snapshot=true");
    assert_eq!(md.status, 200, "{}", md.body);
    assert!(
        md.body
            .starts_with("# Waylog Operator Report\n\n## Summary\n")
    );
    assert!(md.body.contains("- checkout 2026.05.04-1 (PR https://git.example/pr/412, by dana, commit 9fceb02); err 0.0% -> 100.0% (deploy `d-tri`"), "{}", md.body);
    let slack: Value =
        serde_json::from_str(&get(s, "/v1/triage/inc_tri/report?format=slack&snapshot=true").body)
            .unwrap();
    assert_eq!(slack["blocks"].as_array().unwrap().len(), 6);

    // A restart serves the same report.
    let Fixture { dir, server, .. } = fx;
    server.stop_graceful();
    let server = start(&dir.data_dir());
    let (_, after) = report(&server, "/v1/triage/inc_tri?snapshot=true");
    assert_eq!(after.report_hash, r.report_hash);
    assert_eq!(after.evidence_fingerprint, r.evidence_fingerprint);
}

#[test]
fn new_evidence_changes_the_hash_and_the_fingerprint() {
    let fx = fixture();
    let s = &fx.server;
    let (_, before) = report(s, "/v1/triage/inc_tri?snapshot=true");
    post_signal(
        s,
        json!({"type": "config", "source": "argo", "service": "checkout", "env": "prod",
               "severity": "info", "reason": "flag flipped",
               "timestamp": rfc3339(fx.t.started + 4 * MIN)}),
    );
    let (_, after) = report(s, "/v1/triage/inc_tri?snapshot=true");
    assert_ne!(after.report_hash, before.report_hash);
    assert_ne!(after.evidence_fingerprint, before.evidence_fingerprint);
    assert_eq!(after.signals.len(), before.signals.len() + 1);
    // A signal of another env is not evidence.
    post_signal(
        s,
        json!({"type": "config", "source": "argo", "service": "checkout", "env": "staging",
               "severity": "info", "reason": "flag flipped",
               "timestamp": rfc3339(fx.t.started + 4 * MIN)}),
    );
    let (_, same) = report(s, "/v1/triage/inc_tri?snapshot=true");
    assert_eq!(same.report_hash, after.report_hash);
    // A signal after `updated_at` is outside the snapshot window but inside the live one.
    post_signal(
        s,
        json!({"type": "config", "source": "argo", "service": "checkout", "env": "prod",
               "severity": "info", "reason": "late", "timestamp": rfc3339(fx.t.now)}),
    );
    let (_, snap) = report(s, "/v1/triage/inc_tri?snapshot=true");
    assert_eq!(snap.report_hash, after.report_hash);
    let (_, live) = report(s, "/v1/triage/inc_tri");
    assert_eq!(live.signals.len(), after.signals.len() + 1);
    // A one-minute window ending at `updated_at` sees none of the signals.
    let (v, _) = report(s, "/v1/triage/inc_tri?snapshot=true&window=1m");
    assert_eq!(v["incident_ref"]["window"], "1m0s");
    assert!(v.get("signals").is_none(), "{v}");
}

#[test]
fn story_fallback_when_there_is_no_propagation_capture() {
    let fx = fixture();
    let (v, r) = report(&fx.server, "/v1/triage/inc_story?snapshot=true");
    assert_eq!(
        v["sample_traces"],
        json!([{"trace_id": fx.traces[2], "summary": "checkout/payment.charge/PMT_502"}])
    );
    // The full reads §4.1 story of the sampled trace.
    let story = &v["first_failure"];
    assert_eq!(story["trace_id"], fx.traces[2], "{story}");
    assert!(story.get("suspect_change").is_none());
    assert!(v.get("suspect_change").is_none());
    assert!(v.get("alerts").is_none());
    assert_eq!(v["confidence"], "low");
    // With no evidence beyond the trace, the fingerprint cites the incident and the trace.
    let expected = {
        use sha2::{Digest, Sha256};
        let mut lines = vec![
            "incident:inc_story".to_owned(),
            format!("trace:{}", fx.traces[2]),
        ];
        lines.extend(r.signals.iter().map(|s| format!("signal:{}", s.id)));
        lines.sort();
        let digest = Sha256::digest(lines.join("\n"));
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    };
    assert_eq!(r.evidence_fingerprint, expected);
}

#[test]
fn errors_follow_the_spec_table() {
    let fx = fixture();
    let s = &fx.server;
    let error = |r: &Resp| -> (u16, Value) { (r.status, r.json()["error"].clone()) };
    let expect = |path: &str, status: u16, code: &str, message: &str, detail: Option<&str>| {
        let (got, e) = error(&get(s, path));
        assert_eq!(got, status, "{path}: {e}");
        assert_eq!(e["code"], code, "{path}");
        assert_eq!(e["message"], message, "{path}");
        if let Some(d) = detail {
            assert_eq!(e["detail"], d, "{path}");
        }
    };
    expect(
        "/v1/triage/nope",
        404,
        "not_found",
        "incident not found",
        None,
    );
    expect(
        "/v1/triage/nope/report",
        404,
        "not_found",
        "incident not found",
        None,
    );
    expect(
        "/v1/triage/",
        400,
        "missing_incident_id",
        "incident id is required",
        None,
    );
    expect(
        "/v1/triage/a%2Fb",
        400,
        "missing_incident_id",
        "incident id is required",
        None,
    );
    expect(
        "/v1/triage/inc_tri?window=banana",
        400,
        "bad_options",
        "invalid options",
        Some("invalid window"),
    );
    expect(
        "/v1/triage/inc_tri?window=0s",
        400,
        "bad_options",
        "invalid options",
        Some("invalid window"),
    );
    let (_, e) = error(&get(s, "/v1/triage/inc_tri?window=30d"));
    assert_eq!(e["code"], "bad_options");
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .starts_with("window exceeds retention ("),
        "{e}"
    );
    expect(
        "/v1/triage/inc_tri?format=markdown",
        400,
        "bad_options",
        "invalid options",
        Some("unknown query parameter: format"),
    );
    expect(
        "/v1/triage/inc_tri/report?limit=3",
        400,
        "bad_options",
        "invalid options",
        Some("unknown query parameter: limit"),
    );
    expect(
        "/v1/triage/inc_tri/report?format=html",
        400,
        "bad_format",
        "unsupported report format \"html\"",
        None,
    );
    let r = s.request("POST", "/v1/triage/inc_tri", &[AUTH], Some(b"{}"));
    assert_eq!(error(&r), (405, error(&r).1.clone()));
    assert_eq!(r.json()["error"]["code"], "method_not_allowed");
    // The read scope guards both routes.
    assert_eq!(s.get("/v1/triage/inc_tri").status, 401);
    assert_eq!(s.get("/v1/triage/inc_tri/report").status, 401);
    // `snapshot` is on only for exactly `true`: `TRUE` is live mode (end = now), which counts
    // the failure after the deployment.
    let (v, _) = report(s, "/v1/triage/inc_tri?snapshot=TRUE");
    assert_eq!(v["blast_snapshot"]["top_error_families"][0]["count"], 7);
    // The CLI maps a missing incident to a non-zero exit with the server's message.
    let out = cli(s, &["triage", "nope"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("incident not found"), "{}", out.stderr);
}
