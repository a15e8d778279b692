//! OTLP over HTTP (spec events §4.1-§4.2): `POST /v1/otlp/v1/traces` and `POST /v1/traces`,
//! an `ExportTraceServiceRequest` as protobuf (`application/x-protobuf`) or OTLP/JSON
//! (`application/json`), answered in the request's encoding.
//!
//! Check order: rate limit, credential, method, media type, `Content-Encoding`, declared
//! length, ready/backpressure (before the body is read, so a refused export costs nothing and
//! stores nothing), body size and decompression, decoding. Error bodies are the §2.7 `error`
//! object only: OTLP exporters read the status code and `Retry-After`, not an envelope.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use super::body::{content_encoding, declared_oversize, media_type, read_body, refuse};
use super::error::{ApiError, ErrorClass, WriteRoute};
use super::{AppState, SharedState, auth};
use crate::ingest::events::{BodyError, Encoding};
use crate::ingest::{otlp, otlp_json, otlp_limits};
use crate::storage::Storage;

/// The two payload encodings of OTLP/HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    Protobuf,
    Json,
}

impl Payload {
    fn content_type(self) -> &'static str {
        match self {
            Payload::Protobuf => "application/x-protobuf",
            Payload::Json => "application/json",
        }
    }

    /// Decode `body`, refusing more than `max_spans` spans before building them.
    fn decode(self, body: &[u8], max_spans: usize) -> Result<ExportTraceServiceRequest, ApiError> {
        match self {
            Payload::Protobuf => {
                otlp_limits::protobuf_spans(body, max_spans).map_err(too_many_spans)?;
                ExportTraceServiceRequest::decode(body)
                    .map_err(|e| invalid_body(format!("protobuf: {e}")))
            }
            Payload::Json => {
                otlp_json::decode_request_within(body, max_spans).map_err(|e| match e {
                    otlp_json::DecodeError::Spans(t) => too_many_spans(t),
                    other => invalid_body(other.to_string()),
                })
            }
        }
    }

    fn encode(self, response: &ExportTraceServiceResponse) -> Vec<u8> {
        match self {
            Payload::Protobuf => response.encode_to_vec(),
            Payload::Json => otlp_json::encode_response(response),
        }
    }
}

/// `413 batch_oversize` of an export over `WAYLOG_OTLP_MAX_SPANS` (gRPC: `RESOURCE_EXHAUSTED`).
pub(crate) fn too_many_spans(t: otlp_limits::TooManySpans) -> ApiError {
    ApiError::new(
        ErrorClass::PayloadTooLarge,
        "batch_oversize",
        "batch too large",
        format!("more than {} spans (WAYLOG_OTLP_MAX_SPANS)", t.limit),
    )
}

fn invalid_body(detail: impl Into<String>) -> ApiError {
    ApiError::new(
        ErrorClass::BadRequest,
        "invalid_body",
        "invalid request body",
        detail,
    )
}

/// Convert (on a blocking thread, with the payload's decoding when `decode` is given),
/// commit, and run the deployment hook (§4.4 step 3): the export pipeline shared by OTLP/HTTP
/// and OTLP/gRPC. `Err` is already the transport-neutral answer.
pub(crate) async fn export<F>(
    state: &AppState,
    storage: &Storage,
    transport: Transport,
    decode: F,
) -> Result<ExportTraceServiceResponse, ApiError>
where
    F: FnOnce() -> Result<ExportTraceServiceRequest, ApiError> + Send + 'static,
{
    let now = state.clock.now_ns();
    let started = std::time::Instant::now();
    // Decoding and conversion are CPU work: keep them off the async workers.
    let prepared = tokio::task::spawn_blocking(move || {
        let export = decode()?;
        otlp::prepare(&export, now).map_err(|e| {
            tracing::error!(error = %e, "arrow conversion failed");
            ApiError::internal()
        })
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "otlp worker failed");
        ApiError::internal()
    })??;
    crate::metrics::ingest_body(
        transport.route(),
        transport.body_bytes(),
        started.elapsed().as_secs_f64(),
    );
    let (spans, mut dropped) = (prepared.spans() as u64, prepared.dropped());
    let committed = otlp::commit(storage, prepared)
        .await
        .map_err(|e| WriteRoute::Events.write_failed(&e))?;
    let (stored, duplicate) = (committed.events.len(), committed.duplicate);
    dropped.push(("duplicate", duplicate as u64));
    let rejected = dropped.iter().map(|(_, n)| n).sum::<u64>() - duplicate as u64;
    let accepted = stored.saturating_sub(duplicate) as u64;
    crate::metrics::ingest_items(transport.route(), accepted, duplicate as u64, rejected);
    crate::metrics::otlp_export(transport.label(), spans, accepted, &dropped);
    state.observe_deployments(&committed.events);
    Ok(committed.response)
}

