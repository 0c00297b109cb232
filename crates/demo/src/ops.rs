//! `GET /health`, `GET /metrics` and `GET /file`.
//!
//! `/metrics` shows the loop's own counters ([`waiter_rt::Metrics`]) and
//! the event-loop delay histogram, the numbers that tell whether the one
//! thread is keeping up. `/file` reads through [`waiter_rt::fs`], whose
//! calls run on the pool like the database's.

use std::io;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{json, Value};
use waiter_rt::diag::DelaySummary;
use waiter_rt::Metrics;
use waiter_web::{json, Request, Response, WebError};

use crate::app::Ctx;

/// The resolution of the event-loop delay monitor (Node's default).
pub(crate) const DELAY_RESOLUTION: Duration = Duration::from_millis(10);

/// The text file the demo keeps in its data directory.
pub(crate) const README_NAME: &str = "README.txt";

/// What the data directory's README says.
pub(crate) const README_TEXT: &str = "\
This directory belongs to `waiter demo`.

demo.sqlite        the database: items (with an FTS5 index) and API tokens
demo.sqlite-wal    SQLite's write-ahead log (WAL mode), while the server runs
README.txt         this file, served by GET /file through waiter_rt::fs

Delete the directory to start over with fresh seed data and a new token.
";

/// `GET /health`: always 200 while the loop answers.
pub(crate) async fn health(ctx: Rc<Ctx>, _req: Request) -> Response {
    json(&json!({
        "status": "ok",
        "uptime_seconds": ctx.started.elapsed().as_secs_f64(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// Milliseconds, with microsecond precision.
fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// Nanoseconds as milliseconds.
fn ns_ms(ns: f64) -> f64 {
    (ns / 1000.0).round() / 1000.0
}

/// The loop's counters as JSON.
fn loop_json(m: &Metrics) -> Value {
    let p = &m.phase_times;
    json!({
        "iterations": m.iterations,
        "polls": m.polls,
        "events": m.events,
        "last_poll_events": m.last_poll_events,
        "idle_ms": ms(m.idle_time),
        "phase_ms": {
            "timers": ms(p.timers),
            "pending": ms(p.pending),
            "poll": ms(p.poll),
            "check": ms(p.check),
            "close": ms(p.close),
        },
        "callbacks": m.callbacks,
        "task_polls": m.task_polls,
        "tasks": m.tasks,
        "queued": m.queued,
        "timers": m.timers,
        "io_sources": m.io_sources,
        "refs": m.refs,
        "active_requests": m.active_requests,
        "pool_queue_depth": m.pool_queue_depth,
        "pool_threads": m.pool_threads,
        "panics": m.panics,
        "stalls": m.stalls,
    })
}

/// The delay histogram's summary as JSON, in milliseconds.
fn delay_json(d: &DelaySummary) -> Value {
    json!({
        "resolution_ms": ms(DELAY_RESOLUTION),
        "samples": d.count,
        "min_ms": ns_ms(d.min as f64),
        "mean_ms": ns_ms(d.mean),
        "p50_ms": ns_ms(d.p50 as f64),
        "p99_ms": ns_ms(d.p99 as f64),
        "max_ms": ns_ms(d.max as f64),
    })
}

/// `GET /metrics`: the loop's counters and the event-loop delay.
pub(crate) async fn metrics(ctx: Rc<Ctx>, _req: Request) -> Response {
    json(&json!({
        "uptime_seconds": ctx.started.elapsed().as_secs_f64(),
        "loop": loop_json(&waiter_rt::metrics()),
        "event_loop_delay": delay_json(&ctx.delay.summary()),
    }))
}

/// The size of `path`, or `None` if it does not exist.
async fn size(path: &Path) -> io::Result<Option<u64>> {
    match waiter_rt::fs::metadata(path).await {
        Ok(m) => Ok(Some(m.len())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// `GET /file`: the data directory's README and the database's size, read
/// through `waiter_rt::fs` (on the pool).
pub(crate) async fn file(ctx: Rc<Ctx>, _req: Request) -> Result<Response, WebError> {
    let readme = ctx.data_dir.join(README_NAME);
    let text = match waiter_rt::fs::read_to_string(&readme).await {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let detail = format!("{} is missing; restart the demo", readme.display());
            return Err(WebError::not_found(detail));
        }
        Err(e) => return Err(e.into()),
    };
    let db = ctx.db.path();
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let (db_bytes, wal_bytes) = (size(db).await?, size(Path::new(&wal)).await?);
    Ok(json(&json!({
        "readme": {
            "path": readme,
            "bytes": text.len(),
            "lines": text.lines().count(),
            "text": text,
        },
        "database": {
            "path": db,
            "bytes": db_bytes,
            "wal_bytes": wal_bytes,
        },
    })))
}
