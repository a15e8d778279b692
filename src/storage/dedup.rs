//! Event-id deduplication memory (spec events §2.5, §3.3).
//!
//! Ids are kept as 128-bit XXH3 hashes (collisions are negligible at any realistic volume and
//! the set costs ~40 bytes per id). An id is forgotten only when it is both older than the
//! dedup window and followed by at least `min_ids` newer ids.
//!
//! Persistence: when a hot range is flushed, the ids of its rows are written to
//! `<data>/dedup/<last_seq:020>.ids` (fsynced, before the manifest commit). Every accepted id is
//! therefore either in an id log or in a WAL record still on disk, so restart rebuilds the
//! memory from both; the horizon is independent of event retention.
//!
//! Budget: the set holds at most `WAYLOG_DEDUP_MAX_BYTES` / [`BYTES_PER_ID`] ids (never fewer
//! than `WAYLOG_DEDUP_MIN_IDS`, which config checks the budget holds). When full, each new id
//! forgets the oldest one even inside the window: the horizon shrinks to what fits, and
//! [`DedupStatus`] (published to `/metrics` and `/v1/capabilities`) says so.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::xxh3_128;

const MAGIC: &[u8; 8] = b"WLIDS001";

pub fn hash_id(id: &str) -> u128 {
    xxh3_128(id.as_bytes())
}

pub use crate::config::DEDUP_BYTES_PER_ID as BYTES_PER_ID;

/// What the dedup memory holds now (published by the writer for `/metrics` and
/// `/v1/capabilities`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DedupStatus {
    /// Ids remembered.
    pub ids: usize,
    /// Approximate heap bytes of the set ([`Dedup::memory_bytes`]).
    pub memory_bytes: usize,
    /// Ids the byte budget holds (never fewer than `WAYLOG_DEDUP_MIN_IDS`).
    pub max_ids: usize,
    /// Accept time of the oldest remembered id (`None` when empty).
    pub oldest_ns: Option<i64>,
    /// Ids forgotten before the window passed because the budget was full (since start).
    pub evicted: u64,
}

impl DedupStatus {
    /// The budget is full: new ids push the oldest out, so the horizon is what fits rather
    /// than the window.
    pub fn full(&self) -> bool {
        self.ids >= self.max_ids
    }

    /// How far back ids are remembered now: the oldest remembered id's age.
    pub fn horizon_ns(&self, now_ns: i64) -> i64 {
        self.oldest_ns
            .map_or(0, |t| now_ns.saturating_sub(t).max(0))
    }
}

/// The set of remembered ids with their expiry order. Holds at most `max_ids` entries (the
/// byte budget over [`BYTES_PER_ID`]); past that, the oldest entry is forgotten at once,
/// even inside the window (the horizon shrinks to what fits), but never below `min_ids`.
#[derive(Debug)]
pub struct Dedup {
    /// id hash -> accept time of its newest acceptance.
    seen: HashMap<u128, i64, ahash::RandomState>,
    /// Every insert in accept order; an entry whose time no longer matches `seen` is stale.
    order: VecDeque<(u128, i64)>,
    window_ns: i64,
    min_ids: usize,
    max_ids: usize,
    evicted: u64,
}

impl Dedup {
    /// A set forgetting ids older than `window_ns` once `min_ids` newer ones follow, and
    /// holding at most `max_bytes` (counted at [`BYTES_PER_ID`], never below `min_ids` ids).
    pub fn new(window_ns: i64, min_ids: usize, max_bytes: usize) -> Self {
        Dedup {
            seen: HashMap::default(),
            order: VecDeque::new(),
            window_ns,
            min_ids,
            max_ids: (max_bytes / BYTES_PER_ID).max(min_ids).max(1),
            evicted: 0,
        }
    }

    pub fn contains(&self, h: u128) -> bool {
        self.seen.contains_key(&h)
    }

