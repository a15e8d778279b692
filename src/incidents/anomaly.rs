//! Traffic and latency anomaly incidents (spec triage §2.11): the per-service statistics of
//! `sql/incident_service_stats.sql`, the two detectors with their sustained-tick counters, and
//! the build of an anomaly incident (no events: classified from S, D, A, R alone).
//!
//! Invariants:
//! - The counters are plain values: [`Counters::step`] returns the next counters instead of
//!   mutating, so the tick can keep the old ones when it is abandoned. A key missing from the
//!   next counters is a reset (normal tick, skipped service, direction flip, service gone).
//! - [`service_stats_in_memory`] is the SQL's contract in Rust (the SQL is checked against it
//!   in `sql_tests`), so a change to one must be mirrored in the other.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, RecordBatch};

use super::build::{
    AttachedAlert, Built, apply_classification, classify_with_checks, record_context, sort_runtime,
};
use super::classify::{ClassifyInput, ServiceFacts};
use super::detect::{mark_seen, median3, severity, window_bounds, window_index};
use super::identity::open_incident_id;
use super::inputs::{Deployment, Signal};
use super::model::{ErrorFamily, Evidence, EvidenceKind, Fields, Incident};
use crate::query::rows::{Columns, RowError};
use crate::query::sql::{Param, ReadQuery};

/// The SQL this module's contract describes.
pub const STATS_QUERY: ReadQuery = ReadQuery::IncidentServiceStats;

/// The `step` of traffic anomaly families.
pub const TRAFFIC_STEP: &str = "<traffic>";
/// The `step` of latency anomaly families.
pub const LATENCY_STEP: &str = "<latency>";

pub use crate::config::incident_settings::{LatencySettings, TrafficSettings};

/// One row of the statistics query: a service seen in `[now − 4W, now]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceStats {
    pub service: String,
    /// Event counts of C, B0, B1, B2 (every status).
    pub counts: [i64; 4],
    /// The nearest-rank pP of `duration_ms` per window, `None` when it has no events.
    pub px: [Option<i64>; 4],
    /// The service's events in C, standing in for E in the warnings (§3.1).
    pub facts: ServiceFacts,
    /// Env of the service's newest event in `[now − 4W, now]`.
    pub env: String,
}

/// `$1..$6` of `sql/incident_service_stats.sql`.
pub fn stats_params(now: i64, window_ns: i64, percentile: i64) -> Vec<Param> {
    let mut params: Vec<Param> = window_bounds(now, window_ns)
        .into_iter()
        .map(Param::Timestamp)
        .collect();
    params.push(Param::Int64(percentile.clamp(1, 100)));
    params
}

/// Decode one result batch of the statistics query (columns by name, in row order).
pub fn stats_rows(batch: &RecordBatch) -> Result<Vec<ServiceStats>, RowError> {
    let c = Columns::new(batch);
    let (service, env) = (c.strings("service")?, c.strings("env")?);
    let counts = [
        c.ints("current_count")?,
        c.ints("b0")?,
        c.ints("b1")?,
        c.ints("b2")?,
    ];
    let px = [
        c.ints("current_px")?,
        c.ints("b0_px")?,
        c.ints("b1_px")?,
        c.ints("b2_px")?,
    ];
    let (any_version, any_partial) = (c.ints("any_version")?, c.ints("any_partial")?);
    let int =
        |a: &datafusion::arrow::array::Int64Array, i: usize| a.is_valid(i).then(|| a.value(i));
    Ok((0..batch.num_rows())
        .map(|i| ServiceStats {
            service: service.value(i).to_owned(),
            counts: counts.each_ref().map(|a| int(a, i).unwrap_or(0)),
            px: px.each_ref().map(|a| int(a, i)),
            facts: ServiceFacts {
                any_version: int(&any_version, i).unwrap_or(0) > 0,
                any_partial: int(&any_partial, i).unwrap_or(0) > 0,
            },
            env: if env.is_valid(i) {
                env.value(i).to_owned()
            } else {
                String::new()
            },
        })
        .collect())
}

/// The nearest-rank P-th percentile of `sorted` (ascending): the value at 1-based rank
/// `ceil(P × n / 100)` clamped to `[1, n]`; `None` when empty. P is clamped to 1..=100.
pub fn nearest_rank(sorted: &[i64], percentile: i64) -> Option<i64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let p = usize::try_from(percentile.clamp(1, 100)).expect("clamped to 1..=100");
    let rank = p.saturating_mul(n).div_ceil(100).clamp(1, n);
    Some(sorted[rank - 1])
}

