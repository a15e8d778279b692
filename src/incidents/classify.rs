//! Cause classification (spec triage §3): derived facts and warnings (§3.1), evidence rows
//! (§3.2), the decision table (§3.3), deploy-versus-dependency timing (§3.4), the suspect
//! deploy (§3.5) and evidence normalization with its cap (§3.6).
//!
//! Inputs keep the orders the spec reads them in ("first" = most recent): E and S newest first,
//! D by `first_seen` desc then `id` asc, A newest first, R in the §2.9 runtime order.

use std::collections::HashSet;

use super::inputs::{DeploymentRow, FailingEvent, SignalRow, env_compatible};
use super::model::{Cause, Confidence, ErrorFamily, Evidence, EvidenceKind, Fields};

/// Evidence rows kept by the cap of §3.6 (runtime and deployment rows always stay).
pub const EVIDENCE_CAP: usize = 12;

/// Facts about an anomaly incident's service in C, standing in for E in the warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServiceFacts {
    /// Some event of the service in C has a version.
    pub any_version: bool,
    /// Some event of the service in C has status `partial`.
    pub any_partial: bool,
}

/// Everything classification reads: the incident as built so far plus E, S, D, A, R.
#[derive(Debug, Clone, Copy)]
pub struct ClassifyInput<'a> {
    pub family: &'a ErrorFamily,
    /// The incident's env.
    pub env: &'a str,
    pub started_at_ns: i64,
    pub sample_traces: &'a [String],
    /// E, newest first (empty for anomaly incidents).
    pub events: &'a [FailingEvent],
    /// S, newest first.
    pub signals: &'a [SignalRow],
    /// D, `first_seen` desc, `id` asc.
    pub deployments: &'a [DeploymentRow],
    /// A: the alert signals attached by §7.6, newest first.
    pub alerts: &'a [SignalRow],
    /// R: runtime / healthcheck signals, §2.9 order.
    pub runtime: &'a [SignalRow],
    /// `Some` for traffic / latency anomaly incidents (§2.11).
    pub anomaly: Option<ServiceFacts>,
}

/// §3.1 derived facts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    pub downstream: String,
    pub version: String,
    pub dep_sig: Option<SignalRow>,
    pub deployment: Option<DeploymentRow>,
    pub deploy_sig: Option<SignalRow>,
}

/// The outcome of [`classify`].
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub cause: Cause,
    pub confidence: Confidence,
    /// Normalized and capped (§3.6).
    pub evidence: Vec<Evidence>,
    /// Unique, sorted.
    pub warnings: Vec<String>,
    /// `deployment.id` when a deployment matched, else `""` (§3.5).
    pub suspect_deploy_id: String,
    pub facts: Facts,
}

fn versions_compatible(a: &str, b: &str) -> bool {
    a.is_empty() || b.is_empty() || a == b
}

/// `downstream`: the first event of E (newest first) whose first step named `f.step` with
/// status `error` and a downstream service names one.
pub fn downstream(family: &ErrorFamily, events: &[FailingEvent]) -> String {
    events
        .iter()
        .find_map(|e| {
            e.steps
                .iter()
                .find(|s| {
                    s.name == family.step && s.status == "error" && !s.downstream_service.is_empty()
                })
                .map(|s| s.downstream_service.clone())
        })
        .unwrap_or_default()
}

/// §3.1: downstream, version, depSig, deployment, deploySig.
pub fn derive_facts(input: &ClassifyInput<'_>) -> Facts {
    let downstream = downstream(input.family, input.events);
    let version = input
        .events
        .iter()
        .find(|e| !e.version.is_empty())
        .map(|e| e.version.clone())
        .unwrap_or_default();
    let dep_sig = (!downstream.is_empty())
        .then(|| {
            input
                .signals
                .iter()
                .find(|s| s.kind == "dependency" && s.service == downstream)
        })
        .flatten()
        .cloned();
    let deployment = input
        .deployments
        .iter()
        .find(|d| env_compatible(&d.env, input.env) && versions_compatible(&version, &d.version))
        .cloned();
    let deploy_sig = if deployment.is_some() {
        None
    } else {
        input
            .signals
            .iter()
            .find(|s| {
                s.kind == "deploy"
                    && s.service == input.family.service
                    && versions_compatible(&version, &s.meta.version)
            })
            .cloned()
    };
    Facts {
        downstream,
        version,
        dep_sig,
        deployment,
        deploy_sig,
    }
}

