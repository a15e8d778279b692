//! Scopes and rate limits (spec events §2.1, reads §1.1): a credential from
//! `Authorization: Bearer` (scheme case-insensitive) or `X-API-Key`, compared in constant time
//! with every key of the scope; an empty key list leaves the scope open. Token buckets per
//! presented credential (client IP when none), refill = burst = the configured rate.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use axum::http::HeaderMap;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The presented credential, if any.
pub fn credential(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if let Some((scheme, token)) = v.split_once(' ')
            && scheme.eq_ignore_ascii_case("bearer")
        {
            return Some(token.trim_start().to_string());
        }
        return Some(String::new());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
}

/// Is `presented` one of `keys`? An empty `keys` list is an open scope. The SHA-256 digests
/// are compared, in constant time, against every key: neither the position of a mismatch nor
/// a key's length shows in the timing.
pub fn authorized(keys: &[String], presented: Option<&str>) -> bool {
    if keys.is_empty() {
        return true;
    }
    let Some(p) = presented else { return false };
    let presented = Sha256::digest(p.as_bytes());
    let mut ok = 0u8;
    for k in keys {
        ok |= Sha256::digest(k.as_bytes())
            .as_slice()
            .ct_eq(presented.as_slice())
            .unwrap_u8();
    }
    ok == 1
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by credential or client address.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(rps: u32) -> Self {
        RateLimiter {
            rate: f64::from(rps),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.rate > 0.0
    }

    /// Take one token for `key`; false when the bucket is empty.
    pub fn check(&self, key: &str) -> bool {
        if !self.enabled() {
            return true;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        if buckets.len() > 100_000 {
            buckets.retain(|_, b| now.duration_since(b.at).as_secs_f64() * self.rate < self.rate);
        }
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.rate,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * self.rate).min(self.rate);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The bucket a request is rate-limited in: its `verified` credential (one of the scope's
/// keys), else its client address. An unverified credential never picks the bucket, so a
/// client cannot escape its limit by sending a new made-up key per request; in an open scope
/// (no keys) nothing is verified and every request is limited by address.
pub fn limiter_key(verified: Option<&str>, peer: Option<SocketAddr>) -> String {
    match verified {
        Some(c) => format!("k:{c}"),
        None => format!(
            "ip:{}",
            peer.map(|p| p.ip().to_string()).unwrap_or_default()
        ),
    }
}

/// Rate limit, then credentials (the order of spec events §2.1), from the headers alone:
/// `429 rate_limited` or `401 unauthorized`, else `Ok`. Shared by HTTP and OTLP/gRPC.
pub fn check(
    limiter: &RateLimiter,
    keys: &[String],
    scope_name: &str,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<(), crate::api::error::ApiError> {
    use crate::api::error::ApiError;
    let presented = credential(headers);
    // One digest comparison per request, used for the bucket and the verdict.
    let ok = authorized(keys, presented.as_deref());
    let verified = presented.as_deref().filter(|_| ok && !keys.is_empty());
    if !limiter.check(&limiter_key(verified, peer)) {
        return Err(ApiError::rate_limited());
    }
    if !ok {
        return Err(ApiError::unauthorized(scope_name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_prefers_authorization_and_ignores_scheme_case() {
        let mut h = HeaderMap::new();
        h.insert("x-api-key", "k2".parse().unwrap());
        assert_eq!(credential(&h).as_deref(), Some("k2"));
        h.insert("authorization", "bEaReR k1".parse().unwrap());
        assert_eq!(credential(&h).as_deref(), Some("k1"));
    }

    #[test]
    fn authorized_checks_every_key_and_open_scope() {
        let keys = vec!["a".to_string(), "bb".to_string()];
        assert!(authorized(&keys, Some("bb")));
        assert!(!authorized(&keys, Some("b")));
        assert!(!authorized(&keys, None));
        assert!(authorized(&[], None));
    }

    #[test]
    fn authorized_matches_whole_keys_only() {
        let keys = vec!["secret-1".to_string(), "k2".to_string()];
        assert!(authorized(&keys, Some("k2")));
        assert!(authorized(&keys, Some("secret-1")));
        for bad in ["secret", "secret-10", "", "k"] {
            assert!(!authorized(&keys, Some(bad)), "{bad}");
        }
        assert!(!authorized(&keys, None));
        assert!(authorized(&[], None));
    }

    #[test]
    fn only_a_verified_credential_picks_the_rate_bucket() {
        let peer: Option<SocketAddr> = Some("10.0.0.7:5555".parse().unwrap());
        assert_eq!(limiter_key(Some("good"), peer), "k:good");
        assert_eq!(limiter_key(None, peer), "ip:10.0.0.7");
        // In an open scope a credential verifies nothing: limited by address.
        let limiter = RateLimiter::new(1);
        let with_key = |k: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-api-key", k.parse().unwrap());
            h
        };
        assert!(check(&limiter, &[], "read", &with_key("a"), peer).is_ok());
        let e = check(&limiter, &[], "read", &with_key("b"), peer).unwrap_err();
        assert_eq!(
            e.status().as_u16(),
            429,
            "a new key is the same address's bucket"
        );
    }

    #[test]
    fn made_up_keys_do_not_escape_the_rate_limit() {
        let limiter = RateLimiter::new(1);
        let keys = vec!["good".to_string()];
        let peer: Option<SocketAddr> = Some("10.0.0.7:5555".parse().unwrap());
        let with_key = |k: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-api-key", k.parse().unwrap());
            h
        };
        let status = |k: &str| {
            check(&limiter, &keys, "write", &with_key(k), peer)
                .err()
                .map(|e| e.status().as_u16())
        };
        assert_eq!(status("bad-1"), Some(401));
        assert_eq!(
            status("bad-2"),
            Some(429),
            "the address's one token is spent"
        );
        assert_eq!(status("good"), None, "a verified key has its own bucket");
    }

    #[test]
    fn rate_limiter_refuses_past_burst() {
        let l = RateLimiter::new(2);
        assert!(l.check("x"));
        assert!(l.check("x"));
        assert!(!l.check("x"));
        assert!(l.check("y"));
    }
}

/// The scope a route needs (spec events §2.1, reads §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Write,
    Read,
    /// Tools, plans, plan streams, Ask and MCP (`WAYLOG_AGENT_KEY`).
    Agent,
}

/// Rate limit, then credentials, for `scope` (the order of spec events §2.1): `429
/// rate_limited` or `401 unauthorized`, else `Ok`.
pub fn gate(
    state: &crate::api::AppState,
    req: &axum::extract::Request,
    scope: Scope,
) -> Result<(), crate::api::error::ApiError> {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let (limiter, keys, name) = match scope {
        Scope::Write => (&state.write_limiter, &state.config.write_keys, "write"),
        Scope::Read => (&state.read_limiter, &state.config.read_keys, "read"),
        Scope::Agent => (&state.read_limiter, &state.config.agent_keys, "agent"),
    };
    let result = check(limiter, keys, name, req.headers(), peer);
    if scope == Scope::Read
        && let Err(e) = &result
        && e.class == crate::model::rejection::ErrorClass::RateLimited
    {
        crate::metrics::query_rejected("rate_limit");
    }
    result
}
