//! The incident engine's typed settings (spec triage §0): what the engine is given. Parsing
//! the `waylog serve` flags and `WAYLOG_*` variables into them, and their defaults, are
//! [`super::incidents`]; the engine (`crate::incidents`) only reads these types, so the
//! dependency points one way (incidents → config).

use std::time::Duration;

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

/// Detection settings (§0): W and the three thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// W in ns (> 0).
    pub window_ns: i64,
    /// `WAYLOG_INCIDENT_MIN_COUNT`.
    pub min_count: i64,
    /// `WAYLOG_INCIDENT_MIN_RATE`, failures per minute; `0` is off.
    pub min_rate_per_min: f64,
    /// `WAYLOG_INCIDENT_MIN_LIFT`.
    pub min_lift: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            window_ns: 600 * 1_000_000_000,
            min_count: 5,
            min_rate_per_min: 0.0,
            min_lift: 3.0,
        }
    }
}

impl Thresholds {
    /// `$7`: MIN_RATE × (W in seconds / 60) when MIN_RATE > 0, else 0.
    pub fn min_failures(&self) -> f64 {
        if self.min_rate_per_min > 0.0 {
            self.min_rate_per_min * (self.window_ns as f64 / 1e9 / 60.0)
        } else {
            0.0
        }
    }
}

/// `WAYLOG_TRAFFIC_ANOMALY_*` (§0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrafficSettings {
    pub enabled: bool,
    /// A drop is `current ≤ drop_factor × baseline` (> 0).
    pub drop_factor: f64,
    /// A surge is `current ≥ surge_factor × baseline`; `0` disables surges.
    pub surge_factor: f64,
    /// Baselines below this are skipped (and reset the counters).
    pub min_volume: i64,
    pub sustained_ticks: u32,
}

impl Default for TrafficSettings {
    fn default() -> Self {
        TrafficSettings {
            enabled: false,
            drop_factor: 0.5,
            surge_factor: 3.0,
            min_volume: 20,
            sustained_ticks: 2,
        }
    }
}

/// `WAYLOG_LATENCY_ANOMALY_*` (§0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySettings {
    pub enabled: bool,
    /// P of the nearest-rank percentile, 1..=100.
    pub percentile: i64,
    pub factor: f64,
    /// Events a window needs to take part.
    pub min_requests: i64,
    /// `0` is off.
    pub min_ms: f64,
    pub sustained_ticks: u32,
}

impl Default for LatencySettings {
    fn default() -> Self {
        LatencySettings {
            enabled: false,
            percentile: 95,
            factor: 2.0,
            min_requests: 50,
            min_ms: 0.0,
            sustained_ticks: 2,
        }
    }
}
