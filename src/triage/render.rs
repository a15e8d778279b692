//! The three renderings of a TriageReport (spec triage §6.5): Markdown for a postmortem or a
//! ticket, Slack Block Kit JSON, and a one-line PagerDuty text. Pure functions of the report:
//! nothing is sent anywhere, and the same report always renders to the same bytes.
//!
//! Choices where the spec is silent (documented in `docs/triage.md`):
//! - every value is printed on one line: line breaks and other control characters inside a
//!   value (a multi-line alert description) become single spaces, so a value can never start a
//!   new Markdown line or break the PagerDuty line;
//! - a blank value (empty or only whitespace) prints as `not available`;
//! - an absent Slack item reads `not available` plus the citation that remains without the
//!   item's own ids (`(incident `ID`, report `H`)` for the suspect change, `(report `H`)` for
//!   alert, runtime and next check);
//! - Slack's size limits (header 150, field 2000, section text 3000 characters) are enforced by
//!   cutting the text and ending it with [`TRUNCATED`], so Slack never rejects the message;
//! - the Slack body is the pretty JSON without a trailing newline; Markdown and PagerDuty end
//!   with `\n`.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::report::{AlertRef, RuntimeRef, SuspectChange, TriageReport};
use crate::incidents::model::SuspectDimension;

/// A rendering of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Markdown,
    Slack,
    Pagerduty,
}

impl ReportFormat {
    /// The `format` parameter's value (`markdown`, `slack`, `pagerduty`), else `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "markdown" => Some(Self::Markdown),
            "slack" => Some(Self::Slack),
            "pagerduty" => Some(Self::Pagerduty),
            _ => None,
        }
    }

    /// The parameter value naming this format.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Markdown => "markdown",
            Self::Slack => "slack",
            Self::Pagerduty => "pagerduty",
        }
    }

    /// The `Content-Type` of a rendered body.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Markdown => "text/markdown; charset=utf-8",
            Self::Slack => "application/json",
            Self::Pagerduty => "text/plain; charset=utf-8",
        }
    }
}

/// A rendering that could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("serialize slack blocks: {0}")]
    Slack(#[from] serde_json::Error),
}

/// What a blank value prints as.
pub const NOT_AVAILABLE: &str = "not available";

/// The marker ending a Slack text cut to fit Slack's limits.
pub const TRUNCATED: &str = "… (truncated)";

/// Slack's limits, in characters: header text, section field, section text.
const SLACK_HEADER_MAX: usize = 150;
const SLACK_FIELD_MAX: usize = 2000;
const SLACK_TEXT_MAX: usize = 3000;

/// Renders `r` as `format`.
pub fn render(r: &TriageReport, format: ReportFormat) -> Result<String, RenderError> {
    Ok(match format {
        ReportFormat::Markdown => markdown(r),
        ReportFormat::Slack => slack(r)?,
        ReportFormat::Pagerduty => pagerduty(r),
    })
}

/// Renders the Slack blocks as a JSON value (what the `render_triage_report` tool returns as
/// `body`); [`render`] pretty-prints the same value with sorted keys.
pub fn slack_value(r: &TriageReport) -> Value {
    sort_keys(slack_blocks(r))
}

