//! A real Prometheus (Debian `prometheus`, installed by `scripts/setup-test-deps.sh`) scrapes a
//! live `waylog serve` on loopback every second with a read key; the test drives ingest, a
//! query, an incident, an alert, signals and a triage report, then reads the series back
//! through Prometheus's HTTP API (`/api/v1/query`): the spec triage §9 series, the storage
//! series and the pre-seeded label sets.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

const READ_KEY: &str = "prom-read";
const SEC: i64 = 1_000_000_000;

/// The `prometheus` binary; a missing one fails the test with what to run.
fn prometheus_bin() -> PathBuf {
    for candidate in ["/usr/bin/prometheus", "/usr/local/bin/prometheus"] {
        let p = PathBuf::from(candidate);
        if p.exists() {
            return p;
        }
    }
    panic!("prometheus is not installed: run scripts/setup-test-deps.sh");
}

/// A free loopback port (Prometheus cannot report a port-0 bind): bind, read, release.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running Prometheus, killed (by pid) and reaped on drop.
struct Prometheus {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Scrape `target` (`host:port`) every second with the read key as a bearer token.
    fn start(dir: &Path, target: &str) -> Prometheus {
        std::fs::create_dir_all(dir).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: waylog\n    scrape_interval: 1s\n    scrape_timeout: 1s\n\
             \x20   metrics_path: /metrics\n    authorization:\n      type: Bearer\n      credentials: '{READ_KEY}'\n\
             \x20   static_configs:\n      - targets: ['{target}']\n"
        );
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = free_port();
        let log = dir.join("prometheus.log");
        let child = Command::new(prometheus_bin())
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .expect("starting prometheus");
        let p = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let ready = wait_until(Duration::from_secs(60), || {
            agent()
                .get(format!("{}/-/ready", p.url))
                .call()
                .is_ok_and(|r| r.status() == 200)
        });
        assert!(ready, "prometheus never became ready:\n{}", p.log());
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The instant vector of `expr`: (labels, value) per series.
    fn query(&self, expr: &str) -> Vec<(Value, f64)> {
        let r = read_resp(
            agent()
                .get(format!("{}/api/v1/query", self.url))
                .query("query", expr)
                .call(),
        )
        .expect("prometheus answers");
        let v = r.json();
        assert_eq!(v["status"], "success", "{expr}: {v}");
        v["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|s| {
                let value = s["value"][1].as_str().and_then(|x| x.parse().ok());
                (s["metric"].clone(), value.unwrap_or(f64::NAN))
            })
            .collect()
    }

    /// Wait (up to 60 s, scrapes are 1 s apart) until the single value of `expr` satisfies
    /// `ok`; fails naming the expression and the last answer.
    fn expect(&self, expr: &str, what: &str, ok: impl Fn(f64) -> bool) {
        let mut last = Vec::new();
        let held = wait_until(Duration::from_secs(60), || {
            last = self.query(expr);
            last.len() == 1 && ok(last[0].1)
        });
        assert!(held, "{expr}: expected {what}, Prometheus says {last:?}");
    }

    fn expect_eq(&self, expr: &str, want: f64) {
        self.expect(expr, &format!("= {want}"), |v| v == want);
    }
}

fn failing(id: &str, ts: i64) -> Value {
    let mut e = event_at(id, ts);
    e["env"] = json!("prod");
    e
}

fn post_json(server: &Server, path: &str, body: &Value, key: Option<&str>) -> Resp {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    server.request("POST", path, &headers, Some(body.to_string().as_bytes()))
}

fn signal(kind: &str) -> Value {
    json!({"type": kind, "source": "gha", "service": "checkout", "env": "prod",
           "severity": "info", "reason": "RolloutComplete", "timestamp": rfc3339(now_ns())})
}

