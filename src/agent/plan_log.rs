//! The event logs of plans for `GET /v1/stream/plans/{plan_id}` (spec reads §6.4): each
//! plan's frames (at most 2 × steps + 1) are kept until 5 min after it completes, at most
//! [`MAX_PLANS`] plans (the oldest completed evicted first, else the oldest running). A
//! subscriber reads the logged frames, then waits for live ones until `done`. Time is passed
//! in (`now`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;

use super::plan::Frame;

/// Plans kept at most.
pub const MAX_PLANS: usize = 100;
/// How long a completed plan's log is kept.
pub const RETENTION: Duration = Duration::from_secs(300);

/// One plan's log.
#[derive(Debug)]
pub struct PlanRun {
    frames: Mutex<Vec<Frame>>,
    /// The number of frames logged; subscribers wait on it.
    count: watch::Sender<usize>,
}

impl PlanRun {
    /// Append a frame and wake the subscribers.
    pub fn push(&self, frame: Frame) {
        let n = {
            let mut frames = self.frames.lock();
            frames.push(frame);
            frames.len()
        };
        self.count.send_replace(n);
    }

    /// The frame at `i`, if logged yet.
    pub fn frame(&self, i: usize) -> Option<Frame> {
        self.frames.lock().get(i).cloned()
    }

    /// A receiver of the frame count.
    pub fn watch(&self) -> watch::Receiver<usize> {
        self.count.subscribe()
    }
}

#[derive(Debug)]
struct Entry {
    run: Arc<PlanRun>,
    seq: u64,
    done_at: Option<Instant>,
}

/// Every kept plan log.
#[derive(Debug, Default)]
pub struct PlanLogs {
    inner: Mutex<(HashMap<String, Entry>, u64)>,
}

impl PlanLogs {
    /// Start the log of `plan_id`.
    pub fn start(&self, plan_id: &str, now: Instant) -> Arc<PlanRun> {
        let run = Arc::new(PlanRun {
            frames: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
        });
        let mut inner = self.inner.lock();
        let (map, seq) = &mut *inner;
        *seq += 1;
        map.insert(
            plan_id.to_owned(),
            Entry {
                run: run.clone(),
                seq: *seq,
                done_at: None,
            },
        );
        prune(map, now);
        run
    }

    /// Mark `plan_id` complete (its retention starts).
    pub fn finish(&self, plan_id: &str, now: Instant) {
        if let Some(e) = self.inner.lock().0.get_mut(plan_id) {
            e.done_at = Some(now);
        }
    }

    /// The log of `plan_id`, unless unknown or expired.
    pub fn get(&self, plan_id: &str, now: Instant) -> Option<Arc<PlanRun>> {
        let mut inner = self.inner.lock();
        prune(&mut inner.0, now);
        inner.0.get(plan_id).map(|e| e.run.clone())
    }

    /// Plans kept now.
    pub fn len(&self) -> usize {
        self.inner.lock().0.len()
    }

    /// True when no plan is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn prune(map: &mut HashMap<String, Entry>, now: Instant) {
    map.retain(|_, e| e.done_at.is_none_or(|d| now.duration_since(d) < RETENTION));
    while map.len() > MAX_PLANS {
        let victim = map
            .iter()
            .min_by_key(|(_, e)| (e.done_at.is_none(), e.seq))
            .map(|(k, _)| k.clone());
        match victim {
            Some(k) => {
                map.remove(&k);
            }
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frame(n: u64) -> Frame {
        Frame {
            event: "step_start",
            data: json!({"index": n}),
        }
    }

    #[test]
    fn logs_expire_five_minutes_after_completion() {
        let logs = PlanLogs::default();
        let t0 = Instant::now();
        let run = logs.start("p1", t0);
        run.push(frame(0));
        assert_eq!(
            logs.get("p1", t0 + Duration::from_secs(3600))
                .unwrap()
                .frame(0),
            Some(frame(0))
        );
        logs.finish("p1", t0);
        assert!(logs.get("p1", t0 + Duration::from_secs(299)).is_some());
        assert!(logs.get("p1", t0 + Duration::from_secs(300)).is_none());
        assert!(logs.get("nope", t0).is_none());
    }

    #[test]
    fn capacity_evicts_the_oldest_completed_then_the_oldest_running() {
        let logs = PlanLogs::default();
        let t0 = Instant::now();
        for i in 0..MAX_PLANS {
            logs.start(&format!("p{i}"), t0);
        }
        logs.finish("p5", t0);
        logs.start("new1", t0);
        assert!(logs.get("p5", t0).is_none(), "the completed one goes first");
        assert!(logs.get("p0", t0).is_some());
        logs.start("new2", t0);
        assert!(logs.get("p0", t0).is_none(), "then the oldest running");
        assert_eq!(logs.len(), MAX_PLANS);
    }

    #[tokio::test]
    async fn subscribers_see_new_frames() {
        let logs = PlanLogs::default();
        let run = logs.start("p", Instant::now());
        let mut rx = run.watch();
        run.push(frame(1));
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), 1);
    }
}