/// A value on one line, `not available` when blank.
fn v(s: &str) -> Cow<'_, str> {
    if s.trim().is_empty() {
        Cow::Borrowed(NOT_AVAILABLE)
    } else if s.chars().any(char::is_control) {
        Cow::Owned(
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// `share` (0..1) as a percentage with one decimal, halves rounded away from zero
/// (`0.3125` → `31.3`, as a reader rounds; `format!("{:.1}")` alone would print `31.2`).
fn pct(share: f64) -> String {
    format!("{:.1}", (share * 1000.0).round() / 10.0)
}

/// The suspect change's one-line summary (§6.5): `<service> <version> (PR …, by …, commit …);
/// err a% -> b%`, absent pieces left out.
pub fn suspect_summary(s: &SuspectChange) -> String {
    let mut out = v(&s.service).into_owned();
    if !s.version.trim().is_empty() {
        out.push(' ');
        out.push_str(&v(&s.version));
    }
    let parts: Vec<String> = [
        ("PR ", &s.pr_url),
        ("by ", &s.commit_author),
        ("commit ", &s.commit_sha),
    ]
    .into_iter()
    .filter(|(_, x)| !x.trim().is_empty())
    .map(|(label, x)| format!("{label}{}", v(x)))
    .collect();
    if !parts.is_empty() {
        let _ = write!(out, " ({})", parts.join(", "));
    }
    if let (Some(before), Some(after)) = (s.error_rate_before, s.error_rate_after) {
        let _ = write!(out, "; err {}% -> {}%", pct(before), pct(after));
    }
    out
}

fn present<T>(items: &[T]) -> &'static str {
    if items.is_empty() {
        NOT_AVAILABLE
    } else {
        "present"
    }
}

/// The Markdown report: fixed sections in spec order, a blank line before each `##`.
fn markdown(r: &TriageReport) -> String {
    let id = v(&r.incident_ref.id);
    let h = v(&r.report_hash);
    let inc = format!("incident `{id}`, report `{h}`");
    let rep = format!("report `{h}`");
    let mut md = Markdown::default();
    md.line("# Waylog Operator Report");

    md.section("Summary");
    md.item(format!("Incident: `{id}` ({rep})"));
    md.item(format!(
        "Evidence fingerprint: `{}` (stable across ticks until evidence changes)",
        v(&r.evidence_fingerprint)
    ));
    md.item(format!("Confidence: `{}` ({inc})", r.confidence.as_str()));
    md.item(format!(
        "Evidence status: alert={} trace={} signal={} runtime={} ({rep})",
        present(&r.alerts),
        present(&r.sample_traces),
        present(&r.signals),
        present(&r.runtime)
    ));
    md.item(format!(
        "Window: `{}` (incident `{id}`)",
        v(&r.incident_ref.window)
    ));

    md.section("Impact");
    let b = &r.blast_snapshot;
    md.item(format!("Requests: {} ({inc})", b.requests));
    md.item(format!("Users: {} ({inc})", b.users));
    md.item(format!("Services: {} ({inc})", b.services));
    if b.top_error_families.is_empty() {
        md.item(format!("Error family: {NOT_AVAILABLE} (incident `{id}`)"));
    }
    for f in &b.top_error_families {
        md.item(format!(
            "Error family: `{}/{}/{}` count={} ({inc})",
            v(&f.service),
            v(&f.step),
            v(&f.error_code),
            f.count
        ));
    }

    md.section("Suspect Change");
    match &r.suspect_change {
        Some(s) => md.item(format!(
            "{} (deploy `{}`, {inc})",
            suspect_summary(s),
            v(&s.deploy_id)
        )),
        None => md.item(format!("{NOT_AVAILABLE} ({inc})")),
    }

    md.section("First Failure And Traces");
    md.items(
        r.sample_traces
            .iter()
            .map(|t| format!("trace `{}`: {} ({inc})", v(&t.trace_id), v(&t.summary))),
        &inc,
    );

    md.section("Alert Evidence");
    md.items(r.alerts.iter().map(|a| markdown_alert(a, &h)), &rep);

    md.section("Runtime Evidence");
    md.items(r.runtime.iter().map(|x| markdown_runtime(x, &h)), &rep);

    md.section("Suspect Dimensions");
    md.items(
        r.suspect_dimensions
            .iter()
            .map(|d| format!("{} ({inc})", dimension(d))),
        &rep,
    );

    md.section("Signals");
    md.items(
        r.signals.iter().map(|s| {
            format!(
                "`{}` signal `{}` evidence={} ({rep})",
                v(&s.kind),
                v(&s.id),
                v(&s.evidence_ids.join(","))
            )
        }),
        &rep,
    );

    md.section("Next Checks");
    md.items(
        r.next_checks
            .iter()
            .map(|c| format!("{} (check `{}`, {rep})", v(&c.prompt), v(&c.id))),
        &rep,
    );
    md.out
}

fn markdown_alert(a: &AlertRef, h: &str) -> String {
    format!(
        "`{}` from `{}`: {}; provider={} (signal `{}`, alert `{}`, report `{h}`)",
        v(&a.severity),
        v(&a.source),
        v(&a.reason),
        v(&a.provider_url),
        v(&a.signal_id),
        v(&a.alert_id)
    )
}

fn markdown_runtime(x: &RuntimeRef, h: &str) -> String {
    let subtype = if x.subtype.trim().is_empty() {
        "runtime"
    } else {
        &x.subtype
    };
    format!(
        "`{}` {} on `{}`: {} (source `{}`, signal `{}`, report `{h}`)",
        v(&x.severity),
        v(subtype),
        v(&x.service),
        v(&x.reason),
        v(&x.source),
        v(&x.signal_id)
    )
}

/// `` `dim`=`value`: n failing (p%) vs m baseline (q%), score s ``.
fn dimension(d: &SuspectDimension) -> String {
    format!(
        "`{}`=`{}`: {} failing ({}%) vs {} baseline ({}%), score {}",
        v(&d.dimension),
        v(&d.value),
        d.failing_count,
        pct(d.failing_share),
        d.baseline_count,
        pct(d.baseline_share),
        d.score
    )
}

/// Markdown text under construction.
#[derive(Default)]
struct Markdown {
    out: String,
}

impl Markdown {
    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    /// `## title`, after one empty line.
    fn section(&mut self, title: &str) {
        let _ = write!(self.out, "\n## {title}\n");
    }

    fn item(&mut self, s: String) {
        self.out.push_str("- ");
        self.line(&s);
    }

    /// The items, or `- not available (<citation>)` when there are none.
    fn items(&mut self, items: impl Iterator<Item = String>, citation: &str) {
        let mut any = false;
        for s in items {
            any = true;
            self.item(s);
        }
        if !any {
            self.item(format!("{NOT_AVAILABLE} ({citation})"));
        }
    }
}

/// Cuts `s` to at most `max` characters, ending it with [`TRUNCATED`] when cut.
fn fit(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let marker = TRUNCATED.chars().count();
    if max <= marker {
        return s.chars().take(max).collect();
    }
    let mut out: String = s.chars().take(max - marker).collect();
    out.push_str(TRUNCATED);
    out
}

fn mrkdwn(text: String, max: usize) -> Value {
    json!({"type": "mrkdwn", "text": fit(text, max)})
}

fn section_text(title: &str, body: String) -> Value {
    json!({"type": "section", "text": mrkdwn(format!("*{title}*\n{body}"), SLACK_TEXT_MAX)})
}

/// The six Block Kit blocks of §6.5, in the spec's array order (keys sorted later).
fn slack_blocks(r: &TriageReport) -> Value {
    let id = v(&r.incident_ref.id);
    let h = v(&r.report_hash);
    let inc = format!("incident `{id}`, report `{h}`");
    let rep = format!("report `{h}`");
    let b = &r.blast_snapshot;
    let trace = match r.sample_traces.first() {
        Some(t) => format!("`{}`", v(&t.trace_id)),
        None => NOT_AVAILABLE.to_owned(),
    };
    let field = |title: &str, body: String| mrkdwn(format!("*{title}*\n{body}"), SLACK_FIELD_MAX);
    let fields = vec![
        field("Incident", format!("`{id}`")),
        field("Confidence", format!("`{}`", r.confidence.as_str())),
        field(
            "Impact",
            format!(
                "{} requests, {} users, {} services ({inc})",
                b.requests, b.users, b.services
            ),
        ),
        field("Trace", trace),
        field("Report hash", format!("`{h}`")),
        field(
            "Evidence fingerprint",
            format!("`{}`", v(&r.evidence_fingerprint)),
        ),
    ];
    let suspect = match &r.suspect_change {
        Some(s) => format!(
            "{} (deploy `{}`, {inc})",
            suspect_summary(s),
            v(&s.deploy_id)
        ),
        None => format!("{NOT_AVAILABLE} ({inc})"),
    };
    let alert = match r.alerts.first() {
        Some(a) => format!(
            "`{}` {} provider={} (signal `{}`, alert `{}`, {rep})",
            v(&a.source),
            v(&a.reason),
            v(&a.provider_url),
            v(&a.signal_id),
            v(&a.alert_id)
        ),
        None => format!("{NOT_AVAILABLE} ({rep})"),
    };
    let runtime = if r.runtime.is_empty() {
        NOT_AVAILABLE.to_owned()
    } else {
        r.runtime
            .iter()
            .map(|x| {
                format!(
                    "`{}` {} on {} ({})",
                    v(&x.severity),
                    v(&x.subtype),
                    v(&x.service),
                    v(&x.source)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let check = match r.next_checks.first() {
        Some(c) => format!("{} (check `{}`, {rep})", v(&c.prompt), v(&c.id)),
        None => format!("{NOT_AVAILABLE} ({rep})"),
    };
    json!({"blocks": [
        {"type": "header", "text": {"type": "plain_text",
            "text": fit("Waylog operator report".to_owned(), SLACK_HEADER_MAX)}},
        {"type": "section", "fields": fields},
        section_text("Suspect change", suspect),
        section_text("Alert evidence", alert),
        section_text("Runtime evidence", format!("{runtime} ({rep})")),
        section_text("Next check", check),
    ]})
}

/// The value with every object's keys in sorted order, whatever map type serde_json was built
/// with (another crate enabling `preserve_order` must not change our bytes).
fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, x)| (k, sort_keys(x)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

fn slack(r: &TriageReport) -> Result<String, RenderError> {
    Ok(serde_json::to_string_pretty(&slack_value(r))?)
}

/// The one PagerDuty line of §6.5.
fn pagerduty(r: &TriageReport) -> String {
    let b = &r.blast_snapshot;
    let trace = r
        .sample_traces
        .first()
        .map_or(Cow::Borrowed(NOT_AVAILABLE), |t| v(&t.trace_id));
    let suspect = r.suspect_change.as_ref().map_or_else(
        || NOT_AVAILABLE.to_owned(),
        |s| format!("{} (deploy {})", suspect_summary(s), v(&s.deploy_id)),
    );
    let alert = r.alerts.first().map_or_else(
        || NOT_AVAILABLE.to_owned(),
        |a| {
            format!(
                "{} alert {} via signal {} provider={}",
                v(&a.source),
                v(&a.alert_id),
                v(&a.signal_id),
                v(&a.provider_url)
            )
        },
    );
    let runtime = r.runtime.first().map_or_else(
        || NOT_AVAILABLE.to_owned(),
        |x| format!("{} {} on {}", v(&x.severity), v(&x.subtype), v(&x.service)),
    );
    let check = r
        .next_checks
        .first()
        .map_or(Cow::Borrowed(NOT_AVAILABLE), |c| v(&c.prompt));
    format!(
        "Waylog operator report: incident={} confidence={} impact={} requests, {} users, {} services \
         trace={trace} report_hash={} evidence_fingerprint={} suspect_change={suspect} \
         alert={alert} runtime={runtime} next_check={check}\n",
        v(&r.incident_ref.id),
        r.confidence.as_str(),
        b.requests,
        b.users,
        b.services,
        v(&r.report_hash),
        v(&r.evidence_fingerprint),
    )
}

#[cfg(test)]
mod tests;
