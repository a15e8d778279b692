//! Durability contract (spec events §3.1): a restart replays the WAL; kill -9 under concurrent
//! traffic keeps every acknowledged event exactly once and never half a request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

fn ingest_in_requests(server: &Server, prefix: &str, sizes: &[usize]) -> Vec<String> {
    let mut ids = Vec::new();
    for (r, n) in sizes.iter().enumerate() {
        let events: Vec<Value> = (0..*n)
            .map(|i| event(&format!("{prefix}-{r}-{i}")))
            .collect();
        let v = server.ingest(&events);
        assert_eq!(v["accepted"], json!(*n as u64), "{v}");
        ids.extend(
            events
                .iter()
                .map(|e| e["event_id"].as_str().unwrap().to_string()),
        );
    }
    ids
}

fn stored_ids(server: &Server) -> Vec<String> {
    server
        .query("SELECT event_id FROM events ORDER BY event_id")
        .into_iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn restart_replays_wal_after_graceful_stop() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    let mut ids = ingest_in_requests(&server, "graceful", &[1, 17, 19]);
    server.stop_graceful();

    let server = Server::start(&dir.data_dir(), &[], &[]);
    assert_eq!(server.count(), 37);
    ids.sort();
    assert_eq!(stored_ids(&server), ids);
    // A second restart replays the same WAL to the same rows (nothing doubled).
    server.stop_graceful();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    assert_eq!(server.count(), 37);
    server.stop_graceful();
}

#[test]
fn restart_replays_wal_after_kill9() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    let mut ids = ingest_in_requests(&server, "killed", &[5, 1, 31]);
    server.kill9();

    let server = Server::start(&dir.data_dir(), &[], &[]);
    assert_eq!(server.count(), 37);
    ids.sort();
    assert_eq!(stored_ids(&server), ids);
    server.kill9();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    assert_eq!(server.count(), 37);
    server.stop_graceful();
}

/// One NDJSON request of 50 events; `key` prefixes every id as `<key>-e<i>`.
struct SentBatch {
    key: String,
    acked: bool,
}

const BATCH: usize = 50;
const CLIENTS: usize = 4;

fn batch_events(key: &str) -> Vec<Value> {
    (0..BATCH)
        .map(|i| {
            let mut e = event(&format!("{key}-e{i}"));
            e["service"] = json!(format!("svc-{}", i % 3));
            e
        })
        .collect()
}

/// 4 clients post batches until `stop` or a transport error; returns every batch sent.
fn traffic(
    url: &str,
    cycle: usize,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<SentBatch>>> {
    (0..CLIENTS)
        .map(|t| {
            let url = format!("{url}/v1/events");
            let stop = stop.clone();
            std::thread::spawn(move || {
                let agent = agent();
                let mut sent = Vec::new();
                for b in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let key = format!("c{cycle}-t{t}-b{b}");
                    let body = ndjson(&batch_events(&key));
                    let r = try_post(
                        &agent,
                        &url,
                        &[("Content-Type", "application/x-ndjson")],
                        &body,
                    );
                    match r {
                        Ok(r) if r.status == 200 => {
                            let v = r.json();
                            assert_eq!(v["accepted"], json!(BATCH), "{key}: {v}");
                            sent.push(SentBatch { key, acked: true });
                        }
                        Ok(r) => {
                            // A non-200 answer stores nothing (checked after the restart).
                            assert!(r.status == 503, "{key}: unexpected {} {}", r.status, r.body);
                            sent.push(SentBatch { key, acked: false });
                        }
                        Err(_) => {
                            sent.push(SentBatch { key, acked: false });
                            break;
                        }
                    }
                }
                sent
            })
        })
        .collect()
}

/// Rows per batch key, from the event ids (`<key>-e<i>`).
fn rows_per_batch(server: &Server) -> BTreeMap<String, i64> {
    server
        .query("SELECT split_part(event_id, '-e', 1) AS k, count(*) FROM events GROUP BY 1")
        .into_iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
        .collect()
}

