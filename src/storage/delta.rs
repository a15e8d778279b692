//! The cold tier's commit log: each waylog table is a Delta Lake table at `<table>/` of the
//! cold store (protocol reader 1 / writer 2), so Spark, Trino, Polars and the `deltalake`
//! package read it with transactional consistency.
//!
//! We write the small part of the Delta protocol we need ourselves (see docs/architecture.md
//! §6 for why not `deltalake-core`):
//! - a commit is `_delta_log/<version:020>.json`, newline-delimited actions, written with a
//!   conditional create (`PutMode::Create`: `If-None-Match: *` on S3, a no-clobber link on
//!   local disk, then fsync); losing the race reads the winner's commit, checks for conflicts
//!   and retries at the next version (optimistic concurrency: several nodes append to one
//!   table);
//! - a flush commits its `add` actions (column statistics, and waylog's own exact bounds in
//!   `tags`) together with a `txn` action `{appId: <node id>, version: <flushed WAL seq>}`:
//!   restart reads the flushed sequence back from it, and a retried flush whose commit had
//!   already landed finds its `txn` and commits nothing twice;
//! - retention commits `remove` (+ `add` of rewrites);
//! - every [`CHECKPOINT_INTERVAL`] versions a classic Parquet checkpoint
//!   (`<version:020>.checkpoint.parquet` + `_last_checkpoint`) keeps snapshot loading fast.
//!
//! Files are not partitioned in the Delta sense (`partitionColumns` is empty): they keep the
//! Hive-style `date=…/hour=…` directories for humans, and the columns stay in the files.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::cold::{ColdStore, Error as ColdError};
use super::schema::{SCHEMA_VERSION, TableId};
use super::table::ColdFile;

