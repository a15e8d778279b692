//! Ask (spec reads §6.5) against local fake providers: each fake is an HTTP server on port 0
//! that answers the provider's documented response format from a script and records what
//! waylog sends (path, headers, body), so the tests assert the wire format of Anthropic
//! Messages, OpenAI Responses and Gemini generateContent (native and text tool modes), the
//! tool-call loop, the error strategies and the failure answers.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::tools::{AGENT, Seeded, assert_tool_error, seeded};

/// One request a fake provider received.
#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    headers: HashMap<String, String>,
    body: Value,
}

/// A scripted provider: answers `script` in order (status, body), then closes.
struct Fake {
    url: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
}

fn fake(script: Vec<(u16, Value)>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for (status, body) in script {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut buf = vec![0; len];
            reader.read_exact(&mut buf).unwrap();
            log.lock().unwrap().push(Recorded {
                path,
                headers,
                body: serde_json::from_slice(&buf).unwrap_or(Value::Null),
            });
            let text = body.to_string();
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    Fake { url, seen }
}

impl Fake {
    fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }
}

fn ask(s: &Seeded, body: &Value) -> crate::harness::Resp {
    s.server.request(
        "POST",
        "/v1/ask",
        &[AGENT, ("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    )
}

/// A server whose provider is `provider` at the fake's URL with key `test-key`.
fn with_provider(provider: &str, key_var: &str, fake: &Fake, extra: &[(&str, &str)]) -> Seeded {
    let mut env = vec![
        ("WAYLOG_LLM_PROVIDER", provider),
        (key_var, "test-key"),
        ("WAYLOG_LLM_API_BASE", fake.url.as_str()),
    ];
    env.extend_from_slice(extra);
    seeded(&env)
}

fn tool_names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t[key].as_str().unwrap().to_owned())
        .collect()
}

/// The step every scripted loop makes: graph_stats over the seeded data.
fn assert_stats_step(answer: &Value) {
    let step = &answer["steps"][0];
    assert_eq!(step["index"], 1);
    assert_eq!(step["tool"], "graph_stats");
    assert_eq!(step["params"], json!({"window": "15m"}));
    assert_eq!(step["result"]["events"], 3);
    assert!(step["duration_ms"].is_u64());
}

#[test]
fn anthropic_messages_tool_use_round_trip() {
    let fake = fake(vec![
        (
            200,
            json!({"id": "msg_1", "type": "message", "role": "assistant", "stop_reason": "tool_use",
            "content": [{"type": "text", "text": "Let me look."},
                        {"type": "tool_use", "id": "toolu_01", "name": "graph_stats", "input": {"window": "15m"}}]}),
        ),
        (
            200,
            json!({"id": "msg_2", "type": "message", "role": "assistant", "stop_reason": "end_turn",
            "content": [{"type": "text", "text": "Three failed requests, all PMT_502."}]}),
        ),
    ]);
    let s = with_provider("anthropic", "ANTHROPIC_API_KEY", &fake, &[]);
    let r = ask(&s, &json!({"prompt": "What is failing?"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["answer"], "Three failed requests, all PMT_502.");
    assert_eq!(
        (v["model"].clone(), v["tool_mode"].clone()),
        (json!("claude-sonnet-4-6"), json!("native"))
    );
    assert_stats_step(&v);
    let seen = fake.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, "/v1/messages");
    assert_eq!(seen[0].headers["x-api-key"], "test-key");
    assert_eq!(seen[0].headers["anthropic-version"], "2023-06-01");
    let b = &seen[0].body;
    assert_eq!(b["model"], "claude-sonnet-4-6");
    assert!(b["max_tokens"].is_u64());
    assert_eq!(
        b["messages"],
        json!([{"role": "user", "content": "What is failing?"}])
    );
    let names = tool_names(&b["tools"], "name");
    assert!(names.contains(&"graph_stats".into()) && names.contains(&"triage_incident".into()));
    assert!(
        b["tools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["input_schema"]["type"] == "object")
    );
    // The follow-up turn: the assistant's content, then the tool_result for toolu_01.
    let m = &seen[1].body["messages"];
    assert_eq!(m[1]["role"], "assistant");
    assert_eq!(m[1]["content"][1]["id"], "toolu_01");
    assert_eq!(m[2]["role"], "user");
    assert_eq!(m[2]["content"][0]["type"], "tool_result");
    assert_eq!(m[2]["content"][0]["tool_use_id"], "toolu_01");
    let fed: Value = serde_json::from_str(m[2]["content"][0]["content"].as_str().unwrap()).unwrap();
    assert_eq!(fed["events"], 3);
}

#[test]
fn openai_responses_function_calls_keep_call_id() {
    let fake = fake(vec![
        (
            200,
            json!({"id": "resp_1", "object": "response", "output": [
            {"type": "function_call", "id": "fc_1", "call_id": "call_abc", "name": "graph_stats",
             "arguments": "{\"window\":\"15m\"}", "status": "completed"}]}),
        ),
        (
            200,
            json!({"id": "resp_2", "object": "response", "output": [
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "All PMT_502.", "annotations": []}]}]}),
        ),
    ]);
    let s = with_provider(
        "openai",
        "OPENAI_API_KEY",
        &fake,
        &[("WAYLOG_LLM_MODEL", "gpt-test")],
    );
    let v = ask(&s, &json!({"prompt": "summarize"})).json();
    assert_eq!(v["answer"], "All PMT_502.");
    assert_eq!(v["model"], "gpt-test");
    assert_stats_step(&v);
    let seen = fake.requests();
    assert_eq!(seen[0].path, "/v1/responses");
    assert_eq!(seen[0].headers["authorization"], "Bearer test-key");
    let tools = &seen[0].body["tools"];
    assert!(
        tools
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["type"] == "function" && t["parameters"].is_object())
    );
    assert_eq!(seen[0].body["model"], "gpt-test");
    let input = seen[1].body["input"].as_array().unwrap();
    assert_eq!(input[0], json!({"role": "user", "content": "summarize"}));
    assert_eq!(
        (input[1]["type"].clone(), input[1]["call_id"].clone()),
        (json!("function_call"), json!("call_abc"))
    );
    assert_eq!(
        (input[2]["type"].clone(), input[2]["call_id"].clone()),
        (json!("function_call_output"), json!("call_abc"))
    );
    let fed: Value = serde_json::from_str(input[2]["output"].as_str().unwrap()).unwrap();
    assert_eq!(fed["events"], 3);
}

