//! `POST /v1/query` over HTTP (spec reads §5): body rules, the read-only rule, caps, error
//! classes and the three response formats; plus ingest backpressure (`503 overloaded`).

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

fn post_query(server: &Server, body: &Value, headers: &[(&str, &str)]) -> Resp {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    server.request("POST", "/v1/query", &h, Some(body.to_string().as_bytes()))
}

fn error_code(r: &Resp) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn query_api_applies_body_rules_caps_and_error_classes() {
    let dir = TestDir::new();
    let server = Server::start(
        &dir.data_dir(),
        &["--query-max-rows", "5", "--query-timeout", "2s"],
        &[("WAYLOG_READ_KEY", "rk")],
    );
    let auth = [("Authorization", "Bearer rk")];
    let events: Vec<Value> = (0..8)
        .map(|i| ok_event(&format!("q-{i}"), "checkout"))
        .collect();
    server.ingest(&events);

    // Scope and method.
    let r = post_query(&server, &json!({"sql": "SELECT 1"}), &[]);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"waylog\", scope=\"read\"")
    );
    let r = server.request("GET", "/v1/query", &auth, None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));

    // Body rules.
    for (body, code, detail) in [
        (
            json!({"sql": "SELECT 1", "bogus": 1}),
            "bad_request",
            "unknown field: bogus",
        ),
        (json!({"sql": "  "}), "bad_request", "sql"),
        (json!({}), "bad_request", "sql"),
        (
            json!({"sql": "SELECT 1", "limit": 0}),
            "bad_request",
            "limit",
        ),
        (
            json!({"sql": "SELECT 1", "limit": "5"}),
            "bad_request",
            "limit",
        ),
        (
            json!({"sql": "SELECT 1", "limit": 6}),
            "over_limit",
            "limit must be <= 5",
        ),
        (
            json!({"sql": "SELECT 1", "timeout_ms": 2001}),
            "over_limit",
            "timeout_ms must be <= 2000",
        ),
        (
            json!({"sql": "SELECT 1", "format": "xml"}),
            "bad_request",
            "format",
        ),
    ] {
        let r = post_query(&server, &body, &auth);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(error_code(&r), code, "{body}");
        let d = r.json()["error"]["detail"].as_str().unwrap().to_string();
        assert!(d.contains(detail), "{body}: {d}");
    }
    let big = "x".repeat((1 << 20) + 10);
    let r = server.request(
        "POST",
        "/v1/query",
        &[("Content-Type", "application/json"), auth[0]],
        Some(big.as_bytes()),
    );
    assert_eq!(r.status, 413);
    assert_eq!(error_code(&r), "body_oversize");

    // Read-only rule and error classes.
    for (sql, status, code) in [
        ("DROP TABLE events", 400, "statement_not_allowed"),
        ("SELECT 1; SELECT 2", 400, "statement_not_allowed"),
        (
            "INSERT INTO events SELECT * FROM events",
            400,
            "statement_not_allowed",
        ),
        ("SELEC 1", 400, "invalid_sql"),
        ("SELECT nope FROM events", 400, "invalid_sql"),
        ("SELECT * FROM not_a_table", 400, "invalid_sql"),
        ("SELECT CAST('abc' AS INT)", 400, "execution_error"),
    ] {
        let r = post_query(&server, &json!({"sql": sql}), &auth);
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (status, code),
            "{sql}: {}",
            r.body
        );
    }

    // Row cap: an outer limit of limit + 1 reports truncation.
    let r = post_query(
        &server,
        &json!({"sql": "SELECT event_id FROM events ORDER BY event_id", "limit": 3}),
        &auth,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["row_count"], json!(3));
    assert_eq!(v["truncated"], json!(true));
    assert_eq!(v["rows"], json!([["q-0"], ["q-1"], ["q-2"]]));
    assert_eq!(
        v["columns"],
        json!([{"name": "event_id", "type": "Utf8", "nullable": false}])
    );

    // Time cap.
    let r = post_query(
        &server,
        &json!({"sql": "SELECT count(*) FROM generate_series(1, 2000000000) a", "timeout_ms": 50}),
        &auth,
    );
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (504, "timeout"),
        "{}",
        r.body
    );

    // Catalog queries list the tables.
    // (SHOW TABLES lists in no fixed order and the row cap here is 5.)
    let r = post_query(
        &server,
        &json!({"sql": "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"}),
        &auth,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("\"events\""), "{}", r.body);
    let r = post_query(&server, &json!({"sql": "SHOW TABLES"}), &auth);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post_query(&server, &json!({"sql": "DESCRIBE events"}), &auth);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["truncated"], json!(true), "25 columns, limit 5");
    // EXPLAIN [ANALYZE] of a query (the row cap applies to the plan rows, not as a plan node:
    // an analyzed plan must stay the root).
    for sql in [
        "EXPLAIN SELECT count(*) FROM events WHERE status = 'ok'",
        "EXPLAIN ANALYZE SELECT service, count(*) FROM events GROUP BY service",
    ] {
        let r = post_query(&server, &json!({"sql": sql}), &auth);
        assert_eq!(r.status, 200, "{sql}: {}", r.body);
        assert_eq!(
            r.json()["columns"][0]["name"],
            json!("plan_type"),
            "{}",
            r.body
        );
        assert!(r.body.contains("DataSourceExec"), "{sql}: {}", r.body);
    }
    let r = post_query(
        &server,
        &json!({"sql": "SELECT data_type FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'anchor_error_code'"}),
        &auth,
    );
    assert_eq!(r.json()["rows"], json!([["Utf8"]]), "{}", r.body);

    // CSV and Arrow IPC carry the count headers.
    let r = post_query(
        &server,
        &json!({"sql": "SELECT event_id, service FROM events ORDER BY 1", "limit": 2, "format": "csv"}),
        &auth,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(r.header("waylog-row-count"), Some("2"));
    assert_eq!(r.header("waylog-truncated"), Some("true"));
    assert_eq!(
        r.body,
        "event_id,service\r\nq-0,checkout\r\nq-1,checkout\r\n"
    );
    let url = format!("{}/v1/query", server.url);
    let mut resp = agent()
        .post(&url)
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer rk")
        .send(json!({"sql": "SELECT count(*) AS n FROM events", "format": "arrow"}).to_string())
        .unwrap();
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/vnd.apache.arrow.stream"
    );
    let bytes = resp.body_mut().read_to_vec().unwrap();
    let reader =
        datafusion::arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
            .unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let n = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .unwrap()
        .value(0);
    assert_eq!(n, 8);
}

