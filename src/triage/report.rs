//! The TriageReport v1 types (spec triage §6.1). Field order is the JSON emission order;
//! members marked `?` in the spec are omitted when absent, empty strings or empty lists;
//! `top_error_families`, `summary`, `evidence_ids`, `window` and every `runtime` member are
//! always present. Floats are written like the incident's (`number_serde`: `12`, `0.75`).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::incidents::model::{Confidence, SuspectDimension, number_serde};

/// `schema_version` of every report.
pub const SCHEMA_VERSION: &str = "triage.v1";

fn is_empty_str(s: &str) -> bool {
    s.is_empty()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TriageReport {
    pub schema_version: String,
    pub incident_ref: IncidentRef,
    pub blast_snapshot: BlastSnapshot,
    /// Either the origin summary of the propagation capture or a full reads §4.1 story,
    /// kept as the JSON it was built as (its own key order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspect_change: Option<SuspectChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sample_traces: Vec<SampleTrace>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<SignalRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtime: Vec<RuntimeRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspect_dimensions: Vec<SuspectDimension>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_checks: Vec<NextCheck>,
    pub confidence: Confidence,
    /// JSON time of the build.
    pub generated_at: String,
    /// Reserved (§6.1): never set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_run_id: Option<String>,
    pub report_hash: String,
    pub evidence_fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRef {
    pub id: String,
    /// Duration string (`15m0s`).
    pub window: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlastSnapshot {
    pub requests: i64,
    pub users: i64,
    pub services: i64,
    pub top_error_families: Vec<FamilyCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyCount {
    pub service: String,
    pub step: String,
    pub error_code: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuspectChange {
    pub deploy_id: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub version: String,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub commit_sha: String,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub pr_url: String,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub commit_author: String,
    /// JSON time of the deployment's `first_seen`.
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub deployed_at: String,
    #[serde(default, with = "opt_number", skip_serializing_if = "Option::is_none")]
    pub error_rate_before: Option<f64>,
    #[serde(default, with = "opt_number", skip_serializing_if = "Option::is_none")]
    pub error_rate_after: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleTrace {
    pub trace_id: String,
    /// Always present, maybe `""`.
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalRef {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub evidence_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRef {
    pub signal_id: String,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub alert_id: String,
    pub source: String,
    pub severity: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub provider_url: String,
    pub evidence_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeRef {
    pub signal_id: String,
    pub subtype: String,
    pub service: String,
    pub source: String,
    pub severity: String,
    pub reason: String,
    /// JSON time.
    pub occurred_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextCheck {
    pub id: String,
    pub prompt: String,
}

/// `Option<f64>` through [`number_serde`] (`0.5`, `1` not `1.0`).
mod opt_number {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::number_serde;

    pub fn serialize<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match x {
            Some(x) => number_serde::serialize(x, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<f64>::deserialize(d)
    }
}
