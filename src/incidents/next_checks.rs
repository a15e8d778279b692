//! Next checks (spec triage §4): evidence-backed instructions per cause, then gap checks, then
//! a fallback. A line is emitted only when every value it names is present (non-blank); `a |
//! b` alternatives take the first whose values are all present, so no line ever carries an
//! empty placeholder.

use super::classify::{Classification, ClassifyInput};
use super::inputs::Signal;
use super::model::{Cause, short, text_time};

/// R[0] as the runtime lines read it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeRef {
    pub signal_id: String,
    pub reason: String,
    pub subtype: String,
}

/// The top alert of A as the alert line reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertRef {
    pub alert_id: String,
    pub signal_id: String,
    pub source: String,
    pub provider_url: String,
}

/// Every value a check line may name (§4 "Values"); blank means absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckValues {
    pub cause: Cause,
    pub service: String,
    pub step: String,
    pub code: String,
    /// `t`: `sample_traces[0]`, else the trace of E's newest event.
    pub trace: String,
    /// `d`.
    pub downstream: String,
    pub dep_signal_id: String,
    pub dep_reason: String,
    /// `V`: the deployment's version, else the deploy signal's `metadata.version`.
    pub deploy_version: String,
    /// The matched deployment's `first_seen` (deployments only).
    pub first_seen_ns: Option<i64>,
    pub deploy_signal_id: String,
    /// R[0], only when the cause is `runtime`.
    pub runtime: Option<RuntimeRef>,
    pub top_alert: Option<AlertRef>,
    /// The classification's warnings.
    pub warnings: Vec<String>,
}

/// The alert of A with the highest severity rank, ties → latest `timestamp`, then greater
/// `signal_id`.
pub fn top_alert(alerts: &[Signal]) -> Option<&Signal> {
    alerts.iter().max_by(|a, b| {
        (a.severity, a.timestamp_ns, &a.signal_id).cmp(&(b.severity, b.timestamp_ns, &b.signal_id))
    })
}

/// Gather the values from the classification input and its outcome.
pub fn check_values(input: &ClassifyInput<'_>, c: &Classification) -> CheckValues {
    let f = &c.facts;
    let trace = input
        .sample_traces
        .first()
        .or_else(|| input.events.first().map(|e| &e.trace_id))
        .cloned()
        .unwrap_or_default();
    let deploy_version = f
        .deployment
        .as_ref()
        .map(|d| d.version.clone())
        .filter(|v| !v.trim().is_empty())
        .or_else(|| f.deploy_sig.as_ref().map(|s| s.meta.version.clone()))
        .unwrap_or_default();
    let runtime = (c.cause == Cause::Runtime)
        .then(|| input.runtime.first())
        .flatten()
        .map(|r| RuntimeRef {
            signal_id: r.signal_id.clone(),
            reason: r.reason.clone(),
            subtype: r.meta.subtype.clone(),
        });
    CheckValues {
        cause: c.cause,
        service: input.family.service.clone(),
        step: input.family.step.clone(),
        code: input.family.error_code.clone(),
        trace,
        downstream: f.downstream.clone(),
        dep_signal_id: f
            .dep_sig
            .as_ref()
            .map(|s| s.signal_id.clone())
            .unwrap_or_default(),
        dep_reason: f
            .dep_sig
            .as_ref()
            .map(|s| s.reason.clone())
            .unwrap_or_default(),
        deploy_version,
        first_seen_ns: f.deployment.as_ref().map(|d| d.first_seen_ns),
        deploy_signal_id: f
            .deploy_sig
            .as_ref()
            .map(|s| s.signal_id.clone())
            .unwrap_or_default(),
        runtime,
        top_alert: top_alert(input.alerts).map(|a| AlertRef {
            alert_id: a.meta.alert_id.clone(),
            signal_id: a.signal_id.clone(),
            source: a.source.clone(),
            provider_url: a.meta.provider_url.clone(),
        }),
        warnings: c.warnings.clone(),
    }
}

/// `Some(s)` when `s` is not blank.
fn present(s: &str) -> Option<&str> {
    (!s.trim().is_empty()).then_some(s)
}

const FALLBACK: &str = "waylog has no evidence-backed checks for this incident yet. Verify ingest \
                        is receiving events and signals for this service.";

/// The present values, `short()` already applied where the templates use it.
struct Vals<'a> {
    svc: Option<&'a str>,
    step: Option<&'a str>,
    code: Option<&'a str>,
    t: Option<String>,
    d: Option<&'a str>,
    v: Option<&'a str>,
}

fn deploy_lines(cv: &CheckValues, x: &Vals<'_>) -> Vec<Option<String>> {
    let first_seen = cv.first_seen_ns.map(text_time);
    let compare = x.v.map(|v| match (x.svc, &first_seen) {
        (Some(s), Some(at)) => {
            format!("Compare incident onset with deploy `{v}` on `{s}`, first seen at {at}.")
        }
        (Some(s), None) => format!("Compare incident onset with deploy `{v}` on `{s}`."),
        (None, _) => format!("Compare incident onset with deploy `{v}`."),
    });
    let review = present(&cv.deploy_signal_id).map(|id| match x.svc {
        Some(s) => format!("Review deploy signal `{}` on `{s}`.", short(id)),
        None => format!("Review deploy signal `{}`.", short(id)),
    });
    let trace = x.t.as_ref().zip(x.svc).map(|(t, s)| {
        format!("Inspect sampled trace `{t}` on `{s}` for the deployed-version marker.")
    });
    let downstream = x
        .d
        .map(|d| format!("Also verify downstream `{d}` — it was implicated in the same window."));
    vec![compare, review, trace, downstream]
}

