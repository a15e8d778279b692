//! The read verbs of `waylog` (spec reads §7.2) against the real server: one failing 3-hop
//! trace (gateway → checkout → payment, §3.5), each verb's exit code and key lines, and exit 3
//! for an unknown event.

use serde_json::{Value, json};

use crate::harness::*;

/// One hop of the §3.5 cascade: `step` (span `span`) fails with `PMT_502`.
fn hop(id: &str, trace: &str, service: &str, parent: &str, step: &str, span: &str) -> Value {
    let ts = now_ns() - 5 * SEC_NS;
    let kind = if service == "payment" {
        "internal"
    } else {
        "downstream"
    };
    json!({
        "schema_version": "2.0",
        "event_id": id,
        "ts_start": rfc3339(ts),
        "ts_end": rfc3339(ts + 50_000_000),
        "duration_ms": 50,
        "kind": "http",
        "service": service,
        "env": "prod",
        "trace_id": trace,
        "span_id": format!("{:016x}", rand::random::<u64>()),
        "parent_span_id": parent,
        "status": "error",
        "anchor": {"step": step, "error_code": "PMT_502", "kind": kind},
        "steps": [{"name": step, "span_id": span, "start_ms": 1, "duration_ms": 40,
                   "status": "error",
                   "error": {"code": "PMT_502", "reason": "acquirer returned 502"}}],
        "logs": [{"ts_offset_ms": 30, "level": "error", "msg": "charge failed"}],
        "fields": {"http": {"method": "POST", "route": format!("/{service}"), "status": 502},
                   "user": {"id": "u-1"}}
    })
}

fn ok(out: &CliOut) -> &str {
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    &out.stdout
}

