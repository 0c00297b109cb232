//! Timers: determinism under an injected clock, intervals, clearing, unref
//! and the alive rule.

mod util;

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use util::Log;
use waiter_rt::{set_interval, set_timeout, Loop, ManualClock, RunMode};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn manual() -> (ManualClock, Loop) {
    let clock = ManualClock::new();
    let lp = Loop::builder().clock(clock.clone()).build().unwrap();
    (clock, lp)
}

#[test]
fn timers_fire_exactly_when_the_injected_clock_reaches_them() {
    let (clock, lp) = manual();
    let log = Log::default();
    let l = log.clone();
    lp.run_main(
        move || {
            set_timeout(ms(30), l.cb("30a"));
            set_timeout(ms(10), l.cb("10"));
            set_timeout(ms(30), l.cb("30b"));
            set_timeout(ms(20), l.cb("20"));
        },
        RunMode::NoWait,
    );
    let mut seen = vec![];
    for step in 1..=40 {
        clock.advance(ms(1));
        lp.run(RunMode::NoWait);
        for e in log.take() {
            seen.push((step, e));
        }
    }
    let want: Vec<(u64, String)> = vec![
        (10, "10".into()),
        (20, "20".into()),
        (30, "30a".into()),
        (30, "30b".into()),
    ];
    assert_eq!(seen, want);
    assert!(!lp.is_alive());
}

#[test]
fn a_slow_timer_does_not_delay_the_next_one() {
    // The second timer is due 300 ms in; the first runs from 100 to 250 ms.
    // The wait after it is measured from when it ended, not from when the
    // iteration began, which would make it fire at 450 ms (Node fires it
    // at about 300).
    let fired = Rc::new(Cell::new(None));
    let f = fired.clone();
    waiter_rt::run(async move {
        let start = std::time::Instant::now();
        let _a = set_timeout(ms(100), move || while start.elapsed() < ms(250) {});
        let _b = set_timeout(ms(300), move || f.set(Some(start.elapsed())));
        waiter_rt::sleep(ms(500)).await;
    });
    let at = fired.get().expect("the second timer fired");
    assert!(at >= ms(300) && at < ms(400), "{at:?}");
}

#[test]
fn an_interval_is_rearmed_from_when_its_run_started() {
    // Each run busies the loop for 30 ms of its 50 ms period: the runs
    // stay 50 ms apart, as in Node, not 80.
    let runs = Rc::new(std::cell::RefCell::new(Vec::new()));
    let r = runs.clone();
    waiter_rt::run(async move {
        let start = std::time::Instant::now();
        let t = set_interval(ms(50), move || {
            r.borrow_mut().push(start.elapsed());
            let begun = std::time::Instant::now();
            while begun.elapsed() < ms(30) {}
        });
        waiter_rt::sleep(ms(420)).await;
        drop(t);
    });
    let runs = runs.borrow();
    assert!(runs.len() >= 5, "{runs:?}");
    // Run five is due at 250 ms (370 if each run were 80 ms after the last).
    assert!(runs[4] < ms(330), "five runs 50 ms apart, not 80: {runs:?}");
}

#[test]
fn interval_repeats_until_cleared_from_inside() {
    let (clock, lp) = manual();
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    lp.run_main(
        move || {
            let timer: Rc<Cell<Option<waiter_rt::Timer>>> = Rc::default();
            let t2 = timer.clone();
            let t = set_interval(ms(10), move || {
                c.set(c.get() + 1);
                if c.get() == 3 {
                    t2.take().unwrap().clear();
                }
            });
            timer.set(Some(t));
        },
        RunMode::NoWait,
    );
    for _ in 0..10 {
        clock.advance(ms(10));
        lp.run(RunMode::NoWait);
    }
    assert_eq!(count.get(), 3);
    assert!(!lp.is_alive(), "a cleared interval must release the loop");
}

