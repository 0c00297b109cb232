//! Every model serves the app's exact bytes, in-process and as a child
//! process. `harness = false`: the prefork model and the model children
//! re-execute this binary, whose `main` must hand them to the lab first.
//!
//! The Node and Apache models run the installed `node` and `apache2` with
//! mod_php (`scripts/test.sh` installs them); these tests need both.

mod util;

use std::time::{Duration, Instant};

use util::{expected_body, Client};
use waiter_lab::app::{AppConfig, Wait};
use waiter_lab::child::ModelProcess;
use waiter_lab::db::{DbOptions, DbService};
use waiter_lab::measure::{process_tree, sample_tree};
use waiter_lab::servers::{self, Model, ModelOptions};
use waiter_lab::{run_lab, LabOptions, Scenario};

fn options(model: Model, db: &DbService) -> ModelOptions {
    let app = AppConfig {
        db_addr: Some(db.addr()),
        ..AppConfig::default()
    };
    let mut o = ModelOptions::new(model, app);
    o.pool_workers = 4;
    o.prefork_processes = 3;
    o
}

/// Three requests on one keep-alive connection (two of them pipelined)
/// and one on a second connection, checked byte for byte.
fn check_serves(addr: std::net::SocketAddr, what: &str) {
    let mut c = Client::connect(addr);
    c.send(&[7, 8]);
    for id in [7, 8] {
        let r = c.recv();
        assert_eq!(r.status, 200, "{what}");
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/json"),
            "{what}"
        );
        assert_eq!(r.body, expected_body(id), "{what}");
    }
    c.send(&[123_456]);
    assert_eq!(c.recv().body, expected_body(123_456), "{what}");
    let mut c2 = Client::connect(addr);
    c2.send(&[9]);
    assert_eq!(c2.recv().body, expected_body(9), "{what}");
}

fn each_model_serves_correct_responses(db: &DbService) {
    for model in Model::ALL {
        let server = servers::start(&options(model, db)).unwrap();
        check_serves(server.addr(), model.name());
        if model == Model::Prefork {
            assert_eq!(server.child_pids().len(), 3);
        }
        server.stop();
    }
}

fn requests_wait_for_the_database(db: &DbService) {
    let server = servers::start(&options(Model::Threaded, db)).unwrap();
    let mut c = Client::connect(server.addr());
    let t = Instant::now();
    c.send(&[1]);
    c.recv();
    assert!(
        t.elapsed() >= Duration::from_millis(50),
        "{:?}",
        t.elapsed()
    );
}

/// Sends one request on each of 50 connections at once and checks that the
/// answers, each after a 50 ms database wait, all came within a second
/// (50 waits in series would take 2.5 s).
fn assert_fifty_waits_overlap(addr: std::net::SocketAddr) {
    let mut clients: Vec<Client> = (0..50).map(|_| Client::connect(addr)).collect();
    let t = Instant::now();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&[i as u64]);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.recv().body, expected_body(i as u64));
    }
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t.elapsed()
    );
}

fn the_event_loop_overlaps_waits_on_one_thread(db: &DbService) {
    let server = servers::start(&options(Model::EventLoop, db)).unwrap();
    assert_fifty_waits_overlap(server.addr());
}

fn timer_and_cpu_variants_answer_the_same_bytes(db: &DbService) {
    for (wait, iters, pool) in [
        (Wait::Timer, 0, false),
        (Wait::Db, 10_000, false),
        (Wait::Db, 10_000, true),
    ] {
        for model in [Model::EventLoop, Model::Pool] {
            let mut o = options(model, db);
            o.app.wait = wait;
            o.app.cpu_iters = iters;
            o.app.cpu_on_pool = pool;
            let server = servers::start(&o).unwrap();
            check_serves(
                server.addr(),
                &format!("{model} {wait:?} cpu {iters} pool {pool}"),
            );
        }
    }
}

fn a_model_runs_in_a_child_process(db: &DbService) {
    for model in [Model::EventLoop, Model::Prefork] {
        let child = ModelProcess::spawn(&options(model, db), None).unwrap();
        assert_ne!(child.pid(), std::process::id());
        check_serves(child.addr(), &format!("child {model}"));
        let tree = waiter_lab::measure::sample_tree(child.pid(), true);
        let want = if model == Model::Prefork { 4 } else { 1 };
        assert_eq!(tree.processes, want, "{model}: {tree:?}");
        assert!(tree.rss_bytes > 0 && tree.threads >= want, "{tree:?}");
        child.stop();
    }
}

