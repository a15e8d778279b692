//! The incident engine's `waylog serve` flags (spec triage §0): each a flag and a `WAYLOG_*`
//! variable, validated into the engine's typed [`IncidentConfig`]. Durations use the reads
//! §1.4 grammar; zero or negative means the flag's declared default unless stated; an
//! unparsable value stops the server naming the variable.

use std::time::Duration;

use clap::Args;

use super::{ServeArgs, parse_bool};
use crate::config::incident_settings::IncidentConfig;
use crate::config::incident_settings::Thresholds;
use crate::config::incident_settings::{LatencySettings, TrafficSettings};
use crate::duration::{format_duration, parse_duration};

#[derive(Debug, Clone, Args)]
pub struct IncidentArgs {
    /// Run the incident engine (stored incidents stay readable either way).
    #[arg(long, env = "WAYLOG_INCIDENTS_ENABLED", default_value = "true")]
    pub incidents_enabled: String,
    /// Engine tick interval.
    #[arg(long, env = "WAYLOG_INCIDENT_TICK_INTERVAL", default_value = "30s")]
    pub incident_tick_interval: String,
    /// W: the current window; the three windows before it are the baselines.
    #[arg(long, env = "WAYLOG_INCIDENT_WINDOW", default_value = "10m")]
    pub incident_window: String,
    #[arg(long, env = "WAYLOG_INCIDENT_MIN_COUNT", default_value = "5")]
    pub incident_min_count: String,
    /// Failures per minute in the current window (0 = off).
    #[arg(long, env = "WAYLOG_INCIDENT_MIN_RATE", default_value = "0")]
    pub incident_min_rate: String,
    #[arg(long, env = "WAYLOG_INCIDENT_MIN_LIFT", default_value = "3.0")]
    pub incident_min_lift: String,
    /// Quiet time after `last_seen_at` before a recovering incident resolves.
    #[arg(long, env = "WAYLOG_INCIDENT_RESOLVE_AFTER", default_value = "2m")]
    pub incident_resolve_after: String,
    #[arg(long, env = "WAYLOG_INCIDENT_SAMPLE_LIMIT", default_value = "5")]
    pub incident_sample_limit: String,
    /// DCW: look-back before `started_at` for deploys and signals (max 24h).
    #[arg(long, env = "WAYLOG_DEPLOY_CORRELATION_WINDOW", default_value = "15m")]
    pub deploy_correlation_window: String,
    /// AMW: alert match window (max 24h); `ALERT_MATCH_WINDOW` is read when unset.
    #[arg(long, env = "WAYLOG_ALERT_MATCH_WINDOW")]
    pub alert_match_window: Option<String>,
    /// Resolved incidents are kept this long after `resolved_at` (`0` disables pruning).
    #[arg(long, env = "WAYLOG_INCIDENT_RETENTION", default_value = "168h")]
    pub incident_retention: String,
    /// Accepted and ignored: restart needs no rebuild (spec triage §2.12).
    #[arg(
        long,
        env = "WAYLOG_REBUILD_INCIDENTS_ON_START",
        default_value = "false"
    )]
    pub rebuild_incidents_on_start: String,
    /// Open `TRAFFIC_DROP` / `TRAFFIC_SURGE` incidents (spec triage §2.11).
    #[arg(long, env = "WAYLOG_TRAFFIC_ANOMALY_ENABLED", default_value = "false")]
    pub traffic_anomaly_enabled: String,
    /// A drop is `current ≤ DROP_FACTOR × baseline`.
    #[arg(
        long,
        env = "WAYLOG_TRAFFIC_ANOMALY_DROP_FACTOR",
        default_value = "0.5"
    )]
    pub traffic_anomaly_drop_factor: String,
    /// A surge is `current ≥ SURGE_FACTOR × baseline` (`0` disables surges).
    #[arg(
        long,
        env = "WAYLOG_TRAFFIC_ANOMALY_SURGE_FACTOR",
        default_value = "3.0"
    )]
    pub traffic_anomaly_surge_factor: String,
    /// Baselines (median request count) below this are skipped.
    #[arg(long, env = "WAYLOG_TRAFFIC_ANOMALY_MIN_VOLUME", default_value = "20")]
    pub traffic_anomaly_min_volume: String,
    /// Consecutive anomalous ticks before the incident is produced.
    #[arg(
        long,
        env = "WAYLOG_TRAFFIC_ANOMALY_SUSTAINED_TICKS",
        default_value = "2"
    )]
    pub traffic_anomaly_sustained_ticks: String,
    /// Open `LATENCY_SPIKE` incidents (spec triage §2.11).
    #[arg(long, env = "WAYLOG_LATENCY_ANOMALY_ENABLED", default_value = "false")]
    pub latency_anomaly_enabled: String,
    /// P of the nearest-rank percentile of `duration_ms` (1..100).
    #[arg(long, env = "WAYLOG_LATENCY_ANOMALY_PERCENTILE", default_value = "95")]
    pub latency_anomaly_percentile: String,
    /// A spike is `current pP ≥ FACTOR × baseline pP`.
    #[arg(long, env = "WAYLOG_LATENCY_ANOMALY_FACTOR", default_value = "2.0")]
    pub latency_anomaly_factor: String,
    /// Events a window needs to take part (the current one and ≥ 2 baselines).
    #[arg(
        long,
        env = "WAYLOG_LATENCY_ANOMALY_MIN_REQUESTS",
        default_value = "50"
    )]
    pub latency_anomaly_min_requests: String,
    /// A spike also needs `current pP ≥ MIN_MS` (`0` = off).
    #[arg(long, env = "WAYLOG_LATENCY_ANOMALY_MIN_MS", default_value = "0")]
    pub latency_anomaly_min_ms: String,
    /// Consecutive anomalous ticks before the incident is produced.
    #[arg(
        long,
        env = "WAYLOG_LATENCY_ANOMALY_SUSTAINED_TICKS",
        default_value = "2"
    )]
    pub latency_anomaly_sustained_ticks: String,
}