#[test]
fn clearing_a_due_timer_from_an_earlier_callback_of_the_batch_prevents_it() {
    let (clock, lp) = manual();
    let log = Log::default();
    let l = log.clone();
    lp.run_main(
        move || {
            let later: Rc<Cell<Option<waiter_rt::Timer>>> = Rc::default();
            let lt = later.clone();
            let l1 = l.clone();
            set_timeout(ms(5), move || {
                l1.push("first");
                lt.take().unwrap().clear();
            });
            later.set(Some(set_timeout(ms(5), l.cb("second"))));
        },
        RunMode::NoWait,
    );
    clock.advance(ms(5));
    lp.run(RunMode::NoWait);
    assert_eq!(log.take(), ["first"]);
}

#[test]
fn unref_timer_does_not_keep_the_loop_alive() {
    let lp = Loop::new().unwrap();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    let start = std::time::Instant::now();
    let alive = lp.run_main(
        move || {
            set_timeout(Duration::from_secs(30), move || f.set(true)).unref();
        },
        RunMode::Default,
    );
    assert!(!alive);
    assert!(!fired.get());
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn unref_interval_fires_while_other_work_keeps_the_loop_alive() {
    let lp = Loop::new().unwrap();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    lp.run_main(
        move || {
            set_interval(ms(2), move || t.set(t.get() + 1)).unref();
            set_timeout(ms(40), || {});
        },
        RunMode::Default,
    );
    assert!(ticks.get() >= 5, "only {} ticks", ticks.get());
}

#[test]
fn run_returns_when_the_last_timer_fires_like_a_node_script() {
    let lp = Loop::new().unwrap();
    let log = Log::default();
    let l = log.clone();
    let start = std::time::Instant::now();
    lp.run_main(
        move || {
            let l1 = l.clone();
            set_timeout(ms(20), move || {
                l1.push("a");
                set_timeout(ms(20), l1.cb("b"));
            });
        },
        RunMode::Default,
    );
    assert_eq!(log.take(), ["a", "b"]);
    let e = start.elapsed();
    assert!(e >= ms(40), "returned after {e:?}");
    assert!(e < Duration::from_secs(2), "returned after {e:?}");
}

#[test]
fn sleep_never_ends_early_and_timeout_cancels_the_future() {
    waiter_rt::run(async {
        let start = std::time::Instant::now();
        waiter_rt::sleep(ms(15)).await;
        assert!(start.elapsed() >= ms(15));

        let r = waiter_rt::timeout(ms(10), waiter_rt::sleep(Duration::from_secs(10))).await;
        assert_eq!(r, Err(waiter_rt::time::Elapsed));
        let r = waiter_rt::timeout(ms(100), async { 7 }).await;
        assert_eq!(r, Ok(7));
    });
}

#[test]
fn dropped_sleep_releases_its_timer() {
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        let mut s = waiter_rt::sleep(Duration::from_secs(60));
        // Poll once so it claims a timer.
        std::future::poll_fn(|cx| {
            assert!(std::pin::Pin::new(&mut s).poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        assert_eq!(lp.metrics().timers, 1);
        assert!(lp.is_alive());
        drop(s);
    });
    assert_eq!(lp.metrics().timers, 0);
    assert!(!lp.is_alive());
}

#[test]
fn stop_makes_run_return_after_the_current_iteration() {
    let lp = Rc::new(Loop::new().unwrap());
    let l2 = lp.clone();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    lp.run_main(
        move || {
            set_interval(ms(1), move || {
                t.set(t.get() + 1);
                if t.get() == 3 {
                    l2.stop();
                }
            });
        },
        RunMode::Default,
    );
    assert_eq!(ticks.get(), 3);
    assert!(lp.is_alive(), "the interval is still there");
}

#[test]
fn timers_set_after_a_long_poll_count_from_the_end_of_the_wait() {
    // The loop blocks ~150 ms in the poll phase waiting for the pool; a
    // timer set by the completion must still wait its full delay.
    let lp = Loop::new().unwrap();
    let waited = Rc::new(Cell::new(Duration::ZERO));
    let w = waited.clone();
    lp.run_main(
        move || {
            waiter_rt::pool::submit(
                || std::thread::sleep(ms(150)),
                move |_| {
                    let set_at = std::time::Instant::now();
                    set_timeout(ms(100), move || w.set(set_at.elapsed()));
                },
            );
        },
        RunMode::Default,
    );
    assert!(waited.get() >= ms(99), "fired after {:?}", waited.get());
}
