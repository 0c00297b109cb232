//! `waiter demo` end to end: the real binary on port 0 with a temp data
//! directory, its printed URL and token, curl, and SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `waiter demo --port 0 --data DIR`; returns it with the URL and
/// token it printed.
fn start(dir: &std::path::Path) -> (Child, String, String) {
    let log = std::fs::File::create(dir.with_extension("log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_waiter"))
        .args(["demo", "--port", "0", "--data"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start waiter demo");
    let out = BufReader::new(child.stdout.take().unwrap());
    let (mut url, mut token) = (None, None);
    for line in out.lines() {
        let line = line.unwrap();
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("listening"), Some(u)) => url = Some(u.to_owned()),
            (Some("token"), Some(t)) => token = Some(t.to_owned()),
            _ => {}
        }
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    let url = url.expect("the banner names the URL");
    (child, url, token.expect("the banner names the token"))
}

/// curl's status and body for `url`, with extra arguments.
fn curl(url: &str, args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.to_owned(), body.to_owned())
}

#[test]
fn demo_serves_its_api_and_exits_cleanly_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("waiter-cli-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut child, url, token) = start(&dir);
    assert!(dir.join("demo.sqlite").is_file());

    let (status, body) = curl(&format!("{url}/health"), &[]);
    assert_eq!(status, "200");
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    let (status, _) = curl(&format!("{url}/items"), &[]);
    assert_eq!(status, "401");
    let auth = format!("Authorization: Bearer {token}");
    let (status, body) = curl(&format!("{url}/items/1"), &["-H", &auth]);
    assert_eq!(status, "200", "{body}");
    assert!(body.contains("\"id\":1"), "{body}");
    let (status, body) = curl(
        &format!("{url}/items"),
        &[
            "-H",
            &auth,
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"name":"Mug","price_cents":900}"#,
        ],
    );
    assert_eq!(status, "201", "{body}");

    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(dir.with_extension("log"));
}
