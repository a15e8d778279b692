//! The `waylog` command line: `serve` runs the server; client verbs talk to it over HTTP
//! (or, for `query --data-dir`, open a data directory directly). Exit codes (spec reads
//! §7.1): 0 ok, 1 usage, 2 transport / data-dir I/O, 3 server 4xx or rejected SQL, 4 server
//! 5xx or local internal error.

pub mod demo;
pub mod mcp;
pub mod table;
pub mod verbs;

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::clock::SystemClock;
use crate::config::{ServeArgs, parse_bytes};
use crate::demo::otlp_load::Transport;
use crate::duration::parse_duration;
use crate::query::output::{columns_of, rows_to_csv, rows_to_json};
use crate::query::{QueryEngine, QueryError, QueryOptions, run_user_sql};
use crate::storage::Storage;

pub const EXIT_OK: i32 = 0;
pub const EXIT_USAGE: i32 = 1;
pub const EXIT_TRANSPORT: i32 = 2;
pub const EXIT_CLIENT: i32 = 3;
pub const EXIT_SERVER: i32 = 4;

#[derive(Debug, Parser)]
#[command(
    name = "waylog",
    version,
    about = "Production incident triage over trace-linked wide events"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Globals,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Globals {
    /// Server base URL (WAYLOG_URL, else INGEST_ADDR, else http://127.0.0.1:8080).
    #[arg(long, alias = "url", global = true)]
    pub addr: Option<String>,
    /// Read key, sent as `Authorization: Bearer <key>` (default WAYLOG_READ_KEY); for
    /// `waylog mcp` the agent key (default WAYLOG_AGENT_KEY).
    #[arg(long, global = true, hide_env_values = true)]
    pub api_key: Option<String>,
    /// Per-request timeout (default WAYLOG_CLI_TIMEOUT, else 5s).
    #[arg(long, global = true)]
    pub timeout: Option<String>,
    /// Print the server's JSON body.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Run read-only SQL over events (and the other tables).
    Query(QueryArgs),
    /// Benchmark driver: concurrent NDJSON ingest against a running server.
    #[command(hide = true)]
    Loadgen(LoadgenCli),
    /// Benchmark driver: concurrent OTLP exporters (HTTP protobuf or gRPC).
    #[command(hide = true)]
    LoadgenOtlp(LoadgenOtlpCli),
    /// Benchmark driver: load N events in-process and time a query hot and cold.
    #[command(hide = true)]
    BenchQuery(BenchQueryCli),
    /// Benchmark driver: N events half hot, half cold; time the read endpoints.
    #[command(hide = true)]
    BenchReads(BenchQueryCli),
    /// Benchmark driver: N events over the detection windows; time incident engine ticks.
    #[command(hide = true)]
    BenchTick(BenchQueryCli),
    /// Benchmark driver: N events half hot, half cold, extra label values; time `/metrics`.
    #[command(hide = true)]
    BenchMetrics(BenchMetricsCli),
    /// Benchmark driver: the ingest stages of one request, each alone, on one core.
    #[command(hide = true)]
    BenchIngestStages(BenchIngestStagesCli),
    /// Benchmark driver: the fsync-only and parse-only ceilings of durable ingest.
    #[command(hide = true)]
    BenchIngestCeilings(BenchIngestCeilingsCli),
    /// Benchmark driver: Delta flush/commit latency and snapshot load before/after compaction.
    #[command(hide = true)]
    BenchDelta(Box<BenchDeltaCli>),
    /// Start waylog (or target --addr) and four demo services, drive a burst through them and
    /// print the triage story.
    Demo(demo::DemoArgs),
    /// MCP over stdio: newline-delimited JSON-RPC on stdin/stdout, tools served by the server
    /// at --addr / WAYLOG_URL with the agent key (--api-key, else WAYLOG_AGENT_KEY).
    Mcp,
    /// The read verbs (spec reads §7.2).
    #[command(flatten)]
    Read(verbs::Verb),
}

