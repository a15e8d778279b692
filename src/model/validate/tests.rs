use super::*;
use serde_json::json;

/// Spec events §1.9, verbatim.
const EXAMPLE: &str = r#"{"schema_version":"2.0","event_id":"3f6c1e0a-8d2b-4c71-9e55-0b7a2d4c9e13","ts_start":"2026-05-04T10:00:00Z",
 "ts_end":"2026-05-04T10:00:00.062Z","duration_ms":62,"kind":"http","service":"checkout","env":"prod",
 "version":"2026.05.04-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"a1b2c3d4e5f60718",
 "parent_span_id":"","status":"error","anchor":{"step":"payment.charge","error_code":"PMT_502","kind":"downstream"},
 "steps":[{"name":"cart.load","start_ms":0,"duration_ms":6,"status":"ok"},
   {"name":"payment.charge","span_id":"53995c3f42cd8ad8","start_ms":9,"duration_ms":40,"status":"error",
    "downstream":{"service":"payment","endpoint":"/charge","kind":"http"},
    "error":{"code":"PMT_502","reason":"acquirer returned 502"}}],
 "logs":[{"ts_offset_ms":50,"level":"warn","msg":"payment failed, not retrying","fields":{"attempt":1}}],
 "fields":{"http":{"method":"POST","route":"/checkout","status":502},
           "user":{"id":"u-8812","region":"eu-west-1","tier":"gold"}},
 "errors":[{"code":"PMT_502","reason":"acquirer returned 502"}]}"#;

/// §1.9 in the normalized form of §1.8.
pub(crate) const EXAMPLE_NORMALIZED: &str = concat!(
    r#"{"schema_version":"2.0","event_id":"3f6c1e0a-8d2b-4c71-9e55-0b7a2d4c9e13","#,
    r#""ts_start":"2026-05-04T10:00:00Z","ts_end":"2026-05-04T10:00:00.062Z","duration_ms":62,"#,
    r#""kind":"http","service":"checkout","env":"prod","version":"2026.05.04-1","#,
    r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"a1b2c3d4e5f60718","#,
    r#""parent_span_id":"","status":"error","#,
    r#""anchor":{"step":"payment.charge","error_code":"PMT_502","kind":"downstream"},"#,
    r#""steps":[{"name":"cart.load","start_ms":0,"duration_ms":6,"status":"ok"},"#,
    r#"{"name":"payment.charge","span_id":"53995c3f42cd8ad8","start_ms":9,"duration_ms":40,"#,
    r#""status":"error","downstream":{"service":"payment","endpoint":"/charge","kind":"http"},"#,
    r#""error":{"code":"PMT_502","reason":"acquirer returned 502"}}],"#,
    r#""logs":[{"ts_offset_ms":50,"level":"warn","msg":"payment failed, not retrying","#,
    r#""fields":{"attempt":1}}],"#,
    r#""fields":{"http":{"method":"POST","route":"/checkout","status":502},"#,
    r#""user":{"id":"u-8812","region":"eu-west-1","tier":"gold"}},"#,
    r#""errors":[{"code":"PMT_502","reason":"acquirer returned 502"}]}"#,
);

/// The converted OTLP event of §4.5, already normalized.
const OTLP_EXAMPLE_NORMALIZED: &str = concat!(
    r#"{"schema_version":"2.0","event_id":"84e30b51-2cfe-5569-bd30-9bc7b58b40b8","#,
    r#""ts_start":"2026-05-04T10:00:00.012Z","ts_end":"2026-05-04T10:00:00.047Z","#,
    r#""duration_ms":35,"kind":"http","service":"payment","env":"prod","version":"1.4.2","#,
    r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","#,
    r#""parent_span_id":"53995c3f42cd8ad8","status":"error","#,
    r#""anchor":{"step":"/charge","error_code":"PMT_502","kind":"otlp"},"#,
    r#""steps":[{"name":"/charge","span_id":"00f067aa0ba902b7","start_ms":0,"duration_ms":35,"#,
    r#""status":"error","error":{"code":"PMT_502","reason":"acquirer returned 502","cause":"otlp"}}],"#,
    r#""logs":[{"ts_offset_ms":0,"level":"error","msg":"acquirer returned 502","#,
    r#""fields":{"error_code":"PMT_502"}}],"#,
    r#""fields":{"http":{"method":"POST","route":"/charge","status":502},"#,
    r#""otel":{"span_kind":"SPAN_KIND_SERVER","span_name":"POST /charge"}},"#,
    r#""errors":[{"code":"PMT_502","reason":"acquirer returned 502"}]}"#,
);

const EXAMPLE_EVENT_ID: &str = "3f6c1e0a-8d2b-4c71-9e55-0b7a2d4c9e13";

fn ns(s: &str) -> i64 {
    parse_rfc3339_ns(s).unwrap()
}

/// Server "now" for the tests: the example's `ts_start`.
fn now() -> i64 {
    ns("2026-05-04T10:00:00Z")
}

fn example() -> Value {
    serde_json::from_str(EXAMPLE).unwrap()
}

/// The example with member `key` of the object at `parent` set to `value`.
fn with(parent: &str, key: &str, value: Value) -> Value {
    let mut v = example();
    v.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert(key.to_owned(), value);
    v
}

/// The example with member `key` of the object at `parent` removed.
fn without(parent: &str, key: &str) -> Value {
    let mut v = example();
    let removed = v
        .pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key);
    assert!(removed.is_some(), "{parent}/{key} not in the example");
    v
}

/// The example text with `from` (which must occur) replaced once by `to`.
fn example_text_with(from: &str, to: &str) -> Value {
    assert!(EXAMPLE.contains(from), "{from} not in the example");
    serde_json::from_str(&EXAMPLE.replacen(from, to, 1)).unwrap()
}

