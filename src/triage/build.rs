//! `build(incident_id, window, snapshot)` (spec triage §6.2): one TriageReport from the stored
//! incident and live SQL reads over hot + cold, all on the caller's `SessionContext` (one
//! storage snapshot), then hashed (§6.3) and validated.
//!
//! Invariants:
//! - Every read reuses an existing read model (`reads::errors`, `reads::blast`,
//!   `reads::traces::story_read`, `sql/signals_list.sql`, the deployments view) so the report
//!   says what the API says for the same window.
//! - The result depends only on the stored state, `window`, `snapshot` and `now`; with
//!   `snapshot` on, `now` only reaches `generated_at`, which the hash excludes: the same state
//!   gives the same `report_hash` on every surface and across a restart.
//! - A missing or unreadable suspect deployment omits `suspect_change`, never fails the build;
//!   any other storage failure fails it (`500 triage_build_failed`).

use std::time::Duration;

use datafusion::prelude::SessionContext;
use serde::Serialize;
use serde_json::value::RawValue;

use super::hash::{evidence_fingerprint, report_hash};
use super::report::{
    AlertRef, BlastSnapshot, FamilyCount, IncidentRef, NextCheck, RuntimeRef, SCHEMA_VERSION,
    SampleTrace, SignalRef, SuspectChange, TriageReport,
};
use crate::duration::{format_duration, parse_duration};
use crate::incidents::model::{CaptureStatus, Incident, json_time};
use crate::incidents::read::incident_read;
use crate::ingest::deployments::{batch_to_deployments, rate_counts};
use crate::ingest::signals::batch_to_signals;
use crate::model::deployment::Deployment;
use crate::model::family::ErrorFamily;
use crate::model::rejection::{ErrorClass, Rejection};
use crate::model::signal::Signal;
use crate::query::sql::{self, NO_CURSOR_TS, Param, ReadQuery};
use crate::reads::ReadError;
use crate::reads::blast::{self, BlastKey, BlastQuery};
use crate::reads::errors::{self, ErrorsQuery};
use crate::reads::params::{Params, TimeWindow};
use crate::reads::traces::{StoryQuery, story_read};

/// The parameters of `GET /v1/triage/{id}`.
pub const PARAMS: &[&str] = &["window", "snapshot"];
/// The parameters of `GET /v1/triage/{id}/report`.
pub const REPORT_PARAMS: &[&str] = &["format", "window", "snapshot"];
/// `window` when absent.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// At most this many signals are cited (§6.2), and alert signals read in the fallback.
const SIGNAL_LIMIT: usize = 200;
/// `top_error_families` length.
const TOP_FAMILIES: usize = 5;
/// Error-family rows read per page while looking for the family's error code.
const FAMILY_PAGE: usize = 100;

/// The build options of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriageOptions {
    pub window: Duration,
    /// `end = incident.updated_at` instead of `now`.
    pub snapshot: bool,
}

impl Default for TriageOptions {
    fn default() -> Self {
        TriageOptions {
            window: DEFAULT_WINDOW,
            snapshot: false,
        }
    }
}

/// `400 bad_options` (§6.4) with `detail`.
pub fn bad_options(detail: impl Into<String>) -> Rejection {
    Rejection::new(
        ErrorClass::BadRequest,
        "bad_options",
        "invalid options",
        detail,
    )
}

