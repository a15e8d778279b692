//! Suspect dimensions (spec triage §2.10): `sql/incident_suspect_dimensions.sql` counts each
//! dimension value among the failing events F and the baseline B; [`rank`] turns those counts
//! into the capture (shares, scores, the qualify rule, per-dimension best, top 5, status).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use super::model::{CaptureStatus, DimensionsCapture, ErrorFamily, SuspectDimension};
use crate::query::QueryEngine;
use crate::query::rows::{Columns, RowError};
use crate::query::sql::{self, Param, ReadQuery};
use crate::query::trace_index::{TraceContext, WARM_MIN_HOT_ROWS};
use crate::storage::table::{ColdFile, HotBatch, HotBatchId, TableSnapshot};

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

/// `$1..$9`: now, now − W, now − 4W, the family's service, step, error code, whether the
/// current-window baseline is counted too (see [`suspect_dimension_rows`]), and the whole
/// buckets `[a, b)` of the baseline windows ([`whole_buckets`]).
pub fn dimension_params(
    now: i64,
    window_ns: i64,
    family: &ErrorFamily,
    current_baseline: bool,
) -> Vec<Param> {
    let w = window_ns.max(0);
    let (a, b) = whole_buckets(baseline_bounds(now, window_ns));
    vec![
        Param::Timestamp(now),
        Param::Timestamp(now.saturating_sub(w)),
        Param::Timestamp(now.saturating_sub(w.saturating_mul(4))),
        Param::str(family.service.as_str()),
        Param::str(family.step.as_str()),
        Param::str(family.error_code.as_str()),
        Param::Int64(i64::from(current_baseline)),
        Param::Timestamp(a),
        Param::Timestamp(b),
    ]
}

/// The baseline-window bounds `[now − 4W, now − W)` that [`register_sources`] splits by.
pub fn baseline_bounds(now: i64, window_ns: i64) -> (i64, i64) {
    let w = window_ns.max(0);
    (
        now.saturating_sub(w.saturating_mul(4)),
        now.saturating_sub(w),
    )
}

/// The width of a summary bucket of `ts_start` (`sql/incident_dimension_summary.sql` bins by
/// `INTERVAL '15 seconds'` from the epoch): a build reads at most about one bucket of the
/// service's events row by row (the partial buckets at the two window edges); a source's
/// summary has one set of rows per bucket it spans.
pub const SUMMARY_BUCKET_NS: i64 = 15_000_000_000;

/// The whole buckets `[a, b)` (from the epoch, like the summaries' `bucket`) inside
/// `[lo, hi)`, with `lo <= a <= b <= hi`: the summaries count the buckets in `[a, b)`, the
/// rows in `[lo, a)` and `[b, hi)` are read one by one (all of them when no whole bucket fits).
pub fn whole_buckets((lo, hi): (i64, i64)) -> (i64, i64) {
    let ceil = lo
        .div_euclid(SUMMARY_BUCKET_NS)
        .saturating_add(i64::from(lo.rem_euclid(SUMMARY_BUCKET_NS) != 0))
        .saturating_mul(SUMMARY_BUCKET_NS);
    let floor = hi
        .div_euclid(SUMMARY_BUCKET_NS)
        .saturating_mul(SUMMARY_BUCKET_NS);
    let a = ceil.min(hi).max(lo);
    (a, floor.max(a))
}

/// The counts of the dimensions query for `family` on a session where [`register_sources`]
/// (or [`register_unsummarized`]) ran: first with F alone from the current window; only when
/// the baseline windows hold no event of the service, again with the current-window baseline.
pub async fn suspect_dimension_rows(
    ctx: &SessionContext,
    now: i64,
    window_ns: i64,
    family: &ErrorFamily,
) -> Result<Vec<DimensionCountRow>, DimensionsError> {
    let mut rows = Vec::new();
    for current_baseline in [false, true] {
        rows.clear();
        let params = dimension_params(now, window_ns, family, current_baseline);
        for b in sql::collect(ctx, DIMENSIONS_QUERY, params).await? {
            rows.extend(dimension_rows(&b)?);
        }
        let windows = rows
            .first()
            .is_some_and(|r| r.baseline == "baseline_windows");
        if windows {
            break;
        }
    }
    Ok(rows)
}

