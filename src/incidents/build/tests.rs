use super::*;
use crate::incidents::inputs::EventStep;
use crate::incidents::model::{Cause, Confidence, ErrorFamily, Status};
use crate::reads::origin::Linkage;
use crate::reads::traces::{PathStep, StoryAnchor};

const S: i64 = 1_000_000_000;
const NOW: i64 = 1_777_896_600_000_000_000; // 12:10:00

fn fam() -> ErrorFamily {
    ErrorFamily::new("checkout", "payment.charge", "PMT_502")
}

fn candidate() -> CandidateRow {
    CandidateRow {
        family: fam(),
        current_count: 12,
        b0: 12,
        b1: 0,
        b2: 0,
        baseline_count: 0,
        lift: 12.0,
    }
}

fn events() -> Vec<FailingEvent> {
    (0..3)
        .map(|i| FailingEvent {
            event_id: format!("ev{i}"),
            trace_id: format!("trace-{i}"),
            ts_start_ns: NOW - (i as i64 + 1) * 60 * S,
            env: "demo".into(),
            version: "0.1.0".into(),
            status: "error".into(),
            steps: vec![EventStep {
                name: "payment.charge".into(),
                status: "error".into(),
                start_ms: 7,
                downstream_service: "payment".into(),
            }],
        })
        .collect()
}

fn story() -> Story {
    Story {
        trace_id: "trace-0".into(),
        event_id: "ev0".into(),
        service: "checkout".into(),
        route: String::new(),
        status: "error".into(),
        anchor: Some(StoryAnchor {
            step: "payment.charge".into(),
            error_code: "PMT_502".into(),
        }),
        path: vec![PathStep {
            name: "payment.charge".into(),
            start_ms: 7,
            duration_ms: 35,
            status: "error".into(),
            error_code: Some("PMT_502".into()),
            error_msg: None,
        }],
        logs: vec![],
        downstream: vec![],
        linkage: Linkage::Causal,
    }
}

fn blast() -> BlastRead {
    BlastRead {
        affected_requests: 12,
        affected_users: 0,
        affected_services: 4,
        top_services: vec!["api-gateway".into(), "checkout".into()],
        sampled_traces: vec!["trace-0".into()],
    }
}

fn dep_signal() -> Signal {
    Signal {
        signal_id: "sig_dep".into(),
        kind: "dependency".into(),
        source: "waylog-demo".into(),
        service: "payment".into(),
        env: "demo".into(),
        severity: "critical".into(),
        reason: "payment_gateway_5xx".into(),
        timestamp_ns: NOW - 200 * S,
        ..Signal::default()
    }
}

#[test]
fn build_opens_a_dependency_incident_like_the_demo() {
    let (c, e, b, st) = (candidate(), events(), blast(), story());
    let signals = [dep_signal()];
    let input = ErrorBuildInput {
        candidate: &c,
        existing: None,
        events: &e,
        blast: Some(&b),
        story: Some(&st),
        dimensions: None,
        signals: &signals,
        deployments: &[],
        alerts: &[],
        runtime: &[],
        sample_limit: 5,
        now: NOW,
    };
    let built = build_error_incident(&input, |_| false);
    let inc = &built.incident;
    assert!(!built.reissued);
    assert_eq!(inc.env, "demo");
    assert_eq!(inc.started_at, NOW - 180 * S);
    assert_eq!(
        inc.incident_id,
        crate::incidents::identity::incident_id("demo", &fam(), NOW - 180 * S)
    );
    assert_eq!(
        (inc.cause, inc.confidence),
        (Cause::Dependency, Confidence::High)
    );
    assert_eq!(inc.status, Status::Active);
    assert_eq!(inc.severity, 10);
    assert_eq!(inc.sample_traces, ["trace-2", "trace-0", "trace-1"]);
    let p = inc.propagation.as_ref().unwrap();
    assert_eq!(p.opening, p.latest);
    let latest = p.latest.as_ref().unwrap();
    assert_eq!(latest.capture_status, CaptureStatus::Ok);
    assert_eq!(latest.first_seen_at, Some(NOW - 60 * S));
    assert_eq!(
        inc.suspect_dimensions
            .as_ref()
            .unwrap()
            .latest
            .as_ref()
            .unwrap()
            .capture_status,
        CaptureStatus::Missing
    );
    assert_eq!(
        inc.alerts
            .as_ref()
            .unwrap()
            .latest
            .as_ref()
            .unwrap()
            .capture_status,
        CaptureStatus::Missing
    );
    assert!(inc.next_checks[0].starts_with("Inspect sampled trace `trace-2` at `payment.charge`"));
    assert!(
        inc.evidence
            .iter()
            .any(|e| e.title == "Dependency payment: payment_gateway_5xx")
    );
}

