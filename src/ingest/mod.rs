//! `POST /v1/events` and `POST /v1/events/validate` (spec events §2): the 13 request checks in
//! order, framing, the per-item pipeline, dedup + WAL through the writer, the response
//! envelope. The first failing request check decides the response and nothing is stored.

pub mod alerts;
pub mod alerts_http;
pub mod deployments;
pub mod framing;
pub mod otlp;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod otlp_json;
pub mod signals;

use std::io::Read;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::model::{Event, ItemReject, validate_item_owned};
use crate::server::error::{ApiError, ErrorObject, json_response};
use crate::server::{RequestId, SharedState, auth};
use crate::storage::WriteError;
use crate::storage::schema::{TableId, events_to_batch};
use framing::{Framing, split_items};

#[derive(Debug, Serialize)]
pub struct RejectedItem {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct Envelope {
    pub accepted: usize,
    pub duplicate: usize,
    pub rejected: Vec<RejectedItem>,
    pub deprecations: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

/// A framing error (§2.7): the error object plus the envelope with one rejected entry.
fn framing_error(
    status: StatusCode,
    code: &'static str,
    message: &str,
    detail: String,
) -> Response {
    let env = Envelope {
        accepted: 0,
        duplicate: 0,
        rejected: vec![RejectedItem {
            index: 0,
            event_id: None,
            reason: code,
            detail: detail.clone(),
        }],
        deprecations: Default::default(),
        error: Some(ErrorObject {
            code,
            message: message.to_string(),
            detail,
        }),
    };
    json_response(status, &env)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

enum Checked {
    Ok {
        framing: Framing,
        encoding: Encoding,
    },
    Fail(Response),
}

/// Checks 1-7 (shared with validate and, in part, OTLP).
fn request_checks(state: &SharedState, req: &Request) -> Checked {
    if let Err(e) = auth::gate(state, req, auth::Scope::Write) {
        return Checked::Fail(e.into_response());
    }
    let headers = req.headers();
    if req.method() != Method::POST {
        return Checked::Fail(ApiError::method_not_allowed("POST").into_response());
    }
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Checked::Fail(framing_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "invalid request body",
            "missing Content-Type".into(),
        ));
    };
    let Some(media) = media_type(ct.to_str().unwrap_or("")) else {
        return Checked::Fail(framing_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "invalid request body",
            "unparseable Content-Type".into(),
        ));
    };
    let framing = match media.as_str() {
        "application/json" => Framing::Json,
        "application/x-ndjson" => Framing::Ndjson,
        other => {
            return Checked::Fail(framing_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_content_type",
                "unsupported content type",
                format!("{other} is not application/json or application/x-ndjson"),
            ));
        }
    };
    let encoding = match content_encoding(headers, true) {
        Ok(e) => e,
        Err(detail) => {
            return Checked::Fail(framing_error(
                StatusCode::BAD_REQUEST,
                "unsupported_content_encoding",
                "unsupported content encoding",
                detail,
            ));
        }
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        && len > state.config.max_body_bytes as u64
    {
        return Checked::Fail(oversize(len, state.config.max_body_bytes));
    }
    Checked::Ok { framing, encoding }
}

fn oversize(len: u64, max: usize) -> Response {
    framing_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_oversize",
        "request body too large",
        format!("{len} bytes; limit {max}"),
    )
}

/// `type/subtype` lower-cased, parameters dropped; `None` when unparseable.
pub fn media_type(v: &str) -> Option<String> {
    let main = v.split(';').next()?.trim();
    let (t, s) = main.split_once('/')?;
    let token = |x: &str| {
        !x.is_empty()
            && x.bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
    };
    if !token(t) || !token(s) {
        return None;
    }
    Some(main.to_ascii_lowercase())
}

pub(crate) fn content_encoding(headers: &HeaderMap, allow_zstd: bool) -> Result<Encoding, String> {
    let values: Vec<_> = headers.get_all(header::CONTENT_ENCODING).iter().collect();
    if values.is_empty() {
        return Ok(Encoding::Identity);
    }
    if values.len() > 1 {
        return Err("more than one Content-Encoding".into());
    }
    let v = values[0].to_str().unwrap_or("").trim().to_ascii_lowercase();
    match v.as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" => Ok(Encoding::Gzip),
        "zstd" if allow_zstd => Ok(Encoding::Zstd),
        other => Err(format!("unsupported Content-Encoding {other:?}")),
    }
}

pub(crate) enum BodyError {
    Oversize(u64),
    Corrupt(String),
}

