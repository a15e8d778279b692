//! Trace locality for the cold tier: a per-file index `trace_id → rows`, built on first use
//! and cached, and [`TracedEvents`], the table `traced_events` that read models join a trace
//! set against instead of `events`.
//!
//! Cold files are sorted by (status, service, ts) so failures scan cheaply, which spreads the
//! events of one trace over the whole file. A read model that needs every event of ~50 k
//! failed traces would decompress and hash the `trace_id` column of every cold row. With the
//! index, `traced_events` reads only the selected rows of the other projected columns (a
//! Parquet row selection) and rebuilds `trace_id` from the index. Hot batches have an index
//! too (built on first use, cached by [`HotBatchId`] and dropped once the batch has left the
//! snapshot) and give their selected rows by `take`. Cold files are immutable (a rewrite gets
//! a new path), so an index never goes stale; the cold cache is bounded by its byte budget
//! (`WAYLOG_TRACE_INDEX_BYTES`, default [`INDEX_CACHE_BYTES`]) and evicts the least recently
//! used. A read takes an indexed file's [`RESIDENT`] columns from memory and only the others
//! from Parquet. Sources without an index
//! (unindexable, or not built for a lookup) are scanned and filtered by `trace_id IN (…)`, so
//! `traced_events` holds exactly the events of the set: a join with the set answers what the
//! join with `events` would, and `sql/trace_events.sql` needs no join. `traced_events` has
//! one column more than `events`, [`SPAN_IDS`] (`step_span_ids(steps)`), read from the one
//! `span_id` leaf of the nested `steps` for the selected cold rows, so origin resolution
//! never decodes whole steps.
//!
//! Trace ids are 32 lower-case hex digits (spec events), stored here as `u128`. A file holding
//! any other id is marked unindexable and `traced_events` scans it (filtered by id).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::Session;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::parquet::{
    DefaultParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use datafusion::parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use datafusion::parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::TryStreamExt;
use object_store::ObjectStore;
use parking_lot::Mutex;

use super::provider::{SnapshotTable, time_bounds};
use crate::storage::table::{ColdFile, HotBatch, HotBatchId, TableSnapshot};

/// Default memory the cached cold indexes may use (`WAYLOG_TRACE_INDEX_BYTES`): the ids take
/// 20 bytes per row, the [`RESIDENT`] columns and trace extents about as many again (~45-70
/// bytes per row of the benchmark traffic), so 1 GiB holds ~15-20 M cold rows.
pub const INDEX_CACHE_BYTES: usize = 1 << 30;
/// Trace sets up to this size use `events` itself: the bloom filters on `trace_id` prune
/// row groups for a few traces, and no index is worth building for them.
pub const MIN_INDEXED_TRACES: usize = 64;
/// Columns a cold file's index keeps in memory besides the trace ids: what the users and
/// services joins of `/v1/errors` and the blast radius project, and `ts_end` for the trace
/// extents of `compare_windows` ([`extents`]; about 20 bytes per row).
pub const RESIDENT: [&str; 4] = ["ts_start", "ts_end", "service", "user_id"];

/// `trace_id` strings (32 lower-case hex digits) of the selected rows.
fn trace_id_column(selected: &[(u32, u128)]) -> ArrayRef {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut builder =
        datafusion::arrow::array::StringBuilder::with_capacity(selected.len(), selected.len() * 32);
    let mut buf = [0u8; 32];
    for (_, id) in selected {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = HEX[((id >> (124 - 4 * i)) & 0xf) as usize];
        }
        // Hex digits are ASCII.
        builder.append_value(std::str::from_utf8(&buf).unwrap_or_default());
    }
    Arc::new(builder.finish())
}

/// `s` as a `u128` when it is exactly 32 lower-case hex digits (so `{:032x}` gives it back).
pub fn parse_trace_id(s: &str) -> Option<u128> {
    if s.len() != 32 {
        return None;
    }
    // One pass: every read model parses the ids of every row it orders or indexes.
    let mut id = 0u128;
    for b in s.bytes() {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        id = (id << 4) | u128::from(digit);
    }
    Some(id)
}

/// The rows of one cold file by trace id: `ids` sorted, `rows[i]` the row of `ids[i]`.
#[derive(Debug, Default)]
pub struct TraceIndex {
    ids: Vec<u128>,
    rows: Vec<u32>,
    /// A cold file's footer and page index, read once with the index.
    meta: Option<ArrowReaderMetadata>,
    /// A cold file's [`RESIDENT`] columns in row order (table types; strings dictionary
    /// encoded), so a join that projects only these and `trace_id` reads nothing from Parquet.
    resident: Option<RecordBatch>,
    /// Every trace of the source with the earliest `ts_start` and latest `ts_end` of its rows,
    /// in id order ([`extents`]), when the source's times have no null.
    extents: Option<Vec<extents::Extent>>,
}

