//! `waylog serve` settings: every flag has a `WAYLOG_*` environment variable. Parsing and
//! validation only, no I/O: [`ServeArgs::into_config`] turns raw flags into a validated
//! [`Config`] or a message naming the offending setting.
//!
//! Invariant: each setting's default is written once, as its clap `default_value`;
//! [`Config::for_data_dir`], [`ServeArgs::defaults`] and the tests read it from there
//! ([`declared_defaults`]). The incident engine's flags live in [`incidents`] and build the
//! engine's typed settings ([`incident_settings`]), which the engine reads: `crate::incidents`
//! depends on this module, never the reverse (config imports only [`crate::duration`]).

pub mod aws_profile;
pub mod cold_store;
pub mod incident_settings;
pub mod incidents;
pub mod llm;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, FromArgMatches, ValueEnum};

use crate::config::incident_settings::IncidentConfig;
use crate::duration::{format_duration, parse_duration};

/// Raw `waylog serve` flags (strings where the grammar is ours, so errors name the setting).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Listen address of the HTTP API (port 0 picks a free port).
    #[arg(long, env = "WAYLOG_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Data directory: WAL, dedup id log, lock file.
    #[arg(long, env = "WAYLOG_DATA_DIR", default_value = "./waylog-data")]
    pub data_dir: PathBuf,
    /// Cold store URL or path (default `<data dir>/cold`).
    #[arg(long, env = "WAYLOG_COLD_STORE")]
    pub cold_store: Option<String>,
    /// Write-scope keys, comma-separated; empty leaves the scope open.
    #[arg(
        long,
        env = "WAYLOG_WRITE_KEY",
        default_value = "",
        hide_env_values = true
    )]
    pub write_key: String,
    /// Read-scope keys, comma-separated; empty leaves the scope open.
    #[arg(
        long,
        env = "WAYLOG_READ_KEY",
        default_value = "",
        hide_env_values = true
    )]
    pub read_key: String,
    /// Agent-scope keys (tools, plans, plan streams, Ask, MCP), comma-separated; empty leaves
    /// the scope open.
    #[arg(
        long,
        env = "WAYLOG_AGENT_KEY",
        default_value = "",
        hide_env_values = true
    )]
    pub agent_key: String,
    /// Honour the first `X-Forwarded-For` hop as the client address (idempotency principal of
    /// an open agent scope).
    #[arg(long, env = "WAYLOG_TRUST_PROXY", default_value = "false")]
    pub trust_proxy: String,
    /// fdatasync the WAL before acknowledging (`false`: hand to the OS only).
    #[arg(long, env = "WAYLOG_WAL_SYNC", default_value = "true")]
    pub wal_sync: String,
    /// WAL segment size before rotation, in bytes (suffixes KiB, MiB, GiB allowed).
    #[arg(long, env = "WAYLOG_WAL_SEGMENT_BYTES", default_value = "64MiB")]
    pub wal_segment_bytes: String,
    /// Oldest age unflushed data may reach before it is written to Parquet.
    #[arg(long, env = "WAYLOG_HOT_WINDOW")]
    pub hot_window: Option<String>,
    /// Byte cap of the in-memory tier; flushing starts at half, ingest is refused at the cap.
    #[arg(long, env = "WAYLOG_HOT_MAX_BYTES", default_value = "2GiB")]
    pub hot_max_bytes: String,
    /// Bytes of accepted rows waiting for the WAL writer; beyond: `503 overloaded`.
    #[arg(long, env = "WAYLOG_WRITE_QUEUE_BYTES", default_value = "256MiB")]
    pub write_queue_bytes: String,
    #[arg(long, env = "WAYLOG_MAX_BODY_BYTES", default_value = "16777216")]
    pub max_body_bytes: String,
    /// Bytes of ingest bodies being read, decompressed, parsed and converted at once (an
    /// uncompressed body counts its declared length, others the body limit); beyond:
    /// `503 overloaded` at once.
    #[arg(long, env = "WAYLOG_INGEST_INFLIGHT_BYTES", default_value = "256MiB")]
    pub ingest_inflight_bytes: String,
    #[arg(long, env = "WAYLOG_MAX_BATCH_EVENTS", default_value = "10000")]
    pub max_batch_events: String,
    /// Spans per OTLP export, counted before decoding; beyond: `413 batch_oversize` /
    /// `RESOURCE_EXHAUSTED`.
    #[arg(long, env = "WAYLOG_OTLP_MAX_SPANS", default_value = "50000")]
    pub otlp_max_spans: String,
    /// Time a client gets to send a request's headers, and the longest a keep-alive
    /// connection may sit idle; then the connection is closed.
    #[arg(long, env = "WAYLOG_HTTP_HEADER_TIMEOUT", default_value = "60s")]
    pub http_header_timeout: String,
    /// Time a client gets to send a whole request body, from the request's arrival.
    #[arg(long, env = "WAYLOG_HTTP_BODY_TIMEOUT", default_value = "60s")]
    pub http_body_timeout: String,
    /// Longest OTLP/gRPC call (`DEADLINE_EXCEEDED` after).
    #[arg(long, env = "WAYLOG_GRPC_TIMEOUT", default_value = "30s")]
    pub grpc_timeout: String,
    /// OTLP/gRPC calls served at once per connection; more wait.
    #[arg(long, env = "WAYLOG_GRPC_CONCURRENCY", default_value = "16")]
    pub grpc_concurrency: String,
    /// Event retention (`7d`, `36h`, ...).
    #[arg(long, env = "WAYLOG_RETENTION", default_value = "7d")]
    pub retention: String,
    /// Signal retention (by signal `timestamp`).
    #[arg(long, env = "WAYLOG_SIGNAL_RETENTION", default_value = "72h")]
    pub signal_retention: String,
    #[arg(long, env = "WAYLOG_DEDUP_WINDOW", default_value = "24h")]
    pub dedup_window: String,
    #[arg(long, env = "WAYLOG_DEDUP_MIN_IDS", default_value = "65536")]
    pub dedup_min_ids: String,
    /// Memory budget of the dedup id set (counted at 144 bytes per id); when full the
    /// horizon shrinks to the ids that fit. Must hold `WAYLOG_DEDUP_MIN_IDS` ids.
    #[arg(long, env = "WAYLOG_DEDUP_MAX_BYTES", default_value = "1GiB")]
    pub dedup_max_bytes: String,
    #[arg(long, env = "WAYLOG_QUERY_MAX_ROWS", default_value = "10000")]
    pub query_max_rows: String,
    #[arg(long, env = "WAYLOG_QUERY_TIMEOUT", default_value = "30s")]
    pub query_timeout: String,
    /// Memory pool of one SQL statement, bytes (suffixes allowed).
    #[arg(long, env = "WAYLOG_QUERY_MEMORY", default_value = "512MiB")]
    pub query_memory: String,
    #[arg(long, env = "WAYLOG_QUERY_CONCURRENCY", default_value = "4")]
    pub query_concurrency: String,
    /// Largest value `repeat`, `lpad`, `rpad`, `array_repeat` and integer `range` /
    /// `generate_series` may produce (their outputs escape the memory pool).
    #[arg(long, env = "WAYLOG_QUERY_MAX_VALUE_BYTES", default_value = "16MiB")]
    pub query_max_value_bytes: String,
    /// Memory of the cached trace indexes of cold files (`trace_id → rows` and a few resident
    /// columns); beyond, the least recently used are dropped.
    #[arg(long, env = "WAYLOG_TRACE_INDEX_BYTES", default_value = "1GiB")]
    pub trace_index_bytes: String,
    /// Largest `/v1/query` result (its Arrow size, before encoding); beyond:
    /// `422 resources_exhausted`.
    #[arg(long, env = "WAYLOG_QUERY_MAX_RESPONSE_BYTES", default_value = "64MiB")]
    pub query_max_response_bytes: String,
    /// Rows the statement under `EXPLAIN ANALYZE` may produce (it runs under an outer limit
    /// of this many rows, shown in the analyzed plan).
    #[arg(long, env = "WAYLOG_QUERY_MAX_ANALYZE_ROWS", default_value = "10000")]
    pub query_max_analyze_rows: String,
    /// Concurrent reads of the read API (`/v1/errors`, `/v1/traces/…`, `/v1/incidents/…`, …),
    /// each under its own `WAYLOG_QUERY_MEMORY`; beyond: `503 overloaded`.
    #[arg(long, env = "WAYLOG_READ_CONCURRENCY", default_value = "8")]
    pub read_concurrency: String,
    /// Token-bucket rate per credential for write routes (0 = off). Unset: 0 (off), or
    /// 1000 under `--profile prod` (spec events §2.1).
    #[arg(long, env = "WAYLOG_RATE_LIMIT_WRITE_RPS")]
    pub rate_limit_write_rps: Option<String>,
    /// Token-bucket rate per credential for read routes (0 = off).
    #[arg(long, env = "WAYLOG_RATE_LIMIT_READ_RPS", default_value = "0")]
    pub rate_limit_read_rps: String,
    /// `dev`, `demo` (as dev; what `waylog demo` runs) or `prod` (prod refuses open scopes).
    #[arg(long, env = "WAYLOG_PROFILE", default_value = "dev")]
    pub profile: String,
    /// OTLP trace ingest (HTTP routes and the gRPC listener); `false` removes both.
    #[arg(long, env = "WAYLOG_OTLP_ENABLED", default_value = "true")]
    pub otlp_enabled: String,
    /// Listen address of OTLP/gRPC (port 0 picks a free port); empty disables it.
    #[arg(long, env = "WAYLOG_OTLP_GRPC_ADDR", default_value = "127.0.0.1:4317")]
    pub otlp_grpc_addr: String,
    /// `Access-Control-Allow-Origin` of the CORS-enabled routes (`/v1/deployments`,
    /// `/v1/incidents/…`).
    #[arg(long, env = "WAYLOG_CORS_ORIGIN", default_value = "*")]
    pub cors_origin: String,
    /// Scope `GET /metrics` needs: `read` (a read key, like every read route) or `none` (open,
    /// for a scraper on a private network).
    #[arg(long, env = "WAYLOG_METRICS_AUTH", default_value = "read")]
    pub metrics_auth: String,
    /// How long the flusher may fail without one success before `/readyz` answers 503.
    #[arg(long, env = "WAYLOG_FLUSH_FAILURE_UNREADY_AFTER", default_value = "5m")]
    pub flush_failure_unready_after: String,
    /// Internal: enables the `/internal/test/...` routes that stop or break background jobs
    /// (the readiness integration tests). Never set in production.
    #[arg(long, env = "WAYLOG_TEST_HOOKS", default_value = "false", hide = true)]
    pub test_hooks: String,
    #[command(flatten)]
    pub incidents: incidents::IncidentArgs,
    /// Serve MCP over HTTP (`POST /mcp`); `false` removes the route.
    #[arg(long, env = "WAYLOG_MCP_HTTP", default_value = "true")]
    pub mcp_http: String,
    #[command(flatten)]
    pub llm: llm::LlmArgs,
    #[command(flatten)]
    pub s3: cold_store::S3Args,
    /// Size compaction merges the small files of a closed hour partition up to (suffixes
    /// KiB, MiB, GiB allowed).
    #[arg(long, env = "WAYLOG_COMPACT_TARGET_BYTES", default_value = "256MiB")]
    pub compact_target_bytes: String,
}