#[derive(Debug, Clone, Args)]
pub struct LoadgenCli {
    /// Connections, one thread each.
    #[arg(long, default_value = "4")]
    pub clients: usize,
    #[arg(long, default_value = "500")]
    pub batch: usize,
    #[arg(long, default_value = "20s")]
    pub duration: String,
    /// Offered events/s over all connections, open loop: requests leave on a fixed schedule
    /// and latency counts from the scheduled time (default: closed loop, unlimited).
    #[arg(long)]
    pub rate: Option<u64>,
    /// Write key (default WAYLOG_WRITE_KEY).
    #[arg(long)]
    pub write_key: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct LoadgenOtlpCli {
    /// `http` (protobuf on /v1/traces) or `grpc`.
    #[arg(long, default_value = "http")]
    pub transport: String,
    /// gRPC `host:port` (for `--transport grpc`).
    #[arg(long)]
    pub grpc_addr: Option<String>,
    #[arg(long, default_value = "4")]
    pub clients: usize,
    /// Spans per export request.
    #[arg(long, default_value = "512")]
    pub batch: usize,
    #[arg(long, default_value = "20s")]
    pub duration: String,
    /// Write key (default WAYLOG_WRITE_KEY).
    #[arg(long)]
    pub write_key: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct BenchMetricsCli {
    #[arg(long, default_value = "10000000")]
    pub rows: usize,
    #[arg(long, default_value = "200")]
    pub iterations: usize,
    /// Extra distinct label values registered before the scrapes.
    #[arg(long, default_value = "1000")]
    pub labels: usize,
    #[arg(long)]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct BenchIngestStagesCli {
    /// Events per request.
    #[arg(long, default_value = "500")]
    pub batch: usize,
    /// Requests timed per stage.
    #[arg(long, default_value = "200")]
    pub iterations: usize,
    /// Where the WAL stages write (a fresh directory is made inside).
    #[arg(long)]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct BenchIngestCeilingsCli {
    /// Events per request.
    #[arg(long, default_value = "500")]
    pub batch: usize,
    /// Concurrent appenders of the fsync-only ceiling.
    #[arg(long, default_value = "4")]
    pub clients: usize,
    /// Decoder threads of the parse-only ceiling (also timed with one).
    #[arg(long, default_value = "2")]
    pub threads: usize,
    /// Length of each measurement.
    #[arg(long, default_value = "10s")]
    pub duration: String,
    /// Where the WAL of the fsync ceiling is written (a fresh directory is made inside).
    #[arg(long)]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct BenchDeltaCli {
    /// Parent of the stages' data directories (`flush/`, `snapshot/`).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// `s3://bucket/prefix` (stages under `<prefix>/flush`, `<prefix>/snapshot`); default:
    /// each stage's `<data dir>/cold` on local disk.
    #[arg(long)]
    pub cold_store: Option<String>,
    #[command(flatten)]
    pub s3: crate::config::cold_store::S3Args,
    /// Flushes timed.
    #[arg(long, default_value = "50")]
    pub flushes: usize,
    #[arg(long, default_value = "2000")]
    pub rows_per_flush: usize,
    /// Small files of the synthesized snapshot table.
    #[arg(long, default_value = "10000")]
    pub files: usize,
    #[arg(long, default_value = "10")]
    pub files_per_commit: usize,
}

#[derive(Debug, Clone, Args)]
pub struct BenchQueryCli {
    #[arg(long, default_value = "10000000")]
    pub rows: usize,
    #[arg(long, default_value = "20")]
    pub iterations: usize,
    #[arg(long)]
    pub data_dir: PathBuf,
    #[arg(
        long,
        default_value = "SELECT service, anchor_error_code, count(*) FROM events WHERE status <> 'ok' GROUP BY 1,2"
    )]
    pub sql: String,
    /// `bench-reads`: time only the requests whose name contains this.
    #[arg(long)]
    pub only: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// The SQL text (or use --file).
    pub sql: Option<String>,
    /// table (default), json or csv (the names of [`QueryFormat`]).
    #[arg(long, default_value = "table")]
    pub format: String,
    #[arg(long)]
    pub limit: Option<u64>,
    /// Query timeout (e.g. 30s).
    #[arg(long)]
    pub query_timeout: Option<String>,
    /// Read SQL from a file (`-` = stdin).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Open this data directory directly (no server).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Cold store of the data directory (default WAYLOG_COLD_STORE, else <dir>/cold): a
    /// path, file:// or s3://bucket/prefix (read-only).
    #[arg(long)]
    pub cold_store: Option<String>,
    #[command(flatten)]
    pub s3: crate::config::cold_store::S3Args,
}

