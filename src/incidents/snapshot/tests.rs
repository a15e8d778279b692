use super::*;
use crate::incidents::model::{
    Cause, Confidence, ErrorFamily, Evidence, EvidenceKind, PathEntry, Snapshot, Status,
    SuspectDimension,
};

const T0: i64 = 1_777_896_180_000_000_000; // 2026-05-04T12:03:00Z
const S: i64 = 1_000_000_000;

fn minimal() -> Incident {
    let mut inc = Incident::skeleton(
        "inc_eee7eabe9bda8b24".into(),
        "prod".into(),
        ErrorFamily::new("checkout", "payment.charge", "PMT_502"),
        T0 + 500_000_000,
        T0 + 90 * S,
    );
    inc.cause = Cause::Dependency;
    inc.confidence = Confidence::High;
    inc.severity = 10;
    inc.affected_requests = 12;
    inc.affected_services = 3;
    inc.lift = 12.0;
    inc
}

#[test]
fn snapshot_minimal_has_only_the_header() {
    assert_eq!(
        snapshot_text(&minimal()),
        "Incident inc_eee7eabe9bda8b24\n\
         Status: active\n\
         Family: checkout:payment.charge:PMT_502\n\
         Cause: dependency (high confidence)\n\
         Severity: 10\n\
         Started: 2026-05-04T12:03:00Z\n\
         Affected: 12 requests, 3 services\n\
         Lift: 12.00x over baseline 0\n"
    );
}

fn blast(requests: i64, at: i64) -> BlastCapture {
    BlastCapture {
        affected_requests: requests,
        affected_users: 0,
        affected_services: 3,
        top_services: vec![],
        sampled_traces: vec![],
        captured_at: at,
        capture_status: CaptureStatus::Ok,
    }
}

#[test]
fn snapshot_full_layout() {
    let mut inc = minimal();
    inc.status = Status::Resolved;
    inc.recovering_at = Some(T0 + 600 * S);
    inc.resolved_at = Some(T0 + 720 * S);
    inc.lift = 1.2345;
    inc.baseline_count = 4;
    inc.top_services = vec!["api-gateway".into(), "checkout".into()];
    inc.sample_traces = vec!["t-1".into(), "t-2".into()];
    inc.propagation = Some(Snapshot {
        opening: None,
        latest: Some(PropagationCapture {
            origin_service: "checkout".into(),
            origin_step: "payment.charge".into(),
            path: vec![
                PathEntry {
                    service: "checkout".into(),
                    step: "cart.validate".into(),
                    start_ms: 0,
                    duration_ms: 1,
                    status: "ok".into(),
                    error_code: String::new(),
                },
                PathEntry {
                    service: "checkout".into(),
                    step: "payment.charge".into(),
                    start_ms: 7,
                    duration_ms: 35,
                    status: "error".into(),
                    error_code: "PMT_502".into(),
                },
            ],
            sample_trace_id: "t-2".into(),
            first_seen_at: Some(T0),
            captured_at: T0 + 30 * S,
            capture_status: CaptureStatus::Ok,
        }),
    });
    inc.blast = Some(Snapshot {
        opening: Some(blast(6, T0 + 30 * S)),
        latest: Some(blast(12, T0 + 60 * S)),
    });
    let mut trace = Evidence::new(EvidenceKind::Trace, "First failing trace sample", T0);
    trace.detail = "payment.charge/PMT_502".into();
    let dep = Evidence::new(
        EvidenceKind::Signal,
        "Dependency payment: payment_gateway_5xx",
        T0,
    );
    let mut rt = Evidence::new(
        EvidenceKind::Runtime,
        "Runtime checkout: panic (waylog-demo)",
        T0,
    );
    rt.detail = "panic".into();
    inc.evidence = vec![trace, dep, rt];
    inc.suspect_dimensions = Some(Snapshot {
        opening: None,
        latest: Some(DimensionsCapture {
            baseline: "baseline_windows".into(),
            failing_events: 12,
            baseline_events: 300,
            dimensions: vec![SuspectDimension {
                dimension: "version".into(),
                value: "2.4.1".into(),
                failing_count: 12,
                failing_share: 1.0,
                baseline_count: 10,
                baseline_share: 0.0333,
                score: 0.9667,
            }],
            captured_at: T0,
            capture_status: CaptureStatus::Ok,
        }),
    });
    inc.next_checks = vec!["Inspect sampled trace `t-1`.".into()];
    inc.instrumentation_warnings = vec!["partial_trace".into()];
    assert_eq!(
        snapshot_text(&inc),
        "Incident inc_eee7eabe9bda8b24\n\
         Status: resolved\n\
         Family: checkout:payment.charge:PMT_502\n\
         Cause: dependency (high confidence)\n\
         Severity: 10\n\
         Started: 2026-05-04T12:03:00Z\n\
         Recovering since: 2026-05-04T12:13:00Z\n\
         Resolved: 2026-05-04T12:15:00Z\n\
         Affected: 12 requests, 3 services\n\
         Lift: 1.23x over baseline 4\n\
         Top services: api-gateway, checkout\n\
         Sample traces: t-1, t-2\n\
         \n\
         Where did it start?\n\
         \x20 Origin: checkout / payment.charge\n\
         \x20 First failing step: payment.charge -> PMT_502\n\
         \x20 Path: cart.validate → payment.charge\n\
         \x20 Sample trace: t-2 (captured 2026-05-04T12:03:30Z)\n\
         \n\
         How bad is it?\n\
         \x20 At open: 6 requests, 3 services (captured 2026-05-04T12:03:30Z)\n\
         \x20 Now: 12 requests, 3 services (captured 2026-05-04T12:04:00Z)\n\
         \n\
         Evidence:\n\
         - trace: First failing trace sample (payment.charge/PMT_502)\n\
         - signal: Dependency payment: payment_gateway_5xx\n\
         - runtime: Runtime checkout: panic (waylog-demo) (panic)\n\
         \n\
         Suspect dimensions:\n\
         - version=2.4.1: 12/12 failing (100.0%) vs 10/300 baseline (3.3%)\n\
         \n\
         Next checks:\n\
         - Inspect sampled trace `t-1`.\n\
         \n\
         Instrumentation warnings:\n\
         - partial_trace\n"
    );
}

