//! Detection (spec triage §2.3), severity (§2.6), lifecycle transitions (§2.7) and sample
//! traces (§2.8).
//!
//! The candidate query is `sql/incident_candidates.sql` ([`ReadQuery::IncidentCandidates`]);
//! [`candidate_params`] binds it. [`candidates_in_memory`] is the same contract in Rust (the
//! spec vectors run against it; the SQL itself is checked to plan by the read-query tests), so
//! a change to one must be mirrored in the other.

use super::inputs::FailingEvent;
use super::model::{ErrorFamily, Incident, Status};
use crate::model::status_is_failed;
use crate::query::rows::{Columns, RowError};
use crate::query::sql::{Param, ReadQuery};
use datafusion::arrow::array::{Array, RecordBatch};

/// The SQL this module's contract describes.
pub const CANDIDATES_QUERY: ReadQuery = ReadQuery::IncidentCandidates;

pub use crate::config::incident_settings::Thresholds;

/// The window bounds `[now − 4W, now]`, newest first: `now`, `now − W`, `now − 2W`, `now − 3W`,
/// `now − 4W` (saturating).
pub fn window_bounds(now: i64, window_ns: i64) -> [i64; 5] {
    let w = window_ns.max(0);
    [0i64, 1, 2, 3, 4].map(|k| now.saturating_sub(w.saturating_mul(k)))
}

/// `$1..$8` of `sql/incident_candidates.sql`.
pub fn candidate_params(now: i64, t: &Thresholds) -> Vec<Param> {
    let mut params: Vec<Param> = window_bounds(now, t.window_ns)
        .into_iter()
        .map(Param::Timestamp)
        .collect();
    params.push(Param::Int64(t.min_count));
    params.push(Param::Float64(t.min_failures()));
    params.push(Param::Float64(t.min_lift));
    params
}

/// One row of the candidate query.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateRow {
    pub family: ErrorFamily,
    pub current_count: i64,
    pub b0: i64,
    pub b1: i64,
    pub b2: i64,
    /// Median of `b0, b1, b2`.
    pub baseline_count: i64,
    pub lift: f64,
}

/// Decode one result batch of the candidate query (columns by name, in row order).
pub fn candidate_rows(batch: &RecordBatch) -> Result<Vec<CandidateRow>, RowError> {
    let c = Columns::new(batch);
    let (service, step, code) = (
        c.strings("service")?,
        c.strings("step")?,
        c.strings("error_code")?,
    );
    let (current, b0, b1, b2) = (
        c.ints("current_count")?,
        c.ints("b0")?,
        c.ints("b1")?,
        c.ints("b2")?,
    );
    let (baseline, lift) = (c.ints("baseline_count")?, c.floats("lift")?);
    Ok((0..batch.num_rows())
        .map(|i| CandidateRow {
            family: ErrorFamily::new(service.value(i), step.value(i), code.value(i)),
            current_count: current.value(i),
            b0: b0.value(i),
            b1: b1.value(i),
            b2: b2.value(i),
            baseline_count: baseline.value(i),
            lift: if lift.is_null(i) { 0.0 } else { lift.value(i) },
        })
        .collect())
}

/// Median of three counts (the SQL's `sum − greatest − least`).
pub fn median3(a: i64, b: i64, c: i64) -> i64 {
    a.max(b).min(a.min(b).max(c))
}

/// current / baseline when the baseline is positive, else current.
pub fn lift(current: i64, baseline: i64) -> f64 {
    if baseline > 0 {
        current as f64 / baseline as f64
    } else {
        current as f64
    }
}

/// Apply the thresholds to one family's counts; `None` when it is no candidate.
pub fn evaluate(
    family: ErrorFamily,
    current_count: i64,
    baselines: [i64; 3],
    t: &Thresholds,
) -> Option<CandidateRow> {
    let [b0, b1, b2] = baselines;
    let baseline_count = median3(b0, b1, b2);
    let lift = lift(current_count, baseline_count);
    let passes = current_count > 0
        && current_count >= t.min_count
        && current_count as f64 >= t.min_failures()
        && (baseline_count == 0 || lift >= t.min_lift);
    passes.then_some(CandidateRow {
        family,
        current_count,
        b0,
        b1,
        b2,
        baseline_count,
        lift,
    })
}

/// Which window `ts` falls in: 0 = C, 1..=3 = B0..B2, `None` outside `[now − 4W, now]`.
pub fn window_index(ts: i64, now: i64, window_ns: i64) -> Option<usize> {
    let [hi, c, b0, b1, b2] = window_bounds(now, window_ns);
    if ts > hi || ts < b2 {
        None
    } else if ts >= c {
        Some(0)
    } else if ts >= b0 {
        Some(1)
    } else if ts >= b1 {
        Some(2)
    } else {
        Some(3)
    }
}

