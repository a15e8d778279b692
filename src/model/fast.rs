//! The typed, borrowing fast path of event validation (spec events §1, §2.4 stages 2-5): one
//! ingest item's bytes → an [`EventView`] that borrows its strings from the request body, or
//! `None`. `None` means only "not decided here": the caller then runs the exact path
//! ([`super::validate_item_owned`] over a parsed `serde_json::Value`), which names the
//! rejection reason and the first offending member. So every rejection, and its message,
//! comes from the one exact implementation; this module only has to accept exactly the
//! events the exact path accepts, in the same normalized form.
//!
//! Invariants (checked by the differential tests in `fast/tests.rs`):
//! - `decode_event(item, now) == Some(v)` ⇒ the exact path accepts `item` at `now`, and
//!   `v` equals the exact path's event viewed through [`Event::view`].
//! - Anything unusual is `None`, never a guess: a duplicate member (the exact path keeps the
//!   last), `null` anywhere in a defined member, a number that is not a plain integer where one
//!   is required, `fields` nested deeper than [`MAX_FIELDS_DEPTH`].
//! - Undefined members are skipped through a visitor that builds nothing but makes the parser
//!   check them like a `Value` (number ranges, escapes, UTF-8, depth), so an item the exact path
//!   calls `invalid_json` is never accepted here.
//! - `fields` (and a log's `fields`) already in normalized form (§1.8: keys in byte order at
//!   every depth, no whitespace, plain integers, no escapes) are stored as the text that was
//!   sent ([`FieldsView::Normalized`]); any other object is parsed into a map and serialized,
//!   as the exact path does ([`FieldsView::Map`]).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::event::{Event, EventKind, EventStatus, LogLevel, StepStatus};
use super::validate::{FUTURE_GUARD_NS, is_lower_hex};
use crate::rfc3339::parse_rfc3339_ns;

/// A string of a decoded item: borrowed from the body unless JSON escapes forced a copy.
pub type Text<'a> = Cow<'a, str>;

/// `fields` nested deeper than this (from the `fields` object down) leave the fast path, so
/// the parser's own recursion limit decides such items exactly as for a `Value`.
pub const MAX_FIELDS_DEPTH: usize = 64;

/// A validated, normalized event whose strings borrow from the request body (or from an
/// [`Event`], see [`Event::view`]); what the Arrow conversion reads.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView<'a> {
    pub event_id: Text<'a>,
    pub ts_start_ns: i64,
    pub ts_end_ns: i64,
    pub duration_ms: i64,
    pub kind: EventKind,
    pub service: Text<'a>,
    pub env: Text<'a>,
    /// `None` when absent or empty.
    pub version: Option<Text<'a>>,
    pub trace_id: Text<'a>,
    /// `""` when absent.
    pub span_id: Text<'a>,
    /// `""` when absent.
    pub parent_span_id: Text<'a>,
    pub status: EventStatus,
    pub anchor: Option<AnchorView<'a>>,
    pub steps: Vec<StepView<'a>>,
    pub logs: Vec<LogView<'a>>,
    /// `None` when absent or `{}`.
    pub fields: Option<FieldsView<'a>>,
    pub errors: Vec<ErrorRefView<'a>>,
}

/// `anchor` (§1.3); `kind` is `None` when absent or empty.
#[derive(Debug, Clone, PartialEq)]
pub struct AnchorView<'a> {
    pub step: Text<'a>,
    pub error_code: Text<'a>,
    pub kind: Option<Text<'a>>,
}

/// A step (§1.4); `downstream` and `error` are `None` when absent or without a non-empty member.
#[derive(Debug, Clone, PartialEq)]
pub struct StepView<'a> {
    pub name: Text<'a>,
    pub span_id: Option<Text<'a>>,
    pub start_ms: i64,
    pub duration_ms: i64,
    pub status: StepStatus,
    pub downstream: Option<Triple<'a>>,
    pub error: Option<Triple<'a>>,
}

/// `downstream` {service, endpoint, kind} or a step `error` {code, reason, cause}, in that
/// member order; each `None` when absent or empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Triple<'a>(pub [Option<Text<'a>>; 3]);

