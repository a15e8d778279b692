use serde_json::{Value, json};

use super::*;
use crate::incidents::model::{
    BlastCapture, Confidence, PathEntry, PropagationCapture, Snapshot, Status,
};
use crate::triage::report::{BlastSnapshot, IncidentRef, SCHEMA_VERSION};

const R: Duration = Duration::from_secs(7 * 86_400);
const ALL: &[&str] = &["window", "snapshot"];

fn parse(q: &str) -> Result<TriageOptions, Rejection> {
    TriageOptions::parse(Some(q), ALL, R).map(|(o, _)| o)
}

fn detail(q: &str) -> String {
    let r = parse(q).expect_err(q);
    assert_eq!(
        (r.class, r.error.code),
        (ErrorClass::BadRequest, "bad_options")
    );
    assert_eq!(r.error.message, "invalid options");
    r.error.detail
}

#[test]
fn options_default_to_fifteen_minutes_live() {
    let (o, _) = TriageOptions::parse(None, ALL, R).unwrap();
    assert_eq!((o.window, o.snapshot), (DEFAULT_WINDOW, false));
    assert_eq!(DEFAULT_WINDOW, Duration::from_secs(900));
    let o = parse("window=1h&snapshot=true").unwrap();
    assert_eq!((o.window, o.snapshot), (Duration::from_secs(3600), true));
}

#[test]
fn snapshot_is_on_only_for_exactly_true() {
    for q in [
        "snapshot=TRUE",
        "snapshot=1",
        "snapshot=yes",
        "snapshot=",
        "snapshot=true ",
    ] {
        assert!(!parse(q).unwrap().snapshot, "{q}");
    }
}

#[test]
fn bad_windows_and_unknown_parameters_are_bad_options() {
    assert_eq!(detail("window=banana"), "invalid window");
    assert_eq!(detail("window=0s"), "invalid window");
    assert_eq!(detail("window=-5m"), "invalid window");
    assert_eq!(detail("window=8d"), "window exceeds retention (168h0m0s)");
    assert_eq!(detail("limit=3"), "unknown query parameter: limit");
    // The window may equal the retention.
    assert_eq!(parse("window=7d").unwrap().window, R);
}

fn valid() -> TriageReport {
    TriageReport {
        schema_version: SCHEMA_VERSION.into(),
        incident_ref: IncidentRef {
            id: "inc_1".into(),
            window: "15m0s".into(),
        },
        blast_snapshot: BlastSnapshot {
            requests: 1,
            users: 0,
            services: 1,
            top_error_families: vec![],
        },
        first_failure: None,
        suspect_change: None,
        sample_traces: vec![],
        signals: vec![],
        alerts: vec![],
        runtime: vec![],
        suspect_dimensions: vec![],
        next_checks: vec![],
        confidence: Confidence::Low,
        generated_at: "2026-05-04T12:00:00Z".into(),
        plan_run_id: None,
        report_hash: "sha256:x".into(),
        evidence_fingerprint: "sha256:y".into(),
    }
}

#[test]
fn validation_names_the_broken_member() {
    assert!(validate(&valid()).is_ok());
    type Break = fn(&mut TriageReport);
    let cases: [(Break, &str); 3] = [
        (
            |r| r.schema_version = "triage.v2".into(),
            "invalid schema_version",
        ),
        (|r| r.incident_ref.id.clear(), "invalid incident_ref.id"),
        (|r| r.generated_at.clear(), "invalid generated_at"),
    ];
    for (breaks, why) in cases {
        let mut r = valid();
        breaks(&mut r);
        match validate(&r) {
            Err(TriageError::Invalid(w)) => assert_eq!(w, why),
            other => panic!("{why}: {other:?}"),
        }
    }
    // The API answers every invalid report with the same message.
    assert_eq!(
        TriageError::Invalid("x".into()).to_string(),
        "produced invalid report"
    );
}

fn path(step: &str, status: &str, code: &str) -> PathEntry {
    PathEntry {
        service: "payment".into(),
        step: step.into(),
        start_ms: 0,
        duration_ms: 1,
        status: status.into(),
        error_code: code.into(),
    }
}

