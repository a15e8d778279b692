//! Trace reads (spec reads §4.1-§4.3): the story of one failure, one whole trace in trace
//! order, and the recent-traces list.

use std::time::Duration;

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::origin::{Linkage, TraceGraph, resolve_origin, resolve_with, trace_order};
use super::params::{
    Params, TimeWindow, TraceCursor, parse_cursor, parse_include_suppressed, parse_limit,
    parse_status_list, status_filter,
};
use super::trace_rows::TraceRow;
use super::{ReadError, for_each_trace};
use crate::config::Config;
use crate::model::family::display_family;
use crate::model::rejection::Rejection;
use crate::model::{Event, EventKind, EventStatus, LogLevel, StepStatus};
use crate::query::rows::{Columns, batch_to_events};
use crate::query::sql::{self, NO_CURSOR_TS, Param, ReadQuery};
use crate::rfc3339::format_rfc3339_ns;

// ---------------------------------------------------------------------------------------------
// Loading events.

/// Every retained event of `trace_id`, in identity order.
pub async fn load_trace(ctx: &SessionContext, trace_id: &str) -> Result<Vec<Event>, ReadError> {
    let mut events = Vec::new();
    crate::query::trace_index::register_trace_lookup(ctx, trace_id).await?;
    for batch in sql::collect(ctx, ReadQuery::TraceById, vec![Param::str(trace_id)]).await? {
        events.extend(batch_to_events(&batch)?);
    }
    Ok(events)
}

/// The stored event with `event_id` (earliest `ts_start`, then `ts_end`, of any re-sends).
pub async fn load_event(ctx: &SessionContext, event_id: &str) -> Result<Option<Event>, ReadError> {
    let mut events = Vec::new();
    for batch in sql::collect(ctx, ReadQuery::EventById, vec![Param::str(event_id)]).await? {
        events.extend(batch_to_events(&batch)?);
    }
    Ok(events.into_iter().next())
}

// ---------------------------------------------------------------------------------------------
// §4.1 story.

