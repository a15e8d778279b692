//! Query parameters of the read API (spec reads §1.2-§1.5): strict names, limits, time
//! windows and keyset cursors. Pure functions: every failure is the spec's `400` as an
//! [`Rejection`].
//!
//! Invariants:
//! - Unknown names are reported before duplicates, duplicates before any value check, and the
//!   first offending name in request order is the one named.
//! - An empty value is the same as an absent parameter; [`Params::get`] never returns `""`.
//! - A [`TimeWindow`] satisfies `since_ns <= until_ns` and `since_ns >= now - R`.

use std::time::Duration;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::duration::{format_duration, parse_duration};
use crate::model::rejection::Rejection;
use crate::model::{EventStatus, status_is_failed};
use crate::rfc3339::parse_rfc3339_ns;

/// `limit` when absent (§1.3).
pub const DEFAULT_LIMIT: usize = 50;
/// Largest accepted `limit` (§1.3).
pub const MAX_LIMIT: usize = 200;

/// The strict query string of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// Decoded `(name, value)` pairs in request order; names are unique.
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parse a raw query string (without `?`) against the endpoint's parameter set.
    pub fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Params, Rejection> {
        let mut pairs = Vec::new();
        for piece in query.unwrap_or("").split('&') {
            if piece.is_empty() {
                continue;
            }
            let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
            let name = crate::percent::decode_query(raw_name)
                .ok_or_else(|| Rejection::bad_request("invalid query string"))?;
            // `+` is a literal in timestamps (`+02:00`); a space is never valid there, so
            // `since`/`until` keep it even when the client did not percent-encode it.
            let plus_is_space = !matches!(name.as_str(), "since" | "until");
            let value = if plus_is_space {
                crate::percent::decode_query(raw_value)
            } else {
                crate::percent::decode_path(raw_value)
            }
            .ok_or_else(|| Rejection::bad_request("invalid query string"))?;
            pairs.push((name, value));
        }
        if let Some((name, _)) = pairs.iter().find(|(n, _)| !allowed.contains(&n.as_str())) {
            return Err(Rejection::bad_request(format!(
                "unknown query parameter: {name}"
            )));
        }
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(Rejection::bad_request(format!(
                    "duplicate query parameter: {name}"
                )));
            }
        }
        Ok(Params { pairs })
    }

    /// Parse without checking names (endpoints whose unknown parameters are ignored): the
    /// first occurrence of a name wins; a malformed escape drops that pair.
    pub fn parse_lenient(query: Option<&str>) -> Params {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for piece in query.unwrap_or("").split('&') {
            let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
            let (Some(name), Some(value)) = (
                crate::percent::decode_query(raw_name),
                crate::percent::decode_query(raw_value),
            ) else {
                continue;
            };
            if !name.is_empty() && !pairs.iter().any(|(n, _)| *n == name) {
                pairs.push((name, value));
            }
        }
        Params { pairs }
    }

    /// The value of `name`; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// `limit` (§1.3): absent → 50; not a base-10 integer or `< 1` → `invalid limit`; `> 200` →
/// `over_limit`.
pub fn parse_limit(value: Option<&str>) -> Result<usize, Rejection> {
    let Some(v) = value else {
        return Ok(DEFAULT_LIMIT);
    };
    let invalid = || Rejection::bad_request("invalid limit");
    let (negative, digits) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let significant = digits.trim_start_matches('0');
    if negative || significant.is_empty() {
        return Err(invalid());
    }
    // Any integer too long to parse is certainly above the cap.
    match significant.parse::<usize>() {
        Ok(n) if n <= MAX_LIMIT => Ok(n),
        _ => Err(Rejection::over_limit(
            "limit exceeds maximum",
            format!("limit must be <= {MAX_LIMIT}"),
        )),
    }
}

/// `status` (§1.2.3): a comma-separated list of event statuses; `None` when absent. Items are
/// returned in request order, deduplicated.
pub fn parse_status_list(value: Option<&str>) -> Result<Option<Vec<&'static str>>, Rejection> {
    let Some(v) = value else {
        return Ok(None);
    };
    let mut out: Vec<&'static str> = Vec::new();
    for item in v.split(',') {
        let item = item.trim();
        let Some(known) = EventStatus::parse(item).map(EventStatus::as_str) else {
            return Err(Rejection::bad_request("invalid status"));
        };
        if !out.contains(&known) {
            out.push(known);
        }
    }
    Ok(Some(out))
}

