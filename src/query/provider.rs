//! [`SnapshotTable`]: a DataFusion `TableProvider` over one table snapshot: the hot Arrow
//! batches (in-memory scan) unioned with the cold Parquet files (pruned by the time range
//! the query's filters allow, using manifest statistics, so planning opens no footer).
//!
//! Filters are `Inexact`: DataFusion keeps its own filter above the scan; the Parquet scan
//! also gets the predicate for row-group, page-index and bloom-filter pruning.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::config::ConfigOptions;
use datafusion::common::config::TableParquetOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::TableProvider;
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::parquet::{
    CachedParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::datasource::physical_plan::{
    FileGroup, FileScanConfigBuilder, FileSource, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::utils::{conjunction as physical_conjunction, split_conjunction};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::union::UnionExec;
use futures::future::BoxFuture;

use super::trace_index::{TraceContext, TraceSet, TracedEvents, parse_trace_id};
use crate::storage::schema::TableId;
use crate::storage::table::TableSnapshot;

#[derive(Debug)]
pub struct SnapshotTable {
    snapshot: Arc<TableSnapshot>,
    cold_url: ObjectStoreUrl,
}

impl SnapshotTable {
    pub fn new(snapshot: Arc<TableSnapshot>, cold_url: ObjectStoreUrl) -> Self {
        SnapshotTable { snapshot, cold_url }
    }

    pub fn snapshot(&self) -> &Arc<TableSnapshot> {
        &self.snapshot
    }

    pub fn cold_url(&self) -> &ObjectStoreUrl {
        &self.cold_url
    }

    /// For a scan of the session's own `events` whose filters hold `trace_id = '<id>'`: the
    /// same rows read through the trace indexes that exist ([`TracedEvents`], as
    /// `trace_lookup`; sources without one are scanned here with the bloom filters). The
    /// filter stays above the scan (`Inexact`), so the answer is the plain scan's. The
    /// snapshot identity check keeps [`TracedEvents`]' own scan of the other sources (a new
    /// snapshot) from coming back here.
    fn trace_lookup(&self, state: &dyn Session, filters: &[Expr]) -> Option<TracedEvents> {
        if self.snapshot.table != TableId::Events {
            return None;
        }
        let id = filters.iter().find_map(trace_id_equality)?;
        let t = state.config().get_extension::<TraceContext>()?;
        Arc::ptr_eq(&t.snapshot, &self.snapshot)
            .then(|| TracedEvents::new(&t, Arc::new(TraceSet::new(vec![id])), false))
    }
}

/// The trace of a `trace_id = '<32 lower-case hex digits>'` conjunct of `filter`.
fn trace_id_equality(filter: &Expr) -> Option<u128> {
    fn literal(e: &Expr) -> Option<&str> {
        match e {
            Expr::Literal(
                ScalarValue::Utf8(Some(v))
                | ScalarValue::Utf8View(Some(v))
                | ScalarValue::LargeUtf8(Some(v)),
                _,
            ) => Some(v),
            Expr::Cast(c) => literal(&c.expr),
            _ => None,
        }
    }
    // The column itself or cast to another string type (equality unchanged).
    fn trace_id(e: &Expr) -> bool {
        match e {
            Expr::Column(c) => c.name == "trace_id",
            Expr::Cast(c) => {
                matches!(
                    c.field.data_type(),
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
                ) && trace_id(&c.expr)
            }
            _ => false,
        }
    }
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = filter else {
        return None;
    };
    match op {
        Operator::And => trace_id_equality(left).or_else(|| trace_id_equality(right)),
        Operator::Eq if trace_id(left) => parse_trace_id(literal(right)?),
        Operator::Eq if trace_id(right) => parse_trace_id(literal(left)?),
        _ => None,
    }
}

/// Inclusive `[lo, hi]` bounds (unix ns) on `column` implied by the conjunctive filters.
pub fn time_bounds(filters: &[Expr], column: &str) -> (i64, i64) {
    let mut lo = i64::MIN;
    let mut hi = i64::MAX;
    for f in filters {
        collect_bounds(f, column, &mut lo, &mut hi);
    }
    (lo, hi)
}

fn literal_ns(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(v, _) => match v {
            ScalarValue::TimestampNanosecond(Some(v), _) => Some(*v),
            ScalarValue::TimestampMicrosecond(Some(v), _) => v.checked_mul(1_000),
            ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000_000),
            ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000_000),
            _ => None,
        },
        Expr::Cast(c) => literal_ns(&c.expr),
        Expr::TryCast(c) => literal_ns(&c.expr),
        _ => None,
    }
}

