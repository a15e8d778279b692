//! The incident as stored and served (spec triage §2.1, §2.9, §2.10, §7.4): field order of the
//! structs is the JSON key order, empty optional members are omitted, arrays are never null.
//!
//! Times are unix ns (`i64`) in memory and JSON time (§0) on the wire; floats are written in
//! the shortest form with integral values as integers (`12`, `1.2`, `0.9667`), like the Go
//! original and RFC 8785. Every struct also deserializes, so the storage wiring can read the
//! `<name>_json` columns back.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

pub use crate::reads::family::ErrorFamily;
use crate::rfc3339::{format_rfc3339_ns, parse_rfc3339_ns};

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// JSON time (§0): RFC 3339 UTC, `Z`, fraction trimmed of trailing zeros.
pub fn json_time(ns: i64) -> String {
    format_rfc3339_ns(ns)
}

/// Text time (§0): RFC 3339 UTC truncated to seconds.
pub fn text_time(ns: i64) -> String {
    format_rfc3339_ns(ns.div_euclid(NANOS_PER_SEC) * NANOS_PER_SEC)
}

/// `short(id)` (§0): the first 12 bytes plus `…` when longer. A cut inside a UTF-8 sequence
/// moves back to the previous character boundary so the result stays valid text.
pub fn short(id: &str) -> String {
    if id.len() <= 12 {
        return id.to_owned();
    }
    let mut end = 12;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &id[..end])
}

/// serde adapter: `i64` unix ns ↔ JSON time.
pub mod time_serde {
    use super::*;

    pub fn serialize<S: Serializer>(ns: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&json_time(*ns))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        parse_rfc3339_ns(&text).ok_or_else(|| de::Error::custom(format!("invalid time {text:?}")))
    }

    /// `Option<i64>`: `None` is omitted by the field's `skip_serializing_if`.
    pub mod opt {
        use super::*;

        pub fn serialize<S: Serializer>(ns: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match ns {
                Some(ns) => s.serialize_str(&json_time(*ns)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(text) => parse_rfc3339_ns(&text)
                    .map(Some)
                    .ok_or_else(|| de::Error::custom(format!("invalid time {text:?}"))),
            }
        }
    }
}

/// serde adapter: `f64` written as an integer when integral (`12` not `12.0`).
pub mod number_serde {
    use super::*;

    /// Largest magnitude below which every integer is exact in an f64.
    const EXACT: f64 = 9_007_199_254_740_992.0;

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_finite() && x.fract() == 0.0 && x.abs() < EXACT {
            // Exact: integral and within the f64 integer range.
            s.serialize_i64(*x as i64)
        } else {
            s.serialize_f64(*x)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        f64::deserialize(d)
    }
}

/// `affected_users`: 0 is written as `null`, `null` reads as 0.
mod users_serde {
    use super::*;

    pub fn serialize<S: Serializer>(n: &i64, s: S) -> Result<S::Ok, S::Error> {
        if *n == 0 {
            s.serialize_none()
        } else {
            s.serialize_i64(*n)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.unwrap_or(0))
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Lifecycle state (§2.7).
    Status { Active => "active", Recovering => "recovering", Resolved => "resolved" }
);
string_enum!(
    /// Classified cause (§3.3).
    Cause {
        Deploy => "deploy",
        Dependency => "dependency",
        Runtime => "runtime",
        App => "app",
        Unknown => "unknown",
    }
);
string_enum!(
    Confidence { High => "high", Medium => "medium", Low => "low" }
);
string_enum!(
    /// Evidence row kind (§2.1); `as_str` is the byte-order sort key of §3.6.
    EvidenceKind {
        Trace => "trace",
        Signal => "signal",
        Deployment => "deployment",
        Runtime => "runtime",
        Traffic => "traffic",
        Latency => "latency",
    }
);
string_enum!(
    /// `capture_status` of a snapshot (§2.9).
    CaptureStatus { Ok => "ok", Partial => "partial", Missing => "missing" }
);
string_enum!(
    /// How an alert matched an incident (§7.4); `none` is the intake's "no match".
    MatchStrategy {
        IncidentId => "incident_id",
        TraceId => "trace_id",
        Family => "family",
        None => "none",
    }
);

/// One value of `Evidence.fields`: a string or a number.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Str(String),
    Int(i64),
    Num(f64),
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::Str(s.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        FieldValue::Str(s)
    }
}

