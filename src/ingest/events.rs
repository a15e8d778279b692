//! The `/v1/events` pipeline (spec events §2.3-§2.4) without its transport: decompress a body
//! ([`decode_body`], checks 11-12), frame and validate its items ([`prepare`], check 13 and
//! stages 1-5), make the valid ones durable through dedup + WAL ([`commit`], stages 6-8). The
//! request checks on headers (1-10) are the edge's (`src/api/events.rs`).
//!
//! Invariants: [`prepare`] stores nothing, so a request refused by it (batch oversize) loses
//! nothing; rejected items are reported by index and never reach the writer.

use std::io::Read;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::error::ArrowError;
use serde::Serialize;

use super::framing::{
    Framing, ndjson_lines, parse_ndjson_line, raw_array_within, split_items_within, strip_bom,
};
use crate::model::fast::{EventView, decode_event, decode_event_str};
use crate::model::rejection::ErrorObject;
use crate::model::{ItemReject, validate_item_owned};
use crate::storage::schema::{EventColumns, TableId};
use crate::storage::{Storage, WriteError};

/// One rejected item of a request (spec events §2.5).
#[derive(Debug, Serialize)]
pub struct RejectedItem {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The response envelope of `/v1/events` and `/v1/events/validate` (spec events §2.5, §2.7).
#[derive(Debug, Serialize)]
pub struct Envelope {
    pub accepted: usize,
    pub duplicate: usize,
    pub rejected: Vec<RejectedItem>,
    pub deprecations: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

impl Envelope {
    /// The envelope of a framing error (§2.7): nothing accepted, one rejected entry at index 0
    /// with the error's code and detail.
    pub fn framing_error(error: ErrorObject) -> Self {
        Envelope {
            accepted: 0,
            duplicate: 0,
            rejected: vec![RejectedItem {
                index: 0,
                event_id: None,
                reason: error.code,
                detail: error.detail.clone(),
            }],
            deprecations: Default::default(),
            error: Some(error),
        }
    }
}

/// A body's `Content-Encoding` (§2.2 check 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

/// Why a body could not be decoded (checks 11-12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the limit; the size seen (raw or decompressed, possibly a lower bound).
    Oversize(u64),
    /// The compressed stream is corrupt.
    Corrupt(String),
}

/// Decompress `raw` by `encoding`, refusing anything that decompresses past `max` bytes
/// without decompressing further (a zip bomb costs at most `max + 1` bytes).
pub fn decode_body(
    raw: bytes::Bytes,
    encoding: Encoding,
    max: usize,
) -> Result<bytes::Bytes, BodyError> {
    let limit = max as u64 + 1;
    let decoded = match encoding {
        Encoding::Identity => return Ok(raw),
        Encoding::Gzip => {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&raw[..])
                .take(limit)
                .read_to_end(&mut out)
                .map_err(|e| BodyError::Corrupt(format!("gzip: {e}")))?;
            out
        }
        Encoding::Zstd => {
            let mut out = Vec::new();
            zstd::stream::read::Decoder::new(&raw[..])
                .map_err(|e| BodyError::Corrupt(format!("zstd: {e}")))?
                .take(limit)
                .read_to_end(&mut out)
                .map_err(|e| BodyError::Corrupt(format!("zstd: {e}")))?;
            out
        }
    };
    if decoded.len() > max {
        return Err(BodyError::Oversize(decoded.len() as u64));
    }
    Ok(bytes::Bytes::from(decoded))
}

/// A framed and validated request, ready to be committed.
#[derive(Debug)]
pub struct Prepared {
    /// Valid items.
    pub valid: usize,
    pub rejected: Vec<RejectedItem>,
    /// The valid items as one `events` batch (`None` when validating only or none is valid).
    pub batch: Option<Result<RecordBatch, ArrowError>>,
}

/// More items than the batch limit (check 13): the item count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOversize(pub usize);