/// The candidate query evaluated in memory over `(family, status, ts_start)` of anchored events,
/// in the query's order.
pub fn candidates_in_memory(
    events: &[(ErrorFamily, &str, i64)],
    now: i64,
    t: &Thresholds,
) -> Vec<CandidateRow> {
    let mut counts: std::collections::BTreeMap<&ErrorFamily, [i64; 4]> = Default::default();
    for (family, status, ts) in events {
        if !status_is_failed(status) {
            continue;
        }
        if let Some(i) = window_index(*ts, now, t.window_ns) {
            counts.entry(family).or_default()[i] += 1;
        }
    }
    let mut rows: Vec<CandidateRow> = counts
        .into_iter()
        .filter_map(|(f, [c, b0, b1, b2])| evaluate(f.clone(), c, [b0, b1, b2], t))
        .collect();
    rows.sort_by(|a, b| {
        b.current_count
            .cmp(&a.current_count)
            .then_with(|| a.family.cmp(&b.family))
    });
    rows
}

/// §2.6: `min(10, 1 + floor(count / 5) + services + bonus)`, bonus 3 when lift ≥ 10, 2 when
/// lift ≥ 3. Error incidents pass `current_count` and `affected_services`; anomaly incidents
/// `max(current, baseline)` and 1.
pub fn severity(count: i64, services: i64, lift: f64) -> i64 {
    let bonus = if lift >= 10.0 {
        3
    } else if lift >= 3.0 {
        2
    } else {
        0
    };
    (count.max(0) / 5)
        .saturating_add(1)
        .saturating_add(services.max(0))
        .saturating_add(bonus)
        .min(10)
}

/// The lifecycle step (§2.7) of a cached incident at a tick. A *seen* incident needs nothing
/// here: its freshly built row (status `active`, `recovering_at` unset, see [`mark_seen`]) is
/// the version written. Not seen: `active` → `recovering` now; `recovering` → `resolved` once
/// `now − last_seen_at ≥ resolve_after`, else nothing. Resolved incidents never change.
/// Snapshots and everything else are carried over unchanged.
pub fn transition(
    cached: &Incident,
    seen: bool,
    now: i64,
    resolve_after_ns: i64,
) -> Option<Incident> {
    if seen {
        return None;
    }
    match cached.status {
        Status::Active => {
            let mut next = cached.clone();
            next.status = Status::Recovering;
            next.recovering_at = Some(now);
            next.updated_at = now;
            Some(next)
        }
        Status::Recovering if now.saturating_sub(cached.last_seen_at) >= resolve_after_ns => {
            let mut next = cached.clone();
            next.status = Status::Resolved;
            next.resolved_at = Some(now);
            next.updated_at = now;
            Some(next)
        }
        Status::Recovering | Status::Resolved => None,
    }
}

/// The lifecycle fields of a row built at `now` (§2.5 step 4): `active`, seen now, no
/// recovery or resolution.
pub fn mark_seen(incident: &mut Incident, now: i64) {
    incident.status = Status::Active;
    incident.updated_at = now;
    incident.last_seen_at = now;
    incident.recovering_at = None;
    incident.resolved_at = None;
}

/// Which counter a written row increments (§2.7 metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionKind {
    Opened,
    Updated,
    Recovered,
    Resolved,
}

/// `known_id`: the id was in the cache before this tick.
pub fn version_kind(row: &Incident, known_id: bool) -> VersionKind {
    match row.status {
        Status::Active if known_id => VersionKind::Updated,
        Status::Active => VersionKind::Opened,
        Status::Recovering => VersionKind::Recovered,
        Status::Resolved => VersionKind::Resolved,
    }
}

/// §2.8: keep `existing`; when empty seed with E's earliest trace (`ts_start` asc, `trace_id`
/// asc); then add absent traces of E newest first (`ts_start` desc, `trace_id` asc) up to
/// `limit`; truncate to `limit`. Empty trace ids are skipped.
pub fn sample_traces(existing: &[String], events: &[FailingEvent], limit: usize) -> Vec<String> {
    let mut out: Vec<String> = existing.to_vec();
    let mut order: Vec<&FailingEvent> = events.iter().filter(|e| !e.trace_id.is_empty()).collect();
    if out.is_empty() {
        let earliest = order
            .iter()
            .min_by(|a, b| (a.ts_start_ns, &a.trace_id).cmp(&(b.ts_start_ns, &b.trace_id)));
        if let Some(e) = earliest {
            out.push(e.trace_id.clone());
        }
    }
    order.sort_by(|a, b| {
        b.ts_start_ns
            .cmp(&a.ts_start_ns)
            .then_with(|| a.trace_id.cmp(&b.trace_id))
    });
    for e in order {
        if out.len() >= limit {
            break;
        }
        if !out.contains(&e.trace_id) {
            out.push(e.trace_id.clone());
        }
    }
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests;
