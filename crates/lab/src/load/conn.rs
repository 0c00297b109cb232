//! One load-generator thread: a waiter loop driving its share of the
//! connections, each a task that reconnects when its connection ends.
//!
//! Invariants:
//! - Only one task writes to a socket: the connection's reader in
//!   closed-loop mode, its scheduler in open-loop mode.
//! - `outstanding` holds one start time per request written and not yet
//!   answered, oldest first; responses pop it in order (HTTP/1.1 answers
//!   in order).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io::Write;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use waiter_proto::{Decoder, Limits, Method};
use waiter_rt::net::TcpStream;

use super::{Shared, ThreadStats, MAX_OPEN_LOOP_BACKLOG};
use crate::local::Notify;

/// One logical connection's life across reconnects.
#[derive(Debug, Default)]
struct Slot {
    /// Requests written.
    sent: Cell<u64>,
    /// Responses received.
    answered: Cell<u64>,
    /// Requests outstanding now.
    outstanding: Cell<usize>,
    /// Established at least once.
    connected: Cell<bool>,
}

/// What a thread's connections share.
struct Ctx {
    /// The run.
    sh: Arc<Shared>,
    /// This thread's numbers.
    stats: RefCell<ThreadStats>,
    /// Parsing limits for responses.
    limits: Limits,
}

impl Ctx {
    /// Takes one request from the run's budget.
    fn claim(&self) -> bool {
        self.sh.budget.fetch_sub(1, Ordering::Relaxed) > 0
    }

    fn error(&self, f: impl FnOnce(&mut super::ErrorCounts)) {
        f(&mut self.stats.borrow_mut().report.errors);
    }

