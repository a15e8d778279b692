//! The read models (spec reads §1-§4, §7.3, triage §5): error families, root-cause rollups,
//! blast radius, trace stories, recent traces, event search and lookup, capabilities, signals
//! and incidents. Each endpoint's module parses its validated parameters ([`params::Params`])
//! into a typed query (`…Query::parse`, a [`Rejection`] on bad values) and runs it
//! (`read(&SessionContext, &query)`) to a typed, serializable answer or a [`ReadError`]. No
//! transport here: the routes live in `src/api/reads.rs`.
//!
//! Every read model is one SQL file under `sql/` ([`crate::query::sql::ReadQuery`]) run by DataFusion over
//! the hot batches plus cold Parquet; Rust only walks span links ([`origin`]) and does small
//! per-code merges. Invariants:
//! - One read = one `SessionContext` = one storage snapshot, taken when the read's SQL
//!   starts; every statement of the read sees the same data.
//! - `now` is read once per request by the caller and passed in.

pub mod blast;
pub mod capabilities;
pub mod errors;
pub mod events;
pub mod graph;
pub mod origin;
pub mod params;
pub mod rollup;
pub mod signals;
pub mod trace_rows;
pub mod traces;

use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use crate::model::rejection::Rejection;
use crate::query::rows::RowError;
use crate::query::sql::{self as sql, Param, ReadQuery};
use trace_rows::TraceRow;

