//! Signals (spec triage §1.1-§1.4): validation of a `POST /v1/signals` body in the specified order, server-owned
//! `signal_id` / `received_at`, unknown top-level keys preserved verbatim, one row of the
//! `signals` table written through the WAL / hot / cold path.
//!
//! Nested values (`resource`, `metadata`, unknown keys) are kept as the client's compact JSON
//! text (key order and number text preserved), hence the raw-value parse.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampNanosecondArray};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::model::rejection::{ErrorClass, Rejection};
pub use crate::model::signal::{Severity, Signal, SignalMeta, SignalType};
use crate::query::rows::RowError;
use crate::rfc3339::{format_rfc3339_ns, parse_rfc3339_ns};
use crate::storage::schema::SIGNALS_SCHEMA;

/// Fixed body limit of `/v1/signals`.
pub const MAX_SIGNAL_BODY: usize = 1 << 20;
const FUTURE_NS: i64 = 300 * 1_000_000_000;
const STRING_FIELDS: [&str; 7] = [
    "type", "source", "service", "env", "severity", "reason", "message",
];

fn field_error(code: &'static str, detail: String) -> Rejection {
    Rejection::new(ErrorClass::BadRequest, code, "invalid signal", detail)
}

/// Compact JSON text without changing key order or number text: drop whitespace outside
/// strings.
pub fn compact_json(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_str = false;
    let mut escaped = false;
    for c in raw.chars() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Validate a body (spec triage §1.2 steps 3-6) at server time `now_ns`.
pub fn validate_signal(body: &[u8], now_ns: i64) -> Result<Signal, Rejection> {
    let invalid_json =
        |d: String| Rejection::new(ErrorClass::BadRequest, "invalid_json", "invalid json", d);
    let map: BTreeMap<String, Box<RawValue>> =
        serde_json::from_slice(body).map_err(|e| invalid_json(e.to_string()))?;
    let parse =
        |k: &str| -> Option<Value> { map.get(k).and_then(|r| serde_json::from_str(r.get()).ok()) };
    // Step 3: types of known fields.
    let mut strings: BTreeMap<&str, Option<String>> = BTreeMap::new();
    for k in STRING_FIELDS {
        let v = match parse(k) {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(invalid_json(format!("{k}: expected a string"))),
        };
        strings.insert(k, v);
    }
    let timestamp = match parse("timestamp") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match parse_rfc3339_ns(&s) {
            Some(ns) => Some(ns),
            None => {
                return Err(invalid_json(format!(
                    "timestamp: {s:?} is not an RFC 3339 timestamp"
                )));
            }
        },
        Some(_) => {
            return Err(invalid_json(
                "timestamp: expected an RFC 3339 string".into(),
            ));
        }
    };
    // Step 4: resource / metadata.
    let mut nested: BTreeMap<&str, Option<String>> = BTreeMap::new();
    for k in ["resource", "metadata"] {
        let v = match parse(k) {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => (!m.is_empty()).then(|| compact_json(map[k].get())),
            Some(_) => {
                return Err(field_error(
                    "invalid_field",
                    format!("{k}: {k} must be a JSON object"),
                ));
            }
        };
        nested.insert(k, v);
    }
    // Step 5: required strings in order, enums right after their own check.
    let present = |k: &str| {
        strings[k]
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    };
    let mut req: BTreeMap<&str, String> = BTreeMap::new();
    for k in ["type", "source", "service", "env", "severity", "reason"] {
        let Some(v) = present(k) else {
            return Err(field_error(
                "invalid_field",
                format!("{k}: {k} is required"),
            ));
        };
        if k == "type" && SignalType::parse(&v).is_none() {
            return Err(field_error(
                "unknown_type",
                format!("type: unknown type {v:?}"),
            ));
        }
        if k == "severity" && Severity::parse(&v).is_none() {
            return Err(field_error(
                "unknown_severity",
                format!("severity: unknown severity {v:?}"),
            ));
        }
        req.insert(k, v);
    }
    // Step 6: timestamp.
    let Some(timestamp_ns) = timestamp else {
        return Err(field_error(
            "invalid_field",
            "timestamp: timestamp is required".into(),
        ));
    };
    if timestamp_ns > now_ns.saturating_add(FUTURE_NS) {
        return Err(field_error(
            "timestamp_too_far_in_future",
            "timestamp: timestamp is too far in the future".into(),
        ));
    }
    let known = |k: &str| {
        STRING_FIELDS.contains(&k)
            || matches!(
                k,
                "timestamp" | "resource" | "metadata" | "signal_id" | "received_at"
            )
    };
    let extra = map
        .iter()
        .filter(|(k, _)| !known(k))
        .map(|(k, v)| (k.clone(), compact_json(v.get())))
        .collect();
    let metadata = nested.remove("metadata").flatten();
    Ok(Signal {
        signal_id: new_signal_id(),
        kind: SignalType::parse(&req["type"]).expect("checked"),
        source: req.remove("source").expect("checked"),
        service: req.remove("service").expect("checked"),
        env: req.remove("env").expect("checked"),
        severity: Severity::parse(&req["severity"]).expect("checked"),
        reason: req.remove("reason").expect("checked"),
        message: strings
            .remove("message")
            .flatten()
            .filter(|m| !m.is_empty()),
        resource: nested.remove("resource").flatten(),
        meta: SignalMeta::from_metadata(metadata.as_deref()),
        metadata,
        extra,
        timestamp_ns,
        received_at_ns: now_ns,
    })
}