impl TriageOptions {
    /// Parse `window` (reads §1.4 grammar, > 0, ≤ event retention) and `snapshot` (on only for
    /// the exact value `true`) from a query string whose names must be in `allowed`.
    pub fn parse(
        query: Option<&str>,
        allowed: &[&str],
        retention: Duration,
    ) -> Result<(Self, Params), Rejection> {
        let p = Params::parse(query, allowed).map_err(|r| bad_options(r.error.detail))?;
        let window = match p.get("window") {
            None => DEFAULT_WINDOW,
            Some(w) => match parse_duration(w) {
                Some(d) if !d.is_zero() => d,
                _ => return Err(bad_options("invalid window")),
            },
        };
        if window > retention {
            return Err(bad_options(format!(
                "window exceeds retention ({})",
                format_duration(retention)
            )));
        }
        let snapshot = p.get("snapshot") == Some("true");
        Ok((TriageOptions { window, snapshot }, p))
    }
}

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    /// `404 not_found`, `incident not found`.
    #[error("incident not found")]
    NotFound,
    /// A read of the build failed (`what` names it).
    #[error("{what} failed")]
    Read {
        what: &'static str,
        #[source]
        source: ReadError,
    },
    /// The report failed validation or could not be canonicalized.
    #[error("produced invalid report")]
    Invalid(String),
}

fn read_failed(what: &'static str) -> impl FnOnce(ReadError) -> TriageError {
    move |source| TriageError::Read { what, source }
}

/// What the builder needs from the server's settings.
#[derive(Debug, Clone, Copy)]
pub struct BuildSettings {
    /// AMW (`WAYLOG_ALERT_MATCH_WINDOW`).
    pub alert_window: Duration,
}

fn ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Build the TriageReport of `incident_id` at `now_ns` (§6.2), hashed (§6.3) and validated.
pub async fn build(
    ctx: &SessionContext,
    settings: BuildSettings,
    incident_id: &str,
    opts: TriageOptions,
    now_ns: i64,
) -> Result<TriageReport, TriageError> {
    let incident = match incident_read(ctx, incident_id).await {
        Ok(i) => i,
        Err(ReadError::Rejected(r)) if r.class == ErrorClass::NotFound => {
            return Err(TriageError::NotFound);
        }
        Err(e) => return Err(read_failed("read incident")(e)),
    };
    let end = if opts.snapshot {
        incident.updated_at
    } else {
        now_ns
    };
    let window = TimeWindow {
        since_ns: end.saturating_sub(ns(opts.window)),
        until_ns: end,
    };
    let blast_snapshot = blast_snapshot(ctx, &incident, window).await?;
    let (first_failure, sample_traces) = first_failure(ctx, &incident).await?;
    let signals = cited_signals(ctx, &incident, window).await?;
    let alerts = alerts(ctx, &incident, end, ns(settings.alert_window)).await?;
    let runtime = incident
        .runtime
        .as_ref()
        .map(|r| {
            r.matches
                .iter()
                .map(|m| RuntimeRef {
                    signal_id: m.signal_id.clone(),
                    subtype: m.subtype.clone(),
                    service: m.service.clone(),
                    source: m.source.clone(),
                    severity: m.severity.clone(),
                    reason: m.reason.clone(),
                    occurred_at: json_time(m.occurred_at),
                })
                .collect()
        })
        .unwrap_or_default();
    let suspect_dimensions = incident
        .suspect_dimensions
        .as_ref()
        .and_then(|s| s.latest.as_ref())
        .map(|c| c.dimensions.clone())
        .unwrap_or_default();
    let next_checks = incident
        .next_checks
        .iter()
        .enumerate()
        .map(|(i, prompt)| NextCheck {
            id: format!("check_{i}"),
            prompt: prompt.clone(),
        })
        .collect();
    let suspect_change = suspect_change(ctx, &incident.suspect_deploy_id).await;
    let mut report = TriageReport {
        schema_version: SCHEMA_VERSION.to_string(),
        incident_ref: IncidentRef {
            id: incident.incident_id.clone(),
            window: format_duration(opts.window),
        },
        blast_snapshot,
        first_failure,
        suspect_change,
        sample_traces,
        signals,
        alerts,
        runtime,
        suspect_dimensions,
        next_checks,
        confidence: incident.confidence,
        generated_at: json_time(now_ns),
        plan_run_id: None,
        report_hash: String::new(),
        evidence_fingerprint: String::new(),
    };
    report.report_hash = report_hash(&report).map_err(|e| TriageError::Invalid(e.to_string()))?;
    report.evidence_fingerprint = evidence_fingerprint(&report);
    validate(&report)?;
    Ok(report)
}

