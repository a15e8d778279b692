//! `POST /v1/signals` through the real server: stored durably in the `signals` table,
//! queryable and joinable with `events`, nothing stored on rejection, survives restart;
//! retention by signal timestamp (in-process, manual clock).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

fn post_signal(server: &Server, body: &Value) -> Resp {
    server.request(
        "POST",
        "/v1/signals",
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    )
}

fn deploy_signal(service: &str, ts_ns: i64) -> Value {
    json!({"type": "deploy", "source": "github-actions", "service": service, "env": "prod",
           "severity": "info", "reason": "RolloutComplete", "timestamp": rfc3339(ts_ns),
           "metadata": {"version": "2026.11.28-1", "pipeline": "gha-5521"}, "ticket": "CHG-1"})
}

#[test]
fn signals_are_stored_queryable_joinable_and_durable() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    let now = now_ns();
    let r = post_signal(&server, &deploy_signal("checkout", now - 60_000_000_000));
    assert_eq!(r.status, 201, "{}", r.body);
    let s = &r.json()["signal"];
    assert!(s["signal_id"].as_str().unwrap().starts_with("sig_"));
    assert_eq!(s["ticket"], json!("CHG-1"), "unknown fields round-trip");
    assert_eq!(
        s["metadata"],
        json!({"version": "2026.11.28-1", "pipeline": "gha-5521"})
    );

    // Rejections store nothing.
    for (body, status, code) in [
        (json!({"source": "x"}), 400, "invalid_field"),
        (json!([1]), 400, "invalid_json"),
        (
            json!({"type": "wrong", "source": "x", "service": "s", "env": "e", "severity": "info", "reason": "r", "timestamp": rfc3339(now)}),
            400,
            "unknown_type",
        ),
    ] {
        let r = post_signal(&server, &body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], json!(code));
    }
    let r = server.request(
        "PUT",
        "/v1/signals",
        &[("Content-Type", "application/json")],
        Some(b"{}"),
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["error"]["code"], json!("unsupported_method"));
    let big = vec![b' '; (1 << 20) + 1];
    // On its own connection: the server answers before reading the whole body.
    let r = try_post(
        &agent(),
        &format!("{}/v1/signals", server.url),
        &[("Content-Type", "application/json")],
        &big,
    )
    .unwrap();
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(server.scalar("SELECT count(*) FROM signals"), 1);

    // Joinable with events: failures per service in the 10 minutes after each deploy.
    let mut failing = event("after-deploy-1");
    failing["service"] = json!("checkout");
    failing["ts_start"] = json!(rfc3339(now - 30_000_000_000));
    server.ingest(&[failing]);
    let rows = server.query(
        "SELECT s.service, s.meta_version, count(e.event_id) AS failures \
         FROM signals s JOIN events e ON e.service = s.service \
           AND e.ts_start >= s.timestamp AND e.ts_start < s.timestamp + INTERVAL '10 minutes' \
         WHERE s.type = 'deploy' AND e.status <> 'ok' GROUP BY 1, 2",
    );
    assert_eq!(
        rows,
        vec![vec![json!("checkout"), json!("2026.11.28-1"), json!(1)]]
    );

    server.stop_graceful();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    assert_eq!(
        server.scalar("SELECT count(*) FROM signals WHERE extra LIKE '%CHG-1%'"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_retention_removes_old_signals_from_hot_and_cold() {
    use waylog::clock::ManualClock;
    use waylog::ingest::signals::{signals_to_batch, validate_signal};
    use waylog::storage::Storage;
    use waylog::storage::schema::TableId;
    let dir = TestDir::new();
    let now = now_ns();
    let clock = Arc::new(ManualClock::new(now));
    let mut cfg = storage_config(&dir.data_dir(), Duration::from_secs(7 * 86400));
    cfg.signal_retention = Duration::from_secs(72 * 3600);
    let (storage, _) = Storage::open(cfg, clock.clone()).await.unwrap();
    let hour = 3_600_000_000_000i64;
    let mk = |age_h: i64| {
        let body = deploy_signal("api", now - age_h * hour).to_string();
        validate_signal(body.as_bytes(), now).unwrap()
    };
    storage
        .append(
            TableId::Signals,
            signals_to_batch(&[mk(80), mk(1)]).unwrap(),
        )
        .await
        .unwrap();
    storage.flush(TableId::Signals).await.unwrap();
    storage
        .append(
            TableId::Signals,
            signals_to_batch(&[mk(90), mk(2)]).unwrap(),
        )
        .await
        .unwrap();
    // Alert rows carry their signal's timestamp and go with it.
    let alert_rows = |ages: &[i64]| {
        use datafusion::arrow::array::{
            ArrayRef, BooleanArray, StringArray, TimestampNanosecondArray,
        };
        let n = ages.len();
        let strs = |v: Option<&str>| -> ArrayRef { Arc::new(StringArray::from(vec![v; n])) };
        let ts = |v: Vec<i64>| -> ArrayRef {
            Arc::new(TimestampNanosecondArray::from(v).with_timezone("UTC"))
        };
        datafusion::arrow::array::RecordBatch::try_new(
            TableId::Alerts.schema(),
            vec![
                strs(Some("sig_x")),
                ts(vec![now; n]),
                strs(Some("alertmanager")),
                strs(None),
                strs(Some("firing")),
                strs(None),
                Arc::new(BooleanArray::from(vec![false; n])),
                strs(None),
                strs(Some("none")),
                ts(ages.iter().map(|h| now - h * hour).collect()),
            ],
        )
        .unwrap()
    };
    storage
        .append(TableId::Alerts, alert_rows(&[80, 1]))
        .await
        .unwrap();
    storage.flush(TableId::Alerts).await.unwrap();
    storage
        .append(TableId::Alerts, alert_rows(&[90]))
        .await
        .unwrap();
    let removed = storage.enforce_retention(TableId::Signals).await.unwrap();
    assert_eq!(removed, 2);
    let removed = storage.enforce_retention(TableId::Alerts).await.unwrap();
    assert_eq!(removed, 2);
    let engine = waylog::query::QueryEngine::new(storage.clone());
    let rows = sql_rows(&engine, "SELECT count(*) FROM signals").await;
    assert_eq!(rows[0][0], json!(2));
    let rows = sql_rows(&engine, "SELECT count(*) FROM alerts").await;
    assert_eq!(rows[0][0], json!(1));
    storage.close().unwrap();
}

#[test]
fn signals_list_filters_pages_and_prints() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    let now = now_ns();
    let sec = 1_000_000_000i64;
    let mk = |kind: &str, severity: &str, service: &str, age_s: i64| {
        json!({"type": kind, "source": "k8s", "service": service, "env": "prod",
               "severity": severity, "reason": format!("{kind}-{age_s}"),
               "timestamp": rfc3339(now - age_s * sec), "pod": "p-1"})
    };
    let inputs = [
        mk("runtime", "critical", "payment", 10),
        mk("deploy", "info", "checkout", 20),
        mk("dependency", "warning", "payment", 30),
        mk("runtime", "warning", "payment", 40),
        // Outside the default 1h window, inside the signal retention.
        mk("runtime", "critical", "payment", 2 * 3600),
    ];
    for body in &inputs {
        let r = post_signal(&server, body);
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let reasons = |v: &Value| -> Vec<String> {
        v["signals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["reason"].as_str().unwrap().to_string())
            .collect()
    };
    let r = server.get("/v1/signals");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["window"], "1h0m0s");
    assert_eq!(
        reasons(&v),
        ["runtime-10", "deploy-20", "dependency-30", "runtime-40"]
    );
    assert_eq!(
        v["signals"][0]["pod"], "p-1",
        "extras come back at top level"
    );
    assert_eq!(v["next_cursor"], Value::Null);

    let v = server
        .get("/v1/signals?type=runtime,%20dependency&service=payment")
        .json();
    assert_eq!(reasons(&v), ["runtime-10", "dependency-30", "runtime-40"]);
    let v = server.get("/v1/signals?severity=critical&window=3h").json();
    assert_eq!(reasons(&v), ["runtime-10", "runtime-7200"]);
    let v = server
        .get("/v1/signals?source=k8s&reason=deploy-20&env=prod")
        .json();
    assert_eq!(reasons(&v), ["deploy-20"]);

    // Pages of two follow the keyset cursor without gaps or repeats.
    let mut seen = Vec::new();
    let mut path = "/v1/signals?limit=2&window=3h".to_string();
    loop {
        let v = server.get(&path).json();
        seen.extend(reasons(&v));
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/signals?limit=2&window=3h&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "runtime-10",
            "deploy-20",
            "dependency-30",
            "runtime-40",
            "runtime-7200"
        ]
    );

    for (query, detail) in [
        ("type=deploy,wrong", "invalid type"),
        ("severity=error", "invalid severity"),
        ("bogus=1", "unknown query parameter: bogus"),
        ("window=73h", "window exceeds retention (72h0m0s)"),
    ] {
        let r = server.get(&format!("/v1/signals?{query}"));
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert_eq!(r.json()["error"]["detail"], detail, "{query}");
    }

    let out = waylog_cli(&["signals", "--addr", &server.url, "--type", "runtime"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("TIMESTAMP ") && lines[0].ends_with("  SIGNAL"),
        "{}",
        out.stdout
    );
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(
        lines[1].contains("runtime-10") && lines[1].contains("sig_"),
        "{}",
        out.stdout
    );
    let out = waylog_cli(&["signals", "--addr", &server.url, "--service", "nobody"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "No signals found.\n"));
    let out = waylog_cli(&["signals", "--addr", &server.url, "--type", "nope"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
}