/// Every flag of `T` at its declared `default_value` (optional flags unset), with the
/// `WAYLOG_*` environment ignored: the defaults for embedding and tests, read from the one
/// place they are written.
pub fn declared_defaults<T: Args + FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("waylog")).mut_args(|arg| arg.env(None));
    let matches = command
        .try_get_matches_from(["waylog"])
        .expect("every flag has a default or is optional");
    T::from_arg_matches(&matches).expect("the declared defaults fit their fields")
}

/// Every flag of `T` from its `WAYLOG_*` variable when set, else its declared default (no
/// argv): the process settings of `waylog demo`, which runs the server of `waylog serve`.
pub fn from_environment<T: Args + FromArgMatches>() -> Result<T, String> {
    let command = T::augment_args(clap::Command::new("waylog"));
    let matches = command
        .try_get_matches_from(["waylog"])
        .map_err(|e| e.to_string())?;
    T::from_arg_matches(&matches).map_err(|e| e.to_string())
}

/// `WAYLOG_PROFILE`; the variants' names are the accepted values. `demo` is what `waylog
/// demo` runs with; it behaves as `dev` (open scopes allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    Dev,
    Demo,
    Prod,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Dev => "dev",
            Profile::Demo => "demo",
            Profile::Prod => "prod",
        }
    }
}

