use std::sync::Arc;

use super::*;
use datafusion::arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal128Array,
    DictionaryArray, DurationMillisecondArray, FixedSizeBinaryArray, Float32Array, Float64Array,
    Int32Array, Int64Array, IntervalMonthDayNanoArray, LargeStringArray, ListArray, MapArray,
    StringArray, StringViewArray, StructArray, Time64MicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray, UInt64Array,
};
use datafusion::arrow::array::{
    Int64Builder, ListBuilder, MapBuilder, StringBuilder, StructBuilder,
};
use datafusion::arrow::datatypes::{Field, Fields, IntervalMonthDayNano};
use serde_json::json;

fn cells(array: &dyn Array) -> Vec<Value> {
    (0..array.len())
        .map(|row| cell_to_json(array, row))
        .collect()
}

/// `List<Struct{a Utf8, b Int64}>` with rows `[{a:"x",b:1},{a:null,b:2}]`, `null`, `[]`.
fn list_of_structs() -> ListArray {
    let fields = Fields::from(vec![
        Field::new("a", DataType::Utf8, true),
        Field::new("b", DataType::Int64, true),
    ]);
    let item = StructBuilder::from_fields(fields, 2);
    let mut list = ListBuilder::new(item);
    {
        let strukt = list.values();
        strukt
            .field_builder::<StringBuilder>(0)
            .unwrap()
            .append_value("x");
        strukt
            .field_builder::<Int64Builder>(1)
            .unwrap()
            .append_value(1);
        strukt.append(true);
        strukt
            .field_builder::<StringBuilder>(0)
            .unwrap()
            .append_null();
        strukt
            .field_builder::<Int64Builder>(1)
            .unwrap()
            .append_value(2);
        strukt.append(true);
    }
    list.append(true);
    list.append(false);
    list.append(true);
    list.finish()
}

