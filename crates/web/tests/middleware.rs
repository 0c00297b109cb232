//! The built-in middleware: CORS, request ids, gzip and logging.

mod common;

use std::io::Read;

use common::{request, serve};
use flate2::read::GzDecoder;
use waiter_web::middleware::{Compression, Cors, Logger, RequestId, RequestIdValue};
use waiter_web::{text, App, Request};

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(b).read_to_end(&mut out).unwrap();
    out
}

fn cors_app() -> App {
    {
        let mut app = App::new();
        app.use_(
            Cors::new()
                .origins(["https://good.example"])
                .methods(["GET", "POST"])
                .headers(["content-type", "x-token"])
                .expose(["x-total"])
                .credentials(true),
        );
        app.get("/data", |_req: Request| async {
            text("data").with_header("x-total", "1")
        });
        app
    }
}

const ORIGIN: (&str, &str) = ("origin", "https://good.example");

#[test]
fn cors_preflight() {
    let addr = serve(cors_app);
    let origin = ORIGIN;
    let r = request(
        addr,
        "OPTIONS",
        "/data",
        &[
            origin,
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "x-token"),
        ],
        b"",
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://good.example")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("GET, POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type, x-token")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(r.header("vary"), Some("origin"));

    let bad = [
        ("origin", "https://evil.example"),
        ("access-control-request-method", "GET"),
    ];
    let r = request(addr, "OPTIONS", "/data", &bad, b"");
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = request(
        addr,
        "OPTIONS",
        "/data",
        &[origin, ("access-control-request-method", "DELETE")],
        b"",
    );
    assert_eq!(r.status, 403);
}

#[test]
fn cors_simple_requests() {
    let addr = serve(cors_app);
    let origin = ORIGIN;
    let r = request(addr, "GET", "/data", &[origin], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "data"));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://good.example")
    );
    assert_eq!(r.header("access-control-expose-headers"), Some("x-total"));
    let r = request(
        addr,
        "GET",
        "/data",
        &[("origin", "https://evil.example")],
        b"",
    );
    assert_eq!(
        (r.status, r.header("access-control-allow-origin")),
        (200, None)
    );
    // The answer depends on the origin, so every response says so, even
    // to a request from another origin or from none.
    assert_eq!(r.header("vary"), Some("origin"));
    let r = request(addr, "GET", "/data", &[], b"");
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("vary"), Some("origin"));
}

#[test]
fn cors_with_credentials_and_any_origin_never_echoes_null() {
    let addr = serve(|| {
        let mut app = App::new();
        app.use_(Cors::new().credentials(true));
        app.get("/data", |_req: Request| async { text("data") });
        app
    });
    let r = request(
        addr,
        "GET",
        "/data",
        &[("origin", "https://a.example")],
        b"",
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://a.example")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    let r = request(addr, "GET", "/data", &[("origin", "null")], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("access-control-allow-credentials"), None);
    let r = request(
        addr,
        "OPTIONS",
        "/data",
        &[("origin", "null"), ("access-control-request-method", "GET")],
        b"",
    );
    assert_eq!(r.status, 403);
}

#[test]
fn request_id_propagates_or_generates() {
    let addr = serve(|| {
        let mut app = App::new();
        app.use_(RequestId::new()).use_(Logger::new());
        app.get("/id", |req: Request| async move {
            let ext = req.extension::<RequestIdValue>().unwrap().0.clone();
            text(format!("{ext}|{}", req.header("x-request-id").unwrap()))
        });
        app
    });
    let r = request(addr, "GET", "/id", &[("x-request-id", "abc-123")], b"");
    assert_eq!(r.header("x-request-id"), Some("abc-123"));
    assert_eq!(r.text(), "abc-123|abc-123");

    let r1 = request(addr, "GET", "/id", &[], b"");
    let r2 = request(
        addr,
        "GET",
        "/id",
        &[("x-request-id", "bad id with spaces")],
        b"",
    );
    let (id1, id2) = (
        r1.header("x-request-id").unwrap(),
        r2.header("x-request-id").unwrap(),
    );
    assert_eq!(id1.len(), 32);
    assert!(id1.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(id1, id2);
    assert_eq!(r1.text(), format!("{id1}|{id1}"));
    // 404s get an id too.
    assert!(request(addr, "GET", "/nope", &[], b"")
        .header("x-request-id")
        .is_some());
}

fn medium() -> String {
    "hello gzip world. ".repeat(200)
}

fn large() -> String {
    (0..20_000).map(|i| format!("line {i}\n")).collect()
}

/// Bodies of several sizes and types behind `Compression`.
fn gzip_app() -> App {
    let mut app = App::new();
    app.use_(Compression::new());
    app.get("/small", |_req: Request| async { text("tiny") })
        .get("/medium", |_req: Request| async { text(medium()) })
        .get("/large", |_req: Request| async { text(large()) })
        .get("/png", |_req: Request| async {
            waiter_web::Response::bytes("image/png", medium())
        })
        .get("/varied", |_req: Request| async {
            let mut r = text(medium());
            r.headers.append("vary", "cookie");
            r.headers.append("vary", "authorization");
            r
        });
    app
}

#[test]
fn gzip_compresses_only_when_it_should() {
    let (small, medium, large) = ("tiny".to_owned(), medium(), large());
    let addr = serve(gzip_app);
    let gz = ("accept-encoding", "br, gzip;q=0.8");
    let r = request(addr, "GET", "/medium", &[gz], b"");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("vary"), Some("accept-encoding"));
    assert!(r.body.len() < medium.len() / 5);
    assert_eq!(gunzip(&r.body), medium.as_bytes());

    // Above the pool threshold.
    let r = request(addr, "GET", "/large", &[gz], b"");
    assert!(large.len() > 64 * 1024);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body), large.as_bytes());

    let r = request(addr, "GET", "/small", &[gz], b"");
    assert_eq!((r.header("content-encoding"), r.text()), (None, small));
    assert_eq!(r.header("vary"), Some("accept-encoding"));
    let r = request(addr, "GET", "/medium", &[], b"");
    assert_eq!(
        (r.header("content-encoding"), r.body.len()),
        (None, medium.len())
    );
    let r = request(
        addr,
        "GET",
        "/medium",
        &[("accept-encoding", "gzip;q=0")],
        b"",
    );
    assert_eq!(r.header("content-encoding"), None);
    let r = request(addr, "GET", "/png", &[gz], b"");
    assert_eq!(
        (r.header("content-encoding"), r.header("vary")),
        (None, None)
    );
    // An explicit gzip entry decides; `*` only stands for codings not
    // listed; `q` in any case; a weight that does not parse refuses.
    for (accept, gzipped) in [
        ("gzip;q=0, *", false),
        ("*, gzip;q=0", false),
        ("GZIP; Q=0", false),
        ("gzip;q=zz", false),
        ("identity, *;q=0", false),
        ("*", true),
        ("x-gzip", true),
        ("gzip;q=0.1, *;q=0", true),
        ("br;q=1, GZip ; Q=0.5", true),
    ] {
        let r = request(addr, "GET", "/medium", &[("accept-encoding", accept)], b"");
        assert_eq!(r.header("content-encoding").is_some(), gzipped, "{accept}");
    }
    // Every Vary field's values are kept when one is added.
    let r = request(addr, "GET", "/varied", &[gz], b"");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(
        r.header("vary"),
        Some("cookie, authorization, accept-encoding")
    );
}
