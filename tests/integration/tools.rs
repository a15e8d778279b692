//! The agent surface through the real server (spec reads §6, §1.1): the route × scope matrix,
//! every tool of `GET /v1/tools` called against seeded data with its result checked against
//! its declared output schema (the `jsonschema` crate), the error rows, envelope mode,
//! idempotency replay and conflict, `POST /mcp`, and the official Python MCP SDK as the client
//! over stdio (`waylog mcp`) and Streamable HTTP (peer `tests/peers/mcp_client.py`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use waylog::incidents::model::{Cause, Confidence, ErrorFamily, Incident, Status};
use waylog::incidents::store::{StoredIncident, incidents_to_batch};

use crate::harness::*;

const AGENT_KEY: &str = "ak-tools";
const READ_KEY: &str = "rk-tools";
const WRITE_KEY: &str = "wk-tools";
const INCIDENT: &str = "inc_00000000000000a1";
pub const AGENT: (&str, &str) = ("Authorization", "Bearer ak-tools");

/// One active incident of the family the seeded events fail with, written before start.
fn write_incident(data_dir: &Path) {
    let now = now_ns();
    let mut inc = Incident::skeleton(
        INCIDENT.into(),
        "prod".into(),
        ErrorFamily::new("checkout", "payment.charge", "PMT_502"),
        now - 120 * SEC_NS,
        now - 5 * SEC_NS,
    );
    inc.status = Status::Active;
    inc.cause = Cause::Dependency;
    inc.confidence = Confidence::High;
    inc.affected_requests = 3;
    inc.affected_services = 1;
    inc.sample_traces = vec![];
    let stored = StoredIncident {
        written_at_ns: inc.updated_at,
        incident: inc,
        version: 1,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let cfg = storage_config(data_dir, Duration::from_secs(7 * 86400));
        let (storage, _) = Storage::open(cfg, Arc::new(waylog::clock::SystemClock))
            .await
            .unwrap();
        storage
            .append(
                TableId::IncidentVersions,
                incidents_to_batch(&[stored]).unwrap(),
            )
            .await
            .unwrap();
        storage.close().unwrap();
    });
}

/// A server with all three scopes closed, the incident and three failed requests.
pub struct Seeded {
    _dir: TestDir,
    pub server: Server,
    pub trace_id: String,
    pub event_id: String,
}

