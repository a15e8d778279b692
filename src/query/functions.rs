//! waylog's SQL functions, registered on every session (read models and user SQL alike).
//!
//! - `step_downstream(steps, name)`: the `downstream.service` of the step of an event's
//!   `steps` that is named `name`, chosen as spec triage §2.10 says: the latest-starting such
//!   step with status `error`, else the latest-starting one; equal starts go to the later
//!   step in array order. NULL when no step has that name or the chosen step names no
//!   downstream service. One pass over the list arrays, no unnesting.
//! - `step_downstreams(steps)`: the same choice for every step name of the event at once, as
//!   a list of `{step, downstream}` (one entry per distinct name whose chosen step names a
//!   downstream service, in order of first appearance); what the per-source summaries of the
//!   suspect dimensions unnest.
//! - `step_span_ids(steps)`: the non-empty `span_id`s of an event's `steps`, in array order
//!   (`List<Utf8>`): what origin resolution links child events by (spec reads §3), without
//!   carrying the nested steps through joins and sorts.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayBuilder, ArrayRef, AsArray, Int64Array, ListArray, StringArray, StringBuilder,
    StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::FieldRef;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

/// Register waylog's functions on `ctx`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(STEP_DOWNSTREAM.clone());
    ctx.register_udf(STEP_DOWNSTREAMS.clone());
    ctx.register_udf(STEP_SPAN_IDS.clone());
}

/// `step_span_ids`, for plans built outside SQL.
pub fn step_span_ids_udf() -> ScalarUDF {
    STEP_SPAN_IDS.clone()
}

static STEP_SPAN_IDS: LazyLock<ScalarUDF> =
    LazyLock::new(|| ScalarUDF::new_from_impl(StepSpanIds::new()));

#[derive(Debug, PartialEq, Eq, Hash)]
struct StepSpanIds {
    signature: Signature,
}

