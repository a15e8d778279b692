//! Request-body plumbing shared by the write routes: media types, `Content-Encoding`, the
//! declared length, and reading a body under its limit (decompression is the domain's
//! [`decode_body`]).

use axum::body::Body;
use axum::http::{HeaderMap, header};

use crate::ingest::events::{BodyError, Encoding, decode_body};

/// `type/subtype` lower-cased, parameters dropped; `None` when unparseable.
pub fn media_type(v: &str) -> Option<String> {
    let main = v.split(';').next()?.trim();
    let (t, s) = main.split_once('/')?;
    let token = |x: &str| {
        !x.is_empty()
            && x.bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
    };
    if !token(t) || !token(s) {
        return None;
    }
    Some(main.to_ascii_lowercase())
}

/// The request's one `Content-Encoding`; `Err(detail)` for several or an unsupported one.
pub fn content_encoding(headers: &HeaderMap, allow_zstd: bool) -> Result<Encoding, String> {
    let values: Vec<_> = headers.get_all(header::CONTENT_ENCODING).iter().collect();
    if values.is_empty() {
        return Ok(Encoding::Identity);
    }
    if values.len() > 1 {
        return Err("more than one Content-Encoding".into());
    }
    let v = values[0].to_str().unwrap_or("").trim().to_ascii_lowercase();
    match v.as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" => Ok(Encoding::Gzip),
        "zstd" if allow_zstd => Ok(Encoding::Zstd),
        other => Err(format!("unsupported Content-Encoding {other:?}")),
    }
}

/// The declared `Content-Length` when it is above `max`.
pub fn declared_oversize(headers: &HeaderMap, max: usize) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|len| *len > max as u64)
}

/// Checks 10-12: raw size, decompression, decompressed size.
pub async fn read_body(
    body: Body,
    encoding: Encoding,
    max: usize,
) -> Result<bytes::Bytes, BodyError> {
    let raw = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| BodyError::Oversize(max as u64 + 1))?;
    decode_body(raw, encoding, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_parses_and_lowercases() {
        assert_eq!(
            media_type("Application/JSON; charset=utf-8").as_deref(),
            Some("application/json")
        );
        assert_eq!(
            media_type("application/x-ndjson").as_deref(),
            Some("application/x-ndjson")
        );
        assert_eq!(media_type("json"), None);
        assert_eq!(media_type(""), None);
        assert_eq!(media_type("a/b c"), None);
    }
}
