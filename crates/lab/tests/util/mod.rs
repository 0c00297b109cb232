//! Helpers shared by the lab's tests: a tiny blocking HTTP client that
//! parses responses with `waiter_proto`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use waiter_proto::{parse_response, Decoder, Limits, Method};

/// One parsed response.
#[derive(Debug)]
pub(crate) struct Resp {
    /// Status code.
    pub(crate) status: u16,
    /// `content-type`, if any.
    pub(crate) content_type: Option<String>,
    /// The body.
    pub(crate) body: Vec<u8>,
}

/// A keep-alive connection.
pub(crate) struct Client {
    /// The socket.
    stream: TcpStream,
    /// Unparsed bytes.
    buf: Vec<u8>,
}

impl Client {
    /// Connects, with a 5 s read timeout.
    pub(crate) fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends `GET /item/<id>` for each id in one write (pipelined).
    pub(crate) fn send(&mut self, ids: &[u64]) {
        let mut out = Vec::new();
        for id in ids {
            write!(out, "GET /item/{id} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        }
        self.stream.write_all(&out).unwrap();
    }

    /// Reads one complete response.
    pub(crate) fn recv(&mut self) -> Resp {
        let limits = Limits::default();
        let head = loop {
            if let Some(p) = parse_response(&self.buf, &limits, &Method::Get).unwrap() {
                break p;
            }
            self.fill();
        };
        self.buf.drain(..head.head_len);
        let mut dec = Decoder::new(head.body, &limits, head.head_len);
        let mut body = Vec::new();
        loop {
            let d = dec.decode(&self.buf).unwrap();
            body.extend_from_slice(&self.buf[d.data.clone()]);
            self.buf.drain(..d.consumed);
            if d.done {
                break;
            }
            if d.consumed == 0 {
                self.fill();
            }
        }
        Resp {
            status: head.head.status.as_u16(),
            content_type: head.head.headers.get_str("content-type").map(str::to_owned),
            body,
        }
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).unwrap();
        assert!(n > 0, "server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}

/// The body every model must send for item `id`.
pub(crate) fn expected_body(id: u64) -> Vec<u8> {
    waiter_lab::app::render_body(&waiter_lab::app::db_row(id))
}
