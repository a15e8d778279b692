use super::*;
use crate::incidents::inputs::EventStep;

const S: i64 = 1_000_000_000;
const ONSET: i64 = 1_777_896_180_000_000_000; // 2026-05-04T12:03:00Z

fn fam() -> ErrorFamily {
    ErrorFamily::new("checkout", "payment.charge", "PMT_502")
}

fn step(name: &str, status: &str, downstream: &str) -> EventStep {
    EventStep {
        name: name.into(),
        status: status.into(),
        start_ms: 0,
        downstream_service: downstream.into(),
    }
}

fn event(trace: &str, version: &str, steps: Vec<EventStep>) -> FailingEvent {
    FailingEvent {
        event_id: format!("ev-{trace}"),
        trace_id: trace.into(),
        ts_start_ns: ONSET,
        env: "prod".into(),
        version: version.into(),
        status: "error".into(),
        steps,
    }
}

/// An E whose newest event calls `payment` from the failing step.
fn calling_payment(version: &str) -> Vec<FailingEvent> {
    vec![event(
        "t1",
        version,
        vec![
            step("cart.validate", "ok", "db"),
            step("payment.charge", "error", "payment"),
        ],
    )]
}

fn sig(id: &str, kind: &str, service: &str, at: i64) -> Signal {
    Signal {
        signal_id: id.into(),
        kind: kind.into(),
        source: "k8s".into(),
        service: service.into(),
        env: "prod".into(),
        severity: "critical".into(),
        reason: format!("{kind}_reason"),
        timestamp_ns: at,
        ..Signal::default()
    }
}

fn deployment(id: &str, version: &str, env: &str, at: i64) -> Deployment {
    Deployment {
        id: id.into(),
        service: "checkout".into(),
        env: env.into(),
        version: version.into(),
        first_seen_ns: at,
        ..Deployment::default()
    }
}

struct Case {
    family: ErrorFamily,
    samples: Vec<String>,
    events: Vec<FailingEvent>,
    signals: Vec<Signal>,
    deployments: Vec<Deployment>,
    alerts: Vec<Signal>,
    runtime: Vec<Signal>,
    anomaly: Option<ServiceFacts>,
}

impl Case {
    fn new() -> Self {
        Case {
            family: fam(),
            samples: vec![],
            events: vec![],
            signals: vec![],
            deployments: vec![],
            alerts: vec![],
            runtime: vec![],
            anomaly: None,
        }
    }

    fn input(&self) -> ClassifyInput<'_> {
        ClassifyInput {
            family: &self.family,
            env: "prod",
            started_at_ns: ONSET,
            sample_traces: &self.samples,
            events: &self.events,
            signals: &self.signals,
            deployments: &self.deployments,
            alerts: &self.alerts,
            runtime: &self.runtime,
            anomaly: self.anomaly,
        }
    }

    fn run(&self) -> Classification {
        classify(&self.input())
    }
}

fn cause(c: &Classification) -> (Cause, Confidence) {
    (c.cause, c.confidence)
}

#[test]
fn row1_deploy_before_onset_beats_dependency_after() {
    let mut c = Case::new();
    c.events = calling_payment("2.4.1");
    c.signals = vec![sig("sig_dep", "dependency", "payment", ONSET + 10 * S)];
    c.deployments = vec![deployment("dep-1", "2.4.1", "prod", ONSET - 60 * S)];
    let out = c.run();
    assert_eq!(cause(&out), (Cause::Deploy, Confidence::High));
    assert_eq!(out.suspect_deploy_id, "dep-1");
}

#[test]
fn row1_dependency_before_onset_beats_deploy_after() {
    let mut c = Case::new();
    c.events = calling_payment("");
    c.signals = vec![
        sig("sig_deploy", "deploy", "checkout", ONSET + 5 * S),
        sig("sig_dep", "dependency", "payment", ONSET - 600 * S),
    ];
    let out = c.run();
    assert_eq!(cause(&out), (Cause::Dependency, Confidence::High));
    assert_eq!(out.suspect_deploy_id, "", "a deploy signal never sets it");
    assert!(out.facts.deploy_sig.is_some());
}

#[test]
fn row1_both_before_onset_closer_wins_and_ties_go_to_dependency() {
    let mut c = Case::new();
    c.events = calling_payment("");
    c.signals = vec![sig("sig_dep", "dependency", "payment", ONSET - 60 * S)];
    c.deployments = vec![deployment("dep-1", "", "prod", ONSET - 30 * S)];
    assert_eq!(cause(&c.run()), (Cause::Deploy, Confidence::High));
    c.deployments = vec![deployment("dep-1", "", "prod", ONSET - 90 * S)];
    let out = c.run();
    assert_eq!(cause(&out), (Cause::Dependency, Confidence::High));
    assert_eq!(out.suspect_deploy_id, "dep-1", "suspect whatever cause won");
    c.deployments = vec![deployment("dep-1", "", "prod", ONSET - 60 * S)];
    assert_eq!(cause(&c.run()), (Cause::Dependency, Confidence::High));
}

