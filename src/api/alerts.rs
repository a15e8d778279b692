//! `POST /v1/alerts` (spec triage §7.3): accept the payload ([`alert_intake::accept`]: map,
//! validate each alert as a signal), match each accepted alert to an incident
//! ([`intake_match`]), and store every accepted alert as one `signals` row plus one `alerts`
//! row, all in one WAL commit. `201` when at least one alert was accepted; otherwise the first
//! rejection is the error and nothing is stored. Error codes are the route's upper-case ones
//! ([`WriteRoute::Alerts`]).

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;

use super::error::{ApiError, ErrorClass, WriteRoute, json_response};
use super::{SharedState, auth};
use crate::incidents::intake::intake_match;
use crate::ingest::alert_intake::{self, alerts_to_batch, created};
use crate::ingest::signals::{MAX_SIGNAL_BODY, Signal, signals_to_batch};
use crate::storage::schema::TableId;

/// `POST /v1/alerts`; counts `waylog_alerts_*` (spec triage §9).
pub async fn alerts_ingest(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    let result = alerts_store(&state, req).await;
    match &result {
        Ok(outcome) => {
            for a in &outcome.accepted {
                crate::metrics::alert_received(a.format, a.strategy);
            }
            for code in &outcome.rejected {
                crate::metrics::alert_rejected(code);
            }
        }
        Err(e) => crate::metrics::alert_rejected(e.error.code),
    }
    result.map(|o| o.response)
}

/// What one alert request stored: the response, then per accepted alert its format and
/// match strategy, and the codes of the rejected ones.
struct Outcome {
    response: Response,
    accepted: Vec<AcceptedLabels>,
    rejected: Vec<&'static str>,
}

/// The metric labels of one accepted alert.
struct AcceptedLabels {
    format: &'static str,
    strategy: &'static str,
}

async fn alerts_store(state: &SharedState, req: Request) -> Result<Outcome, ApiError> {
    let checked = auth::gate(state, &req, auth::Scope::Write).and_then(|()| {
        if req.method() != Method::POST {
            return Err(ApiError::new(
                ErrorClass::MethodNotAllowed,
                "METHOD_NOT_ALLOWED",
                "method not allowed",
                "",
            )
            .with_header(header::ALLOW, "POST"));
        }
        Ok(())
    });
    if let Err(e) = checked {
        return Err(super::body::refuse(req, e).await);
    }
    let query = req.uri().query().map(str::to_string);
    let body = axum::body::to_bytes(req.into_body(), MAX_SIGNAL_BODY)
        .await
        .map_err(|e| {
            let detail = if crate::storage::error_chain(&e).contains("length limit") {
                "request body exceeds 1 MB".to_string()
            } else {
                e.to_string()
            };
            ApiError::new(
                ErrorClass::BadRequest,
                "INVALID_JSON",
                "invalid body",
                detail,
            )
        })?;
    let now = state.clock.now_ns();
    let (mut accepted, rejected) = alert_intake::accept(&body, query.as_deref(), now)?;
    let storage = state.writable(WriteRoute::Alerts)?;
    let signals: Vec<Signal> = accepted.iter().map(|a| a.signal.clone()).collect();
    // Intake match (informational, stored in `alerts`): a failed incident read leaves `none`.
    if let Some(engine) = state.engine() {
        let amw = i64::try_from(state.config.incidents.alert_window.as_nanos()).unwrap_or(i64::MAX);
        match engine.context(state.config.query_memory_bytes).await {
            Ok(ctx) => match state.incidents.intake_view(&ctx).await {
                Ok((active, ids)) => {
                    let matches = intake_match(&ctx, &signals, &active, &ids, amw).await;
                    for (a, m) in accepted.iter_mut().zip(matches) {
                        a.matched = m;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "alert intake match skipped"),
            },
            Err(e) => tracing::warn!(error = %e, "alert intake match skipped"),
        }
    }
    let internal = |what: &str, e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "alert {what} failed");
        WriteRoute::Alerts.internal()
    };
    let signal_batch = signals_to_batch(&signals).map_err(|e| internal("conversion", &e))?;
    let alert_batch = alerts_to_batch(&accepted).map_err(|e| internal("conversion", &e))?;
    storage
        .append_many(vec![
            (TableId::Signals, signal_batch),
            (TableId::Alerts, alert_batch),
        ])
        .await
        .map_err(|e| WriteRoute::Alerts.write_failed(&e))?;
    let labels = accepted
        .iter()
        .map(|a| AcceptedLabels {
            format: a.mapped.format.as_str(),
            strategy: a.matched.strategy,
        })
        .collect();
    let rejected_codes = rejected.iter().map(|r| r.code).collect();
    let body = created(&accepted, rejected).map_err(|e| internal("response", &e))?;
    Ok(Outcome {
        response: json_response(StatusCode::CREATED, &body),
        accepted: labels,
        rejected: rejected_codes,
    })
}