impl TraceIndex {
    /// The index of a file whose `trace_id` column is `ids` in row order; `None` when an id is
    /// not 32 lower-case hex digits.
    pub fn build<'a>(ids: impl IntoIterator<Item = Option<&'a str>>) -> Option<TraceIndex> {
        let mut pairs: Vec<(u128, u32)> = Vec::new();
        for (row, id) in ids.into_iter().enumerate() {
            pairs.push((parse_trace_id(id?)?, u32::try_from(row).ok()?));
        }
        pairs.sort_unstable();
        Some(TraceIndex {
            ids: pairs.iter().map(|p| p.0).collect(),
            rows: pairs.iter().map(|p| p.1).collect(),
            meta: None,
            resident: None,
            extents: None,
        })
    }

    /// `(row, trace)` of every row whose trace is in `wanted`, by row.
    ///
    /// Both id lists are sorted. A set that is sparse for this index (more than
    /// [`GALLOP_MIN_GAP`] index entries per wanted id) is merged in with galloping: from the
    /// previous match, probe 1, 2, 4, ... entries ahead, then binary-search the last step, so
    /// a wanted id costs ~2·log2(gap) comparisons near the cursor and most of the index is
    /// never read. A dense set makes one streamed pass over the index instead, each id checked
    /// against the set's bitmap (a few hundred KiB, cache resident) and only the hits
    /// confirmed, by a cursor into the set that only moves forward.
    pub fn rows_of(&self, wanted: &TraceSet) -> Vec<(u32, u128)> {
        let mut out = Vec::new();
        if wanted.len().saturating_mul(GALLOP_MIN_GAP) < self.ids.len() {
            let mut at = 0usize;
            for id in &wanted.ids {
                let rest = &self.ids[at..];
                let Some(first) = rest.first() else { break };
                let start = if first >= id {
                    0
                } else {
                    // rest[step / 2] < id; the first entry >= id lies in (step / 2, step].
                    let mut step = 1;
                    while step < rest.len() && rest[step] < *id {
                        step *= 2;
                    }
                    let lo = step / 2;
                    let hi = rest.len().min(step + 1);
                    lo + rest[lo..hi].partition_point(|x| x < id)
                };
                // A trace's rows are few: walk them (a binary search here would jump across
                // the whole rest of the index).
                let len = rest[start..].iter().take_while(|x| *x == id).count();
                let (from, to) = (at + start, at + start + len);
                out.extend(self.rows[from..to].iter().map(|r| (*r, *id)));
                at = to;
            }
        } else {
            let mut j = 0;
            for (k, id) in self.ids.iter().enumerate() {
                if !wanted.may_contain(*id) {
                    continue;
                }
                while j < wanted.ids.len() && wanted.ids[j] < *id {
                    j += 1;
                }
                if wanted.ids.get(j) == Some(id) {
                    out.push((self.rows[k], *id));
                }
            }
        }
        out.sort_unstable();
        out
    }

    fn bytes(&self) -> usize {
        self.ids.len() * 20
            + self
                .extents
                .as_ref()
                .map_or(0, |e| e.len() * size_of::<extents::Extent>())
            + self
                .resident
                .as_ref()
                .map_or(0, RecordBatch::get_array_memory_size)
    }

    /// The rows `selected` (`(row, trace)` by row) with the columns of `out_schema`, from
    /// memory; `None` unless every column is `trace_id` or resident.
    fn resident_rows(
        &self,
        out_schema: &SchemaRef,
        selected: &[(u32, u128)],
    ) -> Result<Option<RecordBatch>> {
        let Some(resident) = &self.resident else {
            return Ok(None);
        };
        let rows =
            datafusion::arrow::array::UInt32Array::from_iter_values(selected.iter().map(|s| s.0));
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(out_schema.fields().len());
        for field in out_schema.fields() {
            if field.name() == "trace_id" {
                columns.push(trace_id_column(selected));
                continue;
            }
            let Some(column) = resident.column_by_name(field.name()) else {
                return Ok(None);
            };
            columns.push(take_as(column, &rows, field.data_type())?);
        }
        Ok(Some(RecordBatch::try_new_with_options(
            out_schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(selected.len())),
        )?))
    }
}

/// The `rows` of a resident column, in the table's type `data_type` (resident strings are
/// dictionary encoded).
fn take_as(
    column: &ArrayRef,
    rows: &datafusion::arrow::array::UInt32Array,
    data_type: &DataType,
) -> Result<ArrayRef> {
    Ok(cast(
        &datafusion::arrow::compute::take(column, rows, None)?,
        data_type,
    )?)
}

/// Index entries per wanted id above which [`TraceIndex::rows_of`] gallops instead of
/// streaming the whole index.
const GALLOP_MIN_GAP: usize = 32;

/// A set of trace ids to look up in many indexes: the ids sorted and distinct, plus a bitmap
/// of their hashes (~64 bits per id) that rejects almost every other id with one memory
/// access.
#[derive(Debug, Default)]
pub struct TraceSet {
    ids: Vec<u128>,
    bits: Vec<u64>,
    shift: u32,
}

