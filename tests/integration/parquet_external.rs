//! External readers of the cold store: pyarrow (and DuckDB when installed) read the Parquet
//! files waylog flushed (`scripts/parquet_check.py`) and agree with `waylog query`.
//!
//! Python comes from `WAYLOG_TEST_PYTHON`, else the venv of `scripts/setup-test-deps.sh`
//! (`${WAYLOG_VENV:-$HOME/.cache/waylog-venv}`) when it exists, else `python3`. Without pyarrow
//! the test fails under `CI` and is skipped (with a notice) elsewhere.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/parquet_check.py")
}

/// Run the checker and parse its JSON report.
fn parquet_check(python: &str, cold_dir: &std::path::Path) -> Value {
    let out = Command::new(python)
        .arg(script())
        .arg(cold_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "parquet_check.py failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn parquet_external_readers_agree_with_waylog_query() {
    let python = test_python();
    let probe = Command::new(&python)
        .args(["-c", "import pyarrow"])
        .output();
    let available = probe.as_ref().is_ok_and(|o| o.status.success());
    if !available {
        let why = match &probe {
            Ok(o) => String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .to_string(),
            Err(e) => e.to_string(),
        };
        let msg = format!(
            "pyarrow is not importable by {python:?} ({why}); run scripts/setup-test-deps.sh and set \
             WAYLOG_TEST_PYTHON to the python it prints"
        );
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("SKIPPED parquet_external_readers_agree_with_waylog_query: {msg}");
        return;
    }

    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &["--hot-window", "1s"], &[]);
    // All events in one hour partition and one request, so one flush writes one file.
    let now = now_ns();
    let base = (now - 600 * SEC_NS) - (now - 600 * SEC_NS).rem_euclid(HOUR_NS) + 60 * SEC_NS;
    let mut events = Vec::new();
    for (service, n) in [("checkout", 5), ("payment", 4), ("search", 3)] {
        for i in 0..n {
            let mut e = event_at(
                &format!("pq-{service}-{i}"),
                base + events.len() as i64 * 1_000_000,
            );
            e["service"] = json!(service);
            events.push(e);
        }
    }
    let v = server.ingest(&events);
    assert_eq!(v["accepted"], json!(12), "{v}");
    let flushed = wait_until(Duration::from_secs(20), || {
        parquet_files(&dir.cold_events_dir()).len() == 1
    });
    assert!(
        flushed,
        "no Parquet file after 20 s; log:\n{}",
        server.log()
    );

    let cold = dir.data_dir().join("cold");
    let report = parquet_check(&python, &cold);
    assert_eq!(report["rows"], json!(12), "{report}");
    assert_eq!(report["files"], json!(1), "{report}");
    assert_eq!(report["schema_version"], json!("1"), "{report}");
    assert_eq!(
        report["by_service"],
        json!({"checkout": 5, "payment": 4, "search": 3}),
        "{report}"
    );
    eprintln!("parquet_check readers: {}", report["readers"]);

    // The same numbers from waylog: the server and the CLI in both modes.
    let sql = "SELECT service, count(*) FROM events GROUP BY service ORDER BY service";
    let from_server: BTreeMap<String, i64> = server
        .query(sql)
        .into_iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
        .collect();
    let external: BTreeMap<String, i64> = report["by_service"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
        .collect();
    assert_eq!(from_server, external);
    for mode in [
        ["--addr", server.url.as_str()],
        ["--data-dir", dir.data_dir().to_str().unwrap()],
    ] {
        let out = waylog_cli(&["query", mode[0], mode[1], "--format", "json", sql]);
        assert_eq!(out.code, 0, "{out:?}");
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(
            v["rows"],
            json!([["checkout", 5], ["payment", 4], ["search", 3]]),
            "{mode:?}"
        );
    }
    server.stop_graceful();

    // After a restart the rows come from Parquet alone and still match.
    let server = Server::start(&dir.data_dir(), &[], &[]);
    assert_eq!(server.count(), report["rows"].as_i64().unwrap());
    server.stop_graceful();
}
