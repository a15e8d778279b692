//! `waylog demo`: one command that tells the whole story on the embedded default storage.
//!
//! 1. Start waylog in-process on `--listen` (default `127.0.0.1:8080`, port 0 allowed) with
//!    data dir `--data-dir` (default `./waylog-data`), or target a running server (`--addr`).
//! 2. Generate a burst of demo requests (topology and scenarios of spec triage §8.1, mix of
//!    §8.2; [`crate::demo::scenario`]) and POST it to `/v1/events` as NDJSON batches.
//! 3. Read it back through the read API and print the report: top error families
//!    (`/v1/errors`), the root-cause rollup of `PMT_502` next to the naive per-hop count
//!    (`/v1/rollups/root_cause`, naive = root-cause count × affected services as in
//!    `scripts/rollup-comparison.sh`), one explained trace (`/v1/traces/story`) and the blast
//!    radius (`/v1/blast_radius`).
//! 4. Keep serving until SIGINT/SIGTERM so the user can explore with the CLI, or with `--exit`
//!    shut down gracefully (in-flight requests drained, storage closed) after the report.
//!
//! 5. Before the burst the demo posts the deploy and dependency signals of §8.2 (and one
//!    runtime signal per `checkout_panic` request); after the read-model report it waits (up to
//!    `--incident-wait` seconds, engine tick `--tick`, default 5s) for the active
//!    `checkout:payment.charge:PMT_502` incident and prints it with its snapshot.
//!
//! Not implemented: the per-service HTTP listeners and the gateway routes of §8 (`GET /demo`,
//! `POST /purchase`, `POST /demo/burst`) and the triage-report parts of §8.3-8.4.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde_json::Value;
use tokio::sync::watch;

use super::verbs::percent_encode as enc;
use super::{
    CliError, EXIT_CLIENT, EXIT_SERVER, EXIT_TRANSPORT, EXIT_USAGE, env_nonempty, http_agent,
    normalize_url,
};
use crate::api::{AppState, router, start_storage};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::demo::scenario::{Burst, DemoGen, PMT_502_FAMILY, Scenario};
use crate::demo::traffic::ndjson;
use crate::storage::error_chain;

/// `waylog demo` flags (the global `--addr` targets a running server instead).
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Listen address of the in-process server (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Data directory of the in-process server.
    #[arg(long, default_value = "./waylog-data")]
    pub data_dir: PathBuf,
    /// Number of simulated requests in the burst (1..=250).
    #[arg(long, default_value = "50")]
    pub requests: usize,
    /// Seed of the scenario draws (default: random).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Read window of the report.
    #[arg(long, default_value = "15m")]
    pub window: String,
    /// Write key for `/v1/events` when targeting a server (default WAYLOG_WRITE_KEY).
    #[arg(long, hide_env_values = true)]
    pub write_key: Option<String>,
    /// Stop after the report instead of serving.
    #[arg(long)]
    pub exit: bool,
    /// Incident engine tick of the in-process server (spec: 5s for the demo).
    #[arg(long, default_value = "5s")]
    pub tick: String,
    /// Seconds to wait for the incident before printing the report without it.
    #[arg(long, default_value = "20")]
    pub incident_wait: u64,
}

fn err(code: i32, message: impl Into<String>) -> CliError {
    CliError {
        code,
        message: message.into(),
    }
}

/// A tiny blocking HTTP client for the demo's own calls.
struct Http {
    base: String,
    read_key: Option<String>,
    write_key: Option<String>,
    agent: ureq::Agent,
}

impl Http {
    fn new(base: &str, read_key: Option<String>, write_key: Option<String>) -> Http {
        Http {
            base: normalize_url(base),
            read_key,
            write_key,
            agent: http_agent(Duration::from_secs(30)),
        }
    }