#[test]
fn cli_read_verbs_explain_a_three_hop_cascade() {
    let dir = TestDir::new();
    // Port 0 for OTLP gRPC: the default fixed port collides with servers of parallel tests.
    let server = Server::start(
        &dir.data_dir(),
        &[],
        &[("WAYLOG_OTLP_GRPC_ADDR", "127.0.0.1:0")],
    );
    let trace = trace_id();
    let (a1, b2, c3) = ("00000000000000a1", "00000000000000b2", "00000000000000c3");
    let events = [
        hop("cv-gw", &trace, "api-gateway", "", "checkout.purchase", a1),
        hop("cv-chk", &trace, "checkout", a1, "payment.charge", b2),
        hop("cv-pmt", &trace, "payment", b2, "acquirer.charge", c3),
    ];
    let v = server.ingest(&events);
    assert_eq!(v["accepted"], json!(3), "{v}");
    let url = server.url.as_str();
    let cli = |args: &[&str]| {
        let mut all = vec!["--addr", url];
        all.extend_from_slice(args);
        waylog_cli(&all)
    };

    let out = cli(&["capabilities"]);
    let text = ok(&out);
    assert!(text.starts_with("version: "), "{text}");
    assert!(text.contains("\nquery: enabled default_limit="), "{text}");
    // The spec's lines end with `mcp`; the background jobs' states follow (issue 18).
    let (spec, jobs) = text
        .split_once("mcp: stdio=true http=true\n")
        .expect("the mcp line");
    assert!(!spec.contains("job "), "{text}");
    assert_eq!(
        jobs,
        "job wal_writer: ok\njob flusher: ok\njob index_warmer: ok\njob incident_engine: ok\n"
    );

    let out = cli(&["errors", "--window", "1h"]);
    let text = ok(&out);
    assert!(text.starts_with("ERROR FAMILY  "), "{text}");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[0].starts_with("api-gateway:checkout.purchase:PMT_502  1 "));
    assert!(rows[2].starts_with("payment:acquirer.charge:PMT_502"));
    assert!(rows[0].ends_with(&trace), "{text}");

    let out = cli(&["rollup"]);
    let text = ok(&out);
    assert!(
        text.starts_with("window: 1h0m0s  failed_traces: 1  failed_events: 3\n\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "\nPMT_502     1           3           1       3         payment:acquirer.charge\n"
        ),
        "{text}"
    );

    let out = cli(&["recent", "--status", "error"]);
    let text = ok(&out);
    assert!(text.starts_with("TRACE  "), "{text}");
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.starts_with(&format!(
            "{trace}  error   api-gateway -> checkout -> payment  "
        )),
        "{row}"
    );
    assert!(row.contains("payment:acquirer.charge:PMT_502"), "{row}");

    // By trace id (the event lookup 404s, explain retries as a trace): the origin is payment.
    let out = cli(&["explain", &trace]);
    let text = ok(&out);
    assert!(
        text.contains("event_id: cv-pmt\nservice: payment\nroute: /payment\n"),
        "{text}"
    );
    assert!(text.contains("linkage: causal\n"), "{text}");
    assert!(text.contains("first observable failing step:\n  acquirer.charge -> PMT_502\n"));
    assert!(text.contains("  acquirer.charge  error  40 ms  acquirer returned 502\n"));
    assert!(
        text.contains("logs:\n  +30 ms [error] charge failed\n"),
        "{text}"
    );
    let out = cli(&["explain", "cv-chk"]);
    assert!(ok(&out).contains("linkage: direct\n"), "{out:?}");
    let out = cli(&["--json", "explain", "--trace", &trace]);
    let v: Value = serde_json::from_str(ok(&out)).unwrap();
    assert_eq!(v["event_id"], json!("cv-pmt"));
    assert!(
        out.stdout.starts_with("{\n  \"trace_id\": "),
        "{}",
        out.stdout
    );

    let out = cli(&["trace", &trace]);
    let text = ok(&out);
    assert!(text.starts_with(&format!("trace_id: {trace}\nlinkage: causal\n\nEVENT ")));
    let ids: Vec<&str> = text
        .lines()
        .skip(4)
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(ids, ["cv-gw", "cv-chk", "cv-pmt"], "{text}");

    let out = cli(&["event", "cv-chk"]);
    let text = ok(&out);
    assert!(text.starts_with(&format!("event_id: cv-chk\ntrace_id: {trace}\nservice: checkout\nstatus: error\nduration_ms: 50\nroute: /checkout\n")), "{text}");
    assert!(
        text.ends_with("anchor: payment.charge -> PMT_502\nsteps: 1\nlogs: 1\ndownstream: 0\n"),
        "{text}"
    );

    let out = cli(&["search", "PMT_502", "--service", "payment"]);
    let text = ok(&out);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("cv-pmt  error   payment  {trace}  ")),
        "{text}"
    );
    let out = cli(&["search", "--error-code", "NOPE"]);
    assert_eq!(ok(&out), "No events found.\n");
    let out = cli(&["search", "PMT_502", "--trace-id", &trace]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.starts_with("usage: waylog search"), "{out:?}");

    let out = cli(&["blast", "PMT_502"]);
    let text = ok(&out);
    assert!(text.starts_with("view_mode: cross_family\nkey: PMT_502\nwindow: 1h0m0s\naffected_requests: 1\naffected_users: 1\naffected_services: 3\n"), "{text}");
    assert!(
        text.ends_with(&format!("sample_traces:\n  {trace}\n")),
        "{text}"
    );
    let out = cli(&["blast", "payment:acquirer.charge:PMT_502"]);
    assert!(
        ok(&out).starts_with("view_mode: single_family\nkey: payment:acquirer.charge:PMT_502\n")
    );

    // Errors: unknown event → 404 → exit 3 with `<code>: <message>` on stderr.
    let out = cli(&["event", "nope"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stderr, "not_found: event not found\n");
    assert!(out.stdout.is_empty());
    let out = cli(&["errors", "--window", "nonsense"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stderr, "bad_request: invalid window\n");
    let out = cli(&["explain", "no-such-thing"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stderr, "not_found: trace story not found\n");
    server.stop_graceful();
}
