//! The server's background tasks (storage maintenance, the trace-index warmer, the incident
//! engine), owned in one place: started by [`crate::api::start_storage`] on a small runtime of
//! their own (one worker, a few blocking threads) so their CPU never occupies the request
//! runtime's workers, watched by `/readyz`, and joined in order at shutdown. On Linux that
//! runtime's threads run at a lower OS priority ([`BACKGROUND_NICE`]): when the cores are
//! saturated, request parsing and the WAL writer get them first and the ack tail stays flat,
//! while the background work still runs on any idle core time.
//!
//! Invariants:
//! - A task that ends before shutdown began (returned early or panicked) is a failure: `/readyz`
//!   answers `503` naming it ([`Background::dead`]) instead of the process staying "ready"
//!   with, say, no flushing.
//! - [`Background::join`] joins in reverse start order: the tasks started last read through the
//!   ones started first (the engine ticks over the storage the maintenance task flushes), so
//!   they stop first. Each join is bounded; a task still running after it is aborted and
//!   reported.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// Named, owned background tasks, run on their own small runtime.
#[derive(Debug, Default)]
pub struct Background {
    tasks: Mutex<Vec<(&'static str, JoinHandle<()>)>>,
    runtime: OnceLock<Runtime>,
}

/// Worker threads of the background runtime: the tasks' async parts (query execution of the
/// engine's ticks and warmers included) never hold the request runtime's workers.
const WORKER_THREADS: usize = 1;
/// Its blocking pool (merges, flush encoding, index builds, file reads of its queries).
const MAX_BLOCKING_THREADS: usize = 4;
/// How much lower than the request threads' the background runtime's threads run (Linux `nice`
/// steps, capped at 19). At +10 a background thread competing with a request thread for a core
/// gets about a tenth of it (CFS weights 110 vs 1024); on idle cores it runs at full speed, so
/// merges and flushes catch up as soon as the load leaves room.
pub const BACKGROUND_NICE: i32 = 10;

/// The nice value background threads run at: [`BACKGROUND_NICE`] above the calling thread's
/// (the one building the background runtime), at most 19. Fixed once, so a thread started by
/// an already lowered one (blocking-pool threads inherit their creator's priority) lands on
/// the same value instead of being lowered twice.
#[cfg(target_os = "linux")]
pub fn background_nice() -> Option<i32> {
    thread_nice().ok().map(|n| (n + BACKGROUND_NICE).min(19))
}

/// Set the calling thread's OS priority to nice `target` (Linux; elsewhere nothing). Lowering
/// one's own priority needs no privilege; a failure only leaves the thread at its inherited
/// priority, so it is logged, not fatal.
pub fn lower_thread_priority(target: Option<i32>) {
    #[cfg(target_os = "linux")]
    if let Some(target) = target
        && let Err(e) = set_linux_thread_nice(target)
    {
        tracing::debug!(error = %e, "background thread priority unchanged");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = target;
}

#[cfg(target_os = "linux")]
fn set_linux_thread_nice(target: i32) -> Result<(), String> {
    use thread_priority::{ThreadPriority, ThreadPriorityValue};
    let p =
        crossplatform_priority_for(target).ok_or(format!("no priority maps to nice {target}"))?;
    let p = ThreadPriorityValue::try_from(p).map_err(|e| e.to_string())?;
    thread_priority::set_current_thread_priority(ThreadPriority::Crossplatform(p))
        .map_err(|e| format!("{e:?}"))
}

/// The `thread_priority` crate's cross-platform value (0..=99) that it maps to `nice` for a
/// normal (`SCHED_OTHER`) thread on Linux: nice = trunc(39 × (1 − p / 99)) − 20.
#[cfg(target_os = "linux")]
fn crossplatform_priority_for(nice: i32) -> Option<u8> {
    (0..=99u8).find(|p| (39.0f32 * (1.0 - f32::from(*p) / 99.0)) as i32 - 20 == nice)
}

/// The calling thread's nice value (`/proc/thread-self/stat`, field 19).
#[cfg(target_os = "linux")]
fn thread_nice() -> Result<i32, String> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").map_err(|e| e.to_string())?;
    // The command name (field 2) may hold spaces: count the fields after its closing ')'.
    stat.rfind(')')
        .and_then(|at| stat.get(at + 2..))
        .and_then(|rest| rest.split(' ').nth(16))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no nice value in {stat:?}"))
}

impl Background {
    /// Start `task` as `name` on the background runtime (created on first use). On a 2-core
    /// machine the request path's async workers then only ever wait for each other: a long
    /// poll of a background query or merge delays no acknowledgement (issue 20 item 3).
    pub fn spawn(&self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let runtime = self.runtime.get_or_init(|| {
            #[cfg(target_os = "linux")]
            let target = background_nice();
            #[cfg(not(target_os = "linux"))]
            let target = None;
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKER_THREADS)
                .max_blocking_threads(MAX_BLOCKING_THREADS)
                .thread_name("waylog-background")
                .on_thread_start(move || lower_thread_priority(target))
                .enable_all()
                .build()
                .expect("building the background runtime")
        });
        self.tasks.lock().push((name, runtime.spawn(task)));
    }

