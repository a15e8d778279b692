//! The incident engine in-process with a manual clock (spec triage §2-§4): detection over hot +
//! cold events, the lifecycle open → refresh → recovering → resolved → reopen with a new id,
//! restart in the middle, classification with a dependency signal and a deploy, alert
//! attachment, the opt-in traffic and latency anomaly incidents, and the rows in
//! `incident_versions` / the `incidents` view.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use waylog::clock::ManualClock;
use waylog::config::incident_settings::IncidentConfig;
use waylog::incidents::engine::{IncidentEngine, TickReport};
use waylog::query::QueryEngine;
use waylog::storage::Storage;
use waylog::storage::schema::TableId;

use crate::harness::*;

const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
/// 2026-05-04T12:03:00Z: the spec's identity vectors use this day.
const T0: i64 = 1_777_896_180 * SEC;

fn failing(id: &str, ts: i64) -> Value {
    let mut e = event_at(id, ts);
    e["env"] = json!("prod");
    e
}

fn ok(id: &str, ts: i64) -> Value {
    let mut e = ok_event(id, "checkout");
    e["ts_start"] = json!(rfc3339(ts));
    e["ts_end"] = json!(rfc3339(ts + 5_000_000));
    e["version"] = json!("2026.05.04-1");
    e
}

struct Rig {
    storage: Arc<Storage>,
    query: QueryEngine,
    clock: Arc<ManualClock>,
    engine: IncidentEngine,
}

impl Rig {
    async fn open(dir: &TestDir, clock: Arc<ManualClock>) -> Rig {
        // A long RESOLVE_AFTER makes a family leaving the current window visibly `recovering`
        // for a few ticks before it resolves (the window is 10m).
        let config = IncidentConfig {
            resolve_after: Duration::from_secs(15 * 60),
            ..IncidentConfig::default()
        };
        Rig::open_with(dir, clock, config).await
    }

    async fn open_with(dir: &TestDir, clock: Arc<ManualClock>, config: IncidentConfig) -> Rig {
        let cfg = storage_config(&dir.data_dir(), Duration::from_secs(7 * 86_400));
        let (storage, _) = Storage::open(cfg, clock.clone()).await.unwrap();
        let query = QueryEngine::new(storage.clone());
        Rig {
            storage,
            query,
            clock,
            engine: IncidentEngine::new(config),
        }
    }

    async fn ingest(&self, events: &[Value]) {
        let now = self.clock.now_ns_pub();
        self.storage
            .append(TableId::Events, batch_of(events, now))
            .await
            .unwrap();
    }

    async fn signal(&self, body: Value) {
        let now = self.clock.now_ns_pub();
        let s = waylog::ingest::signals::validate_signal(body.to_string().as_bytes(), now).unwrap();
        self.storage
            .append(
                TableId::Signals,
                waylog::ingest::signals::signals_to_batch(&[s]).unwrap(),
            )
            .await
            .unwrap();
    }

    async fn tick(&self) -> TickReport {
        let now = self.clock.now_ns_pub();
        self.engine
            .tick(&self.storage, &self.query, 512 << 20, now)
            .await
            .unwrap()
    }

    async fn rows(&self, sql: &str) -> Vec<Vec<Value>> {
        sql_rows(&self.query, sql).await
    }

    async fn incident(&self) -> Value {
        let rows = self
            .rows("SELECT incident_id, status, cause, confidence, version, evidence_json, next_checks, severity, sample_traces FROM incidents ORDER BY started_at DESC LIMIT 1")
            .await;
        let r = &rows[0];
        json!({"id": r[0], "status": r[1], "cause": r[2], "confidence": r[3], "version": r[4],
               "evidence": serde_json::from_str::<Value>(r[5].as_str().unwrap()).unwrap(),
               "next_checks": r[6], "severity": r[7], "samples": r[8]})
    }
}

trait NowPub {
    fn now_ns_pub(&self) -> i64;
}

impl NowPub for ManualClock {
    fn now_ns_pub(&self) -> i64 {
        use waylog::clock::Clock;
        self.now_ns()
    }
}

