//! The agent routes (spec reads §6, §1.1 agent scope): `GET /v1/tools`, `POST
//! /v1/tools/{name}` and `POST /mcp` (Streamable HTTP, stateless). The work is
//! `crate::agent`; this file checks the request (scope, method, `envelope`, body cap,
//! `Idempotency-Key`), runs it through the idempotency cache and shapes the answer: the tool
//! result or `{"error": …}` by default, `{data, meta, error}` in envelope mode.
//!
//! Check order: rate limit and agent scope (`401`), method (`405`), query parameters and the
//! `Idempotency-Key` value (`400 INVALID_PARAMS`), the body cap (`413 PAYLOAD_TOO_LARGE`),
//! the idempotency cache (replay, `409 CONFLICT`, wait), then the call.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use super::error::{ApiError, json_response, tool_status};
use super::{AppState, RequestId, SharedState, auth};
use crate::agent::idempotency::{self, Begin};
use crate::agent::mcp::{self, Backend};
use crate::agent::plan_log::PlanRun;
use crate::agent::{ToolCode, ToolEnv, ToolError, ask, plan, registry};
use crate::config::Config;
use crate::percent::decode_path;

/// Body cap of every agent route.
pub const MAX_BODY: usize = 1 << 20;
/// `meta.api_version` and the `Waylog-API-Version` header.
pub const API_VERSION: &str = "2026-03-02";

/// The agent routes; `/mcp` only when `WAYLOG_MCP_HTTP` is on.
pub fn routes(config: &Config) -> Router<SharedState> {
    let r = Router::new()
        .route("/v1/tools", any(tools_list))
        .route("/v1/tools/", any(tools_call))
        .route("/v1/tools/{*name}", any(tools_call))
        .route("/v1/plans/execute", any(plans_execute))
        .route("/v1/ask", any(ask_post))
        .route("/v1/stream/plans/{*plan_id}", any(plan_stream));
    if config.mcp_http {
        r.route("/mcp", any(mcp_post))
    } else {
        r
    }
}

/// A stored outcome: what a replay answers.
#[derive(Debug, Clone)]
pub struct Stored {
    pub result: Result<Value, ToolError>,
    /// The plan's id (`X-Plan-ID`), for plans.
    pub plan_id: Option<String>,
    /// Ask ended by a provider or an aborting tool: `502` whatever the code (§6.5).
    pub gateway: bool,
}

impl Stored {
    fn status(&self) -> StatusCode {
        match &self.result {
            Ok(_) => StatusCode::OK,
            Err(_) if self.gateway => StatusCode::BAD_GATEWAY,
            Err(e) => tool_status(e.code),
        }
    }

    /// An answer that is neither a plan's nor an Ask failure.
    pub fn of(result: Result<Value, ToolError>) -> Stored {
        Stored {
            result,
            plan_id: None,
            gateway: false,
        }
    }
}

/// An accepted agent request: how to answer it.
#[derive(Debug)]
pub struct AgentRequest {
    pub envelope: bool,
    pub request_id: String,
    pub started: Instant,
}

/// Rate limit and agent scope, then the method: the standard `401` / `405` answers.
pub fn gate(state: &AppState, req: &Request, method: Method) -> Result<(), ApiError> {
    auth::gate(state, req, auth::Scope::Agent)?;
    if req.method() != method {
        return Err(ApiError::method_not_allowed(method.as_str()));
    }
    Ok(())
}

