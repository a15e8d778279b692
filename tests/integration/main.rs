//! The one integration test binary (style: one binary, topic modules). Most tests drive the real
//! `waylog` binary on port 0 with a temp data directory; the storage/query concurrency and
//! retention tests use the library in-process with a controlled clock.

mod harness;

mod alerts;
mod ask;
mod cli;
mod cli_verbs;
mod cold_s3;
mod compaction;
mod config;
mod dedup;
mod demo;
mod deployments;
mod durability;
mod health;
mod incidents;
mod incidents_read;
mod ingest;
mod jcs_peer;
mod limits;
mod otlp_refusals;
mod otlp_sdk;
mod parquet_external;
mod prometheus;
mod query;
mod query_api;
mod retention;
mod signals;
mod tools;
mod triage;
mod ui;