/// 12 failures of `checkout:payment.charge:PMT_502` spread over the two minutes before `at`,
/// plus healthy traffic.
fn burst(prefix: &str, at: i64) -> Vec<Value> {
    let mut events: Vec<Value> = (0..12)
        .map(|i| failing(&format!("{prefix}-f{i}"), at - 120 * SEC + i * 10 * SEC))
        .collect();
    events.extend((0..20).map(|i| ok(&format!("{prefix}-ok{i}"), at - 100 * SEC + i * SEC)));
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_open_refresh_recover_resolve_reopen_and_restart() {
    let dir = TestDir::new();
    let clock = Arc::new(ManualClock::new(T0));
    let rig = Rig::open(&dir, clock.clone()).await;

    // Healthy traffic only: no incident.
    rig.ingest(
        &(0..30)
            .map(|i| ok(&format!("h{i}"), T0 - 30 * MIN + i * MIN))
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(rig.tick().await, TickReport::default());

    // Old failures flushed to cold Parquet in the baseline windows stay below the lift.
    rig.ingest(&burst("spike", T0)).await;
    rig.storage.flush(TableId::Events).await.unwrap();
    let r = rig.tick().await;
    assert_eq!((r.candidates, r.opened, r.written), (1, 1, 1), "{r:?}");
    let inc = rig.incident().await;
    assert_eq!(inc["status"], "active");
    assert_eq!(inc["version"], 1);
    // started_at = the first failure (12:01:00) → bucket 12:00:00 → the spec's vector.
    assert_eq!(inc["id"], "inc_eee7eabe9bda8b24");
    // Steps call `payment` and fail there: dependency, medium without a dependency signal.
    assert_eq!(
        (inc["cause"].as_str(), inc["confidence"].as_str()),
        (Some("dependency"), Some("medium"))
    );
    let checks: Vec<String> = serde_json::from_value(inc["next_checks"].clone()).unwrap();
    assert!(
        checks.iter().all(|c| !c.contains("``") && !c.contains("<")),
        "{checks:?}"
    );
    assert!(
        checks
            .iter()
            .any(|c| c.starts_with("Add dependency signals for `checkout` → `payment`")),
        "{checks:?}"
    );
    assert_eq!(inc["samples"].as_array().unwrap().len(), 5);

    // Refresh: same id, version 2, still active.
    clock.advance(Duration::from_secs(30));
    rig.ingest(&[failing("spike-more", T0 + 20 * SEC)]).await;
    let r = rig.tick().await;
    assert_eq!((r.updated, r.written), (1, 1), "{r:?}");
    assert_eq!(rig.incident().await["version"], 2);

    // Restart in the middle: a new engine continues from the stored incident.
    let id = rig.incident().await["id"].clone();
    rig.storage.close().unwrap();
    drop(rig);
    let rig = Rig::open(&dir, clock.clone()).await;

    // The family leaves the current window: recovering, then resolved after RESOLVE_AFTER.
    clock.set(T0 + 11 * MIN);
    let r = rig.tick().await;
    assert_eq!((r.recovering, r.written), (1, 1), "{r:?}");
    let inc = rig.incident().await;
    assert_eq!(
        (
            inc["id"].clone(),
            inc["status"].as_str(),
            inc["version"].as_i64()
        ),
        (id.clone(), Some("recovering"), Some(3))
    );
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        rig.tick().await.written,
        0,
        "recovering, not yet quiet long enough"
    );

    // Re-activation: the family spikes again while recovering: same id, active,
    // recovering_at cleared.
    clock.set(T0 + 12 * MIN);
    let again: Vec<Value> = (0..6)
        .map(|i| failing(&format!("re-{i}"), T0 + 11 * MIN + i * 5 * SEC))
        .collect();
    rig.ingest(&again).await;
    let r = rig.tick().await;
    assert_eq!((r.updated, r.written), (1, 1), "{r:?}");
    let rows = rig
        .rows("SELECT incident_id, status, version, recovering_at FROM incidents")
        .await;
    assert_eq!(
        rows,
        vec![vec![id.clone(), json!("active"), json!(4), Value::Null]]
    );

    // Quiet again: recovering once the re-spike leaves the window (T0 + 22m), resolved when
    // RESOLVE_AFTER (15m) has passed since last_seen_at (T0 + 12m).
    clock.set(T0 + 23 * MIN);
    assert_eq!(rig.tick().await.recovering, 1);
    clock.set(T0 + 26 * MIN);
    assert_eq!(rig.tick().await.written, 0, "still recovering");
    clock.set(T0 + 27 * MIN);
    let r = rig.tick().await;
    assert_eq!(r.resolved, 1, "{r:?}");
    assert_eq!(rig.incident().await["status"], "resolved");
    assert!(rig.engine.active().await.is_empty());

    // A new spike of the family opens a new incident with a new id.
    let t1 = T0 + 40 * MIN;
    clock.set(t1);
    rig.ingest(&burst("again", t1)).await;
    let r = rig.tick().await;
    assert_eq!(r.opened, 1, "{r:?}");
    let inc = rig.incident().await;
    assert_ne!(inc["id"], id);
    assert_eq!(inc["status"], "active");
    let versions = rig
        .rows("SELECT incident_id, max(version), count(*) FROM incident_versions GROUP BY 1 ORDER BY 1")
        .await;
    assert_eq!(versions.len(), 2, "{versions:?}");

    // Retention: a week after resolution every version of the resolved incident goes, the
    // other incident stays.
    rig.storage.flush(TableId::IncidentVersions).await.unwrap();
    let later = T0 + 27 * MIN + 169 * 3600 * SEC;
    let pruned = rig
        .engine
        .prune_resolved(&rig.storage, &rig.query, 512 << 20, later)
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let left = rig
        .rows("SELECT DISTINCT incident_id FROM incident_versions")
        .await;
    assert_eq!(left, vec![vec![inc["id"].clone()]]);
    rig.storage.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classification_cites_dependency_signal_deploy_and_attaches_alerts() {
    let dir = TestDir::new();
    let clock = Arc::new(ManualClock::new(T0));
    let rig = Rig::open(&dir, clock.clone()).await;
    rig.ingest(&burst("s", T0)).await;
    // The payment dependency signal (spec demo): another service, same env.
    rig.signal(
        json!({"type": "dependency", "source": "waylog-demo", "service": "payment",
        "env": "prod", "severity": "critical", "reason": "payment_gateway_5xx",
        "timestamp": rfc3339(T0 - 150 * SEC),
        "metadata": {"error_code": "PMT_502", "downstream": "payment"}}),
    )
    .await;
    // An alert for the family and one for another code (must not attach).
    rig.signal(
        json!({"type": "alert", "source": "alertmanager", "service": "checkout",
        "env": "prod", "severity": "critical", "reason": "PMT_502 spike",
        "timestamp": rfc3339(T0 - 30 * SEC),
        "metadata": {"error_code": "PMT_502", "alert_id": "am-1", "provider_url": "http://am/1"}}),
    )
    .await;
    rig.signal(
        json!({"type": "alert", "source": "alertmanager", "service": "checkout",
        "env": "prod", "severity": "critical", "reason": "DB slow",
        "timestamp": rfc3339(T0 - 30 * SEC), "metadata": {"error_code": "DB_TIMEOUT"}}),
    )
    .await;
    let r = rig.tick().await;
    assert_eq!(r.opened, 1);
    let inc = rig.incident().await;
    assert_eq!(
        (inc["cause"].as_str(), inc["confidence"].as_str()),
        (Some("dependency"), Some("high"))
    );
    let evidence = inc["evidence"].as_array().unwrap();
    assert!(
        evidence
            .iter()
            .any(|e| e["title"] == "Dependency payment: payment_gateway_5xx"),
        "{evidence:?}"
    );
    let alert_titles: Vec<&str> = evidence
        .iter()
        .filter(|e| {
            e["kind"] == "signal" && e["title"].as_str().unwrap().contains("(alertmanager)")
        })
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(alert_titles, ["critical: PMT_502 spike (alertmanager)"]);
    let checks: Vec<String> = serde_json::from_value(inc["next_checks"].clone()).unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c.contains("Review dependency signal")),
        "{checks:?}"
    );
    assert!(
        checks
            .iter()
            .any(|c| c == "Open matched alert `am-1` in alertmanager (http://am/1)."),
        "{checks:?}"
    );

    rig.storage.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_closer_to_onset_wins_and_sets_the_suspect_deploy() {
    let dir = TestDir::new();
    let clock = Arc::new(ManualClock::new(T0));
    let rig = Rig::open(&dir, clock.clone()).await;
    rig.ingest(&burst("d", T0)).await;
    rig.signal(
        json!({"type": "dependency", "source": "k8s", "service": "payment", "env": "prod",
        "severity": "warning", "reason": "slow", "timestamp": rfc3339(T0 - 14 * MIN)}),
    )
    .await;
    let now = T0;
    let dep = waylog::ingest::deployments::merge(
        None,
        waylog::ingest::deployments::DeploymentInput {
            id: "deploy-77".into(),
            service: "checkout".into(),
            env: "prod".into(),
            version: "2026.05.04-1".into(),
            ..Default::default()
        },
        now - 3 * MIN,
    )
    .unwrap();
    rig.storage
        .append(
            TableId::DeploymentVersions,
            waylog::ingest::deployments::deployments_to_batch(&[dep]).unwrap(),
        )
        .await
        .unwrap();
    rig.tick().await;
    let rows = rig
        .rows("SELECT cause, confidence, suspect_deploy_id FROM incidents")
        .await;
    assert_eq!(
        rows,
        vec![vec![json!("deploy"), json!("high"), json!("deploy-77")]]
    );
    rig.storage.close().unwrap();
}

/// One successful request of `service` starting at `ts` and taking `ms` milliseconds.
fn request(id: &str, service: &str, ts: i64, ms: i64) -> Value {
    let mut e = ok_event(id, service);
    e["ts_start"] = json!(rfc3339(ts));
    e["ts_end"] = json!(rfc3339(ts + ms * 1_000_000));
    e["duration_ms"] = json!(ms);
    e
}

/// `n` requests of `service` spread over one minute around `center`, each taking `ms`.
fn requests(prefix: &str, service: &str, n: i64, center: i64, ms: i64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let ts = center - 30 * SEC + i * (60 * SEC / n.max(1));
            request(&format!("{prefix}-{i}"), service, ts, ms)
        })
        .collect()
}

