//! Read buffers: small by default, grown on demand, pooled per thread.
//!
//! A connection holds a read buffer only while it has unconsumed bytes to
//! parse; between requests, and while a handler works on a request whose
//! bytes were all consumed, it gives the buffer back. So an idle or waiting
//! connection costs no buffer at all.
//!
//! Buffers start at [`SMALL`], enough for typical request heads and a
//! burst of pipelined requests, and double (up to [`LARGE`]) when a read
//! fills all the room there was, which is what a large head or a streaming
//! upload looks like. Only small buffers are pooled, so the pool's size is
//! bounded by [`POOL_MAX`] × [`SMALL`].

use std::cell::RefCell;

/// The size of a new read buffer.
pub(crate) const SMALL: usize = 4 * 1024;

/// The largest read buffer: above the parser's head limit (16 KiB), and
/// large enough that a streaming upload costs one read per 64 KiB.
pub(crate) const LARGE: usize = 64 * 1024;

/// Small buffers kept for reuse (1 MiB in all); more are freed.
const POOL_MAX: usize = 256;

/// The capacity of a new output buffer, and the largest one pooled.
pub(crate) const OUT: usize = 8 * 1024;

thread_local! {
    static POOL: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
    static OUT_POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty output buffer with room for a few responses.
pub(crate) fn take_out() -> Vec<u8> {
    OUT_POOL
        .with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| Vec::with_capacity(OUT))
}

/// Returns an output buffer; large ones are freed.
pub(crate) fn give_out(mut v: Vec<u8>) {
    if v.capacity() == 0 || v.capacity() > OUT {
        return;
    }
    v.clear();
    OUT_POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_MAX {
            p.push(v);
        }
    });
}

/// A small buffer from the pool, or a new one.
pub(crate) fn take() -> Box<[u8]> {
    POOL.with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| vec![0u8; SMALL].into_boxed_slice())
}

/// Returns a buffer; only small ones are kept.
pub(crate) fn give(b: Box<[u8]>) {
    if b.len() != SMALL {
        return;
    }
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_MAX {
            p.push(b);
        }
    });
}

/// A buffer twice as large (at most [`LARGE`]) holding `old[start..end]`
/// at its beginning. The old buffer goes back to the pool.
pub(crate) fn grow(old: Box<[u8]>, start: usize, end: usize) -> Box<[u8]> {
    let mut b = vec![0u8; (old.len() * 2).min(LARGE)].into_boxed_slice();
    b[..end - start].copy_from_slice(&old[start..end]);
    give(old);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growing_keeps_the_data_and_stops_at_large() {
        let mut b = take();
        b[10..20].copy_from_slice(b"0123456789");
        let mut b = grow(b, 10, 20);
        assert_eq!(b.len(), 2 * SMALL);
        assert_eq!(&b[..10], b"0123456789");
        while b.len() < LARGE {
            let n = b.len();
            b = grow(b, 0, n);
        }
        let b = grow(b, 0, 10);
        assert_eq!(b.len(), LARGE);
        assert_eq!(&b[..10], b"0123456789");
    }
}
