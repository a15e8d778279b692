//! Building or refreshing an error-family incident (spec triage §2.5) from what the tick read:
//! the candidate row, the cached incident, E, the blast read, the sampled trace's story, the
//! ranked suspect dimensions, S, D, A and R. Composes identity, severity, sample traces,
//! snapshots (§2.9), classification (§3) and next checks (§4).

use super::alert_match::matched_alert;
use super::classify::{Classification, ClassifyInput, classify};
use super::detect::{CandidateRow, mark_seen, sample_traces, severity};
use super::identity::open_incident_id;
use super::inputs::{Deployment, FailingEvent, Signal};
use super::model::{
    AlertsCapture, BlastCapture, CaptureStatus, DimensionsCapture, Evidence, Incident,
    MatchStrategy, PathEntry, PropagationCapture, RawJson, RuntimeMatch, RuntimeSnapshot, Snapshot,
};
use super::next_checks::{check_values, next_checks};
use crate::reads::traces::Story;

/// The reads §4.5 blast radius of the family over C (`single_family`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlastRead {
    pub affected_requests: i64,
    pub affected_users: i64,
    pub affected_services: i64,
    pub top_services: Vec<String>,
    /// Up to 3, newest failing trace first.
    pub sampled_traces: Vec<String>,
}

/// An alert signal attached by §7.6 with the strategy that matched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedAlert {
    pub signal: Signal,
    pub strategy: MatchStrategy,
}

/// Everything one build reads. `None` for `blast` / `story` / `dimensions` means that evidence
/// lookup failed (its capture becomes `missing`); `story` is also `None` when the blast had no
/// sampled trace or the trace has no story.
#[derive(Debug, Clone, Copy)]
pub struct ErrorBuildInput<'a> {
    pub candidate: &'a CandidateRow,
    pub existing: Option<&'a Incident>,
    /// E, newest first.
    pub events: &'a [FailingEvent],
    pub blast: Option<&'a BlastRead>,
    pub story: Option<&'a Story>,
    pub dimensions: Option<&'a DimensionsCapture>,
    pub signals: &'a [Signal],
    pub deployments: &'a [Deployment],
    /// A, newest first.
    pub alerts: &'a [AttachedAlert],
    /// R (sorted here into the §2.9 order).
    pub runtime: &'a [Signal],
    pub sample_limit: usize,
    pub now: i64,
}

/// The built row and whether opening it needed a suffixed id (§2.2 reissue).
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub incident: Incident,
    pub reissued: bool,
}

/// §2.9 order of R: severity rank desc, `timestamp` asc, `signal_id` asc.
pub fn sort_runtime(runtime: &mut [Signal]) {
    runtime.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.timestamp_ns.cmp(&b.timestamp_ns))
            .then_with(|| a.signal_id.cmp(&b.signal_id))
    });
}

fn blast_capture(blast: Option<&BlastRead>, now: i64) -> BlastCapture {
    let b = blast.cloned().unwrap_or_default();
    BlastCapture {
        affected_requests: b.affected_requests,
        affected_users: b.affected_users,
        affected_services: b.affected_services,
        top_services: b.top_services,
        sampled_traces: b.sampled_traces,
        captured_at: now,
        capture_status: if blast.is_some() {
            CaptureStatus::Ok
        } else {
            CaptureStatus::Missing
        },
    }
}

/// §2.9 propagation from the story of `blast.sampled_traces[0]`; `first_seen_at` is the
/// earliest `ts_start` of that trace's events in E.
pub fn propagation_capture(
    sample_trace_id: &str,
    story: Option<&Story>,
    events: &[FailingEvent],
    now: i64,
) -> PropagationCapture {
    let mut p = PropagationCapture {
        origin_service: String::new(),
        origin_step: String::new(),
        path: Vec::new(),
        sample_trace_id: sample_trace_id.to_owned(),
        first_seen_at: None,
        captured_at: now,
        capture_status: CaptureStatus::Missing,
    };
    let Some(story) = story.filter(|_| !sample_trace_id.is_empty()) else {
        return p;
    };
    p.origin_service = story.service.clone();
    p.origin_step = story
        .anchor
        .as_ref()
        .map(|a| a.step.clone())
        .unwrap_or_default();
    p.path = story
        .path
        .iter()
        .map(|s| PathEntry {
            service: story.service.clone(),
            step: s.name.clone(),
            start_ms: s.start_ms,
            duration_ms: s.duration_ms,
            status: s.status.clone(),
            error_code: s.error_code.clone().unwrap_or_default(),
        })
        .collect();
    p.first_seen_at = events
        .iter()
        .filter(|e| e.trace_id == sample_trace_id)
        .map(|e| e.ts_start_ns)
        .min();
    p.capture_status = if story.anchor.is_none() || p.path.is_empty() || p.first_seen_at.is_none() {
        CaptureStatus::Partial
    } else {
        CaptureStatus::Ok
    };
    p
}

/// The §2.9 `RuntimeMatch` of one signal of R captured at `now`.
pub fn runtime_match(s: &Signal, now: i64) -> RuntimeMatch {
    RuntimeMatch {
        subtype: s.meta.subtype.clone(),
        service: s.service.clone(),
        reason: s.reason.clone(),
        severity: s.severity.as_str().to_string(),
        source: s.source.clone(),
        signal_id: s.signal_id.clone(),
        occurred_at: s.timestamp_ns,
        metadata: s.metadata.clone().map(RawJson),
        captured_at: now,
        capture_status: CaptureStatus::Ok,
    }
}

