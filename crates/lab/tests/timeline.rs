//! The trace step for real: the event-loop model (in a child process, as
//! in a lab run, and in-process) against the lab's database service on
//! 127.0.0.1, four requests sent 2 ms apart, and the recorded timeline
//! checked for the shape of the event-loop timeline. `harness = false`: the
//! model child re-executes this binary.

use std::time::{Duration, Instant};

use waiter_lab::app::{AppConfig, Wait};
use waiter_lab::db::{DbOptions, DbService};
use waiter_lab::servers::{self, Model, ModelOptions};
use waiter_lab::trace::{self, Lane, Span, SpanKind, Timeline, TraceOptions};
use waiter_lab::LabReport;

/// The trace in a few lines, for failure messages.
fn dump(t: &Timeline) -> String {
    let mut out = format!("{}\n{}", t.summary(), t.to_text(100));
    for s in &t.spans {
        out.push_str(&format!(
            "\n{:?} {:?} {} {:.1}..{:.1} ({:.1} µs) {}",
            s.lane,
            s.kind,
            s.request.as_deref().unwrap_or("-"),
            s.start_us,
            s.end_us,
            s.len_us(),
            s.source.as_deref().unwrap_or("")
        ));
    }
    out
}

/// The one span of `kind` in `request`'s lane.
fn one<'a>(t: &'a Timeline, request: &'a str, kind: SpanKind) -> &'a Span {
    let v: Vec<&Span> = t
        .request_spans(request)
        .filter(|s| s.kind == kind)
        .collect();
    assert_eq!(v.len(), 1, "{request} {kind:?}: {}", dump(t));
    v[0]
}

/// Whether some loop slice of `kind` (for `request`, if given) contains `s`.
fn inside_loop_slice(t: &Timeline, s: f64, e: f64, kind: SpanKind, request: Option<&str>) -> bool {
    t.loop_spans().any(|l| {
        l.kind == kind
            && (request.is_none() || l.request.as_deref() == request)
            && l.start_us <= s
            && e <= l.end_us
    })
}

/// The event-loop picture, checked on real data: `n` requests that each wait
/// at least `delay`, served on one thread whose slices do not overlap,
/// waiting all at once.
fn check_shape(t: &Timeline, n: usize, delay: Duration) {
    let labels: Vec<String> = (0..n)
        .map(|i| char::from(b'A' + i as u8).to_string())
        .collect();
    assert_eq!(t.requests, labels, "{}", dump(t));
    assert!(t.wall_us > delay.as_micros() as f64, "{}", dump(t));

    // Every span inside the window.
    for s in &t.spans {
        assert!(
            0.0 <= s.start_us && s.start_us <= s.end_us && s.end_us <= t.wall_us,
            "{s:?} outside 0..={}",
            t.wall_us
        );
    }

    // One thread: the loop's slices (busy and idle) never overlap.
    let lp: Vec<&Span> = t.loop_spans().collect();
    for w in lp.windows(2) {
        assert!(
            w[0].end_us <= w[1].start_us,
            "overlap: {:?} {:?}",
            w[0],
            w[1]
        );
    }
    assert!(
        lp.iter().any(|s| s.kind == SpanKind::DbWrite),
        "{}",
        dump(t)
    );
    assert!(lp.iter().any(|s| s.kind == SpanKind::DbRead), "{}", dump(t));

    let mut arrivals_end = 0.0f64;
    let mut first_reply = f64::MAX;
    for r in &t.requests {
        let parse = one(t, r, SpanKind::Parse);
        let query = one(t, r, SpanKind::Query);
        let wait = one(t, r, SpanKind::Wait);
        let format = one(t, r, SpanKind::Format);
        let write = one(t, r, SpanKind::Write);
        // In the order the code runs them.
        for (a, b) in [
            (parse, query),
            (query, wait),
            (wait, format),
            (format, write),
        ] {
            assert!(a.end_us <= b.start_us, "{r}: {a:?} then {b:?}\n{}", dump(t));
        }
        // The database round trip takes at least the service's delay.
        assert!(
            wait.len_us() >= delay.as_micros() as f64,
            "{r} waited {} µs\n{}",
            wait.len_us(),
            dump(t)
        );
        // It begins in the poll that wrote the query to the database
        // socket and ends in the poll that read the reply.
        assert!(
            inside_loop_slice(t, wait.start_us, wait.start_us, SpanKind::DbWrite, None),
            "{r}: {wait:?}\n{}",
            dump(t)
        );
        assert!(
            inside_loop_slice(t, wait.end_us, wait.end_us, SpanKind::DbRead, None),
            "{r}: {wait:?}\n{}",
            dump(t)
        );
        // Its time on the thread is the loop's slices for it.
        for s in [parse, query, format, write] {
            assert!(
                inside_loop_slice(t, s.start_us, s.end_us, SpanKind::Serve, Some(r)),
                "{r}: {s:?} is not inside a loop slice for {r}\n{}",
                dump(t)
            );
        }
        assert_eq!(
            t.loop_spans()
                .filter(|s| s.kind == SpanKind::Serve && s.request.as_deref() == Some(r))
                .count(),
            2,
            "{r}: one slice to read it, one to answer it\n{}",
            dump(t)
        );
        arrivals_end = arrivals_end.max(query.end_us);
        first_reply = first_reply.min(wait.end_us);
    }

    // The point: every request was read and its query sent before the
    // first reply came back, so all the waits overlap.
    assert!(arrivals_end < first_reply, "{}", dump(t));
    assert!(t.waits_overlap_us() > 0.0, "{}", dump(t));
    // And the thread spent the waits idle, not busy (a slice's time
    // includes any preemption of the thread, so the bound is loose).
    assert!(
        t.busy_us() > 0.0 && t.busy_us() < t.wall_us / 2.0,
        "{}",
        dump(t)
    );
    assert!(t.idle_us() > t.wall_us / 3.0, "{}", dump(t));
}