    /// The first task (in start order) that has ended.
    pub fn dead(&self) -> Option<&'static str> {
        self.tasks
            .lock()
            .iter()
            .find(|(_, t)| t.is_finished())
            .map(|(name, _)| *name)
    }

    /// Every task (in start order) that has ended.
    pub fn dead_all(&self) -> Vec<&'static str> {
        self.tasks
            .lock()
            .iter()
            .filter(|(_, t)| t.is_finished())
            .map(|(name, _)| *name)
            .collect()
    }

    /// Test hook (`WAYLOG_TEST_HOOKS`): abort the task `name` as if it had died, and wait (up
    /// to 10 s) until it has ended: the task runs on the background runtime, so the abort
    /// lands at its next poll there. Returns whether such a task runs.
    #[doc(hidden)]
    pub async fn abort_for_test(&self, name: &str) -> bool {
        let aborted = {
            let tasks = self.tasks.lock();
            let found = tasks.iter().find(|(n, _)| *n == name);
            if let Some((_, t)) = found {
                t.abort();
            }
            found.is_some()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while aborted && !self.dead_all().contains(&name) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        aborted
    }

    /// The tasks' names, in start order.
    pub fn names(&self) -> Vec<&'static str> {
        self.tasks.lock().iter().map(|(name, _)| *name).collect()
    }

    /// Join every task, last started first, each within `grace` (then aborted). Call after the
    /// stop signal was sent. Returns the names in the order they were joined.
    pub async fn join(&self, grace: Duration) -> Vec<&'static str> {
        let tasks = std::mem::take(&mut *self.tasks.lock());
        let mut joined = Vec::with_capacity(tasks.len());
        for (name, mut task) in tasks.into_iter().rev() {
            match tokio::time::timeout(grace, &mut task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(task = name, error = %e, "background task failed"),
                Err(_) => {
                    tracing::warn!(task = name, "background task did not stop in time; aborted");
                    task.abort();
                }
            }
            joined.push(name);
        }
        joined
    }
}

impl Drop for Background {
    /// The runtime may be dropped on an async thread, where a blocking shutdown would panic;
    /// its tasks were joined (or aborted) by [`Background::join`] before.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dead_names_the_first_ended_task_and_join_goes_last_first() {
        let bg = Background::default();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let waiter = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        bg.spawn("maintenance", waiter(rx.clone()));
        bg.spawn("warmer", waiter(rx.clone()));
        assert_eq!(bg.dead(), None);
        bg.spawn("engine", async { panic!("tick bug") });
        // Up to 10 s: the background threads run at a lower priority, so on a loaded machine
        // the panic may take a while to be polled.
        for _ in 0..2000 {
            if bg.dead().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(bg.dead(), Some("engine"));
        tx.send(true).unwrap();
        let order = bg.join(Duration::from_secs(5)).await;
        assert_eq!(order, ["engine", "warmer", "maintenance"]);
        assert!(bg.names().is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn background_threads_run_at_the_lower_priority_and_others_do_not() {
        let base = thread_nice().unwrap();
        let lowered = (base + BACKGROUND_NICE).min(19);
        let inside = std::thread::spawn(move || {
            lower_thread_priority(Some(lowered));
            // A thread started by a lowered one (as the blocking pool's are) stays there.
            let child = std::thread::spawn(move || {
                lower_thread_priority(Some(lowered));
                thread_nice().unwrap()
            });
            assert_eq!(child.join().unwrap(), lowered);
            thread_nice().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(inside, lowered);
        let bg = Background::default();
        let (tx, rx) = std::sync::mpsc::channel();
        bg.spawn("probe", async move {
            let on_blocking = tokio::task::spawn_blocking(thread_nice).await.unwrap();
            tx.send((thread_nice().unwrap(), on_blocking.unwrap()))
                .unwrap();
        });
        assert_eq!(rx.recv().unwrap(), (lowered, lowered));
        assert_eq!(thread_nice().unwrap(), base);
    }

    #[tokio::test]
    async fn join_aborts_a_task_that_ignores_the_stop_signal() {
        let bg = Background::default();
        bg.spawn("stuck", std::future::pending());
        assert_eq!(bg.join(Duration::from_millis(20)).await, ["stuck"]);
    }
}
