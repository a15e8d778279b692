//! Error families and their display form `service:step:error_code` (spec reads §2.1): the
//! (service, step, error code) a failure is counted under by the read API, the CLI, the demo
//! and the incident engine. This is the one escape/parse pair they all share.

use serde::{Deserialize, Serialize};

/// `(service, step, error_code)` of one failed event: its own service and its anchor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ErrorFamily {
    pub service: String,
    pub step: String,
    pub error_code: String,
}

/// One part of the display form: `\` → `\\` then `:` → `\:`.
pub fn escape_part(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    escape(part, &mut out);
    out
}

fn escape(part: &str, out: &mut String) {
    for c in part.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ':' => out.push_str("\\:"),
            c => out.push(c),
        }
    }
}

impl ErrorFamily {
    pub fn new(service: &str, step: &str, error_code: &str) -> Self {
        ErrorFamily {
            service: service.to_owned(),
            step: step.to_owned(),
            error_code: error_code.to_owned(),
        }
    }

    /// `service:step:error_code`, each part with `\` → `\\` then `:` → `\:`.
    pub fn display(&self) -> String {
        display_family(&self.service, &self.step, &self.error_code)
    }

    /// Parse the display form: exactly three non-empty parts; `\` escapes only `\` and `:`.
    pub fn parse(text: &str) -> Option<ErrorFamily> {
        let mut parts: Vec<String> = vec![String::new()];
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e @ ('\\' | ':')) => parts.last_mut()?.push(e),
                    _ => return None,
                },
                ':' => parts.push(String::new()),
                c => parts.last_mut()?.push(c),
            }
        }
        match <[String; 3]>::try_from(parts) {
            Ok([service, step, error_code])
                if !service.is_empty() && !step.is_empty() && !error_code.is_empty() =>
            {
                Some(ErrorFamily {
                    service,
                    step,
                    error_code,
                })
            }
            _ => None,
        }
    }
}

/// The display form of a family given by parts.
pub fn display_family(service: &str, step: &str, error_code: &str) -> String {
    let mut out = String::with_capacity(service.len() + step.len() + error_code.len() + 2);
    escape(service, &mut out);
    out.push(':');
    escape(step, &mut out);
    out.push(':');
    escape(error_code, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_display_escapes_backslash_then_colon() {
        assert_eq!(
            ErrorFamily::new("svc", "a:b", "E\\1").display(),
            "svc:a\\:b:E\\\\1"
        );
        assert_eq!(
            ErrorFamily::new("payment", "acquirer.charge", "PMT_502").display(),
            "payment:acquirer.charge:PMT_502"
        );
    }

    #[test]
    fn family_parse_round_trips_and_reads_escapes() {
        assert_eq!(
            ErrorFamily::parse("svc:a\\:b:E1"),
            Some(ErrorFamily::new("svc", "a:b", "E1"))
        );
        for f in [
            ErrorFamily::new("a\\", ":b:", "c\\:d"),
            ErrorFamily::new("x", "y", "z"),
        ] {
            assert_eq!(ErrorFamily::parse(&f.display()), Some(f));
        }
    }

    #[test]
    fn family_parse_rejects_bad_forms() {
        for bad in [
            "", "a:b", "a:b:c:d", "a::c", ":b:c", "a:b:", "a\\x:b:c", "a:b:c\\", "a\\:b:c",
        ] {
            assert_eq!(ErrorFamily::parse(bad), None, "{bad}");
        }
    }
}