impl<'a> Triple<'a> {
    /// `None` when no member holds a non-empty string (§1.8 drops such an object).
    fn normalized(members: [Option<Text<'a>>; 3]) -> Option<Self> {
        let members = members.map(|m| m.filter(|s| !s.is_empty()));
        members
            .iter()
            .any(Option::is_some)
            .then_some(Triple(members))
    }
}

/// A milestone log (§1.4).
#[derive(Debug, Clone, PartialEq)]
pub struct LogView<'a> {
    pub ts_offset_ms: i64,
    pub level: LogLevel,
    pub msg: Text<'a>,
    pub fields: Option<FieldsView<'a>>,
}

/// An error reference (§1.4); `reason` is `None` when absent or empty.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRefView<'a> {
    pub code: Text<'a>,
    pub reason: Option<Text<'a>>,
}

/// A non-empty `fields` object in normalized form (§1.8).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldsView<'a> {
    /// The text as sent, which is already the normalized serialization, and the values of the
    /// conventional keys read while checking it.
    Normalized {
        json: &'a str,
        known: KnownFields<'a>,
    },
    /// Any other object, parsed (keys sorted, numbers normalized by `serde_json`).
    Map(Cow<'a, Map<String, Value>>),
}

/// The conventional keys of `fields` the server reads (§1.5), as stored columns need them:
/// strings as sent (possibly empty), `http.status` when it is an integer within i64.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KnownFields<'a> {
    pub http_method: Option<&'a str>,
    pub http_route: Option<&'a str>,
    pub http_status: Option<i64>,
    pub user_id: Option<&'a str>,
    pub user_tier: Option<&'a str>,
    pub user_region: Option<&'a str>,
    pub rpc_service: Option<&'a str>,
    pub rpc_method: Option<&'a str>,
}

impl FieldsView<'_> {
    /// The normalized JSON text of the object (what the `fields` column stores).
    pub fn to_json(&self) -> Cow<'_, str> {
        match self {
            FieldsView::Normalized { json, .. } => Cow::Borrowed(json),
            FieldsView::Map(map) => {
                Cow::Owned(serde_json::to_string(map).expect("a JSON map always serializes"))
            }
        }
    }

    /// The conventional keys' values.
    pub fn known(&self) -> KnownFields<'_> {
        match self {
            FieldsView::Normalized { known, .. } => *known,
            FieldsView::Map(map) => {
                let s = |a: &str, b: &str| map.get(a)?.get(b)?.as_str();
                KnownFields {
                    http_method: s("http", "method"),
                    http_route: s("http", "route"),
                    http_status: map
                        .get("http")
                        .and_then(|h| h.get("status"))
                        .and_then(Value::as_i64),
                    user_id: s("user", "id"),
                    user_tier: s("user", "tier"),
                    user_region: s("user", "region"),
                    rpc_service: s("rpc", "service"),
                    rpc_method: s("rpc", "method"),
                }
            }
        }
    }
}

impl Event {
    /// This event as a view borrowing every string, member for member (an empty string or map
    /// stays as it is: views of normalized events have none), for the conversions that read
    /// views.
    pub fn view(&self) -> EventView<'_> {
        fn b(s: &str) -> Text<'_> {
            Cow::Borrowed(s)
        }
        fn ob(s: &Option<String>) -> Option<Text<'_>> {
            s.as_deref().map(Cow::Borrowed)
        }
        fn map(m: &Option<Map<String, Value>>) -> Option<FieldsView<'_>> {
            m.as_ref().map(|m| FieldsView::Map(Cow::Borrowed(m)))
        }
        EventView {
            event_id: b(&self.event_id),
            ts_start_ns: self.ts_start_ns,
            ts_end_ns: self.ts_end_ns,
            duration_ms: self.duration_ms,
            kind: self.kind,
            service: b(&self.service),
            env: b(&self.env),
            version: ob(&self.version),
            trace_id: b(&self.trace_id),
            span_id: b(&self.span_id),
            parent_span_id: b(&self.parent_span_id),
            status: self.status,
            anchor: self.anchor.as_ref().map(|a| AnchorView {
                step: b(&a.step),
                error_code: b(&a.error_code),
                kind: ob(&a.kind),
            }),
            steps: self
                .steps
                .iter()
                .map(|s| StepView {
                    name: b(&s.name),
                    span_id: ob(&s.span_id),
                    start_ms: s.start_ms,
                    duration_ms: s.duration_ms,
                    status: s.status,
                    downstream: s
                        .downstream
                        .as_ref()
                        .map(|d| Triple([ob(&d.service), ob(&d.endpoint), ob(&d.kind)])),
                    error: s
                        .error
                        .as_ref()
                        .map(|e| Triple([ob(&e.code), ob(&e.reason), ob(&e.cause)])),
                })
                .collect(),
            logs: self
                .logs
                .iter()
                .map(|l| LogView {
                    ts_offset_ms: l.ts_offset_ms,
                    level: l.level,
                    msg: b(&l.msg),
                    fields: map(&l.fields),
                })
                .collect(),
            fields: map(&self.fields),
            errors: self
                .errors
                .iter()
                .map(|r| ErrorRefView {
                    code: b(&r.code),
                    reason: ob(&r.reason),
                })
                .collect(),
        }
    }
}

