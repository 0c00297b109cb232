//! Name resolution on the pool's slow class.
//!
//! `getaddrinfo` blocks, sometimes for seconds, so it runs on the pool as a
//! "slow" job: at most half the workers resolve names at once, and the other
//! half stay free for files (libuv's rule). Literal addresses never reach
//! the pool.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::pool::{submit_class, Class};

/// Resolves `host` to socket addresses with `port`.
pub async fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let h = host.to_owned();
    let r = submit_class(Class::Slow, move || {
        (h.as_str(), port).to_socket_addrs().map(|a| a.collect())
    })
    .await;
    match r {
        Ok(r) => r,
        Err(e) => Err(io::Error::other(e.to_string())),
    }
}

/// Resolves `host` to IP addresses.
pub async fn lookup_host(host: &str) -> io::Result<Vec<IpAddr>> {
    Ok(lookup(host, 0).await?.into_iter().map(|a| a.ip()).collect())
}
