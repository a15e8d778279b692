//! The `waylog demo` topology, scenarios and per-hop wide events (spec triage §8.1, burst mix
//! §8.2). Pure: no I/O and no clock; the HTTP services of [`crate::demo::services`] measure
//! the timings and call the builders here.
//!
//! Topology: api-gateway (`POST /purchase`, step `checkout.purchase` → checkout) → checkout
//! (`POST /checkout`: `cart.validate`, `db.load_cart` → db, `inventory.reserve`,
//! `payment.charge` → payment, `order.commit`) → db (`GET /cart`, `db.query`) and payment
//! (`POST /pay`, `acquirer.charge`). Every call step carries a fresh span id that is sent as the
//! parent id of a W3C `traceparent`; the callee's event takes it as its `parent_span_id`, so
//! each request is a usable trace graph (reads §3.1).
//!
//! Each hop builds its own event from a [`HopContext`] (trace id and parent span id from the
//! incoming `traceparent`, the scenario, the user from `baggage`) and what it measured:
//! [`gateway_event`], [`checkout_event`], [`db_event`], [`payment_event`].

use std::time::Duration;

use rand::Rng;
use serde_json::{Map, Value, json};

use crate::model::{Anchor, Downstream, ErrorRef, Event, EventKind, Log, Step, StepError};

/// Demo environment and service version (§8: `env` `demo`, `version` `0.1.0`).
pub const DEMO_ENV: &str = "demo";
pub const DEMO_VERSION: &str = "0.1.0";
/// The family every propagating payment failure anchors on.
pub const PMT_502_FAMILY: &str = "checkout:payment.charge:PMT_502";
/// Requests `0..FIXED_PAYMENT_502` of a burst are `payment_502`, the next one `checkout_panic`.
const FIXED_PAYMENT_502: usize = 6;

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
    /// The scenarios in table order.
    pub const ALL: [Scenario; 4] = [
        Scenario::Happy,
        Scenario::Payment502,
        Scenario::SuppressedPayment502,
        Scenario::CheckoutPanic,
    ];

    /// The wire name (`?scenario=`, `by_scenario` keys).
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Happy => "happy",
            Scenario::Payment502 => "payment_502",
            Scenario::SuppressedPayment502 => "suppressed_payment_502",
            Scenario::CheckoutPanic => "checkout_panic",
        }
    }

    /// The scenario of a wire name.
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

    /// Does the payment acquirer fail (502) in this scenario?
    pub fn payment_fails(self) -> bool {
        matches!(self, Scenario::Payment502 | Scenario::SuppressedPayment502)
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

/// The scenarios of a burst of `requests` (§8.2): request `i` is `payment_502` while `i < 6`,
/// `checkout_panic` at `i = 6`, else a draw from the scenario weights, each multiplied once
/// per burst by `1 + u` (`u` uniform in [−0.05, 0.05]) and renormalized.
pub fn plan_burst(rng: &mut impl Rng, requests: usize) -> Vec<Scenario> {
    let raw: Vec<(Scenario, f64)> = Scenario::ALL
        .iter()
        .map(|&s| (s, s.weight() * (1.0 + rng.random_range(-0.05..=0.05))))
        .collect();
    let total: f64 = raw.iter().map(|(_, w)| w).sum();
    let weights: Vec<(Scenario, f64)> = raw.into_iter().map(|(s, w)| (s, w / total)).collect();
    (0..requests)
        .map(|i| match i {
            _ if i < FIXED_PAYMENT_502 => Scenario::Payment502,
            FIXED_PAYMENT_502 => Scenario::CheckoutPanic,
            _ => draw(rng, &weights),
        })
        .collect()
}

fn draw(rng: &mut impl Rng, weights: &[(Scenario, f64)]) -> Scenario {
    let mut u: f64 = rng.random();
    let mut pick = Scenario::Happy;
    for (s, w) in weights {
        pick = *s;
        if u < *w {
            break;
        }
        u -= w;
    }
    pick
}

/// The simulated work of one local step (or of a callee's own step), drawn per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// checkout `cart.validate`
    Validate,
    /// checkout `inventory.reserve`
    Reserve,
    /// checkout `order.commit`
    Commit,
    /// db `db.query`
    DbQuery,
    /// payment `acquirer.charge`; a failing acquirer is slower.
    Acquirer { failing: bool },
}