    /// Remember `h`, first forgetting the oldest entry if the budget is full.
    pub fn insert(&mut self, h: u128, accepted_ns: i64) {
        while self.order.len() >= self.max_ids {
            if self.forget_oldest() {
                self.evicted += 1;
            }
        }
        self.seen.insert(h, accepted_ns);
        self.order.push_back((h, accepted_ns));
    }

    /// Drop the oldest queue entry; true when it was still a remembered id (not stale).
    fn forget_oldest(&mut self) -> bool {
        let Some((h, t)) = self.order.pop_front() else {
            return false;
        };
        if self.seen.get(&h) == Some(&t) {
            self.seen.remove(&h);
            return true;
        }
        false
    }

    /// Approximate heap bytes held: the map's and the expiry queue's capacity.
    pub fn memory_bytes(&self) -> usize {
        // Each map bucket holds the key, the value and one control byte; `capacity()` counts
        // the ids the table holds at its 7/8 load limit, not its buckets.
        let bucket = std::mem::size_of::<(u128, i64)>() + 1;
        self.seen.capacity() * 8 / 7 * bucket
            + self.order.capacity() * std::mem::size_of::<(u128, i64)>()
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// What the set holds now.
    pub fn status(&self) -> DedupStatus {
        DedupStatus {
            ids: self.len(),
            memory_bytes: self.memory_bytes(),
            max_ids: self.max_ids,
            oldest_ns: self.order.front().map(|(_, t)| *t),
            evicted: self.evicted,
        }
    }

    /// Forget ids beyond the horizon.
    pub fn expire(&mut self, now_ns: i64) {
        let cutoff = now_ns.saturating_sub(self.window_ns);
        while self.order.len() > self.min_ids {
            let Some(&(_, t)) = self.order.front() else {
                break;
            };
            if t >= cutoff {
                break;
            }
            self.forget_oldest();
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("dedup id log io on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write one id log file atomically (temp + fsync + rename + dir fsync).
pub fn write_id_log(dir: &Path, last_seq: u64, ids: &[(u128, i64)]) -> Result<(), Error> {
    crate::wal::create_dir_durable(dir).map_err(io(dir))?;
    let path = dir.join(format!("{last_seq:020}.ids"));
    let tmp = dir.join(format!("{last_seq:020}.ids.tmp"));
    let mut buf = Vec::with_capacity(16 + ids.len() * 24 + 4);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&(ids.len() as u64).to_le_bytes());
    for (h, t) in ids {
        buf.extend_from_slice(&h.to_le_bytes());
        buf.extend_from_slice(&t.to_le_bytes());
    }
    let crc = crc32c::crc32c(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(&buf).map_err(io(&tmp))?;
    crate::wal::sync_file(&f, &tmp).map_err(io(&tmp))?;
    fs::rename(&tmp, &path).map_err(io(&path))?;
    crate::wal::sync_dir(dir).map_err(io(dir))?;
    Ok(())
}

/// Load every id log into `dedup` (oldest first) and delete logs that are wholly beyond the
/// horizon. Corrupt logs are reported and skipped (their events are still in cold storage;
/// only the dedup guarantee for those ids is weakened).
pub fn load_id_logs(dir: &Path, dedup: &mut Dedup, now_ns: i64) -> Result<Vec<String>, Error> {
    let mut problems = Vec::new();
    let mut files: Vec<(String, PathBuf)> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_string();
                name.ends_with(".ids").then(|| (name, e.path()))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(problems),
        Err(e) => return Err(io(dir)(e)),
    };
    files.sort();
    let mut loaded: Vec<(PathBuf, usize, i64)> = Vec::new();
    for (_, path) in &files {
        let bytes = fs::read(path).map_err(io(path))?;
        match parse_id_log(&bytes) {
            Some(ids) => {
                let newest = ids.iter().map(|(_, t)| *t).max().unwrap_or(i64::MIN);
                for (h, t) in &ids {
                    dedup.insert(*h, *t);
                }
                loaded.push((path.clone(), ids.len(), newest));
            }
            None => problems.push(format!("{}: corrupt dedup id log skipped", path.display())),
        }
    }
    dedup.expire(now_ns);
    // A log is obsolete when all its ids are older than the window and enough newer ids follow.
    let cutoff = now_ns.saturating_sub(dedup.window_ns);
    let mut newer = 0usize;
    let mut obsolete = Vec::new();
    for (path, count, newest) in loaded.iter().rev() {
        if *newest < cutoff && newer >= dedup.min_ids {
            obsolete.push(path.clone());
        }
        newer += count;
    }
    for path in obsolete {
        fs::remove_file(&path).map_err(io(&path))?;
    }
    Ok(problems)
}

/// Decode one id log file: `None` for a bad magic, length or checksum.
pub fn parse_id_log(bytes: &[u8]) -> Option<Vec<(u128, i64)>> {
    if bytes.len() < 20 || &bytes[..8] != MAGIC {
        return None;
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().ok()?) {
        return None;
    }
    let count = u64::from_le_bytes(body[8..16].try_into().ok()?) as usize;
    let recs = &body[16..];
    if recs.len() != count.checked_mul(24)? {
        return None;
    }
    Some(
        recs.chunks_exact(24)
            .map(|c| {
                (
                    u128::from_le_bytes(c[..16].try_into().expect("16 bytes")),
                    i64::from_le_bytes(c[16..].try_into().expect("8 bytes")),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_expires_only_when_both_bounds_pass() {
        let mut d = Dedup::new(100, 2, usize::MAX);
        for i in 0..5 {
            d.insert(i, i as i64);
        }
        d.expire(1000);
        // Old, but only the last two are guaranteed by count.
        assert_eq!(d.len(), 2);
        assert!(d.contains(3) && d.contains(4));
        let mut d = Dedup::new(100, 2, usize::MAX);
        for i in 0..5 {
            d.insert(i, 950 + i as i64);
        }
        d.expire(1000);
        assert_eq!(d.len(), 5, "all inside the window");
    }

    #[test]
    fn dedup_budget_forgets_the_oldest_inside_the_window_and_bounds_memory() {
        let budget = 1 << 20;
        let mut d = Dedup::new(i64::MAX, 100, budget);
        let max_ids = budget / BYTES_PER_ID;
        for i in 0..(3 * max_ids) as u128 {
            d.insert(i, i as i64);
            assert!(
                d.memory_bytes() <= budget,
                "{} bytes at {i}",
                d.memory_bytes()
            );
        }
        let status = d.status();
        assert_eq!(status.ids, max_ids);
        assert!(status.full());
        assert_eq!(status.evicted, 2 * max_ids as u64);
        // The newest ids are remembered, the oldest forgotten although the window is endless.
        let newest = (3 * max_ids - 1) as u128;
        assert!(d.contains(newest) && d.contains(newest + 1 - max_ids as u128));
        assert!(!d.contains(0) && !d.contains(newest - max_ids as u128));
        assert_eq!(status.oldest_ns, Some(2 * max_ids as i64));
        assert_eq!(status.horizon_ns(3 * max_ids as i64), max_ids as i64);
    }

    #[test]
    fn dedup_budget_never_goes_below_min_ids() {
        let mut d = Dedup::new(i64::MAX, 1000, 10 * BYTES_PER_ID);
        for i in 0..1500u128 {
            d.insert(i, 0);
        }
        assert_eq!(d.len(), 1000);
        assert!(d.contains(500) && !d.contains(499));
    }

    #[test]
    fn id_logs_round_trip_and_skip_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        write_id_log(dir.path(), 10, &[(1, 5), (2, 6)]).unwrap();
        write_id_log(dir.path(), 20, &[(3, 7)]).unwrap();
        fs::write(dir.path().join("00000000000000000030.ids"), b"garbage").unwrap();
        let mut d = Dedup::new(1_000, 0, usize::MAX);
        let problems = load_id_logs(dir.path(), &mut d, 100).unwrap();
        assert_eq!(problems.len(), 1);
        assert!(d.contains(1) && d.contains(2) && d.contains(3));
    }
}
