//! Arrow rows back into domain values: the inverse of
//! [`events_to_batch`](crate::storage::schema::events_to_batch) (a stored row → the normalized
//! [`Event`]), the slim [`TraceRow`] of `sql/trace_events.sql`, and typed column access for the
//! other read models.
//!
//! Columns are looked up by name and cast to the stored type when a plan produced an
//! equivalent one (e.g. a view type), so the readers do not depend on column order.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, ListArray, RecordBatch, StringArray,
    StructArray, TimestampNanosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use serde_json::{Map, Value};

use crate::model::{Anchor, Downstream, ErrorRef, Event, Log, Step, StepError, UnknownValue};

#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error("column {name} is missing")]
    MissingColumn { name: String },
    #[error("column {name} has type {found}, expected {expected}")]
    WrongType {
        name: String,
        found: DataType,
        expected: DataType,
    },
    #[error("column {name} holds a null in row {row}")]
    UnexpectedNull { name: String, row: usize },
    #[error("column {name} holds an invalid value in row {row}")]
    InvalidValue {
        name: String,
        row: usize,
        #[source]
        source: UnknownValue,
    },
    #[error("column {name} holds invalid JSON in row {row}")]
    Json {
        name: String,
        row: usize,
        #[source]
        source: serde_json::Error,
    },
}

pub type Result<T, E = RowError> = std::result::Result<T, E>;

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// A column of `batch` (or of a struct array) cast to `expected` when needed.
fn typed(column: Option<&ArrayRef>, name: &str, expected: &DataType) -> Result<ArrayRef> {
    let column = column.ok_or_else(|| RowError::MissingColumn { name: name.into() })?;
    if column.data_type() == expected {
        return Ok(column.clone());
    }
    cast(column, expected).map_err(|_| RowError::WrongType {
        name: name.into(),
        found: column.data_type().clone(),
        expected: expected.clone(),
    })
}

/// The string in `row` of `a`, `None` when null.
pub fn cell(a: &StringArray, row: usize) -> Option<String> {
    a.is_valid(row).then(|| a.value(row).to_string())
}

/// Typed access to one record batch's columns.
pub struct Columns<'a> {
    batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    pub fn new(batch: &'a RecordBatch) -> Self {
        Columns { batch }
    }

    fn get(&self, name: &str, expected: &DataType) -> Result<ArrayRef> {
        typed(self.batch.column_by_name(name), name, expected)
    }

    pub fn strings(&self, name: &str) -> Result<StringArray> {
        Ok(self.get(name, &DataType::Utf8)?.as_string::<i32>().clone())
    }

    pub fn ints(&self, name: &str) -> Result<Int64Array> {
        Ok(self
            .get(name, &DataType::Int64)?
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .clone())
    }

    pub fn floats(&self, name: &str) -> Result<Float64Array> {
        Ok(self
            .get(name, &DataType::Float64)?
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .clone())
    }

    pub fn timestamps(&self, name: &str) -> Result<TimestampNanosecondArray> {
        Ok(self
            .get(name, &ts_type())?
            .as_primitive::<datafusion::arrow::datatypes::TimestampNanosecondType>()
            .clone())
    }

    /// A `List<…>` column; its items are read with [`Columns::list_item`].
    pub fn list(&self, name: &str) -> Result<ListArray> {
        let column = self
            .batch
            .column_by_name(name)
            .ok_or_else(|| RowError::MissingColumn { name: name.into() })?;
        let column = match column.data_type() {
            DataType::List(_) => column.clone(),
            DataType::LargeList(f) | DataType::ListView(f) | DataType::LargeListView(f) => {
                let to = DataType::List(Arc::new(Field::new("item", f.data_type().clone(), true)));
                typed(Some(column), name, &to)?
            }
            other => {
                return Err(RowError::WrongType {
                    name: name.into(),
                    found: other.clone(),
                    expected: DataType::List(Arc::new(Field::new("item", DataType::Null, true))),
                });
            }
        };
        Ok(column.as_list::<i32>().clone())
    }

    /// The list of strings in row `row` of a `List<Utf8>` column (`[]` when null).
    pub fn string_list(&self, name: &str, row: usize) -> Result<Vec<String>> {
        let list = self.list(name)?;
        if list.is_null(row) {
            return Ok(Vec::new());
        }
        let items = typed(Some(&list.value(row)), name, &DataType::Utf8)?;
        Ok(items
            .as_string::<i32>()
            .iter()
            .flatten()
            .map(str::to_owned)
            .collect())
    }
}

