//! A deterministic generator of realistic wide events: traces of 3-5 hops across a small
//! service topology, ~2% failed traces over ~50 error families, users with tiers and
//! regions, steps with downstream calls, milestone logs, and free-form fields. Each event
//! serializes to roughly 1 KiB of JSON.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use crate::model::{
    Anchor, Downstream, ErrorRef, Event, EventKind, EventStatus, Log, LogLevel, Step, StepError,
    StepStatus,
};

const SERVICES: [&str; 10] = [
    "api-gateway",
    "checkout",
    "payment",
    "inventory",
    "search",
    "users",
    "catalog",
    "shipping",
    "notifications",
    "recommendations",
];
const REGIONS: [&str; 4] = ["eu-west-1", "us-east-1", "us-west-2", "ap-south-1"];
const TIERS: [&str; 3] = ["free", "gold", "platinum"];
const METHODS: [&str; 3] = ["GET", "POST", "PUT"];

/// 50 error families: (service index, step, code).
fn family(i: usize) -> (usize, String, String) {
    let svc = 1 + i % (SERVICES.len() - 1);
    let step = format!(
        "{}.op{}",
        SERVICES[svc].split('-').next().unwrap_or("svc"),
        i % 5
    );
    let code = format!("{}_{}", &SERVICES[svc][..3].to_ascii_uppercase(), 500 + i);
    (svc, step, code)
}

/// The call chain of a failing trace of family `i`: the gateway, one to three fixed
/// intermediate services, then the family's service (deepest hop). A fixed topology per
/// family, as in a real system, so the families the callers anchor (their `<callee>.call`
/// step with the propagated code) recur at a steady rate instead of forming hundreds of rare
/// families.
fn failure_chain(i: usize) -> Vec<usize> {
    let (svc, _, _) = family(i);
    let mut chain = vec![0usize];
    let mut k = i * 7 + 3;
    while chain.len() < 2 + i % 3 {
        let s = 1 + k % (SERVICES.len() - 1);
        k += 1;
        if s != svc && !chain.contains(&s) {
            chain.push(s);
        }
    }
    chain.push(svc);
    chain
}

/// Stateful generator; the same seed gives the same events.
pub struct TrafficGen {
    rng: SmallRng,
    /// Failed traces per 10,000.
    pub failure_per_10k: u32,
    pub env: String,
}

impl TrafficGen {
    pub fn new(seed: u64) -> Self {
        TrafficGen {
            rng: SmallRng::seed_from_u64(seed),
            failure_per_10k: 200,
            env: "prod".into(),
        }
    }

