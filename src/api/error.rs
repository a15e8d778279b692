//! The one place that maps errors to transport answers.
//!
//! Domain modules return their own `thiserror` enums ([`WriteError`], [`QueryError`],
//! [`ReadError`]) or a [`Rejection`] (a spec-coded refusal with an [`ErrorClass`]). Here:
//! - [`status_of`] / [`grpc_code_of`]: the class table (one HTTP status and one gRPC code per
//!   class);
//! - `From` impls: each subsystem error → class, code, message, detail (so handlers use `?`);
//! - [`WriteRoute`]: the small per-route table for the refusals every write route shares, where
//!   the spec words them per route (the alerts route's upper-case codes, "server overloaded" vs
//!   "ingest saturated").
//!
//! Bodies are `{"error":{"code","message","detail"}}`. A 5xx body carries the request id,
//! never internals: [`ApiError::internal`] is completed with the id by the request-id
//! middleware ([`fill_request_id`]); the cause is logged inside the request's span.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use crate::model::rejection::{ErrorClass, ErrorObject, Rejection};
use crate::query::QueryError;
use crate::reads::ReadError;
use crate::storage::WriteError;

/// The HTTP status of each error class.
pub fn status_of(class: ErrorClass) -> StatusCode {
    match class {
        ErrorClass::BadRequest => StatusCode::BAD_REQUEST,
        ErrorClass::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorClass::NotFound => StatusCode::NOT_FOUND,
        ErrorClass::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorClass::Conflict => StatusCode::CONFLICT,
        ErrorClass::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorClass::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorClass::ResourcesExhausted => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorClass::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorClass::Timeout => StatusCode::GATEWAY_TIMEOUT,
    }
}

/// The gRPC code of each error class (OTLP/gRPC, spec events §4.3: oversize and rate limits
/// are `RESOURCE_EXHAUSTED`, refusals to retry `UNAVAILABLE`).
pub fn grpc_code_of(class: ErrorClass) -> tonic::Code {
    use tonic::Code;
    match class {
        ErrorClass::BadRequest | ErrorClass::UnsupportedMediaType => Code::InvalidArgument,
        ErrorClass::Unauthorized => Code::Unauthenticated,
        ErrorClass::NotFound => Code::NotFound,
        ErrorClass::MethodNotAllowed => Code::Unimplemented,
        ErrorClass::Conflict => Code::AlreadyExists,
        ErrorClass::PayloadTooLarge | ErrorClass::ResourcesExhausted | ErrorClass::RateLimited => {
            Code::ResourceExhausted
        }
        ErrorClass::Internal => Code::Internal,
        ErrorClass::Unavailable => Code::Unavailable,
        ErrorClass::Timeout => Code::DeadlineExceeded,
    }
}

/// The HTTP status of an agent error code (spec reads §6.1): its class's status, `200` for
/// `EMPTY_RESULT`, `502` for `PROVIDER_ERROR`.
pub fn tool_status(code: crate::agent::ToolCode) -> StatusCode {
    match code.class() {
        Some(class) => status_of(class),
        None if code == crate::agent::ToolCode::EmptyResult => StatusCode::OK,
        None => StatusCode::BAD_GATEWAY,
    }
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a ErrorObject,
}

/// An HTTP error answer: class (→ status), the error object, extra headers, and optionally a
/// route-specific body that replaces `{"error": …}` (the events envelope of spec events §2.7).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub class: ErrorClass,
    pub error: ErrorObject,
    pub headers: Vec<(header::HeaderName, String)>,
    body: Option<Vec<u8>>,
    /// The detail is the request id, filled in by the middleware.
    needs_request_id: bool,
}

impl ApiError {
    pub fn new(
        class: ErrorClass,
        code: &'static str,
        message: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Rejection::new(class, code, message, detail).into()
    }

