//! The encoded text: names, pre-seeded label sets and histogram buckets (parsed back from the
//! Prometheus text and OpenMetrics encodings).

use super::*;

/// The samples of `text` named exactly `name`: (labels text, value).
fn samples<'a>(text: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            (n == name).then_some((labels, value))
        })
        .collect()
}

/// The `le` bounds of histogram `name`'s `_bucket` series whose labels contain `with`.
fn bucket_bounds(text: &str, name: &str, with: &str) -> Vec<f64> {
    samples(text, &format!("{name}_bucket"))
        .into_iter()
        .filter(|(l, _)| l.contains(with))
        .filter_map(|(l, _)| {
            let le = l.split("le=\"").nth(1)?;
            match le.split('"').next()? {
                "+Inf" => Some(f64::INFINITY),
                v => v.parse().ok(),
            }
        })
        .collect()
}

fn expected_bounds(buckets: &[f64]) -> Vec<f64> {
    let mut v = buckets.to_vec();
    v.push(f64::INFINITY);
    v
}

fn prom() -> String {
    encode_prometheus().expect("encodes")
}

#[test]
fn every_spec_counter_is_exported_with_its_exact_name() {
    let text = prom();
    for name in [
        "waylog_signals_accepted_total",
        "waylog_signal_retention_pruned_total",
        "waylog_incidents_opened_total",
        "waylog_incidents_updated_total",
        "waylog_incidents_recovered_total",
        "waylog_incidents_resolved_total",
        "waylog_incidents_active",
        "waylog_incident_tick_failures_total",
        "waylog_incident_ids_reissued_total",
        "waylog_incident_retention_pruned_total",
        "waylog_incident_tick_latency_seconds_count",
        "waylog_process_resident_memory_bytes",
        "waylog_wal_poisoned",
    ] {
        assert_eq!(samples(&text, name).len(), 1, "{name} in\n{text}");
    }
    assert!(text.contains("# TYPE waylog_signals_accepted_total counter"));
    assert!(text.contains("# TYPE waylog_incident_tick_latency_seconds histogram"));
}

#[test]
fn label_sets_are_pre_seeded_at_zero() {
    let text = prom();
    let one = |name: &str, label: &str, values: &[&str]| {
        let got = samples(&text, name);
        for v in values {
            let want = format!("{label}=\"{v}\"");
            assert!(
                got.iter().any(|(l, _)| *l == want),
                "{name} lacks {want}: {got:?}"
            );
        }
    };
    one(
        "waylog_signals_rejected_total",
        "reason",
        SIGNAL_REJECT_REASONS,
    );
    assert_eq!(samples(&text, "waylog_signals_rejected_total").len(), 10);
    one("waylog_alerts_received_total", "format", ALERT_FORMATS);
    one("waylog_alerts_matched_total", "strategy", MATCH_STRATEGIES);
    one(
        "waylog_alerts_rejected_total",
        "reason",
        ALERT_REJECT_REASONS,
    );
    one("waylog_storage_hot_rows", "table", TABLES);
    one("waylog_storage_cold_bytes", "table", TABLES);
    one(
        "waylog_object_store_errors_total",
        "operation",
        STORE_OPERATIONS,
    );
    one("waylog_query_rejections_total", "cap", QUERY_CAPS);
    one("waylog_query_slots_in_use", "pool", SLOT_POOLS);
    one("waylog_job_up", "job", JOBS);
    one(
        "waylog_otlp_spans_received_total",
        "transport",
        OTLP_TRANSPORTS,
    );
    let classes = samples(&text, "waylog_incident_classifications_total");
    assert_eq!(classes.len(), 15, "{classes:?}");
    for c in CAUSES {
        for f in CONFIDENCES {
            let want = format!("cause=\"{c}\",confidence=\"{f}\"");
            assert!(classes.iter().any(|(l, _)| *l == want), "{want}");
        }
    }
    let triage = samples(&text, "waylog_triage_reports_total");
    assert_eq!(triage.len(), 8, "{triage:?}");
    for f in TRIAGE_FORMATS {
        for r in ["ok", "error"] {
            let want = format!("format=\"{f}\",result=\"{r}\"");
            assert!(triage.iter().any(|(l, _)| *l == want), "{want}");
        }
    }
    let dropped = samples(&text, "waylog_otlp_spans_dropped_total");
    assert_eq!(
        dropped.len(),
        OTLP_TRANSPORTS.len() * OTLP_DROP_REASONS.len()
    );
    let ingest = samples(&text, "waylog_ingest_events_total");
    assert_eq!(ingest.len(), INGEST_ROUTES.len() * INGEST_RESULTS.len());
}

