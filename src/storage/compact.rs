//! Compaction of the cold tier: the small files of a closed hour partition (every flush of
//! the hour wrote one) are merged into files of up to `WAYLOG_COMPACT_TARGET_BYTES`, in the
//! table's sort order with the same row groups, bloom filters and statistics as a flush, and
//! committed as a data-change-free rewrite (`remove` + `add`, `dataChange: false`, operation
//! `OPTIMIZE`). The snapshot swap is one table update, so a query sees either the small files
//! or the merged one, each row once; the replaced files (of compaction and of retention) are
//! deleted after [`VACUUM_GRACE`] so queries still reading an older snapshot finish.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;

use super::commit::{self, NodeId};
use super::schema::TableId;
use super::table::ColdFile;
use super::{Error, Result, Storage, adapt_to_schema, cold, delta, sort_keys, sorted_rows};

/// How long a file replaced by compaction stays readable before it is deleted.
pub const VACUUM_GRACE: Duration = Duration::from_secs(10 * 60);
/// Rows of one merge at most: the same memory bound as one flush chunk.
const MERGE_MAX_ROWS: u64 = 1 << 20;
const HOUR_NS: i64 = 3_600_000_000_000;

impl Storage {
    /// Merge the small files of `t`'s closed hour partitions (the hour ended at least a hot
    /// window ago). Returns the number of files replaced.
    pub async fn compact_cold(&self, t: TableId) -> Result<usize> {
        if self.read_only {
            return Ok(0);
        }
        let Some(node) = self.node.clone() else {
            return Ok(0);
        };
        let _guard = self.maintenance.lock().await;
        let now = self.clock.now_ns();
        let window = i64::try_from(self.cfg.hot_window.as_nanos()).unwrap_or(i64::MAX);
        let closed_before = now.saturating_sub(window);
        let snap = self.table(t).snapshot();
        let groups = plan(&snap.cold, closed_before, self.cfg.compact_target_bytes);
        let mut replaced = 0;
        for group in groups {
            replaced += self.merge_group(t, &node, group, now).await?;
        }
        Ok(replaced)
    }

    /// Merge one group of files into one, commit, publish, schedule the old files' deletion.
    async fn merge_group(
        &self,
        t: TableId,
        node: &NodeId,
        group: Vec<Arc<ColdFile>>,
        now: i64,
    ) -> Result<usize> {
        let mut contents = Vec::with_capacity(group.len());
        for f in &group {
            contents.push(self.cold.get(&f.path).await?);
        }
        let first = group.iter().map(|f| f.first_seq).min().unwrap_or(0);
        let last = group.iter().map(|f| f.last_seq).max().unwrap_or(0);
        let dir = group[0].path.rsplit_once('/').map_or("", |(d, _)| d);
        let path = format!("{dir}/{first:020}-{last:020}-c{now}-{}.parquet", node.tag());
        let (bytes, merged) = tokio::task::spawn_blocking(move || {
            let mut batches: Vec<RecordBatch> = Vec::new();
            for c in contents {
                for b in cold::decode_parquet(c)? {
                    batches.push(adapt_to_schema(b, t)?);
                }
            }
            let parts: Vec<&RecordBatch> = batches.iter().collect();
            let keys = sort_keys(&parts, t)?;
            let (sorted, _) = sorted_rows(&parts, &keys, None, t)?;
            Ok::<_, Error>(cold::encode_parquet(t, &sorted, path, first, last)?)
        })
        .await
        .map_err(|e| Error::Join(e.to_string()))??;
        self.cold.put(&merged.path, bytes).await?;
        let now_ms = now / 1_000_000;
        let old: Vec<&ColdFile> = group.iter().map(|f| f.as_ref()).collect();
        let actions = commit::replace_actions(t, &old, &[&merged], false, now_ms);
        let files = {
            let mut logs = self.logs.lock().await;
            let log = logs.get_mut(&t).expect("every table has a log");
            if let Err(e) = log
                .commit(&self.cold, actions, "OPTIMIZE", None, now_ms)
                .await
            {
                if matches!(e, delta::Error::Conflict { .. }) {
                    self.cold.delete(&merged.path).await?;
                }
                return Err(Error::Delta(e));
            }
            log.cold_files()
        };
        self.table(t)
            .update(|s| s.cold = commit::republish(&s.cold, files));
        self.schedule_vacuum(group.iter().map(|f| f.path.clone()));
        Ok(group.len())
    }

