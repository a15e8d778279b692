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

use super::inputs::{Signal, env_compatible};
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
pub fn named_incident<'a>(alert: &'a Signal, lookup: &impl MatchLookup) -> Option<&'a str> {
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
    alert: &Signal,
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
    alert: &Signal,
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
    alert: &Signal,
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
pub fn matched_alert(alert: &Signal, strategy: MatchStrategy) -> MatchedAlert {
    MatchedAlert {
        signal_id: alert.signal_id.clone(),
        alert_id: alert.meta.alert_id.clone(),
        source: alert.source.clone(),
        severity: alert.severity.as_str().to_string(),
        reason: alert.reason.clone(),
        provider_url: alert.meta.provider_url.clone(),
        evidence_ids: vec![alert.signal_id.clone()],
        matched_at: alert.timestamp_ns,
        strategy,
    }
}

#[cfg(test)]
mod tests;
