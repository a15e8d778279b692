use super::*;
use crate::incidents::identity::incident_id;
use crate::incidents::model::{CaptureStatus, Cause, Confidence, MatchStrategy, Status};

const S: i64 = 1_000_000_000;
const MIN: i64 = 60 * S;
const NOW: i64 = 1_777_896_600_000_000_000; // 2026-05-04T12:10:00Z
const W: i64 = 10 * MIN;

fn traffic_on() -> TrafficSettings {
    TrafficSettings {
        enabled: true,
        ..TrafficSettings::default()
    }
}

fn latency_on() -> LatencySettings {
    LatencySettings {
        enabled: true,
        ..LatencySettings::default()
    }
}

fn stats(service: &str, counts: [i64; 4], px: [Option<i64>; 4]) -> ServiceStats {
    ServiceStats {
        service: service.into(),
        counts,
        px,
        facts: ServiceFacts::default(),
        env: "prod".into(),
    }
}

fn counts(service: &str, counts: [i64; 4]) -> ServiceStats {
    stats(service, counts, [Some(10); 4])
}

// ---- nearest rank and the statistics contract ----

#[test]
fn nearest_rank_edges() {
    assert_eq!(nearest_rank(&[], 95), None);
    assert_eq!(nearest_rank(&[7], 1), Some(7));
    assert_eq!(nearest_rank(&[7], 100), Some(7));
    let v: Vec<i64> = (1..=20).collect();
    // ceil(95 × 20 / 100) = 19.
    assert_eq!(nearest_rank(&v, 95), Some(19));
    assert_eq!(nearest_rank(&v, 100), Some(20));
    // ceil(1 × 20 / 100) = 1: clamped up to the first value, never rank 0.
    assert_eq!(nearest_rank(&v, 1), Some(1));
    // ceil(50 × 4 / 100) = 2 (exact), ceil(50 × 5 / 100) = ceil(2.5) = 3.
    assert_eq!(nearest_rank(&[1, 2, 3, 4], 50), Some(2));
    assert_eq!(nearest_rank(&[1, 2, 3, 4, 5], 50), Some(3));
    // ceil(95 × 10 / 100) = ceil(9.5) = 10.
    let ten: Vec<i64> = (1..=10).map(|i| i * 10).collect();
    assert_eq!(nearest_rank(&ten, 95), Some(100));
    // ceil(99 × 3 / 100) = 3.
    assert_eq!(nearest_rank(&[1, 2, 3], 99), Some(3));
    // Out-of-range P clamps to 1..=100.
    assert_eq!(nearest_rank(&v, 0), Some(1));
    assert_eq!(nearest_rank(&v, 250), Some(20));
    // Duplicates: the value at the rank.
    assert_eq!(nearest_rank(&[5, 5, 5, 9], 75), Some(5));
}

fn stat_event(id: &str, service: &str, status: &str, ms: i64, ts: i64) -> StatEvent {
    StatEvent {
        event_id: id.into(),
        service: service.into(),
        env: "prod".into(),
        version: String::new(),
        status: status.into(),
        duration_ms: ms,
        ts_start_ns: ts,
    }
}

#[test]
fn service_stats_count_every_status_per_window_and_pick_the_newest_env() {
    let mut events = vec![
        stat_event("a", "checkout", "ok", 30, NOW),
        stat_event("b", "checkout", "suppressed", 10, NOW - W), // C's closed lower bound
        stat_event("c", "checkout", "error", 20, NOW - W - 1),  // B0
        stat_event("d", "checkout", "ok", 40, NOW - 4 * W),     // B2's lower bound
        stat_event("e", "checkout", "ok", 99, NOW - 4 * W - 1), // outside
        stat_event("f", "checkout", "ok", 99, NOW + 1),         // outside
        stat_event("g", "api", "partial", 5, NOW - 2 * W),      // B0 for api
    ];
    events[0].env = "demo".into();
    // Same ts_start as `a`: event_id asc breaks the tie, so `a` stays the newest.
    let mut tie = stat_event("z", "checkout", "ok", 1, NOW);
    tie.env = "staging".into();
    tie.version = "1.0".into();
    events.push(tie);
    let out = service_stats_in_memory(&events, NOW, W, 95);
    let services: Vec<&str> = out.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(services, ["api", "checkout"], "byte order");
    let api = &out[0];
    assert_eq!(api.counts, [0, 1, 0, 0]);
    assert_eq!(api.px, [None, Some(5), None, None]);
    assert_eq!(
        api.facts,
        ServiceFacts::default(),
        "a partial event outside C does not count"
    );
    let checkout = &out[1];
    assert_eq!(checkout.counts, [3, 1, 0, 1]);
    // C durations [1, 10, 30]: ceil(95 × 3 / 100) = 3 → 30.
    assert_eq!(checkout.px, [Some(30), Some(20), None, Some(40)]);
    assert_eq!(checkout.env, "demo");
    assert!(checkout.facts.any_version);
    assert!(!checkout.facts.any_partial);
}

