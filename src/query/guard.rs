//! User SQL (`POST /v1/query`, `waylog query`): read-only rule, caps, error classes
//! (spec reads §5.3, §5.4).
//!
//! Two guards: the parsed statement must be exactly one query / EXPLAIN of a query / SHOW
//! TABLES / SHOW COLUMNS / DESCRIBE; and the plan is verified with DDL, DML and statements
//! disallowed.
//!
//! Caps: the result is cut to `limit` rows by an outer limit of `limit + 1`; a statement under
//! `EXPLAIN ANALYZE` (which runs it and throws its rows away, so the outer limit never reaches
//! it) runs under its own outer limit of [`QueryEngine::analyze_max_rows`] rows
//! (`WAYLOG_QUERY_MAX_ANALYZE_ROWS`), visible as the top node of the analyzed plan.

use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::{Analyze, LogicalPlan, LogicalPlanBuilder};
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;

use datafusion::common::TableReference;

use super::QueryEngine;
use crate::storage::schema::TableId;

/// Default `WAYLOG_QUERY_MAX_ANALYZE_ROWS`.
pub const DEFAULT_ANALYZE_MAX_ROWS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Rows returned at most; one more is fetched to report truncation.
    pub limit: usize,
    pub timeout: Option<Duration>,
    pub memory_bytes: usize,
}

#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub row_count: usize,
    pub truncated: bool,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    InvalidSql(String),
    #[error("{0}")]
    Execution(String),
    #[error("{0}")]
    ResourcesExhausted(String),
    #[error("query timed out")]
    Timeout,
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl QueryError {
    /// The spec's error code for this class.
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::NotAllowed(_) => "statement_not_allowed",
            QueryError::InvalidSql(_) => "invalid_sql",
            QueryError::Execution(_) => "execution_error",
            QueryError::ResourcesExhausted(_) => "resources_exhausted",
            QueryError::Timeout => "timeout",
            QueryError::Unavailable(_) => "unavailable",
            QueryError::Internal(_) => "internal_error",
        }
    }
}

fn allowed(stmt: &DfStatement) -> bool {
    match stmt {
        DfStatement::Statement(s) => allowed_sql(s),
        DfStatement::Explain(e) => allowed(&e.statement),
        _ => false,
    }
}

fn allowed_sql(s: &Statement) -> bool {
    match s {
        Statement::Query(_) => true,
        Statement::Explain { statement, .. } => allowed_sql(statement),
        Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ExplainTable { .. } => true,
        _ => false,
    }
}

/// Check the read-only rule and return the single statement.
pub fn parse_read_only(sql: &str) -> Result<DfStatement, QueryError> {
    let mut stmts = DFParser::parse_sql_with_dialect(sql, &GenericDialect {})
        .map_err(|e| QueryError::InvalidSql(e.strip_backtrace()))?;
    if stmts.len() != 1 {
        return Err(QueryError::NotAllowed(format!(
            "exactly one statement is allowed, got {}",
            stmts.len()
        )));
    }
    let stmt = stmts.pop_front().expect("one statement");
    if !allowed(&stmt) {
        return Err(QueryError::NotAllowed(
            "only queries (SELECT, WITH, VALUES, EXPLAIN, SHOW TABLES, SHOW COLUMNS, DESCRIBE) are allowed"
                .into(),
        ));
    }
    Ok(stmt)
}

/// Whether `stmt` is a query (or an `EXPLAIN` of one) whose every table reference is a
/// stored table ([`TableId`], bare or qualified with `public` / `waylog.public`): such a
/// statement plans the same without the views of [`super::VIEWS`]. Anything else (a view,
/// `information_schema`, `SHOW` / `DESCRIBE`, an unknown name) gets them.
pub fn names_only_tables(stmt: &DfStatement) -> bool {
    let query = match stmt {
        DfStatement::Statement(s) => matches!(**s, Statement::Query(_)),
        DfStatement::Explain(e) => {
            matches!(&*e.statement, DfStatement::Statement(s) if matches!(**s, Statement::Query(_)))
        }
        _ => false,
    };
    if !query {
        return false;
    }
    let Ok((refs, _ctes)) = datafusion::sql::resolve::resolve_table_references(stmt, true) else {
        return false;
    };
    refs.iter().all(|r| {
        let stored = TableId::ALL.iter().any(|t| t.name() == r.table());
        let schema_ok = r.schema().is_none_or(|s| s == "public");
        let catalog_ok = match r {
            TableReference::Full { catalog, .. } => &**catalog == "waylog",
            _ => true,
        };
        stored && schema_ok && catalog_ok
    })
}

/// Map an engine error to its class.
pub fn classify(e: DataFusionError) -> QueryError {
    let msg = e.strip_backtrace();
    let root = e.find_root();
    match root {
        DataFusionError::ResourcesExhausted(_) => QueryError::ResourcesExhausted(msg),
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_) => QueryError::InvalidSql(msg),
        DataFusionError::ArrowError(..) | DataFusionError::Execution(_) => {
            QueryError::Execution(msg)
        }
        DataFusionError::ObjectStore(_)
        | DataFusionError::IoError(_)
        | DataFusionError::ParquetError(_) => QueryError::Unavailable(msg),
        _ => QueryError::Internal(msg),
    }
}

