//! The incident reads (spec triage §5): `GET /v1/incidents/active[?env=]`,
//! `GET /v1/incidents/{id}` and `GET /v1/incidents/{id}/snapshot`, over the `incidents` view
//! (the latest version of every id) with `sql/incidents_list.sql`.
//!
//! Invariants:
//! - The routes answer whether or not the incident engine runs: they only read stored rows.
//! - Bodies are serialized from the model structs, never through `serde_json::Value`, so the
//!   incident keeps the model's key order (serde_json here has no `preserve_order`).

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use super::model::Incident;
use super::store::batch_to_incidents;
use crate::model::rejection::Rejection;
use crate::query::sql::{self, Param, ReadQuery};
use crate::reads::ReadError;
use crate::reads::params::Params;

/// The parameters of `GET /v1/incidents/active`.
pub const ACTIVE_PARAMS: &[&str] = &["env"];
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

/// `env` of the active list (an empty value is absent, reads §1.2).
pub fn active_env(p: &Params) -> Option<String> {
    p.get("env").map(str::to_owned)
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
        return Err(Rejection::not_found(NOT_FOUND).into());
    }
    select(ctx, id, None)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Rejection::not_found(NOT_FOUND).into())
}

#[cfg(test)]
mod tests {
    use super::*;

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
