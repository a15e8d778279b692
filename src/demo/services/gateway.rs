//! The api-gateway (spec triage §8.1): `GET /demo` (a small page with the scenarios and a
//! burst button), `GET /healthz` (`200 ok`), `POST /purchase?scenario=<name>` (default
//! `happy`; unknown → `400 bad_request` `unknown scenario: <name>`; body `{trace_id, scenario,
//! status}` with the client status as HTTP status) and `POST /demo/burst` ([`super::burst`]).

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::burst::{self, BurstSize, RequestOutcome};
use super::outbound::Outbound;
use super::{Stopwatch, unknown_scenario};
use crate::api::error::ApiError;
use crate::demo::scenario::{DemoUser, HopContext, Scenario, gateway_event, new_event_id};

/// The page of `GET /demo`; `{{WAYLOG_URL}}` is replaced by waylog's URL.
const PAGE: &str = include_str!("demo.html");

/// The gateway's state.
#[derive(Clone)]
pub struct Gateway {
    pub out: Outbound,
    /// `http://ADDR` of checkout.
    pub checkout_url: String,
    /// waylog's URL (shown on the page).
    pub waylog_url: String,
    /// Seed of each burst's scenario draws.
    pub seed: Option<u64>,
}

/// The gateway's routes.
pub fn router(state: Gateway) -> Router {
    Router::new()
        .route("/demo", get(page))
        .route("/healthz", get(super::backends::healthz))
        .route("/purchase", post(purchase))
        .route("/demo/burst", post(burst))
        .with_state(state)
}

async fn page(State(g): State<Gateway>) -> Html<String> {
    Html(PAGE.replace("{{WAYLOG_URL}}", &html_escape(&g.waylog_url)))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Debug, Deserialize)]
struct PurchaseQuery {
    scenario: Option<String>,
}

/// The body of `POST /purchase` (keys in this order).
#[derive(Debug, Serialize)]
struct PurchaseAnswer {
    trace_id: String,
    scenario: &'static str,
    status: u16,
}

async fn purchase(
    State(g): State<Gateway>,
    query: Result<Query<PurchaseQuery>, QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(q) => q,
        Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
    };
    let scenario = match query.scenario.as_deref().map(str::trim) {
        None | Some("") => Scenario::Happy,
        Some(name) => match Scenario::parse(name) {
            Some(s) => s,
            None => return unknown_scenario(name).into_response(),
        },
    };
    let outcome = g.purchase(scenario).await;
    let status = outcome.status.unwrap_or(502);
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = PurchaseAnswer {
        trace_id: outcome.trace_id,
        scenario: scenario.name(),
        status,
    };
    (code, axum::Json(body)).into_response()
}

async fn burst(State(g): State<Gateway>, body: Bytes) -> Response {
    match BurstSize::parse(&body) {
        Ok(size) => axum::Json(burst::run(&g, size).await).into_response(),
        Err(detail) => ApiError::bad_request(detail).into_response(),
    }
}

impl Gateway {
    /// One purchase: a new trace, the call to checkout (step `checkout.purchase`), the
    /// gateway's event posted and the callees' posts awaited; the outcome carries the status
    /// checkout answered.
    pub async fn purchase(&self, scenario: Scenario) -> RequestOutcome {
        let watch = Stopwatch::start();
        let (ctx, event_id) = {
            let mut rng = rand::rng();
            let user = DemoUser::draw(&mut rng);
            (
                HopContext::new(&mut rng, scenario, None, user),
                new_event_id(&mut rng),
            )
        };
        let call = self
            .out
            .call(
                &watch,
                &ctx,
                "POST",
                format!("{}/checkout", self.checkout_url),
            )
            .await;
        let event = gateway_event(&ctx, watch.timing(), &call, event_id);
        self.out.post_event(&event).await;
        // The callees answered before storing their events: wait for them too.
        self.out.settle(&ctx.trace_id).await;
        RequestOutcome {
            scenario,
            trace_id: ctx.trace_id,
            status: call.http_status,
        }
    }
}
