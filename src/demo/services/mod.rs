//! The four simulated services of `waylog demo` (spec triage §8): real HTTP listeners on
//! 127.0.0.1 — api-gateway (`:9081`), checkout (`:9082`), payment (`:9083`), db (`:9084`) —
//! that call each other over HTTP with W3C `traceparent` (and the demo user in `baggage`),
//! and each post their own schema-2.0 wide event to waylog's `/v1/events` with
//! `X-API-Key: <write key>`; the gateway answers once every event of its trace is stored, so
//! a `POST /purchase` that returned is readable.
//!
//! - [`gateway`]: `GET /demo`, `GET /healthz`, `POST /purchase?scenario=`, `POST /demo/burst`;
//! - [`backends`]: checkout `POST /checkout`, db `GET /cart`, payment `POST /pay`;
//! - [`burst`]: the burst of §8.2 (body rules, signals, scenario plan, summary);
//! - [`outbound`]: the one HTTP client (service calls, events and signals to waylog).
//!
//! Events and scenarios come from [`crate::demo::scenario`]; this module measures the timings
//! (simulated work sleeps for its drawn duration) and does the I/O.
//!
//! Use: [`bind`] all four listeners (a taken port is a [`ServiceError`] naming the service),
//! then [`BoundServices::spawn`] them until the stop channel turns `true`.

pub mod backends;
pub mod burst;
pub mod gateway;
pub mod outbound;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use axum::Router;
use axum::http::HeaderMap;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::error::ApiError;
use crate::clock::{Clock, SystemClock};
use crate::demo::scenario::{DemoUser, HopContext, HopTiming, Scenario, Span, Traceparent, Work};
use outbound::Outbound;

/// One of the four demo services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoService {
    Gateway,
    Checkout,
    Payment,
    Db,
}

impl DemoService {
    /// The services in the order they are listed.
    pub const ALL: [DemoService; 4] = [
        DemoService::Gateway,
        DemoService::Checkout,
        DemoService::Payment,
        DemoService::Db,
    ];

    /// The service name (the events' `service`).
    pub fn name(self) -> &'static str {
        match self {
            DemoService::Gateway => "api-gateway",
            DemoService::Checkout => "checkout",
            DemoService::Payment => "payment",
            DemoService::Db => "db",
        }
    }
}

/// The listen port of each service (0 picks a free port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServicePorts {
    pub gateway: u16,
    pub checkout: u16,
    pub payment: u16,
    pub db: u16,
}

impl ServicePorts {
    /// The port of `service`.
    pub fn get(&self, service: DemoService) -> u16 {
        match service {
            DemoService::Gateway => self.gateway,
            DemoService::Checkout => self.checkout,
            DemoService::Payment => self.payment,
            DemoService::Db => self.db,
        }
    }
}

/// What the services need to run.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    pub ports: ServicePorts,
    /// waylog's base URL (`http://127.0.0.1:8080`), no trailing slash.
    pub waylog_url: String,
    /// Sent as `X-API-Key` on `/v1/events` and `/v1/signals`; `None` sends no key.
    pub write_key: Option<String>,
    /// Seed of each burst's scenario draws (`None`: random per burst).
    pub seed: Option<u64>,
}

