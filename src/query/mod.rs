//! Query engine: one DataFusion session per statement over one storage snapshot.
//!
//! Each statement gets its own `SessionContext` whose tables are [`SnapshotTable`]s bound to
//! the snapshot taken when the statement starts (so a self-join sees one snapshot, and a flush
//! that lands mid-query changes nothing for it), and its own memory pool of
//! `WAYLOG_QUERY_MEMORY` bytes with spilling disabled. Parquet footers are cached across
//! statements.

pub mod functions;
pub mod guard;
pub mod output;
pub mod provider;
pub mod rows;
pub mod sql;
pub mod trace_index;
pub mod value_cap;

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::datasource::ViewTable;
use datafusion::error::DataFusionError;
use datafusion::execution::cache::cache_manager::{CacheManagerConfig, FileMetadataCache};
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::storage::Storage;
use crate::storage::schema::TableId;
use crate::storage::table::TableSnapshot;
pub use guard::{QueryError, QueryOptions, QueryResult, run_user_sql};
use provider::SnapshotTable;

/// The cores CPU-bound read work may split across (at most 8), read once: on Linux
/// `available_parallelism` reads the cgroup files on every call.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8)
    })
}

/// `f(0)`, …, `f(parts - 1)`, in that order, each part on its own thread (part 0 on the
/// caller's). A panic in a part is raised again here, as it would be on one thread.
pub fn in_parts<T: Send>(parts: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let f = &f;
    std::thread::scope(|scope| {
        let later: Vec<_> = (1..parts).map(|p| scope.spawn(move || f(p))).collect();
        let mut out = Vec::with_capacity(parts.max(1));
        out.push(f(0));
        out.extend(later.into_iter().map(|h| match h.join() {
            Ok(part) => part,
            Err(panic) => std::panic::resume_unwind(panic),
        }));
        out
    })
}

/// Views defined over the stored tables, registered on every statement's session:
/// `(name, sql/<name>_view.sql text)`.
pub const VIEWS: &[(&str, &str)] = &[
    (
        "deployments",
        include_str!("../../sql/deployments_view.sql"),
    ),
    ("incidents", include_str!("../../sql/incidents_view.sql")),
];

/// The tables and views a user can query, sorted (what `/v1/capabilities` lists as present).
pub fn table_names() -> Vec<&'static str> {
    // `deployment_versions` stays queryable but is an implementation table: the listed name
    // is its view `deployments` (spec reads §7.3 lists the user-facing tables).
    let mut v: Vec<_> = TableId::ALL
        .iter()
        .filter(|t| **t != TableId::DeploymentVersions)
        .map(|t| t.name())
        .collect();
    v.extend(VIEWS.iter().map(|(name, _)| *name));
    v.sort();
    v
}

/// Register [`VIEWS`] on `ctx` (whose tables are already registered).
pub async fn register_views(ctx: &SessionContext) -> Result<(), DataFusionError> {
    for (name, sql) in VIEWS {
        let plan = ctx.state().create_logical_plan(sql).await?;
        let view = ViewTable::new(plan, Some((*sql).to_string()));
        ctx.register_table(*name, Arc::new(view))?;
    }
    Ok(())
}

/// Query memory of the warm-up query.
const WARM_QUERY_MEMORY: usize = 64 << 20;

#[derive(Clone)]
pub struct QueryEngine {
    storage: Arc<Storage>,
    metadata_cache: Arc<FileMetadataCache>,
    trace_index: Arc<trace_index::TraceIndexCache>,
    target_partitions: usize,
    /// `WAYLOG_QUERY_MAX_VALUE_BYTES` ([`value_cap`]).
    max_value_bytes: usize,
    /// `WAYLOG_QUERY_MAX_ANALYZE_ROWS` ([`guard`]'s `EXPLAIN ANALYZE` row cap).
    analyze_max_rows: usize,
}

impl std::fmt::Debug for QueryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryEngine")
            .field("target_partitions", &self.target_partitions)
            .finish()
    }
}

impl QueryEngine {
    /// The same engine with another per-value cap of the growing functions ([`value_cap`]).
    pub fn with_max_value_bytes(mut self, max: usize) -> Self {
        self.max_value_bytes = max;
        self
    }

    /// The same engine with another row cap for the statement under `EXPLAIN ANALYZE`.
    pub fn with_analyze_max_rows(mut self, max: usize) -> Self {
        self.analyze_max_rows = max;
        self
    }

    /// The same engine with a trace index cache of another byte budget for cold files
    /// (`WAYLOG_TRACE_INDEX_BYTES`; the cache is new and empty).
    pub fn with_trace_index_bytes(mut self, bytes: usize) -> Self {
        self.trace_index = Arc::new(trace_index::TraceIndexCache::with_limit(bytes));
        self
    }

