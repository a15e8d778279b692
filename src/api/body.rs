//! Request-body plumbing shared by the write routes: media types, `Content-Encoding`, the
//! declared length, and reading a body under its limit (decompression is the domain's
//! [`decode_body`]).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

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
    let raw = axum::body::to_bytes(body, max).await.map_err(|e| {
        if is_length_limit(&e) {
            BodyError::Oversize(max as u64 + 1)
        } else {
            BodyError::Corrupt(e.to_string())
        }
    })?;
    decode_body(raw, encoding, max)
}

/// Read and discard what a refused request still sends, up to 64 KiB and 500 ms, so the client
/// reads the refusal instead of a connection reset (closing a socket with unread bytes resets
/// it). Nothing is kept: each chunk is dropped as it arrives.
pub async fn drain_refused(body: Body) {
    use futures::StreamExt;
    const DRAIN_MAX: usize = 64 << 10;
    let mut stream = body.into_data_stream();
    let drain = async {
        let mut seen = 0;
        while let Some(Ok(chunk)) = stream.next().await {
            seen += chunk.len();
            if seen > DRAIN_MAX {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
}

/// `e`, once what the refused request still sends has been drained ([`drain_refused`]).
pub async fn refuse(req: axum::extract::Request, e: crate::api::ApiError) -> crate::api::ApiError {
    drain_refused(req.into_body()).await;
    e
}

/// Whether reading a body failed on its size limit (not on a timeout or a broken connection).
pub fn is_length_limit(e: &axum::Error) -> bool {
    crate::storage::error_chain(e).contains("length limit")
}

/// The error of a body not received within `WAYLOG_HTTP_BODY_TIMEOUT`.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within {0:?} (WAYLOG_HTTP_BODY_TIMEOUT)")]
pub struct BodyTimeout(pub Duration);

/// A request body that fails once `timeout` has passed since the request arrived (issue 14:
/// a client trickling its body cannot hold a request open forever). The timer starts lazily,
/// on the first read, so requests whose body is never read cost nothing.
pub struct DeadlineBody {
    inner: Body,
    started: Instant,
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl DeadlineBody {
    pub fn new(inner: Body, timeout: Duration) -> Self {
        DeadlineBody {
            inner,
            started: Instant::now(),
            timeout,
            sleep: None,
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        let deadline = this.started + this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(BodyTimeout(this.timeout).into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_trickling_body_fails_after_the_deadline() {
        let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let body = Body::from_stream(rx);
        let slow = Body::new(DeadlineBody::new(body, Duration::from_millis(50)));
        tx.try_send(Ok(Bytes::from_static(b"{\"a\":"))).unwrap();
        // The sender stays open and silent: only the deadline can end the read.
        let e = axum::body::to_bytes(slow, 1024).await.unwrap_err();
        assert!(!is_length_limit(&e));
        assert!(
            crate::storage::error_chain(&e).contains("WAYLOG_HTTP_BODY_TIMEOUT"),
            "{e}"
        );
        drop(tx);
    }

    #[tokio::test]
    async fn a_complete_body_within_the_deadline_reads_whole() {
        let body = Body::new(DeadlineBody::new(
            Body::from("hello"),
            Duration::from_secs(5),
        ));
        assert_eq!(axum::body::to_bytes(body, 1024).await.unwrap(), "hello");
        let big = Body::new(DeadlineBody::new(
            Body::from("x".repeat(100)),
            Duration::from_secs(5),
        ));
        let e = axum::body::to_bytes(big, 10).await.unwrap_err();
        assert!(is_length_limit(&e));
    }

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
