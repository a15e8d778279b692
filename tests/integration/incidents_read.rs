//! The incident read surface (spec triage §5) through the real server: incidents are written
//! straight into a data directory with the library (one batch flushed to cold Parquet, one
//! left in the WAL), then the server started on it answers `/v1/incidents/active`,
//! `/v1/incidents/{id}` and `/v1/incidents/{id}/snapshot`, and the `incidents` / `incident`
//! verbs and `waylog query` read the same rows.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use waylog::incidents::model::{
    BlastCapture, CaptureStatus, Cause, Confidence, ErrorFamily, Evidence, EvidenceKind, Incident,
    PathEntry, PropagationCapture, Snapshot, Status,
};
use waylog::incidents::read::{ActiveBody, IncidentBody};
use waylog::incidents::snapshot::{SnapshotBody, snapshot_text};
use waylog::incidents::store::{StoredIncident, incidents_to_batch};

use crate::harness::*;

/// 2026-05-04T12:00:00Z.
const T0: i64 = 1_777_896_000_000_000_000;
const READ_KEY: &str = "rk-incidents";
const WRITE_KEY: &str = "wk-incidents";
const ORIGIN: &str = "https://triage.example";

fn incident(id: &str, env: &str, status: Status, severity: i64, started_s: i64) -> Incident {
    let started = T0 + started_s * SEC_NS;
    let mut inc = Incident::skeleton(
        id.into(),
        env.into(),
        ErrorFamily::new("checkout", "payment.charge", "PMT_502"),
        started,
        started + 90 * SEC_NS,
    );
    inc.status = status;
    inc.cause = Cause::Dependency;
    inc.confidence = Confidence::High;
    inc.severity = severity;
    inc.affected_requests = 12;
    inc.affected_services = 3;
    inc.lift = 4.0;
    inc.baseline_count = 3;
    inc.current_count = 12;
    if status == Status::Resolved {
        inc.recovering_at = Some(started + 300 * SEC_NS);
        inc.resolved_at = Some(started + 420 * SEC_NS);
    }
    inc
}

/// Version 2 of `inc_a`: recovering, with every block of the snapshot text filled.
fn rich_a() -> Incident {
    let mut inc = incident("inc_a", "prod", Status::Recovering, 9, 60);
    inc.error_family = ErrorFamily::new("checkout", "pay:charge", "PMT_502");
    inc.recovering_at = Some(T0 + 600 * SEC_NS + 250_000_000);
    inc.updated_at = T0 + 600 * SEC_NS + 250_000_000;
    inc.affected_users = 7;
    inc.lift = 12.5;
    inc.top_services = vec!["api-gateway".into(), "checkout".into(), "payment".into()];
    inc.sample_traces = vec!["4bf92f3577b34da6a3ce929d0e0e4736".into()];
    inc.suspect_deploy_id = "deploy-42".into();
    let mut trace = Evidence::new(EvidenceKind::Trace, "First failing trace sample", T0);
    trace.detail = "pay:charge/PMT_502".into();
    trace.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736".into();
    inc.evidence = vec![trace];
    inc.next_checks = vec!["Inspect sampled trace `4bf92f3577b3…` at `pay:charge`.".into()];
    inc.instrumentation_warnings = vec!["partial_trace".into()];
    inc.propagation = Some(Snapshot {
        opening: None,
        latest: Some(PropagationCapture {
            origin_service: "payment".into(),
            origin_step: "acquirer.charge".into(),
            path: vec![PathEntry {
                service: "payment".into(),
                step: "acquirer.charge".into(),
                start_ms: 3,
                duration_ms: 30,
                status: "error".into(),
                error_code: "PMT_502".into(),
            }],
            sample_trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            first_seen_at: Some(T0),
            captured_at: T0 + 90 * SEC_NS,
            capture_status: CaptureStatus::Ok,
        }),
    });
    inc.blast = Some(Snapshot {
        opening: None,
        latest: Some(BlastCapture {
            affected_requests: 12,
            affected_users: 7,
            affected_services: 3,
            top_services: vec!["checkout".into()],
            sampled_traces: vec![],
            captured_at: T0 + 90 * SEC_NS,
            capture_status: CaptureStatus::Ok,
        }),
    });
    inc
}

fn stored(incident: Incident, version: u64) -> StoredIncident {
    StoredIncident {
        written_at_ns: incident.updated_at,
        incident,
        version,
    }
}

