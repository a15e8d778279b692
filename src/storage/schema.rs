//! Arrow schemas of the stored tables and the conversion of normalized events into record
//! batches. The column list is the contract of spec reads §1.7 and is mirrored, column for
//! column, by `migrations/0001_events.sql` (a test keeps the two in step).

use std::sync::{Arc, LazyLock};

use crate::model::fast::{EventView, FieldsView, KnownFields, LogView, StepView, Triple};
use crate::model::{Event, EventKind};
use datafusion::arrow::array::{
    Array, ArrayRef, Int64Array, Int64Builder, ListArray, RecordBatch, StringArray, StringBuilder,
    StructArray, TimestampNanosecondArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;

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
    /// `sort_indices` in `storage`): the failed rows first, then the other rows of the traces that
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

/// One `events` record batch under construction: rows are appended from [`EventView`]s (the
/// ingest fast path's borrowed rows, or [`Event::view`]) straight into the column buffers, so a
/// request's strings are copied once, from the body into Arrow.
pub struct EventColumns {
    rows: usize,
    event_id: StringBuilder,
    trace_id: StringBuilder,
    span_id: StringBuilder,
    parent_span_id: StringBuilder,
    ts_start: Vec<i64>,
    ts_end: Vec<i64>,
    duration_ms: Vec<i64>,
    kind: StringBuilder,
    service: StringBuilder,
    env: StringBuilder,
    status: StringBuilder,
    version: StringBuilder,
    anchor: [StringBuilder; 3],
    http_method: StringBuilder,
    http_route: StringBuilder,
    http_status: Int64Builder,
    user: [StringBuilder; 3],
    steps: StepColumns,
    logs: LogColumns,
    errors: ErrorRefColumns,
    fields: StringBuilder,
}

#[derive(Default)]
struct StepColumns {
    lens: Vec<usize>,
    name: StringBuilder,
    span_id: StringBuilder,
    start_ms: Vec<i64>,
    duration_ms: Vec<i64>,
    status: StringBuilder,
    downstream: TripleColumns,
    error: TripleColumns,
}

/// A nullable struct of three nullable strings (`downstream`, a step's `error`).
#[derive(Default)]
struct TripleColumns {
    valid: Vec<bool>,
    members: [StringBuilder; 3],
}

#[derive(Default)]
struct LogColumns {
    lens: Vec<usize>,
    ts_offset_ms: Vec<i64>,
    level: StringBuilder,
    msg: StringBuilder,
    fields: StringBuilder,
}

#[derive(Default)]
struct ErrorRefColumns {
    lens: Vec<usize>,
    code: StringBuilder,
    reason: StringBuilder,
}

impl TripleColumns {
    fn push(&mut self, t: Option<&Triple<'_>>) {
        self.valid.push(t.is_some());
        for (i, b) in self.members.iter_mut().enumerate() {
            b.append_option(t.and_then(|t| t.0[i].as_deref()));
        }
    }

    fn finish(mut self, fields: Fields) -> Result<ArrayRef, ArrowError> {
        let columns = self
            .members
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        Ok(Arc::new(StructArray::try_new(
            fields,
            columns,
            Some(NullBuffer::from(self.valid)),
        )?))
    }
}

impl Default for EventColumns {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl EventColumns {
    /// Buffers sized for `rows` rows of ~1 KiB events.
    pub fn with_capacity(rows: usize) -> Self {
        let s = |bytes: usize| StringBuilder::with_capacity(rows, rows * bytes);
        EventColumns {
            rows: 0,
            event_id: s(36),
            trace_id: s(32),
            span_id: s(16),
            parent_span_id: s(16),
            ts_start: Vec::with_capacity(rows),
            ts_end: Vec::with_capacity(rows),
            duration_ms: Vec::with_capacity(rows),
            kind: s(4),
            service: s(12),
            env: s(8),
            status: s(4),
            version: s(12),
            anchor: Default::default(),
            http_method: s(4),
            http_route: s(24),
            http_status: Int64Builder::with_capacity(rows),
            user: [s(8), s(8), s(12)],
            steps: StepColumns::default(),
            logs: LogColumns::default(),
            errors: ErrorRefColumns::default(),
            fields: s(400),
        }
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// No row appended yet.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Append one row.
    pub fn push(&mut self, e: &EventView<'_>) {
        self.rows += 1;
        self.event_id.append_value(&e.event_id);
        self.trace_id.append_value(&e.trace_id);
        self.span_id.append_value(&e.span_id);
        self.parent_span_id.append_value(&e.parent_span_id);
        self.ts_start.push(e.ts_start_ns);
        self.ts_end.push(e.ts_end_ns);
        self.duration_ms.push(e.duration_ms);
        self.kind.append_value(e.kind.as_str());
        self.service.append_value(&e.service);
        self.env.append_value(&e.env);
        self.status.append_value(e.status.as_str());
        self.version.append_option(e.version.as_deref());
        let a = e.anchor.as_ref();
        self.anchor[0].append_option(a.map(|a| &*a.step));
        self.anchor[1].append_option(a.map(|a| &*a.error_code));
        self.anchor[2].append_option(a.and_then(|a| a.kind.as_deref()));
        let known = e.fields.as_ref().map(FieldsView::known).unwrap_or_default();
        self.http_method.append_option(known.http_method);
        self.push_route(e.kind, &known);
        self.http_status.append_option(known.http_status);
        for (b, v) in self
            .user
            .iter_mut()
            .zip([known.user_id, known.user_tier, known.user_region])
        {
            b.append_option(v.filter(|v| !v.is_empty()));
        }
        self.push_steps(&e.steps);
        self.push_logs(&e.logs);
        self.errors.lens.push(e.errors.len());
        for r in &e.errors {
            self.errors.code.append_value(&r.code);
            self.errors.reason.append_option(r.reason.as_deref());
        }
        self.fields
            .append_option(e.fields.as_ref().map(FieldsView::to_json));
    }

    /// The route of an event (events §1.5): `fields.http.route` when a string, else for RPC
    /// events `<fields.rpc.service>/<fields.rpc.method>`.
    fn push_route(&mut self, kind: EventKind, known: &KnownFields<'_>) {
        match (known.http_route, kind, known.rpc_service, known.rpc_method) {
            (Some(route), ..) => self.http_route.append_value(route),
            (None, EventKind::Rpc, Some(service), Some(method)) => {
                self.http_route.append_value(format!("{service}/{method}"))
            }
            _ => self.http_route.append_null(),
        }
    }

    fn push_steps(&mut self, steps: &[StepView<'_>]) {
        let c = &mut self.steps;
        c.lens.push(steps.len());
        for s in steps {
            c.name.append_value(&s.name);
            c.span_id.append_option(s.span_id.as_deref());
            c.start_ms.push(s.start_ms);
            c.duration_ms.push(s.duration_ms);
            c.status.append_value(s.status.as_str());
            c.downstream.push(s.downstream.as_ref());
            c.error.push(s.error.as_ref());
        }
    }

    fn push_logs(&mut self, logs: &[LogView<'_>]) {
        let c = &mut self.logs;
        c.lens.push(logs.len());
        for l in logs {
            c.ts_offset_ms.push(l.ts_offset_ms);
            c.level.append_value(l.level.as_str());
            c.msg.append_value(&l.msg);
            c.fields
                .append_option(l.fields.as_ref().map(FieldsView::to_json));
        }
    }

    /// The batch of every row appended, in order.
    pub fn finish(mut self) -> Result<RecordBatch, ArrowError> {
        let ts = |v: Vec<i64>| -> ArrayRef {
            Arc::new(TimestampNanosecondArray::from(v).with_timezone("UTC"))
        };
        let string = |b: &mut StringBuilder| -> ArrayRef { Arc::new(b.finish()) };
        let [anchor_step, anchor_code, anchor_kind] = &mut self.anchor;
        let [user_id, user_tier, user_region] = &mut self.user;
        let steps = self.steps;
        let mut step_name = steps.name;
        let mut step_span = steps.span_id;
        let mut step_status = steps.status;
        let steps_col = list_column(
            step_fields(),
            steps.lens,
            vec![
                string(&mut step_name),
                string(&mut step_span),
                Arc::new(Int64Array::from(steps.start_ms)),
                Arc::new(Int64Array::from(steps.duration_ms)),
                string(&mut step_status),
                steps.downstream.finish(downstream_fields())?,
                steps.error.finish(step_error_fields())?,
            ],
        )?;
        let mut logs = self.logs;
        let logs_col = list_column(
            log_fields(),
            logs.lens,
            vec![
                Arc::new(Int64Array::from(logs.ts_offset_ms)),
                string(&mut logs.level),
                string(&mut logs.msg),
                string(&mut logs.fields),
            ],
        )?;
        let mut errors = self.errors;
        let errors_col = list_column(
            error_ref_fields(),
            errors.lens,
            vec![string(&mut errors.code), string(&mut errors.reason)],
        )?;
        let cols: Vec<ArrayRef> = vec![
            string(&mut self.event_id),
            string(&mut self.trace_id),
            string(&mut self.span_id),
            string(&mut self.parent_span_id),
            ts(self.ts_start),
            ts(self.ts_end),
            Arc::new(Int64Array::from(self.duration_ms)),
            string(&mut self.kind),
            string(&mut self.service),
            string(&mut self.env),
            string(&mut self.status),
            string(&mut self.version),
            string(anchor_step),
            string(anchor_code),
            string(anchor_kind),
            string(&mut self.http_method),
            string(&mut self.http_route),
            Arc::new(self.http_status.finish()),
            string(user_id),
            string(user_tier),
            string(user_region),
            steps_col,
            logs_col,
            errors_col,
            string(&mut self.fields),
        ];
        debug_assert!(cols.iter().all(|c| c.len() == self.rows));
        RecordBatch::try_new(EVENTS_SCHEMA.clone(), cols)
    }
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
        OffsetBuffer::from_lengths(lens),
        Arc::new(values),
        None,
    )?))
}

/// Build one `events` record batch from normalized events, in the given order.
pub fn events_to_batch(events: &[Event]) -> Result<RecordBatch, ArrowError> {
    let mut cols = EventColumns::with_capacity(events.len());
    for e in events {
        cols.push(&e.view());
    }
    cols.finish()
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
