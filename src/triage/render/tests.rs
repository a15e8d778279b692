use serde_json::Value;

use super::*;
use crate::incidents::model::Confidence;
use crate::triage::report::{
    BlastSnapshot, FamilyCount, IncidentRef, NextCheck, SampleTrace, SignalRef,
};

/// A report with every section filled, two entries where the renderers show only the first.
fn full() -> TriageReport {
    TriageReport {
        schema_version: "triage.v1".into(),
        incident_ref: IncidentRef {
            id: "inc_eee7eabe9bda8b24".into(),
            window: "15m0s".into(),
        },
        blast_snapshot: BlastSnapshot {
            requests: 120,
            users: 37,
            services: 3,
            top_error_families: vec![
                FamilyCount {
                    service: "checkout".into(),
                    step: "payment.charge".into(),
                    error_code: "PMT_502".into(),
                    count: 118,
                },
                FamilyCount {
                    service: "payment".into(),
                    step: "db.query".into(),
                    error_code: "DB_TIMEOUT".into(),
                    count: 2,
                },
            ],
        },
        first_failure: None,
        suspect_change: Some(SuspectChange {
            deploy_id: "dep_1a2b".into(),
            service: "payment".into(),
            version: "v2.4.1".into(),
            commit_sha: "9f1c2ab".into(),
            pr_url: "https://git.example/pay/pull/42".into(),
            commit_author: "dana".into(),
            deployed_at: "2026-05-04T12:01:00Z".into(),
            error_rate_before: Some(0.004),
            error_rate_after: Some(0.3125),
        }),
        sample_traces: vec![
            SampleTrace {
                trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                summary: "checkout/payment.charge → payment.charge".into(),
            },
            SampleTrace {
                trace_id: "5cf92f3577b34da6a3ce929d0e0e4737".into(),
                summary: String::new(),
            },
        ],
        signals: vec![SignalRef {
            id: "sig_9".into(),
            kind: "deploy".into(),
            evidence_ids: vec!["dep_1a2b".into(), "sig_9".into()],
        }],
        alerts: vec![
            AlertRef {
                signal_id: "sig_a1".into(),
                alert_id: "am_77".into(),
                source: "alertmanager".into(),
                severity: "critical".into(),
                reason: "PaymentErrors firing:\nerror rate above 5%".into(),
                provider_url: "http://am.example/#/alerts".into(),
                evidence_ids: vec!["sig_a1".into()],
            },
            AlertRef {
                signal_id: "sig_a2".into(),
                alert_id: String::new(),
                source: "grafana".into(),
                severity: "warning".into(),
                reason: "latency".into(),
                provider_url: String::new(),
                evidence_ids: vec![],
            },
        ],
        runtime: vec![
            RuntimeRef {
                signal_id: "sig_r1".into(),
                subtype: "oom_kill".into(),
                service: "payment".into(),
                source: "kubernetes".into(),
                severity: "error".into(),
                reason: "container payment OOMKilled".into(),
                occurred_at: "2026-05-04T12:02:00Z".into(),
            },
            RuntimeRef {
                signal_id: "sig_r2".into(),
                subtype: String::new(),
                service: "db".into(),
                source: "node".into(),
                severity: "warning".into(),
                reason: String::new(),
                occurred_at: "2026-05-04T12:03:00Z".into(),
            },
        ],
        suspect_dimensions: vec![SuspectDimension {
            dimension: "version".into(),
            value: "v2.4.1".into(),
            failing_count: 118,
            failing_share: 0.9833,
            baseline_count: 4,
            baseline_share: 0.0125,
            score: 0.75,
        }],
        next_checks: vec![
            NextCheck {
                id: "check_rollback".into(),
                prompt: "Roll back payment v2.4.1 and watch PMT_502".into(),
            },
            NextCheck {
                id: "check_db".into(),
                prompt: "Check db connection pool".into(),
            },
        ],
        confidence: Confidence::High,
        generated_at: "2026-05-04T12:10:30.5Z".into(),
        plan_run_id: None,
        report_hash: "sha256:ebeda7ae".into(),
        evidence_fingerprint: "sha256:7fd32f87".into(),
    }
}

/// A report with only what every report has.
fn minimal() -> TriageReport {
    TriageReport {
        schema_version: "triage.v1".into(),
        incident_ref: IncidentRef {
            id: "inc_0001".into(),
            window: "15m0s".into(),
        },
        blast_snapshot: BlastSnapshot {
            requests: 0,
            users: 0,
            services: 0,
            top_error_families: vec![],
        },
        first_failure: None,
        suspect_change: None,
        sample_traces: vec![],
        signals: vec![],
        alerts: vec![],
        runtime: vec![],
        suspect_dimensions: vec![],
        next_checks: vec![],
        confidence: Confidence::Low,
        generated_at: "2026-05-04T12:10:30Z".into(),
        plan_run_id: None,
        report_hash: "sha256:00ff".into(),
        evidence_fingerprint: "sha256:11ee".into(),
    }
}

