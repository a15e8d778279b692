//! Suspect dimensions (spec triage §2.10): `sql/incident_suspect_dimensions.sql` counts each
//! dimension value among the failing events F and the baseline B; [`rank`] turns those counts
//! into the capture (shares, scores, the qualify rule, per-dimension best, top 5, status).

use super::model::{CaptureStatus, DimensionsCapture, ErrorFamily, SuspectDimension};
use crate::reads::rows::{Columns, RowError};
use crate::reads::sql::{Param, ReadQuery};
use datafusion::arrow::array::RecordBatch;

/// The SQL whose rows [`rank`] reads.
pub const DIMENSIONS_QUERY: ReadQuery = ReadQuery::IncidentSuspectDimensions;

/// The dimensions in their fixed order (the third ranking key).
pub const DIMENSIONS: [&str; 7] = [
    "version",
    "route",
    "http_method",
    "user_tier",
    "user_region",
    "downstream_service",
    "env",
];

/// At most this many dimensions are kept.
pub const TOP: usize = 5;
const MIN_SCORE: f64 = 0.2;

/// `$1..$6`: now, now − W, now − 4W, the family's service, step, error code.
pub fn dimension_params(now: i64, window_ns: i64, family: &ErrorFamily) -> Vec<Param> {
    let w = window_ns.max(0);
    vec![
        Param::Timestamp(now),
        Param::Timestamp(now.saturating_sub(w)),
        Param::Timestamp(now.saturating_sub(w.saturating_mul(4))),
        Param::str(family.service.as_str()),
        Param::str(family.step.as_str()),
        Param::str(family.error_code.as_str()),
    ]
}

/// One output row of the query (the totals row has `dimension == ""`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DimensionCountRow {
    pub baseline: String,
    pub failing_events: i64,
    pub baseline_events: i64,
    pub dimension: String,
    pub value: String,
    pub failing_count: i64,
    pub baseline_count: i64,
}

/// Decode one result batch of the dimensions query (columns by name, in row order).
pub fn dimension_rows(batch: &RecordBatch) -> Result<Vec<DimensionCountRow>, RowError> {
    let c = Columns::new(batch);
    let (baseline, dimension, value) = (
        c.strings("baseline")?,
        c.strings("dimension")?,
        c.strings("value")?,
    );
    let (fe, be) = (c.ints("failing_events")?, c.ints("baseline_events")?);
    let (fc, bc) = (c.ints("failing_count")?, c.ints("baseline_count")?);
    Ok((0..batch.num_rows())
        .map(|i| DimensionCountRow {
            baseline: baseline.value(i).to_owned(),
            failing_events: fe.value(i),
            baseline_events: be.value(i),
            dimension: dimension.value(i).to_owned(),
            value: value.value(i).to_owned(),
            failing_count: fc.value(i),
            baseline_count: bc.value(i),
        })
        .collect())
}

/// Round half away from zero to 4 decimals.
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn ratio(n: i64, d: i64) -> f64 {
    if d > 0 { n as f64 / d as f64 } else { 0.0 }
}

/// The capture of a failed query: `missing`, nothing known.
pub fn missing_capture(now: i64) -> DimensionsCapture {
    DimensionsCapture {
        baseline: String::new(),
        failing_events: 0,
        baseline_events: 0,
        dimensions: Vec::new(),
        captured_at: now,
        capture_status: CaptureStatus::Missing,
    }
}

/// A scored candidate with its dimension's position in [`DIMENSIONS`].
struct Scored {
    order: usize,
    dim: SuspectDimension,
}

