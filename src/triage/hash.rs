//! `report_hash` and `evidence_fingerprint` (spec triage §6.3).
//! - `report_hash` = `sha256:` + hex(sha256(JCS(report′))), report′ = the report without
//!   `generated_at`, `report_hash`, `plan_run_id` and `evidence_fingerprint`: what the report
//!   says, not when it was built.
//! - `evidence_fingerprint` = sha256 over the sorted, deduplicated evidence ids
//!   (`incident:`, `deploy:`, `signal:`, `alert:`, `runtime:`, `trace:`) joined with `\n`: it
//!   stays put while an active incident's counts move and changes when new evidence arrives.

use sha2::{Digest, Sha256};

use super::jcs::{self, JcsError};
use super::report::TriageReport;
use crate::ingest::otlp::hex_lower;

/// Keys outside the hash (§6.3).
const UNHASHED: [&str; 4] = [
    "generated_at",
    "report_hash",
    "plan_run_id",
    "evidence_fingerprint",
];

/// Why a report could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("report does not serialize: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("report has no canonical form: {0}")]
    Canonical(#[from] JcsError),
}

/// `report_hash` of `r` (its own hash fields are ignored).
pub fn report_hash(r: &TriageReport) -> Result<String, HashError> {
    let mut v = serde_json::to_value(r)?;
    if let Some(map) = v.as_object_mut() {
        for key in UNHASHED {
            map.remove(key);
        }
    }
    Ok(sha256_tagged(jcs::canonicalize(&v)?.as_bytes()))
}

/// `evidence_fingerprint` of `r`.
pub fn evidence_fingerprint(r: &TriageReport) -> String {
    let deploy = r.suspect_change.as_ref().map(|c| c.deploy_id.as_str());
    let tagged = [
        ("incident", Some(r.incident_ref.id.as_str())),
        ("deploy", deploy),
    ]
    .into_iter()
    .filter_map(|(tag, id)| id.map(|id| (tag, id)))
    .chain(r.signals.iter().map(|s| ("signal", s.id.as_str())))
    .chain(r.alerts.iter().map(|a| ("alert", a.signal_id.as_str())))
    .chain(r.runtime.iter().map(|x| ("runtime", x.signal_id.as_str())))
    .chain(
        r.sample_traces
            .iter()
            .map(|t| ("trace", t.trace_id.as_str())),
    );
    let mut ids: Vec<String> = tagged
        .filter(|(_, id)| !id.is_empty())
        .map(|(tag, id)| format!("{tag}:{id}"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    sha256_tagged(ids.join("\n").as_bytes())
}

fn sha256_tagged(bytes: &[u8]) -> String {
    format!("sha256:{}", hex_lower(&Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests;