/// One event as the statistics read it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatEvent {
    pub event_id: String,
    pub service: String,
    pub env: String,
    /// `""` when the event has no version.
    pub version: String,
    pub status: String,
    pub duration_ms: i64,
    pub ts_start_ns: i64,
}

/// The statistics query evaluated in memory, in its order (service, byte order).
pub fn service_stats_in_memory(
    events: &[StatEvent],
    now: i64,
    window_ns: i64,
    percentile: i64,
) -> Vec<ServiceStats> {
    #[derive(Default)]
    struct Acc<'a> {
        durations: [Vec<i64>; 4],
        facts: ServiceFacts,
        newest: Option<&'a StatEvent>,
    }
    let mut by_service: BTreeMap<&str, Acc<'_>> = BTreeMap::new();
    for e in events {
        let Some(w) = window_index(e.ts_start_ns, now, window_ns) else {
            continue;
        };
        let acc = by_service.entry(e.service.as_str()).or_default();
        acc.durations[w].push(e.duration_ms);
        if w == 0 {
            acc.facts.any_version |= !e.version.is_empty();
            acc.facts.any_partial |= e.status == "partial";
        }
        let newer = acc.newest.is_none_or(|n| {
            (e.ts_start_ns, std::cmp::Reverse(&e.event_id))
                > (n.ts_start_ns, std::cmp::Reverse(&n.event_id))
        });
        if newer {
            acc.newest = Some(e);
        }
    }
    by_service
        .into_iter()
        .map(|(service, mut acc)| {
            for d in &mut acc.durations {
                d.sort_unstable();
            }
            ServiceStats {
                service: service.to_owned(),
                counts: acc.durations.each_ref().map(|d| d.len() as i64),
                px: acc
                    .durations
                    .each_ref()
                    .map(|d| nearest_rank(d, percentile)),
                facts: acc.facts,
                env: acc.newest.map(|e| e.env.clone()).unwrap_or_default(),
            }
        })
        .collect()
}

/// Which way the request volume moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Drop,
    Surge,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Drop => "drop",
            Direction::Surge => "surge",
        }
    }
}

/// The traffic rule's reading of one service at one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficVerdict {
    /// The median baseline is below MIN_VOLUME.
    Skip,
    Normal,
    Anomalous(Direction),
}

/// The traffic rule (§2.11) on the counts of C, B0, B1, B2; also returns the median baseline.
pub fn traffic_verdict(counts: [i64; 4], s: &TrafficSettings) -> (TrafficVerdict, i64) {
    let [current, b0, b1, b2] = counts;
    let baseline = median3(b0, b1, b2);
    if baseline < s.min_volume {
        return (TrafficVerdict::Skip, baseline);
    }
    let (cur, base) = (current as f64, baseline as f64);
    let verdict = if cur <= s.drop_factor * base {
        TrafficVerdict::Anomalous(Direction::Drop)
    } else if s.surge_factor > 0.0 && cur >= s.surge_factor * base {
        TrafficVerdict::Anomalous(Direction::Surge)
    } else {
        TrafficVerdict::Normal
    };
    (verdict, baseline)
}

/// The latency rule (§2.11): `Some((cur, base))` when the service is eligible and anomalous.
/// Eligible: C and at least two baselines each have ≥ MIN_REQUESTS events; `base` is the lower
/// median of the qualifying baselines' pP (ascending, 0-based position `(k − 1) div 2`).
pub fn latency_anomaly(stats: &ServiceStats, s: &LatencySettings) -> Option<(i64, i64)> {
    let enough = |w: usize| stats.counts[w] >= s.min_requests;
    if !enough(0) {
        return None;
    }
    let cur = stats.px[0]?;
    let mut qualifying: Vec<i64> = (1..4)
        .filter(|&w| enough(w))
        .filter_map(|w| stats.px[w])
        .collect();
    if qualifying.len() < 2 {
        return None;
    }
    qualifying.sort_unstable();
    let base = qualifying[(qualifying.len() - 1) / 2];
    let (c, b) = (cur as f64, base as f64);
    let spiked = base > 0 && c >= s.factor * b && (s.min_ms <= 0.0 || c >= s.min_ms);
    spiked.then_some((cur, base))
}

