//! `waylog loadgen-otlp` (hidden; run by `scripts/bench.sh otlp`): concurrent OTLP exporters
//! sending `ExportTraceServiceRequest`s of `batch` spans over HTTP protobuf (`/v1/traces`) or
//! gRPC (`TraceService/Export`) to a running server, like an SDK's batch span processor.
//! Every span has fresh ids, so nothing is deduplicated; traces are gateway → checkout →
//! payment chains with ~2% failing payments. Reports accepted spans/s and export latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::bench::percentile;
use crate::clock::{Clock, SystemClock};

#[derive(Debug, Clone)]
pub struct OtlpLoadArgs {
    /// `http://host:port` of the HTTP listener.
    pub url: String,
    /// `host:port` of the gRPC listener (for `grpc`).
    pub grpc_addr: Option<String>,
    pub transport: Transport,
    pub key: Option<String>,
    pub clients: usize,
    /// Spans per export request.
    pub batch: usize,
    pub duration: Duration,
}

/// `--transport`: the variants' names are the accepted values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    Http,
    Grpc,
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.to_string())
}

const SERVICES: [(&str, &str, &str); 3] = [
    ("api-gateway", "POST", "/checkout"),
    ("checkout", "POST", "/checkout"),
    ("payment", "POST", "/charge"),
];

/// One export request of `batch` spans (whole 3-span traces, the last one truncated), with ids
/// from `rng` and times ending at `now_ns`.
pub fn export_request(rng: &mut SmallRng, batch: usize, now_ns: i64) -> ExportTraceServiceRequest {
    let mut per_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES.len()];
    let mut made = 0;
    while made < batch {
        let trace_id: [u8; 16] = rng.random();
        let failing = rng.random_range(0..100) < 2;
        let start = (now_ns - rng.random_range(1_000_000_000..5_000_000_000)) as u64;
        let mut parent: Vec<u8> = Vec::new();
        for (i, (_, method, route)) in SERVICES.iter().enumerate() {
            if made == batch {
                break;
            }
            let span_id: [u8; 8] = rng.random();
            let fails = failing && i == SERVICES.len() - 1;
            let status_code = if fails { 502 } else { 200 };
            let offset = i as u64 * 2_000_000;
            let span = Span {
                trace_id: trace_id.to_vec(),
                span_id: span_id.to_vec(),
                parent_span_id: parent.clone(),
                name: format!("{method} {route}"),
                kind: SpanKind::Server as i32,
                start_time_unix_nano: start + offset,
                end_time_unix_nano: start + offset + 40_000_000 - offset * 2,
                attributes: vec![
                    kv("http.request.method", s(method)),
                    kv("http.route", s(route)),
                    kv(
                        "http.response.status_code",
                        any_value::Value::IntValue(status_code),
                    ),
                    kv("enduser.id", s(&format!("u-{}", rng.random_range(0..5000)))),
                ],
                status: Some(Status {
                    code: if fails {
                        StatusCode::Error as i32
                    } else {
                        StatusCode::Unset as i32
                    },
                    message: if fails {
                        "acquirer returned 502".into()
                    } else {
                        String::new()
                    },
                }),
                ..Default::default()
            };
            parent = span_id.to_vec();
            per_service[i].push(span);
            made += 1;
        }
    }
    let resource_spans = SERVICES
        .iter()
        .zip(per_service)
        .filter(|(_, spans)| !spans.is_empty())
        .map(|((service, _, _), spans)| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s(service)),
                    kv("service.version", s("1.0.0")),
                    kv("deployment.environment.name", s("bench")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// Per-client tallies.
#[derive(Default)]
struct Tally {
    lat_us: Vec<u64>,
    spans: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }
}