#[test]
fn real_prometheus_scrapes_the_spec_and_storage_series() {
    let prometheus = prometheus_bin();
    assert!(prometheus.exists());
    let dir = TestDir::new();
    let server = Server::start(
        &dir.data_dir(),
        &["--incident-tick-interval", "1s"],
        &[("WAYLOG_READ_KEY", READ_KEY), ("WAYLOG_HOT_WINDOW", "1s")],
    );
    let target = server.url.trim_start_matches("http://").to_string();
    let prom = Prometheus::start(&dir.root.path().join("prometheus"), &target);
    prom.expect_eq("up{job=\"waylog\"}", 1.0);

    // Ingest: 8 failures of one family (an incident), then a query.
    let now = now_ns();
    let events: Vec<Value> = (0..8)
        .map(|i| failing(&format!("prom-{i}"), now - 60 * SEC + i * SEC))
        .collect();
    assert_eq!(server.ingest(&events)["accepted"], 8);
    let q = post_json(
        &server,
        "/v1/query",
        &json!({"sql": "SELECT count(*) AS n FROM events"}),
        Some(READ_KEY),
    );
    assert_eq!(q.status, 200, "{}", q.body);
    // OTLP/HTTP: the fixture export twice (the second time every span is a duplicate).
    let otlp = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/otlp/trace-request.json"
    ))
    .unwrap();
    for _ in 0..2 {
        let r = server.request(
            "POST",
            "/v1/traces",
            &[("Content-Type", "application/json")],
            Some(&otlp),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Signals: one stored, one refused as unknown_type.
    assert_eq!(
        post_json(&server, "/v1/signals", &signal("deploy"), None).status,
        201
    );
    let bad = post_json(&server, "/v1/signals", &signal("bogus"), None);
    assert_eq!(bad.json()["error"]["code"], "unknown_type", "{}", bad.body);

    // The engine opens the incident; an alert of the family matches it.
    let opened = wait_until(Duration::from_secs(60), || {
        let r = post_json(
            &server,
            "/v1/query",
            &json!({"sql": "SELECT incident_id FROM incidents WHERE status = 'active'"}),
            Some(READ_KEY),
        );
        r.status == 200 && r.json()["rows"].as_array().is_some_and(|a| a.len() == 1)
    });
    assert!(opened, "no incident opened; log:\n{}", server.log());
    let alert = json!({"source": "grafana-oncall", "service": "checkout", "env": "prod",
        "severity": "critical", "reason": "PMT_502 spike", "timestamp": rfc3339(now_ns()),
        "error_code": "PMT_502", "step": "payment.charge"});
    let r = post_json(&server, "/v1/alerts", &alert, None);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["match"]["strategy"], "family");
    let id = r.json()["match"]["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    let auth = format!("Bearer {READ_KEY}");
    let report = server.request(
        "GET",
        &format!("/v1/triage/{id}"),
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(report.status, 200, "{}", report.body);

    // Spec triage §9, through Prometheus.
    prom.expect_eq("waylog_incidents_opened_total", 1.0);
    prom.expect_eq("waylog_incidents_active", 1.0);
    prom.expect_eq("waylog_alerts_received_total{format=\"waylog\"}", 1.0);
    prom.expect_eq("waylog_alerts_matched_total{strategy=\"family\"}", 1.0);
    prom.expect_eq("waylog_signals_accepted_total", 1.0);
    prom.expect_eq(
        "waylog_signals_rejected_total{reason=\"unknown_type\"}",
        1.0,
    );
    prom.expect_eq("count(waylog_signals_rejected_total)", 10.0);
    prom.expect_eq("count(waylog_incident_classifications_total)", 15.0);
    // One classification per build, and every tick rebuilds the open incident.
    prom.expect(
        "sum(waylog_incident_classifications_total)",
        ">= 1 build",
        |v| v >= 1.0,
    );
    prom.expect_eq("count(waylog_triage_reports_total)", 8.0);
    prom.expect_eq(
        "waylog_triage_reports_total{format=\"json\",result=\"ok\"}",
        1.0,
    );
    prom.expect_eq("waylog_incident_tick_failures_total", 0.0);
    prom.expect(
        "waylog_incident_tick_latency_seconds_count",
        ">= 1 tick",
        |v| v >= 1.0,
    );
    prom.expect_eq("count(waylog_incident_tick_latency_seconds_bucket)", 13.0);
    // Ingest, durability, storage, query, process.
    prom.expect_eq(
        "waylog_ingest_events_total{route=\"events\",result=\"accepted\"}",
        8.0,
    );
    prom.expect("waylog_wal_fsync_seconds_count", ">= 4 fsyncs", |v| {
        v >= 4.0
    });
    prom.expect("waylog_wal_bytes", "> 0", |v| v > 0.0);
    prom.expect("waylog_storage_cold_files{table=\"events\"}", ">= 1", |v| {
        v >= 1.0
    });
    prom.expect("waylog_storage_cold_bytes{table=\"events\"}", "> 0", |v| {
        v > 0.0
    });
    prom.expect_eq("waylog_storage_hot_rows{table=\"events\"}", 0.0);
    // The 8 events and the OTLP spans stored (the fixture's old spans may meet retention).
    prom.expect(
        "waylog_storage_flushed_rows_total{table=\"events\"}",
        ">= 8",
        |v| v >= 8.0,
    );
    prom.expect("waylog_storage_flush_duration_seconds_count", ">= 1", |v| {
        v >= 1.0
    });
    prom.expect(
        "waylog_http_requests_total{route=\"/v1/query\",status=\"200\"}",
        ">= 2",
        |v| v >= 2.0,
    );
    prom.expect(
        "waylog_otlp_spans_received_total{transport=\"http\"}",
        "> 0",
        |v| v > 0.0,
    );
    // Every span received is stored, a duplicate, or dropped with a reason.
    prom.expect_eq(
        "waylog_otlp_spans_received_total{transport=\"http\"} - waylog_otlp_spans_accepted_total{transport=\"http\"} - on() sum(waylog_otlp_spans_dropped_total{transport=\"http\"})",
        0.0,
    );
    prom.expect(
        "waylog_otlp_spans_dropped_total{transport=\"http\",reason=\"duplicate\"}",
        "> 0 (the second export)",
        |v| v > 0.0,
    );
    prom.expect_eq("count(waylog_otlp_spans_dropped_total)", 14.0);
    prom.expect_eq("sum(waylog_job_up)", 4.0);
    prom.expect_eq("waylog_wal_poisoned", 0.0);
    prom.expect("waylog_process_resident_memory_bytes", "> 1 MB", |v| {
        v > 1e6
    });
    prom.expect("waylog_process_open_fds", "> 3", |v| v > 3.0);
    prom.expect_eq(
        &format!(
            "waylog_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        ),
        1.0,
    );
}