/// The three anomaly families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnomalyKind {
    TrafficDrop,
    TrafficSurge,
    LatencySpike,
}

impl AnomalyKind {
    /// `(step, error_code)` of the family.
    pub fn step_and_code(self) -> (&'static str, &'static str) {
        match self {
            AnomalyKind::TrafficDrop => (TRAFFIC_STEP, "TRAFFIC_DROP"),
            AnomalyKind::TrafficSurge => (TRAFFIC_STEP, "TRAFFIC_SURGE"),
            AnomalyKind::LatencySpike => (LATENCY_STEP, "LATENCY_SPIKE"),
        }
    }

    /// The counter key suffix: `<service>|<suffix>`.
    pub fn key_suffix(self) -> &'static str {
        match self {
            AnomalyKind::TrafficDrop => "drop",
            AnomalyKind::TrafficSurge => "surge",
            AnomalyKind::LatencySpike => "latency",
        }
    }

    fn of(direction: Direction) -> AnomalyKind {
        match direction {
            Direction::Drop => AnomalyKind::TrafficDrop,
            Direction::Surge => AnomalyKind::TrafficSurge,
        }
    }
}

/// A sustained anomaly of one service: what its incident is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub service: String,
    /// Env of the service's newest event (used when opening).
    pub env: String,
    pub facts: ServiceFacts,
    /// Traffic: request counts; latency: pP in ms.
    pub current_count: i64,
    pub baseline_count: i64,
    pub lift: f64,
    /// P (latency only; the lead evidence names it).
    pub percentile: i64,
}

impl Anomaly {
    pub fn family(&self) -> ErrorFamily {
        let (step, code) = self.kind.step_and_code();
        ErrorFamily::new(&self.service, step, code)
    }

    /// The lead evidence row (§2.11), placed before the classifier's rows and outside the cap.
    pub fn lead_evidence(&self, started_at: i64) -> Evidence {
        let (kind, title, fields) = match self.kind {
            AnomalyKind::TrafficDrop | AnomalyKind::TrafficSurge => {
                let (title, direction) = if self.kind == AnomalyKind::TrafficDrop {
                    ("Request volume dropped", Direction::Drop)
                } else {
                    ("Request volume surged", Direction::Surge)
                };
                let fields = Fields::new()
                    .with("direction", direction.as_str())
                    .with("current", self.current_count)
                    .with("baseline", self.baseline_count);
                (EvidenceKind::Traffic, title, fields)
            }
            AnomalyKind::LatencySpike => {
                let fields = Fields::new()
                    .with("percentile", self.percentile)
                    .with("current_ms", self.current_count)
                    .with("baseline_ms", self.baseline_count);
                (EvidenceKind::Latency, "Tail latency spiked", fields)
            }
        };
        let mut e = Evidence::new(kind, title, started_at);
        e.detail = self.service.clone();
        e.service = self.service.clone();
        e.fields = fields;
        e
    }
}

fn traffic_anomaly(stats: &ServiceStats, direction: Direction, baseline: i64) -> Anomaly {
    let current = stats.counts[0];
    let lift = match direction {
        Direction::Drop => baseline as f64 / current.max(1) as f64,
        Direction::Surge => current as f64 / baseline.max(1) as f64,
    };
    Anomaly {
        kind: AnomalyKind::of(direction),
        service: stats.service.clone(),
        env: stats.env.clone(),
        facts: stats.facts,
        current_count: current,
        baseline_count: baseline,
        lift,
        percentile: 0,
    }
}

/// The consecutive anomalous ticks per key (`<service>|drop`, `<service>|surge`,
/// `<service>|latency`). In memory only: a restart starts from zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters(BTreeMap<String, u32>);

impl Counters {
    /// The count of `key` (0 when absent).
    pub fn get(&self, key: &str) -> u32 {
        self.0.get(key).copied().unwrap_or(0)
    }

