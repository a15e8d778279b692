//! The trace-graph reads of the agent tools (spec reads §6.3): per-trace facts (status,
//! latency, services, root-to-leaf paths, the failure chain, the origin's error fields), the
//! root-cause traces of a window (the same set as the rollup, [`super::rollup::window_root`]),
//! the window counts of `graph_stats` (`sql/graph_stats.sql`) and the trace durations of
//! `compare_windows` (`sql/trace_durations.sql`).

use std::collections::HashMap;

use datafusion::prelude::SessionContext;

use super::origin::{Linkage, TraceGraph, TraceNode, resolve_with};
use super::params::TimeWindow;
use super::rollup::{candidate_traces, window_root};
use super::trace_rows::TraceRow;
use super::trace_rows::TraceRowRef;
use super::traces::{build_story, summarize};
use super::{ReadError, for_each_trace, load_traces};
use crate::model::{Event, status_is_failed};
use crate::query::rows::{Columns, batch_to_events};
use crate::query::sql::{self, Param, ReadQuery};
use crate::query::trace_index::extents;

/// `schema_version` of the graph tools.
pub const SCHEMA_VERSION: &str = "1.0";

/// The failed origin of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginFacts {
    pub event_id: String,
    pub service: String,
    pub step: String,
    pub error_code: String,
    pub ts_start_ns: i64,
}

impl OriginFacts {
    /// `<origin service>/<origin anchor step>`.
    pub fn error_path(&self) -> String {
        format!("{}/{}", self.service, self.step)
    }
}

/// What the graph tools report of one trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceFacts {
    pub trace_id: String,
    pub linkage: Linkage,
    /// The resolved event's status (`""` when nothing resolves).
    pub status: String,
    pub latency_ms: i64,
    /// Services in trace order (the recent-trace summary's).
    pub services: Vec<String>,
    /// Every root-to-leaf path as service lists (usable graph), else one path of the distinct
    /// services in identity order.
    pub paths: Vec<Vec<String>>,
    /// The services from the root down to the origin (`failure_chain`).
    pub chain: Vec<String>,
    pub origin: Option<OriginFacts>,
    /// First non-null `user_tier` in trace order.
    pub tier: Option<String>,
    /// `http_route` of the first event in trace order, else `""`.
    pub flow: String,
}

fn service_or_id(r: &TraceRow) -> String {
    if r.service.is_empty() {
        r.event_id.clone()
    } else {
        r.service.clone()
    }
}

