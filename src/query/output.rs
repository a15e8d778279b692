//! Value forms of the `POST /v1/query` response (reads spec §5.5).
//!
//! Owns the conversion of Arrow query results into the JSON `columns` / `rows` members and the
//! CSV body. Invariants:
//! - Every Arrow value maps to exactly one JSON value; SQL `NULL` is always JSON `null` (an empty
//!   field in CSV), at any nesting depth.
//! - Floats are JSON numbers except `NaN` and `±inf`, which have no JSON number form and become
//!   `null`. `Float32`/`Float16` keep their shortest decimal form (`0.1`, not
//!   `0.10000000149011612`).
//! - Timestamps are instants printed in UTC whatever their unit or time zone (§1.8 form: `Z`,
//!   fraction trimmed of trailing zeros, no fraction when zero). A timestamp without a time zone
//!   is read as UTC wall time.
//! - Durations and intervals print as DataFusion prints them (its default `pretty` duration
//!   form), so the JSON matches what the SQL console shows.
//! - Dictionary and run-end encoded values take the form of their value type: encoding is an
//!   implementation detail, not a type the client sees.
//!
//! The CSV body is written here, not by arrow's `csv::Writer`: that writer refuses nested types,
//! writes null and `""` alike (a lone empty field always quoted) and cannot print §1.8 timestamps.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, Schema, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, DurationFormat, FormatOptions};
use serde_json::{Map, Number, Value};

/// One column descriptor of the §5.5 JSON response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    /// Column name as the query produced it.
    pub name: String,
    /// Arrow type name as DataFusion prints it (`DataType`'s `Display`), e.g. `Utf8`, `Int64`,
    /// `Timestamp(ns, "UTC")`.
    pub data_type: String,
    /// Whether the column may hold nulls.
    pub nullable: bool,
}

/// The column descriptors of a result schema, in schema order.
pub fn columns_of(schema: &Schema) -> Vec<ColumnInfo> {
    schema
        .fields()
        .iter()
        .map(|field| ColumnInfo {
            name: field.name().clone(),
            data_type: field.data_type().to_string(),
            nullable: field.is_nullable(),
        })
        .collect()
}

