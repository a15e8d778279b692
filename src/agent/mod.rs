//! The agent surface without transport (spec reads §6): the tool registry and its handlers,
//! the JSON Schema subset, the §6.1 error table, the idempotency cache and the MCP JSON-RPC
//! surface shared by `waylog mcp` (stdio) and `POST /mcp`. The routes live in
//! `src/api/agent.rs`; every tool stands on the read models ([`crate::reads`], the incident
//! reads) and the TriageReport builder ([`crate::triage`]).

pub mod ask;
pub mod error;
pub mod graph_tools;
pub mod idempotency;
pub mod mcp;
pub mod plan;
pub mod plan_log;
pub mod registry;
pub mod schema;
pub mod tools;

use tokio::sync::Semaphore;

use crate::config::Config;
use crate::query::QueryEngine;

pub use error::{ToolCode, ToolError};

/// What a tool call may reach: the engine, the settings, the server's slots and `now`
/// (read once per request).
#[derive(Debug, Clone, Copy)]
pub struct ToolEnv<'a> {
    pub engine: &'a QueryEngine,
    pub config: &'a Config,
    /// `WAYLOG_READ_CONCURRENCY` slots (the read tools).
    pub read_slots: &'a Semaphore,
    /// `WAYLOG_QUERY_CONCURRENCY` slots (`query_sql`).
    pub query_slots: &'a Semaphore,
    pub now_ns: i64,
}
