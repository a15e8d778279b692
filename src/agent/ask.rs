//! Ask (spec reads §6.5): a prompt answered by the configured LLM with the registry's tools.
//! Up to `max_steps` model turns, each offered every tool's `{name, description,
//! input_schema}`; a turn with tool calls runs them through the registry in call order and
//! feeds the results back, a turn with text and no calls is the answer. Each provider speaks
//! its own wire format ([`Conversation`]): Gemini `generateContent` (function calls, or the
//! text tool mode), Anthropic Messages (`tool_use` / `tool_result`), OpenAI Responses
//! (`function_call` / `function_call_output`, `call_id` kept).

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::error::{ToolCode, ToolError};
use super::{ToolEnv, registry};
use crate::config::llm::{LlmConfig, Provider, ToolMode};

/// The message of Ask without a usable provider.
pub const NOT_CONFIGURED: &str =
    "LLM provider not configured; set WAYLOG_LLM_PROVIDER and provider credentials";
const ANTHROPIC_VERSION: &str = "2023-06-01";
const MAX_TOKENS: u32 = 4096;

/// What to do when a tool call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStrategy {
    Abort,
    Continue,
}

/// A validated Ask request.
#[derive(Debug, Clone, PartialEq)]
pub struct AskRequest {
    pub prompt: String,
    pub max_steps: u32,
    pub error_strategy: ErrorStrategy,
    pub timeout: Duration,
}

/// Parse an Ask body (`INVALID_PARAMS` for invalid JSON, unknown keys, wrong types or an
/// empty prompt); `max_steps` and `timeout_ms` are clamped.
pub fn parse_request(body: &[u8], llm: &LlmConfig) -> Result<AskRequest, ToolError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| ToolError::invalid("invalid json body"))?;
    let Value::Object(o) = v else {
        return Err(ToolError::invalid("body must be a JSON object"));
    };
    if let Some(k) = o.keys().find(|k| {
        !matches!(
            k.as_str(),
            "prompt" | "max_steps" | "error_strategy" | "timeout_ms"
        )
    }) {
        return Err(ToolError::invalid(format!("unknown field {k:?}")));
    }
    let prompt = match o.get("prompt") {
        Some(Value::String(p)) if !p.trim().is_empty() => p.clone(),
        Some(Value::String(_)) | None => return Err(ToolError::invalid("prompt is required")),
        Some(_) => return Err(ToolError::invalid("prompt must be a string")),
    };
    let int = |k: &str| -> Result<Option<i64>, ToolError> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ToolError::invalid(format!("{k} must be an integer"))),
        }
    };
    let max_steps = int("max_steps")?
        .unwrap_or(i64::from(llm.max_steps_default))
        .clamp(1, i64::from(llm.max_steps_max)) as u32;
    let timeout_ms = int("timeout_ms")?.unwrap_or(30_000).clamp(5_000, 60_000) as u64;
    let error_strategy = match o.get("error_strategy") {
        None | Some(Value::Null) => ErrorStrategy::Abort,
        Some(Value::String(s)) if s == "abort" => ErrorStrategy::Abort,
        Some(Value::String(s)) if s == "continue" => ErrorStrategy::Continue,
        Some(_) => {
            return Err(ToolError::invalid(
                "error_strategy must be abort or continue",
            ));
        }
    };
    Ok(AskRequest {
        prompt,
        max_steps,
        error_strategy,
        timeout: Duration::from_millis(timeout_ms),
    })
}

/// One tool call the model asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The provider's id of the call (`tool_use.id`, `call_id`), empty for Gemini.
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// What one model turn produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    Answer(String),
    Calls(Vec<Call>),
}

/// One HTTP request to the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

/// A provider's conversation state and wire format.
pub trait Conversation: Send {
    /// The request of the next turn.
    fn request(&self) -> ProviderRequest;
    /// Read a response: the answer or the calls (kept in the conversation).
    fn absorb(&mut self, response: Value) -> Result<Turn, String>;
    /// Feed back the outcomes of the last turn's calls, in call order (`Ok(result)` or
    /// `Err(message)`).
    fn feed(&mut self, outcomes: Vec<(Call, Result<Value, String>)>);
}

