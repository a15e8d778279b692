//! Whole-system benchmark drivers behind hidden CLI verbs (run by `scripts/bench.sh`):
//! - `waylog loadgen`: HTTP connections posting pre-encoded NDJSON batches of ~1 KiB events to
//!   a running server, closed loop (as fast as it answers) or open loop at a fixed offered
//!   rate with latency counted from each request's scheduled time (no coordinated omission);
//!   reports sustained events/s and ack latency percentiles up to p99.9;
//! - `waylog bench-query`: loads N events through the real storage engine in-process and times
//!   the GROUP BY query from the hot tier, then again from cold Parquet.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::traffic::TrafficGen;
use crate::clock::{Clock, SystemClock};
use crate::query::{QueryEngine, QueryOptions, run_user_sql};
use crate::storage::schema::{TableId, events_to_batch};
use crate::storage::{Storage, StorageConfig};

/// Hex digits of the per-event counter patched into each pre-encoded event id.
const ID_SLOT: usize = 16;

/// One pre-encoded NDJSON request body: the events of the benchmark traffic serialized once,
/// each `event_id` ending in a fixed-width slot that [`Body::stamp`] overwrites with a fresh
/// counter, so a request costs the generator a few bytes of patching, not a serialization.
struct Body {
    bytes: Vec<u8>,
    /// Byte offsets of the id slots, one per event.
    slots: Vec<usize>,
}

impl Body {
    /// `batch` events of seed `seed`, ids `<run>-<slot>`.
    fn new(run: u64, seed: u64, batch: usize) -> Body {
        let mut g = TrafficGen::new(seed);
        let now = SystemClock.now_ns();
        let mut events = g.events(batch, now - 120_000_000_000, 2_000_000);
        events.truncate(batch);
        let placeholder = "#".repeat(ID_SLOT);
        let mut bytes = Vec::with_capacity(batch * 1200);
        let mut slots = Vec::with_capacity(batch);
        for e in &mut events {
            e.event_id = format!("{run:016x}-{placeholder}");
            let line = serde_json::to_string(e).expect("events serialize");
            let at = line.find(&placeholder).expect("placeholder present");
            slots.push(bytes.len() + at);
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        Body { bytes, slots }
    }

    /// Give every event of the body a fresh id: `first`, `first + 1`, … in lower-case hex.
    fn stamp(&mut self, first: u64) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for (i, at) in self.slots.iter().enumerate() {
            let mut n = first + i as u64;
            for b in self.bytes[*at..*at + ID_SLOT].iter_mut().rev() {
                *b = DIGITS[(n & 0xf) as usize];
                n >>= 4;
            }
        }
    }
}

/// The `p` quantile (nearest rank on `len - 1`) of sorted microseconds, in milliseconds.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx] as f64 / 1000.0
}

#[derive(Debug, Clone)]
pub struct LoadgenArgs {
    pub url: String,
    pub key: Option<String>,
    /// Connections (one thread each).
    pub clients: usize,
    pub batch: usize,
    pub duration: Duration,
    /// Offered events/s over all connections, open loop (None = closed loop, as fast as the
    /// server answers).
    pub rate: Option<u64>,
}

/// What one connection measured.
#[derive(Default)]
struct ClientTally {
    lat_us: Vec<u64>,
    errors: u64,
    overloaded: u64,
    accepted: u64,
    /// Requests sent more than 1 ms after their scheduled time (all connections were busy).
    late: u64,
}

/// The shared schedule of an open-loop run: request `i` is due at `start + i * interval`
/// whichever connection sends it, and its latency counts from that instant, so a stalled
/// server's queueing shows in the figures instead of silently lowering the offered rate
/// (no coordinated omission). A closed-loop run has no interval.
struct Schedule {
    start: Instant,
    interval: Option<Duration>,
    next: AtomicU64,
    stop: AtomicBool,
}

impl Schedule {
    /// The next request's number and the instant its latency counts from (after sleeping
    /// until it is due).
    fn take(&self) -> (u64, Instant) {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(interval) = self.interval else {
            return (i, Instant::now());
        };
        let due = self.start + interval.mul_f64(i as f64);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        (i, due)
    }
}