#[test]
fn query_api_memory_cap_answers_422() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &["--query-memory", "64KiB"], &[]);
    let r = post_query(
        &server,
        &json!({"sql": "SELECT a % 100000 AS k, count(*) FROM generate_series(1, 3000000) t(a) GROUP BY 1 ORDER BY 2 DESC"}),
        &[],
    );
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (422, "resources_exhausted"),
        "{}",
        r.body
    );
}

/// Functions whose output escapes the memory pool are capped per value
/// (`WAYLOG_QUERY_MAX_VALUE_BYTES`): refused as a 400 naming the setting, the server unharmed.
#[test]
fn query_api_caps_huge_scalar_values() {
    let dir = TestDir::new();
    let server = Server::start(
        &dir.data_dir(),
        &[],
        &[("WAYLOG_QUERY_MAX_VALUE_BYTES", "1MiB")],
    );
    server.ingest(&[event("v-1")]);
    for sql in [
        "SELECT repeat('x', 2000000000) AS s",
        "SELECT lpad('x', 1000000000) AS s",
        "SELECT rpad('x', 1000000000, 'yz') AS s",
        "SELECT array_repeat('abc', 1000000000) AS s",
        "SELECT length(repeat(service, 100000000)) FROM events",
        "SELECT range(4000000000) AS r",
    ] {
        let r = post_query(&server, &json!({"sql": sql}), &[]);
        assert_eq!(r.status, 400, "{sql}: {}", r.body);
        assert!(
            r.body.contains("WAYLOG_QUERY_MAX_VALUE_BYTES"),
            "{sql}: {}",
            r.body
        );
    }
    let r = post_query(
        &server,
        &json!({"sql": "SELECT repeat(service, 2) AS s FROM events"}),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["rows"], json!([["checkoutcheckout"]]));
}

