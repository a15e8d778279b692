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

/// [`for_each_trace`], also keeping the loaded events as the table `trace_events` of `ctx`
/// for later queries of the same read (an empty table when `trace_ids` is empty).
/// The rows are borrowed from the loaded batches ([`trace_rows::TraceRowRef`]), not copied.
pub async fn load_traces(
    ctx: &SessionContext,
    trace_ids: &[String],
    (lo, hi): (i64, i64),
    each: impl FnMut(&[trace_rows::TraceRowRef<'_>]),
) -> Result<(), ReadError> {
    sql::register_sel(ctx, trace_ids).await?;
    let batches = sql::materialize(
        ctx,
        ReadQuery::TraceEvents,
        vec![Param::Timestamp(lo), Param::Timestamp(hi)],
    )
    .await?;
    by_trace(&batches, each)
}

/// The rows of `batches` (`sql/trace_events.sql`) put in trace order and handed to `each` one
/// whole trace at a time.
fn by_trace(
    batches: &[RecordBatch],
    mut each: impl FnMut(&[trace_rows::TraceRowRef<'_>]),
) -> Result<(), ReadError> {
    let columns = batches
        .iter()
        .map(trace_rows::TraceEventColumns::new)
        .collect::<Result<Vec<_>, _>>()?;
    let rows = trace_rows::trace_order(&columns);
    for trace in rows.chunk_by(|a, b| a.trace_id() == b.trace_id()) {
        each(trace);
    }
    Ok(())
}