/// §3.1 warnings, unique and sorted.
pub fn warnings(input: &ClassifyInput<'_>, facts: &Facts) -> Vec<String> {
    let (any_version, any_partial) = match input.anomaly {
        Some(f) => (f.any_version, f.any_partial),
        None => (
            input.events.iter().any(|e| !e.version.is_empty()),
            input.events.iter().any(|e| e.status == "partial"),
        ),
    };
    let mut out = Vec::new();
    if !facts.downstream.is_empty() && !input.signals.iter().any(|s| s.kind == "dependency") {
        out.push("missing_dependency_signal".to_owned());
    }
    if !any_version {
        out.push("missing_service_version".to_owned());
    }
    if any_partial {
        out.push("partial_trace".to_owned());
    }
    out.sort();
    out.dedup();
    out
}

fn or<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.is_empty() { fallback } else { value }
}

/// The §3.2 signal row of `sig` with `title`.
pub fn signal_evidence(sig: &SignalRow, title: String) -> Evidence {
    let mut e = Evidence::new(EvidenceKind::Signal, title, sig.timestamp_ns);
    e.service = sig.service.clone();
    e.signal_id = sig.signal_id.clone();
    e.fields = Fields::new()
        .with("type", sig.kind.as_str())
        .with("severity", sig.severity.as_str())
        .with("source", sig.source.as_str())
        .with_nonempty("alert_id", &sig.meta.alert_id)
        .with_nonempty("provider_url", &sig.meta.provider_url);
    e
}

/// The §3.2 runtime row of a runtime / healthcheck signal.
pub fn runtime_evidence(sig: &SignalRow) -> Evidence {
    let mut title = format!(
        "Runtime {}: {}",
        sig.service,
        or(&sig.reason, "runtime event")
    );
    if !sig.source.is_empty() {
        title.push_str(&format!(" ({})", sig.source));
    }
    let mut e = Evidence::new(EvidenceKind::Runtime, title, sig.timestamp_ns);
    e.detail = sig.reason.clone();
    e.service = sig.service.clone();
    e.signal_id = sig.signal_id.clone();
    e.fields = Fields::new()
        .with("subtype", sig.meta.subtype.as_str())
        .with("source", sig.source.as_str())
        .with("severity", sig.severity.as_str());
    e
}

/// §3.2 evidence rows in rule order (before normalization).
pub fn evidence_rows(input: &ClassifyInput<'_>, facts: &Facts) -> Vec<Evidence> {
    let f = input.family;
    let mut rows = Vec::new();
    if let Some(trace) = input.sample_traces.first() {
        let mut e = Evidence::new(
            EvidenceKind::Trace,
            "First failing trace sample",
            input.started_at_ns,
        );
        e.detail = format!("{}/{}", f.step, f.error_code);
        e.service = f.service.clone();
        e.trace_id = trace.clone();
        rows.push(e);
    }
    for a in input.alerts {
        let title = format!(
            "{}: {} ({})",
            or(&a.severity, "info"),
            or(&a.reason, "external alert"),
            or(&a.source, "alert")
        );
        rows.push(signal_evidence(a, title));
    }
    rows.extend(input.runtime.iter().map(runtime_evidence));
    if let Some(dep) = &facts.dep_sig {
        rows.push(signal_evidence(
            dep,
            format!("Dependency {}: {}", dep.service, dep.reason),
        ));
    } else if !facts.downstream.is_empty() {
        let d = &facts.downstream;
        let mut e = Evidence::new(
            EvidenceKind::Trace,
            format!("First failing step calls `{d}`"),
            input.started_at_ns,
        );
        e.detail = d.clone();
        e.service = d.clone();
        rows.push(e);
    }
    if let Some(dep) = &facts.deployment {
        let mut e = Evidence::new(
            EvidenceKind::Deployment,
            format!(
                "Deploy {}: {}",
                dep.service,
                or(&dep.version, "new revision")
            ),
            dep.first_seen_ns,
        );
        e.detail = dep.version.clone();
        e.service = dep.service.clone();
        e.deployment_id = dep.id.clone();
        rows.push(e);
    } else if let Some(sig) = &facts.deploy_sig {
        let what = or(or(&sig.meta.version, &sig.reason), "deploy event");
        rows.push(signal_evidence(
            sig,
            format!("Deploy {}: {what}", sig.service),
        ));
    }
    rows
}

