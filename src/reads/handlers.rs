//! The axum handlers of the read API: accept the request ([`ReadRequest::begin`]), parse the
//! endpoint's parameters, run its read model ([`ReadRequest::run`]).

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::incidents::{self, Target};
use super::params::percent_decode_path;
use super::{ReadRequest, blast, capabilities, errors, events, rollup, signals, traces};
use crate::incidents::snapshot::{SnapshotBody, snapshot_text};
use crate::server::SharedState;
use crate::server::error::{ApiError, json_response};

/// Accept the request or return the early response.
macro_rules! begin {
    ($state:expr, $req:expr, $allowed:expr) => {
        match ReadRequest::begin(&$state, &$req, $allowed) {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        }
    };
}

/// Unwrap accepted parameters or return the `400`.
macro_rules! accept {
    ($parsed:expr) => {
        match $parsed {
            Ok(q) => q,
            Err(e) => return ApiError::into_response(e),
        }
    };
}

/// The id segment after `prefix` (percent-decoded, non-empty, no `/`), else `404`.
fn path_id(req: &Request, prefix: &str) -> Result<String, ApiError> {
    req.uri()
        .path()
        .strip_prefix(prefix)
        .and_then(percent_decode_path)
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| ApiError::not_found("not found"))
}

pub async fn errors_list(State(state): State<SharedState>, req: Request) -> Response {
    let r = begin!(state, req, errors::PARAMS);
    let q = accept!(errors::ErrorsQuery::parse(
        &r.params,
        r.now_ns,
        &state.config
    ));
    r.run(&state, |ctx| async move { errors::read(&ctx, &q).await })
        .await
}

pub async fn rollups_root_cause(State(state): State<SharedState>, req: Request) -> Response {
    let r = begin!(state, req, rollup::PARAMS);
    let q = accept!(rollup::RollupQuery::parse(
        &r.params,
        r.now_ns,
        &state.config
    ));
    r.run(&state, |ctx| async move { rollup::read(&ctx, &q).await })
        .await
}

pub async fn blast_radius_get(State(state): State<SharedState>, req: Request) -> Response {
    let r = begin!(state, req, blast::PARAMS);
    let q = accept!(blast::BlastQuery::parse(&r.params, r.now_ns, &state.config));
    r.run(&state, |ctx| async move { blast::read(&ctx, &q).await })
        .await
}

pub async fn traces_story(State(state): State<SharedState>, req: Request) -> Response {
    let r = begin!(state, req, traces::STORY_PARAMS);
    let q = accept!(traces::StoryQuery::parse(&r.params));
    r.run(
        &state,
        |ctx| async move { traces::story_read(&ctx, &q).await },
    )
    .await
}

pub async fn traces_recent(State(state): State<SharedState>, req: Request) -> Response {
    let r = begin!(state, req, traces::RECENT_PARAMS);
    let q = accept!(traces::RecentQuery::parse(
        &r.params,
        r.now_ns,
        &state.config
    ));
    r.run(
        &state,
        |ctx| async move { traces::recent_read(&ctx, &q).await },
    )
    .await
}

pub async fn traces_get(State(state): State<SharedState>, req: Request) -> Response {
    let r = begin!(state, req, &[]);
    let id = match path_id(&req, "/v1/traces/") {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    r.run(
        &state,
        |ctx| async move { traces::trace_read(&ctx, &id).await },
    )
    .await
}

pub async fn events_search(State(state): State<SharedState>, req: Request) -> Response {
    let r = begin!(state, req, events::SEARCH_PARAMS);
    let q = accept!(events::SearchQuery::parse(
        &r.params,
        r.now_ns,
        &state.config
    ));
    r.run(
        &state,
        |ctx| async move { events::search_read(&ctx, &q).await },
    )
    .await
}

pub async fn events_get(State(state): State<SharedState>, req: Request) -> Response {
    let r = begin!(state, req, &[]);
    let id = match path_id(&req, "/v1/events/") {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    r.run(
        &state,
        |ctx| async move { events::event_read(&ctx, &id).await },
    )
    .await
}

/// Needs no storage, so it answers before recovery finished too.
pub async fn capabilities_get(State(state): State<SharedState>, req: Request) -> Response {
    let _r = begin!(state, req, &[]);
    json_response(
        axum::http::StatusCode::OK,
        &capabilities::capabilities(&state.config),
    )
}

/// `GET /v1/signals` (spec triage §1.5).
pub async fn signals_list(state: SharedState, req: Request) -> Response {
    let r = begin!(state, req, signals::PARAMS);
    let q = accept!(signals::SignalsQuery::parse(
        &r.params,
        r.now_ns,
        &state.config
    ));
    r.run(&state, |ctx| async move { signals::read(&ctx, &q).await })
        .await
}

/// `GET /v1/incidents/active[?env=]` (spec triage §5).
pub async fn incidents_list(State(state): State<SharedState>, req: Request) -> Response {
    let resp = incidents_list_answer(&state, req).await;
    crate::server::with_cors(&state, incidents::METHODS, resp)
}

async fn incidents_list_answer(state: &SharedState, req: Request) -> Response {
    if req.method() == Method::OPTIONS {
        return StatusCode::NO_CONTENT.into_response();
    }
    let r = match ReadRequest::begin_allowing(
        state,
        &req,
        incidents::ACTIVE_PARAMS,
        incidents::METHODS,
    ) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let env = incidents::active_env(&r.params);
    let read = |ctx| async move { incidents::active_read(&ctx, env.as_deref()).await };
    match r.execute(state, read).await {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => e
            .into_storage_failure(&r.request_id, incidents::FAILURE_DETAIL)
            .into_response(),
    }
}

/// `GET /v1/incidents/{id}` and `GET /v1/incidents/{id}/snapshot` (spec triage §5).
pub async fn incidents_get(State(state): State<SharedState>, req: Request) -> Response {
    let resp = incidents_get_answer(&state, req).await;
    crate::server::with_cors(&state, incidents::METHODS, resp)
}

async fn incidents_get_answer(state: &SharedState, req: Request) -> Response {
    if req.method() == Method::OPTIONS {
        return StatusCode::NO_CONTENT.into_response();
    }
    let r = match ReadRequest::begin_allowing(state, &req, &[], incidents::METHODS) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let target = req
        .uri()
        .path()
        .strip_prefix("/v1/incidents/")
        .and_then(Target::parse);
    let (id, snapshot) = match target {
        Some(Target::Incident(id)) => (id, false),
        Some(Target::Snapshot(id)) => (id, true),
        None => return ApiError::not_found(incidents::NOT_FOUND).into_response(),
    };
    let read = |ctx| async move { incidents::incident_read(&ctx, &id).await };
    let incident = match r.execute(state, read).await {
        Ok(i) => i,
        Err(e) => {
            return e
                .into_storage_failure(&r.request_id, incidents::FAILURE_DETAIL)
                .into_response();
        }
    };
    if !snapshot {
        json_response(StatusCode::OK, &incidents::IncidentBody { incident })
    } else if incidents::wants_json(req.headers()) {
        json_response(StatusCode::OK, &SnapshotBody::new(&incident))
    } else {
        incidents::text_response(snapshot_text(&incident))
    }
}
