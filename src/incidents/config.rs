//! The incident engine's settings (spec triage §0): each a `waylog serve` flag and a
//! `WAYLOG_*` variable. Durations use the reads §1.4 grammar; zero or negative means the
//! default unless stated; an unparsable value stops the server naming the variable.

use std::time::Duration;

use clap::Args;

use super::detect::Thresholds;
use crate::duration::parse_duration;

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
}

impl Default for IncidentArgs {
    fn default() -> Self {
        IncidentArgs {
            incidents_enabled: "true".into(),
            incident_tick_interval: "30s".into(),
            incident_window: "10m".into(),
            incident_min_count: "5".into(),
            incident_min_rate: "0".into(),
            incident_min_lift: "3.0".into(),
            incident_resolve_after: "2m".into(),
            incident_sample_limit: "5".into(),
            deploy_correlation_window: "15m".into(),
            alert_match_window: None,
            incident_retention: "168h".into(),
            rebuild_incidents_on_start: "false".into(),
        }
    }
}

/// Validated engine settings.
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
}

impl Default for IncidentConfig {
    fn default() -> Self {
        IncidentArgs::default()
            .into_config(Duration::from_secs(7 * 86_400))
            .expect("defaults are valid")
    }
}

const DAY: Duration = Duration::from_secs(86_400);

/// The reads §1.4 grammar, plus a bare `0` (as Go's `time.ParseDuration` accepts).
fn parse(text: &str) -> Option<Duration> {
    match text.trim() {
        "0" => Some(Duration::ZERO),
        t => parse_duration(t),
    }
}

/// A duration where zero means `default`; unparsable is an error naming `name`.
fn duration_or(name: &str, text: &str, default: Duration) -> Result<Duration, String> {
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

fn number_or(name: &str, text: &str, default: f64) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) if v.is_finite() => Ok(default),
        _ => Err(format!("{name}: expected a number, got {text:?}")),
    }
}

fn int_or(name: &str, text: &str, default: i64) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(v) if v > 0 => Ok(v),
        Ok(_) => Ok(default),
        _ => Err(format!("{name}: expected an integer, got {text:?}")),
    }
}

impl IncidentArgs {
    /// Validate against the event retention (`4 × W` must fit in it).
    pub fn into_config(self, event_retention: Duration) -> Result<IncidentConfig, String> {
        let enabled =
            crate::config::parse_bool("WAYLOG_INCIDENTS_ENABLED", &self.incidents_enabled)?;
        let tick = duration_or(
            "WAYLOG_INCIDENT_TICK_INTERVAL",
            &self.incident_tick_interval,
            Duration::from_secs(30),
        )?;
        let window = duration_or(
            "WAYLOG_INCIDENT_WINDOW",
            &self.incident_window,
            Duration::from_secs(600),
        )?;
        if window * 4 > event_retention {
            return Err(format!(
                "WAYLOG_INCIDENT_WINDOW: 4 x {} exceeds WAYLOG_RETENTION ({})",
                crate::duration::format_duration(window),
                crate::duration::format_duration(event_retention)
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
            min_count: int_or("WAYLOG_INCIDENT_MIN_COUNT", &self.incident_min_count, 5)?,
            min_rate_per_min: min_rate,
            min_lift: number_or("WAYLOG_INCIDENT_MIN_LIFT", &self.incident_min_lift, 3.0)?,
        };
        let alert_text = self
            .alert_match_window
            .or_else(|| std::env::var("ALERT_MATCH_WINDOW").ok())
            .unwrap_or_else(|| "15m".into());
        let retention_text = self.incident_retention.trim();
        let retention = match parse(retention_text) {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
            None if retention_text.starts_with('-') => Some(Duration::from_secs(168 * 3600)),
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
                Duration::from_secs(120),
            )?,
            sample_limit: usize::try_from(int_or(
                "WAYLOG_INCIDENT_SAMPLE_LIMIT",
                &self.incident_sample_limit,
                5,
            )?)
            .unwrap_or(5),
            deploy_window: duration_or(
                "WAYLOG_DEPLOY_CORRELATION_WINDOW",
                &self.deploy_correlation_window,
                Duration::from_secs(900),
            )?
            .min(DAY),
            alert_window: duration_or(
                "WAYLOG_ALERT_MATCH_WINDOW",
                &alert_text,
                Duration::from_secs(900),
            )?
            .min(DAY),
            retention,
            rebuild_requested: crate::config::parse_bool(
                "WAYLOG_REBUILD_INCIDENTS_ON_START",
                &self.rebuild_incidents_on_start,
            )?,
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
    }

    #[test]
    fn zero_means_default_large_windows_clamp_and_garbage_names_the_variable() {
        let args = IncidentArgs {
            incident_tick_interval: "0s".into(),
            incident_min_count: "0".into(),
            deploy_correlation_window: "48h".into(),
            alert_match_window: Some("30h".into()),
            incident_retention: "0".into(),
            ..IncidentArgs::default()
        };
        let c = args.into_config(WEEK).unwrap();
        assert_eq!(c.tick, Duration::from_secs(30));
        assert_eq!(c.thresholds.min_count, 5);
        assert_eq!(c.deploy_window, DAY);
        assert_eq!(c.alert_window, DAY);
        assert_eq!(c.retention, None);
        let bad = IncidentArgs {
            incident_window: "soon".into(),
            ..IncidentArgs::default()
        };
        assert!(
            bad.into_config(WEEK)
                .unwrap_err()
                .starts_with("WAYLOG_INCIDENT_WINDOW")
        );
        let too_wide = IncidentArgs {
            incident_window: "2d".into(),
            ..IncidentArgs::default()
        };
        let e = too_wide.into_config(WEEK).unwrap_err();
        assert!(e.contains("exceeds WAYLOG_RETENTION"), "{e}");
    }
}