/// The incidents as the `incidents` view must show them (the latest version of each id).
struct Fixture {
    a: Incident,
    b: Incident,
    c: Incident,
    d: Incident,
    e: Incident,
}

/// Write two batches of `incident_versions`: the first flushed to cold Parquet, the second
/// left in the WAL for the server to replay. Superseded versions sit on both sides.
fn write_fixture(data_dir: &Path) -> Fixture {
    let a = rich_a();
    let b = incident("inc_b", "prod", Status::Active, 9, 120);
    let c = incident("inc_c", "staging", Status::Active, 4, 0);
    let d = incident("inc_d", "prod", Status::Resolved, 10, 30);
    let e = incident("inc_e", "staging", Status::Active, 9, 120);
    // `inc_f` was the most severe active incident in version 1 and is resolved in version 2.
    let f1 = incident("inc_f", "prod", Status::Active, 10, 10);
    let f2 = incident("inc_f", "prod", Status::Resolved, 10, 10);
    let a1 = incident("inc_a", "prod", Status::Active, 3, 60);
    let first = vec![stored(a1, 1), stored(b.clone(), 1), stored(f1, 1)];
    // Version 2 of `inc_a` comes before version 1 of others: row order means nothing.
    let second = vec![
        stored(a.clone(), 2),
        stored(c.clone(), 1),
        stored(d.clone(), 1),
        stored(e.clone(), 1),
        stored(f2, 2),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let cfg = storage_config(data_dir, Duration::from_secs(7 * 86400));
        let (storage, _) = Storage::open(cfg, Arc::new(waylog::clock::SystemClock))
            .await
            .unwrap();
        let table = TableId::IncidentVersions;
        storage
            .append(table, incidents_to_batch(&first).unwrap())
            .await
            .unwrap();
        assert!(storage.flush(table).await.unwrap() > 0);
        storage
            .append(table, incidents_to_batch(&second).unwrap())
            .await
            .unwrap();
        storage.close().unwrap();
    });
    Fixture { a, b, c, d, e }
}

fn start(data_dir: &Path) -> Server {
    Server::start(
        data_dir,
        &[],
        &[
            ("WAYLOG_READ_KEY", READ_KEY),
            ("WAYLOG_WRITE_KEY", WRITE_KEY),
            ("WAYLOG_CORS_ORIGIN", ORIGIN),
            // The stored rows are the fixture: no engine tick may write new versions.
            ("WAYLOG_INCIDENTS_ENABLED", "false"),
        ],
    )
}

const AUTH: (&str, &str) = ("Authorization", "Bearer rk-incidents");

fn get(server: &Server, path: &str) -> Resp {
    server.request("GET", path, &[AUTH], None)
}

fn get_ok(server: &Server, path: &str) -> Resp {
    let r = get(server, path);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r
}

fn assert_cors(r: &Resp, what: &str) {
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some(ORIGIN),
        "{what}"
    );
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, OPTIONS"),
        "{what}"
    );
}

fn assert_error(r: &Resp, status: u16, code: &str, message: &str, detail: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"error": {"code": code, "message": message, "detail": detail}})
    );
}

