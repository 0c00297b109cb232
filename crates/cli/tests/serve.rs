//! `waiter serve` end to end: the real binary, a temp dir, curl, SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh directory with a couple of files, one per test (`tag`).
fn site(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("waiter-cli-serve-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("page.html"), "<p>hi from waiter</p>").unwrap();
    std::fs::write(dir.join("sub/notes.txt"), "notes").unwrap();
    dir
}

/// Starts `waiter serve DIR --port 0` and returns it with its URL.
fn start(dir: &std::path::Path) -> (Child, String) {
    start_with(dir, &[])
}

/// Like [`start`], with more arguments.
fn start_with(dir: &std::path::Path, args: &[&str]) -> (Child, String) {
    let log = std::fs::File::create(dir.with_extension("log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_waiter"))
        .arg("serve")
        .arg(dir)
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start waiter");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    (child, url)
}

/// curl's body, status and content type for `url`.
fn curl(url: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code} %{content_type}"])
        .arg(url)
        .output()
        .expect("curl");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, meta) = text.rsplit_once('\n').unwrap();
    (body.to_owned(), meta.to_owned())
}

/// Waits up to `limit` for the child to exit.
fn wait(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn serves_files_and_exits_cleanly_on_sigterm() {
    let dir = site("sigterm");
    let (mut child, url) = start(&dir);
    let (body, meta) = curl(&format!("{url}/page.html"));
    assert_eq!(body, "<p>hi from waiter</p>");
    assert_eq!(meta, "200 text/html; charset=utf-8");
    let (body, meta) = curl(&format!("{url}/sub/"));
    assert!(meta.starts_with("200 text/html"), "{meta}");
    assert!(
        body.contains("notes.txt"),
        "listing is on by default: {body}"
    );
    assert!(curl(&format!("{url}/nope")).1.starts_with("404"));

    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    match wait(&mut child, Duration::from_secs(5)) {
        Some(status) => assert_eq!(status.code(), Some(0), "{status:?}"),
        None => {
            let _ = child.kill();
            panic!("waiter did not exit within 5 s of SIGTERM");
        }
    }
    let log = std::fs::read_to_string(dir.with_extension("log")).unwrap();
    assert!(
        log.contains("GET /page.html 200"),
        "request not logged: {log}"
    );
    assert!(log.contains("GET /nope 404"), "request not logged: {log}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(dir.with_extension("log"));
}

#[test]
fn the_request_log_times_the_whole_download() {
    let dir = site("log-timing");
    // Sparse, so the page cache serves zeros. The socket buffers of a
    // loopback connection hold several MiB: the server is done with a
    // body that size at once, but not with 64 MiB.
    std::fs::File::create(dir.join("two.bin"))
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let (mut child, url) = start(&dir);
    // 64 MiB at 64 MiB/s: about a second on the wire, most of it after
    // the socket buffers have filled.
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "--limit-rate",
            "64M",
            "-w",
            "%{size_download}",
        ])
        .arg(format!("{url}/two.bin"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), (64 << 20).to_string());
    child.kill().unwrap();
    child.wait().unwrap();
    let log = std::fs::read_to_string(dir.with_extension("log")).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("GET /two.bin 200 "))
        .unwrap_or_else(|| panic!("request not logged: {log}"));
    let ms: f64 = line
        .rsplit(' ')
        .next()
        .and_then(|w| w.strip_suffix("ms"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no duration in {line:?}"));
    assert!(ms >= 300.0, "logged before the body was sent: {line}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(dir.with_extension("log"));
}

#[test]
fn host_takes_a_name_or_an_address() {
    let dir = site("host");
    for (host, want) in [
        ("localhost", "http://127.0.0.1:"),
        ("[::1]", "http://[::1]:"),
    ] {
        let (mut child, url) = start_with(&dir, &["--host", host]);
        assert!(url.starts_with(want), "{host}: {url}");
        let (body, meta) = curl(&format!("{url}/page.html"));
        assert_eq!(
            (body.as_str(), meta.as_str()),
            ("<p>hi from waiter</p>", "200 text/html; charset=utf-8")
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[test]
fn a_second_signal_stops_the_drain() {
    let dir = site("second-signal");
    let big = std::fs::File::create(dir.join("big.bin")).unwrap();
    big.set_len(256 << 20).unwrap();
    let (mut child, url) = start(&dir);
    // A download that takes minutes at this rate keeps the drain busy.
    let mut slow = Command::new("curl")
        .args(["-s", "--limit-rate", "1M", "-o", "/dev/null"])
        .arg(format!("{url}/big.bin"))
        .spawn()
        .expect("curl");
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id().to_string();
    let signal = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, pid.as_str()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    signal("-INT");
    assert!(
        wait(&mut child, Duration::from_millis(700)).is_none(),
        "the first signal drains: the download is still going"
    );
    signal("-INT");
    let status = wait(&mut child, Duration::from_secs(3));
    let _ = slow.kill();
    let _ = slow.wait();
    match status {
        Some(status) => assert_eq!(status.code(), Some(130), "{status:?}"),
        None => {
            let _ = child.kill();
            panic!("waiter did not stop within 3 s of a second SIGINT");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(dir.with_extension("log"));
}

#[test]
fn print_config_lists_limits_and_exits() {
    let out = Command::new(env!("CARGO_BIN_EXE_waiter"))
        .args(["serve", "--print-config"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for key in [
        "headers_timeout",
        "keep_alive_timeout",
        "max_connections",
        "max_head_bytes",
        "max_headers",
        "max_drain",
    ] {
        assert!(text.contains(key), "{key} missing from {text}");
    }
}
