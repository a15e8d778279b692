//! OTLP trace ingest, transport-independent part (spec events §4.4-§4.7): every span of an
//! `ExportTraceServiceRequest` becomes one wide event or one *drop*; converted events then go
//! through the same validation, dedup and WAL as `/v1/events`; the response's
//! `partial_success` reports drops and rejects.
//!
//! Invariants:
//! - Spans are handled in request order (resource spans → scope spans → spans), and the
//!   drop/reject lists keep that order, so `partial_success.error_message` is deterministic.
//! - A converted span is built as a normalized [`Event`] directly (no JSON round trip): the
//!   conversion only ever produces values §1 accepts, in §1.8 form. The one exception, end
//!   times past year 2262, goes as JSON through [`validate_item_owned`] like an SDK item, which
//!   rejects it (`schema_validation_failed`) in its own words. The differential tests check
//!   that the direct event equals what the validator makes of the span's JSON.
//! - `event_id` is a pure function of (trace id, span id) (§4.6): a re-exported span is a
//!   duplicate, never a second row.
//! - Transports (`src/api/otlp_http.rs`, `src/api/otlp_grpc.rs`) check readiness and
//!   backpressure before reading the payload, so an `overloaded` or not-ready refusal stores
//!   nothing, then call [`prepare`] (CPU, blocking thread) and [`commit`] (WAL, async).

use datafusion::arrow::array::RecordBatch;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValueKind;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as SpanStatusCode;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::model::{
    Anchor, Downstream, ErrorRef, Event, EventKind, EventStatus, ItemReject, Log, LogLevel,
    SchemaVersion, Step, StepError, StepStatus, validate_item_owned,
};
use crate::rfc3339::format_rfc3339_ns;
use crate::storage::schema::{TableId, events_to_batch};
use crate::storage::{Storage, WriteError};

/// How far a converted `ts_start` may lie after now (spec events §1.2, §4.4); exactly this passes.
const FUTURE_GUARD_NS: i128 = 300 * 1_000_000_000;
const NANOS_PER_MS: u64 = 1_000_000;
/// At most this many drops, then this many rejects, are named in `error_message` (§4.7).
const MESSAGE_ITEMS: usize = 5;

/// Why a span was not converted (spec events §4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    MissingService,
    MissingTraceId,
    InvalidSpan,
    UnsupportedKind,
    FutureTimestamp,
}

impl DropReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DropReason::MissingService => "missing_service",
            DropReason::MissingTraceId => "missing_trace_id",
            DropReason::InvalidSpan => "invalid_span",
            DropReason::UnsupportedKind => "unsupported_kind",
            DropReason::FutureTimestamp => "future_timestamp",
        }
    }
}

/// One dropped span: the reason and the span's name (may be empty).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DroppedSpan {
    pub reason: DropReason,
    pub span_name: String,
}

/// The outcome of converting one export request, before storage.
#[derive(Debug, Default)]
pub(crate) struct Conversion {
    /// Validated, normalized events in request order.
    pub events: Vec<Event>,
    pub drops: Vec<DroppedSpan>,
    /// Converted spans that failed validation (§2.4 stages 3-4).
    pub rejects: Vec<ItemReject>,
}

impl Conversion {
    /// `partial_success` per §4.7: `None` when nothing was dropped or rejected.
    pub(crate) fn partial_success(&self) -> Option<ExportTracePartialSuccess> {
        let rejected = self.drops.len() + self.rejects.len();
        if rejected == 0 {
            return None;
        }
        let drops = self.drops.iter().take(MESSAGE_ITEMS).map(|d| {
            if d.span_name.is_empty() {
                d.reason.as_str().to_string()
            } else {
                format!("{} (span: {})", d.reason.as_str(), d.span_name)
            }
        });
        let rejects = self.rejects.iter().take(MESSAGE_ITEMS).map(|r| {
            if r.detail.is_empty() {
                r.reason.as_str().to_string()
            } else {
                format!("{} ({})", r.reason.as_str(), r.detail)
            }
        });
        Some(ExportTracePartialSuccess {
            rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message: drops.chain(rejects).collect::<Vec<_>>().join("; "),
        })
    }
}

