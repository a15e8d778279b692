//! Storage engine: WAL + hot tier + cold Parquet, one writer, one flusher.
//!
//! Write path (architecture §3): a request hands a record batch to the writer thread, which
//! drains whatever else is queued, drops rows whose id is already known (dedup), frames each
//! surviving batch as one WAL record (Arrow IPC payload), fdatasyncs once for the whole group,
//! appends the batches to the hot tier, and only then answers every request of the group.
//!
//! Invariants:
//! 1. an acknowledged row is fsynced (when `wal_sync`) and visible in the published snapshot;
//! 2. every row is in exactly one tier of any snapshot (see [`table`]);
//! 3. restart = load each table's Delta log (its `txn` gives the flushed sequence), load dedup
//!    id logs, replay WAL records above each table's flushed sequence; a torn tail is truncated and reported;
//! 4. the hot tier is bounded: at `hot_max_bytes` writes are refused (`overloaded`).

pub mod cold;
pub mod commit;
mod compact;
pub mod dedup;
pub mod delta;
pub mod schema;
pub mod table;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use datafusion::arrow::array::{
    Array, BooleanArray, RecordBatch, TimestampNanosecondArray, UInt8Array, UInt32Array,
};
use datafusion::arrow::compute::{
    SortColumn, concat_batches, filter_record_batch, interleave_record_batch, lexsort_to_indices,
    take_record_batch,
};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::failpoints;
use crate::wal::{self, Wal};
use cold::ColdStore;
use commit::NodeId;
pub use dedup::DedupStatus;
use dedup::{Dedup, hash_id};
use delta::TableLog;
use schema::{TableId, string_column};
use table::{ColdFile, HotBatch, TableSnapshot, TableState};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("data directory {path} is in use by another waylog process")]
    Locked { path: PathBuf },
    #[error("data directory io on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Wal(#[from] wal::Error),
    #[error(transparent)]
    Cold(#[from] cold::Error),
    #[error(transparent)]
    Dedup(#[from] dedup::Error),
    #[error(transparent)]
    Delta(delta::Error),
    #[error(
        "cold store {0} still has the pre-Delta manifest: start `waylog serve` on its data directory once to migrate it"
    )]
    NotMigrated(String),
    #[error("arrow")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("wal record {seq} holds an undecodable batch")]
    BadRecord {
        seq: u64,
        #[source]
        source: datafusion::arrow::error::ArrowError,
    },
    #[error("the writer has stopped")]
    WriterStopped,
    #[error("background task failed: {0}")]
    Join(String),
    /// A failure made on purpose by a test hook (`WAYLOG_TEST_HOOKS`) or a crash point of the
    /// fault-injection tests (feature `failpoints`).
    #[error("injected failure (test hook)")]
    Injected,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an append was not made durable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The WAL write or fsync failed: none, some or all rows may be stored.
    #[error("write-ahead log unavailable: {0}")]
    Durability(String),
    /// The writer is gone (shutting down).
    #[error("writer stopped")]
    Stopped,
    /// The writer's queue holds `WAYLOG_WRITE_QUEUE_BYTES` already: retry shortly.
    #[error("writer queue full")]
    Overloaded,
    /// The disk is full: the group was not acknowledged (none, some or all rows may be
    /// stored, as for `Durability`), and the writer is not poisoned: the next write tries a
    /// fresh WAL segment and succeeds once space frees.
    #[error("disk full: {0}")]
    DiskFull(String),
}

/// Which rows of a batch [`Storage::remove_rows`] keeps (`true` = keep).
pub type KeepFn = Arc<dyn Fn(&RecordBatch) -> Result<BooleanArray> + Send + Sync>;

/// What [`Storage::remove_rows`] does with one cold file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    /// No row of the file can match: keep it untouched.
    Keep,
    /// Every row matches: delete the file.
    Drop,
    /// Read it and rewrite it without the matching rows (if any).
    Inspect,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    pub accepted: usize,
    pub duplicate: usize,
}

/// Settings of the storage engine (a projection of [`Config`]).
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    pub cold_store: Option<String>,
    /// S3 overrides of an `s3://` cold store.
    pub s3: crate::config::cold_store::S3Settings,
    /// Size compaction merges the small files of a closed hour partition up to.
    pub compact_target_bytes: u64,
    pub wal_sync: bool,
    pub wal_segment_bytes: u64,
    pub hot_window: Duration,
    pub hot_max_bytes: u64,
    /// Bytes of rows queued for the writer before appends are refused (`Overloaded`).
    pub write_queue_bytes: u64,
    pub dedup_window: Duration,
    pub dedup_min_ids: usize,
    /// Byte budget of the dedup id set ([`dedup::Dedup`]).
    pub dedup_max_bytes: usize,
    pub retention: Duration,
    /// Retention of `signals` (by their `timestamp`).
    pub signal_retention: Duration,
}

impl StorageConfig {
    pub fn retention_of(&self, t: TableId) -> Duration {
        match t {
            TableId::Events => self.retention,
            TableId::Signals => self.signal_retention,
            TableId::DeploymentVersions => self.retention,
            TableId::Alerts => self.signal_retention,
            // Resolved incidents are pruned per incident by the engine's janitor; the generic
            // row-age pass never removes a version (an active incident can be old).
            TableId::IncidentVersions => Duration::from_secs(100 * 365 * 86_400),
        }
    }
}

impl From<&Config> for StorageConfig {
    fn from(c: &Config) -> Self {
        StorageConfig {
            data_dir: c.data_dir.clone(),
            cold_store: c.cold_store.clone(),
            s3: c.s3.clone(),
            compact_target_bytes: c.compact_target_bytes,
            wal_sync: c.wal_sync,
            wal_segment_bytes: c.wal_segment_bytes,
            hot_window: c.hot_window,
            hot_max_bytes: c.hot_max_bytes,
            write_queue_bytes: c.write_queue_bytes,
            dedup_window: c.dedup_window,
            dedup_min_ids: c.dedup_min_ids,
            dedup_max_bytes: c.dedup_max_bytes,
            retention: c.retention,
            signal_retention: c.signal_retention,
        }
    }
}

/// One request's rows, possibly for several tables: all parts go into the same WAL group
/// (one fsync) and become visible together.
struct WriteMsg {
    parts: Vec<(TableId, RecordBatch)>,
    reply: oneshot::Sender<Result<AppendOutcome, WriteError>>,
    /// Its bytes in the writer queue, given back when the writer is done with it.
    ticket: QueueTicket,
}

impl WriteMsg {
    /// Answer the request; its bytes leave the queue first, so a client that sends again as
    /// soon as it has its answer finds them gone.
    fn answer(self, result: Result<AppendOutcome, WriteError>) {
        let WriteMsg { reply, ticket, .. } = self;
        drop(ticket);
        let _ = reply.send(result);
    }
}

/// Bytes of one message counted in [`Storage`]'s writer queue until dropped.
struct QueueTicket {
    bytes: u64,
    queued: Arc<AtomicU64>,
}

impl Drop for QueueTicket {
    fn drop(&mut self) {
        self.queued.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// What startup recovery did (logged by the server).
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    /// The newest Delta version over the tables.
    pub delta_version: u64,
    pub cold_files: usize,
    pub replayed_records: u64,
    pub replayed_rows: u64,
    pub wal_bytes: u64,
    pub dedup_ids: usize,
    pub problems: Vec<String>,
    pub elapsed: Duration,
}

/// One table's gauges for `/metrics` (read from its snapshot: no I/O, no SQL).
#[derive(Debug, Clone, PartialEq)]
pub struct TableGauges {
    pub table: TableId,
    pub hot_rows: u64,
    pub hot_bytes: u64,
    pub cold_files: u64,
    pub cold_bytes: u64,
    /// Age of the oldest unflushed hot batch (0 when none).
    pub oldest_unflushed_s: f64,
}

/// Counters exposed for logs, tests and metrics.
#[derive(Debug, Default)]
pub struct Stats {
    /// Where the time of the last flush chunk went (benchmarks read it after each flush).
    pub last_flush_timing: Mutex<Option<FlushTiming>>,
    pub flushes: AtomicU64,
    pub flushed_rows: AtomicU64,
    pub last_flush_ms: AtomicU64,
    pub retention_removed_rows: AtomicU64,
}

/// The phases of one flush chunk, each measured from the end of the previous one.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FlushTiming {
    /// Sort and ZSTD Parquet encoding of the chunk.
    pub encode: Duration,
    /// The Parquet PUTs (+ fsync of file and directories on local disk).
    pub put: Duration,
    /// The Delta commit alone (conditional create + fsync locally, checkpoint when due).
    pub commit: Duration,
    /// From the start of the chunk to the WAL deletion after the commit.
    pub total: Duration,
}

pub struct Storage {
    cfg: StorageConfig,
    clock: SharedClock,
    tables: BTreeMap<TableId, Arc<TableState>>,
    cold: ColdStore,
    /// Every table's Delta log (the cold tier's commits), at the version last read.
    logs: tokio::sync::Mutex<BTreeMap<TableId, TableLog>>,
    /// This node's identity (`txn` app id, file tag); `None` for a read-only open of a data
    /// directory no server has opened.
    node: Option<NodeId>,
    /// Files removed from the tables (compaction, retention) with the clock time (ns) their
    /// grace period ends; deleted after it. Rebuilt at start from the logs' tombstones.
    vacuum: Mutex<Vec<(i64, String)>>,
    wal: Option<Arc<Mutex<Wal>>>,
    writer_tx: Mutex<Option<mpsc::Sender<WriteMsg>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Serializes flush, compaction and retention.
    maintenance: tokio::sync::Mutex<()>,
    pub stats: Stats,
    read_only: bool,
    _lock: Option<File>,
    closed: AtomicBool,
    /// Set by the writer when a WAL write or fsync failed: the file's state is unknown, so no
    /// further write is acknowledged until a restart replays and repairs the log.
    poisoned: Arc<std::sync::OnceLock<String>>,
    /// The dedup set's status as the writer last published it.
    dedup_status: Arc<Mutex<DedupStatus>>,
    /// The last WAL append failed on a full disk (cleared by the next success).
    disk_full: Arc<AtomicBool>,
    /// Bytes of rows handed to the writer and not yet written (bounded by
    /// `write_queue_bytes`).
    queued_bytes: Arc<AtomicU64>,
    /// Since when flushes have failed without a success (`None` while healthy).
    flush_failing_since: Mutex<Option<Instant>>,
    /// Test hook: every flush fails ([`Storage::fail_flushes_for_test`]).
    fail_flushes: AtomicBool,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("data_dir", &self.cfg.data_dir)
            .field("cold", &self.cold.location)
            .finish()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn encode_ipc(batch: &RecordBatch) -> Result<Vec<u8>, datafusion::arrow::error::ArrowError> {
    let mut buf = Vec::with_capacity(batch.get_array_memory_size() / 2 + 1024);
    {
        let mut w = StreamWriter::try_new(&mut buf, &batch.schema())?;
        w.write(batch)?;
        w.finish()?;
    }
    Ok(buf)
}

pub fn decode_ipc(bytes: &[u8]) -> Result<Vec<RecordBatch>, datafusion::arrow::error::ArrowError> {
    let reader = StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
    reader.collect()
}

/// Rows of a replayed record, adapted to the current schema (older records may lack columns).
fn adapt_to_schema(
    batch: RecordBatch,
    table: TableId,
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let schema = table.schema();
    if batch.schema().fields() == schema.fields() {
        return RecordBatch::try_new(schema, batch.columns().to_vec());
    }
    let cols = schema
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => c.clone(),
            _ => datafusion::arrow::array::new_null_array(f.data_type(), batch.num_rows()),
        })
        .collect();
    RecordBatch::try_new(schema, cols)
}

