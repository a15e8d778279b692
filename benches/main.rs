//! Criterion benches for the ingest hot paths (function level). Whole-system figures come
//! from `scripts/bench.sh`, which drives the real binary.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use waylog::demo::traffic::{TrafficGen, ndjson};
use waylog::ingest::framing::{Framing, split_items};
use waylog::model::validate_item_owned;
use waylog::storage::encode_ipc;
use waylog::storage::schema::events_to_batch;

fn ingest(c: &mut Criterion) {
    let now = 1_800_000_000_000_000_000i64;
    let events = TrafficGen::new(1).events(500, now - 60_000_000_000, 1_000_000);
    let events = &events[..500];
    let body = ndjson(events);
    let mut g = c.benchmark_group("ingest_500_events");
    g.throughput(Throughput::Elements(500));
    g.bench_function("frame_and_validate", |b| {
        b.iter(|| {
            split_items(body.as_bytes(), Framing::Ndjson)
                .into_iter()
                .map(|v| validate_item_owned(v.unwrap(), now).unwrap())
                .collect::<Vec<_>>()
        })
    });
    g.bench_function("events_to_batch", |b| {
        b.iter(|| events_to_batch(events).unwrap())
    });
    let batch = events_to_batch(events).unwrap();
    g.bench_function("encode_ipc", |b| b.iter(|| encode_ipc(&batch).unwrap()));
    g.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
