//! The embedded dashboard (`/ui`, issue 19) in a real browser: headless Chromium (Debian's
//! `chromium`) driven by Playwright for Python (`tests/peers/ui_test.py`, launched with the
//! system executable; no browser download) against the real `waylog demo` after a burst, and
//! against a `waylog serve` whose read scope is closed.
//!
//! A missing chromium or Playwright fails these tests with the setup command to run: they are
//! the only evidence that the page works in a browser, so a silent skip would hide a gap.
//! Screenshots of every screen go to `$CARGO_TARGET_TMPDIR/ui-screens/<test>/`
//! (`docs/ui/` holds copies, see `docs/ui.md`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::demo::Demo;
use crate::harness::*;

const FAMILY: &str = "checkout:payment.charge:PMT_502";
const READ_KEY: &str = "ui-read-key-7f3a";

fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/ui_test.py")
}

/// How to get the browser pieces.
const SETUP: &str = "run scripts/setup-test-deps.sh (it installs Debian's chromium and \
                     Playwright into the test venv) and set WAYLOG_TEST_PYTHON to the python it prints";

/// The chromium executable: `WAYLOG_TEST_CHROMIUM`, else `chromium` or `chromium-browser` on
/// `PATH`.
fn chromium() -> PathBuf {
    if let Ok(p) = std::env::var("WAYLOG_TEST_CHROMIUM")
        && !p.trim().is_empty()
    {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("chromium is not installed (no chromium on PATH, WAYLOG_TEST_CHROMIUM unset); {SETUP}")
}

/// The test Python, checked to import Playwright.
fn playwright_python() -> String {
    let python = test_python();
    match Command::new(&python)
        .args(["-c", "import playwright.sync_api"])
        .output()
    {
        Ok(o) if o.status.success() => python,
        Ok(o) => panic!(
            "Playwright is not importable by {python:?} ({}); {SETUP}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("cannot run {python:?} ({e}); {SETUP}"),
    }
}

/// A fresh screenshot folder for one test.
fn screens_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("ui-screens")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run the browser peer; returns what it saw (its stdout JSON).
fn run_browser(url: &str, mode: &str, key: &str, out: &Path) -> Value {
    let chromium = chromium();
    let output = Command::new(playwright_python())
        .arg(peer_script())
        .args(["--url", url, "--mode", mode, "--key", key])
        .arg("--chromium")
        .arg(&chromium)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "ui_test.py --mode {mode} failed ({}); screenshots in {}\nstdout: {stdout}\nstderr: {stderr}",
        output.status,
        out.display()
    );
    let line = stdout.lines().last().unwrap_or("");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("peer output is not JSON ({e}): {stdout}"))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v:#}"))
}