#[test]
fn kill9_cycles_keep_every_acknowledged_event_exactly_once() {
    let dir = TestDir::new();
    // Cycle settings: default; short hot window so flushes land between and during kills;
    // small WAL segments so segments rotate and flushed ones are deleted under traffic.
    let cycles: [(&[&str], u64); 3] = [
        (&[], 1200),
        (&["--hot-window", "1s"], 2500),
        (
            &["--hot-window", "1s", "--wal-segment-bytes", "256KiB"],
            2500,
        ),
    ];
    let mut all: Vec<SentBatch> = Vec::new();
    let mut server = Server::start(&dir.data_dir(), cycles[0].0, &[]);
    for (cycle, (_, traffic_ms)) in cycles.iter().enumerate() {
        let stop = Arc::new(AtomicBool::new(false));
        let handles = traffic(&server.url, cycle, stop.clone());
        let files_before = manifest_files(&dir.data_dir()).len();
        std::thread::sleep(Duration::from_millis(*traffic_ms));
        // The short-hot-window cycles kill after a flush landed under traffic (at most 30 s
        // more on a loaded machine, where background work runs at a lower priority).
        if cycle > 0 {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while manifest_files(&dir.data_dir()).len() == files_before
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(
                manifest_files(&dir.data_dir()).len() > files_before,
                "cycle {cycle}: no flush landed under traffic within 30 s"
            );
        }
        server.kill9();
        stop.store(true, Ordering::SeqCst);
        let mut sent: Vec<SentBatch> = Vec::new();
        for h in handles {
            sent.extend(h.join().unwrap());
        }
        let acked = sent.iter().filter(|b| b.acked).count();
        eprintln!(
            "cycle {cycle}: {} batches sent, {acked} acknowledged",
            sent.len()
        );
        assert!(
            acked >= CLIENTS,
            "cycle {cycle}: only {acked} batches acknowledged"
        );
        all.extend(sent);

        let next_args = cycles.get(cycle + 1).map(|c| c.0).unwrap_or(&[]);
        server = Server::start(&dir.data_dir(), next_args, &[]);
        assert_eq!(
            server.query("SELECT event_id, count(*) FROM events GROUP BY 1 HAVING count(*) > 1"),
            Vec::<Vec<Value>>::new(),
            "cycle {cycle}: an event is stored twice"
        );
        let per_batch = rows_per_batch(&server);
        for b in &all {
            match (b.acked, per_batch.get(&b.key)) {
                (true, Some(&n)) => assert_eq!(
                    n, BATCH as i64,
                    "cycle {cycle}: acked batch {} has {n} rows",
                    b.key
                ),
                (true, None) => panic!("cycle {cycle}: acknowledged batch {} is missing", b.key),
                (false, None) => {}
                (false, Some(&n)) => assert_eq!(
                    n, BATCH as i64,
                    "cycle {cycle}: batch {} half-stored: {n} rows",
                    b.key
                ),
            }
        }
        let known: std::collections::HashSet<&str> = all.iter().map(|b| b.key.as_str()).collect();
        for k in per_batch.keys() {
            assert!(
                known.contains(k.as_str()),
                "cycle {cycle}: unexpected rows {k}"
            );
        }
        // Every file the manifest lists exists (a flush interrupted by the kill may leave an
        // unlisted file behind, which waylog ignores but an external reader would not).
        let listed = manifest_files(&dir.data_dir());
        let cold_root = dir.data_dir().join("cold");
        let on_disk: Vec<String> = parquet_files(&dir.cold_events_dir())
            .iter()
            .map(|p| {
                p.strip_prefix(&cold_root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        for f in &listed {
            assert!(
                on_disk.contains(f),
                "cycle {cycle}: manifest lists missing file {f}"
            );
        }
        let unlisted: Vec<_> = on_disk.iter().filter(|f| !listed.contains(f)).collect();
        eprintln!(
            "cycle {cycle}: {} cold files listed, unlisted: {unlisted:?}",
            listed.len()
        );
        let total: i64 = per_batch.values().sum();
        assert_eq!(server.count(), total);
        assert_eq!(
            server.scalar("SELECT count(DISTINCT event_id) FROM events"),
            total
        );

        // The client retries every unacknowledged batch: all of it is new or all duplicate.
        for b in all.iter_mut().filter(|b| !b.acked) {
            let r = server.post_events("application/x-ndjson", &ndjson(&batch_events(&b.key)));
            assert_eq!(r.status, 200, "{}", r.body);
            let v = r.json();
            let (acc, dup) = (
                v["accepted"].as_u64().unwrap(),
                v["duplicate"].as_u64().unwrap(),
            );
            let stored = per_batch.contains_key(&b.key);
            let expect = if stored {
                (0, BATCH as u64)
            } else {
                (BATCH as u64, 0)
            };
            assert_eq!((acc, dup), expect, "retry of {}", b.key);
            b.acked = true;
        }
        assert_eq!(server.count() as usize, all.len() * BATCH);
    }
    // At least one flush landed under traffic in each short-hot-window cycle (asserted there).
    let files = manifest_files(&dir.data_dir()).len();
    assert!(files >= 2, "only {files} flushes landed across the cycles");
    server.stop_graceful();
}

/// A Parquet file written by a flush that crashed before its Delta commit is referenced by no
/// commit; the next start removes it (its rows are still in the WAL) when this node wrote it,
/// and never touches another node's files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_removes_cold_files_missing_from_the_manifest() {
    use waylog::clock::SystemClock;
    use waylog::storage::Storage;
    use waylog::storage::schema::TableId;
    let dir = TestDir::new();
    let cfg = storage_config(&dir.data_dir(), Duration::from_secs(7 * 86400));
    let (storage, _) = Storage::open(cfg.clone(), Arc::new(SystemClock))
        .await
        .unwrap();
    let now = now_ns();
    storage
        .append(
            TableId::Events,
            batch_of(&[event("orphan-1"), event("orphan-2")], now),
        )
        .await
        .unwrap();
    storage.flush(TableId::Events).await.unwrap();
    storage.close().unwrap();
    drop(storage);
    let listed = parquet_files(&dir.cold_events_dir());
    assert_eq!(listed.len(), 1);
    // A file this node wrote (its tag) that no commit references; another node's stays.
    let node = node_id(&dir.data_dir());
    let stray = listed[0].with_file_name(format!(
        "00000000000000000090-00000000000000000099-{node}.parquet"
    ));
    let foreign = listed[0]
        .with_file_name("00000000000000000090-00000000000000000099-0123456789abcdef.parquet");
    std::fs::copy(&listed[0], &foreign).unwrap();
    std::fs::copy(&listed[0], &stray).unwrap();
    let (storage, report) = Storage::open(cfg, Arc::new(SystemClock)).await.unwrap();
    assert!(!stray.exists(), "unlisted file removed");
    assert!(foreign.exists(), "another node's file is never removed");
    std::fs::remove_file(&foreign).unwrap();
    assert!(listed[0].exists(), "listed file kept");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("no Delta commit references")),
        "{:?}",
        report.problems
    );
    let engine = waylog::query::QueryEngine::new(storage.clone());
    let rows = sql_rows(&engine, "SELECT count(*) FROM events").await;
    assert_eq!(rows[0][0], json!(2));
    storage.close().unwrap();
}

