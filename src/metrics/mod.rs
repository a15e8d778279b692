//! The process-wide Prometheus registry (`GET /metrics`) and the small hooks the code sites
//! call (`metrics::signal_rejected(reason)`, `metrics::triage_report(format, ok)`, …).
//!
//! Built on `prometheus-client` (the Prometheus project's own Rust client: maintained, typed
//! metric families, a native OpenMetrics encoder and, since 0.26, the Prometheus text 0.0.4
//! encoder; no global macros, no background exporter thread).
//!
//! Invariants:
//! - One registry per process ([`get`]); every metric is registered once, at first use, with
//!   every documented label value pre-seeded at zero (spec triage §9), so a scraper sees a
//!   series before its first event.
//! - Label values come from closed sets (`&'static str` from enums and tables, or the bounded
//!   route patterns of the router): no label carries request data.
//! - Nothing here does I/O except [`process`] (reads `/proc/self` at scrape time); gauges of
//!   other layers' state are set by the edge just before encoding, from atomics and snapshots
//!   (no SQL per scrape).
//!
//! This is the lowest layer: it imports nothing of the crate, so every layer may call it.

pub mod process;

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// A label set: `(name, value)` pairs in a fixed order.
pub type Labels = Vec<(&'static str, String)>;
/// A float gauge.
pub type FGauge = Gauge<f64, AtomicU64>;
/// A counter family.
pub type Counters = Family<Labels, Counter>;
/// A float gauge family.
pub type Gauges = Family<Labels, FGauge>;
/// A histogram family whose histograms share fixed buckets.
pub type Histograms = Family<Labels, Histogram, Buckets>;

/// The `Content-Type` of the Prometheus text format 0.0.4.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The `Content-Type` of the OpenMetrics text format.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Spec triage §9: the tick latency buckets (seconds).
pub const TICK_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Fast disk operations (WAL append, fsync), seconds: 50 µs .. 2.5 s.
pub const DISK_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5,
];
/// Request and query latency, seconds: 1 ms .. 30 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Flushes (encode Parquet + put + Delta commit), seconds: 10 ms .. 2 min.
pub const FLUSH_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];
/// Records per WAL group commit (powers of 4).
pub const GROUP_BUCKETS: &[f64] = &[1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0];

/// Spec triage §9 `waylog_signals_rejected_total{reason}`.
pub const SIGNAL_REJECT_REASONS: &[&str] = &[
    "invalid_field",
    "unknown_type",
    "unknown_severity",
    "timestamp_too_far_in_future",
    "body_oversize",
    "invalid_body",
    "invalid_json",
    "unsupported_method",
    "overloaded",
    "internal_error",
];
/// Spec triage §9 `waylog_alerts_received_total{format}`.
pub const ALERT_FORMATS: &[&str] = &["waylog", "alertmanager", "grafana", "pagerduty"];
/// Spec triage §7.3: the alert route's error codes (`waylog_alerts_rejected_total{reason}`).
pub const ALERT_REJECT_REASONS: &[&str] = &[
    "METHOD_NOT_ALLOWED",
    "INVALID_JSON",
    "MISSING_FIELDS",
    "UNSUPPORTED_ALERT",
    "OVERLOADED",
    "INTERNAL",
];
/// Spec triage §9 `waylog_alerts_matched_total{strategy}`.
pub const MATCH_STRATEGIES: &[&str] = &["incident_id", "trace_id", "family", "none"];
/// Spec triage §3 causes and confidences (`waylog_incident_classifications_total`).
pub const CAUSES: &[&str] = &["deploy", "dependency", "runtime", "app", "unknown"];
/// See [`CAUSES`].
pub const CONFIDENCES: &[&str] = &["high", "medium", "low"];
/// Spec triage §9 `waylog_triage_reports_total{format, result}`.
pub const TRIAGE_FORMATS: &[&str] = &["json", "markdown", "slack", "pagerduty"];
/// The stored tables (`table` label of the storage gauges).
pub const TABLES: &[&str] = &[
    "events",
    "signals",
    "alerts",
    "deployment_versions",
    "incident_versions",
];
/// Ingest routes (`route` label of the ingest series).
pub const INGEST_ROUTES: &[&str] = &["events", "otlp_http", "otlp_grpc"];
/// Per-event ingest outcomes.
pub const INGEST_RESULTS: &[&str] = &["accepted", "duplicate", "rejected"];
/// OTLP transports.
pub const OTLP_TRANSPORTS: &[&str] = &["http", "grpc"];
/// Why an OTLP span was not stored: the §4.7 drop reasons, then validation and dedup.
pub const OTLP_DROP_REASONS: &[&str] = &[
    "missing_service",
    "missing_trace_id",
    "invalid_span",
    "unsupported_kind",
    "future_timestamp",
    "invalid_event",
    "duplicate",
];
/// Cold store operations (`waylog_object_store_errors_total{operation}`).
pub const STORE_OPERATIONS: &[&str] = &["put", "get", "delete", "list"];
/// Query admission caps (`waylog_query_rejections_total{cap}`).
pub const QUERY_CAPS: &[&str] = &[
    "concurrency",
    "rate_limit",
    "timeout",
    "memory",
    "response_bytes",
];
/// Read slot pools (`waylog_query_slots_in_use{pool}`).
pub const SLOT_POOLS: &[&str] = &["query", "read"];
/// The watched background jobs (`waylog_job_up{job}`, `/readyz`).
pub const JOBS: &[&str] = &["wal_writer", "flusher", "index_warmer", "incident_engine"];

