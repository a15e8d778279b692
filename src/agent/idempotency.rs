//! The idempotency cache of tools, plans and Ask (spec reads §6.2). The cache key is
//! sha256(method ␀ path ␀ principal ␀ key); an entry keeps the outcome and the sha256 of the
//! request body. The same key with another body is a conflict; a duplicate arriving while the
//! first runs waits for its outcome. Outcomes live 5 min after `200`, `400` or `422`, 30 s
//! after `404`, and are not kept otherwise; at most [`CAPACITY`] entries, the least recently
//! used finished one evicted first. Time is passed in (`now`), never read here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

/// Entries kept at most.
pub const CAPACITY: usize = 1000;

/// A sha256 digest.
pub type Digest32 = [u8; 32];

/// sha256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Digest32 {
    Sha256::digest(bytes).into()
}

/// Lowercase hex of a digest.
pub fn hex(d: &Digest32) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The cache key of one request.
pub fn cache_key(method: &str, path: &str, principal: &str, key: &str) -> Digest32 {
    let mut h = Sha256::new();
    for (i, part) in [method, path, principal, key].iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// An `Idempotency-Key` value is 1–255 printable ASCII characters.
pub fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// How long an outcome with HTTP `status` is kept; `None`: not kept.
pub fn ttl(status: u16) -> Option<Duration> {
    match status {
        200 | 400 | 422 => Some(Duration::from_secs(300)),
        404 => Some(Duration::from_secs(30)),
        _ => None,
    }
}

enum Slot<O> {
    Running {
        body: Digest32,
        done: watch::Receiver<Option<O>>,
    },
    Done {
        body: Digest32,
        outcome: O,
        expires: Instant,
        used: u64,
    },
}

struct Inner<O> {
    slots: HashMap<Digest32, Slot<O>>,
    tick: u64,
}

/// The cache; `O` is the stored outcome (status, result, error, …).
pub struct IdempotencyCache<O> {
    inner: Arc<Mutex<Inner<O>>>,
}

impl<O> std::fmt::Debug for IdempotencyCache<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyCache").finish()
    }
}

impl<O: Clone> Default for IdempotencyCache<O> {
    fn default() -> Self {
        IdempotencyCache {
            inner: Arc::new(Mutex::new(Inner {
                slots: HashMap::new(),
                tick: 0,
            })),
        }
    }
}

/// What a request with an idempotency key does.
pub enum Begin<O> {
    /// Run it, then [`Running::finish`].
    Run(Running<O>),
    /// Answer the stored outcome.
    Replay(O),
    /// The key was used with another body.
    Conflict,
}

/// Why waiting for a running duplicate ended without an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline passed while waiting for the first request with this key")]
pub struct WaitTimeout;

/// The first request with a key, running. Dropping it unfinished frees the key.
pub struct Running<O> {
    inner: Arc<Mutex<Inner<O>>>,
    key: Digest32,
    body: Digest32,
    tx: Option<watch::Sender<Option<O>>>,
}

impl<O: Clone> Running<O> {
    /// Store the outcome (when its status is kept) and wake the waiting duplicates.
    pub fn finish(mut self, status: u16, outcome: O, now: Instant) {
        let mut inner = self.inner.lock();
        inner.slots.remove(&self.key);
        if let Some(ttl) = ttl(status) {
            inner.tick += 1;
            let used = inner.tick;
            inner.slots.insert(
                self.key,
                Slot::Done {
                    body: self.body,
                    outcome: outcome.clone(),
                    expires: now + ttl,
                    used,
                },
            );
            evict(&mut inner, now);
        }
        drop(inner);
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Some(outcome));
        }
    }
}

impl<O> Drop for Running<O> {
    fn drop(&mut self) {
        if self.tx.is_some() {
            let mut inner = self.inner.lock();
            if matches!(inner.slots.get(&self.key), Some(Slot::Running { .. })) {
                inner.slots.remove(&self.key);
            }
        }
    }
}

/// Drop expired entries, then the least recently used finished ones beyond the capacity.
fn evict<O>(inner: &mut Inner<O>, now: Instant) {
    inner
        .slots
        .retain(|_, s| !matches!(s, Slot::Done { expires, .. } if *expires <= now));
    while inner.slots.len() > CAPACITY {
        let oldest = inner
            .slots
            .iter()
            .filter_map(|(k, s)| match s {
                Slot::Done { used, .. } => Some((*used, *k)),
                Slot::Running { .. } => None,
            })
            .min();
        match oldest {
            Some((_, k)) => {
                inner.slots.remove(&k);
            }
            None => break,
        }
    }
}

