//! checkout (`POST /checkout`), db (`GET /cart`) and payment (`POST /pay`) of spec triage
//! §8.1. Each reads its context from the request headers ([`super::incoming_context`]), does
//! its (simulated) work and its calls, answers, and posts its event to waylog in the
//! background ([`Outbound::post_event_later`]); it answers with the status
//! of the §8.1 table. An unknown `x-demo-scenario` is `400 bad_request`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::outbound::Outbound;
use super::{Stopwatch, incoming_context};
use crate::demo::scenario::{
    CheckoutRun, HopContext, HopTiming, Scenario, Span, Work, checkout_event, db_event,
    new_event_id, payment_event, payment_http_status,
};
use crate::model::Event;

/// checkout's state: the client and its two downstreams.
#[derive(Clone)]
pub struct Checkout {
    pub out: Outbound,
    /// `http://ADDR` of db.
    pub db_url: String,
    /// `http://ADDR` of payment.
    pub payment_url: String,
}

/// checkout's routes.
pub fn checkout_router(state: Checkout) -> Router {
    Router::new()
        .route("/checkout", post(checkout))
        .route("/healthz", get(healthz))
        .with_state(state)
}

/// db's routes.
pub fn db_router(out: Outbound) -> Router {
    Router::new()
        .route("/cart", get(cart))
        .route("/healthz", get(healthz))
        .with_state(out)
}

/// payment's routes.
pub fn payment_router(out: Outbound) -> Router {
    Router::new()
        .route("/pay", post(pay))
        .route("/healthz", get(healthz))
        .with_state(out)
}

/// `GET /healthz` of every demo service.
pub async fn healthz() -> &'static str {
    "ok"
}

fn answer(status: u16, ctx: &HopContext) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        code,
        axum::Json(json!({"trace_id": ctx.trace_id, "status": status})),
    )
        .into_response()
}

async fn checkout(State(s): State<Checkout>, headers: HeaderMap) -> Response {
    let watch = Stopwatch::start();
    let ctx = match incoming_context(&headers) {
        Ok(ctx) => ctx,
        Err(e) => return e.into_response(),
    };
    let run = s.run(&watch, &ctx).await;
    let event = checkout_event(&ctx, watch.timing(), &run, event_id());
    if matches!(run, CheckoutRun::Panic { .. }) {
        let out = s.out.clone();
        s.out
            .post_later(&ctx.trace_id, async move { post_panic_signal(&out).await });
    }
    s.out.post_event_later(event);
    answer(run.http_status(), &ctx)
}

impl Checkout {
    /// The steps of §8.1: validate; then the demo panic, or load the cart (db), reserve,
    /// charge (payment) and, when the charge went through, commit.
    async fn run(&self, watch: &Stopwatch, ctx: &HopContext) -> CheckoutRun {
        let validate = watch.work(Work::Validate).await;
        if ctx.scenario == Scenario::CheckoutPanic {
            return CheckoutRun::Panic { validate };
        }
        let load_cart = self
            .out
            .call(watch, ctx, "GET", format!("{}/cart", self.db_url))
            .await;
        if load_cart.http_status != Some(200) {
            return CheckoutRun::Flow {
                validate,
                load_cart,
                reserve: None,
                charge: None,
                commit: None,
            };
        }
        let reserve = watch.work(Work::Reserve).await;
        let charge = self
            .out
            .call(watch, ctx, "POST", format!("{}/pay", self.payment_url))
            .await;
        let commit = match charge.http_status {
            Some(200) => Some(watch.work(Work::Commit).await),
            _ => None,
        };
        CheckoutRun::Flow {
            validate,
            load_cart,
            reserve: Some(reserve),
            charge: Some(charge),
            commit,
        }
    }
}

/// The runtime signal of `checkout_panic` (§8.1).
async fn post_panic_signal(out: &Outbound) {
    let now = crate::clock::Clock::now_ns(&crate::clock::SystemClock);
    let signal = json!({"type": "runtime", "source": "waylog-demo", "service": "checkout",
        "env": crate::demo::scenario::DEMO_ENV, "severity": "critical", "reason": "panic",
        "timestamp": crate::rfc3339::format_rfc3339_ns(now),
        "metadata": {"subtype": "panic"}});
    match out.post_signal(&signal).await {
        Ok(a) if a.status == 201 => {}
        Ok(a) => eprintln!(
            "waylog demo: runtime signal refused: http {}: {}",
            a.status,
            a.body.trim()
        ),
        Err(e) => eprintln!("waylog demo: runtime signal not sent: {e}"),
    }
}

/// A callee with one own step: read the context, do `work`, post `build`'s event, answer
/// `status` of the scenario.
async fn leaf(
    out: &Outbound,
    headers: &HeaderMap,
    work: fn(Scenario) -> Work,
    build: fn(&HopContext, HopTiming, Span, String) -> Event,
    status: fn(Scenario) -> u16,
) -> Response {
    let watch = Stopwatch::start();
    let ctx = match incoming_context(headers) {
        Ok(ctx) => ctx,
        Err(e) => return e.into_response(),
    };
    let span = watch.work(work(ctx.scenario)).await;
    out.post_event_later(build(&ctx, watch.timing(), span, event_id()));
    answer(status(ctx.scenario), &ctx)
}

async fn cart(State(out): State<Outbound>, headers: HeaderMap) -> Response {
    leaf(&out, &headers, |_| Work::DbQuery, db_event, |_| 200).await
}

async fn pay(State(out): State<Outbound>, headers: HeaderMap) -> Response {
    leaf(
        &out,
        &headers,
        |s| Work::Acquirer {
            failing: s.payment_fails(),
        },
        payment_event,
        payment_http_status,
    )
    .await
}

fn event_id() -> String {
    new_event_id(&mut rand::rng())
}
