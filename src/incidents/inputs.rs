//! Rows the engine's rules read, shaped so the wiring fills them straight from SQL result
//! columns: SQL `NULL` strings become `""` (the spec treats null and empty alike), times are
//! unix ns. Nothing here does I/O.

/// One step of a failing event (`events.steps[]`), only the members the rules read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventStep {
    pub name: String,
    pub status: String,
    pub start_ms: i64,
    /// `downstream.service`, `""` when absent.
    pub downstream_service: String,
}

/// One failing event of E (§2.5 step 1). E is ordered newest first (`ts_start` desc,
/// `event_id` asc) by the query; the rules that need another order sort themselves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FailingEvent {
    pub event_id: String,
    pub trace_id: String,
    pub ts_start_ns: i64,
    pub env: String,
    /// `""` when the event has no version.
    pub version: String,
    pub status: String,
    /// Array order kept.
    pub steps: Vec<EventStep>,
}

/// The `meta_<key>` columns of `signals` (§1.6): `""` unless a non-empty string.
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

/// One row of `signals` (§1.6) as the engine reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignalRow {
    pub signal_id: String,
    /// The `type` column.
    pub kind: String,
    pub source: String,
    pub service: String,
    pub env: String,
    pub severity: String,
    pub reason: String,
    pub timestamp_ns: i64,
    pub meta: SignalMeta,
    /// The stored compact `metadata` JSON, `None` when absent.
    pub metadata_json: Option<String>,
}

/// One row of `deployments` (§2.5 step 5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeploymentRow {
    pub id: String,
    pub service: String,
    pub env: String,
    pub version: String,
    pub first_seen_ns: i64,
    pub commit_sha: String,
    pub pr_url: String,
    pub commit_author: String,
}

/// §0: two env values are compatible unless both are non-empty and different.
pub fn env_compatible(a: &str, b: &str) -> bool {
    a.is_empty() || b.is_empty() || a == b
}

/// §2.9 severity rank: `critical` 3, `warning` 2, `info` 1, anything else 0.
pub fn severity_rank(severity: &str) -> u8 {
    match severity {
        "critical" => 3,
        "warning" => 2,
        "info" => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_compatible_unless_both_set_and_different() {
        assert!(env_compatible("", ""));
        assert!(env_compatible("prod", ""));
        assert!(env_compatible("", "prod"));
        assert!(env_compatible("prod", "prod"));
        assert!(!env_compatible("prod", "demo"));
    }

    #[test]
    fn severity_rank_orders_known_values() {
        assert!(severity_rank("critical") > severity_rank("warning"));
        assert!(severity_rank("warning") > severity_rank("info"));
        assert_eq!(severity_rank("bogus"), 0);
    }
}