/// `WAYLOG_RATE_LIMIT_WRITE_RPS` when unset, per profile (spec events §2.1).
pub const fn default_write_rps(profile: Profile) -> u32 {
    match profile {
        Profile::Prod => 1000,
        Profile::Dev | Profile::Demo => 0,
    }
}

/// Why `--profile prod` refuses to start: every scope must have keys (spec events §2.1,
/// reads §1.1). `None` when the profile is not prod or every scope has keys.
pub fn prod_refusal(
    profile: Profile,
    write_keys: &[String],
    read_keys: &[String],
    agent_keys: &[String],
) -> Option<String> {
    if profile != Profile::Prod {
        return None;
    }
    let missing: Vec<&str> = [
        (
            "WAYLOG_WRITE_KEY (write scope: ingest, signals, alerts, deployments)",
            write_keys,
        ),
        (
            "WAYLOG_READ_KEY (read scope: queries, reads, incidents, triage, /metrics)",
            read_keys,
        ),
        (
            "WAYLOG_AGENT_KEY (agent scope: tools, plans, Ask, MCP)",
            agent_keys,
        ),
    ]
    .into_iter()
    .filter(|(_, keys)| keys.is_empty())
    .map(|(name, _)| name)
    .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "--profile prod refuses open scopes; set {} (comma-separated keys), or run with --profile dev",
            missing.join(" and ")
        )
    })
}

