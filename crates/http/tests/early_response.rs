//! The client reads the response while it sends the request body: a server
//! that answers before the body is sent (a 413 for an upload too large)
//! is heard, and a connection whose body was not sent whole is not reused.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use waiter_http::{Client, Request, Response, Server, StatusCode};

const BIG: usize = 20 << 20;

/// waiter's server with a route that refuses uploads without reading them.
fn refusing_server() -> waiter_http::ServerHandle {
    Server::builder()
        .listen("127.0.0.1:0".parse().unwrap(), |req: Request| async move {
            match req.path() {
                "/port" => Response::text(req.remote_addr().port().to_string()),
                _ => Response::text(format!("too large {}", req.remote_addr().port()))
                    .with_status(StatusCode::from_u16(413).unwrap()),
            }
        })
        .unwrap()
}

#[test]
fn a_413_before_the_body_is_sent_is_the_response() {
    waiter_rt::run(async {
        let srv = refusing_server();
        let url = format!("http://{}/upload", srv.local_addr());
        let c = Client::builder()
            .response_timeout(Duration::from_secs(10))
            .build();
        let started = Instant::now();
        let mut r = c
            .post(&url)
            .body(Bytes::from(vec![b'x'; BIG]))
            .send()
            .await
            .expect("the early response");
        assert_eq!(r.status().as_u16(), 413);
        let first = r.text().await.unwrap();
        assert!(first.starts_with("too large "), "{first}");

        // A streamed body: the same, and the stream is not read to its end.
        let produced = std::rc::Rc::new(std::cell::Cell::new(0usize));
        let counter = produced.clone();
        let chunks = futures_util::stream::iter(0..BIG / 65536).map(move |_| {
            counter.set(counter.get() + 1);
            Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 65536]))
        });
        let mut r = c.post(&url).body_stream(chunks).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 413);
        let second = r.text().await.unwrap();
        assert!(second.starts_with("too large "), "{second}");
        assert!(produced.get() < BIG / 65536, "{} chunks", produced.get());
        assert!(started.elapsed() < Duration::from_secs(8));

        // A connection cut short is not reused: each upload had its own,
        // and the next request gets another.
        let port = |r: &str| r.rsplit(' ').next().unwrap().parse::<u16>().unwrap();
        let next_url = url.replace("/upload", "/port");
        let mut next = c.get(&next_url).send().await.unwrap();
        let next: u16 = next.text().await.unwrap().parse().unwrap();
        assert_ne!(port(&first), port(&second));
        assert_ne!(port(&second), next);
    });
}

/// Answers every request with 200 as soon as its head arrives, then reads
/// its body (`Content-Length`) before taking the next request.
fn eager_server() -> (String, thread::JoinHandle<usize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    let t = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut served = 0;
        loop {
            let mut len = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap() == 0 {
                    return served;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            served += 1;
        }
    });
    (url, t)
}

#[test]
fn an_early_200_still_gets_the_whole_body_and_the_connection_is_reused() {
    waiter_rt::run(async {
        let (url, t) = eager_server();
        let c = Client::new();
        for _ in 0..2 {
            let mut r = c
                .post(&url)
                .body(Bytes::from(vec![b'x'; 4 << 20]))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            assert_eq!(r.text().await.unwrap(), "ok");
        }
        drop(c);
        // Both requests went over the one connection, bodies whole.
        assert_eq!(t.join().unwrap(), 2);
    });
}
