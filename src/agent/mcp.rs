//! MCP (spec reads §6.6): the JSON-RPC 2.0 surface over the tool registry, once, for both
//! transports. [`handle_body`] answers one request or batch (`None`: nothing to send, a body
//! of notifications only); a [`Backend`] lists and calls the tools: the registry in-process
//! for `POST /mcp`, the HTTP API for `waylog mcp` over stdio.

use serde_json::{Map, Value, json};

use super::error::ToolError;

/// Largest request line or body.
pub const MAX_MESSAGE: usize = 1 << 20;
/// Protocol versions echoed when a client asks for them; others get the latest.
pub const VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18"];
/// The latest supported protocol version.
pub const LATEST: &str = "2025-06-18";

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;

/// Where the tools are.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// The registry listing (`GET /v1/tools` form: `name, description, input_schema,
    /// output_schema`).
    async fn list(&self) -> Result<Vec<Value>, ToolError>;
    /// Call one tool.
    async fn call(&self, name: &str, arguments: Value) -> Result<Value, ToolError>;
}

/// One registry tool in MCP form.
pub fn mcp_tool(tool: &Value) -> Value {
    json!({
        "name": tool["name"],
        "description": tool["description"],
        "inputSchema": tool["input_schema"],
        "outputSchema": tool["output_schema"],
    })
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn ok(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// The answer to a line or body over [`MAX_MESSAGE`].
pub fn oversized() -> Value {
    error(Value::Null, INVALID_REQUEST, "message larger than 1 MiB")
}

/// Answer one body (a line on stdio, a POST body over HTTP).
pub async fn handle_body(backend: &dyn Backend, body: &[u8]) -> Option<Value> {
    if body.len() > MAX_MESSAGE {
        return Some(oversized());
    }
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Some(error(
                Value::Null,
                PARSE_ERROR,
                &format!("parse error: {e}"),
            ));
        }
    };
    match parsed {
        Value::Array(batch) if batch.is_empty() => {
            Some(error(Value::Null, INVALID_REQUEST, "empty batch"))
        }
        Value::Array(batch) => {
            let mut out = Vec::new();
            for m in batch {
                if let Some(r) = handle_message(backend, m).await {
                    out.push(r);
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        other => handle_message(backend, other).await,
    }
}

/// Answer one message; `None` for a notification.
pub async fn handle_message(backend: &dyn Backend, message: Value) -> Option<Value> {
    let Value::Object(m) = message else {
        return Some(error(Value::Null, INVALID_REQUEST, "not a request object"));
    };
    let id = m.get("id").cloned();
    let valid_id = matches!(
        &id,
        None | Some(Value::String(_) | Value::Number(_) | Value::Null)
    );
    let method = m.get("method").and_then(Value::as_str);
    let (Some(method), true, true) = (method, m.get("jsonrpc") == Some(&json!("2.0")), valid_id)
    else {
        let id = id.filter(|_| valid_id).unwrap_or(Value::Null);
        return Some(error(id, INVALID_REQUEST, "invalid request"));
    };
    let id = id?; // a notification gets no answer
    let params = m.get("params").cloned().unwrap_or(Value::Null);
    Some(match method {
        "initialize" => ok(id, initialize(&params)),
        "ping" => ok(id, json!({})),
        "tools/list" => match backend.list().await {
            Ok(tools) => ok(
                id,
                json!({"tools": tools.iter().map(mcp_tool).collect::<Vec<_>>()}),
            ),
            Err(e) => error(id, INTERNAL_ERROR, &e.to_string()),
        },
        "tools/call" => tools_call(backend, id, &params).await,
        _ => error(id, METHOD_NOT_FOUND, &format!("method not found: {method}")),
    })
}

fn initialize(params: &Value) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked.filter(|v| VERSIONS.contains(v)).unwrap_or(LATEST);
    json!({
        "protocolVersion": version,
        "serverInfo": {"name": "waylog", "version": env!("CARGO_PKG_VERSION")},
        "capabilities": {"tools": {"listChanged": false}},
    })
}

async fn tools_call(backend: &dyn Backend, id: Value, params: &Value) -> Value {
    let empty = Map::new();
    let p = match params {
        Value::Object(p) => p,
        Value::Null => &empty,
        _ => return error(id, INVALID_PARAMS, "params must be an object"),
    };
    let Some(name) = p
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return error(id, INVALID_PARAMS, "missing tool name");
    };
    let arguments = match p.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(a @ Value::Object(_)) => a.clone(),
        Some(_) => return error(id, INVALID_PARAMS, "arguments must be an object"),
    };
    match backend.call(name, arguments).await {
        Ok(result) => ok(
            id,
            json!({
                "content": [{"type": "text", "text": result.to_string()}],
                "structuredContent": result,
            }),
        ),
        Err(e) => ok(
            id,
            json!({"content": [{"type": "text", "text": e.to_string()}], "isError": true}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::error::ToolCode;

    struct Fake;

    #[async_trait::async_trait]
    impl Backend for Fake {
        async fn list(&self) -> Result<Vec<Value>, ToolError> {
            Ok(vec![
                json!({"name": "echo", "description": "d", "input_schema": {}, "output_schema": {}}),
            ])
        }
        async fn call(&self, name: &str, arguments: Value) -> Result<Value, ToolError> {
            match name {
                "echo" => Ok(arguments),
                _ => Err(ToolError::new(
                    ToolCode::NotFound,
                    format!("unknown tool {name:?}"),
                )),
            }
        }
    }

    async fn answer(body: &str) -> Option<Value> {
        handle_body(&Fake, body.as_bytes()).await
    }

    #[tokio::test]
    async fn initialize_echoes_known_versions_only() {
        let r = answer(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26"}}"#).await.unwrap();
        assert_eq!(r["result"]["protocolVersion"], "2025-03-26");
        assert_eq!(r["result"]["serverInfo"]["name"], "waylog");
        let r = answer(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1999"}}"#,
        )
        .await
        .unwrap();
        assert_eq!(r["result"]["protocolVersion"], LATEST);
    }

    #[tokio::test]
    async fn calls_list_and_tool_errors() {
        let r = answer(r#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#)
            .await
            .unwrap();
        assert_eq!(r["result"]["tools"][0]["inputSchema"], json!({}));
        let r = answer(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"x":1}}}"#).await.unwrap();
        assert_eq!(r["result"]["structuredContent"], json!({"x": 1}));
        assert_eq!(r["result"]["content"][0]["text"], "{\"x\":1}");
        let r =
            answer(r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"nope"}}"#)
                .await
                .unwrap();
        assert_eq!(r["result"]["isError"], true);
        assert_eq!(
            r["result"]["content"][0]["text"],
            "[NOT_FOUND] unknown tool \"nope\""
        );
    }

    #[tokio::test]
    async fn protocol_errors_and_batches() {
        let code = |r: Option<Value>| r.unwrap()["error"]["code"].as_i64().unwrap();
        assert_eq!(code(answer("{nope").await), PARSE_ERROR);
        assert_eq!(code(answer("[]").await), INVALID_REQUEST);
        assert_eq!(code(answer("3").await), INVALID_REQUEST);
        assert_eq!(
            code(answer(r#"{"jsonrpc":"2.0","id":1,"method":"x/y"}"#).await),
            METHOD_NOT_FOUND
        );
        assert_eq!(
            code(
                answer(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":""}}"#)
                    .await
            ),
            INVALID_PARAMS
        );
        assert_eq!(code(answer(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":[1]}}"#).await), INVALID_PARAMS);
        assert_eq!(
            answer(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).await,
            None
        );
        let r = answer(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":2,"method":"ping"}]"#).await.unwrap();
        let ids: Vec<i64> = r
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![1, 2]);
        let big = format!("\"{}\"", "x".repeat(MAX_MESSAGE));
        assert_eq!(code(answer(&big).await), INVALID_REQUEST);
    }
}
