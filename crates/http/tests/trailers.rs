//! Trailer fields. Those that end a chunked request body reach the handler
//! once it has read the body (`RequestBody::take_trailers`); a handler's own
//! (`Response::with_trailers`) end its response, which is then chunked,
//! with the fields RFC 9110 keeps out of trailers dropped, and none at all
//! for HTTP/1.0, HEAD, invalid fields or a panicking maker. On the wire,
//! and with Node's `http` client, which sends and reads trailers.

mod util;

use std::cell::Cell;
use std::io::{self, Write};
use std::pin::Pin;
use std::process::Command;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use util::{body, connect, exchange, get, lower_head, read_to_close, run, start};
use waiter_http::{Body, Headers, Request, Response, Server};

/// `name=value` pairs joined by `;`, or `none`.
fn fields(h: Option<&Headers>) -> String {
    h.map_or_else(
        || "none".to_owned(),
        |h| {
            let all: Vec<String> = h
                .iter()
                .map(|(n, v)| format!("{n}={}", String::from_utf8_lossy(v)))
                .collect();
            all.join(";")
        },
    )
}

/// A body of fixed parts that counts the bytes it has handed out.
struct Counted {
    parts: std::vec::IntoIter<&'static str>,
    sent: Rc<Cell<usize>>,
}

impl futures_core::Stream for Counted {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.parts.next();
        Poll::Ready(next.map(|p| {
            self.sent.set(self.sent.get() + p.len());
            Ok(Bytes::from_static(p.as_bytes()))
        }))
    }
}

fn trailers(pairs: &[(&str, &str)]) -> Headers {
    let mut h = Headers::new();
    for (n, v) in pairs {
        h.append(n, v);
    }
    h
}

async fn app(mut req: Request) -> Response {
    match req.path() {
        "/echo" => {
            let before = fields(req.body_mut().take_trailers().as_ref());
            let data = req.body_mut().bytes(1 << 20).await.unwrap_or_default();
            let after = fields(req.body_mut().take_trailers().as_ref());
            // Taken once.
            assert!(req.body_mut().take_trailers().is_none());
            Response::text(format!(
                "{} before={before} after={after}",
                String::from_utf8_lossy(&data)
            ))
        }
        "/sum" => {
            let sent = Rc::new(Cell::new(0));
            let counted = sent.clone();
            let parts = vec!["one ", "two ", "three"].into_iter();
            Response::new(waiter_http::StatusCode::OK)
                .with_body(Body::stream(Counted { parts, sent }))
                .with_header("trailer", "x-bytes")
                .with_trailers(move || trailers(&[("x-bytes", &counted.get().to_string())]))
        }
        "/full" => Response::text("whole").with_trailers(|| {
            trailers(&[
                ("x-a", "1"),
                ("Content-Length", "99"),
                ("set-cookie", "a=b"),
                ("Transfer-Encoding", "gzip"),
                ("x-b", "2"),
            ])
        }),
        "/twice" => Response::text("twice")
            .with_trailers(|| trailers(&[("x-first", "1")]))
            .with_trailers(|| trailers(&[("x-second", "2")])),
        "/bad" => Response::text("bad").with_trailers(|| trailers(&[("x-bad", "a\r\nb")])),
        "/panic" => Response::text("panic").with_trailers(|| panic!("no trailers today")),
        "/forbidden" => Response::text("only forbidden")
            .with_trailers(|| trailers(&[("content-type", "text/html"), ("host", "x")])),
        _ => Response::text("no trailers"),
    }
}

/// The body of a chunked response, and its trailer section (the lines
/// between the last chunk and the final empty line).
fn dechunk(resp: &str) -> (String, String) {
    let mut rest = body(resp);
    let mut data = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("a chunk-size line");
        let n = usize::from_str_radix(size, 16).expect("a hex chunk size");
        if n == 0 {
            let end = after.find("\r\n\r\n").map_or(0, |i| i + 2);
            let (trailer, tail) = after.split_at(end);
            assert!(tail.starts_with("\r\n"), "an empty line ends {resp:?}");
            return (data, trailer.to_owned());
        }
        data.push_str(&after[..n]);
        rest = after[n..]
            .strip_prefix("\r\n")
            .expect("CRLF after the data");
    }
}