/// The models that run another program.
const EXTERNAL: [Model; 2] = [Model::Node, Model::Apache];

/// Whether `pid` runs (exists and is not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let state = s
            .rfind(')')
            .and_then(|i| s[i + 1..].split_whitespace().next());
        !matches!(state, Some("Z" | "X"))
    })
}

/// Waits up to 2 s for every pid of `pids` to be gone.
fn assert_all_gone(pids: &[u32], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "{what}: processes left behind: {:?}",
            pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The lab's temporary directories of `model` that this process made.
fn temp_dirs(model: Model) -> Vec<String> {
    let prefix = format!("waiter-lab-{}-{}-", model.name(), std::process::id());
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

fn node_and_apache_are_installed(_: &DbService) {
    for model in EXTERNAL {
        assert_eq!(
            model.installed(),
            Ok(()),
            "{model} is needed for these tests (scripts/test.sh installs it)"
        );
        assert!(Model::available().contains(&model));
    }
    assert_eq!("node".parse::<Model>(), Ok(Model::Node));
    assert_eq!("apache".parse::<Model>(), Ok(Model::Apache));
    let shape = ModelOptions::new(Model::Apache, AppConfig::default()).shape();
    assert!(
        shape.contains("Apache/2.4") && shape.contains("64 worker processes"),
        "{shape}"
    );
    let shape = ModelOptions::new(Model::Node, AppConfig::default()).shape();
    assert!(shape.starts_with("node v"), "{shape}");
}

fn node_and_apache_serve_correct_responses_and_stop_cleanly(db: &DbService) {
    for model in EXTERNAL {
        let server = servers::start(&options(model, db)).unwrap();
        let root = server
            .root_pid()
            .expect("an external model has a root process");
        assert_ne!(root, std::process::id());
        assert_eq!(server.child_pids(), &[root]);
        check_serves(server.addr(), model.name());
        let tree = process_tree(root);
        // Node: one process; Apache: the parent and its 3 workers.
        let want = if model == Model::Apache { 4 } else { 1 };
        assert_eq!(tree.len(), want, "{model}: {tree:?}");
        assert_eq!(temp_dirs(model).len(), 1, "{model}");
        let addr = server.addr();
        server.stop();
        assert_all_gone(&tree, model.name());
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "{model} still accepts"
        );
        assert!(temp_dirs(model).is_empty(), "{model}: temp dir left");
    }
}

fn node_and_apache_wait_for_the_database(db: &DbService) {
    for model in EXTERNAL {
        let server = servers::start(&options(model, db)).unwrap();
        let mut c = Client::connect(server.addr());
        for id in [41, 42] {
            let before = db.queries();
            let t = Instant::now();
            c.send(&[id]);
            assert_eq!(c.recv().body, expected_body(id), "{model}");
            let took = t.elapsed();
            assert!(took >= Duration::from_millis(50), "{model}: {took:?}");
            assert_eq!(db.queries(), before + 1, "{model}: one database round trip");
        }
    }
}

fn node_overlaps_waits_and_apache_blocks_a_worker_per_connection(db: &DbService) {
    // Node: 50 connections waiting at once on one loop.
    let server = servers::start(&options(Model::Node, db)).unwrap();
    assert_fifty_waits_overlap(server.addr());
    server.stop();

    // Apache with 3 workers: 6 connections are served in two rounds, the
    // second only once the first 3 clients hang up.
    let server = servers::start(&options(Model::Apache, db)).unwrap();
    let mut clients: Vec<Client> = (0..6).map(|_| Client::connect(server.addr())).collect();
    let t = Instant::now();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&[i as u64]);
    }
    for (i, mut c) in clients.into_iter().enumerate() {
        assert_eq!(c.recv().body, expected_body(i as u64));
    }
    assert!(
        t.elapsed() >= Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
}

fn node_and_apache_timer_and_cpu_variants_answer_the_same_bytes(db: &DbService) {
    let big = [
        u64::MAX,
        1 << 63,
        (1 << 53) + 1,
        4_294_967_296,
        123_456_789_012_345,
    ];
    for (wait, iters) in [(Wait::Timer, 0), (Wait::None, 0), (Wait::Db, 10_000)] {
        for model in EXTERNAL {
            let mut o = options(model, db);
            o.app.wait = wait;
            o.app.cpu_iters = iters;
            o.app.delay = Duration::from_millis(20);
            let server = servers::start(&o).unwrap();
            let what = format!("{model} {wait:?} cpu {iters}");
            check_serves(server.addr(), &what);
            let mut c = Client::connect(server.addr());
            c.send(&big);
            for id in big {
                assert_eq!(c.recv().body, expected_body(id), "{what} id {id}");
            }
        }
    }
    // CPU work sent to a pool is waiter's event loop's scenario alone.
    let mut o = options(Model::Node, db);
    o.app.cpu_iters = 10_000;
    o.app.cpu_on_pool = true;
    let e = servers::start(&o).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
}

