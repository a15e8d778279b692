//! Duration strings as the spec writes them (reads §1.4): Go-style `90s`, `1h30m`, `1.5h`,
//! `250ms`, plus `<N>d` alone for whole days; and the canonical echo form (`1h0m0s`, `1.5ms`).

use std::time::Duration;

/// Parse `<decimal><unit>` sequences (units `ns us µs μs ms s m h`) or `<N>d` alone.
/// Returns `None` for malformed input. Zero is returned as `Some(ZERO)`; callers decide
/// whether zero is acceptable.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(days) = s.strip_suffix('d') {
        if !days.is_empty() && days.bytes().all(|b| b.is_ascii_digit()) {
            let n: u64 = days.parse().ok()?;
            return n.checked_mul(86_400).map(Duration::from_secs);
        }
        return None;
    }
    let mut rest = s;
    let mut total_ns: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let num = &rest[..num_len];
        if num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total_ns += value * scale;
    }
    if !total_ns.is_finite() || total_ns > u64::MAX as f64 {
        return None;
    }
    Some(Duration::from_nanos(total_ns.round() as u64))
}

/// The echo form of reads §1.4 rule 3.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    if ns < 1_000_000_000 {
        let (div, unit) = if ns >= 1_000_000 {
            (1_000_000u128, "ms")
        } else if ns >= 1_000 {
            (1_000u128, "µs")
        } else {
            (1u128, "ns")
        };
        return format!("{}{unit}", trimmed_fraction(ns, div));
    }
    let total_secs = ns / 1_000_000_000;
    let h = total_secs / 3600;
    let m = (total_secs % 3600) / 60;
    let sec_ns = ns - (h * 3600 + m * 60) * 1_000_000_000;
    let secs = trimmed_fraction(sec_ns, 1_000_000_000);
    if h > 0 {
        format!("{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{m}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

fn trimmed_fraction(value: u128, div: u128) -> String {
    let whole = value / div;
    let frac = value % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_duration_accepts_go_forms() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("3µs"), Some(Duration::from_micros(3)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86400)));
    }

    #[test]
    fn parse_duration_rejects_malformed() {
        for bad in [
            "", "1", "h", "1x", "1d2h", "1.2.3s", "-1s", "1.5d", "d", ".s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn format_duration_matches_spec_examples() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_duration(Duration::from_secs(7 * 86400)), "168h0m0s");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format_duration(Duration::from_secs(900)), "15m0s");
        assert_eq!(format_duration(Duration::from_nanos(12)), "12ns");
    }
}