impl Work {
    /// How long this work takes this time.
    pub fn draw(self, rng: &mut impl Rng) -> Duration {
        let ms = match self {
            Work::Validate => rng.random_range(1..4),
            Work::Reserve => rng.random_range(2..8),
            Work::Commit => rng.random_range(2..10),
            Work::DbQuery => rng.random_range(3..12),
            Work::Acquirer { failing: true } => rng.random_range(30..120),
            Work::Acquirer { failing: false } => rng.random_range(20..80),
        };
        Duration::from_millis(ms)
    }
}

/// `count` random bytes as lowercase hex, never all zero (W3C ids must not be).
fn hex_id(rng: &mut impl Rng, bytes: usize) -> String {
    loop {
        let raw: Vec<u8> = (0..bytes).map(|_| rng.random::<u8>()).collect();
        if raw.iter().any(|b| *b != 0) {
            return raw.iter().map(|b| format!("{b:02x}")).collect();
        }
    }
}

/// A fresh 32-hex trace id.
pub fn new_trace_id(rng: &mut impl Rng) -> String {
    hex_id(rng, 16)
}

/// A fresh 16-hex span id.
pub fn new_span_id(rng: &mut impl Rng) -> String {
    hex_id(rng, 8)
}

/// A fresh UUIDv4 event id.
pub fn new_event_id(rng: &mut impl Rng) -> String {
    let h = hex_id(rng, 16);
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// A W3C `traceparent` (version `00`): the trace id and the caller's span id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traceparent {
    pub trace_id: String,
    pub parent_id: String,
}

impl Traceparent {
    /// Parse `00-<32 hex>-<16 hex>-<2 hex>`; `None` for anything else (a new trace starts).
    pub fn parse(header: &str) -> Option<Traceparent> {
        let parts: Vec<&str> = header.trim().split('-').collect();
        let hex = |s: &str, len: usize| {
            s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
        match parts.as_slice() {
            [version, trace, parent, flags]
                if hex(version, 2)
                    && *version != "ff"
                    && hex(trace, 32)
                    && hex(parent, 16)
                    && hex(flags, 2)
                    && nonzero(trace)
                    && nonzero(parent) =>
            {
                Some(Traceparent {
                    trace_id: (*trace).to_string(),
                    parent_id: (*parent).to_string(),
                })
            }
            _ => None,
        }
    }

    /// The header value (sampled).
    pub fn header(&self) -> String {
        format!("00-{}-{}-01", self.trace_id, self.parent_id)
    }
}

/// The demo user (`fields.user`), carried between services in W3C `baggage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUser {
    pub id: String,
    pub tier: String,
    pub region: String,
}

impl DemoUser {
    /// `u-001`…`u-050`, a tier and a region.
    pub fn draw(rng: &mut impl Rng) -> DemoUser {
        DemoUser {
            id: format!("u-{:03}", rng.random_range(1..=50u32)),
            tier: TIERS[rng.random_range(0..TIERS.len())].to_string(),
            region: REGIONS[rng.random_range(0..REGIONS.len())].to_string(),
        }
    }

    /// The `baggage` header value.
    pub fn baggage(&self) -> String {
        format!(
            "user.id={},user.tier={},user.region={}",
            self.id, self.tier, self.region
        )
    }

    /// The user of a `baggage` header; `None` unless all three keys are present and valid.
    pub fn from_baggage(header: &str) -> Option<DemoUser> {
        let mut user = DemoUser {
            id: String::new(),
            tier: String::new(),
            region: String::new(),
        };
        for member in header.split(',') {
            let (k, v) = member.split_once('=')?;
            let v = v.split(';').next().unwrap_or("").trim();
            match k.trim() {
                "user.id" => user.id = v.to_string(),
                "user.tier" if TIERS.contains(&v) => user.tier = v.to_string(),
                "user.region" if REGIONS.contains(&v) => user.region = v.to_string(),
                _ => {}
            }
        }
        let valid_id = user
            .id
            .strip_prefix("u-")
            .is_some_and(|n| n.len() == 3 && n.bytes().all(|b| b.is_ascii_digit()));
        (valid_id && !user.tier.is_empty() && !user.region.is_empty()).then_some(user)
    }

