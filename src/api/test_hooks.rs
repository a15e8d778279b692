//! Internal routes that break background jobs on purpose, served only with
//! `WAYLOG_TEST_HOOKS=true` (a hidden setting): the readiness integration tests kill or stall
//! each job through them and watch `/readyz` name it. Without the setting the paths are
//! unknown (`404`).
//!
//! `POST /internal/test/jobs/{job}/{action}`:
//! - `wal_writer/stop` (the writer thread ends), `wal_writer/poison` (as after a failed fsync);
//! - `flusher/fail` (every flush fails from now on), `flusher/stop` (the maintenance task is
//!   aborted);
//! - `index_warmer/stop`;
//! - `incident_engine/stall` (no more ticks, the task lives), `incident_engine/stop`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use super::error::{ApiError, json_response};
use super::{AppState, SharedState};

/// The hook routes when `WAYLOG_TEST_HOOKS` is on, else none.
pub fn routes(state: &AppState) -> Router<SharedState> {
    if !state.config.test_hooks {
        return Router::new();
    }
    Router::new().route("/internal/test/jobs/{job}/{action}", post(job_break))
}

/// `POST /internal/test/jobs/{job}/{action}`.
async fn job_break(
    State(state): State<SharedState>,
    Path((job, action)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let storage = state
        .storage()
        .ok_or_else(|| ApiError::unavailable("unavailable", "not ready", 1))?;
    let done = match (job.as_str(), action.as_str()) {
        ("wal_writer", "stop") => {
            storage.stop_writer_for_test();
            true
        }
        ("wal_writer", "poison") => {
            storage.poison_for_test();
            true
        }
        ("flusher", "fail") => {
            storage.fail_flushes_for_test();
            true
        }
        ("flusher", "stop") => state.background.abort_for_test("maintenance").await,
        ("index_warmer", "stop") => state.background.abort_for_test("index warmer").await,
        ("incident_engine", "stall") => {
            state.incidents.stall_for_test();
            true
        }
        ("incident_engine", "stop") => state.background.abort_for_test("incident engine").await,
        _ => false,
    };
    if !done {
        return Err(ApiError::not_found(&format!(
            "no hook {action} for job {job}"
        )));
    }
    tracing::warn!(job, action, "test hook applied");
    Ok(json_response(
        StatusCode::OK,
        &json!({"job": job, "action": action}),
    ))
}
