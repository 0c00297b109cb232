//! waiter's HTTP load generator.
//!
//! [`run`] opens [`LoadOptions::connections`] keep-alive connections and
//! drives them for a duration (or a request count) on threads of its own,
//! each with its own waiter loop, independent of the server under test.
//!
//! - **Closed loop** (the default): each connection sends
//!   [`LoadOptions::pipeline`] requests, and a new one each time a response
//!   arrives. Latency counts from the actual send.
//! - **Open loop** ([`LoadOptions::rate`]): requests follow a fixed schedule
//!   (the rate split evenly over the connections, pipelined when a
//!   connection falls behind) and latency counts from the *scheduled* send
//!   time, so a stalled server is charged for the requests it kept the
//!   client from sending (coordinated-omission correction, as wrk2).
//!
//! Responses are parsed with `waiter_proto::parse_response` and its body
//! decoders. The report has throughput, latency percentiles from an
//! HdrHistogram, errors by kind, status codes, and the connections that
//! sent a request and never got any response before the end: wrk leaves
//! these out, and they are how a fixed worker pool fails under many
//! keep-alive connections.
//!
//! Invariants:
//! - A connection never has more than `pipeline` requests outstanding in
//!   closed-loop mode, nor more than [`MAX_OPEN_LOOP_BACKLOG`] in open-loop mode.
//! - Requests outstanding when the run ends are neither errors nor
//!   latencies; they are reported as [`LoadReport::in_flight_at_end`].

mod conn;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Most requests a connection may have outstanding in open-loop mode;
/// later scheduled requests wait (their latency still counts from their
/// scheduled time).
pub const MAX_OPEN_LOOP_BACKLOG: usize = 64;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The server.
    pub addr: SocketAddr,
    /// Concurrent connections.
    pub connections: usize,
    /// How long to run.
    pub duration: Duration,
    /// Stop after this many requests in total (whichever comes first).
    pub requests: Option<u64>,
    /// Open loop: requests per second over all connections.
    pub rate: Option<f64>,
    /// Requests outstanding per connection in closed-loop mode (>= 1).
    pub pipeline: usize,
    /// Each connection sends this many requests, then stays open and idle
    /// until the end (to measure the memory of idle keep-alive connections).
    pub requests_per_connection: Option<u64>,
    /// Load-generator threads, each with its own loop.
    pub threads: usize,
    /// A request unanswered this long counts as a timeout and its
    /// connection is reopened; `None` waits until the end.
    pub timeout: Option<Duration>,
    /// Connection attempts give up after this long.
    pub connect_timeout: Duration,
    /// Request targets are this prefix followed by a number.
    pub path_prefix: String,
    /// A fixed request to send instead (method, target, header fields and
    /// body); see [`FixedRequest`].
    pub fixed: Option<Arc<FixedRequest>>,
    /// Incremented for every response, for progress displays.
    pub progress: Option<Arc<AtomicU64>>,
}

impl LoadOptions {
    /// Closed loop, 10 s, one thread, no pipelining, `/item/<n>` targets.
    pub fn new(addr: SocketAddr, connections: usize) -> LoadOptions {
        LoadOptions {
            addr,
            connections,
            duration: Duration::from_secs(10),
            requests: None,
            rate: None,
            pipeline: 1,
            requests_per_connection: None,
            threads: 1,
            timeout: None,
            connect_timeout: Duration::from_secs(10),
            path_prefix: "/item/".into(),
            fixed: None,
            progress: None,
        }
    }
}

/// One request, encoded once and sent as is on every turn.
#[derive(Debug, Clone)]
pub struct FixedRequest {
    /// The method, which also tells how to read the response (HEAD has no body).
    pub method: waiter_proto::Method,
    /// The encoded request.
    pub bytes: Vec<u8>,
}

impl FixedRequest {
    /// Encodes a request with `Host`, the given header fields, and a
    /// Content-Length body when `body` is not empty (or the method is one
    /// that usually carries one).
    pub fn new(
        method: waiter_proto::Method,
        host: &str,
        target: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> FixedRequest {
        let mut bytes =
            format!("{} {target} HTTP/1.1\r\nHost: {host}\r\n", method.as_str()).into_bytes();
        for (k, v) in headers {
            bytes.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        let sends_body = !body.is_empty()
            || matches!(
                method,
                waiter_proto::Method::Post
                    | waiter_proto::Method::Put
                    | waiter_proto::Method::Patch
            );
        if sends_body {
            bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body);
        FixedRequest { method, bytes }
    }
}

/// Errors by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// Connection attempts that failed or timed out.
    pub connect: u64,
    /// Reads that failed, or the server closed with requests outstanding.
    pub read: u64,
    /// Writes that failed.
    pub write: u64,
    /// Requests unanswered for longer than [`LoadOptions::timeout`].
    pub timeout: u64,
    /// Responses `waiter_proto` rejected.
    pub parse: u64,
}

impl ErrorCounts {
    /// All errors.
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout + self.parse
    }