impl IncidentArgs {
    /// Every flag at its declared `default_value` (environment ignored).
    pub fn defaults() -> IncidentArgs {
        super::declared_defaults()
    }
}

/// Every flag at its declared default, validated against the default event retention.
impl Default for IncidentConfig {
    fn default() -> Self {
        ServeArgs::defaults()
            .into_config()
            .expect("the declared defaults are valid settings")
            .incidents
    }
}

/// `--alert-match-window` has no clap default: unset, `ALERT_MATCH_WINDOW` is read first.
const ALERT_MATCH_WINDOW_DEFAULT: &str = "15m";

const DAY: Duration = Duration::from_secs(86_400);

/// The reads §1.4 grammar, plus a bare `0` (as Go's `time.ParseDuration` accepts).
fn parse(text: &str) -> Option<Duration> {
    match text.trim() {
        "0" => Some(Duration::ZERO),
        t => parse_duration(t),
    }
}

/// The value of a flag's declared default text (`default_value` is the one source of it).
fn declared<T: std::str::FromStr>(text: &str) -> T {
    match text.trim().parse() {
        Ok(v) => v,
        Err(_) => panic!("declared default {text:?} does not parse"),
    }
}

fn declared_duration(text: &str) -> Duration {
    parse(text).unwrap_or_else(|| panic!("declared default {text:?} is not a duration"))
}

/// A duration where zero means the declared `default`; unparsable is an error naming `name`.
fn duration_or(name: &str, text: &str, default: &str) -> Result<Duration, String> {
    let default = declared_duration(default);
    let t = text.trim();
    if t.starts_with('-') {
        return Ok(default);
    }
    match parse(t) {
        Some(d) if d.is_zero() => Ok(default),
        Some(d) => Ok(d),
        None => Err(format!(
            "{name}: expected a duration such as 30s, 10m or 1h30m, got {text:?}"
        )),
    }
}

fn number_or(name: &str, text: &str, default: &str) -> Result<f64, String> {
    let default = declared(default);
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) if v.is_finite() => Ok(default),
        _ => Err(format!("{name}: expected a number, got {text:?}")),
    }
}

fn int_or(name: &str, text: &str, default: &str) -> Result<i64, String> {
    let default = declared(default);
    match text.trim().parse::<i64>() {
        Ok(v) if v > 0 => Ok(v),
        Ok(_) => Ok(default),
        _ => Err(format!("{name}: expected an integer, got {text:?}")),
    }
}

