//! Router tests of the read API: the real router in-process (`oneshot`) over real storage in a
//! temp dir, fixtures appended through the storage writer, answers compared hot and cold.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::api::{AppState, SharedState, router, start_storage};
use crate::clock::ManualClock;
use crate::config::Config;
use crate::model::{Event, validate_item};
use crate::storage::Storage;
use crate::storage::schema::{TableId, events_to_batch};

/// 2026-05-04T10:00:00Z.
const NOW: i64 = 1_777_888_800_000_000_000;
const MS: i64 = 1_000_000;
/// Fixtures start 30 minutes before now.
const BASE: i64 = NOW - 30 * 60_000 * MS;

struct Harness {
    state: SharedState,
    storage: Arc<Storage>,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let _ = self.storage.close();
    }
}

fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config::for_data_dir(dir);
    config.wal_sync = false;
    config
}

async fn harness_with(edit: impl FnOnce(&mut Config)) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    edit(&mut config);
    let state = AppState::new(config, Arc::new(ManualClock::new(NOW)));
    let (stop, rx) = watch::channel(false);
    let storage = start_storage(&state, rx).await.unwrap();
    Harness {
        state,
        storage,
        stop,
        _dir: dir,
    }
}

async fn harness() -> Harness {
    harness_with(|_| {}).await
}

/// A harness whose storage runs no background task (no maintenance, index warmer or engine
/// loop), for tests that drive flushes and warm-ups themselves and count what they built.
async fn quiet_harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let state = AppState::new(config, Arc::new(ManualClock::new(NOW)));
    let (stop, _) = watch::channel(false);
    let (storage, _) = Storage::open(
        crate::storage::StorageConfig::from(&state.config),
        state.clock.clone(),
    )
    .await
    .unwrap();
    state.set_storage(storage.clone());
    Harness {
        state,
        storage,
        stop,
        _dir: dir,
    }
}

impl Harness {
    async fn ingest(&self, events: &[Event]) {
        let outcome = self
            .storage
            .append(TableId::Events, events_to_batch(events).unwrap())
            .await
            .unwrap();
        assert_eq!(outcome.accepted, events.len());
    }

    async fn flush(&self) {
        assert!(self.storage.flush(TableId::Events).await.unwrap() > 0);
        let snap = self.storage.snapshot();
        assert_eq!(snap[&TableId::Events].hot_rows(), 0);
    }

    async fn call(&self, method: &str, uri: &str, headers: &[(&str, &str)]) -> Reply {
        call(&self.state, method, uri, headers).await
    }

    async fn get(&self, uri: &str) -> Reply {
        self.call("GET", uri, &[]).await
    }