/// Why a read failed after its parameters were accepted.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A spec answer such as `404 not_found`.
    #[error("{0}")]
    Rejected(Rejection),
    #[error("read-model query failed")]
    Query(#[source] DataFusionError),
    #[error("read-model rows")]
    Rows(#[from] RowError),
    #[error("read deadline passed")]
    Timeout,
}

impl From<DataFusionError> for ReadError {
    fn from(e: DataFusionError) -> Self {
        ReadError::Query(e)
    }
}

impl From<Rejection> for ReadError {
    fn from(e: Rejection) -> Self {
        ReadError::Rejected(e)
    }
}

/// Load the events of `trace_ids` with `ts_start` in `[lo, hi]` (`sql/trace_events.sql`) and
/// hand them to `each` one trace at a time, owned, in trace-id order, each trace in identity
/// order ([`trace_rows::trace_order`]).
pub async fn for_each_trace(
    ctx: &SessionContext,
    trace_ids: &[String],
    (lo, hi): (i64, i64),
    mut each: impl FnMut(Vec<TraceRow>),
) -> Result<(), ReadError> {
    if trace_ids.is_empty() {
        return Ok(());
    }
    sql::register_sel(ctx, trace_ids).await?;
    let batches = sql::collect(
        ctx,
        ReadQuery::TraceEvents,
        vec![Param::Timestamp(lo), Param::Timestamp(hi)],
    )
    .await?;
    by_trace(&batches, |rows| {
        each(rows.iter().map(trace_rows::TraceRowRef::to_row).collect())
    })
}

/// [`for_each_trace`] over rows borrowed from the loaded batches
/// ([`trace_rows::TraceRowRef`], not copied), also keeping the loaded events as the table
/// `trace_events` of `ctx` for later queries of the same read (an empty table when
/// `trace_ids` is empty). The traces are cut into contiguous runs of trace order, one per
/// core ([`crate::query::cores`]), each run handed to `each` on its own thread with its own
/// state (`init()`). The states come back in trace order: concatenating what each gathered
/// gives what one pass would. A small load is one run on the caller's thread.
pub async fn load_traces_split<S: Send>(
    ctx: &SessionContext,
    trace_ids: &[String],
    (lo, hi): (i64, i64),
    init: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, &[trace_rows::TraceRowRef<'_>]) + Sync,
) -> Result<Vec<S>, ReadError> {
    let started = std::time::Instant::now();
    sql::register_sel(ctx, trace_ids).await?;
    let registered = started.elapsed();
    let batches = sql::materialize(
        ctx,
        ReadQuery::TraceEvents,
        vec![Param::Timestamp(lo), Param::Timestamp(hi)],
    )
    .await?;
    let columns = trace_columns(&batches)?;
    let loaded = started.elapsed();
    let rows = trace_rows::trace_order(&columns);
    let ordered = started.elapsed();
    let parts = if rows.len() < SPLIT_MIN_ROWS {
        1
    } else {
        crate::query::cores()
    };
    let runs = trace_runs(&rows, parts, |a, b| a.trace_id() == b.trace_id());
    let run = |part: &[trace_rows::TraceRowRef<'_>]| {
        let mut state = init();
        for trace in part.chunk_by(|a, b| a.trace_id() == b.trace_id()) {
            each(&mut state, trace);
        }
        state
    };
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let states = crate::query::in_parts(runs.len(), |p| run(&rows[runs[p].clone()]));
    let us = |d: std::time::Duration| d.as_micros() as u64;
    tracing::debug!(
        traces = trace_ids.len(),
        rows = rows.len(),
        runs = runs.len(),
        register_us = us(registered),
        load_us = us(loaded - registered),
        order_us = us(ordered - loaded),
        resolve_us = us(started.elapsed() - ordered),
        "traces loaded and resolved"
    );
    Ok(states)
}

/// Rows below this are resolved on the caller's thread ([`load_traces_split`]).
const SPLIT_MIN_ROWS: usize = 32 * 1024;

/// `rows` cut into at most `parts` contiguous ranges of about equal length, each cut moved
/// forward past the rows `same` as the one before it (the rows of one trace), so no group is
/// split.
fn trace_runs<T>(
    rows: &[T],
    parts: usize,
    same: impl Fn(&T, &T) -> bool,
) -> Vec<std::ops::Range<usize>> {
    let parts = parts.max(1);
    let mut runs = Vec::with_capacity(parts);
    let mut from = 0;
    for p in 1..=parts {
        let mut to = (rows.len() * p / parts).max(from);
        while to > 0 && to < rows.len() && same(&rows[to], &rows[to - 1]) {
            to += 1;
        }
        if to > from {
            runs.push(from..to);
            from = to;
        }
    }
    runs
}

/// The columns of each of `batches` (`sql/trace_events.sql`).
fn trace_columns(batches: &[RecordBatch]) -> Result<Vec<trace_rows::TraceEventColumns>, ReadError> {
    Ok(batches
        .iter()
        .map(trace_rows::TraceEventColumns::new)
        .collect::<Result<Vec<_>, _>>()?)
}

/// The rows of `batches` (`sql/trace_events.sql`) put in trace order and handed to `each` one
/// whole trace at a time.
fn by_trace(
    batches: &[RecordBatch],
    mut each: impl FnMut(&[trace_rows::TraceRowRef<'_>]),
) -> Result<(), ReadError> {
    let columns = trace_columns(batches)?;
    let rows = trace_rows::trace_order(&columns);
    for trace in rows.chunk_by(|a, b| a.trace_id() == b.trace_id()) {
        each(trace);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::trace_runs;

    /// The runs cover every row once, in order, never split a group, and are about equal.
    #[test]
    fn trace_runs_cut_between_groups_only() {
        let rows = [1, 1, 1, 2, 3, 3, 3, 3, 4, 5, 5, 6];
        for parts in 1..=5 {
            let runs = trace_runs(&rows, parts, |a, b| a == b);
            assert!(runs.len() <= parts);
            assert_eq!(runs.first().map(|r| r.start), Some(0));
            assert_eq!(runs.last().map(|r| r.end), Some(rows.len()));
            for w in runs.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_ne!(rows[w[1].start], rows[w[1].start - 1], "{parts}: {runs:?}");
            }
        }
        assert_eq!(trace_runs(&rows, 2, |a, b| a == b), [0..8, 8..12]);
        let whole = trace_runs(&[7, 7, 7], 3, |a, b| a == b);
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0], 0..3);
        assert!(trace_runs(&[] as &[i32], 2, |a, b| a == b).is_empty());
    }
}
