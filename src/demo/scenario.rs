//! The `waylog demo` topology and scenarios (spec triage §8.1, burst mix §8.2).
//!
//! Topology: api-gateway (`POST /purchase`, step `checkout.purchase` → checkout) → checkout
//! (`POST /checkout`: `cart.validate`, `db.load_cart` → db, `inventory.reserve`,
//! `payment.charge` → payment, `order.commit`) → db (`GET /cart`, `db.query`) and payment
//! (`POST /pay`, `acquirer.charge`). Every call step carries a fresh span id that the callee's
//! event uses as its `parent_span_id`, so each request is a usable trace graph (reads §3.1).
//!
//! The events are generated in-process (no per-service HTTP listeners, no `traceparent`
//! propagation); the trace linkage they carry is the same the listeners of §8 would produce.
//! Not implemented here because the subsystems do not exist yet: the deploy / dependency /
//! runtime signals of §8.1-8.2 (they need `/v1/signals`), and everything of §8.3 that depends
//! on incidents and alerts.
//!
//! Generation is deterministic for a seed: the same seed and start time give the same events.

use std::collections::BTreeMap;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use crate::model::{Anchor, Downstream, ErrorRef, Event, EventKind, Log, Step, StepError};

/// Demo environment and service version (§8: `env` `demo`, `version` `0.1.0`).
pub const DEMO_ENV: &str = "demo";
pub const DEMO_VERSION: &str = "0.1.0";
/// The family every propagating payment failure anchors on.
pub const PMT_502_FAMILY: &str = "checkout:payment.charge:PMT_502";

const TIERS: [&str; 3] = ["free", "standard", "premium"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// One scenario of §8.1, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scenario {
    Happy,
    Payment502,
    SuppressedPayment502,
    CheckoutPanic,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [
        Scenario::Happy,
        Scenario::Payment502,
        Scenario::SuppressedPayment502,
        Scenario::CheckoutPanic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Happy => "happy",
            Scenario::Payment502 => "payment_502",
            Scenario::SuppressedPayment502 => "suppressed_payment_502",
            Scenario::CheckoutPanic => "checkout_panic",
        }
    }

    pub fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|x| x.name() == s)
    }

    /// The HTTP status the client sees.
    pub fn client_status(self) -> u16 {
        match self {
            Scenario::Happy => 200,
            Scenario::Payment502 | Scenario::SuppressedPayment502 => 502,
            Scenario::CheckoutPanic => 500,
        }
    }

    /// Base weight of the random part of a burst (§8.2).
    fn weight(self) -> f64 {
        match self {
            Scenario::Happy => 0.82,
            Scenario::Payment502 => 0.15,
            Scenario::CheckoutPanic => 0.02,
            Scenario::SuppressedPayment502 => 0.01,
        }
    }
}

/// One simulated request: its events, root (api-gateway) first.
#[derive(Debug, Clone)]
pub struct Request {
    pub scenario: Scenario,
    pub trace_id: String,
    pub events: Vec<Event>,
}

/// A burst (§8.2 without the signals): the requests and their summary.
#[derive(Debug, Clone)]
pub struct Burst {
    pub requests: Vec<Request>,
    /// Requests per scenario name.
    pub by_scenario: BTreeMap<&'static str, usize>,
    /// First trace of each scenario, in table order.
    pub sample_trace_ids: Vec<String>,
}

impl Burst {
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.requests.iter().flat_map(|r| r.events.iter())
    }

    pub fn ok(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| r.scenario == Scenario::Happy)
            .count()
    }

    pub fn suppressed(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| r.scenario == Scenario::SuppressedPayment502)
            .count()
    }

    pub fn errors(&self) -> usize {
        self.requests.len() - self.ok() - self.suppressed()
    }
}

/// Deterministic generator of demo requests.
pub struct DemoGen {
    rng: SmallRng,
}

struct Hop {
    service: &'static str,
    method: &'static str,
    route: &'static str,
    start_ns: i64,
    duration_ms: i64,
    span_id: String,
    parent_span_id: String,
    status: &'static str,
    http_status: u16,
    anchor: Option<Anchor>,
    steps: Vec<Step>,
    logs: Vec<Log>,
    errors: Vec<ErrorRef>,
}

