//! `waylog demo` (spec triage §8): one command that tells the whole story.
//!
//! 1. Start waylog in-process on `--listen` (default `127.0.0.1:8080`, port 0 allowed) with
//!    data dir `--data-dir` (default `./data/demo-state`), profile `demo`, incident tick
//!    `--tick` (default `5s`), write key `--write-key` (default `demo`), read scope open; the
//!    other process settings come from the `WAYLOG_*` variables of `waylog serve`. With the
//!    global `--addr` the demo targets that running server instead and starts none.
//! 2. Start the four simulated services of [`crate::demo::services`] on 127.0.0.1 —
//!    api-gateway `--gateway-port` (9081), checkout `--checkout-port` (9082), payment
//!    `--payment-port` (9083), db `--db-port` (9084); 0 picks a free port — and print one line
//!    per listener, `listening: <service> http://127.0.0.1:<port>`. A taken port stops the
//!    demo with a message naming the port and the flag to change.
//! 3. Unless `--requests 0`: drive one burst through its own gateway (`POST /demo/burst`,
//!    `--requests` / `--concurrency`, scenario draws seeded by `--seed`) and print the report
//!    ([`report`]): the burst, top error families, the root-cause rollup of `PMT_502` next to
//!    the naive per-hop count, one explained trace, the blast radius, the active
//!    `checkout:payment.charge:PMT_502` incident with its snapshot (waiting up to
//!    `--incident-wait` seconds) and its triage report (markdown).
//! 4. Keep serving (server and services) until SIGINT/SIGTERM, or with `--exit` stop after the
//!    report; either way the services stop first, then the server drains and closes storage.
//!
//! The shipped scripts `scripts/demo-acceptance.sh`, `scripts/rollup-comparison.sh`,
//! `scripts/proof-loop.sh` and `scripts/rca-scorecard.sh` (§8.4) run against this demo. Not
//! implemented: the in-process server has no OTLP/gRPC listener (OTLP/HTTP is served).

mod report;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{CliError, EXIT_SERVER, EXIT_TRANSPORT, EXIT_USAGE, env_nonempty, normalize_url};
use crate::api::{AppState, SharedState, router, start_storage};
use crate::clock::SystemClock;
use crate::config::{Config, ServeArgs, from_environment, split_keys};
use crate::demo::services::{
    self, BoundServices, DemoService, RunningServices, ServiceError, ServicePorts, ServicesConfig,
};
use crate::storage::{Storage, error_chain};
use report::Report;

/// `waylog demo` flags (the global `--addr` targets a running server instead).
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Listen address of the in-process server (port 0 picks a free port).
    #[arg(long, env = "WAYLOG_ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Data directory of the in-process server.
    #[arg(long, env = "WAYLOG_DATA_DIR", default_value = "./data/demo-state")]
    pub data_dir: PathBuf,
    /// Port of the api-gateway (0 picks a free port).
    #[arg(long, default_value_t = 9081)]
    pub gateway_port: u16,
    /// Port of checkout (0 picks a free port).
    #[arg(long, default_value_t = 9082)]
    pub checkout_port: u16,
    /// Port of payment (0 picks a free port).
    #[arg(long, default_value_t = 9083)]
    pub payment_port: u16,
    /// Port of db (0 picks a free port).
    #[arg(long, default_value_t = 9084)]
    pub db_port: u16,
    /// Requests of the burst driven through the gateway at start (0..=250; 0: no burst, no
    /// report).
    #[arg(long, default_value = "50")]
    pub requests: usize,
    /// Concurrency of that burst (1..=50).
    #[arg(long, default_value = "10")]
    pub concurrency: usize,
    /// Seed of every burst's scenario draws (default: random per burst).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Read window of the report.
    #[arg(long, default_value = "15m")]
    pub window: String,
    /// Write key of the in-process server; the services send it as `X-API-Key` (empty: open
    /// write scope, no key sent).
    #[arg(
        long,
        env = "WAYLOG_WRITE_KEY",
        default_value = "demo",
        hide_env_values = true
    )]
    pub write_key: String,
    /// Profile of the in-process server.
    #[arg(long, env = "WAYLOG_PROFILE", default_value = "demo")]
    pub profile: String,
    /// Stop after the report instead of serving.
    #[arg(long)]
    pub exit: bool,
    /// Incident engine tick of the in-process server.
    #[arg(long, env = "WAYLOG_INCIDENT_TICK_INTERVAL", default_value = "5s")]
    pub tick: String,
    /// Seconds to wait for the incident before printing the report without it.
    #[arg(long, default_value = "20")]
    pub incident_wait: u64,
}

impl DemoArgs {
    fn ports(&self) -> ServicePorts {
        ServicePorts {
            gateway: self.gateway_port,
            checkout: self.checkout_port,
            payment: self.payment_port,
            db: self.db_port,
        }
    }
}