fn count(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {v:#}"))
}

/// Console errors and page errors of every screen but `allowed_screen`; that one may only
/// hold the browser's own "Failed to load resource … <status>" lines for `status`.
fn assert_console_clean(seen: &Value, allowed_screen: &str, status: &str) {
    let errors = seen["console_errors"].as_object().unwrap();
    for (screen, list) in errors {
        for e in list.as_array().unwrap() {
            let e = e.as_str().unwrap_or_default();
            let expected = screen == allowed_screen
                && e.starts_with("Failed to load resource")
                && e.contains(status);
            assert!(expected, "console error on screen {screen}: {e}");
        }
    }
}

/// Every screenshot the peer listed exists and is a PNG.
fn assert_screenshots(seen: &Value, names: &[&str]) {
    let shots: Vec<&str> = seen["screenshots"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for name in names {
        let path = shots
            .iter()
            .find(|p| p.ends_with(&format!("/{name}.png")))
            .unwrap_or_else(|| panic!("no screenshot {name} in {shots:?}"));
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{path} is not a PNG");
    }
}

/// The id of the demo family's incident once its TriageReport has settled: the incident opens
/// on the first tick that sees the burst's failures and is refreshed while the rest land, so
/// wait for one hash to hold across three ticks (1 s each) before the page reads it.
fn settled_incident(waylog: &str) -> String {
    let agent = agent();
    let get = |path: String| read_resp(agent.get(format!("{waylog}{path}")).call()).unwrap();
    let mut id = None;
    assert!(
        wait_until(Duration::from_secs(90), || {
            let v = get("/v1/incidents/active".into()).json();
            id = v["incidents"].as_array().and_then(|list| {
                list.iter()
                    .find(|i| i["error_family"]["error_code"] == "PMT_502")
                    .and_then(|i| i["incident_id"].as_str().map(str::to_string))
            });
            id.is_some()
        }),
        "no PMT_502 incident within 90 s"
    );
    let id = id.unwrap_or_default();
    let hash = || get(format!("/v1/triage/{id}")).json()["report_hash"].clone();
    let mut last = hash();
    assert!(
        wait_until(Duration::from_secs(60), || {
            std::thread::sleep(Duration::from_secs(3));
            let now = hash();
            std::mem::replace(&mut last, now.clone()) == now
        }),
        "the report of {id} kept changing"
    );
    id
}

#[test]
fn ui_dashboard_tells_the_demo_incident_story_in_chromium() {
    let chromium = chromium();
    assert!(chromium.exists(), "{}", chromium.display());
    let demo = Demo::start(&["--requests", "0", "--seed", "11"]);
    let agent = agent();
    let r = read_resp(agent.get(format!("{}/ui/incidents", demo.waylog)).call()).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let burst = demo.burst(r#"{"requests": 30, "concurrency": 5}"#);
    assert_eq!(burst.status, 200, "{}", burst.body);

    let settled = settled_incident(&demo.waylog);

    let out = screens_dir("demo");
    let seen = run_browser(&demo.waylog, "demo", "", &out);

    // Incidents: the card of the demo family, then its detail.
    let id = text(&seen, "incident_id").to_string();
    assert_eq!(id, settled, "{seen:#}");
    let card = text(&seen, "card_text");
    assert!(
        card.contains(FAMILY) && card.contains("dependency"),
        "{card}"
    );
    assert!(count(&seen, "evidence_items") >= 1, "{seen:#}");
    assert!(count(&seen, "next_checks") >= 1, "{seen:#}");
    // Two bars (failing, baseline share) per suspect dimension, or the capture's word when
    // no value qualified (spec triage §2.10: `partial`), depending on the burst's draw.
    let bars = count(&seen, "dimension_bars");
    let dims = text(&seen, "dimensions_text");
    assert!(
        (bars >= 2 && bars.is_multiple_of(2)) || dims.starts_with("No suspect dimension"),
        "{seen:#}"
    );

    // The hash on the page is the CLI's (the report settled before the page read it).
    let hash = text(&seen, "report_hash");
    assert!(hash.starts_with("sha256:") && hash.len() == 71, "{hash}");
    let cli = waylog_cli(&["--addr", &demo.waylog, "--json", "triage", &id]);
    assert_eq!(cli.code, 0, "{cli:?}");
    let report: Value = serde_json::from_str(&cli.stdout).unwrap();
    assert_eq!(report["report_hash"].as_str(), Some(hash), "page vs CLI");
    for (format, body) in seen["renders"].as_object().unwrap() {
        assert!(
            body.as_str().unwrap_or_default().contains(hash),
            "{format} render lacks the report hash: {body}"
        );
    }

    // Errors: a sparkline per family, and the rollup chart.
    assert!(count(&seen, "family_rows") >= 1);
    assert_eq!(count(&seen, "sparklines"), count(&seen, "family_rows"));
    assert!(text(&seen, "families_text").contains(FAMILY));
    assert!(text(&seen, "rollup_text").contains("PMT_502"));

    // Explain: the origin marked is the story's originating event.
    let trace = text(&seen, "explain_trace");
    let story = read_resp(
        agent
            .get(format!("{}/v1/traces/story?trace_id={trace}", demo.waylog))
            .call(),
    )
    .unwrap()
    .json();
    assert_eq!(seen["origin_event_id"], story["event_id"], "{seen:#}");
    let origin = text(&seen, "origin_text");
    assert!(
        origin.contains("ORIGIN") && origin.contains("PMT_502"),
        "{origin}"
    );
    assert!(count(&seen, "propagated_marks") >= 1, "{seen:#}");

    // Blast radius, recent traces, search, SQL.
    assert!(count(&seen, "blast_requests") >= 6, "{seen:#}");
    assert!(count(&seen, "trace_rows") >= 1);
    assert!(count(&seen, "search_rows") >= 6, "{seen:#}");
    assert_eq!(count(&seen, "sql_rows"), 4, "{seen:#}");
    assert!(text(&seen, "sql_first_row").starts_with("api-gateway"));
    let csv = text(&seen, "csv");
    assert!(csv.starts_with("service,n\napi-gateway,"), "{csv}");
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(text(&seen, "sql_error").contains("statement_not_allowed"));

    // No console error anywhere but the deliberate 400 of the refused statement.
    assert_console_clean(&seen, "sql-error", "400");
    assert_screenshots(
        &seen,
        &[
            "incidents",
            "incidents-dark",
            "incident",
            "incident-report",
            "errors",
            "explain",
            "blast",
            "traces",
            "search",
            "sql",
        ],
    );
    drop(demo);
}

#[test]
fn ui_dashboard_asks_once_for_the_read_key_of_a_closed_scope() {
    let dir = TestDir::new();
    let server = Server::start(&dir.data_dir(), &[], &[("WAYLOG_READ_KEY", READ_KEY)]);
    assert_eq!(server.get("/v1/incidents/active").status, 401);
    // The page is public and holds no key.
    let page = server.get("/ui/incidents");
    assert_eq!(page.status, 200);
    for asset in ["/ui", "/ui/assets/app.js"] {
        assert!(!server.get(asset).body.contains(READ_KEY));
    }

    let out = screens_dir("auth");
    let seen = run_browser(&server.url, "auth", READ_KEY, &out);
    assert_eq!(seen["prompted"], true, "{seen:#}");
    assert_eq!(text(&seen, "stored_key"), READ_KEY);
    assert_eq!(seen["local_storage_keys"], serde_json::json!([]));
    assert!(!text(&seen, "url").contains(READ_KEY));
    assert_eq!(seen["prompted_again"], false, "{seen:#}");
    assert!(text(&seen, "strip_text").contains("No active incidents."));
    assert!(
        text(&seen, "families_text").contains("No failures"),
        "{seen:#}"
    );
    // Only the first, unauthenticated calls failed (401), on the first screen.
    assert_console_clean(&seen, "auth", "401");
    assert_screenshots(&seen, &["auth-prompt", "auth-after-key"]);
}
