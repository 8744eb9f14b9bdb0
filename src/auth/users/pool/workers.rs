//! The hash workers: a fixed set of threads, one per CPU, that run password checks under
//! `SCHED_IDLE`, each with its own argon2 memory.
//!
//! A check is a job in one queue (a `Mutex<VecDeque>` and a `Condvar`); an idle worker
//! takes the next one. While jobs keep coming, a worker reuses its [`HashMemory`] for each;
//! when no job has come for [`LINGER`] it releases the memory (back to the kernel, see
//! `memory.rs`) and sleeps until the next job. So a login flood holds at most
//! `workers × m_cost` of argon2 memory, and a second after it the gateway is back to its
//! idle size.
//!
//! Why not tokio's blocking pool: its threads come and go (up to 512 of them), so memory
//! kept per thread would not be bounded by the number of hashes in flight, and every thread
//! that ran a hash would keep its `SCHED_IDLE` policy for unrelated blocking work (DNS
//! lookups). Dedicated threads enter `SCHED_IDLE` once, at start, and run nothing else.
//!
//! Ownership and shutdown: the queue is shared by the [`HashWorkers`] handle and its
//! threads. Each job carries a oneshot sender for its result; a job whose caller went away
//! still runs (its permit in `PasswordChecker` is held until the hash is done). Dropping the
//! handle closes the queue: the workers finish the jobs already queued and exit. The
//! process-wide pool ([`HashWorkers::shared`]) lives as long as the process. A job that
//! panics drops its sender (its caller gets [`CredentialsError::CheckTaskFailed`]); the
//! worker releases its memory and goes on.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::auth::users::password::CredentialsError;
use crate::auth::users::password::memory::HashMemory;

/// How long a worker keeps its argon2 memory with no job to run: long enough to carry it
/// from one queued login to the next (the next check reaches the queue only after the async
/// side has handed on the permit), short enough that the memory is back soon after a burst.
pub(crate) const LINGER: Duration = Duration::from_secs(1);

/// A check, run on a worker with that worker's memory.
type Job = Box<dyn FnOnce(&mut HashMemory) + Send>;

/// A handle on a set of hash worker threads.
pub(crate) struct HashWorkers {
    queue: Arc<Queue>,
}

struct Queue {
    state: Mutex<State>,
    /// Signalled when a job is queued or the queue is closed.
    ready: Condvar,
    linger: Duration,
}

struct State {
    jobs: VecDeque<Job>,
    closed: bool,
}

/// What a worker waiting for work gets.
enum Next {
    Job(Job),
    /// No job came within the linger time: release the memory, then wait again.
    Idle,
    /// The handle was dropped and no job is left.
    Closed,
}

impl HashWorkers {
    /// The process-wide workers, one per CPU available to the process, started on first use.
    /// `None` when not a single thread could be started.
    pub(crate) fn shared() -> Option<&'static HashWorkers> {
        static SHARED: OnceLock<Option<HashWorkers>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let count = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
                HashWorkers::start(count, LINGER)
            })
            .as_ref()
    }

    /// Starts `count` workers (at least one) that release their memory after `linger`
    /// without a job. `None` when no thread could be started (a failure to start some of
    /// them is logged, and the others do the work).
    pub(crate) fn start(count: usize, linger: Duration) -> Option<HashWorkers> {
        let queue = Arc::new(Queue {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
            linger,
        });
        let mut started = 0;
        for n in 0..count.max(1) {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("gateway-hash-{n}"))
                .spawn(move || work(&queue));
            match spawned {
                Ok(_) => started += 1,
                Err(error) => tracing::error!(%error, "cannot start a password-hashing thread"),
            }
        }
        (started > 0).then_some(HashWorkers { queue })
    }

    /// Runs `check` on the next free worker and returns its result.
    ///
    /// # Errors
    ///
    /// [`CredentialsError::CheckTaskFailed`] when the check panicked.
    pub(crate) async fn run<T, F>(&self, check: F) -> Result<T, CredentialsError>
    where
        T: Send + 'static,
        F: FnOnce(&mut HashMemory) -> T + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            // The caller may be gone (client disconnect); the check ran all the same.
            let _ = sender.send(check(memory));
        });
        self.queue.lock().jobs.push_back(job);
        self.queue.ready.notify_one();
        receiver
            .await
            .map_err(|_| CredentialsError::CheckTaskFailed)
    }
}

impl Drop for HashWorkers {
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.ready.notify_all();
    }
}

impl Queue {
    /// The state; a job that panicked holds no lock (jobs run outside it), so poisoning
    /// cannot leave it inconsistent.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the next job: at most the linger time when `holding` memory, else until one
    /// comes.
    fn next(&self, holding: bool) -> Next {
        let deadline = holding.then(|| Instant::now() + self.linger);
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Next::Job(job);
            }
            if state.closed {
                return Next::Closed;
            }
            state = match deadline {
                None => self
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Next::Idle;
                    }
                    self.ready
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}