/// The transport of one OTLP export, with its request size (for the metrics' labels).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Transport {
    Http(u64),
    Grpc(u64),
}

impl Transport {
    /// The `transport` label.
    fn label(self) -> &'static str {
        match self {
            Transport::Http(_) => "http",
            Transport::Grpc(_) => "grpc",
        }
    }

    /// The ingest `route` label.
    fn route(self) -> &'static str {
        match self {
            Transport::Http(_) => "otlp_http",
            Transport::Grpc(_) => "otlp_grpc",
        }
    }

    fn body_bytes(self) -> u64 {
        match self {
            Transport::Http(n) | Transport::Grpc(n) => n,
        }
    }
}

/// `POST /v1/otlp/v1/traces` and `POST /v1/traces`.
pub async fn otlp_traces_ingest(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    // A refusal before the body is read drains what the client still sends.
    let (payload, encoding, storage) = match otlp_request_checks(&state, &req) {
        Ok(c) => c,
        Err(e) => return Err(refuse(req, e).await),
    };
    let max = state.config.max_body_bytes;
    let (req, _inflight) = state.admit_ingest_request(WriteRoute::Events, req).await?;
    let body = read_body(req.into_body(), encoding, max)
        .await
        .map_err(|e| match e {
            BodyError::Oversize(n) => ApiError::body_oversize(format!("{n} bytes; limit {max}")),
            BodyError::Corrupt(detail) => invalid_body(detail),
        })?;
    let max_spans = state.config.otlp_max_spans;
    let transport = Transport::Http(body.len() as u64);
    let response = export(&state, &storage, transport, move || {
        payload.decode(&body, max_spans)
    })
    .await?;
    let mut resp = (StatusCode::OK, payload.encode(&response)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(payload.content_type()),
    );
    Ok(resp)
}

/// Auth, method, media type, encoding, declared length, then ready and backpressure.
fn otlp_request_checks(
    state: &AppState,
    req: &Request,
) -> Result<(Payload, Encoding, Arc<Storage>), ApiError> {
    auth::gate(state, req, auth::Scope::Write)?;
    let headers = req.headers();
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed("POST"));
    }
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(media_type);
    let payload = match media.as_deref() {
        Some("application/x-protobuf") => Payload::Protobuf,
        Some("application/json") => Payload::Json,
        other => {
            return Err(ApiError::new(
                ErrorClass::UnsupportedMediaType,
                "unsupported_content_type",
                "unsupported content type",
                match other {
                    Some(m) => format!("{m} is not application/x-protobuf or application/json"),
                    None => "missing or unparseable Content-Type".to_string(),
                },
            ));
        }
    };
    let encoding = content_encoding(headers, false).map_err(|detail| {
        ApiError::new(
            ErrorClass::BadRequest,
            "unsupported_content_encoding",
            "unsupported content encoding",
            detail,
        )
    })?;
    let max = state.config.max_body_bytes;
    if let Some(len) = declared_oversize(headers, max) {
        return Err(ApiError::body_oversize(format!("{len} bytes; limit {max}")));
    }
    let storage: Arc<Storage> = state.writable(WriteRoute::Events)?;
    Ok((payload, encoding, storage))
}