/// Both detectors on with the spec defaults (sustained ticks 2).
fn anomaly_config() -> IncidentConfig {
    let mut config = IncidentConfig::default();
    config.traffic.enabled = true;
    config.latency.enabled = true;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anomaly_detectors_open_traffic_drop_and_latency_spike_after_sustained_ticks() {
    let dir = TestDir::new();
    let clock = Arc::new(ManualClock::new(T0));
    let rig = Rig::open_with(&dir, clock.clone(), anomaly_config()).await;
    // W = 10m. `inventory`: 40 requests in each baseline window, 4 in the current one (≤ 0.5 ×
    // 40). `search`: 60 requests per window (steady traffic), p95 100 ms in the baselines and
    // 900 ms now. Events sit mid-window so they stay put for the ticks below.
    let mut baseline = Vec::new();
    for (k, center) in [(0, T0 - 15 * MIN), (1, T0 - 25 * MIN), (2, T0 - 35 * MIN)] {
        baseline.extend(requests(&format!("inv-b{k}"), "inventory", 40, center, 20));
        baseline.extend(requests(&format!("search-b{k}"), "search", 60, center, 100));
    }
    rig.ingest(&baseline).await;
    rig.storage.flush(TableId::Events).await.unwrap();
    let mut current = requests("inv-c", "inventory", 4, T0 - 5 * MIN, 20);
    current.extend(requests("search-c", "search", 60, T0 - 5 * MIN, 900));
    rig.ingest(&current).await;

    // Detectors disabled (the default): nothing opens however long the anomaly lasts.
    let disabled = IncidentEngine::new(IncidentConfig::default());
    for _ in 0..3 {
        let now = clock.now_ns_pub();
        let r = disabled
            .tick(&rig.storage, &rig.query, 512 << 20, now)
            .await
            .unwrap();
        assert_eq!(r, TickReport::default());
        clock.advance(Duration::from_secs(10));
    }
    clock.set(T0);

    // First anomalous tick: counted, nothing produced yet.
    let r = rig.tick().await;
    assert_eq!((r.anomalies, r.written), (0, 0), "{r:?}");
    assert!(rig.engine.active().await.is_empty());

    // Second consecutive anomalous tick: both incidents open.
    clock.advance(Duration::from_secs(30));
    let opened_at = clock.now_ns_pub();
    let r = rig.tick().await;
    assert_eq!((r.candidates, r.anomalies, r.opened), (0, 2, 2), "{r:?}");
    let active = rig.engine.active().await;
    let by_code = |code: &str| {
        active
            .iter()
            .find(|i| i.error_family.error_code == code)
            .unwrap_or_else(|| panic!("no {code} in {active:?}"))
            .clone()
    };
    let drop = by_code("TRAFFIC_DROP");
    assert_eq!(
        (drop.service.as_str(), drop.error_family.step.as_str()),
        ("inventory", "<traffic>")
    );
    assert_eq!((drop.current_count, drop.baseline_count), (4, 40));
    assert_eq!(drop.lift, 10.0);
    assert_eq!((drop.started_at, drop.env.as_str()), (opened_at, "prod"));
    assert_eq!(drop.evidence[0].title, "Request volume dropped");
    assert_eq!(drop.cause.as_str(), "unknown");
    assert!(drop.sample_traces.is_empty() && drop.blast.is_none());
    assert_eq!(drop.instrumentation_warnings, ["missing_service_version"]);

    let spike = by_code("LATENCY_SPIKE");
    assert_eq!(
        (spike.service.as_str(), spike.error_family.step.as_str()),
        ("search", "<latency>")
    );
    assert_eq!((spike.current_count, spike.baseline_count), (900, 100));
    assert_eq!(spike.lift, 9.0);
    assert_eq!(spike.evidence[0].title, "Tail latency spiked");
    assert_eq!(
        serde_json::to_value(&spike.evidence[0].fields).unwrap(),
        json!({"percentile": 95, "current_ms": 900, "baseline_ms": 100})
    );
    // Stored like error incidents: one version each in `incident_versions`.
    let rows = rig
        .rows("SELECT error_service, error_step, error_code, status, version FROM incidents ORDER BY error_code")
        .await;
    assert_eq!(
        rows,
        vec![
            vec![
                json!("search"),
                json!("<latency>"),
                json!("LATENCY_SPIKE"),
                json!("active"),
                json!(1)
            ],
            vec![
                json!("inventory"),
                json!("<traffic>"),
                json!("TRAFFIC_DROP"),
                json!("active"),
                json!(1)
            ],
        ]
    );

    // Still anomalous: refreshed in place.
    clock.advance(Duration::from_secs(30));
    let r = rig.tick().await;
    assert_eq!((r.anomalies, r.updated, r.opened), (2, 2, 0), "{r:?}");

    // Inventory traffic back to normal: its incident goes recovering, the spike stays active.
    rig.ingest(&requests("inv-more", "inventory", 36, T0 - 4 * MIN, 20))
        .await;
    clock.advance(Duration::from_secs(30));
    let r = rig.tick().await;
    assert_eq!((r.anomalies, r.updated, r.recovering), (1, 1, 1), "{r:?}");
    let active: Vec<String> = rig
        .engine
        .active()
        .await
        .into_iter()
        .map(|i| i.error_family.error_code)
        .collect();
    assert_eq!(active, ["LATENCY_SPIKE"]);
    rig.storage.close().unwrap();
}

/// The real server ticks its engine on the wall clock; an alert posted afterwards matches the
/// active incident at intake (spec triage §7.6) and the match is stored in `alerts`.
#[test]
fn server_engine_opens_an_incident_and_alert_intake_matches_it() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &["--incident-tick-interval", "1s"], &[]);
    let now = now_ns();
    let events: Vec<Value> = (0..8)
        .map(|i| failing(&format!("live-{i}"), now - 60 * SEC + i * SEC))
        .collect();
    server.ingest(&events);
    let opened = wait_until(Duration::from_secs(30), || {
        server.scalar("SELECT count(*) FROM incidents WHERE status = 'active'") == 1
    });
    assert!(opened, "no incident opened; log:\n{}", server.log());
    let id = server.query("SELECT incident_id FROM incidents")[0][0]
        .as_str()
        .unwrap()
        .to_string();

    let alert = |extra: Value| {
        let mut body = json!({"source": "grafana-oncall", "service": "checkout", "env": "prod",
            "severity": "critical", "reason": "PMT_502 spike", "timestamp": rfc3339(now_ns())});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = server.request(
            "POST",
            "/v1/alerts",
            &[("Content-Type", "application/json")],
            Some(body.to_string().as_bytes()),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["match"].clone()
    };
    assert_eq!(
        alert(json!({"error_code": "PMT_502", "step": "payment.charge"})),
        json!({"matched": true, "incident_id": id, "strategy": "family"})
    );
    assert_eq!(
        alert(json!({"incident_id": id})),
        json!({"matched": true, "incident_id": id, "strategy": "incident_id"})
    );
    assert_eq!(
        alert(json!({"error_code": "DB_TIMEOUT"})),
        json!({"matched": false, "strategy": "none"})
    );
    let stored =
        server.query("SELECT match_strategy, match_incident_id FROM alerts ORDER BY received_at");
    assert_eq!(
        stored,
        vec![
            vec![json!("family"), json!(id)],
            vec![json!("incident_id"), json!(id)],
            vec![json!("none"), Value::Null],
        ]
    );
}

