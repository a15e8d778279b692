//! Per-table state: the hot tier's batches and the cold tier's files, published together as
//! one immutable [`TableSnapshot`].
//!
//! Invariant 2 (every row in exactly one tier in any snapshot): only two kinds of change
//! exist, both made under `inner`'s lock and published with one pointer swap:
//! - the writer appends a hot batch (rows new to both tiers);
//! - the flusher replaces a prefix of hot batches by the cold files written from exactly
//!   those batches (or replaces hot batches by an equal-content merge or a retention filter).
//!
//! A query clones the `Arc` of the current snapshot once and reads only that.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use super::schema::{TableId, batch_bytes, ts_range};

/// Rows that are durable in the WAL but not yet in Parquet.
///
/// A batch is immutable; the layers above cache what they derive from one (the query layer's
/// trace index, the incident engine's dimension summary) in their own maps, keyed by
/// [`HotBatch::id`], and drop an entry once its batch has left the table's snapshot.
#[derive(Debug)]
pub struct HotBatch {
    pub table: TableId,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Newest WAL commit time of the rows (dedup horizon of their ids).
    pub commit_ns: i64,
    /// Oldest WAL commit time of the rows (flush age).
    pub oldest_commit_ns: i64,
    pub batch: RecordBatch,
    /// Min/max of the table's time column.
    pub min_ts: i64,
    pub max_ts: i64,
    pub bytes: u64,
    /// How many leading rows may hold a failed status (`error`, `timeout`, `partial`,
    /// `aborted`): a merged events batch is sorted failed rows first, so a failure scan
    /// reads only this prefix; every row for any other batch.
    pub failed_rows: usize,
}

impl HotBatch {
    pub fn new(
        first_seq: u64,
        last_seq: u64,
        commit_ns: i64,
        oldest: i64,
        batch: RecordBatch,
        table: TableId,
    ) -> Self {
        let (min_ts, max_ts) =
            ts_range(&batch, table.time_column()).unwrap_or((i64::MAX, i64::MIN));
        let bytes = batch_bytes(&batch);
        let failed_rows = batch.num_rows();
        HotBatch {
            table,
            first_seq,
            last_seq,
            commit_ns,
            oldest_commit_ns: oldest,
            batch,
            min_ts,
            max_ts,
            bytes,
            failed_rows,
        }
    }

    /// The identity of the batch's rows (see [`HotBatchId`]).
    pub fn id(&self) -> HotBatchId {
        HotBatchId {
            table: self.table,
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            rows: self.batch.num_rows(),
        }
    }
}

/// The identity of a hot batch's rows: its table, its WAL sequence range `first_seq..=last_seq`
/// and its row count. No two batches a table holds in one process share it, so a cache keyed
/// by it never serves one batch's derived data for another's rows:
/// - the writer and the WAL replay make one batch per WAL record (`encode_ipc` writes one
///   record batch), with a sequence number no other record of the table has;
/// - a merge replaces two or more adjacent batches by one whose range covers all of theirs,
///   which none of them (nor any later batch) has;
/// - a retention filter keeps the range but removes at least one row (the row count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HotBatchId {
    pub table: TableId,
    pub first_seq: u64,
    pub last_seq: u64,
    pub rows: usize,
}

/// One immutable Parquet file in the cold store, as listed in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ColdFile {
    /// Object-store path relative to the cold store root.
    pub path: String,
    pub size: u64,
    pub rows: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Min/max of the time column (pruning).
    pub min_ts: i64,
    pub max_ts: i64,
    /// Min/max of the retention column.
    pub min_retention_ts: i64,
    pub max_retention_ts: i64,
    pub schema_version: String,
}

#[derive(Debug, Clone)]
pub struct TableSnapshot {
    pub table: TableId,
    pub schema: SchemaRef,
    pub hot: Vec<Arc<HotBatch>>,
    pub cold: Vec<Arc<ColdFile>>,
}

impl TableSnapshot {
    pub fn hot_rows(&self) -> usize {
        self.hot.iter().map(|h| h.batch.num_rows()).sum()
    }

    pub fn hot_bytes(&self) -> u64 {
        self.hot.iter().map(|h| h.bytes).sum()
    }

    pub fn cold_rows(&self) -> u64 {
        self.cold.iter().map(|c| c.rows).sum()
    }
}

#[derive(Debug)]
pub struct TableState {
    pub id: TableId,
    inner: Mutex<TableSnapshot>,
    published: RwLock<Arc<TableSnapshot>>,
}

impl TableState {
    pub fn new(id: TableId, cold: Vec<ColdFile>) -> Self {
        let snap = TableSnapshot {
            table: id,
            schema: id.schema(),
            hot: Vec::new(),
            cold: cold.into_iter().map(Arc::new).collect(),
        };
        TableState {
            id,
            published: RwLock::new(Arc::new(snap.clone())),
            inner: Mutex::new(snap),
        }
    }

    pub fn snapshot(&self) -> Arc<TableSnapshot> {
        self.published.read().clone()
    }

    /// Apply one change under the lock and publish the result atomically.
    pub fn update<R>(&self, f: impl FnOnce(&mut TableSnapshot) -> R) -> R {
        let mut inner = self.inner.lock();
        let r = f(&mut inner);
        *self.published.write() = Arc::new(inner.clone());
        r
    }

    pub fn append_hot(&self, batch: HotBatch) {
        self.update(|s| s.hot.push(Arc::new(batch)));
    }
}
