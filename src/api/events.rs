//! `POST /v1/events` and `POST /v1/events/validate` (spec events §2): the request checks 1-10
//! in order, then the domain pipeline ([`crate::ingest::events`]). The first failing request
//! check decides the response and nothing is stored. Framing errors (§2.7) answer the
//! envelope with one rejected entry, not the bare error object.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;

use super::body::{content_encoding, declared_oversize, media_type, read_body, refuse};
use super::error::{ApiError, ErrorClass, WriteRoute, json_response};
use super::{AppState, SharedState, auth};
use crate::ingest::events::{self, BatchOversize, BodyError, CommitError, Encoding, Envelope};
use crate::ingest::framing::Framing;

/// A framing error (§2.7): the error object plus the envelope with one rejected entry.
fn framing_error(
    class: ErrorClass,
    code: &'static str,
    message: &str,
    detail: impl Into<String>,
) -> ApiError {
    let e = ApiError::new(class, code, message, detail);
    let envelope = Envelope::framing_error(e.error.clone());
    e.with_body(&envelope)
}

fn invalid_body(detail: impl Into<String>) -> ApiError {
    framing_error(
        ErrorClass::BadRequest,
        "invalid_body",
        "invalid request body",
        detail,
    )
}

fn oversize(len: u64, max: usize) -> ApiError {
    framing_error(
        ErrorClass::PayloadTooLarge,
        "body_oversize",
        "request body too large",
        format!("{len} bytes; limit {max}"),
    )
}

/// Checks 1-7 (shared with validate).
fn request_checks(state: &AppState, req: &Request) -> Result<(Framing, Encoding), ApiError> {
    auth::gate(state, req, auth::Scope::Write)?;
    let headers = req.headers();
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed("POST"));
    }
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Err(invalid_body("missing Content-Type"));
    };
    let Some(media) = media_type(ct.to_str().unwrap_or("")) else {
        return Err(invalid_body("unparseable Content-Type"));
    };
    let framing = match media.as_str() {
        "application/json" => Framing::Json,
        "application/x-ndjson" => Framing::Ndjson,
        other => {
            return Err(framing_error(
                ErrorClass::UnsupportedMediaType,
                "unsupported_content_type",
                "unsupported content type",
                format!("{other} is not application/json or application/x-ndjson"),
            ));
        }
    };
    let encoding = content_encoding(headers, true).map_err(|detail| {
        framing_error(
            ErrorClass::BadRequest,
            "unsupported_content_encoding",
            "unsupported content encoding",
            detail,
        )
    })?;
    if let Some(len) = declared_oversize(headers, state.config.max_body_bytes) {
        return Err(oversize(len, state.config.max_body_bytes));
    }
    Ok((framing, encoding))
}

pub async fn events_ingest(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    handle(&state, req, false).await
}

pub async fn events_validate(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    handle(&state, req, true).await
}

async fn handle(state: &AppState, req: Request, validate_only: bool) -> Result<Response, ApiError> {
    // Checks 1-9: auth, method, framing, declared length, then (ready, backpressure) decided
    // once before any event is processed. A refusal drains what the client still sends.
    let checked = request_checks(state, &req).and_then(|(framing, encoding)| {
        let storage = if validate_only {
            None
        } else {
            Some(state.writable(WriteRoute::Events)?)
        };
        Ok((framing, encoding, storage))
    });
    let (framing, encoding, storage) = match checked {
        Ok(c) => c,
        Err(e) => return Err(refuse(req, e).await),
    };
    // Held until the events are committed (or refused): bounds the bytes in flight.
    let (req, _inflight) = state.admit_ingest_request(WriteRoute::Events, req).await?;
    let max = state.config.max_body_bytes;
    let body = read_body(req.into_body(), encoding, max)
        .await
        .map_err(|e| match e {
            BodyError::Oversize(n) => oversize(n, max),
            BodyError::Corrupt(detail) => invalid_body(detail),
        })?;
    let now = state.clock.now_ns();
    let max_items = state.config.max_batch_events;
    let body_bytes = body.len() as u64;
    let started = std::time::Instant::now();
    // Framing and validation are CPU work: keep them off the async workers.
    let prepared = tokio::task::spawn_blocking(move || {
        events::prepare(&body, framing, now, max_items, validate_only)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "ingest worker failed");
        ApiError::internal()
    })?
    .map_err(|BatchOversize(n)| {
        framing_error(
            ErrorClass::PayloadTooLarge,
            "batch_oversize",
            "batch too large",
            format!("{n} items; limit {max_items}"),
        )
    })?;
    if !validate_only {
        crate::metrics::ingest_body("events", body_bytes, started.elapsed().as_secs_f64());
    }
    let envelope = events::commit(storage.as_deref(), prepared)
        .await
        .map_err(|e| match e {
            CommitError::Write(e) => WriteRoute::Events.write_failed(&e),
            CommitError::Arrow(e) => {
                tracing::error!(error = %e, "arrow conversion failed");
                ApiError::internal()
            }
        })?;
    if !validate_only {
        crate::metrics::ingest_items(
            "events",
            envelope.accepted as u64,
            envelope.duplicate as u64,
            envelope.rejected.len() as u64,
        );
    }
    Ok(json_response(StatusCode::OK, &envelope))
}