/// Checks 10-12: raw size, decompression, decompressed size.
pub(crate) async fn read_body(
    body: Body,
    encoding: Encoding,
    max: usize,
) -> Result<bytes::Bytes, BodyError> {
    let raw = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| BodyError::Oversize(max as u64 + 1))?;
    let limit = max as u64 + 1;
    let decoded = match encoding {
        Encoding::Identity => return Ok(raw),
        Encoding::Gzip => {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&raw[..])
                .take(limit)
                .read_to_end(&mut out)
                .map_err(|e| BodyError::Corrupt(format!("gzip: {e}")))?;
            out
        }
        Encoding::Zstd => {
            let mut out = Vec::new();
            zstd::stream::read::Decoder::new(&raw[..])
                .map_err(|e| BodyError::Corrupt(format!("zstd: {e}")))?
                .take(limit)
                .read_to_end(&mut out)
                .map_err(|e| BodyError::Corrupt(format!("zstd: {e}")))?;
            out
        }
    };
    if decoded.len() > max {
        return Err(BodyError::Oversize(decoded.len() as u64));
    }
    Ok(bytes::Bytes::from(decoded))
}

pub async fn events_ingest(State(state): State<SharedState>, req: Request) -> Response {
    handle(state, req, false).await
}

pub async fn events_validate(State(state): State<SharedState>, req: Request) -> Response {
    handle(state, req, true).await
}

async fn handle(state: SharedState, req: Request, validate_only: bool) -> Response {
    let (framing, encoding) = match request_checks(&state, &req) {
        Checked::Ok { framing, encoding } => (framing, encoding),
        Checked::Fail(r) => return r,
    };
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let storage = if validate_only {
        None
    } else {
        // Check 8: ready and not shutting down.
        let storage = match state.storage() {
            Some(s) if state.is_ready() && !state.is_shutting_down() => s.clone(),
            _ => {
                return ApiError::unavailable("ingest_unavailable", "ingest unavailable", 1)
                    .into_response();
            }
        };
        // Check 9: backpressure, decided once before any event is processed.
        if let Some(retry) = storage.overloaded() {
            return ApiError::unavailable("overloaded", "ingest saturated", retry).into_response();
        }
        Some(storage)
    };
    let max = state.config.max_body_bytes;
    let body = match read_body(req.into_body(), encoding, max).await {
        Ok(b) => b,
        Err(BodyError::Oversize(n)) => return oversize(n, max),
        Err(BodyError::Corrupt(detail)) => {
            return framing_error(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "invalid request body",
                detail,
            );
        }
    };
    let now = state.clock.now_ns();
    let max_items = state.config.max_batch_events;
    // Framing and validation are CPU work: keep them off the async workers.
    let work = tokio::task::spawn_blocking(move || {
        // NDJSON: count items before parsing any, so an oversized batch costs no parsing.
        if framing == Framing::Ndjson {
            let lines = body
                .strip_prefix(b"\xEF\xBB\xBF")
                .unwrap_or(&body)
                .split(|b| *b == b'\n')
                .filter(|l| !l.trim_ascii().is_empty())
                .count();
            if lines > max_items {
                return Err(lines);
            }
        }
        let items = split_items(&body, framing);
        if items.len() > max_items {
            return Err(items.len());
        }
        let mut events: Vec<Event> = Vec::with_capacity(items.len());
        let mut rejected = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let result = item.and_then(|v| validate_item_owned(v, now));
            match result {
                Ok(e) => events.push(e),
                Err(ItemReject {
                    reason,
                    detail,
                    event_id,
                }) => rejected.push(RejectedItem {
                    index,
                    event_id,
                    reason: reason.as_str(),
                    detail,
                }),
            }
        }
        let batch = if validate_only || events.is_empty() {
            None
        } else {
            Some(events_to_batch(&events))
        };
        Ok((events.len(), rejected, batch))
    })
    .await;
    let (valid, rejected, batch) = match work {
        Ok(Ok(v)) => v,
        Ok(Err(n)) => {
            return framing_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_oversize",
                "batch too large",
                format!("{n} items; limit {max_items}"),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, request_id, "ingest worker failed");
            return ApiError::internal(&request_id).into_response();
        }
    };
    let (accepted, duplicate) = match (storage, batch) {
        (Some(storage), Some(Ok(batch))) => match storage.append(TableId::Events, batch).await {
            Ok(o) => (o.accepted, o.duplicate),
            Err(WriteError::Durability(e)) => {
                tracing::error!(error = %e, request_id, "durability failure");
                return ApiError::unavailable(
                    "durability_unavailable",
                    "write-ahead log unavailable",
                    5,
                )
                .into_response();
            }
            Err(WriteError::Stopped) => {
                return ApiError::unavailable("ingest_unavailable", "ingest unavailable", 1)
                    .into_response();
            }
        },
        (_, Some(Err(e))) => {
            tracing::error!(error = %e, request_id, "arrow conversion failed");
            return ApiError::internal(&request_id).into_response();
        }
        _ => (valid, 0),
    };
    json_response(
        StatusCode::OK,
        &Envelope {
            accepted,
            duplicate,
            rejected,
            deprecations: Default::default(),
            error: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_parses_and_lowercases() {
        assert_eq!(
            media_type("Application/JSON; charset=utf-8").as_deref(),
            Some("application/json")
        );
        assert_eq!(
            media_type("application/x-ndjson").as_deref(),
            Some("application/x-ndjson")
        );
        assert_eq!(media_type("json"), None);
        assert_eq!(media_type(""), None);
        assert_eq!(media_type("a/b c"), None);
    }
}
