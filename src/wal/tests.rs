use super::*;
use proptest::prelude::*;

fn payload(i: u64) -> Vec<u8> {
    (0..(i % 37 + 1))
        .map(|b| (b as u8).wrapping_mul(i as u8))
        .collect()
}

fn collect(dir: &Path, repair: bool) -> (Vec<(u64, Vec<u8>)>, ReplayReport) {
    let mut got = Vec::new();
    let report = replay(dir, repair, |r| got.push((r.seq, r.payload.to_vec()))).unwrap();
    (got, report)
}

#[test]
fn replay_returns_appended_records_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), 1, 200, true).unwrap();
    for i in 0..20u64 {
        let p = payload(i);
        let seqs = wal.append_group(7, &[(1, &p)]).unwrap();
        assert_eq!(seqs, vec![i + 1]);
    }
    let (got, report) = collect(dir.path(), true);
    assert!(report.segments > 1, "small segments rotate");
    assert!(report.problems.is_empty());
    assert_eq!(got.len(), 20);
    for (i, (seq, p)) in got.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert_eq!(p, &payload(i as u64));
    }
}

#[test]
fn replay_truncates_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), 1, 1 << 20, true).unwrap();
    wal.append_group(1, &[(1, b"one"), (1, b"two")]).unwrap();
    drop(wal);
    let (_, path) = list_segments(dir.path()).unwrap().pop().unwrap();
    let len = fs::metadata(&path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 2)
        .unwrap();
    let (got, report) = collect(dir.path(), true);
    assert_eq!(got.len(), 1);
    assert_eq!(report.problems.len(), 1, "{report:?}");
    // The repaired log accepts appends that continue the sequence.
    let mut wal = Wal::open(dir.path(), 2, 1 << 20, true).unwrap();
    wal.append_group(1, &[(1, b"three")]).unwrap();
    let (got, report) = collect(dir.path(), true);
    assert!(report.problems.is_empty());
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![1, 2]);
}

/// A log of three records whose second fails its checksum: the directory, the segment, its
/// bytes and the offset of the second record.
fn log_with_corrupt_second_record() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), 1, 1 << 20, true).unwrap();
    wal.append_group(1, &[(1, b"aaaa"), (1, b"bbbb"), (1, b"cccc")])
        .unwrap();
    drop(wal);
    let (_, path) = list_segments(dir.path()).unwrap().pop().unwrap();
    let mut bytes = fs::read(&path).unwrap();
    let second = MAGIC.len() + FRAME_HEADER + BODY_HEADER + 4;
    bytes[second + FRAME_HEADER + BODY_HEADER] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    (dir, path, bytes, second)
}

