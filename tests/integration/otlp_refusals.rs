//! OTLP requests the real binary must refuse (spec events §4.2 over HTTP, §4.3 over gRPC):
//! each gets the specified status and error body, and stores nothing, which a count query
//! checks after every request. Each test ends with the same export done right, so the count
//! check is shown able to see a stored span.

use std::io::Cursor;

use bytes::{Buf, BufMut, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use prost::Message;
use serde_json::json;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

use crate::harness::*;

const KEY: &str = "otlp-refusal-key";
/// Small enough that an oversize body is cheap, large enough for [`valid_request`].
const MAX_BODY: usize = 4096;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.to_string())
}

/// Two services, three HTTP spans of one fresh trace, starting a second ago: all stored when
/// the request is accepted. `pad` bytes of attribute make it as large as a test needs.
fn request_with(pad: usize) -> ExportTraceServiceRequest {
    let trace_id = rand::random::<u128>().to_be_bytes().to_vec();
    let start = u64::try_from(now_ns() - SEC_NS).unwrap();
    let span = |id: u8, parent: Option<u8>, route: &str, code: i64| Span {
        trace_id: trace_id.clone(),
        span_id: vec![0xa0, 0, 0, 0, 0, 0, 0, id],
        parent_span_id: parent.map_or_else(Vec::new, |p| vec![0xa0, 0, 0, 0, 0, 0, 0, p]),
        name: format!("POST {route}"),
        kind: 2,
        start_time_unix_nano: start + u64::from(id) * 1_000_000,
        end_time_unix_nano: start + 20_000_000,
        attributes: vec![
            kv("http.request.method", s("POST")),
            kv("http.route", s(route)),
            kv(
                "http.response.status_code",
                any_value::Value::IntValue(code),
            ),
            kv("pad", s(&"x".repeat(pad))),
        ],
        status: Some(Status {
            code: if code >= 500 {
                status::StatusCode::Error as i32
            } else {
                status::StatusCode::Unset as i32
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let resource = |service: &str, spans: Vec<Span>| ResourceSpans {
        resource: Some(Resource {
            attributes: vec![
                kv("service.name", s(service)),
                kv("deployment.environment.name", s("prod")),
            ],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            resource(
                "checkout",
                vec![
                    span(1, None, "/checkout", 502),
                    span(2, Some(1), "/cart", 200),
                ],
            ),
            resource("payment", vec![span(3, Some(1), "/charge", 502)]),
        ],
    }
}

fn valid_request() -> ExportTraceServiceRequest {
    request_with(0)
}

/// A protobuf body cut short inside its last `resource_spans`: the first resource is intact,
/// yet the whole request must be refused.
fn truncated_protobuf() -> Vec<u8> {
    let full = valid_request().encode_to_vec();
    let cut = full[..full.len() - 7].to_vec();
    assert!(ExportTraceServiceRequest::decode(cut.as_slice()).is_err());
    cut
}

/// A gzip stream whose CRC and length trailer are wrong: valid until the very end.
fn corrupt_gzip(body: &[u8]) -> Vec<u8> {
    let mut gz = gzip(body);
    let n = gz.len();
    for b in &mut gz[n - 8..] {
        *b ^= 0xff;
    }
    gz
}

/// The §2.7 error object alone (OTLP exporters read the status, not an envelope).
fn assert_refused(r: &Resp, status: u16, code: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"), "{what}");
    let v = r.json();
    let obj = v.as_object().unwrap();
    assert_eq!(
        obj.keys().collect::<Vec<_>>(),
        ["error"],
        "{what}: only the error object: {v}"
    );
    assert_eq!(v["error"]["code"], code, "{what}: {v}");
    assert!(v["error"]["message"].is_string(), "{what}: {v}");
    assert!(v["error"]["detail"].is_string(), "{what}: {v}");
}

#[test]
fn otlp_http_refusals_answer_spec_errors_and_store_nothing() {
    let dir = TestDir::new();
    let max = MAX_BODY.to_string();
    let server = Server::start(
        &dir.data_dir(),
        &["--write-key", KEY, "--max-body-bytes", &max],
        &[],
    );
    let auth = format!("Bearer {KEY}");
    let protobuf = valid_request().encode_to_vec();
    assert!(protobuf.len() < MAX_BODY, "{}", protobuf.len());
    let fixture_json = r#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"checkout"}}]},"scopeSpans":[{"spans":[
        {"traceId":"5a7ca07b0eb80baa1556752b15915d83","spanId":"803504d7381251e3",
         "name":"POST /checkout","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"2",
         "attributes":[{"key":"http.route","value":{"stringValue":"/checkout"}}]}]}]}]}"#;

    let oversize = request_with(MAX_BODY).encode_to_vec();
    // Inflates past the limit from far less than the limit.
    let bomb = gzip(&request_with(4 * MAX_BODY).encode_to_vec());
    assert!(bomb.len() < MAX_BODY, "{}", bomb.len());

    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, String)>,
        Vec<u8>,
        u16,
        &'a str,
    );
    let pb = || ("Content-Type", "application/x-protobuf".to_string());
    let key = || ("Authorization", auth.clone());
    let cases: Vec<Case> = vec![
        (
            "no credential",
            "/v1/traces",
            vec![pb()],
            protobuf.clone(),
            401,
            "unauthorized",
        ),
        (
            "wrong key",
            "/v1/otlp/v1/traces",
            vec![pb(), ("Authorization", "Bearer nope".into())],
            protobuf.clone(),
            401,
            "unauthorized",
        ),
        (
            "wrong x-api-key",
            "/v1/traces",
            vec![pb(), ("X-API-Key", "nope".into())],
            protobuf.clone(),
            401,
            "unauthorized",
        ),
        (
            "missing content type",
            "/v1/traces",
            vec![key()],
            protobuf.clone(),
            415,
            "unsupported_content_type",
        ),
        (
            "text/plain",
            "/v1/traces",
            vec![key(), ("Content-Type", "text/plain".into())],
            protobuf.clone(),
            415,
            "unsupported_content_type",
        ),
        (
            "the /v1/events NDJSON type",
            "/v1/otlp/v1/traces",
            vec![key(), ("Content-Type", "application/x-ndjson".into())],
            protobuf.clone(),
            415,
            "unsupported_content_type",
        ),
        (
            "zstd (accepted by /v1/events, not by OTLP)",
            "/v1/traces",
            vec![key(), pb(), ("Content-Encoding", "zstd".into())],
            zstd(&protobuf),
            400,
            "unsupported_content_encoding",
        ),
        (
            "deflate",
            "/v1/traces",
            vec![key(), pb(), ("Content-Encoding", "deflate".into())],
            protobuf.clone(),
            400,
            "unsupported_content_encoding",
        ),
        (
            "truncated protobuf",
            "/v1/traces",
            vec![key(), pb()],
            truncated_protobuf(),
            400,
            "invalid_body",
        ),
        (
            "garbage protobuf",
            "/v1/otlp/v1/traces",
            vec![key(), pb()],
            b"\xff\xff\xff\xff".to_vec(),
            400,
            "invalid_body",
        ),
        (
            "protobuf sent as JSON",
            "/v1/traces",
            vec![key(), ("Content-Type", "application/json".into())],
            protobuf.clone(),
            400,
            "invalid_body",
        ),
        (
            "truncated OTLP/JSON",
            "/v1/traces",
            vec![key(), ("Content-Type", "application/json".into())],
            fixture_json.as_bytes()[..fixture_json.len() - 10].to_vec(),
            400,
            "invalid_body",
        ),
        (
            "OTLP/JSON with a wrongly typed member",
            "/v1/traces",
            vec![key(), ("Content-Type", "application/json".into())],
            fixture_json
                .replace(r#""startTimeUnixNano":"1""#, r#""startTimeUnixNano":{}"#)
                .into_bytes(),
            400,
            "invalid_body",
        ),
        (
            "corrupt gzip",
            "/v1/traces",
            vec![key(), pb(), ("Content-Encoding", "gzip".into())],
            corrupt_gzip(&protobuf),
            400,
            "invalid_body",
        ),
        (
            "gzip header on a plain body",
            "/v1/otlp/v1/traces",
            vec![key(), pb(), ("Content-Encoding", "GZIP".into())],
            protobuf.clone(),
            400,
            "invalid_body",
        ),
        (
            "raw body over the limit",
            "/v1/traces",
            vec![key(), pb()],
            oversize.clone(),
            413,
            "body_oversize",
        ),
        (
            "decompressed body over the limit",
            "/v1/traces",
            vec![key(), pb(), ("Content-Encoding", "gzip".into())],
            bomb,
            413,
            "body_oversize",
        ),
    ];
    for (what, path, headers, body, status, code) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = server.request("POST", path, &headers, Some(body));
        assert_refused(&r, *status, code, what);
        assert_eq!(server.count(), 0, "{what} stored something");
    }

    // 401 names the write scope; 405 (after the credential check) names the one method.
    let r = server.request("POST", "/v1/traces", &[pb_header()], Some(&protobuf));
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="waylog", scope="write""#)
    );
    let r = server.request(
        "PUT",
        "/v1/otlp/v1/traces",
        &[pb_header(), ("Authorization", &auth)],
        Some(&protobuf),
    );
    assert_refused(&r, 405, "method_not_allowed", "PUT");
    assert_eq!(r.header("allow"), Some("POST"));
    let r = server.request("GET", "/v1/traces", &[("Authorization", &auth)], None);
    assert_refused(&r, 405, "method_not_allowed", "GET /v1/traces");

    // Over the limit without a Content-Length (chunked): caught while reading.
    let r = try_post_chunked(
        &format!("{}/v1/traces", server.url),
        &[pb_header(), ("Authorization", &auth)],
        oversize,
    );
    assert_refused(&r, 413, "body_oversize", "chunked raw body over the limit");

    // Spans the mapping drops are not stored either; the 200 says so in OTLP/JSON.
    let drops = format!(
        r#"{{"resourceSpans":[{{"resource":{{}},"scopeSpans":[{{"spans":[{{"traceId":"{t}",
        "spanId":"1111111111111111","name":"GET /x","startTimeUnixNano":"{ts}",
        "attributes":[{{"key":"http.route","value":{{"stringValue":"/x"}}}}]}}]}}]}},
        {{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"db"}}}}]}},
        "scopeSpans":[{{"spans":[{{"traceId":"{t}","spanId":"2222222222222222",
        "name":"SELECT orders","startTimeUnixNano":"{ts}"}}]}}]}}]}}"#,
        t = trace_id(),
        ts = now_ns() - SEC_NS
    );
    let r = server.request(
        "POST",
        "/v1/traces",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &auth),
        ],
        Some(drops.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"partialSuccess": {"rejectedSpans": "2", "errorMessage":
            "missing_service (span: GET /x); unsupported_kind (span: SELECT orders)"}})
    );
    assert_eq!(server.count(), 0, "dropped spans stored something");

    // The same export, done right, is stored: the checks above could have seen a write.
    let r = server.request(
        "POST",
        "/v1/traces",
        &[pb_header(), ("Authorization", &auth)],
        Some(&protobuf),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    let resp = ExportTraceServiceResponse::decode(Cursor::new(r.body.as_bytes())).unwrap();
    assert_eq!(resp.partial_success, None);
    assert_eq!(server.count(), 3);
    server.stop_graceful();
}

