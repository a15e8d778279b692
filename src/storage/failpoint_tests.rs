//! Crash and reopen at every crash point (cargo feature `failpoints`, [`crate::failpoints`]).
//!
//! Each test acknowledges requests, flushes some to Parquet, acknowledges more, arms one
//! point, runs the operation that reaches it (a flush, or a write for the WAL points), then
//! "crashes": the storage is dropped without `close` (no final sync, no clean-up), and the
//! directory is reopened. The oracle: every acknowledged event is stored exactly once, a
//! request that was in flight at the crash is stored whole or not at all, a refused request
//! not at all, and re-sending acknowledged requests answers `duplicate` (the dedup memory
//! survived). A flush and a clean reopen afterwards must keep all of that.

use std::collections::BTreeMap;

use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;
use crate::clock::ManualClock;
use crate::failpoints;
use crate::model::event::test_event;
use crate::storage::schema::events_to_batch;

const NOW: i64 = 1_777_888_800_000_000_000;
/// Events per request.
const PER_REQUEST: usize = 20;

fn config(dir: &Path) -> StorageConfig {
    let mut c = crate::config::Config::for_data_dir(dir);
    c.wal_sync = true;
    // Small segments: the acknowledged requests span several, so a flush deletes some.
    c.wal_segment_bytes = 4096;
    StorageConfig {
        hot_window: Duration::from_secs(3600),
        ..StorageConfig::from(&c)
    }
}

fn ids_of(r: usize) -> Vec<String> {
    (0..PER_REQUEST).map(|i| format!("req{r}-{i}")).collect()
}

/// Request `r`: [`PER_REQUEST`] events with ids `req<r>-<i>`.
fn request(r: usize) -> RecordBatch {
    let events: Vec<_> = ids_of(r)
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let mut e = test_event(r * 1000 + i, "api", "ok", NOW - 1_000_000);
            e.event_id = id;
            e
        })
        .collect();
    events_to_batch(&events).expect("test events convert")
}

async fn open(dir: &Path) -> Arc<Storage> {
    let clock = Arc::new(ManualClock::new(NOW));
    Storage::open(config(dir), clock).await.unwrap().0
}

/// Every stored event id (hot batches and the listed cold files) with its count.
fn stored(storage: &Storage, dir: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut count = |batch: &RecordBatch| {
        let col = string_column(batch, "event_id").expect("events have ids");
        for id in col.iter().flatten() {
            *out.entry(id.to_string()).or_insert(0) += 1;
        }
    };
    let snap = storage.table(TableId::Events).snapshot();
    for h in &snap.hot {
        count(&h.batch);
    }
    for f in &snap.cold {
        let file = File::open(dir.join("cold").join(&f.path)).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for b in reader {
            count(&b.unwrap());
        }
    }
    out
}

/// The oracle after a crash: acknowledged requests exactly once, the in-flight one whole or
/// absent, nothing else. Returns whether the in-flight request is stored.
fn check(storage: &Storage, dir: &Path, acked: &[usize], in_flight: Option<usize>) -> bool {
    let mut got = stored(storage, dir);
    for r in acked {
        for id in ids_of(*r) {
            assert_eq!(got.remove(&id), Some(1), "acknowledged {id}");
        }
    }
    let mut kept = false;
    if let Some(r) = in_flight {
        let present: Vec<Option<usize>> = ids_of(r).iter().map(|id| got.remove(id)).collect();
        kept = present[0].is_some();
        let whole = if kept { Some(1) } else { None };
        assert!(
            present.iter().all(|p| *p == whole),
            "request {r} half stored: {present:?}"
        );
    }
    assert!(got.is_empty(), "stored but never sent or refused: {got:?}");
    kept
}

async fn crash_and_reopen_at(point: &'static str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let storage = open(dir).await;
    for r in 0..3 {
        storage.append(TableId::Events, request(r)).await.unwrap();
    }
    storage.flush(TableId::Events).await.unwrap();
    let mut acked = vec![0, 1, 2];
    for r in 3..6 {
        storage.append(TableId::Events, request(r)).await.unwrap();
        acked.push(r);
    }
    failpoints::arm(point, dir);
    let in_flight = if point.starts_with("wal_") {
        // The write that hits the point is refused, and so is every later one (poisoned).
        assert!(matches!(
            storage.append(TableId::Events, request(6)).await,
            Err(WriteError::Durability(_))
        ));
        assert!(storage.append(TableId::Events, request(7)).await.is_err());
        Some(6)
    } else {
        assert!(matches!(
            storage.flush(TableId::Events).await,
            Err(Error::Injected)
        ));
        None
    };
    assert!(
        !failpoints::is_armed(point, dir),
        "{point} was never reached"
    );
    // The crash: no close, no final sync, nothing more runs.
    drop(storage);

    let storage = open(dir).await;
    let kept = check(&storage, dir, &acked, in_flight);
    // Re-sent acknowledged requests are duplicates; the in-flight one matches what is stored.
    for r in &acked {
        let out = storage.append(TableId::Events, request(*r)).await.unwrap();
        assert_eq!(out.duplicate, PER_REQUEST, "{point}: re-sent request {r}");
    }
    if let Some(r) = in_flight {
        let out = storage.append(TableId::Events, request(r)).await.unwrap();
        let expect = if kept {
            (0, PER_REQUEST)
        } else {
            (PER_REQUEST, 0)
        };
        assert_eq!((out.accepted, out.duplicate), expect, "{point}");
        acked.push(r);
    }
    // After the recovery a flush and a clean restart keep everything exactly once.
    storage.flush(TableId::Events).await.unwrap();
    storage.close().unwrap();
    drop(storage);
    let storage = open(dir).await;
    check(&storage, dir, &acked, None);
    storage.close().unwrap();
    failpoints::disarm(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_parquet_write_keeps_every_ack_once() {
    crash_and_reopen_at(failpoints::AFTER_PARQUET_WRITE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_id_log_keeps_every_ack_once() {
    crash_and_reopen_at(failpoints::AFTER_ID_LOG).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_cold_commit_keeps_every_ack_once() {
    crash_and_reopen_at(failpoints::AFTER_COLD_COMMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_before_wal_delete_keeps_every_ack_once() {
    crash_and_reopen_at(failpoints::BEFORE_WAL_DELETE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_wal_delete_keeps_every_ack_once() {
    crash_and_reopen_at(failpoints::AFTER_WAL_DELETE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_on_short_wal_write_keeps_every_ack_once() {
    crash_and_reopen_at(failpoints::WAL_SHORT_WRITE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_on_wal_fsync_error_keeps_every_ack_once() {
    crash_and_reopen_at(failpoints::WAL_FSYNC_ERROR).await;
}

/// Every point of [`failpoints::ALL`] has its test above (a new point needs one).
#[test]
fn every_failpoint_has_a_crash_test() {
    let source = include_str!("failpoint_tests.rs");
    for point in failpoints::ALL {
        let konst = point.to_uppercase();
        assert!(
            source.contains(&format!("crash_and_reopen_at(failpoints::{konst})")),
            "no crash test for {point}"
        );
    }
}
