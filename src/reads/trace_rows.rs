//! The rows of `sql/trace_events.sql`: what the trace graph ([`super::origin`]), the
//! resolution and the trace summaries need of an event, owned ([`TraceRow`]) or borrowed from
//! the loaded batches ([`TraceRowRef`]).

use datafusion::arrow::array::{
    Array, ListArray, RecordBatch, StringArray, TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::DataType;

use crate::query::rows::{Columns, Result, RowError, opt_str, req_str};

/// One row of `sql/trace_events.sql`: what the trace graph, the resolution and the trace
/// summaries need of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRow {
    pub trace_id: String,
    pub event_id: String,
    pub service: String,
    pub status: String,
    pub ts_start_ns: i64,
    pub ts_end_ns: i64,
    pub parent_span_id: String,
    pub anchor_step: Option<String>,
    pub anchor_error_code: Option<String>,
    pub http_route: Option<String>,
    pub user_id: Option<String>,
    pub user_tier: Option<String>,
    /// The non-empty `steps[].span_id`s, in array order.
    pub step_span_ids: Vec<String>,
}

/// The items of the `List<Utf8>` column `name`.
fn string_items(list: &ListArray, name: &str) -> Result<StringArray> {
    Ok(list
        .values()
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| RowError::WrongType {
            name: name.into(),
            found: list.values().data_type().clone(),
            expected: DataType::Utf8,
        })?
        .clone())
}

/// The columns of one `trace_events` batch that origin resolution reads, for borrowed rows
/// ([`TraceRowRef`]): the rollup resolves ~50 k traces without copying each event's strings.
#[derive(Debug)]
pub struct TraceEventColumns {
    trace_id: StringArray,
    event_id: StringArray,
    service: StringArray,
    status: StringArray,
    ts_start: TimestampNanosecondArray,
    parent_span_id: StringArray,
    anchor_step: StringArray,
    anchor_error_code: StringArray,
    span_ids: ListArray,
    span_values: StringArray,
}

impl TraceEventColumns {
    pub fn new(batch: &RecordBatch) -> Result<Self> {
        let cols = Columns::new(batch);
        let required = |name: &str| -> Result<StringArray> {
            let a = cols.strings(name)?;
            match (0..a.len()).find(|&i| a.is_null(i)) {
                Some(row) => Err(RowError::UnexpectedNull {
                    name: name.into(),
                    row,
                }),
                None => Ok(a),
            }
        };
        let span_ids = cols.list("step_span_ids")?;
        let span_values = string_items(&span_ids, "step_span_ids")?;
        Ok(TraceEventColumns {
            trace_id: required("trace_id")?,
            event_id: required("event_id")?,
            service: required("service")?,
            status: required("status")?,
            ts_start: cols.timestamps("ts_start")?,
            parent_span_id: required("parent_span_id")?,
            anchor_step: cols.strings("anchor_step")?,
            anchor_error_code: cols.strings("anchor_error_code")?,
            span_ids,
            span_values,
        })
    }

    pub fn len(&self) -> usize {
        self.trace_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trace_id.is_empty()
    }

    pub fn row(&self, row: usize) -> TraceRowRef<'_> {
        TraceRowRef { cols: self, row }
    }
}

/// One borrowed row of a `trace_events` batch.
#[derive(Debug, Clone, Copy)]
pub struct TraceRowRef<'a> {
    cols: &'a TraceEventColumns,
    row: usize,
}

impl<'a> TraceRowRef<'a> {
    pub fn trace_id(&self) -> &'a str {
        self.cols.trace_id.value(self.row)
    }

    pub fn service(&self) -> &'a str {
        self.cols.service.value(self.row)
    }

    pub fn ts_start_ns(&self) -> i64 {
        self.cols.ts_start.value(self.row)
    }

    pub fn anchor_step(&self) -> Option<&'a str> {
        let a = &self.cols.anchor_step;
        a.is_valid(self.row).then(|| a.value(self.row))
    }

    pub fn anchor_error_code(&self) -> Option<&'a str> {
        let a = &self.cols.anchor_error_code;
        a.is_valid(self.row).then(|| a.value(self.row))
    }
}

