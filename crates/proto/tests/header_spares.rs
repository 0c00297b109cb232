//! Header maps reuse the buffers of dropped maps, also after a burst: a
//! server that answers a thousand requests in one loop iteration drops a
//! thousand request maps together and parses as many on the next one.
//! Allocations are counted on this thread by `allocation_counter`.

use waiter_proto::{parse_request, Limits, ParsedRequest};

const HEAD: &[u8] = b"GET /sleep HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: t\r\n\r\n";

/// Parses `n` requests into `live`, all live at once; returns how many
/// allocations that took.
fn burst(n: usize, live: &mut Vec<ParsedRequest>) -> u64 {
    let limits = Limits::default();
    allocation_counter::measure(|| {
        for _ in 0..n {
            let req = parse_request(HEAD, &limits).unwrap().unwrap();
            assert_eq!(req.head.headers.len(), 2);
            live.push(req);
        }
    })
    .count_total
}

#[test]
fn a_burst_of_a_thousand_maps_is_rebuilt_from_the_spares_of_the_last() {
    let mut live = Vec::with_capacity(1000);
    let first = burst(1000, &mut live);
    assert!(first >= 1000, "the first burst allocates ({first})");
    live.clear();
    let second = burst(1000, &mut live);
    assert_eq!(second, 0, "allocations for maps rebuilt from spares");
}

#[test]
fn spares_past_the_pool_are_freed_and_allocated_again() {
    // Past the pool's size, maps pay for their buffers: the pool is bounded.
    let mut live = Vec::with_capacity(4000);
    burst(4000, &mut live);
    live.clear();
    let again = burst(4000, &mut live);
    assert!(again >= 2000, "a bounded pool: {again} allocations");
}
