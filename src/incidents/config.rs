//! The incident engine's typed settings (spec triage §0). Parsing the `waylog serve` flags and
//! `WAYLOG_*` variables into them, and their defaults, belong to [`crate::config`]
//! (`config::incidents`): this module only says what the engine is given.

use std::time::Duration;

use super::anomaly::{LatencySettings, TrafficSettings};
use super::detect::Thresholds;

/// Validated engine settings. `Default` (implemented in `config::incidents`) is every flag at
/// its declared default against the default event retention.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentConfig {
    pub enabled: bool,
    pub tick: Duration,
    pub thresholds: Thresholds,
    pub resolve_after: Duration,
    pub sample_limit: usize,
    pub deploy_window: Duration,
    pub alert_window: Duration,
    /// `None` = resolved incidents are kept forever.
    pub retention: Option<Duration>,
    pub rebuild_requested: bool,
    pub traffic: TrafficSettings,
    pub latency: LatencySettings,
}
