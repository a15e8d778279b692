//! Deduplication by `event_id` (spec events §2.5, §3.3): within a request, across requests,
//! between concurrent requests, and across restarts (WAL replay and after a flush to Parquet).

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

fn counts(v: &Value) -> (u64, u64, usize) {
    (
        v["accepted"].as_u64().unwrap(),
        v["duplicate"].as_u64().unwrap(),
        v["rejected"].as_array().unwrap().len(),
    )
}

#[test]
fn dedup_counts_duplicates_within_across_and_between_concurrent_requests() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);

    // Within one request: the first occurrence wins, even with different content.
    let mut a_again = event("dup-a");
    a_again["service"] = json!("other");
    let v = server.ingest(&[event("dup-a"), a_again, event("dup-b")]);
    assert_eq!(counts(&v), (2, 1, 0));
    // Across requests, JSON and NDJSON alike.
    let v = server.ingest(&[event("dup-a"), event("dup-c")]);
    assert_eq!(counts(&v), (1, 1, 0));
    let r = server.post_events(
        "application/x-ndjson",
        &ndjson(&[event("dup-b"), event("dup-c")]),
    );
    assert_eq!(counts(&r.json()), (0, 2, 0));

    // Concurrent requests with the same id: exactly one gets `accepted`.
    let url = server.url.clone();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let body = Value::Array(vec![event("dup-race")]).to_string();
                let r = try_post(
                    &agent(),
                    &format!("{url}/v1/events"),
                    &[("Content-Type", "application/json")],
                    body.as_bytes(),
                )
                .unwrap();
                assert_eq!(r.status, 200, "{}", r.body);
                counts(&r.json())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|c| **c == (1, 0, 0)).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|c| **c == (0, 1, 0)).count(),
        7,
        "{results:?}"
    );

    assert_eq!(server.count(), 4);
    assert_eq!(
        server.query("SELECT service FROM events WHERE event_id = 'dup-a'"),
        vec![vec![json!("checkout")]],
        "the first event stored with an id wins"
    );
    server.stop_graceful();
}

#[test]
fn dedup_survives_graceful_restart() {
    let dir = TestDir::new();
    let ids: Vec<String> = (0..10).map(|i| format!("restart-{i}")).collect();
    let events: Vec<Value> = ids.iter().map(|id| event(id)).collect();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    assert_eq!(counts(&server.ingest(&events)), (10, 0, 0));
    server.stop_graceful();

    let server = Server::start(&dir.data_dir(), &[], &[]);
    let mut again = events.clone();
    again.push(event("restart-new"));
    assert_eq!(counts(&server.ingest(&again)), (1, 10, 0));
    assert_eq!(server.count(), 11);
    server.stop_graceful();

    // And once more after a kill -9: the ids remembered by the WAL replay still count.
    let server = Server::start(&dir.data_dir(), &[], &[]);
    server.kill9();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    assert_eq!(counts(&server.ingest(&again)), (0, 11, 0));
    assert_eq!(server.count(), 11);
    server.stop_graceful();
}

#[test]
fn dedup_survives_restart_after_flush_to_parquet() {
    let dir = TestDir::new();
    let events: Vec<Value> = (0..20).map(|i| event(&format!("flushed-{i}"))).collect();
    let server = Server::start(&dir.data_dir(), &["--hot-window", "1s"], &[]);
    assert_eq!(counts(&server.ingest(&events)), (20, 0, 0));
    let flushed = wait_until(Duration::from_secs(20), || {
        !parquet_files(&dir.cold_events_dir()).is_empty()
    });
    assert!(
        flushed,
        "no Parquet file after 20 s; log:\n{}",
        server.log()
    );
    assert_eq!(
        server.count(),
        20,
        "the flush neither lost nor doubled rows"
    );
    // Still a duplicate in the same process after the flush.
    assert_eq!(counts(&server.ingest(&events[..5])), (0, 5, 0));
    server.stop_graceful();

    // The WAL records are gone (flushed); the ids come from the dedup id log.
    let server = Server::start(&dir.data_dir(), &["--hot-window", "1s"], &[]);
    assert_eq!(server.count(), 20);
    let mut again = events.clone();
    again.push(event("flushed-new"));
    assert_eq!(counts(&server.ingest(&again)), (1, 20, 0));
    assert_eq!(server.count(), 21);
    assert_eq!(
        server.query("SELECT event_id FROM events GROUP BY event_id HAVING count(*) > 1"),
        Vec::<Vec<Value>>::new()
    );
    server.kill9();

    // After a kill -9 as well.
    let server = Server::start(&dir.data_dir(), &[], &[]);
    assert_eq!(counts(&server.ingest(&again)), (0, 21, 0));
    assert_eq!(server.count(), 21);
    server.stop_graceful();
}

/// `WAYLOG_DEDUP_MAX_BYTES` bounds the id set: past it the oldest ids are forgotten although
/// the window has not passed (their re-send is stored again), the newest are still
/// recognised, and `/v1/capabilities` and `/metrics` report the shrunk horizon.
#[test]
fn dedup_budget_shrinks_the_horizon_and_says_so() {
    let dir = TestDir::new();
    let per_id = waylog::config::DEDUP_BYTES_PER_ID;
    let budget = (100 * per_id).to_string();
    let server = Server::start(
        &dir.data_dir(),
        &[],
        &[
            ("WAYLOG_DEDUP_MIN_IDS", "10"),
            ("WAYLOG_DEDUP_MAX_BYTES", budget.as_str()),
        ],
    );
    for chunk in 0..3 {
        let events: Vec<Value> = (0..100)
            .map(|i| event(&format!("budget-{}", chunk * 100 + i)))
            .collect();
        assert_eq!(counts(&server.ingest(&events)), (100, 0, 0));
    }
    // The newest 100 ids fit and are still duplicates; the oldest were forgotten.
    let v = server.ingest(&[event("budget-299"), event("budget-200")]);
    assert_eq!(counts(&v), (0, 2, 0));
    let v = server.ingest(&[event("budget-0")]);
    assert_eq!(counts(&v), (1, 0, 0), "a forgotten id is stored again");

    let caps = server.get("/v1/capabilities").json();
    let d = &caps["dedup"];
    assert_eq!(d["max_ids"], json!(100), "{caps}");
    assert_eq!(d["ids"], json!(100), "{caps}");
    assert_eq!(d["full"], json!(true), "{caps}");
    assert_eq!(d["evicted"], json!(201), "{caps}");
    assert_eq!(d["window_secs"], json!(86400), "{caps}");
    assert!(
        d["memory_bytes"].as_u64().unwrap() <= 100 * per_id as u64,
        "{caps}"
    );
    let metrics = server.get("/metrics").body;
    for line in [
        "waylog_dedup_max_ids 100.0",
        "waylog_dedup_ids 100.0",
        "waylog_dedup_evictions_total 201",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing: {metrics}"
        );
    }
    assert!(metrics.contains("waylog_dedup_horizon_seconds "));
}
