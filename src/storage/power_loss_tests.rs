//! Power-loss model (cargo feature `failpoints`, [`crate::failpoints::power`]): a seeded
//! generator of operation sequences over the real storage engine — append, flush, retention,
//! power loss, clean restart, re-send — run in a data directory whose power loss discards
//! every byte and every directory entry that was not fsynced.
//!
//! The oracle after every reopen: each acknowledged event whose retention has not passed is
//! stored exactly once, an expired one at most once, nothing else is stored, and re-sending
//! any acknowledged request answers `duplicate` for all of it (the dedup memory survived).
//! This is what fails when a durability point is missing or out of order (for example the
//! directory fsyncs of `wal::create_dir_durable`, or deleting WAL segments before the cold
//! commit is durable).

use std::collections::BTreeMap;
use std::io::Write;

use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::failpoints::power;
use crate::model::event::test_event;
use crate::storage::schema::events_to_batch;

const START_NS: i64 = 1_777_888_800_000_000_000;
const RETENTION: Duration = Duration::from_secs(3600);
const PER_REQUEST: usize = 5;

/// A small deterministic generator (xorshift64*), so a failing seed replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Append,
    Flush,
    Retention,
    PowerLoss,
    Restart,
    Resend,
}

fn op(rng: &mut Rng) -> Op {
    match rng.below(20) {
        0..=8 => Op::Append,
        9..=11 => Op::Flush,
        12 => Op::Retention,
        13..=15 => Op::PowerLoss,
        16 => Op::Restart,
        _ => Op::Resend,
    }
}

fn config(dir: &Path) -> StorageConfig {
    let mut c = crate::config::Config::for_data_dir(dir);
    c.wal_sync = true;
    c.wal_segment_bytes = 2048;
    StorageConfig {
        hot_window: Duration::from_secs(3600),
        retention: RETENTION,
        signal_retention: RETENTION,
        ..StorageConfig::from(&c)
    }
}

/// One acknowledged request: its first event number and when its events end.
#[derive(Debug, Clone, Copy)]
struct Sent {
    first: usize,
    ts_end_ns: i64,
}

fn batch(sent: Sent) -> RecordBatch {
    let events: Vec<_> = (sent.first..sent.first + PER_REQUEST)
        .map(|n| test_event(n, "api", "ok", sent.ts_end_ns - 1))
        .collect();
    events_to_batch(&events).expect("test events convert")
}

fn stored(storage: &Storage, dir: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut count = |b: &RecordBatch| {
        for id in string_column(b, "event_id").expect("ids").iter().flatten() {
            *out.entry(id.to_string()).or_insert(0) += 1;
        }
    };
    let snap = storage.table(TableId::Events).snapshot();
    for h in &snap.hot {
        count(&h.batch);
    }
    for f in &snap.cold {
        let file = File::open(dir.join("cold").join(&f.path)).expect("listed file exists");
        for b in ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("listed file is parquet")
            .build()
            .expect("reader")
        {
            count(&b.expect("batch"));
        }
    }
    out
}

fn check(storage: &Storage, dir: &Path, sent: &[Sent], now_ns: i64, trail: &[Op]) {
    let mut got = stored(storage, dir);
    let cutoff = now_ns - RETENTION.as_nanos() as i64;
    for s in sent {
        for n in s.first..s.first + PER_REQUEST {
            let id = format!("ev-{n}");
            let c = got.remove(&id).unwrap_or(0);
            if s.ts_end_ns < cutoff {
                assert!(c <= 1, "expired {id} stored {c} times after {trail:?}");
            } else {
                assert_eq!(c, 1, "acknowledged {id} after {trail:?}");
            }
        }
    }
    assert!(
        got.is_empty(),
        "never acknowledged: {got:?} after {trail:?}"
    );
}

async fn run(seed: u64, steps: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap().join("data");
    std::fs::create_dir(&dir).unwrap();
    power::track(&dir).unwrap();
    let clock = Arc::new(ManualClock::new(START_NS));
    let open = || async {
        Storage::open(config(&dir), clock.clone())
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: reopen failed: {e}"))
            .0
    };
    let mut storage = open().await;
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut sent: Vec<Sent> = Vec::new();
    let mut trail = Vec::new();
    for _ in 0..steps {
        let o = op(&mut rng);
        trail.push(o);
        match o {
            Op::Append => {
                // Some events are already near their retention cutoff.
                let age = Duration::from_secs(rng.below(2 * RETENTION.as_secs()));
                let s = Sent {
                    first: sent.len() * PER_REQUEST,
                    ts_end_ns: clock.now_ns() - age.as_nanos() as i64,
                };
                let out = storage.append(TableId::Events, batch(s)).await.unwrap();
                assert_eq!(out.accepted, PER_REQUEST);
                sent.push(s);
            }
            Op::Flush => {
                storage.flush(TableId::Events).await.unwrap();
            }
            Op::Retention => {
                clock.advance(Duration::from_secs(rng.below(RETENTION.as_secs())));
                storage.enforce_retention(TableId::Events).await.unwrap();
            }
            Op::PowerLoss | Op::Restart => {
                if matches!(o, Op::Restart) {
                    storage.close().unwrap();
                }
                drop(storage);
                if matches!(o, Op::PowerLoss) {
                    power::lose_power(&dir).unwrap();
                }
                storage = open().await;
                check(&storage, &dir, &sent, clock.now_ns(), &trail);
            }
            Op::Resend => {
                if sent.is_empty() {
                    continue;
                }
                let s = sent[rng.below(sent.len() as u64) as usize];
                let out = storage.append(TableId::Events, batch(s)).await.unwrap();
                assert_eq!(
                    out.duplicate, PER_REQUEST,
                    "seed {seed}: re-sent {s:?} after {trail:?}"
                );
            }
        }
    }
    drop(storage);
    power::lose_power(&dir).unwrap();
    let storage = open().await;
    check(&storage, &dir, &sent, clock.now_ns(), &trail);
    storage.close().unwrap();
    power::untrack(&dir);
}

/// 24 seeded sequences of 40 operations each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_loss_model_keeps_every_ack_exactly_once() {
    for seed in 0..24 {
        run(seed, 40).await;
    }
}

/// The model can fail: a directory entry that was never fsynced is gone after a power loss,
/// and so is file data written after the last fsync.
#[test]
fn power_loss_discards_what_was_not_fsynced() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    power::track(&root).unwrap();
    crate::wal::create_dir_durable(&root.join("kept")).unwrap();
    std::fs::create_dir(root.join("lost")).unwrap();
    let path = root.join("kept/file");
    let mut f = File::create(&path).unwrap();
    f.write_all(b"durable").unwrap();
    crate::wal::sync_file(&f, &path).unwrap();
    crate::wal::sync_dir(&root.join("kept")).unwrap();
    f.write_all(b" and not").unwrap();
    std::fs::write(root.join("kept/unsynced"), b"x").unwrap();
    power::lose_power(&root).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"durable");
    assert!(!root.join("lost").exists());
    assert!(!root.join("kept/unsynced").exists());
    power::untrack(&root);
}
