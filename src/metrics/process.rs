//! Process gauges read at scrape time from `/proc/self` (Linux): resident memory, open file
//! descriptors, uptime. Elsewhere (no `/proc`) the first two read as 0.

use std::sync::LazyLock;
use std::time::Instant;

static STARTED: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Mark the process start (call first thing in `serve`; later calls change nothing).
pub fn mark_start() {
    LazyLock::force(&STARTED);
}

/// Seconds since [`mark_start`].
pub fn uptime_seconds() -> f64 {
    STARTED.elapsed().as_secs_f64()
}

/// Resident set size in bytes: `VmRSS` of `/proc/self/status` (kB).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(parse_vm_rss)
        .unwrap_or(0)
}

/// The `VmRSS:` line of a `/proc/<pid>/status` text, in bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Open file descriptors: the entries of `/proc/self/fd` (the directory handle itself
/// excluded).
pub fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| (d.count() as u64).saturating_sub(1))
        .unwrap_or(0)
}

/// Set the process gauges.
pub fn refresh() {
    let m = super::get();
    m.rss_bytes.set(resident_bytes() as f64);
    m.open_fds.set(open_fds() as f64);
    m.uptime.set(uptime_seconds());
}