impl AgentRequest {
    /// The envelope choice (`?envelope=v2` or `Accept: application/json;envelope=v2`; any other
    /// parameter or value is `INVALID_PARAMS`).
    pub fn begin(req: &Request) -> Result<AgentRequest, (AgentRequest, ToolError)> {
        let accept = req.headers().get_all(header::ACCEPT).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.to_ascii_lowercase()
                    .replace(' ', "")
                    .contains("envelope=v2")
            })
        });
        let mut r = AgentRequest {
            envelope: accept,
            request_id: req
                .extensions()
                .get::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default(),
            started: Instant::now(),
        };
        let params = crate::reads::params::Params::parse(req.uri().query(), &["envelope"]);
        match params {
            Err(rej) => Err((r, ToolError::invalid(rej.error.detail))),
            Ok(p) => match p.get("envelope") {
                None => Ok(r),
                Some("v2") => {
                    r.envelope = true;
                    Ok(r)
                }
                Some(other) => Err((
                    r,
                    ToolError::invalid(format!("unsupported envelope {other:?}")),
                )),
            },
        }
    }

    /// The answer of `stored` (`cached`: a replay).
    pub fn respond(&self, stored: &Stored, cached: bool) -> Response {
        let status = stored.status();
        let mut resp = if self.envelope {
            let (data, data_status, error) = match &stored.result {
                Ok(v) => (v.clone(), "complete", Value::Null),
                Err(e) if e.code == ToolCode::EmptyResult => (Value::Null, "empty", e.to_json()),
                Err(e) => (Value::Null, "error", e.to_json()),
            };
            let body = json!({
                "data": data,
                "meta": {
                    "request_id": self.request_id,
                    "duration_ms": self.started.elapsed().as_millis() as u64,
                    "data_status": data_status,
                    "api_version": API_VERSION,
                    "cached": cached,
                },
                "error": error,
            });
            let mut resp = json_response(status, &body);
            let h = resp.headers_mut();
            h.insert("waylog-api-version", HeaderValue::from_static(API_VERSION));
            h.insert(header::VARY, HeaderValue::from_static("Accept"));
            resp
        } else {
            match &stored.result {
                Ok(v) => json_response(status, v),
                Err(e) => json_response(status, &json!({"error": e.to_json()})),
            }
        };
        let h = resp.headers_mut();
        if cached {
            h.insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        if let Some(id) = stored
            .plan_id
            .as_deref()
            .and_then(|p| HeaderValue::from_str(p).ok())
        {
            h.insert("x-plan-id", id);
        }
        resp
    }

    /// The answer of an error that never reached the cache.
    pub fn fail(&self, e: ToolError) -> Response {
        self.respond(&Stored::of(Err(e)), false)
    }
}

/// The idempotency principal: the presented agent credential's hex sha256, or with the scope
/// open the client address (the first `X-Forwarded-For` hop when `WAYLOG_TRUST_PROXY`).
fn principal(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    if !state.config.agent_keys.is_empty()
        && let Some(c) = auth::credential(headers)
    {
        return idempotency::hex(&idempotency::sha256(c.as_bytes()));
    }
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| state.config.trust_proxy && !v.is_empty());
    forwarded.unwrap_or_else(|| peer.map(|p| p.ip().to_string()).unwrap_or_default())
}

/// The request parts the idempotency cache needs, taken before the body is read.
pub struct IdemKey {
    key: Option<idempotency::Digest32>,
}

impl IdemKey {
    /// From the `Idempotency-Key` header (absent: no caching); a bad value is
    /// `INVALID_PARAMS`.
    pub fn of(state: &AppState, req: &Request) -> Result<IdemKey, ToolError> {
        let Some(raw) = req.headers().get("idempotency-key") else {
            return Ok(IdemKey { key: None });
        };
        let key = raw
            .to_str()
            .ok()
            .filter(|k| idempotency::valid_key(k))
            .ok_or_else(|| {
                ToolError::invalid("Idempotency-Key must be 1-255 printable ASCII characters")
            })?;
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let who = principal(state, req.headers(), peer);
        Ok(IdemKey {
            key: Some(idempotency::cache_key(
                req.method().as_str(),
                req.uri().path(),
                &who,
                key,
            )),
        })
    }
}

/// Read the body under [`MAX_BODY`] (`PAYLOAD_TOO_LARGE`).
pub async fn read_body(req: Request) -> Result<Bytes, ToolError> {
    axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| ToolError::new(ToolCode::PayloadTooLarge, "body over 1 MiB"))
}

