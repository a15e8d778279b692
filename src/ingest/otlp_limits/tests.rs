use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::json;

use super::*;

fn span(name: &str) -> Span {
    Span {
        name: name.into(),
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_100_000_000,
        attributes: vec![KeyValue {
            key: "http.route".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("/x".into())),
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// `shape[i][j]` spans in scope `j` of resource `i`.
fn request(shape: &[&[usize]]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: shape
            .iter()
            .map(|scopes| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![],
                    ..Default::default()
                }),
                scope_spans: scopes
                    .iter()
                    .map(|&n| ScopeSpans {
                        spans: (0..n).map(|i| span(&format!("s{i}"))).collect(),
                        schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
                        ..Default::default()
                    })
                    .collect(),
                schema_url: String::new(),
            })
            .collect(),
    }
}

#[test]
fn protobuf_count_matches_the_decoded_message() {
    for shape in [
        &[][..],
        &[&[][..]][..],
        &[&[0][..]][..],
        &[&[3][..], &[1, 0, 4][..]][..],
        &[&[10, 10][..], &[7][..], &[0][..]][..],
    ] {
        let req = request(shape);
        let body = req.encode_to_vec();
        let expected: usize = shape.iter().flat_map(|s| s.iter()).sum();
        assert_eq!(protobuf_spans(&body, usize::MAX), Ok(expected), "{shape:?}");
        let decoded = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        let spans: usize = decoded
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        assert_eq!(spans, expected);
    }
}

#[test]
fn protobuf_count_stops_past_the_limit() {
    let body = request(&[&[5, 5]]).encode_to_vec();
    assert_eq!(protobuf_spans(&body, 10), Ok(10));
    assert_eq!(protobuf_spans(&body, 9), Err(TooManySpans { limit: 9 }));
    // Millions of empty spans (2 bytes each on the wire) are refused without decoding.
    let mut scope = Vec::new();
    for _ in 0..1_000_000 {
        scope.extend_from_slice(&[0x12, 0x00]); // field 2 (spans), LEN 0
    }
    let mut rs = vec![0x12];
    push_varint(&mut rs, scope.len() as u64);
    rs.extend_from_slice(&scope);
    let mut body = vec![0x0a];
    push_varint(&mut body, rs.len() as u64);
    body.extend_from_slice(&rs);
    assert_eq!(
        protobuf_spans(&body, 50_000),
        Err(TooManySpans { limit: 50_000 })
    );
    assert_eq!(protobuf_spans(&body, usize::MAX), Ok(1_000_000));
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[test]
fn malformed_messages_end_the_count_without_error() {
    let body = request(&[&[3]]).encode_to_vec();
    for cut in 0..body.len() {
        // Never panics, never refuses: the decoder reports malformed input.
        let n = protobuf_spans(&body[..cut], 100).unwrap();
        assert!(n <= 3);
    }
    assert_eq!(protobuf_spans(&[0xff; 12], 1), Ok(0));
    assert_eq!(protobuf_spans(&[0x0b, 0x01], 1), Ok(0)); // wire type 3 (group)
    assert_eq!(
        protobuf_spans(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], 1),
        Ok(0)
    );
}

#[test]
fn json_count_follows_the_decoder_member_choice() {
    let v = json!({"resourceSpans": [
        {"scopeSpans": [{"spans": [{}, {}]}, {"spans": [{}]}]},
        {"scope_spans": [{"spans": [{}, {}, {}]}]},
        {"scopeSpans": null, "scope_spans": [{"spans": [{}]}]},
        {"scopeSpans": "wrong"}
    ]});
    assert_eq!(json_spans(&v, usize::MAX), Ok(7));
    assert_eq!(json_spans(&v, 6), Err(TooManySpans { limit: 6 }));
    // camelCase wins when both are present, like the decoder.
    let both = json!({"resourceSpans": [], "resource_spans": [{"scopeSpans": [{"spans": [{}]}]}]});
    assert_eq!(json_spans(&both, usize::MAX), Ok(0));
    assert_eq!(json_spans(&json!([1, 2]), 0), Ok(0));
}
