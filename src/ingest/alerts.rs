//! Alert intake mapping for `POST /v1/alerts` (spec triage §7.1-§7.3): format detection, the
//! field-mapping table, severity mapping and the per-alert `MISSING_FIELDS` check. Pure: no
//! I/O, no storage, no clock (the caller passes `now_ns`). The handler serialises each
//! [`MappedAlert::signal`] and runs it through [`super::signals::validate_signal`], then
//! matches and stores it.
//!
//! Invariants:
//! - Every mapped string is trimmed and non-empty; `∥` in the spec is "first non-empty". A
//!   value counts when it is a string (trimmed) or a number (its JSON text: Grafana legacy
//!   `ruleId` is an integer); objects, arrays, booleans and null count as missing.
//! - A mapped signal always has `type: "alert"`, `source`, `service`, `env`, `severity` (one of
//!   `info`, `warning`, `critical`), `reason`, an RFC 3339 UTC `timestamp` and a `metadata`
//!   object holding at least `raw_source`; `message` only when non-empty.
//! - Positions are 0-based in payload order: `alerts[]` for Alertmanager and unified Grafana,
//!   `evalMatches[]` for legacy Grafana, `0` for everything else.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::rejection::{ErrorClass, Rejection};
use crate::percent::decode_path as percent_decode_path;
use crate::rfc3339::{format_rfc3339_ns, parse_rfc3339_ns};

/// The payload format found by §7.1; `as_str` is the `alerts.format` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    Waylog,
    Alertmanager,
    Grafana,
    PagerDuty,
}

impl AlertFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertFormat::Waylog => "waylog",
            AlertFormat::Alertmanager => "alertmanager",
            AlertFormat::Grafana => "grafana",
            AlertFormat::PagerDuty => "pagerduty",
        }
    }
}

/// The query defaults of `POST /v1/alerts?service=<s>&env=<e>`: trimmed, `None` when absent or
/// empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertQuery {
    pub service: Option<String>,
    pub env: Option<String>,
}

/// One alert of the payload, mapped to a signal input object.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedAlert {
    pub format: AlertFormat,
    /// A `/v1/signals` input object: `type`, `source`, `service`, `env`, `severity`, `reason`,
    /// `message`?, `timestamp` (RFC 3339 string), `metadata` (with `raw_source`), plus, for a
    /// waylog-native payload only, its pass-through keys (see [`map_alerts`]).
    pub signal: Map<String, Value>,
    /// The `alerts` table columns: `metadata.alert_id`, `metadata.alert_status` and
    /// `metadata.fingerprint` of `signal`, when set.
    pub alert_id: Option<String>,
    pub alert_status: Option<String>,
    pub fingerprint: Option<String>,
}

/// One alert refused before storage: an entry of the response's `rejected` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertRejection {
    pub position: usize,
    pub code: &'static str,
    pub message: String,
    pub detail: String,
}

pub const MISSING_FIELDS: &str = "MISSING_FIELDS";
const MISSING_DETAIL: &str = "service, env, and reason are required";

impl AlertRejection {
    /// §7.3: `service`, `env` or `reason` missing after mapping and query defaults.
    pub fn missing_fields(position: usize) -> Self {
        AlertRejection {
            position,
            code: MISSING_FIELDS,
            message: "missing required fields".into(),
            detail: MISSING_DETAIL.into(),
        }
    }

    /// §7.3: the mapped signal failed §1.2 validation (`validate_signal`); the signal error's
    /// detail is kept.
    pub fn invalid_alert(position: usize, signal_error: &Rejection) -> Self {
        AlertRejection {
            position,
            code: MISSING_FIELDS,
            message: "invalid alert".into(),
            detail: signal_error.error.detail.clone(),
        }
    }

    /// The request error when nothing was accepted ("the first rejection is the error").
    pub fn into_rejection(self) -> Rejection {
        Rejection::new(ErrorClass::BadRequest, self.code, self.message, self.detail)
    }
}

fn invalid_json(detail: impl Into<String>) -> Rejection {
    Rejection::new(
        ErrorClass::BadRequest,
        "INVALID_JSON",
        "invalid json",
        detail,
    )
}

