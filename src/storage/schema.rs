//! Arrow schemas of the stored tables and the conversion of normalized events into record
//! batches. The column list is the contract of spec reads §1.7 and is mirrored, column for
//! column, by `migrations/0001_events.sql` (a test keeps the two in step).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, Int64Array, ListArray, RecordBatch, StringArray, StructArray,
    TimestampNanosecondArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use serde_json::Value;

use crate::model::{Event, EventKind};

/// Version of the storage schema; stamped into every Parquet file's key-value metadata.
pub const SCHEMA_VERSION: &str = "1";
/// Parquet key-value metadata key carrying [`SCHEMA_VERSION`].
pub const SCHEMA_VERSION_KEY: &str = "waylog.schema_version";

/// The tables that live in the WAL / hot / cold pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableId {
    Events,
    Signals,
    /// Every upserted state of a deployment; the `deployments` view shows the latest.
    DeploymentVersions,
    /// One row per accepted alert (spec triage §7.6); the rest lives in `signals`.
    Alerts,
    /// Every written state of an incident (spec triage §2.12); the `incidents` view shows the
    /// latest version per id.
    IncidentVersions,
}

impl TableId {
    pub const ALL: [TableId; 5] = [
        TableId::Events,
        TableId::Signals,
        TableId::DeploymentVersions,
        TableId::Alerts,
        TableId::IncidentVersions,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TableId::Events => "events",
            TableId::Signals => "signals",
            TableId::DeploymentVersions => "deployment_versions",
            TableId::Alerts => "alerts",
            TableId::IncidentVersions => "incident_versions",
        }
    }

    pub fn code(self) -> u8 {
        match self {
            TableId::Events => 1,
            TableId::Signals => 2,
            TableId::DeploymentVersions => 3,
            TableId::Alerts => 4,
            TableId::IncidentVersions => 5,
        }
    }

    pub fn from_code(code: u8) -> Option<TableId> {
        TableId::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn from_name(name: &str) -> Option<TableId> {
        TableId::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn schema(self) -> SchemaRef {
        match self {
            TableId::Events => EVENTS_SCHEMA.clone(),
            TableId::Signals => SIGNALS_SCHEMA.clone(),
            TableId::DeploymentVersions => DEPLOYMENT_VERSIONS_SCHEMA.clone(),
            TableId::Alerts => ALERTS_SCHEMA.clone(),
            TableId::IncidentVersions => INCIDENT_VERSIONS_SCHEMA.clone(),
        }
    }

    /// Column holding the row's event time (pruning, partitioning, sort order).
    pub fn time_column(self) -> &'static str {
        match self {
            TableId::Events => "ts_start",
            TableId::Signals => "timestamp",
            TableId::DeploymentVersions => "first_seen",
            TableId::Alerts => "timestamp",
            TableId::IncidentVersions => "started_at",
        }
    }

    /// Column holding the instant retention compares with the cutoff.
    pub fn retention_column(self) -> &'static str {
        match self {
            TableId::Events => "ts_end",
            TableId::Signals => "timestamp",
            // The latest version of a deployment has the latest `last_seen`: retention removes
            // older versions first and a deployment only when its latest state is too old.
            TableId::DeploymentVersions => "last_seen",
            // An alert row goes with its signal (same `timestamp`, same retention).
            TableId::Alerts => "timestamp",
            // Incident retention is per incident (its latest version), run by the engine's
            // janitor, not by row age; `written_at` only bounds the generic pass.
            TableId::IncidentVersions => "written_at",
        }
    }

    /// Column holding the row's idempotency key (dedup), if the table has one.
    pub fn id_column(self) -> Option<&'static str> {
        match self {
            TableId::Events => Some("event_id"),
            // Signal ids are minted by the server: nothing to deduplicate.
            TableId::Signals => None,
            TableId::DeploymentVersions | TableId::Alerts | TableId::IncidentVersions => None,
        }
    }

    /// Columns that get Parquet bloom filters.
    pub fn bloom_columns(self) -> &'static [&'static str] {
        match self {
            TableId::Events => &["event_id", "trace_id"],
            TableId::Signals => &["signal_id"],
            TableId::DeploymentVersions => &[],
            TableId::Alerts => &["signal_id"],
            TableId::IncidentVersions => &["incident_id"],
        }
    }

    /// Integer/timestamp columns written with DELTA_BINARY_PACKED.
    pub fn delta_columns(self) -> &'static [&'static str] {
        match self {
            TableId::Events => &["ts_start", "ts_end", "duration_ms"],
            TableId::Signals => &["timestamp", "received_at"],
            TableId::DeploymentVersions => &["first_seen", "last_seen", "revision"],
            TableId::Alerts => &["timestamp", "received_at"],
            TableId::IncidentVersions => &["started_at", "updated_at", "written_at", "version"],
        }
    }

    /// Sort key of flushed files and merged hot batches (leading string columns, then time).
    ///
    /// Events lead with `status`: the ~2% failed rows (`aborted`, `error` before `ok`;
    /// `partial`, `suppressed`, `timeout` after it) gather in a few row groups and pages at
    /// the ends of each file, so every failure scan (error families, rollups, blast radius,
    /// incident detection) prunes the `ok` row groups by their statistics; within a status
    /// rows stay in (service, ts) runs, so a per-service scan still prunes by service.
    /// Events have one more, leading key that is not a column, a failure tier (see
    /// `sort_by_table_key`): the failed rows first, then the other rows of the traces that
    /// have a failed event in the sorted batch, then the rest. A failure scan reads one
    /// contiguous run of pages, and loading every event of the failed traces (rollup,
    /// error-family users, blast radius) reads a few percent of each file's pages.
    pub fn sort_columns(self) -> &'static [&'static str] {
        match self {
            TableId::Events => &["status", "service", "ts_start"],
            TableId::Signals => &["service", "timestamp"],
            TableId::DeploymentVersions => &["service", "first_seen"],
            TableId::Alerts => &["format", "timestamp"],
            TableId::IncidentVersions => &["incident_id", "version"],
        }
    }
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

