//! A 64 MiB upload streamed to disk and a 64 MiB download from disk (with
//! `sendfile`, and read on the worker pool) in bounded server memory.
//!
//! The server runs in a child process (this binary, re-executed), so its
//! peak RSS (`VmHWM`) is its own; the parent is the client. It generates
//! and checks the bytes as a stream, never holding a body. The server's
//! peak RSS may grow by at most [`BOUND`] over its peak before the
//! transfers: a server that buffered a body whole would grow by 64 MiB.
//!
//! This file has its own `main` (`harness = false`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use waiter_http::{Body, Request, Response, Server, StatusCode};

const MIB: u64 = 1024 * 1024;
const SIZE: u64 = 64 * MIB;
const BOUND: u64 = 32 * MIB;
const BATCH: usize = 1024 * 1024;

fn main() {
    match std::env::var("WAITER_BIG_BODIES_DIR") {
        Ok(dir) => server(PathBuf::from(dir)),
        Err(_) => parent(),
    }
}

/// Pseudo-random bytes (xorshift) from a seed, as a stream.
struct Gen(u64);

impl Gen {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = (self.0 >> 24) as u8;
        }
    }
}

/// Reads `r` to its end (or `len` bytes) and checks it against `Gen(seed)`.
fn check_stream(mut r: impl Read, seed: u64, len: u64, what: &str) {
    let (mut gen, mut got, mut want) = (Gen(seed), vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    let mut total = 0u64;
    while total < len {
        let n = r.read(&mut got).expect("read");
        assert!(n > 0, "{what}: ended after {total} of {len} bytes");
        gen.fill(&mut want[..n]);
        assert!(got[..n] == want[..n], "{what}: bytes differ after {total}");
        total += n as u64;
    }
    assert_eq!(total, len, "{what}: too many bytes");
}

/// A field of the child's `/proc/PID/status`, in bytes.
fn status(child: &Child, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in {status}"));
    kib * 1024
}

/// Starts a measurement: resets the child's peak RSS to its current RSS
/// (`clear_refs` 5) where the kernel allows, and returns the base to
/// subtract from the peak afterwards (the current RSS, or the peak so far).
fn begin(child: &Child) -> u64 {
    match std::fs::write(format!("/proc/{}/clear_refs", child.id()), "5") {
        Ok(()) => status(child, "VmRSS:"),
        Err(_) => status(child, "VmHWM:"),
    }
}

/// The child's peak RSS growth since `base`.
fn growth(child: &Child, base: u64) -> u64 {
    status(child, "VmHWM:").saturating_sub(base)
}

fn head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1, "closed in the head");
        head.push(b[0]);
    }
    String::from_utf8(head).unwrap()
}

fn parent() {
    let dir = std::env::temp_dir().join(format!("waiter-big-bodies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The file to download, written here so the server's memory is untouched.
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("down.bin")).unwrap());
        let (mut gen, mut buf) = (Gen(7), vec![0u8; BATCH]);
        for _ in 0..SIZE / BATCH as u64 {
            gen.fill(&mut buf);
            f.write_all(&buf).unwrap();
        }
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("WAITER_BIG_BODIES_DIR", &dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = || -> SocketAddr { lines.next().unwrap().unwrap().parse().unwrap() };
    let (with_sendfile, without) = (addr(), addr());
    std::thread::sleep(Duration::from_millis(100));
    let base = begin(&child);

    // Upload, sent as generated.
    let mut s = TcpStream::connect(with_sendfile).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: {SIZE}\r\n\r\n"
    )
    .unwrap();
    let (mut gen, mut buf) = (Gen(42), vec![0u8; 64 * 1024]);
    for _ in 0..SIZE / buf.len() as u64 {
        gen.fill(&mut buf);
        s.write_all(&buf).unwrap();
    }
    let h = head(&mut s);
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
    let upload = growth(&child, base);
    let written = std::fs::File::open(dir.join("up.bin")).unwrap();
    check_stream(BufReader::new(written), 42, SIZE, "uploaded file");

    // Downloads, checked as they come.
    let mut downloads = Vec::new();
    for addr in [with_sendfile, without] {
        let base = begin(&child);
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(b"GET /down HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let h = head(&mut s);
        assert!(h.contains(&format!("content-length: {SIZE}\r\n")), "{h}");
        check_stream(&mut s, 7, SIZE, "download");
        downloads.push(growth(&child, base));
    }
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(&dir).unwrap();
    let mib = |b: u64| b as f64 / MIB as f64;
    println!(
        "big_bodies: server peak RSS growth: upload {:.1} MiB, download (sendfile) {:.1} MiB, \
         download (pool) {:.1} MiB; bound {} MiB",
        mib(upload),
        mib(downloads[0]),
        mib(downloads[1]),
        BOUND / MIB
    );
    assert!(
        upload < BOUND,
        "the upload grew the server by {:.1} MiB",
        mib(upload)
    );
    for d in downloads {
        assert!(d < BOUND, "a download grew the server by {:.1} MiB", mib(d));
    }
    println!("test result: ok. 1 passed; 0 failed; 0 ignored");
}

/// Streams the request body into `path`, a batch at a time.
async fn upload(mut req: Request, path: &Path) -> Response {
    let file = waiter_rt::fs::File::create(path).await.unwrap();
    let mut batch = Vec::with_capacity(BATCH);
    let mut n = 0;
    loop {
        let chunk = req.body_mut().chunk().await.unwrap();
        let done = chunk.is_none();
        if let Some(c) = chunk {
            batch.extend_from_slice(&c);
        }
        if batch.len() >= BATCH || done {
            n += batch.len();
            let data = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            file.write_all(data).await.unwrap();
        }
        if done {
            return Response::text(n.to_string());
        }
    }
}

fn server(dir: PathBuf) {
    waiter_rt::run(async move {
        for sendfile in [true, false] {
            let dir = dir.clone();
            let server = Server::builder()
                .sendfile(sendfile)
                .listen("127.0.0.1:0".parse().unwrap(), move |req: Request| {
                    let dir = dir.clone();
                    async move {
                        if req.path() == "/up" {
                            return upload(req, &dir.join("up.bin")).await;
                        }
                        let file = waiter_rt::fs::File::open(dir.join("down.bin"))
                            .await
                            .unwrap();
                        let len = file.metadata().await.unwrap().len();
                        Response::new(StatusCode::OK).with_body(Body::File {
                            file,
                            offset: 0,
                            len,
                        })
                    }
                })
                .unwrap();
            println!("{}", server.local_addr());
        }
        // Until the parent kills the process.
        std::future::pending::<()>().await;
    });
}