/// `waylog query --format`. The flag stays a string so that a wrong value keeps the verb's
/// own usage line; [`choice`] parses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryFormat {
    Table,
    Json,
    Csv,
}

/// Parse a flag value by the names of its [`ValueEnum`]; a wrong value is `usage`.
fn choice<E: ValueEnum>(text: &str, usage: &str) -> Result<E, CliError> {
    E::from_str(text, false).map_err(|_| CliError::usage(usage))
}

/// A CLI failure: message for stderr and the exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    fn usage(msg: impl Into<String>) -> Self {
        CliError {
            code: EXIT_USAGE,
            message: format!("usage: {}", msg.into()),
        }
    }

    fn transport(msg: impl std::fmt::Display) -> Self {
        CliError {
            code: EXIT_TRANSPORT,
            message: format!("transport error: {msg}"),
        }
    }
}

/// Normalize a server URL (spec reads §7.1).
pub fn normalize_url(raw: &str) -> String {
    let raw = raw.trim();
    let mut url = if raw.starts_with(':') {
        format!("http://127.0.0.1{raw}")
    } else if raw.contains("://") {
        raw.to_string()
    } else {
        format!("http://{raw}")
    };
    while url.ends_with('/') {
        url.pop();
    }
    url
}

pub(crate) fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The one blocking HTTP agent of the CLI: statuses are answers, not errors; `timeout` bounds
/// each whole request (a request may set its own).
pub(crate) fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

const USER_AGENT: &str = concat!("waylog/", env!("CARGO_PKG_VERSION"));

/// The read verbs' connection to a server: base URL, read key and one agent.
pub struct Client {
    base: String,
    key: Option<String>,
    timeout: Duration,
    agent: ureq::Agent,
}

impl Client {
    pub fn from_globals(g: &Globals) -> Result<Client, CliError> {
        let base = g
            .addr
            .clone()
            .or_else(|| env_nonempty("WAYLOG_URL"))
            .or_else(|| env_nonempty("INGEST_ADDR"))
            .unwrap_or_else(|| "http://127.0.0.1:8080".into());
        let timeout = match g
            .timeout
            .clone()
            .or_else(|| env_nonempty("WAYLOG_CLI_TIMEOUT"))
        {
            None => Duration::from_secs(5),
            Some(t) => match parse_duration(&t) {
                Some(d) if !d.is_zero() => d,
                _ => {
                    return Err(CliError::usage(format!(
                        "waylog --timeout <duration>: invalid duration {t:?}"
                    )));
                }
            },
        };
        Ok(Client {
            base: normalize_url(&base),
            key: g
                .api_key
                .clone()
                .or_else(|| env_nonempty("WAYLOG_READ_KEY")),
            timeout,
            agent: http_agent(timeout),
        })
    }

    /// GET `path` with the query pairs (percent-encoded by the agent) under the client's
    /// timeout; returns (status, body text).
    pub fn get(&self, path: &str, query: &[(&str, String)]) -> Result<(u16, String), CliError> {
        let mut req = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Accept", "application/json")
            .header("User-Agent", USER_AGENT);
        for (k, v) in query {
            req = req.query(*k, v);
        }
        if let Some(k) = &self.key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let resp = req.call().map_err(CliError::transport)?;
        read_answer(resp)
    }