#[test]
fn stats_params_bind_bounds_and_percentile() {
    let p = stats_params(NOW, W, 95);
    assert_eq!(p.len(), 6);
    assert_eq!(p[0], Param::Timestamp(NOW));
    assert_eq!(p[4], Param::Timestamp(NOW - 4 * W));
    assert_eq!(p[5], Param::Int64(95));
    assert_eq!(STATS_QUERY.params().len(), 6);
}

// ---- traffic rule ----

#[test]
fn traffic_drop_at_exactly_drop_factor_times_baseline() {
    let t = traffic_on();
    // Baseline median of [20, 40, 30] = 30; 0.5 × 30 = 15.
    assert_eq!(
        traffic_verdict([15, 20, 40, 30], &t),
        (TrafficVerdict::Anomalous(Direction::Drop), 30)
    );
    assert_eq!(
        traffic_verdict([16, 20, 40, 30], &t),
        (TrafficVerdict::Normal, 30)
    );
    assert_eq!(
        traffic_verdict([0, 20, 40, 30], &t).0,
        TrafficVerdict::Anomalous(Direction::Drop)
    );
}

#[test]
fn traffic_surge_at_exactly_surge_factor_and_disabled_with_zero() {
    let t = traffic_on();
    assert_eq!(
        traffic_verdict([90, 30, 30, 30], &t),
        (TrafficVerdict::Anomalous(Direction::Surge), 30)
    );
    assert_eq!(
        traffic_verdict([89, 30, 30, 30], &t).0,
        TrafficVerdict::Normal
    );
    let off = TrafficSettings {
        surge_factor: 0.0,
        ..t
    };
    assert_eq!(
        traffic_verdict([9000, 30, 30, 30], &off).0,
        TrafficVerdict::Normal
    );
    assert_eq!(
        traffic_verdict([1, 30, 30, 30], &off).0,
        TrafficVerdict::Anomalous(Direction::Drop),
        "drops still detected"
    );
}

#[test]
fn traffic_min_volume_skips_on_the_median_baseline() {
    let t = traffic_on();
    assert_eq!(
        traffic_verdict([0, 19, 19, 19], &t),
        (TrafficVerdict::Skip, 19)
    );
    assert_eq!(
        traffic_verdict([0, 20, 20, 20], &t).0,
        TrafficVerdict::Anomalous(Direction::Drop)
    );
    // One busy baseline window alone is no baseline: median of [500, 0, 0] = 0.
    assert_eq!(
        traffic_verdict([0, 500, 0, 0], &t),
        (TrafficVerdict::Skip, 0)
    );
}

#[test]
fn traffic_lift_formulas() {
    let (c, a) = Counters::default().step(
        &[
            counts("api", [0, 40, 40, 40]),
            counts("web", [150, 40, 50, 30]),
        ],
        &TrafficSettings {
            sustained_ticks: 1,
            ..traffic_on()
        },
        &LatencySettings::default(),
    );
    assert_eq!(c.get("api|drop"), 1);
    assert_eq!(c.get("web|surge"), 1);
    assert_eq!(a.len(), 2);
    // Drop: baseline / max(current, 1) = 40 / 1.
    assert_eq!(a[0].kind, AnomalyKind::TrafficDrop);
    assert_eq!((a[0].current_count, a[0].baseline_count), (0, 40));
    assert_eq!(a[0].lift, 40.0);
    assert_eq!(
        a[0].family(),
        ErrorFamily::new("api", "<traffic>", "TRAFFIC_DROP")
    );
    // Surge: current / max(baseline, 1) = 150 / 40.
    assert_eq!(a[1].kind, AnomalyKind::TrafficSurge);
    assert_eq!(a[1].lift, 3.75);
    assert_eq!(
        a[1].family(),
        ErrorFamily::new("web", "<traffic>", "TRAFFIC_SURGE")
    );
}

// ---- sustained-tick counters ----