#[test]
fn replay_stops_at_corrupt_record() {
    let (dir, path, bytes, _) = log_with_corrupt_second_record();
    let (got, report) = collect(dir.path(), false);
    assert_eq!(got.len(), 1);
    assert!(report.problems[0].contains("checksum"), "{report:?}");
    // Read-only replay leaves the file alone.
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[test]
fn repair_keeps_the_bytes_it_cuts_after_a_corrupt_record() {
    let (dir, path, bytes, second) = log_with_corrupt_second_record();
    let (got, report) = collect(dir.path(), true);
    assert_eq!(got.len(), 1);
    // The segment is cut at the corrupt record; what was cut is in quarantine, byte for byte.
    assert_eq!(fs::read(&path).unwrap(), &bytes[..second]);
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let kept = dir.path().join(format!("quarantine/{name}.tail-{second}"));
    assert_eq!(fs::read(&kept).unwrap(), &bytes[second..]);
    assert!(report.problems[0].contains("copied to"), "{report:?}");
    // A torn tail (a crash mid-write) is only cut.
    let mut wal = Wal::open(dir.path(), 2, 1 << 20, true).unwrap();
    wal.append_group(1, &[(1, b"dddd")]).unwrap();
    drop(wal);
    let len = fs::metadata(&path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 2)
        .unwrap();
    let (_, report) = collect(dir.path(), true);
    assert!(!report.problems[0].contains("copied to"), "{report:?}");
    assert_eq!(
        fs::read_dir(dir.path().join("quarantine")).unwrap().count(),
        1
    );
}

#[test]
fn reopening_past_a_lost_tail_starts_a_new_segment_and_replay_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), 1, 1 << 20, true).unwrap();
    wal.append_group(1, &[(1, b"aaaa"), (1, b"bbbb"), (1, b"cccc")])
        .unwrap();
    drop(wal);
    // The tail is lost (records 1-3), but the manifest had flushed through 9.
    let (_, path) = list_segments(dir.path()).unwrap().pop().unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(MAGIC.len() as u64)
        .unwrap();
    let mut wal = Wal::open(dir.path(), 10, 1 << 20, true).unwrap();
    assert_eq!(wal.append_group(2, &[(1, b"dddd")]).unwrap(), [10]);
    drop(wal);
    let firsts: Vec<u64> = list_segments(dir.path())
        .unwrap()
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(firsts, [1, 10], "a fresh segment at the next sequence");
    // Replay keeps the acknowledged record 10 (no corruption cut) and reports the gap.
    let (got, report) = collect(dir.path(), true);
    assert_eq!(got, [(10, b"dddd".to_vec())]);
    assert!(
        report.problems.iter().any(|p| p.contains("sequence gap")),
        "{report:?}"
    );
    // Reopening at the right sequence keeps appending to the same segment.
    let mut wal = Wal::open(dir.path(), 11, 1 << 20, true).unwrap();
    assert_eq!(wal.append_group(3, &[(1, b"eeee")]).unwrap(), [11]);
    drop(wal);
    assert_eq!(list_segments(dir.path()).unwrap().len(), 2);
    assert_eq!(collect(dir.path(), true).0.len(), 2);
}

#[test]
fn disk_full_refuses_the_group_and_the_next_append_starts_a_fresh_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), 1, 1 << 20, true).unwrap();
    assert_eq!(wal.append_group(1, &[(1, b"aaaa")]).unwrap(), [1]);
    wal.inject_next_write(std::io::ErrorKind::StorageFull);
    match wal.append_group(2, &[(1, b"lost"), (1, b"lost")]) {
        Err(Error::DiskFull { source, .. }) => assert!(is_disk_full(&source)),
        other => panic!("{other:?}"),
    }
    // Nothing of the refused group was numbered: the next group takes its sequences, in a
    // new file; the old one ends at its last acknowledged record.
    assert_eq!(wal.append_group(3, &[(1, b"bbbb")]).unwrap(), [2]);
    assert_eq!(wal.append_group(4, &[(1, b"cccc")]).unwrap(), [3]);
    drop(wal);
    let segments = list_segments(dir.path()).unwrap();
    assert_eq!(segments.iter().map(|s| s.0).collect::<Vec<_>>(), [1, 2]);
    let (got, report) = collect(dir.path(), true);
    assert_eq!(
        got,
        [
            (1, b"aaaa".to_vec()),
            (2, b"bbbb".to_vec()),
            (3, b"cccc".to_vec())
        ]
    );
    assert!(report.problems.is_empty(), "{report:?}");
}

/// The cut of a refused group may not reach the disk (the failed file is never synced
/// again): replay finds the refused bytes, torn or whole-but-stale, at the end of the old
/// segment, followed by the fresh one. It cuts them (keeping a copy of a corrupt tail) and
/// goes on, so nothing acknowledged after the full disk is lost.
#[test]
fn replay_resumes_after_the_tail_a_disk_full_left_behind() {
    for tail in [&b"\x20\x00\x00\x00junk"[..], &[0u8; 40][..]] {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), 1, 1 << 20, true).unwrap();
        wal.append_group(1, &[(1, b"aaaa")]).unwrap();
        wal.inject_next_write(std::io::ErrorKind::StorageFull);
        assert!(wal.append_group(2, &[(1, b"lost")]).is_err());
        wal.append_group(3, &[(1, b"bbbb")]).unwrap();
        drop(wal);
        let first = list_segments(dir.path()).unwrap()[0].1.clone();
        let mut f = OpenOptions::new().append(true).open(&first).unwrap();
        f.write_all(tail).unwrap();
        drop(f);
        let (got, report) = collect(dir.path(), true);
        assert_eq!(
            got.iter().map(|g| g.0).collect::<Vec<_>>(),
            [1, 2],
            "{report:?}"
        );
        assert!(
            report.problems.iter().any(|p| p.contains("resumes")),
            "{report:?}"
        );
        assert!(
            !dir.path()
                .join("quarantine")
                .join("00000000000000000002.wal")
                .exists()
        );
        // The repaired log replays clean.
        let (got, report) = collect(dir.path(), true);
        assert_eq!(got.len(), 2);
        assert!(report.problems.is_empty(), "{report:?}");
    }
}

