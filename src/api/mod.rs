//! The transport edge: every HTTP route and the OTLP/gRPC service, with the shared state,
//! auth and rate limits, request ids, CORS, the error → status mapping ([`error`]), health and
//! graceful shutdown. One file per API (`events`, `otlp_http`, `otlp_grpc`, `signals`,
//! `alerts`, `deployments`, `query`, `reads`, `triage`, and `ui` for the embedded dashboard); each handler checks the request, calls a domain
//! function with plain parameters and returns `Result<Response, ApiError>`. Nothing below this
//! module sees axum, tonic or `http` types, and nothing below imports it.
//!
//! Start-up order: bind the listener (so `/healthz` answers and the bound address is logged
//! at once), recover storage in the background, then flip `ready`. Until then write routes
//! answer 503 `ingest_unavailable` and `/readyz` 503. Shutdown: stop accepting, let in-flight
//! requests finish, stop the writer after it drained, sync the WAL.

pub mod agent;
pub mod alerts;
pub mod auth;
pub mod background;
pub mod body;
pub mod deployments;
pub mod error;
pub mod events;
pub mod health;
pub mod http_server;
pub mod metrics;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod query;
pub mod reads;
pub mod signals;
pub mod test_hooks;
pub mod triage;
pub mod ui;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::json;
use tokio::sync::{Semaphore, watch};

use crate::clock::SharedClock;
use crate::config::Config;
use crate::model::Event;
use crate::query::QueryEngine;
use crate::storage::{Storage, StorageConfig, error_chain};
use auth::RateLimiter;
use error::{ApiError, WriteRoute, json_response};
use tracing::Instrument;

/// How long each background task may take to stop at shutdown.
pub const BACKGROUND_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Everything a handler can reach.
pub struct AppState {
    pub config: Config,
    pub clock: SharedClock,
    storage: OnceLock<Arc<Storage>>,
    engine: OnceLock<QueryEngine>,
    ready: AtomicBool,
    shutting_down: AtomicBool,
    pub query_slots: Semaphore,
    /// One permit per running read of the read API (`WAYLOG_READ_CONCURRENCY`).
    pub read_slots: Semaphore,
    /// KiB of ingest bodies in flight (`WAYLOG_INGEST_INFLIGHT_BYTES`), see
    /// [`AppState::admit_ingest`].
    ingest_inflight: Semaphore,
    pub write_limiter: RateLimiter,
    pub read_limiter: RateLimiter,
    /// Deployment states and the OTLP version memory (spec events §5).
    pub deployments: Arc<crate::ingest::deployments::Registry>,
    /// The incident engine (its cache of open incidents; ticks run when enabled).
    pub incidents: Arc<crate::incidents::engine::IncidentEngine>,
    /// Maintenance, the index warmer and the engine loop, once storage is recovered.
    pub background: background::Background,
    /// The idempotency cache of tools, plans and Ask (spec reads §6.2).
    pub idempotency: crate::agent::idempotency::IdempotencyCache<agent::Stored>,
    /// The event logs of plans, for their SSE streams (spec reads §6.4).
    pub plan_logs: crate::agent::plan_log::PlanLogs,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("ready", &self.ready)
            .finish()
    }
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn new(config: Config, clock: SharedClock) -> SharedState {
        let incidents = Arc::new(crate::incidents::engine::IncidentEngine::new(
            config.incidents.clone(),
        ));
        Arc::new(AppState {
            query_slots: Semaphore::new(config.query_concurrency),
            read_slots: Semaphore::new(config.read_concurrency),
            ingest_inflight: Semaphore::new(inflight_kib(config.ingest_inflight_bytes)),
            write_limiter: RateLimiter::new(config.rate_limit_write_rps),
            read_limiter: RateLimiter::new(config.rate_limit_read_rps),
            config,
            clock,
            storage: OnceLock::new(),
            engine: OnceLock::new(),
            ready: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            deployments: Arc::default(),
            incidents,
            background: background::Background::default(),
            idempotency: Default::default(),
            plan_logs: Default::default(),
        })
    }

    /// Install recovered storage and become ready.
    pub fn set_storage(&self, storage: Arc<Storage>) {
        let engine = QueryEngine::new(storage.clone())
            .with_max_value_bytes(self.config.query_max_value_bytes)
            .with_trace_index_bytes(self.config.trace_index_bytes)
            .with_analyze_max_rows(self.config.query_max_analyze_rows);
        let _ = self.storage.set(storage);
        let _ = self.engine.set(engine);
        self.ready.store(true, Ordering::SeqCst);
    }

    pub fn storage(&self) -> Option<&Arc<Storage>> {
        self.storage.get()
    }

    pub fn engine(&self) -> Option<&QueryEngine> {
        self.engine.get()
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Storage that takes writes now (spec events §2.2 checks 8-9): recovered, not shutting
    /// down, not over its hot-tier cap. Decided once per request, before its body is read.
    pub fn writable(&self, route: WriteRoute) -> Result<Arc<Storage>, ApiError> {
        let storage = match self.storage() {
            Some(s) if self.is_ready() && !self.is_shutting_down() => s.clone(),
            _ => return Err(route.not_ready()),
        };
        if let Some(retry) = storage.overloaded() {
            return Err(route.overloaded(retry));
        }
        Ok(storage)
    }

    /// [`AppState::admit_ingest`] for an HTTP request, charged by [`AppState::ingest_charge`]:
    /// the request back with its permit, or the refusal after draining what the client still
    /// sends of a small body ([`body::drain_refused`]).
    pub async fn admit_ingest_request(
        &self,
        route: WriteRoute,
        req: Request,
    ) -> Result<(Request, tokio::sync::SemaphorePermit<'_>), ApiError> {
        match self.admit_ingest(route, self.ingest_charge(req.headers())) {
            Ok(permit) => Ok((req, permit)),
            Err(e) => {
                body::drain_refused(req.into_body()).await;
                Err(e)
            }
        }
    }

    /// Admit an ingest body of `bytes` into the in-flight budget for as long as the returned
    /// permit lives (read, decode, convert, commit), else `503 overloaded` at once: the bytes a
    /// burst of large requests can hold in memory are bounded, whatever their number. A body
    /// larger than the whole budget is admitted when nothing else is in flight.
    pub fn admit_ingest(
        &self,
        route: WriteRoute,
        bytes: usize,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        let total = inflight_kib(self.config.ingest_inflight_bytes);
        let kib = bytes.div_ceil(1024).clamp(1, total);
        let kib = u32::try_from(kib).unwrap_or(u32::MAX);
        self.ingest_inflight
            .try_acquire_many(kib)
            .map_err(|_| route.overloaded(1))
    }

    /// What admitting a request body costs: its declared length when it is neither compressed
    /// nor longer than the limit, else the body limit (what it may decompress to).
    pub fn ingest_charge(&self, headers: &axum::http::HeaderMap) -> usize {
        let max = self.config.max_body_bytes;
        if headers.contains_key(axum::http::header::CONTENT_ENCODING) {
            return max;
        }
        headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map_or(max, |n| n.min(max))
    }

    /// Register the new `service.version`s of stored OTLP events as deployments (spec events
    /// §5.3), in the background.
    pub fn observe_deployments(&self, events: &[Event]) {
        if let (Some(storage), Some(engine)) = (self.storage(), self.engine()) {
            crate::ingest::deployments::register_from_otlp(
                &self.deployments,
                storage.clone(),
                engine.clone(),
                self.clock.clone(),
                events,
            );
        }
    }
}

