//! TCP ping-pong on 127.0.0.1: one byte, 1,000 connections. The client sends
//! one byte on every connection, waits for its echo, and sends again; the
//! server echoes each byte. Prints round trips per second for three servers
//! (waiter, tokio's `current_thread` runtime, and a bare edge-triggered mio
//! loop written for the comparison), all driven by the same client.
//!
//! ```text
//! cargo run --release -p waiter-rt --example ping_pong [-- --secs 5] [--conns 1000] [--warmup-ms 500] [--servers waiter,tokio,mio]
//! ```
//!
//! The server and the client each run in their own process: the example
//! re-executes itself as `server KIND` pinned to CPU 0 and as `client` pinned
//! to CPU 1 (with `taskset -c`), so the client never competes with the server
//! for a core. The client is a bare single-threaded mio loop, the cheapest
//! load generator there is, but on loopback TCP it does the same syscalls
//! per round trip as the server (one read, one write), so with a fast server
//! it can saturate first. The table therefore also shows each process's CPU
//! use over the measured window and the server's CPU time per round trip:
//! when the server is below ~95% of its core, the client was the limit, and
//! the CPU per round trip is the fairer comparison.
//!
//! Both processes raise their file-descriptor limit to the hard limit.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mio::net::{TcpListener as MioListener, TcpStream as MioStream};
use mio::{Events, Interest, Poll, Token};

const SERVERS: [&str; 3] = ["waiter", "tokio", "mio"];

/// The echo buffer of every server: the same size everywhere.
const BUF: usize = 256;

struct Opts {
    secs: f64,
    conns: usize,
    warmup_ms: u64,
    port: u16,
    servers: Vec<String>,
}

fn parse_opts(mut it: impl Iterator<Item = String>) -> Opts {
    let mut o = Opts {
        secs: 5.0,
        conns: 1000,
        warmup_ms: 500,
        port: 0,
        servers: SERVERS.iter().map(|s| s.to_string()).collect(),
    };
    while let Some(a) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--secs" => o.secs = val().parse().expect("--secs: a number"),
            "--conns" => o.conns = val().parse().expect("--conns: a number"),
            "--warmup-ms" => o.warmup_ms = val().parse().expect("--warmup-ms: a number"),
            "--port" => o.port = val().parse().expect("--port: a number"),
            "--servers" => o.servers = val().split(',').map(str::to_string).collect(),
            _ => panic!("unknown argument {a:?}"),
        }
    }
    o
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn announce(addr: SocketAddr) {
    println!("PORT {}", addr.port());
    io::stdout().flush().expect("stdout");
}

// ---------------------------------------------------------------- servers --

/// waiter: one task per connection, as in `examples/tcp_echo.rs`, and an
/// accept task that takes `conns` connections and then closes the listener.
/// The loop runs until every connection is closed, as a Node process does.
fn server_waiter(conns: usize) -> io::Result<()> {
    let lp = waiter_rt::Loop::new()?;
    {
        let _entered = lp.enter();
        let listener = waiter_rt::net::TcpListener::bind(localhost(0))?;
        announce(listener.local_addr()?);
        waiter_rt::spawn_local(async move {
            for _ in 0..conns {
                let (s, _) = listener.accept().await.expect("accept");
                s.set_nodelay(true).expect("nodelay");
                waiter_rt::spawn_local(async move {
                    let mut buf = [0u8; BUF];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                })
                .detach();
            }
        })
        .detach();
    }
    lp.run(waiter_rt::RunMode::Default);
    Ok(())
}

/// tokio: the same server, written the usual tokio way.
fn server_tokio(conns: usize) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(localhost(0)).await?;
        announce(listener.local_addr()?);
        let mut tasks = Vec::with_capacity(conns);
        for _ in 0..conns {
            let (mut s, _) = listener.accept().await?;
            s.set_nodelay(true)?;
            tasks.push(tokio::spawn(async move {
                let mut buf = [0u8; BUF];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }));
        }
        drop(listener);
        for t in tasks {
            let _ = t.await;
        }
        io::Result::Ok(())
    })
}

