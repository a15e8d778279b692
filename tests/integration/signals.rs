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
    let r = server.request(
        "POST",
        "/v1/signals",
        &[("Content-Type", "application/json")],
        Some(&big),
    );
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
    let removed = storage.enforce_retention(TableId::Signals).await.unwrap();
    assert_eq!(removed, 2);
    let engine = waylog::query::QueryEngine::new(storage.clone());
    let rows = sql_rows(&engine, "SELECT count(*) FROM signals").await;
    assert_eq!(rows[0][0], json!(2));
    storage.close().unwrap();
}