/// Baselines in cold Parquet, the current window hot: the lift is computed over both tiers
/// (spec triage §2.3: current 12 over median baseline 4 = 3.0 passes MIN_LIFT 3; 5 does not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detection_windows_span_hot_and_cold_data() {
    for (baseline_each, expect) in [(4, 1), (5, 0)] {
        let dir = TestDir::new();
        let clock = Arc::new(ManualClock::new(T0));
        let rig = Rig::open(&dir, clock.clone()).await;
        let mut old = Vec::new();
        for w in 1..=3 {
            for i in 0..baseline_each {
                old.push(failing(
                    &format!("b{w}-{i}"),
                    T0 - w * 10 * MIN - 5 * MIN + i * SEC,
                ));
            }
        }
        rig.ingest(&old).await;
        rig.storage.flush(TableId::Events).await.unwrap();
        let current: Vec<Value> = (0..12)
            .map(|i| failing(&format!("c-{i}"), T0 - 5 * MIN + i * SEC))
            .collect();
        rig.ingest(&current).await;
        let r = rig.tick().await;
        assert_eq!(
            r.candidates, expect,
            "baseline {baseline_each} per window: {r:?}"
        );
        if expect == 1 {
            let rows = rig
                .rows("SELECT current_count, baseline_count, lift FROM incidents")
                .await;
            assert_eq!(
                rows,
                vec![vec![json!(12), json!(baseline_each), json!(3.0)]]
            );
        }
        rig.storage.close().unwrap();
    }
}

