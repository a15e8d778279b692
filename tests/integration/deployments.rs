//! Deployments through the real server (spec events §5): upsert rules, every error of the
//! table, the listing with its error-rate comparison, CORS, automatic registration from OTLP
//! traffic, the `deployments` view in SQL and the CLI, and state kept across a restart.

use serde_json::{Value, json};

use crate::harness::*;

fn post(server: &Server, body: &[u8], extra: &[(&str, &str)]) -> Resp {
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    server.request("POST", "/v1/deployments", &headers, Some(body))
}

fn spec_example() -> Value {
    json!({"id": "deploy-8812", "service": "payment", "env": "prod", "version": "1.4.2",
           "metadata": {"pipeline": "gha-5521"}, "commit_sha": " 9fceb02 ",
           "pr_url": "https://git.example/pr/412", "commit_author": "dana", "ignored": [1, 2]})
}

fn listed(server: &Server, query: &str) -> Vec<Value> {
    let r = server.get(&format!("/v1/deployments{query}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["deployments"].as_array().unwrap().clone()
}

/// One OTLP/JSON export with one SERVER span of `service` at `version`.
fn otlp_span(service: &str, version: &str, span_id: &str) -> Vec<u8> {
    let now = now_ns();
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": service}},
            {"key": "service.version", "value": {"stringValue": version}},
            {"key": "deployment.environment.name", "value": {"stringValue": "prod"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": trace_id(), "spanId": span_id, "name": "GET /pay", "kind": 2,
            "startTimeUnixNano": (now - 2_000_000).to_string(),
            "endTimeUnixNano": now.to_string(),
            "attributes": [{"key": "http.request.method", "value": {"stringValue": "GET"}},
                           {"key": "http.response.status_code", "value": {"intValue": "200"}}]}]}]}]})
    .to_string()
    .into_bytes()
}