impl TraceSet {
    pub fn new(mut ids: Vec<u128>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        // 2^k bits, k ≥ 6, about 64 per id: ~1.5% of absent ids pass the bitmap.
        let k = (usize::BITS - (ids.len().max(1) * 64 - 1).leading_zeros()).max(6);
        let mut set = TraceSet {
            bits: vec![0u64; 1 << (k - 6)],
            shift: 64 - k,
            ids,
        };
        for i in 0..set.ids.len() {
            let b = set.bit(set.ids[i]);
            set.bits[b >> 6] |= 1 << (b & 63);
        }
        set
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn bit(&self, id: u128) -> usize {
        let h = ((id as u64) ^ ((id >> 64) as u64)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> self.shift) as usize
    }

    fn may_contain(&self, id: u128) -> bool {
        let b = self.bit(id);
        self.bits[b >> 6] & (1 << (b & 63)) != 0
    }
}

/// A row selection of `total` rows selecting the sorted, distinct `rows`.
pub fn selection(rows: &[u32], total: usize) -> RowSelection {
    let mut selectors = Vec::new();
    let mut at = 0usize;
    let mut i = 0;
    while i < rows.len() {
        let start = rows[i] as usize;
        let mut end = start + 1;
        while i + 1 < rows.len() && rows[i + 1] as usize == end {
            i += 1;
            end += 1;
        }
        if start > at {
            selectors.push(RowSelector::skip(start - at));
        }
        selectors.push(RowSelector::select(end - start));
        at = end;
        i += 1;
    }
    if total > at {
        selectors.push(RowSelector::skip(total - at));
    }
    RowSelection::from(selectors)
}

type Slot = Arc<tokio::sync::OnceCell<Option<Arc<TraceIndex>>>>;

struct Entry {
    /// Set once built; `None` inside: the file holds an id the index cannot represent.
    slot: Slot,
    /// Accounted size (0 while the build is in flight).
    bytes: usize,
    /// Rows of the accounted index.
    rows: usize,
    last_used: u64,
}

/// A hot batch's index once built; `None` inside: the batch has no `trace_id` column or an id
/// the index cannot represent.
type HotSlot = Arc<std::sync::OnceLock<Option<Arc<TraceIndex>>>>;

/// The cached indexes of cold files, by (path, size), and of hot batches, by [`HotBatchId`].
/// Concurrent requests for the same source (a read model and the background warmer) build
/// it once. Hot entries are not counted against the cache's byte budget (the hot tier is
/// bounded by the flush); they are dropped once their batch has left the table
/// ([`Self::retain_hot`]).
pub struct TraceIndexCache {
    inner: Mutex<CacheInner>,
    hot: Mutex<HashMap<HotBatchId, HotSlot>>,
    /// Bytes the built cold indexes may use; beyond, the least recently used are evicted.
    limit: usize,
}

impl Default for TraceIndexCache {
    fn default() -> Self {
        TraceIndexCache::with_limit(INDEX_CACHE_BYTES)
    }
}

#[derive(Default)]
struct CacheInner {
    map: HashMap<(String, u64), Entry>,
    bytes: usize,
    /// Rows of the accounted indexes (for [`TraceIndexCache::bytes_per_row`]).
    rows: usize,
    clock: u64,
}

impl std::fmt::Debug for TraceIndexCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner.lock();
        f.debug_struct("TraceIndexCache")
            .field("files", &inner.map.len())
            .field("bytes", &inner.bytes)
            .field("hot_batches", &self.hot.lock().len())
            .finish()
    }
}

impl TraceIndexCache {
    /// An empty cache whose cold indexes may use `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        TraceIndexCache {
            inner: Mutex::default(),
            hot: Mutex::default(),
            limit,
        }
    }

    /// The byte budget of the cold indexes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Files with a built entry.
    pub fn files(&self) -> usize {
        let inner = self.inner.lock();
        inner.map.values().filter(|e| e.slot.initialized()).count()
    }

    /// Bytes the built indexes use.
    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }

    /// Bytes per indexed row of the built cold indexes (`None` while there is none).
    pub fn bytes_per_row(&self) -> Option<usize> {
        let inner = self.inner.lock();
        (inner.rows > 0).then(|| inner.bytes.div_ceil(inner.rows))
    }

    /// Whether `file`'s index is built (does not count as a use).
    pub fn contains(&self, file: &ColdFile) -> bool {
        let inner = self.inner.lock();
        inner
            .map
            .get(&(file.path.clone(), file.size))
            .is_some_and(|e| e.slot.initialized())
    }

    /// Hot batches with an entry (built or being built).
    pub fn hot_batches(&self) -> usize {
        self.hot.lock().len()
    }

    /// `h`'s slot, created empty when it has none.
    fn hot_slot(&self, h: &HotBatch) -> HotSlot {
        self.hot.lock().entry(h.id()).or_default().clone()
    }

    /// `h`'s slot when its index is built.
    fn built_hot_slot(&self, h: &HotBatch) -> Option<HotSlot> {
        let hot = self.hot.lock();
        hot.get(&h.id()).filter(|s| s.get().is_some()).cloned()
    }

    /// The index of hot batch `h`, built on first use (CPU work: call off the async workers).
    pub fn get_hot(&self, h: &HotBatch) -> Option<Arc<TraceIndex>> {
        self.hot_slot(h).get_or_init(|| hot_index(&h.batch)).clone()
    }

    /// Drop the hot entries of batches no longer in the table's current snapshot, which
    /// `current` reads after the map is locked: an entry created for a batch of that snapshot
    /// (however recent) is kept, one for a batch flushed or merged away is dropped. A reader
    /// of an older snapshot may still add an entry for a gone batch; the next pass drops it.
    pub fn retain_hot(&self, current: impl FnOnce() -> Arc<TableSnapshot>) {
        let mut hot = self.hot.lock();
        if hot.is_empty() {
            return;
        }
        let live: std::collections::HashSet<HotBatchId> =
            current().hot.iter().map(|h| h.id()).collect();
        hot.retain(|id, _| live.contains(id));
    }

    fn slot(&self, key: &(String, u64)) -> Slot {
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let now = inner.clock;
        let entry = inner.map.entry(key.clone()).or_insert_with(|| Entry {
            slot: Slot::default(),
            bytes: 0,
            rows: 0,
            last_used: now,
        });
        entry.last_used = now;
        entry.slot.clone()
    }

    /// Account a freshly built entry and evict the least recently used built ones.
    fn account(&self, key: &(String, u64), slot: &Slot) {
        let mut inner = self.inner.lock();
        let built = slot.get().and_then(Option::as_ref);
        let bytes = built.map_or(0, |i| i.bytes());
        let rows = built.map_or(0, |i| i.ids.len());
        let Some(entry) = inner.map.get_mut(key) else {
            return;
        };
        if !Arc::ptr_eq(&entry.slot, slot) || entry.bytes == bytes {
            return;
        }
        let old = std::mem::replace(&mut entry.bytes, bytes);
        let old_rows = std::mem::replace(&mut entry.rows, rows);
        inner.bytes = inner.bytes - old + bytes;
        inner.rows = inner.rows - old_rows + rows;
        while inner.bytes > self.limit {
            let Some(victim) = inner
                .map
                .iter()
                .filter(|(k, e)| *k != key && e.slot.initialized())
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = inner.map.remove(&victim) {
                inner.bytes -= e.bytes;
                inner.rows -= e.rows;
            }
        }
    }

    /// The index of `file` (columns typed as in `schema`), built from its `trace_id` and
    /// [`RESIDENT`] columns on first use.
    pub async fn get(
        &self,
        readers: &Readers,
        schema: &SchemaRef,
        file: &ColdFile,
    ) -> Result<Option<Arc<TraceIndex>>> {
        let key = (file.path.clone(), file.size);
        let slot = self.slot(&key);
        let mut built = false;
        let index = slot
            .get_or_try_init(|| {
                built = true;
                build_cold(readers, schema, file)
            })
            .await?
            .clone();
        if built {
            self.account(&key, &slot);
        }
        Ok(index)
    }
}