pub(crate) fn req_str(a: &StringArray, name: &str, row: usize) -> Result<String> {
    if a.is_null(row) {
        return Err(RowError::UnexpectedNull {
            name: name.into(),
            row,
        });
    }
    Ok(a.value(row).to_owned())
}

/// A non-null string column holding one of an enum's wire values.
fn req_enum<T: std::str::FromStr<Err = UnknownValue>>(
    a: &StringArray,
    name: &str,
    row: usize,
) -> Result<T> {
    if a.is_null(row) {
        return Err(RowError::UnexpectedNull {
            name: name.into(),
            row,
        });
    }
    a.value(row)
        .parse()
        .map_err(|source| RowError::InvalidValue {
            name: name.into(),
            row,
            source,
        })
}

pub(crate) fn opt_str(a: &StringArray, row: usize) -> Option<String> {
    (!a.is_null(row)).then(|| a.value(row).to_owned())
}

/// `Some` only for a non-empty string (normalized events never hold empty optionals).
fn opt_non_empty(a: &StringArray, row: usize) -> Option<String> {
    opt_str(a, row).filter(|s| !s.is_empty())
}

fn req_int(a: &Int64Array, name: &str, row: usize) -> Result<i64> {
    if a.is_null(row) {
        return Err(RowError::UnexpectedNull {
            name: name.into(),
            row,
        });
    }
    Ok(a.value(row))
}

fn json_map(a: &StringArray, name: &str, row: usize) -> Result<Option<Map<String, Value>>> {
    let Some(text) = opt_str(a, row) else {
        return Ok(None);
    };
    let map: Map<String, Value> = serde_json::from_str(&text).map_err(|source| RowError::Json {
        name: name.into(),
        row,
        source,
    })?;
    Ok((!map.is_empty()).then_some(map))
}

/// The struct array holding the items of a list column (all rows).
fn struct_items(list: &ListArray, name: &str) -> Result<StructArray> {
    match list.values().data_type() {
        DataType::Struct(_) => Ok(list.values().as_struct().clone()),
        other => Err(RowError::WrongType {
            name: name.into(),
            found: other.clone(),
            expected: DataType::Struct(Default::default()),
        }),
    }
}

fn field_strings(s: &StructArray, parent: &str, name: &str) -> Result<StringArray> {
    let full = format!("{parent}.{name}");
    Ok(typed(s.column_by_name(name), &full, &DataType::Utf8)?
        .as_string::<i32>()
        .clone())
}

fn field_ints(s: &StructArray, parent: &str, name: &str) -> Result<Int64Array> {
    let full = format!("{parent}.{name}");
    Ok(typed(s.column_by_name(name), &full, &DataType::Int64)?
        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .clone())
}

fn field_struct(s: &StructArray, parent: &str, name: &str) -> Result<StructArray> {
    let full = format!("{parent}.{name}");
    let column = s
        .column_by_name(name)
        .ok_or_else(|| RowError::MissingColumn { name: full.clone() })?;
    match column.data_type() {
        DataType::Struct(_) => Ok(column.as_struct().clone()),
        other => Err(RowError::WrongType {
            name: full,
            found: other.clone(),
            expected: DataType::Struct(Default::default()),
        }),
    }
}

/// Decoded `steps` column: every item of every row, plus each row's item range.
struct StepsColumn {
    list: ListArray,
    name: StringArray,
    span_id: StringArray,
    start_ms: Int64Array,
    duration_ms: Int64Array,
    status: StringArray,
    downstream: StructArray,
    ds_service: StringArray,
    ds_endpoint: StringArray,
    ds_kind: StringArray,
    error: StructArray,
    err_code: StringArray,
    err_reason: StringArray,
    err_cause: StringArray,
}

