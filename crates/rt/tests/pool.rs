//! The worker pool on real threads: a 100,000-job stress run, FIFO order,
//! cancellation, panics, the worker count from the environment, the alive
//! rule and the pool's metrics.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use waiter_rt::pool::{self, THREADPOOL_SIZE_ENV};
use waiter_rt::{spawn_blocking, spawn_local, JoinError, Loop, RunMode};

/// A job that holds the only worker until released, and the means to wait
/// until it runs and to release it.
struct Blocker {
    started: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
}

impl Blocker {
    fn job() -> (Blocker, impl FnOnce() + Send + 'static) {
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let job = move || {
            started_tx.send(()).unwrap();
            release_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        };
        (Blocker { started, release }, job)
    }

    /// Blocks the calling (loop) thread until the job runs on a worker.
    fn wait_started(&self) {
        self.started
            .recv_timeout(Duration::from_secs(10))
            .expect("the blocking job never started");
    }

    fn release(&self) {
        self.release.send(()).unwrap();
    }
}

#[test]
fn a_hundred_thousand_jobs_all_complete_exactly_once_on_four_workers() {
    // A lost wakeup would hang the run rather than fail it: run it on a
    // thread of its own and give up on it after a while.
    let (tx, rx) = mpsc::channel();
    let run = std::thread::spawn(move || {
        stress_100k();
        tx.send(()).unwrap();
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => run.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The run panicked; show its message.
            std::panic::resume_unwind(run.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the pool stalled"),
    }
}

fn stress_100k() {
    const N: usize = 100_000;
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
    let lp = Loop::builder().pool_size(4).build().unwrap();
    let start = Instant::now();
    let results = lp.block_on(async {
        // Half submitted at once, half by 64 tasks with one job in flight
        // each, so both a deep queue and a queue that keeps running dry
        // are exercised.
        let burst: Vec<_> = (0..N / 2)
            .map(|i| {
                let runs = runs.clone();
                spawn_blocking(move || {
                    runs[i].fetch_add(1, SeqCst);
                    i
                })
            })
            .collect();
        let tasks: Vec<_> = (0..64)
            .map(|t| {
                let runs = runs.clone();
                spawn_local(async move {
                    let mut got = vec![];
                    for i in (N / 2 + t..N).step_by(64) {
                        let runs = runs.clone();
                        got.push(
                            spawn_blocking(move || {
                                runs[i].fetch_add(1, SeqCst);
                                i
                            })
                            .await
                            .unwrap(),
                        );
                    }
                    got
                })
            })
            .collect();
        let mut all = Vec::with_capacity(N);
        for (i, job) in burst.into_iter().enumerate() {
            let got = job.await.unwrap();
            assert_eq!(got, i, "job {i} returned another job's result");
            all.push(got);
        }
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let elapsed = start.elapsed();
    assert_eq!(results.len(), N);
    let distinct: HashSet<usize> = results.iter().copied().collect();
    assert_eq!(distinct.len(), N, "a result came back twice");
    assert!(distinct.iter().all(|&i| i < N));
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.load(SeqCst), 1, "job {i} ran {} times", r.load(SeqCst));
    }
    let m = lp.metrics();
    assert_eq!(m.pool_threads, 4);
    assert_eq!(m.active_requests, 0);
    assert_eq!(m.pool_queue_depth, 0);
    assert!(
        elapsed < Duration::from_secs(10),
        "{N} jobs took {elapsed:?}"
    );
}

#[test]
fn a_single_worker_starts_jobs_in_submission_order() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let lp = Loop::builder().pool_size(1).build().unwrap();
    lp.block_on(async {
        // Hold the worker so that every job below is queued before any
        // starts: the order then comes from the queue alone.
        let (blocker, job) = Blocker::job();
        let first = spawn_blocking(job);
        blocker.wait_started();
        let jobs: Vec<_> = (0..200)
            .map(|i| {
                let o = order.clone();
                spawn_blocking(move || o.lock().unwrap().push(i))
            })
            .collect();
        assert_eq!(lp.metrics().pool_queue_depth, 200);
        blocker.release();
        first.await.unwrap();
        // Await in reverse: the order of awaiting must not matter.
        for j in jobs.into_iter().rev() {
            j.await.unwrap();
        }
    });
    assert_eq!(*order.lock().unwrap(), (0..200).collect::<Vec<_>>());
}

#[test]
fn jobs_cancelled_or_dropped_before_they_start_never_run() {
    let ran = Arc::new(AtomicUsize::new(0));
    let lp = Loop::builder().pool_size(1).build().unwrap();
    let done: Rc<RefCell<Option<Result<usize, JoinError>>>> = Rc::default();
    lp.block_on(async {
        let (blocker, job) = Blocker::job();
        let busy = spawn_blocking(job);
        blocker.wait_started();
        assert!(!busy.cancel(), "a running job cannot be cancelled");

        let counting = || {
            let r = ran.clone();
            move || r.fetch_add(1, SeqCst) + 1
        };
        let cancelled = spawn_blocking(counting());
        let dropped = spawn_blocking(counting());
        let d = done.clone();
        let request = pool::submit(counting(), move |r| *d.borrow_mut() = Some(r));
        let survivor = spawn_blocking(counting());
        let m = lp.metrics();
        assert_eq!(m.active_requests, 5);
        assert_eq!(m.pool_queue_depth, 4);

        assert!(cancelled.cancel());
        assert!(!cancelled.cancel(), "cancelling twice reports false");
        drop(dropped);
        assert!(request.cancel());
        // A dropped job releases the loop at once; a cancelled one stays a
        // request until its cancellation is delivered (as with libuv's
        // `uv_cancel`, whose callback still runs).
        assert_eq!(lp.metrics().active_requests, 4);

        blocker.release();
        busy.await.unwrap();
        let err = cancelled.await.unwrap_err();
        assert!(err.is_cancelled(), "{err}");
        assert!(!err.is_panic());
        // Only the job that was left alone runs, and it is the first to.
        assert_eq!(survivor.await.unwrap(), 1);
        // The callback form hears of its cancellation in a poll phase.
        while done.borrow().is_none() {
            waiter_rt::sleep(Duration::from_millis(1)).await;
        }
    });
    assert_eq!(ran.load(SeqCst), 1);
    let err = done.borrow_mut().take().unwrap().unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    let m = lp.metrics();
    assert_eq!(m.active_requests, 0);
    assert_eq!(m.pool_queue_depth, 0);
    assert!(!lp.is_alive());
}

#[test]
fn a_panicking_job_gives_a_panic_error_and_the_pool_keeps_working() {
    let lp = Loop::builder().pool_size(2).build().unwrap();
    let via_callback: Rc<RefCell<Option<Result<(), JoinError>>>> = Rc::default();
    let v = via_callback.clone();
    let watch = via_callback.clone();
    lp.block_on(async move {
        let err = spawn_blocking(|| -> u32 { panic!("job boom") })
            .await
            .unwrap_err();
        assert!(err.is_panic(), "{err}");
        assert!(err.to_string().contains("job boom"), "{err}");
        let payload = err.try_into_panic().unwrap();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"job boom"));

        pool::submit(
            || panic!("callback boom"),
            move |r| *v.borrow_mut() = Some(r),
        );
        // More panics than workers: none of them may take a worker down.
        let panics: Vec<_> = (0..8)
            .map(|i| spawn_blocking(move || -> usize { panic!("boom {i}") }))
            .collect();
        for p in panics {
            assert!(p.await.unwrap_err().is_panic());
        }
        let after: Vec<_> = (0..100).map(|i| spawn_blocking(move || i * 2)).collect();
        for (i, j) in after.into_iter().enumerate() {
            assert_eq!(j.await.unwrap(), i * 2);
        }
        // The callback-form job may finish last: its `done` runs in a later
        // poll phase than the futures above.
        let ran = waiter_rt::timeout(Duration::from_secs(10), async {
            while watch.borrow().is_none() {
                waiter_rt::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert!(ran.is_ok(), "done never ran");
    });
    let err = via_callback
        .borrow_mut()
        .take()
        .expect("done never ran")
        .unwrap_err();
    assert!(
        err.is_panic() && err.to_string().contains("callback boom"),
        "{err}"
    );
    assert_eq!(lp.metrics().pool_threads, 2);
}

/// Set in the child process that `the_worker_count_comes_from_the_environment`
/// starts; the value is the worker count the child must see.
const CHILD_EXPECTS: &str = "WAITER_TEST_POOL_CHILD_EXPECTS";

#[test]
fn the_worker_count_comes_from_the_environment() {
    if let Ok(want) = std::env::var(CHILD_EXPECTS) {
        // In the child: the environment was set before the process started,
        // so no other test can race with it.
        let lp = Loop::new().unwrap();
        lp.block_on(async { spawn_blocking(|| ()).await.unwrap() });
        assert_eq!(lp.metrics().pool_threads.to_string(), want);
        let explicit = Loop::builder().pool_size(2).build().unwrap();
        explicit.block_on(async { spawn_blocking(|| ()).await.unwrap() });
        assert_eq!(explicit.metrics().pool_threads, 2, "the builder wins");
        println!("child checked {want} workers");
        return;
    }
    for (env, want) in [("3", 3), (" 5 ", 5), ("0", 1), ("many", 4)] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "the_worker_count_comes_from_the_environment",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(THREADPOOL_SIZE_ENV, env)
            .env(CHILD_EXPECTS, want.to_string())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&format!("child checked {want} workers")),
            "{THREADPOOL_SIZE_ENV}={env:?}: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_job_in_flight_keeps_the_loop_alive_until_done_runs() {
    let lp = Loop::builder().pool_size(1).build().unwrap();
    let got = Rc::new(Cell::new(None));
    let g = got.clone();
    let start = Instant::now();
    let alive = lp.run_main(
        || {
            pool::submit(
                || {
                    std::thread::sleep(Duration::from_millis(50));
                    7
                },
                move |r| g.set(Some(r.unwrap())),
            );
            assert_eq!(lp.metrics().active_requests, 1);
            assert!(lp.is_alive());
        },
        RunMode::Default,
    );
    assert!(!alive);
    assert_eq!(got.get(), Some(7), "run returned before done ran");
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(lp.metrics().active_requests, 0);
}

#[test]
fn metrics_count_requests_in_flight_and_jobs_waiting_for_a_worker() {
    let lp = Loop::builder().pool_size(1).build().unwrap();
    assert_eq!(lp.metrics().pool_threads, 0, "the pool starts on first use");
    lp.block_on(async {
        let (blocker, job) = Blocker::job();
        let busy = spawn_blocking(job);
        blocker.wait_started();
        let m = lp.metrics();
        assert_eq!(
            (m.active_requests, m.pool_queue_depth, m.pool_threads),
            (1, 0, 1)
        );
        let queued: Vec<_> = (0..3).map(|i| spawn_blocking(move || i)).collect();
        let m = lp.metrics();
        assert_eq!((m.active_requests, m.pool_queue_depth), (4, 3));
        blocker.release();
        busy.await.unwrap();
        for (i, j) in queued.into_iter().enumerate() {
            assert_eq!(j.await.unwrap(), i);
        }
        let m = lp.metrics();
        assert_eq!((m.active_requests, m.pool_queue_depth), (0, 0));
    });
}

#[test]
fn dropping_the_loop_drops_its_queued_jobs_unrun() {
    let ran = Arc::new(AtomicUsize::new(0));
    let (blocker, job) = Blocker::job();
    {
        let lp = Loop::builder().pool_size(1).build().unwrap();
        lp.block_on(async {
            spawn_local(spawn_blocking(job)).detach();
            blocker.wait_started();
            for _ in 0..10 {
                let r = ran.clone();
                spawn_local(spawn_blocking(move || r.fetch_add(1, SeqCst))).detach();
            }
        });
        assert_eq!(lp.metrics().pool_queue_depth, 10);
    }
    // The worker finishes the job it was running, then must not start any
    // of the ten that were queued on the dropped loop.
    blocker.release();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(ran.load(SeqCst), 0);
}

#[test]
fn a_job_queued_on_a_dropped_loop_resolves_as_cancelled() {
    let (blocker, job) = Blocker::job();
    let lp = Loop::builder().pool_size(1).build().unwrap();
    let queued = {
        let _entered = lp.enter();
        let _busy = spawn_blocking(job);
        blocker.wait_started();
        spawn_blocking(|| "ran")
    };
    drop(lp);
    blocker.release();
    // The future outlives its loop; awaited elsewhere, it must still end.
    let other = Loop::new().unwrap();
    let r = other.block_on(waiter_rt::timeout(Duration::from_secs(2), queued));
    let err = r.expect("the job's future never resolved").unwrap_err();
    assert!(err.is_cancelled(), "{err}");
}
