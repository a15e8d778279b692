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
    assert!(candidates_in_memory(&events(4, [0, 0, 0]), NOW, &Thresholds::default()).is_empty());
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
