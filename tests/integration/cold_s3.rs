//! The cold tier as Delta Lake tables, on local disk and on an S3-protocol server: moto's S3
//! server on loopback (`tests/peers/s3_server.py`, installed by `scripts/setup-test-deps.sh`),
//! reached through object_store's real S3 client; the `deltalake` Python package
//! (`scripts/delta_check.py`) as the independent reader. Without moto or deltalake the tests
//! fail under `CI` and are skipped (with a notice) elsewhere.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

const BUCKET: &str = "waylog-cold";

/// A moto S3 server child on `127.0.0.1:<port>`, killed (by pid) on drop.
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

impl S3Server {
    /// Start the peer with `BUCKET` created; `None` (after a notice, or a panic under `CI`)
    /// when moto is not installed.
    pub fn start(test: &str) -> Option<S3Server> {
        let python = python_with(test, "moto.server, boto3, deltalake")?;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/s3_server.py");
        let mut child = Command::new(&python)
            .arg(script)
            .arg(BUCKET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let endpoint = line
            .trim()
            .strip_prefix("s3 listening on ")
            .unwrap_or_else(|| panic!("s3 peer printed {line:?}"))
            .to_string();
        Some(S3Server { child, endpoint })
    }

    /// The cold store URL of `prefix` in the test bucket.
    pub fn store(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    /// The `WAYLOG_*` settings of a server using `prefix` of the bucket as its cold store.
    pub fn env(&self, prefix: &str) -> Vec<(&'static str, String)> {
        self.env_via(prefix, &self.endpoint)
    }

    /// [`S3Server::env`] reaching the server through `endpoint` (a proxy).
    pub fn env_via(&self, prefix: &str, endpoint: &str) -> Vec<(&'static str, String)> {
        vec![
            ("WAYLOG_COLD_STORE", self.store(prefix)),
            ("WAYLOG_S3_ENDPOINT", endpoint.to_string()),
            ("WAYLOG_S3_ALLOW_HTTP", "true".into()),
            ("WAYLOG_S3_REGION", "us-east-1".into()),
            ("WAYLOG_S3_ACCESS_KEY_ID", "test".into()),
            ("WAYLOG_S3_SECRET_ACCESS_KEY", "test".into()),
        ]
    }

    /// deltalake's storage options for this server.
    pub fn delta_options(&self) -> Value {
        json!({
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        })
    }

    /// The same settings as `waylog query` flags.
    pub fn query_flags(&self, prefix: &str) -> Vec<String> {
        [
            "--cold-store",
            &self.store(prefix),
            "--s3-endpoint",
            &self.endpoint,
            "--s3-allow-http",
            "true",
            "--s3-region",
            "us-east-1",
            "--s3-access-key-id",
            "test",
            "--s3-secret-access-key",
            "test",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// `waylog query --data-dir DIR <s3 flags> --format json SQL`: the rows.
    pub fn cli_rows(&self, data_dir: &std::path::Path, prefix: &str, sql: &str) -> Value {
        let mut args: Vec<String> = vec![
            "query".into(),
            "--data-dir".into(),
            data_dir.to_string_lossy().into_owned(),
        ];
        args.extend(self.query_flags(prefix));
        args.extend(["--format".into(), "json".into(), sql.into()]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = waylog_cli(&refs);
        assert_eq!(out.code, 0, "{out:?}");
        serde_json::from_str::<Value>(&out.stdout).unwrap()["rows"].clone()
    }
}

/// The test Python when it can import `modules`; else `None` after a notice (a panic under
/// `CI`).
pub fn python_with(test: &str, modules: &str) -> Option<String> {
    let python = test_python();
    let probe = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output();
    if probe.as_ref().is_ok_and(|o| o.status.success()) {
        return Some(python);
    }
    let msg = format!("{modules} not importable by {python:?}; run scripts/setup-test-deps.sh");
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("SKIPPED {test}: {msg}");
    None
}

/// `scripts/delta_check.py` on the Delta table at `uri`: deltalake's view of it.
pub fn delta_check(python: &str, uri: &str, app_id: &str, options: Option<Value>) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/delta_check.py");
    let mut cmd = Command::new(python);
    cmd.arg(script).arg(uri).arg(app_id);
    if let Some(o) = options {
        cmd.arg(o.to_string());
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "delta_check.py failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The sorted `event_id`s waylog's server answers.
fn server_event_ids(server: &Server) -> Value {
    let rows = server.query("SELECT event_id FROM events ORDER BY event_id");
    Value::Array(rows.into_iter().map(|mut r| r.remove(0)).collect())
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// `(key, value)` pairs as `Server::start` takes them.
pub fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// `n` events of `service` in the hour before `now` (ids `<prefix>-<service>-<i>`).
pub fn service_events(prefix: &str, service: &str, n: usize, base_ns: i64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let mut e = event_at(
                &format!("{prefix}-{service}-{i}"),
                base_ns + i as i64 * 1_000_000,
            );
            e["service"] = json!(service);
            e
        })
        .collect()
}

/// A timestamp ten minutes ago, at the start of its minute.
pub fn recent_base() -> i64 {
    let t = now_ns() - 600 * SEC_NS;
    t - t.rem_euclid(60 * SEC_NS)
}

const BY_SERVICE: &str = "SELECT service, count(*) FROM events GROUP BY service ORDER BY service";

#[test]
fn s3_cold_store_ingest_flush_query_restart() {
    let Some(s3) = S3Server::start("s3_cold_store_ingest_flush_query_restart") else {
        return;
    };
    let dir = TestDir::new();
    let env = s3.env("prod");
    let server = Server::start(&dir.data_dir(), &["--hot-window", "1s"], &env_refs(&env));
    let base = recent_base();
    let mut events = service_events("s3", "checkout", 5, base);
    events.extend(service_events("s3", "search", 3, base));
    assert_eq!(server.ingest(&events)["accepted"], json!(8));

    // Flushed to S3: a reader with an empty data directory (no WAL) sees every row.
    let empty = TestDir::new();
    std::fs::create_dir_all(empty.data_dir()).unwrap();
    let expected = json!([["checkout", 5], ["search", 3]]);
    let landed = wait_until(Duration::from_secs(30), || {
        s3.cli_rows(&empty.data_dir(), "prod", BY_SERVICE) == expected
    });
    assert!(landed, "rows never reached S3; log:\n{}", server.log());
    assert!(
        !dir.data_dir().join("cold").exists(),
        "nothing is written to the local default cold directory"
    );
    // The server's own answer, and the read-only CLI next to the running server.
    let rows: Value = server.query(BY_SERVICE).into();
    assert_eq!(rows, expected);
    assert_eq!(s3.cli_rows(&dir.data_dir(), "prod", BY_SERVICE), expected);
    // Another prefix of the same bucket is another (empty) store.
    assert_eq!(
        s3.cli_rows(&empty.data_dir(), "other", BY_SERVICE),
        json!([])
    );
    // deltalake reads the same rows from the Delta table on S3.
    let python = test_python();
    let app = format!("waylog-{}", node_id(&dir.data_dir()));
    let report = delta_check(
        &python,
        &format!("{}/events", s3.store("prod")),
        &app,
        Some(s3.delta_options()),
    );
    assert_eq!(report["event_ids"], server_event_ids(&server), "{report}");
    assert_eq!(report["by_service"], json!({"checkout": 5, "search": 3}));
    assert!(report["txn"].as_u64().is_some_and(|v| v > 0), "{report}");
    server.stop_graceful();

    // Restart: the rows come from S3 (the flushed WAL segments are gone) exactly once.
    let server = Server::start(&dir.data_dir(), &[], &env_refs(&env));
    let rows: Value = server.query(BY_SERVICE).into();
    assert_eq!(rows, expected);
    assert_eq!(
        server.scalar("SELECT count(DISTINCT event_id) FROM events"),
        8
    );
    server.stop_graceful();
}

#[test]
fn s3_store_settings_are_checked_at_start() {
    let dir = TestDir::new();
    let out = waylog_cli(&[
        "query",
        "--data-dir",
        dir.data_dir().to_str().unwrap(),
        "--cold-store",
        "s3://b/p",
        "--s3-endpoint",
        "http://127.0.0.1:9",
        "SELECT 1",
    ]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("WAYLOG_S3_ALLOW_HTTP"), "{out:?}");
}

/// An AWS shared credentials file and config file, profile `ci`, in `dir`: (credentials
/// path, config path).
fn write_aws_profile(dir: &std::path::Path) -> (String, String) {
    let credentials = dir.join("aws-credentials");
    let config = dir.join("aws-config");
    std::fs::write(
        &credentials,
        "[default]\naws_access_key_id = AKIDNOTTHISONE\n\n[ci]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .unwrap();
    std::fs::write(&config, "[profile ci]\nregion = us-east-1\n").unwrap();
    let s = |p: PathBuf| p.to_string_lossy().into_owned();
    (s(credentials), s(config))
}

/// S3 credentials and region from `AWS_PROFILE` in the shared credentials and config files
/// (no `AWS_*` keys, no `WAYLOG_S3_*` keys or region, instance metadata off): the server opens
/// the bucket and its flush lands. Without the profile it has no credentials at all and
/// cannot open the store. A profile that is in neither file is refused by name.
#[test]
fn s3_credentials_from_an_aws_profile_file() {
    let Some(s3) = S3Server::start("s3_credentials_from_an_aws_profile_file") else {
        return;
    };
    let dir = TestDir::new();
    std::fs::create_dir_all(dir.data_dir()).unwrap();
    let (credentials, config) = write_aws_profile(dir.data_dir().parent().unwrap());
    let env = [
        ("WAYLOG_COLD_STORE", s3.store("profile")),
        ("WAYLOG_S3_ENDPOINT", s3.endpoint.clone()),
        ("WAYLOG_S3_ALLOW_HTTP", "true".into()),
        ("AWS_PROFILE", "ci".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.clone()),
        ("AWS_CONFIG_FILE", config.clone()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ];
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&dir.data_dir(), &["--hot-window", "1s"], &refs);
    let events = service_events("profile", "checkout", 4, recent_base());
    assert_eq!(server.ingest(&events)["accepted"], json!(4));
    let empty = TestDir::new();
    std::fs::create_dir_all(empty.data_dir()).unwrap();
    let landed = wait_until(Duration::from_secs(30), || {
        s3.cli_rows(&empty.data_dir(), "profile", BY_SERVICE) == json!([["checkout", 4]])
    });
    assert!(landed, "rows never reached S3; log:\n{}", server.log());
    server.stop_graceful();

    let out = Command::new(BIN)
        .args(["query", "--data-dir"])
        .arg(empty.data_dir())
        .args(["--cold-store", &s3.store("profile")])
        .args(["--s3-endpoint", &s3.endpoint, "--s3-allow-http", "true"])
        .arg("SELECT 1")
        .env("AWS_PROFILE", "nope")
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_CONFIG_FILE", &config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("AWS_PROFILE=nope"), "{stderr}");
}

/// deltalake reads exactly the rows `waylog query` returns from the local cold tier, through
/// enough flushes to pass a checkpoint; this node's `txn` is the flushed WAL sequence; a
/// restart (rows from the table alone) still agrees.
#[test]
fn delta_readers_agree_with_waylog_query() {
    let test = "delta_readers_agree_with_waylog_query";
    let Some(python) = python_with(test, "deltalake, pyarrow") else {
        return;
    };
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &["--hot-window", "1s"], &[]);
    let base = recent_base();
    // Eleven flushes: version 0 creates the table, version 10 writes a checkpoint.
    for round in 0..11 {
        let events = service_events(&format!("d{round}"), ["api", "db"][round % 2], 2, base);
        assert_eq!(server.ingest(&events)["accepted"], json!(2));
        let flushed = wait_until(Duration::from_secs(20), || {
            manifest_files(&dir.data_dir()).len() > round
        });
        assert!(
            flushed,
            "flush {round} never committed; log:\n{}",
            server.log()
        );
    }
    let table = dir.cold_events_dir();
    assert!(
        table
            .join("_delta_log/00000000000000000010.checkpoint.parquet")
            .exists()
    );
    let app = format!("waylog-{}", node_id(&dir.data_dir()));
    let report = delta_check(&python, table.to_str().unwrap(), &app, None);
    assert_eq!(report["rows"], json!(22), "{report}");
    assert_eq!(report["pyarrow_rows"], json!(22), "{report}");
    assert_eq!(report["event_ids"], server_event_ids(&server), "{report}");
    assert_eq!(report["by_service"], json!({"api": 12, "db": 10}));
    // The txn is the last flushed WAL sequence: at least one per flush.
    assert!(report["txn"].as_u64().is_some_and(|v| v >= 11), "{report}");
    server.stop_graceful();

    let server = Server::start(&dir.data_dir(), &[], &[]);
    assert_eq!(server_event_ids(&server), report["event_ids"]);
    server.stop_graceful();
}

/// Two servers with their own data directories append to one S3 table: both commit (the
/// loser of a version race retries at the next one), neither loses or deletes the other's
/// files, and a third process reads both nodes' rows.
#[test]
fn two_nodes_append_to_one_s3_table() {
    let Some(s3) = S3Server::start("two_nodes_append_to_one_s3_table") else {
        return;
    };
    let env = s3.env("shared");
    let (dir_a, dir_b) = (TestDir::new(), TestDir::new());
    let a = Server::start(&dir_a.data_dir(), &["--hot-window", "1s"], &env_refs(&env));
    let b = Server::start(&dir_b.data_dir(), &["--hot-window", "1s"], &env_refs(&env));
    let base = recent_base();
    for round in 0..3 {
        assert_eq!(
            a.ingest(&service_events(&format!("a{round}"), "checkout", 4, base))["accepted"],
            json!(4)
        );
        assert_eq!(
            b.ingest(&service_events(&format!("b{round}"), "search", 3, base))["accepted"],
            json!(3)
        );
    }
    let reader = TestDir::new();
    std::fs::create_dir_all(reader.data_dir()).unwrap();
    let expected = json!([["checkout", 12], ["search", 9]]);
    let landed = wait_until(Duration::from_secs(40), || {
        s3.cli_rows(&reader.data_dir(), "shared", BY_SERVICE) == expected
    });
    assert!(
        landed,
        "both nodes' rows never reached the table; logs:\n{}\n{}",
        a.log(),
        b.log()
    );
    // Each node sees the other's flushed rows (it reads new commits every few seconds).
    for node in [&a, &b] {
        let seen = wait_until(Duration::from_secs(20), || {
            let rows: Value = node.query(BY_SERVICE).into();
            rows == expected
        });
        assert!(
            seen,
            "a node never saw the other's rows; log:\n{}",
            node.log()
        );
    }
    a.stop_graceful();
    b.stop_graceful();
    // Restarts remove only their own unreferenced files: nothing of the other goes.
    let a = Server::start(&dir_a.data_dir(), &[], &env_refs(&env));
    let b = Server::start(&dir_b.data_dir(), &[], &env_refs(&env));
    assert_eq!(
        s3.cli_rows(&reader.data_dir(), "shared", BY_SERVICE),
        expected
    );
    let report = delta_check(
        &test_python(),
        &format!("{}/events", s3.store("shared")),
        &format!("waylog-{}", node_id(&dir_b.data_dir())),
        Some(s3.delta_options()),
    );
    assert_eq!(report["rows"], json!(21), "{report}");
    assert!(report["txn"].as_u64().is_some_and(|v| v > 0), "{report}");
    a.stop_graceful();
    b.stop_graceful();
}

/// A TCP proxy on loopback in front of the S3 server that can be cut: an S3 outage that
/// keeps the stored objects (moto keeps them in memory).
struct Proxy {
    /// `http://127.0.0.1:PORT`
    endpoint: String,
    up: Arc<AtomicBool>,
    /// Connections refused while down.
    refused: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(target: &str) -> Proxy {
        let target = target.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let up = Arc::new(AtomicBool::new(true));
        let refused = Arc::new(AtomicUsize::new(0));
        let (up2, refused2) = (up.clone(), refused.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up2.load(Ordering::SeqCst) {
                    refused2.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                pump(client, server, up2.clone());
                pump(s2, c2, up2.clone());
            }
        });
        Proxy {
            endpoint,
            up,
            refused,
        }
    }

    /// Cut every connection and refuse new ones (`false`), or serve again (`true`).
    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

/// Copy `from` to `to` until either closes or the proxy goes down (then both are shut).
fn pump(mut from: TcpStream, mut to: TcpStream, up: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
        let mut buf = vec![0u8; 64 * 1024];
        while up.load(Ordering::SeqCst) {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
        let _ = from.shutdown(std::net::Shutdown::Both);
        let _ = to.shutdown(std::net::Shutdown::Both);
    });
}

/// The S3 store goes away mid-run: ingest keeps acknowledging (the WAL holds the rows, the
/// server answers from the hot tier) until the hot tier is full (`503 overloaded`), flushes
/// fail and retry; when the store returns every acknowledged row lands in the table exactly
/// once, and a restart agrees.
#[test]
fn an_s3_outage_loses_and_duplicates_nothing() {
    let Some(s3) = S3Server::start("an_s3_outage_loses_and_duplicates_nothing") else {
        return;
    };
    let proxy = Proxy::start(&s3.endpoint);
    let env = s3.env_via("outage", &proxy.endpoint);
    let dir = TestDir::new();
    let args = ["--hot-window", "1s", "--hot-max-bytes", "2MiB"];
    let server = Server::start(&dir.data_dir(), &args, &env_refs(&env));
    let reader = TestDir::new();
    std::fs::create_dir_all(reader.data_dir()).unwrap();
    let base = recent_base();
    assert_eq!(
        server.ingest(&service_events("o1", "checkout", 5, base))["accepted"],
        json!(5)
    );
    let first = json!([["checkout", 5]]);
    assert!(
        wait_until(Duration::from_secs(30), || s3.cli_rows(
            &reader.data_dir(),
            "outage",
            BY_SERVICE
        ) == first),
        "the first flush never landed; log:\n{}",
        server.log()
    );

    proxy.set_up(false);
    // One minute later than the flushed rows: a time filter prunes the flushed file.
    let later = base + 60 * SEC_NS;
    assert_eq!(
        server.ingest(&service_events("o2", "search", 4, later))["accepted"],
        json!(4)
    );
    // The flusher tried the store during the outage (a refused connection) ...
    assert!(
        wait_until(Duration::from_secs(30), || proxy
            .refused
            .load(Ordering::SeqCst)
            > 0),
        "no flush attempt reached the proxy; log:\n{}",
        server.log()
    );
    // ... the acknowledged rows are answered from the hot tier (the filter prunes the cold
    // file), a query that needs the store is refused as unavailable, and none of the new
    // rows is in the table.
    let hot_only = format!(
        "SELECT service, count(*) FROM events WHERE ts_start >= TIMESTAMP '{}' GROUP BY service",
        rfc3339(later)
    );
    let rows: Value = server.query(&hot_only).into();
    assert_eq!(rows, json!([["search", 4]]));
    assert_eq!(server.query_resp(BY_SERVICE).status, 503);
    assert_eq!(s3.cli_rows(&reader.data_dir(), "outage", BY_SERVICE), first);
    // Ingest goes on until the hot tier is full, then `503 overloaded`.
    let mut extra = 0;
    let mut refused = None;
    for i in 0..2_000 {
        let batch = service_events(&format!("o3-{i}"), "bulk", 50, later);
        let r = server.post_events("application/json", &serde_json::to_vec(&batch).unwrap());
        if r.status != 200 {
            refused = Some(r);
            break;
        }
        extra += r.json()["accepted"].as_i64().unwrap();
    }
    let refused = refused.expect("the hot tier never filled");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.body.contains("overloaded"), "{}", refused.body);
    assert!(extra > 0);
    let all = json!([["bulk", extra], ["checkout", 5], ["search", 4]]);

    proxy.set_up(true);
    assert!(
        wait_until(Duration::from_secs(90), || s3.cli_rows(
            &reader.data_dir(),
            "outage",
            BY_SERVICE
        ) == all),
        "the rows never landed after the outage; log:\n{}",
        server.log()
    );
    server.stop_graceful();
    let server = Server::start(&dir.data_dir(), &[], &env_refs(&env));
    assert_eq!(
        server.scalar("SELECT count(DISTINCT event_id) FROM events"),
        9 + extra
    );
    assert_eq!(server.count(), 9 + extra);
    server.stop_graceful();
}

/// Compaction and retention against the S3 server, in-process: small files of a closed hour
/// merge into one (deltalake then reads one file with every row), and retention removes the
/// expired rows from the table (deltalake reads none), each a Delta commit on S3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_and_retention_on_s3() {
    let Some(s3) = S3Server::start("compaction_and_retention_on_s3") else {
        return;
    };
    let dir = TestDir::new();
    let mut cfg = storage_config(&dir.data_dir(), Duration::from_secs(7 * 86400));
    cfg.cold_store = Some(s3.store("maint"));
    cfg.s3 = waylog::config::cold_store::S3Settings {
        endpoint: Some(s3.endpoint.clone()),
        region: Some("us-east-1".into()),
        allow_http: true,
        path_style: true,
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        session_token: None,
    };
    let clock = Arc::new(waylog::clock::SystemClock);
    let (storage, _) = Storage::open(cfg.clone(), clock.clone()).await.unwrap();
    let now = now_ns();
    let hour = (now - 3 * HOUR_NS) - (now - 3 * HOUR_NS).rem_euclid(HOUR_NS);
    // Ten flushes: versions 1..=10, so the table on S3 also has a checkpoint (version 10)
    // that the reopen below loads from.
    for f in 0..10 {
        let events = service_events(&format!("m{f}"), "api", 5, hour + f as i64 * SEC_NS);
        storage
            .append(TableId::Events, batch_of(&events, now))
            .await
            .unwrap();
        storage.flush(TableId::Events).await.unwrap();
    }
    assert_eq!(storage.compact_cold(TableId::Events).await.unwrap(), 10);
    storage.vacuum_all_for_test().await.unwrap();
    let python = test_python();
    let uri = format!("{}/events", s3.store("maint"));
    let app = format!("waylog-{}", node_id(&dir.data_dir()));
    let report = delta_check(&python, &uri, &app, Some(s3.delta_options()));
    assert_eq!(
        (report["files"].clone(), report["rows"].clone()),
        (json!(1), json!(50))
    );
    assert_eq!(report["version"], json!(11), "{report}");
    storage.close().unwrap();
    drop(storage);

    // Reopened with a one-hour retention: every row (ended three hours ago) expires.
    cfg.retention = Duration::from_secs(3600);
    let (storage, _) = Storage::open(cfg, clock).await.unwrap();
    assert_eq!(storage.table(TableId::Events).snapshot().cold_rows(), 50);
    assert_eq!(
        storage.enforce_retention(TableId::Events).await.unwrap(),
        50
    );
    storage.vacuum_all_for_test().await.unwrap();
    let report = delta_check(&python, &uri, &app, Some(s3.delta_options()));
    assert_eq!(
        (report["files"].clone(), report["rows"].clone()),
        (json!(0), json!(0))
    );
    storage.close().unwrap();
}
