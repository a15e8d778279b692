//! Signals (spec triage §1): production-context facts — deploys, runtime and health
//! events, dependency trouble, config changes, external alerts — as one validated
//! [`Signal`]. Written by `/v1/signals` and `/v1/alerts` (`crate::ingest::signals`,
//! `crate::ingest::alert_intake`), stored as rows of `signals`, read back by the signal
//! listing and the incident engine: one type for all of them.
//!
//! Invariant: a [`Signal`] only exists validated (§1.2) or read back from stored rows, so its
//! type and severity are always one of the spec's values.

use std::collections::BTreeMap;

wire_enum! {
    /// A signal's `type` (§1.2 step 5).
    #[derive(PartialOrd, Ord)]
    #[cfg_attr(test, derive(Default))]
    pub enum SignalType ("signal type") {
        #[cfg_attr(test, default)]
        Deploy = "deploy",
        Runtime = "runtime",
        Healthcheck = "healthcheck",
        Dependency = "dependency",
        Config = "config",
        Alert = "alert",
    }
}

wire_enum! {
    /// A signal's `severity`, ordered from least to most severe.
    #[derive(PartialOrd, Ord)]
    #[cfg_attr(test, derive(Default))]
    pub enum Severity ("severity") {
        #[cfg_attr(test, default)]
        Info = "info",
        Warning = "warning",
        Critical = "critical",
    }
}

/// The `meta_<key>` values of a signal (§1.6: the `metadata` members the engine keys on):
/// `""` unless `metadata` has the key as a non-empty string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignalMeta {
    pub version: String,
    pub subtype: String,
    pub error_code: String,
    pub step: String,
    pub downstream: String,
    pub incident_id: String,
    pub trace_id: String,
    pub alert_id: String,
    pub provider_url: String,
}

impl SignalMeta {
    /// The keys, in the column order of `signals` (`meta_<key>`).
    pub const KEYS: [&'static str; 9] = [
        "version",
        "subtype",
        "error_code",
        "step",
        "downstream",
        "incident_id",
        "trace_id",
        "alert_id",
        "provider_url",
    ];

    /// Read the values from a signal's compact `metadata` JSON (absent or unparsable: all `""`).
    pub fn from_metadata(metadata: Option<&str>) -> SignalMeta {
        let map: serde_json::Map<String, serde_json::Value> = metadata
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default();
        let m = |k: &str| {
            map.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        SignalMeta {
            version: m("version"),
            subtype: m("subtype"),
            error_code: m("error_code"),
            step: m("step"),
            downstream: m("downstream"),
            incident_id: m("incident_id"),
            trace_id: m("trace_id"),
            alert_id: m("alert_id"),
            provider_url: m("provider_url"),
        }
    }

    /// The value of `key` (one of [`SignalMeta::KEYS`]); `""` for any other key.
    pub fn get(&self, key: &str) -> &str {
        match key {
            "version" => &self.version,
            "subtype" => &self.subtype,
            "error_code" => &self.error_code,
            "step" => &self.step,
            "downstream" => &self.downstream,
            "incident_id" => &self.incident_id,
            "trace_id" => &self.trace_id,
            "alert_id" => &self.alert_id,
            "provider_url" => &self.provider_url,
            _ => "",
        }
    }
}

/// One validated signal (§1.2), as stored in `signals` (§1.6).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Default))]
pub struct Signal {
    pub signal_id: String,
    /// The `type` member.
    pub kind: SignalType,
    pub source: String,
    pub service: String,
    pub env: String,
    pub severity: Severity,
    pub reason: String,
    pub message: Option<String>,
    /// Compact JSON text, `None` when absent, null or `{}`.
    pub resource: Option<String>,
    /// Compact JSON text, `None` when absent, null or `{}`.
    pub metadata: Option<String>,
    /// Unknown top-level keys with their compact JSON text, sorted by key.
    pub extra: BTreeMap<String, String>,
    pub timestamp_ns: i64,
    pub received_at_ns: i64,
    /// The `meta_*` values of `metadata` (kept in step with it by the constructors).
    pub meta: SignalMeta,
}

/// Tests spell signals with their wire strings (`kind: "deploy".into()`).
#[cfg(test)]
impl From<&str> for SignalType {
    fn from(s: &str) -> Self {
        SignalType::parse(s).unwrap_or_else(|| panic!("{s:?} is not a signal type"))
    }
}

#[cfg(test)]
impl From<&str> for Severity {
    fn from(s: &str) -> Self {
        Severity::parse(s).unwrap_or_else(|| panic!("{s:?} is not a severity"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_severities_round_trip_their_wire_values() {
        for t in SignalType::ALL {
            assert_eq!(SignalType::parse(t.as_str()), Some(*t));
        }
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(*s));
        }
        assert_eq!(SignalType::parse("Deploy"), None);
        assert_eq!(Severity::parse("fatal"), None);
        assert!(Severity::Critical > Severity::Warning && Severity::Warning > Severity::Info);
    }

    #[test]
    fn meta_reads_non_empty_strings_only() {
        let m = SignalMeta::from_metadata(Some(r#"{"trace_id":"t1","step":7,"version":""}"#));
        assert_eq!(m.trace_id, "t1");
        assert_eq!(m.get("trace_id"), "t1");
        assert_eq!((m.step.as_str(), m.version.as_str()), ("", ""));
        assert_eq!(SignalMeta::from_metadata(None), SignalMeta::default());
        assert_eq!(
            SignalMeta::from_metadata(Some("not json")),
            SignalMeta::default()
        );
    }
}