/// Convert every span of `req` (§4.4 step 1) and validate each converted event (step 2,
/// stages 3-5 of §2.4). `now_ns` = server now, unix ns UTC.
pub(crate) fn convert_request(req: &ExportTraceServiceRequest, now_ns: i64) -> Conversion {
    let mut out = Conversion::default();
    for resource_spans in &req.resource_spans {
        let resource = ResourceInfo::of(resource_spans.resource.as_ref());
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                let converted = match &resource {
                    Some(resource) => convert_span(resource, span, now_ns),
                    None => Err(DropReason::MissingService),
                };
                match converted {
                    Ok(Ok(event)) => out.events.push(event),
                    Ok(Err(reject)) => out.rejects.push(reject),
                    Err(reason) => out.drops.push(DroppedSpan {
                        reason,
                        span_name: span.name.clone(),
                    }),
                }
            }
        }
    }
    out
}

/// The deterministic `event_id` of a span (§4.6): a name-based UUID (version 5 layout) over
/// SHA-256 of `<trace_id>:<span_id>` in lower-case hex.
pub(crate) fn event_id(trace_id_hex: &str, span_id_hex: &str) -> String {
    let digest = Sha256::new()
        .chain_update(trace_id_hex.as_bytes())
        .chain_update(b":")
        .chain_update(span_id_hex.as_bytes())
        .finalize();
    let mut h = [0u8; 16];
    h.copy_from_slice(&digest[..16]);
    h[6] = (h[6] & 0x0f) | 0x50;
    h[8] = (h[8] & 0x3f) | 0x80;
    let hex = hex_lower(&h);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Attributes (§4.4): string, int, bool and double values are kept, arrays, maps and bytes are
// ignored as if not sent; of a repeated key the last kept value wins. A key is *present* when
// it holds a non-empty string or any other kept value; a typed lookup of another type is absent.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Attr<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    Double(f64),
}

/// A view over a span's, span event's or resource's attributes. Spans carry a few dozen
/// attributes at most, so a reverse linear scan beats building a map.
#[derive(Debug, Clone, Copy)]
struct Attrs<'a>(&'a [KeyValue]);

impl<'a> Attrs<'a> {
    fn get(&self, key: &str) -> Option<Attr<'a>> {
        self.0
            .iter()
            .rev()
            .filter(|kv| kv.key == key)
            .find_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                AnyValueKind::StringValue(s) => Some(Attr::Str(s)),
                AnyValueKind::IntValue(i) => Some(Attr::Int(*i)),
                AnyValueKind::BoolValue(b) => Some(Attr::Bool(*b)),
                AnyValueKind::DoubleValue(d) => Some(Attr::Double(*d)),
                _ => None,
            })
    }

    /// A non-empty string value.
    fn str(&self, key: &str) -> Option<&'a str> {
        match self.get(key)? {
            Attr::Str(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Attr::Int(i) => Some(i),
            _ => None,
        }
    }

    fn present(&self, key: &str) -> bool {
        !matches!(self.get(key), None | Some(Attr::Str("")))
    }

    /// A present value as JSON (non-finite doubles, which JSON cannot hold, become strings).
    fn json(&self, key: &str) -> Option<Value> {
        Some(match self.get(key)? {
            Attr::Str("") => return None,
            Attr::Str(s) => Value::from(s),
            Attr::Int(i) => Value::from(i),
            Attr::Bool(b) => Value::from(b),
            Attr::Double(d) => serde_json::Number::from_f64(d)
                .map(Value::Number)
                .unwrap_or_else(|| Value::from(d.to_string())),
        })
    }
}

/// What a resource contributes to its spans' events (§4.4 "Resource").
#[derive(Debug)]
struct ResourceInfo<'a> {
    service: &'a str,
    env: &'a str,
    version: Option<&'a str>,
}

