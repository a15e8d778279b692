//! OTLP trace ingest, transport-independent part (spec events §4.4-§4.7): every span of an
//! `ExportTraceServiceRequest` becomes one wide event or one *drop*; converted events then go
//! through the same validation, dedup and WAL as `/v1/events`; the response's
//! `partial_success` reports drops and rejects.
//!
//! Invariants:
//! - Spans are handled in request order (resource spans → scope spans → spans), and the
//!   drop/reject lists keep that order, so `partial_success.error_message` is deterministic.
//! - A converted span is built as JSON and passed through [`validate_item_owned`], exactly like
//!   an SDK item: the one implementation of §1 (rules and §1.8 normalization) decides what is
//!   stored, and the model's invariant "every [`Event`] passed validation" holds for OTLP too.
//!   Conversion never produces an invalid event except for end times past year 2262, which the
//!   validator rejects (`schema_validation_failed`).
//! - `event_id` is a pure function of (trace id, span id) (§4.6): a re-exported span is a
//!   duplicate, never a second row.
//! - Transports (`otlp_http`, `otlp_grpc`) call [`admit`] before reading the payload, so an
//!   `overloaded` or not-ready refusal stores nothing, then [`prepare`] (CPU, blocking thread)
//!   and [`commit`] (WAL, async).

use std::sync::Arc;

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