struct Replayed {
    hot: BTreeMap<TableId, Vec<HotBatch>>,
    ids: Vec<(u128, i64)>,
    report: wal::ReplayReport,
    rows: u64,
}

/// Per table, the WAL sequence this node flushed through: its `txn` version in the table's
/// Delta log (0 without a node id or a `txn`).
fn flushed_seqs(
    logs: &BTreeMap<TableId, TableLog>,
    node: Option<&NodeId>,
) -> BTreeMap<TableId, u64> {
    let app = node.map(NodeId::app_id);
    logs.iter()
        .map(|(t, l)| (*t, app.as_deref().map_or(0, |a| l.txn_version(a))))
        .collect()
}

fn replay_wal(dir: &Path, flushed: &BTreeMap<TableId, u64>, repair: bool) -> Result<Replayed> {
    let mut hot: BTreeMap<TableId, Vec<HotBatch>> = BTreeMap::new();
    let mut ids = Vec::new();
    let mut rows = 0u64;
    let mut failure: Option<Error> = None;
    let report = wal::replay(dir, repair, |rec| {
        if failure.is_some() {
            return;
        }
        let Some(table) = TableId::from_code(rec.table) else {
            failure = Some(Error::BadRecord {
                seq: rec.seq,
                source: datafusion::arrow::error::ArrowError::InvalidArgumentError(format!(
                    "unknown table code {}",
                    rec.table
                )),
            });
            return;
        };
        if rec.seq <= flushed.get(&table).copied().unwrap_or(0) {
            return;
        }
        let batches = match decode_ipc(rec.payload) {
            Ok(b) => b,
            Err(source) => {
                failure = Some(Error::BadRecord {
                    seq: rec.seq,
                    source,
                });
                return;
            }
        };
        for batch in batches {
            let batch = match adapt_to_schema(batch, table) {
                Ok(b) => b,
                Err(source) => {
                    failure = Some(Error::BadRecord {
                        seq: rec.seq,
                        source,
                    });
                    return;
                }
            };
            if let Some(col) = table.id_column().and_then(|c| string_column(&batch, c)) {
                ids.extend(col.iter().flatten().map(|id| (hash_id(id), rec.commit_ns)));
            }
            rows += batch.num_rows() as u64;
            hot.entry(table).or_default().push(HotBatch::new(
                rec.seq,
                rec.seq,
                rec.commit_ns,
                rec.commit_ns,
                batch,
                table,
            ));
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Replayed {
        hot,
        ids,
        report,
        rows,
    })
}

/// The order of the rows of `keys` (a batch holding at least the sort columns, and for events
/// `trace_id`) in the table's sort order (`TableId::sort_columns`, e.g. service then
/// ts_start), and how many of the leading rows may hold a failed status. Events lead with a tier: the
/// failed rows (tier 0), then the other rows of the batch's failed traces (tier 1), then the
/// rest, so a failure scan reads one contiguous run (a merged hot batch only that prefix,
/// [`HotBatch::failed_rows`]; a cold file its first pages) and the read models that load every
/// event of the failed traces touch a small part of each file (see `TableId::sort_columns`).
fn sort_indices(keys: &RecordBatch, t: TableId) -> Result<(UInt32Array, usize)> {
    let mut sort_cols: Vec<SortColumn> = Vec::new();
    let mut failed_rows = keys.num_rows();
    if t == TableId::Events
        && let Some((tiers, failed)) = failure_tiers(keys)
    {
        failed_rows = failed;
        sort_cols.push(SortColumn {
            values: Arc::new(tiers),
            options: None,
        });
    }
    sort_cols.extend(
        t.sort_columns()
            .iter()
            .filter_map(|c| keys.column_by_name(c))
            .map(|c| SortColumn {
                values: c.clone(),
                options: None,
            }),
    );
    Ok((lexsort_to_indices(&sort_cols, None)?, failed_rows))
}

/// The columns [`sort_indices`] reads, concatenated over `parts` (a few small columns: the
/// rows themselves are copied only once, by [`sorted_rows`]).
fn sort_keys(parts: &[&RecordBatch], t: TableId) -> Result<RecordBatch> {
    let schema = t.schema();
    let mut names: Vec<&str> = t.sort_columns().to_vec();
    if t == TableId::Events {
        names.push("trace_id");
    }
    let projection: Vec<usize> = names
        .iter()
        .filter_map(|n| schema.index_of(n).ok())
        .collect();
    let projected = parts
        .iter()
        .map(|b| b.project(&projection))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let keys_schema = Arc::new(schema.project(&projection)?);
    Ok(concat_batches(&keys_schema, &projected)?)
}

/// The rows of `parts` (numbered across the parts, in order) picked by `rows` (all when
/// `None`), in the table's sort order, each copied once from its source batch; and the number
/// of failed rows (they come first). `keys` = [`sort_keys`] of `parts`.
fn sorted_rows(
    parts: &[&RecordBatch],
    keys: &RecordBatch,
    rows: Option<&UInt32Array>,
    t: TableId,
) -> Result<(RecordBatch, usize)> {
    let picked;
    let keys = match rows {
        Some(rows) => {
            picked = take_record_batch(keys, rows)?;
            &picked
        }
        None => keys,
    };
    let (order, failed_rows) = sort_indices(keys, t)?;
    let mut starts = Vec::with_capacity(parts.len());
    let mut total = 0;
    for p in parts {
        starts.push(total);
        total += p.num_rows();
    }
    let pairs: Vec<(usize, usize)> = order
        .values()
        .iter()
        .map(|&i| {
            let row = rows.map_or(i, |r| r.value(i as usize)) as usize;
            let part = starts.partition_point(|s| *s <= row) - 1;
            (part, row - starts[part])
        })
        .collect();
    if pairs.is_empty() {
        return Ok((RecordBatch::new_empty(t.schema()), 0));
    }
    Ok((interleave_record_batch(parts, &pairs)?, failed_rows))
}

/// The runs of adjacent unsettled hot batches (fewer than [`HOT_SETTLED_ROWS`] rows) that one
/// compaction pass merges, each closed at [`HOT_MERGE_TARGET_ROWS`] rows or by a settled batch
/// (never part of a run). The trailing run, which the next requests would extend, waits until
/// it has more than [`HOT_MERGE_TRIGGER`] batches: at a moderate rate its merged batch is then
/// re-merged a few times on its way to settling, not once per pass.
fn merge_runs(hot: &[Arc<HotBatch>]) -> Vec<Vec<Arc<HotBatch>>> {
    let mut runs: Vec<Vec<Arc<HotBatch>>> = Vec::new();
    let mut cur: Vec<Arc<HotBatch>> = Vec::new();
    let mut cur_rows = 0;
    for h in hot {
        let n = h.batch.num_rows();
        if n >= HOT_SETTLED_ROWS {
            if cur.len() > 1 {
                runs.push(std::mem::take(&mut cur));
            }
            cur.clear();
            cur_rows = 0;
            continue;
        }
        cur.push(h.clone());
        cur_rows += n;
        if cur_rows >= HOT_MERGE_TARGET_ROWS {
            runs.push(std::mem::take(&mut cur));
            cur_rows = 0;
        }
    }
    if cur.len() > HOT_MERGE_TRIGGER {
        runs.push(cur);
    }
    runs
}

/// Per row of an events batch its failure tier: 0 when its status is failed, 1 when another
/// event of its trace in the batch is, else 2; and the number of tier-0 rows (`None` without
/// `status` and `trace_id` string columns).
fn failure_tiers(batch: &RecordBatch) -> Option<(UInt8Array, usize)> {
    let status =
        datafusion::arrow::array::AsArray::as_string_opt::<i32>(batch.column_by_name("status")?)?;
    let trace =
        datafusion::arrow::array::AsArray::as_string_opt::<i32>(batch.column_by_name("trace_id")?)?;
    // Each row's status is checked once.
    let own: Vec<bool> = (0..batch.num_rows())
        .map(|i| status.is_valid(i) && crate::model::status_is_failed(status.value(i)))
        .collect();
    let failed: std::collections::HashSet<&str> = (0..batch.num_rows())
        .filter(|&i| own[i] && trace.is_valid(i))
        .map(|i| trace.value(i))
        .collect();
    let tiers = (0..batch.num_rows())
        .map(|i| {
            if own[i] {
                0u8
            } else if trace.is_valid(i) && failed.contains(trace.value(i)) {
                1
            } else {
                2
            }
        })
        .collect();
    Some((tiers, own.iter().filter(|o| **o).count()))
}

/// One hot batch with the rows of `batches`, in the table's sort order like a cold file: a
/// filter on the leading sort column (a service) then selects long runs, which Arrow's filter
/// copies slice by slice instead of row by row (what makes nested `steps` cheap to filter).
fn merge_hot(batches: &[Arc<HotBatch>], table: TableId) -> Result<HotBatch> {
    let parts: Vec<&RecordBatch> = batches.iter().map(|h| &h.batch).collect();
    let keys = sort_keys(&parts, table)?;
    let (merged, failed_rows) = sorted_rows(&parts, &keys, None, table)?;
    let mut batch = HotBatch::new(
        batches.iter().map(|h| h.first_seq).min().unwrap_or(0),
        batches.iter().map(|h| h.last_seq).max().unwrap_or(0),
        batches.iter().map(|h| h.commit_ns).max().unwrap_or(0),
        batches
            .iter()
            .map(|h| h.oldest_commit_ns)
            .min()
            .unwrap_or(0),
        merged,
        table,
    );
    batch.failed_rows = failed_rows;
    Ok(batch)
}

/// Hot compaction closes a run of small batches once it holds this many rows.
const HOT_MERGE_TARGET_ROWS: usize = 64 * 1024;
/// Hot batches with at least this many rows are settled: hot compaction never merges them
/// again, so under a sustained load every row is copied by one merge only (the trailing run
/// of a pass, merged into a batch of this size or more, is not re-merged with the next pass's
/// batches), and the warmers above (trace indexes, dimension summaries) build each settled
/// batch's data once.
pub const HOT_SETTLED_ROWS: usize = HOT_MERGE_TARGET_ROWS / 2;
/// Rows per flushed file (upper bound of a flush chunk).
const FLUSH_CHUNK_ROWS: usize = 1 << 20;
/// How often the maintenance loop compacts closed hour partitions and vacuums.
const COLD_COMPACT_EVERY: Duration = Duration::from_secs(60);
/// How often the maintenance loop reads other nodes' commits to the cold tables.
const COLD_REFRESH_EVERY: Duration = Duration::from_secs(5);
/// Compaction starts when the hot tier has more batches than this, and merges a trailing run of
/// small batches only when it has more than this many ([`merge_runs`]).
const HOT_MERGE_TRIGGER: usize = 16;

impl Storage {
    /// Open a data directory for serving: lock it, recover, start the writer thread.
    pub async fn open(
        cfg: StorageConfig,
        clock: SharedClock,
    ) -> Result<(Arc<Storage>, RecoveryReport)> {
        let started = Instant::now();
        std::fs::create_dir_all(&cfg.data_dir).map_err(io_err(&cfg.data_dir))?;
        let lock_path = cfg.data_dir.join("LOCK");
        let lock = File::create(&lock_path).map_err(io_err(&lock_path))?;
        if lock.try_lock().is_err() {
            return Err(Error::Locked {
                path: cfg.data_dir.clone(),
            });
        }
        let cold = ColdStore::open(cfg.cold_store.as_deref(), &cfg.data_dir, true, &cfg.s3)?;
        let node = NodeId::load(&cfg.data_dir, true)?.expect("created when missing");
        let now = clock.now_ns();
        let commit::OpenedLogs {
            logs,
            problems: orphans,
            pending_vacuum,
        } = commit::open_logs(&cold, &node, now / 1_000_000).await?;
        let flushed = flushed_seqs(&logs, Some(&node));
        let mut dedup = Dedup::new(
            i64::try_from(cfg.dedup_window.as_nanos()).unwrap_or(i64::MAX),
            cfg.dedup_min_ids,
            cfg.dedup_max_bytes,
        );
        let mut problems = dedup::load_id_logs(&cfg.data_dir.join("dedup"), &mut dedup, now)?;
        problems.extend(orphans);
        let wal_dir = cfg.data_dir.join("wal");
        let dir = wal_dir.clone();
        let f = flushed.clone();
        let replayed = tokio::task::spawn_blocking(move || replay_wal(&dir, &f, true))
            .await
            .map_err(|e| Error::Join(e.to_string()))??;
        for (h, t) in &replayed.ids {
            dedup.insert(*h, *t);
        }
        dedup.expire(now);
        problems.extend(replayed.report.problems.iter().cloned());
        let segment_floor = wal::list_segments(&wal_dir)?
            .last()
            .map(|(first, _)| *first)
            .unwrap_or(1);
        let next_seq = [
            replayed.report.last_seq.map(|s| s + 1).unwrap_or(1),
            flushed.values().max().copied().unwrap_or(0) + 1,
            segment_floor,
        ]
        .into_iter()
        .max()
        .unwrap_or(1);
        let wal = Wal::open(&wal_dir, next_seq, cfg.wal_segment_bytes, cfg.wal_sync)?;
        let report = RecoveryReport {
            delta_version: logs.values().filter_map(|l| l.version).max().unwrap_or(0),
            cold_files: logs.values().map(|l| l.files.len()).sum(),
            replayed_records: replayed.report.records,
            replayed_rows: replayed.rows,
            wal_bytes: replayed.report.bytes,
            dedup_ids: dedup.len(),
            problems,
            elapsed: started.elapsed(),
        };
        let storage = Arc::new(Self::assemble(
            cfg,
            clock,
            cold,
            (logs, Some(node)),
            replayed.hot,
            Some(wal),
            false,
            Some(lock),
        ));
        storage.schedule_vacuum_at(
            pending_vacuum
                .into_iter()
                .map(|(deleted_ms, path)| (deleted_ms.saturating_mul(1_000_000), path)),
        );
        storage.start_writer(dedup);
        // Replay leaves one batch per record; merge them so queries see few batches.
        for t in TableId::ALL {
            storage.compact_hot(t).await?;
        }
        Ok((storage, report))
    }

    /// Open a data directory read-only (no lock, no writes): cold files plus the durable WAL
    /// records not yet flushed. Used by `waylog query --data-dir` next to a running server.
    pub async fn open_read_only(
        data_dir: &Path,
        cold_store: Option<&str>,
        s3: &crate::config::cold_store::S3Settings,
        clock: SharedClock,
    ) -> Result<Arc<Storage>> {
        if !data_dir.is_dir() {
            return Err(Error::Io {
                path: data_dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such data directory"),
            });
        }
        let cold = ColdStore::open(cold_store, data_dir, false, s3)?;
        let node = NodeId::load(data_dir, false)?;
        // A running server may flush (and delete WAL segments) while we read: retry until
        // every table's Delta version is the same before and after the WAL replay.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let logs = commit::load_logs(&cold).await?;
            if logs.values().all(|l| l.version.is_none())
                && !cold.manifest_versions().await?.is_empty()
            {
                return Err(Error::NotMigrated(cold.location.clone()));
            }
            let flushed = flushed_seqs(&logs, node.as_ref());
            let dir = data_dir.join("wal");
            let replayed = tokio::task::spawn_blocking(move || replay_wal(&dir, &flushed, false))
                .await
                .map_err(|e| Error::Join(e.to_string()))??;
            let after = commit::load_logs(&cold).await?;
            let versions =
                |l: &BTreeMap<TableId, TableLog>| l.values().map(|t| t.version).collect::<Vec<_>>();
            if versions(&after) == versions(&logs) || attempt >= 5 {
                let cfg = StorageConfig {
                    data_dir: data_dir.to_path_buf(),
                    cold_store: cold_store.map(str::to_string),
                    s3: s3.clone(),
                    compact_target_bytes: u64::MAX,
                    wal_sync: false,
                    wal_segment_bytes: u64::MAX,
                    hot_window: Duration::MAX,
                    hot_max_bytes: u64::MAX,
                    write_queue_bytes: u64::MAX,
                    dedup_window: Duration::ZERO,
                    dedup_min_ids: 0,
                    dedup_max_bytes: 0,
                    retention: Duration::MAX,
                    signal_retention: Duration::MAX,
                };
                let s = Arc::new(Self::assemble(
                    cfg,
                    clock,
                    cold,
                    (logs, node),
                    replayed.hot,
                    None,
                    true,
                    None,
                ));
                for t in TableId::ALL {
                    s.compact_hot(t).await?;
                }
                return Ok(s);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        cfg: StorageConfig,
        clock: SharedClock,
        cold: ColdStore,
        (logs, node): (BTreeMap<TableId, TableLog>, Option<NodeId>),
        mut hot: BTreeMap<TableId, Vec<HotBatch>>,
        wal: Option<Wal>,
        read_only: bool,
        lock: Option<File>,
    ) -> Storage {
        let tables = TableId::ALL
            .into_iter()
            .map(|t| {
                let files = logs.get(&t).map(TableLog::cold_files).unwrap_or_default();
                let state = TableState::new(t, files);
                let batches = hot.remove(&t).unwrap_or_default();
                state.update(|s| s.hot.extend(batches.into_iter().map(Arc::new)));
                (t, Arc::new(state))
            })
            .collect();
        Storage {
            cfg,
            clock,
            tables,
            cold,
            logs: tokio::sync::Mutex::new(logs),
            node,
            vacuum: Mutex::new(Vec::new()),
            wal: wal.map(|w| Arc::new(Mutex::new(w))),
            writer_tx: Mutex::new(None),
            writer_thread: Mutex::new(None),
            maintenance: tokio::sync::Mutex::new(()),
            stats: Stats::default(),
            read_only,
            _lock: lock,
            closed: AtomicBool::new(false),
            poisoned: Arc::default(),
            dedup_status: Arc::default(),
            disk_full: Arc::default(),
            queued_bytes: Arc::default(),
            flush_failing_since: Mutex::new(None),
            fail_flushes: AtomicBool::new(false),
        }
    }

    /// Per-table gauges for `/metrics`, from the current snapshots.
    pub fn table_gauges(&self) -> Vec<TableGauges> {
        let now = self.clock.now_ns();
        self.tables
            .iter()
            .map(|(t, state)| {
                let s = state.snapshot();
                let oldest = s.hot.iter().map(|h| h.oldest_commit_ns).min();
                TableGauges {
                    table: *t,
                    hot_rows: s.hot_rows() as u64,
                    hot_bytes: s.hot_bytes(),
                    cold_files: s.cold.len() as u64,
                    cold_bytes: s.cold.iter().map(|c| c.size).sum(),
                    oldest_unflushed_s: oldest
                        .map(|o| now.saturating_sub(o).max(0) as f64 / 1e9)
                        .unwrap_or(0.0),
                }
            })
            .collect()
    }

    /// Bytes handed to the writer and not yet written.
    pub fn queued_bytes(&self) -> u64 {
        self.queued_bytes.load(Ordering::Relaxed)
    }

    /// How long flushes have been failing without a success (`None` while healthy).
    pub fn flush_failing_for(&self) -> Option<Duration> {
        self.flush_failing_since.lock().map(|t| t.elapsed())
    }

    /// Whether the writer thread runs (a writable storage that was not closed and whose
    /// thread has not ended).
    pub fn writer_alive(&self) -> bool {
        self.writer_thread
            .lock()
            .as_ref()
            .is_some_and(|h| !h.is_finished())
    }

    /// Test hook (`WAYLOG_TEST_HOOKS`): stop the writer thread as if it had died; writes are
    /// then refused and `/readyz` names the writer.
    #[doc(hidden)]
    pub fn stop_writer_for_test(&self) {
        self.writer_tx.lock().take();
    }

    /// Test hook (`WAYLOG_TEST_HOOKS`): poison the writer as a failed fsync would.
    #[doc(hidden)]
    pub fn poison_for_test(&self) {
        let _ = self
            .poisoned
            .set("write-ahead log failed: injected by a test hook".into());
        crate::metrics::get().wal_poisoned.set(1.0);
    }

    /// Test hook (`WAYLOG_TEST_HOOKS`): make every flush fail from now on.
    #[doc(hidden)]
    pub fn fail_flushes_for_test(&self) {
        self.fail_flushes.store(true, Ordering::SeqCst);
    }

    pub fn cold(&self) -> &ColdStore {
        &self.cold
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub fn config(&self) -> &StorageConfig {
        &self.cfg
    }

    pub fn table(&self, t: TableId) -> &Arc<TableState> {
        &self.tables[&t]
    }

    /// One consistent snapshot of every table.
    pub fn snapshot(&self) -> BTreeMap<TableId, Arc<TableSnapshot>> {
        self.tables
            .iter()
            .map(|(t, s)| (*t, s.snapshot()))
            .collect()
    }

    pub fn hot_bytes(&self) -> u64 {
        self.tables.values().map(|t| t.snapshot().hot_bytes()).sum()
    }

    /// Why writes are refused until a restart: a WAL write or fsync failed (the writer stopped
    /// acknowledging, like PostgreSQL after a failed fsync). `None` while healthy.
    pub fn poisoned(&self) -> Option<&str> {
        self.poisoned.get().map(String::as_str)
    }

    /// Whether the last WAL append failed on a full disk: writes answer `disk_full` until an
    /// append succeeds again (reads are unaffected).
    pub fn disk_full(&self) -> bool {
        self.disk_full.load(Ordering::SeqCst)
    }

    /// Test hook: the writer's next WAL group fails as if the disk had.
    #[cfg(test)]
    pub(crate) fn inject_wal_write_failure(&self) {
        if let Some(wal) = &self.wal {
            wal.lock().fail_next_write();
        }
    }

    /// `Some(retry_after_secs)` when the hot tier is full and writes must be refused.
    pub fn overloaded(&self) -> Option<u64> {
        if self.hot_bytes() < self.cfg.hot_max_bytes {
            return None;
        }
        let last_ms = self.stats.last_flush_ms.load(Ordering::Relaxed);
        Some((last_ms / 1000).clamp(1, 30))
    }

    /// The dedup set's status as of the last write group (or recovery).
    pub fn dedup_status(&self) -> DedupStatus {
        *self.dedup_status.lock()
    }

    fn start_writer(self: &Arc<Self>, mut dedup: Dedup) {
        publish_dedup(&dedup, &self.dedup_status);
        let dedup_status = self.dedup_status.clone();
        let disk_full = self.disk_full.clone();
        let (tx, rx) = mpsc::channel::<WriteMsg>();
        *self.writer_tx.lock() = Some(tx);
        let wal = self.wal.clone().expect("a writable storage has a wal");
        let tables = self.tables.clone();
        let clock = self.clock.clone();
        let poisoned = self.poisoned.clone();
        let handle = std::thread::Builder::new()
            .name("waylog-writer".into())
            .spawn(move || {
                let shared = WriterShared {
                    poisoned: &poisoned,
                    dedup_status: &dedup_status,
                    disk_full: &disk_full,
                };
                writer_loop(rx, wal, tables, clock, &mut dedup, shared)
            })
            .expect("spawning the writer thread");
        *self.writer_thread.lock() = Some(handle);
    }

    /// Make `batch` durable and visible; rows whose id is already known are dropped and
    /// counted as duplicates. Returns after the group's fsync and hot-tier publish.
    pub async fn append(
        &self,
        table: TableId,
        batch: RecordBatch,
    ) -> Result<AppendOutcome, WriteError> {
        self.append_many(vec![(table, batch)]).await
    }

    /// [`Storage::append`] for several tables at once: every part is written in the same WAL
    /// group commit (one fsync) and published to the hot tier together. The outcome sums the
    /// parts.
    pub async fn append_many(
        &self,
        parts: Vec<(TableId, RecordBatch)>,
    ) -> Result<AppendOutcome, WriteError> {
        let (reply, rx) = oneshot::channel();
        let bytes: u64 = parts
            .iter()
            .map(|(_, b)| b.get_array_memory_size() as u64)
            .sum();
        // Admission: a message always fits an empty queue, however large; otherwise the queue
        // must have room, so a stalled disk cannot make waiting rows grow without bound.
        let before = self.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
        let ticket = QueueTicket {
            bytes,
            queued: self.queued_bytes.clone(),
        };
        if before > 0 && before + bytes > self.cfg.write_queue_bytes {
            return Err(WriteError::Overloaded);
        }
        {
            let tx = self.writer_tx.lock();
            let tx = tx.as_ref().ok_or(WriteError::Stopped)?;
            tx.send(WriteMsg {
                parts,
                reply,
                ticket,
            })
            .map_err(|_| WriteError::Stopped)?;
        }
        rx.await.map_err(|_| WriteError::Stopped)?
    }

    /// Stop the writer (after it drained its queue) and sync the WAL.
    pub fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.writer_tx.lock().take();
        if let Some(h) = self.writer_thread.lock().take() {
            let _ = h.join();
        }
        if let Some(wal) = &self.wal {
            wal.lock().sync()?;
        }
        Ok(())
    }

    /// Merge small hot batches of `t` (background; no concatenation on the query path).
    pub async fn compact_hot(&self, t: TableId) -> Result<()> {
        // A merge spliced in while a flush of the same batches is in flight would survive the
        // flush's pointer-based removal: rows in both tiers. Serialize with flush and retention.
        let _guard = self.maintenance.lock().await;
        let state = self.table(t).clone();
        let snap = state.snapshot();
        if snap.hot.len() <= HOT_MERGE_TRIGGER {
            return Ok(());
        }
        let runs = merge_runs(&snap.hot);
        if runs.is_empty() {
            return Ok(());
        }
        crate::metrics::compaction_pass();
        let merged = tokio::task::spawn_blocking(move || {
            runs.into_iter()
                .map(|run| merge_hot(&run, t).map(|m| (run, m)))
                .collect::<Result<Vec<_>>>()
        })
        .await
        .map_err(|e| Error::Join(e.to_string()))??;
        state.update(|s| {
            for (run, m) in merged {
                // Replace the run only if it is still there, contiguous and unchanged.
                let Some(start) = s.hot.iter().position(|h| Arc::ptr_eq(h, &run[0])) else {
                    continue;
                };
                let intact = run
                    .iter()
                    .enumerate()
                    .all(|(i, r)| s.hot.get(start + i).is_some_and(|h| Arc::ptr_eq(h, r)));
                if intact {
                    s.hot.splice(start..start + run.len(), [Arc::new(m)]);
                }
            }
        });
        Ok(())
    }

    /// Does table `t` need a flush now (age or bytes)?
    pub fn flush_due(&self, t: TableId) -> bool {
        let snap = self.table(t).snapshot();
        if snap.hot.is_empty() {
            return false;
        }
        let now = self.clock.now_ns();
        let oldest = snap
            .hot
            .iter()
            .map(|h| h.oldest_commit_ns)
            .min()
            .unwrap_or(now);
        let age = Duration::from_nanos(now.saturating_sub(oldest).max(0) as u64);
        age >= self.cfg.hot_window || self.hot_bytes() >= self.cfg.hot_max_bytes / 2
    }

    /// Write every hot batch of `t` to Parquet, commit them to the table's Delta log, then swap the snapshot so
    /// the rows move from hot to cold in one step. Returns the number of rows flushed.
    pub async fn flush(&self, t: TableId) -> Result<u64> {
        if self.read_only {
            return Ok(0);
        }
        if self.fail_flushes.load(Ordering::SeqCst) {
            return Err(Error::Injected);
        }
        let _guard = self.maintenance.lock().await;
        let snap = self.table(t).snapshot();
        // Flush in chunks (prefixes of the hot list, in sequence order) so memory stays
        // bounded by one chunk; each chunk commits and swaps on its own.
        let mut total = 0;
        let mut chunk: Vec<Arc<HotBatch>> = Vec::new();
        let mut rows = 0;
        for h in &snap.hot {
            chunk.push(h.clone());
            rows += h.batch.num_rows();
            if rows >= FLUSH_CHUNK_ROWS {
                total += self.flush_chunk(t, std::mem::take(&mut chunk)).await?;
                rows = 0;
            }
        }
        if !chunk.is_empty() {
            total += self.flush_chunk(t, chunk).await?;
        }
        Ok(total)
    }

    async fn flush_chunk(&self, t: TableId, batches: Vec<Arc<HotBatch>>) -> Result<u64> {
        let started = Instant::now();
        let Some(node) = self.node.clone() else {
            return Ok(0);
        };
        let state = self.table(t).clone();
        let first_seq = batches.iter().map(|h| h.first_seq).min().unwrap_or(0);
        let last_seq = batches.iter().map(|h| h.last_seq).max().unwrap_or(0);
        let ids: Vec<(u128, i64)> = match t.id_column() {
            Some(c) => batches
                .iter()
                .flat_map(|h| {
                    string_column(&h.batch, c)
                        .map(|col| {
                            col.iter()
                                .flatten()
                                .map(|id| (hash_id(id), h.commit_ns))
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default()
                })
                .collect(),
            None => Vec::new(),
        };
        let to_encode = batches.clone();
        let tag = node.tag().to_string();
        let files = tokio::task::spawn_blocking(move || {
            encode_partitions(t, &to_encode, first_seq, last_seq, &tag)
        })
        .await
        .map_err(|e| Error::Join(e.to_string()))??;
        let rows: u64 = files.iter().map(|(_, f)| f.rows).sum();
        let encoded = started.elapsed();
        for (bytes, file) in &files {
            self.cold.put(&file.path, bytes.clone()).await?;
        }
        let put = started.elapsed();
        self.crash_point(failpoints::AFTER_PARQUET_WRITE)?;
        if !ids.is_empty() {
            let dir = self.cfg.data_dir.join("dedup");
            tokio::task::spawn_blocking(move || dedup::write_id_log(&dir, last_seq, &ids))
                .await
                .map_err(|e| Error::Join(e.to_string()))??;
        }
        self.crash_point(failpoints::AFTER_ID_LOG)?;
        let new_files: Vec<ColdFile> = files.into_iter().map(|(_, f)| f).collect();
        // One Delta commit: the files' `add` actions and this node's `txn` at `last_seq`.
        let before_commit = started.elapsed();
        let cold_now = {
            let now_ms = self.clock.now_ns() / 1_000_000;
            let app = node.app_id();
            let mut logs = self.logs.lock().await;
            let log = logs.get_mut(&t).expect("every table has a log");
            let actions = commit::flush_actions(t, &new_files, &app, last_seq, now_ms);
            log.commit(&self.cold, actions, "WRITE", Some((&app, last_seq)), now_ms)
                .await
                .map_err(Error::Delta)?;
            log.cold_files()
        };
        let committed = started.elapsed();
        tracing::debug!(
            table = t.name(),
            rows,
            files = new_files.len(),
            encode_ms = encoded.as_secs_f64() * 1e3,
            put_ms = (put - encoded).as_secs_f64() * 1e3,
            commit_ms = (committed - before_commit).as_secs_f64() * 1e3,
            "flush committed"
        );
        self.crash_point(failpoints::AFTER_COLD_COMMIT)?;
        state.update(|s| {
            s.hot.retain(|h| !batches.iter().any(|b| Arc::ptr_eq(h, b)));
            s.cold = commit::republish(&s.cold, cold_now);
        });
        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
        self.stats.flushed_rows.fetch_add(rows, Ordering::Relaxed);
        self.stats
            .last_flush_ms
            .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        crate::metrics::flushed(t.name(), rows, started.elapsed().as_secs_f64());
        self.crash_point(failpoints::BEFORE_WAL_DELETE)?;
        self.delete_flushed_wal()?;
        self.crash_point(failpoints::AFTER_WAL_DELETE)?;
        *self.stats.last_flush_timing.lock() = Some(FlushTiming {
            encode: encoded,
            put: put - encoded,
            commit: committed - before_commit,
            total: started.elapsed(),
        });
        Ok(rows)
    }

    /// A crash point of the fault-injection tests ([`failpoints`]): `Err(Injected)` when
    /// armed for this data directory, so the flush stops right here as if the process died.
    fn crash_point(&self, name: &'static str) -> Result<()> {
        match failpoints::fire(name, &self.cfg.data_dir) {
            true => Err(Error::Injected),
            false => Ok(()),
        }
    }

    /// Delete WAL segments whose records are all in cold storage.
    fn delete_flushed_wal(&self) -> Result<()> {
        let Some(wal) = &self.wal else { return Ok(()) };
        // Holding the WAL lock stops appends, so hot tiers and next_seq agree.
        let mut wal = wal.lock();
        let bound = self
            .tables
            .values()
            .map(|t| {
                let s = t.snapshot();
                s.hot
                    .iter()
                    .map(|h| h.first_seq.saturating_sub(1))
                    .min()
                    .unwrap_or(wal.next_seq().saturating_sub(1))
            })
            .min()
            .unwrap_or(0);
        wal.delete_through(bound)?;
        Ok(())
    }

    /// One compaction pass over every table, then the due deletions; failures are logged
    /// (the next pass retries).
    async fn compact_cold_all(&self) {
        for t in TableId::ALL {
            match self.compact_cold(t).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(table = t.name(), files = n, "cold compaction merged files")
                }
                Err(e) => {
                    tracing::warn!(table = t.name(), error = %error_chain(&e), "cold compaction failed")
                }
            }
        }
        if let Err(e) = self.vacuum_due().await {
            tracing::warn!(error = %error_chain(&e), "vacuum of replaced cold files failed");
        }
    }

    /// Read the commits other nodes made to the cold tables since the last look and publish
    /// their files (several nodes appending to one store see each other's flushed rows).
    pub async fn refresh_cold(&self) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        let _guard = self.maintenance.lock().await;
        let mut logs = self.logs.lock().await;
        for (t, log) in logs.iter_mut() {
            if log.refresh(&self.cold).await.map_err(Error::Delta)? {
                let files = log.cold_files();
                self.table(*t)
                    .update(|s| s.cold = commit::republish(&s.cold, files));
            }
        }
        Ok(())
    }

    /// Remove rows older than the table's retention (by its retention column) from hot
    /// batches and cold files. Returns the number of rows removed.
    pub async fn enforce_retention(&self, t: TableId) -> Result<u64> {
        if self.read_only {
            return Ok(0);
        }
        let cutoff = self
            .clock
            .now_ns()
            .saturating_sub(i64::try_from(self.cfg.retention_of(t).as_nanos()).unwrap_or(i64::MAX));
        let col = t.retention_column();
        self.remove_rows(
            t,
            Arc::new(move |b: &RecordBatch| keep_mask(b, col, cutoff)),
            move |b| schema::ts_range(b, col).is_some_and(|(min_r, _)| min_r < cutoff),
            move |f| {
                if f.max_retention_ts < cutoff {
                    FileAction::Drop
                } else if f.min_retention_ts < cutoff {
                    FileAction::Inspect
                } else {
                    FileAction::Keep
                }
            },
        )
        .await
    }

    /// Remove the rows of `t` for which `keep` is false, from hot batches (those where
    /// `hot_may_match` holds) and cold files (by `file_action`; inspected files are rewritten
    /// without the rows). One Delta commit; readers see before or after, never between.
    pub async fn remove_rows(
        &self,
        t: TableId,
        keep: KeepFn,
        hot_may_match: impl Fn(&RecordBatch) -> bool,
        file_action: impl Fn(&ColdFile) -> FileAction,
    ) -> Result<u64> {
        if self.read_only {
            return Ok(0);
        }
        let _guard = self.maintenance.lock().await;
        let state = self.table(t).clone();
        let snap = state.snapshot();
        let (hot, hot_removed) = filter_hot(t, &snap.hot, &keep, hot_may_match)?;
        let (cold, cold_removed) = self.filter_cold(t, &snap.cold, &keep, file_action).await?;
        if hot.is_empty() && cold.is_empty() {
            return Ok(0);
        }
        let removed = hot_removed + cold_removed;
        let cold_now = if cold.is_empty() {
            None
        } else {
            Some(self.commit_cold_removal(t, &cold).await?)
        };
        state.update(|s| publish_removal(s, hot, cold_now));
        // Readers of the previous snapshot (queries in flight, other engines) may still read
        // the replaced files: they go after the vacuum grace period.
        self.schedule_vacuum(cold.old_files().map(|f| f.path.clone()));
        self.stats
            .retention_removed_rows
            .fetch_add(removed, Ordering::Relaxed);
        Ok(removed)
    }

    /// [`Storage::remove_rows`], cold side: pick the files to drop whole and rewrite the
    /// partially matching ones without the removed rows. The rewrites are written to the cold
    /// store but not yet in any commit. Returns the changes and the rows removed.
    async fn filter_cold(
        &self,
        t: TableId,
        files: &[Arc<ColdFile>],
        keep: &KeepFn,
        file_action: impl Fn(&ColdFile) -> FileAction,
    ) -> Result<(ColdRemoval, u64)> {
        let mut changes = ColdRemoval::default();
        let mut removed = 0u64;
        for f in files {
            match file_action(f) {
                FileAction::Keep => {}
                FileAction::Drop => {
                    changes.dropped.push(f.clone());
                    removed += f.rows;
                }
                FileAction::Inspect => {
                    let bytes = self.cold.get(&f.path).await?;
                    let file = f.clone();
                    let now = self.clock.now_ns();
                    let keep = keep.clone();
                    let tag = self.node.as_ref().map_or("", |n| n.tag()).to_string();
                    let rewrite = tokio::task::spawn_blocking(move || {
                        rewrite_cold_file(
                            t,
                            bytes,
                            &file,
                            &rewrite_path(&file.path, now, &tag),
                            &keep,
                        )
                    })
                    .await
                    .map_err(|e| Error::Join(e.to_string()))??;
                    match rewrite {
                        // Nothing to remove in this file: leave it as it is.
                        Rewrite::Unchanged => {}
                        Rewrite::Emptied { removed: gone } => {
                            removed += gone;
                            changes.rewritten.push((f.clone(), None));
                        }
                        Rewrite::Replaced {
                            bytes,
                            file,
                            removed: gone,
                        } => {
                            removed += gone;
                            self.cold.put(&file.path, bytes).await?;
                            changes.rewritten.push((f.clone(), Some(file)));
                        }
                    }
                }
            }
        }
        Ok((changes, removed))
    }

    /// [`Storage::remove_rows`], commit: one Delta commit that removes the replaced cold
    /// files and lists their rewrites.
    async fn commit_cold_removal(&self, t: TableId, cold: &ColdRemoval) -> Result<Vec<ColdFile>> {
        let now_ms = self.clock.now_ns() / 1_000_000;
        let old: Vec<&ColdFile> = cold.old_files().collect();
        let new: Vec<&ColdFile> = cold.new_files().collect();
        let actions = commit::replace_actions(t, &old, &new, true, now_ms);
        let mut logs = self.logs.lock().await;
        let log = logs.get_mut(&t).expect("every table has a log");
        match log
            .commit(&self.cold, actions, "DELETE", None, now_ms)
            .await
        {
            Ok(_) => {}
            // Another node changed the same files first: our rewrites are referenced by no
            // commit; remove them and let the next pass start over from the new snapshot.
            // (After a store error the commit may have landed: the files stay, and a restart's
            // orphan cleanup removes them if it did not.)
            Err(e @ delta::Error::Conflict { .. }) => {
                for f in new {
                    self.cold.delete(&f.path).await?;
                }
                return Err(Error::Delta(e));
            }
            Err(e) => return Err(Error::Delta(e)),
        }
        Ok(log.cold_files())
    }

    /// Background loop: hot compaction, flush by age/bytes, retention. Ends on `shutdown`.
    pub async fn run_maintenance(
        self: Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_retention = Instant::now() - Duration::from_secs(3600);
        let mut last_refresh = Instant::now();
        let mut last_cold_compaction = Instant::now();
        let mut backoff: HashMap<TableId, Backoff> = HashMap::new();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            for t in TableId::ALL {
                let b = backoff.entry(t).or_default();
                if !b.ready(Instant::now()) {
                    continue;
                }
                let result = if self.flush_due(t) {
                    self.flush(t).await.map(|_| ())
                } else {
                    self.compact_hot(t).await
                };
                match result {
                    Ok(()) => {
                        if b.succeeded() > 0 {
                            tracing::info!(table = t.name(), "flush recovered");
                        }
                    }
                    Err(e) => {
                        crate::metrics::flush_failed();
                        let delay = b.failed(Instant::now());
                        tracing::error!(table = t.name(), error = %error_chain(&e),
                            retry_in_ms = delay.as_millis() as u64, "flush failed; will retry");
                    }
                }
            }
            if last_cold_compaction.elapsed() >= COLD_COMPACT_EVERY {
                last_cold_compaction = Instant::now();
                self.compact_cold_all().await;
            }
            if last_refresh.elapsed() >= COLD_REFRESH_EVERY {
                last_refresh = Instant::now();
                if let Err(e) = self.refresh_cold().await {
                    tracing::warn!(error = %error_chain(&e), "reading other nodes' cold commits failed");
                }
            }
            // Failing since the earliest failure of a table that has not succeeded since.
            *self.flush_failing_since.lock() = backoff.values().filter_map(|b| b.since).min();
            if last_retention.elapsed() >= Duration::from_secs(60) {
                last_retention = Instant::now();
                crate::metrics::retention_pass();
                for t in TableId::ALL {
                    match self.enforce_retention(t).await {
                        Ok(0) => {}
                        Ok(n) => {
                            crate::metrics::retention_removed(t.name(), n);
                            if t == TableId::Signals {
                                crate::metrics::signals_pruned(n);
                            }
                            tracing::info!(table = t.name(), rows = n, "retention removed rows")
                        }
                        Err(e) => {
                            tracing::error!(table = t.name(), error = %error_chain(&e), "retention failed")
                        }
                    }
                }
            }
        }
    }
}

/// The retry schedule of a failing flush: the first retry after [`Backoff::FIRST`], each
/// next one after twice the delay, at most [`Backoff::MAX`]; a success starts over. A broken
/// disk or store then costs one re-encoding per delay, not four a second.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
    next_attempt: Option<Instant>,
    /// The first failure of the current run of failures.
    since: Option<Instant>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(30);

    fn ready(&self, now: Instant) -> bool {
        self.next_attempt.is_none_or(|at| now >= at)
    }

    /// Record a failure at `now`; the delay until the next attempt.
    fn failed(&mut self, now: Instant) -> Duration {
        let delay = Self::FIRST
            .saturating_mul(1 << self.failures.min(16))
            .min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        self.next_attempt = Some(now + delay);
        self.since.get_or_insert(now);
        delay
    }

    /// Record a success; the failures it ends.
    fn succeeded(&mut self) -> u32 {
        self.next_attempt = None;
        self.since = None;
        std::mem::take(&mut self.failures)
    }
}