impl<'a> ResourceInfo<'a> {
    /// `None` when `service.name` is missing or empty: every span is dropped `missing_service`.
    fn of(resource: Option<&'a Resource>) -> Option<Self> {
        let attrs = Attrs(
            resource
                .map(|r| r.attributes.as_slice())
                .unwrap_or_default(),
        );
        Some(ResourceInfo {
            service: attrs.str("service.name")?,
            env: attrs
                .str("deployment.environment.name")
                .or_else(|| attrs.str("deployment.environment"))
                .unwrap_or("unknown"),
            version: attrs.str("service.version"),
        })
    }
}

/// Attributes any one of which makes a span an HTTP span (besides a positive status code).
const HTTP_MARKERS: [&str; 5] = [
    "http.request.method",
    "http.method",
    "http.route",
    "http.target",
    "http.url",
];
/// Where a CLIENT/PRODUCER span names its peer, in order of preference.
const PEER_SERVICE_KEYS: [&str; 4] = [
    "service.peer.name",
    "peer.service",
    "server.address",
    "net.peer.name",
];

/// The protocol of a span and its outcome inputs (§4.5 "Outcome").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// `code`: the HTTP status (from the span, or 500/200 when it had none).
    Http { code: i64 },
    /// `grpc`: `rpc.grpc.status_code` when present.
    Rpc { grpc: Option<i64> },
}

/// What one span contributes to its wide event (§4.5), derived once; [`SpanFacts::event`]
/// builds the normalized event from it directly, [`SpanFacts::json`] the same event as JSON
/// (the input the exact validator takes).
struct SpanFacts<'a> {
    resource: &'a ResourceInfo<'a>,
    start_ns: u64,
    end_ns: u64,
    duration_ms: u64,
    protocol: Protocol,
    failed: bool,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    step_name: String,
    downstream: Option<Downstream>,
    /// The error code and reason of a failed span.
    error: Option<(String, String)>,
    fields: Map<String, Value>,
}

/// One span → its wide event (§4.5) or why it is dropped (§4.4 checks, in order); a
/// converted event that fails validation is a reject.
fn convert_span(
    resource: &ResourceInfo<'_>,
    span: &Span,
    now_ns: i64,
) -> Result<Result<Event, ItemReject>, DropReason> {
    let facts = span_facts(resource, span, now_ns)?;
    Ok(match facts.event() {
        Some(event) => Ok(event),
        None => validate_item_owned(facts.json(), now_ns),
    })
}

fn span_facts<'a>(
    resource: &'a ResourceInfo<'a>,
    span: &'a Span,
    now_ns: i64,
) -> Result<SpanFacts<'a>, DropReason> {
    let all_zero = |b: &[u8]| b.iter().all(|x| *x == 0);
    if all_zero(&span.trace_id) {
        return Err(DropReason::MissingTraceId);
    }
    if span.trace_id.len() != 16
        || span.span_id.len() != 8
        || all_zero(&span.span_id)
        || !(span.parent_span_id.is_empty() || span.parent_span_id.len() == 8)
        || span.start_time_unix_nano == 0
    {
        return Err(DropReason::InvalidSpan);
    }

    let attrs = Attrs(&span.attributes);
    let positive = |key| attrs.int(key).filter(|c| *c > 0);
    let http_code = positive("http.response.status_code").or_else(|| positive("http.status_code"));
    let is_http = http_code.is_some() || HTTP_MARKERS.iter().any(|k| attrs.present(k));
    if !is_http && !attrs.present("rpc.system") {
        return Err(DropReason::UnsupportedKind);
    }
    let start_ns = span.start_time_unix_nano;
    if i128::from(start_ns) - i128::from(now_ns) > FUTURE_GUARD_NS {
        return Err(DropReason::FutureTimestamp);
    }
    let end_ns = span.end_time_unix_nano.max(start_ns);

    let exceptions: Vec<Attrs<'_>> = span
        .events
        .iter()
        .filter(|e| e.name == "exception")
        .map(|e| Attrs(&e.attributes))
        .collect();
    let status_error = span
        .status
        .as_ref()
        .is_some_and(|s| s.code == SpanStatusCode::Error as i32);
    let flagged = status_error || !exceptions.is_empty();
    let (protocol, failed) = if is_http {
        let failed = http_code.is_some_and(|c| c >= 500) || flagged;
        let code = http_code.unwrap_or(if failed { 500 } else { 200 });
        (Protocol::Http { code }, failed)
    } else {
        let grpc = attrs.int("rpc.grpc.status_code");
        (
            Protocol::Rpc { grpc },
            grpc.is_some_and(|g| g != 0) || flagged,
        )
    };
    let span_kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
    let error = failed.then(|| {
        let status_message = span.status.as_ref().map_or("", |s| s.message.as_str());
        error_code(&attrs, &exceptions, status_message, protocol)
    });
    Ok(SpanFacts {
        resource,
        start_ns,
        end_ns,
        duration_ms: (end_ns - start_ns) / NANOS_PER_MS,
        protocol,
        failed,
        trace_id: hex_lower(&span.trace_id),
        span_id: hex_lower(&span.span_id),
        parent_span_id: if all_zero(&span.parent_span_id) {
            String::new()
        } else {
            hex_lower(&span.parent_span_id)
        },
        step_name: step_name(&attrs, protocol, &span.name),
        downstream: if matches!(span_kind, SpanKind::Client | SpanKind::Producer) {
            downstream(&attrs, protocol)
        } else {
            None
        },
        error,
        fields: fields(&attrs, protocol, &span.name, span_kind),
    })
}

