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

pub use crate::model::signal::{Severity, Signal, SignalMeta, SignalType};

pub use crate::model::deployment::Deployment;

/// §0: two env values are compatible unless both are non-empty and different.
pub fn env_compatible(a: &str, b: &str) -> bool {
    a.is_empty() || b.is_empty() || a == b
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
}
