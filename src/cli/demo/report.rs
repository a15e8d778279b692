//! The report `waylog demo` prints after driving one burst through its own gateway: the
//! burst, top error families (`/v1/errors`), the root-cause rollup of `PMT_502` next to the
//! naive per-hop count (`/v1/rollups/root_cause`, naive = root-cause count × affected services
//! as in `scripts/rollup-comparison.sh`), one explained trace (`/v1/traces/story`), the blast
//! radius (`/v1/blast_radius`), the active incident with its snapshot and its triage report
//! (`/v1/triage/{id}/report?format=markdown`). Each section is printed as soon as it is read.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::watch;

use super::super::verbs::{percent_encode as enc, render_story};
use super::super::{CliError, EXIT_CLIENT, EXIT_SERVER, EXIT_TRANSPORT, http_agent, normalize_url};
use super::{DemoArgs, err, flush};
use crate::demo::scenario::{PMT_502_FAMILY, Scenario};
use crate::reads::traces::Story;

/// Reads of the report and the burst can take a while on a busy machine.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A burst of 250 requests at concurrency 1 takes tens of seconds.
const BURST_TIMEOUT: Duration = Duration::from_secs(300);

/// A tiny blocking HTTP client for the demo's own calls.
struct Http {
    base: String,
    read_key: Option<String>,
    agent: ureq::Agent,
}

type Reply = Result<ureq::http::Response<ureq::Body>, ureq::Error>;

impl Http {
    fn new(base: &str, read_key: Option<String>, timeout: Duration) -> Http {
        Http {
            base: normalize_url(base),
            read_key,
            agent: http_agent(timeout),
        }
    }

    /// The body of a 2xx response; transport errors and other statuses as CLI errors.
    fn body(path: &str, r: Reply) -> Result<String, CliError> {
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

    fn decode<T: serde::de::DeserializeOwned>(path: &str, text: &str) -> Result<T, CliError> {
        serde_json::from_str(text)
            .map_err(|e| err(EXIT_TRANSPORT, format!("{path}: undecodable response: {e}")))
    }

    /// A GET with the read key; the body as text.
    fn get_text(&self, path: &str) -> Result<String, CliError> {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(k) = &self.read_key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        Self::body(path, req.call())
    }

    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        Self::decode(path, &self.get_text(path)?)
    }

    fn post_json(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        let req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json");
        Self::decode(path, &Self::body(path, req.send(body.to_string()))?)
    }
}

/// One section of the report after the burst: its text, read from waylog.
type Section = fn(&Report, &Value) -> Result<String, CliError>;

/// The report of one demo run.
pub(super) struct Report {
    waylog: Http,
    gateway: Http,
    requests: usize,
    concurrency: usize,
    seed: Option<u64>,
    window: String,
    incident_wait: Duration,
    /// Turns `true` on SIGINT / SIGTERM: waits end early.
    interrupt: watch::Receiver<bool>,
}

impl Report {
    pub(super) fn new(
        waylog_url: &str,
        gateway_url: &str,
        read_key: Option<String>,
        args: &DemoArgs,
        interrupt: watch::Receiver<bool>,
    ) -> Report {
        Report {
            waylog: Http::new(waylog_url, read_key, READ_TIMEOUT),
            gateway: Http::new(gateway_url, None, BURST_TIMEOUT),
            requests: args.requests,
            concurrency: args.concurrency,
            seed: args.seed,
            window: args.window.clone(),
            incident_wait: Duration::from_secs(args.incident_wait),
            interrupt,
        }
    }

    fn interrupted(&self) -> bool {
        *self.interrupt.borrow()
    }

    /// Drive the burst and print every section.
    pub(super) fn print(&self) -> Result<(), CliError> {
        let burst = self.gateway.post_json(
            "/demo/burst",
            &json!({"requests": self.requests, "concurrency": self.concurrency}),
        )?;
        emit(&self.burst_section(&burst));
        let sections: [Section; 5] = [
            Report::errors_section,
            Report::rollup_section,
            Report::trace_section,
            Report::blast_section,
            Report::incident_section,
        ];
        for section in sections {
            if self.interrupted() {
                break;
            }
            emit(&section(self, &burst)?);
        }
        Ok(())
    }