/// `Some(s)` unless empty (§1.8 omits empty strings).
fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

impl SpanFacts<'_> {
    fn status(&self) -> &'static str {
        if self.failed { "error" } else { "ok" }
    }

    fn kind(&self) -> EventKind {
        match self.protocol {
            Protocol::Http { .. } => EventKind::Http,
            Protocol::Rpc { .. } => EventKind::Rpc,
        }
    }

    /// The normalized event, built directly: what [`validate_item_owned`] makes of
    /// [`SpanFacts::json`] (the differential tests in `otlp/tests.rs` hold the two together).
    /// `None` for an end time the store cannot hold (after 2262-04-11), which only the
    /// validator words.
    fn event(&self) -> Option<Event> {
        let ts_end_ns = i64::try_from(self.end_ns).ok()?;
        let ts_start_ns = i64::try_from(self.start_ns).ok()?;
        let failed = self.error.as_ref();
        let step = Step {
            name: self.step_name.clone(),
            span_id: Some(self.span_id.clone()),
            start_ms: 0,
            duration_ms: i64::try_from(self.duration_ms).ok()?,
            status: if self.failed {
                StepStatus::Error
            } else {
                StepStatus::Ok
            },
            downstream: self.downstream.clone().filter(|d| !d.is_empty()),
            error: failed.map(|(code, reason)| StepError {
                code: non_empty(code),
                reason: non_empty(reason),
                cause: Some("otlp".to_owned()),
            }),
        };
        Some(Event {
            schema_version: SchemaVersion::V2,
            event_id: event_id(&self.trace_id, &self.span_id),
            ts_start_ns,
            ts_end_ns,
            duration_ms: i64::try_from(self.duration_ms).ok()?,
            kind: self.kind(),
            service: self.resource.service.to_owned(),
            env: self.resource.env.to_owned(),
            version: self.resource.version.map(str::to_owned),
            trace_id: self.trace_id.clone(),
            span_id: self.span_id.clone(),
            parent_span_id: self.parent_span_id.clone(),
            status: if self.failed {
                EventStatus::Error
            } else {
                EventStatus::Ok
            },
            anchor: failed.map(|(code, _)| Anchor {
                step: self.step_name.clone(),
                error_code: code.clone(),
                kind: Some("otlp".to_owned()),
            }),
            steps: vec![step],
            logs: failed
                .map(|(code, reason)| Log {
                    ts_offset_ms: 0,
                    level: LogLevel::Error,
                    msg: if reason.is_empty() { code } else { reason }.clone(),
                    fields: Some(Map::from_iter([(
                        "error_code".to_owned(),
                        Value::from(code.as_str()),
                    )])),
                })
                .into_iter()
                .collect(),
            fields: Some(self.fields.clone()).filter(|f| !f.is_empty()),
            errors: failed
                .map(|(code, reason)| ErrorRef {
                    code: code.clone(),
                    reason: non_empty(reason),
                })
                .into_iter()
                .collect(),
        })
    }

    /// The event as JSON, for the validator (§4.5 as written).
    fn json(&self) -> Value {
        let mut step = Map::new();
        step.insert("name".into(), Value::from(self.step_name.as_str()));
        step.insert("span_id".into(), Value::from(self.span_id.as_str()));
        step.insert("start_ms".into(), Value::from(0));
        step.insert("duration_ms".into(), Value::from(self.duration_ms));
        step.insert("status".into(), Value::from(self.status()));
        if let Some(d) = &self.downstream {
            step.insert(
                "downstream".into(),
                serde_json::to_value(d).expect("a downstream serializes"),
            );
        }

        let mut event = Map::new();
        event.insert("schema_version".into(), Value::from("2.0"));
        event.insert(
            "event_id".into(),
            Value::from(event_id(&self.trace_id, &self.span_id)),
        );
        event.insert("ts_start".into(), Value::from(rfc3339(self.start_ns)));
        event.insert("ts_end".into(), Value::from(rfc3339(self.end_ns)));
        event.insert("duration_ms".into(), Value::from(self.duration_ms));
        event.insert("kind".into(), Value::from(self.kind().as_str()));
        event.insert("service".into(), Value::from(self.resource.service));
        event.insert("env".into(), Value::from(self.resource.env));
        if let Some(version) = self.resource.version {
            event.insert("version".into(), Value::from(version));
        }
        event.insert("trace_id".into(), Value::from(self.trace_id.as_str()));
        event.insert("span_id".into(), Value::from(self.span_id.as_str()));
        event.insert(
            "parent_span_id".into(),
            Value::from(self.parent_span_id.as_str()),
        );
        event.insert("status".into(), Value::from(self.status()));
        if let Some((code, reason)) = &self.error {
            step.insert(
                "error".into(),
                json!({"code": code, "reason": reason, "cause": "otlp"}),
            );
            event.insert(
                "anchor".into(),
                json!({"step": self.step_name, "error_code": code, "kind": "otlp"}),
            );
            let msg = if reason.is_empty() { code } else { reason };
            event.insert(
                "logs".into(),
                json!([{"ts_offset_ms": 0, "level": "error", "msg": msg, "fields": {"error_code": code}}]),
            );
            event.insert("errors".into(), json!([{"code": code, "reason": reason}]));
        }
        event.insert("steps".into(), Value::Array(vec![Value::Object(step)]));
        event.insert("fields".into(), Value::Object(self.fields.clone()));
        Value::Object(event)
    }
}