#[test]
fn deployments_upsert_list_conflict_cors_and_restart() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);

    let r = post(&server, spec_example().to_string().as_bytes(), &[]);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json(), json!({"id": "deploy-8812"}));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    let rows = listed(&server, "");
    assert_eq!(rows.len(), 1);
    let d = &rows[0];
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    // serde_json's map is sorted; the wire order is checked on the raw text below.
    assert!(keys.contains(&"error_rate_change"));
    assert_eq!(d["commit_sha"], "9fceb02", "commit members are trimmed");
    assert_eq!(d["metadata"], json!({"pipeline": "gha-5521"}));
    assert_eq!(d["error_rate_change"], Value::Null);
    assert_eq!(d["before_requests"], 0);
    let raw = server.get("/v1/deployments").body;
    let order = [
        "\"id\"",
        "\"service\"",
        "\"version\"",
        "\"env\"",
        "\"first_seen\"",
        "\"last_seen\"",
        "\"metadata\"",
        "\"commit_sha\"",
        "\"pr_url\"",
        "\"commit_author\"",
        "\"error_rate_change\"",
        "\"before_error_rate\"",
        "\"after_error_rate\"",
        "\"before_requests\"",
        "\"after_requests\"",
    ];
    let at: Vec<usize> = order.iter().map(|k| raw.find(k).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{raw}");
    let first_seen = d["first_seen"].as_str().unwrap().to_string();

    // Known id: first_seen stays, empty values do not erase, the service never changes.
    let again = json!({"id": "deploy-8812", "service": "other", "env": "prod", "version": ""});
    let r = post(&server, again.to_string().as_bytes(), &[]);
    assert_eq!(r.status, 201, "{}", r.body);
    let d = listed(&server, "?service=payment&unknown=1")[0].clone();
    assert_eq!(d["first_seen"], first_seen.as_str());
    assert_eq!(
        (d["service"].as_str(), d["version"].as_str()),
        (Some("payment"), Some("1.4.2"))
    );
    assert!(listed(&server, "?service=other").is_empty());

    // Errors of the §5.1 table; nothing is stored by any of them.
    let conflict = json!({"id": "deploy-8812", "service": "payment", "env": "staging"});
    for (body, status, code) in [
        (conflict.to_string(), 409, "ENV_CONFLICT"),
        ("[1]".to_string(), 400, "INVALID_JSON"),
        (
            r#"{"id":"x","service":"s","env":"e","version":3}"#.to_string(),
            400,
            "INVALID_JSON",
        ),
        (
            r#"{"id":"x","service":"s"}"#.to_string(),
            400,
            "MISSING_FIELDS",
        ),
        (
            r#"{"id":"","service":"s","env":"e"}"#.to_string(),
            400,
            "MISSING_FIELDS",
        ),
    ] {
        let r = post(&server, body.as_bytes(), &[]);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], code, "{body}");
    }
    // On its own connection: the server answers before reading the whole body.
    let r = try_post(
        &agent(),
        &format!("{}/v1/deployments", server.url),
        &[("Content-Type", "application/json")],
        &vec![b' '; 16 * 1024 * 1024 + 1],
    )
    .unwrap();
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "body_oversize");
    assert_eq!(
        server.scalar("SELECT count(*) FROM deployment_versions"),
        2,
        "two accepted upserts, nothing from the rejections"
    );

    // gzip bodies, any Content-Type.
    let body = json!({"id": "deploy-9", "service": "checkout", "env": "prod"}).to_string();
    let r = server.request(
        "POST",
        "/v1/deployments",
        &[("Content-Type", "text/plain"), ("Content-Encoding", "gzip")],
        Some(&gzip(body.as_bytes())),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let d = &listed(&server, "?service=checkout")[0];
    assert!(
        d.get("version").is_none() && d.get("metadata").is_none(),
        "{d}"
    );

    // CORS preflight without credentials; other methods 405.
    let r = server.request("OPTIONS", "/v1/deployments", &[], None);
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, POST, OPTIONS")
    );
    let r = server.request("DELETE", "/v1/deployments", &[], None);
    assert_eq!(r.status, 405, "{}", r.body);

    // The view holds the latest state per id; SQL and the CLI see it.
    let rows = server.query("SELECT id, version FROM deployments ORDER BY id");
    assert_eq!(
        rows,
        vec![
            vec![json!("deploy-8812"), json!("1.4.2")],
            vec![json!("deploy-9"), Value::Null]
        ]
    );
    let out = waylog_cli(&[
        "query",
        "--addr",
        &server.url,
        "SELECT count(*) AS n FROM deployments",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains('2'), "{}", out.stdout);

    // After a restart the upsert rules still see the stored state.
    server.stop_graceful();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    let r = post(
        &server,
        json!({"id": "deploy-8812", "service": "payment", "env": "staging"})
            .to_string()
            .as_bytes(),
        &[],
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let r = post(
        &server,
        json!({"id": "deploy-8812", "service": "payment", "env": "prod", "version": "1.4.3"})
            .to_string()
            .as_bytes(),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let d = listed(&server, "?service=payment")[0].clone();
    assert_eq!(
        (d["first_seen"].as_str(), d["version"].as_str()),
        (Some(first_seen.as_str()), Some("1.4.3"))
    );
}

#[test]
fn deployments_need_write_and_read_scopes() {
    let dir = TestDir::new();
    let server = Server::start(
        &dir.data_dir(),
        &[],
        &[("WAYLOG_WRITE_KEY", "w1"), ("WAYLOG_READ_KEY", "r1")],
    );
    let body = spec_example().to_string();
    let r = post(&server, body.as_bytes(), &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "unauthorized");
    let r = post(&server, body.as_bytes(), &[("Authorization", "Bearer w1")]);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(server.get("/v1/deployments").status, 401);
    let r = server.request("GET", "/v1/deployments", &[("X-API-Key", "r1")], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["deployments"][0]["id"], "deploy-8812");
}

#[test]
fn deployment_error_rates_compare_five_minutes_before_and_after() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    let now = now_ns();
    let sec = 1_000_000_000i64;
    // 20 events in the 4 minutes before: 2 failed; plus a suppressed one (never counted).
    let at = |id: String, failed: bool, ts: i64| -> Value {
        let mut e = if failed {
            event_at(&id, ts)
        } else {
            let mut e = ok_event(&id, "payment");
            e["ts_start"] = json!(rfc3339(ts));
            e["ts_end"] = json!(rfc3339(ts + 5_000_000));
            e
        };
        e["service"] = json!("payment");
        e
    };
    let mut events: Vec<Value> = (0..20)
        .map(|i| at(format!("before-{i}"), i < 2, now - 200 * sec + i * sec))
        .collect();
    let mut suppressed = at("before-suppressed".into(), false, now - 100 * sec);
    suppressed["status"] = json!("suppressed");
    events.push(suppressed);
    // An event long before the comparison window and one of another service: not counted.
    events.push(at("too-old".into(), false, now - 600 * sec));
    events.push(ok_event("other-service", "checkout"));
    let env = server.ingest(&events);
    assert_eq!(env["accepted"], 23, "{env}");

    let r = post(
        &server,
        br#"{"id":"d-rates","service":"payment","env":"prod"}"#,
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let d = &listed(&server, "")[0];
    let first_seen = d["first_seen"].as_str().unwrap().to_string();
    // 10 events after first_seen, 5 failed.
    let fs = waylog::rfc3339::parse_rfc3339_ns(&first_seen).unwrap();
    let after: Vec<Value> = (0..10)
        .map(|i| at(format!("after-{i}"), i < 5, fs + (i + 1) * sec))
        .collect();
    server.ingest(&after);
    let d = &listed(&server, "?window=30m")[0];
    assert_eq!(d["before_requests"], 20, "{d}");
    assert_eq!(d["after_requests"], 10, "{d}");
    assert_eq!(d["before_error_rate"], 0.1, "{d}");
    assert_eq!(d["after_error_rate"], 0.5, "{d}");
    let change = d["error_rate_change"].as_f64().unwrap();
    assert!((change - 5.0).abs() < 1e-9, "{d}");
}

#[test]
fn otlp_traffic_registers_new_versions_after_the_first_sighting() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    let send = |version: &str, span: &str| {
        let r = server.request(
            "POST",
            "/v1/traces",
            &[("Content-Type", "application/json")],
            Some(&otlp_span("payment", version, span)),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    send("1.0.0", "00000000000000a1");
    send("1.0.0", "00000000000000a2");
    // Events from /v1/events never register deployments.
    let mut native = ok_event("native-v2", "payment");
    native["version"] = json!("9.9.9");
    server.ingest(&[native]);
    send("1.1.0", "00000000000000a3");
    let ok = wait_until(std::time::Duration::from_secs(10), || {
        !listed(&server, "").is_empty()
    });
    assert!(ok, "the new version was registered");
    let rows = listed(&server, "");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["id"], "otlp:payment:prod:1.1.0");
    assert_eq!(rows[0]["metadata"], json!({"source": "otlp"}));
    assert_eq!(rows[0]["version"], "1.1.0");

    // A rollback re-registers the older id (new to the table here).
    send("1.0.0", "00000000000000a4");
    let ok = wait_until(std::time::Duration::from_secs(10), || {
        listed(&server, "").len() == 2
    });
    assert!(ok, "{:?}", listed(&server, ""));
    let ids: Vec<String> = server
        .query("SELECT id FROM deployments ORDER BY id")
        .into_iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["otlp:payment:prod:1.0.0", "otlp:payment:prod:1.1.0"]);
}