    pub fn status(&self) -> StatusCode {
        status_of(self.class)
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Answer with `body` (JSON) instead of `{"error": …}`; status and headers stay.
    pub fn with_body<T: Serialize>(mut self, body: &T) -> Self {
        self.body = Some(serde_json::to_vec(body).expect("error bodies serialize"));
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Rejection::bad_request(detail).into()
    }

    pub fn over_limit(message: &str, detail: impl Into<String>) -> Self {
        Rejection::over_limit(message, detail).into()
    }

    pub fn unauthorized(scope: &str) -> Self {
        Self::new(ErrorClass::Unauthorized, "unauthorized", "unauthorized", "").with_header(
            header::WWW_AUTHENTICATE,
            format!("Bearer realm=\"waylog\", scope=\"{scope}\""),
        )
    }

    /// `405 method_not_allowed` with the route's `Allow`.
    pub fn method_not_allowed(allow: &str) -> Self {
        Self::new(
            ErrorClass::MethodNotAllowed,
            "method_not_allowed",
            "method not allowed",
            "",
        )
        .with_header(header::ALLOW, allow)
    }

    pub fn not_found(message: &str) -> Self {
        Rejection::not_found(message).into()
    }

    pub fn rate_limited() -> Self {
        Self::new(
            ErrorClass::RateLimited,
            "rate_limited",
            "rate limit exceeded",
            "",
        )
        .with_header(header::RETRY_AFTER, "1")
    }

    pub fn body_oversize(detail: impl Into<String>) -> Self {
        Rejection::body_oversize(detail).into()
    }

    /// `500 internal_error`; the detail becomes `request id <id>` on the way out.
    pub fn internal() -> Self {
        let mut e = Self::new(ErrorClass::Internal, "internal_error", "internal error", "");
        e.needs_request_id = true;
        e
    }

    pub fn unavailable(code: &'static str, message: &str, retry_after: u64) -> Self {
        Rejection::unavailable(code, message, retry_after).into()
    }

    /// `503 unavailable`: storage is not recovered yet or cannot be read.
    pub fn storage_unavailable(retry_after: u64) -> Self {
        Self::unavailable("unavailable", "storage unavailable", retry_after)
    }

    /// `504 timeout` (spec reads §1.3).
    /// `504 timeout` of a query or read past its deadline (counted as
    /// `waylog_query_rejections_total{cap="timeout"}`).
    pub fn timeout() -> Self {
        crate::metrics::query_rejected("timeout");
        Self::new(ErrorClass::Timeout, "timeout", "query timed out", "")
    }

    /// `422 resources_exhausted` (spec reads §1.3).
    pub fn memory_exceeded(detail: impl Into<String>) -> Self {
        crate::metrics::query_memory_cap_hit();
        crate::metrics::query_rejected("memory");
        Self::new(
            ErrorClass::ResourcesExhausted,
            "resources_exhausted",
            "query exceeded memory limit",
            detail,
        )
    }

    /// The same answer for a gRPC caller.
    pub fn to_grpc_status(&self) -> tonic::Status {
        tonic::Status::new(grpc_code_of(self.class), self.error.message.clone())
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        let mut headers = Vec::new();
        if let Some(secs) = r.retry_after_secs {
            headers.push((header::RETRY_AFTER, secs.to_string()));
        }
        ApiError {
            class: r.class,
            error: r.error,
            headers,
            body: None,
            needs_request_id: false,
        }
    }
}

/// A user SQL error (spec reads §5.3): the class by kind, the engine's message as detail.
impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let detail = e.to_string();
        let code = e.code();
        match e {
            QueryError::NotAllowed(_) => ApiError::new(
                ErrorClass::BadRequest,
                code,
                "statement not allowed",
                detail,
            ),
            QueryError::InvalidSql(_) => {
                ApiError::new(ErrorClass::BadRequest, code, "invalid sql", detail)
            }
            QueryError::Execution(_) => ApiError::new(
                ErrorClass::BadRequest,
                code,
                "query execution failed",
                detail,
            ),
            QueryError::ResourcesExhausted(detail) => ApiError::memory_exceeded(detail),
            QueryError::Timeout => ApiError::timeout(),
            QueryError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "storage unavailable");
                ApiError::storage_unavailable(5)
            }
            QueryError::Internal(msg) => {
                tracing::error!(error = %msg, "query internal error");
                ApiError::internal()
            }
        }
    }
}

/// A read model's failure: spec refusals as they are, the engine's by
/// [`crate::query::guard::classify`] (a read's own SQL failing is internal, not the caller's).
impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Rejected(r) => r.into(),
            ReadError::Timeout => ApiError::timeout(),
            ReadError::Query(e) => match crate::query::guard::classify(e) {
                QueryError::ResourcesExhausted(detail) => ApiError::memory_exceeded(detail),
                QueryError::Timeout => ApiError::timeout(),
                QueryError::Unavailable(detail) => {
                    tracing::warn!(error = %detail, "read: storage unavailable");
                    ApiError::storage_unavailable(5)
                }
                other => {
                    tracing::error!(error = %other, "read: query failed");
                    ApiError::internal()
                }
            },
            ReadError::Rows(e) => {
                tracing::error!(error = %crate::storage::error_chain(&e), "read: bad rows");
                ApiError::internal()
            }
        }
    }
}

