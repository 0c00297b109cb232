//! File bodies on the wire: sent with `sendfile(2)` (whole, a range, to a
//! slow reader, after other responses on the connection), nothing for
//! HEAD, and the read-on-the-pool path when `sendfile` is off or the file
//! cannot be sent that way.

mod util;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use util::{connect, start};
use waiter_http::{Body, Request, Response, Server, StatusCode};

const MIB: usize = 1024 * 1024;

/// 8 MiB of pseudo-random bytes (xorshift), so a misplaced chunk shows.
fn random_file(tag: &str) -> (PathBuf, Vec<u8>) {
    let path = std::env::temp_dir().join(format!("waiter-sendfile-{tag}-{}", std::process::id()));
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..8 * MIB)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

/// Serves `path`: `/` whole, `/range/A/N` N bytes from A, `/proc` the first
/// 6 bytes of `/proc/self/status` (a file `sendfile` refuses).
fn file_server(path: &Path, builder: waiter_http::ServerBuilder) -> util::TestServer {
    let p = path.to_path_buf();
    start(builder, move || {
        move |req: Request| {
            let p = p.clone();
            async move {
                let parts: Vec<&str> = req.path().split('/').collect();
                let (p, offset, len) = match parts.as_slice() {
                    ["", "range", a, n] => (p, a.parse().unwrap(), Some(n.parse().unwrap())),
                    ["", "proc"] => (PathBuf::from("/proc/self/status"), 0, Some(6)),
                    _ => (p, 0, None),
                };
                let file = waiter_rt::fs::File::open(&p).await.unwrap();
                let len = match len {
                    Some(n) => n,
                    None => file.metadata().await.unwrap().len(),
                };
                Response::new(StatusCode::OK).with_body(Body::File { file, offset, len })
            }
        }
    })
}

/// Sends `req` and reads one response with its Content-Length body,
/// optionally pausing between reads.
fn fetch(s: &mut std::net::TcpStream, req: &str, pause: Option<Duration>) -> (String, Vec<u8>) {
    s.write_all(req.as_bytes()).unwrap();
    let mut data = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let head_end = loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = data.split_off(head_end);
    if req.starts_with("HEAD") {
        return (head, body);
    }
    while body.len() < len {
        if let Some(p) = pause {
            std::thread::sleep(p);
        }
        let want = (len - body.len()).min(buf.len());
        let n = s.read(&mut buf[..want]).unwrap();
        assert!(n > 0, "closed after {} of {len} bytes", body.len());
        body.extend_from_slice(&buf[..n]);
    }
    (head, body)
}

#[test]
fn a_file_goes_out_whole_and_in_ranges_on_one_connection() {
    let (path, data) = random_file("whole");
    let srv = file_server(&path, Server::builder());
    let mut s = connect(srv.addr);
    let (head, body) = fetch(&mut s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", None);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body.len(), data.len());
    assert!(body == data, "the bytes differ");
    for (a, n) in [(0, 1), (1_000_003, 3_333_333), (8 * MIB - 10, 10), (5, 0)] {
        let req = format!("GET /range/{a}/{n} HTTP/1.1\r\nHost: x\r\n\r\n");
        let (head, body) = fetch(&mut s, &req, None);
        assert!(head.contains(&format!("content-length: {n}\r\n")), "{head}");
        assert!(body == data[a..a + n], "range {a}+{n} differs");
    }
    // A head without its body after the files, then one more range: the
    // connection is in step.
    let (head, body) = fetch(&mut s, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", None);
    assert!(
        head.contains(&format!("content-length: {}\r\n", 8 * MIB)),
        "{head}"
    );
    assert!(body.is_empty());
    let (_, body) = fetch(&mut s, "GET /range/9/9 HTTP/1.1\r\nHost: x\r\n\r\n", None);
    assert!(body == data[9..18]);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn head_sends_no_body() {
    let (path, _) = random_file("head");
    let srv = file_server(&path, Server::builder());
    let mut s = connect(srv.addr);
    s.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let all = util::read_to_close(&mut s);
    assert!(
        all.contains(&format!("content-length: {}\r\n", 8 * MIB)),
        "{all}"
    );
    assert!(all.ends_with("\r\n\r\n"), "a body followed the head");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_slow_reader_gets_every_byte() {
    let (path, data) = random_file("slow");
    let srv = file_server(&path, Server::builder());
    let mut s = connect(srv.addr);
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // 512 reads of 16 KiB, 2 ms apart: the server's socket buffer fills and
    // its sendfile waits for writability many times.
    let pause = Some(Duration::from_millis(2));
    let (_, body) = fetch(&mut s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", pause);
    assert!(body == data, "the bytes differ");
    // And the connection is still good for a range.
    let (_, body) = fetch(
        &mut s,
        "GET /range/77/1000 HTTP/1.1\r\nHost: x\r\n\r\n",
        None,
    );
    assert!(body == data[77..1077]);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn without_sendfile_files_are_read_on_the_pool() {
    let (path, data) = random_file("nosendfile");
    let srv = file_server(&path, Server::builder().sendfile(false));
    let mut s = connect(srv.addr);
    let (_, body) = fetch(
        &mut s,
        "GET /range/12345/5000000 HTTP/1.1\r\nHost: x\r\n\r\n",
        None,
    );
    assert!(body == data[12345..5_012_345], "the bytes differ");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_file_sendfile_refuses_is_read_instead() {
    let (path, _) = random_file("fallback");
    let srv = file_server(&path, Server::builder());
    let mut s = connect(srv.addr);
    // sendfile from procfs fails with EINVAL.
    let (_, body) = fetch(&mut s, "GET /proc HTTP/1.1\r\nHost: x\r\n\r\n", None);
    assert_eq!(body, b"Name:\t");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_client_that_stops_reading_a_file_is_cut_off_by_the_write_timeout() {
    let (path, _) = random_file("stuck");
    // A file larger than what the socket buffers hold.
    let big = path.with_extension("big");
    {
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(64 * MIB as u64).unwrap();
    }
    let builder = Server::builder().write_timeout(Duration::from_millis(1000));
    let srv = file_server(&big, builder);
    let mut s = connect(srv.addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    // Meanwhile others are served.
    let mut other = connect(srv.addr);
    let (_, body) = fetch(
        &mut other,
        "GET /range/0/100 HTTP/1.1\r\nHost: x\r\n\r\n",
        None,
    );
    assert_eq!(body.len(), 100);
    // The stuck connection was closed: what was buffered, then the end.
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut total = 0usize;
    let mut b = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut b) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no end after {total} bytes: {e}"),
        }
    }
    assert!(
        total < 64 * MIB,
        "the whole file went out to a client that did not read"
    );
    std::fs::remove_file(path).unwrap();
    std::fs::remove_file(big).unwrap();
}
