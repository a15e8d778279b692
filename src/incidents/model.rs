//! The incident as stored and served (spec triage §2.1, §2.9, §2.10, §7.4): field order of the
//! structs is the JSON key order, empty optional members are omitted, arrays are never null.
//!
//! Times are unix ns (`i64`) in memory and JSON time (§0) on the wire; floats are written in
//! the shortest form with integral values as integers (`12`, `1.2`, `0.9667`), like the Go
//! original and RFC 8785. Every struct also deserializes, so the storage wiring can read the
//! `<name>_json` columns back.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

pub use crate::model::family::ErrorFamily;
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

/// One value of `Evidence.fields`: a string or a number, written bare (untagged); a `Num` that
/// is integral is written as an integer (`number_serde`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    Str(String),
    Int(i64),
    #[serde(serialize_with = "number_serde::serialize")]
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
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct Fields(#[serde(serialize_with = "pairs_as_map")] pub Vec<(String, FieldValue)>);

/// serde adapter: key/value pairs written as a JSON object in their order.
fn pairs_as_map<S: Serializer>(pairs: &[(String, FieldValue)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

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
mod tests;
