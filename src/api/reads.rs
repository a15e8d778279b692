//! The read routes (spec reads §1-§4, §7.3, triage §1.5 and §5): accept the request
//! ([`ReadRequest::begin`]: rate limit, read scope, method, strict parameter names), parse the
//! endpoint's parameters with its read model (`crate::reads::<model>::…Query::parse`), run the
//! read over one snapshot under the memory cap and one deadline, answer its JSON.
//!
//! Invariants:
//! - One request = one `SessionContext` = one storage snapshot, taken when the request's
//!   SQL starts; every statement of the request sees the same data.
//! - The request's SQL runs under `WAYLOG_QUERY_MEMORY` (the context's pool) and one deadline
//!   of `WAYLOG_QUERY_TIMEOUT` for the whole read: `422` / `504`, never partial results.
//! - `now` is read once per request ([`ReadRequest::now_ns`]).
//! - Check order: rate limit, read scope, method, parameter names, parameter values, storage
//!   readiness, a read slot (`WAYLOG_READ_CONCURRENCY`; none free: `503 overloaded`).
//! - Every incident answer, errors and the `OPTIONS` preflight included, carries the CORS
//!   headers; the preflight needs no credential.

use std::future::Future;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use datafusion::prelude::SessionContext;
use serde::Serialize;

use super::error::{ApiError, json_response, storage_failure};
use super::{AppState, SharedState, auth, with_cors};
use crate::incidents::read as incidents;
use crate::incidents::snapshot::{SnapshotBody, snapshot_text};
use crate::model::rejection::Rejection;
use crate::percent::decode_path as percent_decode_path;
use crate::reads::params::Params;
use crate::reads::{ReadError, blast, capabilities, errors, events, rollup, signals, traces};

/// `Allow` of the incident routes' 405 and their `Access-Control-Allow-Methods`.
const INCIDENT_METHODS: &str = "GET, OPTIONS";

/// The read routes, merged into the server's router. The static paths (`story`, `recent`,
/// `search`) win over the id routes (spec reads §1.2.5).
pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/v1/errors", any(errors_list))
        .route("/v1/rollups/root_cause", any(rollups_root_cause))
        .route("/v1/blast_radius", any(blast_radius_get))
        .route("/v1/traces/story", any(traces_story))
        .route("/v1/traces/recent", any(traces_recent))
        .route("/v1/traces/{trace_id}", any(traces_get))
        .route("/v1/events/search", any(events_search))
        .route("/v1/events/{event_id}", any(events_get))
        .route("/v1/capabilities", any(capabilities_get))
        .route("/v1/incidents/active", any(incidents_list))
        // The catch-all takes `{id}` and `{id}/snapshot`; the bare prefix is the empty id.
        .route("/v1/incidents/", any(incidents_get))
        .route("/v1/incidents/{*rest}", any(incidents_get))
}

/// An accepted read request: authorized, `GET`, parameter names checked.
#[derive(Debug)]
pub struct ReadRequest {
    pub params: Params,
    /// Server time, read once for the whole request.
    pub now_ns: i64,
}

impl ReadRequest {
    /// Rate limit, read scope, method and strict parameter names (spec reads §1.1, §1.2).
    pub fn begin(state: &AppState, req: &Request, allowed: &[&str]) -> Result<Self, ApiError> {
        Self::begin_allowing(state, req, allowed, "GET")
    }

    /// [`ReadRequest::begin`] for a route that also answers other methods itself (`OPTIONS`):
    /// `allow` is the `Allow` header of its `405`.
    pub fn begin_allowing(
        state: &AppState,
        req: &Request,
        allowed: &[&str],
        allow: &str,
    ) -> Result<Self, ApiError> {
        auth::gate(state, req, auth::Scope::Read)?;
        if req.method() != Method::GET {
            return Err(ApiError::method_not_allowed(allow));
        }
        Ok(ReadRequest {
            params: Params::parse(req.uri().query(), allowed)?,
            now_ns: state.clock.now_ns(),
        })
    }

    /// Run `read` over a fresh snapshot under the memory cap and deadline; `200` with its
    /// JSON.
    pub async fn run<T, F, Fut>(self, state: &AppState, read: F) -> Result<Response, ApiError>
    where
        T: Serialize,
        F: FnOnce(SessionContext) -> Fut,
        Fut: Future<Output = Result<T, ReadError>>,
    {
        let body = self.execute(state, read).await?;
        Ok(json_response(StatusCode::OK, &body))
    }

