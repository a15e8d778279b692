//! Validation and normalization of one ingest item into an [`Event`] (spec events §1, §2.4
//! stages 2-5): the rejection reasons, the JSON Pointer of the first offending member, and the
//! normalization choices of §1.8. Timestamps are parsed by [`crate::rfc3339`]; the normalized
//! JSON form is [`Event`]'s derived `Serialize` (in [`super::event`]).
//!
//! Invariants:
//! - Stages run in spec order: `bridge_not_implemented` (stage 2) before
//!   `schema_validation_failed` (stage 3) before `future_timestamp` (stage 4).
//! - Members are checked in the table order of §1.1, nested objects in the order of §1.3/§1.4,
//!   array elements by index, so the JSON Pointer that starts a schema detail names the first
//!   offending member deterministically.
//! - An [`Event`] returned by [`validate_item`] is normalized: optional strings that are empty
//!   are `None`, empty optional objects are `None`, and serializing it yields the §1.8 form.
//!   Serializing that form and validating it again gives back an equal [`Event`].

use serde_json::{Map, Value};

use crate::rfc3339::{Rfc3339Ns, parse_rfc3339_ns};

use super::event::{
    Anchor, Downstream, ErrorRef, Event, EventKind, EventStatus, Log, LogLevel, SchemaVersion,
    Step, StepError, StepStatus,
};

/// Why one item was rejected; the wire names are those of spec events §2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    InvalidJson,
    SchemaValidationFailed,
    BridgeNotImplemented,
    FutureTimestamp,
}

impl RejectReason {
    /// The `rejected[].reason` string.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::SchemaValidationFailed => "schema_validation_failed",
            RejectReason::BridgeNotImplemented => "bridge_not_implemented",
            RejectReason::FutureTimestamp => "future_timestamp",
        }
    }
}

/// One rejected item, before its `index` is attached (spec events §2.6).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemReject {
    pub reason: RejectReason,
    /// Human-readable; schema failures start with the JSON Pointer of the first offending
    /// member (`""` for the item itself), then `": "` and the rule it broke.
    pub detail: String,
    /// Set when the item is an object whose `event_id` is a non-empty string.
    pub event_id: Option<String>,
}

/// How far `ts_start` may lie after the server's clock (spec events §1.2); exactly this passes.
const FUTURE_GUARD_NS: i64 = 300 * 1_000_000_000;

/// Stages 2-5 of spec events §2.4 on one parsed item. `now_ns` = server now, unix ns UTC.
///
/// Normalization choices (§1.8 "omitted when empty"): an empty `version`, `anchor.kind`,
/// step `span_id`, error-ref `reason` and empty strings inside `downstream` / a step's `error`
/// become `None`; a `downstream` or step `error` left with no member, and an empty `fields` or
/// log `fields` object, become `None`; absent or empty `steps`, `logs`, `errors` are empty.
pub fn validate_item(value: &Value, now_ns: i64) -> Result<Event, ItemReject> {
    // Stage 2: a schema 1.x event is recognised before any other check.
    if let Some(version) = value.get("schema_version").and_then(Value::as_str)
        && version.starts_with("1.")
    {
        return Err(reject(
            value,
            RejectReason::BridgeNotImplemented,
            "/schema_version: schema 1.x events are not accepted (no 1.x bridge); send schema 2.0"
                .to_owned(),
        ));
    }
    // Stage 3 (and 5: the event is built in normalized form while validating).
    let event = match parse_event(value) {
        Ok(event) => event,
        Err(err) => {
            return Err(reject(
                value,
                RejectReason::SchemaValidationFailed,
                err.into_detail(),
            ));
        }
    };
    // Stage 4: only a schema-valid event reaches the future guard.
    if event.ts_start_ns > now_ns.saturating_add(FUTURE_GUARD_NS) {
        return Err(reject(
            value,
            RejectReason::FutureTimestamp,
            format!(
                "/ts_start: {} is more than 300 s after server time {}",
                Rfc3339Ns(event.ts_start_ns),
                Rfc3339Ns(now_ns)
            ),
        ));
    }
    Ok(event)
}

fn reject(value: &Value, reason: RejectReason, detail: String) -> ItemReject {
    let event_id = value
        .get("event_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    ItemReject {
        reason,
        detail,
        event_id,
    }
}

// ---------------------------------------------------------------------------------------------
// Schema validation (stage 3) building the normalized event.

/// A JSON Pointer under construction; rendered only when a check fails, so the happy path
/// allocates nothing for paths.
#[derive(Clone, Copy)]
struct Ptr<'a> {
    parent: Option<&'a Ptr<'a>>,
    seg: Seg,
}

#[derive(Clone, Copy)]
enum Seg {
    Root,
    Key(&'static str),
    Index(usize),
}

impl<'a> Ptr<'a> {
    const ROOT: Ptr<'static> = Ptr {
        parent: None,
        seg: Seg::Root,
    };

    fn key(&'a self, key: &'static str) -> Ptr<'a> {
        Ptr {
            parent: Some(self),
            seg: Seg::Key(key),
        }
    }

    fn index(&'a self, index: usize) -> Ptr<'a> {
        Ptr {
            parent: Some(self),
            seg: Seg::Index(index),
        }
    }

    fn render(&self, out: &mut String) {
        if let Some(parent) = self.parent {
            parent.render(out);
        }
        // Defined member names contain neither `~` nor `/`, so no pointer escaping is needed.
        match self.seg {
            Seg::Root => {}
            Seg::Key(key) => {
                out.push('/');
                out.push_str(key);
            }
            Seg::Index(index) => {
                out.push('/');
                out.push_str(&index.to_string());
            }
        }
    }

    fn fail<T>(&self, message: impl Into<String>) -> Result<T, SchemaError> {
        let mut pointer = String::new();
        self.render(&mut pointer);
        Err(SchemaError {
            pointer,
            message: message.into(),
        })
    }
}

struct SchemaError {
    pointer: String,
    message: String,
}

impl SchemaError {
    fn into_detail(self) -> String {
        format!("{}: {}", self.pointer, self.message)
    }
}

type Checked<T> = Result<T, SchemaError>;

const MSG_REQUIRED: &str = "required";
const MSG_NULL: &str = "must not be null (omit the member instead)";
const MSG_STRING: &str = "must be a string";
const MSG_NON_EMPTY: &str = "must be a non-empty string";
const MSG_OBJECT: &str = "must be an object";
const MSG_ARRAY: &str = "must be an array";
const MSG_INTEGER: &str = "must be an integer from 0 to 9223372036854775807";
const MSG_TIMESTAMP: &str =
    "must be an RFC 3339 timestamp YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)";
const MSG_SPAN_ID: &str = "must match ^([0-9a-f]{16})?$";

/// A JSON object being validated, with the pointer it sits at.
#[derive(Clone, Copy)]
struct Obj<'v, 'a> {
    map: &'v Map<String, Value>,
    at: &'a Ptr<'a>,
}

impl<'v, 'a> Obj<'v, 'a> {
    fn of(value: &'v Value, at: &'a Ptr<'a>) -> Checked<Self> {
        match value {
            Value::Object(map) => Ok(Obj { map, at }),
            _ => at.fail(MSG_OBJECT),
        }
    }

    fn fail<T>(&self, key: &'static str, message: impl Into<String>) -> Checked<T> {
        self.at.key(key).fail(message)
    }