/// The flag that sets `service`'s port.
fn port_flag(service: DemoService) -> &'static str {
    match service {
        DemoService::Gateway => "--gateway-port",
        DemoService::Checkout => "--checkout-port",
        DemoService::Payment => "--payment-port",
        DemoService::Db => "--db-port",
    }
}

fn err(code: i32, message: impl Into<String>) -> CliError {
    CliError {
        code,
        message: message.into(),
    }
}

fn usage(message: impl std::fmt::Display) -> CliError {
    err(EXIT_USAGE, format!("usage: waylog demo {message}"))
}

fn validate(args: &DemoArgs) -> Result<(), CliError> {
    if args.requests > services::burst::MAX_REQUESTS {
        return Err(usage("--requests must be in 0..=250"));
    }
    if !(1..=services::burst::MAX_CONCURRENCY).contains(&args.concurrency) {
        return Err(usage("--concurrency must be in 1..=50"));
    }
    if crate::duration::parse_duration(&args.window).is_none_or(|d| d.is_zero()) {
        return Err(usage(format!(
            "--window <duration>: invalid {:?}",
            args.window
        )));
    }
    Ok(())
}

/// The in-process server's settings: `waylog serve`'s, from the environment, with the demo's
/// flags on top. The demo runs no OTLP/gRPC listener.
fn server_config(args: &DemoArgs) -> Result<Config, CliError> {
    let mut serve: ServeArgs =
        from_environment().map_err(|e| usage(format!(": invalid environment: {e}")))?;
    serve.addr = args.listen.clone();
    serve.data_dir = args.data_dir.clone();
    serve.write_key = args.write_key.clone();
    serve.profile = args.profile.clone();
    serve.incidents.incident_tick_interval = args.tick.clone();
    serve.otlp_grpc_addr = String::new();
    serve
        .into_config()
        .map_err(|m| usage(format!(": invalid configuration: {m}")))
}

