//! `POST /v1/alerts` (spec triage §7.3): map the payload ([`super::alerts`]), validate each
//! alert as a signal, match it ([`intake_match`]), and store every accepted alert as one
//! `signals` row plus one `alerts` row, all in one WAL commit. `201` when at least one alert
//! was accepted; otherwise the first rejection is the error and nothing is stored.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use datafusion::arrow::array::TimestampNanosecondArray;
use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
use serde::Serialize;
use serde_json::value::RawValue;

use super::alerts::{AlertRejection, MappedAlert, map_alerts, parse_alert_body, parse_alert_query};
use super::signals::{MAX_SIGNAL_BODY, Signal, signal_json, signals_to_batch, validate_signal};
use crate::server::error::{ApiError, json_response};
use crate::server::{RequestId, SharedState, auth};
use crate::storage::WriteError;
use crate::storage::schema::{ALERTS_SCHEMA, TableId};

/// The intake match of one alert (§7.3 `match`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertMatch {
    pub matched: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    pub strategy: &'static str,
}

impl AlertMatch {
    pub fn none() -> Self {
        AlertMatch {
            matched: false,
            incident_id: None,
            strategy: "none",
        }
    }
}

/// The intake match of §7.6, the one place alerts are matched at intake: step 1 against all
/// incidents, steps 2-3 against the active ones (newest evidence first), through the §7.4 rule
/// the engine also uses for attachment ([`crate::incidents::alert_match`]). Stories of alert
/// trace ids are read first because the rule itself is synchronous.
pub async fn intake_match(
    ctx: &datafusion::prelude::SessionContext,
    alerts: &[Signal],
    active: &[crate::incidents::model::Incident],
    ids: &std::collections::HashSet<String>,
    amw_ns: i64,
) -> Vec<AlertMatch> {
    use crate::incidents::alert_match::{FnLookup, intake_match as rule};
    use crate::incidents::engine::{signal_row, story_family};
    let rows: Vec<_> = alerts.iter().map(signal_row).collect();
    let mut stories = std::collections::HashMap::new();
    for r in &rows {
        let t = &r.meta.trace_id;
        if !t.is_empty() && !stories.contains_key(t) {
            stories.insert(t.clone(), story_family(ctx, t).await);
        }
    }
    let lookup = FnLookup {
        exists: |id: &str| ids.contains(id),
        story: |t: &str| stories.get(t).cloned().flatten(),
    };
    rows.iter()
        .map(|r| match rule(r, active, amw_ns, &lookup) {
            (Some(id), strategy) => AlertMatch {
                matched: true,
                incident_id: Some(id),
                strategy: strategy.as_str(),
            },
            (None, _) => AlertMatch::none(),
        })
        .collect()
}

/// One accepted alert: its stored signal, the mapping's alert columns and its match.
#[derive(Debug)]
struct Accepted {
    signal: Signal,
    mapped: MappedAlert,
    matched: AlertMatch,
}

#[derive(Serialize)]
struct ResultEntry {
    signal: Box<RawValue>,
    #[serde(rename = "match")]
    matched: AlertMatch,
}

#[derive(Serialize)]
struct Created {
    signal: Box<RawValue>,
    #[serde(rename = "match")]
    matched: AlertMatch,
    results: Vec<ResultEntry>,
    rejected: Vec<AlertRejection>,
}

fn error(
    status: StatusCode,
    code: &'static str,
    message: &str,
    detail: impl Into<String>,
) -> ApiError {
    ApiError::new(status, code, message, detail)
}

