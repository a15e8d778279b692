//! `waylog mcp` (spec reads §6.6): MCP over stdio. Reads newline-delimited JSON-RPC on stdin,
//! answers on stdout (logs on stderr), and forwards the tools to a running server: `tools/list`
//! to `GET /v1/tools`, `tools/call` to `POST /v1/tools/{name}` (envelope mode) on `WAYLOG_URL`
//! with the agent key (`--api-key`, else `WAYLOG_AGENT_KEY`). The JSON-RPC surface is
//! `crate::agent::mcp`, shared with `POST /mcp`.

use std::io::{BufRead, Read, Write};
use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::{CliError, Client, Globals, env_nonempty};
use crate::agent::mcp::{Backend, MAX_MESSAGE, handle_body};
use crate::agent::{ToolCode, ToolError};

/// Per-call timeout when `--timeout` is not given (a tool may run up to the server's
/// `WAYLOG_QUERY_TIMEOUT`).
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// The HTTP API as the MCP backend.
struct Remote {
    client: Client,
}

fn transport(e: impl std::fmt::Display) -> ToolError {
    ToolError::new(ToolCode::Internal, format!("transport error: {e}"))
}

/// A failed request to the server (its message already reads `transport error: …`).
fn unreachable(e: CliError) -> ToolError {
    ToolError::new(ToolCode::Internal, e.message)
}

fn body_json(text: &str) -> Result<Value, ToolError> {
    serde_json::from_str(text).map_err(|e| transport(format!("invalid response: {e}")))
}

#[async_trait::async_trait]
impl Backend for Remote {
    async fn list(&self) -> Result<Vec<Value>, ToolError> {
        let (status, text) = self.client.get("/v1/tools", &[]).map_err(unreachable)?;
        let v = body_json(&text)?;
        if status != 200 {
            return Err(ToolError::from_json(&v["error"]));
        }
        Ok(v["tools"].as_array().cloned().unwrap_or_default())
    }

    async fn call(&self, name: &str, arguments: Value) -> Result<Value, ToolError> {
        let path = format!(
            "/v1/tools/{}?envelope=v2",
            utf8_percent_encode(name, NON_ALPHANUMERIC)
        );
        let (_, text) = self
            .client
            .post_json(&path, &arguments, self.client.timeout)
            .map_err(unreachable)?;
        let v = body_json(&text)?;
        match v.get("error") {
            Some(e @ Value::Object(_)) => Err(ToolError::from_json(e)),
            _ => Ok(v.get("data").cloned().unwrap_or(Value::Null)),
        }
    }
}

/// Serve MCP on stdin/stdout until stdin closes.
pub fn run(g: &Globals) -> Result<String, CliError> {
    let mut client = Client::from_globals(g)?;
    client.key = g
        .api_key
        .clone()
        .or_else(|| env_nonempty("WAYLOG_AGENT_KEY"));
    if g.timeout.is_none() && env_nonempty("WAYLOG_CLI_TIMEOUT").is_none() {
        client.timeout = CALL_TIMEOUT;
        client.agent = super::http_agent(CALL_TIMEOUT);
    }
    let backend = Remote { client };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError {
            code: super::EXIT_SERVER,
            message: format!("runtime: {e}"),
        })?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut stdout = std::io::stdout();
    let mut line = Vec::new();
    loop {
        line.clear();
        // Read at most one byte past the cap; the rest of an oversized line is skipped.
        let n = Read::by_ref(&mut input)
            .take(MAX_MESSAGE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(CliError::transport)?;
        if n == 0 {
            break;
        }
        if line.len() > MAX_MESSAGE && line.last() != Some(&b'\n') {
            let mut rest = Vec::new();
            let _ = input.read_until(b'\n', &mut rest);
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let body = if line.len() > MAX_MESSAGE {
            &line[..]
        } else {
            text
        };
        if let Some(answer) = rt.block_on(handle_body(&backend, body)) {
            writeln!(stdout, "{answer}")
                .and_then(|_| stdout.flush())
                .map_err(CliError::transport)?;
        }
    }
    Ok(String::new())
}
