use super::*;

fn id(n: u128) -> String {
    format!("{n:032x}")
}

#[test]
fn parses_only_lower_case_32_hex() {
    assert_eq!(parse_trace_id(&id(255)), Some(255));
    assert_eq!(
        parse_trace_id(&id(255).to_uppercase().replace("FF", "Ff")),
        None
    );
    assert_eq!(parse_trace_id("abc"), None);
    assert_eq!(parse_trace_id(&format!("{}g", &id(1)[..31])), None);
}

#[test]
fn index_finds_every_row_of_a_trace_in_row_order() {
    let ids: Vec<String> = [3u128, 1, 3, 2, 1, 3].iter().map(|n| id(*n)).collect();
    let index = TraceIndex::build(ids.iter().map(|s| Some(s.as_str()))).unwrap();
    let set = |ids: &[u128]| TraceSet::new(ids.to_vec());
    assert_eq!(index.rows_of(&set(&[3])), vec![(0, 3), (2, 3), (5, 3)]);
    assert_eq!(
        index.rows_of(&set(&[9, 3, 1, 3])),
        vec![(0, 3), (1, 1), (2, 3), (4, 1), (5, 3)]
    );
    assert!(index.rows_of(&set(&[7])).is_empty());
    // Many wanted ids (the bitmap pass) give the same rows as a few (binary search).
    let many: Vec<u128> = (0..200).collect();
    assert_eq!(
        index.rows_of(&set(&many)),
        vec![(0, 3), (1, 1), (2, 3), (3, 2), (4, 1), (5, 3)]
    );
    assert!(TraceIndex::build([Some("not-hex")]).is_none());
    assert!(TraceIndex::build([None]).is_none());
}

#[test]
fn resident_rows_come_from_memory_with_their_trace_ids() {
    use datafusion::arrow::array::{StringArray, TimestampNanosecondArray};
    use datafusion::arrow::datatypes::{Field, Schema, TimeUnit};
    let ids: Vec<String> = [7u128, u128::MAX, 7].iter().map(|n| id(*n)).collect();
    let mut index = TraceIndex::build(ids.iter().map(|s| Some(s.as_str()))).unwrap();
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let users: ArrayRef = Arc::new(StringArray::from(vec![Some("u1"), None, Some("u3")]));
    index.resident = Some(
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new(
                    "ts_start",
                    DataType::Timestamp(TimeUnit::Nanosecond, None),
                    true,
                ),
                Field::new("user_id", dict.clone(), true),
            ])),
            vec![
                Arc::new(TimestampNanosecondArray::from(vec![10, 20, 30])),
                cast(&users, &dict).unwrap(),
            ],
        )
        .unwrap(),
    );
    let out = |names: &[&str]| -> SchemaRef {
        Arc::new(Schema::new(
            names
                .iter()
                .map(|n| match *n {
                    "ts_start" => Field::new(
                        "ts_start",
                        DataType::Timestamp(TimeUnit::Nanosecond, None),
                        true,
                    ),
                    n => Field::new(n, DataType::Utf8, true),
                })
                .collect::<Vec<_>>(),
        ))
    };
    let selected = index.rows_of(&TraceSet::new(vec![7, u128::MAX]));
    let batch = index
        .resident_rows(&out(&["trace_id", "user_id", "ts_start"]), &selected)
        .unwrap()
        .unwrap();
    let trace = batch.column(0).as_string::<i32>();
    assert_eq!(
        trace.iter().collect::<Vec<_>>(),
        vec![
            Some(ids[0].as_str()),
            Some(ids[1].as_str()),
            Some(ids[2].as_str())
        ]
    );
    assert_eq!(ids[1], "f".repeat(32));
    let users = batch.column(1).as_string::<i32>();
    assert_eq!(
        users.iter().collect::<Vec<_>>(),
        vec![Some("u1"), None, Some("u3")]
    );
    // A column that is not kept in memory: the rows are read from the file instead.
    assert!(
        index
            .resident_rows(&out(&["trace_id", "service_name"]), &selected)
            .unwrap()
            .is_none()
    );
}

#[test]
fn gallop_and_bitmap_pass_find_exactly_the_rows_of_the_wanted_traces() {
    // Pseudo-random 128-bit ids, 3 rows per trace, and ids with a zero high half.
    let mut x: u128 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let traces: Vec<u128> = (0..3000)
        .map(|i| if i % 10 == 0 { i } else { next() })
        .collect();
    let column: Vec<String> = (0..9000).map(|r| id(traces[(r * 7) % 3000])).collect();
    let index = TraceIndex::build(column.iter().map(|s| Some(s.as_str()))).unwrap();
    // The rows of `wanted` by brute force, and what `rows_of` finds.
    let check = |wanted: &[u128]| {
        let want: Vec<(u32, u128)> = column
            .iter()
            .enumerate()
            .filter_map(|(r, s)| {
                let t = parse_trace_id(s).unwrap();
                wanted.contains(&t).then_some((r as u32, t))
            })
            .collect();
        let got = index.rows_of(&TraceSet::new(wanted.to_vec()));
        assert_eq!(got, want);
        got.len()
    };
    // A dense set takes the bitmap pass.
    let mut wanted: Vec<u128> = traces.iter().step_by(3).copied().collect();
    wanted.extend((0..500).map(|_| next()));
    assert_eq!(check(&wanted), 3000);
    // A sparse set takes the galloping merge (including an id past the index's end).
    assert_eq!(check(&[traces[0], traces[5], next(), u128::MAX]), 6);
    // Every 40th trace plus absent ids (gaps of ~25 entries): gallops with many hits.
    let mut some: Vec<u128> = traces.iter().step_by(40).copied().collect();
    some.extend((0..200).map(|_| next()));
    assert_eq!(check(&some), 75 * 3);
}

#[test]
fn selection_selects_exactly_the_rows() {
    let s = selection(&[0, 1, 5, 9], 12);
    let selectors: Vec<RowSelector> = s.into();
    assert_eq!(
        selectors,
        vec![
            RowSelector::select(2),
            RowSelector::skip(3),
            RowSelector::select(1),
            RowSelector::skip(3),
            RowSelector::select(1),
            RowSelector::skip(2),
        ]
    );
}
