//! After a burst of connections goes idle and parks, the memory their
//! tasks and state used leaves the process's resident set: the allocator
//! alone would keep those pages, so a server that once held a few
//! thousand busy connections would stay that large. (Its own test binary:
//! the resident set is the whole process's.)
#![cfg(all(target_os = "linux", target_env = "gnu"))]

mod util;

use std::io::Write;
use std::time::{Duration, Instant};

use util::{connect, read_responses, start};
use waiter_http::{Request, Response, Server};

const CONNS: usize = 2_000;

async fn app(_req: Request) -> Response {
    Response::text("ok")
}

/// `VmRSS` of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}

#[test]
fn memory_freed_by_parked_connections_leaves_the_resident_set() {
    waiter_rt::sys::raise_nofile_limit().unwrap();
    let srv = start(Server::builder(), || app);
    let mut conns = Vec::with_capacity(CONNS);
    for _ in 0..CONNS {
        let mut s = connect(srv.addr);
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        conns.push(s);
    }
    for s in &mut conns {
        let r = read_responses(s, 1);
        assert!(r[0].ends_with("\r\n\r\nok"), "{r:?}");
    }
    // Idle now, each with its task (fewer than `park_above` of them), until
    // the sweep has seen them idle for a second and parks them.
    let busy = rss();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = busy;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        now = rss();
        if busy.saturating_sub(now) >= 1 << 20 {
            return;
        }
    }
    panic!(
        "the resident set went from {busy} to {now} bytes once {CONNS} connections parked; \
         expected it to shrink by at least 1 MiB"
    );
}
