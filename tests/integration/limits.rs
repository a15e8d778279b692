//! Connection-level limits of the real binary (issue 14, bounded everything): a client that
//! never finishes its headers is disconnected after `WAYLOG_HTTP_HEADER_TIMEOUT`, and one that
//! trickles its body gets a clear error after `WAYLOG_HTTP_BODY_TIMEOUT` with nothing stored;
//! the server keeps serving everyone else meanwhile.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::harness::*;

fn connect(server: &Server) -> TcpStream {
    let addr = server.url.trim_start_matches("http://");
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Everything the server sends until it closes the connection (or the read timeout).
fn read_to_close(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn stalled_headers_are_disconnected_and_trickled_bodies_refused() {
    let dir = TestDir::new();
    let server = Server::start(
        &dir.data_dir(),
        &[],
        &[
            ("WAYLOG_HTTP_HEADER_TIMEOUT", "1s"),
            ("WAYLOG_HTTP_BODY_TIMEOUT", "1s"),
        ],
    );

    // Half a request head, then silence: closed after the header timeout.
    let mut stalled = connect(&server);
    stalled
        .write_all(b"POST /v1/events HTTP/1.1\r\nHost: waylog\r\nContent-Type: applic")
        .unwrap();
    let t = Instant::now();
    let answer = read_to_close(&mut stalled);
    let waited = t.elapsed();
    assert!(
        waited < Duration::from_secs(15),
        "still open after {waited:?}: {answer:?}"
    );
    assert!(!answer.contains("200 OK"), "{answer}");

    // A body that stops halfway: a 400 naming the setting, nothing stored.
    let body = serde_json::to_vec(&event("trickle-1")).unwrap();
    let mut trickle = connect(&server);
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: waylog\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    trickle.write_all(head.as_bytes()).unwrap();
    trickle.write_all(&body[..body.len() / 2]).unwrap();
    let answer = read_to_close(&mut trickle);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("WAYLOG_HTTP_BODY_TIMEOUT"), "{answer}");

    // Everyone else was served all along, and the trickled event was not stored.
    let env = server.ingest(&[event("ok-1")]);
    assert_eq!(env["accepted"], 1, "{env}");
    assert_eq!(server.count(), 1);
}

/// Ingest bodies in flight are bounded by bytes (`WAYLOG_INGEST_INFLIGHT_BYTES`): while one
/// client holds most of the budget with a slow body, another is told `503 overloaded` at once
/// (with `Retry-After`), and is admitted again as soon as the budget frees.
#[test]
fn ingest_bodies_in_flight_are_bounded_by_bytes() {
    let dir = TestDir::new();
    let server = Server::start(
        &dir.data_dir(),
        &[],
        &[("WAYLOG_INGEST_INFLIGHT_BYTES", "64KiB")],
    );
    // 64 KiB declared, a few bytes sent: the request holds the whole budget while its body
    // trickles.
    let open_slow = || {
        let mut slow = connect(&server);
        slow.write_all(
            b"POST /v1/events HTTP/1.1\r\nHost: waylog\r\nContent-Type: application/x-ndjson\r\nContent-Length: 65536\r\n\r\n{\"a\":",
        )
        .unwrap();
        slow
    };
    let mut slow = open_slow();
    let body = serde_json::to_vec(&event("inflight-1")).unwrap();
    let url = format!("{}/v1/events", server.url);
    // A refusal comes before the body is read, so the server may close the connection while
    // the client still writes: a fresh agent per attempt, and a transport error is a retry.
    let post = || {
        try_post(
            &agent(),
            &url,
            &[("Content-Type", "application/json")],
            &body,
        )
    };
    let status = || post().map_or(0, |r| r.status);
    // The slow request is admitted once its headers are read: poll until it holds the budget.
    // Should the server have answered it instead (it then sent bytes or closed), it is sent
    // again, and what it received is kept for the failure message.
    let mut answered = Vec::new();
    let refused = wait_until(Duration::from_secs(30), || {
        slow.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut buf = [0u8; 512];
        match slow.peek(&mut buf) {
            Ok(n) => {
                answered.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                slow = open_slow();
                false
            }
            Err(_) => status() == 503,
        }
    });
    assert!(
        refused,
        "a second body was admitted past the budget; the slow request got {answered:?}"
    );
    let r = (0..20)
        .find_map(|_| post().ok())
        .expect("an answer to a second body");
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "overloaded");
    assert_eq!(r.header("retry-after"), Some("1"));

    // The slow client goes away: its share returns and ingest works again.
    drop(slow);
    let admitted = wait_until(Duration::from_secs(10), || status() == 200);
    assert!(admitted, "ingest did not recover after the slow body ended");
    assert_eq!(server.count(), 1);
}
