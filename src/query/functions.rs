//! waylog's SQL functions, registered on every session (read models and user SQL alike).
//!
//! - `step_downstream(steps, name)`: the `downstream.service` of the step of an event's
//!   `steps` that is named `name`, chosen as spec triage §2.10 says: the latest-starting such
//!   step with status `error`, else the latest-starting one; equal starts go to the later
//!   step in array order. NULL when no step has that name or the chosen step names no
//!   downstream service. One pass over the list arrays, no unnesting.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
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
        let values = list.values().as_struct();
        let column = |field: &str| {
            values.column_by_name(field).cloned().ok_or_else(|| {
                datafusion::error::DataFusionError::Execution(format!(
                    "step_downstream: steps have no field {field}"
                ))
            })
        };
        let names = utf8(&column("name")?)?;
        let statuses = utf8(&column("status")?)?;
        let starts_ref = cast(&column("start_ms")?, &DataType::Int64)?;
        let starts: &Int64Array = starts_ref.as_primitive::<Int64Type>();
        let downstream_ref = column("downstream")?;
        let downstream = downstream_ref.as_struct();
        let services = utf8(downstream.column_by_name("service").ok_or_else(|| {
            datafusion::error::DataFusionError::Execution(
                "step_downstream: downstream has no service".into(),
            )
        })?)?;

        let mut out = StringBuilder::with_capacity(n, n * 8);
        let offsets = list.value_offsets();
        for row in 0..n {
            if list.is_null(row) {
                out.append_null();
                continue;
            }
            // Best key: (is error, start_ms, position); the maximum wins.
            let mut best: Option<(bool, i64, usize)> = None;
            for i in offsets[row] as usize..offsets[row + 1] as usize {
                if names.is_null(i) || names.value(i) != name {
                    continue;
                }
                let key = (
                    !statuses.is_null(i) && statuses.value(i) == "error",
                    if starts.is_null(i) {
                        i64::MIN
                    } else {
                        starts.value(i)
                    },
                    i,
                );
                if best.is_none_or(|b| key > b) {
                    best = Some(key);
                }
            }
            match best {
                Some((_, _, i)) if downstream.is_valid(i) && services.is_valid(i) => {
                    out.append_value(services.value(i))
                }
                _ => out.append_null(),
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
}