    fn json(&self) -> Value {
        json!({"id": self.id, "tier": self.tier, "region": self.region})
    }
}

/// Where one hop sits in its trace, and what it serves.
#[derive(Debug, Clone)]
pub struct HopContext {
    pub scenario: Scenario,
    pub trace_id: String,
    /// This hop's own span id.
    pub span_id: String,
    /// The caller's call-step span id (`""` for the root hop).
    pub parent_span_id: String,
    pub user: DemoUser,
}

impl HopContext {
    /// The context of a hop called with `incoming` (a new trace when `None`, e.g. the
    /// gateway, or a direct call without `traceparent`). The own span id is fresh.
    pub fn new(
        rng: &mut impl Rng,
        scenario: Scenario,
        incoming: Option<Traceparent>,
        user: DemoUser,
    ) -> HopContext {
        let (trace_id, parent_span_id) = match incoming {
            Some(tp) => (tp.trace_id, tp.parent_id),
            None => (new_trace_id(rng), String::new()),
        };
        HopContext {
            scenario,
            trace_id,
            span_id: new_span_id(rng),
            parent_span_id,
            user,
        }
    }

    /// The `traceparent` a call step with span id `call_span_id` sends.
    pub fn child(&self, call_span_id: &str) -> Traceparent {
        Traceparent {
            trace_id: self.trace_id.clone(),
            parent_id: call_span_id.to_string(),
        }
    }
}

/// When a hop ran: wall-clock start and end, unix nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HopTiming {
    pub start_ns: i64,
    pub end_ns: i64,
}

impl HopTiming {
    fn duration_ms(self) -> i64 {
        (self.end_ns - self.start_ns).max(0) / 1_000_000
    }
}

/// A local step as measured: offset from the hop's start and duration, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start_ms: i64,
    pub duration_ms: i64,
}

impl Span {
    fn end_ms(self) -> i64 {
        self.start_ms + self.duration_ms
    }
}

/// A call step as measured: its span id (sent in `traceparent`), timing, and the callee's
/// HTTP status (`None`: no answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub span_id: String,
    pub span: Span,
    pub http_status: Option<u16>,
}

impl CallRecord {
    fn ok(&self) -> bool {
        self.http_status == Some(200)
    }

    fn step(&self, name: &str, service: &str, endpoint: &str, status: &str) -> Step {
        Step {
            span_id: Some(self.span_id.clone()),
            downstream: Some(Downstream {
                service: Some(service.into()),
                endpoint: Some(endpoint.into()),
                kind: Some("http".into()),
            }),
            ..step(name, self.span, status)
        }
    }
}

/// What checkout did (§8.1): always `cart.validate`; then either the demo panic, or the cart
/// load (db), and, when it answered 200, `inventory.reserve` and the charge (payment), and,
/// when the charge answered 200, `order.commit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutRun {
    /// `checkout_panic`: the handler panicked right after `cart.validate`.
    Panic { validate: Span },
    Flow {
        validate: Span,
        load_cart: CallRecord,
        reserve: Option<Span>,
        charge: Option<CallRecord>,
        commit: Option<Span>,
    },
}

impl CheckoutRun {
    /// The status checkout answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            CheckoutRun::Panic { .. } => 500,
            CheckoutRun::Flow {
                commit: Some(_), ..
            } => 200,
            CheckoutRun::Flow { .. } => 502,
        }
    }
}