/// A checkpoint every this many versions (Delta's default).
pub const CHECKPOINT_INTERVAL: u64 = 10;
/// How long checkpoints keep the `remove` tombstones of replaced files (Delta's default
/// `delta.deletedFileRetentionDuration`, one week): a restart within it still knows which
/// files to vacuum.
pub const TOMBSTONE_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;
/// Tag keys of waylog's exact file bounds in an `add` action.
const TAG_PREFIX: &str = "waylog.";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] ColdError),
    #[error("delta log {path}: {message}")]
    Corrupt { path: String, message: String },
    #[error("table {table}: column {column} has a type Delta cannot describe ({data_type})")]
    Schema {
        table: &'static str,
        column: String,
        data_type: String,
    },
    #[error(
        "table {table}: a concurrent commit (version {version}) removed {path}, which this commit replaces; retry"
    )]
    Conflict {
        table: &'static str,
        version: u64,
        path: String,
    },
    #[error("checkpoint")]
    Checkpoint(#[from] datafusion::arrow::error::ArrowError),
    #[error("checkpoint parquet")]
    CheckpointParquet(#[from] datafusion::parquet::errors::ParquetError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One line of a commit: exactly one field set. Unknown action kinds of other writers are
/// ignored (serde skips unknown fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Action {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    #[serde(rename = "metaData", skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add: Option<Add>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove: Option<Remove>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txn: Option<Txn>,
    #[serde(rename = "commitInfo", skip_serializing_if = "Option::is_none")]
    pub commit_info: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Protocol {
    pub min_reader_version: i32,
    pub min_writer_version: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Format {
    pub provider: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub format: Format,
    pub schema_string: String,
    #[serde(default)]
    pub partition_columns: Vec<String>,
    #[serde(default)]
    pub configuration: BTreeMap<String, String>,
    #[serde(default)]
    pub created_time: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Add {
    /// Relative to the table root (`date=…/hour=…/<name>.parquet`).
    pub path: String,
    #[serde(default)]
    pub partition_values: BTreeMap<String, Option<String>>,
    pub size: i64,
    pub modification_time: i64,
    pub data_change: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Remove {
    pub path: String,
    #[serde(default)]
    pub deletion_timestamp: Option<i64>,
    pub data_change: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Txn {
    pub app_id: String,
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<i64>,
}

/// The state of one table at one version: its live files and the applications' `txn`
/// versions.
#[derive(Debug, Clone)]
pub struct TableLog {
    pub table: TableId,
    /// `None` before the first commit.
    pub version: Option<u64>,
    /// Live files by path (relative to the table root).
    pub files: BTreeMap<String, Add>,
    /// The same files as waylog's cold file list (decoded once, when applied).
    cold: BTreeMap<String, ColdFile>,
    pub txns: HashMap<String, i64>,
    pub metadata: Option<Metadata>,
    /// Removed files (path relative to the table root -> `deletionTimestamp`, ms) that no
    /// later `add` brought back: what vacuum deletes after its grace period. Checkpoints keep
    /// them for [`TOMBSTONE_RETENTION_MS`] (Delta's tombstones), so they survive a restart.
    pub tombstones: BTreeMap<String, i64>,
}

/// What [`TableLog::commit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// The actions are the table's version `n`.
    Version(u64),
    /// The log already holds this application's `txn` at or past the version committed (a
    /// retried flush whose earlier commit landed): nothing was written.
    AlreadyCommitted,
}

impl TableLog {
    fn empty(table: TableId) -> TableLog {
        TableLog {
            table,
            version: None,
            files: BTreeMap::new(),
            cold: BTreeMap::new(),
            txns: HashMap::new(),
            metadata: None,
            tombstones: BTreeMap::new(),
        }
    }

    /// `<table>/_delta_log`
    fn log_dir(table: TableId) -> String {
        format!("{}/_delta_log", table.name())
    }

    fn commit_path(table: TableId, version: u64) -> String {
        format!("{}/{version:020}.json", Self::log_dir(table))
    }

    /// Load the newest version: the last checkpoint (if any) and the commits after it (listed
    /// from the checkpoint on, so loading does not grow with the table's history).
    pub async fn load(store: &ColdStore, table: TableId) -> Result<TableLog> {
        let mut log = TableLog::empty(table);
        let dir = Self::log_dir(table);
        let last_path = format!("{dir}/_last_checkpoint");
        if let Some(bytes) = store.get_opt(&last_path).await? {
            let last: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                path: last_path.clone(),
                message: e.to_string(),
            })?;
            if let Some(v) = last["version"].as_u64() {
                let cp = format!("{dir}/{v:020}.checkpoint.parquet");
                let actions = read_checkpoint(store.get(&cp).await?, &cp)?;
                log.apply(&actions);
                log.version = Some(v);
            }
        }
        let metas = match log.version {
            Some(v) => store.list_after(&dir, &Self::commit_path(table, v)).await?,
            None => store.list(&dir).await?,
        };
        let mut commits: Vec<u64> = metas
            .iter()
            .filter_map(|m| m.location.filename()?.strip_suffix(".json")?.parse().ok())
            .collect();
        commits.sort_unstable();
        for v in commits {
            if log.version.is_some_and(|cur| v <= cur) {
                continue;
            }
            if log.version.map_or(v != 0, |cur| v != cur + 1) {
                return Err(Error::Corrupt {
                    path: Self::commit_path(table, v),
                    message: format!("version {v} follows {:?}: a commit is missing", log.version),
                });
            }
            let actions = read_commit(store, table, v).await?;
            log.apply(&actions);
            log.version = Some(v);
        }
        Ok(log)
    }

    /// Apply one version's actions.
    pub fn apply(&mut self, actions: &[Action]) {
        for a in actions {
            if let Some(add) = &a.add {
                self.tombstones.remove(&add.path);
                self.files.insert(add.path.clone(), add.clone());
                match cold_file_of(self.table, add) {
                    Some(f) => self.cold.insert(add.path.clone(), f),
                    None => self.cold.remove(&add.path),
                };
            }
            if let Some(r) = &a.remove {
                self.files.remove(&r.path);
                self.cold.remove(&r.path);
                self.tombstones
                    .insert(r.path.clone(), r.deletion_timestamp.unwrap_or(0));
            }
            if let Some(t) = &a.txn {
                self.txns.insert(t.app_id.clone(), t.version);
            }
            if let Some(m) = &a.metadata {
                self.metadata = Some(m.clone());
            }
        }
    }

    /// The `txn` version of `app_id` (0 when it never committed).
    pub fn txn_version(&self, app_id: &str) -> u64 {
        self.txns
            .get(app_id)
            .map_or(0, |v| u64::try_from(*v).unwrap_or(0))
    }

    /// The live files as waylog's cold file list (paths relative to the store root).
    pub fn cold_files(&self) -> Vec<ColdFile> {
        self.cold.values().cloned().collect()
    }

    /// Create the table (version 0: protocol and metadata, plus `extra`) if it has no commit
    /// yet, or commit new metadata when the schema changed. Another node creating it at the same
    /// time is fine: the loser reads the winner's version 0.
    pub async fn ensure_created(
        &mut self,
        store: &ColdStore,
        extra: Vec<Action>,
        now_ms: i64,
    ) -> Result<()> {
        let schema_string = delta_schema_string(self.table)?;
        let current = self.metadata.as_ref().map(|m| m.schema_string.as_str());
        if current == Some(schema_string.as_str()) && extra.is_empty() {
            return Ok(());
        }
        let mut actions = Vec::new();
        if self.version.is_none() {
            actions.push(Action {
                protocol: Some(Protocol {
                    min_reader_version: 1,
                    min_writer_version: 2,
                }),
                ..Action::default()
            });
        }
        if current != Some(schema_string.as_str()) {
            let id = self
                .metadata
                .as_ref()
                .map_or_else(new_table_id, |m| m.id.clone());
            actions.push(Action {
                metadata: Some(Metadata {
                    id,
                    name: Some(self.table.name().to_string()),
                    format: Format {
                        provider: "parquet".into(),
                        options: BTreeMap::new(),
                    },
                    schema_string,
                    partition_columns: Vec::new(),
                    configuration: BTreeMap::new(),
                    created_time: Some(now_ms),
                }),
                ..Action::default()
            });
        }
        actions.extend(extra);
        let op = if self.version.is_none() {
            "CREATE TABLE"
        } else {
            "SET TBLPROPERTIES"
        };
        self.commit(store, actions, op, None, now_ms).await?;
        Ok(())
    }

    /// Commit `actions` as the next version. Losing a race reads the winning commit(s) and
    /// retries at the next version; a winner that removed a file this commit removes is a
    /// conflict. With `txn = Some((app, v))`, a log whose `app` is already at `v` or later means
    /// the work is in: nothing is written ([`Committed::AlreadyCommitted`]).
    pub async fn commit(
        &mut self,
        store: &ColdStore,
        mut actions: Vec<Action>,
        operation: &str,
        txn: Option<(&str, u64)>,
        now_ms: i64,
    ) -> Result<Committed> {
        actions.push(Action {
            commit_info: Some(json!({
                "timestamp": now_ms,
                "operation": operation,
                "engineInfo": concat!("waylog/", env!("CARGO_PKG_VERSION")),
            })),
            ..Action::default()
        });
        let removing: Vec<&str> = actions
            .iter()
            .filter_map(|a| a.remove.as_ref().map(|r| r.path.as_str()))
            .collect();
        let body = encode_commit(&actions);
        loop {
            if let Some((app, v)) = txn
                && self.txn_version(app) >= v
            {
                return Ok(Committed::AlreadyCommitted);
            }
            let version = self.version.map_or(0, |v| v + 1);
            let path = Self::commit_path(self.table, version);
            // failpoint: before the Delta commit (the Parquet files are durable, unlisted).
            if store.put_if_absent(&path, body.clone()).await? {
                self.apply(&actions);
                self.version = Some(version);
                // failpoint: after the Delta commit (durable; WAL segments not yet deleted).
                if version > 0 && version.is_multiple_of(CHECKPOINT_INTERVAL) {
                    self.write_checkpoint_logged(store, now_ms).await;
                }
                return Ok(Committed::Version(version));
            }
            // Another writer has this version: catch up, then try the next one.
            let theirs = read_commit(store, self.table, version).await?;
            for a in &theirs {
                if let Some(r) = &a.remove
                    && removing.contains(&r.path.as_str())
                {
                    self.apply(&theirs);
                    self.version = Some(version);
                    return Err(Error::Conflict {
                        table: self.table.name(),
                        version,
                        path: r.path.clone(),
                    });
                }
            }
            self.apply(&theirs);
            self.version = Some(version);
        }
    }

    /// Read commits newer than the loaded version (other writers' appends).
    pub async fn refresh(&mut self, store: &ColdStore) -> Result<bool> {
        let mut changed = false;
        loop {
            let next = self.version.map_or(0, |v| v + 1);
            let path = Self::commit_path(self.table, next);
            match store.get_opt(&path).await? {
                None => return Ok(changed),
                Some(bytes) => {
                    let actions = parse_commit(&bytes, &path)?;
                    self.apply(&actions);
                    self.version = Some(next);
                    changed = true;
                }
            }
        }
    }

    /// [`TableLog::write_checkpoint`], a failure only logged: the commits stay the truth.
    async fn write_checkpoint_logged(&mut self, store: &ColdStore, now_ms: i64) {
        if let Err(e) = self.write_checkpoint(store, now_ms).await {
            tracing::warn!(table = self.table.name(), error = %super::error_chain(&e),
                "delta checkpoint failed; snapshot loading reads the commits instead");
        }
    }

    /// Write the classic Parquet checkpoint of the current version and point
    /// `_last_checkpoint` at it. Tombstones older than [`TOMBSTONE_RETENTION_MS`] at `now_ms`
    /// are dropped (from the checkpoint and from memory).
    pub async fn write_checkpoint(&mut self, store: &ColdStore, now_ms: i64) -> Result<()> {
        let Some(version) = self.version else {
            return Ok(());
        };
        let horizon = now_ms.saturating_sub(TOMBSTONE_RETENTION_MS);
        self.tombstones.retain(|_, at| *at >= horizon);
        let mut actions = vec![Action {
            protocol: Some(Protocol {
                min_reader_version: 1,
                min_writer_version: 2,
            }),
            ..Action::default()
        }];
        if let Some(m) = &self.metadata {
            actions.push(Action {
                metadata: Some(m.clone()),
                ..Action::default()
            });
        }
        let mut txns: Vec<_> = self.txns.iter().collect();
        txns.sort();
        actions.extend(txns.into_iter().map(|(app, v)| Action {
            txn: Some(Txn {
                app_id: app.clone(),
                version: *v,
                last_updated: None,
            }),
            ..Action::default()
        }));
        actions.extend(self.files.values().map(|a| Action {
            add: Some(a.clone()),
            ..Action::default()
        }));
        actions.extend(self.tombstones.iter().map(|(path, at)| Action {
            remove: Some(Remove {
                path: path.clone(),
                deletion_timestamp: Some(*at),
                data_change: false,
                size: None,
            }),
            ..Action::default()
        }));
        let size = actions.len();
        let bytes = encode_checkpoint(&actions)?;
        let dir = Self::log_dir(self.table);
        store
            .put(&format!("{dir}/{version:020}.checkpoint.parquet"), bytes)
            .await?;
        let last = serde_json::to_vec(&json!({"version": version, "size": size}))
            .expect("json serializes");
        store
            .put(&format!("{dir}/_last_checkpoint"), Bytes::from(last))
            .await?;
        Ok(())
    }
}

fn new_table_id() -> String {
    let r: u128 = rand::random();
    let h = format!("{r:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn encode_commit(actions: &[Action]) -> Bytes {
    let mut out = Vec::new();
    for a in actions {
        serde_json::to_writer(&mut out, a).expect("actions serialize");
        out.push(b'\n');
    }
    Bytes::from(out)
}

fn parse_commit(bytes: &[u8], path: &str) -> Result<Vec<Action>> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Corrupt {
        path: path.to_string(),
        message: e.to_string(),
    })?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Action>(l).map_err(|e| Error::Corrupt {
                path: path.to_string(),
                message: e.to_string(),
            })
        })
        .collect()
}