/// Parse the raw query string (without `?`). Only `service` and `env` are allowed; any other
/// name is `400 INVALID_JSON` with detail `unknown query parameter: <name>`. Values are
/// percent-decoded (`+` is a space) and trimmed; an empty value is absent; when a name repeats,
/// its first non-empty value wins.
pub fn parse_alert_query(raw: Option<&str>) -> Result<AlertQuery, Rejection> {
    let decode = |s: &str| {
        percent_decode_path(&s.replace('+', "%20"))
            .ok_or_else(|| invalid_json("invalid query string"))
    };
    let mut q = AlertQuery::default();
    for piece in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        let name = decode(raw_name)?;
        let slot = match name.as_str() {
            "service" => &mut q.service,
            "env" => &mut q.env,
            _ => return Err(invalid_json(format!("unknown query parameter: {name}"))),
        };
        let value = decode(raw_value)?;
        let value = value.trim();
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value.to_string());
        }
    }
    Ok(q)
}

/// Parse a request body for [`map_alerts`]; a parse error is `400 INVALID_JSON` with the
/// parser's message as detail.
pub fn parse_alert_body(body: &[u8]) -> Result<Value, Rejection> {
    serde_json::from_slice(body).map_err(|e| invalid_json(e.to_string()))
}

/// §7.2 severity: from the lower-cased raw value; absent or unknown is `warning`.
pub fn map_severity(raw: Option<&str>) -> &'static str {
    match raw.map(|r| r.trim().to_lowercase()).as_deref() {
        Some("critical" | "error" | "high" | "triggered") => "critical",
        Some("info" | "resolved" | "ok") => "info",
        _ => "warning",
    }
}

/// §7.1 detection, §7.2 mapping and the `MISSING_FIELDS` check of §7.3, at server time `now_ns`
/// (the timestamp of alerts without a usable one).
///
/// `Err` is a whole-request error: `INVALID_JSON` when `body` is not an object,
/// `UNSUPPORTED_ALERT` when no rule of §7.1 fires, `MISSING_FIELDS` `alerts[] is empty` when an
/// Alertmanager or Grafana payload has an empty `alerts` array (for Alertmanager also a
/// non-array `alerts`). `Ok` holds one entry per alert in payload order, never empty.
///
/// Waylog-native payloads are close to a signal, so they keep what a signal would keep:
/// - The table's keys are mapped like any format: `source`, `service`, `env`, `severity` (through
///   the severity table), `reason`, `message`, `timestamp`, and the top-level `alert_id`,
///   `provider_url`, `error_code`, `step`, `trace_id`, `incident_id`, `fingerprint` move into
///   `metadata` (they do not stay at top level).
/// - A client `metadata` object is merged: its entries are kept verbatim (except null or
///   empty-string values); for the seven keys above the top-level value wins and
///   `metadata.<key>` is the fallback; `raw_source` is always the alert's source. A
///   non-object `metadata` is ignored, like any wrongly typed mapped field.
/// - Every other top-level key (including `resource`) passes through verbatim, to be kept by
///   the signal as `resource` or an extra, and checked by `validate_signal`; `type`,
///   `signal_id` and `received_at` are dropped (the server owns them).
pub fn map_alerts(
    body: &Value,
    q: &AlertQuery,
    now_ns: i64,
) -> Result<Vec<Result<MappedAlert, AlertRejection>>, Rejection> {
    if !body.is_object() {
        return Err(invalid_json("expected a JSON object"));
    }
    let (format, drafts) = match detect(body) {
        Detected::Native(source) => (AlertFormat::Waylog, vec![native(body, source)]),
        Detected::Grafana => (AlertFormat::Grafana, grafana(body)?),
        Detected::Alertmanager => (AlertFormat::Alertmanager, alertmanager(body)?),
        Detected::PagerDuty => (AlertFormat::PagerDuty, vec![pagerduty(body)]),
        Detected::Unsupported => {
            return Err(Rejection::new(
                ErrorClass::BadRequest,
                "UNSUPPORTED_ALERT",
                "unsupported alert",
                "expected waylog, alertmanager, grafana, or pagerduty payload",
            ));
        }
    };
    Ok(drafts
        .into_iter()
        .enumerate()
        .map(|(position, d)| d.finish(position, format, q, now_ns))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Detection (§7.1).

enum Detected {
    Native(String),
    Grafana,
    Alertmanager,
    PagerDuty,
    Unsupported,
}

/// The rules of §7.1 after rule 1, first that fires; "has" is key presence, any value.
fn detect(root: &Value) -> Detected {
    let has = |k: &str| root.get(k).is_some();
    if let Some(Value::String(s)) = root.get("source") {
        let s = s.trim();
        if !s.is_empty() && s != "waylog" {
            return Detected::Native(s.to_string());
        }
    }
    let first = first_of(root, "alerts");
    let first_has = |k: &str| first.and_then(|a| a.get(k)).is_some();
    let grafana = ["ruleId", "ruleUID", "evalMatches", "orgId", "orgID"]
        .iter()
        .any(|k| has(k))
        || ["dashboardURL", "panelURL", "ruleURL"]
            .iter()
            .any(|k| first_has(k))
        || first
            .and_then(|a| a.pointer("/labels/grafana_folder"))
            .is_some()
        || ["__dashboardUid__", "__panelId__"]
            .iter()
            .any(|k| text(first.and_then(|a| a.get("annotations")?.get(k))).is_some());
    if grafana {
        Detected::Grafana
    } else if has("source") || has("alert_id") {
        Detected::Native("waylog".into())
    } else if has("alerts") && (has("receiver") || has("commonLabels")) {
        Detected::Alertmanager
    } else if has("messages") || has("event") {
        Detected::PagerDuty
    } else {
        Detected::Unsupported
    }
}

// ---------------------------------------------------------------------------------------------
// Mapping (§7.2).

/// A mapped string: trimmed non-empty string, or a number's JSON text.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `text` of `v.k`; `v` may be any JSON value (a non-object has no keys).
fn at(v: Option<&Value>, k: &str) -> Option<String> {
    text(v?.get(k))
}

/// Label sets looked up in order, the first non-empty value winning: `[a.labels]`, or for a
/// legacy Grafana match `[m.tags, root tags]` (the match's tags overlay the root's).
struct Labels<'a>(Vec<Option<&'a Value>>);

impl Labels<'_> {
    fn get(&self, k: &str) -> Option<String> {
        self.0.iter().find_map(|l| at(*l, k))
    }
}