#[test]
fn gemini_generate_content_native_and_text_modes() {
    let answer = |text: &str| json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}]});
    let fake_native = fake(vec![
        (
            200,
            json!({"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "graph_stats", "args": {"window": "15m"}}}]}}]}),
        ),
        (200, answer("PMT_502 from payment.")),
    ]);
    let s = with_provider(
        "gemini",
        "GEMINI_API_KEY",
        &fake_native,
        &[("WAYLOG_LLM_TOOL_MODE", "native")],
    );
    let v = ask(&s, &json!({"prompt": "why"})).json();
    assert_eq!(
        (v["answer"].clone(), v["tool_mode"].clone()),
        (json!("PMT_502 from payment."), json!("native"))
    );
    assert_stats_step(&v);
    let seen = fake_native.requests();
    assert_eq!(
        seen[0].path,
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(seen[0].headers["x-goog-api-key"], "test-key");
    let decls = &seen[0].body["tools"][0]["functionDeclarations"];
    assert!(tool_names(decls, "name").contains(&"query_sql".into()));
    assert!(
        !decls.to_string().contains("additionalProperties"),
        "Gemini's schema subset"
    );
    let contents = &seen[1].body["contents"];
    assert_eq!(contents[1]["role"], "model");
    assert_eq!(
        contents[2]["parts"][0]["functionResponse"]["name"],
        "graph_stats"
    );
    assert_eq!(
        contents[2]["parts"][0]["functionResponse"]["response"]["result"]["events"],
        3
    );
    drop(s);

    // The default Gemini tool mode is text: tools in the system instruction, calls as JSON.
    let fake_text = fake(vec![
        (
            200,
            answer(
                "```json\n{\"tool_calls\": [{\"name\": \"graph_stats\", \"arguments\": {\"window\": \"15m\"}}]}\n```",
            ),
        ),
        (200, answer("Three failures.")),
    ]);
    let s = with_provider("gemini", "GOOGLE_API_KEY", &fake_text, &[]);
    let v = ask(&s, &json!({"prompt": "why"})).json();
    assert_eq!(
        (v["answer"].clone(), v["tool_mode"].clone()),
        (json!("Three failures."), json!("text"))
    );
    assert_stats_step(&v);
    let seen = fake_text.requests();
    assert!(seen[0].body.get("tools").is_none());
    assert!(
        seen[0].body["systemInstruction"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .contains("graph_stats")
    );
    assert!(
        seen[1].body["contents"][2]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("TOOL RESULTS ")
    );
}

#[test]
fn ask_failures_and_error_strategies() {
    // No provider: 503.
    let s = seeded(&[]);
    let e = assert_tool_error(
        &ask(&s, &json!({"prompt": "x"})),
        503,
        "SERVICE_UNAVAILABLE",
    );
    assert_eq!(
        e["message"],
        "LLM provider not configured; set WAYLOG_LLM_PROVIDER and provider credentials"
    );
    assert_tool_error(&ask(&s, &json!({"prompt": " "})), 400, "INVALID_PARAMS");
    assert_tool_error(
        &ask(&s, &json!({"prompt": "x", "extra": 1})),
        400,
        "INVALID_PARAMS",
    );
    drop(s);

    let unknown_trace = json!({"content": [{"type": "tool_use", "id": "t1", "name": "trace_summary",
        "input": {"trace_id": "0123456789abcdef0123456789abcdef"}}]});
    let done = json!({"content": [{"type": "text", "text": "not found, sorry"}]});
    // abort: the tool's code, 502.
    let f = fake(vec![(200, unknown_trace.clone())]);
    let s = with_provider("anthropic", "ANTHROPIC_API_KEY", &f, &[]);
    let e = assert_tool_error(&ask(&s, &json!({"prompt": "x"})), 502, "NOT_FOUND");
    assert_eq!(e["message"], "ask failed: trace not found");
    drop(s);
    // continue: the error goes back to the model, which answers.
    let f = fake(vec![(200, unknown_trace.clone()), (200, done)]);
    let s = with_provider("anthropic", "ANTHROPIC_API_KEY", &f, &[]);
    let v = ask(&s, &json!({"prompt": "x", "error_strategy": "continue"})).json();
    assert_eq!(v["answer"], "not found, sorry");
    assert_eq!(v["steps"][0]["error"]["code"], "NOT_FOUND");
    let fed = &f.requests()[1].body["messages"][2]["content"][0];
    assert_eq!(fed["is_error"], true);
    assert_eq!(
        fed["content"],
        json!({"error": "trace not found"}).to_string()
    );
    drop(s);
    // Provider failure and too many steps: 502 PROVIDER_ERROR.
    let f = fake(vec![
        (500, json!({"error": {"type": "api_error"}})),
        (200, unknown_trace),
    ]);
    let s = with_provider("anthropic", "ANTHROPIC_API_KEY", &f, &[]);
    let e = assert_tool_error(&ask(&s, &json!({"prompt": "x"})), 502, "PROVIDER_ERROR");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("ask failed: provider answered 500"),
        "{e}"
    );
    assert_eq!(e["retryable"], true);
    let e = assert_tool_error(
        &ask(
            &s,
            &json!({"prompt": "x", "max_steps": 1, "error_strategy": "continue"}),
        ),
        502,
        "PROVIDER_ERROR",
    );
    assert_eq!(e["message"], "ask failed: tool calling exceeded max steps");
}