/// A read whose storage failures the spec names (triage §5: `500 internal_error` with
/// `detail`): spec refusals, the deadline and the memory cap map as in `From<ReadError>`; any
/// other failure, an unreadable cold store included, is that `500`.
pub fn storage_failure(e: ReadError, detail: &'static str) -> ApiError {
    let failed = |error: &dyn std::fmt::Display| {
        tracing::error!(error = %error, "read: {detail}");
        ApiError::new(
            ErrorClass::Internal,
            "internal_error",
            "internal error",
            detail,
        )
    };
    match e {
        ReadError::Query(e) => match crate::query::guard::classify(e) {
            QueryError::ResourcesExhausted(detail) => ApiError::memory_exceeded(detail),
            QueryError::Timeout => ApiError::timeout(),
            other => failed(&other),
        },
        ReadError::Rows(e) => failed(&crate::storage::error_chain(&e)),
        other => other.into(),
    }
}

/// The write routes, for the refusals they share but word differently (spec events §2.2
/// checks 8-9, triage §1.4 and §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRoute {
    /// `/v1/events` and OTLP (HTTP and gRPC).
    Events,
    /// `/v1/signals` and `/v1/deployments`.
    Context,
    /// `/v1/alerts`: upper-case codes; a WAL failure is `500 INTERNAL`.
    Alerts,
}

impl WriteRoute {
    /// Storage not recovered yet, or shutting down.
    pub fn not_ready(self) -> ApiError {
        match self {
            WriteRoute::Alerts => {
                ApiError::unavailable("INGEST_UNAVAILABLE", "ingest unavailable", 1)
            }
            _ => ApiError::unavailable("ingest_unavailable", "ingest unavailable", 1),
        }
    }

    /// Backpressure: the hot tier is over its cap.
    pub fn overloaded(self, retry_after: u64) -> ApiError {
        match self {
            WriteRoute::Events => {
                ApiError::unavailable("overloaded", "ingest saturated", retry_after)
            }
            WriteRoute::Context => {
                ApiError::unavailable("overloaded", "server overloaded", retry_after)
            }
            WriteRoute::Alerts => {
                ApiError::unavailable("OVERLOADED", "server overloaded", retry_after)
            }
        }
    }

    /// The append failed: the WAL is unavailable or the writer stopped.
    pub fn write_failed(self, e: &WriteError) -> ApiError {
        match e {
            WriteError::Durability(cause) => {
                tracing::error!(error = %cause, "durability failure");
                match self {
                    WriteRoute::Alerts => self.internal(),
                    _ => ApiError::unavailable(
                        "durability_unavailable",
                        "write-ahead log unavailable",
                        5,
                    ),
                }
            }
            WriteError::DiskFull(cause) => {
                tracing::error!(error = %cause, "disk full");
                match self {
                    WriteRoute::Alerts => {
                        ApiError::unavailable("DISK_FULL", "no space left on the server", 5)
                    }
                    _ => ApiError::unavailable("disk_full", "no space left on the server", 5),
                }
            }
            WriteError::Stopped => self.not_ready(),
            WriteError::Overloaded => self.overloaded(1),
        }
    }

    /// A failure the caller cannot fix (logged by the caller).
    pub fn internal(self) -> ApiError {
        match self {
            WriteRoute::Alerts => {
                ApiError::new(ErrorClass::Internal, "INTERNAL", "internal error", "")
            }
            _ => ApiError::internal(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self.body {
            Some(b) => b.clone(),
            None => serde_json::to_vec(&ErrorBody { error: &self.error })
                .expect("error body serializes"),
        };
        let mut resp = (self.status(), body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(name.clone(), v);
            }
        }
        if self.needs_request_id {
            resp.extensions_mut().insert(self);
        }
        resp
    }
}

/// Complete an [`ApiError::internal`] answer with the request id (called by the request-id
/// middleware, which owns the id).
pub fn fill_request_id(resp: Response, request_id: &str) -> Response {
    match resp.extensions().get::<ApiError>() {
        Some(e) if e.needs_request_id => {
            let mut e = e.clone();
            e.needs_request_id = false;
            e.error.detail = format!("request id {request_id}");
            e.into_response()
        }
        _ => resp,
    }
}

/// A JSON response with the given status.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).expect("response bodies serialize");
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests;
