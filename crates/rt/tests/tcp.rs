//! TCP on real loopback sockets: echo, half-close, errors surfacing as
//! `io::Error`s, timeouts, and no leaked descriptors.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use waiter_rt::net::{ListenOptions, TcpListener, TcpStream};
use waiter_rt::Loop;

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[test]
fn echo_with_a_std_client_then_half_close() {
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        let l = TcpListener::bind(any_port()).unwrap();
        let addr = l.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"hello over loopback").unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let mut back = String::new();
            s.read_to_string(&mut back).unwrap();
            back
        });
        let (s, peer) = l.accept().await.unwrap();
        assert_eq!(peer, s.peer_addr().unwrap());
        let mut buf = [0u8; 4];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).await.unwrap();
        }
        s.shutdown(Shutdown::Write).unwrap();
        let back = waiter_rt::spawn_blocking(move || client.join().unwrap())
            .await
            .unwrap();
        assert_eq!(back, "hello over loopback");
    });
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    // Bind then drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind(any_port())
        .unwrap()
        .local_addr()
        .unwrap();
    waiter_rt::run(async move {
        let err = TcpStream::connect(port).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn connect_timeout_fires_on_a_full_backlog() {
    // A listener that never accepts, with the smallest backlog: once the
    // backlog is full, further SYNs are dropped and connects hang.
    let l = ListenOptions {
        backlog: 0,
        ..Default::default()
    };
    waiter_rt::run(async move {
        let listener = l.bind(any_port()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut held = vec![];
        let mut timed_out = false;
        for _ in 0..64 {
            match TcpStream::connect_timeout(addr, Duration::from_millis(200)).await {
                Ok(s) => held.push(s),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
                    timed_out = true;
                    break;
                }
            }
        }
        assert!(timed_out, "64 connects succeeded on a backlog of 0");
    });
}

#[test]
fn a_reset_peer_surfaces_as_an_error_not_a_panic() {
    waiter_rt::run(async {
        let l = TcpListener::bind(any_port()).unwrap();
        let addr = l.local_addr().unwrap();
        let c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        // SO_LINGER 0 makes close send RST.
        let raw = socket2::SockRef::from(&c);
        raw.set_linger(Some(Duration::ZERO)).unwrap();
        drop(c);
        waiter_rt::sleep(Duration::from_millis(20)).await;
        let mut buf = [0u8; 16];
        let err = s.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        // Writing to it fails too (EPIPE or ECONNRESET), without SIGPIPE
        // killing the process: Rust ignores SIGPIPE.
        let mut failed = false;
        for _ in 0..10 {
            if s.write_all(&[0u8; 1024]).await.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);
    });
}

#[test]
fn reads_wait_for_data_and_see_eof() {
    waiter_rt::run(async {
        let l = TcpListener::bind(any_port()).unwrap();
        let addr = l.local_addr().unwrap();
        let c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let reader = waiter_rt::spawn_local(async move {
            let mut all = vec![];
            let mut buf = [0u8; 3];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    return all;
                }
                all.extend_from_slice(&buf[..n]);
            }
        });
        for chunk in [&b"ab"[..], b"cdefg", b"h"] {
            waiter_rt::sleep(Duration::from_millis(5)).await;
            c.write_all(chunk).await.unwrap();
        }
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(reader.await.unwrap(), b"abcdefgh");
    });
}

#[test]
fn large_writes_apply_backpressure_and_complete() {
    waiter_rt::run(async {
        let l = TcpListener::bind(any_port()).unwrap();
        let addr = l.local_addr().unwrap();
        let c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let total = 32 * 1024 * 1024;
        let writer = waiter_rt::spawn_local(async move {
            let chunk = vec![7u8; 256 * 1024];
            let mut sent = 0;
            while sent < total {
                sent += c.write(&chunk).await.unwrap();
            }
            c.shutdown(Shutdown::Write).unwrap();
            sent
        });
        let mut got = 0;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            assert!(buf[..n].iter().all(|&b| b == 7));
            got += n;
        }
        assert_eq!(got, writer.await.unwrap());
    });
}

#[test]
fn a_vectored_write_of_more_slices_than_writev_takes_does_not_stall() {
    waiter_rt::run(async {
        let l = TcpListener::bind(any_port()).unwrap();
        let addr = l.local_addr().unwrap();
        let c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        // Registered and seen writable once, as a connection in use is.
        c.write_all(b"start").await.unwrap();
        waiter_rt::sleep(Duration::from_millis(20)).await;
        let slices = vec![[b'v'; 10]; 2000];
        let total = 5 + 2 * slices.len() * 10;
        let reader = waiter_rt::spawn_local(async move {
            let mut got = 0;
            let mut buf = vec![0u8; 64 * 1024];
            while got < total {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0);
                got += n;
            }
            got
        });
        let write = async {
            for _ in 0..2 {
                let mut left = &slices[..];
                while !left.is_empty() {
                    let io: Vec<_> = left.iter().map(|b| std::io::IoSlice::new(b)).collect();
                    let n = c.write_vectored(&io).await.unwrap();
                    assert_eq!(n % 10, 0);
                    left = &left[n / 10..];
                }
            }
        };
        waiter_rt::timeout(Duration::from_secs(5), write)
            .await
            .expect("the vectored writes stalled");
        assert_eq!(reader.await.unwrap(), total);
    });
}

#[test]
fn connections_and_loops_leak_no_descriptors() {
    let before = util::open_fds();
    for _ in 0..3 {
        let lp = Loop::new().unwrap();
        lp.block_on(async {
            let l = TcpListener::bind(any_port()).unwrap();
            let addr = l.local_addr().unwrap();
            for _ in 0..50 {
                let c = TcpStream::connect(addr).await.unwrap();
                let (s, _) = l.accept().await.unwrap();
                c.write_all(b"x").await.unwrap();
                let mut b = [0u8; 1];
                s.read(&mut b).await.unwrap();
            }
            // Tasks left pending on the loop hold sockets too.
            let c = TcpStream::connect(addr).await.unwrap();
            waiter_rt::spawn_local(async move {
                let mut b = [0u8; 1];
                let _ = c.read(&mut b).await;
            })
            .detach();
            waiter_rt::yield_now().await;
        });
    }
    // Other tests in this binary run in parallel and open sockets of their
    // own; retry briefly until they are done.
    let mut after = util::open_fds();
    for _ in 0..100 {
        if after <= before {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        after = util::open_fds();
    }
    assert!(
        after <= before,
        "{before} descriptors before, {after} after"
    );
}

#[test]
fn an_unref_listener_lets_run_return() {
    let lp = Loop::new().unwrap();
    let alive = lp.run_main(
        || {
            let l = TcpListener::bind(any_port()).unwrap();
            l.unref();
            waiter_rt::spawn_local(async move {
                let _ = l.accept().await;
            })
            .detach();
        },
        waiter_rt::RunMode::Default,
    );
    assert!(!alive);
}