fn tick(prev: &Counters, s: &[ServiceStats]) -> (Counters, Vec<AnomalyKind>) {
    let (next, out) = prev.step(s, &traffic_on(), &latency_on());
    (next, out.into_iter().map(|a| a.kind).collect())
}

const DROP: [i64; 4] = [5, 40, 40, 40];
const SURGE: [i64; 4] = [200, 40, 40, 40];
const NORMAL: [i64; 4] = [40, 40, 40, 40];
const QUIET: [i64; 4] = [0, 5, 5, 5];

#[test]
fn sustained_ticks_two_produce_on_the_second_anomalous_tick() {
    let c0 = Counters::default();
    let (c1, out) = tick(&c0, &[counts("checkout", DROP)]);
    assert_eq!(c1.get("checkout|drop"), 1);
    assert!(out.is_empty(), "not before the sustained ticks");
    let (c2, out) = tick(&c1, &[counts("checkout", DROP)]);
    assert_eq!(c2.get("checkout|drop"), 2);
    assert_eq!(out, [AnomalyKind::TrafficDrop]);
    let (c3, out) = tick(&c2, &[counts("checkout", DROP)]);
    assert_eq!(c3.get("checkout|drop"), 3);
    assert_eq!(out, [AnomalyKind::TrafficDrop], "still produced while ≥ 2");
    // A normal tick resets.
    let (c4, out) = tick(&c3, &[counts("checkout", NORMAL)]);
    assert_eq!(c4, Counters::default());
    assert!(out.is_empty());
    let (c5, out) = tick(&c4, &[counts("checkout", DROP)]);
    assert_eq!(c5.get("checkout|drop"), 1);
    assert!(out.is_empty());
}

#[test]
fn min_volume_skip_resets_the_counter() {
    let (c1, _) = tick(&Counters::default(), &[counts("checkout", DROP)]);
    let (c2, out) = tick(&c1, &[counts("checkout", QUIET)]);
    assert_eq!(c2.get("checkout|drop"), 0);
    assert!(out.is_empty());
    let (c3, out) = tick(&c2, &[counts("checkout", DROP)]);
    assert_eq!(c3.get("checkout|drop"), 1);
    assert!(out.is_empty());
}

#[test]
fn direction_flip_resets_the_other_direction() {
    let (c1, _) = tick(&Counters::default(), &[counts("checkout", DROP)]);
    let (c2, out) = tick(&c1, &[counts("checkout", SURGE)]);
    assert_eq!((c2.get("checkout|drop"), c2.get("checkout|surge")), (0, 1));
    assert!(out.is_empty(), "a flip starts over");
    let (c3, out) = tick(&c2, &[counts("checkout", DROP)]);
    assert_eq!((c3.get("checkout|drop"), c3.get("checkout|surge")), (1, 0));
    assert!(out.is_empty());
    let (_, out) = tick(&c3, &[counts("checkout", DROP)]);
    assert_eq!(out, [AnomalyKind::TrafficDrop]);
}

#[test]
fn a_service_missing_from_the_stats_resets_and_keys_are_per_service() {
    let (c1, _) = tick(
        &Counters::default(),
        &[counts("a", DROP), counts("b", DROP)],
    );
    let (c2, out) = tick(&c1, &[counts("b", DROP)]);
    assert_eq!((c2.get("a|drop"), c2.get("b|drop")), (0, 2));
    assert_eq!(out, [AnomalyKind::TrafficDrop]);
}

#[test]
fn disabled_detectors_count_nothing() {
    let s = [stats(
        "checkout",
        DROP,
        [Some(900), Some(100), Some(100), Some(100)],
    )];
    let mut c = Counters::default();
    for _ in 0..3 {
        let (next, out) = c.step(&s, &TrafficSettings::default(), &LatencySettings::default());
        assert_eq!(next, Counters::default());
        assert!(out.is_empty());
        c = next;
    }
}

// ---- latency rule ----

fn lat(counts: [i64; 4], px: [Option<i64>; 4]) -> ServiceStats {
    stats("checkout", counts, px)
}

#[test]
fn latency_lower_median_of_three_qualifying_baselines() {
    let s = lat([50; 4], [Some(400), Some(300), Some(100), Some(200)]);
    // Baselines ascending [100, 200, 300]: position (3 − 1) div 2 = 1 → 200; 400 ≥ 2 × 200.
    assert_eq!(latency_anomaly(&s, &latency_on()), Some((400, 200)));
    let s = lat([50; 4], [Some(399), Some(300), Some(100), Some(200)]);
    assert_eq!(latency_anomaly(&s, &latency_on()), None);
}

