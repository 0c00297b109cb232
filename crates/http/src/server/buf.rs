//! A per-thread pool of read buffers.
//!
//! A connection holds a read buffer only while it has unconsumed bytes or
//! a request in progress; between requests it gives the buffer back here,
//! so an idle keep-alive connection costs no buffer at all, and a busy one
//! reuses a warm buffer instead of allocating.

use std::cell::RefCell;

/// Size of a read buffer: the largest request head plus room for the next
/// pipelined requests.
pub(crate) const READ_BUF: usize = 32 * 1024;

/// Buffers kept for reuse; more are freed.
const POOL_MAX: usize = 1024;

thread_local! {
    static POOL: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A read buffer from the pool, or a new one.
pub(crate) fn take() -> Box<[u8]> {
    POOL.with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| vec![0u8; READ_BUF].into_boxed_slice())
}

/// Returns a buffer to the pool.
pub(crate) fn give(b: Box<[u8]>) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_MAX {
            p.push(b);
        }
    });
}
