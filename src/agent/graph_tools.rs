//! The graph tools (spec reads §6.3: `graph_stats`, `trace_summary`, `graph_failures`,
//! `failure_patterns`, `failure_chain`, `graph_insights`, `compare_windows`), over the
//! root-cause traces and trace facts of [`crate::reads::graph`].

use std::collections::BTreeMap;
use std::time::Duration;

use datafusion::prelude::SessionContext;
use serde_json::{Map, Value, json};

use super::ToolEnv;
use super::error::ToolError;
use super::tools::{route_params, str_param, with_snapshot};
use crate::duration::parse_duration;
use crate::incidents::model::json_time;
use crate::reads::ReadError;
use crate::reads::graph::{self, RootSummary, SCHEMA_VERSION, TraceFacts};
use crate::reads::params::TimeWindow;
use crate::rfc3339::format_rfc3339_ns;

/// Default window of the graph tools.
const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

/// `params.window` (default 1h) as `[now − window, now]`; above retention is
/// `INVALID_PARAMS`.
fn window_of(env: &ToolEnv<'_>, p: &Map<String, Value>) -> Result<TimeWindow, ToolError> {
    let params = route_params(&[("window", str_param(p, "window"))], &["window"])?;
    Ok(TimeWindow::resolve(
        &params,
        env.now_ns,
        env.config.retention,
        DEFAULT_WINDOW,
    )?)
}

fn int(p: &Map<String, Value>, name: &str, default: i64) -> i64 {
    p.get(name).and_then(Value::as_i64).unwrap_or(default)
}

/// `limit` ≤ 0 → 100, > 1000 → 1000; `offset` < 0 → 0.
fn paging(p: &Map<String, Value>) -> (usize, usize) {
    let limit = match int(p, "limit", 100) {
        l if l <= 0 => 100,
        l => l.min(1000) as usize,
    };
    (limit, int(p, "offset", 0).max(0) as usize)
}

fn page(rows: Vec<Value>, (limit, offset): (usize, usize), key: &str) -> Value {
    let total = rows.len();
    let shown: Vec<Value> = rows.into_iter().skip(offset).take(limit).collect();
    paged(shown, total, offset, key)
}

/// The page `shown` of `total` rows starting at `offset`, under `key`.
fn paged(shown: Vec<Value>, total: usize, offset: usize, key: &str) -> Value {
    let has_more = offset + shown.len() < total;
    json!({"schema_version": SCHEMA_VERSION, key: shown, "total_count": total, "has_more": has_more})
}

async fn root_causes(env: &ToolEnv<'_>, window: TimeWindow) -> Result<Vec<TraceFacts>, ToolError> {
    with_snapshot(env, |ctx| async move {
        Ok(graph::root_cause_traces(&ctx, &window).await?)
    })
    .await
}

/// The error fields of a failed trace (`error_code`, `error_path`).
fn error_fields(f: &TraceFacts, out: &mut Map<String, Value>) {
    if let Some(o) = &f.origin {
        out.insert("error_code".into(), json!(o.error_code));
        out.insert("error_path".into(), json!(o.error_path()));
    }
}

pub async fn graph_stats(env: &ToolEnv<'_>, p: &Map<String, Value>) -> Result<Value, ToolError> {
    let window = window_of(env, p)?;
    let s = with_snapshot(env, |ctx| async move {
        Ok(graph::stats_read(&ctx, &window).await?)
    })
    .await?;
    Ok(json!({
        "schema_version": SCHEMA_VERSION,
        "window": window.echo(),
        "events": s.events,
        "requests": s.requests,
        "failed_requests": s.failed_requests,
        "users": s.users,
        "services": s.services,
        "failures": s.failures,
    }))
}

/// The trace named by `trace_id` or `request_id` (exactly one).
fn one_trace_id(p: &Map<String, Value>) -> Result<String, ToolError> {
    match (str_param(p, "trace_id"), str_param(p, "request_id")) {
        (Some(t), None) | (None, Some(t)) => Ok(t.to_owned()),
        _ => Err(ToolError::invalid(
            "exactly one of trace_id or request_id is required",
        )),
    }
}

