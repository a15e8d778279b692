//! The schema-2.0 WideEvent in normalized form (spec events §1.8), its normalized JSON form
//! (derived `Serialize`), and the closed value sets of its members: [`SchemaVersion`],
//! [`EventKind`], [`EventStatus`] (with the one "is this status failed" rule,
//! [`EventStatus::is_failed`] / [`status_is_failed`]), [`StepStatus`] and [`LogLevel`].
//!
//! Timestamps are unix nanoseconds (UTC). Optional members that are "omitted when empty" are
//! `None`/empty here, and `Serialize` skips empty values too, so any `Event` serializes in
//! normalized form.
//!
//! Invariant: each enum's wire string (its `as_str`, its serde name, the string stored in the
//! Arrow `Utf8` column) is exactly the spec's value, and parsing is exact (case-sensitive, no
//! trimming), as validation has always been. `anchor.kind` and `downstream.kind` stay `String`:
//! the spec makes them free-form labels that are never interpreted.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::rfc3339::serialize_ns;

/// A string that is not one of an enum's wire values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

wire_enum! {
    /// `schema_version` (spec events §1.1): a normalized event is always schema 2.0.
    pub enum SchemaVersion ("schema version") {
        V2 = "2.0",
    }
}

wire_enum! {
    /// Event `kind` (spec events §1.1).
    pub enum EventKind ("event kind") {
        /// An HTTP request.
        Http = "http",
        /// An RPC; produced by OTLP conversion, also accepted from SDKs.
        Rpc = "rpc",
    }
}

wire_enum! {
    /// Event `status` (spec events §1.1).
    pub enum EventStatus ("event status") {
        Ok = "ok",
        Error = "error",
        Timeout = "timeout",
        Partial = "partial",
        Aborted = "aborted",
        /// A known, accepted failure (§1.6): not failed.
        Suppressed = "suppressed",
    }
}

impl EventStatus {
    /// A failed status (spec events conventions: `error`, `timeout`, `partial`, `aborted`);
    /// `ok` and `suppressed` never count.
    pub const fn is_failed(self) -> bool {
        matches!(
            self,
            EventStatus::Error | EventStatus::Timeout | EventStatus::Partial | EventStatus::Aborted
        )
    }
}

/// [`EventStatus::is_failed`] on a stored status string (SQL rows, Arrow columns, query
/// literals); an unknown string is not failed.
pub fn status_is_failed(status: &str) -> bool {
    EventStatus::parse(status).is_some_and(EventStatus::is_failed)
}

wire_enum! {
    /// A step's `status` (spec events §1.4).
    pub enum StepStatus ("step status") {
        Ok = "ok",
        Error = "error",
    }
}

wire_enum! {
    /// A log's `level` (spec events §1.4).
    pub enum LogLevel ("log level") {
        Info = "info",
        Warn = "warn",
        Error = "error",
    }
}

/// One normalized wide event: one service hop of one request.
///
/// `Serialize` writes the normalized JSON form (§1.8): members in field order, which is the
/// spec's table order, so do not reorder fields. Empty optional values are skipped here too,
/// so even an `Event` built by hand (not by validation) serializes in normalized form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub schema_version: SchemaVersion,
    pub event_id: String,
    #[serde(rename = "ts_start", serialize_with = "serialize_ns")]
    pub ts_start_ns: i64,
    #[serde(rename = "ts_end", serialize_with = "serialize_ns")]
    pub ts_end_ns: i64,
    pub duration_ms: i64,
    pub kind: EventKind,
    pub service: String,
    pub env: String,
    #[serde(skip_serializing_if = "is_blank")]
    pub version: Option<String>,
    pub trace_id: String,
    /// `""` when absent.
    pub span_id: String,
    /// `""` when absent (root event).
    pub parent_span_id: String,
    pub status: EventStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<Anchor>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<Log>,
    /// The whole `fields` object; `serde_json::Map` keeps keys in byte order at every depth.
    #[serde(skip_serializing_if = "is_empty_object")]
    pub fields: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anchor {
    pub step: String,
    pub error_code: String,
    #[serde(skip_serializing_if = "is_blank")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub name: String,
    /// `None` when absent or empty.
    #[serde(skip_serializing_if = "is_blank")]
    pub span_id: Option<String>,
    pub start_ms: i64,
    pub duration_ms: i64,
    pub status: StepStatus,
    #[serde(skip_serializing_if = "Downstream::is_absent")]
    pub downstream: Option<Downstream>,
    #[serde(skip_serializing_if = "StepError::is_absent")]
    pub error: Option<StepError>,
}

/// Members are `None` when absent or empty (empty strings are dropped by normalization).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Downstream {
    #[serde(skip_serializing_if = "is_blank")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "is_blank")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "is_blank")]
    pub kind: Option<String>,
}

