use super::*;
use crate::ingest::otlp::convert_request;
use crate::rfc3339::parse_rfc3339_ns;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
use prost::Message;

/// The OTLP/JSON fixture in the repository (`tests/fixtures/otlp`).
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/otlp/trace-request.json"
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
    let req = decode_request(
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":3,"status":{"code":"BOGUS"}}]}]}]}"#,
    )
    .unwrap();
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
    assert!(span(r#""startTimeUnixNano":"-1""#).ends_with("expected an unsigned 64-bit integer"));
    assert!(span(r#""startTimeUnixNano":"1.5""#).ends_with("expected an unsigned 64-bit integer"));
    assert!(span(r#""startTimeUnixNano":1.5"#).ends_with("expected an unsigned 64-bit integer"));
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