/// `status` of `/v1/errors` (§2.2): a valid list of failed statuses only.
pub fn parse_failed_status_list(
    value: Option<&str>,
) -> Result<Option<Vec<&'static str>>, Rejection> {
    let list = parse_status_list(value)?;
    if let Some(list) = &list
        && list.iter().any(|s| !status_is_failed(s))
    {
        return Err(Rejection::bad_request(
            "status must be one of error, timeout, partial, aborted",
        ));
    }
    Ok(list)
}

/// `include_suppressed` (§1.2.4); absent → false.
pub fn parse_include_suppressed(value: Option<&str>) -> Result<bool, Rejection> {
    match value {
        None => Ok(false),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
        Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
        Some(_) => Err(Rejection::bad_request("invalid include_suppressed")),
    }
}

/// The statuses an event must have to match the `status` / `include_suppressed` filters of
/// `/v1/traces/recent` and `/v1/events/search` (§4.3, §4.4): the list when given, else every
/// status but `suppressed` unless suppressed events are included.
pub fn status_filter(list: Option<&[&'static str]>, include_suppressed: bool) -> Vec<&'static str> {
    match list {
        Some(list) => list.to_vec(),
        None => EventStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .filter(|s| include_suppressed || *s != "suppressed")
            .collect(),
    }
}

/// A closed interval `[since, until]` of unix ns (§1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub since_ns: i64,
    pub until_ns: i64,
}

/// The fixed slack around a window that bounds a trace's extent (§0 `TRACE_SLACK`).
pub const TRACE_SLACK_NS: i64 = 3_600 * 1_000_000_000;

fn duration_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl TimeWindow {
    /// Resolve `since` / `until` / `window` at `now_ns` under retention `retention`, with the
    /// endpoint's default window (capped by retention).
    pub fn resolve(
        params: &Params,
        now_ns: i64,
        retention: Duration,
        default_window: Duration,
    ) -> Result<TimeWindow, Rejection> {
        let r_ns = duration_ns(retention);
        let oldest = now_ns.saturating_sub(r_ns);
        let since = params.get("since");
        let until = params.get("until");
        if since.is_some() || until.is_some() {
            let since_ns = match since {
                Some(s) => {
                    parse_rfc3339_ns(s).ok_or_else(|| Rejection::bad_request("invalid since"))?
                }
                None => oldest,
            };
            let until_ns = match until {
                Some(s) => {
                    parse_rfc3339_ns(s).ok_or_else(|| Rejection::bad_request("invalid until"))?
                }
                None => now_ns,
            };
            if since_ns < oldest {
                return Err(Rejection::over_limit(
                    "time window exceeds maximum",
                    format!(
                        "since is older than retention ({})",
                        format_duration(retention)
                    ),
                ));
            }
            if since_ns > until_ns {
                return Err(Rejection::bad_request("since must not be after until"));
            }
            return Ok(TimeWindow { since_ns, until_ns });
        }
        let window = match params.get("window") {
            None => default_window.min(retention),
            Some(w) => match parse_duration(w) {
                Some(d) if !d.is_zero() => d,
                _ => return Err(Rejection::bad_request("invalid window")),
            },
        };
        if window > retention {
            return Err(Rejection::over_limit(
                "time window exceeds maximum",
                format!("window exceeds retention ({})", format_duration(retention)),
            ));
        }
        Ok(TimeWindow {
            since_ns: now_ns.saturating_sub(duration_ns(window)),
            until_ns: now_ns,
        })
    }

    /// The echo form of `until − since` (§1.4.3).
    pub fn echo(&self) -> String {
        let ns = self.until_ns.saturating_sub(self.since_ns).max(0);
        format_duration(Duration::from_nanos(ns as u64))
    }

    /// The trace-extent bounds `[since − 1h, until + 1h]` (§0).
    pub fn extent(&self) -> (i64, i64) {
        (
            self.since_ns.saturating_sub(TRACE_SLACK_NS),
            self.until_ns.saturating_add(TRACE_SLACK_NS),
        )
    }

    pub fn contains(&self, ts_ns: i64) -> bool {
        (self.since_ns..=self.until_ns).contains(&ts_ns)
    }
}

// ---------------------------------------------------------------------------------------------
// Cursors (§1.5): compact JSON, base64url without padding; padding accepted on decode.

const CURSOR_ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn encode_cursor<T: Serialize>(cursor: &T) -> String {
    let json = serde_json::to_vec(cursor).expect("a cursor always serializes");
    CURSOR_ENGINE.encode(json)
}

fn invalid_cursor() -> Rejection {
    Rejection::bad_request("invalid cursor")
}

/// The decoded JSON object of a cursor.
fn cursor_object(text: &str) -> Result<Map<String, Value>, Rejection> {
    let bytes = CURSOR_ENGINE
        .decode(text.as_bytes())
        .map_err(|_| invalid_cursor())?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid_cursor()),
    }
}