#[test]
fn row1_both_after_onset_closer_wins() {
    let mut c = Case::new();
    c.events = calling_payment("");
    c.signals = vec![sig("sig_dep", "dependency", "payment", ONSET + 60 * S)];
    c.deployments = vec![deployment("dep-1", "", "prod", ONSET + 30 * S)];
    assert_eq!(cause(&c.run()), (Cause::Deploy, Confidence::High));
    c.deployments = vec![deployment("dep-1", "", "prod", ONSET + 61 * S)];
    assert_eq!(cause(&c.run()), (Cause::Dependency, Confidence::High));
}

#[test]
fn deploy_wins_timing_table() {
    assert!(
        deploy_wins(100, Some(100), Some(101)),
        "at onset counts as before"
    );
    assert!(!deploy_wins(100, Some(101), Some(100)));
    assert!(deploy_wins(100, Some(90), Some(80)));
    assert!(
        deploy_wins(100, Some(90), Some(101)),
        "exactly one before wins"
    );
    assert!(
        !deploy_wins(100, Some(101), Some(10)),
        "exactly one before wins"
    );
    assert!(!deploy_wins(100, Some(90), Some(90)), "tie → dependency");
    assert!(!deploy_wins(100, None, Some(1)));
    assert!(deploy_wins(100, Some(1), None));
    assert!(!deploy_wins(100, None, None));
    assert!(!deploy_wins(0, Some(i64::MIN), Some(i64::MIN)));
    assert!(deploy_wins(i64::MIN, Some(i64::MAX - 1), Some(i64::MAX)));
}

#[test]
fn row2_dependency_signal_of_the_downstream() {
    let mut c = Case::new();
    c.events = calling_payment("1.0");
    c.signals = vec![sig("sig_dep", "dependency", "payment", ONSET)];
    let out = c.run();
    assert_eq!(cause(&out), (Cause::Dependency, Confidence::High));
    assert_eq!(out.facts.downstream, "payment");
    let dep = out
        .evidence
        .iter()
        .find(|e| e.signal_id == "sig_dep")
        .unwrap();
    assert_eq!(dep.title, "Dependency payment: dependency_reason");
    assert_eq!(dep.kind, EvidenceKind::Signal);
    assert_eq!(
        serde_json::to_string(&dep.fields).unwrap(),
        "{\"type\":\"dependency\",\"severity\":\"critical\",\"source\":\"k8s\"}"
    );
    assert!(out.warnings.is_empty());
}

#[test]
fn row3_deployment_or_deploy_signal() {
    let mut c = Case::new();
    c.events = calling_payment("2.4.1");
    c.events[0].steps.clear();
    c.deployments = vec![deployment("dep-1", "2.4.1", "prod", ONSET - S)];
    let out = c.run();
    assert_eq!(cause(&out), (Cause::Deploy, Confidence::High));
    let row = out
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Deployment)
        .unwrap();
    assert_eq!(row.title, "Deploy checkout: 2.4.1");
    assert_eq!(row.deployment_id, "dep-1");
    assert_eq!(row.occurred_at, ONSET - S);

    c.deployments.clear();
    let mut s = sig("sig_deploy", "deploy", "checkout", ONSET - S);
    s.meta.version = "2.4.1".into();
    c.signals = vec![s];
    let out = c.run();
    assert_eq!(cause(&out), (Cause::Deploy, Confidence::High));
    assert!(
        out.evidence
            .iter()
            .any(|e| e.title == "Deploy checkout: 2.4.1")
    );
    assert_eq!(out.suspect_deploy_id, "");
}

