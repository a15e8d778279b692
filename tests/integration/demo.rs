//! `waylog demo` end to end (spec triage §8): the real binary starts an in-process server on
//! port 0, posts the deploy / dependency / runtime signals and a burst, prints the report and
//! the active incident the engine derived (cause dependency, high confidence, evidence citing
//! the signal, the dependency next checks) and, with `--exit`, stops cleanly; and
//! `scripts/rollup-comparison.sh` passes against a fresh server.

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
        "--tick",
        "1s",
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
    // The incident (spec triage §8.3).
    assert!(
        s.contains("signals posted: deploy:checkout:demo_checkout_rollout, dependency:payment:payment_gateway_5xx"),
        "{s}"
    );
    let incident = s
        .split("active incident for checkout:payment.charge:PMT_502:")
        .nth(1)
        .unwrap_or_else(|| panic!("no incident section in {s}"));
    assert!(
        incident.contains("status active  cause dependency (high)"),
        "{incident}"
    );
    assert!(
        incident.contains("Family: checkout:payment.charge:PMT_502"),
        "{incident}"
    );
    assert!(
        incident.contains("- trace: First failing trace sample (payment.charge/PMT_502)"),
        "{incident}"
    );
    assert!(
        incident.contains("- signal: Dependency payment: payment_gateway_5xx"),
        "{incident}"
    );
    assert!(
        incident.contains("- runtime: Runtime checkout: panic (waylog-demo) (panic)"),
        "{incident}"
    );
    assert!(
        incident.contains("for the failing call to `payment`."),
        "{incident}"
    );
    assert!(
        incident.contains("`payment_gateway_5xx` on `payment`."),
        "{incident}"
    );
    assert!(
        !incident.contains("Deploy checkout"),
        "the demo-v2.1 deploy must not match: {incident}"
    );
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