    /// POST JSON under `timeout`; returns (status, body text).
    pub fn post_json(
        &self,
        path: &str,
        body: &Value,
        timeout: Duration,
    ) -> Result<(u16, String), CliError> {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("Accept", "application/json")
            .header("User-Agent", USER_AGENT)
            .header("Content-Type", "application/json");
        if let Some(k) = &self.key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let resp = req.send(body.to_string()).map_err(CliError::transport)?;
        read_answer(resp)
    }
}

/// (status, body text) of an answer, up to 1 GiB.
fn read_answer(mut resp: ureq::http::Response<ureq::Body>) -> Result<(u16, String), CliError> {
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_string()
        .map_err(CliError::transport)?;
    Ok((status, text))
}

/// Turn a non-2xx response into the spec's stderr line and exit code.
fn api_error(status: u16, body: &str) -> CliError {
    let code = if status >= 500 {
        EXIT_SERVER
    } else {
        EXIT_CLIENT
    };
    let message = match serde_json::from_str::<Value>(body) {
        Ok(v) if v.get("error").is_some() => {
            let e = &v["error"];
            let c = e["code"].as_str().unwrap_or("error");
            let detail = e["detail"].as_str().unwrap_or("");
            let msg = if detail.is_empty() {
                e["message"].as_str().unwrap_or("")
            } else {
                detail
            };
            format!("{c}: {msg}")
        }
        _ => format!("http_{status}: {}", body.trim()),
    };
    CliError { code, message }
}

/// Entry point for everything but `serve`.
pub fn run(cli: Cli) -> Result<String, CliError> {
    match cli.command {
        Command::Serve(_) => unreachable!("serve is handled by main"),
        Command::Query(q) => query(&cli.global, q),
        Command::Read(verb) => verbs::run(&cli.global, verb),
        Command::Loadgen(l) => {
            let client = Client::from_globals(&cli.global)?;
            let duration = parse_duration(&l.duration)
                .ok_or_else(|| CliError::usage("waylog loadgen --duration <dur>"))?;
            let report = crate::demo::bench::loadgen(&crate::demo::bench::LoadgenArgs {
                url: client.base.clone(),
                key: l.write_key.or_else(|| env_nonempty("WAYLOG_WRITE_KEY")),
                clients: l.clients.max(1),
                batch: l.batch.max(1),
                duration,
                rate: l.rate,
            });
            Ok(format!("{report}\n"))
        }
        Command::LoadgenOtlp(l) => {
            let client = Client::from_globals(&cli.global)?;
            let usage =
                || CliError::usage("waylog loadgen-otlp --transport http|grpc --duration <dur>");
            let duration = parse_duration(&l.duration).ok_or_else(usage)?;
            let transport: Transport = choice(
                &l.transport,
                "waylog loadgen-otlp --transport http|grpc --duration <dur>",
            )?;
            let args = crate::demo::otlp_load::OtlpLoadArgs {
                url: client.base.clone(),
                grpc_addr: l.grpc_addr,
                transport,
                key: l.write_key.or_else(|| env_nonempty("WAYLOG_WRITE_KEY")),
                clients: l.clients.max(1),
                batch: l.batch.max(1),
                duration,
            };
            run_bench(async move { Ok(crate::demo::otlp_load::loadgen_otlp(args).await) })
        }
        Command::Demo(d) => demo::run(cli.global.addr.clone(), cli.global.api_key.clone(), d),
        Command::Mcp => mcp::run(&cli.global),
        Command::BenchTick(b) => run_bench(crate::demo::bench::bench_tick(
            &b.data_dir,
            b.rows,
            b.iterations,
        )),
        Command::BenchMetrics(b) => run_bench(crate::demo::bench::bench_metrics(
            &b.data_dir,
            b.rows,
            b.iterations,
            b.labels,
        )),
        Command::BenchDelta(b) => {
            let s3 = b.s3.clone().into_settings().map_err(CliError::usage)?;
            let args = crate::demo::bench_delta::DeltaBenchArgs {
                dir: b.data_dir.clone(),
                cold_store: b.cold_store.clone(),
                s3,
                flushes: b.flushes,
                rows_per_flush: b.rows_per_flush,
                files: b.files,
                files_per_commit: b.files_per_commit,
            };
            run_bench(async move { crate::demo::bench_delta::bench_delta(&args).await })
        }
        Command::BenchIngestStages(b) => run_bench(async move {
            crate::demo::bench::bench_ingest_stages(&b.data_dir, b.batch, b.iterations)
        }),
        Command::BenchIngestCeilings(b) => {
            let duration = parse_duration(&b.duration)
                .ok_or_else(|| CliError::usage("waylog bench-ingest-ceilings --duration <dur>"))?;
            let args = crate::demo::ceilings::CeilingArgs {
                batch: b.batch,
                clients: b.clients,
                threads: b.threads,
                duration,
            };
            run_bench(
                async move { crate::demo::ceilings::bench_ingest_ceilings(&b.data_dir, &args) },
            )
        }
        Command::BenchReads(b) => run_bench(crate::demo::bench::bench_reads(
            &b.data_dir,
            b.rows,
            b.iterations,
            b.only.as_deref(),
        )),
        Command::BenchQuery(b) => run_bench(crate::demo::bench::bench_query(
            &b.data_dir,
            b.rows,
            b.iterations,
            &b.sql,
        )),
    }
}

