//! Name resolution: `localhost` through the system resolver on the pool,
//! literal addresses without the pool, and names that cannot resolve.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use waiter_rt::dns::{lookup, lookup_host};
use waiter_rt::Loop;

#[test]
fn localhost_resolves_to_a_loopback_address_on_the_pool() {
    let lp = Loop::new().unwrap();
    let (addrs, hosts) = lp.block_on(async {
        (
            lookup("localhost", 80).await.unwrap(),
            lookup_host("localhost").await.unwrap(),
        )
    });
    assert!(!addrs.is_empty());
    for a in &addrs {
        assert!(a.ip().is_loopback(), "{a}");
        assert_eq!(a.port(), 80);
    }
    assert!(
        !hosts.is_empty() && hosts.iter().all(IpAddr::is_loopback),
        "{hosts:?}"
    );
    let m = lp.metrics();
    assert!(m.pool_threads > 0, "the lookup went through the pool");
    assert_eq!(m.active_requests, 0);
}

#[test]
fn literal_addresses_resolve_without_the_pool() {
    let lp = Loop::new().unwrap();
    let got = lp.block_on(async {
        let mut got = vec![];
        for (host, port) in [
            ("127.0.0.1", 8080),
            ("[::1]", 443),
            ("::1", 1),
            ("10.1.2.3", 0),
            ("[fe80::1]", 9),
        ] {
            got.push(lookup(host, port).await.unwrap());
        }
        got.push(
            lookup_host("192.168.0.1")
                .await
                .unwrap()
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 0))
                .collect(),
        );
        got
    });
    let v4 = |a, b, c, d, port| SocketAddr::new(Ipv4Addr::new(a, b, c, d).into(), port);
    let v6 = |s: &str, port| SocketAddr::new(s.parse::<Ipv6Addr>().unwrap().into(), port);
    assert_eq!(
        got,
        [
            vec![v4(127, 0, 0, 1, 8080)],
            vec![v6("::1", 443)],
            vec![v6("::1", 1)],
            vec![v4(10, 1, 2, 3, 0)],
            vec![v6("fe80::1", 9)],
            vec![v4(192, 168, 0, 1, 0)],
        ]
    );
    let m = lp.metrics();
    assert_eq!(m.pool_threads, 0, "a literal started the pool");
    assert_eq!(m.active_requests, 0);
}

#[test]
fn a_name_that_cannot_resolve_gives_an_io_error() {
    let lp = Loop::new().unwrap();
    let start = Instant::now();
    lp.block_on(async {
        // `.invalid` never resolves (RFC 6761); without a reachable DNS
        // server the lookup fails too, just differently.
        let e = lookup("no-such-host.invalid", 80).await.unwrap_err();
        assert!(!e.to_string().is_empty());
        assert!(lookup_host("no-such-host.invalid").await.is_err());
        // Names the resolver rejects before asking anyone.
        assert!(lookup("bad\0name", 80).await.is_err());
        assert!(
            lookup("[::1", 80).await.is_err(),
            "an unclosed bracket is no literal"
        );
    });
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "failing lookups took {:?}",
        start.elapsed()
    );
    assert_eq!(lp.metrics().active_requests, 0);
}
