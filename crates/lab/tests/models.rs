//! Every model serves the app's exact bytes, in-process and as a child
//! process. `harness = false`: the prefork model and the model children
//! re-execute this binary, whose `main` must hand them to the lab first.

mod util;

use std::time::{Duration, Instant};

use util::{expected_body, Client};
use waiter_lab::app::{AppConfig, Wait};
use waiter_lab::child::ModelProcess;
use waiter_lab::db::{DbOptions, DbService};
use waiter_lab::servers::{self, Model, ModelOptions};

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

fn the_event_loop_overlaps_waits_on_one_thread(db: &DbService) {
    let server = servers::start(&options(Model::EventLoop, db)).unwrap();
    let mut clients: Vec<Client> = (0..50).map(|_| Client::connect(server.addr())).collect();
    let t = Instant::now();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&[i as u64]);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.recv().body, expected_body(i as u64));
    }
    // 50 waits of 50 ms in series would take 2.5 s.
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t.elapsed()
    );
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

/// A named check run against the shared database service.
type Case = (&'static str, fn(&DbService));

fn main() {
    waiter_lab::maybe_run_child();
    let db = DbService::start(DbOptions::default()).unwrap();
    let tests: [Case; 5] = [
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
    ];
    for (name, f) in tests {
        let t = Instant::now();
        f(&db);
        println!("test {name} ... ok ({:?})", t.elapsed());
    }
}
