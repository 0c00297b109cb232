//! The worker pool: blocking work off the loop thread (libuv's threadpool).
//!
//! Files, DNS, SQLite and CPU-heavy work run here. The pool starts on first
//! use with [`DEFAULT_THREADS`] workers, or `WAITER_THREADPOOL_SIZE`, capped at
//! [`MAX_THREADS`]. Jobs run FIFO; "slow" jobs (DNS lookups) may occupy at most
//! half the workers (`(n + 1) / 2`, as in libuv), so slow lookups cannot
//! starve file I/O.
//!
//! **Completions never touch loop state from a worker.** A worker stores the
//! result in the job's own slot and wakes the waiting task's waker; off the
//! loop thread that waker goes through the loop's remote queue and
//! `mio::Waker`, and the task runs on the loop after the poll phase.
//!
//! **Wakeups.** Waking a sleeping worker costs a futex call and a context
//! switch, so the pool avoids it where it can: a worker that finishes a job
//! and finds the queue empty yields the CPU and looks again a few times
//! (`SPIN_YIELDS`) before it sleeps, and a submission only signals the
//! condvar when some sleeping worker has not been signalled yet (`idle >
//! wakes`). A signalled worker takes back its `wakes` when it wakes up, so
//! `wakes` never exceeds `idle`, and a job queued while every sleeper has
//! been signalled is found by one of them. A worker that takes a job and
//! leaves runnable jobs behind signals one more unsignalled sleeper, so no
//! job waits in the queue while a worker sleeps.
//!
//! **Lock order.** A worker holds at most one lock at a time: the queue lock
//! while it takes a job, then (after releasing it) the job slot's lock while
//! it stores the result. It wakes the waker, and signals the condvar, after
//! releasing both. The loop thread takes the queue lock only to submit, and
//! a slot lock only to read or cancel its own job; it never holds both.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

mod job;

pub(crate) use job::submit_class;
pub use job::{spawn_blocking, submit, BlockingTask, WorkRequest};

/// Workers started when nothing else is configured.
pub const DEFAULT_THREADS: usize = 4;

/// The most workers a pool may have.
pub const MAX_THREADS: usize = 1024;

/// Environment variable that sets the worker count.
pub const THREADPOOL_SIZE_ENV: &str = "WAITER_THREADPOOL_SIZE";

/// How many times a worker that found the queue empty after a job yields
/// the CPU and looks again before it sleeps on the condvar.
///
/// With many jobs in flight, the loop thread submits the next job a few
/// microseconds after the previous one completes. A worker that slept
/// whenever the queue was momentarily empty turned nearly every submission
/// into a futex wake and two context switches (89k voluntary switches for
/// 100k jobs with 64 in flight; 75 with the spin). Measured with
/// `examples/pool_roundtrip.rs` (4 workers, 2 cores, 64 jobs in flight):
/// no spin, about 0.4M jobs/s; one yield, 2.2-2.5M; three, 2.3-2.4M; eight,
/// 2.2-2.7M. One yield already bridges the gap on an idle machine; three
/// leave room for a loop thread that takes longer to answer (a larger batch
/// of completions per poll) while keeping the cost bounded: an idle worker
/// makes at most three `sched_yield` calls before it sleeps, and one job at
/// a time (where the loop never answers within the spin) pays about 3 µs
/// more CPU per job.
const SPIN_YIELDS: u32 = 3;

/// A job's class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Any worker may run it.
    Fast,
    /// At most half the workers run these at once.
    Slow,
}

type Job = Box<dyn FnOnce() + Send>;

/// The queues, under one lock.
struct State {
    /// Fast jobs with their submission sequence.
    fast: VecDeque<(u64, Job)>,
    /// Slow jobs with their submission sequence.
    slow: VecDeque<(u64, Job)>,
    /// Next submission sequence, for FIFO order across both queues.
    seq: u64,
    /// Workers running a slow job.
    slow_running: usize,
    /// Workers waiting on the condvar.
    idle: usize,
    /// Condvar signals sent to idle workers that have not woken up yet;
    /// never more than `idle`.
    wakes: usize,
    /// Set when the loop is dropped.
    shutdown: bool,
}

struct Shared {
    /// The queues.
    state: Mutex<State>,
    /// Signals workers that a job (or shutdown) is there.
    cv: Condvar,
    /// Most slow jobs running at once.
    slow_max: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Jobs run outside every lock, so a poisoned lock only means a panic
    // between two lines of this file; the data is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The pool owned by one loop.
pub(crate) struct Pool {
    /// Shared with the workers.
    shared: Arc<Shared>,
    /// Workers started.
    threads: usize,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads)
            .finish()
    }
}