/// `ok` iff an alert is attached; an empty A is recorded as `missing`.
pub fn alerts_capture(alerts: &[AttachedAlert], now: i64) -> AlertsCapture {
    AlertsCapture {
        matches: alerts
            .iter()
            .map(|a| matched_alert(&a.signal, a.strategy))
            .collect(),
        captured_at: now,
        capture_status: if alerts.is_empty() {
            CaptureStatus::Missing
        } else {
            CaptureStatus::Ok
        },
    }
}

/// §2.5 steps 2–6 for one candidate. `id_exists` answers "is this id in `incidents`" when a
/// new incident is opened.
/// Record the alerts and runtime snapshots (§2.9) of `inc` (`runtime` sorted).
pub fn record_context(
    inc: &mut Incident,
    existing: Option<&Incident>,
    alerts: &[AttachedAlert],
    runtime: &[Signal],
    now: i64,
) {
    inc.alerts = Some(Snapshot::record(
        existing.and_then(|e| e.alerts.clone()),
        alerts_capture(alerts, now),
    ));
    inc.runtime = Some(RuntimeSnapshot::record(
        existing.and_then(|e| e.runtime.clone()),
        runtime.iter().map(|s| runtime_match(s, now)).collect(),
    ));
}

/// The classification (§3) of `ci` and its next checks (§4).
pub fn classify_with_checks(ci: &ClassifyInput<'_>) -> (Classification, Vec<String>) {
    let c = classify(ci);
    let checks = next_checks(&check_values(ci, &c));
    (c, checks)
}

/// Write classification `c` and `checks` into `inc`: `evidence` = `lead` (if any) then the
/// classifier's rows; `suspect_deploy_id` keeps `existing`'s when the classifier has none.
pub fn apply_classification(
    inc: &mut Incident,
    c: Classification,
    checks: Vec<String>,
    existing: Option<&Incident>,
    lead: Option<Evidence>,
) {
    inc.cause = c.cause;
    inc.confidence = c.confidence;
    inc.instrumentation_warnings = c.warnings;
    inc.evidence = lead.into_iter().chain(c.evidence).collect();
    inc.next_checks = checks;
    inc.suspect_deploy_id = if c.suspect_deploy_id.is_empty() {
        existing
            .map(|e| e.suspect_deploy_id.clone())
            .unwrap_or_default()
    } else {
        c.suspect_deploy_id
    };
}

pub fn build_error_incident(
    input: &ErrorBuildInput<'_>,
    id_exists: impl FnMut(&str) -> bool,
) -> Built {
    let (r, now, existing) = (input.candidate, input.now, input.existing);
    let newest = input.events.iter().max_by(|a, b| {
        a.ts_start_ns
            .cmp(&b.ts_start_ns)
            .then_with(|| b.event_id.cmp(&a.event_id))
    });
    let started_at = existing.map(|e| e.started_at).unwrap_or_else(|| {
        input
            .events
            .iter()
            .map(|e| e.ts_start_ns)
            .min()
            .unwrap_or(now)
    });
    let env = existing.map_or_else(
        || newest.map(|e| e.env.clone()).unwrap_or_default(),
        |e| e.env.clone(),
    );
    let (incident_id, reissued) = match existing {
        Some(e) => (e.incident_id.clone(), false),
        None => open_incident_id(&env, &r.family, started_at, id_exists),
    };
    let mut inc = Incident::skeleton(incident_id, env, r.family.clone(), started_at, now);
    mark_seen(&mut inc, now);
    let blast = blast_capture(input.blast, now);
    inc.affected_requests = blast.affected_requests;
    inc.affected_users = blast.affected_users;
    inc.affected_services = blast.affected_services;
    inc.top_services = blast.top_services.iter().take(10).cloned().collect();
    inc.current_count = r.current_count;
    inc.baseline_count = r.baseline_count;
    inc.lift = r.lift;
    inc.severity = severity(r.current_count, inc.affected_services, r.lift);
    let previous_samples = existing.map_or(&[][..], |e| &e.sample_traces[..]);
    inc.sample_traces = sample_traces(previous_samples, input.events, input.sample_limit);

    let sample_trace_id = blast.sampled_traces.first().cloned().unwrap_or_default();
    let propagation = propagation_capture(&sample_trace_id, input.story, input.events, now);
    let mut runtime = input.runtime.to_vec();
    sort_runtime(&mut runtime);
    let dims = input
        .dimensions
        .cloned()
        .unwrap_or_else(|| super::dimensions::missing_capture(now));
    inc.blast = Some(Snapshot::record(
        existing.and_then(|e| e.blast.clone()),
        blast,
    ));
    inc.propagation = Some(Snapshot::record(
        existing.and_then(|e| e.propagation.clone()),
        propagation,
    ));
    record_context(&mut inc, existing, input.alerts, &runtime, now);
    inc.suspect_dimensions = Some(Snapshot::record(
        existing.and_then(|e| e.suspect_dimensions.clone()),
        dims,
    ));

    let alert_signals: Vec<Signal> = input.alerts.iter().map(|a| a.signal.clone()).collect();
    let ci = ClassifyInput {
        family: &inc.error_family,
        env: &inc.env,
        started_at_ns: inc.started_at,
        sample_traces: &inc.sample_traces,
        events: input.events,
        signals: input.signals,
        deployments: input.deployments,
        alerts: &alert_signals,
        runtime: &runtime,
        anomaly: None,
    };
    let (c, checks) = classify_with_checks(&ci);
    apply_classification(&mut inc, c, checks, existing, None);
    Built {
        incident: inc,
        reissued,
    }
}

#[cfg(test)]
mod tests;