/// Unix ns as RFC 3339 UTC. Beyond the i64 range (after 2262-04-11) the instant is still
/// written faithfully, and validation rejects it: the store cannot hold it.
fn rfc3339(ns: u64) -> String {
    match i64::try_from(ns) {
        Ok(ns) => format_rfc3339_ns(ns),
        Err(_) => {
            let secs = i64::try_from(ns / 1_000_000_000).expect("u64 seconds fit i64");
            let nanos = u32::try_from(ns % 1_000_000_000).expect("below one second");
            chrono::DateTime::from_timestamp(secs, nanos)
                .expect("u64 nanoseconds are within chrono's range")
                .format("%Y-%m-%dT%H:%M:%S%.9fZ")
                .to_string()
        }
    }
}

/// §4.5 "Step name": `waylog.step`; HTTP `http.route` / RPC `<rpc.service>/<rpc.method>`;
/// the span name; `otlp.span`.
fn step_name(attrs: &Attrs<'_>, protocol: Protocol, span_name: &str) -> String {
    if let Some(step) = attrs.str("waylog.step") {
        return step.to_string();
    }
    let by_protocol = match protocol {
        Protocol::Http { .. } => attrs.str("http.route").map(str::to_string),
        Protocol::Rpc { .. } => rpc_path(attrs),
    };
    by_protocol.unwrap_or_else(|| {
        if span_name.is_empty() {
            "otlp.span".to_string()
        } else {
            span_name.to_string()
        }
    })
}