    /// Delete the files at `paths` (no longer in the snapshot) after [`VACUUM_GRACE`].
    pub(super) fn schedule_vacuum(&self, paths: impl Iterator<Item = String>) {
        let now = self.clock.now_ns();
        self.schedule_vacuum_at(paths.map(|p| (now, p)));
    }

    /// Delete each file `(removed_ns, path)` once [`VACUUM_GRACE`] has passed since
    /// `removed_ns` (the clock time of its `remove` commit). At start the queue is refilled
    /// from the Delta logs' tombstones, so a restart does not forget a pending deletion.
    pub(super) fn schedule_vacuum_at(&self, files: impl Iterator<Item = (i64, String)>) {
        let grace = i64::try_from(VACUUM_GRACE.as_nanos()).unwrap_or(i64::MAX);
        let mut queue = self.vacuum.lock();
        let mut queued: std::collections::HashSet<String> =
            queue.iter().map(|(_, p)| p.clone()).collect();
        for (removed_ns, path) in files {
            if queued.insert(path.clone()) {
                queue.push((removed_ns.saturating_add(grace), path));
            }
        }
    }

    /// The files waiting for their vacuum (path, clock time it is due in ns).
    pub fn pending_vacuum(&self) -> Vec<(String, i64)> {
        self.vacuum
            .lock()
            .iter()
            .map(|(at, p)| (p.clone(), *at))
            .collect()
    }

    /// Delete the replaced files whose grace period has passed; on a failed delete the
    /// files not deleted stay queued.
    pub async fn vacuum_due(&self) -> Result<usize> {
        let now = self.clock.now_ns();
        let due: Vec<String> = {
            let mut v = self.vacuum.lock();
            let (due, keep): (Vec<_>, Vec<_>) = v.drain(..).partition(|(at, _)| *at <= now);
            *v = keep;
            due.into_iter().map(|(_, p)| p).collect()
        };
        for (i, p) in due.iter().enumerate() {
            if let Err(e) = self.cold.delete(p).await {
                // This file and the rest stay queued for the next pass (the store is down).
                let now = self.clock.now_ns();
                self.vacuum
                    .lock()
                    .extend(due[i..].iter().map(|p| (now, p.clone())));
                return Err(e.into());
            }
        }
        Ok(due.len())
    }

    /// Test hook: delete every replaced file now, grace or not.
    #[doc(hidden)]
    pub async fn vacuum_all_for_test(&self) -> Result<usize> {
        for entry in self.vacuum.lock().iter_mut() {
            entry.0 = i64::MIN;
        }
        self.vacuum_due().await
    }
}