    /// A defined member: `None` when absent; `null` is never valid (§1.1).
    fn member(&self, key: &'static str) -> Checked<Option<&'v Value>> {
        match self.map.get(key) {
            Some(Value::Null) => self.fail(key, MSG_NULL),
            other => Ok(other),
        }
    }

    fn required(&self, key: &'static str) -> Checked<&'v Value> {
        match self.member(key)? {
            Some(value) => Ok(value),
            None => self.fail(key, MSG_REQUIRED),
        }
    }

    fn req_str(&self, key: &'static str) -> Checked<&'v str> {
        match self.required(key)? {
            Value::String(s) => Ok(s),
            _ => self.fail(key, MSG_STRING),
        }
    }

    fn req_non_empty(&self, key: &'static str) -> Checked<&'v str> {
        match self.required(key)? {
            Value::String(s) if !s.is_empty() => Ok(s),
            _ => self.fail(key, MSG_NON_EMPTY),
        }
    }

    fn opt_str(&self, key: &'static str) -> Checked<Option<&'v str>> {
        match self.member(key)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => self.fail(key, MSG_STRING),
        }
    }

    /// An optional string, normalized to `None` when empty (§1.8).
    fn opt_non_empty_owned(&self, key: &'static str) -> Checked<Option<String>> {
        Ok(self
            .opt_str(key)?
            .filter(|s| !s.is_empty())
            .map(str::to_owned))
    }

    /// A string that must be one of `all` (exact match); the message lists them in order.
    fn req_enum<T: Copy>(
        &self,
        key: &'static str,
        all: &[T],
        wire: fn(T) -> &'static str,
    ) -> Checked<T> {
        let s = self.req_str(key)?;
        if let Some(value) = all.iter().copied().find(|v| wire(*v) == s) {
            return Ok(value);
        }
        let list = all
            .iter()
            .map(|a| format!("\"{}\"", wire(*a)))
            .collect::<Vec<_>>()
            .join(", ");
        self.fail(key, format!("must be one of {list}"))
    }

    /// §1.2: a JSON number without fraction or exponent in 0..=i64::MAX. serde_json yields
    /// u64/i64 exactly for such literals and f64 for anything with a fraction or exponent (and
    /// for `-0`, which is therefore rejected too).
    fn opt_integer(&self, key: &'static str) -> Checked<Option<i64>> {
        match self.member(key)? {
            None => Ok(None),
            Some(value) => match value.as_u64().and_then(|n| i64::try_from(n).ok()) {
                Some(n) => Ok(Some(n)),
                None => self.fail(key, MSG_INTEGER),
            },
        }
    }

    fn req_integer(&self, key: &'static str) -> Checked<i64> {
        match self.opt_integer(key)? {
            Some(n) => Ok(n),
            None => self.fail(key, MSG_REQUIRED),
        }
    }

    fn req_timestamp(&self, key: &'static str) -> Checked<i64> {
        match self.required(key)?.as_str().and_then(parse_rfc3339_ns) {
            Some(ns) => Ok(ns),
            None => self.fail(key, MSG_TIMESTAMP),
        }
    }

    fn opt_object(&self, key: &'static str) -> Checked<Option<&'v Map<String, Value>>> {
        match self.member(key)? {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => self.fail(key, MSG_OBJECT),
        }
    }

    fn opt_array(&self, key: &'static str) -> Checked<&'v [Value]> {
        match self.member(key)? {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => self.fail(key, MSG_ARRAY),
        }
    }

    /// A free-form bag kept verbatim (§1.5); an empty object is omitted (§1.8).
    fn opt_fields(&self, key: &'static str) -> Checked<Option<Map<String, Value>>> {
        Ok(self
            .opt_object(key)?
            .filter(|fields| !fields.is_empty())
            .cloned())
    }

    /// `^([0-9a-f]{16})?$`; absent reads as `""`.
    fn opt_span_id(&self, key: &'static str) -> Checked<&'v str> {
        let s = self.opt_str(key)?.unwrap_or("");
        if s.is_empty() || is_lower_hex(s, 16) {
            Ok(s)
        } else {
            self.fail(key, MSG_SPAN_ID)
        }
    }

    /// Elements of an optional array, each parsed at its own index pointer.
    fn opt_list<T>(
        &self,
        key: &'static str,
        parse: impl Fn(&'v Value, &Ptr<'_>) -> Checked<T>,
    ) -> Checked<Vec<T>> {
        let items = self.opt_array(key)?;
        let at = self.at.key(key);
        items
            .iter()
            .enumerate()
            .map(|(i, item)| parse(item, &at.index(i)))
            .collect()
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn parse_event(value: &Value) -> Checked<Event> {
    let root = Ptr::ROOT;
    if !value.is_object() {
        return root.fail("not an object");
    }
    let obj = Obj::of(value, &root)?;

    if obj.required("schema_version")?.as_str() != Some("2.0") {
        return obj.fail("schema_version", "must be the string \"2.0\"");
    }
    let event_id = obj.req_non_empty("event_id")?;
    let ts_start_ns = obj.req_timestamp("ts_start")?;
    let ts_end_ns = obj.req_timestamp("ts_end")?;
    let duration_ms = obj.opt_integer("duration_ms")?.unwrap_or(0);
    let kind = obj.req_enum("kind", EventKind::ALL, EventKind::as_str)?;
    let service = obj.req_non_empty("service")?;
    let env = obj.req_non_empty("env")?;
    // The spec omits `version` "when empty", so an empty string is normalized away.
    let version = obj.opt_non_empty_owned("version")?;
    let trace_id = obj.req_str("trace_id")?;
    if !is_lower_hex(trace_id, 32) {
        return obj.fail("trace_id", "must match ^[0-9a-f]{32}$");
    }
    let span_id = obj.opt_span_id("span_id")?;
    let parent_span_id = obj.opt_span_id("parent_span_id")?;
    let status = obj.req_enum("status", EventStatus::ALL, EventStatus::as_str)?;
    let anchor = match obj.opt_object("anchor")? {
        Some(map) => Some(parse_anchor(Obj {
            map,
            at: &root.key("anchor"),
        })?),
        None if status.is_failed() => {
            return obj.fail("anchor", format!("required when status is \"{status}\""));
        }
        None => None,
    };
    let steps = obj.opt_list("steps", parse_step)?;
    let logs = obj.opt_list("logs", parse_log)?;
    let fields = obj.opt_fields("fields")?;
    let errors = obj.opt_list("errors", parse_error_ref)?;

    Ok(Event {
        schema_version: SchemaVersion::V2,
        event_id: event_id.to_owned(),
        ts_start_ns,
        ts_end_ns,
        duration_ms,
        kind,
        service: service.to_owned(),
        env: env.to_owned(),
        version,
        trace_id: trace_id.to_owned(),
        span_id: span_id.to_owned(),
        parent_span_id: parent_span_id.to_owned(),
        status,
        anchor,
        steps,
        logs,
        fields,
        errors,
    })
}

/// [`validate_item`] on an owned value: the `fields` object moves into the event instead of
/// being deep-copied (the ingest hot path). Same results as [`validate_item`] in every case:
/// when `fields` is present but not an object the borrowed path runs, so the first offending
/// member is reported in the same order.
pub fn validate_item_owned(mut value: Value, now_ns: i64) -> Result<Event, ItemReject> {
    let movable = matches!(value.get("fields"), Some(Value::Object(_)));
    if !movable {
        return validate_item(&value, now_ns);
    }
    let fields = match value.as_object_mut().and_then(|m| m.remove("fields")) {
        Some(Value::Object(map)) => map,
        _ => return validate_item(&value, now_ns),
    };
    let mut event = validate_item(&value, now_ns)?;
    event.fields = (!fields.is_empty()).then_some(fields);
    Ok(event)
}

/// Any present anchor must be complete, whatever the status: §1.3 marks `step` and
/// `error_code` required inside it, and an `ok` event's anchor is still stored.
fn parse_anchor(obj: Obj<'_, '_>) -> Checked<Anchor> {
    Ok(Anchor {
        step: obj.req_non_empty("step")?.to_owned(),
        error_code: obj.req_non_empty("error_code")?.to_owned(),
        kind: obj.opt_non_empty_owned("kind")?,
    })
}

fn parse_step(value: &Value, at: &Ptr<'_>) -> Checked<Step> {
    let obj = Obj::of(value, at)?;
    let name = obj.req_non_empty("name")?;
    let span_id = obj.opt_span_id("span_id")?;
    // An outgoing call must carry the span id it sent, or its callee can never link to it.
    // Presence of the `downstream` key decides (as in the v2 JSON schema); an empty span id
    // does not satisfy it, because normalization drops empty span ids (§1.8) and a stored
    // event must validate again.
    if span_id.is_empty() && obj.map.contains_key("downstream") {
        return obj.fail("span_id", "required when downstream is present");
    }
    let start_ms = obj.req_integer("start_ms")?;
    let duration_ms = obj.req_integer("duration_ms")?;
    let status = obj.req_enum("status", StepStatus::ALL, StepStatus::as_str)?;

    let downstream = match obj.opt_object("downstream")? {
        Some(map) => {
            let d = Obj {
                map,
                at: &at.key("downstream"),
            };
            Some(Downstream {
                service: d.opt_non_empty_owned("service")?,
                endpoint: d.opt_non_empty_owned("endpoint")?,
                kind: d.opt_non_empty_owned("kind")?,
            })
        }
        None => None,
    }
    .filter(|d| !d.is_empty());

    let error = match obj.opt_object("error")? {
        Some(map) => {
            let e = Obj {
                map,
                at: &at.key("error"),
            };
            Some(StepError {
                code: e.opt_non_empty_owned("code")?,
                reason: e.opt_non_empty_owned("reason")?,
                cause: e.opt_non_empty_owned("cause")?,
            })
        }
        None => None,
    }
    .filter(|e| !e.is_empty());

    Ok(Step {
        name: name.to_owned(),
        span_id: (!span_id.is_empty()).then(|| span_id.to_owned()),
        start_ms,
        duration_ms,
        status,
        downstream,
        error,
    })
}

fn parse_log(value: &Value, at: &Ptr<'_>) -> Checked<Log> {
    let obj = Obj::of(value, at)?;
    Ok(Log {
        ts_offset_ms: obj.req_integer("ts_offset_ms")?,
        level: obj.req_enum("level", LogLevel::ALL, LogLevel::as_str)?,
        msg: obj.req_str("msg")?.to_owned(),
        fields: obj.opt_fields("fields")?,
    })
}

/// `code` may be empty: §1.4 (unlike `anchor.error_code`) sets no minimum length.
fn parse_error_ref(value: &Value, at: &Ptr<'_>) -> Checked<ErrorRef> {
    let obj = Obj::of(value, at)?;
    Ok(ErrorRef {
        code: obj.req_str("code")?.to_owned(),
        reason: obj.opt_non_empty_owned("reason")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Spec events §1.9, verbatim.
    const EXAMPLE: &str = r#"{"schema_version":"2.0","event_id":"3f6c1e0a-8d2b-4c71-9e55-0b7a2d4c9e13","ts_start":"2026-05-04T10:00:00Z",
 "ts_end":"2026-05-04T10:00:00.062Z","duration_ms":62,"kind":"http","service":"checkout","env":"prod",
 "version":"2026.05.04-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"a1b2c3d4e5f60718",
 "parent_span_id":"","status":"error","anchor":{"step":"payment.charge","error_code":"PMT_502","kind":"downstream"},
 "steps":[{"name":"cart.load","start_ms":0,"duration_ms":6,"status":"ok"},
   {"name":"payment.charge","span_id":"53995c3f42cd8ad8","start_ms":9,"duration_ms":40,"status":"error",
    "downstream":{"service":"payment","endpoint":"/charge","kind":"http"},
    "error":{"code":"PMT_502","reason":"acquirer returned 502"}}],
 "logs":[{"ts_offset_ms":50,"level":"warn","msg":"payment failed, not retrying","fields":{"attempt":1}}],
 "fields":{"http":{"method":"POST","route":"/checkout","status":502},
           "user":{"id":"u-8812","region":"eu-west-1","tier":"gold"}},
 "errors":[{"code":"PMT_502","reason":"acquirer returned 502"}]}"#;

    /// §1.9 in the normalized form of §1.8.
    const EXAMPLE_NORMALIZED: &str = concat!(
        r#"{"schema_version":"2.0","event_id":"3f6c1e0a-8d2b-4c71-9e55-0b7a2d4c9e13","#,
        r#""ts_start":"2026-05-04T10:00:00Z","ts_end":"2026-05-04T10:00:00.062Z","duration_ms":62,"#,
        r#""kind":"http","service":"checkout","env":"prod","version":"2026.05.04-1","#,
        r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"a1b2c3d4e5f60718","#,
        r#""parent_span_id":"","status":"error","#,
        r#""anchor":{"step":"payment.charge","error_code":"PMT_502","kind":"downstream"},"#,
        r#""steps":[{"name":"cart.load","start_ms":0,"duration_ms":6,"status":"ok"},"#,
        r#"{"name":"payment.charge","span_id":"53995c3f42cd8ad8","start_ms":9,"duration_ms":40,"#,
        r#""status":"error","downstream":{"service":"payment","endpoint":"/charge","kind":"http"},"#,
        r#""error":{"code":"PMT_502","reason":"acquirer returned 502"}}],"#,
        r#""logs":[{"ts_offset_ms":50,"level":"warn","msg":"payment failed, not retrying","#,
        r#""fields":{"attempt":1}}],"#,
        r#""fields":{"http":{"method":"POST","route":"/checkout","status":502},"#,
        r#""user":{"id":"u-8812","region":"eu-west-1","tier":"gold"}},"#,
        r#""errors":[{"code":"PMT_502","reason":"acquirer returned 502"}]}"#,
    );

    /// The converted OTLP event of §4.5, already normalized.
    const OTLP_EXAMPLE_NORMALIZED: &str = concat!(
        r#"{"schema_version":"2.0","event_id":"84e30b51-2cfe-5569-bd30-9bc7b58b40b8","#,
        r#""ts_start":"2026-05-04T10:00:00.012Z","ts_end":"2026-05-04T10:00:00.047Z","#,
        r#""duration_ms":35,"kind":"http","service":"payment","env":"prod","version":"1.4.2","#,
        r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","#,
        r#""parent_span_id":"53995c3f42cd8ad8","status":"error","#,
        r#""anchor":{"step":"/charge","error_code":"PMT_502","kind":"otlp"},"#,
        r#""steps":[{"name":"/charge","span_id":"00f067aa0ba902b7","start_ms":0,"duration_ms":35,"#,
        r#""status":"error","error":{"code":"PMT_502","reason":"acquirer returned 502","cause":"otlp"}}],"#,
        r#""logs":[{"ts_offset_ms":0,"level":"error","msg":"acquirer returned 502","#,
        r#""fields":{"error_code":"PMT_502"}}],"#,
        r#""fields":{"http":{"method":"POST","route":"/charge","status":502},"#,
        r#""otel":{"span_kind":"SPAN_KIND_SERVER","span_name":"POST /charge"}},"#,
        r#""errors":[{"code":"PMT_502","reason":"acquirer returned 502"}]}"#,
    );

    const EXAMPLE_EVENT_ID: &str = "3f6c1e0a-8d2b-4c71-9e55-0b7a2d4c9e13";

    fn ns(s: &str) -> i64 {
        parse_rfc3339_ns(s).unwrap()
    }

    /// Server "now" for the tests: the example's `ts_start`.
    fn now() -> i64 {
        ns("2026-05-04T10:00:00Z")
    }

    fn example() -> Value {
        serde_json::from_str(EXAMPLE).unwrap()
    }

    /// The example with member `key` of the object at `parent` set to `value`.
    fn with(parent: &str, key: &str, value: Value) -> Value {
        let mut v = example();
        v.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.to_owned(), value);
        v
    }

    /// The example with member `key` of the object at `parent` removed.
    fn without(parent: &str, key: &str) -> Value {
        let mut v = example();
        let removed = v
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
        assert!(removed.is_some(), "{parent}/{key} not in the example");
        v
    }

    /// The example text with `from` (which must occur) replaced once by `to`.
    fn example_text_with(from: &str, to: &str) -> Value {
        assert!(EXAMPLE.contains(from), "{from} not in the example");
        serde_json::from_str(&EXAMPLE.replacen(from, to, 1)).unwrap()
    }

    fn accept(v: &Value) -> Event {
        match validate_item(v, now()) {
            Ok(event) => event,
            Err(reject) => panic!("rejected: {reject:?}"),
        }
    }

    fn reject_of(v: &Value) -> ItemReject {
        match validate_item(v, now()) {
            Ok(event) => panic!("accepted: {event:?}"),
            Err(reject) => reject,
        }
    }

    /// Asserts a schema failure whose detail names `pointer` first.
    fn assert_schema_fail(v: &Value, pointer: &str) -> ItemReject {
        let reject = reject_of(v);
        assert_eq!(
            reject.reason,
            RejectReason::SchemaValidationFailed,
            "{reject:?}"
        );
        assert!(
            reject.detail.starts_with(&format!("{pointer}: ")),
            "detail {:?} does not start with pointer {pointer:?}",
            reject.detail
        );
        reject
    }

    fn to_json(event: &Event) -> String {
        serde_json::to_string(event).unwrap()
    }

    // --- RejectReason -----------------------------------------------------------------------

    #[test]
    fn validate_item_owned_agrees_with_borrowed_path() {
        let mut cases = vec![example()];
        cases.push(with("", "fields", json!({})));
        cases.push(with("", "fields", json!([1])));
        cases.push(with("", "fields", Value::Null));
        cases.push(without("", "fields"));
        cases.push(with("", "errors", json!("x")));
        cases.push(with("", "kind", json!("grpc")));
        for v in cases {
            assert_eq!(
                validate_item_owned(v.clone(), now()),
                validate_item(&v, now()),
                "{v}"
            );
        }
    }

    #[test]
    fn reject_reason_as_str_matches_wire_names() {
        assert_eq!(RejectReason::InvalidJson.as_str(), "invalid_json");
        assert_eq!(
            RejectReason::SchemaValidationFailed.as_str(),
            "schema_validation_failed"
        );
        assert_eq!(
            RejectReason::BridgeNotImplemented.as_str(),
            "bridge_not_implemented"
        );
        assert_eq!(RejectReason::FutureTimestamp.as_str(), "future_timestamp");
    }

    // --- §1.9 example and normalized form ----------------------------------------------------

    #[test]
    fn validate_accepts_spec_example() {
        let event = accept(&example());
        assert_eq!(event.event_id, EXAMPLE_EVENT_ID);
        assert_eq!(event.ts_start_ns, 1_777_888_800_000_000_000);
        assert_eq!(event.ts_end_ns, 1_777_888_800_062_000_000);
        assert_eq!(event.duration_ms, 62);
        assert_eq!(event.kind, "http");
        assert_eq!(event.version.as_deref(), Some("2026.05.04-1"));
        assert_eq!(event.span_id, "a1b2c3d4e5f60718");
        assert_eq!(event.parent_span_id, "");
        assert_eq!(
            event.anchor,
            Some(Anchor {
                step: "payment.charge".into(),
                error_code: "PMT_502".into(),
                kind: Some("downstream".into()),
            })
        );
        assert_eq!(event.steps.len(), 2);
        assert_eq!(event.steps[0].span_id, None);
        assert_eq!(event.steps[0].downstream, None);
        assert_eq!(event.steps[1].span_id.as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(
            event.steps[1].downstream,
            Some(Downstream {
                service: Some("payment".into()),
                endpoint: Some("/charge".into()),
                kind: Some("http".into()),
            })
        );
        assert_eq!(
            event.steps[1].error,
            Some(StepError {
                code: Some("PMT_502".into()),
                reason: Some("acquirer returned 502".into()),
                cause: None,
            })
        );
        assert_eq!(
            event.logs[0].fields,
            Some(json!({"attempt": 1}).as_object().cloned().unwrap())
        );
        assert_eq!(event.fields.as_ref().unwrap()["http"]["status"], json!(502));
        assert_eq!(
            event.errors,
            vec![ErrorRef {
                code: "PMT_502".into(),
                reason: Some("acquirer returned 502".into()),
            }]
        );
    }

    #[test]
    fn serialize_writes_normalized_form_for_spec_example() {
        assert_eq!(to_json(&accept(&example())), EXAMPLE_NORMALIZED);
    }

    #[test]
    fn serialize_round_trips_otlp_example_unchanged() {
        let v: Value = serde_json::from_str(OTLP_EXAMPLE_NORMALIZED).unwrap();
        assert_eq!(to_json(&accept(&v)), OTLP_EXAMPLE_NORMALIZED);
    }

    #[test]
    fn serialize_output_revalidates_to_equal_event() {
        let event = accept(&example());
        let again: Value = serde_json::from_str(&to_json(&event)).unwrap();
        assert_eq!(accept(&again), event);
    }

    #[test]
    fn normalize_reorders_drops_empties_and_converts_to_utc() {
        let messy = r#"{"unknown":{"deep":1},"errors":[],
            "fields":{"z":{"b":1,"a":[{"d":1,"c":2}]},"a":18446744073709551616,"m":-5,"n":1.50},
            "logs":[{"msg":"","level":"info","ts_offset_ms":0,"fields":{},"x":1}],
            "steps":[{"status":"ok","duration_ms":1,"start_ms":0,"name":"a","span_id":"",
                      "error":{"code":"","reason":"","cause":""},"extra":true},
                     {"name":"b","span_id":"0123456789abcdef","start_ms":2,"duration_ms":3,"status":"error",
                      "downstream":{"service":"pay","endpoint":"","kind":"","x":"y"},
                      "error":{"code":"","cause":"boom"}}],
            "status":"ok","anchor":{"error_code":"E1","step":"s","kind":"","x":0},
            "version":"","env":"e","service":"s","kind":"rpc",
            "ts_end":"2026-05-04T12:00:00.100000000+02:00","ts_start":"2026-05-04T05:30:00.000000000-04:30",
            "event_id":"id-1","schema_version":"2.0","trace_id":"0123456789abcdef0123456789abcdef"}"#;
        let expected = concat!(
            r#"{"schema_version":"2.0","event_id":"id-1","ts_start":"2026-05-04T10:00:00Z","#,
            r#""ts_end":"2026-05-04T10:00:00.1Z","duration_ms":0,"kind":"rpc","service":"s","env":"e","#,
            r#""trace_id":"0123456789abcdef0123456789abcdef","span_id":"","parent_span_id":"","#,
            r#""status":"ok","anchor":{"step":"s","error_code":"E1"},"#,
            r#""steps":[{"name":"a","start_ms":0,"duration_ms":1,"status":"ok"},"#,
            r#"{"name":"b","span_id":"0123456789abcdef","start_ms":2,"duration_ms":3,"status":"error","#,
            r#""downstream":{"service":"pay"},"error":{"cause":"boom"}}],"#,
            r#""logs":[{"ts_offset_ms":0,"level":"info","msg":""}],"#,
            r#""fields":{"a":1.8446744073709552e+19,"m":-5,"n":1.5,"z":{"a":[{"c":2,"d":1}],"b":1}}}"#,
        );
        let event = accept(&serde_json::from_str(messy).unwrap());
        assert_eq!(event.version, None);
        assert_eq!(event.steps[0].span_id, None);
        assert_eq!(event.steps[0].error, None);
        assert_eq!(event.logs[0].fields, None);
        assert!(event.errors.is_empty());
        let json = to_json(&event);
        assert_eq!(json, expected);
        // Idempotent: the normalized form normalizes to itself.
        let again = accept(&serde_json::from_str(&json).unwrap());
        assert_eq!(again, event);
        assert_eq!(to_json(&again), expected);
    }

    #[test]
    fn normalize_omits_downstream_when_all_members_empty() {
        let v = with(
            "/steps/1",
            "downstream",
            json!({"service": "", "endpoint": "", "kind": ""}),
        );
        let event = accept(&v);
        assert_eq!(event.steps[1].downstream, None);
        assert!(!to_json(&event).contains("\"downstream\":"));
    }

    #[test]
    fn normalize_omits_empty_arrays_and_fields() {
        let mut v = example();
        let obj = v.as_object_mut().unwrap();
        obj.insert("steps".into(), json!([]));
        obj.insert("logs".into(), json!([]));
        obj.insert("errors".into(), json!([]));
        obj.insert("fields".into(), json!({}));
        let event = accept(&v);
        assert!(event.steps.is_empty() && event.logs.is_empty() && event.errors.is_empty());
        assert_eq!(event.fields, None);
        let json = to_json(&event);
        for member in ["\"steps\"", "\"logs\"", "\"errors\"", "\"fields\""] {
            assert!(!json.contains(member), "{member} in {json}");
        }
    }

    #[test]
    fn normalize_drops_empty_error_ref_reason_and_anchor_kind() {
        let mut v = with("/errors/0", "reason", json!(""));
        v["anchor"]["kind"] = json!("");
        let event = accept(&v);
        assert_eq!(event.errors[0].reason, None);
        assert_eq!(event.anchor.as_ref().unwrap().kind, None);
        let json = to_json(&event);
        assert!(json.contains(r#""anchor":{"step":"payment.charge","error_code":"PMT_502"}"#));
        assert!(json.contains(r#""errors":[{"code":"PMT_502"}]"#));
    }

    #[test]
    fn serialize_skips_empty_optionals_in_hand_built_event() {
        let event = Event {
            schema_version: SchemaVersion::V2,
            event_id: "e".into(),
            ts_start_ns: 0,
            ts_end_ns: -1,
            duration_ms: 0,
            kind: EventKind::Http,
            service: "s".into(),
            env: "p".into(),
            version: Some(String::new()),
            trace_id: "0123456789abcdef0123456789abcdef".into(),
            span_id: String::new(),
            parent_span_id: String::new(),
            status: EventStatus::Ok,
            anchor: None,
            steps: vec![Step {
                name: "n".into(),
                span_id: Some(String::new()),
                start_ms: 0,
                duration_ms: 0,
                status: StepStatus::Ok,
                downstream: Some(Downstream::default()),
                error: Some(StepError {
                    code: Some(String::new()),
                    ..StepError::default()
                }),
            }],
            logs: vec![],
            fields: Some(Map::new()),
            errors: vec![],
        };
        assert_eq!(
            to_json(&event),
            concat!(
                r#"{"schema_version":"2.0","event_id":"e","ts_start":"1970-01-01T00:00:00Z","#,
                r#""ts_end":"1969-12-31T23:59:59.999999999Z","duration_ms":0,"kind":"http","#,
                r#""service":"s","env":"p","trace_id":"0123456789abcdef0123456789abcdef","#,
                r#""span_id":"","parent_span_id":"","status":"ok","#,
                r#""steps":[{"name":"n","start_ms":0,"duration_ms":0,"status":"ok"}]}"#
            )
        );
    }

    // --- §1.10 invalid examples --------------------------------------------------------------

    #[test]
    fn validate_rejects_bridge_when_schema_version_1_1() {
        let reject = reject_of(&with("", "schema_version", json!("1.1")));
        assert_eq!(reject.reason, RejectReason::BridgeNotImplemented);
        assert!(reject.detail.starts_with("/schema_version: "));
        assert_eq!(reject.event_id.as_deref(), Some(EXAMPLE_EVENT_ID));
    }

    #[test]
    fn validate_rejects_schema_when_schema_version_2_1() {
        let reject =
            assert_schema_fail(&with("", "schema_version", json!("2.1")), "/schema_version");
        assert_eq!(reject.event_id.as_deref(), Some(EXAMPLE_EVENT_ID));
    }

    #[test]
    fn validate_rejects_schema_when_schema_version_is_number() {
        let v = example_text_with(r#""schema_version":"2.0""#, r#""schema_version":2.0"#);
        assert_schema_fail(&v, "/schema_version");
    }

    #[test]
    fn validate_rejects_schema_when_event_id_empty() {
        let reject = assert_schema_fail(&with("", "event_id", json!("")), "/event_id");
        assert_eq!(reject.event_id, None);
    }

    #[test]
    fn validate_rejects_anchor_rule_when_anchor_removed() {
        let reject = reject_of(&without("", "anchor"));
        assert_eq!(reject.reason, RejectReason::SchemaValidationFailed);
        assert_eq!(reject.detail, r#"/anchor: required when status is "error""#);
        assert_eq!(reject.event_id.as_deref(), Some(EXAMPLE_EVENT_ID));
    }

    #[test]
    fn validate_rejects_anchor_rule_when_error_code_empty() {
        assert_schema_fail(
            &with("/anchor", "error_code", json!("")),
            "/anchor/error_code",
        );
    }

    #[test]
    fn validate_rejects_schema_when_trace_id_upper_case() {
        let reject = reject_of(&with(
            "",
            "trace_id",
            json!("4BF92F3577B34DA6A3CE929D0E0E4736"),
        ));
        assert_eq!(reject.reason, RejectReason::SchemaValidationFailed);
        assert_eq!(reject.detail, "/trace_id: must match ^[0-9a-f]{32}$");
    }

    #[test]
    fn validate_rejects_schema_when_ts_start_space_separated() {
        assert_schema_fail(
            &with("", "ts_start", json!("2026-05-04 10:00:00")),
            "/ts_start",
        );
    }

    #[test]
    fn validate_rejects_future_when_ts_start_ten_minutes_ahead() {
        let reject = reject_of(&with("", "ts_start", json!("2026-05-04T10:10:00Z")));
        assert_eq!(reject.reason, RejectReason::FutureTimestamp);
        assert!(
            reject.detail.starts_with("/ts_start: "),
            "{}",
            reject.detail
        );
        assert_eq!(reject.event_id.as_deref(), Some(EXAMPLE_EVENT_ID));
    }

    #[test]
    fn validate_rejects_step_span_id_when_downstream_present_and_span_id_removed() {
        let reject = reject_of(&without("/steps/1", "span_id"));
        assert_eq!(reject.reason, RejectReason::SchemaValidationFailed);
        assert_eq!(
            reject.detail,
            "/steps/1/span_id: required when downstream is present"
        );
    }

    #[test]
    fn validate_rejects_duration_ms_when_string() {
        assert_schema_fail(&with("", "duration_ms", json!("62")), "/duration_ms");
    }

    #[test]
    fn validate_rejects_duration_ms_when_fractional() {
        let v = example_text_with(r#""duration_ms":62,"#, r#""duration_ms":62.5,"#);
        assert_schema_fail(&v, "/duration_ms");
    }

    #[test]
    fn validate_rejects_kind_when_grpc() {
        assert_schema_fail(&with("", "kind", json!("grpc")), "/kind");
    }

    #[test]
    fn validate_rejects_log_level_when_debug() {
        assert_schema_fail(&with("/logs/0", "level", json!("debug")), "/logs/0/level");
    }

    // --- §1.1 top-level members --------------------------------------------------------------

    #[test]
    fn validate_rejects_root_when_not_an_object() {
        for v in [json!([]), json!("x"), json!(1), json!(null), json!(true)] {
            let reject = reject_of(&v);
            assert_eq!(reject.reason, RejectReason::SchemaValidationFailed);
            assert_eq!(reject.detail, ": not an object");
            assert_eq!(reject.event_id, None);
        }
    }

    #[test]
    fn validate_reports_required_for_each_missing_required_member() {
        for key in [
            "schema_version",
            "event_id",
            "ts_start",
            "ts_end",
            "kind",
            "service",
            "env",
            "trace_id",
            "status",
        ] {
            let reject = reject_of(&without("", key));
            assert_eq!(reject.reason, RejectReason::SchemaValidationFailed, "{key}");
            assert_eq!(reject.detail, format!("/{key}: required"));
        }
    }

    #[test]
    fn validate_accepts_only_required_members_when_suppressed() {
        let v = json!({
            "schema_version": "2.0", "event_id": "e1", "ts_start": "2026-05-04T10:00:00Z",
            "ts_end": "2026-05-04T10:00:01Z", "kind": "http", "service": "s", "env": "prod",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "status": "suppressed"
        });
        let event = accept(&v);
        assert_eq!(event.duration_ms, 0);
        assert_eq!(event.span_id, "");
        assert_eq!(event.parent_span_id, "");
        assert_eq!(
            to_json(&event),
            concat!(
                r#"{"schema_version":"2.0","event_id":"e1","ts_start":"2026-05-04T10:00:00Z","#,
                r#""ts_end":"2026-05-04T10:00:01Z","duration_ms":0,"kind":"http","service":"s","#,
                r#""env":"prod","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"","#,
                r#""parent_span_id":"","status":"suppressed"}"#
            )
        );
    }

    #[test]
    fn validate_rejects_bridge_for_any_1_x_even_when_otherwise_invalid() {
        for version in ["1.0", "1.", "1.9.3"] {
            let reject = reject_of(&json!({"schema_version": version, "event_id": "x"}));
            assert_eq!(
                reject.reason,
                RejectReason::BridgeNotImplemented,
                "{version}"
            );
            assert_eq!(reject.event_id.as_deref(), Some("x"));
        }
    }

    #[test]
    fn validate_rejects_schema_when_schema_version_other_than_2_0() {
        for version in [
            json!("1"),
            json!("2"),
            json!("2.0 "),
            json!(" 1.1"),
            json!(1.1),
        ] {
            assert_schema_fail(&with("", "schema_version", version), "/schema_version");
        }
    }

    #[test]
    fn validate_accepts_event_id_in_any_format() {
        assert_eq!(
            accept(&with("", "event_id", json!("not-a-uuid"))).event_id,
            "not-a-uuid"
        );
    }

    #[test]
    fn validate_rejects_event_id_when_not_string() {
        let reject = assert_schema_fail(&with("", "event_id", json!(42)), "/event_id");
        assert_eq!(reject.event_id, None);
    }

    #[test]
    fn validate_rejects_ts_end_when_invalid() {
        assert_schema_fail(&with("", "ts_end", json!("2026-05-04T10:00:00")), "/ts_end");
    }

    #[test]
    fn validate_rejects_timestamp_when_not_string() {
        assert_schema_fail(&with("", "ts_start", json!(1_777_888_800)), "/ts_start");
    }

    #[test]
    fn validate_accepts_ts_end_before_ts_start_and_unrelated_duration() {
        let mut v = with("", "ts_end", json!("2026-05-04T09:00:00Z"));
        v["duration_ms"] = json!(999_999);
        let event = accept(&v);
        assert!(event.ts_end_ns < event.ts_start_ns);
        assert_eq!(event.duration_ms, 999_999);
    }

    #[test]
    fn validate_defaults_duration_ms_to_zero_when_absent() {
        assert_eq!(accept(&without("", "duration_ms")).duration_ms, 0);
    }

    #[test]
    fn validate_accepts_kind_rpc() {
        assert_eq!(accept(&with("", "kind", json!("rpc"))).kind, "rpc");
    }

    #[test]
    fn validate_rejects_kind_when_wrong_case() {
        assert_schema_fail(&with("", "kind", json!("HTTP")), "/kind");
    }

    #[test]
    fn validate_rejects_service_and_env_when_empty() {
        assert_schema_fail(&with("", "service", json!("")), "/service");
        assert_schema_fail(&with("", "env", json!("")), "/env");
    }

    #[test]
    fn validate_keeps_strings_exactly_as_sent() {
        let event = accept(&with("", "service", json!(" Check\u{e9}out\n")));
        assert_eq!(event.service, " Check\u{e9}out\n");
    }

    #[test]
    fn validate_normalizes_version_when_absent_or_empty() {
        assert_eq!(accept(&without("", "version")).version, None);
        let event = accept(&with("", "version", json!("")));
        assert_eq!(event.version, None);
        assert!(!to_json(&event).contains("\"version\""));
    }

    #[test]
    fn validate_rejects_version_when_not_string() {
        assert_schema_fail(&with("", "version", json!(2)), "/version");
    }

    #[test]
    fn validate_rejects_trace_id_when_wrong_length_or_not_hex() {
        for id in [
            "4bf92f3577b34da6a3ce929d0e0e473",
            "4bf92f3577b34da6a3ce929d0e0e47361",
            "4bf92f3577b34da6a3ce929d0e0e473g",
            "",
        ] {
            assert_schema_fail(&with("", "trace_id", json!(id)), "/trace_id");
        }
    }

    #[test]
    fn validate_defaults_span_ids_to_empty_when_absent() {
        let mut v = without("", "span_id");
        v.as_object_mut().unwrap().remove("parent_span_id");
        let event = accept(&v);
        assert_eq!(event.span_id, "");
        assert_eq!(event.parent_span_id, "");
        let json = to_json(&event);
        assert!(
            json.contains(r#""span_id":"","parent_span_id":"""#),
            "{json}"
        );
    }

    #[test]
    fn validate_accepts_parent_span_id_when_16_hex() {
        let event = accept(&with("", "parent_span_id", json!("53995c3f42cd8ad8")));
        assert_eq!(event.parent_span_id, "53995c3f42cd8ad8");
    }

    #[test]
    fn validate_rejects_span_ids_when_not_16_lower_hex() {
        for id in [
            "A1B2C3D4E5F60718",
            "a1b2c3d4e5f6071",
            "a1b2c3d4e5f607189",
            "zzzzzzzzzzzzzzzz",
        ] {
            assert_schema_fail(&with("", "span_id", json!(id)), "/span_id");
            assert_schema_fail(&with("", "parent_span_id", json!(id)), "/parent_span_id");
        }
    }

    #[test]
    fn validate_accepts_every_status_with_anchor() {
        for status in ["ok", "error", "timeout", "partial", "aborted", "suppressed"] {
            assert_eq!(accept(&with("", "status", json!(status))).status, status);
        }
    }

    #[test]
    fn validate_rejects_status_when_unknown() {
        for status in ["failed", "OK", ""] {
            assert_schema_fail(&with("", "status", json!(status)), "/status");
        }
    }

    #[test]
    fn validate_rejects_anchor_rule_for_every_failed_status() {
        for status in ["error", "timeout", "partial", "aborted"] {
            let mut v = without("", "anchor");
            v["status"] = json!(status);
            let reject = reject_of(&v);
            assert_eq!(
                reject.detail,
                format!("/anchor: required when status is \"{status}\"")
            );
        }
    }

    #[test]
    fn validate_accepts_missing_anchor_when_ok_or_suppressed() {
        for status in ["ok", "suppressed"] {
            let mut v = without("", "anchor");
            v["status"] = json!(status);
            assert_eq!(accept(&v).anchor, None);
        }
    }

    #[test]
    fn validate_stores_anchor_when_status_ok() {
        let event = accept(&with("", "status", json!("ok")));
        assert_eq!(event.anchor.unwrap().error_code, "PMT_502");
    }

    #[test]
    fn validate_rejects_incomplete_anchor_even_when_status_ok() {
        let mut v = with("/anchor", "step", json!(""));
        v["status"] = json!("ok");
        assert_schema_fail(&v, "/anchor/step");
    }

    // --- §1.3 anchor -------------------------------------------------------------------------

    #[test]
    fn validate_rejects_anchor_when_not_object() {
        assert_schema_fail(&with("", "anchor", json!("payment.charge")), "/anchor");
    }

    #[test]
    fn validate_rejects_anchor_members_when_missing_or_wrong_type() {
        let mut v = example();
        v["anchor"].as_object_mut().unwrap().remove("step");
        assert_eq!(reject_of(&v).detail, "/anchor/step: required");
        assert_schema_fail(
            &with("/anchor", "error_code", json!(502)),
            "/anchor/error_code",
        );
        assert_schema_fail(&with("/anchor", "kind", json!(1)), "/anchor/kind");
    }

    #[test]
    fn validate_accepts_anchor_without_kind() {
        assert_eq!(
            accept(&without("/anchor", "kind")).anchor.unwrap().kind,
            None
        );
    }

    // --- §1.4 steps, logs, errors ------------------------------------------------------------

    #[test]
    fn validate_rejects_steps_when_not_array() {
        assert_schema_fail(&with("", "steps", json!({})), "/steps");
    }

    #[test]
    fn validate_rejects_step_when_not_object() {
        let reject = assert_schema_fail(&with("", "steps", json!([1])), "/steps/0");
        assert_eq!(reject.detail, "/steps/0: must be an object");
    }

    #[test]
    fn validate_rejects_step_name_when_empty_or_missing() {
        assert_schema_fail(&with("/steps/0", "name", json!("")), "/steps/0/name");
        assert_schema_fail(&without("/steps/0", "name"), "/steps/0/name");
    }

    #[test]
    fn validate_rejects_step_span_id_when_pattern_fails() {
        assert_schema_fail(
            &with("/steps/1", "span_id", json!("53995C3F42CD8AD8")),
            "/steps/1/span_id",
        );
    }

    #[test]
    fn validate_rejects_step_span_id_when_empty_and_downstream_present() {
        let reject = reject_of(&with("/steps/1", "span_id", json!("")));
        assert_eq!(
            reject.detail,
            "/steps/1/span_id: required when downstream is present"
        );
    }

    #[test]
    fn validate_normalizes_step_span_id_when_empty_without_downstream() {
        let event = accept(&with("/steps/0", "span_id", json!("")));
        assert_eq!(event.steps[0].span_id, None);
    }

    #[test]
    fn validate_accepts_step_span_id_without_downstream() {
        let event = accept(&with("/steps/0", "span_id", json!("0011223344556677")));
        assert_eq!(event.steps[0].span_id.as_deref(), Some("0011223344556677"));
    }

    #[test]
    fn validate_rejects_step_integers_when_missing_or_invalid() {
        assert_eq!(
            reject_of(&without("/steps/0", "start_ms")).detail,
            "/steps/0/start_ms: required"
        );
        assert_schema_fail(&without("/steps/0", "duration_ms"), "/steps/0/duration_ms");
        assert_schema_fail(
            &with("/steps/0", "start_ms", json!(-1)),
            "/steps/0/start_ms",
        );
        assert_schema_fail(
            &with("/steps/0", "duration_ms", json!(1.5)),
            "/steps/0/duration_ms",
        );
    }

    #[test]
    fn validate_rejects_step_status_when_not_ok_or_error() {
        for status in ["timeout", "suppressed", "", "Ok"] {
            assert_schema_fail(
                &with("/steps/0", "status", json!(status)),
                "/steps/0/status",
            );
        }
        assert_schema_fail(&without("/steps/0", "status"), "/steps/0/status");
    }

    #[test]
    fn validate_rejects_downstream_when_not_object() {
        assert_schema_fail(
            &with("/steps/1", "downstream", json!("payment")),
            "/steps/1/downstream",
        );
    }

    #[test]
    fn validate_rejects_downstream_members_when_not_string() {
        for key in ["service", "endpoint", "kind"] {
            assert_schema_fail(
                &with("/steps/1/downstream", key, json!(1)),
                &format!("/steps/1/downstream/{key}"),
            );
        }
    }

    #[test]
    fn validate_accepts_downstream_with_any_kind_and_no_members() {
        let event = accept(&with("/steps/1/downstream", "kind", json!("amqp")));
        assert_eq!(
            event.steps[1].downstream.as_ref().unwrap().kind.as_deref(),
            Some("amqp")
        );
        let event = accept(&with("/steps/1", "downstream", json!({})));
        assert_eq!(event.steps[1].downstream, None);
    }

    #[test]
    fn validate_rejects_step_error_when_not_object_or_member_not_string() {
        assert_schema_fail(&with("/steps/1", "error", json!([])), "/steps/1/error");
        for key in ["code", "reason", "cause"] {
            assert_schema_fail(
                &with("/steps/1/error", key, json!(false)),
                &format!("/steps/1/error/{key}"),
            );
        }
    }

    #[test]
    fn validate_normalizes_step_error_empty_strings() {
        let v = with(
            "/steps/1",
            "error",
            json!({"code": "", "reason": "r", "cause": ""}),
        );
        assert_eq!(
            accept(&v).steps[1].error,
            Some(StepError {
                code: None,
                reason: Some("r".into()),
                cause: None,
            })
        );
        let v = with("/steps/1", "error", json!({"code": "", "cause": ""}));
        assert_eq!(accept(&v).steps[1].error, None);
    }

    #[test]
    fn validate_keeps_steps_in_order_sent() {
        let event = accept(&example());
        let names: Vec<_> = event.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["cart.load", "payment.charge"]);
    }

    #[test]
    fn validate_rejects_logs_when_not_array_or_element_not_object() {
        assert_schema_fail(&with("", "logs", json!("x")), "/logs");
        assert_schema_fail(&with("", "logs", json!([null])), "/logs/0");
    }

    #[test]
    fn validate_rejects_log_members_when_missing_or_invalid() {
        assert_schema_fail(&without("/logs/0", "ts_offset_ms"), "/logs/0/ts_offset_ms");
        assert_schema_fail(
            &with("/logs/0", "ts_offset_ms", json!(-1)),
            "/logs/0/ts_offset_ms",
        );
        assert_schema_fail(&without("/logs/0", "level"), "/logs/0/level");
        assert_schema_fail(&with("/logs/0", "level", json!("WARN")), "/logs/0/level");
        assert_schema_fail(&without("/logs/0", "msg"), "/logs/0/msg");
        assert_schema_fail(&with("/logs/0", "msg", json!(1)), "/logs/0/msg");
        assert_schema_fail(&with("/logs/0", "fields", json!([1])), "/logs/0/fields");
    }

    #[test]
    fn validate_accepts_log_with_empty_msg_and_every_level() {
        for level in ["info", "warn", "error"] {
            let mut v = with("/logs/0", "msg", json!(""));
            v["logs"][0]["level"] = json!(level);
            let event = accept(&v);
            assert_eq!(event.logs[0].msg, "");
            assert_eq!(event.logs[0].level, level);
        }
    }

    #[test]
    fn validate_keeps_log_fields_verbatim_and_drops_empty() {
        let fields = json!({"b": {"y": [1, {"z": null}], "x": "s"}, "a": 2.5});
        let event = accept(&with("/logs/0", "fields", fields.clone()));
        assert_eq!(Value::Object(event.logs[0].fields.clone().unwrap()), fields);
        assert_eq!(
            accept(&with("/logs/0", "fields", json!({}))).logs[0].fields,
            None
        );
        assert_eq!(accept(&without("/logs/0", "fields")).logs[0].fields, None);
    }

    #[test]
    fn validate_rejects_fields_when_not_object() {
        for fields in [json!([]), json!("x"), json!(1)] {
            assert_schema_fail(&with("", "fields", fields), "/fields");
        }
    }

    #[test]
    fn validate_keeps_fields_sorted_and_numbers_exact() {
        let v = example_text_with(
            r#""fields":{"http""#,
            r#""fields":{"zz":{"b":[{"d":1,"c":null}],"a":true},"big":18446744073709551615,
                "neg":-9223372036854775808,"huge":18446744073709551616,"f":0.1,"http""#,
        );
        let json = to_json(&accept(&v));
        let expected = concat!(
            r#""fields":{"big":18446744073709551615,"f":0.1,"http":{"method":"POST","route":"/checkout","status":502},"#,
            r#""huge":1.8446744073709552e+19,"neg":-9223372036854775808,"#,
            r#""user":{"id":"u-8812","region":"eu-west-1","tier":"gold"},"#,
            r#""zz":{"a":true,"b":[{"c":null,"d":1}]}}"#
        );
        assert!(json.contains(expected), "{json}");
    }

    #[test]
    fn validate_rejects_errors_when_not_array_or_element_not_object() {
        assert_schema_fail(&with("", "errors", json!({})), "/errors");
        assert_schema_fail(&with("", "errors", json!(["PMT_502"])), "/errors/0");
    }

    #[test]
    fn validate_rejects_error_ref_code_when_missing_or_not_string() {
        assert_eq!(
            reject_of(&without("/errors/0", "code")).detail,
            "/errors/0/code: required"
        );
        assert_schema_fail(&with("/errors/0", "code", json!(502)), "/errors/0/code");
        assert_schema_fail(&with("/errors/0", "reason", json!(1)), "/errors/0/reason");
    }

    #[test]
    fn validate_accepts_error_ref_with_empty_code_and_no_reason() {
        let event = accept(&with("/errors/0", "code", json!("")));
        assert_eq!(event.errors[0].code, "");
        assert_eq!(
            accept(&without("/errors/0", "reason")).errors[0].reason,
            None
        );
    }

    #[test]
    fn validate_stores_duplicate_error_refs_as_given() {
        let refs = json!([{"code": "A"}, {"code": "A"}]);
        assert_eq!(accept(&with("", "errors", refs)).errors.len(), 2);
    }

    // --- unknown members, null, duplicates, member order --------------------------------------

    #[test]
    fn validate_ignores_unknown_members_at_any_depth() {
        let mut v = with("", "extra", json!({"x": 1}));
        v["anchor"]["extra"] = json!(null);
        v["steps"][1]["extra"] = json!([]);
        v["steps"][1]["downstream"]["extra"] = json!(1);
        v["steps"][1]["error"]["extra"] = json!(1);
        v["logs"][0]["extra"] = json!(1);
        v["errors"][0]["extra"] = json!(1);
        let event = accept(&v);
        assert_eq!(to_json(&event), EXAMPLE_NORMALIZED);
    }

    #[test]
    fn validate_keeps_unknown_keys_inside_fields() {
        let event = accept(&with("/fields", "extra", json!({"x": null})));
        assert_eq!(event.fields.unwrap()["extra"], json!({"x": null}));
    }

    #[test]
    fn validate_rejects_null_for_defined_members() {
        for (parent, key, pointer) in [
            ("", "version", "/version"),
            ("", "duration_ms", "/duration_ms"),
            ("", "span_id", "/span_id"),
            ("", "anchor", "/anchor"),
            ("", "steps", "/steps"),
            ("", "logs", "/logs"),
            ("", "fields", "/fields"),
            ("", "errors", "/errors"),
            ("/anchor", "kind", "/anchor/kind"),
            ("/steps/1", "error", "/steps/1/error"),
            ("/steps/1", "downstream", "/steps/1/downstream"),
            (
                "/steps/1/downstream",
                "endpoint",
                "/steps/1/downstream/endpoint",
            ),
            ("/logs/0", "fields", "/logs/0/fields"),
            ("/errors/0", "reason", "/errors/0/reason"),
        ] {
            let reject = reject_of(&with(parent, key, Value::Null));
            assert_eq!(reject.detail, format!("{pointer}: {MSG_NULL}"));
        }
    }

    #[test]
    fn validate_rejects_span_id_first_when_downstream_null_and_span_id_missing() {
        let mut v = with("/steps/1", "downstream", Value::Null);
        v["steps"][1].as_object_mut().unwrap().remove("span_id");
        assert_schema_fail(&v, "/steps/1/span_id");
    }

    #[test]
    fn validate_uses_last_duplicate_member() {
        let v = example_text_with(
            r#""service":"checkout","#,
            r#""service":"first","service":"checkout","#,
        );
        assert_eq!(accept(&v).service, "checkout");
        let v = example_text_with(
            r#""service":"checkout","#,
            r#""service":"checkout","service":"","#,
        );
        assert_schema_fail(&v, "/service");
        let v = example_text_with(r#""kind":"http","#, r#""kind":"grpc","kind":"http","#);
        assert_eq!(accept(&v).kind, "http");
    }

    #[test]
    fn validate_reports_first_offending_member_in_table_order() {
        // Offending members given in reverse of table order; the earliest in §1.1 wins.
        let mut v = with("", "errors", json!(1));
        v["status"] = json!("bad");
        v["trace_id"] = json!("bad");
        v["kind"] = json!("bad");
        v["ts_end"] = json!("bad");
        assert_schema_fail(&v, "/ts_end");
        v["event_id"] = json!("");
        assert_schema_fail(&v, "/event_id");
    }

    #[test]
    fn validate_reports_first_offending_nested_member_by_index_and_order() {
        let mut v = with("/steps/1", "name", json!(""));
        v["steps"][0]["status"] = json!("bad");
        v["steps"][0]["duration_ms"] = json!(-1);
        v["logs"][0]["level"] = json!("bad");
        assert_schema_fail(&v, "/steps/0/duration_ms");
        v["anchor"]["step"] = json!("");
        assert_schema_fail(&v, "/anchor/step");
    }

    // --- §1.2 integers -----------------------------------------------------------------------

    fn duration_literal(literal: &str) -> Value {
        example_text_with(
            r#""duration_ms":62,"#,
            &format!(r#""duration_ms":{literal},"#),
        )
    }

    #[test]
    fn validate_rejects_integer_when_fraction_exponent_string_or_negative() {
        for literal in ["42.0", "4.2e1", "42e0", "\"42\"", "-1", "-0", "true"] {
            let reject = assert_schema_fail(&duration_literal(literal), "/duration_ms");
            assert_eq!(
                reject.detail,
                format!("/duration_ms: {MSG_INTEGER}"),
                "{literal}"
            );
        }
    }

    #[test]
    fn validate_accepts_integer_up_to_i64_max() {
        assert_eq!(accept(&duration_literal("0")).duration_ms, 0);
        assert_eq!(
            accept(&duration_literal("9223372036854775807")).duration_ms,
            i64::MAX
        );
    }

    #[test]
    fn validate_rejects_integer_when_above_i64_max() {
        for literal in [
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
        ] {
            assert_schema_fail(&duration_literal(literal), "/duration_ms");
        }
    }

    #[test]
    fn validate_applies_integer_rule_to_offsets() {
        let v = example_text_with(r#""ts_offset_ms":50"#, r#""ts_offset_ms":5e1"#);
        assert_schema_fail(&v, "/logs/0/ts_offset_ms");
        let v = example_text_with(r#""start_ms":9"#, r#""start_ms":9.0"#);
        assert_schema_fail(&v, "/steps/1/start_ms");
    }

    // --- §1.2 future guard -------------------------------------------------------------------

    #[test]
    fn validate_accepts_ts_start_exactly_five_minutes_ahead() {
        let v = with("", "ts_start", json!("2026-05-04T10:05:00Z"));
        assert!(validate_item(&v, now()).is_ok());
    }

    #[test]
    fn validate_rejects_future_when_five_minutes_and_one_ns_ahead() {
        let v = with("", "ts_start", json!("2026-05-04T10:05:00.000000001Z"));
        assert_eq!(reject_of(&v).reason, RejectReason::FutureTimestamp);
    }

    #[test]
    fn validate_accepts_past_ts_start_and_future_ts_end() {
        let mut v = with("", "ts_start", json!("1970-01-01T00:00:00Z"));
        v["ts_end"] = json!("2200-01-01T00:00:00Z");
        assert!(validate_item(&v, now()).is_ok());
    }

    #[test]
    fn validate_reports_schema_before_future_timestamp() {
        let mut v = with("", "ts_start", json!("2026-05-04T11:00:00Z"));
        v["trace_id"] = json!("x");
        assert_schema_fail(&v, "/trace_id");
    }

    #[test]
    fn validate_reports_bridge_before_future_timestamp() {
        let mut v = with("", "ts_start", json!("2026-05-04T11:00:00Z"));
        v["schema_version"] = json!("1.2");
        assert_eq!(reject_of(&v).reason, RejectReason::BridgeNotImplemented);
    }

    #[test]
    fn validate_does_not_overflow_when_now_near_i64_max() {
        assert!(validate_item(&example(), i64::MAX).is_ok());
        let v = with("", "ts_start", json!("2262-04-11T23:47:16.854775807Z"));
        assert_eq!(
            validate_item(&v, i64::MIN).unwrap_err().reason,
            RejectReason::FutureTimestamp
        );
    }

    // --- rejected[].event_id -----------------------------------------------------------------

    #[test]
    fn reject_event_id_present_only_for_object_with_non_empty_string_id() {
        let bad = |event_id: Value| {
            let mut v = with("", "event_id", event_id);
            v["kind"] = json!("grpc");
            validate_item(&v, now()).unwrap_err().event_id
        };
        assert_eq!(bad(json!("abc")), Some("abc".to_owned()));
        assert_eq!(bad(json!("")), None);
        assert_eq!(bad(json!(7)), None);
        assert_eq!(bad(json!(["abc"])), None);
        let item = json!([{"event_id": "abc"}]);
        assert_eq!(validate_item(&item, now()).unwrap_err().event_id, None);
    }
}