/// The checks of §6.2, after hashing.
pub fn validate(r: &TriageReport) -> Result<(), TriageError> {
    let problem = if r.schema_version != SCHEMA_VERSION {
        Some("schema_version")
    } else if r.incident_ref.id.is_empty() {
        Some("incident_ref.id")
    } else if r.generated_at.is_empty() {
        Some("generated_at")
    } else {
        // `confidence` is an enum: any value it holds is in the enum.
        None
    };
    match problem {
        Some(field) => Err(TriageError::Invalid(format!("invalid {field}"))),
        None => Ok(()),
    }
}

/// `blast_snapshot` (§6.2): the stored latest blast capture, else a live blast radius of the
/// family; `top_error_families` always live over the window.
async fn blast_snapshot(
    ctx: &SessionContext,
    incident: &Incident,
    window: TimeWindow,
) -> Result<BlastSnapshot, TriageError> {
    let family = &incident.error_family;
    let (requests, users, services) = match incident.blast.as_ref().and_then(|b| b.latest.as_ref())
    {
        Some(b) => (b.affected_requests, b.affected_users, b.affected_services),
        None => {
            let q = BlastQuery {
                key: BlastKey::Family(family.clone()),
                window,
            };
            let b = blast::read(ctx, &q)
                .await
                .map_err(read_failed("read blast radius"))?;
            (
                b.affected_requests,
                b.affected_users.unwrap_or(0),
                b.affected_services,
            )
        }
    };
    Ok(BlastSnapshot {
        requests,
        users,
        services,
        top_error_families: top_families(ctx, family, window).await?,
    })
}

/// The first five reads §2.2 rows of the window with the family's service and error code, in
/// row order.
async fn top_families(
    ctx: &SessionContext,
    family: &ErrorFamily,
    window: TimeWindow,
) -> Result<Vec<FamilyCount>, TriageError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let q = ErrorsQuery {
            service: Some(family.service.clone()),
            statuses: None,
            window,
            cursor: cursor.take(),
            limit: FAMILY_PAGE,
        };
        let page = errors::read(ctx, &q)
            .await
            .map_err(read_failed("read error families"))?;
        for row in page.rows {
            if row.error_family.error_code == family.error_code && out.len() < TOP_FAMILIES {
                out.push(FamilyCount {
                    service: row.error_family.service,
                    step: row.error_family.step,
                    error_code: row.error_family.error_code,
                    count: row.count,
                });
            }
        }
        match page.next_cursor {
            Some(c) if out.len() < TOP_FAMILIES => {
                cursor = Some(
                    crate::reads::params::ErrorsCursor::decode(&c)
                        .map_err(|r| TriageError::Invalid(format!("error family cursor: {r}")))?,
                );
            }
            _ => return Ok(out),
        }
    }
}

/// The origin summary of §6.2 (members omitted when empty).
#[derive(Serialize)]
struct OriginFailure<'a> {
    origin_service: &'a str,
    origin_step: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    first_failing_step: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    error_code: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    sample_trace_id: &'a str,
}

fn raw<T: Serialize>(value: &T) -> Result<Box<RawValue>, TriageError> {
    serde_json::value::to_raw_value(value).map_err(|e| TriageError::Invalid(e.to_string()))
}