/// A non-negative integer member (`t`, counts).
fn cursor_int(map: &Map<String, Value>, key: &str) -> Result<i64, Rejection> {
    map.get(key)
        .and_then(Value::as_i64)
        .filter(|n| *n >= 0)
        .ok_or_else(invalid_cursor)
}

/// A non-empty string member (ids, family parts).
fn cursor_id(map: &Map<String, Value>, key: &str) -> Result<String, Rejection> {
    match map.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(invalid_cursor()),
    }
}

/// Events cursor: the next page holds `ts < t`, or `ts = t` and `event_id > e`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventCursor {
    pub t: i64,
    pub e: String,
}

/// Traces cursor: the next page holds `ts < t`, or `ts = t` and `trace_id > r`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceCursor {
    pub t: i64,
    pub r: String,
}

/// Signals cursor: the next page holds `timestamp < t`, or `timestamp = t` and
/// `signal_id < s`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignalCursor {
    pub t: i64,
    pub s: String,
}

impl SignalCursor {
    pub fn decode(text: &str) -> Result<Self, Rejection> {
        let m = cursor_object(text)?;
        Ok(SignalCursor {
            t: cursor_int(&m, "t")?,
            s: cursor_id(&m, "s")?,
        })
    }
    pub fn encode(&self) -> String {
        encode_cursor(self)
    }
}

/// Errors cursor: `count < c`, or `count = c` and `(service, step, code) > (s, p, e)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorsCursor {
    pub c: i64,
    pub s: String,
    pub p: String,
    pub e: String,
}

/// Rollups cursor: `root < r`, or equal and `propagated < p`, or both equal and `code > e`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollupCursor {
    pub r: i64,
    pub p: i64,
    pub e: String,
}

impl EventCursor {
    pub fn decode(text: &str) -> Result<Self, Rejection> {
        let m = cursor_object(text)?;
        Ok(EventCursor {
            t: cursor_int(&m, "t")?,
            e: cursor_id(&m, "e")?,
        })
    }
    pub fn encode(&self) -> String {
        encode_cursor(self)
    }
}

impl TraceCursor {
    pub fn decode(text: &str) -> Result<Self, Rejection> {
        let m = cursor_object(text)?;
        Ok(TraceCursor {
            t: cursor_int(&m, "t")?,
            r: cursor_id(&m, "r")?,
        })
    }
    pub fn encode(&self) -> String {
        encode_cursor(self)
    }
}

impl ErrorsCursor {
    pub fn decode(text: &str) -> Result<Self, Rejection> {
        let m = cursor_object(text)?;
        Ok(ErrorsCursor {
            c: cursor_int(&m, "c")?,
            s: cursor_id(&m, "s")?,
            p: cursor_id(&m, "p")?,
            e: cursor_id(&m, "e")?,
        })
    }
    pub fn encode(&self) -> String {
        encode_cursor(self)
    }
}

impl RollupCursor {
    pub fn decode(text: &str) -> Result<Self, Rejection> {
        let m = cursor_object(text)?;
        Ok(RollupCursor {
            r: cursor_int(&m, "r")?,
            p: cursor_int(&m, "p")?,
            e: cursor_id(&m, "e")?,
        })
    }
    pub fn encode(&self) -> String {
        encode_cursor(self)
    }
}

