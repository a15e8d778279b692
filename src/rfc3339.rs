//! RFC 3339 timestamps as the spec writes them (events §1.2, §1.8): the one parser
//! ([`parse_rfc3339_ns`]) and the one formatter ([`format_rfc3339_ns`], [`Rfc3339Ns`]) for every
//! timestamp waylog reads or writes (events, signals, alerts, deployments, incidents, read
//! parameters).
//!
//! Invariants: instants are unix nanoseconds (UTC) in `i64`; parsing is strict (upper-case `T`
//! and `Z`, mandatory offset) and never rounds (fraction digits after the ninth are dropped);
//! formatting is UTC with `Z`, the fraction trimmed of trailing zeros and left out when zero,
//! and [`parse_rfc3339_ns`] reads back every string [`format_rfc3339_ns`] writes.

use std::fmt;

use serde::Serializer;

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// RFC 3339 per spec events §1.2: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` with upper-case
/// `T` and `Z`, a fraction of any length (digits after the ninth are dropped, not rounded).
/// Returns unix ns; `None` when invalid or outside the i64 nanosecond range
/// (1677-09-21T00:12:43.145224192Z ..= 2262-04-11T23:47:16.854775807Z).
///
/// Calendar fields are range-checked (month 1-12, real day of month, hour 0-23, minute 0-59,
/// second 0-59: a leap second `60` has no unix-time instant and is rejected); offsets are
/// `00:00` to `23:59`, `-00:00` reads as UTC.
pub fn parse_rfc3339_ns(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    // "YYYY-MM-DDTHH:MM:SS" is 19 bytes; the shortest valid form adds "Z".
    if b.len() < 20 {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }

    let mut i = 19;
    let mut frac_ns: i64 = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                frac_ns = frac_ns * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let count = i - start;
        if count == 0 {
            return None;
        }
        for _ in count..9 {
            frac_ns *= 10;
        }
    }

    let offset_secs = match b.get(i..)? {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hh = digits(&[*h1, *h2])?;
            let mm = digits(&[*m1, *m2])?;
            if hh > 23 || mm > 59 {
                return None;
            }
            let secs = hh * 3600 + mm * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };

    let days = days_from_civil(year, month, day);
    let secs = days * SECS_PER_DAY + hour * 3600 + minute * 60 + second - offset_secs;
    let ns = i128::from(secs) * i128::from(NANOS_PER_SEC) + i128::from(frac_ns);
    i64::try_from(ns).ok()
}

/// UTC with `Z`, fraction trimmed of trailing zeros, no fraction when zero:
/// `"2026-05-04T10:00:00.062Z"`.
pub fn format_rfc3339_ns(ns: i64) -> String {
    Rfc3339Ns(ns).to_string()
}

/// Unix ns written as normalized RFC 3339 without allocating (`Display`; serde via
/// [`serialize_ns`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339Ns(pub i64);

impl fmt::Display for Rfc3339Ns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        let frac = self.0.rem_euclid(NANOS_PER_SEC);
        let days = secs.div_euclid(SECS_PER_DAY);
        let sod = secs.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        )?;
        if frac != 0 {
            let mut frac = frac;
            let mut width = 9;
            while frac % 10 == 0 {
                frac /= 10;
                width -= 1;
            }
            write!(f, ".{frac:0width$}")?;
        }
        f.write_str("Z")
    }
}

/// `#[serde(serialize_with)]` for a unix-ns member written as normalized RFC 3339.
pub fn serialize_ns<S: Serializer>(ns: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&Rfc3339Ns(*ns))
}

