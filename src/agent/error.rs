//! The agent error table (spec reads §6.1): one [`ToolCode`] per row, its retry hint and its
//! error class (the edge turns the class into the HTTP status, `api::error::tool_status`).

use serde::Serialize;
use serde_json::{Value, json};

use crate::model::rejection::{ErrorClass, Rejection};
use crate::query::QueryError;
use crate::reads::ReadError;

/// A code of the §6.1 table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ToolCode {
    InvalidParams,
    NotFound,
    Conflict,
    PayloadTooLarge,
    ResourcesExhausted,
    EmptyResult,
    Internal,
    ProviderError,
    Overloaded,
    ServiceUnavailable,
    Timeout,
    InvalidPlan,
    BadRequest,
    RefResolveFailed,
}

impl ToolCode {
    /// The wire code.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolCode::InvalidParams => "INVALID_PARAMS",
            ToolCode::NotFound => "NOT_FOUND",
            ToolCode::Conflict => "CONFLICT",
            ToolCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ToolCode::ResourcesExhausted => "RESOURCES_EXHAUSTED",
            ToolCode::EmptyResult => "EMPTY_RESULT",
            ToolCode::Internal => "INTERNAL",
            ToolCode::ProviderError => "PROVIDER_ERROR",
            ToolCode::Overloaded => "OVERLOADED",
            ToolCode::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            ToolCode::Timeout => "TIMEOUT",
            ToolCode::InvalidPlan => "INVALID_PLAN",
            ToolCode::BadRequest => "BAD_REQUEST",
            ToolCode::RefResolveFailed => "REF_RESOLVE_FAILED",
        }
    }

    /// The code named `s` (as [`ToolCode::as_str`] spells it).
    pub fn parse(s: &str) -> Option<ToolCode> {
        ALL_CODES.iter().copied().find(|c| c.as_str() == s)
    }

    /// The table's `retryable` (an `INTERNAL` after a handler panic overrides it).
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ToolCode::ProviderError
                | ToolCode::Overloaded
                | ToolCode::ServiceUnavailable
                | ToolCode::Timeout
        )
    }

    /// The error class, `None` for the codes without one (`EMPTY_RESULT` answers `200`,
    /// `PROVIDER_ERROR` `502`; the edge's table names both).
    pub fn class(self) -> Option<ErrorClass> {
        Some(match self {
            ToolCode::InvalidParams
            | ToolCode::InvalidPlan
            | ToolCode::BadRequest
            | ToolCode::RefResolveFailed => ErrorClass::BadRequest,
            ToolCode::NotFound => ErrorClass::NotFound,
            ToolCode::Conflict => ErrorClass::Conflict,
            ToolCode::PayloadTooLarge => ErrorClass::PayloadTooLarge,
            ToolCode::ResourcesExhausted => ErrorClass::ResourcesExhausted,
            ToolCode::Internal => ErrorClass::Internal,
            ToolCode::Overloaded | ToolCode::ServiceUnavailable => ErrorClass::Unavailable,
            ToolCode::Timeout => ErrorClass::Timeout,
            ToolCode::EmptyResult | ToolCode::ProviderError => return None,
        })
    }
}

/// Every code, in table order.
pub const ALL_CODES: &[ToolCode] = &[
    ToolCode::InvalidParams,
    ToolCode::NotFound,
    ToolCode::Conflict,
    ToolCode::PayloadTooLarge,
    ToolCode::ResourcesExhausted,
    ToolCode::EmptyResult,
    ToolCode::Internal,
    ToolCode::ProviderError,
    ToolCode::Overloaded,
    ToolCode::ServiceUnavailable,
    ToolCode::Timeout,
    ToolCode::InvalidPlan,
    ToolCode::BadRequest,
    ToolCode::RefResolveFailed,
];

/// A failed tool call, plan or Ask request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[{}] {message}", code.as_str())]
pub struct ToolError {
    pub code: ToolCode,
    pub message: String,
    pub detail: String,
    pub retryable: bool,
}