/// A connection of the bare mio server: the socket and unsent echo bytes.
struct MioConn {
    sock: MioStream,
    out: Vec<u8>,
}

/// Writes as much of `out` as the socket takes; `Err` closes the connection.
fn flush(c: &mut MioConn) -> io::Result<()> {
    while !c.out.is_empty() {
        match c.sock.write(&c.out) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads until the socket is drained and echoes what it read. `Ok(false)`
/// means the peer closed. A short read means the receive queue is empty
/// (edge-triggered epoll reports any later data as a new edge), which saves
/// the `WouldBlock` read, as waiter and tokio do.
fn echo_readable(c: &mut MioConn, buf: &mut [u8]) -> io::Result<bool> {
    loop {
        match c.sock.read(buf) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                if c.out.is_empty() {
                    match c.sock.write(&buf[..n]) {
                        Ok(m) if m == n => {}
                        Ok(m) => c.out.extend_from_slice(&buf[m..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            c.out.extend_from_slice(&buf[..n]);
                        }
                        Err(e) => return Err(e),
                    }
                } else {
                    c.out.extend_from_slice(&buf[..n]);
                    flush(c)?;
                }
                if n < buf.len() {
                    return Ok(true);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A bare mio echo server: one thread, edge-triggered, no executor, no
/// wakers, no allocation per event. The floor the runtimes are measured
/// against.
fn server_mio(conns: usize) -> io::Result<()> {
    const LISTENER: Token = Token(usize::MAX);
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut listener = Some(MioListener::bind(localhost(0))?);
    if let Some(l) = listener.as_mut() {
        poll.registry().register(l, LISTENER, Interest::READABLE)?;
        announce(l.local_addr()?);
    }
    let mut slots: Vec<Option<MioConn>> = Vec::with_capacity(conns);
    let (mut accepted, mut live) = (0, 0);
    let mut buf = [0u8; BUF];
    while accepted < conns || live > 0 {
        poll.poll(&mut events, None)?;
        for ev in events.iter() {
            if ev.token() == LISTENER {
                while let Some(l) = listener.as_ref() {
                    match l.accept() {
                        Ok((mut sock, _)) => {
                            sock.set_nodelay(true)?;
                            let t = Token(slots.len());
                            poll.registry().register(
                                &mut sock,
                                t,
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            slots.push(Some(MioConn {
                                sock,
                                out: Vec::new(),
                            }));
                            accepted += 1;
                            live += 1;
                            if accepted == conns {
                                listener = None;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let Some(slot) = slots.get_mut(ev.token().0) else {
                continue;
            };
            let Some(c) = slot.as_mut() else {
                continue;
            };
            let mut open = true;
            if ev.is_writable() && !c.out.is_empty() {
                open = flush(c).is_ok();
            }
            if open && (ev.is_readable() || ev.is_read_closed() || ev.is_error()) {
                open = matches!(echo_readable(c, &mut buf), Ok(true));
            }
            if !open {
                // Closing the socket removes it from the epoll set.
                *slot = None;
                live -= 1;
            }
        }
    }
    Ok(())
}

// ----------------------------------------------------------------- client --

/// The load generator: a bare single-threaded mio loop. Prints `START` when
/// the warm-up ends and `RESULT ...` when the measured window ends, then
/// closes every connection (which ends the server).
fn client(o: &Opts) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut socks = Vec::with_capacity(o.conns);
    for i in 0..o.conns {
        let s = std::net::TcpStream::connect(localhost(o.port))?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        let mut s = MioStream::from_std(s);
        poll.registry()
            .register(&mut s, Token(i), Interest::READABLE)?;
        socks.push(s);
    }
    for s in &mut socks {
        s.write_all(b"x")?;
    }
    let mut buf = [0u8; 64];
    let mut rtts: u64 = 0;
    let start = Instant::now();
    let warm_end = start + Duration::from_millis(o.warmup_ms);
    let end = warm_end + Duration::from_secs_f64(o.secs);
    let mut measuring = false;
    let (mut rtts0, mut cpu0, mut t0) = (0, Duration::ZERO, start);
    loop {
        let now = Instant::now();
        if !measuring && now >= warm_end {
            measuring = true;
            (rtts0, cpu0, t0) = (rtts, waiter_rt::sys::cpu_time()?, now);
            println!("START");
            io::stdout().flush()?;
        }
        if now >= end {
            break;
        }
        let next = if measuring { end } else { warm_end };
        poll.poll(&mut events, Some(next - now))?;
        for ev in events.iter() {
            let s = &mut socks[ev.token().0];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return Err(io::Error::other("the server closed a connection")),
                    Ok(n) => {
                        rtts += n as u64;
                        // One byte in flight per connection: this never blocks.
                        s.write_all(&buf[..n])?;
                        if n < buf.len() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = waiter_rt::sys::cpu_time()? - cpu0;
    println!(
        "RESULT rtts={} secs={secs:.4} client_cpu_ms={:.1}",
        rtts - rtts0,
        cpu.as_secs_f64() * 1e3
    );
    io::stdout().flush()?;
    Ok(())
}

// ----------------------------------------------------------------- parent --

fn have_taskset() -> bool {
    let two_cpus = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    let found = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    two_cpus && found
}

/// Starts this example with `args`, pinned to `cpu` when possible.
fn spawn_self(cpu: Option<u32>, args: &[String]) -> io::Result<Child> {
    let exe = std::env::current_exe()?;
    let mut cmd = match cpu {
        Some(c) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(c.to_string()).arg(exe);
            cmd
        }
        None => Command::new(exe),
    };
    cmd.args(args).stdout(Stdio::piped()).spawn()
}

/// User plus system CPU time of a process, from `/proc/PID/stat`.
fn proc_cpu(pid: u32) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat
        .rsplit_once(')')
        .ok_or_else(|| io::Error::other("bad /proc stat"))?
        .1;
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), in clock ticks (USER_HZ, 100 on Linux).
    let ticks: u64 = f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
    Ok(Duration::from_millis(ticks * 10))
}

struct Run {
    rtt_per_sec: f64,
    server_util: f64,
    server_us_per_rtt: f64,
    client_util: f64,
}

fn run_pair(kind: &str, o: &Opts, pin: bool) -> io::Result<Run> {
    let mut server = spawn_self(
        pin.then_some(0),
        &[
            "server".into(),
            kind.into(),
            "--conns".into(),
            o.conns.to_string(),
        ],
    )?;
    let mut out = BufReader::new(server.stdout.take().expect("piped"));
    let mut line = String::new();
    out.read_line(&mut line)?;
    let port: u16 = line
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("server {kind} said {line:?}")))?;

    let mut client = spawn_self(
        pin.then_some(1),
        &[
            "client".into(),
            "--port".into(),
            port.to_string(),
            "--conns".into(),
            o.conns.to_string(),
            "--secs".into(),
            o.secs.to_string(),
            "--warmup-ms".into(),
            o.warmup_ms.to_string(),
        ],
    )?;
    let cout = BufReader::new(client.stdout.take().expect("piped"));
    let (mut s0, mut s1) = (Duration::ZERO, Duration::ZERO);
    let mut result = None;
    for l in cout.lines() {
        let l = l?;
        if l == "START" {
            s0 = proc_cpu(server.id())?;
        } else if let Some(r) = l.strip_prefix("RESULT ") {
            s1 = proc_cpu(server.id())?;
            result = Some(r.to_string());
        }
    }
    let status = client.wait()?;
    // The client closed its connections; the server ends by itself.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.try_wait()?.is_none() {
        if Instant::now() > deadline {
            eprintln!("server {kind} did not exit; killing it");
            server.kill()?;
            server.wait()?;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let result = result
        .filter(|_| status.success())
        .ok_or_else(|| io::Error::other(format!("client against {kind} failed: {status}")))?;
    let field = |k: &str| -> f64 {
        result
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let (rtts, secs, ccpu) = (field("rtts"), field("secs"), field("client_cpu_ms"));
    let scpu = (s1 - s0).as_secs_f64();
    Ok(Run {
        rtt_per_sec: rtts / secs,
        server_util: scpu / secs,
        server_us_per_rtt: scpu * 1e6 / rtts,
        client_util: ccpu / 1e3 / secs,
    })
}

fn parent(o: &Opts) -> io::Result<()> {
    let pin = have_taskset();
    if !pin {
        eprintln!("warning: taskset or a second CPU is missing; running unpinned");
    }
    println!(
        "ping-pong: {} connections, 1 byte, {} s after {} ms warm-up; server on CPU 0, client on CPU 1{}",
        o.conns,
        o.secs,
        o.warmup_ms,
        if pin { "" } else { " (NOT pinned)" }
    );
    let mut runs = Vec::new();
    for kind in &o.servers {
        let r = run_pair(kind, o, pin)?;
        runs.push((kind.clone(), r));
    }
    println!(
        "\n| {:<7} | {:>10} | {:>11} | {:>17} | {:>11} |",
        "server", "rtt/s", "server CPU", "server µs CPU/rtt", "client CPU"
    );
    println!(
        "|{:-<9}|{:->12}|{:->13}|{:->19}|{:->13}|",
        "", "", "", "", ""
    );
    for (k, r) in &runs {
        println!(
            "| {k:<7} | {:>10.0} | {:>10.0}% | {:>17.2} | {:>10.0}% |",
            r.rtt_per_sec,
            r.server_util * 100.0,
            r.server_us_per_rtt,
            r.client_util * 100.0
        );
    }
    let get = |k: &str| runs.iter().find(|(n, _)| n == k).map(|(_, r)| r);
    if let Some(w) = get("waiter") {
        println!();
        for peer in ["tokio", "mio"] {
            if let Some(p) = get(peer) {
                println!(
                    "waiter/{peer}: rtt/s {:.2}, server CPU per rtt {:.2}",
                    w.rtt_per_sec / p.rtt_per_sec,
                    w.server_us_per_rtt / p.server_us_per_rtt
                );
            }
        }
    }
    if runs.iter().any(|(_, r)| r.server_util < 0.95) {
        println!(
            "note: a server below ~95% CPU was limited by the client; compare CPU per round trip"
        );
    }
    // For bench/rt.sh: bench|figure|better|runtime=value...
    println!();
    let line = |name: &str, better: &str, f: &dyn Fn(&Run) -> f64| {
        let vals: Vec<String> = runs
            .iter()
            .map(|(k, r)| format!("{k}={:.3}", f(r)))
            .collect();
        println!("@ ping-pong|{name}|{better}|{}", vals.join("|"));
    };
    line("round trips/s", "higher", &|r| r.rtt_per_sec);
    line("server CPU per round trip, µs", "lower", &|r| {
        r.server_us_per_rtt
    });
    line("server CPU use, %", "-", &|r| r.server_util * 100.0);
    line("client CPU use, %", "-", &|r| r.client_util * 100.0);
    Ok(())
}

fn main() -> io::Result<()> {
    // The hard limit is 20,000 here; 1,000 connections need ~1,000 fds on
    // each side.
    waiter_rt::sys::raise_nofile_limit()?;
    let mut args = std::env::args().skip(1).peekable();
    match args.peek().map(String::as_str) {
        Some("server") => {
            args.next();
            let kind = args.next().expect("server KIND");
            let o = parse_opts(args);
            match kind.as_str() {
                "waiter" => server_waiter(o.conns),
                "tokio" => server_tokio(o.conns),
                "mio" => server_mio(o.conns),
                _ => panic!("unknown server {kind:?}; one of {SERVERS:?}"),
            }
        }
        Some("client") => {
            args.next();
            client(&parse_opts(args))
        }
        _ => parent(&parse_opts(args)),
    }
}
