//! The local executor: !Send tasks, join handles, cancellation, panics,
//! budget and yielding.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use waiter_rt::{spawn_local, spawn_named, yield_now, Loop, RunMode};

#[test]
fn tasks_share_rc_state_without_locks() {
    let total = Rc::new(RefCell::new(Vec::new()));
    waiter_rt::run(async {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let t = total.clone();
                spawn_local(async move {
                    waiter_rt::sleep(Duration::from_millis((100 - i) % 7)).await;
                    t.borrow_mut().push(i);
                    i * 2
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, (0..100u64).map(|i| i * 2).sum::<u64>());
    });
    let mut v = total.borrow().clone();
    v.sort();
    assert_eq!(v, (0..100).collect::<Vec<_>>());
}

#[test]
fn dropping_the_handle_cancels_the_task_and_drops_its_future() {
    struct OnDrop(Rc<Cell<bool>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let finished = Rc::new(Cell::new(false));
    let lp = Loop::new().unwrap();
    let (d, f) = (dropped.clone(), finished.clone());
    lp.block_on(async move {
        let h = spawn_local(async move {
            let _guard = OnDrop(d);
            waiter_rt::sleep(Duration::from_secs(60)).await;
            f.set(true);
        });
        waiter_rt::sleep(Duration::from_millis(5)).await;
        drop(h);
    });
    assert!(dropped.get());
    assert!(!finished.get());
    assert_eq!(lp.metrics().tasks, 0);
    assert!(!lp.is_alive(), "the cancelled task's timer must be gone");
}

#[test]
fn abort_yields_a_cancelled_error_and_detach_lets_the_task_finish() {
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    waiter_rt::run(async move {
        let h = spawn_local(waiter_rt::sleep(Duration::from_secs(60)));
        h.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled(), "{err}");

        spawn_local(async move {
            waiter_rt::sleep(Duration::from_millis(5)).await;
            d.set(true);
        })
        .detach();
        waiter_rt::sleep(Duration::from_millis(30)).await;
    });
    assert!(done.get());
}

#[test]
fn a_panicking_task_is_reported_by_name_and_the_loop_goes_on() {
    let lp = Loop::new().unwrap();
    let after = lp.block_on(async {
        let h = spawn_named("doomed", async {
            waiter_rt::sleep(Duration::from_millis(1)).await;
            panic!("boom");
        });
        let other = spawn_local(async {
            waiter_rt::sleep(Duration::from_millis(10)).await;
            "still running"
        });
        let err = h.await.unwrap_err();
        assert!(err.is_panic());
        let msg = err.to_string();
        assert!(msg.contains("doomed") && msg.contains("boom"), "{msg}");
        other.await.unwrap()
    });
    assert_eq!(after, "still running");
    assert_eq!(lp.metrics().panics, 1);
}

#[test]
fn a_panicking_callback_is_caught_and_the_loop_goes_on() {
    let lp = Loop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    lp.run_main(
        move || {
            waiter_rt::set_timeout(Duration::from_millis(1), || panic!("in a timer"));
            waiter_rt::set_timeout(Duration::from_millis(5), move || r.set(true));
        },
        RunMode::Default,
    );
    assert!(ran.get());
    assert_eq!(lp.metrics().panics, 1);
}

#[test]
fn a_self_waking_task_cannot_starve_timers() {
    // The spinner wakes itself forever; the timer must still fire, and the
    // loop must poll for I/O between budgets.
    let fired = Rc::new(Cell::new(false));
    let spins = Rc::new(Cell::new(0u64));
    let lp = Loop::new().unwrap();
    let (f, s) = (fired.clone(), spins.clone());
    lp.block_on(async move {
        let spinner = spawn_local(async move {
            std::future::poll_fn(|cx| {
                s.set(s.get() + 1);
                cx.waker().wake_by_ref();
                std::task::Poll::<()>::Pending
            })
            .await
        });
        waiter_rt::sleep(Duration::from_millis(20)).await;
        f.set(true);
        drop(spinner);
    });
    assert!(fired.get());
    let m = lp.metrics();
    assert!(spins.get() > waiter_rt::TASK_BUDGET as u64);
    // Several checkpoints run per iteration (after the poll phase, after
    // the main future), each with its own budget: allow a few per poll.
    assert!(
        m.polls * 4 >= spins.get() / waiter_rt::TASK_BUDGET as u64,
        "{} polls for {} spins",
        m.polls,
        spins.get()
    );
}

#[test]
fn yield_now_lets_io_and_timers_run() {
    let lp = Loop::new().unwrap();
    let polls_before = Rc::new(Cell::new(0));
    let pb = polls_before.clone();
    lp.block_on(async move {
        pb.set(1);
        for _ in 0..10 {
            yield_now().await;
        }
    });
    // Each yield waits for a poll phase.
    assert!(lp.metrics().polls >= 10, "{}", lp.metrics().polls);
}

#[test]
fn wakers_work_from_other_threads() {
    let lp = Loop::new().unwrap();
    let got = lp.block_on(async {
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        let waker_slot: std::sync::Arc<std::sync::Mutex<Option<std::task::Waker>>> =
            Default::default();
        let ws = waker_slot.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(42).unwrap();
            if let Some(w) = ws.lock().unwrap().take() {
                w.wake();
            }
        });
        let v = std::future::poll_fn(|cx| match rx.try_recv() {
            Ok(v) => std::task::Poll::Ready(v),
            Err(_) => {
                *waker_slot.lock().unwrap() = Some(cx.waker().clone());
                // The value may have arrived between try_recv and storing
                // the waker; check once more.
                match rx.try_recv() {
                    Ok(v) => std::task::Poll::Ready(v),
                    Err(_) => std::task::Poll::Pending,
                }
            }
        })
        .await;
        h.join().unwrap();
        v
    });
    assert_eq!(got, 42);
}