fn the_lab_trace_step_records_four_requests_interleaving(db: &DbService) {
    let app = AppConfig {
        db_addr: Some(db.addr()),
        ..AppConfig::default()
    };
    let t = trace::record(&app, None).unwrap();
    check_shape(&t, trace::REQUESTS, waiter_lab::db::DEFAULT_DELAY);
    assert_eq!(t.stagger_ms, 2.0);
    assert_eq!(t.db_delay_ms, 50.0);
    println!("{}\n{}", t.summary(), t.to_text(64));

    // The report carries it through JSON and renders it.
    let report = LabReport {
        timeline: Some(t.clone()),
        ..LabReport::default()
    };
    let back = LabReport::from_json(&report.to_json()).unwrap();
    assert_eq!(back.timeline.as_ref(), Some(&t));
    let md = report.to_markdown();
    assert!(md.contains("## Timeline: 4 concurrent requests"), "{md}");
    assert!(md.contains(&t.summary()), "{md}");
    let html = report.to_html();
    assert!(html.contains("<svg id=\"timeline\""), "{html}");
    assert!(html.contains(&t.summary()), "{html}");
}

/// Runs the event-loop model in this process with tracing on for the
/// first `traced` requests, fires `sent` requests, and reads the timeline.
fn in_process(app: AppConfig, traced: usize, sent: usize) -> Timeline {
    let out = std::env::temp_dir().join(format!(
        "waiter-lab-timeline-test-{}.json",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&out);
    let mut app = app;
    app.trace = Some(TraceOptions {
        requests: traced,
        out: out.clone(),
    });
    let server = servers::start(&ModelOptions::new(Model::EventLoop, app)).unwrap();
    let statuses = trace::fire(server.addr(), sent, Duration::from_millis(2)).unwrap();
    assert_eq!(statuses, vec![200; sent]);
    server.stop();
    let json = std::fs::read_to_string(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    serde_json::from_str(&json).unwrap()
}

fn only_the_first_requests_are_traced(db: &DbService) {
    let app = AppConfig {
        db_addr: Some(db.addr()),
        ..AppConfig::default()
    };
    let t = in_process(app, 4, 6);
    check_shape(&t, 4, waiter_lab::db::DEFAULT_DELAY);
    let last = t.spans.iter().map(|s| s.end_us).fold(0.0, f64::max);
    assert_eq!(last, t.wall_us);
    assert!(t.spans.iter().all(|s| match s.lane {
        Lane::Loop => true,
        Lane::Request => s.request.as_deref() < Some("E"),
    }));
}

fn a_timer_wait_is_traced_too(_db: &DbService) {
    let delay = Duration::from_millis(50);
    let app = AppConfig {
        wait: Wait::Timer,
        delay,
        ..AppConfig::default()
    };
    let t = in_process(app, 3, 3);
    assert_eq!(t.requests, ["A", "B", "C"]);
    for r in &t.requests {
        let wait = one(&t, r, SpanKind::Wait);
        assert!(wait.len_us() >= delay.as_micros() as f64, "{}", dump(&t));
        // The timer starts and ends inside the request's own slices.
        for at in [wait.start_us, wait.end_us] {
            assert!(
                inside_loop_slice(&t, at, at, SpanKind::Serve, Some(r)),
                "{r} at {at}\n{}",
                dump(&t)
            );
        }
    }
    assert!(t.waits_overlap_us() > 0.0, "{}", dump(&t));
}

/// A named check run against the shared database service.
type Case = (&'static str, fn(&DbService));

fn main() {
    waiter_lab::maybe_run_child();
    let db = DbService::start(DbOptions::default()).unwrap();
    let tests: [Case; 3] = [
        (
            "the_lab_trace_step_records_four_requests_interleaving",
            the_lab_trace_step_records_four_requests_interleaving,
        ),
        (
            "only_the_first_requests_are_traced",
            only_the_first_requests_are_traced,
        ),
        ("a_timer_wait_is_traced_too", a_timer_wait_is_traced_too),
    ];
    for (name, f) in tests {
        let t = Instant::now();
        f(&db);
        println!("test {name} ... ok ({:?})", t.elapsed());
    }
}