fn with_propagation(path: Vec<PathEntry>, sample: &str, sampled: &[&str]) -> Incident {
    let mut inc = Incident::skeleton(
        "inc_p".into(),
        "prod".into(),
        ErrorFamily::new("checkout", "payment.charge", "PMT_502"),
        0,
        1,
    );
    inc.status = Status::Active;
    inc.propagation = Some(Snapshot {
        opening: None,
        latest: Some(PropagationCapture {
            origin_service: "payment".into(),
            origin_step: "acquirer.charge".into(),
            path,
            sample_trace_id: sample.into(),
            first_seen_at: None,
            captured_at: 1,
            capture_status: CaptureStatus::Ok,
        }),
    });
    inc.blast = Some(Snapshot {
        opening: None,
        latest: Some(BlastCapture {
            affected_requests: 1,
            affected_users: 0,
            affected_services: 1,
            top_services: vec![],
            sampled_traces: sampled.iter().map(|s| (*s).to_owned()).collect(),
            captured_at: 1,
            capture_status: CaptureStatus::Ok,
        }),
    });
    inc
}

/// `first_failure` as its raw JSON text (member order kept) and the sample traces.
async fn first_raw(inc: &Incident) -> (Option<String>, Value) {
    // The propagation branch reads nothing: an empty session is enough.
    let ctx = SessionContext::new();
    let (ff, traces) = first_failure(&ctx, inc).await.unwrap();
    (
        ff.map(|r| r.get().to_owned()),
        serde_json::to_value(traces).unwrap(),
    )
}

async fn first(inc: &Incident) -> (Option<Value>, Value) {
    let (ff, traces) = first_raw(inc).await;
    (ff.map(|r| serde_json::from_str(&r).unwrap()), traces)
}

#[tokio::test]
async fn first_failure_from_the_propagation_capture() {
    let inc = with_propagation(
        vec![
            path("checkout.call", "ok", ""),
            path("payment.charge", "error", "PMT_502"),
            path("acquirer.charge", "error", "ACQ_TIMEOUT"),
        ],
        "t1",
        &["t0", "t1"],
    );
    let (ff, traces) = first_raw(&inc).await;
    // The first `error` entry of the path names the failing step and code, in this order.
    assert_eq!(
        ff.unwrap(),
        r#"{"origin_service":"payment","origin_step":"acquirer.charge","first_failing_step":"payment.charge","error_code":"PMT_502","sample_trace_id":"t1"}"#
    );
    assert_eq!(
        traces,
        json!([{"trace_id": "t0", "summary": ""},
               {"trace_id": "t1", "summary": "payment/acquirer.charge → acquirer.charge"}])
    );
}

#[tokio::test]
async fn no_sampled_traces_fall_back_to_the_capture_sample_and_empty_paths_have_no_summary() {
    let inc = with_propagation(vec![], "t9", &[]);
    let (ff, traces) = first(&inc).await;
    assert_eq!(
        ff.unwrap(),
        json!({"origin_service": "payment", "origin_step": "acquirer.charge", "sample_trace_id": "t9"})
    );
    assert_eq!(traces, json!([{"trace_id": "t9", "summary": ""}]));
    // No sample at all: the origin alone, no traces.
    let inc = with_propagation(vec![path("a", "ok", "")], "", &[]);
    let (ff, traces) = first(&inc).await;
    assert_eq!(
        ff.unwrap(),
        json!({"origin_service": "payment", "origin_step": "acquirer.charge"})
    );
    assert_eq!(traces, json!([]));
}

#[tokio::test]
async fn a_missing_capture_and_no_samples_omit_both() {
    let mut inc = with_propagation(vec![], "t9", &["t9"]);
    if let Some(p) = inc.propagation.as_mut().and_then(|p| p.latest.as_mut()) {
        p.capture_status = CaptureStatus::Missing;
    }
    let (ff, traces) = first(&inc).await;
    assert_eq!((ff, traces), (None, json!([])));
}