    /// The byte budget of the cold trace index cache.
    pub fn trace_index_bytes(&self) -> usize {
        self.trace_index.limit()
    }

    /// Rows a statement under `EXPLAIN ANALYZE` may produce.
    pub fn analyze_max_rows(&self) -> usize {
        self.analyze_max_rows
    }

    pub fn new(storage: Arc<Storage>) -> Self {
        let template = RuntimeEnvBuilder::new()
            .build()
            .expect("a default runtime env builds");
        let metadata_cache = template.cache_manager.get_file_metadata_cache();
        let target_partitions = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        QueryEngine {
            storage,
            metadata_cache,
            trace_index: Arc::default(),
            target_partitions,
            max_value_bytes: value_cap::DEFAULT_MAX_VALUE_BYTES,
            analyze_max_rows: guard::DEFAULT_ANALYZE_MAX_ROWS,
        }
    }

    pub fn storage(&self) -> &Arc<Storage> {
        &self.storage
    }

    /// Files whose footer is in the engine's Parquet metadata cache.
    pub fn cached_footers(&self) -> usize {
        self.metadata_cache.len()
    }

    /// Files whose cached footer also holds its page index (column and offset indexes).
    pub fn cached_page_indexes(&self) -> usize {
        self.metadata_cache
            .list_entries()
            .values()
            .filter(|e| {
                e.value
                    .file_metadata
                    .as_ref()
                    .as_any()
                    .downcast_ref::<datafusion::datasource::physical_plan::parquet::metadata::CachedParquetMetaData>()
                    .is_some_and(|m| {
                        let m = m.parquet_metadata();
                        m.column_index().is_some() && m.offset_index().is_some()
                    })
            })
            .count()
    }

    /// Cold files whose trace index is cached (see [`trace_index`]).
    pub fn trace_index_files(&self) -> usize {
        self.trace_index.files()
    }

    /// Hot batches whose trace index is cached (built or being built).
    pub fn trace_index_hot_batches(&self) -> usize {
        self.trace_index.hot_batches()
    }

    /// Build the trace indexes the read models will need for the current `events` snapshot
    /// (see [`trace_index::warm`]), after dropping those of hot batches that have left it
    /// (flushed or merged).
    /// When new cold files were indexed, their footers and page indexes are also loaded
    /// into the engine's metadata cache (one query whose bloom filters prune every row
    /// group), so the first trace lookup after a flush does not parse them.
    pub async fn warm_trace_indexes(&self) -> Result<trace_index::Warmed, DataFusionError> {
        let events = self.storage.table(TableId::Events);
        self.trace_index.retain_hot(|| events.snapshot());
        let snapshot = events.snapshot();
        let readers = trace_index::Readers::new(self.storage.cold().store.clone());
        let warmed = trace_index::warm(&snapshot, &readers, &self.trace_index).await?;
        if warmed.cold_files > 0 {
            // Over the cold files only: the hot tier has no footers to load.
            let cold = Arc::new(TableSnapshot {
                hot: Vec::new(),
                ..(*snapshot).clone()
            });
            let ctx = self.events_context(cold, WARM_QUERY_MEMORY)?;
            let sql = format!(
                "SELECT count(*) FROM events WHERE trace_id = '{}'",
                "0".repeat(32)
            );
            ctx.sql(&sql).await?.collect().await?;
        }
        Ok(warmed)
    }