/// Read `file`'s `trace_id` and [`RESIDENT`] columns and index them.
async fn build_cold(
    readers: &Readers,
    schema: &SchemaRef,
    file: &ColdFile,
) -> Result<Option<Arc<TraceIndex>>> {
    let meta = readers.metadata(file).await?;
    let builder = readers.builder(file, meta.clone())?;
    let file_schema = builder.schema().clone();
    let Ok(root) = file_schema.index_of("trace_id") else {
        return Ok(None);
    };
    let mut roots = vec![root];
    roots.extend(RESIDENT.iter().filter_map(|c| file_schema.index_of(c).ok()));
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let batches: Vec<RecordBatch> = builder
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()?
        .try_collect()
        .await?;
    // Sorting ~1 M ids and encoding the kept columns is CPU work: off the async workers.
    let schema = schema.clone();
    tokio::task::spawn_blocking(move || index_batches(&batches, &schema, meta))
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?
}

/// The index of a cold file from its `trace_id` and [`RESIDENT`] columns (`batches`, in row
/// order); `meta` is the file's footer.
fn index_batches(
    batches: &[RecordBatch],
    schema: &SchemaRef,
    meta: ArrowReaderMetadata,
) -> Result<Option<Arc<TraceIndex>>> {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let column = |name: &str| -> Result<Option<ArrayRef>> {
        let parts: Vec<&dyn Array> = batches
            .iter()
            .filter_map(|b| b.column_by_name(name).map(|c| c.as_ref()))
            .collect();
        if parts.len() != batches.len() || parts.is_empty() {
            return Ok(None);
        }
        Ok(Some(datafusion::arrow::compute::concat(&parts)?))
    };
    let Some(ids) = column("trace_id")? else {
        return Ok(None);
    };
    let ids = cast(&ids, &DataType::Utf8)?;
    let Some(mut index) = TraceIndex::build(ids.as_string::<i32>().iter()) else {
        return Ok(None);
    };
    // Resident columns in the table's types; strings dictionary encoded (few distinct
    // services and users per file).
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for name in RESIDENT {
        let Ok(field) = schema.field_with_name(name) else {
            continue;
        };
        let typed = match column(name)? {
            Some(c) => cast(&c, field.data_type())?,
            None => datafusion::arrow::array::new_null_array(field.data_type(), rows),
        };
        let stored = match field.data_type() {
            DataType::Utf8 => cast(
                &typed,
                &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            )?,
            _ => typed,
        };
        fields.push(datafusion::arrow::datatypes::Field::new(
            name,
            stored.data_type().clone(),
            true,
        ));
        columns.push(stored);
    }
    index.resident = Some(RecordBatch::try_new_with_options(
        Arc::new(datafusion::arrow::datatypes::Schema::new(fields)),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?);
    index.meta = Some(meta);
    index.extents = index
        .resident
        .as_ref()
        .and_then(|r| extents::source_run(&index, r, (i64::MIN, i64::MAX)));
    Ok(Some(Arc::new(index)))
}

/// Hot batches with at least this many rows (settled ones, which hot compaction never merges
/// again) are indexed by [`warm`]; smaller ones are merged soon and indexed on first use.
pub const WARM_MIN_HOT_ROWS: usize = crate::storage::HOT_SETTLED_ROWS;

/// What one [`warm`] pass built.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Warmed {
    pub cold_files: usize,
    pub hot_batches: usize,
}

/// Build the missing indexes of `snapshot` ahead of the read models: cold files newest first
/// while the next one fits under 3/4 of the cache's budget ([`TraceIndexCache::limit`],
/// estimated from the bytes per row of the built ones; older files are indexed on first use,
/// and the warmer never evicts what it built), then hot batches of at least
/// [`WARM_MIN_HOT_ROWS`] rows. One file or batch at a time, so a pass leaves a core to ingest
/// and queries.
pub async fn warm(
    snapshot: &TableSnapshot,
    readers: &Readers,
    cache: &TraceIndexCache,
) -> Result<Warmed> {
    let mut done = Warmed::default();
    let mut cold: Vec<&Arc<ColdFile>> = snapshot.cold.iter().collect();
    cold.sort_by_key(|f| std::cmp::Reverse(f.max_ts));
    for f in cold {
        if cache.contains(f) {
            continue;
        }
        // Ids alone take 20 bytes per row; the resident columns more (measured once built).
        let per_row = cache.bytes_per_row().unwrap_or(20);
        let next = usize::try_from(f.rows)
            .unwrap_or(usize::MAX)
            .saturating_mul(per_row);
        if cache.bytes().saturating_add(next) > cache.limit() / 4 * 3 {
            break;
        }
        cache.get(readers, &snapshot.schema, f).await?;
        done.cold_files += 1;
    }
    for h in &snapshot.hot {
        if h.batch.num_rows() < WARM_MIN_HOT_ROWS || cache.built_hot_slot(h).is_some() {
            continue;
        }
        let (h, slot) = (h.clone(), cache.hot_slot(h));
        tokio::task::spawn_blocking(move || {
            slot.get_or_init(|| hot_index(&h.batch));
        })
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
        done.hot_batches += 1;
    }
    Ok(done)
}

