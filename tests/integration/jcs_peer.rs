//! Our RFC 8785 canonicalization (the input of every `report_hash`, spec triage §6.3) against
//! an independent implementation: the `rfc8785` package from PyPI (peer
//! `tests/peers/jcs.py`, installed by `scripts/setup-test-deps.sh`). Hand-picked edge cases
//! (UTF-16 member order, ECMAScript number forms, escaping, integer range) and a few thousand
//! seeded random documents and TriageReports must canonicalize to the same bytes, or both
//! refuse.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Map, Number, Value, json};
use waylog::incidents::model::Confidence;
use waylog::triage::jcs::canonicalize;
use waylog::triage::report::{
    BlastSnapshot, FamilyCount, IncidentRef, NextCheck, SampleTrace, SignalRef, TriageReport,
};

use crate::harness::test_python;

fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/jcs.py")
}

/// The peer's answer per document: hex of the canonical bytes, or `error:<name>`.
fn peer(docs: &[String]) -> Vec<String> {
    let python = test_python();
    let mut child = Command::new(&python)
        .arg(peer_script())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {python}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = docs.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tests/peers/jcs.py failed: {stderr}\nIf rfc8785 is missing, run scripts/setup-test-deps.sh \
         and set WAYLOG_TEST_PYTHON to the python it prints."
    );
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), docs.len(), "one answer per document; {stderr}");
    lines
}

fn ours(v: &Value) -> String {
    match canonicalize(v) {
        Ok(s) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        Err(_) => "error".into(),
    }
}

/// Checks every value against the peer; returns how many each side refused.
fn agree(values: &[Value]) -> usize {
    let docs: Vec<String> = values
        .iter()
        .map(|v| serde_json::to_string(v).unwrap())
        .collect();
    let theirs = peer(&docs);
    let mut refused = 0;
    for ((v, doc), t) in values.iter().zip(&docs).zip(&theirs) {
        let o = ours(v);
        if o == "error" {
            assert!(t.starts_with("error:"), "we refuse, rfc8785 accepts: {doc}");
            refused += 1;
        } else {
            assert_eq!(&o, t, "canonical forms differ for {doc}");
        }
    }
    refused
}

/// splitmix64: a tiny deterministic generator (the seed makes every failure reproducible).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A string mixing ASCII, controls, HTML characters, BMP letters above and below the
    /// surrogate range, and supplementary-plane characters (emoji).
    fn string(&mut self) -> String {
        const POOL: &[char] = &[
            'a',
            'B',
            'z',
            '0',
            ' ',
            '"',
            '\\',
            '/',
            '<',
            '>',
            '&',
            '\u{0}',
            '\u{1}',
            '\u{8}',
            '\t',
            '\n',
            '\u{c}',
            '\r',
            '\u{1f}',
            '\u{7f}',
            'é',
            'ß',
            '€',
            '\u{2028}',
            '\u{d7ff}',
            '\u{e000}',
            '\u{fb01}',
            '\u{fffd}',
            '\u{ffff}',
            '😀',
            '🚀',
            '\u{10000}',
            '\u{10ffff}',
            '中',
            'ж',
        ];
        let len = self.below(8);
        (0..len)
            .map(|_| POOL[self.below(POOL.len() as u64) as usize])
            .collect()
    }

    /// A finite double: random bits (any exponent), small decimals, or integers.
    fn number(&mut self) -> Value {
        match self.below(4) {
            0 => loop {
                let x = f64::from_bits(self.next());
                if x.is_finite() {
                    return json!(x);
                }
            },
            1 => json!((self.below(2_000_000) as f64 - 1_000_000.0) / 1000.0),
            2 => json!(self.below(1 << 53) as i64 - (1 << 52)),
            _ => json!(self.below(10_000) as f64 * 10f64.powi(self.below(60) as i32 - 30)),
        }
    }

    fn value(&mut self, depth: u32) -> Value {
        let kind = if depth == 0 {
            self.below(4)
        } else {
            self.below(6)
        };
        match kind {
            0 => Value::String(self.string()),
            1 => self.number(),
            2 => {
                [Value::Null, Value::Bool(true), Value::Bool(false)][self.below(3) as usize].clone()
            }
            3 => Value::String(String::new()),
            4 => Value::Array((0..self.below(5)).map(|_| self.value(depth - 1)).collect()),
            _ => {
                let mut m = Map::new();
                for _ in 0..self.below(6) {
                    let k = self.string();
                    let v = self.value(depth - 1);
                    m.insert(k, v);
                }
                Value::Object(m)
            }
        }
    }
}

