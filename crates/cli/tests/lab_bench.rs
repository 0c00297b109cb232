//! `waiter bench` against a running `waiter serve`, and a tiny `waiter lab`
//! run, through the real binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("waiter-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bench_counts_every_response_of_a_fixed_run() {
    let dir = tmp("bench");
    std::fs::write(dir.join("hello.txt"), "hello").unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_waiter"))
        .arg("serve")
        .arg(&dir)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let json = dir.join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_waiter"))
        .args([
            "bench",
            &format!("{url}/hello.txt"),
            "-c",
            "8",
            "-n",
            "500",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("status   200: 500"), "{text}");
    assert!(text.contains("0 never answered"), "{text}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["responses"], 500);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bench_fails_when_nothing_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_waiter"))
        .args([
            "bench",
            &format!("http://127.0.0.1:{port}/"),
            "-c",
            "2",
            "-d",
            "500ms",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("errors   connect 0,"), "{text}");
}

#[test]
fn a_tiny_lab_run_writes_its_table_json_and_html() {
    let dir = tmp("lab");
    let (json, html) = (dir.join("lab.json"), dir.join("lab.html"));
    let out = Command::new(env!("CARGO_BIN_EXE_waiter"))
        .args([
            "lab",
            "--models",
            "event-loop,pool",
            "--pool",
            "4",
            "--scenarios",
            "io",
            "--concurrency",
            "20",
            "--step",
            "1",
            "--json",
        ])
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("event-loop") && text.contains("pool"),
        "{text}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(report.is_object());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg"), "no chart in the report");
    std::fs::remove_dir_all(dir).unwrap();
}
