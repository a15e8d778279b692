//! `waylog demo` end to end (spec triage §8, the parts without signals/incidents): the real
//! binary starts an in-process server on port 0, sends a burst, prints the report and, with
//! `--exit`, stops cleanly; and `scripts/rollup-comparison.sh` passes against a fresh server.

use std::process::Command;

use crate::harness::*;

#[test]
fn demo_exit_prints_the_whole_story() {
    let dir = TestDir::new();
    let data = dir.data_dir();
    let out = waylog_cli(&[
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--seed",
        "7",
        "--exit",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let s = &out.stdout;
    assert!(s.contains("checkout:payment.charge:PMT_502"), "{s}");
    let field = |label: &str| -> i64 {
        let line = s
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label:?} in {s}"));
        let tail = line.rsplit([':', '=']).next().unwrap().trim();
        tail.parse()
            .unwrap_or_else(|_| panic!("not a number in {line:?}"))
    };
    let root = field("root-cause count:");
    let naive = field("naive per-hop count:");
    let services = field("affected services:");
    assert!(root >= 6, "{s}");
    assert!(services > 1, "{s}");
    assert!(naive > root, "{s}");
    assert!(s.contains("explained trace:"), "{s}");
    assert!(s.contains("payment.charge -> PMT_502"), "{s}");
    assert!(s.contains("linkage: causal"), "{s}");
    assert!(
        s.contains("blast radius of checkout:payment.charge:PMT_502:"),
        "{s}"
    );
    assert!(s.contains("affected requests:"), "{s}");
    // Graceful stop: the data directory lock is released and the WAL is there.
    assert!(data.join("wal").exists());
}

#[test]
fn demo_rollup_comparison_script_passes() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/rollup-comparison.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(script);
    for (k, _) in std::env::vars() {
        if k.starts_with("WAYLOG_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.env("WAYLOG_BIN", BIN).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("Rollup comparison"), "{stdout}");
    assert!(
        stdout.contains("PASS: waylog counts the root cause once"),
        "{stdout}"
    );
}