/// A worker's life: lower its priority once, then run jobs with its memory, releasing the
/// memory whenever it is idle for the linger time.
fn work(queue: &Queue) {
    lower_this_threads_priority();
    let mut memory = HashMemory::new();
    loop {
        match queue.next(memory.held_bytes() > 0) {
            Next::Job(job) => {
                if catch_unwind(AssertUnwindSafe(|| job(&mut memory))).is_err() {
                    memory.release();
                }
            }
            Next::Idle => memory.release(),
            Next::Closed => return,
        }
    }
}

/// Moves the calling thread (a hash worker, at its start) to `SCHED_IDLE`, once per thread
/// (Linux: scheduling is per thread). `SCHED_IDLE` is the policy for work that should use only CPU nobody else wants:
/// a worker that wakes up preempts such a thread at once (one at nice 19 under the normal
/// policy only when the scheduler's slice allows), and when the two compete the hashing
/// thread gets a weight of 3 against a worker's 1,024 (nice has no effect under it).
///
/// Measured with 8 clients logging in non-stop beside a 16-connection HTTP/1.1 load on two
/// cores (docs/performance.md, hot spot 9): at nice 19 proxied throughput fell by 13–35 %
/// and p99 rose ×2.2–3.2; under `SCHED_IDLE` throughput moved −14 to +7 % and p99 rose
/// ×1.7–2.7. The price is that under a full proxy load logins wait until the load eases:
/// proxied traffic comes first.
///
/// Entering `SCHED_IDLE` needs no privilege; leaving it would, which is one reason the hash
/// workers are threads of their own, running nothing else. A failure (a platform without
/// the policy) is logged and otherwise ignored: the check still runs, at normal priority.
pub(super) fn lower_this_threads_priority() {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    thread_local! {
        static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if LOWERED.with(|lowered| lowered.replace(true)) {
        return;
    }
    // The unit tests read the policy back from /proc.
    let set = set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
    );
    if let Err(error) = set {
        tracing::debug!(%error, "cannot lower the priority of a password-hashing thread");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::HashWorkers;
    use crate::auth::users::password::CredentialsError;

    const LONG: Duration = Duration::from_secs(3600);

    /// The address of the worker's blocks, and how many bytes it holds, after a job that
    /// needs `count` blocks (0: a job that hashes nothing).
    async fn job(workers: &HashWorkers, count: usize) -> (usize, usize) {
        workers
            .run(move |memory| {
                let at = match count {
                    0 => 0,
                    n => memory.blocks(n).expect("blocks").as_ptr() as usize,
                };
                (at, memory.held_bytes())
            })
            .await
            .expect("runs")
    }

    #[tokio::test]
    async fn a_worker_reuses_its_memory_from_one_check_to_the_next() {
        let workers = HashWorkers::start(1, LONG).expect("a thread");
        let (first, held) = job(&workers, 8).await;
        assert_eq!(held, 8 * argon2::Block::SIZE);
        for _ in 0..3 {
            assert_eq!(
                job(&workers, 8).await,
                (first, held),
                "same blocks, no new allocation"
            );
        }
    }

    #[tokio::test]
    async fn a_worker_idle_for_the_linger_time_releases_its_memory() {
        let workers = HashWorkers::start(1, Duration::from_millis(50)).expect("a thread");
        assert_eq!(job(&workers, 8).await.1, 8 * argon2::Block::SIZE);
        // Each probe finds the memory still held only if it came within the linger time;
        // waiting longer than that between probes lets the worker release it.
        let released = tokio::time::timeout(Duration::from_secs(60), async {
            while job(&workers, 0).await.1 != 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        released
            .await
            .expect("memory released after the linger time");
    }

    #[tokio::test]
    async fn a_check_that_panics_fails_alone_and_the_worker_goes_on() {
        let workers = HashWorkers::start(1, LONG).expect("a thread");
        let panicked = workers
            .run(|_| -> usize { panic!("a bug in a check") })
            .await;
        assert!(matches!(panicked, Err(CredentialsError::CheckTaskFailed)));
        assert_eq!(workers.run(|_| 7).await.expect("runs"), 7);
    }

    #[tokio::test]
    async fn checks_run_on_the_named_worker_threads() {
        let workers = HashWorkers::start(2, LONG).expect("threads");
        for _ in 0..4 {
            let name = workers
                .run(|_| std::thread::current().name().unwrap_or_default().to_owned())
                .await
                .expect("runs");
            assert!(name.starts_with("gateway-hash-"), "{name}");
        }
    }
}
