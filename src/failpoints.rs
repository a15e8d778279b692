//! Named crash points for the fault-injection tests (cargo feature `failpoints`; issue 14).
//!
//! A site calls [`fire`] with its point's name and the data directory (or a path under it)
//! it works on, and when that returns true behaves as if the process had died right there:
//! it stops the operation and returns an error without any clean-up a crash would not do.
//! A test [`arm`]s a point for one data directory (so tests running in parallel in the same
//! binary do not trip each other), makes the operation run, drops the storage without closing
//! it, reopens the directory and checks what survived.
//!
//! Points are named by role, not by the code that happens to sit there, so they carry over
//! when the cold tier's commit changes (a manifest file today, a table-format commit later):
//! - [`AFTER_PARQUET_WRITE`]: a flush wrote its Parquet files, nothing else;
//! - [`AFTER_ID_LOG`]: … and the dedup id log of the flushed rows;
//! - [`AFTER_COLD_COMMIT`]: … and committed the cold tier (the manifest), before the snapshot
//!   swap and the WAL deletion;
//! - [`BEFORE_WAL_DELETE`]: the flush is committed and swapped, no WAL segment deleted yet;
//! - [`AFTER_WAL_DELETE`]: the flushed WAL segments are deleted;
//! - [`WAL_SHORT_WRITE`]: a WAL group write stopped halfway (the bytes that reached the
//!   file stay, as after a crash mid-write);
//! - [`WAL_FSYNC_ERROR`]: the WAL group was written and its fsync failed.
//!
//! Without the feature [`fire`] is a constant `false` the compiler removes.
//!
//! The same feature carries the power-loss model ([`power`]): every fsync of the data
//! directory goes through `wal::sync_file` / `wal::sync_dir`, which report it here
//! ([`synced_file`], [`synced_dir`]; no-ops without the feature). A tracked directory
//! remembers, per file (by inode), its content at its last fsync and, per directory, its
//! entries at its last fsync; [`power::lose_power`] rewrites the directory to exactly that:
//! file data and directory entries that were never fsynced are gone.

use std::path::Path;

pub const AFTER_PARQUET_WRITE: &str = "after_parquet_write";
pub const AFTER_ID_LOG: &str = "after_id_log";
pub const AFTER_COLD_COMMIT: &str = "after_cold_commit";
pub const BEFORE_WAL_DELETE: &str = "before_wal_delete";
pub const AFTER_WAL_DELETE: &str = "after_wal_delete";
pub const WAL_SHORT_WRITE: &str = "wal_short_write";
pub const WAL_FSYNC_ERROR: &str = "wal_fsync_error";

/// Every point, in the order a write reaches them.
pub const ALL: [&str; 7] = [
    WAL_SHORT_WRITE,
    WAL_FSYNC_ERROR,
    AFTER_PARQUET_WRITE,
    AFTER_ID_LOG,
    AFTER_COLD_COMMIT,
    BEFORE_WAL_DELETE,
    AFTER_WAL_DELETE,
];

#[cfg(feature = "failpoints")]
mod registry {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    /// Armed points: (name, data directory). Each fires once.
    static ARMED: Mutex<Vec<(&'static str, PathBuf)>> = Mutex::new(Vec::new());

    fn armed() -> std::sync::MutexGuard<'static, Vec<(&'static str, PathBuf)>> {
        // A test that panicked while holding the lock leaves the list usable.
        ARMED.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arm `name` for sites working under `data_dir`; it fires once.
    pub fn arm(name: &'static str, data_dir: &Path) {
        armed().push((name, data_dir.to_path_buf()));
    }

    /// Disarm every point of `data_dir` (a point its test never reached).
    pub fn disarm(data_dir: &Path) {
        armed().retain(|(_, dir)| dir != data_dir);
    }

    /// Whether `name` is still armed for `data_dir` (a test checks its point was reached).
    pub fn is_armed(name: &str, data_dir: &Path) -> bool {
        armed().iter().any(|(n, dir)| *n == name && dir == data_dir)
    }

    /// Whether `name` is armed for `site` (consumed when it is).
    pub fn fire(name: &str, site: &Path) -> bool {
        let mut armed = armed();
        match armed
            .iter()
            .position(|(n, dir)| *n == name && site.starts_with(dir))
        {
            Some(i) => {
                armed.remove(i);
                tracing::warn!(point = name, site = %site.display(), "failpoint fired");
                true
            }
            None => false,
        }
    }
}

#[cfg(feature = "failpoints")]
pub use registry::{arm, disarm, is_armed};

/// A file was fsynced (data and size): its content now survives a power loss.
#[inline(always)]
pub fn synced_file(path: &Path) {
    #[cfg(feature = "failpoints")]
    power::record_file(path);
    #[cfg(not(feature = "failpoints"))]
    let _ = path;
}

/// A directory was fsynced: the entries it names now survive a power loss.
#[inline(always)]
pub fn synced_dir(path: &Path) {
    #[cfg(feature = "failpoints")]
    power::record_dir(path);
    #[cfg(not(feature = "failpoints"))]
    let _ = path;
}

/// The power-loss model of a tracked directory tree (see the module docs).
#[cfg(feature = "failpoints")]
pub mod power {
    use std::collections::HashMap;
    use std::ffi::OsString;
    use std::os::unix::fs::MetadataExt;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    /// One directory entry as of the directory's last fsync: name, inode, is a directory.
    type Entry = (OsString, u64, bool);