pub fn downstream_fields() -> Fields {
    Fields::from(vec![
        utf8("service", true),
        utf8("endpoint", true),
        utf8("kind", true),
    ])
}

pub fn step_error_fields() -> Fields {
    Fields::from(vec![
        utf8("code", true),
        utf8("reason", true),
        utf8("cause", true),
    ])
}

pub fn step_fields() -> Fields {
    Fields::from(vec![
        utf8("name", false),
        utf8("span_id", true),
        Field::new("start_ms", DataType::Int64, false),
        Field::new("duration_ms", DataType::Int64, false),
        utf8("status", false),
        Field::new("downstream", DataType::Struct(downstream_fields()), true),
        Field::new("error", DataType::Struct(step_error_fields()), true),
    ])
}

pub fn log_fields() -> Fields {
    Fields::from(vec![
        Field::new("ts_offset_ms", DataType::Int64, false),
        utf8("level", false),
        utf8("msg", false),
        utf8("fields", true),
    ])
}

pub fn error_ref_fields() -> Fields {
    Fields::from(vec![utf8("code", false), utf8("reason", true)])
}

fn list_of(fields: Fields) -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Struct(fields), true)))
}

pub static EVENTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        utf8("event_id", false),
        utf8("trace_id", false),
        utf8("span_id", false),
        utf8("parent_span_id", false),
        Field::new("ts_start", ts_type(), false),
        Field::new("ts_end", ts_type(), false),
        Field::new("duration_ms", DataType::Int64, false),
        utf8("kind", false),
        utf8("service", false),
        utf8("env", false),
        utf8("status", false),
        utf8("version", true),
        utf8("anchor_step", true),
        utf8("anchor_error_code", true),
        utf8("anchor_kind", true),
        utf8("http_method", true),
        utf8("http_route", true),
        Field::new("http_status", DataType::Int64, true),
        utf8("user_id", true),
        utf8("user_tier", true),
        utf8("user_region", true),
        Field::new("steps", list_of(step_fields()), false),
        Field::new("logs", list_of(log_fields()), false),
        Field::new("errors", list_of(error_ref_fields()), false),
        utf8("fields", true),
    ]))
});

pub static SIGNALS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![
        utf8("signal_id", false),
        utf8("type", false),
        utf8("source", false),
        utf8("service", false),
        utf8("env", false),
        utf8("severity", false),
        utf8("reason", false),
        utf8("message", true),
        utf8("resource", true),
        utf8("metadata", true),
        utf8("extra", true),
    ];
    fields.extend(
        crate::model::signal::SignalMeta::KEYS
            .iter()
            .map(|k| utf8(&format!("meta_{k}"), true)),
    );
    fields.push(Field::new("timestamp", ts_type(), false));
    fields.push(Field::new("received_at", ts_type(), false));
    Arc::new(Schema::new(fields))
});

/// `deployment_versions` (spec events §5, migrations/0003_deployments.sql): one row per
/// upsert with the deployment's whole state after it; `revision` counts 1, 2, … per id.
pub static DEPLOYMENT_VERSIONS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        utf8("id", false),
        utf8("service", false),
        utf8("env", false),
        utf8("version", true),
        utf8("metadata", true),
        utf8("commit_sha", true),
        utf8("pr_url", true),
        utf8("commit_author", true),
        Field::new("first_seen", ts_type(), false),
        Field::new("last_seen", ts_type(), false),
        Field::new("revision", DataType::UInt64, false),
    ]))
});

