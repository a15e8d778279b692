//! `waylog query` (spec reads §7.5): server mode in table / json / csv form, `--data-dir` mode
//! next to a running server, and the exit codes of §7.1.

use serde_json::{Value, json};

use crate::harness::*;

const SQL: &str = "SELECT service, count(*) AS n FROM events GROUP BY service ORDER BY service";

fn seed(server: &Server) {
    let mut events = Vec::new();
    for i in 0..3 {
        events.push(event(&format!("cli-checkout-{i}")));
    }
    for i in 0..2 {
        events.push(ok_event(&format!("cli-payment-{i}"), "payment"));
    }
    let v = server.ingest(&events);
    assert_eq!(v["accepted"], json!(5), "{v}");
}

#[test]
fn cli_query_server_mode_prints_table_json_and_csv() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    seed(&server);

    let out = waylog_cli(&["query", "--addr", &server.url, SQL]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout,
        "service   n\ncheckout  3\npayment   2\n\n(2 rows)\n"
    );

    let out = waylog_cli(&["query", "--addr", &server.url, "--format", "json", SQL]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["rows"], json!([["checkout", 3], ["payment", 2]]));
    assert_eq!(v["row_count"], json!(2));
    assert_eq!(v["truncated"], json!(false));
    assert_eq!(v["columns"][0]["name"], json!("service"));
    assert_eq!(v["columns"][1]["type"], json!("Int64"));
    assert!(
        out.stdout.starts_with("{\n  \""),
        "pretty-printed: {}",
        out.stdout
    );

    let out = waylog_cli(&["query", "--addr", &server.url, "--format", "csv", SQL]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout.replace("\r\n", "\n"),
        "service,n\ncheckout,3\npayment,2\n"
    );

    // --limit truncates and says so; the URL without a scheme is normalized.
    let bare = server.url.trim_start_matches("http://").to_string();
    let out = waylog_cli(&["query", "--addr", &bare, "--limit", "1", SQL]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout,
        "service   n\ncheckout  3\n\n(1 rows, truncated at limit 1)\n"
    );

    // Rejected SQL is a 4xx: exit 3 with `<code>: <detail>` on stderr.
    let out = waylog_cli(&["query", "--addr", &server.url, "DROP TABLE events"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.starts_with("statement_not_allowed: "), "{out:?}");
    let out = waylog_cli(&["query", "--addr", &server.url, "SELECT nope FROM events"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.starts_with("invalid_sql: "), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");

    // Usage errors exit 1; a server that is not there exits 2.
    let out = waylog_cli(&["query", "--addr", &server.url]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.starts_with("usage: "), "{out:?}");
    server.stop_graceful();
    let out = waylog_cli(&["query", "--addr", &bare, "--timeout", "2s", SQL]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.starts_with("transport error: "), "{out:?}");
}

#[test]
fn cli_query_data_dir_mode_reads_next_to_running_server() {
    let dir = TestDir::new();
    let data_dir = dir.data_dir();
    let data = data_dir.to_str().unwrap();
    let server = Server::start(&data_dir, &[], &[]);
    seed(&server);

    // Unflushed rows come from the WAL.
    let out = waylog_cli(&["query", "--data-dir", data, SQL]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout,
        "service   n\ncheckout  3\npayment   2\n\n(2 rows)\n"
    );
    let out = waylog_cli(&["query", "--data-dir", data, "--format", "csv", SQL]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout.replace("\r\n", "\n"),
        "service,n\ncheckout,3\npayment,2\n"
    );
    let out = waylog_cli(&["query", "--data-dir", data, "--json", SQL]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["rows"], json!([["checkout", 3], ["payment", 2]]));

    // It does not take the server's lock, and the server keeps working after it.
    let v = server.ingest(&[event("cli-after")]);
    assert_eq!(v["accepted"], json!(1));
    let out = waylog_cli(&[
        "query",
        "--data-dir",
        data,
        "--format",
        "json",
        "SELECT count(*) FROM events",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["rows"], json!([[6]]));
    assert_eq!(server.count(), 6);

    // Rejected SQL exits 3, a missing data directory 2.
    let out = waylog_cli(&["query", "--data-dir", data, "DELETE FROM events"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.starts_with("statement_not_allowed: "), "{out:?}");
    let out = waylog_cli(&["query", "--data-dir", data, "SELEC 1"]);
    assert_eq!(out.code, 3, "{out:?}");
    let missing = dir.root.path().join("no-such-dir");
    let out = waylog_cli(&["query", "--data-dir", missing.to_str().unwrap(), SQL]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(!missing.exists(), "read-only mode created the directory");
    server.stop_graceful();
}