fn distinct_services(rows: &[TraceRow], order: impl Iterator<Item = usize>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in order {
        let s = service_or_id(&rows[i]);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// Root-to-leaf paths of a usable graph, in trace order.
fn root_paths(rows: &[TraceRow], graph: &TraceGraph) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let roots = graph
        .identity()
        .iter()
        .copied()
        .filter(|i| graph.parent(*i).is_none());
    for root in roots {
        // (node, path so far) depth-first, children in identity order.
        let mut stack = vec![(root, vec![service_or_id(&rows[root])])];
        while let Some((node, path)) = stack.pop() {
            let children = graph.children(node);
            if children.is_empty() {
                paths.push(path);
                continue;
            }
            for c in children.iter().rev() {
                let mut p = path.clone();
                p.push(service_or_id(&rows[*c]));
                stack.push((*c, p));
            }
        }
    }
    paths
}

/// The facts of one trace's rows (any order).
pub fn trace_facts(rows: &[TraceRow]) -> TraceFacts {
    let graph = TraceGraph::build(rows);
    let order = graph.order();
    let (services, _, _) = summarize(rows, true);
    let resolved = resolve_with(rows, &graph, true);
    let linkage = resolved.map_or(graph.linkage(), |(_, l)| l);
    let origin_idx = resolved
        .map(|(i, _)| i)
        .filter(|i| status_is_failed(&rows[*i].status));
    let origin = origin_idx.and_then(|i| {
        let r = &rows[i];
        Some(OriginFacts {
            event_id: r.event_id.clone(),
            service: r.service.clone(),
            step: r.anchor_step.clone()?,
            error_code: r.anchor_error_code.clone()?,
            ts_start_ns: r.ts_start_ns,
        })
    });
    let paths = if graph.usable() {
        root_paths(rows, &graph)
    } else {
        vec![distinct_services(rows, graph.identity().iter().copied())]
    };
    let chain = match origin_idx {
        Some(o) if graph.usable() => {
            let mut up = vec![o];
            while let Some(p) = up.last().and_then(|n| graph.parent(*n)) {
                up.push(p);
            }
            let mut chain: Vec<String> = Vec::new();
            for i in up.into_iter().rev() {
                let s = service_or_id(&rows[i]);
                if chain.last() != Some(&s) {
                    chain.push(s);
                }
            }
            chain
        }
        Some(o) => {
            let upto = graph.identity().iter().position(|i| *i == o).unwrap_or(0);
            distinct_services(rows, graph.identity()[..=upto].iter().copied())
        }
        None => order
            .first()
            .map(|i| vec![service_or_id(&rows[*i])])
            .unwrap_or_default(),
    };
    let start = rows.iter().map(|r| r.ts_start_ns).min().unwrap_or(0);
    let end = rows.iter().map(|r| r.ts_end_ns).max().unwrap_or(start);
    TraceFacts {
        trace_id: rows.first().map(|r| r.trace_id.clone()).unwrap_or_default(),
        linkage,
        status: resolved
            .map(|(i, _)| rows[i].status.clone())
            .unwrap_or_default(),
        latency_ms: (end.saturating_sub(start) / 1_000_000).max(0),
        services,
        paths,
        chain,
        origin,
        tier: order.iter().find_map(|i| rows[*i].user_tier.clone()),
        flow: order
            .first()
            .and_then(|i| rows[*i].http_route.clone())
            .unwrap_or_default(),
    }
}

/// The facts of one trace (all retained time), `None` when it has no events.
pub async fn trace_read(
    ctx: &SessionContext,
    trace_id: &str,
) -> Result<Option<TraceFacts>, ReadError> {
    let mut facts = None;
    for_each_trace(ctx, &[trace_id.to_owned()], (0, i64::MAX), |rows| {
        facts = Some(trace_facts(&rows));
    })
    .await?;
    Ok(facts)
}

/// The root-cause traces of `window` (§3.4: the rollup's set), each with its facts, in
/// trace-id order.
pub async fn root_cause_traces(
    ctx: &SessionContext,
    window: &TimeWindow,
) -> Result<Vec<TraceFacts>, ReadError> {
    let candidates = candidate_traces(ctx, window).await?;
    let mut out = Vec::new();
    for_each_trace(ctx, &candidates, window.extent(), |rows| {
        if window_root(&rows, window).is_some() {
            let f = trace_facts(&rows);
            if f.origin.is_some() {
                out.push(f);
            }
        }
    })
    .await?;
    Ok(out)
}

/// `error.reason` of the origin's anchor step (spec reads §4.1 step 3) in the story of
/// `origin_event`, the stored origin event of `facts`; `None` without a failure or a reason.
pub fn origin_reason(facts: &TraceFacts, origin_event: &Event) -> Option<String> {
    let o = facts.origin.as_ref()?;
    build_story(origin_event, facts.linkage)
        .path
        .iter()
        .rev()
        .find(|s| s.name == o.step && s.error_msg.is_some())
        .and_then(|s| s.error_msg.clone())
}

/// The `error_reason` of each of `facts` ([`origin_reason`]), their origin events read in one
/// query (`sql/origin_events.sql`) over the traces' events with `ts_start` in `extent`.
pub async fn origin_reasons(
    ctx: &SessionContext,
    facts: &[&TraceFacts],
    extent: (i64, i64),
) -> Result<Vec<Option<String>>, ReadError> {
    let traces: Vec<String> = facts
        .iter()
        .filter(|f| f.origin.is_some())
        .map(|f| f.trace_id.clone())
        .collect();
    let mut events: HashMap<String, Event> = HashMap::new();
    if !traces.is_empty() {
        sql::register_sel(ctx, &traces).await?;
        let params = vec![Param::Timestamp(extent.0), Param::Timestamp(extent.1)];
        for batch in sql::collect(ctx, ReadQuery::OriginEvents, params).await? {
            for e in batch_to_events(&batch)? {
                // The first row of an id wins (the query's order is event_by_id's).
                events.entry(e.event_id.clone()).or_insert(e);
            }
        }
    }
    Ok(facts
        .iter()
        .map(|f| {
            let o = f.origin.as_ref()?;
            origin_reason(f, events.get(&o.event_id)?)
        })
        .collect())
}

/// What `graph_insights` and `compare_windows` read of a root-cause trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootSummary {
    /// The origin's `anchor_error_code` ([`OriginFacts::error_code`]).
    pub error_code: String,
    /// The trace's distinct non-empty services (the set of [`TraceFacts::services`]), sorted.
    pub services: Vec<String>,
}

