//! `POST /v1/query` (spec reads §5): read scope, strict body, concurrency slots, caps, and
//! the JSON / CSV / Arrow IPC response forms.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::body::media_type;
use super::error::{ApiError, json_response};
use super::{SharedState, auth};
use crate::query::output::{ColumnInfo, columns_of, rows_to_csv, rows_to_json};
use crate::query::{QueryOptions, run_user_sql};

/// Body limit of `/v1/query`.
pub const MAX_QUERY_BODY: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Arrow,
}

#[derive(Debug)]
pub struct QueryRequest {
    pub sql: String,
    pub limit: usize,
    pub timeout_ms: u64,
    pub format: Format,
}

/// Parse and check the body against the caps (errors are the spec's 400s).
pub fn parse_request(
    body: &[u8],
    max_rows: usize,
    max_timeout: Duration,
) -> Result<QueryRequest, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let Value::Object(map) = v else {
        return Err(ApiError::bad_request("body must be a JSON object"));
    };
    for k in map.keys() {
        if !matches!(k.as_str(), "sql" | "limit" | "timeout_ms" | "format") {
            return Err(ApiError::bad_request(format!("unknown field: {k}")));
        }
    }
    let sql = match map.get("sql") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None => {
            return Err(ApiError::bad_request("sql: required and non-empty"));
        }
        Some(_) => return Err(ApiError::bad_request("sql: must be a string")),
    };
    let max_timeout_ms = max_timeout.as_millis() as u64;
    let int_field = |name: &str, default: u64, cap: u64| -> Result<u64, ApiError> {
        match map.get(name) {
            None => Ok(default),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) if i < 1 => Err(ApiError::bad_request(format!("{name}: must be >= 1"))),
                Some(i) if i as u64 > cap => Err(ApiError::over_limit(
                    "limit exceeds maximum",
                    format!("{name} must be <= {cap}"),
                )),
                Some(i) => Ok(i as u64),
                None if n.as_u64().is_some() => Err(ApiError::over_limit(
                    "limit exceeds maximum",
                    format!("{name} must be <= {cap}"),
                )),
                None => Err(ApiError::bad_request(format!("{name}: must be an integer"))),
            },
            Some(_) => Err(ApiError::bad_request(format!("{name}: must be an integer"))),
        }
    };
    let limit = int_field("limit", 1000.min(max_rows as u64), max_rows as u64)? as usize;
    let timeout_ms = int_field("timeout_ms", 10_000.min(max_timeout_ms), max_timeout_ms)?;
    let format = match map.get("format") {
        None => Format::Json,
        Some(Value::String(s)) => match s.as_str() {
            "json" => Format::Json,
            "csv" => Format::Csv,
            "arrow" => Format::Arrow,
            _ => return Err(ApiError::bad_request("format: must be json, csv or arrow")),
        },
        Some(_) => return Err(ApiError::bad_request("format: must be a string")),
    };
    Ok(QueryRequest {
        sql,
        limit,
        timeout_ms,
        format,
    })
}

#[derive(Serialize)]
struct ColumnOut<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    data_type: &'a str,
    nullable: bool,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    columns: Vec<ColumnOut<'a>>,
    rows: Vec<Vec<Value>>,
    row_count: usize,
    truncated: bool,
    elapsed_ms: u64,
}

