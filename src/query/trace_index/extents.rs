//! Trace extents from the trace indexes: per trace, the earliest `ts_start` and the latest
//! `ts_end` of its events with `ts_start` in a range, without hashing any `trace_id` string.
//!
//! Every source's index lists its rows sorted by trace id, so each source gives a run of
//! `(trace, min start, max end)` in id order (one blocking task per source: both cores), and
//! the runs merge by id. It answers what `GROUP BY trace_id` with `min(ts_start)`,
//! `max(ts_end)` over `WHERE ts_start BETWEEN lo AND hi` answers; when a source cannot be
//! read that way (no trace context, an unindexable source, a null time) it answers `None` and
//! the caller runs the SQL.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::buffer::ScalarBuffer;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampNanosecondType};
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

use super::{TraceContext, TraceIndex};

/// One trace's run entry: `(trace id, min ts_start, max ts_end)`.
pub type Extent = (u128, i64, i64);

/// What one source gives: its sorted run, or `None` when it cannot be read by index.
type Run = Option<Vec<Extent>>;

/// A source's run: the one its index keeps (the source lies inside the range), or one
/// computed for the range.
enum SourceRun {
    Whole(Arc<TraceIndex>),
    Ranged(Vec<Extent>),
}

impl SourceRun {
    fn extents(&self) -> &[Extent] {
        match self {
            SourceRun::Whole(index) => index.extents.as_deref().unwrap_or_default(),
            SourceRun::Ranged(run) => run,
        }
    }

    /// `index`'s kept run when the source (times `[min, max]`) lies inside `[lo, hi]`,
    /// else the run of its rows in range (`columns` holding `ts_start` and `ts_end`).
    fn of(
        index: Arc<TraceIndex>,
        columns: &RecordBatch,
        (min, max): (i64, i64),
        (lo, hi): (i64, i64),
    ) -> Option<SourceRun> {
        if lo <= min && max <= hi && index.extents.is_some() {
            return Some(SourceRun::Whole(index));
        }
        source_run(&index, columns, (lo, hi)).map(SourceRun::Ranged)
    }
}

/// Where a merged trace extent goes: `(min ts_start, max ts_end)` of one trace, traces in id
/// order. The id space is merged in parts on several threads ([`merge`]): each part fills a
/// sink of its own ([`ExtentSink::part`]), and the parts are put together in id order
/// ([`ExtentSink::absorb`]).
pub trait ExtentSink: Send + Sized + 'static {
    fn add(&mut self, start: i64, end: i64);
    /// An empty sink like this one, for a later part of the id space.
    fn part(&self) -> Self;
    /// Take in `later`, the sink of the part of the id space right after this one's.
    fn absorb(&mut self, later: Self);
}

impl ExtentSink for Vec<(i64, i64)> {
    fn add(&mut self, start: i64, end: i64) {
        self.push((start, end));
    }
    fn part(&self) -> Self {
        Vec::new()
    }
    fn absorb(&mut self, later: Self) {
        self.extend(later);
    }
}

/// `(min ts_start, max ts_end)` of every trace with an event whose `ts_start` lies in
/// `[lo, hi]` (over those events only), in trace-id order; `None` when some source in range
/// has no usable index, so the caller falls back to SQL.
pub async fn trace_extents(
    ctx: &SessionContext,
    range: (i64, i64),
) -> Result<Option<Vec<(i64, i64)>>> {
    let each = trace_extents_each(ctx, &[range], vec![Vec::new()]).await?;
    Ok(each.and_then(|mut e| e.pop()))
}

