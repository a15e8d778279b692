//! The read verbs of the CLI (spec reads §7.2-§7.4): `capabilities errors rollup recent explain
//! trace event search blast signals incidents incident`. Each verb is one GET against the read
//! API; its human output is a pure `render_*` function over the server's JSON body, so
//! snapshots run without a server.
//!
//! Invariants: `--json` prints the body text re-indented, never re-serialized, so keys keep the
//! server's order (serde_json here has no `preserve_order`); window flags pass through verbatim
//! and the server validates them; path ids are percent-encoded.

use clap::{Args, Subcommand};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::table::render_table;
use super::{CliError, Client, Globals, api_error};
use crate::incidents::read::ActiveBody;
use crate::model::family::{display_family, escape_part};
use crate::reads::blast::{BlastKey, BlastResponse};
use crate::reads::capabilities::Capabilities;
use crate::reads::errors::ErrorsResponse;
use crate::reads::origin::Linkage;
use crate::reads::rollup::RollupResponse;
use crate::reads::traces::{RecentResponse, Story};

/// The read verbs, flattened into [`super::Command`].
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// What the server offers (GET /v1/capabilities).
    Capabilities,
    /// Error families by count (GET /v1/errors).
    Errors(ErrorsArgs),
    /// Failures counted once per request under their root-cause code.
    Rollup(RollupArgs),
    /// Recent traces, newest first.
    Recent(RecentArgs),
    /// The story of one event or trace: where it first failed.
    Explain(ExplainArgs),
    /// All events of one trace in trace order.
    Trace(IdArgs),
    /// One event.
    Event(IdArgs),
    /// Search events (the positional is an error code).
    Search(SearchArgs),
    /// Blast radius of an error family or error code.
    Blast(BlastArgs),
    /// Production-context signals, newest first (GET /v1/signals).
    Signals(SignalsArgs),
    /// Incidents not yet resolved, most severe first (GET /v1/incidents/active).
    Incidents(IncidentsArgs),
    /// One incident's snapshot text (GET /v1/incidents/{id}/snapshot).
    Incident(IncidentArgs),
    /// One incident's TriageReport, rendered (GET /v1/triage/{id}/report); `--json` prints
    /// the report (GET /v1/triage/{id}).
    Triage(TriageArgs),
}

