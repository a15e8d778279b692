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
use crate::reads::rows::{Columns, RowError};
use crate::reads::sql::{Param, ReadQuery};
use datafusion::arrow::array::{Array, RecordBatch};

/// The SQL this module's contract describes.
pub const CANDIDATES_QUERY: ReadQuery = ReadQuery::IncidentCandidates;

/// Detection settings (§0): W and the three thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// W in ns (> 0).
    pub window_ns: i64,
    /// `WAYLOG_INCIDENT_MIN_COUNT`.
    pub min_count: i64,
    /// `WAYLOG_INCIDENT_MIN_RATE`, failures per minute; `0` is off.
    pub min_rate_per_min: f64,
    /// `WAYLOG_INCIDENT_MIN_LIFT`.
    pub min_lift: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            window_ns: 600 * 1_000_000_000,
            min_count: 5,
            min_rate_per_min: 0.0,
            min_lift: 3.0,
        }
    }
}

impl Thresholds {
    /// `$7`: MIN_RATE × (W in seconds / 60) when MIN_RATE > 0, else 0.
    pub fn min_failures(&self) -> f64 {
        if self.min_rate_per_min > 0.0 {
            self.min_rate_per_min * (self.window_ns as f64 / 1e9 / 60.0)
        } else {
            0.0
        }
    }
}

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
mod tests {
    use super::*;
    use crate::incidents::model::Incident;

    const MIN: i64 = 60 * 1_000_000_000;
    const NOW: i64 = 1_777_896_600_000_000_000; // 2026-05-04T12:10:00Z

    fn fam() -> ErrorFamily {
        ErrorFamily::new("checkout", "payment.charge", "PMT_502")
    }

    /// `current` events in C and `baselines[i]` events in B_i, all `error`.
    fn events(current: i64, baselines: [i64; 3]) -> Vec<(ErrorFamily, &'static str, i64)> {
        let mut out = Vec::new();
        let mut put = |n: i64, window: i64| {
            for k in 0..n {
                // Spread inside the window, away from its edges.
                out.push((fam(), "error", NOW - window * 10 * MIN - 1 - k * 1000));
            }
        };
        put(current, 0);
        for (i, b) in baselines.iter().enumerate() {
            put(*b, i as i64 + 1);
        }
        out
    }

