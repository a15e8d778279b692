//! The cold tier on an S3-protocol server: moto's S3 server on loopback (`tests/peers/
//! s3_server.py`, installed by `scripts/setup-test-deps.sh`), reached through object_store's
//! real S3 client. Without moto the tests fail under `CI` and are skipped (with a notice)
//! elsewhere.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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
        let python = test_python();
        let probe = Command::new(&python)
            .args(["-c", "import moto.server, boto3"])
            .output();
        if !probe.as_ref().is_ok_and(|o| o.status.success()) {
            let msg = format!(
                "moto[server] is not importable by {python:?}; run scripts/setup-test-deps.sh"
            );
            if std::env::var_os("CI").is_some() {
                panic!("{msg}");
            }
            eprintln!("SKIPPED {test}: {msg}");
            return None;
        }
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
        vec![
            ("WAYLOG_COLD_STORE", self.store(prefix)),
            ("WAYLOG_S3_ENDPOINT", self.endpoint.clone()),
            ("WAYLOG_S3_ALLOW_HTTP", "true".into()),
            ("WAYLOG_S3_REGION", "us-east-1".into()),
            ("WAYLOG_S3_ACCESS_KEY_ID", "test".into()),
            ("WAYLOG_S3_SECRET_ACCESS_KEY", "test".into()),
        ]
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
    assert_eq!(s3.cli_rows(&empty.data_dir(), "other", BY_SERVICE), json!([]));
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