/// The refused group may even have reached the disk whole (its fsync failed after the data
/// landed): the old segment then holds valid records numbered like the fresh segment's.
/// Replay keeps the fresh segment's (the acknowledged ones) and skips the refused group.
#[test]
fn replay_prefers_the_fresh_segment_over_a_refused_group_that_landed() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), 1, 1 << 20, true).unwrap();
    wal.append_group(1, &[(1, b"aaaa")]).unwrap();
    wal.inject_next_write(std::io::ErrorKind::StorageFull);
    assert!(wal.append_group(2, &[(1, b"lost"), (1, b"lost")]).is_err());
    wal.append_group(3, &[(1, b"bbbb")]).unwrap();
    drop(wal);
    let first = list_segments(dir.path()).unwrap()[0].1.clone();
    let mut refused = Vec::new();
    encode_record(&mut refused, 2, 2, 1, b"lost");
    encode_record(&mut refused, 3, 2, 1, b"lost");
    let mut f = OpenOptions::new().append(true).open(&first).unwrap();
    f.write_all(&refused).unwrap();
    drop(f);
    for repair in [false, true] {
        let (got, report) = collect(dir.path(), repair);
        assert_eq!(
            got,
            [(1, b"aaaa".to_vec()), (2, b"bbbb".to_vec())],
            "{report:?}"
        );
        assert!(
            report.problems.iter().any(|p| p.contains("refused group")),
            "{report:?}"
        );
    }
}

#[test]
fn delete_through_keeps_current_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), 1, 64, true).unwrap();
    for _ in 0..10 {
        wal.append_group(1, &[(1, &[0u8; 40])]).unwrap();
    }
    let before = list_segments(dir.path()).unwrap().len();
    assert!(before >= 5);
    wal.delete_through(u64::MAX).unwrap();
    let after = list_segments(dir.path()).unwrap();
    assert_eq!(after.len(), 1);
    // The surviving segment still names a sequence at or below the next one.
    assert!(after[0].0 <= wal.next_seq());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A WAL cut at any byte replays to a valid prefix of what was written.
    #[test]
    fn replay_of_any_truncation_is_a_prefix(
        sizes in proptest::collection::vec(0usize..300, 1..12),
        cut_frac in 0.0f64..1.0,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), 1, 1 << 20, false).unwrap();
        let payloads: Vec<Vec<u8>> = sizes.iter().enumerate()
            .map(|(i, n)| vec![i as u8; *n]).collect();
        for p in &payloads {
            wal.append_group(5, &[(1, p)]).unwrap();
        }
        drop(wal);
        let (_, path) = list_segments(dir.path()).unwrap().pop().unwrap();
        let full = fs::read(&path).unwrap();
        let cut = ((full.len() as f64) * cut_frac) as usize;
        fs::write(&path, &full[..cut]).unwrap();
        let (got, _) = collect(dir.path(), true);
        prop_assert!(got.len() <= payloads.len());
        for (i, (seq, p)) in got.iter().enumerate() {
            prop_assert_eq!(*seq, i as u64 + 1);
            prop_assert_eq!(p, &payloads[i]);
        }
        // Every record fully inside the cut survives.
        let mut end = MAGIC.len();
        let mut complete = 0;
        for p in &payloads {
            end += FRAME_HEADER + BODY_HEADER + p.len();
            if end <= cut { complete += 1; }
        }
        prop_assert_eq!(got.len(), complete);
        // And the repaired file is exactly the valid prefix: a second replay agrees.
        let (again, report) = collect(dir.path(), true);
        prop_assert_eq!(again.len(), complete);
        prop_assert!(report.problems.is_empty());
    }
}
