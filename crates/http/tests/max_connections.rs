//! The connection cap: past `max_connections`, a client waits in the
//! backlog until a served connection closes, and is then served.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use util::{body, connect, read_responses, start};
use waiter_http::{Request, Response, Server};

fn get(s: &mut std::net::TcpStream, path: &str) {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
}

#[test]
fn a_client_past_the_cap_waits_until_a_connection_closes() {
    let srv = start(Server::builder().max_connections(2), || {
        |req: Request| async move { Response::text(req.target().to_owned()) }
    });
    let mut a = connect(srv.addr);
    let mut b = connect(srv.addr);
    for (s, path) in [(&mut a, "/a"), (&mut b, "/b")] {
        get(s, path);
        assert_eq!(body(&read_responses(s, 1)[0]), path);
    }
    // The third connection completes in the kernel's backlog, but the
    // server does not take it while two are open.
    let mut c = connect(srv.addr);
    get(&mut c, "/c");
    c.set_read_timeout(Some(Duration::from_millis(600)))
        .unwrap();
    let mut buf = [0u8; 256];
    match c.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("the third client was served past the cap: {other:?}"),
    }
    // The open ones are still served.
    get(&mut b, "/b2");
    assert_eq!(body(&read_responses(&mut b, 1)[0]), "/b2");
    // One closes: the waiting client is taken and answered.
    let closed = Instant::now();
    drop(a);
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(body(&read_responses(&mut c, 1)[0]), "/c");
    assert!(
        closed.elapsed() < Duration::from_secs(2),
        "{:?}",
        closed.elapsed()
    );
}