/// The index of a hot batch's `trace_id` column (`None` when it has none or an id is not
/// 32 lower-case hex digits).
fn hot_index(batch: &RecordBatch) -> Option<Arc<TraceIndex>> {
    let col = cast(batch.column_by_name("trace_id")?, &DataType::Utf8).ok()?;
    let mut index = TraceIndex::build(col.as_string::<i32>().iter())?;
    index.extents = extents::source_run(&index, batch, (i64::MIN, i64::MAX));
    Some(Arc::new(index))
}

/// The readers of cold files (DataFusion's object-store reader). They keep out of the
/// engine's footer cache: the scans of `events` cache footers with their page index, and an
/// entry stored from here must not change what those scans find.
#[derive(Debug, Clone)]
pub struct Readers(Arc<DefaultParquetFileReaderFactory>);

impl Readers {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Readers(Arc::new(DefaultParquetFileReaderFactory::new(store)))
    }

    /// The footer of `file` with its page index, so a row selection skips the pages it does
    /// not touch.
    async fn metadata(&self, file: &ColdFile) -> Result<ArrowReaderMetadata> {
        let options = ArrowReaderOptions::new()
            .with_page_index_policy(datafusion::parquet::file::metadata::PageIndexPolicy::Optional);
        let mut reader = self.open(file)?;
        Ok(ArrowReaderMetadata::load_async(&mut reader, options).await?)
    }

    fn builder(
        &self,
        file: &ColdFile,
        meta: ArrowReaderMetadata,
    ) -> Result<ParquetRecordBatchStreamBuilder<Box<dyn AsyncFileReader>>> {
        Ok(ParquetRecordBatchStreamBuilder::new_with_metadata(
            self.open(file)?,
            meta,
        ))
    }

    fn open(&self, file: &ColdFile) -> Result<Box<dyn AsyncFileReader>> {
        Ok(self.0.create_reader(
            0,
            PartitionedFile::new(file.path.clone(), file.size),
            None,
            &ExecutionPlanMetricsSet::new(),
        )?)
    }
}

/// The rows `selected` (`(row, trace)` by row) of `file`, with the columns of `out_schema`
/// (table columns or [`SPAN_IDS`]); `trace_id` comes from the index, not the file, and
/// [`SPAN_IDS`] from the `span_id` leaf of `steps` alone unless `steps` itself is read.
async fn read_selected(
    readers: Readers,
    file: Arc<ColdFile>,
    out_schema: SchemaRef,
    selected: Vec<(u32, u128)>,
    meta: Option<ArrowReaderMetadata>,
    resident: Option<RecordBatch>,
) -> Result<Vec<RecordBatch>> {
    let meta = match meta {
        Some(m) => m,
        None => readers.metadata(&file).await?,
    };
    let builder = readers.builder(&file, meta)?;
    let file_schema = builder.schema().clone();
    let mut roots = Vec::new();
    // The index's resident columns come from memory; Parquet gives only the others.
    let in_memory = |name: &str| resident.as_ref().and_then(|r| r.column_by_name(name));
    for field in out_schema.fields() {
        let name = field.name();
        if name == "trace_id" || in_memory(name).is_some() {
            continue;
        }
        if let Ok(r) = file_schema.index_of(name) {
            roots.push(r);
        }
    }
    // The span ids alone: the leaf `steps.<list>.<item>.span_id` of the nested column.
    let span_leaf_of = match file_schema.index_of("steps") {
        Ok(r) if out_schema.index_of(SPAN_IDS).is_ok() && !roots.contains(&r) => Some(r),
        _ => None,
    };
    let descr = builder.parquet_schema();
    let leaves: Vec<usize> = (0..descr.num_columns())
        .filter(|&i| {
            let root = descr.get_column_root_idx(i);
            let column = descr.column(i);
            let parts = column.path().parts();
            roots.contains(&root)
                || (span_leaf_of == Some(root)
                    && parts.len() == 4
                    && parts.last().is_some_and(|p| p == "span_id"))
        })
        .collect();
    let total = usize::try_from(file.rows).unwrap_or(usize::MAX);
    let rows: Vec<u32> = selected.iter().map(|s| s.0).collect();
    let mask = ProjectionMask::leaves(descr, leaves);
    let batches: Vec<RecordBatch> = builder
        .with_projection(mask)
        .with_row_selection(selection(&rows, total))
        .with_batch_size(8 * 1024)
        .build()?
        .try_collect()
        .await?;
    let mut out = Vec::with_capacity(batches.len());
    let mut at = 0usize;
    for b in batches {
        let n = b.num_rows();
        let ids = selected.get(at..at + n).ok_or_else(|| {
            DataFusionError::Internal(format!("{}: more rows than selected", file.path))
        })?;
        at += n;
        let rows = datafusion::arrow::array::UInt32Array::from_iter_values(ids.iter().map(|s| s.0));
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(out_schema.fields().len());
        for field in out_schema.fields() {
            let column: ArrayRef = if field.name() == "trace_id" {
                trace_id_column(ids)
            } else if field.name() == SPAN_IDS {
                match b
                    .column_by_name("steps")
                    .and_then(|c| c.as_list_opt::<i32>())
                {
                    Some(steps) => {
                        Arc::new(crate::query::functions::step_span_ids_of(steps, n, |k| k)?)
                    }
                    None => datafusion::arrow::array::new_null_array(field.data_type(), n),
                }
            } else if let Some(column) = in_memory(field.name()) {
                take_as(column, &rows, field.data_type())?
            } else {
                match b.column_by_name(field.name()) {
                    Some(c) if c.data_type() == field.data_type() => c.clone(),
                    Some(c) => cast(c, field.data_type())?,
                    None => datafusion::arrow::array::new_null_array(field.data_type(), n),
                }
            };
            columns.push(column);
        }
        out.push(RecordBatch::try_new_with_options(
            out_schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?);
    }
    if at != selected.len() {
        return Err(DataFusionError::Internal(format!(
            "{}: read {at} of {} selected rows",
            file.path,
            selected.len()
        )));
    }
    Ok(out)
}

/// The rows `rows` (ascending) of the hot batch `batch` with the columns of `out_schema`
/// (table columns, or [`SPAN_IDS`] computed from `steps`). With no column (`count(*)`), only
/// the row count is carried: arrow's take cannot build a batch without columns.
fn take_rows(batch: &RecordBatch, out_schema: &SchemaRef, rows: Vec<u32>) -> Result<RecordBatch> {
    let n = rows.len();
    let rows = datafusion::arrow::array::UInt32Array::from(rows);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(out_schema.fields().len());
    for field in out_schema.fields() {
        let column = if field.name() == SPAN_IDS {
            let Some(steps) = batch
                .column_by_name("steps")
                .and_then(|c| c.as_list_opt::<i32>())
            else {
                return Err(DataFusionError::Internal("hot batch without steps".into()));
            };
            Arc::new(crate::query::functions::step_span_ids_of(steps, n, |k| {
                rows.value(k) as usize
            })?) as ArrayRef
        } else {
            let Some(c) = batch.column_by_name(field.name()) else {
                return Err(DataFusionError::Internal(format!(
                    "hot batch without {}",
                    field.name()
                )));
            };
            datafusion::arrow::compute::take(c, &rows, None)?
        };
        columns.push(column);
    }
    Ok(RecordBatch::try_new_with_options(
        out_schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(n)),
    )?)
}

