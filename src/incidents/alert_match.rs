//! The alert matching rule (spec triage §7.4) and the intake match built on it (§7.6).
//!
//! `matches(alert, inc, t_hi)` with window `[inc.started_at − AMW, t_hi + AMW]`; the first step
//! that matches names the strategy, and step 1, when it applies, is exclusive:
//! 1. `metadata.incident_id` names an existing incident → match iff it is `inc` (no window or
//!    status check); an id naming no incident is ignored;
//! 2. `metadata.trace_id`: the trace's story family equals `inc`'s, env compatible, in window;
//! 3. `metadata.error_code`: same service and code, step empty or equal, env compatible, in
//!    window.
//!
//! Lookups the rule needs (does an incident id exist, what is a trace's story family) are
//! supplied by the caller, which resolves them from storage beforehand.

use super::inputs::{SignalRow, env_compatible};
use super::model::{ErrorFamily, Incident, MatchStrategy, MatchedAlert};

/// What the rule reads about the alert's surroundings.
pub trait MatchLookup {
    /// Does an incident (any status) with this id exist?
    fn incident_exists(&self, incident_id: &str) -> bool;
    /// The story family `(service, anchor.step, anchor.error_code)` of the trace (reads §4.1,
    /// `trace_id` mode); `None` when there is no story or it has no anchor.
    fn story_family(&self, trace_id: &str) -> Option<ErrorFamily>;
}

/// A [`MatchLookup`] from two closures.
pub struct FnLookup<E, S> {
    pub exists: E,
    pub story: S,
}

impl<E, S> MatchLookup for FnLookup<E, S>
where
    E: Fn(&str) -> bool,
    S: Fn(&str) -> Option<ErrorFamily>,
{
    fn incident_exists(&self, incident_id: &str) -> bool {
        (self.exists)(incident_id)
    }

    fn story_family(&self, trace_id: &str) -> Option<ErrorFamily> {
        (self.story)(trace_id)
    }
}

/// Step 1 alone: `Some(id)` when the alert names an existing incident (exclusive), else `None`.
pub fn named_incident<'a>(alert: &'a SignalRow, lookup: &impl MatchLookup) -> Option<&'a str> {
    let id = alert.meta.incident_id.as_str();
    (!id.is_empty() && lookup.incident_exists(id)).then_some(id)
}

fn in_window(ts: i64, started_at: i64, t_hi: i64, amw_ns: i64) -> bool {
    let lo = started_at.saturating_sub(amw_ns);
    let hi = t_hi.saturating_add(amw_ns);
    lo <= ts && ts <= hi
}

/// Steps 2 and 3 (the alert names no existing incident).
fn match_by_evidence(
    alert: &SignalRow,
    inc: &Incident,
    t_hi: i64,
    amw_ns: i64,
    lookup: &impl MatchLookup,
) -> Option<MatchStrategy> {
    let f = &inc.error_family;
    let meta = &alert.meta;
    let eligible = env_compatible(&alert.env, &inc.env)
        && in_window(alert.timestamp_ns, inc.started_at, t_hi, amw_ns);
    if !eligible {
        return None;
    }
    if !meta.trace_id.is_empty() && lookup.story_family(&meta.trace_id).as_ref() == Some(f) {
        return Some(MatchStrategy::TraceId);
    }
    let family_match = !meta.error_code.is_empty()
        && alert.service == f.service
        && meta.error_code == f.error_code
        && (meta.step.is_empty() || meta.step == f.step);
    family_match.then_some(MatchStrategy::Family)
}

/// `matches(alert, inc, t_hi)` of §7.4: the strategy that matched, or `None`.
pub fn matches(
    alert: &SignalRow,
    inc: &Incident,
    t_hi: i64,
    amw_ns: i64,
    lookup: &impl MatchLookup,
) -> Option<MatchStrategy> {
    if let Some(id) = named_incident(alert, lookup) {
        return (id == inc.incident_id).then_some(MatchStrategy::IncidentId);
    }
    match_by_evidence(alert, inc, t_hi, amw_ns, lookup)
}

/// The intake match (§7.6): step 1 against all incidents, then steps 2–3 against `active`
/// (`/v1/incidents/active` order, `t_hi = inc.updated_at`); first match wins. Returns the
/// matched incident id and the strategy (`none` with no id when nothing matched).
pub fn intake_match(
    alert: &SignalRow,
    active: &[Incident],
    amw_ns: i64,
    lookup: &impl MatchLookup,
) -> (Option<String>, MatchStrategy) {
    if let Some(id) = named_incident(alert, lookup) {
        return (Some(id.to_owned()), MatchStrategy::IncidentId);
    }
    active
        .iter()
        .find_map(|inc| {
            match_by_evidence(alert, inc, inc.updated_at, amw_ns, lookup)
                .map(|s| (Some(inc.incident_id.clone()), s))
        })
        .unwrap_or((None, MatchStrategy::None))
}

/// The `MatchedAlert` of an attached alert.
pub fn matched_alert(alert: &SignalRow, strategy: MatchStrategy) -> MatchedAlert {
    MatchedAlert {
        signal_id: alert.signal_id.clone(),
        alert_id: alert.meta.alert_id.clone(),
        source: alert.source.clone(),
        severity: alert.severity.clone(),
        reason: alert.reason.clone(),
        provider_url: alert.meta.provider_url.clone(),
        evidence_ids: vec![alert.signal_id.clone()],
        matched_at: alert.timestamp_ns,
        strategy,
    }
}

#[cfg(test)]
mod tests {
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

    fn alert(ts: i64) -> SignalRow {
        let mut a = SignalRow {
            signal_id: "sig_a".into(),
            kind: "alert".into(),
            source: "alertmanager".into(),
            service: "checkout".into(),
            env: "prod".into(),
            severity: "critical".into(),
            reason: "PMT_502 spike".into(),
            timestamp_ns: ts,
            ..SignalRow::default()
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
        let check = |a: &SignalRow| matches(a, &i, START, AMW, &l);
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
}