#[test]
fn columns_of_reports_name_type_and_nullability() {
    let schema = Schema::new(vec![
        Field::new("service", DataType::Utf8, false),
        Field::new("n", DataType::Int64, true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new(
            "naive",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            true,
        ),
    ]);
    let columns = columns_of(&schema);
    assert_eq!(
        columns,
        vec![
            ColumnInfo {
                name: "service".into(),
                data_type: "Utf8".into(),
                nullable: false
            },
            ColumnInfo {
                name: "n".into(),
                data_type: "Int64".into(),
                nullable: true
            },
            ColumnInfo {
                name: "ts".into(),
                data_type: "Timestamp(ns, \"UTC\")".into(),
                nullable: false
            },
            ColumnInfo {
                name: "naive".into(),
                data_type: "Timestamp(ms)".into(),
                nullable: true
            },
        ]
    );
}

#[test]
fn cell_to_json_gives_numbers_for_integers() {
    let signed = Int64Array::from(vec![Some(i64::MIN), Some(42), None]);
    assert_eq!(
        cells(&signed),
        vec![json!(i64::MIN), json!(42), Value::Null]
    );
    let small = Int32Array::from(vec![-7]);
    assert_eq!(cells(&small), vec![json!(-7)]);
    let unsigned = UInt64Array::from(vec![u64::MAX]);
    assert_eq!(cells(&unsigned), vec![json!(u64::MAX)]);
}

#[test]
fn cell_to_json_nulls_non_finite_floats() {
    let floats = Float64Array::from(vec![
        Some(1.5),
        Some(f64::NAN),
        Some(f64::INFINITY),
        Some(f64::NEG_INFINITY),
        Some(3.0),
        None,
    ]);
    assert_eq!(
        cells(&floats),
        vec![
            json!(1.5),
            Value::Null,
            Value::Null,
            Value::Null,
            json!(3.0),
            Value::Null
        ]
    );
    assert_eq!(cell_to_json(&floats, 4).to_string(), "3.0");
}

#[test]
fn cell_to_json_keeps_shortest_digits_for_float32() {
    let floats = Float32Array::from(vec![0.1_f32, f32::NAN, -2.5]);
    let values = cells(&floats);
    assert_eq!(values, vec![json!(0.1), Value::Null, json!(-2.5)]);
    assert_eq!(values[0].to_string(), "0.1");
}

#[test]
fn cell_to_json_gives_strings_for_decimals() {
    let decimals = Decimal128Array::from(vec![Some(12345_i128), Some(-5), None])
        .with_precision_and_scale(10, 2)
        .unwrap();
    assert_eq!(
        cells(&decimals),
        vec![json!("123.45"), json!("-0.05"), Value::Null]
    );
}

#[test]
fn cell_to_json_gives_booleans() {
    let flags = BooleanArray::from(vec![Some(true), Some(false), None]);
    assert_eq!(cells(&flags), vec![json!(true), json!(false), Value::Null]);
}

#[test]
fn cell_to_json_gives_strings_for_every_string_kind() {
    let utf8 = StringArray::from(vec![Some("checkout"), None, Some("")]);
    assert_eq!(
        cells(&utf8),
        vec![json!("checkout"), Value::Null, json!("")]
    );
    let large = LargeStringArray::from(vec!["größe"]);
    assert_eq!(cells(&large), vec![json!("größe")]);
    let view = StringViewArray::from(vec![
        Some("short"),
        Some("a string longer than twelve bytes"),
        None,
    ]);
    assert_eq!(
        cells(&view),
        vec![
            json!("short"),
            json!("a string longer than twelve bytes"),
            Value::Null
        ]
    );
}

#[test]
fn cell_to_json_gives_lowercase_hex_for_binary() {
    let binary = BinaryArray::from(vec![
        Some(&[0xde, 0xad, 0xBE, 0x0f][..]),
        Some(&[][..]),
        None,
    ]);
    assert_eq!(
        cells(&binary),
        vec![json!("deadbe0f"), json!(""), Value::Null]
    );
    let fixed = FixedSizeBinaryArray::try_from_iter(vec![vec![0xab_u8, 0x01]].into_iter()).unwrap();
    assert_eq!(cells(&fixed), vec![json!("ab01")]);
}

#[test]
fn cell_to_json_gives_rfc3339_utc_for_nanosecond_timestamps_with_zone() {
    let base = 1_777_888_800_i64; // 2026-05-04T10:00:00Z
    let ts = TimestampNanosecondArray::from(vec![
        Some(base * 1_000_000_000 + 42_000_000),
        Some(base * 1_000_000_000),
        Some(base * 1_000_000_000 + 1),
        Some(-1),
        None,
    ])
    .with_timezone("UTC");
    assert_eq!(
        cells(&ts),
        vec![
            json!("2026-05-04T10:00:00.042Z"),
            json!("2026-05-04T10:00:00Z"),
            json!("2026-05-04T10:00:00.000000001Z"),
            json!("1969-12-31T23:59:59.999999999Z"),
            Value::Null
        ]
    );
}

#[test]
fn cell_to_json_prints_utc_for_timestamps_in_other_zones() {
    // The stored value is the instant; the zone only affects local display, not ours.
    let ts = TimestampSecondArray::from(vec![1_777_888_800]).with_timezone("+02:00");
    assert_eq!(cells(&ts), vec![json!("2026-05-04T10:00:00Z")]);
}

#[test]
fn cell_to_json_reads_naive_millisecond_timestamps_as_utc() {
    let ts = TimestampMillisecondArray::from(vec![Some(1_777_888_800_500), None]);
    assert_eq!(
        cells(&ts),
        vec![json!("2026-05-04T10:00:00.5Z"), Value::Null]
    );
}

#[test]
fn cell_to_json_gives_plain_dates() {
    let days = Date32Array::from(vec![Some(20_577), Some(-1), None]);
    assert_eq!(
        cells(&days),
        vec![json!("2026-05-04"), json!("1969-12-31"), Value::Null]
    );
    let millis = Date64Array::from(vec![1_777_888_800_000]);
    assert_eq!(cells(&millis), vec![json!("2026-05-04")]);
}

#[test]
fn cell_to_json_gives_arrow_text_for_durations_intervals_and_times() {
    let durations = DurationMillisecondArray::from(vec![Some(1_500), None]);
    assert_eq!(
        cells(&durations),
        vec![json!("0 days 0 hours 0 mins 1.500 secs"), Value::Null]
    );
    let intervals =
        IntervalMonthDayNanoArray::from(vec![IntervalMonthDayNano::new(1, 2, 3_000_000_000)]);
    assert_eq!(
        cells(&intervals),
        vec![json!("1 mons 2 days 3.000000000 secs")]
    );
    let times = Time64MicrosecondArray::from(vec![36_000_042_000]);
    assert_eq!(cells(&times), vec![json!("10:00:00.042")]);
}

#[test]
fn cell_to_json_gives_arrays_of_objects_for_list_of_struct() {
    let list = list_of_structs();
    assert_eq!(
        cells(&list),
        vec![
            json!([{"a": "x", "b": 1}, {"a": null, "b": 2}]),
            Value::Null,
            json!([])
        ]
    );
}

#[test]
fn cell_to_json_gives_objects_for_struct_with_null_rows() {
    let names: ArrayRef = Arc::new(StringArray::from(vec![Some("pay"), Some("x"), None]));
    let counts: ArrayRef = Arc::new(Int64Array::from(vec![Some(3), Some(4), None]));
    let strukt = StructArray::try_new(
        Fields::from(vec![
            Field::new("service", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]),
        vec![names, counts],
        Some(vec![true, false, true].into()),
    )
    .unwrap();
    assert_eq!(
        cells(&strukt),
        vec![
            json!({"service": "pay", "n": 3}),
            Value::Null,
            json!({"service": null, "n": null})
        ]
    );
}

#[test]
fn cell_to_json_gives_objects_keyed_by_key_text_for_maps() {
    let mut builder = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
    builder.keys().append_value("a");
    builder.values().append_value(1);
    builder.keys().append_value("b");
    builder.values().append_null();
    builder.append(true).unwrap();
    builder.append(false).unwrap();
    builder.append(true).unwrap();
    let map: MapArray = builder.finish();
    assert_eq!(
        cells(&map),
        vec![json!({"a": 1, "b": null}), Value::Null, json!({})]
    );

    let mut numeric = MapBuilder::new(None, Int64Builder::new(), StringBuilder::new());
    numeric.keys().append_value(7);
    numeric.values().append_value("seven");
    numeric.append(true).unwrap();
    assert_eq!(cells(&numeric.finish()), vec![json!({"7": "seven"})]);
}

#[test]
fn cell_to_json_gives_value_form_for_dictionaries() {
    let dictionary: DictionaryArray<Int32Type> =
        vec![Some("checkout"), None, Some("payment"), Some("checkout")]
            .into_iter()
            .collect();
    assert_eq!(
        cells(&dictionary),
        vec![
            json!("checkout"),
            Value::Null,
            json!("payment"),
            json!("checkout")
        ]
    );
}

#[test]
fn cell_to_json_yields_null_past_the_end() {
    let ints = Int64Array::from(vec![1]);
    assert_eq!(cell_to_json(&ints, 5), Value::Null);
}

#[test]
fn rows_to_json_is_row_major_across_batches_up_to_max_rows() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("service", DataType::Utf8, false),
        Field::new("n", DataType::Int64, true),
    ]));
    let first = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["checkout", "payment"])),
            Arc::new(Int64Array::from(vec![Some(42), None])),
        ],
    )
    .unwrap();
    let second = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec!["search"])),
            Arc::new(Int64Array::from(vec![7])),
        ],
    )
    .unwrap();
    let batches = [first, second];
    assert_eq!(
        rows_to_json(&batches, 10),
        vec![
            vec![json!("checkout"), json!(42)],
            vec![json!("payment"), Value::Null],
            vec![json!("search"), json!(7)],
        ]
    );
    assert_eq!(rows_to_json(&batches, 2).len(), 2);
    assert!(rows_to_json(&batches, 0).is_empty());
}