/// One connection: send requests as the schedule hands them out until it stops.
fn run_client(args: &LoadgenArgs, run: u64, c: usize, schedule: &Schedule) -> ClientTally {
    // A few distinct bodies per connection, so the server sees varied traffic.
    let mut bodies: Vec<Body> = (0..4)
        .map(|k| Body::new(run, run ^ ((c * 4 + k) as u64 + 1), args.batch))
        .collect();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}/v1/events", args.url);
    let mut t = ClientTally::default();
    while !schedule.stop.load(Ordering::Relaxed) {
        let (i, due) = schedule.take();
        if schedule.stop.load(Ordering::Relaxed) {
            break;
        }
        let body = &mut bodies[(i % 4) as usize];
        body.stamp(i * args.batch as u64);
        if schedule.interval.is_some() && due.elapsed() > Duration::from_millis(1) {
            t.late += 1;
        }
        let mut req = agent
            .post(&url)
            .header("Content-Type", "application/x-ndjson");
        if let Some(k) = &args.key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let resp = req.send(&body.bytes[..]);
        let us = due.elapsed().as_micros() as u64;
        match resp {
            Ok(mut r) if r.status() == 200 => {
                t.lat_us.push(us);
                let v: Value = r.body_mut().read_json().unwrap_or(Value::Null);
                t.accepted += v["accepted"].as_u64().unwrap_or(0);
            }
            Ok(r) if r.status() == 503 => t.overloaded += 1,
            _ => t.errors += 1,
        }
    }
    t
}