/// One alert before query defaults, the required-field check and severity mapping.
#[derive(Default)]
struct Draft {
    source: String,
    service: Option<String>,
    env: Option<String>,
    severity_raw: Option<String>,
    /// `a.status = resolved` or a PagerDuty `*.resolved` event: severity `info` regardless.
    resolved: bool,
    reason: Option<String>,
    message: Option<String>,
    timestamp: Option<String>,
    metadata: Map<String, Value>,
    /// Waylog-native pass-through keys.
    extra: Map<String, Value>,
}

impl Draft {
    /// Set `metadata.<key>`; `None` removes it, so empty values are never stored.
    fn meta(&mut self, key: &str, value: Option<String>) {
        match value {
            Some(v) => self.metadata.insert(key.to_string(), Value::String(v)),
            None => self.metadata.remove(key),
        };
    }

    fn finish(
        mut self,
        position: usize,
        format: AlertFormat,
        q: &AlertQuery,
        now_ns: i64,
    ) -> Result<MappedAlert, AlertRejection> {
        let service = self.service.take().or_else(|| q.service.clone());
        let env = self.env.take().or_else(|| q.env.clone());
        let (Some(service), Some(env), Some(reason)) = (service, env, self.reason.take()) else {
            return Err(AlertRejection::missing_fields(position));
        };
        let severity = if self.resolved {
            "info"
        } else {
            map_severity(self.severity_raw.as_deref())
        };
        let timestamp_ns = self
            .timestamp
            .as_deref()
            .and_then(alert_timestamp_ns)
            .unwrap_or(now_ns);
        self.meta("raw_source", Some(self.source.clone()));
        let meta = |k: &str| {
            self.metadata
                .get(k)
                .and_then(|v| v.as_str())
                .map(String::from)
        };
        let (alert_id, alert_status, fingerprint) =
            (meta("alert_id"), meta("alert_status"), meta("fingerprint"));
        let mut signal = self.extra;
        let s = |v: &str| Value::String(v.to_string());
        signal.insert("type".into(), s("alert"));
        signal.insert("source".into(), s(&self.source));
        signal.insert("service".into(), s(&service));
        signal.insert("env".into(), s(&env));
        signal.insert("severity".into(), s(severity));
        signal.insert("reason".into(), s(&reason));
        if let Some(m) = &self.message {
            signal.insert("message".into(), s(m));
        }
        signal.insert("timestamp".into(), s(&format_rfc3339_ns(timestamp_ns)));
        signal.insert("metadata".into(), Value::Object(self.metadata));
        Ok(MappedAlert {
            format,
            signal,
            alert_id,
            alert_status,
            fingerprint,
        })
    }
}