/// [`trace_extents`] of each of `ranges` into the sink at its position in `sinks` (given
/// back), from one read of every source: a source lying inside several ranges gives them the
/// one run its index keeps, and the runs of all ranges merge in one pass. `None` when some
/// source in a range has no usable index.
pub async fn trace_extents_each<S: ExtentSink>(
    ctx: &SessionContext,
    ranges: &[(i64, i64)],
    mut sinks: Vec<S>,
) -> Result<Option<Vec<S>>> {
    let Some(t) = ctx.state().config().get_extension::<TraceContext>() else {
        return Ok(None);
    };
    let touches = |(min, max): (i64, i64)| ranges.iter().any(|&(lo, hi)| max >= lo && min <= hi);
    let ranges: Arc<[(i64, i64)]> = ranges.into();
    let snapshot = &t.snapshot;
    let mut tasks: Vec<tokio::task::JoinHandle<Result<Option<SourceRuns>>>> = Vec::new();
    for f in snapshot
        .cold
        .iter()
        .filter(|f| touches((f.min_ts, f.max_ts)))
    {
        let Some(index) = t.cache.get(&t.readers, &snapshot.schema, f).await? else {
            return Ok(None);
        };
        let (span, ranges) = ((f.min_ts, f.max_ts), ranges.clone());
        tasks.push(tokio::task::spawn_blocking(move || {
            let Some(resident) = index.resident.clone() else {
                return Ok(None);
            };
            Ok(SourceRuns::of(&index, &resident, span, &ranges))
        }));
    }
    for h in snapshot
        .hot
        .iter()
        .filter(|h| h.batch.num_rows() > 0 && touches((h.min_ts, h.max_ts)))
    {
        let (cache, h, ranges) = (t.cache.clone(), h.clone(), ranges.clone());
        tasks.push(tokio::task::spawn_blocking(move || {
            let Some(index) = cache.get_hot(&h) else {
                return Ok(None);
            };
            Ok(SourceRuns::of(
                &index,
                &h.batch,
                (h.min_ts, h.max_ts),
                &ranges,
            ))
        }));
    }
    let mut runs = Vec::new();
    for task in tasks {
        let source = task
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))??;
        match source {
            Some(source) => runs.extend(source.0),
            None => return Ok(None),
        }
    }
    tokio::task::spawn_blocking(move || {
        merge(&runs, &mut sinks);
        Ok(Some(sinks))
    })
    .await
    .map_err(|e| DataFusionError::External(Box::new(e)))?
}

/// The distinct runs one source gives a set of ranges, each with the ranges it serves.
struct SourceRuns(Vec<(SourceRun, Vec<usize>)>);

impl SourceRuns {
    /// The runs of a source (times `[min, max]`, `columns` holding `ts_start` and `ts_end`)
    /// for `ranges`: its index's kept run for every range holding the whole source, a run of
    /// its rows in range for each other range it touches; `None` when it cannot be read by
    /// index.
    fn of(
        index: &Arc<TraceIndex>,
        columns: &RecordBatch,
        (min, max): (i64, i64),
        ranges: &[(i64, i64)],
    ) -> Option<SourceRuns> {
        let mut whole: Vec<usize> = Vec::new();
        let mut runs = Vec::new();
        for (k, &(lo, hi)) in ranges.iter().enumerate() {
            if max < lo || min > hi {
                continue;
            }
            match SourceRun::of(index.clone(), columns, (min, max), (lo, hi))? {
                SourceRun::Whole(_) => whole.push(k),
                ranged => runs.push((ranged, vec![k])),
            }
        }
        if !whole.is_empty() {
            runs.push((SourceRun::Whole(index.clone()), whole));
        }
        Some(SourceRuns(runs))
    }
}

/// The non-null `name` column of `batch` as nanoseconds, `None` when absent, of another type
/// or with nulls.
fn times(batch: &RecordBatch, name: &str) -> Option<ScalarBuffer<i64>> {
    let col = batch.column_by_name(name)?;
    if col.null_count() > 0 {
        return None;
    }
    match col.data_type() {
        DataType::Timestamp(TimeUnit::Nanosecond, _) => Some(
            col.as_primitive::<TimestampNanosecondType>()
                .values()
                .clone(),
        ),
        DataType::Int64 => Some(col.as_primitive::<Int64Type>().values().clone()),
        _ => None,
    }
}

/// The run of one source whose rows in row order are `columns` (holding `ts_start` and
/// `ts_end`), indexed by `index`.
pub(super) fn source_run(index: &TraceIndex, columns: &RecordBatch, (lo, hi): (i64, i64)) -> Run {
    let starts = times(columns, "ts_start")?;
    let ends = times(columns, "ts_end")?;
    let mut run: Vec<Extent> = Vec::new();
    for (id, row) in index.ids.iter().zip(&index.rows) {
        let row = *row as usize;
        let (start, end) = (*starts.get(row)?, *ends.get(row)?);
        if start < lo || start > hi {
            continue;
        }
        match run.last_mut() {
            Some(last) if last.0 == *id => {
                last.1 = last.1.min(start);
                last.2 = last.2.max(end);
            }
            _ => run.push((*id, start, end)),
        }
    }
    Some(run)
}