#[test]
fn latency_lower_median_of_two_qualifying_baselines() {
    // B1 has too few events: qualifying [300, 100] → ascending [100, 300], position 0 → 100.
    let s = lat([50, 50, 49, 50], [Some(200), Some(300), Some(1), Some(100)]);
    assert_eq!(latency_anomaly(&s, &latency_on()), Some((200, 100)));
}

#[test]
fn latency_needs_the_current_window_and_two_baselines() {
    let px = [Some(900), Some(100), Some(100), Some(100)];
    assert_eq!(
        latency_anomaly(&lat([50, 50, 49, 49], px), &latency_on()),
        None
    );
    assert_eq!(
        latency_anomaly(&lat([49, 50, 50, 50], px), &latency_on()),
        None
    );
    assert_eq!(
        latency_anomaly(
            &lat([50, 50, 50, 0], [Some(900), Some(100), Some(100), None]),
            &latency_on()
        ),
        Some((900, 100))
    );
}

#[test]
fn latency_zero_base_never_spikes_and_factor_is_inclusive() {
    let on = latency_on();
    assert_eq!(
        latency_anomaly(&lat([50; 4], [Some(900), Some(0), Some(0), Some(0)]), &on),
        None
    );
    assert_eq!(
        latency_anomaly(
            &lat([50; 4], [Some(200), Some(100), Some(100), Some(100)]),
            &on
        ),
        Some((200, 100))
    );
    assert_eq!(
        latency_anomaly(
            &lat([50; 4], [Some(199), Some(100), Some(100), Some(100)]),
            &on
        ),
        None
    );
}

#[test]
fn latency_min_ms_floor() {
    let s = lat([50; 4], [Some(150), Some(50), Some(50), Some(50)]);
    assert_eq!(latency_anomaly(&s, &latency_on()), Some((150, 50)));
    let floor = |min_ms: f64| LatencySettings {
        min_ms,
        ..latency_on()
    };
    assert_eq!(latency_anomaly(&s, &floor(200.0)), None);
    assert_eq!(latency_anomaly(&s, &floor(150.0)), Some((150, 50)));
}

#[test]
fn latency_sustained_and_produced_family() {
    let s = [lat([60; 4], [Some(800), Some(100), Some(120), Some(90)])];
    let (c1, out) = tick(&Counters::default(), &s);
    assert_eq!(c1.get("checkout|latency"), 1);
    assert!(out.is_empty());
    let (c2, out) = Counters::step(&c1, &s, &TrafficSettings::default(), &latency_on());
    assert_eq!(c2.get("checkout|latency"), 2);
    assert_eq!(out.len(), 1);
    let a = &out[0];
    assert_eq!(
        a.family(),
        ErrorFamily::new("checkout", "<latency>", "LATENCY_SPIKE")
    );
    assert_eq!((a.current_count, a.baseline_count), (800, 100));
    assert_eq!(a.lift, 8.0);
    assert_eq!(a.percentile, 95);
    // Back to normal: reset.
    let calm = [lat([60; 4], [Some(100), Some(100), Some(120), Some(90)])];
    let (c3, _) = tick(&c2, &calm);
    assert_eq!(c3.get("checkout|latency"), 0);
}

// ---- build ----

fn drop_anomaly() -> Anomaly {
    Anomaly {
        kind: AnomalyKind::TrafficDrop,
        service: "checkout".into(),
        env: "prod".into(),
        facts: ServiceFacts {
            any_version: false,
            any_partial: true,
        },
        current_count: 5,
        baseline_count: 40,
        lift: 8.0,
        percentile: 0,
    }
}

fn latency_anomaly_row() -> Anomaly {
    Anomaly {
        kind: AnomalyKind::LatencySpike,
        service: "checkout".into(),
        env: "prod".into(),
        facts: ServiceFacts {
            any_version: true,
            any_partial: false,
        },
        current_count: 9,
        baseline_count: 4,
        lift: 2.25,
        percentile: 99,
    }
}

fn input<'a>(a: &'a Anomaly, existing: Option<&'a Incident>) -> AnomalyBuildInput<'a> {
    AnomalyBuildInput {
        anomaly: a,
        existing,
        signals: &[],
        deployments: &[],
        alerts: &[],
        runtime: &[],
        now: NOW,
    }
}