/// Entry point of `waylog demo`. Prints as it goes; returns the empty string on success.
pub fn run(
    addr: Option<String>,
    api_key: Option<String>,
    args: DemoArgs,
) -> Result<String, CliError> {
    validate(&args)?;
    let read_key = api_key.or_else(|| env_nonempty("WAYLOG_READ_KEY"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| err(EXIT_SERVER, format!("internal_error: {e}")))?;
    let bound_server = match addr {
        Some(_) => None,
        None => Some(BoundServer::bind(&rt, server_config(&args)?)?),
    };
    let waylog_url = match (&addr, &bound_server) {
        (_, Some(server)) => server.url(),
        (Some(addr), None) => normalize_url(addr),
        (None, None) => unreachable!("a server is bound when no --addr is given"),
    };
    let services = rt
        .block_on(services::bind(ServicesConfig {
            ports: args.ports(),
            waylog_url: waylog_url.clone(),
            // The first of the server's write keys (the flag takes a comma-separated list).
            write_key: split_keys(&args.write_key).into_iter().next(),
            seed: args.seed,
        }))
        .map_err(port_error)?;
    let server = match bound_server {
        Some(bound) => Some(bound.start(&rt)?),
        None => None,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let running = start_services(&rt, services, stop_rx.clone());
    let interrupt = watch_for_signal(&rt);

    let gateway_url = running.gateway_url.clone();
    let report = Report::new(
        &waylog_url,
        &gateway_url,
        read_key,
        &args,
        interrupt.clone(),
    );
    let result = if args.requests > 0 {
        report.print()
    } else {
        Ok(())
    };
    if result.is_ok() && !args.exit {
        print_hints(&waylog_url, &gateway_url);
        let mut interrupt = interrupt;
        let _ = rt.block_on(interrupt.wait_for(|v| *v));
    }
    let _ = stop_tx.send(true);
    let services_stopped = rt.block_on(running.services.join());
    let server_stopped = match server {
        Some(server) => server.stop(&rt),
        None => Ok(()),
    };
    result?;
    services_stopped.map_err(|e| err(EXIT_SERVER, e))?;
    server_stopped.map(|()| String::new())
}

fn port_error(e: ServiceError) -> CliError {
    let ServiceError::Bind { service, .. } = &e;
    err(
        EXIT_TRANSPORT,
        format!(
            "waylog demo: {e}; choose another port with {} (0 picks a free one)",
            port_flag(*service)
        ),
    )
}

/// The services, serving, and the gateway's URL.
struct Services {
    services: RunningServices,
    gateway_url: String,
}

/// Serve the bound services and print their `listening:` lines.
fn start_services(rt: &Runtime, bound: BoundServices, stop: watch::Receiver<bool>) -> Services {
    for (service, addr) in bound.addrs() {
        println!("listening: {} http://{addr}", service.name());
    }
    let gateway_url = bound.url(DemoService::Gateway);
    println!("demo page: {gateway_url}/demo");
    flush();
    let _guard = rt.enter();
    Services {
        services: bound.spawn(stop),
        gateway_url,
    }
}

/// A channel that turns `true` on SIGINT / SIGTERM.
fn watch_for_signal(rt: &Runtime) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    rt.spawn(async move {
        crate::api::shutdown_signal().await;
        let _ = tx.send(true);
    });
    rx
}

fn flush() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

fn print_hints(waylog_url: &str, gateway_url: &str) {
    println!();
    println!("waylog demo keeps running (Ctrl-C to stop). Explore:");
    println!("  open {gateway_url}/demo");
    println!("  curl -X POST '{gateway_url}/purchase?scenario=payment_502'");
    println!(
        "  curl -X POST {gateway_url}/demo/burst -d '{{\"requests\": 50, \"concurrency\": 10}}'"
    );
    println!("  waylog --addr {waylog_url} errors");
    println!("  waylog --addr {waylog_url} incidents");
    println!("  waylog --addr {waylog_url} triage <incident id>");
    flush();
}

/// The in-process server's listener, bound.
struct BoundServer {
    config: Config,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
}

impl BoundServer {
    /// Bind `config.addr` and print `waylog listening on http://ADDR`.
    fn bind(rt: &Runtime, config: Config) -> Result<BoundServer, CliError> {
        let listen = config.addr;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(listen))
            .map_err(|e| {
                err(
                    EXIT_TRANSPORT,
                    format!(
                        "waylog demo: cannot listen on {listen} for waylog: {e}; choose another address with --listen (port 0 picks a free one)"
                    ),
                )
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| err(EXIT_TRANSPORT, e.to_string()))?;
        println!("waylog listening on http://{addr}");
        Ok(BoundServer {
            config,
            listener,
            addr,
        })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serve and open storage (the routes answer `503` until it is recovered).
    fn start(self, rt: &Runtime) -> Result<Server, CliError> {
        let state = AppState::new(self.config, Arc::new(SystemClock));
        let (stop_tx, stop_rx) = watch::channel(false);
        let (exit_tx, mut exit_rx) = watch::channel(false);
        let app = router(state.clone());
        let shutdown_state = state.clone();
        let stop_on_exit = stop_tx.clone();
        let listener = self.listener;
        let header_timeout = state.config.http_header_timeout;
        let task = rt.spawn(crate::api::http_server::serve(
            listener,
            app,
            header_timeout,
            async move {
                let _ = exit_rx.wait_for(|v| *v).await;
                shutdown_state.begin_shutdown();
                let _ = stop_on_exit.send(true);
            },
        ));
        match rt.block_on(start_storage(&state, stop_rx)) {
            Ok(storage) => Ok(Server {
                state,
                task,
                storage,
                exit_tx,
                stop_tx,
            }),
            Err(e) => {
                task.abort();
                Err(err(
                    EXIT_TRANSPORT,
                    format!("data dir error: {}", error_chain(e.as_ref())),
                ))
            }
        }
    }
}

/// The in-process server, serving.
struct Server {
    state: SharedState,
    task: JoinHandle<()>,
    storage: Arc<Storage>,
    exit_tx: watch::Sender<bool>,
    stop_tx: watch::Sender<bool>,
}

impl Server {
    /// Drain in-flight requests, join the background tasks and close storage.
    fn stop(self, rt: &Runtime) -> Result<(), CliError> {
        let _ = self.exit_tx.send(true);
        let served = rt.block_on(self.task);
        let _ = self.stop_tx.send(true);
        rt.block_on(self.state.background.join(crate::api::BACKGROUND_GRACE));
        let storage = self.storage;
        let closed = rt.block_on(rt.spawn_blocking(move || storage.close()));
        if let Err(e) = served {
            return Err(err(EXIT_SERVER, format!("server task failed: {e}")));
        }
        match closed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(err(EXIT_SERVER, format!("storage close failed: {e:#}"))),
            Err(e) => Err(err(EXIT_SERVER, format!("storage close failed: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_every_service_has_its_port_flag() {
        let flags: Vec<&str> = DemoService::ALL.iter().map(|s| port_flag(*s)).collect();
        assert_eq!(
            flags,
            [
                "--gateway-port",
                "--checkout-port",
                "--payment-port",
                "--db-port"
            ]
        );
    }

    #[test]
    fn demo_port_error_names_the_port_and_the_flag() {
        let e = port_error(ServiceError::Bind {
            service: DemoService::Checkout,
            port: 9082,
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        });
        assert_eq!(e.code, EXIT_TRANSPORT);
        assert!(
            e.message.contains("127.0.0.1:9082 for checkout"),
            "{}",
            e.message
        );
        assert!(e.message.contains("--checkout-port"), "{}", e.message);
    }
}
