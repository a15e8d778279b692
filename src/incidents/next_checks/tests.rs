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
    let a = |id: &str, sev: &str, ts: i64| Signal {
        signal_id: id.into(),
        severity: sev.into(),
        timestamp_ns: ts,
        ..Signal::default()
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
