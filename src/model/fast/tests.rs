//! Differential tests: the fast path accepts only what the exact path accepts, in the same
//! normalized form, and accepts the ordinary events it exists for.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::model::{Anchor, Downstream, ErrorRef, Log, Step, StepError, validate_item_owned};

/// 2026-05-04T13:06:40Z, after the example's timestamps.
const NOW: i64 = 1_777_900_000_000_000_000;

/// Spec events §1.9 on one line (its normalized form is already compact).
const EXAMPLE: &str = crate::model::validate::tests::EXAMPLE_NORMALIZED;

/// An owned event from a view (the normalized text of `fields` parsed back into a map).
fn to_event(v: &EventView<'_>) -> Event {
    let s = |t: &Text<'_>| t.to_string();
    let os = |t: &Option<Text<'_>>| t.as_ref().map(|t| t.to_string());
    let map = |f: &Option<FieldsView<'_>>| {
        f.as_ref()
            .map(|f| serde_json::from_str(&f.to_json()).expect("stored fields are JSON"))
    };
    let triple = |t: &Option<Triple<'_>>| t.as_ref().map(|t| t.0.clone().map(|m| os(&m)));
    Event {
        schema_version: crate::model::SchemaVersion::V2,
        event_id: s(&v.event_id),
        ts_start_ns: v.ts_start_ns,
        ts_end_ns: v.ts_end_ns,
        duration_ms: v.duration_ms,
        kind: v.kind,
        service: s(&v.service),
        env: s(&v.env),
        version: os(&v.version),
        trace_id: s(&v.trace_id),
        span_id: s(&v.span_id),
        parent_span_id: s(&v.parent_span_id),
        status: v.status,
        anchor: v.anchor.as_ref().map(|a| Anchor {
            step: s(&a.step),
            error_code: s(&a.error_code),
            kind: os(&a.kind),
        }),
        steps: v
            .steps
            .iter()
            .map(|st| Step {
                name: s(&st.name),
                span_id: os(&st.span_id),
                start_ms: st.start_ms,
                duration_ms: st.duration_ms,
                status: st.status,
                downstream: triple(&st.downstream).map(|[service, endpoint, kind]| Downstream {
                    service,
                    endpoint,
                    kind,
                }),
                error: triple(&st.error).map(|[code, reason, cause]| StepError {
                    code,
                    reason,
                    cause,
                }),
            })
            .collect(),
        logs: v
            .logs
            .iter()
            .map(|l| Log {
                ts_offset_ms: l.ts_offset_ms,
                level: l.level,
                msg: s(&l.msg),
                fields: map(&l.fields),
            })
            .collect(),
        fields: map(&v.fields),
        errors: v
            .errors
            .iter()
            .map(|r| ErrorRef {
                code: s(&r.code),
                reason: os(&r.reason),
            })
            .collect(),
    }
}

/// The exact path on one item's text.
fn exact(item: &str) -> Option<Event> {
    let value: Value = serde_json::from_str(item).ok()?;
    validate_item_owned(value, NOW).ok()
}

/// The differential property on one item; returns whether the fast path accepted it.
fn check(item: &str) -> bool {
    let Some(view) = decode_event(item.as_bytes(), NOW) else {
        return false;
    };
    let event = exact(item)
        .unwrap_or_else(|| panic!("fast path accepted what the exact path rejects: {item}"));
    assert_eq!(to_event(&view), event, "{item}");
    // The stored columns read the same conventional keys from either form of `fields`.
    for (fast, exact) in [(&view.fields, &event.fields)].into_iter().chain(
        view.logs
            .iter()
            .zip(&event.logs)
            .map(|(a, b)| (&a.fields, &b.fields)),
    ) {
        let exact_view = exact.as_ref().map(|m| FieldsView::Map(Cow::Borrowed(m)));
        assert_eq!(
            fast.as_ref().map(FieldsView::known),
            exact_view.as_ref().map(FieldsView::known),
            "{item}"
        );
        assert_eq!(
            fast.as_ref().map(|f| f.to_json().into_owned()),
            exact.as_ref().map(|m| serde_json::to_string(m).unwrap()),
            "{item}"
        );
    }
    true
}

