use super::*;

const MIN: i64 = 60 * 1_000_000_000;
const START: i64 = 1_777_896_180_000_000_000; // 12:03:00
const AMW: i64 = 15 * MIN;

fn fam() -> ErrorFamily {
    ErrorFamily::new("checkout", "payment.charge", "PMT_502")
}

fn inc(id: &str) -> Incident {
    Incident::skeleton(id.into(), "prod".into(), fam(), START, START + 5 * MIN)
}

fn alert(ts: i64) -> Signal {
    let mut a = Signal {
        signal_id: "sig_a".into(),
        kind: "alert".into(),
        source: "alertmanager".into(),
        service: "checkout".into(),
        env: "prod".into(),
        severity: "critical".into(),
        reason: "PMT_502 spike".into(),
        timestamp_ns: ts,
        ..Signal::default()
    };
    a.meta.error_code = "PMT_502".into();
    a
}

fn lookup(
    known: &'static [&'static str],
) -> FnLookup<impl Fn(&str) -> bool, impl Fn(&str) -> Option<ErrorFamily>> {
    FnLookup {
        exists: move |id: &str| known.contains(&id),
        story: |trace: &str| match trace {
            "trace-f" => Some(fam()),
            "trace-other" => Some(ErrorFamily::new("payment", "acquirer.charge", "PMT_502")),
            _ => None,
        },
    }
}

#[test]
fn family_match_inside_window_bounds() {
    let l = lookup(&[]);
    let i = inc("inc_1");
    let t_hi = START + 5 * MIN;
    assert_eq!(
        matches(&alert(START), &i, t_hi, AMW, &l),
        Some(MatchStrategy::Family)
    );
    assert!(matches(&alert(START - AMW), &i, t_hi, AMW, &l).is_some());
    assert!(matches(&alert(START - AMW - 1), &i, t_hi, AMW, &l).is_none());
    assert!(matches(&alert(t_hi + AMW), &i, t_hi, AMW, &l).is_some());
    assert!(matches(&alert(t_hi + AMW + 1), &i, t_hi, AMW, &l).is_none());
}

#[test]
fn family_match_needs_service_code_step_and_env() {
    let l = lookup(&[]);
    let i = inc("inc_1");
    let check = |a: &Signal| matches(a, &i, START, AMW, &l);
    let mut a = alert(START);
    a.meta.step = "payment.charge".into();
    assert_eq!(check(&a), Some(MatchStrategy::Family));
    a.meta.step = "other".into();
    assert_eq!(check(&a), None);
    let mut a = alert(START);
    a.service = "payment".into();
    assert_eq!(check(&a), None);
    let mut a = alert(START);
    a.meta.error_code = "PMT_503".into();
    assert_eq!(check(&a), None);
    let mut a = alert(START);
    a.meta.error_code.clear();
    assert_eq!(check(&a), None);
    let mut a = alert(START);
    a.env = "demo".into();
    assert_eq!(check(&a), None);
    a.env.clear();
    assert_eq!(check(&a), Some(MatchStrategy::Family));
}

#[test]
fn trace_match_uses_the_story_family() {
    let l = lookup(&[]);
    let i = inc("inc_1");
    let mut a = alert(START);
    a.meta.error_code.clear();
    a.meta.trace_id = "trace-f".into();
    assert_eq!(
        matches(&a, &i, START, AMW, &l),
        Some(MatchStrategy::TraceId)
    );
    a.meta.trace_id = "trace-other".into();
    assert_eq!(matches(&a, &i, START, AMW, &l), None);
    // A non-matching trace falls through to the family step.
    a.meta.error_code = "PMT_502".into();
    assert_eq!(matches(&a, &i, START, AMW, &l), Some(MatchStrategy::Family));
    a.meta.trace_id = "trace-unknown".into();
    assert_eq!(matches(&a, &i, START, AMW, &l), Some(MatchStrategy::Family));
    // Out of window: no trace match either.
    a.meta.trace_id = "trace-f".into();
    let far = START + 100 * AMW;
    let mut late = a.clone();
    late.timestamp_ns = far;
    assert_eq!(matches(&late, &i, START, AMW, &l), None);
}

#[test]
fn incident_id_step_is_exclusive_and_ignores_window() {
    let l = lookup(&["inc_1", "inc_2"]);
    let i1 = inc("inc_1");
    let mut a = alert(START + 1000 * AMW);
    a.env = "demo".into();
    a.meta.incident_id = "inc_1".into();
    assert_eq!(
        matches(&a, &i1, START, AMW, &l),
        Some(MatchStrategy::IncidentId)
    );
    // Names another existing incident: no family fallback for inc_1.
    let mut b = alert(START);
    b.meta.incident_id = "inc_2".into();
    assert_eq!(matches(&b, &i1, START, AMW, &l), None);
    // Names no incident: ignored, the family step applies.
    b.meta.incident_id = "inc_missing".into();
    assert_eq!(
        matches(&b, &i1, START, AMW, &l),
        Some(MatchStrategy::Family)
    );
}

#[test]
fn intake_match_first_active_wins_or_none() {
    let l = lookup(&["inc_resolved"]);
    let mut other = inc("inc_other");
    other.error_family = ErrorFamily::new("api", "x", "E1");
    let actives = [other, inc("inc_a"), inc("inc_b")];
    assert_eq!(
        intake_match(&alert(START), &actives, AMW, &l),
        (Some("inc_a".to_string()), MatchStrategy::Family)
    );
    let mut named = alert(START);
    named.meta.incident_id = "inc_resolved".into();
    assert_eq!(
        intake_match(&named, &actives, AMW, &l),
        (Some("inc_resolved".to_string()), MatchStrategy::IncidentId)
    );
    let mut stale = alert(START);
    stale.meta.error_code = "NOPE".into();
    assert_eq!(
        intake_match(&stale, &actives, AMW, &l),
        (None, MatchStrategy::None)
    );
}

#[test]
fn matched_alert_copies_signal_fields() {
    let mut a = alert(START);
    a.meta.alert_id = "fp".into();
    a.meta.provider_url = "http://x".into();
    let m = matched_alert(&a, MatchStrategy::Family);
    assert_eq!(m.evidence_ids, ["sig_a"]);
    assert_eq!(m.matched_at, START);
    assert_eq!(m.alert_id, "fp");
    assert_eq!(m.provider_url, "http://x");
    assert_eq!(m.strategy, MatchStrategy::Family);
}