fn node_and_apache_burn_cpu_per_request(db: &DbService) {
    // Node and PHP burn the CPU time the Rust hash loop takes for
    // `cpu_iters` (about 20 ms here): 10 requests must cost the server's
    // processes about 10 times that, not a fraction of it, and not the
    // many times more the same iteration count would take in JavaScript
    // or PHP.
    let iters = waiter_lab::app::calibrate(Duration::from_millis(20));
    let per_request = (0..3)
        .map(|_| {
            let t = thread_cpu_secs();
            waiter_lab::app::burn(iters);
            thread_cpu_secs() - t
        })
        .fold(f64::INFINITY, f64::min);
    for model in EXTERNAL {
        let mut o = options(model, db);
        o.app.wait = Wait::None;
        o.app.cpu_iters = iters;
        let server = servers::start(&o).unwrap();
        let root = server.root_pid().unwrap();
        let mut c = Client::connect(server.addr());
        c.send(&[1]);
        c.recv();
        let before = sample_tree(root, false).cpu_secs;
        for id in 0..10 {
            c.send(&[id]);
            assert_eq!(c.recv().body, expected_body(id), "{model}");
        }
        let used = sample_tree(root, false).cpu_secs - before;
        assert!(
            used >= 5.0 * per_request && used <= 40.0 * per_request + 0.3,
            "{model}: {used} s of CPU for 10 requests of {per_request} s"
        );
    }
}

/// CPU time this thread has run, seconds (`/proc/thread-self/schedstat`).
fn thread_cpu_secs() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    s.split_whitespace().next().unwrap().parse::<f64>().unwrap() / 1e9
}

fn node_and_apache_run_in_a_child_process(db: &DbService) {
    for model in EXTERNAL {
        let child = ModelProcess::spawn(&options(model, db), None).unwrap();
        assert_ne!(child.pid(), child.child_pid(), "{model}");
        check_serves(child.addr(), &format!("child {model}"));
        let tree = sample_tree(child.pid(), true);
        let want = if model == Model::Apache { 4 } else { 1 };
        assert_eq!(tree.processes, want, "{model}: {tree:?}");
        assert!(tree.rss_bytes > 0 && tree.threads >= want, "{tree:?}");
        let pids = process_tree(child.child_pid());
        assert!(pids.len() > want as usize, "{model}: {pids:?}");
        child.stop();
        assert_all_gone(&pids, model.name());
    }
}

/// A tiny sweep: the event loop, Node and Apache (2 workers) at 4 and 20
/// connections; Node serves all 20, Apache starves most of them.
fn a_tiny_sweep_reports_node_and_apache(_: &DbService) {
    let opts = LabOptions {
        models: vec![Model::EventLoop, Model::Node, Model::Apache],
        scenarios: vec![Scenario::Io],
        concurrency: vec![4, 20],
        step: Duration::from_secs(1),
        delay: Duration::from_millis(20),
        prefork_processes: 2,
        model_cpus: None,
        load_cpus: None,
        progress: false,
        ..LabOptions::quick()
    };
    let report = run_lab(&opts).unwrap();
    assert_eq!(report.steps.len(), 6);
    for s in &report.steps {
        assert!(s.error.is_none(), "{s:?}");
        assert!(s.load.responses > 0, "{s:?}");
        assert!(s.peak_rss_bytes > 0 && s.peak_threads > 0, "{s:?}");
        assert!(s.cpu_us_per_request > 0.0, "{s:?}");
        let procs = if s.model == Model::Apache { 3 } else { 1 };
        assert_eq!(s.peak_processes, procs, "{s:?}");
    }
    let at20 = |m: Model| {
        report
            .steps
            .iter()
            .find(|s| s.model == m && s.connections == 20)
            .unwrap()
    };
    assert_eq!(at20(Model::Node).load.never_answered, 0, "{report:?}");
    assert!(at20(Model::Apache).load.never_answered >= 15, "{report:?}");

    let md = report.to_markdown();
    assert_eq!(md.matches("\n| node |").count(), 2, "{md}");
    assert_eq!(md.matches("\n| apache |").count(), 2, "{md}");
    let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(v["steps"][1]["model"], "node");
    assert_eq!(v["steps"][2]["model"], "apache");

    // One line per model in each chart, each in its own colour.
    let html = report.to_html();
    let title = html
        .find("throughput (req/s)")
        .expect("the throughput chart");
    let start = html[..title].rfind("<svg").unwrap();
    let chart = &html[start..start + html[start..].find("</svg>").unwrap()];
    let mut colours = Vec::new();
    for m in &opts.models {
        let label = format!(">{}</text>", m.name());
        let at = chart
            .find(&label)
            .unwrap_or_else(|| panic!("{m} not in the legend"));
        let fill = chart[..at].rfind("fill=\"#").unwrap() + 6;
        colours.push(&chart[fill..fill + 7]);
    }
    assert_eq!(chart.matches("<polyline").count(), 3, "{chart}");
    colours.sort_unstable();
    colours.dedup();
    assert_eq!(colours.len(), 3, "{colours:?}");
}