use crate::model::{Event, ItemReject, validate_item_owned};
use crate::rfc3339::format_rfc3339_ns;
use crate::server::AppState;
use crate::storage::schema::{TableId, events_to_batch};
use crate::storage::{AppendOutcome, Storage, WriteError};

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
                match converted.map(|value| validate_item_owned(value, now_ns)) {
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

/// One span → the JSON of its wide event (§4.5), or why it is dropped (§4.4 checks, in order).
fn convert_span(
    resource: &ResourceInfo<'_>,
    span: &Span,
    now_ns: i64,
) -> Result<Value, DropReason> {
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
    let duration_ms = (end_ns - start_ns) / NANOS_PER_MS;

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

    let trace_id = hex_lower(&span.trace_id);
    let span_id = hex_lower(&span.span_id);
    let parent_span_id = if all_zero(&span.parent_span_id) {
        String::new()
    } else {
        hex_lower(&span.parent_span_id)
    };
    let step_name = step_name(&attrs, protocol, &span.name);

    let mut step = Map::new();
    step.insert("name".into(), Value::from(step_name.as_str()));
    step.insert("span_id".into(), Value::from(span_id.as_str()));
    step.insert("start_ms".into(), Value::from(0));
    step.insert("duration_ms".into(), Value::from(duration_ms));
    step.insert(
        "status".into(),
        Value::from(if failed { "error" } else { "ok" }),
    );
    let span_kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
    if matches!(span_kind, SpanKind::Client | SpanKind::Producer)
        && let Some(downstream) = downstream(&attrs, protocol)
    {
        step.insert("downstream".into(), downstream);
    }

    let mut event = Map::new();
    event.insert("schema_version".into(), Value::from("2.0"));
    event.insert(
        "event_id".into(),
        Value::from(event_id(&trace_id, &span_id)),
    );
    event.insert("ts_start".into(), Value::from(rfc3339(start_ns)));
    event.insert("ts_end".into(), Value::from(rfc3339(end_ns)));
    event.insert("duration_ms".into(), Value::from(duration_ms));
    let kind = match protocol {
        Protocol::Http { .. } => "http",
        Protocol::Rpc { .. } => "rpc",
    };
    event.insert("kind".into(), Value::from(kind));
    event.insert("service".into(), Value::from(resource.service));
    event.insert("env".into(), Value::from(resource.env));
    if let Some(version) = resource.version {
        event.insert("version".into(), Value::from(version));
    }
    event.insert("trace_id".into(), Value::from(trace_id));
    event.insert("span_id".into(), Value::from(span_id));
    event.insert("parent_span_id".into(), Value::from(parent_span_id));
    event.insert(
        "status".into(),
        Value::from(if failed { "error" } else { "ok" }),
    );
    if failed {
        let status_message = span.status.as_ref().map_or("", |s| s.message.as_str());
        let (code, reason) = error_code(&attrs, &exceptions, status_message, protocol);
        step.insert(
            "error".into(),
            json!({"code": code, "reason": reason, "cause": "otlp"}),
        );
        event.insert(
            "anchor".into(),
            json!({"step": step_name, "error_code": code, "kind": "otlp"}),
        );
        let msg = if reason.is_empty() { &code } else { &reason };
        event.insert(
            "logs".into(),
            json!([{"ts_offset_ms": 0, "level": "error", "msg": msg, "fields": {"error_code": code}}]),
        );
        event.insert("errors".into(), json!([{"code": code, "reason": reason}]));
    }
    event.insert("steps".into(), Value::Array(vec![Value::Object(step)]));
    event.insert(
        "fields".into(),
        Value::Object(fields(&attrs, protocol, &span.name, span_kind)),
    );
    Ok(Value::Object(event))
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
fn downstream(attrs: &Attrs<'_>, protocol: Protocol) -> Option<Value> {
    let peer = PEER_SERVICE_KEYS.iter().find_map(|k| attrs.str(k))?;
    let service = peer_service(peer)?;
    let (endpoint, kind) = match protocol {
        Protocol::Http { .. } => (http_endpoint(attrs), "http"),
        Protocol::Rpc { .. } => (
            rpc_path(attrs).or_else(|| attrs.str("rpc.method").map(str::to_string)),
            "rpc",
        ),
    };
    let mut d = Map::new();
    d.insert("service".into(), Value::from(service));
    if let Some(endpoint) = endpoint {
        d.insert("endpoint".into(), Value::from(endpoint));
    }
    d.insert("kind".into(), Value::from(kind));
    Some(Value::Object(d))
}

/// A peer name without a leading `http://`/`https://` and without everything from the last
/// `:` on (a port); `None` when nothing remains.
fn peer_service(peer: &str) -> Option<&str> {
    let mut s = peer;
    for scheme in ["http://", "https://"] {
        if s.len() >= scheme.len() && s[..scheme.len()].eq_ignore_ascii_case(scheme) {
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

/// Why an export was refused or failed after admission; transports map it to their statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExportFailure {
    /// HTTP 503 / gRPC `UNAVAILABLE`, with a retry hint in seconds.
    Unavailable {
        code: &'static str,
        message: &'static str,
        retry_after_secs: u64,
    },
    /// HTTP 500 / gRPC `INTERNAL`; the cause was logged, never sent.
    Internal,
}

impl ExportFailure {
    pub(crate) fn ingest_unavailable() -> Self {
        ExportFailure::Unavailable {
            code: "ingest_unavailable",
            message: "ingest unavailable",
            retry_after_secs: 1,
        }
    }

    fn overloaded(retry_after_secs: u64) -> Self {
        ExportFailure::Unavailable {
            code: "overloaded",
            message: "ingest saturated",
            retry_after_secs,
        }
    }

    fn durability_unavailable() -> Self {
        ExportFailure::Unavailable {
            code: "durability_unavailable",
            message: "write-ahead log unavailable",
            retry_after_secs: 5,
        }
    }
}

/// Ready, not shutting down, and storage can take more (§2.2 checks 8-9): decided once per
/// request before any span is processed.
pub(crate) fn admit(state: &AppState) -> Result<Arc<Storage>, ExportFailure> {
    let storage = match state.storage() {
        Some(s) if state.is_ready() && !state.is_shutting_down() => s.clone(),
        _ => return Err(ExportFailure::ingest_unavailable()),
    };
    if let Some(retry) = storage.overloaded() {
        return Err(ExportFailure::overloaded(retry));
    }
    Ok(storage)
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
    request_id: &str,
) -> Result<Prepared, ExportFailure> {
    let conversion = convert_request(req, now_ns);
    let batch = if conversion.events.is_empty() {
        None
    } else {
        Some(events_to_batch(&conversion.events).map_err(|e| {
            tracing::error!(error = %e, request_id, "arrow conversion failed");
            ExportFailure::Internal
        })?)
    };
    Ok(Prepared { conversion, batch })
}

/// Dedup + WAL (§2.4 stages 6-8), the deployment hook (§4.4 step 3), and the response.
pub(crate) async fn commit(
    state: &AppState,
    storage: &Storage,
    prepared: Prepared,
    request_id: &str,
) -> Result<(ExportTraceServiceResponse, AppendOutcome), ExportFailure> {
    let outcome = match prepared.batch {
        Some(batch) => match storage.append(TableId::Events, batch).await {
            Ok(o) => o,
            Err(WriteError::Durability(e)) => {
                tracing::error!(error = %e, request_id, "durability failure");
                return Err(ExportFailure::durability_unavailable());
            }
            Err(WriteError::Stopped) => return Err(ExportFailure::ingest_unavailable()),
        },
        None => AppendOutcome::default(),
    };
    super::deployments::register_from_otlp(state, &prepared.conversion.events);
    let response = ExportTraceServiceResponse {
        partial_success: prepared.conversion.partial_success(),
    };
    Ok((response, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RejectReason;
    use crate::rfc3339::parse_rfc3339_ns;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue};
    use opentelemetry_proto::tonic::trace::v1::span::Event as SpanEvent;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";
    const PARENT: &str = "53995c3f42cd8ad8";

    fn ns(ts: &str) -> i64 {
        parse_rfc3339_ns(ts).unwrap()
    }

    fn now() -> i64 {
        ns("2026-05-04T10:01:00Z")
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn kv(key: &str, value: AnyValueKind) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn s(key: &str, v: &str) -> KeyValue {
        kv(key, AnyValueKind::StringValue(v.into()))
    }

    fn i(key: &str, v: i64) -> KeyValue {
        kv(key, AnyValueKind::IntValue(v))
    }

    fn resource(attrs: Vec<KeyValue>) -> Option<Resource> {
        Some(Resource {
            attributes: attrs,
            ..Default::default()
        })
    }

    fn payment_resource() -> Option<Resource> {
        resource(vec![
            s("service.name", "payment"),
            s("service.version", "1.4.2"),
            s("deployment.environment.name", "prod"),
        ])
    }

    /// A successful SERVER span with the given attributes, 35 ms long.
    fn span(attrs: Vec<KeyValue>) -> Span {
        Span {
            trace_id: unhex(TRACE),
            span_id: unhex(SPAN),
            parent_span_id: unhex(PARENT),
            name: "POST /charge".into(),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: ns("2026-05-04T10:00:00.012Z") as u64,
            end_time_unix_nano: ns("2026-05-04T10:00:00.047Z") as u64,
            attributes: attrs,
            ..Default::default()
        }
    }

    fn error_status(message: &str) -> Option<Status> {
        Some(Status {
            message: message.into(),
            code: SpanStatusCode::Error as i32,
        })
    }

    fn exception(attrs: Vec<KeyValue>) -> SpanEvent {
        SpanEvent {
            name: "exception".into(),
            attributes: attrs,
            ..Default::default()
        }
    }

    fn request(resource: Option<Resource>, spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource,
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// Convert one span under the payment resource; it must become an event.
    fn convert_one(span: Span) -> Event {
        let c = convert_request(&request(payment_resource(), vec![span]), now());
        assert!(c.drops.is_empty(), "{:?}", c.drops);
        assert!(c.rejects.is_empty(), "{:?}", c.rejects);
        assert_eq!(c.events.len(), 1);
        c.events.into_iter().next().unwrap()
    }

    fn drop_reason(resource: Option<Resource>, span: Span) -> DropReason {
        let c = convert_request(&request(resource, vec![span]), now());
        assert!(c.events.is_empty() && c.rejects.is_empty());
        assert_eq!(c.drops.len(), 1);
        c.drops[0].reason
    }

    fn to_json(e: &Event) -> Value {
        serde_json::to_value(e).unwrap()
    }

    #[test]
    fn event_id_matches_spec_test_vector() {
        assert_eq!(
            event_id(TRACE, SPAN),
            "84e30b51-2cfe-5569-bd30-9bc7b58b40b8"
        );
    }

    #[test]
    fn convert_worked_example_yields_exact_normalized_event() {
        let mut sp = span(vec![
            s("http.request.method", "POST"),
            s("http.route", "/charge"),
            i("http.response.status_code", 502),
            s("waylog.error_code", "PMT_502"),
        ]);
        sp.status = error_status("acquirer returned 502");
        let event = convert_one(sp);
        let expected = concat!(
            r#"{"schema_version":"2.0","event_id":"84e30b51-2cfe-5569-bd30-9bc7b58b40b8","ts_start":"2026-05-04T10:00:00.012Z","#,
            r#""ts_end":"2026-05-04T10:00:00.047Z","duration_ms":35,"kind":"http","service":"payment","env":"prod","version":"1.4.2","#,
            r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","parent_span_id":"53995c3f42cd8ad8","#,
            r#""status":"error","anchor":{"step":"/charge","error_code":"PMT_502","kind":"otlp"},"#,
            r#""steps":[{"name":"/charge","span_id":"00f067aa0ba902b7","start_ms":0,"duration_ms":35,"status":"error","#,
            r#""error":{"code":"PMT_502","reason":"acquirer returned 502","cause":"otlp"}}],"#,
            r#""logs":[{"ts_offset_ms":0,"level":"error","msg":"acquirer returned 502","fields":{"error_code":"PMT_502"}}],"#,
            r#""fields":{"http":{"method":"POST","route":"/charge","status":502},"otel":{"span_kind":"SPAN_KIND_SERVER","span_name":"POST /charge"}},"#,
            r#""errors":[{"code":"PMT_502","reason":"acquirer returned 502"}]}"#,
        );
        assert_eq!(serde_json::to_string(&event).unwrap(), expected);
    }

    #[test]
    fn convert_ok_span_has_no_failure_members() {
        let e = convert_one(span(vec![
            s("http.method", "GET"),
            i("http.response.status_code", 404),
        ]));
        assert_eq!(e.status, "ok");
        assert!(e.anchor.is_none() && e.logs.is_empty() && e.errors.is_empty());
        assert_eq!(e.steps.len(), 1);
        assert_eq!(e.steps[0].status, "ok");
        assert!(e.steps[0].error.is_none());
        assert_eq!(e.steps[0].span_id.as_deref(), Some(SPAN));
        let v = to_json(&e);
        assert_eq!(v["fields"]["http"], json!({"method": "GET", "status": 404}));
        assert_eq!(v["steps"][0]["name"], "POST /charge");
    }

    #[test]
    fn convert_resource_rules_env_version_and_missing_service() {
        let res = resource(vec![
            s("service.name", "svc"),
            s("deployment.environment", "staging"),
            s("service.version", ""),
        ]);
        let c = convert_request(
            &request(res, vec![span(vec![s("http.method", "GET")])]),
            now(),
        );
        assert_eq!(c.events[0].env, "staging");
        assert_eq!(c.events[0].version, None);
        // The stable name wins over the legacy one.
        let res = resource(vec![
            s("service.name", "svc"),
            s("deployment.environment", "staging"),
            s("deployment.environment.name", "prod"),
        ]);
        let c = convert_request(
            &request(res, vec![span(vec![s("http.method", "GET")])]),
            now(),
        );
        assert_eq!(c.events[0].env, "prod");
        let res = resource(vec![s("service.name", "svc")]);
        let c = convert_request(
            &request(res, vec![span(vec![s("http.method", "GET")])]),
            now(),
        );
        assert_eq!(c.events[0].env, "unknown");
        // Missing, empty or non-string service.name drops every span of the resource.
        for res in [
            None,
            resource(vec![]),
            resource(vec![s("service.name", "")]),
            resource(vec![i("service.name", 7)]),
        ] {
            assert_eq!(
                drop_reason(res, span(vec![s("http.method", "GET")])),
                DropReason::MissingService
            );
        }
    }

    #[test]
    fn convert_drops_invalid_ids_and_times_in_check_order() {
        let http = || span(vec![s("http.method", "GET")]);
        let res = payment_resource;
        let mut sp = http();
        sp.trace_id = vec![];
        assert_eq!(drop_reason(res(), sp), DropReason::MissingTraceId);
        let mut sp = http();
        sp.trace_id = vec![0; 16];
        assert_eq!(drop_reason(res(), sp), DropReason::MissingTraceId);
        // All zero wins over the wrong length.
        let mut sp = http();
        sp.trace_id = vec![0; 3];
        assert_eq!(drop_reason(res(), sp), DropReason::MissingTraceId);
        let mut sp = http();
        sp.trace_id = vec![1; 15];
        assert_eq!(drop_reason(res(), sp), DropReason::InvalidSpan);
        for span_id in [vec![], vec![0; 8], vec![1; 7], vec![1; 16]] {
            let mut sp = http();
            sp.span_id = span_id;
            assert_eq!(drop_reason(res(), sp), DropReason::InvalidSpan);
        }
        let mut sp = http();
        sp.parent_span_id = vec![1; 4];
        assert_eq!(drop_reason(res(), sp), DropReason::InvalidSpan);
        let mut sp = http();
        sp.start_time_unix_nano = 0;
        assert_eq!(drop_reason(res(), sp), DropReason::InvalidSpan);
        // invalid_span is checked before the kind.
        let mut sp = span(vec![]);
        sp.start_time_unix_nano = 0;
        assert_eq!(drop_reason(res(), sp), DropReason::InvalidSpan);
        // An empty or all-zero parent is a root.
        for parent in [vec![], vec![0; 8]] {
            let mut sp = http();
            sp.parent_span_id = parent;
            assert_eq!(convert_one(sp).parent_span_id, "");
        }
    }

    #[test]
    fn convert_drops_unsupported_kind_without_http_or_rpc_attributes() {
        let res = payment_resource;
        assert_eq!(
            drop_reason(res(), span(vec![])),
            DropReason::UnsupportedKind
        );
        // Span kind plays no part; empty strings, zero codes, other types are absent.
        let mut sp = span(vec![
            s("db.system", "postgresql"),
            s("http.method", ""),
            s("rpc.system", ""),
            i("http.response.status_code", 0),
            i("http.status_code", -1),
            s("http.response.status_code", "500"),
        ]);
        sp.kind = SpanKind::Client as i32;
        assert_eq!(drop_reason(res(), sp), DropReason::UnsupportedKind);
        // Arrays, maps and bytes are ignored.
        let sp = span(vec![kv(
            "http.route",
            AnyValueKind::ArrayValue(ArrayValue { values: vec![] }),
        )]);
        assert_eq!(drop_reason(res(), sp), DropReason::UnsupportedKind);
        let sp = span(vec![kv("http.target", AnyValueKind::BytesValue(vec![1]))]);
        assert_eq!(drop_reason(res(), sp), DropReason::UnsupportedKind);
        // Any present marker makes an HTTP span; a bool or int counts as present.
        for marker in HTTP_MARKERS {
            assert_eq!(convert_one(span(vec![s(marker, "x")])).kind, "http");
        }
        assert_eq!(
            convert_one(span(vec![i("http.status_code", 200)])).kind,
            "http"
        );
        assert_eq!(
            convert_one(span(vec![kv("http.url", AnyValueKind::BoolValue(false))])).kind,
            "http"
        );
        assert_eq!(convert_one(span(vec![s("rpc.system", "grpc")])).kind, "rpc");
        // HTTP wins over RPC.
        let e = convert_one(span(vec![s("rpc.system", "grpc"), s("http.method", "GET")]));
        assert_eq!(e.kind, "http");
    }

    #[test]
    fn convert_future_guard_drops_after_five_minutes_only() {
        let at = |start: i64| {
            let mut sp = span(vec![s("http.method", "GET")]);
            sp.start_time_unix_nano = start as u64;
            sp.end_time_unix_nano = start as u64;
            convert_request(&request(payment_resource(), vec![sp]), now())
        };
        let guard = 300 * 1_000_000_000;
        assert_eq!(at(now() + guard).events.len(), 1);
        let c = at(now() + guard + 1);
        assert_eq!(c.drops[0].reason, DropReason::FutureTimestamp);
        let mut sp = span(vec![s("http.method", "GET")]);
        sp.start_time_unix_nano = u64::MAX;
        assert_eq!(
            drop_reason(payment_resource(), sp),
            DropReason::FutureTimestamp
        );
    }

    #[test]
    fn convert_end_before_start_is_raised_and_huge_end_is_rejected() {
        let mut sp = span(vec![s("http.method", "GET")]);
        sp.end_time_unix_nano = sp.start_time_unix_nano - 5;
        let e = convert_one(sp);
        assert_eq!(e.ts_end_ns, e.ts_start_ns);
        assert_eq!(e.duration_ms, 0);
        // An end past 2262 cannot be stored: a reject, not a drop.
        let mut sp = span(vec![s("http.method", "GET")]);
        sp.end_time_unix_nano = u64::MAX;
        let c = convert_request(&request(payment_resource(), vec![sp]), now());
        assert_eq!(c.rejects.len(), 1);
        assert_eq!(c.rejects[0].reason, RejectReason::SchemaValidationFailed);
        assert!(
            c.rejects[0].detail.starts_with("/ts_end"),
            "{}",
            c.rejects[0].detail
        );
        assert_eq!(
            c.rejects[0].event_id.as_deref(),
            Some(event_id(TRACE, SPAN).as_str())
        );
    }

    #[test]
    fn attributes_repeated_key_last_kept_value_wins() {
        let e = convert_one(span(vec![
            s("http.method", "GET"),
            s("http.route", "/first"),
            s("http.route", "/second"),
            kv(
                "http.route",
                AnyValueKind::ArrayValue(ArrayValue { values: vec![] }),
            ),
        ]));
        assert_eq!(e.steps[0].name, "/second");
        // A later empty string is kept and makes the key absent.
        let e = convert_one(span(vec![
            s("http.method", "GET"),
            s("http.route", "/first"),
            s("http.route", ""),
        ]));
        assert_eq!(e.steps[0].name, "POST /charge");
        // A string where an int is expected is absent: no code, so 200.
        let e = convert_one(span(vec![
            s("http.method", "GET"),
            s("http.response.status_code", "503"),
        ]));
        assert_eq!(to_json(&e)["fields"]["http"]["status"], 200);
        assert_eq!(e.status, "ok");
    }

    #[test]
    fn http_outcome_and_legacy_vs_stable_semconv() {
        // Stable names.
        let e = convert_one(span(vec![
            s("http.request.method", "PUT"),
            s("http.method", "GET"),
            i("http.response.status_code", 503),
            i("http.status_code", 200),
        ]));
        assert_eq!(e.status, "error");
        assert_eq!(e.anchor.as_ref().unwrap().error_code, "HTTP_503");
        assert_eq!(
            to_json(&e)["fields"]["http"],
            json!({"method": "PUT", "status": 503})
        );
        // Legacy names.
        let e = convert_one(span(vec![
            s("http.method", "GET"),
            i("http.status_code", 500),
            s("http.target", "/legacy?q=1"),
        ]));
        assert_eq!(e.anchor.as_ref().unwrap().error_code, "HTTP_500");
        assert_eq!(e.anchor.as_ref().unwrap().step, "POST /charge");
        assert_eq!(
            to_json(&e)["fields"]["http"],
            json!({"method": "GET", "status": 500})
        );
        // A 4xx is a success unless the span status or an exception says otherwise.
        let e = convert_one(span(vec![
            s("http.method", "GET"),
            i("http.status_code", 404),
        ]));
        assert_eq!(e.status, "ok");
        let mut sp = span(vec![s("http.method", "GET"), i("http.status_code", 404)]);
        sp.status = error_status("");
        let e = convert_one(sp);
        assert_eq!(e.status, "error");
        assert_eq!(e.anchor.as_ref().unwrap().error_code, "HTTP_404");
        assert_eq!(
            e.errors[0].reason.as_deref(),
            Some("otlp span reported error")
        );
        // STATUS_CODE_OK and UNSET are not failures.
        let mut sp = span(vec![s("http.method", "GET")]);
        sp.status = Some(Status {
            message: "fine".into(),
            code: SpanStatusCode::Ok as i32,
        });
        assert_eq!(convert_one(sp).status, "ok");
        // Without a code: 500 when failed, else 200.
        let mut sp = span(vec![s("http.method", "GET")]);
        sp.status = error_status("boom");
        let e = convert_one(sp);
        assert_eq!(to_json(&e)["fields"]["http"]["status"], 500);
        assert_eq!(e.anchor.as_ref().unwrap().error_code, "HTTP_500");
        assert_eq!(e.errors[0].reason.as_deref(), Some("boom"));
        let e = convert_one(span(vec![s("http.method", "GET")]));
        assert_eq!(to_json(&e)["fields"]["http"]["status"], 200);
    }

    #[test]
    fn rpc_status_codes_map_to_grpc_names() {
        let cases = [
            (1, "GRPC_CANCELLED"),
            (2, "GRPC_UNKNOWN"),
            (3, "GRPC_INVALID_ARGUMENT"),
            (4, "GRPC_DEADLINE_EXCEEDED"),
            (5, "GRPC_NOT_FOUND"),
            (6, "GRPC_ALREADY_EXISTS"),
            (7, "GRPC_PERMISSION_DENIED"),
            (8, "GRPC_RESOURCE_EXHAUSTED"),
            (9, "GRPC_FAILED_PRECONDITION"),
            (10, "GRPC_ABORTED"),
            (11, "GRPC_OUT_OF_RANGE"),
            (12, "GRPC_UNIMPLEMENTED"),
            (13, "GRPC_INTERNAL"),
            (14, "GRPC_UNAVAILABLE"),
            (15, "GRPC_DATA_LOSS"),
            (16, "GRPC_UNAUTHENTICATED"),
            (17, "GRPC_17"),
            (-3, "GRPC_-3"),
        ];
        for (code, name) in cases {
            let e = convert_one(span(vec![
                s("rpc.system", "grpc"),
                i("rpc.grpc.status_code", code),
            ]));
            assert_eq!(e.status, "error", "{code}");
            assert_eq!(e.anchor.as_ref().unwrap().error_code, name);
            assert_eq!(
                e.errors[0].reason.as_deref(),
                Some("otlp span reported error")
            );
        }
    }

    #[test]
    fn rpc_outcome_fields_and_step_name() {
        let e = convert_one(span(vec![
            s("rpc.system", "grpc"),
            s("rpc.service", "pay.Payments"),
            s("rpc.method", "Charge"),
            i("rpc.grpc.status_code", 0),
        ]));
        assert_eq!(e.kind, "rpc");
        assert_eq!(e.status, "ok");
        assert_eq!(e.steps[0].name, "pay.Payments/Charge");
        assert_eq!(
            to_json(&e)["fields"]["rpc"],
            json!({"system": "grpc", "service": "pay.Payments", "method": "Charge", "grpc_status_code": 0})
        );
        // Without a grpc code: RPC_ERROR on an error status; the step needs both names.
        let mut sp = span(vec![s("rpc.system", "grpc"), s("rpc.method", "Charge")]);
        sp.status = error_status("deadline");
        let e = convert_one(sp);
        assert_eq!(e.anchor.as_ref().unwrap().error_code, "RPC_ERROR");
        assert_eq!(e.anchor.as_ref().unwrap().step, "POST /charge");
        assert_eq!(e.errors[0].reason.as_deref(), Some("deadline"));
        assert_eq!(
            to_json(&e)["fields"]["rpc"],
            json!({"system": "grpc", "method": "Charge"})
        );
        // A non-string rpc.system is present and kept as sent.
        let e = convert_one(span(vec![kv("rpc.system", AnyValueKind::IntValue(3))]));
        assert_eq!(to_json(&e)["fields"]["rpc"], json!({"system": 3}));
    }

    #[test]
    fn step_name_fallbacks_in_order() {
        let mut sp = span(vec![
            s("http.method", "GET"),
            s("http.route", "/r"),
            s("waylog.step", "my.step"),
        ]);
        assert_eq!(convert_one(sp.clone()).steps[0].name, "my.step");
        sp.attributes.pop();
        assert_eq!(convert_one(sp.clone()).steps[0].name, "/r");
        sp.attributes.pop();
        assert_eq!(convert_one(sp.clone()).steps[0].name, "POST /charge");
        sp.name = String::new();
        let e = convert_one(sp);
        assert_eq!(e.steps[0].name, "otlp.span");
        assert_eq!(to_json(&e)["fields"]["otel"]["span_name"], "");
    }

    #[test]
    fn exception_events_fail_the_span_and_give_code_and_reason() {
        // Rule 2: the first exception with a type; its message is the reason (may be empty).
        let mut sp = span(vec![s("http.method", "GET"), i("http.status_code", 200)]);
        sp.events = vec![
            SpanEvent {
                name: "retry".into(),
                attributes: vec![s("exception.type", "NotAnException")],
                ..Default::default()
            },
            exception(vec![s("exception.message", "first, untyped")]),
            exception(vec![s("exception.type", "IoError")]),
            exception(vec![
                s("exception.type", "Later"),
                s("exception.message", "later"),
            ]),
        ];
        let e = convert_one(sp);
        assert_eq!(e.status, "error");
        assert_eq!(e.anchor.as_ref().unwrap().error_code, "IoError");
        assert_eq!(e.errors[0].reason, None);
        assert_eq!(e.logs[0].msg, "IoError");
        let err = e.steps[0].error.as_ref().unwrap();
        assert_eq!(err.code.as_deref(), Some("IoError"));
        assert_eq!(err.reason, None);
        assert_eq!(err.cause.as_deref(), Some("otlp"));
        // Rule 1 beats rule 2; the reason is then the first exception's message.
        let mut sp = span(vec![s("http.method", "GET"), s("waylog.error_code", "E_1")]);
        sp.status = error_status("status text");
        sp.events = vec![
            exception(vec![
                s("exception.type", "T"),
                s("exception.message", "exc text"),
            ]),
            exception(vec![s("exception.message", "second")]),
        ];
        let e = convert_one(sp);
        assert_eq!(e.anchor.as_ref().unwrap().error_code, "E_1");
        assert_eq!(e.errors[0].reason.as_deref(), Some("exc text"));
        assert_eq!(e.logs[0].msg, "exc text");
        // Rule 3 with an untyped exception: its message, else the status message.
        let mut sp = span(vec![s("http.method", "GET")]);
        sp.status = error_status("status text");
        sp.events = vec![exception(vec![])];
        let e = convert_one(sp);
        assert_eq!(e.anchor.as_ref().unwrap().error_code, "HTTP_500");
        assert_eq!(e.errors[0].reason.as_deref(), Some("status text"));
        // An exception fails an RPC span with grpc 0 too.
        let mut sp = span(vec![s("rpc.system", "grpc"), i("rpc.grpc.status_code", 0)]);
        sp.events = vec![exception(vec![
            s("exception.type", "Panic"),
            s("exception.message", "oops"),
        ])];
        let e = convert_one(sp);
        assert_eq!(e.anchor.as_ref().unwrap().error_code, "Panic");
        assert_eq!(e.errors[0].reason.as_deref(), Some("oops"));
        assert_eq!(e.anchor.as_ref().unwrap().kind.as_deref(), Some("otlp"));
    }

    #[test]
    fn downstream_only_on_client_and_producer_spans() {
        let attrs = vec![
            s("http.method", "POST"),
            s("peer.service", "payment"),
            s("url.path", "/charge?x=1"),
        ];
        for (kind, expect) in [
            (SpanKind::Client, true),
            (SpanKind::Producer, true),
            (SpanKind::Server, false),
            (SpanKind::Internal, false),
            (SpanKind::Consumer, false),
            (SpanKind::Unspecified, false),
        ] {
            let mut sp = span(attrs.clone());
            sp.kind = kind as i32;
            let e = convert_one(sp);
            assert_eq!(e.steps[0].downstream.is_some(), expect, "{kind:?}");
            let v = to_json(&e);
            assert_eq!(v["fields"]["otel"]["span_kind"], kind.as_str_name());
            if expect {
                assert_eq!(
                    v["steps"][0]["downstream"],
                    json!({"service": "payment", "endpoint": "/charge", "kind": "http"})
                );
            }
        }
        let mut sp = span(attrs);
        sp.kind = 42;
        let v = to_json(&convert_one(sp));
        assert_eq!(v["fields"]["otel"]["span_kind"], "SPAN_KIND_UNSPECIFIED");
    }

    #[test]
    fn downstream_service_and_endpoint_rules() {
        let client = |attrs: Vec<KeyValue>| {
            let mut sp = span(attrs);
            sp.kind = SpanKind::Client as i32;
            to_json(&convert_one(sp))["steps"][0]
                .get("downstream")
                .cloned()
        };
        // Preference order of the peer keys.
        let d = client(vec![
            s("http.method", "GET"),
            s("net.peer.name", "d"),
            s("server.address", "c"),
            s("peer.service", "b"),
            s("service.peer.name", "a"),
        ]);
        assert_eq!(d.unwrap()["service"], "a");
        let d = client(vec![
            s("http.method", "GET"),
            s("net.peer.name", "d"),
            s("server.address", "c"),
        ]);
        assert_eq!(d.unwrap()["service"], "c");
        // Scheme and port removed; nothing left → no downstream; no peer → none.
        let d = client(vec![
            s("http.method", "GET"),
            s("server.address", "https://pay.internal:8443"),
        ]);
        assert_eq!(
            d.unwrap(),
            json!({"service": "pay.internal", "kind": "http"})
        );
        let d = client(vec![
            s("http.method", "GET"),
            s("server.address", "http://:80"),
        ]);
        assert_eq!(d, None);
        assert_eq!(client(vec![s("http.method", "GET")]), None);
        // Endpoint order: http.route, url.path, http.target, path of http.url; cut at ? or #.
        let d = client(vec![
            s("http.method", "GET"),
            s("peer.service", "p"),
            s("http.url", "https://h:1/from-url?q"),
            s("http.target", "/from-target"),
            s("url.path", "/from-path"),
            s("http.route", "/from-route#frag"),
        ]);
        assert_eq!(d.unwrap()["endpoint"], "/from-route");
        let d = client(vec![
            s("http.method", "GET"),
            s("peer.service", "p"),
            s("http.url", "https://h:1/from-url?q"),
            s("http.target", "?only-query"),
        ]);
        assert_eq!(d.unwrap()["endpoint"], "/from-url");
        let d = client(vec![s("peer.service", "p"), s("http.url", "https://h:1")]);
        assert_eq!(d.unwrap(), json!({"service": "p", "kind": "http"}));
        // RPC endpoints.
        let d = client(vec![
            s("rpc.system", "grpc"),
            s("peer.service", "p"),
            s("rpc.service", "S"),
            s("rpc.method", "M"),
        ]);
        assert_eq!(
            d.unwrap(),
            json!({"service": "p", "endpoint": "S/M", "kind": "rpc"})
        );
        let d = client(vec![
            s("rpc.system", "grpc"),
            s("peer.service", "p"),
            s("rpc.method", "M"),
        ]);
        assert_eq!(d.unwrap()["endpoint"], "M");
        let d = client(vec![s("rpc.system", "grpc"), s("peer.service", "p")]);
        assert_eq!(d.unwrap(), json!({"service": "p", "kind": "rpc"}));
    }

    #[test]
    fn partial_success_message_lists_five_drops_then_five_rejects() {
        let named = |name: &str| {
            let mut sp = span(vec![s("db.system", "postgresql")]);
            sp.name = name.into();
            sp
        };
        let mut spans: Vec<Span> = (0..6).map(|n| named(&format!("SELECT {n}"))).collect();
        spans.insert(1, named(""));
        for _ in 0..6 {
            let mut sp = span(vec![s("http.method", "GET")]);
            sp.end_time_unix_nano = u64::MAX;
            spans.push(sp);
        }
        spans.push(span(vec![s("http.method", "GET")]));
        let c = convert_request(&request(payment_resource(), spans), now());
        assert_eq!(c.events.len(), 1);
        let p = c.partial_success().unwrap();
        assert_eq!(p.rejected_spans, 13);
        let parts: Vec<&str> = p.error_message.split("; ").collect();
        assert_eq!(parts.len(), 10);
        assert_eq!(parts[0], "unsupported_kind (span: SELECT 0)");
        assert_eq!(parts[1], "unsupported_kind");
        assert_eq!(parts[4], "unsupported_kind (span: SELECT 3)");
        assert!(
            parts[5].starts_with("schema_validation_failed (/ts_end"),
            "{}",
            parts[5]
        );
        // The spec's example shape.
        let c = Conversion {
            drops: vec![DroppedSpan {
                reason: DropReason::UnsupportedKind,
                span_name: "SELECT orders".into(),
            }],
            rejects: vec![ItemReject {
                reason: RejectReason::FutureTimestamp,
                detail: String::new(),
                event_id: None,
            }],
            ..Default::default()
        };
        let p = c.partial_success().unwrap();
        assert_eq!(p.rejected_spans, 2);
        assert_eq!(
            p.error_message,
            "unsupported_kind (span: SELECT orders); future_timestamp"
        );
        assert_eq!(Conversion::default().partial_success(), None);
    }

    #[test]
    fn convert_keeps_request_order_across_resources_and_scopes() {
        let mut req = request(
            payment_resource(),
            vec![span(vec![s("http.method", "GET")])],
        );
        let mut second = span(vec![s("http.method", "GET")]);
        second.span_id = unhex("1111111111111111");
        req.resource_spans[0].scope_spans.push(ScopeSpans {
            spans: vec![second],
            ..Default::default()
        });
        let mut third = span(vec![s("http.method", "GET")]);
        third.span_id = unhex("2222222222222222");
        req.resource_spans.push(ResourceSpans {
            resource: resource(vec![s("service.name", "checkout")]),
            scope_spans: vec![ScopeSpans {
                spans: vec![third],
                ..Default::default()
            }],
            ..Default::default()
        });
        let c = convert_request(&req, now());
        let ids: Vec<(&str, &str)> = c
            .events
            .iter()
            .map(|e| (e.service.as_str(), e.span_id.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("payment", SPAN),
                ("payment", "1111111111111111"),
                ("checkout", "2222222222222222")
            ]
        );
        assert_eq!(c.events[2].event_id, event_id(TRACE, "2222222222222222"));
    }

    #[test]
    fn convert_non_finite_double_attribute_is_kept_as_string() {
        let e = convert_one(span(vec![kv(
            "rpc.system",
            AnyValueKind::DoubleValue(f64::NAN),
        )]));
        assert_eq!(to_json(&e)["fields"]["rpc"]["system"], "NaN");
    }
}