async fn facts_of(
    env: &ToolEnv<'_>,
    trace_id: String,
) -> Result<(TraceFacts, Option<String>), ToolError> {
    with_snapshot(env, |ctx| async move {
        let facts = graph::trace_read(&ctx, &trace_id)
            .await?
            .ok_or_else(|| ToolError::not_found("trace not found"))?;
        // error.reason of the origin's anchor step, from its story (§4.1 step 3).
        let reason = match &facts.origin {
            Some(o) => crate::reads::traces::load_event(&ctx, &o.event_id)
                .await?
                .and_then(|e| graph::origin_reason(&facts, &e)),
            None => None,
        };
        Ok((facts, reason))
    })
    .await
}

pub async fn trace_summary(env: &ToolEnv<'_>, p: &Map<String, Value>) -> Result<Value, ToolError> {
    let (f, reason) = facts_of(env, one_trace_id(p)?).await?;
    let mut out = Map::new();
    out.insert("schema_version".into(), json!(SCHEMA_VERSION));
    out.insert("trace_id".into(), json!(f.trace_id));
    out.insert("request_id".into(), json!(f.trace_id));
    out.insert("linkage".into(), json!(f.linkage));
    out.insert("status".into(), json!(f.status));
    out.insert("latency_ms".into(), json!(f.latency_ms));
    out.insert("services".into(), json!(f.services));
    error_fields(&f, &mut out);
    if let Some(r) = reason {
        out.insert("error_reason".into(), json!(r));
    }
    out.insert("paths".into(), json!(f.paths));
    Ok(Value::Object(out))
}

pub async fn failure_chain(env: &ToolEnv<'_>, p: &Map<String, Value>) -> Result<Value, ToolError> {
    let (f, _) = facts_of(env, one_trace_id(p)?).await?;
    Ok(json!({
        "schema_version": SCHEMA_VERSION,
        "request_id": f.trace_id,
        "trace_id": f.trace_id,
        "linkage": f.linkage,
        "services": f.chain,
    }))
}

pub async fn graph_failures(env: &ToolEnv<'_>, p: &Map<String, Value>) -> Result<Value, ToolError> {
    let window = window_of(env, p)?;
    let tier = str_param(p, "tier").map(str::to_owned);
    let (limit, offset) = paging(p);
    let ts = |f: &TraceFacts| f.origin.as_ref().map_or(0, |o| o.ts_start_ns);
    // The root causes, then the error reasons of the page's rows only, over one snapshot.
    let (total, shown) = with_snapshot(env, |ctx| async move {
        let mut rcs = graph::root_cause_traces(&ctx, &window).await?;
        rcs.retain(|f| tier.is_none() || f.tier == tier);
        rcs.sort_by(|a, b| ts(b).cmp(&ts(a)).then_with(|| a.trace_id.cmp(&b.trace_id)));
        let total = rcs.len();
        let page: Vec<&TraceFacts> = rcs.iter().skip(offset).take(limit).collect();
        let reasons = graph::origin_reasons(&ctx, &page, window.extent()).await?;
        let rows: Vec<Value> = page
            .iter()
            .zip(reasons)
            .map(|(f, reason)| failure_row(f, ts(f), reason))
            .collect();
        Ok((total, rows))
    })
    .await?;
    Ok(paged(shown, total, offset, "failures"))
}

/// One `graph_failures` row: `ts` the origin's start, `error_reason` when the origin step has
/// one.
fn failure_row(f: &TraceFacts, ts: i64, reason: Option<String>) -> Value {
    let mut row = Map::new();
    row.insert("request_id".into(), json!(f.trace_id));
    row.insert("trace_id".into(), json!(f.trace_id));
    row.insert("ts".into(), json!(json_time(ts)));
    row.insert("latency_ms".into(), json!(f.latency_ms));
    if let Some(t) = &f.tier {
        row.insert("tier".into(), json!(t));
    }
    error_fields(f, &mut row);
    if let Some(r) = reason {
        row.insert("error_reason".into(), json!(r));
    }
    Value::Object(row)
}