#[test]
fn request_trailers_reach_the_handler_once_the_body_is_read() {
    let srv = start(Server::builder(), || app);
    let resp = exchange(
        srv.addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          5\r\nhello\r\n0\r\nX-Sum: 42\r\nX-Note: a b\r\n\r\n",
    );
    assert_eq!(
        body(&resp),
        "hello before=none after=X-Sum=42;X-Note=a b",
        "{resp}"
    );
    // A chunked body without trailers, and a Content-Length body.
    let resp = exchange(
        srv.addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          2\r\nhi\r\n0\r\n\r\n",
    );
    assert_eq!(body(&resp), "hi before=none after=none", "{resp}");
    let resp = exchange(
        srv.addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    );
    assert_eq!(body(&resp), "hi before=none after=none", "{resp}");
}

#[test]
fn a_streamed_response_ends_with_trailers_made_after_its_body() {
    let srv = start(Server::builder(), || app);
    let resp = get(srv.addr, "/sum");
    let head = lower_head(&resp);
    assert!(head.contains("\r\ntransfer-encoding: chunked"), "{resp}");
    assert!(head.contains("\r\ntrailer: x-bytes"), "{resp}");
    assert_eq!(
        dechunk(&resp),
        ("one two three".to_owned(), "x-bytes: 13\r\n".to_owned())
    );
}

#[test]
fn a_whole_body_with_trailers_goes_chunked_without_forbidden_fields() {
    let srv = start(Server::builder(), || app);
    let resp = get(srv.addr, "/full");
    let head = lower_head(&resp);
    assert!(head.contains("\r\ntransfer-encoding: chunked"), "{resp}");
    assert!(!head.contains("content-length"), "{resp}");
    assert_eq!(
        dechunk(&resp),
        ("whole".to_owned(), "x-a: 1\r\nx-b: 2\r\n".to_owned())
    );
    // Given twice, both makers' fields go out, in order.
    let resp = get(srv.addr, "/twice");
    assert_eq!(
        dechunk(&resp),
        (
            "twice".to_owned(),
            "x-first: 1\r\nx-second: 2\r\n".to_owned()
        )
    );
    // Nothing left once the forbidden fields are gone.
    let resp = get(srv.addr, "/forbidden");
    assert_eq!(dechunk(&resp), ("only forbidden".to_owned(), String::new()));
}

#[test]
fn http10_and_head_get_no_trailers() {
    let srv = start(Server::builder(), || app);
    let resp = exchange(srv.addr, b"GET /full HTTP/1.0\r\n\r\n");
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.contains("\r\ncontent-length: 5\r\n"), "{resp}");
    assert_eq!(body(&resp), "whole", "{resp}");
    let resp = exchange(srv.addr, b"GET /sum HTTP/1.0\r\n\r\n");
    assert_eq!(body(&resp), "one two three", "{resp}");
    assert!(!resp.contains("x-bytes:"), "{resp}");
    let resp = exchange(
        srv.addr,
        b"HEAD /full HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert_eq!(body(&resp), "", "{resp}");
}

