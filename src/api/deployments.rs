//! `/v1/deployments` (spec events §5): `OPTIONS` (no auth), `POST` (upsert), `GET` (listing
//! with error-rate comparison); other methods `405`. Every answer carries the CORS headers.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::body::{content_encoding, read_body};
use super::error::{ApiError, ErrorClass, WriteRoute, json_response};
use super::{AppState, SharedState, auth, with_cors};
use crate::ingest::deployments::{
    DeploymentError, Listing, invalid_json, list_deployments, listing_window, parse_deployment,
};
use crate::ingest::events::BodyError;
use crate::reads::params::Params;

const METHODS: &str = "GET, POST, OPTIONS";

pub async fn deployments_route(State(state): State<SharedState>, req: Request) -> Response {
    let resp = match *req.method() {
        Method::OPTIONS => StatusCode::NO_CONTENT.into_response(),
        Method::POST => deployments_post(&state, req).await.into_response(),
        Method::GET => deployments_get(&state, req).await.into_response(),
        _ => ApiError::method_not_allowed(METHODS).into_response(),
    };
    with_cors(&state, METHODS, resp)
}

async fn deployments_post(state: &AppState, req: Request) -> Result<Response, ApiError> {
    auth::gate(state, &req, auth::Scope::Write)?;
    let encoding = content_encoding(req.headers(), true).map_err(invalid_json)?;
    let max = state.config.max_body_bytes;
    let body = read_body(req.into_body(), encoding, max)
        .await
        .map_err(|e| match e {
            BodyError::Oversize(_) => {
                ApiError::body_oversize(format!("request body exceeds {max} bytes"))
            }
            BodyError::Corrupt(detail) => invalid_json(detail).into(),
        })?;
    let input = parse_deployment(&body)?;
    let storage = state.writable(WriteRoute::Context)?;
    let engine = state
        .engine()
        .ok_or_else(|| WriteRoute::Context.not_ready())?;
    let now = state.clock.now_ns();
    let d = state
        .deployments
        .upsert(&storage, engine, input, now)
        .await
        .map_err(|e| match e {
            DeploymentError::Rejected(r) => r.into(),
            DeploymentError::Write(e) => WriteRoute::Context.write_failed(&e),
        })?;
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({ "id": d.id }),
    ))
}

async fn deployments_get(state: &AppState, req: Request) -> Result<Response, ApiError> {
    auth::gate(state, &req, auth::Scope::Read)?;
    // Other parameters are ignored (§5.2), so no strict name check here.
    let params = Params::parse_lenient(req.uri().query());
    let window = listing_window(params.get("window"), state.config.retention);
    let service = params.get("service").unwrap_or("").to_string();
    let engine = state
        .engine()
        .ok_or_else(|| ApiError::storage_unavailable(1))?;
    let now = state.clock.now_ns();
    let lo = now.saturating_sub(i64::try_from(window.as_nanos()).unwrap_or(i64::MAX));
    let deployments = list_deployments(engine, state.config.query_memory_bytes, lo, now, &service)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "listing deployments");
            ApiError::new(ErrorClass::Internal, "QUERY_FAILED", "query failed", "")
        })?;
    Ok(json_response(StatusCode::OK, &Listing { deployments }))
}
