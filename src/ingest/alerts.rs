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

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::reads::params::percent_decode_path;
use crate::rfc3339::{format_rfc3339_ns, parse_rfc3339_ns};
use crate::server::error::ApiError;

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
    pub fn invalid_alert(position: usize, signal_error: &ApiError) -> Self {
        AlertRejection {
            position,
            code: MISSING_FIELDS,
            message: "invalid alert".into(),
            detail: signal_error.error.detail.clone(),
        }
    }

    /// The request error when nothing was accepted ("the first rejection is the error").
    pub fn into_api_error(self) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            self.code,
            self.message,
            self.detail,
        )
    }
}

fn invalid_json(detail: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_JSON",
        "invalid json",
        detail,
    )
}

/// Parse the raw query string (without `?`). Only `service` and `env` are allowed; any other
/// name is `400 INVALID_JSON` with detail `unknown query parameter: <name>`. Values are
/// percent-decoded (`+` is a space) and trimmed; an empty value is absent; when a name repeats,
/// its first non-empty value wins.
pub fn parse_alert_query(raw: Option<&str>) -> Result<AlertQuery, ApiError> {
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
pub fn parse_alert_body(body: &[u8]) -> Result<Value, ApiError> {
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
) -> Result<Vec<Result<MappedAlert, AlertRejection>>, ApiError> {
    if !body.is_object() {
        return Err(invalid_json("expected a JSON object"));
    }
    let (format, drafts) = match detect(body) {
        Detected::Native(source) => (AlertFormat::Waylog, vec![native(body, source)]),
        Detected::Grafana => (AlertFormat::Grafana, grafana(body)?),
        Detected::Alertmanager => (AlertFormat::Alertmanager, alertmanager(body)?),
        Detected::PagerDuty => (AlertFormat::PagerDuty, vec![pagerduty(body)]),
        Detected::Unsupported => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
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

fn alerts_empty() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        MISSING_FIELDS,
        "missing required fields",
        "alerts[] is empty",
    )
}

fn alertmanager(root: &Value) -> Result<Vec<Draft>, ApiError> {
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
fn grafana(root: &Value) -> Result<Vec<Draft>, ApiError> {
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
mod tests {
    use super::*;
    use crate::ingest::signals::validate_signal;
    use serde_json::json;

    const AM_FIRING: &str =
        include_str!("../../../shared/fixtures/alerts/alertmanager-firing.json");
    const AM_RESOLVED: &str =
        include_str!("../../../shared/fixtures/alerts/alertmanager-resolved.json");
    const GRAFANA_UNIFIED: &str =
        include_str!("../../../shared/fixtures/alerts/grafana-unified.json");
    const GRAFANA_LEGACY: &str =
        include_str!("../../../shared/fixtures/alerts/grafana-legacy.json");
    const PAGERDUTY_V3: &str =
        include_str!("../../../shared/fixtures/alerts/pagerduty-v3-incident-triggered.json");
    const WAYLOG_NATIVE: &str = include_str!("../../../shared/fixtures/alerts/waylog-native.json");

    // §7.5 examples.
    const EX_NATIVE: &str = r#"{"source": "waylog", "alert_id": "alert_pmt_502_1777896240", "service": "checkout", "env": "prod", "severity": "critical", "reason": "PMT_502 spike",
 "message": "checkout payment.charge failing with PMT_502", "error_code": "PMT_502", "step": "payment.charge", "provider_url": "https://grafana.example.com/d/checkout", "timestamp": "2026-05-04T12:04:00Z"}"#;
    const EX_ALERTMANAGER: &str = r#"{"version": "4", "status": "firing", "receiver": "waylog", "groupKey": "{}:{alertname=\"PaymentErrors\"}", "truncatedAlerts": 0, "groupLabels": {"alertname": "PaymentErrors"},
 "commonLabels": {"alertname": "PaymentErrors", "env": "prod"}, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
 "alerts": [{"status": "firing", "startsAt": "2026-05-04T12:04:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "a1b2c3d4e5f60718",
   "labels": {"alertname": "PaymentErrors", "service": "checkout", "env": "prod", "severity": "critical", "error_code": "PMT_502"},
   "annotations": {"summary": "checkout PMT_502 rate above 5%", "runbook_url": "https://runbooks.example.com/pmt-502"},
   "generatorURL": "http://prometheus:9090/graph?g0.expr=rate%28pmt_502_total%5B5m%5D%29"}]}"#;
    const EX_GRAFANA: &str = r#"{"receiver": "waylog", "status": "firing", "orgId": 1, "state": "alerting", "title": "[FIRING:1] Checkout 5xx", "version": "1", "externalURL": "https://grafana.example.com/",
 "groupKey": "{}/{}:{alertname=\"Checkout 5xx\"}", "alerts": [{"status": "firing", "startsAt": "2026-05-04T12:04:30Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "9f8e7d6c5b4a3921",
   "labels": {"alertname": "Checkout 5xx", "grafana_folder": "Payments", "service": "checkout", "env": "prod", "severity": "critical", "error_code": "PMT_502"},
   "annotations": {"summary": "checkout 5xx above 2%", "description": "payment.charge failing"},
   "dashboardURL": "https://grafana.example.com/d/checkout", "panelURL": "https://grafana.example.com/d/checkout?viewPanel=4"}]}"#;
    const EX_PAGERDUTY: &str = r#"{"event": {"id": "01EXAMPLE7Q2", "event_type": "incident.triggered", "resource_type": "incident", "occurred_at": "2026-05-04T12:05:10.123Z",
  "data": {"id": "Q1W2E3R4T5Y6", "type": "incident", "number": 4211, "status": "triggered", "urgency": "high", "created_at": "2026-05-04T12:05:09Z",
           "title": "checkout: PMT_502 error rate critical", "html_url": "https://acme.pagerduty.com/incidents/Q1W2E3R4T5Y6",
           "service": {"id": "PSVC123", "summary": "checkout", "type": "service_reference"}}}}"#;

    fn now() -> i64 {
        parse_rfc3339_ns("2026-05-12T15:00:00Z").unwrap()
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    fn query(raw: &str) -> AlertQuery {
        parse_alert_query(Some(raw)).unwrap()
    }

    fn map(body: &str, q: &AlertQuery) -> Vec<Result<MappedAlert, AlertRejection>> {
        map_alerts(&parse(body), q, now()).unwrap()
    }

    /// The single alert of a payload, which must map.
    fn one(body: &str, q: &AlertQuery) -> MappedAlert {
        let mut all = map(body, q);
        assert_eq!(all.len(), 1);
        all.remove(0).unwrap()
    }

    fn map_err(body: &str) -> (u16, String, String, String) {
        let e = map_alerts(&parse(body), &AlertQuery::default(), now()).unwrap_err();
        (
            e.status.as_u16(),
            e.error.code.to_string(),
            e.error.message,
            e.error.detail,
        )
    }

    /// Asserts the whole signal object, the `alerts` columns, and that the signal validates.
    fn check(
        m: &MappedAlert,
        format: AlertFormat,
        signal: Value,
        ids: (Option<&str>, Option<&str>, Option<&str>),
    ) {
        assert_eq!(m.format, format);
        assert_eq!(Value::Object(m.signal.clone()), signal);
        assert_eq!(
            (
                m.alert_id.as_deref(),
                m.alert_status.as_deref(),
                m.fingerprint.as_deref()
            ),
            ids
        );
        let v = validate_signal(&serde_json::to_vec(&m.signal).unwrap(), now())
            .unwrap_or_else(|e| panic!("{:?}", e.error));
        assert_eq!(v.kind, "alert");
        assert_eq!(Some(v.severity.as_str()), signal["severity"].as_str());
        assert_eq!(
            v.timestamp_ns,
            parse_rfc3339_ns(signal["timestamp"].as_str().unwrap()).unwrap()
        );
        assert!(v.extra.is_empty() || format == AlertFormat::Waylog);
    }

    fn fixture_str(body: &Value, pointer: &str) -> String {
        body.pointer(pointer).unwrap().as_str().unwrap().to_string()
    }

    #[test]
    fn fixture_alertmanager_firing_maps_one_signal_per_alert() {
        let body = parse(AM_FIRING);
        let all = map(AM_FIRING, &AlertQuery::default());
        assert_eq!(all.len(), 2);
        let generator = fixture_str(&body, "/alerts/0/generatorURL");
        assert!(
            generator.ends_with("%3E+0.05&g0.tab=1"),
            "\\u0026 unescaped"
        );
        check(
            all[0].as_ref().unwrap(),
            AlertFormat::Alertmanager,
            json!({
                "type": "alert", "source": "alertmanager", "service": "payment", "env": "prod",
                "severity": "critical",
                "reason": "payment: 7.3% of requests failing with PMT_502 (payment gateway 5xx)",
                "message": "Service payment in prod answered 7.31% of requests with HTTP 502 over the last 5m; the acquirer gateway is failing with error code PMT_502.",
                "timestamp": "2026-05-12T14:04:57.512Z",
                "metadata": {
                    "alert_id": "50aaa1c57f00e259", "provider_url": generator,
                    "error_code": "PMT_502", "fingerprint": "50aaa1c57f00e259",
                    "alert_status": "firing", "raw_source": "alertmanager"
                }
            }),
            (
                Some("50aaa1c57f00e259"),
                Some("firing"),
                Some("50aaa1c57f00e259"),
            ),
        );
        check(
            all[1].as_ref().unwrap(),
            AlertFormat::Alertmanager,
            json!({
                "type": "alert", "source": "alertmanager", "service": "checkout", "env": "prod",
                "severity": "critical",
                "reason": "checkout: 5.9% of requests failing with PMT_502 (payment gateway 5xx)",
                "message": "Service checkout in prod answered 5.88% of requests with HTTP 502 over the last 5m; the downstream payment call is failing with error code PMT_502.",
                "timestamp": "2026-05-12T14:05:12.512Z",
                "metadata": {
                    "alert_id": "c2f4ddc17812016f", "provider_url": generator,
                    "error_code": "PMT_502", "fingerprint": "c2f4ddc17812016f",
                    "alert_status": "firing", "raw_source": "alertmanager"
                }
            }),
            (
                Some("c2f4ddc17812016f"),
                Some("firing"),
                Some("c2f4ddc17812016f"),
            ),
        );
    }

    #[test]
    fn fixture_alertmanager_resolved_maps_to_info() {
        let body = parse(AM_RESOLVED);
        let all = map(AM_RESOLVED, &AlertQuery::default());
        assert_eq!(all.len(), 2);
        for (i, (service, fp, start)) in [
            ("payment", "50aaa1c57f00e259", "2026-05-12T14:04:57.512Z"),
            ("checkout", "c2f4ddc17812016f", "2026-05-12T14:05:12.512Z"),
        ]
        .into_iter()
        .enumerate()
        {
            check(
                all[i].as_ref().unwrap(),
                AlertFormat::Alertmanager,
                json!({
                    "type": "alert", "source": "alertmanager", "service": service, "env": "prod",
                    // labels say critical; a resolved alert is stored as info.
                    "severity": "info",
                    "reason": fixture_str(&body, &format!("/alerts/{i}/annotations/summary")),
                    "message": fixture_str(&body, &format!("/alerts/{i}/annotations/description")),
                    "timestamp": start,
                    "metadata": {
                        "alert_id": fp,
                        "provider_url": fixture_str(&body, &format!("/alerts/{i}/generatorURL")),
                        "error_code": "PMT_502", "fingerprint": fp,
                        "alert_status": "resolved", "raw_source": "alertmanager"
                    }
                }),
                (Some(fp), Some("resolved"), Some(fp)),
            );
        }
    }

    #[test]
    fn fixture_grafana_unified_maps_per_alert() {
        let m = one(GRAFANA_UNIFIED, &AlertQuery::default());
        check(
            &m,
            AlertFormat::Grafana,
            json!({
                "type": "alert", "source": "grafana", "service": "payment", "env": "prod",
                "severity": "critical",
                "reason": "payment: 7.3% of requests failing with PMT_502 (payment gateway 5xx)",
                "message": "Service payment in prod answered 7.31% of requests with HTTP 502 over the last 5m; the acquirer gateway is failing with error code PMT_502.",
                "timestamp": "2026-05-12T14:05:10Z",
                "metadata": {
                    // ruleUID is per alert in this payload (see the mapping comment).
                    "alert_id": "fe5pq2k7x0ttcb",
                    "provider_url": "https://grafana.example.com/d/payments-gateway?from=1778591110000&orgId=1&to=1778594740118",
                    "error_code": "PMT_502", "fingerprint": "3a347d3fe348be4c",
                    "alert_status": "firing", "raw_source": "grafana"
                }
            }),
            (
                Some("fe5pq2k7x0ttcb"),
                Some("firing"),
                Some("3a347d3fe348be4c"),
            ),
        );
    }

    #[test]
    fn fixture_grafana_legacy_maps_one_signal_per_eval_match() {
        let all = map(GRAFANA_LEGACY, &AlertQuery::default());
        assert_eq!(all.len(), 2);
        for (i, service) in ["payment", "checkout"].into_iter().enumerate() {
            check(
                all[i].as_ref().unwrap(),
                AlertFormat::Grafana,
                json!({
                    "type": "alert", "source": "grafana", "service": service, "env": "prod",
                    "severity": "critical",
                    "reason": "PaymentGateway5xx",
                    "message": "More than 5% of prod requests are failing with HTTP 502 from the payment gateway (error code PMT_502). Runbook: https://runbooks.example.com/payments/PaymentGateway5xx",
                    "timestamp": "2026-05-12T15:00:00Z",
                    "metadata": {
                        "alert_id": "17",
                        "provider_url": "https://grafana.example.com/d/payments-gateway/payments-gateway?tab=alert&viewPanel=4&orgId=1",
                        "error_code": "PMT_502", "raw_source": "grafana"
                    }
                }),
                (Some("17"), None, None),
            );
        }
    }

    #[test]
    fn fixture_pagerduty_v3_maps_with_env_from_query() {
        let m = one(PAGERDUTY_V3, &query("env=prod"));
        check(
            &m,
            AlertFormat::PagerDuty,
            json!({
                "type": "alert", "source": "pagerduty", "service": "payment", "env": "prod",
                "severity": "critical",
                "reason": "[FIRING:1] PaymentGateway5xx payment (prod PMT_502 critical payments)",
                "timestamp": "2026-05-12T14:05:28Z",
                "metadata": {
                    "alert_id": "Q1HZR4KDL6N0PX",
                    "provider_url": "https://acme-shop.pagerduty.com/incidents/Q1HZR4KDL6N0PX",
                    "alert_status": "incident.triggered", "raw_source": "pagerduty"
                }
            }),
            (Some("Q1HZR4KDL6N0PX"), Some("incident.triggered"), None),
        );
    }

    #[test]
    fn fixture_pagerduty_v3_without_env_is_rejected() {
        let all = map(PAGERDUTY_V3, &AlertQuery::default());
        assert_eq!(all, vec![Err(AlertRejection::missing_fields(0))]);
        let e = all[0].clone().unwrap_err().into_api_error();
        assert_eq!(
            (e.status.as_u16(), e.error.code, e.error.message.as_str()),
            (400, "MISSING_FIELDS", "missing required fields")
        );
        assert_eq!(e.error.detail, "service, env, and reason are required");
    }

    #[test]
    fn fixture_waylog_native_moves_ids_into_metadata() {
        let m = one(WAYLOG_NATIVE, &AlertQuery::default());
        check(
            &m,
            AlertFormat::Waylog,
            json!({
                "type": "alert", "source": "waylog", "service": "checkout", "env": "prod",
                "severity": "critical",
                "reason": "PMT_502 spike: payment gateway 5xx on checkout",
                "message": "checkout in prod: 58 of 986 POST /checkout requests in the last 5m failed at step payment.charge with PMT_502 (upstream gateway 5xx).",
                "timestamp": "2026-05-12T14:05:30.25Z",
                "metadata": {
                    "alert_id": "alt_pmt502_checkout_prod_20260512T1405",
                    "provider_url": "https://waylog.example.com/alerts/alt_pmt502_checkout_prod_20260512T1405",
                    "error_code": "PMT_502",
                    "trace_id": "5a7ca07b0eb80baa1556752b15915d83",
                    "raw_source": "waylog"
                }
            }),
            (Some("alt_pmt502_checkout_prod_20260512T1405"), None, None),
        );
    }

    #[test]
    fn spec_example_waylog_native() {
        check(
            &one(EX_NATIVE, &AlertQuery::default()),
            AlertFormat::Waylog,
            json!({
                "type": "alert", "source": "waylog", "service": "checkout", "env": "prod",
                "severity": "critical", "reason": "PMT_502 spike",
                "message": "checkout payment.charge failing with PMT_502",
                "timestamp": "2026-05-04T12:04:00Z",
                "metadata": {
                    "alert_id": "alert_pmt_502_1777896240", "error_code": "PMT_502",
                    "step": "payment.charge", "provider_url": "https://grafana.example.com/d/checkout",
                    "raw_source": "waylog"
                }
            }),
            (Some("alert_pmt_502_1777896240"), None, None),
        );
    }

    #[test]
    fn spec_example_alertmanager() {
        check(
            &one(EX_ALERTMANAGER, &AlertQuery::default()),
            AlertFormat::Alertmanager,
            json!({
                "type": "alert", "source": "alertmanager", "service": "checkout", "env": "prod",
                "severity": "critical", "reason": "checkout PMT_502 rate above 5%",
                "timestamp": "2026-05-04T12:04:00Z",
                "metadata": {
                    "alert_id": "a1b2c3d4e5f60718",
                    "provider_url": "http://prometheus:9090/graph?g0.expr=rate%28pmt_502_total%5B5m%5D%29",
                    "error_code": "PMT_502", "fingerprint": "a1b2c3d4e5f60718",
                    "alert_status": "firing", "raw_source": "alertmanager"
                }
            }),
            (
                Some("a1b2c3d4e5f60718"),
                Some("firing"),
                Some("a1b2c3d4e5f60718"),
            ),
        );
    }

    #[test]
    fn spec_example_grafana() {
        check(
            &one(EX_GRAFANA, &AlertQuery::default()),
            AlertFormat::Grafana,
            json!({
                "type": "alert", "source": "grafana", "service": "checkout", "env": "prod",
                "severity": "critical", "reason": "checkout 5xx above 2%",
                "message": "payment.charge failing",
                "timestamp": "2026-05-04T12:04:30Z",
                "metadata": {
                    "alert_id": "Checkout 5xx",
                    "provider_url": "https://grafana.example.com/d/checkout",
                    "error_code": "PMT_502", "fingerprint": "9f8e7d6c5b4a3921",
                    "alert_status": "firing", "raw_source": "grafana"
                }
            }),
            (
                Some("Checkout 5xx"),
                Some("firing"),
                Some("9f8e7d6c5b4a3921"),
            ),
        );
    }

    #[test]
    fn spec_example_pagerduty() {
        check(
            &one(EX_PAGERDUTY, &query("env=prod")),
            AlertFormat::PagerDuty,
            json!({
                "type": "alert", "source": "pagerduty", "service": "checkout", "env": "prod",
                "severity": "critical", "reason": "checkout: PMT_502 error rate critical",
                "timestamp": "2026-05-04T12:05:09Z",
                "metadata": {
                    "alert_id": "Q1W2E3R4T5Y6",
                    "provider_url": "https://acme.pagerduty.com/incidents/Q1W2E3R4T5Y6",
                    "alert_status": "incident.triggered", "raw_source": "pagerduty"
                }
            }),
            (Some("Q1W2E3R4T5Y6"), Some("incident.triggered"), None),
        );
    }

    fn format_of(body: Value) -> Result<AlertFormat, String> {
        match map_alerts(&body, &AlertQuery::default(), now()) {
            Ok(all) => Ok(match &all[0] {
                Ok(m) => m.format,
                Err(r) => panic!("rejected: {r:?}"),
            }),
            Err(e) => Err(e.error.code.to_string()),
        }
    }

    const FULL: [(&str, &str); 4] = [
        ("service", "checkout"),
        ("env", "prod"),
        ("reason", "r"),
        ("summary", "r"),
    ];

    /// An Alertmanager-shaped element that maps in any of the alert-array formats.
    fn element() -> Value {
        let labels: Map<String, Value> = FULL[..3]
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        json!({"labels": labels, "annotations": {"summary": "r"}})
    }

    #[test]
    fn detect_waylog_source_with_alerts_is_native() {
        let body = json!({"source": "waylog", "alerts": [element()], "receiver": "x",
            "service": "checkout", "env": "prod", "reason": "r"});
        assert_eq!(format_of(body), Ok(AlertFormat::Waylog));
    }

    #[test]
    fn detect_other_source_is_native_before_grafana() {
        let body = json!({"source": "nagios", "ruleUID": "u", "service": "checkout",
            "env": "prod", "reason": "r"});
        let m = one(&body.to_string(), &AlertQuery::default());
        assert_eq!(m.format, AlertFormat::Waylog);
        assert_eq!(m.signal["source"], "nagios");
        assert_eq!(m.signal["metadata"]["raw_source"], "nagios");
        // Rule 2 trims; a padded `waylog` is not "other than waylog".
        let body = json!({"source": " waylog ", "ruleId": 3, "alerts": [element()]});
        assert_eq!(format_of(body), Ok(AlertFormat::Grafana));
    }

    #[test]
    fn detect_rule_uid_wins_over_alertmanager() {
        for key in ["ruleId", "ruleUID", "evalMatches", "orgId", "orgID"] {
            let mut body = json!({"receiver": "r", "commonLabels": {}, "alerts": [element()]});
            body[key] = json!(null);
            assert_eq!(format_of(body), Ok(AlertFormat::Grafana), "{key}");
        }
        for key in ["dashboardURL", "panelURL", "ruleURL"] {
            let mut a = element();
            a[key] = json!("");
            let body = json!({"receiver": "r", "alerts": [a]});
            assert_eq!(format_of(body), Ok(AlertFormat::Grafana), "{key}");
        }
        let mut a = element();
        a["labels"]["grafana_folder"] = json!("");
        assert_eq!(
            format_of(json!({"receiver": "r", "alerts": [a]})),
            Ok(AlertFormat::Grafana)
        );
        // Annotations count only when non-empty.
        for key in ["__dashboardUid__", "__panelId__"] {
            let mut a = element();
            a["annotations"][key] = json!("  ");
            let body = json!({"receiver": "r", "alerts": [a.clone()]});
            assert_eq!(format_of(body), Ok(AlertFormat::Alertmanager), "{key}");
            a["annotations"][key] = json!("abc");
            let body = json!({"receiver": "r", "alerts": [a]});
            assert_eq!(format_of(body), Ok(AlertFormat::Grafana), "{key}");
        }
        // Only alerts[0] is inspected.
        let mut second = element();
        second["dashboardURL"] = json!("x");
        let body = json!({"receiver": "r", "alerts": [element(), second]});
        assert_eq!(format_of(body), Ok(AlertFormat::Alertmanager));
    }

    #[test]
    fn detect_source_or_alert_id_key_is_native_waylog() {
        for body in [
            json!({"source": null, "service": "s", "env": "e", "reason": "r"}),
            json!({"source": "", "service": "s", "env": "e", "reason": "r"}),
            json!({"source": 7, "service": "s", "env": "e", "reason": "r"}),
            json!({"alert_id": "a", "service": "s", "env": "e", "reason": "r",
                "alerts": [element()], "receiver": "x", "event": {}}),
        ] {
            let m = one(&body.to_string(), &AlertQuery::default());
            assert_eq!(m.format, AlertFormat::Waylog);
            assert_eq!(m.signal["source"], "waylog", "{body}");
        }
    }

    #[test]
    fn detect_alertmanager_needs_receiver_or_common_labels() {
        let with = |k: &str| {
            let mut b = json!({"alerts": [element()]});
            b[k] = json!({});
            b
        };
        assert_eq!(format_of(with("receiver")), Ok(AlertFormat::Alertmanager));
        assert_eq!(
            format_of(with("commonLabels")),
            Ok(AlertFormat::Alertmanager)
        );
        assert_eq!(
            format_of(json!({"alerts": [element()]})),
            Err("UNSUPPORTED_ALERT".into())
        );
        // Alertmanager wins over PagerDuty.
        let mut b = with("receiver");
        b["event"] = json!({});
        assert_eq!(format_of(b), Ok(AlertFormat::Alertmanager));
    }

    #[test]
    fn detect_messages_or_event_is_pagerduty() {
        let q = query("service=s&env=e");
        for body in [
            r#"{"messages": [{"event": {"event_type": "incident.triggered"}}]}"#,
            r#"{"event": {"event_type": "incident.triggered"}}"#,
        ] {
            let m = one(body, &q);
            assert_eq!(m.format, AlertFormat::PagerDuty);
            assert_eq!(m.signal["reason"], "incident.triggered");
        }
        // PagerDuty with nothing usable has no reason: rejected, not unsupported.
        for body in [r#"{"messages": []}"#, r#"{"event": null}"#] {
            assert_eq!(map(body, &q), vec![Err(AlertRejection::missing_fields(0))]);
        }
    }

    #[test]
    fn reason_from_event_type_when_pagerduty_data_has_none() {
        let m = one(
            r#"{"event": {"id": "E1", "event_type": "incident.acknowledged", "data": {"service": "checkout"}}}"#,
            &query("env=prod"),
        );
        assert_eq!(m.signal["reason"], "incident.acknowledged");
        assert_eq!(m.signal["service"], "checkout");
        assert_eq!(m.alert_id.as_deref(), Some("E1"));
        assert_eq!(m.signal["severity"], "warning");
    }

    #[test]
    fn unsupported_alert_is_a_request_error() {
        for body in [r#"{}"#, r#"{"alerts": []}"#, r#"{"receiver": "x"}"#] {
            assert_eq!(
                map_err(body),
                (
                    400,
                    "UNSUPPORTED_ALERT".into(),
                    "unsupported alert".into(),
                    "expected waylog, alertmanager, grafana, or pagerduty payload".into()
                )
            );
        }
    }

    #[test]
    fn non_object_body_is_invalid_json() {
        for body in ["[]", "[{\"source\": \"x\"}]", "\"alert\"", "3", "null"] {
            let (status, code, message, _) = map_err(body);
            assert_eq!(
                (status, code.as_str(), message.as_str()),
                (400, "INVALID_JSON", "invalid json")
            );
        }
        let e = parse_alert_body(b"{\"a\":").unwrap_err();
        assert_eq!(
            (e.error.code, e.error.message.as_str()),
            ("INVALID_JSON", "invalid json")
        );
        assert!(e.error.detail.contains("EOF"), "{}", e.error.detail);
        assert_eq!(parse_alert_body(b"{\"a\":1}").unwrap(), json!({"a": 1}));
    }

    #[test]
    fn empty_alerts_array_is_missing_fields() {
        let expected = (
            400,
            "MISSING_FIELDS".to_string(),
            "missing required fields".to_string(),
            "alerts[] is empty".to_string(),
        );
        assert_eq!(map_err(r#"{"receiver": "r", "alerts": []}"#), expected);
        assert_eq!(map_err(r#"{"commonLabels": {}, "alerts": {}}"#), expected);
        // `alerts[0]` means an array element: an object keyed "0" is no Grafana hint.
        assert_eq!(
            map_err(r#"{"receiver": "r", "alerts": {"0": {"dashboardURL": "x"}}}"#),
            expected
        );
        assert_eq!(map_err(r#"{"orgId": 1, "alerts": []}"#), expected);
    }

    #[test]
    fn element_missing_service_is_rejected_at_its_position() {
        let mut bad = element();
        bad["labels"]["service"] = json!("   ");
        let body = json!({"receiver": "r", "alerts": [element(), bad, element(), "not an object"]});
        let all = map(&body.to_string(), &AlertQuery::default());
        assert_eq!(all.len(), 4);
        assert!(all[0].is_ok() && all[2].is_ok());
        assert_eq!(all[1], Err(AlertRejection::missing_fields(1)));
        assert_eq!(all[3], Err(AlertRejection::missing_fields(3)));
        // The query default rescues the element missing a service, not the non-object one
        // (which also lacks a reason).
        let all = map(&body.to_string(), &query("service=payment"));
        assert_eq!(all[1].as_ref().unwrap().signal["service"], "payment");
        assert_eq!(all[0].as_ref().unwrap().signal["service"], "checkout");
        assert_eq!(all[3], Err(AlertRejection::missing_fields(3)));
    }

    #[test]
    fn missing_reason_or_env_is_rejected() {
        let q = AlertQuery::default();
        for body in [
            json!({"source": "x", "service": "s", "env": "e"}),
            json!({"source": "x", "service": "s", "reason": "r"}),
            json!({"source": "x", "env": "e", "reason": "r"}),
            json!({"source": "x", "service": {"name": "s"}, "env": "e", "reason": "r"}),
        ] {
            assert_eq!(
                map(&body.to_string(), &q),
                vec![Err(AlertRejection::missing_fields(0))],
                "{body}"
            );
        }
    }

    #[test]
    fn query_defaults_fill_only_missing_values() {
        let q = query("service=fallback&env=staging");
        let m = one(EX_NATIVE, &q);
        assert_eq!(
            (&m.signal["service"], &m.signal["env"]),
            (&json!("checkout"), &json!("prod"))
        );
        let m = one(r#"{"source": "x", "reason": "r", "env": " "}"#, &q);
        assert_eq!(
            (&m.signal["service"], &m.signal["env"]),
            (&json!("fallback"), &json!("staging"))
        );
        // Every alert of the payload gets them.
        let all = map(GRAFANA_LEGACY, &query("env=qa"));
        assert!(
            all.iter()
                .all(|m| m.as_ref().unwrap().signal["env"] == "prod")
        );
        let legacy = parse(GRAFANA_LEGACY.replace("\"prod\"", "\"\"").as_str());
        let all = map_alerts(&legacy, &query("env=qa"), now()).unwrap();
        assert_eq!(all.len(), 2);
        assert!(
            all.iter()
                .all(|m| m.as_ref().unwrap().signal["env"] == "qa")
        );
    }

    #[test]
    fn query_parses_service_and_env_only() {
        assert_eq!(parse_alert_query(None).unwrap(), AlertQuery::default());
        assert_eq!(parse_alert_query(Some("")).unwrap(), AlertQuery::default());
        assert_eq!(
            query("service=check%20out&env=+prod+"),
            AlertQuery {
                service: Some("check out".into()),
                env: Some("prod".into())
            }
        );
        assert_eq!(query("env=&service="), AlertQuery::default());
        assert_eq!(query("env=&env=a&env=b").env.as_deref(), Some("a"));
        for (raw, name) in [
            ("env=prod&limit=5", "limit"),
            ("foo", "foo"),
            ("Service=x", "Service"),
        ] {
            let e = parse_alert_query(Some(raw)).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.error.code, e.error.message.as_str()),
                (400, "INVALID_JSON", "invalid json")
            );
            assert_eq!(e.error.detail, format!("unknown query parameter: {name}"));
        }
        let e = parse_alert_query(Some("env=%zz")).unwrap_err();
        assert_eq!(
            (e.error.code, e.error.detail.as_str()),
            ("INVALID_JSON", "invalid query string")
        );
    }

    #[test]
    fn severity_table() {
        for (raw, want) in [
            (Some("critical"), "critical"),
            (Some("CRITICAL"), "critical"),
            (Some("error"), "critical"),
            (Some("High"), "critical"),
            (Some("triggered"), "critical"),
            (Some("info"), "info"),
            (Some("resolved"), "info"),
            (Some(" OK "), "info"),
            (Some(""), "warning"),
            (Some("warning"), "warning"),
            (Some("warn"), "warning"),
            (Some("alerting"), "warning"),
            (Some("low"), "warning"),
            (Some("page"), "warning"),
            (None, "warning"),
        ] {
            assert_eq!(map_severity(raw), want, "{raw:?}");
        }
        // Through the mapping: native severity goes through the table too.
        let m = one(
            r#"{"source": "x", "service": "s", "env": "e", "reason": "r", "severity": "Error"}"#,
            &AlertQuery::default(),
        );
        assert_eq!(m.signal["severity"], "critical");
        // Grafana falls back to root state.
        let m = one(
            r#"{"ruleId": 1, "ruleName": "r", "state": "ok", "tags": {"service": "s", "env": "e"}}"#,
            &AlertQuery::default(),
        );
        assert_eq!(m.signal["severity"], "info");
        // PagerDuty: urgency, then data.severity.
        let m = one(
            r#"{"event": {"data": {"service": "s", "env": "e", "title": "t", "severity": "error"}}}"#,
            &AlertQuery::default(),
        );
        assert_eq!(m.signal["severity"], "critical");
    }

    #[test]
    fn resolved_status_or_event_maps_to_info() {
        let mut a = element();
        a["labels"]["severity"] = json!("critical");
        a["status"] = json!("resolved");
        for body in [
            json!({"receiver": "r", "alerts": [a.clone()]}),
            json!({"orgId": 1, "alerts": [a.clone()]}),
        ] {
            let m = one(&body.to_string(), &AlertQuery::default());
            assert_eq!(m.signal["severity"], "info");
            assert_eq!(m.alert_status.as_deref(), Some("resolved"));
        }
        a["status"] = json!("firing");
        let m = one(
            &json!({"receiver": "r", "alerts": [a]}).to_string(),
            &AlertQuery::default(),
        );
        assert_eq!(m.signal["severity"], "critical");
        let resolved = PAGERDUTY_V3.replace("incident.triggered", "incident.resolved");
        let m = one(&resolved, &query("env=prod"));
        assert_eq!(m.signal["severity"], "info");
        assert_eq!(m.alert_status.as_deref(), Some("incident.resolved"));
    }

    #[test]
    fn unusable_timestamp_becomes_now() {
        let now_text = format_rfc3339_ns(now());
        for ts in [
            json!("0001-01-01T00:00:00Z"),
            json!("0001-01-01T00:00:00.000+00:00"),
            json!("2026-05-12 14:00:00"),
            json!("yesterday"),
            json!(""),
            json!(1778594730),
            json!(null),
        ] {
            let mut a = element();
            a["startsAt"] = ts.clone();
            let m = one(
                &json!({"receiver": "r", "alerts": [a]}).to_string(),
                &AlertQuery::default(),
            );
            assert_eq!(m.signal["timestamp"], json!(now_text), "{ts}");
            let body =
                json!({"source": "x", "service": "s", "env": "e", "reason": "r", "timestamp": ts});
            assert_eq!(
                one(&body.to_string(), &AlertQuery::default()).signal["timestamp"],
                json!(now_text)
            );
        }
        // Offsets are normalised to UTC.
        let body = json!({"source": "x", "service": "s", "env": "e", "reason": "r",
            "timestamp": "2026-05-12T16:00:00.100+02:00"});
        assert_eq!(
            one(&body.to_string(), &AlertQuery::default()).signal["timestamp"],
            "2026-05-12T14:00:00.1Z"
        );
    }

    #[test]
    fn empty_metadata_values_are_not_stored() {
        let mut a = element();
        a["fingerprint"] = json!(" ");
        a["labels"]["error_code"] = json!("");
        a["labels"]["alertname"] = json!("Name");
        a["status"] = json!("");
        let m = one(
            &json!({"receiver": "r", "alerts": [a]}).to_string(),
            &AlertQuery::default(),
        );
        assert_eq!(
            m.signal["metadata"],
            json!({"alert_id": "Name", "raw_source": "alertmanager"})
        );
        assert_eq!((m.alert_status, m.fingerprint), (None, None));
        assert!(m.signal.get("message").is_none());
    }

    #[test]
    fn alertmanager_fallback_chains() {
        let body = json!({"receiver": "r", "alerts": [{
            "labels": {"service": "s", "env": "e", "alertname": "Name", "fingerprint": "lfp", "step": "st"},
            "annotations": {"description": "d", "runbook_url": "https://rb"}
        }]});
        let m = one(&body.to_string(), &AlertQuery::default());
        assert_eq!(m.signal["reason"], "d");
        assert_eq!(m.signal["message"], "d");
        assert_eq!(
            m.signal["metadata"],
            json!({"alert_id": "lfp", "provider_url": "https://rb", "step": "st", "raw_source": "alertmanager"})
        );
        let body = json!({"receiver": "r", "alerts": [{"labels": {"service": "s", "env": "e", "alertname": "Name"},
            "annotations": {"generatorURL": "https://g"}, "runbook_url": "https://a"}]});
        let m = one(&body.to_string(), &AlertQuery::default());
        assert_eq!(m.signal["reason"], "Name");
        assert_eq!(m.alert_id.as_deref(), Some("Name"));
        assert_eq!(m.signal["metadata"]["provider_url"], "https://g");
    }

    #[test]
    fn grafana_root_only_payload_maps_from_root() {
        let body = json!({"ruleUID": "uid1", "ruleId": 9, "title": "T", "ruleName": "N",
            "service": "root-svc", "env": "prod", "state": "alerting", "message": "m",
            "ruleUrl": "https://g/r", "error_code": "E1", "tags": {"service": "tag-svc", "step": "st"}});
        let m = one(&body.to_string(), &AlertQuery::default());
        check(
            &m,
            AlertFormat::Grafana,
            json!({
                "type": "alert", "source": "grafana", "service": "tag-svc", "env": "prod",
                "severity": "warning", "reason": "T", "message": "m",
                "timestamp": "2026-05-12T15:00:00Z",
                "metadata": {"alert_id": "uid1", "provider_url": "https://g/r", "error_code": "E1",
                    "step": "st", "raw_source": "grafana"}
            }),
            (Some("uid1"), None, None),
        );
    }

    #[test]
    fn grafana_legacy_match_tags_overlay_root_tags() {
        let body = json!({"evalMatches": [
                {"tags": {"service": "a", "severity": "info"}},
                {"tags": {"service": "", "env": "dev"}},
                {"metric": "no tags"}
            ],
            "title": "[Alerting] T", "tags": {"service": "root", "env": "prod", "severity": "critical"}});
        let all = map(&body.to_string(), &AlertQuery::default());
        let got: Vec<_> = all
            .iter()
            .map(|m| {
                let s = &m.as_ref().unwrap().signal;
                (
                    s["service"].clone(),
                    s["env"].clone(),
                    s["severity"].clone(),
                    s["reason"].clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    json!("a"),
                    json!("prod"),
                    json!("info"),
                    json!("[Alerting] T")
                ),
                (
                    json!("root"),
                    json!("dev"),
                    json!("critical"),
                    json!("[Alerting] T")
                ),
                (
                    json!("root"),
                    json!("prod"),
                    json!("critical"),
                    json!("[Alerting] T")
                ),
            ]
        );
        // No matches: one signal from the root, legacy reason chain (no alertname fallback).
        for matches in [json!([]), json!(null)] {
            let body = json!({"evalMatches": matches, "ruleName": "R", "title": "T",
                "tags": {"service": "s", "env": "e", "alertname": "A"}});
            let m = one(&body.to_string(), &AlertQuery::default());
            assert_eq!(m.signal["reason"], "R");
            let body =
                json!({"evalMatches": [], "tags": {"service": "s", "env": "e", "alertname": "A"}});
            assert_eq!(
                map(&body.to_string(), &AlertQuery::default()),
                vec![Err(AlertRejection::missing_fields(0))]
            );
        }
    }

    #[test]
    fn grafana_unified_reason_and_url_chains() {
        let body = json!({"orgId": 1, "title": "Root title", "ruleUrl": "https://root",
        "alerts": [
            {"labels": {"service": "s", "env": "e", "alertname": "A"}, "generatorURL": "https://gen", "ruleURL": "https://rule"},
            {"labels": {"service": "s", "env": "e", "alertname": "A"}},
        ]});
        let all = map(&body.to_string(), &AlertQuery::default());
        let a0 = all[0].as_ref().unwrap();
        assert_eq!(a0.signal["reason"], "Root title");
        assert_eq!(a0.signal["metadata"]["provider_url"], "https://gen");
        assert_eq!(a0.alert_id.as_deref(), Some("A"));
        let a1 = all[1].as_ref().unwrap();
        assert_eq!(a1.signal["metadata"]["provider_url"], "https://root");
        let body = json!({"orgId": 1, "alerts": [{"labels": {"service": "s", "env": "e", "alertname": "A"}}]});
        assert_eq!(
            one(&body.to_string(), &AlertQuery::default()).signal["reason"],
            "A"
        );
    }

    #[test]
    fn pagerduty_v2_messages_and_incident_fallbacks() {
        let v2 = json!({"messages": [{"event": "incident.trigger", "incident": {
            "id": "PINC1", "service": {"summary": "payment"}, "urgency": "low",
            "summary": "gateway down", "description": "details", "html_url": "https://pd/PINC1",
            "incident_id": "inc_0123456789abcdef", "error_code": "PMT_502", "env": "prod",
            "created_at": "2026-05-12T14:00:00Z"}}]});
        let m = one(&v2.to_string(), &AlertQuery::default());
        check(
            &m,
            AlertFormat::PagerDuty,
            json!({
                "type": "alert", "source": "pagerduty", "service": "payment", "env": "prod",
                "severity": "warning", "reason": "gateway down", "message": "details",
                "timestamp": "2026-05-12T14:00:00Z",
                "metadata": {"alert_id": "PINC1", "provider_url": "https://pd/PINC1",
                    "error_code": "PMT_502", "incident_id": "inc_0123456789abcdef",
                    "raw_source": "pagerduty"}
            }),
            (Some("PINC1"), None, None),
        );
        // messages[0].event.data wins over root event.data; messages[0].event over root event.
        let body = json!({
            "messages": [{"event": {"id": "M", "event_type": "incident.resolved",
                "data": {"service": "from-messages", "env": "e", "title": "t"}}}],
            "event": {"id": "R", "data": {"service": "from-root", "env": "e", "title": "t"}}});
        let m = one(&body.to_string(), &AlertQuery::default());
        assert_eq!(m.signal["service"], "from-messages");
        assert_eq!(m.alert_status.as_deref(), Some("incident.resolved"));
        assert_eq!(m.signal["severity"], "info");
        // Root incident as the last data fallback.
        let body =
            json!({"event": {"id": "E"}, "incident": {"service": "s", "env": "e", "title": "t"}});
        let m = one(&body.to_string(), &AlertQuery::default());
        assert_eq!(
            (m.signal["service"].clone(), m.alert_id),
            (json!("s"), Some("E".into()))
        );
    }

    #[test]
    fn native_merges_client_metadata_and_passes_extras() {
        let body = json!({
            "source": "waylog", "service": "checkout", "env": "prod", "reason": "r",
            "type": "deploy", "signal_id": "sig_x", "received_at": "2026-01-01T00:00:00Z",
            "error_code": "PMT_502", "incident_id": "inc_1", "fingerprint": "fp",
            "resource": {"endpoint": "POST /checkout"}, "team": "payments",
            "metadata": {"error_code": "OVERRIDDEN", "step": " payment.charge ", "downstream": "payment",
                "subtype": "", "raw_source": "spoofed", "count": 3, "gone": null}
        });
        let m = one(&body.to_string(), &AlertQuery::default());
        check(
            &m,
            AlertFormat::Waylog,
            json!({
                "type": "alert", "source": "waylog", "service": "checkout", "env": "prod",
                "severity": "warning", "reason": "r", "timestamp": "2026-05-12T15:00:00Z",
                "resource": {"endpoint": "POST /checkout"}, "team": "payments",
                "metadata": {"error_code": "PMT_502", "step": "payment.charge", "downstream": "payment",
                    "incident_id": "inc_1", "fingerprint": "fp", "count": 3, "raw_source": "waylog"}
            }),
            (None, None, Some("fp")),
        );
        let v = validate_signal(&serde_json::to_vec(&m.signal).unwrap(), now()).unwrap();
        assert_eq!(v.extra.keys().collect::<Vec<_>>(), ["team"]);
        assert!(v.resource.is_some());
        // A non-object metadata is ignored.
        let body =
            json!({"source": "x", "service": "s", "env": "e", "reason": "r", "metadata": "nope"});
        let m = one(&body.to_string(), &AlertQuery::default());
        assert_eq!(m.signal["metadata"], json!({"raw_source": "x"}));
    }

    #[test]
    fn mapped_strings_are_trimmed() {
        let body = json!({"source": "  nagios ", "service": " s ", "env": "\te", "reason": " r ",
            "message": "  ", "alert_id": " a "});
        let m = one(&body.to_string(), &AlertQuery::default());
        assert_eq!(
            (
                &m.signal["source"],
                &m.signal["service"],
                &m.signal["env"],
                &m.signal["reason"]
            ),
            (&json!("nagios"), &json!("s"), &json!("e"), &json!("r"))
        );
        assert!(m.signal.get("message").is_none());
        assert_eq!(m.alert_id.as_deref(), Some("a"));
    }

    #[test]
    fn rejection_helpers_build_the_spec_error() {
        let signal_err = validate_signal(br#"{"type":"alert"}"#, now()).unwrap_err();
        let r = AlertRejection::invalid_alert(2, &signal_err);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"position": 2, "code": "MISSING_FIELDS", "message": "invalid alert",
                "detail": "source: source is required"})
        );
        assert_eq!(
            serde_json::to_value(AlertRejection::missing_fields(1)).unwrap(),
            json!({"position": 1, "code": "MISSING_FIELDS", "message": "missing required fields",
                "detail": "service, env, and reason are required"})
        );
        assert_eq!(AlertFormat::PagerDuty.as_str(), "pagerduty");
        assert_eq!(
            [
                AlertFormat::Waylog,
                AlertFormat::Alertmanager,
                AlertFormat::Grafana
            ]
            .map(AlertFormat::as_str),
            ["waylog", "alertmanager", "grafana"]
        );
    }
}
