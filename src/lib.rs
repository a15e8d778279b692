//! waylog: production incident triage over trace-linked wide events.
//!
//! Services send one structured event per request per hop. waylog makes each event durable in
//! a write-ahead log, keeps recent rows as Arrow record batches in memory, flushes them to
//! sorted Parquet in the cold store, and answers everything with DataFusion SQL over hot and
//! cold data as one table.
//!
//! Layout (dependencies point down):
//! - [`clock`], [`duration`], [`rfc3339`], [`config`]: time, duration grammar, RFC 3339
//!   timestamps, validated settings
//! - [`model`]: the normalized WideEvent, its typed enums and its validation
//! - [`wal`]: framed, checksummed, group-committed write-ahead log
//! - [`storage`]: hot tier, flush to Parquet, manifest, cold store, dedup, retention
//! - [`query`]: DataFusion session, snapshot table providers, the read-only SQL guard
//! - [`ingest`]: `/v1/events` framing and the request checks, OTLP (HTTP + gRPC), signals
//! - [`reads`]: the HTTP read models (errors, rollups, traces, events, blast radius) as SQL
//! - [`incidents`]: the incident engine's pure rules (detection, lifecycle, classification,
//!   next checks, alert matching, snapshot text); no I/O
//! - [`server`]: HTTP router, auth, health, graceful shutdown
//! - [`cli`]: the `waylog` command line
//! - [`demo`]: synthetic realistic traffic and the benchmark drivers

pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod duration;
pub mod incidents;
pub mod ingest;
pub mod model;
pub mod query;
pub mod reads;
pub mod rfc3339;
pub mod server;
pub mod storage;
pub mod wal;