/// `<rpc.service>/<rpc.method>` when both are present.
fn rpc_path(attrs: &Attrs<'_>) -> Option<String> {
    Some(format!(
        "{}/{}",
        attrs.str("rpc.service")?,
        attrs.str("rpc.method")?
    ))
}

/// §4.5 "Error code" (rules 1-3) and the reason that goes with it.
fn error_code(
    attrs: &Attrs<'_>,
    exceptions: &[Attrs<'_>],
    status_message: &str,
    protocol: Protocol,
) -> (String, String) {
    // Rules 1 and 3: the first exception's message, the status message, a fixed text.
    let reason = || {
        exceptions
            .first()
            .and_then(|e| e.str("exception.message"))
            .or((!status_message.is_empty()).then_some(status_message))
            .unwrap_or("otlp span reported error")
            .to_string()
    };
    if let Some(code) = attrs.str("waylog.error_code") {
        return (code.to_string(), reason());
    }
    if let Some((exception, kind)) = exceptions
        .iter()
        .find_map(|e| Some((e, e.str("exception.type")?)))
    {
        let message = exception.str("exception.message").unwrap_or_default();
        return (kind.to_string(), message.to_string());
    }
    let code = match protocol {
        Protocol::Http { code } => format!("HTTP_{code}"),
        Protocol::Rpc { grpc: Some(g) } if g != 0 => format!("GRPC_{}", grpc_code_name(g)),
        Protocol::Rpc { .. } => "RPC_ERROR".to_string(),
    };
    (code, reason())
}

/// The gRPC status name of a code, or the number itself when not one of 1-16.
fn grpc_code_name(code: i64) -> String {
    let name = match code {
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        other => return other.to_string(),
    };
    name.to_string()
}

/// §4.5 "Downstream" of a CLIENT or PRODUCER span; `None` when no peer service resolves.
fn downstream(attrs: &Attrs<'_>, protocol: Protocol) -> Option<Downstream> {
    let peer = PEER_SERVICE_KEYS.iter().find_map(|k| attrs.str(k))?;
    let service = peer_service(peer)?;
    let (endpoint, kind) = match protocol {
        Protocol::Http { .. } => (http_endpoint(attrs), "http"),
        Protocol::Rpc { .. } => (
            rpc_path(attrs).or_else(|| attrs.str("rpc.method").map(str::to_string)),
            "rpc",
        ),
    };
    Some(Downstream {
        service: Some(service.to_owned()),
        endpoint,
        kind: Some(kind.to_owned()),
    })
}

/// A peer name without a leading `http://`/`https://` and without everything from the last
/// `:` on (a port); `None` when nothing remains.
fn peer_service(peer: &str) -> Option<&str> {
    let mut s = peer;
    for scheme in ["http://", "https://"] {
        // `get`, not indexing: a non-ASCII `peer.service` has no char boundary there.
        if s.get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
        {
            s = &s[scheme.len()..];
            break;
        }
    }
    if let Some(i) = s.rfind(':') {
        s = &s[..i];
    }
    (!s.is_empty()).then_some(s)
}

/// First non-empty of `http.route`, `url.path`, `http.target`, the path of `http.url`, each
/// cut at `?` or `#`.
fn http_endpoint(attrs: &Attrs<'_>) -> Option<String> {
    let cut = |s: &str| s.split(['?', '#']).next().unwrap_or_default().to_string();
    ["http.route", "url.path", "http.target"]
        .iter()
        .filter_map(|k| attrs.str(k))
        .chain(attrs.str("http.url").map(url_path))
        .map(cut)
        .find(|s| !s.is_empty())
}

/// The path (with query and fragment) of an absolute URL; a string without `://` is taken as
/// a path already.
fn url_path(url: &str) -> &str {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find(['/', '?', '#']).map_or("", |j| &rest[j..])
        }
        None => url,
    }
}

