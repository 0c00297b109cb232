//! Static files over real sockets: content types, validators and 304s,
//! ranges, index files, listings, redirects, HEAD, and traversal attempts.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{get, request, serve, temp_dir};
use waiter_web::static_files::{serve_dir, ServeDirOptions};
use waiter_web::App;

/// A tree: root/{hello.txt, style.css, data.json, img.png, .secret,
/// docs/index.html, empty/, list/<b>&.txt, big.bin (sparse)}, plus a file
/// outside the root and symlinks to it.
fn tree() -> (PathBuf, PathBuf) {
    let base = temp_dir("static");
    let root = base.join("root");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::create_dir_all(root.join("list")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("hello.txt"), "hello, world\n").unwrap();
    std::fs::write(root.join("style.css"), "body{}").unwrap();
    std::fs::write(root.join("data.json"), "{}").unwrap();
    std::fs::write(root.join("img.png"), [0x89, b'P', b'N', b'G']).unwrap();
    std::fs::write(root.join(".secret"), "hidden").unwrap();
    std::fs::write(root.join("docs/index.html"), "<h1>docs</h1>").unwrap();
    std::fs::write(root.join("list/<b>&.txt"), "x").unwrap();
    std::fs::write(root.join("list/a b.txt"), "y").unwrap();
    std::fs::write(base.join("outside.txt"), "TOP SECRET").unwrap();
    std::os::unix::fs::symlink(base.join("outside.txt"), root.join("escape.txt")).unwrap();
    std::os::unix::fs::symlink(&base, root.join("up")).unwrap();
    std::os::unix::fs::symlink(root.join("hello.txt"), root.join("inside.txt")).unwrap();
    std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
    let big = std::fs::File::create(root.join("big.bin")).unwrap();
    big.set_len(96 * 1024 * 1024).unwrap();
    (base, root)
}

fn start(root: &Path, listing: bool) -> std::net::SocketAddr {
    let root = root.to_path_buf();
    serve(move || {
        let mut app = App::new();
        let opts = ServeDirOptions {
            listing,
            ..Default::default()
        };
        app.mount("/static", serve_dir(root.clone(), opts.clone()));
        app.fallback(serve_dir(root, opts));
        app
    })
}

#[test]
fn content_types_head_and_index() {
    let (_base, root) = tree();
    let addr = start(&root, false);
    for (path, ct) in [
        ("/hello.txt", "text/plain; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/data.json", "application/json"),
        ("/img.png", "image/png"),
        ("/static/hello.txt", "text/plain; charset=utf-8"),
    ] {
        let r = get(addr, path);
        assert_eq!(
            (r.status, r.header("content-type")),
            (200, Some(ct)),
            "{path}"
        );
    }
    let r = get(addr, "/static/hello.txt");
    assert_eq!(r.text(), "hello, world\n");
    assert_eq!(r.header("accept-ranges"), Some("bytes"));

    let r = request(addr, "HEAD", "/hello.txt", &[], b"");
    assert_eq!((r.status, r.header("content-length")), (200, Some("13")));
    assert!(r.body.is_empty());

    let r = get(addr, "/docs/");
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>docs</h1>"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let r = get(addr, "/docs?x=1");
    assert_eq!((r.status, r.header("location")), (301, Some("/docs/?x=1")));
    let r = get(addr, "/static");
    assert_eq!((r.status, r.header("location")), (301, Some("/static/")));
    assert_eq!(get(addr, "/static/docs/").text(), "<h1>docs</h1>");
    assert_eq!(get(addr, "/hello.txt/").status, 404);
    assert_eq!(get(addr, "/missing.txt").status, 404);
    assert_eq!(get(addr, "/.secret").status, 404);
    // No listing unless asked for.
    assert_eq!(get(addr, "/empty/").status, 404);
    assert_eq!(request(addr, "POST", "/hello.txt", &[], b"x").status, 405);
}