impl ToolError {
    pub fn new(code: ToolCode, message: impl Into<String>) -> Self {
        ToolError {
            code,
            message: message.into(),
            detail: String::new(),
            retryable: code.retryable(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ToolCode::InvalidParams, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ToolCode::NotFound, message)
    }

    /// `INTERNAL` with a generic message; the cause is logged, never sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "tool failed");
        Self::new(ToolCode::Internal, "internal error")
    }

    /// The error of a wire object `{code, message, detail?, retryable?}` (an unknown code is
    /// `INTERNAL`).
    pub fn from_json(v: &Value) -> ToolError {
        let code = v
            .get("code")
            .and_then(Value::as_str)
            .and_then(ToolCode::parse)
            .unwrap_or(ToolCode::Internal);
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        ToolError {
            code,
            message: text("message"),
            detail: text("detail"),
            retryable: v
                .get("retryable")
                .and_then(Value::as_bool)
                .unwrap_or(code.retryable()),
        }
    }

    /// The wire object `{code, message, detail, retryable}`.
    pub fn to_json(&self) -> Value {
        json!({
            "code": self.code.as_str(),
            "message": self.message,
            "detail": self.detail,
            "retryable": self.retryable,
        })
    }
}

impl From<Rejection> for ToolError {
    /// A read model's refusal: bad values are `INVALID_PARAMS` (message = the detail when it
    /// has one), unknown ids `NOT_FOUND`, no slot `OVERLOADED`.
    fn from(r: Rejection) -> Self {
        let text = if r.error.detail.is_empty() {
            r.error.message.clone()
        } else {
            r.error.detail.clone()
        };
        match r.class {
            ErrorClass::NotFound => ToolError::not_found(r.error.message),
            ErrorClass::ResourcesExhausted => ToolError::new(ToolCode::ResourcesExhausted, text),
            ErrorClass::Timeout => ToolError::new(ToolCode::Timeout, "deadline exceeded"),
            ErrorClass::Unavailable => ToolError::new(ToolCode::Overloaded, r.error.message),
            ErrorClass::Internal => ToolError::internal(&text),
            _ => ToolError::invalid(text),
        }
    }
}

impl From<QueryError> for ToolError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::NotAllowed(m) | QueryError::InvalidSql(m) => ToolError::invalid(m),
            QueryError::ResourcesExhausted(m) => ToolError::new(ToolCode::ResourcesExhausted, m),
            QueryError::Timeout => ToolError::new(ToolCode::Timeout, "query timed out"),
            QueryError::Unavailable(m) => ToolError::new(ToolCode::Overloaded, m),
            QueryError::Execution(m) => ToolError::invalid(m),
            QueryError::Internal(m) => ToolError::internal(&m),
        }
    }
}

impl From<ReadError> for ToolError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Rejected(r) => r.into(),
            ReadError::Query(q) => crate::query::guard::classify(q).into(),
            ReadError::Timeout => ToolError::new(ToolCode::Timeout, "deadline exceeded"),
            ReadError::Rows(r) => ToolError::internal(&r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_have_their_retry_hint_and_class() {
        assert!(!ToolCode::InvalidParams.retryable());
        assert!(ToolCode::Timeout.retryable());
        assert!(ToolCode::ProviderError.retryable());
        assert_eq!(ToolCode::EmptyResult.class(), None);
        assert_eq!(ToolCode::Conflict.class(), Some(ErrorClass::Conflict));
        let e = ToolError::not_found("trace not found");
        assert_eq!(e.to_string(), "[NOT_FOUND] trace not found");
        assert_eq!(e.to_json()["retryable"], false);
        for c in ALL_CODES {
            assert_eq!(ToolCode::parse(c.as_str()), Some(*c));
        }
    }

    #[test]
    fn read_refusals_map_to_tool_codes() {
        let e: ToolError = Rejection::bad_request("invalid window").into();
        assert_eq!(
            (e.code, e.message.as_str()),
            (ToolCode::InvalidParams, "invalid window")
        );
        let e: ToolError = Rejection::not_found("trace not found").into();
        assert_eq!(e.code, ToolCode::NotFound);
        let e: ToolError = QueryError::NotAllowed("no".into()).into();
        assert_eq!(e.code, ToolCode::InvalidParams);
    }
}
