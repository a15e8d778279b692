//! `POST /v1/events` and `/v1/events/validate` against the real binary (spec events §2):
//! framings and encodings end to end into SQL, per-item rejections, the request checks in
//! order, and "nothing is stored" on every request-level failure.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

fn assert_envelope(v: &Value, accepted: u64, duplicate: u64, rejected: usize) {
    assert_eq!(v["accepted"], json!(accepted), "{v}");
    assert_eq!(v["duplicate"], json!(duplicate), "{v}");
    assert_eq!(
        v["rejected"].as_array().map(Vec::len),
        Some(rejected),
        "{v}"
    );
    assert_eq!(v["deprecations"], json!({}), "{v}");
}

/// A §2.7 framing error: status, the error object and the envelope with one rejected entry.
fn assert_framing_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("application/json"),
        "{:?}",
        r.headers
    );
    let v = r.json();
    assert_eq!(v["error"]["code"], json!(code), "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert!(v["error"]["detail"].is_string(), "{v}");
    assert_envelope(&v, 0, 0, 1);
    assert_eq!(v["rejected"][0]["index"], json!(0), "{v}");
    assert_eq!(v["rejected"][0]["reason"], json!(code), "{v}");
}

/// A non-framing error: the error object only.
fn assert_plain_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let v = r.json();
    assert_eq!(v["error"]["code"], json!(code), "{v}");
    assert!(v["error"]["detail"].is_string(), "{v}");
    assert!(v.get("accepted").is_none(), "{v}");
}

fn with_service(mut e: Value, service: &str) -> Value {
    e["service"] = json!(service);
    e
}

