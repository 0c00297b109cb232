//! The classic Node orderings of timers, immediates, next-ticks and
//! microtasks. Where `node` is installed, each program also runs on Node and
//! the two orders must agree.

mod util;

use std::time::Duration;

use util::{node_lines, Log};
use waiter_rt::{
    next_tick, pool, queue_microtask, set_immediate, set_timeout, Loop, ManualClock, RunMode,
};

fn run_main(f: impl FnOnce()) {
    let lp = Loop::new().unwrap();
    lp.run_main(f, RunMode::Default);
}

fn assert_same_as_node(ours: &[String], js: &str) {
    if let Some(node) = node_lines(js) {
        assert_eq!(ours, node.as_slice(), "waiter and node disagree");
    }
}

#[test]
fn inside_an_io_callback_immediate_beats_timeout() {
    let log = Log::default();
    let l = log.clone();
    run_main(move || {
        pool::submit(
            || std::fs::read("/proc/self/status").map(|v| v.len()),
            move |_| {
                set_timeout(Duration::ZERO, l.cb("timeout"));
                set_immediate(l.cb("immediate"));
                next_tick(l.cb("tick"));
                queue_microtask(l.cb("micro"));
            },
        );
    });
    let got = log.take();
    assert_eq!(got, ["tick", "micro", "immediate", "timeout"]);
    assert_same_as_node(
        &got,
        r#"require('fs').readFile(__filename, () => {
            setTimeout(() => log('timeout'), 0);
            setImmediate(() => log('immediate'));
            process.nextTick(() => log('tick'));
            Promise.resolve().then(() => log('micro'));
        });"#,
    );
}

#[test]
fn main_script_ticks_and_microtasks_run_before_the_loop() {
    let log = Log::default();
    let l = log.clone();
    run_main(move || {
        set_timeout(Duration::ZERO, l.cb("timeout"));
        set_immediate(l.cb("immediate"));
        queue_microtask(l.cb("micro"));
        next_tick(l.cb("tick"));
        l.push("main");
    });
    let got = log.take();
    assert_eq!(got[..3], ["main", "tick", "micro"]);
    // As in Node, timeout(0) vs immediate from the main script depends on
    // whether 1 ms passed before the loop started: both orders are valid.
    let mut rest = got[3..].to_vec();
    rest.sort();
    assert_eq!(rest, ["immediate", "timeout"]);
}

#[test]
fn next_ticks_queued_by_microtasks_wait_for_the_microtask_queue() {
    let log = Log::default();
    let l = log.clone();
    run_main(move || {
        let l1 = l.clone();
        queue_microtask(move || {
            l1.push("m1");
            next_tick(l1.cb("t-from-m1"));
        });
        queue_microtask(l.cb("m2"));
        let l2 = l.clone();
        next_tick(move || {
            l2.push("t1");
            queue_microtask(l2.cb("m-from-t1"));
        });
    });
    let got = log.take();
    assert_eq!(got, ["t1", "m1", "m2", "m-from-t1", "t-from-m1"]);
    assert_same_as_node(
        &got,
        r#"Promise.resolve().then(() => { log('m1'); process.nextTick(() => log('t-from-m1')); });
        Promise.resolve().then(() => log('m2'));
        process.nextTick(() => { log('t1'); Promise.resolve().then(() => log('m-from-t1')); });"#,
    );
}

#[test]
fn ticks_and_microtasks_drain_between_immediates() {
    let log = Log::default();
    let l = log.clone();
    run_main(move || {
        let l1 = l.clone();
        set_immediate(move || {
            l1.push("imm1");
            next_tick(l1.cb("tick-in-imm1"));
            queue_microtask(l1.cb("micro-in-imm1"));
        });
        set_immediate(l.cb("imm2"));
    });
    let got = log.take();
    assert_eq!(got, ["imm1", "tick-in-imm1", "micro-in-imm1", "imm2"]);
    assert_same_as_node(
        &got,
        r#"setImmediate(() => { log('imm1'); process.nextTick(() => log('tick-in-imm1'));
            Promise.resolve().then(() => log('micro-in-imm1')); });
        setImmediate(() => log('imm2'));"#,
    );
}

#[test]
fn timers_created_in_the_timers_phase_wait_for_the_next_iteration() {
    let log = Log::default();
    let l = log.clone();
    run_main(move || {
        let l1 = l.clone();
        set_timeout(Duration::ZERO, move || {
            l1.push("t1");
            set_timeout(Duration::ZERO, l1.cb("t3"));
            set_immediate(l1.cb("i1"));
        });
        set_timeout(Duration::ZERO, l.cb("t2"));
    });
    // Not compared with Node: Node reads the clock at each setTimeout, so t2
    // may start 1 ms after t1 and miss t1's batch. waiter schedules both from
    // the loop's cached time, so they always fire in the same phase.
    assert_eq!(log.take(), ["t1", "t2", "i1", "t3"]);
}

#[test]
fn immediates_queued_in_the_check_phase_run_next_iteration() {
    let log = Log::default();
    let l = log.clone();
    run_main(move || {
        let l1 = l.clone();
        set_immediate(move || {
            l1.push("i1");
            set_immediate(l1.cb("i3"));
        });
        let l2 = l.clone();
        set_immediate(move || {
            l2.push("i2");
            // A 1 ms timer is not due before the next check phase's turn
            // comes: the next iteration polls with a zero timeout.
            set_timeout(Duration::from_millis(50), l2.cb("t"));
        });
    });
    assert_eq!(log.take(), ["i1", "i2", "i3", "t"]);
}

#[test]
fn tasks_woken_by_a_timer_run_before_the_next_timer() {
    let clock = ManualClock::new();
    let lp = Loop::builder().clock(clock.clone()).build().unwrap();
    let log = Log::default();
    let l = log.clone();
    lp.run_main(
        move || {
            let l1 = l.clone();
            waiter_rt::spawn_local(async move {
                waiter_rt::sleep(Duration::from_millis(5)).await;
                l1.push("task after sleep");
            })
            .detach();
            // Queued after the task's first poll, with the same deadline: it
            // fires after the sleep, and after the task the sleep woke.
            let l2 = l.clone();
            queue_microtask(move || {
                set_timeout(Duration::from_millis(5), l2.cb("timer"));
            });
        },
        RunMode::NoWait,
    );
    assert!(log.take().is_empty());
    clock.advance(Duration::from_millis(5));
    lp.run(RunMode::NoWait);
    assert_eq!(log.take(), ["task after sleep", "timer"]);
}
