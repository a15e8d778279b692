//! `GET /v1/signals` (spec triage §1.5): signals newest first with exact and list filters,
//! a time window on `timestamp` capped by the signal retention, and keyset cursors.

use std::time::Duration;

use datafusion::prelude::SessionContext;
use serde::Serialize;
use serde_json::value::RawValue;

use super::ReadError;
use super::params::{Params, SignalCursor, TimeWindow, parse_cursor, parse_limit};
use crate::config::Config;
use crate::ingest::signals::{batch_to_signals, signal_json};
use crate::model::rejection::Rejection;
use crate::model::signal::{Severity, SignalType};
use crate::query::sql::{self, NO_CURSOR_TS, Param, ReadQuery};

pub const PARAMS: &[&str] = &[
    "service", "env", "type", "source", "reason", "severity", "since", "until", "window", "cursor",
    "limit",
];
const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct SignalsQuery {
    pub service: Option<String>,
    pub env: Option<String>,
    pub source: Option<String>,
    pub reason: Option<String>,
    pub types: Vec<String>,
    pub severities: Vec<String>,
    pub window: TimeWindow,
    pub cursor: Option<SignalCursor>,
    pub limit: usize,
}

/// A comma-separated list whose trimmed items must all `parse`; kept as their wire strings
/// (the SQL's list parameter).
fn enum_list<T>(
    value: Option<&str>,
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> Result<Vec<String>, Rejection> {
    let Some(v) = value else {
        return Ok(Vec::new());
    };
    v.split(',')
        .map(str::trim)
        .map(|item| {
            parse(item)
                .map(|_| item.to_string())
                .ok_or_else(|| Rejection::bad_request(format!("invalid {what}")))
        })
        .collect()
}

impl SignalsQuery {
    pub fn parse(p: &Params, now_ns: i64, config: &Config) -> Result<Self, Rejection> {
        let types = enum_list(p.get("type"), SignalType::parse, "type")?;
        let severities = enum_list(p.get("severity"), Severity::parse, "severity")?;
        let window = TimeWindow::resolve(p, now_ns, config.signal_retention, DEFAULT_WINDOW)?;
        let cursor = parse_cursor(p.get("cursor"), SignalCursor::decode)?;
        let limit = parse_limit(p.get("limit"))?;
        let own = |k: &str| p.get(k).map(str::to_owned);
        Ok(SignalsQuery {
            service: own("service"),
            env: own("env"),
            source: own("source"),
            reason: own("reason"),
            types,
            severities,
            window,
            cursor,
            limit,
        })
    }
}

#[derive(Debug, Serialize)]
pub struct SignalsResponse {
    pub window: String,
    /// Each signal in its §1.3 output form.
    pub signals: Vec<Box<RawValue>>,
    pub next_cursor: Option<String>,
}

pub async fn read(ctx: &SessionContext, q: &SignalsQuery) -> Result<SignalsResponse, ReadError> {
    let (ct, cs) = match &q.cursor {
        Some(c) => (c.t, c.s.clone()),
        None => (NO_CURSOR_TS, String::new()),
    };
    let batches = sql::collect(
        ctx,
        ReadQuery::SignalsList,
        vec![
            Param::Timestamp(q.window.since_ns),
            Param::Timestamp(q.window.until_ns),
            Param::opt_str(q.service.as_deref()),
            Param::opt_str(q.env.as_deref()),
            Param::opt_str(q.source.as_deref()),
            Param::opt_str(q.reason.as_deref()),
            Param::str(q.types.join(",")),
            Param::str(q.severities.join(",")),
            Param::Timestamp(ct),
            Param::str(cs),
            Param::rows(q.limit + 1),
        ],
    )
    .await?;
    let mut signals = Vec::new();
    for batch in &batches {
        signals.extend(batch_to_signals(batch)?);
    }
    let next_cursor = if signals.len() > q.limit {
        signals.truncate(q.limit);
        signals.last().map(|s| {
            SignalCursor {
                t: s.timestamp_ns,
                s: s.signal_id.clone(),
            }
            .encode()
        })
    } else {
        None
    };
    let signals = signals
        .iter()
        .map(|s| RawValue::from_string(signal_json(s)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ReadError::Query(datafusion::error::DataFusionError::External(Box::new(e))))?;
    Ok(SignalsResponse {
        window: q.window.echo(),
        signals,
        next_cursor,
    })
}