/// `WAYLOG_METRICS_AUTH`: what `GET /metrics` requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetricsAuth {
    /// No credential (a scraper on a private network).
    None,
    /// A read key, like every read route (the default).
    Read,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// `None` = the default local directory `<data dir>/cold`.
    pub cold_store: Option<String>,
    /// S3 overrides of an `s3://` cold store (`WAYLOG_S3_*`).
    pub s3: cold_store::S3Settings,
    /// `WAYLOG_COMPACT_TARGET_BYTES`.
    pub compact_target_bytes: u64,
    pub write_keys: Vec<String>,
    pub read_keys: Vec<String>,
    pub agent_keys: Vec<String>,
    /// `WAYLOG_TRUST_PROXY`.
    pub trust_proxy: bool,
    pub wal_sync: bool,
    pub wal_segment_bytes: u64,
    pub hot_window: Duration,
    pub hot_window_from_env: bool,
    pub hot_max_bytes: u64,
    pub write_queue_bytes: u64,
    pub max_body_bytes: usize,
    pub ingest_inflight_bytes: usize,
    pub max_batch_events: usize,
    pub otlp_max_spans: usize,
    pub http_header_timeout: Duration,
    pub http_body_timeout: Duration,
    pub grpc_timeout: Duration,
    pub grpc_concurrency: usize,
    pub retention: Duration,
    pub signal_retention: Duration,
    /// `Access-Control-Allow-Origin` of CORS-enabled routes.
    pub cors_origin: String,
    pub dedup_window: Duration,
    pub dedup_min_ids: usize,
    /// `WAYLOG_DEDUP_MAX_BYTES`: the dedup id set's budget (holds at least `dedup_min_ids`).
    pub dedup_max_bytes: usize,
    pub query_max_rows: usize,
    pub query_timeout: Duration,
    pub query_memory_bytes: usize,
    pub query_max_value_bytes: usize,
    /// `WAYLOG_TRACE_INDEX_BYTES`: the budget of the cold trace index cache.
    pub trace_index_bytes: usize,
    pub query_max_response_bytes: usize,
    /// `WAYLOG_QUERY_MAX_ANALYZE_ROWS`: the outer limit of a statement under `EXPLAIN ANALYZE`.
    pub query_max_analyze_rows: usize,
    pub query_concurrency: usize,
    pub read_concurrency: usize,
    pub rate_limit_write_rps: u32,
    pub rate_limit_read_rps: u32,
    pub profile: Profile,
    pub otlp_enabled: bool,
    /// `None` = OTLP/gRPC disabled.
    pub otlp_grpc_addr: Option<SocketAddr>,
    pub metrics_auth: MetricsAuth,
    /// `/readyz` turns not ready when flushes have failed this long without a success.
    pub flush_failure_unready_after: Duration,
    /// The internal test routes are served (`WAYLOG_TEST_HOOKS`).
    pub test_hooks: bool,
    pub incidents: IncidentConfig,
    /// The Ask provider and its limits (`WAYLOG_LLM_*`, `WAYLOG_ASK_*`).
    pub llm: llm::LlmConfig,
    /// `POST /mcp` is served (`WAYLOG_MCP_HTTP`).
    pub mcp_http: bool,
}