fn column(name: &str) -> ColumnInfo {
    ColumnInfo {
        name: name.into(),
        data_type: "Utf8".into(),
        nullable: true,
    }
}

#[test]
fn rows_to_csv_writes_header_and_crlf_records() {
    let columns = [column("service"), column("n")];
    let rows = vec![
        vec![json!("checkout"), json!(42)],
        vec![json!("payment"), json!(1.5)],
    ];
    assert_eq!(
        rows_to_csv(&columns, &rows),
        "service,n\r\ncheckout,42\r\npayment,1.5\r\n"
    );
}

#[test]
fn rows_to_csv_quotes_fields_with_separators_quotes_and_line_breaks() {
    let columns = [column("a,b"), column("text")];
    let rows = vec![
        vec![json!("x,y"), json!("say \"hi\"")],
        vec![json!("line\nbreak"), json!("cr\rhere")],
    ];
    assert_eq!(
        rows_to_csv(&columns, &rows),
        "\"a,b\",text\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n\"line\nbreak\",\"cr\rhere\"\r\n"
    );
}

#[test]
fn rows_to_csv_writes_nulls_empty_and_nested_values_as_json() {
    let columns = [
        column("n"),
        column("s"),
        column("list"),
        column("obj"),
        column("b"),
    ];
    let rows = vec![vec![
        Value::Null,
        json!(""),
        json!([1, "x"]),
        json!({"a": null}),
        json!(true),
    ]];
    assert_eq!(
        rows_to_csv(&columns, &rows),
        "n,s,list,obj,b\r\n,\"\",\"[1,\"\"x\"\"]\",\"{\"\"a\"\":null}\",true\r\n"
    );
}

#[test]
fn rows_to_csv_gives_rfc3339_timestamps_from_cells() {
    let ts = TimestampNanosecondArray::from(vec![1_777_888_800_042_000_000]).with_timezone("UTC");
    let rows = vec![vec![cell_to_json(&ts, 0)]];
    assert_eq!(
        rows_to_csv(&[column("ts")], &rows),
        "ts\r\n2026-05-04T10:00:00.042Z\r\n"
    );
}

#[test]
fn rows_to_csv_writes_header_only_when_no_rows() {
    assert_eq!(rows_to_csv(&[column("a"), column("b")], &[]), "a,b\r\n");
}
