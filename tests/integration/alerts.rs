//! `POST /v1/alerts` through the real server (spec triage §7): every shared fixture becomes
//! the expected `signals` + `alerts` rows, the response shape, every whole-request error with
//! nothing stored, write-scope auth; and a real Prometheus Alertmanager delivering firing and
//! resolved notifications to waylog's webhook.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/alerts")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn post_alert(server: &Server, path: &str, body: &[u8]) -> Resp {
    server.request(
        "POST",
        path,
        &[("Content-Type", "application/json")],
        Some(body),
    )
}

/// `(format, service, env, severity, alert_id, alert_status, strategy)` of every alert row,
/// joined with its signal, in a stable order.
fn alert_rows(server: &Server) -> Vec<Vec<Value>> {
    server.query(
        "SELECT a.format, s.service, s.env, s.severity, a.alert_id, a.alert_status, \
                a.match_strategy, s.type, s.meta_error_code \
         FROM alerts a JOIN signals s ON s.signal_id = a.signal_id \
         ORDER BY a.format, s.service, a.alert_id, a.alert_status",
    )
}

#[test]
fn alert_fixtures_become_signal_and_alert_rows() {
    let dir = TestDir::new();
    // The fixtures are dated 2026-05-12; a long signal retention keeps them listable.
    let server = Server::start(
        &dir.data_dir(),
        &[],
        &[("WAYLOG_SIGNAL_RETENTION", "8760h")],
    );

    let r = post_alert(&server, "/v1/alerts", &fixture("alertmanager-firing.json"));
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    assert_eq!(v["results"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["rejected"], json!([]));
    assert_eq!(v["match"], json!({"matched": false, "strategy": "none"}));
    assert_eq!(v["signal"], v["results"][0]["signal"]);
    assert_eq!(v["signal"]["type"], "alert");
    assert_eq!(v["signal"]["source"], "alertmanager");
    // Key order of the response: signal, match, results, rejected.
    let at: Vec<usize> = ["\"signal\"", "\"match\"", "\"results\"", "\"rejected\""]
        .iter()
        .map(|k| r.body.find(k).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", r.body);

    for (name, path) in [
        ("alertmanager-resolved.json", "/v1/alerts"),
        ("grafana-unified.json", "/v1/alerts"),
        ("grafana-legacy.json", "/v1/alerts"),
        (
            "pagerduty-v3-incident-triggered.json",
            "/v1/alerts?env=prod",
        ),
        ("waylog-native.json", "/v1/alerts"),
    ] {
        let r = post_alert(&server, path, &fixture(name));
        assert_eq!(r.status, 201, "{name}: {}", r.body);
    }
    let rows = alert_rows(&server);
    let expected = vec![
        // Alertmanager: one row per alert of alerts[], firing then resolved (severity info).
        json!([
            "alertmanager",
            "checkout",
            "prod",
            "critical",
            null,
            "firing",
            "none",
            "alert",
            "PMT_502"
        ]),
        json!([
            "alertmanager",
            "checkout",
            "prod",
            "info",
            null,
            "resolved",
            "none",
            "alert",
            "PMT_502"
        ]),
        json!([
            "alertmanager",
            "payment",
            "prod",
            "critical",
            null,
            "firing",
            "none",
            "alert",
            "PMT_502"
        ]),
        json!([
            "alertmanager",
            "payment",
            "prod",
            "info",
            null,
            "resolved",
            "none",
            "alert",
            "PMT_502"
        ]),
    ];
    let am: Vec<Value> = rows
        .iter()
        .filter(|r| r[0] == "alertmanager")
        .map(|r| {
            let mut r = r.clone();
            r[4] = Value::Null; // fingerprints are checked below
            Value::Array(r)
        })
        .collect();
    assert_eq!(am, expected, "{rows:?}");
    let ids = server.query(
        "SELECT DISTINCT alert_id, fingerprint FROM alerts WHERE format = 'alertmanager' ORDER BY 1",
    );
    assert!(
        ids.iter().all(|r| r[0] == r[1] && r[0].is_string()),
        "{ids:?}"
    );
    assert_eq!(ids.len(), 2);

    let others: Vec<Vec<Value>> = rows
        .into_iter()
        .filter(|r| r[0] != "alertmanager")
        .collect();
    let formats: Vec<(&str, &str)> = others
        .iter()
        .map(|r| (r[0].as_str().unwrap(), r[1].as_str().unwrap()))
        .collect();
    assert_eq!(
        formats,
        [
            ("grafana", "checkout"),
            ("grafana", "payment"),
            ("grafana", "payment"),
            ("pagerduty", "payment"),
            ("waylog", "checkout"),
        ],
        "{others:?}"
    );
    assert!(others.iter().all(|r| r[2] == "prod"), "{others:?}");
    let pd = others.iter().find(|r| r[0] == "pagerduty").unwrap();
    assert_eq!(pd[3], "critical", "{pd:?}");
    assert_eq!(pd[5], "incident.triggered", "{pd:?}");

    // Listed through GET /v1/signals too (type alert).
    let v = server
        .get("/v1/signals?type=alert&window=8760h&limit=200")
        .json();
    assert_eq!(v["signals"].as_array().unwrap().len(), 9, "{v}");
}

#[test]
fn alert_rejections_store_nothing() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[("WAYLOG_WRITE_KEY", "k")]);
    let auth = [
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer k"),
    ];
    let post = |path: &str, body: &[u8]| server.request("POST", path, &auth, Some(body));
    let r = post_alert(&server, "/v1/alerts", &fixture("waylog-native.json"));
    assert_eq!(r.status, 401);
    let big = [
        b"{\"source\":\"x\",\"pad\":\"".as_slice(),
        &vec![b'a'; 1 << 20],
        b"\"}",
    ]
    .concat();
    for (path, body, status, code, detail) in [
        ("/v1/alerts", b"[1,2]".to_vec(), 400, "INVALID_JSON", None),
        ("/v1/alerts", b"{\"x\":".to_vec(), 400, "INVALID_JSON", None),
        (
            "/v1/alerts",
            b"{\"hello\":1}".to_vec(),
            400,
            "UNSUPPORTED_ALERT",
            Some("expected waylog, alertmanager, grafana, or pagerduty payload"),
        ),
        (
            "/v1/alerts",
            br#"{"source":"nagios","service":"a"}"#.to_vec(),
            400,
            "MISSING_FIELDS",
            Some("service, env, and reason are required"),
        ),
        (
            "/v1/alerts",
            br#"{"receiver":"w","alerts":[]}"#.to_vec(),
            400,
            "MISSING_FIELDS",
            Some("alerts[] is empty"),
        ),
        (
            "/v1/alerts?team=x",
            fixture("waylog-native.json"),
            400,
            "INVALID_JSON",
            Some("unknown query parameter: team"),
        ),
    ] {
        let r = post(path, &body);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        let e = &r.json()["error"];
        assert_eq!(e["code"], code, "{}", r.body);
        if let Some(d) = detail {
            assert_eq!(e["detail"], d, "{}", r.body);
        }
    }
    // Oversize on its own connection: the server answers before reading the whole body and
    // closes that connection, which a pooled agent could otherwise reuse.
    let r = try_post(&agent(), &format!("{}/v1/alerts", server.url), &auth, &big).unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "INVALID_JSON");
    assert_eq!(r.json()["error"]["detail"], "request body exceeds 1 MB");
    let r = server.request("PUT", "/v1/alerts", &auth, Some(b"{}"));
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["error"]["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(server.scalar("SELECT count(*) FROM signals"), 0);
    assert_eq!(server.scalar("SELECT count(*) FROM alerts"), 0);

    // A payload with one bad alert: 201, the bad one listed by position, the good one stored.
    let mixed = json!({"receiver": "w", "alerts": [
        {"status": "firing", "labels": {"alertname": "A", "env": "prod"}},
        {"status": "firing", "labels": {"alertname": "B", "service": "checkout", "env": "prod"}}]});
    let r = post("/v1/alerts", mixed.to_string().as_bytes());
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    assert_eq!(v["rejected"][0]["position"], 0);
    assert_eq!(v["rejected"][0]["code"], "MISSING_FIELDS");
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    assert_eq!(server.scalar("SELECT count(*) FROM alerts"), 1);
    assert_eq!(server.scalar("SELECT count(*) FROM signals"), 1);
}

