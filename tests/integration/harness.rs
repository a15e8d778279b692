//! Shared test plumbing: the real `waylog` binary on port 0 with a temp data dir, a small HTTP
//! client, schema-2.0 event builders and the in-process storage helpers.
//!
//! A [`Server`] owns its child process: dropping it sends SIGKILL and reaps the child, so a
//! failing test never leaves a server behind. The server's stderr (its log) goes to a file next
//! to the data directory and is quoted in startup failures.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use waylog::rfc3339::format_rfc3339_ns;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_waylog");

/// The vendor variables `waylog serve` reads for Ask (spec reads §6.5); removed from every
/// server a test starts.
pub const LLM_VARIABLES: &[&str] = &[
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_MODEL",
    "ANTHROPIC_MODEL",
    "OPENAI_MODEL",
    "GEMINI_API_BASE",
    "ANTHROPIC_API_BASE",
    "OPENAI_API_BASE",
];

/// How long a server may take from spawn to `/readyz` 200 (debug build, busy 2-core machine).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A temp directory holding one data directory (`<root>/data`) and the server logs.
pub struct TestDir {
    pub root: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            root: tempfile::Builder::new()
                .prefix("waylog-it-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    pub fn cold_events_dir(&self) -> PathBuf {
        self.data_dir().join("cold").join("events")
    }
}

