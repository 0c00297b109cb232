//! The floor: one thread, mio, edge-triggered, a fixed response per request.
//! `GET /sleep` answers after 50 ms from a FIFO of deadlines (every wait is
//! the same length, so the queue stays sorted). No parsing beyond the end of
//! each head, no limits, no error handling worth the name: it only shows how
//! fast the kernel and the load generator let any server go here.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);
const WAIT: Duration = Duration::from_millis(50);
const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
const SLEPT: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 51\r\n\r\n{\"id\":42,\"name\":\"waiter\",\"items\":[1,2,3],\"ok\":true}";

struct Conn {
    stream: TcpStream,
    input: Vec<u8>,
    gen: u64,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut port = 8080u16;
    while let Some(a) = args.next() {
        if a == "--port" {
            port = args.next().and_then(|p| p.parse().ok()).expect("--port N");
        }
    }
    let mut poll = Poll::new().unwrap();
    let mut listener = TcpListener::bind(([127, 0, 0, 1], port).into()).unwrap();
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .unwrap();
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut gens = 0u64;
    let mut due: VecDeque<(Instant, usize, u64)> = VecDeque::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let timeout = due
            .front()
            .map(|d| d.0.saturating_duration_since(Instant::now()));
        poll.poll(&mut events, timeout).unwrap();
        for ev in events.iter() {
            if ev.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    let _ = stream.set_nodelay(true);
                    let i = free.pop().unwrap_or_else(|| {
                        conns.push(None);
                        conns.len() - 1
                    });
                    poll.registry()
                        .register(&mut stream, Token(i), Interest::READABLE)
                        .unwrap();
                    gens += 1;
                    conns[i] = Some(Conn { stream, input: Vec::new(), gen: gens });
                }
                continue;
            }
            let i = ev.token().0;
            let Some(c) = conns[i].as_mut() else { continue };
            let mut closed = false;
            loop {
                match c.stream.read(&mut buf) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => {
                        c.input.extend_from_slice(&buf[..n]);
                        if n < buf.len() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            let mut out = Vec::new();
            while let Some(end) = c.input.windows(4).position(|w| w == b"\r\n\r\n") {
                if c.input.starts_with(b"GET /sleep") {
                    due.push_back((Instant::now() + WAIT, i, c.gen));
                } else {
                    out.extend_from_slice(HELLO);
                }
                c.input.drain(..end + 4);
            }
            if !out.is_empty() && c.stream.write_all(&out).is_err() {
                closed = true;
            }
            if closed {
                conns[i] = None;
                free.push(i);
            }
        }
        let now = Instant::now();
        while due.front().is_some_and(|d| d.0 <= now) {
            let (_, i, gen) = due.pop_front().unwrap();
            if let Some(c) = conns[i].as_mut().filter(|c| c.gen == gen) {
                let _ = c.stream.write_all(SLEPT);
            }
        }
    }
}