/// Why the suspect dimensions could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum DimensionsError {
    #[error("dimensions query failed: {0}")]
    Query(#[from] DataFusionError),
    #[error("dimensions rows: {0}")]
    Rows(#[from] RowError),
}

/// Schema of a per-source summary (`sql/incident_dimension_summary.sql`) and of `dim_values`.
pub static SUMMARY_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("service", DataType::Utf8, true),
        Field::new("step", DataType::Utf8, true),
        Field::new("dimension", DataType::Utf8, true),
        Field::new("value", DataType::Utf8, true),
        Field::new(
            "bucket",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        ),
        Field::new("events", DataType::Int64, true),
    ]))
});

/// The summaries of cold files by (path, size) and of hot batches by [`HotBatchId`]. Sources
/// are immutable, so a summary never goes stale; entries of sources that left the table
/// (files rewritten or dropped, batches flushed or merged) are dropped at the next warm-up or
/// registration. A hot batch's summary is computed once even when requested concurrently.
#[derive(Debug, Default)]
pub struct SummaryCache {
    cold: parking_lot::Mutex<HashMap<(String, u64), Summary>>,
    hot: parking_lot::Mutex<HashMap<HotBatchId, HotSummary>>,
}

/// A hot batch's summary once computed.
type HotSummary = Arc<tokio::sync::OnceCell<Summary>>;

/// One source's summary batches (schema [`SUMMARY_SCHEMA`]).
pub type Summary = Arc<Vec<RecordBatch>>;

/// A snapshot of `base`'s table holding just these sources.
fn sources(
    base: &TableSnapshot,
    hot: Vec<Arc<HotBatch>>,
    cold: Vec<Arc<ColdFile>>,
) -> Arc<TableSnapshot> {
    Arc::new(TableSnapshot {
        table: base.table,
        schema: base.schema.clone(),
        hot,
        cold,
    })
}

/// Run the summary query over one source.
async fn summarize(
    engine: &QueryEngine,
    source: Arc<TableSnapshot>,
    memory: usize,
) -> Result<Summary, DataFusionError> {
    let ctx = engine.events_context(source, memory)?;
    let mut out = Vec::new();
    for b in sql::collect(&ctx, ReadQuery::IncidentDimensionSummary, vec![]).await? {
        out.push(RecordBatch::try_new(
            SUMMARY_SCHEMA.clone(),
            b.columns().to_vec(),
        )?);
    }
    Ok(Arc::new(out))
}

impl SummaryCache {
    /// Cold files with a cached summary.
    pub fn cold_files(&self) -> usize {
        self.cold.lock().len()
    }

    /// Hot batches with a cached summary (computed or being computed).
    pub fn hot_batches(&self) -> usize {
        self.hot.lock().len()
    }

    /// Whether `h`'s summary is computed.
    fn has_hot(&self, h: &HotBatch) -> bool {
        self.hot
            .lock()
            .get(&h.id())
            .is_some_and(|s| s.initialized())
    }

    async fn hot(
        &self,
        engine: &QueryEngine,
        base: &TableSnapshot,
        h: &Arc<HotBatch>,
        memory: usize,
    ) -> Result<Summary, DataFusionError> {
        let cell = self.hot.lock().entry(h.id()).or_default().clone();
        let s = cell
            .get_or_try_init(|| summarize(engine, sources(base, vec![h.clone()], vec![]), memory))
            .await?;
        Ok(s.clone())
    }

    async fn cold(
        &self,
        engine: &QueryEngine,
        base: &TableSnapshot,
        f: &Arc<ColdFile>,
        memory: usize,
    ) -> Result<Summary, DataFusionError> {
        let key = (f.path.clone(), f.size);
        if let Some(s) = self.cold.lock().get(&key) {
            return Ok(s.clone());
        }
        let s = summarize(engine, sources(base, vec![], vec![f.clone()]), memory).await?;
        self.cold.lock().insert(key, s.clone());
        Ok(s)
    }

    /// Drop the summaries of files and hot batches no longer in `snapshot`.
    fn retain(&self, snapshot: &TableSnapshot) {
        let live: std::collections::HashSet<(&str, u64)> = snapshot
            .cold
            .iter()
            .map(|f| (f.path.as_str(), f.size))
            .collect();
        self.cold
            .lock()
            .retain(|(path, size), _| live.contains(&(path.as_str(), *size)));
        let live_hot: std::collections::HashSet<HotBatchId> =
            snapshot.hot.iter().map(|h| h.id()).collect();
        self.hot.lock().retain(|id, _| live_hot.contains(id));
    }

