//! The incident reads (spec triage §5): `GET /v1/incidents/active[?env=]`,
//! `GET /v1/incidents/{id}` and `GET /v1/incidents/{id}/snapshot`, over the `incidents` view
//! (the latest version of every id) with `sql/incidents_list.sql`.
//!
//! Invariants:
//! - The routes answer whether or not the incident engine runs: they only read stored rows.
//! - Bodies are serialized from the model structs, never through `serde_json::Value`, so the
//!   incident keeps the model's key order (serde_json here has no `preserve_order`).
//! - Every answer, errors and the `OPTIONS` preflight included, carries the CORS headers;
//!   the preflight needs no credential.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use super::ReadError;
use super::params::{Params, percent_decode_path};
use super::sql::{self, Param, ReadQuery};
use crate::incidents::model::Incident;
use crate::incidents::store::batch_to_incidents;
use crate::server::error::ApiError;

/// The parameters of `GET /v1/incidents/active`.
pub const ACTIVE_PARAMS: &[&str] = &["env"];
/// `Allow` of the 405 and `Access-Control-Allow-Methods`.
pub const METHODS: &str = "GET, OPTIONS";
/// The `500` detail of every storage failure (triage §5).
pub const FAILURE_DETAIL: &str = "query incidents failed";
/// The `404` message for an unknown or empty id.
pub const NOT_FOUND: &str = "incident not found";

/// `{"incidents": [Incident…]}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ActiveBody {
    pub incidents: Vec<Incident>,
}

/// `{"incident": Incident}`.
#[derive(Debug, Serialize)]
pub struct IncidentBody {
    pub incident: Incident,
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

/// `env` of the active list (an empty value is absent, reads §1.2).
pub fn active_env(p: &Params) -> Option<String> {
    p.get("env").map(str::to_owned)
}

/// True when an `Accept` header asks for JSON (any value containing `application/json`,
/// case-insensitively: media types are case-insensitive).
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("application/json"))
    })
}

/// Run `sql/incidents_list.sql`: one id (any status), or with `id == ""` the non-resolved
/// incidents of `env` (any env when `None`), in the query's order.
async fn select(
    ctx: &SessionContext,
    id: &str,
    env: Option<&str>,
) -> Result<Vec<Incident>, ReadError> {
    let batches = sql::collect(
        ctx,
        ReadQuery::IncidentsList,
        vec![Param::str(id), Param::opt_str(env)],
    )
    .await?;
    let mut out = Vec::new();
    for batch in &batches {
        out.extend(batch_to_incidents(batch)?.into_iter().map(|s| s.incident));
    }
    Ok(out)
}

/// `GET /v1/incidents/active`.
pub async fn active_read(ctx: &SessionContext, env: Option<&str>) -> Result<ActiveBody, ReadError> {
    Ok(ActiveBody {
        incidents: select(ctx, "", env).await?,
    })
}

/// One incident by id, any status; `404 not_found` when unknown.
pub async fn incident_read(ctx: &SessionContext, id: &str) -> Result<Incident, ReadError> {
    if id.is_empty() {
        // '' selects the active list in the SQL; an empty id is never stored.
        return Err(ApiError::not_found(NOT_FOUND).into());
    }
    select(ctx, id, None)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(NOT_FOUND).into())
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
mod tests {
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

    #[test]
    fn active_env_treats_empty_as_absent() {
        let p = Params::parse(Some("env="), ACTIVE_PARAMS).unwrap();
        assert_eq!(active_env(&p), None);
        let p = Params::parse(Some("env=prod"), ACTIVE_PARAMS).unwrap();
        assert_eq!(active_env(&p).as_deref(), Some("prod"));
        let e = Params::parse(Some("status=active"), ACTIVE_PARAMS).unwrap_err();
        assert_eq!(e.error.detail, "unknown query parameter: status");
    }
}