#[test]
fn ingest_every_framing_and_encoding_round_trips_into_sql() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);

    // application/json, one object.
    let obj = event("rt-object");
    let r = server.post_events("application/json", obj.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_envelope(&r.json(), 1, 0, 0);

    // application/json, an array; media type case-insensitive with parameters, leading BOM.
    let array = vec![
        with_service(event("rt-array-0"), "svc-array"),
        with_service(event("rt-array-1"), "svc-array"),
        ok_event("rt-array-ok", "svc-array"),
    ];
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(Value::Array(array).to_string().as_bytes());
    let r = server.post_events("Application/JSON; charset=utf-8", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_envelope(&r.json(), 3, 0, 0);

    // NDJSON with CRLF, blank lines and surrounding whitespace.
    let nd: Vec<Value> = (0..4)
        .map(|i| with_service(event(&format!("rt-ndjson-{i}")), "svc-ndjson"))
        .collect();
    let text = format!(
        "\r\n{}\r\n\n   {}\t\r\n{}\n\n{}",
        nd[0], nd[1], nd[2], nd[3]
    );
    let r = server.post_events("application/x-ndjson", text.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_envelope(&r.json(), 4, 0, 0);

    // gzip JSON array (encoding token case-insensitive).
    let gz: Vec<Value> = (0..2)
        .map(|i| with_service(event(&format!("rt-gzip-{i}")), "svc-gzip"))
        .collect();
    let r = server.request(
        "POST",
        "/v1/events",
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "GZip"),
        ],
        Some(&gzip(Value::Array(gz).to_string().as_bytes())),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_envelope(&r.json(), 2, 0, 0);

    // zstd NDJSON.
    let zs: Vec<Value> = (0..3)
        .map(|i| with_service(event(&format!("rt-zstd-{i}")), "svc-zstd"))
        .collect();
    let r = server.request(
        "POST",
        "/v1/events",
        &[
            ("Content-Type", "application/x-ndjson"),
            ("Content-Encoding", "zstd"),
        ],
        Some(&zstd(&ndjson(&zs))),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_envelope(&r.json(), 3, 0, 0);

    // Explicit identity encoding.
    let r = server.request(
        "POST",
        "/v1/events",
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "identity"),
        ],
        Some(
            with_service(event("rt-identity"), "svc-identity")
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_envelope(&r.json(), 1, 0, 0);

    // Empty batches are fine and count nothing.
    assert_envelope(
        &server.post_events("application/json", b"[]").json(),
        0,
        0,
        0,
    );
    assert_envelope(
        &server
            .post_events("application/x-ndjson", b"\n \r\n")
            .json(),
        0,
        0,
        0,
    );

    assert_eq!(server.count(), 14);
    assert_eq!(
        server.query("SELECT service, count(*) FROM events GROUP BY service ORDER BY service"),
        vec![
            vec![json!("checkout"), json!(1)],
            vec![json!("svc-array"), json!(3)],
            vec![json!("svc-gzip"), json!(2)],
            vec![json!("svc-identity"), json!(1)],
            vec![json!("svc-ndjson"), json!(4)],
            vec![json!("svc-zstd"), json!(3)],
        ]
    );
    assert_eq!(
        server.scalar("SELECT count(DISTINCT event_id) FROM events"),
        14,
        "every id once"
    );

    // Column values of the §1.9 example.
    let rows = server.query(
        "SELECT event_id, ts_start, ts_end, duration_ms, kind, env, version, trace_id, span_id, \
         parent_span_id, status, anchor_step, anchor_error_code, anchor_kind, http_method, \
         http_route, http_status, user_id, user_tier, user_region, steps, logs, errors, fields \
         FROM events WHERE event_id = 'rt-object'",
    );
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row[0], json!("rt-object"));
    assert_eq!(
        row[1], obj["ts_start"],
        "ts_start is the instant sent, §1.8 form"
    );
    assert_eq!(row[2], obj["ts_end"]);
    assert_eq!(row[3], json!(62));
    assert_eq!(row[4], json!("http"));
    assert_eq!(row[5], json!("prod"));
    assert_eq!(row[6], json!("2026.05.04-1"));
    assert_eq!(row[7], obj["trace_id"]);
    assert_eq!(row[8], json!("a1b2c3d4e5f60718"));
    assert_eq!(row[9], json!(""));
    assert_eq!(row[10], json!("error"));
    assert_eq!(row[11], json!("payment.charge"));
    assert_eq!(row[12], json!("PMT_502"));
    assert_eq!(row[13], json!("downstream"));
    assert_eq!(row[14], json!("POST"));
    assert_eq!(row[15], json!("/checkout"));
    assert_eq!(row[16], json!(502));
    assert_eq!(row[17], json!("u-8812"));
    assert_eq!(row[18], json!("gold"));
    assert_eq!(row[19], json!("eu-west-1"));
    let steps = row[20].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0]["name"], json!("cart.load"));
    assert_eq!(steps[0]["start_ms"], json!(0));
    assert_eq!(steps[0]["duration_ms"], json!(6));
    assert_eq!(steps[0]["status"], json!("ok"));
    assert_eq!(steps[0]["downstream"], Value::Null);
    assert_eq!(steps[1]["name"], json!("payment.charge"));
    assert_eq!(steps[1]["span_id"], json!("53995c3f42cd8ad8"));
    assert_eq!(steps[1]["start_ms"], json!(9));
    assert_eq!(steps[1]["duration_ms"], json!(40));
    assert_eq!(steps[1]["status"], json!("error"));
    assert_eq!(steps[1]["downstream"]["service"], json!("payment"));
    assert_eq!(steps[1]["downstream"]["endpoint"], json!("/charge"));
    assert_eq!(steps[1]["error"]["code"], json!("PMT_502"));
    assert_eq!(steps[1]["error"]["reason"], json!("acquirer returned 502"));
    let logs = row[21].as_array().unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["level"], json!("warn"));
    assert_eq!(logs[0]["ts_offset_ms"], json!(50));
    assert_eq!(logs[0]["msg"], json!("payment failed, not retrying"));
    let errors = row[22].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["code"], json!("PMT_502"));
    let fields: Value = serde_json::from_str(row[23].as_str().unwrap()).unwrap();
    assert_eq!(fields, obj["fields"]);

    // A minimal ok event: no anchor, no fields, no steps.
    let rows = server.query(
        "SELECT anchor_error_code, http_route, user_tier, version, duration_ms, span_id, \
         CAST(coalesce(cardinality(steps), 0) AS BIGINT) FROM events WHERE event_id = 'rt-array-ok'",
    );
    assert_eq!(
        rows,
        vec![vec![
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            json!(0),
            json!(""),
            json!(0)
        ]]
    );

    // Per-route and per-tier aggregates over everything ingested.
    assert_eq!(
        server.query(
            "SELECT http_route, user_tier, anchor_error_code, count(*) FROM events \
             WHERE status = 'error' GROUP BY 1, 2, 3"
        ),
        vec![vec![
            json!("/checkout"),
            json!("gold"),
            json!("PMT_502"),
            json!(13)
        ]]
    );
    assert_eq!(
        server.scalar(
            "SELECT count(*) FROM events WHERE steps[2]['downstream']['service'] = 'payment'"
        ),
        13
    );
    server.stop_graceful();
}