fn step(name: &str, start_ms: i64, duration_ms: i64, status: &str) -> Step {
    Step {
        name: name.into(),
        span_id: None,
        start_ms,
        duration_ms,
        status: status.parse().expect("demo step statuses are valid"),
        downstream: None,
        error: None,
    }
}

fn call(
    name: &str,
    span: &str,
    start_ms: i64,
    duration_ms: i64,
    status: &str,
    service: &str,
    endpoint: &str,
) -> Step {
    Step {
        span_id: Some(span.into()),
        downstream: Some(Downstream {
            service: Some(service.into()),
            endpoint: Some(endpoint.into()),
            kind: Some("http".into()),
        }),
        ..step(name, start_ms, duration_ms, status)
    }
}

fn log(ts_offset_ms: i64, level: &str, msg: &str) -> Log {
    Log {
        ts_offset_ms,
        level: level.parse().expect("demo log levels are valid"),
        msg: msg.into(),
        fields: None,
    }
}

impl DemoGen {
    pub fn new(seed: u64) -> Self {
        DemoGen {
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    fn hex(&mut self, bytes: usize) -> String {
        (0..bytes)
            .map(|_| format!("{:02x}", self.rng.random::<u8>()))
            .collect()
    }

    fn uuid(&mut self) -> String {
        let h = self.hex(16);
        format!(
            "{}-{}-4{}-8{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    /// The burst of §8.2: request `i` is `payment_502` while `i < 6`, `checkout_panic` at
    /// `i = 6`, else a draw from the jittered scenario weights. Requests start `spacing_ns`
    /// apart from `start_ns`.
    pub fn burst(&mut self, requests: usize, start_ns: i64, spacing_ns: i64) -> Burst {
        let weights: Vec<(Scenario, f64)> = {
            let raw: Vec<(Scenario, f64)> = Scenario::ALL
                .iter()
                .map(|&s| (s, s.weight() * (1.0 + self.rng.random_range(-0.05..=0.05))))
                .collect();
            let total: f64 = raw.iter().map(|(_, w)| w).sum();
            raw.into_iter().map(|(s, w)| (s, w / total)).collect()
        };
        let mut out = Vec::with_capacity(requests);
        for i in 0..requests {
            let scenario = match i {
                0..6 => Scenario::Payment502,
                6 => Scenario::CheckoutPanic,
                _ => {
                    let mut u: f64 = self.rng.random();
                    let mut pick = Scenario::Happy;
                    for (s, w) in &weights {
                        pick = *s;
                        if u < *w {
                            break;
                        }
                        u -= w;
                    }
                    pick
                }
            };
            out.push(self.request(scenario, start_ns + i as i64 * spacing_ns));
        }
        let mut by_scenario = BTreeMap::new();
        for r in &out {
            *by_scenario.entry(r.scenario.name()).or_insert(0) += 1;
        }
        let sample_trace_ids = Scenario::ALL
            .iter()
            .filter_map(|s| out.iter().find(|r| r.scenario == *s))
            .map(|r| r.trace_id.clone())
            .collect();
        Burst {
            requests: out,
            by_scenario,
            sample_trace_ids,
        }
    }

    /// One request of `scenario` starting at `start_ns`.
    pub fn request(&mut self, scenario: Scenario, start_ns: i64) -> Request {
        let trace_id = self.hex(16);
        let user_n = self.rng.random_range(1..=50u32);
        let user = json!({
            "id": format!("u-{user_n:03}"),
            "tier": TIERS[self.rng.random_range(0..TIERS.len())],
            "region": REGIONS[self.rng.random_range(0..REGIONS.len())],
        });
        let client_status = scenario.client_status();
        let failing_payment = matches!(
            scenario,
            Scenario::Payment502 | Scenario::SuppressedPayment502
        );

        // Span ids: the gateway's own span and its call step, checkout's own span and its two
        // call steps; each callee's parent_span_id is its caller step's span id.
        let gw_span = self.hex(8);
        let gw_call = self.hex(8);
        let co_span = self.hex(8);
        let co_db_call = self.hex(8);
        let co_pay_call = self.hex(8);

        let validate_ms = self.rng.random_range(1..4i64);
        let db_ms = self.rng.random_range(3..12i64);
        let reserve_ms = self.rng.random_range(2..8i64);
        let pay_ms = if failing_payment {
            self.rng.random_range(30..120i64)
        } else {
            self.rng.random_range(20..80i64)
        };
        let commit_ms = self.rng.random_range(2..10i64);

        let mut hops = Vec::new();
        let co_start_ns = start_ns + 1_000_000;
        let (co_duration, co_steps, co_logs, co_status, co_anchor, co_errors) = match scenario {
            Scenario::CheckoutPanic => (
                validate_ms + 1,
                vec![step("cart.validate", 0, validate_ms, "ok")],
                vec![log(validate_ms, "error", "panic: demo checkout panic")],
                "error",
                Some(Anchor {
                    step: "request".into(),
                    error_code: "WAYLOG_PANIC".into(),
                    kind: None,
                }),
                vec![ErrorRef {
                    code: "WAYLOG_PANIC".into(),
                    reason: Some("demo checkout panic".into()),
                }],
            ),
            _ => {
                let mut t = 0;
                let mut steps = vec![step("cart.validate", t, validate_ms, "ok")];
                t += validate_ms;
                steps.push(call(
                    "db.load_cart",
                    &co_db_call,
                    t,
                    db_ms,
                    "ok",
                    "db",
                    "GET /cart",
                ));
                t += db_ms;
                steps.push(step("inventory.reserve", t, reserve_ms, "ok"));
                t += reserve_ms;
                let pay_start = t;
                let mut pay = call(
                    "payment.charge",
                    &co_pay_call,
                    t,
                    pay_ms,
                    if failing_payment { "error" } else { "ok" },
                    "payment",
                    "POST /pay",
                );
                t += pay_ms;
                let mut logs = Vec::new();
                if failing_payment {
                    pay.error = Some(StepError {
                        code: Some("PMT_502".into()),
                        reason: Some("upstream gateway 5xx".into()),
                        cause: None,
                    });
                    steps.push(pay);
                    logs.push(log(
                        pay_start + pay_ms / 2,
                        "warn",
                        "payment gateway slow, waiting",
                    ));
                    logs.push(log(t, "error", "payment.charge failed: PMT_502"));
                } else {
                    steps.push(pay);
                    steps.push(step("order.commit", t, commit_ms, "ok"));
                    t += commit_ms;
                    logs.push(log(t, "info", "order committed"));
                }
                let (status, anchor, errors) = match scenario {
                    Scenario::Happy => ("ok", None, Vec::new()),
                    _ => (
                        if scenario == Scenario::SuppressedPayment502 {
                            "suppressed"
                        } else {
                            "error"
                        },
                        Some(Anchor {
                            step: "payment.charge".into(),
                            error_code: "PMT_502".into(),
                            kind: Some("downstream".into()),
                        }),
                        vec![ErrorRef {
                            code: "PMT_502".into(),
                            reason: Some("upstream gateway 5xx".into()),
                        }],
                    ),
                };
                (t + 1, steps, logs, status, anchor, errors)
            }
        };

        // api-gateway: always `ok` itself; the client status mirrors checkout's outcome.
        let gw_duration = co_duration + 2;
        hops.push(Hop {
            service: "api-gateway",
            method: "POST",
            route: "/purchase",
            start_ns,
            duration_ms: gw_duration,
            span_id: gw_span,
            parent_span_id: String::new(),
            status: "ok",
            http_status: client_status,
            anchor: None,
            steps: vec![call(
                "checkout.purchase",
                &gw_call,
                1,
                co_duration,
                if client_status == 200 { "ok" } else { "error" },
                "checkout",
                "POST /checkout",
            )],
            logs: if client_status == 200 {
                Vec::new()
            } else {
                vec![log(
                    co_duration + 1,
                    "warn",
                    &format!("checkout returned {client_status}"),
                )]
            },
            errors: Vec::new(),
        });
        hops.push(Hop {
            service: "checkout",
            method: "POST",
            route: "/checkout",
            start_ns: co_start_ns,
            duration_ms: co_duration,
            span_id: co_span,
            parent_span_id: gw_call,
            status: co_status,
            http_status: client_status,
            anchor: co_anchor,
            steps: co_steps,
            logs: co_logs,
            errors: co_errors,
        });
        if scenario != Scenario::CheckoutPanic {
            let db_span = self.hex(8);
            hops.push(Hop {
                service: "db",
                method: "GET",
                route: "/cart",
                start_ns: co_start_ns + validate_ms * 1_000_000,
                duration_ms: db_ms,
                span_id: db_span,
                parent_span_id: co_db_call,
                status: "ok",
                http_status: 200,
                anchor: None,
                steps: vec![step("db.query", 0, (db_ms - 1).max(1), "ok")],
                logs: Vec::new(),
                errors: Vec::new(),
            });
            let pay_span = self.hex(8);
            hops.push(Hop {
                service: "payment",
                method: "POST",
                route: "/pay",
                start_ns: co_start_ns + (validate_ms + db_ms + reserve_ms) * 1_000_000,
                duration_ms: pay_ms,
                span_id: pay_span,
                parent_span_id: co_pay_call,
                status: if scenario == Scenario::SuppressedPayment502 {
                    "suppressed"
                } else {
                    "ok"
                },
                http_status: if failing_payment { 502 } else { 200 },
                anchor: None,
                steps: vec![step(
                    "acquirer.charge",
                    0,
                    (pay_ms - 1).max(1),
                    if failing_payment { "error" } else { "ok" },
                )],
                logs: if failing_payment {
                    vec![log(pay_ms - 1, "warn", "acquirer returned 502")]
                } else {
                    Vec::new()
                },
                errors: Vec::new(),
            });
        }

        let events = hops
            .into_iter()
            .map(|h| {
                let mut fields = Map::new();
                fields.insert(
                    "http".into(),
                    json!({"method": h.method, "route": h.route, "status": h.http_status}),
                );
                fields.insert("user".into(), user.clone());
                fields.insert("scenario".into(), Value::from(scenario.name()));
                Event {
                    schema_version: crate::model::SchemaVersion::V2,
                    event_id: self.uuid(),
                    ts_start_ns: h.start_ns,
                    ts_end_ns: h.start_ns + h.duration_ms * 1_000_000,
                    duration_ms: h.duration_ms,
                    kind: EventKind::Http,
                    service: h.service.into(),
                    env: DEMO_ENV.into(),
                    version: Some(DEMO_VERSION.into()),
                    trace_id: trace_id.clone(),
                    span_id: h.span_id,
                    parent_span_id: h.parent_span_id,
                    status: h.status.parse().expect("demo statuses are valid"),
                    anchor: h.anchor,
                    steps: h.steps,
                    logs: h.logs,
                    fields: Some(fields),
                    errors: h.errors,
                }
            })
            .collect();
        Request {
            scenario,
            trace_id,
            events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::traffic::ndjson;
    use crate::model::validate_item;

    const NOW: i64 = 1_800_000_000_000_000_000;

    fn by_service<'a>(r: &'a Request, svc: &str) -> Option<&'a Event> {
        r.events.iter().find(|e| e.service == svc)
    }

    #[test]
    fn demo_every_child_links_to_exactly_one_caller_step() {
        let mut g = DemoGen::new(11);
        let burst = g.burst(200, NOW - 60_000_000_000, 10_000_000);
        for r in &burst.requests {
            let step_spans: Vec<(&str, &str)> = r
                .events
                .iter()
                .flat_map(|e| {
                    e.steps.iter().filter_map(move |s| {
                        s.span_id.as_deref().map(|sp| (e.service.as_str(), sp))
                    })
                })
                .collect();
            for e in &r.events {
                assert_eq!(e.trace_id, r.trace_id);
                if e.service == "api-gateway" {
                    assert_eq!(e.parent_span_id, "");
                    continue;
                }
                let callers: Vec<_> = step_spans
                    .iter()
                    .filter(|(_, sp)| *sp == e.parent_span_id)
                    .collect();
                assert_eq!(callers.len(), 1, "{} in {:?}", e.service, r.scenario);
                let expected_caller = if e.service == "checkout" {
                    "api-gateway"
                } else {
                    "checkout"
                };
                assert_eq!(callers[0].0, expected_caller);
            }
        }
    }

    #[test]
    fn demo_events_validate() {
        let mut g = DemoGen::new(3);
        let events: Vec<Event> = Scenario::ALL
            .iter()
            .flat_map(|s| g.request(*s, NOW - 1_000_000_000).events)
            .collect();
        for line in ndjson(&events).lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            validate_item(&v, NOW).unwrap();
        }
    }

    #[test]
    fn demo_scenarios_have_expected_statuses_and_anchors() {
        let mut g = DemoGen::new(5);
        let happy = g.request(Scenario::Happy, NOW);
        assert_eq!(happy.events.len(), 4);
        assert!(
            happy
                .events
                .iter()
                .all(|e| e.status == "ok" && e.anchor.is_none())
        );
        assert_eq!(by_service(&happy, "checkout").unwrap().steps.len(), 5);

        let p = g.request(Scenario::Payment502, NOW);
        let co = by_service(&p, "checkout").unwrap();
        assert_eq!(co.status, "error");
        let a = co.anchor.as_ref().unwrap();
        assert_eq!(
            (a.step.as_str(), a.error_code.as_str(), a.kind.as_deref()),
            ("payment.charge", "PMT_502", Some("downstream"))
        );
        assert!(co.steps.iter().all(|s| s.name != "order.commit"));
        let charge = co
            .steps
            .iter()
            .find(|s| s.name == "payment.charge")
            .unwrap();
        assert_eq!(
            charge.error.as_ref().unwrap().code.as_deref(),
            Some("PMT_502")
        );
        assert_eq!(
            charge.downstream.as_ref().unwrap().service.as_deref(),
            Some("payment")
        );
        assert_eq!(by_service(&p, "api-gateway").unwrap().status, "ok");
        let pay = by_service(&p, "payment").unwrap();
        assert_eq!(pay.status, "ok");
        assert_eq!(pay.fields.as_ref().unwrap()["http"]["status"], json!(502));
        assert!(pay.logs.iter().any(|l| l.msg == "acquirer returned 502"));

        let s = g.request(Scenario::SuppressedPayment502, NOW);
        assert_eq!(by_service(&s, "checkout").unwrap().status, "suppressed");
        assert_eq!(by_service(&s, "payment").unwrap().status, "suppressed");
        assert_eq!(by_service(&s, "api-gateway").unwrap().status, "ok");

        let c = g.request(Scenario::CheckoutPanic, NOW);
        assert_eq!(c.events.len(), 2);
        let co = by_service(&c, "checkout").unwrap();
        let a = co.anchor.as_ref().unwrap();
        assert_eq!(
            (a.step.as_str(), a.error_code.as_str()),
            ("request", "WAYLOG_PANIC")
        );
        assert!(
            co.logs
                .iter()
                .any(|l| l.msg == "panic: demo checkout panic")
        );
        let gw = by_service(&c, "api-gateway").unwrap();
        assert_eq!(gw.fields.as_ref().unwrap()["http"]["status"], json!(500));
    }

    #[test]
    fn demo_burst_is_deterministic_and_follows_the_mix() {
        let a = DemoGen::new(9).burst(50, NOW, 1_000_000);
        let b = DemoGen::new(9).burst(50, NOW, 1_000_000);
        assert_eq!(
            ndjson(&a.events().cloned().collect::<Vec<_>>()),
            ndjson(&b.events().cloned().collect::<Vec<_>>())
        );
        for r in &a.requests[..6] {
            assert_eq!(r.scenario, Scenario::Payment502);
        }
        assert_eq!(a.requests[6].scenario, Scenario::CheckoutPanic);
        assert!(a.by_scenario["happy"] > 25);
        assert_eq!(a.ok() + a.errors() + a.suppressed(), 50);
        assert_eq!(
            a.sample_trace_ids[0],
            a.requests
                .iter()
                .find(|r| r.scenario == Scenario::Happy)
                .unwrap()
                .trace_id
        );
        let c = DemoGen::new(10).burst(50, NOW, 1_000_000);
        assert_ne!(a.requests[0].trace_id, c.requests[0].trace_id);
    }
}
