//! `waylog serve` settings and lifecycle: invalid values refuse to start naming the setting,
//! health endpoints, SIGTERM exits 0.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

/// Run `waylog serve` expecting it to refuse to start; returns (exit code, stderr).
fn serve_refused(data_dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .args([
            "--addr",
            "127.0.0.1:0",
            "--otlp-grpc-addr",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("WAYLOG_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("waylog serve {args:?} {env:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    (status.code().unwrap_or(-1), stderr)
}

#[test]
fn serve_refuses_invalid_settings_naming_the_variable() {
    let dir = TestDir::new();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 6] = [
        (&[], &[("WAYLOG_RETENTION", "forever")], "WAYLOG_RETENTION"),
        (&["--retention", "0s"], &[], "WAYLOG_RETENTION"),
        (&[], &[("WAYLOG_WAL_SYNC", "maybe")], "WAYLOG_WAL_SYNC"),
        (&["--max-batch-events", "0"], &[], "WAYLOG_MAX_BATCH_EVENTS"),
        (&["--max-body-bytes", "lots"], &[], "WAYLOG_MAX_BODY_BYTES"),
        (&[], &[("WAYLOG_HOT_WINDOW", "soon")], "WAYLOG_HOT_WINDOW"),
    ];
    for (args, env, name) in cases {
        let (code, stderr) = serve_refused(&dir.data_dir(), args, env);
        assert_eq!(code, 1, "{args:?} {env:?}: {stderr}");
        assert!(
            stderr.contains(name),
            "{args:?} {env:?}: stderr does not name {name}: {stderr}"
        );
    }
    assert!(
        !dir.data_dir().join("wal").exists(),
        "a refused start wrote nothing"
    );
}

#[test]
fn serve_refuses_a_data_dir_locked_by_another_server() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    let (code, stderr) = serve_refused(&dir.data_dir(), &[], &[]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
    // The running server is unaffected.
    assert_eq!(server.get("/readyz").status, 200);
    server.stop_graceful();
}

#[test]
fn health_endpoints_answer_ok_and_sigterm_exits_zero() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[]);
    for path in ["/healthz", "/livez", "/readyz"] {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        assert!(
            r.header("x-request-id").is_some_and(|v| !v.is_empty()),
            "{:?}",
            r.headers
        );
    }
    assert_eq!(server.get("/readyz").json(), json!({"status": "ready"}));
    let r = server.request("GET", "/healthz", &[("X-Request-Id", "trace-me-42")], None);
    assert_eq!(r.header("x-request-id"), Some("trace-me-42"));
    let r = server.get("/v1/nothing-here");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], json!("not_found"));
    let url = server.url.clone();
    server.stop_graceful();
    // The port is closed after the shutdown.
    assert!(try_post(&agent(), &format!("{url}/v1/events"), &[], b"").is_err());
}

/// The prod profile's boot matrix (spec events §2.1, reads §1.1): an open scope refuses to
/// start naming every missing key; with both keys every scope is closed, `/metrics` included
/// unless `WAYLOG_METRICS_AUTH=none`; dev starts open.
#[test]
fn prod_profile_boot_matrix() {
    let dir = TestDir::new();
    let prod = [("WAYLOG_PROFILE", "prod")];
    let (code, stderr) = serve_refused(&dir.data_dir(), &[], &prod);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("--profile prod refuses open scopes")
            && stderr.contains("WAYLOG_WRITE_KEY")
            && stderr.contains("WAYLOG_READ_KEY"),
        "{stderr}"
    );
    let (_, stderr) = serve_refused(
        &dir.data_dir(),
        &["--profile", "prod"],
        &[("WAYLOG_READ_KEY", "r1")],
    );
    assert!(
        stderr.contains("WAYLOG_WRITE_KEY") && !stderr.contains("WAYLOG_READ_KEY"),
        "{stderr}"
    );
    let (_, stderr) = serve_refused(&dir.data_dir(), &[], &[("WAYLOG_METRICS_AUTH", "open")]);
    assert!(stderr.contains("WAYLOG_METRICS_AUTH"), "{stderr}");

    let keys = [
        ("WAYLOG_PROFILE", "prod"),
        ("WAYLOG_WRITE_KEY", "w1"),
        ("WAYLOG_READ_KEY", "r1"),
        ("WAYLOG_AGENT_KEY", "a1"),
    ];
    let server = Server::start(&dir.data_dir(), &[], &keys);
    let caps = server.request("GET", "/v1/capabilities", &[("X-API-Key", "r1")], None);
    assert_eq!(caps.json()["profile"], "prod");
    for (method, path) in [
        ("POST", "/v1/events"),
        ("POST", "/v1/signals"),
        ("POST", "/v1/alerts"),
        ("GET", "/v1/errors"),
        ("GET", "/v1/incidents/active"),
        ("GET", "/metrics"),
    ] {
        let r = server.request(method, path, &[], Some(b"[]"));
        assert_eq!(r.status, 401, "{method} {path}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], "unauthorized");
    }
    // A write key does not open reads, nor a read key writes.
    let r = server.request("GET", "/metrics", &[("X-API-Key", "w1")], None);
    assert_eq!(r.status, 401);
    let r = server.request("GET", "/metrics", &[("Authorization", "Bearer r1")], None);
    assert_eq!(r.status, 200, "{}", r.body);
    server.stop_graceful();

    let open_metrics = [keys.as_slice(), &[("WAYLOG_METRICS_AUTH", "none")]].concat();
    let server = Server::start(&dir.data_dir(), &[], &open_metrics);
    assert_eq!(server.get("/metrics").status, 200);
    assert_eq!(server.get("/v1/errors").status, 401);
    server.stop_graceful();

    let server = Server::start(&dir.data_dir(), &[], &[]);
    assert_eq!(server.get("/metrics").status, 200);
    assert_eq!(server.get("/v1/capabilities").json()["profile"], "dev");
    server.stop_graceful();
}
