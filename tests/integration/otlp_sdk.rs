//! OTLP from real clients: the official OpenTelemetry Python SDK and its OTLP exporters
//! (`tests/peers/otel_trace.py`) against the real binary, over HTTP/protobuf and gRPC, and the
//! shared OTLP/JSON fixture posted as-is (spec events §4; reads §3-§4).
//!
//! The peer runs on the Python of [`test_python`] (`WAYLOG_TEST_PYTHON`, set by
//! `scripts/test.sh`). A missing interpreter or SDK fails these tests: they are the only
//! evidence that a real exporter's requests are understood, so a silent skip would hide a gap.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::*;

const WRITE_KEY: &str = "otel-sdk-key";

fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/otel_trace.py")
}

/// The test Python, once checked to import the SDK and both exporters.
fn sdk_python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let python = test_python();
        let probe = Command::new(&python)
            .args([
                "-c",
                "import opentelemetry.sdk.trace, \
                 opentelemetry.exporter.otlp.proto.http.trace_exporter, \
                 opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
            ])
            .output();
        match probe {
            Ok(o) if o.status.success() => python,
            other => panic!(
                "the OpenTelemetry Python SDK is not importable by {python:?} ({}); run \
                 scripts/setup-test-deps.sh and set WAYLOG_TEST_PYTHON to the python it prints",
                match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                }
            ),
        }
    })
}

/// One run of the peer.
fn run_peer(exporter: &str, endpoint: &str, key: &str, seed: u64, compression: &str) -> Output {
    let mut cmd = Command::new(sdk_python());
    cmd.arg(peer_script())
        .args(["--exporter", exporter, "--endpoint", endpoint])
        .args(["--write-key", key, "--compression", compression])
        .args(["--seed", &seed.to_string()]);
    // Hermetic: no OTEL_* setting of the caller's environment (endpoint, headers, resource,
    // compression, SDK switch) reaches the SDK.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    cmd.output().unwrap()
}

/// A run that must succeed; returns the trace id it printed.
fn export_trace(exporter: &str, endpoint: &str, seed: u64, compression: &str) -> String {
    let out = run_peer(exporter, endpoint, WRITE_KEY, seed, compression);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "otel_trace.py --exporter {exporter} failed ({}): stdout {stdout}\nstderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let trace_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("trace_id="))
        .unwrap_or_else(|| panic!("no trace_id= line: {stdout}"))
        .to_string();
    assert!(
        trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{trace_id}"
    );
    trace_id
}

