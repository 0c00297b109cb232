//! Diagnostics: the stall detector, the loop's counters during a real TCP
//! exchange, and the event-loop delay monitor.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use waiter_rt::diag::{set_stall_label, CallbackKind, StallReport, StallSource};
use waiter_rt::net::TcpListener;
use waiter_rt::{monitor_event_loop_delay, spawn_local, spawn_named, Loop, RunMode};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A loop with the given stall threshold whose reports are collected.
fn watched(threshold: Duration) -> (Loop, Rc<RefCell<Vec<StallReport>>>) {
    let lp = Loop::builder().stall_threshold(threshold).build().unwrap();
    let reports: Rc<RefCell<Vec<StallReport>>> = Rc::default();
    let r = reports.clone();
    lp.on_stall(move |rep| r.borrow_mut().push(rep.clone()));
    (lp, reports)
}

#[test]
fn a_task_that_holds_the_loop_is_reported_by_name_and_spawn_location() {
    let (lp, reports) = watched(ms(20));
    lp.block_on(async {
        spawn_named("busy", async {
            waiter_rt::sleep(ms(1)).await;
            std::thread::sleep(ms(50));
        })
        .await
        .unwrap();
    });
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let r = &reports[0];
    match &r.source {
        StallSource::Task { name, location } => {
            assert_eq!(name.as_deref(), Some("busy"));
            assert!(location.file().ends_with("diag.rs"), "{location}");
        }
        other => panic!("wrong source: {other:?}"),
    }
    assert!(r.duration >= ms(50), "{:?}", r.duration);
    assert_eq!(r.label, None);
    let text = r.to_string();
    assert!(
        text.contains("task 'busy'") && text.contains("held the loop"),
        "{text}"
    );
    assert_eq!(lp.metrics().stalls, 1);
}

#[test]
fn a_blocking_timer_callback_is_reported_as_a_timer() {
    let (lp, reports) = watched(ms(20));
    lp.run_main(
        || {
            waiter_rt::set_timeout(ms(1), || std::thread::sleep(ms(50)));
        },
        RunMode::Default,
    );
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        matches!(
            reports[0].source,
            StallSource::Callback(CallbackKind::Timer)
        ),
        "{:?}",
        reports[0].source
    );
    assert!(reports[0].duration >= ms(50));
    assert!(reports[0].to_string().contains("Timer callback"));
}

#[test]
fn the_stall_label_names_what_the_loop_was_doing() {
    let (lp, reports) = watched(ms(20));
    lp.block_on(async {
        spawn_local(async {
            let _label = set_stall_label("GET /x");
            std::thread::sleep(ms(40));
        })
        .await
        .unwrap();
        // The guard is gone: the next stall carries no label.
        spawn_named("unlabelled", async { std::thread::sleep(ms(40)) })
            .await
            .unwrap();
        // A label set before an await covers the polls after it.
        spawn_local(async {
            let _label = set_stall_label("POST /y");
            waiter_rt::sleep(ms(1)).await;
            std::thread::sleep(ms(40));
            waiter_rt::sleep(ms(1)).await;
        })
        .await
        .unwrap();
    });
    let reports = reports.borrow();
    assert_eq!(reports.len(), 3, "{reports:?}");
    // The guard dropped before the poll returned, yet the report has it.
    assert_eq!(reports[0].label.as_deref(), Some("GET /x"));
    assert!(
        reports[0].to_string().contains("[GET /x]"),
        "{}",
        reports[0]
    );
    assert_eq!(reports[1].label, None);
    assert_eq!(reports[2].label.as_deref(), Some("POST /y"));
}

#[test]
fn fast_work_is_never_reported() {
    // The threshold leaves room for a busy machine preempting the thread.
    let (lp, reports) = watched(ms(50));
    lp.block_on(async {
        for i in 0..200 {
            waiter_rt::set_timeout(ms(i % 5), || {});
            waiter_rt::set_immediate(|| {});
            spawn_local(async {
                waiter_rt::yield_now().await;
            })
            .detach();
        }
        waiter_rt::sleep(ms(20)).await;
    });
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
    let m = lp.metrics();
    assert_eq!(m.stalls, 0);
    assert!(m.callbacks >= 400, "{} callbacks", m.callbacks);
    assert!(m.task_polls >= 400, "{} task polls", m.task_polls);
}

#[test]
fn the_threshold_can_change_while_the_loop_runs() {
    let (lp, reports) = watched(ms(1000));
    lp.run_main(|| std::thread::sleep(ms(30)), RunMode::Default);
    assert!(reports.borrow().is_empty());
    lp.set_stall_threshold(ms(20));
    lp.run_main(|| std::thread::sleep(ms(30)), RunMode::Default);
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1);
    assert!(matches!(
        reports[0].source,
        StallSource::Callback(CallbackKind::Main)
    ));
}