async fn http_client(args: OtlpLoadArgs, seed: u64, stop: Arc<AtomicBool>) -> Tally {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let url = format!("{}/v1/traces", args.url);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    while !stop.load(Ordering::Relaxed) {
        let body = export_request(&mut rng, args.batch, SystemClock.now_ns()).encode_to_vec();
        let agent = agent.clone();
        let url = url.clone();
        let key = args.key.clone();
        let t = Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            let mut req = agent
                .post(&url)
                .header("Content-Type", "application/x-protobuf");
            if let Some(k) = key {
                req = req.header("Authorization", format!("Bearer {k}"));
            }
            req.send(&body[..]).map(|r| r.status().as_u16())
        })
        .await;
        match result {
            Ok(Ok(200)) => {
                tally.lat_us.push(t.elapsed().as_micros() as u64);
                tally.spans += args.batch as u64;
            }
            Ok(Ok(status)) => tally.error(format!("status {status}")),
            Ok(Err(e)) => tally.error(e.to_string()),
            Err(e) => tally.error(e.to_string()),
        }
    }
    tally
}

async fn grpc_client(args: OtlpLoadArgs, seed: u64, stop: Arc<AtomicBool>) -> Tally {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let addr = format!("http://{}", args.grpc_addr.clone().unwrap_or_default());
    // Like the OTLP exporters: large windows, no Nagle.
    let endpoint = match tonic::transport::Endpoint::from_shared(addr) {
        Ok(e) => e
            .tcp_nodelay(true)
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(16 << 20),
        Err(e) => {
            tally.error(format!("endpoint: {e}"));
            return tally;
        }
    };
    let mut client = match endpoint.connect().await.map(TraceServiceClient::new) {
        Ok(c) => c,
        Err(e) => {
            tally.error(format!("connect: {e}"));
            return tally;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let mut req =
            tonic::Request::new(export_request(&mut rng, args.batch, SystemClock.now_ns()));
        if let Some(k) = &args.key
            && let Ok(v) = format!("Bearer {k}").parse()
        {
            req.metadata_mut().insert("authorization", v);
        }
        let t = Instant::now();
        match client.export(req).await {
            Ok(_) => {
                tally.lat_us.push(t.elapsed().as_micros() as u64);
                tally.spans += args.batch as u64;
            }
            Err(status) => tally.error(format!("{:?}: {}", status.code(), status.message())),
        }
    }
    tally
}

/// Drive the server for `args.duration` and return a JSON report.
pub async fn loadgen_otlp(args: OtlpLoadArgs) -> Value {
    let run: u64 = rand::random();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut handles = Vec::new();
    for c in 0..args.clients {
        let seed = run ^ (c as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let (args, stop) = (args.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            match args.transport {
                Transport::Http => http_client(args, seed, stop).await,
                Transport::Grpc => grpc_client(args, seed, stop).await,
            }
        }));
    }
    tokio::time::sleep(args.duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    for h in handles {
        if let Ok(t) = h.await {
            total.lat_us.extend(t.lat_us);
            total.spans += t.spans;
            total.errors += t.errors;
            if total.first_error.is_none() {
                total.first_error = t.first_error;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    total.lat_us.sort_unstable();
    json!({
        "transport": match args.transport { Transport::Http => "http-protobuf", Transport::Grpc => "grpc" },
        "clients": args.clients,
        "batch_spans": args.batch,
        "seconds": (elapsed * 100.0).round() / 100.0,
        "accepted_spans": total.spans,
        "spans_per_sec": (total.spans as f64 / elapsed).round(),
        "requests": total.lat_us.len(),
        "errors": total.errors,
        "first_error": total.first_error,
        "export_ms_p50": percentile(&total.lat_us, 0.50),
        "export_ms_p99": percentile(&total.lat_us, 0.99),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::otlp::convert_request;

    #[test]
    fn export_request_has_batch_spans_that_convert_to_linked_events() {
        let mut rng = SmallRng::seed_from_u64(7);
        let now = SystemClock.now_ns();
        let req = export_request(&mut rng, 512, now);
        let spans: usize = req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        assert_eq!(spans, 512);
        let conv = convert_request(&req, now);
        assert_eq!(conv.events.len(), 512, "every span converts");
        assert!(conv.partial_success().is_none(), "{:?}", conv.rejects);
        let services: std::collections::BTreeSet<&str> =
            conv.events.iter().map(|e| e.service.as_str()).collect();
        assert_eq!(services.len(), 3);
    }
}
