//! The query engine over hot + cold, in-process (spec reads §1.7, §5): a query running while
//! rows are appended, compacted and flushed sees each acknowledged row exactly once, and a
//! GROUP BY answers the same over hot rows, cold rows, a mix, and after a reopen.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use waylog::clock::SystemClock;
use waylog::query::QueryEngine;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_during_flush_sees_every_acknowledged_row_exactly_once() {
    const ROUNDS: u64 = 120;
    const PER_ROUND: u64 = 10;
    let dir = TestDir::new();
    let cfg = storage_config(&dir.data_dir(), Duration::from_secs(7 * 86400));
    let (storage, _) = Storage::open(cfg, Arc::new(SystemClock)).await.unwrap();
    let engine = QueryEngine::new(storage.clone());
    // Rows handed to `append` (upper bound of what a query may see) and rows whose append
    // returned (lower bound of what a query started afterwards must see).
    let submitted = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));

    // Writer: many small appends, so the hot tier holds many batches between flushes.
    let writer = tokio::spawn({
        let (storage, submitted, acked) = (storage.clone(), submitted.clone(), acked.clone());
        async move {
            for round in 0..ROUNDS {
                let events: Vec<Value> = (0..PER_ROUND)
                    .map(|i| {
                        let mut e = event(&format!("qf-{round}-{i}"));
                        e["service"] = json!(format!("svc-{}", i % 4));
                        e
                    })
                    .collect();
                let batch = batch_of(&events, now_ns());
                submitted.fetch_add(PER_ROUND, Ordering::SeqCst);
                let out = storage.append(TableId::Events, batch).await.unwrap();
                assert_eq!(out.accepted as u64, PER_ROUND);
                acked.fetch_add(PER_ROUND, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });
    // Flusher and hot compactor, as the maintenance loop runs them, but concurrently.
    let flusher = tokio::spawn({
        let (storage, done) = (storage.clone(), done.clone());
        async move {
            let mut flushed = 0u64;
            while !done.load(Ordering::SeqCst) {
                flushed += storage.flush(TableId::Events).await.unwrap();
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            flushed + storage.flush(TableId::Events).await.unwrap()
        }
    });
    let compactor = tokio::spawn({
        let (storage, done) = (storage.clone(), done.clone());
        async move {
            while !done.load(Ordering::SeqCst) {
                storage.compact_hot(TableId::Events).await.unwrap();
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }
    });
    let reader = tokio::spawn({
        let (engine, submitted, acked, done) = (
            engine.clone(),
            submitted.clone(),
            acked.clone(),
            done.clone(),
        );
        async move {
            let mut observed = Vec::new();
            let mut last = 0i64;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let before = acked.load(Ordering::SeqCst) as i64;
                let rows = sql_rows(
                    &engine,
                    "SELECT count(*), count(DISTINCT event_id) FROM events",
                )
                .await;
                let after = submitted.load(Ordering::SeqCst) as i64;
                let (n, distinct) = (rows[0][0].as_i64().unwrap(), rows[0][1].as_i64().unwrap());
                assert_eq!(n, distinct, "a row is visible twice (before={before})");
                assert!(
                    n >= before,
                    "acknowledged rows missing: saw {n}, {before} acked before"
                );
                assert!(n <= after, "saw {n} rows, only {after} submitted");
                assert!(n >= last, "count went backwards: {last} -> {n}");
                last = n;
                observed.push(n);
                if finished {
                    return observed;
                }
            }
        }
    });
    writer.await.unwrap();
    done.store(true, Ordering::SeqCst);
    compactor.await.unwrap();
    let flushed = flusher.await.unwrap();
    let observed = reader.await.unwrap();

    let total = (ROUNDS * PER_ROUND) as i64;
    let states = observed
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let flushes = storage.stats.flushes.load(Ordering::Relaxed);
    eprintln!(
        "{} queries, {states} distinct counts, {flushes} flushes",
        observed.len()
    );
    assert_eq!(*observed.last().unwrap(), total);
    assert!(states >= 3, "the reader saw too few states: {observed:?}");
    assert!(
        flushes >= 3,
        "only {flushes} flushes interleaved with the writes"
    );
    assert_eq!(flushed, total as u64, "every row was flushed exactly once");
    let snap = storage.snapshot()[&TableId::Events].clone();
    assert_eq!(snap.hot_rows(), 0);
    assert_eq!(snap.cold_rows(), total as u64);
    let rows = sql_rows(
        &engine,
        "SELECT count(*), count(DISTINCT event_id) FROM events",
    )
    .await;
    assert_eq!(rows, vec![vec![json!(total), json!(total)]]);
    storage.close().unwrap();
}

const GROUP_SQL: &str = "SELECT service, status, coalesce(anchor_error_code, '-') AS code, \
     count(*) AS n, sum(duration_ms) AS d, count(DISTINCT trace_id) AS traces, \
     min(ts_start) AS first, max(http_status) AS max_status \
     FROM events GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

/// 60 events over 3 services; every 3rd ok, every 5th a timeout with its own code.
fn group_events(base_ns: i64) -> Vec<Value> {
    (0..60)
        .map(|i| {
            let mut e = event_at(&format!("grp-{i}"), base_ns + i * 1_000_000);
            e["service"] = json!(["checkout", "payment", "search"][(i % 3) as usize]);
            e["duration_ms"] = json!(i);
            if i % 3 == 0 {
                e["status"] = json!("ok");
                e.as_object_mut().unwrap().remove("anchor");
            } else if i % 5 == 0 {
                e["status"] = json!("timeout");
                e["anchor"] = json!({"step": "request", "error_code": "WAYLOG_TIMEOUT"});
            }
            e
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_group_by_answers_the_same_hot_cold_mixed_and_after_reopen() {
    let dir = TestDir::new();
    let cfg = storage_config(&dir.data_dir(), Duration::from_secs(7 * 86400));
    let now = now_ns();
    let base = now - 120 * SEC_NS;
    let events = group_events(base);
    let base_text = rfc3339(base);

    // Expected from the inputs, independently of the engine.
    // (service, status, code) -> (rows, duration sum, traces, first index)
    type GroupKey = (String, String, String);
    type GroupSums = (i64, i64, i64, i64);
    let mut expected: std::collections::BTreeMap<GroupKey, GroupSums> = Default::default();
    for (i, e) in events.iter().enumerate() {
        let key = (
            e["service"].as_str().unwrap().to_string(),
            e["status"].as_str().unwrap().to_string(),
            e["anchor"]["error_code"]
                .as_str()
                .unwrap_or("-")
                .to_string(),
        );
        let entry = expected.entry(key).or_insert((0, 0, 0, i64::MAX));
        entry.0 += 1;
        entry.1 += e["duration_ms"].as_i64().unwrap();
        entry.2 += 1; // every event has its own trace id
        entry.3 = entry.3.min(i as i64);
    }
    let expected: Vec<Vec<Value>> = expected
        .into_iter()
        .map(|((s, st, c), (n, d, t, first))| {
            vec![
                json!(s),
                json!(st),
                json!(c),
                json!(n),
                json!(d),
                json!(t),
                json!(rfc3339(base + first * 1_000_000)),
                json!(502),
            ]
        })
        .collect();
    assert_eq!(expected.len(), 5, "{expected:?}");
    assert_eq!(expected[0][6], json!(base_text));

    let (storage, _) = Storage::open(cfg.clone(), Arc::new(SystemClock))
        .await
        .unwrap();
    let engine = QueryEngine::new(storage.clone());

    // Half hot.
    storage
        .append(TableId::Events, batch_of(&events[..30], now))
        .await
        .unwrap();
    let partial = sql_rows(&engine, GROUP_SQL).await;
    assert_eq!(
        partial.iter().map(|r| r[3].as_i64().unwrap()).sum::<i64>(),
        30
    );
    storage.flush(TableId::Events).await.unwrap();
    assert_eq!(
        sql_rows(&engine, GROUP_SQL).await,
        partial,
        "same answer after the flush"
    );

    // Mixed: half cold, half hot.
    storage
        .append(TableId::Events, batch_of(&events[30..], now))
        .await
        .unwrap();
    let snap = storage.snapshot()[&TableId::Events].clone();
    assert_eq!((snap.hot_rows(), snap.cold_rows()), (30, 30));
    assert_eq!(sql_rows(&engine, GROUP_SQL).await, expected, "hot + cold");

    // All cold.
    assert_eq!(storage.flush(TableId::Events).await.unwrap(), 30);
    let snap = storage.snapshot()[&TableId::Events].clone();
    assert_eq!((snap.hot_rows(), snap.cold_rows()), (0, 60));
    assert_eq!(sql_rows(&engine, GROUP_SQL).await, expected, "all cold");

    // Filters pushed into Parquet give the same answers as over memory.
    let filtered = "SELECT service, count(*) FROM events WHERE status <> 'ok' AND duration_ms >= 10 \
                    GROUP BY service ORDER BY service";
    let cold_answer = sql_rows(&engine, filtered).await;
    assert_eq!(
        cold_answer,
        vec![
            vec![json!("payment"), json!(17)],
            vec![json!("search"), json!(17)],
        ]
    );

    // Reopen: the same answers from the manifest alone.
    drop(engine);
    storage.close().unwrap();
    drop(storage);
    let (storage, report) = Storage::open(cfg.clone(), Arc::new(SystemClock))
        .await
        .unwrap();
    assert_eq!(
        report.replayed_rows, 0,
        "flushed WAL records are not replayed"
    );
    let engine = QueryEngine::new(storage.clone());
    assert_eq!(sql_rows(&engine, GROUP_SQL).await, expected, "after reopen");
    assert_eq!(sql_rows(&engine, filtered).await, cold_answer);

    // Hot rows again, through a fresh in-memory copy of the same events in another store.
    let other = TestDir::new();
    let (hot_only, _) = Storage::open(
        storage_config(&other.data_dir(), Duration::from_secs(7 * 86400)),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    hot_only
        .append(TableId::Events, batch_of(&events, now))
        .await
        .unwrap();
    let hot_engine = QueryEngine::new(hot_only.clone());
    assert_eq!(sql_rows(&hot_engine, GROUP_SQL).await, expected, "all hot");
    assert_eq!(sql_rows(&hot_engine, filtered).await, cold_answer);
    hot_only.close().unwrap();
    storage.close().unwrap();
}
