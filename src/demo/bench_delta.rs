//! `waylog bench-delta` (hidden verb, `scripts/bench.sh delta`): the cold tier's Delta costs
//! through the real storage code, on local disk or on an S3 store:
//! - **flush**: `flushes` flushes of `rows_per_flush` events each through [`Storage::flush`]
//!   (WAL fsync on), with the per-phase split of every flush ([`FlushTiming`]): encode, Parquet
//!   PUTs, the Delta commit alone, and the whole flush;
//! - **snapshot**: a synthesized `events` table of `files` small real Parquet files (one tiny
//!   file per hour partition, its bytes stored under every name of that hour) committed
//!   `files_per_commit` at a time through [`TableLog::commit`] (so checkpoints are written as
//!   in production), then the snapshot load ([`TableLog::load`]: last checkpoint + the commits
//!   after it) timed from the checkpoint and from the JSON commits alone, then a real
//!   compaction pass ([`Storage::compact_cold`]) and the load timed again.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::bench::percentile;
use super::traffic::TrafficGen;
use crate::clock::{Clock, SystemClock};
use crate::config::cold_store::S3Settings;
use crate::storage::cold::{ColdStore, encode_parquet, partition_of};
use crate::storage::commit::{self, NodeId};
use crate::storage::delta::TableLog;
use crate::storage::schema::{TableId, events_to_batch};
use crate::storage::table::ColdFile;
use crate::storage::{FlushTiming, Storage, StorageConfig};

const HOUR_NS: i64 = 3_600_000_000_000;
/// Rows of each synthesized small file.
const ROWS_PER_SMALL_FILE: usize = 20;
/// Snapshot loads timed per state (the median and the best are reported).
const LOADS: usize = 5;

/// What `bench-delta` runs.
#[derive(Debug, Clone)]
pub struct DeltaBenchArgs {
    /// Parent of the stages' data directories.
    pub dir: std::path::PathBuf,
    /// `None`: each stage's `<data dir>/cold`; `s3://bucket/prefix`: `<prefix>/<stage>`.
    pub cold_store: Option<String>,
    pub s3: S3Settings,
    pub flushes: usize,
    pub rows_per_flush: usize,
    pub files: usize,
    pub files_per_commit: usize,
}

/// Run both stages and report them as one JSON object.
pub async fn bench_delta(args: &DeltaBenchArgs) -> anyhow::Result<Value> {
    let flush = bench_flushes(args).await?;
    let snapshot = bench_snapshot(args).await?;
    Ok(json!({
        "store": args.cold_store.as_deref().unwrap_or("local disk (<data dir>/cold, fsync)"),
        "flush": flush,
        "snapshot": snapshot,
    }))
}

/// A stage's data directory and cold store location.
fn stage(args: &DeltaBenchArgs, name: &str) -> (std::path::PathBuf, Option<String>) {
    let dir = args.dir.join(name);
    let store = args
        .cold_store
        .as_ref()
        .map(|base| format!("{}/{name}", base.trim_end_matches('/')));
    (dir, store)
}

/// A storage config for a bench data dir: the declared defaults with `cold_store`/`s3`.
fn bench_config(
    dir: &Path,
    cold_store: Option<String>,
    s3: &S3Settings,
    hot_window: Duration,
) -> StorageConfig {
    StorageConfig {
        cold_store,
        s3: s3.clone(),
        hot_window,
        hot_max_bytes: u64::MAX,
        ..StorageConfig::from(&crate::config::Config::for_data_dir(dir))
    }
}