impl Config {
    /// Defaults for embedding and tests: every setting at its declared default, except that
    /// both listeners pick a free port (`127.0.0.1:0`).
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        let args = ServeArgs {
            addr: "127.0.0.1:0".into(),
            data_dir: data_dir.into(),
            otlp_grpc_addr: "127.0.0.1:0".into(),
            ..ServeArgs::defaults()
        };
        args.into_config()
            .expect("the declared defaults are valid settings")
    }

    pub fn hot_window_display(&self) -> String {
        format_duration(self.hot_window)
    }
}

impl ServeArgs {
    /// Every flag at its declared `default_value` (environment ignored).
    pub fn defaults() -> ServeArgs {
        declared_defaults()
    }

    pub fn into_config(self) -> Result<Config, String> {
        let addr: SocketAddr = self
            .addr
            .trim()
            .parse()
            .map_err(|_| format!("WAYLOG_ADDR: invalid listen address {:?}", self.addr))?;
        let profile = Profile::from_str(self.profile.trim(), false).map_err(|_| {
            format!(
                "WAYLOG_PROFILE: expected dev, demo or prod, got {:?}",
                self.profile.trim()
            )
        })?;
        let write_keys = split_keys(&self.write_key);
        let read_keys = split_keys(&self.read_key);
        let agent_keys = split_keys(&self.agent_key);
        if let Some(why) = prod_refusal(profile, &write_keys, &read_keys, &agent_keys) {
            return Err(why);
        }
        let hot_window_from_env = self.hot_window.is_some();
        let hot_window = match &self.hot_window {
            Some(s) => positive_duration("WAYLOG_HOT_WINDOW", s)?,
            None => Duration::from_secs(15 * 60),
        };
        let retention = positive_duration("WAYLOG_RETENTION", &self.retention)?;
        let mut dedup_window = positive_duration("WAYLOG_DEDUP_WINDOW", &self.dedup_window)?;
        if dedup_window < hot_window {
            dedup_window = hot_window;
        }
        let query_timeout = positive_duration("WAYLOG_QUERY_TIMEOUT", &self.query_timeout)?;
        let dedup_min_ids = nonneg_int("WAYLOG_DEDUP_MIN_IDS", &self.dedup_min_ids)?;
        let dedup_max_bytes = dedup_budget(
            to_usize(positive_bytes(
                "WAYLOG_DEDUP_MAX_BYTES",
                &self.dedup_max_bytes,
            )?),
            dedup_min_ids,
        )?;
        let cold_store = self
            .cold_store
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if let Some(url) = &cold_store {
            self::cold_store::parse_cold_location(url)?;
        }
        let s3 = self.s3.into_settings()?;
        let incidents = self.incidents.into_config(retention)?;
        let llm = self.llm.into_config()?;
        Ok(Config {
            incidents,
            addr,
            data_dir: self.data_dir,
            cold_store,
            s3,
            compact_target_bytes: positive_bytes(
                "WAYLOG_COMPACT_TARGET_BYTES",
                &self.compact_target_bytes,
            )?,
            write_keys,
            read_keys,
            agent_keys,
            trust_proxy: parse_bool("WAYLOG_TRUST_PROXY", &self.trust_proxy)?,
            llm,
            mcp_http: parse_bool("WAYLOG_MCP_HTTP", &self.mcp_http)?,
            wal_sync: parse_bool("WAYLOG_WAL_SYNC", &self.wal_sync)?,
            wal_segment_bytes: positive_bytes("WAYLOG_WAL_SEGMENT_BYTES", &self.wal_segment_bytes)?,
            hot_window,
            hot_window_from_env,
            hot_max_bytes: positive_bytes("WAYLOG_HOT_MAX_BYTES", &self.hot_max_bytes)?,
            write_queue_bytes: positive_bytes("WAYLOG_WRITE_QUEUE_BYTES", &self.write_queue_bytes)?,
            max_body_bytes: to_usize(positive_bytes(
                "WAYLOG_MAX_BODY_BYTES",
                &self.max_body_bytes,
            )?),
            ingest_inflight_bytes: to_usize(positive_bytes(
                "WAYLOG_INGEST_INFLIGHT_BYTES",
                &self.ingest_inflight_bytes,
            )?),
            max_batch_events: positive_int("WAYLOG_MAX_BATCH_EVENTS", &self.max_batch_events)?,
            otlp_max_spans: positive_int("WAYLOG_OTLP_MAX_SPANS", &self.otlp_max_spans)?,
            http_header_timeout: positive_duration(
                "WAYLOG_HTTP_HEADER_TIMEOUT",
                &self.http_header_timeout,
            )?,
            http_body_timeout: positive_duration(
                "WAYLOG_HTTP_BODY_TIMEOUT",
                &self.http_body_timeout,
            )?,
            grpc_timeout: positive_duration("WAYLOG_GRPC_TIMEOUT", &self.grpc_timeout)?,
            grpc_concurrency: positive_int("WAYLOG_GRPC_CONCURRENCY", &self.grpc_concurrency)?,
            retention,
            signal_retention: positive_duration("WAYLOG_SIGNAL_RETENTION", &self.signal_retention)?,
            cors_origin: self.cors_origin.trim().to_string(),
            dedup_window,
            dedup_min_ids,
            dedup_max_bytes,
            query_max_rows: positive_int("WAYLOG_QUERY_MAX_ROWS", &self.query_max_rows)?,
            query_timeout,
            query_memory_bytes: to_usize(positive_bytes(
                "WAYLOG_QUERY_MEMORY",
                &self.query_memory,
            )?),
            query_max_value_bytes: to_usize(positive_bytes(
                "WAYLOG_QUERY_MAX_VALUE_BYTES",
                &self.query_max_value_bytes,
            )?),
            trace_index_bytes: to_usize(positive_bytes(
                "WAYLOG_TRACE_INDEX_BYTES",
                &self.trace_index_bytes,
            )?),
            query_max_response_bytes: to_usize(positive_bytes(
                "WAYLOG_QUERY_MAX_RESPONSE_BYTES",
                &self.query_max_response_bytes,
            )?),
            query_max_analyze_rows: positive_int(
                "WAYLOG_QUERY_MAX_ANALYZE_ROWS",
                &self.query_max_analyze_rows,
            )?,
            query_concurrency: positive_int("WAYLOG_QUERY_CONCURRENCY", &self.query_concurrency)?,
            read_concurrency: positive_int("WAYLOG_READ_CONCURRENCY", &self.read_concurrency)?,
            rate_limit_write_rps: match &self.rate_limit_write_rps {
                None => default_write_rps(profile),
                Some(s) => u32::try_from(nonneg_int("WAYLOG_RATE_LIMIT_WRITE_RPS", s)?)
                    .map_err(|_| "WAYLOG_RATE_LIMIT_WRITE_RPS: too large".to_string())?,
            },
            rate_limit_read_rps: u32::try_from(nonneg_int(
                "WAYLOG_RATE_LIMIT_READ_RPS",
                &self.rate_limit_read_rps,
            )?)
            .map_err(|_| "WAYLOG_RATE_LIMIT_READ_RPS: too large".to_string())?,
            profile,
            metrics_auth: MetricsAuth::from_str(self.metrics_auth.trim(), false).map_err(|_| {
                format!(
                    "WAYLOG_METRICS_AUTH: expected none or read, got {:?}",
                    self.metrics_auth.trim()
                )
            })?,
            flush_failure_unready_after: positive_duration(
                "WAYLOG_FLUSH_FAILURE_UNREADY_AFTER",
                &self.flush_failure_unready_after,
            )?,
            test_hooks: parse_bool("WAYLOG_TEST_HOOKS", &self.test_hooks)?,
            otlp_enabled: parse_bool("WAYLOG_OTLP_ENABLED", &self.otlp_enabled)?,
            otlp_grpc_addr: match self.otlp_grpc_addr.trim() {
                "" => None,
                a => Some(a.parse().map_err(|_| {
                    format!(
                        "WAYLOG_OTLP_GRPC_ADDR: invalid listen address {:?}",
                        self.otlp_grpc_addr
                    )
                })?),
            },
        })
    }
}