/// Drive the server and return a JSON report. Latency percentiles are of acknowledged
/// requests, from the scheduled send time (open loop) or the actual one (closed loop).
pub fn loadgen(args: &LoadgenArgs) -> Value {
    let run: u64 = rand::random();
    let interval = args
        .rate
        .filter(|r| *r > 0)
        .map(|r| Duration::from_secs_f64(args.batch as f64 / r as f64));
    let schedule = Arc::new(Schedule {
        // Bodies are built before the clock starts.
        start: Instant::now() + Duration::from_millis(300),
        interval,
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let handles: Vec<_> = (0..args.clients)
        .map(|c| {
            let args = args.clone();
            let schedule = schedule.clone();
            std::thread::spawn(move || run_client(&args, run, c, &schedule))
        })
        .collect();
    let wait = schedule.start.saturating_duration_since(Instant::now());
    std::thread::sleep(wait + args.duration);
    schedule.stop.store(true, Ordering::Relaxed);
    let elapsed = schedule.start.elapsed().as_secs_f64();
    let mut total = ClientTally::default();
    for h in handles {
        if let Ok(t) = h.join() {
            total.lat_us.extend(t.lat_us);
            total.errors += t.errors;
            total.overloaded += t.overloaded;
            total.accepted += t.accepted;
            total.late += t.late;
        }
    }
    let lat = &mut total.lat_us;
    lat.sort_unstable();
    json!({
        "mode": if interval.is_some() { "open_loop" } else { "closed_loop" },
        "clients": args.clients,
        "batch_events": args.batch,
        "target_rate": args.rate,
        "seconds": (elapsed * 100.0).round() / 100.0,
        "accepted_events": total.accepted,
        "events_per_sec": (total.accepted as f64 / elapsed).round(),
        "requests": lat.len(),
        "late_requests": total.late,
        "errors": total.errors,
        "overloaded": total.overloaded,
        "ack_ms_p50": percentile(lat, 0.50),
        "ack_ms_p90": percentile(lat, 0.90),
        "ack_ms_p99": percentile(lat, 0.99),
        "ack_ms_p999": percentile(lat, 0.999),
        "ack_ms_max": percentile(lat, 1.0),
    })
}

/// Time the CPU stages of one ingest request of `batch` benchmark events, each alone on one
/// thread, `iterations` times (the ceilings of docs/perf.md): the exact path's JSON parse
/// into `Value`s and its validation, the typed fast path's decode and the whole `prepare` up
/// to the Arrow batch, Arrow conversion of owned events, IPC encoding, and the WAL group
/// commit of that record with and without `fdatasync` (in a directory under `dir`).
pub fn bench_ingest_stages(
    dir: &std::path::Path,
    batch: usize,
    iterations: usize,
) -> anyhow::Result<Value> {
    use crate::ingest::events::prepare;
    use crate::ingest::framing::{Framing, ndjson_lines, split_items};
    use crate::model::fast::decode_event;
    use crate::model::validate_item_owned;
    use crate::storage::encode_ipc;

    let now = SystemClock.now_ns();
    let mut events = TrafficGen::new(1).events(batch, now - 60_000_000_000, 1_000_000);
    events.truncate(batch);
    let body = super::traffic::ndjson(&events);
    let body = body.as_bytes();
    let per_event_us = |f: &mut dyn FnMut()| {
        f();
        let t = Instant::now();
        for _ in 0..iterations {
            f();
        }
        t.elapsed().as_secs_f64() * 1e6 / (iterations * batch) as f64
    };
    let mut report = serde_json::Map::new();
    let mut put = |name: &str, us: f64| {
        report.insert(
            name.to_owned(),
            json!({"us_per_event": (us * 1000.0).round() / 1000.0,
                   "events_per_core_sec": (1e6 / us).round()}),
        );
    };
    put(
        "exact_parse_only",
        per_event_us(&mut || drop(split_items(body, Framing::Ndjson))),
    );
    let parsed: Vec<Value> = split_items(body, Framing::Ndjson)
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("benchmark traffic must parse: {e:?}"))?;
    put(
        "exact_validate_only",
        per_event_us(&mut || {
            for v in parsed.clone() {
                drop(validate_item_owned(v, now));
            }
        }) - per_event_us(&mut || drop(parsed.clone())),
    );
    put(
        "fast_decode_only",
        per_event_us(&mut || {
            for line in ndjson_lines(body) {
                drop(decode_event(line, now));
            }
        }),
    );
    put(
        "prepare_fast_to_batch",
        per_event_us(&mut || drop(prepare(body, Framing::Ndjson, now, usize::MAX, false))),
    );
    put(
        "events_to_batch",
        per_event_us(&mut || drop(events_to_batch(&events))),
    );
    let batch_rows = events_to_batch(&events)?;
    put(
        "encode_ipc",
        per_event_us(&mut || drop(encode_ipc(&batch_rows))),
    );
    let payload = encode_ipc(&batch_rows)?;
    for sync in [false, true] {
        let wal_dir = dir.join(if sync { "wal-sync" } else { "wal-nosync" });
        std::fs::create_dir_all(&wal_dir)?;
        let mut wal = crate::wal::Wal::open(&wal_dir, 1, 64 << 20, sync)?;
        let mut failed = None;
        let us = per_event_us(&mut || {
            if let Err(e) = wal.append_group(now, &[(1, payload.as_slice())]) {
                failed = Some(e.to_string());
            }
        });
        if let Some(e) = failed {
            anyhow::bail!("wal append: {e}");
        }
        put(
            if sync {
                "wal_group_fsync"
            } else {
                "wal_group_nosync"
            },
            us,
        );
        drop(wal);
        std::fs::remove_dir_all(&wal_dir)?;
    }
    Ok(json!({"batch_events": batch, "iterations": iterations,
              "request_bytes": body.len(), "stages": report}))
}

/// Load `rows` events into a fresh data dir in-process and time `sql` from hot and cold.
pub async fn bench_query(
    dir: &std::path::Path,
    rows: usize,
    iterations: usize,
    sql: &str,
) -> anyhow::Result<Value> {
    // The declared defaults, but nothing flushes or is refused on its own and no fsync.
    let cfg = StorageConfig {
        wal_sync: false,
        wal_segment_bytes: 256 << 20,
        hot_window: Duration::from_secs(365 * 86400),
        hot_max_bytes: u64::MAX,
        ..StorageConfig::from(&crate::config::Config::for_data_dir(dir))
    };
    let (storage, _) = Storage::open(cfg, Arc::new(SystemClock)).await?;
    let now = SystemClock.now_ns();
    let load_start = Instant::now();
    let mut traffic = TrafficGen::new(42);
    let chunk = 50_000;
    let span_ns = 50 * 60 * 1_000_000_000i64;
    let spacing = (span_ns / (rows as i64 / 4).max(1)).max(1);
    let mut loaded = 0;
    let mut t = now - span_ns;
    while loaded < rows {
        let mut events = traffic.events(chunk.min(rows - loaded), t, spacing);
        events.truncate(chunk.min(rows - loaded));
        t += spacing * (events.len() as i64 / 4);
        let batch = events_to_batch(&events)?;
        storage.append(TableId::Events, batch).await?;
        loaded += events.len();
    }
    storage.compact_hot(TableId::Events).await?;
    let load_secs = load_start.elapsed().as_secs_f64();
    let engine = QueryEngine::new(storage.clone());
    let opts = QueryOptions {
        limit: 10_000,
        timeout: None,
        memory_bytes: 4 << 30,
    };
    let time = |label: &'static str| {
        let engine = engine.clone();
        let opts = opts.clone();
        async move {
            let mut ms = Vec::new();
            let mut rows_out = 0;
            for _ in 0..iterations {
                let t = Instant::now();
                let r = run_user_sql(&engine, sql, &opts)
                    .await
                    .map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
                ms.push(t.elapsed().as_micros() as u64);
                rows_out = r.row_count;
            }
            ms.sort_unstable();
            Ok::<_, anyhow::Error>(
                json!({"p50_ms": percentile(&ms, 0.5), "p99_ms": percentile(&ms, 0.99), "result_rows": rows_out}),
            )
        }
    };
    let hot = time("hot").await?;
    let flush_start = Instant::now();
    storage.flush(TableId::Events).await?;
    let flush_secs = flush_start.elapsed().as_secs_f64();
    let snap = storage.table(TableId::Events).snapshot();
    let parquet_bytes: u64 = snap.cold.iter().map(|f| f.size).sum();
    let cold = time("cold").await?;
    storage.close()?;
    Ok(json!({
        "rows": rows,
        "load_secs": tenths(load_secs),
        "hot": hot,
        "flush_secs": tenths(flush_secs),
        "cold_files": snap.cold.len(),
        "parquet_bytes": parquet_bytes,
        "parquet_bytes_per_event": (parquet_bytes as f64 / rows as f64 * 10.0).round() / 10.0,
        "cold": cold,
    }))
}