#[test]
fn counters_grow_sensibly_during_a_tcp_exchange() {
    const ROUNDS: usize = 5;
    let lp = Loop::new().unwrap();
    let m0 = lp.metrics();
    assert_eq!(
        (
            m0.iterations,
            m0.polls,
            m0.events,
            m0.callbacks,
            m0.task_polls
        ),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(m0.idle_time, Duration::ZERO);
    let client: Rc<RefCell<Option<std::thread::JoinHandle<()>>>> = Rc::default();
    let c = client.clone();
    let alive = lp.run_main(
        move || {
            let l = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
            let addr = l.local_addr().unwrap();
            // A peer on another thread that pauses before each message, so
            // the loop waits in the poller for each one.
            *c.borrow_mut() = Some(std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                let mut buf = [0u8; 4];
                for _ in 0..ROUNDS {
                    std::thread::sleep(ms(10));
                    s.write_all(b"ping").unwrap();
                    s.read_exact(&mut buf).unwrap();
                    assert_eq!(&buf, b"ping");
                }
            }));
            spawn_local(async move {
                let (s, _) = l.accept().await.unwrap();
                drop(l);
                let mut buf = [0u8; 64];
                loop {
                    let n = s.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    s.write_all(&buf[..n]).await.unwrap();
                }
            })
            .detach();
            waiter_rt::set_timeout(ms(1), || {});
        },
        RunMode::Default,
    );
    assert!(!alive);
    client.borrow_mut().take().unwrap().join().unwrap();
    let m = lp.metrics();
    // One wakeup for the connection, at least one per message, one for EOF.
    let wakeups = ROUNDS as u64 + 2;
    assert!(m.events >= wakeups, "{m:#?}");
    assert!(m.polls >= wakeups, "{m:#?}");
    assert!(m.iterations >= wakeups, "{m:#?}");
    assert!(m.polls >= m.iterations, "a poll per iteration: {m:#?}");
    assert!(m.task_polls >= wakeups, "{m:#?}");
    // The main script and the timer.
    assert!(m.callbacks >= 2, "{m:#?}");
    // The loop slept in the poller while the peer paused.
    assert!(m.idle_time >= ms(ROUNDS as u64 * 10 / 2), "{m:#?}");
    assert!(m.phase_times.poll >= m.idle_time, "{m:#?}");
    // Everything was released.
    assert_eq!(
        (m.tasks, m.io_sources, m.refs, m.timers),
        (0, 0, 0, 0),
        "{m:#?}"
    );
    assert_eq!(m.stalls, 0);
}

#[test]
fn the_delay_monitor_sees_a_blocking_callback() {
    let lp = Loop::new().unwrap();
    let summary = lp.block_on(async {
        let mon = monitor_event_loop_delay(ms(10));
        waiter_rt::set_timeout(ms(30), || std::thread::sleep(ms(100)));
        waiter_rt::sleep(ms(250)).await;
        let s = mon.summary();
        assert_eq!(lp.metrics().delay, Some(s));
        drop(mon);
        assert_eq!(lp.metrics().delay, None, "dropping the monitor clears it");
        s
    });
    assert!(summary.count >= 5, "{summary:?}");
    assert!(summary.max >= 80_000_000, "{summary:?}");
    assert!(summary.p99 >= 80_000_000, "{summary:?}");
    // Most samples were on time.
    assert!(summary.p50 < 50_000_000, "{summary:?}");
    assert!(summary.min <= summary.p50 && summary.p50 <= summary.max);
}

#[test]
fn the_delay_monitor_does_not_keep_the_loop_alive_and_can_be_reset() {
    let lp = Loop::new().unwrap();
    let mon = lp.block_on(async {
        let mon = monitor_event_loop_delay(ms(5));
        waiter_rt::sleep(ms(40)).await;
        assert!(mon.summary().count >= 3, "{:?}", mon.summary());
        mon.reset();
        assert_eq!(mon.summary().count, 0);
        mon
    });
    assert!(
        !lp.is_alive(),
        "the monitor's timer must not keep the loop alive"
    );
    assert!(lp.metrics().delay.is_some());
    // Dropped outside the loop, the monitor still stops and clears.
    drop(mon);
    assert_eq!(lp.metrics().delay, None);
    assert_eq!(lp.metrics().timers, 0);
}

#[test]
fn dropping_an_older_monitor_leaves_the_newer_one_in_the_metrics() {
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        let old = monitor_event_loop_delay(ms(5));
        let new = monitor_event_loop_delay(ms(5));
        waiter_rt::sleep(ms(30)).await;
        drop(old);
        assert_eq!(lp.metrics().delay, Some(new.summary()));
        drop(new);
        assert_eq!(lp.metrics().delay, None);
    });
}