/// The summary of a trace's rows when it is a root-cause trace of `window`: the same test as
/// [`root_cause_traces`] (a window root that failed and carries its anchor).
fn root_summary(rows: &[TraceRowRef<'_>], window: &TimeWindow) -> Option<RootSummary> {
    let origin = &rows[window_root(rows, window)?];
    if !status_is_failed(origin.status()) || origin.anchor_step().is_none() {
        return None;
    }
    let mut services: Vec<String> = Vec::new();
    for r in rows.iter().filter(|r| !r.service().is_empty()) {
        if let Err(at) = services.binary_search_by(|s| s.as_str().cmp(r.service())) {
            services.insert(at, r.service().to_owned());
        }
    }
    Some(RootSummary {
        error_code: origin.anchor_error_code()?.to_owned(),
        services,
    })
}

/// The root-cause traces of `window` as [`root_cause_traces`] finds them, summarized
/// ([`RootSummary`]) over the loaded rows in place: no per-trace copy, graph paths or chain.
pub async fn root_cause_summaries(
    ctx: &SessionContext,
    window: &TimeWindow,
) -> Result<Vec<RootSummary>, ReadError> {
    let candidates = candidate_traces(ctx, window).await?;
    let mut out = Vec::new();
    load_traces(ctx, &candidates, window.extent(), |rows| {
        out.extend(root_summary(rows, window));
    })
    .await?;
    Ok(out)
}

/// The `graph_stats` counts of a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowStats {
    pub events: i64,
    pub requests: i64,
    pub failed_requests: i64,
    pub users: i64,
    pub services: i64,
    pub failures: i64,
}

fn window_params(w: &TimeWindow) -> Vec<Param> {
    vec![Param::Timestamp(w.since_ns), Param::Timestamp(w.until_ns)]
}

/// `sql/graph_stats.sql` over `window`.
pub async fn stats_read(
    ctx: &SessionContext,
    window: &TimeWindow,
) -> Result<WindowStats, ReadError> {
    let mut s = WindowStats::default();
    for batch in sql::collect(ctx, ReadQuery::GraphStats, window_params(window)).await? {
        let cols = Columns::new(&batch);
        let get = |name: &str| -> Result<i64, ReadError> {
            let a = cols.ints(name)?;
            Ok(if a.is_empty() { 0 } else { a.value(0) })
        };
        if batch.num_rows() > 0 {
            s = WindowStats {
                events: get("events")?,
                requests: get("requests")?,
                failed_requests: get("failed_requests")?,
                users: get("users")?,
                services: get("services")?,
                failures: get("failures")?,
            };
        }
    }
    Ok(s)
}

/// Durations in ms (ascending) of the traces whose first event starts in `window`: from the
/// trace indexes ([`extents::trace_extents`]) when every source has one, else
/// `sql/trace_durations.sql`. Both give the same histogram.
pub async fn durations_read(
    ctx: &SessionContext,
    window: &TimeWindow,
) -> Result<Durations, ReadError> {
    let (lo, hi) = window.extent();
    if let Some(extents) = extents::trace_extents(ctx, (lo, hi)).await? {
        return Ok(Durations::of_extents(&extents, window));
    }
    let params = vec![
        Param::Timestamp(lo),
        Param::Timestamp(hi),
        Param::Timestamp(window.since_ns),
        Param::Timestamp(window.until_ns),
    ];
    let mut out = Durations::default();
    for batch in sql::collect(ctx, ReadQuery::TraceDurations, params).await? {
        let cols = Columns::new(&batch);
        let (d, n) = (cols.ints("duration_ms")?, cols.ints("traces")?);
        for (d, n) in d.iter().zip(n.iter()) {
            out.push(d.unwrap_or(0), n.unwrap_or(0));
        }
    }
    Ok(out)
}

/// Trace durations (ms) as an ascending histogram: `(duration, traces)` per distinct duration.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Durations {
    buckets: Vec<(i64, i64)>,
    total: i64,
}

impl Durations {
    /// The histogram of the traces among `extents` (`(min ts_start, max ts_end)` per trace)
    /// whose first event starts in `window`, durations as the SQL computes them.
    pub fn of_extents(extents: &[(i64, i64)], window: &TimeWindow) -> Self {
        let mut counts: HashMap<i64, i64> = HashMap::new();
        for (start, end) in extents {
            if (window.since_ns..=window.until_ns).contains(start) {
                *counts
                    .entry(end.wrapping_sub(*start) / 1_000_000)
                    .or_default() += 1;
            }
        }
        let mut buckets: Vec<(i64, i64)> = counts.into_iter().collect();
        buckets.sort_unstable();
        let mut out = Durations::default();
        for (duration, traces) in buckets {
            out.push(duration, traces);
        }
        out
    }

