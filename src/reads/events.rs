//! Event reads (spec reads §4.4): `/v1/events/search` (`sql/events_search.sql`) and one event
//! by id (`sql/event_by_id.sql`), both answering normalized WideEvents.

use std::time::Duration;

use datafusion::prelude::SessionContext;
use serde::Serialize;

use super::ReadError;
use super::params::{
    EventCursor, Params, TimeWindow, parse_cursor, parse_include_suppressed, parse_limit,
    parse_status_list, status_filter,
};
use super::traces::load_event;
use crate::config::Config;
use crate::model::Event;
use crate::model::rejection::Rejection;
use crate::query::rows::batch_to_events;
use crate::query::sql::{self, NO_CURSOR_TS, Param, ReadQuery};

pub const SEARCH_PARAMS: &[&str] = &[
    "service",
    "status",
    "error_code",
    "trace_id",
    "since",
    "until",
    "window",
    "include_suppressed",
    "cursor",
    "limit",
];
const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub service: Option<String>,
    pub statuses: Vec<&'static str>,
    pub error_code: Option<String>,
    pub trace_id: Option<String>,
    pub window: TimeWindow,
    pub cursor: Option<EventCursor>,
    pub limit: usize,
}

impl SearchQuery {
    pub fn parse(p: &Params, now_ns: i64, config: &Config) -> Result<Self, Rejection> {
        let list = parse_status_list(p.get("status"))?;
        let window = TimeWindow::resolve(p, now_ns, config.retention, DEFAULT_WINDOW)?;
        let include_suppressed = parse_include_suppressed(p.get("include_suppressed"))?;
        let cursor = parse_cursor(p.get("cursor"), EventCursor::decode)?;
        let limit = parse_limit(p.get("limit"))?;
        Ok(SearchQuery {
            service: p.get("service").map(str::to_owned),
            statuses: status_filter(list.as_deref(), include_suppressed),
            error_code: p.get("error_code").map(str::to_owned),
            trace_id: p.get("trace_id").map(str::to_owned),
            window,
            cursor,
            limit,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchResponse {
    pub events: Vec<Event>,
    pub next_cursor: Option<String>,
}

pub async fn search_read(
    ctx: &SessionContext,
    q: &SearchQuery,
) -> Result<SearchResponse, ReadError> {
    let (ct, ce) = match &q.cursor {
        Some(c) => (c.t, c.e.clone()),
        None => (NO_CURSOR_TS, String::new()),
    };
    let batches = sql::collect(
        ctx,
        ReadQuery::EventsSearch,
        vec![
            Param::Timestamp(q.window.since_ns),
            Param::Timestamp(q.window.until_ns),
            Param::opt_str(q.service.as_deref()),
            Param::str(q.statuses.join(",")),
            Param::opt_str(q.error_code.as_deref()),
            Param::opt_str(q.trace_id.as_deref()),
            Param::Timestamp(ct),
            Param::str(ce),
            Param::rows(q.limit + 1),
        ],
    )
    .await?;
    let mut events = Vec::new();
    for batch in &batches {
        events.extend(batch_to_events(batch)?);
    }
    let next_cursor = if events.len() > q.limit {
        events.truncate(q.limit);
        events.last().map(|e| {
            EventCursor {
                t: e.ts_start_ns,
                e: e.event_id.clone(),
            }
            .encode()
        })
    } else {
        None
    };
    Ok(SearchResponse {
        events,
        next_cursor,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct EventResponse {
    pub event: Event,
}

pub async fn event_read(ctx: &SessionContext, event_id: &str) -> Result<EventResponse, ReadError> {
    match load_event(ctx, event_id).await? {
        Some(event) => Ok(EventResponse { event }),
        None => Err(ReadError::Rejected(Rejection::not_found("event not found"))),
    }
}
