//! Alert intake (spec triage §7.3) without its transport: map the payload ([`super::alerts`])
//! and validate each alert as a signal ([`accept`]); the rows ([`alerts_to_batch`]) and the
//! `201` body ([`Created`]) of the accepted ones. The intake match itself is the incident
//! engine's rule (`crate::incidents::alert_match::intake_match`); the route
//! (`src/api/alerts.rs`) stores every accepted alert as one `signals` row plus one `alerts`
//! row in one WAL commit. When no alert is accepted the first rejection is the error and
//! nothing is stored.

use std::sync::Arc;

use datafusion::arrow::array::TimestampNanosecondArray;
use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
use serde::Serialize;
use serde_json::value::RawValue;

use super::alerts::{AlertRejection, MappedAlert, map_alerts, parse_alert_body, parse_alert_query};
use super::signals::{Signal, signal_json, validate_signal};
use crate::model::rejection::{ErrorClass, Rejection};
use crate::storage::schema::ALERTS_SCHEMA;

/// The intake match of one alert (§7.3 `match`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertMatch {
    pub matched: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    pub strategy: &'static str,
}

impl AlertMatch {
    pub fn none() -> Self {
        AlertMatch {
            matched: false,
            incident_id: None,
            strategy: "none",
        }
    }
}

/// One accepted alert: its stored signal, the mapping's alert columns and its match.
#[derive(Debug)]
pub struct Accepted {
    pub signal: Signal,
    pub mapped: MappedAlert,
    pub matched: AlertMatch,
}

#[derive(Serialize)]
struct ResultEntry {
    signal: Box<RawValue>,
    #[serde(rename = "match")]
    matched: AlertMatch,
}

/// The `201` body.
#[derive(Serialize)]
pub struct Created {
    signal: Box<RawValue>,
    #[serde(rename = "match")]
    matched: AlertMatch,
    results: Vec<ResultEntry>,
    rejected: Vec<AlertRejection>,
}

/// The `alerts` rows of accepted alerts.
pub fn alerts_to_batch(
    accepted: &[Accepted],
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let strings = |f: &dyn Fn(&Accepted) -> Option<String>| -> ArrayRef {
        Arc::new(accepted.iter().map(f).collect::<StringArray>())
    };
    let times = |f: &dyn Fn(&Accepted) -> i64| -> ArrayRef {
        Arc::new(
            TimestampNanosecondArray::from_iter_values(accepted.iter().map(f)).with_timezone("UTC"),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        strings(&|a| Some(a.signal.signal_id.clone())),
        times(&|a| a.signal.received_at_ns),
        strings(&|a| Some(a.mapped.format.as_str().to_string())),
        strings(&|a| a.mapped.alert_id.clone()),
        strings(&|a| a.mapped.alert_status.clone()),
        strings(&|a| a.mapped.fingerprint.clone()),
        Arc::new(BooleanArray::from(
            accepted
                .iter()
                .map(|a| a.matched.matched)
                .collect::<Vec<_>>(),
        )),
        strings(&|a| a.matched.incident_id.clone()),
        strings(&|a| Some(a.matched.strategy.to_string())),
        times(&|a| a.signal.timestamp_ns),
    ];
    RecordBatch::try_new(ALERTS_SCHEMA.clone(), columns)
}

/// Map, validate and match every alert of `body`; `Err` is the whole-request error.
pub fn accept(
    body: &[u8],
    query: Option<&str>,
    now_ns: i64,
) -> Result<(Vec<Accepted>, Vec<AlertRejection>), Rejection> {
    let q = parse_alert_query(query)?;
    let value = parse_alert_body(body)?;
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for (position, item) in map_alerts(&value, &q, now_ns)?.into_iter().enumerate() {
        let mapped = match item {
            Ok(m) => m,
            Err(r) => {
                rejected.push(r);
                continue;
            }
        };
        let text = serde_json::to_vec(&mapped.signal).unwrap_or_default();
        match validate_signal(&text, now_ns) {
            Ok(signal) => accepted.push(Accepted {
                signal,
                mapped,
                matched: AlertMatch::none(),
            }),
            Err(e) => rejected.push(AlertRejection::invalid_alert(position, &e)),
        }
    }
    if accepted.is_empty() {
        return Err(match rejected.into_iter().next() {
            Some(r) => r.into_rejection(),
            None => Rejection::new(
                ErrorClass::BadRequest,
                "MISSING_FIELDS",
                "missing required fields",
                "alerts[] is empty",
            ),
        });
    }
    Ok((accepted, rejected))
}

/// The `201` body: every accepted alert's stored signal and match, the first one also at the
/// top level, and the rejections.
pub fn created(
    accepted: &[Accepted],
    rejected: Vec<AlertRejection>,
) -> Result<Created, serde_json::Error> {
    let mut results = Vec::with_capacity(accepted.len());
    for a in accepted {
        results.push(ResultEntry {
            signal: RawValue::from_string(signal_json(&a.signal))?,
            matched: a.matched.clone(),
        });
    }
    let body = Created {
        signal: results[0].signal.clone(),
        matched: results[0].matched.clone(),
        results,
        rejected,
    };
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfc3339::parse_rfc3339_ns;

    fn now() -> i64 {
        parse_rfc3339_ns("2026-05-12T14:30:00Z").unwrap()
    }

    #[test]
    fn accept_keeps_valid_alerts_and_reports_rejections_by_position() {
        let body = br#"{"receiver":"waylog","alerts":[
            {"status":"firing","labels":{"alertname":"A","service":"payment","env":"prod"},"annotations":{"summary":"s1"}},
            {"status":"firing","labels":{"alertname":"B","env":"prod"},"annotations":{"summary":"s2"}},
            {"status":"firing","startsAt":"2026-05-12T15:00:00Z","labels":{"alertname":"C","service":"payment","env":"prod"}}]}"#;
        let (accepted, rejected) = accept(body, None, now()).unwrap();
        assert_eq!(accepted.len(), 1);
        assert_eq!(accepted[0].signal.reason, "s1");
        assert_eq!(accepted[0].matched, AlertMatch::none());
        let got: Vec<(usize, &str, &str)> = rejected
            .iter()
            .map(|r| (r.position, r.code, r.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (1, "MISSING_FIELDS", "missing required fields"),
                (2, "MISSING_FIELDS", "invalid alert")
            ]
        );
        assert_eq!(
            rejected[1].detail,
            "timestamp: timestamp is too far in the future"
        );
        let batch = alerts_to_batch(&accepted).unwrap();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema(), ALERTS_SCHEMA.clone());
    }

    #[test]
    fn accept_with_nothing_valid_answers_the_first_rejection() {
        let body = br#"{"receiver":"waylog","alerts":[{"labels":{"alertname":"A"}}]}"#;
        let e = accept(body, None, now()).unwrap_err();
        assert_eq!(
            (e.class, e.error.code),
            (ErrorClass::BadRequest, "MISSING_FIELDS")
        );
        assert_eq!(e.error.detail, "service, env, and reason are required");
        let e = accept(br#"{"receiver":"x","alerts":[]}"#, None, now()).unwrap_err();
        assert_eq!(e.error.detail, "alerts[] is empty");
        let e = accept(b"[]", None, now()).unwrap_err();
        assert_eq!(e.error.code, "INVALID_JSON");
        let e = accept(br#"{"hello":1}"#, None, now()).unwrap_err();
        assert_eq!(e.error.code, "UNSUPPORTED_ALERT");
        let e = accept(br#"{"source":"x"}"#, Some("team=a"), now()).unwrap_err();
        assert_eq!(e.error.detail, "unknown query parameter: team");
    }
}
