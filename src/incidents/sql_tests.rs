//! The incident SQL run by DataFusion over an in-memory `events` table, checked against the
//! Rust statement of the same contracts (detection §2.3, suspect dimensions §2.10, service
//! statistics §2.11).

use std::sync::Arc;

use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde_json::json;

use super::anomaly::{
    STATS_QUERY, ServiceStats, StatEvent, service_stats_in_memory, stats_params, stats_rows,
};
use super::detect::{
    CANDIDATES_QUERY, Thresholds, candidate_params, candidate_rows, candidates_in_memory,
};
use super::dimensions::{
    DimensionCountRow, SUMMARY_BUCKET_NS, SUMMARY_SCHEMA, baseline_bounds, rank,
    register_unsummarized, suspect_dimension_rows, whole_buckets,
};
use super::model::{CaptureStatus, ErrorFamily};
use crate::model::{Anchor, Event, Step};
use crate::query::sql;
use crate::storage::schema::{EVENTS_SCHEMA, events_to_batch};
use datafusion::arrow::array::RecordBatch;

const MIN: i64 = 60 * 1_000_000_000;
const NOW: i64 = 1_777_896_600_000_000_000; // 2026-05-04T12:10:00Z
const W: i64 = 10 * MIN;

fn fam() -> ErrorFamily {
    ErrorFamily::new("checkout", "payment.charge", "PMT_502")
}

fn event(n: usize, service: &str, status: &str, ts: i64) -> Event {
    crate::model::event::test_event(n, service, status, ts)
}

fn failing(n: usize, f: &ErrorFamily, ts: i64) -> Event {
    let mut e = event(n, &f.service, "error", ts);
    e.anchor = Some(Anchor {
        step: f.step.clone(),
        error_code: f.error_code.clone(),
        kind: None,
    });
    e
}

fn events_table(events: &[Event]) -> Arc<MemTable> {
    let batches = if events.is_empty() {
        vec![]
    } else {
        vec![events_to_batch(events).unwrap()]
    };
    Arc::new(MemTable::try_new(EVENTS_SCHEMA.clone(), vec![batches]).unwrap())
}

fn events_ctx(events: &[Event]) -> SessionContext {
    let ctx = SessionContext::new();
    crate::query::functions::register(&ctx);
    ctx.register_table("events", events_table(events)).unwrap();
    ctx
}

async fn run(
    events: &[Event],
    q: sql::ReadQuery,
    params: Vec<sql::Param>,
) -> Vec<datafusion::arrow::array::RecordBatch> {
    sql::collect(&events_ctx(events), q, params).await.unwrap()
}

/// The dimension counts of `f` over `events` at NOW, computed twice: every baseline event read
/// row by row, and with the events cut into sources of two (in the given order) of which two
/// in three stand in by their per-bucket summaries (plus their rows in the partial edge
/// buckets) and every third is read row by row. Both must agree, at NOW (whole-bucket window
/// edges) and 17 s later (partial buckets at both edges).
async fn dimension_counts(events: &[Event], f: &ErrorFamily) -> Vec<DimensionCountRow> {
    let mut at_now = Vec::new();
    for now in [NOW, NOW + 17_000_000_000] {
        let ctx = events_ctx(events);
        register_unsummarized(&ctx).await.unwrap();
        let plain = suspect_dimension_rows(&ctx, now, W, f).await.unwrap();

        let (lo, hi) = baseline_bounds(now, W);
        let (a, b) = whole_buckets((lo, hi));
        let overlaps = |min: i64, max: i64, lo: i64, hi: i64| lo < hi && max >= lo && min < hi;
        let (mut values, mut partial, mut edge) = (Vec::new(), Vec::new(), Vec::new());
        for (i, source) in events.chunks(2).enumerate() {
            let min = source.iter().map(|e| e.ts_start_ns).min().unwrap();
            let max = source.iter().map(|e| e.ts_start_ns).max().unwrap();
            if !overlaps(min, max, lo, hi) {
                continue;
            }
            if i % 3 == 2 {
                edge.extend_from_slice(source);
                continue;
            }
            let summary = sql::collect(
                &events_ctx(source),
                sql::ReadQuery::IncidentDimensionSummary,
                vec![],
            )
            .await
            .unwrap();
            for b in summary {
                values.push(
                    RecordBatch::try_new(SUMMARY_SCHEMA.clone(), b.columns().to_vec()).unwrap(),
                );
            }
            if overlaps(min, max, lo, a) || overlaps(min, max, b, hi) {
                partial.extend_from_slice(source);
            }
        }
        sql::register_batches(&ctx, "dim_values", SUMMARY_SCHEMA.clone(), values).unwrap();
        for (name, rows) in [("dim_partial_events", &partial), ("dim_edge_events", &edge)] {
            ctx.deregister_table(name).unwrap();
            ctx.register_table(name, events_table(rows)).unwrap();
        }
        let summarized = suspect_dimension_rows(&ctx, now, W, f).await.unwrap();
        assert_eq!(
            summarized, plain,
            "summarized sources count the same at {now}"
        );
        if now == NOW {
            at_now = plain;
        }
    }
    at_now
}

