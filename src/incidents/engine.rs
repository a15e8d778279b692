//! The incident engine's tick (spec triage §2.4): detection SQL over hot + cold events, one
//! build per candidate (E, blast, story, suspect dimensions, S, D, A, R → the pure rules of
//! [`super::build`]), the opt-in traffic and latency anomaly detectors (per-service statistics
//! → [`super::anomaly`]), lifecycle transitions for cached incidents not produced, and one WAL
//! commit of every produced row to `incident_versions`.
//!
//! Invariants:
//! - `now` comes from the injected clock, read once per tick; tests tick by hand.
//! - A tick that fails a required read (candidates, anomaly statistics, signals, deployments)
//!   or the write changes nothing: no row written, cache and anomaly counters unchanged.
//!   Evidence lookups (blast, story, dimensions) only mark their capture `missing`.
//! - The cache holds every non-resolved incident (at most one per family, anomaly families
//!   included) with its version; it is loaded from the `incidents` view on first use, so a
//!   restart continues from the stored incidents with no rebuild step. The anomaly counters
//!   live only in memory and start from zero after a restart (spec triage §2.11).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use super::alert_match::{FnLookup, matches};
use super::anomaly::{
    Anomaly, AnomalyBuildInput, Counters, anomaly_identity, build_anomaly_incident, stats_params,
    stats_rows,
};
use super::build::{AttachedAlert, BlastRead, ErrorBuildInput, build_error_incident};
use super::detect::{CandidateRow, candidate_params, candidate_rows, transition};
use super::dimensions::{
    SummaryCache, baseline_bounds, rank, register_sources, suspect_dimension_rows,
};
use super::identity::open_incident_id;
use super::inputs::{Deployment, EventStep, FailingEvent, Signal, SignalType, env_compatible};
use super::model::{ErrorFamily, Incident, Status};
use super::store::{StoredIncident, batch_to_incidents, incidents_to_batch};
use crate::config::incident_settings::IncidentConfig;
use crate::model::Event;
use crate::query::QueryEngine;
use crate::query::rows::{Columns, RowError, batch_to_events};
use crate::query::sql::{self, Param, ReadQuery};
use crate::reads::blast::{self, BlastKey, BlastQuery};
use crate::reads::params::TimeWindow;
use crate::reads::traces::{StoryQuery, story_read};
use crate::storage::schema::TableId;
use crate::storage::{Storage, WriteError};