/// Converts one cell to its §5.5 JSON form.
///
/// Integers become numbers; floats numbers (`NaN`, `±inf` → `null`); decimals strings; booleans;
/// strings; binary lowercase hex; timestamps RFC 3339 UTC; dates `YYYY-MM-DD`; durations and
/// intervals their Arrow text; lists arrays; structs and maps objects (a map keyed by the key's
/// text); null `null`. Dictionary and run-end encoded values take their value's form. Any other
/// type falls back to its Arrow display text. A `row` past the end of `array` yields `null`.
pub fn cell_to_json(array: &dyn Array, row: usize) -> Value {
    if row >= array.len() || array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Null => Value::Null,
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8 => Value::from(array.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => Value::from(array.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => Value::from(array.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => Value::from(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::from(array.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => Value::from(array.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => Value::from(array.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => Value::from(array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float16 => f32_to_json(array.as_primitive::<Float16Type>().value(row).to_f32()),
        DataType::Float32 => f32_to_json(array.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => f64_to_json(array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_owned()),
        DataType::LargeUtf8 => Value::String(array.as_string::<i64>().value(row).to_owned()),
        DataType::Utf8View => Value::String(array.as_string_view().value(row).to_owned()),
        DataType::Binary => Value::String(hex_lower(array.as_binary::<i32>().value(row))),
        DataType::LargeBinary => Value::String(hex_lower(array.as_binary::<i64>().value(row))),
        DataType::BinaryView => Value::String(hex_lower(array.as_binary_view().value(row))),
        DataType::FixedSizeBinary(_) => {
            Value::String(hex_lower(array.as_fixed_size_binary().value(row)))
        }
        DataType::Timestamp(unit, _) => {
            let raw = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row),
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(row)
                }
                TimeUnit::Microsecond => {
                    array.as_primitive::<TimestampMicrosecondType>().value(row)
                }
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
            };
            match timestamp_to_rfc3339(raw, *unit) {
                Some(text) => Value::String(text),
                None => display_text(array, row),
            }
        }
        DataType::Date32 => {
            let days = i64::from(array.as_primitive::<Date32Type>().value(row));
            match days.checked_mul(MILLIS_PER_DAY).and_then(date_from_millis) {
                Some(text) => Value::String(text),
                None => display_text(array, row),
            }
        }
        DataType::Date64 => match date_from_millis(array.as_primitive::<Date64Type>().value(row)) {
            Some(text) => Value::String(text),
            None => display_text(array, row),
        },
        DataType::List(_) => elements_to_json(array.as_list::<i32>().value(row).as_ref()),
        DataType::LargeList(_) => elements_to_json(array.as_list::<i64>().value(row).as_ref()),
        DataType::ListView(_) => elements_to_json(array.as_list_view::<i32>().value(row).as_ref()),
        DataType::LargeListView(_) => {
            elements_to_json(array.as_list_view::<i64>().value(row).as_ref())
        }
        DataType::FixedSizeList(_, _) => {
            elements_to_json(array.as_fixed_size_list().value(row).as_ref())
        }
        DataType::Struct(fields) => {
            let strukt = array.as_struct();
            let mut object = Map::new();
            for (field, column) in fields.iter().zip(strukt.columns()) {
                object.insert(field.name().clone(), cell_to_json(column.as_ref(), row));
            }
            Value::Object(object)
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            let mut object = Map::new();
            for i in 0..entries.len() {
                let key = match cell_to_json(keys.as_ref(), i) {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                // Duplicate keys are legal in an Arrow map; the last one wins, as in a JSON
                // parser that reads the pairs in order.
                object.insert(key, cell_to_json(values.as_ref(), i));
            }
            Value::Object(object)
        }
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            match key_index(dictionary.keys(), row) {
                Some(index) => cell_to_json(dictionary.values().as_ref(), index),
                None => display_text(array, row),
            }
        }
        DataType::RunEndEncoded(run_ends, _) => {
            let physical = match run_ends.data_type() {
                DataType::Int16 => Some(array.as_run::<Int16Type>().get_physical_index(row)),
                DataType::Int32 => Some(array.as_run::<Int32Type>().get_physical_index(row)),
                DataType::Int64 => Some(array.as_run::<Int64Type>().get_physical_index(row)),
                _ => None,
            };
            match physical {
                Some(index) => cell_to_json(array.as_any_ree().values().as_ref(), index),
                None => display_text(array, row),
            }
        }
        // Decimals are strings so no digit is lost to a binary float; durations, intervals,
        // times and unions take the Arrow display text.
        _ => display_text(array, row),
    }
}

/// All rows of `batches` as JSON arrays (row-major, one value per column), at most `max_rows`.
pub fn rows_to_json(batches: &[RecordBatch], max_rows: usize) -> Vec<Vec<Value>> {
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut rows = Vec::with_capacity(total.min(max_rows));
    for batch in batches {
        for row in 0..batch.num_rows() {
            if rows.len() >= max_rows {
                return rows;
            }
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|column| cell_to_json(column.as_ref(), row))
                    .collect(),
            );
        }
    }
    rows
}

/// The §5.5 CSV body: a header row of column names, then one record per row.
///
/// RFC 4180: fields holding a comma, a double quote, CR or LF are quoted, with inner quotes
/// doubled. Text forms are the JSON forms: strings unquoted unless needed, numbers and booleans
/// as JSON prints them, nested values (lists, structs, maps) as compact JSON text, null as an
/// empty field. An empty string is written as `""` so it stays distinct from null.
pub fn rows_to_csv(columns: &[ColumnInfo], rows: &[Vec<Value>]) -> String {
    let mut out = String::new();
    write_csv_record(
        &mut out,
        columns.iter().map(|column| Some(column.name.as_str())),
    );
    for row in rows {
        let texts: Vec<Option<String>> = row.iter().map(csv_text).collect();
        write_csv_record(&mut out, texts.iter().map(Option::as_deref));
    }
    out
}

const MILLIS_PER_DAY: i64 = 86_400_000;

/// RFC 4180 record terminator. The RFC says CRLF, so every line (header included, and the
/// last one) ends with "\r\n", not "\n"; common CSV readers accept both.
const CSV_LINE_END: &str = "\r\n";

/// `None` is a null (empty, unquoted field); `Some("")` is an empty string (`""`).
fn write_csv_record<'a>(out: &mut String, fields: impl Iterator<Item = Option<&'a str>>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match field {
            None => {}
            Some(text) if text.is_empty() || text.contains([',', '"', '\r', '\n']) => {
                out.push('"');
                out.push_str(&text.replace('"', "\"\""));
                out.push('"');
            }
            Some(text) => out.push_str(text),
        }
    }
    out.push_str(CSV_LINE_END);
}

fn csv_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        // Numbers, booleans, arrays and objects: their compact JSON text.
        other => Some(other.to_string()),
    }
}