/// Run `work` once per idempotency key: a replay answers the stored outcome, another body
/// under the same key is `CONFLICT`, a duplicate of a running request waits for it.
pub async fn idempotent<F, Fut>(
    state: &AppState,
    r: &AgentRequest,
    key: IdemKey,
    body: &[u8],
    work: F,
) -> Response
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Stored>,
{
    let Some(key) = key.key else {
        return r.respond(&work().await, false);
    };
    let deadline = tokio::time::Instant::now() + state.config.query_timeout;
    let begun = state
        .idempotency
        .begin(key, idempotency::sha256(body), Instant::now(), deadline)
        .await;
    match begun {
        Err(_) => r.fail(ToolError::new(
            ToolCode::Timeout,
            "deadline exceeded waiting for the first request with this key",
        )),
        Ok(Begin::Conflict) => r.fail(ToolError::new(
            ToolCode::Conflict,
            "idempotency key re-used with a different body",
        )),
        Ok(Begin::Replay(stored)) => r.respond(&stored, true),
        Ok(Begin::Run(running)) => {
            let stored = work().await;
            let resp = r.respond(&stored, false);
            running.finish(stored.status().as_u16(), stored, Instant::now());
            resp
        }
    }
}

/// The tool environment of one request; storage not recovered yet is `OVERLOADED`.
pub fn tool_env(state: &AppState) -> Result<ToolEnv<'_>, ToolError> {
    let engine = state
        .engine()
        .ok_or_else(|| ToolError::new(ToolCode::Overloaded, "storage unavailable"))?;
    Ok(ToolEnv {
        engine,
        config: &state.config,
        read_slots: &state.read_slots,
        query_slots: &state.query_slots,
        now_ns: state.clock.now_ns(),
    })
}

/// Call one tool in-process.
pub async fn call_tool(state: &AppState, name: &str, params: Value) -> Result<Value, ToolError> {
    let env = tool_env(state)?;
    registry::call(&env, name, params).await
}

/// `GET /v1/tools`.
pub async fn tools_list(State(state): State<SharedState>, req: Request) -> Response {
    if let Err(e) = gate(&state, &req, Method::GET) {
        return e.into_response();
    }
    match AgentRequest::begin(&req) {
        Ok(r) => r.respond(&Stored::of(Ok(registry::listing())), false),
        Err((r, e)) => r.fail(e),
    }
}

/// Tool params of a body: empty → `{}`; otherwise a JSON object.
fn params_of(body: &[u8]) -> Result<Value, ToolError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Err(_) => Err(ToolError::invalid("invalid json body")),
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ToolError::invalid("params must be a JSON object")),
    }
}

/// The shared start of the agent POST routes: scope and method, the envelope mode, the
/// idempotency key and the body; `Err` is the answer already made when one of them fails.
async fn begin_post(
    state: &AppState,
    req: Request,
) -> Result<(AgentRequest, IdemKey, Bytes), Response> {
    if let Err(e) = gate(state, &req, Method::POST) {
        return Err(e.into_response());
    }
    let r = match AgentRequest::begin(&req) {
        Ok(r) => r,
        Err((r, e)) => return Err(r.fail(e)),
    };
    let key = match IdemKey::of(state, &req) {
        Ok(k) => k,
        Err(e) => return Err(r.fail(e)),
    };
    match read_body(req).await {
        Ok(body) => Ok((r, key, body)),
        Err(e) => Err(r.fail(e)),
    }
}

/// `POST /v1/tools/{name}`.
pub async fn tools_call(State(state): State<SharedState>, req: Request) -> Response {
    let name = req
        .uri()
        .path()
        .strip_prefix("/v1/tools/")
        .and_then(decode_path)
        .unwrap_or_default();
    let (r, key, body) = match begin_post(&state, req).await {
        Ok(started) => started,
        Err(answer) => return answer,
    };
    idempotent(&state, &r, key, &body, || async {
        let result = match params_of(&body) {
            Ok(params) => call_tool(&state, &name, params).await,
            Err(e) => Err(e),
        };
        Stored::of(result)
    })
    .await
}