    /// One tick of both detectors over `stats` (services in byte order): the next counters
    /// and the anomalies produced (counter ≥ sustained ticks), per service traffic before
    /// latency. A disabled detector keeps no counters.
    pub fn step(
        &self,
        stats: &[ServiceStats],
        traffic: &TrafficSettings,
        latency: &LatencySettings,
    ) -> (Counters, Vec<Anomaly>) {
        let mut next = Counters::default();
        let mut out = Vec::new();
        let mut bump = |service: &str, kind: AnomalyKind| -> u32 {
            let key = format!("{service}|{}", kind.key_suffix());
            let n = self.get(&key).saturating_add(1);
            next.0.insert(key, n);
            n
        };
        let mut sorted: Vec<&ServiceStats> = stats.iter().collect();
        sorted.sort_by(|a, b| a.service.cmp(&b.service));
        for s in sorted {
            if traffic.enabled
                && let (TrafficVerdict::Anomalous(direction), baseline) =
                    traffic_verdict(s.counts, traffic)
                && bump(&s.service, AnomalyKind::of(direction)) >= traffic.sustained_ticks
            {
                out.push(traffic_anomaly(s, direction, baseline));
            }
            if latency.enabled
                && let Some((cur, base)) = latency_anomaly(s, latency)
                && bump(&s.service, AnomalyKind::LatencySpike) >= latency.sustained_ticks
            {
                out.push(Anomaly {
                    kind: AnomalyKind::LatencySpike,
                    service: s.service.clone(),
                    env: s.env.clone(),
                    facts: s.facts,
                    current_count: cur,
                    baseline_count: base,
                    lift: cur as f64 / base.max(1) as f64,
                    percentile: latency.percentile,
                });
            }
        }
        (next, out)
    }
}

/// Everything one anomaly build reads (§2.11 "Build"): the anomaly, the cached incident of
/// its family, and S, D, A, R read as for an error incident (§2.5 step 5).
#[derive(Debug, Clone, Copy)]
pub struct AnomalyBuildInput<'a> {
    pub anomaly: &'a Anomaly,
    pub existing: Option<&'a Incident>,
    pub signals: &'a [Signal],
    pub deployments: &'a [Deployment],
    /// A, newest first.
    pub alerts: &'a [AttachedAlert],
    /// R (sorted here into the §2.9 order).
    pub runtime: &'a [Signal],
    pub now: i64,
}

/// `started_at`, `env` and the id of the anomaly's incident: the existing one's, else now, the
/// env of the service's newest event and §2.2. The flag is the §2.2 reissue.
pub fn anomaly_identity(
    anomaly: &Anomaly,
    existing: Option<&Incident>,
    now: i64,
    id_exists: impl FnMut(&str) -> bool,
) -> (String, String, i64, bool) {
    match existing {
        Some(e) => (e.incident_id.clone(), e.env.clone(), e.started_at, false),
        None => {
            let (id, reissued) = open_incident_id(&anomaly.env, &anomaly.family(), now, id_exists);
            (id, anomaly.env.clone(), now, reissued)
        }
    }
}

/// Build or refresh an anomaly incident (§2.11 "Build"): no blast, propagation, sample traces
/// or suspect dimensions; alerts and runtime snapshots as §2.9; classified without events;
/// `evidence` = the lead row + the normalized classifier rows.
pub fn build_anomaly_incident(
    input: &AnomalyBuildInput<'_>,
    id_exists: impl FnMut(&str) -> bool,
) -> Built {
    let (a, existing, now) = (input.anomaly, input.existing, input.now);
    let (incident_id, env, started_at, reissued) = anomaly_identity(a, existing, now, id_exists);
    let mut inc = Incident::skeleton(incident_id, env, a.family(), started_at, now);
    mark_seen(&mut inc, now);
    inc.current_count = a.current_count;
    inc.baseline_count = a.baseline_count;
    inc.lift = a.lift;
    inc.severity = severity(a.current_count.max(a.baseline_count), 1, a.lift);

    let mut runtime = input.runtime.to_vec();
    sort_runtime(&mut runtime);
    record_context(&mut inc, existing, input.alerts, &runtime, now);

    let alert_signals: Vec<Signal> = input.alerts.iter().map(|a| a.signal.clone()).collect();
    let ci = ClassifyInput {
        family: &inc.error_family,
        env: &inc.env,
        started_at_ns: inc.started_at,
        sample_traces: &[],
        events: &[],
        signals: input.signals,
        deployments: input.deployments,
        alerts: &alert_signals,
        runtime: &runtime,
        anomaly: Some(a.facts),
    };
    let (c, checks) = classify_with_checks(&ci);
    let lead = a.lead_evidence(started_at);
    apply_classification(&mut inc, c, checks, existing, Some(lead));
    Built {
        incident: inc,
        reissued,
    }
}

#[cfg(test)]
mod tests;
