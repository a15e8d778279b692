//! Incident identity (spec triage §2.2): a deterministic id from env, family and the 5-minute
//! bucket of `started_at`; a resolved id is never reused, so opening over an existing id
//! suffixes the input with `|1`, `|2`, … until the id is unused.

use sha2::{Digest, Sha256};

use super::model::{ErrorFamily, text_time};

const BUCKET_NS: i64 = 5 * 60 * 1_000_000_000;

/// `started_at` truncated to 5 minutes, as text time (`2026-05-04T12:00:00Z`).
pub fn bucket(started_at_ns: i64) -> String {
    text_time(started_at_ns.div_euclid(BUCKET_NS) * BUCKET_NS)
}

/// `env|service|display(family)|bucket`.
pub fn identity_input(env: &str, family: &ErrorFamily, started_at_ns: i64) -> String {
    format!(
        "{env}|{}|{}|{}",
        family.service,
        family.display(),
        bucket(started_at_ns)
    )
}

/// `inc_` + the first 16 lowercase hex digits of sha256(input).
pub fn id_from_input(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    let mut id = String::with_capacity(20);
    id.push_str("inc_");
    for b in digest.iter().take(8) {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// The unsuffixed id of §2.2.
pub fn incident_id(env: &str, family: &ErrorFamily, started_at_ns: i64) -> String {
    id_from_input(&identity_input(env, family, started_at_ns))
}

/// The id a newly opened incident gets: the plain id unless `exists` says it is taken, then
/// the first free `input|n` (n = 1, 2, …). The flag is true when a suffix was needed
/// (`waylog_incident_ids_reissued_total`).
pub fn open_incident_id(
    env: &str,
    family: &ErrorFamily,
    started_at_ns: i64,
    mut exists: impl FnMut(&str) -> bool,
) -> (String, bool) {
    let input = identity_input(env, family, started_at_ns);
    let plain = id_from_input(&input);
    if !exists(&plain) {
        return (plain, false);
    }
    let mut n: u64 = 1;
    loop {
        let id = id_from_input(&format!("{input}|{n}"));
        if !exists(&id) {
            return (id, true);
        }
        n = n.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfc3339::parse_rfc3339_ns;

    fn at(text: &str) -> i64 {
        parse_rfc3339_ns(text).unwrap()
    }

    fn family() -> ErrorFamily {
        ErrorFamily::new("checkout", "payment.charge", "PMT_502")
    }

    #[test]
    fn identity_input_uses_display_and_bucket() {
        assert_eq!(
            identity_input("prod", &family(), at("2026-05-04T12:03:00Z")),
            "prod|checkout|checkout:payment.charge:PMT_502|2026-05-04T12:00:00Z"
        );
        assert_eq!(
            identity_input(
                "e",
                &ErrorFamily::new("s", "a:b", "C"),
                at("2026-05-04T12:04:59.9Z")
            ),
            "e|s|s:a\\:b:C|2026-05-04T12:00:00Z"
        );
    }

    #[test]
    fn identity_vectors_of_the_spec() {
        for started in [
            "2026-05-04T12:03:00Z",
            "2026-05-04T12:04:30Z",
            "2026-05-04T12:00:00Z",
        ] {
            assert_eq!(
                incident_id("prod", &family(), at(started)),
                "inc_eee7eabe9bda8b24"
            );
        }
        assert_eq!(
            incident_id("prod", &family(), at("2026-05-04T12:06:00Z")),
            "inc_f5db0bf7b22b49e9"
        );
        assert_eq!(
            incident_id("demo", &family(), at("2026-05-04T12:03:00Z")),
            "inc_d4235777e3425a09"
        );
        assert_eq!(
            id_from_input("prod|checkout|checkout:payment.charge:PMT_502|2026-05-04T12:00:00Z|1"),
            "inc_a5759e3513a4f073"
        );
    }

    #[test]
    fn open_incident_id_reissues_with_first_free_suffix() {
        let started = at("2026-05-04T12:03:00Z");
        assert_eq!(
            open_incident_id("prod", &family(), started, |_| false),
            ("inc_eee7eabe9bda8b24".to_string(), false)
        );
        assert_eq!(
            open_incident_id("prod", &family(), started, |id| id
                == "inc_eee7eabe9bda8b24"),
            ("inc_a5759e3513a4f073".to_string(), true)
        );
        let taken = ["inc_eee7eabe9bda8b24", "inc_a5759e3513a4f073"];
        let input = identity_input("prod", &family(), started);
        let (id, reissued) = open_incident_id("prod", &family(), started, |id| taken.contains(&id));
        assert!(reissued);
        assert_eq!(id, id_from_input(&format!("{input}|2")));
    }

    #[test]
    fn bucket_handles_pre_epoch_times() {
        assert_eq!(bucket(-1), "1969-12-31T23:55:00Z");
    }
}
