//! `POST /demo/burst` of the api-gateway (spec triage §8.2): parse and clamp the body, post
//! the deploy and dependency signals to waylog, run the planned requests through the purchase
//! path with the requested concurrency, and summarize.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::StreamExt;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::gateway::Gateway;
use super::outbound::Outbound;
use crate::clock::{Clock, SystemClock};
use crate::demo::scenario::{DEMO_ENV, Scenario, plan_burst};

/// Requests when the body omits them (or sends 0), and their cap.
pub const DEFAULT_REQUESTS: usize = 50;
pub const MAX_REQUESTS: usize = 250;
/// Concurrency when the body omits it (or sends 0), and its cap.
pub const DEFAULT_CONCURRENCY: usize = 10;
pub const MAX_CONCURRENCY: usize = 50;

/// The body: both keys optional, nothing else allowed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BurstBody {
    requests: Option<i64>,
    concurrency: Option<i64>,
}

/// How many requests, how many at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstSize {
    pub requests: usize,
    pub concurrency: usize,
}

impl BurstSize {
    /// The size of a body (empty = `{}`): 0 or absent → 50 / 10; clamped to 1..=250 and
    /// 1..=50; concurrency ≤ requests. `Err` holds the `bad_request` detail.
    pub fn parse(body: &[u8]) -> Result<BurstSize, String> {
        let body: BurstBody = if body.iter().all(u8::is_ascii_whitespace) {
            BurstBody {
                requests: None,
                concurrency: None,
            }
        } else {
            serde_json::from_slice(body).map_err(|e| format!("invalid burst body: {e}"))?
        };
        let requests = clamp(body.requests, DEFAULT_REQUESTS, MAX_REQUESTS);
        let concurrency = clamp(body.concurrency, DEFAULT_CONCURRENCY, MAX_CONCURRENCY);
        Ok(BurstSize {
            requests,
            concurrency: concurrency.min(requests),
        })
    }
}

fn clamp(value: Option<i64>, default: usize, max: usize) -> usize {
    match value {
        None | Some(0) => default,
        Some(n) => usize::try_from(n.clamp(1, max as i64)).unwrap_or(default),
    }
}

/// One posted signal in the answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SignalOutcome {
    #[serde(rename = "type")]
    pub kind: String,
    pub service: String,
    pub reason: String,
    pub accepted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One request of the burst: its scenario, trace and the status the client saw (`None`: the
/// purchase did not complete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOutcome {
    pub scenario: Scenario,
    pub trace_id: String,
    pub status: Option<u16>,
}

/// The answer of `POST /demo/burst` (§8.2, keys in this order).
#[derive(Debug, Clone, Serialize)]
pub struct BurstReport {
    pub requested: usize,
    /// Completed requests.
    pub accepted: usize,
    pub signals: Vec<SignalOutcome>,
    pub duration_ms: u64,
    pub by_scenario: BTreeMap<&'static str, usize>,
    /// Completed with status 200.
    pub ok: usize,
    /// Neither ok nor suppressed.
    pub errors: usize,
    /// Requests of `suppressed_payment_502`.
    pub suppressed: usize,
    /// First trace of each scenario, in table order.
    pub sample_trace_ids: Vec<String>,
}

