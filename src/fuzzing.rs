//! Entry points of the cargo-fuzz targets (`tests/fuzz/`, issue 14): one function per target,
//! taking the fuzzer's bytes and driving the real decoder, parser or guard behind it. A panic
//! (or a failed round-trip assertion) is a finding; every error result is fine. Hidden from the
//! docs: not an API, only the fuzz crate calls it.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use prost::Message;

use crate::ingest::framing::{Framing, split_items_within};
use crate::query::{QueryEngine, QueryError, QueryOptions, run_user_sql};
use crate::storage::{Storage, StorageConfig};

/// A fixed "now" (2026-05-04T12:00:00Z) so findings replay the same way.
const NOW_NS: i64 = 1_777_896_000_000_000_000;

/// WAL record decoding: any bytes decode to a valid prefix, with or without a start sequence.
pub fn wal_records(data: &[u8]) {
    for start in [None, Some(1)] {
        let mut last = None;
        let (valid, _, _) = crate::wal::decode_records(data, start, |r| {
            assert!(last.is_none_or(|l: u64| r.seq == l + 1), "sequence chain");
            last = Some(r.seq);
        });
        assert!(valid <= data.len());
    }
}

/// Dedup id-log parsing.
pub fn id_log(data: &[u8]) {
    if let Some(ids) = crate::storage::dedup::parse_id_log(data) {
        assert_eq!(data.len(), 20 + ids.len() * 24);
    }
}

/// Event framing (JSON and NDJSON) and validation of every item.
pub fn event_items(data: &[u8]) {
    for framing in [Framing::Json, Framing::Ndjson] {
        let Ok(items) = split_items_within(data, framing, 10_000) else {
            continue;
        };
        for item in items.into_iter().flatten() {
            let _ = crate::model::validate::validate_item_owned(item, NOW_NS);
        }
    }
}

/// RFC 3339 parsing: whatever parses formats back to the same instant.
pub fn rfc3339(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(ns) = crate::rfc3339::parse_rfc3339_ns(s) {
        let text = crate::rfc3339::format_rfc3339_ns(ns);
        assert_eq!(
            crate::rfc3339::parse_rfc3339_ns(&text),
            Some(ns),
            "{s:?} -> {text}"
        );
    }
}

/// OTLP/JSON decoding (with the span guard the transport uses) and span mapping.
pub fn otlp_json(data: &[u8]) {
    if let Ok(req) = crate::ingest::otlp_json::decode_request_within(data, 10_000) {
        let _ = crate::ingest::otlp::convert_request(&req, NOW_NS);
    }
}

/// OTLP protobuf: the span-count guard on the wire, then decoding and span mapping of what
/// the guard admits.
pub fn otlp_proto(data: &[u8]) {
    if crate::ingest::otlp_limits::protobuf_spans(data, 10_000).is_err() {
        return;
    }
    if let Ok(req) =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(data)
    {
        let _ = crate::ingest::otlp::convert_request(&req, NOW_NS);
    }
}

/// Read parameters and cursors: the query string of every read model, and every cursor
/// kind (a decoded cursor encodes back to one that decodes the same).
pub fn read_params(data: &[u8]) {
    use crate::reads::params::*;
    use crate::reads::*;
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let config = config();
    if let Ok(p) = Params::parse(Some(s), errors::PARAMS) {
        let _ = errors::ErrorsQuery::parse(&p, NOW_NS, config);
    }
    if let Ok(p) = Params::parse(Some(s), rollup::PARAMS) {
        let _ = rollup::RollupQuery::parse(&p, NOW_NS, config);
    }
    if let Ok(p) = Params::parse(Some(s), signals::PARAMS) {
        let _ = signals::SignalsQuery::parse(&p, NOW_NS, config);
    }
    if let Ok(p) = Params::parse(Some(s), events::SEARCH_PARAMS) {
        let _ = events::SearchQuery::parse(&p, NOW_NS, config);
    }
    if let Ok(p) = Params::parse(Some(s), traces::RECENT_PARAMS) {
        let _ = traces::RecentQuery::parse(&p, NOW_NS, config);
    }
    if let Ok(p) = Params::parse(Some(s), blast::PARAMS) {
        let _ = blast::BlastQuery::parse(&p, NOW_NS, config);
    }
    if let Ok(c) = EventCursor::decode(s) {
        assert!(EventCursor::decode(&c.encode()).is_ok());
    }
    if let Ok(c) = TraceCursor::decode(s) {
        assert!(TraceCursor::decode(&c.encode()).is_ok());
    }
    if let Ok(c) = SignalCursor::decode(s) {
        assert!(SignalCursor::decode(&c.encode()).is_ok());
    }
    if let Ok(c) = ErrorsCursor::decode(s) {
        assert!(ErrorsCursor::decode(&c.encode()).is_ok());
    }
    if let Ok(c) = RollupCursor::decode(s) {
        assert!(RollupCursor::decode(&c.encode()).is_ok());
    }
}