fn ids(r: &Resp) -> Vec<String> {
    r.json()["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["incident_id"].as_str().unwrap().to_owned())
        .collect()
}

fn cli(server: &Server, args: &[&str]) -> CliOut {
    let mut all = vec!["--addr", server.url.as_str(), "--api-key", READ_KEY];
    all.extend_from_slice(args);
    waylog_cli(&all)
}

#[test]
fn incident_reads_serve_latest_versions_over_http_and_cli() {
    let dir = TestDir::new();
    let fx = write_fixture(&dir.data_dir());
    let server = start(&dir.data_dir());

    // Active list: non-resolved latest versions, severity desc, started desc, id asc; the
    // body is the model's serialization byte for byte (key order included).
    let r = get_ok(&server, "/v1/incidents/active");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_cors(&r, "active");
    let expected = ActiveBody {
        incidents: vec![fx.b.clone(), fx.e.clone(), fx.a.clone(), fx.c.clone()],
    };
    assert_eq!(r.body, serde_json::to_string(&expected).unwrap());
    assert!(
        r.body
            .starts_with("{\"incidents\":[{\"incident_id\":\"inc_b\",\"env\":\"prod\"")
    );

    // env filter; an empty value is no filter; unknown env is an empty list.
    let r = get_ok(&server, "/v1/incidents/active?env=prod");
    assert_eq!(ids(&r), ["inc_b", "inc_a"]);
    let r = get_ok(&server, "/v1/incidents/active?env=staging");
    assert_eq!(ids(&r), ["inc_e", "inc_c"]);
    let r = get_ok(&server, "/v1/incidents/active?env=");
    assert_eq!(ids(&r), ["inc_b", "inc_e", "inc_a", "inc_c"]);
    let r = get_ok(&server, "/v1/incidents/active?env=nope");
    assert_eq!(r.body, "{\"incidents\":[]}");

    // Strict parameters.
    assert_error(
        &get(&server, "/v1/incidents/active?status=active"),
        400,
        "bad_request",
        "bad request",
        "unknown query parameter: status",
    );
    assert_error(
        &get(&server, "/v1/incidents/active?env=prod&env=staging"),
        400,
        "bad_request",
        "bad request",
        "duplicate query parameter: env",
    );
    assert_error(
        &get(&server, "/v1/incidents/inc_a?env=prod"),
        400,
        "bad_request",
        "bad request",
        "unknown query parameter: env",
    );

    // One incident by id, any status, latest version.
    for inc in [&fx.a, &fx.b, &fx.d] {
        let r = get_ok(&server, &format!("/v1/incidents/{}", inc.incident_id));
        assert_cors(&r, &inc.incident_id);
        let body = IncidentBody {
            incident: inc.clone(),
        };
        assert_eq!(r.body, serde_json::to_string(&body).unwrap());
    }
    let r = get_ok(&server, "/v1/incidents/inc_a");
    assert_eq!(r.json()["incident"]["status"], json!("recovering"));
    assert_eq!(r.json()["incident"]["severity"], json!(9));
    let r = get_ok(&server, "/v1/incidents/inc_f");
    assert_eq!(r.json()["incident"]["status"], json!("resolved"));

    // Unknown or empty ids.
    for path in [
        "/v1/incidents/inc_nope",
        "/v1/incidents/inc_nope/snapshot",
        "/v1/incidents/",
        "/v1/incidents//snapshot",
        "/v1/incidents/inc_a/extra",
        "/v1/incidents/inc_a%2Fsnapshot",
    ] {
        let r = get(&server, path);
        assert_error(&r, 404, "not_found", "incident not found", "");
        assert_cors(&r, path);
    }

    // Snapshot: text by default, JSON when Accept contains application/json.
    let r = get_ok(&server, "/v1/incidents/inc_a/snapshot");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_cors(&r, "snapshot");
    let text = snapshot_text(&fx.a);
    assert_eq!(r.body, text);
    assert!(text.starts_with(
        "Incident inc_a\nStatus: recovering\nFamily: checkout:pay\\:charge:PMT_502\n"
    ));
    assert!(text.contains("\nRecovering since: 2026-05-04T12:10:00Z\n"));
    assert!(text.contains("\n\nWhere did it start?\n  Origin: payment / acquirer.charge\n"));
    let r = server.request(
        "GET",
        "/v1/incidents/inc_a/snapshot",
        &[AUTH, ("Accept", "text/plain")],
        None,
    );
    assert_eq!(r.body, text);
    for accept in ["application/json", "text/html, Application/JSON;q=0.9"] {
        let r = server.request(
            "GET",
            "/v1/incidents/inc_a/snapshot",
            &[AUTH, ("Accept", accept)],
            None,
        );
        assert_eq!(r.status, 200, "{accept}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            r.body,
            serde_json::to_string(&SnapshotBody::new(&fx.a)).unwrap()
        );
        assert!(r.body.starts_with("{\"snapshot\":\"Incident inc_a\\n"));
    }
    let r = get_ok(&server, "/v1/incidents/inc_d/snapshot");
    assert!(
        r.body.contains("\nResolved: 2026-05-04T12:07:30Z\n"),
        "{}",
        r.body
    );

    // Methods, CORS preflight, read scope.
    for (method, path) in [
        ("POST", "/v1/incidents/active"),
        ("PUT", "/v1/incidents/inc_a"),
        ("DELETE", "/v1/incidents/inc_a/snapshot"),
    ] {
        let r = server.request(method, path, &[AUTH], Some(b"{}"));
        assert_error(&r, 405, "method_not_allowed", "method not allowed", "");
        assert_eq!(r.header("allow"), Some("GET, OPTIONS"), "{method} {path}");
        assert_cors(&r, path);
    }
    for path in [
        "/v1/incidents/active",
        "/v1/incidents/inc_a",
        "/v1/incidents/inc_a/snapshot",
    ] {
        let r = server.request("OPTIONS", path, &[], None);
        assert_eq!(r.status, 204, "{path}: {}", r.body);
        assert_eq!(r.body, "");
        assert_cors(&r, path);
        for headers in [
            &[][..],
            &[("Authorization", "Bearer wk-incidents")][..],
            &[("X-API-Key", "nope")][..],
        ] {
            let r = server.request("GET", path, headers, None);
            assert_error(&r, 401, "unauthorized", "unauthorized", "");
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer realm=\"waylog\", scope=\"read\"")
            );
            assert_cors(&r, path);
        }
        let r = server.request("GET", path, &[("X-API-Key", READ_KEY)], None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }

    // CLI: `waylog incidents`.
    let out = cli(&server, &["incidents"]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "INCIDENT", "STATUS", "CAUSE", "CONF", "SEVERITY", "FAMILY", "AFFECTED", "STARTED"
        ]
    );
    assert_eq!(
        lines[1],
        [
            "inc_b",
            "active",
            "dependency",
            "high",
            "9",
            "checkout:payment.charge:PMT_502",
            "12",
            "req",
            "/",
            "3",
            "svc",
            "2026-05-04T12:02:00Z"
        ]
    );
    assert_eq!(
        lines[3],
        [
            "inc_a",
            "recovering",
            "dependency",
            "high",
            "9",
            "checkout:pay\\:charge:PMT_502",
            "12",
            "req",
            "/",
            "3",
            "svc",
            "2026-05-04T12:01:00Z"
        ]
    );
    let firsts: Vec<&str> = lines[1..].iter().map(|l| l[0]).collect();
    assert_eq!(firsts, ["inc_b", "inc_e", "inc_a", "inc_c"]);
    assert!(out.stdout.lines().all(|l| !l.ends_with(' ')));
    let out = cli(&server, &["incidents", "--env", "staging"]);
    assert_eq!(out.code, 0, "{out:?}");
    let firsts: Vec<&str> = out
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(firsts, ["inc_e", "inc_c"]);
    let out = cli(&server, &["incidents", "--env", "nope"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "No active incidents.\n")
    );
    let out = cli(&server, &["incidents", "--env", "prod", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v, get_ok(&server, "/v1/incidents/active?env=prod").json());
    assert!(out.stdout.starts_with("{\n  \"incidents\": [\n    {\n      \"incident_id\": \"inc_b\",\n      \"env\": \"prod\",\n      \"service\""));

    // CLI: `waylog incident`.
    for args in [
        &["incident", "inc_a"][..],
        &["incident", "inc_a", "--snapshot"][..],
    ] {
        let out = cli(&server, args);
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(out.stdout, text, "{args:?}");
    }
    let out = cli(&server, &["incident", "inc_a", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        get_ok(&server, "/v1/incidents/inc_a").json()
    );
    assert!(out.stdout.starts_with(
        "{\n  \"incident\": {\n    \"incident_id\": \"inc_a\",\n    \"env\": \"prod\","
    ));
    let out = cli(&server, &["incident", "inc_a", "--json", "--snapshot"]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["snapshot"], json!(text));
    assert_eq!(v["incident"]["incident_id"], json!("inc_a"));
    assert!(out.stdout.starts_with("{\n  \"snapshot\": "));
    let out = cli(&server, &["incident", "inc_nope"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stderr.trim_end(), "not_found: incident not found");
    assert_eq!(out.stdout, "");
    let out = waylog_cli(&["incidents", "--addr", &server.url]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stderr.trim_end(), "unauthorized: unauthorized");

    // SQL over the `incidents` view sees the latest versions, with or without the server.
    let sql = "SELECT incident_id, version, status, severity FROM incidents ORDER BY incident_id";
    let expected = json!([
        ["inc_a", 2, "recovering", 9],
        ["inc_b", 1, "active", 9],
        ["inc_c", 1, "active", 4],
        ["inc_d", 1, "resolved", 10],
        ["inc_e", 1, "active", 9],
        ["inc_f", 2, "resolved", 10],
    ]);
    let out = cli(&server, &["query", sql, "--format", "json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["rows"], expected);
    let data_dir = dir.data_dir();
    let out = waylog_cli(&[
        "query",
        sql,
        "--format",
        "json",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["rows"], expected);
    let out = cli(
        &server,
        &["query", "SELECT count(*) FROM incident_versions"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("count(*)\n8\n"), "{}", out.stdout);

    server.stop_graceful();
}