/// What a session needs to register `traced_events` (a session config extension).
#[derive(Debug)]
pub struct TraceContext {
    pub snapshot: Arc<TableSnapshot>,
    pub cold_url: ObjectStoreUrl,
    pub readers: Readers,
    pub cache: Arc<TraceIndexCache>,
}

/// Register `traced_events` on `ctx`: exactly the events of the traces `traces` (plus the
/// column [`SPAN_IDS`]): the indexed provider for large sets on a storage-backed session, else
/// `events` itself filtered by the ids.
pub async fn register_traced_events<'a>(
    ctx: &datafusion::prelude::SessionContext,
    traces: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    // Parsed straight from the caller's strings (duplicates allowed); ids that are not 32
    // hex digits are kept as strings (their files are unindexable, scanned and filtered).
    let mut ids = Vec::new();
    let mut other: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for t in traces {
        match parse_trace_id(t) {
            Some(id) => ids.push(id),
            None => {
                other.insert(t);
            }
        }
    }
    let set = TraceSet::new(ids);
    let other: Vec<String> = other.into_iter().map(str::to_owned).collect();
    let trace_ctx = ctx.state().config().get_extension::<TraceContext>();
    let provider: Arc<dyn TableProvider> = match trace_ctx {
        Some(t) if set.len() + other.len() > MIN_INDEXED_TRACES => {
            Arc::new(TracedEvents::new(&t, Arc::new(set), true).with_other_ids(other))
        }
        // `events` with the same extra column, filtered by the ids.
        _ => {
            let quoted: Vec<String> = set
                .ids
                .iter()
                .map(|id| format!("'{id:032x}'"))
                .chain(other.iter().map(|o| format!("'{}'", o.replace('\'', "''"))))
                .collect();
            let filter = match quoted.is_empty() {
                true => "false".to_string(),
                false => format!("trace_id IN ({})", quoted.join(", ")),
            };
            ctx.sql(&format!(
                "SELECT *, step_span_ids(steps) AS {SPAN_IDS} FROM events WHERE {filter}"
            ))
            .await?
            .into_view()
        }
    };
    ctx.deregister_table("traced_events")?;
    ctx.register_table("traced_events", provider)?;
    Ok(())
}

/// Register `trace_lookup` on `ctx`: the events of the one trace `trace_id` (read as
/// `WHERE trace_id = …`), from the trace indexes that already exist (no index is built for a
/// lookup) and by scanning, with the bloom filters, every source without one. A separate name
/// from `traced_events`, so a lookup in the middle of a read never replaces that read's set.
pub async fn register_trace_lookup(
    ctx: &datafusion::prelude::SessionContext,
    trace_id: &str,
) -> Result<()> {
    let trace_ctx = ctx.state().config().get_extension::<TraceContext>();
    let provider: Arc<dyn TableProvider> = match (trace_ctx, parse_trace_id(trace_id)) {
        (Some(t), Some(id)) => Arc::new(TracedEvents::new(
            &t,
            Arc::new(TraceSet::new(vec![id])),
            false,
        )),
        _ => ctx.table_provider("events").await?,
    };
    ctx.deregister_table("trace_lookup")?;
    ctx.register_table("trace_lookup", provider)?;
    Ok(())
}

/// `traced_events`: exactly the events of one snapshot whose trace is in `traces` or
/// `other` (indexed sources by their index, the rest scanned and filtered), plus
/// [`SPAN_IDS`].
#[derive(Debug)]
pub struct TracedEvents {
    events: SnapshotTable,
    readers: Readers,
    cache: Arc<TraceIndexCache>,
    traces: Arc<TraceSet>,
    /// Build the indexes of sources that have none; else scan those sources (filtered by id).
    build: bool,
    /// Ids of the set that are not 32 hex digits: only sources scanned hold their rows.
    other: Arc<Vec<String>>,
    /// The table's columns plus [`SPAN_IDS`].
    schema: SchemaRef,
}