fn accept(v: &Value) -> Event {
    match validate_item(v, now()) {
        Ok(event) => event,
        Err(reject) => panic!("rejected: {reject:?}"),
    }
}

fn reject_of(v: &Value) -> ItemReject {
    match validate_item(v, now()) {
        Ok(event) => panic!("accepted: {event:?}"),
        Err(reject) => reject,
    }
}

/// Asserts a schema failure whose detail names `pointer` first.
fn assert_schema_fail(v: &Value, pointer: &str) -> ItemReject {
    let reject = reject_of(v);
    assert_eq!(
        reject.reason,
        RejectReason::SchemaValidationFailed,
        "{reject:?}"
    );
    assert!(
        reject.detail.starts_with(&format!("{pointer}: ")),
        "detail {:?} does not start with pointer {pointer:?}",
        reject.detail
    );
    reject
}

fn to_json(event: &Event) -> String {
    serde_json::to_string(event).unwrap()
}

// --- RejectReason -----------------------------------------------------------------------

#[test]
fn validate_item_owned_agrees_with_borrowed_path() {
    let mut cases = vec![example()];
    cases.push(with("", "fields", json!({})));
    cases.push(with("", "fields", json!([1])));
    cases.push(with("", "fields", Value::Null));
    cases.push(without("", "fields"));
    cases.push(with("", "errors", json!("x")));
    cases.push(with("", "kind", json!("grpc")));
    for v in cases {
        assert_eq!(
            validate_item_owned(v.clone(), now()),
            validate_item(&v, now()),
            "{v}"
        );
    }
}

#[test]
fn reject_reason_as_str_matches_wire_names() {
    assert_eq!(RejectReason::InvalidJson.as_str(), "invalid_json");
    assert_eq!(
        RejectReason::SchemaValidationFailed.as_str(),
        "schema_validation_failed"
    );
    assert_eq!(
        RejectReason::BridgeNotImplemented.as_str(),
        "bridge_not_implemented"
    );
    assert_eq!(RejectReason::FutureTimestamp.as_str(), "future_timestamp");
}

// --- §1.9 example and normalized form ----------------------------------------------------

#[test]
fn validate_accepts_spec_example() {
    let event = accept(&example());
    assert_eq!(event.event_id, EXAMPLE_EVENT_ID);
    assert_eq!(event.ts_start_ns, 1_777_888_800_000_000_000);
    assert_eq!(event.ts_end_ns, 1_777_888_800_062_000_000);
    assert_eq!(event.duration_ms, 62);
    assert_eq!(event.kind, "http");
    assert_eq!(event.version.as_deref(), Some("2026.05.04-1"));
    assert_eq!(event.span_id, "a1b2c3d4e5f60718");
    assert_eq!(event.parent_span_id, "");
    assert_eq!(
        event.anchor,
        Some(Anchor {
            step: "payment.charge".into(),
            error_code: "PMT_502".into(),
            kind: Some("downstream".into()),
        })
    );
    assert_eq!(event.steps.len(), 2);
    assert_eq!(event.steps[0].span_id, None);
    assert_eq!(event.steps[0].downstream, None);
    assert_eq!(event.steps[1].span_id.as_deref(), Some("53995c3f42cd8ad8"));
    assert_eq!(
        event.steps[1].downstream,
        Some(Downstream {
            service: Some("payment".into()),
            endpoint: Some("/charge".into()),
            kind: Some("http".into()),
        })
    );
    assert_eq!(
        event.steps[1].error,
        Some(StepError {
            code: Some("PMT_502".into()),
            reason: Some("acquirer returned 502".into()),
            cause: None,
        })
    );
    assert_eq!(
        event.logs[0].fields,
        Some(json!({"attempt": 1}).as_object().cloned().unwrap())
    );
    assert_eq!(event.fields.as_ref().unwrap()["http"]["status"], json!(502));
    assert_eq!(
        event.errors,
        vec![ErrorRef {
            code: "PMT_502".into(),
            reason: Some("acquirer returned 502".into()),
        }]
    );
}

#[test]
fn serialize_writes_normalized_form_for_spec_example() {
    assert_eq!(to_json(&accept(&example())), EXAMPLE_NORMALIZED);
}

#[test]
fn serialize_round_trips_otlp_example_unchanged() {
    let v: Value = serde_json::from_str(OTLP_EXAMPLE_NORMALIZED).unwrap();
    assert_eq!(to_json(&accept(&v)), OTLP_EXAMPLE_NORMALIZED);
}

#[test]
fn serialize_output_revalidates_to_equal_event() {
    let event = accept(&example());
    let again: Value = serde_json::from_str(&to_json(&event)).unwrap();
    assert_eq!(accept(&again), event);
}

