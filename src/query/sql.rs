//! The read models as SQL: one query per file under `sql/`, embedded here behind
//! [`ReadQuery`]. Parameters are DataFusion placeholders (`$1..$n`) bound with
//! `DataFrame::with_param_values`, never formatted into the text. Optional string filters are
//! bound as `''` meaning absent; sets of trace ids are the one-column table `sel(trace_id)`
//! registered on the request's `SessionContext` ([`register_sel`]).
//!
//! Invariant: [`ReadQuery::params`] lists the placeholder types of each file in order; the
//! tests check them against the file headers and that every query plans.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{DataFrame, SessionContext};

/// The type of one placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// `Timestamp(ns, "UTC")`, like `events.ts_start`.
    Timestamp,
    Utf8,
    Int64,
    Float64,
}

impl ParamType {
    pub fn header_name(self) -> &'static str {
        match self {
            ParamType::Timestamp => "Timestamp",
            ParamType::Utf8 => "Utf8",
            ParamType::Int64 => "Int64",
            ParamType::Float64 => "Float64",
        }
    }
}

/// One bound parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Unix ns.
    Timestamp(i64),
    Utf8(String),
    Int64(i64),
    Float64(f64),
}

impl Param {
    pub fn str(s: impl Into<String>) -> Param {
        Param::Utf8(s.into())
    }

    /// An optional string filter: `''` when absent.
    pub fn opt_str(s: Option<&str>) -> Param {
        Param::Utf8(s.unwrap_or("").to_owned())
    }

    /// A row budget (`limit + 1`).
    pub fn rows(n: usize) -> Param {
        Param::Int64(i64::try_from(n).unwrap_or(i64::MAX))
    }

    fn param_type(&self) -> ParamType {
        match self {
            Param::Timestamp(_) => ParamType::Timestamp,
            Param::Utf8(_) => ParamType::Utf8,
            Param::Int64(_) => ParamType::Int64,
            Param::Float64(_) => ParamType::Float64,
        }
    }

    fn into_scalar(self) -> ScalarValue {
        match self {
            Param::Timestamp(ns) => ScalarValue::TimestampNanosecond(Some(ns), Some("UTC".into())),
            Param::Utf8(s) => ScalarValue::Utf8(Some(s)),
            Param::Int64(n) => ScalarValue::Int64(Some(n)),
            Param::Float64(x) => ScalarValue::Float64(Some(x)),
        }
    }
}

macro_rules! read_queries {
    ($( $variant:ident => $file:literal : [$($ty:ident),*] ),* $(,)?) => {
        /// Every read-model query; the file `sql/<name>.sql` holds its text.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ReadQuery { $($variant),* }

        impl ReadQuery {
            pub const ALL: &'static [ReadQuery] = &[$(ReadQuery::$variant),*];

            /// The file stem under `sql/`.
            pub fn name(self) -> &'static str {
                match self { $(ReadQuery::$variant => $file),* }
            }

            pub fn text(self) -> &'static str {
                match self {
                    $(ReadQuery::$variant => include_str!(concat!("../../sql/", $file, ".sql"))),*
                }
            }

            /// The placeholder types, `$1` first.
            pub fn params(self) -> &'static [ParamType] {
                match self { $(ReadQuery::$variant => &[$(ParamType::$ty),*]),* }
            }
        }
    };
}

read_queries! {
    ErrorFamilyTraces => "error_family_traces": [Timestamp, Timestamp, Utf8, Utf8],
    ErrorFamilyPage => "error_family_page": [Int64, Utf8, Utf8, Utf8, Int64],
    ErrorFamilyPageTraces => "error_family_page_traces": [],
    ErrorFamilies => "error_families": [Timestamp, Timestamp],
    RollupFailedTraces => "rollup_failed_traces": [Timestamp, Timestamp],
    TraceEvents => "trace_events": [Timestamp, Timestamp],
    RollupCodeCounts => "rollup_code_counts": [Timestamp, Timestamp],
    RollupCodeServices => "rollup_code_services": [Timestamp, Timestamp],
    GraphStats => "graph_stats": [Timestamp, Timestamp],
    TraceDurations => "trace_durations": [Timestamp, Timestamp, Timestamp, Timestamp],
    OriginEvents => "origin_events": [Timestamp, Timestamp],
    BlastTraces => "blast_traces": [Timestamp, Timestamp, Utf8, Utf8, Utf8],
    BlastExtent => "blast_extent": [Timestamp, Timestamp],
    BlastRadius => "blast_radius": [],
    BlastRadiusServices => "blast_radius_services": [],
    RecentTraces => "recent_traces":
        [Timestamp, Timestamp, Utf8, Utf8, Timestamp, Timestamp, Timestamp, Utf8, Int64],
    EventsSearch => "events_search":
        [Timestamp, Timestamp, Utf8, Utf8, Utf8, Utf8, Timestamp, Utf8, Int64],
    TraceById => "trace_by_id": [Utf8],
    EventById => "event_by_id": [Utf8],
    DeploymentsList => "deployments_list": [Timestamp, Timestamp, Utf8],
    DeploymentErrorRates => "deployment_error_rates": [Timestamp, Timestamp, Utf8],
    SignalsList => "signals_list": [
        Timestamp, Timestamp, Utf8, Utf8, Utf8, Utf8, Utf8, Utf8, Timestamp, Utf8, Int64
    ],
    IncidentCandidates => "incident_candidates":
        [Timestamp, Timestamp, Timestamp, Timestamp, Timestamp, Int64, Float64, Float64],
    IncidentDimensionSummary => "incident_dimension_summary": [],
    IncidentSuspectDimensions => "incident_suspect_dimensions":
        [Timestamp, Timestamp, Timestamp, Utf8, Utf8, Utf8, Int64, Timestamp, Timestamp],
    IncidentFailingEvents => "incident_failing_events":
        [Timestamp, Timestamp, Utf8, Utf8, Utf8],
    IncidentSignals => "incident_signals": [Timestamp, Timestamp],
    IncidentDeployments => "incident_deployments": [Utf8, Timestamp, Timestamp],
    IncidentServiceStats => "incident_service_stats":
        [Timestamp, Timestamp, Timestamp, Timestamp, Timestamp, Int64],
    IncidentsOpen => "incidents_open": [],
    IncidentIds => "incident_ids": [],
    IncidentsExpired => "incidents_expired": [Timestamp],
    IncidentsList => "incidents_list": [Utf8, Utf8],
    TriageDeployment => "triage_deployment": [Utf8],
}