/// One hot batch [`Storage::remove_rows`] changes, with its filtered replacement (`None` when
/// no row is left).
type HotChange = (Arc<HotBatch>, Option<HotBatch>);

/// [`Storage::remove_rows`], hot side: filter the batches `hot_may_match` selects in memory
/// (same sequence range, fewer rows). Returns the changed batches and the rows removed.
fn filter_hot(
    t: TableId,
    hot: &[Arc<HotBatch>],
    keep: &KeepFn,
    hot_may_match: impl Fn(&RecordBatch) -> bool,
) -> Result<(Vec<HotChange>, u64)> {
    let mut changes = Vec::new();
    let mut removed = 0u64;
    for h in hot {
        if !hot_may_match(&h.batch) {
            continue;
        }
        let mask = keep(&h.batch)?;
        let kept = filter_record_batch(&h.batch, &mask)?;
        if kept.num_rows() == h.batch.num_rows() {
            continue;
        }
        removed += (h.batch.num_rows() - kept.num_rows()) as u64;
        let replacement = (kept.num_rows() > 0).then(|| {
            HotBatch::new(
                h.first_seq,
                h.last_seq,
                h.commit_ns,
                h.oldest_commit_ns,
                kept,
                t,
            )
        });
        changes.push((h.clone(), replacement));
    }
    Ok((changes, removed))
}

