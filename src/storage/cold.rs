//! The cold store: immutable, sorted, ZSTD Parquet files behind `object_store`, plus the
//! manifest that lists them.
//!
//! Layout (Hive-style, readable by DuckDB/Spark/Trino without waylog):
//! `<table>/date=YYYY-MM-DD/hour=HH/<first_seq:020>-<last_seq:020>.parquet`, and the manifest
//! as numbered objects `_waylog/manifest/<version:020>.json`. A commit writes version n+1 as a
//! new object (an atomic put on both local disk and S3), so readers see the old or the new
//! manifest, never a mix. Older manifest objects are pruned, keeping a few.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::parquet::arrow::arrow_writer::ArrowWriterOptions;
use datafusion::parquet::arrow::{ARROW_SCHEMA_META_KEY, ArrowWriter, encode_arrow_schema};
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as StorePath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::config::aws_profile;
use crate::config::cold_store::{ColdLocation, S3Settings, parse_cold_location};

use super::schema::{SCHEMA_VERSION, SCHEMA_VERSION_KEY, TableId, ts_range};
use super::table::ColdFile;

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;
/// ZSTD level of cold files. Measured on the benchmark traffic: level 3 gives 99 B/event at
/// 158k rows/s flush, level 6 gives 96 B/event at 111k rows/s; the flusher must outrun ingest.
pub const ZSTD_LEVEL: i32 = 3;
/// Data page size of the id columns with bloom filters (`event_id`, `trace_id`, ...). Their
/// values are random: 20 000-row pages (the writer's default) were ~700 KB of plain strings,
/// all decompressed to read the one row a trace lookup wants. The writer checks the limit
/// every 1 024 rows, so these pages hold 1 024 rows (~35 KB); random ids compress no worse in
/// small pages (3 M events of the benchmark traffic: 97.9 → 97.8 bytes/event, while 4 096-row
/// pages for every column cost +3%), and the other columns keep their large pages.
pub const ID_PAGE_BYTES: usize = 16 * 1024;
const MANIFEST_PREFIX: &str = "_waylog/manifest";
const MANIFESTS_KEPT: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cold store {op} {path}")]
    Store {
        op: &'static str,
        path: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot open cold store at {location}")]
    Open {
        location: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("corrupt manifest {path}")]
    Manifest {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cold store fsync {path}")]
    Sync {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("parquet encode")]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    #[error("arrow")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TableManifest {
    /// Every WAL record of this table with `seq <= flushed_seq` is in `files`.
    pub flushed_seq: u64,
    pub files: Vec<ColdFile>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub version: u64,
    pub tables: BTreeMap<String, TableManifest>,
}

impl Manifest {
    pub fn table(&self, t: TableId) -> TableManifest {
        self.tables.get(t.name()).cloned().unwrap_or_default()
    }

    pub fn table_mut(&mut self, t: TableId) -> &mut TableManifest {
        self.tables.entry(t.name().to_string()).or_default()
    }

    pub fn max_flushed_seq(&self) -> u64 {
        self.tables
            .values()
            .map(|t| t.flushed_seq)
            .max()
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub struct ColdStore {
    pub store: Arc<dyn ObjectStore>,
    /// The URL the query engine registers the store under.
    pub url: ObjectStoreUrl,
    /// Human description for logs (`file:///...`).
    pub location: String,
    /// The directory of a local store (puts are fsynced there); `None` for object stores.
    local_root: Option<std::path::PathBuf>,
}

impl ColdStore {
    /// `location`: `None` = `<data_dir>/cold`; a path or `file://` URL = that directory;
    /// `s3://bucket/prefix` = that prefix of an S3 bucket (settings: `s3` over the AWS
    /// environment). `create` makes a missing local directory.
    pub fn open(
        location: Option<&str>,
        data_dir: &Path,
        create: bool,
        s3: &S3Settings,
    ) -> Result<ColdStore> {
        let parsed = match location {
            None => None,
            Some(l) => Some(parse_cold_location(l).map_err(|e| Error::Open {
                location: l.to_string(),
                source: e.into(),
            })?),
        };
        match parsed {
            Some(ColdLocation::S3 { bucket, prefix }) => Self::open_s3(bucket, prefix, s3),
            Some(ColdLocation::Local(dir)) => Self::open_local(Path::new(dir), create),
            None => Self::open_local(&data_dir.join("cold"), create),
        }
    }

    fn open_local(dir: &Path, create: bool) -> Result<ColdStore> {
        let open_err = |e: Box<dyn std::error::Error + Send + Sync>| Error::Open {
            location: dir.display().to_string(),
            source: e,
        };
        if create {
            crate::wal::create_dir_durable(dir).map_err(|e| open_err(Box::new(e)))?;
        }
        let abs = std::fs::canonicalize(dir).map_err(|e| open_err(Box::new(e)))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&abs)
            .map_err(|e| open_err(Box::new(e)))?;
        Ok(ColdStore {
            store: Arc::new(store),
            url: cold_url(),
            location: format!("file://{}", abs.display()),
            local_root: Some(abs),
        })
    }

    /// An S3 (or S3-compatible) store: object_store's S3 client built from the AWS
    /// environment, then the `WAYLOG_S3_*` overrides; paths are relative to `prefix`.
    /// Conditional puts use `If-None-Match` (object_store's default for S3).
    fn open_s3(bucket: &str, prefix: &str, s3: &S3Settings) -> Result<ColdStore> {
        let location = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_allow_http(s3.allow_http)
            .with_virtual_hosted_style_request(!s3.path_style);
        let profile = aws_profile::from_env().map_err(|e| Error::Open {
            location: location.clone(),
            source: Box::new(e),
        })?;
        if let Some(p) = profile {
            b = with_profile(b, p);
        }
        if let Some(e) = &s3.endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(r) = &s3.region {
            b = b.with_region(r);
        }
        if let (Some(k), Some(sec)) = (&s3.access_key_id, &s3.secret_access_key) {
            b = b.with_access_key_id(k).with_secret_access_key(sec);
        }
        if let Some(t) = &s3.session_token {
            b = b.with_token(t);
        }
        let s3_store = b.build().map_err(|e| Error::Open {
            location: location.clone(),
            source: Box::new(e),
        })?;
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3_store)
        } else {
            Arc::new(PrefixStore::new(s3_store, prefix))
        };
        Ok(ColdStore {
            store,
            url: cold_url(),
            location,
            local_root: None,
        })
    }

    /// Store `bytes` at `path`, durably: on the local store the file and every directory
    /// from it up to the store's root are fsynced before this returns (object_store writes a
    /// temp file and renames it, and syncs nothing), so a commit that returned survives a
    /// power loss; on an object store the PUT's success is the durability point.
    pub async fn put(&self, path: &str, bytes: Bytes) -> Result<()> {
        self.store
            .put(&StorePath::from(path), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|source| store_error("put", path, source))?;
        self.sync_if_local(path).await
    }

    /// On a local store, fsync the file at `path` and its directories up to the root.
    async fn sync_if_local(&self, path: &str) -> Result<()> {
        if let Some(root) = &self.local_root {
            let (root, rel) = (root.clone(), path.to_string());
            tokio::task::spawn_blocking(move || sync_local(&root, &rel))
                .await
                .map_err(|e| Error::Sync {
                    path: path.to_string(),
                    source: std::io::Error::other(e.to_string()),
                })?
                .map_err(|source| Error::Sync {
                    path: path.to_string(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Store `bytes` at `path` only if nothing is there (`PutMode::Create`: `If-None-Match: *`
    /// on S3, a no-clobber link on local disk), durably as [`ColdStore::put`]. `false`: the
    /// object already exists (another writer won).
    pub async fn put_if_absent(&self, path: &str, bytes: Bytes) -> Result<bool> {
        let opts = object_store::PutOptions {
            mode: object_store::PutMode::Create,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&StorePath::from(path), PutPayload::from(bytes), opts)
            .await
        {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) => return Ok(false),
            Err(source) => return Err(store_error("put", path, source)),
        }
        self.sync_if_local(path).await?;
        Ok(true)
    }

    /// The object at `path`, or `None` when there is none.
    pub async fn get_opt(&self, path: &str) -> Result<Option<Bytes>> {
        let store_err = |source| store_error("get", path, source);
        match self.store.get(&StorePath::from(path)).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(store_err)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(store_err(source)),
        }
    }

    pub async fn get(&self, path: &str) -> Result<Bytes> {
        let store_err = |source| store_error("get", path, source);
        let r = self
            .store
            .get(&StorePath::from(path))
            .await
            .map_err(store_err)?;
        r.bytes().await.map_err(store_err)
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        match self.store.delete(&StorePath::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(store_error("delete", path, source)),
        }
    }

    /// Delete Parquet objects of `table` that the manifest does not list: files written by a
    /// flush or a retention rewrite that crashed before its manifest commit. Their rows are
    /// still in the WAL (or were meant to be removed), so deleting them loses nothing and keeps
    /// external readers of the cold layout from counting rows twice. Returns the paths removed.
    pub async fn remove_orphans(&self, table: &str, listed: &[String]) -> Result<Vec<String>> {
        let metas = self.list(table).await?;
        let mut removed = Vec::new();
        for m in metas {
            let path = m.location.to_string();
            if path.ends_with(".parquet") && !listed.contains(&path) {
                self.delete(&path).await?;
                removed.push(path);
            }
        }
        Ok(removed)
    }

    /// Every object under `prefix` whose path sorts after `offset`.
    pub async fn list_after(
        &self,
        prefix: &str,
        offset: &str,
    ) -> Result<Vec<object_store::ObjectMeta>> {
        self.store
            .list_with_offset(Some(&StorePath::from(prefix)), &StorePath::from(offset))
            .try_collect()
            .await
            .map_err(|source| store_error("list", prefix, source))
    }

    /// Every object under `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<object_store::ObjectMeta>> {
        self.store
            .list(Some(&StorePath::from(prefix)))
            .try_collect()
            .await
            .map_err(|source| store_error("list", prefix, source))
    }

    /// The pre-Delta manifest objects (version, path), oldest first (migration).
    pub async fn manifest_versions(&self) -> Result<Vec<(u64, String)>> {
        let metas = self.list(MANIFEST_PREFIX).await?;
        let mut out: Vec<(u64, String)> = metas
            .into_iter()
            .filter_map(|m| {
                let name = m.location.filename()?.to_string();
                let v = name.strip_suffix(".json")?.parse().ok()?;
                Some((v, m.location.to_string()))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// The newest manifest, or an empty one for a new store.
    pub async fn load_manifest(&self) -> Result<Manifest> {
        Ok(self.load_manifest_reporting().await?.0)
    }

    /// The newest manifest that parses, and what was skipped to get there: a newest version
    /// that is empty or corrupt (a disk fault; commits are fsynced before anything depends on
    /// them) falls back to the version before it, loudly. Only when no kept version parses is
    /// it an error.
    pub async fn load_manifest_reporting(&self) -> Result<(Manifest, Vec<String>)> {
        let versions = self.manifest_versions().await?;
        let mut skipped = Vec::new();
        let mut first_error = None;
        for (_, path) in versions.iter().rev() {
            let bytes = self.get(path).await?;
            match serde_json::from_slice::<Manifest>(&bytes) {
                Ok(m) => {
                    for problem in &skipped {
                        tracing::error!(problem = %problem, fallback = %path, "manifest");
                    }
                    return Ok((m, skipped));
                }
                Err(source) => {
                    skipped.push(format!(
                        "{path}: corrupt manifest skipped ({source}); using the previous version"
                    ));
                    first_error.get_or_insert(Error::Manifest {
                        path: path.clone(),
                        source,
                    });
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok((Manifest::default(), skipped)),
        }
    }

    /// Store `m` as the next version; `m.version` is bumped in place.
    pub async fn commit_manifest(&self, m: &mut Manifest) -> Result<()> {
        m.version += 1;
        let path = format!("{MANIFEST_PREFIX}/{:020}.json", m.version);
        let bytes = serde_json::to_vec(m).expect("manifest serializes");
        self.put(&path, Bytes::from(bytes)).await?;
        let versions = self.manifest_versions().await?;
        if versions.len() > MANIFESTS_KEPT {
            for (_, old) in &versions[..versions.len() - MANIFESTS_KEPT] {
                self.delete(old).await?;
            }
        }
        Ok(())
    }
}

/// Apply a shared-file profile ([`aws_profile`]) below the `AWS_*` variables: its keys only
/// when `AWS_ACCESS_KEY_ID` is unset, its region only when `AWS_REGION` and
/// `AWS_DEFAULT_REGION` are, its `endpoint_url` only when no `AWS_ENDPOINT*` variable is set.
/// The `WAYLOG_S3_*` overrides are applied after this, over everything.
fn with_profile(mut b: AmazonS3Builder, p: aws_profile::Profile) -> AmazonS3Builder {
    let unset = |k: &str| std::env::var_os(k).is_none_or(|v| v.is_empty());
    if unset("AWS_ACCESS_KEY_ID")
        && let (Some(k), Some(s)) = (p.access_key_id, p.secret_access_key)
    {
        b = b.with_access_key_id(k).with_secret_access_key(s);
        if let Some(t) = p.session_token {
            b = b.with_token(t);
        }
    }
    if unset("AWS_REGION")
        && unset("AWS_DEFAULT_REGION")
        && let Some(r) = p.region
    {
        b = b.with_region(r);
    }
    if ["AWS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
        .iter()
        .all(|k| unset(k))
        && let Some(e) = p.endpoint_url
    {
        b = b.with_endpoint(e);
    }
    b
}

/// The URL the query engine registers every cold store under.
fn cold_url() -> ObjectStoreUrl {
    ObjectStoreUrl::parse("waylogcold://store/").expect("static url parses")
}

/// fsync `root/rel` and each directory from its parent up to `root`: the file's data, and the
/// directory entries that name it (partition directories are created by the put).
fn sync_local(root: &Path, rel: &str) -> std::io::Result<()> {
    let file = root.join(rel);
    crate::wal::sync_file(&std::fs::File::open(&file)?, &file)?;
    let mut dir = file.parent();
    while let Some(d) = dir {
        crate::wal::sync_dir(d)?;
        if d == root {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

/// The Hive-style partition directory of a timestamp: `date=YYYY-MM-DD/hour=HH`.
/// A failed cold store request of `op` on `path`, counted in
/// `waylog_object_store_errors_total{operation}`.
fn store_error(op: &'static str, path: &str, source: object_store::Error) -> Error {
    crate::metrics::object_store_error(op);
    Error::Store {
        op,
        path: path.to_string(),
        source,
    }
}

pub fn partition_of(ts_ns: i64) -> String {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    dt.format("date=%Y-%m-%d/hour=%H").to_string()
}

/// Encode a sorted batch as one Parquet file and describe it for the manifest.
pub fn encode_parquet(
    table: TableId,
    batch: &RecordBatch,
    path: String,
    first_seq: u64,
    last_seq: u64,
) -> Result<(Bytes, ColdFile)> {
    let (min_ts, max_ts) = ts_range(batch, table.time_column()).unwrap_or((0, 0));
    let (min_r, max_r) = ts_range(batch, table.retention_column()).unwrap_or((0, 0));
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).expect("a valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_key_value_metadata(Some(vec![
            KeyValue::new(SCHEMA_VERSION_KEY.to_string(), SCHEMA_VERSION.to_string()),
            KeyValue::new("waylog.table".to_string(), table.name().to_string()),
            KeyValue::new("waylog.min_ts".to_string(), min_ts.to_string()),
            KeyValue::new("waylog.max_ts".to_string(), max_ts.to_string()),
            KeyValue::new("waylog.first_seq".to_string(), first_seq.to_string()),
            KeyValue::new("waylog.last_seq".to_string(), last_seq.to_string()),
            // The Arrow schema with the timestamp types (see [`plain_timestamps`]).
            KeyValue::new(
                ARROW_SCHEMA_META_KEY.to_string(),
                encode_arrow_schema(&batch.schema()),
            ),
        ]));
    // Timestamps and durations are nearly sorted within a (status, service, ts) run: delta encoding
    // stores them in a few bits instead of dictionary/plain 8-byte values.
    for col in table.delta_columns() {
        props = props
            .set_column_dictionary_enabled(ColumnPath::from(*col), false)
            .set_column_encoding(ColumnPath::from(*col), Encoding::DELTA_BINARY_PACKED);
    }
    for col in table.bloom_columns() {
        props = props
            .set_column_bloom_filter_enabled(ColumnPath::from(*col), true)
            .set_column_bloom_filter_fpp(ColumnPath::from(*col), 0.01)
            .set_column_dictionary_enabled(ColumnPath::from(*col), false)
            .set_column_data_page_size_limit(ColumnPath::from(*col), ID_PAGE_BYTES);
    }
    let plain = plain_timestamps(batch)?;
    let mut buf = Vec::with_capacity(batch.get_array_memory_size() / 4);
    let options = ArrowWriterOptions::new()
        .with_properties(props.build())
        .with_skip_arrow_metadata(true);
    let mut writer = ArrowWriter::try_new_with_options(&mut buf, plain.schema(), options)?;
    writer.write(&plain)?;
    writer.close()?;
    let size = buf.len() as u64;
    Ok((
        Bytes::from(buf),
        ColdFile {
            path,
            size,
            rows: batch.num_rows() as u64,
            first_seq,
            last_seq,
            min_ts,
            max_ts,
            min_retention_ts: min_r,
            max_retention_ts: max_r,
            schema_version: SCHEMA_VERSION.to_string(),
        },
    ))
}

/// `batch` with every timestamp column as plain `Int64` (the same nanoseconds since the
/// Unix epoch, UTC), so the Parquet files carry no `TIMESTAMP(NANOS)` annotation: Delta's
/// `timestamp` is microseconds and Spark/Databricks refuse `TIMESTAMP(NANOS)` columns, so the
/// Delta schema declares these columns `long` and every Delta reader reads them without
/// special settings (docs/scaling.md). The file's embedded Arrow schema (`ARROW:schema`) keeps
/// `Timestamp(ns, UTC)`, which arrow-rs readers (waylog, DataFusion) apply to the `INT64`
/// column, so waylog reads its own files with unchanged types, statistics and bloom filters.
fn plain_timestamps(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    if !schema
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::Timestamp(..)))
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (f, col) in schema.fields().iter().zip(batch.columns()) {
        if matches!(f.data_type(), DataType::Timestamp(..)) {
            fields.push(f.as_ref().clone().with_data_type(DataType::Int64));
            columns.push(cast(col, &DataType::Int64)?);
        } else {
            fields.push(f.as_ref().clone());
            columns.push(col.clone());
        }
    }
    let plain = Schema::new_with_metadata(fields, schema.metadata().clone());
    Ok(RecordBatch::try_new(Arc::new(plain), columns)?)
}

/// Decode a whole Parquet file (retention rewrites).
pub fn decode_parquet(bytes: Bytes) -> Result<Vec<RecordBatch>> {
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)?
            .with_batch_size(64 * 1024)
            .build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_corrupt_newest_manifest_falls_back_to_the_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let cold = ColdStore::open(None, dir.path(), true, &S3Settings::default()).unwrap();
        let mut m = Manifest::default();
        m.table_mut(TableId::Events).flushed_seq = 7;
        cold.commit_manifest(&mut m).await.unwrap();
        m.table_mut(TableId::Events).flushed_seq = 9;
        cold.commit_manifest(&mut m).await.unwrap();
        let (loaded, skipped) = cold.load_manifest_reporting().await.unwrap();
        assert_eq!((loaded.version, skipped.len()), (2, 0));

        // The newest version torn to nothing (what a power loss left before commits synced).
        let newest = dir
            .path()
            .join("cold/_waylog/manifest/00000000000000000002.json");
        std::fs::write(&newest, b"").unwrap();
        let (loaded, skipped) = cold.load_manifest_reporting().await.unwrap();
        assert_eq!(loaded.version, 1);
        assert_eq!(loaded.table(TableId::Events).flushed_seq, 7);
        assert_eq!(skipped.len(), 1);
        assert!(
            skipped[0].contains("00000000000000000002.json"),
            "{skipped:?}"
        );

        // No version parses: an error, never an empty manifest.
        let oldest = dir
            .path()
            .join("cold/_waylog/manifest/00000000000000000001.json");
        std::fs::write(&oldest, b"{").unwrap();
        assert!(matches!(
            cold.load_manifest_reporting().await,
            Err(Error::Manifest { .. })
        ));
    }

    #[test]
    fn timestamps_are_plain_int64_in_parquet_and_timestamps_again_for_arrow_readers() {
        use datafusion::arrow::array::{Array, TimestampNanosecondArray};
        use datafusion::parquet::basic::Type as Physical;
        use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
        let ts = 1_777_888_800_123_456_789;
        let events = vec![crate::model::event::test_event(1, "checkout", "ok", ts)];
        let batch = super::super::schema::events_to_batch(&events).unwrap();
        let (bytes, file) =
            encode_parquet(TableId::Events, &batch, "events/x.parquet".into(), 1, 1).unwrap();
        assert_eq!((file.min_ts, file.max_ts), (ts, ts));
        // What Spark/Trino see: INT64 without a TIMESTAMP(NANOS) annotation.
        let reader = SerializedFileReader::new(bytes.clone()).unwrap();
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let col = (0..schema.num_columns())
            .map(|i| schema.column(i))
            .find(|c| c.name() == "ts_start")
            .unwrap();
        assert_eq!(col.physical_type(), Physical::INT64);
        assert_eq!(col.logical_type_ref(), None);
        // What waylog (arrow-rs) reads back: the declared Timestamp(ns, UTC), same value.
        let back = decode_parquet(bytes).unwrap();
        assert_eq!(back[0].schema(), batch.schema());
        let col = back[0].column_by_name("ts_start").unwrap();
        let col = col
            .as_any()
            .downcast_ref::<TimestampNanosecondArray>()
            .unwrap();
        assert_eq!((col.len(), col.value(0)), (1, ts));
    }

    /// The id columns (bloom filter columns) are written in small pages, the others in the
    /// writer's large ones, so a lookup of a few rows decompresses a few KiB per id column.
    #[test]
    fn id_columns_have_small_pages_and_the_others_large_ones() {
        use datafusion::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
        let ts = 1_777_888_800_000_000_000;
        // Ids like real ones: 36-character UUID-shaped event ids, 32-digit trace ids.
        let events: Vec<_> = (0..30_000usize)
            .map(|i| {
                let mut e = crate::model::event::test_event(i, "checkout", "ok", ts + i as i64);
                let r = (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
                e.event_id = format!(
                    "{:08x}-0000-4000-8000-{:012x}",
                    r >> 96,
                    r & 0xffff_ffff_ffff
                );
                e.trace_id = format!("{r:032x}");
                e
            })
            .collect();
        let batch = super::super::schema::events_to_batch(&events).unwrap();
        let (bytes, _) =
            encode_parquet(TableId::Events, &batch, "events/x.parquet".into(), 1, 1).unwrap();
        let meta = ArrowReaderMetadata::load(
            &bytes,
            ArrowReaderOptions::new().with_page_index_policy(
                datafusion::parquet::file::metadata::PageIndexPolicy::Required,
            ),
        )
        .unwrap();
        let meta = meta.metadata();
        let offsets = meta.offset_index().expect("an offset index");
        let descr = meta.file_metadata().schema_descr();
        let largest_page = |name: &str| {
            let i = (0..descr.num_columns())
                .find(|&i| descr.column(i).path().string() == name)
                .unwrap();
            let locs = offsets[0][i].page_locations();
            let rows = meta.row_group(0).num_rows();
            (0..locs.len())
                .map(|p| {
                    let end = locs.get(p + 1).map_or(rows, |l| l.first_row_index);
                    end - locs[p].first_row_index
                })
                .max()
                .unwrap()
        };
        for id in TableId::Events.bloom_columns() {
            assert!(largest_page(id) <= 1024, "{id}: {}", largest_page(id));
        }
        assert!(
            largest_page("service") >= 20_000,
            "{}",
            largest_page("service")
        );
    }

    #[tokio::test]
    async fn puts_land_in_synced_partition_directories() {
        let dir = tempfile::tempdir().unwrap();
        let cold = ColdStore::open(None, dir.path(), true, &S3Settings::default()).unwrap();
        let path =
            "events/date=2026-05-04/hour=10/00000000000000000001-00000000000000000002.parquet";
        cold.put(path, Bytes::from_static(b"PAR1")).await.unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("cold").join(path)).unwrap(),
            b"PAR1"
        );
        // The sync walks from the file's directory to the root; a path outside fails loudly.
        let root = dir.path().join("cold");
        assert!(sync_local(&root, path).is_ok());
        assert!(sync_local(&root, "events/missing.parquet").is_err());
    }
}