/// One HTTP response, fully read.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.body))
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Read a whole response (transport errors are returned).
pub fn read_resp(
    r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Resp, ureq::Error> {
    let mut r = r?;
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = r
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_string()?;
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// `POST url` with the given headers and raw body; transport errors are returned.
pub fn try_post(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Resp, ureq::Error> {
    let mut req = agent.post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    read_resp(req.send(body))
}

static LOG_SEQ: AtomicU64 = AtomicU64::new(0);

/// The stdout lines `waylog serve` prints while starting, in this order.
#[derive(Debug)]
enum StartupLine {
    /// `waylog listening on http://ADDR`
    Http(String),
    /// `waylog otlp grpc listening on ADDR` (only when OTLP/gRPC is enabled)
    Grpc(String),
    /// `waylog ready (...)`
    Ready,
}

/// A running `waylog serve`.
pub struct Server {
    child: Option<Child>,
    pub pid: u32,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// `127.0.0.1:PORT` of the OTLP/gRPC listener, when the server started one.
    pub grpc_addr: Option<String>,
    pub log_path: PathBuf,
    agent: ureq::Agent,
}

impl Server {
    /// Start on `data_dir` with extra flags and environment; waits until `/readyz` answers 200.
    pub fn start(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let n = LOG_SEQ.fetch_add(1, Ordering::Relaxed);
        let log_dir = data_dir.parent().unwrap_or(data_dir).to_path_buf();
        let log_path = log_dir.join(format!("server-{}-{n}.log", std::process::id()));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("--addr")
            .arg("127.0.0.1:0")
            // Parallel tests: never the fixed default gRPC port.
            .arg("--otlp-grpc-addr")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        // Hermetic: settings come from this test only (the LLM vendor and AWS variables
        // included).
        for (k, _) in std::env::vars() {
            if k.starts_with("WAYLOG_")
                || k.starts_with("AWS_")
                || LLM_VARIABLES.contains(&k.as_str())
            {
                cmd.env_remove(k);
            }
        }
        cmd.env("WAYLOG_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let pid = child.id();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<StartupLine>();
        std::thread::spawn(move || {
            // Keep draining stdout after the startup lines so the child never blocks on it.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let parsed = if let Some(addr) = line.strip_prefix("waylog listening on ") {
                    StartupLine::Http(addr.trim().to_string())
                } else if let Some(addr) = line.strip_prefix("waylog otlp grpc listening on ") {
                    StartupLine::Grpc(addr.trim().to_string())
                } else if line.starts_with("waylog ready") {
                    StartupLine::Ready
                } else {
                    continue;
                };
                let _ = tx.send(parsed);
            }
        });
        let mut server = Server {
            child: Some(child),
            pid,
            url: String::new(),
            grpc_addr: None,
            log_path,
            agent: agent(),
        };
        match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(StartupLine::Http(url)) => server.url = url,
            other => panic!(
                "waylog did not print its address first ({other:?}); exit: {:?}; log:\n{}",
                server.child.as_mut().unwrap().try_wait(),
                server.log()
            ),
        }
        assert!(
            server.url.starts_with("http://127.0.0.1:"),
            "{}",
            server.url
        );
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(r) = read_resp(server.agent.get(format!("{}/readyz", server.url)).call())
                && r.status == 200
            {
                break;
            }
            if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "waylog exited during startup ({status}); log:\n{}",
                    server.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "waylog never became ready; log:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The gRPC address line (when OTLP/gRPC is on) comes before `waylog ready`, which may
        // trail the first `/readyz` 200.
        loop {
            match rx.recv_timeout(STARTUP_TIMEOUT) {
                Ok(StartupLine::Grpc(addr)) => server.grpc_addr = Some(addr),
                Ok(StartupLine::Ready) => break,
                other => panic!(
                    "waylog did not print `waylog ready` ({other:?}); log:\n{}",
                    server.log()
                ),
            }
        }
        server
    }

    /// `http://ADDR` of the OTLP/gRPC listener; panics when the server did not start one.
    pub fn grpc_url(&self) -> String {
        let addr = self
            .grpc_addr
            .as_deref()
            .expect("this server has no OTLP/gRPC listener");
        format!("http://{addr}")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// SIGTERM, wait for the exit, and assert it was clean (status 0).
    pub fn stop_graceful(mut self) {
        let status = self.terminate();
        assert!(
            status.success(),
            "waylog exited with {status} on SIGTERM; log:\n{}",
            self.log()
        );
    }

    /// SIGTERM and wait; returns the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server still running");
        let ok = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "waylog did not exit within 60 s of SIGTERM; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (no chance to clean up) and reap.
    pub fn kill9(mut self) {
        let mut child = self.child.take().expect("server still running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        let url = format!("{}{path}", self.url);
        let r = match (method, body) {
            ("GET", _) => {
                let mut req = self.agent.get(&url);
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.call()
            }
            ("POST", b) => {
                let mut req = self.agent.post(&url);
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.send(b.unwrap_or_default())
            }
            ("PUT", b) => {
                let mut req = self.agent.put(&url);
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.send(b.unwrap_or_default())
            }
            ("OPTIONS", _) => {
                let mut req = self.agent.options(&url);
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.call()
            }
            ("DELETE", _) => {
                let mut req = self.agent.delete(&url);
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.call()
            }
            (m, _) => panic!("unsupported method {m}"),
        };
        read_resp(r).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.request("GET", path, &[], None)
    }

    /// `POST /v1/events` with a content type (and optional extra headers).
    pub fn post_events(&self, content_type: &str, body: &[u8]) -> Resp {
        self.request(
            "POST",
            "/v1/events",
            &[("Content-Type", content_type)],
            Some(body),
        )
    }

    /// `POST /v1/events` of `events` as a JSON array; asserts 200 and returns the envelope.
    pub fn ingest(&self, events: &[Value]) -> Value {
        let r = self.post_events(
            "application/json",
            Value::Array(events.to_vec()).to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// `POST /v1/query`; returns the raw response.
    pub fn query_resp(&self, sql: &str) -> Resp {
        let body = json!({"sql": sql, "limit": 10000});
        self.request(
            "POST",
            "/v1/query",
            &[("Content-Type", "application/json")],
            Some(body.to_string().as_bytes()),
        )
    }

    /// The rows of a successful query.
    pub fn query(&self, sql: &str) -> Vec<Vec<Value>> {
        let r = self.query_resp(sql);
        assert_eq!(r.status, 200, "{sql}: {}", r.body);
        let v = r.json();
        assert_eq!(v["truncated"], json!(false), "{sql}: result truncated");
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().clone())
            .collect()
    }

    /// The single integer a `SELECT count(*) ...` returns.
    pub fn scalar(&self, sql: &str) -> i64 {
        let rows = self.query(sql);
        assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
        rows[0][0]
            .as_i64()
            .unwrap_or_else(|| panic!("{sql}: not an integer: {rows:?}"))
    }

    pub fn count(&self) -> i64 {
        self.scalar("SELECT count(*) FROM events")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The Python of the external test peers: `WAYLOG_TEST_PYTHON`, else the venv of
/// `scripts/setup-test-deps.sh` (`${WAYLOG_VENV:-$HOME/.cache/waylog-venv}`) when it exists,
/// else `python3`.
pub fn test_python() -> String {
    if let Ok(p) = std::env::var("WAYLOG_TEST_PYTHON")
        && !p.trim().is_empty()
    {
        return p;
    }
    let venv = std::env::var("WAYLOG_VENV")
        .ok()
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var("HOME")
                .ok()
                .map(|h| PathBuf::from(h).join(".cache/waylog-venv"))
        });
    if let Some(py) = venv.map(|v| v.join("bin/python"))
        && py.exists()
    {
        return py.to_string_lossy().into_owned();
    }
    "python3".to_string()
}

/// Output of one CLI run.
#[derive(Debug)]
pub struct CliOut {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `waylog <args>` to completion (no `WAYLOG_*` from the test environment).
pub fn waylog_cli(args: &[&str]) -> CliOut {
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("WAYLOG_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    CliOut {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Events.

pub fn now_ns() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(d.as_nanos()).unwrap()
}

pub fn rfc3339(ns: i64) -> String {
    format_rfc3339_ns(ns)
}

pub const SEC_NS: i64 = 1_000_000_000;
pub const HOUR_NS: i64 = 3600 * SEC_NS;

pub fn trace_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The valid example of spec events §1.9 with `event_id` = `id`, a fresh trace id and
/// `ts_start` one second ago.
pub fn event(id: &str) -> Value {
    event_at(id, now_ns() - SEC_NS)
}

/// The §1.9 example starting at `ts_start_ns` (ending 62 ms later).
pub fn event_at(id: &str, ts_start_ns: i64) -> Value {
    json!({
        "schema_version": "2.0",
        "event_id": id,
        "ts_start": rfc3339(ts_start_ns),
        "ts_end": rfc3339(ts_start_ns + 62_000_000),
        "duration_ms": 62,
        "kind": "http",
        "service": "checkout",
        "env": "prod",
        "version": "2026.05.04-1",
        "trace_id": trace_id(),
        "span_id": "a1b2c3d4e5f60718",
        "parent_span_id": "",
        "status": "error",
        "anchor": {"step": "payment.charge", "error_code": "PMT_502", "kind": "downstream"},
        "steps": [
            {"name": "cart.load", "start_ms": 0, "duration_ms": 6, "status": "ok"},
            {"name": "payment.charge", "span_id": "53995c3f42cd8ad8", "start_ms": 9, "duration_ms": 40,
             "status": "error",
             "downstream": {"service": "payment", "endpoint": "/charge", "kind": "http"},
             "error": {"code": "PMT_502", "reason": "acquirer returned 502"}}
        ],
        "logs": [{"ts_offset_ms": 50, "level": "warn", "msg": "payment failed, not retrying",
                  "fields": {"attempt": 1}}],
        "fields": {"http": {"method": "POST", "route": "/checkout", "status": 502},
                   "user": {"id": "u-8812", "region": "eu-west-1", "tier": "gold"}},
        "errors": [{"code": "PMT_502", "reason": "acquirer returned 502"}]
    })
}

/// A minimal valid `ok` event of `service` (no anchor, steps or fields).
pub fn ok_event(id: &str, service: &str) -> Value {
    let ts = now_ns() - SEC_NS;
    json!({
        "schema_version": "2.0",
        "event_id": id,
        "ts_start": rfc3339(ts),
        "ts_end": rfc3339(ts + 5_000_000),
        "kind": "http",
        "service": service,
        "env": "prod",
        "trace_id": trace_id(),
        "status": "ok"
    })
}

/// NDJSON body: one compact line per event.
pub fn ndjson(events: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        out.extend_from_slice(e.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).unwrap()
}

/// Every `*.parquet` data file under `dir`, recursively (sorted; not under `_delta_log`).
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                // The Delta log's checkpoints are Parquet too, but hold no rows.
                if !p.ends_with("_delta_log") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The `events` file paths (relative to the cold root) live in the newest version of the
/// `events` Delta table: every commit (`_delta_log/*.json`, all kept) replayed in order.
pub fn manifest_files(data_dir: &Path) -> Vec<String> {
    let dir = data_dir.join("cold/events/_delta_log");
    let mut commits: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    commits.sort();
    let mut live = std::collections::BTreeSet::new();
    for c in commits {
        for line in std::fs::read_to_string(&c).unwrap().lines() {
            let a: Value = serde_json::from_str(line).unwrap();
            if let Some(p) = a["add"]["path"].as_str() {
                live.insert(format!("events/{p}"));
            }
            if let Some(p) = a["remove"]["path"].as_str() {
                live.remove(&format!("events/{p}"));
            }
        }
    }
    live.into_iter().collect()
}

/// This data directory's node id (the tag of the cold files it writes).
pub fn node_id(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("node_id"))
        .unwrap()
        .trim()
        .to_string()
}

/// Poll `f` every 100 ms until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// In-process storage.

pub use waylog::storage::schema::TableId;
pub use waylog::storage::{Storage, StorageConfig};

/// Storage settings for an in-process test: the declared `waylog serve` defaults, except a
/// long hot window (nothing flushes by itself), a 1 GiB hot cap, no fsync and `retention` for
/// every table.
pub fn storage_config(data_dir: &Path, retention: Duration) -> StorageConfig {
    StorageConfig {
        wal_sync: false,
        hot_window: Duration::from_secs(3600),
        hot_max_bytes: 1 << 30,
        retention,
        signal_retention: retention,
        ..StorageConfig::from(&waylog::config::Config::for_data_dir(data_dir))
    }
}

/// Validate JSON events at `now` and turn them into one events record batch.
pub fn batch_of(events: &[Value], now: i64) -> datafusion::arrow::array::RecordBatch {
    let evs: Vec<_> = events
        .iter()
        .map(|e| waylog::model::validate::validate_item(e, now).unwrap())
        .collect();
    waylog::storage::schema::events_to_batch(&evs).unwrap()
}

/// Run user SQL in-process and return the rows as JSON values.
pub async fn sql_rows(engine: &waylog::query::QueryEngine, sql: &str) -> Vec<Vec<Value>> {
    let opts = waylog::query::QueryOptions {
        limit: 1_000_000,
        timeout: None,
        memory_bytes: 512 << 20,
    };
    let r = waylog::query::run_user_sql(engine, sql, &opts)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    waylog::query::output::rows_to_json(&r.batches, r.row_count)
}