/// The cold files one [`Storage::remove_rows`] replaces: dropped whole, or rewritten without
/// the removed rows (`None`: no row left, no replacement).
#[derive(Default)]
struct ColdRemoval {
    dropped: Vec<Arc<ColdFile>>,
    rewritten: Vec<(Arc<ColdFile>, Option<ColdFile>)>,
}

impl ColdRemoval {
    fn is_empty(&self) -> bool {
        self.dropped.is_empty() && self.rewritten.is_empty()
    }

    /// The rewrites that take the place of their old files.
    fn new_files(&self) -> impl Iterator<Item = &ColdFile> {
        self.rewritten.iter().filter_map(|(_, n)| n.as_ref())
    }

    /// The replaced files (dropped, then rewritten), to delete once nothing lists them.
    fn old_files(&self) -> impl Iterator<Item = &ColdFile> {
        let dropped = self.dropped.iter().map(|f| f.as_ref());
        dropped.chain(self.rewritten.iter().map(|(o, _)| o.as_ref()))
    }
}

/// What rewriting one cold file without the removed rows gives.
enum Rewrite {
    /// No row of the file is removed: it stays as it is.
    Unchanged,
    /// Every row is removed: the file goes with no replacement.
    Emptied { removed: u64 },
    /// The kept rows as a new file (encoded, not yet written).
    Replaced {
        bytes: Bytes,
        file: ColdFile,
        removed: u64,
    },
}

