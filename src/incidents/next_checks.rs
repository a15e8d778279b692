//! Next checks (spec triage §4): evidence-backed instructions per cause, then gap checks, then
//! a fallback. A line is emitted only when every value it names is present (non-blank); `a |
//! b` alternatives take the first whose values are all present, so no line ever carries an
//! empty placeholder.

use super::classify::{Classification, ClassifyInput};
use super::inputs::{SignalRow, severity_rank};
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
pub fn top_alert(alerts: &[SignalRow]) -> Option<&SignalRow> {
    alerts.iter().max_by(|a, b| {
        (severity_rank(&a.severity), a.timestamp_ns, &a.signal_id).cmp(&(
            severity_rank(&b.severity),
            b.timestamp_ns,
            &b.signal_id,
        ))
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
mod tests {
    use super::*;
    use crate::rfc3339::parse_rfc3339_ns;

    fn full(cause: Cause) -> CheckValues {
        CheckValues {
            cause,
            service: "checkout".into(),
            step: "payment.charge".into(),
            code: "PMT_502".into(),
            trace: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            downstream: "payment".into(),
            dep_signal_id: "sig_9b2d6c1e4f7a48d3a0c5e1f2b3c4d5e6".into(),
            dep_reason: "payment_gateway_5xx".into(),
            deploy_version: "2.4.1".into(),
            first_seen_ns: parse_rfc3339_ns("2026-05-04T12:01:30.5Z"),
            deploy_signal_id: "sig_deadbeefdeadbeef".into(),
            runtime: Some(RuntimeRef {
                signal_id: "sig_runtime00000001".into(),
                reason: "OOMKilled".into(),
                subtype: "oom_killed".into(),
            }),
            top_alert: Some(AlertRef {
                alert_id: "alert_pmt_502".into(),
                signal_id: "sig_alert000000001".into(),
                source: "grafana".into(),
                provider_url: "https://grafana.example.com/d/checkout".into(),
            }),
            warnings: vec![],
        }
    }

    #[test]
    fn deploy_lines_with_every_value() {
        assert_eq!(
            next_checks(&full(Cause::Deploy)),
            [
                "Compare incident onset with deploy `2.4.1` on `checkout`, first seen at 2026-05-04T12:01:30Z.",
                "Review deploy signal `sig_deadbeef…` on `checkout`.",
                "Inspect sampled trace `4bf92f3577b3…` on `checkout` for the deployed-version marker.",
                "Also verify downstream `payment` — it was implicated in the same window.",
            ]
        );
    }

    #[test]
    fn deploy_alternatives_fall_back_in_order() {
        let mut cv = full(Cause::Deploy);
        cv.first_seen_ns = None;
        cv.downstream.clear();
        cv.trace.clear();
        assert_eq!(
            next_checks(&cv),
            [
                "Compare incident onset with deploy `2.4.1` on `checkout`.",
                "Review deploy signal `sig_deadbeef…` on `checkout`.",
            ]
        );
        cv.service.clear();
        cv.first_seen_ns = Some(0);
        assert_eq!(
            next_checks(&cv),
            [
                "Compare incident onset with deploy `2.4.1`.",
                "Review deploy signal `sig_deadbeef…`.",
            ]
        );
    }

    #[test]
    fn dependency_lines_and_alternatives() {
        assert_eq!(
            next_checks(&full(Cause::Dependency)),
            [
                "Inspect sampled trace `4bf92f3577b3…` at `payment.charge` for the failing call to `payment`.",
                "Review dependency signal `sig_9b2d6c1e…`: `payment_gateway_5xx` on `payment`.",
                "Also verify recent deploy `2.4.1` on `checkout`.",
                "Open matched alert `alert_pmt_502` in grafana (https://grafana.example.com/d/checkout).",
            ]
        );
        let mut cv = full(Cause::Dependency);
        cv.step.clear();
        cv.service.clear();
        cv.dep_reason.clear();
        assert_eq!(
            next_checks(&cv),
            [
                "Inspect sampled trace `4bf92f3577b3…` for the failing call to `payment`.",
                "Also verify recent deploy `2.4.1`.",
                "Open matched alert `alert_pmt_502` in grafana (https://grafana.example.com/d/checkout).",
            ]
        );
    }

    #[test]
    fn runtime_lines_and_subtypes() {
        assert_eq!(
            next_checks(&full(Cause::Runtime)),
            [
                "Review runtime signal `sig_runtime0…`: `OOMKilled` on `checkout`.",
                "Inspect memory usage for `checkout` around the runtime event.",
                "Inspect sampled trace `4bf92f3577b3…` on `checkout` overlapping the runtime event.",
                "Open matched alert `alert_pmt_502` in grafana (https://grafana.example.com/d/checkout).",
            ]
        );
        let line = |sub: &str| subtype_line(sub, Some("svc"));
        assert_eq!(
            line("Readiness_Fail").unwrap(),
            "Review readiness/liveness probe history for `svc` around the runtime event."
        );
        assert_eq!(line("liveness_fail"), line("probe"));
        assert_eq!(
            line("crashloop").unwrap(),
            "Check `svc` restart history around the runtime event."
        );
        assert_eq!(line("restart"), line("crashloop"));
        assert_eq!(line("memory_pressure"), line("oom_killed"));
        assert_eq!(line("panic"), None);
        assert_eq!(line(""), None);
        assert_eq!(subtype_line("oom_killed", None), None);
    }

    #[test]
    fn app_and_unknown_lines() {
        let mut cv = full(Cause::App);
        cv.top_alert = None;
        assert_eq!(
            next_checks(&cv),
            ["Inspect sampled trace `4bf92f3577b3…` at `payment.charge` for `PMT_502`."]
        );
        cv.code.clear();
        assert_eq!(
            next_checks(&cv),
            ["Inspect sampled trace `4bf92f3577b3…` at `payment.charge`."]
        );
        cv.step.clear();
        cv.code = "PMT_502".into();
        assert_eq!(next_checks(&cv), ["Inspect sampled trace `4bf92f3577b3…`."]);
        let mut cv = full(Cause::Unknown);
        cv.trace = "short-trace".into();
        assert_eq!(
            next_checks(&cv),
            [
                "Inspect sampled trace `short-trace` to confirm the failure mode.",
                "Open matched alert `alert_pmt_502` in grafana (https://grafana.example.com/d/checkout).",
            ]
        );
    }

    #[test]
    fn alert_line_alternatives() {
        let mut cv = full(Cause::Unknown);
        cv.trace.clear();
        let line = |cv: &CheckValues| next_checks(cv)[0].clone();
        if let Some(a) = cv.top_alert.as_mut() {
            a.provider_url.clear();
        }
        assert_eq!(
            line(&cv),
            "Open matched alert `alert_pmt_502` from grafana."
        );
        if let Some(a) = cv.top_alert.as_mut() {
            a.source.clear();
            a.provider_url = "https://x".into();
        }
        assert_eq!(line(&cv), "Open matched alert `alert_pmt_502` (https://x).");
        if let Some(a) = cv.top_alert.as_mut() {
            a.provider_url.clear();
            a.alert_id.clear();
        }
        assert_eq!(line(&cv), "Open matched alert `sig_alert000…`.");
        if let Some(a) = cv.top_alert.as_mut() {
            a.signal_id.clear();
        }
        assert!(line(&cv).starts_with("waylog has no evidence-backed checks"));
    }

    #[test]
    fn gap_checks_follow_in_spec_order_for_every_cause() {
        for cause in Cause::ALL {
            let mut cv = full(*cause);
            cv.warnings = vec![
                "missing_dependency_signal".into(),
                "missing_service_version".into(),
                "partial_trace".into(),
            ];
            let out = next_checks(&cv);
            let n = out.len();
            assert_eq!(
                out[n - 3..],
                [
                    "Add `service.version` to events from `checkout` to enable deploy correlation.",
                    "Add dependency signals for `checkout` → `payment` to confirm the downstream cause.",
                    "Some events arrived without complete span fan-out — verify trace propagation in the SDK middleware.",
                ]
            );
        }
    }

    #[test]
    fn fallback_when_nothing_applies() {
        let cv = CheckValues {
            cause: Cause::Unknown,
            service: String::new(),
            step: String::new(),
            code: String::new(),
            trace: String::new(),
            downstream: String::new(),
            dep_signal_id: String::new(),
            dep_reason: String::new(),
            deploy_version: String::new(),
            first_seen_ns: None,
            deploy_signal_id: String::new(),
            runtime: None,
            top_alert: None,
            warnings: vec!["missing_service_version".into()],
        };
        assert_eq!(
            next_checks(&cv),
            [
                "waylog has no evidence-backed checks for this incident yet. Verify ingest is receiving events and signals for this service."
            ]
        );
    }

    #[test]
    fn top_alert_prefers_severity_then_time_then_signal_id() {
        let a = |id: &str, sev: &str, ts: i64| SignalRow {
            signal_id: id.into(),
            severity: sev.into(),
            timestamp_ns: ts,
            ..SignalRow::default()
        };
        let alerts = [
            a("sig_1", "warning", 9),
            a("sig_2", "critical", 1),
            a("sig_3", "critical", 5),
            a("sig_4", "critical", 5),
        ];
        assert_eq!(top_alert(&alerts).unwrap().signal_id, "sig_4");
        assert_eq!(top_alert(&alerts[..3]).unwrap().signal_id, "sig_3");
        assert!(top_alert(&[]).is_none());
    }

    /// Deterministic bit source for the exhaustive-ish sweep.
    fn mix(mut x: u64) -> u64 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }

    /// Check a line has no empty or blank placeholder and no template residue.
    fn assert_clean(line: &str, cv: &CheckValues) {
        for bad in [
            "``", "` `", "()", "( )", " .", "  ", " ,", "{", "}", "at .", "from .",
        ] {
            assert!(!line.contains(bad), "{bad:?} in {line:?} for {cv:?}");
        }
        assert!(line.ends_with('.'), "{line:?}");
        assert!(!line.trim().is_empty());
    }

    #[test]
    fn no_line_ever_has_an_empty_placeholder() {
        let blank = |bit: bool, i: u64, value: &str| -> String {
            if bit {
                value.to_owned()
            } else if i.is_multiple_of(2) {
                String::new()
            } else {
                "  ".to_owned()
            }
        };
        let subtypes = [
            "",
            "oom_killed",
            "readiness_fail",
            "crashloop",
            "panic",
            " ",
        ];
        let warnings = [
            "missing_service_version",
            "missing_dependency_signal",
            "partial_trace",
        ];
        for cause in Cause::ALL {
            for bits in 0u64..(1 << 11) {
                let b = |k: u32| (bits >> k) & 1 == 1;
                let r = mix(bits ^ ((*cause as u64) << 20));
                let rb = |k: u32| (r >> k) & 1 == 1;
                let cv = CheckValues {
                    cause: *cause,
                    service: blank(b(0), r, "checkout"),
                    step: blank(b(1), r >> 1, "payment.charge"),
                    code: blank(b(2), r >> 2, "PMT_502"),
                    trace: blank(b(3), r >> 3, "4bf92f3577b34da6a3ce929d0e0e4736"),
                    downstream: blank(b(4), r >> 4, "payment"),
                    dep_signal_id: blank(b(5), r >> 5, "sig_dep"),
                    dep_reason: blank(b(6), r >> 6, "payment_gateway_5xx"),
                    deploy_version: blank(b(7), r >> 7, "2.4.1"),
                    first_seen_ns: b(8).then_some(1_777_896_000_000_000_000),
                    deploy_signal_id: blank(b(9), r >> 8, "sig_deploy"),
                    runtime: b(10).then(|| RuntimeRef {
                        signal_id: blank(rb(10), r >> 11, "sig_rt"),
                        reason: blank(rb(12), r >> 13, "OOMKilled"),
                        subtype: subtypes[(r >> 14) as usize % subtypes.len()].to_owned(),
                    }),
                    top_alert: rb(20).then(|| AlertRef {
                        alert_id: blank(rb(21), r >> 22, "fp1"),
                        signal_id: blank(rb(23), r >> 24, "sig_alert"),
                        source: blank(rb(25), r >> 26, "alertmanager"),
                        provider_url: blank(rb(27), r >> 28, "http://am/x"),
                    }),
                    warnings: warnings
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| rb(30 + *i as u32))
                        .map(|(_, w)| (*w).to_owned())
                        .collect(),
                };
                let out = next_checks(&cv);
                assert!(!out.is_empty());
                for line in &out {
                    assert_clean(line, &cv);
                }
            }
        }
    }
}