    /// The body of a 2xx response; transport errors and other statuses as CLI errors.
    fn body(
        path: &str,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<String, CliError> {
        let mut r = r.map_err(|e| err(EXIT_TRANSPORT, format!("transport error: {path}: {e}")))?;
        let status = r.status().as_u16();
        let text = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| err(EXIT_TRANSPORT, format!("transport error: {path}: {e}")))?;
        if !(200..300).contains(&status) {
            let code = if status >= 500 {
                EXIT_SERVER
            } else {
                EXIT_CLIENT
            };
            return Err(err(code, format!("{path}: http_{status}: {}", text.trim())));
        }
        Ok(text)
    }

    fn finish(
        path: &str,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, CliError> {
        let text = Self::body(path, r)?;
        serde_json::from_str(&text)
            .map_err(|e| err(EXIT_TRANSPORT, format!("{path}: undecodable response: {e}")))
    }

    fn get_request(&self, path: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(k) = &self.read_key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        req
    }

    fn get(&self, path: &str) -> Result<Value, CliError> {
        Self::finish(path, self.get_request(path).call())
    }

    fn post_json(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json");
        if let Some(k) = &self.write_key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        Self::finish(path, req.send(body.to_string()))
    }

    /// A plain-text GET (the incident snapshot).
    fn get_text(&self, path: &str) -> Result<String, CliError> {
        Self::body(path, self.get_request(path).call())
    }

    fn post_ndjson(&self, path: &str, body: String) -> Result<Value, CliError> {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-ndjson");
        if let Some(k) = &self.write_key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        Self::finish(path, req.send(body))
    }
}

/// Entry point of `waylog demo`. Prints as it goes (the report, then the serving hint);
/// returns the empty string on success.
pub fn run(
    addr: Option<String>,
    api_key: Option<String>,
    args: DemoArgs,
) -> Result<String, CliError> {
    if !(1..=250).contains(&args.requests) {
        return Err(err(
            EXIT_USAGE,
            "usage: waylog demo --requests must be in 1..=250",
        ));
    }
    if crate::duration::parse_duration(&args.window).is_none_or(|d| d.is_zero()) {
        return Err(err(
            EXIT_USAGE,
            format!(
                "usage: waylog demo --window <duration>: invalid {:?}",
                args.window
            ),
        ));
    }
    let read_key = api_key.or_else(|| env_nonempty("WAYLOG_READ_KEY"));
    let write_key = args
        .write_key
        .clone()
        .or_else(|| env_nonempty("WAYLOG_WRITE_KEY"));
    if let Some(addr) = addr {
        let http = Http::new(&addr, read_key, write_key);
        let report = story(&http, &args)?;
        print!("{report}");
        return Ok(String::new());
    }
    let listen: SocketAddr = args.listen.trim().parse().map_err(|_| {
        err(
            EXIT_USAGE,
            format!(
                "usage: waylog demo --listen <addr>: invalid {:?}",
                args.listen
            ),
        )
    })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| err(EXIT_SERVER, format!("internal_error: {e}")))?;
    let mut config = Config::for_data_dir(args.data_dir.clone());
    config.addr = listen;
    config.incidents.tick = crate::duration::parse_duration(&args.tick)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            err(
                EXIT_USAGE,
                format!(
                    "usage: waylog demo --tick <duration>: invalid {:?}",
                    args.tick
                ),
            )
        })?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(listen))
        .map_err(|e| err(EXIT_TRANSPORT, format!("cannot listen on {listen}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| err(EXIT_TRANSPORT, e.to_string()))?;
    println!("waylog listening on http://{bound}");
    let state = AppState::new(config, Arc::new(SystemClock));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (exit_tx, mut exit_rx) = watch::channel(false);
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let sig_state = state.clone();
    let stop_for_signal = stop_tx.clone();
    let server = rt.spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = crate::api::shutdown_signal() => {}
                    _ = exit_rx.wait_for(|v| *v) => {}
                }
                sig_state.begin_shutdown();
                let _ = stop_for_signal.send(true);
            })
            .await
    });
    let storage = match rt.block_on(start_storage(&state, stop_rx)) {
        Ok(s) => s,
        Err(e) => {
            server.abort();
            return Err(err(
                EXIT_TRANSPORT,
                format!("data dir error: {}", error_chain(e.as_ref())),
            ));
        }
    };
    let http = Http::new(&format!("http://{bound}"), read_key, write_key);
    let result = story(&http, &args);
    match &result {
        Ok(report) => {
            print!("{report}");
            if !args.exit {
                println!();
                println!("waylog keeps serving on http://{bound} (Ctrl-C to stop). Explore:");
                println!(
                    "  waylog --addr http://{bound} query \"SELECT service, status, count(*) AS n FROM events GROUP BY 1, 2 ORDER BY 1, 2\""
                );
                println!("  curl 'http://{bound}/v1/errors?window={}'", args.window);
                println!(
                    "  curl 'http://{bound}/v1/rollups/root_cause?window={}'",
                    args.window
                );
            }
        }
        Err(_) => {
            let _ = exit_tx.send(true);
        }
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    if args.exit {
        let _ = exit_tx.send(true);
    }
    let served = rt.block_on(server);
    let _ = stop_tx.send(true);
    rt.block_on(state.background.join(crate::api::BACKGROUND_GRACE));
    let closed = rt.block_on(rt.spawn_blocking(move || storage.close()));
    result?;
    match served {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(err(EXIT_SERVER, format!("server error: {e}"))),
        Err(e) => return Err(err(EXIT_SERVER, format!("server task failed: {e}"))),
    }
    match closed {
        Ok(Ok(())) => Ok(String::new()),
        Ok(Err(e)) => Err(err(EXIT_SERVER, format!("storage close failed: {e:#}"))),
        Err(e) => Err(err(EXIT_SERVER, format!("storage close failed: {e}"))),
    }
}

