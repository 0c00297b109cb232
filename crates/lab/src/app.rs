//! The app every server model runs: one "database" round trip per request.
//!
//! `GET /item/<id>` asks the database service for row `<id>` (or, with
//! [`Wait::Timer`], sleeps the same delay and builds the row itself), may
//! burn some CPU, and answers `200` with [`render_body`]: about 60 bytes
//! of JSON. Every model builds exactly these bytes and frames them with
//! `waiter_proto` (the event-loop model through `waiter_http`, which uses
//! it), so the models differ only in how they wait.
//!
//! Invariants:
//! - The response body depends only on the id, so tests can check bytes.
//! - CPU work is a fixed number of hash iterations ([`AppConfig::cpu_iters`],
//!   calibrated once by the orchestrator), not a wall-clock time, so every
//!   model burns the same work per request even when threads are preempted.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use waiter_proto::{ResponseHead, StatusCode};

/// What a request waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wait {
    /// One round trip to the database service.
    Db,
    /// A plain sleep of [`AppConfig::delay`] (no network).
    Timer,
    /// Nothing.
    None,
}

/// The app's settings, identical for every model of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppConfig {
    /// What each request waits on.
    pub wait: Wait,
    /// The database service (for [`Wait::Db`]).
    pub db_addr: Option<SocketAddr>,
    /// The sleep for [`Wait::Timer`].
    pub delay: Duration,
    /// Hash iterations burnt per request (0: none).
    pub cpu_iters: u64,
    /// The event-loop model runs the CPU work on waiter's pool instead of
    /// the loop (thread and process models always run it on their worker).
    pub cpu_on_pool: bool,
    /// Persistent multiplexed database connections of the event-loop model.
    pub db_connections: usize,
    /// Record a timeline of the first requests (the event-loop model
    /// records it; the other models ignore it). `None`, the default:
    /// nothing is recorded.
    #[serde(default)]
    pub trace: Option<crate::trace::TraceOptions>,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            wait: Wait::Db,
            db_addr: None,
            delay: crate::db::DEFAULT_DELAY,
            cpu_iters: 0,
            cpu_on_pool: false,
            db_connections: 8,
            trace: None,
        }
    }
}

/// The id in a `/item/<id>` target; 0 for any other target.
pub fn item_id(target: &str) -> u64 {
    target
        .strip_prefix("/item/")
        .and_then(|s| s.split(['?', '/']).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Appends the database row for `id` (about 40 bytes of JSON).
pub fn write_db_row(out: &mut Vec<u8>, id: u64) {
    let _ = write!(
        out,
        r#"{{"id":{id},"name":"item {:06}","stock":{}}}"#,
        id % 1_000_000,
        id.wrapping_mul(7919) % 1000
    );
}

/// The database row for `id`.
pub fn db_row(id: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(48);
    write_db_row(&mut v, id);
    v
}

/// The response body for a database row.
pub fn render_body(row: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(row.len() + 20);
    v.extend_from_slice(br#"{"ok":true,"item":"#);
    v.extend_from_slice(row);
    v.push(b'}');
    v
}

/// The head of a 200 response (the connection adds framing fields).
pub fn response_head() -> ResponseHead {
    let mut head = ResponseHead::new(StatusCode::OK);
    head.headers.insert("content-type", "application/json");
    head.headers.insert(
        "date",
        httpdate::fmt_http_date(std::time::SystemTime::now()),
    );
    head
}

/// Burns `iters` rounds of a 64-bit mixing hash; returns the hash so the
/// work cannot be optimised away.
pub fn burn(iters: u64) -> u64 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..iters {
        h ^= i;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
    }
    std::hint::black_box(h)
}

/// Hash iterations that take about `d` of CPU on this machine.
pub fn calibrate(d: Duration) -> u64 {
    if d.is_zero() {
        return 0;
    }
    let mut iters = 100_000u64;
    loop {
        let t = Instant::now();
        burn(iters);
        let took = t.elapsed();
        if took >= Duration::from_millis(20) {
            let per_iter = took.as_secs_f64() / iters as f64;
            return ((d.as_secs_f64() / per_iter) as u64).max(1);
        }
        iters *= 4;
    }
}

/// A blocking database connection, one per worker thread or process.
#[derive(Debug)]
pub struct BlockingDb {
    /// The buffered socket.
    stream: BufReader<TcpStream>,
    /// The reply line being read.
    line: Vec<u8>,
}

impl BlockingDb {
    /// Connects to the service.
    pub fn connect(addr: SocketAddr) -> io::Result<BlockingDb> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(BlockingDb {
            stream: BufReader::new(s),
            line: Vec::with_capacity(64),
        })
    }

    /// One query: sends `Q <id>`, blocks for the reply, returns the row.
    pub fn query(&mut self, id: u64) -> io::Result<Vec<u8>> {
        writeln!(self.stream.get_mut(), "Q {id}")?;
        self.line.clear();
        if self.stream.read_until(b'\n', &mut self.line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        match crate::db::parse_reply(line) {
            Some((rid, row)) if rid == id => Ok(row.to_vec()),
            _ => Err(io::Error::new(io::ErrorKind::InvalidData, "bad db reply")),
        }
    }
}

/// Runs the app for `target` on a blocking worker (thread or process),
/// connecting `db` on first use. Returns the response body.
pub fn handle_blocking(
    cfg: &AppConfig,
    db: &mut Option<BlockingDb>,
    target: &str,
) -> io::Result<Vec<u8>> {
    let id = item_id(target);
    let row = match cfg.wait {
        Wait::Db => {
            let conn = match db {
                Some(c) => c,
                None => {
                    let addr = cfg
                        .db_addr
                        .ok_or_else(|| io::Error::other("no database address"))?;
                    db.insert(BlockingDb::connect(addr)?)
                }
            };
            match conn.query(id) {
                Ok(row) => row,
                Err(e) => {
                    *db = None;
                    return Err(e);
                }
            }
        }
        Wait::Timer => {
            std::thread::sleep(cfg.delay);
            db_row(id)
        }
        Wait::None => db_row(id),
    };
    if cfg.cpu_iters > 0 {
        burn(cfg.cpu_iters);
    }
    Ok(render_body(&row))
}

/// 503 Service Unavailable: the answer when the database cannot be reached.
pub fn unavailable() -> StatusCode {
    StatusCode::from_u16(503).expect("503 is a valid status")
}