    /// A `200` body.
    async fn ok(&self, uri: &str) -> Value {
        let r = self.get(uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.body);
        r.body
    }
}

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn call(state: &SharedState, method: &str, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router(state.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

fn trace_id(n: u64) -> String {
    format!("{n:032x}")
}

fn span(prefix: u64, n: u64) -> String {
    format!("{:016x}", (prefix << 32) | n)
}

fn ts(ns: i64) -> String {
    crate::rfc3339::format_rfc3339_ns(ns)
}

/// A WideEvent under construction (JSON, validated on `build`).
struct E(Value);

fn ev(id: &str, trace: &str, service: &str, at_ms: i64) -> E {
    let start = BASE + at_ms * MS;
    E(json!({
        "schema_version": "2.0",
        "event_id": id,
        "ts_start": ts(start),
        "ts_end": ts(start + 10 * MS),
        "duration_ms": 10,
        "kind": "http",
        "service": service,
        "env": "prod",
        "trace_id": trace,
        "status": "ok",
    }))
}

impl E {
    fn status(mut self, s: &str) -> Self {
        self.0["status"] = json!(s);
        self
    }
    fn parent(mut self, p: &str) -> Self {
        self.0["parent_span_id"] = json!(p);
        self
    }
    fn step(mut self, name: &str, span_id: Option<&str>, status: &str) -> Self {
        let steps = self
            .0
            .as_object_mut()
            .unwrap()
            .entry("steps")
            .or_insert(json!([]));
        let n = steps.as_array().unwrap().len() as i64;
        let mut s = json!({"name": name, "start_ms": n, "duration_ms": 1, "status": status});
        if let Some(id) = span_id {
            s["span_id"] = json!(id);
        }
        steps.as_array_mut().unwrap().push(s);
        self
    }
    fn anchor(mut self, step: &str, code: &str) -> Self {
        self.0["anchor"] = json!({"step": step, "error_code": code});
        self
    }
    fn user(mut self, id: &str) -> Self {
        self.0["fields"] = json!({"user": {"id": id}, "http": {"route": "/r"}});
        self
    }
    fn build(self) -> Event {
        validate_item(&self.0, NOW).unwrap()
    }
}

/// The §3.5 cascade for trace `n` at `at_ms`: g (api-gateway) → c (checkout) → p (payment),
/// all failed. With `own_codes` the callers anchor `GW_DOWNSTREAM` / `CHK_DOWNSTREAM`; with
/// `dangling` p's parent span matches no step.
fn cascade(n: u64, at_ms: i64, own_codes: bool, dangling: bool) -> Vec<Event> {
    let t = trace_id(n);
    let (a1, b2, c3) = (span(1, n), span(2, n), span(3, n));
    let (gw, chk) = if own_codes {
        ("GW_DOWNSTREAM", "CHK_DOWNSTREAM")
    } else {
        ("PMT_502", "PMT_502")
    };
    let p_parent = if dangling { span(9, n) } else { b2.clone() };
    vec![
        ev(&format!("g{n}"), &t, "api-gateway", at_ms)
            .status("error")
            .step("checkout.purchase", Some(&a1), "error")
            .anchor("checkout.purchase", gw)
            .user(&format!("u{n}"))
            .build(),
        ev(&format!("c{n}"), &t, "checkout", at_ms + 1)
            .status("error")
            .parent(&a1)
            .step("cart.validate", None, "ok")
            .step("payment.charge", Some(&b2), "error")
            .anchor("payment.charge", chk)
            .build(),
        ev(&format!("p{n}"), &t, "payment", at_ms + 2)
            .status("error")
            .parent(&p_parent)
            .step("acquirer.charge", Some(&c3), "error")
            .anchor("acquirer.charge", "PMT_502")
            .build(),
    ]
}

fn cascades(count: u64, own_codes: bool, dangling: bool) -> Vec<Event> {
    (0..count)
        .flat_map(|n| cascade(n, n as i64 * 1000, own_codes, dangling))
        .collect()
}

fn ids(v: &Value, list: &str, key: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[key].as_str().unwrap().to_owned())
        .collect()
}

/// Follow `next_cursor` with `limit=1` and collect `key` of every row of `list`.
async fn pages(h: &Harness, path: &str, list: &str, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let sep = if path.contains('?') { '&' } else { '?' };
        let uri = match &cursor {
            Some(c) => format!("{path}{sep}limit=1&cursor={c}"),
            None => format!("{path}{sep}limit=1"),
        };
        let body = h.ok(&uri).await;
        let rows = body[list].as_array().unwrap();
        assert!(rows.len() <= 1);
        for r in rows {
            out.push(match key {
                "error_family" => format!(
                    "{}:{}:{}",
                    r[key]["service"].as_str().unwrap(),
                    r[key]["step"].as_str().unwrap(),
                    r[key]["error_code"].as_str().unwrap()
                ),
                _ => r[key].as_str().unwrap().to_owned(),
            });
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
    panic!("paging did not end");
}

// ---------------------------------------------------------------------------------------------
// §3.5 worked example.

#[tokio::test]
async fn errors_count_each_hop_of_the_worked_example() {
    let h = harness().await;
    h.ingest(&cascades(20, false, false)).await;
    let body = h.ok("/v1/errors").await;
    assert_eq!(body["window"], "1h0m0s");
    assert_eq!(body["next_cursor"], Value::Null);
    let rows = body["rows"].as_array().unwrap();
    let families: Vec<Value> = rows.iter().map(|r| r["error_family"].clone()).collect();
    assert_eq!(
        families,
        vec![
            json!({"service": "api-gateway", "step": "checkout.purchase", "error_code": "PMT_502"}),
            json!({"service": "checkout", "step": "payment.charge", "error_code": "PMT_502"}),
            json!({"service": "payment", "step": "acquirer.charge", "error_code": "PMT_502"}),
        ]
    );
    for r in rows {
        assert_eq!(r["count"], 20);
        assert_eq!(r["affected_traces"], 20);
        // Users live on the gateway hop only, but count over each trace's whole extent.
        assert_eq!(r["affected_users"], 20);
        assert_eq!(
            r["sample_traces"],
            json!([trace_id(19), trace_id(18), trace_id(17)])
        );
    }
}

#[tokio::test]
async fn rollup_counts_each_failed_request_once_in_worked_example() {
    let h = harness().await;
    h.ingest(&cascades(20, false, false)).await;
    let body = h.ok("/v1/rollups/root_cause").await;
    assert_eq!(
        body,
        json!({
            "window": "1h0m0s", "failed_traces": 20, "failed_events": 60,
            "rows": [{"error_code": "PMT_502", "root_cause_count": 20, "propagated_count": 60,
                      "affected_traces": 20, "affected_services": 3,
                      "top_services": ["api-gateway", "checkout", "payment"],
                      "origins": [{"service": "payment", "step": "acquirer.charge", "count": 20}],
                      "sample_traces": [trace_id(19), trace_id(18), trace_id(17)]}],
            "next_cursor": null
        })
    );
    let blast = h.ok("/v1/blast_radius?error_code=PMT_502").await;
    assert_eq!(blast["affected_requests"], 20);
    assert_eq!(blast["view_mode"], "cross_family");
    assert_eq!(blast["key"], json!({"error_code": "PMT_502"}));
    assert_eq!(blast["affected_users"], 20);
    assert_eq!(blast["affected_services"], 3);
    assert_eq!(
        blast["top_services"],
        json!(["api-gateway", "checkout", "payment"])
    );
}

#[tokio::test]
async fn rollup_with_callers_own_codes_credits_the_callee() {
    let h = harness().await;
    h.ingest(&cascades(20, true, false)).await;
    let body = h.ok("/v1/rollups/root_cause").await;
    let rows = body["rows"].as_array().unwrap();
    let summary: Vec<(String, i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["error_code"].as_str().unwrap().to_owned(),
                r["root_cause_count"].as_i64().unwrap(),
                r["propagated_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("PMT_502".into(), 20, 20),
            ("CHK_DOWNSTREAM".into(), 0, 20),
            ("GW_DOWNSTREAM".into(), 0, 20),
        ]
    );
    assert_eq!(rows[1]["origins"], json!([]));
    assert_eq!(rows[1]["sample_traces"], json!([]));
    assert_eq!(rows[1]["affected_services"], 3);
    assert_eq!(body["failed_traces"], 20);
    assert_eq!(body["failed_events"], 60);
    // Paging walks the same order.
    assert_eq!(
        pages(&h, "/v1/rollups/root_cause", "rows", "error_code").await,
        vec!["PMT_502", "CHK_DOWNSTREAM", "GW_DOWNSTREAM"]
    );
}

#[tokio::test]
async fn rollup_falls_back_to_earliest_failure_on_dangling_parent() {
    let h = harness().await;
    h.ingest(&cascades(3, true, true)).await;
    let body = h.ok("/v1/rollups/root_cause").await;
    let row = &body["rows"][0];
    assert_eq!(row["error_code"], "GW_DOWNSTREAM");
    assert_eq!(row["root_cause_count"], 3);
    assert_eq!(
        row["origins"],
        json!([{"service": "api-gateway", "step": "checkout.purchase", "count": 3}])
    );
    let story = h
        .ok(&format!("/v1/traces/story?trace_id={}", trace_id(1)))
        .await;
    assert_eq!(story["event_id"], "g1");
    assert_eq!(story["linkage"], "timestamp_fallback");
    let trace = h.ok(&format!("/v1/traces/{}", trace_id(1))).await;
    assert_eq!(trace["linkage"], "timestamp_fallback");
    assert_eq!(ids(&trace, "events", "event_id"), vec!["g1", "c1", "p1"]);
}

#[tokio::test]
async fn story_and_trace_follow_causal_links() {
    let h = harness().await;
    h.ingest(&cascades(2, false, false)).await;
    let story = h
        .ok(&format!("/v1/traces/story?trace_id={}", trace_id(1)))
        .await;
    // p carries no `fields`, so its route is empty.
    assert_eq!(
        story,
        json!({"trace_id": trace_id(1), "event_id": "p1", "service": "payment", "route": "",
               "status": "error", "anchor": {"step": "acquirer.charge", "error_code": "PMT_502"},
               "path": [{"name": "acquirer.charge", "start_ms": 0, "duration_ms": 1, "status": "error"}],
               "logs": [], "downstream": [], "linkage": "causal"})
    );
    let by_event = h.ok("/v1/traces/story?event_id=c1").await;
    assert_eq!(by_event["linkage"], "direct");
    assert_eq!(by_event["event_id"], "c1");
    assert_eq!(
        by_event["path"],
        json!([{"name": "cart.validate", "start_ms": 0, "duration_ms": 1, "status": "ok"},
               {"name": "payment.charge", "start_ms": 1, "duration_ms": 1, "status": "error"}])
    );
    let trace = h.ok(&format!("/v1/traces/{}", trace_id(1))).await;
    assert_eq!(trace["trace_id"], trace_id(1));
    assert_eq!(trace["linkage"], "causal");
    assert_eq!(ids(&trace, "events", "event_id"), vec!["g1", "c1", "p1"]);
}

#[tokio::test]
async fn rollup_resolves_failures_separated_by_a_healthy_hop() {
    let h = harness().await;
    let mut events = cascade(7, 0, true, false);
    events[1] = ev("c7", &trace_id(7), "checkout", 1)
        .parent(&span(1, 7))
        .step("payment.charge", Some(&span(2, 7)), "ok")
        .build();
    h.ingest(&events).await;
    let body = h.ok("/v1/rollups/root_cause").await;
    assert_eq!(body["rows"][0]["error_code"], "PMT_502");
    assert_eq!(body["rows"][0]["root_cause_count"], 1);
    assert_eq!(body["failed_events"], 2);
    let story = h
        .ok(&format!("/v1/traces/story?trace_id={}", trace_id(7)))
        .await;
    assert_eq!(story["event_id"], "p7");
    assert_eq!(story["linkage"], "causal");
}

// ---------------------------------------------------------------------------------------------
// Suppressed events.

fn suppressed_fixture() -> Vec<Event> {
    // Trace 1: g (error) → c (suppressed) → p (timeout). Trace 2: only a suppressed event.
    let t1 = trace_id(1);
    let t2 = trace_id(2);
    vec![
        ev("g1", &t1, "api-gateway", 0)
            .status("error")
            .step("checkout.purchase", Some(&span(1, 1)), "error")
            .anchor("checkout.purchase", "GW_DOWNSTREAM")
            .build(),
        ev("c1", &t1, "checkout", 1)
            .status("suppressed")
            .parent(&span(1, 1))
            .step("payment.charge", Some(&span(2, 1)), "error")
            .anchor("payment.charge", "CHK_DOWNSTREAM")
            .build(),
        ev("p1", &t1, "payment", 2)
            .status("timeout")
            .parent(&span(2, 1))
            .anchor("acquirer.charge", "PMT_TIMEOUT")
            .build(),
        ev("s2", &t2, "cron", 5000)
            .status("suppressed")
            .step("tick", None, "ok")
            .anchor("tick", "SUPPRESSED_NOISE")
            .build(),
    ]
}

#[tokio::test]
async fn suppressed_events_are_linked_but_never_counted() {
    let h = harness().await;
    h.ingest(&suppressed_fixture()).await;
    let body = h.ok("/v1/rollups/root_cause").await;
    assert_eq!(body["failed_traces"], 1);
    assert_eq!(body["failed_events"], 2);
    assert_eq!(body["rows"][0]["error_code"], "PMT_TIMEOUT");
    assert_eq!(body["rows"][0]["root_cause_count"], 1);
    let errors = h.ok("/v1/errors").await;
    let codes: Vec<&str> = errors["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error_family"]["error_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["GW_DOWNSTREAM", "PMT_TIMEOUT"]);

    // Search: suppressed only on request.
    let search = h.ok("/v1/events/search").await;
    assert_eq!(ids(&search, "events", "event_id"), vec!["p1", "g1"]);
    let search = h.ok("/v1/events/search?include_suppressed=true").await;
    assert_eq!(
        ids(&search, "events", "event_id"),
        vec!["s2", "p1", "c1", "g1"]
    );
    let search = h.ok("/v1/events/search?status=suppressed").await;
    assert_eq!(ids(&search, "events", "event_id"), vec!["s2", "c1"]);

    // Recent: trace 2 only with suppressed included; its resolved status is suppressed.
    let recent = h.ok("/v1/traces/recent").await;
    assert_eq!(ids(&recent, "traces", "trace_id"), vec![trace_id(1)]);
    assert_eq!(recent["traces"][0]["status"], "timeout");
    assert_eq!(
        recent["traces"][0]["anchor_summary"],
        "payment:acquirer.charge:PMT_TIMEOUT"
    );
    assert_eq!(
        recent["traces"][0]["services"],
        json!(["api-gateway", "checkout", "payment"])
    );
    let recent = h.ok("/v1/traces/recent?include_suppressed=1").await;
    assert_eq!(
        ids(&recent, "traces", "trace_id"),
        vec![trace_id(2), trace_id(1)]
    );
    assert_eq!(recent["traces"][0]["status"], "suppressed");
    assert_eq!(
        recent["traces"][0]["anchor_summary"],
        "cron:tick:SUPPRESSED_NOISE"
    );

    // Story: a suppressed event by id has no anchor, path, logs or downstream.
    let story = h.ok("/v1/traces/story?event_id=c1").await;
    assert_eq!(story["status"], "suppressed");
    assert_eq!(story["anchor"], Value::Null);
    assert_eq!(story["path"], json!([]));
    assert_eq!(story["linkage"], "direct");
    // A trace of suppressed events only has no story.
    let r = h
        .get(&format!("/v1/traces/story?trace_id={}", trace_id(2)))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["message"], "trace story not found");
}

// ---------------------------------------------------------------------------------------------
// Ties, ordering and paging.

/// Five single-event failed traces at the same instant with different codes and services.
fn ties_fixture() -> Vec<Event> {
    let mk = |n: u64, service: &str, code: &str| {
        ev(&format!("e{n}"), &trace_id(n), service, 100)
            .status("error")
            .anchor("work", code)
            .build()
    };
    vec![
        mk(5, "b-svc", "E_B"),
        mk(3, "a-svc", "E_A"),
        mk(4, "a-svc", "E_B"),
        mk(1, "c-svc", "E_A"),
        mk(2, "a-svc", "E_A"),
    ]
}

#[tokio::test]
async fn ties_order_deterministically_and_page_completely() {
    let h = harness().await;
    h.ingest(&ties_fixture()).await;

    let errors = h.ok("/v1/errors").await;
    let fams: Vec<String> = errors["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}:{}:{}",
                r["error_family"]["service"].as_str().unwrap(),
                r["error_family"]["step"].as_str().unwrap(),
                r["error_family"]["error_code"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        fams,
        vec![
            "a-svc:work:E_A",
            "a-svc:work:E_B",
            "b-svc:work:E_B",
            "c-svc:work:E_A"
        ]
    );
    assert_eq!(errors["rows"][0]["count"], 2);
    // Two traces at the same latest instant: trace_id asc.
    assert_eq!(
        errors["rows"][0]["sample_traces"],
        json!([trace_id(2), trace_id(3)])
    );
    // Users unknown → null.
    assert_eq!(errors["rows"][0]["affected_users"], Value::Null);
    assert_eq!(pages(&h, "/v1/errors", "rows", "error_family").await, fams);

    // Rollup: E_A and E_B both root 3? No: E_A has 3 traces (1, 2, 3), E_B 2 (4, 5).
    let rollup = h.ok("/v1/rollups/root_cause").await;
    let codes: Vec<(String, i64)> = rollup["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["error_code"].as_str().unwrap().to_owned(),
                r["root_cause_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(codes, vec![("E_A".into(), 3), ("E_B".into(), 2)]);
    assert_eq!(
        rollup["rows"][0]["origins"],
        json!([{"service": "a-svc", "step": "work", "count": 2},
               {"service": "c-svc", "step": "work", "count": 1}])
    );
    assert_eq!(
        rollup["rows"][0]["sample_traces"],
        json!([trace_id(1), trace_id(2), trace_id(3)])
    );
    assert_eq!(rollup["rows"][0]["top_services"], json!(["a-svc", "c-svc"]));

    // Recent and search: equal timestamps → id asc; paging yields the same sequence.
    let all_traces: Vec<String> = (1..=5).map(trace_id).collect();
    let recent = h.ok("/v1/traces/recent").await;
    assert_eq!(ids(&recent, "traces", "trace_id"), all_traces);
    assert_eq!(
        pages(&h, "/v1/traces/recent", "traces", "trace_id").await,
        all_traces
    );
    let all_events: Vec<String> = (1..=5).map(|n| format!("e{n}")).collect();
    let search = h.ok("/v1/events/search").await;
    assert_eq!(ids(&search, "events", "event_id"), all_events);
    assert_eq!(
        pages(&h, "/v1/events/search", "events", "event_id").await,
        all_events
    );
    let page = h.ok("/v1/events/search?limit=2").await;
    assert_eq!(ids(&page, "events", "event_id"), vec!["e1", "e2"]);
    assert!(page["next_cursor"].is_string());

    // Search filters.
    let by_code = h.ok("/v1/events/search?error_code=E_B&service=a-svc").await;
    assert_eq!(ids(&by_code, "events", "event_id"), vec!["e4"]);
    let by_trace = h
        .ok(&format!("/v1/events/search?trace_id={}", trace_id(5)))
        .await;
    assert_eq!(ids(&by_trace, "events", "event_id"), vec!["e5"]);
    let none = h.ok("/v1/events/search?status=ok").await;
    assert_eq!(none["events"], json!([]));
    assert_eq!(none["next_cursor"], Value::Null);

    // Errors filters.
    let filtered = h.ok("/v1/errors?service=a-svc&status=timeout,error").await;
    assert_eq!(filtered["rows"].as_array().unwrap().len(), 2);
    let none = h.ok("/v1/errors?status=aborted").await;
    assert_eq!(none["rows"], json!([]));

    // Blast radius, single family.
    let blast = h
        .ok("/v1/blast_radius?service=a-svc&step=work&error_code=E_A")
        .await;
    assert_eq!(blast["view_mode"], "single_family");
    assert_eq!(
        blast["key"],
        json!({"service": "a-svc", "step": "work", "error_code": "E_A"})
    );
    assert_eq!(blast["affected_requests"], 2);
    assert_eq!(blast["affected_users"], Value::Null);
    assert_eq!(blast["sample_traces"], json!([trace_id(2), trace_id(3)]));
    let same = h.ok("/v1/blast_radius?error_family=a-svc:work:E_A").await;
    assert_eq!(same, blast);
    let nothing = h.ok("/v1/blast_radius?error_code=NOPE").await;
    assert_eq!(
        nothing,
        json!({"key": {"error_code": "NOPE"}, "view_mode": "cross_family", "window": "1h0m0s",
               "affected_requests": 0, "affected_users": null, "affected_services": 0,
               "top_services": [], "sample_traces": []})
    );
}

// ---------------------------------------------------------------------------------------------
// Hot vs cold, windows.

#[tokio::test]
async fn reads_answer_the_same_before_and_after_flush() {
    let h = harness().await;
    let mut events = cascades(4, false, false);
    events.extend(cascades(3, true, true).into_iter().map(|mut e| {
        e.trace_id = e.trace_id.replacen('0', "a", 1);
        e.event_id = format!("x{}", e.event_id);
        e
    }));
    events.extend(suppressed_fixture().into_iter().map(|mut e| {
        e.trace_id = e.trace_id.replacen('0', "b", 1);
        e.event_id = format!("s{}", e.event_id);
        e
    }));
    h.ingest(&events).await;
    let uris = [
        "/v1/errors".to_string(),
        "/v1/errors?limit=2".to_string(),
        "/v1/rollups/root_cause".to_string(),
        "/v1/blast_radius?error_code=PMT_502".to_string(),
        "/v1/traces/recent?include_suppressed=true".to_string(),
        "/v1/events/search?limit=200".to_string(),
        format!("/v1/traces/{}", trace_id(2)),
        format!("/v1/traces/story?trace_id={}", trace_id(3)),
        "/v1/events/g1".to_string(),
    ];
    let mut before = Vec::new();
    for u in &uris {
        before.push(h.ok(u).await);
    }
    h.flush().await;
    for (u, b) in uris.iter().zip(&before) {
        assert_eq!(&h.ok(u).await, b, "{u}");
    }
}

/// More failed traces than `MIN_INDEXED_TRACES`, so errors, rollup and blast radius read the
/// cold files and hot batches through their trace indexes (`traced_events`); some traces
/// have events in two cold files and in the hot tier. The answers must equal the plain
/// join's.
#[tokio::test]
async fn indexed_trace_reads_answer_the_same_as_the_hot_tier() {
    use crate::query::trace_index::MIN_INDEXED_TRACES;
    let events = cascades(3 * MIN_INDEXED_TRACES as u64, false, false);
    // Trace 150 has one event in each cold file and one hot, trace 100 one in each file:
    // the stories read them through `trace_lookup` (existing indexes, bloom scans otherwise).
    let uris = [
        "/v1/errors".to_string(),
        "/v1/errors?limit=1".to_string(),
        "/v1/rollups/root_cause".to_string(),
        "/v1/blast_radius?error_code=PMT_502".to_string(),
        "/v1/blast_radius?service=checkout&step=payment.charge&error_code=PMT_502".to_string(),
        format!("/v1/traces/story?trace_id={}", trace_id(150)),
        format!("/v1/traces/{}", trace_id(100)),
    ];
    // Expected answers from the plain join: one event whose trace id is not 32 hex digits
    // (an unrelated healthy trace) makes the only hot batch unindexable.
    let hot = harness().await;
    let mut plain = events.clone();
    let mut odd = events[0].clone();
    odd.event_id = "unindexable".into();
    odd.trace_id = "not-a-hex-trace-id".into();
    odd.status = crate::model::EventStatus::Ok;
    odd.anchor = None;
    plain.push(odd);
    hot.ingest(&plain).await;
    let mut expected = Vec::new();
    for u in &uris {
        expected.push(hot.ok(u).await);
    }
    assert_eq!(expected[6]["events"].as_array().map(Vec::len), Some(3));
    assert!(
        expected[0]["rows"][0]["affected_users"]
            .as_i64()
            .unwrap_or(0)
            > 0
    );

    // The same events: a third flushed, then a third (the other hops of the same traces
    // too) flushed into a second file, the rest hot. No background warmer: this test counts
    // the indexes it builds (the warmer racing it made it flaky).
    let h = quiet_harness().await;
    let third = events.len() / 3;
    let mut split: [Vec<Event>; 3] = Default::default();
    for (i, e) in events.into_iter().enumerate() {
        split[(i % 3).min(i / third)].push(e);
    }
    for (i, part) in split.iter().enumerate() {
        h.ingest(part).await;
        if i < 2 {
            h.flush().await;
        }
    }
    for (u, want) in uris.iter().zip(&expected) {
        assert_eq!(&h.ok(u).await, want, "{u}");
    }
    let engine = h.state.engine().unwrap().clone();
    assert_eq!(
        engine.trace_index_files(),
        2,
        "cold files were read through the index"
    );

    // The warmer builds the indexes of new files before any read: after one more flush,
    // a pass builds exactly the new file's, and the answers stay the same. Before it, a
    // story reads the new (unindexed) file by scanning it and builds no index.
    h.flush().await;
    let footers = engine.cached_footers();
    for (u, want) in uris.iter().zip(&expected).skip(5) {
        assert_eq!(&h.ok(u).await, want, "{u} before the warm-up");
    }
    assert_eq!(engine.trace_index_files(), 2, "a lookup builds no index");
    let warmed = engine.warm_trace_indexes().await.unwrap();
    assert_eq!(warmed.cold_files, 1);
    assert_eq!(engine.trace_index_files(), 3);
    assert_eq!(
        engine.cached_footers(),
        footers + 1,
        "the new file's footer is loaded (by the stories' scan or the warm-up)"
    );
    assert_eq!(
        engine.warm_trace_indexes().await.unwrap(),
        Default::default()
    );
    for (u, want) in uris.iter().zip(&expected) {
        assert_eq!(&h.ok(u).await, want, "{u} after the warm-up");
    }
}

#[tokio::test]
async fn merged_hot_batches_answer_like_the_batches_they_replace() {
    // Hot compaction sorts failed traces first and failure scans read only that prefix of a
    // merged batch: every read model answers as before the merge.
    let mut events = cascades(40, false, false);
    // Healthy traces in between, so the merged batch has rows after its failed prefix.
    for i in 0..60u64 {
        let e = ev(
            &format!("healthy-{i}"),
            &trace_id(10_000 + i),
            "checkout",
            i as i64 * 700,
        )
        .build();
        events.insert((i * 2) as usize, e);
    }
    let uris = [
        "/v1/errors",
        "/v1/rollups/root_cause",
        "/v1/blast_radius?error_code=PMT_502",
        "/v1/traces/recent?status=error",
    ];
    // Expected: one appended batch (unsorted, scanned whole).
    let one = harness().await;
    one.ingest(&events).await;
    let mut expected = Vec::new();
    for u in uris {
        expected.push(one.ok(u).await);
    }
    // The same events in 20 appends, merged by hot compaction.
    let h = harness().await;
    for chunk in events.chunks(events.len().div_ceil(20)) {
        h.ingest(chunk).await;
    }
    h.storage.compact_hot(TableId::Events).await.unwrap();
    let snap = h.storage.table(TableId::Events).snapshot();
    assert!(
        snap.hot
            .iter()
            .any(|b| b.failed_rows > 0 && b.failed_rows < b.batch.num_rows()),
        "a merged batch with a failed prefix"
    );
    for (u, want) in uris.iter().zip(&expected) {
        assert_eq!(&h.ok(u).await, want, "{u}");
    }
}

#[tokio::test]
async fn windows_select_events_by_ts_start_and_echo_their_length() {
    let h = harness().await;
    // One failed event 30 min ago (BASE), one 2 h ago.
    let old = ev("old", &trace_id(1), "svc", -90 * 60_000)
        .status("error")
        .anchor("s", "OLD")
        .build();
    let new = ev("new", &trace_id(2), "svc", 0)
        .status("error")
        .anchor("s", "NEW")
        .build();
    h.ingest(&[old, new]).await;
    let codes = |v: &Value| -> Vec<String> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["error_family"]["error_code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(codes(&h.ok("/v1/errors").await), vec!["NEW"]);
    let three_h = h.ok("/v1/errors?window=3h").await;
    assert_eq!(three_h["window"], "3h0m0s");
    assert_eq!(codes(&three_h), vec!["NEW", "OLD"]);
    // since/until are inclusive at both ends.
    let at = ts(BASE);
    let exact = h.ok(&format!("/v1/errors?since={at}&until={at}")).await;
    assert_eq!(exact["window"], "0s");
    assert_eq!(codes(&exact), vec!["NEW"]);
    let before = h
        .ok(&format!(
            "/v1/errors?since={}&until={}",
            ts(BASE - 2 * 3600 * 1000 * MS),
            ts(BASE - 1)
        ))
        .await;
    assert_eq!(codes(&before), vec!["OLD"]);
    // Recent defaults to 24h.
    let recent = h.ok("/v1/traces/recent").await;
    assert_eq!(
        ids(&recent, "traces", "trace_id"),
        vec![trace_id(2), trace_id(1)]
    );
    assert_eq!(recent["traces"][0]["ts_start"], ts(BASE));
    assert_eq!(recent["traces"][0]["duration_ms"], 10);
    let recent = h.ok("/v1/traces/recent?window=1h").await;
    assert_eq!(ids(&recent, "traces", "trace_id"), vec![trace_id(2)]);
}

// ---------------------------------------------------------------------------------------------
// Events by id.

#[tokio::test]
async fn event_by_id_returns_the_normalized_wide_event() {
    let h = harness().await;
    let events = cascades(1, false, false);
    h.ingest(&events).await;
    let body = h.ok("/v1/events/g0").await;
    assert_eq!(
        body,
        json!({"event": serde_json::to_value(&events[0]).unwrap()})
    );
    assert_eq!(body["event"]["schema_version"], "2.0");
    assert_eq!(body["event"]["fields"]["user"]["id"], "u0");
    let r = h.get("/v1/events/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"error": {"code": "not_found", "message": "event not found", "detail": ""}})
    );
    // An id is percent-decoded; a decoded `/` is not an id.
    let r = h.get("/v1/events/g%30").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h.get("/v1/events/a%2Fb").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["message"], "not found");
    let r = h.get(&format!("/v1/traces/{}", trace_id(99))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["message"], "trace not found");
}

/// Dedup keeps a second row with the same id out of storage within the horizon, so the
/// "earliest of two rows" rule is checked on the read model itself.
#[tokio::test]
async fn event_by_id_prefers_the_earliest_of_two_stored_rows() {
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;
    let rows = vec![
        ev("dup", &trace_id(1), "late", 500).build(),
        ev("dup", &trace_id(1), "same-start-later-end", 100).build(),
        ev("other", &trace_id(1), "x", 0).build(),
    ];
    let mut earliest = ev("dup", &trace_id(1), "early", 100).build();
    earliest.ts_end_ns -= 5 * MS;
    let mut all = rows.clone();
    all.push(earliest);
    let batch = events_to_batch(&all).unwrap();
    let ctx = SessionContext::new();
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
    ctx.register_table("events", Arc::new(table)).unwrap();
    let got = super::traces::load_event(&ctx, "dup")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.service, "early");
    assert!(
        super::traces::load_event(&ctx, "none")
            .await
            .unwrap()
            .is_none()
    );
}

// ---------------------------------------------------------------------------------------------
// Every 400, 401, 404, 405, 429, 503, 422, 504.

async fn expect_error(h: &Harness, uri: &str, status: StatusCode, code: &str, detail: &str) {
    let r = h.get(uri).await;
    assert_eq!(r.status, status, "{uri}: {}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{uri}");
    assert_eq!(r.body["error"]["detail"], detail, "{uri}");
    assert_eq!(
        r.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/json"
    );
}

#[tokio::test]
async fn read_endpoints_answer_each_400() {
    let h = harness().await;
    let bad = StatusCode::BAD_REQUEST;
    let cases: &[(&str, &str, &str)] = &[
        (
            "/v1/errors?format=json",
            "bad_request",
            "unknown query parameter: format",
        ),
        (
            "/v1/events/search?envelope=v2",
            "bad_request",
            "unknown query parameter: envelope",
        ),
        (
            "/v1/traces/recent?limit=1&limit=2",
            "bad_request",
            "duplicate query parameter: limit",
        ),
        ("/v1/errors?limit=0", "bad_request", "invalid limit"),
        ("/v1/errors?limit=x", "bad_request", "invalid limit"),
        ("/v1/errors?limit=201", "over_limit", "limit must be <= 200"),
        (
            "/v1/events/search?status=ok,",
            "bad_request",
            "invalid status",
        ),
        (
            "/v1/errors?status=ok",
            "bad_request",
            "status must be one of error, timeout, partial, aborted",
        ),
        (
            "/v1/traces/recent?include_suppressed=yes",
            "bad_request",
            "invalid include_suppressed",
        ),
        ("/v1/errors?since=now", "bad_request", "invalid since"),
        (
            "/v1/errors?until=2026-05-04T10:00:00",
            "bad_request",
            "invalid until",
        ),
        (
            "/v1/errors?since=2026-04-01T00:00:00Z",
            "over_limit",
            "since is older than retention (168h0m0s)",
        ),
        (
            "/v1/errors?since=2026-05-04T09:00:00Z&until=2026-05-04T08:00:00Z",
            "bad_request",
            "since must not be after until",
        ),
        ("/v1/errors?window=0s", "bad_request", "invalid window"),
        (
            "/v1/rollups/root_cause?window=1w",
            "bad_request",
            "invalid window",
        ),
        (
            "/v1/blast_radius?error_code=X&window=8d",
            "over_limit",
            "window exceeds retention (168h0m0s)",
        ),
        ("/v1/errors?cursor=abc", "bad_request", "invalid cursor"),
        (
            "/v1/rollups/root_cause?cursor=eyJ0IjoxLCJlIjoieCJ9",
            "bad_request",
            "invalid cursor",
        ),
        (
            "/v1/traces/story",
            "bad_request",
            "exactly one of event_id or trace_id is required",
        ),
        (
            "/v1/traces/story?event_id=a&trace_id=b",
            "bad_request",
            "exactly one of event_id or trace_id is required",
        ),
        (
            "/v1/blast_radius",
            "bad_request",
            "error_family, service+step+error_code, or error_code is required",
        ),
        (
            "/v1/blast_radius?error_family=a:b:c&service=a",
            "bad_request",
            "use either error_family or service, step and error_code",
        ),
        (
            "/v1/blast_radius?error_family=a:b",
            "bad_request",
            "invalid error family key",
        ),
        (
            "/v1/blast_radius?service=a&error_code=c",
            "bad_request",
            "invalid error family key",
        ),
        (
            "/v1/events/e1?limit=1",
            "bad_request",
            "unknown query parameter: limit",
        ),
        (
            "/v1/capabilities?x=1",
            "bad_request",
            "unknown query parameter: x",
        ),
    ];
    for (uri, code, detail) in cases {
        expect_error(&h, uri, bad, code, detail).await;
    }
    let r = h.get("/v1/errors?limit=201").await;
    assert_eq!(r.body["error"]["message"], "limit exceeds maximum");
    let r = h.get("/v1/errors?window=30d").await;
    assert_eq!(r.body["error"]["message"], "time window exceeds maximum");
    // An empty value is absent: these succeed.
    for uri in [
        "/v1/errors?service=&limit=&cursor=",
        "/v1/traces/story?event_id=&trace_id=x",
    ] {
        let r = h.get(uri).await;
        assert_ne!(r.status, bad, "{uri}");
    }
}

#[tokio::test]
async fn read_endpoints_answer_405_with_allow() {
    let h = harness().await;
    for uri in [
        "/v1/errors",
        "/v1/rollups/root_cause",
        "/v1/blast_radius",
        "/v1/traces/story",
        "/v1/traces/recent",
        "/v1/traces/abc",
        "/v1/events/search",
        "/v1/events/abc",
        "/v1/capabilities",
    ] {
        let r = h.call("POST", uri, &[]).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{uri}");
        assert_eq!(r.headers.get(header::ALLOW).unwrap(), "GET");
        assert_eq!(r.body["error"]["code"], "method_not_allowed");
    }
}

#[tokio::test]
async fn read_endpoints_require_the_read_scope() {
    let h = harness_with(|c| {
        c.read_keys = vec!["rk".into()];
        c.write_keys = vec!["wk".into()];
    })
    .await;
    for creds in [
        &[][..],
        &[("authorization", "Bearer wk")][..],
        &[("x-api-key", "nope")][..],
    ] {
        let r = h.call("GET", "/v1/errors", creds).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers.get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer realm=\"waylog\", scope=\"read\""
        );
    }
    let r = h
        .call("GET", "/v1/errors", &[("authorization", "bearer rk")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .call("GET", "/v1/capabilities", &[("x-api-key", "rk")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.contains_key("x-request-id"));
}

/// The route × scope matrix: each key opens its own scope's routes and no other.
#[tokio::test]
async fn read_write_and_agent_scopes_are_disjoint() {
    let h = harness_with(|c| {
        c.read_keys = vec!["rk".into()];
        c.write_keys = vec!["wk".into()];
        c.agent_keys = vec!["ak".into()];
    })
    .await;
    let routes = [
        ("GET", "/v1/errors", "read"),
        ("GET", "/v1/capabilities", "read"),
        ("GET", "/v1/incidents/active", "read"),
        ("GET", "/v1/tools", "agent"),
        ("POST", "/v1/tools/graph_stats", "agent"),
        ("POST", "/v1/plans/execute", "agent"),
        ("POST", "/v1/ask", "agent"),
        ("GET", "/v1/stream/plans/0123456789abcdef", "agent"),
        ("POST", "/mcp", "agent"),
        ("POST", "/v1/events", "write"),
        ("POST", "/v1/signals", "write"),
    ];
    for (method, path, scope) in routes {
        for key in ["rk", "wk", "ak"] {
            let bearer = format!("Bearer {key}");
            let r = h
                .call(method, path, &[("authorization", bearer.as_str())])
                .await;
            let own = key == format!("{}k", &scope[..1]);
            if own {
                assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{method} {path} {key}");
            } else {
                assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path} {key}");
                assert_eq!(
                    r.headers.get(header::WWW_AUTHENTICATE).unwrap(),
                    &format!("Bearer realm=\"waylog\", scope=\"{scope}\"")
                );
            }
        }
    }
}

#[tokio::test]
async fn read_endpoints_are_rate_limited() {
    let h = harness_with(|c| c.rate_limit_read_rps = 1).await;
    assert_eq!(h.get("/v1/capabilities").await.status, StatusCode::OK);
    let r = h.get("/v1/capabilities").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers.get(header::RETRY_AFTER).unwrap(), "1");
}

#[tokio::test]
async fn reads_answer_503_before_storage_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::new(test_config(dir.path()), Arc::new(ManualClock::new(NOW)));
    let r = call(&state, "GET", "/v1/errors", &[]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["error"]["code"], "unavailable");
    assert_eq!(r.body["error"]["message"], "storage unavailable");
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    // Parameters are still checked first; capabilities need no storage.
    let r = call(&state, "GET", "/v1/errors?limit=0", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call(&state, "GET", "/v1/capabilities", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// `WAYLOG_TRACE_INDEX_BYTES` reaches the query engine's trace index cache.
#[tokio::test]
async fn the_engine_takes_the_trace_index_budget_from_the_config() {
    let h = harness_with(|c| c.trace_index_bytes = 3 << 20).await;
    assert_eq!(h.state.engine().unwrap().trace_index_bytes(), 3 << 20);
}

#[tokio::test]
async fn reads_answer_422_over_the_memory_cap() {
    let h = harness_with(|c| c.query_memory_bytes = 1024).await;
    h.ingest(&cascades(50, false, false)).await;
    let r = h.get("/v1/errors").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "resources_exhausted");
    assert_eq!(r.body["error"]["message"], "query exceeded memory limit");
}

#[tokio::test]
async fn reads_answer_504_past_the_deadline() {
    let h = harness_with(|c| c.query_timeout = Duration::ZERO).await;
    h.ingest(&cascades(5, false, false)).await;
    let r = h.get("/v1/rollups/root_cause").await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"error": {"code": "timeout", "message": "query timed out", "detail": ""}})
    );
}

#[tokio::test]
async fn capabilities_describe_the_configuration() {
    let h = harness().await;
    let body = h.ok("/v1/capabilities").await;
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["v2_reads"], json!({"enabled": true}));
    assert_eq!(body["query"]["tables"], json!(crate::query::table_names()));
    assert_eq!(
        body["architecture"]["retention"],
        json!({"duration": "168h0m0s", "duration_secs": 604800})
    );
}

#[tokio::test]
async fn static_trace_and_event_paths_win_over_ids() {
    let h = harness().await;
    h.ingest(&cascades(1, false, false)).await;
    // `recent`, `story` and `search` are never taken as ids.
    assert!(h.ok("/v1/traces/recent").await["traces"].is_array());
    assert!(h.ok("/v1/events/search").await["events"].is_array());
    let r = h.get("/v1/traces/story").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // `validate` stays the ingest route (POST only there).
    let r = h.get("/v1/events/validate").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers.get(header::ALLOW).unwrap(), "POST");
}

