//! Why the product refuses a request, in the spec's words and without any transport: an error
//! [`ErrorClass`] (what kind of refusal) plus the spec's wire error object
//! (`{"code","message","detail"}`, spec events §2.7). Domain modules return a [`Rejection`]
//! where the spec names the answer (a bad parameter, an unknown id, an invalid alert); the edge
//! (`src/api/error.rs`) owns the one table that turns a class into an HTTP status or a gRPC
//! code.

use serde::Serialize;

/// The kind of refusal. The edge maps each class to exactly one HTTP status and one gRPC code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The request is malformed or a value is out of range.
    BadRequest,
    /// The credential is missing or wrong for the route's scope.
    Unauthorized,
    /// The named resource does not exist.
    NotFound,
    /// The route does not answer this method.
    MethodNotAllowed,
    /// The body (raw or decompressed) or a batch is larger than its limit.
    PayloadTooLarge,
    /// The request conflicts with stored state.
    Conflict,
    /// The media type is not one the route reads.
    UnsupportedMediaType,
    /// The query ran out of its memory budget.
    ResourcesExhausted,
    /// The caller exceeded its rate.
    RateLimited,
    /// Something failed that the caller cannot fix; the cause is logged, never sent.
    Internal,
    /// Not ready, shutting down, overloaded or storage unavailable; retry later.
    Unavailable,
    /// The deadline passed.
    Timeout,
}

/// The spec's error object (`{"code","message","detail"}`): what clients read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorObject {
    pub code: &'static str,
    pub message: String,
    pub detail: String,
}

/// A refusal with the spec's code, message and detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub class: ErrorClass,
    pub error: ErrorObject,
    /// A retry hint in seconds (for [`ErrorClass::Unavailable`] and rate limits).
    pub retry_after_secs: Option<u64>,
}

impl Rejection {
    pub fn new(
        class: ErrorClass,
        code: &'static str,
        message: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Rejection {
            class,
            error: ErrorObject {
                code,
                message: message.into(),
                detail: detail.into(),
            },
            retry_after_secs: None,
        }
    }

    /// `bad_request` / `bad request` with `detail`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ErrorClass::BadRequest, "bad_request", "bad request", detail)
    }

    /// `over_limit`: a value is above its cap.
    pub fn over_limit(message: &str, detail: impl Into<String>) -> Self {
        Self::new(ErrorClass::BadRequest, "over_limit", message, detail)
    }

    pub fn not_found(message: &str) -> Self {
        Self::new(ErrorClass::NotFound, "not_found", message, "")
    }

    pub fn body_oversize(detail: impl Into<String>) -> Self {
        Self::new(
            ErrorClass::PayloadTooLarge,
            "body_oversize",
            "request body too large",
            detail,
        )
    }

    /// A retryable refusal with the spec's `code` and `message`.
    pub fn unavailable(code: &'static str, message: &str, retry_after_secs: u64) -> Self {
        let mut r = Self::new(ErrorClass::Unavailable, code, message, "");
        r.retry_after_secs = Some(retry_after_secs);
        r
    }

    pub fn code(&self) -> &'static str {
        self.error.code
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.error.detail.is_empty() {
            write!(f, "{}: {}", self.error.code, self.error.message)
        } else {
            write!(
                f,
                "{}: {}: {}",
                self.error.code, self.error.message, self.error.detail
            )
        }
    }
}

impl std::error::Error for Rejection {}