    #[test]
    fn detection_vector_spike_from_nothing_passes() {
        let rows = candidates_in_memory(&events(12, [12, 0, 0]), NOW, &Thresholds::default());
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].b0, rows[0].b1, rows[0].b2), (12, 0, 0));
        assert_eq!(rows[0].baseline_count, 0);
        assert_eq!(rows[0].lift, 12.0);
    }

    #[test]
    fn detection_vector_steady_family_is_no_candidate() {
        let t = Thresholds::default();
        assert!(candidates_in_memory(&events(12, [10, 9, 11]), NOW, &t).is_empty());
        assert_eq!(median3(10, 9, 11), 10);
        assert!((lift(12, 10) - 1.2).abs() < 1e-12);
    }

    #[test]
    fn detection_vector_below_min_count() {
        assert!(
            candidates_in_memory(&events(4, [0, 0, 0]), NOW, &Thresholds::default()).is_empty()
        );
    }

    #[test]
    fn detection_vector_min_rate() {
        let with_rate = Thresholds {
            min_rate_per_min: 1.0,
            ..Thresholds::default()
        };
        assert_eq!(with_rate.min_failures(), 10.0);
        assert!(candidates_in_memory(&events(6, [0, 0, 0]), NOW, &with_rate).is_empty());
        let rows = candidates_in_memory(&events(6, [0, 0, 0]), NOW, &Thresholds::default());
        assert_eq!(rows.len(), 1);
        assert_eq!(Thresholds::default().min_failures(), 0.0);
    }

    #[test]
    fn detection_windows_partition_and_bounds() {
        let w = 10 * MIN;
        assert_eq!(window_index(NOW, NOW, w), Some(0));
        assert_eq!(window_index(NOW - w, NOW, w), Some(0));
        assert_eq!(window_index(NOW - w - 1, NOW, w), Some(1));
        assert_eq!(window_index(NOW - 2 * w, NOW, w), Some(1));
        assert_eq!(window_index(NOW - 3 * w, NOW, w), Some(2));
        assert_eq!(window_index(NOW - 4 * w, NOW, w), Some(3));
        assert_eq!(window_index(NOW - 4 * w - 1, NOW, w), None);
        assert_eq!(window_index(NOW + 1, NOW, w), None);
    }

    #[test]
    fn detection_ignores_ok_and_suppressed_and_orders_rows() {
        let other = ErrorFamily::new("api", "call", "E1");
        let mut evs = events(6, [0, 0, 0]);
        for k in 0..7 {
            evs.push((other.clone(), "timeout", NOW - k));
        }
        for k in 0..20 {
            evs.push((fam(), "suppressed", NOW - k));
            evs.push((fam(), "ok", NOW - k));
        }
        let rows = candidates_in_memory(&evs, NOW, &Thresholds::default());
        let got: Vec<(&str, i64)> = rows
            .iter()
            .map(|r| (r.family.service.as_str(), r.current_count))
            .collect();
        assert_eq!(got, [("api", 7), ("checkout", 6)]);
    }

    #[test]
    fn candidate_params_bind_eight_values() {
        let p = candidate_params(NOW, &Thresholds::default());
        assert_eq!(p.len(), 8);
        assert_eq!(p[0], Param::Timestamp(NOW));
        assert_eq!(p[4], Param::Timestamp(NOW - 40 * MIN));
        assert_eq!(p[5], Param::Int64(5));
        assert_eq!(p[6], Param::Float64(0.0));
        assert_eq!(p[7], Param::Float64(3.0));
        let types: Vec<_> = CANDIDATES_QUERY.params().to_vec();
        assert_eq!(types.len(), 8);
    }

    #[test]
    fn severity_example_and_bonus_steps() {
        assert_eq!(severity(12, 4, 12.0), 10);
        assert_eq!(severity(12, 1, 1.0), 4);
        assert_eq!(severity(5, 1, 3.0), 1 + 1 + 1 + 2);
        assert_eq!(severity(5, 1, 9.99), 5);
        assert_eq!(severity(5, 1, 10.0), 6);
        assert_eq!(severity(1000, 50, 100.0), 10);
        assert_eq!(severity(-3, -1, f64::NAN), 1);
    }

    fn cached(status: Status, last_seen: i64) -> Incident {
        let mut inc = Incident::skeleton("inc_x".into(), "prod".into(), fam(), 0, last_seen);
        inc.status = status;
        inc
    }

    #[test]
    fn lifecycle_timing_at_defaults() {
        let s = 1_000_000_000;
        let resolve = 120 * s;
        let last = NOW; // last active tick 12:10:00
        let mut inc = cached(Status::Active, last);
        let r = transition(&inc, false, last + 30 * s, resolve).unwrap();
        assert_eq!(r.status, Status::Recovering);
        assert_eq!(r.recovering_at, Some(last + 30 * s));
        assert_eq!(r.updated_at, last + 30 * s);
        assert_eq!(r.last_seen_at, last);
        inc = r;
        assert_eq!(transition(&inc, false, last + 60 * s, resolve), None);
        assert_eq!(transition(&inc, false, last + 90 * s, resolve), None);
        let r = transition(&inc, false, last + 120 * s, resolve).unwrap();
        assert_eq!(r.status, Status::Resolved);
        assert_eq!(r.resolved_at, Some(last + 120 * s));
        assert_eq!(r.recovering_at, Some(last + 30 * s));
        assert_eq!(transition(&r, false, last + 999 * s, resolve), None);
    }

    #[test]
    fn lifecycle_resolve_after_one_minute() {
        let s = 1_000_000_000;
        let inc = cached(Status::Active, NOW);
        let r = transition(&inc, false, NOW + 30 * s, 60 * s).unwrap();
        let r = transition(&r, false, NOW + 60 * s, 60 * s).unwrap();
        assert_eq!(r.status, Status::Resolved);
    }

    #[test]
    fn lifecycle_seen_writes_nothing_extra_and_mark_seen_reactivates() {
        let mut inc = cached(Status::Recovering, NOW);
        inc.recovering_at = Some(NOW + 1);
        assert_eq!(transition(&inc, true, NOW + 10, 0), None);
        mark_seen(&mut inc, NOW + 10);
        assert_eq!(inc.status, Status::Active);
        assert_eq!(inc.recovering_at, None);
        assert_eq!(inc.last_seen_at, NOW + 10);
        assert_eq!(version_kind(&inc, true), VersionKind::Updated);
        assert_eq!(version_kind(&inc, false), VersionKind::Opened);
        inc.status = Status::Recovering;
        assert_eq!(version_kind(&inc, true), VersionKind::Recovered);
        inc.status = Status::Resolved;
        assert_eq!(version_kind(&inc, true), VersionKind::Resolved);
    }

    fn ev(trace: &str, ts: i64) -> FailingEvent {
        FailingEvent {
            trace_id: trace.into(),
            ts_start_ns: ts,
            ..FailingEvent::default()
        }
    }

    #[test]
    fn sample_traces_vectors() {
        let e = [ev("trace-new", NOW - MIN), ev("trace-old", NOW - 2 * MIN)];
        assert_eq!(sample_traces(&[], &e, 2), ["trace-old", "trace-new"]);
        assert_eq!(
            sample_traces(&["trace-seeded".into()], &[ev("trace-new", NOW)], 5),
            ["trace-seeded", "trace-new"]
        );
    }

    #[test]
    fn sample_traces_order_ties_and_truncation() {
        let e = [
            ev("c", NOW),
            ev("b", NOW),
            ev("a", NOW - 5),
            ev("z", NOW - 5),
            ev("b", NOW - 9),
        ];
        // Earliest first (b at NOW-9), then newest first with trace id breaking ties: c, a, z.
        assert_eq!(sample_traces(&[], &e, 5), ["b", "c", "a", "z"]);
        assert_eq!(sample_traces(&[], &e, 2), ["b", "c"]);
        let tie = [ev("z", NOW - 5), ev("a", NOW - 5)];
        assert_eq!(sample_traces(&[], &tie, 1), ["a"]);
        let long: Vec<String> = ["1", "2", "3"].map(String::from).to_vec();
        assert_eq!(sample_traces(&long, &e, 2), ["1", "2"]);
        assert!(sample_traces(&[], &[], 5).is_empty());
    }
}
