//! OTLP/JSON (spec events §4.2, last paragraph): decoding an `ExportTraceServiceRequest` into
//! the same protobuf structs the binary encoding produces, and encoding the response.
//!
//! The OTLP JSON mapping is proto3 JSON with one exception: trace and span ids are hex, not
//! base64. Accepted on input: lowerCamelCase or the protobuf snake_case member names; 64-bit
//! integers as JSON numbers or decimal strings; enums as integers or value names; `null` as
//! the default value; unknown members ignored at any depth. A member of the wrong type is an
//! error (the transport answers `invalid_body`), naming the member's path.

use base64::Engine;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValueKind;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event as SpanEvent, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{Map, Value, json};

/// Why an OTLP/JSON body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("invalid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("{path}: {expected}")]
    Member {
        path: String,
        expected: &'static str,
    },
    /// More spans than `WAYLOG_OTLP_MAX_SPANS` (counted before conversion).
    #[error(transparent)]
    Spans(#[from] crate::ingest::otlp_limits::TooManySpans),
}

type Result<T, E = DecodeError> = std::result::Result<T, E>;

/// Decode an OTLP/JSON `ExportTraceServiceRequest` (a leading UTF-8 BOM is ignored), with no
/// span limit (tests; the transport uses [`decode_request_within`]).
#[cfg(test)]
pub(crate) fn decode_request(body: &[u8]) -> Result<ExportTraceServiceRequest> {
    decode_request_within(body, usize::MAX)
}

/// [`decode_request`] refusing, before any span is converted, a request of more than
/// `max_spans` spans.
pub(crate) fn decode_request_within(
    body: &[u8],
    max_spans: usize,
) -> Result<ExportTraceServiceRequest> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let root: Value = serde_json::from_slice(body).map_err(DecodeError::Json)?;
    crate::ingest::otlp_limits::json_spans(&root, max_spans)?;
    let root = Obj::of(&root, "")?;
    Ok(ExportTraceServiceRequest {
        resource_spans: root.list("resourceSpans", "resource_spans", resource_spans)?,
    })
}

/// Encode the response as OTLP/JSON: `{}` or `{"partialSuccess":{"rejectedSpans":"2",
/// "errorMessage":"…"}}` (64-bit integers as strings; default values omitted).
pub(crate) fn encode_response(response: &ExportTraceServiceResponse) -> Vec<u8> {
    let mut root = Map::new();
    if let Some(p) = &response.partial_success {
        let mut partial = Map::new();
        if p.rejected_spans != 0 {
            partial.insert("rejectedSpans".into(), json!(p.rejected_spans.to_string()));
        }
        if !p.error_message.is_empty() {
            partial.insert("errorMessage".into(), json!(p.error_message));
        }
        root.insert("partialSuccess".into(), Value::Object(partial));
    }
    serde_json::to_vec(&Value::Object(root)).expect("a JSON map serializes")
}

/// A JSON object at a path, with proto3 JSON member lookup.
#[derive(Clone, Copy)]
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
}