fn is_column(e: &Expr, column: &str) -> bool {
    match e {
        Expr::Column(c) => c.name == column,
        Expr::Cast(c) => is_column(&c.expr, column),
        _ => false,
    }
}

fn collect_bounds(e: &Expr, column: &str, lo: &mut i64, hi: &mut i64) {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            if *op == Operator::And {
                collect_bounds(left, column, lo, hi);
                collect_bounds(right, column, lo, hi);
                return;
            }
            let (op, v) = if is_column(left, column) {
                match literal_ns(right) {
                    Some(v) => (*op, v),
                    None => return,
                }
            } else if is_column(right, column) {
                match (literal_ns(left), op.swap()) {
                    (Some(v), Some(op)) => (op, v),
                    _ => return,
                }
            } else {
                return;
            };
            match op {
                Operator::Gt | Operator::GtEq => *lo = (*lo).max(v),
                Operator::Lt | Operator::LtEq => *hi = (*hi).min(v),
                Operator::Eq => {
                    *lo = (*lo).max(v);
                    *hi = (*hi).min(v);
                }
                _ => {}
            }
        }
        Expr::Between(b) if !b.negated && is_column(&b.expr, column) => {
            if let Some(v) = literal_ns(&b.low) {
                *lo = (*lo).max(v);
            }
            if let Some(v) = literal_ns(&b.high) {
                *hi = (*hi).min(v);
            }
        }
        _ => {}
    }
}

/// Whether the conjunctive `filters` admit only failed statuses (`status = 'error'`,
/// `status IN ('error', 'timeout', …)` with failed statuses only).
pub fn implies_failed(filters: &[Expr]) -> bool {
    fn failed_literal(e: &Expr) -> bool {
        match e {
            Expr::Literal(ScalarValue::Utf8(Some(v)) | ScalarValue::Utf8View(Some(v)), _) => {
                crate::model::status_is_failed(v)
            }
            Expr::Cast(c) => failed_literal(&c.expr),
            _ => false,
        }
    }
    fn implies(e: &Expr) -> bool {
        match e {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
                Operator::And => implies(left) || implies(right),
                Operator::Eq => {
                    (is_column(left, "status") && failed_literal(right))
                        || (is_column(right, "status") && failed_literal(left))
                }
                _ => false,
            },
            Expr::InList(l) => {
                !l.negated
                    && is_column(&l.expr, "status")
                    && !l.list.is_empty()
                    && l.list.iter().all(failed_literal)
            }
            _ => false,
        }
    }
    filters.iter().any(implies)
}

/// DataFusion's cached Parquet readers, asked for each footer *with* its page index.
///
/// The Parquet scan asks for a footer without the page index and loads the index afterwards
/// when its pruning needs it; the metadata cache then holds the footer alone, so every
/// query parsed every file's page index again (a tenth of a warm failure rollup's time).
/// Asked with the page index, the cache keeps footer and index together and the scan finds
/// the index loaded.
#[derive(Debug)]
struct WithPageIndex(CachedParquetFileReaderFactory);