impl TracedEvents {
    pub fn new(t: &TraceContext, traces: Arc<TraceSet>, build: bool) -> Self {
        TracedEvents {
            events: SnapshotTable::new(t.snapshot.clone(), t.cold_url.clone()),
            readers: t.readers.clone(),
            cache: t.cache.clone(),
            traces,
            build,
            other: Arc::default(),
            schema: traced_schema(&t.snapshot.schema),
        }
    }

    /// The set's ids that are not 32 hex digits (kept by the filter of scanned sources).
    pub fn with_other_ids(mut self, other: Vec<String>) -> Self {
        self.other = Arc::new(other);
        self
    }
}

/// The column of `traced_events` past the table's own: `step_span_ids(steps)` computed by the
/// table, so a read that needs only the span ids of `steps` (`sql/trace_events.sql`) reads the
/// one `span_id` leaf of the nested column from Parquet and takes no other step field.
pub const SPAN_IDS: &str = "step_span_ids";

/// `schema` plus [`SPAN_IDS`].
fn traced_schema(schema: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<datafusion::arrow::datatypes::FieldRef> =
        schema.fields().iter().cloned().collect();
    fields.push(Arc::new(datafusion::arrow::datatypes::Field::new(
        SPAN_IDS,
        crate::query::functions::step_span_ids_type(),
        true,
    )));
    Arc::new(datafusion::arrow::datatypes::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ))
}

#[async_trait]
impl TableProvider for TracedEvents {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let started = std::time::Instant::now();
        let snapshot = self.events.snapshot();
        let bounds = time_bounds(filters, snapshot.table.time_column());
        let projection: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let out_schema = Arc::new(self.schema.project(&projection)?);
        // Both tiers' tasks start before any is awaited, so both are selected at once.
        let (cold_tasks, mut unindexed) = self.select_cold(snapshot, bounds, &out_schema);
        let (hot_tasks, mut unindexed_hot) = self.select_hot(snapshot, bounds, &out_schema);
        let selected =
            collect_selected(cold_tasks, hot_tasks, &mut unindexed, &mut unindexed_hot).await?;
        tracing::debug!(
            traces = self.traces.len(),
            columns = projection.len(),
            selected_rows = selected.iter().map(RecordBatch::num_rows).sum::<usize>(),
            unindexed = unindexed.len() + unindexed_hot.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "traced_events rows selected"
        );
        let rest = TableSnapshot {
            table: snapshot.table,
            schema: snapshot.schema.clone(),
            hot: unindexed_hot,
            cold: unindexed,
        };
        self.plan(state, rest, &out_schema, filters, selected).await
    }
}

/// A task selecting the rows of one indexed cold file: its batches, or the file back when it
/// turned out unindexable.
type ColdTask =
    tokio::task::JoinHandle<Result<std::result::Result<Vec<RecordBatch>, Arc<ColdFile>>>>;
/// A task selecting the rows of one hot batch: its batch of them (`None`: no row), or the
/// batch back when it is unindexable.
type HotTask =
    tokio::task::JoinHandle<Result<std::result::Result<Option<RecordBatch>, Arc<HotBatch>>>>;

impl TracedEvents {
    /// Start selecting the rows of the cold files in `[lo, hi]`: one task per indexed file
    /// (index lookup or build, then the selected rows), so building the indexes of new files
    /// and reading rows use both cores. Returns the tasks and the files to scan whole like
    /// `events` (those without an index when no index is built).
    fn select_cold(
        &self,
        snapshot: &TableSnapshot,
        (lo, hi): (i64, i64),
        out_schema: &SchemaRef,
    ) -> (Vec<ColdTask>, Vec<Arc<ColdFile>>) {
        let mut unindexed = Vec::new();
        let in_range = snapshot
            .cold
            .iter()
            .filter(|f| f.max_ts >= lo && f.min_ts <= hi);
        let indexed: Vec<&Arc<ColdFile>> = if self.build {
            in_range.collect()
        } else {
            let (indexed, rest): (Vec<&Arc<ColdFile>>, Vec<&Arc<ColdFile>>) =
                in_range.partition(|f| self.cache.contains(f));
            unindexed.extend(rest.into_iter().cloned());
            indexed
        };
        let tasks = indexed
            .into_iter()
            .map(|f| {
                let (cache, readers, traces) = (
                    self.cache.clone(),
                    self.readers.clone(),
                    self.traces.clone(),
                );
                let (f, schema, out_schema) =
                    (f.clone(), snapshot.schema.clone(), out_schema.clone());
                tokio::spawn(async move {
                    let Some(index) = cache.get(&readers, &schema, &f).await? else {
                        return Ok::<_, DataFusionError>(Err(f));
                    };
                    let selected = index.rows_of(&traces);
                    if selected.is_empty() {
                        return Ok(Ok(Vec::new()));
                    }
                    if let Some(batch) = index.resident_rows(&out_schema, &selected)? {
                        return Ok(Ok(vec![batch]));
                    }
                    let (meta, resident) = (index.meta.clone(), index.resident.clone());
                    let batches =
                        read_selected(readers, f, out_schema, selected, meta, resident).await?;
                    Ok(Ok(batches))
                })
            })
            .collect();
        (tasks, unindexed)
    }