/// The worker count: the explicit setting, else [`THREADPOOL_SIZE_ENV`],
/// else the default; always between 1 and [`MAX_THREADS`].
pub(crate) fn configured_threads(explicit: Option<usize>) -> usize {
    let env = std::env::var(THREADPOOL_SIZE_ENV).ok();
    threads_from(explicit, env.as_deref())
}

/// The worker count from an explicit setting and the environment variable's
/// value: a number, with surrounding blanks allowed; anything else (and zero,
/// below) falls back. The result is clamped to 1..=[`MAX_THREADS`].
fn threads_from(explicit: Option<usize>, env: Option<&str>) -> usize {
    let env = || env?.trim().parse().ok();
    explicit
        .or_else(env)
        .unwrap_or(DEFAULT_THREADS)
        .clamp(1, MAX_THREADS)
}

impl Pool {
    pub(crate) fn start(n: usize) -> Pool {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                fast: VecDeque::new(),
                slow: VecDeque::new(),
                seq: 0,
                slow_running: 0,
                idle: 0,
                wakes: 0,
                shutdown: false,
            }),
            cv: Condvar::new(),
            slow_max: n.div_ceil(2),
        });
        let mut threads = 0;
        for i in 0..n {
            let s = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("waiter-pool-{i}"))
                .spawn(move || worker(&s));
            match spawned {
                Ok(_) => threads += 1,
                Err(e) if threads > 0 => {
                    tracing::error!(error = %e, threads, "cannot start more pool workers");
                    break;
                }
                Err(e) => panic!("cannot start any pool worker: {e}"),
            }
        }
        Pool { shared, threads }
    }

    pub(crate) fn submit(&self, class: Class, job: Job) {
        let mut st = lock(&self.shared.state);
        let seq = st.seq;
        st.seq += 1;
        match class {
            Class::Fast => st.fast.push_back((seq, job)),
            Class::Slow => st.slow.push_back((seq, job)),
        }
        let wake = claim_wake(&mut st);
        drop(st);
        if wake {
            self.shared.cv.notify_one();
        }
    }

    pub(crate) fn queue_depth(&self) -> usize {
        let st = lock(&self.shared.state);
        st.fast.len() + st.slow.len()
    }

    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// Drops queued jobs (their tasks see a cancellation) and lets workers
    /// exit after their current job. Does not wait for them.
    pub(crate) fn shutdown(&self) {
        let (fast, slow) = {
            let mut st = lock(&self.shared.state);
            st.shutdown = true;
            (std::mem::take(&mut st.fast), std::mem::take(&mut st.slow))
        };
        self.shared.cv.notify_all();
        drop((fast, slow));
    }
}

fn next_job(st: &mut State, slow_max: usize) -> Option<(Job, Class)> {
    let slow_ok = st.slow_running < slow_max;
    let take_slow = match (st.fast.front(), st.slow.front()) {
        (_, None) => false,
        (None, Some(_)) => slow_ok,
        (Some((f, _)), Some((s, _))) => slow_ok && s < f,
    };
    if take_slow {
        st.slow_running += 1;
        st.slow.pop_front().map(|(_, j)| (j, Class::Slow))
    } else {
        st.fast.pop_front().map(|(_, j)| (j, Class::Fast))
    }
}

/// Whether a job could start now: a fast one, or a slow one under the limit.
fn has_runnable(st: &State, slow_max: usize) -> bool {
    !st.fast.is_empty() || (!st.slow.is_empty() && st.slow_running < slow_max)
}

/// Records a condvar signal if some idle worker has not been signalled yet;
/// the caller then signals after releasing the lock.
fn claim_wake(st: &mut State) -> bool {
    if st.idle > st.wakes {
        st.wakes += 1;
        true
    } else {
        false
    }
}

