//! The load generator against real models on 127.0.0.1.

use std::time::Duration;

use waiter_lab::app::AppConfig;
use waiter_lab::db::{DbOptions, DbService};
use waiter_lab::load::{self, LoadOptions};
use waiter_lab::servers::{self, Model, ModelOptions, RunningServer};

fn start(model: Model, db: &DbService, workers: usize) -> RunningServer {
    let app = AppConfig {
        db_addr: Some(db.addr()),
        ..AppConfig::default()
    };
    let mut o = ModelOptions::new(model, app);
    o.pool_workers = workers;
    servers::start(&o).unwrap()
}

fn db(ms: u64) -> DbService {
    DbService::start(DbOptions {
        delay: Duration::from_millis(ms),
    })
    .unwrap()
}

#[test]
fn closed_loop_against_the_event_loop_reports_plausible_numbers() {
    let db = db(20);
    let server = start(Model::EventLoop, &db, 0);
    let mut o = LoadOptions::new(server.addr(), 20);
    o.duration = Duration::from_secs(1);
    let r = load::run(o);
    // 20 connections, 20 ms per request: about 1,000 requests per second.
    assert!(r.throughput > 300.0 && r.throughput < 1100.0, "{r:?}");
    assert_eq!(r.errors.total(), 0, "{r:?}");
    assert_eq!(r.ok_responses(), r.responses, "{r:?}");
    assert_eq!(r.never_answered, 0, "{r:?}");
    assert_eq!(r.connected, 20);
    assert!(
        r.latency.p50_us >= 20_000 && r.latency.p50_us < 100_000,
        "{r:?}"
    );
    assert!(r.latency.p99_us >= r.latency.p50_us && r.latency.max_us >= r.latency.p99_us);
    assert!(r.sent >= r.responses && r.sent - r.responses <= 20, "{r:?}");
    assert!(db.queries() >= r.responses);
}

#[test]
fn a_two_worker_pool_leaves_most_of_twenty_connections_unanswered() {
    let db = db(20);
    let server = start(Model::Pool, &db, 2);
    let mut o = LoadOptions::new(server.addr(), 20);
    o.duration = Duration::from_secs(1);
    let r = load::run(o);
    assert!(
        r.responses > 20,
        "the two served connections progress: {r:?}"
    );
    assert!(r.never_answered >= 15, "{r:?}");
    assert!(r.in_flight_at_end >= 18, "{r:?}");
    assert_eq!(r.connected, 20, "{r:?}");
}

#[test]
fn a_request_count_stops_the_run_exactly() {
    let db = db(5);
    let server = start(Model::Threaded, &db, 0);
    let mut o = LoadOptions::new(server.addr(), 4);
    o.requests = Some(50);
    o.duration = Duration::from_secs(10);
    let r = load::run(o);
    assert_eq!(r.responses, 50, "{r:?}");
    assert_eq!(r.sent, 50, "{r:?}");
    assert!(r.elapsed_secs < 5.0, "{r:?}");
}

#[test]
fn open_loop_follows_the_schedule_and_counts_from_it() {
    let db = db(20);
    let server = start(Model::EventLoop, &db, 0);
    let mut o = LoadOptions::new(server.addr(), 10);
    o.duration = Duration::from_secs(1);
    o.rate = Some(200.0);
    let r = load::run(o);
    assert!((150..=205).contains(&r.responses), "{r:?}");
    assert!(
        r.latency.p50_us >= 20_000 && r.latency.p50_us < 80_000,
        "{r:?}"
    );
}

#[test]
fn open_loop_charges_a_stalled_server_for_the_schedule() {
    // One worker, four connections: three connections queue behind the
    // first for the whole run, so their scheduled requests are never sent
    // or answered; the one served connection is on time.
    let db = db(20);
    let server = start(Model::Pool, &db, 1);
    let mut o = LoadOptions::new(server.addr(), 4);
    o.duration = Duration::from_secs(1);
    o.rate = Some(100.0);
    let r = load::run(o);
    assert_eq!(r.never_answered, 3, "{r:?}");
    assert!(r.responses > 5, "{r:?}");
}