/// A result over `WAYLOG_QUERY_MAX_RESPONSE_BYTES` (its Arrow size) is refused before it is
/// encoded; a result under it, even cut from the same large scan, is served.
#[test]
fn query_api_caps_the_result_size() {
    let dir = TestDir::new();
    let server = Server::start(
        &dir.data_dir(),
        &[],
        &[("WAYLOG_QUERY_MAX_RESPONSE_BYTES", "100KiB")],
    );
    let big = "SELECT repeat('x', 1000) AS s FROM generate_series(1, 500) t(a)";
    let r = post_query(&server, &json!({"sql": big, "limit": 500}), &[]);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "resources_exhausted");
    assert!(
        r.body.contains("WAYLOG_QUERY_MAX_RESPONSE_BYTES"),
        "{}",
        r.body
    );
    // 50 rows of the same scan: 50 KB, served (the outer limit's slices count what they hold).
    let r = post_query(&server, &json!({"sql": big, "limit": 50}), &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["row_count"], 50);
}

/// At the hot tier's byte cap, ingest is refused with 503 overloaded + Retry-After and the
/// refused request stores nothing; once the flusher catches up, ingest is admitted again.
#[test]
fn ingest_answers_overloaded_at_the_hot_byte_cap_and_stores_nothing() {
    let dir = TestDir::new();
    let server = Server::start(
        &dir.data_dir(),
        &["--hot-max-bytes", "1", "--hot-window", "1h"],
        &[],
    );
    let mut accepted = 0;
    let mut refused = 0;
    for i in 0..200 {
        let r = server.post_events(
            "application/json",
            Value::Array(vec![event(&format!("bp-{i}"))])
                .to_string()
                .as_bytes(),
        );
        match r.status {
            200 => accepted += r.json()["accepted"].as_i64().unwrap(),
            503 => {
                assert_eq!(error_code(&r), "overloaded", "{}", r.body);
                let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
                assert!((1..=30).contains(&retry));
                refused += 1;
            }
            s => panic!("unexpected {s}: {}", r.body),
        }
        if refused > 0 && accepted > 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(refused > 0, "never refused");
    assert!(accepted > 1, "flusher never freed the hot tier");
    assert_eq!(server.count(), accepted);
}

/// SQL safety (issue 14): a statement may reach the six tables and nothing else. Paths as
/// tables (plain, quoted, `file://`, a cold-store Parquet file of the server itself),
/// `CREATE EXTERNAL TABLE`, `COPY … TO`, and the file-reading table functions of other
/// DataFusion front ends are all refused with a 400, and none reads or writes a file: the
/// canary's content never appears in an answer and `COPY`'s target is never created.
#[test]
fn query_api_refuses_every_route_to_a_file() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &["--hot-window", "1s"], &[]);
    server.ingest(&[event("file-1")]);
    assert!(
        wait_until(Duration::from_secs(30), || !parquet_files(
            &dir.cold_events_dir()
        )
        .is_empty()),
        "no flush landed"
    );
    let cold_file = parquet_files(&dir.cold_events_dir())[0]
        .display()
        .to_string();
    let canary_dir = dir.data_dir().with_file_name("canary");
    std::fs::create_dir_all(&canary_dir).unwrap();
    let secret = "CANARY_7f3a";
    let csv = canary_dir.join("canary.csv");
    std::fs::write(&csv, format!("word\n{secret}\n")).unwrap();
    let json_file = canary_dir.join("canary.json");
    std::fs::write(&json_file, format!("{{\"word\":\"{secret}\"}}\n")).unwrap();
    let csv = csv.display().to_string();
    let json_file = json_file.display().to_string();
    let copy_target = canary_dir.join("out.csv");
    let copy = copy_target.display().to_string();

    let statements = [
        format!("SELECT * FROM '{csv}'"),
        format!("SELECT * FROM \"{csv}\""),
        format!("SELECT * FROM 'file://{csv}'"),
        format!("SELECT * FROM '{json_file}'"),
        format!("SELECT count(*) FROM '{cold_file}'"),
        format!("SELECT * FROM '{}'", canary_dir.display()),
        format!("EXPLAIN SELECT * FROM '{csv}'"),
        format!("SELECT * FROM events e JOIN '{csv}' c ON e.event_id = c.word"),
        format!("CREATE EXTERNAL TABLE c (word VARCHAR) STORED AS CSV LOCATION '{csv}'"),
        format!("CREATE EXTERNAL TABLE c STORED AS PARQUET LOCATION '{cold_file}'"),
        format!("COPY (SELECT 1 AS a) TO '{copy}' STORED AS CSV"),
        format!("COPY events TO '{copy}' STORED AS CSV"),
        format!("EXPLAIN COPY events TO '{copy}'"),
        format!("SELECT * FROM read_csv('{csv}')"),
        format!("SELECT * FROM read_json('{json_file}')"),
        format!("SELECT * FROM read_parquet('{cold_file}')"),
        format!("SELECT * FROM parquet_metadata('{cold_file}')"),
        format!("SELECT * FROM parquet_scan('{cold_file}')"),
        format!("SELECT * FROM csv_scan('{csv}')"),
    ];
    for sql in &statements {
        let r = post_query(&server, &json!({"sql": sql}), &[]);
        assert_eq!(r.status, 400, "{sql}: {}", r.body);
        let code = error_code(&r);
        assert!(
            code == "statement_not_allowed" || code == "invalid_sql",
            "{sql}: {}",
            r.body
        );
        assert!(
            !r.body.contains(secret),
            "{sql} read the canary: {}",
            r.body
        );
    }
    assert!(!copy_target.exists(), "COPY wrote {copy}");
    // The tables themselves still answer, so the refusals above are not a dead server.
    let r = post_query(&server, &json!({"sql": "SELECT count(*) FROM events"}), &[]);
    assert_eq!(r.json()["rows"], json!([[1]]), "{}", r.body);
}

/// `EXPLAIN ANALYZE` runs its statement in full and returns only the plan, so the outer row
/// limit of `/v1/query` cannot reach it: the statement runs under
/// `WAYLOG_QUERY_MAX_ANALYZE_ROWS` instead, as the analyzed plan's top node shows.
#[test]
fn query_api_caps_rows_under_explain_analyze() {
    let dir = TestDir::new();
    let server = Server::start(
        &dir.data_dir(),
        &[],
        &[("WAYLOG_QUERY_MAX_ANALYZE_ROWS", "1000")],
    );
    let r = post_query(
        &server,
        &json!({"sql": "EXPLAIN ANALYZE SELECT a FROM generate_series(1, 2000000000) t(a)"}),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let plan = r.json()["rows"][0][1]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Without the cap the two billion rows would run into the 10 s default timeout (504).
    assert!(
        plan.contains("GlobalLimitExec: skip=0, fetch=1000, metrics=[output_rows=1.00 K"),
        "{plan}"
    );
    // A plain EXPLAIN is not executed and keeps its plan as written.
    let r = post_query(
        &server,
        &json!({"sql": "EXPLAIN SELECT a FROM generate_series(1, 10) t(a)"}),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("fetch=1000"), "{}", r.body);
}