/// The request id of a request (set by the middleware).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn valid_request_id(v: &str) -> bool {
    (1..=128).contains(&v.len()) && v.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Every request body fails once `WAYLOG_HTTP_BODY_TIMEOUT` has passed since the request
/// arrived ([`body::DeadlineBody`]).
async fn body_deadline_layer(
    axum::extract::State(timeout): axum::extract::State<std::time::Duration>,
    req: Request,
    next: Next,
) -> Response {
    let req = req.map(|b| axum::body::Body::new(body::DeadlineBody::new(b, timeout)));
    next.run(req).await
}

async fn request_id_layer(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| format!("req_{:016x}", rand::random::<u64>()));
    req.extensions_mut().insert(RequestId(id.clone()));
    // Every log line of the request carries its id; a 5xx body gets it too.
    let span = tracing::info_span!("request", request_id = %id);
    let resp = next.run(req).instrument(span).await;
    let mut resp = error::fill_request_id(resp, &id);
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// Count every request in `waylog_http_requests_total{route, status}` and time it in
/// `waylog_http_request_duration_seconds{route}`; `route` is the router's pattern (bounded),
/// `unmatched` for the fallback.
async fn http_metrics_layer(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    crate::metrics::http_request(
        &route,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

async fn not_found() -> Response {
    ApiError::not_found("not found").into_response()
}

/// The in-flight ingest budget in KiB permits (at least one).
fn inflight_kib(bytes: usize) -> usize {
    (bytes / 1024).clamp(1, Semaphore::MAX_PERMITS)
}

pub fn router(state: SharedState) -> Router {
    let otlp = if state.config.otlp_enabled {
        Router::new()
            .route("/v1/otlp/v1/traces", any(otlp_http::otlp_traces_ingest))
            .route("/v1/traces", any(otlp_http::otlp_traces_ingest))
    } else {
        Router::new()
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", any(metrics::metrics_get))
        .route("/v1/events", any(events::events_ingest))
        .route("/v1/events/validate", any(events::events_validate))
        .route("/v1/signals", any(signals::signals_route))
        .route("/v1/alerts", any(alerts::alerts_ingest))
        .route("/v1/deployments", any(deployments::deployments_route))
        .route("/v1/query", any(query::query_run))
        .merge(reads::routes())
        .merge(triage::routes())
        .merge(ui::routes())
        .merge(agent::routes(&state.config))
        .merge(otlp)
        .merge(test_hooks::routes(&state))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.config.http_body_timeout,
            body_deadline_layer,
        ))
        .layer(middleware::from_fn(http_metrics_layer))
        .layer(middleware::from_fn(request_id_layer))
        .with_state(state)
}

/// Add the CORS headers of a CORS-enabled route (`/v1/deployments`, `/v1/incidents/…`):
/// `Access-Control-Allow-Origin` = `WAYLOG_CORS_ORIGIN` and the route's allowed `methods`.
pub fn with_cors(state: &AppState, methods: &'static str, mut resp: Response) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&state.config.cors_origin) {
        h.insert(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(
        axum::http::header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    resp
}

/// Recover storage into `state` and start background maintenance.
pub async fn start_storage(
    state: &SharedState,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Arc<Storage>> {
    let (storage, report) =
        Storage::open(StorageConfig::from(&state.config), state.clock.clone()).await?;
    for p in &report.problems {
        tracing::warn!(problem = %p, "recovery");
    }
    tracing::info!(
        delta_version = report.delta_version,
        cold_files = report.cold_files,
        replayed_records = report.replayed_records,
        replayed_rows = report.replayed_rows,
        dedup_ids = report.dedup_ids,
        elapsed_ms = report.elapsed.as_millis() as u64,
        cold_store = %storage.cold().location,
        "recovered"
    );
    let bg = &state.background;
    bg.spawn(
        "maintenance",
        storage.clone().run_maintenance(shutdown.clone()),
    );
    state.set_storage(storage.clone());
    if let Some(engine) = state.engine().cloned() {
        bg.spawn("index warmer", engine.run_index_warmer(shutdown.clone()));
    }
    let incidents = &state.config.incidents;
    if incidents.rebuild_requested {
        tracing::info!(
            "WAYLOG_REBUILD_INCIDENTS_ON_START is accepted and ignored: incidents continue from the stored table"
        );
    }
    if incidents.enabled
        && let Some(engine) = state.engine().cloned()
    {
        bg.spawn(
            "incident engine",
            crate::incidents::engine::run(
                state.incidents.clone(),
                storage.clone(),
                engine,
                state.clock.clone(),
                state.config.query_memory_bytes,
                shutdown,
            ),
        );
    }
    Ok(storage)
}

/// Run `waylog serve` until SIGTERM/SIGINT; returns after a clean shutdown.
pub async fn serve(config: Config, clock: SharedClock) -> anyhow::Result<()> {
    let process_start = std::time::Instant::now();
    crate::metrics::process::mark_start();
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.addr))?;
    let addr: SocketAddr = listener.local_addr()?;
    // Tests and scripts read this line to find the port.
    println!("waylog listening on http://{addr}");
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "listening");
    let state = AppState::new(config, clock);
    let (stop_tx, stop_rx) = watch::channel(false);

    let app = router(state.clone());
    let sig_state = state.clone();
    let stop_for_signal = stop_tx.clone();
    let header_timeout = state.config.http_header_timeout;
    let server = tokio::spawn(http_server::serve(
        listener,
        app,
        header_timeout,
        async move {
            shutdown_signal().await;
            tracing::info!("shutting down: draining in-flight requests");
            sig_state.begin_shutdown();
            let _ = stop_for_signal.send(true);
        },
    ));

    let storage = match start_storage(&state, stop_rx.clone()).await {
        Ok(s) => s,
        Err(e) => {
            server.abort();
            return Err(anyhow::anyhow!("{}", error_chain(e.as_ref())));
        }
    };
    // OTLP/gRPC starts once storage is ready; it prints its own address line.
    let otlp_grpc = match otlp_grpc::start(&state, stop_rx.clone()).await {
        Ok(task) => task,
        Err(e) => {
            server.abort();
            let _ = stop_tx.send(true);
            tokio::task::spawn_blocking(move || storage.close()).await??;
            return Err(e);
        }
    };
    let startup_ms = process_start.elapsed().as_secs_f64() * 1000.0;
    println!("waylog ready (startup_ms={startup_ms:.1})");
    tracing::info!(startup_ms, "ready");
    server.await?;
    let _ = stop_tx.send(true);
    // In-flight OTLP/gRPC calls finish (bounded by their grace) before the writer stops.
    if let Some(task) = otlp_grpc {
        let _ = task.await;
    }
    state.background.join(BACKGROUND_GRACE).await;
    tokio::task::spawn_blocking(move || storage.close()).await??;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM (shared by `serve` and `demo`).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