fn worker(shared: &Shared) {
    let mut st = lock(&shared.state);
    // Yields left before sleeping; refilled after each job.
    let mut spins = 0;
    loop {
        if st.shutdown {
            return;
        }
        let Some((job, class)) = next_job(&mut st, shared.slow_max) else {
            if spins > 0 {
                spins -= 1;
                drop(st);
                std::thread::yield_now();
                st = lock(&shared.state);
                continue;
            }
            st.idle += 1;
            st = shared.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            st.idle -= 1;
            // Spurious wakeups take a signal meant for another worker; that
            // worker then finds `wakes` at zero, which only costs an extra
            // signal later, never a lost one.
            st.wakes = st.wakes.saturating_sub(1);
            continue;
        };
        let helper = has_runnable(&st, shared.slow_max) && claim_wake(&mut st);
        drop(st);
        if helper {
            shared.cv.notify_one();
        }
        job();
        spins = SPIN_YIELDS;
        st = lock(&shared.state);
        if class == Class::Slow {
            st.slow_running -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::time::Duration;

    use super::*;
    use crate::Loop;

    #[test]
    fn the_worker_count_comes_from_the_setting_then_the_environment_then_the_default() {
        assert_eq!(threads_from(Some(7), Some("3")), 7, "explicit wins");
        assert_eq!(threads_from(None, Some("3")), 3);
        assert_eq!(threads_from(None, Some(" 12\n")), 12, "blanks are trimmed");
        assert_eq!(threads_from(None, None), DEFAULT_THREADS);
        for junk in ["", "four", "-2", "3.5", "0x10", "99999999999999999999999"] {
            assert_eq!(threads_from(None, Some(junk)), DEFAULT_THREADS, "{junk:?}");
        }
    }

    #[test]
    fn the_worker_count_is_clamped_to_one_and_the_maximum() {
        assert_eq!(threads_from(Some(0), None), 1);
        assert_eq!(threads_from(None, Some("0")), 1);
        assert_eq!(threads_from(Some(MAX_THREADS + 1), None), MAX_THREADS);
        assert_eq!(threads_from(None, Some("100000")), MAX_THREADS);
    }

    /// Counts jobs running at once and the most seen.
    #[derive(Default)]
    struct Gauge {
        now: AtomicUsize,
        max: AtomicUsize,
        done: AtomicUsize,
    }

    impl Gauge {
        fn run(&self, d: Duration) {
            let n = self.now.fetch_add(1, SeqCst) + 1;
            self.max.fetch_max(n, SeqCst);
            std::thread::sleep(d);
            self.now.fetch_sub(1, SeqCst);
            self.done.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn slow_jobs_occupy_at_most_half_the_workers_and_fast_jobs_pass_them() {
        let lp = Loop::builder().pool_size(4).build().unwrap();
        let slow = Arc::new(Gauge::default());
        // For each fast job: how many slow jobs had finished when it started.
        let slow_done_at_fast_start = lp.block_on(async {
            let slow_jobs: Vec<_> = (0..10)
                .map(|_| {
                    let g = slow.clone();
                    submit_class(Class::Slow, move || g.run(Duration::from_millis(60)))
                })
                .collect();
            let fast_jobs: Vec<_> = (0..6)
                .map(|_| {
                    let g = slow.clone();
                    spawn_blocking(move || g.done.load(SeqCst))
                })
                .collect();
            let mut seen = vec![];
            for j in fast_jobs {
                seen.push(j.await.unwrap());
            }
            for j in slow_jobs {
                j.await.unwrap();
            }
            seen
        });
        assert_eq!(slow.done.load(SeqCst), 10);
        assert_eq!(slow.max.load(SeqCst), 2, "(4 + 1) / 2 slow jobs at once");
        // Two workers stay free for fast jobs, so these start while the
        // first slow jobs run. Were the slow jobs allowed on all four
        // workers, the fast ones (queued after all ten) would wait for at
        // least eight of them.
        for d in slow_done_at_fast_start {
            assert!(d < 4, "a fast job waited for {d} slow jobs");
        }
    }

    #[test]
    fn a_single_worker_still_runs_slow_jobs_and_an_odd_pool_rounds_up() {
        for (n, limit) in [(1, 1), (3, 2)] {
            let lp = Loop::builder().pool_size(n).build().unwrap();
            let g = Arc::new(Gauge::default());
            lp.block_on(async {
                let jobs: Vec<_> = (0..6)
                    .map(|_| {
                        let g = g.clone();
                        submit_class(Class::Slow, move || g.run(Duration::from_millis(30)))
                    })
                    .collect();
                for j in jobs {
                    j.await.unwrap();
                }
            });
            assert_eq!(g.done.load(SeqCst), 6);
            assert_eq!(g.max.load(SeqCst), limit, "pool of {n}");
        }
    }

    #[test]
    fn a_slow_job_held_back_by_the_limit_starts_when_a_slow_slot_frees_up() {
        // Two workers, one slow slot. While a long fast job keeps one worker
        // busy and a slow job the other, a second slow job waits; it must
        // start as soon as the first slow job ends, not after the fast job.
        let lp = Loop::builder().pool_size(2).build().unwrap();
        let start = std::time::Instant::now();
        let (first, second) = lp.block_on(async {
            let long_fast = spawn_blocking(|| std::thread::sleep(Duration::from_millis(400)));
            let a = submit_class(Class::Slow, move || {
                std::thread::sleep(Duration::from_millis(30));
                start.elapsed()
            });
            let b = submit_class(Class::Slow, move || start.elapsed());
            let r = (a.await.unwrap(), b.await.unwrap());
            long_fast.await.unwrap();
            r
        });
        assert!(first >= Duration::from_millis(30));
        assert!(
            second < Duration::from_millis(300),
            "the second slow job started after {second:?}"
        );
    }
}