/// Load `rows` events (half flushed to cold Parquet, half hot) and time the read endpoints
/// through the real router in-process (no HTTP socket, so the figure is the server's work).
/// Open a bench data dir (no fsync, nothing flushed by age) and load `rows` generated events
/// spread over the `span_ns` before now: the first half flushed to cold Parquet, the rest hot
/// (compacted). Returns the storage and the load time in seconds.
async fn load_half_cold(
    config: &crate::config::Config,
    rows: usize,
    span_ns: i64,
    seed: u64,
) -> anyhow::Result<(Arc<Storage>, f64)> {
    let mut cfg = StorageConfig::from(config);
    cfg.wal_sync = false;
    cfg.wal_segment_bytes = 256 << 20;
    cfg.hot_window = Duration::from_secs(365 * 86400);
    cfg.hot_max_bytes = u64::MAX;
    let (storage, _) = Storage::open(cfg, Arc::new(SystemClock)).await?;
    let now = SystemClock.now_ns();
    let load_start = Instant::now();
    let mut traffic = TrafficGen::new(seed);
    let chunk = 50_000.min((rows / 2).max(1));
    let spacing = (span_ns / (rows as i64 / 4).max(1)).max(1);
    let mut loaded = 0;
    let mut t = now - span_ns;
    let mut flushed = false;
    while loaded < rows {
        let n = chunk.min(rows - loaded);
        let mut events = traffic.events(n, t, spacing);
        events.truncate(n);
        t += spacing * (events.len() as i64 / 4);
        storage
            .append(TableId::Events, events_to_batch(&events)?)
            .await?;
        loaded += events.len();
        if !flushed && loaded >= rows / 2 {
            storage.flush(TableId::Events).await?;
            flushed = true;
        }
    }
    storage.compact_hot(TableId::Events).await?;
    Ok((storage, load_start.elapsed().as_secs_f64()))
}