/// Comma-separated keys, trimmed, empties dropped.
pub fn split_keys(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

pub fn parse_bool(name: &str, s: &str) -> Result<bool, String> {
    match s.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!("{name}: expected true or false, got {other:?}")),
    }
}

fn positive_duration(name: &str, s: &str) -> Result<Duration, String> {
    match parse_duration(s) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "{name}: expected a positive duration such as 90s, 15m, 1h30m or 7d, got {s:?}"
        )),
    }
}

/// Bytes one remembered event id is counted at against `WAYLOG_DEDUP_MAX_BYTES`: a hash-map
/// slot (32 bytes + 1 control byte, at most 8/7 slots per id, up to twice that right after the
/// table doubles) plus an expiry-queue slot (32 bytes, up to twice that after it doubles). The
/// worst case, so the budget bounds the real allocation, not an average.
pub const DEDUP_BYTES_PER_ID: usize = 144;

/// `WAYLOG_DEDUP_MAX_BYTES` must hold the `WAYLOG_DEDUP_MIN_IDS` ids the spec guarantees.
fn dedup_budget(max_bytes: usize, min_ids: usize) -> Result<usize, String> {
    let floor = min_ids.saturating_mul(DEDUP_BYTES_PER_ID);
    if max_bytes < floor {
        return Err(format!(
            "WAYLOG_DEDUP_MAX_BYTES: {max_bytes} bytes hold fewer than WAYLOG_DEDUP_MIN_IDS ({min_ids}) ids at {} bytes each; raise it to at least {floor}",
            DEDUP_BYTES_PER_ID
        ));
    }
    Ok(max_bytes)
}