/// Manifest JSON: what parses is usable and serializes back to an equal manifest.
pub fn manifest_json(data: &[u8]) {
    let Ok(m) = serde_json::from_slice::<crate::storage::cold::Manifest>(data) else {
        return;
    };
    let _ = m.max_flushed_seq();
    for t in crate::storage::schema::TableId::ALL {
        let _ = m.table(t);
    }
    let text = serde_json::to_vec(&m).expect("a parsed manifest serializes");
    let again: crate::storage::cold::Manifest =
        serde_json::from_slice(&text).expect("a serialized manifest parses");
    assert_eq!(again.version, m.version);
}

/// Alert payloads: format detection and mapping, with and without query defaults.
pub fn alert_payload(data: &[u8]) {
    let Ok(body) = crate::ingest::alerts::parse_alert_body(data) else {
        return;
    };
    let defaults = crate::ingest::alerts::parse_alert_query(Some("service=api&env=prod"))
        .expect("fixed query parses");
    for q in [Default::default(), defaults] {
        let _ = crate::ingest::alerts::map_alerts(&body, &q, NOW_NS);
    }
}

fn config() -> &'static crate::config::Config {
    static CONFIG: OnceLock<crate::config::Config> = OnceLock::new();
    CONFIG.get_or_init(|| crate::config::Config::for_data_dir("/nonexistent"))
}

/// The SQL guard's world: a runtime, an engine over an empty data directory, a canary file
/// next to the cold store whose content must never come back, and where `COPY` would write.
struct SqlWorld {
    runtime: tokio::runtime::Runtime,
    engine: QueryEngine,
    root: PathBuf,
}

const CANARY: &str = "CANARY_waylog_fuzz";

fn sql_world() -> &'static SqlWorld {
    static WORLD: OnceLock<SqlWorld> = OnceLock::new();
    WORLD.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("waylog-fuzz-sql-{}", std::process::id()));
        std::fs::create_dir_all(&root).expect("a temp dir");
        std::fs::write(root.join("canary.csv"), format!("word\n{CANARY}\n")).expect("canary");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let data_dir = root.join("data");
        let cfg = StorageConfig::from(&crate::config::Config::for_data_dir(&data_dir));
        let storage = runtime
            .block_on(Storage::open(cfg, Arc::new(crate::clock::SystemClock)))
            .expect("storage opens")
            .0;
        SqlWorld {
            runtime,
            engine: QueryEngine::new(storage),
            root,
        }
    })
}

/// One token of the statement grammar, chosen by the next fuzz byte.
fn pick<'a>(bytes: &mut impl Iterator<Item = u8>, choices: &[&'a str]) -> &'a str {
    choices[usize::from(bytes.next().unwrap_or(0)) % choices.len()]
}

/// A statement from the grammar, driven by the fuzz bytes; the rest of the bytes (as text)
/// may be spliced in as a free-form tail.
fn statement(data: &[u8], root: &str) -> String {
    let mut b = data.iter().copied();
    let canary = format!("{root}/canary.csv");
    let copy_to = format!("{root}/copy-out.csv");
    let source_choices = [
        "events".to_string(),
        "signals".to_string(),
        "incidents".to_string(),
        "information_schema.tables".to_string(),
        format!("'{canary}'"),
        format!("\"{canary}\""),
        format!("'file://{canary}'"),
        format!("read_csv('{canary}')"),
        format!("'{root}'"),
        "(SELECT 1 AS a)".to_string(),
    ];
    let sources: Vec<&str> = source_choices.iter().map(String::as_str).collect();
    let from = pick(&mut b, &sources);
    let expr = pick(
        &mut b,
        &[
            "*",
            "count(*)",
            "1",
            "repeat('x', 1000)",
            "lpad('a', 10)",
            "event_id",
            "now()",
        ],
    );
    let stmt = match pick(
        &mut b,
        &[
            "select", "with", "explain", "analyze", "values", "show", "describe", "create", "copy",
            "insert", "set", "drop", "prepare", "union",
        ],
    ) {
        "select" => format!("SELECT {expr} FROM {from}"),
        "with" => format!("WITH t AS (SELECT {expr} FROM {from}) SELECT * FROM t"),
        "explain" => format!("EXPLAIN SELECT {expr} FROM {from}"),
        "analyze" => format!("EXPLAIN ANALYZE SELECT {expr} FROM {from}"),
        "values" => "VALUES (1), (2)".to_string(),
        "show" => "SHOW TABLES".to_string(),
        "describe" => format!("DESCRIBE {from}"),
        "create" => format!("CREATE EXTERNAL TABLE c STORED AS CSV LOCATION '{canary}'"),
        "copy" => format!("COPY (SELECT {expr} FROM {from}) TO '{copy_to}'"),
        "insert" => format!("INSERT INTO events SELECT * FROM {from}"),
        "set" => "SET datafusion.execution.batch_size = 1".to_string(),
        "drop" => "DROP TABLE events".to_string(),
        "prepare" => format!("PREPARE p AS SELECT {expr} FROM {from}"),
        _ => format!("SELECT {expr} FROM {from} UNION ALL SELECT {expr} FROM {from}"),
    };
    let tail: Vec<u8> = b.collect();
    match std::str::from_utf8(&tail) {
        Ok(t) if !t.is_empty() => format!("{stmt} {t}"),
        _ => stmt,
    }
}

