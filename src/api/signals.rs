//! `/v1/signals` (spec triage §1): `POST` validates and stores one signal, `GET` lists them
//! (a read route, [`super::reads::signals_list`]); other methods `405 unsupported_method`.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorClass, WriteRoute};
use super::{AppState, SharedState, auth};
use crate::ingest::signals::{MAX_SIGNAL_BODY, signal_json, signals_to_batch, validate_signal};
use crate::storage::schema::TableId;

pub async fn signals_route(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    if req.method() == Method::GET {
        return super::reads::signals_list(&state, req).await;
    }
    let result = signals_ingest(&state, req).await;
    match &result {
        Ok(_) => crate::metrics::signal_accepted(),
        Err(e) => {
            if let Some(reason) = signal_reject_reason(e) {
                crate::metrics::signal_rejected(reason);
            }
        }
    }
    result
}

/// The `waylog_signals_rejected_total` reason of a refusal: its code when the spec lists it
/// (§9), the 503 refusals as `overloaded`, other server failures as `internal_error`, else the
/// code itself (auth and rate-limit refusals).
fn signal_reject_reason(e: &ApiError) -> Option<&'static str> {
    let code = e.error.code;
    if crate::metrics::SIGNAL_REJECT_REASONS.contains(&code) {
        return Some(code);
    }
    match e.class {
        ErrorClass::Unavailable => Some("overloaded"),
        ErrorClass::Internal => Some("internal_error"),
        // Refused credentials and rate limits are not rejected signals (the §9 label set
        // is closed); `waylog_http_requests_total{route,status}` counts them.
        _ => None,
    }
}

/// `POST /v1/signals`.
async fn signals_ingest(state: &AppState, req: Request) -> Result<Response, ApiError> {
    if req.method() != Method::POST {
        return Err(ApiError::new(
            ErrorClass::MethodNotAllowed,
            "unsupported_method",
            "method not allowed",
            "",
        )
        .with_header(header::ALLOW, "GET, POST"));
    }
    auth::gate(state, &req, auth::Scope::Write)?;
    let body = axum::body::to_bytes(req.into_body(), MAX_SIGNAL_BODY)
        .await
        .map_err(|e| {
            if crate::storage::error_chain(&e).contains("length limit") {
                ApiError::new(
                    ErrorClass::PayloadTooLarge,
                    "body_oversize",
                    "body too large",
                    "request body exceeds 1 MB",
                )
            } else {
                ApiError::new(
                    ErrorClass::BadRequest,
                    "invalid_body",
                    "invalid body",
                    e.to_string(),
                )
            }
        })?;
    let signal = validate_signal(&body, state.clock.now_ns())?;
    let storage = state.writable(WriteRoute::Context)?;
    let batch = signals_to_batch(std::slice::from_ref(&signal)).map_err(|e| {
        tracing::error!(error = %e, "signal conversion failed");
        ApiError::internal()
    })?;
    storage
        .append(TableId::Signals, batch)
        .await
        .map_err(|e| WriteRoute::Context.write_failed(&e))?;
    let body = format!("{{\"signal\":{}}}", signal_json(&signal));
    let mut resp = (StatusCode::CREATED, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