pub fn seeded(extra_env: &[(&str, &str)]) -> Seeded {
    let dir = TestDir::new();
    write_incident(&dir.data_dir());
    let mut env = vec![
        ("WAYLOG_AGENT_KEY", AGENT_KEY),
        ("WAYLOG_READ_KEY", READ_KEY),
        ("WAYLOG_WRITE_KEY", WRITE_KEY),
        ("WAYLOG_INCIDENTS_ENABLED", "false"),
    ];
    env.extend_from_slice(extra_env);
    let server = Server::start(&dir.data_dir(), &[], &env);
    let events: Vec<Value> = (0..3).map(|i| event(&format!("evt_tools_{i}"))).collect();
    let trace_id = events[0]["trace_id"].as_str().unwrap().to_owned();
    let r = server.request(
        "POST",
        "/v1/events",
        &[
            ("Authorization", "Bearer wk-tools"),
            ("Content-Type", "application/x-ndjson"),
        ],
        Some(&ndjson(&events)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    Seeded {
        _dir: dir,
        server,
        trace_id,
        event_id: "evt_tools_0".into(),
    }
}

fn call(server: &Server, name: &str, params: &Value) -> Resp {
    let body = params.to_string();
    server.request(
        "POST",
        &format!("/v1/tools/{name}"),
        &[AGENT, ("Content-Type", "application/json")],
        Some(body.as_bytes()),
    )
}

pub fn assert_tool_error(r: &Resp, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    let e = r.json()["error"].clone();
    assert_eq!(e["code"], code, "{}", r.body);
    assert!(
        e["retryable"].is_boolean() && e["detail"].is_string(),
        "{e}"
    );
    e
}

#[test]
fn agent_routes_need_the_agent_key_and_no_other() {
    let s = seeded(&[]);
    let routes: &[(&str, &str)] = &[
        ("GET", "/v1/tools"),
        ("POST", "/v1/tools/query_sql"),
        ("POST", "/mcp"),
        ("POST", "/v1/plans/execute"),
        ("POST", "/v1/ask"),
        ("GET", "/v1/stream/plans/0123456789abcdef"),
    ];
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    for (method, path) in routes {
        for creds in [
            vec![],
            vec![("Authorization", "Bearer rk-tools")],
            vec![("X-API-Key", "wk-tools")],
            vec![("Authorization", "Bearer nope")],
        ] {
            let r = s.server.request(method, path, &creds, Some(body));
            assert_eq!(r.status, 401, "{method} {path} {creds:?}: {}", r.body);
            assert_eq!(
                r.header("www-authenticate"),
                Some(r#"Bearer realm="waylog", scope="agent""#)
            );
        }
        for creds in [[AGENT], [("X-API-Key", AGENT_KEY)]] {
            let r = s.server.request(method, path, &creds, Some(body));
            assert_ne!(r.status, 401, "{method} {path}: {}", r.body);
        }
    }
    // The agent key opens no read route; 405 comes after the credential check.
    let r = s.server.request("GET", "/v1/errors", &[AGENT], None);
    assert_eq!(r.status, 401);
    let r = s.server.request("GET", "/v1/triage/x", &[AGENT], None);
    assert_eq!(r.status, 401);
    let r = s.server.request("DELETE", "/v1/tools", &[AGENT], None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET"));
    let r = s.server.request("GET", "/mcp", &[AGENT], None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
}

#[test]
fn prod_refuses_an_open_agent_scope() {
    let dir = TestDir::new();
    let out = Command::new(BIN)
        .args(["serve", "--profile", "prod"])
        .env("WAYLOG_DATA_DIR", dir.data_dir())
        .env("WAYLOG_WRITE_KEY", "w")
        .env("WAYLOG_READ_KEY", "r")
        .env_remove("WAYLOG_AGENT_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("set WAYLOG_AGENT_KEY"), "{err}");
}

/// Validate `instance` against `schema` with an independent JSON Schema implementation.
fn assert_matches_schema(tool: &str, schema: &Value, instance: &Value) {
    let validator = jsonschema::validator_for(schema)
        .unwrap_or_else(|e| panic!("{tool}: output_schema is not a valid schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{tool}: {errors:?}\n{instance}");
}

#[test]
fn every_tool_answers_and_matches_its_output_schema() {
    let s = seeded(&[]);
    let r = s.server.request("GET", "/v1/tools", &[AGENT], None);
    assert_eq!(r.status, 200, "{}", r.body);
    let listing = r.json();
    let tools = listing["tools"].as_array().unwrap();
    assert_eq!(listing["count"], tools.len());
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "listing sorted by name");
    let params_for = |name: &str| -> Option<Value> {
        Some(match name {
            "explain_request" => json!({"trace_id": s.trace_id}),
            "blast_radius" => json!({"error_code": "PMT_502", "window": "15m"}),
            "triage_incident" => json!({"incident_id": INCIDENT, "snapshot": true}),
            "render_triage_report" => json!({"incident_id": INCIDENT, "format": "pagerduty"}),
            "list_active_incidents" => json!({"env": "prod"}),
            "query_sql" => {
                json!({"sql": "SELECT service, count(*) AS n FROM events GROUP BY service ORDER BY service"})
            }
            "graph_stats" => json!({"window": "15m"}),
            "trace_summary" => json!({"trace_id": s.trace_id}),
            "graph_failures" => json!({"window": "15m", "limit": 2}),
            "failure_patterns" => json!({}),
            "failure_chain" => json!({"request_id": s.trace_id}),
            "compare_windows" => json!({"current": "15m", "baseline": "15m"}),
            "graph_insights" => json!({"window": "15m", "top_errors": 1}),
            // Answers EMPTY_RESULT for this incident: checked with the error rows.
            "suspect_change" => return None,
            other => panic!("no test params for tool {other}"),
        })
    };
    for tool in tools {
        let name = tool["name"].as_str().unwrap();
        for key in ["description", "version"] {
            assert!(
                tool[key].as_str().is_some_and(|v| !v.is_empty()),
                "{name}.{key}"
            );
        }
        assert_eq!(
            tool["input_schema"]["additionalProperties"], false,
            "{name}"
        );
        jsonschema::validator_for(&tool["input_schema"]).expect("input schema is a schema");
        let examples = tool["examples"].as_array().unwrap();
        assert!(!examples.is_empty(), "{name} has examples");
        for ex in examples {
            assert_matches_schema(name, &tool["input_schema"], &ex["params"]);
        }
        let Some(params) = params_for(name) else {
            continue;
        };
        let r = call(&s.server, name, &params);
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_matches_schema(name, &tool["output_schema"], &r.json());
    }
    // A few answers carry the seeded data.
    let story = call(
        &s.server,
        "explain_request",
        &json!({"event_id": s.event_id}),
    )
    .json();
    assert_eq!(story["event_id"], s.event_id);
    assert_eq!(story["anchor"]["error_code"], "PMT_502");
    let blast = call(&s.server, "blast_radius", &json!({"error_code": "PMT_502"})).json();
    assert_eq!(blast["affected_requests"], 3);
    assert_eq!(blast["window"], "15m0s");
    let sql = call(
        &s.server,
        "query_sql",
        &json!({"sql": "SELECT count(*) AS n FROM events", "limit": 5}),
    )
    .json();
    assert_eq!(sql["rows"], json!([[3]]));
    assert_eq!(sql["truncated"], false);
    let stats = call(&s.server, "graph_stats", &json!({})).json();
    assert_eq!(
        (
            stats["events"].clone(),
            stats["requests"].clone(),
            stats["failed_requests"].clone(),
            stats["failures"].clone()
        ),
        (json!(3), json!(3), json!(3), json!(1))
    );
    assert_eq!(stats["window"], "1h0m0s");
    let summary = call(&s.server, "trace_summary", &json!({"trace_id": s.trace_id})).json();
    assert_eq!(summary["error_code"], "PMT_502");
    assert_eq!(summary["error_path"], "checkout/payment.charge");
    assert_eq!(summary["error_reason"], "acquirer returned 502");
    assert_eq!(summary["paths"], json!([["checkout"]]));
    let failures = call(&s.server, "graph_failures", &json!({"limit": 2})).json();
    assert_eq!(
        (
            failures["total_count"].clone(),
            failures["has_more"].clone()
        ),
        (json!(3), json!(true))
    );
    assert_eq!(failures["failures"][0]["tier"], "gold");
    // The error fields as trace_summary's, error_reason included (reads §6.3).
    for row in failures["failures"].as_array().unwrap() {
        assert_eq!(row["error_reason"], "acquirer returned 502", "{row}");
        assert_eq!(row["error_path"], "checkout/payment.charge", "{row}");
    }
    assert_eq!(
        call(&s.server, "graph_failures", &json!({"tier": "silver"})).json()["total_count"],
        0
    );
    let patterns = call(&s.server, "failure_patterns", &json!({})).json();
    assert_eq!(
        patterns["patterns"],
        json!([{"error_code": "PMT_502", "flow": "/checkout", "user_tier": "gold", "feature_flags": [], "count": 3}])
    );
    let insights = call(&s.server, "graph_insights", &json!({"top_services": 0})).json();
    assert_eq!(insights["total_failures"], 3);
    assert_eq!(
        insights["top_errors"],
        json!([{"error_code": "PMT_502", "count": 3}])
    );
    assert_eq!(insights["top_services"], json!([]));
    let cmp = call(
        &s.server,
        "compare_windows",
        &json!({"current": "15m", "baseline": "15m"}),
    )
    .json();
    assert_eq!(
        cmp["new"],
        json!([{"error_code": "PMT_502", "before": 0, "after": 3, "delta": 3}])
    );
    assert_eq!(
        (
            cmp["total_requests_after"].clone(),
            cmp["latency_p50_after"].clone()
        ),
        (json!(3), json!(62))
    );
    assert_tool_error(
        &call(
            &s.server,
            "compare_windows",
            &json!({"current": "15m", "baseline": "15m", "offset": "1h", "anchor": "2026-01-01T00:00:00Z"}),
        ),
        400,
        "INVALID_PARAMS",
    );
    assert_eq!(
        call(&s.server, "failure_chain", &json!({"trace_id": s.trace_id})).json()["services"],
        json!(["checkout"])
    );
    let list = call(&s.server, "list_active_incidents", &json!({})).json();
    assert_eq!(list["count"], 1);
    assert_eq!(list["incidents"][0]["incident_id"], INCIDENT);
    assert_eq!(
        list["incidents"][0]["needs_judgment"], true,
        "no suspect deploy"
    );
    assert_eq!(list["incidents"][0]["affected_users"], Value::Null);
    // The tool's report is the read route's report.
    let report = call(
        &s.server,
        "triage_incident",
        &json!({"incident_id": INCIDENT, "snapshot": true}),
    )
    .json();
    let read = s.server.request(
        "GET",
        &format!("/v1/triage/{INCIDENT}?snapshot=true"),
        &[("Authorization", "Bearer rk-tools")],
        None,
    );
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(report["report_hash"], read.json()["report_hash"]);
    let rendered = call(
        &s.server,
        "render_triage_report",
        &json!({"incident_id": INCIDENT, "snapshot": true}),
    )
    .json();
    assert_eq!(rendered["format"], "markdown");
    assert_eq!(rendered["content_type"], "text/markdown; charset=utf-8");
    assert!(
        rendered["body"]
            .as_str()
            .unwrap()
            .contains(report["report_hash"].as_str().unwrap())
    );
}

#[test]
fn error_rows_envelope_and_idempotency() {
    let s = seeded(&[]);
    let server = &s.server;
    // §6.1 rows.
    let e = assert_tool_error(&call(server, "nope", &json!({})), 404, "NOT_FOUND");
    assert_eq!(e["message"], "unknown tool \"nope\"");
    let e = assert_tool_error(
        &call(server, "query_sql", &json!({})),
        400,
        "INVALID_PARAMS",
    );
    assert_eq!(e["message"], "missing required param \"sql\"");
    let e = assert_tool_error(
        &call(server, "query_sql", &json!({"sql": "SELECT 1", "x": 1})),
        400,
        "INVALID_PARAMS",
    );
    assert_eq!(e["message"], "unknown param \"x\"");
    assert_tool_error(
        &call(server, "query_sql", &json!({"sql": 7})),
        400,
        "INVALID_PARAMS",
    );
    assert_tool_error(
        &call(server, "query_sql", &json!({"sql": "DROP TABLE events"})),
        400,
        "INVALID_PARAMS",
    );
    assert_tool_error(
        &call(server, "list_active_incidents", &json!({"limit": 201})),
        400,
        "INVALID_PARAMS",
    );
    assert_tool_error(
        &call(
            server,
            "blast_radius",
            &json!({"error_code": "X", "window": "400d"}),
        ),
        400,
        "INVALID_PARAMS",
    );
    assert_tool_error(
        &call(server, "explain_request", &json!({})),
        400,
        "INVALID_PARAMS",
    );
    assert_tool_error(
        &call(
            server,
            "explain_request",
            &json!({"trace_id": "0123456789abcdef0123456789abcdef"}),
        ),
        404,
        "NOT_FOUND",
    );
    assert_tool_error(
        &call(
            server,
            "triage_incident",
            &json!({"incident_id": "inc_missing"}),
        ),
        404,
        "NOT_FOUND",
    );
    let e = assert_tool_error(
        &call(server, "suspect_change", &json!({"incident_id": INCIDENT})),
        200,
        "EMPTY_RESULT",
    );
    assert_eq!(e["retryable"], false);
    let post = |body: &[u8], headers: &[(&str, &str)]| {
        let mut h = vec![AGENT];
        h.extend_from_slice(headers);
        server.request("POST", "/v1/tools/list_active_incidents", &h, Some(body))
    };
    let e = assert_tool_error(&post(b"{nope", &[]), 400, "INVALID_PARAMS");
    assert_eq!(e["message"], "invalid json body");
    let e = assert_tool_error(&post(b"[1]", &[]), 400, "INVALID_PARAMS");
    assert_eq!(e["message"], "params must be a JSON object");
    assert_eq!(post(b"", &[]).status, 200, "an empty body is {{}}");
    let big = vec![b' '; (1 << 20) + 10];
    assert_tool_error(&post(&big, &[]), 413, "PAYLOAD_TOO_LARGE");

    // Envelope mode, by parameter or Accept.
    let check_envelope = |r: &Resp, data_status: &str, cached: bool| {
        assert_eq!(r.header("waylog-api-version"), Some("2026-03-02"));
        assert_eq!(r.header("vary"), Some("Accept"));
        let v = r.json();
        assert_eq!(v["meta"]["data_status"], data_status, "{v}");
        assert_eq!(v["meta"]["api_version"], "2026-03-02");
        assert_eq!(v["meta"]["cached"], cached);
        assert!(v["meta"]["duration_ms"].is_u64());
        assert_eq!(v["meta"]["request_id"], r.header("x-request-id").unwrap());
        v
    };
    let r = server.request(
        "POST",
        "/v1/tools/query_sql?envelope=v2",
        &[AGENT],
        Some(br#"{"sql":"SELECT 1 AS one"}"#),
    );
    assert_eq!(r.status, 200);
    let v = check_envelope(&r, "complete", false);
    assert_eq!(v["data"]["rows"], json!([[1]]));
    assert_eq!(v["error"], Value::Null);
    let r = server.request(
        "POST",
        "/v1/tools/suspect_change",
        &[AGENT, ("Accept", "application/json;envelope=v2")],
        Some(format!(r#"{{"incident_id":"{INCIDENT}"}}"#).as_bytes()),
    );
    let v = check_envelope(&r, "empty", false);
    assert_eq!(
        (v["data"].clone(), v["error"]["code"].clone()),
        (Value::Null, json!("EMPTY_RESULT"))
    );
    let r = server.request("POST", "/v1/tools/nope?envelope=v2", &[AGENT], None);
    assert_eq!(r.status, 404);
    check_envelope(&r, "error", false);
    let e = assert_tool_error(
        &server.request("POST", "/v1/tools/query_sql?envelope=v3", &[AGENT], None),
        400,
        "INVALID_PARAMS",
    );
    assert!(e["message"].as_str().unwrap().contains("v3"));
    let r = server.request("GET", "/v1/tools?envelope=v2", &[AGENT], None);
    assert!(
        check_envelope(&r, "complete", false)["data"]["count"]
            .as_u64()
            .unwrap()
            > 0
    );

    // Idempotency: replay, conflict, bad keys, per-path keys.
    let sql = br#"{"sql":"SELECT count(*) AS n FROM events"}"#;
    let with_key = |path: &str, key: &str, body: &[u8]| {
        server.request("POST", path, &[AGENT, ("Idempotency-Key", key)], Some(body))
    };
    let first = with_key("/v1/tools/query_sql", "k-1", sql);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("idempotent-replayed"), None);
    // New data arrives; the replay still answers the stored outcome.
    let r = server.request(
        "POST",
        "/v1/events",
        &[
            ("Authorization", "Bearer wk-tools"),
            ("Content-Type", "application/json"),
        ],
        Some(event("evt_tools_late").to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let again = with_key("/v1/tools/query_sql", "k-1", sql);
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), first.json());
    let fresh = with_key("/v1/tools/query_sql", "k-2", sql);
    assert_eq!(fresh.json()["rows"], json!([[4]]));
    let r = server.request(
        "POST",
        "/v1/tools/query_sql?envelope=v2",
        &[AGENT, ("Idempotency-Key", "k-1")],
        Some(sql),
    );
    assert_eq!(check_envelope(&r, "complete", true)["data"], first.json());
    let e = assert_tool_error(
        &with_key("/v1/tools/query_sql", "k-1", br#"{"sql":"SELECT 2"}"#),
        409,
        "CONFLICT",
    );
    assert_eq!(
        e["message"],
        "idempotency key re-used with a different body"
    );
    // The key is per path: the same key on another tool is another entry.
    assert_eq!(
        with_key("/v1/tools/list_active_incidents", "k-1", b"{}").status,
        200
    );
    // A 404 is kept (30 s), replayed with its status.
    assert_eq!(with_key("/v1/tools/nope", "k-3", b"{}").status, 404);
    let r = with_key("/v1/tools/nope", "k-3", b"{}");
    assert_eq!(
        (r.status, r.header("idempotent-replayed")),
        (404, Some("true"))
    );
    let long = "x".repeat(256);
    assert_tool_error(
        &with_key("/v1/tools/query_sql", &long, sql),
        400,
        "INVALID_PARAMS",
    );
}

#[test]
fn mcp_over_http_answers_json_rpc() {
    let s = seeded(&[]);
    let rpc = |body: &str| {
        s.server.request(
            "POST",
            "/mcp",
            &[AGENT, ("Content-Type", "application/json")],
            Some(body.as_bytes()),
        )
    };
    let r = rpc(
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#,
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["result"]["protocolVersion"], "2024-11-05");
    assert_eq!(
        v["result"]["serverInfo"],
        json!({"name": "waylog", "version": env!("CARGO_PKG_VERSION")})
    );
    assert_eq!(
        v["result"]["capabilities"],
        json!({"tools": {"listChanged": false}})
    );
    let r = rpc(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    assert_eq!((r.status, r.body.as_str()), (202, ""));
    let r = rpc(
        r#"[{"jsonrpc":"2.0","id":"a","method":"tools/list"},{"jsonrpc":"2.0","id":"b","method":"tools/call","params":{"name":"query_sql","arguments":{"sql":"SELECT count(*) AS n FROM events"}}}]"#,
    );
    let v = r.json();
    assert_eq!(v[0]["id"], "a");
    assert!(
        v[0]["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["inputSchema"].is_object() && t["outputSchema"].is_object())
    );
    assert_eq!(v[1]["result"]["structuredContent"]["rows"], json!([[3]]));
    let r = rpc("{oops");
    assert_eq!(r.json()["error"]["code"], -32700);
    assert_eq!(r.json()["id"], Value::Null);
    let big = format!("[{}]", " ".repeat(1 << 20));
    let r = rpc(&big);
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (200, json!(-32600))
    );
    let r = rpc(r#"{"jsonrpc":"2.0","id":7,"method":"resources/list"}"#);
    assert_eq!(
        (r.json()["id"].clone(), r.json()["error"]["code"].clone()),
        (json!(7), json!(-32601))
    );
}

fn mcp_python() -> String {
    let python = test_python();
    let probe = Command::new(&python)
        .args(["-c", "import mcp.client.stdio, mcp.client.streamable_http"])
        .output();
    match probe {
        Ok(o) if o.status.success() => python,
        other => panic!(
            "{python} cannot import the MCP SDK ({other:?}); run scripts/setup-test-deps.sh and set WAYLOG_TEST_PYTHON"
        ),
    }
}

fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/mcp_client.py")
}

/// Run the peer over `transport`; returns what it saw.
fn run_mcp_peer(python: &str, transport: &str, url: &str, key: &str) -> Value {
    let mut cmd = Command::new(python);
    cmd.arg(peer_script()).arg(transport);
    if transport == "stdio" {
        cmd.arg(BIN);
    }
    cmd.args([url, key, INCIDENT]);
    for (k, _) in std::env::vars() {
        if k.starts_with("WAYLOG_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "mcp_client.py {transport} failed ({}): {stdout}\nstderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn python_mcp_sdk_over_stdio_and_http() {
    let python = mcp_python();
    let s = seeded(&[]);
    let report = s.server.request(
        "GET",
        &format!("/v1/triage/{INCIDENT}?snapshot=true"),
        &[("Authorization", "Bearer rk-tools")],
        None,
    );
    let hash = report.json()["report_hash"].clone();
    for transport in ["stdio", "http"] {
        let seen = run_mcp_peer(&python, transport, &s.server.url, AGENT_KEY);
        assert_eq!(seen["protocol_version"], "2025-06-18", "{transport}");
        assert_eq!(seen["server_name"], "waylog");
        let tools = seen["tools"].as_array().unwrap();
        assert!(tools.contains(&json!("query_sql")) && tools.contains(&json!("triage_incident")));
        assert_eq!(seen["output_schemas"], tools.len());
        assert_eq!(seen["query_sql"]["is_error"], false, "{transport}: {seen}");
        assert_eq!(seen["query_sql"]["structured"]["rows"], json!([[3]]));
        assert_eq!(seen["list_active_incidents"]["structured"]["count"], 1);
        assert_eq!(seen["triage_incident"]["structured"]["report_hash"], hash);
        assert_eq!(seen["forbidden_sql"]["is_error"], true);
        assert!(
            seen["forbidden_sql"]["text"]
                .as_str()
                .unwrap()
                .starts_with("[INVALID_PARAMS] ")
        );
        assert_eq!(
            seen["unknown_tool"]["text"],
            "[NOT_FOUND] unknown tool \"no_such_tool\""
        );
    }
}

#[test]
fn waylog_mcp_reports_an_unreachable_server_as_a_tool_error() {
    let mut child = Command::new(BIN)
        .arg("mcp")
        .env("WAYLOG_URL", "http://127.0.0.1:9")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().unwrap();
        writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"query_sql","arguments":{{"sql":"SELECT 1"}}}}}}"#).unwrap();
        writeln!(stdin, "not json").unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["result"]["isError"], true);
    assert!(
        lines[0]["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("[INTERNAL] transport error: "),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1]["error"]["code"], -32700);
}

#[test]
fn capabilities_report_mcp_and_llm_as_configured() {
    let caps = |env: &[(&str, &str)]| {
        let dir = TestDir::new();
        let server = Server::start(&dir.data_dir(), &[], env);
        let v = server.get("/v1/capabilities").json();
        let mcp = server.request(
            "POST",
            "/mcp",
            &[],
            Some(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
        );
        (v, mcp.status)
    };
    let (v, mcp) = caps(&[]);
    assert_eq!(v["mcp"], json!({"stdio": true, "http": true}));
    assert_eq!(mcp, 200);
    assert_eq!(v["llm"]["provider"], "none");
    assert_eq!(
        (v["llm"]["configured"].clone(), v["ask"]["enabled"].clone()),
        (json!(false), json!(false))
    );
    let (v, mcp) = caps(&[
        ("WAYLOG_MCP_HTTP", "false"),
        ("OPENAI_API_KEY", "sk-test"),
        ("WAYLOG_LLM_MODEL", "gpt-test"),
    ]);
    assert_eq!(v["mcp"], json!({"stdio": true, "http": false}));
    assert_eq!(mcp, 404, "no /mcp route when it is off");
    assert_eq!(
        v["llm"],
        json!({"provider": "openai", "model": "gpt-test", "tool_mode": "native", "configured": true, "ask_enabled": true})
    );
    assert_eq!(v["ask"]["enabled"], true);
    // An unknown provider stops the server at startup.
    let dir = TestDir::new();
    let out = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("WAYLOG_DATA_DIR", dir.data_dir())
        .env("WAYLOG_LLM_PROVIDER", "llama")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("WAYLOG_LLM_PROVIDER"));
}

fn plan(server: &Server, body: &Value, headers: &[(&str, &str)]) -> Resp {
    let mut h = vec![AGENT, ("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    server.request(
        "POST",
        "/v1/plans/execute",
        &h,
        Some(body.to_string().as_bytes()),
    )
}

/// `curl -N` as the SSE client: the whole stream of a finished plan (it ends after `done`).
fn curl_stream(server: &Server, plan_id: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "-N", "-D", "-", "--max-time", "20", "-H"])
        .arg(format!("Authorization: Bearer {AGENT_KEY}"))
        .arg(format!("{}/v1/stream/plans/{plan_id}", server.url))
        .output()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap();
    (head.to_ascii_lowercase(), body.to_owned())
}

/// `(event, data)` of every frame of an SSE body.
fn sse_frames(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|f| !f.trim().is_empty() && !f.starts_with(':'))
        .map(|f| {
            let mut event = String::new();
            let mut data = Value::Null;
            for line in f.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap();
                }
            }
            (event, data)
        })
        .collect()
}

#[test]
fn plans_run_halt_replay_and_stream() {
    let s = seeded(&[]);
    let server = &s.server;
    // Two steps, the second fed by the first.
    let body = json!({"steps": [
        {"id": "rollup", "tool": "graph_insights", "params": {"window": "10m"}},
        {"id": "blast", "tool": "blast_radius",
         "params": {"error_code": "$steps[\"rollup\"].result.top_errors[0].error_code"}}]});
    let r = plan(server, &body, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let plan_id = r.header("x-plan-id").unwrap().to_owned();
    assert_eq!(v["plan_id"], plan_id);
    assert!(
        plan_id.len() == 16
            && plan_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(
        (
            v["status"].clone(),
            v["completed"].clone(),
            v["total"].clone()
        ),
        (json!("complete"), json!(2), json!(2))
    );
    assert_eq!(
        v["steps"][1]["result"]["key"],
        json!({"error_code": "PMT_502"})
    );
    assert_eq!(v["steps"][1]["error"], Value::Null);
    assert!(v.get("halted_at").is_none() && v.get("error").is_none());

    // The stream replays the logged frames and ends after `done`.
    let (head, body) = curl_stream(server, &plan_id);
    for h in [
        "content-type: text/event-stream",
        "cache-control: no-cache",
        "x-accel-buffering: no",
    ] {
        assert!(head.contains(h), "{h} in {head}");
    }
    let frames = sse_frames(&body);
    let events: Vec<&str> = frames.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        events,
        [
            "step_start",
            "step_complete",
            "step_start",
            "step_complete",
            "done"
        ]
    );
    assert_eq!(
        frames[0].1,
        json!({"index": 0, "id": "rollup", "tool": "graph_insights"})
    );
    assert_eq!(frames[3].1["status"], "ok");
    assert_eq!(
        frames[4].1,
        json!({"status": "complete", "completed": 2, "total": 2})
    );
    let r = server.request("GET", "/v1/stream/plans/0123456789abcdef", &[AGENT], None);
    let e = assert_tool_error(&r, 404, "NOT_FOUND");
    assert_eq!(e["message"], "plan not found or expired");
    assert_eq!(
        server
            .request("GET", &format!("/v1/stream/plans/{plan_id}"), &[], None)
            .status,
        401
    );

    // Halting: a failed later step is `partial`, a failed first step `failed`.
    let halted = json!({"steps": [
        {"id": "q", "tool": "query_sql", "params": {"sql": "SELECT 1 AS one"}},
        {"id": "x", "tool": "explain_request", "params": {"trace_id": "0123456789abcdef0123456789abcdef"}},
        {"id": "never", "tool": "graph_stats"}]});
    let r = plan(server, &halted, &[]);
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(
        (
            v["status"].clone(),
            v["halted_at"].clone(),
            v["completed"].clone(),
            v["total"].clone()
        ),
        (json!("partial"), json!(1), json!(1), json!(3))
    );
    assert_eq!(v["steps"].as_array().unwrap().len(), 2);
    assert!(v["steps"][1].get("result").is_none());
    assert_eq!(v["steps"][1]["error"]["code"], "NOT_FOUND");
    assert_eq!(v["error"], v["steps"][1]["error"]);
    let frames = sse_frames(&curl_stream(server, r.header("x-plan-id").unwrap()).1);
    assert_eq!(frames[3].1["status"], "error");
    assert_eq!(frames[3].1["error"]["code"], "NOT_FOUND");
    assert_eq!(
        frames.last().unwrap().1,
        json!({"status": "partial", "completed": 1, "total": 3, "halted_at": 1})
    );
    let failed = json!({"steps": [
        {"id": "r", "tool": "graph_insights", "params": {"top_errors": 0}},
        {"id": "b", "tool": "blast_radius", "params": {"error_code": "$steps[\"r\"].result.top_errors[0].error_code"}}]});
    let v = plan(server, &failed, &[]).json();
    assert_eq!(
        (v["status"].clone(), v["halted_at"].clone()),
        (json!("partial"), json!(1))
    );
    assert_eq!(v["error"]["code"], "REF_RESOLVE_FAILED");
    let v = plan(
        server,
        &json!({"steps": [{"id": "x", "tool": "trace_summary", "params": {"trace_id": "nope"}}]}),
        &[],
    )
    .json();
    assert_eq!(
        (v["status"].clone(), v["completed"].clone()),
        (json!("failed"), json!(0))
    );

    // The triage template answers the read route's report.
    let v = plan(
        server,
        &json!({"template": "triage", "params": {"incident_id": INCIDENT, "snapshot": true}}),
        &[],
    )
    .json();
    let read = server.request(
        "GET",
        &format!("/v1/triage/{INCIDENT}?snapshot=true"),
        &[("Authorization", "Bearer rk-tools")],
        None,
    );
    assert_eq!(
        v["steps"][0]["result"]["report_hash"],
        read.json()["report_hash"]
    );

    // Validation and body errors.
    let e = assert_tool_error(
        &plan(
            server,
            &json!({"steps": [{"id": "a", "tool": "nope"}, {"id": "a", "tool": "graph_stats"}]}),
            &[],
        ),
        400,
        "INVALID_PLAN",
    );
    assert_eq!(
        e["message"],
        "step \"a\": unknown tool \"nope\"; duplicate step id \"a\""
    );
    let r = server.request("POST", "/v1/plans/execute", &[AGENT], Some(b"{nope"));
    assert!(
        assert_tool_error(&r, 400, "BAD_REQUEST")["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON: ")
    );
    let big = vec![b' '; (1 << 20) + 1];
    assert_tool_error(
        &server.request("POST", "/v1/plans/execute", &[AGENT], Some(&big)),
        413,
        "PAYLOAD_TOO_LARGE",
    );

    // Replays keep the original plan id; envelope mode wraps the answer.
    let once = json!({"steps": [{"id": "s", "tool": "graph_stats"}]});
    let first = plan(server, &once, &[("Idempotency-Key", "plan-1")]);
    let again = plan(server, &once, &[("Idempotency-Key", "plan-1")]);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("x-plan-id"), first.header("x-plan-id"));
    assert_eq!(again.json(), first.json());
    let r = server.request(
        "POST",
        "/v1/plans/execute?envelope=v2",
        &[AGENT],
        Some(once.to_string().as_bytes()),
    );
    let v = r.json();
    assert_eq!(v["data"]["plan_id"], r.header("x-plan-id").unwrap());
    assert_eq!(v["meta"]["data_status"], "complete");
}
