//! The rows of `sql/trace_events.sql`: what the trace graph ([`super::origin`]), the
//! resolution and the trace summaries need of an event, owned ([`TraceRow`]) or borrowed from
//! the loaded batches ([`TraceRowRef`]).

use datafusion::arrow::array::{
    Array, ListArray, RecordBatch, StringArray, TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::DataType;

use crate::query::rows::{Columns, Result, RowError, opt_str};

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

/// The columns of one `trace_events` batch, for borrowed rows ([`TraceRowRef`]): the rollup
/// resolves ~50 k traces without copying each event's strings.
#[derive(Debug)]
pub struct TraceEventColumns {
    trace_id: StringArray,
    event_id: StringArray,
    service: StringArray,
    status: StringArray,
    ts_start: TimestampNanosecondArray,
    ts_end: TimestampNanosecondArray,
    parent_span_id: StringArray,
    anchor_step: StringArray,
    anchor_error_code: StringArray,
    http_route: StringArray,
    user_id: StringArray,
    user_tier: StringArray,
    span_ids: ListArray,
    span_values: StringArray,
}

/// `a` when it has no null (the first null row is the error).
fn non_null<A: Array>(a: A, name: &str) -> Result<A> {
    if a.null_count() == 0 {
        return Ok(a);
    }
    match (0..a.len()).find(|&i| a.is_null(i)) {
        Some(row) => Err(RowError::UnexpectedNull {
            name: name.into(),
            row,
        }),
        None => Ok(a),
    }
}

impl TraceEventColumns {
    pub fn new(batch: &RecordBatch) -> Result<Self> {
        let cols = Columns::new(batch);
        let required = |name: &str| non_null(cols.strings(name)?, name);
        let span_ids = cols.list("step_span_ids")?;
        let span_values = string_items(&span_ids, "step_span_ids")?;
        Ok(TraceEventColumns {
            trace_id: required("trace_id")?,
            event_id: required("event_id")?,
            service: required("service")?,
            status: required("status")?,
            ts_start: non_null(cols.timestamps("ts_start")?, "ts_start")?,
            ts_end: non_null(cols.timestamps("ts_end")?, "ts_end")?,
            parent_span_id: required("parent_span_id")?,
            anchor_step: cols.strings("anchor_step")?,
            anchor_error_code: cols.strings("anchor_error_code")?,
            http_route: cols.strings("http_route")?,
            user_id: cols.strings("user_id")?,
            user_tier: cols.strings("user_tier")?,
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

    pub fn event_id(&self) -> &'a str {
        self.cols.event_id.value(self.row)
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

    /// The row, owned.
    pub fn to_row(&self) -> TraceRow {
        let (c, row) = (self.cols, self.row);
        let offsets = c.span_ids.value_offsets();
        TraceRow {
            trace_id: self.trace_id().to_owned(),
            event_id: self.event_id().to_owned(),
            service: self.service().to_owned(),
            status: c.status.value(row).to_owned(),
            ts_start_ns: self.ts_start_ns(),
            ts_end_ns: c.ts_end.value(row),
            parent_span_id: c.parent_span_id.value(row).to_owned(),
            anchor_step: self.anchor_step().map(str::to_owned),
            anchor_error_code: self.anchor_error_code().map(str::to_owned),
            http_route: opt_str(&c.http_route, row),
            user_id: opt_str(&c.user_id, row),
            user_tier: opt_str(&c.user_tier, row),
            step_span_ids: (offsets[row] as usize..offsets[row + 1] as usize)
                .filter(|&i| c.span_values.is_valid(i))
                .map(|i| c.span_values.value(i).to_owned())
                .collect(),
        }
    }
}

/// The rows of `columns` (every `trace_events` batch of a read) in trace order: by
/// `trace_id`, then `ts_start`, `service`, `event_id` (each trace's rows consecutive, in
/// identity order). `sql/trace_events.sql` leaves the order to this sort of borrowed rows: a
/// SQL sort would copy every column of every row once more.
pub fn trace_order(columns: &[TraceEventColumns]) -> Vec<TraceRowRef<'_>> {
    let rows: Vec<TraceRowRef<'_>> = columns
        .iter()
        .flat_map(|c| (0..c.len()).map(move |row| c.row(row)))
        .collect();
    // Every id 32 lower-case hex digits (OTLP's and our generators'): the id as a number
    // orders as the string does, so a flat `(id, ts_start, position)` key sorts the rows
    // with integer compares and no string read until two rows of a trace share a start.
    // Large loads build and sort their keys in one part per core, then merge the parts.
    let cmp = |a: &Key, b: &Key| {
        a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then_with(|| {
            let (x, y) = (&rows[a.2 as usize], &rows[b.2 as usize]);
            x.service()
                .cmp(y.service())
                .then_with(|| x.event_id().cmp(y.event_id()))
        })
    };
    let sorted_part = |from: usize, to: usize| -> Option<Vec<Key>> {
        let mut keys = Vec::with_capacity(to - from);
        for (at, r) in rows[from..to].iter().enumerate() {
            let id = crate::query::trace_index::parse_trace_id(r.trace_id())?;
            keys.push((id, r.ts_start_ns(), u32::try_from(from + at).ok()?));
        }
        keys.sort_unstable_by(cmp);
        Some(keys)
    };
    let parts = if rows.len() < PARALLEL_ORDER_MIN_ROWS {
        1
    } else {
        crate::query::cores()
    };
    let bounds: Vec<(usize, usize)> = (0..parts)
        .map(|p| (rows.len() * p / parts, rows.len() * (p + 1) / parts))
        .collect();
    let sorted: Option<Vec<Vec<Key>>> =
        crate::query::in_parts(parts, |p| sorted_part(bounds[p].0, bounds[p].1))
            .into_iter()
            .collect();
    if let Some(mut parts) = sorted {
        while parts.len() > 1 {
            let mut merged = Vec::with_capacity(parts.len().div_ceil(2));
            let mut pairs = parts.into_iter();
            while let Some(a) = pairs.next() {
                merged.push(match pairs.next() {
                    Some(b) => merge_sorted(a, b, cmp),
                    None => a,
                });
            }
            parts = merged;
        }
        let keys = parts.pop().unwrap_or_default();
        return keys.iter().map(|k| rows[k.2 as usize]).collect();
    }
    let mut rows: Vec<(u128, TraceRowRef<'_>)> = rows
        .into_iter()
        .map(|r| (id_prefix(r.trace_id()), r))
        .collect();
    rows.sort_unstable_by(|(pa, a), (pb, b)| {
        pa.cmp(pb)
            .then_with(|| a.trace_id().cmp(b.trace_id()))
            .then_with(|| a.ts_start_ns().cmp(&b.ts_start_ns()))
            .then_with(|| a.service().cmp(b.service()))
            .then_with(|| a.event_id().cmp(b.event_id()))
    });
    rows.into_iter().map(|(_, r)| r).collect()
}

/// A row's sort key in [`trace_order`]: `(trace id, ts_start, position)`.
type Key = (u128, i64, u32);

/// Loads below this many rows are ordered on the caller's thread.
const PARALLEL_ORDER_MIN_ROWS: usize = 32 * 1024;

/// The merge of the sorted `a` and `b` (ties: `a` first).
fn merge_sorted(
    a: Vec<Key>,
    b: Vec<Key>,
    cmp: impl Fn(&Key, &Key) -> std::cmp::Ordering,
) -> Vec<Key> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if cmp(&b[j], &a[i]) == std::cmp::Ordering::Less {
            out.push(b[j]);
            j += 1;
        } else {
            out.push(a[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// The first 16 bytes of `id` as a big-endian number (zero padded): ordered as the ids are,
/// so most comparisons of [`trace_order`] are one integer compare.
fn id_prefix(id: &str) -> u128 {
    let mut bytes = [0u8; 16];
    let n = id.len().min(16);
    bytes[..n].copy_from_slice(&id.as_bytes()[..n]);
    u128::from_be_bytes(bytes)
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
    fn step_span_ids(&self) -> impl Iterator<Item = &str> {
        let offsets = self.cols.span_ids.value_offsets();
        (offsets[self.row] as usize..offsets[self.row + 1] as usize)
            .filter(|&i| self.cols.span_values.is_valid(i))
            .map(|i| self.cols.span_values.value(i))
    }
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
        let cols = TraceEventColumns::new(&batches[0]).unwrap();
        let slim: Vec<TraceRow> = trace_order(std::slice::from_ref(&cols))
            .iter()
            .map(TraceRowRef::to_row)
            .collect();
        assert_eq!(slim[0].step_span_ids, vec!["b2b2b2b2b2b2b2b2".to_string()]);
        assert_eq!(slim[0].http_route.as_deref(), Some("/checkout"));
        assert_eq!(slim[0].user_tier.as_deref(), Some("gold"));
        assert_eq!(slim[0].anchor_error_code.as_deref(), Some("PMT_502"));
    }

    /// `(trace_id, ts_start, service, event_id)`.
    type Row<'a> = (&'a str, i64, &'a str, &'a str);

    /// A `trace_events` batch of `rows`.
    fn batch(rows: &[Row<'_>]) -> RecordBatch {
        use datafusion::arrow::array::{ArrayRef, ListBuilder, StringBuilder};
        use std::sync::Arc;
        let strings = |f: &dyn Fn(&Row<'_>) -> Option<String>| -> ArrayRef {
            Arc::new(rows.iter().map(f).collect::<StringArray>())
        };
        let times: ArrayRef = Arc::new(TimestampNanosecondArray::from(
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        ));
        let mut spans = ListBuilder::new(StringBuilder::new());
        for r in rows {
            spans.values().append_value(format!("{}-span", r.3));
            spans.append(true);
        }
        RecordBatch::try_from_iter(vec![
            ("trace_id", strings(&|r| Some(r.0.into()))),
            ("event_id", strings(&|r| Some(r.3.into()))),
            ("service", strings(&|r| Some(r.2.into()))),
            ("status", strings(&|_| Some("ok".into()))),
            ("ts_start", times.clone()),
            ("ts_end", times),
            ("parent_span_id", strings(&|_| Some(String::new()))),
            ("anchor_step", strings(&|_| None)),
            ("anchor_error_code", strings(&|_| None)),
            ("http_route", strings(&|_| None)),
            ("user_id", strings(&|r| Some(format!("u-{}", r.3)))),
            ("user_tier", strings(&|_| None)),
            ("step_span_ids", Arc::new(spans.finish()) as ArrayRef),
        ])
        .unwrap()
    }

    /// `trace_order` over `batches` (owned), and the same rows sorted as owned rows by
    /// (trace_id, ts_start, service, event_id).
    fn ordered_and_owned_sort(batches: &[RecordBatch]) -> (Vec<TraceRow>, Vec<TraceRow>) {
        let columns: Vec<TraceEventColumns> = batches
            .iter()
            .map(|b| TraceEventColumns::new(b).unwrap())
            .collect();
        let got: Vec<TraceRow> = trace_order(&columns)
            .iter()
            .map(TraceRowRef::to_row)
            .collect();
        let mut want: Vec<TraceRow> = got.clone();
        want.sort_by(|a, b| {
            (&a.trace_id, a.ts_start_ns, &a.service, &a.event_id).cmp(&(
                &b.trace_id,
                b.ts_start_ns,
                &b.service,
                &b.event_id,
            ))
        });
        (got, want)
    }

    /// `trace_order` over several batches gives the order of a sort of the owned rows by
    /// (trace_id, ts_start, service, event_id): ids sharing their first 16 bytes, ids that are
    /// prefixes of others, ties on time broken by service then event id.
    #[test]
    fn trace_order_sorts_across_batches_like_the_owned_rows() {
        let long = "0123456789abcdef0123456789abcdef";
        let twin = "0123456789abcdef0000000000000000";
        let batches = [
            batch(&[
                (long, 20, "b", "e1"),
                ("abc", 5, "a", "e2"),
                (twin, 30, "a", "e3"),
                (long, 10, "z", "e4"),
                ("ab", 7, "a", "e5"),
            ]),
            batch(&[]),
            batch(&[
                (long, 10, "a", "e7"),
                (twin, 30, "a", "e0"),
                ("abc", 5, "a", "e1"),
                (long, 20, "b", "e0"),
            ]),
        ];
        let (got, want) = ordered_and_owned_sort(&batches);
        assert_eq!(got, want);
        let ids: Vec<&str> = got.iter().map(|r| r.event_id.as_str()).collect();
        assert_eq!(ids, ["e0", "e3", "e7", "e4", "e0", "e1", "e5", "e1", "e2"]);
        assert_eq!(got[2].step_span_ids, vec!["e7-span".to_string()]);
        assert_eq!(got[2].user_id.as_deref(), Some("u-e7"));
    }

    /// All ids 32 hex digits (the integer-key path): the same order as the owned sort, with
    /// ids differing only in their last digit, `a`-`f` after `0`-`9`, and ties on time broken
    /// by service then event id.
    #[test]
    fn trace_order_of_hex_ids_matches_the_owned_sort() {
        let ids = [
            "0123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcde0",
            "f123456789abcdef0123456789abcdef",
            "9123456789abcdef0123456789abcdef",
            "a000000000000000000000000000000a",
        ];
        let services = ["b", "a", "c"];
        let names: Vec<String> = (0..60).map(|i| format!("e{:02}", (i * 37) % 60)).collect();
        let rows: Vec<Row<'_>> = (0..60)
            .map(|i| {
                (
                    ids[(i * 7) % ids.len()],
                    ((i * 13) % 4) as i64,
                    services[(i * 5) % services.len()],
                    names[i].as_str(),
                )
            })
            .collect();
        let batches = [batch(&rows[..25]), batch(&rows[25..])];
        let (got, want) = ordered_and_owned_sort(&batches);
        assert_eq!(got.len(), 60);
        assert_eq!(got, want);
        assert_eq!(got[0].trace_id, ids[1]);
        assert_eq!(got[59].trace_id, ids[2]);
    }

    /// Above the parallel threshold (parts sorted on their own threads, then merged), the
    /// order is still the owned sort's: 40k rows over 5k hex traces with ties on time.
    #[test]
    fn trace_order_of_a_large_load_matches_the_owned_sort() {
        let n = 40_000usize;
        assert!(n >= super::PARALLEL_ORDER_MIN_ROWS);
        let ids: Vec<String> = (0..5_000u128)
            .map(|i| {
                format!(
                    "{:032x}",
                    i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
                )
            })
            .collect();
        let names: Vec<String> = (0..n).map(|i| format!("e{i:05}")).collect();
        let rows: Vec<Row<'_>> = (0..n)
            .map(|i| {
                (
                    ids[(i * 7919) % ids.len()].as_str(),
                    ((i * 31) % 3) as i64,
                    ["b", "a"][i % 2],
                    names[(i * 7) % n].as_str(),
                )
            })
            .collect();
        let batches = [batch(&rows[..15_000]), batch(&rows[15_000..])];
        let (got, want) = ordered_and_owned_sort(&batches);
        assert_eq!(got.len(), n);
        assert_eq!(got, want);
    }
}