#[test]
fn whole_buckets_lie_inside_the_bounds() {
    const B: i64 = SUMMARY_BUCKET_NS;
    assert_eq!(whole_buckets((10 * B, 50 * B)), (10 * B, 50 * B));
    assert_eq!(whole_buckets((10 * B + 1, 50 * B - 1)), (11 * B, 49 * B));
    // No whole bucket: everything is read row by row ([lo, a) ∪ [b, hi) = [lo, hi)).
    assert_eq!(
        whole_buckets((10 * B + 5, 10 * B + 9)),
        (10 * B + 9, 10 * B + 9)
    );
    assert_eq!(whole_buckets((-B - 1, B + 1)), (-B, B));
    // The SQL bins by the same width.
    assert!(
        sql::ReadQuery::IncidentDimensionSummary
            .text()
            .contains("date_bin(INTERVAL '15 seconds', ts_start)")
    );
    assert_eq!(SUMMARY_BUCKET_NS, 15_000_000_000);
}

#[tokio::test]
async fn candidates_sql_agrees_with_the_rust_contract() {
    let other = ErrorFamily::new("payment", "acquirer.charge", "PMT_502");
    let steady = ErrorFamily::new("db", "db.query", "DB_TIMEOUT");
    let mut events = Vec::new();
    let mut n = 0;
    let mut put =
        |events: &mut Vec<Event>, f: &ErrorFamily, status: &str, count: usize, at: i64| {
            for k in 0..count {
                let mut e = failing(n, f, at - k as i64);
                e.status = status.parse().unwrap();
                events.push(e);
                n += 1;
            }
        };
    // checkout: current 12, baselines [12, 0, 0] → candidate, lift 12.
    put(&mut events, &fam(), "error", 12, NOW);
    put(&mut events, &fam(), "timeout", 12, NOW - W - 1);
    // payment: 6 at exactly now − W (inclusive lower bound of C) → candidate.
    put(&mut events, &other, "partial", 6, NOW - W + 5);
    // db: current 12, baselines [10, 9, 11] → lift 1.2, none.
    put(&mut events, &steady, "aborted", 12, NOW);
    put(&mut events, &steady, "error", 10, NOW - W - 1);
    put(&mut events, &steady, "error", 9, NOW - 2 * W - 1);
    put(&mut events, &steady, "error", 11, NOW - 3 * W - 1);
    // Never counted: suppressed, ok, too old, in the future, no anchor.
    put(&mut events, &fam(), "suppressed", 30, NOW);
    put(&mut events, &fam(), "ok", 30, NOW);
    put(&mut events, &fam(), "error", 30, NOW - 4 * W - 1);
    put(&mut events, &fam(), "error", 30, NOW + 100);
    events.push(event(9999, "checkout", "error", NOW));

    let t = Thresholds::default();
    let batches = run(&events, CANDIDATES_QUERY, candidate_params(NOW, &t)).await;
    let from_sql: Vec<_> = batches
        .iter()
        .flat_map(|b| candidate_rows(b).unwrap())
        .collect();
    let tuples: Vec<(ErrorFamily, &str, i64)> = events
        .iter()
        .filter_map(|e| {
            let a = e.anchor.as_ref()?;
            Some((
                ErrorFamily::new(&e.service, &a.step, &a.error_code),
                e.status.as_str(),
                e.ts_start_ns,
            ))
        })
        .collect();
    let in_rust = candidates_in_memory(&tuples, NOW, &t);
    assert_eq!(from_sql, in_rust);
    let got: Vec<(&str, i64, i64, f64)> = from_sql
        .iter()
        .map(|r| {
            (
                r.family.service.as_str(),
                r.current_count,
                r.baseline_count,
                r.lift,
            )
        })
        .collect();
    assert_eq!(got, [("checkout", 12, 0, 12.0), ("payment", 6, 0, 6.0)]);

    // MIN_RATE 1/min over W = 10m needs 10 failures: payment (6) drops out.
    let t = Thresholds {
        min_rate_per_min: 1.0,
        ..Thresholds::default()
    };
    let batches = run(&events, CANDIDATES_QUERY, candidate_params(NOW, &t)).await;
    let from_sql: Vec<_> = batches
        .iter()
        .flat_map(|b| candidate_rows(b).unwrap())
        .collect();
    assert_eq!(from_sql, candidates_in_memory(&tuples, NOW, &t));
    assert_eq!(from_sql.len(), 1);
}

