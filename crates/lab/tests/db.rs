//! The database service: replies after the delay, multiplexes, and holds
//! many queries at once.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use waiter_lab::app::db_row;
use waiter_lab::db::{parse_reply, DbOptions, DbService};

fn connect(db: &DbService) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(db.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

fn reply(r: &mut BufReader<TcpStream>) -> (u64, Vec<u8>) {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).unwrap();
    let line = line.strip_suffix(b"\n").expect("a whole line");
    let (id, row) = parse_reply(line).expect("a reply");
    (id, row.to_vec())
}

#[test]
fn answers_after_the_delay_with_the_row() {
    let db = DbService::start(DbOptions {
        delay: Duration::from_millis(100),
    })
    .unwrap();
    let (mut w, mut r) = connect(&db);
    let t = Instant::now();
    w.write_all(b"Q 42\n").unwrap();
    let (id, row) = reply(&mut r);
    let took = t.elapsed();
    assert_eq!(id, 42);
    assert_eq!(row, db_row(42));
    assert!(
        (30..60).contains(&row.len()),
        "row is about 40 bytes: {}",
        row.len()
    );
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_millis(600), "{took:?}");
}

#[test]
fn pipelined_queries_wait_together_and_replies_follow_their_timers() {
    let db = DbService::start(DbOptions {
        delay: Duration::from_millis(150),
    })
    .unwrap();
    let (mut w, mut r) = connect(&db);
    let t = Instant::now();
    w.write_all(b"Q 1\nQ 2\nQ 3\n").unwrap();
    std::thread::sleep(Duration::from_millis(60));
    w.write_all(b"Q 4\n").unwrap();
    let ids: Vec<u64> = (0..4).map(|_| reply(&mut r).0).collect();
    let took = t.elapsed();
    assert_eq!(ids, [1, 2, 3, 4], "replies come back as their timers fire");
    // Serially the four would take 600 ms; multiplexed, about 210 ms.
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_millis(500), "{took:?}");
}

#[test]
fn holds_thousands_of_queries_in_flight() {
    let db = DbService::start(DbOptions {
        delay: Duration::from_millis(200),
    })
    .unwrap();
    let n = 20_000u64;
    let (mut w, mut r) = connect(&db);
    let mut out = Vec::new();
    for i in 0..n {
        writeln!(out, "Q {i}").unwrap();
    }
    let t = Instant::now();
    w.write_all(&out).unwrap();
    let mut seen = vec![false; n as usize];
    for _ in 0..n {
        let (id, row) = reply(&mut r);
        assert_eq!(row, db_row(id));
        seen[id as usize] = true;
    }
    assert!(seen.iter().all(|s| *s));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(db.peak_in_flight() > n / 2, "peak {}", db.peak_in_flight());
    assert_eq!(db.replies(), n);
}

#[test]
fn a_malformed_line_closes_the_connection() {
    let db = DbService::start(DbOptions::default()).unwrap();
    let (mut w, mut r) = connect(&db);
    w.write_all(b"SELECT 1\n").unwrap();
    let mut line = Vec::new();
    assert_eq!(r.read_until(b'\n', &mut line).unwrap(), 0);
    db.stop();
}
