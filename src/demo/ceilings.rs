//! `waylog bench-ingest-ceilings`: the two physical ceilings of durable ingest on this box,
//! each measured alone for a while with the real code (docs/perf.md, issue 20):
//! - **fsync only**: `clients` threads each hand the WAL record of one benchmark request (the
//!   Arrow IPC bytes the writer would append) to one writer thread and wait for its
//!   acknowledgement, closed loop; the writer groups whatever is queued like the storage
//!   writer does (§3.1 group commit) and appends the group with `fdatasync`. No parsing, no
//!   Arrow building, no HTTP, no hot tier: events/s the disk and the WAL allow.
//! - **parse only**: `threads` threads run the request path's decoder on the pre-encoded
//!   benchmark body (typed decode + validation, and the whole `prepare` up to the Arrow batch),
//!   no storage, no HTTP: events/s the CPU allows for the decode alone.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::traffic::TrafficGen;
use crate::clock::{Clock, SystemClock};

/// Upper bound of one group's payload, as in the storage writer.
const GROUP_BYTES: usize = 32 << 20;
/// WAL segment size of the fsync ceiling (old segments are deleted as the run goes).
const SEGMENT_BYTES: u64 = 64 << 20;

/// What the ceilings run: request size, concurrency, and how long each measurement lasts.
#[derive(Debug, Clone)]
pub struct CeilingArgs {
    /// Events per request (the benchmark traffic, ~1.1 KiB each).
    pub batch: usize,
    /// Concurrent appenders of the fsync ceiling (like HTTP clients).
    pub clients: usize,
    /// Decoder threads of the parse ceiling (the box has two cores).
    pub threads: usize,
    /// Length of each measurement.
    pub duration: Duration,
}

/// Run both ceilings; the WAL of the fsync ceiling lives in a fresh directory under `dir`.
pub fn bench_ingest_ceilings(dir: &std::path::Path, args: &CeilingArgs) -> anyhow::Result<Value> {
    let now = SystemClock.now_ns();
    let mut events = TrafficGen::new(1).events(args.batch, now - 60_000_000_000, 1_000_000);
    events.truncate(args.batch);
    let body = super::traffic::ndjson(&events);
    let record = crate::storage::encode_ipc(&crate::storage::schema::events_to_batch(&events)?)?;
    let wal_dir = dir.join("wal-ceiling");
    std::fs::create_dir_all(&wal_dir)?;
    let fsync = fsync_ceiling(&wal_dir, &record, args)?;
    std::fs::remove_dir_all(&wal_dir)?;
    let mut parse = serde_json::Map::new();
    for threads in (1..=args.threads.max(1)).filter(|t| *t == 1 || *t == args.threads) {
        parse.insert(
            format!("threads_{threads}"),
            parse_ceiling(body.as_bytes(), now, threads, args),
        );
    }
    Ok(json!({
        "batch_events": args.batch,
        "request_bytes": body.len(),
        "wal_record_bytes": record.len(),
        "seconds_each": args.duration.as_secs_f64(),
        "fsync_only": fsync,
        "parse_only": parse,
    }))
}

/// One appender's request: the record and where to acknowledge it.
type Append = mpsc::Sender<()>;

/// Closed-loop appenders feeding one group-committing writer with `fdatasync`.
fn fsync_ceiling(
    dir: &std::path::Path,
    record: &[u8],
    args: &CeilingArgs,
) -> anyhow::Result<Value> {
    let mut wal = crate::wal::Wal::open(dir, 1, SEGMENT_BYTES, true)?;
    let (tx, rx) = mpsc::channel::<Append>();
    let deadline = Instant::now() + args.duration;
    let started = Instant::now();
    let appenders: Vec<_> = (0..args.clients.max(1))
        .map(|_| {
            let tx = tx.clone();
            std::thread::spawn(move || appender(&tx, deadline))
        })
        .collect();
    drop(tx);
    let mut groups = 0u64;
    let mut records = 0u64;
    let mut sync_us = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() * record.len() < GROUP_BYTES {
            match rx.try_recv() {
                Ok(m) => group.push(m),
                Err(_) => break,
            }
        }
        let refs: Vec<(u8, &[u8])> = group.iter().map(|_| (1u8, record)).collect();
        let t = Instant::now();
        let seqs = wal.append_group(SystemClock.now_ns(), &refs)?;
        sync_us.push(t.elapsed().as_micros() as u64);
        if let Some(last) = seqs.last() {
            wal.delete_through(*last)?;
        }
        groups += 1;
        records += group.len() as u64;
        for ack in group {
            let _ = ack.send(());
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    for a in appenders {
        let _ = a.join();
    }
    sync_us.sort_unstable();
    let events = records * args.batch as u64;
    Ok(json!({
        "clients": args.clients,
        "events_per_sec": (events as f64 / elapsed).round(),
        "mb_per_sec": (records as f64 * record.len() as f64 / elapsed / 1e6 * 10.0).round() / 10.0,
        "groups": groups,
        "records_per_group": ((records as f64 / groups.max(1) as f64) * 100.0).round() / 100.0,
        "append_fsync_ms_p50": super::bench::percentile(&sync_us, 0.5),
        "append_fsync_ms_p99": super::bench::percentile(&sync_us, 0.99),
    }))
}

/// Queue one record at a time and wait for its acknowledgement, until `deadline`.
fn appender(tx: &mpsc::Sender<Append>, deadline: Instant) {
    while Instant::now() < deadline {
        let (ack_tx, ack_rx) = mpsc::channel();
        if tx.send(ack_tx).is_err() || ack_rx.recv().is_err() {
            return;
        }
    }
}

/// `threads` threads decoding `body` over and over for the run's duration: the typed decode
/// and validation alone, then the whole `prepare` (decode + Arrow batch).
fn parse_ceiling(body: &[u8], now: i64, threads: usize, args: &CeilingArgs) -> Value {
    use crate::ingest::events::prepare;
    use crate::ingest::framing::{Framing, ndjson_lines};
    use crate::model::fast::decode_event;

    let decode = || {
        for line in ndjson_lines(body) {
            drop(decode_event(line, now));
        }
    };
    let whole = || drop(prepare(body, Framing::Ndjson, now, usize::MAX, false));
    json!({
        "decode_validate_events_per_sec": throughput(threads, args, &decode),
        "prepare_to_arrow_events_per_sec": throughput(threads, args, &whole),
    })
}

/// Events per second of `threads` threads each repeating `request` (one request of
/// `args.batch` events) for `args.duration`.
fn throughput(threads: usize, args: &CeilingArgs, request: &(dyn Fn() + Sync)) -> f64 {
    let started = Instant::now();
    let deadline = started + args.duration;
    let requests: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        request();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().filter_map(|w| w.join().ok()).sum()
    });
    (requests as f64 * args.batch as f64 / started.elapsed().as_secs_f64()).round()
}