/// The path of a rewrite of the file at `path` made at `now` by the node tagged `tag`:
/// `<first>-<last>-r<now>-<tag>.parquet` next to it (an earlier `-r…` suffix is replaced, so
/// names do not grow with each rewrite).
fn rewrite_path(path: &str, now: i64, tag: &str) -> String {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let stem = name.strip_suffix(".parquet").unwrap_or(name);
    let stem = stem.split_once("-r").map_or(stem, |(s, _)| s);
    let stem = match stem.rsplit_once('-') {
        // `<first>-<last>-<tag>`: drop the writer's tag, ours goes last.
        Some((s, t)) if t.len() == 16 && stem.matches('-').count() == 2 => s,
        _ => stem,
    };
    let name = format!("{stem}-r{now}-{tag}.parquet");
    if dir.is_empty() {
        name
    } else {
        format!("{dir}/{name}")
    }
}

/// Decode the cold file `file` (its content `bytes`), filter it with `keep` and encode the kept
/// rows as a new file at `path`. CPU-bound: runs on the blocking pool.
fn rewrite_cold_file(
    t: TableId,
    bytes: Bytes,
    file: &ColdFile,
    path: &str,
    keep: &KeepFn,
) -> Result<Rewrite> {
    let batches = cold::decode_parquet(bytes)?;
    let schema = t.schema();
    let batches: Vec<RecordBatch> = batches
        .into_iter()
        .map(|b| adapt_to_schema(b, t))
        .collect::<Result<_, _>>()?;
    let all = concat_batches(&schema, &batches)?;
    let mask = keep(&all)?;
    let kept = filter_record_batch(&all, &mask)?;
    let removed = (all.num_rows() - kept.num_rows()) as u64;
    if removed == 0 {
        return Ok(Rewrite::Unchanged);
    }
    if kept.num_rows() == 0 {
        return Ok(Rewrite::Emptied { removed });
    }
    let (bytes, file) =
        cold::encode_parquet(t, &kept, path.to_string(), file.first_seq, file.last_seq)?;
    Ok(Rewrite::Replaced {
        bytes,
        file,
        removed,
    })
}