/// A number where `0` is meaningful (`0` = off): negative means `default`.
fn number_or_zero(name: &str, text: &str, default: &str) -> Result<f64, String> {
    let default = declared(default);
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Ok(v) if v.is_finite() => Ok(default),
        _ => Err(format!("{name}: expected a number, got {text:?}")),
    }
}

fn count_or(name: &str, text: &str, default: &str) -> Result<u32, String> {
    let n = int_or(name, text, default)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

impl IncidentArgs {
    fn traffic(&self, d: &IncidentArgs) -> Result<TrafficSettings, String> {
        Ok(TrafficSettings {
            enabled: parse_bool(
                "WAYLOG_TRAFFIC_ANOMALY_ENABLED",
                &self.traffic_anomaly_enabled,
            )?,
            drop_factor: number_or(
                "WAYLOG_TRAFFIC_ANOMALY_DROP_FACTOR",
                &self.traffic_anomaly_drop_factor,
                &d.traffic_anomaly_drop_factor,
            )?,
            surge_factor: number_or_zero(
                "WAYLOG_TRAFFIC_ANOMALY_SURGE_FACTOR",
                &self.traffic_anomaly_surge_factor,
                &d.traffic_anomaly_surge_factor,
            )?,
            min_volume: int_or(
                "WAYLOG_TRAFFIC_ANOMALY_MIN_VOLUME",
                &self.traffic_anomaly_min_volume,
                &d.traffic_anomaly_min_volume,
            )?,
            sustained_ticks: count_or(
                "WAYLOG_TRAFFIC_ANOMALY_SUSTAINED_TICKS",
                &self.traffic_anomaly_sustained_ticks,
                &d.traffic_anomaly_sustained_ticks,
            )?,
        })
    }

    fn latency(&self, d: &IncidentArgs) -> Result<LatencySettings, String> {
        let name = "WAYLOG_LATENCY_ANOMALY_PERCENTILE";
        let percentile = int_or(
            name,
            &self.latency_anomaly_percentile,
            &d.latency_anomaly_percentile,
        )?;
        if percentile > 100 {
            return Err(format!(
                "{name}: expected a percentile in 1..100, got {:?}",
                self.latency_anomaly_percentile
            ));
        }
        Ok(LatencySettings {
            enabled: parse_bool(
                "WAYLOG_LATENCY_ANOMALY_ENABLED",
                &self.latency_anomaly_enabled,
            )?,
            percentile,
            factor: number_or(
                "WAYLOG_LATENCY_ANOMALY_FACTOR",
                &self.latency_anomaly_factor,
                &d.latency_anomaly_factor,
            )?,
            min_requests: int_or(
                "WAYLOG_LATENCY_ANOMALY_MIN_REQUESTS",
                &self.latency_anomaly_min_requests,
                &d.latency_anomaly_min_requests,
            )?,
            min_ms: number_or_zero(
                "WAYLOG_LATENCY_ANOMALY_MIN_MS",
                &self.latency_anomaly_min_ms,
                &d.latency_anomaly_min_ms,
            )?,
            sustained_ticks: count_or(
                "WAYLOG_LATENCY_ANOMALY_SUSTAINED_TICKS",
                &self.latency_anomaly_sustained_ticks,
                &d.latency_anomaly_sustained_ticks,
            )?,
        })
    }

    /// Validate against the event retention (`4 × W` must fit in it).
    pub fn into_config(self, event_retention: Duration) -> Result<IncidentConfig, String> {
        let d = IncidentArgs::defaults();
        let enabled = parse_bool("WAYLOG_INCIDENTS_ENABLED", &self.incidents_enabled)?;
        let tick = duration_or(
            "WAYLOG_INCIDENT_TICK_INTERVAL",
            &self.incident_tick_interval,
            &d.incident_tick_interval,
        )?;
        let window = duration_or(
            "WAYLOG_INCIDENT_WINDOW",
            &self.incident_window,
            &d.incident_window,
        )?;
        if window * 4 > event_retention {
            return Err(format!(
                "WAYLOG_INCIDENT_WINDOW: 4 x {} exceeds WAYLOG_RETENTION ({})",
                format_duration(window),
                format_duration(event_retention)
            ));
        }
        let min_rate = match self.incident_min_rate.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => v.max(0.0),
            _ => {
                return Err(format!(
                    "WAYLOG_INCIDENT_MIN_RATE: expected a number, got {:?}",
                    self.incident_min_rate
                ));
            }
        };
        let thresholds = Thresholds {
            window_ns: i64::try_from(window.as_nanos()).unwrap_or(i64::MAX),
            min_count: int_or(
                "WAYLOG_INCIDENT_MIN_COUNT",
                &self.incident_min_count,
                &d.incident_min_count,
            )?,
            min_rate_per_min: min_rate,
            min_lift: number_or(
                "WAYLOG_INCIDENT_MIN_LIFT",
                &self.incident_min_lift,
                &d.incident_min_lift,
            )?,
        };
        let traffic = self.traffic(&d)?;
        let latency = self.latency(&d)?;
        let alert_text = self
            .alert_match_window
            .or_else(|| std::env::var("ALERT_MATCH_WINDOW").ok())
            .unwrap_or_else(|| ALERT_MATCH_WINDOW_DEFAULT.into());
        let retention_text = self.incident_retention.trim();
        let retention = match parse(retention_text) {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
            None if retention_text.starts_with('-') => {
                Some(declared_duration(&d.incident_retention))
            }
            None => {
                return Err(format!(
                    "WAYLOG_INCIDENT_RETENTION: expected a duration such as 168h, got {retention_text:?}"
                ));
            }
        };
        Ok(IncidentConfig {
            enabled,
            tick,
            thresholds,
            resolve_after: duration_or(
                "WAYLOG_INCIDENT_RESOLVE_AFTER",
                &self.incident_resolve_after,
                &d.incident_resolve_after,
            )?,
            sample_limit: usize::try_from(int_or(
                "WAYLOG_INCIDENT_SAMPLE_LIMIT",
                &self.incident_sample_limit,
                &d.incident_sample_limit,
            )?)
            .unwrap_or(declared(&d.incident_sample_limit)),
            deploy_window: duration_or(
                "WAYLOG_DEPLOY_CORRELATION_WINDOW",
                &self.deploy_correlation_window,
                &d.deploy_correlation_window,
            )?
            .min(DAY),
            alert_window: duration_or(
                "WAYLOG_ALERT_MATCH_WINDOW",
                &alert_text,
                ALERT_MATCH_WINDOW_DEFAULT,
            )?
            .min(DAY),
            retention,
            rebuild_requested: parse_bool(
                "WAYLOG_REBUILD_INCIDENTS_ON_START",
                &self.rebuild_incidents_on_start,
            )?,
            traffic,
            latency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEK: Duration = Duration::from_secs(7 * 86_400);

    #[test]
    fn defaults_follow_the_spec_table() {
        let c = IncidentConfig::default();
        assert!(c.enabled);
        assert_eq!(c.tick, Duration::from_secs(30));
        assert_eq!(c.thresholds, Thresholds::default());
        assert_eq!(c.resolve_after, Duration::from_secs(120));
        assert_eq!(c.sample_limit, 5);
        assert_eq!(c.deploy_window, Duration::from_secs(900));
        assert_eq!(c.retention, Some(Duration::from_secs(168 * 3600)));
        assert_eq!(c.traffic, TrafficSettings::default());
        assert_eq!(c.latency, LatencySettings::default());
        let t = c.traffic;
        assert!(!t.enabled);
        assert_eq!(
            (
                t.drop_factor,
                t.surge_factor,
                t.min_volume,
                t.sustained_ticks
            ),
            (0.5, 3.0, 20, 2)
        );
        let l = c.latency;
        assert!(!l.enabled);
        assert_eq!(
            (
                l.percentile,
                l.factor,
                l.min_requests,
                l.min_ms,
                l.sustained_ticks
            ),
            (95, 2.0, 50, 0.0, 2)
        );
    }

    #[test]
    fn anomaly_settings_parse_zero_means_default_except_surge_and_min_ms() {
        let args = IncidentArgs {
            traffic_anomaly_enabled: "true".into(),
            traffic_anomaly_drop_factor: "0.25".into(),
            traffic_anomaly_surge_factor: "0".into(),
            traffic_anomaly_min_volume: "100".into(),
            traffic_anomaly_sustained_ticks: "3".into(),
            latency_anomaly_enabled: "1".into(),
            latency_anomaly_percentile: "99".into(),
            latency_anomaly_factor: "1.5".into(),
            latency_anomaly_min_requests: "10".into(),
            latency_anomaly_min_ms: "250".into(),
            latency_anomaly_sustained_ticks: "1".into(),
            ..IncidentArgs::defaults()
        };
        let c = args.into_config(WEEK).unwrap();
        assert_eq!(
            c.traffic,
            TrafficSettings {
                enabled: true,
                drop_factor: 0.25,
                surge_factor: 0.0,
                min_volume: 100,
                sustained_ticks: 3,
            }
        );
        assert_eq!(
            c.latency,
            LatencySettings {
                enabled: true,
                percentile: 99,
                factor: 1.5,
                min_requests: 10,
                min_ms: 250.0,
                sustained_ticks: 1,
            }
        );

        let zeros = IncidentArgs {
            traffic_anomaly_drop_factor: "0".into(),
            traffic_anomaly_surge_factor: "-2".into(),
            traffic_anomaly_min_volume: "0".into(),
            traffic_anomaly_sustained_ticks: "-1".into(),
            latency_anomaly_percentile: "0".into(),
            latency_anomaly_factor: "-3".into(),
            latency_anomaly_min_requests: "0".into(),
            latency_anomaly_min_ms: "-5".into(),
            latency_anomaly_sustained_ticks: "0".into(),
            ..IncidentArgs::defaults()
        };
        let c = zeros.into_config(WEEK).unwrap();
        assert_eq!(c.traffic, TrafficSettings::default());
        assert_eq!(c.latency, LatencySettings::default());

        let err = |args: IncidentArgs| args.into_config(WEEK).unwrap_err();
        let e = err(IncidentArgs {
            latency_anomaly_percentile: "101".into(),
            ..IncidentArgs::defaults()
        });
        assert!(e.starts_with("WAYLOG_LATENCY_ANOMALY_PERCENTILE"), "{e}");
        let e = err(IncidentArgs {
            latency_anomaly_percentile: "99.5".into(),
            ..IncidentArgs::defaults()
        });
        assert!(e.starts_with("WAYLOG_LATENCY_ANOMALY_PERCENTILE"), "{e}");
        let e = err(IncidentArgs {
            traffic_anomaly_enabled: "yes please".into(),
            ..IncidentArgs::defaults()
        });
        assert!(e.starts_with("WAYLOG_TRAFFIC_ANOMALY_ENABLED"), "{e}");
        let e = err(IncidentArgs {
            traffic_anomaly_drop_factor: "half".into(),
            ..IncidentArgs::defaults()
        });
        assert!(e.starts_with("WAYLOG_TRAFFIC_ANOMALY_DROP_FACTOR"), "{e}");
        let e = err(IncidentArgs {
            latency_anomaly_min_ms: "fast".into(),
            ..IncidentArgs::defaults()
        });
        assert!(e.starts_with("WAYLOG_LATENCY_ANOMALY_MIN_MS"), "{e}");
    }

    #[test]
    fn zero_means_default_large_windows_clamp_and_garbage_names_the_variable() {
        let args = IncidentArgs {
            incident_tick_interval: "0s".into(),
            incident_min_count: "0".into(),
            deploy_correlation_window: "48h".into(),
            alert_match_window: Some("30h".into()),
            incident_retention: "0".into(),
            ..IncidentArgs::defaults()
        };
        let c = args.into_config(WEEK).unwrap();
        assert_eq!(c.tick, Duration::from_secs(30));
        assert_eq!(c.thresholds.min_count, 5);
        assert_eq!(c.deploy_window, DAY);
        assert_eq!(c.alert_window, DAY);
        assert_eq!(c.retention, None);
        let bad = IncidentArgs {
            incident_window: "soon".into(),
            ..IncidentArgs::defaults()
        };
        assert!(
            bad.into_config(WEEK)
                .unwrap_err()
                .starts_with("WAYLOG_INCIDENT_WINDOW")
        );
        let too_wide = IncidentArgs {
            incident_window: "2d".into(),
            ..IncidentArgs::defaults()
        };
        let e = too_wide.into_config(WEEK).unwrap_err();
        assert!(e.contains("exceeds WAYLOG_RETENTION"), "{e}");
    }
}