    #[derive(Default)]
    struct Durable {
        /// File content at its last fsync, by inode (a rename keeps the inode).
        files: HashMap<u64, Vec<u8>>,
        /// Directory entries at the directory's last fsync, by path.
        dirs: HashMap<PathBuf, Vec<Entry>>,
    }

    static TRACKED: Mutex<Vec<(PathBuf, Durable)>> = Mutex::new(Vec::new());

    fn tracked() -> std::sync::MutexGuard<'static, Vec<(PathBuf, Durable)>> {
        TRACKED.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn entries(dir: &Path) -> std::io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let m = e.metadata()?;
            out.push((e.file_name(), m.ino(), m.is_dir()));
        }
        Ok(out)
    }

    /// Everything under `dir` as it is now, as if all of it had been fsynced.
    fn snapshot(dir: &Path, into: &mut Durable) -> std::io::Result<()> {
        let list = entries(dir)?;
        for (name, ino, is_dir) in &list {
            let path = dir.join(name);
            if *is_dir {
                snapshot(&path, into)?;
            } else {
                into.files.insert(*ino, std::fs::read(&path)?);
            }
        }
        into.dirs.insert(dir.to_path_buf(), list);
        Ok(())
    }

    /// Track `root` (an existing directory; what is in it now counts as durable).
    pub fn track(root: &Path) -> std::io::Result<()> {
        let mut d = Durable::default();
        snapshot(root, &mut d)?;
        let mut t = tracked();
        t.retain(|(r, _)| r != root);
        t.push((root.to_path_buf(), d));
        Ok(())
    }

    /// Stop tracking `root`.
    pub fn untrack(root: &Path) {
        tracked().retain(|(r, _)| r != root);
    }

    pub(super) fn record_file(path: &Path) {
        let mut t = tracked();
        let Some((_, d)) = t.iter_mut().find(|(r, _)| path.starts_with(r)) else {
            return;
        };
        if let (Ok(m), Ok(bytes)) = (std::fs::metadata(path), std::fs::read(path)) {
            d.files.insert(m.ino(), bytes);
        }
    }

    pub(super) fn record_dir(path: &Path) {
        let mut t = tracked();
        let Some((_, d)) = t.iter_mut().find(|(r, _)| path.starts_with(r)) else {
            return;
        };
        if let Ok(list) = entries(path) {
            d.dirs.insert(path.to_path_buf(), list);
        }
    }

    /// The durable tree under `dir`: (path relative to the root, file content or `None` for a
    /// directory), parents first. A file never fsynced is empty; a directory never fsynced
    /// has no entries.
    fn durable_tree(
        d: &Durable,
        root: &Path,
        dir: &Path,
        out: &mut Vec<(PathBuf, Option<Vec<u8>>)>,
    ) {
        for (name, ino, is_dir) in d.dirs.get(dir).map(Vec::as_slice).unwrap_or_default() {
            let path = dir.join(name);
            let rel = path
                .strip_prefix(root)
                .expect("under the root")
                .to_path_buf();
            if *is_dir {
                out.push((rel, None));
                durable_tree(d, root, &path, out);
            } else {
                out.push((rel, Some(d.files.get(ino).cloned().unwrap_or_default())));
            }
        }
    }

    /// A power loss of the tracked `root`: its content becomes what was fsynced (the
    /// process that wrote it must be gone), and tracking starts over from there.
    pub fn lose_power(root: &Path) -> std::io::Result<()> {
        let tree = {
            let t = tracked();
            let (_, d) = t
                .iter()
                .find(|(r, _)| r == root)
                .ok_or_else(|| std::io::Error::other("root not tracked"))?;
            let mut out = Vec::new();
            durable_tree(d, root, root, &mut out);
            out
        };
        for e in std::fs::read_dir(root)? {
            let p = e?.path();
            if p.is_dir() {
                std::fs::remove_dir_all(&p)?;
            } else {
                std::fs::remove_file(&p)?;
            }
        }
        for (rel, content) in tree {
            let path = root.join(rel);
            match content {
                None => std::fs::create_dir_all(&path)?,
                Some(bytes) => std::fs::write(&path, bytes)?,
            }
        }
        track(root)
    }
}

/// Whether the crash point `name` fires for a site working on `site` (always false without
/// the `failpoints` feature).
#[inline(always)]
pub fn fire(name: &str, site: &Path) -> bool {
    #[cfg(feature = "failpoints")]
    {
        registry::fire(name, site)
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = (name, site);
        false
    }
}
