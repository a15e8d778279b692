//! The tool handlers (spec reads §6.3). Each stands on a read model of [`crate::reads`], the
//! incident reads or the TriageReport builder ([`crate::triage::build`]), called with the
//! same typed queries as the HTTP routes: tool params become the route's [`Params`] and go
//! through the route's own `…Query::parse`, so both answer the same.

use datafusion::prelude::SessionContext;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::error::{ToolCode, ToolError};
use super::{ToolEnv, graph_tools};
use crate::incidents::read as incidents;
use crate::query::output::{columns_of, rows_to_json};
use crate::query::{QueryOptions, run_user_sql};
use crate::reads::params::Params;
use crate::reads::{ReadError, blast, traces};
use crate::triage::build::{self, BuildSettings, TriageError, TriageOptions};
use crate::triage::render::{ReportFormat, render};
use crate::triage::report::TriageReport;

/// Which handler a registered tool runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolId {
    ExplainRequest,
    BlastRadius,
    TriageIncident,
    RenderTriageReport,
    ListActiveIncidents,
    SuspectChange,
    QuerySql,
    GraphStats,
    TraceSummary,
    GraphFailures,
    FailurePatterns,
    FailureChain,
    CompareWindows,
    GraphInsights,
}

/// Run `id` with validated, defaulted `params`.
pub async fn run(
    id: ToolId,
    env: &ToolEnv<'_>,
    params: Map<String, Value>,
) -> Result<Value, ToolError> {
    match id {
        ToolId::ExplainRequest => explain_request(env, &params).await,
        ToolId::BlastRadius => blast_radius(env, &params).await,
        ToolId::TriageIncident => to_json(&triage(env, &params).await?),
        ToolId::RenderTriageReport => render_triage_report(env, &params).await,
        ToolId::ListActiveIncidents => list_active_incidents(env, &params).await,
        ToolId::SuspectChange => suspect_change(env, &params).await,
        ToolId::QuerySql => query_sql(env, &params).await,
        ToolId::GraphStats => graph_tools::graph_stats(env, &params).await,
        ToolId::TraceSummary => graph_tools::trace_summary(env, &params).await,
        ToolId::GraphFailures => graph_tools::graph_failures(env, &params).await,
        ToolId::FailurePatterns => graph_tools::failure_patterns(env, &params).await,
        ToolId::FailureChain => graph_tools::failure_chain(env, &params).await,
        ToolId::CompareWindows => graph_tools::compare_windows(env, &params).await,
        ToolId::GraphInsights => graph_tools::graph_insights(env, &params).await,
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, ToolError> {
    serde_json::to_value(v).map_err(|e| ToolError::internal(&e))
}

pub(crate) fn str_param<'a>(p: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    p.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The route parameters `pairs` (absent values skipped) as the read API's [`Params`].
pub(crate) fn route_params(
    pairs: &[(&str, Option<&str>)],
    allowed: &[&str],
) -> Result<Params, ToolError> {
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC))))
        .collect();
    Ok(Params::parse(Some(&query.join("&")), allowed)?)
}