/// Spec events §4.6, written out independently of the server's implementation.
fn otlp_event_id(trace_id: &str, span_id: &str) -> String {
    let digest = Sha256::digest(format!("{trace_id}:{span_id}").as_bytes());
    let mut h = [0u8; 16];
    h.copy_from_slice(&digest[..16]);
    h[6] = (h[6] & 0x0f) | 0x50;
    h[8] = (h[8] & 0x3f) | 0x80;
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[test]
fn otlp_event_id_helper_matches_spec_test_vector() {
    assert_eq!(
        otlp_event_id("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"),
        "84e30b51-2cfe-5569-bd30-9bc7b58b40b8"
    );
}

/// One stored event of the trace, from `POST /v1/query`.
#[derive(Debug)]
struct Row {
    event_id: String,
    span_id: String,
    parent_span_id: String,
    service: String,
    env: String,
    version: Value,
    kind: String,
    status: String,
    anchor_step: Value,
    anchor_error_code: Value,
    http_method: Value,
    http_route: Value,
    http_status: Value,
    span_kind: String,
}

fn trace_rows(server: &Server, trace_id: &str) -> Vec<Row> {
    let sql = format!(
        "SELECT event_id, span_id, parent_span_id, service, env, version, kind, status, \
         anchor_step, anchor_error_code, http_method, http_route, http_status, fields \
         FROM events WHERE trace_id = '{trace_id}' ORDER BY event_id"
    );
    let s = |v: &Value| v.as_str().unwrap_or_else(|| panic!("{v}")).to_string();
    server
        .query(&sql)
        .into_iter()
        .map(|r| {
            let fields: Value = serde_json::from_str(r[13].as_str().unwrap()).unwrap();
            Row {
                event_id: s(&r[0]),
                span_id: s(&r[1]),
                parent_span_id: s(&r[2]),
                service: s(&r[3]),
                env: s(&r[4]),
                version: r[5].clone(),
                kind: s(&r[6]),
                status: s(&r[7]),
                anchor_step: r[8].clone(),
                anchor_error_code: r[9].clone(),
                http_method: r[10].clone(),
                http_route: r[11].clone(),
                http_status: r[12].clone(),
                span_kind: s(&fields["otel"]["span_kind"]),
            }
        })
        .collect()
}

/// The trace of `otel_trace.py` as stored: three services, one trace, linked spans, the
/// statuses and codes of the §4.5 mapping, and payment as the originating failure.
fn assert_peer_trace(server: &Server, trace_id: &str) {
    let rows = trace_rows(server, trace_id);
    assert_eq!(rows.len(), 4, "{rows:#?}");
    let by_role: BTreeMap<(&str, &str), &Row> = rows
        .iter()
        .map(|r| ((r.service.as_str(), r.span_kind.as_str()), r))
        .collect();
    assert_eq!(by_role.len(), 4, "one span per (service, kind): {rows:#?}");
    let role = |service: &str, kind: &str| -> &Row {
        by_role
            .get(&(service, kind))
            .unwrap_or_else(|| panic!("no {service} {kind} event: {rows:#?}"))
    };
    let gateway = role("gateway", "SPAN_KIND_SERVER");
    let checkout = role("checkout", "SPAN_KIND_SERVER");
    let call = role("checkout", "SPAN_KIND_CLIENT");
    let payment = role("payment", "SPAN_KIND_SERVER");

    for r in &rows {
        // Dedup rests on this: the id is a function of the span, not of the export.
        assert_eq!(r.event_id, otlp_event_id(trace_id, &r.span_id), "{r:?}");
        assert_eq!(r.kind, "http", "{r:?}");
        assert_eq!(r.env, "prod", "deployment.environment: {r:?}");
        assert_eq!(r.status, "error", "{r:?}");
        assert_eq!(r.http_method, json!("POST"), "{r:?}");
        assert_eq!(r.http_status, json!(502), "{r:?}");
    }
    assert_eq!(gateway.version, json!("1.8.2"));
    assert_eq!(checkout.version, json!("2.14.0"));
    assert_eq!(payment.version, json!("3.2.1"));

    // Parent linkage crosses the three TracerProviders through the traceparent header.
    assert_eq!(gateway.parent_span_id, "");
    assert_eq!(checkout.parent_span_id, gateway.span_id);
    assert_eq!(call.parent_span_id, checkout.span_id);
    assert_eq!(payment.parent_span_id, call.span_id);

    // Steps: http.route, else (client spans have no route) the span name. Codes: the
    // exception event's type for payment, HTTP_<code> for the callers.
    let anchor = |r: &Row| (r.anchor_step.clone(), r.anchor_error_code.clone());
    assert_eq!(anchor(gateway), (json!("/purchase"), json!("HTTP_502")));
    assert_eq!(anchor(checkout), (json!("/checkout"), json!("HTTP_502")));
    assert_eq!(anchor(call), (json!("POST"), json!("HTTP_502")));
    assert_eq!(
        anchor(payment),
        (
            json!("/charge"),
            json!("payment.acquirer.PaymentGatewayError")
        )
    );
    assert_eq!(gateway.http_route, json!("/purchase"));
    assert_eq!(call.http_route, Value::Null);

    // The read API: the whole trace in causal order, then the story's origin.
    let r = server.get(&format!("/v1/traces/{trace_id}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let trace = r.json();
    assert_eq!(trace["linkage"], "causal", "{trace}");
    let order: Vec<&str> = trace["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["span_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            &gateway.span_id,
            &checkout.span_id,
            &call.span_id,
            &payment.span_id
        ],
        "depth-first trace order"
    );
    let events = trace["events"].as_array().unwrap();
    let reasons: Vec<&Value> = events.iter().map(|e| &e["errors"][0]["reason"]).collect();
    assert_eq!(
        reasons,
        [
            &json!("otlp span reported error"),
            &json!("otlp span reported error"),
            &json!("payment returned 502"),
            &json!("acquirer returned 502"),
        ],
        "{trace}"
    );
    assert_eq!(
        events[2]["steps"][0]["downstream"],
        json!({"service": "payment", "kind": "http"}),
        "the CLIENT span's server.address names the callee: {trace}"
    );
    assert!(events[3]["steps"][0].get("downstream").is_none(), "{trace}");

    let r = server.get(&format!("/v1/traces/story?trace_id={trace_id}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let story = r.json();
    assert_eq!(story["service"], "payment", "{story}");
    assert_eq!(story["event_id"], json!(payment.event_id), "{story}");
    assert_eq!(story["linkage"], "causal", "{story}");
    assert_eq!(
        story["anchor"],
        json!({"step": "/charge", "error_code": "payment.acquirer.PaymentGatewayError"}),
        "{story}"
    );
    assert_eq!(story["route"], "/charge", "{story}");
    assert_eq!(
        story["path"][0]["error_msg"], "acquirer returned 502",
        "{story}"
    );
}

/// Export, check, re-export the same seed (deduplicated), a new seed (stored), and a wrong
/// key (refused by the exporter's own error handling, nothing stored).
fn sdk_round_trip(exporter: &str, first: &str, again: &str) {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &["--write-key", WRITE_KEY], &[]);
    let endpoint = |path: &str| match exporter {
        "grpc" => server.grpc_url(),
        _ => format!("{}{path}", server.url),
    };

    let trace_id = export_trace(exporter, &endpoint(first), 41, "none");
    assert_eq!(server.count(), 4, "the peer exports 4 spans");
    assert_eq!(
        server.scalar("SELECT count(DISTINCT trace_id) FROM events"),
        1
    );
    assert_eq!(
        server.scalar(
            "SELECT count(DISTINCT service) FROM events \
             WHERE service IN ('gateway', 'checkout', 'payment')"
        ),
        3
    );
    assert_peer_trace(&server, &trace_id);

    // Same seed, other route/compression: the same spans again, deduplicated by event_id.
    let again_id = export_trace(exporter, &endpoint(again), 41, "gzip");
    assert_eq!(again_id, trace_id, "the seed makes the ids deterministic");
    assert_eq!(server.count(), 4, "a re-export stores nothing new");
    assert_peer_trace(&server, &trace_id);

    // A new seed is a new trace: the dedup above was not an export that did nothing.
    let other = export_trace(exporter, &endpoint(again), 42, "gzip");
    assert_ne!(other, trace_id);
    assert_eq!(server.count(), 8);
    assert_peer_trace(&server, &other);

    // A wrong key: 401 / UNAUTHENTICATED, which the SDK does not retry; the peer reports it.
    let out = run_peer(exporter, &endpoint(first), "not-the-key", 43, "none");
    assert!(
        !out.status.success(),
        "export with a wrong key succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = if exporter == "grpc" {
        "UNAUTHENTICATED"
    } else {
        "401"
    };
    assert!(stderr.contains(expected), "{stderr}");
    assert_eq!(server.count(), 8);
    server.stop_graceful();
}

#[test]
fn otlp_sdk_http_protobuf_trace_links_services_and_dedups() {
    sdk_round_trip("http", "/v1/otlp/v1/traces", "/v1/traces");
}

#[test]
fn otlp_sdk_grpc_trace_links_services_and_dedups() {
    sdk_round_trip("grpc", "", "");
}

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/otlp/trace-request.json"
);
const FIXTURE_TRACE: &str = "5a7ca07b0eb80baa1556752b15915d83";

#[test]
fn otlp_fixture_json_posted_as_is_arrives_and_dedups() {
    let body = std::fs::read(FIXTURE).unwrap();
    let dir = TestDir::new();
    // The fixture's spans are from 2026-05-12: keep them past any retention pass.
    let server = Server::start(&dir.data_dir(), &["--retention", "36500d"], &[]);
    let post = || {
        server.request(
            "POST",
            "/v1/traces",
            &[("Content-Type", "application/json")],
            Some(&body),
        )
    };
    let r = post();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({}), "no span dropped or rejected");

    let rows = server.query(&format!(
        "SELECT service, span_id, parent_span_id, status, anchor_step, anchor_error_code, \
         event_id, env, version FROM events WHERE trace_id = '{FIXTURE_TRACE}' \
         ORDER BY ts_start, span_id"
    ));
    let got: Vec<Value> = rows.iter().map(|r| json!(r[..6])).collect();
    assert_eq!(
        json!(got),
        json!([
            [
                "api-gateway",
                "00d76cc7afb34de7",
                "",
                "error",
                "/purchase",
                "HTTP_502"
            ],
            [
                "checkout",
                "803504d7381251e3",
                "00d76cc7afb34de7",
                "error",
                "/checkout",
                "PMT_502"
            ],
            [
                "checkout",
                "1c3e74b66d6a6ad7",
                "803504d7381251e3",
                "error",
                "payment.charge",
                "PMT_502"
            ],
            [
                "payment",
                "520031ef52b4c281",
                "1c3e74b66d6a6ad7",
                "error",
                "acquirer.charge",
                "PMT_502"
            ],
        ])
    );
    for r in &rows {
        assert_eq!(
            r[6],
            json!(otlp_event_id(FIXTURE_TRACE, r[1].as_str().unwrap()))
        );
        assert_eq!(r[7], "prod", "deployment.environment.name");
    }
    assert_eq!(
        rows.iter().map(|r| r[8].clone()).collect::<Vec<_>>(),
        [
            json!("1.8.2"),
            json!("2.14.0"),
            json!("2.14.0"),
            json!("3.2.1")
        ]
    );

    let r = server.get(&format!("/v1/traces/story?trace_id={FIXTURE_TRACE}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let story = r.json();
    assert_eq!(story["service"], "payment", "{story}");
    assert_eq!(story["linkage"], "causal", "{story}");
    assert_eq!(
        story["anchor"],
        json!({"step": "acquirer.charge", "error_code": "PMT_502"}),
        "{story}"
    );

    // Posted again (and on the other route): every span is a duplicate.
    let r = post();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({}));
    let r = server.request(
        "POST",
        "/v1/otlp/v1/traces",
        &[("Content-Type", "application/json; charset=utf-8")],
        Some(&body),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(server.count(), 4);
    server.stop_graceful();
}