impl From<i64> for FieldValue {
    fn from(n: i64) -> Self {
        FieldValue::Int(n)
    }
}

impl From<f64> for FieldValue {
    fn from(x: f64) -> Self {
        FieldValue::Num(x)
    }
}

impl Serialize for FieldValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldValue::Str(v) => s.serialize_str(v),
            FieldValue::Int(v) => s.serialize_i64(*v),
            FieldValue::Num(v) => number_serde::serialize(v, s),
        }
    }
}

impl<'de> Deserialize<'de> for FieldValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FieldValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldValue, E> {
                Ok(FieldValue::Str(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FieldValue, E> {
                Ok(FieldValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FieldValue, E> {
                Ok(i64::try_from(v).map_or(FieldValue::Num(v as f64), FieldValue::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<FieldValue, E> {
                Ok(FieldValue::Num(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// `Evidence.fields`: an object whose key order is insertion order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fields(pub Vec<(String, FieldValue)>);

impl Fields {
    pub fn new() -> Self {
        Fields(Vec::new())
    }

    /// Append `key` (builder style).
    pub fn with(mut self, key: &str, value: impl Into<FieldValue>) -> Self {
        self.0.push((key.to_owned(), value.into()));
        self
    }

    /// Append `key` only when `value` is non-empty.
    pub fn with_nonempty(self, key: &str, value: &str) -> Self {
        if value.is_empty() {
            self
        } else {
            self.with(key, value)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&FieldValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings and numbers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, FieldValue>()? {
                    out.push((k, v));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A JSON value kept as its stored compact text (key order and number text preserved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(pub String);

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match RawValue::from_string(self.0.clone()) {
            Ok(raw) => raw.serialize(s),
            // Stored text is valid JSON; a corrupt value degrades to null rather than failing
            // the whole incident.
            Err(_) => s.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Ok(RawJson(raw.get().to_owned()))
    }
}

/// One evidence row (§2.1): empty members are omitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signal_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deployment_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trace_id: String,
    #[serde(with = "time_serde")]
    pub occurred_at: i64,
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub fields: Fields,
}

impl Evidence {
    /// A row with only `kind`, `title` and `occurred_at` set.
    pub fn new(kind: EvidenceKind, title: impl Into<String>, occurred_at: i64) -> Self {
        Evidence {
            kind,
            title: title.into(),
            detail: String::new(),
            service: String::new(),
            signal_id: String::new(),
            deployment_id: String::new(),
            trace_id: String::new(),
            occurred_at,
            fields: Fields::new(),
        }
    }
}

/// A snapshot pair (§2.9): `latest` is the newest capture, `opening` the first `ok` one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Snapshot<T> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<T>,
}

/// A capture that carries a `capture_status`.
pub trait Captured {
    fn capture_status(&self) -> CaptureStatus;
}

impl<T: Captured + Clone> Snapshot<T> {
    /// Record this build's capture: `latest` always, `opening` once, on the first `ok`.
    pub fn record(previous: Option<Snapshot<T>>, capture: T) -> Snapshot<T> {
        let opening = previous
            .and_then(|p| p.opening)
            .or_else(|| (capture.capture_status() == CaptureStatus::Ok).then(|| capture.clone()));
        Snapshot {
            opening,
            latest: Some(capture),
        }
    }
}

/// Blast capture (§2.9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlastCapture {
    pub affected_requests: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub affected_users: i64,
    pub affected_services: i64,
    #[serde(default)]
    pub top_services: Vec<String>,
    #[serde(default)]
    pub sampled_traces: Vec<String>,
    #[serde(with = "time_serde")]
    pub captured_at: i64,
    pub capture_status: CaptureStatus,
}

impl Captured for BlastCapture {
    fn capture_status(&self) -> CaptureStatus {
        self.capture_status
    }
}

/// One propagation path entry: a step of the sampled trace's story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathEntry {
    pub service: String,
    pub step: String,
    pub start_ms: i64,
    pub duration_ms: i64,
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error_code: String,
}

/// Propagation capture (§2.9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropagationCapture {
    pub origin_service: String,
    pub origin_step: String,
    #[serde(default)]
    pub path: Vec<PathEntry>,
    pub sample_trace_id: String,
    #[serde(
        default,
        with = "time_serde::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub first_seen_at: Option<i64>,
    #[serde(with = "time_serde")]
    pub captured_at: i64,
    pub capture_status: CaptureStatus,
}

impl Captured for PropagationCapture {
    fn capture_status(&self) -> CaptureStatus {
        self.capture_status
    }
}

/// An alert attached to an incident (§7.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchedAlert {
    pub signal_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alert_id: String,
    pub source: String,
    pub severity: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub provider_url: String,
    #[serde(default)]
    pub evidence_ids: Vec<String>,
    #[serde(with = "time_serde")]
    pub matched_at: i64,
    pub strategy: MatchStrategy,
}

/// Alerts capture (§2.9): `ok` iff at least one alert matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsCapture {
    #[serde(default)]
    pub matches: Vec<MatchedAlert>,
    #[serde(with = "time_serde")]
    pub captured_at: i64,
    pub capture_status: CaptureStatus,
}

impl Captured for AlertsCapture {
    fn capture_status(&self) -> CaptureStatus {
        self.capture_status
    }
}

/// One runtime / healthcheck signal of R (§2.9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeMatch {
    pub subtype: String,
    pub service: String,
    pub reason: String,
    pub severity: String,
    pub source: String,
    pub signal_id: String,
    #[serde(with = "time_serde")]
    pub occurred_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<RawJson>,
    #[serde(with = "time_serde")]
    pub captured_at: i64,
    pub capture_status: CaptureStatus,
}

/// Runtime snapshot (§2.9): this build's matches plus the earliest / latest match ever seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeSnapshot {
    #[serde(default)]
    pub matches: Vec<RuntimeMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening: Option<RuntimeMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<RuntimeMatch>,
}

impl RuntimeSnapshot {
    /// Record this build's R: `opening` / `latest` move only to a strictly earlier / later
    /// `occurred_at` (ties keep the stored one) and survive an empty R.
    pub fn record(previous: Option<RuntimeSnapshot>, matches: Vec<RuntimeMatch>) -> Self {
        let (mut opening, mut latest) = previous.map_or((None, None), |p| (p.opening, p.latest));
        for m in &matches {
            if opening
                .as_ref()
                .is_none_or(|o: &RuntimeMatch| m.occurred_at < o.occurred_at)
            {
                opening = Some(m.clone());
            }
            if latest
                .as_ref()
                .is_none_or(|l: &RuntimeMatch| m.occurred_at > l.occurred_at)
            {
                latest = Some(m.clone());
            }
        }
        RuntimeSnapshot {
            matches,
            opening,
            latest,
        }
    }
}

/// One ranked suspect dimension value (§2.10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuspectDimension {
    pub dimension: String,
    pub value: String,
    pub failing_count: i64,
    #[serde(with = "number_serde")]
    pub failing_share: f64,
    pub baseline_count: i64,
    #[serde(with = "number_serde")]
    pub baseline_share: f64,
    #[serde(with = "number_serde")]
    pub score: f64,
}

/// Suspect-dimensions capture (§2.10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DimensionsCapture {
    /// `baseline_windows` or `current_window` (the population B came from).
    pub baseline: String,
    pub failing_events: i64,
    pub baseline_events: i64,
    #[serde(default)]
    pub dimensions: Vec<SuspectDimension>,
    #[serde(with = "time_serde")]
    pub captured_at: i64,
    pub capture_status: CaptureStatus,
}

impl Captured for DimensionsCapture {
    fn capture_status(&self) -> CaptureStatus {
        self.capture_status
    }
}

/// One incident version (§2.1); field order is the JSON key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub incident_id: String,
    pub env: String,
    pub service: String,
    pub error_family: ErrorFamily,
    pub status: Status,
    pub cause: Cause,
    pub confidence: Confidence,
    pub severity: i64,
    #[serde(with = "time_serde")]
    pub started_at: i64,
    #[serde(with = "time_serde")]
    pub updated_at: i64,
    #[serde(with = "time_serde")]
    pub last_seen_at: i64,
    #[serde(
        default,
        with = "time_serde::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub recovering_at: Option<i64>,
    #[serde(
        default,
        with = "time_serde::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub resolved_at: Option<i64>,
    pub affected_requests: i64,
    pub affected_services: i64,
    #[serde(default, with = "users_serde")]
    pub affected_users: i64,
    #[serde(default)]
    pub top_services: Vec<String>,
    #[serde(default)]
    pub sample_traces: Vec<String>,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    #[serde(default)]
    pub next_checks: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instrumentation_warnings: Vec<String>,
    #[serde(with = "number_serde")]
    pub lift: f64,
    pub baseline_count: i64,
    pub current_count: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub suspect_deploy_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<Snapshot<PropagationCapture>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast: Option<Snapshot<BlastCapture>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Snapshot<AlertsCapture>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeSnapshot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspect_dimensions: Option<Snapshot<DimensionsCapture>>,
}

impl Incident {
    /// A fresh `active` incident with empty evidence: the skeleton builds fill in.
    pub fn skeleton(
        incident_id: String,
        env: String,
        family: ErrorFamily,
        started_at: i64,
        now: i64,
    ) -> Self {
        Incident {
            incident_id,
            env,
            service: family.service.clone(),
            error_family: family,
            status: Status::Active,
            cause: Cause::Unknown,
            confidence: Confidence::Low,
            severity: 1,
            started_at,
            updated_at: now,
            last_seen_at: now,
            recovering_at: None,
            resolved_at: None,
            affected_requests: 0,
            affected_services: 0,
            affected_users: 0,
            top_services: Vec::new(),
            sample_traces: Vec::new(),
            evidence: Vec::new(),
            next_checks: Vec::new(),
            instrumentation_warnings: Vec::new(),
            lift: 0.0,
            baseline_count: 0,
            current_count: 0,
            suspect_deploy_id: String::new(),
            propagation: None,
            blast: None,
            alerts: None,
            runtime: None,
            suspect_dimensions: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_777_896_180_000_000_000; // 2026-05-04T12:03:00Z

    fn sample() -> Incident {
        Incident::skeleton(
            "inc_eee7eabe9bda8b24".into(),
            "prod".into(),
            ErrorFamily::new("checkout", "payment.charge", "PMT_502"),
            T0,
            T0 + 42_000_000,
        )
    }

    /// Top-level keys of a JSON object in document order.
    fn keys(text: &str) -> Vec<String> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, _)) = map.next_entry::<String, de::IgnoredAny>()? {
                    out.push(k);
                }
                Ok(out)
            }
        }
        let mut d = serde_json::Deserializer::from_str(text);
        d.deserialize_map(V).unwrap()
    }