#[test]
fn build_opens_a_traffic_drop_incident() {
    let a = drop_anomaly();
    let built = build_anomaly_incident(&input(&a, None), |_| false);
    let inc = &built.incident;
    assert!(!built.reissued);
    assert_eq!(inc.started_at, NOW);
    assert_eq!(inc.env, "prod");
    assert_eq!(
        inc.incident_id,
        incident_id(
            "prod",
            &ErrorFamily::new("checkout", "<traffic>", "TRAFFIC_DROP"),
            NOW
        )
    );
    assert_eq!(inc.status, Status::Active);
    assert_eq!((inc.current_count, inc.baseline_count), (5, 40));
    assert_eq!(inc.lift, 8.0);
    // §2.6 anomaly form: count = max(5, 40) = 40, services 1, lift 8 → 1 + 8 + 1 + 2 = 12 → 10.
    assert_eq!(inc.severity, 10);
    assert_eq!(
        (
            inc.affected_requests,
            inc.affected_services,
            inc.affected_users
        ),
        (0, 0, 0)
    );
    assert!(inc.top_services.is_empty() && inc.sample_traces.is_empty());
    assert!(inc.blast.is_none() && inc.propagation.is_none() && inc.suspect_dimensions.is_none());
    assert_eq!(
        inc.alerts
            .as_ref()
            .unwrap()
            .latest
            .as_ref()
            .unwrap()
            .capture_status,
        CaptureStatus::Missing
    );
    assert!(inc.runtime.as_ref().unwrap().matches.is_empty());
    assert_eq!(
        (inc.cause, inc.confidence),
        (Cause::Unknown, Confidence::Low)
    );
    assert_eq!(
        inc.instrumentation_warnings,
        ["missing_service_version", "partial_trace"]
    );
    assert_eq!(inc.evidence.len(), 1);
    assert_eq!(
        serde_json::to_string(&inc.evidence[0]).unwrap(),
        "{\"kind\":\"traffic\",\"title\":\"Request volume dropped\",\"detail\":\"checkout\",\
         \"service\":\"checkout\",\"occurred_at\":\"2026-05-04T12:10:00Z\",\
         \"fields\":{\"direction\":\"drop\",\"current\":5,\"baseline\":40}}"
    );
    assert_eq!(
        inc.next_checks,
        [
            "Add `service.version` to events from `checkout` to enable deploy correlation.",
            "Some events arrived without complete span fan-out — verify trace propagation in the SDK middleware."
        ]
    );
}

#[test]
fn build_latency_lead_severity_and_surge_title() {
    let a = latency_anomaly_row();
    let inc = build_anomaly_incident(&input(&a, None), |_| false).incident;
    // count = max(9, 4) = 9, lift 2.25 → 1 + 1 + 1 + 0 = 3.
    assert_eq!(inc.severity, 3);
    assert!(inc.instrumentation_warnings.is_empty());
    assert_eq!(
        serde_json::to_string(&inc.evidence[0]).unwrap(),
        "{\"kind\":\"latency\",\"title\":\"Tail latency spiked\",\"detail\":\"checkout\",\
         \"service\":\"checkout\",\"occurred_at\":\"2026-05-04T12:10:00Z\",\
         \"fields\":{\"percentile\":99,\"current_ms\":9,\"baseline_ms\":4}}"
    );
    assert_eq!(
        inc.error_family,
        ErrorFamily::new("checkout", "<latency>", "LATENCY_SPIKE")
    );
    // No evidence-backed checks and no warnings: the fallback line.
    assert_eq!(inc.next_checks.len(), 1);
    assert!(inc.next_checks[0].starts_with("waylog has no evidence-backed checks"));

    let surge = Anomaly {
        kind: AnomalyKind::TrafficSurge,
        ..drop_anomaly()
    };
    let lead = surge.lead_evidence(NOW - MIN);
    assert_eq!(lead.title, "Request volume surged");
    assert_eq!(lead.occurred_at, NOW - MIN);
    assert_eq!(
        lead.fields.get("direction"),
        Some(&crate::incidents::model::FieldValue::Str("surge".into()))
    );
}

fn signal(id: &str, kind: &str, severity: &str, at: i64) -> Signal {
    Signal {
        signal_id: id.into(),
        kind: kind.into(),
        source: "k8s".into(),
        service: "checkout".into(),
        env: "prod".into(),
        severity: severity.into(),
        reason: format!("{kind}_reason"),
        timestamp_ns: at,
        ..Signal::default()
    }
}