impl ReadQuery {
    /// The in-memory table a query's result is registered as by [`materialize`], for the
    /// queries of the same read that read it (the producer comes first in [`ReadQuery::ALL`]).
    pub fn materialized_as(self) -> Option<&'static str> {
        match self {
            ReadQuery::ErrorFamilyTraces => Some("family_traces"),
            ReadQuery::ErrorFamilyPage => Some("family_page"),
            ReadQuery::ErrorFamilyPageTraces => Some("page_traces"),
            ReadQuery::TraceEvents => Some("trace_events"),
            ReadQuery::BlastTraces => Some("blast_traces"),
            ReadQuery::BlastExtent => Some("blast_extent"),
            _ => None,
        }
    }
}

/// The keyset sentinel "before everything" for descending timestamp cursors.
pub const NO_CURSOR_TS: i64 = i64::MAX;
/// The keyset sentinel "before everything" for descending count cursors.
pub const NO_CURSOR_COUNT: i64 = i64::MAX;

/// Schema of the `sel` table.
pub static SEL_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![Field::new(
        "trace_id",
        DataType::Utf8,
        false,
    )]))
});

/// Register the request's set of trace ids as `sel(trace_id)` (replacing an earlier one),
/// each id once, and `traced_events` for it.
pub async fn register_sel(ctx: &SessionContext, trace_ids: &[String]) -> Result<()> {
    let mut ids: Vec<&str> = trace_ids.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    let array: StringArray = ids.iter().map(|s| Some(*s)).collect();
    let batch = RecordBatch::try_new(SEL_SCHEMA.clone(), vec![Arc::new(array)])?;
    register_batches(ctx, "sel", SEL_SCHEMA.clone(), vec![batch])?;
    crate::query::trace_index::register_traced_events(ctx, ids).await
}

/// Register `traced_events` for the trace ids in the Utf8 column `trace_id` of `batches`
/// (a materialized intermediate result), read in place.
pub async fn register_traced_events_of(
    ctx: &SessionContext,
    batches: &[RecordBatch],
) -> Result<()> {
    let mut columns = Vec::with_capacity(batches.len());
    for b in batches {
        let col = b
            .column_by_name("trace_id")
            .ok_or_else(|| DataFusionError::Internal("no trace_id column".into()))?;
        columns.push(datafusion::arrow::compute::cast(col, &DataType::Utf8)?);
    }
    let ids = columns
        .iter()
        .flat_map(|c| c.as_string::<i32>().iter().flatten());
    crate::query::trace_index::register_traced_events(ctx, ids).await
}