/// `alerts` (spec triage §7.6, migrations/0004_alerts.sql). `timestamp` repeats the signal's
/// so that retention removes the row together with its signal.
pub static ALERTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        utf8("signal_id", false),
        Field::new("received_at", ts_type(), false),
        utf8("format", false),
        utf8("alert_id", true),
        utf8("alert_status", true),
        utf8("fingerprint", true),
        Field::new("matched", DataType::Boolean, false),
        utf8("match_incident_id", true),
        utf8("match_strategy", false),
        Field::new("timestamp", ts_type(), false),
    ]))
});

/// `incident_versions` (spec triage §2.12, migrations/0005_incidents.sql): every model field
/// of an incident as written by one engine tick, plus `version` (1, 2, … per id) and
/// `written_at`. Evidence and snapshots are compact JSON.
pub static INCIDENT_VERSIONS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let list = || DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
    let int = |name: &str, nullable: bool| Field::new(name, DataType::Int64, nullable);
    let ts = |name: &str, nullable: bool| Field::new(name, ts_type(), nullable);
    Arc::new(Schema::new(vec![
        utf8("incident_id", false),
        utf8("env", false),
        utf8("service", false),
        utf8("error_service", false),
        utf8("error_step", false),
        utf8("error_code", false),
        utf8("status", false),
        utf8("cause", false),
        utf8("confidence", false),
        int("severity", false),
        ts("started_at", false),
        ts("updated_at", false),
        ts("last_seen_at", false),
        ts("recovering_at", true),
        ts("resolved_at", true),
        int("affected_requests", false),
        int("affected_services", false),
        int("affected_users", true),
        Field::new("top_services", list(), false),
        Field::new("sample_traces", list(), false),
        utf8("evidence_json", false),
        Field::new("next_checks", list(), false),
        Field::new("instrumentation_warnings", list(), false),
        Field::new("lift", DataType::Float64, false),
        int("baseline_count", false),
        int("current_count", false),
        utf8("suspect_deploy_id", true),
        utf8("propagation_json", true),
        utf8("blast_json", true),
        utf8("alerts_json", true),
        utf8("runtime_json", true),
        utf8("suspect_dimensions_json", true),
        Field::new("version", DataType::UInt64, false),
        ts("written_at", false),
    ]))
});

fn get_path<'a>(fields: &'a serde_json::Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let mut cur = fields.get(path[0])?;
    for key in &path[1..] {
        cur = cur.as_object()?.get(*key)?;
    }
    Some(cur)
}

