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
//! upload looks like. Small buffers are pooled, at most [`POOL_MAX`] of
//! them (1 MiB); of each larger size (8, 16, 32 and 64 KiB) at most
//! [`GROWN_MAX`] are kept (960 KiB in all), so a connection that grows its
//! buffer for every burst of pipelined requests or every large head does
//! not allocate and zero the larger buffers each time.

use std::cell::RefCell;

/// The size of a new read buffer.
pub(crate) const SMALL: usize = 4 * 1024;

/// The largest read buffer: above the parser's head limit (16 KiB), and
/// large enough that a streaming upload costs one read per 64 KiB.
pub(crate) const LARGE: usize = 64 * 1024;

/// Small buffers kept for reuse (1 MiB in all); more are freed.
const POOL_MAX: usize = 256;

/// Buffers of each size above [`SMALL`] kept for reuse.
const GROWN_MAX: usize = 8;

/// The sizes above [`SMALL`] a buffer grows through.
const GROWN_SIZES: usize = (LARGE / SMALL).trailing_zeros() as usize;

/// The capacity of a new output buffer, and the largest one pooled.
pub(crate) const OUT: usize = 8 * 1024;

thread_local! {
    static POOL: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
    static OUT_POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    /// Grown buffers, by size: `GROWN[i]` holds buffers of `SMALL << (i + 1)` bytes.
    static GROWN: RefCell<[Vec<Box<[u8]>>; GROWN_SIZES]> = const { RefCell::new([const { Vec::new() }; GROWN_SIZES]) };
}

/// The index in `GROWN` of buffers of `len` bytes, if that is a grown size.
fn grown_class(len: usize) -> Option<usize> {
    (len > SMALL && len <= LARGE && len.is_power_of_two())
        .then(|| (len / SMALL).trailing_zeros() as usize - 1)
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

/// Returns a buffer: small ones and grown ones (by size) are kept, up to
/// their pools' bounds.
pub(crate) fn give(b: Box<[u8]>) {
    if b.len() != SMALL {
        if let Some(class) = grown_class(b.len()) {
            let _ = GROWN.try_with(|g| {
                if let Ok(mut g) = g.try_borrow_mut() {
                    if g[class].len() < GROWN_MAX {
                        g[class].push(b);
                    }
                }
            });
        }
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
    let len = (old.len() * 2).min(LARGE);
    let spare = grown_class(len).and_then(|class| {
        GROWN
            .try_with(|g| g.try_borrow_mut().ok().and_then(|mut g| g[class].pop()))
            .ok()
            .flatten()
    });
    // A kept buffer's old bytes are never read: reads overwrite them first.
    let mut b = spare.unwrap_or_else(|| vec![0u8; len].into_boxed_slice());
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

    #[test]
    fn grown_buffers_are_kept_by_size_and_reused() {
        let small = take();
        let grown = grow(small, 0, 0);
        assert_eq!(grown.len(), 2 * SMALL);
        let at = grown.as_ptr();
        give(grown);
        // The next growth to that size takes the kept buffer.
        let again = grow(take(), 0, 0);
        assert_eq!(again.as_ptr(), at);
        // At most GROWN_MAX of a size are kept; other sizes are not mixed up.
        let many: Vec<_> = (0..GROWN_MAX + 3).map(|_| grow(take(), 0, 0)).collect();
        for b in many {
            give(b);
        }
        assert_eq!(GROWN.with(|g| g.borrow()[0].len()), GROWN_MAX);
        let odd = vec![0u8; 3 * SMALL].into_boxed_slice();
        give(odd);
        assert!(GROWN.with(|g| g
            .borrow()
            .iter()
            .flatten()
            .all(|b| b.len().is_power_of_two())));
        assert_eq!(grown_class(LARGE), Some(GROWN_SIZES - 1));
        assert_eq!(grown_class(SMALL), None);
    }
}