#[test]
fn build_refresh_keeps_identity_samples_openings_and_suspect_deploy() {
    let (c, e, st) = (candidate(), events(), story());
    let mut existing = Incident::skeleton(
        "inc_keep".into(),
        "prod".into(),
        fam(),
        NOW - 900 * S,
        NOW - 30 * S,
    );
    existing.status = Status::Recovering;
    existing.recovering_at = Some(NOW - 30 * S);
    existing.sample_traces = vec!["trace-seeded".into()];
    existing.suspect_deploy_id = "dep-old".into();
    let input = ErrorBuildInput {
        candidate: &c,
        existing: Some(&existing),
        events: &e,
        blast: None,
        story: Some(&st),
        dimensions: None,
        signals: &[],
        deployments: &[],
        alerts: &[],
        runtime: &[],
        sample_limit: 2,
        now: NOW,
    };
    let built = build_error_incident(&input, |_| panic!("no id lookup on refresh"));
    let inc = built.incident;
    assert_eq!(inc.incident_id, "inc_keep");
    assert_eq!(inc.env, "prod");
    assert_eq!(inc.started_at, NOW - 900 * S);
    assert_eq!(inc.status, Status::Active);
    assert_eq!(inc.recovering_at, None);
    assert_eq!(inc.sample_traces, ["trace-seeded", "trace-0"]);
    assert_eq!(inc.suspect_deploy_id, "dep-old");
    // Blast read failed: missing blast, no sampled trace → missing propagation.
    let blast = inc.blast.as_ref().unwrap();
    assert!(blast.opening.is_none());
    assert_eq!(
        blast.latest.as_ref().unwrap().capture_status,
        CaptureStatus::Missing
    );
    assert_eq!(
        inc.propagation
            .as_ref()
            .unwrap()
            .latest
            .as_ref()
            .unwrap()
            .capture_status,
        CaptureStatus::Missing
    );
}

#[test]
fn build_opening_reissues_a_taken_id() {
    let (c, e) = (candidate(), events());
    let input = ErrorBuildInput {
        candidate: &c,
        existing: None,
        events: &e,
        blast: None,
        story: None,
        dimensions: None,
        signals: &[],
        deployments: &[],
        alerts: &[],
        runtime: &[],
        sample_limit: 5,
        now: NOW,
    };
    let plain = crate::incidents::identity::incident_id("demo", &fam(), NOW - 180 * S);
    let built = build_error_incident(&input, |id| id == plain);
    assert!(built.reissued);
    assert_ne!(built.incident.incident_id, plain);
}

#[test]
fn runtime_order_and_partial_propagation() {
    let sig = |id: &str, sev: &str, ts: i64| Signal {
        signal_id: id.into(),
        severity: sev.into(),
        timestamp_ns: ts,
        ..Signal::default()
    };
    let mut r = vec![
        sig("b", "info", 1),
        sig("c", "critical", 5),
        sig("a", "critical", 5),
        sig("d", "critical", 2),
    ];
    sort_runtime(&mut r);
    let ids: Vec<&str> = r.iter().map(|s| s.signal_id.as_str()).collect();
    assert_eq!(ids, ["d", "a", "c", "b"]);

    let mut st = story();
    st.anchor = None;
    let p = propagation_capture("trace-0", Some(&st), &events(), NOW);
    assert_eq!(p.capture_status, CaptureStatus::Partial);
    assert_eq!(p.origin_step, "");
    let p = propagation_capture("trace-x", Some(&story()), &events(), NOW);
    assert_eq!(p.capture_status, CaptureStatus::Partial, "no first_seen_at");
    let p = propagation_capture("", Some(&story()), &events(), NOW);
    assert_eq!(p.capture_status, CaptureStatus::Missing);
}
