//! The write-ahead log: every accepted row is framed, checksummed and fsynced here before a
//! write is acknowledged (architecture invariant 1).
//!
//! Layout: `<data>/wal/<first_seq:020>.wal` segments, each starting with the 8-byte magic
//! `WLWAL001`, followed by records (byte format in `docs/wal-format.md`):
//!
//! ```text
//! u32 LE body_len | u32 LE crc32c(body) | body = u64 LE seq | i64 LE commit_ns | u8 table | payload
//! ```
//!
//! Invariants:
//! - sequence numbers are contiguous across segments (`seq = previous + 1`); a record that
//!   breaks the chain, fails its CRC or is cut short ends the valid log;
//! - on open the valid prefix is kept and the rest truncated (and reported), never a panic;
//! - the newest segment is never deleted, so the next sequence number survives even when
//!   every older record was flushed and removed.
//!
//! A full disk (`ENOSPC`, `EDQUOT`) while appending a group is [`Error::DiskFull`], not an I/O
//! failure: nothing of the group is acknowledged, its bytes are cut off the segment (best
//! effort) and the segment is never written again. The next append starts a fresh segment at
//! the next sequence (file + directory fsynced) and so recovers by itself once space frees,
//! without trusting a file whose write or fsync failed. Replay accepts the shape this leaves:
//! a segment whose tail is torn or garbage, followed by a segment that starts at or after the
//! sequence its valid records end at (the tail is cut, a corrupt one copied to quarantine
//! first, and replay goes on).

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"WLWAL001";
/// `body_len` + `crc`.
pub const FRAME_HEADER: usize = 8;
/// `seq` + `commit_ns` + `table`.
pub const BODY_HEADER: usize = 17;
/// Upper bound of one record body; larger lengths are treated as corruption.
pub const MAX_BODY: usize = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("wal io on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("wal record of {len} bytes exceeds the maximum record size")]
    RecordTooLarge { len: usize },
    /// The disk (or quota) is full: the group was not written; appends recover by themselves
    /// once space frees (a fresh segment starts).
    #[error("no space left for the wal on {path}")]
    DiskFull {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Whether `e` says the disk or the quota is full.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    /// `EDQUOT` on Linux.
    const EDQUOT: i32 = 122;
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(EDQUOT)
}

/// [`Error::DiskFull`] when an I/O error says the disk is full, else the error as it is.
fn disk_full_or(e: Error) -> Error {
    match e {
        Error::Io { path, source } if is_disk_full(&source) => Error::DiskFull { path, source },
        e => e,
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One decoded record; `payload` borrows from the segment bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub seq: u64,
    pub commit_ns: i64,
    pub table: u8,
    pub payload: &'a [u8],
}

/// Append one framed record to `buf`.
pub fn encode_record(buf: &mut Vec<u8>, seq: u64, commit_ns: i64, table: u8, payload: &[u8]) {
    let body_len = BODY_HEADER + payload.len();
    let start = buf.len();
    buf.extend_from_slice(&(body_len as u32).to_le_bytes());
    buf.extend_from_slice(&[0u8; 4]);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&commit_ns.to_le_bytes());
    buf.push(table);
    buf.extend_from_slice(payload);
    let crc = crc32c::crc32c(&buf[start + FRAME_HEADER..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Why decoding stopped before the end of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The last record is cut short (a torn write).
    Torn { offset: usize },
    /// A checksum, length or sequence check failed.
    Corrupt { offset: usize, why: &'static str },
}

/// Decode records from `bytes` (after the segment magic), calling `f` for each valid one.
/// `expected_seq` is the sequence the first record must have (`None`: any). Returns the byte
/// length of the valid prefix, the next expected sequence, and why it stopped early, if it did.
pub fn decode_records<'a>(
    bytes: &'a [u8],
    mut expected_seq: Option<u64>,
    mut f: impl FnMut(RecordRef<'a>),
) -> (usize, Option<u64>, Option<Stop>) {
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < FRAME_HEADER {
            return (pos, expected_seq, Some(Stop::Torn { offset: pos }));
        }
        let body_len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        if !(BODY_HEADER..=MAX_BODY).contains(&body_len) {
            // A zero-filled tail (preallocated or torn page) shows up as length 0.
            let why = if body_len == 0 && rest.iter().all(|b| *b == 0) {
                return (pos, expected_seq, Some(Stop::Torn { offset: pos }));
            } else {
                "invalid record length"
            };
            return (pos, expected_seq, Some(Stop::Corrupt { offset: pos, why }));
        }
        if rest.len() < FRAME_HEADER + body_len {
            return (pos, expected_seq, Some(Stop::Torn { offset: pos }));
        }
        let body = &rest[FRAME_HEADER..FRAME_HEADER + body_len];
        if crc32c::crc32c(body) != crc {
            return (
                pos,
                expected_seq,
                Some(Stop::Corrupt {
                    offset: pos,
                    why: "checksum mismatch",
                }),
            );
        }
        let seq = u64::from_le_bytes(body[0..8].try_into().expect("8 bytes"));
        if expected_seq.is_some_and(|e| e != seq) {
            return (
                pos,
                expected_seq,
                Some(Stop::Corrupt {
                    offset: pos,
                    why: "sequence gap",
                }),
            );
        }
        let commit_ns = i64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
        let table = body[16];
        f(RecordRef {
            seq,
            commit_ns,
            table,
            payload: &body[BODY_HEADER..],
        });
        expected_seq = Some(seq + 1);
        pos += FRAME_HEADER + body_len;
    }
    (pos, expected_seq, None)
}

/// What replay found: for the operator log and tests.
#[derive(Debug, Default, Clone)]
pub struct ReplayReport {
    pub segments: usize,
    pub records: u64,
    pub bytes: u64,
    pub last_seq: Option<u64>,
    /// Human-readable notes about truncated tails or quarantined segments.
    pub problems: Vec<String>,
}

/// The sequence after the last valid record of the segment at `path` (`first` when empty).
fn segment_next_seq(path: &Path, first: u64) -> Result<u64> {
    let bytes = fs::read(path).map_err(io(path))?;
    if bytes.len() < MAGIC.len() {
        return Ok(first);
    }
    let (_, next, _) = decode_records(&bytes[MAGIC.len()..], Some(first), |_| {});
    Ok(next.unwrap_or(first))
}

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.wal")
}

/// Segments of `dir` sorted by first sequence.
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".wal") else {
            continue;
        };
        if let Ok(first) = stem.parse::<u64>() {
            out.push((first, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Replay every valid record of the log in `dir`, in sequence order.
///
/// With `repair`, a torn or corrupt tail is truncated on disk and segments after a corrupt
/// one are moved to `<dir>/quarantine/`; without it (read-only openers such as
/// `waylog query --data-dir`) nothing is written and replay just stops at the first bad
/// record. A segment that disappears while being read (deleted by a running server's
/// flusher) is skipped.
pub fn replay(dir: &Path, repair: bool, mut f: impl FnMut(RecordRef<'_>)) -> Result<ReplayReport> {
    let segments = list_segments(dir)?;
    let mut report = ReplayReport::default();
    let mut expected: Option<u64> = None;
    for (i, (first, path)) in segments.iter().enumerate() {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !repair => continue,
            Err(e) => return Err(io(path)(e)),
        };
        report.segments += 1;
        report.bytes += bytes.len() as u64;
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            if bytes.len() < MAGIC.len() && MAGIC.starts_with(&bytes) {
                // Crashed while creating the segment: nothing was ever acknowledged from it.
                if repair {
                    rewrite_header(path)?;
                }
                continue;
            }
            report
                .problems
                .push(format!("{}: bad segment header", path.display()));
            if repair {
                quarantine(dir, &segments[i..], &mut report)?;
            }
            break;
        }
        // The first record of a segment carries the segment's first sequence. A segment may
        // start past the previous one's end: the log was reopened after its tail was lost
        // (a truncated corrupt tail, or a crash with sync off) at a sequence the manifest had
        // already flushed past. That gap is reported, never treated as corruption.
        let seg_expected = match expected {
            Some(e) if *first > e => {
                report.problems.push(format!(
                    "{}: sequence gap {e}..={} before this segment (records lost with the old \
                     tail, or flushed before it was lost)",
                    path.display(),
                    first - 1
                ));
                Some(*first)
            }
            Some(e) => Some(e),
            None => Some(*first),
        };
        // Records numbered at or past the next segment's first sequence are a group the
        // writer was refused (a full disk) and renumbered into the fresh segment: the later
        // segment holds the acknowledged ones.
        let superseded_from = segments.get(i + 1).map(|(next_first, _)| *next_first);
        let mut count = 0u64;
        let mut superseded = 0u64;
        let (valid, next, stop) = decode_records(&bytes[MAGIC.len()..], seg_expected, |r| {
            if superseded_from.is_some_and(|s| r.seq >= s) {
                superseded += 1;
                return;
            }
            count += 1;
            report.last_seq = Some(r.seq);
            f(r)
        });
        report.records += count;
        if superseded > 0 {
            report.problems.push(format!(
                "{}: {superseded} records of a refused group skipped (the next segment holds \
                 their sequences)",
                path.display()
            ));
        }
        if let Some(n) = next {
            expected = Some(superseded_from.map_or(n, |s| n.min(s)));
        }
        if let Some(stop) = stop {
            let valid_len = (MAGIC.len() + valid) as u64;
            // A later segment starting at or after where the valid records end means the
            // writer left this tail behind on purpose (a failed append on a full disk, then a
            // fresh segment): cut the tail and go on.
            let resumed = segments
                .get(i + 1)
                .filter(|(next_first, _)| next.or(seg_expected).is_some_and(|n| *next_first >= n));
            let note = match stop {
                Stop::Torn { .. } => format!(
                    "{}: torn tail after {valid_len} bytes ({} bytes dropped)",
                    path.display(),
                    bytes.len() as u64 - valid_len
                ),
                Stop::Corrupt { why, .. } => format!(
                    "{}: {why} at byte {valid_len} ({} bytes dropped)",
                    path.display(),
                    bytes.len() as u64 - valid_len
                ),
            };
            if repair {
                // A corrupt record is not a crash artifact: keep the bytes the repair drops.
                let note = match stop {
                    Stop::Corrupt { .. } => {
                        let kept = keep_tail(dir, path, valid_len, &bytes[valid_len as usize..])?;
                        format!("{note}; the dropped bytes copied to {}", kept.display())
                    }
                    Stop::Torn { .. } => note,
                };
                report.problems.push(note);
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(io(path))?;
                file.set_len(valid_len).map_err(io(path))?;
                sync_file(&file, path).map_err(io(path))?;
                if resumed.is_none() {
                    quarantine(dir, &segments[i + 1..], &mut report)?;
                }
            } else {
                report.problems.push(note);
            }
            if let Some((next_first, _)) = resumed {
                report.problems.push(format!(
                    "{}: replay resumes with the next segment at sequence {next_first}",
                    path.display()
                ));
                continue;
            }
            break;
        }
    }
    Ok(report)
}

/// Copy the `tail` a repair is about to cut from `path` (at `offset`) to
/// `<dir>/quarantine/<segment>.tail-<offset>`, durably, before the segment is truncated.
fn keep_tail(dir: &Path, path: &Path, offset: u64, tail: &[u8]) -> Result<PathBuf> {
    let qdir = dir.join("quarantine");
    create_dir_durable(&qdir).map_err(io(&qdir))?;
    let name = path.file_name().expect("segment paths have names");
    let target = qdir.join(format!("{}.tail-{offset}", name.to_string_lossy()));
    let mut file = File::create(&target).map_err(io(&target))?;
    file.write_all(tail).map_err(io(&target))?;
    sync_file(&file, &target).map_err(io(&target))?;
    sync_dir(&qdir).map_err(io(&qdir))?;
    Ok(target)
}

fn rewrite_header(path: &Path) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(io(path))?;
    file.write_all(MAGIC).map_err(io(path))?;
    sync_file(&file, path).map_err(io(path))
}

fn quarantine(dir: &Path, segments: &[(u64, PathBuf)], report: &mut ReplayReport) -> Result<()> {
    if segments.is_empty() {
        return Ok(());
    }
    let qdir = dir.join("quarantine");
    create_dir_durable(&qdir).map_err(io(&qdir))?;
    for (_, path) in segments {
        let target = qdir.join(path.file_name().expect("segment paths have names"));
        fs::rename(path, &target).map_err(io(path))?;
        report
            .problems
            .push(format!("{} moved to {}", path.display(), target.display()));
    }
    Ok(())
}

/// The append side of the log. Owned by the single writer task.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    file: File,
    path: PathBuf,
    first_seq: u64,
    len: u64,
    segment_bytes: u64,
    next_seq: u64,
    sync: bool,
    buf: Vec<u8>,
    /// Segment files before the current one and their bytes (for the metrics).
    older: (u64, u64),
    /// A group failed on a full disk: the current file is abandoned and the next append
    /// starts a fresh segment.
    fresh_segment_due: bool,
    /// Test hook: the next write fails with this error kind (and `ENOSPC`-like kinds count as
    /// a full disk).
    #[cfg(any(test, feature = "failpoints"))]
    inject_next_write: Option<std::io::ErrorKind>,
}

impl Wal {
    /// Test hook: make the next [`Wal::append_group`] fail with an I/O error after writing.
    #[cfg(test)]
    pub(crate) fn fail_next_write(&mut self) {
        self.inject_next_write = Some(std::io::ErrorKind::Other);
    }

    /// Test hook: make the next [`Wal::append_group`] fail with `kind` after writing
    /// (`StorageFull` acts as a full disk).
    #[cfg(any(test, feature = "failpoints"))]
    pub fn inject_next_write(&mut self, kind: std::io::ErrorKind) {
        self.inject_next_write = Some(kind);
    }

    /// Open the log for appending after replay: `next_seq` is one past the highest sequence
    /// ever used (the caller takes the max of the replayed tail and the manifest).
    pub fn open(dir: &Path, next_seq: u64, segment_bytes: u64, sync: bool) -> Result<Wal> {
        create_dir_durable(dir).map_err(io(dir))?;
        let segments = list_segments(dir)?;
        // Reuse the newest segment only when its records end right before `next_seq`: after a
        // lost tail the next sequence can be ahead of it (the manifest flushed past it), and
        // appending there would break the segment's chain, which the next replay would cut
        // as corruption, acknowledged records with it. Then a fresh segment starts.
        if let Some((first, path)) = segments.last()
            && *first <= next_seq
            && segment_next_seq(path, *first)? == next_seq
        {
            let file = OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(io(path))?;
            let len = file.metadata().map_err(io(path))?.len();
            if len >= MAGIC.len() as u64 {
                return Ok(Wal::counted(Wal {
                    dir: dir.to_path_buf(),
                    file,
                    path: path.clone(),
                    first_seq: *first,
                    len,
                    segment_bytes,
                    next_seq,
                    sync,
                    buf: Vec::new(),
                    older: (0, 0),
                    fresh_segment_due: false,
                    #[cfg(any(test, feature = "failpoints"))]
                    inject_next_write: None,
                }));
            }
        }
        let (file, path) = create_segment(dir, next_seq)?;
        Ok(Wal::counted(Wal {
            dir: dir.to_path_buf(),
            file,
            path,
            first_seq: next_seq,
            len: MAGIC.len() as u64,
            segment_bytes,
            next_seq,
            sync,
            buf: Vec::new(),
            older: (0, 0),
            fresh_segment_due: false,
            #[cfg(any(test, feature = "failpoints"))]
            inject_next_write: None,
        }))
    }

    fn counted(mut self) -> Wal {
        self.recount();
        self
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Segment files and their bytes on disk (lists the directory).
    pub fn disk_usage(&self) -> (usize, u64) {
        let segments = list_segments(&self.dir).unwrap_or_default();
        let older: u64 = segments
            .iter()
            .filter(|(first, _)| *first < self.first_seq)
            .filter_map(|(_, p)| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        (segments.len().max(1), older + self.len)
    }

    /// Publish `waylog_wal_segments` / `waylog_wal_bytes`: the older segments' totals (kept
    /// up to date by open, rotate and delete) plus the current segment's length.
    fn publish_usage(&self) {
        let m = crate::metrics::get();
        m.wal_segments.set((self.older.0 + 1) as f64);
        m.wal_bytes.set((self.older.1 + self.len) as f64);
    }

    /// Recount the older segments from the directory and publish.
    fn recount(&mut self) {
        let (segments, bytes) = self.disk_usage();
        self.older = (
            segments.saturating_sub(1) as u64,
            bytes.saturating_sub(self.len),
        );
        self.publish_usage();
    }

    /// Append records as one group and make them durable with a single fdatasync (unless
    /// sync is off). Returns the sequence of each record. On failure the segment is cut back
    /// to its length before the group, so no half group survives in the file.
    pub fn append_group(&mut self, commit_ns: i64, records: &[(u8, &[u8])]) -> Result<Vec<u64>> {
        if self.len >= self.segment_bytes && !self.fresh_segment_due {
            // Rotation: the old segment is complete and durable before the next one starts.
            sync_file(&self.file, &self.path).map_err(io(&self.path))?;
            self.fresh_segment_due = true;
        }
        if self.fresh_segment_due {
            // On a full disk this fails again until space frees; nothing is lost meanwhile.
            self.start_segment().map_err(disk_full_or)?;
            self.fresh_segment_due = false;
        }
        self.buf.clear();
        let mut seqs = Vec::with_capacity(records.len());
        let mut seq = self.next_seq;
        for (table, payload) in records {
            if payload.len() + BODY_HEADER > MAX_BODY {
                return Err(Error::RecordTooLarge { len: payload.len() });
            }
            encode_record(&mut self.buf, seq, commit_ns, *table, payload);
            seqs.push(seq);
            seq += 1;
        }
        if crate::failpoints::fire(crate::failpoints::WAL_SHORT_WRITE, &self.dir) {
            // A crash mid-write: half the group reaches the file and nothing cuts it back.
            let _ = self.file.write_all(&self.buf[..self.buf.len() / 2]);
            return Err(Error::Io {
                path: self.path.clone(),
                source: std::io::Error::other("failpoint wal_short_write"),
            });
        }
        let started = std::time::Instant::now();
        let mut synced = None;
        let result = self.file.write_all(&self.buf).and_then(|()| {
            let written = started.elapsed().as_secs_f64();
            if crate::failpoints::fire(crate::failpoints::WAL_FSYNC_ERROR, &self.dir) {
                return Err(std::io::Error::other("failpoint wal_fsync_error"));
            }
            if self.sync {
                let t = std::time::Instant::now();
                let r = self.file.sync_data();
                if r.is_ok() {
                    crate::failpoints::synced_file(&self.path);
                }
                synced = Some(t.elapsed().as_secs_f64());
                r.map(|()| written)
            } else {
                Ok(written)
            }
        });
        #[cfg(any(test, feature = "failpoints"))]
        let result = match self.inject_next_write.take() {
            Some(kind) => Err(std::io::Error::new(kind, "injected write failure")),
            None => result,
        };
        if let Err(source) = result {
            // Best effort: drop whatever part of the group reached the file.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::End(0));
            let path = self.path.clone();
            if is_disk_full(&source) {
                // Never write this file again: after a failed write or fsync its cached pages
                // cannot be trusted. The tail cut above may not be durable; replay accepts a
                // torn tail followed by the fresh segment.
                self.fresh_segment_due = true;
                return Err(Error::DiskFull { path, source });
            }
            return Err(Error::Io { path, source });
        }
        if let Ok(written) = &result {
            crate::metrics::wal_group(records.len(), *written, synced);
        }
        self.len += self.buf.len() as u64;
        self.next_seq = seq;
        self.publish_usage();
        if self.buf.capacity() > 64 << 20 {
            self.buf = Vec::new();
        }
        Ok(seqs)
    }

    /// Flush OS buffers (used at shutdown when sync is off).
    pub fn sync(&mut self) -> Result<()> {
        sync_file(&self.file, &self.path).map_err(io(&self.path))
    }

    /// Make a new segment starting at `next_seq` the current one (the old file is left as
    /// it is).
    fn start_segment(&mut self) -> Result<()> {
        let (file, path) = create_segment(&self.dir, self.next_seq)?;
        self.file = file;
        self.path = path;
        self.first_seq = self.next_seq;
        self.len = MAGIC.len() as u64;
        self.recount();
        Ok(())
    }

    /// Delete every segment all of whose records have `seq <= flushed` (never the current
    /// one). Returns how many were deleted.
    pub fn delete_through(&mut self, flushed: u64) -> Result<usize> {
        let segments = list_segments(&self.dir)?;
        let mut deleted = 0;
        for pair in segments.windows(2) {
            let (first, path) = &pair[0];
            let next_first = pair[1].0;
            if *first >= self.first_seq || next_first == 0 {
                break;
            }
            if next_first - 1 <= flushed {
                fs::remove_file(path).map_err(io(path))?;
                deleted += 1;
            } else {
                break;
            }
        }
        if deleted > 0 {
            self.recount();
        }
        Ok(deleted)
    }
}

fn create_segment(dir: &Path, first_seq: u64) -> Result<(File, PathBuf)> {
    let path = dir.join(segment_name(first_seq));
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .map_err(io(&path))?;
    file.write_all(MAGIC).map_err(io(&path))?;
    sync_file(&file, &path).map_err(io(&path))?;
    // Make the new directory entry durable too.
    sync_dir(dir).map_err(io(dir))?;
    let file = OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(io(&path))?;
    Ok((file, path))
}

/// `fsync` a file (data and metadata). Every durability point of the data directory goes
/// through this or [`sync_dir`], so the power-loss model ([`crate::failpoints`]) sees it.
pub fn sync_file(file: &File, path: &Path) -> std::io::Result<()> {
    file.sync_all()?;
    crate::failpoints::synced_file(path);
    Ok(())
}

/// `fsync` a directory: the entries it names now survive a power loss.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()?;
    crate::failpoints::synced_dir(dir);
    Ok(())
}

/// `create_dir_all`, and make every directory it created durable: each new directory and the
/// existing one above them are fsynced, so the new entries survive a power loss (a file
/// fsynced in a directory whose own entry was never synced can vanish with it).
pub fn create_dir_durable(dir: &Path) -> std::io::Result<()> {
    let mut top = dir;
    while !top.exists() {
        match top.parent() {
            Some(p) => top = p,
            None => break,
        }
    }
    if top == dir {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    let mut d = dir;
    loop {
        sync_dir(d)?;
        if d == top {
            return Ok(());
        }
        match d.parent() {
            Some(p) => d = p,
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
