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
}

type Result<T, E = DecodeError> = std::result::Result<T, E>;

/// Decode an OTLP/JSON `ExportTraceServiceRequest` (a leading UTF-8 BOM is ignored).
pub(crate) fn decode_request(body: &[u8]) -> Result<ExportTraceServiceRequest> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let root: Value = serde_json::from_slice(body).map_err(DecodeError::Json)?;
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
mod tests {
    use super::*;
    use crate::ingest::otlp::convert_request;
    use crate::rfc3339::parse_rfc3339_ns;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
    use prost::Message;

    /// The shared fixtures folder sits beside the repository (locally and in CI).
    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/otlp/trace-request.json"
    );

    #[test]
    fn decode_fixture_converts_to_the_documented_trace() {
        let body = std::fs::read(FIXTURE).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"));
        let req = decode_request(&body).unwrap();
        assert_eq!(req.resource_spans.len(), 3);
        let now = parse_rfc3339_ns("2026-05-12T14:05:00Z").unwrap();
        let c = convert_request(&req, now);
        assert!(c.drops.is_empty() && c.rejects.is_empty());
        let rows: Vec<_> = c
            .events
            .iter()
            .map(|e| {
                let a = e.anchor.as_ref().unwrap();
                (
                    e.service.as_str(),
                    e.span_id.as_str(),
                    e.parent_span_id.as_str(),
                    e.status.as_str(),
                    a.step.as_str(),
                    a.error_code.as_str(),
                    e.errors[0].reason.as_deref().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "api-gateway",
                    "00d76cc7afb34de7",
                    "",
                    "error",
                    "/purchase",
                    "HTTP_502",
                    "otlp span reported error"
                ),
                (
                    "checkout",
                    "803504d7381251e3",
                    "00d76cc7afb34de7",
                    "error",
                    "/checkout",
                    "PMT_502",
                    "upstream gateway 5xx"
                ),
                (
                    "checkout",
                    "1c3e74b66d6a6ad7",
                    "803504d7381251e3",
                    "error",
                    "payment.charge",
                    "PMT_502",
                    "upstream gateway 5xx"
                ),
                (
                    "payment",
                    "520031ef52b4c281",
                    "1c3e74b66d6a6ad7",
                    "error",
                    "acquirer.charge",
                    "PMT_502",
                    "acquirer gateway returned 502 Bad Gateway"
                ),
            ]
        );
        for e in &c.events {
            assert_eq!(e.trace_id, "5a7ca07b0eb80baa1556752b15915d83");
            assert_eq!(e.env, "prod");
            assert_eq!(e.kind, "http");
        }
        let versions: Vec<_> = c
            .events
            .iter()
            .map(|e| e.version.as_deref().unwrap())
            .collect();
        assert_eq!(versions, ["1.8.2", "2.14.0", "2.14.0", "3.2.1"]);
        // Only the CLIENT span has a downstream: peer.service, no route/path/target/http.url.
        let client = serde_json::to_value(&c.events[2]).unwrap();
        assert_eq!(
            client["steps"][0]["downstream"],
            json!({"service": "payment", "kind": "http"})
        );
        assert_eq!(client["fields"]["otel"]["span_kind"], "SPAN_KIND_CLIENT");
        assert!(
            c.events
                .iter()
                .enumerate()
                .all(|(i, e)| i == 2 || e.steps[0].downstream.is_none())
        );
        let gateway = serde_json::to_value(&c.events[0]).unwrap();
        assert_eq!(gateway["ts_start"], "2026-05-12T14:03:27.412318Z");
        assert_eq!(gateway["duration_ms"], 548);
        assert_eq!(
            gateway["fields"]["http"],
            json!({"method": "POST", "route": "/purchase", "status": 502})
        );
        // The protobuf round trip decodes to the same request.
        let again = ExportTraceServiceRequest::decode(req.encode_to_vec().as_slice()).unwrap();
        assert_eq!(again, req);
    }

    #[test]
    fn decode_accepts_snake_case_numbers_enum_names_and_ignores_unknown_members() {
        let body = br#"{"resource_spans":[{"resource":{"attributes":[
            {"key":"service.name","value":{"string_value":"svc"}},
            {"key":"n","value":{"int_value":7}},
            {"key":"d","value":{"doubleValue":"NaN"}},
            {"key":"b","value":{"boolValue":true}},
            {"key":"x","value":{"bytesValue":"AQI="}},
            {"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"}]}}},
            {"key":"k","value":{"kvlistValue":{"values":[{"key":"z","value":{}}]}}}],
            "futureMember":{"x":1}},
          "scope_spans":[{"scope":null,"spans":[{"trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736",
            "spanId":"00f067aa0ba902b7","kind":"SPAN_KIND_CLIENT","start_time_unix_nano":1777888800012000000,
            "endTimeUnixNano":"1777888800047000000","status":{"code":"STATUS_CODE_ERROR"},
            "events":[{"name":"exception","time_unix_nano":"5"}],"flags":257,"unknown":[1,2]}]}]}]}"#;
        let req = decode_request(body).unwrap();
        let rs = &req.resource_spans[0];
        let attrs = &rs.resource.as_ref().unwrap().attributes;
        let values: Vec<_> = attrs
            .iter()
            .map(|kv| kv.value.clone().unwrap().value)
            .collect();
        assert_eq!(values[0], Some(AnyValueKind::StringValue("svc".into())));
        assert_eq!(values[1], Some(AnyValueKind::IntValue(7)));
        assert!(matches!(values[2], Some(AnyValueKind::DoubleValue(d)) if d.is_nan()));
        assert_eq!(values[3], Some(AnyValueKind::BoolValue(true)));
        assert_eq!(values[4], Some(AnyValueKind::BytesValue(vec![1, 2])));
        assert!(matches!(&values[5], Some(AnyValueKind::ArrayValue(a)) if a.values.len() == 1));
        assert!(
            matches!(&values[6], Some(AnyValueKind::KvlistValue(k)) if k.values[0].value == Some(AnyValue { value: None }))
        );
        assert_eq!(rs.scope_spans[0].scope, None);
        let span = &rs.scope_spans[0].spans[0];
        assert_eq!(span.trace_id[0], 0x4b);
        assert_eq!(span.span_id.len(), 8);
        assert_eq!(span.kind, SpanKind::Client as i32);
        assert_eq!(span.start_time_unix_nano, 1_777_888_800_012_000_000);
        assert_eq!(span.end_time_unix_nano, 1_777_888_800_047_000_000);
        assert_eq!(span.status.as_ref().unwrap().code, StatusCode::Error as i32);
        assert_eq!(span.events[0].time_unix_nano, 5);
        assert_eq!(span.flags, 257);
        // Enums as integers, unknown names as the default.
        let req = decode_request(br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":3,"status":{"code":"BOGUS"}}]}]}]}"#).unwrap();
        let span = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.kind, 3);
        assert_eq!(span.status.as_ref().unwrap().code, 0);
        assert_eq!(
            decode_request(b"{}").unwrap(),
            ExportTraceServiceRequest::default()
        );
        assert_eq!(
            decode_request(b"\xEF\xBB\xBF{}").unwrap(),
            ExportTraceServiceRequest::default()
        );
    }

    #[test]
    fn decode_rejects_undecodable_bodies_naming_the_member() {
        let err = |body: &str| decode_request(body.as_bytes()).unwrap_err().to_string();
        assert!(err("").starts_with("invalid JSON"));
        assert!(err("{} {}").starts_with("invalid JSON"));
        assert_eq!(err("[]"), "/: expected an object");
        assert_eq!(
            err(r#"{"resourceSpans":{}}"#),
            "/resourceSpans: expected an array"
        );
        let span = |member: &str| {
            err(&format!(
                r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{member}}}]}}]}}]}}"#
            ))
        };
        assert_eq!(
            span(r#""traceId":"zz""#),
            "/resourceSpans/0/scopeSpans/0/spans/0/traceId: expected a hex string"
        );
        assert!(span(r#""spanId":"abc""#).ends_with("spanId: expected a hex string"));
        assert!(span(r#""traceId":12"#).ends_with("traceId: expected a hex string"));
        assert!(
            span(r#""startTimeUnixNano":"-1""#).ends_with("expected an unsigned 64-bit integer")
        );
        assert!(
            span(r#""startTimeUnixNano":"1.5""#).ends_with("expected an unsigned 64-bit integer")
        );
        assert!(
            span(r#""startTimeUnixNano":1.5"#).ends_with("expected an unsigned 64-bit integer")
        );
        assert!(span(r#""flags":4294967296"#).ends_with("expected an unsigned 32-bit integer"));
        assert!(span(r#""name":5"#).ends_with("name: expected a string"));
        assert!(span(r#""kind":true"#).ends_with("kind: expected an enum value"));
        assert!(
            span(r#""attributes":[{"key":"k","value":{"intValue":"x"}}]"#)
                .ends_with("attributes/0/value/intValue: expected a 64-bit integer")
        );
        assert!(
            span(r#""attributes":[{"key":"k","value":{"boolValue":"true"}}]"#)
                .ends_with("expected a boolean")
        );
        assert!(
            span(r#""attributes":[{"key":"k","value":{"bytesValue":"!!"}}]"#)
                .ends_with("expected base64")
        );
    }

    #[test]
    fn encode_response_uses_string_int64_and_omits_defaults() {
        let empty = ExportTraceServiceResponse::default();
        assert_eq!(encode_response(&empty), b"{}");
        let partial = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 2,
                error_message: "unsupported_kind; future_timestamp".into(),
            }),
        };
        assert_eq!(
            String::from_utf8(encode_response(&partial)).unwrap(),
            r#"{"partialSuccess":{"errorMessage":"unsupported_kind; future_timestamp","rejectedSpans":"2"}}"#
        );
    }
}