/// `incident_versions` rows whose `evidence_json` is not JSON: the rows cannot become
/// incidents.
fn unreadable_incident_rows() -> datafusion::arrow::array::RecordBatch {
    use crate::incidents::model::{ErrorFamily, Incident};
    use crate::incidents::store::{StoredIncident, incidents_to_batch};
    use datafusion::arrow::array::{ArrayRef, StringArray};
    let inc = Incident::skeleton(
        "inc_bad".into(),
        "prod".into(),
        ErrorFamily::new("checkout", "payment.charge", "PMT_502"),
        BASE,
        NOW,
    );
    let batch = incidents_to_batch(&[StoredIncident {
        incident: inc,
        version: 1,
        written_at_ns: NOW,
    }])
    .unwrap();
    let at = batch.schema().index_of("evidence_json").unwrap();
    let mut columns = batch.columns().to_vec();
    columns[at] = Arc::new(StringArray::from(vec!["not json"])) as ArrayRef;
    datafusion::arrow::array::RecordBatch::try_new(batch.schema(), columns).unwrap()
}

#[tokio::test]
async fn incident_reads_answer_500_when_rows_are_unreadable() {
    let h = harness().await;
    h.storage
        .append(TableId::IncidentVersions, unreadable_incident_rows())
        .await
        .unwrap();
    for uri in [
        "/v1/incidents/active",
        "/v1/incidents/inc_bad",
        "/v1/incidents/inc_bad/snapshot",
    ] {
        let r = h.get(uri).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        assert_eq!(
            r.body,
            json!({"error": {"code": "internal_error", "message": "internal error",
                             "detail": "query incidents failed"}}),
            "{uri}"
        );
        assert_eq!(
            r.headers.get(header::ACCESS_CONTROL_ALLOW_METHODS).unwrap(),
            "GET, OPTIONS"
        );
    }
    // Other ids never touch the bad row.
    assert_eq!(
        h.get("/v1/incidents/inc_other").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn incident_reads_answer_503_before_storage_and_check_parameters_first() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::new(test_config(dir.path()), Arc::new(ManualClock::new(NOW)));
    let r = call(&state, "GET", "/v1/incidents/active", &[]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["error"]["code"], "unavailable");
    let r = call(&state, "GET", "/v1/incidents/active?limit=5", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["detail"], "unknown query parameter: limit");
    let r = call(&state, "GET", "/v1/incidents/inc_1?env=prod", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["detail"], "unknown query parameter: env");
}

#[tokio::test]
async fn readyz_reports_a_dead_background_task() {
    let h = harness().await;
    assert_eq!(h.get("/readyz").await.status, StatusCode::OK);
    assert_eq!(
        h.state.background.names(),
        ["maintenance", "index warmer", "incident engine"]
    );
    h.state.background.spawn("flusher stand-in", async {});
    let mut r = h.get("/readyz").await;
    for _ in 0..100 {
        if r.status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        r = h.get("/readyz").await;
    }
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.body["error"]["detail"],
        "background task flusher stand-in stopped"
    );
}