/// Unix ns of an alert timestamp; `None` (the alert gets `now`) when it is not RFC 3339 or
/// lies in year 1 (Alertmanager's zero time). Year 1 is below the i64 nanosecond range that
/// [`parse_rfc3339_ns`] accepts, so it never parses; the explicit check states the rule.
fn alert_timestamp_ns(s: &str) -> Option<i64> {
    if s.starts_with("0001-") {
        return None;
    }
    parse_rfc3339_ns(s)
}

/// Top-level native keys that are mapped (or server-owned) rather than passed through.
const NATIVE_MAPPED: [&str; 11] = [
    "type",
    "source",
    "service",
    "env",
    "severity",
    "reason",
    "message",
    "timestamp",
    "metadata",
    "signal_id",
    "received_at",
];
/// Native top-level keys that become `metadata.<key>`.
const NATIVE_META: [&str; 7] = [
    "alert_id",
    "provider_url",
    "error_code",
    "step",
    "trace_id",
    "incident_id",
    "fingerprint",
];

fn native(root: &Value, source: String) -> Draft {
    let t = |k: &str| at(Some(root), k);
    let client_meta = root.get("metadata").filter(|m| m.is_object());
    let mut d = Draft {
        source,
        service: t("service"),
        env: t("env"),
        severity_raw: t("severity"),
        reason: t("reason"),
        message: t("message"),
        timestamp: t("timestamp"),
        ..Draft::default()
    };
    if let Some(Value::Object(m)) = client_meta {
        d.metadata = m
            .iter()
            .filter(|(_, v)| match v {
                Value::Null => false,
                Value::String(s) => !s.trim().is_empty(),
                _ => true,
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    for k in NATIVE_META {
        let v = t(k).or_else(|| at(client_meta, k));
        d.meta(k, v);
    }
    if let Some(obj) = root.as_object() {
        d.extra = obj
            .iter()
            .filter(|(k, _)| {
                !NATIVE_MAPPED.contains(&k.as_str()) && !NATIVE_META.contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    d
}

/// `alerts` as a list: `None` when absent or null, empty when not an array.
fn alerts_of(root: &Value) -> Option<&[Value]> {
    match root.get("alerts")? {
        Value::Null => None,
        Value::Array(a) => Some(a),
        _ => Some(&[]),
    }
}

fn alerts_empty() -> Rejection {
    Rejection::new(
        ErrorClass::BadRequest,
        MISSING_FIELDS,
        "missing required fields",
        "alerts[] is empty",
    )
}

fn alertmanager(root: &Value) -> Result<Vec<Draft>, Rejection> {
    let alerts = alerts_of(root).unwrap_or(&[]);
    if alerts.is_empty() {
        return Err(alerts_empty());
    }
    Ok(alerts.iter().map(alertmanager_one).collect())
}

fn alertmanager_one(a: &Value) -> Draft {
    let a = Some(a);
    let l = Labels(vec![a.and_then(|a| a.get("labels"))]);
    let n = a.and_then(|a| a.get("annotations"));
    let status = at(a, "status");
    let mut d = Draft {
        source: "alertmanager".into(),
        service: l.get("service"),
        env: l.get("env"),
        severity_raw: l.get("severity"),
        resolved: is_resolved(status.as_deref()),
        reason: at(n, "summary")
            .or_else(|| at(n, "description"))
            .or_else(|| l.get("alertname")),
        message: at(n, "description"),
        timestamp: at(a, "startsAt"),
        ..Draft::default()
    };
    d.meta(
        "alert_id",
        at(a, "fingerprint")
            .or_else(|| l.get("fingerprint"))
            .or_else(|| l.get("alertname")),
    );
    d.meta(
        "provider_url",
        at(a, "generatorURL")
            .or_else(|| at(n, "generatorURL"))
            .or_else(|| at(a, "runbook_url"))
            .or_else(|| at(n, "runbook_url")),
    );
    d.meta("error_code", l.get("error_code"));
    d.meta("step", l.get("step"));
    d.meta("fingerprint", at(a, "fingerprint"));
    d.meta("alert_status", status);
    d
}

fn is_resolved(status: Option<&str>) -> bool {
    status.is_some_and(|s| s.eq_ignore_ascii_case("resolved"))
}

/// Unified Grafana: one signal per `alerts[]` element. Without `alerts`: legacy (root
/// `evalMatches`) gives one signal per match, else one signal from the root; for these
/// root signals the root object plays the role of `a`.
fn grafana(root: &Value) -> Result<Vec<Draft>, Rejection> {
    let tags = root.get("tags");
    if let Some(alerts) = alerts_of(root) {
        if alerts.is_empty() {
            return Err(alerts_empty());
        }
        return Ok(alerts
            .iter()
            .map(|a| grafana_one(root, a, Labels(vec![a.get("labels")]), false))
            .collect());
    }
    if root.get("evalMatches").is_some() {
        let matches = root
            .get("evalMatches")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if matches.is_empty() {
            return Ok(vec![grafana_one(root, root, Labels(vec![tags]), true)]);
        }
        return Ok(matches
            .iter()
            .map(|m| grafana_one(root, root, Labels(vec![m.get("tags"), tags]), true))
            .collect());
    }
    Ok(vec![grafana_one(root, root, Labels(vec![tags]), false)])
}

fn grafana_one(root: &Value, a: &Value, l: Labels<'_>, legacy: bool) -> Draft {
    let (r, a) = (Some(root), Some(a));
    let n = a.and_then(|a| a.get("annotations"));
    let status = at(a, "status");
    let reason = if legacy {
        at(r, "ruleName").or_else(|| at(r, "title"))
    } else {
        at(n, "summary")
            .or_else(|| at(r, "title"))
            .or_else(|| at(r, "ruleName"))
            .or_else(|| l.get("alertname"))
    };
    let mut d = Draft {
        source: "grafana".into(),
        service: l.get("service").or_else(|| at(r, "service")),
        env: l.get("env").or_else(|| at(r, "env")),
        severity_raw: l.get("severity").or_else(|| at(r, "state")),
        resolved: is_resolved(status.as_deref()),
        reason,
        message: at(n, "description").or_else(|| at(r, "message")),
        timestamp: at(a, "startsAt"),
        ..Draft::default()
    };
    d.meta(
        "alert_id",
        // Spec §7.2 reads root `ruleUID`; Grafana sends it per alert (since 2026-01), so the
        // alert's own `ruleUID` is the next choice before the alert name (docs/alerts.md).
        at(r, "ruleUID")
            .or_else(|| at(r, "ruleId"))
            .or_else(|| at(a, "ruleUID"))
            .or_else(|| l.get("alertname")),
    );
    d.meta(
        "provider_url",
        at(a, "dashboardURL")
            .or_else(|| at(a, "panelURL"))
            .or_else(|| at(a, "generatorURL"))
            .or_else(|| at(a, "ruleURL"))
            .or_else(|| at(r, "ruleUrl")),
    );
    d.meta(
        "error_code",
        l.get("error_code").or_else(|| at(r, "error_code")),
    );
    d.meta("step", l.get("step"));
    d.meta("fingerprint", at(a, "fingerprint"));
    d.meta("alert_status", status);
    d
}

/// `v.k[0]` when `v.k` is a non-empty array.
fn first_of<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    v.get(k)?.as_array()?.first()
}

/// First candidate that is a non-empty object (`∥` over objects).
fn first_object<const N: usize>(candidates: [Option<&Value>; N]) -> Option<&Value> {
    candidates
        .into_iter()
        .flatten()
        .find(|v| v.as_object().is_some_and(|m| !m.is_empty()))
}

/// PagerDuty: V3 (`event.data`) and V2 (`messages[0].incident`) webhooks, one signal.
fn pagerduty(root: &Value) -> Draft {
    let message = first_of(root, "messages");
    let data = first_object([
        message.and_then(|m| m.pointer("/event/data")),
        root.pointer("/event/data"),
        message.and_then(|m| m.get("incident")),
        root.get("incident"),
    ]);
    let ev = first_object([message.and_then(|m| m.get("event")), root.get("event")]);
    let event_type = at(ev, "event_type");
    let mut d = Draft {
        source: "pagerduty".into(),
        service: at(data, "service").or_else(|| at(data.and_then(|d| d.get("service")), "summary")),
        env: at(data, "env"),
        severity_raw: at(data, "urgency").or_else(|| at(data, "severity")),
        resolved: event_type
            .as_deref()
            .is_some_and(|t| t.to_lowercase().ends_with(".resolved")),
        reason: at(data, "title")
            .or_else(|| at(data, "summary"))
            .or_else(|| event_type.clone()),
        message: at(data, "description"),
        timestamp: at(data, "created_at"),
        ..Draft::default()
    };
    d.meta("alert_id", at(data, "id").or_else(|| at(ev, "id")));
    d.meta("provider_url", at(data, "html_url"));
    d.meta("error_code", at(data, "error_code"));
    d.meta("incident_id", at(data, "incident_id"));
    d.meta("alert_status", event_type);
    d
}

#[cfg(test)]
mod tests;