/// Spec triage §2.3 benchmark: `rows` events over the four detection windows (W = 10m, half
/// cold, half hot, ~50 families, ~2% failed), then `iterations` engine ticks in two states:
/// steady traffic (no family spikes) and with one family spiking in the current window (one
/// incident built per tick: E, blast, story, dimensions, signals, deployments).
pub async fn bench_tick(
    dir: &std::path::Path,
    rows: usize,
    iterations: usize,
) -> anyhow::Result<Value> {
    use crate::config::incident_settings::IncidentConfig;
    use crate::incidents::engine::IncidentEngine;
    let config = crate::config::Config::for_data_dir(dir);
    let window_ns = 600 * 1_000_000_000i64;
    let (storage, load_secs) = load_half_cold(&config, rows, 4 * window_ns, 11).await?;
    let query = QueryEngine::new(storage.clone());
    let memory = config.query_memory_bytes;
    // What `waylog serve`'s warmers (trace indexes; the incident engine's dimension
    // summaries) have done by the time the load is over.
    let warm = Instant::now();
    query.warm_trace_indexes().await?;
    let warm_secs = warm.elapsed().as_secs_f64();
    let summaries = Instant::now();
    // One engine throughout: steady ticks open nothing, so the spiking ticks start from the
    // same state a fresh engine has, with the summaries the warmer computed.
    let incidents = Arc::new(IncidentEngine::new(IncidentConfig::default()));
    let summarized = incidents
        .warm_summaries(&query, SystemClock.now_ns(), memory)
        .await?;
    let summary_secs = summaries.elapsed().as_secs_f64();
    let time_ticks = |engine: Arc<IncidentEngine>, storage: Arc<Storage>, query: QueryEngine| async move {
        let mut us = Vec::new();
        let mut first = Value::Null;
        let mut candidates = Vec::new();
        for i in 0..iterations {
            let now = SystemClock.now_ns();
            let t = Instant::now();
            let report = engine
                .tick(&storage, &query, memory, now)
                .await
                .map_err(|e| anyhow::anyhow!("{}", crate::storage::error_chain(&e)))?;
            let elapsed = t.elapsed().as_micros() as u64;
            if i == 0 {
                // The first tick also opens the incidents (later ticks refresh them).
                first = json!({"ms": elapsed as f64 / 1000.0, "candidates": report.candidates,
                               "opened": report.opened});
            }
            candidates.push(report.candidates);
            us.push(elapsed);
        }
        us.sort_unstable();
        anyhow::Ok(json!({
            "p50_ms": percentile(&us, 0.5),
            "p99_ms": percentile(&us, 0.99),
            "max_ms": percentile(&us, 1.0),
            "first_tick": first,
            "candidates_per_tick": candidates,
        }))
    };
    let steady = time_ticks(incidents.clone(), storage.clone(), query.clone()).await?;
    let spike = spike_events(SystemClock.now_ns())?;
    let spiked = spike.len();
    storage
        .append(TableId::Events, events_to_batch(&spike)?)
        .await?;
    let spiking = time_ticks(incidents, storage.clone(), query).await?;
    let triage = bench_triage(config.clone(), storage.clone(), iterations).await?;
    let snap = storage.table(TableId::Events).snapshot();
    storage.close()?;
    Ok(json!({
        "rows": rows,
        "hot_rows": snap.hot_rows(),
        "cold_rows": snap.cold_rows(),
        "load_secs": tenths(load_secs),
        "index_warm_secs": tenths(warm_secs),
        "summary_warm": {"sources": summarized, "secs": tenths(summary_secs)},
        "tick_steady": steady,
        "spike_events": spiked,
        "tick_one_family_spiking": spiking,
        "triage": triage,
    }))
}

