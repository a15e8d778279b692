//! The demo services' one HTTP client: calls between services (with `traceparent`,
//! `baggage` and the scenario header) and posts to waylog (`/v1/events`, `/v1/signals`, with
//! `X-API-Key`). Requests run on tokio's blocking pool (the client is blocking `ureq`); every
//! request has a timeout, so a stuck peer cannot hold a service forever.
//!
//! A called hop answers first and stores its event in the background ([`Outbound::post_later`],
//! so its caller's call step measures the callee's work, not waylog's fsync); the posts are
//! tracked per trace, and the gateway waits for its trace's posts ([`Outbound::settle`])
//! before it answers, so a purchase that returned is readable in waylog.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;

use super::{SCENARIO_HEADER, ServicesConfig, Stopwatch};
use crate::demo::scenario::{CallRecord, HopContext, Span, new_span_id};
use crate::model::Event;

/// Bound of one outbound request, connect to last byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bodies read back are small JSON answers; anything larger is cut.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

/// A shared client (cheap to clone).
#[derive(Clone)]
pub struct Outbound {
    agent: ureq::Agent,
    waylog_url: String,
    write_key: Option<String>,
    delivery: Arc<Delivery>,
    pending: Arc<Pending>,
}

/// Background posts under way, per trace id (entries leave at zero: bounded by the requests
/// in flight).
#[derive(Default)]
struct Pending {
    by_trace: Mutex<HashMap<String, usize>>,
    changed: Notify,
}

impl Pending {
    fn begin(&self, trace_id: &str) {
        *self
            .by_trace
            .lock()
            .entry(trace_id.to_string())
            .or_insert(0) += 1;
    }

    fn end(&self, trace_id: &str) {
        let mut map = self.by_trace.lock();
        if let Some(n) = map.get_mut(trace_id) {
            *n -= 1;
            if *n == 0 {
                map.remove(trace_id);
            }
        }
        drop(map);
        self.changed.notify_waiters();
    }

    /// Wait until `done` holds for the map.
    async fn wait(&self, done: impl Fn(&HashMap<String, usize>) -> bool) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if done(&self.by_trace.lock()) {
                return;
            }
            changed.await;
        }
    }
}

/// Events that did not reach waylog: only the first failure is printed.
#[derive(Default)]
struct Delivery {
    warned: AtomicBool,
}

/// An answer: status and body text.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Outbound {
    /// A client for the services of `config`.
    pub fn new(config: &ServicesConfig) -> Outbound {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Outbound {
            agent,
            waylog_url: config.waylog_url.trim_end_matches('/').to_string(),
            write_key: config.write_key.clone().filter(|k| !k.is_empty()),
            delivery: Arc::default(),
            pending: Arc::default(),
        }
    }

    /// Send one request; `Err` is a transport failure (text).
    pub async fn send(
        &self,
        method: &'static str,
        url: String,
        headers: Vec<(&'static str, String)>,
        body: Option<String>,
    ) -> Result<Answer, String> {
        let agent = self.agent.clone();
        let blocking = move || {
            let mut request = ureq::http::Request::builder().method(method).uri(&url);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let request = request
                .body(body.unwrap_or_default())
                .map_err(|e| format!("{method} {url}: {e}"))?;
            let mut response = agent
                .run(request)
                .map_err(|e| format!("{method} {url}: {e}"))?;
            let status = response.status().as_u16();
            let body = response
                .body_mut()
                .with_config()
                .limit(MAX_RESPONSE_BYTES)
                .read_to_string()
                .unwrap_or_default();
            Ok(Answer { status, body })
        };
        tokio::task::spawn_blocking(blocking)
            .await
            .map_err(|e| format!("request task failed: {e}"))?
    }

    /// Call another demo service as a call step of `ctx`: a fresh span id goes out as the
    /// `traceparent` parent id; the record holds the step's timing and the callee's status.
    pub async fn call(
        &self,
        watch: &Stopwatch,
        ctx: &HopContext,
        method: &'static str,
        url: String,
    ) -> CallRecord {
        let span_id = new_span_id(&mut rand::rng());
        let headers = vec![
            ("traceparent", ctx.child(&span_id).header()),
            ("baggage", ctx.user.baggage()),
            (SCENARIO_HEADER, ctx.scenario.name().to_string()),
        ];
        let start_ms = watch.offset_ms();
        let status = self
            .send(method, url, headers, None)
            .await
            .ok()
            .map(|a| a.status);
        CallRecord {
            span_id,
            span: Span {
                start_ms,
                duration_ms: watch.offset_ms() - start_ms,
            },
            http_status: status,
        }
    }

    /// POST a JSON body to waylog at `path` with the write key.
    pub async fn post_waylog(&self, path: &str, body: String) -> Result<Answer, String> {
        let mut headers = vec![("content-type", "application/json".to_string())];
        if let Some(key) = &self.write_key {
            headers.push(("x-api-key", key.clone()));
        }
        let url = format!("{}{path}", self.waylog_url);
        self.send("POST", url, headers, Some(body)).await
    }

    /// Post one hop's event to `/v1/events`. A refusal is not the caller's problem (the
    /// service still answers): the first one is printed to stderr.
    pub async fn post_event(&self, event: &Event) {
        let body = serde_json::to_string(&[event]).expect("events serialize");
        let problem = match self.post_waylog("/v1/events", body).await {
            Err(e) => Some(e),
            Ok(a) if !(200..300).contains(&a.status) => {
                Some(format!("http {}: {}", a.status, a.body))
            }
            Ok(a) => rejected(&a.body),
        };
        if let Some(problem) = problem
            && !self.delivery.warned.swap(true, Ordering::Relaxed)
        {
            eprintln!(
                "waylog demo: a {} event did not reach waylog at {} (further failures are not printed): {}",
                event.service,
                self.waylog_url,
                problem.trim()
            );
        }
    }

    /// Run `post` (a post to waylog on behalf of `trace_id`) in the background, tracked.
    pub fn post_later(&self, trace_id: &str, post: impl Future<Output = ()> + Send + 'static) {
        let trace_id = trace_id.to_string();
        self.pending.begin(&trace_id);
        let pending = self.pending.clone();
        tokio::spawn(async move {
            post.await;
            pending.end(&trace_id);
        });
    }

    /// Post `event` in the background (see [`Outbound::post_later`]).
    pub fn post_event_later(&self, event: Event) {
        let out = self.clone();
        let trace_id = event.trace_id.clone();
        self.post_later(&trace_id, async move { out.post_event(&event).await });
    }

    /// Wait until no background post of `trace_id` is under way.
    pub async fn settle(&self, trace_id: &str) {
        self.pending.wait(|m| !m.contains_key(trace_id)).await;
    }

    /// Wait until no background post at all is under way.
    pub async fn settle_all(&self) {
        self.pending.wait(HashMap::is_empty).await;
    }

    /// Post one signal to `/v1/signals`.
    pub async fn post_signal(&self, signal: &Value) -> Result<Answer, String> {
        self.post_waylog("/v1/signals", signal.to_string()).await
    }
}

/// The first rejection of an ingest answer (`rejected: [...]` non-empty), as text.
fn rejected(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let first = v.get("rejected")?.as_array()?.first()?;
    Some(format!("rejected: {first}"))
}