/// The fast path on one item (an NDJSON line or a JSON body holding one object): the
/// normalized event if the item is a valid event at `now_ns`, `None` when the exact path must
/// decide (see the module invariants).
pub fn decode_event(item: &[u8], now_ns: i64) -> Option<EventView<'_>> {
    let raw: RawEvent<'_> = serde_json::from_slice(item).ok()?;
    raw.into_view(now_ns)
}

/// [`decode_event`] on an already delimited value (an element of a JSON array body).
pub fn decode_event_str(item: &str, now_ns: i64) -> Option<EventView<'_>> {
    decode_event(item.as_bytes(), now_ns)
}

// ---------------------------------------------------------------------------------------------
// Typed members. Each object is deserialized into `Option`s (absent = `None`); a member that is
// `null`, of another type, or repeated fails the whole item (→ the exact path).

/// Text of a string member (any other JSON type fails).
struct Str<'a>(Text<'a>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// §1.2 integer: a JSON number without fraction or exponent in 0..=i64::MAX (`serde_json`
/// hands anything else, `-0` included, to another visit method, which fails).
struct Int(i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer from 0 to i64::MAX")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Int, E> {
                i64::try_from(n)
                    .map(Int)
                    .map_err(|_| E::custom("out of range"))
            }
        }
        d.deserialize_u64(V)
    }
}

/// An undefined member: parsed like a `Value` (so every check the parser makes on a `Value`
/// applies), nothing kept.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
                while map.next_key::<Skip>()?.is_some() {
                    map.next_value::<Skip>()?;
                }
                Ok(Skip)
            }
        }
        d.deserialize_any(V)
    }
}

/// Declares a struct of optional members and its map-only `Deserialize`: known keys fill
/// their member (a repeat fails), others are [`Skip`]ped.
macro_rules! members {
    ($name:ident<$lt:lifetime> { $($field:ident : $ty:ty = $key:literal,)+ }) => {
        #[derive(Default)]
        struct $name<$lt> {
            $($field: Option<$ty>,)+
            _body: std::marker::PhantomData<&$lt ()>,
        }

        impl<$lt> Deserialize<$lt> for $name<$lt> {
            fn deserialize<D: Deserializer<$lt>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<$lt> Visitor<$lt> for V {
                    type Value = $name<$lt>;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: MapAccess<$lt>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                        let mut out = $name::default();
                        while let Some(Str(key)) = map.next_key::<Str<$lt>>()? {
                            match key.as_ref() {
                                $($key => {
                                    if out.$field.replace(map.next_value::<$ty>()?).is_some() {
                                        return Err(de::Error::custom("repeated member"));
                                    }
                                })+
                                _ => {
                                    map.next_value::<Skip>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

members!(RawEvent<'a> {
    schema_version: Str<'a> = "schema_version",
    event_id: Str<'a> = "event_id",
    ts_start: Str<'a> = "ts_start",
    ts_end: Str<'a> = "ts_end",
    duration_ms: Int = "duration_ms",
    kind: Str<'a> = "kind",
    service: Str<'a> = "service",
    env: Str<'a> = "env",
    version: Str<'a> = "version",
    trace_id: Str<'a> = "trace_id",
    span_id: Str<'a> = "span_id",
    parent_span_id: Str<'a> = "parent_span_id",
    status: Str<'a> = "status",
    anchor: RawAnchor<'a> = "anchor",
    steps: Vec<RawStep<'a>> = "steps",
    logs: Vec<RawLog<'a>> = "logs",
    fields: &'a RawValue = "fields",
    errors: Vec<RawErrorRef<'a>> = "errors",
});

members!(RawAnchor<'a> {
    step: Str<'a> = "step",
    error_code: Str<'a> = "error_code",
    kind: Str<'a> = "kind",
});

members!(RawStep<'a> {
    name: Str<'a> = "name",
    span_id: Str<'a> = "span_id",
    start_ms: Int = "start_ms",
    duration_ms: Int = "duration_ms",
    status: Str<'a> = "status",
    downstream: RawTriple<'a> = "downstream",
    error: RawError<'a> = "error",
});

members!(RawTriple<'a> {
    a: Str<'a> = "service",
    b: Str<'a> = "endpoint",
    c: Str<'a> = "kind",
});

members!(RawError<'a> {
    a: Str<'a> = "code",
    b: Str<'a> = "reason",
    c: Str<'a> = "cause",
});

members!(RawLog<'a> {
    ts_offset_ms: Int = "ts_offset_ms",
    level: Str<'a> = "level",
    msg: Str<'a> = "msg",
    fields: &'a RawValue = "fields",
});

members!(RawErrorRef<'a> {
    code: Str<'a> = "code",
    reason: Str<'a> = "reason",
});

