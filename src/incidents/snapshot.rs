//! The incident snapshot text (spec triage §5): what `GET /v1/incidents/{id}/snapshot` and
//! `waylog incident <id>` print. Every line ends with `\n`; optional lines and blocks appear
//! only with content; each block from `Where did it start?` on follows one empty line; times
//! are text times.

use std::fmt::Write as _;

use serde::Serialize;

use super::model::{
    BlastCapture, CaptureStatus, DimensionsCapture, Incident, PropagationCapture, text_time,
};

/// The JSON form of the snapshot endpoint (`Accept: application/json`).
#[derive(Debug, Serialize)]
pub struct SnapshotBody<'a> {
    pub snapshot: String,
    pub incident: &'a Incident,
}

impl<'a> SnapshotBody<'a> {
    pub fn new(incident: &'a Incident) -> Self {
        SnapshotBody {
            snapshot: snapshot_text(incident),
            incident,
        }
    }
}

/// Append `line` and a newline.
fn line(out: &mut String, text: impl AsRef<str>) {
    out.push_str(text.as_ref());
    out.push('\n');
}

/// Start a block: one empty line, then its heading.
fn block(out: &mut String, heading: &str) {
    out.push('\n');
    line(out, heading);
}

fn pct(share: f64) -> String {
    format!("{:.1}", share * 100.0)
}

fn header(out: &mut String, inc: &Incident) {
    line(out, format!("Incident {}", inc.incident_id));
    line(out, format!("Status: {}", inc.status));
    line(out, format!("Family: {}", inc.error_family.display()));
    line(
        out,
        format!("Cause: {} ({} confidence)", inc.cause, inc.confidence),
    );
    line(out, format!("Severity: {}", inc.severity));
    line(out, format!("Started: {}", text_time(inc.started_at)));
    if let Some(at) = inc.recovering_at {
        line(out, format!("Recovering since: {}", text_time(at)));
    }
    if let Some(at) = inc.resolved_at {
        line(out, format!("Resolved: {}", text_time(at)));
    }
    line(
        out,
        format!(
            "Affected: {} requests, {} services",
            inc.affected_requests, inc.affected_services
        ),
    );
    line(
        out,
        format!(
            "Lift: {:.2}x over baseline {}",
            inc.lift, inc.baseline_count
        ),
    );
    if !inc.top_services.is_empty() {
        line(
            out,
            format!("Top services: {}", inc.top_services.join(", ")),
        );
    }
    if !inc.sample_traces.is_empty() {
        line(
            out,
            format!("Sample traces: {}", inc.sample_traces.join(", ")),
        );
    }
}

fn propagation(out: &mut String, p: &PropagationCapture) {
    block(out, "Where did it start?");
    if p.origin_step.is_empty() {
        line(out, format!("  Origin: {}", p.origin_service));
    } else {
        line(
            out,
            format!("  Origin: {} / {}", p.origin_service, p.origin_step),
        );
    }
    if let Some(first) = p.path.iter().find(|e| e.status == "error") {
        if first.error_code.is_empty() {
            line(out, format!("  First failing step: {}", first.step));
        } else {
            line(
                out,
                format!(
                    "  First failing step: {} -> {}",
                    first.step, first.error_code
                ),
            );
        }
    }
    if !p.path.is_empty() {
        let steps: Vec<&str> = p.path.iter().map(|e| e.step.as_str()).collect();
        line(out, format!("  Path: {}", steps.join(" → ")));
    }
    if !p.sample_trace_id.is_empty() {
        line(
            out,
            format!(
                "  Sample trace: {} (captured {})",
                p.sample_trace_id,
                text_time(p.captured_at)
            ),
        );
    }
}

fn blast_line(b: &BlastCapture) -> String {
    format!(
        "{} requests, {} services (captured {})",
        b.affected_requests,
        b.affected_services,
        text_time(b.captured_at)
    )
}

fn blast(out: &mut String, opening: Option<&BlastCapture>, latest: &BlastCapture) {
    block(out, "How bad is it?");
    if let Some(open) = opening.filter(|o| *o != latest) {
        line(out, format!("  At open: {}", blast_line(open)));
    }
    line(out, format!("  Now: {}", blast_line(latest)));
}

fn dimensions(out: &mut String, d: &DimensionsCapture) {
    block(out, "Suspect dimensions:");
    for x in &d.dimensions {
        line(
            out,
            format!(
                "- {}={}: {}/{} failing ({}%) vs {}/{} baseline ({}%)",
                x.dimension,
                x.value,
                x.failing_count,
                d.failing_events,
                pct(x.failing_share),
                x.baseline_count,
                d.baseline_events,
                pct(x.baseline_share)
            ),
        );
    }
}

fn list(out: &mut String, heading: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    block(out, heading);
    for item in items {
        line(out, format!("- {item}"));
    }
}

/// The snapshot text of `inc`.
pub fn snapshot_text(inc: &Incident) -> String {
    let mut out = String::with_capacity(1024);
    header(&mut out, inc);
    if let Some(p) = inc.propagation.as_ref().and_then(|s| s.latest.as_ref())
        && p.capture_status != CaptureStatus::Missing
    {
        propagation(&mut out, p);
    }
    if let Some(s) = &inc.blast
        && let Some(latest) = &s.latest
    {
        blast(&mut out, s.opening.as_ref(), latest);
    }
    if !inc.evidence.is_empty() {
        block(&mut out, "Evidence:");
        for e in &inc.evidence {
            let _ = write!(out, "- {}: {}", e.kind, e.title);
            if !e.detail.is_empty() {
                let _ = write!(out, " ({})", e.detail);
            }
            out.push('\n');
        }
    }
    if let Some(d) = inc
        .suspect_dimensions
        .as_ref()
        .and_then(|s| s.latest.as_ref())
        && !d.dimensions.is_empty()
    {
        dimensions(&mut out, d);
    }
    list(&mut out, "Next checks:", &inc.next_checks);
    list(
        &mut out,
        "Instrumentation warnings:",
        &inc.instrumentation_warnings,
    );
    out
}

#[cfg(test)]
mod tests;
