//! Request-body framing for `POST /v1/events` (spec events §2.3): splits a decompressed body
//! into items, each parsed JSON or already rejected, in `index` order.
//!
//! Invariants: the result has exactly one entry per item, so `split_items(..).len()` is the
//! item count that the batch-size check (§2.2 check 13) compares; a body that is not JSON at
//! all is still one (rejected) item. Stage 1 of §2.4 (parse) happens here; stages 2-5 are
//! [`crate::model::validate_item`].

use serde_json::Value;
use serde_json::value::RawValue;

use crate::model::{ItemReject, RejectReason};

/// The body's framing, from its media type (§2.2 check 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `application/json`: one object, or an array of items.
    Json,
    /// `application/x-ndjson`: one item per non-blank line.
    Ndjson,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Spec §2.3: split a (decompressed) body into items. Each item is `Ok(parsed JSON value)` or
/// `Err(ItemReject)` with reason `InvalidJson` (detail = serde_json's error text) or, for an
/// NDJSON line holding an array, `SchemaValidationFailed`. Non-object values are returned as
/// `Ok`; [`crate::model::validate_item`] rejects them.
pub fn split_items(body: &[u8], framing: Framing) -> Vec<Result<Value, ItemReject>> {
    match split_items_within(body, framing, usize::MAX) {
        Ok(items) => items,
        Err(n) => unreachable!("{n} items cannot exceed usize::MAX"),
    }
}

/// [`split_items`], refusing more than `max_items` items (§2.2 check 13) with their count.
/// A JSON array is counted while it is parsed: elements past the limit are skipped without
/// building values, so an oversized batch costs no more memory than `max_items` items.
/// NDJSON lines are counted before any is parsed.
pub fn split_items_within(
    body: &[u8],
    framing: Framing,
    max_items: usize,
) -> Result<Vec<Result<Value, ItemReject>>, usize> {
    let body = strip_bom(body);
    match framing {
        Framing::Json => split_json(body, max_items),
        Framing::Ndjson => {
            let lines = ndjson_lines(body).count();
            if lines > max_items {
                return Err(lines);
            }
            Ok(ndjson_lines(body).map(parse_ndjson_line).collect())
        }
    }
}

/// The body without a leading UTF-8 byte-order mark (§2.3).
pub fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(UTF8_BOM).unwrap_or(body)
}

/// The items of an NDJSON body (BOM already stripped): lines split on `\n`, trimmed of ASCII
/// whitespace (space, `\t`, `\r`, form feed), blank lines skipped (they are not counted in
/// `index`).
pub fn ndjson_lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|l| !l.is_empty())
}

/// One NDJSON item parsed in place from the body slice; a line holding an array is rejected
/// (no nested batches).
pub fn parse_ndjson_line(line: &[u8]) -> Result<Value, ItemReject> {
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Array(_)) => Err(ItemReject {
            reason: RejectReason::SchemaValidationFailed,
            detail: ": nested arrays are not allowed in ndjson".to_owned(),
            event_id: None,
        }),
        Ok(item) => Ok(item),
        Err(err) => Err(invalid_json(&err)),
    }
}

/// The elements of a JSON array body (BOM stripped) as unparsed text, for the fast path:
/// `None` unless the body is exactly one array of at most `max_items` elements whose syntax
/// is valid. (Number ranges, escapes and depth are left to whoever parses the elements; the
/// caller falls back to [`split_items_within`] on any doubt, which decides exactly.)
pub fn raw_array_within(body: &[u8], max_items: usize) -> Option<Vec<&RawValue>> {
    struct Elements {
        max: usize,
    }
    impl<'de> serde::de::Visitor<'de> for Elements {
        type Value = Option<Vec<&'de RawValue>>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON array")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<&'de RawValue>()? {
                if items.len() == self.max {
                    return Ok(None);
                }
                items.push(item);
            }
            Ok(Some(items))
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let items = serde::Deserializer::deserialize_seq(&mut de, Elements { max: max_items }).ok()?;
    de.end().ok()?;
    items
}

/// The elements of a top-level JSON array, built as values up to `max` and only counted past
/// it (`Err(count)`).
struct BoundedArray {
    max: usize,
}

impl<'de> serde::de::Visitor<'de> for BoundedArray {
    type Value = Result<Vec<Value>, usize>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            if items.len() == self.max {
                drop((items, item));
                let mut count = self.max + 1;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    count += 1;
                }
                return Ok(Err(count));
            }
            items.push(item);
        }
        Ok(Ok(items))
    }
}

/// Exactly one JSON value with optional JSON whitespace around it; anything else (empty,
/// truncated, two values back to back, invalid UTF-8) is one `invalid_json` item.
fn split_json(body: &[u8], max_items: usize) -> Result<Vec<Result<Value, ItemReject>>, usize> {
    let starts_array = body
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| *b == b'[');
    if !starts_array {
        return Ok(match serde_json::from_slice::<Value>(body) {
            Ok(item) => vec![Ok(item)],
            Err(err) => vec![Err(invalid_json(&err))],
        });
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = serde::Deserializer::deserialize_seq(&mut de, BoundedArray { max: max_items })
        .and_then(|items| de.end().map(|()| items));
    match parsed {
        Ok(Ok(items)) => Ok(items.into_iter().map(Ok).collect()),
        Ok(Err(count)) => Err(count),
        Err(err) => Ok(vec![Err(invalid_json(&err))]),
    }
}

fn invalid_json(err: &serde_json::Error) -> ItemReject {
    ItemReject {
        reason: RejectReason::InvalidJson,
        detail: err.to_string(),
        event_id: None,
    }
}

#[cfg(test)]
mod tests;
