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

/// The differential property of the direct conversion: the event built from a span's facts
/// is what the exact validator makes of the same span as JSON (or it is left to it).
fn assert_direct_event_is_the_validated_json(resource: &Option<Resource>, span: &Span) {
    let Some(info) = ResourceInfo::of(resource.as_ref()) else {
        return;
    };
    let Ok(facts) = span_facts(&info, span, now()) else {
        return;
    };
    let validated = validate_item_owned(facts.json(), now());
    match facts.event() {
        Some(event) => assert_eq!(Ok(event), validated, "{span:?}"),
        None => assert!(validated.is_err(), "{span:?}"),
    }
}

/// Convert one span under the payment resource; it must become an event.
fn convert_one(span: Span) -> Event {
    assert_direct_event_is_the_validated_json(&payment_resource(), &span);
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
    // A non-ASCII peer (no char boundary where a scheme would end) is a name, not a panic.
    let d = client(vec![s("peer.service", "ödemeöö"), s("http.method", "GET")]);
    assert_eq!(d.unwrap()["service"], "ödemeöö");
    let d = client(vec![
        s("peer.service", "https://ödeme:443"),
        s("http.method", "GET"),
    ]);
    assert_eq!(d.unwrap()["service"], "ödeme");
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

#[test]
fn direct_conversion_matches_the_validated_json_on_random_spans() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(20);
    let pick = |rng: &mut StdRng, xs: &[&str]| xs[rng.random_range(0..xs.len())].to_owned();
    let mut events = 0;
    for _ in 0..5_000 {
        let mut attrs = Vec::new();
        let keys = [
            "http.request.method",
            "http.method",
            "http.route",
            "http.target",
            "http.url",
            "url.path",
            "rpc.system",
            "rpc.service",
            "rpc.method",
            "waylog.step",
            "waylog.error_code",
            "service.peer.name",
            "peer.service",
            "server.address",
        ];
        for _ in 0..rng.random_range(0..6) {
            let key = pick(&mut rng, &keys);
            let value = pick(
                &mut rng,
                &["", "GET", "/a?b#c", "http://pay:8080", "x/y", "é"],
            );
            attrs.push(s(&key, &value));
        }
        for key in [
            "http.response.status_code",
            "http.status_code",
            "rpc.grpc.status_code",
        ] {
            if rng.random_ratio(1, 3) {
                attrs.push(i(key, [0, 2, 200, 404, 503, 17][rng.random_range(0..6)]));
            }
        }
        if rng.random_ratio(1, 6) {
            attrs.push(kv("rpc.system", AnyValueKind::DoubleValue(f64::NAN)));
        }
        let mut sp = span(attrs);
        sp.kind = rng.random_range(0..6);
        if rng.random_ratio(1, 4) {
            sp.status = error_status(&pick(&mut rng, &["", "boom"]));
        }
        if rng.random_ratio(1, 5) {
            let message = pick(&mut rng, &["", "bad card"]);
            let kind = pick(&mut rng, &["", "CardError"]);
            sp.events = vec![exception(vec![
                s("exception.message", &message),
                s("exception.type", &kind),
            ])];
        }
        if rng.random_ratio(1, 8) {
            sp.end_time_unix_nano = u64::MAX;
        }
        if rng.random_ratio(1, 8) {
            sp.parent_span_id = Vec::new();
        }
        let resource = match rng.random_range(0..3) {
            0 => payment_resource(),
            1 => resource(vec![
                s("service.name", "api"),
                s("deployment.environment", ""),
            ]),
            _ => resource(vec![s("service.name", "api"), s("service.version", "")]),
        };
        assert_direct_event_is_the_validated_json(&resource, &sp);
        let c = convert_request(&request(resource, vec![sp]), now());
        events += c.events.len();
    }
    assert!(events > 1_000, "{events} spans converted");
}