/// A model asked for but not installed fails its step with what to
/// install, and the run goes on.
fn a_missing_program_fails_its_step_only(_: &DbService) {
    let path = std::env::var_os("PATH");
    std::env::set_var("PATH", "/nonexistent");
    let opts = LabOptions {
        models: vec![Model::Node, Model::EventLoop],
        scenarios: vec![Scenario::Io],
        concurrency: vec![2],
        step: Duration::from_millis(300),
        model_cpus: None,
        load_cpus: None,
        progress: false,
        ..LabOptions::quick()
    };
    let report = run_lab(&opts);
    match path {
        Some(p) => std::env::set_var("PATH", p),
        None => std::env::remove_var("PATH"),
    }
    let report = report.unwrap();
    assert_eq!(
        report.steps[0].error.as_deref(),
        Some("node is not installed: apt-get install nodejs")
    );
    assert!(report.steps[1].error.is_none() && report.steps[1].load.responses > 0);
    assert!(report
        .to_markdown()
        .contains("| node | 2 | failed: node is not installed"));
}

/// A named check run against the shared database service.
type Case = (&'static str, fn(&DbService));

fn main() {
    waiter_lab::maybe_run_child();
    let db = DbService::start(DbOptions::default()).unwrap();
    let tests: [Case; 14] = [
        (
            "each_model_serves_correct_responses",
            each_model_serves_correct_responses,
        ),
        (
            "requests_wait_for_the_database",
            requests_wait_for_the_database,
        ),
        (
            "the_event_loop_overlaps_waits_on_one_thread",
            the_event_loop_overlaps_waits_on_one_thread,
        ),
        (
            "timer_and_cpu_variants_answer_the_same_bytes",
            timer_and_cpu_variants_answer_the_same_bytes,
        ),
        (
            "a_model_runs_in_a_child_process",
            a_model_runs_in_a_child_process,
        ),
        (
            "node_and_apache_are_installed",
            node_and_apache_are_installed,
        ),
        (
            "node_and_apache_serve_correct_responses_and_stop_cleanly",
            node_and_apache_serve_correct_responses_and_stop_cleanly,
        ),
        (
            "node_and_apache_wait_for_the_database",
            node_and_apache_wait_for_the_database,
        ),
        (
            "node_overlaps_waits_and_apache_blocks_a_worker_per_connection",
            node_overlaps_waits_and_apache_blocks_a_worker_per_connection,
        ),
        (
            "node_and_apache_timer_and_cpu_variants_answer_the_same_bytes",
            node_and_apache_timer_and_cpu_variants_answer_the_same_bytes,
        ),
        (
            "node_and_apache_burn_cpu_per_request",
            node_and_apache_burn_cpu_per_request,
        ),
        (
            "node_and_apache_run_in_a_child_process",
            node_and_apache_run_in_a_child_process,
        ),
        (
            "a_tiny_sweep_reports_node_and_apache",
            a_tiny_sweep_reports_node_and_apache,
        ),
        (
            "a_missing_program_fails_its_step_only",
            a_missing_program_fails_its_step_only,
        ),
    ];
    for (name, f) in tests {
        let t = Instant::now();
        f(&db);
        println!("test {name} ... ok ({:?})", t.elapsed());
    }
}