    /// Keep the trace indexes of new cold files and merged hot batches built, checking once a
    /// second, until `shutdown`; so the first large read after a flush or a restart does not
    /// pay for them. Each pass also drops the indexes of hot batches flushed or merged away.
    pub async fn run_index_warmer(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            match self.warm_trace_indexes().await {
                Ok(w) => {
                    failing = false;
                    if w != trace_index::Warmed::default() {
                        tracing::debug!(
                            cold_files = w.cold_files,
                            hot_batches = w.hot_batches,
                            cache_bytes = self.trace_index.bytes(),
                            "trace indexes built"
                        );
                    }
                }
                // Once per run of failures (e.g. an unreachable cold store), not every second.
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "trace index warm-up failed; read models build on use")
                }
                Err(e) => tracing::debug!(error = %e, "trace index warm-up still failing"),
            }
        }
    }

    /// A runtime with `memory_limit` bytes of query memory, no spilling, and the engine's
    /// shared Parquet metadata cache.
    fn runtime(
        &self,
        memory_limit: usize,
    ) -> Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>, DataFusionError> {
        RuntimeEnvBuilder::new()
            .with_memory_limit(memory_limit, 1.0)
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .with_cache_manager(
                CacheManagerConfig::default()
                    .with_file_metadata_cache(Some(self.metadata_cache.clone())),
            )
            .build_arc()
    }

    /// Every session's partitions and Parquet reading: filters pushed into the scan and
    /// reordered, page indexes and bloom filters used.
    fn session_config(&self) -> SessionConfig {
        let mut config = SessionConfig::new().with_target_partitions(self.target_partitions);
        let parquet = &mut config.options_mut().execution.parquet;
        parquet.pushdown_filters = true;
        parquet.reorder_filters = true;
        parquet.enable_page_index = true;
        parquet.bloom_filter_on_read = true;
        config
    }

    /// A session whose only table is `events` = `events` (one or a few sources of the
    /// events table), with waylog's functions and `memory_limit` bytes of query memory: what
    /// per-source summaries run on.
    pub fn events_context(
        &self,
        events: Arc<TableSnapshot>,
        memory_limit: usize,
    ) -> Result<SessionContext, DataFusionError> {
        let runtime = self.runtime(memory_limit)?;
        let ctx = new_session(self.session_config(), runtime);
        let cold = self.storage.cold();
        ctx.register_object_store(cold.url.as_ref(), cold.store.clone());
        ctx.register_table(
            "events",
            Arc::new(SnapshotTable::new(events, cold.url.clone())),
        )?;
        functions::register(&ctx);
        value_cap::register(&ctx, self.max_value_bytes);
        Ok(ctx)
    }

    /// A session for waylog's own read models over one snapshot of every table, with
    /// `memory_limit` bytes of query memory.
    ///
    /// Read models join a small trace set (the build side, written first) to `events`, so
    /// their hash joins collect the build side once and stream every partition of `events`
    /// past it (`repartition_joins = false`) instead of hash-repartitioning every probed row.
    pub async fn context(&self, memory_limit: usize) -> Result<SessionContext, DataFusionError> {
        self.context_for(self.storage.snapshot(), memory_limit, false)
            .await
    }

    /// A session for user SQL (`/v1/query`, `waylog query`): DataFusion's default join
    /// planning, since a user's join sides can be of any size. Without `views`, the
    /// [`VIEWS`] are not registered (each session planned both views, a share of every small
    /// statement's time): for a statement that names only stored tables ([`guard::names_only_tables`]).
    pub async fn user_context(
        &self,
        memory_limit: usize,
        views: bool,
    ) -> Result<SessionContext, DataFusionError> {
        self.session(self.storage.snapshot(), memory_limit, true, views)
            .await
    }

    pub async fn context_for(
        &self,
        snapshot: BTreeMap<TableId, Arc<TableSnapshot>>,
        memory_limit: usize,
        repartition_joins: bool,
    ) -> Result<SessionContext, DataFusionError> {
        self.session(snapshot, memory_limit, repartition_joins, true)
            .await
    }

    async fn session(
        &self,
        snapshot: BTreeMap<TableId, Arc<TableSnapshot>>,
        memory_limit: usize,
        repartition_joins: bool,
        views: bool,
    ) -> Result<SessionContext, DataFusionError> {
        let runtime = self.runtime(memory_limit)?;
        let mut config = self
            .session_config()
            .with_information_schema(true)
            .with_default_catalog_and_schema("waylog", "public");
        {
            let opts = config.options_mut();
            opts.sql_parser.enable_ident_normalization = true;
            opts.optimizer.repartition_joins = repartition_joins;
            if !repartition_joins {
                // Read models group intermediate results that often barely reduce (one failed
                // event per (family, trace)): decide after 8 Ki rows instead of 100 Ki whether
                // the partial aggregation is worth it.
                opts.execution.skip_partial_aggregation_probe_rows_threshold = 8192;
            }
        }
        let cold = self.storage.cold();
        if let Some(events) = snapshot.get(&TableId::Events) {
            config = config.with_extension(Arc::new(trace_index::TraceContext {
                snapshot: events.clone(),
                cold_url: cold.url.clone(),
                readers: trace_index::Readers::new(cold.store.clone()),
                cache: self.trace_index.clone(),
            }));
        }
        let ctx = new_session(config, runtime);
        ctx.register_object_store(cold.url.as_ref(), cold.store.clone());
        for (t, snap) in snapshot {
            ctx.register_table(
                t.name(),
                Arc::new(SnapshotTable::new(snap, cold.url.clone())),
            )?;
        }
        functions::register(&ctx);
        value_cap::register(&ctx, self.max_value_bytes);
        if views {
            register_views(&ctx).await?;
        }
        Ok(ctx)
    }
}

/// A session over `config` and `runtime`: DataFusion's defaults plus
/// [`provider::DistinctScanPredicates`] as the last physical optimizer rule.
fn new_session(
    config: SessionConfig,
    runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
) -> SessionContext {
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(provider::DistinctScanPredicates))
        .build();
    SessionContext::new_with_state(state)
}