/// The `alerts` rows of accepted alerts.
fn alerts_to_batch(
    accepted: &[Accepted],
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let strings = |f: &dyn Fn(&Accepted) -> Option<String>| -> ArrayRef {
        Arc::new(accepted.iter().map(f).collect::<StringArray>())
    };
    let times = |f: &dyn Fn(&Accepted) -> i64| -> ArrayRef {
        Arc::new(
            TimestampNanosecondArray::from_iter_values(accepted.iter().map(f)).with_timezone("UTC"),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        strings(&|a| Some(a.signal.signal_id.clone())),
        times(&|a| a.signal.received_at_ns),
        strings(&|a| Some(a.mapped.format.as_str().to_string())),
        strings(&|a| a.mapped.alert_id.clone()),
        strings(&|a| a.mapped.alert_status.clone()),
        strings(&|a| a.mapped.fingerprint.clone()),
        Arc::new(BooleanArray::from(
            accepted
                .iter()
                .map(|a| a.matched.matched)
                .collect::<Vec<_>>(),
        )),
        strings(&|a| a.matched.incident_id.clone()),
        strings(&|a| Some(a.matched.strategy.to_string())),
        times(&|a| a.signal.timestamp_ns),
    ];
    RecordBatch::try_new(ALERTS_SCHEMA.clone(), columns)
}

/// Map, validate and match every alert of `body`; `Err` is the whole-request error.
fn accept(
    body: &[u8],
    query: Option<&str>,
    now_ns: i64,
) -> Result<(Vec<Accepted>, Vec<AlertRejection>), ApiError> {
    let q = parse_alert_query(query)?;
    let value = parse_alert_body(body)?;
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for (position, item) in map_alerts(&value, &q, now_ns)?.into_iter().enumerate() {
        let mapped = match item {
            Ok(m) => m,
            Err(r) => {
                rejected.push(r);
                continue;
            }
        };
        let text = serde_json::to_vec(&mapped.signal).unwrap_or_default();
        match validate_signal(&text, now_ns) {
            Ok(signal) => accepted.push(Accepted {
                signal,
                mapped,
                matched: AlertMatch::none(),
            }),
            Err(e) => rejected.push(AlertRejection::invalid_alert(position, &e)),
        }
    }
    if accepted.is_empty() {
        return Err(match rejected.into_iter().next() {
            Some(r) => r.into_api_error(),
            None => error(
                StatusCode::BAD_REQUEST,
                "MISSING_FIELDS",
                "missing required fields",
                "alerts[] is empty",
            ),
        });
    }
    Ok((accepted, rejected))
}

fn created(
    accepted: &[Accepted],
    rejected: Vec<AlertRejection>,
) -> Result<Response, serde_json::Error> {
    let mut results = Vec::with_capacity(accepted.len());
    for a in accepted {
        results.push(ResultEntry {
            signal: RawValue::from_string(signal_json(&a.signal))?,
            matched: a.matched.clone(),
        });
    }
    let body = Created {
        signal: results[0].signal.clone(),
        matched: results[0].matched.clone(),
        results,
        rejected,
    };
    Ok(json_response(StatusCode::CREATED, &body))
}

/// `POST /v1/alerts`.
pub async fn alerts_ingest(State(state): State<SharedState>, req: Request) -> Response {
    if let Err(e) = auth::gate(&state, &req, auth::Scope::Write) {
        return e.into_response();
    }
    if req.method() != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "method not allowed",
            "",
        )
        .with_header(header::ALLOW, "POST")
        .into_response();
    }
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let query = req.uri().query().map(str::to_string);
    let body = match axum::body::to_bytes(req.into_body(), MAX_SIGNAL_BODY).await {
        Ok(b) => b,
        Err(e) => {
            let too_big = crate::storage::error_chain(&e).contains("length limit");
            let detail = if too_big {
                "request body exceeds 1 MB".to_string()
            } else {
                e.to_string()
            };
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_JSON",
                "invalid body",
                detail,
            )
            .into_response();
        }
    };
    let now = state.clock.now_ns();
    let (accepted, rejected) = match accept(&body, query.as_deref(), now) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let Some(storage) = state
        .storage()
        .filter(|_| state.is_ready() && !state.is_shutting_down())
    else {
        return ApiError::unavailable("INGEST_UNAVAILABLE", "ingest unavailable", 1)
            .into_response();
    };
    if let Some(retry) = storage.overloaded() {
        return ApiError::unavailable("OVERLOADED", "server overloaded", retry).into_response();
    }
    let mut accepted = accepted;
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
                Err(e) => tracing::warn!(error = %e, request_id, "alert intake match skipped"),
            },
            Err(e) => tracing::warn!(error = %e, request_id, "alert intake match skipped"),
        }
    }
    let batches = signals_to_batch(&signals).and_then(|s| Ok((s, alerts_to_batch(&accepted)?)));
    let (signal_batch, alert_batch) = match batches {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, request_id, "alert conversion failed");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
                "",
            )
            .into_response();
        }
    };
    let parts = vec![
        (TableId::Signals, signal_batch),
        (TableId::Alerts, alert_batch),
    ];
    match storage.append_many(parts).await {
        Ok(_) => created(&accepted, rejected).unwrap_or_else(|e| {
            tracing::error!(error = %e, request_id, "alert response");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
                "",
            )
            .into_response()
        }),
        Err(WriteError::Durability(e)) => {
            tracing::error!(error = %e, request_id, "alert durability failure");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
                "",
            )
            .into_response()
        }
        Err(WriteError::Stopped) => {
            ApiError::unavailable("INGEST_UNAVAILABLE", "ingest unavailable", 1).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfc3339::parse_rfc3339_ns;

    fn now() -> i64 {
        parse_rfc3339_ns("2026-05-12T14:30:00Z").unwrap()
    }

    #[test]
    fn accept_keeps_valid_alerts_and_reports_rejections_by_position() {
        let body = br#"{"receiver":"waylog","alerts":[
            {"status":"firing","labels":{"alertname":"A","service":"payment","env":"prod"},"annotations":{"summary":"s1"}},
            {"status":"firing","labels":{"alertname":"B","env":"prod"},"annotations":{"summary":"s2"}},
            {"status":"firing","startsAt":"2026-05-12T15:00:00Z","labels":{"alertname":"C","service":"payment","env":"prod"}}]}"#;
        let (accepted, rejected) = accept(body, None, now()).unwrap();
        assert_eq!(accepted.len(), 1);
        assert_eq!(accepted[0].signal.reason, "s1");
        assert_eq!(accepted[0].matched, AlertMatch::none());
        let got: Vec<(usize, &str, &str)> = rejected
            .iter()
            .map(|r| (r.position, r.code, r.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (1, "MISSING_FIELDS", "missing required fields"),
                (2, "MISSING_FIELDS", "invalid alert")
            ]
        );
        assert_eq!(
            rejected[1].detail,
            "timestamp: timestamp is too far in the future"
        );
        let batch = alerts_to_batch(&accepted).unwrap();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema(), ALERTS_SCHEMA.clone());
    }

    #[test]
    fn accept_with_nothing_valid_answers_the_first_rejection() {
        let body = br#"{"receiver":"waylog","alerts":[{"labels":{"alertname":"A"}}]}"#;
        let e = accept(body, None, now()).unwrap_err();
        assert_eq!((e.status.as_u16(), e.error.code), (400, "MISSING_FIELDS"));
        assert_eq!(e.error.detail, "service, env, and reason are required");
        let e = accept(br#"{"receiver":"x","alerts":[]}"#, None, now()).unwrap_err();
        assert_eq!(e.error.detail, "alerts[] is empty");
        let e = accept(b"[]", None, now()).unwrap_err();
        assert_eq!(e.error.code, "INVALID_JSON");
        let e = accept(br#"{"hello":1}"#, None, now()).unwrap_err();
        assert_eq!(e.error.code, "UNSUPPORTED_ALERT");
        let e = accept(br#"{"source":"x"}"#, Some("team=a"), now()).unwrap_err();
        assert_eq!(e.error.detail, "unknown query parameter: team");
    }
}