/// `first_failure` and `sample_traces` (§6.2).
async fn first_failure(
    ctx: &SessionContext,
    incident: &Incident,
) -> Result<(Option<Box<RawValue>>, Vec<SampleTrace>), TriageError> {
    let propagation = incident
        .propagation
        .as_ref()
        .and_then(|p| p.latest.as_ref())
        .filter(|p| p.capture_status != CaptureStatus::Missing);
    if let Some(p) = propagation {
        let failing = p.path.iter().find(|e| e.status == "error");
        let origin = OriginFailure {
            origin_service: &p.origin_service,
            origin_step: &p.origin_step,
            first_failing_step: failing.map_or("", |e| e.step.as_str()),
            error_code: failing.map_or("", |e| e.error_code.as_str()),
            sample_trace_id: &p.sample_trace_id,
        };
        let summary_of = |trace_id: &str| match p.path.last() {
            Some(last) if trace_id == p.sample_trace_id => {
                format!("{}/{} → {}", p.origin_service, p.origin_step, last.step)
            }
            _ => String::new(),
        };
        let sampled = incident
            .blast
            .as_ref()
            .and_then(|b| b.latest.as_ref())
            .map(|b| b.sampled_traces.as_slice())
            .unwrap_or_default();
        let mut traces: Vec<SampleTrace> = sampled
            .iter()
            .map(|t| SampleTrace {
                trace_id: t.clone(),
                summary: summary_of(t),
            })
            .collect();
        if traces.is_empty() && !p.sample_trace_id.is_empty() {
            traces.push(SampleTrace {
                trace_id: p.sample_trace_id.clone(),
                summary: summary_of(&p.sample_trace_id),
            });
        }
        return Ok((Some(raw(&origin)?), traces));
    }
    let Some(trace_id) = incident.sample_traces.first() else {
        return Ok((None, Vec::new()));
    };
    let f = &incident.error_family;
    let from_family = format!("{}/{}/{}", f.service, f.step, f.error_code);
    match story_read(ctx, &StoryQuery::Trace(trace_id.clone())).await {
        Ok(story) => {
            let summary = match &story.anchor {
                Some(a) => format!("{}/{}/{}", story.service, a.step, a.error_code),
                None => from_family,
            };
            let trace = SampleTrace {
                trace_id: trace_id.clone(),
                summary,
            };
            Ok((Some(raw(&story)?), vec![trace]))
        }
        Err(ReadError::Rejected(r)) if r.class == ErrorClass::NotFound => Ok((
            None,
            vec![SampleTrace {
                trace_id: trace_id.clone(),
                summary: from_family,
            }],
        )),
        Err(e) => Err(read_failed("read trace story")(e)),
    }
}

/// Signals newest first from `sql/signals_list.sql` (timestamp in `[lo, hi]`, exact `env`
/// and `service` when non-empty, `types` comma-separated or `''`).
async fn signals_between(
    ctx: &SessionContext,
    (lo, hi): (i64, i64),
    env: &str,
    service: &str,
    types: &str,
) -> Result<Vec<Signal>, ReadError> {
    let batches = sql::collect(
        ctx,
        ReadQuery::SignalsList,
        vec![
            Param::Timestamp(lo),
            Param::Timestamp(hi),
            Param::str(service),
            Param::str(env),
            Param::str(""),
            Param::str(""),
            Param::str(types),
            Param::str(""),
            Param::Timestamp(NO_CURSOR_TS),
            Param::str(""),
            Param::rows(SIGNAL_LIMIT),
        ],
    )
    .await?;
    let mut out = Vec::new();
    for b in &batches {
        out.extend(batch_to_signals(b)?);
    }
    Ok(out)
}

/// `signals` (§6.2): the incident env's signals of the window, every type and service.
async fn cited_signals(
    ctx: &SessionContext,
    incident: &Incident,
    window: TimeWindow,
) -> Result<Vec<SignalRef>, TriageError> {
    let signals = signals_between(
        ctx,
        (window.since_ns, window.until_ns),
        &incident.env,
        "",
        "",
    )
    .await
    .map_err(read_failed("read signals"))?;
    Ok(signals
        .into_iter()
        .map(|s| SignalRef {
            evidence_ids: vec![s.signal_id.clone()],
            id: s.signal_id,
            kind: s.kind.as_str().to_string(),
        })
        .collect())
}

