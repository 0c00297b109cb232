//! One million timers, after libuv's `benchmark-million-timers`: create
//! 1,000,000 timers with pseudo-random deadlines in 1..=N ms and let them all
//! fire; then, separately, create 1,000,000 and cancel them all. Prints the
//! wall time and CPU time of each phase and the process's peak RSS, for waiter
//! and for tokio's `current_thread` runtime.
//!
//! ```text
//! cargo run --release -p waiter-rt --example million_timers [-- VARIANT] [--max-ms N] [--count N]
//! ```
//!
//! Peak RSS (`ru_maxrss`) is per process, so without a variant the example
//! re-executes itself once per variant and prints a comparison table; with a
//! variant it runs just that one and prints one machine-readable line
//! (`RESULT key=value ...`). The variants:
//!
//! - `waiter`: callback timers, `waiter_rt::set_timeout` (cancel: `Timer::clear`),
//!   which is what libuv's benchmark measures (`uv_timer_start`/`uv_timer_stop`);
//! - `waiter-sleep`: `waiter_rt::sleep` futures, each awaited in a task spawned
//!   with `spawn_local` (cancel: poll a boxed `Sleep` once, then drop it);
//! - `tokio`: the same with `tokio::time::sleep` and `tokio::spawn` on a
//!   `current_thread` runtime.
//!
//! Why tasks for tokio: tokio has no callback timers. "Run this after `d`" is
//! written in tokio as `tokio::spawn(async move { sleep(d).await; f() })`, so
//! that is the idiomatic equivalent of `set_timeout`, and it goes through
//! tokio's own scheduler and timer wheel only. A `FuturesUnordered` (or a
//! `JoinSet`) would add a third-party or extra bookkeeping structure per timer
//! that neither `set_timeout` nor a spawned task has, and would measure that
//! structure as much as the timers. `waiter-sleep` is written exactly like the
//! tokio variant, so `waiter-sleep` vs `tokio` is the like-for-like pair, and
//! `waiter` vs `tokio` shows what the callback API saves.
//!
//! Every variant's callback captures its index and adds it to a checksum, so
//! each timer carries real state (a boxed closure, a task with a captured
//! value) and the run verifies that every timer fired exactly once.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// Timers per phase unless `--count` says otherwise.
const DEFAULT_COUNT: u64 = 1_000_000;
/// Deadlines are spread over 1..=this many ms (libuv's benchmark: 1..=1001).
const DEFAULT_MAX_MS: u64 = 1000;

const VARIANTS: [&str; 3] = ["waiter", "waiter-sleep", "tokio"];

// Shared by all variants. `tokio::spawn` needs `Send` futures, so the
// bookkeeping lives in statics rather than `Rc`s; every variant uses the same
// code, so it costs them all the same (an uncontended relaxed add).
static FIRED: AtomicU64 = AtomicU64::new(0);
static CHECKSUM: AtomicU64 = AtomicU64::new(0);
static TARGET: AtomicU64 = AtomicU64::new(u64::MAX);
static MAIN_WAKER: Mutex<Option<Waker>> = Mutex::new(None);

/// What a timer does when it fires: count, add its index to the checksum, and
/// wake the main future once every timer has fired.
fn fire(i: u64) {
    CHECKSUM.fetch_add(i, Ordering::Relaxed);
    if FIRED.fetch_add(1, Ordering::Relaxed) + 1 == TARGET.load(Ordering::Relaxed) {
        if let Some(w) = MAIN_WAKER.lock().unwrap().take() {
            w.wake();
        }
    }
}

fn reset(count: u64) {
    FIRED.store(0, Ordering::Relaxed);
    CHECKSUM.store(0, Ordering::Relaxed);
    TARGET.store(count, Ordering::Relaxed);
    *MAIN_WAKER.lock().unwrap() = None;
}

/// Completes once every timer has fired.
async fn all_fired() {
    poll_fn(|cx| {
        let mut w = MAIN_WAKER.lock().unwrap();
        if FIRED.load(Ordering::Relaxed) >= TARGET.load(Ordering::Relaxed) {
            return Poll::Ready(());
        }
        *w = Some(cx.waker().clone());
        Poll::Pending
    })
    .await
}

fn check(count: u64) {
    let fired = FIRED.load(Ordering::Relaxed);
    assert_eq!(fired, count, "not every timer fired");
    assert_eq!(
        CHECKSUM.load(Ordering::Relaxed),
        count * (count - 1) / 2,
        "a timer fired twice or not at all"
    );
}

/// The same pseudo-random delays for every variant (xorshift64*).
struct Delays {
    state: u64,
    max_ms: u64,
}

impl Delays {
    fn new(max_ms: u64) -> Delays {
        Delays {
            state: 0x9E37_79B9_7F4A_7C15,
            max_ms,
        }
    }

    fn next(&mut self) -> Duration {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let r = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
        Duration::from_millis(1 + r % self.max_ms)
    }
}