/// The registry of this process as an MCP backend.
struct Local<'a> {
    state: &'a AppState,
}

#[async_trait::async_trait]
impl Backend for Local<'_> {
    async fn list(&self) -> Result<Vec<Value>, ToolError> {
        registry::tools()
            .iter()
            .map(|t| serde_json::to_value(t).map_err(|e| ToolError::internal(&e)))
            .collect()
    }

    async fn call(&self, name: &str, arguments: Value) -> Result<Value, ToolError> {
        call_tool(self.state, name, arguments).await
    }
}

/// `POST /mcp`: one JSON-RPC request or batch; `202` when only notifications came.
pub async fn mcp_post(State(state): State<SharedState>, req: Request) -> Response {
    if let Err(e) = gate(&state, &req, Method::POST) {
        return e.into_response();
    }
    let Ok(body) = axum::body::to_bytes(req.into_body(), mcp::MAX_MESSAGE).await else {
        return json_response(StatusCode::OK, &mcp::oversized());
    };
    match mcp::handle_body(&Local { state: &state }, &body).await {
        Some(answer) => json_response(StatusCode::OK, &answer),
        None => StatusCode::ACCEPTED.into_response(),
    }
}

/// `POST /v1/plans/execute` (spec reads §6.4): `200` with the plan's answer and `X-Plan-ID`
/// whether it completed, halted or failed; `400` for a plan that does not validate.
pub async fn plans_execute(State(state): State<SharedState>, req: Request) -> Response {
    let (r, key, body) = match begin_post(&state, req).await {
        Ok(started) => started,
        Err(answer) => return answer,
    };
    idempotent(&state, &r, key, &body, || run_plan(&state, &body)).await
}

async fn run_plan(state: &AppState, body: &[u8]) -> Stored {
    let failed = |e| Stored::of(Err(e));
    let plan = match plan::parse_plan(body) {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let env = match tool_env(state) {
        Ok(env) => env,
        Err(e) => return failed(e),
    };
    let plan_id = plan::new_plan_id();
    let run = state.plan_logs.start(&plan_id, Instant::now());
    let mut sink = |f| run.push(f);
    let answer = plan::execute(&env, &plan_id, &plan, &mut sink).await;
    state.plan_logs.finish(&plan_id, Instant::now());
    Stored {
        result: Ok(answer),
        plan_id: Some(plan_id),
        gateway: false,
    }
}

/// Interval of the `: heartbeat` comments of a plan stream.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(15);

/// One SSE frame.
fn sse_frame(f: &plan::Frame) -> Bytes {
    Bytes::from(format!("event: {}\ndata: {}\n\n", f.event, f.data))
}

/// A tick every [`HEARTBEAT`], the first one [`HEARTBEAT`] from now.
fn heartbeat_ticks() -> impl futures::Stream<Item = ()> + Send + Unpin + 'static {
    let first = tokio::time::Instant::now() + HEARTBEAT;
    Box::pin(futures::stream::unfold(
        tokio::time::interval_at(first, HEARTBEAT),
        |mut interval| async move {
            interval.tick().await;
            Some(((), interval))
        },
    ))
}

/// The frames of `run` from the first: logged ones at once, then live ones, and a
/// `: heartbeat` comment whenever `heartbeats` ticks while nothing new is logged; the stream
/// ends after `done`.
pub fn plan_frames<H>(
    run: std::sync::Arc<PlanRun>,
    heartbeats: H,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>>
where
    H: futures::Stream<Item = ()> + Send + Unpin + 'static,
{
    use futures::StreamExt;
    let rx = run.watch();
    let state = (run, rx, heartbeats, 0usize, false);
    futures::stream::unfold(state, |(run, mut rx, mut beats, next, ended)| async move {
        if ended {
            return None;
        }
        loop {
            if let Some(f) = run.frame(next) {
                let done = f.event == "done";
                return Some((Ok(sse_frame(&f)), (run, rx, beats, next + 1, done)));
            }
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                beat = beats.next() => {
                    beat?;
                    let comment = Bytes::from_static(b": heartbeat\n\n");
                    return Some((Ok(comment), (run, rx, beats, next, false)));
                }
            }
        }
    })
}

