use serde_json::{Number, Value, json};

use super::*;

fn float(bits: u64) -> Value {
    Value::Number(Number::from_f64(f64::from_bits(bits)).expect("finite"))
}

#[test]
fn rfc8785_section_3_2_2_example() {
    let input: Value = serde_json::from_str(
        r#"{
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#,
    )
    .expect("json");
    assert_eq!(
        canonicalize(&input).expect("canonical"),
        r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
    );
}

#[test]
fn members_sort_by_utf16_code_units_not_bytes() {
    // RFC 8785 §3.2.3: U+1F600 (surrogates D83D DE00) sorts before U+FB33, although its
    // UTF-8 bytes (F0 ..) sort after (EF ..).
    let input: Value = serde_json::from_str(
        r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh",
            "1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control",
            "\u00f6":"Latin Small Letter O With Diaeresis"}"#,
    )
    .expect("json");
    let out = canonicalize(&input).expect("canonical");
    let order: Vec<usize> = ["\\r", "\"1\"", "\u{80}", "ö", "€", "😀", "\u{fb33}"]
        .iter()
        .map(|k| out.find(k).expect("key present"))
        .collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(order, sorted, "{out}");
}

#[test]
fn numbers_follow_ecmascript_appendix_b() {
    let cases: [(u64, &str); 14] = [
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
    ];
    for (bits, want) in cases {
        assert_eq!(
            canonicalize(&float(bits)).expect("finite"),
            want,
            "{bits:#x}"
        );
    }
    assert_eq!(canonicalize(&json!(0.75)).expect("n"), "0.75");
    assert_eq!(canonicalize(&json!(0.9667)).expect("n"), "0.9667");
    assert_eq!(canonicalize(&json!(12)).expect("n"), "12");
    assert_eq!(canonicalize(&json!(-3)).expect("n"), "-3");
}

#[test]
fn integers_beyond_the_exact_double_range_are_errors() {
    assert_eq!(
        canonicalize(&json!(9_007_199_254_740_991_u64)).expect("max safe"),
        "9007199254740991"
    );
    assert!(matches!(
        canonicalize(&json!({"a": [9_007_199_254_740_992_u64]})),
        Err(JcsError::IntegerRange(_))
    ));
    assert!(matches!(
        canonicalize(&json!(-9_007_199_254_740_992_i64)),
        Err(JcsError::IntegerRange(_))
    ));
}

#[test]
fn strings_keep_html_and_non_ascii_literal_and_escape_controls_minimally() {
    let v = json!({"s": "<a href=\"x\">&</a> é 😀 \u{2028} \u{7f} \u{1} \u{1f} \t\u{8}\u{c}"});
    assert_eq!(
        canonicalize(&v).expect("canonical"),
        "{\"s\":\"<a href=\\\"x\\\">&</a> é 😀 \u{2028} \u{7f} \\u0001 \\u001f \\t\\b\\f\"}"
    );
}

#[test]
fn nesting_and_empty_containers() {
    let v = json!({"b": [], "a": {}, "c": [{"z": 1, "y": [true, null]}]});
    assert_eq!(
        canonicalize(&v).expect("canonical"),
        r#"{"a":{},"b":[],"c":[{"y":[true,null],"z":1}]}"#
    );
}
