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
pub(crate) const FUTURE_GUARD_NS: i64 = 300 * 1_000_000_000;

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

pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
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
pub(crate) mod tests;