/// `alerts` (§6.2): the latest alerts capture, else the family's alert signals around the
/// incident.
async fn alerts(
    ctx: &SessionContext,
    incident: &Incident,
    end: i64,
    amw_ns: i64,
) -> Result<Vec<AlertRef>, TriageError> {
    if let Some(a) = incident.alerts.as_ref().and_then(|a| a.latest.as_ref()) {
        return Ok(a
            .matches
            .iter()
            .map(|m| AlertRef {
                signal_id: m.signal_id.clone(),
                alert_id: m.alert_id.clone(),
                source: m.source.clone(),
                severity: m.severity.clone(),
                reason: m.reason.clone(),
                provider_url: m.provider_url.clone(),
                evidence_ids: if m.evidence_ids.is_empty() {
                    vec![m.signal_id.clone()]
                } else {
                    m.evidence_ids.clone()
                },
            })
            .collect());
    }
    let bounds = (
        incident.started_at.saturating_sub(amw_ns),
        end.saturating_add(amw_ns),
    );
    let signals = signals_between(
        ctx,
        bounds,
        &incident.env,
        &incident.error_family.service,
        "alert",
    )
    .await
    .map_err(read_failed("read alert signals"))?;
    Ok(signals
        .into_iter()
        .map(|s| AlertRef {
            evidence_ids: vec![s.signal_id.clone()],
            alert_id: s.meta.alert_id.clone(),
            provider_url: s.meta.provider_url.clone(),
            source: s.source,
            severity: s.severity.as_str().to_string(),
            reason: s.reason,
            signal_id: s.signal_id,
        })
        .collect())
}

/// `suspect_change` (§6.2); `None` when there is no suspect or it cannot be read.
async fn suspect_change(ctx: &SessionContext, deploy_id: &str) -> Option<SuspectChange> {
    if deploy_id.is_empty() {
        return None;
    }
    let deployment = match load_deployment(ctx, deploy_id).await {
        Ok(d) => d?,
        Err(e) => {
            tracing::warn!(error = %crate::storage::error_chain(&e), deploy_id, "triage: suspect deployment unreadable");
            return None;
        }
    };
    let rates = match deployment_rates(ctx, &deployment).await {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(error = %crate::storage::error_chain(&e), deploy_id, "triage: deployment error rates unavailable");
            None
        }
    };
    Some(SuspectChange {
        deploy_id: deployment.id,
        service: deployment.service,
        version: deployment.version,
        commit_sha: deployment.commit_sha,
        pr_url: deployment.pr_url,
        commit_author: deployment.commit_author,
        deployed_at: json_time(deployment.first_seen_ns),
        error_rate_before: rates.map(|r| r.0),
        error_rate_after: rates.map(|r| r.1),
    })
}

async fn load_deployment(ctx: &SessionContext, id: &str) -> Result<Option<Deployment>, ReadError> {
    let batches = sql::collect(ctx, ReadQuery::TriageDeployment, vec![Param::str(id)]).await?;
    for b in &batches {
        if let Some(d) = batch_to_deployments(b)?.into_iter().next() {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

/// failed ÷ max(non-suppressed, 1) events of the service in the 5 minutes before and after
/// `first_seen` (the deployments listing's query, for this deployment alone).
async fn deployment_rates(ctx: &SessionContext, d: &Deployment) -> Result<(f64, f64), ReadError> {
    let batches = sql::collect(
        ctx,
        ReadQuery::DeploymentErrorRates,
        vec![
            Param::Timestamp(d.first_seen_ns),
            Param::Timestamp(d.first_seen_ns),
            Param::str(&d.service),
        ],
    )
    .await?;
    let c = rate_counts(&batches)?.remove(&d.id).unwrap_or_default();
    Ok((
        c.before_failed as f64 / c.before.max(1) as f64,
        c.after_failed as f64 / c.after.max(1) as f64,
    ))
}

#[cfg(test)]
mod tests;