impl<O: Clone + Send + Sync> IdempotencyCache<O> {
    /// Look `key` up for a request whose body hashes to `body`; a running duplicate is
    /// waited for until `deadline`.
    pub async fn begin(
        &self,
        key: Digest32,
        body: Digest32,
        now: Instant,
        deadline: tokio::time::Instant,
    ) -> Result<Begin<O>, WaitTimeout> {
        loop {
            let mut done = {
                let mut inner = self.inner.lock();
                inner.tick += 1;
                let tick = inner.tick;
                match inner.slots.get_mut(&key) {
                    Some(Slot::Done {
                        expires, body: b, ..
                    }) if *expires <= now || *b != body => {
                        if *expires > now {
                            return Ok(Begin::Conflict);
                        }
                        inner.slots.remove(&key);
                        continue;
                    }
                    Some(Slot::Done { outcome, used, .. }) => {
                        *used = tick;
                        return Ok(Begin::Replay(outcome.clone()));
                    }
                    Some(Slot::Running { body: b, .. }) if *b != body => {
                        return Ok(Begin::Conflict);
                    }
                    Some(Slot::Running { done, .. }) => done.clone(),
                    None => {
                        let (tx, rx) = watch::channel(None);
                        inner.slots.insert(key, Slot::Running { body, done: rx });
                        return Ok(Begin::Run(Running {
                            inner: self.inner.clone(),
                            key,
                            body,
                            tx: Some(tx),
                        }));
                    }
                }
            };
            let waited = tokio::time::timeout_at(deadline, done.wait_for(Option::is_some)).await;
            match waited {
                Err(_) => return Err(WaitTimeout),
                Ok(Ok(o)) => {
                    if let Some(o) = o.clone() {
                        return Ok(Begin::Replay(o));
                    }
                }
                // The first request ended without an outcome: try again (it may be ours now).
                Ok(Err(_)) => {}
            }
        }
    }

    /// Entries held now (finished and running).
    pub fn len(&self) -> usize {
        self.inner.lock().slots.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_secs(3600)
    }

    async fn run(c: &IdempotencyCache<String>, k: u8, body: u8, now: Instant) -> Begin<String> {
        c.begin([k; 32], [body; 32], now, far()).await.unwrap()
    }

    #[tokio::test]
    async fn replay_conflict_and_ttls() {
        let c = IdempotencyCache::<String>::default();
        let t0 = Instant::now();
        let Begin::Run(r) = run(&c, 1, 1, t0).await else {
            panic!("first runs")
        };
        r.finish(200, "ok".into(), t0);
        assert!(matches!(run(&c, 1, 1, t0).await, Begin::Replay(o) if o == "ok"));
        assert!(matches!(run(&c, 1, 2, t0).await, Begin::Conflict));
        // 5 min after a 200; then the key is fresh again.
        let later = t0 + Duration::from_secs(301);
        assert!(matches!(run(&c, 1, 2, later).await, Begin::Run(_)));
        // 404 lives 30 s; a 500 is not kept.
        let Begin::Run(r) = run(&c, 2, 1, t0).await else {
            panic!()
        };
        r.finish(404, "nf".into(), t0);
        assert!(matches!(
            run(&c, 2, 1, t0 + Duration::from_secs(29)).await,
            Begin::Replay(_)
        ));
        assert!(matches!(
            run(&c, 2, 1, t0 + Duration::from_secs(31)).await,
            Begin::Run(_)
        ));
        let Begin::Run(r) = run(&c, 3, 1, t0).await else {
            panic!()
        };
        r.finish(500, "boom".into(), t0);
        assert!(matches!(run(&c, 3, 1, t0).await, Begin::Run(_)));
    }

    #[tokio::test]
    async fn a_duplicate_waits_for_the_running_first() {
        let c = Arc::new(IdempotencyCache::<String>::default());
        let t0 = Instant::now();
        let Begin::Run(first) = run(&c, 9, 1, t0).await else {
            panic!()
        };
        let c2 = c.clone();
        let dup = tokio::spawn(async move { run(&c2, 9, 1, t0).await });
        tokio::task::yield_now().await;
        assert!(matches!(run(&c, 9, 2, t0).await, Begin::Conflict));
        first.finish(200, "once".into(), t0);
        assert!(matches!(dup.await.unwrap(), Begin::Replay(o) if o == "once"));
        // A waiter whose own deadline passes gets the timeout.
        let Begin::Run(_held) = run(&c, 8, 1, t0).await else {
            panic!()
        };
        let past = tokio::time::Instant::now();
        assert_eq!(
            c.begin([8; 32], [1; 32], t0, past).await.err(),
            Some(WaitTimeout)
        );
    }

    #[tokio::test]
    async fn capacity_evicts_the_least_recently_used() {
        let c = IdempotencyCache::<String>::default();
        let t0 = Instant::now();
        for i in 0..=CAPACITY {
            let key = cache_key("POST", "/v1/tools/x", "p", &i.to_string());
            let Begin::Run(r) = c.begin(key, [0; 32], t0, far()).await.unwrap() else {
                panic!()
            };
            r.finish(200, i.to_string(), t0);
            if i == 0 {
                // Touch entry 0 later so entry 1 is the least recently used.
                continue;
            }
            if i == 1 {
                let k0 = cache_key("POST", "/v1/tools/x", "p", "0");
                assert!(matches!(
                    c.begin(k0, [0; 32], t0, far()).await.unwrap(),
                    Begin::Replay(_)
                ));
            }
        }
        assert_eq!(c.len(), CAPACITY);
        let k0 = cache_key("POST", "/v1/tools/x", "p", "0");
        let k1 = cache_key("POST", "/v1/tools/x", "p", "1");
        assert!(matches!(
            c.begin(k0, [0; 32], t0, far()).await.unwrap(),
            Begin::Replay(_)
        ));
        assert!(matches!(
            c.begin(k1, [0; 32], t0, far()).await.unwrap(),
            Begin::Run(_)
        ));
    }

    #[test]
    fn keys_are_printable_ascii_up_to_255() {
        assert!(valid_key("a"));
        assert!(!valid_key(""));
        assert!(!valid_key(&"x".repeat(256)));
        assert!(!valid_key("é"));
        assert_ne!(
            cache_key("POST", "/a", "p", "k"),
            cache_key("POST", "/a", "pk", "")
        );
    }
}
