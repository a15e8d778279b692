//! waylog: production incident triage over trace-linked wide events.
//!
//! Services send one structured event per request per hop. waylog makes each event durable in
//! a write-ahead log, keeps recent rows as Arrow record batches in memory, flushes them to
//! sorted Parquet in the cold store, and answers everything with DataFusion SQL over hot and
//! cold data as one table.
//!
//! Layout, lowest layer first; a module imports only modules above it in this list
//! (`scripts/check-architecture.sh` enforces it, `docs/architecture.md` draws it):
//! - [`metrics`]: the process-wide Prometheus registry and the hooks every layer calls (the
//!   lowest layer: imports nothing of the crate)
//! - [`failpoints`]: named crash points for the fault-injection tests (cargo feature
//!   `failpoints`; without it every point is a constant `false`)
//! - [`clock`], [`duration`], [`percent`], [`rfc3339`]: time source, the duration grammar,
//!   strict percent-decoding, the spec's RFC 3339 timestamps
//! - [`config`]: `waylog serve` flags + `WAYLOG_*` → validated settings, each default written
//!   once (clap); the incident engine's typed settings (no I/O)
//! - [`model`]: the domain types every layer shares: the normalized WideEvent and its
//!   validation, event enums, `Signal`, `ErrorFamily`, and `Rejection` (a spec-coded
//!   refusal with an error class, no transport)
//! - [`wal`]: framed, checksummed, group-committed write-ahead log
//! - [`storage`]: hot tier, flush to Parquet, manifest, cold store, dedup, retention
//! - [`query`]: DataFusion session, snapshot table providers, trace indexes, the `sql/`
//!   registry and row decoding, the read-only user SQL guard
//! - [`ingest`]: the write pipelines without transport: `/v1/events` framing and validation,
//!   OTLP spans → events, signals, alert mapping and intake, deployments
//! - [`reads`]: the read models (errors, rollups, traces, events, blast radius, signals) as
//!   SQL: typed query in, typed answer out
//! - [`incidents`]: the incident engine: pure rules (detection, lifecycle, classification,
//!   next checks, alert matching, snapshot text) and the tick, store and reads around them
//! - [`triage`]: TriageReport v1: the builder over one snapshot, `report_hash` over RFC 8785
//!   canonical JSON, the Markdown / Slack / PagerDuty renderers
//! - [`agent`]: the agent surface without transport: the tool registry over the read models
//!   and the triage builder, plans, Ask with its LLM provider formats, the MCP JSON-RPC surface
//! - [`ui`]: the embedded dashboard's files (HTML, CSS, JavaScript compiled in), served by
//!   `api::ui`; its screens read the public HTTP API from the browser
//! - [`api`]: the transport edge: every HTTP route and the OTLP/gRPC service, auth, rate
//!   limits, request ids, CORS, the one error → status/code mapping, health, background tasks,
//!   graceful shutdown
//! - [`demo`]: synthetic realistic traffic, the benchmark drivers and the simulated services
//!   of `waylog demo`
//! - [`cli`]: the `waylog` command line (HTTP client, verbs, `waylog demo`)

pub mod agent;
pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod duration;
pub mod failpoints;
#[doc(hidden)]
pub mod fuzzing;
pub mod incidents;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod percent;
pub mod query;
pub mod reads;
pub mod rfc3339;
pub mod storage;
pub mod triage;
pub mod ui;
pub mod wal;
