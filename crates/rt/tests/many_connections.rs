//! 10,000 concurrent TCP connections echoing through one loop.
//!
//! The server runs in this process on one loop; the clients run in a child
//! process (this same binary, re-executed), also on one waiter loop, so each
//! process stays under the per-process descriptor limit. The client opens
//! every connection first, then echoes several rounds on all of them at
//! once, so the server really holds all of them open together.
//!
//! This file has its own `main` (`harness = false`).

use std::cell::Cell;
use std::net::SocketAddr;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use waiter_rt::net::{TcpListener, TcpStream};

const CONNECTIONS: usize = 10_000;
const ROUNDS: usize = 3;
/// Connections opened at once by the client, so the SYN burst stays within
/// the listen backlog and no SYN is retransmitted.
const CONNECT_LANES: usize = 256;

fn main() {
    waiter_rt::sys::raise_nofile_limit().unwrap();
    match std::env::var("WAITER_MANY_CONNECTIONS_CLIENT") {
        Ok(addr) => client(addr.parse().unwrap()),
        Err(_) => server(),
    }
}

fn server() {
    let (soft, _) = waiter_rt::sys::nofile_limit().unwrap();
    assert!(
        soft as usize > CONNECTIONS + 100,
        "need more than {CONNECTIONS} descriptors, have {soft}"
    );
    let fds_before = waiter_rt::sys::open_fds().unwrap();
    let start = Instant::now();
    let lp = waiter_rt::Loop::new().unwrap();
    let (open, max_open, accepted, echoed) = lp.block_on(async {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("WAITER_MANY_CONNECTIONS_CLIENT", addr.to_string())
            .spawn()
            .unwrap();
        let open = Rc::new(Cell::new(0usize));
        let max_open = Rc::new(Cell::new(0usize));
        let accepted = Rc::new(Cell::new(0usize));
        let echoed = Rc::new(Cell::new(0usize));
        let (o, m, a, e) = (
            open.clone(),
            max_open.clone(),
            accepted.clone(),
            echoed.clone(),
        );
        let acceptor = waiter_rt::spawn_local(async move {
            loop {
                let (s, _) = listener.accept().await.unwrap();
                a.set(a.get() + 1);
                o.set(o.get() + 1);
                m.set(m.get().max(o.get()));
                let (o, e) = (o.clone(), e.clone());
                waiter_rt::spawn_local(async move {
                    let mut buf = [0u8; 256];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                s.write_all(&buf[..n]).await.unwrap();
                                e.set(e.get() + 1);
                            }
                        }
                    }
                    o.set(o.get() - 1);
                })
                .detach();
            }
        });
        let status = waiter_rt::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(180);
            loop {
                if let Some(s) = child.try_wait().unwrap() {
                    return s;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("client did not finish within 180 s");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await
        .unwrap();
        assert!(status.success(), "client failed: {status}");
        // Let the server see every EOF.
        let deadline = Instant::now() + Duration::from_secs(20);
        while open.get() > 0 && Instant::now() < deadline {
            waiter_rt::sleep(Duration::from_millis(10)).await;
        }
        drop(acceptor);
        (open.get(), max_open.get(), accepted.get(), echoed.get())
    });
    drop(lp);
    assert_eq!(accepted, CONNECTIONS);
    assert_eq!(
        max_open, CONNECTIONS,
        "all connections must be open at once"
    );
    assert_eq!(open, 0);
    assert!(echoed >= CONNECTIONS * ROUNDS);
    let fds_after = waiter_rt::sys::open_fds().unwrap();
    assert!(
        fds_after <= fds_before + 4,
        "descriptors leaked: {fds_before} before, {fds_after} after"
    );
    println!(
        "many_connections: {CONNECTIONS} concurrent connections x {ROUNDS} rounds on one loop in {:?}",
        start.elapsed()
    );
    println!("test result: ok. 1 passed; 0 failed; 0 ignored");
}

fn client(addr: SocketAddr) {
    waiter_rt::run(async move {
        // Open every connection, CONNECT_LANES at a time.
        let streams: Rc<std::cell::RefCell<Vec<TcpStream>>> = Rc::default();
        let next = Rc::new(Cell::new(0usize));
        let lanes: Vec<_> = (0..CONNECT_LANES)
            .map(|_| {
                let (streams, next) = (streams.clone(), next.clone());
                waiter_rt::spawn_local(async move {
                    while next.get() < CONNECTIONS {
                        next.set(next.get() + 1);
                        let s = TcpStream::connect_timeout(addr, Duration::from_secs(30))
                            .await
                            .expect("connect");
                        streams.borrow_mut().push(s);
                    }
                })
            })
            .collect();
        for l in lanes {
            l.await.unwrap();
        }
        let streams = std::mem::take(&mut *streams.borrow_mut());
        assert_eq!(streams.len(), CONNECTIONS);
        // Echo ROUNDS messages on every connection, all at once.
        let tasks: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                waiter_rt::spawn_local(async move {
                    for r in 0..ROUNDS {
                        let msg = format!("conn {i} round {r}\n");
                        s.write_all(msg.as_bytes()).await.unwrap();
                        let mut got = vec![0u8; msg.len()];
                        let mut n = 0;
                        while n < got.len() {
                            let k = s.read(&mut got[n..]).await.unwrap();
                            assert!(k > 0, "server closed early");
                            n += k;
                        }
                        assert_eq!(got, msg.as_bytes());
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}
