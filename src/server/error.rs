//! The one place that maps errors to HTTP responses: `{"error":{"code","message","detail"}}`
//! with the spec's status, headers and messages. 5xx bodies carry the request id, never
//! internals.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ErrorObject {
    pub code: &'static str,
    pub message: String,
    pub detail: String,
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a ErrorObject,
}

/// An API error: status + error object + extra headers.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: ErrorObject,
    pub headers: Vec<(header::HeaderName, String)>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            error: ErrorObject {
                code,
                message: message.into(),
                detail: detail.into(),
            },
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "bad request",
            detail,
        )
    }

    pub fn over_limit(message: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "over_limit", message, detail)
    }

    pub fn unauthorized(scope: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "unauthorized", "").with_header(
            header::WWW_AUTHENTICATE,
            format!("Bearer realm=\"waylog\", scope=\"{scope}\""),
        )
    }

    pub fn method_not_allowed(allow: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
            "",
        )
        .with_header(header::ALLOW, allow)
    }

    pub fn not_found(message: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message, "")
    }

    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "rate limit exceeded",
            "",
        )
        .with_header(header::RETRY_AFTER, "1")
    }

    pub fn body_oversize(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_oversize",
            "request body too large",
            detail,
        )
    }

    pub fn internal(request_id: &str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
            format!("request id {request_id}"),
        )
    }

    pub fn unavailable(code: &'static str, message: &str, retry_after: u64) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message, "")
            .with_header(header::RETRY_AFTER, retry_after.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            serde_json::to_vec(&ErrorBody { error: &self.error }).expect("error body serializes");
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        resp
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