/// `GET /v1/stream/plans/{plan_id}`: the plan's frames as Server-Sent Events.
pub async fn plan_stream(State(state): State<SharedState>, req: Request) -> Response {
    if let Err(e) = gate(&state, &req, Method::GET) {
        return e.into_response();
    }
    let id = req
        .uri()
        .path()
        .strip_prefix("/v1/stream/plans/")
        .and_then(decode_path)
        .unwrap_or_default();
    let Some(run) = state.plan_logs.get(&id, Instant::now()) else {
        let r = AgentRequest {
            envelope: false,
            request_id: String::new(),
            started: Instant::now(),
        };
        return r.fail(ToolError::not_found("plan not found or expired"));
    };
    let mut resp =
        axum::body::Body::from_stream(plan_frames(run, heartbeat_ticks())).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// `POST /v1/ask` (spec reads §6.5).
pub async fn ask_post(State(state): State<SharedState>, req: Request) -> Response {
    let (r, key, body) = match begin_post(&state, req).await {
        Ok(started) => started,
        Err(answer) => return answer,
    };
    idempotent(&state, &r, key, &body, || run_ask(&state, &body)).await
}

async fn run_ask(state: &AppState, body: &[u8]) -> Stored {
    let request = match ask::parse_request(body, &state.config.llm) {
        Ok(r) => r,
        Err(e) => return Stored::of(Err(e)),
    };
    let env = match tool_env(state) {
        Ok(env) => env,
        Err(e) => return Stored::of(Err(e)),
    };
    let result = ask::run(&env, &request, &ask::http_post).await;
    // Provider failures and aborting tools answer 502; the deadline 504, no provider 503.
    let gateway = matches!(&result, Err(e)
        if !matches!(e.code, ToolCode::Timeout | ToolCode::ServiceUnavailable));
    Stored {
        result,
        plan_id: None,
        gateway,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn frame(event: &'static str, index: u64) -> plan::Frame {
        plan::Frame {
            event,
            data: json!({"index": index}),
        }
    }

    /// Replay, then heartbeats while the plan is silent, then live frames until `done`; the
    /// heartbeat source is a channel the test ticks (no clock involved).
    #[tokio::test]
    async fn plan_stream_replays_beats_and_ends_after_done() {
        let logs = crate::agent::plan_log::PlanLogs::default();
        let run = logs.start("p", Instant::now());
        run.push(frame("step_start", 0));
        let (beat, beats) = futures::channel::mpsc::unbounded::<()>();
        let mut stream = Box::pin(plan_frames(run.clone(), beats));
        let text = |b: Option<Result<Bytes, std::convert::Infallible>>| {
            String::from_utf8(b.unwrap().unwrap().to_vec()).unwrap()
        };
        assert_eq!(
            text(stream.next().await),
            "event: step_start\ndata: {\"index\":0}\n\n"
        );
        beat.unbounded_send(()).unwrap();
        assert_eq!(text(stream.next().await), ": heartbeat\n\n");
        run.push(frame("step_complete", 0));
        run.push(plan::Frame {
            event: "done",
            data: json!({"status": "complete"}),
        });
        assert!(text(stream.next().await).starts_with("event: step_complete\n"));
        assert_eq!(
            text(stream.next().await),
            "event: done\ndata: {\"status\":\"complete\"}\n\n"
        );
        assert!(stream.next().await.is_none(), "the stream ends after done");
    }
}