/// Run `read` over one fresh snapshot, holding a read slot (`OVERLOADED` when none is free).
pub(crate) async fn with_snapshot<T, F, Fut>(env: &ToolEnv<'_>, read: F) -> Result<T, ToolError>
where
    F: FnOnce(SessionContext) -> Fut,
    Fut: std::future::Future<Output = Result<T, ToolError>>,
{
    let Ok(_slot) = env.read_slots.try_acquire() else {
        return Err(ToolError::new(
            ToolCode::Overloaded,
            "too many concurrent reads",
        ));
    };
    let ctx = env
        .engine
        .context(env.config.query_memory_bytes)
        .await
        .map_err(ReadError::from)?;
    read(ctx).await
}

async fn explain_request(env: &ToolEnv<'_>, p: &Map<String, Value>) -> Result<Value, ToolError> {
    let params = route_params(
        &[
            ("trace_id", str_param(p, "trace_id")),
            ("event_id", str_param(p, "event_id")),
        ],
        traces::STORY_PARAMS,
    )?;
    let q = traces::StoryQuery::parse(&params)?;
    let story = with_snapshot(
        env,
        |ctx| async move { Ok(traces::story_read(&ctx, &q).await?) },
    )
    .await?;
    to_json(&story)
}

async fn blast_radius(env: &ToolEnv<'_>, p: &Map<String, Value>) -> Result<Value, ToolError> {
    let names = ["error_family", "service", "step", "error_code", "window"];
    let pairs: Vec<(&str, Option<&str>)> = names.iter().map(|n| (*n, str_param(p, n))).collect();
    let params = route_params(&pairs, blast::PARAMS)?;
    let q = blast::BlastQuery::parse(&params, env.now_ns, env.config)?;
    let answer = with_snapshot(env, |ctx| async move { Ok(blast::read(&ctx, &q).await?) }).await?;
    to_json(&answer)
}

/// The TriageReport of `params.incident_id` (shared by the three incident tools).
async fn triage(env: &ToolEnv<'_>, p: &Map<String, Value>) -> Result<TriageReport, ToolError> {
    let id = str_param(p, "incident_id").unwrap_or_default().to_owned();
    let snapshot = p.get("snapshot").and_then(Value::as_bool).unwrap_or(false);
    let query = format!(
        "window={}{}",
        utf8_percent_encode(str_param(p, "window").unwrap_or("15m"), NON_ALPHANUMERIC),
        if snapshot { "&snapshot=true" } else { "" }
    );
    let (opts, _) = TriageOptions::parse(Some(&query), build::PARAMS, env.config.retention)
        .map_err(|r| ToolError::invalid(r.error.detail))?;
    let settings = BuildSettings {
        alert_window: env.config.incidents.alert_window,
    };
    let now = env.now_ns;
    with_snapshot(env, |ctx| async move {
        build::build(&ctx, settings, &id, opts, now)
            .await
            .map_err(triage_error)
    })
    .await
}

fn triage_error(e: TriageError) -> ToolError {
    match e {
        TriageError::NotFound => ToolError::not_found(incidents::NOT_FOUND),
        TriageError::Read { source, .. } => source.into(),
        TriageError::Invalid(why) => ToolError::internal(&why),
    }
}

async fn render_triage_report(
    env: &ToolEnv<'_>,
    p: &Map<String, Value>,
) -> Result<Value, ToolError> {
    let name = str_param(p, "format").unwrap_or("markdown");
    let format = ReportFormat::parse(name)
        .ok_or_else(|| ToolError::invalid(format!("unsupported report format {name:?}")))?;
    let report = triage(env, p).await?;
    let text = render(&report, format).map_err(|e| ToolError::internal(&e))?;
    let body = if format == ReportFormat::Slack {
        serde_json::from_str(&text).map_err(|e| ToolError::internal(&e))?
    } else {
        Value::String(text)
    };
    Ok(json!({"format": format.as_str(), "content_type": format.content_type(), "body": body}))
}

async fn suspect_change(env: &ToolEnv<'_>, p: &Map<String, Value>) -> Result<Value, ToolError> {
    match triage(env, p).await?.suspect_change {
        Some(s) => to_json(&s),
        None => Err(ToolError::new(
            ToolCode::EmptyResult,
            "incident has no suspect deployment",
        )),
    }
}

/// One row of `list_active_incidents`, with its ranking key.
fn incident_row(i: &crate::incidents::model::Incident) -> Value {
    json!({
        "incident_id": i.incident_id,
        "env": i.env,
        "service": i.error_family.service,
        "step": i.error_family.step,
        "error_code": i.error_family.error_code,
        "status": i.status.as_str(),
        "cause": i.cause.as_str(),
        "confidence": i.confidence.as_str(),
        "affected_users": if i.affected_users == 0 { Value::Null } else { json!(i.affected_users) },
        "affected_requests": i.affected_requests,
        "affected_services": i.affected_services,
        "needs_judgment": i.cause.as_str() == "unknown"
            || i.confidence.as_str() == "low"
            || i.suspect_deploy_id.is_empty(),
        "started_at": crate::incidents::model::json_time(i.started_at),
    })
}

async fn list_active_incidents(
    env: &ToolEnv<'_>,
    p: &Map<String, Value>,
) -> Result<Value, ToolError> {
    let env_filter = str_param(p, "env").map(str::to_owned);
    let limit = p.get("limit").and_then(Value::as_u64).unwrap_or(50) as usize;
    let mut list = with_snapshot(env, |ctx| async move {
        Ok(incidents::active_read(&ctx, env_filter.as_deref()).await?)
    })
    .await?
    .incidents;
    list.sort_by(|a, b| {
        b.affected_users
            .cmp(&a.affected_users)
            .then(b.affected_requests.cmp(&a.affected_requests))
            .then(b.affected_services.cmp(&a.affected_services))
            .then_with(|| a.incident_id.cmp(&b.incident_id))
    });
    list.truncate(limit);
    let rows: Vec<Value> = list.iter().map(incident_row).collect();
    Ok(json!({"count": rows.len(), "incidents": rows}))
}

async fn query_sql(env: &ToolEnv<'_>, p: &Map<String, Value>) -> Result<Value, ToolError> {
    let sql = str_param(p, "sql").unwrap_or_default();
    let limit = p.get("limit").and_then(Value::as_u64).unwrap_or(1000) as usize;
    let Ok(_slot) = env.query_slots.try_acquire() else {
        return Err(ToolError::new(
            ToolCode::Overloaded,
            "too many concurrent queries",
        ));
    };
    let opts = QueryOptions {
        limit: limit.min(env.config.query_max_rows),
        timeout: Some(env.config.query_timeout),
        memory_bytes: env.config.query_memory_bytes,
    };
    let result = run_user_sql(env.engine, sql, &opts).await?;
    let columns: Vec<Value> = columns_of(&result.schema)
        .into_iter()
        .map(|c| json!({"name": c.name, "type": c.data_type, "nullable": c.nullable}))
        .collect();
    Ok(json!({
        "schema_version": "1.0",
        "columns": columns,
        "rows": rows_to_json(&result.batches, result.row_count),
        "row_count": result.row_count,
        "truncated": result.truncated,
    }))
}
