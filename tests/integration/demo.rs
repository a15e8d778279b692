//! `waylog demo` end to end (spec triage §8): the real binary with every port 0 and a temp
//! data dir. The services answer on real listeners and link their events by `traceparent`;
//! `/purchase` and `/demo/burst` follow §8.1-8.2; the engine opens the PMT_502 incident; the
//! shipped scripts pass against the running demo; `--exit` prints the whole story; a taken
//! port is a clear error.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

/// Startup of a debug build on a busy 2-core machine.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

/// Every port of the demo at 0.
const ANY_PORTS: [&str; 10] = [
    "--listen",
    "127.0.0.1:0",
    "--gateway-port",
    "0",
    "--checkout-port",
    "0",
    "--payment-port",
    "0",
    "--db-port",
    "0",
];

/// A running `waylog demo` (no `WAYLOG_*` from the test environment); SIGKILLed on drop.
/// Also drives the dashboard's browser test (`ui.rs`).
pub(crate) struct Demo {
    child: Option<Child>,
    pid: u32,
    /// `http://127.0.0.1:PORT` of waylog.
    pub(crate) waylog: String,
    /// `http://127.0.0.1:PORT` of the api-gateway.
    pub(crate) gateway: String,
    /// The other stdout lines, as they come.
    lines: mpsc::Receiver<String>,
    agent: ureq::Agent,
    _dir: TestDir,
}

