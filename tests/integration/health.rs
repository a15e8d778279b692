//! Honest health: each background job, broken through the hidden test hooks
//! (`WAYLOG_TEST_HOOKS=true`), turns `/readyz` into `503` naming it, while `/livez` stays 200;
//! `/v1/capabilities` and `waylog capabilities` show the same job state. Without the setting
//! the hook routes do not exist.

use std::time::Duration;

use serde_json::Value;

use crate::harness::*;

/// A server with the test hooks on, a 2 s incident tick (stale after 6 s) and a 1 s flush failure limit.
fn hooked_server(dir: &TestDir) -> Server {
    Server::start(
        &dir.data_dir(),
        &[],
        &[
            ("WAYLOG_TEST_HOOKS", "true"),
            ("WAYLOG_INCIDENT_TICK_INTERVAL", "2s"),
            ("WAYLOG_FLUSH_FAILURE_UNREADY_AFTER", "1s"),
            ("WAYLOG_HOT_WINDOW", "1s"),
        ],
    )
}

/// Apply the hook `action` to `job`; asserts it was applied.
fn hook(server: &Server, job: &str, action: &str) {
    let r = server.request(
        "POST",
        &format!("/internal/test/jobs/{job}/{action}"),
        &[],
        Some(b""),
    );
    assert_eq!(r.status, 200, "{job}/{action}: {}", r.body);
}

/// Wait (up to 60 s) for `/readyz` to answer 503; returns its body.
fn not_ready(server: &Server) -> Value {
    let mut last = None;
    let turned = wait_until(Duration::from_secs(60), || {
        let r = server.get("/readyz");
        let done = r.status == 503;
        last = Some(r);
        done
    });
    let last = last.expect("at least one /readyz answer");
    assert!(turned, "/readyz stayed {}: {}", last.status, last.body);
    last.json()
}

/// The broken job is named in `/readyz`, `/livez` is still 200, and capabilities and the CLI
/// report the job's `state`.
fn assert_named(server: &Server, job: &str, state: &str) {
    let body = not_ready(server);
    let jobs = body["jobs"].as_array().expect("jobs array");
    assert!(
        jobs.iter().any(|j| j["job"] == job && j["state"] == state),
        "{job} {state} not in {body}"
    );
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["error"]["code"], "unavailable");
    let detail = body["error"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(job), "{detail}");
    assert_eq!(server.get("/livez").status, 200);
    let caps = server.get("/v1/capabilities").json();
    let reported = caps["jobs"]
        .as_array()
        .and_then(|js| js.iter().find(|j| j["job"] == job))
        .cloned()
        .unwrap_or_default();
    assert_eq!(reported["state"], state, "{caps}");
    let out = waylog_cli(&["capabilities", "--addr", &server.url]);
    assert!(
        out.stdout.contains(&format!("job {job}: {state}")),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn a_healthy_server_reports_every_job_ok() {
    let dir = TestDir::new();
    let server = hooked_server(&dir);
    let caps = server.get("/v1/capabilities").json();
    let jobs: Vec<(String, String)> = caps["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["job"].as_str().unwrap().into(),
                j["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = ["wal_writer", "flusher", "index_warmer", "incident_engine"];
    assert_eq!(
        jobs,
        want.map(|j| (j.to_string(), "ok".to_string())).to_vec()
    );
    // Several ticks later the engine is still fresh (its last success is recent).
    std::thread::sleep(Duration::from_secs(8));
    let r = server.get("/readyz");
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_stopped_wal_writer_is_named() {
    let dir = TestDir::new();
    let server = hooked_server(&dir);
    hook(&server, "wal_writer", "stop");
    assert_named(&server, "wal_writer", "stopped");
}

#[test]
fn a_poisoned_wal_writer_is_named() {
    let dir = TestDir::new();
    let server = hooked_server(&dir);
    hook(&server, "wal_writer", "poison");
    assert_named(&server, "wal_writer", "failing");
}

#[test]
fn a_flusher_failing_longer_than_the_limit_is_named() {
    let dir = TestDir::new();
    let server = hooked_server(&dir);
    hook(&server, "flusher", "fail");
    // Rows to flush: once they are older than the 1 s hot window every flush fails.
    server.ingest(&[event("health-flush-1")]);
    assert_named(&server, "flusher", "failing");
}

#[test]
fn a_stopped_flusher_and_index_warmer_are_named() {
    let dir = TestDir::new();
    let server = hooked_server(&dir);
    hook(&server, "index_warmer", "stop");
    assert_named(&server, "index_warmer", "stopped");
    hook(&server, "flusher", "stop");
    assert_named(&server, "flusher", "stopped");
}

#[test]
fn a_stalled_incident_engine_is_named() {
    let dir = TestDir::new();
    let server = hooked_server(&dir);
    hook(&server, "incident_engine", "stall");
    assert_named(&server, "incident_engine", "failing");
}

#[test]
fn hook_routes_do_not_exist_without_the_setting() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    let r = server.request(
        "POST",
        "/internal/test/jobs/wal_writer/stop",
        &[],
        Some(b""),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(server.get("/readyz").status, 200);
}
