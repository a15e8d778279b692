//! The storage engine's side of the Delta logs ([`super::delta`]): this node's identity,
//! opening every table's log at start (creation, migration of a pre-Delta manifest store,
//! cleanup of this node's unreferenced files) and the actions a flush commits.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use super::cold::ColdStore;
use super::delta::{self, Action, TableLog, Txn};
use super::schema::TableId;
use super::table::ColdFile;
use super::{Error, Result};

/// File holding the node id under the data directory.
const NODE_ID_FILE: &str = "node_id";

/// This node's identity in a shared cold store: the `txn` app id of its flushes
/// (`waylog-<id>`) and the tag of every file it writes (`…-<id>.parquet`), so that orphan
/// cleanup only ever deletes its own files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeId(String);

impl NodeId {
    /// The id stored in `data_dir` (made and fsynced on first start when `create`); `None`
    /// when there is none and `create` is false.
    pub fn load(data_dir: &Path, create: bool) -> Result<Option<NodeId>> {
        let path = data_dir.join(NODE_ID_FILE);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(s) if is_node_id(s.trim()) => return Ok(Some(NodeId(s.trim().to_string()))),
            Ok(s) => {
                return Err(io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("expected 16 hex digits, found {:?}", s.trim()),
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        }
        let id = format!("{:016x}", rand::random::<u64>());
        let tmp = data_dir.join(format!("{NODE_ID_FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            std::fs::write(&tmp, format!("{id}\n"))?;
            crate::wal::sync_file(&std::fs::File::open(&tmp)?, &tmp)?;
            std::fs::rename(&tmp, &path)?;
            crate::wal::sync_dir(data_dir)
        };
        write().map_err(io)?;
        Ok(Some(NodeId(id)))
    }

    /// The `txn` application id of this node's flushes.
    pub fn app_id(&self) -> String {
        format!("waylog-{}", self.0)
    }

    /// The file-name tag (`…-<id>.parquet`).
    pub fn tag(&self) -> &str {
        &self.0
    }

    /// Whether the file at `path` was written by this node.
    pub fn wrote(&self, path: &str) -> bool {
        path.strip_suffix(".parquet")
            .is_some_and(|stem| stem.ends_with(&format!("-{}", self.0)))
    }
}

fn is_node_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every table's Delta log at its newest version (empty logs for tables not created yet).
pub async fn load_logs(cold: &ColdStore) -> Result<BTreeMap<TableId, TableLog>> {
    let mut logs = BTreeMap::new();
    for t in TableId::ALL {
        logs.insert(t, TableLog::load(cold, t).await.map_err(Error::Delta)?);
    }
    Ok(logs)
}

/// The cold tier opened for writing ([`open_logs`]).
pub struct OpenedLogs {
    pub logs: BTreeMap<TableId, TableLog>,
    /// What to report (migration, orphans removed).
    pub problems: Vec<String>,
    /// Files the logs removed (tombstones) that are still in the store: `(deletionTimestamp
    /// in ms, path relative to the store root)`, for the vacuum after its grace period.
    pub pending_vacuum: Vec<(i64, String)>,
}

/// Open the cold tier for writing: migrate a pre-Delta manifest store, create missing
/// tables, remove this node's files that no commit references (removed files whose
/// tombstone is still in the log are left to the vacuum instead, and returned).
pub async fn open_logs(cold: &ColdStore, node: &NodeId, now_ms: i64) -> Result<OpenedLogs> {
    let mut logs = load_logs(cold).await?;
    let mut problems = migrate_manifest(cold, &mut logs, node, now_ms).await?;
    for log in logs.values_mut() {
        log.ensure_created(cold, Vec::new(), now_ms)
            .await
            .map_err(Error::Delta)?;
    }
    let mut pending_vacuum = Vec::new();
    for (t, log) in &logs {
        let swept = sweep_table(cold, *t, log, node).await?;
        for path in swept.orphans_removed {
            problems.push(format!(
                "{path}: cold file of this node that no Delta commit references (an interrupted flush) removed"
            ));
        }
        pending_vacuum.extend(swept.tombstoned);
    }
    Ok(OpenedLogs {
        logs,
        problems,
        pending_vacuum,
    })
}

/// A store still in the pre-Delta format (`_waylog/manifest/<n>.json`): each table not yet
/// migrated gets a version 0 with its listed files and a `txn` at its flushed sequence; then
/// the manifest objects are deleted. Idempotent: a crash midway redoes only the tables left.
async fn migrate_manifest(
    cold: &ColdStore,
    logs: &mut BTreeMap<TableId, TableLog>,
    node: &NodeId,
    now_ms: i64,
) -> Result<Vec<String>> {
    let versions = cold.manifest_versions().await?;
    if versions.is_empty() {
        return Ok(Vec::new());
    }
    let (manifest, mut problems) = cold.load_manifest_reporting().await?;
    let app = node.app_id();
    for (t, log) in logs.iter_mut().filter(|(_, l)| l.version.is_none()) {
        let tm = manifest.table(*t);
        // As before the migration: unlisted files of an interrupted flush go (unless a
        // corrupt newest manifest was skipped: they may be its files).
        if problems.is_empty() {
            let listed: Vec<String> = tm.files.iter().map(|f| f.path.clone()).collect();
            for path in cold.remove_orphans(t.name(), &listed).await? {
                problems.push(format!(
                    "{path}: unlisted cold file from an interrupted flush removed"
                ));
            }
        }
        let mut extra: Vec<Action> = tm
            .files
            .iter()
            .map(|f| Action {
                add: Some(delta::add_of(f, *t, true, now_ms)),
                ..Action::default()
            })
            .collect();
        extra.push(txn_action(&app, tm.flushed_seq, now_ms));
        log.ensure_created(cold, extra, now_ms)
            .await
            .map_err(Error::Delta)?;
    }
    for (_, path) in &versions {
        cold.delete(path).await?;
    }
    problems.push(format!(
        "cold store migrated from the waylog manifest (version {}) to Delta Lake tables",
        manifest.version
    ));
    Ok(problems)
}

/// What [`sweep_table`] found in one table's directory.
struct Swept {
    /// This node's unreferenced files, deleted.
    orphans_removed: Vec<String>,
    /// Files of removed (tombstoned) paths still present: `(deletionTimestamp ms, path)`.
    tombstoned: Vec<(i64, String)>,
}

/// List `table`'s files once: delete the ones this node wrote that the log neither references
/// nor removed (a flush or rewrite that died before its commit), and return the removed ones
/// still present (their vacuum is due after the grace period, whoever removed them). Other
/// nodes' unreferenced files are never touched.
async fn sweep_table(
    cold: &ColdStore,
    table: TableId,
    log: &TableLog,
    node: &NodeId,
) -> Result<Swept> {
    let live: HashSet<String> = log.cold_files().into_iter().map(|f| f.path).collect();
    let prefix = format!("{}/", table.name());
    let log_dir = format!("{prefix}_delta_log/");
    let mut swept = Swept {
        orphans_removed: Vec::new(),
        tombstoned: Vec::new(),
    };
    for m in cold.list(table.name()).await? {
        let path = m.location.to_string();
        if path.starts_with(&log_dir) || live.contains(&path) {
            continue;
        }
        let relative = path.strip_prefix(&prefix).unwrap_or(&path);
        if let Some(at) = log.tombstones.get(relative) {
            swept.tombstoned.push((*at, path));
        } else if node.wrote(&path) {
            cold.delete(&path).await?;
            swept.orphans_removed.push(path);
        }
    }
    Ok(swept)
}

/// The `txn` action recording that `app` flushed through WAL sequence `seq`.
pub fn txn_action(app: &str, seq: u64, now_ms: i64) -> Action {
    Action {
        txn: Some(Txn {
            app_id: app.to_string(),
            version: i64::try_from(seq).unwrap_or(i64::MAX),
            last_updated: Some(now_ms),
        }),
        ..Action::default()
    }
}

/// The actions of one flush: an `add` per file, and this node's `txn` at `last_seq`.
pub fn flush_actions(
    t: TableId,
    files: &[ColdFile],
    app: &str,
    last_seq: u64,
    now_ms: i64,
) -> Vec<Action> {
    let mut actions: Vec<Action> = files
        .iter()
        .map(|f| Action {
            add: Some(delta::add_of(f, t, true, now_ms)),
            ..Action::default()
        })
        .collect();
    actions.push(txn_action(app, last_seq, now_ms));
    actions
}

/// The actions replacing `old` files by `new` ones (`data_change` false for a rewrite that
/// keeps every row, e.g. compaction).
pub fn replace_actions(
    t: TableId,
    old: &[&ColdFile],
    new: &[&ColdFile],
    data_change: bool,
    now_ms: i64,
) -> Vec<Action> {
    let removes = old.iter().map(|f| Action {
        remove: Some(delta::remove_of(f, t, data_change, now_ms)),
        ..Action::default()
    });
    let adds = new.iter().map(|f| Action {
        add: Some(delta::add_of(f, t, data_change, now_ms)),
        ..Action::default()
    });
    removes.chain(adds).collect()
}

/// The new cold list `files`, reusing the `Arc` of every file `current` already holds (the
/// caches above key on them).
pub fn republish(
    current: &[std::sync::Arc<ColdFile>],
    files: Vec<ColdFile>,
) -> Vec<std::sync::Arc<ColdFile>> {
    let by_path: std::collections::HashMap<&str, &std::sync::Arc<ColdFile>> =
        current.iter().map(|f| (f.path.as_str(), f)).collect();
    files
        .into_iter()
        .map(|f| match by_path.get(f.path.as_str()) {
            Some(existing) if ***existing == f => (*existing).clone(),
            _ => std::sync::Arc::new(f),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_id_is_made_once_and_tags_its_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(NodeId::load(dir.path(), false).unwrap(), None);
        let id = NodeId::load(dir.path(), true).unwrap().unwrap();
        assert_eq!(NodeId::load(dir.path(), true).unwrap(), Some(id.clone()));
        let mine = format!("events/date=2026-05-04/hour=10/1-2-{}.parquet", id.tag());
        assert!(id.wrote(&mine));
        assert!(!id.wrote("events/date=2026-05-04/hour=10/1-2-0123456789abcdef.parquet"));
        assert!(!id.wrote("events/date=2026-05-04/hour=10/1-2.parquet"));
        std::fs::write(dir.path().join(NODE_ID_FILE), "junk").unwrap();
        assert!(NodeId::load(dir.path(), true).is_err());
    }
}