    /// Summarize, ahead of the builds, the sources of `snapshot` with events at or after
    /// `since` (the oldest baseline window): cold files and hot batches of at least
    /// [`WARM_MIN_HOT_ROWS`] rows (smaller ones are merged soon). Returns how many were
    /// computed.
    pub async fn warm(
        &self,
        engine: &QueryEngine,
        snapshot: &TableSnapshot,
        since: i64,
        memory: usize,
    ) -> Result<usize, DataFusionError> {
        self.retain(snapshot);
        let mut computed = 0;
        for f in snapshot.cold.iter().filter(|f| f.max_ts >= since) {
            if !self.cold.lock().contains_key(&(f.path.clone(), f.size)) {
                self.cold(engine, snapshot, f, memory).await?;
                computed += 1;
            }
        }
        for h in snapshot.hot.iter().filter(|h| h.max_ts >= since) {
            if h.batch.num_rows() >= WARM_MIN_HOT_ROWS && !self.has_hot(h) {
                self.hot(engine, snapshot, h, memory).await?;
                computed += 1;
            }
        }
        Ok(computed)
    }
}

/// How [`register_sources`] split the sources of the baseline windows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SourceSplit {
    /// Sources overlapping the baseline windows counted from their summaries (whole buckets).
    pub summarized: usize,
    /// Of those, the ones also read row by row in the partial edge buckets.
    pub partial: usize,
    /// Other sources that overlap the windows (too small to summarize), read row by row.
    pub edge: usize,
}

/// Register `dim_values`, `dim_partial_events` and `dim_edge_events` on `ctx` (a read-model
/// session over one snapshot) for the baseline windows `[lo, hi)`: the sources that overlap
/// them (cold files, and hot batches that have a summary or are large enough to get one) by
/// their per-bucket summaries (computed now when missing) plus, for those overlapping the
/// partial buckets at the edges ([`whole_buckets`]), their rows there; every other
/// overlapping source as events. A session without a storage snapshot (tests) gets
/// [`register_unsummarized`].
pub async fn register_sources(
    ctx: &SessionContext,
    engine: &QueryEngine,
    cache: &SummaryCache,
    (lo, hi): (i64, i64),
    memory: usize,
) -> Result<SourceSplit, DataFusionError> {
    let Some(trace_ctx) = ctx.state().config().get_extension::<TraceContext>() else {
        register_unsummarized(ctx).await?;
        return Ok(SourceSplit::default());
    };
    let snapshot = trace_ctx.snapshot.clone();
    cache.retain(&snapshot);
    let (a, b) = whole_buckets((lo, hi));
    let overlaps = |min: i64, max: i64, lo: i64, hi: i64| lo < hi && max >= lo && min < hi;
    let in_partial = |min: i64, max: i64| overlaps(min, max, lo, a) || overlaps(min, max, b, hi);
    let mut summaries = Vec::new();
    let (mut partial_hot, mut partial_cold) = (Vec::new(), Vec::new());
    let mut edge_hot = Vec::new();
    for f in &snapshot.cold {
        if overlaps(f.min_ts, f.max_ts, lo, hi) {
            summaries.push(cache.cold(engine, &snapshot, f, memory).await?);
            if in_partial(f.min_ts, f.max_ts) {
                partial_cold.push(f.clone());
            }
        }
    }
    for h in &snapshot.hot {
        if !overlaps(h.min_ts, h.max_ts, lo, hi) {
            continue;
        }
        let summarizable = h.batch.num_rows() >= WARM_MIN_HOT_ROWS || cache.has_hot(h);
        if summarizable {
            summaries.push(cache.hot(engine, &snapshot, h, memory).await?);
            if in_partial(h.min_ts, h.max_ts) {
                partial_hot.push(h.clone());
            }
        } else {
            edge_hot.push(h.clone());
        }
    }
    let split = SourceSplit {
        summarized: summaries.len(),
        partial: partial_hot.len() + partial_cold.len(),
        edge: edge_hot.len(),
    };
    let values: Vec<RecordBatch> = summaries.iter().flat_map(|s| s.iter().cloned()).collect();
    sql::register_batches(ctx, "dim_values", SUMMARY_SCHEMA.clone(), values)?;
    for (name, source) in [
        (
            "dim_partial_events",
            sources(&snapshot, partial_hot, partial_cold),
        ),
        ("dim_edge_events", sources(&snapshot, edge_hot, Vec::new())),
    ] {
        ctx.deregister_table(name)?;
        ctx.register_table(
            name,
            Arc::new(crate::query::provider::SnapshotTable::new(
                source,
                trace_ctx.cold_url.clone(),
            )),
        )?;
    }
    Ok(split)
}