#[test]
fn fast_path_accepts_the_spec_example_like_the_exact_path() {
    assert!(check(EXAMPLE));
    let view = decode_event(EXAMPLE.as_bytes(), NOW).unwrap();
    assert!(matches!(view.fields, Some(FieldsView::Normalized { .. })));
    assert!(matches!(view.event_id, Cow::Borrowed(_)));
}

#[test]
fn fast_path_leaves_every_spec_invalid_example_to_the_exact_path() {
    let invalid = [
        (r#""schema_version":"2.0""#, r#""schema_version":"1.1""#),
        (r#""schema_version":"2.0""#, r#""schema_version":"2.1""#),
        (r#""schema_version":"2.0""#, r#""schema_version":2.0"#),
        (
            r#""event_id":"3f6c1e0a-8d2b-4c71-9e55-0b7a2d4c9e13""#,
            r#""event_id":"""#,
        ),
        (
            r#""error_code":"PMT_502","kind""#,
            r#""error_code":"","kind""#,
        ),
        (
            r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736""#,
            r#""trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736""#,
        ),
        (
            r#""ts_start":"2026-05-04T10:00:00Z""#,
            r#""ts_start":"2026-05-04 10:00:00""#,
        ),
        (
            r#""ts_start":"2026-05-04T10:00:00Z""#,
            r#""ts_start":"2027-05-04T10:00:00Z""#,
        ),
        (r#""span_id":"53995c3f42cd8ad8","#, ""),
        (r#""duration_ms":62"#, r#""duration_ms":"62""#),
        (r#""duration_ms":62"#, r#""duration_ms":62.5"#),
        (r#""duration_ms":62"#, r#""duration_ms":62.0"#),
        (r#""duration_ms":62"#, r#""duration_ms":-0"#),
        (r#""duration_ms":62"#, r#""duration_ms":-1"#),
        (
            r#""duration_ms":62"#,
            r#""duration_ms":9223372036854775808"#,
        ),
        (r#""duration_ms":62"#, r#""duration_ms":null"#),
        (r#""kind":"http""#, r#""kind":"grpc""#),
        (r#""level":"warn""#, r#""level":"debug""#),
        (r#""version":"2026.05.04-1""#, r#""version":null"#),
        (r#""status":"error""#, r#""status":"ERROR""#),
        // Unknown members the parser must still check as values.
        (r#""env":"prod""#, r#""env":"prod","x":1e999"#),
        (r#""env":"prod""#, r#""env":"prod","x":"\ud800""#),
        (r#""attempt":1"#, r#""attempt":1e999"#),
        // Repeated members (the exact path keeps the last one; valid or not, it decides).
        (r#""env":"prod""#, r#""env":"prod","env":"""#),
        (r#""env":"prod""#, r#""env":"prod","env":"staging""#),
    ];
    for (from, to) in invalid {
        assert!(EXAMPLE.contains(from), "{from}");
        let item = EXAMPLE.replacen(from, to, 1);
        assert!(!check(&item), "the fast path took {item}");
    }
}

#[test]
fn fields_in_normalized_form_are_stored_as_sent_and_others_are_normalized() {
    let with_fields = |fields: &str| {
        EXAMPLE.replacen(
            r#""fields":{"http""#,
            &format!(r#""fields":{fields},"x":{{"http""#),
            1,
        )
    };
    for fields in [
        r#"{"a":1,"b":[true,false,null,-5,18446744073709551615],"c":{"d":"é"}}"#,
        r#"{"b":1,"a":2}"#,
        r#"{"a":1,"a":2}"#,
        r#"{"a": 1}"#,
        r#"{"a":1.5}"#,
        r#"{"a":1e2}"#,
        r#"{"a":-0}"#,
        r#"{"a":18446744073709551616}"#,
        r#"{"a":-9223372036854775808}"#,
        r#"{"a":-9223372036854775809}"#,
        r#"{"a":"\u0041"}"#,
        r#"{"a":"\n"}"#,
        r#"{"\u0061":1}"#,
        r#"{"http":{"method":"GET","route":"","status":-3},"user":{"id":"","tier":7}}"#,
        r#"{"http":{"status":9223372036854775808}}"#,
        r#"{"http":{"status":200.0}}"#,
        r#"{"http":"x","rpc":{"method":"m","service":"s"}}"#,
        r#"{"http":{"method":{"x":1}}}"#,
        r#"{}"#,
        r#"[]"#,
        r#"null"#,
        r#"3"#,
    ] {
        check(&with_fields(fields));
    }
    let normalized = with_fields(r#"{"a":1,"b":[true,null,-5],"c":{"d":"é"}}"#);
    let view = decode_event(normalized.as_bytes(), NOW).unwrap();
    assert!(matches!(view.fields, Some(FieldsView::Normalized { .. })));
    let sorted_late = with_fields(r#"{"b":1,"a":2}"#);
    let view = decode_event(sorted_late.as_bytes(), NOW).unwrap();
    assert_eq!(view.fields.unwrap().to_json(), r#"{"a":2,"b":1}"#);
}

#[test]
fn deep_fields_leave_the_fast_path() {
    let deep = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
    for n in [MAX_FIELDS_DEPTH, MAX_FIELDS_DEPTH + 1, 200] {
        let item = EXAMPLE.replacen(r#"{"attempt":1}"#, &deep(n), 1);
        assert_eq!(check(&item), n <= MAX_FIELDS_DEPTH, "{n}");
        // Not normalized (a space) and deep: still left to the exact path.
        let item = EXAMPLE.replacen(r#"{"attempt":1}"#, &format!("{{ \"b\":{}}}", deep(n)), 1);
        assert_eq!(check(&item), n < MAX_FIELDS_DEPTH, "{n}");
    }
}

// --- random items ------------------------------------------------------------------------

/// A JSON value written by hand, so the text can be unusual (key order, repeats, spaces,
/// escapes, number spellings) in ways a `Value` cannot be.
enum J {
    Lit(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

fn write(j: &J, rng: &mut StdRng, out: &mut String) {
    let space = |rng: &mut StdRng, out: &mut String| {
        if rng.random_ratio(1, 40) {
            out.push(' ');
        }
    };
    match j {
        J::Lit(s) => out.push_str(s),
        J::Str(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if rng.random_ratio(1, 60) => {
                        out.push_str(&format!("\\u{:04x}", c as u32 & 0xffff))
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        J::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                space(rng, out);
                write(item, rng, out);
            }
            out.push(']');
        }
        J::Obj(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                space(rng, out);
                write(&J::Str(k.clone()), rng, out);
                out.push(':');
                write(v, rng, out);
            }
            out.push('}');
        }
    }
}

const WORDS: &[&str] = &[
    "", "a", "ok", "error", "http", "rpc", "x y", "é", "2.0", "1.1", "info", "warn",
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "62",
    "-1",
    "-0",
    "1.0",
    "1e2",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "-9223372036854775808",
];

fn word(rng: &mut StdRng) -> String {
    WORDS[rng.random_range(0..WORDS.len())].to_owned()
}

/// Any value, `depth` levels at most.
fn any(rng: &mut StdRng, depth: usize) -> J {
    match rng.random_range(0..if depth == 0 { 4 } else { 6 }) {
        0 => J::Lit(["null", "true", "false"][rng.random_range(0..3)].to_owned()),
        1 => J::Lit(NUMBERS[rng.random_range(0..NUMBERS.len())].to_owned()),
        2 | 3 => J::Str(word(rng)),
        4 => J::Arr(
            (0..rng.random_range(0..3))
                .map(|_| any(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "a", "b", "http", "user", "rpc", "id", "method", "route", "status", "tier",
            ];
            J::Obj(
                (0..rng.random_range(0..4))
                    .map(|_| {
                        (
                            keys[rng.random_range(0..keys.len())].to_owned(),
                            any(rng, depth - 1),
                        )
                    })
                    .collect(),
            )
        }
    }
}

/// A member value: usually valid (`good`), sometimes anything.
fn member(rng: &mut StdRng, good: J) -> Option<J> {
    match rng.random_range(0..40) {
        0 => None,
        1 => Some(any(rng, 2)),
        2 => Some(J::Lit("null".into())),
        _ => Some(good),
    }
}

fn obj(rng: &mut StdRng, members: Vec<(&str, J)>) -> J {
    let mut out: Vec<(String, J)> = Vec::new();
    for (k, good) in members {
        if let Some(v) = member(rng, good) {
            out.push((k.to_owned(), v));
        }
    }
    if rng.random_ratio(1, 10) {
        out.push(("extra".into(), any(rng, 3)));
    }
    if rng.random_ratio(1, 8) && !out.is_empty() {
        let i = rng.random_range(0..out.len());
        out.swap(0, i);
    }
    J::Obj(out)
}

fn s(v: &str) -> J {
    J::Str(v.to_owned())
}

fn n(v: i64) -> J {
    J::Lit(v.to_string())
}

fn fields(rng: &mut StdRng) -> J {
    let f = J::Obj(vec![
        (
            "http".into(),
            J::Obj(vec![
                ("method".into(), s("GET")),
                ("route".into(), s("/r")),
                ("status".into(), n(200)),
            ]),
        ),
        (
            "user".into(),
            J::Obj(vec![
                ("id".into(), s("u-1")),
                ("region".into(), s("eu")),
                ("tier".into(), s("gold")),
            ]),
        ),
    ]);
    if rng.random_ratio(1, 3) {
        any(rng, 4)
    } else {
        f
    }
}

fn w(rng: &mut StdRng) -> J {
    J::Str(word(rng))
}

fn random_event(rng: &mut StdRng) -> J {
    let step = |rng: &mut StdRng| {
        let (kind, code) = (w(rng), w(rng));
        let downstream = J::Obj(vec![("service".into(), s("pay")), ("kind".into(), kind)]);
        let error = J::Obj(vec![("code".into(), code)]);
        obj(
            rng,
            vec![
                ("name", s("db.query")),
                ("span_id", s("53995c3f42cd8ad8")),
                ("start_ms", n(1)),
                ("duration_ms", n(2)),
                ("status", s("ok")),
                ("downstream", downstream),
                ("error", error),
            ],
        )
    };
    let log = |rng: &mut StdRng| {
        let (f, msg) = (fields(rng), w(rng));
        obj(
            rng,
            vec![
                ("ts_offset_ms", n(3)),
                ("level", s("warn")),
                ("msg", msg),
                ("fields", f),
            ],
        )
    };
    let steps = (0..rng.random_range(0..3)).map(|_| step(rng)).collect();
    let logs = (0..rng.random_range(0..2)).map(|_| log(rng)).collect();
    let kind = w(rng);
    let anchor = obj(
        rng,
        vec![
            ("step", s("db.query")),
            ("error_code", s("E1")),
            ("kind", kind),
        ],
    );
    let status = ["ok", "error", "suppressed", "timeout"][rng.random_range(0..4)];
    let fields = fields(rng);
    let (code, reason) = (w(rng), w(rng));
    let errors = J::Arr(vec![obj(rng, vec![("code", code), ("reason", reason)])]);
    let version = w(rng);
    obj(
        rng,
        vec![
            ("schema_version", s("2.0")),
            ("event_id", s("ev-1")),
            ("ts_start", s("2026-05-04T10:00:00.5+02:00")),
            ("ts_end", s("2026-05-04T10:00:01Z")),
            ("duration_ms", n(62)),
            ("kind", s("http")),
            ("service", s("checkout")),
            ("env", s("prod")),
            ("version", version),
            ("trace_id", s("4bf92f3577b34da6a3ce929d0e0e4736")),
            ("span_id", s("a1b2c3d4e5f60718")),
            ("parent_span_id", s("")),
            ("status", s(status)),
            ("anchor", anchor),
            ("steps", J::Arr(steps)),
            ("logs", J::Arr(logs)),
            ("fields", fields),
            ("errors", errors),
        ],
    )
}

#[test]
fn fast_path_agrees_with_the_exact_path_on_random_items() {
    let mut rng = StdRng::seed_from_u64(20);
    let (mut fast, mut valid) = (0, 0);
    for _ in 0..20_000 {
        let event = random_event(&mut rng);
        let mut item = String::new();
        write(&event, &mut rng, &mut item);
        fast += usize::from(check(&item));
        valid += usize::from(exact(&item).is_some());
    }
    // The property is checked per item in `check`; this guards that the sample exercised both
    // outcomes and that the fast path takes the bulk of the valid items.
    assert!(valid > 1_000, "{valid} valid items");
    assert!(fast * 10 >= valid * 8, "fast {fast} of {valid} valid items");
}
