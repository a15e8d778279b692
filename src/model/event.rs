//! The schema-2.0 WideEvent in normalized form (spec events §1.8).
//!
//! Timestamps are unix nanoseconds (UTC). Optional members that are "omitted when empty" are
//! `None`/empty here, so serialization back to JSON needs no further checks.

use serde_json::{Map, Value};

/// One normalized wide event: one service hop of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event_id: String,
    pub ts_start_ns: i64,
    pub ts_end_ns: i64,
    pub duration_ms: i64,
    /// `http` or `rpc`.
    pub kind: String,
    pub service: String,
    pub env: String,
    pub version: Option<String>,
    pub trace_id: String,
    /// `""` when absent.
    pub span_id: String,
    /// `""` when absent (root event).
    pub parent_span_id: String,
    pub status: String,
    pub anchor: Option<Anchor>,
    pub steps: Vec<Step>,
    pub logs: Vec<Log>,
    /// The whole `fields` object; `serde_json::Map` keeps keys in byte order at every depth.
    pub fields: Option<Map<String, Value>>,
    pub errors: Vec<ErrorRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    pub step: String,
    pub error_code: String,
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    /// `None` when absent or empty.
    pub span_id: Option<String>,
    pub start_ms: i64,
    pub duration_ms: i64,
    /// `ok` or `error`.
    pub status: String,
    pub downstream: Option<Downstream>,
    pub error: Option<StepError>,
}

/// Members are `None` when absent or empty (empty strings are dropped by normalization).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Downstream {
    pub service: Option<String>,
    pub endpoint: Option<String>,
    pub kind: Option<String>,
}

/// Members are `None` when absent or empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepError {
    pub code: Option<String>,
    pub reason: Option<String>,
    pub cause: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    pub ts_offset_ms: i64,
    /// `info`, `warn` or `error`.
    pub level: String,
    pub msg: String,
    /// Kept verbatim (keys sorted); `None` when absent.
    pub fields: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRef {
    pub code: String,
    pub reason: Option<String>,
}

/// The failed statuses (spec events: `error`, `timeout`, `partial`, `aborted`).
pub fn is_failed_status(status: &str) -> bool {
    matches!(status, "error" | "timeout" | "partial" | "aborted")
}

/// A minimal valid event for tests: `ev-{n}`, trace `{n:032x}`, no anchor, steps or fields.
#[cfg(test)]
pub fn test_event(n: usize, service: &str, status: &str, ts_start_ns: i64) -> Event {
    Event {
        event_id: format!("ev-{n}"),
        ts_start_ns,
        ts_end_ns: ts_start_ns + 1,
        duration_ms: 0,
        kind: "http".into(),
        service: service.into(),
        env: "prod".into(),
        version: None,
        trace_id: format!("{n:032x}"),
        span_id: String::new(),
        parent_span_id: String::new(),
        status: status.into(),
        anchor: None,
        steps: vec![],
        logs: vec![],
        fields: None,
        errors: vec![],
    }
}

/// A test step: `duration_ms` 1, no span id or error; `downstream` names the downstream service
/// (`""` = no downstream).
#[cfg(test)]
pub fn test_step(name: &str, status: &str, start_ms: i64, downstream: &str) -> Step {
    Step {
        name: name.into(),
        span_id: None,
        start_ms,
        duration_ms: 1,
        status: status.into(),
        downstream: (!downstream.is_empty()).then(|| Downstream {
            service: Some(downstream.to_owned()),
            endpoint: None,
            kind: None,
        }),
        error: None,
    }
}