    /// Start selecting the rows of the hot batches in `[lo, hi]` by each batch's own index,
    /// built off the async threads (one blocking task per batch) the first time. Returns the
    /// tasks and the batches to scan like `events` (those without an index when no index is
    /// built).
    fn select_hot(
        &self,
        snapshot: &TableSnapshot,
        (lo, hi): (i64, i64),
        out_schema: &SchemaRef,
    ) -> (Vec<HotTask>, Vec<Arc<HotBatch>>) {
        let mut indexed_hot = Vec::new();
        let mut unindexed_hot: Vec<Arc<HotBatch>> = Vec::new();
        for h in snapshot
            .hot
            .iter()
            .filter(|h| h.batch.num_rows() > 0 && h.max_ts >= lo && h.min_ts <= hi)
        {
            let slot = if self.build {
                Some(self.cache.hot_slot(h))
            } else {
                self.cache.built_hot_slot(h)
            };
            match slot {
                Some(slot) => indexed_hot.push((h.clone(), slot)),
                None => unindexed_hot.push(h.clone()),
            }
        }
        let tasks = indexed_hot
            .into_iter()
            .map(|(h, slot)| {
                let (traces, out_schema) = (self.traces.clone(), out_schema.clone());
                tokio::task::spawn_blocking(move || {
                    let Some(index) = slot.get_or_init(|| hot_index(&h.batch)).clone() else {
                        return Ok::<_, DataFusionError>(Err(h));
                    };
                    let rows: Vec<u32> = index.rows_of(&traces).iter().map(|r| r.0).collect();
                    if rows.is_empty() {
                        return Ok(Ok(None));
                    }
                    let taken = take_rows(&h.batch, &out_schema, rows)?;
                    Ok(Ok(Some(taken)))
                })
            })
            .collect();
        (tasks, unindexed_hot)
    }

    /// The plan over the selected rows (`selected`, already in `out_schema`) and `rest`, the
    /// sources scanned like `events` (with [`SPAN_IDS`] computed over their `steps`).
    async fn plan(
        &self,
        state: &dyn Session,
        rest: TableSnapshot,
        out_schema: &SchemaRef,
        filters: &[Expr],
        selected: Vec<RecordBatch>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut plans: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
        if !rest.hot.is_empty() || !rest.cold.is_empty() {
            plans.push(self.scan_rest(state, rest, out_schema, filters).await?);
        }
        if !selected.is_empty() {
            let mem = MemorySourceConfig::try_new(&[selected], out_schema.clone(), None)?;
            plans.push(DataSourceExec::from_data_source(mem));
        }
        match plans.len() {
            0 => Ok(Arc::new(datafusion::physical_plan::empty::EmptyExec::new(
                out_schema.clone(),
            ))),
            1 => Ok(plans.remove(0)),
            _ => datafusion::physical_plan::union::UnionExec::try_new(plans),
        }
    }

    /// The scan of the sources without an index, like `events`, keeping the rows of the
    /// set's traces only (`trace_id IN (…)`), giving the columns of `out_schema`:
    /// [`SPAN_IDS`] as `step_span_ids(steps)` over the scanned `steps`.
    async fn scan_rest(
        &self,
        state: &dyn Session,
        rest: TableSnapshot,
        out_schema: &SchemaRef,
        filters: &[Expr],
    ) -> Result<Arc<dyn ExecutionPlan>> {
        use datafusion::physical_expr::expressions::Column;
        use datafusion::prelude::{col, lit};
        let table = rest.schema.clone();
        let mut projection: Vec<usize> = Vec::new();
        for field in out_schema.fields() {
            if field.name() != SPAN_IDS {
                projection.push(table.index_of(field.name())?);
            }
        }
        let mut also = vec!["trace_id"];
        if out_schema.index_of(SPAN_IDS).is_ok() {
            also.push("steps");
        }
        for name in also {
            let at = table.index_of(name)?;
            if !projection.contains(&at) {
                projection.push(at);
            }
        }
        // Filters on the table's own columns only (the time bounds prune sources).
        let table_filters: Vec<Expr> = filters
            .iter()
            .filter(|f| f.column_refs().iter().all(|c| c.name != SPAN_IDS))
            .cloned()
            .collect();
        let scan = SnapshotTable::new(Arc::new(rest), self.events.cold_url().clone())
            .scan(state, Some(&projection), &table_filters, None)
            .await?;
        let scanned = scan.schema();
        let df_schema = datafusion::common::DFSchema::try_from(scanned.as_ref().clone())?;
        let ids: Vec<Expr> = self
            .traces
            .ids
            .iter()
            .map(|id| lit(format!("{id:032x}")))
            .chain(self.other.iter().map(|o| lit(o.as_str())))
            .collect();
        let keep = state.create_physical_expr(col("trace_id").in_list(ids, false), &df_schema)?;
        let kept = Arc::new(datafusion::physical_plan::filter::FilterExec::try_new(
            keep, scan,
        )?);
        let mut exprs: Vec<(Arc<dyn datafusion::physical_expr::PhysicalExpr>, String)> = Vec::new();
        for field in out_schema.fields() {
            let expr = if field.name() == SPAN_IDS {
                let call = crate::query::functions::step_span_ids_udf().call(vec![col("steps")]);
                state.create_physical_expr(call, &df_schema)?
            } else {
                let at = scanned.index_of(field.name())?;
                Arc::new(Column::new(field.name(), at)) as _
            };
            exprs.push((expr, field.name().clone()));
        }
        Ok(Arc::new(
            datafusion::physical_plan::projection::ProjectionExec::try_new(exprs, kept)?,
        ))
    }
}

/// The selected rows of the indexed cold files then hot batches, in task order; the sources
/// that turned out unindexable are added to `unindexed` / `unindexed_hot`.
async fn collect_selected(
    cold_tasks: Vec<ColdTask>,
    hot_tasks: Vec<HotTask>,
    unindexed: &mut Vec<Arc<ColdFile>>,
    unindexed_hot: &mut Vec<Arc<HotBatch>>,
) -> Result<Vec<RecordBatch>> {
    let mut selected = Vec::new();
    for task in cold_tasks {
        match task
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))??
        {
            Ok(batches) => selected.extend(batches),
            Err(file) => unindexed.push(file),
        }
    }
    for task in hot_tasks {
        match task
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))??
        {
            Ok(Some(batch)) => selected.push(batch),
            Ok(None) => {}
            Err(h) => unindexed_hot.push(h),
        }
    }
    Ok(selected)
}

pub mod extents;

#[cfg(test)]
mod tests;
