//! The connection registry, and parking of idle connections.
//!
//! Every open connection has an [`Entry`] in the server's slab, under a key
//! it keeps for its whole life. A busy connection is `Active`: a task runs
//! its driver (`drive.rs`) over a shared [`ConnShared`]. A connection idle
//! between requests is `Parked`: its task has finished and all that remains
//! is a [`Parked`] record (the socket, the peer's address, when it went
//! idle, how many requests it served), the reactor's entry for the socket,
//! and a small waker. That is what an idle keep-alive connection costs, as
//! nginx keeps only its connection structure: no task, no future, no
//! parser, no buffer.
//!
//! **Parking.** The driver parks when it would otherwise wait for the next
//! request: nothing is buffered in either direction, the parser is between
//! requests, the server is not draining, and no one else holds the
//! connection (a handler may keep a request body). When it parks depends on
//! how many idle connections keep their task: up to `park_above` do, each
//! until the sweep has seen it idle for [`PARK_IDLE`], so busy keep-alive
//! connections keep their task between requests (parking and restarting
//! one costs a task, a connection state and a waker allocated and freed,
//! and cold memory touched; bench/README.md has what that came to at
//! 5,000 busy connections); past that many, a connection parks as
//! soon as it goes idle. The count is held by the waiting driver
//! (`IdleSlot` in `drive.rs`) and given back when its wait ends, however
//! it ends. It then asks the socket for read readiness with a
//! [`ParkWaker`] instead of its own waker:
//!
//! **Invariant: a parked socket with bytes to read is never forgotten.** The
//! reactor is edge-triggered, so the check and the registration are one
//! step: `poll_read_ready` either reports readiness (bits not yet cleared by
//! a `WouldBlock`, so data, an EOF or an error may be there), and the driver
//! goes on reading instead of parking, or stores the park waker, which any
//! later edge wakes. Nothing runs between that call and the entry becoming
//! `Parked` (both happen in one poll, on the loop thread).
//!
//! **Resuming.** A park waker pushes `(key, generation)` onto the server's
//! [`ReadyQueue`] and wakes one task per server, `resume_loop`, which starts
//! a driver for each parked entry still of that generation. The queue and
//! the wakers are thread-safe, as every waker must be; the reactor only
//! ever wakes them on the loop thread. A connection resumed by a stray edge
//! (no bytes after all) parks again after its `WouldBlock`.
//!
//! **Timeouts and closing.** The sweep applies the idle timeouts to parked
//! connections from their record (`headers_timeout` before the first
//! request, `keep_alive_timeout` after), and closing a parked connection
//! (timeout, `close_idle_connections`, shutdown) shuts its socket down and
//! drops the record; no task is involved.

use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Wake, Waker};
use std::time::Duration;

use waiter_rt::net::TcpStream;

use super::conn::{ConnShared, Phase};
use super::{drive, Handler, ServerConfig, ServerInner};

/// How long a connection stays idle with its task before the sweep asks it
/// to park, when the server holds few connections.
pub(crate) const PARK_IDLE: Duration = Duration::from_secs(1);

/// One open connection in the registry.
pub(crate) enum Entry {
    /// A connection with a running task.
    Active {
        /// Its state, shared with the task.
        shared: Rc<ConnShared>,
        /// Its task, to cancel it when a shutdown's grace period is over.
        task: Option<waiter_rt::JoinHandle<()>>,
    },
    /// An idle connection without a task.
    Parked(Parked),
    /// Briefly, while an entry changes form (never across an await).
    Moving,
}

impl Entry {
    /// The generation of a parked connection.
    fn parked_gen(&self) -> Option<u32> {
        match self {
            Entry::Parked(p) => Some(p.gen),
            _ => None,
        }
    }

    /// The task of an active connection.
    pub(crate) fn take_task(&mut self) -> Option<waiter_rt::JoinHandle<()>> {
        match self {
            Entry::Active { task, .. } => task.take(),
            _ => None,
        }
    }
}

/// What remains of a connection idle between requests.
pub(crate) struct Parked {
    /// The socket, still registered with the reactor.
    pub(crate) stream: TcpStream,
    /// The client's address.
    pub(crate) remote: SocketAddr,
    /// When it went idle, in milliseconds since the server started (rounded
    /// up, so a timeout never fires early).
    pub(crate) idle_since_ms: u64,
    /// Requests served so far.
    pub(crate) served: u64,
    /// Which park this is; a wakeup of an older one is ignored.
    pub(crate) gen: u32,
}