fn md(r: &TriageReport) -> String {
    render(r, ReportFormat::Markdown).expect("markdown")
}

fn pd(r: &TriageReport) -> String {
    render(r, ReportFormat::Pagerduty).expect("pagerduty")
}

fn slack_text(r: &TriageReport) -> String {
    render(r, ReportFormat::Slack).expect("slack")
}

#[test]
fn markdown_full() {
    insta::assert_snapshot!(md(&full()));
}

#[test]
fn markdown_minimal() {
    insta::assert_snapshot!(md(&minimal()));
}

#[test]
fn slack_full() {
    insta::assert_snapshot!(slack_text(&full()));
}

#[test]
fn slack_minimal() {
    insta::assert_snapshot!(slack_text(&minimal()));
}

#[test]
fn pagerduty_full() {
    insta::assert_snapshot!(pd(&full()));
}

#[test]
fn pagerduty_minimal() {
    insta::assert_snapshot!(pd(&minimal()));
}

#[test]
fn markdown_has_a_blank_line_before_every_section_and_ends_with_newline() {
    for r in [full(), minimal()] {
        let text = md(&r);
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
        let lines: Vec<&str> = text.lines().collect();
        let mut sections = vec![];
        for (i, line) in lines.iter().enumerate() {
            if let Some(title) = line.strip_prefix("## ") {
                assert_eq!(lines[i - 1], "", "blank line before {line}");
                sections.push(title);
            } else {
                assert!(
                    line.is_empty() || line.starts_with("- ") || i == 0,
                    "{line}"
                );
            }
        }
        assert_eq!(
            sections,
            [
                "Summary",
                "Impact",
                "Suspect Change",
                "First Failure And Traces",
                "Alert Evidence",
                "Runtime Evidence",
                "Suspect Dimensions",
                "Signals",
                "Next Checks"
            ]
        );
        // No two blank lines in a row: every blank line is followed by a section.
        for w in lines.windows(2) {
            if w[0].is_empty() {
                assert!(w[1].starts_with("## "), "{w:?}");
            }
        }
    }
}

