use super::*;
use crate::model::validate_item;
use serde_json::json;

fn oks(items: &[Result<Value, ItemReject>]) -> Vec<Value> {
    items
        .iter()
        .map(|item| item.clone().expect("item should parse"))
        .collect()
}

fn single_reject(items: Vec<Result<Value, ItemReject>>) -> ItemReject {
    assert_eq!(items.len(), 1, "{items:?}");
    items
        .into_iter()
        .next()
        .unwrap()
        .expect_err("item should be rejected")
}

fn assert_invalid_json(items: Vec<Result<Value, ItemReject>>) -> ItemReject {
    let reject = single_reject(items);
    assert_eq!(reject.reason, RejectReason::InvalidJson, "{reject:?}");
    assert_eq!(reject.event_id, None);
    assert!(!reject.detail.is_empty());
    reject
}

// --- application/json --------------------------------------------------------------------

#[test]
fn json_object_gives_one_item() {
    let items = split_items(br#"{"a":1}"#, Framing::Json);
    assert_eq!(oks(&items), [json!({"a": 1})]);
}

#[test]
fn json_array_gives_one_item_per_element_in_order() {
    let items = split_items(br#"[{"i":0}, {"i":1}, 7, null]"#, Framing::Json);
    assert_eq!(
        oks(&items),
        [json!({"i": 0}), json!({"i": 1}), json!(7), json!(null)]
    );
}

#[test]
fn json_empty_array_gives_no_items() {
    assert!(split_items(b"[]", Framing::Json).is_empty());
    assert!(split_items(b" [ ] \n", Framing::Json).is_empty());
}

#[test]
fn json_scalar_gives_one_item_rejected_by_validation() {
    for body in [&br#""x""#[..], b"42", b"null", b"true"] {
        let items = split_items(body, Framing::Json);
        assert_eq!(items.len(), 1);
        let value = items[0].clone().unwrap();
        let reject = validate_item(&value, 0).unwrap_err();
        assert_eq!(reject.reason, RejectReason::SchemaValidationFailed);
        assert_eq!(reject.detail, ": not an object");
    }
}

#[test]
fn json_nested_array_element_is_one_item_rejected_by_validation() {
    let items = split_items(br#"[[{"a":1}]]"#, Framing::Json);
    assert_eq!(oks(&items), [json!([{"a": 1}])]);
    let reject = validate_item(&oks(&items)[0], 0).unwrap_err();
    assert_eq!(reject.reason, RejectReason::SchemaValidationFailed);
}

#[test]
fn json_accepts_surrounding_whitespace() {
    let items = split_items(b" \r\n\t{\"a\":1}\r\n ", Framing::Json);
    assert_eq!(oks(&items), [json!({"a": 1})]);
}

#[test]
fn json_invalid_when_empty_or_whitespace_only() {
    let reject = assert_invalid_json(split_items(b"", Framing::Json));
    assert_eq!(
        reject.detail,
        "EOF while parsing a value at line 1 column 0"
    );
    assert_invalid_json(split_items(b" \n ", Framing::Json));
}

#[test]
fn json_invalid_when_truncated() {
    let reject = assert_invalid_json(split_items(br#"{"schema_version":"2.0","#, Framing::Json));
    assert!(
        reject.detail.starts_with("EOF while parsing"),
        "{}",
        reject.detail
    );
    assert_invalid_json(split_items(br#"[{"a":1},"#, Framing::Json));
}

#[test]
fn json_invalid_when_two_values_back_to_back() {
    let reject = assert_invalid_json(split_items(br#"{"a":1}{"a":2}"#, Framing::Json));
    assert!(
        reject.detail.starts_with("trailing characters"),
        "{}",
        reject.detail
    );
    assert_invalid_json(split_items(b"{}\n{}", Framing::Json));
    assert_invalid_json(split_items(b"[] []", Framing::Json));
}

#[test]
fn json_invalid_when_malformed_element_anywhere_in_array() {
    // One bad element makes the whole body invalid: it is not one JSON value.
    assert_invalid_json(split_items(br#"[{"a":1},{"a":}]"#, Framing::Json));
}

#[test]
fn json_invalid_when_not_utf8() {
    assert_invalid_json(split_items(b"{\"a\":\"\xff\"}", Framing::Json));
    assert_invalid_json(split_items(b"\xff", Framing::Json));
}

#[test]
fn json_ignores_leading_bom() {
    let items = split_items(b"\xEF\xBB\xBF[{\"a\":1}]", Framing::Json);
    assert_eq!(oks(&items), [json!({"a": 1})]);
    assert_invalid_json(split_items(b"\xEF\xBB\xBF", Framing::Json));
    // Only one leading BOM is ignored.
    assert_invalid_json(split_items(b"\xEF\xBB\xBF\xEF\xBB\xBF{}", Framing::Json));
}

#[test]
fn json_keeps_last_duplicate_member() {
    let items = split_items(br#"{"a":1,"a":2}"#, Framing::Json);
    assert_eq!(oks(&items), [json!({"a": 2})]);
}

// --- application/x-ndjson ----------------------------------------------------------------

#[test]
fn ndjson_gives_one_item_per_line() {
    let items = split_items(b"{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n", Framing::Ndjson);
    assert_eq!(
        oks(&items),
        [json!({"i": 0}), json!({"i": 1}), json!({"i": 2})]
    );
}

#[test]
fn ndjson_accepts_last_line_without_newline() {
    let items = split_items(b"{\"i\":0}\n{\"i\":1}", Framing::Ndjson);
    assert_eq!(oks(&items), [json!({"i": 0}), json!({"i": 1})]);
}

#[test]
fn ndjson_trims_crlf_and_whitespace() {
    let items = split_items(b"  {\"i\":0}\t\r\n\r\n\t{\"i\":1} \r\n", Framing::Ndjson);
    assert_eq!(oks(&items), [json!({"i": 0}), json!({"i": 1})]);
}

#[test]
fn ndjson_skips_blank_lines_in_index() {
    let items = split_items(b"\n\n{\"i\":0}\n \n\r\n{\"i\":1}\n\n", Framing::Ndjson);
    // Positions among non-blank lines: the second object is index 1.
    assert_eq!(oks(&items), [json!({"i": 0}), json!({"i": 1})]);
}

#[test]
fn ndjson_gives_no_items_when_only_blank_lines() {
    assert!(split_items(b"", Framing::Ndjson).is_empty());
    assert!(split_items(b"\n \r\n\t\n", Framing::Ndjson).is_empty());
    assert!(split_items(b"\xEF\xBB\xBF\n", Framing::Ndjson).is_empty());
}

#[test]
fn ndjson_rejects_array_line_as_schema_failure() {
    let items = split_items(
        b"{\"i\":0}\n[{\"i\":1},{\"i\":2}]\n[]\n{\"i\":3}",
        Framing::Ndjson,
    );
    assert_eq!(items.len(), 4);
    for reject in [&items[1], &items[2]] {
        let reject = reject.clone().unwrap_err();
        assert_eq!(reject.reason, RejectReason::SchemaValidationFailed);
        assert_eq!(reject.detail, ": nested arrays are not allowed in ndjson");
        assert_eq!(reject.event_id, None);
    }
    assert_eq!(items[0].clone().unwrap(), json!({"i": 0}));
    assert_eq!(items[3].clone().unwrap(), json!({"i": 3}));
}

#[test]
fn ndjson_rejects_truncated_line_as_invalid_json() {
    // Spec §1.10: the NDJSON line `{"schema_version":"2.0",` is invalid_json.
    let items = split_items(
        b"{\"i\":0}\n{\"schema_version\":\"2.0\",\n{\"i\":2}",
        Framing::Ndjson,
    );
    assert_eq!(items.len(), 3);
    let reject = items[1].clone().unwrap_err();
    assert_eq!(reject.reason, RejectReason::InvalidJson);
    assert_eq!(reject.event_id, None);
    // serde_json counts positions within the line, not the body.
    assert_eq!(
        reject.detail,
        "EOF while parsing a value at line 1 column 24"
    );
    assert_eq!(items[2].clone().unwrap(), json!({"i": 2}));
}

#[test]
fn ndjson_rejects_two_values_on_one_line() {
    let items = split_items(b"{} {}\n{}", Framing::Ndjson);
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0].clone().unwrap_err().reason,
        RejectReason::InvalidJson
    );
    assert!(items[1].is_ok());
}

#[test]
fn ndjson_rejects_invalid_utf8_line_only() {
    let items = split_items(b"{\"a\":\"\xff\"}\n\xfe\n{\"a\":1}", Framing::Ndjson);
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[0].clone().unwrap_err().reason,
        RejectReason::InvalidJson
    );
    assert_eq!(
        items[1].clone().unwrap_err().reason,
        RejectReason::InvalidJson
    );
    assert_eq!(items[2].clone().unwrap(), json!({"a": 1}));
}

#[test]
fn ndjson_passes_scalar_line_to_validation() {
    let items = split_items(b"\"x\"\nnull\n5", Framing::Ndjson);
    assert_eq!(oks(&items), [json!("x"), json!(null), json!(5)]);
}

#[test]
fn ndjson_ignores_leading_bom_of_body_only() {
    let items = split_items(
        b"\xEF\xBB\xBF{\"i\":0}\n\xEF\xBB\xBF{\"i\":1}",
        Framing::Ndjson,
    );
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].clone().unwrap(), json!({"i": 0}));
    assert_eq!(
        items[1].clone().unwrap_err().reason,
        RejectReason::InvalidJson
    );
}

#[test]
fn ndjson_keeps_newlines_escaped_inside_strings() {
    let items = split_items(b"{\"m\":\"a\\nb\"}\n", Framing::Ndjson);
    assert_eq!(oks(&items), [json!({"m": "a\nb"})]);
}

#[test]
fn ndjson_and_json_count_items_for_batch_check() {
    let body = b"{}\n{}\n\n{}\n";
    assert_eq!(split_items(body, Framing::Ndjson).len(), 3);
    assert_eq!(split_items(body, Framing::Json).len(), 1);
    assert_eq!(split_items(b"[{},{},{}]", Framing::Json).len(), 3);
}

#[test]
fn json_array_is_counted_while_parsed_and_refused_past_the_limit() {
    let array = |n: usize| format!("[{}]", vec!["{}"; n].join(","));
    let ok = split_items_within(array(3).as_bytes(), Framing::Json, 3).unwrap();
    assert_eq!(ok.len(), 3);
    assert_eq!(
        split_items_within(array(4).as_bytes(), Framing::Json, 3),
        Err(4)
    );
    // Past the limit elements are only counted: a million of them, exact count.
    assert_eq!(
        split_items_within(array(1_000_000).as_bytes(), Framing::Json, 10_000),
        Err(1_000_000)
    );
    // A syntax error stays one invalid_json item, before or after the limit.
    for body in ["[{}, {}, {}, {}", "[{}, {}, {}, {}] x", "[{}, {]"] {
        let items = split_items_within(body.as_bytes(), Framing::Json, 3).unwrap();
        assert_eq!(items.len(), 1, "{body}");
        assert_eq!(
            items[0].as_ref().unwrap_err().reason,
            RejectReason::InvalidJson
        );
    }
    // Same detail text as the unbounded parse.
    assert_eq!(
        split_items_within(b"[{}, {]", Framing::Json, 3),
        Ok(split_items(b"[{}, {]", Framing::Json))
    );
    // NDJSON lines are counted before any is parsed (blank lines do not count).
    assert_eq!(
        split_items_within(b"{}\n\n{}\n{}\n", Framing::Ndjson, 2),
        Err(3)
    );
}