/// The SQL guard: a grammar-driven statement (plus a free tail) runs through the real user
/// SQL path. Only read-only statements may run; nothing may read the canary file next to the
/// cold store or write where `COPY` points.
pub fn sql_guard(data: &[u8]) {
    let world = sql_world();
    let root = world.root.display().to_string();
    let sql = statement(data, &root);
    let opts = QueryOptions {
        limit: 100,
        timeout: Some(std::time::Duration::from_secs(2)),
        memory_bytes: 64 << 20,
    };
    let read_only = crate::query::guard::parse_read_only(&sql).is_ok();
    let result = world
        .runtime
        .block_on(run_user_sql(&world.engine, &sql, &opts));
    match result {
        Ok(r) => {
            assert!(read_only, "a statement the guard refuses ran: {sql}");
            for batch in &r.batches {
                let text = format!("{:?}", batch);
                assert!(!text.contains(CANARY), "{sql} read the canary");
            }
        }
        Err(QueryError::Internal(e)) => panic!("internal error on {sql}: {e}"),
        Err(_) => {}
    }
    assert!(
        !world.root.join("copy-out.csv").exists(),
        "{sql} wrote a file"
    );
}

/// A fuzz target: its `tests/fuzz/fuzz_targets/<name>.rs` name and its entry point.
pub type Target = (&'static str, fn(&[u8]));

/// Every fuzz target.
pub const TARGETS: [Target; 10] = [
    ("wal_record", wal_records),
    ("id_log", id_log),
    ("event_framing", event_items),
    ("rfc3339", rfc3339),
    ("otlp_json", otlp_json),
    ("otlp_proto", otlp_proto),
    ("read_params", read_params),
    ("manifest_json", manifest_json),
    ("alert_payload", alert_payload),
    ("sql_guard", sql_guard),
];

#[cfg(test)]
mod tests {
    //! The fuzz corpora replayed in the ordinary test suite: every seed, fixture and regression
    //! input of each target (`tests/fuzz/seeds/<target>/`, findings are saved there as
    //! `regress-*`), plus deterministic byte mutations of each, so a finding that was fixed
    //! stays fixed even where the cargo-fuzz build is not run.

    use std::path::Path;

    use super::TARGETS;

    /// The seed inputs of `target`: its seed directory plus the fixtures the fuzz script adds.
    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        let mut dirs = vec![root.join("fuzz/seeds").join(target)];
        match target {
            "otlp_json" => dirs.push(root.join("fixtures/otlp")),
            "alert_payload" => dirs.push(root.join("fixtures/alerts")),
            _ => {}
        }
        let mut files: Vec<_> = dirs
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
    }

    /// A deterministic mutation of `seed` (flip, insert, delete, duplicate a span) per `step`.
    fn mutate(seed: &[u8], state: &mut u64) -> Vec<u8> {
        let mut next = || {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            *state
        };
        let mut out = seed.to_vec();
        for _ in 0..=(next() % 4) {
            let at = if out.is_empty() {
                0
            } else {
                (next() as usize) % out.len()
            };
            match next() % 4 {
                0 if !out.is_empty() => out[at] ^= 1 << (next() % 8),
                1 => out.insert(at, next() as u8),
                2 if !out.is_empty() => {
                    out.remove(at);
                }
                _ => {
                    let end = (at + (next() as usize % 16)).min(out.len());
                    let span = out[at..end].to_vec();
                    out.splice(at..at, span);
                }
            }
        }
        out
    }

    #[test]
    fn every_target_has_a_corpus_and_survives_it_and_its_mutations() {
        for (name, target) in TARGETS {
            let seeds = corpus(name);
            assert!(!seeds.is_empty(), "no seed inputs for {name}");
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fuzz/fuzz_targets")
                .join(format!("{name}.rs"));
            assert!(manifest.exists(), "no fuzz target file for {name}");
            target(&[]);
            // The SQL guard plans every input: fewer mutations keep the test short.
            let rounds = if name == "sql_guard" { 20 } else { 300 };
            let mut state = 0x9e37_79b9_7f4a_7c15_u64;
            for seed in &seeds {
                target(seed);
                for _ in 0..rounds {
                    target(&mutate(seed, &mut state));
                }
            }
        }
    }

    #[test]
    fn targets_match_the_fuzz_crate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/fuzz_targets");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("tests/fuzz/fuzz_targets")
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".rs")
                    .map(String::from)
            })
            .collect();
        files.sort();
        let mut names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
        names.sort();
        assert_eq!(files, names);
    }
}
