//! `waiter lab` and `waiter bench`: option plumbing into `waiter_lab` and
//! printing of its reports.

use std::io::Write;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use waiter_lab::app::Wait;
use waiter_lab::load::{self, FixedRequest, LoadOptions, LoadReport};
use waiter_lab::{run_lab, LabOptions, Scenario};

use crate::args::{BenchArgs, LabArgs};

/// `waiter lab`.
pub(crate) fn lab(a: LabArgs) -> ExitCode {
    let mut o = if a.full {
        LabOptions::default()
    } else {
        LabOptions::quick()
    };
    if let Some(m) = &a.models {
        match m.split(',').map(str::parse).collect() {
            Ok(models) => o.models = models,
            Err(e) => return usage(&format!("--models: {e}")),
        }
    }
    if let Some(sc) = &a.scenarios {
        let mut v = vec![];
        for s in sc.split(',') {
            v.push(match s {
                "io" => Scenario::Io,
                "cpu" => Scenario::Cpu,
                "cpu-pool" => Scenario::CpuPool,
                "idle" => Scenario::Idle,
                _ => return usage(&format!("unknown scenario {s:?} (io, cpu, cpu-pool, idle)")),
            });
        }
        o.scenarios = v;
    }
    if let Some(c) = &a.concurrency {
        match c.split(',').map(str::parse).collect() {
            Ok(v) => o.concurrency = v,
            Err(_) => return usage("--concurrency takes numbers separated by commas"),
        }
    }
    if a.timer {
        o.wait = Wait::Timer;
    }
    // The live progress line redraws itself: only for a terminal.
    o.progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if let Some(n) = a.pool {
        o.pool_workers = n;
    }
    if let Some(n) = a.prefork {
        o.prefork_processes = n;
    }
    if let Some(s) = a.step {
        o.step = Duration::from_secs_f64(s);
    }
    let report = match run_lab(&o) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("waiter lab: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", report.to_markdown());
    if let Some(f) = &a.json {
        if let Err(e) = std::fs::write(f, report.to_json()) {
            eprintln!("waiter lab: cannot write {}: {e}", f.display());
            return ExitCode::FAILURE;
        }
        eprintln!("JSON written to {}", f.display());
    }
    let html = a.html.clone().unwrap_or_else(default_html);
    if let Some(dir) = html.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(&html, report.to_html()) {
        Ok(()) => eprintln!("report written to {}", html.display()),
        Err(e) => {
            eprintln!("waiter lab: cannot write {}: {e}", html.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// `$XDG_DATA_HOME/waiter/lab/report.html`, else under `~/.local/share`.
fn default_html() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("waiter/lab/report.html")
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("waiter: {msg}");
    ExitCode::from(2)
}

/// `waiter bench URL`.
pub(crate) fn bench(a: BenchArgs) -> ExitCode {
    let Some(rest) = a.url.strip_prefix("http://") else {
        return usage("the URL must start with http:// (https is not supported)");
    };
    let (authority, target) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addr = match with_port.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(addr)) => addr,
        _ => return usage(&format!("cannot resolve {authority}")),
    };
    let mut headers = vec![];
    for h in &a.header {
        match h.split_once(':') {
            Some((k, v)) => headers.push((k.trim().to_owned(), v.trim().to_owned())),
            None => return usage(&format!("a header is `Name: value`, got {h:?}")),
        }
    }
    let method = waiter_http::Method::from_token(&a.method.to_ascii_uppercase());
    let body = a.body.clone().unwrap_or_default().into_bytes();
    let mut o = LoadOptions::new(addr, a.connections);
    o.duration = a.duration;
    o.requests = a.requests;
    o.rate = a.rate;
    o.pipeline = a.pipeline.max(1);
    o.threads = a.threads.max(1);
    o.timeout = a.timeout;
    o.fixed = Some(Arc::new(FixedRequest::new(
        method, authority, target, &headers, &body,
    )));
    let progress = Arc::new(AtomicU64::new(0));
    o.progress = Some(progress.clone());
    eprintln!(
        "bench {} {}: {} connections, {}",
        a.method.to_ascii_uppercase(),
        a.url,
        a.connections,
        match (a.requests, a.rate) {
            (Some(n), _) => format!("{n} requests"),
            (None, Some(r)) => format!("{r} req/s for {:?}", a.duration),
            (None, None) => format!("{:?}", a.duration),
        }
    );
    let report = with_progress(progress, a.duration, || load::run(o));
    print_summary(&report);
    if let Some(f) = &a.json {
        let json = serde_json::to_string_pretty(&report).expect("a report serializes");
        if let Err(e) = std::fs::write(f, json) {
            eprintln!("waiter bench: cannot write {}: {e}", f.display());
            return ExitCode::FAILURE;
        }
    }
    if report.responses == 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Runs `f` while a line on stderr shows responses so far.
fn with_progress<R>(count: Arc<AtomicU64>, total: Duration, f: impl FnOnce() -> R) -> R {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let start = Instant::now();
    let shower = std::thread::spawn(move || {
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        while !d.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(250));
            if !tty {
                continue;
            }
            let e = start.elapsed();
            let frac = (e.as_secs_f64() / total.as_secs_f64()).min(1.0);
            let bar = "#".repeat((frac * 30.0) as usize);
            let n = count.load(Ordering::Relaxed);
            eprint!("\r[{bar:<30}] {:5.1}s {n} responses", e.as_secs_f64());
            let _ = std::io::stderr().flush();
        }
        if tty {
            eprintln!();
        }
    });
    let r = f();
    done.store(true, Ordering::Relaxed);
    let _ = shower.join();
    r
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

fn print_summary(r: &LoadReport) {
    println!(
        "{} responses in {:.2}s: {:.0} req/s",
        r.responses, r.elapsed_secs, r.throughput
    );
    let l = &r.latency;
    println!(
        "latency  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {:.2} ms",
        ms(l.p50_us),
        ms(l.p90_us),
        ms(l.p99_us),
        ms(l.p999_us),
        ms(l.max_us),
        l.mean_us / 1000.0
    );
    let codes: Vec<String> = r.status.iter().map(|(c, n)| format!("{c}: {n}")).collect();
    println!(
        "status   {}",
        if codes.is_empty() {
            "none".into()
        } else {
            codes.join(", ")
        }
    );
    let e = &r.errors;
    println!(
        "errors   connect {}, read {}, write {}, timeout {}, parse {}",
        e.connect, e.read, e.write, e.timeout, e.parse
    );
    println!(
        "connections: {} asked, {} connected, {} never answered",
        r.connections, r.connected, r.never_answered
    );
}