#[test]
fn dropping_the_loop_drops_pending_tasks() {
    let dropped = Rc::new(Cell::new(0));
    struct OnDrop(Rc<Cell<i32>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    {
        let lp = Loop::new().unwrap();
        let d = dropped.clone();
        lp.block_on(async move {
            for _ in 0..10 {
                let g = OnDrop(d.clone());
                spawn_local(async move {
                    let _g = g;
                    std::future::pending::<()>().await
                })
                .detach();
            }
            yield_now().await;
        });
        assert_eq!(dropped.get(), 0);
    }
    assert_eq!(dropped.get(), 10);
}

/// Counts drops, to see when a task's future and output go.
struct Counted(Rc<Cell<i32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn a_finished_task_drops_its_future_at_once_and_keeps_its_output_for_the_handle() {
    let futures_dropped = Rc::new(Cell::new(0));
    let outputs_dropped = Rc::new(Cell::new(0));
    let lp = Loop::new().unwrap();
    let (fd, od) = (futures_dropped.clone(), outputs_dropped.clone());
    lp.block_on(async move {
        let guard = Counted(fd.clone());
        let out = Counted(od.clone());
        let h = spawn_local(async move {
            let _g = guard;
            waiter_rt::sleep(Duration::from_millis(1)).await;
            (out, 7)
        });
        waiter_rt::sleep(Duration::from_millis(20)).await;
        assert!(h.is_finished());
        assert_eq!(fd.get(), 1, "the future goes when the task completes");
        assert_eq!(od.get(), 0, "the output waits for the handle");
        let (out, n) = h.await.unwrap();
        assert_eq!(n, 7);
        drop(out);
        assert_eq!(od.get(), 1);

        // A handle dropped without awaiting drops the output, once.
        let out = Counted(od.clone());
        let h = spawn_local(async move { out });
        yield_now().await;
        assert!(h.is_finished());
        assert_eq!(od.get(), 1);
        drop(h);
        assert_eq!(od.get(), 2);

        // Detaching a finished task drops its output too.
        let out = Counted(od.clone());
        let h = spawn_local(async move { out });
        yield_now().await;
        h.detach();
        assert_eq!(od.get(), 3);
    });
    assert_eq!(lp.metrics().tasks, 0);
}

#[test]
fn a_task_aborted_during_its_own_poll_ends_right_after_it() {
    let lp = Loop::new().unwrap();
    let dropped = Rc::new(Cell::new(0));
    let d = dropped.clone();
    let err = lp.block_on(async move {
        let me: Rc<RefCell<Option<waiter_rt::JoinHandle<()>>>> = Rc::default();
        let me2 = me.clone();
        let h = spawn_local(async move {
            let _g = Counted(d);
            // Let the spawner store our handle, then abort ourselves.
            yield_now().await;
            if let Some(h) = me2.borrow().as_ref() {
                h.abort();
            }
            std::future::pending::<()>().await
        });
        *me.borrow_mut() = Some(h);
        waiter_rt::sleep(Duration::from_millis(10)).await;
        let h = me.borrow_mut().take().unwrap();
        assert!(h.is_finished());
        h.await.unwrap_err()
    });
    assert!(err.is_cancelled(), "{err}");
    assert_eq!(dropped.get(), 1);
    assert_eq!(lp.metrics().tasks, 0);
}

#[test]
fn many_short_tasks_in_turn_leave_nothing_behind() {
    let lp = Loop::new().unwrap();
    let sum = lp.block_on(async {
        let mut sum = 0u64;
        for i in 0..50_000u64 {
            sum += spawn_local(async move { i }).await.unwrap();
            if i % 3 == 0 {
                spawn_local(async move { i }).detach();
            }
        }
        sum
    });
    assert_eq!(sum, (0..50_000u64).sum::<u64>());
    lp.run(RunMode::Default);
    assert_eq!(lp.metrics().tasks, 0);
    assert!(!lp.is_alive());
}