#[test]
fn edge_cases_match_rfc8785() {
    let big = Number::from(9_007_199_254_740_993_u64);
    let values = vec![
        // RFC 8785 §3.2.3: UTF-16 code unit order (U+1F600 sorts before U+E000, unlike code
        // point order), and "\r" before "1" before "€".
        json!({"\u{e000}": 1, "😀": 2, "\u{10000}": 3, "a": 4, "B": 5, "é": 6, "": 7}),
        json!({"\u{20ac}": "Euro Sign", "\r": "Carriage Return", "\u{fb33}": "Hebrew Letter Dalet With Dagesh", "1": "One", "\u{1f600}": "Emoji: Grinning Face", "\u{80}": "Control", "\u{f6}": "Latin Small Letter O With Diaeresis"}),
        // ECMAScript number forms.
        json!([
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            1e21,
            1e20,
            1e-6,
            1e-7,
            123456789012345680000.0,
            5e-324,
            1.7976931348623157e308,
            2.2250738585072014e-308,
            0.000001234,
            9007199254740991_i64,
            -9007199254740991_i64,
            333333333.3333333,
            1e23,
            4.35,
            0.002,
            0.9667,
            12.0,
            0.75
        ]),
        // Escaping: controls as \b \t \n \f \r or \u00xx; `/`, `<`, `>`, `&`, DEL, U+2028 and
        // non-ASCII literal.
        json!([
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}",
            "\"\\/<>&",
            "\u{2028}\u{2029}",
            "😀é中"
        ]),
        json!({"nested": {"z": [], "a": {}, "m": [{"b": null, "a": true}]}}),
        // Integers outside ±2^53: both refuse.
        Value::Number(big),
        json!({"n": -9007199254740993_i64}),
    ];
    let refused = agree(&values);
    assert_eq!(refused, 2, "both out-of-range integers are refused");
}

#[test]
fn seeded_random_documents_match_rfc8785() {
    let mut rng = Rng(0x5eed_8785);
    let values: Vec<Value> = (0..3000).map(|_| rng.value(4)).collect();
    assert_eq!(agree(&values), 0);
}

/// TriageReports as the hash sees them, with non-ASCII and emoji in every string member and a
/// `first_failure` story carrying emoji keys and fractional numbers.
#[test]
fn generated_reports_match_rfc8785() {
    let mut rng = Rng(42);
    let mut values = Vec::new();
    for i in 0..200 {
        let mut first = Map::new();
        for _ in 0..4 {
            let k = rng.string();
            let v = rng.value(2);
            first.insert(k, v);
        }
        let report = TriageReport {
            schema_version: "triage.v1".into(),
            incident_ref: IncidentRef {
                id: format!("inc_{i:04}{}", rng.string()),
                window: "15m0s".into(),
            },
            blast_snapshot: BlastSnapshot {
                requests: rng.below(1 << 40) as i64,
                users: rng.below(1000) as i64,
                services: rng.below(9) as i64,
                top_error_families: vec![FamilyCount {
                    service: rng.string(),
                    step: "paiement.débit💳".into(),
                    error_code: rng.string(),
                    count: rng.below(1 << 53) as i64,
                }],
            },
            first_failure: Some(serde_json::value::to_raw_value(&Value::Object(first)).unwrap()),
            suspect_change: None,
            sample_traces: vec![SampleTrace {
                trace_id: format!("{:032x}", rng.next()),
                summary: format!("{} → {}", rng.string(), rng.string()),
            }],
            signals: vec![SignalRef {
                id: format!("sig_{}", rng.string()),
                kind: "dependency".into(),
                evidence_ids: vec![rng.string(), rng.string()],
            }],
            alerts: vec![],
            runtime: vec![],
            suspect_dimensions: vec![],
            next_checks: vec![NextCheck {
                id: "check_0".into(),
                prompt: rng.string(),
            }],
            confidence: Confidence::Medium,
            generated_at: "2026-05-04T12:10:30.5Z".into(),
            plan_run_id: None,
            report_hash: String::new(),
            evidence_fingerprint: String::new(),
        };
        values.push(serde_json::to_value(&report).unwrap());
    }
    assert_eq!(agree(&values), 0);
}