pub const STORY_PARAMS: &[&str] = &["event_id", "trace_id"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoryQuery {
    Event(String),
    Trace(String),
}

impl StoryQuery {
    pub fn parse(p: &Params) -> Result<Self, Rejection> {
        match (p.get("event_id"), p.get("trace_id")) {
            (Some(e), None) => Ok(StoryQuery::Event(e.to_owned())),
            (None, Some(t)) => Ok(StoryQuery::Trace(t.to_owned())),
            _ => Err(Rejection::bad_request(
                "exactly one of event_id or trace_id is required",
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoryAnchor {
    pub step: String,
    pub error_code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PathStep {
    pub name: String,
    pub start_ms: i64,
    pub duration_ms: i64,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoryLog {
    pub ts_offset_ms: i64,
    pub level: String,
    pub msg: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoryDownstream {
    pub step: String,
    pub service: String,
    pub endpoint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Story {
    pub trace_id: String,
    pub event_id: String,
    pub service: String,
    pub route: String,
    pub status: String,
    pub anchor: Option<StoryAnchor>,
    pub path: Vec<PathStep>,
    pub logs: Vec<StoryLog>,
    pub downstream: Vec<StoryDownstream>,
    pub linkage: Linkage,
}

/// The route of an event (events §1.5, the `http_route` column): `fields.http.route` when a
/// string, else for RPC events `<fields.rpc.service>/<fields.rpc.method>`.
pub fn route_of(e: &Event) -> Option<String> {
    let get = |a: &str, b: &str| {
        e.fields
            .as_ref()?
            .get(a)?
            .as_object()?
            .get(b)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(route) = get("http", "route") {
        return Some(route);
    }
    if e.kind == EventKind::Rpc {
        return Some(format!(
            "{}/{}",
            get("rpc", "service")?,
            get("rpc", "method")?
        ));
    }
    None
}

/// Build the story of event `e` (§4.1 steps 1-7).
pub fn build_story(e: &Event, linkage: Linkage) -> Story {
    let mut story = Story {
        trace_id: e.trace_id.clone(),
        event_id: e.event_id.clone(),
        service: e.service.clone(),
        route: route_of(e).unwrap_or_default(),
        status: e.status.as_str().to_owned(),
        anchor: e.anchor.as_ref().map(|a| StoryAnchor {
            step: a.step.clone(),
            error_code: a.error_code.clone(),
        }),
        path: Vec::new(),
        logs: Vec::new(),
        downstream: Vec::new(),
        linkage,
    };
    if e.status == EventStatus::Suppressed {
        story.anchor = None;
        return story;
    }
    let steps = &e.steps;
    // The latest-starting step named like the anchor, preferring failed ones; equal starts →
    // the later in array order.
    let anchor_idx = e.anchor.as_ref().and_then(|a| {
        let named = || (0..steps.len()).filter(|i| steps[*i].name == a.step);
        let latest =
            |it: &mut dyn Iterator<Item = usize>| it.max_by_key(|i| (steps[*i].start_ms, *i));
        latest(&mut named().filter(|i| steps[*i].status == StepStatus::Error))
            .or_else(|| latest(&mut named()))
    });
    let anchor_end = anchor_idx.map(|i| steps[i].start_ms.saturating_add(steps[i].duration_ms));
    let mut kept: Vec<&crate::model::Step> = steps
        .iter()
        .filter(|s| anchor_end.is_none_or(|end| s.start_ms.saturating_add(s.duration_ms) <= end))
        .collect();
    kept.sort_by_key(|s| s.start_ms);
    story.path = kept
        .iter()
        .map(|s| PathStep {
            name: s.name.clone(),
            start_ms: s.start_ms,
            duration_ms: s.duration_ms,
            status: s.status.as_str().to_owned(),
            error_code: s
                .error
                .as_ref()
                .and_then(|x| x.code.clone())
                .filter(|c| !c.is_empty()),
            error_msg: s
                .error
                .as_ref()
                .and_then(|x| x.reason.clone())
                .filter(|c| !c.is_empty()),
        })
        .collect();
    story.downstream = kept
        .iter()
        .filter_map(|s| {
            let d = s.downstream.as_ref()?;
            Some(StoryDownstream {
                step: s.name.clone(),
                service: d.service.clone().unwrap_or_default(),
                endpoint: d.endpoint.clone().unwrap_or_default(),
            })
        })
        .collect();
    let bounds = anchor_end.map(|end| (kept.first().map_or(end, |s| s.start_ms), end));
    let mut logs: Vec<StoryLog> = e
        .logs
        .iter()
        .filter(|l| matches!(l.level, LogLevel::Warn | LogLevel::Error))
        .filter(|l| bounds.is_none_or(|(lo, hi)| (lo..=hi).contains(&l.ts_offset_ms)))
        .map(|l| StoryLog {
            ts_offset_ms: l.ts_offset_ms,
            level: l.level.as_str().to_owned(),
            msg: l.msg.clone(),
        })
        .collect();
    logs.sort_by_key(|l| l.ts_offset_ms);
    story.logs = logs;
    story
}

fn story_not_found() -> ReadError {
    ReadError::Rejected(Rejection::not_found("trace story not found"))
}

pub async fn story_read(ctx: &SessionContext, q: &StoryQuery) -> Result<Story, ReadError> {
    match q {
        StoryQuery::Event(id) => {
            let event = load_event(ctx, id).await?.ok_or_else(story_not_found)?;
            Ok(build_story(&event, Linkage::Direct))
        }
        StoryQuery::Trace(id) => {
            let events = load_trace(ctx, id).await?;
            let (i, linkage) = resolve_origin(&events, true).ok_or_else(story_not_found)?;
            Ok(build_story(&events[i], linkage))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// §4.2 one trace.

#[derive(Debug, Clone, Serialize)]
pub struct TraceResponse {
    pub trace_id: String,
    pub events: Vec<Event>,
    pub linkage: Linkage,
}

pub async fn trace_read(ctx: &SessionContext, trace_id: &str) -> Result<TraceResponse, ReadError> {
    let events = load_trace(ctx, trace_id).await?;
    if events.is_empty() {
        return Err(ReadError::Rejected(Rejection::not_found("trace not found")));
    }
    let (order, linkage) = trace_order(&events);
    let mut slots: Vec<Option<Event>> = events.into_iter().map(Some).collect();
    let events = order.into_iter().filter_map(|i| slots[i].take()).collect();
    Ok(TraceResponse {
        trace_id: trace_id.to_owned(),
        events,
        linkage,
    })
}

// ---------------------------------------------------------------------------------------------
// §4.3 recent traces.

pub const RECENT_PARAMS: &[&str] = &[
    "service",
    "status",
    "since",
    "until",
    "window",
    "include_suppressed",
    "cursor",
    "limit",
];
const RECENT_DEFAULT_WINDOW: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct RecentQuery {
    pub service: Option<String>,
    pub statuses: Vec<&'static str>,
    /// `resolve(…, exclude_suppressed)` for the shown status.
    pub exclude_suppressed: bool,
    pub window: TimeWindow,
    pub cursor: Option<TraceCursor>,
    pub limit: usize,
}

impl RecentQuery {
    pub fn parse(p: &Params, now_ns: i64, config: &Config) -> Result<Self, Rejection> {
        let list = parse_status_list(p.get("status"))?;
        let window = TimeWindow::resolve(p, now_ns, config.retention, RECENT_DEFAULT_WINDOW)?;
        let include_suppressed = parse_include_suppressed(p.get("include_suppressed"))?;
        let cursor = parse_cursor(p.get("cursor"), TraceCursor::decode)?;
        let limit = parse_limit(p.get("limit"))?;
        let listed_suppressed = list.as_ref().is_some_and(|l| l.contains(&"suppressed"));
        Ok(RecentQuery {
            service: p.get("service").map(str::to_owned),
            statuses: status_filter(list.as_deref(), include_suppressed),
            exclude_suppressed: !(include_suppressed || listed_suppressed),
            window,
            cursor,
            limit,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TraceSummary {
    pub trace_id: String,
    pub ts_start: String,
    pub duration_ms: i64,
    pub status: String,
    pub services: Vec<String>,
    pub anchor_summary: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecentResponse {
    pub traces: Vec<TraceSummary>,
    pub next_cursor: Option<String>,
}

/// Services in trace order (first occurrence, non-empty), resolved status and anchor summary.
/// A recent-trace summary of one trace's rows: its services in trace order, the resolved
/// event's status and its anchor summary (§4.3).
pub fn summarize(
    rows: &[TraceRow],
    exclude_suppressed: bool,
) -> (Vec<String>, String, Option<String>) {
    let graph = TraceGraph::build(rows);
    let mut services: Vec<String> = Vec::new();
    for i in graph.order() {
        let s = &rows[i].service;
        if !s.is_empty() && !services.contains(s) {
            services.push(s.clone());
        }
    }
    match resolve_with(rows, &graph, exclude_suppressed) {
        Some((i, _)) => {
            let r = &rows[i];
            let anchor = match (&r.anchor_step, &r.anchor_error_code) {
                (Some(step), Some(code)) => Some(display_family(&r.service, step, code)),
                _ => None,
            };
            (services, r.status.clone(), anchor)
        }
        None => (services, String::new(), None),
    }
}

pub async fn recent_read(
    ctx: &SessionContext,
    q: &RecentQuery,
) -> Result<RecentResponse, ReadError> {
    let (lo, hi) = q.window.extent();
    let (ct, cr) = match &q.cursor {
        Some(c) => (c.t, c.r.clone()),
        None => (NO_CURSOR_TS, String::new()),
    };
    let batches = sql::collect(
        ctx,
        ReadQuery::RecentTraces,
        vec![
            Param::Timestamp(q.window.since_ns),
            Param::Timestamp(q.window.until_ns),
            Param::opt_str(q.service.as_deref()),
            Param::str(q.statuses.join(",")),
            Param::Timestamp(lo),
            Param::Timestamp(hi),
            Param::Timestamp(ct),
            Param::str(cr),
            Param::rows(q.limit + 1),
        ],
    )
    .await?;
    // (trace_id, min ts_start, max ts_end) in page order.
    let mut page: Vec<(String, i64, i64)> = Vec::new();
    for batch in &batches {
        let cols = Columns::new(batch);
        let ids = cols.strings("trace_id")?;
        let starts = cols.timestamps("ts_start")?;
        let ends = cols.timestamps("ts_end")?;
        for i in 0..batch.num_rows() {
            page.push((ids.value(i).to_owned(), starts.value(i), ends.value(i)));
        }
    }
    let next_cursor = if page.len() > q.limit {
        page.truncate(q.limit);
        page.last().map(|(id, ts, _)| {
            TraceCursor {
                t: *ts,
                r: id.clone(),
            }
            .encode()
        })
    } else {
        None
    };
    let ids: Vec<String> = page.iter().map(|(id, _, _)| id.clone()).collect();
    let mut summaries: std::collections::HashMap<String, (Vec<String>, String, Option<String>)> =
        std::collections::HashMap::with_capacity(ids.len());
    for_each_trace(ctx, &ids, (lo, hi), |rows| {
        let id = rows[0].trace_id.clone();
        summaries.insert(id, summarize(&rows, q.exclude_suppressed));
    })
    .await?;
    let traces = page
        .into_iter()
        .map(|(trace_id, start, end)| {
            let (services, status, anchor_summary) =
                summaries.remove(&trace_id).unwrap_or_default();
            TraceSummary {
                ts_start: format_rfc3339_ns(start),
                duration_ms: (end.saturating_sub(start) / 1_000_000).max(0),
                status,
                services,
                anchor_summary,
                trace_id,
            }
        })
        .collect();
    Ok(RecentResponse {
        traces,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::validate_item;
    use serde_json::json;

    fn event(extra: Value) -> Event {
        let mut v = json!({
            "schema_version": "2.0", "event_id": "e1",
            "ts_start": "2026-05-04T09:00:00Z", "ts_end": "2026-05-04T09:00:01Z",
            "kind": "http", "service": "checkout", "env": "prod",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "status": "error",
            "anchor": {"step": "payment.charge", "error_code": "PMT_502"}
        });
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        validate_item(&v, i64::MAX).unwrap()
    }

    #[test]
    fn story_matches_the_spec_example() {
        let e = event(json!({
            "fields": {"http": {"route": "/checkout"}},
            "steps": [
                {"name": "payment.charge", "span_id": "b2b2b2b2b2b2b2b2", "start_ms": 7,
                 "duration_ms": 35, "status": "error",
                 "downstream": {"service": "payment", "endpoint": "/charge"},
                 "error": {"code": "PMT_502", "reason": "upstream gateway 5xx"}},
                {"name": "cart.validate", "start_ms": 0, "duration_ms": 1, "status": "ok"},
                {"name": "receipt.send", "start_ms": 43, "duration_ms": 5, "status": "ok"}
            ],
            "logs": [
                {"ts_offset_ms": 45, "level": "error", "msg": "after the anchor"},
                {"ts_offset_ms": 40, "level": "warn", "msg": "retrying payment"},
                {"ts_offset_ms": 10, "level": "info", "msg": "not shown"}
            ]
        }));
        let story = serde_json::to_value(build_story(&e, Linkage::Causal)).unwrap();
        assert_eq!(
            story,
            json!({"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "event_id": "e1",
                   "service": "checkout", "route": "/checkout", "status": "error",
                   "anchor": {"step": "payment.charge", "error_code": "PMT_502"},
                   "path": [{"name": "cart.validate", "start_ms": 0, "duration_ms": 1, "status": "ok"},
                            {"name": "payment.charge", "start_ms": 7, "duration_ms": 35, "status": "error",
                             "error_code": "PMT_502", "error_msg": "upstream gateway 5xx"}],
                   "logs": [{"ts_offset_ms": 40, "level": "warn", "msg": "retrying payment"}],
                   "downstream": [{"step": "payment.charge", "service": "payment", "endpoint": "/charge"}],
                   "linkage": "causal"})
        );
    }

    #[test]
    fn story_prefers_the_latest_failed_anchor_step() {
        // Three attempts; the last one succeeded, the second failed: the failed one anchors.
        let e = event(json!({
            "steps": [
                {"name": "payment.charge", "start_ms": 0, "duration_ms": 5, "status": "error"},
                {"name": "payment.charge", "start_ms": 10, "duration_ms": 5, "status": "error"},
                {"name": "payment.charge", "start_ms": 20, "duration_ms": 5, "status": "ok"}
            ],
            "logs": [{"ts_offset_ms": 16, "level": "warn", "msg": "late"}]
        }));
        let story = build_story(&e, Linkage::Direct);
        let starts: Vec<i64> = story.path.iter().map(|p| p.start_ms).collect();
        assert_eq!(starts, vec![0, 10]);
        assert!(story.logs.is_empty());
        // Without a failed attempt the latest-starting one anchors; equal starts → later index.
        let e = event(json!({
            "steps": [
                {"name": "payment.charge", "start_ms": 5, "duration_ms": 1, "status": "ok"},
                {"name": "payment.charge", "start_ms": 5, "duration_ms": 9, "status": "ok"},
                {"name": "other", "start_ms": 12, "duration_ms": 1, "status": "ok"}
            ]
        }));
        let story = build_story(&e, Linkage::Direct);
        let names: Vec<(&str, i64)> = story
            .path
            .iter()
            .map(|p| (p.name.as_str(), p.duration_ms))
            .collect();
        assert_eq!(
            names,
            vec![("payment.charge", 1), ("payment.charge", 9), ("other", 1)]
        );
    }

    #[test]
    fn story_without_anchor_step_keeps_everything() {
        let e = event(json!({
            "kind": "rpc",
            "fields": {"rpc": {"service": "pay.v1.Payments", "method": "Charge"}},
            "anchor": {"step": "missing", "error_code": "X"},
            "steps": [
                {"name": "b", "start_ms": 9, "duration_ms": 1, "status": "ok"},
                {"name": "a", "start_ms": 1, "duration_ms": 100, "status": "ok",
                 "span_id": "a1a1a1a1a1a1a1a1", "downstream": {"kind": "db"}}
            ],
            "logs": [{"ts_offset_ms": 500, "level": "error", "msg": "kept"}]
        }));
        let story = build_story(&e, Linkage::Direct);
        assert_eq!(story.route, "pay.v1.Payments/Charge");
        assert_eq!(story.path.len(), 2);
        assert_eq!(story.path[0].name, "a");
        assert_eq!(
            story.downstream,
            vec![StoryDownstream {
                step: "a".into(),
                service: String::new(),
                endpoint: String::new()
            }]
        );
        assert_eq!(story.logs.len(), 1);
    }

    #[test]
    fn story_params_need_exactly_one_id() {
        let p = |q: &str| Params::parse(Some(q), STORY_PARAMS).unwrap();
        assert_eq!(
            StoryQuery::parse(&p("event_id=a")).unwrap(),
            StoryQuery::Event("a".into())
        );
        assert_eq!(
            StoryQuery::parse(&p("trace_id=t&event_id=")).unwrap(),
            StoryQuery::Trace("t".into())
        );
        for q in ["", "event_id=a&trace_id=b", "event_id=&trace_id="] {
            assert_eq!(
                StoryQuery::parse(&p(q)).unwrap_err().error.detail,
                "exactly one of event_id or trace_id is required"
            );
        }
    }
}
