//! Scopes and rate limits (spec events §2.1, reads §1.1): a credential from
//! `Authorization: Bearer` (scheme case-insensitive) or `X-API-Key`, compared in constant time
//! with every key of the scope; an empty key list leaves the scope open. Token buckets per
//! presented credential (client IP when none), refill = burst = the configured rate.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use axum::http::HeaderMap;
use parking_lot::Mutex;
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

/// Is `presented` one of `keys`? An empty `keys` list is an open scope.
pub fn authorized(keys: &[String], presented: Option<&str>) -> bool {
    if keys.is_empty() {
        return true;
    }
    let Some(p) = presented else { return false };
    let mut ok = 0u8;
    for k in keys {
        ok |= k.as_bytes().ct_eq(p.as_bytes()).unwrap_u8();
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

/// The key a request is rate-limited under.
pub fn limiter_key(headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    match credential(headers) {
        Some(c) => format!("k:{c}"),
        None => format!(
            "ip:{}",
            peer.map(|p| p.ip().to_string()).unwrap_or_default()
        ),
    }
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
}

/// Rate limit, then credentials, for `scope` (the order of spec events §2.1): `429
/// rate_limited` or `401 unauthorized`, else `Ok`.
pub fn gate(
    state: &crate::api::AppState,
    req: &axum::extract::Request,
    scope: Scope,
) -> Result<(), crate::api::error::ApiError> {
    use crate::api::error::ApiError;
    let headers = req.headers();
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let (limiter, keys, name) = match scope {
        Scope::Write => (&state.write_limiter, &state.config.write_keys, "write"),
        Scope::Read => (&state.read_limiter, &state.config.read_keys, "read"),
    };
    if !limiter.check(&limiter_key(headers, peer)) {
        return Err(ApiError::rate_limited());
    }
    if !authorized(keys, credential(headers).as_deref()) {
        return Err(ApiError::unauthorized(name));
    }
    Ok(())
}