fn step(name: &str, span: Span, status: &str) -> Step {
    Step {
        name: name.into(),
        span_id: None,
        start_ms: span.start_ms,
        duration_ms: span.duration_ms,
        status: status.parse().expect("demo step statuses are valid"),
        downstream: None,
        error: None,
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

fn status_of(ok: bool) -> &'static str {
    if ok { "ok" } else { "error" }
}

/// The parts of one hop's event that differ between services.
struct Hop {
    service: &'static str,
    method: &'static str,
    route: &'static str,
    http_status: u16,
    status: &'static str,
    anchor: Option<Anchor>,
    steps: Vec<Step>,
    logs: Vec<Log>,
    errors: Vec<ErrorRef>,
}

impl Hop {
    fn ok(
        service: &'static str,
        method: &'static str,
        route: &'static str,
        http_status: u16,
    ) -> Hop {
        Hop {
            service,
            method,
            route,
            http_status,
            status: "ok",
            anchor: None,
            steps: Vec::new(),
            logs: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn failed(mut self, status: &'static str, step: &str, code: &str, kind: Option<&str>) -> Hop {
        self.status = status;
        self.anchor = Some(Anchor {
            step: step.into(),
            error_code: code.into(),
            kind: kind.map(str::to_string),
        });
        self
    }

    fn error(mut self, code: &str, reason: &str) -> Hop {
        self.errors.push(ErrorRef {
            code: code.into(),
            reason: Some(reason.into()),
        });
        self
    }

    /// The schema-2.0 event (env `demo`, version `0.1.0`, `fields.http`, `fields.user`,
    /// `fields.scenario`).
    fn event(self, ctx: &HopContext, timing: HopTiming, event_id: String) -> Event {
        let mut fields = Map::new();
        fields.insert(
            "http".into(),
            json!({"method": self.method, "route": self.route, "status": self.http_status}),
        );
        fields.insert("user".into(), ctx.user.json());
        fields.insert("scenario".into(), Value::from(ctx.scenario.name()));
        Event {
            schema_version: crate::model::SchemaVersion::V2,
            event_id,
            ts_start_ns: timing.start_ns,
            ts_end_ns: timing.end_ns.max(timing.start_ns),
            duration_ms: timing.duration_ms(),
            kind: EventKind::Http,
            service: self.service.into(),
            env: DEMO_ENV.into(),
            version: Some(DEMO_VERSION.into()),
            trace_id: ctx.trace_id.clone(),
            span_id: ctx.span_id.clone(),
            parent_span_id: ctx.parent_span_id.clone(),
            status: self.status.parse().expect("demo statuses are valid"),
            anchor: self.anchor,
            steps: self.steps,
            logs: self.logs,
            fields: Some(fields),
            errors: self.errors,
        }
    }
}

/// The api-gateway's event for `POST /purchase`: always `ok` itself, `http.status` mirrors
/// checkout's answer (502 when checkout did not answer), one call step `checkout.purchase`.
pub fn gateway_event(
    ctx: &HopContext,
    timing: HopTiming,
    call: &CallRecord,
    event_id: String,
) -> Event {
    let client_status = call.http_status.unwrap_or(502);
    let mut hop = Hop::ok("api-gateway", "POST", "/purchase", client_status);
    hop.steps.push(call.step(
        "checkout.purchase",
        "checkout",
        "POST /checkout",
        status_of(call.ok()),
    ));
    if !call.ok() {
        let what = match call.http_status {
            Some(s) => format!("checkout returned {s}"),
            None => "checkout did not answer".to_string(),
        };
        hop.logs.push(log(call.span.end_ms(), "warn", &what));
    }
    hop.event(ctx, timing, event_id)
}

/// checkout's event for `POST /checkout` (§8.1 table).
pub fn checkout_event(
    ctx: &HopContext,
    timing: HopTiming,
    run: &CheckoutRun,
    event_id: String,
) -> Event {
    let hop = Hop::ok("checkout", "POST", "/checkout", run.http_status());
    let hop = match run {
        CheckoutRun::Panic { validate } => {
            let mut hop = hop
                .failed("error", "request", "WAYLOG_PANIC", None)
                .error("WAYLOG_PANIC", "demo checkout panic");
            hop.steps.push(step("cart.validate", *validate, "ok"));
            hop.logs.push(log(
                validate.end_ms(),
                "error",
                "panic: demo checkout panic",
            ));
            hop
        }
        CheckoutRun::Flow {
            validate,
            load_cart,
            reserve,
            charge,
            commit,
        } => checkout_flow(
            ctx.scenario,
            hop,
            *validate,
            load_cart,
            *reserve,
            charge,
            *commit,
        ),
    };
    hop.event(ctx, timing, event_id)
}

fn checkout_flow(
    scenario: Scenario,
    mut hop: Hop,
    validate: Span,
    load_cart: &CallRecord,
    reserve: Option<Span>,
    charge: &Option<CallRecord>,
    commit: Option<Span>,
) -> Hop {
    hop.steps.push(step("cart.validate", validate, "ok"));
    hop.steps
        .push(load_cart.step("db.load_cart", "db", "GET /cart", status_of(load_cart.ok())));
    if !load_cart.ok() {
        // Not a scenario of §8.1: the db did not answer 200 (stopped, or called wrongly).
        hop.logs.push(log(
            load_cart.span.end_ms(),
            "error",
            "db.load_cart failed: DB_UNAVAILABLE",
        ));
        return hop
            .failed(
                "error",
                "db.load_cart",
                "DB_UNAVAILABLE",
                Some("downstream"),
            )
            .error("DB_UNAVAILABLE", "cart store unavailable");
    }
    if let Some(reserve) = reserve {
        hop.steps.push(step("inventory.reserve", reserve, "ok"));
    }
    let Some(charge) = charge else {
        return hop;
    };
    let mut pay = charge.step(
        "payment.charge",
        "payment",
        "POST /pay",
        status_of(charge.ok()),
    );
    if charge.ok() {
        hop.steps.push(pay);
        if let Some(commit) = commit {
            hop.steps.push(step("order.commit", commit, "ok"));
            hop.logs
                .push(log(commit.end_ms(), "info", "order committed"));
        }
        return hop;
    }
    pay.error = Some(StepError {
        code: Some("PMT_502".into()),
        reason: Some("upstream gateway 5xx".into()),
        cause: None,
    });
    hop.steps.push(pay);
    hop.logs.push(log(
        charge.span.start_ms + charge.span.duration_ms / 2,
        "warn",
        "payment gateway slow, waiting",
    ));
    hop.logs.push(log(
        charge.span.end_ms(),
        "error",
        "payment.charge failed: PMT_502",
    ));
    let status = if scenario == Scenario::SuppressedPayment502 {
        "suppressed"
    } else {
        "error"
    };
    hop.failed(status, "payment.charge", "PMT_502", Some("downstream"))
        .error("PMT_502", "upstream gateway 5xx")
}

/// db's event for `GET /cart`: `ok`, one step `db.query`.
pub fn db_event(ctx: &HopContext, timing: HopTiming, query: Span, event_id: String) -> Event {
    let mut hop = Hop::ok("db", "GET", "/cart", 200);
    hop.steps.push(step("db.query", query, "ok"));
    hop.event(ctx, timing, event_id)
}

/// payment's event for `POST /pay`: step `acquirer.charge`; in the failing scenarios
/// `http.status` 502 and the warn log `acquirer returned 502`, status `ok` (`suppressed` for
/// `suppressed_payment_502`).
pub fn payment_event(ctx: &HopContext, timing: HopTiming, charge: Span, event_id: String) -> Event {
    let failing = ctx.scenario.payment_fails();
    let mut hop = Hop::ok("payment", "POST", "/pay", payment_http_status(ctx.scenario));
    if ctx.scenario == Scenario::SuppressedPayment502 {
        hop.status = "suppressed";
    }
    hop.steps
        .push(step("acquirer.charge", charge, status_of(!failing)));
    if failing {
        hop.logs
            .push(log(charge.end_ms(), "warn", "acquirer returned 502"));
    }
    hop.event(ctx, timing, event_id)
}

/// The status payment answers with in `scenario`.
pub fn payment_http_status(scenario: Scenario) -> u16 {
    if scenario.payment_fails() { 502 } else { 200 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::traffic::ndjson;
    use crate::model::validate_item;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    const NOW: i64 = 1_800_000_000_000_000_000;

    fn rng() -> SmallRng {
        SmallRng::seed_from_u64(5)
    }

    fn timing(ms: i64) -> HopTiming {
        HopTiming {
            start_ns: NOW,
            end_ns: NOW + ms * 1_000_000,
        }
    }

    fn span(start_ms: i64, duration_ms: i64) -> Span {
        Span {
            start_ms,
            duration_ms,
        }
    }

    fn call(span_id: &str, s: Span, status: Option<u16>) -> CallRecord {
        CallRecord {
            span_id: span_id.into(),
            span: s,
            http_status: status,
        }
    }

    /// checkout's run for `scenario` with the callees answering as the scenario says.
    fn run_for(scenario: Scenario) -> CheckoutRun {
        if scenario == Scenario::CheckoutPanic {
            return CheckoutRun::Panic {
                validate: span(0, 2),
            };
        }
        let charge = call(
            "00000000000000c2",
            span(14, 40),
            Some(payment_http_status(scenario)),
        );
        let commit = charge.ok().then_some(span(54, 3));
        CheckoutRun::Flow {
            validate: span(0, 2),
            load_cart: call("00000000000000c1", span(2, 8), Some(200)),
            reserve: Some(span(10, 4)),
            charge: Some(charge),
            commit,
        }
    }

    /// All four hops of one request of `scenario`, linked the way the services link them.
    fn request(scenario: Scenario) -> Vec<Event> {
        let mut r = rng();
        let user = DemoUser::draw(&mut r);
        let gw = HopContext::new(&mut r, scenario, None, user.clone());
        let gw_call = new_span_id(&mut r);
        let co = HopContext::new(&mut r, scenario, Some(gw.child(&gw_call)), user.clone());
        let run = run_for(scenario);
        let mut events = vec![
            gateway_event(
                &gw,
                timing(70),
                &call(&gw_call, span(1, 60), Some(run.http_status())),
                new_event_id(&mut r),
            ),
            checkout_event(&co, timing(60), &run, new_event_id(&mut r)),
        ];
        if let CheckoutRun::Flow {
            load_cart, charge, ..
        } = &run
        {
            let db = HopContext::new(
                &mut r,
                scenario,
                Some(co.child(&load_cart.span_id)),
                user.clone(),
            );
            events.push(db_event(&db, timing(8), span(0, 7), new_event_id(&mut r)));
            let charge = charge.as_ref().unwrap();
            let pay = HopContext::new(&mut r, scenario, Some(co.child(&charge.span_id)), user);
            events.push(payment_event(
                &pay,
                timing(40),
                span(0, 39),
                new_event_id(&mut r),
            ));
        }
        events
    }

    fn by_service<'a>(events: &'a [Event], svc: &str) -> &'a Event {
        events.iter().find(|e| e.service == svc).unwrap()
    }

    #[test]
    fn demo_traceparent_round_trips_and_rejects_malformed_headers() {
        let tp =
            Traceparent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(tp.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.parent_id, "00f067aa0ba902b7");
        assert_eq!(Traceparent::parse(&tp.header()), Some(tp));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(Traceparent::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn demo_user_baggage_round_trips() {
        let u = DemoUser::draw(&mut rng());
        assert_eq!(DemoUser::from_baggage(&u.baggage()), Some(u));
        assert_eq!(DemoUser::from_baggage("user.id=u-001"), None);
        assert_eq!(
            DemoUser::from_baggage("user.id=x,user.tier=free,user.region=eu-west-1"),
            None
        );
        assert_eq!(DemoUser::from_baggage("garbage"), None);
    }

    #[test]
    fn demo_every_child_links_to_exactly_one_caller_step() {
        for scenario in Scenario::ALL {
            let events = request(scenario);
            let step_spans: Vec<(&str, &str)> = events
                .iter()
                .flat_map(|e| {
                    e.steps.iter().filter_map(move |s| {
                        s.span_id.as_deref().map(|sp| (e.service.as_str(), sp))
                    })
                })
                .collect();
            let trace = &events[0].trace_id;
            for e in &events {
                assert_eq!(&e.trace_id, trace);
                if e.service == "api-gateway" {
                    assert_eq!(e.parent_span_id, "");
                    continue;
                }
                let callers: Vec<_> = step_spans
                    .iter()
                    .filter(|(_, sp)| *sp == e.parent_span_id)
                    .collect();
                assert_eq!(callers.len(), 1, "{} in {scenario:?}", e.service);
                let expected = if e.service == "checkout" {
                    "api-gateway"
                } else {
                    "checkout"
                };
                assert_eq!(callers[0].0, expected);
            }
        }
    }

    #[test]
    fn demo_events_validate() {
        let events: Vec<Event> = Scenario::ALL.iter().flat_map(|s| request(*s)).collect();
        for line in ndjson(&events).lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            validate_item(&v, NOW).unwrap();
        }
    }

    #[test]
    fn demo_scenarios_have_expected_statuses_and_anchors() {
        let happy = request(Scenario::Happy);
        assert_eq!(happy.len(), 4);
        assert!(happy.iter().all(|e| e.status == "ok" && e.anchor.is_none()));
        assert_eq!(by_service(&happy, "checkout").steps.len(), 5);

        let p = request(Scenario::Payment502);
        let co = by_service(&p, "checkout");
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
        let err = charge.error.as_ref().unwrap();
        assert_eq!(err.code.as_deref(), Some("PMT_502"));
        assert_eq!(err.reason.as_deref(), Some("upstream gateway 5xx"));
        let ds = charge.downstream.as_ref().unwrap();
        assert_eq!(
            (ds.service.as_deref(), ds.endpoint.as_deref()),
            (Some("payment"), Some("POST /pay"))
        );
        let gw = by_service(&p, "api-gateway");
        assert_eq!(gw.status, "ok");
        assert_eq!(gw.fields.as_ref().unwrap()["http"]["status"], json!(502));
        let pay = by_service(&p, "payment");
        assert_eq!(pay.status, "ok");
        assert_eq!(pay.fields.as_ref().unwrap()["http"]["status"], json!(502));
        assert!(pay.logs.iter().any(|l| l.msg == "acquirer returned 502"));

        let s = request(Scenario::SuppressedPayment502);
        assert_eq!(by_service(&s, "checkout").status, "suppressed");
        assert_eq!(by_service(&s, "payment").status, "suppressed");
        assert_eq!(by_service(&s, "api-gateway").status, "ok");

        let c = request(Scenario::CheckoutPanic);
        assert_eq!(c.len(), 2);
        let co = by_service(&c, "checkout");
        let a = co.anchor.as_ref().unwrap();
        assert_eq!(
            (a.step.as_str(), a.error_code.as_str()),
            ("request", "WAYLOG_PANIC")
        );
        assert_eq!(co.steps.len(), 1);
        assert!(
            co.logs
                .iter()
                .any(|l| l.msg == "panic: demo checkout panic")
        );
        let gw = by_service(&c, "api-gateway");
        assert_eq!(gw.fields.as_ref().unwrap()["http"]["status"], json!(500));
        let user = &gw.fields.as_ref().unwrap()["user"];
        assert!(user["id"].as_str().unwrap().starts_with("u-"));
    }

    #[test]
    fn demo_unanswered_calls_fail_the_caller_visibly() {
        let mut r = rng();
        let user = DemoUser::draw(&mut r);
        let ctx = HopContext::new(&mut r, Scenario::Happy, None, user);
        let gw = gateway_event(
            &ctx,
            timing(5),
            &call("00000000000000a1", span(1, 3), None),
            "e".into(),
        );
        assert_eq!(gw.fields.as_ref().unwrap()["http"]["status"], json!(502));
        assert!(gw.logs.iter().any(|l| l.msg == "checkout did not answer"));
        let run = CheckoutRun::Flow {
            validate: span(0, 1),
            load_cart: call("00000000000000b1", span(1, 2), None),
            reserve: None,
            charge: None,
            commit: None,
        };
        assert_eq!(run.http_status(), 502);
        let co = checkout_event(&ctx, timing(5), &run, "e2".into());
        assert_eq!(co.status, "error");
        assert_eq!(co.anchor.as_ref().unwrap().step, "db.load_cart");
    }

    #[test]
    fn demo_burst_plan_is_deterministic_and_follows_the_mix() {
        let a = plan_burst(&mut SmallRng::seed_from_u64(9), 200);
        let b = plan_burst(&mut SmallRng::seed_from_u64(9), 200);
        assert_eq!(a, b);
        assert!(a[..6].iter().all(|s| *s == Scenario::Payment502));
        assert_eq!(a[6], Scenario::CheckoutPanic);
        let happy = a.iter().filter(|s| **s == Scenario::Happy).count();
        assert!(happy > 120, "{happy}");
        assert_eq!(plan_burst(&mut SmallRng::seed_from_u64(9), 3).len(), 3);
        let c = plan_burst(&mut SmallRng::seed_from_u64(10), 200);
        assert_ne!(a, c);
    }
}