/// The merges to make: per closed hour partition (directory), runs of at least two files
/// smaller than `target` bytes, in WAL order, each run at most `target` bytes and
/// [`MERGE_MAX_ROWS`] rows. Files of other engines (unknown bounds) are never closed.
fn plan(files: &[Arc<ColdFile>], closed_before: i64, target: u64) -> Vec<Vec<Arc<ColdFile>>> {
    let mut by_dir: BTreeMap<&str, Vec<&Arc<ColdFile>>> = BTreeMap::new();
    for f in files {
        let hour_end = f
            .max_ts
            .div_euclid(HOUR_NS)
            .saturating_add(1)
            .saturating_mul(HOUR_NS);
        if f.size < target && f.max_ts != i64::MAX && hour_end <= closed_before {
            let dir = f.path.rsplit_once('/').map_or("", |(d, _)| d);
            by_dir.entry(dir).or_default().push(f);
        }
    }
    let mut groups = Vec::new();
    for (_, mut fs) in by_dir {
        fs.sort_by_key(|f| (f.first_seq, f.last_seq));
        let mut cur: Vec<Arc<ColdFile>> = Vec::new();
        let (mut bytes, mut rows) = (0u64, 0u64);
        for f in fs {
            if !cur.is_empty() && (bytes + f.size > target || rows + f.rows > MERGE_MAX_ROWS) {
                if cur.len() > 1 {
                    groups.push(std::mem::take(&mut cur));
                }
                cur.clear();
                (bytes, rows) = (0, 0);
            }
            bytes += f.size;
            rows += f.rows;
            cur.push(f.clone());
        }
        if cur.len() > 1 {
            groups.push(cur);
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::model::event::test_event;
    use crate::storage::schema::events_to_batch;

    /// Compaction removes two small files; the restart before their grace period ends still
    /// knows them (from the log's tombstones, through a checkpoint), keeps them for readers of
    /// older snapshots and deletes them once the grace period has passed.
    #[tokio::test]
    async fn files_removed_before_a_restart_are_vacuumed_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::config::Config::for_data_dir(dir.path());
        config.wal_sync = false;
        config.hot_window = Duration::from_secs(60);
        let hour = 1_777_888_800_000_000_000i64; // 2026-05-04T10:00Z
        let clock = Arc::new(ManualClock::new(hour + 2 * HOUR_NS));
        let (storage, _) = Storage::open((&config).into(), clock.clone())
            .await
            .unwrap();
        for n in 0..2 {
            let batch = events_to_batch(&[test_event(n, "api", "ok", hour + 1_000)]).unwrap();
            storage.append(TableId::Events, batch).await.unwrap();
            storage.flush(TableId::Events).await.unwrap();
        }
        let small: Vec<String> = storage
            .table(TableId::Events)
            .snapshot()
            .cold
            .iter()
            .map(|f| f.path.clone())
            .collect();
        assert_eq!(small.len(), 2);
        assert_eq!(storage.compact_cold(TableId::Events).await.unwrap(), 2);
        // Enough commits after it for a checkpoint: the tombstones must live in it.
        {
            let mut logs = storage.logs.lock().await;
            let log = logs.get_mut(&TableId::Events).unwrap();
            log.write_checkpoint(&storage.cold, clock.now_ns() / 1_000_000)
                .await
                .unwrap();
        }
        storage.close().unwrap();
        drop(storage);
        let exists = |p: &str| dir.path().join("cold").join(p).exists();
        assert!(small.iter().all(|p| exists(p)));

        clock.advance(Duration::from_secs(60));
        let (storage, _) = Storage::open((&config).into(), clock.clone())
            .await
            .unwrap();
        let mut pending: Vec<String> = storage
            .pending_vacuum()
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        pending.sort();
        assert_eq!(pending, small, "the restart rebuilt the vacuum queue");
        assert_eq!(storage.vacuum_due().await.unwrap(), 0, "still in grace");
        assert!(small.iter().all(|p| exists(p)), "kept for older snapshots");
        clock.advance(VACUUM_GRACE);
        assert_eq!(storage.vacuum_due().await.unwrap(), 2);
        assert!(small.iter().all(|p| !exists(p)));
        assert_eq!(storage.table(TableId::Events).snapshot().cold_rows(), 2);
        storage.close().unwrap();
        drop(storage);
        // Vacuumed files are not queued again by the next start.
        let (storage, _) = Storage::open((&config).into(), clock).await.unwrap();
        assert!(storage.pending_vacuum().is_empty());
        storage.close().unwrap();
    }

    fn file(path: &str, seq: u64, size: u64, max_ts: i64) -> Arc<ColdFile> {
        Arc::new(ColdFile {
            path: path.to_string(),
            size,
            rows: 10,
            first_seq: seq,
            last_seq: seq,
            min_ts: max_ts - 1,
            max_ts,
            min_retention_ts: max_ts - 1,
            max_retention_ts: max_ts,
            schema_version: "1".into(),
        })
    }

    #[test]
    fn only_small_files_of_closed_hours_are_merged_up_to_the_target() {
        let h = HOUR_NS;
        let files = vec![
            file("events/h1/a", 1, 40, h + 5),
            file("events/h1/b", 2, 40, h + 6),
            file("events/h1/c", 3, 40, h + 7),
            file("events/h1/big", 4, 500, h + 8),
            // Hour 2 is still open at `closed_before`.
            file("events/h2/a", 5, 10, 2 * h + 1),
            file("events/h2/b", 6, 10, 2 * h + 2),
            // A lone small file: nothing to merge it with.
            file("events/h0/a", 7, 10, 5),
        ];
        let groups = plan(&files, 2 * h + 10, 100);
        let paths: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|f| f.path.as_str()).collect())
            .collect();
        // a + b fit 100 bytes; c alone is no merge; big is at the target already.
        assert_eq!(paths, vec![vec!["events/h1/a", "events/h1/b"]]);
        assert!(
            plan(&files, 3 * h, 1000)
                .iter()
                .any(|g| g.len() == 2 && g[0].path == "events/h2/a")
        );
    }
}