impl Downstream {
    /// No member holds a non-empty string (normalization drops such a `downstream`).
    pub fn is_empty(&self) -> bool {
        [&self.service, &self.endpoint, &self.kind]
            .into_iter()
            .all(is_blank)
    }

    fn is_absent(d: &Option<Downstream>) -> bool {
        d.as_ref().is_none_or(Downstream::is_empty)
    }
}

/// Members are `None` when absent or empty.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct StepError {
    #[serde(skip_serializing_if = "is_blank")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "is_blank")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "is_blank")]
    pub cause: Option<String>,
}

impl StepError {
    /// No member holds a non-empty string (normalization drops such an `error`).
    pub fn is_empty(&self) -> bool {
        [&self.code, &self.reason, &self.cause]
            .into_iter()
            .all(is_blank)
    }

    fn is_absent(e: &Option<StepError>) -> bool {
        e.as_ref().is_none_or(StepError::is_empty)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Log {
    pub ts_offset_ms: i64,
    pub level: LogLevel,
    pub msg: String,
    /// Kept verbatim (keys sorted); `None` when absent.
    #[serde(skip_serializing_if = "is_empty_object")]
    pub fields: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorRef {
    pub code: String,
    #[serde(skip_serializing_if = "is_blank")]
    pub reason: Option<String>,
}

/// An optional string the normalized form omits: absent or empty (§1.8).
pub(crate) fn is_blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(str::is_empty)
}

/// An optional object the normalized form omits: absent or `{}` (§1.8).
fn is_empty_object(m: &Option<Map<String, Value>>) -> bool {
    m.as_ref().is_none_or(Map::is_empty)
}

/// A minimal valid event for tests: `ev-{n}`, trace `{n:032x}`, no anchor, steps or fields;
/// `status` must be a valid status.
#[cfg(test)]
pub fn test_event(n: usize, service: &str, status: &str, ts_start_ns: i64) -> Event {
    Event {
        schema_version: SchemaVersion::V2,
        event_id: format!("ev-{n}"),
        ts_start_ns,
        ts_end_ns: ts_start_ns + 1,
        duration_ms: 0,
        kind: EventKind::Http,
        service: service.into(),
        env: "prod".into(),
        version: None,
        trace_id: format!("{n:032x}"),
        span_id: String::new(),
        parent_span_id: String::new(),
        status: status.parse().expect("a test event's status is valid"),
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
        status: status.parse().expect("a test step's status is valid"),
        downstream: (!downstream.is_empty()).then(|| Downstream {
            service: Some(downstream.to_owned()),
            endpoint: None,
            kind: None,
        }),
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_enums_round_trip_their_spec_strings_exactly() {
        fn check<T: Copy + PartialEq + std::fmt::Debug + serde::Serialize>(
            all: &[T],
            wire: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
            spec: &[&str],
        ) {
            assert_eq!(all.iter().map(|v| wire(*v)).collect::<Vec<_>>(), spec);
            for v in all {
                assert_eq!(parse(wire(*v)), Some(*v));
                assert_eq!(
                    serde_json::to_string(v).unwrap(),
                    format!("\"{}\"", wire(*v))
                );
                // Exact match, as validation has always been: no case folding, no trimming.
                assert_eq!(parse(&wire(*v).to_uppercase()), None);
                assert_eq!(parse(&format!(" {}", wire(*v))), None);
            }
            assert_eq!(parse(""), None);
        }
        check(
            EventKind::ALL,
            EventKind::as_str,
            EventKind::parse,
            &["http", "rpc"],
        );
        check(
            EventStatus::ALL,
            EventStatus::as_str,
            EventStatus::parse,
            &["ok", "error", "timeout", "partial", "aborted", "suppressed"],
        );
        check(
            StepStatus::ALL,
            StepStatus::as_str,
            StepStatus::parse,
            &["ok", "error"],
        );
        check(
            LogLevel::ALL,
            LogLevel::as_str,
            LogLevel::parse,
            &["info", "warn", "error"],
        );
        assert_eq!(
            "grpc".parse::<EventKind>().unwrap_err().to_string(),
            "unknown event kind \"grpc\""
        );
        assert_eq!(
            serde_json::from_str::<LogLevel>("\"warn\"").unwrap(),
            LogLevel::Warn
        );
    }

    #[test]
    fn failed_status_excludes_ok_and_suppressed() {
        for s in ["error", "timeout", "partial", "aborted"] {
            assert!(status_is_failed(s));
            assert!(EventStatus::parse(s).unwrap().is_failed());
        }
        for s in ["ok", "suppressed", "", "ERROR", "bogus"] {
            assert!(!status_is_failed(s));
        }
        assert!(!EventStatus::Ok.is_failed());
        assert!(!EventStatus::Suppressed.is_failed());
    }
}