fn elements_to_json(values: &dyn Array) -> Value {
    Value::Array((0..values.len()).map(|i| cell_to_json(values, i)).collect())
}

fn f64_to_json(value: f64) -> Value {
    // `from_f64` refuses NaN and ±inf, which JSON cannot represent: those become null.
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

fn f32_to_json(value: f32) -> Value {
    if !value.is_finite() {
        return Value::Null;
    }
    // `f64::from(0.1f32)` is 0.10000000149011612. Going through the shortest decimal text that
    // round-trips the f32 keeps the digits the user stored.
    let widened = value
        .to_string()
        .parse::<f64>()
        .unwrap_or_else(|_| f64::from(value));
    f64_to_json(widened)
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// RFC 3339 in UTC with `Z`; the fraction is trimmed of trailing zeros and left out when zero
/// (`2026-05-04T10:00:00.042Z`, `2026-05-04T10:00:00Z`). `None` when out of chrono's range.
fn timestamp_to_rfc3339(value: i64, unit: TimeUnit) -> Option<String> {
    let per_second: i64 = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    // Euclidean division keeps the sub-second part non-negative for instants before 1970.
    let seconds = value.div_euclid(per_second);
    let nanos = u32::try_from(value.rem_euclid(per_second) * (1_000_000_000 / per_second)).ok()?;
    let instant = DateTime::<Utc>::from_timestamp(seconds, nanos)?;
    let mut text = instant.format("%Y-%m-%dT%H:%M:%S").to_string();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        // Writing to a String cannot fail.
        let _ = write!(text, ".{}", fraction.trim_end_matches('0'));
    }
    text.push('Z');
    Some(text)
}

fn date_from_millis(millis: i64) -> Option<String> {
    let instant = DateTime::<Utc>::from_timestamp_millis(millis)?;
    Some(instant.date_naive().format("%Y-%m-%d").to_string())
}

/// The dictionary slot a key array points at, for every integer key type.
fn key_index(keys: &dyn Array, row: usize) -> Option<usize> {
    match keys.data_type() {
        DataType::Int8 => usize::try_from(keys.as_primitive::<Int8Type>().value(row)).ok(),
        DataType::Int16 => usize::try_from(keys.as_primitive::<Int16Type>().value(row)).ok(),
        DataType::Int32 => usize::try_from(keys.as_primitive::<Int32Type>().value(row)).ok(),
        DataType::Int64 => usize::try_from(keys.as_primitive::<Int64Type>().value(row)).ok(),
        DataType::UInt8 => Some(usize::from(keys.as_primitive::<UInt8Type>().value(row))),
        DataType::UInt16 => Some(usize::from(keys.as_primitive::<UInt16Type>().value(row))),
        DataType::UInt32 => usize::try_from(keys.as_primitive::<UInt32Type>().value(row)).ok(),
        DataType::UInt64 => usize::try_from(keys.as_primitive::<UInt64Type>().value(row)).ok(),
        _ => None,
    }
}

/// The Arrow display text of one cell, as DataFusion prints it (durations in the `pretty` form
/// that is DataFusion's `datafusion.format.duration_format` default). A value Arrow cannot
/// format becomes null rather than failing the whole response.
fn display_text(array: &dyn Array, row: usize) -> Value {
    let options = FormatOptions::new().with_duration_format(DurationFormat::Pretty);
    ArrayFormatter::try_new(array, &options)
        .and_then(|formatter| formatter.value(row).try_to_string())
        .map_or(Value::Null, Value::String)
}

#[cfg(test)]
mod tests;