impl StepsColumn {
    fn new(cols: &Columns<'_>) -> Result<Self> {
        let list = cols.list("steps")?;
        let items = struct_items(&list, "steps")?;
        let downstream = field_struct(&items, "steps", "downstream")?;
        let error = field_struct(&items, "steps", "error")?;
        Ok(StepsColumn {
            name: field_strings(&items, "steps", "name")?,
            span_id: field_strings(&items, "steps", "span_id")?,
            start_ms: field_ints(&items, "steps", "start_ms")?,
            duration_ms: field_ints(&items, "steps", "duration_ms")?,
            status: field_strings(&items, "steps", "status")?,
            ds_service: field_strings(&downstream, "steps.downstream", "service")?,
            ds_endpoint: field_strings(&downstream, "steps.downstream", "endpoint")?,
            ds_kind: field_strings(&downstream, "steps.downstream", "kind")?,
            err_code: field_strings(&error, "steps.error", "code")?,
            err_reason: field_strings(&error, "steps.error", "reason")?,
            err_cause: field_strings(&error, "steps.error", "cause")?,
            downstream,
            error,
            list,
        })
    }

    fn range(&self, row: usize) -> std::ops::Range<usize> {
        if self.list.is_null(row) {
            return 0..0;
        }
        let offsets = self.list.value_offsets();
        offsets[row] as usize..offsets[row + 1] as usize
    }

    fn steps(&self, row: usize) -> Result<Vec<Step>> {
        self.range(row)
            .map(|i| {
                let downstream = (!self.downstream.is_null(i))
                    .then(|| Downstream {
                        service: opt_non_empty(&self.ds_service, i),
                        endpoint: opt_non_empty(&self.ds_endpoint, i),
                        kind: opt_non_empty(&self.ds_kind, i),
                    })
                    .filter(|d| d.service.is_some() || d.endpoint.is_some() || d.kind.is_some());
                let error = (!self.error.is_null(i))
                    .then(|| StepError {
                        code: opt_non_empty(&self.err_code, i),
                        reason: opt_non_empty(&self.err_reason, i),
                        cause: opt_non_empty(&self.err_cause, i),
                    })
                    .filter(|e| e.code.is_some() || e.reason.is_some() || e.cause.is_some());
                Ok(Step {
                    name: req_str(&self.name, "steps.name", i)?,
                    span_id: opt_non_empty(&self.span_id, i),
                    start_ms: req_int(&self.start_ms, "steps.start_ms", i)?,
                    duration_ms: req_int(&self.duration_ms, "steps.duration_ms", i)?,
                    status: req_enum(&self.status, "steps.status", i)?,
                    downstream,
                    error,
                })
            })
            .collect()
    }
}

fn list_range(list: &ListArray, row: usize) -> std::ops::Range<usize> {
    if list.is_null(row) {
        return 0..0;
    }
    let offsets = list.value_offsets();
    offsets[row] as usize..offsets[row + 1] as usize
}

