//! The HTTP read API (spec reads §1-§4, §7.3): `/v1/errors`, `/v1/rollups/root_cause`,
//! `/v1/blast_radius`, `/v1/traces/{story,recent,<id>}`, `/v1/events/{search,<id>}`,
//! `/v1/capabilities`, and the incident reads of spec triage §5 (`/v1/incidents/…`).
//!
//! Every read model is one SQL file under `sql/` ([`sql::ReadQuery`]) run by DataFusion over
//! the hot batches plus cold Parquet; Rust only walks span links ([`origin`]) and does small
//! per-code merges. Invariants:
//! - One request = one `SessionContext` = one storage snapshot, taken when the request's
//!   SQL starts; every statement of the request sees the same data.
//! - The request's SQL runs under `WAYLOG_QUERY_MEMORY` (the context's pool) and one deadline
//!   of `WAYLOG_QUERY_TIMEOUT` for the whole read: `422` / `504`, never partial results.
//! - `now` is read once per request ([`ReadRequest::now_ns`]).
//! - Check order: rate limit, read scope, method, parameter names, parameter values, storage
//!   readiness.

pub mod blast;
pub mod capabilities;
pub mod errors;
pub mod events;
pub mod family;
pub mod handlers;
pub mod incidents;
pub mod origin;
pub mod params;
pub mod rollup;
pub mod rows;
pub mod signals;
pub mod sql;
pub mod traces;

#[cfg(test)]
mod tests;

use std::future::Future;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use serde::Serialize;

use crate::query::QueryError;
use crate::query::guard::classify;
use crate::server::error::{ApiError, json_response};
use crate::server::{RequestId, SharedState, auth};
use params::Params;
use rows::{RowError, TraceRow, batch_to_trace_rows};
use sql::{Param, ReadQuery};

/// The read routes, merged into the server's router. The static paths (`story`, `recent`,
/// `search`) win over the id routes (spec reads §1.2.5).
pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/v1/errors", any(handlers::errors_list))
        .route("/v1/rollups/root_cause", any(handlers::rollups_root_cause))
        .route("/v1/blast_radius", any(handlers::blast_radius_get))
        .route("/v1/traces/story", any(handlers::traces_story))
        .route("/v1/traces/recent", any(handlers::traces_recent))
        .route("/v1/traces/{trace_id}", any(handlers::traces_get))
        .route("/v1/events/search", any(handlers::events_search))
        .route("/v1/events/{event_id}", any(handlers::events_get))
        .route("/v1/capabilities", any(handlers::capabilities_get))
        .route("/v1/incidents/active", any(handlers::incidents_list))
        // The catch-all takes `{id}` and `{id}/snapshot`; the bare prefix is the empty id.
        .route("/v1/incidents/", any(handlers::incidents_get))
        .route("/v1/incidents/{*rest}", any(handlers::incidents_get))
}

/// Why a read failed after its parameters were accepted.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A spec answer such as `404 not_found`.
    #[error("{}", .0.error.message)]
    Api(ApiError),
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

impl From<ApiError> for ReadError {
    fn from(e: ApiError) -> Self {
        ReadError::Api(e)
    }
}

impl ReadError {
    /// The HTTP answer; 5xx bodies carry the request id only.
    pub fn into_api_error(self, request_id: &str) -> ApiError {
        match self {
            ReadError::Api(e) => e,
            ReadError::Timeout => timed_out(),
            ReadError::Query(e) => match classify(e) {
                QueryError::ResourcesExhausted(detail) => memory_exceeded(detail),
                QueryError::Timeout => timed_out(),
                QueryError::Unavailable(detail) => {
                    tracing::warn!(error = %detail, request_id, "read: storage unavailable");
                    ApiError::unavailable("unavailable", "storage unavailable", 5)
                }
                other => {
                    tracing::error!(error = %other, request_id, "read: query failed");
                    ApiError::internal(request_id)
                }
            },
            ReadError::Rows(e) => {
                tracing::error!(error = %crate::storage::error_chain(&e), request_id, "read: bad rows");
                ApiError::internal(request_id)
            }
        }
    }

    /// The HTTP answer of a read whose storage failures the spec names (triage §5: `500
    /// internal_error` with `detail`): spec answers, the deadline and the memory cap map as
    /// in [`ReadError::into_api_error`]; any other failure, an unreadable cold store
    /// included, is that `500`.
    pub fn into_storage_failure(self, request_id: &str, detail: &str) -> ApiError {
        let failed = |error: &dyn std::fmt::Display| {
            tracing::error!(error = %error, request_id, "read: {detail}");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "internal error",
                detail,
            )
        };
        match self {
            ReadError::Query(e) => match classify(e) {
                QueryError::ResourcesExhausted(detail) => memory_exceeded(detail),
                QueryError::Timeout => timed_out(),
                other => failed(&other),
            },
            ReadError::Rows(e) => failed(&crate::storage::error_chain(&e)),
            other => other.into_api_error(request_id),
        }
    }
}

/// `504 timeout` (spec reads §1.3).
fn timed_out() -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "timeout",
        "query timed out",
        "",
    )
}

/// `422 resources_exhausted` (spec reads §1.3).
fn memory_exceeded(detail: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "resources_exhausted",
        "query exceeded memory limit",
        detail,
    )
}

/// An accepted read request: authorized, `GET`, parameter names checked.
#[derive(Debug)]
pub struct ReadRequest {
    pub params: Params,
    pub request_id: String,
    /// Server time, read once for the whole request.
    pub now_ns: i64,
}

