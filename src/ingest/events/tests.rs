//! The fast `prepare` against the exact pipeline it replaced (frame every item into a `Value`,
//! validate it, convert the events): same envelope, same rows, byte for byte.

use super::*;
use crate::ingest::framing::split_items_within;
use crate::storage::schema::events_to_batch;

/// 2026-05-04T13:06:40Z.
const NOW: i64 = 1_777_900_000_000_000_000;

const VALID: &str = concat!(
    r#"{"schema_version":"2.0","event_id":"ev-1","ts_start":"2026-05-04T10:00:00Z","#,
    r#""ts_end":"2026-05-04T10:00:00.062Z","duration_ms":62,"kind":"http","service":"checkout","#,
    r#""env":"prod","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","status":"error","#,
    r#""anchor":{"step":"payment.charge","error_code":"PMT_502"},"#,
    r#""steps":[{"name":"payment.charge","span_id":"53995c3f42cd8ad8","start_ms":9,"#,
    r#""duration_ms":40,"status":"error","downstream":{"service":"payment","kind":""}}],"#,
    r#""logs":[{"ts_offset_ms":50,"level":"warn","msg":"","fields":{"attempt":1}}],"#,
    r#""fields":{"http":{"method":"POST","route":"/checkout","status":502},"#,
    r#""user":{"id":"u-1","tier":""}},"errors":[{"code":"","reason":""}]}"#,
);

/// Items of every kind: fast, exact-accepted, rejected for each reason, framing oddities.
fn items() -> Vec<String> {
    let with = |from: &str, to: &str| {
        assert!(VALID.contains(from), "{from}");
        VALID.replacen(from, to, 1)
    };
    vec![
        VALID.to_owned(),
        with(r#""ev-1""#, r#""ev-2""#),
        with(r#""kind":"http""#, r#""kind":"rpc""#),
        with(r#""route":"/checkout","#, ""),
        with(
            r#""http":{"#,
            r#""rpc":{"method":"m","service":"s"},"http":{"#,
        ),
        with(r#"{"attempt":1}"#, r#"{ "b":1, "a":[1.5,-0,"\u00e9"]}"#),
        with(r#""fields":{"http""#, r#""fields":{"zz":1,"http""#),
        with(r#""env":"prod""#, r#""env":"prod","env":"staging""#),
        with(r#""env":"prod""#, r#""env":"prod","env":"""#),
        with(r#""env":"prod""#, r#""env":"pr\u006fd""#),
        with(r#""schema_version":"2.0""#, r#""schema_version":"1.0""#),
        with(
            r#""ts_start":"2026-05-04T10:00:00Z""#,
            r#""ts_start":"2026-05-05T10:00:00Z""#,
        ),
        with(r#""duration_ms":62"#, r#""duration_ms":62.0"#),
        with(r#""status":"error","#, r#""status":"ok","#),
        with(
            r#""anchor":{"step":"payment.charge","error_code":"PMT_502"},"#,
            "",
        ),
        with(r#""env":"prod""#, r#""env":"prod","x":1e999"#),
        r#"{"schema_version":"2.0","#.to_owned(),
        "[1,2]".to_owned(),
        "42".to_owned(),
        "{}".to_owned(),
    ]
}

/// The exact pipeline: every item framed into a `Value`, validated, then converted.
fn exact_prepare(body: &[u8], framing: Framing, max: usize) -> Result<Prepared, BatchOversize> {
    let items = split_items_within(body, framing, max).map_err(BatchOversize)?;
    let mut events = Vec::new();
    let mut rejected = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match item.and_then(|v| validate_item_owned(v, NOW)) {
            Ok(e) => events.push(e),
            Err(r) => rejected.push(RejectedItem {
                index,
                event_id: r.event_id,
                reason: r.reason.as_str(),
                detail: r.detail,
            }),
        }
    }
    Ok(Prepared {
        valid: events.len(),
        rejected,
        batch: (!events.is_empty()).then(|| events_to_batch(&events)),
    })
}

fn assert_same(body: &[u8], framing: Framing, max: usize) {
    let fast = prepare(body, framing, NOW, max, false);
    let exact = exact_prepare(body, framing, max);
    let text = String::from_utf8_lossy(body);
    match (fast, exact) {
        (Ok(fast), Ok(exact)) => {
            assert_eq!(fast.valid, exact.valid, "{text}");
            assert_eq!(
                serde_json::to_value(&fast.rejected).unwrap(),
                serde_json::to_value(&exact.rejected).unwrap(),
                "{text}"
            );
            let batch = |p: Prepared| p.batch.map(|b| b.unwrap());
            assert_eq!(batch(fast), batch(exact), "{text}");
        }
        (fast, exact) => assert_eq!(fast.err(), exact.err(), "{text}"),
    }
    let validated = prepare(body, framing, NOW, max, true);
    if let Ok(p) = validated {
        assert!(p.batch.is_none());
    }
}

#[test]
fn ndjson_bodies_give_the_exact_pipelines_envelope_and_rows() {
    let items = items();
    for n in 0..items.len() {
        // Every item alone, then each with its neighbours, a BOM, blank and CRLF lines.
        assert_same(items[n].as_bytes(), Framing::Ndjson, 100);
        let body = format!(
            "\u{feff}{}\r\n\n  {}\n{}",
            items[n],
            items[(n + 1) % items.len()],
            items[(n + 7) % items.len()]
        );
        assert_same(body.as_bytes(), Framing::Ndjson, 100);
    }
    assert_same(items.join("\n").as_bytes(), Framing::Ndjson, 100);
    assert_same(items.join("\n").as_bytes(), Framing::Ndjson, 3);
    assert_same(b"\n \n", Framing::Ndjson, 3);
}

#[test]
fn json_bodies_give_the_exact_pipelines_envelope_and_rows() {
    let items = items();
    for item in &items {
        assert_same(item.as_bytes(), Framing::Json, 100);
        assert_same(format!(" {item}\n").as_bytes(), Framing::Json, 100);
        assert_same(format!("[{VALID},{item}]").as_bytes(), Framing::Json, 100);
    }
    let valid: Vec<&str> = items[..7].iter().map(String::as_str).collect();
    let all_valid = format!("\u{feff}[{}]", valid.join(" ,\n"));
    assert_same(all_valid.as_bytes(), Framing::Json, 100);
    assert_same(all_valid.as_bytes(), Framing::Json, 3);
    assert_same(
        format!("[{}]", items.join(",")).as_bytes(),
        Framing::Json,
        100,
    );
    for body in ["[]", "", "[", "[{}] x", "{} {}", "null"] {
        assert_same(body.as_bytes(), Framing::Json, 100);
    }
}