impl ParquetFileReaderFactory for WithPageIndex {
    fn create_reader(
        &self,
        partition_index: usize,
        file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> Result<Box<dyn AsyncFileReader + Send>> {
        let inner = self
            .0
            .create_reader(partition_index, file, metadata_size_hint, metrics)?;
        Ok(Box::new(PageIndexReader(inner)))
    }
}

struct PageIndexReader(Box<dyn AsyncFileReader + Send>);

impl AsyncFileReader for PageIndexReader {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, datafusion::parquet::errors::Result<Bytes>> {
        self.0.get_bytes(range)
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<std::ops::Range<u64>>,
    ) -> BoxFuture<'_, datafusion::parquet::errors::Result<Vec<Bytes>>> {
        self.0.get_byte_ranges(ranges)
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, datafusion::parquet::errors::Result<Arc<ParquetMetaData>>> {
        let options = options
            .cloned()
            .unwrap_or_default()
            .with_page_index_policy(PageIndexPolicy::Optional);
        Box::pin(async move { self.0.get_metadata(Some(&options)).await })
    }
}

/// A physical optimizer rule (the last one) that drops repeated conjuncts from the predicate
/// of each Parquet scan. [`SnapshotTable`] gives its scan the query's filters, and DataFusion's
/// filter pushdown then adds the same filters again from the `FilterExec` above (the filters
/// are `Inexact`): without this the row filter evaluated `status IN (…)` twice on every row.
#[derive(Debug)]
pub struct DistinctScanPredicates;

impl PhysicalOptimizerRule for DistinctScanPredicates {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(exec) = node.downcast_ref::<DataSourceExec>() else {
                return Ok(Transformed::no(node));
            };
            let Some((conf, source)) = exec.downcast_to_file_source::<ParquetSource>() else {
                return Ok(Transformed::no(node));
            };
            let Some(predicate) = source.filter() else {
                return Ok(Transformed::no(node));
            };
            let parts = split_conjunction(&predicate);
            let mut kept: Vec<Arc<dyn PhysicalExpr>> = Vec::with_capacity(parts.len());
            for p in &parts {
                if !kept.iter().any(|k| k.as_ref() == p.as_ref()) {
                    kept.push(Arc::clone(p));
                }
            }
            if kept.len() == parts.len() {
                return Ok(Transformed::no(node));
            }
            let source = source.with_predicate(physical_conjunction(kept));
            let conf = FileScanConfigBuilder::from(conf.clone())
                .with_source(Arc::new(source))
                .build();
            Ok(Transformed::yes(
                DataSourceExec::from_data_source(conf) as Arc<dyn ExecutionPlan>
            ))
        })
        .data()
    }

    fn name(&self) -> &str {
        "distinct_scan_predicates"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

#[async_trait]
impl TableProvider for SnapshotTable {
    fn schema(&self) -> SchemaRef {
        self.snapshot.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(lookup) = self.trace_lookup(state, filters) {
            return lookup.scan(state, projection, filters, limit).await;
        }
        let schema = self.snapshot.schema.clone();
        let time_col = self.snapshot.table.time_column();
        let (lo, hi) = time_bounds(filters, time_col);
        let partitions = state.config().target_partitions().max(1);
        let mut plans: Vec<Arc<dyn ExecutionPlan>> = Vec::new();

        let hot: Vec<_> = self
            .snapshot
            .hot
            .iter()
            .filter(|h| h.batch.num_rows() > 0 && h.max_ts >= lo && h.min_ts <= hi)
            .collect();
        if !hot.is_empty() {
            // Spread batches over the partitions by row count.
            let mut parts: Vec<Vec<_>> = vec![Vec::new(); partitions.min(hot.len())];
            let mut rows = vec![0usize; parts.len()];
            // A failure scan reads only the prefix of each batch that may hold failed rows.
            let failed_only = self.snapshot.table == TableId::Events && implies_failed(filters);
            for h in hot {
                let batch = if failed_only {
                    h.batch.slice(0, h.failed_rows.min(h.batch.num_rows()))
                } else {
                    h.batch.clone()
                };
                if batch.num_rows() == 0 {
                    continue;
                }
                let i = (0..parts.len()).min_by_key(|i| rows[*i]).unwrap_or(0);
                rows[i] += batch.num_rows();
                parts[i].push(batch);
            }
            let mem = MemorySourceConfig::try_new(&parts, schema.clone(), projection.cloned())?
                .with_limit(limit);
            plans.push(DataSourceExec::from_data_source(mem));
        }

        let files: Vec<_> = self
            .snapshot
            .cold
            .iter()
            .filter(|f| f.max_ts >= lo && f.min_ts <= hi)
            .collect();
        if !files.is_empty() {
            // Footers and page indexes come from the runtime's metadata cache (shared by the
            // query engine's sessions), parsed once per file instead of once per query.
            let runtime = state.runtime_env();
            let store = runtime.object_store(&self.cold_url)?;
            let readers = WithPageIndex(CachedParquetFileReaderFactory::new(
                store,
                runtime.cache_manager.get_file_metadata_cache(),
            ));
            let mut source = ParquetSource::new(schema.clone())
                .with_table_parquet_options(TableParquetOptions {
                    global: state.config_options().execution.parquet.clone(),
                    ..Default::default()
                })
                .with_parquet_file_reader_factory(Arc::new(readers));
            if let Some(pred) = conjunction(filters.to_vec()) {
                let df_schema = DFSchema::try_from(schema.clone())?;
                let phys = state.create_physical_expr(pred, &df_schema)?;
                source = source.with_predicate(phys);
            }
            let mut groups: Vec<Vec<PartitionedFile>> =
                vec![Vec::new(); partitions.min(files.len())];
            let mut sizes = vec![0u64; groups.len()];
            for f in files {
                let i = (0..groups.len()).min_by_key(|i| sizes[*i]).unwrap_or(0);
                sizes[i] += f.size;
                groups[i].push(PartitionedFile::new(f.path.clone(), f.size));
            }
            let conf = FileScanConfigBuilder::new(self.cold_url.clone(), Arc::new(source))
                .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
                .with_projection_indices(projection.cloned())?
                .with_limit(limit)
                .build();
            plans.push(DataSourceExec::from_data_source(conf));
        }

        match plans.len() {
            0 => {
                let projected = match projection {
                    Some(p) => Arc::new(schema.project(p)?),
                    None => schema,
                };
                Ok(Arc::new(EmptyExec::new(projected)))
            }
            _ => UnionExec::try_new(plans),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    /// A failure scan of cold files: its Parquet predicate holds the filter once (not once
    /// from the table and again from the pushed-down `FilterExec`), the answer is unchanged,
    /// and the footer the scan cached carries its page index (the next scan parses none).
    #[tokio::test]
    async fn cold_scans_keep_one_predicate_and_cache_the_page_index() {
        use crate::query::{QueryEngine, QueryOptions, run_user_sql};
        const NOW: i64 = 1_777_888_800_000_000_000;
        let dir = tempfile::tempdir().unwrap();
        let storage =
            crate::storage::test_support::storage_with_hot_batches(dir.path(), NOW, 3).await;
        storage.flush(TableId::Events).await.unwrap();
        let engine = QueryEngine::new(storage.clone());
        let opts = QueryOptions {
            limit: 100,
            timeout: None,
            memory_bytes: 64 << 20,
        };
        let sql = "SELECT count(*) AS n FROM events WHERE status IN ('error', 'timeout')";
        let explained = run_user_sql(&engine, &format!("EXPLAIN {sql}"), &opts)
            .await
            .unwrap();
        let text = crate::query::output::rows_to_json(&explained.batches, 100)
            .iter()
            .map(|r| r[1].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let scan = text
            .lines()
            .find(|l| l.contains("DataSourceExec") && l.contains("parquet"))
            .unwrap_or_else(|| panic!("no parquet scan in {text}"));
        let predicate = scan.split("predicate=").nth(1).unwrap();
        let predicate = predicate.split(", pruning").next().unwrap();
        assert_eq!(
            predicate, "status@10 = error OR status@10 = timeout",
            "the filter once, not `… AND …` twice"
        );
        let answer = run_user_sql(&engine, sql, &opts).await.unwrap();
        let n = crate::query::output::rows_to_json(&answer.batches, 1);
        assert_eq!(n[0][0], serde_json::json!(12));
        assert_eq!(engine.cached_footers(), 1);
        assert_eq!(
            engine.cached_page_indexes(),
            1,
            "the footer is cached with its index"
        );
    }

    #[test]
    fn failure_filters_are_recognized() {
        let failed = |e: Expr| implies_failed(&[e]);
        assert!(failed(col("status").eq(lit("error"))));
        assert!(failed(lit("timeout").eq(col("status"))));
        assert!(failed(
            col("status").in_list(vec![lit("error"), lit("aborted")], false)
        ));
        assert!(failed(
            col("service")
                .eq(lit("x"))
                .and(col("status").in_list(vec![lit("partial")], false))
        ));
        // Anything that admits a healthy row does not.
        assert!(!failed(
            col("status").in_list(vec![lit("error"), lit("ok")], false)
        ));
        assert!(!failed(col("status").in_list(vec![lit("error")], true)));
        assert!(!failed(col("status").not_eq(lit("ok"))));
        assert!(!failed(
            col("status")
                .eq(lit("error"))
                .or(col("service").eq(lit("x")))
        ));
        assert!(!failed(col("anchor_step").eq(lit("error"))));
        assert!(!implies_failed(&[]));
    }
}