#[test]
fn normalize_reorders_drops_empties_and_converts_to_utc() {
    let messy = r#"{"unknown":{"deep":1},"errors":[],
            "fields":{"z":{"b":1,"a":[{"d":1,"c":2}]},"a":18446744073709551616,"m":-5,"n":1.50},
            "logs":[{"msg":"","level":"info","ts_offset_ms":0,"fields":{},"x":1}],
            "steps":[{"status":"ok","duration_ms":1,"start_ms":0,"name":"a","span_id":"",
                      "error":{"code":"","reason":"","cause":""},"extra":true},
                     {"name":"b","span_id":"0123456789abcdef","start_ms":2,"duration_ms":3,"status":"error",
                      "downstream":{"service":"pay","endpoint":"","kind":"","x":"y"},
                      "error":{"code":"","cause":"boom"}}],
            "status":"ok","anchor":{"error_code":"E1","step":"s","kind":"","x":0},
            "version":"","env":"e","service":"s","kind":"rpc",
            "ts_end":"2026-05-04T12:00:00.100000000+02:00","ts_start":"2026-05-04T05:30:00.000000000-04:30",
            "event_id":"id-1","schema_version":"2.0","trace_id":"0123456789abcdef0123456789abcdef"}"#;
    let expected = concat!(
        r#"{"schema_version":"2.0","event_id":"id-1","ts_start":"2026-05-04T10:00:00Z","#,
        r#""ts_end":"2026-05-04T10:00:00.1Z","duration_ms":0,"kind":"rpc","service":"s","env":"e","#,
        r#""trace_id":"0123456789abcdef0123456789abcdef","span_id":"","parent_span_id":"","#,
        r#""status":"ok","anchor":{"step":"s","error_code":"E1"},"#,
        r#""steps":[{"name":"a","start_ms":0,"duration_ms":1,"status":"ok"},"#,
        r#"{"name":"b","span_id":"0123456789abcdef","start_ms":2,"duration_ms":3,"status":"error","#,
        r#""downstream":{"service":"pay"},"error":{"cause":"boom"}}],"#,
        r#""logs":[{"ts_offset_ms":0,"level":"info","msg":""}],"#,
        r#""fields":{"a":1.8446744073709552e+19,"m":-5,"n":1.5,"z":{"a":[{"c":2,"d":1}],"b":1}}}"#,
    );
    let event = accept(&serde_json::from_str(messy).unwrap());
    assert_eq!(event.version, None);
    assert_eq!(event.steps[0].span_id, None);
    assert_eq!(event.steps[0].error, None);
    assert_eq!(event.logs[0].fields, None);
    assert!(event.errors.is_empty());
    let json = to_json(&event);
    assert_eq!(json, expected);
    // Idempotent: the normalized form normalizes to itself.
    let again = accept(&serde_json::from_str(&json).unwrap());
    assert_eq!(again, event);
    assert_eq!(to_json(&again), expected);
}

#[test]
fn normalize_omits_downstream_when_all_members_empty() {
    let v = with(
        "/steps/1",
        "downstream",
        json!({"service": "", "endpoint": "", "kind": ""}),
    );
    let event = accept(&v);
    assert_eq!(event.steps[1].downstream, None);
    assert!(!to_json(&event).contains("\"downstream\":"));
}

#[test]
fn normalize_omits_empty_arrays_and_fields() {
    let mut v = example();
    let obj = v.as_object_mut().unwrap();
    obj.insert("steps".into(), json!([]));
    obj.insert("logs".into(), json!([]));
    obj.insert("errors".into(), json!([]));
    obj.insert("fields".into(), json!({}));
    let event = accept(&v);
    assert!(event.steps.is_empty() && event.logs.is_empty() && event.errors.is_empty());
    assert_eq!(event.fields, None);
    let json = to_json(&event);
    for member in ["\"steps\"", "\"logs\"", "\"errors\"", "\"fields\""] {
        assert!(!json.contains(member), "{member} in {json}");
    }
}