/// One family spiking: up to 400 failures of the most frequent generated family in the 5
/// minutes before `now`, under a code the steady traffic never had (its baseline is 0, so the
/// incident engine takes it as a candidate).
fn spike_events(now: i64) -> anyhow::Result<Vec<crate::model::Event>> {
    let mut g = TrafficGen::new(99);
    g.failure_per_10k = 10_000;
    let pool = g.events(20_000, now - 300 * 1_000_000_000, 10_000_000);
    let key = |e: &crate::model::Event| {
        (
            e.service.clone(),
            e.anchor
                .as_ref()
                .map(|a| (a.step.clone(), a.error_code.clone())),
        )
    };
    let mut counts: std::collections::HashMap<_, usize> = std::collections::HashMap::new();
    for e in pool.iter().filter(|e| e.anchor.is_some()) {
        *counts.entry(key(e)).or_default() += 1;
    }
    let family = counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(k, _)| k)
        .ok_or_else(|| anyhow::anyhow!("no failing event generated"))?;
    Ok(pool
        .iter()
        .filter(|e| key(e) == family)
        .take(400)
        .cloned()
        .map(|mut e| {
            if let Some(a) = e.anchor.as_mut() {
                a.error_code = "BENCH_SPIKE_502".into();
            }
            e
        })
        .collect())
}

