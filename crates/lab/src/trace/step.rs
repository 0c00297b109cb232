//! The trace step: the event-loop model run in a child process with
//! tracing on, a few requests fired at it, and the timeline it wrote as
//! JSON when its loop ended read back.
//!
//! Invariant: the timeline file has a name of its own per run; the child
//! writes it with [`write()`] as its loop ends, and [`record_with`] removes
//! it before the child starts and again once the child has stopped, read
//! or not.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use waiter_proto::{parse_response, Decoder, Limits, Method};

use super::{Timeline, TraceOptions, REQUESTS, STAGGER};
use crate::app::AppConfig;
use crate::child::ModelProcess;
use crate::servers::{Model, ModelOptions};

/// Writes `timeline` as JSON to `path`.
pub(crate) fn write(timeline: &Timeline, path: &Path) -> io::Result<()> {
    let json = serde_json::to_string(timeline).map_err(io::Error::other)?;
    std::fs::write(path, json)
}

/// The lab's trace step: the event-loop model, in a child process pinned
/// to `model_cpus` like every step, serving `app`; [`REQUESTS`] requests
/// sent [`STAGGER`] apart on connections opened beforehand. Returns the
/// timeline the model recorded.
pub fn record(app: &AppConfig, model_cpus: Option<&str>) -> io::Result<Timeline> {
    record_with(app, REQUESTS, STAGGER, model_cpus)
}

/// [`record`] with `requests` requests sent `stagger` apart.
pub fn record_with(
    app: &AppConfig,
    requests: usize,
    stagger: Duration,
    model_cpus: Option<&str>,
) -> io::Result<Timeline> {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "waiter-lab-timeline-{}-{}.json",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&path);
    let mut app = app.clone();
    app.cpu_iters = 0;
    app.trace = Some(TraceOptions {
        requests,
        out: path.clone(),
    });
    let child = ModelProcess::spawn(
        &ModelOptions::new(Model::EventLoop, app.clone()),
        model_cpus,
    )?;
    let fired = fire(child.addr(), requests, stagger);
    child.stop();
    let read = std::fs::read_to_string(&path);
    let _ = std::fs::remove_file(&path);
    let statuses = fired?;
    if let Some(s) = statuses.iter().find(|&&s| s != 200) {
        return Err(io::Error::other(format!(
            "a traced request was answered {s}"
        )));
    }
    let json =
        read.map_err(|e| io::Error::new(e.kind(), format!("the model wrote no trace: {e}")))?;
    let mut t: Timeline = serde_json::from_str(&json).map_err(io::Error::other)?;
    if t.requests.len() != requests {
        return Err(io::Error::other(format!(
            "the trace holds {} requests, not {requests}",
            t.requests.len()
        )));
    }
    t.stagger_ms = stagger.as_secs_f64() * 1000.0;
    t.db_delay_ms = app.delay.as_secs_f64() * 1000.0;
    Ok(t)
}

/// Opens `n` connections to `addr`, lets the server accept them, then
/// sends `GET /item/<k>` on connection `k` (1-based), `stagger` apart, and
/// reads every response. Returns the status codes, in order.
pub fn fire(addr: SocketAddr, n: usize, stagger: Duration) -> io::Result<Vec<u16>> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        conns.push(s);
    }
    // Connections accepted before the trace starts stay out of it.
    std::thread::sleep(Duration::from_millis(50));
    for (k, s) in conns.iter_mut().enumerate() {
        if k > 0 {
            std::thread::sleep(stagger);
        }
        write!(s, "GET /item/{} HTTP/1.1\r\nHost: lab\r\n\r\n", k + 1)?;
    }
    conns.iter_mut().map(read_status).collect()
}

/// Reads one response from `s` and returns its status.
fn read_status(s: &mut TcpStream) -> io::Result<u16> {
    let limits = Limits::default();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut fill = |buf: &mut Vec<u8>| -> io::Result<()> {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        Ok(())
    };
    let head = loop {
        if let Some(p) = parse_response(&buf, &limits, &Method::Get).map_err(io::Error::other)? {
            break p;
        }
        fill(&mut buf)?;
    };
    buf.drain(..head.head_len);
    let mut dec = Decoder::new(head.body, &limits, head.head_len);
    loop {
        let d = dec.decode(&buf).map_err(io::Error::other)?;
        buf.drain(..d.consumed);
        if d.done {
            break;
        }
        if d.consumed == 0 {
            fill(&mut buf)?;
        }
    }
    Ok(head.head.status.as_u16())
}