impl Demo {
    /// Start with every port 0, a fresh data dir, tick 1s and `extra` flags; wait for the
    /// four `listening:` lines.
    pub(crate) fn start(extra: &[&str]) -> Demo {
        let dir = TestDir::new();
        let mut cmd = Command::new(BIN);
        cmd.arg("demo")
            .args(ANY_PORTS)
            .arg("--data-dir")
            .arg(dir.data_dir())
            .args(["--tick", "1s"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, _) in std::env::vars() {
            if k.starts_with("WAYLOG_") {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd.spawn().unwrap();
        let pid = child.id();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut demo = Demo {
            child: Some(child),
            pid,
            waylog: String::new(),
            gateway: String::new(),
            lines: rx,
            agent: agent(),
            _dir: dir,
        };
        let mut services = Vec::new();
        while services.len() < 4 {
            let line = demo.next_line();
            if let Some(url) = line.strip_prefix("waylog listening on ") {
                demo.waylog = url.to_string();
            } else if let Some(rest) = line.strip_prefix("listening: ") {
                let (name, url) = rest.split_once(' ').unwrap();
                assert!(url.starts_with("http://127.0.0.1:"), "{line}");
                assert!(!url.ends_with(":0"), "{line}");
                services.push(name.to_string());
                if name == "api-gateway" {
                    demo.gateway = url.to_string();
                }
            }
        }
        assert_eq!(services, ["api-gateway", "checkout", "payment", "db"]);
        assert!(
            demo.waylog.starts_with("http://127.0.0.1:"),
            "{}",
            demo.waylog
        );
        demo
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(STARTUP_TIMEOUT)
            .unwrap_or_else(|e| panic!("waylog demo printed nothing more ({e})"))
    }

    fn get(&self, url: String) -> Resp {
        read_resp(self.agent.get(url).call()).unwrap()
    }

    fn post(&self, url: String, body: &str) -> Resp {
        try_post(
            &self.agent,
            &url,
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
        .unwrap()
    }

    fn purchase(&self, query: &str) -> Resp {
        self.post(format!("{}/purchase{query}", self.gateway), "")
    }

    pub(crate) fn burst(&self, body: &str) -> Resp {
        self.post(format!("{}/demo/burst", self.gateway), body)
    }

    /// The events of `trace_id` in waylog.
    fn trace_events(&self, trace_id: &str) -> Vec<Value> {
        let r = self.get(format!("{}/v1/traces/{trace_id}", self.waylog));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["events"].as_array().unwrap().clone()
    }

    /// SIGTERM and wait (by pid).
    fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let ok = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("waylog demo did not stop within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn by_service<'a>(events: &'a [Value], service: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["service"] == service)
        .unwrap_or_else(|| panic!("no {service} event in {events:#?}"))
}

fn step_span(event: &Value, step: &str) -> String {
    event["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == step)
        .unwrap_or_else(|| panic!("no step {step} in {event}"))["span_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn services_of(events: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = events
        .iter()
        .map(|e| e["service"].as_str().unwrap().to_string())
        .collect();
    s.sort();
    s
}

/// `/purchase?scenario=<s>`: the client status, the body, and the trace in waylog with every
/// callee's `parent_span_id` = its caller's call-step span id (the `traceparent` sent).
fn check_purchase(demo: &Demo, scenario: &str, status: u16) -> Vec<Value> {
    let r = demo.purchase(&format!("?scenario={scenario}"));
    assert_eq!(r.status, status, "{scenario}: {}", r.body);
    let body = r.json();
    assert_eq!(body["scenario"], scenario);
    assert_eq!(body["status"], status);
    let trace = body["trace_id"].as_str().unwrap();
    assert!(
        trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()),
        "{trace}"
    );
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "{body}");
    let events = demo.trace_events(trace);
    let gw = by_service(&events, "api-gateway");
    let co = by_service(&events, "checkout");
    assert_eq!(gw["parent_span_id"].as_str().unwrap_or(""), "");
    assert_eq!(co["parent_span_id"], step_span(gw, "checkout.purchase"));
    assert_eq!(gw["fields"]["http"]["status"], status);
    for e in &events {
        assert_eq!(e["env"], "demo");
        assert_eq!(e["version"], "0.1.0");
        assert_eq!(e["fields"]["user"], gw["fields"]["user"], "{e}");
        for k in ["method", "route", "status"] {
            assert!(!e["fields"]["http"][k].is_null(), "{e}");
        }
    }
    if scenario != "checkout_panic" {
        let db = by_service(&events, "db");
        let pay = by_service(&events, "payment");
        assert_eq!(db["parent_span_id"], step_span(co, "db.load_cart"));
        assert_eq!(pay["parent_span_id"], step_span(co, "payment.charge"));
    }
    events
}

#[test]
fn demo_services_answer_link_traces_and_open_the_incident() {
    let demo = Demo::start(&["--requests", "0", "--seed", "11"]);

    let r = demo.get(format!("{}/healthz", demo.gateway));
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    let r = demo.get(format!("{}/demo", demo.gateway));
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    for needle in [
        "/demo/burst",
        "/purchase?scenario=",
        "payment_502",
        &demo.waylog,
    ] {
        assert!(r.body.contains(needle), "{needle} missing from the page");
    }

    // §8.1, one scenario at a time.
    let happy = check_purchase(&demo, "happy", 200);
    assert_eq!(
        services_of(&happy),
        ["api-gateway", "checkout", "db", "payment"]
    );
    assert!(happy.iter().all(|e| e["status"] == "ok"));
    assert_eq!(
        by_service(&happy, "checkout")["steps"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    let p = check_purchase(&demo, "payment_502", 502);
    let co = by_service(&p, "checkout");
    assert_eq!(co["status"], "error");
    assert_eq!(co["anchor"]["step"], "payment.charge");
    assert_eq!(co["anchor"]["error_code"], "PMT_502");
    let pay = by_service(&p, "payment");
    assert_eq!(
        (&pay["status"], &pay["fields"]["http"]["status"]),
        (&"ok".into(), &502.into())
    );

    let s = check_purchase(&demo, "suppressed_payment_502", 502);
    assert_eq!(by_service(&s, "checkout")["status"], "suppressed");
    assert_eq!(by_service(&s, "payment")["status"], "suppressed");

    let c = check_purchase(&demo, "checkout_panic", 500);
    assert_eq!(services_of(&c), ["api-gateway", "checkout"]);
    assert_eq!(
        by_service(&c, "checkout")["anchor"]["error_code"],
        "WAYLOG_PANIC"
    );

    let r = demo.purchase("");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["scenario"], "happy");
    let r = demo.purchase("?scenario=nope");
    assert_eq!(r.status, 400);
    let e = r.json();
    assert_eq!(e["error"]["code"], "bad_request");
    assert_eq!(e["error"]["detail"], "unknown scenario: nope");

    // §8.2 body rules.
    for bad in [r#"{"requests": 5, "seed": 1}"#, r#"{"requests": "5"}"#, "{"] {
        let r = demo.burst(bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], "bad_request");
    }
    let r = demo.burst(r#"{"requests": -4, "concurrency": 999}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["requested"], 1);

    // §8.2 answer, reproducible by --seed.
    let a = demo.burst(r#"{"requests": 20, "concurrency": 5}"#);
    assert_eq!(a.status, 200, "{}", a.body);
    let a = a.json();
    let mut keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    let mut want = [
        "requested",
        "accepted",
        "signals",
        "duration_ms",
        "by_scenario",
        "ok",
        "errors",
        "suppressed",
        "sample_trace_ids",
    ];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(a["requested"], 20);
    assert_eq!(a["accepted"], 20);
    let n = |v: &Value| v.as_u64().unwrap();
    assert_eq!(n(&a["ok"]) + n(&a["errors"]) + n(&a["suppressed"]), 20);
    let by = a["by_scenario"].as_object().unwrap();
    assert_eq!(by.values().map(n).sum::<u64>(), 20);
    assert!(n(&by["payment_502"]) >= 6, "{a}");
    assert!(n(&by["checkout_panic"]) >= 1, "{a}");
    assert_eq!(a["sample_trace_ids"].as_array().unwrap().len(), by.len());
    let signals: Vec<String> = a["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["accepted"], true, "{s}");
            assert_eq!(s["status"], 201, "{s}");
            assert!(s["signal_id"].as_str().unwrap().starts_with("sig_"), "{s}");
            format!(
                "{}:{}:{}",
                s["type"].as_str().unwrap(),
                s["service"].as_str().unwrap(),
                s["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        signals,
        [
            "deploy:checkout:demo_checkout_rollout",
            "dependency:payment:payment_gateway_5xx"
        ]
    );
    let b = demo.burst(r#"{"requests": 20, "concurrency": 5}"#).json();
    assert_eq!(a["by_scenario"], b["by_scenario"]);
    assert_ne!(a["sample_trace_ids"], b["sample_trace_ids"]);

    // The runtime signal of checkout_panic.
    let r = demo.get(format!(
        "{}/v1/signals?type=runtime&service=checkout",
        demo.waylog
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let runtime = r.json()["signals"].as_array().unwrap().clone();
    assert!(!runtime.is_empty());
    let sig = &runtime[0];
    assert_eq!(
        (
            &sig["source"],
            &sig["env"],
            &sig["severity"],
            &sig["reason"],
            &sig["metadata"]["subtype"]
        ),
        (
            &"waylog-demo".into(),
            &"demo".into(),
            &"critical".into(),
            &"panic".into(),
            &"panic".into()
        )
    );

    // §8.3: the engine (tick 1s) opens the dependency incident.
    let deadline = Instant::now() + Duration::from_secs(60);
    let incident = loop {
        let v = demo
            .get(format!("{}/v1/incidents/active", demo.waylog))
            .json();
        let found = v["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| {
                let f = &i["error_family"];
                f["service"] == "checkout"
                    && f["step"] == "payment.charge"
                    && f["error_code"] == "PMT_502"
            })
            .cloned();
        if let Some(i) = found {
            break i;
        }
        assert!(Instant::now() < deadline, "no PMT_502 incident: {v}");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(incident["status"], "active");
    assert_eq!(incident["cause"], "dependency");
    assert_eq!(incident["env"], "demo");

    let status = demo.terminate();
    assert!(status.success(), "{status}");
}

#[test]
fn demo_scripts_pass_against_the_running_demo() {
    let demo = Demo::start(&["--requests", "0"]);
    let artifacts = TestDir::new();
    let run = |script: &str| {
        let path = format!("{}/scripts/{script}", env!("CARGO_MANIFEST_DIR"));
        let mut cmd = Command::new("bash");
        cmd.arg(&path);
        for (k, _) in std::env::vars() {
            if k.starts_with("WAYLOG_") {
                cmd.env_remove(k);
            }
        }
        let out = cmd
            .env("WAYLOG_BIN", BIN)
            .env("WAYLOG_URL", &demo.waylog)
            .env("DEMO_GATEWAY_URL", &demo.gateway)
            .env("WAYLOG_CLI_TIMEOUT", "30s")
            .env("ARTIFACTS_DIR", artifacts.data_dir())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{script}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        stdout
    };
    let acceptance = run("demo-acceptance.sh");
    let passes: Vec<&str> = acceptance
        .lines()
        .filter_map(|l| l.strip_prefix("PASS: "))
        .collect();
    let expected_starts = [
        "gateway GET /demo and /healthz answer 200",
        "waylog capabilities",
        "traffic burst captured (20 requests / 5 concurrency)",
        "burst signals accepted: deploy:checkout:demo_checkout_rollout, dependency:payment:payment_gateway_5xx",
        "waylog errors lists checkout:payment.charge:PMT_502",
        "waylog recent",
        "waylog blast checkout:payment.charge:PMT_502 --window 15m",
        "waylog explain ",
        "waylog search PMT_502",
        "waylog event ",
        "active incident inc_",
        "waylog incident inc_",
    ];
    assert_eq!(passes.len(), expected_starts.len(), "{acceptance}");
    for (got, want) in passes.iter().zip(expected_starts) {
        assert!(got.starts_with(want), "{got:?} should start with {want:?}");
    }
    assert!(
        acceptance.ends_with("Demo acceptance passed.\n"),
        "{acceptance}"
    );
    assert!(!acceptance.contains("FAIL:"), "{acceptance}");

    let rollup = run("rollup-comparison.sh");
    assert!(
        rollup.starts_with("Rollup comparison\n  workload: 20 demo requests, concurrency 5\n"),
        "{rollup}"
    );
    let field = |label: &str| -> i64 {
        let line = rollup
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap();
        line.rsplit([':', '='])
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let (root, services, naive) = (
        field("root-cause counted PMT_502:"),
        field("affected services:"),
        field("naive propagated count:"),
    );
    assert!(
        root >= 6 && services == 4 && naive == root * services,
        "{rollup}"
    );
    assert!(rollup.ends_with(
        "PASS: waylog counts the root cause once per failed request instead of once per propagated service hop.\n"
    ));

    // The RCA scorecard (spec triage §8.4): every check true on the demo's incident, the
    // report hash stable, and the report it names is the one the server builds.
    let scorecard = run("rca-scorecard.sh");
    assert!(scorecard.starts_with("RCA scorecard\n"), "{scorecard}");
    assert!(scorecard.ends_with("PASS: RCA scorecard\n"), "{scorecard}");
    let card: Value = serde_json::from_str(
        &std::fs::read_to_string(artifacts.data_dir().join("scorecard.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(card["root_cause_accuracy"], true, "{card}");
    assert_eq!(card["cause_classification"], true, "{card}");
    assert_eq!(
        card["evidence_completeness"],
        json!({"trace_present": true, "dependency_signal_present": true,
               "alert_present": true, "next_checks_present": true}),
        "{card}"
    );
    assert_eq!(card["scenario"], "cold-demo");
    assert_eq!(card["report_hash_stable"], true);
    let (root, naive) = (
        card["root_cause_count"].as_i64().unwrap(),
        card["naive_propagated_count"].as_i64().unwrap(),
    );
    assert!(root > 0 && naive > root, "{card}");
    assert_eq!(card["propagated_error_inflation_avoided"], naive - root);
    assert!(card["triage_latency_ms"].as_i64().unwrap() > 0);
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(artifacts.data_dir().join("scorecard-report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["report_hash"], card["report_hash"]);
    assert!(
        report["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["alert_id"]
                .as_str()
                .unwrap()
                .starts_with("alert_scorecard_pmt_502_")),
        "{report}"
    );
    drop(demo);
}

/// `bash scripts/<name>` with none of the caller's `WAYLOG_*` / `DEMO_GATEWAY_URL`, so the
/// script starts its own demo with this build's binary.
fn own_demo_script(name: &str) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR")));
    for (k, _) in std::env::vars() {
        if k.starts_with("WAYLOG_") || k == "DEMO_GATEWAY_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.env("WAYLOG_BIN", BIN).env("WAYLOG_CLI_TIMEOUT", "30s");
    cmd
}

#[test]
fn demo_rollup_comparison_starts_its_own_demo_without_waylog_url() {
    let out = own_demo_script("rollup-comparison.sh").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("PASS: waylog counts the root cause once"),
        "{stdout}"
    );
}

#[test]
fn demo_exit_prints_the_whole_story() {
    let dir = TestDir::new();
    let data = dir.data_dir();
    let mut args = vec!["demo"];
    args.extend(ANY_PORTS);
    args.extend([
        "--data-dir",
        data.to_str().unwrap(),
        "--seed",
        "7",
        "--tick",
        "1s",
        "--exit",
    ]);
    let out = waylog_cli(&args);
    assert_eq!(out.code, 0, "{out:?}");
    let s = &out.stdout;
    for name in ["api-gateway", "checkout", "payment", "db"] {
        assert!(
            s.contains(&format!("listening: {name} http://127.0.0.1:")),
            "{s}"
        );
    }
    assert!(
        s.contains("signals posted: deploy:checkout:demo_checkout_rollout, dependency:payment:payment_gateway_5xx"),
        "{s}"
    );
    assert!(
        s.contains(
            "demo burst through the api-gateway: 50 requests (concurrency 10, seed 7), 50 completed"
        ),
        "{s}"
    );
    let field = |label: &str| -> i64 {
        let line = s
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label:?} in {s}"));
        let tail = line.rsplit([':', '=']).next().unwrap().trim();
        tail.parse()
            .unwrap_or_else(|_| panic!("not a number in {line:?}"))
    };
    let root = field("root-cause count:");
    let naive = field("naive per-hop count:");
    let services = field("affected services:");
    assert!(root >= 6, "{s}");
    assert!(services > 1, "{s}");
    assert!(naive > root, "{s}");
    assert!(s.contains("explained trace:"), "{s}");
    assert!(s.contains("payment.charge -> PMT_502"), "{s}");
    assert!(s.contains("linkage: causal"), "{s}");
    assert!(s.contains("payment.charge -> payment POST /pay"), "{s}");
    assert!(
        s.contains("blast radius of checkout:payment.charge:PMT_502:"),
        "{s}"
    );
    // The incident (spec triage §8.3).
    let incident = s
        .split("active incident for checkout:payment.charge:PMT_502:")
        .nth(1)
        .unwrap_or_else(|| panic!("no incident section in {s}"));
    assert!(
        incident.contains("status active  cause dependency (high)"),
        "{incident}"
    );
    for needle in [
        "Family: checkout:payment.charge:PMT_502",
        "- trace: First failing trace sample (payment.charge/PMT_502)",
        "- signal: Dependency payment: payment_gateway_5xx",
        "- runtime: Runtime checkout: panic (waylog-demo) (panic)",
        "for the failing call to `payment`.",
        "`payment_gateway_5xx` on `payment`.",
    ] {
        assert!(incident.contains(needle), "{needle}: {incident}");
    }
    assert!(
        !incident.contains("Deploy checkout"),
        "the demo-v2.1 deploy must not match: {incident}"
    );
    // The triage report of the incident follows.
    assert!(
        incident.contains("triage report (GET /v1/triage/inc_"),
        "{incident}"
    );
    assert!(incident.contains("/report?format=markdown):"), "{incident}");
    // Graceful stop: the data directory lock is released and the WAL is there.
    assert!(data.join("wal").exists());
    assert!(!s.contains("keeps running"), "{s}");
}

#[test]
fn demo_taken_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = TestDir::new();
    let data = dir.data_dir();
    for flag in ["--gateway-port", "--db-port"] {
        // Every port 0 but `flag`, which gets the taken one.
        let mut args = vec!["demo"];
        for pair in ANY_PORTS.chunks(2) {
            args.extend([
                pair[0],
                if pair[0] == flag {
                    port.as_str()
                } else {
                    pair[1]
                },
            ]);
        }
        args.extend(["--data-dir", data.to_str().unwrap(), "--exit"]);
        let out = waylog_cli(&args);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains(&format!("127.0.0.1:{port}")), "{out:?}");
        assert!(out.stderr.contains(flag), "{out:?}");
        assert!(!out.stderr.contains("panicked"), "{out:?}");
        assert!(!out.stdout.contains("listening: "), "{out:?}");
    }
    let out = waylog_cli(&[
        "demo",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
        data.to_str().unwrap(),
        "--exit",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--listen"), "{out:?}");
    drop(taken);
}

#[test]
fn proof_loop_report_hash_is_stable_across_cli_read_tool_and_plan() {
    let dir = TestDir::new();
    let proof = dir.data_dir().join("proof");
    let out = own_demo_script("proof-loop.sh")
        .env("PROOF_DIR", &proof)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("PASS: report_hash stable across CLI/read/tool/plan (sha256:"),
        "{stdout}"
    );
    assert!(stdout.ends_with("Proof loop passed.\n"), "{stdout}");
    // The demo's full report (alerts, signals, traces, suspect change) fits the tool's
    // declared output schema.
    let tool: Value =
        serde_json::from_slice(&std::fs::read(proof.join("tool.json")).unwrap()).unwrap();
    let schema = &waylog::agent::registry::find("triage_incident")
        .unwrap()
        .output_schema;
    let validator = jsonschema::validator_for(schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&tool)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{tool}");
}