/// One benchmarked request: name, method, path and JSON body.
type BenchRequest = (String, &'static str, String, Option<String>);

/// `iterations` of each request through the router in-process: per name, the last status and
/// the p50 / p99 latency in ms.
async fn time_requests(
    app: &axum::Router,
    requests: Vec<BenchRequest>,
    iterations: usize,
) -> anyhow::Result<serde_json::Map<String, Value>> {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    let mut out = serde_json::Map::new();
    for (name, method, path, body) in requests {
        let mut us = Vec::new();
        let mut status = 0;
        for _ in 0..iterations {
            let req = Request::builder()
                .method(method)
                .uri(&path)
                .header("content-type", "application/json")
                .body(body.clone().map(Body::from).unwrap_or_else(Body::empty))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let t = Instant::now();
            let resp = app
                .clone()
                .oneshot(req)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            status = resp.status().as_u16();
            let _ = axum::body::to_bytes(resp.into_body(), usize::MAX).await;
            us.push(t.elapsed().as_micros() as u64);
        }
        us.sort_unstable();
        out.insert(
            name,
            json!({"status": status, "p50_ms": percentile(&us, 0.5), "p99_ms": percentile(&us, 0.99)}),
        );
    }
    Ok(out)
}

/// The real router over `storage`, with its query engine, as `waylog serve` would run them.
fn bench_app(config: crate::config::Config, storage: Arc<Storage>) -> (axum::Router, QueryEngine) {
    let state = crate::api::AppState::new(config, Arc::new(SystemClock));
    state.set_storage(storage);
    let engine = state.engine().expect("storage installed").clone();
    (crate::api::router(state), engine)
}

/// The first row of `sql` as strings (`None` when there is none).
async fn first_row(engine: &QueryEngine, sql: &str) -> anyhow::Result<Option<Vec<String>>> {
    let opts = QueryOptions {
        limit: 1,
        timeout: None,
        memory_bytes: 1 << 30,
    };
    let found = run_user_sql(engine, sql, &opts)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(batch) = found.batches.first().filter(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    let cell = |i: usize| {
        crate::query::output::cell_to_json(batch.column(i).as_ref(), 0)
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    Ok(Some((0..batch.num_columns()).map(cell).collect()))
}

/// TriageReport builds (spec triage §6) of the incident the spiking ticks opened, through the
/// real routes: live, snapshot, and the Markdown rendering.
async fn bench_triage(
    config: crate::config::Config,
    storage: Arc<Storage>,
    iterations: usize,
) -> anyhow::Result<Value> {
    let (app, engine) = bench_app(config, storage);
    let found = first_row(
        &engine,
        "SELECT incident_id FROM incidents ORDER BY started_at DESC LIMIT 1",
    )
    .await?;
    let Some(id) = found.and_then(|row| row.into_iter().next()) else {
        return Ok(json!({"skipped": "no incident was opened"}));
    };
    let get = |name: &str, path: String| (name.to_owned(), "GET", path, None);
    let requests = vec![
        get("triage_live", format!("/v1/triage/{id}")),
        get("triage_snapshot", format!("/v1/triage/{id}?snapshot=true")),
        get(
            "triage_report_markdown",
            format!("/v1/triage/{id}/report?format=markdown"),
        ),
    ];
    let mut out = time_requests(&app, requests, iterations).await?;
    out.insert("incident_id".into(), json!(id));
    Ok(Value::Object(out))
}

/// Add a spiking family to `storage` ([`spike_events`]) and run one incident-engine tick,
/// which opens its incident: the bench data has none otherwise. Returns the newest incident.
async fn open_bench_incident(
    storage: &Arc<Storage>,
    engine: &QueryEngine,
    memory: usize,
) -> anyhow::Result<Option<String>> {
    use crate::config::incident_settings::IncidentConfig;
    use crate::incidents::engine::IncidentEngine;
    let spike = spike_events(SystemClock.now_ns())?;
    storage
        .append(TableId::Events, events_to_batch(&spike)?)
        .await?;
    IncidentEngine::new(IncidentConfig::default())
        .tick(storage, engine, memory, SystemClock.now_ns())
        .await
        .map_err(|e| anyhow::anyhow!("{}", crate::storage::error_chain(&e)))?;
    let found = first_row(
        engine,
        "SELECT incident_id FROM incidents ORDER BY started_at DESC LIMIT 1",
    )
    .await?;
    Ok(found.and_then(|row| row.into_iter().next()))
}

/// Load `rows` events (half cold, half hot) plus one spiking family with its incident, then
/// time the read routes and the agent tools, `iterations` each (only the requests whose name
/// contains `only`, when given).
pub async fn bench_reads(
    dir: &std::path::Path,
    rows: usize,
    iterations: usize,
    only: Option<&str>,
) -> anyhow::Result<Value> {
    let config = crate::config::Config::for_data_dir(dir);
    let config_memory = config.query_memory_bytes;
    let (storage, load_secs) = load_half_cold(&config, rows, 50 * 60 * 1_000_000_000, 7).await?;
    let (app, engine) = bench_app(config, storage.clone());
    // What `waylog serve`'s index warmer has done by the time the load is over.
    let warm = Instant::now();
    engine.warm_trace_indexes().await?;
    let warm_secs = warm.elapsed().as_secs_f64();
    let pick = first_row(
        &engine,
        "SELECT trace_id, anchor_error_code FROM events WHERE status = 'error' AND anchor_kind IS NULL ORDER BY ts_start DESC LIMIT 1",
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("no failed event generated"))?;
    let (trace_id, code) = (pick[0].clone(), pick[1].clone());
    let paths = [
        ("errors_1h", "/v1/errors?window=1h".to_string()),
        (
            "rollup_root_cause_1h",
            "/v1/rollups/root_cause?window=1h".to_string(),
        ),
        (
            "story_by_trace_id",
            format!("/v1/traces/story?trace_id={trace_id}"),
        ),
        (
            "blast_radius_1h",
            format!("/v1/blast_radius?error_code={code}&window=1h"),
        ),
    ];
    let incident = open_bench_incident(&storage, &engine, config_memory).await?;
    // (name, method, path, JSON body): the read routes, then the agent tools of the issue's
    // latency targets (reads §6.3).
    let mut requests: Vec<(String, &str, String, Option<String>)> = paths
        .into_iter()
        .map(|(name, path)| (name.to_owned(), "GET", path, None))
        .collect();
    let tools = [
        (
            "tool_query_sql",
            "query_sql",
            json!({"sql": "SELECT service, count(*) AS n FROM events WHERE status = 'error' GROUP BY service ORDER BY n DESC"}),
        ),
        (
            "tool_graph_insights_1h",
            "graph_insights",
            json!({"window": "1h"}),
        ),
        (
            "tool_compare_windows_30m",
            "compare_windows",
            json!({"current": "30m", "baseline": "30m"}),
        ),
    ];
    for (name, tool, params) in tools {
        requests.push((
            name.into(),
            "POST",
            format!("/v1/tools/{tool}"),
            Some(params.to_string()),
        ));
    }
    if let Some(only) = only {
        requests.retain(|r| r.0.contains(only));
    }
    let mut out = serde_json::Map::new();
    match &incident {
        Some(id) => requests.push((
            "tool_triage_incident".into(),
            "POST",
            "/v1/tools/triage_incident".into(),
            Some(json!({"incident_id": id, "snapshot": true}).to_string()),
        )),
        None => {
            out.insert(
                "tool_triage_incident".into(),
                json!({"skipped": "the spike opened no incident"}),
            );
        }
    }
    out.extend(time_requests(&app, requests, iterations).await?);
    let snap = storage.table(TableId::Events).snapshot();
    storage.close()?;
    Ok(json!({
        "rows": rows,
        "hot_rows": snap.hot_rows(),
        "cold_rows": snap.cold_rows(),
        "load_secs": tenths(load_secs),
        "index_warm_secs": tenths(warm_secs),
        "reads": out,
    }))
}

/// `waylog bench-metrics`: N events (half cold, half hot) behind the real router, `labels`
/// extra distinct label values (synthetic `route` values of `waylog_http_requests_total` and
/// its latency histogram: waylog itself has no label fed by request data), then `iterations`
/// scrapes of `GET /metrics` in each format, timed end to end (gauge refresh from the
/// snapshots and `/proc/self`, encoding, body).
pub async fn bench_metrics(
    dir: &std::path::Path,
    rows: usize,
    iterations: usize,
    labels: usize,
) -> anyhow::Result<Value> {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    let config = crate::config::Config::for_data_dir(dir);
    let (storage, load_secs) = load_half_cold(&config, rows, 50 * 60 * 1_000_000_000, 7).await?;
    let state = crate::api::AppState::new(config, Arc::new(SystemClock));
    state.set_storage(storage.clone());
    let app = crate::api::router(state.clone());
    for i in 0..labels {
        crate::metrics::http_request(&format!("/bench/route-{i}"), 200, 0.002);
    }
    let mut out = serde_json::Map::new();
    for (name, accept) in [
        ("prometheus_text", "text/plain;version=0.0.4"),
        ("openmetrics", "application/openmetrics-text;version=1.0.0"),
    ] {
        let mut us = Vec::with_capacity(iterations);
        let (mut status, mut bytes, mut series) = (0, 0, 0);
        for _ in 0..iterations {
            let t = Instant::now();
            let resp = app
                .clone()
                .oneshot(
                    Request::get("/metrics")
                        .header("accept", accept)
                        .body(Body::empty())
                        .expect("request builds"),
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            status = resp.status().as_u16();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
            us.push(t.elapsed().as_micros() as u64);
            bytes = body.len();
            series = body
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty() && l[0] != b'#')
                .count();
        }
        us.sort_unstable();
        out.insert(
            name.to_string(),
            json!({"status": status, "bytes": bytes, "series": series,
                   "p50_ms": percentile(&us, 0.5), "p99_ms": percentile(&us, 0.99)}),
        );
    }
    let snap = storage.table(TableId::Events).snapshot();
    storage.close()?;
    Ok(json!({
        "rows": rows,
        "hot_rows": snap.hot_rows(),
        "cold_rows": snap.cold_rows(),
        "cold_files": snap.cold.len(),
        "extra_label_values": labels,
        "load_secs": tenths(load_secs),
        "scrapes": out,
    }))
}

/// Seconds rounded to tenths, as every benchmark figure of load and warm-up time is printed.
fn tenths(secs: f64) -> f64 {
    (secs * 10.0).round() / 10.0
}
