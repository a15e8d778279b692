//! OTLP over HTTP (spec events §4.1-§4.2): `POST /v1/otlp/v1/traces` and `POST /v1/traces`,
//! an `ExportTraceServiceRequest` as protobuf (`application/x-protobuf`) or OTLP/JSON
//! (`application/json`), answered in the request's encoding.
//!
//! Check order: rate limit, credential, method, media type, `Content-Encoding`, declared
//! length, ready/backpressure (before the body is read, so a refused export costs nothing and
//! stores nothing), body size and decompression, decoding. Error bodies are the §2.7 `error`
//! object only: OTLP exporters read the status code and `Retry-After`, not an envelope.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use super::otlp::{self, ExportFailure};
use super::{BodyError, content_encoding, media_type, otlp_json, read_body};
use crate::server::error::ApiError;
use crate::server::{RequestId, SharedState, auth};

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

    fn decode(self, body: &[u8]) -> Result<ExportTraceServiceRequest, String> {
        match self {
            Payload::Protobuf => {
                ExportTraceServiceRequest::decode(body).map_err(|e| format!("protobuf: {e}"))
            }
            Payload::Json => otlp_json::decode_request(body).map_err(|e| e.to_string()),
        }
    }

    fn encode(self, response: &ExportTraceServiceResponse) -> Vec<u8> {
        match self {
            Payload::Protobuf => response.encode_to_vec(),
            Payload::Json => otlp_json::encode_response(response),
        }
    }
}

fn invalid_body(detail: impl Into<String>) -> Response {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_body",
        "invalid request body",
        detail,
    )
    .into_response()
}

fn failure_response(failure: ExportFailure, request_id: &str) -> Response {
    match failure {
        ExportFailure::Unavailable {
            code,
            message,
            retry_after_secs,
        } => ApiError::unavailable(code, message, retry_after_secs).into_response(),
        ExportFailure::Internal => ApiError::internal(request_id).into_response(),
    }
}

/// `POST /v1/otlp/v1/traces` and `POST /v1/traces`.
pub async fn otlp_traces_ingest(State(state): State<SharedState>, req: Request) -> Response {
    if let Err(e) = auth::gate(&state, &req, auth::Scope::Write) {
        return e.into_response();
    }
    let headers = req.headers();
    if req.method() != Method::POST {
        return ApiError::method_not_allowed("POST").into_response();
    }
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(media_type);
    let payload = match media.as_deref() {
        Some("application/x-protobuf") => Payload::Protobuf,
        Some("application/json") => Payload::Json,
        other => {
            return ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_content_type",
                "unsupported content type",
                match other {
                    Some(m) => format!("{m} is not application/x-protobuf or application/json"),
                    None => "missing or unparseable Content-Type".to_string(),
                },
            )
            .into_response();
        }
    };
    let encoding = match content_encoding(headers, false) {
        Ok(e) => e,
        Err(detail) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_content_encoding",
                "unsupported content encoding",
                detail,
            )
            .into_response();
        }
    };
    let max = state.config.max_body_bytes;
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        && len > max as u64
    {
        return ApiError::body_oversize(format!("{len} bytes; limit {max}")).into_response();
    }
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let storage = match otlp::admit(&state) {
        Ok(s) => s,
        Err(f) => return failure_response(f, &request_id),
    };
    let body = match read_body(req.into_body(), encoding, max).await {
        Ok(b) => b,
        Err(BodyError::Oversize(n)) => {
            return ApiError::body_oversize(format!("{n} bytes; limit {max}")).into_response();
        }
        Err(BodyError::Corrupt(detail)) => return invalid_body(detail),
    };
    let now = state.clock.now_ns();
    let rid = request_id.clone();
    // Decoding and conversion are CPU work: keep them off the async workers.
    let work = tokio::task::spawn_blocking(
        move || -> Result<Result<otlp::Prepared, ExportFailure>, String> {
            let export = payload.decode(&body)?;
            Ok(otlp::prepare(&export, now, &rid))
        },
    )
    .await;
    let prepared = match work {
        Ok(Ok(Ok(p))) => p,
        Ok(Ok(Err(f))) => return failure_response(f, &request_id),
        Ok(Err(detail)) => return invalid_body(detail),
        Err(e) => {
            tracing::error!(error = %e, request_id, "otlp worker failed");
            return ApiError::internal(&request_id).into_response();
        }
    };
    match otlp::commit(&state, &storage, prepared, &request_id).await {
        Ok((response, _)) => {
            let mut resp = (StatusCode::OK, payload.encode(&response)).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(payload.content_type()),
            );
            resp
        }
        Err(f) => failure_response(f, &request_id),
    }
}