impl ReadRequest {
    /// Rate limit, read scope, method and strict parameter names (spec reads §1.1, §1.2).
    pub fn begin(state: &SharedState, req: &Request, allowed: &[&str]) -> Result<Self, ApiError> {
        Self::begin_allowing(state, req, allowed, "GET")
    }

    /// [`ReadRequest::begin`] for a route that also answers other methods itself (`OPTIONS`):
    /// `allow` is the `Allow` header of its `405`.
    pub fn begin_allowing(
        state: &SharedState,
        req: &Request,
        allowed: &[&str],
        allow: &str,
    ) -> Result<Self, ApiError> {
        auth::gate(state, req, auth::Scope::Read)?;
        if req.method() != Method::GET {
            return Err(ApiError::method_not_allowed(allow));
        }
        let params = Params::parse(req.uri().query(), allowed)?;
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        Ok(ReadRequest {
            params,
            request_id,
            now_ns: state.clock.now_ns(),
        })
    }

    /// Run `read` over a fresh snapshot under the memory cap and deadline; `200` with its
    /// JSON, or the mapped error.
    pub async fn run<T, F, Fut>(self, state: &SharedState, read: F) -> Response
    where
        T: Serialize,
        F: FnOnce(SessionContext) -> Fut,
        Fut: Future<Output = Result<T, ReadError>>,
    {
        match self.execute(state, read).await {
            Ok(body) => json_response(StatusCode::OK, &body),
            Err(e) => e.into_api_error(&self.request_id).into_response(),
        }
    }

    /// Run `read` over a fresh snapshot under the memory cap and deadline, for handlers that
    /// shape their own answer. Storage not recovered yet is the `503` of every read.
    pub async fn execute<T, F, Fut>(&self, state: &SharedState, read: F) -> Result<T, ReadError>
    where
        F: FnOnce(SessionContext) -> Fut,
        Fut: Future<Output = Result<T, ReadError>>,
    {
        let Some(engine) = state.engine() else {
            return Err(ApiError::unavailable("unavailable", "storage unavailable", 1).into());
        };
        let work = async {
            let ctx = engine.context(state.config.query_memory_bytes).await?;
            read(ctx).await
        };
        match tokio::time::timeout(state.config.query_timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(ReadError::Timeout),
        }
    }
}

/// Load the events of `trace_ids` with `ts_start` in `[lo, hi]` (`sql/trace_events.sql`) and
/// hand them to `each` one trace at a time, in trace-id order, each trace in identity order.
/// Memory beyond the query's own is bounded by the largest trace.
pub async fn for_each_trace(
    ctx: &SessionContext,
    trace_ids: &[String],
    (lo, hi): (i64, i64),
    each: impl FnMut(Vec<TraceRow>),
) -> Result<(), ReadError> {
    if trace_ids.is_empty() {
        return Ok(());
    }
    sql::register_sel(ctx, trace_ids).await?;
    let mut stream = sql::stream(
        ctx,
        ReadQuery::TraceEvents,
        vec![Param::Timestamp(lo), Param::Timestamp(hi)],
    )
    .await?;
    let mut traces = TraceGrouper::new(each);
    while let Some(batch) = stream.next().await {
        traces.push(&batch?)?;
    }
    traces.finish();
    Ok(())
}

/// [`for_each_trace`], also keeping the loaded events as the table `trace_events` of `ctx`
/// for later queries of the same read (an empty table when `trace_ids` is empty).
/// The rows are borrowed from the loaded batches ([`rows::TraceRowRef`]), not copied.
pub async fn load_traces(
    ctx: &SessionContext,
    trace_ids: &[String],
    (lo, hi): (i64, i64),
    mut each: impl FnMut(&[rows::TraceRowRef<'_>]),
) -> Result<(), ReadError> {
    sql::register_sel(ctx, trace_ids).await?;
    let batches = sql::materialize(
        ctx,
        ReadQuery::TraceEvents,
        vec![Param::Timestamp(lo), Param::Timestamp(hi)],
    )
    .await?;
    let columns = batches
        .iter()
        .map(rows::TraceEventColumns::new)
        .collect::<Result<Vec<_>, _>>()?;
    // A trace's rows are consecutive (the query orders by trace) but may span batches.
    let mut trace: Vec<rows::TraceRowRef<'_>> = Vec::new();
    for cols in &columns {
        for i in 0..cols.len() {
            let row = cols.row(i);
            if trace.last().is_some_and(|r| r.trace_id() != row.trace_id()) {
                each(&trace);
                trace.clear();
            }
            trace.push(row);
        }
    }
    if !trace.is_empty() {
        each(&trace);
    }
    Ok(())
}

/// Cuts a trace-ordered run of `trace_events` rows into whole traces.
struct TraceGrouper<F: FnMut(Vec<TraceRow>)> {
    current: Vec<TraceRow>,
    each: F,
}

impl<F: FnMut(Vec<TraceRow>)> TraceGrouper<F> {
    fn new(each: F) -> Self {
        TraceGrouper {
            current: Vec::new(),
            each,
        }
    }

    fn push(&mut self, batch: &RecordBatch) -> Result<(), ReadError> {
        for row in batch_to_trace_rows(batch)? {
            if self
                .current
                .last()
                .is_some_and(|r| r.trace_id != row.trace_id)
            {
                (self.each)(std::mem::take(&mut self.current));
            }
            self.current.push(row);
        }
        Ok(())
    }

    fn finish(mut self) {
        if !self.current.is_empty() {
            (self.each)(std::mem::take(&mut self.current));
        }
    }
}