/// Summarize `outcomes` (in request order).
pub fn summarize(
    outcomes: &[RequestOutcome],
    signals: Vec<SignalOutcome>,
    duration_ms: u64,
) -> BurstReport {
    let mut by_scenario = BTreeMap::new();
    for o in outcomes {
        *by_scenario.entry(o.scenario.name()).or_insert(0) += 1;
    }
    let count = |f: &dyn Fn(&RequestOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let ok = count(&|o| o.status == Some(200));
    let suppressed = count(&|o| o.scenario == Scenario::SuppressedPayment502);
    let sample_trace_ids = Scenario::ALL
        .iter()
        .filter_map(|s| outcomes.iter().find(|o| o.scenario == *s))
        .map(|o| o.trace_id.clone())
        .collect();
    BurstReport {
        requested: outcomes.len(),
        accepted: count(&|o| o.status.is_some()),
        signals,
        duration_ms,
        by_scenario,
        ok,
        errors: outcomes.len() - ok - suppressed,
        suppressed,
        sample_trace_ids,
    }
}

/// The two signals posted before the requests (§8.2), stamped `timestamp`.
pub fn burst_signals(timestamp: &str) -> [Value; 2] {
    [
        json!({"type": "deploy", "source": "waylog-demo", "service": "checkout", "env": DEMO_ENV,
            "severity": "info", "reason": "demo_checkout_rollout",
            "message": "checkout rollout demo-v2.1", "timestamp": timestamp,
            "metadata": {"version": "demo-v2.1", "demo": "traffic_burst"}}),
        json!({"type": "dependency", "source": "waylog-demo", "service": "payment", "env": DEMO_ENV,
            "severity": "critical", "reason": "payment_gateway_5xx",
            "message": "payment gateway returning 5xx", "timestamp": timestamp,
            "resource": {"service": "payment", "endpoint": "POST /charge"},
            "metadata": {"error_code": "PMT_502", "downstream": "payment", "demo": "traffic_burst"}}),
    ]
}

/// Post `signal` and describe the outcome.
async fn post_signal(out: &Outbound, signal: &Value) -> SignalOutcome {
    let text = |k: &str| signal[k].as_str().unwrap_or_default().to_string();
    let mut outcome = SignalOutcome {
        kind: text("type"),
        service: text("service"),
        reason: text("reason"),
        accepted: false,
        status: None,
        signal_id: None,
        error: None,
    };
    match out.post_signal(signal).await {
        Ok(answer) => {
            let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
            outcome.status = Some(answer.status);
            outcome.accepted = answer.status == 201;
            if outcome.accepted {
                outcome.signal_id = body["signal"]["signal_id"].as_str().map(str::to_string);
            } else {
                outcome.error = Some(error_text(&body, answer.status));
            }
        }
        Err(e) => outcome.error = Some(e),
    }
    outcome
}

/// `<code>: <detail or message>` of a waylog error body, else `http <status>`.
fn error_text(body: &Value, status: u16) -> String {
    let e = &body["error"];
    let code = e["code"].as_str().unwrap_or_default();
    let detail = e["detail"]
        .as_str()
        .filter(|d| !d.is_empty())
        .or(e["message"].as_str())
        .unwrap_or_default();
    if code.is_empty() {
        format!("http {status}")
    } else {
        format!("{code}: {detail}")
    }
}

/// Run one burst of `size` through `gateway`'s purchase path.
pub async fn run(gateway: &Gateway, size: BurstSize) -> BurstReport {
    let started = Instant::now();
    let timestamp = crate::rfc3339::format_rfc3339_ns(SystemClock.now_ns());
    let mut signals = Vec::new();
    for signal in burst_signals(&timestamp) {
        signals.push(post_signal(&gateway.out, &signal).await);
    }
    let seed = gateway.seed.unwrap_or_else(rand::random);
    let plan = plan_burst(&mut SmallRng::seed_from_u64(seed), size.requests);
    let mut outcomes: Vec<(usize, RequestOutcome)> =
        futures::stream::iter(plan.into_iter().enumerate())
            .map(|(i, scenario)| async move { (i, gateway.purchase(scenario).await) })
            .buffer_unordered(size.concurrency)
            .collect()
            .await;
    outcomes.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<RequestOutcome> = outcomes.into_iter().map(|(_, o)| o).collect();
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    summarize(&outcomes, signals, duration_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(body: &str) -> Result<BurstSize, String> {
        BurstSize::parse(body.as_bytes())
    }

    fn sized(requests: usize, concurrency: usize) -> Result<BurstSize, String> {
        Ok(BurstSize {
            requests,
            concurrency,
        })
    }

    #[test]
    fn demo_burst_body_defaults_clamps_and_refuses_unknown_keys() {
        assert_eq!(size(""), sized(50, 10));
        assert_eq!(size("{}"), sized(50, 10));
        assert_eq!(size(r#"{"requests":0,"concurrency":0}"#), sized(50, 10));
        assert_eq!(size(r#"{"requests":null}"#), sized(50, 10));
        assert_eq!(
            size(r#"{"requests":1000,"concurrency":1000}"#),
            sized(250, 50)
        );
        assert_eq!(size(r#"{"requests":-3,"concurrency":-1}"#), sized(1, 1));
        assert_eq!(size(r#"{"requests":4}"#), sized(4, 4));
        assert_eq!(size(r#"{"requests":20,"concurrency":5}"#), sized(20, 5));
        for bad in [
            r#"{"requests":20,"seed":1}"#,
            r#"{"requests":"20"}"#,
            r#"{"requests":2.5}"#,
            "[1]",
            "{",
            r#"{"requests":99999999999999999999999}"#,
        ] {
            let e = size(bad).unwrap_err();
            assert!(e.starts_with("invalid burst body: "), "{bad}: {e}");
        }
        assert!(
            size(r#"{"bogus":1}"#)
                .unwrap_err()
                .contains("unknown field `bogus`")
        );
    }

    fn outcome(scenario: Scenario, trace: &str, status: Option<u16>) -> RequestOutcome {
        RequestOutcome {
            scenario,
            trace_id: trace.into(),
            status,
        }
    }

    #[test]
    fn demo_burst_summary_counts_and_samples_in_table_order() {
        let outcomes = [
            outcome(Scenario::Payment502, "t0", Some(502)),
            outcome(Scenario::CheckoutPanic, "t1", Some(500)),
            outcome(Scenario::Happy, "t2", Some(200)),
            outcome(Scenario::Payment502, "t3", None),
            outcome(Scenario::SuppressedPayment502, "t4", Some(502)),
            outcome(Scenario::Happy, "t5", Some(200)),
        ];
        let r = summarize(&outcomes, Vec::new(), 7);
        assert_eq!((r.requested, r.accepted), (6, 5));
        assert_eq!((r.ok, r.errors, r.suppressed), (2, 3, 1));
        assert_eq!(r.sample_trace_ids, ["t2", "t0", "t4", "t1"]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["by_scenario"],
            json!({"checkout_panic": 1, "happy": 2, "payment_502": 2, "suppressed_payment_502": 1})
        );
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 9);
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            text.starts_with(
                r#"{"requested":6,"accepted":5,"signals":[],"duration_ms":7,"by_scenario":"#
            ),
            "{text}"
        );
    }

    #[test]
    fn demo_burst_signals_are_the_spec_pair() {
        let [deploy, dependency] = burst_signals("2026-05-04T12:00:00Z");
        assert_eq!(deploy["metadata"]["version"], "demo-v2.1");
        assert_eq!(deploy["reason"], "demo_checkout_rollout");
        assert_eq!(dependency["resource"]["endpoint"], "POST /charge");
        assert_eq!(dependency["metadata"]["error_code"], "PMT_502");
        assert_eq!(
            error_text(
                &json!({"error": {"code": "invalid_field", "message": "invalid signal", "detail": "service: service is required"}}),
                400
            ),
            "invalid_field: service: service is required"
        );
        assert_eq!(error_text(&Value::Null, 502), "http 502");
    }
}