/// Run one in-process benchmark driver on a fresh runtime and print its JSON report.
fn run_bench(
    work: impl std::future::Future<Output = anyhow::Result<Value>>,
) -> Result<String, CliError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError {
            code: EXIT_SERVER,
            message: e.to_string(),
        })?;
    let report = rt.block_on(work).map_err(|e| CliError {
        code: EXIT_SERVER,
        message: format!("internal_error: {e:#}"),
    })?;
    Ok(format!("{report}\n"))
}

fn read_sql(q: &QueryArgs) -> Result<String, CliError> {
    match (&q.sql, &q.file) {
        (Some(_), Some(_)) | (None, None) => Err(CliError::usage(
            "waylog query <sql> | --file <path> [--format table|json|csv] [--limit N] [--data-dir DIR]",
        )),
        (Some(s), None) => Ok(s.clone()),
        (None, Some(p)) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| {
                CliError::usage(format!("waylog query --file -: cannot read stdin: {e}"))
            })?;
            Ok(s)
        }
        (None, Some(p)) => std::fs::read_to_string(p)
            .map_err(|e| CliError::usage(format!("waylog query --file {}: {e}", p.display()))),
    }
}

fn query(g: &Globals, q: QueryArgs) -> Result<String, CliError> {
    let sql = read_sql(&q)?;
    let format = if g.json {
        QueryFormat::Json
    } else {
        choice(&q.format, "waylog query --format table|json|csv")?
    };
    let query_timeout = match &q.query_timeout {
        None => None,
        Some(t) => match parse_duration(t) {
            Some(d) if !d.is_zero() => Some(d),
            _ => {
                return Err(CliError::usage(format!(
                    "waylog query --query-timeout <duration>: invalid {t:?}"
                )));
            }
        },
    };
    if q.limit == Some(0) {
        return Err(CliError::usage("waylog query --limit must be >= 1"));
    }
    if let Some(dir) = &q.data_dir {
        let s3 = q.s3.clone().into_settings().map_err(CliError::usage)?;
        return query_local(
            dir,
            q.cold_store
                .clone()
                .or_else(|| env_nonempty("WAYLOG_COLD_STORE")),
            &s3,
            &sql,
            format,
            q.limit,
            query_timeout,
        );
    }
    let client = Client::from_globals(g)?;
    let mut body =
        json!({"sql": sql, "format": if format == QueryFormat::Csv { "csv" } else { "json" }});
    if let Some(l) = q.limit {
        body["limit"] = json!(l);
    }
    if let Some(t) = query_timeout {
        body["timeout_ms"] = json!(t.as_millis() as u64);
    }
    let http_timeout = match query_timeout {
        Some(t) if t + Duration::from_secs(5) > client.timeout => t + Duration::from_secs(5),
        _ => client.timeout,
    };
    let (status, text) = client.post_json("/v1/query", &body, http_timeout)?;
    if !(200..300).contains(&status) {
        return Err(api_error(status, &text));
    }
    let limit = q.limit.unwrap_or(1000);
    match format {
        QueryFormat::Csv => Ok(text),
        QueryFormat::Json | QueryFormat::Table => {
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| CliError::transport(format!("undecodable response: {e}")))?;
            if format == QueryFormat::Json {
                Ok(format!(
                    "{}\n",
                    serde_json::to_string_pretty(&v).expect("json prints")
                ))
            } else {
                Ok(table::render_query_table(&v, limit))
            }
        }
    }
}

