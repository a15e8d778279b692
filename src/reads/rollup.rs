//! `GET /v1/rollups/root_cause` (spec reads §3.4): each failed request counted once, under
//! the code of its originating failure.
//!
//! SQL finds the candidate traces (`rollup_failed_traces`), the per-code hop counts
//! (`rollup_code_counts`) and services (`rollup_code_services`); Rust resolves each candidate
//! trace's origin over `trace_events` and merges small per-code maps. A trace is a root-cause
//! trace of the window only when its origin's `ts_start` lies in the window, so adjacent
//! windows never count one trace twice.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use super::origin::{TraceNode, resolve_origin};
use super::params::{Params, RollupCursor, TimeWindow, parse_cursor, parse_limit};
use super::{ReadError, load_traces_split};
use crate::config::Config;
use crate::model::rejection::Rejection;
use crate::query::rows::Columns;
use crate::query::sql::{self, Param, ReadQuery};

pub const PARAMS: &[&str] = &["since", "until", "window", "cursor", "limit"];
const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);
/// At most this many `top_services` and `origins` per row.
const TOP_N: usize = 10;
const SAMPLES: usize = 3;

#[derive(Debug, Clone)]
pub struct RollupQuery {
    pub window: TimeWindow,
    pub cursor: Option<RollupCursor>,
    pub limit: usize,
}

