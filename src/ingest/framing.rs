//! Request-body framing for `POST /v1/events` (spec events §2.3): splits a decompressed body
//! into items, each parsed JSON or already rejected, in `index` order.
//!
//! Invariants: the result has exactly one entry per item, so `split_items(..).len()` is the
//! item count that the batch-size check (§2.2 check 13) compares; a body that is not JSON at
//! all is still one (rejected) item. Stage 1 of §2.4 (parse) happens here; stages 2-5 are
//! [`crate::model::validate_item`].

use serde_json::Value;

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
    let body = body.strip_prefix(UTF8_BOM).unwrap_or(body);
    match framing {
        Framing::Json => split_json(body, max_items),
        Framing::Ndjson => {
            let lines = body
                .split(|b| *b == b'\n')
                .filter(|l| !l.trim_ascii().is_empty())
                .count();
            if lines > max_items {
                return Err(lines);
            }
            Ok(split_ndjson(body))
        }
    }
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

/// Lines are split on `\n` and trimmed of ASCII whitespace (space, `\t`, `\r`, form feed);
/// blank lines are skipped and are not counted in `index`. Each line is parsed in place from
/// the body slice.
fn split_ndjson(body: &[u8]) -> Vec<Result<Value, ItemReject>> {
    // No capacity from a newline count: a body of blank lines would reserve a slot per line.
    let mut items = Vec::new();
    for line in body.split(|&b| b == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        items.push(match serde_json::from_slice::<Value>(line) {
            Ok(Value::Array(_)) => Err(ItemReject {
                reason: RejectReason::SchemaValidationFailed,
                detail: ": nested arrays are not allowed in ndjson".to_owned(),
                event_id: None,
            }),
            Ok(item) => Ok(item),
            Err(err) => Err(invalid_json(&err)),
        });
    }
    items
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