#[test]
fn normalize_drops_empty_error_ref_reason_and_anchor_kind() {
    let mut v = with("/errors/0", "reason", json!(""));
    v["anchor"]["kind"] = json!("");
    let event = accept(&v);
    assert_eq!(event.errors[0].reason, None);
    assert_eq!(event.anchor.as_ref().unwrap().kind, None);
    let json = to_json(&event);
    assert!(json.contains(r#""anchor":{"step":"payment.charge","error_code":"PMT_502"}"#));
    assert!(json.contains(r#""errors":[{"code":"PMT_502"}]"#));
}

#[test]
fn serialize_skips_empty_optionals_in_hand_built_event() {
    let event = Event {
        schema_version: SchemaVersion::V2,
        event_id: "e".into(),
        ts_start_ns: 0,
        ts_end_ns: -1,
        duration_ms: 0,
        kind: EventKind::Http,
        service: "s".into(),
        env: "p".into(),
        version: Some(String::new()),
        trace_id: "0123456789abcdef0123456789abcdef".into(),
        span_id: String::new(),
        parent_span_id: String::new(),
        status: EventStatus::Ok,
        anchor: None,
        steps: vec![Step {
            name: "n".into(),
            span_id: Some(String::new()),
            start_ms: 0,
            duration_ms: 0,
            status: StepStatus::Ok,
            downstream: Some(Downstream::default()),
            error: Some(StepError {
                code: Some(String::new()),
                ..StepError::default()
            }),
        }],
        logs: vec![],
        fields: Some(Map::new()),
        errors: vec![],
    };
    assert_eq!(
        to_json(&event),
        concat!(
            r#"{"schema_version":"2.0","event_id":"e","ts_start":"1970-01-01T00:00:00Z","#,
            r#""ts_end":"1969-12-31T23:59:59.999999999Z","duration_ms":0,"kind":"http","#,
            r#""service":"s","env":"p","trace_id":"0123456789abcdef0123456789abcdef","#,
            r#""span_id":"","parent_span_id":"","status":"ok","#,
            r#""steps":[{"name":"n","start_ms":0,"duration_ms":0,"status":"ok"}]}"#
        )
    );
}

// --- §1.10 invalid examples --------------------------------------------------------------

#[test]
fn validate_rejects_bridge_when_schema_version_1_1() {
    let reject = reject_of(&with("", "schema_version", json!("1.1")));
    assert_eq!(reject.reason, RejectReason::BridgeNotImplemented);
    assert!(reject.detail.starts_with("/schema_version: "));
    assert_eq!(reject.event_id.as_deref(), Some(EXAMPLE_EVENT_ID));
}

#[test]
fn validate_rejects_schema_when_schema_version_2_1() {
    let reject = assert_schema_fail(&with("", "schema_version", json!("2.1")), "/schema_version");
    assert_eq!(reject.event_id.as_deref(), Some(EXAMPLE_EVENT_ID));
}

#[test]
fn validate_rejects_schema_when_schema_version_is_number() {
    let v = example_text_with(r#""schema_version":"2.0""#, r#""schema_version":2.0"#);
    assert_schema_fail(&v, "/schema_version");
}

#[test]
fn validate_rejects_schema_when_event_id_empty() {
    let reject = assert_schema_fail(&with("", "event_id", json!("")), "/event_id");
    assert_eq!(reject.event_id, None);
}

#[test]
fn validate_rejects_anchor_rule_when_anchor_removed() {
    let reject = reject_of(&without("", "anchor"));
    assert_eq!(reject.reason, RejectReason::SchemaValidationFailed);
    assert_eq!(reject.detail, r#"/anchor: required when status is "error""#);
    assert_eq!(reject.event_id.as_deref(), Some(EXAMPLE_EVENT_ID));
}

#[test]
fn validate_rejects_anchor_rule_when_error_code_empty() {
    assert_schema_fail(
        &with("/anchor", "error_code", json!("")),
        "/anchor/error_code",
    );
}

#[test]
fn validate_rejects_schema_when_trace_id_upper_case() {
    let reject = reject_of(&with(
        "",
        "trace_id",
        json!("4BF92F3577B34DA6A3CE929D0E0E4736"),
    ));
    assert_eq!(reject.reason, RejectReason::SchemaValidationFailed);
    assert_eq!(reject.detail, "/trace_id: must match ^[0-9a-f]{32}$");
}

#[test]
fn validate_rejects_schema_when_ts_start_space_separated() {
    assert_schema_fail(
        &with("", "ts_start", json!("2026-05-04 10:00:00")),
        "/ts_start",
    );
}

#[test]
fn validate_rejects_future_when_ts_start_ten_minutes_ahead() {
    let reject = reject_of(&with("", "ts_start", json!("2026-05-04T10:10:00Z")));
    assert_eq!(reject.reason, RejectReason::FutureTimestamp);
    assert!(
        reject.detail.starts_with("/ts_start: "),
        "{}",
        reject.detail
    );
    assert_eq!(reject.event_id.as_deref(), Some(EXAMPLE_EVENT_ID));
}

#[test]
fn validate_rejects_step_span_id_when_downstream_present_and_span_id_removed() {
    let reject = reject_of(&without("/steps/1", "span_id"));
    assert_eq!(reject.reason, RejectReason::SchemaValidationFailed);
    assert_eq!(
        reject.detail,
        "/steps/1/span_id: required when downstream is present"
    );
}

#[test]
fn validate_rejects_duration_ms_when_string() {
    assert_schema_fail(&with("", "duration_ms", json!("62")), "/duration_ms");
}

#[test]
fn validate_rejects_duration_ms_when_fractional() {
    let v = example_text_with(r#""duration_ms":62,"#, r#""duration_ms":62.5,"#);
    assert_schema_fail(&v, "/duration_ms");
}

#[test]
fn validate_rejects_kind_when_grpc() {
    assert_schema_fail(&with("", "kind", json!("grpc")), "/kind");
}

#[test]
fn validate_rejects_log_level_when_debug() {
    assert_schema_fail(&with("/logs/0", "level", json!("debug")), "/logs/0/level");
}

// --- §1.1 top-level members --------------------------------------------------------------

#[test]
fn validate_rejects_root_when_not_an_object() {
    for v in [json!([]), json!("x"), json!(1), json!(null), json!(true)] {
        let reject = reject_of(&v);
        assert_eq!(reject.reason, RejectReason::SchemaValidationFailed);
        assert_eq!(reject.detail, ": not an object");
        assert_eq!(reject.event_id, None);
    }
}

#[test]
fn validate_reports_required_for_each_missing_required_member() {
    for key in [
        "schema_version",
        "event_id",
        "ts_start",
        "ts_end",
        "kind",
        "service",
        "env",
        "trace_id",
        "status",
    ] {
        let reject = reject_of(&without("", key));
        assert_eq!(reject.reason, RejectReason::SchemaValidationFailed, "{key}");
        assert_eq!(reject.detail, format!("/{key}: required"));
    }
}

#[test]
fn validate_accepts_only_required_members_when_suppressed() {
    let v = json!({
        "schema_version": "2.0", "event_id": "e1", "ts_start": "2026-05-04T10:00:00Z",
        "ts_end": "2026-05-04T10:00:01Z", "kind": "http", "service": "s", "env": "prod",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "status": "suppressed"
    });
    let event = accept(&v);
    assert_eq!(event.duration_ms, 0);
    assert_eq!(event.span_id, "");
    assert_eq!(event.parent_span_id, "");
    assert_eq!(
        to_json(&event),
        concat!(
            r#"{"schema_version":"2.0","event_id":"e1","ts_start":"2026-05-04T10:00:00Z","#,
            r#""ts_end":"2026-05-04T10:00:01Z","duration_ms":0,"kind":"http","service":"s","#,
            r#""env":"prod","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"","#,
            r#""parent_span_id":"","status":"suppressed"}"#
        )
    );
}

#[test]
fn validate_rejects_bridge_for_any_1_x_even_when_otherwise_invalid() {
    for version in ["1.0", "1.", "1.9.3"] {
        let reject = reject_of(&json!({"schema_version": version, "event_id": "x"}));
        assert_eq!(
            reject.reason,
            RejectReason::BridgeNotImplemented,
            "{version}"
        );
        assert_eq!(reject.event_id.as_deref(), Some("x"));
    }
}

#[test]
fn validate_rejects_schema_when_schema_version_other_than_2_0() {
    for version in [
        json!("1"),
        json!("2"),
        json!("2.0 "),
        json!(" 1.1"),
        json!(1.1),
    ] {
        assert_schema_fail(&with("", "schema_version", version), "/schema_version");
    }
}

#[test]
fn validate_accepts_event_id_in_any_format() {
    assert_eq!(
        accept(&with("", "event_id", json!("not-a-uuid"))).event_id,
        "not-a-uuid"
    );
}

#[test]
fn validate_rejects_event_id_when_not_string() {
    let reject = assert_schema_fail(&with("", "event_id", json!(42)), "/event_id");
    assert_eq!(reject.event_id, None);
}

#[test]
fn validate_rejects_ts_end_when_invalid() {
    assert_schema_fail(&with("", "ts_end", json!("2026-05-04T10:00:00")), "/ts_end");
}

#[test]
fn validate_rejects_timestamp_when_not_string() {
    assert_schema_fail(&with("", "ts_start", json!(1_777_888_800)), "/ts_start");
}

#[test]
fn validate_accepts_ts_end_before_ts_start_and_unrelated_duration() {
    let mut v = with("", "ts_end", json!("2026-05-04T09:00:00Z"));
    v["duration_ms"] = json!(999_999);
    let event = accept(&v);
    assert!(event.ts_end_ns < event.ts_start_ns);
    assert_eq!(event.duration_ms, 999_999);
}

#[test]
fn validate_defaults_duration_ms_to_zero_when_absent() {
    assert_eq!(accept(&without("", "duration_ms")).duration_ms, 0);
}

#[test]
fn validate_accepts_kind_rpc() {
    assert_eq!(accept(&with("", "kind", json!("rpc"))).kind, "rpc");
}

#[test]
fn validate_rejects_kind_when_wrong_case() {
    assert_schema_fail(&with("", "kind", json!("HTTP")), "/kind");
}

#[test]
fn validate_rejects_service_and_env_when_empty() {
    assert_schema_fail(&with("", "service", json!("")), "/service");
    assert_schema_fail(&with("", "env", json!("")), "/env");
}

#[test]
fn validate_keeps_strings_exactly_as_sent() {
    let event = accept(&with("", "service", json!(" Check\u{e9}out\n")));
    assert_eq!(event.service, " Check\u{e9}out\n");
}

#[test]
fn validate_normalizes_version_when_absent_or_empty() {
    assert_eq!(accept(&without("", "version")).version, None);
    let event = accept(&with("", "version", json!("")));
    assert_eq!(event.version, None);
    assert!(!to_json(&event).contains("\"version\""));
}

#[test]
fn validate_rejects_version_when_not_string() {
    assert_schema_fail(&with("", "version", json!(2)), "/version");
}

#[test]
fn validate_rejects_trace_id_when_wrong_length_or_not_hex() {
    for id in [
        "4bf92f3577b34da6a3ce929d0e0e473",
        "4bf92f3577b34da6a3ce929d0e0e47361",
        "4bf92f3577b34da6a3ce929d0e0e473g",
        "",
    ] {
        assert_schema_fail(&with("", "trace_id", json!(id)), "/trace_id");
    }
}

#[test]
fn validate_defaults_span_ids_to_empty_when_absent() {
    let mut v = without("", "span_id");
    v.as_object_mut().unwrap().remove("parent_span_id");
    let event = accept(&v);
    assert_eq!(event.span_id, "");
    assert_eq!(event.parent_span_id, "");
    let json = to_json(&event);
    assert!(
        json.contains(r#""span_id":"","parent_span_id":"""#),
        "{json}"
    );
}

#[test]
fn validate_accepts_parent_span_id_when_16_hex() {
    let event = accept(&with("", "parent_span_id", json!("53995c3f42cd8ad8")));
    assert_eq!(event.parent_span_id, "53995c3f42cd8ad8");
}

#[test]
fn validate_rejects_span_ids_when_not_16_lower_hex() {
    for id in [
        "A1B2C3D4E5F60718",
        "a1b2c3d4e5f6071",
        "a1b2c3d4e5f607189",
        "zzzzzzzzzzzzzzzz",
    ] {
        assert_schema_fail(&with("", "span_id", json!(id)), "/span_id");
        assert_schema_fail(&with("", "parent_span_id", json!(id)), "/parent_span_id");
    }
}

#[test]
fn validate_accepts_every_status_with_anchor() {
    for status in ["ok", "error", "timeout", "partial", "aborted", "suppressed"] {
        assert_eq!(accept(&with("", "status", json!(status))).status, status);
    }
}

#[test]
fn validate_rejects_status_when_unknown() {
    for status in ["failed", "OK", ""] {
        assert_schema_fail(&with("", "status", json!(status)), "/status");
    }
}

#[test]
fn validate_rejects_anchor_rule_for_every_failed_status() {
    for status in ["error", "timeout", "partial", "aborted"] {
        let mut v = without("", "anchor");
        v["status"] = json!(status);
        let reject = reject_of(&v);
        assert_eq!(
            reject.detail,
            format!("/anchor: required when status is \"{status}\"")
        );
    }
}

#[test]
fn validate_accepts_missing_anchor_when_ok_or_suppressed() {
    for status in ["ok", "suppressed"] {
        let mut v = without("", "anchor");
        v["status"] = json!(status);
        assert_eq!(accept(&v).anchor, None);
    }
}

#[test]
fn validate_stores_anchor_when_status_ok() {
    let event = accept(&with("", "status", json!("ok")));
    assert_eq!(event.anchor.unwrap().error_code, "PMT_502");
}

#[test]
fn validate_rejects_incomplete_anchor_even_when_status_ok() {
    let mut v = with("/anchor", "step", json!(""));
    v["status"] = json!("ok");
    assert_schema_fail(&v, "/anchor/step");
}

// --- §1.3 anchor -------------------------------------------------------------------------

#[test]
fn validate_rejects_anchor_when_not_object() {
    assert_schema_fail(&with("", "anchor", json!("payment.charge")), "/anchor");
}

#[test]
fn validate_rejects_anchor_members_when_missing_or_wrong_type() {
    let mut v = example();
    v["anchor"].as_object_mut().unwrap().remove("step");
    assert_eq!(reject_of(&v).detail, "/anchor/step: required");
    assert_schema_fail(
        &with("/anchor", "error_code", json!(502)),
        "/anchor/error_code",
    );
    assert_schema_fail(&with("/anchor", "kind", json!(1)), "/anchor/kind");
}

#[test]
fn validate_accepts_anchor_without_kind() {
    assert_eq!(
        accept(&without("/anchor", "kind")).anchor.unwrap().kind,
        None
    );
}

// --- §1.4 steps, logs, errors ------------------------------------------------------------

#[test]
fn validate_rejects_steps_when_not_array() {
    assert_schema_fail(&with("", "steps", json!({})), "/steps");
}

#[test]
fn validate_rejects_step_when_not_object() {
    let reject = assert_schema_fail(&with("", "steps", json!([1])), "/steps/0");
    assert_eq!(reject.detail, "/steps/0: must be an object");
}

#[test]
fn validate_rejects_step_name_when_empty_or_missing() {
    assert_schema_fail(&with("/steps/0", "name", json!("")), "/steps/0/name");
    assert_schema_fail(&without("/steps/0", "name"), "/steps/0/name");
}

#[test]
fn validate_rejects_step_span_id_when_pattern_fails() {
    assert_schema_fail(
        &with("/steps/1", "span_id", json!("53995C3F42CD8AD8")),
        "/steps/1/span_id",
    );
}

#[test]
fn validate_rejects_step_span_id_when_empty_and_downstream_present() {
    let reject = reject_of(&with("/steps/1", "span_id", json!("")));
    assert_eq!(
        reject.detail,
        "/steps/1/span_id: required when downstream is present"
    );
}

#[test]
fn validate_normalizes_step_span_id_when_empty_without_downstream() {
    let event = accept(&with("/steps/0", "span_id", json!("")));
    assert_eq!(event.steps[0].span_id, None);
}

#[test]
fn validate_accepts_step_span_id_without_downstream() {
    let event = accept(&with("/steps/0", "span_id", json!("0011223344556677")));
    assert_eq!(event.steps[0].span_id.as_deref(), Some("0011223344556677"));
}

#[test]
fn validate_rejects_step_integers_when_missing_or_invalid() {
    assert_eq!(
        reject_of(&without("/steps/0", "start_ms")).detail,
        "/steps/0/start_ms: required"
    );
    assert_schema_fail(&without("/steps/0", "duration_ms"), "/steps/0/duration_ms");
    assert_schema_fail(
        &with("/steps/0", "start_ms", json!(-1)),
        "/steps/0/start_ms",
    );
    assert_schema_fail(
        &with("/steps/0", "duration_ms", json!(1.5)),
        "/steps/0/duration_ms",
    );
}

#[test]
fn validate_rejects_step_status_when_not_ok_or_error() {
    for status in ["timeout", "suppressed", "", "Ok"] {
        assert_schema_fail(
            &with("/steps/0", "status", json!(status)),
            "/steps/0/status",
        );
    }
    assert_schema_fail(&without("/steps/0", "status"), "/steps/0/status");
}

#[test]
fn validate_rejects_downstream_when_not_object() {
    assert_schema_fail(
        &with("/steps/1", "downstream", json!("payment")),
        "/steps/1/downstream",
    );
}

#[test]
fn validate_rejects_downstream_members_when_not_string() {
    for key in ["service", "endpoint", "kind"] {
        assert_schema_fail(
            &with("/steps/1/downstream", key, json!(1)),
            &format!("/steps/1/downstream/{key}"),
        );
    }
}

#[test]
fn validate_accepts_downstream_with_any_kind_and_no_members() {
    let event = accept(&with("/steps/1/downstream", "kind", json!("amqp")));
    assert_eq!(
        event.steps[1].downstream.as_ref().unwrap().kind.as_deref(),
        Some("amqp")
    );
    let event = accept(&with("/steps/1", "downstream", json!({})));
    assert_eq!(event.steps[1].downstream, None);
}

#[test]
fn validate_rejects_step_error_when_not_object_or_member_not_string() {
    assert_schema_fail(&with("/steps/1", "error", json!([])), "/steps/1/error");
    for key in ["code", "reason", "cause"] {
        assert_schema_fail(
            &with("/steps/1/error", key, json!(false)),
            &format!("/steps/1/error/{key}"),
        );
    }
}

#[test]
fn validate_normalizes_step_error_empty_strings() {
    let v = with(
        "/steps/1",
        "error",
        json!({"code": "", "reason": "r", "cause": ""}),
    );
    assert_eq!(
        accept(&v).steps[1].error,
        Some(StepError {
            code: None,
            reason: Some("r".into()),
            cause: None,
        })
    );
    let v = with("/steps/1", "error", json!({"code": "", "cause": ""}));
    assert_eq!(accept(&v).steps[1].error, None);
}

#[test]
fn validate_keeps_steps_in_order_sent() {
    let event = accept(&example());
    let names: Vec<_> = event.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["cart.load", "payment.charge"]);
}

#[test]
fn validate_rejects_logs_when_not_array_or_element_not_object() {
    assert_schema_fail(&with("", "logs", json!("x")), "/logs");
    assert_schema_fail(&with("", "logs", json!([null])), "/logs/0");
}

#[test]
fn validate_rejects_log_members_when_missing_or_invalid() {
    assert_schema_fail(&without("/logs/0", "ts_offset_ms"), "/logs/0/ts_offset_ms");
    assert_schema_fail(
        &with("/logs/0", "ts_offset_ms", json!(-1)),
        "/logs/0/ts_offset_ms",
    );
    assert_schema_fail(&without("/logs/0", "level"), "/logs/0/level");
    assert_schema_fail(&with("/logs/0", "level", json!("WARN")), "/logs/0/level");
    assert_schema_fail(&without("/logs/0", "msg"), "/logs/0/msg");
    assert_schema_fail(&with("/logs/0", "msg", json!(1)), "/logs/0/msg");
    assert_schema_fail(&with("/logs/0", "fields", json!([1])), "/logs/0/fields");
}

#[test]
fn validate_accepts_log_with_empty_msg_and_every_level() {
    for level in ["info", "warn", "error"] {
        let mut v = with("/logs/0", "msg", json!(""));
        v["logs"][0]["level"] = json!(level);
        let event = accept(&v);
        assert_eq!(event.logs[0].msg, "");
        assert_eq!(event.logs[0].level, level);
    }
}

#[test]
fn validate_keeps_log_fields_verbatim_and_drops_empty() {
    let fields = json!({"b": {"y": [1, {"z": null}], "x": "s"}, "a": 2.5});
    let event = accept(&with("/logs/0", "fields", fields.clone()));
    assert_eq!(Value::Object(event.logs[0].fields.clone().unwrap()), fields);
    assert_eq!(
        accept(&with("/logs/0", "fields", json!({}))).logs[0].fields,
        None
    );
    assert_eq!(accept(&without("/logs/0", "fields")).logs[0].fields, None);
}

#[test]
fn validate_rejects_fields_when_not_object() {
    for fields in [json!([]), json!("x"), json!(1)] {
        assert_schema_fail(&with("", "fields", fields), "/fields");
    }
}

#[test]
fn validate_keeps_fields_sorted_and_numbers_exact() {
    let v = example_text_with(
        r#""fields":{"http""#,
        r#""fields":{"zz":{"b":[{"d":1,"c":null}],"a":true},"big":18446744073709551615,
                "neg":-9223372036854775808,"huge":18446744073709551616,"f":0.1,"http""#,
    );
    let json = to_json(&accept(&v));
    let expected = concat!(
        r#""fields":{"big":18446744073709551615,"f":0.1,"http":{"method":"POST","route":"/checkout","status":502},"#,
        r#""huge":1.8446744073709552e+19,"neg":-9223372036854775808,"#,
        r#""user":{"id":"u-8812","region":"eu-west-1","tier":"gold"},"#,
        r#""zz":{"a":true,"b":[{"c":null,"d":1}]}}"#
    );
    assert!(json.contains(expected), "{json}");
}

#[test]
fn validate_rejects_errors_when_not_array_or_element_not_object() {
    assert_schema_fail(&with("", "errors", json!({})), "/errors");
    assert_schema_fail(&with("", "errors", json!(["PMT_502"])), "/errors/0");
}

#[test]
fn validate_rejects_error_ref_code_when_missing_or_not_string() {
    assert_eq!(
        reject_of(&without("/errors/0", "code")).detail,
        "/errors/0/code: required"
    );
    assert_schema_fail(&with("/errors/0", "code", json!(502)), "/errors/0/code");
    assert_schema_fail(&with("/errors/0", "reason", json!(1)), "/errors/0/reason");
}

#[test]
fn validate_accepts_error_ref_with_empty_code_and_no_reason() {
    let event = accept(&with("/errors/0", "code", json!("")));
    assert_eq!(event.errors[0].code, "");
    assert_eq!(
        accept(&without("/errors/0", "reason")).errors[0].reason,
        None
    );
}

#[test]
fn validate_stores_duplicate_error_refs_as_given() {
    let refs = json!([{"code": "A"}, {"code": "A"}]);
    assert_eq!(accept(&with("", "errors", refs)).errors.len(), 2);
}

// --- unknown members, null, duplicates, member order --------------------------------------

#[test]
fn validate_ignores_unknown_members_at_any_depth() {
    let mut v = with("", "extra", json!({"x": 1}));
    v["anchor"]["extra"] = json!(null);
    v["steps"][1]["extra"] = json!([]);
    v["steps"][1]["downstream"]["extra"] = json!(1);
    v["steps"][1]["error"]["extra"] = json!(1);
    v["logs"][0]["extra"] = json!(1);
    v["errors"][0]["extra"] = json!(1);
    let event = accept(&v);
    assert_eq!(to_json(&event), EXAMPLE_NORMALIZED);
}

#[test]
fn validate_keeps_unknown_keys_inside_fields() {
    let event = accept(&with("/fields", "extra", json!({"x": null})));
    assert_eq!(event.fields.unwrap()["extra"], json!({"x": null}));
}

#[test]
fn validate_rejects_null_for_defined_members() {
    for (parent, key, pointer) in [
        ("", "version", "/version"),
        ("", "duration_ms", "/duration_ms"),
        ("", "span_id", "/span_id"),
        ("", "anchor", "/anchor"),
        ("", "steps", "/steps"),
        ("", "logs", "/logs"),
        ("", "fields", "/fields"),
        ("", "errors", "/errors"),
        ("/anchor", "kind", "/anchor/kind"),
        ("/steps/1", "error", "/steps/1/error"),
        ("/steps/1", "downstream", "/steps/1/downstream"),
        (
            "/steps/1/downstream",
            "endpoint",
            "/steps/1/downstream/endpoint",
        ),
        ("/logs/0", "fields", "/logs/0/fields"),
        ("/errors/0", "reason", "/errors/0/reason"),
    ] {
        let reject = reject_of(&with(parent, key, Value::Null));
        assert_eq!(reject.detail, format!("{pointer}: {MSG_NULL}"));
    }
}

#[test]
fn validate_rejects_span_id_first_when_downstream_null_and_span_id_missing() {
    let mut v = with("/steps/1", "downstream", Value::Null);
    v["steps"][1].as_object_mut().unwrap().remove("span_id");
    assert_schema_fail(&v, "/steps/1/span_id");
}

#[test]
fn validate_uses_last_duplicate_member() {
    let v = example_text_with(
        r#""service":"checkout","#,
        r#""service":"first","service":"checkout","#,
    );
    assert_eq!(accept(&v).service, "checkout");
    let v = example_text_with(
        r#""service":"checkout","#,
        r#""service":"checkout","service":"","#,
    );
    assert_schema_fail(&v, "/service");
    let v = example_text_with(r#""kind":"http","#, r#""kind":"grpc","kind":"http","#);
    assert_eq!(accept(&v).kind, "http");
}

#[test]
fn validate_reports_first_offending_member_in_table_order() {
    // Offending members given in reverse of table order; the earliest in §1.1 wins.
    let mut v = with("", "errors", json!(1));
    v["status"] = json!("bad");
    v["trace_id"] = json!("bad");
    v["kind"] = json!("bad");
    v["ts_end"] = json!("bad");
    assert_schema_fail(&v, "/ts_end");
    v["event_id"] = json!("");
    assert_schema_fail(&v, "/event_id");
}

#[test]
fn validate_reports_first_offending_nested_member_by_index_and_order() {
    let mut v = with("/steps/1", "name", json!(""));
    v["steps"][0]["status"] = json!("bad");
    v["steps"][0]["duration_ms"] = json!(-1);
    v["logs"][0]["level"] = json!("bad");
    assert_schema_fail(&v, "/steps/0/duration_ms");
    v["anchor"]["step"] = json!("");
    assert_schema_fail(&v, "/anchor/step");
}

// --- §1.2 integers -----------------------------------------------------------------------

fn duration_literal(literal: &str) -> Value {
    example_text_with(
        r#""duration_ms":62,"#,
        &format!(r#""duration_ms":{literal},"#),
    )
}

#[test]
fn validate_rejects_integer_when_fraction_exponent_string_or_negative() {
    for literal in ["42.0", "4.2e1", "42e0", "\"42\"", "-1", "-0", "true"] {
        let reject = assert_schema_fail(&duration_literal(literal), "/duration_ms");
        assert_eq!(
            reject.detail,
            format!("/duration_ms: {MSG_INTEGER}"),
            "{literal}"
        );
    }
}

#[test]
fn validate_accepts_integer_up_to_i64_max() {
    assert_eq!(accept(&duration_literal("0")).duration_ms, 0);
    assert_eq!(
        accept(&duration_literal("9223372036854775807")).duration_ms,
        i64::MAX
    );
}

#[test]
fn validate_rejects_integer_when_above_i64_max() {
    for literal in [
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
    ] {
        assert_schema_fail(&duration_literal(literal), "/duration_ms");
    }
}

#[test]
fn validate_applies_integer_rule_to_offsets() {
    let v = example_text_with(r#""ts_offset_ms":50"#, r#""ts_offset_ms":5e1"#);
    assert_schema_fail(&v, "/logs/0/ts_offset_ms");
    let v = example_text_with(r#""start_ms":9"#, r#""start_ms":9.0"#);
    assert_schema_fail(&v, "/steps/1/start_ms");
}

// --- §1.2 future guard -------------------------------------------------------------------

#[test]
fn validate_accepts_ts_start_exactly_five_minutes_ahead() {
    let v = with("", "ts_start", json!("2026-05-04T10:05:00Z"));
    assert!(validate_item(&v, now()).is_ok());
}

#[test]
fn validate_rejects_future_when_five_minutes_and_one_ns_ahead() {
    let v = with("", "ts_start", json!("2026-05-04T10:05:00.000000001Z"));
    assert_eq!(reject_of(&v).reason, RejectReason::FutureTimestamp);
}

#[test]
fn validate_accepts_past_ts_start_and_future_ts_end() {
    let mut v = with("", "ts_start", json!("1970-01-01T00:00:00Z"));
    v["ts_end"] = json!("2200-01-01T00:00:00Z");
    assert!(validate_item(&v, now()).is_ok());
}

#[test]
fn validate_reports_schema_before_future_timestamp() {
    let mut v = with("", "ts_start", json!("2026-05-04T11:00:00Z"));
    v["trace_id"] = json!("x");
    assert_schema_fail(&v, "/trace_id");
}

#[test]
fn validate_reports_bridge_before_future_timestamp() {
    let mut v = with("", "ts_start", json!("2026-05-04T11:00:00Z"));
    v["schema_version"] = json!("1.2");
    assert_eq!(reject_of(&v).reason, RejectReason::BridgeNotImplemented);
}

#[test]
fn validate_does_not_overflow_when_now_near_i64_max() {
    assert!(validate_item(&example(), i64::MAX).is_ok());
    let v = with("", "ts_start", json!("2262-04-11T23:47:16.854775807Z"));
    assert_eq!(
        validate_item(&v, i64::MIN).unwrap_err().reason,
        RejectReason::FutureTimestamp
    );
}

// --- rejected[].event_id -----------------------------------------------------------------

#[test]
fn reject_event_id_present_only_for_object_with_non_empty_string_id() {
    let bad = |event_id: Value| {
        let mut v = with("", "event_id", event_id);
        v["kind"] = json!("grpc");
        validate_item(&v, now()).unwrap_err().event_id
    };
    assert_eq!(bad(json!("abc")), Some("abc".to_owned()));
    assert_eq!(bad(json!("")), None);
    assert_eq!(bad(json!(7)), None);
    assert_eq!(bad(json!(["abc"])), None);
    let item = json!([{"event_id": "abc"}]);
    assert_eq!(validate_item(&item, now()).unwrap_err().event_id, None);
}