impl Parked {
    /// Whether its idle timeout has passed at `now_ms`.
    fn expired(&self, now_ms: u64, c: &ServerConfig) -> bool {
        let limit = if self.served == 0 {
            c.headers_timeout
        } else {
            c.keep_alive_timeout
        };
        u128::from(now_ms.saturating_sub(self.idle_since_ms)) > limit.as_millis()
    }

    /// Closes the socket, with a FIN as an active connection's close sends.
    fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// Parked connections whose sockets became ready, and the task that
/// restarts them.
#[derive(Debug, Default)]
pub(crate) struct ReadyQueue {
    /// Behind one lock: wakers may be woken from any thread.
    inner: Mutex<Ready>,
}

/// See [`ReadyQueue`].
#[derive(Debug, Default)]
struct Ready {
    /// `(key, generation)` of each woken park.
    list: Vec<(usize, u32)>,
    /// `resume_loop`'s waker.
    task: Option<Waker>,
    /// `resume_loop` was woken and has not taken the list yet.
    notified: bool,
}

impl ReadyQueue {
    fn push(&self, key: usize, gen: u32) {
        let waker = {
            let mut r = lock(&self.inner);
            r.list.push((key, gen));
            if r.notified {
                None
            } else {
                r.notified = r.task.is_some();
                r.task.clone()
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Moves the woken parks into `out` (empty); stores `waker` for the
    /// next ones.
    fn take(&self, out: &mut Vec<(usize, u32)>, waker: &Waker) {
        let mut r = lock(&self.inner);
        std::mem::swap(out, &mut r.list);
        r.notified = false;
        if !r.task.as_ref().is_some_and(|w| w.will_wake(waker)) {
            r.task = Some(waker.clone());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The read waker of a parked socket.
struct ParkWaker {
    /// The connection's key.
    key: usize,
    /// The park's generation.
    gen: u32,
    /// Where the wakeup goes.
    queue: Arc<ReadyQueue>,
}

impl Wake for ParkWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.queue.push(self.key, self.gen);
    }
}

/// Restarts parked connections as their sockets become ready.
pub(crate) async fn resume_loop<H: Handler>(server: Rc<ServerInner>, handler: Rc<H>) {
    let mut batch = Vec::new();
    loop {
        std::future::poll_fn(|cx| {
            server.ready.take(&mut batch, cx.waker());
            if batch.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        for (key, gen) in batch.drain(..) {
            server.resume(key, gen, &handler);
        }
    }
}

impl ServerInner {
    /// Makes `key` an active connection and starts its task.
    pub(crate) fn start<H: Handler>(
        self: &Rc<Self>,
        key: usize,
        shared: Rc<ConnShared>,
        h: &Rc<H>,
    ) {
        let old = std::mem::replace(
            &mut self.conns.borrow_mut()[key],
            Entry::Active {
                shared: shared.clone(),
                task: None,
            },
        );
        drop(old);
        let (s, h) = (self.clone(), h.clone());
        let task = waiter_rt::spawn_named("http connection", async move {
            match drive::serve(&shared, &*h, &s, key).await {
                Some(gen) => s.park(key, shared, gen, &h),
                None => s.remove(key),
            }
        });
        if let Some(Entry::Active { task: t, .. }) = self.conns.borrow_mut().get_mut(key) {
            *t = Some(task);
        }
    }

    /// A waker for parking connection `key`, and the park's generation.
    pub(crate) fn park_waker(&self, key: usize) -> (Waker, u32) {
        let gen = self.next_gen.get();
        self.next_gen.set(gen.wrapping_add(1));
        let w = ParkWaker {
            key,
            gen,
            queue: self.ready.clone(),
        };
        (Waker::from(Arc::new(w)), gen)
    }

    /// Parks connection `key`, whose driver has just registered the park
    /// waker of generation `gen` and is finishing.
    fn park<H: Handler>(self: &Rc<Self>, key: usize, shared: Rc<ConnShared>, gen: u32, h: &Rc<H>) {
        let mut old = std::mem::replace(&mut self.conns.borrow_mut()[key], Entry::Moving);
        if let Some(task) = old.take_task() {
            // The task is finishing: it called us.
            task.detach();
        }
        // The registry's reference goes first, so ours is the last one.
        drop(old);
        match Rc::try_unwrap(shared) {
            Ok(conn) => {
                let since = conn.idle_since().saturating_duration_since(self.started);
                let parked = conn.into_parked(ceil_ms(since), gen);
                self.conns.borrow_mut()[key] = Entry::Parked(parked);
                self.released.set(self.released.get() + 1);
            }
            // Held elsewhere after all (the driver checked that it was not,
            // in the same poll, so this is a bug): keep a task, which waits
            // in place of the park waker and never parks.
            Err(shared) => {
                debug_assert!(false, "a parking connection is still shared");
                shared.never_park();
                self.start(key, shared, h);
            }
        }
    }

    /// Restarts parked connection `key` if generation `gen` is still parked.
    fn resume<H: Handler>(self: &Rc<Self>, key: usize, gen: u32, h: &Rc<H>) {
        let parked = {
            let mut conns = self.conns.borrow_mut();
            match conns.get_mut(key) {
                Some(e) if e.parked_gen() == Some(gen) => std::mem::replace(e, Entry::Moving),
                _ => return,
            }
        };
        let Entry::Parked(p) = parked else {
            unreachable!("matched above")
        };
        let idle_since = self.started + Duration::from_millis(p.idle_since_ms);
        let shared =
            ConnShared::from_parked(p, idle_since, self.config.clone(), self.lines.clone());
        self.start(key, Rc::new(shared), h);
    }

    /// Forgets connection `key`: detaches a finishing task, or closes a
    /// parked socket; wakes whoever waits for a free slot or for the end.
    pub(crate) fn remove(&self, key: usize) {
        let entry = self.conns.borrow_mut().try_remove(key);
        self.released.set(self.released.get() + 1);
        match entry {
            Some(Entry::Active {
                task: Some(task), ..
            }) => task.detach(),
            Some(Entry::Parked(p)) => p.close(),
            _ => {}
        }
        if let Some(w) = self.accept_waker.borrow_mut().take() {
            w.wake();
        }
        if self.is_closed() {
            for w in self.closed_wakers.borrow_mut().drain(..) {
                w.wake();
            }
        }
    }

    /// Active connections, for a pass that may run code on each.
    fn active(&self) -> Vec<Rc<ConnShared>> {
        let conns = self.conns.borrow();
        conns
            .iter()
            .filter_map(|(_, e)| match e {
                Entry::Active { shared, .. } => Some(shared.clone()),
                _ => None,
            })
            .collect()
    }

    /// Keys of the parked connections for which `f` holds.
    fn parked_where(&self, f: impl Fn(&Parked) -> bool) -> Vec<usize> {
        let conns = self.conns.borrow();
        conns
            .iter()
            .filter_map(|(k, e)| match e {
                Entry::Parked(p) if f(p) => Some(k),
                _ => None,
            })
            .collect()
    }

    /// The timeout sweep (see the table in the module docs of `server`).
    pub(crate) fn sweep(&self) {
        let now = waiter_rt::time::now();
        for c in self.active() {
            c.check_timeouts(now, &self.config);
            if c.phase() == Phase::Idle
                && now.saturating_duration_since(c.idle_since()) >= PARK_IDLE
            {
                c.request_park();
            }
        }
        // A parked or closed connection has freed its task and state (over
        // a kilobyte), but the allocator keeps the pages: after a burst of
        // connections goes idle, thousands of them would stay in the
        // resident set for good. Once enough have been freed since memory
        // was last handed back, hand it back. (Those asked to park just now
        // count at a later sweep: they park over the following loop turns,
        // at most a task budget's worth per turn.)
        if self.released.get() >= RELEASE_AFTER {
            self.released.set(0);
            waiter_rt::sys::release_free_memory();
        }
        let now_ms = millis(now.saturating_duration_since(self.started));
        for key in self.parked_where(|p| p.expired(now_ms, &self.config)) {
            tracing::debug!("idle connection timed out");
            self.remove(key);
        }
    }

    /// Closes every connection idle between requests.
    pub(crate) fn close_idle(&self) {
        for c in self.active() {
            if c.phase() == Phase::Idle {
                c.close();
            }
        }
        for key in self.parked_where(|_| true) {
            self.remove(key);
        }
    }
}

/// Connections parked or closed since memory was last handed back that
/// make the sweep hand freed memory back to the OS: enough for it to
/// matter (about a megabyte), few enough that a burst is caught.
const RELEASE_AFTER: usize = 512;

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn ceil_ms(d: Duration) -> u64 {
    millis(d + Duration::from_nanos(999_999))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_time_rounds_up_so_timeouts_never_fire_early() {
        assert_eq!(ceil_ms(Duration::from_millis(5)), 5);
        assert_eq!(ceil_ms(Duration::from_micros(5_001)), 6);
        assert_eq!(ceil_ms(Duration::ZERO), 0);
    }

    #[test]
    fn a_parked_connection_is_smaller_than_a_cache_line_and_a_half() {
        // What an idle connection costs in the registry (plus the reactor's
        // entry and a park waker); the driver's future is over a kilobyte.
        // 80 bytes in release builds; debug builds add 16 to mio's socket.
        assert!(
            std::mem::size_of::<Entry>() <= 96,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }
}