/// Rank the query rows into the §2.10 capture at `now`.
pub fn rank(rows: &[DimensionCountRow], now: i64) -> DimensionsCapture {
    let Some(totals) = rows.first() else {
        return missing_capture(now);
    };
    let (f, b) = (totals.failing_events, totals.baseline_events);
    let mut capture = DimensionsCapture {
        baseline: totals.baseline.clone(),
        failing_events: f,
        baseline_events: b,
        dimensions: Vec::new(),
        captured_at: now,
        capture_status: CaptureStatus::Missing,
    };
    if f <= 0 || b <= 0 {
        return capture;
    }
    let min_count = f.min(2);
    let mut scored: Vec<Scored> = rows
        .iter()
        .filter(|r| !r.value.is_empty())
        .filter_map(|r| {
            let order = DIMENSIONS.iter().position(|d| *d == r.dimension)?;
            let (fr, br) = (ratio(r.failing_count, f), ratio(r.baseline_count, b));
            let dim = SuspectDimension {
                dimension: r.dimension.clone(),
                value: r.value.clone(),
                failing_count: r.failing_count,
                failing_share: round4(fr),
                baseline_count: r.baseline_count,
                baseline_share: round4(br),
                score: round4(fr - br),
            };
            (dim.failing_count >= min_count && dim.score >= MIN_SCORE)
                .then_some(Scored { order, dim })
        })
        .collect();
    scored.sort_by(|a, b| {
        b.dim
            .score
            .total_cmp(&a.dim.score)
            .then_with(|| b.dim.failing_count.cmp(&a.dim.failing_count))
            .then_with(|| a.order.cmp(&b.order))
            .then_with(|| a.dim.value.as_bytes().cmp(b.dim.value.as_bytes()))
    });
    let mut taken = [false; DIMENSIONS.len()];
    for s in scored {
        if capture.dimensions.len() >= TOP {
            break;
        }
        if !std::mem::replace(&mut taken[s.order], true) {
            capture.dimensions.push(s.dim);
        }
    }
    capture.capture_status = if capture.dimensions.is_empty() {
        CaptureStatus::Partial
    } else {
        CaptureStatus::Ok
    };
    capture
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(f: i64, b: i64) -> DimensionCountRow {
        DimensionCountRow {
            baseline: "baseline_windows".into(),
            failing_events: f,
            baseline_events: b,
            ..DimensionCountRow::default()
        }
    }

    fn row(t: &DimensionCountRow, dim: &str, value: &str, fc: i64, bc: i64) -> DimensionCountRow {
        DimensionCountRow {
            dimension: dim.into(),
            value: value.into(),
            failing_count: fc,
            baseline_count: bc,
            ..t.clone()
        }
    }

    #[test]
    fn round4_is_half_away_from_zero() {
        assert_eq!(round4(0.96666), 0.9667);
        assert_eq!(round4(1.0 / 30.0), 0.0333);
        assert_eq!(round4(0.00005), 0.0001);
        assert_eq!(round4(-0.00005), -0.0001);
        assert_eq!(round4(0.4), 0.4);
    }

    #[test]
    fn spec_example_ranks_version_then_tier() {
        let t = totals(12, 300);
        let rows = vec![
            t.clone(),
            row(&t, "env", "prod", 12, 300),
            row(&t, "user_tier", "free", 6, 270),
            row(&t, "user_tier", "premium", 6, 30),
            row(&t, "version", "2.4.1", 12, 10),
        ];
        let c = rank(&rows, 7);
        assert_eq!(c.capture_status, CaptureStatus::Ok);
        assert_eq!((c.failing_events, c.baseline_events), (12, 300));
        assert_eq!(c.baseline, "baseline_windows");
        assert_eq!(c.captured_at, 7);
        assert_eq!(
            c.dimensions,
            [
                SuspectDimension {
                    dimension: "version".into(),
                    value: "2.4.1".into(),
                    failing_count: 12,
                    failing_share: 1.0,
                    baseline_count: 10,
                    baseline_share: 0.0333,
                    score: 0.9667,
                },
                SuspectDimension {
                    dimension: "user_tier".into(),
                    value: "premium".into(),
                    failing_count: 6,
                    failing_share: 0.5,
                    baseline_count: 30,
                    baseline_share: 0.1,
                    score: 0.4,
                },
            ]
        );
    }

    #[test]
    fn qualify_rule_needs_count_and_score() {
        let t = totals(10, 100);
        // One failing event only: below min(2, |F|) = 2.
        let rows = vec![
            t.clone(),
            row(&t, "route", "/a", 1, 0),
            row(&t, "http_method", "POST", 3, 20),
        ];
        let c = rank(&rows, 0);
        assert_eq!(c.capture_status, CaptureStatus::Partial);
        assert!(c.dimensions.is_empty());
        // |F| = 1: one event is enough.
        let t = totals(1, 100);
        let c = rank(&[t.clone(), row(&t, "route", "/a", 1, 0)], 0);
        assert_eq!(c.dimensions.len(), 1);
        // Score exactly 0.2 qualifies.
        let t = totals(10, 10);
        let c = rank(&[t.clone(), row(&t, "route", "/a", 4, 2)], 0);
        assert_eq!(c.dimensions[0].score, 0.2);
    }

    #[test]
    fn ties_break_by_count_dimension_order_then_value() {
        let t = totals(10, 10);
        let rows = vec![
            t.clone(),
            row(&t, "env", "b", 5, 0),
            row(&t, "env", "a", 5, 0),
            row(&t, "route", "/z", 5, 0),
            row(&t, "user_region", "eu", 6, 1),
            row(&t, "unknown_dim", "x", 10, 0),
        ];
        let c = rank(&rows, 0);
        let got: Vec<(&str, &str)> = c
            .dimensions
            .iter()
            .map(|d| (d.dimension.as_str(), d.value.as_str()))
            .collect();
        // Equal score 0.5: user_region has the higher count; route precedes env; env keeps
        // its best value "a".
        assert_eq!(got, [("user_region", "eu"), ("route", "/z"), ("env", "a")]);
    }

    #[test]
    fn keeps_each_dimensions_best_and_top_five() {
        let t = totals(10, 10);
        let mut rows = vec![t.clone()];
        for (i, d) in DIMENSIONS.iter().enumerate() {
            rows.push(row(&t, d, "v1", 10, i as i64));
            rows.push(row(&t, d, "v2", 3, 0));
        }
        let c = rank(&rows, 0);
        assert_eq!(c.dimensions.len(), TOP);
        let dims: Vec<&str> = c.dimensions.iter().map(|d| d.dimension.as_str()).collect();
        assert_eq!(
            dims,
            [
                "version",
                "route",
                "http_method",
                "user_tier",
                "user_region"
            ]
        );
        assert!(c.dimensions.iter().all(|d| d.value == "v1"));
    }

    #[test]
    fn empty_populations_or_no_rows_are_missing() {
        assert_eq!(rank(&[], 3), missing_capture(3));
        let c = rank(&[totals(0, 10)], 0);
        assert_eq!(c.capture_status, CaptureStatus::Missing);
        let c = rank(&[totals(10, 0)], 0);
        assert_eq!(c.capture_status, CaptureStatus::Missing);
        assert_eq!(c.failing_events, 10);
    }

    #[test]
    fn params_bind_window_and_family() {
        let f = ErrorFamily::new("checkout", "payment.charge", "PMT_502");
        let p = dimension_params(100, 10, &f);
        assert_eq!(p[1], Param::Timestamp(90));
        assert_eq!(p[2], Param::Timestamp(60));
        assert_eq!(p[5], Param::str("PMT_502"));
        assert_eq!(p.len(), DIMENSIONS_QUERY.params().len());
    }
}