fn dependency_lines(cv: &CheckValues, x: &Vals<'_>) -> Vec<Option<String>> {
    let trace = x.t.as_ref().zip(x.d).map(|(t, d)| match x.step {
        Some(step) => {
            format!("Inspect sampled trace `{t}` at `{step}` for the failing call to `{d}`.")
        }
        None => format!("Inspect sampled trace `{t}` for the failing call to `{d}`."),
    });
    let review = present(&cv.dep_signal_id)
        .zip(present(&cv.dep_reason))
        .zip(x.d)
        .map(|((id, reason), d)| {
            format!(
                "Review dependency signal `{}`: `{reason}` on `{d}`.",
                short(id)
            )
        });
    let deploy = x.v.map(|v| match x.svc {
        Some(s) => format!("Also verify recent deploy `{v}` on `{s}`."),
        None => format!("Also verify recent deploy `{v}`."),
    });
    vec![trace, review, deploy, alert_line(cv)]
}

/// The subtype line of the runtime cause (svc required).
fn subtype_line(subtype: &str, svc: Option<&str>) -> Option<String> {
    let svc = svc?;
    let sub = subtype.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| sub.contains(w));
    if has(&["oom", "memory"]) {
        Some(format!(
            "Inspect memory usage for `{svc}` around the runtime event."
        ))
    } else if has(&["readiness", "liveness", "probe"]) {
        Some(format!(
            "Review readiness/liveness probe history for `{svc}` around the runtime event."
        ))
    } else if has(&["crashloop", "restart"]) {
        Some(format!(
            "Check `{svc}` restart history around the runtime event."
        ))
    } else {
        None
    }
}

fn runtime_lines(cv: &CheckValues, x: &Vals<'_>) -> Vec<Option<String>> {
    let rt = cv.runtime.as_ref();
    let review = rt.and_then(|r| {
        let id = present(&r.signal_id)?;
        let reason = present(&r.reason)?;
        let svc = x.svc?;
        Some(format!(
            "Review runtime signal `{}`: `{reason}` on `{svc}`.",
            short(id)
        ))
    });
    let subtype = rt.and_then(|r| subtype_line(&r.subtype, x.svc));
    let trace = x.t.as_ref().zip(x.svc).map(|(t, s)| {
        format!("Inspect sampled trace `{t}` on `{s}` overlapping the runtime event.")
    });
    vec![review, subtype, trace, alert_line(cv)]
}

fn app_lines(cv: &CheckValues, x: &Vals<'_>) -> Vec<Option<String>> {
    let trace = x.t.as_ref().map(|t| match (x.step, x.code) {
        (Some(step), Some(code)) => {
            format!("Inspect sampled trace `{t}` at `{step}` for `{code}`.")
        }
        (Some(step), None) => format!("Inspect sampled trace `{t}` at `{step}`."),
        (None, _) => format!("Inspect sampled trace `{t}`."),
    });
    vec![trace, alert_line(cv)]
}

fn unknown_lines(cv: &CheckValues, x: &Vals<'_>) -> Vec<Option<String>> {
    let trace =
        x.t.as_ref()
            .map(|t| format!("Inspect sampled trace `{t}` to confirm the failure mode."));
    vec![trace, alert_line(cv)]
}

/// `Open matched alert …`: id = the top alert's `alert_id`, else `short(signal_id)`.
fn alert_line(cv: &CheckValues) -> Option<String> {
    let a = cv.top_alert.as_ref()?;
    let id = present(&a.alert_id)
        .map(str::to_owned)
        .or_else(|| present(&a.signal_id).map(short))?;
    Some(match (present(&a.source), present(&a.provider_url)) {
        (Some(src), Some(url)) => format!("Open matched alert `{id}` in {src} ({url})."),
        (Some(src), None) => format!("Open matched alert `{id}` from {src}."),
        (None, Some(url)) => format!("Open matched alert `{id}` ({url})."),
        (None, None) => format!("Open matched alert `{id}`."),
    })
}

fn gap_lines(cv: &CheckValues, x: &Vals<'_>) -> Vec<Option<String>> {
    let has = |w: &str| cv.warnings.iter().any(|x| x == w);
    let version = has("missing_service_version")
        .then(|| {
            x.svc.map(|s| {
                format!("Add `service.version` to events from `{s}` to enable deploy correlation.")
            })
        })
        .flatten();
    let dependency = has("missing_dependency_signal")
        .then(|| {
            x.svc.zip(x.d).map(|(s, d)| {
                format!("Add dependency signals for `{s}` → `{d}` to confirm the downstream cause.")
            })
        })
        .flatten();
    let partial = has("partial_trace").then(|| {
        "Some events arrived without complete span fan-out — verify trace propagation in the \
         SDK middleware."
            .to_owned()
    });
    vec![version, dependency, partial]
}

/// §4: the cause's lines, the gap checks, or the fallback when nothing applies.
pub fn next_checks(cv: &CheckValues) -> Vec<String> {
    let x = Vals {
        svc: present(&cv.service),
        step: present(&cv.step),
        code: present(&cv.code),
        t: present(&cv.trace).map(short),
        d: present(&cv.downstream),
        v: present(&cv.deploy_version),
    };
    let cause_lines = match cv.cause {
        Cause::Deploy => deploy_lines(cv, &x),
        Cause::Dependency => dependency_lines(cv, &x),
        Cause::Runtime => runtime_lines(cv, &x),
        Cause::App => app_lines(cv, &x),
        Cause::Unknown => unknown_lines(cv, &x),
    };
    let mut out: Vec<String> = cause_lines
        .into_iter()
        .chain(gap_lines(cv, &x))
        .flatten()
        .collect();
    if out.is_empty() {
        out.push(FALLBACK.to_owned());
    }
    out
}

#[cfg(test)]
mod tests;