/// Starting the services failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot listen on 127.0.0.1:{port} for {}: {source}", service.name())]
    Bind {
        service: DemoService,
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

/// The four listeners, bound and not yet serving.
pub struct BoundServices {
    config: ServicesConfig,
    listeners: Vec<(DemoService, TcpListener, SocketAddr)>,
}

/// Bind the four listeners on 127.0.0.1 (all or none).
pub async fn bind(config: ServicesConfig) -> Result<BoundServices, ServiceError> {
    let mut listeners = Vec::with_capacity(DemoService::ALL.len());
    for service in DemoService::ALL {
        let port = config.ports.get(service);
        let bind_err = |source| ServiceError::Bind {
            service,
            port,
            source,
        };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        listeners.push((service, listener, addr));
    }
    Ok(BoundServices { config, listeners })
}

impl BoundServices {
    /// The bound address of each service, in [`DemoService::ALL`] order.
    pub fn addrs(&self) -> Vec<(DemoService, SocketAddr)> {
        self.listeners.iter().map(|(s, _, a)| (*s, *a)).collect()
    }

    /// `http://ADDR` of `service`.
    pub fn url(&self, service: DemoService) -> String {
        let addr = self
            .listeners
            .iter()
            .find(|(s, _, _)| *s == service)
            .map(|(_, _, a)| *a)
            .expect("every service is bound");
        format!("http://{addr}")
    }

    /// Serve all four until `stop` turns `true` (in-flight requests finish).
    pub fn spawn(self, stop: watch::Receiver<bool>) -> RunningServices {
        let out = Outbound::new(&self.config);
        let gateway = gateway::Gateway {
            out: out.clone(),
            checkout_url: self.url(DemoService::Checkout),
            waylog_url: self.config.waylog_url.clone(),
            seed: self.config.seed,
        };
        let checkout = backends::Checkout {
            out: out.clone(),
            db_url: self.url(DemoService::Db),
            payment_url: self.url(DemoService::Payment),
        };
        let tasks = self
            .listeners
            .into_iter()
            .map(|(service, listener, _)| {
                let app: Router = match service {
                    DemoService::Gateway => gateway::router(gateway.clone()),
                    DemoService::Checkout => backends::checkout_router(checkout.clone()),
                    DemoService::Payment => backends::payment_router(out.clone()),
                    DemoService::Db => backends::db_router(out.clone()),
                };
                let mut stop = stop.clone();
                tokio::spawn(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stop.wait_for(|v| *v).await;
                        })
                        .await
                })
            })
            .collect();
        RunningServices { tasks, out }
    }
}

/// The serving services.
pub struct RunningServices {
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
    out: Outbound,
}

impl RunningServices {
    /// Wait until every service stopped and every background post finished; the first
    /// failure, if any.
    pub async fn join(self) -> Result<(), String> {
        let mut first = Ok(());
        for task in self.tasks {
            let result = match task.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("demo service error: {e}")),
                Err(e) => Err(format!("demo service task failed: {e}")),
            };
            if first.is_ok() {
                first = result;
            }
        }
        self.out.settle_all().await;
        first
    }
}

/// Wall-clock start of a hop plus a monotonic clock for its offsets.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    start_ns: i64,
    start: Instant,
}

impl Stopwatch {
    /// Start now.
    pub fn start() -> Stopwatch {
        Stopwatch {
            start_ns: SystemClock.now_ns(),
            start: Instant::now(),
        }
    }

    /// Milliseconds since the start.
    pub fn offset_ms(&self) -> i64 {
        i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// Start and now as event times.
    pub fn timing(&self) -> HopTiming {
        let elapsed = i64::try_from(self.start.elapsed().as_nanos()).unwrap_or(i64::MAX);
        HopTiming {
            start_ns: self.start_ns,
            end_ns: self.start_ns.saturating_add(elapsed),
        }
    }

    /// Do `work` (sleep for its drawn duration) and return its span.
    pub async fn work(&self, work: Work) -> Span {
        let duration = work.draw(&mut rand::rng());
        let start_ms = self.offset_ms();
        tokio::time::sleep(duration).await;
        Span {
            start_ms,
            duration_ms: self.offset_ms() - start_ms,
        }
    }
}

/// Header carrying the scenario between the demo services.
pub(crate) const SCENARIO_HEADER: &str = "x-demo-scenario";

/// `400 bad_request` `unknown scenario: <name>` (the waylog error envelope).
pub(crate) fn unknown_scenario(name: &str) -> ApiError {
    ApiError::bad_request(format!("unknown scenario: {name}"))
}

/// A called hop's context from its request headers: `traceparent` (a new trace when absent or
/// malformed), the scenario header (default `happy`) and the user from `baggage` (drawn when
/// absent).
pub(crate) fn incoming_context(headers: &HeaderMap) -> Result<HopContext, ApiError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scenario = match text(SCENARIO_HEADER) {
        None => Scenario::Happy,
        Some(name) => Scenario::parse(name.trim()).ok_or_else(|| unknown_scenario(name))?,
    };
    let incoming = text("traceparent").and_then(Traceparent::parse);
    let user = text("baggage").and_then(DemoUser::from_baggage);
    let mut rng = rand::rng();
    let user = user.unwrap_or_else(|| DemoUser::draw(&mut rng));
    Ok(HopContext::new(&mut rng, scenario, incoming, user))
}

#[cfg(test)]
mod tests;