/// §3.4: does the deploy win against the dependency? Exactly one at or before `onset` wins;
/// else the strictly closer to `onset` wins, ties to the dependency; an unset time loses.
pub fn deploy_wins(onset: i64, deploy_at: Option<i64>, dep_at: Option<i64>) -> bool {
    match (deploy_at, dep_at) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(deploy), Some(dep)) => match (deploy <= onset, dep <= onset) {
            (true, false) => true,
            (false, true) => false,
            _ => {
                let dist = |t: i64| (i128::from(onset) - i128::from(t)).abs();
                dist(deploy) < dist(dep)
            }
        },
    }
}

/// §3.3: the first matching row of the decision table.
pub fn decide(input: &ClassifyInput<'_>, facts: &Facts) -> (Cause, Confidence) {
    let deploy_at = facts
        .deployment
        .as_ref()
        .map(|d| d.first_seen_ns)
        .or_else(|| facts.deploy_sig.as_ref().map(|s| s.timestamp_ns));
    let has_deploy = deploy_at.is_some();
    match &facts.dep_sig {
        Some(dep) if has_deploy => {
            if deploy_wins(input.started_at_ns, deploy_at, Some(dep.timestamp_ns)) {
                (Cause::Deploy, Confidence::High)
            } else {
                (Cause::Dependency, Confidence::High)
            }
        }
        Some(_) => (Cause::Dependency, Confidence::High),
        None if has_deploy => (Cause::Deploy, Confidence::High),
        None if !facts.downstream.is_empty() => (Cause::Dependency, Confidence::Medium),
        None if !input.runtime.is_empty() => (Cause::Runtime, Confidence::High),
        None if !input.events.is_empty() && !input.family.step.is_empty() => {
            (Cause::App, Confidence::Medium)
        }
        None => (Cause::Unknown, Confidence::Low),
    }
}

/// §3.6: sort by `occurred_at`, `kind`, `title` (stable), drop duplicate
/// `kind|title|signal_id|deployment_id|trace_id` keys (first kept), then cap at
/// [`EVIDENCE_CAP`] keeping every runtime and deployment row.
pub fn normalize(mut rows: Vec<Evidence>) -> Vec<Evidence> {
    rows.sort_by(|a, b| {
        a.occurred_at
            .cmp(&b.occurred_at)
            .then_with(|| a.kind.as_str().cmp(b.kind.as_str()))
            .then_with(|| a.title.cmp(&b.title))
    });
    let mut seen = HashSet::new();
    rows.retain(|e| {
        seen.insert((
            e.kind,
            e.title.clone(),
            e.signal_id.clone(),
            e.deployment_id.clone(),
            e.trace_id.clone(),
        ))
    });
    if rows.len() <= EVIDENCE_CAP {
        return rows;
    }
    let pinned = |e: &Evidence| matches!(e.kind, EvidenceKind::Runtime | EvidenceKind::Deployment);
    let mut others_left = EVIDENCE_CAP.saturating_sub(rows.iter().filter(|e| pinned(e)).count());
    rows.retain(|e| {
        if pinned(e) {
            true
        } else if others_left > 0 {
            others_left -= 1;
            true
        } else {
            false
        }
    });
    rows
}

/// §3 end to end.
pub fn classify(input: &ClassifyInput<'_>) -> Classification {
    let facts = derive_facts(input);
    let (cause, confidence) = decide(input, &facts);
    Classification {
        cause,
        confidence,
        evidence: normalize(evidence_rows(input, &facts)),
        warnings: warnings(input, &facts),
        suspect_deploy_id: facts
            .deployment
            .as_ref()
            .map(|d| d.id.clone())
            .unwrap_or_default(),
        facts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::inputs::{EventStep, SignalMeta};

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

    fn sig(id: &str, kind: &str, service: &str, at: i64) -> SignalRow {
        SignalRow {
            signal_id: id.into(),
            kind: kind.into(),
            source: "k8s".into(),
            service: service.into(),
            env: "prod".into(),
            severity: "critical".into(),
            reason: format!("{kind}_reason"),
            timestamp_ns: at,
            meta: SignalMeta::default(),
            metadata_json: None,
        }
    }

    fn deployment(id: &str, version: &str, env: &str, at: i64) -> DeploymentRow {
        DeploymentRow {
            id: id.into(),
            service: "checkout".into(),
            env: env.into(),
            version: version.into(),
            first_seen_ns: at,
            ..DeploymentRow::default()
        }
    }

    struct Case {
        family: ErrorFamily,
        samples: Vec<String>,
        events: Vec<FailingEvent>,
        signals: Vec<SignalRow>,
        deployments: Vec<DeploymentRow>,
        alerts: Vec<SignalRow>,
        runtime: Vec<SignalRow>,
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
        c.alerts[0].severity.clear();
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
}