fn with_fields(mut e: Event, version: &str, route: &str, tier: &str) -> Event {
    e.version = (!version.is_empty()).then(|| version.to_owned());
    let fields = json!({"http": {"method": "POST", "route": route}, "user": {"tier": tier, "region": "eu-west-1"}});
    e.fields = fields.as_object().cloned();
    e
}

fn step(name: &str, status: &str, start_ms: i64, downstream: &str) -> Step {
    crate::model::event::test_step(name, status, start_ms, downstream)
}

fn counts(rows: &[DimensionCountRow]) -> Vec<(String, String, i64, i64)> {
    rows.iter()
        .map(|r| {
            (
                r.dimension.clone(),
                r.value.clone(),
                r.failing_count,
                r.baseline_count,
            )
        })
        .collect()
}

#[tokio::test]
async fn dimensions_sql_counts_values_per_population() {
    let f = fam();
    let mut events = Vec::new();
    // F: 4 failing events in C; all 2.4.1, 2 premium; downstream from the step named like the
    // family step: error beats a later ok step; among equal starts the later in array order.
    for n in 0..4 {
        let mut e = with_fields(
            failing(n, &f, NOW - n as i64),
            "2.4.1",
            "/checkout",
            if n < 2 { "premium" } else { "free" },
        );
        e.steps = match n {
            0 => vec![
                step("payment.charge", "error", 5, "payment"),
                step("payment.charge", "ok", 9, "retry-svc"),
            ],
            1 => vec![
                step("payment.charge", "error", 5, "first"),
                step("payment.charge", "error", 5, "payment"),
            ],
            2 => vec![
                step("cart.validate", "ok", 0, "db"),
                step("payment.charge", "error", 3, "payment"),
            ],
            _ => vec![],
        };
        events.push(e);
    }
    // B: 10 baseline-window events of checkout (any status but suppressed), 1 on 2.4.1.
    for n in 10..20 {
        let v = if n == 10 { "2.4.1" } else { "2.4.0" };
        events.push(with_fields(
            event(n, "checkout", "ok", NOW - W - 1 - n as i64),
            v,
            "/checkout",
            "free",
        ));
    }
    // Not in B: suppressed, other services, too old; not in F: other family.
    events.push(with_fields(
        event(30, "checkout", "suppressed", NOW - W - 5),
        "2.4.1",
        "/x",
        "free",
    ));
    events.push(with_fields(
        event(31, "payment", "ok", NOW - W - 5),
        "2.4.1",
        "/x",
        "free",
    ));
    events.push(with_fields(
        event(32, "checkout", "ok", NOW - 4 * W - 1),
        "2.4.1",
        "/x",
        "free",
    ));
    let mut other = with_fields(
        failing(33, &ErrorFamily::new("checkout", "db.load", "DB1"), NOW),
        "9.9.9",
        "/x",
        "free",
    );
    other.status = crate::model::EventStatus::Error;
    events.push(other);

    let rows = dimension_counts(&events, &f).await;
    assert_eq!((rows[0].failing_events, rows[0].baseline_events), (4, 10));
    assert_eq!(rows[0].baseline, "baseline_windows");
    let s = |a: &str, b: &str, c: i64, d: i64| (a.to_owned(), b.to_owned(), c, d);
    assert_eq!(
        counts(&rows),
        [
            s("", "", 0, 0),
            s("downstream_service", "payment", 3, 0),
            s("env", "prod", 4, 10),
            s("http_method", "POST", 4, 10),
            s("route", "/checkout", 4, 10),
            s("user_region", "eu-west-1", 4, 10),
            s("user_tier", "free", 2, 10),
            s("user_tier", "premium", 2, 0),
            s("version", "2.4.1", 4, 1),
        ]
    );
    let c = rank(&rows, NOW);
    assert_eq!(c.capture_status, CaptureStatus::Ok);
    let top: Vec<(&str, &str)> = c
        .dimensions
        .iter()
        .map(|d| (d.dimension.as_str(), d.value.as_str()))
        .collect();
    assert_eq!(
        top,
        [
            ("version", "2.4.1"),
            ("downstream_service", "payment"),
            ("user_tier", "premium")
        ]
    );
}