/// Register `batches` as the in-memory table `name` (replacing an earlier one).
pub fn register_batches(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<()> {
    let table = MemTable::try_new(schema, vec![batches])?;
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

/// Run `query` and register its result as the in-memory table `name` for the later queries
/// of the same read (DataFusion does not materialize a CTE that is referenced twice, so a
/// read that needs one intermediate result in several places computes it once here).
/// Returns the result.
pub async fn materialize(
    ctx: &SessionContext,
    query: ReadQuery,
    params: Vec<Param>,
) -> Result<Vec<RecordBatch>> {
    let name = query.materialized_as().ok_or_else(|| {
        DataFusionError::Internal(format!("{} is not materialized", query.name()))
    })?;
    let t = std::time::Instant::now();
    let df = prepare(ctx, query, params).await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    register_batches(ctx, name, schema, batches.clone())?;
    tracing::debug!(
        query = query.name(),
        elapsed_us = t.elapsed().as_micros() as u64,
        "read query"
    );
    Ok(batches)
}

/// Plan `query` with `params` bound.
pub async fn prepare(
    ctx: &SessionContext,
    query: ReadQuery,
    params: Vec<Param>,
) -> Result<DataFrame> {
    let expected = query.params();
    let given: Vec<ParamType> = params.iter().map(Param::param_type).collect();
    if given != expected {
        return Err(DataFusionError::Internal(format!(
            "{}: parameters {given:?} do not match {expected:?}",
            query.name()
        )));
    }
    let values: Vec<ScalarValue> = params.into_iter().map(Param::into_scalar).collect();
    let df = ctx.sql(query.text()).await?.with_param_values(values)?;
    // Profiling aid (docs/perf.md): run every read-model query once more under
    // EXPLAIN ANALYZE and print the plan with its metrics to stderr.
    if std::env::var_os("WAYLOG_EXPLAIN_READS").is_some() {
        let t = std::time::Instant::now();
        let out = df.clone().explain(false, true)?.collect().await?;
        eprintln!(
            "==== {} ({} ms)\n{}",
            query.name(),
            t.elapsed().as_millis(),
            datafusion::arrow::util::pretty::pretty_format_batches(&out)
                .map(|d| d.to_string())
                .unwrap_or_default()
        );
    }
    Ok(df)
}

/// Run `query` and collect every batch.
pub async fn collect(
    ctx: &SessionContext,
    query: ReadQuery,
    params: Vec<Param>,
) -> Result<Vec<RecordBatch>> {
    let t = std::time::Instant::now();
    let batches = prepare(ctx, query, params).await?.collect().await?;
    tracing::debug!(
        query = query.name(),
        elapsed_us = t.elapsed().as_micros() as u64,
        "read query"
    );
    Ok(batches)
}

/// Run `query` as a stream of batches in its order.
pub async fn stream(
    ctx: &SessionContext,
    query: ReadQuery,
    params: Vec<Param>,
) -> Result<SendableRecordBatchStream> {
    prepare(ctx, query, params).await?.execute_stream().await
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn dummy(t: ParamType) -> Param {
        match t {
            ParamType::Timestamp => Param::Timestamp(0),
            ParamType::Utf8 => Param::str(""),
            ParamType::Int64 => Param::Int64(1),
            ParamType::Float64 => Param::Float64(1.0),
        }
    }

    #[test]
    fn read_queries_match_sql_folder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|f| !f.ends_with("_view.sql"))
            .collect();
        files.sort();
        let mut names: Vec<String> = ReadQuery::ALL
            .iter()
            .map(|q| format!("{}.sql", q.name()))
            .collect();
        names.sort();
        assert_eq!(files, names);
        for q in ReadQuery::ALL {
            let on_disk = std::fs::read_to_string(dir.join(format!("{}.sql", q.name()))).unwrap();
            assert_eq!(on_disk, q.text(), "{}", q.name());
        }
    }

    #[test]
    fn read_query_headers_document_parameters_and_order() {
        for q in ReadQuery::ALL {
            let text = q.text();
            let header: Vec<&str> = text.lines().take_while(|l| l.starts_with("--")).collect();
            assert!(
                header[0].starts_with(&format!("-- {}: ", q.name())),
                "{}: header names the query",
                q.name()
            );
            let header = header.join("\n");
            assert!(header.contains("Output:"), "{}", q.name());
            assert!(header.contains("Order:"), "{}", q.name());
            let body: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            // Every answer is totally ordered; an intermediate table materialized for a later
            // query of the same request may say `Order: none` (its consumer orders).
            let unordered_intermediate =
                q.materialized_as().is_some() && header.contains("-- Order: none.");
            assert!(
                body.contains("ORDER BY") || *q == ReadQuery::BlastRadius || unordered_intermediate,
                "{}",
                q.name()
            );
            if let Some(table) = q.materialized_as() {
                assert!(header.contains(&format!("`{table}`")), "{}", q.name());
            }
            for (i, t) in q.params().iter().enumerate() {
                let n = i + 1;
                let documented = header.lines().any(|l| {
                    let mut w = l.trim_start_matches("--").split_whitespace();
                    w.next() == Some(&format!("${n}")) && w.next() == Some(t.header_name())
                });
                assert!(documented, "{}: ${n} {t:?} documented", q.name());
                let used = body.match_indices(&format!("${n}")).any(|(at, _)| {
                    !body[at + 1 + n.to_string().len()..].starts_with(|c: char| c.is_ascii_digit())
                });
                assert!(used, "{}: ${n} used", q.name());
            }
            let extra = format!("${}", q.params().len() + 1);
            assert!(
                !body.match_indices(&extra).any(|(at, _)| {
                    !body[at + extra.len()..].starts_with(|c: char| c.is_ascii_digit())
                }),
                "{}: no undeclared parameter",
                q.name()
            );
        }
    }

    #[tokio::test]
    async fn prepare_rejects_wrong_parameter_types() {
        let ctx = SessionContext::new();
        let err = prepare(&ctx, ReadQuery::TraceById, vec![Param::Int64(1)])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("trace_by_id"));
    }
}