/// ASCII decimal digits to a number; `None` on any other byte.
fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> i64 {
        parse_rfc3339_ns(s).unwrap()
    }

    #[test]
    fn parse_rfc3339_accepts_utc_with_and_without_fraction() {
        assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ns("2026-05-04T10:00:00.062Z"),
            Some(1_777_888_800_062_000_000)
        );
        assert_eq!(
            parse_rfc3339_ns("1970-01-01T00:00:00.5Z"),
            Some(500_000_000)
        );
        assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00.000000001Z"), Some(1));
    }

    #[test]
    fn parse_rfc3339_truncates_fraction_beyond_nine_digits() {
        assert_eq!(
            parse_rfc3339_ns("1970-01-01T00:00:01.123456789999Z"),
            Some(1_123_456_789)
        );
        assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00.0000000009Z"), Some(0));
    }

    #[test]
    fn parse_rfc3339_applies_offsets() {
        let utc = ns("2026-05-04T10:00:00Z");
        assert_eq!(parse_rfc3339_ns("2026-05-04T12:00:00+02:00"), Some(utc));
        assert_eq!(parse_rfc3339_ns("2026-05-04T05:30:00-04:30"), Some(utc));
        assert_eq!(parse_rfc3339_ns("2026-05-04T10:00:00+00:00"), Some(utc));
        assert_eq!(parse_rfc3339_ns("2026-05-04T10:00:00-00:00"), Some(utc));
        assert_eq!(parse_rfc3339_ns("2026-05-05T09:59:00+23:59"), Some(utc));
    }

    #[test]
    fn parse_rfc3339_rejects_wrong_separators_and_case() {
        for s in [
            "2026-05-04 10:00:00Z",
            "2026-05-04t10:00:00Z",
            "2026-05-04T10:00:00z",
            "2026-05-04T10:00:00",
            "2026-05-04T10:00:00.062",
            "2026/05/04T10:00:00Z",
            "2026-05-04T10.00.00Z",
            "2026-05-04T10:00:00,5Z",
        ] {
            assert_eq!(parse_rfc3339_ns(s), None, "{s}");
        }
    }

    #[test]
    fn parse_rfc3339_rejects_malformed_fraction_and_offset() {
        for s in [
            "2026-05-04T10:00:00.Z",
            "2026-05-04T10:00:00.5.5Z",
            "2026-05-04T10:00:00+0200",
            "2026-05-04T10:00:00+02",
            "2026-05-04T10:00:00+02:00Z",
            "2026-05-04T10:00:00+24:00",
            "2026-05-04T10:00:00+02:60",
            "2026-05-04T10:00:00Z ",
            " 2026-05-04T10:00:00Z",
            "2026-05-04T10:00:00ZZ",
            "2026-5-04T10:00:00Z",
            "2026-05-04T10:00:0Z",
            "+2026-05-04T10:00:00Z",
            "2026-05-04T10:00:00\u{2212}02:00",
            "",
        ] {
            assert_eq!(parse_rfc3339_ns(s), None, "{s}");
        }
    }

    #[test]
    fn parse_rfc3339_rejects_impossible_calendar_values() {
        for s in [
            "2026-00-01T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-32T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2026-05-04T24:00:00Z",
            "2026-05-04T10:60:00Z",
            "2026-05-04T10:00:60Z",
        ] {
            assert_eq!(parse_rfc3339_ns(s), None, "{s}");
        }
    }

    #[test]
    fn parse_rfc3339_accepts_leap_days() {
        assert!(parse_rfc3339_ns("2024-02-29T00:00:00Z").is_some());
        assert!(parse_rfc3339_ns("2000-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn parse_rfc3339_returns_none_outside_i64_ns_range() {
        assert_eq!(
            parse_rfc3339_ns("2262-04-11T23:47:16.854775807Z"),
            Some(i64::MAX)
        );
        assert_eq!(parse_rfc3339_ns("2262-04-11T23:47:16.854775808Z"), None);
        assert_eq!(
            parse_rfc3339_ns("1677-09-21T00:12:43.145224192Z"),
            Some(i64::MIN)
        );
        assert_eq!(parse_rfc3339_ns("1677-09-21T00:12:43.145224191Z"), None);
        assert_eq!(parse_rfc3339_ns("0000-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_ns("9999-12-31T23:59:59Z"), None);
        // An offset can move an in-range wall time out of range.
        assert_eq!(
            parse_rfc3339_ns("2262-04-11T23:47:16.854775807-00:01"),
            None
        );
    }

    #[test]
    fn format_rfc3339_trims_fraction() {
        assert_eq!(format_rfc3339_ns(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339_ns(1_777_888_800_062_000_000),
            "2026-05-04T10:00:00.062Z"
        );
        assert_eq!(format_rfc3339_ns(100_000_000), "1970-01-01T00:00:00.1Z");
        assert_eq!(format_rfc3339_ns(1), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(
            format_rfc3339_ns(123_456_780),
            "1970-01-01T00:00:00.12345678Z"
        );
    }

    #[test]
    fn format_rfc3339_handles_negative_and_extreme_instants() {
        assert_eq!(format_rfc3339_ns(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format_rfc3339_ns(-1_000_000_000), "1969-12-31T23:59:59Z");
        assert_eq!(
            format_rfc3339_ns(i64::MAX),
            "2262-04-11T23:47:16.854775807Z"
        );
        assert_eq!(
            format_rfc3339_ns(i64::MIN),
            "1677-09-21T00:12:43.145224192Z"
        );
    }

    #[test]
    fn rfc3339_matches_chrono_on_many_instants() {
        use chrono::{DateTime, Utc};
        // A fixed LCG sweep across the whole i64 range plus day and leap-year boundaries.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut samples = vec![
            0,
            -1,
            i64::MAX,
            i64::MIN,
            ns("2000-02-29T23:59:59.999999999Z"),
            ns("1900-03-01T00:00:00Z"),
            ns("2100-02-28T12:00:00Z"),
        ];
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            samples.push(x as i64);
            // Also instants with round fractions, to exercise trimming.
            samples.push((x as i64 / 1_000_000) * 1_000_000);
        }
        for ns in samples {
            let ours = format_rfc3339_ns(ns);
            let dt = DateTime::<Utc>::from_timestamp_nanos(ns);
            let full = dt.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
            let trimmed = full.trim_end_matches('0').trim_end_matches('.');
            assert_eq!(ours, format!("{trimmed}Z"), "{ns}");
            assert_eq!(parse_rfc3339_ns(&ours), Some(ns), "{ours}");
            assert_eq!(parse_rfc3339_ns(&format!("{full}Z")), Some(ns), "{full}");
            let shifted = dt
                .with_timezone(&chrono::FixedOffset::east_opt(-(5 * 3600 + 45 * 60)).unwrap())
                .format("%Y-%m-%dT%H:%M:%S%.9f%:z")
                .to_string();
            let expected = DateTime::parse_from_rfc3339(&shifted)
                .ok()
                .and_then(|d| d.timestamp_nanos_opt());
            assert_eq!(parse_rfc3339_ns(&shifted), expected, "{shifted}");
        }
    }
}