/// The `prometheus-alertmanager` binary (Debian installs it as `/usr/bin/prometheus-alertmanager`).
fn alertmanager_bin() -> PathBuf {
    for candidate in ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"] {
        let p = PathBuf::from(candidate);
        if p.exists() {
            return p;
        }
    }
    panic!("prometheus-alertmanager is not installed: run scripts/setup-test-deps.sh");
}

/// A free loopback port (Alertmanager cannot report a port-0 bind).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Alertmanager {
    child: Child,
    url: String,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        // Clean up by pid: the child is ours.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_alertmanager(dir: &std::path::Path, webhook: &str, key: &str) -> Alertmanager {
    let config = format!(
        "route:\n  receiver: waylog\n  group_by: ['alertname', 'env']\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n  - name: waylog\n    webhook_configs:\n      - url: '{webhook}'\n        send_resolved: true\n        http_config:\n          authorization:\n            type: Bearer\n            credentials: '{key}'\n"
    );
    let config_path = dir.join("alertmanager.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let cluster_port = free_port();
    let log = std::fs::File::create(dir.join("alertmanager.log")).unwrap();
    let child = Command::new(alertmanager_bin())
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--cluster.listen-address=127.0.0.1:{cluster_port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("starting prometheus-alertmanager");
    let am = Alertmanager {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let ready = wait_until(Duration::from_secs(30), || {
        agent()
            .get(format!("{}/-/ready", am.url))
            .call()
            .is_ok_and(|r| r.status() == 200)
    });
    assert!(
        ready,
        "alertmanager never became ready: {}",
        std::fs::read_to_string(dir.join("alertmanager.log")).unwrap_or_default()
    );
    am
}

fn post_to_alertmanager(am: &Alertmanager, alerts: &Value) {
    let r = agent()
        .post(format!("{}/api/v2/alerts", am.url))
        .header("Content-Type", "application/json")
        .send(alerts.to_string().as_bytes())
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn real_alertmanager_delivers_firing_and_resolved_alerts() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[("WAYLOG_WRITE_KEY", "am-key")]);
    let am_dir = dir.data_dir().parent().unwrap().join("alertmanager");
    std::fs::create_dir_all(&am_dir).unwrap();
    let am = start_alertmanager(&am_dir, &format!("{}/v1/alerts", server.url), "am-key");

    let starts = rfc3339(now_ns() - 30_000_000_000);
    let alert = |name: &str, service: &str, ends: Option<String>| {
        let mut a = json!({
            "labels": {"alertname": name, "service": service, "env": "prod",
                       "severity": "critical", "error_code": "PMT_502"},
            "annotations": {"summary": format!("{service} failing with PMT_502")},
            "startsAt": starts,
            "generatorURL": "http://prometheus.example/graph"
        });
        if let Some(e) = ends {
            a["endsAt"] = json!(e);
        }
        a
    };
    post_to_alertmanager(
        &am,
        &json!([
            alert("PaymentErrors", "payment", None),
            alert("CheckoutErrors", "checkout", None)
        ]),
    );
    let firing = "SELECT count(*) FROM alerts WHERE alert_status = 'firing'";
    let ok = wait_until(Duration::from_secs(60), || server.scalar(firing) >= 2);
    assert!(
        ok,
        "firing alerts did not arrive; waylog log:\n{}",
        server.log()
    );
    let rows = server.query(
        // DISTINCT: Alertmanager may notify the group again when its second alert joins it,
        // so an alert can arrive more than once (one row per alert per notification).
        "SELECT DISTINCT s.service, s.env, s.severity, s.source, s.meta_error_code, a.format \
         FROM alerts a JOIN signals s USING (signal_id) WHERE a.alert_status = 'firing' \
         ORDER BY s.service",
    );
    assert_eq!(
        rows,
        vec![
            vec![
                json!("checkout"),
                json!("prod"),
                json!("critical"),
                json!("alertmanager"),
                json!("PMT_502"),
                json!("alertmanager")
            ],
            vec![
                json!("payment"),
                json!("prod"),
                json!("critical"),
                json!("alertmanager"),
                json!("PMT_502"),
                json!("alertmanager")
            ],
        ]
    );

    // Resolve both: Alertmanager sends the resolved notification.
    let ended = Some(rfc3339(now_ns() - 1_000_000_000));
    post_to_alertmanager(
        &am,
        &json!([
            alert("PaymentErrors", "payment", ended.clone()),
            alert("CheckoutErrors", "checkout", ended)
        ]),
    );
    let resolved = "SELECT count(*) FROM alerts WHERE alert_status = 'resolved'";
    let ok = wait_until(Duration::from_secs(60), || server.scalar(resolved) >= 2);
    assert!(
        ok,
        "resolved alerts did not arrive; waylog log:\n{}",
        server.log()
    );
    let severities = server.query(
        "SELECT DISTINCT s.severity FROM alerts a JOIN signals s USING (signal_id) \
         WHERE a.alert_status = 'resolved'",
    );
    assert_eq!(severities, vec![vec![json!("info")]]);
    // One row per alert per notification: the same fingerprints fired and resolved.
    let pairs = server.scalar("SELECT count(DISTINCT fingerprint) FROM alerts");
    assert_eq!(pairs, 2);
}