/// `sig_` + a random UUIDv4 as 32 lower-case hex digits.
pub fn new_signal_id() -> String {
    let mut v: u128 = rand::random();
    v = (v & !(0xf << 76)) | (0x4 << 76);
    v = (v & !(0x3 << 62)) | (0x2 << 62);
    format!("sig_{v:032x}")
}

/// One `signals` record batch from validated signals.
pub fn signals_to_batch(
    signals: &[Signal],
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let s = |f: &dyn Fn(&Signal) -> Option<String>| -> ArrayRef {
        Arc::new(signals.iter().map(f).collect::<StringArray>())
    };
    let mut cols: Vec<ArrayRef> = vec![
        s(&|x| Some(x.signal_id.clone())),
        s(&|x| Some(x.kind.as_str().to_string())),
        s(&|x| Some(x.source.clone())),
        s(&|x| Some(x.service.clone())),
        s(&|x| Some(x.env.clone())),
        s(&|x| Some(x.severity.as_str().to_string())),
        s(&|x| Some(x.reason.clone())),
        s(&|x| x.message.clone()),
        s(&|x| x.resource.clone()),
        s(&|x| x.metadata.clone()),
        s(&|x| {
            (!x.extra.is_empty()).then(|| {
                let parts: Vec<String> = x
                    .extra
                    .iter()
                    .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
                    .collect();
                format!("{{{}}}", parts.join(","))
            })
        }),
    ];
    for key in SignalMeta::KEYS {
        cols.push(s(&|x| {
            Some(x.meta.get(key).to_string()).filter(|v| !v.is_empty())
        }));
    }
    for f in [|x: &Signal| x.timestamp_ns, |x: &Signal| x.received_at_ns] {
        cols.push(Arc::new(
            TimestampNanosecondArray::from_iter_values(signals.iter().map(f)).with_timezone("UTC"),
        ));
    }
    RecordBatch::try_new(SIGNALS_SCHEMA.clone(), cols)
}