/// Why a tick was abandoned.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error("incident query failed")]
    Query(#[from] DataFusionError),
    #[error("incident rows")]
    Rows(#[from] RowError),
    #[error("incident write failed")]
    Write(#[from] WriteError),
    #[error("incident batch")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("incident retention: {0}")]
    Prune(String),
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    pub candidates: usize,
    /// Sustained anomalies produced by the opt-in detectors (spec triage §2.11).
    pub anomalies: usize,
    /// Rows written (one per changed incident).
    pub written: usize,
    pub opened: usize,
    pub updated: usize,
    pub recovering: usize,
    pub resolved: usize,
}

/// Counters for logs and `/metrics` (spec triage §9 names).
#[derive(Debug, Default)]
pub struct EngineMetrics {
    pub ticks: AtomicU64,
    pub tick_failures: AtomicU64,
    pub opened: AtomicU64,
    pub updated: AtomicU64,
    pub recovered: AtomicU64,
    pub resolved: AtomicU64,
    pub ids_reissued: AtomicU64,
    pub last_tick_us: AtomicU64,
    /// Incidents removed by the retention janitor.
    pub pruned: AtomicU64,
}

#[derive(Debug, Default)]
struct EngineState {
    loaded: bool,
    /// Non-resolved incidents by family.
    cache: BTreeMap<ErrorFamily, StoredIncident>,
    /// Every incident id ever written.
    ids: HashSet<String>,
    /// The anomaly detectors' sustained-tick counters (in memory: a restart resets them).
    counters: Counters,
}

#[derive(Debug)]
pub struct IncidentEngine {
    config: IncidentConfig,
    state: tokio::sync::Mutex<EngineState>,
    pub metrics: EngineMetrics,
    /// Per-source suspect-dimension summaries (see `dimensions::register_sources`).
    summaries: SummaryCache,
    /// When the engine was created and when its last tick succeeded (`/readyz`).
    health: EngineHealth,
}

/// The engine's liveness as `/readyz` sees it: when its last tick succeeded (or, before the
/// first one, when it was created or its loop started: a long recovery is not a stale
/// engine), and a stall switch for the readiness tests.
#[derive(Debug)]
struct EngineHealth {
    fresh_since: parking_lot::Mutex<std::time::Instant>,
    stalled: std::sync::atomic::AtomicBool,
}

impl Default for EngineHealth {
    fn default() -> Self {
        EngineHealth {
            fresh_since: parking_lot::Mutex::new(std::time::Instant::now()),
            stalled: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl EngineHealth {
    fn refresh(&self) {
        *self.fresh_since.lock() = std::time::Instant::now();
    }
}

fn ns(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl IncidentEngine {
    pub fn new(config: IncidentConfig) -> Self {
        IncidentEngine {
            config,
            state: tokio::sync::Mutex::new(EngineState::default()),
            metrics: EngineMetrics::default(),
            summaries: SummaryCache::default(),
            health: EngineHealth::default(),
        }
    }

    /// Time since the last successful tick (since the tick loop started when none has
    /// succeeded yet).
    pub fn since_last_success(&self) -> std::time::Duration {
        self.health.fresh_since.lock().elapsed()
    }

    /// Whether the last successful tick is older than three tick intervals (spec: the engine
    /// is then reported not ready). `Some(age)` when stale.
    pub fn stale(&self) -> Option<std::time::Duration> {
        let age = self.since_last_success();
        (age > self.config.tick.saturating_mul(3)).then_some(age)
    }

    /// Test hook (`WAYLOG_TEST_HOOKS`): stop ticking without ending the task, as a tick stuck
    /// forever would; `/readyz` must then name the engine.
    #[doc(hidden)]
    pub fn stall_for_test(&self) {
        self.health.stalled.store(true, Ordering::SeqCst);
    }

    fn stalled(&self) -> bool {
        self.health.stalled.load(Ordering::SeqCst)
    }

    /// Summarize the events sources of the detection span ahead of the builds (see
    /// `dimensions::SummaryCache::warm`); returns how many were computed.
    pub async fn warm_summaries(
        &self,
        query: &QueryEngine,
        now: i64,
        memory: usize,
    ) -> Result<usize, DataFusionError> {
        let snapshot = query.storage().table(TableId::Events).snapshot();
        let (since, _) = baseline_bounds(now, self.config.thresholds.window_ns);
        self.summaries.warm(query, &snapshot, since, memory).await
    }

    pub fn config(&self) -> &IncidentConfig {
        &self.config
    }

    /// The cached incidents that are `active`, in `/v1/incidents/active` order (severity
    /// desc, started_at desc, id asc) — the intake match's candidates (spec triage §7.6).
    pub async fn active(&self) -> Vec<Incident> {
        let state = self.state.lock().await;
        let mut v: Vec<Incident> = state
            .cache
            .values()
            .map(|s| s.incident.clone())
            .filter(|i| i.status == Status::Active)
            .collect();
        v.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.started_at.cmp(&a.started_at))
                .then(a.incident_id.cmp(&b.incident_id))
        });
        v
    }

    /// What the alert intake match needs (spec triage §7.6): the active incidents in
    /// `/v1/incidents/active` order and a test for "an incident with this id exists". Loads
    /// the stored incidents first when no tick has yet (so intake works without the engine).
    pub async fn intake_view(
        &self,
        ctx: &SessionContext,
    ) -> Result<(Vec<Incident>, HashSet<String>), TickError> {
        {
            let mut state = self.state.lock().await;
            self.ensure_loaded(&mut state, ctx).await?;
        }
        let active = self.active().await;
        let ids = self.state.lock().await.ids.clone();
        Ok((active, ids))
    }

    async fn ensure_loaded(
        &self,
        state: &mut EngineState,
        ctx: &SessionContext,
    ) -> Result<(), TickError> {
        if state.loaded {
            return Ok(());
        }
        let mut cache = BTreeMap::new();
        for b in sql::collect(ctx, ReadQuery::IncidentsOpen, vec![]).await? {
            for s in batch_to_incidents(&b)? {
                cache.insert(s.incident.error_family.clone(), s);
            }
        }
        let mut ids = HashSet::new();
        for b in sql::collect(ctx, ReadQuery::IncidentIds, vec![]).await? {
            let col = Columns::new(&b).strings("incident_id")?;
            ids.extend(col.iter().flatten().map(str::to_owned));
        }
        state.cache = cache;
        state.ids = ids;
        state.loaded = true;
        Ok(())
    }

    /// One tick at `now` (spec triage §2.4).
    pub async fn tick(
        &self,
        storage: &Storage,
        engine: &QueryEngine,
        memory: usize,
        now: i64,
    ) -> Result<TickReport, TickError> {
        let started = std::time::Instant::now();
        let result = self.tick_inner(storage, engine, memory, now).await;
        self.metrics.ticks.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .last_tick_us
            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        crate::metrics::incident_tick(started.elapsed().as_secs_f64(), result.is_ok());
        if result.is_err() {
            self.metrics.tick_failures.fetch_add(1, Ordering::Relaxed);
        } else {
            self.health.refresh();
        }
        result
    }

    /// The steps of one tick (spec triage §2.4), each in its own function; the cache lock is
    /// held throughout, and any failure before the write leaves the cache and counters as
    /// they were.
    async fn tick_inner(
        &self,
        storage: &Storage,
        engine: &QueryEngine,
        memory: usize,
        now: i64,
    ) -> Result<TickReport, TickError> {
        let ctx = engine.context(memory).await?;
        let mut state = self.state.lock().await;
        self.ensure_loaded(&mut state, &ctx).await?;
        let candidates = self.candidates(&ctx, now).await?;
        let mut report = TickReport {
            candidates: candidates.len(),
            ..TickReport::default()
        };
        if !candidates.is_empty() {
            self.register_dimension_sources(&ctx, engine, memory, now)
                .await;
        }
        // Step 2: one build per candidate, in query order.
        let mut produced = Produced::default();
        for r in &candidates {
            let existing = state.cache.get(&r.family).map(|s| &s.incident);
            let built = self
                .build_one(&ctx, r, existing, &state.ids, &produced.taken, now)
                .await?;
            self.record(&mut produced, built, existing.is_some());
        }
        let next_counters = self
            .anomalies(&ctx, &state, &mut produced, &mut report, now)
            .await?;
        let transitions = self.transitions(&state, &produced.incidents, now);
        produced.incidents.extend(transitions);
        if !produced.incidents.is_empty() {
            let rows = self
                .write_versions(storage, &state, &produced.incidents, now)
                .await?;
            self.apply_written(&mut state, rows, &produced.incidents, &mut report);
        }
        // The anomaly counters advance only with a completed tick, with the cache.
        if let Some(c) = next_counters {
            state.counters = c;
        }
        crate::metrics::set_incidents_active(state.cache.len());
        Ok(report)
    }

    /// Spec step 1: the error-family candidates at `now`.
    async fn candidates(
        &self,
        ctx: &SessionContext,
        now: i64,
    ) -> Result<Vec<CandidateRow>, TickError> {
        let mut candidates = Vec::new();
        for b in sql::collect(
            ctx,
            ReadQuery::IncidentCandidates,
            candidate_params(now, &self.config.thresholds),
        )
        .await?
        {
            candidates.extend(candidate_rows(&b)?);
        }
        Ok(candidates)
    }

    /// Register the baseline-window sources for every build of this tick (§2.10). A failure
    /// leaves the tables unregistered: the dimension captures are then `missing`.
    async fn register_dimension_sources(
        &self,
        ctx: &SessionContext,
        engine: &QueryEngine,
        memory: usize,
        now: i64,
    ) {
        let bounds = baseline_bounds(now, self.config.thresholds.window_ns);
        match register_sources(ctx, engine, &self.summaries, bounds, memory).await {
            Ok(split) => tracing::debug!(
                summarized = split.summarized,
                partial = split.partial,
                edge = split.edge,
                "dimension sources"
            ),
            Err(e) => tracing::warn!(error = %e, "dimension sources unavailable"),
        }
    }

    /// Count a built incident (`(incident, id reissued)`) as produced by this tick; `known`:
    /// the family had a cached incident.
    fn record(&self, produced: &mut Produced, built: (Incident, bool), known: bool) {
        if built.1 {
            self.metrics.ids_reissued.fetch_add(1, Ordering::Relaxed);
            crate::metrics::incident_id_reissued();
        }
        crate::metrics::incident_classified(built.0.cause.as_str(), built.0.confidence.as_str());
        produced.taken.insert(built.0.incident_id.clone());
        produced.incidents.push((built.0, known));
    }

    /// Spec step 3: the opt-in anomaly detectors; their incidents are added to `produced`.
    /// Returns the counters to commit with the tick (`None` when both detectors are off).
    async fn anomalies(
        &self,
        ctx: &SessionContext,
        state: &EngineState,
        produced: &mut Produced,
        report: &mut TickReport,
        now: i64,
    ) -> Result<Option<Counters>, TickError> {
        if !(self.config.traffic.enabled || self.config.latency.enabled) {
            return Ok(None);
        }
        let mut stats = Vec::new();
        for b in sql::collect(
            ctx,
            ReadQuery::IncidentServiceStats,
            stats_params(
                now,
                self.config.thresholds.window_ns,
                self.config.latency.percentile,
            ),
        )
        .await?
        {
            stats.extend(stats_rows(&b)?);
        }
        let (counters, anomalies) =
            state
                .counters
                .step(&stats, &self.config.traffic, &self.config.latency);
        report.anomalies = anomalies.len();
        for a in &anomalies {
            let family = a.family();
            // One row per family and tick, even if an error candidate took the family.
            if produced
                .incidents
                .iter()
                .any(|(i, _)| i.error_family == family)
            {
                continue;
            }
            let existing = state.cache.get(&family).map(|s| &s.incident);
            let built = self
                .build_anomaly(ctx, a, existing, &state.ids, &produced.taken, now)
                .await?;
            self.record(produced, built, existing.is_some());
        }
        Ok(Some(counters))
    }

    /// Spec step 4: the lifecycle transitions of the cached incidents not in `produced`.
    fn transitions(
        &self,
        state: &EngineState,
        produced: &[(Incident, bool)],
        now: i64,
    ) -> Vec<(Incident, bool)> {
        let seen: HashSet<&str> = produced
            .iter()
            .map(|(i, _)| i.incident_id.as_str())
            .collect();
        let mut transitions = Vec::new();
        for s in state.cache.values() {
            if seen.contains(s.incident.incident_id.as_str()) {
                continue;
            }
            if let Some(next) = transition(&s.incident, false, now, ns(self.config.resolve_after)) {
                transitions.push((next, true));
            }
        }
        transitions
    }

    /// Spec step 5: write `produced` as the next version of each incident, in one WAL commit;
    /// returns the rows written (in `produced` order).
    async fn write_versions(
        &self,
        storage: &Storage,
        state: &EngineState,
        produced: &[(Incident, bool)],
        now: i64,
    ) -> Result<Vec<StoredIncident>, TickError> {
        let versions: HashMap<&str, u64> = state
            .cache
            .values()
            .map(|s| (s.incident.incident_id.as_str(), s.version))
            .collect();
        let rows: Vec<StoredIncident> = produced
            .iter()
            .map(|(inc, _)| StoredIncident {
                incident: inc.clone(),
                version: versions.get(inc.incident_id.as_str()).map_or(1, |v| v + 1),
                written_at_ns: now,
            })
            .collect();
        storage
            .append(TableId::IncidentVersions, incidents_to_batch(&rows)?)
            .await?;
        Ok(rows)
    }

    /// Spec step 6: apply the written `rows` (of `produced`, in order) to the cache, the report
    /// and the metrics; a resolved incident leaves the cache.
    fn apply_written(
        &self,
        state: &mut EngineState,
        rows: Vec<StoredIncident>,
        produced: &[(Incident, bool)],
        report: &mut TickReport,
    ) {
        for (row, (_, known)) in rows.into_iter().zip(produced) {
            use crate::metrics::Transition;
            let (counter, kind) = match row.incident.status {
                Status::Active if *known => {
                    report.updated += 1;
                    (&self.metrics.updated, Transition::Updated)
                }
                Status::Active => {
                    report.opened += 1;
                    (&self.metrics.opened, Transition::Opened)
                }
                Status::Recovering => {
                    report.recovering += 1;
                    (&self.metrics.recovered, Transition::Recovered)
                }
                Status::Resolved => {
                    report.resolved += 1;
                    (&self.metrics.resolved, Transition::Resolved)
                }
            };
            counter.fetch_add(1, Ordering::Relaxed);
            crate::metrics::incident_written(kind);
            report.written += 1;
            state.ids.insert(row.incident.incident_id.clone());
            let family = row.incident.error_family.clone();
            if row.incident.status == Status::Resolved {
                state.cache.remove(&family);
            } else {
                state.cache.insert(family, row);
            }
        }
    }

    /// Build or refresh the incident of candidate `r` (spec triage §2.5).
    async fn build_one(
        &self,
        ctx: &SessionContext,
        r: &CandidateRow,
        existing: Option<&Incident>,
        ids: &HashSet<String>,
        taken: &HashSet<String>,
        now: i64,
    ) -> Result<(Incident, bool), TickError> {
        let w = self.config.thresholds.window_ns;
        let c_lo = now.saturating_sub(w);
        let f = &r.family;
        let phase = std::time::Instant::now();
        let mut phases: Vec<(&str, u128)> = Vec::new();
        let mut mark = |name: &'static str| {
            phases.push((name, phase.elapsed().as_millis()));
        };
        let events = failing_events(ctx, c_lo, now, f).await?;
        mark("events");
        let newest = events.first();
        let started_at = existing.map_or_else(
            || events.iter().map(|e| e.ts_start_ns).min().unwrap_or(now),
            |e| e.started_at,
        );
        let env = existing.map_or_else(
            || newest.map(|e| e.env.clone()).unwrap_or_default(),
            |e| e.env.clone(),
        );
        let exists = |id: &str| ids.contains(id) || taken.contains(id);
        let incident_id = match existing {
            Some(e) => e.incident_id.clone(),
            None => open_incident_id(&env, f, started_at, exists).0,
        };

        let window = TimeWindow {
            since_ns: c_lo,
            until_ns: now,
        };
        let blast_query = BlastQuery {
            key: BlastKey::Family(f.clone()),
            window,
        };
        let blast = match blast::read(ctx, &blast_query).await {
            Ok(b) => Some(BlastRead {
                affected_requests: b.affected_requests,
                affected_users: b.affected_users.unwrap_or(0),
                affected_services: b.affected_services,
                top_services: b.top_services,
                sampled_traces: b.sample_traces,
            }),
            Err(e) => {
                tracing::warn!(family = %f.display(), error = %e, "incident blast capture missing");
                None
            }
        };
        mark("blast");
        let story = match blast.as_ref().and_then(|b| b.sampled_traces.first()) {
            Some(trace) => story_read(ctx, &StoryQuery::Trace(trace.clone()))
                .await
                .ok(),
            None => None,
        };
        mark("story");
        let dimensions = match suspect_dimension_rows(ctx, now, w, f).await {
            Ok(rows) => Some(rank(&rows, now)),
            Err(e) => {
                tracing::warn!(family = %f.display(), error = %e, "suspect dimensions missing");
                None
            }
        };

        mark("dimensions");
        let provisional = match existing {
            Some(e) => e.clone(),
            None => Incident::skeleton(incident_id, env, f.clone(), started_at, now),
        };
        let corr = self.correlation(ctx, &provisional, ids, now).await?;
        let input = ErrorBuildInput {
            candidate: r,
            existing,
            events: &events,
            blast: blast.as_ref(),
            story: story.as_ref(),
            dimensions: dimensions.as_ref(),
            signals: &corr.signals,
            deployments: &corr.deployments,
            alerts: &corr.alerts,
            runtime: &corr.runtime,
            sample_limit: self.config.sample_limit,
            now,
        };
        let built = build_error_incident(&input, exists);
        mark("signals+deployments+build");
        tracing::debug!(family = %f.display(), events = events.len(), ?phases, "incident build");
        Ok((built.incident, built.reissued))
    }

    /// The correlation inputs of one build (spec triage §2.5 step 5) for the incident as known
    /// before the build (`provisional`: the cached one, or a skeleton with its id, env, family
    /// and `started_at`): S, R, D and the alerts attached by §7.6 at `now`.
    async fn correlation(
        &self,
        ctx: &SessionContext,
        provisional: &Incident,
        ids: &HashSet<String>,
        now: i64,
    ) -> Result<Correlation, TickError> {
        let (f, env, started_at) = (
            &provisional.error_family,
            provisional.env.as_str(),
            provisional.started_at,
        );
        let dcw = ns(self.config.deploy_window);
        let amw = ns(self.config.alert_window);
        let all_signals = signal_rows(
            &sql::collect(
                ctx,
                ReadQuery::IncidentSignals,
                vec![
                    Param::Timestamp(started_at.saturating_sub(dcw.max(amw))),
                    Param::Timestamp(now.saturating_add(amw)),
                ],
            )
            .await?,
        )?;
        let in_dcw =
            |s: &Signal| s.timestamp_ns >= started_at.saturating_sub(dcw) && s.timestamp_ns <= now;
        let signals: Vec<Signal> = all_signals
            .iter()
            .filter(|s| s.env == env && in_dcw(s))
            .cloned()
            .collect();
        let runtime: Vec<Signal> = all_signals
            .iter()
            .filter(|s| {
                matches!(s.kind, SignalType::Runtime | SignalType::Healthcheck)
                    && s.service == f.service
                    && env_compatible(&s.env, env)
                    && in_dcw(s)
            })
            .cloned()
            .collect();
        let deployments = deployment_rows(
            &sql::collect(
                ctx,
                ReadQuery::IncidentDeployments,
                vec![
                    Param::str(f.service.as_str()),
                    Param::Timestamp(started_at.saturating_sub(dcw)),
                    Param::Timestamp(now),
                ],
            )
            .await?,
        )?;

        // Alerts (spec triage §7.6 engine attachment): every alert signal matching this
        // incident at `now`; stories of alert traces are read first (the rule is sync).
        let alert_signals: Vec<&Signal> = all_signals
            .iter()
            .filter(|s| s.kind == SignalType::Alert)
            .collect();
        let mut story_families: HashMap<String, Option<ErrorFamily>> = HashMap::new();
        for a in &alert_signals {
            let t = &a.meta.trace_id;
            if !t.is_empty() && !story_families.contains_key(t) {
                let family = story_family(ctx, t).await;
                story_families.insert(t.clone(), family);
            }
        }
        let lookup = FnLookup {
            exists: |id: &str| id == provisional.incident_id || ids.contains(id),
            story: |t: &str| story_families.get(t).cloned().flatten(),
        };
        let alerts: Vec<AttachedAlert> = alert_signals
            .iter()
            .filter_map(|a| {
                matches(a, provisional, now, amw, &lookup).map(|strategy| AttachedAlert {
                    signal: (*a).clone(),
                    strategy,
                })
            })
            .collect();
        Ok(Correlation {
            signals,
            runtime,
            deployments,
            alerts,
        })
    }

    /// Build or refresh the incident of a sustained anomaly (spec triage §2.11 "Build").
    async fn build_anomaly(
        &self,
        ctx: &SessionContext,
        a: &Anomaly,
        existing: Option<&Incident>,
        ids: &HashSet<String>,
        taken: &HashSet<String>,
        now: i64,
    ) -> Result<(Incident, bool), TickError> {
        let exists = |id: &str| ids.contains(id) || taken.contains(id);
        let provisional = match existing {
            Some(e) => e.clone(),
            None => {
                let (id, env, started_at, _) = anomaly_identity(a, None, now, exists);
                Incident::skeleton(id, env, a.family(), started_at, now)
            }
        };
        let corr = self.correlation(ctx, &provisional, ids, now).await?;
        let input = AnomalyBuildInput {
            anomaly: a,
            existing,
            signals: &corr.signals,
            deployments: &corr.deployments,
            alerts: &corr.alerts,
            runtime: &corr.runtime,
            now,
        };
        let built = build_anomaly_incident(&input, exists);
        Ok((built.incident, built.reissued))
    }
}

/// The incidents one tick produced, `(incident, family had a cached incident)` in build
/// order, and their ids (taken during the tick: they count as existing for the next opening).
#[derive(Debug, Default)]
struct Produced {
    incidents: Vec<(Incident, bool)>,
    taken: HashSet<String>,
}

/// S, R, D and A of one build.
struct Correlation {
    /// S, newest first.
    signals: Vec<Signal>,
    /// R (unsorted; the build sorts it).
    runtime: Vec<Signal>,
    /// D, `first_seen` desc, `id` asc.
    deployments: Vec<Deployment>,
    /// A, newest first.
    alerts: Vec<AttachedAlert>,
}

/// E: the failing events of `f` in `[lo, hi]`, newest first.
async fn failing_events(
    ctx: &SessionContext,
    lo: i64,
    hi: i64,
    f: &ErrorFamily,
) -> Result<Vec<FailingEvent>, TickError> {
    let params = vec![
        Param::Timestamp(lo),
        Param::Timestamp(hi),
        Param::str(f.service.as_str()),
        Param::str(f.step.as_str()),
        Param::str(f.error_code.as_str()),
    ];
    let mut out = Vec::new();
    for b in sql::collect(ctx, ReadQuery::IncidentFailingEvents, params).await? {
        out.extend(batch_to_events(&b)?.into_iter().map(failing_event));
    }
    Ok(out)
}

pub fn failing_event(e: Event) -> FailingEvent {
    FailingEvent {
        event_id: e.event_id,
        trace_id: e.trace_id,
        ts_start_ns: e.ts_start_ns,
        env: e.env,
        version: e.version.unwrap_or_default(),
        status: e.status.as_str().to_owned(),
        steps: e
            .steps
            .into_iter()
            .map(|s| EventStep {
                name: s.name,
                status: s.status.as_str().to_owned(),
                start_ms: s.start_ms,
                downstream_service: s.downstream.and_then(|d| d.service).unwrap_or_default(),
            })
            .collect(),
    }
}

/// Signals of `sql/incident_signals.sql` (the stored signal columns).
pub fn signal_rows(batches: &[RecordBatch]) -> Result<Vec<Signal>, RowError> {
    let mut out = Vec::new();
    for b in batches {
        out.extend(crate::ingest::signals::batch_to_signals(b)?);
    }
    Ok(out)
}

/// The family of the story of `trace_id` (`None` without a story or an anchor).
pub async fn story_family(ctx: &SessionContext, trace_id: &str) -> Option<ErrorFamily> {
    story_read(ctx, &StoryQuery::Trace(trace_id.to_string()))
        .await
        .ok()
        .and_then(|s| {
            s.anchor
                .map(|an| ErrorFamily::new(&s.service, &an.step, &an.error_code))
        })
}

/// Deployments of `sql/incident_deployments.sql` (the `deployments` view columns).
pub fn deployment_rows(batches: &[RecordBatch]) -> Result<Vec<Deployment>, RowError> {
    let mut out = Vec::new();
    for b in batches {
        out.extend(crate::ingest::deployments::batch_to_deployments(b)?);
    }
    Ok(out)
}

impl IncidentEngine {
    /// The retention janitor (spec triage §2.12): delete every version of the incidents whose
    /// latest version is resolved with `resolved_at < now − WAYLOG_INCIDENT_RETENTION`.
    /// Returns the number of incidents pruned.
    pub async fn prune_resolved(
        &self,
        storage: &Storage,
        engine: &QueryEngine,
        memory: usize,
        now: i64,
    ) -> Result<u64, TickError> {
        let Some(retention) = self.config.retention else {
            return Ok(0);
        };
        let ctx = engine.context(memory).await?;
        let cutoff = now.saturating_sub(ns(retention));
        let mut expired: HashSet<String> = HashSet::new();
        for b in sql::collect(
            &ctx,
            ReadQuery::IncidentsExpired,
            vec![Param::Timestamp(cutoff)],
        )
        .await?
        {
            let col = Columns::new(&b).strings("incident_id")?;
            expired.extend(col.iter().flatten().map(str::to_owned));
        }
        if expired.is_empty() {
            return Ok(0);
        }
        let n = expired.len() as u64;
        let expired = Arc::new(expired);
        let keep = {
            let expired = expired.clone();
            Arc::new(move |b: &RecordBatch| {
                let ids = Columns::new(b).strings("incident_id").map_err(|e| {
                    crate::storage::Error::Arrow(datafusion::arrow::error::ArrowError::SchemaError(
                        e.to_string(),
                    ))
                })?;
                Ok(ids
                    .iter()
                    .map(|id| Some(!id.is_some_and(|id| expired.contains(id))))
                    .collect())
            })
        };
        storage
            .remove_rows(
                TableId::IncidentVersions,
                keep,
                |_| true,
                |_| crate::storage::FileAction::Inspect,
            )
            .await
            .map_err(|e| TickError::Prune(crate::storage::error_chain(&e)))?;
        self.metrics.pruned.fetch_add(n, Ordering::Relaxed);
        crate::metrics::incidents_pruned(n);
        Ok(n)
    }
}

/// How often the incident retention janitor runs (first run one period after start).
const JANITOR_PERIOD: std::time::Duration = std::time::Duration::from_secs(300);
/// How often the engine summarizes new events sources for the suspect dimensions.
const WARM_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// Run ticks every `config.tick` (the first one interval after start) until `stop`; a tick
/// that overruns is followed at once by the next, never overlapping.
pub async fn run(
    engine: Arc<IncidentEngine>,
    storage: Arc<Storage>,
    query: QueryEngine,
    clock: crate::clock::SharedClock,
    memory: usize,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let period = engine.config.tick;
    engine.health.refresh();
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut janitor =
        tokio::time::interval_at(tokio::time::Instant::now() + JANITOR_PERIOD, JANITOR_PERIOD);
    let mut warm = tokio::time::interval(WARM_PERIOD);
    warm.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warm_failing = false;
    enum Wake {
        Tick,
        Janitor,
        Warm,
        Stop,
    }
    loop {
        let wake = tokio::select! {
            _ = interval.tick() => Wake::Tick,
            _ = janitor.tick() => Wake::Janitor,
            _ = warm.tick() => Wake::Warm,
            _ = stop.wait_for(|s| *s) => Wake::Stop,
        };
        match wake {
            Wake::Stop => return,
            Wake::Warm => {
                match engine.warm_summaries(&query, clock.now_ns(), memory).await {
                    Ok(n) => {
                        warm_failing = false;
                        if n > 0 {
                            tracing::debug!(sources = n, "dimension summaries computed");
                        }
                    }
                    // Once per run of failures, not every second.
                    Err(e) if !warm_failing => {
                        warm_failing = true;
                        tracing::warn!(
                            error = %e,
                            "dimension summaries failed; builds compute them on use"
                        )
                    }
                    Err(e) => tracing::debug!(error = %e, "dimension summaries still failing"),
                }
                continue;
            }
            Wake::Janitor => {
                match engine
                    .prune_resolved(&storage, &query, memory, clock.now_ns())
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(incidents = n, "incident retention pruned"),
                    Err(e) => tracing::error!(
                        error = %crate::storage::error_chain(&e),
                        "incident retention failed; retried next run"
                    ),
                }
                continue;
            }
            Wake::Tick if engine.stalled() => continue,
            Wake::Tick => {}
        }
        let now = clock.now_ns();
        match engine.tick(&storage, &query, memory, now).await {
            Ok(r) if r.written > 0 => tracing::info!(
                candidates = r.candidates,
                anomalies = r.anomalies,
                opened = r.opened,
                updated = r.updated,
                recovering = r.recovering,
                resolved = r.resolved,
                "incident tick"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %crate::storage::error_chain(&e), "incident tick failed")
            }
        }
    }
}
