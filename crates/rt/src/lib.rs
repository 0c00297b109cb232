//! waiter's runtime: one thread, one event loop, I/O that never blocks it.
//!
//! A [`Loop`] runs libuv's phases over mio: timers, pending callbacks, poll
//! for I/O, check (immediates), close callbacks. Between every two callbacks
//! it drains Node's next-tick and microtask queues. Async tasks run on the
//! same thread and need not be `Send`, so state can be shared with `Rc` and
//! `RefCell` and no lock is ever taken. Blocking work (files, DNS, CPU-heavy
//! jobs) goes to a worker [`pool`], whose completions come back to the loop.
//!
//! ```
//! use std::{cell::RefCell, rc::Rc, time::Duration};
//!
//! let log = Rc::new(RefCell::new(Vec::new()));
//! waiter_rt::run(async {
//!     let l = log.clone();
//!     let task = waiter_rt::spawn_local(async move {
//!         waiter_rt::sleep(Duration::from_millis(5)).await;
//!         l.borrow_mut().push("task");
//!         42
//!     });
//!     log.borrow_mut().push("main");
//!     assert_eq!(task.await.unwrap(), 42);
//! });
//! assert_eq!(*log.borrow(), ["main", "task"]);
//! ```
//!
//! See `docs/event-loop.md` for one iteration step by step.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod callbacks;
pub mod diag;
pub mod dns;
mod event_loop;
pub mod fs;
pub mod net;
pub mod pool;
mod reactor;
pub mod signal;
pub mod sys;
mod task;
pub mod time;
pub mod timers;

pub use callbacks::{
    clear_immediate, next_tick, queue_close, queue_microtask, queue_pending, set_immediate,
    Immediate,
};
pub use diag::{metrics, monitor_event_loop_delay, Metrics};
pub use event_loop::{run, EnterGuard, Loop, LoopBuilder, ManualClock, RunMode};
pub use pool::spawn_blocking;
pub use task::{
    panic_message, spawn_local, spawn_named, yield_now, JoinError, JoinHandle, TASK_BUDGET,
};
pub use time::{clear_timeout, set_interval, set_timeout, sleep, sleep_until, timeout, Timer};