/// [`Storage::remove_rows`], publish: swap the changed hot batches for their replacements and
/// the replaced cold files for their rewrites, in one table update.
fn publish_removal(s: &mut TableSnapshot, hot: Vec<HotChange>, cold: Option<Vec<ColdFile>>) {
    for (old, new) in hot {
        if let Some(pos) = s.hot.iter().position(|h| Arc::ptr_eq(h, &old)) {
            match new {
                Some(n) => s.hot[pos] = Arc::new(n),
                None => {
                    s.hot.remove(pos);
                }
            }
        }
    }
    if let Some(files) = cold {
        s.cold = commit::republish(&s.cold, files);
    }
}

/// Render an error with its sources: `a: b: c`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn keep_mask(batch: &RecordBatch, col: &str, cutoff: i64) -> Result<BooleanArray> {
    let arr = batch
        .column_by_name(col)
        .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
        .ok_or_else(|| {
            Error::Arrow(datafusion::arrow::error::ArrowError::SchemaError(format!(
                "missing timestamp column {col}"
            )))
        })?;
    Ok(arr
        .iter()
        .map(|v| Some(v.is_none_or(|v| v >= cutoff)))
        .collect())
}

/// Split by hour partition of the time column, sort each part (rows copied once, from the hot
/// batches into the sorted part), encode.
fn encode_partitions(
    t: TableId,
    batches: &[Arc<HotBatch>],
    first_seq: u64,
    last_seq: u64,
    tag: &str,
) -> Result<Vec<(Bytes, ColdFile)>> {
    let parts: Vec<&RecordBatch> = batches.iter().map(|h| &h.batch).collect();
    let times = parts
        .iter()
        .map(|b| {
            b.column_by_name(t.time_column())
                .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
                .ok_or_else(|| {
                    Error::Arrow(datafusion::arrow::error::ArrowError::SchemaError(
                        "missing time column".into(),
                    ))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let hour_ns = 3_600_000_000_000i64;
    let row_hours: Vec<i64> = times
        .iter()
        .flat_map(|ts| ts.values().iter().map(|v| v.div_euclid(hour_ns)))
        .collect();
    let mut hours = row_hours.clone();
    hours.sort_unstable();
    hours.dedup();
    let keys = sort_keys(&parts, t)?;
    let mut out = Vec::with_capacity(hours.len());
    for &hour in &hours {
        let rows: Option<UInt32Array> = (hours.len() > 1).then(|| {
            (0u32..)
                .zip(&row_hours)
                .filter(|(_, h)| **h == hour)
                .map(|(i, _)| i)
                .collect()
        });
        let (sorted, _) = sorted_rows(&parts, &keys, rows.as_ref(), t)?;
        let path = format!(
            "{}/{}/{first_seq:020}-{last_seq:020}-{tag}.parquet",
            t.name(),
            cold::partition_of(hour * hour_ns)
        );
        out.push(cold::encode_parquet(t, &sorted, path, first_seq, last_seq)?);
    }
    Ok(out)
}

/// State the writer thread shares with [`Storage`].
struct WriterShared<'a> {
    /// Set once on the first WAL I/O failure: no further acks.
    poisoned: &'a std::sync::OnceLock<String>,
    dedup_status: &'a Mutex<DedupStatus>,
    /// Set while the last append failed on a full disk.
    disk_full: &'a AtomicBool,
}

/// Publish the dedup set's status to [`Storage::dedup_status`] and the metrics.
fn publish_dedup(dedup: &Dedup, to: &Mutex<DedupStatus>) {
    let status = dedup.status();
    let before = std::mem::replace(&mut *to.lock(), status);
    crate::metrics::dedup(
        status.ids,
        status.memory_bytes,
        status.max_ids,
        status.evicted.saturating_sub(before.evicted),
    );
}

fn writer_loop(
    rx: mpsc::Receiver<WriteMsg>,
    wal: Arc<Mutex<Wal>>,
    tables: BTreeMap<TableId, Arc<TableState>>,
    clock: SharedClock,
    dedup: &mut Dedup,
    shared: WriterShared<'_>,
) {
    let poisoned = shared.poisoned;
    /// Upper bound of one group's payload; keeps latency bounded under load.
    const GROUP_BYTES: usize = 32 << 20;
    while let Ok(first) = rx.recv() {
        if let Some(reason) = poisoned.get() {
            first.answer(Err(WriteError::Durability(reason.clone())));
            continue;
        }
        // Each message's size was measured once, when it was queued.
        let msg_bytes = |m: &WriteMsg| m.ticket.bytes as usize;
        let mut bytes = msg_bytes(&first);
        let mut group = vec![first];
        while bytes < GROUP_BYTES {
            match rx.try_recv() {
                Ok(m) => {
                    bytes += msg_bytes(&m);
                    group.push(m);
                }
                Err(_) => break,
            }
        }
        let now = clock.now_ns();
        dedup.expire(now);
        // Dedup in arrival order; ids new in this group are remembered only after the fsync.
        let mut pending: ahash::HashSet<u128> = ahash::HashSet::default();
        // Per message, per part.
        let prepared: Vec<Vec<PreparedPart>> = group
            .iter()
            .map(|msg| {
                msg.parts
                    .iter()
                    .map(|(table, batch)| prepare_part(*table, batch, dedup, &mut pending))
                    .collect()
            })
            .collect();
        let mut payloads: Vec<(u8, Vec<u8>)> = Vec::new();
        let mut encode_error = None;
        for part in prepared.iter().flatten() {
            if let Some(b) = &part.batch {
                match encode_ipc(b) {
                    Ok(p) => payloads.push((part.table.code(), p)),
                    Err(e) => encode_error = Some(e.to_string()),
                }
            }
        }
        let mut wal = wal.lock();
        let result = match encode_error {
            Some(e) => Err(WriteError::Durability(format!("encode: {e}"))),
            None if payloads.is_empty() => Ok(Vec::new()),
            None => {
                let refs: Vec<(u8, &[u8])> =
                    payloads.iter().map(|(t, p)| (*t, p.as_slice())).collect();
                let appended = wal.append_group(now, &refs);
                let full = matches!(appended, Err(crate::wal::Error::DiskFull { .. }));
                shared.disk_full.store(full, Ordering::SeqCst);
                crate::metrics::get()
                    .wal_disk_full
                    .set(f64::from(u8::from(full)));
                appended.map_err(|e| {
                    let reason = error_chain(&e);
                    match e {
                        // An I/O failure leaves the file in an unknown state: stop
                        // acknowledging.
                        crate::wal::Error::Io { .. } => {
                            let _ = poisoned.set(format!("write-ahead log failed: {reason}"));
                            crate::metrics::get().wal_poisoned.set(1.0);
                            WriteError::Durability(reason)
                        }
                        // The WAL abandoned the file and starts a fresh one next time.
                        crate::wal::Error::DiskFull { .. } => WriteError::DiskFull(reason),
                        // A record too large for the format wrote nothing and is only refused.
                        crate::wal::Error::RecordTooLarge { .. } => WriteError::Durability(reason),
                    }
                })
            }
        };
        match result {
            Ok(seqs) => {
                let mut seq_iter = seqs.into_iter();
                let mut answers = Vec::with_capacity(group.len());
                for (msg, parts) in group.into_iter().zip(prepared) {
                    let mut outcome = AppendOutcome::default();
                    for part in parts {
                        for h in part.new_ids {
                            dedup.insert(h, now);
                        }
                        if let Some(b) = part.batch {
                            let seq = seq_iter.next().expect("one sequence per written record");
                            tables[&part.table]
                                .append_hot(HotBatch::new(seq, seq, now, now, b, part.table));
                        }
                        outcome.accepted += part.accepted;
                        outcome.duplicate += part.duplicate;
                    }
                    answers.push((msg, outcome));
                }
                // Published before the answers, so a client that reads the status after its
                // ack sees its own ids counted.
                publish_dedup(dedup, shared.dedup_status);
                for (msg, outcome) in answers {
                    msg.answer(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "wal append failed");
                for msg in group {
                    msg.answer(Err(e.clone()));
                }
            }
        }
    }
}

/// One table's rows of a write after deduplication.
struct PreparedPart {
    table: TableId,
    accepted: usize,
    duplicate: usize,
    batch: Option<RecordBatch>,
    new_ids: Vec<u128>,
}

fn prepare_part(
    table: TableId,
    batch: &RecordBatch,
    dedup: &Dedup,
    pending: &mut ahash::HashSet<u128>,
) -> PreparedPart {
    let Some(ids) = table.id_column().and_then(|c| string_column(batch, c)) else {
        let n = batch.num_rows();
        return PreparedPart {
            table,
            accepted: n,
            duplicate: 0,
            batch: (n > 0).then(|| batch.clone()),
            new_ids: Vec::new(),
        };
    };
    let mut keep = Vec::with_capacity(ids.len());
    let mut new_ids = Vec::with_capacity(ids.len());
    for id in ids.iter() {
        let h = hash_id(id.unwrap_or_default());
        let fresh = !dedup.contains(h) && pending.insert(h);
        keep.push(fresh);
        if fresh {
            new_ids.push(h);
        }
    }
    let accepted = new_ids.len();
    let duplicate = ids.len() - accepted;
    let batch = if accepted == 0 {
        None
    } else if duplicate == 0 {
        Some(batch.clone())
    } else {
        match filter_record_batch(batch, &BooleanArray::from(keep)) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::error!(error = %e, "dedup filter failed");
                None
            }
        }
    };
    PreparedPart {
        table,
        accepted,
        duplicate,
        batch,
        new_ids,
    }
}

/// Storage set-ups shared by the tests of the layers above.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::model::event::test_event;
    use crate::storage::schema::events_to_batch;

    /// A storage in `dir` (WAL sync off) holding `batches` hot `events` batches of 4 failed
    /// events each (trace ids `0..4*batches`, times just before `now`).
    pub(crate) async fn storage_with_hot_batches(
        dir: &Path,
        now: i64,
        batches: usize,
    ) -> Arc<Storage> {
        let mut config = crate::config::Config::for_data_dir(dir);
        config.wal_sync = false;
        let clock = Arc::new(crate::clock::ManualClock::new(now));
        let (storage, _) = Storage::open((&config).into(), clock).await.unwrap();
        for b in 0..batches {
            let events: Vec<_> = (0..4)
                .map(|i| test_event(b * 4 + i, "api", "error", now - 1_000 + i as i64))
                .collect();
            let batch = events_to_batch(&events).unwrap();
            storage.append(TableId::Events, batch).await.unwrap();
        }
        storage
    }
}

#[cfg(all(test, feature = "failpoints"))]
mod failpoint_tests;

#[cfg(all(test, feature = "failpoints"))]
mod power_loss_tests;

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::event::test_event;
    use crate::storage::schema::events_to_batch;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::TimestampNanosecondType;

    // Holding the WAL lock across awaits is the point: it stands in for a stalled disk, and
    // the writer that waits for it is an OS thread, not a task of this runtime.
    #[allow(clippy::await_holding_lock)]
    #[tokio::test]
    async fn a_full_writer_queue_refuses_appends_until_it_drains() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::config::Config::for_data_dir(dir.path());
        config.wal_sync = false;
        config.write_queue_bytes = 1;
        let clock = Arc::new(crate::clock::ManualClock::new(1_777_888_800_000_000_000));
        let (storage, _) = Storage::open((&config).into(), clock).await.unwrap();
        let batch = |n: usize| {
            events_to_batch(&[test_event(n, "api", "ok", 1_777_888_799_000_000_000)]).unwrap()
        };
        // A stalled disk: the writer takes the first request and waits for the WAL.
        let wal = storage.wal.clone().unwrap();
        let stalled = wal.lock();
        let first = tokio::spawn({
            let storage = storage.clone();
            let b = batch(1);
            async move { storage.append(TableId::Events, b).await }
        });
        while storage.queued_bytes.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        // The queue holds more than its budget: refused at once, nothing queued for it.
        let queued = storage.queued_bytes.load(Ordering::Acquire);
        assert!(matches!(
            storage.append(TableId::Events, batch(2)).await,
            Err(WriteError::Overloaded)
        ));
        assert_eq!(storage.queued_bytes.load(Ordering::Acquire), queued);
        drop(stalled);
        assert_eq!(first.await.unwrap().unwrap().accepted, 1);
        assert_eq!(storage.queued_bytes.load(Ordering::Acquire), 0);
        assert_eq!(
            storage
                .append(TableId::Events, batch(3))
                .await
                .unwrap()
                .accepted,
            1
        );
        storage.close().unwrap();
    }

    /// A data directory in the pre-Delta format (`_waylog/manifest`) migrates on start: its
    /// listed file becomes the Delta table's version 0 with this node's `txn` at the flushed
    /// sequence, unlisted files go, the manifest objects are deleted, and nothing is replayed
    /// or counted twice.
    #[tokio::test]
    async fn a_manifest_store_migrates_to_delta_on_start() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_777_888_800_000_000_000;
        let s3 = crate::config::cold_store::S3Settings::default();
        let cold = ColdStore::open(None, dir.path(), true, &s3).unwrap();
        let batch = events_to_batch(&[
            test_event(1, "api", "ok", now - 2_000),
            test_event(2, "api", "error", now - 1_000),
        ])
        .unwrap();
        let path =
            "events/date=2026-05-04/hour=10/00000000000000000001-00000000000000000005.parquet";
        let (bytes, file) =
            cold::encode_parquet(TableId::Events, &batch, path.to_string(), 1, 5).unwrap();
        cold.put(path, bytes.clone()).await.unwrap();
        let stray =
            "events/date=2026-05-04/hour=10/00000000000000000006-00000000000000000007.parquet";
        cold.put(stray, bytes).await.unwrap();
        let mut m = cold::Manifest::default();
        m.table_mut(TableId::Events).files.push(file);
        m.table_mut(TableId::Events).flushed_seq = 5;
        cold.commit_manifest(&mut m).await.unwrap();

        let mut config = crate::config::Config::for_data_dir(dir.path());
        config.wal_sync = false;
        let clock = Arc::new(crate::clock::ManualClock::new(now));
        // Read-only, the old store is refused with the migration named.
        let refused = Storage::open_read_only(dir.path(), None, &s3, clock.clone()).await;
        assert!(
            matches!(&refused, Err(Error::NotMigrated(_))),
            "{:?}",
            refused.map(|_| ())
        );
        let (storage, report) = Storage::open((&config).into(), clock.clone())
            .await
            .unwrap();
        assert!(
            report.problems.iter().any(|p| p.contains("migrated")),
            "{:?}",
            report.problems
        );
        assert!(report.problems.iter().any(|p| p.contains(stray)));
        assert!(cold.manifest_versions().await.unwrap().is_empty());
        assert!(!dir.path().join("cold").join(stray).exists());
        let snap = storage.table(TableId::Events).snapshot();
        assert_eq!((snap.cold.len(), snap.cold_rows()), (1, 2));
        let log = TableLog::load(&cold, TableId::Events).await.unwrap();
        let node = NodeId::load(dir.path(), false).unwrap().unwrap();
        assert_eq!(log.txn_version(&node.app_id()), 5);
        assert_eq!(log.version, Some(0));
        // A flush after the migration appends version 1 with this node's txn.
        storage
            .append(
                TableId::Events,
                events_to_batch(&[test_event(3, "db", "ok", now)]).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(storage.flush(TableId::Events).await.unwrap(), 1);
        storage.close().unwrap();
        drop(storage);
        let (storage, report) = Storage::open((&config).into(), clock).await.unwrap();
        assert_eq!(report.replayed_rows, 0, "the txn says the WAL is flushed");
        assert_eq!(storage.table(TableId::Events).snapshot().cold_rows(), 3);
        storage.close().unwrap();
    }

    #[test]
    fn rewrites_are_named_for_their_writer_without_growing() {
        let p = "events/date=2026-05-04/hour=10/00000000000000000001-00000000000000000005-0123456789abcdef.parquet";
        let once = rewrite_path(p, 7, "fedcba9876543210");
        assert_eq!(
            once,
            "events/date=2026-05-04/hour=10/00000000000000000001-00000000000000000005-r7-fedcba9876543210.parquet"
        );
        assert_eq!(
            rewrite_path(&once, 8, "fedcba9876543210"),
            "events/date=2026-05-04/hour=10/00000000000000000001-00000000000000000005-r8-fedcba9876543210.parquet"
        );
        assert_eq!(rewrite_path("a/1-2.parquet", 9, "t"), "a/1-2-r9-t.parquet");
    }

    #[test]
    fn flush_retries_back_off_to_a_cap_and_reset_on_success() {
        let t0 = Instant::now();
        let mut b = Backoff::default();
        assert!(b.ready(t0));
        let delays: Vec<u64> = (0..9).map(|_| b.failed(t0).as_millis() as u64).collect();
        assert_eq!(
            delays,
            [
                500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000
            ]
        );
        assert!(!b.ready(t0 + Duration::from_secs(29)));
        assert!(b.ready(t0 + Duration::from_secs(30)));
        for _ in 0..100 {
            b.failed(t0);
        }
        assert_eq!(
            b.failed(t0),
            Backoff::MAX,
            "no overflow after many failures"
        );
        assert_eq!(b.succeeded(), 110);
        assert!(b.ready(t0));
        assert_eq!(b.failed(t0), Backoff::FIRST);
    }

    /// A hot batch of `rows` rows (one integer column: only the row count matters here).
    fn batch_of(rows: usize, seq: u64) -> Arc<HotBatch> {
        use datafusion::arrow::array::Int32Array;
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, false)]));
        let column = Arc::new(Int32Array::from(vec![0; rows]));
        let batch = RecordBatch::try_new(schema, vec![column]).unwrap();
        Arc::new(HotBatch::new(seq, seq, 0, 0, batch, TableId::Events))
    }

    /// Replace each run of `hot` by one batch of its rows, as `compact_hot` does; returns the
    /// rows copied.
    fn simulate_pass(hot: &mut Vec<Arc<HotBatch>>) -> usize {
        let mut copied = 0;
        for run in merge_runs(hot) {
            let start = hot.iter().position(|h| Arc::ptr_eq(h, &run[0])).unwrap();
            let rows: usize = run.iter().map(|h| h.batch.num_rows()).sum();
            copied += rows;
            hot.splice(start..start + run.len(), [batch_of(rows, run[0].first_seq)]);
        }
        copied
    }

    #[test]
    fn sustained_load_copies_each_row_once_and_settled_batches_stay() {
        // 75 requests of 500 rows between passes (150k rows/s, a pass every 250 ms).
        let mut hot = Vec::new();
        let (mut appended, mut copied) = (0, 0);
        for pass in 0..8u64 {
            for i in 0..75 {
                hot.push(batch_of(500, pass * 100 + i));
                appended += 500;
            }
            copied += simulate_pass(&mut hot);
            assert!(hot.iter().all(|h| h.batch.num_rows() >= HOT_SETTLED_ROWS));
        }
        assert_eq!(copied, appended);
        assert_eq!(hot.len(), 8);
        // A settled batch is never part of a run; the small batches before it are merged, a
        // short trailing run waits for more batches.
        let hot = vec![
            batch_of(10, 0),
            batch_of(10, 1),
            batch_of(HOT_SETTLED_ROWS, 2),
            batch_of(10, 3),
            batch_of(HOT_MERGE_TARGET_ROWS, 4),
            batch_of(10, 5),
        ];
        let runs = merge_runs(&hot);
        let seqs: Vec<Vec<u64>> = runs
            .iter()
            .map(|r| r.iter().map(|h| h.first_seq).collect())
            .collect();
        assert_eq!(seqs, [vec![0, 1]]);
        // A low rate: small merged batches are merged again until a run is settled.
        let mut hot: Vec<_> = (0..HOT_MERGE_TRIGGER as u64)
            .map(|i| batch_of(100, i))
            .collect();
        assert!(merge_runs(&hot).is_empty());
        hot.extend((HOT_MERGE_TRIGGER as u64..40).map(|i| batch_of(100, i)));
        simulate_pass(&mut hot);
        assert_eq!(hot.len(), 1);
        hot.extend((40..80).map(|i| batch_of(100, i)));
        simulate_pass(&mut hot);
        assert_eq!(hot.len(), 1);
        assert_eq!(hot[0].batch.num_rows(), 8_000);
    }

    #[test]
    fn merged_hot_batches_are_in_table_sort_order() {
        let batches: Vec<Arc<HotBatch>> = (0..3)
            .map(|b| {
                let events: Vec<_> = (0..6)
                    .map(|i| {
                        let n = b * 10 + i;
                        let service = ["db", "api", "checkout"][i % 3];
                        let status = if n % 4 == 0 { "timeout" } else { "ok" };
                        let mut e = test_event(n, service, status, 1_000 - n as i64);
                        // Two hops per trace: a timeout's trace has one `ok` hop too.
                        e.trace_id = format!("{:032x}", n / 2);
                        e
                    })
                    .collect();
                let batch = events_to_batch(&events).unwrap();
                Arc::new(HotBatch::new(
                    b as u64,
                    b as u64,
                    0,
                    0,
                    batch,
                    TableId::Events,
                ))
            })
            .collect();
        let merged = merge_hot(&batches, TableId::Events).unwrap();
        assert_eq!(merged.batch.num_rows(), 18);
        assert_eq!((merged.first_seq, merged.last_seq), (0, 2));
        let col = |c: &str| {
            merged
                .batch
                .column_by_name(c)
                .unwrap()
                .as_string::<i32>()
                .clone()
        };
        let (status, service) = (col("status"), col("service"));
        let ts = merged.batch.column_by_name("ts_start").unwrap();
        let ts = ts.as_primitive::<TimestampNanosecondType>();
        let trace = col("trace_id");
        let failed: std::collections::HashSet<&str> = (0..18)
            .filter(|&i| status.value(i) == "timeout")
            .map(|i| trace.value(i))
            .collect();
        // (tier: failed row, other row of a failed trace, other; status, service, ts_start).
        let keys: Vec<(u8, &str, &str, i64)> = (0..18)
            .map(|i| {
                let tier = match (status.value(i), failed.contains(trace.value(i))) {
                    ("timeout", _) => 0,
                    (_, true) => 1,
                    _ => 2,
                };
                (tier, status.value(i), service.value(i), ts.value(i))
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        // Failed traces: 5 timeouts (n = 0, 4, 12, 20, 24), then their 5 `ok` hops.
        assert_eq!(keys.iter().filter(|k| k.0 == 0).count(), 5);
        assert_eq!(keys.iter().filter(|k| k.0 == 1).count(), 5);
        assert_eq!(merged.failed_rows, 5, "failure scans read the first 5 rows");
        assert_eq!(keys[0].1, "timeout");
        assert_eq!(keys[5], (1, "ok", "api", 1_000 - 21));
        assert_eq!(keys[10], (2, "ok", "api", 1_000 - 14));
    }
}