// ---------------------------------------------------------------------------------------------
// The rules of §1 on the typed members (the exact path's rules, without its messages).

fn text(s: Option<Str<'_>>) -> Option<Text<'_>> {
    s.map(|Str(t)| t)
}

fn non_empty(s: Option<Str<'_>>) -> Option<Text<'_>> {
    text(s).filter(|t| !t.is_empty())
}

/// `^([0-9a-f]{16})?$`, absent = `""`.
fn span_id(s: Option<Str<'_>>) -> Option<Text<'_>> {
    let t = text(s).unwrap_or(Cow::Borrowed(""));
    (t.is_empty() || is_lower_hex(&t, 16)).then_some(t)
}

fn timestamp(s: Option<Str<'_>>) -> Option<i64> {
    parse_rfc3339_ns(&text(s)?)
}

/// An optional array: absent = empty; every element must pass.
fn list<R, T>(items: Option<Vec<R>>, f: impl Fn(R) -> Option<T>) -> Option<Vec<T>> {
    items.unwrap_or_default().into_iter().map(f).collect()
}

impl<'a> RawEvent<'a> {
    fn into_view(self, now_ns: i64) -> Option<EventView<'a>> {
        if text(self.schema_version)? != "2.0" {
            return None;
        }
        let ts_start_ns = timestamp(self.ts_start)?;
        let status = EventStatus::parse(&text(self.status)?)?;
        let anchor = match self.anchor {
            Some(a) => Some(AnchorView {
                step: non_empty(a.step)?,
                error_code: non_empty(a.error_code)?,
                kind: non_empty(a.kind),
            }),
            None if status.is_failed() => return None,
            None => None,
        };
        let trace_id = text(self.trace_id)?;
        if !is_lower_hex(&trace_id, 32) || ts_start_ns > now_ns.saturating_add(FUTURE_GUARD_NS) {
            return None;
        }
        Some(EventView {
            event_id: non_empty(self.event_id)?,
            ts_start_ns,
            ts_end_ns: timestamp(self.ts_end)?,
            duration_ms: self.duration_ms.map_or(0, |Int(n)| n),
            kind: EventKind::parse(&text(self.kind)?)?,
            service: non_empty(self.service)?,
            env: non_empty(self.env)?,
            version: non_empty(self.version),
            trace_id,
            span_id: span_id(self.span_id)?,
            parent_span_id: span_id(self.parent_span_id)?,
            status,
            anchor,
            steps: list(self.steps, RawStep::into_view)?,
            logs: list(self.logs, RawLog::into_view)?,
            fields: fields_view(self.fields)?,
            errors: list(self.errors, |r| {
                Some(ErrorRefView {
                    code: text(r.code)?,
                    reason: non_empty(r.reason),
                })
            })?,
        })
    }
}

impl<'a> RawStep<'a> {
    fn into_view(self) -> Option<StepView<'a>> {
        let span_id = span_id(self.span_id)?;
        // An outgoing call must carry its span id (§1.4).
        if span_id.is_empty() && self.downstream.is_some() {
            return None;
        }
        Some(StepView {
            name: non_empty(self.name)?,
            span_id: (!span_id.is_empty()).then_some(span_id),
            start_ms: self.start_ms?.0,
            duration_ms: self.duration_ms?.0,
            status: StepStatus::parse(&text(self.status)?)?,
            downstream: self
                .downstream
                .and_then(|d| Triple::normalized([text(d.a), text(d.b), text(d.c)])),
            error: self
                .error
                .and_then(|e| Triple::normalized([text(e.a), text(e.b), text(e.c)])),
        })
    }
}

impl<'a> RawLog<'a> {
    fn into_view(self) -> Option<LogView<'a>> {
        Some(LogView {
            ts_offset_ms: self.ts_offset_ms?.0,
            level: LogLevel::parse(&text(self.level)?)?,
            msg: text(self.msg)?,
            fields: fields_view(self.fields)?,
        })
    }
}

