//! Criterion benches for the ingest hot paths (function level). Whole-system figures come
//! from `scripts/bench.sh`, which drives the real binary.
//!
//! `ingest_500_events` splits one request's CPU work into its stages so the ceiling of each is
//! visible on its own (docs/perf.md): the exact path (JSON parse into `Value` only, validation of
//! parsed values, both), the typed fast path (decode + validate only, and the whole `prepare`
//! up to the Arrow batch), Arrow conversion of owned events, IPC encoding, and the WAL group
//! commit with and without `fdatasync` (the disk's ceiling).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use waylog::demo::traffic::{TrafficGen, ndjson};
use waylog::ingest::events::prepare;
use waylog::ingest::framing::{Framing, ndjson_lines, split_items};
use waylog::model::fast::decode_event;
use waylog::model::validate_item_owned;
use waylog::storage::encode_ipc;
use waylog::storage::schema::events_to_batch;
use waylog::wal::Wal;

fn ingest(c: &mut Criterion) {
    let now = 1_800_000_000_000_000_000i64;
    let events = TrafficGen::new(1).events(500, now - 60_000_000_000, 1_000_000);
    let events = &events[..500];
    let body = ndjson(events);
    let mut g = c.benchmark_group("ingest_500_events");
    g.throughput(Throughput::Elements(500));
    g.bench_function("parse_only", |b| {
        b.iter(|| split_items(body.as_bytes(), Framing::Ndjson))
    });
    let parsed: Vec<serde_json::Value> = split_items(body.as_bytes(), Framing::Ndjson)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    g.bench_function("validate_only", |b| {
        b.iter_batched(
            || parsed.clone(),
            |values| {
                values
                    .into_iter()
                    .map(|v| validate_item_owned(v, now).unwrap())
                    .collect::<Vec<_>>()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("frame_and_validate", |b| {
        b.iter(|| {
            split_items(body.as_bytes(), Framing::Ndjson)
                .into_iter()
                .map(|v| validate_item_owned(v.unwrap(), now).unwrap())
                .collect::<Vec<_>>()
        })
    });
    g.bench_function("fast_decode_only", |b| {
        b.iter(|| {
            ndjson_lines(body.as_bytes())
                .map(|line| decode_event(line, now).unwrap())
                .collect::<Vec<_>>()
        })
    });
    g.bench_function("prepare_fast_to_batch", |b| {
        b.iter(|| {
            let p = prepare(body.as_bytes(), Framing::Ndjson, now, 10_000, false).unwrap();
            assert!(p.rejected.is_empty());
            p.batch.unwrap().unwrap()
        })
    });
    g.bench_function("events_to_batch", |b| {
        b.iter(|| events_to_batch(events).unwrap())
    });
    let batch = events_to_batch(events).unwrap();
    g.bench_function("encode_ipc", |b| b.iter(|| encode_ipc(&batch).unwrap()));
    let payload = encode_ipc(&batch).unwrap();
    for sync in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), 1, 32 << 20, sync).unwrap();
        let name = if sync {
            "wal_group_fsync"
        } else {
            "wal_group_nosync"
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let seqs = wal.append_group(now, &[(1, payload.as_slice())]).unwrap();
                // Keep the bench's disk use bounded: drop every full segment.
                if wal.disk_usage().1 > 64 << 20 {
                    wal.delete_through(seqs[0]).unwrap();
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