#[test]
fn deploy_matching_respects_env_and_version() {
    let mut c = Case::new();
    c.events = vec![event("t1", "2.4.1", vec![])];
    c.deployments = vec![
        deployment("other-env", "2.4.1", "demo", ONSET),
        deployment("other-version", "2.5.0", "prod", ONSET),
        deployment("any-env", "", "", ONSET),
    ];
    assert_eq!(c.run().suspect_deploy_id, "any-env");
    // A deploy signal with another version does not match either: the demo's rollout case.
    c.deployments.truncate(2);
    let mut s = sig("sig_deploy", "deploy", "checkout", ONSET);
    s.meta.version = "demo-v2.1".into();
    let mut other_service = sig("sig_deploy2", "deploy", "payment", ONSET);
    other_service.meta.version = "2.4.1".into();
    c.signals = vec![s, other_service];
    let out = c.run();
    assert_eq!(cause(&out), (Cause::App, Confidence::Medium));
    assert!(out.facts.deploy_sig.is_none());
    // Without an event version any deployment matches first; without deployments the
    // signal matches, titled by version, else reason.
    c.events = vec![event("t1", "", vec![])];
    assert_eq!(c.run().suspect_deploy_id, "other-version");
    c.deployments.clear();
    let out = c.run();
    assert_eq!(cause(&out), (Cause::Deploy, Confidence::High));
    assert!(
        out.evidence
            .iter()
            .any(|e| e.title == "Deploy checkout: demo-v2.1")
    );
    c.signals[0].meta.version.clear();
    let out = c.run();
    assert!(
        out.evidence
            .iter()
            .any(|e| e.title == "Deploy checkout: deploy_reason")
    );
    c.signals[0].reason.clear();
    assert!(
        c.run()
            .evidence
            .iter()
            .any(|e| e.title == "Deploy checkout: deploy event")
    );
}

#[test]
fn row4_downstream_without_signal_is_medium_dependency() {
    let mut c = Case::new();
    c.events = calling_payment("1.0");
    let out = c.run();
    assert_eq!(cause(&out), (Cause::Dependency, Confidence::Medium));
    assert_eq!(out.warnings, ["missing_dependency_signal"]);
    let row = out
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Trace)
        .unwrap();
    assert_eq!(row.title, "First failing step calls `payment`");
    assert_eq!(row.detail, "payment");
    assert_eq!(row.service, "payment");
    assert_eq!(row.occurred_at, ONSET);
}

#[test]
fn unrelated_dependency_signal_never_matches() {
    let mut c = Case::new();
    c.events = calling_payment("1.0");
    c.signals = vec![sig("sig_db", "dependency", "db", ONSET)];
    let out = c.run();
    assert_eq!(cause(&out), (Cause::Dependency, Confidence::Medium));
    assert!(out.facts.dep_sig.is_none());
    // S holds a dependency signal, so the warning is not raised.
    assert!(out.warnings.is_empty());
}

#[test]
fn row5_runtime_signals() {
    let mut c = Case::new();
    c.events = vec![event("t1", "1.0", vec![])];
    let mut r = sig("sig_rt", "runtime", "checkout", ONSET);
    r.reason = "OOMKilled".into();
    r.meta.subtype = "oom_killed".into();
    c.runtime = vec![r];
    let out = c.run();
    assert_eq!(cause(&out), (Cause::Runtime, Confidence::High));
    let row = &out.evidence[0];
    assert_eq!(row.kind, EvidenceKind::Runtime);
    assert_eq!(row.title, "Runtime checkout: OOMKilled (k8s)");
    assert_eq!(row.detail, "OOMKilled");
    assert_eq!(
        serde_json::to_string(&row.fields).unwrap(),
        "{\"subtype\":\"oom_killed\",\"source\":\"k8s\",\"severity\":\"critical\"}"
    );
    c.runtime[0].source.clear();
    c.runtime[0].reason.clear();
    assert_eq!(c.run().evidence[0].title, "Runtime checkout: runtime event");
}

#[test]
fn row6_app_and_row7_unknown() {
    let mut c = Case::new();
    c.events = vec![event(
        "t1",
        "1.0",
        vec![step("payment.charge", "error", "")],
    )];
    assert_eq!(cause(&c.run()), (Cause::App, Confidence::Medium));
    c.family.step.clear();
    assert_eq!(cause(&c.run()), (Cause::Unknown, Confidence::Low));
    c.family = fam();
    c.events.clear();
    let out = c.run();
    assert_eq!(cause(&out), (Cause::Unknown, Confidence::Low));
    assert_eq!(out.warnings, ["missing_service_version"]);
    assert!(out.evidence.is_empty());
}

#[test]
fn alerts_never_change_the_cause() {
    let mut c = Case::new();
    c.events = vec![event("t1", "1.0", vec![])];
    let mut a = sig("sig_alert", "alert", "checkout", ONSET);
    a.reason = "OOM kill".into();
    a.source = "alertmanager".into();
    a.meta.alert_id = "fp1".into();
    a.meta.provider_url = "http://am".into();
    c.alerts = vec![a];
    let out = c.run();
    assert_eq!(cause(&out), (Cause::App, Confidence::Medium));
    let row = &out.evidence[0];
    assert_eq!(row.title, "critical: OOM kill (alertmanager)");
    assert_eq!(
        serde_json::to_string(&row.fields).unwrap(),
        "{\"type\":\"alert\",\"severity\":\"critical\",\"source\":\"alertmanager\",\
         \"alert_id\":\"fp1\",\"provider_url\":\"http://am\"}"
    );
    c.alerts[0].severity = crate::model::signal::Severity::Info;
    c.alerts[0].reason.clear();
    c.alerts[0].source.clear();
    assert_eq!(c.run().evidence[0].title, "info: external alert (alert)");
}