pub async fn query_run(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    auth::gate(&state, &req, auth::Scope::Read)?;
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed("POST"));
    }
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE)
        && media_type(ct.to_str().unwrap_or("")).as_deref() != Some("application/json")
    {
        return Err(ApiError::bad_request(
            "Content-Type must be application/json",
        ));
    }
    let body = axum::body::to_bytes(req.into_body(), MAX_QUERY_BODY)
        .await
        .map_err(|e| {
            if super::body::is_length_limit(&e) {
                ApiError::body_oversize(format!("limit {MAX_QUERY_BODY} bytes"))
            } else {
                ApiError::bad_request(e.to_string())
            }
        })?;
    let q = parse_request(
        &body,
        state.config.query_max_rows,
        state.config.query_timeout,
    )?;
    let engine = state
        .engine()
        .ok_or_else(|| ApiError::storage_unavailable(1))?;
    let Ok(_permit) = state.query_slots.try_acquire() else {
        crate::metrics::query_rejected("concurrency");
        return Err(ApiError::unavailable(
            "overloaded",
            "too many concurrent queries",
            1,
        ));
    };
    let opts = QueryOptions {
        limit: q.limit,
        timeout: Some(Duration::from_millis(q.timeout_ms)),
        memory_bytes: state.config.query_memory_bytes,
    };
    let result = run_user_sql(engine, &q.sql, &opts).await?;
    check_response_bytes(&result, state.config.query_max_response_bytes)?;
    render(&result, q.format)
}

/// The result's size in Arrow (its slices' buffers, not the buffers they share), against
/// `WAYLOG_QUERY_MAX_RESPONSE_BYTES`: a larger result is `422 resources_exhausted` before any
/// encoding allocates its copy.
fn check_response_bytes(result: &crate::query::QueryResult, max: usize) -> Result<(), ApiError> {
    let bytes: usize = result
        .batches
        .iter()
        .flat_map(|b| b.columns())
        .map(|c| c.to_data().get_slice_memory_size().unwrap_or(usize::MAX))
        .fold(0, usize::saturating_add);
    if bytes <= max {
        return Ok(());
    }
    crate::metrics::query_rejected("response_bytes");
    Err(ApiError::new(
        crate::model::rejection::ErrorClass::ResourcesExhausted,
        "resources_exhausted",
        "query result too large",
        format!("{bytes} bytes of result; the limit is {max} (WAYLOG_QUERY_MAX_RESPONSE_BYTES)"),
    ))
}

fn render(result: &crate::query::QueryResult, format: Format) -> Result<Response, ApiError> {
    let columns: Vec<ColumnInfo> = columns_of(&result.schema);
    Ok(match format {
        Format::Json => {
            let rows = rows_to_json(&result.batches, result.row_count);
            json_response(
                StatusCode::OK,
                &JsonOut {
                    columns: columns
                        .iter()
                        .map(|c| ColumnOut {
                            name: &c.name,
                            data_type: &c.data_type,
                            nullable: c.nullable,
                        })
                        .collect(),
                    rows,
                    row_count: result.row_count,
                    truncated: result.truncated,
                    elapsed_ms: result.elapsed_ms,
                },
            )
        }
        Format::Csv => {
            let rows = rows_to_json(&result.batches, result.row_count);
            let body = rows_to_csv(&columns, &rows);
            with_count_headers(
                (StatusCode::OK, body).into_response(),
                "text/csv; charset=utf-8",
                result,
            )
        }
        Format::Arrow => {
            let mut buf = Vec::new();
            let written = (|| {
                let mut w = datafusion::arrow::ipc::writer::StreamWriter::try_new(
                    &mut buf,
                    &result.schema,
                )?;
                for b in &result.batches {
                    w.write(b)?;
                }
                w.finish()
            })();
            if let Err(e) = written {
                tracing::error!(error = %e, "arrow ipc encode failed");
                return Err(ApiError::internal());
            }
            with_count_headers(
                (StatusCode::OK, buf).into_response(),
                "application/vnd.apache.arrow.stream",
                result,
            )
        }
    })
}

fn with_count_headers(
    mut resp: Response,
    content_type: &'static str,
    result: &crate::query::QueryResult,
) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        "waylog-row-count",
        HeaderValue::from_str(&result.row_count.to_string()).expect("digits are a valid header"),
    );
    h.insert(
        "waylog-truncated",
        HeaderValue::from_static(if result.truncated { "true" } else { "false" }),
    );
    resp
}