    /// Run `read` over a fresh snapshot under the memory cap and deadline, for handlers that
    /// shape their own answer. Storage not recovered yet is the `503` of every read.
    pub async fn execute<T, F, Fut>(&self, state: &AppState, read: F) -> Result<T, ReadError>
    where
        F: FnOnce(SessionContext) -> Fut,
        Fut: Future<Output = Result<T, ReadError>>,
    {
        let Some(engine) = state.engine() else {
            return Err(Rejection::unavailable("unavailable", "storage unavailable", 1).into());
        };
        // Each read may hold a whole query memory pool: bounded like `/v1/query`.
        let Ok(_slot) = state.read_slots.try_acquire() else {
            crate::metrics::query_rejected("concurrency");
            return Err(
                Rejection::unavailable("overloaded", "too many concurrent reads", 1).into(),
            );
        };
        let work = async {
            let ctx = engine.context(state.config.query_memory_bytes).await?;
            read(ctx).await
        };
        match tokio::time::timeout(state.config.query_timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(ReadError::Timeout),
        }
    }
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

pub async fn errors_list(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    let r = ReadRequest::begin(&state, &req, errors::PARAMS)?;
    let q = errors::ErrorsQuery::parse(&r.params, r.now_ns, &state.config)?;
    r.run(&state, |ctx| async move { errors::read(&ctx, &q).await })
        .await
}

pub async fn rollups_root_cause(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    let r = ReadRequest::begin(&state, &req, rollup::PARAMS)?;
    let q = rollup::RollupQuery::parse(&r.params, r.now_ns, &state.config)?;
    r.run(&state, |ctx| async move { rollup::read(&ctx, &q).await })
        .await
}

pub async fn blast_radius_get(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    let r = ReadRequest::begin(&state, &req, blast::PARAMS)?;
    let q = blast::BlastQuery::parse(&r.params, r.now_ns, &state.config)?;
    r.run(&state, |ctx| async move { blast::read(&ctx, &q).await })
        .await
}

pub async fn traces_story(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    let r = ReadRequest::begin(&state, &req, traces::STORY_PARAMS)?;
    let q = traces::StoryQuery::parse(&r.params)?;
    r.run(
        &state,
        |ctx| async move { traces::story_read(&ctx, &q).await },
    )
    .await
}

pub async fn traces_recent(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    let r = ReadRequest::begin(&state, &req, traces::RECENT_PARAMS)?;
    let q = traces::RecentQuery::parse(&r.params, r.now_ns, &state.config)?;
    r.run(
        &state,
        |ctx| async move { traces::recent_read(&ctx, &q).await },
    )
    .await
}

pub async fn traces_get(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    let r = ReadRequest::begin(&state, &req, &[])?;
    let id = path_id(&req, "/v1/traces/")?;
    r.run(
        &state,
        |ctx| async move { traces::trace_read(&ctx, &id).await },
    )
    .await
}

pub async fn events_search(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    let r = ReadRequest::begin(&state, &req, events::SEARCH_PARAMS)?;
    let q = events::SearchQuery::parse(&r.params, r.now_ns, &state.config)?;
    r.run(
        &state,
        |ctx| async move { events::search_read(&ctx, &q).await },
    )
    .await
}

pub async fn events_get(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    let r = ReadRequest::begin(&state, &req, &[])?;
    let id = path_id(&req, "/v1/events/")?;
    r.run(
        &state,
        |ctx| async move { events::event_read(&ctx, &id).await },
    )
    .await
}

/// Needs no storage, so it answers before recovery finished too.
pub async fn capabilities_get(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    ReadRequest::begin(&state, &req, &[])?;
    let mut caps = capabilities::capabilities(&state.config);
    caps.jobs = super::health::jobs(&state)
        .into_iter()
        .map(|j| capabilities::Job {
            job: j.job.to_string(),
            state: j.state.as_str().to_string(),
            detail: j.detail,
        })
        .collect();
    caps.dedup = state
        .storage()
        .map(|s| capabilities::dedup_caps(&state.config, &s.dedup_status(), s.clock().now_ns()));
    Ok(json_response(StatusCode::OK, &caps))
}

/// `GET /v1/signals` (spec triage §1.5).
pub async fn signals_list(state: &AppState, req: Request) -> Result<Response, ApiError> {
    let r = ReadRequest::begin(state, &req, signals::PARAMS)?;
    let q = signals::SignalsQuery::parse(&r.params, r.now_ns, &state.config)?;
    r.run(state, |ctx| async move { signals::read(&ctx, &q).await })
        .await
}

/// `GET /v1/incidents/active[?env=]` (spec triage §5).
pub async fn incidents_list(State(state): State<SharedState>, req: Request) -> Response {
    let resp = incidents_list_answer(&state, req).await.into_response();
    with_cors(&state, INCIDENT_METHODS, resp)
}

async fn incidents_list_answer(state: &AppState, req: Request) -> Result<Response, ApiError> {
    if req.method() == Method::OPTIONS {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let r = ReadRequest::begin_allowing(state, &req, incidents::ACTIVE_PARAMS, INCIDENT_METHODS)?;
    let env = incidents::active_env(&r.params);
    let read = |ctx| async move { incidents::active_read(&ctx, env.as_deref()).await };
    let body = r
        .execute(state, read)
        .await
        .map_err(|e| storage_failure(e, incidents::FAILURE_DETAIL))?;
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /v1/incidents/{id}` and `GET /v1/incidents/{id}/snapshot` (spec triage §5).
pub async fn incidents_get(State(state): State<SharedState>, req: Request) -> Response {
    let resp = incidents_get_answer(&state, req).await.into_response();
    with_cors(&state, INCIDENT_METHODS, resp)
}

async fn incidents_get_answer(state: &AppState, req: Request) -> Result<Response, ApiError> {
    if req.method() == Method::OPTIONS {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let r = ReadRequest::begin_allowing(state, &req, &[], INCIDENT_METHODS)?;
    let target = req
        .uri()
        .path()
        .strip_prefix("/v1/incidents/")
        .and_then(Target::parse);
    let (id, snapshot) = match target {
        Some(Target::Incident(id)) => (id, false),
        Some(Target::Snapshot(id)) => (id, true),
        None => return Err(ApiError::not_found(incidents::NOT_FOUND)),
    };
    let read = |ctx| async move { incidents::incident_read(&ctx, &id).await };
    let incident = r
        .execute(state, read)
        .await
        .map_err(|e| storage_failure(e, incidents::FAILURE_DETAIL))?;
    Ok(if !snapshot {
        json_response(StatusCode::OK, &incidents::IncidentBody { incident })
    } else if wants_json(req.headers()) {
        json_response(StatusCode::OK, &SnapshotBody::new(&incident))
    } else {
        text_response(snapshot_text(&incident))
    })
}

/// What the path after `/v1/incidents/` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `{id}`.
    Incident(String),
    /// `{id}/snapshot`.
    Snapshot(String),
}

impl Target {
    /// Parse the raw (still percent-encoded) path after `/v1/incidents/`. The id is
    /// percent-decoded and must be non-empty without `/`; `None` is the `404`.
    pub fn parse(rest: &str) -> Option<Target> {
        let (raw, snapshot) = match rest.strip_suffix("/snapshot") {
            Some(raw) => (raw, true),
            None => (rest, false),
        };
        let id = percent_decode_path(raw).filter(|id| !id.is_empty() && !id.contains('/'))?;
        Some(if snapshot {
            Target::Snapshot(id)
        } else {
            Target::Incident(id)
        })
    }
}

/// True when an `Accept` header asks for JSON (any value containing `application/json`,
/// case-insensitively: media types are case-insensitive).
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("application/json"))
    })
}

/// `200 text/plain; charset=utf-8` with the snapshot text.
pub fn text_response(text: String) -> Response {
    let mut resp = (StatusCode::OK, text).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn target_parse_splits_snapshot_and_decodes_the_id() {
        assert_eq!(
            Target::parse("inc_eee7eabe9bda8b24"),
            Some(Target::Incident("inc_eee7eabe9bda8b24".into()))
        );
        assert_eq!(
            Target::parse("inc_1/snapshot"),
            Some(Target::Snapshot("inc_1".into()))
        );
        assert_eq!(
            Target::parse("a%20b/snapshot"),
            Some(Target::Snapshot("a b".into()))
        );
        // `snapshot` alone is an id; `active` only reaches here with a suffix.
        assert_eq!(
            Target::parse("snapshot"),
            Some(Target::Incident("snapshot".into()))
        );
        assert_eq!(
            Target::parse("active/snapshot"),
            Some(Target::Snapshot("active".into()))
        );
    }

    #[test]
    fn target_parse_rejects_empty_slashed_and_malformed_ids() {
        for bad in [
            "",
            "/snapshot",
            "a/b",
            "a%2Fb",
            "a/b/snapshot",
            "%zz",
            "x/",
            "%FF",
        ] {
            assert_eq!(Target::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn wants_json_matches_any_accept_value_containing_json() {
        let mut h = HeaderMap::new();
        assert!(!wants_json(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/plain"));
        assert!(!wants_json(&h));
        h.append(
            header::ACCEPT,
            HeaderValue::from_static("text/html, Application/JSON;q=0.9"),
        );
        assert!(wants_json(&h));
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!wants_json(&h));
    }
}
