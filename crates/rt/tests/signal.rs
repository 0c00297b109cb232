//! Signals sent to this very process with `kill(1)`.
//!
//! Signals are process-wide and the test harness runs tests on parallel
//! threads, so everything here is one test, in sequence. A signal is only
//! ever sent while a listener for it is alive: the listener's handler is
//! what replaces the default action (for SIGHUP, SIGINT and SIGTERM: exit).

use std::cell::Cell;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use waiter_rt::signal::{signal, stop_signals, Signal, SIGHUP, SIGINT, SIGTERM};
use waiter_rt::{spawn_local, timeout, Loop, RunMode};

/// Sends `sig` (such as `"-HUP"`) to this process.
fn kill_self(sig: &str) {
    let st = Command::new("kill")
        .args([sig, &std::process::id().to_string()])
        .status()
        .expect("cannot run kill");
    assert!(st.success(), "kill {sig} failed: {st}");
}

/// Waits for the next delivery, failing the test after a while.
async fn expect_delivery(s: &mut Signal, what: &str) {
    timeout(Duration::from_secs(5), s.recv())
        .await
        .unwrap_or_else(|_| panic!("{what}: no delivery within 5 s"));
}

#[test]
fn signals_reach_their_listeners_which_keep_the_loop_alive_only_when_refed() {
    // A delivery completes `recv`, for every listener of the signal.
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        let mut a = signal(SIGHUP).unwrap();
        let mut b = signal(SIGHUP).unwrap();
        kill_self("-HUP");
        expect_delivery(&mut a, "first listener").await;
        expect_delivery(&mut b, "second listener").await;

        // Nothing more is pending once a delivery was received.
        assert!(timeout(Duration::from_millis(50), a.recv()).await.is_err());

        // A delivery that arrives while nobody awaits is kept: send it,
        // hold the loop thread so the loop cannot see it arrive, then ask.
        kill_self("-HUP");
        std::thread::sleep(Duration::from_millis(100));
        expect_delivery(&mut a, "delivery before recv").await;
        expect_delivery(&mut b, "delivery before recv").await;

        // Several deliveries before `recv` may be coalesced, never lost.
        for _ in 0..3 {
            kill_self("-HUP");
        }
        std::thread::sleep(Duration::from_millis(100));
        expect_delivery(&mut a, "coalesced deliveries").await;
        drop(b);
    });

    // A listener alone does not keep the loop alive (as in Node).
    let lp = Loop::new().unwrap();
    let start = Instant::now();
    let alive = lp.run_main(
        || {
            let mut s = signal(SIGHUP).unwrap();
            spawn_local(async move { s.recv().await }).detach();
        },
        RunMode::Default,
    );
    assert!(!alive);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    drop(lp);

    // With `ref_`, it does: run returns only after the delivery. A backstop
    // timer (unreferenced, so it cannot keep the loop alive itself) stops
    // the loop if the delivery never comes.
    let lp = Rc::new(Loop::new().unwrap());
    let got = Rc::new(Cell::new(false));
    let (g, l) = (got.clone(), lp.clone());
    let start = Instant::now();
    let alive = lp.run_main(
        move || {
            let mut s = signal(SIGHUP).unwrap();
            s.ref_();
            spawn_local(async move {
                s.recv().await;
                g.set(true);
            })
            .detach();
            waiter_rt::set_timeout(Duration::from_millis(30), || kill_self("-HUP"));
            waiter_rt::set_timeout(Duration::from_secs(5), move || l.stop()).unref();
        },
        RunMode::Default,
    );
    assert!(got.get(), "run returned without the delivery");
    assert!(!alive);
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    // `unref` undoes `ref_`.
    let lp = Loop::new().unwrap();
    let alive = lp.run_main(
        || {
            let mut s = signal(SIGHUP).unwrap();
            s.ref_();
            s.unref();
            spawn_local(async move { s.recv().await }).detach();
        },
        RunMode::Default,
    );
    assert!(!alive);
    drop(lp);

    // SIGTERM and SIGINT, which would end the process by default, only
    // reach the listener while it exists.
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        let mut term = signal(SIGTERM).unwrap();
        let mut int = signal(SIGINT).unwrap();
        kill_self("-TERM");
        expect_delivery(&mut term, "SIGTERM").await;
        kill_self("-INT");
        expect_delivery(&mut int, "SIGINT").await;
        // Each listener hears only its own signal.
        assert!(timeout(Duration::from_millis(50), term.recv())
            .await
            .is_err());

        // `stop_signals` hears either, and says which.
        let mut stop = stop_signals().unwrap();
        for (sig, want) in [("-TERM", SIGTERM), ("-INT", SIGINT)] {
            kill_self(sig);
            let got = timeout(Duration::from_secs(5), stop.recv())
                .await
                .unwrap_or_else(|_| panic!("{sig}: no delivery within 5 s"));
            assert_eq!(got, want, "{sig}");
        }
        assert!(timeout(Duration::from_millis(50), stop.recv())
            .await
            .is_err());
    });
}

#[test]
fn signals_that_cannot_be_caught_are_refused_with_an_error() {
    // No signal is sent here, so this cannot disturb the test above.
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        for signo in [
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            libc::SIGILL,
            libc::SIGFPE,
        ] {
            let e = signal(signo).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{signo}: {e}");
        }
        for signo in [0, -1, 4096] {
            assert!(signal(signo).is_err(), "signal {signo} was accepted");
        }
    });
    assert_eq!(
        lp.metrics().io_sources,
        0,
        "a refused listener left its socket"
    );
}