#[test]
fn markdown_not_available_fallbacks_cite_per_section() {
    let text = md(&minimal());
    let h = "report `sha256:00ff`";
    let ih = "incident `inc_0001`, report `sha256:00ff`";
    for expected in [
        format!("## Suspect Change\n- not available ({ih})\n"),
        format!("## First Failure And Traces\n- not available ({ih})\n"),
        "- Error family: not available (incident `inc_0001`)\n".to_owned(),
        format!("## Alert Evidence\n- not available ({h})\n"),
        format!("## Runtime Evidence\n- not available ({h})\n"),
        format!("## Suspect Dimensions\n- not available ({h})\n"),
        format!("## Signals\n- not available ({h})\n"),
        format!("## Next Checks\n- not available ({h})\n"),
        format!(
            "- Evidence status: alert=not available trace=not available signal=not available runtime=not available ({h})\n"
        ),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn markdown_values_stay_on_their_line_and_blanks_print_not_available() {
    let text = md(&full());
    // The alert reason's line break became a space.
    assert!(text.contains(": PaymentErrors firing: error rate above 5%; provider="));
    // Blank alert id, provider, trace summary and runtime subtype/reason.
    assert!(text.contains(
        "- `warning` from `grafana`: latency; provider=not available (signal `sig_a2`, alert `not available`"
    ));
    assert!(text.contains("`: not available (incident `inc_eee7eabe9bda8b24`"));
    assert!(text.contains("- `warning` runtime on `db`: not available (source `node`"));
}

#[test]
fn suspect_summary_pieces() {
    let full = full().suspect_change.expect("suspect");
    assert_eq!(
        suspect_summary(&full),
        "payment v2.4.1 (PR https://git.example/pay/pull/42, by dana, commit 9f1c2ab); err 0.4% -> 31.3%"
    );
    let bare = SuspectChange {
        deploy_id: "d".into(),
        service: "payment".into(),
        version: String::new(),
        commit_sha: "abc".into(),
        pr_url: String::new(),
        commit_author: String::new(),
        deployed_at: String::new(),
        error_rate_before: None,
        error_rate_after: Some(0.5),
    };
    // One rate alone prints no rate; only present parts appear.
    assert_eq!(suspect_summary(&bare), "payment (commit abc)");
    let nothing = SuspectChange {
        commit_sha: String::new(),
        ..bare
    };
    assert_eq!(suspect_summary(&nothing), "payment");
}

#[test]
fn dimension_percentages_have_one_decimal() {
    let text = md(&full());
    assert!(text.contains(
        "- `version`=`v2.4.1`: 118 failing (98.3%) vs 4 baseline (1.3%), score 0.75 (incident"
    ));
}

#[test]
fn slack_keys_are_sorted_at_every_level_and_blocks_in_order() {
    let text = slack_text(&full());
    assert!(text.starts_with("{\n  \"blocks\": [\n    {\n"));
    // Key order is checked on the text: a parsed map would hide it.
    let mut stack: Vec<Option<String>> = vec![];
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with('}') || t.starts_with(']') {
            stack.pop();
        }
        if let Some(key) = t.strip_prefix('"').and_then(|rest| rest.split_once("\": ")) {
            let top = stack.last_mut().expect("inside an object");
            if let Some(prev) = top.as_deref() {
                assert!(prev < key.0, "{prev} before {} in\n{text}", key.0);
            }
            *top = Some(key.0.to_owned());
        }
        if t.ends_with('{') || t.ends_with('[') {
            stack.push(None);
        }
    }
    assert!(stack.is_empty());
    let value: Value = serde_json::from_str(&text).expect("slack json");
    let blocks = value["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 6);
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[1]["fields"].as_array().expect("fields").len(), 6);
    let texts: Vec<&str> = blocks[2..]
        .iter()
        .map(|b| b["text"]["text"].as_str().expect("text"))
        .collect();
    assert!(texts[0].starts_with("*Suspect change*\npayment v2.4.1"));
    assert!(texts[1].starts_with("*Alert evidence*\n`alertmanager`"));
    assert!(!texts[1].contains("grafana"), "only the first alert");
    assert_eq!(
        texts[2],
        "*Runtime evidence*\n`error` oom_kill on payment (kubernetes); `warning` not available on db (node) (report `sha256:ebeda7ae`)"
    );
    assert!(
        !texts[3].contains("connection pool"),
        "only the first check"
    );
}

#[test]
fn slack_absent_items_read_not_available_with_their_citation() {
    let value: Value = serde_json::from_str(&slack_text(&minimal())).expect("json");
    let blocks = value["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[1]["fields"][3]["text"], "*Trace*\nnot available");
    assert_eq!(
        blocks[2]["text"]["text"],
        "*Suspect change*\nnot available (incident `inc_0001`, report `sha256:00ff`)"
    );
    assert_eq!(
        blocks[5]["text"]["text"],
        "*Next check*\nnot available (report `sha256:00ff`)"
    );
}

#[test]
fn slack_texts_are_cut_to_slack_limits_with_a_marker() {
    let mut r = full();
    r.alerts[0].reason = "x".repeat(10_000);
    r.next_checks[0].prompt = "é".repeat(5_000);
    r.incident_ref.id = "i".repeat(3_000);
    let value: Value = serde_json::from_str(&slack_text(&r)).expect("json");
    let blocks = value["blocks"].as_array().expect("blocks");
    for b in &blocks[2..] {
        let t = b["text"]["text"].as_str().expect("text");
        assert!(t.chars().count() <= 3000);
    }
    let alert = blocks[3]["text"]["text"].as_str().expect("alert");
    assert_eq!(alert.chars().count(), 3000);
    assert!(alert.ends_with(TRUNCATED));
    assert!(
        blocks[5]["text"]["text"]
            .as_str()
            .expect("check")
            .ends_with(TRUNCATED)
    );
    for f in blocks[1]["fields"].as_array().expect("fields") {
        assert!(f["text"].as_str().expect("field").chars().count() <= 2000);
    }
    // Short texts are left alone.
    assert_eq!(fit("abc".into(), 3), "abc");
    assert_eq!(fit("abcdef".into(), 5), "abcde");
    let cut = fit("x".repeat(40), 20);
    assert_eq!(cut.chars().count(), 20);
    assert!(cut.ends_with(TRUNCATED));
}

#[test]
fn pagerduty_is_one_line() {
    for r in [full(), minimal()] {
        let line = pd(&r);
        assert!(line.ends_with('\n'));
        assert_eq!(line.matches('\n').count(), 1, "{line}");
    }
    let line = pd(&minimal());
    for key in ["suspect_change", "alert", "runtime", "next_check", "trace"] {
        assert!(
            line.contains(&format!(" {key}=not available")),
            "{key} in {line}"
        );
    }
}

#[test]
fn formats_parse_and_name_themselves() {
    for f in [
        ReportFormat::Markdown,
        ReportFormat::Slack,
        ReportFormat::Pagerduty,
    ] {
        assert_eq!(ReportFormat::parse(f.as_str()), Some(f));
    }
    assert_eq!(ReportFormat::parse("json"), None);
    assert_eq!(ReportFormat::parse("Markdown"), None);
}