/// Every row of `batch` (the stored event columns) as a normalized [`Event`].
pub fn batch_to_events(batch: &RecordBatch) -> Result<Vec<Event>> {
    let cols = Columns::new(batch);
    let event_id = cols.strings("event_id")?;
    let trace_id = cols.strings("trace_id")?;
    let span_id = cols.strings("span_id")?;
    let parent_span_id = cols.strings("parent_span_id")?;
    let ts_start = cols.timestamps("ts_start")?;
    let ts_end = cols.timestamps("ts_end")?;
    let duration_ms = cols.ints("duration_ms")?;
    let kind = cols.strings("kind")?;
    let service = cols.strings("service")?;
    let env = cols.strings("env")?;
    let status = cols.strings("status")?;
    let version = cols.strings("version")?;
    let anchor_step = cols.strings("anchor_step")?;
    let anchor_error_code = cols.strings("anchor_error_code")?;
    let anchor_kind = cols.strings("anchor_kind")?;
    let steps = StepsColumn::new(&cols)?;
    let logs = cols.list("logs")?;
    let log_items = struct_items(&logs, "logs")?;
    let log_offset = field_ints(&log_items, "logs", "ts_offset_ms")?;
    let log_level = field_strings(&log_items, "logs", "level")?;
    let log_msg = field_strings(&log_items, "logs", "msg")?;
    let log_fields = field_strings(&log_items, "logs", "fields")?;
    let errors = cols.list("errors")?;
    let err_items = struct_items(&errors, "errors")?;
    let err_code = field_strings(&err_items, "errors", "code")?;
    let err_reason = field_strings(&err_items, "errors", "reason")?;
    let fields = cols.strings("fields")?;

    (0..batch.num_rows())
        .map(|row| {
            let anchor = match (opt_str(&anchor_step, row), opt_str(&anchor_error_code, row)) {
                (Some(step), Some(error_code)) => Some(Anchor {
                    step,
                    error_code,
                    kind: opt_non_empty(&anchor_kind, row),
                }),
                _ => None,
            };
            let logs = list_range(&logs, row)
                .map(|i| {
                    Ok(Log {
                        ts_offset_ms: req_int(&log_offset, "logs.ts_offset_ms", i)?,
                        level: req_enum(&log_level, "logs.level", i)?,
                        msg: req_str(&log_msg, "logs.msg", i)?,
                        fields: json_map(&log_fields, "logs.fields", i)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let errors = list_range(&errors, row)
                .map(|i| {
                    Ok(ErrorRef {
                        code: req_str(&err_code, "errors.code", i)?,
                        reason: opt_non_empty(&err_reason, i),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Event {
                schema_version: crate::model::SchemaVersion::V2,
                event_id: req_str(&event_id, "event_id", row)?,
                ts_start_ns: ts_start.value(row),
                ts_end_ns: ts_end.value(row),
                duration_ms: req_int(&duration_ms, "duration_ms", row)?,
                kind: req_enum(&kind, "kind", row)?,
                service: req_str(&service, "service", row)?,
                env: req_str(&env, "env", row)?,
                version: opt_non_empty(&version, row),
                trace_id: req_str(&trace_id, "trace_id", row)?,
                span_id: req_str(&span_id, "span_id", row)?,
                parent_span_id: req_str(&parent_span_id, "parent_span_id", row)?,
                status: req_enum(&status, "status", row)?,
                anchor,
                steps: steps.steps(row)?,
                logs,
                fields: json_map(&fields, "fields", row)?,
                errors,
            })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::validate_item;
    use crate::storage::schema::events_to_batch;
    use serde_json::json;

    const NOW: i64 = 1_777_888_800_000_000_000;

    pub(crate) fn full_event() -> Event {
        let v = json!({
            "schema_version": "2.0",
            "event_id": "11111111-1111-4111-8111-111111111111",
            "ts_start": "2026-05-04T09:59:59.062Z",
            "ts_end": "2026-05-04T09:59:59.104Z",
            "duration_ms": 42,
            "kind": "http",
            "service": "checkout",
            "env": "prod",
            "version": "1.4.2",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": "00f067aa0ba902b7",
            "parent_span_id": "a1a1a1a1a1a1a1a1",
            "status": "error",
            "anchor": {"step": "payment.charge", "error_code": "PMT_502", "kind": "dependency"},
            "steps": [
                {"name": "cart.validate", "start_ms": 0, "duration_ms": 1, "status": "ok"},
                {"name": "payment.charge", "span_id": "b2b2b2b2b2b2b2b2", "start_ms": 7,
                 "duration_ms": 35, "status": "error",
                 "downstream": {"service": "payment", "endpoint": "/charge"},
                 "error": {"code": "PMT_502", "reason": "upstream gateway 5xx"}}
            ],
            "logs": [
                {"ts_offset_ms": 40, "level": "warn", "msg": "retrying payment",
                 "fields": {"attempt": 2, "a": {"z": 1, "b": [1, 2]}}},
                {"ts_offset_ms": 41, "level": "info", "msg": "done"}
            ],
            "fields": {"http": {"method": "POST", "route": "/checkout", "status": 502},
                       "user": {"id": "u1", "tier": "gold"}, "zeta": null},
            "errors": [{"code": "PMT_502", "reason": "gateway"}, {"code": ""}]
        });
        validate_item(&v, NOW).unwrap()
    }

    fn minimal_event(id: &str) -> Event {
        let v = json!({
            "schema_version": "2.0", "event_id": id,
            "ts_start": "2026-05-04T09:00:00Z", "ts_end": "2026-05-04T09:00:00Z",
            "kind": "rpc", "service": "s", "env": "e",
            "trace_id": "0123456789abcdef0123456789abcdef", "status": "ok"
        });
        validate_item(&v, NOW).unwrap()
    }

    #[test]
    fn rows_round_trip_events_through_arrow() {
        let events = vec![full_event(), minimal_event("m1"), full_event()];
        let batch = events_to_batch(&events).unwrap();
        let back = batch_to_events(&batch).unwrap();
        assert_eq!(back, events);
        assert_eq!(
            serde_json::to_value(&back[0]).unwrap(),
            serde_json::to_value(&events[0]).unwrap()
        );
    }

    #[test]
    fn rows_read_a_projection_in_any_column_order() {
        let events = vec![full_event()];
        let batch = events_to_batch(&events).unwrap();
        let mut idx: Vec<usize> = (0..batch.num_columns()).collect();
        idx.reverse();
        let reordered = batch.project(&idx).unwrap();
        assert_eq!(batch_to_events(&reordered).unwrap(), events);
    }

    #[test]
    fn rows_report_a_missing_column() {
        let batch = events_to_batch(&[minimal_event("x")]).unwrap();
        let without = batch.project(&[0, 1, 2]).unwrap();
        match batch_to_events(&without) {
            Err(RowError::MissingColumn { name }) => assert_eq!(name, "parent_span_id"),
            other => panic!("{other:?}"),
        }
    }

    mod prop {
        use super::*;
        use crate::model::{EventKind, EventStatus, LogLevel, StepStatus};
        use proptest::prelude::*;

        fn word() -> impl Strategy<Value = String> {
            "[a-z:\\\\ é]{1,6}"
        }

        fn opt_word() -> impl Strategy<Value = Option<String>> {
            proptest::option::of(word())
        }

        fn json_map() -> impl Strategy<Value = Option<Map<String, Value>>> {
            proptest::option::of(
                proptest::collection::btree_map(word(), any::<i64>(), 1..3).prop_map(|m| {
                    m.into_iter()
                        .map(|(k, v)| (k, Value::from(v)))
                        .collect::<Map<String, Value>>()
                }),
            )
        }

        fn step() -> impl Strategy<Value = Step> {
            (
                word(),
                opt_word(),
                0i64..1000,
                0i64..1000,
                prop_oneof![Just(StepStatus::Ok), Just(StepStatus::Error)],
                proptest::option::of((word(), opt_word(), opt_word())),
                proptest::option::of((opt_word(), word(), opt_word())),
            )
                .prop_map(|(name, span_id, start_ms, duration_ms, status, ds, err)| {
                    Step {
                        name,
                        span_id,
                        start_ms,
                        duration_ms,
                        status,
                        downstream: ds.map(|(service, endpoint, kind)| Downstream {
                            service: Some(service),
                            endpoint,
                            kind,
                        }),
                        error: err.map(|(code, reason, cause)| StepError {
                            code,
                            reason: Some(reason),
                            cause,
                        }),
                    }
                })
        }

        fn event() -> impl Strategy<Value = Event> {
            (
                (
                    word(),
                    any::<i64>(),
                    any::<i64>(),
                    0i64..i64::MAX,
                    word(),
                    opt_word(),
                ),
                proptest::option::of((word(), word(), opt_word())),
                proptest::collection::vec(step(), 0..3),
                proptest::collection::vec(
                    (
                        any::<i64>(),
                        proptest::sample::select(LogLevel::ALL),
                        ".{0,8}",
                        json_map(),
                    ),
                    0..3,
                ),
                json_map(),
                proptest::collection::vec((".{0,4}", opt_word()), 0..3),
            )
                .prop_map(
                    |(
                        (id, start, end, dur, service, version),
                        anchor,
                        steps,
                        logs,
                        fields,
                        errors,
                    )| {
                        Event {
                            schema_version: crate::model::SchemaVersion::V2,
                            event_id: id,
                            ts_start_ns: start,
                            ts_end_ns: end,
                            duration_ms: dur,
                            kind: EventKind::Http,
                            service,
                            env: "prod".into(),
                            version,
                            trace_id: "0123456789abcdef0123456789abcdef".into(),
                            span_id: String::new(),
                            parent_span_id: "00f067aa0ba902b7".into(),
                            status: EventStatus::Error,
                            anchor: anchor.map(|(step, error_code, kind)| Anchor {
                                step,
                                error_code,
                                kind,
                            }),
                            steps,
                            logs: logs
                                .into_iter()
                                .map(|(ts_offset_ms, level, msg, fields)| Log {
                                    ts_offset_ms,
                                    level,
                                    msg,
                                    fields,
                                })
                                .collect(),
                            fields,
                            errors: errors
                                .into_iter()
                                .map(|(code, reason)| ErrorRef { code, reason })
                                .collect(),
                        }
                    },
                )
        }

        proptest! {
            #[test]
            fn rows_invert_events_to_batch(events in proptest::collection::vec(event(), 0..5)) {
                let batch = events_to_batch(&events).unwrap();
                prop_assert_eq!(batch_to_events(&batch).unwrap(), events);
            }
        }
    }
}
