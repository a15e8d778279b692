use super::*;

fn id(n: u128) -> String {
    format!("{n:032x}")
}

/// The answer to `sql` in `ctx`, as a printed table.
async fn pretty(ctx: &datafusion::prelude::SessionContext, sql: String) -> String {
    let out = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    datafusion::arrow::util::pretty::pretty_format_batches(&out)
        .unwrap()
        .to_string()
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

/// A hot `events` batch of the traces `ns` (rows in that order) covering `seqs`.
fn hot_batch(seqs: (u64, u64), ns: &[usize]) -> HotBatch {
    use crate::model::event::test_event;
    use crate::storage::schema::{TableId, events_to_batch};
    let events: Vec<_> = ns
        .iter()
        .map(|n| test_event(*n, "api", "ok", 1_000 + *n as i64))
        .collect();
    let batch = events_to_batch(&events).unwrap();
    HotBatch::new(seqs.0, seqs.1, 0, 0, batch, TableId::Events)
}

#[test]
fn a_hot_index_is_built_once_per_batch_identity() {
    let h = hot_batch((7, 9), &[1, 2, 3, 4, 5, 6]);
    let cache = TraceIndexCache::default();
    // Concurrent readers of one batch share one build.
    let built: Vec<Arc<TraceIndex>> = std::thread::scope(|s| {
        let readers: Vec<_> = (0..4)
            .map(|_| s.spawn(|| cache.get_hot(&h).unwrap()))
            .collect();
        readers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert!(built.iter().all(|i| Arc::ptr_eq(i, &built[0])));
    assert!(Arc::ptr_eq(&cache.get_hot(&h).unwrap(), &built[0]));
    assert_eq!(cache.hot_batches(), 1);
    // A retention filter keeps the sequence range with fewer rows: another batch, its own
    // index.
    let filtered = Arc::new(HotBatch::new(7, 9, 0, 0, h.batch.slice(0, 3), h.table));
    let index = cache.get_hot(&filtered).unwrap();
    assert!(!Arc::ptr_eq(&index, &built[0]));
    assert_eq!(index.rows_of(&TraceSet::new(vec![2, 5])), vec![(1, 2)]);
    assert_eq!(cache.hot_batches(), 2);
    // Only the batches of the current snapshot keep their entries.
    let snapshot = Arc::new(TableSnapshot {
        table: h.table,
        schema: h.table.schema(),
        hot: vec![filtered.clone()],
        cold: Vec::new(),
    });
    cache.retain_hot(|| snapshot.clone());
    assert_eq!(cache.hot_batches(), 1);
    assert!(Arc::ptr_eq(&cache.get_hot(&filtered).unwrap(), &index));
}

/// Hot batches read through `traced_events` keep their indexes across reads; the entries
/// of batches merged or flushed away are dropped by the warmer's next pass.
#[tokio::test]
async fn hot_indexes_are_reused_and_leave_with_their_batches() {
    use crate::query::QueryEngine;
    use crate::storage::schema::TableId;
    const NOW: i64 = 1_777_888_800_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    // 17 hot batches (one more than compaction waits for) of 4 traces each.
    let storage = crate::storage::test_support::storage_with_hot_batches(dir.path(), NOW, 17).await;
    let engine = QueryEngine::new(storage.clone());
    let traces: Vec<String> = (0..68).map(|n| format!("{n:032x}")).collect();
    let (engine_ref, traces_ref) = (&engine, &traces);
    let read_sql = move |sql: &'static str| async move {
        let ctx = engine_ref.context(64 << 20).await.unwrap();
        register_traced_events(&ctx, traces_ref.iter().map(String::as_str))
            .await
            .unwrap();
        let out = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let n = out[0]
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        n.value(0)
    };
    let read = move || read_sql("SELECT count(event_id) AS n FROM traced_events");
    let indexes = |snapshot: &TableSnapshot| -> Vec<Arc<TraceIndex>> {
        let hot = engine.trace_index.hot.lock();
        snapshot
            .hot
            .iter()
            .map(|h| hot[&h.id()].get().cloned().flatten().unwrap())
            .collect()
    };
    assert_eq!(read().await, 68);
    // No column projected (`count(*)`): the rows are counted without a take.
    assert_eq!(
        read_sql("SELECT count(*) AS n FROM traced_events").await,
        68
    );
    let parts = storage.table(TableId::Events).snapshot();
    let first = indexes(&parts);
    assert_eq!(first.len(), 17);
    assert_eq!(read().await, 68);
    let again = indexes(&parts);
    assert!(first.iter().zip(&again).all(|(a, b)| Arc::ptr_eq(a, b)));
    engine.warm_trace_indexes().await.unwrap();
    assert_eq!(
        engine.trace_index_hot_batches(),
        17,
        "all still in the snapshot"
    );

    // A merge: one batch over the parts' whole range, indexed on the next read.
    storage.compact_hot(TableId::Events).await.unwrap();
    let merged = storage.table(TableId::Events).snapshot();
    assert_eq!(merged.hot.len(), 1);
    assert_eq!(
        (merged.hot[0].first_seq, merged.hot[0].last_seq),
        (parts.hot[0].first_seq, parts.hot[16].last_seq)
    );
    assert_eq!(read().await, 68);
    assert_eq!(engine.trace_index_hot_batches(), 18);
    engine.warm_trace_indexes().await.unwrap();
    assert_eq!(
        engine.trace_index_hot_batches(),
        1,
        "the parts' entries are dropped"
    );
    assert_eq!(indexes(&merged).len(), 1);

    // A flush: the batch leaves the hot tier.
    storage.flush(TableId::Events).await.unwrap();
    engine.warm_trace_indexes().await.unwrap();
    assert_eq!(engine.trace_index_hot_batches(), 0);
    assert_eq!(read().await, 68);
    storage.close().unwrap();
}

/// The trace extents from the indexes equal `GROUP BY trace_id` over the same rows, for
/// ranges holding whole sources, cutting through them, and holding none; a session without
/// the trace context answers `None` (the caller's SQL).
#[tokio::test]
async fn trace_extents_equal_the_group_by_over_hot_and_cold() {
    use crate::model::event::test_event;
    use crate::query::QueryEngine;
    use crate::storage::schema::{TableId, events_to_batch};
    const NOW: i64 = 1_777_888_800_000_000_000;
    const MS: i64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let storage = crate::storage::test_support::storage_with_hot_batches(dir.path(), NOW, 0).await;
    // 40 traces of 1-3 events each, spread over 4 appends; the first two get flushed.
    let mut n = 0;
    for part in 0..4i64 {
        let events: Vec<_> = (0..60i64)
            .map(|i| {
                n += 1;
                let trace = (i * 7 + part * 3) % 40;
                let mut e = test_event(
                    n,
                    "api",
                    "ok",
                    NOW - 3_600_000 * MS + (part * 60 + i) * 11 * MS,
                );
                e.trace_id = format!("{trace:032x}");
                e.ts_end_ns = e.ts_start_ns + (i % 9) * 13 * MS;
                e
            })
            .collect();
        storage
            .append(TableId::Events, events_to_batch(&events).unwrap())
            .await
            .unwrap();
        if part == 1 {
            storage.flush(TableId::Events).await.unwrap();
        }
    }
    let engine = QueryEngine::new(storage.clone());
    let ctx = engine.context(64 << 20).await.unwrap();
    let snapshot = storage.table(TableId::Events).snapshot();
    assert!(!snapshot.cold.is_empty() && !snapshot.hot.is_empty());
    let first = NOW - 3_600_000 * MS;
    let ranges = [
        (i64::MIN, i64::MAX),
        (first + 500 * MS, first + 2_000 * MS),
        (first + 1_400 * MS, NOW),
        (NOW, NOW + 1),
    ];
    for (lo, hi) in ranges {
        let sql = format!(
            "SELECT CAST(min(ts_start) AS BIGINT) AS s, CAST(max(ts_end) AS BIGINT) AS e \
             FROM events WHERE CAST(ts_start AS BIGINT) BETWEEN {lo} AND {hi} \
             GROUP BY trace_id ORDER BY trace_id"
        );
        let mut expected = Vec::new();
        for b in ctx.sql(&sql).await.unwrap().collect().await.unwrap() {
            let s = b
                .column(0)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let e = b
                .column(1)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            expected.extend(s.values().iter().copied().zip(e.values().iter().copied()));
        }
        let got = extents::trace_extents(&ctx, (lo, hi)).await.unwrap();
        assert_eq!(got, Some(expected), "range {lo}..={hi}");
    }
    let plain = datafusion::prelude::SessionContext::new();
    assert_eq!(extents::trace_extents(&plain, (0, 1)).await.unwrap(), None);

    // Ad-hoc `trace_id = '…'` reads through the indexes and answers what a scan answers
    // (`trace_id || ''` is no equality on the column: the plain scan).
    let ctx = engine.context(64 << 20).await.unwrap();
    let rows = |sql: String| pretty(&ctx, sql);
    for trace in [0u128, 7, 39, 40] {
        let q = |col: &str| {
            format!(
                "SELECT event_id, ts_start, ts_end FROM events WHERE {col} = '{trace:032x}' \
                 AND status = 'ok' ORDER BY event_id"
            )
        };
        let indexed = rows(q("trace_id")).await;
        assert_eq!(indexed, rows(q("trace_id || ''")).await, "trace {trace}");
        assert_eq!(indexed.lines().count() > 4, trace < 40, "{indexed}");
    }
    storage.close().unwrap();
}

/// `step_span_ids` of `traced_events` equals `step_span_ids(steps)` over `events`: for hot
/// rows (taken), cold rows (the `span_id` leaf read alone, and with `steps` read as well), a
/// cold file and a hot batch holding a trace id that is not hex (scanned, the column computed
/// by a projection), and a set small enough to read `events` itself.
#[tokio::test]
async fn span_ids_column_equals_the_function_over_steps() {
    use crate::model::event::{test_event, test_step};
    use crate::query::QueryEngine;
    use crate::storage::schema::{TableId, events_to_batch};
    const NOW: i64 = 1_777_888_800_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::config::Config::for_data_dir(dir.path());
    config.wal_sync = false;
    let clock = Arc::new(crate::clock::ManualClock::new(NOW));
    let (storage, _) = crate::storage::Storage::open((&config).into(), clock)
        .await
        .unwrap();
    // Event n: trace n / 2, n % 5 steps, span ids "s<n>-<k>" on some, none or "" on others.
    let event = |n: usize, trace: String| {
        let mut e = test_event(n, "api", "error", NOW - 10_000 + n as i64);
        e.trace_id = trace;
        e.steps = (0..n % 5)
            .map(|k| {
                let mut s = test_step(&format!("step{k}"), "ok", k as i64, "");
                s.span_id = match k % 3 {
                    0 => Some(format!("s{n}-{k}")),
                    1 => None,
                    _ => Some(String::new()),
                };
                s
            })
            .collect();
        e
    };
    let hex = |n: usize| event(n, format!("{:032x}", n / 2));
    let batch = |events: Vec<crate::model::Event>| events_to_batch(&events).unwrap();
    // Cold file 1: hex ids only (indexed). Cold file 2 and the second hot batch: one id that
    // is not hex (unindexable, scanned). First hot batch: hex only.
    let parts: [(std::ops::Range<usize>, bool); 4] = [
        (0..60, false),
        (60..120, true),
        (120..180, false),
        (180..240, true),
    ];
    for (i, (range, odd)) in parts.into_iter().enumerate() {
        let mut events: Vec<_> = range.map(hex).collect();
        if odd {
            events.push(event(1000 + i, "not-a-hex-trace-id".into()));
        }
        storage
            .append(TableId::Events, batch(events))
            .await
            .unwrap();
        if i < 2 {
            storage.flush(TableId::Events).await.unwrap();
        }
    }
    let engine = QueryEngine::new(storage.clone());
    let lists = |batches: &[RecordBatch], col: usize| -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        for b in batches {
            let ids = cast(b.column(0), &DataType::Utf8).unwrap();
            let lists = b.column(col).as_list::<i32>();
            for r in 0..b.num_rows() {
                let items = lists.value(r);
                let items = items.as_string::<i32>();
                out.push((
                    ids.as_string::<i32>().value(r).to_owned(),
                    items.iter().map(|s| s.unwrap_or("∅").to_owned()).collect(),
                ));
            }
        }
        out
    };
    let sql = |ctx: datafusion::prelude::SessionContext, q: String| async move {
        ctx.sql(&q).await.unwrap().collect().await.unwrap()
    };
    let traces: Vec<String> = (0..120)
        .map(|t| format!("{t:032x}"))
        .chain(["not-a-hex-trace-id".to_string()])
        .collect();
    let ctx = engine.context(64 << 20).await.unwrap();
    let want = lists(
        &sql(
            ctx.clone(),
            "SELECT event_id, step_span_ids(steps) FROM events ORDER BY event_id".into(),
        )
        .await,
        1,
    );
    assert_eq!(want.len(), 242);
    assert!(want.iter().any(|(_, ids)| ids.len() == 2));
    register_traced_events(&ctx, traces.iter().map(String::as_str))
        .await
        .unwrap();
    let got = sql(
        ctx.clone(),
        "SELECT event_id, step_span_ids FROM traced_events ORDER BY event_id".into(),
    )
    .await;
    assert_eq!(lists(&got, 1), want);
    assert!(engine.trace_index.files() >= 1, "a cold file was indexed");
    // `steps` read too: the column from the whole steps equals the function over them.
    let both = sql(
        ctx.clone(),
        "SELECT event_id, step_span_ids, step_span_ids(steps) FROM traced_events \
         ORDER BY event_id"
            .into(),
    )
    .await;
    assert_eq!(lists(&both, 1), want);
    assert_eq!(lists(&both, 2), want);
    // Exactly the set's events: a subset of the hex traces (no row of the other traces from
    // the scanned file and batch), then the id that is not hex alone with them.
    for with_other in [false, true] {
        let sub: Vec<&str> = traces[..70]
            .iter()
            .map(String::as_str)
            .chain(with_other.then_some("not-a-hex-trace-id"))
            .collect();
        let sub_ctx = engine.context(64 << 20).await.unwrap();
        register_traced_events(&sub_ctx, sub.iter().copied())
            .await
            .unwrap();
        let rows = sql(
            sub_ctx,
            "SELECT event_id, step_span_ids, trace_id FROM traced_events ORDER BY event_id".into(),
        )
        .await;
        let want_sub: Vec<_> = sql(
            ctx.clone(),
            format!(
                "SELECT event_id, step_span_ids(steps) FROM events WHERE trace_id IN ({}) \
                 ORDER BY event_id",
                sub.iter()
                    .map(|t| format!("'{t}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        )
        .await;
        let want_sub = lists(&want_sub, 1);
        assert_eq!(want_sub.len(), if with_other { 142 } else { 140 });
        assert_eq!(lists(&rows, 1), want_sub);
    }
    // Three traces: `events` itself, the column computed by the view.
    let small = engine.context(64 << 20).await.unwrap();
    register_traced_events(&small, traces[..3].iter().map(String::as_str))
        .await
        .unwrap();
    let few = sql(
        small,
        "SELECT event_id, step_span_ids FROM traced_events WHERE trace_id IN \
         (SELECT trace_id FROM events WHERE event_id IN ('ev-0', 'ev-2', 'ev-4')) \
         ORDER BY event_id"
            .into(),
    )
    .await;
    let few_want: Vec<_> = want
        .iter()
        .filter(|(id, _)| ["ev-0", "ev-1", "ev-2", "ev-3", "ev-4", "ev-5"].contains(&id.as_str()))
        .cloned()
        .collect();
    assert_eq!(lists(&few, 1), few_want);
    storage.close().unwrap();
}

/// The cold index cache keeps to its budget (`WAYLOG_TRACE_INDEX_BYTES`): with room for every
/// file the warmer indexes them all; with room for about one, the warmer stops at 3/4 of the
/// budget and a read model that needs every file evicts the least recently used as it goes,
/// and still answers from every file.
#[tokio::test]
async fn the_cold_index_cache_keeps_to_its_budget() {
    use crate::model::event::test_event;
    use crate::query::QueryEngine;
    use crate::storage::schema::{TableId, events_to_batch};
    const NOW: i64 = 1_777_888_800_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let storage = crate::storage::test_support::storage_with_hot_batches(dir.path(), NOW, 0).await;
    // Three cold files of 48 traces (192 events) each.
    for file in 0..3usize {
        for b in 0..48usize {
            let n = file * 48 + b;
            let events: Vec<_> = (0..4)
                .map(|i| {
                    let service = format!("svc-{}", (n + i) % 5);
                    let ts = NOW - 1_000_000 + (n * 4 + i) as i64;
                    let mut e = test_event(n * 4 + i, &service, "error", ts);
                    e.trace_id = id(n as u128);
                    e
                })
                .collect();
            storage
                .append(TableId::Events, events_to_batch(&events).unwrap())
                .await
                .unwrap();
        }
        storage.flush(TableId::Events).await.unwrap();
    }
    assert_eq!(storage.table(TableId::Events).snapshot().cold.len(), 3);

    let roomy = QueryEngine::new(storage.clone()).with_trace_index_bytes(1 << 30);
    let warmed = roomy.warm_trace_indexes().await.unwrap();
    assert_eq!((warmed.cold_files, roomy.trace_index_files()), (3, 3));
    let one_file = roomy.trace_index.bytes() / 3;
    assert!(one_file > 0);

    // Room for one file and a half: the warmer builds one, then the cache is past 3/4.
    let budget = one_file * 3 / 2;
    let tight = QueryEngine::new(storage.clone()).with_trace_index_bytes(budget);
    assert_eq!(tight.trace_index.limit(), budget);
    let warmed = tight.warm_trace_indexes().await.unwrap();
    assert_eq!((warmed.cold_files, tight.trace_index_files()), (1, 1));
    // Every other trace: a read selects rows from the middle of each file.
    let traces: Vec<String> = (0..72).map(|n| id(2 * n)).collect();
    let ctx = tight.context(64 << 20).await.unwrap();
    register_traced_events(&ctx, traces.iter().map(String::as_str))
        .await
        .unwrap();
    let out = ctx
        .sql("SELECT count(*) AS n FROM traced_events")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let n = out[0]
        .column(0)
        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .value(0);
    assert_eq!(n, 72 * 4, "every file answered");
    // Resident columns (from memory) mixed with read ones (from Parquet) and the ids (from
    // the index): the rows `events` has for the same traces.
    let cols = "event_id, service, status, ts_start, ts_end, user_id, trace_id";
    let traced = pretty(
        &ctx,
        format!("SELECT {cols} FROM traced_events ORDER BY event_id"),
    )
    .await;
    let plain = pretty(
        &ctx,
        format!(
            "SELECT {cols} FROM events WHERE trace_id IN ({}) ORDER BY event_id",
            traces
                .iter()
                .map(|t| format!("'{t}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .await;
    assert_eq!(traced, plain);
    assert_eq!(traced.lines().count(), 72 * 4 + 4, "{traced}");
    assert!(traced.contains("svc-4"));
    assert!(
        tight.trace_index.bytes() <= budget,
        "{} > {budget}",
        tight.trace_index.bytes()
    );
    assert_eq!(tight.trace_index_files(), 1, "the others were evicted");
    storage.close().unwrap();
}
