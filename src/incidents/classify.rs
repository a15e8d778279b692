//! Cause classification (spec triage §3): derived facts and warnings (§3.1), evidence rows
//! (§3.2), the decision table (§3.3), deploy-versus-dependency timing (§3.4), the suspect
//! deploy (§3.5) and evidence normalization with its cap (§3.6).
//!
//! Inputs keep the orders the spec reads them in ("first" = most recent): E and S newest first,
//! D by `first_seen` desc then `id` asc, A newest first, R in the §2.9 runtime order.

use std::collections::HashSet;

use super::inputs::{Deployment, FailingEvent, Signal, SignalType, env_compatible};
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
    pub signals: &'a [Signal],
    /// D, `first_seen` desc, `id` asc.
    pub deployments: &'a [Deployment],
    /// A: the alert signals attached by §7.6, newest first.
    pub alerts: &'a [Signal],
    /// R: runtime / healthcheck signals, §2.9 order.
    pub runtime: &'a [Signal],
    /// `Some` for traffic / latency anomaly incidents (§2.11).
    pub anomaly: Option<ServiceFacts>,
}

/// §3.1 derived facts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    pub downstream: String,
    pub version: String,
    pub dep_sig: Option<Signal>,
    pub deployment: Option<Deployment>,
    pub deploy_sig: Option<Signal>,
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
                .find(|s| s.kind == SignalType::Dependency && s.service == downstream)
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
                s.kind == SignalType::Deploy
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
    if !facts.downstream.is_empty()
        && !input
            .signals
            .iter()
            .any(|s| s.kind == SignalType::Dependency)
    {
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
pub fn signal_evidence(sig: &Signal, title: String) -> Evidence {
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
pub fn runtime_evidence(sig: &Signal) -> Evidence {
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
            a.severity.as_str(),
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
mod tests;