#[tokio::test]
async fn reads_beyond_the_read_slots_answer_503_overloaded() {
    let h = harness_with(|c| c.read_concurrency = 1).await;
    let held = h.state.read_slots.try_acquire().unwrap();
    let r = h.get("/v1/errors").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["error"]["code"], "overloaded");
    assert_eq!(r.body["error"]["message"], "too many concurrent reads");
    assert_eq!(r.headers["retry-after"], "1");
    let r = h.get("/v1/incidents/active").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    // Parameters are still checked first, and capabilities need no slot.
    assert_eq!(
        h.get("/v1/errors?bogus=1").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(h.get("/v1/capabilities").await.status, StatusCode::OK);
    drop(held);
    assert_eq!(h.get("/v1/errors").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_failed_wal_write_stops_acknowledging_until_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::new(test_config(dir.path()), Arc::new(ManualClock::new(NOW)));
    let (stop, rx) = watch::channel(false);
    let storage = start_storage(&state, rx).await.unwrap();
    let event = |id: &str| ev(id, &trace_id(1), "checkout", 0).0.to_string();
    assert_eq!(post_event(&state, &event("before")).await.0, StatusCode::OK);
    storage.inject_wal_write_failure();
    let (status, body) = post_event(&state, &event("failed")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "durability_unavailable");
    // The disk is fine again, but nothing is acknowledged any more: the file's state is unknown.
    let (status, body) = post_event(&state, &event("after")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("durability_unavailable")
        )
    );
    assert!(
        storage
            .poisoned()
            .unwrap()
            .contains("injected write failure")
    );
    let r = call(&state, "GET", "/readyz", &[]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        r.body["error"]["detail"]
            .as_str()
            .unwrap()
            .ends_with("restart to repair"),
        "{}",
        r.body
    );

    // A restart replays the WAL: the acknowledged event exactly once, the refused ones absent.
    stop.send(true).unwrap();
    state.background.join(Duration::from_secs(10)).await;
    storage.close().unwrap();
    // Everything holding the storage (and its data-dir lock) goes before the restart.
    drop((storage, state));
    let state = AppState::new(test_config(dir.path()), Arc::new(ManualClock::new(NOW)));
    let (_stop, rx) = watch::channel(false);
    let storage = start_storage(&state, rx).await.unwrap();
    assert_eq!(storage.poisoned(), None);
    let engine = state.engine().unwrap();
    let ids = engine
        .context(64 << 20)
        .await
        .unwrap()
        .sql("SELECT event_id FROM events ORDER BY event_id")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let ids: Vec<String> = ids
        .iter()
        .flat_map(|b| {
            let c = datafusion::arrow::array::AsArray::as_string::<i32>(b.column(0)).clone();
            (0..datafusion::arrow::array::Array::len(&c)).map(move |i| c.value(i).to_string())
        })
        .collect();
    assert_eq!(ids, ["before"]);
    assert_eq!(post_event(&state, &event("after")).await.0, StatusCode::OK);
    storage.close().unwrap();
}

async fn post_event(state: &SharedState, body: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .method("POST")
        .uri("/v1/events")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = router(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}