/// Frame `body` and validate every item at `now_ns` (CPU work: call it on a blocking thread).
/// Items are counted before (NDJSON) or while (a JSON array) they are parsed, so an oversized
/// batch costs at most `max_items` parsed values.
///
/// Each item first takes the typed fast path ([`decode_event`]), which borrows its strings
/// from the body and appends them straight to the Arrow columns; an item it does not accept is
/// parsed and validated by the exact path, which decides its rejection (or, rarely, accepts
/// it). A JSON array body is fast only as a whole: any doubt re-frames the whole body exactly.
pub fn prepare(
    body: &[u8],
    framing: Framing,
    now_ns: i64,
    max_items: usize,
    validate_only: bool,
) -> Result<Prepared, BatchOversize> {
    let mut rows = Rows::new(validate_only);
    let body = strip_bom(body);
    match framing {
        Framing::Ndjson => {
            let lines = ndjson_lines(body).count();
            if lines > max_items {
                return Err(BatchOversize(lines));
            }
            rows.reserve(lines);
            for (index, line) in ndjson_lines(body).enumerate() {
                match decode_event(line, now_ns) {
                    Some(event) => rows.accept(&event),
                    None => rows.exact(index, parse_ndjson_line(line), now_ns),
                }
            }
        }
        Framing::Json => match fast_json(body, now_ns, max_items) {
            Some(events) => {
                rows.reserve(events.len());
                events.iter().for_each(|e| rows.accept(e));
            }
            None => {
                let items = split_items_within(body, framing, max_items).map_err(BatchOversize)?;
                rows.reserve(items.len());
                for (index, item) in items.into_iter().enumerate() {
                    rows.exact(index, item, now_ns);
                }
            }
        },
    }
    Ok(rows.finish())
}

/// The fast path over a whole `application/json` body: every item's event, or `None` when any
/// item (or the framing) needs the exact path.
fn fast_json(body: &[u8], now_ns: i64, max_items: usize) -> Option<Vec<EventView<'_>>> {
    let first = body
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
    if *first != b'[' {
        return Some(vec![decode_event(body, now_ns)?]);
    }
    raw_array_within(body, max_items)?
        .into_iter()
        .map(|raw| decode_event_str(raw.get(), now_ns))
        .collect()
}

/// The outcome of a request's items, in index order: valid rows go to the Arrow columns
/// (unless validating only), rejections to the envelope's list.
struct Rows {
    columns: Option<EventColumns>,
    valid: usize,
    rejected: Vec<RejectedItem>,
}

impl Rows {
    fn new(validate_only: bool) -> Self {
        Rows {
            columns: (!validate_only).then(EventColumns::default),
            valid: 0,
            rejected: Vec::new(),
        }
    }

    fn reserve(&mut self, items: usize) {
        if let Some(columns) = &mut self.columns {
            *columns = EventColumns::with_capacity(items);
        }
    }

    fn accept(&mut self, event: &EventView<'_>) {
        self.valid += 1;
        if let Some(columns) = &mut self.columns {
            columns.push(event);
        }
    }

    /// The exact path (stages 2-5 on a parsed item, or its framing rejection).
    fn exact(&mut self, index: usize, item: Result<serde_json::Value, ItemReject>, now_ns: i64) {
        match item.and_then(|v| validate_item_owned(v, now_ns)) {
            Ok(event) => self.accept(&event.view()),
            Err(ItemReject {
                reason,
                detail,
                event_id,
            }) => self.rejected.push(RejectedItem {
                index,
                event_id,
                reason: reason.as_str(),
                detail,
            }),
        }
    }

    fn finish(self) -> Prepared {
        Prepared {
            valid: self.valid,
            rejected: self.rejected,
            batch: self
                .columns
                .filter(|c| !c.is_empty())
                .map(EventColumns::finish),
        }
    }
}

/// Why a prepared request was not committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("arrow conversion failed")]
    Arrow(#[source] ArrowError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Dedup + WAL + hot tier for the valid items (stages 6-8); `storage = None` validates only.
/// The envelope counts what was accepted and what was a duplicate.
pub async fn commit(
    storage: Option<&Storage>,
    prepared: Prepared,
) -> Result<Envelope, CommitError> {
    let (accepted, duplicate) = match (storage, prepared.batch) {
        (Some(storage), Some(Ok(batch))) => {
            let o = storage.append(TableId::Events, batch).await?;
            (o.accepted, o.duplicate)
        }
        (_, Some(Err(e))) => return Err(CommitError::Arrow(e)),
        _ => (prepared.valid, 0),
    };
    Ok(Envelope {
        accepted,
        duplicate,
        rejected: prepared.rejected,
        deprecations: Default::default(),
        error: None,
    })
}

#[cfg(test)]
mod tests;
