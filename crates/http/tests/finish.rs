//! `Response::on_finish`: told when the whole response has been written,
//! or that it ended otherwise, and not before a streamed body is done.

mod util;

use std::io::{Read, Write};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use util::{connect, get, start};
use waiter_http::{Body, Request, Response, Server};

/// When each request's hooks ran, and with what.
type Report = (String, bool, Instant);

fn server(tx: Sender<Report>) -> util::TestServer {
    start(Server::builder(), move || {
        move |req: Request| {
            let tx = tx.clone();
            let path = req.path().to_owned();
            async move {
                let body = match path.as_str() {
                    // Three chunks, 150 ms apart.
                    "/slow" => {
                        let (send, body) = Body::channel(1);
                        waiter_rt::spawn_local(async move {
                            for _ in 0..3 {
                                waiter_rt::sleep(Duration::from_millis(150)).await;
                                if send
                                    .send(bytes::Bytes::from_static(b"tick\n"))
                                    .await
                                    .is_err()
                                {
                                    return;
                                }
                            }
                        })
                        .detach();
                        body
                    }
                    // Never ends.
                    "/endless" => {
                        let (send, body) = Body::channel(1);
                        waiter_rt::spawn_local(async move {
                            let chunk = bytes::Bytes::from(vec![b'e'; 64 * 1024]);
                            while send.send(chunk.clone()).await.is_ok() {}
                        })
                        .detach();
                        body
                    }
                    _ => Body::Full(bytes::Bytes::from_static(b"small")),
                };
                let (p, tx2) = (path.clone(), tx.clone());
                Response::text("")
                    .with_body(body)
                    .on_finish(move |complete| {
                        let _ = tx.send((p, complete, Instant::now()));
                    })
                    // A second hook runs too, after the first.
                    .on_finish({
                        let tx = tx2;
                        move |complete| {
                            let _ = tx.send((format!("{path} again"), complete, Instant::now()));
                        }
                    })
            }
        }
    })
}

fn next(rx: &Receiver<Report>) -> Report {
    rx.recv_timeout(Duration::from_secs(5))
        .expect("a finish hook ran")
}

#[test]
fn hooks_run_once_the_response_is_written() {
    let (tx, rx) = mpsc::channel();
    let srv = server(tx);
    let r = get(srv.addr, "/small");
    assert!(r.ends_with("small"), "{r}");
    let (p, complete, _) = next(&rx);
    assert_eq!((p.as_str(), complete), ("/small", true));
    let (p, complete, _) = next(&rx);
    assert_eq!((p.as_str(), complete), ("/small again", true));

    // A streamed body: the hooks wait for its last chunk.
    let mut s = connect(srv.addr);
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 16];
    s.read_exact(&mut head).unwrap();
    let head_at = Instant::now();
    assert!(rx.try_recv().is_err(), "finished before the body was sent");
    let rest = util::read_to_close(&mut s);
    assert_eq!(rest.matches("tick").count(), 3, "{rest}");
    let (p, complete, at) = next(&rx);
    assert_eq!((p.as_str(), complete), ("/slow", true));
    assert!(
        at.duration_since(head_at) >= Duration::from_millis(250),
        "{:?}",
        at.duration_since(head_at)
    );
    assert!(next(&rx).1);
}

#[test]
fn hooks_hear_of_a_response_cut_short() {
    let (tx, rx) = mpsc::channel();
    let srv = server(tx);
    let mut s = connect(srv.addr);
    s.write_all(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut some = [0u8; 4096];
    s.read_exact(&mut some).unwrap();
    assert!(rx.try_recv().is_err());
    drop(s);
    let (p, complete, _) = next(&rx);
    assert_eq!((p.as_str(), complete), ("/endless", false));
    assert!(!next(&rx).1);
}
