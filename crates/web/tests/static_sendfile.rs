//! Static files through curl: an 8 MiB file of pseudo-random bytes whole,
//! as a range, and as HEAD, byte for byte (the server sends them with
//! `sendfile(2)`).

mod common;

use std::process::Command;

use common::{serve, temp_dir};
use waiter_web::static_files::{serve_dir, ServeDirOptions};
use waiter_web::App;

const LEN: usize = 8 * 1024 * 1024;

fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl");
    assert!(out.status.success(), "curl {args:?}: {out:?}");
    out.stdout
}

#[test]
fn a_large_file_whole_ranged_and_head() {
    let dir = temp_dir("sendfile");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let data: Vec<u8> = (0..LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    std::fs::write(dir.join("big.bin"), &data).unwrap();
    let root = dir.clone();
    let addr = serve(move || {
        let mut app = App::new();
        app.fallback(serve_dir(root, ServeDirOptions::default()));
        app
    });
    let url = format!("http://{addr}/big.bin");

    let whole = curl(&[&url]);
    assert_eq!(whole.len(), LEN);
    assert!(whole == data, "the whole file differs");

    let part = curl(&["-r", "1000000-4999999", &url]);
    assert!(part == data[1_000_000..5_000_000], "the range differs");
    let tail = curl(&["-r", "-12345", &url]);
    assert!(tail == data[LEN - 12345..], "the suffix range differs");

    let head = curl(&["-I", &url]);
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains(&format!("content-length: {LEN}\r\n")),
        "{head}"
    );
    assert!(
        head.ends_with("\r\n\r\n"),
        "a body followed the head: {head}"
    );

    // The status line and range fields of a 206, from a raw exchange.
    let r = common::request(addr, "GET", "/big.bin", &[("range", "bytes=8388600-")], b"");
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some("bytes 8388600-8388607/8388608")
    );
    assert!(r.body == data[8_388_600..]);
    std::fs::remove_dir_all(dir).unwrap();
}