fn field_str(fields: Option<&serde_json::Map<String, Value>>, path: &[&str]) -> Option<String> {
    match get_path(fields?, path)? {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn field_nonempty_str(
    fields: Option<&serde_json::Map<String, Value>>,
    path: &[&str],
) -> Option<String> {
    field_str(fields, path).filter(|s| !s.is_empty())
}

/// The route of an event (events §1.5): `fields.http.route` when a string, else for RPC
/// events `<fields.rpc.service>/<fields.rpc.method>`.
fn route_of(e: &Event) -> Option<String> {
    let f = e.fields.as_ref();
    if let Some(r) = field_str(f, &["http", "route"]) {
        return Some(r);
    }
    if e.kind == EventKind::Rpc {
        let svc = field_str(f, &["rpc", "service"])?;
        let method = field_str(f, &["rpc", "method"])?;
        return Some(format!("{svc}/{method}"));
    }
    None
}

fn str_col<I: IntoIterator<Item = Option<S>>, S: AsRef<str>>(it: I) -> ArrayRef {
    Arc::new(it.into_iter().collect::<StringArray>())
}

fn offsets(lens: impl Iterator<Item = usize>) -> OffsetBuffer<i32> {
    OffsetBuffer::from_lengths(lens)
}

/// Build one `events` record batch from normalized events, in the given order.
pub fn events_to_batch(events: &[Event]) -> Result<RecordBatch, ArrowError> {
    let schema = EVENTS_SCHEMA.clone();
    let n = events.len();
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    cols.push(str_col(events.iter().map(|e| Some(&e.event_id))));
    cols.push(str_col(events.iter().map(|e| Some(&e.trace_id))));
    cols.push(str_col(events.iter().map(|e| Some(&e.span_id))));
    cols.push(str_col(events.iter().map(|e| Some(&e.parent_span_id))));
    cols.push(Arc::new(
        TimestampNanosecondArray::from_iter_values(events.iter().map(|e| e.ts_start_ns))
            .with_timezone("UTC"),
    ));
    cols.push(Arc::new(
        TimestampNanosecondArray::from_iter_values(events.iter().map(|e| e.ts_end_ns))
            .with_timezone("UTC"),
    ));
    cols.push(Arc::new(Int64Array::from_iter_values(
        events.iter().map(|e| e.duration_ms),
    )));
    cols.push(str_col(events.iter().map(|e| Some(e.kind.as_str()))));
    cols.push(str_col(events.iter().map(|e| Some(&e.service))));
    cols.push(str_col(events.iter().map(|e| Some(&e.env))));
    cols.push(str_col(events.iter().map(|e| Some(e.status.as_str()))));
    cols.push(str_col(events.iter().map(|e| e.version.as_ref())));
    cols.push(str_col(
        events.iter().map(|e| e.anchor.as_ref().map(|a| &a.step)),
    ));
    cols.push(str_col(
        events
            .iter()
            .map(|e| e.anchor.as_ref().map(|a| &a.error_code)),
    ));
    cols.push(str_col(
        events
            .iter()
            .map(|e| e.anchor.as_ref().and_then(|a| a.kind.as_ref())),
    ));
    cols.push(str_col(
        events
            .iter()
            .map(|e| field_str(e.fields.as_ref(), &["http", "method"])),
    ));
    cols.push(str_col(events.iter().map(route_of)));
    cols.push(Arc::new(
        events
            .iter()
            .map(|e| {
                e.fields
                    .as_ref()
                    .and_then(|f| get_path(f, &["http", "status"]))
                    .and_then(Value::as_i64)
            })
            .collect::<Int64Array>(),
    ));
    for key in ["id", "tier", "region"] {
        cols.push(str_col(
            events
                .iter()
                .map(|e| field_nonempty_str(e.fields.as_ref(), &["user", key])),
        ));
    }
    cols.push(steps_column(events)?);
    cols.push(logs_column(events)?);
    cols.push(errors_column(events)?);
    cols.push(str_col(events.iter().map(|e| {
        e.fields
            .as_ref()
            .map(|f| serde_json::to_string(f).expect("a JSON map always serializes"))
    })));
    debug_assert!(cols.iter().all(|c| c.len() == n));
    RecordBatch::try_new(schema, cols)
}

fn list_column(
    fields: Fields,
    lens: Vec<usize>,
    columns: Vec<ArrayRef>,
) -> Result<ArrayRef, ArrowError> {
    let values = StructArray::try_new(fields.clone(), columns, None)?;
    let item = Arc::new(Field::new("item", DataType::Struct(fields), true));
    Ok(Arc::new(ListArray::try_new(
        item,
        offsets(lens.into_iter()),
        Arc::new(values),
        None,
    )?))
}

fn steps_column(events: &[Event]) -> Result<ArrayRef, ArrowError> {
    let steps: Vec<_> = events.iter().flat_map(|e| e.steps.iter()).collect();
    let lens = events.iter().map(|e| e.steps.len()).collect();
    let ds_valid: Vec<bool> = steps.iter().map(|s| s.downstream.is_some()).collect();
    let downstream = StructArray::try_new(
        downstream_fields(),
        vec![
            str_col(
                steps
                    .iter()
                    .map(|s| s.downstream.as_ref().and_then(|d| d.service.as_ref())),
            ),
            str_col(
                steps
                    .iter()
                    .map(|s| s.downstream.as_ref().and_then(|d| d.endpoint.as_ref())),
            ),
            str_col(
                steps
                    .iter()
                    .map(|s| s.downstream.as_ref().and_then(|d| d.kind.as_ref())),
            ),
        ],
        Some(NullBuffer::from(ds_valid)),
    )?;
    let err_valid: Vec<bool> = steps.iter().map(|s| s.error.is_some()).collect();
    let error = StructArray::try_new(
        step_error_fields(),
        vec![
            str_col(
                steps
                    .iter()
                    .map(|s| s.error.as_ref().and_then(|d| d.code.as_ref())),
            ),
            str_col(
                steps
                    .iter()
                    .map(|s| s.error.as_ref().and_then(|d| d.reason.as_ref())),
            ),
            str_col(
                steps
                    .iter()
                    .map(|s| s.error.as_ref().and_then(|d| d.cause.as_ref())),
            ),
        ],
        Some(NullBuffer::from(err_valid)),
    )?;
    list_column(
        step_fields(),
        lens,
        vec![
            str_col(steps.iter().map(|s| Some(&s.name))),
            str_col(steps.iter().map(|s| s.span_id.as_ref())),
            Arc::new(Int64Array::from_iter_values(
                steps.iter().map(|s| s.start_ms),
            )),
            Arc::new(Int64Array::from_iter_values(
                steps.iter().map(|s| s.duration_ms),
            )),
            str_col(steps.iter().map(|s| Some(s.status.as_str()))),
            Arc::new(downstream),
            Arc::new(error),
        ],
    )
}

fn logs_column(events: &[Event]) -> Result<ArrayRef, ArrowError> {
    let logs: Vec<_> = events.iter().flat_map(|e| e.logs.iter()).collect();
    let lens = events.iter().map(|e| e.logs.len()).collect();
    list_column(
        log_fields(),
        lens,
        vec![
            Arc::new(Int64Array::from_iter_values(
                logs.iter().map(|l| l.ts_offset_ms),
            )),
            str_col(logs.iter().map(|l| Some(l.level.as_str()))),
            str_col(logs.iter().map(|l| Some(&l.msg))),
            str_col(logs.iter().map(|l| {
                l.fields
                    .as_ref()
                    .map(|f| serde_json::to_string(f).expect("a JSON map always serializes"))
            })),
        ],
    )
}

fn errors_column(events: &[Event]) -> Result<ArrayRef, ArrowError> {
    let errs: Vec<_> = events.iter().flat_map(|e| e.errors.iter()).collect();
    let lens = events.iter().map(|e| e.errors.len()).collect();
    list_column(
        error_ref_fields(),
        lens,
        vec![
            str_col(errs.iter().map(|r| Some(&r.code))),
            str_col(errs.iter().map(|r| r.reason.as_ref())),
        ],
    )
}

/// Approximate in-memory size of a batch (for the hot tier's byte cap).
pub fn batch_bytes(batch: &RecordBatch) -> u64 {
    batch.get_array_memory_size() as u64
}

/// The `(min, max)` of a non-null timestamp column, or `None` for an empty batch.
pub fn ts_range(batch: &RecordBatch, column: &str) -> Option<(i64, i64)> {
    let col = batch.column_by_name(column)?;
    let ts = col.as_any().downcast_ref::<TimestampNanosecondArray>()?;
    let min = datafusion::arrow::compute::min(ts)?;
    let max = datafusion::arrow::compute::max(ts)?;
    Some((min, max))
}

/// The string values of a column (the id column used by dedup).
pub fn string_column<'a>(batch: &'a RecordBatch, column: &str) -> Option<&'a StringArray> {
    batch
        .column_by_name(column)?
        .as_any()
        .downcast_ref::<StringArray>()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The migration file and the Arrow schema list the same columns in the same order.
    fn migration_columns(sql: &str, table: &str) -> Vec<String> {
        let body = sql
            .split_once(&format!("CREATE TABLE {table} ("))
            .expect("migration creates the table")
            .1;
        body.lines()
            .map(str::trim)
            .take_while(|l| !l.starts_with(')'))
            .filter(|l| !l.is_empty() && !l.starts_with("--"))
            .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn deployment_and_alert_schemas_match_migrations() {
        let names = |schema: &SchemaRef| -> Vec<String> {
            schema.fields().iter().map(|f| f.name().clone()).collect()
        };
        let sql = include_str!("../../migrations/0003_deployments.sql");
        assert_eq!(
            migration_columns(sql, "deployment_versions"),
            names(&DEPLOYMENT_VERSIONS_SCHEMA)
        );
        let sql = include_str!("../../migrations/0004_alerts.sql");
        assert_eq!(migration_columns(sql, "alerts"), names(&ALERTS_SCHEMA));
        let sql = include_str!("../../migrations/0005_incidents.sql");
        assert_eq!(
            migration_columns(sql, "incident_versions"),
            names(&INCIDENT_VERSIONS_SCHEMA)
        );
    }

    #[test]
    fn signals_schema_matches_migration() {
        let sql = include_str!("../../migrations/0002_signals.sql");
        let expected: Vec<String> = SIGNALS_SCHEMA
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(migration_columns(sql, "signals"), expected);
    }

    #[test]
    fn events_schema_matches_migration() {
        let sql = include_str!("../../migrations/0001_events.sql");
        let body = sql
            .split_once("CREATE TABLE events (")
            .expect("migration creates events")
            .1;
        let names: Vec<&str> = body
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("--") && !l.starts_with(')'))
            .map(|l| l.split_whitespace().next().unwrap_or_default())
            .collect();
        let expected: Vec<&str> = EVENTS_SCHEMA
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, expected);
    }
}