#[test]
fn build_classifies_runtime_and_deploy_without_events() {
    let a = drop_anomaly();
    let mut oom = signal("sig_rt", "runtime", "critical", NOW - MIN);
    oom.meta.subtype = "oom_killed".into();
    let runtime = [oom];
    let inc = build_anomaly_incident(
        &AnomalyBuildInput {
            runtime: &runtime,
            ..input(&a, None)
        },
        |_| false,
    )
    .incident;
    assert_eq!(
        (inc.cause, inc.confidence),
        (Cause::Runtime, Confidence::High)
    );
    assert_eq!(inc.runtime.as_ref().unwrap().matches.len(), 1);
    assert_eq!(inc.evidence[0].kind, EvidenceKind::Traffic);
    assert_eq!(inc.evidence[1].kind, EvidenceKind::Runtime);
    assert!(
        inc.next_checks
            .iter()
            .any(|c| c == "Inspect memory usage for `checkout` around the runtime event."),
        "{:?}",
        inc.next_checks
    );

    let deployments = [Deployment {
        id: "dep-9".into(),
        service: "checkout".into(),
        env: "prod".into(),
        version: "2.0".into(),
        first_seen_ns: NOW - 2 * MIN,
        ..Deployment::default()
    }];
    let inc = build_anomaly_incident(
        &AnomalyBuildInput {
            deployments: &deployments,
            ..input(&a, None)
        },
        |_| false,
    )
    .incident;
    assert_eq!(
        (inc.cause, inc.confidence),
        (Cause::Deploy, Confidence::High)
    );
    assert_eq!(inc.suspect_deploy_id, "dep-9");
    assert!(
        inc.next_checks[0].starts_with("Compare incident onset with deploy `2.0` on `checkout`"),
        "{:?}",
        inc.next_checks
    );
}

#[test]
fn build_keeps_the_lead_outside_the_evidence_cap() {
    let a = drop_anomaly();
    let alerts: Vec<AttachedAlert> = (0..15)
        .map(|i| AttachedAlert {
            signal: signal(
                &format!("sig_a{i:02}"),
                "alert",
                "warning",
                NOW - 60 * S + i,
            ),
            strategy: MatchStrategy::Family,
        })
        .collect();
    let inc = build_anomaly_incident(
        &AnomalyBuildInput {
            alerts: &alerts,
            ..input(&a, None)
        },
        |_| false,
    )
    .incident;
    assert_eq!(inc.evidence.len(), 13, "lead + 12 capped rows");
    assert_eq!(inc.evidence[0].kind, EvidenceKind::Traffic);
    assert!(
        inc.evidence[1..]
            .iter()
            .all(|e| e.kind == EvidenceKind::Signal)
    );
    // The cap keeps the earliest rows.
    assert_eq!(inc.evidence[1].signal_id, "sig_a00");
    assert_eq!(inc.evidence[12].signal_id, "sig_a11");
    assert_eq!(
        inc.alerts
            .as_ref()
            .unwrap()
            .latest
            .as_ref()
            .unwrap()
            .capture_status,
        CaptureStatus::Ok
    );
}

#[test]
fn build_refresh_keeps_identity_and_suspect_deploy_and_opening_reissues() {
    let a = drop_anomaly();
    let mut existing = Incident::skeleton(
        "inc_keep".into(),
        "staging".into(),
        a.family(),
        NOW - 5 * MIN,
        NOW - 30 * S,
    );
    existing.status = Status::Recovering;
    existing.recovering_at = Some(NOW - 30 * S);
    existing.suspect_deploy_id = "dep-old".into();
    let built = build_anomaly_incident(&input(&a, Some(&existing)), |_| {
        panic!("no id lookup on refresh")
    });
    let inc = built.incident;
    assert_eq!(inc.incident_id, "inc_keep");
    assert_eq!(inc.env, "staging");
    assert_eq!(inc.started_at, NOW - 5 * MIN);
    assert_eq!(
        inc.evidence[0].occurred_at,
        NOW - 5 * MIN,
        "lead at started_at"
    );
    assert_eq!(inc.status, Status::Active);
    assert_eq!(inc.recovering_at, None);
    assert_eq!(inc.suspect_deploy_id, "dep-old");

    let plain = incident_id("prod", &a.family(), NOW);
    let built = build_anomaly_incident(&input(&a, None), |id| id == plain);
    assert!(built.reissued);
    assert_ne!(built.incident.incident_id, plain);
}