/// p50 / p99 / max of durations, in ms.
fn summary(mut us: Vec<u64>) -> Value {
    us.sort_unstable();
    json!({
        "p50_ms": percentile(&us, 0.5),
        "p99_ms": percentile(&us, 0.99),
        "max_ms": us.last().copied().unwrap_or(0) as f64 / 1000.0,
    })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// `flushes` appends of `rows_per_flush` events, each followed by a flush; the phases of each.
async fn bench_flushes(args: &DeltaBenchArgs) -> anyhow::Result<Value> {
    let (dir, store) = stage(args, "flush");
    let cfg = bench_config(&dir, store, &args.s3, Duration::from_secs(365 * 86400));
    let (storage, _) = Storage::open(cfg, Arc::new(SystemClock)).await?;
    let mut traffic = TrafficGen::new(17);
    let mut phases: [Vec<u64>; 4] = Default::default();
    let mut t = SystemClock.now_ns() - 120_000_000_000;
    for _ in 0..args.flushes {
        let mut events = traffic.events(args.rows_per_flush, t, 1_000);
        events.truncate(args.rows_per_flush);
        t += 1_000 * events.len() as i64;
        storage
            .append(TableId::Events, events_to_batch(&events)?)
            .await?;
        storage.flush(TableId::Events).await?;
        let timing: FlushTiming = storage
            .stats
            .last_flush_timing
            .lock()
            .take()
            .ok_or_else(|| anyhow::anyhow!("a flush left no timing"))?;
        for (v, d) in
            phases
                .iter_mut()
                .zip([timing.encode, timing.put, timing.commit, timing.total])
        {
            v.push(micros(d));
        }
    }
    storage.close()?;
    let [encode, put, commit, total] = phases;
    Ok(json!({
        "flushes": args.flushes,
        "rows_per_flush": args.rows_per_flush,
        "encode": summary(encode),
        "parquet_put": summary(put),
        "delta_commit": summary(commit),
        "flush_total": summary(total),
    }))
}

/// Synthesize the 10k-file table, time its snapshot load, compact, time again.
async fn bench_snapshot(args: &DeltaBenchArgs) -> anyhow::Result<Value> {
    let (dir, store) = stage(args, "snapshot");
    std::fs::create_dir_all(&dir)?;
    let cold = ColdStore::open(store.as_deref(), &dir, true, &args.s3)?;
    let node = NodeId::load(&dir, true)?.ok_or_else(|| anyhow::anyhow!("no node id"))?;
    let build_start = Instant::now();
    let commits = synthesize_table(&cold, &node, args.files, args.files_per_commit).await?;
    let build_secs = build_start.elapsed().as_secs_f64();
    let before = time_loads(&cold).await?;
    let json_only = time_loads_without_checkpoint(&cold).await?;

    // A real compaction pass: every hour of the synthesized day is closed.
    let cfg = bench_config(&dir, store, &args.s3, Duration::from_secs(60));
    let (storage, _) = Storage::open(cfg, Arc::new(SystemClock)).await?;
    let compact_start = Instant::now();
    let replaced = storage.compact_cold(TableId::Events).await?;
    let compact_secs = compact_start.elapsed().as_secs_f64();
    let live_after = storage.table(TableId::Events).snapshot().cold.len();
    storage.close()?;
    drop(storage);
    let after = time_loads(&cold).await?;
    Ok(json!({
        "files": args.files,
        "commits": commits,
        "build_secs": round1(build_secs),
        "load_10k_files_from_checkpoint": before,
        "load_10k_files_json_commits_only": json_only,
        "compaction": {"files_replaced": replaced, "secs": round1(compact_secs), "files_after": live_after},
        "load_after_compaction": after,
    }))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// `files` small files over 24 closed hours of yesterday, committed `per_commit` at a time
/// with this node's `txn` (as flushes do). Returns the number of commits.
async fn synthesize_table(
    cold: &ColdStore,
    node: &NodeId,
    files: usize,
    per_commit: usize,
) -> anyhow::Result<usize> {
    let now_ns = SystemClock.now_ns();
    let day_start = (now_ns.div_euclid(HOUR_NS) - 48) * HOUR_NS;
    let mut traffic = TrafficGen::new(1017);
    let mut templates: Vec<(bytes::Bytes, ColdFile)> = Vec::with_capacity(24);
    for hour in 0..24i64 {
        let start = day_start + hour * HOUR_NS + 1_000_000_000;
        let mut events = traffic.events(ROWS_PER_SMALL_FILE, start, 1_000_000);
        events.truncate(ROWS_PER_SMALL_FILE);
        let batch = events_to_batch(&events)?;
        templates.push(encode_parquet(
            TableId::Events,
            &batch,
            String::new(),
            0,
            0,
        )?);
    }
    let mut log = TableLog::load(cold, TableId::Events).await?;
    let now_ms = now_ns / 1_000_000;
    log.ensure_created(cold, Vec::new(), now_ms).await?;
    let app = node.app_id();
    let per_commit = per_commit.max(1);
    let mut seq = 0u64;
    let mut commits = 0;
    let mut written = 0;
    while written < files {
        let mut batch = Vec::new();
        for _ in 0..per_commit.min(files - written) {
            seq += 1;
            let (bytes, template) = &templates[written % templates.len()];
            let path = format!(
                "events/{}/{seq:020}-{seq:020}-{}.parquet",
                partition_of(template.min_ts),
                node.tag()
            );
            cold.put(&path, bytes.clone()).await?;
            batch.push(ColdFile {
                path,
                first_seq: seq,
                last_seq: seq,
                ..template.clone()
            });
            written += 1;
        }
        let actions = commit::flush_actions(TableId::Events, &batch, &app, seq, now_ms);
        log.commit(cold, actions, "WRITE", Some((&app, seq)), now_ms)
            .await?;
        commits += 1;
    }
    Ok(commits)
}

/// [`LOADS`] snapshot loads of `events`: median and best, with the live file count.
async fn time_loads(cold: &ColdStore) -> anyhow::Result<Value> {
    let mut us = Vec::with_capacity(LOADS);
    let mut live = 0;
    let mut version = None;
    for _ in 0..LOADS {
        let started = Instant::now();
        let log = TableLog::load(cold, TableId::Events).await?;
        us.push(micros(started.elapsed()));
        live = log.files.len();
        version = log.version;
    }
    us.sort_unstable();
    Ok(json!({
        "median_ms": percentile(&us, 0.5),
        "best_ms": us[0] as f64 / 1000.0,
        "live_files": live,
        "version": version,
    }))
}

/// [`time_loads`] with `_last_checkpoint` set aside: the replay of every JSON commit from
/// version 0 (what loading costs without checkpoints). The pointer is put back after.
async fn time_loads_without_checkpoint(cold: &ColdStore) -> anyhow::Result<Value> {
    let pointer = format!("{}/_delta_log/_last_checkpoint", TableId::Events.name());
    let Some(saved) = cold.get_opt(&pointer).await? else {
        return time_loads(cold).await;
    };
    cold.delete(&pointer).await?;
    let timed = time_loads(cold).await;
    cold.put(&pointer, saved).await?;
    timed
}