/// `fields` of a converted event: `http` or `rpc`, and `otel` (§4.5 table).
fn fields(
    attrs: &Attrs<'_>,
    protocol: Protocol,
    span_name: &str,
    span_kind: SpanKind,
) -> Map<String, Value> {
    let mut fields = Map::new();
    match protocol {
        Protocol::Http { code } => {
            let mut http = Map::new();
            http.insert("status".into(), Value::from(code));
            if let Some(method) = attrs
                .str("http.request.method")
                .or_else(|| attrs.str("http.method"))
            {
                http.insert("method".into(), Value::from(method));
            }
            if let Some(route) = attrs.str("http.route") {
                http.insert("route".into(), Value::from(route));
            }
            fields.insert("http".into(), Value::Object(http));
        }
        Protocol::Rpc { grpc } => {
            let mut rpc = Map::new();
            if let Some(system) = attrs.json("rpc.system") {
                rpc.insert("system".into(), system);
            }
            if let Some(service) = attrs.str("rpc.service") {
                rpc.insert("service".into(), Value::from(service));
            }
            if let Some(method) = attrs.str("rpc.method") {
                rpc.insert("method".into(), Value::from(method));
            }
            if let Some(grpc) = grpc {
                rpc.insert("grpc_status_code".into(), Value::from(grpc));
            }
            fields.insert("rpc".into(), Value::Object(rpc));
        }
    }
    fields.insert(
        "otel".into(),
        json!({"span_name": span_name, "span_kind": span_kind.as_str_name()}),
    );
    fields
}

// ---------------------------------------------------------------------------------------------
// The shared export pipeline (§4.4 steps 2-3, §3.1, §3.4).

impl Prepared {
    /// Spans in the request: converted, dropped and rejected.
    pub(crate) fn spans(&self) -> usize {
        let c = &self.conversion;
        c.events.len() + c.drops.len() + c.rejects.len()
    }

    /// Spans not converted, by reason (`invalid_event` for converted spans that failed
    /// validation), for `waylog_otlp_spans_dropped_total`.
    pub(crate) fn dropped(&self) -> Vec<(&'static str, u64)> {
        let mut out: Vec<(&'static str, u64)> = Vec::new();
        let reasons = self.conversion.drops.iter().map(|d| d.reason.as_str());
        let rejects = self.conversion.rejects.iter().map(|_| "invalid_event");
        for r in reasons.chain(rejects) {
            match out.iter_mut().find(|(x, _)| *x == r) {
                Some((_, n)) => *n += 1,
                None => out.push((r, 1)),
            }
        }
        out
    }
}

/// A converted request ready to be written.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub conversion: Conversion,
    batch: Option<RecordBatch>,
}

/// Conversion, validation and the Arrow batch: CPU work, run it on a blocking thread.
pub(crate) fn prepare(
    req: &ExportTraceServiceRequest,
    now_ns: i64,
) -> Result<Prepared, datafusion::arrow::error::ArrowError> {
    let conversion = convert_request(req, now_ns);
    let batch = if conversion.events.is_empty() {
        None
    } else {
        Some(events_to_batch(&conversion.events)?)
    };
    Ok(Prepared { conversion, batch })
}

/// What a committed export answers, and the events it stored (for the deployment hook of
/// §4.4 step 3, which the caller runs after a successful commit).
#[derive(Debug)]
pub(crate) struct Committed {
    pub response: ExportTraceServiceResponse,
    pub events: Vec<Event>,
    /// Converted spans whose event id was already stored.
    pub duplicate: usize,
}

/// Dedup + WAL (§2.4 stages 6-8) and the response.
pub(crate) async fn commit(storage: &Storage, prepared: Prepared) -> Result<Committed, WriteError> {
    let mut duplicate = 0;
    if let Some(batch) = prepared.batch {
        duplicate = storage.append(TableId::Events, batch).await?.duplicate;
    }
    let response = ExportTraceServiceResponse {
        partial_success: prepared.conversion.partial_success(),
    };
    Ok(Committed {
        response,
        events: prepared.conversion.events,
        duplicate,
    })
}

#[cfg(test)]
mod tests;