    fn add(&mut self, o: &ErrorCounts) {
        self.connect += o.connect;
        self.read += o.read;
        self.write += o.write;
        self.timeout += o.timeout;
        self.parse += o.parse;
    }
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
    /// Mean.
    pub mean_us: f64,
}

/// What one run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoadReport {
    /// Connections asked for.
    pub connections: usize,
    /// Connections that were established at least once.
    pub connected: u64,
    /// Wall time of the run, in seconds.
    pub elapsed_secs: f64,
    /// Requests written.
    pub sent: u64,
    /// Complete responses received.
    pub responses: u64,
    /// Responses per second.
    pub throughput: f64,
    /// Latency of the responses.
    pub latency: Latency,
    /// Errors by kind.
    pub errors: ErrorCounts,
    /// Responses by status code.
    pub status: BTreeMap<u16, u64>,
    /// Connections that sent a request and got no response at all.
    pub never_answered: u64,
    /// Connections that were never established (the server did not
    /// complete the handshake: its accept queue was full).
    pub never_connected: u64,
    /// Requests still unanswered when the run ended.
    pub in_flight_at_end: u64,
}

impl LoadReport {
    /// Connections that got no response at all: never answered or never
    /// connected.
    pub fn unserved(&self) -> u64 {
        self.never_answered + self.never_connected
    }

    /// Responses with a 2xx status.
    pub fn ok_responses(&self) -> u64 {
        self.status
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }
}

/// What one thread gathered.
#[derive(Debug)]
pub(crate) struct ThreadStats {
    /// Latencies in microseconds.
    pub(crate) hist: Histogram<u64>,
    /// The report's counters (latency and throughput are filled at the end).
    pub(crate) report: LoadReport,
}

impl ThreadStats {
    fn new() -> ThreadStats {
        ThreadStats {
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
            report: LoadReport::default(),
        }
    }
}

/// Settings shared by every connection of a run.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The options.
    pub(crate) opts: LoadOptions,
    /// When the run started.
    pub(crate) start: Instant,
    /// When it ends.
    pub(crate) deadline: Instant,
    /// Requests that may still be sent (for [`LoadOptions::requests`]).
    pub(crate) budget: AtomicI64,
}

/// Runs the load and returns what it measured. Blocks the calling thread.
pub fn run(opts: LoadOptions) -> LoadReport {
    let _ = waiter_rt::sys::raise_nofile_limit();
    let threads = opts.threads.clamp(1, opts.connections.max(1));
    let start = Instant::now();
    let shared = Arc::new(Shared {
        deadline: start + opts.duration,
        start,
        budget: AtomicI64::new(opts.requests.map_or(i64::MAX, |n| n as i64)),
        opts,
    });
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let sh = shared.clone();
            std::thread::Builder::new()
                .name(format!("lab-load-{t}"))
                .spawn(move || conn::run_thread(&sh, t, threads))
                .expect("cannot start a load thread")
        })
        .collect();
    let mut total = ThreadStats::new();
    for h in handles {
        let Ok(s) = h.join() else { continue };
        let _ = total.hist.add(&s.hist);
        merge(&mut total.report, &s.report);
    }
    finish(total, shared.opts.connections, start.elapsed())
}

fn merge(into: &mut LoadReport, r: &LoadReport) {
    into.connected += r.connected;
    into.sent += r.sent;
    into.responses += r.responses;
    into.errors.add(&r.errors);
    for (s, n) in &r.status {
        *into.status.entry(*s).or_default() += n;
    }
    into.never_answered += r.never_answered;
    into.never_connected += r.never_connected;
    into.in_flight_at_end += r.in_flight_at_end;
}

fn finish(total: ThreadStats, connections: usize, elapsed: Duration) -> LoadReport {
    let h = &total.hist;
    let mut r = total.report;
    r.connections = connections;
    r.elapsed_secs = elapsed.as_secs_f64();
    r.throughput = r.responses as f64 / r.elapsed_secs.max(1e-9);
    if !h.is_empty() {
        r.latency = Latency {
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: h.mean(),
        };
    }
    r
}