impl<'a> Obj<'a> {
    fn of(value: &'a Value, path: &'a str) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Obj { map, path }),
            _ => Err(member(path, "expected an object")),
        }
    }

    /// The member under its JSON name, else its protobuf name; `null` counts as absent.
    fn get(&self, camel: &str, snake: &str) -> Option<(&'a Value, String)> {
        [camel, snake].into_iter().find_map(|name| {
            let v = self.map.get(name).filter(|v| !v.is_null())?;
            Some((v, format!("{}/{}", self.path, name)))
        })
    }

    fn string(&self, camel: &str, snake: &str) -> Result<String> {
        match self.get(camel, snake) {
            None => Ok(String::new()),
            Some((Value::String(s), _)) => Ok(s.clone()),
            Some((_, path)) => Err(member(&path, "expected a string")),
        }
    }

    fn hex(&self, camel: &str, snake: &str) -> Result<Vec<u8>> {
        match self.get(camel, snake) {
            None => Ok(Vec::new()),
            Some((Value::String(s), path)) => {
                decode_hex(s).ok_or_else(|| member(&path, "expected a hex string"))
            }
            Some((_, path)) => Err(member(&path, "expected a hex string")),
        }
    }

    fn u64(&self, camel: &str, snake: &str) -> Result<u64> {
        match self.get(camel, snake) {
            None => Ok(0),
            Some((v, path)) => {
                integer(v).ok_or_else(|| member(&path, "expected an unsigned 64-bit integer"))
            }
        }
    }

    fn u32(&self, camel: &str, snake: &str) -> Result<u32> {
        match self.get(camel, snake) {
            None => Ok(0),
            Some((v, path)) => {
                integer(v).ok_or_else(|| member(&path, "expected an unsigned 32-bit integer"))
            }
        }
    }

    /// An enum as its number or its value name; an unknown name reads as the default (0), as
    /// an unknown number does in the binary encoding.
    fn enumeration(
        &self,
        camel: &str,
        snake: &str,
        by_name: fn(&str) -> Option<i32>,
    ) -> Result<i32> {
        match self.get(camel, snake) {
            None => Ok(0),
            Some((Value::String(s), _)) if s.parse::<i64>().is_err() => Ok(by_name(s).unwrap_or(0)),
            Some((v, path)) => integer(v).ok_or_else(|| member(&path, "expected an enum value")),
        }
    }

    fn object<T>(
        &self,
        camel: &str,
        snake: &str,
        f: impl Fn(Obj<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.get(camel, snake) {
            None => Ok(None),
            Some((v, path)) => f(Obj::of(v, &path)?).map(Some),
        }
    }

    fn list<T>(
        &self,
        camel: &str,
        snake: &str,
        f: impl Fn(Obj<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        match self.get(camel, snake) {
            None => Ok(Vec::new()),
            Some((Value::Array(items), path)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let at = format!("{path}/{i}");
                    f(Obj::of(item, &at)?)
                })
                .collect(),
            Some((_, path)) => Err(member(&path, "expected an array")),
        }
    }
}

fn member(path: &str, expected: &'static str) -> DecodeError {
    DecodeError::Member {
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
        expected,
    }
}

/// A proto3 JSON integer: a number without fraction (`5.0` and `1e3` included), or a string
/// holding a decimal integer.
fn integer<T: TryFrom<i128>>(v: &Value) -> Option<T> {
    let wide: i128 = match v {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => i128::from(u),
            (None, Some(i)) => i128::from(i),
            (None, None) => {
                let f = n.as_f64()?;
                if f.fract() != 0.0 || f.abs() >= 1.9e19 {
                    return None;
                }
                f as i128
            }
        },
        Value::String(s) if !s.starts_with('+') => s.parse().ok()?,
        _ => return None,
    };
    T::try_from(wide).ok()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    b.chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

fn resource_spans(o: Obj<'_>) -> Result<ResourceSpans> {
    Ok(ResourceSpans {
        resource: o.object("resource", "resource", resource)?,
        scope_spans: o.list("scopeSpans", "scope_spans", scope_spans)?,
        schema_url: o.string("schemaUrl", "schema_url")?,
    })
}

fn resource(o: Obj<'_>) -> Result<Resource> {
    Ok(Resource {
        attributes: o.list("attributes", "attributes", key_value)?,
        dropped_attributes_count: o.u32("droppedAttributesCount", "dropped_attributes_count")?,
        entity_refs: Vec::new(),
    })
}

fn scope_spans(o: Obj<'_>) -> Result<ScopeSpans> {
    Ok(ScopeSpans {
        scope: o.object("scope", "scope", scope)?,
        spans: o.list("spans", "spans", span)?,
        schema_url: o.string("schemaUrl", "schema_url")?,
    })
}

fn scope(o: Obj<'_>) -> Result<InstrumentationScope> {
    Ok(InstrumentationScope {
        name: o.string("name", "name")?,
        version: o.string("version", "version")?,
        attributes: o.list("attributes", "attributes", key_value)?,
        dropped_attributes_count: o.u32("droppedAttributesCount", "dropped_attributes_count")?,
    })
}

fn span(o: Obj<'_>) -> Result<Span> {
    Ok(Span {
        trace_id: o.hex("traceId", "trace_id")?,
        span_id: o.hex("spanId", "span_id")?,
        trace_state: o.string("traceState", "trace_state")?,
        parent_span_id: o.hex("parentSpanId", "parent_span_id")?,
        flags: o.u32("flags", "flags")?,
        name: o.string("name", "name")?,
        kind: o.enumeration("kind", "kind", |s| {
            SpanKind::from_str_name(s).map(|k| k as i32)
        })?,
        start_time_unix_nano: o.u64("startTimeUnixNano", "start_time_unix_nano")?,
        end_time_unix_nano: o.u64("endTimeUnixNano", "end_time_unix_nano")?,
        attributes: o.list("attributes", "attributes", key_value)?,
        dropped_attributes_count: o.u32("droppedAttributesCount", "dropped_attributes_count")?,
        events: o.list("events", "events", span_event)?,
        dropped_events_count: o.u32("droppedEventsCount", "dropped_events_count")?,
        links: o.list("links", "links", link)?,
        dropped_links_count: o.u32("droppedLinksCount", "dropped_links_count")?,
        status: o.object("status", "status", status)?,
    })
}