/// Signals back from `signals` rows (the columns of `sql/signals_list.sql`).
pub fn batch_to_signals(batch: &RecordBatch) -> Result<Vec<Signal>, RowError> {
    use datafusion::arrow::array::Array;
    let c = crate::query::rows::Columns::new(batch);
    let names = [
        "signal_id",
        "type",
        "source",
        "service",
        "env",
        "severity",
        "reason",
        "message",
        "resource",
        "metadata",
        "extra",
    ];
    let cols: Vec<StringArray> = names
        .iter()
        .map(|n| c.strings(n))
        .collect::<Result<_, _>>()?;
    let (ts, received) = (c.timestamps("timestamp")?, c.timestamps("received_at")?);
    let mut out = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let get = |i: usize| {
            cols[i]
                .is_valid(row)
                .then(|| cols[i].value(row).to_string())
        };
        let extra: BTreeMap<String, String> = get(10)
            .and_then(|text| serde_json::from_str::<BTreeMap<String, Box<RawValue>>>(&text).ok())
            .map(|m| {
                m.into_iter()
                    .map(|(k, v)| (k, v.get().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let invalid = |name: &str, source| RowError::InvalidValue {
            name: name.to_string(),
            row,
            source,
        };
        let metadata = get(9);
        out.push(Signal {
            signal_id: get(0).unwrap_or_default(),
            kind: get(1)
                .unwrap_or_default()
                .parse::<SignalType>()
                .map_err(|e| invalid("type", e))?,
            source: get(2).unwrap_or_default(),
            service: get(3).unwrap_or_default(),
            env: get(4).unwrap_or_default(),
            severity: get(5)
                .unwrap_or_default()
                .parse::<Severity>()
                .map_err(|e| invalid("severity", e))?,
            reason: get(6).unwrap_or_default(),
            message: get(7),
            resource: get(8),
            meta: SignalMeta::from_metadata(metadata.as_deref()),
            metadata,
            extra,
            timestamp_ns: ts.value(row),
            received_at_ns: received.value(row),
        });
    }
    Ok(out)
}

/// The §1.3 output form: one flat object, keys sorted, extras merged (known keys win).
pub fn signal_json(x: &Signal) -> String {
    let mut parts: BTreeMap<String, String> = x.extra.clone();
    let q = |s: &str| Value::String(s.to_string()).to_string();
    for (k, v) in [
        ("signal_id", q(&x.signal_id)),
        ("type", q(x.kind.as_str())),
        ("source", q(&x.source)),
        ("service", q(&x.service)),
        ("env", q(&x.env)),
        ("severity", q(x.severity.as_str())),
        ("reason", q(&x.reason)),
        ("timestamp", q(&format_rfc3339_ns(x.timestamp_ns))),
        ("received_at", q(&format_rfc3339_ns(x.received_at_ns))),
    ] {
        parts.insert(k.to_string(), v);
    }
    for (k, v) in [
        ("message", x.message.as_ref().map(|m| q(m))),
        ("resource", x.resource.clone()),
        ("metadata", x.metadata.clone()),
    ] {
        match v {
            Some(v) => {
                parts.insert(k.to_string(), v);
            }
            None => {
                parts.remove(k);
            }
        }
    }
    let body: Vec<String> = parts.iter().map(|(k, v)| format!("{}:{v}", q(k))).collect();
    format!("{{{}}}", body.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Array;

    const NOW: i64 = 1_777_896_000_000_000_000; // 2026-05-04T12:00:00Z

    fn body() -> serde_json::Map<String, Value> {
        serde_json::from_str(
            r#"{"type":"dependency","source":"waylog-demo","service":"payment","env":"demo","severity":"critical",
                "reason":"payment_gateway_5xx","timestamp":"2026-05-04T11:58:00+02:00",
                "resource":{"service":"payment","endpoint":"POST /charge"},
                "metadata":{"error_code":"PMT_502","downstream":"payment"}}"#,
        )
        .unwrap()
    }

    fn check(m: &serde_json::Map<String, Value>) -> Result<Signal, (u16, String, String)> {
        validate_signal(Value::Object(m.clone()).to_string().as_bytes(), NOW).map_err(|e| {
            assert_eq!(e.class, ErrorClass::BadRequest);
            (400, e.error.code.to_string(), e.error.detail.clone())
        })
    }

    fn fails(m: serde_json::Map<String, Value>, code: &str, detail: &str) {
        let (status, c, d) = check(&m).unwrap_err();
        assert_eq!(
            (status, c.as_str(), d.as_str()),
            (400, code, detail),
            "{m:?}"
        );
    }

    #[test]
    fn validate_signal_accepts_spec_example_and_normalizes() {
        let s = check(&body()).unwrap();
        assert_eq!(s.kind, SignalType::Dependency);
        assert_eq!(format_rfc3339_ns(s.timestamp_ns), "2026-05-04T09:58:00Z");
        assert!(s.signal_id.starts_with("sig_") && s.signal_id.len() == 36);
        // body() goes through a sorted map, so the text arrives sorted here; client order is
        // covered by signal_json_keeps_unknown_fields_and_sorts_keys.
        assert_eq!(
            s.metadata.as_deref(),
            Some(r#"{"downstream":"payment","error_code":"PMT_502"}"#)
        );
        assert_eq!(s.received_at_ns, NOW);
    }

    #[test]
    fn validate_signal_rules_in_order() {
        let raw = |t: &[u8]| validate_signal(t, NOW).unwrap_err().error.code;
        assert_eq!(raw(b"[1]"), "invalid_json");
        assert_eq!(raw(b"{"), "invalid_json");
        let mut m = body();
        m.insert("service".into(), Value::from(5));
        fails(m, "invalid_json", "service: expected a string");
        let mut m = body();
        m.insert("timestamp".into(), Value::from("yesterday"));
        let (_, c, _) = check(&m).unwrap_err();
        assert_eq!(c, "invalid_json");
        let mut m = body();
        m.insert("metadata".into(), Value::from("x"));
        m.remove("type");
        fails(
            m,
            "invalid_field",
            "metadata: metadata must be a JSON object",
        );
        for k in ["type", "source", "service", "env", "severity", "reason"] {
            let mut m = body();
            m.insert(k.into(), Value::from("   "));
            fails(m, "invalid_field", &format!("{k}: {k} is required"));
        }
        let mut m = body();
        m.insert("type".into(), Value::from("wrong"));
        m.remove("source");
        fails(m, "unknown_type", "type: unknown type \"wrong\"");
        let mut m = body();
        m.insert("severity".into(), Value::from("error"));
        fails(
            m,
            "unknown_severity",
            "severity: unknown severity \"error\"",
        );
        let mut m = body();
        m.insert("timestamp".into(), Value::Null);
        fails(m, "invalid_field", "timestamp: timestamp is required");
        let mut m = body();
        m.insert(
            "timestamp".into(),
            Value::from("2026-05-04T12:05:00.000000001Z"),
        );
        fails(
            m,
            "timestamp_too_far_in_future",
            "timestamp: timestamp is too far in the future",
        );
        let mut m = body();
        m.insert("timestamp".into(), Value::from("2026-05-04T12:05:00Z"));
        assert!(check(&m).is_ok(), "exactly 5 minutes ahead passes");
    }

    #[test]
    fn signal_json_keeps_unknown_fields_and_sorts_keys() {
        let text = r#"{"zeta": {"b": 1.50, "a": [1, 2]}, "type":"deploy","source":"gha","service":"api","env":"prod",
            "severity":"info","reason":"RolloutComplete","timestamp":"2026-05-04T11:00:00Z",
            "signal_id":"client-owned","received_at":7,"message":"","metadata":{}}"#;
        let s = validate_signal(text.as_bytes(), NOW).unwrap();
        assert_eq!(s.metadata, None, "empty metadata omitted");
        assert_eq!(s.message, None);
        let out = signal_json(&s);
        let expected = format!(
            r#"{{"env":"prod","reason":"RolloutComplete","received_at":"2026-05-04T12:00:00Z","service":"api","severity":"info","signal_id":"{}","source":"gha","timestamp":"2026-05-04T11:00:00Z","type":"deploy","zeta":{{"b":1.50,"a":[1,2]}}}}"#,
            s.signal_id
        );
        assert_eq!(out, expected);
        let batch = signals_to_batch(&[s]).unwrap();
        assert_eq!(batch.num_rows(), 1);
    }

    #[test]
    fn signals_to_batch_promotes_metadata_strings() {
        let s = check(&body()).unwrap();
        let b = signals_to_batch(&[s]).unwrap();
        let col = |n: &str| {
            b.column_by_name(n)
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone()
        };
        assert_eq!(col("meta_error_code").value(0), "PMT_502");
        assert!(col("meta_version").is_null(0));
    }
}
