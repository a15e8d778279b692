//! The span-count guard of OTLP exports (issue 14: bounded memory). A protobuf export of empty
//! spans costs 2 bytes per span on the wire and ~250 bytes per decoded `Span`, so a 16 MiB body
//! could decode to ~2 GB. Before decoding, the spans are counted straight from the wire format
//! (resource_spans = 1 → scope_spans = 2 → spans = 2, all length-delimited) and an export over
//! `WAYLOG_OTLP_MAX_SPANS` is refused: `413 batch_oversize` on HTTP, `RESOURCE_EXHAUSTED` on
//! gRPC. OTLP/JSON is counted on the parsed JSON tree before it is converted.
//!
//! The scan never decides validity: a malformed message stops the count and is left to the
//! decoder, which reports it with its own words.

use serde_json::Value;

/// An export with more spans than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("more than {limit} spans")]
pub struct TooManySpans {
    pub limit: usize,
}

/// Field numbers of the path to the spans.
const RESOURCE_SPANS: u64 = 1;
const SCOPE_SPANS: u64 = 2;
const SPANS: u64 = 2;

/// Wire types of the protobuf encoding.
const VARINT: u64 = 0;
const I64: u64 = 1;
const LEN: u64 = 2;
const I32: u64 = 5;

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Calls `f` with the payload of every length-delimited field numbered `field` of `msg`, in
/// order, until `f` returns an error. A malformed message ends the walk quietly.
fn each_len_field<E>(
    msg: &[u8],
    field: u64,
    mut f: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut pos = 0;
    while pos < msg.len() {
        let Some(key) = varint(msg, &mut pos) else {
            return Ok(());
        };
        let skip = match key & 7 {
            VARINT => varint(msg, &mut pos).map(|_| 0),
            I64 => Some(8),
            I32 => Some(4),
            LEN => varint(msg, &mut pos).and_then(|n| usize::try_from(n).ok()),
            _ => None,
        };
        let Some(skip) = skip else { return Ok(()) };
        let Some(end) = pos.checked_add(skip).filter(|&e| e <= msg.len()) else {
            return Ok(());
        };
        if key & 7 == LEN && key >> 3 == field {
            f(&msg[pos..end])?;
        }
        pos = end;
    }
    Ok(())
}

/// The number of spans of a protobuf `ExportTraceServiceRequest`, or [`TooManySpans`] as soon
/// as it passes `limit` (the rest is not scanned).
pub fn protobuf_spans(body: &[u8], limit: usize) -> Result<usize, TooManySpans> {
    let mut count = 0usize;
    each_len_field(body, RESOURCE_SPANS, |rs| {
        each_len_field(rs, SCOPE_SPANS, |ss| {
            each_len_field(ss, SPANS, |_| {
                count += 1;
                if count > limit {
                    Err(TooManySpans { limit })
                } else {
                    Ok(())
                }
            })
        })
    })?;
    Ok(count)
}

/// The items of the array member `camel`, else `snake` (the first non-null one, as the
/// OTLP/JSON decoder picks it); none when absent or not an array.
fn items<'a>(v: &'a Value, camel: &str, snake: &str) -> &'a [Value] {
    [camel, snake]
        .into_iter()
        .find_map(|k| v.get(k).filter(|x| !x.is_null()))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The number of spans of a parsed OTLP/JSON request, or [`TooManySpans`] past `limit`.
pub fn json_spans(root: &Value, limit: usize) -> Result<usize, TooManySpans> {
    let mut count = 0usize;
    for rs in items(root, "resourceSpans", "resource_spans") {
        for ss in items(rs, "scopeSpans", "scope_spans") {
            count += items(ss, "spans", "spans").len();
            if count > limit {
                return Err(TooManySpans { limit });
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests;
