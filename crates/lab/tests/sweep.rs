//! A tiny lab run: 2 models × 2 concurrency levels × 1 s, each model in a
//! child process. `harness = false`: the children re-execute this binary.

use std::time::{Duration, Instant};

use waiter_lab::servers::Model;
use waiter_lab::{run_lab, LabOptions, LabReport, Scenario};

fn tiny() -> LabOptions {
    LabOptions {
        models: vec![Model::EventLoop, Model::Pool],
        scenarios: vec![Scenario::Io],
        concurrency: vec![4, 20],
        step: Duration::from_secs(1),
        delay: Duration::from_millis(20),
        pool_workers: 2,
        model_cpus: None,
        load_cpus: None,
        progress: false,
        ..LabOptions::quick()
    }
}

fn a_tiny_sweep_produces_a_table_and_json() {
    let report = run_lab(&tiny()).unwrap();
    assert_eq!(report.steps.len(), 4);
    for s in &report.steps {
        assert!(s.error.is_none(), "{s:?}");
        assert!(s.load.responses > 0, "{s:?}");
        assert!(s.peak_rss_bytes > 0 && s.peak_threads > 0, "{s:?}");
        assert_eq!(s.peak_processes, 1, "{s:?}");
        assert!(s.cpu_us_per_request > 0.0, "{s:?}");
    }
    let pool20 = report
        .steps
        .iter()
        .find(|s| s.model == Model::Pool && s.connections == 20)
        .unwrap();
    assert!(pool20.load.never_answered >= 15, "{pool20:?}");
    let loop20 = report
        .steps
        .iter()
        .find(|s| s.model == Model::EventLoop && s.connections == 20)
        .unwrap();
    assert_eq!(loop20.load.never_answered, 0, "{loop20:?}");
    assert!(
        loop20.load.throughput > 3.0 * pool20.load.throughput,
        "{report:?}"
    );

    let md = report.to_markdown();
    assert!(md.contains("| model | conns | req/s |"), "{md}");
    assert_eq!(md.matches("\n| event-loop |").count(), 2, "{md}");
    assert_eq!(md.matches("\n| pool |").count(), 2, "{md}");

    let json = report.to_json();
    let back = LabReport::from_json(&json).unwrap();
    assert_eq!(back.steps.len(), 4);
    assert_eq!(back.steps[3].load.responses, report.steps[3].load.responses);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["machine"]["cores"].as_u64().unwrap() >= 1);
    assert_eq!(v["settings"]["pool_workers"], 2);
    assert_eq!(v["steps"][0]["scenario"], "io");
    assert_eq!(v["steps"][0]["model"], "event-loop");

    let html = report.to_html();
    assert!(html.starts_with("<!doctype html>"));
    // The trace step ran after the sweep: four requests on the event loop.
    let timeline = report.timeline.as_ref().expect("a timeline");
    assert_eq!(timeline.requests, ["A", "B", "C", "D"]);
    assert_eq!(
        html.matches("<svg").count(),
        4,
        "three charts and the timeline"
    );
    assert!(html.contains("event-loop") && html.contains("pool"));
}

fn the_plan_covers_every_scenario() {
    let o = LabOptions::quick();
    let plan = o.plan();
    let io = plan.iter().filter(|p| p.0 == Scenario::Io).count();
    assert_eq!(o.models, Model::available());
    assert_eq!(io, 3 * o.models.len());
    let pool = plan.iter().filter(|p| p.0 == Scenario::CpuPool).count();
    assert_eq!(
        pool, 1,
        "only the event loop has a pool to send CPU work to"
    );
    assert!(plan.iter().any(|p| p.0 == Scenario::Idle && p.2 == 1000));
}

fn main() {
    waiter_lab::maybe_run_child();
    let tests: [(&str, fn()); 2] = [
        (
            "the_plan_covers_every_scenario",
            the_plan_covers_every_scenario,
        ),
        (
            "a_tiny_sweep_produces_a_table_and_json",
            a_tiny_sweep_produces_a_table_and_json,
        ),
    ];
    for (name, f) in tests {
        let t = Instant::now();
        f();
        println!("test {name} ... ok ({:?})", t.elapsed());
    }
}