/// `--window`, `--since`, `--until`, passed through to the server (§1.4).
#[derive(Debug, Clone, Default, Args)]
pub struct WindowArgs {
    /// Window ending now (e.g. 15m, 1h30m, 2d).
    #[arg(long)]
    pub window: Option<String>,
    /// Window start, RFC 3339.
    #[arg(long)]
    pub since: Option<String>,
    /// Window end, RFC 3339.
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ErrorsArgs {
    #[arg(long)]
    pub service: Option<String>,
    /// Comma-separated failed statuses.
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub limit: Option<u32>,
    #[arg(long)]
    pub cursor: Option<String>,
    #[command(flatten)]
    pub window: WindowArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RollupArgs {
    #[arg(long)]
    pub limit: Option<u32>,
    #[arg(long)]
    pub cursor: Option<String>,
    #[command(flatten)]
    pub window: WindowArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RecentArgs {
    #[arg(long)]
    pub service: Option<String>,
    /// Comma-separated statuses.
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub limit: Option<u32>,
    #[arg(long)]
    pub cursor: Option<String>,
    #[arg(long)]
    pub include_suppressed: bool,
    #[command(flatten)]
    pub window: WindowArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// An event id, else a trace id.
    pub id: String,
    /// Treat the id as an event id only.
    #[arg(long, conflicts_with = "trace")]
    pub event: bool,
    /// Treat the id as a trace id only.
    #[arg(long)]
    pub trace: bool,
}

#[derive(Debug, Clone, Args)]
pub struct IdArgs {
    pub id: String,
}

#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// Error code (same as --error-code).
    pub error_code_arg: Option<String>,
    #[arg(long)]
    pub service: Option<String>,
    /// Comma-separated statuses.
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub error_code: Option<String>,
    #[arg(long)]
    pub trace_id: Option<String>,
    #[arg(long)]
    pub include_suppressed: bool,
    #[arg(long)]
    pub limit: Option<u32>,
    #[arg(long)]
    pub cursor: Option<String>,
    #[command(flatten)]
    pub window: WindowArgs,
}

#[derive(Debug, Clone, Args)]
pub struct BlastArgs {
    /// `service:step:code` (an error family) or a bare error code.
    pub key: Option<String>,
    #[arg(long)]
    pub service: Option<String>,
    #[arg(long)]
    pub step: Option<String>,
    #[arg(long)]
    pub code: Option<String>,
    #[command(flatten)]
    pub window: WindowArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SignalsArgs {
    #[arg(long)]
    pub service: Option<String>,
    #[arg(long)]
    pub env: Option<String>,
    /// Comma-separated signal types.
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(long)]
    pub limit: Option<u32>,
    #[arg(long)]
    pub cursor: Option<String>,
    #[command(flatten)]
    pub window: WindowArgs,
}

#[derive(Debug, Clone, Args)]
pub struct IncidentsArgs {
    #[arg(long)]
    pub env: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct IncidentArgs {
    pub id: String,
    /// Accepted for compatibility: the snapshot is the default output. With `--json`, print
    /// the `{snapshot, incident}` body instead of the incident.
    #[arg(long)]
    pub snapshot: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TriageArgs {
    pub id: String,
    /// Evidence window ending at the report's end (default 15m).
    #[arg(long)]
    pub window: Option<String>,
    /// End the window at the incident's `updated_at` instead of now (a stable hash).
    #[arg(long)]
    pub snapshot: bool,
    /// markdown (default), slack or pagerduty.
    #[arg(long)]
    pub format: Option<String>,
}

type Query = Vec<(&'static str, String)>;

fn push(q: &mut Query, key: &'static str, value: Option<impl ToString>) {
    if let Some(v) = value {
        q.push((key, v.to_string()));
    }
}

fn push_window(q: &mut Query, w: &WindowArgs) {
    push(q, "window", w.window.as_deref());
    push(q, "since", w.since.as_deref());
    push(q, "until", w.until.as_deref());
}

/// Run one read verb.
pub fn run(g: &Globals, verb: Verb) -> Result<String, CliError> {
    let client = Client::from_globals(g)?;
    let mut q: Query = Vec::new();
    let (path, render): (String, Render) = match verb {
        Verb::Capabilities => ("/v1/capabilities".into(), |t| {
            decode(t).map(|v| render_capabilities(&v))
        }),
        Verb::Errors(a) => {
            push(&mut q, "service", a.service);
            push(&mut q, "status", a.status);
            push(&mut q, "limit", a.limit);
            push(&mut q, "cursor", a.cursor);
            push_window(&mut q, &a.window);
            ("/v1/errors".into(), |t| {
                decode(t).map(|v| render_errors(&v))
            })
        }
        Verb::Rollup(a) => {
            push(&mut q, "limit", a.limit);
            push(&mut q, "cursor", a.cursor);
            push_window(&mut q, &a.window);
            ("/v1/rollups/root_cause".into(), |t| {
                decode(t).map(|v| render_rollup(&v))
            })
        }
        Verb::Recent(a) => {
            push(&mut q, "service", a.service);
            push(&mut q, "status", a.status);
            push(&mut q, "limit", a.limit);
            push(&mut q, "cursor", a.cursor);
            if a.include_suppressed {
                q.push(("include_suppressed", "true".into()));
            }
            push_window(&mut q, &a.window);
            ("/v1/traces/recent".into(), |t| {
                decode(t).map(|v| render_recent(&v))
            })
        }
        Verb::Signals(a) => {
            push(&mut q, "service", a.service);
            push(&mut q, "env", a.env);
            push(&mut q, "type", a.kind);
            push(&mut q, "limit", a.limit);
            push(&mut q, "cursor", a.cursor);
            push_window(&mut q, &a.window);
            ("/v1/signals".into(), |t| {
                decode(t).map(|v| render_signals(&v))
            })
        }
        Verb::Incidents(a) => {
            push(&mut q, "env", a.env);
            ("/v1/incidents/active".into(), |t| {
                decode(t).map(|v| render_incidents(&v))
            })
        }
        Verb::Incident(a) => return incident(&client, g.json, &a),
        Verb::Triage(a) => return triage(&client, g.json, a),
        Verb::Explain(a) => return explain(&client, g.json, &a),
        Verb::Trace(a) => (format!("/v1/traces/{}", percent_encode(&a.id)), |t| {
            decode(t).map(|v| render_trace(&v))
        }),
        Verb::Event(a) => (format!("/v1/events/{}", percent_encode(&a.id)), |t| {
            decode(t).map(|v| render_event(&v))
        }),
        Verb::Search(a) => {
            let code = match (a.error_code_arg, a.error_code) {
                (Some(_), _) if a.trace_id.is_some() => {
                    return Err(CliError::usage(
                        "waylog search [<error_code>]: the positional error code cannot be combined with --trace-id",
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(CliError::usage(
                        "waylog search [<error_code>]: give the error code once, positional or --error-code",
                    ));
                }
                (p, f) => p.or(f),
            };
            push(&mut q, "service", a.service);
            push(&mut q, "status", a.status);
            push(&mut q, "error_code", code);
            push(&mut q, "trace_id", a.trace_id);
            if a.include_suppressed {
                q.push(("include_suppressed", "true".into()));
            }
            push(&mut q, "limit", a.limit);
            push(&mut q, "cursor", a.cursor);
            push_window(&mut q, &a.window);
            ("/v1/events/search".into(), |t| {
                decode(t).map(|v| render_search(&v))
            })
        }
        Verb::Blast(a) => {
            blast_query(&a, &mut q)?;
            push_window(&mut q, &a.window);
            ("/v1/blast_radius".into(), |t| {
                decode(t).map(|v| render_blast(&v))
            })
        }
    };
    let text = get_ok(&client, &path, &q)?;
    output(&text, g.json, render)
}

const BLAST_USAGE: &str =
    "waylog blast [<service:step:code> | <code>] | --service S --step P --code C | --code C";

/// The blast key (§7.2): all three of `--service --step --code`, `--code` alone, or one
/// positional key (a family when it holds `:`, else a code).
fn blast_query(a: &BlastArgs, q: &mut Query) -> Result<(), CliError> {
    match (&a.key, &a.service, &a.step, &a.code) {
        (Some(key), None, None, None) if key.contains(':') => {
            q.push(("error_family", key.clone()));
        }
        (Some(key), None, None, None) => q.push(("error_code", key.clone())),
        (None, Some(s), Some(p), Some(c)) => {
            q.push(("service", s.clone()));
            q.push(("step", p.clone()));
            q.push(("error_code", c.clone()));
        }
        (None, None, None, Some(c)) => q.push(("error_code", c.clone())),
        _ => return Err(CliError::usage(BLAST_USAGE)),
    }
    Ok(())
}

/// GET and turn a non-2xx answer into the §7.1 error.
fn get_ok(client: &Client, path: &str, q: &Query) -> Result<String, CliError> {
    let (status, text) = client.get(path, q)?;
    if !(200..300).contains(&status) {
        return Err(api_error(status, &text));
    }
    Ok(text)
}

fn undecodable(e: impl std::fmt::Display) -> CliError {
    CliError::transport(format!("undecodable response: {e}"))
}

/// A verb's human output from the body text: decode into the response type, then render.
type Render = fn(&str) -> Result<String, CliError>;

/// Decode a response body into the type the server serialized it from.
fn decode<T: DeserializeOwned>(text: &str) -> Result<T, CliError> {
    serde_json::from_str(text).map_err(undecodable)
}

fn output(text: &str, json: bool, render: Render) -> Result<String, CliError> {
    if json {
        return pretty_json(text).map_err(undecodable);
    }
    render(text)
}

/// `incident <id>`: the snapshot text; `--json` the incident, `--json --snapshot` the
/// snapshot body. The client always sends `Accept: application/json` (§7.1), so the text is
/// the `snapshot` member of the JSON answer: the same text the `text/plain` answer carries.
fn incident(client: &Client, json: bool, a: &IncidentArgs) -> Result<String, CliError> {
    let id = percent_encode(&a.id);
    if json && !a.snapshot {
        let text = get_ok(client, &format!("/v1/incidents/{id}"), &Vec::new())?;
        return pretty_json(&text).map_err(undecodable);
    }
    let text = get_ok(client, &format!("/v1/incidents/{id}/snapshot"), &Vec::new())?;
    if json {
        return pretty_json(&text).map_err(undecodable);
    }
    snapshot_text_of(&text).map_err(undecodable)
}

/// `triage`: the rendered body verbatim (the server renders), or with `--json` the report
/// JSON as the server sent it (compact, emission order: what `report_hash` was computed over).
fn triage(client: &Client, json: bool, a: TriageArgs) -> Result<String, CliError> {
    let id = percent_encode(&a.id);
    let mut q = Query::new();
    push(&mut q, "window", a.window);
    if a.snapshot {
        q.push(("snapshot", "true".into()));
    }
    let mut text = if json {
        get_ok(client, &format!("/v1/triage/{id}"), &q)?
    } else {
        push(&mut q, "format", a.format);
        get_ok(client, &format!("/v1/triage/{id}/report"), &q)?
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// The `snapshot` member of a snapshot JSON body, verbatim.
pub fn snapshot_text_of(body: &str) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Body {
        snapshot: String,
    }
    serde_json::from_str::<Body>(body)
        .map(|b| b.snapshot)
        .map_err(|e| e.to_string())
}

/// `explain`: the story by `event_id`, on `not_found` by `trace_id` (`--event` / `--trace`
/// force one mode).
fn explain(client: &Client, json: bool, a: &ExplainArgs) -> Result<String, CliError> {
    let by = |key: &'static str| client.get("/v1/traces/story", &[(key, a.id.clone())]);
    let (mut status, mut text) = by(if a.trace { "trace_id" } else { "event_id" })?;
    if status == 404 && !a.trace && !a.event && error_code(&text).as_deref() == Some("not_found") {
        (status, text) = by("trace_id")?;
    }
    if !(200..300).contains(&status) {
        return Err(api_error(status, &text));
    }
    output(&text, json, |t| decode(t).map(|v| render_story(&v)))
}

fn error_code(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v["error"]["code"].as_str().map(str::to_owned)
}

/// Percent-encode a path segment: everything but RFC 3986 unreserved characters.
pub fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Re-indent a JSON text with two spaces per level, keeping key order and every scalar's
/// text as sent; empty objects and arrays print as `{}` / `[]`. Ends with a newline.
pub fn pretty_json(text: &str) -> Result<String, String> {
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| e.to_string())?;
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0_usize;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push('"');
                while let Some(s) = chars.next() {
                    out.push(s);
                    match s {
                        '\\' => out.extend(chars.next()),
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while chars.peek().is_some_and(|n| n.is_ascii_whitespace()) {
                    chars.next();
                }
                out.push(c);
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    out.push('\n');
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Renderers: pure functions of the server body, decoded into the response types the server
// serializes (`crate::reads::*`, `crate::incidents::model`). The event-bearing bodies (`trace`,
// `event`, `search`) and `signals` stay `serde_json::Value`: `model::Event` and the stored
// signal form have no serde derive (their wire forms are written by hand and a signal keeps
// its unknown keys), so these renderers read the few members they print by key.

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn num(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(t) => t.clone(),
        other => other.to_string(),
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "enabled" } else { "disabled" }
}

fn headers(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// §7.1 timestamps: RFC 3339 UTC with second precision (unparsable text verbatim).
fn ts_seconds(text: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&chrono::Utc).format(SECONDS).to_string(),
        Err(_) => text.to_owned(),
    }
}

const SECONDS: &str = "%Y-%m-%dT%H:%M:%SZ";

/// [`ts_seconds`] of a timestamp in Unix nanoseconds.
fn ts_seconds_ns(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns)
        .format(SECONDS)
        .to_string()
}

/// `service:step:code` of an event's anchor (§2.1), `""` without anchor.
fn event_anchor(e: &Value) -> String {
    let a = &e["anchor"];
    if a.is_object() {
        display_family(s(&e["service"]), s(&a["step"]), s(&a["error_code"]))
    } else {
        String::new()
    }
}

fn next_cursor(cursor: Option<&str>, out: &mut String) {
    if let Some(c) = cursor.filter(|c| !c.is_empty()) {
        out.push_str(&format!("\nnext_cursor: {c}\n"));
    }
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// §7.3 text.
pub fn render_capabilities(v: &Capabilities<String>) -> String {
    let otlp = &v.otlp;
    let grpc = if otlp.grpc_traces {
        format!("enabled addr={}", otlp.grpc_addr)
    } else {
        "disabled".to_owned()
    };
    let llm = &v.llm;
    let inc = &v.incidents;
    let arch = &v.architecture;
    let q = &v.query;
    let mut lines = vec![
        format!("version: {}", v.version),
        format!("profile: {}", v.profile),
        format!("otlp_http_traces: {}", on_off(otlp.http_traces)),
        format!("otlp_grpc_traces: {grpc}"),
        format!(
            "llm: provider={} configured={} ask_enabled={} model={} tool_mode={}",
            llm.provider, llm.configured, llm.ask_enabled, llm.model, llm.tool_mode
        ),
        format!(
            "incidents: enabled={} persistent={} rebuild_supported={} rebuild_scope={}",
            inc.enabled, inc.persistent, inc.rebuild.supported, inc.rebuild.scope
        ),
        format!("hot_window: {}", arch.hot_window.duration),
        format!("retention: {}", arch.retention.duration),
        format!(
            "query: {} default_limit={} max_rows={} max_timeout_ms={}",
            on_off(q.enabled),
            q.default_limit,
            q.max_rows,
            q.max_timeout_ms
        ),
        format!("mcp: stdio={} http={}", v.mcp.stdio, v.mcp.http),
    ];
    // One line per background job (servers that report them).
    for j in &v.jobs {
        let why = if j.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", j.detail)
        };
        lines.push(format!("job {}: {}{why}", j.job, j.state));
    }
    for l in &mut lines {
        // `model=` with an empty value must not leave a trailing space.
        l.truncate(l.trim_end().len());
    }
    lines.join("\n") + "\n"
}

/// `unknown` for an unknown user count (§7.2).
fn users(n: Option<i64>) -> String {
    n.map_or_else(|| "unknown".to_owned(), |n| n.to_string())
}

/// `waylog errors` (§7.2).
pub fn render_errors(v: &ErrorsResponse) -> String {
    if v.rows.is_empty() {
        let mut out = "No error families found.\n".to_owned();
        next_cursor(v.next_cursor.as_deref(), &mut out);
        return out;
    }
    let body: Vec<Vec<String>> = v
        .rows
        .iter()
        .map(|r| {
            vec![
                r.error_family.display(),
                r.count.to_string(),
                r.affected_traces.to_string(),
                users(r.affected_users),
                r.sample_traces.first().cloned().unwrap_or_default(),
            ]
        })
        .collect();
    let mut out = render_table(
        &headers(&[
            "ERROR FAMILY",
            "COUNT",
            "AFFECTED TRACES",
            "AFFECTED USERS",
            "SAMPLE",
        ]),
        &body,
        true,
    );
    next_cursor(v.next_cursor.as_deref(), &mut out);
    out
}

/// `waylog rollup` (§7.4).
pub fn render_rollup(v: &RollupResponse) -> String {
    let mut out = format!(
        "window: {}  failed_traces: {}  failed_events: {}\n\n",
        v.window, v.failed_traces, v.failed_events
    );
    if v.rows.is_empty() {
        out.push_str("No failures in this window.\n");
        next_cursor(v.next_cursor.as_deref(), &mut out);
        return out;
    }
    let body: Vec<Vec<String>> = v
        .rows
        .iter()
        .map(|r| {
            let origin = r
                .origins
                .first()
                .map(|o| format!("{}:{}", escape_part(&o.service), escape_part(&o.step)))
                .unwrap_or_default();
            vec![
                r.error_code.clone(),
                r.root_cause_count.to_string(),
                r.propagated_count.to_string(),
                r.affected_traces.to_string(),
                r.affected_services.to_string(),
                origin,
            ]
        })
        .collect();
    out.push_str(&render_table(
        &headers(&[
            "ERROR CODE",
            "ROOT CAUSE",
            "PROPAGATED",
            "TRACES",
            "SERVICES",
            "ORIGIN",
        ]),
        &body,
        true,
    ));
    next_cursor(v.next_cursor.as_deref(), &mut out);
    out
}

/// `waylog recent` (§7.2).
pub fn render_recent(v: &RecentResponse) -> String {
    if v.traces.is_empty() {
        let mut out = "No recent traces found.\n".to_owned();
        next_cursor(v.next_cursor.as_deref(), &mut out);
        return out;
    }
    let body: Vec<Vec<String>> = v
        .traces
        .iter()
        .map(|t| {
            vec![
                t.trace_id.clone(),
                t.status.clone(),
                t.services.join(" -> "),
                format!("{} ms", t.duration_ms),
                t.anchor_summary.clone().unwrap_or_default(),
                ts_seconds(&t.ts_start),
            ]
        })
        .collect();
    let mut out = render_table(
        &headers(&["TRACE", "STATUS", "SERVICES", "DURATION", "ANCHOR", "START"]),
        &body,
        true,
    );
    next_cursor(v.next_cursor.as_deref(), &mut out);
    out
}

/// `waylog explain` (§4.1 text layout).
pub fn render_story(v: &Story) -> String {
    let mut out = String::new();
    out.push_str(&format!("trace_id: {}\n", v.trace_id));
    out.push_str(&format!("event_id: {}\n", v.event_id));
    out.push_str(&format!("service: {}\n", v.service));
    if !v.route.is_empty() {
        out.push_str(&format!("route: {}\n", v.route));
    }
    out.push_str(&format!("status: {}\n", v.status));
    out.push_str(&format!("linkage: {}\n", linkage_name(v.linkage)));

    out.push_str("\nfirst observable failing step:\n");
    match &v.anchor {
        Some(anchor) => out.push_str(&format!("  {} -> {}\n", anchor.step, anchor.error_code)),
        None => out.push_str("  none observed\n"),
    }

    out.push_str("\ncontributing path:\n");
    if v.path.is_empty() {
        out.push_str("  none\n");
    } else {
        let rows: Vec<Vec<String>> = v
            .path
            .iter()
            .map(|p| {
                let detail = p.error_msg.as_ref().or(p.error_code.as_ref());
                vec![
                    p.name.clone(),
                    p.status.clone(),
                    format!("{} ms", p.duration_ms),
                    detail.cloned().unwrap_or_default(),
                ]
            })
            .collect();
        // render_table always prints a header row; an empty header line is dropped.
        let table = render_table(&[], &rows, false);
        for line in table.lines().skip(1) {
            out.push_str(&format!("  {line}\n"));
        }
    }

    if !v.logs.is_empty() {
        out.push_str("\nlogs:\n");
        for l in &v.logs {
            out.push_str(&format!(
                "  +{} ms [{}] {}\n",
                l.ts_offset_ms, l.level, l.msg
            ));
        }
    }

    out.push_str("\ndownstream:\n");
    if v.downstream.is_empty() {
        out.push_str("  none\n");
    }
    for d in &v.downstream {
        let service = Some(d.service.as_str())
            .filter(|x| !x.is_empty())
            .unwrap_or("?");
        let mut line = format!("  {} -> {service}", d.step);
        if !d.endpoint.is_empty() {
            line.push_str(&format!(" {}", d.endpoint));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The wire name of a linkage (its serde form).
fn linkage_name(l: Linkage) -> String {
    match serde_json::to_value(l) {
        Ok(Value::String(name)) => name,
        _ => String::new(),
    }
}

/// `waylog trace` (§7.2).
pub fn render_trace(v: &Value) -> String {
    let mut out = format!(
        "trace_id: {}\nlinkage: {}\n\n",
        s(&v["trace_id"]),
        s(&v["linkage"])
    );
    let body: Vec<Vec<String>> = array(&v["events"])
        .iter()
        .map(|e| {
            vec![
                s(&e["event_id"]).to_owned(),
                s(&e["status"]).to_owned(),
                s(&e["service"]).to_owned(),
                ts_seconds(s(&e["ts_start"])),
                event_anchor(e),
            ]
        })
        .collect();
    out.push_str(&render_table(
        &headers(&["EVENT", "STATUS", "SERVICE", "START", "ANCHOR"]),
        &body,
        true,
    ));
    out
}

/// The route of a WideEvent: `fields.http.route`, else `<rpc.service>/<rpc.method>` for RPC.
fn event_route(e: &Value) -> Option<String> {
    let f = &e["fields"];
    if let Some(r) = f["http"]["route"].as_str() {
        return Some(r.to_owned());
    }
    if s(&e["kind"]) == "rpc" {
        let (svc, m) = (&f["rpc"]["service"], &f["rpc"]["method"]);
        if let (Some(svc), Some(m)) = (svc.as_str(), m.as_str()) {
            return Some(format!("{svc}/{m}"));
        }
    }
    None
}

/// `waylog event` (§7.2).
pub fn render_event(v: &Value) -> String {
    let e = &v["event"];
    let mut lines = vec![
        format!("event_id: {}", s(&e["event_id"])),
        format!("trace_id: {}", s(&e["trace_id"])),
        format!("service: {}", s(&e["service"])),
        format!("status: {}", s(&e["status"])),
        format!("duration_ms: {}", num(&e["duration_ms"])),
    ];
    if let Some(r) = event_route(e).filter(|r| !r.is_empty()) {
        lines.push(format!("route: {r}"));
    }
    let a = &e["anchor"];
    if a.is_object() {
        lines.push(format!(
            "anchor: {} -> {}",
            s(&a["step"]),
            s(&a["error_code"])
        ));
    } else {
        lines.push("anchor: none".to_owned());
    }
    let steps = array(&e["steps"]);
    lines.push(format!("steps: {}", steps.len()));
    lines.push(format!("logs: {}", array(&e["logs"]).len()));
    let downstream = steps
        .iter()
        .filter(|st| st["downstream"].is_object())
        .count();
    lines.push(format!("downstream: {downstream}"));
    lines.join("\n") + "\n"
}

/// `waylog search` (§7.2).
pub fn render_search(v: &Value) -> String {
    let events = array(&v["events"]);
    if events.is_empty() {
        let mut out = "No events found.\n".to_owned();
        next_cursor(v["next_cursor"].as_str(), &mut out);
        return out;
    }
    let body: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                s(&e["event_id"]).to_owned(),
                s(&e["status"]).to_owned(),
                s(&e["service"]).to_owned(),
                s(&e["trace_id"]).to_owned(),
                ts_seconds(s(&e["ts_start"])),
                event_anchor(e),
            ]
        })
        .collect();
    let mut out = render_table(
        &headers(&["EVENT", "STATUS", "SERVICE", "TRACE", "START", "ANCHOR"]),
        &body,
        true,
    );
    next_cursor(v["next_cursor"].as_str(), &mut out);
    out
}

/// `waylog signals` (§7.2).
pub fn render_signals(v: &Value) -> String {
    let signals = array(&v["signals"]);
    if signals.is_empty() {
        let mut out = "No signals found.\n".to_owned();
        next_cursor(v["next_cursor"].as_str(), &mut out);
        return out;
    }
    let body: Vec<Vec<String>> = signals
        .iter()
        .map(|x| {
            vec![
                ts_seconds(s(&x["timestamp"])),
                s(&x["type"]).to_owned(),
                s(&x["severity"]).to_owned(),
                s(&x["service"]).to_owned(),
                s(&x["env"]).to_owned(),
                s(&x["source"]).to_owned(),
                s(&x["reason"]).to_owned(),
                s(&x["signal_id"]).to_owned(),
            ]
        })
        .collect();
    let mut out = render_table(
        &headers(&[
            "TIMESTAMP",
            "TYPE",
            "SEVERITY",
            "SERVICE",
            "ENV",
            "SOURCE",
            "REASON",
            "SIGNAL",
        ]),
        &body,
        true,
    );
    next_cursor(v["next_cursor"].as_str(), &mut out);
    out
}

/// `waylog incidents` (§7.2, triage §5).
pub fn render_incidents(v: &ActiveBody) -> String {
    if v.incidents.is_empty() {
        return "No active incidents.\n".to_owned();
    }
    let body: Vec<Vec<String>> = v
        .incidents
        .iter()
        .map(|i| {
            vec![
                i.incident_id.clone(),
                i.status.to_string(),
                i.cause.to_string(),
                i.confidence.to_string(),
                i.severity.to_string(),
                i.error_family.display(),
                format!("{} req / {} svc", i.affected_requests, i.affected_services),
                ts_seconds_ns(i.started_at),
            ]
        })
        .collect();
    render_table(
        &headers(&[
            "INCIDENT", "STATUS", "CAUSE", "CONF", "SEVERITY", "FAMILY", "AFFECTED", "STARTED",
        ]),
        &body,
        true,
    )
}

/// `waylog blast` (§7.2).
pub fn render_blast(v: &BlastResponse<String>) -> String {
    let key = match &v.key {
        BlastKey::Family(f) => f.display(),
        BlastKey::Code { error_code } => error_code.clone(),
    };
    let mut lines = vec![
        format!("view_mode: {}", v.view_mode),
        format!("key: {key}"),
        format!("window: {}", v.window),
        format!("affected_requests: {}", v.affected_requests),
        format!("affected_users: {}", users(v.affected_users)),
        format!("affected_services: {}", v.affected_services),
        format!("top_services: {}", v.top_services.join(", ")),
        "sample_traces:".to_owned(),
    ];
    for l in &mut lines {
        l.truncate(l.trim_end().len());
    }
    for t in &v.sample_traces {
        lines.push(format!("  {t}"));
    }
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    /// The fixtures below are wire JSON: decode them into the response types as the verbs do
    /// (these shadow the typed renderers of `super`).
    fn typed<T: DeserializeOwned>(v: &Value) -> T {
        serde_json::from_value(v.clone()).expect("fixture decodes into the response type")
    }
    fn render_capabilities(v: &Value) -> String {
        super::render_capabilities(&typed(v))
    }
    fn render_errors(v: &Value) -> String {
        super::render_errors(&typed(v))
    }
    fn render_rollup(v: &Value) -> String {
        super::render_rollup(&typed(v))
    }
    fn render_recent(v: &Value) -> String {
        super::render_recent(&typed(v))
    }
    fn render_story(v: &Value) -> String {
        super::render_story(&typed(v))
    }
    fn render_incidents(v: &Value) -> String {
        super::render_incidents(&typed(v))
    }
    fn render_blast(v: &Value) -> String {
        super::render_blast(&typed(v))
    }

    /// Snapshot `out` with RFC 3339 times redacted.
    macro_rules! snap {
        ($name:expr, $out:expr) => {
            insta::with_settings!({filters => vec![
                (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[TIME]"),
            ]}, {
                insta::assert_snapshot!($name, $out);
            })
        };
    }

    fn wide_event(id: &str, service: &str, parent: &str, step: &str, span: &str) -> Value {
        json!({
            "schema_version": "2.0", "event_id": id, "ts_start": "2026-05-04T10:00:00.042Z",
            "ts_end": "2026-05-04T10:00:00.104Z", "duration_ms": 62, "kind": "http",
            "service": service, "env": "prod", "trace_id": TRACE, "span_id": "",
            "parent_span_id": parent, "status": "error",
            "anchor": {"step": step, "error_code": "PMT_502", "kind": "downstream"},
            "steps": [{"name": step, "span_id": span, "start_ms": 1, "duration_ms": 40,
                       "status": "error",
                       "downstream": {"service": "payment", "endpoint": "/charge"}}],
            "logs": [{"ts_offset_ms": 40, "level": "warn", "msg": "retrying"}],
            "fields": {"http": {"method": "POST", "route": "/checkout", "status": 502}}
        })
    }

    #[test]
    fn render_capabilities_prints_spec_lines() {
        let v = json!({"version": "0.1.0", "profile": "dev", "v2_reads": {"enabled": true},
            "otlp": {"http_traces": true, "grpc_traces": true, "grpc_addr": "127.0.0.1:4317"},
            "ask": {"enabled": false, "model": "", "tool_mode": "", "max_steps_default": 5, "max_steps_max": 8},
            "llm": {"provider": "none", "model": "", "tool_mode": "", "configured": false, "ask_enabled": false},
            "incidents": {"enabled": true, "persistent": true, "rebuild": {"supported": true, "scope": "retention"}},
            "architecture": {"flattened": true, "retention": {"duration": "168h0m0s", "duration_secs": 604800},
              "hot_window": {"enabled": true, "duration": "15m0s", "duration_secs": 900, "source": "default"}},
            "query": {"enabled": true, "default_limit": 1000, "max_rows": 10000, "default_timeout_ms": 10000,
              "max_timeout_ms": 30000, "tables": ["events"]},
            "mcp": {"stdio": true, "http": true}});
        snap!("capabilities", render_capabilities(&v));
    }

    #[test]
    fn render_errors_prints_table_and_cursor() {
        let v = json!({"window": "1h0m0s", "rows": [
            {"error_family": {"service": "checkout", "step": "payment.charge", "error_code": "PMT_502"},
             "count": 12, "affected_users": 8, "affected_traces": 12, "sample_traces": [TRACE]},
            {"error_family": {"service": "db", "step": "a:b", "error_code": "E1"},
             "count": 1, "affected_users": null, "affected_traces": 1, "sample_traces": []}],
            "next_cursor": "eyJjIjoxfQ"});
        snap!("errors", render_errors(&v));
        assert_eq!(
            render_errors(&json!({"window": "1h0m0s", "rows": [], "next_cursor": null})),
            "No error families found.\n"
        );
    }

    #[test]
    fn render_rollup_prints_header_line_and_table() {
        let v = json!({"window": "1h0m0s", "failed_traces": 20, "failed_events": 60,
            "rows": [{"error_code": "PMT_502", "root_cause_count": 20, "propagated_count": 60,
                "affected_traces": 20, "affected_services": 3,
                "top_services": ["api-gateway", "checkout", "payment"],
                "origins": [{"service": "payment", "step": "acquirer.charge", "count": 20}],
                "sample_traces": [TRACE]},
                {"error_code": "CHK_DOWNSTREAM", "root_cause_count": 0, "propagated_count": 20,
                "affected_traces": 20, "affected_services": 2, "top_services": [],
                "origins": [], "sample_traces": []}],
            "next_cursor": null});
        snap!("rollup", render_rollup(&v));
        assert_eq!(
            render_rollup(
                &json!({"window": "15m0s", "failed_traces": 0, "failed_events": 0,
                "rows": [], "next_cursor": null})
            ),
            "window: 15m0s  failed_traces: 0  failed_events: 0\n\nNo failures in this window.\n"
        );
    }

    #[test]
    fn render_recent_prints_table() {
        let v = json!({"traces": [
            {"trace_id": TRACE, "ts_start": "2026-05-04T10:00:00.042Z", "duration_ms": 42,
             "status": "error", "services": ["api-gateway", "checkout", "payment"],
             "anchor_summary": "payment:acquirer.charge:PMT_502"},
            {"trace_id": "0af7651916cd43dd8448eb211c80319c", "ts_start": "2026-05-04T09:59:58Z",
             "duration_ms": 5, "status": "ok", "services": ["checkout"], "anchor_summary": null}],
            "next_cursor": "eyJ0IjoxfQ"});
        snap!("recent", render_recent(&v));
        assert_eq!(
            render_recent(&json!({"traces": [], "next_cursor": null})),
            "No recent traces found.\n"
        );
    }

    #[test]
    fn render_story_follows_spec_layout() {
        let v = json!({"trace_id": TRACE, "event_id": "11111111-1111-4111-8111-111111111111",
            "service": "checkout", "route": "/checkout", "status": "error",
            "anchor": {"step": "payment.charge", "error_code": "PMT_502"},
            "path": [{"name": "cart.validate", "start_ms": 0, "duration_ms": 1, "status": "ok"},
                {"name": "payment.charge", "start_ms": 7, "duration_ms": 35, "status": "error",
                 "error_code": "PMT_502", "error_msg": "upstream gateway 5xx"}],
            "logs": [{"ts_offset_ms": 40, "level": "warn", "msg": "retrying payment"}],
            "downstream": [{"step": "payment.charge", "service": "payment", "endpoint": "/charge"}],
            "linkage": "causal"});
        // The §4.1 example verbatim.
        assert_eq!(
            render_story(&v),
            "trace_id: 4bf92f3577b34da6a3ce929d0e0e4736\n\
             event_id: 11111111-1111-4111-8111-111111111111\n\
             service: checkout\nroute: /checkout\nstatus: error\nlinkage: causal\n\n\
             first observable failing step:\n  payment.charge -> PMT_502\n\n\
             contributing path:\n  cart.validate   ok     1 ms\n\
             \x20 payment.charge  error  35 ms  upstream gateway 5xx\n\n\
             logs:\n  +40 ms [warn] retrying payment\n\n\
             downstream:\n  payment.charge -> payment /charge\n"
        );
        snap!("explain", render_story(&v));
        let bare = json!({"trace_id": TRACE, "event_id": "e1", "service": "checkout",
            "route": "", "status": "suppressed", "anchor": null, "path": [], "logs": [],
            "downstream": [{"step": "x", "service": "", "endpoint": ""}], "linkage": "direct"});
        snap!("explain_bare", render_story(&bare));
    }

    #[test]
    fn render_trace_prints_events_in_given_order() {
        let v = json!({"trace_id": TRACE, "linkage": "causal", "events": [
            wide_event("g", "api-gateway", "", "checkout.purchase", "00000000000000a1"),
            wide_event("c", "checkout", "00000000000000a1", "payment.charge", "00000000000000b2"),
            wide_event("p", "payment", "00000000000000b2", "acquirer.charge", "00000000000000c3")]});
        snap!("trace", render_trace(&v));
    }

    #[test]
    fn render_event_prints_summary_lines() {
        let v = json!({"event": wide_event("c", "checkout", "00000000000000a1",
            "payment.charge", "00000000000000b2")});
        snap!("event", render_event(&v));
        let rpc = json!({"event": {"event_id": "r", "trace_id": TRACE, "service": "s",
            "status": "ok", "duration_ms": 0, "kind": "rpc",
            "fields": {"rpc": {"service": "pay.Payments", "method": "Charge"}}}});
        assert_eq!(
            render_event(&rpc),
            format!(
                "event_id: r\ntrace_id: {TRACE}\nservice: s\nstatus: ok\nduration_ms: 0\n\
                 route: pay.Payments/Charge\nanchor: none\nsteps: 0\nlogs: 0\ndownstream: 0\n"
            )
        );
    }

    #[test]
    fn render_search_prints_table_and_cursor() {
        let v = json!({"events": [
            wide_event("p", "payment", "00000000000000b2", "acquirer.charge", "00000000000000c3"),
            wide_event("c", "checkout", "00000000000000a1", "payment.charge", "00000000000000b2")],
            "next_cursor": "eyJ0IjoxLCJlIjoiYyJ9"});
        snap!("search", render_search(&v));
        assert_eq!(
            render_search(&json!({"events": [], "next_cursor": null})),
            "No events found.\n"
        );
    }

    #[test]
    fn render_signals_prints_table_and_cursor() {
        let v = json!({"window": "1h0m0s", "next_cursor": "eyJ0Ijox", "signals": [
            {"env": "prod", "reason": "payment_gateway_5xx", "received_at": "2026-05-04T12:02:58.412Z",
             "service": "payment", "severity": "critical", "signal_id": "sig_9b2d6c1e4f7a48d3a0c5e1f2b3c4d5e6",
             "source": "waylog-demo", "timestamp": "2026-05-04T12:02:58.5Z", "type": "dependency"},
            {"env": "prod", "reason": "RolloutComplete", "received_at": "2026-05-04T12:00:01Z",
             "service": "checkout", "severity": "info", "signal_id": "sig_0a",
             "source": "github-actions", "timestamp": "2026-05-04T12:00:00Z", "type": "deploy"}]});
        snap!("signals", render_signals(&v));
        let empty = json!({"window": "1h0m0s", "signals": [], "next_cursor": null});
        assert_eq!(render_signals(&empty), "No signals found.\n");
    }

    #[test]
    fn render_blast_prints_lines_for_both_modes() {
        let v = json!({"key": {"service": "checkout", "step": "payment.charge", "error_code": "PMT_502"},
            "view_mode": "single_family", "window": "15m0s", "affected_requests": 12,
            "affected_users": 8, "affected_services": 3,
            "top_services": ["api-gateway", "checkout", "payment"], "sample_traces": [TRACE]});
        snap!("blast", render_blast(&v));
        let empty = json!({"key": {"error_code": "NOPE"}, "view_mode": "cross_family",
            "window": "1h0m0s", "affected_requests": 0, "affected_users": null,
            "affected_services": 0, "top_services": [], "sample_traces": []});
        snap!("blast_empty", render_blast(&empty));
    }

    /// An incident in its wire form (the model's serde output, as the server sends it).
    fn incident_json(id: &str, status: &str, severity: i64, step: &str, started: i64) -> Value {
        use crate::incidents::model::{Cause, Confidence, ErrorFamily, Incident, Status};
        let mut inc = Incident::skeleton(
            id.into(),
            "prod".into(),
            ErrorFamily::new("checkout", step, "PMT_502"),
            started,
            started + 90_000_000_000,
        );
        inc.status = Status::parse(status).unwrap();
        inc.cause = Cause::Dependency;
        inc.confidence = Confidence::High;
        inc.severity = severity;
        inc.affected_requests = 12;
        inc.affected_services = 3;
        serde_json::from_str(&serde_json::to_string(&inc).unwrap()).unwrap()
    }

    #[test]
    fn render_incidents_prints_table_or_empty_line() {
        // 2026-05-04T12:03:00.5Z: STARTED keeps whole seconds.
        let t0 = 1_777_896_180_500_000_000;
        let v = json!({"incidents": [
            incident_json("inc_eee7eabe9bda8b24", "active", 10, "payment.charge", t0),
            incident_json("inc_f5db0bf7b22b49e9", "recovering", 4, "a:b", t0 - 3_600_000_000_000),
        ]});
        let out = render_incidents(&v);
        assert!(out.contains("checkout:a\\:b:PMT_502"), "{out}");
        assert!(out.contains("  2026-05-04T12:03:00Z\n"), "{out}");
        snap!("incidents", out);
        assert_eq!(
            render_incidents(&json!({"incidents": []})),
            "No active incidents.\n"
        );
    }

    #[test]
    fn snapshot_text_of_returns_the_member_verbatim() {
        use crate::incidents::model::{ErrorFamily, Incident};
        use crate::incidents::snapshot::{SnapshotBody, snapshot_text};
        let inc = Incident::skeleton(
            "inc_1".into(),
            "prod".into(),
            ErrorFamily::new("checkout", "payment.charge", "PMT_502"),
            1_777_896_180_000_000_000,
            1_777_896_180_000_000_000,
        );
        let body = serde_json::to_string(&SnapshotBody::new(&inc)).unwrap();
        assert_eq!(snapshot_text_of(&body).unwrap(), snapshot_text(&inc));
        assert!(snapshot_text_of("Incident inc_1\n").is_err());
        assert!(snapshot_text_of("{\"incident\": {}}").is_err());
    }

    #[test]
    fn pretty_json_keeps_server_key_order() {
        let text = r#"{"z":1,"a":{"y":[1,{"b":"x\"}:,"}],"e":[],"o":{ }},"n":null}"#;
        let out = pretty_json(text).unwrap();
        assert_eq!(
            out,
            "{\n  \"z\": 1,\n  \"a\": {\n    \"y\": [\n      1,\n      {\n        \"b\": \"x\\\"}:,\"\n      }\n    ],\n    \"e\": [],\n    \"o\": {}\n  },\n  \"n\": null\n}\n"
        );
        // Same value as the input, and serde's own pretty form when keys are already sorted.
        let back: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(text).unwrap());
        let sorted = json!({"a": [1, 2.5, "ü"], "b": {"c": true}});
        assert_eq!(
            pretty_json(&sorted.to_string()).unwrap(),
            format!("{}\n", serde_json::to_string_pretty(&sorted).unwrap())
        );
        assert!(pretty_json("{\"a\":").is_err());
    }

    #[test]
    fn percent_encode_escapes_reserved_bytes() {
        assert_eq!(percent_encode("a-b_c.d~9"), "a-b_c.d~9");
        assert_eq!(percent_encode("a/b c?d%ü"), "a%2Fb%20c%3Fd%25%C3%BC");
    }

    #[test]
    fn blast_key_follows_flag_rules() {
        let args =
            |key: Option<&str>, svc: Option<&str>, step: Option<&str>, code: Option<&str>| {
                BlastArgs {
                    key: key.map(Into::into),
                    service: svc.map(Into::into),
                    step: step.map(Into::into),
                    code: code.map(Into::into),
                    window: WindowArgs::default(),
                }
            };
        let q = |a: BlastArgs| {
            let mut q = Vec::new();
            blast_query(&a, &mut q).map(|()| q)
        };
        assert_eq!(
            q(args(Some("svc:a\\:b:E1"), None, None, None)).unwrap(),
            vec![("error_family", "svc:a\\:b:E1".to_owned())]
        );
        assert_eq!(
            q(args(Some("E1"), None, None, None)).unwrap(),
            vec![("error_code", "E1".to_owned())]
        );
        assert_eq!(
            q(args(None, Some("s"), Some("p"), Some("c")))
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            q(args(None, None, None, Some("c"))).unwrap(),
            vec![("error_code", "c".to_owned())]
        );
        for bad in [
            args(None, None, None, None),
            args(None, Some("s"), None, Some("c")),
            args(Some("E1"), None, None, Some("c")),
        ] {
            assert_eq!(q(bad).unwrap_err().code, super::super::EXIT_USAGE);
        }
    }
}