#[test]
fn validators() {
    let (_base, root) = tree();
    let addr = start(&root, false);
    let r = get(addr, "/hello.txt");
    let etag = r.header("etag").unwrap().to_owned();
    let lm = r.header("last-modified").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));

    let r = request(addr, "GET", "/hello.txt", &[("if-none-match", &etag)], b"");
    assert_eq!((r.status, r.body.len()), (304, 0));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let weak = format!("W/{etag}");
    let r = request(addr, "GET", "/hello.txt", &[("if-none-match", &weak)], b"");
    assert_eq!(r.status, 304);
    let r = request(
        addr,
        "GET",
        "/hello.txt",
        &[("if-none-match", "\"other\"")],
        b"",
    );
    assert_eq!(r.status, 200);
    let r = request(
        addr,
        "GET",
        "/hello.txt",
        &[("if-modified-since", &lm)],
        b"",
    );
    assert_eq!(r.status, 304);
    let old = "Thu, 01 Jan 2004 00:00:00 GMT";
    let r = request(
        addr,
        "GET",
        "/hello.txt",
        &[("if-modified-since", old)],
        b"",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn failed_preconditions_get_412() {
    let (_base, root) = tree();
    let addr = start(&root, false);
    let first = get(addr, "/hello.txt");
    let etag = first.header("etag").unwrap().to_owned();
    let lm = first.header("last-modified").unwrap().to_owned();
    let weak = format!("W/{etag}");
    let old = "Thu, 01 Jan 2004 00:00:00 GMT";
    let cases: [(&[(&str, &str)], u16); 8] = [
        (&[("if-match", &etag)], 200),
        (&[("if-match", "*")], 200),
        (&[("if-match", "\"other\", \"x\"")], 412),
        // If-Match compares strongly.
        (&[("if-match", &weak)], 412),
        (&[("if-unmodified-since", &lm)], 200),
        (&[("if-unmodified-since", old)], 412),
        // If-Unmodified-Since counts only without If-Match.
        (&[("if-match", &etag), ("if-unmodified-since", old)], 200),
        // 412 comes before 304 and before a range.
        (
            &[
                ("if-match", "\"other\""),
                ("if-none-match", &etag),
                ("range", "bytes=0-1"),
            ],
            412,
        ),
    ];
    for (fields, want) in cases {
        let r = request(addr, "GET", "/hello.txt", fields, b"");
        assert_eq!(r.status, want, "{fields:?}");
        if want == 412 {
            assert!(r.body.is_empty(), "{fields:?}");
        } else {
            assert_eq!(r.text(), "hello, world\n", "{fields:?}");
        }
    }
    let r = request(addr, "GET", "/hello.txt", &[("range", "BYTES=0-4,")], b"");
    assert_eq!((r.status, r.text().as_str()), (206, "hello"));
}

#[test]
fn ranges() {
    let (_base, root) = tree();
    let addr = start(&root, false);
    let etag = get(addr, "/hello.txt").header("etag").unwrap().to_owned();
    let r = request(addr, "GET", "/hello.txt", &[("range", "bytes=0-4")], b"");
    assert_eq!((r.status, r.text().as_str()), (206, "hello"));
    assert_eq!(r.header("content-range"), Some("bytes 0-4/13"));
    let r = request(addr, "GET", "/hello.txt", &[("range", "bytes=-6")], b"");
    assert_eq!((r.status, r.text().as_str()), (206, "world\n"));
    let r = request(addr, "GET", "/hello.txt", &[("range", "bytes=7-")], b"");
    assert_eq!(r.text(), "world\n");
    let r = request(addr, "GET", "/hello.txt", &[("range", "bytes=13-")], b"");
    assert_eq!(
        (r.status, r.header("content-range")),
        (416, Some("bytes */13"))
    );
    let r = request(
        addr,
        "GET",
        "/hello.txt",
        &[("range", "bytes=0-1"), ("if-range", "\"stale\"")],
        b"",
    );
    assert_eq!((r.status, r.body.len()), (200, 13));
    let r = request(
        addr,
        "GET",
        "/hello.txt",
        &[("range", "bytes=0-1"), ("if-range", &etag)],
        b"",
    );
    assert_eq!((r.status, r.text().as_str()), (206, "he"));
}

#[test]
fn listing_escapes_names() {
    let (_base, root) = tree();
    let addr = start(&root, true);
    let r = get(addr, "/list/");
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(html.contains("&lt;b&gt;&amp;.txt"), "{html}");
    assert!(html.contains("href=\"./%3Cb%3E%26.txt\""), "{html}");
    assert!(html.contains("href=\"./a%20b.txt\""), "{html}");
    assert!(!html.contains("<b>&"), "{html}");
    let r = get(addr, "/");
    assert!(r.text().contains("href=\"./docs/\""));
    assert!(!r.text().contains(".secret"));
    // Symbolic links: listed as what they point to if that is inside the
    // root; those that leave it (403), dangle or loop are not listed.
    std::os::unix::fs::symlink(root.join("docs"), root.join("docs-link")).unwrap();
    std::os::unix::fs::symlink(root.join("gone"), root.join("dangling")).unwrap();
    let html = get(addr, "/").text();
    assert!(html.contains("href=\"./inside.txt\""), "{html}");
    assert!(html.contains("href=\"./docs-link/\""), "{html}");
    for hidden in ["escape.txt", "\"./up", "\"./loop", "dangling"] {
        assert!(!html.contains(hidden), "{hidden} listed: {html}");
    }
    assert_eq!(get(addr, "/escape.txt").status, 403);
    assert_eq!(get(addr, "/docs-link/").text(), "<h1>docs</h1>");
    assert_eq!(get(addr, "/list/a%20b.txt").text(), "y");
    assert_eq!(get(addr, "/list/%3Cb%3E%26.txt").text(), "x");
    // A name that is not UTF-8 is shown lossily but linked by its bytes.
    use std::os::unix::ffi::OsStrExt;
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(root.join("list").join(latin1), "z").unwrap();
    let html = get(addr, "/list/").text();
    assert!(html.contains("href=\"./caf%E9.txt\""), "{html}");
    assert!(html.contains("caf\u{FFFD}.txt"), "{html}");
    assert_eq!(get(addr, "/list/caf%E9.txt").text(), "z");
}

#[test]
fn a_redirect_never_names_another_host() {
    let (_base, root) = tree();
    let addr = start(&root, false);
    // `//docs/` as a Location would be the host `docs`.
    for (target, location) in [
        ("//docs", "/docs/"),
        ("///docs?x=1", "/docs/?x=1"),
        ("/static//docs", "/static//docs/"),
    ] {
        let r = get(addr, target);
        assert_eq!(
            (r.status, r.header("location")),
            (301, Some(location)),
            "{target}"
        );
    }
}

#[test]
fn paths_that_name_no_file_get_404() {
    let (_base, root) = tree();
    let addr = start(&root, true);
    let long = format!("/{}", "a".repeat(300));
    for target in ["/loop", "/loop/x", long.as_str(), "/hello.txt/x"] {
        assert_eq!(get(addr, target).status, 404, "{target}");
    }
}

#[test]
fn traversal_is_refused() {
    let (_base, root) = tree();
    let addr = start(&root, true);
    for target in [
        "/../outside.txt",
        "/static/../outside.txt",
        "/%2e%2e/outside.txt",
        "/%2E%2E/outside.txt",
        "/..%2foutside.txt",
        "/docs/..%2f..%2foutside.txt",
        "/static/%2e%2e/%2e%2e/outside.txt",
        "/..%5coutside.txt",
        "/hello.txt%00.png",
        "/escape.txt",
        "/up/outside.txt",
        "/static/up/outside.txt",
    ] {
        let r = get(addr, target);
        assert!(
            matches!(r.status, 400 | 403 | 404),
            "{target}: {}",
            r.status
        );
        assert!(!r.text().contains("TOP SECRET"), "{target} leaked");
    }
    // A symlink that stays inside the root is fine.
    assert_eq!(get(addr, "/inside.txt").text(), "hello, world\n");
    // curl without its own path normalisation.
    let out = Command::new("curl")
        .args(["-s", "--path-as-is", "-o", "-", "-w", "\n%{http_code}"])
        .arg(format!("http://{addr}/static/../../outside.txt"))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("TOP SECRET"), "{text}");
    assert!(
        text.ends_with("403") || text.ends_with("404") || text.ends_with("400"),
        "{text}"
    );
}

#[test]
fn large_file_streams_with_curl() {
    let (_base, root) = tree();
    let addr = start(&root, false);
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download} %{content_type}",
        ])
        .arg(format!("http://{addr}/big.bin"))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text,
        format!("200 {} application/octet-stream", 96 * 1024 * 1024)
    );
    let r = request(
        addr,
        "GET",
        "/big.bin",
        &[("range", "bytes=50000000-50000009")],
        b"",
    );
    assert_eq!(
        (r.status, r.body.clone(), r.header("content-range")),
        (206, vec![0; 10], Some("bytes 50000000-50000009/100663296"))
    );
}

#[test]
fn serve_dir_is_a_server_handler_on_its_own() {
    let (_base, root) = tree();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        waiter_rt::run(async move {
            let handler = serve_dir(root, ServeDirOptions::default());
            let server = waiter_http::Server::builder()
                .listen("127.0.0.1:0".parse().unwrap(), handler)
                .unwrap();
            tx.send(server.local_addr()).unwrap();
            server.closed().await;
        })
    });
    let addr = rx.recv().unwrap();
    assert_eq!(get(addr, "/hello.txt").text(), "hello, world\n");
    let r = get(addr, "/%2e%2e/outside.txt");
    assert_eq!(r.status, 403);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
}