/// Decode an optional cursor parameter with `decode`.
pub fn parse_cursor<T>(
    value: Option<&str>,
    decode: impl FnOnce(&str) -> Result<T, Rejection>,
) -> Result<Option<T>, Rejection> {
    value.map(decode).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rejection::ErrorClass;

    const NOW: i64 = 1_777_888_800_000_000_000; // 2026-05-04T10:00:00Z
    const HOUR: Duration = Duration::from_secs(3600);
    const WEEK: Duration = Duration::from_secs(7 * 86_400);

    fn detail(e: Rejection) -> (ErrorClass, &'static str, String, String) {
        (e.class, e.error.code, e.error.message, e.error.detail)
    }

    fn bad(detail_text: &str) -> (ErrorClass, &'static str, String, String) {
        (
            ErrorClass::BadRequest,
            "bad_request",
            "bad request".into(),
            detail_text.into(),
        )
    }

    fn over(message: &str, detail_text: &str) -> (ErrorClass, &'static str, String, String) {
        (
            ErrorClass::BadRequest,
            "over_limit",
            message.into(),
            detail_text.into(),
        )
    }

    const ALLOWED: &[&str] = &["service", "status", "since", "until", "window", "limit"];

    #[test]
    fn params_reject_unknown_name_first_in_request_order() {
        let e = Params::parse(Some("service=a&format=json&envelope=v2"), ALLOWED).unwrap_err();
        assert_eq!(detail(e), bad("unknown query parameter: format"));
        // Unknown beats an earlier duplicate.
        let e = Params::parse(Some("service=a&service=b&envelope=v2"), ALLOWED).unwrap_err();
        assert_eq!(detail(e), bad("unknown query parameter: envelope"));
    }

    #[test]
    fn params_reject_duplicate_name_even_when_empty() {
        let e = Params::parse(Some("limit=1&service=&service="), ALLOWED).unwrap_err();
        assert_eq!(detail(e), bad("duplicate query parameter: service"));
    }

    #[test]
    fn params_treat_empty_value_as_absent_and_decode_percent() {
        let p = Params::parse(Some("service=&status=error%2Ctimeout&limit"), ALLOWED).unwrap();
        assert_eq!(p.get("service"), None);
        assert_eq!(p.get("limit"), None);
        assert_eq!(p.get("status"), Some("error,timeout"));
        let p = Params::parse(Some("%73ervice=a+b%20c"), ALLOWED).unwrap();
        assert_eq!(p.get("service"), Some("a b c"));
        assert_eq!(Params::parse(None, ALLOWED).unwrap(), Params::default());
    }

    #[test]
    fn params_keep_plus_in_timestamps() {
        let p = Params::parse(Some("since=2026-05-04T12:00:00+02:00"), ALLOWED).unwrap();
        assert_eq!(p.get("since"), Some("2026-05-04T12:00:00+02:00"));
    }

    #[test]
    fn params_reject_malformed_escape() {
        let e = Params::parse(Some("service=%zz"), ALLOWED).unwrap_err();
        assert_eq!(e.class, ErrorClass::BadRequest);
        let e = Params::parse(Some("service=%ff"), ALLOWED).unwrap_err();
        assert_eq!(e.class, ErrorClass::BadRequest);
    }

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(parse_limit(None).unwrap(), 50);
        assert_eq!(parse_limit(Some("1")).unwrap(), 1);
        assert_eq!(parse_limit(Some("200")).unwrap(), 200);
        assert_eq!(parse_limit(Some("007")).unwrap(), 7);
        for v in ["0", "-1", "abc", "1.5", "1e2", " 5", "", "-", "+"] {
            assert_eq!(
                detail(parse_limit(Some(v)).unwrap_err()),
                bad("invalid limit"),
                "{v}"
            );
        }
        for v in ["201", "99999999999999999999999999"] {
            assert_eq!(
                detail(parse_limit(Some(v)).unwrap_err()),
                over("limit exceeds maximum", "limit must be <= 200"),
                "{v}"
            );
        }
    }

    #[test]
    fn status_list_trims_and_rejects_unknown_or_empty_items() {
        assert_eq!(
            parse_status_list(Some(" error , timeout,error")).unwrap(),
            Some(vec!["error", "timeout"])
        );
        assert_eq!(parse_status_list(None).unwrap(), None);
        for v in ["Error", "error,", "error,,ok", "bogus", " "] {
            assert_eq!(
                detail(parse_status_list(Some(v)).unwrap_err()),
                bad("invalid status"),
                "{v}"
            );
        }
    }

    #[test]
    fn failed_status_list_rejects_ok_and_suppressed() {
        assert_eq!(
            parse_failed_status_list(Some("aborted,partial")).unwrap(),
            Some(vec!["aborted", "partial"])
        );
        for v in ["ok", "error,suppressed"] {
            assert_eq!(
                detail(parse_failed_status_list(Some(v)).unwrap_err()),
                bad("status must be one of error, timeout, partial, aborted")
            );
        }
        assert_eq!(
            detail(parse_failed_status_list(Some("nope")).unwrap_err()),
            bad("invalid status")
        );
    }

    #[test]
    fn include_suppressed_accepts_go_bool_forms_only() {
        for v in ["1", "t", "T", "TRUE", "true", "True"] {
            assert!(parse_include_suppressed(Some(v)).unwrap());
        }
        for v in ["0", "f", "F", "FALSE", "false", "False"] {
            assert!(!parse_include_suppressed(Some(v)).unwrap());
        }
        assert!(!parse_include_suppressed(None).unwrap());
        for v in ["yes", "tRUE", "2", " true"] {
            assert_eq!(
                detail(parse_include_suppressed(Some(v)).unwrap_err()),
                bad("invalid include_suppressed")
            );
        }
    }

    #[test]
    fn status_filter_defaults_exclude_suppressed() {
        assert_eq!(
            status_filter(None, false),
            vec!["ok", "error", "timeout", "partial", "aborted"]
        );
        assert_eq!(status_filter(None, true).len(), 6);
        assert_eq!(status_filter(Some(&["ok"]), true), vec!["ok"]);
    }

    fn window(q: &str) -> Result<TimeWindow, Rejection> {
        let p = Params::parse(Some(q), &["since", "until", "window"]).unwrap();
        TimeWindow::resolve(&p, NOW, WEEK, HOUR)
    }

    #[test]
    fn window_defaults_to_endpoint_default_capped_by_retention() {
        let w = window("").unwrap();
        assert_eq!(w.until_ns - w.since_ns, 3_600_000_000_000);
        assert_eq!(w.echo(), "1h0m0s");
        let p = Params::default();
        let w = TimeWindow::resolve(&p, NOW, HOUR, Duration::from_secs(86_400)).unwrap();
        assert_eq!(w.echo(), "1h0m0s");
    }

    #[test]
    fn window_grammar_and_echo() {
        assert_eq!(window("window=90s").unwrap().echo(), "1m30s");
        assert_eq!(window("window=1.5h").unwrap().echo(), "1h30m0s");
        assert_eq!(window("window=7d").unwrap().echo(), "168h0m0s");
        assert_eq!(window("window=250ms").unwrap().echo(), "250ms");
        assert_eq!(window("window=1h30m").unwrap().until_ns, NOW);
    }

    #[test]
    fn window_rejects_malformed_zero_and_over_retention() {
        for v in ["0s", "0d", "abc", "-1h", "1.5d", "1d2h", "h"] {
            assert_eq!(
                detail(window(&format!("window={v}")).unwrap_err()),
                bad("invalid window"),
                "{v}"
            );
        }
        assert_eq!(
            detail(window("window=8d").unwrap_err()),
            over(
                "time window exceeds maximum",
                "window exceeds retention (168h0m0s)"
            )
        );
    }

    #[test]
    fn since_until_override_window_and_validate() {
        let w =
            window("since=2026-05-04T09:00:00Z&until=2026-05-04T09:30:00.5Z&window=bogus").unwrap();
        assert_eq!(w.echo(), "30m0.5s");
        // until defaults to now, since to now - R.
        let w = window("since=2026-05-04T09:59:59Z").unwrap();
        assert_eq!(w.until_ns, NOW);
        assert_eq!(w.echo(), "1s");
        let w = window("until=2026-05-04T10:00:00Z").unwrap();
        assert_eq!(w.echo(), "168h0m0s");
        // Offsets are honoured.
        let w = window("since=2026-05-04T11:00:00%2B02:00").unwrap();
        assert_eq!(w.echo(), "1h0m0s");
        // Zero-length windows are allowed.
        let w = window("since=2026-05-04T09:00:00Z&until=2026-05-04T09:00:00Z").unwrap();
        assert_eq!(w.echo(), "0s");
        // Exactly at the retention edge passes.
        assert!(window("since=2026-04-27T10:00:00Z").is_ok());
    }

    #[test]
    fn since_until_reject_each_400() {
        assert_eq!(
            detail(window("since=yesterday").unwrap_err()),
            bad("invalid since")
        );
        assert_eq!(
            detail(window("since=2026-05-04T09:00:00Z&until=2026-05-04 10:00:00Z").unwrap_err()),
            bad("invalid until")
        );
        assert_eq!(
            detail(window("since=2026-04-27T09:59:59.999999999Z").unwrap_err()),
            over(
                "time window exceeds maximum",
                "since is older than retention (168h0m0s)"
            )
        );
        assert_eq!(
            detail(window("since=2026-05-04T09:00:00Z&until=2026-05-04T08:00:00Z").unwrap_err()),
            bad("since must not be after until")
        );
    }

    #[test]
    fn window_extent_adds_one_hour_each_side() {
        let w = TimeWindow {
            since_ns: 10 * TRACE_SLACK_NS,
            until_ns: 11 * TRACE_SLACK_NS,
        };
        assert_eq!(w.extent(), (9 * TRACE_SLACK_NS, 12 * TRACE_SLACK_NS));
        assert!(w.contains(w.since_ns) && w.contains(w.until_ns));
        assert!(!w.contains(w.until_ns + 1));
    }

    #[test]
    fn cursors_round_trip_without_padding() {
        let c = EventCursor {
            t: 42,
            e: "ev-1".into(),
        };
        let text = c.encode();
        assert!(!text.contains('='));
        assert_eq!(
            CURSOR_ENGINE.decode(&text).unwrap(),
            br#"{"t":42,"e":"ev-1"}"#
        );
        assert_eq!(EventCursor::decode(&text).unwrap(), c);
        let t = TraceCursor {
            t: 0,
            r: "abc".into(),
        };
        assert_eq!(TraceCursor::decode(&t.encode()).unwrap(), t);
        let e = ErrorsCursor {
            c: 12,
            s: "checkout".into(),
            p: "pay:charge".into(),
            e: "PMT_502".into(),
        };
        assert_eq!(ErrorsCursor::decode(&e.encode()).unwrap(), e);
        let r = RollupCursor {
            r: 20,
            p: 60,
            e: "PMT_502".into(),
        };
        assert_eq!(RollupCursor::decode(&r.encode()).unwrap(), r);
    }

    #[test]
    fn cursor_decoder_accepts_padding() {
        let padded = base64::engine::general_purpose::URL_SAFE.encode(br#"{"t":12,"e":"x"}"#);
        assert!(padded.ends_with('='));
        assert_eq!(
            EventCursor::decode(&padded).unwrap(),
            EventCursor {
                t: 12,
                e: "x".into()
            }
        );
    }

    #[test]
    fn cursor_rejects_every_malformed_form() {
        let enc = |s: &str| CURSOR_ENGINE.encode(s.as_bytes());
        let cases = [
            "!!!not base64".to_string(),
            enc("not json"),
            enc("[1,\"x\"]"),
            enc("{\"e\":\"x\"}"),
            enc("{\"t\":\"1\",\"e\":\"x\"}"),
            enc("{\"t\":1.5,\"e\":\"x\"}"),
            enc("{\"t\":-1,\"e\":\"x\"}"),
            enc("{\"t\":1,\"e\":\"\"}"),
            enc("{\"t\":1,\"e\":7}"),
            enc("{\"t\":18446744073709551615,\"e\":\"x\"}"),
            // Standard (non-url) alphabet characters.
            "eyJ0IjoxLCJlIjoieCJ9+/".to_string(),
        ];
        for c in &cases {
            assert_eq!(
                detail(EventCursor::decode(c).unwrap_err()),
                bad("invalid cursor"),
                "{c}"
            );
        }
        // A cursor of another kind lacks keys.
        let other = TraceCursor {
            t: 1,
            r: "x".into(),
        }
        .encode();
        assert!(EventCursor::decode(&other).is_err());
        assert!(ErrorsCursor::decode(&enc(r#"{"c":1,"s":"a","p":"","e":"c"}"#)).is_err());
        assert!(RollupCursor::decode(&enc(r#"{"r":1,"p":-2,"e":"c"}"#)).is_err());
        assert_eq!(parse_cursor(None, EventCursor::decode).unwrap(), None);
    }
}