pub async fn failure_patterns(
    env: &ToolEnv<'_>,
    p: &Map<String, Value>,
) -> Result<Value, ToolError> {
    let window = window_of(env, p)?;
    let mut groups: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for f in root_causes(env, window).await? {
        let code = f.origin.map(|o| o.error_code).unwrap_or_default();
        *groups
            .entry((code, f.flow, f.tier.unwrap_or_default()))
            .or_default() += 1;
    }
    let mut list: Vec<_> = groups.into_iter().collect();
    // Count desc, then the key ascending (the map's order, kept by the stable sort).
    list.sort_by_key(|e| std::cmp::Reverse(e.1));
    let rows = list
        .into_iter()
        .map(|((code, flow, tier), count)| {
            json!({"error_code": code, "flow": flow, "user_tier": tier, "feature_flags": [], "count": count})
        })
        .collect();
    Ok(page(rows, paging(p), "patterns"))
}

/// `(name, count)` ranked by count desc then name, at most `n`.
fn top(counts: BTreeMap<String, i64>, n: usize, key: &str) -> Vec<Value> {
    let mut list: Vec<(String, i64)> = counts.into_iter().collect();
    list.sort_by_key(|e| std::cmp::Reverse(e.1));
    list.truncate(n);
    list.into_iter()
        .map(|(k, c)| json!({key: k, "count": c}))
        .collect()
}

/// Root-cause count per origin code.
fn code_counts(rcs: &[RootSummary]) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for r in rcs {
        *counts.entry(r.error_code.clone()).or_default() += 1;
    }
    counts
}

pub async fn graph_insights(env: &ToolEnv<'_>, p: &Map<String, Value>) -> Result<Value, ToolError> {
    let window = window_of(env, p)?;
    let rcs = with_snapshot(env, |ctx| async move {
        Ok(graph::root_cause_summaries(&ctx, &window).await?)
    })
    .await?;
    let mut services: BTreeMap<String, i64> = BTreeMap::new();
    for r in &rcs {
        for s in &r.services {
            *services.entry(s.clone()).or_default() += 1;
        }
    }
    Ok(json!({
        "schema_version": SCHEMA_VERSION,
        "window": window.echo(),
        "total_failures": rcs.len(),
        "top_errors": top(code_counts(&rcs), int(p, "top_errors", 5) as usize, "error_code"),
        "top_services": top(services, int(p, "top_services", 5) as usize, "service"),
    }))
}

fn duration_param(p: &Map<String, Value>, name: &str) -> Result<Option<Duration>, ToolError> {
    match str_param(p, name) {
        None => Ok(None),
        Some(s) => match parse_duration(s) {
            Some(d) if !d.is_zero() => Ok(Some(d)),
            _ => Err(ToolError::invalid(format!("invalid {name}"))),
        },
    }
}

fn ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// `[since, until]` checked against retention like every read window.
fn explicit_window(env: &ToolEnv<'_>, since: i64, until: i64) -> Result<TimeWindow, ToolError> {
    let (s, u) = (format_rfc3339_ns(since), format_rfc3339_ns(until));
    let params = route_params(
        &[("since", Some(&s)), ("until", Some(&u))],
        &["since", "until"],
    )?;
    Ok(TimeWindow::resolve(
        &params,
        env.now_ns,
        env.config.retention,
        DEFAULT_WINDOW,
    )?)
}

/// The facts `compare_windows` compares of one window.
struct Side {
    codes: BTreeMap<String, i64>,
    failures: usize,
    durations: graph::Durations,
}

/// The sides of the comparison, one per window in order: the root-cause summaries and the
/// trace durations of all windows each read in one pass.
async fn sides(ctx: &SessionContext, windows: &[TimeWindow]) -> Result<Vec<Side>, ReadError> {
    let t = std::time::Instant::now();
    let rcs = graph::root_cause_summaries_each(ctx, windows).await?;
    let roots_us = t.elapsed().as_micros() as u64;
    let t = std::time::Instant::now();
    let durations = graph::durations_each(ctx, windows).await?;
    tracing::debug!(
        roots_us,
        durations_us = t.elapsed().as_micros() as u64,
        "compare_windows sides read"
    );
    Ok(rcs
        .into_iter()
        .zip(durations)
        .map(|(rcs, durations)| Side {
            codes: code_counts(&rcs),
            failures: rcs.len(),
            durations,
        })
        .collect())
}

