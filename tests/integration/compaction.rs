//! Cold compaction: the small files of a closed hour partition merge into one, committed as a
//! data-change-free Delta rewrite; queries running meanwhile see every row exactly once; the
//! replaced files stay readable for a grace period and a restart keeps the merged state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use waylog::clock::SystemClock;

use crate::harness::*;

const FLUSHES: usize = 6;
const PER_FLUSH: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn compaction_merges_closed_hours_and_queries_see_each_row_once() {
    let dir = TestDir::new();
    let cfg = storage_config(&dir.data_dir(), Duration::from_secs(7 * 86400));
    let (storage, _) = Storage::open(cfg.clone(), Arc::new(SystemClock))
        .await
        .unwrap();
    // Six flushes into one hour that closed two hours ago (the hot window is one hour).
    let now = now_ns();
    let hour = (now - 3 * HOUR_NS) - (now - 3 * HOUR_NS).rem_euclid(HOUR_NS);
    for f in 0..FLUSHES {
        let events: Vec<_> = (0..PER_FLUSH)
            .map(|i| {
                event_at(
                    &format!("c{f}-{i}"),
                    hour + (f * PER_FLUSH + i) as i64 * SEC_NS,
                )
            })
            .collect();
        storage
            .append(TableId::Events, batch_of(&events, now))
            .await
            .unwrap();
        storage.flush(TableId::Events).await.unwrap();
    }
    let small = parquet_files(&dir.cold_events_dir());
    assert_eq!(small.len(), FLUSHES);
    let total = (FLUSHES * PER_FLUSH) as i64;
    let sql = "SELECT count(*), count(DISTINCT event_id) FROM events";

    // Queries run in a loop while the compaction runs: every answer counts each row once.
    let engine = waylog::query::QueryEngine::new(storage.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(AtomicUsize::new(0));
    let reader = tokio::spawn({
        let (stop, answers) = (stop.clone(), answers.clone());
        async move {
            while !stop.load(Ordering::SeqCst) {
                let rows = sql_rows(&engine, sql).await;
                assert_eq!(rows, vec![vec![json!(total), json!(total)]]);
                answers.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let replaced = storage.compact_cold(TableId::Events).await.unwrap();
    // Let the reader finish at least one query after the swap too.
    let after_swap = answers.load(Ordering::SeqCst);
    while answers.load(Ordering::SeqCst) < after_swap + 2 && !reader.is_finished() {
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::SeqCst);
    reader.await.unwrap();
    assert_eq!(replaced, FLUSHES);

    let snap = storage.table(TableId::Events).snapshot();
    assert_eq!(
        (snap.cold.len() as i64, snap.cold_rows() as i64),
        (1, total)
    );
    // The commit is a rewrite without data change.
    let log_dir = dir.cold_events_dir().join("_delta_log");
    let newest = std::fs::read_dir(&log_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .max()
        .unwrap();
    let commit = std::fs::read_to_string(newest).unwrap();
    assert!(commit.contains("\"operation\":\"OPTIMIZE\""), "{commit}");
    assert_eq!(commit.matches("\"dataChange\":false").count(), FLUSHES + 1);
    assert!(!commit.contains("\"dataChange\":true"), "{commit}");
    // Within the grace period the small files are still there for older snapshots.
    assert!(small.iter().all(|p| p.exists()));
    assert_eq!(storage.vacuum_all_for_test().await.unwrap(), FLUSHES);
    assert!(small.iter().all(|p| !p.exists()));
    assert_eq!(parquet_files(&dir.cold_events_dir()).len(), 1);
    // A second pass has nothing left to merge.
    assert_eq!(storage.compact_cold(TableId::Events).await.unwrap(), 0);
    storage.close().unwrap();
    drop(storage);

    // Restart: the merged file alone, the same rows, sorted like a flush.
    let (storage, report) = Storage::open(cfg, Arc::new(SystemClock)).await.unwrap();
    assert_eq!(report.replayed_rows, 0);
    let engine = waylog::query::QueryEngine::new(storage.clone());
    assert_eq!(
        sql_rows(&engine, sql).await,
        vec![vec![json!(total), json!(total)]]
    );
    storage.close().unwrap();
}
