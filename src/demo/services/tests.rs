//! The services against a capturing stand-in for waylog: real listeners on port 0, real
//! `traceparent` propagation, the events and signals as posted.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::*;

/// What the stand-in received: (path, `x-api-key`, body).
type Received = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

async fn capture(
    State((seen, path)): State<(Received, &'static str)>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, axum::Json<Value>) {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    seen.lock().push((path.to_string(), key, body));
    if path == "/v1/signals" {
        (
            StatusCode::CREATED,
            axum::Json(json!({"signal": {"signal_id": "sig_test"}})),
        )
    } else {
        (
            StatusCode::OK,
            axum::Json(json!({"accepted": 1, "rejected": []})),
        )
    }
}

/// A stand-in waylog on port 0; returns its URL.
async fn stand_in(seen: Received) -> String {
    let app = axum::Router::new()
        .route(
            "/v1/events",
            post(capture).with_state((seen.clone(), "/v1/events")),
        )
        .route(
            "/v1/signals",
            post(capture).with_state((seen, "/v1/signals")),
        );
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn any_ports() -> ServicePorts {
    ServicePorts {
        gateway: 0,
        checkout: 0,
        payment: 0,
        db: 0,
    }
}

/// POST to a service; (status, JSON body).
async fn post_json(out: &Outbound, url: String, body: &str) -> (u16, Value) {
    let a = out
        .send("POST", url, Vec::new(), Some(body.to_string()))
        .await
        .unwrap();
    (
        a.status,
        serde_json::from_str(&a.body).unwrap_or(Value::Null),
    )
}

fn events_of(seen: &Received, trace_id: &str) -> Vec<Value> {
    seen.lock()
        .iter()
        .filter(|(p, _, _)| p == "/v1/events")
        .flat_map(|(_, _, b)| b.as_array().cloned().unwrap_or_default())
        .filter(|e| e["trace_id"] == trace_id)
        .collect()
}

fn step_span(event: &Value, step: &str) -> String {
    event["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == step)
        .unwrap_or_else(|| panic!("no step {step} in {event}"))["span_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_services_propagate_traceparent_and_post_their_events() {
    let seen: Received = Arc::default();
    let config = ServicesConfig {
        ports: any_ports(),
        waylog_url: stand_in(seen.clone()).await,
        write_key: Some("demo".into()),
        seed: Some(3),
    };
    let bound = bind(config.clone()).await.unwrap();
    let gateway = bound.url(DemoService::Gateway);
    let (stop_tx, stop_rx) = watch::channel(false);
    let running = bound.spawn(stop_rx);
    let out = Outbound::new(&config);

    let (status, body) =
        post_json(&out, format!("{gateway}/purchase?scenario=payment_502"), "").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["scenario"], "payment_502");
    assert_eq!(body["status"], 502);
    let trace = body["trace_id"].as_str().unwrap().to_string();
    let events = events_of(&seen, &trace);
    let by = |svc: &str| {
        events
            .iter()
            .find(|e| e["service"] == svc)
            .unwrap_or_else(|| panic!("no {svc} event in {events:?}"))
            .clone()
    };
    assert_eq!(events.len(), 4, "{events:?}");
    let (gw, co, db, pay) = (by("api-gateway"), by("checkout"), by("db"), by("payment"));
    assert_eq!(gw["parent_span_id"].as_str().unwrap_or(""), "");
    assert_eq!(co["parent_span_id"], step_span(&gw, "checkout.purchase"));
    assert_eq!(db["parent_span_id"], step_span(&co, "db.load_cart"));
    assert_eq!(pay["parent_span_id"], step_span(&co, "payment.charge"));
    assert_eq!(co["anchor"]["error_code"], "PMT_502");
    assert_eq!(co["fields"]["user"], gw["fields"]["user"]);
    assert_eq!(pay["fields"]["http"]["status"], 502);
    assert!(
        seen.lock()
            .iter()
            .all(|(_, key, _)| key.as_deref() == Some("demo"))
    );

    let (status, body) = post_json(&out, format!("{gateway}/purchase?scenario=nope"), "").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_request");
    assert_eq!(body["error"]["detail"], "unknown scenario: nope");

    let (status, report) = post_json(
        &out,
        format!("{gateway}/demo/burst"),
        r#"{"requests": 8, "concurrency": 4}"#,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["requested"], 8);
    assert_eq!(report["accepted"], 8);
    assert!(report["by_scenario"]["payment_502"].as_u64().unwrap() >= 6);
    assert!(report["by_scenario"]["checkout_panic"].as_u64().unwrap() >= 1);
    let signals = report["signals"].as_array().unwrap();
    assert_eq!(signals.len(), 2);
    assert!(
        signals
            .iter()
            .all(|s| s["accepted"] == true && s["signal_id"] == "sig_test")
    );
    let runtime = seen
        .lock()
        .iter()
        .filter(|(p, _, b)| p == "/v1/signals" && b["type"] == "runtime")
        .count();
    assert!(runtime >= 1);

    stop_tx.send(true).unwrap();
    running.join().await.unwrap();
}

#[tokio::test]
async fn demo_services_bind_reports_the_taken_port() {
    let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = ServicesConfig {
        ports: ServicePorts {
            payment: port,
            ..any_ports()
        },
        waylog_url: "http://127.0.0.1:1".into(),
        write_key: None,
        seed: None,
    };
    let Err(e) = bind(config).await else {
        panic!("binding a taken port succeeded")
    };
    assert!(
        matches!(e, ServiceError::Bind { service: DemoService::Payment, port: p, .. } if p == port)
    );
    assert!(
        e.to_string()
            .starts_with(&format!("cannot listen on 127.0.0.1:{port} for payment: "))
    );
}