#[test]
fn snapshot_skips_missing_propagation_equal_opening_and_empty_dimensions() {
    let mut inc = minimal();
    inc.propagation = Some(Snapshot {
        opening: None,
        latest: Some(PropagationCapture {
            origin_service: String::new(),
            origin_step: String::new(),
            path: vec![],
            sample_trace_id: String::new(),
            first_seen_at: None,
            captured_at: T0,
            capture_status: CaptureStatus::Missing,
        }),
    });
    let b = blast(12, T0);
    inc.blast = Some(Snapshot {
        opening: Some(b.clone()),
        latest: Some(b),
    });
    inc.suspect_dimensions = Some(Snapshot {
        opening: None,
        latest: Some(DimensionsCapture {
            baseline: "current_window".into(),
            failing_events: 3,
            baseline_events: 3,
            dimensions: vec![],
            captured_at: T0,
            capture_status: CaptureStatus::Partial,
        }),
    });
    let text = snapshot_text(&inc);
    assert!(!text.contains("Where did it start?"));
    assert!(!text.contains("At open"));
    assert!(!text.contains("Suspect dimensions"));
    assert!(text.ends_with(
        "Lift: 12.00x over baseline 0\n\nHow bad is it?\n  Now: 12 requests, 3 services (captured 2026-05-04T12:03:00Z)\n"
    ));
}

#[test]
fn snapshot_partial_propagation_without_step_or_code() {
    let mut inc = minimal();
    inc.propagation = Some(Snapshot {
        opening: None,
        latest: Some(PropagationCapture {
            origin_service: "checkout".into(),
            origin_step: String::new(),
            path: vec![PathEntry {
                service: "checkout".into(),
                step: "boom".into(),
                start_ms: 0,
                duration_ms: 1,
                status: "error".into(),
                error_code: String::new(),
            }],
            sample_trace_id: String::new(),
            first_seen_at: None,
            captured_at: T0,
            capture_status: CaptureStatus::Partial,
        }),
    });
    let text = snapshot_text(&inc);
    assert!(text.ends_with(
        "\nWhere did it start?\n  Origin: checkout\n  First failing step: boom\n  Path: boom\n"
    ));
}

#[test]
fn snapshot_json_body_holds_text_and_incident() {
    let inc = minimal();
    let body = serde_json::to_string(&SnapshotBody::new(&inc)).unwrap();
    assert!(body.starts_with("{\"snapshot\":\"Incident inc_eee7eabe9bda8b24\\n"));
    assert!(body.contains(",\"incident\":{\"incident_id\":\"inc_eee7eabe9bda8b24\""));
}