/// Send the burst and build the report text.
fn story(http: &Http, args: &DemoArgs) -> Result<String, CliError> {
    let seed = args.seed.unwrap_or_else(rand::random);
    let now = SystemClock.now_ns();
    // Requests spread over the last few seconds, all inside any sensible window.
    let spacing_ns = 20_000_000;
    let start = now - args.requests as i64 * spacing_ns - 1_000_000_000;
    let burst = DemoGen::new(seed).burst(args.requests, start, spacing_ns);
    let signals = post_signals(http, &burst, now)?;
    let (accepted, rejected) = send_burst(http, &burst)?;
    let mut out = String::new();
    let by: Vec<String> = burst
        .by_scenario
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    out.push_str(&format!("signals posted: {}\n", signals.join(", ")));
    out.push_str(&format!(
        "demo burst: {} requests (seed {seed}), {} events accepted, {rejected} rejected\n  scenarios: {}\n  ok {}, errors {}, suppressed {}\n",
        burst.requests.len(),
        accepted,
        by.join(", "),
        burst.ok(),
        burst.errors(),
        burst.suppressed()
    ));
    let w = enc(&args.window);

    // Top error families; wait briefly until the burst is readable.
    let mut errors = Value::Null;
    for _ in 0..50 {
        errors = http.get(&format!("/v1/errors?window={w}&limit=10"))?;
        let has = errors["rows"]
            .as_array()
            .is_some_and(|rows| rows.iter().any(|r| family_of(r) == PMT_502_FAMILY));
        if has
            || !burst
                .requests
                .iter()
                .any(|r| r.scenario == Scenario::Payment502)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    out.push_str(&format!("\ntop error families (window {}):\n", args.window));
    let rows = errors["rows"].as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        out.push_str("  none\n");
    }
    let fams: Vec<String> = rows.iter().map(family_of).collect();
    let fw = fams.iter().map(String::len).max().unwrap_or(0);
    for (r, f) in rows.iter().zip(&fams) {
        out.push_str(&format!(
            "  {f:<fw$}  count {:>4}  traces {:>4}  users {}\n",
            num(&r["count"]),
            num(&r["affected_traces"]),
            num(&r["affected_users"]),
        ));
    }

    // Root-cause rollup of PMT_502 vs the naive per-hop count.
    let rollup = http.get(&format!("/v1/rollups/root_cause?window={w}&limit=50"))?;
    let row = rollup["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["error_code"] == "PMT_502"))
        .cloned()
        .unwrap_or(Value::Null);
    let root = row["root_cause_count"].as_i64().unwrap_or(0);
    let propagated = row["propagated_count"].as_i64().unwrap_or(0);
    let services = row["affected_services"].as_i64().unwrap_or(0);
    out.push_str("\nroot-cause rollup vs naive per-hop count (PMT_502):\n");
    out.push_str(&format!("  root-cause count:       {root}\n"));
    out.push_str(&format!("  propagated (anchored):  {propagated}\n"));
    out.push_str(&format!(
        "  affected traces:        {}\n",
        num(&row["affected_traces"])
    ));
    out.push_str(&format!("  affected services:      {services}\n"));
    out.push_str(&format!(
        "  naive per-hop count:    {root} * {services} = {}\n",
        root * services
    ));
    if let Some(origins) = row["origins"].as_array() {
        for o in origins {
            out.push_str(&format!(
                "  origin: {}:{} ({})\n",
                o["service"].as_str().unwrap_or(""),
                o["step"].as_str().unwrap_or(""),
                num(&o["count"])
            ));
        }
    }
    out.push_str(
        "  waylog counts each failed request once, under its originating failure, instead of once per service hop it touched.\n",
    );

    // One explained trace: the first payment_502 request (else the first failing one).
    let sample = burst
        .requests
        .iter()
        .find(|r| r.scenario == Scenario::Payment502)
        .or_else(|| {
            burst
                .requests
                .iter()
                .find(|r| r.scenario != Scenario::Happy)
        })
        .map(|r| r.trace_id.clone());
    if let Some(trace_id) = sample {
        let story = http.get(&format!("/v1/traces/story?trace_id={}", enc(&trace_id)))?;
        out.push_str("\nexplained trace:\n");
        out.push_str(&render_story(&story));
    }

    // Blast radius of the PMT_502 family.
    let blast = http.get(&format!(
        "/v1/blast_radius?error_family={}&window={w}",
        enc(PMT_502_FAMILY)
    ))?;
    out.push_str(&format!("\nblast radius of {PMT_502_FAMILY}:\n"));
    out.push_str(&format!(
        "  affected requests: {}\n  affected users:    {}\n  affected services: {}\n  top services:      {}\n",
        num(&blast["affected_requests"]),
        num(&blast["affected_users"]),
        num(&blast["affected_services"]),
        blast["top_services"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    ));

    // The incident the engine derives from the spike (within two ticks).
    out.push_str(&format!("\nactive incident for {PMT_502_FAMILY}:\n"));
    let expected = burst
        .requests
        .iter()
        .any(|r| r.scenario == Scenario::Payment502);
    match wait_for_incident(http, args.incident_wait)? {
        Some(inc) => {
            let id = inc["incident_id"].as_str().unwrap_or_default().to_string();
            out.push_str(&format!(
                "  {id}  status {}  cause {} ({})  severity {}  {} req / {} svc\n\n",
                inc["status"].as_str().unwrap_or(""),
                inc["cause"].as_str().unwrap_or(""),
                inc["confidence"].as_str().unwrap_or(""),
                num(&inc["severity"]),
                num(&inc["affected_requests"]),
                num(&inc["affected_services"]),
            ));
            let snapshot = http.get_text(&format!("/v1/incidents/{}/snapshot", enc(&id)))?;
            for line in snapshot.lines() {
                if !line.is_empty() {
                    out.push_str("  ");
                }
                out.push_str(line);
                out.push('\n');
            }
        }
        None if expected => out.push_str(&format!(
            "  none yet (the engine ticks every few seconds; try `waylog incidents` in {}s)\n",
            args.incident_wait
        )),
        None => out.push_str("  none (the burst had no payment_502 requests)\n"),
    }
    Ok(out)
}

/// The deploy and dependency signals of spec triage §8.2 (posted before the burst), plus the
/// runtime signal of each `checkout_panic` request (§8.1). Returns `type:service:reason` of
/// each accepted signal.
fn post_signals(http: &Http, burst: &Burst, now: i64) -> Result<Vec<String>, CliError> {
    let ts = crate::rfc3339::format_rfc3339_ns(now);
    let env = crate::demo::scenario::DEMO_ENV;
    let mut bodies = vec![
        serde_json::json!({"type": "deploy", "source": "waylog-demo", "service": "checkout",
            "env": env, "severity": "info", "reason": "demo_checkout_rollout",
            "message": "checkout rollout demo-v2.1", "timestamp": ts,
            "metadata": {"version": "demo-v2.1", "demo": "traffic_burst"}}),
        serde_json::json!({"type": "dependency", "source": "waylog-demo", "service": "payment",
            "env": env, "severity": "critical", "reason": "payment_gateway_5xx",
            "message": "payment gateway returning 5xx", "timestamp": ts,
            "resource": {"service": "payment", "endpoint": "POST /charge"},
            "metadata": {"error_code": "PMT_502", "downstream": "payment", "demo": "traffic_burst"}}),
    ];
    for r in burst
        .requests
        .iter()
        .filter(|r| r.scenario == Scenario::CheckoutPanic)
    {
        bodies.push(
            serde_json::json!({"type": "runtime", "source": "waylog-demo",
            "service": "checkout", "env": env, "severity": "critical", "reason": "panic",
            "timestamp": ts, "metadata": {"subtype": "panic", "trace_id": r.trace_id}}),
        );
    }
    let mut out = Vec::new();
    for b in &bodies {
        let v = http.post_json("/v1/signals", b)?;
        let s = &v["signal"];
        out.push(format!(
            "{}:{}:{}",
            s["type"].as_str().unwrap_or(""),
            s["service"].as_str().unwrap_or(""),
            s["reason"].as_str().unwrap_or("")
        ));
    }
    Ok(out)
}

/// Poll `/v1/incidents/active` for the PMT_502 family for up to `secs` seconds.
fn wait_for_incident(http: &Http, secs: u64) -> Result<Option<Value>, CliError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let v = http.get("/v1/incidents/active")?;
        let found = v["incidents"].as_array().and_then(|list| {
            list.iter()
                .find(|i| {
                    let f = &i["error_family"];
                    crate::model::family::display_family(
                        f["service"].as_str().unwrap_or(""),
                        f["step"].as_str().unwrap_or(""),
                        f["error_code"].as_str().unwrap_or(""),
                    ) == PMT_502_FAMILY
                })
                .cloned()
        });
        if found.is_some() || std::time::Instant::now() >= deadline {
            return Ok(found);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn send_burst(http: &Http, burst: &Burst) -> Result<(u64, usize), CliError> {
    let events: Vec<_> = burst.events().cloned().collect();
    let mut accepted = 0;
    let mut rejected = 0;
    for chunk in events.chunks(500) {
        let resp = http.post_ndjson("/v1/events", ndjson(chunk))?;
        accepted +=
            resp["accepted"].as_u64().unwrap_or(0) + resp["duplicate"].as_u64().unwrap_or(0);
        let rej = resp["rejected"].as_array().cloned().unwrap_or_default();
        if let Some(first) = rej.first() {
            eprintln!("waylog demo: event rejected: {first}");
        }
        rejected += rej.len();
    }
    Ok((accepted, rejected))
}

fn num(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn family_of(row: &Value) -> String {
    let f = &row["error_family"];
    let part = |k: &str| f[k].as_str().unwrap_or("");
    crate::model::family::display_family(part("service"), part("step"), part("error_code"))
}

/// The `waylog explain` layout of reads §4.1, indented by two spaces.
fn render_story(s: &Value) -> String {
    let str_of = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut lines = vec![
        format!("trace_id: {}", str_of(&s["trace_id"])),
        format!("event_id: {}", str_of(&s["event_id"])),
        format!("service: {}", str_of(&s["service"])),
    ];
    if !str_of(&s["route"]).is_empty() {
        lines.push(format!("route: {}", str_of(&s["route"])));
    }
    lines.push(format!("status: {}", str_of(&s["status"])));
    lines.push(format!("linkage: {}", str_of(&s["linkage"])));
    lines.push(String::new());
    lines.push("first observable failing step:".into());
    match s["anchor"].as_object() {
        Some(a) => lines.push(format!(
            "  {} -> {}",
            a.get("step").and_then(Value::as_str).unwrap_or(""),
            a.get("error_code").and_then(Value::as_str).unwrap_or("")
        )),
        None => lines.push("  none observed".into()),
    }
    lines.push(String::new());
    lines.push("contributing path:".into());
    let path = s["path"].as_array().cloned().unwrap_or_default();
    if path.is_empty() {
        lines.push("  none".into());
    }
    let rows: Vec<[String; 4]> = path
        .iter()
        .map(|p| {
            let detail = p["error_msg"]
                .as_str()
                .or(p["error_code"].as_str())
                .unwrap_or("")
                .to_string();
            [
                str_of(&p["name"]),
                str_of(&p["status"]),
                format!("{} ms", num(&p["duration_ms"])),
                detail,
            ]
        })
        .collect();
    let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r[1].len()).max().unwrap_or(0);
    let w2 = rows.iter().map(|r| r[2].len()).max().unwrap_or(0);
    for r in &rows {
        let line = format!("  {:<w0$}  {:<w1$}  {:<w2$}  {}", r[0], r[1], r[2], r[3]);
        lines.push(line.trim_end().to_string());
    }
    let logs = s["logs"].as_array().cloned().unwrap_or_default();
    if !logs.is_empty() {
        lines.push(String::new());
        lines.push("logs:".into());
        for l in &logs {
            lines.push(format!(
                "  +{} ms [{}] {}",
                num(&l["ts_offset_ms"]),
                str_of(&l["level"]),
                str_of(&l["msg"])
            ));
        }
    }
    lines.push(String::new());
    lines.push("downstream:".into());
    let ds = s["downstream"].as_array().cloned().unwrap_or_default();
    if ds.is_empty() {
        lines.push("  none".into());
    }
    for d in &ds {
        let svc = str_of(&d["service"]);
        let ep = str_of(&d["endpoint"]);
        let mut line = format!(
            "  {} -> {}",
            str_of(&d["step"]),
            if svc.is_empty() { "?" } else { &svc }
        );
        if !ep.is_empty() {
            line.push(' ');
            line.push_str(&ep);
        }
        lines.push(line);
    }
    lines
        .into_iter()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("  {l}\n")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn demo_story_renders_the_explain_layout() {
        let s = json!({"trace_id": "t1", "event_id": "e1", "service": "checkout", "route": "/checkout",
            "status": "error", "anchor": {"step": "payment.charge", "error_code": "PMT_502"},
            "path": [{"name": "cart.validate", "start_ms": 0, "duration_ms": 1, "status": "ok"},
                     {"name": "payment.charge", "start_ms": 7, "duration_ms": 35, "status": "error",
                      "error_code": "PMT_502", "error_msg": "upstream gateway 5xx"}],
            "logs": [], "downstream": [{"step": "payment.charge", "service": "payment", "endpoint": "POST /pay"}],
            "linkage": "causal"});
        let text = render_story(&s);
        assert!(text.contains("  first observable failing step:\n    payment.charge -> PMT_502\n"));
        assert!(text.contains("    payment.charge  error  35 ms  upstream gateway 5xx\n"));
        assert!(text.contains("    payment.charge -> payment POST /pay\n"));
        assert!(!text.contains("logs:"));
    }

    #[test]
    fn demo_family_display_escapes() {
        let r = json!({"error_family": {"service": "a", "step": "b:c", "error_code": "E"}});
        assert_eq!(family_of(&r), "a:b\\:c:E");
        assert_eq!(
            enc("checkout:payment.charge:PMT_502"),
            "checkout%3Apayment.charge%3APMT_502"
        );
    }
}
