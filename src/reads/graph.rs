//! The trace-graph reads of the agent tools (spec reads §6.3): per-trace facts (status,
//! latency, services, root-to-leaf paths, the failure chain, the origin's error fields), the
//! root-cause traces of a window (the same set as the rollup, [`super::rollup::window_root`]),
//! the window counts of `graph_stats` (`sql/graph_stats.sql`) and the trace durations of
//! `compare_windows` (`sql/trace_durations.sql`).

use std::collections::{BTreeMap, HashMap};

use datafusion::prelude::SessionContext;

use super::origin::{Linkage, TraceGraph, TraceNode, resolve_origin, resolve_with};
use super::params::TimeWindow;
use super::rollup::{candidate_traces, window_root};
use super::trace_rows::TraceRow;
use super::trace_rows::TraceRowRef;
use super::traces::{build_story, summarize};
use super::{ReadError, for_each_trace, load_traces_split};
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

/// The summary of a trace's rows whose window root ([`window_root`]) is `rows[root]`, when it
/// is a root-cause trace of that window: the same test as [`root_cause_traces`] (the root
/// failed and carries its anchor).
fn summary_at(rows: &[TraceRowRef<'_>], root: usize) -> Option<RootSummary> {
    let origin = &rows[root];
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
    let mut each = root_cause_summaries_each(ctx, std::slice::from_ref(window)).await?;
    Ok(each.pop().unwrap_or_default())
}

/// [`root_cause_summaries`] of each of `windows`, in order. Windows whose extents overlap
/// share one load: the union of their candidates over the hull of their extents, each window
/// then judged on the rows of its own extent only (one run of a trace's rows, which come in
/// `ts_start` order), exactly the rows its own load would give. A trace that is not a
/// candidate of a window is no root cause of it (its origin would be a failed event starting
/// in the window), so the wider candidate set changes no answer.
pub async fn root_cause_summaries_each(
    ctx: &SessionContext,
    windows: &[TimeWindow],
) -> Result<Vec<Vec<RootSummary>>, ReadError> {
    let mut out = vec![Vec::new(); windows.len()];
    let extents: Vec<(i64, i64)> = windows.iter().map(TimeWindow::extent).collect();
    for (hull, group) in touching(&extents) {
        let spans: Vec<(i64, i64)> = group
            .iter()
            .map(|&i| (windows[i].since_ns, windows[i].until_ns))
            .collect();
        let mut candidates = Vec::new();
        for ((since_ns, until_ns), _) in touching(&spans) {
            let cover = TimeWindow { since_ns, until_ns };
            candidates.extend(candidate_traces(ctx, &cover).await?);
        }
        let parts = load_traces_split(
            ctx,
            &candidates,
            hull,
            || vec![Vec::new(); windows.len()],
            |out: &mut Vec<Vec<RootSummary>>, rows| {
                // Windows whose extents hold the same rows of the trace share its resolution.
                let mut resolved: Option<(std::ops::Range<usize>, Option<usize>)> = None;
                for &i in &group {
                    let at = rows_in(rows, windows[i].extent());
                    if at.is_empty() {
                        continue;
                    }
                    let origin = match &resolved {
                        Some((r, origin)) if *r == at => *origin,
                        _ => {
                            let origin = resolve_origin(&rows[at.clone()], true).map(|o| o.0);
                            resolved = Some((at.clone(), origin));
                            origin
                        }
                    };
                    let rows = &rows[at];
                    let root = origin.filter(|&o| windows[i].contains(rows[o].ts_start_ns()));
                    out[i].extend(root.and_then(|o| summary_at(rows, o)));
                }
            },
        )
        .await?;
        // The runs in trace order, so each window's summaries stay in trace order.
        for part in parts {
            for (all, run) in out.iter_mut().zip(part) {
                all.extend(run);
            }
        }
    }
    Ok(out)
}

/// The positions of the rows of one trace (in `ts_start` order) whose `ts_start` lies in
/// `[lo, hi]`.
fn rows_in(rows: &[TraceRowRef<'_>], (lo, hi): (i64, i64)) -> std::ops::Range<usize> {
    let from = rows.partition_point(|r| r.ts_start_ns() < lo);
    let to = rows.partition_point(|r| r.ts_start_ns() <= hi);
    from..to.max(from)
}

/// `intervals` (inclusive) grouped where they overlap or touch: per group, in order, its hull
/// and the positions of its members. The candidates of a group's hull are the union of its
/// members' candidates, and a group's extents load in one pass.
fn touching(intervals: &[(i64, i64)]) -> Vec<((i64, i64), Vec<usize>)> {
    let mut order: Vec<usize> = (0..intervals.len()).collect();
    order.sort_by_key(|&i| intervals[i]);
    let mut groups: Vec<((i64, i64), Vec<usize>)> = Vec::new();
    for i in order {
        let (lo, hi) = intervals[i];
        match groups.last_mut() {
            Some((hull, group)) if lo <= hull.1.saturating_add(1) => {
                hull.1 = hull.1.max(hi);
                group.push(i);
            }
            _ => groups.push(((lo, hi), vec![i])),
        }
    }
    groups
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
    let mut each = durations_each(ctx, std::slice::from_ref(window)).await?;
    Ok(each.pop().unwrap_or_default())
}

/// [`durations_read`] of each of `windows`, in order, the trace extents of all of them read
/// in one pass ([`extents::trace_extents_each`]).
pub async fn durations_each(
    ctx: &SessionContext,
    windows: &[TimeWindow],
) -> Result<Vec<Durations>, ReadError> {
    let ranges: Vec<(i64, i64)> = windows.iter().map(TimeWindow::extent).collect();
    let counts = windows.iter().map(|w| DurationCounts::new(*w)).collect();
    if let Some(each) = extents::trace_extents_each(ctx, &ranges, counts).await? {
        return Ok(each.into_iter().map(DurationCounts::finish).collect());
    }
    let mut out = Vec::with_capacity(windows.len());
    for w in windows {
        out.push(durations_sql(ctx, w).await?);
    }
    Ok(out)
}

/// `sql/trace_durations.sql` over `window`.
async fn durations_sql(ctx: &SessionContext, window: &TimeWindow) -> Result<Durations, ReadError> {
    let (lo, hi) = window.extent();
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

/// Durations (ms) below this are counted in an array, the rare longer ones in a map.
const DENSE_DURATIONS: usize = 1 << 16;

/// The durations histogram of the traces whose first event starts in `window`, counted from
/// the merged trace extents (`(min ts_start, max ts_end)` per trace) as they arrive, durations
/// as the SQL computes them.
struct DurationCounts {
    window: TimeWindow,
    dense: Vec<i64>,
    sparse: BTreeMap<i64, i64>,
}

impl DurationCounts {
    fn new(window: TimeWindow) -> Self {
        DurationCounts {
            window,
            dense: Vec::new(),
            sparse: BTreeMap::new(),
        }
    }

    /// The histogram in ascending duration order: negative durations, the array, the rest.
    fn finish(self) -> Durations {
        let dense = self.dense.iter().enumerate().map(|(d, n)| (d as i64, *n));
        let mut out = Durations::default();
        let below = self.sparse.range(..0).map(|(d, n)| (*d, *n));
        let above = self.sparse.range(0..).map(|(d, n)| (*d, *n));
        for (duration, traces) in below.chain(dense).chain(above) {
            out.push(duration, traces);
        }
        out
    }
}

impl extents::ExtentSink for DurationCounts {
    fn add(&mut self, start: i64, end: i64) {
        if !self.window.contains(start) {
            return;
        }
        let duration = end.wrapping_sub(start) / 1_000_000;
        match usize::try_from(duration) {
            Ok(d) if d < DENSE_DURATIONS => {
                if self.dense.is_empty() {
                    self.dense = vec![0; DENSE_DURATIONS];
                }
                self.dense[d] += 1;
            }
            _ => *self.sparse.entry(duration).or_default() += 1,
        }
    }

    fn part(&self) -> Self {
        DurationCounts::new(self.window)
    }

    fn absorb(&mut self, later: Self) {
        if self.dense.is_empty() {
            self.dense = later.dense;
        } else {
            for (n, m) in self.dense.iter_mut().zip(later.dense) {
                *n += m;
            }
        }
        for (d, n) in later.sparse {
            *self.sparse.entry(d).or_default() += n;
        }
    }
}

/// Trace durations (ms) as an ascending histogram: `(duration, traces)` per distinct duration.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Durations {
    buckets: Vec<(i64, i64)>,
    total: i64,
}

impl Durations {
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

    /// 160 traces over four hours (two hours cold, two hot; every sixth trace with a second
    /// failure 75 minutes after its start, so a trace's rows differ between extents), failed
    /// events under five codes.
    async fn spanning_storage(dir: &std::path::Path, now: i64) -> crate::query::QueryEngine {
        use crate::model::event::{Anchor, test_event};
        use crate::storage::schema::{TableId, events_to_batch};
        const MIN: i64 = 60_000_000_000;
        let first = now - 240 * MIN;
        let mut events = Vec::new();
        for k in 0..160usize {
            let start = first + k as i64 * 90_000_000_000;
            let mut offsets = vec![0, MIN / 2, MIN];
            if k % 6 == 0 {
                offsets.push(75 * MIN);
            }
            for (j, off) in offsets.into_iter().enumerate() {
                let failed = (k + j) % 3 == 0 || j == 3;
                let status = if failed { "error" } else { "ok" };
                let service = ["gateway", "checkout", "payment", "db"][(k + j) % 4];
                let mut e = test_event(k * 10 + j, service, status, start + off);
                e.trace_id = format!("{k:032x}");
                e.ts_end_ns = e.ts_start_ns + (k as i64 % 7 + j as i64) * 3_000_000;
                e.anchor = failed.then(|| Anchor {
                    step: "charge".into(),
                    error_code: format!("E{}", (k + j) % 5),
                    kind: None,
                });
                events.push(e);
            }
        }
        events.sort_by_key(|e| e.ts_start_ns);
        let storage = crate::storage::test_support::storage_with_hot_batches(dir, now, 0).await;
        let quarter = events.len().div_ceil(4);
        for (part, chunk) in events.chunks(quarter).enumerate() {
            let batch = events_to_batch(chunk).unwrap();
            storage.append(TableId::Events, batch).await.unwrap();
            if part == 1 {
                storage.flush(TableId::Events).await.unwrap();
            }
        }
        let engine = crate::query::QueryEngine::new(storage);
        engine.warm_trace_indexes().await.unwrap();
        engine
    }

    /// `(code, services)` of each root-cause trace of `window` by the per-trace facts.
    async fn summaries_by_facts(ctx: &SessionContext, window: &TimeWindow) -> Vec<RootSummary> {
        let facts = root_cause_traces(ctx, window).await.unwrap();
        facts
            .into_iter()
            .map(|f| {
                let mut services: Vec<String> =
                    f.services.into_iter().filter(|s| !s.is_empty()).collect();
                services.sort();
                services.dedup();
                RootSummary {
                    error_code: f.origin.map(|o| o.error_code).unwrap_or_default(),
                    services,
                }
            })
            .collect()
    }

    /// The shared pass of `compare_windows` (both windows' root causes from one load, both
    /// windows' durations from one extents pass) answers what one read per window answers,
    /// for adjacent, overlapping, apart (extents overlapping) and far-apart windows over hot
    /// and cold data.
    #[tokio::test]
    async fn windows_read_together_equal_windows_read_alone() {
        const NOW: i64 = 1_777_888_800_000_000_000;
        const MIN: i64 = 60_000_000_000;
        let dir = tempfile::tempdir().unwrap();
        let engine = spanning_storage(dir.path(), NOW).await;
        let ctx = engine.context(64 << 20).await.unwrap();
        let w = |since_min: i64, until_min: i64| TimeWindow {
            since_ns: NOW - since_min * MIN,
            until_ns: NOW - until_min * MIN,
        };
        let pairs = [
            (w(60, 30), w(30, 0)),
            (w(150, 30), w(120, 0)),
            (w(240, 210), w(30, 0)),
            (w(200, 100), w(130, 70)),
            (w(100, 70), w(30, 0)),
        ];
        let mut compared = 0;
        for (base, cur) in pairs {
            let together = root_cause_summaries_each(&ctx, &[base, cur]).await.unwrap();
            let alone = [
                summaries_by_facts(&ctx, &base).await,
                summaries_by_facts(&ctx, &cur).await,
            ];
            assert_eq!(together, alone, "{base:?} {cur:?}");
            compared += alone.iter().map(Vec::len).sum::<usize>();
            let ranges = [base.extent(), cur.extent()];
            assert!(
                extents::trace_extents_each(&ctx, &ranges, vec![Vec::<(i64, i64)>::new(); 2])
                    .await
                    .unwrap()
                    .is_some(),
                "the durations come from the trace indexes"
            );
            let durations = durations_each(&ctx, &[base, cur]).await.unwrap();
            let by_sql = [
                durations_sql(&ctx, &base).await.unwrap(),
                durations_sql(&ctx, &cur).await.unwrap(),
            ];
            assert_eq!(durations, by_sql, "{base:?} {cur:?}");
            assert!(by_sql.iter().all(|d| d.total() > 0));
        }
        assert!(compared > 20, "the windows hold root causes ({compared})");
    }

    #[test]
    fn duration_counts_keep_ascending_order_beyond_the_array() {
        use extents::ExtentSink;
        const MS: i64 = 1_000_000;
        let window = TimeWindow {
            since_ns: 0,
            until_ns: 1_000 * MS,
        };
        let mut c = DurationCounts::new(window);
        for (start, ms) in [
            (0, 3),
            (10, 100_000),
            (20, -5),
            (30, 3),
            (40, 65_535),
            (50, 7),
        ] {
            c.add(start * MS, start * MS + ms * MS);
        }
        // Outside the window: not counted.
        c.add(-MS, 0);
        c.add(1_001 * MS, 1_002 * MS);
        let mut expected = Durations::default();
        for (d, n) in [(-5, 1), (3, 2), (7, 1), (65_535, 1), (100_000, 1)] {
            expected.push(d, n);
        }
        assert_eq!(c.finish(), expected);
        assert_eq!(DurationCounts::new(window).finish(), Durations::default());
        // Parts counted apart and absorbed in order count what one sink counts, whichever
        // part holds the array or the map.
        let feed = |c: &mut DurationCounts, items: &[(i64, i64)]| {
            for &(start, ms) in items {
                c.add(start * MS, start * MS + ms * MS);
            }
        };
        let (a, b) = ([(0, 3), (10, 100_000)], [(20, -5), (30, 3), (50, 7)]);
        let mut whole = DurationCounts::new(window);
        feed(&mut whole, &a);
        feed(&mut whole, &b);
        for (first, second) in [(&a[..], &b[..]), (&[][..], &b[..]), (&a[..], &[][..])] {
            let mut one = DurationCounts::new(window);
            let mut two = one.part();
            feed(&mut one, first);
            feed(&mut two, second);
            one.absorb(two);
            let mut want = DurationCounts::new(window);
            feed(&mut want, first);
            feed(&mut want, second);
            assert_eq!(one.finish(), want.finish());
        }
        let mut one = DurationCounts::new(window);
        let mut two = one.part();
        feed(&mut one, &a);
        feed(&mut two, &b);
        one.absorb(two);
        assert_eq!(one.finish(), whole.finish());
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