/// One variant's figures.
#[derive(Debug, Default)]
struct Figures {
    /// Creating the timers of the fire phase (for tasks: spawning them).
    create_ms: f64,
    /// Wall time from the first creation to the last callback.
    fire_ms: f64,
    /// CPU time of the create+fire phase (excludes waiting for deadlines).
    fire_cpu_ms: f64,
    /// Wall time to create (and register) the timers of the cancel phase.
    cancel_create_ms: f64,
    /// Wall time to create and cancel them.
    cancel_ms: f64,
    /// Peak RSS of the process, KiB.
    rss_kib: u64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn cpu() -> Duration {
    waiter_rt::sys::cpu_time().expect("getrusage")
}

fn run_waiter_callbacks(count: u64, max_ms: u64) -> Figures {
    let mut f = Figures::default();
    let lp = waiter_rt::Loop::new().expect("loop");

    // Fire: libuv's benchmark, as `node -e` would run it.
    reset(count);
    let mut delays = Delays::new(max_ms);
    let (c0, t0) = (cpu(), Instant::now());
    let mut created = t0;
    lp.run_main(
        || {
            for i in 0..count {
                waiter_rt::set_timeout(delays.next(), move || fire(i));
            }
            created = Instant::now();
        },
        waiter_rt::RunMode::Default,
    );
    let (c1, t1) = (cpu(), Instant::now());
    check(count);
    f.create_ms = ms(created - t0);
    f.fire_ms = ms(t1 - t0);
    f.fire_cpu_ms = ms(c1 - c0);

    // Cancel.
    reset(count);
    let mut delays = Delays::new(max_ms);
    let t0 = Instant::now();
    let mut t_created = t0;
    lp.run_main(
        || {
            let timers: Vec<waiter_rt::Timer> = (0..count)
                .map(|i| waiter_rt::set_timeout(delays.next(), move || fire(i)))
                .collect();
            t_created = Instant::now();
            for t in &timers {
                t.clear();
            }
        },
        waiter_rt::RunMode::Default,
    );
    let t1 = Instant::now();
    assert_eq!(FIRED.load(Ordering::Relaxed), 0, "a cleared timer fired");
    f.cancel_create_ms = ms(t_created - t0);
    f.cancel_ms = ms(t1 - t0);
    drop(lp);
    f
}

/// Polls every sleep once, so each one registers its timer, then drops them
/// all, which cancels them. Returns the time the registration was done.
async fn register_then_drop<S: Future<Output = ()>>(mut sleeps: Vec<Pin<Box<S>>>) -> Instant {
    poll_fn(|cx| {
        for s in sleeps.iter_mut() {
            assert!(s.as_mut().poll(cx).is_pending(), "a sleep ended early");
        }
        Poll::Ready(())
    })
    .await;
    let registered = Instant::now();
    drop(sleeps);
    registered
}

fn run_waiter_sleep(count: u64, max_ms: u64) -> Figures {
    let mut f = Figures::default();
    let lp = waiter_rt::Loop::new().expect("loop");

    reset(count);
    let mut delays = Delays::new(max_ms);
    let (c0, t0) = (cpu(), Instant::now());
    let created = lp.block_on(async {
        for i in 0..count {
            let d = delays.next();
            waiter_rt::spawn_local(async move {
                waiter_rt::sleep(d).await;
                fire(i);
            })
            .detach();
        }
        let created = Instant::now();
        all_fired().await;
        created
    });
    let (c1, t1) = (cpu(), Instant::now());
    check(count);
    f.create_ms = ms(created - t0);
    f.fire_ms = ms(t1 - t0);
    f.fire_cpu_ms = ms(c1 - c0);

    reset(count);
    let mut delays = Delays::new(max_ms);
    let t0 = Instant::now();
    let registered = lp.block_on(async {
        let sleeps: Vec<_> = (0..count)
            .map(|_| Box::pin(waiter_rt::sleep(delays.next())))
            .collect();
        register_then_drop(sleeps).await
    });
    let t1 = Instant::now();
    f.cancel_create_ms = ms(registered - t0);
    f.cancel_ms = ms(t1 - t0);
    drop(lp);
    f
}

fn run_tokio(count: u64, max_ms: u64) -> Figures {
    let mut f = Figures::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    reset(count);
    let mut delays = Delays::new(max_ms);
    let (c0, t0) = (cpu(), Instant::now());
    let created = rt.block_on(async {
        for i in 0..count {
            let d = delays.next();
            // Detached: dropping a tokio JoinHandle does not cancel the task.
            drop(tokio::spawn(async move {
                tokio::time::sleep(d).await;
                fire(i);
            }));
        }
        let created = Instant::now();
        all_fired().await;
        created
    });
    let (c1, t1) = (cpu(), Instant::now());
    check(count);
    f.create_ms = ms(created - t0);
    f.fire_ms = ms(t1 - t0);
    f.fire_cpu_ms = ms(c1 - c0);

    reset(count);
    let mut delays = Delays::new(max_ms);
    let t0 = Instant::now();
    let registered = rt.block_on(async {
        let sleeps: Vec<_> = (0..count)
            .map(|_| Box::pin(tokio::time::sleep(delays.next())))
            .collect();
        // Without this, tokio's cooperative budget makes every poll after the
        // 128th return Pending without registering its timer.
        tokio::task::unconstrained(register_then_drop(sleeps)).await
    });
    let t1 = Instant::now();
    f.cancel_create_ms = ms(registered - t0);
    f.cancel_ms = ms(t1 - t0);
    drop(rt);
    f
}

struct Args {
    variant: Option<String>,
    count: u64,
    max_ms: u64,
}

fn parse_args() -> Args {
    let mut args = Args {
        variant: None,
        count: DEFAULT_COUNT,
        max_ms: DEFAULT_MAX_MS,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match a.as_str() {
            "--count" => args.count = num("--count").max(2),
            "--max-ms" => args.max_ms = num("--max-ms").max(1),
            v if VARIANTS.contains(&v) => args.variant = Some(v.to_string()),
            other => panic!("unknown argument {other:?}; variants: {VARIANTS:?}"),
        }
    }
    args
}

fn run_variant(variant: &str, count: u64, max_ms: u64) {
    let mut f = match variant {
        "waiter" => run_waiter_callbacks(count, max_ms),
        "waiter-sleep" => run_waiter_sleep(count, max_ms),
        "tokio" => run_tokio(count, max_ms),
        _ => unreachable!(),
    };
    f.rss_kib = waiter_rt::sys::peak_rss().expect("getrusage") / 1024;
    println!(
        "RESULT variant={variant} count={count} max_ms={max_ms} create_ms={:.1} fire_ms={:.1} \
         fire_cpu_ms={:.1} cancel_create_ms={:.1} cancel_ms={:.1} rss_kib={}",
        f.create_ms, f.fire_ms, f.fire_cpu_ms, f.cancel_create_ms, f.cancel_ms, f.rss_kib
    );
}

/// Runs one variant in a child process and parses its `RESULT` line.
fn run_child(variant: &str, count: u64, max_ms: u64) -> Vec<(String, f64)> {
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .arg(variant)
        .args([
            "--count",
            &count.to_string(),
            "--max-ms",
            &max_ms.to_string(),
        ])
        .output()
        .expect("cannot run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{variant} failed: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| panic!("{variant} printed no RESULT line:\n{stdout}"));
    line.split_whitespace()
        .skip(1)
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn main() {
    let args = parse_args();
    if let Some(v) = &args.variant {
        run_variant(v, args.count, args.max_ms);
        return;
    }
    println!(
        "{} timers per phase, deadlines pseudo-random in 1..={} ms; one process per variant",
        args.count, args.max_ms
    );
    let results: Vec<Vec<(String, f64)>> = VARIANTS
        .iter()
        .map(|v| run_child(v, args.count, args.max_ms))
        .collect();
    let get = |vi: usize, key: &str| -> f64 {
        results[vi]
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
            .unwrap_or(f64::NAN)
    };
    let figures = [
        ("create (fire phase), ms", "create_ms"),
        ("create+fire wall, ms", "fire_ms"),
        ("create+fire CPU, ms", "fire_cpu_ms"),
        ("create+cancel wall, ms", "cancel_ms"),
        ("peak RSS, MiB", "rss_kib"),
    ];
    println!(
        "\n| {:<24} | {:>10} | {:>12} | {:>10} | {:>12} | {:>18} |",
        "figure", "waiter", "waiter-sleep", "tokio", "waiter/tokio", "waiter-sleep/tokio"
    );
    println!(
        "|{:-<26}|{:->12}|{:->14}|{:->12}|{:->14}|{:->20}|",
        "", "", "", "", "", ""
    );
    let mut machine = Vec::new();
    for (name, key) in figures {
        let scale = if key == "rss_kib" { 1.0 / 1024.0 } else { 1.0 };
        let (w, s, t) = (
            get(0, key) * scale,
            get(1, key) * scale,
            get(2, key) * scale,
        );
        println!(
            "| {name:<24} | {w:>10.1} | {s:>12.1} | {t:>10.1} | {:>12.2} | {:>18.2} |",
            w / t,
            s / t
        );
        // For bench/rt.sh: bench|figure|better|runtime=value...
        machine.push(format!(
            "@ timers|{name}|lower|waiter={w:.3}|waiter-sleep={s:.3}|tokio={t:.3}"
        ));
    }
    println!(
        "\nTimes and RSS: lower is better; a ratio below 1 means waiter is cheaper.\n\
         create+fire wall includes waiting for the last deadline (~{} ms); the CPU figure does not.",
        args.max_ms
    );
    println!();
    for line in machine {
        println!("{line}");
    }
}