/// Leading id bits that pick a trace's bucket in [`merge`]: ids are uniformly random, so each of
/// the 4,096 buckets holds about 1/4,096 of every run (a few hundred entries at 10 M events,
/// cache resident while they are sorted).
const BUCKET_BITS: u32 = 12;
/// Below this many entries in all, the runs merge on the calling thread only.
const PARALLEL_MIN_ENTRIES: usize = 1 << 16;

/// The runs merged by trace id into the sink of each range they serve: one `(min start, max
/// end)` per trace of the runs serving that range, in id order.
///
/// Each run is sorted by id, so a bucket of the id space is one slice of each run. Bucket by
/// bucket, the slices are gathered and sorted (a few hundred entries: no heap over every run,
/// whose pop cost grows with the number of hot batches), and equal ids combine. The buckets are
/// cut into contiguous parts merged on their own threads (up to the cores available), each
/// part into sinks of its own, put together in id order.
fn merge<S: ExtentSink>(runs: &[(SourceRun, Vec<usize>)], sinks: &mut [S]) {
    let runs: Vec<(&[Extent], &[usize])> = runs
        .iter()
        .map(|(run, serves)| (run.extents(), serves.as_slice()))
        .collect();
    let entries: usize = runs.iter().map(|r| r.0.len()).sum();
    let threads = crate::query::cores();
    let parts = if entries < PARALLEL_MIN_ENTRIES {
        1
    } else {
        threads
    };
    let buckets = 1usize << BUCKET_BITS;
    let bounds: Vec<(usize, usize)> = (0..parts)
        .map(|p| (buckets * p / parts, buckets * (p + 1) / parts))
        .collect();
    if parts == 1 {
        merge_buckets(&runs, (0, buckets), sinks);
        return;
    }
    let mut later: Vec<Vec<S>> = bounds[1..]
        .iter()
        .map(|_| sinks.iter().map(ExtentSink::part).collect())
        .collect();
    std::thread::scope(|scope| {
        let runs = &runs;
        for (own, &b) in later.iter_mut().zip(&bounds[1..]) {
            scope.spawn(move || merge_buckets(runs, b, own));
        }
        merge_buckets(runs, bounds[0], sinks);
    });
    for part in later {
        for (sink, p) in sinks.iter_mut().zip(part) {
            sink.absorb(p);
        }
    }
}

/// The first id of bucket `b` (`u128::MAX` past the last bucket, whose ids all lie below it
/// except `u128::MAX` itself, which [`merge_buckets`] takes with the last bucket).
fn bucket_start(b: usize) -> u128 {
    match u32::try_from(b) {
        Ok(b) if b < 1 << BUCKET_BITS => u128::from(b) << (128 - BUCKET_BITS),
        _ => u128::MAX,
    }
}

