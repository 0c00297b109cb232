//! Runs the lab from the command line until `waiter lab` exists.
//!
//! ```sh
//! cargo run --release -p waiter-lab --example lab -- [quick|full] \
//!     [--models event-loop,pool] [--scenarios io,cpu,cpu-pool,idle] \
//!     [--concurrency 10,100] [--idle N] [--wait timer] [--prefork N] \
//!     [--pool N] [--step SECS] [--json FILE] [--html FILE]
//! ```

use std::time::Duration;

use waiter_lab::app::Wait;
use waiter_lab::{run_lab, LabOptions, Scenario};

fn main() -> std::io::Result<()> {
    waiter_lab::maybe_run_child();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let mut opts = if args.iter().any(|a| a == "full") {
        LabOptions::default()
    } else {
        LabOptions::quick()
    };
    if let Some(m) = value("--models") {
        opts.models = m
            .split(',')
            .map(|s| s.parse().expect("a model name"))
            .collect();
    }
    if let Some(c) = value("--concurrency") {
        opts.concurrency = c
            .split(',')
            .map(|s| s.parse().expect("a number of connections"))
            .collect();
    }
    if let Some(sc) = value("--scenarios") {
        opts.scenarios = sc
            .split(',')
            .map(|s| match s {
                "io" => Scenario::Io,
                "cpu" => Scenario::Cpu,
                "cpu-pool" => Scenario::CpuPool,
                "idle" => Scenario::Idle,
                _ => panic!("unknown scenario {s:?} (io, cpu, cpu-pool, idle)"),
            })
            .collect();
    }
    if let Some(n) = value("--idle") {
        opts.idle_connections = n.parse().expect("--idle takes a number");
    }
    if value("--wait").as_deref() == Some("timer") {
        opts.wait = Wait::Timer;
    }
    if let Some(n) = value("--prefork") {
        opts.prefork_processes = n.parse().expect("--prefork takes a number");
    }
    if let Some(n) = value("--pool") {
        opts.pool_workers = n.parse().expect("--pool takes a number");
    }
    if let Some(s) = value("--step") {
        opts.step = Duration::from_secs_f64(s.parse().expect("--step takes seconds"));
    }
    let report = run_lab(&opts)?;
    println!("{}", report.to_markdown());
    if let Some(f) = value("--json") {
        std::fs::write(f, report.to_json())?;
    }
    if let Some(f) = value("--html") {
        std::fs::write(f, report.to_html())?;
    }
    Ok(())
}