#[tokio::test]
async fn dimensions_sql_falls_back_to_the_current_window() {
    let f = fam();
    let mut events = vec![
        with_fields(failing(0, &f, NOW), "", "/checkout", "free"),
        with_fields(failing(1, &f, NOW - 1), "", "/checkout", "free"),
    ];
    events.push(with_fields(
        event(2, "checkout", "ok", NOW - 2),
        "",
        "/other",
        "free",
    ));
    events.push(with_fields(
        event(3, "checkout", "suppressed", NOW - 2),
        "",
        "/other",
        "free",
    ));
    let rows = dimension_counts(&events, &f).await;
    assert_eq!(rows[0].baseline, "current_window");
    assert_eq!((rows[0].failing_events, rows[0].baseline_events), (2, 1));
    assert!(
        rows.iter().all(|r| r.dimension != "version"),
        "missing values yield no row"
    );
    let c = rank(&rows, NOW);
    assert_eq!(c.dimensions[0].dimension, "route");

    // No event of the service at all: only the totals row, missing capture.
    let rows = dimension_counts(&[], &f).await;
    assert_eq!(counts(&rows), [("".to_owned(), "".to_owned(), 0, 0)]);
    assert_eq!(rank(&rows, NOW).capture_status, CaptureStatus::Missing);
}

fn stat_event(e: &Event) -> StatEvent {
    StatEvent {
        event_id: e.event_id.clone(),
        service: e.service.clone(),
        env: e.env.clone(),
        version: e.version.clone().unwrap_or_default(),
        status: e.status.as_str().to_owned(),
        duration_ms: e.duration_ms,
        ts_start_ns: e.ts_start_ns,
    }
}