/// The histogram constructor of a family: every histogram gets the same buckets.
#[derive(Debug, Clone)]
pub struct Buckets(&'static [f64]);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// One label set from `(name, value)` pairs.
pub fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

/// Every metric, typed. Field docs name the exported series.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    // --- spec triage §9 ---
    /// `waylog_signals_accepted_total`
    pub signals_accepted: Counter,
    /// `waylog_signal_retention_pruned_total`
    pub signal_retention_pruned: Counter,
    /// `waylog_signals_rejected_total{reason}`
    pub signals_rejected: Counters,
    /// `waylog_alerts_received_total{format}`
    pub alerts_received: Counters,
    /// `waylog_alerts_rejected_total{reason}`
    pub alerts_rejected: Counters,
    /// `waylog_alerts_matched_total{strategy}`
    pub alerts_matched: Counters,
    /// `waylog_incidents_opened_total`
    pub incidents_opened: Counter,
    /// `waylog_incidents_updated_total`
    pub incidents_updated: Counter,
    /// `waylog_incidents_recovered_total`
    pub incidents_recovered: Counter,
    /// `waylog_incidents_resolved_total`
    pub incidents_resolved: Counter,
    /// `waylog_incidents_active`
    pub incidents_active: FGauge,
    /// `waylog_incident_tick_latency_seconds`
    pub tick_latency: Histogram,
    /// `waylog_incident_tick_failures_total`
    pub tick_failures: Counter,
    /// `waylog_incident_classifications_total{cause, confidence}`
    pub classifications: Counters,
    /// `waylog_incident_ids_reissued_total`
    pub ids_reissued: Counter,
    /// `waylog_incident_retention_pruned_total`
    pub incident_retention_pruned: Counter,
    /// `waylog_triage_reports_total{format, result}`
    pub triage_reports: Counters,
    // --- HTTP edge ---
    /// `waylog_http_requests_total{route, status}`
    pub http_requests: Counters,
    /// `waylog_http_request_duration_seconds{route}`
    pub http_duration: Histograms,
    // --- ingest ---
    /// `waylog_ingest_events_total{route, result}`
    pub ingest_events: Counters,
    /// `waylog_ingest_bytes_total{route}`
    pub ingest_bytes: Counters,
    /// `waylog_ingest_decode_seconds{route}`
    pub ingest_decode: Histograms,
    /// `waylog_ingest_queued_bytes`
    pub ingest_queued_bytes: FGauge,
    /// `waylog_dedup_ids`
    pub dedup_ids: FGauge,
    /// `waylog_dedup_memory_bytes`
    pub dedup_memory_bytes: FGauge,
    /// `waylog_dedup_max_ids`
    pub dedup_max_ids: FGauge,
    /// `waylog_dedup_horizon_seconds`
    pub dedup_horizon: FGauge,
    /// `waylog_dedup_evictions_total`
    pub dedup_evictions: Counter,
    // --- durability ---
    /// `waylog_wal_append_seconds`
    pub wal_append: Histogram,
    /// `waylog_wal_fsync_seconds`
    pub wal_fsync: Histogram,
    /// `waylog_wal_group_records`
    pub wal_group_records: Histogram,
    /// `waylog_wal_segments`
    pub wal_segments: FGauge,
    /// `waylog_wal_bytes`
    pub wal_bytes: FGauge,
    /// `waylog_wal_poisoned`
    pub wal_poisoned: FGauge,
    /// `waylog_wal_disk_full`
    pub wal_disk_full: FGauge,
    // --- storage ---
    /// `waylog_storage_hot_rows{table}`
    pub hot_rows: Gauges,
    /// `waylog_storage_hot_bytes{table}`
    pub hot_bytes: Gauges,
    /// `waylog_storage_cold_files{table}`
    pub cold_files: Gauges,
    /// `waylog_storage_cold_bytes{table}`
    pub cold_bytes: Gauges,
    /// `waylog_storage_flush_duration_seconds`
    pub flush_duration: Histogram,
    /// `waylog_storage_flush_failures_total`
    pub flush_failures: Counter,
    /// `waylog_storage_flushed_rows_total{table}`
    pub flushed_rows: Counters,
    /// `waylog_storage_oldest_unflushed_age_seconds`
    pub oldest_unflushed_age: FGauge,
    /// `waylog_storage_flush_failing_seconds`
    pub flush_failing: FGauge,
    /// `waylog_storage_compaction_passes_total`
    pub compaction_passes: Counter,
    /// `waylog_storage_retention_passes_total`
    pub retention_passes: Counter,
    /// `waylog_storage_retention_removed_rows_total{table}`
    pub retention_removed: Counters,
    /// `waylog_object_store_errors_total{operation}`
    pub object_store_errors: Counters,
    // --- query ---
    /// `waylog_query_slots_in_use{pool}`
    pub slots_in_use: Gauges,
    /// `waylog_query_rejections_total{cap}`
    pub query_rejections: Counters,
    /// `waylog_query_memory_cap_hits_total`
    pub memory_cap_hits: Counter,
    // --- OTLP ---
    /// `waylog_otlp_spans_received_total{transport}`
    pub otlp_received: Counters,
    /// `waylog_otlp_spans_accepted_total{transport}`
    pub otlp_accepted: Counters,
    /// `waylog_otlp_spans_dropped_total{transport, reason}`
    pub otlp_dropped: Counters,
    // --- jobs and process ---
    /// `waylog_job_up{job}`
    pub job_up: Gauges,
    /// `waylog_incident_last_tick_age_seconds`
    pub last_tick_age: FGauge,
    /// `waylog_process_resident_memory_bytes`
    pub rss_bytes: FGauge,
    /// `waylog_process_open_fds`
    pub open_fds: FGauge,
    /// `waylog_process_uptime_seconds`
    pub uptime: FGauge,
    /// `waylog_build_info{version, commit}`
    pub build_info: Gauges,
}