async fn read_commit(store: &ColdStore, table: TableId, version: u64) -> Result<Vec<Action>> {
    let path = TableLog::commit_path(table, version);
    let bytes = store.get(&path).await?;
    parse_commit(&bytes, &path)
}

// ---------------------------------------------------------------------------------------------
// Files <-> add actions.

/// The `add` action of a file waylog wrote: Delta statistics of the time and retention
/// columns (exact nanoseconds: they are `long` columns, see [`delta_type`]) and the
/// exact nanosecond bounds and WAL range in `tags`.
pub fn add_of(file: &ColdFile, table: TableId, data_change: bool, now_ms: i64) -> Add {
    let mut min_values = serde_json::Map::new();
    let mut max_values = serde_json::Map::new();
    let mut null_count = serde_json::Map::new();
    for (col, lo, hi) in [
        (table.time_column(), file.min_ts, file.max_ts),
        (
            table.retention_column(),
            file.min_retention_ts,
            file.max_retention_ts,
        ),
    ] {
        min_values.insert(col.into(), json!(lo));
        max_values.insert(col.into(), json!(hi));
        null_count.insert(col.into(), json!(0));
    }
    let stats = json!({
        "numRecords": file.rows,
        "minValues": min_values,
        "maxValues": max_values,
        "nullCount": null_count,
    });
    let tag = |k: &str, v: String| (format!("{TAG_PREFIX}{k}"), Some(v));
    let tags = BTreeMap::from([
        tag("first_seq", file.first_seq.to_string()),
        tag("last_seq", file.last_seq.to_string()),
        tag("min_ts", file.min_ts.to_string()),
        tag("max_ts", file.max_ts.to_string()),
        tag("min_retention_ts", file.min_retention_ts.to_string()),
        tag("max_retention_ts", file.max_retention_ts.to_string()),
        tag("schema_version", file.schema_version.clone()),
    ]);
    Add {
        path: table_relative(table, &file.path).to_string(),
        partition_values: BTreeMap::new(),
        size: i64::try_from(file.size).unwrap_or(i64::MAX),
        modification_time: now_ms,
        data_change,
        stats: Some(stats.to_string()),
        tags: Some(tags),
    }
}