fn entry(code: &str, before: i64, after: i64) -> Value {
    json!({"error_code": code, "before": before, "after": after, "delta": after - before})
}

pub async fn compare_windows(
    env: &ToolEnv<'_>,
    p: &Map<String, Value>,
) -> Result<Value, ToolError> {
    let current = duration_param(p, "current")?.unwrap_or(DEFAULT_WINDOW);
    let baseline = duration_param(p, "baseline")?.unwrap_or(DEFAULT_WINDOW);
    let offset = duration_param(p, "offset")?;
    let anchor = str_param(p, "anchor");
    let (cur, base) = match (offset, anchor) {
        (Some(_), Some(_)) => return Err(ToolError::invalid("offset and anchor are exclusive")),
        (_, Some(a)) => {
            let a = crate::rfc3339::parse_rfc3339_ns(a)
                .ok_or_else(|| ToolError::invalid("invalid anchor"))?;
            (
                explicit_window(env, a, a.saturating_add(ns(current)))?,
                explicit_window(env, a.saturating_sub(ns(baseline)), a)?,
            )
        }
        (o, None) => {
            let o = ns(o.unwrap_or(current));
            let now = env.now_ns;
            (
                explicit_window(env, now.saturating_sub(ns(current)), now)?,
                explicit_window(env, now - o - ns(baseline), now - o)?,
            )
        }
    };
    // Both sides over one snapshot.
    let mut both = with_snapshot(
        env,
        |ctx| async move { Ok(sides(&ctx, &[base, cur]).await?) },
    )
    .await?
    .into_iter();
    let (Some(before), Some(after)) = (both.next(), both.next()) else {
        return Err(ToolError::internal(&"compare_windows read no side"));
    };
    let mut codes: Vec<&String> = before.codes.keys().chain(after.codes.keys()).collect();
    codes.sort();
    codes.dedup();
    let (mut new, mut removed, mut increased, mut decreased) = (vec![], vec![], vec![], vec![]);
    for code in codes {
        let b = before.codes.get(code).copied().unwrap_or(0);
        let a = after.codes.get(code).copied().unwrap_or(0);
        let list = match (b, a) {
            (0, _) => &mut new,
            (_, 0) => &mut removed,
            (b, a) if a > b => &mut increased,
            (b, a) if a < b => &mut decreased,
            _ => continue,
        };
        list.push((code.clone(), b, a));
    }
    // Stable sorts over code order: the name is the tie-break.
    new.sort_by_key(|x| std::cmp::Reverse(x.2));
    removed.sort_by_key(|x| std::cmp::Reverse(x.1));
    increased.sort_by_key(|x| std::cmp::Reverse(x.2 - x.1));
    decreased.sort_by_key(|x| x.2 - x.1);
    let show = |l: Vec<(String, i64, i64)>| -> Vec<Value> {
        l.iter().map(|(c, b, a)| entry(c, *b, *a)).collect()
    };
    let span =
        |w: &TimeWindow| json!({"since": json_time(w.since_ns), "until": json_time(w.until_ns)});
    Ok(json!({
        "schema_version": SCHEMA_VERSION,
        "current_window": span(&cur),
        "baseline_window": span(&base),
        "new": show(new),
        "removed": show(removed),
        "increased": show(increased),
        "decreased": show(decreased),
        "total_requests_before": before.durations.total(),
        "total_requests_after": after.durations.total(),
        "total_failures_before": before.failures,
        "total_failures_after": after.failures,
        "latency_p50_before": before.durations.percentile(50),
        "latency_p50_after": after.durations.percentile(50),
        "latency_p95_before": before.durations.percentile(95),
        "latency_p95_after": after.durations.percentile(95),
        "latency_p99_before": before.durations.percentile(99),
        "latency_p99_after": after.durations.percentile(99),
    }))
}
