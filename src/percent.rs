//! Strict percent-decoding of URL components (query names and values, path segments).
//!
//! The `percent-encoding` crate decodes; this module adds what the spec requires on top: a
//! malformed escape (`%zz`, a trailing `%`) or bytes that are not UTF-8 are an error (`None`,
//! the caller's `400`), never passed through, and `+` is a space only in query components.

use percent_encoding::percent_decode;

/// Decode a query component (`+` is a space); `None` when malformed.
pub fn decode_query(s: &str) -> Option<String> {
    decode(s, true)
}

/// Decode a path segment (`+` is literal there); `None` when malformed.
pub fn decode_path(s: &str) -> Option<String> {
    decode(s, false)
}

fn decode(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let well_formed = b.iter().enumerate().all(|(i, c)| {
        *c != b'%'
            || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    let spaced;
    let text = if plus_is_space && s.contains('+') {
        spaced = s.replace('+', " ");
        spaced.as_bytes()
    } else {
        b
    };
    percent_decode(text)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_plus_by_component() {
        assert_eq!(decode_query("a+b%20c").as_deref(), Some("a b c"));
        assert_eq!(decode_path("a+b%20c").as_deref(), Some("a+b c"));
        assert_eq!(decode_query("%2B").as_deref(), Some("+"));
        assert_eq!(decode_path("%E2%9C%93").as_deref(), Some("\u{2713}"));
    }

    #[test]
    fn rejects_malformed_escapes_and_invalid_utf8() {
        for bad in ["%zz", "%", "a%2", "%ff", "%C3"] {
            assert_eq!(decode_query(bad), None, "{bad}");
            assert_eq!(decode_path(bad), None, "{bad}");
        }
    }
}