#[test]
fn ingest_rejects_each_bad_item_with_index_reason_and_event_id() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);

    let mut bridge = event("bad-bridge");
    bridge["schema_version"] = json!("1.1");
    let mut upper = event("bad-upper-trace");
    upper["trace_id"] = json!("4BF92F3577B34DA6A3CE929D0E0E4736");
    let mut future = event_at("bad-future", now_ns() + 600 * SEC_NS);
    future["duration_ms"] = json!(1);
    let near_future = event_at("ok-near-future", now_ns() + 240 * SEC_NS);
    let mut empty_id = event("");
    empty_id["event_id"] = json!("");
    let mut no_anchor = event("bad-no-anchor");
    no_anchor.as_object_mut().unwrap().remove("anchor");
    let mut version_21 = event("bad-version-21");
    version_21["schema_version"] = json!("2.1");
    let mut float_duration = event("bad-float-duration");
    float_duration["duration_ms"] = json!(62.5);
    let mut space_ts = event("bad-space-ts");
    space_ts["ts_start"] = json!("2026-05-04 10:00:00");

    let items = vec![
        event("ok-0"),
        bridge,
        upper,
        future,
        json!(42),
        empty_id,
        no_anchor,
        near_future,
        version_21,
        float_duration,
        space_ts,
        Value::Null,
    ];
    let r = server.post_events(
        "application/json",
        Value::Array(items).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_envelope(&v, 2, 0, 10);
    let rejected = v["rejected"].as_array().unwrap();
    let expect: [(u64, Option<&str>, &str, &str); 10] = [
        (
            1,
            Some("bad-bridge"),
            "bridge_not_implemented",
            "/schema_version",
        ),
        (
            2,
            Some("bad-upper-trace"),
            "schema_validation_failed",
            "/trace_id",
        ),
        (3, Some("bad-future"), "future_timestamp", "/ts_start"),
        (4, None, "schema_validation_failed", ""),
        (5, None, "schema_validation_failed", "/event_id"),
        (
            6,
            Some("bad-no-anchor"),
            "schema_validation_failed",
            "/anchor",
        ),
        (
            8,
            Some("bad-version-21"),
            "schema_validation_failed",
            "/schema_version",
        ),
        (
            9,
            Some("bad-float-duration"),
            "schema_validation_failed",
            "/duration_ms",
        ),
        (
            10,
            Some("bad-space-ts"),
            "schema_validation_failed",
            "/ts_start",
        ),
        (11, None, "schema_validation_failed", ""),
    ];
    for (got, (index, id, reason, pointer)) in rejected.iter().zip(expect) {
        assert_eq!(got["index"], json!(index), "{got}");
        assert_eq!(got["reason"], json!(reason), "{got}");
        match id {
            Some(id) => assert_eq!(got["event_id"], json!(id), "{got}"),
            None => assert!(got.get("event_id").is_none(), "{got}"),
        }
        let detail = got["detail"].as_str().unwrap_or("");
        assert!(
            detail.starts_with(pointer),
            "detail of {index} should start with {pointer:?}: {got}"
        );
    }

    // NDJSON: a truncated line, a nested array, a blank line (not counted).
    let text = format!(
        "{}\n{{\"schema_version\":\"2.0\",\n\n[{}]\n{}\n",
        event("ok-nd-0"),
        event("bad-nested"),
        event("ok-nd-3")
    );
    let r = server.post_events("application/x-ndjson", text.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_envelope(&v, 2, 0, 2);
    assert_eq!(v["rejected"][0]["index"], json!(1));
    assert_eq!(v["rejected"][0]["reason"], json!("invalid_json"));
    assert!(v["rejected"][0].get("event_id").is_none());
    assert!(!v["rejected"][0]["detail"].as_str().unwrap().is_empty());
    assert_eq!(v["rejected"][1]["index"], json!(2));
    assert_eq!(
        v["rejected"][1]["reason"],
        json!("schema_validation_failed")
    );

    // application/json that is not exactly one value: one invalid_json item at index 0.
    for body in [
        format!("{}{}", event("bad-two-0"), event("bad-two-1")),
        String::new(),
        "[{\"schema_version\":\"2.0\"".to_string(),
    ] {
        let r = server.post_events("application/json", body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_envelope(&v, 0, 0, 1);
        assert_eq!(v["rejected"][0]["index"], json!(0), "{v}");
        assert_eq!(v["rejected"][0]["reason"], json!("invalid_json"), "{v}");
    }

    assert_eq!(server.count(), 4, "only the valid items are stored");
    assert_eq!(
        server.scalar("SELECT count(*) FROM events WHERE event_id LIKE 'ok-%'"),
        4
    );
    server.stop_graceful();
}

const WRITE_KEY: &str = "k-one";

fn auth_headers(ct: &str) -> Vec<(&str, &str)> {
    vec![("Authorization", "Bearer k-one"), ("Content-Type", ct)]
}

/// A raw HTTP/1.1 exchange (for what ureq will not send: chunked bodies without a length).
fn raw_http(url: &str, head: &str, body_chunks: &[Vec<u8>]) -> String {
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    for c in body_chunks {
        // The server may answer and close before reading everything: ignore write errors.
        if s.write_all(format!("{:x}\r\n", c.len()).as_bytes())
            .is_err()
            || s.write_all(c).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn ingest_request_checks_fail_in_spec_order_and_store_nothing() {
    let dir = TestDir::new();
    let server = Server::start(
        &dir.data_dir(),
        &["--max-body-bytes", "4096", "--max-batch-events", "5"],
        &[("WAYLOG_WRITE_KEY", " k-zero , k-one ,")],
    );
    let good = event("bad-would-be-stored").to_string();
    let good = good.as_bytes();

    // 2: credential (before the method check).
    for headers in [
        vec![("Content-Type", "application/json")],
        vec![
            ("Content-Type", "application/json"),
            ("Authorization", "Bearer nope"),
        ],
        vec![("Content-Type", "application/json"), ("X-API-Key", "k-on")],
        vec![
            ("Content-Type", "application/json"),
            ("Authorization", "Basic k-one"),
        ],
    ] {
        let r = server.request("POST", "/v1/events", &headers, Some(good));
        assert_plain_error(&r, 401, "unauthorized");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer realm=\"waylog\", scope=\"write\""),
            "{:?}",
            r.headers
        );
    }
    assert_plain_error(&server.get("/v1/events"), 401, "unauthorized");

    // 3: method.
    for method in ["GET", "PUT"] {
        let r = server.request(
            method,
            "/v1/events",
            &[("Authorization", "Bearer k-one")],
            Some(good),
        );
        assert_plain_error(&r, 405, "method_not_allowed");
        assert_eq!(r.header("allow"), Some("POST"));
    }

    // 4: Content-Type present and parseable (before the media type and encoding checks).
    let r = server.request(
        "POST",
        "/v1/events",
        &[
            ("Authorization", "Bearer k-one"),
            ("Content-Encoding", "br"),
        ],
        Some(good),
    );
    assert_framing_error(&r, 400, "invalid_body");
    let r = server.request("POST", "/v1/events", &auth_headers("json"), Some(good));
    assert_framing_error(&r, 400, "invalid_body");

    // 5: media type (before the encoding check).
    for ct in ["text/plain", "application/xml; charset=utf-8"] {
        let mut h = auth_headers(ct);
        h.push(("Content-Encoding", "br"));
        let r = server.request("POST", "/v1/events", &h, Some(good));
        assert_framing_error(&r, 415, "unsupported_content_type");
    }

    // 6: encoding (before the declared-length check).
    let oversized = vec![b' '; 5000];
    for enc in ["br", "gzip, zstd", "deflate"] {
        let mut h = auth_headers("application/json");
        h.push(("Content-Encoding", enc));
        let r = server.request("POST", "/v1/events", &h, Some(good));
        assert_framing_error(&r, 400, "unsupported_content_encoding");
    }
    let mut h = auth_headers("application/json");
    h.push(("Content-Encoding", "br"));
    let r = server.request("POST", "/v1/events", &h, Some(&oversized));
    assert_framing_error(&r, 400, "unsupported_content_encoding");

    // 7: declared Content-Length over the limit; exactly the limit passes.
    let mut big = event("bad-oversize").to_string().into_bytes();
    big.resize(4097, b' ');
    let r = server.request(
        "POST",
        "/v1/events",
        &auth_headers("application/json"),
        Some(&big),
    );
    assert_framing_error(&r, 413, "body_oversize");
    let mut exact = event("ok-exact-limit").to_string().into_bytes();
    exact.resize(4096, b' ');
    let r = server.request(
        "POST",
        "/v1/events",
        &auth_headers("application/json"),
        Some(&exact),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_envelope(&r.json(), 1, 0, 0);

    // 10: raw body over the limit without a declared length (chunked).
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {WRITE_KEY}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut chunked = event("bad-chunked").to_string().into_bytes();
    chunked.resize(6000, b' ');
    let raw = raw_http(
        &server.url,
        &head,
        &[chunked[..3000].to_vec(), chunked[3000..].to_vec()],
    );
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("\"body_oversize\""), "{raw}");

    // 12: a gzip bomb that decompresses above the limit.
    let mut bomb_src = event("bad-bomb").to_string().into_bytes();
    bomb_src.resize(1 << 20, b' ');
    let bomb = gzip(&bomb_src);
    assert!(
        bomb.len() < 4096,
        "the bomb itself is small ({} bytes)",
        bomb.len()
    );
    let mut h = auth_headers("application/json");
    h.push(("Content-Encoding", "gzip"));
    let r = server.request("POST", "/v1/events", &h, Some(&bomb));
    assert_framing_error(&r, 413, "body_oversize");
    let mut h = auth_headers("application/json");
    h.push(("Content-Encoding", "zstd"));
    let r = server.request("POST", "/v1/events", &h, Some(&zstd(&bomb_src)));
    assert_framing_error(&r, 413, "body_oversize");

    // 11: corrupt compressed bodies.
    let mut corrupt_gzip = gzip(good);
    let mid = corrupt_gzip.len() / 2;
    corrupt_gzip[mid..].iter_mut().for_each(|b| *b ^= 0x5a);
    for (enc, body) in [
        ("gzip", corrupt_gzip),
        ("gzip", b"\x1f\x8b\x08\x00not really gzip at all".to_vec()),
        ("zstd", b"(\xb5/\xfd garbage zstd frame".to_vec()),
        ("gzip", good.to_vec()),
    ] {
        let mut h = auth_headers("application/json");
        h.push(("Content-Encoding", enc));
        let r = server.request("POST", "/v1/events", &h, Some(&body));
        assert_framing_error(&r, 400, "invalid_body");
    }

    // 13: item count, for both framings (X-API-Key accepted as the credential).
    let six: Vec<Value> = (0..6)
        .map(|i| ok_event(&format!("bad-batch-{i}"), "b"))
        .collect();
    let r = server.request(
        "POST",
        "/v1/events",
        &[
            ("X-API-Key", "k-zero"),
            ("Content-Type", "application/json"),
        ],
        Some(Value::Array(six.clone()).to_string().as_bytes()),
    );
    assert_framing_error(&r, 413, "batch_oversize");
    assert_eq!(r.json()["rejected"][0]["detail"], json!("6 items; limit 5"));
    let r = server.request(
        "POST",
        "/v1/events",
        &[
            ("X-API-Key", "k-zero"),
            ("Content-Type", "application/x-ndjson"),
        ],
        Some(&ndjson(&six)),
    );
    assert_framing_error(&r, 413, "batch_oversize");
    let mut h = auth_headers("application/x-ndjson");
    h.push(("Content-Encoding", "gzip"));
    let r = server.request("POST", "/v1/events", &h, Some(&gzip(&ndjson(&six))));
    assert_framing_error(&r, 413, "batch_oversize");

    // Exactly the batch limit passes; both credential forms and scheme case work.
    let five: Vec<Value> = (0..5)
        .map(|i| ok_event(&format!("ok-batch-{i}"), "b"))
        .collect();
    let r = server.request(
        "POST",
        "/v1/events",
        &[
            ("X-API-Key", "k-zero"),
            ("Content-Type", "application/x-ndjson"),
        ],
        Some(&ndjson(&five)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_envelope(&r.json(), 5, 0, 0);
    let r = server.request(
        "POST",
        "/v1/events",
        &[
            ("Authorization", "bEaReR k-one"),
            ("Content-Type", "application/json"),
        ],
        Some(event("ok-bearer-case").to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_envelope(&r.json(), 1, 0, 0);

    // Nothing from any failed request was stored.
    assert_eq!(
        server.scalar("SELECT count(*) FROM events WHERE event_id LIKE 'bad-%'"),
        0
    );
    assert_eq!(server.count(), 7);
    server.stop_graceful();
}

#[test]
fn validate_endpoint_checks_like_ingest_but_never_writes_or_dedups() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &["--max-batch-events", "3"], &[]);
    let stored = event("val-stored");
    assert_envelope(&server.ingest(std::slice::from_ref(&stored)), 1, 0, 0);

    let mut bad = event("val-bad");
    bad["kind"] = json!("grpc");
    let items = vec![event("val-twice"), event("val-twice"), bad];
    let r = server.request(
        "POST",
        "/v1/events/validate",
        &[("Content-Type", "application/json")],
        Some(Value::Array(items).to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_envelope(&v, 2, 0, 1);
    assert_eq!(v["rejected"][0]["index"], json!(2));
    assert_eq!(v["rejected"][0]["event_id"], json!("val-bad"));
    assert_eq!(
        v["rejected"][0]["reason"],
        json!("schema_validation_failed")
    );

    // An id already stored is still `accepted` by validate (no dedup).
    let r = server.request(
        "POST",
        "/v1/events/validate",
        &[("Content-Type", "application/x-ndjson")],
        Some(&ndjson(&[stored])),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_envelope(&r.json(), 1, 0, 0);

    // Request checks apply to validate too.
    let r = server.get("/v1/events/validate");
    assert_plain_error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    let r = server.request(
        "POST",
        "/v1/events/validate",
        &[("Content-Type", "text/plain")],
        Some(b"{}"),
    );
    assert_framing_error(&r, 415, "unsupported_content_type");
    let four: Vec<Value> = (0..4).map(|i| ok_event(&format!("val-{i}"), "v")).collect();
    let r = server.request(
        "POST",
        "/v1/events/validate",
        &[("Content-Type", "application/json")],
        Some(Value::Array(four).to_string().as_bytes()),
    );
    assert_framing_error(&r, 413, "batch_oversize");

    assert_eq!(server.count(), 1, "validate wrote nothing");
    assert_eq!(
        server.scalar("SELECT count(*) FROM events WHERE event_id = 'val-twice'"),
        0
    );
    // The ids validate saw were not remembered: ingesting them now accepts them.
    let r = server.ingest(&[event("val-twice")]);
    assert_envelope(&r, 1, 0, 0);
    server.stop_graceful();
}

#[test]
fn ingest_rate_limit_is_checked_before_the_credential() {
    let dir = TestDir::new();
    let server = Server::start(
        &dir.data_dir(),
        &["--rate-limit-write-rps", "2"],
        &[("WAYLOG_WRITE_KEY", WRITE_KEY)],
    );
    let body = event("bad-rate").to_string();
    let wrong = [
        ("Authorization", "Bearer wrong"),
        ("Content-Type", "application/json"),
    ];
    // The bucket of this credential holds 2 tokens: two 401s, then 429 before any auth check.
    for _ in 0..2 {
        let r = server.request("POST", "/v1/events", &wrong, Some(body.as_bytes()));
        assert_plain_error(&r, 401, "unauthorized");
    }
    let r = server.request("POST", "/v1/events", &wrong, Some(body.as_bytes()));
    assert_plain_error(&r, 429, "rate_limited");
    assert_eq!(r.header("retry-after"), Some("1"));
    // Another credential has its own bucket.
    let r = server.request(
        "POST",
        "/v1/events",
        &auth_headers("application/json"),
        Some(event("ok-rate").to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(server.count(), 1);
    server.stop_graceful();
}