fn span_event(o: Obj<'_>) -> Result<SpanEvent> {
    Ok(SpanEvent {
        time_unix_nano: o.u64("timeUnixNano", "time_unix_nano")?,
        name: o.string("name", "name")?,
        attributes: o.list("attributes", "attributes", key_value)?,
        dropped_attributes_count: o.u32("droppedAttributesCount", "dropped_attributes_count")?,
    })
}

fn link(o: Obj<'_>) -> Result<Link> {
    Ok(Link {
        trace_id: o.hex("traceId", "trace_id")?,
        span_id: o.hex("spanId", "span_id")?,
        trace_state: o.string("traceState", "trace_state")?,
        attributes: o.list("attributes", "attributes", key_value)?,
        dropped_attributes_count: o.u32("droppedAttributesCount", "dropped_attributes_count")?,
        flags: o.u32("flags", "flags")?,
    })
}

fn status(o: Obj<'_>) -> Result<Status> {
    Ok(Status {
        message: o.string("message", "message")?,
        code: o.enumeration("code", "code", |s| {
            StatusCode::from_str_name(s).map(|c| c as i32)
        })?,
    })
}

fn key_value(o: Obj<'_>) -> Result<KeyValue> {
    Ok(KeyValue {
        key: o.string("key", "key")?,
        value: o.object("value", "value", any_value)?,
        key_strindex: 0,
    })
}

/// An `AnyValue`: the first of its `oneof` members present (an empty object is an empty
/// value, which attribute rules ignore).
fn any_value(o: Obj<'_>) -> Result<AnyValue> {
    let value = if let Some((v, path)) = o.get("stringValue", "string_value") {
        match v {
            Value::String(s) => AnyValueKind::StringValue(s.clone()),
            _ => return Err(member(&path, "expected a string")),
        }
    } else if let Some((v, path)) = o.get("boolValue", "bool_value") {
        match v {
            Value::Bool(b) => AnyValueKind::BoolValue(*b),
            _ => return Err(member(&path, "expected a boolean")),
        }
    } else if let Some((v, path)) = o.get("intValue", "int_value") {
        AnyValueKind::IntValue(
            integer(v).ok_or_else(|| member(&path, "expected a 64-bit integer"))?,
        )
    } else if let Some((v, path)) = o.get("doubleValue", "double_value") {
        AnyValueKind::DoubleValue(double(v).ok_or_else(|| member(&path, "expected a number"))?)
    } else if let Some(values) = o.object("arrayValue", "array_value", |a| {
        a.list("values", "values", any_value)
    })? {
        AnyValueKind::ArrayValue(ArrayValue { values })
    } else if let Some(values) = o.object("kvlistValue", "kvlist_value", |a| {
        a.list("values", "values", key_value)
    })? {
        AnyValueKind::KvlistValue(KeyValueList { values })
    } else if let Some((v, path)) = o.get("bytesValue", "bytes_value") {
        let bytes = match v {
            Value::String(s) => base64_bytes(s),
            _ => None,
        };
        AnyValueKind::BytesValue(bytes.ok_or_else(|| member(&path, "expected base64"))?)
    } else {
        return Ok(AnyValue { value: None });
    };
    Ok(AnyValue { value: Some(value) })
}

/// A proto3 JSON double: a number, a numeric string, or `NaN` / `Infinity` / `-Infinity`.
fn double(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            other => other.parse::<f64>().ok().filter(|f| f.is_finite()),
        },
        _ => None,
    }
}

/// Standard or URL-safe base64, padded or not (proto3 JSON accepts both alphabets).
fn base64_bytes(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    let lenient = GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    [&base64::alphabet::STANDARD, &base64::alphabet::URL_SAFE]
        .into_iter()
        .find_map(|alphabet| GeneralPurpose::new(alphabet, lenient).decode(s).ok())
}

#[cfg(test)]
mod tests;