/// Register `dim_values` and `dim_partial_events` empty and `dim_edge_events` as `events`
/// itself: every baseline event is read row by row.
pub async fn register_unsummarized(ctx: &SessionContext) -> Result<(), DataFusionError> {
    sql::register_batches(ctx, "dim_values", SUMMARY_SCHEMA.clone(), vec![])?;
    let events = ctx.table_provider("events").await?;
    sql::register_batches(ctx, "dim_partial_events", events.schema(), vec![])?;
    ctx.deregister_table("dim_edge_events")?;
    ctx.register_table("dim_edge_events", events)?;
    Ok(())
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

    /// A hot batch's summary is computed once and reused; the summaries of batches merged or
    /// flushed away are dropped at the next warm-up.
    #[tokio::test]
    async fn hot_summaries_are_reused_and_leave_with_their_batches() {
        use crate::storage::schema::TableId;
        const NOW: i64 = 1_777_888_800_000_000_000;
        const MEMORY: usize = 64 << 20;
        let dir = tempfile::tempdir().unwrap();
        // 17 hot batches (one more than compaction waits for) of 4 traces each.
        let storage =
            crate::storage::test_support::storage_with_hot_batches(dir.path(), NOW, 17).await;
        let engine = QueryEngine::new(storage.clone());
        let cache = SummaryCache::default();
        let parts = storage.table(TableId::Events).snapshot();
        let h = &parts.hot[0];
        let (a, b) = tokio::join!(
            cache.hot(&engine, &parts, h, MEMORY),
            cache.hot(&engine, &parts, h, MEMORY)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            Arc::ptr_eq(&a, &b),
            "concurrent requests share one computation"
        );
        let again = cache.hot(&engine, &parts, h, MEMORY).await.unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert!(cache.has_hot(h));
        for h in &parts.hot {
            cache.hot(&engine, &parts, h, MEMORY).await.unwrap();
        }
        assert_eq!(cache.hot_batches(), 17);
        cache.warm(&engine, &parts, 0, MEMORY).await.unwrap();
        assert_eq!(cache.hot_batches(), 17, "all still in the snapshot");

        storage.compact_hot(TableId::Events).await.unwrap();
        let merged = storage.table(TableId::Events).snapshot();
        assert_eq!(merged.hot.len(), 1);
        // Too small to warm: the parts' summaries are dropped, none computed.
        assert_eq!(cache.warm(&engine, &merged, 0, MEMORY).await.unwrap(), 0);
        assert_eq!(cache.hot_batches(), 0);
        cache
            .hot(&engine, &merged, &merged.hot[0], MEMORY)
            .await
            .unwrap();
        assert_eq!(cache.hot_batches(), 1);

        storage.flush(TableId::Events).await.unwrap();
        let flushed = storage.table(TableId::Events).snapshot();
        assert_eq!(cache.warm(&engine, &flushed, 0, MEMORY).await.unwrap(), 1);
        assert_eq!((cache.hot_batches(), cache.cold_files()), (0, 1));
        storage.close().unwrap();
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
        let p = dimension_params(100, 10, &f, false);
        assert_eq!(p[1], Param::Timestamp(90));
        assert_eq!(p[2], Param::Timestamp(60));
        assert_eq!(p[5], Param::str("PMT_502"));
        assert_eq!(p[6], Param::Int64(0));
        assert_eq!(dimension_params(100, 10, &f, true)[6], Param::Int64(1));
        assert_eq!(baseline_bounds(100, 10), (60, 90));
        assert_eq!(p.len(), DIMENSIONS_QUERY.params().len());
    }
}
