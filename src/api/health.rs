//! Health that tells the truth: the state of every background job, as `/readyz`,
//! `/v1/capabilities` (and so `waylog capabilities`) and `waylog_job_up{job}` report it.
//!
//! Jobs and when each is unhealthy:
//! - `wal_writer`: the writer thread ended, or a WAL write or fsync failed (poisoned: writes
//!   are refused until a restart replays and repairs the log); a full disk is not a failure
//!   (reads serve, writes answer `disk_full` and recover by themselves): `ok` with a detail;
//! - `flusher` (the `maintenance` task: flush, compaction, retention): the task ended, or
//!   flushes have failed without one success for longer than
//!   `WAYLOG_FLUSH_FAILURE_UNREADY_AFTER`;
//! - `index_warmer`: the task ended;
//! - `incident_engine`: the task ended, or its last successful tick is older than three tick
//!   intervals (a stuck or always-failing engine); `disabled` when `WAYLOG_INCIDENTS_ENABLED`
//!   is off.
//!
//! `/livez` (and `/healthz`) stay process checks: they answer 200 whenever the process serves.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::error::{ApiError, json_response};
use super::{AppState, SharedState};

/// The background task names of [`super::start_storage`] and the job each one runs.
const TASK_JOBS: &[(&str, &str)] = &[
    ("maintenance", "flusher"),
    ("index warmer", "index_warmer"),
    ("incident engine", "incident_engine"),
];

/// What a job is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Storage is still being recovered: the job has not started.
    Starting,
    Ok,
    /// Turned off by configuration.
    Disabled,
    /// Running but failing (poisoned WAL, flushes failing, stale ticks).
    Failing,
    /// The job ended before shutdown.
    Stopped,
}

impl JobState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Starting => "starting",
            JobState::Ok => "ok",
            JobState::Disabled => "disabled",
            JobState::Failing => "failing",
            JobState::Stopped => "stopped",
        }
    }

    /// Whether the job lets the server be ready.
    pub fn healthy(self) -> bool {
        matches!(self, JobState::Starting | JobState::Ok | JobState::Disabled)
    }
}

/// One job's state, with why when it is not `ok`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobStatus {
    pub job: &'static str,
    pub state: JobState,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl JobStatus {
    fn new(job: &'static str, state: JobState, detail: impl Into<String>) -> Self {
        JobStatus {
            job,
            state,
            detail: detail.into(),
        }
    }
}

/// The state of every job, in [`crate::metrics::JOBS`] order.
pub fn jobs(state: &AppState) -> Vec<JobStatus> {
    let Some(storage) = state.storage() else {
        return crate::metrics::JOBS
            .iter()
            .map(|j| JobStatus::new(j, JobState::Starting, ""))
            .collect();
    };
    let dead = state.background.dead_all();
    let task_dead = |job: &str| {
        TASK_JOBS
            .iter()
            .find(|(_, j)| *j == job)
            .is_some_and(|(task, _)| dead.contains(task))
    };
    let stopped = |job: &'static str| JobStatus::new(job, JobState::Stopped, "task ended");
    let writer = match (storage.poisoned(), storage.writer_alive()) {
        (Some(reason), _) => JobStatus::new(
            "wal_writer",
            JobState::Failing,
            format!("{reason}; restart to repair"),
        ),
        (None, false) => JobStatus::new("wal_writer", JobState::Stopped, "writer thread ended"),
        // A full disk refuses writes (`disk_full`) but leaves reads serving, so the server
        // stays ready; the writer recovers by itself once space frees.
        (None, true) if storage.disk_full() => JobStatus::new(
            "wal_writer",
            JobState::Ok,
            "disk full: writes answer 503 disk_full until space frees",
        ),
        (None, true) => JobStatus::new("wal_writer", JobState::Ok, ""),
    };
    let limit = state.config.flush_failure_unready_after;
    let flusher = match storage.flush_failing_for() {
        _ if task_dead("flusher") => stopped("flusher"),
        Some(d) if d > limit => JobStatus::new(
            "flusher",
            JobState::Failing,
            format!(
                "flushes failing for {}s (WAYLOG_FLUSH_FAILURE_UNREADY_AFTER = {}s)",
                d.as_secs(),
                limit.as_secs()
            ),
        ),
        _ => JobStatus::new("flusher", JobState::Ok, ""),
    };
    let warmer = match task_dead("index_warmer") {
        true => stopped("index_warmer"),
        false => JobStatus::new("index_warmer", JobState::Ok, ""),
    };
    let engine = if !state.config.incidents.enabled {
        JobStatus::new("incident_engine", JobState::Disabled, "")
    } else if task_dead("incident_engine") {
        stopped("incident_engine")
    } else if let Some(age) = state.incidents.stale() {
        JobStatus::new(
            "incident_engine",
            JobState::Failing,
            format!(
                "last successful tick {}s ago (more than 3 intervals of {}ms)",
                age.as_secs(),
                state.config.incidents.tick.as_millis()
            ),
        )
    } else {
        JobStatus::new("incident_engine", JobState::Ok, "")
    };
    vec![writer, flusher, warmer, engine]
}

/// `GET /readyz`: `200 {"status":"ready"}`, or `503` with the error envelope (its `detail`
/// naming the problems) plus `jobs`: the unhealthy jobs.
pub async fn readyz(State(state): State<SharedState>) -> Response {
    if !state.is_ready() || state.is_shutting_down() {
        return ApiError::unavailable("unavailable", "not ready", 1).into_response();
    }
    let failing: Vec<JobStatus> = jobs(&state)
        .into_iter()
        .filter(|j| !j.state.healthy())
        .collect();
    // Tasks no job owns (none today) still make the server not ready.
    let other = state
        .background
        .dead_all()
        .into_iter()
        .filter(|t| !TASK_JOBS.iter().any(|(name, _)| name == t))
        .map(|t| format!("background task {t} stopped"));
    let problems: Vec<String> = failing
        .iter()
        .map(|j| format!("{}: {}", j.job, j.detail))
        .chain(other)
        .collect();
    if problems.is_empty() {
        return json_response(StatusCode::OK, &json!({"status": "ready"}));
    }
    let mut e = ApiError::unavailable("unavailable", "not ready", 1);
    e.error.detail = problems.join("; ");
    let body = json!({"error": e.error, "status": "not_ready", "jobs": failing});
    e.with_body(&body).into_response()
}