/// A small tmpfs mounted for one test, unmounted (lazily) when dropped. Needs the right to
/// mount (root, as on the CI machine); the test fails with that reason otherwise.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &std::path::Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Write `path` until the file system says it is full; returns the path.
fn fill_up(path: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![2u8; 4096];
    while f.write_all(&chunk).and_then(|()| f.flush()).is_ok() {}
    // The last partial chunk may have left a few bytes: take them one at a time.
    while f.write_all(&[2u8]).is_ok() {}
    path.to_path_buf()
}

/// A full disk (a real `ENOSPC` on a small tmpfs): writes answer `503 disk_full` with
/// `Retry-After` while reads keep answering and the server stays ready; once space frees,
/// writes succeed again without a restart; and after a kill -9 every acknowledged event is
/// there exactly once (the refused groups left nothing behind).
#[test]
fn disk_full_refuses_writes_keeps_reads_and_recovers_when_space_frees() {
    let dir = TestDir::new();
    let _fs = Tmpfs::mount(&dir.data_dir(), "4m");
    let ballast = dir.data_dir().join("ballast");
    std::fs::write(&ballast, vec![1u8; 3 << 20]).unwrap();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    let mut acked: Vec<String> = Vec::new();
    let mut refused = None;
    for r in 0..400 {
        let events: Vec<Value> = (0..50)
            .map(|i| {
                let mut e = event(&format!("full-{r}-{i}"));
                e["message"] = json!("x".repeat(200));
                e
            })
            .collect();
        let resp = server.post_events(
            "application/json",
            Value::Array(events.clone()).to_string().as_bytes(),
        );
        match resp.status {
            200 => acked.extend(
                events
                    .iter()
                    .map(|e| e["event_id"].as_str().unwrap().to_string()),
            ),
            503 => {
                refused = Some(resp);
                break;
            }
            s => panic!("unexpected {s}: {}", resp.body),
        }
    }
    let refused = refused.expect("the 1 MiB left never filled up");
    assert_eq!(
        refused.json()["error"]["code"],
        "disk_full",
        "{}",
        refused.body
    );
    assert_eq!(refused.header("retry-after"), Some("5"));
    // The refused group's bytes were cut off the segment, so a smaller write could fit again:
    // take every byte left, then a single event must be refused too.
    let filler = fill_up(&dir.data_dir().join("filler"));
    // Still refused while full, and not poisoned: reads answer, the server stays ready.
    let again = server.post_events(
        "application/json",
        Value::Array(vec![event("full-again")])
            .to_string()
            .as_bytes(),
    );
    assert_eq!(again.status, 503, "{}", again.body);
    assert_eq!(again.json()["error"]["code"], "disk_full");
    assert_eq!(server.count(), acked.len() as i64);
    assert_eq!(server.get("/readyz").status, 200);
    let caps = server.get("/v1/capabilities").json();
    assert!(caps.to_string().contains("disk full"), "{caps}");
    assert!(
        server
            .get("/metrics")
            .body
            .lines()
            .any(|l| l == "waylog_wal_disk_full 1.0")
    );

    // Space frees: the next write succeeds by itself.
    std::fs::remove_file(&ballast).unwrap();
    std::fs::remove_file(&filler).unwrap();
    let v = server.ingest(&[event("full-after-1"), event("full-after-2")]);
    assert_eq!(v["accepted"], json!(2), "{v}");
    acked.extend(["full-after-1".to_string(), "full-after-2".to_string()]);
    assert!(
        server
            .get("/metrics")
            .body
            .lines()
            .any(|l| l == "waylog_wal_disk_full 0.0")
    );

    // A crash now: replay keeps exactly the acknowledged events.
    server.kill9();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    acked.sort();
    assert_eq!(stored_ids(&server), acked);
    server.stop_graceful();
}