/// Spec triage §2.10 over real storage: the baseline windows counted from per-source summaries
/// (cold files and a large hot batch wholly inside them) plus the edge sources read row by row
/// give exactly the counts of reading every baseline event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspect_dimensions_from_source_summaries_match_a_full_scan() {
    use waylog::incidents::dimensions::{
        SummaryCache, baseline_bounds, register_sources, register_unsummarized,
        suspect_dimension_rows,
    };
    use waylog::incidents::model::ErrorFamily;
    let dir = TestDir::new();
    let clock = Arc::new(ManualClock::new(T0));
    let rig = Rig::open(&dir, clock.clone()).await;
    // A baseline event: every third on a new version, tiers alternate, the payment step's
    // downstream varies; a quarter carry no payment step at all.
    let base = |id: String, ts: i64, i: i64| {
        let mut e = failing(&id, ts);
        e["status"] = json!("ok");
        e.as_object_mut().unwrap().remove("anchor");
        e.as_object_mut().unwrap().remove("errors");
        e["version"] = json!(if i % 3 == 0 { "2.4.1" } else { "2.4.0" });
        e["fields"]["user"]["tier"] = json!(if i % 2 == 0 { "gold" } else { "free" });
        if i % 4 == 0 {
            e["steps"] =
                json!([{"name": "cart.load", "start_ms": 0, "duration_ms": 6, "status": "ok"}]);
        } else {
            e["steps"][1]["status"] = json!("ok");
            e["steps"][1].as_object_mut().unwrap().remove("error");
            e["steps"][1]["downstream"]["service"] =
                json!(if i % 5 == 0 { "payment-eu" } else { "payment" });
        }
        e
    };
    let span = |prefix: &str, from: i64, to: i64, n: i64| -> Vec<Value> {
        (0..n)
            .map(|i| base(format!("{prefix}-{i}"), from + (to - from) * i / n, i))
            .collect()
    };
    // Cold: one file wholly inside [T0 − 40m, T0 − 10m), one straddling T0 − 40m.
    rig.ingest(&span("inside", T0 - 39 * MIN, T0 - 31 * MIN, 300))
        .await;
    rig.storage.flush(TableId::Events).await.unwrap();
    rig.ingest(&span("edge", T0 - 42 * MIN, T0 - 38 * MIN, 200))
        .await;
    rig.storage.flush(TableId::Events).await.unwrap();
    // Hot: one batch large enough to be summarized, one small one (read row by row).
    rig.ingest(&span("big", T0 - 30 * MIN, T0 - 20 * MIN, 33_000))
        .await;
    rig.ingest(&span("small", T0 - 15 * MIN, T0 - 11 * MIN, 50))
        .await;
    // F: 12 failures in the current window.
    rig.ingest(&burst("now", T0)).await;

    let family = ErrorFamily::new("checkout", "payment.charge", "PMT_502");
    let w = IncidentConfig::default().thresholds.window_ns;
    let plain_ctx = rig.query.context(512 << 20).await.unwrap();
    register_unsummarized(&plain_ctx).await.unwrap();
    let plain = suspect_dimension_rows(&plain_ctx, T0, w, &family)
        .await
        .unwrap();
    let cache = SummaryCache::default();
    let ctx = rig.query.context(512 << 20).await.unwrap();
    let split = register_sources(&ctx, &rig.query, &cache, baseline_bounds(T0, w), 512 << 20)
        .await
        .unwrap();
    // Summarized by bucket: both files (the straddling one's buckets before T0 − 40m do not
    // count) and the big batch; read row by row: the small batch (the current window's batch
    // is not in the baseline windows at all). T0 is a whole bucket: no partial buckets.
    assert_eq!(
        (split.summarized, split.partial, split.edge),
        (3, 0, 1),
        "{split:?}"
    );
    assert_eq!(cache.cold_files(), 2);
    let summarized = suspect_dimension_rows(&ctx, T0, w, &family).await.unwrap();
    assert_eq!(summarized, plain);
    // 17 s later both window edges cut a bucket: the straddling file's rows in the partial
    // bucket after T0 − 40m + 17 s are read row by row (no source overlaps the other one).
    let later = T0 + 17_000_000_000;
    let plain_ctx = rig.query.context(512 << 20).await.unwrap();
    register_unsummarized(&plain_ctx).await.unwrap();
    let plain_later = suspect_dimension_rows(&plain_ctx, later, w, &family)
        .await
        .unwrap();
    let ctx = rig.query.context(512 << 20).await.unwrap();
    let split = register_sources(
        &ctx,
        &rig.query,
        &cache,
        baseline_bounds(later, w),
        512 << 20,
    )
    .await
    .unwrap();
    assert_eq!(split.partial, 1, "the straddling file: {split:?}");
    let summarized = suspect_dimension_rows(&ctx, later, w, &family)
        .await
        .unwrap();
    assert_eq!(summarized, plain_later);
    assert_ne!(plain_later[0].baseline_events, 0);
    // The edge file's events before T0 − 40m are not in B.
    let in_b = 300
        + 33_000
        + 50
        + (0..200)
            .filter(|i| T0 - 42 * MIN + 4 * MIN * i / 200 >= T0 - 40 * MIN)
            .count() as i64;
    assert_eq!(
        (
            plain[0].baseline.as_str(),
            plain[0].failing_events,
            plain[0].baseline_events
        ),
        ("baseline_windows", 12, in_b)
    );
    let count = |d: &str, v: &str| {
        plain
            .iter()
            .find(|r| r.dimension == d && r.value == v)
            .map(|r| (r.failing_count, r.baseline_count))
    };
    assert!(count("version", "2026.05.04-1").is_some_and(|c| c.0 == 12 && c.1 == 0));
    assert!(count("downstream_service", "payment").is_some_and(|c| c.0 == 12 && c.1 > 0));
    rig.storage.close().unwrap();
}