#[test]
fn pipelining_keeps_several_requests_outstanding() {
    let db = db(20);
    let server = start(Model::EventLoop, &db, 0);
    let mut o = LoadOptions::new(server.addr(), 2);
    o.duration = Duration::from_millis(600);
    o.pipeline = 4;
    let r = load::run(o);
    assert_eq!(r.errors.total(), 0, "{r:?}");
    // waiter answers a connection's requests one at a time: 2 connections
    // x 1 request per 20 ms, whatever the depth.
    assert!(r.responses >= 20, "{r:?}");
    assert!(r.sent >= r.responses + 4, "the pipeline stays full: {r:?}");
}

#[test]
fn a_timeout_is_counted_and_the_connection_reopened() {
    let db = db(300);
    let server = start(Model::EventLoop, &db, 0);
    let mut o = LoadOptions::new(server.addr(), 2);
    o.duration = Duration::from_millis(700);
    o.timeout = Some(Duration::from_millis(100));
    let r = load::run(o);
    assert!(r.errors.timeout >= 4, "{r:?}");
    assert_eq!(r.responses, 0, "{r:?}");
}

#[test]
fn idle_mode_sends_one_request_per_connection_and_holds_it() {
    let db = db(5);
    let server = start(Model::EventLoop, &db, 0);
    let mut o = LoadOptions::new(server.addr(), 30);
    o.duration = Duration::from_millis(500);
    o.requests_per_connection = Some(1);
    let r = load::run(o);
    assert_eq!(r.responses, 30, "{r:?}");
    assert_eq!(r.sent, 30, "{r:?}");
    assert!(
        r.elapsed_secs >= 0.45,
        "connections stay open until the end: {r:?}"
    );
}

#[test]
fn refused_connections_are_connect_errors() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut o = LoadOptions::new(addr, 2);
    o.duration = Duration::from_millis(200);
    let r = load::run(o);
    assert!(r.errors.connect >= 2, "{r:?}");
    assert_eq!(r.connected, 0);
    assert_eq!(r.never_answered, 0);
}

#[test]
fn several_load_threads_merge_their_numbers() {
    let db = db(10);
    let server = start(Model::EventLoop, &db, 0);
    let mut o = LoadOptions::new(server.addr(), 8);
    o.duration = Duration::from_millis(500);
    o.threads = 2;
    let r = load::run(o);
    assert_eq!(r.connected, 8);
    assert!(r.responses > 100, "{r:?}");
    assert_eq!(r.status.get(&200).copied(), Some(r.responses));
}

#[test]
fn a_fixed_post_request_is_sent_as_given() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    // A waiter server on its own thread that counts body bytes.
    let bytes = Arc::new(AtomicU64::new(0));
    let b = bytes.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        waiter_rt::run(async move {
            let server = waiter_http::Server::builder()
                .listen(
                    "127.0.0.1:0".parse().unwrap(),
                    move |mut req: waiter_http::Request| {
                        let b = b.clone();
                        async move {
                            let body = req.body_mut().bytes(1 << 20).await.unwrap();
                            b.fetch_add(body.len() as u64, Ordering::Relaxed);
                            let ok = req.method() == &waiter_http::Method::Post
                                && req.target() == "/submit"
                                && req.header("x-test") == Some("yes");
                            waiter_http::Response::new(if ok {
                                waiter_http::StatusCode::CREATED
                            } else {
                                waiter_http::StatusCode::BAD_REQUEST
                            })
                        }
                    },
                )
                .unwrap();
            tx.send(server.local_addr()).unwrap();
            server.closed().await;
        })
    });
    let addr = rx.recv().unwrap();
    let mut o = LoadOptions::new(addr, 4);
    o.requests = Some(200);
    o.duration = Duration::from_secs(10);
    o.fixed = Some(Arc::new(load::FixedRequest::new(
        waiter_proto::Method::Post,
        &addr.to_string(),
        "/submit",
        &[("X-Test".into(), "yes".into())],
        b"0123456789",
    )));
    let r = load::run(o);
    assert!(r.responses >= 200, "{r:?}");
    assert_eq!(
        r.status.get(&201).copied().unwrap_or(0),
        r.responses,
        "{r:?}"
    );
    assert_eq!(bytes.load(Ordering::Relaxed), 10 * r.responses);
}
