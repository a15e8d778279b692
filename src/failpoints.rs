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