    /// Add `traces` traces of `duration` ms; durations come in ascending order.
    pub fn push(&mut self, duration: i64, traces: i64) {
        if traces > 0 {
            self.buckets.push((duration, traces));
            self.total += traces;
        }
    }

    /// The number of traces.
    pub fn total(&self) -> i64 {
        self.total
    }

    /// Nearest-rank percentile `p`: rank `ceil(p × n / 100)` clamped to `[1, n]`; `0` when
    /// there is no trace.
    pub fn percentile(&self, p: u32) -> i64 {
        let n = self.total;
        if n <= 0 {
            return 0;
        }
        // ceil(p × n / 100) for non-negative p and n.
        let rank = ((i64::from(p) * n + 99) / 100).clamp(1, n);
        let mut seen = 0;
        for &(duration, traces) in &self.buckets {
            seen += traces;
            if seen >= rank {
                return duration;
            }
        }
        self.buckets.last().map_or(0, |b| b.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, service: &str, span: &str, parent: &str, status: &str, ts: i64) -> TraceRow {
        TraceRow {
            trace_id: "t1".into(),
            event_id: id.into(),
            service: service.into(),
            status: status.into(),
            ts_start_ns: ts,
            ts_end_ns: ts + 5_000_000,
            parent_span_id: parent.into(),
            anchor_step: (status != "ok").then(|| "charge".into()),
            anchor_error_code: (status != "ok").then(|| "PMT_502".into()),
            http_route: (id == "a").then(|| "/checkout".into()),
            user_id: None,
            user_tier: (id == "b").then(|| "gold".into()),
            step_span_ids: vec![span.into()],
        }
    }

    #[test]
    fn facts_of_a_linked_cascade() {
        // gateway -> checkout -> payment (origin), gateway -> db.
        let rows = vec![
            row("a", "gateway", "s1", "", "error", 0),
            row("b", "checkout", "s2", "s1", "error", 1_000_000),
            row("c", "payment", "s3", "s2", "error", 2_000_000),
            row("d", "db", "s4", "s1", "ok", 3_000_000),
        ];
        let f = trace_facts(&rows);
        assert_eq!(f.linkage, Linkage::Causal);
        let o = f.origin.clone().unwrap();
        assert_eq!(
            (o.service.as_str(), o.error_path()),
            ("payment", "payment/charge".into())
        );
        assert_eq!(f.chain, vec!["gateway", "checkout", "payment"]);
        assert_eq!(
            f.paths,
            vec![
                vec!["gateway", "checkout", "payment"],
                vec!["gateway", "db"]
            ]
        );
        assert_eq!(f.tier.as_deref(), Some("gold"));
        assert_eq!(f.flow, "/checkout");
        assert_eq!(f.latency_ms, 8);
    }

    #[test]
    fn unlinked_traces_fall_back_to_identity_order() {
        let rows = vec![
            row("a", "gateway", "s1", "", "ok", 0),
            row("b", "checkout", "s2", "", "error", 1_000_000),
        ];
        let f = trace_facts(&rows);
        assert_eq!(f.paths, vec![vec!["gateway", "checkout"]]);
        assert_eq!(f.chain, vec!["gateway", "checkout"]);
        let ok = vec![row("a", "gateway", "s1", "", "ok", 0)];
        let f = trace_facts(&ok);
        assert_eq!((f.origin, f.chain), (None, vec!["gateway".to_string()]));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut d = Durations::default();
        for x in [10, 20, 30, 40] {
            d.push(x, 1);
        }
        assert_eq!(d.total(), 4);
        assert_eq!(d.percentile(50), 20);
        assert_eq!(d.percentile(95), 40);
        assert_eq!(d.percentile(1), 10);
        assert_eq!(Durations::default().percentile(99), 0);
        // Counts, as the histogram query returns them: 3 × 5 ms, 1 × 9 ms, 96 × 12 ms.
        let mut h = Durations::default();
        h.push(5, 3);
        h.push(9, 1);
        h.push(12, 96);
        assert_eq!(h.total(), 100);
        assert_eq!(h.percentile(3), 5);
        assert_eq!(h.percentile(4), 9);
        assert_eq!(h.percentile(5), 12);
        assert_eq!(h.percentile(99), 12);
        // The same as the sorted list it stands for.
        let sorted: Vec<i64> = [5; 3].into_iter().chain([9]).chain([12; 96]).collect();
        for p in [1, 3, 4, 50, 95, 99] {
            let rank = ((p as usize * sorted.len()).div_ceil(100)).clamp(1, sorted.len());
            assert_eq!(h.percentile(p), sorted[rank - 1], "p{p}");
        }
    }
}