/// Put the statement under `EXPLAIN ANALYZE` beneath an outer limit of `max_rows`: analyzing
/// runs the statement in full, and without this its rows are bounded by nothing but the
/// timeout. Other plans are returned as they are.
fn cap_analyzed(plan: LogicalPlan, max_rows: usize) -> Result<LogicalPlan, DataFusionError> {
    let LogicalPlan::Analyze(analyze) = plan else {
        return Ok(plan);
    };
    let input = LogicalPlanBuilder::from(analyze.input.as_ref().clone())
        .limit(0, Some(max_rows))?
        .build()?;
    Ok(LogicalPlan::Analyze(Analyze {
        input: std::sync::Arc::new(input),
        ..analyze
    }))
}

/// Plan and run user SQL over one snapshot under the caps.
pub async fn run_user_sql(
    engine: &QueryEngine,
    sql: &str,
    opts: &QueryOptions,
) -> Result<QueryResult, QueryError> {
    let started = Instant::now();
    let stmt = parse_read_only(sql)?;
    let views = !names_only_tables(&stmt);
    let parsed_us = started.elapsed().as_micros() as u64;
    let work = async {
        let ctx = engine
            .user_context(opts.memory_bytes, views)
            .await
            .map_err(classify)?;
        let context_us = started.elapsed().as_micros() as u64;
        let state = ctx.state();
        let plan = state.statement_to_plan(stmt).await.map_err(classify)?;
        let planned_us = started.elapsed().as_micros() as u64;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| QueryError::NotAllowed(e.strip_backtrace()))?;
        let plan = cap_analyzed(plan, engine.analyze_max_rows()).map_err(classify)?;
        // The row cap is an outer limit, except over EXPLAIN, whose plan must stay the root
        // (its few rows are capped below like any result).
        let capped = !matches!(plan, LogicalPlan::Explain(_) | LogicalPlan::Analyze(_));
        let df = ctx.execute_logical_plan(plan).await.map_err(classify)?;
        let df = if capped {
            df.limit(0, Some(opts.limit.saturating_add(1)))
                .map_err(classify)?
        } else {
            df
        };
        let schema = df.schema().inner().clone();
        let task_ctx = std::sync::Arc::new(df.task_ctx());
        let physical = df.create_physical_plan().await.map_err(classify)?;
        let physical_us = started.elapsed().as_micros() as u64;
        let batches = datafusion::physical_plan::collect(physical, task_ctx)
            .await
            .map_err(classify)?;
        tracing::debug!(
            parsed_us,
            context_us,
            planned_us,
            physical_us,
            done_us = started.elapsed().as_micros() as u64,
            "user sql phases"
        );
        Ok::<_, QueryError>((schema, batches))
    };
    let (schema, mut batches) = match opts.timeout {
        Some(t) => tokio::time::timeout(t, work)
            .await
            .map_err(|_| QueryError::Timeout)??,
        None => work.await?,
    };
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let truncated = total > opts.limit;
    if truncated {
        let mut left = opts.limit;
        let mut kept = Vec::with_capacity(batches.len());
        for b in batches {
            if left == 0 {
                break;
            }
            let n = b.num_rows().min(left);
            kept.push(b.slice(0, n));
            left -= n;
        }
        batches = kept;
    }
    Ok(QueryResult {
        schema,
        row_count: total.min(opts.limit),
        batches,
        truncated,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_read_only_accepts_queries_and_rejects_writes() {
        for ok in [
            "SELECT 1",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "VALUES (1)",
            "SELECT 1 UNION ALL SELECT 2",
            "EXPLAIN SELECT 1",
            "EXPLAIN ANALYZE SELECT 1",
            "SHOW TABLES",
            "SHOW COLUMNS FROM events",
            "DESCRIBE events",
        ] {
            assert!(parse_read_only(ok).is_ok(), "{ok}");
        }
        for bad in [
            "CREATE TABLE t (a INT)",
            "DROP TABLE events",
            "INSERT INTO events VALUES (1)",
            "DELETE FROM events",
            "UPDATE events SET a = 1",
            "COPY events TO '/tmp/x'",
            "SET datafusion.execution.batch_size = 1",
            "SELECT 1; SELECT 2",
            "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/tmp'",
            "BEGIN",
            "PREPARE p AS SELECT 1",
            "EXPLAIN CREATE TABLE t (a INT)",
        ] {
            match parse_read_only(bad) {
                Err(QueryError::NotAllowed(_)) => {}
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(matches!(
            parse_read_only("SELEC 1"),
            Err(QueryError::InvalidSql(_))
        ));
    }

    #[test]
    fn views_are_left_out_only_for_statements_over_stored_tables() {
        let only = |sql: &str| names_only_tables(&parse_read_only(sql).expect(sql));
        for sql in [
            "SELECT count(*) FROM events",
            "SELECT 1",
            "SELECT * FROM public.events e JOIN waylog.public.signals s ON true",
            "WITH incidents AS (SELECT 1 AS x) SELECT * FROM incidents",
            "EXPLAIN SELECT * FROM Events",
            "SELECT * FROM events WHERE trace_id IN (SELECT trace_id FROM alerts)",
        ] {
            assert!(only(sql), "{sql}");
        }
        for sql in [
            "SELECT * FROM incidents",
            "SELECT * FROM events JOIN deployments ON true",
            "SELECT * FROM events WHERE service IN (SELECT service FROM incidents)",
            "SELECT * FROM information_schema.tables",
            "SELECT * FROM other.events",
            "SELECT * FROM nope",
            "SHOW TABLES",
            "DESCRIBE events",
            "SHOW COLUMNS FROM events",
        ] {
            assert!(!only(sql), "{sql}");
        }
    }
}