fn positive_int(name: &str, s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{name}: expected a positive integer, got {s:?}")),
    }
}

fn nonneg_int(name: &str, s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .map_err(|_| format!("{name}: expected a non-negative integer, got {s:?}"))
}

/// Bytes: a plain integer or one with a `KiB`/`MiB`/`GiB` (or `KB`/`MB`/`GB`, decimal) suffix.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn positive_bytes(name: &str, s: &str) -> Result<u64, String> {
    match parse_bytes(s) {
        Some(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{name}: expected a positive byte size such as 16777216 or 64MiB, got {s:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServeArgs {
        ServeArgs::defaults()
    }

    #[test]
    fn config_defaults_match_spec() {
        let c = args().into_config().unwrap();
        assert_eq!(c.max_body_bytes, 16 * 1024 * 1024);
        assert_eq!(c.max_batch_events, 10_000);
        assert_eq!(c.hot_window, Duration::from_secs(900));
        assert_eq!(c.retention, Duration::from_secs(7 * 86400));
        assert_eq!(c.dedup_window, Duration::from_secs(86400));
        assert!(c.wal_sync);
        assert_eq!(c.trace_index_bytes, 1 << 30);
        let mut a = args();
        a.trace_index_bytes = "64MiB".into();
        assert_eq!(a.into_config().unwrap().trace_index_bytes, 64 << 20);
    }

    #[test]
    fn config_rejects_invalid_values_naming_the_setting() {
        let mut a = args();
        a.retention = "forever".into();
        assert!(a.into_config().unwrap_err().contains("WAYLOG_RETENTION"));
        let mut a = args();
        a.wal_sync = "maybe".into();
        assert!(a.into_config().unwrap_err().contains("WAYLOG_WAL_SYNC"));
        let mut a = args();
        a.max_batch_events = "0".into();
        assert!(
            a.into_config()
                .unwrap_err()
                .contains("WAYLOG_MAX_BATCH_EVENTS")
        );
        let mut a = args();
        a.trace_index_bytes = "0".into();
        assert!(
            a.into_config()
                .unwrap_err()
                .contains("WAYLOG_TRACE_INDEX_BYTES")
        );
        let mut a = args();
        a.addr = "nowhere".into();
        assert!(a.into_config().unwrap_err().contains("WAYLOG_ADDR"));
        let mut a = args();
        a.profile = "prod".into();
        assert!(a.into_config().unwrap_err().contains("prod"));
        let mut a = args();
        a.profile = "prod".into();
        a.write_key = "w".into();
        a.read_key = "r".into();
        let e = a.clone().into_config().unwrap_err();
        assert!(e.contains("set WAYLOG_AGENT_KEY"), "{e}");
        a.agent_key = "a1, a2".into();
        let c = a.into_config().unwrap();
        assert_eq!(c.agent_keys, vec!["a1".to_string(), "a2".to_string()]);
    }

    #[test]
    fn config_refuses_a_dedup_budget_below_min_ids() {
        let mut a = args();
        a.dedup_max_bytes = "1MiB".into();
        let err = a.clone().into_config().unwrap_err();
        assert!(
            err.contains("WAYLOG_DEDUP_MAX_BYTES") && err.contains("65536"),
            "{err}"
        );
        a.dedup_min_ids = "1000".into();
        assert_eq!(a.into_config().unwrap().dedup_max_bytes, 1 << 20);
    }

    #[test]
    fn prod_names_each_open_scope_and_defaults_the_write_rate_limit() {
        let mut a = args();
        a.profile = "prod".into();
        let err = a.clone().into_config().unwrap_err();
        assert!(
            err.contains("WAYLOG_WRITE_KEY") && err.contains("WAYLOG_READ_KEY"),
            "{err}"
        );
        a.write_key = "w1".into();
        let err = a.clone().into_config().unwrap_err();
        assert!(
            !err.contains("WAYLOG_WRITE_KEY") && err.contains("WAYLOG_READ_KEY"),
            "{err}"
        );
        a.read_key = "r1, r2".into();
        let err = a.clone().into_config().unwrap_err();
        assert!(
            err.contains("WAYLOG_AGENT_KEY") && !err.contains("WAYLOG_READ_KEY"),
            "{err}"
        );
        a.agent_key = "a1".into();
        let c = a.clone().into_config().unwrap();
        assert_eq!(c.rate_limit_write_rps, 1000);
        assert_eq!(c.read_keys, ["r1", "r2"]);
        a.rate_limit_write_rps = Some("0".into());
        assert_eq!(a.into_config().unwrap().rate_limit_write_rps, 0);
        assert_eq!(args().into_config().unwrap().rate_limit_write_rps, 0);
        assert_eq!(
            args().into_config().unwrap().metrics_auth,
            MetricsAuth::Read
        );
    }

    #[test]
    fn config_raises_dedup_window_to_hot_window() {
        let mut a = args();
        a.dedup_window = "1m".into();
        a.hot_window = Some("15m".into());
        let c = a.into_config().unwrap();
        assert_eq!(c.dedup_window, Duration::from_secs(900));
    }

    #[test]
    fn parse_bytes_accepts_suffixes() {
        assert_eq!(parse_bytes("64MiB"), Some(64 << 20));
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("2 GiB"), Some(2 << 30));
        assert_eq!(parse_bytes("lots"), None);
    }
}