    #[test]
    fn time_formats_trim_fraction_and_truncate_text() {
        assert_eq!(json_time(T0), "2026-05-04T12:03:00Z");
        assert_eq!(json_time(T0 + 42_000_000), "2026-05-04T12:03:00.042Z");
        assert_eq!(text_time(T0 + 999_999_999), "2026-05-04T12:03:00Z");
        assert_eq!(text_time(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn short_cuts_at_twelve_bytes_with_ellipsis() {
        assert_eq!(short("abc"), "abc");
        assert_eq!(short("123456789012"), "123456789012");
        assert_eq!(short("1234567890123"), "123456789012…");
        assert_eq!(short(""), "");
        // 11 ASCII bytes then a 2-byte char straddling byte 12.
        assert_eq!(short("12345678901éx"), "12345678901…");
    }

    #[test]
    fn incident_json_key_order_and_omissions() {
        let inc = sample();
        let text = serde_json::to_string(&inc).unwrap();
        assert!(text.starts_with(
            "{\"incident_id\":\"inc_eee7eabe9bda8b24\",\"env\":\"prod\",\"service\":\"checkout\",\
             \"error_family\":{\"service\":\"checkout\",\"step\":\"payment.charge\",\"error_code\":\"PMT_502\"},\
             \"status\":\"active\",\"cause\":\"unknown\",\"confidence\":\"low\",\"severity\":1,\
             \"started_at\":\"2026-05-04T12:03:00Z\",\"updated_at\":\"2026-05-04T12:03:00.042Z\""
        ), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            keys(&text),
            [
                "incident_id",
                "env",
                "service",
                "error_family",
                "status",
                "cause",
                "confidence",
                "severity",
                "started_at",
                "updated_at",
                "last_seen_at",
                "affected_requests",
                "affected_services",
                "affected_users",
                "top_services",
                "sample_traces",
                "evidence",
                "next_checks",
                "lift",
                "baseline_count",
                "current_count",
            ]
        );
        assert!(v["affected_users"].is_null());
        assert_eq!(v["top_services"], serde_json::json!([]));
        assert_eq!(v["lift"].to_string(), "0");
    }

    #[test]
    fn incident_json_includes_set_optionals_in_order() {
        let mut inc = sample();
        inc.recovering_at = Some(T0 + 60_000_000_000);
        inc.resolved_at = Some(T0 + 120_000_000_000);
        inc.affected_users = 8;
        inc.instrumentation_warnings = vec!["partial_trace".into()];
        inc.suspect_deploy_id = "dep-1".into();
        inc.lift = 1.2;
        inc.runtime = Some(RuntimeSnapshot::record(None, vec![]));
        inc.blast = Some(Snapshot::record(
            None,
            BlastCapture {
                affected_requests: 0,
                affected_users: 0,
                affected_services: 0,
                top_services: vec![],
                sampled_traces: vec![],
                captured_at: T0,
                capture_status: CaptureStatus::Missing,
            },
        ));
        let text = serde_json::to_string(&inc).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let k = keys(&text);
        let pos = |name: &str| k.iter().position(|x| x == name).unwrap();
        assert!(pos("last_seen_at") < pos("recovering_at"));
        assert!(pos("recovering_at") < pos("resolved_at"));
        assert!(pos("resolved_at") < pos("affected_requests"));
        assert!(pos("next_checks") < pos("instrumentation_warnings"));
        assert!(pos("instrumentation_warnings") < pos("lift"));
        assert!(pos("current_count") < pos("suspect_deploy_id"));
        assert!(pos("suspect_deploy_id") < pos("blast"));
        assert!(pos("blast") < pos("runtime"));
        assert_eq!(v["affected_users"], 8);
        assert_eq!(v["lift"].to_string(), "1.2");
        assert_eq!(
            serde_json::to_string(&inc.blast).unwrap(),
            "{\"latest\":{\"affected_requests\":0,\"affected_services\":0,\"top_services\":[],\
             \"sampled_traces\":[],\"captured_at\":\"2026-05-04T12:03:00Z\",\"capture_status\":\"missing\"}}"
        );
        assert!(text.contains("\"runtime\":{\"matches\":[]}"));
        let back: Incident = serde_json::from_str(&text).unwrap();
        assert_eq!(back, inc);
    }

    #[test]
    fn evidence_omits_empty_members_and_keeps_field_order() {
        let mut e = Evidence::new(EvidenceKind::Signal, "Dependency payment: x", T0);
        e.service = "payment".into();
        e.signal_id = "sig_1".into();
        e.fields = Fields::new()
            .with("type", "dependency")
            .with("severity", "critical")
            .with("current", 12i64)
            .with("ratio", 0.5);
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(
            text,
            "{\"kind\":\"signal\",\"title\":\"Dependency payment: x\",\"service\":\"payment\",\
             \"signal_id\":\"sig_1\",\"occurred_at\":\"2026-05-04T12:03:00Z\",\"fields\":\
             {\"type\":\"dependency\",\"severity\":\"critical\",\"current\":12,\"ratio\":0.5}}"
        );
        let back: Evidence = serde_json::from_str(&text).unwrap();
        assert_eq!(back, e);
        let bare = Evidence::new(EvidenceKind::Trace, "t", T0);
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            "{\"kind\":\"trace\",\"title\":\"t\",\"occurred_at\":\"2026-05-04T12:03:00Z\"}"
        );
    }

    #[test]
    fn matched_alert_json_shape() {
        let m = MatchedAlert {
            signal_id: "sig_a".into(),
            alert_id: String::new(),
            source: "grafana".into(),
            severity: "critical".into(),
            reason: "r".into(),
            provider_url: "https://x".into(),
            evidence_ids: vec!["sig_a".into()],
            matched_at: T0,
            strategy: MatchStrategy::Family,
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            "{\"signal_id\":\"sig_a\",\"source\":\"grafana\",\"severity\":\"critical\",\"reason\":\"r\",\
             \"provider_url\":\"https://x\",\"evidence_ids\":[\"sig_a\"],\
             \"matched_at\":\"2026-05-04T12:03:00Z\",\"strategy\":\"family\"}"
        );
    }

    fn blast(status: CaptureStatus, requests: i64) -> BlastCapture {
        BlastCapture {
            affected_requests: requests,
            affected_users: 0,
            affected_services: 1,
            top_services: vec![],
            sampled_traces: vec![],
            captured_at: T0,
            capture_status: status,
        }
    }

    #[test]
    fn snapshot_opening_is_first_ok_capture_and_never_changes() {
        let s = Snapshot::record(None, blast(CaptureStatus::Missing, 0));
        assert!(s.opening.is_none());
        let s = Snapshot::record(Some(s), blast(CaptureStatus::Ok, 3));
        assert_eq!(s.opening.as_ref().unwrap().affected_requests, 3);
        let s = Snapshot::record(Some(s), blast(CaptureStatus::Ok, 9));
        assert_eq!(s.opening.as_ref().unwrap().affected_requests, 3);
        assert_eq!(s.latest.as_ref().unwrap().affected_requests, 9);
    }

    fn rt(id: &str, at: i64) -> RuntimeMatch {
        RuntimeMatch {
            subtype: String::new(),
            service: "checkout".into(),
            reason: "panic".into(),
            severity: "critical".into(),
            source: "k8s".into(),
            signal_id: id.into(),
            occurred_at: at,
            metadata: Some(RawJson("{\"subtype\":\"panic\",\"b\":1}".into())),
            captured_at: T0,
            capture_status: CaptureStatus::Ok,
        }
    }

    #[test]
    fn runtime_snapshot_tracks_earliest_and_latest_ever_seen() {
        let s = RuntimeSnapshot::record(None, vec![]);
        assert!(s.opening.is_none() && s.latest.is_none());
        let s = RuntimeSnapshot::record(Some(s), vec![rt("b", 20), rt("a", 10)]);
        assert_eq!(s.opening.as_ref().unwrap().signal_id, "a");
        assert_eq!(s.latest.as_ref().unwrap().signal_id, "b");
        // Ties keep the stored one; an empty R keeps both.
        let s = RuntimeSnapshot::record(Some(s), vec![rt("c", 10), rt("d", 20)]);
        assert_eq!(s.opening.as_ref().unwrap().signal_id, "a");
        assert_eq!(s.latest.as_ref().unwrap().signal_id, "b");
        let s = RuntimeSnapshot::record(Some(s), vec![]);
        assert!(s.matches.is_empty());
        assert_eq!(s.latest.as_ref().unwrap().signal_id, "b");
        let text = serde_json::to_string(&s.latest).unwrap();
        assert!(
            text.contains("\"metadata\":{\"subtype\":\"panic\",\"b\":1}"),
            "{text}"
        );
        let back: RuntimeMatch = serde_json::from_str(&text).unwrap();
        assert_eq!(back, rt("b", 20));
    }

    #[test]
    fn numbers_are_shortest_form() {
        let d = SuspectDimension {
            dimension: "version".into(),
            value: "2.4.1".into(),
            failing_count: 12,
            failing_share: 1.0,
            baseline_count: 10,
            baseline_share: 0.0333,
            score: 0.9667,
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            "{\"dimension\":\"version\",\"value\":\"2.4.1\",\"failing_count\":12,\"failing_share\":1,\
             \"baseline_count\":10,\"baseline_share\":0.0333,\"score\":0.9667}"
        );
    }

    #[test]
    fn bad_stored_time_is_an_error_not_a_panic() {
        let r: Result<Evidence, _> =
            serde_json::from_str("{\"kind\":\"trace\",\"title\":\"t\",\"occurred_at\":\"nope\"}");
        assert!(r.is_err());
    }
}