/// An optional `fields` object: `Some(None)` when absent or `{}`, `None` when it is not an
/// object or must be left to the exact path.
fn fields_view(raw: Option<&RawValue>) -> Option<Option<FieldsView<'_>>> {
    let Some(raw) = raw else {
        return Some(None);
    };
    let json = raw.get();
    if !json.starts_with('{') {
        return None;
    }
    let view = match scan_normalized(json)? {
        Some(known) => FieldsView::Normalized { json, known },
        None if depth_within(json, MAX_FIELDS_DEPTH) => {
            FieldsView::Map(Cow::Owned(serde_json::from_str(json).ok()?))
        }
        None => return None,
    };
    let empty = match &view {
        FieldsView::Normalized { json, .. } => *json == "{}",
        FieldsView::Map(map) => map.is_empty(),
    };
    Some((!empty).then_some(view))
}

// ---------------------------------------------------------------------------------------------
// Is a `fields` text (syntactically valid JSON, checked by the parser) already the normalized
// serialization `serde_json` would write for it?

/// `Some(Some(known))`: normalized; `Some(None)`: valid but not normalized (parse it);
/// `None`: deeper than [`MAX_FIELDS_DEPTH`] (leave the item to the exact path).
fn scan_normalized(json: &str) -> Option<Option<KnownFields<'_>>> {
    let mut scan = Scan {
        s: json,
        i: 0,
        known: KnownFields::default(),
    };
    match scan.value(0, Slot::Root) {
        Ok(()) if scan.i == json.len() => Some(Some(scan.known)),
        Ok(()) | Err(Stop::NotNormalized) => Some(None),
        Err(Stop::TooDeep) => None,
    }
}