/// The `remove` action of a live file.
pub fn remove_of(file: &ColdFile, table: TableId, data_change: bool, now_ms: i64) -> Remove {
    Remove {
        path: table_relative(table, &file.path).to_string(),
        deletion_timestamp: Some(now_ms),
        data_change,
        size: i64::try_from(file.size).ok(),
    }
}

/// `events/date=…/x.parquet` -> `date=…/x.parquet`.
fn table_relative(table: TableId, path: &str) -> &str {
    path.strip_prefix(table.name())
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or(path)
}

/// Waylog's view of an `add`: exact bounds from our tags; a file another engine wrote (no
/// tags) gets its row count from the statistics and bounds that never prune it. Absolute
/// paths (another store) are skipped.
fn cold_file_of(table: TableId, add: &Add) -> Option<ColdFile> {
    if add.path.contains("://") || add.path.starts_with('/') {
        return None;
    }
    let path = percent_encoding::percent_decode_str(&add.path)
        .decode_utf8()
        .ok()?
        .into_owned();
    let tags = add.tags.clone().unwrap_or_default();
    let tag = |k: &str| -> Option<&str> {
        tags.get(&format!("{TAG_PREFIX}{k}"))
            .and_then(|v| v.as_deref())
    };
    let num = |k: &str, default: i64| tag(k).and_then(|v| v.parse().ok()).unwrap_or(default);
    let rows = add
        .stats
        .as_deref()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|s| s["numRecords"].as_u64())
        .unwrap_or(0);
    Some(ColdFile {
        path: format!("{}/{path}", table.name()),
        size: u64::try_from(add.size).unwrap_or(0),
        rows,
        first_seq: u64::try_from(num("first_seq", 0)).unwrap_or(0),
        last_seq: u64::try_from(num("last_seq", 0)).unwrap_or(0),
        min_ts: num("min_ts", i64::MIN),
        max_ts: num("max_ts", i64::MAX),
        min_retention_ts: num("min_retention_ts", i64::MIN),
        max_retention_ts: num("max_retention_ts", i64::MAX),
        schema_version: tag("schema_version").unwrap_or(SCHEMA_VERSION).to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// Schema.

/// The table's Arrow schema as a Delta `schemaString`.
pub fn delta_schema_string(table: TableId) -> Result<String> {
    let schema = table.schema();
    let fields = struct_fields(table, schema.fields())?;
    Ok(json!({"type": "struct", "fields": fields}).to_string())
}

fn struct_fields(table: TableId, fields: &Fields) -> Result<Vec<Value>> {
    fields
        .iter()
        .map(|f| {
            Ok(json!({
                "name": f.name(),
                "type": delta_type(table, f.name(), f.data_type())?,
                "nullable": f.is_nullable(),
                "metadata": {},
            }))
        })
        .collect()
}

/// Delta's name of an Arrow type. Timestamps are `long`: nanoseconds since the Unix epoch,
/// UTC, stored as plain Parquet `INT64` (see `cold::plain_timestamps`; Delta's `timestamp` is
/// microseconds, and Spark refuses nanosecond Parquet timestamps). Unsigned 64-bit counters
/// (versions, revisions) are `long` too.
fn delta_type(table: TableId, column: &str, t: &DataType) -> Result<Value> {
    Ok(match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => json!("string"),
        DataType::Int64 | DataType::UInt64 | DataType::UInt32 => json!("long"),
        DataType::Int32 | DataType::UInt16 => json!("integer"),
        DataType::Int16 | DataType::UInt8 => json!("short"),
        DataType::Int8 => json!("byte"),
        DataType::Float64 => json!("double"),
        DataType::Float32 => json!("float"),
        DataType::Boolean => json!("boolean"),
        DataType::Binary | DataType::LargeBinary => json!("binary"),
        DataType::Date32 => json!("date"),
        DataType::Timestamp(_, _) => json!("long"),
        DataType::Struct(fields) => {
            json!({"type": "struct", "fields": struct_fields(table, fields)?})
        }
        DataType::List(item) | DataType::LargeList(item) => json!({
            "type": "array",
            "elementType": delta_type(table, column, item.data_type())?,
            "containsNull": item.is_nullable(),
        }),
        other => {
            return Err(Error::Schema {
                table: table.name(),
                column: column.to_string(),
                data_type: other.to_string(),
            });
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Checkpoints.

fn string_map(name: &str) -> Field {
    let entries = Field::new(
        "key_value",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, true),
        ])),
        false,
    );
    Field::new(name, DataType::Map(Arc::new(entries), false), true)
}

/// The classic checkpoint schema (the actions we write; readers ignore absent columns).
fn checkpoint_schema() -> SchemaRef {
    let s = |n: &str, nullable| Field::new(n, DataType::Utf8, nullable);
    let l = |n: &str, nullable| Field::new(n, DataType::Int64, nullable);
    let st = |n: &str, f: Vec<Field>| Field::new(n, DataType::Struct(Fields::from(f)), true);
    Arc::new(Schema::new(vec![
        st(
            "txn",
            vec![s("appId", true), l("version", true), l("lastUpdated", true)],
        ),
        st(
            "add",
            vec![
                s("path", true),
                string_map("partitionValues"),
                l("size", true),
                l("modificationTime", true),
                Field::new("dataChange", DataType::Boolean, true),
                s("stats", true),
                string_map("tags"),
            ],
        ),
        st(
            "remove",
            vec![
                s("path", true),
                l("deletionTimestamp", true),
                Field::new("dataChange", DataType::Boolean, true),
                l("size", true),
            ],
        ),
        st(
            "metaData",
            vec![
                s("id", true),
                s("name", true),
                s("description", true),
                st("format", vec![s("provider", true), string_map("options")]),
                s("schemaString", true),
                Field::new(
                    "partitionColumns",
                    DataType::List(Arc::new(Field::new("element", DataType::Utf8, true))),
                    true,
                ),
                string_map("configuration"),
                l("createdTime", true),
            ],
        ),
        st(
            "protocol",
            vec![
                Field::new("minReaderVersion", DataType::Int32, true),
                Field::new("minWriterVersion", DataType::Int32, true),
            ],
        ),
    ]))
}

/// Encode actions as a checkpoint Parquet file (one row per action).
fn encode_checkpoint(actions: &[Action]) -> Result<Bytes> {
    use datafusion::arrow::json::ReaderBuilder;
    use datafusion::parquet::arrow::ArrowWriter;
    let schema = checkpoint_schema();
    let json = encode_commit(actions);
    let reader = ReaderBuilder::new(schema.clone())
        .with_batch_size(8192)
        .build(std::io::Cursor::new(json))?;
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, schema, None)?;
    for batch in reader {
        writer.write(&batch?)?;
    }
    writer.close()?;
    Ok(Bytes::from(buf))
}

