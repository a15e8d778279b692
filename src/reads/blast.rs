//! `GET /v1/blast_radius` (spec reads §4.5): how far one error family, or one error code
//! across families, reached in the window (`sql/blast_radius.sql`,
//! `sql/blast_radius_services.sql`).

use std::time::Duration;

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use super::ReadError;
use super::params::{Params, TimeWindow};
use crate::config::Config;
use crate::model::family::ErrorFamily;
use crate::model::rejection::Rejection;
use crate::query::rows::Columns;
use crate::query::sql::{self, Param, ReadQuery};

pub const PARAMS: &[&str] = &[
    "service",
    "step",
    "error_code",
    "error_family",
    "since",
    "until",
    "window",
];
const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);
const TOP_N: usize = 10;

/// What is being measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BlastKey {
    Family(ErrorFamily),
    Code { error_code: String },
}

impl BlastKey {
    /// The key rules of §4.5, first matching rule wins.
    pub fn parse(p: &Params) -> Result<BlastKey, Rejection> {
        let invalid = || Rejection::bad_request("invalid error family key");
        let (service, step, code) = (p.get("service"), p.get("step"), p.get("error_code"));
        if let Some(text) = p.get("error_family") {
            if service.is_some() || step.is_some() || code.is_some() {
                return Err(Rejection::bad_request(
                    "use either error_family or service, step and error_code",
                ));
            }
            return ErrorFamily::parse(text)
                .map(BlastKey::Family)
                .ok_or_else(invalid);
        }
        if service.is_some() || step.is_some() {
            return match (service, step, code) {
                (Some(s), Some(p), Some(c)) => Ok(BlastKey::Family(ErrorFamily::new(s, p, c))),
                _ => Err(invalid()),
            };
        }
        match code {
            Some(c) => Ok(BlastKey::Code {
                error_code: c.to_owned(),
            }),
            None => Err(Rejection::bad_request(
                "error_family, service+step+error_code, or error_code is required",
            )),
        }
    }

    pub fn view_mode(&self) -> &'static str {
        match self {
            BlastKey::Family(_) => "single_family",
            BlastKey::Code { .. } => "cross_family",
        }
    }

    /// `(error_code, service, step)` with `''` for "any".
    fn filters(&self) -> (&str, &str, &str) {
        match self {
            BlastKey::Family(f) => (&f.error_code, &f.service, &f.step),
            BlastKey::Code { error_code } => (error_code, "", ""),
        }
    }
}

#[derive(Debug, Clone)]
pub struct BlastQuery {
    pub key: BlastKey,
    pub window: TimeWindow,
}

impl BlastQuery {
    pub fn parse(p: &Params, now_ns: i64, config: &Config) -> Result<Self, Rejection> {
        let key = BlastKey::parse(p)?;
        let window = TimeWindow::resolve(p, now_ns, config.retention, DEFAULT_WINDOW)?;
        Ok(BlastQuery { key, window })
    }
}

/// `S`: the server writes `&'static str`, the CLI reads `String`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlastResponse<S = &'static str> {
    pub key: BlastKey,
    pub view_mode: S,
    pub window: String,
    pub affected_requests: i64,
    pub affected_users: Option<i64>,
    pub affected_services: i64,
    pub top_services: Vec<String>,
    pub sample_traces: Vec<String>,
}

pub async fn read(ctx: &SessionContext, q: &BlastQuery) -> Result<BlastResponse, ReadError> {
    let (code, service, step) = q.key.filters();
    let (lo, hi) = q.window.extent();
    let matched = sql::materialize(
        ctx,
        ReadQuery::BlastTraces,
        vec![
            Param::Timestamp(q.window.since_ns),
            Param::Timestamp(q.window.until_ns),
            Param::str(code),
            Param::str(service),
            Param::str(step),
        ],
    )
    .await?;
    sql::register_traced_events_of(ctx, &matched).await?;
    sql::materialize(
        ctx,
        ReadQuery::BlastExtent,
        vec![Param::Timestamp(lo), Param::Timestamp(hi)],
    )
    .await?;
    let mut affected_requests = 0;
    let mut affected_users = 0;
    let mut sample_traces = Vec::new();
    for batch in sql::collect(ctx, ReadQuery::BlastRadius, vec![]).await? {
        let cols = Columns::new(&batch);
        let requests = cols.ints("affected_requests")?;
        let users = cols.ints("affected_users")?;
        for i in 0..batch.num_rows() {
            affected_requests = requests.value(i);
            affected_users = users.value(i);
            sample_traces = cols.string_list("sample_traces", i)?;
        }
    }
    let mut services = Vec::new();
    for batch in sql::collect(ctx, ReadQuery::BlastRadiusServices, vec![]).await? {
        let names = Columns::new(&batch).strings("service")?;
        services.extend(names.iter().flatten().map(str::to_owned));
    }
    Ok(BlastResponse {
        view_mode: q.key.view_mode(),
        key: q.key.clone(),
        window: q.window.echo(),
        affected_requests,
        affected_users: Some(affected_users).filter(|n| *n > 0),
        affected_services: services.len() as i64,
        top_services: services.into_iter().take(TOP_N).collect(),
        sample_traces,
    })
}