impl super::origin::TraceNode for TraceRowRef<'_> {
    fn event_id(&self) -> &str {
        self.cols.event_id.value(self.row)
    }
    fn service(&self) -> &str {
        self.cols.service.value(self.row)
    }
    fn ts_start_ns(&self) -> i64 {
        self.cols.ts_start.value(self.row)
    }
    fn status(&self) -> &str {
        self.cols.status.value(self.row)
    }
    fn parent_span_id(&self) -> &str {
        self.cols.parent_span_id.value(self.row)
    }
    fn step_span_ids(&self) -> Vec<&str> {
        let offsets = self.cols.span_ids.value_offsets();
        (offsets[self.row] as usize..offsets[self.row + 1] as usize)
            .filter(|&i| self.cols.span_values.is_valid(i))
            .map(|i| self.cols.span_values.value(i))
            .collect()
    }
}

/// Every row of a `trace_events` batch.
pub fn batch_to_trace_rows(batch: &RecordBatch) -> Result<Vec<TraceRow>> {
    let cols = Columns::new(batch);
    let trace_id = cols.strings("trace_id")?;
    let event_id = cols.strings("event_id")?;
    let service = cols.strings("service")?;
    let status = cols.strings("status")?;
    let ts_start = cols.timestamps("ts_start")?;
    let ts_end = cols.timestamps("ts_end")?;
    let parent_span_id = cols.strings("parent_span_id")?;
    let anchor_step = cols.strings("anchor_step")?;
    let anchor_error_code = cols.strings("anchor_error_code")?;
    let http_route = cols.strings("http_route")?;
    let user_id = cols.strings("user_id")?;
    let user_tier = cols.strings("user_tier")?;
    let span_ids = cols.list("step_span_ids")?;
    let span_values = string_items(&span_ids, "step_span_ids")?;
    let span_offsets = span_ids.value_offsets();
    (0..batch.num_rows())
        .map(|row| {
            let spans = span_offsets[row] as usize..span_offsets[row + 1] as usize;
            Ok(TraceRow {
                trace_id: req_str(&trace_id, "trace_id", row)?,
                event_id: req_str(&event_id, "event_id", row)?,
                service: req_str(&service, "service", row)?,
                status: req_str(&status, "status", row)?,
                ts_start_ns: ts_start.value(row),
                ts_end_ns: ts_end.value(row),
                parent_span_id: req_str(&parent_span_id, "parent_span_id", row)?,
                anchor_step: opt_str(&anchor_step, row),
                anchor_error_code: opt_str(&anchor_error_code, row),
                http_route: opt_str(&http_route, row),
                user_id: opt_str(&user_id, row),
                user_tier: opt_str(&user_tier, row),
                step_span_ids: spans
                    .filter(|&i| span_values.is_valid(i))
                    .map(|i| span_values.value(i).to_owned())
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::rows::tests::full_event;
    use crate::storage::schema::events_to_batch;

    #[tokio::test]
    async fn trace_rows_read_the_trace_events_columns() {
        let batch = events_to_batch(&[full_event()]).unwrap();
        let ctx = datafusion::prelude::SessionContext::new();
        crate::query::functions::register(&ctx);
        ctx.register_batch("events", batch).unwrap();
        // The trace_events columns in another order.
        let sql = "SELECT step_span_ids(steps) AS step_span_ids, user_tier, user_id, http_route, \
                   anchor_error_code, anchor_step, parent_span_id, ts_end, ts_start, status, \
                   service, event_id, trace_id FROM events";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let slim = batch_to_trace_rows(&batches[0]).unwrap();
        assert_eq!(slim[0].step_span_ids, vec!["b2b2b2b2b2b2b2b2".to_string()]);
        assert_eq!(slim[0].http_route.as_deref(), Some("/checkout"));
        assert_eq!(slim[0].user_tier.as_deref(), Some("gold"));
        assert_eq!(slim[0].anchor_error_code.as_deref(), Some("PMT_502"));
    }
}