fn pb_header() -> (&'static str, &'static str) {
    ("Content-Type", "application/x-protobuf")
}

/// `POST` with a body of unknown length (`Transfer-Encoding: chunked`).
fn try_post_chunked(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Resp {
    let mut req = agent().post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    read_resp(req.send(ureq::SendBody::from_owned_reader(Cursor::new(body)))).unwrap()
}

// ---------------------------------------------------------------------------------------------
// gRPC

/// Sends arbitrary bytes as the `Export` request message.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, tonic::Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        ExportTraceServiceResponse::decode(bytes)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

async fn export_raw(channel: Channel, body: Vec<u8>, key: &str) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut req = tonic::Request::new(Bytes::from(body));
    req.metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    grpc.unary(
        req,
        tonic::codegen::http::uri::PathAndQuery::from_static(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        ),
        RawCodec,
    )
    .await
    .expect_err("a refused export")
}

fn with_metadata<T>(message: T, key: &'static str, value: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut().insert(key, value.parse().unwrap());
    req
}

/// The count query runs on the HTTP client of the harness, which blocks: off the runtime.
async fn count(server: &Server) -> i64 {
    tokio::task::block_in_place(|| server.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_grpc_refusals_answer_spec_statuses_and_store_nothing() {
    let dir = TestDir::new();
    let max = MAX_BODY.to_string();
    let server = tokio::task::block_in_place(|| {
        Server::start(
            &dir.data_dir(),
            &["--write-key", KEY, "--max-body-bytes", &max],
            &[],
        )
    });
    let channel = Channel::from_shared(server.grpc_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = TraceServiceClient::new(channel.clone());

    let status = client.export(valid_request()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "no key: {status:?}");
    assert_eq!(status.message(), "unauthorized");
    assert_eq!(count(&server).await, 0);
    let status = client
        .export(with_metadata(
            valid_request(),
            "authorization",
            "Bearer nope",
        ))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::Unauthenticated,
        "wrong key: {status:?}"
    );
    let status = client
        .export(with_metadata(valid_request(), "x-api-key", "nope"))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::Unauthenticated,
        "wrong key: {status:?}"
    );
    assert_eq!(count(&server).await, 0);

    let status = export_raw(channel.clone(), b"\xff\xff\xff\xff".to_vec(), KEY).await;
    assert_eq!(status.code(), Code::InvalidArgument, "garbage: {status:?}");
    assert_eq!(count(&server).await, 0);
    let status = export_raw(channel.clone(), truncated_protobuf(), KEY).await;
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "truncated: {status:?}"
    );
    assert_eq!(count(&server).await, 0);

    // Over WAYLOG_MAX_BODY_BYTES: RESOURCE_EXHAUSTED without a retry hint (a retry would fail
    // the same way).
    let status = client
        .export(with_metadata(
            request_with(MAX_BODY),
            "authorization",
            &format!("Bearer {KEY}"),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::ResourceExhausted,
        "oversize: {status:?}"
    );
    assert!(status.details().is_empty(), "{status:?}");
    assert_eq!(count(&server).await, 0);

    let resp = client
        .export(with_metadata(
            valid_request(),
            "authorization",
            &format!("bearer {KEY}"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.partial_success, None);
    assert_eq!(count(&server).await, 3);
    tokio::task::block_in_place(|| server.stop_graceful());
}

/// An export of more spans than `WAYLOG_OTLP_MAX_SPANS` is refused before it is decoded
/// (`413 batch_oversize`), however small its body: a gzip'd protobuf of a million empty spans
/// (2 bytes each) would otherwise decode to ~250 MB of span structs.
#[test]
fn otlp_http_span_count_guard_refuses_before_decoding() {
    let dir = TestDir::new();
    let server = Server::start(
        &dir.data_dir(),
        &["--write-key", KEY],
        &[("WAYLOG_OTLP_MAX_SPANS", "3")],
    );
    let auth = ("Authorization", format!("Bearer {KEY}"));
    let post = |ctype: &str, encoding: Option<&str>, body: Vec<u8>| {
        let mut headers = vec![("Content-Type", ctype.to_string()), auth.clone()];
        if let Some(e) = encoding {
            headers.push(("Content-Encoding", e.to_string()));
        }
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        server.request("POST", "/v1/traces", &h, Some(&body))
    };
    let mut four = valid_request();
    let spans = &mut four.resource_spans[0].scope_spans[0].spans;
    let mut extra = spans[0].clone();
    extra.span_id = vec![0xb0, 0, 0, 0, 0, 0, 0, 9];
    spans.push(extra);
    let r = post("application/x-protobuf", None, four.encode_to_vec());
    assert_refused(&r, 413, "batch_oversize", "four spans");
    assert_eq!(
        r.json()["error"]["detail"],
        "more than 3 spans (WAYLOG_OTLP_MAX_SPANS)"
    );

    let span = json!({"traceId": "5a7ca07b0eb80baa1556752b15915d83", "spanId": "803504d7381251e3",
                      "name": "GET /", "startTimeUnixNano": "1", "endTimeUnixNano": "2"});
    let json_body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [span, span]}, {"spans": [span, span]}]}]});
    let r = post("application/json", None, json_body.to_string().into_bytes());
    assert_refused(&r, 413, "batch_oversize", "four JSON spans in two scopes");

    let mut scope = Vec::with_capacity(2_000_000);
    for _ in 0..1_000_000 {
        scope.extend_from_slice(&[0x12, 0x00]);
    }
    let wrap = |field: u8, inner: Vec<u8>| {
        let mut out = vec![field];
        let mut n = inner.len() as u64;
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend_from_slice(&inner);
        out
    };
    let bomb = gzip(&wrap(0x0a, wrap(0x12, scope)));
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let r = post("application/x-protobuf", Some("gzip"), bomb);
    assert_refused(&r, 413, "batch_oversize", "a million empty spans");
    assert_eq!(server.count(), 0);

    // At the limit: stored.
    let r = post(
        "application/x-protobuf",
        None,
        valid_request().encode_to_vec(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(server.count(), 3);
}