    fn record(&self, slot: &Slot, started: Instant, status: u16) {
        let us = started.elapsed().as_micros().max(1) as u64;
        let mut st = self.stats.borrow_mut();
        let _ = st.hist.record(us.min(3_600_000_000));
        st.report.responses += 1;
        *st.report.status.entry(status).or_default() += 1;
        slot.answered.set(slot.answered.get() + 1);
        if let Some(p) = &self.sh.opts.progress {
            p.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs connections `t, t + threads, ...` until the deadline or until the
/// request budget is spent.
pub(crate) fn run_thread(sh: &Arc<Shared>, t: usize, threads: usize) -> ThreadStats {
    let lp = waiter_rt::Loop::new().expect("cannot create the load generator's loop");
    let ctx = Rc::new(Ctx {
        sh: sh.clone(),
        stats: RefCell::new(ThreadStats::new()),
        limits: Limits::default(),
    });
    let slots: Vec<Rc<Slot>> = (t..sh.opts.connections)
        .step_by(threads)
        .map(|_| Rc::new(Slot::default()))
        .collect();
    lp.block_on(async {
        let live = Rc::new(Cell::new(slots.len()));
        let all_done = Rc::new(Notify::default());
        let tasks: Vec<_> = slots
            .iter()
            .enumerate()
            .map(|(k, slot)| {
                let (ctx, slot, live, done) =
                    (ctx.clone(), slot.clone(), live.clone(), all_done.clone());
                waiter_rt::spawn_local(async move {
                    run_slot(&ctx, &slot, t + k * threads).await;
                    live.set(live.get() - 1);
                    if live.get() == 0 {
                        done.notify();
                    }
                })
            })
            .collect();
        let finished = async {
            while live.get() > 0 {
                all_done.notified().await;
            }
        };
        first(waiter_rt::sleep_until(sh.deadline), finished).await;
        drop(tasks);
    });
    let mut stats = ctx.stats.replace(ThreadStats::new());
    for s in &slots {
        stats.report.connected += u64::from(s.connected.get());
        stats.report.never_connected += u64::from(!s.connected.get());
        stats.report.sent += s.sent.get();
        stats.report.in_flight_at_end += s.outstanding.get() as u64;
        if s.sent.get() > 0 && s.answered.get() == 0 {
            stats.report.never_answered += 1;
        }
    }
    drop(lp);
    stats
}

/// Waits for whichever of `a` and `b` finishes first.
async fn first(a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Connects, drives, reconnects, until the work is done.
async fn run_slot(ctx: &Rc<Ctx>, slot: &Rc<Slot>, idx: usize) {
    let o = &ctx.sh.opts;
    loop {
        let stream = match TcpStream::connect_timeout(o.addr, o.connect_timeout).await {
            Ok(s) => Rc::new(s),
            Err(_) => {
                ctx.error(|e| e.connect += 1);
                waiter_rt::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        slot.connected.set(true);
        slot.outstanding.set(0);
        let mut c = Connection::new(ctx.clone(), slot.clone(), stream, idx);
        let more = match o.rate {
            Some(rate) => c.open_loop(rate).await,
            None => c.closed_loop().await,
        };
        if !more {
            return;
        }
    }
}

/// One TCP connection of a slot.
struct Connection {
    /// The thread's context.
    ctx: Rc<Ctx>,
    /// The slot it belongs to.
    slot: Rc<Slot>,
    /// The socket.
    stream: Rc<TcpStream>,
    /// Start times of outstanding requests (shared with the scheduler).
    outstanding: Rc<RefCell<VecDeque<Instant>>>,
    /// Wakes the open-loop scheduler when a response frees a place.
    freed: Rc<Notify>,
    /// Response bytes not yet parsed.
    buf: Vec<u8>,
    /// The response whose body is being read: status, decoder, keep-alive.
    body: Option<(u16, Decoder, bool)>,
    /// The slot's index, for request targets.
    idx: usize,
}

impl Connection {
    fn new(ctx: Rc<Ctx>, slot: Rc<Slot>, stream: Rc<TcpStream>, idx: usize) -> Connection {
        Connection {
            ctx,
            slot,
            stream,
            outstanding: Rc::new(RefCell::new(VecDeque::new())),
            freed: Rc::new(Notify::default()),
            buf: Vec::with_capacity(4096),
            body: None,
            idx,
        }
    }

    /// Whether this slot may send one more request (claims budget).
    fn may_send(&self) -> bool {
        let per_conn = self.ctx.sh.opts.requests_per_connection;
        !matches!(per_conn, Some(n) if self.slot.sent.get() >= n) && self.ctx.claim()
    }

    /// Closed loop: keep `pipeline` requests outstanding. Returns whether
    /// the slot should reconnect.
    async fn closed_loop(&mut self) -> bool {
        let depth = self.ctx.sh.opts.pipeline.max(1);
        loop {
            let mut out = Vec::new();
            while self.outstanding.borrow().len() < depth && self.may_send() {
                self.push_request(&mut out, Instant::now());
            }
            if !out.is_empty() && self.stream.write_all(&out).await.is_err() {
                self.ctx.error(|e| e.write += 1);
                return true;
            }
            if self.outstanding.borrow().is_empty() {
                return self.idle_or_done().await;
            }
            if self.read_some().await {
                return true;
            }
        }
    }

    /// Nothing left to send: with a per-connection limit, hold the
    /// connection open and idle until the end; otherwise finish.
    async fn idle_or_done(&self) -> bool {
        if self.ctx.sh.opts.requests_per_connection.is_some() {
            std::future::pending::<()>().await;
        }
        false
    }

    /// Open loop: a scheduler task writes requests on schedule while this
    /// task reads responses.
    async fn open_loop(&mut self, rate: f64) -> bool {
        let n = self.ctx.sh.opts.connections.max(1) as f64;
        let interval = Duration::from_secs_f64(n / rate.max(1e-9));
        let offset = interval.mul_f64(self.idx as f64 / n);
        let sched = self.spawn_scheduler(self.ctx.sh.start + offset, interval);
        while !self.read_some().await {}
        drop(sched);
        true
    }

    fn spawn_scheduler(&self, mut next: Instant, interval: Duration) -> waiter_rt::JoinHandle<()> {
        let me = self.handle();
        waiter_rt::spawn_local(async move {
            loop {
                waiter_rt::sleep_until(next).await;
                while me.outstanding.borrow().len() >= MAX_OPEN_LOOP_BACKLOG {
                    me.freed.notified().await;
                }
                if !me.may_send() {
                    return;
                }
                let mut out = Vec::new();
                me.push_request(&mut out, next);
                if me.stream.write_all(&out).await.is_err() {
                    me.ctx.error(|e| e.write += 1);
                    let _ = me.stream.shutdown(std::net::Shutdown::Both);
                    return;
                }
                next += interval;
            }
        })
    }

    /// A second handle on the same connection, for the scheduler task.
    fn handle(&self) -> Connection {
        Connection {
            ctx: self.ctx.clone(),
            slot: self.slot.clone(),
            stream: self.stream.clone(),
            outstanding: self.outstanding.clone(),
            freed: self.freed.clone(),
            buf: Vec::new(),
            body: None,
            idx: self.idx,
        }
    }

    /// Appends one request, started (or scheduled) at `at`.
    fn push_request(&self, out: &mut Vec<u8>, at: Instant) {
        let n = self.slot.sent.get();
        let id = (self.idx as u64) * 1_000_000 + n % 1_000_000;
        let o = &self.ctx.sh.opts;
        match &o.fixed {
            Some(f) => out.extend_from_slice(&f.bytes),
            None => {
                let _ = write!(
                    out,
                    "GET {}{id} HTTP/1.1\r\nHost: {}\r\n\r\n",
                    o.path_prefix, o.addr
                );
            }
        }
        self.slot.sent.set(n + 1);
        self.outstanding.borrow_mut().push_back(at);
        self.slot.outstanding.set(self.slot.outstanding.get() + 1);
    }
}

mod read;