impl StepSpanIds {
    fn new() -> Self {
        StepSpanIds {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    fn item() -> Arc<datafusion::arrow::datatypes::Field> {
        Arc::new(datafusion::arrow::datatypes::Field::new(
            "item",
            DataType::Utf8,
            true,
        ))
    }
}

impl ScalarUDFImpl for StepSpanIds {
    fn name(&self) -> &str {
        "step_span_ids"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        list_of_steps_type(arg_types, self.name(), Self::item())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let out = match steps_list(&args, self.name())? {
            None => ListArray::new(
                Self::item(),
                list_offsets(n, self.name(), |_| 0)?,
                Arc::new(StringBuilder::new().finish()),
                None,
            ),
            Some(list) => step_span_ids_of(&list, n, |row| row)?,
        };
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// The type of `step_span_ids(steps)`: a list of nullable Utf8 `item`s.
pub fn step_span_ids_type() -> DataType {
    DataType::List(StepSpanIds::item())
}

/// `step_span_ids` of `n` rows of `steps`, the `k`-th output row being row `row(k)` of
/// `steps`. `steps` is a list of structs of which only `span_id` is read, so a list of
/// structs holding that one field (a Parquet read of that leaf alone) serves as well.
pub fn step_span_ids_of(
    steps: &ListArray,
    n: usize,
    row: impl Fn(usize) -> usize,
) -> Result<ListArray> {
    let span_ids = match steps
        .values()
        .as_struct_opt()
        .and_then(|s| s.column_by_name("span_id"))
    {
        Some(c) => utf8(c)?,
        None => return exec_err!("step_span_ids: steps have no field span_id"),
    };
    let mut ids = StringBuilder::new();
    let offsets = list_offsets(n, "step_span_ids", |k| {
        for i in list_range(steps, row(k)) {
            if span_ids.is_valid(i) && !span_ids.value(i).is_empty() {
                ids.append_value(span_ids.value(i));
            }
        }
        ids.len()
    })?;
    Ok(ListArray::new(
        StepSpanIds::item(),
        offsets,
        Arc::new(ids.finish()),
        None,
    ))
}

/// The `steps` argument of a one-argument step function (`None`: a Null column).
fn steps_list(args: &ScalarFunctionArgs, function: &str) -> Result<Option<ListArray>> {
    let [steps] = args.args.as_slice() else {
        return exec_err!("{function} takes (steps)");
    };
    let steps = steps.to_array(args.number_rows)?;
    if steps.data_type() == &DataType::Null {
        return Ok(None);
    }
    Ok(Some(steps.as_list::<i32>().clone()))
}

/// The return type of a function of `steps` that gives a list of `item` per event.
fn list_of_steps_type(arg_types: &[DataType], function: &str, item: FieldRef) -> Result<DataType> {
    match arg_types.first() {
        Some(DataType::List(_) | DataType::Null) => Ok(DataType::List(item)),
        other => exec_err!("{function}: steps must be a list, got {other:?}"),
    }
}

/// The item positions of `row` of `list` (none for a null row).
fn list_range(list: &ListArray, row: usize) -> std::ops::Range<usize> {
    if list.is_null(row) {
        return 0..0;
    }
    let offsets = list.value_offsets();
    offsets[row] as usize..offsets[row + 1] as usize
}

/// The offsets of an output list of `n` rows: `push_row(row)` appends the row's items and
/// returns how many items have been appended in total.
fn list_offsets(
    n: usize,
    function: &str,
    mut push_row: impl FnMut(usize) -> usize,
) -> Result<OffsetBuffer<i32>> {
    let mut offsets: Vec<i32> = Vec::with_capacity(n + 1);
    offsets.push(0);
    for row in 0..n {
        let total = push_row(row);
        offsets.push(i32::try_from(total).map_err(|_| {
            datafusion::error::DataFusionError::Execution(format!(
                "{function}: too many items in one batch"
            ))
        })?);
    }
    Ok(OffsetBuffer::new(offsets.into()))
}

static STEP_DOWNSTREAMS: LazyLock<ScalarUDF> =
    LazyLock::new(|| ScalarUDF::new_from_impl(StepDownstreams::new()));

/// The columns of a `steps` list that the §2.10 choice reads.
struct StepColumns {
    names: StringArray,
    statuses: StringArray,
    starts: Int64Array,
    downstream: datafusion::arrow::array::StructArray,
    services: StringArray,
}

impl StepColumns {
    fn new(list: &datafusion::arrow::array::ListArray, function: &str) -> Result<Self> {
        let values = list.values().as_struct();
        let column = |field: &str| {
            values.column_by_name(field).cloned().ok_or_else(|| {
                datafusion::error::DataFusionError::Execution(format!(
                    "{function}: steps have no field {field}"
                ))
            })
        };
        let downstream = column("downstream")?.as_struct().clone();
        let services = utf8(downstream.column_by_name("service").ok_or_else(|| {
            datafusion::error::DataFusionError::Execution(format!(
                "{function}: downstream has no service"
            ))
        })?)?;
        Ok(StepColumns {
            names: utf8(&column("name")?)?,
            statuses: utf8(&column("status")?)?,
            starts: cast(&column("start_ms")?, &DataType::Int64)?
                .as_primitive::<Int64Type>()
                .clone(),
            downstream,
            services,
        })
    }

    /// The §2.10 preference of step `i`: (is error, start_ms, position); the maximum wins.
    fn key(&self, i: usize) -> (bool, i64, usize) {
        (
            !self.statuses.is_null(i) && self.statuses.value(i) == "error",
            if self.starts.is_null(i) {
                i64::MIN
            } else {
                self.starts.value(i)
            },
            i,
        )
    }

    /// The downstream service of step `i`, if it names one.
    fn service(&self, i: usize) -> Option<&str> {
        (self.downstream.is_valid(i) && self.services.is_valid(i)).then(|| self.services.value(i))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct StepDownstreams {
    signature: Signature,
}

impl StepDownstreams {
    fn new() -> Self {
        StepDownstreams {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    fn entry_fields() -> datafusion::arrow::datatypes::Fields {
        vec![
            datafusion::arrow::datatypes::Field::new("step", DataType::Utf8, true),
            datafusion::arrow::datatypes::Field::new("downstream", DataType::Utf8, true),
        ]
        .into()
    }

    fn item() -> Arc<datafusion::arrow::datatypes::Field> {
        Arc::new(datafusion::arrow::datatypes::Field::new(
            "item",
            DataType::Struct(Self::entry_fields()),
            true,
        ))
    }
}

impl ScalarUDFImpl for StepDownstreams {
    fn name(&self) -> &str {
        "step_downstreams"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        list_of_steps_type(arg_types, self.name(), Self::item())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let mut step_out = StringBuilder::new();
        let mut service_out = StringBuilder::new();
        let offsets = match steps_list(&args, self.name())? {
            None => list_offsets(n, self.name(), |_| 0)?,
            Some(list) => {
                let cols = StepColumns::new(&list, self.name())?;
                // Per row: (name, best step) in order of first appearance.
                let mut best: Vec<(&str, (bool, i64, usize))> = Vec::new();
                list_offsets(n, self.name(), |row| {
                    best.clear();
                    for i in list_range(&list, row) {
                        if cols.names.is_null(i) {
                            continue;
                        }
                        let (name, key) = (cols.names.value(i), cols.key(i));
                        match best.iter_mut().find(|b| b.0 == name) {
                            Some(b) if key > b.1 => b.1 = key,
                            Some(_) => {}
                            None => best.push((name, key)),
                        }
                    }
                    for (name, (_, _, i)) in &best {
                        if let Some(service) = cols.service(*i) {
                            step_out.append_value(name);
                            service_out.append_value(service);
                        }
                    }
                    step_out.len()
                })?
            }
        };
        let entries = StructArray::new(
            Self::entry_fields(),
            vec![
                Arc::new(step_out.finish()) as ArrayRef,
                Arc::new(service_out.finish()) as ArrayRef,
            ],
            None,
        );
        Ok(ColumnarValue::Array(Arc::new(ListArray::new(
            Self::item(),
            offsets,
            Arc::new(entries),
            None,
        ))))
    }
}

static STEP_DOWNSTREAM: LazyLock<ScalarUDF> =
    LazyLock::new(|| ScalarUDF::new_from_impl(StepDownstream::new()));

#[derive(Debug, PartialEq, Eq, Hash)]
struct StepDownstream {
    signature: Signature,
}

impl StepDownstream {
    fn new() -> Self {
        StepDownstream {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// A string column of the step structs as `Utf8` (Parquet may hand back views).
fn utf8(a: &ArrayRef) -> Result<StringArray> {
    let a = match a.data_type() {
        DataType::Utf8 => a.clone(),
        _ => cast(a, &DataType::Utf8)?,
    };
    Ok(a.as_string::<i32>().clone())
}

impl ScalarUDFImpl for StepDownstream {
    fn name(&self) -> &str {
        "step_downstream"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(DataType::List(_) | DataType::LargeList(_) | DataType::Null) => Ok(DataType::Utf8),
            other => exec_err!("step_downstream: steps must be a list, got {other:?}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let [steps, name] = args.args.as_slice() else {
            return exec_err!("step_downstream takes (steps, name)");
        };
        let name: Option<String> = match name {
            ColumnarValue::Scalar(s) => match s.cast_to(&DataType::Utf8)? {
                ScalarValue::Utf8(v) => v,
                _ => None,
            },
            ColumnarValue::Array(_) => {
                return exec_err!("step_downstream: the step name must be a constant");
            }
        };
        let steps = steps.to_array(n)?;
        let Some(name) = name else {
            return Ok(ColumnarValue::Array(Arc::new(StringArray::new_null(n))));
        };
        if steps.data_type() == &DataType::Null {
            return Ok(ColumnarValue::Array(Arc::new(StringArray::new_null(n))));
        }
        let list = steps.as_list::<i32>();
        let cols = StepColumns::new(list, "step_downstream")?;
        let mut out = StringBuilder::with_capacity(n, n * 8);
        for row in 0..n {
            let mut best: Option<(bool, i64, usize)> = None;
            for i in list_range(list, row) {
                if cols.names.is_null(i) || cols.names.value(i) != name {
                    continue;
                }
                let key = cols.key(i);
                if best.is_none_or(|b| key > b) {
                    best = Some(key);
                }
            }
            match best.and_then(|(_, _, i)| cols.service(i)) {
                Some(service) => out.append_value(service),
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, Step};
    use crate::storage::schema::{EVENTS_SCHEMA, events_to_batch};
    use datafusion::datasource::MemTable;

    fn step(name: &str, status: &str, start_ms: i64, service: Option<&str>) -> Step {
        crate::model::event::test_step(name, status, start_ms, service.unwrap_or(""))
    }

    async fn downstreams(steps: Vec<Vec<Step>>, name: &str) -> Vec<Option<String>> {
        let events: Vec<Event> = steps
            .into_iter()
            .enumerate()
            .map(|(i, steps)| {
                let mut e = crate::model::event::test_event(100 + i, "checkout", "ok", 1);
                e.steps = steps;
                e
            })
            .collect();
        let ctx = SessionContext::new();
        register(&ctx);
        let batch = events_to_batch(&events).unwrap();
        let table = MemTable::try_new(EVENTS_SCHEMA.clone(), vec![vec![batch]]).unwrap();
        ctx.register_table("events", Arc::new(table)).unwrap();
        let sql =
            format!("SELECT step_downstream(steps, '{name}') AS d FROM events ORDER BY event_id");
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        batches
            .iter()
            .flat_map(|b| {
                let a = b.column(0).as_string::<i32>().clone();
                (0..a.len())
                    .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[tokio::test]
    async fn picks_the_spec_step() {
        let got = downstreams(
            vec![
                // error beats a later ok step
                vec![
                    step("pay", "error", 10, Some("a")),
                    step("pay", "ok", 20, Some("b")),
                ],
                // latest start among errors
                vec![
                    step("pay", "error", 30, Some("late")),
                    step("pay", "error", 10, Some("early")),
                ],
                // equal starts: later in array order
                vec![
                    step("pay", "ok", 5, Some("first")),
                    step("pay", "ok", 5, Some("second")),
                ],
                // no step of that name
                vec![step("db", "error", 5, Some("db"))],
                // chosen step has no downstream
                vec![
                    step("pay", "error", 5, None),
                    step("pay", "ok", 9, Some("x")),
                ],
                vec![],
            ],
            "pay",
        )
        .await;
        assert_eq!(
            got,
            vec![
                Some("a".to_string()),
                Some("late".to_string()),
                Some("second".to_string()),
                None,
                None,
                None,
            ]
        );
    }

    #[tokio::test]
    async fn every_step_name_at_once_agrees_with_the_single_name_choice() {
        let events: Vec<Event> = [
            vec![
                step("pay", "error", 10, Some("a")),
                step("db", "ok", 3, Some("pg")),
                step("pay", "ok", 20, Some("b")),
            ],
            vec![
                step("db", "ok", 5, Some("first")),
                step("db", "ok", 5, Some("second")),
                step("cache", "error", 1, None),
            ],
            vec![],
        ]
        .into_iter()
        .enumerate()
        .map(|(i, steps)| {
            let mut e = crate::model::event::test_event(100 + i, "checkout", "ok", 1);
            e.steps = steps;
            e
        })
        .collect();
        let ctx = SessionContext::new();
        register(&ctx);
        let batch = events_to_batch(&events).unwrap();
        let table = MemTable::try_new(EVENTS_SCHEMA.clone(), vec![vec![batch]]).unwrap();
        ctx.register_table("events", Arc::new(table)).unwrap();
        let sql = "SELECT event_id, d['step'] AS step, d['downstream'] AS downstream \
                   FROM (SELECT event_id, unnest(step_downstreams(steps)) AS d FROM events) \
                   ORDER BY event_id, step";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut got = Vec::new();
        for b in &batches {
            let col = |i: usize| b.column(i).as_string::<i32>().clone();
            let (id, name, ds) = (col(0), col(1), col(2));
            for r in 0..b.num_rows() {
                got.push((
                    id.value(r).to_string(),
                    name.value(r).to_string(),
                    ds.value(r).to_string(),
                ));
            }
        }
        let e = |i: usize| events[i].event_id.clone();
        let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        // The choice of `step_downstream` per name; `cache` chose a step without downstream.
        assert_eq!(
            got,
            vec![
                t(&e(0), "db", "pg"),
                t(&e(0), "pay", "a"),
                t(&e(1), "db", "second"),
            ]
        );
        for (name, want) in [("pay", "a"), ("db", "pg")] {
            let single = downstreams(vec![events[0].steps.clone()], name).await;
            assert_eq!(single, vec![Some(want.to_string())]);
        }
    }
}