#[tokio::test]
async fn service_stats_sql_agrees_with_the_rust_contract() {
    let mut events = Vec::new();
    let mut n = 0;
    let mut put = |events: &mut Vec<Event>, service: &str, status: &str, ms: i64, ts: i64| {
        let mut e = event(n, service, status, ts);
        e.duration_ms = ms;
        events.push(e);
        n += 1;
    };
    // checkout: 23 events in C with spread and tied durations, every status counts.
    let statuses = ["ok", "error", "suppressed", "partial", "timeout"];
    for k in 0..23i64 {
        let ms = (k * 37) % 101 + if k % 4 == 0 { 500 } else { 0 };
        put(
            &mut events,
            "checkout",
            statuses[k as usize % 5],
            ms,
            NOW - k * 1000,
        );
    }
    // checkout baselines: B0 7 events, B1 1 event, B2 none; C's lower bound is inclusive.
    for k in 0..7 {
        put(&mut events, "checkout", "ok", 10 + k, NOW - W - 1 - k);
    }
    put(&mut events, "checkout", "ok", 42, NOW - 2 * W - 1);
    put(&mut events, "checkout", "ok", 7, NOW - W);
    // api: only B2 (lower bound inclusive), and events outside [now − 4W, now].
    put(&mut events, "api", "ok", 3, NOW - 4 * W);
    put(&mut events, "api", "ok", 4, NOW - 3 * W - 1);
    put(&mut events, "api", "ok", 1000, NOW - 4 * W - 1);
    put(&mut events, "api", "ok", 1000, NOW + 1);
    // Versions and envs: checkout's newest event (ts NOW, two at NOW: event_id asc wins).
    events[0].env = "demo".into();
    events[0].version = Some("2.4.1".into());
    put(&mut events, "checkout", "ok", 1, NOW);
    events.last_mut().unwrap().env = "staging".into();
    // A version outside C does not count.
    events[24].version = Some("old".into());

    let rust_events: Vec<StatEvent> = events.iter().map(stat_event).collect();
    for p in [1, 50, 95, 99, 100] {
        let batches = run(&events, STATS_QUERY, stats_params(NOW, W, p)).await;
        let from_sql: Vec<ServiceStats> = batches
            .iter()
            .flat_map(|b| stats_rows(b).unwrap())
            .collect();
        assert_eq!(
            from_sql,
            service_stats_in_memory(&rust_events, NOW, W, p),
            "P = {p}"
        );
    }
    let batches = run(&events, STATS_QUERY, stats_params(NOW, W, 95)).await;
    let rows: Vec<ServiceStats> = batches
        .iter()
        .flat_map(|b| stats_rows(b).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].service, "api");
    assert_eq!(rows[0].counts, [0, 0, 0, 2]);
    assert_eq!(rows[0].px, [None, None, None, Some(4)]);
    let c = &rows[1];
    assert_eq!(c.counts, [25, 7, 1, 0]);
    assert_eq!(c.env, "demo");
    assert_eq!(
        c.facts,
        crate::incidents::classify::ServiceFacts {
            any_version: true,
            any_partial: true
        }
    );
    // ceil(95 × 7 / 100) = 7 → the largest of 10..=16.
    assert_eq!(c.px[1], Some(16));
    assert_eq!((c.px[2], c.px[3]), (Some(42), None));
}

/// Every read model of the registry plans and runs against the tables' schemas (here, not
/// in `query::sql`, because some read models read the incident engine's dimension tables).
#[tokio::test]
async fn read_queries_plan_against_events_schema() {
    let ctx = SessionContext::new();
    for t in crate::storage::schema::TableId::ALL {
        let table = MemTable::try_new(t.schema(), vec![vec![]]).unwrap();
        ctx.register_table(t.name(), Arc::new(table)).unwrap();
    }
    crate::query::functions::register(&ctx);
    crate::query::register_views(&ctx).await.unwrap();
    crate::query::sql::register_sel(&ctx, &["a".to_string()])
        .await
        .unwrap();
    crate::query::trace_index::register_trace_lookup(&ctx, "a")
        .await
        .unwrap();
    register_unsummarized(&ctx).await.unwrap();
    for q in crate::query::sql::ReadQuery::ALL {
        let params = q
            .params()
            .iter()
            .map(|t| crate::query::sql::tests::dummy(*t))
            .collect();
        let df = crate::query::sql::prepare(&ctx, *q, params)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", q.name()));
        df.clone()
            .create_physical_plan()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", q.name()));
        df.collect()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", q.name()));
        if q.materialized_as().is_some() {
            let params = q
                .params()
                .iter()
                .map(|t| crate::query::sql::tests::dummy(*t))
                .collect();
            crate::query::sql::materialize(&ctx, *q, params)
                .await
                .unwrap();
        }
    }
}