#[test]
fn a_blocking_main_future_is_reported_as_block_on() {
    let (lp, reports) = watched(ms(20));
    lp.block_on(async {
        std::thread::sleep(ms(50));
        waiter_rt::yield_now().await;
    });
    let r = reports.borrow();
    assert_eq!(r.len(), 1, "{r:?}");
    match &r[0].source {
        StallSource::Task { name, location } => {
            assert_eq!(name.as_deref(), Some("block_on"));
            assert!(location.file().ends_with("diag.rs"), "{location}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_suspended_task_keeps_its_label_to_itself() {
    let (lp, reports) = watched(ms(20));
    lp.block_on(async {
        let labelled = spawn_named("labelled", async {
            let _g = set_stall_label("GET /mine");
            waiter_rt::sleep(ms(30)).await;
            std::thread::sleep(ms(40));
        });
        let other = spawn_named("other", async {
            waiter_rt::sleep(ms(5)).await;
            std::thread::sleep(ms(40));
        });
        other.await.unwrap();
        labelled.await.unwrap();
    });
    let r = reports.borrow();
    let label_of = |task: &str| {
        r.iter()
            .find(|rep| matches!(&rep.source, StallSource::Task { name: Some(n), .. } if n == task))
            .map(|rep| rep.label.clone())
            .unwrap_or_else(|| panic!("no report for {task}: {r:?}"))
    };
    assert_eq!(label_of("other"), None, "another task's label leaked");
    assert_eq!(label_of("labelled").as_deref(), Some("GET /mine"));
}

#[test]
fn code_on_the_loop_reads_its_own_metrics() {
    let lp = Loop::new().unwrap();
    let inside = lp.block_on(async {
        waiter_rt::sleep(ms(2)).await;
        waiter_rt::metrics()
    });
    assert!(inside.iterations >= 1, "{inside:?}");
    assert!(lp.metrics().iterations >= inside.iterations);
}

#[test]
fn time_the_thread_spent_away_from_the_loop_is_no_stall() {
    // The thread blocks for well over the threshold between runs, outside
    // the loop: none of the loop's entry points may count that time
    // towards the first thing it runs.
    let (lp, reports) = watched(ms(50));
    std::thread::sleep(ms(150));
    lp.block_on(async {});
    std::thread::sleep(ms(150));
    lp.run_main(|| {}, RunMode::Default);
    std::thread::sleep(ms(150));
    lp.run(RunMode::NoWait);
    std::thread::sleep(ms(150));
    lp.block_on(async {
        spawn_local(async {}).detach();
    });
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
    assert_eq!(lp.metrics().stalls, 0);
    // And a main future that does hold the loop is still reported.
    lp.block_on(async { std::thread::sleep(ms(100)) });
    assert_eq!(reports.borrow().len(), 1, "{:?}", reports.borrow());
}

#[test]
fn a_task_cancelled_while_it_runs_is_dropped_in_the_loops_time() {
    // A task aborts itself: the loop drops its future (and a slow
    // destructor in it) after the poll. That time is neither the task's
    // poll, nor the next callback's, nor a wait for I/O.
    struct SlowDrop;
    impl Drop for SlowDrop {
        fn drop(&mut self) {
            std::thread::sleep(ms(150));
        }
    }
    let (lp, reports) = watched(ms(50));
    lp.block_on(async {
        let handle: Rc<RefCell<Option<waiter_rt::JoinHandle<()>>>> = Rc::default();
        let h = handle.clone();
        let task = spawn_local(async move {
            let _guard = SlowDrop;
            waiter_rt::yield_now().await;
            if let Some(me) = h.borrow().as_ref() {
                me.abort();
            }
            std::future::pending::<()>().await;
        });
        *handle.borrow_mut() = Some(task);
        waiter_rt::sleep(ms(5)).await;
        waiter_rt::set_immediate(|| {});
        waiter_rt::sleep(ms(5)).await;
        let task = handle.borrow_mut().take().expect("set above");
        assert!(task.is_finished());
    });
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
    // Nor is it time spent waiting for I/O.
    let idle = lp.metrics().idle_time;
    assert!(idle < ms(100), "idle {idle:?}");
}

#[test]
fn phase_times_cover_the_main_futures_work() {
    // A main future that spins 2 ms each time it is polled, 20 times,
    // waking itself: its work lands in some phase, whatever the phases
    // around it ran.
    let lp = Loop::new().unwrap();
    let started = std::time::Instant::now();
    let mut left = 20;
    lp.block_on(std::future::poll_fn(|cx| {
        let t = std::time::Instant::now();
        while t.elapsed() < ms(2) {}
        left -= 1;
        if left == 0 {
            return std::task::Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }));
    let wall = started.elapsed();
    let p = lp.metrics().phase_times;
    let counted = p.timers + p.pending + p.poll + p.check + p.close;
    // The first poll runs before any iteration; the other 19 (38 ms) run
    // inside iterations.
    assert!(counted >= ms(34), "{counted:?} of {wall:?}: {p:#?}");
}
