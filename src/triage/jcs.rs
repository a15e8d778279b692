//! RFC 8785 JSON Canonicalization Scheme (JCS) over a [`serde_json::Value`]:
//! - object members sorted by their names as UTF-16 code units (RFC 8785 §3.2.3), which
//!   differs from byte order once a name holds characters above U+FFFF next to ones in
//!   U+E000..U+FFFF;
//! - no whitespace;
//! - strings with the minimal escaping of §3.2.2.2: `"` and `\` escaped, the controls
//!   U+0000..U+001F as `\b \t \n \f \r` or `\u00xx` (lowercase hex), everything else literal
//!   (`<`, `>`, `&`, U+2028, non-ASCII);
//! - numbers in the ECMAScript `Number.prototype.toString` form (§3.2.2.3) through `ryu-js`
//!   (`12`, `0.75`, `1e+21`, `1e-7`, `-0` → `0`). Integers must be exact IEEE doubles
//!   (|n| ≤ 2^53 − 1, the I-JSON range); others, and non-finite floats, are an error rather
//!   than a silently rounded hash input.
//!
//! Cross-checked against the PyPI `rfc8785` implementation by `tests/integration/jcs_peer.rs`.

use serde_json::Value;

/// Largest integer every IEEE double holds exactly (2^53 − 1, RFC 8785 §3.2.2.3 / I-JSON).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JcsError {
    #[error("integer {0} is outside the exact IEEE double range (±(2^53 − 1))")]
    IntegerRange(String),
    #[error("number {0} is not finite")]
    NotFinite(String),
}

/// The canonical form of `v`.
pub fn canonicalize(v: &Value) -> Result<String, JcsError> {
    let mut out = String::with_capacity(256);
    write_value(&mut out, v)?;
    Ok(out)
}

fn write_value(out: &mut String, v: &Value) -> Result<(), JcsError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (name, value)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, name);
                out.push(':');
                write_value(out, value)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_number(out: &mut String, n: &serde_json::Number) -> Result<(), JcsError> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(JcsError::IntegerRange(u.to_string()));
        }
        out.push_str(&u.to_string());
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(JcsError::IntegerRange(i.to_string()));
        }
        out.push_str(&i.to_string());
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        if !f.is_finite() {
            return Err(JcsError::NotFinite(n.to_string()));
        }
        // ECMAScript prints -0 as "0".
        let f = if f == 0.0 { 0.0 } else { f };
        out.push_str(ryu_js::Buffer::new().format_finite(f));
    }
    Ok(())
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests;