    fn burst_section(&self, burst: &Value) -> String {
        let signals: Vec<String> = list(&burst["signals"])
            .iter()
            .filter(|s| s["accepted"] == true)
            .map(|s| {
                format!(
                    "{}:{}:{}",
                    text(&s["type"]),
                    text(&s["service"]),
                    text(&s["reason"])
                )
            })
            .collect();
        let by: Vec<String> = burst["by_scenario"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
            .unwrap_or_default();
        let seed = self.seed.map(|s| format!(", seed {s}")).unwrap_or_default();
        format!(
            "signals posted: {}\ndemo burst through the api-gateway: {} requests (concurrency {}{seed}), {} completed in {} ms\n  scenarios: {}\n  ok {}, errors {}, suppressed {}\n",
            signals.join(", "),
            num(&burst["requested"]),
            self.concurrency,
            num(&burst["accepted"]),
            num(&burst["duration_ms"]),
            by.join(", "),
            num(&burst["ok"]),
            num(&burst["errors"]),
            num(&burst["suppressed"]),
        )
    }

    /// Top error families; waits briefly until the burst's PMT_502 row is readable.
    fn errors_section(&self, burst: &Value) -> Result<String, CliError> {
        let path = format!("/v1/errors?window={}&limit=10", enc(&self.window));
        let expect_row = sample_trace(burst, Scenario::Payment502).is_some();
        let mut errors: Value = self.waylog.get(&path)?;
        for _ in 0..50 {
            if !expect_row
                || list(&errors["rows"])
                    .iter()
                    .any(|r| family_of(r) == PMT_502_FAMILY)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            errors = self.waylog.get(&path)?;
        }
        let mut out = format!("\ntop error families (window {}):\n", self.window);
        let rows = list(&errors["rows"]);
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
        Ok(out)
    }

    /// The root-cause rollup of PMT_502 next to the naive per-hop count.
    fn rollup_section(&self, _burst: &Value) -> Result<String, CliError> {
        let rollup: Value = self.waylog.get(&format!(
            "/v1/rollups/root_cause?window={}&limit=50",
            enc(&self.window)
        ))?;
        let row = list(&rollup["rows"])
            .into_iter()
            .find(|r| r["error_code"] == "PMT_502")
            .unwrap_or(Value::Null);
        let root = row["root_cause_count"].as_i64().unwrap_or(0);
        let services = row["affected_services"].as_i64().unwrap_or(0);
        let mut out = String::from("\nroot-cause rollup vs naive per-hop count (PMT_502):\n");
        out.push_str(&format!("  root-cause count:       {root}\n"));
        out.push_str(&format!(
            "  propagated (anchored):  {}\n",
            row["propagated_count"].as_i64().unwrap_or(0)
        ));
        out.push_str(&format!(
            "  affected traces:        {}\n",
            num(&row["affected_traces"])
        ));
        out.push_str(&format!("  affected services:      {services}\n"));
        out.push_str(&format!(
            "  naive per-hop count:    {root} * {services} = {}\n",
            root * services
        ));
        for o in list(&row["origins"]) {
            out.push_str(&format!(
                "  origin: {}:{} ({})\n",
                text(&o["service"]),
                text(&o["step"]),
                num(&o["count"])
            ));
        }
        out.push_str(
            "  waylog counts each failed request once, under its originating failure, instead of once per service hop it touched.\n",
        );
        Ok(out)
    }

    /// One explained trace: the burst's first payment_502 trace (else its first failing one).
    fn trace_section(&self, burst: &Value) -> Result<String, CliError> {
        let sample = [
            Scenario::Payment502,
            Scenario::CheckoutPanic,
            Scenario::SuppressedPayment502,
        ]
        .into_iter()
        .find_map(|s| sample_trace(burst, s));
        let Some(trace_id) = sample else {
            return Ok("\nexplained trace: none (the burst had no failing request)\n".into());
        };
        let story: Story = self
            .waylog
            .get(&format!("/v1/traces/story?trace_id={}", enc(&trace_id)))?;
        Ok(format!(
            "\nexplained trace:\n{}",
            indent(&render_story(&story))
        ))
    }

    /// The blast radius of the PMT_502 family.
    fn blast_section(&self, _burst: &Value) -> Result<String, CliError> {
        let blast: Value = self.waylog.get(&format!(
            "/v1/blast_radius?error_family={}&window={}",
            enc(PMT_502_FAMILY),
            enc(&self.window)
        ))?;
        let top: Vec<&str> = blast["top_services"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        Ok(format!(
            "\nblast radius of {PMT_502_FAMILY}:\n  affected requests: {}\n  affected users:    {}\n  affected services: {}\n  top services:      {}\n",
            num(&blast["affected_requests"]),
            num(&blast["affected_users"]),
            num(&blast["affected_services"]),
            top.join(", ")
        ))
    }

    /// The incident the engine derives from the spike (within two ticks), its snapshot and
    /// its triage report.
    fn incident_section(&self, burst: &Value) -> Result<String, CliError> {
        let mut out = format!("\nactive incident for {PMT_502_FAMILY}:\n");
        let expected = sample_trace(burst, Scenario::Payment502).is_some();
        let Some(inc) = self.wait_for_incident()? else {
            out.push_str(&if expected {
                format!(
                    "  none yet (the engine ticks every few seconds; try `waylog incidents` in {}s)\n",
                    self.incident_wait.as_secs()
                )
            } else {
                "  none (the burst had no payment_502 requests)\n".to_string()
            });
            return Ok(out);
        };
        let id = text(&inc["incident_id"]);
        out.push_str(&format!(
            "  {id}  status {}  cause {} ({})  severity {}  {} req / {} svc\n\n",
            text(&inc["status"]),
            text(&inc["cause"]),
            text(&inc["confidence"]),
            num(&inc["severity"]),
            num(&inc["affected_requests"]),
            num(&inc["affected_services"]),
        ));
        let snapshot = self
            .waylog
            .get_text(&format!("/v1/incidents/{}/snapshot", enc(&id)))?;
        out.push_str(&indent(&snapshot));
        let report_path = format!("/v1/triage/{}/report?format=markdown", enc(&id));
        match self.waylog.get_text(&report_path) {
            Ok(markdown) => {
                out.push_str(&format!("\ntriage report (GET {report_path}):\n\n"));
                out.push_str(&markdown);
                if !markdown.ends_with('\n') {
                    out.push('\n');
                }
            }
            Err(e) => out.push_str(&format!("\ntriage report: unavailable: {}\n", e.message)),
        }
        Ok(out)
    }

    /// Poll `/v1/incidents/active` for the PMT_502 family until `incident_wait` passed.
    fn wait_for_incident(&self) -> Result<Option<Value>, CliError> {
        let deadline = Instant::now() + self.incident_wait;
        loop {
            let v: Value = self.waylog.get("/v1/incidents/active")?;
            let found = list(&v["incidents"]).into_iter().find(|i| {
                let f = &i["error_family"];
                crate::model::family::display_family(
                    text(&f["service"]).as_str(),
                    text(&f["step"]).as_str(),
                    text(&f["error_code"]).as_str(),
                ) == PMT_502_FAMILY
            });
            if found.is_some() || Instant::now() >= deadline || self.interrupted() {
                return Ok(found);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn emit(section: &str) {
    print!("{section}");
    flush();
}

/// The burst's first trace of `scenario`: `sample_trace_ids` holds one per scenario present
/// in `by_scenario`, in table order.
fn sample_trace(burst: &Value, scenario: Scenario) -> Option<String> {
    let present: Vec<Scenario> = Scenario::ALL
        .into_iter()
        .filter(|s| burst["by_scenario"][s.name()].as_u64().unwrap_or(0) > 0)
        .collect();
    let at = present.iter().position(|s| *s == scenario)?;
    burst["sample_trace_ids"][at].as_str().map(str::to_string)
}

/// `text` with every non-empty line indented by two spaces.
fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("  {l}\n")
            }
        })
        .collect()
}

fn list(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn num(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn family_of(row: &Value) -> String {
    let f = &row["error_family"];
    crate::model::family::display_family(
        text(&f["service"]).as_str(),
        text(&f["step"]).as_str(),
        text(&f["error_code"]).as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_sample_trace_follows_the_scenarios_present() {
        let burst = json!({"by_scenario": {"payment_502": 6, "checkout_panic": 1},
            "sample_trace_ids": ["t-pay", "t-panic"]});
        assert_eq!(
            sample_trace(&burst, Scenario::Payment502).as_deref(),
            Some("t-pay")
        );
        assert_eq!(
            sample_trace(&burst, Scenario::CheckoutPanic).as_deref(),
            Some("t-panic")
        );
        assert_eq!(sample_trace(&burst, Scenario::Happy), None);
        assert_eq!(sample_trace(&Value::Null, Scenario::Happy), None);
    }

    #[test]
    fn demo_family_display_escapes() {
        let r = json!({"error_family": {"service": "a", "step": "b:c", "error_code": "E"}});
        assert_eq!(family_of(&r), "a:b\\:c:E");
        assert_eq!(
            enc("checkout:payment.charge:PMT_502"),
            "checkout%3Apayment.charge%3APMT_502"
        );
        assert_eq!(indent("a\n\nb\n"), "  a\n\n  b\n");
    }
}