fn query_local(
    dir: &std::path::Path,
    cold_store: Option<String>,
    s3: &crate::config::cold_store::S3Settings,
    sql: &str,
    format: QueryFormat,
    limit: Option<u64>,
    timeout: Option<Duration>,
) -> Result<String, CliError> {
    let memory = env_nonempty("WAYLOG_QUERY_MEMORY")
        .map(|m| {
            parse_bytes(&m)
                .ok_or_else(|| CliError::usage(format!("WAYLOG_QUERY_MEMORY: invalid size {m:?}")))
        })
        .transpose()?
        .unwrap_or(512 << 20) as usize;
    let max_value = env_nonempty("WAYLOG_QUERY_MAX_VALUE_BYTES")
        .map(|m| {
            parse_bytes(&m).ok_or_else(|| {
                CliError::usage(format!("WAYLOG_QUERY_MAX_VALUE_BYTES: invalid size {m:?}"))
            })
        })
        .transpose()?
        .map_or(crate::query::value_cap::DEFAULT_MAX_VALUE_BYTES, |n| {
            n as usize
        });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError {
            code: EXIT_SERVER,
            message: format!("internal_error: {e}"),
        })?;
    let limit = limit.unwrap_or(1000) as usize;
    let result = rt.block_on(async {
        let storage =
            Storage::open_read_only(dir, cold_store.as_deref(), s3, Arc::new(SystemClock))
                .await
                .map_err(|e| CliError {
                    code: EXIT_TRANSPORT,
                    message: format!("data dir error: {}", crate::storage::error_chain(&e)),
                })?;
        let engine = QueryEngine::new(storage).with_max_value_bytes(max_value);
        run_user_sql(
            &engine,
            sql,
            &QueryOptions {
                limit,
                timeout,
                memory_bytes: memory,
            },
        )
        .await
        .map_err(|e| {
            let code = match e {
                QueryError::NotAllowed(_)
                | QueryError::InvalidSql(_)
                | QueryError::Execution(_)
                | QueryError::ResourcesExhausted(_) => EXIT_CLIENT,
                QueryError::Unavailable(_) => EXIT_TRANSPORT,
                QueryError::Timeout | QueryError::Internal(_) => EXIT_SERVER,
            };
            CliError {
                code,
                message: format!("{}: {e}", e.code()),
            }
        })
    })?;
    let columns = columns_of(&result.schema);
    let rows = rows_to_json(&result.batches, result.row_count);
    if format == QueryFormat::Csv {
        return Ok(rows_to_csv(&columns, &rows));
    }
    let v = json!({
        "columns": columns.iter().map(|c| json!({"name": c.name, "type": c.data_type, "nullable": c.nullable})).collect::<Vec<_>>(),
        "rows": rows,
        "row_count": result.row_count,
        "truncated": result.truncated,
        "elapsed_ms": result.elapsed_ms,
    });
    if format == QueryFormat::Json {
        Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&v).expect("json prints")
        ))
    } else {
        Ok(table::render_query_table(&v, limit as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_url_follows_spec() {
        assert_eq!(normalize_url(":8080"), "http://127.0.0.1:8080");
        assert_eq!(normalize_url("localhost:9/"), "http://localhost:9");
        assert_eq!(normalize_url("https://x.example/"), "https://x.example");
    }
}
