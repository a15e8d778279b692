//! `GET /v1/errors` (spec reads §2): error families counted per hop, from
//! `sql/error_families.sql`.

use std::time::Duration;

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use super::ReadError;
use super::params::{
    ErrorsCursor, Params, TimeWindow, parse_cursor, parse_failed_status_list, parse_limit,
};
use crate::config::Config;
use crate::model::family::ErrorFamily;
use crate::model::rejection::Rejection;
use crate::query::rows::Columns;
use crate::query::sql::{self, NO_CURSOR_COUNT, Param, ReadQuery};

pub const PARAMS: &[&str] = &[
    "service", "status", "since", "until", "window", "cursor", "limit",
];
const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

/// The accepted parameters of one `/v1/errors` request.
#[derive(Debug, Clone)]
pub struct ErrorsQuery {
    pub service: Option<String>,
    pub statuses: Option<Vec<&'static str>>,
    pub window: TimeWindow,
    pub cursor: Option<ErrorsCursor>,
    pub limit: usize,
}

impl ErrorsQuery {
    pub fn parse(p: &Params, now_ns: i64, config: &Config) -> Result<Self, Rejection> {
        let statuses = parse_failed_status_list(p.get("status"))?;
        let window = TimeWindow::resolve(p, now_ns, config.retention, DEFAULT_WINDOW)?;
        let cursor = parse_cursor(p.get("cursor"), ErrorsCursor::decode)?;
        let limit = parse_limit(p.get("limit"))?;
        Ok(ErrorsQuery {
            service: p.get("service").map(str::to_owned),
            statuses,
            window,
            cursor,
            limit,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorRow {
    pub error_family: ErrorFamily,
    pub count: i64,
    /// `None` (JSON `null`) when no user is known.
    pub affected_users: Option<i64>,
    pub affected_traces: i64,
    pub sample_traces: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorsResponse {
    pub window: String,
    pub rows: Vec<ErrorRow>,
    pub next_cursor: Option<String>,
}

pub async fn read(ctx: &SessionContext, q: &ErrorsQuery) -> Result<ErrorsResponse, ReadError> {
    let (lo, hi) = q.window.extent();
    let (c, s, p, e) = match &q.cursor {
        Some(c) => (c.c, c.s.clone(), c.p.clone(), c.e.clone()),
        None => (NO_CURSOR_COUNT, String::new(), String::new(), String::new()),
    };
    let statuses = q.statuses.as_ref().map(|s| s.join(","));
    sql::materialize(
        ctx,
        ReadQuery::ErrorFamilyTraces,
        vec![
            Param::Timestamp(q.window.since_ns),
            Param::Timestamp(q.window.until_ns),
            Param::opt_str(q.service.as_deref()),
            Param::opt_str(statuses.as_deref()),
        ],
    )
    .await?;
    sql::materialize(
        ctx,
        ReadQuery::ErrorFamilyPage,
        vec![
            Param::Int64(c),
            Param::str(s),
            Param::str(p),
            Param::str(e),
            Param::rows(q.limit + 1),
        ],
    )
    .await?;
    // The users of the page's families only: `traced_events` holds their traces' events.
    let page_traces = sql::materialize(ctx, ReadQuery::ErrorFamilyPageTraces, vec![]).await?;
    sql::register_traced_events_of(ctx, &page_traces).await?;
    let batches = sql::collect(
        ctx,
        ReadQuery::ErrorFamilies,
        vec![Param::Timestamp(lo), Param::Timestamp(hi)],
    )
    .await?;
    let mut rows = Vec::new();
    for batch in &batches {
        let cols = Columns::new(batch);
        let service = cols.strings("service")?;
        let step = cols.strings("step")?;
        let code = cols.strings("error_code")?;
        let count = cols.ints("count")?;
        let traces = cols.ints("affected_traces")?;
        let users = cols.ints("affected_users")?;
        for i in 0..batch.num_rows() {
            rows.push(ErrorRow {
                error_family: ErrorFamily::new(service.value(i), step.value(i), code.value(i)),
                count: count.value(i),
                affected_users: Some(users.value(i)).filter(|n| *n > 0),
                affected_traces: traces.value(i),
                sample_traces: cols.string_list("sample_traces", i)?,
            });
        }
    }
    let next_cursor = if rows.len() > q.limit {
        rows.truncate(q.limit);
        rows.last().map(|r| {
            ErrorsCursor {
                c: r.count,
                s: r.error_family.service.clone(),
                p: r.error_family.step.clone(),
                e: r.error_family.error_code.clone(),
            }
            .encode()
        })
    } else {
        None
    };
    Ok(ErrorsResponse {
        window: q.window.echo(),
        rows,
        next_cursor,
    })
}