/// Is the nesting of arrays and objects in `json` (valid JSON) at most `limit` deep?
fn depth_within(json: &str, limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for b in json.bytes() {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
            (false, _, b'{' | b'[') => {
                depth += 1;
                if depth > limit {
                    return false;
                }
            }
            (false, _, b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

enum Stop {
    NotNormalized,
    TooDeep,
}

/// Where a value sits, as far as the conventional keys care.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Root,
    /// `fields.http`, `fields.user`, `fields.rpc`.
    Group(Group),
    Known(KnownKey),
    Other,
}

#[derive(Clone, Copy, PartialEq)]
enum Group {
    Http,
    User,
    Rpc,
}

#[derive(Clone, Copy, PartialEq)]
enum KnownKey {
    HttpMethod,
    HttpRoute,
    HttpStatus,
    UserId,
    UserTier,
    UserRegion,
    RpcService,
    RpcMethod,
}

impl Slot {
    fn child(self, key: &str) -> Slot {
        match (self, key) {
            (Slot::Root, "http") => Slot::Group(Group::Http),
            (Slot::Root, "user") => Slot::Group(Group::User),
            (Slot::Root, "rpc") => Slot::Group(Group::Rpc),
            (Slot::Group(Group::Http), "method") => Slot::Known(KnownKey::HttpMethod),
            (Slot::Group(Group::Http), "route") => Slot::Known(KnownKey::HttpRoute),
            (Slot::Group(Group::Http), "status") => Slot::Known(KnownKey::HttpStatus),
            (Slot::Group(Group::User), "id") => Slot::Known(KnownKey::UserId),
            (Slot::Group(Group::User), "tier") => Slot::Known(KnownKey::UserTier),
            (Slot::Group(Group::User), "region") => Slot::Known(KnownKey::UserRegion),
            (Slot::Group(Group::Rpc), "service") => Slot::Known(KnownKey::RpcService),
            (Slot::Group(Group::Rpc), "method") => Slot::Known(KnownKey::RpcMethod),
            _ => Slot::Other,
        }
    }
}

struct Scan<'a> {
    s: &'a str,
    i: usize,
    known: KnownFields<'a>,
}

type Step = Result<(), Stop>;

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.i += usize::from(hit);
        hit
    }

    fn value(&mut self, depth: usize, slot: Slot) -> Step {
        match self.peek() {
            Some(b'{') => self.object(depth + 1, slot),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => {
                let s = self.string()?;
                self.set_str(slot, s);
                Ok(())
            }
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            _ => self.integer(slot),
        }
    }

    fn enter(depth: usize) -> Step {
        if depth > MAX_FIELDS_DEPTH {
            Err(Stop::TooDeep)
        } else {
            Ok(())
        }
    }

    fn object(&mut self, depth: usize, slot: Slot) -> Step {
        Self::enter(depth)?;
        self.i += 1;
        if self.eat(b'}') {
            return Ok(());
        }
        let mut prev: Option<&str> = None;
        loop {
            let key = self.string()?;
            // Strictly increasing byte order: sorted and no repeated key.
            if prev.is_some_and(|p| p >= key) || !self.eat(b':') {
                return Err(Stop::NotNormalized);
            }
            prev = Some(key);
            self.value(depth, slot.child(key))?;
            if self.eat(b'}') {
                return Ok(());
            }
            if !self.eat(b',') {
                return Err(Stop::NotNormalized);
            }
        }
    }

    fn array(&mut self, depth: usize) -> Step {
        Self::enter(depth)?;
        self.i += 1;
        if self.eat(b']') {
            return Ok(());
        }
        loop {
            self.value(depth, Slot::Other)?;
            if self.eat(b']') {
                return Ok(());
            }
            if !self.eat(b',') {
                return Err(Stop::NotNormalized);
            }
        }
    }

    /// A string without escapes (any escape: not normalized); returns its contents.
    fn string(&mut self) -> Result<&'a str, Stop> {
        if !self.eat(b'"') {
            return Err(Stop::NotNormalized);
        }
        let rest = &self.s[self.i..];
        let end = rest
            .bytes()
            .position(|b| b == b'"' || b == b'\\')
            .ok_or(Stop::NotNormalized)?;
        if rest.as_bytes()[end] == b'\\' {
            return Err(Stop::NotNormalized);
        }
        self.i += end + 1;
        Ok(&rest[..end])
    }

    fn literal(&mut self, word: &str) -> Step {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Stop::NotNormalized)
        }
    }

    /// An integer written as `serde_json` writes one: `0`, or digits without a leading zero,
    /// with `-` only for a value below zero, within u64 (non-negative) or i64 (negative).
    /// Fractions, exponents and out-of-range values become doubles there: not normalized.
    fn integer(&mut self, slot: Slot) -> Step {
        let negative = self.eat(b'-');
        let start = self.i;
        let digits = self.s.as_bytes()[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        self.i += digits;
        let text = &self.s[start..self.i];
        let magnitude: u64 = text.parse().map_err(|_| Stop::NotNormalized)?;
        if (digits > 1 && text.starts_with('0'))
            || matches!(self.peek(), Some(b'.' | b'e' | b'E'))
            || (negative && (magnitude == 0 || magnitude > 1 << 63))
        {
            return Err(Stop::NotNormalized);
        }
        if slot == Slot::Known(KnownKey::HttpStatus) {
            self.known.http_status = if negative {
                Some(0i64.wrapping_sub_unsigned(magnitude))
            } else {
                i64::try_from(magnitude).ok()
            };
        }
        Ok(())
    }

    fn set_str(&mut self, slot: Slot, s: &'a str) {
        let Slot::Known(key) = slot else { return };
        let k = &mut self.known;
        let target = match key {
            KnownKey::HttpMethod => &mut k.http_method,
            KnownKey::HttpRoute => &mut k.http_route,
            KnownKey::HttpStatus => return,
            KnownKey::UserId => &mut k.user_id,
            KnownKey::UserTier => &mut k.user_tier,
            KnownKey::UserRegion => &mut k.user_region,
            KnownKey::RpcService => &mut k.rpc_service,
            KnownKey::RpcMethod => &mut k.rpc_method,
        };
        *target = Some(s);
    }
}

#[cfg(test)]
mod tests;