#[test]
fn histograms_have_their_exact_buckets() {
    let text = prom();
    assert_eq!(
        bucket_bounds(&text, "waylog_incident_tick_latency_seconds", ""),
        expected_bounds(TICK_BUCKETS)
    );
    // Spec triage §9, literally.
    let spec: Vec<f64> = ".001 .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10"
        .split(' ')
        .map(|b| b.parse().unwrap())
        .collect();
    assert_eq!(TICK_BUCKETS, spec.as_slice());
    for (name, buckets) in [
        ("waylog_wal_append_seconds", DISK_BUCKETS),
        ("waylog_wal_fsync_seconds", DISK_BUCKETS),
        ("waylog_wal_group_records", GROUP_BUCKETS),
        ("waylog_storage_flush_duration_seconds", FLUSH_BUCKETS),
    ] {
        assert_eq!(
            bucket_bounds(&text, name, ""),
            expected_bounds(buckets),
            "{name}"
        );
    }
    for route in INGEST_ROUTES {
        let with = format!("route=\"{route}\"");
        assert_eq!(
            bucket_bounds(&text, "waylog_ingest_decode_seconds", &with),
            expected_bounds(LATENCY_BUCKETS),
            "{route}"
        );
    }
    http_request("/v1/query", 200, 0.003);
    let text = prom();
    assert_eq!(
        bucket_bounds(
            &text,
            "waylog_http_request_duration_seconds",
            "route=\"/v1/query\""
        ),
        expected_bounds(LATENCY_BUCKETS)
    );
}

#[test]
fn hooks_move_their_series() {
    let before = |name: &str, l: &str| -> f64 {
        samples(&prom(), name)
            .into_iter()
            .find(|(x, _)| *x == l)
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0.0)
    };
    let b = before(
        "waylog_triage_reports_total",
        "format=\"slack\",result=\"error\"",
    );
    triage_report("slack", false);
    assert_eq!(
        before(
            "waylog_triage_reports_total",
            "format=\"slack\",result=\"error\""
        ),
        b + 1.0
    );
    let b = before("waylog_signals_rejected_total", "reason=\"unknown_type\"");
    signal_rejected("unknown_type");
    assert_eq!(
        before("waylog_signals_rejected_total", "reason=\"unknown_type\""),
        b + 1.0
    );
}

#[test]
fn openmetrics_ends_with_eof_and_uses_family_names() {
    let text = encode_openmetrics().unwrap();
    assert!(text.ends_with("# EOF\n"), "{}", &text[text.len() - 40..]);
    assert!(text.contains("# TYPE waylog_signals_accepted counter"));
    assert!(text.contains("waylog_signals_accepted_total "));
    let prom = prom();
    assert!(!prom.contains("# EOF"));
}

#[test]
fn build_info_is_one_series_with_version_and_commit() {
    let text = prom();
    let got = samples(&text, "waylog_build_info");
    assert_eq!(got.len(), 1);
    let (version, commit) = build_version();
    assert_eq!(
        got[0],
        (
            format!("version=\"{version}\",commit=\"{commit}\"").as_str(),
            "1.0"
        )
    );
}

#[test]
fn vm_rss_parses_kilobytes() {
    let status = "Name:\twaylog\nVmPeak:\t  9000 kB\nVmRSS:\t  2048 kB\n";
    assert_eq!(process::parse_vm_rss(status), Some(2048 * 1024));
    assert_eq!(process::parse_vm_rss("Name: x\n"), None);
    assert!(process::open_fds() > 0);
    assert!(process::resident_bytes() > 0);
}

/// Every `waylog_…` name in `text`, deduplicated.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("waylog_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        // `waylog_` alone is the prefix named in prose, not a metric.
        if end > "waylog_".len() {
            names.insert(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

/// The sample names of the `/metrics` text (histograms' `_bucket`, `_sum`, `_count` included).
fn exported(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_grafana_dashboard_uses_only_exported_metric_names() {
    let dashboard = include_str!("../../docs/grafana-dashboard.json");
    let _: serde_json::Value = serde_json::from_str(dashboard).expect("dashboard is JSON");
    http_request("/v1/query", 200, 0.001);
    let have = exported(&prom());
    let used = metric_names(dashboard);
    assert!(used.len() >= 20, "{used:?}");
    let unknown: Vec<&String> = used.iter().filter(|n| !have.contains(*n)).collect();
    assert!(unknown.is_empty(), "not exported: {unknown:?}");
}

#[test]
fn operations_md_lists_every_exported_family() {
    let doc = include_str!("../../docs/operations.md");
    let documented = metric_names(doc);
    let missing: Vec<String> = prom()
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .filter(|n| !documented.contains(*n))
        .map(str::to_string)
        .collect();
    assert!(missing.is_empty(), "not in docs/operations.md: {missing:?}");
    // And the doc names nothing that does not exist.
    let have = exported(&prom());
    let families: Vec<&String> = documented
        .iter()
        .filter(|n| !have.contains(*n) && !have.contains(&format!("{n}_count")))
        .collect();
    assert!(
        families.is_empty(),
        "documented but not exported: {families:?}"
    );
}