    fn hex(&mut self, bytes: usize) -> String {
        let mut s = String::with_capacity(bytes * 2);
        for _ in 0..bytes {
            let b: u8 = self.rng.random();
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    fn uuid(&mut self) -> String {
        let h = self.hex(16);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    /// One trace: 3-5 events, root first. `start_ns` is the root's start.
    pub fn trace(&mut self, start_ns: i64) -> Vec<Event> {
        let hops = self.rng.random_range(3..=5usize);
        let trace_id = self.hex(16);
        let failed = self.rng.random_range(0..10_000) < self.failure_per_10k;
        let fam_index = self.rng.random_range(0..50);
        let fam = family(fam_index);
        let user = self.rng.random_range(0..100_000u32);
        let tier = TIERS[(user % 3) as usize];
        let region = REGIONS[(user % 4) as usize];
        // Services along the call chain: gateway, then distinct others; the failing family's
        // service is the deepest hop when failing.
        let mut chain = vec![0usize];
        while chain.len() < hops {
            let s = self.rng.random_range(1..SERVICES.len());
            if !chain.contains(&s) {
                chain.push(s);
            }
        }
        if failed {
            chain = failure_chain(fam_index);
        }
        let version = format!("2026.11.{}", 1 + self.rng.random_range(0..3u32));
        let mut events = Vec::with_capacity(hops);
        let mut parent_step_span = String::new();
        let mut offset_ns = 0i64;
        let total_ms = self.rng.random_range(20..400i64);
        for (depth, &svc) in chain.iter().enumerate() {
            let is_last = depth + 1 == chain.len();
            let duration_ms = (total_ms - depth as i64 * 8).max(2);
            let ts_start = start_ns + offset_ns;
            let call_span = self.hex(8);
            let own_span = self.hex(8);
            let next = chain.get(depth + 1).copied();
            let mut steps = vec![Step {
                name: format!("{}.validate", SERVICES[svc]),
                span_id: None,
                start_ms: 0,
                duration_ms: 1,
                status: StepStatus::Ok,
                downstream: None,
                error: None,
            }];
            let fails_here = failed;
            if let Some(n) = next {
                steps.push(Step {
                    name: format!("{}.call", SERVICES[n]),
                    span_id: Some(call_span.clone()),
                    start_ms: 2,
                    duration_ms: (duration_ms - 4).max(0),
                    status: if failed {
                        StepStatus::Error
                    } else {
                        StepStatus::Ok
                    },
                    downstream: Some(Downstream {
                        service: Some(SERVICES[n].into()),
                        endpoint: Some(format!("/{}/v1/op", SERVICES[n])),
                        kind: Some("http".into()),
                    }),
                    error: failed.then(|| StepError {
                        code: Some(fam.2.clone()),
                        reason: Some("downstream failed".into()),
                        cause: None,
                    }),
                });
            } else {
                steps.push(Step {
                    name: if failed {
                        fam.1.clone()
                    } else {
                        format!("{}.db.query", SERVICES[svc])
                    },
                    span_id: None,
                    start_ms: 2,
                    duration_ms: (duration_ms - 3).max(0),
                    status: if failed {
                        StepStatus::Error
                    } else {
                        StepStatus::Ok
                    },
                    downstream: None,
                    error: failed.then(|| StepError {
                        code: Some(fam.2.clone()),
                        reason: Some("upstream dependency returned 502".into()),
                        cause: Some("connection reset by peer".into()),
                    }),
                });
            }
            let anchor = fails_here.then(|| {
                if is_last {
                    Anchor {
                        step: fam.1.clone(),
                        error_code: fam.2.clone(),
                        kind: None,
                    }
                } else {
                    Anchor {
                        step: steps[1].name.clone(),
                        error_code: fam.2.clone(),
                        kind: Some("downstream".into()),
                    }
                }
            });
            let status = if fails_here {
                EventStatus::Error
            } else {
                EventStatus::Ok
            };
            let mut fields = Map::new();
            fields.insert(
                "http".into(),
                json!({
                    "method": METHODS[(user as usize + depth) % 3],
                    "route": format!("/{}/v1/{}", SERVICES[svc], ["items", "orders", "cart", "profile"][depth % 4]),
                    "status": if fails_here { 502 } else { 200 },
                    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
                    "request_bytes": 200 + (user % 900),
                }),
            );
            fields.insert(
                "user".into(),
                json!({"id": format!("u-{user}"), "tier": tier, "region": region}),
            );
            fields.insert(
                "deploy".into(),
                json!({"commit": "9fceb02d0ae598e95dc970b74767f19372d61af8", "pod": format!("{}-7d9f8c6b5-{}", SERVICES[svc], user % 7)}),
            );
            fields.insert(
                "feature_flags".into(),
                Value::Array(vec![json!("new-cart"), json!("fast-search")]),
            );
            let logs = vec![Log {
                ts_offset_ms: duration_ms / 2,
                level: if fails_here {
                    LogLevel::Error
                } else {
                    LogLevel::Info
                },
                msg: if fails_here {
                    "request failed"
                } else {
                    "request handled"
                }
                .into(),
                fields: Some({
                    let mut m = Map::new();
                    m.insert("attempt".into(), json!(1));
                    m
                }),
            }];
            events.push(Event {
                schema_version: crate::model::SchemaVersion::V2,
                event_id: self.uuid(),
                ts_start_ns: ts_start,
                ts_end_ns: ts_start + duration_ms * 1_000_000,
                duration_ms,
                kind: EventKind::Http,
                service: SERVICES[svc].into(),
                env: self.env.clone(),
                version: Some(version.clone()),
                trace_id: trace_id.clone(),
                span_id: own_span,
                parent_span_id: parent_step_span.clone(),
                status,
                anchor,
                steps,
                logs,
                fields: Some(fields),
                errors: if fails_here {
                    vec![ErrorRef {
                        code: fam.2.clone(),
                        reason: Some("upstream dependency returned 502".into()),
                    }]
                } else {
                    Vec::new()
                },
            });
            parent_step_span = call_span;
            offset_ns += 2_000_000;
        }
        events
    }

    /// At least `n` events from consecutive traces starting around `start_ns`, spaced by
    /// `spacing_ns` per trace.
    pub fn events(&mut self, n: usize, start_ns: i64, spacing_ns: i64) -> Vec<Event> {
        let mut out = Vec::with_capacity(n + 5);
        let mut t = start_ns;
        while out.len() < n {
            out.extend(self.trace(t));
            t += spacing_ns;
        }
        out
    }
}

/// NDJSON body of `events` (normalized JSON, one per line).
pub fn ndjson(events: &[Event]) -> String {
    let mut s = String::with_capacity(events.len() * 1100);
    for e in events {
        s.push_str(&serde_json::to_string(e).expect("events serialize"));
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::validate_item;

    #[test]
    fn traffic_events_are_valid_and_about_one_kib() {
        let mut g = TrafficGen::new(7);
        let now = 1_800_000_000_000_000_000;
        let events = g.events(20_000, now - 60_000_000_000, 1_000_000);
        let body = ndjson(&events);
        let avg = body.len() / events.len();
        assert!((700..1400).contains(&avg), "avg event size {avg}");
        for line in body.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            validate_item(&v, now).unwrap();
        }
        let failed = events.iter().filter(|e| e.status == "error").count();
        assert!(failed > 0 && failed < events.len() / 10, "{failed}");
    }
}