/// `{name, description, input_schema}` of every tool.
fn declarations() -> Vec<(String, String, Value)> {
    registry::tools()
        .iter()
        .map(|t| {
            (
                t.name.to_owned(),
                t.description.to_owned(),
                t.input_schema.clone(),
            )
        })
        .collect()
}

fn result_text(r: &Result<Value, String>) -> String {
    match r {
        Ok(v) => v.to_string(),
        Err(e) => json!({"error": e}).to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Anthropic Messages.

struct Anthropic {
    url: String,
    key: String,
    model: String,
    messages: Vec<Value>,
}

impl Conversation for Anthropic {
    fn request(&self) -> ProviderRequest {
        let tools: Vec<Value> = declarations()
            .into_iter()
            .map(|(name, description, schema)| {
                json!({"name": name, "description": description, "input_schema": schema})
            })
            .collect();
        ProviderRequest {
            url: format!("{}/v1/messages", self.url),
            headers: vec![
                ("x-api-key", self.key.clone()),
                ("anthropic-version", ANTHROPIC_VERSION.into()),
            ],
            body: json!({"model": self.model, "max_tokens": MAX_TOKENS,
                "messages": self.messages, "tools": tools}),
        }
    }

    fn absorb(&mut self, response: Value) -> Result<Turn, String> {
        let content = response
            .get("content")
            .and_then(Value::as_array)
            .ok_or("response has no content")?
            .clone();
        let calls: Vec<Call> = content
            .iter()
            .filter(|c| c["type"] == "tool_use")
            .map(|c| Call {
                id: c["id"].as_str().unwrap_or_default().to_owned(),
                name: c["name"].as_str().unwrap_or_default().to_owned(),
                arguments: c.get("input").cloned().unwrap_or_else(|| json!({})),
            })
            .collect();
        self.messages
            .push(json!({"role": "assistant", "content": content}));
        if calls.is_empty() {
            let text: String = content
                .iter()
                .filter(|c| c["type"] == "text")
                .filter_map(|c| c["text"].as_str())
                .collect();
            return Ok(Turn::Answer(text));
        }
        Ok(Turn::Calls(calls))
    }

    fn feed(&mut self, outcomes: Vec<(Call, Result<Value, String>)>) {
        let results: Vec<Value> = outcomes
            .iter()
            .map(|(call, r)| {
                let mut block = json!({"type": "tool_result", "tool_use_id": call.id,
                    "content": result_text(r)});
                if r.is_err() {
                    block["is_error"] = json!(true);
                }
                block
            })
            .collect();
        self.messages
            .push(json!({"role": "user", "content": results}));
    }
}

// ---------------------------------------------------------------------------------------------
// OpenAI Responses.

struct OpenAi {
    url: String,
    key: String,
    model: String,
    input: Vec<Value>,
}

impl Conversation for OpenAi {
    fn request(&self) -> ProviderRequest {
        let tools: Vec<Value> = declarations()
            .into_iter()
            .map(|(name, description, schema)| {
                json!({"type": "function", "name": name, "description": description,
                    "parameters": schema})
            })
            .collect();
        ProviderRequest {
            url: format!("{}/v1/responses", self.url),
            headers: vec![("authorization", format!("Bearer {}", self.key))],
            body: json!({"model": self.model, "input": self.input, "tools": tools}),
        }
    }

    fn absorb(&mut self, response: Value) -> Result<Turn, String> {
        let output = response
            .get("output")
            .and_then(Value::as_array)
            .ok_or("response has no output")?
            .clone();
        let mut calls = Vec::new();
        let mut text = String::new();
        for item in &output {
            match item["type"].as_str() {
                Some("function_call") => {
                    let args = item["arguments"].as_str().unwrap_or("{}");
                    calls.push(Call {
                        id: item["call_id"].as_str().unwrap_or_default().to_owned(),
                        name: item["name"].as_str().unwrap_or_default().to_owned(),
                        arguments: serde_json::from_str(args)
                            .map_err(|e| format!("invalid function arguments: {e}"))?,
                    });
                }
                Some("message") => {
                    for c in item["content"].as_array().into_iter().flatten() {
                        if c["type"] == "output_text" {
                            text.push_str(c["text"].as_str().unwrap_or_default());
                        }
                    }
                }
                _ => {}
            }
        }
        if calls.is_empty() {
            return Ok(Turn::Answer(text));
        }
        // The function calls stay in the input so each output follows its call.
        self.input
            .extend(output.into_iter().filter(|i| i["type"] == "function_call"));
        Ok(Turn::Calls(calls))
    }

    fn feed(&mut self, outcomes: Vec<(Call, Result<Value, String>)>) {
        for (call, r) in outcomes {
            self.input
                .push(json!({"type": "function_call_output", "call_id": call.id,
                "output": result_text(&r)}));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Gemini generateContent.

struct Gemini {
    url: String,
    key: String,
    mode: ToolMode,
    contents: Vec<Value>,
}

/// A JSON Schema without the keys Gemini's OpenAPI subset does not take.
fn gemini_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "additionalProperties" | "default"))
                .map(|(k, v)| (k.clone(), gemini_schema(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(gemini_schema).collect()),
        other => other.clone(),
    }
}

/// The system text of the text tool mode: the tools and how to call them.
fn text_mode_instructions() -> String {
    let mut s = String::from(
        "You can call tools. To call tools, reply with only a JSON object \
         {\"tool_calls\": [{\"name\": \"<tool>\", \"arguments\": {...}}]} and nothing else; \
         the results come back as a message starting with TOOL RESULTS. When you can answer, \
         reply with plain text.\nTools:\n",
    );
    for (name, description, schema) in declarations() {
        s.push_str(&format!("- {name}: {description} Input schema: {schema}\n"));
    }
    s
}

/// The calls of a text-mode reply: a JSON object with `tool_calls`, optionally fenced.
pub fn text_mode_calls(text: &str) -> Option<Vec<Call>> {
    let t = text.trim();
    let t = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|r| r.trim_end().strip_suffix("```"))
        .unwrap_or(t)
        .trim();
    let v: Value = serde_json::from_str(t).ok()?;
    let calls = v.get("tool_calls")?.as_array()?;
    Some(
        calls
            .iter()
            .map(|c| Call {
                id: String::new(),
                name: c["name"].as_str().unwrap_or_default().to_owned(),
                arguments: c.get("arguments").cloned().unwrap_or_else(|| json!({})),
            })
            .collect(),
    )
}

impl Conversation for Gemini {
    fn request(&self) -> ProviderRequest {
        let mut body = json!({"contents": self.contents});
        match self.mode {
            ToolMode::Native => {
                let decls: Vec<Value> = declarations()
                    .into_iter()
                    .map(|(name, description, schema)| {
                        json!({"name": name, "description": description,
                            "parameters": gemini_schema(&schema)})
                    })
                    .collect();
                body["tools"] = json!([{"functionDeclarations": decls}]);
            }
            ToolMode::Text => {
                body["systemInstruction"] = json!({"parts": [{"text": text_mode_instructions()}]});
            }
        }
        ProviderRequest {
            url: self.url.clone(),
            headers: vec![("x-goog-api-key", self.key.clone())],
            body,
        }
    }

    fn absorb(&mut self, response: Value) -> Result<Turn, String> {
        let content = response
            .pointer("/candidates/0/content")
            .cloned()
            .ok_or("response has no candidate content")?;
        let parts = content["parts"].as_array().cloned().unwrap_or_default();
        self.contents.push(json!({"role": "model", "parts": parts}));
        let text: String = parts.iter().filter_map(|p| p["text"].as_str()).collect();
        let calls: Vec<Call> = match self.mode {
            ToolMode::Native => parts
                .iter()
                .filter_map(|p| p.get("functionCall"))
                .map(|f| Call {
                    id: String::new(),
                    name: f["name"].as_str().unwrap_or_default().to_owned(),
                    arguments: f.get("args").cloned().unwrap_or_else(|| json!({})),
                })
                .collect(),
            ToolMode::Text => text_mode_calls(&text).unwrap_or_default(),
        };
        if calls.is_empty() {
            return Ok(Turn::Answer(text));
        }
        Ok(Turn::Calls(calls))
    }

    fn feed(&mut self, outcomes: Vec<(Call, Result<Value, String>)>) {
        let parts: Vec<Value> = match self.mode {
            ToolMode::Native => outcomes
                .iter()
                .map(|(call, r)| {
                    let response = match r {
                        Ok(v) => json!({"result": v}),
                        Err(e) => json!({"error": e}),
                    };
                    json!({"functionResponse": {"name": call.name, "response": response}})
                })
                .collect(),
            ToolMode::Text => {
                let results: Vec<Value> = outcomes
                    .iter()
                    .map(|(call, r)| match r {
                        Ok(v) => json!({"name": call.name, "result": v}),
                        Err(e) => json!({"name": call.name, "error": e}),
                    })
                    .collect();
                vec![json!({"text": format!("TOOL RESULTS {}", Value::Array(results))})]
            }
        };
        self.contents.push(json!({"role": "user", "parts": parts}));
    }
}

/// The conversation of `prompt` with the configured provider (`SERVICE_UNAVAILABLE` without
/// one).
pub fn conversation(llm: &LlmConfig, prompt: &str) -> Result<Box<dyn Conversation>, ToolError> {
    let (Some(key), true) = (llm.api_key.as_ref(), llm.ask_enabled()) else {
        return Err(ToolError::new(ToolCode::ServiceUnavailable, NOT_CONFIGURED));
    };
    let key = key.0.clone();
    let url = llm.api_base.clone();
    let model = llm.model.clone();
    Ok(match llm.provider {
        Provider::Anthropic => Box::new(Anthropic {
            url,
            key,
            model,
            messages: vec![json!({"role": "user", "content": prompt})],
        }),
        Provider::Openai => Box::new(OpenAi {
            url,
            key,
            model,
            input: vec![json!({"role": "user", "content": prompt})],
        }),
        Provider::Gemini => Box::new(Gemini {
            url: format!("{url}/v1beta/models/{model}:generateContent"),
            key,
            mode: llm.tool_mode,
            contents: vec![json!({"role": "user", "parts": [{"text": prompt}]})],
        }),
        Provider::None => {
            return Err(ToolError::new(ToolCode::ServiceUnavailable, NOT_CONFIGURED));
        }
    })
}

/// Sends one provider request; `Err` is the provider failure's text.
pub type Transport = dyn Fn(ProviderRequest, Duration) -> Result<Value, String> + Send + Sync;

/// POST `req` with ureq (blocking; run off the async workers), under `timeout`.
pub fn http_post(req: ProviderRequest, timeout: Duration) -> Result<Value, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(&req.url)
        .header("content-type", "application/json");
    for (k, v) in &req.headers {
        r = r.header(*k, v);
    }
    let mut resp = r.send(req.body.to_string()).map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(16 << 20)
        .read_to_string()
        .map_err(|e| e.to_string())?;
    if !(200..300).contains(&status) {
        let snippet: String = text.chars().take(300).collect();
        return Err(format!("provider answered {status}: {snippet}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("invalid provider response: {e}"))
}

fn ask_failed(code: ToolCode, cause: &str) -> ToolError {
    ToolError::new(code, format!("ask failed: {cause}"))
}

/// Run the tool-call loop; the success body of §6.5.
pub async fn run(
    env: &ToolEnv<'_>,
    req: &AskRequest,
    transport: &'static Transport,
) -> Result<Value, ToolError> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + req.timeout;
    let mut convo = conversation(&env.config.llm, &req.prompt)?;
    let work = async {
        let mut steps: Vec<Value> = Vec::new();
        for _ in 0..req.max_steps {
            let request = convo.request();
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let response = tokio::task::spawn_blocking(move || transport(request, left))
                .await
                .map_err(|e| ask_failed(ToolCode::ProviderError, &e.to_string()))?
                .map_err(|e| ask_failed(ToolCode::ProviderError, &e))?;
            let calls = match convo
                .absorb(response)
                .map_err(|e| ask_failed(ToolCode::ProviderError, &e))?
            {
                Turn::Answer(answer) => return Ok((answer, steps)),
                Turn::Calls(calls) => calls,
            };
            let mut outcomes = Vec::new();
            for call in calls {
                let t = Instant::now();
                let result = registry::call(env, &call.name, call.arguments.clone()).await;
                let mut step = json!({"index": steps.len() + 1, "tool": call.name,
                    "duration_ms": t.elapsed().as_millis() as u64, "params": call.arguments});
                match result {
                    Ok(v) => {
                        step["result"] = v.clone();
                        outcomes.push((call, Ok(v)));
                    }
                    Err(e) => {
                        step["error"] = e.to_json();
                        if req.error_strategy == ErrorStrategy::Abort {
                            return Err(ask_failed(e.code, &e.message));
                        }
                        outcomes.push((call, Err(e.message)));
                    }
                }
                steps.push(step);
            }
            convo.feed(outcomes);
        }
        Err(ask_failed(
            ToolCode::ProviderError,
            "tool calling exceeded max steps",
        ))
    };
    let (answer, steps) = tokio::time::timeout_at(deadline, work)
        .await
        .map_err(|_| ask_failed(ToolCode::Timeout, "deadline exceeded"))??;
    Ok(json!({
        "answer": answer,
        "model": env.config.llm.model,
        "tool_mode": env.config.llm.tool_mode.as_str(),
        "duration_ms": started.elapsed().as_millis() as u64,
        "steps": steps,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llm() -> LlmConfig {
        crate::config::ServeArgs::defaults()
            .llm
            .into_config()
            .unwrap()
    }

    #[test]
    fn request_bodies_are_checked_and_clamped() {
        let l = llm();
        let r = parse_request(
            br#"{"prompt": "why?", "max_steps": 99, "timeout_ms": 1}"#,
            &l,
        )
        .unwrap();
        assert_eq!(
            (r.max_steps, r.timeout, r.error_strategy),
            (8, Duration::from_secs(5), ErrorStrategy::Abort)
        );
        let r = parse_request(
            br#"{"prompt": "x", "error_strategy": "continue", "max_steps": 0}"#,
            &l,
        )
        .unwrap();
        assert_eq!(
            (r.max_steps, r.error_strategy),
            (1, ErrorStrategy::Continue)
        );
        for bad in [
            &b"{"[..],
            br#"{"prompt": "  "}"#,
            br#"{"prompt": "x", "y": 1}"#,
            br#"{"prompt": "x", "error_strategy": "retry"}"#,
            br#"{"prompt": "x", "error_strategy": 3}"#,
            br#"{"prompt": "x", "max_steps": "2"}"#,
            br#"[]"#,
        ] {
            assert_eq!(
                parse_request(bad, &l).unwrap_err().code,
                ToolCode::InvalidParams,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn without_a_provider_ask_is_unavailable() {
        let e = conversation(&llm(), "x").err().unwrap();
        assert_eq!(
            (e.code, e.message.as_str()),
            (ToolCode::ServiceUnavailable, NOT_CONFIGURED)
        );
    }

    #[test]
    fn text_mode_reads_fenced_or_bare_tool_calls() {
        let calls = text_mode_calls("```json\n{\"tool_calls\": [{\"name\": \"graph_stats\", \"arguments\": {\"window\": \"1h\"}}]}\n```").unwrap();
        assert_eq!(calls[0].name, "graph_stats");
        assert_eq!(calls[0].arguments, json!({"window": "1h"}));
        assert!(text_mode_calls("The answer is 42.").is_none());
        assert_eq!(
            gemini_schema(&json!({"type": "object", "additionalProperties": false,
            "properties": {"a": {"type": "integer", "default": 1}}})),
            json!({"type": "object", "properties": {"a": {"type": "integer"}}})
        );
    }
}