#[test]
fn invalid_or_panicking_trailers_leave_the_response_whole_and_the_connection_open() {
    let srv = start(Server::builder(), || app);
    let mut s = connect(srv.addr);
    s.write_all(
        b"GET /bad HTTP/1.1\r\nHost: x\r\n\r\nGET /panic HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let all = read_to_close(&mut s);
    let responses: Vec<&str> = all.split("HTTP/1.1 200 OK\r\n").skip(1).collect();
    assert_eq!(responses.len(), 3, "{all}");
    for (r, want) in responses[..2].iter().zip(["bad", "panic"]) {
        let r = format!("HTTP/1.1 200 OK\r\n{r}");
        assert_eq!(dechunk(&r), (want.to_owned(), String::new()), "{all}");
    }
    assert_eq!(body(responses[2]), "no trailers", "{all}");
}

#[test]
fn node_sends_and_reads_trailers() {
    let srv = start(Server::builder(), || app);
    let script = r#"
const http = require('http');
const port = Number(process.argv[1]);
const opts = { host: '127.0.0.1', port };
http.get({ ...opts, path: '/sum' }, (res) => {
  let got = '';
  res.setEncoding('utf8');
  res.on('data', (d) => { got += d; });
  res.on('end', () => {
    const req = http.request({ ...opts, path: '/echo', method: 'POST', headers: { Trailer: 'X-Sum' } }, (r) => {
      let echo = '';
      r.setEncoding('utf8');
      r.on('data', (d) => { echo += d; });
      r.on('end', () => console.log(JSON.stringify({ body: got, trailers: res.trailers, echo })));
    });
    req.write('abc');
    req.addTrailers({ 'X-Sum': '3' });
    req.end();
  });
});
"#;
    let out = run(Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(srv.addr.port().to_string()));
    assert_eq!(
        out.trim(),
        r#"{"body":"one two three","trailers":{"x-bytes":"13"},"echo":"abc before=none after=X-Sum=3"}"#
    );
}

#[test]
fn the_client_reads_a_responses_trailers_after_its_body() {
    waiter_rt::run(async {
        let s = Server::builder()
            .listen("127.0.0.1:0".parse().unwrap(), app)
            .unwrap();
        let c = waiter_http::Client::new();
        let url = |p: &str| format!("http://{}{p}", s.local_addr());
        let mut r = c.get(&url("/sum")).send().await.unwrap();
        assert!(r.trailers().is_none(), "none before the body is read");
        assert_eq!(r.text().await.unwrap(), "one two three");
        assert_eq!(fields(r.trailers()), "x-bytes=13");
        let mut r = c.get(&url("/plain")).send().await.unwrap();
        assert_eq!(r.text().await.unwrap(), "no trailers");
        assert_eq!(fields(r.trailers()), "none");
        // And the client's chunked upload is what the handler sees.
        let parts = ["a", "b"].map(|p| Ok(Bytes::from_static(p.as_bytes())));
        let up = c
            .post(&url("/echo"))
            .body_stream(futures_util::stream::iter(parts));
        let mut r = up.send().await.unwrap();
        assert_eq!(r.text().await.unwrap(), "ab before=none after=none");
        s.shutdown(std::time::Duration::from_millis(100)).await;
    });
}

#[test]
fn the_client_sends_trailers_and_refuses_fields_that_may_not_be_trailers() {
    waiter_rt::run(async {
        let s = Server::builder()
            .listen("127.0.0.1:0".parse().unwrap(), app)
            .unwrap();
        let c = waiter_http::Client::new();
        let echo = format!("http://{}/echo", s.local_addr());
        let sum = || trailers(&[("x-sum", "3")]);
        // In memory, streamed, and with no body at all: all go chunked.
        let mut r = c
            .post(&echo)
            .body("abc")
            .trailers(sum())
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), "abc before=none after=x-sum=3");
        let parts = ["a", "bc"].map(|p| Ok(Bytes::from_static(p.as_bytes())));
        let up = c
            .post(&echo)
            .header("content-length", "3")
            .body_stream(futures_util::stream::iter(parts))
            .trailers(sum());
        let mut r = up.send().await.unwrap();
        assert_eq!(r.text().await.unwrap(), "abc before=none after=x-sum=3");
        let mut r = c.post(&echo).trailers(sum()).send().await.unwrap();
        assert_eq!(r.text().await.unwrap(), " before=none after=x-sum=3");
        for bad in [("Host", "x"), ("content-length", "3"), ("x-bad", "a\r\nb")] {
            let e = c
                .post(&echo)
                .body("abc")
                .trailers(trailers(&[bad]))
                .send()
                .await
                .unwrap_err();
            assert_eq!(
                e.kind(),
                waiter_http::ClientErrorKind::InvalidRequest,
                "{bad:?}: {e}"
            );
        }
        s.shutdown(std::time::Duration::from_millis(100)).await;
    });
}