/// Decode a checkpoint Parquet file (ours or another writer's) into actions.
fn read_checkpoint(bytes: Bytes, path: &str) -> Result<Vec<Action>> {
    use datafusion::arrow::json::LineDelimitedWriter;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?
        .with_batch_size(8192)
        .build()?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch?;
        let mut json = Vec::new();
        {
            let mut w = LineDelimitedWriter::new(&mut json);
            w.write(&batch)?;
            w.finish()?;
        }
        out.extend(parse_commit(&json, path)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cold_store::S3Settings;

    fn file(path: &str, seq: u64) -> ColdFile {
        ColdFile {
            path: path.to_string(),
            size: 100,
            rows: 7,
            first_seq: seq,
            last_seq: seq,
            min_ts: 1_777_888_800_000_000_001,
            max_ts: 1_777_888_800_123_456_789,
            min_retention_ts: 1_777_888_800_000_000_001,
            max_retention_ts: 1_777_888_801_000_000_000,
            schema_version: SCHEMA_VERSION.to_string(),
        }
    }

    fn add(f: &ColdFile) -> Action {
        Action {
            add: Some(add_of(f, TableId::Events, true, 1)),
            ..Action::default()
        }
    }

    #[test]
    fn add_actions_round_trip_to_the_same_cold_file() {
        let f = file("events/date=2026-05-04/hour=10/a.parquet", 3);
        let a = add_of(&f, TableId::Events, true, 1);
        assert_eq!(a.path, "date=2026-05-04/hour=10/a.parquet");
        assert_eq!(cold_file_of(TableId::Events, &a), Some(f));
        let stats: Value = serde_json::from_str(a.stats.as_deref().unwrap()).unwrap();
        assert_eq!(stats["numRecords"], json!(7));
        // Exact nanosecond bounds of the `long` time column.
        assert_eq!(
            stats["minValues"]["ts_start"],
            json!(1_777_888_800_000_000_001i64)
        );
        assert_eq!(
            stats["maxValues"]["ts_start"],
            json!(1_777_888_800_123_456_789i64)
        );
    }

    #[test]
    fn every_table_schema_has_a_delta_schema() {
        for t in TableId::ALL {
            let s: Value = serde_json::from_str(&delta_schema_string(t).unwrap()).unwrap();
            assert_eq!(s["type"], json!("struct"));
            assert_eq!(
                s["fields"].as_array().unwrap().len(),
                t.schema().fields().len()
            );
        }
    }

    #[tokio::test]
    async fn commits_race_checkpoint_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let store = ColdStore::open(None, dir.path(), true, &S3Settings::default()).unwrap();
        let mut a = TableLog::load(&store, TableId::Events).await.unwrap();
        a.ensure_created(&store, Vec::new(), 1).await.unwrap();
        assert_eq!(a.version, Some(0));
        // A second writer with a stale view appends: it catches up and takes version 1 + n.
        let mut b = TableLog::load(&store, TableId::Events).await.unwrap();
        for i in 0..CHECKPOINT_INTERVAL {
            let f = file(
                &format!("events/date=2026-05-04/hour=10/a{i}.parquet"),
                i + 1,
            );
            let v = a
                .commit(&store, vec![add(&f)], "WRITE", Some(("a", i + 1)), 1)
                .await
                .unwrap();
            assert_eq!(v, Committed::Version(i + 1));
        }
        let fb = file("events/date=2026-05-04/hour=10/b.parquet", 1);
        let txn_b = Action {
            txn: Some(Txn {
                app_id: "b".into(),
                version: 1,
                last_updated: None,
            }),
            ..Action::default()
        };
        let v = b
            .commit(&store, vec![add(&fb), txn_b], "WRITE", Some(("b", 1)), 1)
            .await
            .unwrap();
        assert_eq!(v, Committed::Version(CHECKPOINT_INTERVAL + 1));
        assert_eq!(
            b.files.len() as u64,
            CHECKPOINT_INTERVAL + 1,
            "nothing lost"
        );
        // The same txn again: already in, nothing written.
        let again = b
            .commit(&store, vec![add(&fb)], "WRITE", Some(("b", 1)), 1)
            .await
            .unwrap();
        assert_eq!(again, Committed::AlreadyCommitted);
        // Version 10 wrote a checkpoint; a fresh load starts there and reads version 11.
        assert!(
            dir.path()
                .join("cold/events/_delta_log/00000000000000000010.checkpoint.parquet")
                .exists()
        );
        let loaded = TableLog::load(&store, TableId::Events).await.unwrap();
        assert_eq!(loaded.version, b.version);
        assert_eq!(loaded.files, b.files);
        assert_eq!(loaded.txn_version("b"), 1);
        assert_eq!(loaded.metadata, b.metadata);
        // A retention commit racing another writer's removal of the same file conflicts.
        let gone = file("events/date=2026-05-04/hour=10/a0.parquet", 1);
        let rm = |f: &ColdFile| Action {
            remove: Some(remove_of(f, TableId::Events, true, 1)),
            ..Action::default()
        };
        let mut stale = loaded.clone();
        b.commit(&store, vec![rm(&gone)], "DELETE", None, 1)
            .await
            .unwrap();
        assert!(matches!(
            stale
                .commit(&store, vec![rm(&gone)], "DELETE", None, 1)
                .await,
            Err(Error::Conflict { .. })
        ));
    }
}