/// Registration helpers: each registers one metric and returns its handle.
struct Builder {
    registry: Registry,
}

impl Builder {
    fn counter(&mut self, name: &str, help: &str) -> Counter {
        let c = Counter::default();
        self.registry.register(name, help, c.clone());
        c
    }

    fn gauge(&mut self, name: &str, help: &str) -> FGauge {
        let g = FGauge::default();
        self.registry.register(name, help, g.clone());
        g
    }

    fn histogram(&mut self, name: &str, help: &str, buckets: &'static [f64]) -> Histogram {
        let h = Histogram::new(buckets.iter().copied());
        self.registry.register(name, help, h.clone());
        h
    }

    /// A counter family with every combination of `dims` (`(label, values)`) pre-seeded.
    fn counters(&mut self, name: &str, help: &str, dims: &[(&'static str, &[&str])]) -> Counters {
        let f = Counters::default();
        seed(&f, dims);
        self.registry.register(name, help, f.clone());
        f
    }

    fn gauges(&mut self, name: &str, help: &str, dims: &[(&'static str, &[&str])]) -> Gauges {
        let f = Gauges::default();
        seed(&f, dims);
        self.registry.register(name, help, f.clone());
        f
    }

    fn histograms(
        &mut self,
        name: &str,
        help: &str,
        buckets: &'static [f64],
        dims: &[(&'static str, &[&str])],
    ) -> Histograms {
        let f = Histograms::new_with_constructor(Buckets(buckets));
        seed(&f, dims);
        self.registry.register(name, help, f.clone());
        f
    }
}

/// Create every label set of `dims` in `f` (at zero).
fn seed<M: Clone, C: MetricConstructor<M>>(
    f: &Family<Labels, M, C>,
    dims: &[(&'static str, &[&str])],
) {
    for set in combinations(dims) {
        drop(f.get_or_create(&set));
    }
}

/// Every label set of the cross product of `dims`, first dimension slowest.
pub fn combinations(dims: &[(&'static str, &[&str])]) -> Vec<Labels> {
    let mut sets: Vec<Labels> = vec![Vec::new()];
    for (name, values) in dims {
        sets = sets
            .into_iter()
            .flat_map(|set| {
                values.iter().map(move |v| {
                    let mut s = set.clone();
                    s.push((*name, (*v).to_string()));
                    s
                })
            })
            .collect();
    }
    sets.retain(|s| !s.is_empty());
    sets
}

/// The version and commit this binary was built from (`WAYLOG_COMMIT` at build time, set by
/// `build.rs` from git; `unknown` outside a checkout).
pub fn build_version() -> (&'static str, &'static str) {
    (
        env!("CARGO_PKG_VERSION"),
        option_env!("WAYLOG_COMMIT").unwrap_or("unknown"),
    )
}

impl Metrics {
    fn new() -> Metrics {
        let mut b = Builder {
            registry: Registry::default(),
        };
        let m = Metrics {
            signals_accepted: b.counter("waylog_signals_accepted", "POST /v1/signals successes"),
            signal_retention_pruned: b.counter(
                "waylog_signal_retention_pruned",
                "Signals deleted by retention",
            ),
            signals_rejected: b.counters(
                "waylog_signals_rejected",
                "Refused POST /v1/signals by reason",
                &[("reason", SIGNAL_REJECT_REASONS)],
            ),
            alerts_received: b.counters(
                "waylog_alerts_received",
                "Accepted alerts by payload format",
                &[("format", ALERT_FORMATS)],
            ),
            alerts_rejected: b.counters(
                "waylog_alerts_rejected",
                "Failed alert requests and rejected alerts by error code",
                &[("reason", ALERT_REJECT_REASONS)],
            ),
            alerts_matched: b.counters(
                "waylog_alerts_matched",
                "Accepted alerts by intake match strategy",
                &[("strategy", MATCH_STRATEGIES)],
            ),
            incidents_opened: b.counter("waylog_incidents_opened", "Incidents opened"),
            incidents_updated: b.counter("waylog_incidents_updated", "Incident versions updated"),
            incidents_recovered: b.counter(
                "waylog_incidents_recovered",
                "Incidents that became recovering",
            ),
            incidents_resolved: b.counter("waylog_incidents_resolved", "Incidents resolved"),
            incidents_active: b.gauge("waylog_incidents_active", "Active + recovering incidents"),
            tick_latency: b.histogram(
                "waylog_incident_tick_latency_seconds",
                "Incident engine tick duration",
                TICK_BUCKETS,
            ),
            tick_failures: b.counter("waylog_incident_tick_failures", "Abandoned incident ticks"),
            classifications: b.counters(
                "waylog_incident_classifications",
                "Incident builds by cause and confidence",
                &[("cause", CAUSES), ("confidence", CONFIDENCES)],
            ),
            ids_reissued: b.counter(
                "waylog_incident_ids_reissued",
                "Reopened incidents that needed a suffixed id",
            ),
            incident_retention_pruned: b.counter(
                "waylog_incident_retention_pruned",
                "Incidents deleted by retention",
            ),
            triage_reports: b.counters(
                "waylog_triage_reports",
                "Triage report requests by format and result",
                &[("format", TRIAGE_FORMATS), ("result", &["ok", "error"])],
            ),
            http_requests: b.counters(
                "waylog_http_requests",
                "HTTP requests by route pattern and status code",
                &[],
            ),
            http_duration: b.histograms(
                "waylog_http_request_duration_seconds",
                "HTTP request duration by route pattern (read routes and /v1/query included)",
                LATENCY_BUCKETS,
                &[],
            ),
            ingest_events: b.counters(
                "waylog_ingest_events",
                "Ingested items by route and outcome",
                &[("route", INGEST_ROUTES), ("result", INGEST_RESULTS)],
            ),
            ingest_bytes: b.counters(
                "waylog_ingest_bytes",
                "Request body bytes received by ingest route (after decompression)",
                &[("route", INGEST_ROUTES)],
            ),
            ingest_decode: b.histograms(
                "waylog_ingest_decode_seconds",
                "Decode + validate time per ingest request",
                LATENCY_BUCKETS,
                &[("route", INGEST_ROUTES)],
            ),
            ingest_queued_bytes: b.gauge(
                "waylog_ingest_queued_bytes",
                "Bytes of rows handed to the writer and not yet written",
            ),
            dedup_ids: b.gauge("waylog_dedup_ids", "Event ids held for deduplication"),
            dedup_memory_bytes: b.gauge(
                "waylog_dedup_memory_bytes",
                "Approximate memory of the dedup id set",
            ),
            dedup_max_ids: b.gauge(
                "waylog_dedup_max_ids",
                "Ids the dedup byte budget (WAYLOG_DEDUP_MAX_BYTES) holds",
            ),
            dedup_horizon: b.gauge(
                "waylog_dedup_horizon_seconds",
                "Age of the oldest id held for deduplication",
            ),
            dedup_evictions: b.counter(
                "waylog_dedup_evictions",
                "Ids forgotten inside the dedup window because the byte budget was full",
            ),
            wal_append: b.histogram(
                "waylog_wal_append_seconds",
                "WAL group write time (before fsync)",
                DISK_BUCKETS,
            ),
            wal_fsync: b.histogram(
                "waylog_wal_fsync_seconds",
                "WAL fdatasync time",
                DISK_BUCKETS,
            ),
            wal_group_records: b.histogram(
                "waylog_wal_group_records",
                "Records per WAL group commit",
                GROUP_BUCKETS,
            ),
            wal_segments: b.gauge("waylog_wal_segments", "WAL segment files on disk"),
            wal_bytes: b.gauge("waylog_wal_bytes", "WAL bytes on disk"),
            wal_poisoned: b.gauge(
                "waylog_wal_poisoned",
                "1 when a WAL write or fsync failed and writes are refused until restart",
            ),
            wal_disk_full: b.gauge(
                "waylog_wal_disk_full",
                "1 while the last WAL append failed on a full disk (writes answer disk_full)",
            ),
            hot_rows: b.gauges(
                "waylog_storage_hot_rows",
                "Rows in the in-memory hot tier",
                &[("table", TABLES)],
            ),
            hot_bytes: b.gauges(
                "waylog_storage_hot_bytes",
                "Bytes in the in-memory hot tier",
                &[("table", TABLES)],
            ),
            cold_files: b.gauges(
                "waylog_storage_cold_files",
                "Parquet files in the cold store",
                &[("table", TABLES)],
            ),
            cold_bytes: b.gauges(
                "waylog_storage_cold_bytes",
                "Parquet bytes in the cold store",
                &[("table", TABLES)],
            ),
            flush_duration: b.histogram(
                "waylog_storage_flush_duration_seconds",
                "Duration of one flush chunk (encode, put, Delta commit)",
                FLUSH_BUCKETS,
            ),
            flush_failures: b.counter("waylog_storage_flush_failures", "Failed flush attempts"),
            flushed_rows: b.counters(
                "waylog_storage_flushed_rows",
                "Rows moved from the hot tier to the cold store",
                &[("table", TABLES)],
            ),
            oldest_unflushed_age: b.gauge(
                "waylog_storage_oldest_unflushed_age_seconds",
                "Age of the oldest hot batch not yet flushed (0 when none)",
            ),
            flush_failing: b.gauge(
                "waylog_storage_flush_failing_seconds",
                "How long flushes have been failing without a success (0 when healthy)",
            ),
            compaction_passes: b.counter(
                "waylog_storage_compaction_passes",
                "Hot-tier compaction passes",
            ),
            retention_passes: b.counter(
                "waylog_storage_retention_passes",
                "Retention passes over all tables",
            ),
            retention_removed: b.counters(
                "waylog_storage_retention_removed_rows",
                "Rows removed by retention",
                &[("table", TABLES)],
            ),
            object_store_errors: b.counters(
                "waylog_object_store_errors",
                "Cold store request errors by operation",
                &[("operation", STORE_OPERATIONS)],
            ),
            slots_in_use: b.gauges(
                "waylog_query_slots_in_use",
                "Query (/v1/query) and read-API slots in use",
                &[("pool", SLOT_POOLS)],
            ),
            query_rejections: b.counters(
                "waylog_query_rejections",
                "Queries refused or stopped by a cap",
                &[("cap", QUERY_CAPS)],
            ),
            memory_cap_hits: b.counter(
                "waylog_query_memory_cap_hits",
                "Queries that hit the query memory pool cap",
            ),
            otlp_received: b.counters(
                "waylog_otlp_spans_received",
                "OTLP spans received",
                &[("transport", OTLP_TRANSPORTS)],
            ),
            otlp_accepted: b.counters(
                "waylog_otlp_spans_accepted",
                "OTLP spans stored as events",
                &[("transport", OTLP_TRANSPORTS)],
            ),
            otlp_dropped: b.counters(
                "waylog_otlp_spans_dropped",
                "OTLP spans not stored, by reason",
                &[
                    ("transport", OTLP_TRANSPORTS),
                    ("reason", OTLP_DROP_REASONS),
                ],
            ),
            job_up: b.gauges(
                "waylog_job_up",
                "1 when the background job is healthy (see /readyz)",
                &[("job", JOBS)],
            ),
            last_tick_age: b.gauge(
                "waylog_incident_last_tick_age_seconds",
                "Seconds since the incident engine's last successful tick",
            ),
            rss_bytes: b.gauge(
                "waylog_process_resident_memory_bytes",
                "Resident set size (/proc/self/status VmRSS)",
            ),
            open_fds: b.gauge("waylog_process_open_fds", "Open file descriptors"),
            uptime: b.gauge(
                "waylog_process_uptime_seconds",
                "Seconds since the process started",
            ),
            build_info: b.gauges(
                "waylog_build_info",
                "Build version and commit (value 1)",
                &[],
            ),
            registry: b.registry,
        };
        let (version, commit) = build_version();
        set(
            &m.build_info,
            &[("version", version), ("commit", commit)],
            1.0,
        );
        m
    }

    /// The registry (for encoding).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process-wide metrics.
pub fn get() -> &'static Metrics {
    &METRICS
}

/// Encoding failed (a formatter error; does not happen with a `String` sink).
#[derive(Debug, thiserror::Error)]
#[error("metrics encoding failed")]
pub struct EncodeError;

/// The registry in the Prometheus text format 0.0.4.
pub fn encode_prometheus() -> Result<String, EncodeError> {
    let mut out = String::with_capacity(32 << 10);
    prometheus_text::encode(&mut out, get().registry()).map_err(|_| EncodeError)?;
    Ok(out)
}

/// The registry in the OpenMetrics text format (ends with `# EOF`).
pub fn encode_openmetrics() -> Result<String, EncodeError> {
    let mut out = String::with_capacity(32 << 10);
    text::encode(&mut out, get().registry()).map_err(|_| EncodeError)?;
    Ok(out)
}

// ------------------------------------------------------------------------------------------
// Hooks: what the code sites call.

fn inc(f: &Counters, pairs: &[(&'static str, &str)]) {
    f.get_or_create(&labels(pairs)).inc();
}

fn inc_by(f: &Counters, pairs: &[(&'static str, &str)], n: u64) {
    if n > 0 {
        f.get_or_create(&labels(pairs)).inc_by(n);
    }
}

/// `POST /v1/signals` stored a signal.
pub fn signal_accepted() {
    get().signals_accepted.inc();
}

/// `POST /v1/signals` was refused with `reason` (its error code).
pub fn signal_rejected(reason: &str) {
    inc(&get().signals_rejected, &[("reason", reason)]);
}

/// Retention deleted `n` signals.
pub fn signals_pruned(n: u64) {
    get().signal_retention_pruned.inc_by(n);
}

/// One alert of `format` was accepted, matched by `strategy`.
pub fn alert_received(format: &str, strategy: &str) {
    let m = get();
    inc(&m.alerts_received, &[("format", format)]);
    inc(&m.alerts_matched, &[("strategy", strategy)]);
}

/// A failed alert request, or one rejected alert, with its error code.
pub fn alert_rejected(reason: &str) {
    inc(&get().alerts_rejected, &[("reason", reason)]);
}

/// An incident lifecycle transition written by a tick (spec triage §2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Opened,
    Updated,
    Recovered,
    Resolved,
}

/// A tick wrote an incident version of `kind`.
pub fn incident_written(kind: Transition) {
    let m = get();
    match kind {
        Transition::Opened => &m.incidents_opened,
        Transition::Updated => &m.incidents_updated,
        Transition::Recovered => &m.incidents_recovered,
        Transition::Resolved => &m.incidents_resolved,
    }
    .inc();
}

/// One tick ended after `seconds`; `ok` false when it was abandoned.
pub fn incident_tick(seconds: f64, ok: bool) {
    let m = get();
    m.tick_latency.observe(seconds);
    if !ok {
        m.tick_failures.inc();
    }
}

/// One incident build classified as `cause` with `confidence`.
pub fn incident_classified(cause: &str, confidence: &str) {
    inc(
        &get().classifications,
        &[("cause", cause), ("confidence", confidence)],
    );
}

/// A reopened incident needed a suffixed id.
pub fn incident_id_reissued() {
    get().ids_reissued.inc();
}

/// Retention deleted `n` incidents.
pub fn incidents_pruned(n: u64) {
    get().incident_retention_pruned.inc_by(n);
}

/// The number of active + recovering incidents.
pub fn set_incidents_active(n: usize) {
    get().incidents_active.set(n as f64);
}

/// One triage report request ended; `format` ∈ [`TRIAGE_FORMATS`].
pub fn triage_report(format: &str, ok: bool) {
    let result = if ok { "ok" } else { "error" };
    inc(
        &get().triage_reports,
        &[("format", format), ("result", result)],
    );
}

/// One HTTP request on the route pattern `route` ended with `status` after `seconds`.
pub fn http_request(route: &str, status: u16, seconds: f64) {
    let m = get();
    let status = status.to_string();
    inc(&m.http_requests, &[("route", route), ("status", &status)]);
    m.http_duration
        .get_or_create(&labels(&[("route", route)]))
        .observe(seconds);
}

/// Items of one ingest request on `route`: accepted, duplicate and rejected counts.
pub fn ingest_items(route: &str, accepted: u64, duplicate: u64, rejected: u64) {
    let m = &get().ingest_events;
    inc_by(m, &[("route", route), ("result", "accepted")], accepted);
    inc_by(m, &[("route", route), ("result", "duplicate")], duplicate);
    inc_by(m, &[("route", route), ("result", "rejected")], rejected);
}

/// `bytes` of request body received on `route`, decoded and validated in `seconds`.
pub fn ingest_body(route: &str, bytes: u64, seconds: f64) {
    let m = get();
    inc_by(&m.ingest_bytes, &[("route", route)], bytes);
    m.ingest_decode
        .get_or_create(&labels(&[("route", route)]))
        .observe(seconds);
}

/// One OTLP export on `transport`: spans received, stored, and dropped by reason.
pub fn otlp_export(transport: &str, received: u64, accepted: u64, dropped: &[(&str, u64)]) {
    let m = get();
    inc_by(&m.otlp_received, &[("transport", transport)], received);
    inc_by(&m.otlp_accepted, &[("transport", transport)], accepted);
    for (reason, n) in dropped {
        inc_by(
            &m.otlp_dropped,
            &[("transport", transport), ("reason", reason)],
            *n,
        );
    }
}

/// One WAL group commit: `records` records written in `append_s`, synced in `fsync_s`
/// (`None` when the operator chose relaxed sync).
pub fn wal_group(records: usize, append_s: f64, fsync_s: Option<f64>) {
    let m = get();
    m.wal_group_records.observe(records as f64);
    m.wal_append.observe(append_s);
    if let Some(s) = fsync_s {
        m.wal_fsync.observe(s);
    }
}

/// One flush chunk of `table` moved `rows` rows in `seconds`.
pub fn flushed(table: &str, rows: u64, seconds: f64) {
    let m = get();
    m.flush_duration.observe(seconds);
    inc_by(&m.flushed_rows, &[("table", table)], rows);
}

/// A flush attempt failed.
pub fn flush_failed() {
    get().flush_failures.inc();
}

/// A hot-tier compaction pass ran.
/// The dedup id set after a write group: ids held, their memory, the budget in ids, and
/// `evicted` more ids forgotten early because the budget was full.
pub fn dedup(ids: usize, memory_bytes: usize, max_ids: usize, evicted: u64) {
    let m = get();
    m.dedup_ids.set(ids as f64);
    m.dedup_memory_bytes.set(memory_bytes as f64);
    m.dedup_max_ids.set(max_ids as f64);
    m.dedup_evictions.inc_by(evicted);
}

pub fn compaction_pass() {
    get().compaction_passes.inc();
}

/// A retention pass over all tables ran.
pub fn retention_pass() {
    get().retention_passes.inc();
}

/// Retention removed `rows` rows of `table`.
pub fn retention_removed(table: &str, rows: u64) {
    inc_by(&get().retention_removed, &[("table", table)], rows);
}

/// A cold store request of `operation` ∈ [`STORE_OPERATIONS`] failed.
pub fn object_store_error(operation: &str) {
    inc(&get().object_store_errors, &[("operation", operation)]);
}

/// A query was refused or stopped by `cap` ∈ [`QUERY_CAPS`].
pub fn query_rejected(cap: &str) {
    inc(&get().query_rejections, &[("cap", cap)]);
}

/// A query hit the memory pool cap.
pub fn query_memory_cap_hit() {
    get().memory_cap_hits.inc();
}

/// Set a gauge of a family to `v`.
pub fn set(f: &Gauges, pairs: &[(&'static str, &str)], v: f64) {
    f.get_or_create(&labels(pairs)).set(v);
}

#[cfg(test)]
mod tests;
