//! Large bodies stream through bounded memory, both ways, with backpressure.

mod util;

use std::io::{Read, Write};
use std::time::Duration;

use util::{body, connect, start};
use waiter_http::{Body, Request, Response, Server};

const MIB: usize = 1 << 20;

#[test]
fn a_large_upload_is_read_in_chunks() {
    let srv = start(Server::builder(), || {
        |mut req: Request| async move {
            let mut n = 0usize;
            let mut largest = 0usize;
            while let Some(c) = req.body_mut().chunk().await.unwrap() {
                n += c.len();
                largest = largest.max(c.len());
            }
            Response::text(format!("{n} {largest}"))
        }
    });
    let mut s = connect(srv.addr);
    let total = 256 * MIB;
    s.write_all(
        format!(
            "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let chunk = vec![b'u'; MIB];
    for _ in 0..256 {
        s.write_all(&chunk).unwrap();
    }
    let r = util::read_to_close(&mut s);
    let (n, largest) = body(&r).split_once(' ').unwrap();
    assert_eq!(n.parse::<usize>().unwrap(), total);
    // Chunks are bounded by the read buffer, never the whole body.
    assert!(largest.parse::<usize>().unwrap() <= 64 * 1024, "{r}");
}

#[test]
fn a_streamed_download_waits_for_a_slow_reader() {
    // The producer may run ahead of the reader by at most the channel plus
    // the socket and output buffers; it must not buffer the whole body.
    let produced = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let p = produced.clone();
    let srv = start(Server::builder(), move || {
        move |_req: Request| {
            let p = p.clone();
            async move {
                let (tx, body) = Body::channel(2);
                waiter_rt::spawn_local(async move {
                    let chunk = bytes::Bytes::from(vec![b'd'; 64 * 1024]);
                    for _ in 0..1024 {
                        if tx.send(chunk.clone()).await.is_err() {
                            return;
                        }
                        p.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
                    }
                })
                .detach();
                Response::new(waiter_http::StatusCode::OK).with_body(body)
            }
        }
    });
    let mut s = connect(srv.addr);
    s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Read the head and a little, then pause.
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = s.read(&mut buf).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let ahead = produced.load(std::sync::atomic::Ordering::Relaxed) - got;
    assert!(
        ahead < 24 * MIB,
        "the producer ran {ahead} bytes ahead of a paused reader"
    );
    // Then read everything: 64 MiB of body, chunked.
    loop {
        match s.read(&mut buf).unwrap() {
            0 => break,
            n => got += n,
        }
    }
    assert!(got > 64 * MIB, "{got}");
    assert_eq!(
        produced.load(std::sync::atomic::Ordering::Relaxed),
        64 * MIB
    );
}

#[test]
fn a_streamed_chunk_goes_out_while_the_producer_waits() {
    // An event stream: one event, then nothing for a while. The head and
    // the event must reach the client at once, not with the next event.
    let srv = start(Server::builder(), || {
        |_req: Request| async move {
            let (tx, body) = Body::channel(2);
            waiter_rt::spawn_local(async move {
                let _ = tx.send("data: one\n\n").await;
                waiter_rt::sleep(Duration::from_millis(1500)).await;
                let _ = tx.send("data: two\n\n").await;
            })
            .detach();
            Response::new(waiter_http::StatusCode::OK)
                .with_header("content-type", "text/event-stream")
                .with_body(body)
        }
    });
    let mut s = connect(srv.addr);
    let started = std::time::Instant::now();
    s.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("data: one") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the first event");
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "the first event waited for the second: {:?}",
        started.elapsed()
    );
    let rest = util::read_to_close(&mut s);
    assert!(rest.contains("data: two"), "{rest}");
}

#[test]
fn a_file_body_is_sent_from_the_pool() {
    let path = std::env::temp_dir().join(format!("waiter-file-body-{}", std::process::id()));
    let data: Vec<u8> = (0..3 * MIB).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let p = path.clone();
    let srv = start(Server::builder(), move || {
        move |_req: Request| {
            let p = p.clone();
            async move {
                let file = waiter_rt::fs::File::open(&p).await.unwrap();
                let len = file.metadata().await.unwrap().len();
                Response::new(waiter_http::StatusCode::OK).with_body(Body::File {
                    file,
                    offset: 1000,
                    len: len - 2000,
                })
            }
        }
    });
    let mut s = connect(srv.addr);
    s.write_all(b"GET /f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(&all[split..], &data[1000..data.len() - 1000]);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn reading_stops_while_responses_wait_to_be_written() {
    // A client that pipelines many requests and never reads: the server
    // must stop reading (and thus stop producing responses) once its output
    // is backed up, instead of buffering responses without bound.
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    let srv = start(Server::builder(), move || {
        move |_req: Request| {
            c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move { Response::bytes("application/octet-stream", vec![b'r'; 16 * 1024]) }
        }
    });
    let mut s = connect(srv.addr);
    let one = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    s.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut sent = 0;
    for _ in 0..200_000 {
        if s.write_all(one).is_err() {
            break;
        }
        sent += 1;
    }
    std::thread::sleep(Duration::from_millis(300));
    let n = count.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        n < sent,
        "all {sent} requests were handled without any response being read"
    );
    assert!(n * 16 * 1024 < 256 * MIB, "{n} responses buffered");
}
