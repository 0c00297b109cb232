//! Worker-pool round trips: submit a no-op job and await its result, N times,
//! first one at a time, then with 64 jobs in flight. Prints jobs per second
//! for waiter's `spawn_blocking` and for tokio's `spawn_blocking` on a
//! `current_thread` runtime, and the process CPU time per job (loop thread
//! plus workers).
//!
//! ```text
//! cargo run --release -p waiter-rt --example pool_roundtrip [-- --seq N] [--par N] [--inflight 64] [--threads 4] [--only waiter|tokio]
//! ```
//!
//! Both pools get the same number of threads (`--threads`, default waiter's
//! [`waiter_rt::pool::DEFAULT_THREADS`]): tokio's blocking pool otherwise grows
//! to one thread per job in flight (up to 512), which would compare a 64-thread
//! pool with a 4-thread one on a machine with few cores. Each runtime does a
//! short warm-up first, so its threads are started before the clock runs.

use std::future::Future;
use std::time::{Duration, Instant};

struct Opts {
    seq: u64,
    par: u64,
    inflight: u64,
    threads: usize,
    /// Run only this runtime (`waiter` or `tokio`), for profiling.
    only: Option<String>,
}

fn parse_opts() -> Opts {
    let mut o = Opts {
        seq: 50_000,
        par: 200_000,
        inflight: 64,
        threads: waiter_rt::pool::DEFAULT_THREADS,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if a == "--only" {
            o.only = it.next();
            continue;
        }
        let v: u64 = it
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{a} needs a number"));
        match a.as_str() {
            "--seq" => o.seq = v.max(1),
            "--par" => o.par = v.max(1),
            "--inflight" => o.inflight = v.max(1),
            "--threads" => o.threads = v.max(1) as usize,
            _ => panic!("unknown argument {a:?}"),
        }
    }
    o
}

/// One measurement: jobs per second and CPU microseconds per job.
#[derive(Clone, Copy, Debug)]
struct Rate {
    jobs_per_sec: f64,
    cpu_us_per_job: f64,
}

/// Times `body`, which runs `jobs` jobs.
fn measure(jobs: u64, body: impl FnOnce()) -> Rate {
    let c0 = waiter_rt::sys::cpu_time().expect("getrusage");
    let t0 = Instant::now();
    body();
    let wall = t0.elapsed();
    let cpu = waiter_rt::sys::cpu_time().expect("getrusage") - c0;
    Rate {
        jobs_per_sec: jobs as f64 / wall.as_secs_f64(),
        cpu_us_per_job: cpu.as_secs_f64() * 1e6 / jobs as f64,
    }
}

fn per_task(total: u64, tasks: u64, t: u64) -> u64 {
    total / tasks + u64::from(t < total % tasks)
}

fn waiter(o: &Opts) -> (Rate, Rate) {
    let lp = waiter_rt::Loop::builder()
        .pool_size(o.threads)
        .build()
        .expect("loop");
    let seq = |n: u64| async move {
        for _ in 0..n {
            waiter_rt::spawn_blocking(|| ()).await.expect("job");
        }
    };
    let par = |n: u64, inflight: u64| async move {
        let tasks: Vec<_> = (0..inflight)
            .map(|t| waiter_rt::spawn_local(seq(per_task(n, inflight, t))))
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
    };
    // Each run is a task, so `block_on` only waits for its end (as
    // `tokio::spawn` below runs the tokio work in a task too).
    let run = |f: std::pin::Pin<Box<dyn Future<Output = ()>>>| {
        lp.block_on(async { waiter_rt::spawn_local(f).await })
            .expect("task");
    };
    run(Box::pin(par(1000, o.inflight)));
    let s = measure(o.seq, || run(Box::pin(seq(o.seq))));
    let p = measure(o.par, || run(Box::pin(par(o.par, o.inflight))));
    (s, p)
}

fn tokio(o: &Opts) -> (Rate, Rate) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(o.threads)
        // Keep the warmed-up threads for the whole run.
        .thread_keep_alive(Duration::from_secs(60))
        .enable_all()
        .build()
        .expect("tokio runtime");
    async fn seq(n: u64) {
        for _ in 0..n {
            tokio::task::spawn_blocking(|| ()).await.expect("job");
        }
    }
    let par = |n: u64, inflight: u64| async move {
        let tasks: Vec<_> = (0..inflight)
            .map(|t| tokio::spawn(seq(per_task(n, inflight, t))))
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
    };
    rt.block_on(par(1000, o.inflight));
    let s = measure(o.seq, || {
        rt.block_on(async { tokio::spawn(seq(o.seq)).await })
            .expect("task")
    });
    let p = measure(o.par, || rt.block_on(par(o.par, o.inflight)));
    (s, p)
}

fn main() {
    let o = parse_opts();
    println!(
        "pool round trips: no-op jobs, {} sequential, {} with {} in flight, {} pool threads each",
        o.seq, o.par, o.inflight, o.threads
    );
    let only = o.only.as_deref();
    if only == Some("waiter") {
        println!("{:?}", waiter(&o));
        return;
    }
    if only == Some("tokio") {
        println!("{:?}", tokio(&o));
        return;
    }
    let (ws, wp) = waiter(&o);
    let (ts, tp) = tokio(&o);
    println!(
        "\n| {:<24} | {:>10} | {:>10} | {:>12} |",
        "figure", "waiter", "tokio", "waiter/tokio"
    );
    println!("|{:-<26}|{:->12}|{:->12}|{:->14}|", "", "", "", "");
    let seq_name = "sequential, jobs/s";
    let par_name = format!("{} in flight, jobs/s", o.inflight);
    let rows = [
        (
            seq_name.to_string(),
            ws.jobs_per_sec,
            ts.jobs_per_sec,
            "higher",
        ),
        (par_name.clone(), wp.jobs_per_sec, tp.jobs_per_sec, "higher"),
        (
            "sequential, CPU µs/job".to_string(),
            ws.cpu_us_per_job,
            ts.cpu_us_per_job,
            "lower",
        ),
        (
            format!("{} in flight, CPU µs/job", o.inflight),
            wp.cpu_us_per_job,
            tp.cpu_us_per_job,
            "lower",
        ),
    ];
    for (name, w, t, _) in &rows {
        println!("| {name:<24} | {w:>10.1} | {t:>10.1} | {:>12.2} |", w / t);
    }
    println!("\njobs/s: higher is better; CPU per job: lower is better.\n");
    // For bench/rt.sh: bench|figure|better|runtime=value...
    for (name, w, t, better) in &rows {
        println!("@ pool|{name}|{better}|waiter={w:.3}|tokio={t:.3}");
    }
}