#[test]
fn trace_row_uses_first_sample_and_onset() {
    let mut c = Case::new();
    c.samples = vec!["trace-a".into(), "trace-b".into()];
    c.events = vec![event("trace-b", "1.0", vec![])];
    let out = c.run();
    let row = &out.evidence[0];
    assert_eq!(row.title, "First failing trace sample");
    assert_eq!(row.detail, "payment.charge/PMT_502");
    assert_eq!(row.trace_id, "trace-a");
    assert_eq!(row.service, "checkout");
    assert_eq!(row.occurred_at, ONSET);
}

#[test]
fn downstream_takes_newest_event_and_first_error_step() {
    let events = vec![
        event("t2", "", vec![step("payment.charge", "ok", "payment")]),
        event(
            "t1",
            "",
            vec![
                step("payment.charge", "error", ""),
                step("payment.charge", "error", "payment-a"),
                step("payment.charge", "error", "payment-b"),
            ],
        ),
        event("t0", "", vec![step("payment.charge", "error", "older")]),
    ];
    assert_eq!(downstream(&fam(), &events), "payment-a");
}

#[test]
fn warnings_are_sorted_and_anomalies_use_service_facts() {
    let mut c = Case::new();
    c.events = calling_payment("");
    c.events[0].status = "partial".into();
    assert_eq!(
        c.run().warnings,
        [
            "missing_dependency_signal",
            "missing_service_version",
            "partial_trace"
        ]
    );
    let mut c = Case::new();
    c.anomaly = Some(ServiceFacts {
        any_version: true,
        any_partial: true,
    });
    assert_eq!(c.run().warnings, ["partial_trace"]);
    c.anomaly = Some(ServiceFacts::default());
    let out = c.run();
    assert_eq!(out.warnings, ["missing_service_version"]);
    assert_eq!(cause(&out), (Cause::Unknown, Confidence::Low));
}

fn row(kind: EvidenceKind, title: &str, at: i64) -> Evidence {
    Evidence::new(kind, title, at)
}

#[test]
fn normalize_sorts_and_drops_duplicates() {
    let rows = vec![
        row(EvidenceKind::Trace, "b", 2),
        row(EvidenceKind::Signal, "z", 1),
        row(EvidenceKind::Trace, "a", 2),
        row(EvidenceKind::Deployment, "z", 2),
        row(EvidenceKind::Trace, "a", 2),
    ];
    let out = normalize(rows);
    let got: Vec<(&str, &str)> = out
        .iter()
        .map(|e| (e.kind.as_str(), e.title.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("signal", "z"),
            ("deployment", "z"),
            ("trace", "a"),
            ("trace", "b")
        ]
    );
    let mut with_id = row(EvidenceKind::Trace, "a", 2);
    with_id.trace_id = "t".into();
    assert_eq!(
        normalize(vec![row(EvidenceKind::Trace, "a", 2), with_id]).len(),
        2
    );
}

#[test]
fn normalize_cap_keeps_runtime_and_deployment_rows() {
    let mut rows: Vec<Evidence> = (0..15)
        .map(|i| row(EvidenceKind::Signal, &format!("s{i:02}"), 10 + i))
        .collect();
    rows.push(row(EvidenceKind::Runtime, "rt-late", 100));
    rows.push(row(EvidenceKind::Runtime, "rt-early", 0));
    rows.push(row(EvidenceKind::Deployment, "dep", 50));
    let out = normalize(rows);
    assert_eq!(out.len(), 12);
    let titles: Vec<&str> = out.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "rt-early", "s00", "s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "dep",
            "rt-late"
        ]
    );
    // Exactly 12 rows: untouched.
    let twelve: Vec<Evidence> = (0..12)
        .map(|i| row(EvidenceKind::Signal, &format!("s{i:02}"), i))
        .collect();
    assert_eq!(normalize(twelve).len(), 12);
    // More pinned rows than the cap: every pinned row, no other, the list exceeds 12.
    let mut many: Vec<Evidence> = (0..13)
        .map(|i| row(EvidenceKind::Runtime, &format!("r{i:02}"), i))
        .collect();
    many.push(row(EvidenceKind::Signal, "s", 0));
    let out = normalize(many);
    assert_eq!(out.len(), 13);
    assert!(out.iter().all(|e| e.kind == EvidenceKind::Runtime));
}