/// [`merge`] of the buckets `[from, to)` into `sinks`.
fn merge_buckets<S: ExtentSink>(
    runs: &[(&[Extent], &[usize])],
    (from, to): (usize, usize),
    sinks: &mut [S],
) {
    let last = to == 1 << BUCKET_BITS;
    let lo = bucket_start(from);
    // Where each run's part starts.
    let mut at: Vec<usize> = runs
        .iter()
        .map(|(run, _)| run.partition_point(|e| e.0 < lo))
        .collect();
    // The trace being merged per range.
    let mut current: Vec<Option<Extent>> = vec![None; sinks.len()];
    let mut bucket: Vec<(u128, i64, i64, u32)> = Vec::new();
    for b in from..to {
        let hi = bucket_start(b + 1);
        bucket.clear();
        for (r, (run, _)) in runs.iter().enumerate() {
            let rest = &run[at[r]..];
            let n = if last && b + 1 == to {
                rest.len()
            } else {
                rest.iter().take_while(|e| e.0 < hi).count()
            };
            bucket.extend(rest[..n].iter().map(|e| (e.0, e.1, e.2, r as u32)));
            at[r] += n;
        }
        bucket.sort_unstable_by_key(|e| e.0);
        for &(id, start, end, r) in &bucket {
            for &k in runs[r as usize].1 {
                current[k] = match current[k] {
                    Some(c) if c.0 == id => Some((id, c.1.min(start), c.2.max(end))),
                    Some(c) => {
                        sinks[k].add(c.1, c.2);
                        Some((id, start, end))
                    }
                    None => Some((id, start, end)),
                };
            }
        }
    }
    for (sink, c) in sinks.iter_mut().zip(current) {
        if let Some(c) = c {
            sink.add(c.1, c.2);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{StringArray, TimestampNanosecondArray};
    use datafusion::arrow::datatypes::{Field, Schema, TimeUnit};

    use super::*;

    fn batch(rows: &[(u128, i64, i64)]) -> RecordBatch {
        let ts = DataType::Timestamp(TimeUnit::Nanosecond, None);
        let schema = Schema::new(vec![
            Field::new("trace_id", DataType::Utf8, false),
            Field::new("ts_start", ts.clone(), false),
            Field::new("ts_end", ts, false),
        ]);
        let ids: StringArray = rows.iter().map(|r| Some(format!("{:032x}", r.0))).collect();
        let starts = TimestampNanosecondArray::from_iter_values(rows.iter().map(|r| r.1));
        let ends = TimestampNanosecondArray::from_iter_values(rows.iter().map(|r| r.2));
        RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(ids), Arc::new(starts), Arc::new(ends)],
        )
        .unwrap()
    }

    fn run(rows: &[(u128, i64, i64)], range: (i64, i64)) -> Vec<Extent> {
        let b = batch(rows);
        let index = super::super::hot_index(&b).unwrap();
        source_run(&index, &b, range).unwrap()
    }

    #[test]
    fn a_run_keeps_the_rows_in_range_per_trace_in_id_order() {
        let rows = [
            (7, 50, 60),
            (2, 10, 40),
            (7, 20, 25),
            (2, 30, 35),
            (2, 500, 900),
        ];
        assert_eq!(run(&rows, (0, 100)), vec![(2, 10, 40), (7, 20, 60)]);
        // The event starting after the range does not stretch its trace.
        assert_eq!(run(&rows, (15, 100)), vec![(2, 30, 35), (7, 20, 60)]);
        assert!(run(&rows, (1000, 2000)).is_empty());
    }

    #[test]
    fn a_source_inside_the_range_gives_the_run_its_index_keeps() {
        let b = batch(&[(7, 50, 60), (2, 10, 40), (7, 20, 25)]);
        let index = super::super::hot_index(&b).unwrap();
        assert_eq!(
            index.extents.as_deref(),
            Some(&[(2, 10, 40), (7, 20, 60)][..])
        );
        let whole = SourceRun::of(index.clone(), &b, (10, 50), (0, 100)).unwrap();
        assert!(matches!(whole, SourceRun::Whole(_)));
        let cut = SourceRun::of(index, &b, (10, 50), (15, 100)).unwrap();
        assert_eq!(cut.extents(), &[(7, 20, 60)]);
    }

    fn merged(runs: &[(SourceRun, Vec<usize>)], ranges: usize) -> Vec<Vec<(i64, i64)>> {
        let mut sinks = vec![Vec::new(); ranges];
        merge(runs, &mut sinks);
        sinks
    }

    #[test]
    fn runs_merge_by_trace() {
        let a = vec![(1, 10, 20), (3, 5, 6), (9, 1, 2)];
        let b = vec![(3, 1, 30), (4, 7, 8)];
        let c = vec![(9, 0, 1)];
        let runs = [a, b, Vec::new(), c].map(|r| (SourceRun::Ranged(r), vec![0]));
        assert_eq!(
            merged(&runs, 1),
            vec![vec![(10, 20), (1, 30), (7, 8), (0, 2)]]
        );
        assert_eq!(merged(&[], 1), vec![Vec::new()]);
        // A run serving two ranges counts in both; one serving one range in that one only.
        let shared = (SourceRun::Ranged(vec![(1, 10, 20), (3, 5, 6)]), vec![0, 1]);
        let second = (SourceRun::Ranged(vec![(3, 1, 30), (4, 7, 8)]), vec![1]);
        assert_eq!(
            merged(&[shared, second], 2),
            vec![vec![(10, 20), (5, 6)], vec![(10, 20), (1, 30), (7, 8)]]
        );
    }

    #[test]
    fn a_null_time_or_a_foreign_id_gives_no_run() {
        let b = batch(&[(1, 10, 20)]);
        let index = super::super::hot_index(&b).unwrap();
        let ends = TimestampNanosecondArray::from(vec![None::<i64>]);
        let nulls = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                b.schema().field(0).clone(),
                b.schema().field(1).clone(),
                Field::new("ts_end", ends.data_type().clone(), true),
            ])),
            vec![b.column(0).clone(), b.column(1).clone(), Arc::new(ends)],
        )
        .unwrap();
        assert_eq!(source_run(&index, &nulls, (0, 100)), None);
        let foreign = RecordBatch::try_new(
            b.schema(),
            vec![
                Arc::new(StringArray::from(vec!["not-a-trace-id"])),
                b.column(1).clone(),
                b.column(2).clone(),
            ],
        )
        .unwrap();
        assert!(super::super::hot_index(&foreign).is_none());
    }

    /// The bucketed merge on several threads gives what a plain aggregation by id gives, in id
    /// order: many runs of random ids sharing traces, ids at the bucket bounds and at both ends
    /// of the id space, runs serving different ranges.
    #[test]
    fn the_parallel_bucketed_merge_equals_an_aggregation_by_id() {
        use std::collections::BTreeMap;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let shared: Vec<u128> = (0..5_000)
            .map(|_| (u128::from(next()) << 64) | u128::from(next()))
            .chain([
                0,
                1,
                u128::MAX,
                u128::MAX - 1,
                1 << 116,
                (1 << 116) - 1,
                7 << 116,
            ])
            .collect();
        let mut runs = Vec::new();
        for r in 0..12 {
            let mut run: Vec<Extent> = (0..12_000)
                .map(|i| {
                    let id = if i % 3 == 0 {
                        shared[next() as usize % shared.len()]
                    } else {
                        (u128::from(next()) << 64) | u128::from(next())
                    };
                    let start = (next() % 1_000) as i64;
                    (id, start, start + (next() % 500) as i64)
                })
                .collect();
            run.sort_unstable_by_key(|e| e.0);
            run.dedup_by(|b, a| {
                let same = a.0 == b.0;
                if same {
                    a.1 = a.1.min(b.1);
                    a.2 = a.2.max(b.2);
                }
                same
            });
            runs.push((
                SourceRun::Ranged(run),
                if r % 4 == 0 { vec![0, 1] } else { vec![r % 2] },
            ));
        }
        assert!(runs.iter().map(|r| r.0.extents().len()).sum::<usize>() > PARALLEL_MIN_ENTRIES);
        let mut want = vec![BTreeMap::<u128, (i64, i64)>::new(); 2];
        for (run, serves) in &runs {
            for &(id, start, end) in run.extents() {
                for &k in serves {
                    let e = want[k].entry(id).or_insert((start, end));
                    *e = (e.0.min(start), e.1.max(end));
                }
            }
        }
        let want: Vec<Vec<(i64, i64)>> = want
            .into_iter()
            .map(|m| m.into_values().collect())
            .collect();
        assert_eq!(merged(&runs, 2), want);
        assert_eq!(merge_buckets_alone(&runs), want);
    }

    /// [`merge_buckets`] over the whole id space on one thread.
    fn merge_buckets_alone(runs: &[(SourceRun, Vec<usize>)]) -> Vec<Vec<(i64, i64)>> {
        let runs: Vec<(&[Extent], &[usize])> = runs
            .iter()
            .map(|(run, serves)| (run.extents(), serves.as_slice()))
            .collect();
        let mut sinks = vec![Vec::new(); 2];
        merge_buckets(&runs, (0, 1 << BUCKET_BITS), &mut sinks);
        sinks
    }
}