impl RollupQuery {
    pub fn parse(p: &Params, now_ns: i64, config: &Config) -> Result<Self, Rejection> {
        let window = TimeWindow::resolve(p, now_ns, config.retention, DEFAULT_WINDOW)?;
        let cursor = parse_cursor(p.get("cursor"), RollupCursor::decode)?;
        let limit = parse_limit(p.get("limit"))?;
        Ok(RollupQuery {
            window,
            cursor,
            limit,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Origin {
    pub service: String,
    pub step: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RollupRow {
    pub error_code: String,
    pub root_cause_count: i64,
    pub propagated_count: i64,
    pub affected_traces: i64,
    pub affected_services: i64,
    pub top_services: Vec<String>,
    pub origins: Vec<Origin>,
    pub sample_traces: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollupResponse {
    pub window: String,
    pub failed_traces: i64,
    pub failed_events: i64,
    pub rows: Vec<RollupRow>,
    pub next_cursor: Option<String>,
}

/// The origin of one root-cause trace.
#[derive(Debug, Clone)]
struct RootCause {
    trace_id: String,
    code: String,
    service: String,
    step: String,
    ts_start_ns: i64,
}

/// Per-code accumulation before sorting.
#[derive(Debug, Default)]
struct CodeAcc {
    propagated: i64,
    affected_traces: i64,
    /// `(service, traces)` already in rank order.
    services: Vec<(String, i64)>,
    roots: Vec<RootCause>,
}

fn window_params(w: &TimeWindow) -> Vec<Param> {
    vec![Param::Timestamp(w.since_ns), Param::Timestamp(w.until_ns)]
}

/// The originating event of a root-cause trace of `window` (§3.4): the trace's resolved
/// origin (suppressed events excluded) when its `ts_start` lies in the window. Shared by the
/// rollup and the graph tools (`super::graph`), so both count the same traces.
pub fn window_root<N: TraceNode>(rows: &[N], window: &TimeWindow) -> Option<usize> {
    let (i, _) = resolve_origin(rows, true)?;
    window.contains(rows[i].ts_start_ns()).then_some(i)
}

/// The candidate traces of `window` (`sql/rollup_failed_traces.sql`): every trace with a
/// failed event starting in it.
pub async fn candidate_traces(
    ctx: &SessionContext,
    window: &TimeWindow,
) -> Result<Vec<String>, ReadError> {
    let mut candidates = Vec::new();
    for batch in sql::collect(ctx, ReadQuery::RollupFailedTraces, window_params(window)).await? {
        let ids = Columns::new(&batch).strings("trace_id")?;
        candidates.extend(ids.iter().flatten().map(str::to_owned));
    }
    Ok(candidates)
}

pub async fn read(ctx: &SessionContext, q: &RollupQuery) -> Result<RollupResponse, ReadError> {
    let window = q.window;
    let extent = window.extent();

    // 1. Candidate traces.
    let candidates = candidate_traces(ctx, &window).await?;

    // 2. Origins of the candidate traces.
    let parts = load_traces_split(
        ctx,
        &candidates,
        extent,
        Vec::new,
        |roots: &mut Vec<RootCause>, rows| {
            let Some(i) = window_root(rows, &window) else {
                return;
            };
            let origin = &rows[i];
            // Failed events always carry an anchor (ingest rejects them otherwise).
            if let (Some(code), Some(step)) = (origin.anchor_error_code(), origin.anchor_step()) {
                roots.push(RootCause {
                    trace_id: origin.trace_id().to_owned(),
                    code: code.to_owned(),
                    service: origin.service().to_owned(),
                    step: step.to_owned(),
                    ts_start_ns: origin.ts_start_ns(),
                });
            }
        },
    )
    .await?;
    let roots: Vec<RootCause> = parts.into_iter().flatten().collect();

    // 3. Per-code hop counts and services.
    let mut codes: BTreeMap<String, CodeAcc> = BTreeMap::new();
    for batch in sql::collect(ctx, ReadQuery::RollupCodeCounts, window_params(&window)).await? {
        let cols = Columns::new(&batch);
        let code = cols.strings("error_code")?;
        let propagated = cols.ints("propagated_count")?;
        let traces = cols.ints("affected_traces")?;
        for i in 0..batch.num_rows() {
            let acc = codes.entry(code.value(i).to_owned()).or_default();
            acc.propagated = propagated.value(i);
            acc.affected_traces = traces.value(i);
        }
    }
    for batch in sql::collect(ctx, ReadQuery::RollupCodeServices, window_params(&window)).await? {
        let cols = Columns::new(&batch);
        let code = cols.strings("error_code")?;
        let service = cols.strings("service")?;
        let traces = cols.ints("traces")?;
        for i in 0..batch.num_rows() {
            codes
                .entry(code.value(i).to_owned())
                .or_default()
                .services
                .push((service.value(i).to_owned(), traces.value(i)));
        }
    }
    let failed_traces = roots.len() as i64;
    for root in roots {
        codes.entry(root.code.clone()).or_default().roots.push(root);
    }

    // 4. Rows.
    let failed_events = codes.values().map(|a| a.propagated).sum();
    let mut rows: Vec<RollupRow> = codes
        .into_iter()
        .map(|(code, acc)| row(code, acc))
        .collect();
    rows.sort_by(|a, b| {
        b.root_cause_count
            .cmp(&a.root_cause_count)
            .then(b.propagated_count.cmp(&a.propagated_count))
            .then_with(|| a.error_code.cmp(&b.error_code))
    });
    if let Some(c) = &q.cursor {
        rows.retain(|r| {
            r.root_cause_count < c.r
                || (r.root_cause_count == c.r
                    && (r.propagated_count < c.p
                        || (r.propagated_count == c.p && r.error_code > c.e)))
        });
    }
    let next_cursor = if rows.len() > q.limit {
        rows.truncate(q.limit);
        rows.last().map(|r| {
            RollupCursor {
                r: r.root_cause_count,
                p: r.propagated_count,
                e: r.error_code.clone(),
            }
            .encode()
        })
    } else {
        None
    };
    Ok(RollupResponse {
        window: window.echo(),
        failed_traces,
        failed_events,
        rows,
        next_cursor,
    })
}

fn row(error_code: String, mut acc: CodeAcc) -> RollupRow {
    let mut origin_counts: HashMap<(String, String), i64> = HashMap::new();
    for r in &acc.roots {
        *origin_counts
            .entry((r.service.clone(), r.step.clone()))
            .or_default() += 1;
    }
    let mut origins: Vec<Origin> = origin_counts
        .into_iter()
        .map(|((service, step), count)| Origin {
            service,
            step,
            count,
        })
        .collect();
    origins.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.service.cmp(&b.service))
            .then_with(|| a.step.cmp(&b.step))
    });
    origins.truncate(TOP_N);
    acc.roots.sort_by(|a, b| {
        b.ts_start_ns
            .cmp(&a.ts_start_ns)
            .then_with(|| a.trace_id.cmp(&b.trace_id))
    });
    RollupRow {
        root_cause_count: acc.roots.len() as i64,
        propagated_count: acc.propagated,
        affected_traces: acc.affected_traces,
        affected_services: acc.services.len() as i64,
        top_services: acc
            .services
            .iter()
            .take(TOP_N)
            .map(|(s, _)| s.clone())
            .collect(),
        origins,
        sample_traces: acc
            .roots
            .iter()
            .take(SAMPLES)
            .map(|r| r.trace_id.clone())
            .collect(),
        error_code,
    }
}
