//! The client against waiter's own server, hand-written raw responses, and
//! Python's `http.server`, all on real sockets on 127.0.0.1.

use std::cell::Cell;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use waiter_http::{
    Body, Client, ClientError, ClientErrorKind, Method, Request, RequestBuilder, Response, Server,
    ServerBuilder, ServerHandle, StatusCode, Version,
};
use waiter_proto::ErrorKind;

thread_local! {
    static INFLIGHT: Cell<usize> = const { Cell::new(0) };
    static MAX_INFLIGHT: Cell<usize> = const { Cell::new(0) };
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap()
}

async fn app(mut req: Request) -> Response {
    let path = req.path().to_owned();
    match path.as_str() {
        "/port" => Response::text(req.remote_addr().port().to_string()),
        "/echo" => {
            let cl = req.header("content-length").map(|n| format!("cl={n}"));
            let te = req.header("transfer-encoding").map(str::to_owned);
            let framing = cl.or(te).unwrap_or_else(|| "none".to_owned());
            let m = req.method().to_string();
            let body = req.body_mut().bytes(1 << 20).await.unwrap();
            Response::text(format!("{m} {framing} {}", String::from_utf8_lossy(&body)))
        }
        "/chunked" => {
            let (tx, body) = Body::channel(1);
            waiter_rt::spawn_local(async move {
                for part in ["ab", "cd", "ef"] {
                    tx.send(part).await.unwrap();
                    waiter_rt::sleep(ms(10)).await;
                }
            })
            .detach();
            Response::new(StatusCode::OK).with_body(body)
        }
        "/big" => Response::text(vec![b'x'; 1 << 20]),
        "/204" | "/304" => Response::new(status(path[1..].parse().unwrap())),
        "/slow" => {
            waiter_rt::sleep(Duration::from_secs(2)).await;
            Response::text("late")
        }
        "/loop" => Response::redirect(status(302), "/loop"),
        "/gate" => gate(req.query().unwrap_or("1").parse().unwrap()).await,
        p if p.starts_with("/redirect/") => {
            Response::redirect(status(p[10..].parse().unwrap()), "/echo")
        }
        _ => Response::new(StatusCode::NOT_FOUND),
    }
}

/// Answers once `n` requests are in the handler at once (or after 2 s).
async fn gate(n: usize) -> Response {
    let now = INFLIGHT.get() + 1;
    INFLIGHT.set(now);
    MAX_INFLIGHT.set(MAX_INFLIGHT.get().max(now));
    let deadline = Instant::now() + Duration::from_secs(2);
    while INFLIGHT.get() < n && MAX_INFLIGHT.get() < n && Instant::now() < deadline {
        waiter_rt::sleep(ms(5)).await;
    }
    waiter_rt::sleep(ms(5)).await;
    INFLIGHT.set(INFLIGHT.get() - 1);
    Response::text("open")
}

fn serve() -> ServerHandle {
    serve_with(Server::builder())
}

fn serve_with(b: ServerBuilder) -> ServerHandle {
    b.listen("127.0.0.1:0".parse().unwrap(), app).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn url(s: &ServerHandle, path: &str) -> String {
    format!("http://{}{path}", s.local_addr())
}

async fn text(rb: RequestBuilder) -> String {
    rb.send().await.unwrap().text().await.unwrap()
}

async fn fails(rb: RequestBuilder) -> ClientError {
    rb.send().await.unwrap_err()
}

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[test]
fn get_and_post_with_bodies() {
    waiter_rt::run(async {
        let (s, c) = (serve(), Client::new());
        let mut r = c.get(&url(&s, "/echo?x=1")).send().await.unwrap();
        assert_eq!((r.status(), r.version()), (StatusCode::OK, Version::Http11));
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.text().await.unwrap(), "GET none ");
        let echo = url(&s, "/echo");
        assert_eq!(text(c.post(&echo).body("hello")).await, "POST cl=5 hello");
        assert_eq!(text(c.post(&echo)).await, "POST cl=0 ");
        let parts = ["stre", "amed"].map(|p| Ok(Bytes::from_static(p.as_bytes())));
        let stream = futures_util::stream::iter(parts);
        let put = c.put(&echo).body_stream(stream);
        assert_eq!(text(put).await, "PUT chunked streamed");
        assert_eq!(text(c.get(&url(&s, "/big"))).await.len(), 1 << 20);
        assert_eq!(s.connections(), 1, "every exchange reused one connection");
    });
}

#[test]
fn chunked_response_arrives_in_pieces() {
    waiter_rt::run(async {
        let (s, c) = (serve(), Client::new());
        let mut r = c.get(&url(&s, "/chunked")).send().await.unwrap();
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        let mut pieces = Vec::new();
        while let Some(p) = r.chunk().await.unwrap() {
            pieces.push(p);
        }
        assert_eq!(pieces, ["ab", "cd", "ef"]);
        assert!(r.is_body_done() && c.idle_connections() == 1);
        assert!(r.chunk().await.unwrap().is_none());
    });
}

#[test]
fn keep_alive_reuses_and_half_read_bodies_close() {
    waiter_rt::run(async {
        let (s, c) = (serve(), Client::new());
        let a = text(c.get(&url(&s, "/port"))).await;
        assert_eq!(text(c.get(&url(&s, "/port"))).await, a);
        let counts = (s.connections(), s.requests(), c.idle_connections());
        assert_eq!(counts, (1, 2, 1));
        let mut r = c.get(&url(&s, "/big")).send().await.unwrap();
        assert!(!r.chunk().await.unwrap().unwrap().is_empty());
        assert_eq!((c.idle_connections(), c.open_connections()), (0, 1));
        drop(r);
        assert_eq!(c.open_connections(), 0, "a half-read connection is closed");
        assert_ne!(text(c.get(&url(&s, "/port"))).await, a);
    });
}

#[test]
fn idle_timeout_closes_pooled_connections() {
    waiter_rt::run(async {
        let s = serve();
        let c = Client::builder().idle_timeout(ms(150)).build();
        let a = text(c.get(&url(&s, "/port"))).await;
        assert_eq!((c.idle_connections(), s.connections()), (1, 1));
        waiter_rt::sleep(ms(500)).await;
        assert_eq!((c.idle_connections(), c.open_connections()), (0, 0));
        assert_eq!(s.connections(), 0, "the server saw the close");
        assert_ne!(text(c.get(&url(&s, "/port"))).await, a);
    });
}

#[test]
fn connection_closed_by_server_while_idle_is_replaced() {
    waiter_rt::run(async {
        let s = serve_with(Server::builder().keep_alive_timeout(ms(500)));
        let c = Client::builder()
            .idle_timeout(Duration::from_secs(30))
            .build();
        let a = text(c.get(&url(&s, "/port"))).await;
        waiter_rt::sleep(ms(2500)).await;
        assert_eq!((s.connections(), c.idle_connections()), (0, 1));
        // A POST is never retried: only the check before reuse can save it.
        let post = c.post(&url(&s, "/echo")).body("after");
        assert_eq!(text(post).await, "POST cl=5 after");
        assert_ne!(text(c.get(&url(&s, "/port"))).await, a);
        assert_eq!(c.open_connections(), 1);
    });
}

/// Reads one request head (and no body) from `s`; false at EOF.
fn read_head(s: &mut TcpStream) -> bool {
    let found = BufReader::new(s).lines().find_map(|l| match l {
        Ok(l) => l.is_empty().then_some(true),
        Err(_) => Some(false),
    });
    found.unwrap_or(false)
}

/// A server that answers the first request on a connection, then closes
/// it when the second arrives, then (if `second`) answers on a new one.
fn racing_server(second: bool) -> (String, thread::JoinHandle<()>) {
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    let t = thread::spawn(move || {
        let (mut c1, _) = l.accept().unwrap();
        assert!(read_head(&mut c1));
        c1.write_all(&[OK, b"first"].concat()).unwrap();
        if read_head(&mut c1) && second {
            drop(c1);
            let (mut c2, _) = l.accept().unwrap();
            assert!(read_head(&mut c2));
            c2.write_all(&[OK, b"fresh"].concat()).unwrap();
        }
    });
    (url, t)
}

#[test]
fn keep_alive_race_retries_idempotent_requests_only() {
    waiter_rt::run(async {
        let c = Client::new();
        let (u, t) = racing_server(true);
        assert_eq!(text(c.get(&u)).await, "first");
        let retried = text(c.get(&u)).await;
        assert_eq!(retried, "fresh", "sent again on a new connection");
        t.join().unwrap();
        let (u, t) = racing_server(false);
        assert_eq!(text(c.get(&u)).await, "first");
        let e = c.post(&u).body("x").send().await.unwrap_err();
        assert_eq!(e.kind(), ClientErrorKind::Io, "{e}");
        t.join().unwrap();
    });
}

#[test]
fn responses_without_body() {
    waiter_rt::run(async {
        let (s, c) = (serve(), Client::new());
        let port = text(c.get(&url(&s, "/port"))).await;
        let r = c.head(&url(&s, "/big")).send().await.unwrap();
        assert_eq!(r.header("content-length"), Some("1048576"));
        assert!(r.is_body_done(), "no body to wait for");
        assert_eq!(c.idle_connections(), 1, "back in the pool already");
        assert_eq!(text(c.head(&url(&s, "/big"))).await, "");
        for code in [204, 304] {
            let mut r = c.get(&url(&s, &format!("/{code}"))).send().await.unwrap();
            assert_eq!(r.status().as_u16(), code);
            assert_eq!(r.text().await.unwrap(), "");
        }
        let again = text(c.get(&url(&s, "/port"))).await;
        assert_eq!(again, port, "the connection was kept throughout");
    });
}

#[test]
fn redirects_only_when_enabled() {
    waiter_rt::run(async {
        let s = serve();
        let r = Client::new().get(&url(&s, "/redirect/302")).send().await;
        let r = r.unwrap();
        assert_eq!(r.status().as_u16(), 302);
        assert_eq!(r.header("location"), Some("/echo"));
        let c = Client::builder().redirects(3).build();
        let mut r = c.get(&url(&s, "/redirect/301")).send().await.unwrap();
        assert!(r.url().ends_with("/echo"));
        assert_eq!(r.text().await.unwrap(), "GET none ");
        let post = |code: u16| c.post(&url(&s, &format!("/redirect/{code}"))).body("b");
        assert_eq!(text(post(303)).await, "GET none ");
        assert_eq!(text(post(302)).await, "GET none ");
        assert_eq!(text(post(307)).await, "POST cl=1 b");
        let put = c.request(Method::Put, &url(&s, "/redirect/308")).body("p");
        assert_eq!(text(put).await, "PUT cl=1 p");
        let stream = || futures_util::stream::iter([Ok(Bytes::from_static(b"s"))]);
        let r = post(308).body_stream(stream()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 308, "a streamed body is not replayed");
        let put = c.put(&url(&s, "/redirect/301")).body_stream(stream());
        assert_eq!(put.send().await.unwrap().status().as_u16(), 301);
        let e = fails(c.get(&url(&s, "/loop"))).await;
        assert_eq!(e.kind(), ClientErrorKind::TooManyRedirects);
        assert_eq!(s.requests(), 17, "the loop was cut after 3 redirects");
    });
}

#[test]
fn connect_errors_timeouts_and_bad_urls() {
    waiter_rt::run(async {
        let c = Client::new();
        let free = format!("http://{}/", free_addr());
        let e = fails(c.get(&free)).await;
        assert_eq!(e.kind(), ClientErrorKind::Connect, "{e}");
        for (u, kind) in [
            ("https://127.0.0.1/", ClientErrorKind::Unsupported),
            ("127.0.0.1/x", ClientErrorKind::InvalidUrl),
            ("http://bad host/", ClientErrorKind::InvalidUrl),
        ] {
            assert_eq!(fails(c.get(u)).await.kind(), kind, "{u}");
        }
        let e = fails(c.get(&free).header("x", "a\r\nb")).await;
        assert_eq!(e.kind(), ClientErrorKind::InvalidRequest, "checked first");
        // A listener whose backlog is full drops new SYNs: connecting hangs.
        let opts = waiter_rt::net::ListenOptions {
            backlog: 0,
            ..Default::default()
        };
        let l = opts.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let mut held = Vec::new();
        while let Ok(s) = TcpStream::connect_timeout(&addr, ms(200)) {
            held.push(s);
            assert!(held.len() < 64, "the backlog never filled");
        }
        let c = Client::builder().connect_timeout(ms(300)).build();
        let started = Instant::now();
        let e = fails(c.get(&format!("http://{addr}/"))).await;
        assert!(e.is_timeout(), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
    });
}

#[test]
fn response_timeout() {
    waiter_rt::run(async {
        let s = serve();
        let c = Client::builder().response_timeout(ms(200)).build();
        let e = fails(c.get(&url(&s, "/slow"))).await;
        assert!(e.is_timeout(), "{e}");
        let slow = Client::new().get(&url(&s, "/slow"));
        let e = fails(slow.timeout(ms(100))).await;
        assert_eq!(e.kind(), ClientErrorKind::Timeout);
        assert_eq!(c.open_connections(), 0);
        assert_eq!(text(c.get(&url(&s, "/echo"))).await, "GET none ");
    });
}

#[test]
fn the_response_timeout_spares_a_moving_upload_and_stops_a_stalled_one() {
    waiter_rt::run(async {
        let s = serve();
        let c = Client::builder().response_timeout(ms(300)).build();
        // Ten chunks 100 ms apart: a second in all, but never 300 ms still.
        let chunks = futures_util::stream::unfold(0, |i| async move {
            if i == 10 {
                return None;
            }
            waiter_rt::sleep(ms(100)).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"ab")), i + 1))
        });
        let started = Instant::now();
        let mut r = c
            .post(&url(&s, "/echo"))
            .body_stream(chunks)
            .send()
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert_eq!(
            r.text().await.unwrap(),
            format!("POST chunked {}", "ab".repeat(10))
        );

        // A server that reads the head and then nothing: the upload stalls
        // once the socket buffers are full, and the timeout ends it.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let u = format!("http://{}/", l.local_addr().unwrap());
        let t = thread::spawn(move || {
            let (mut conn, _) = l.accept().unwrap();
            assert!(read_head(&mut conn));
            thread::sleep(Duration::from_secs(2));
        });
        let started = Instant::now();
        let e = fails(c.post(&u).body(Bytes::from(vec![b'x'; 64 << 20]))).await;
        assert!(e.is_timeout(), "{e}");
        assert!(e.to_string().contains("no progress"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
        t.join().unwrap();
    });
}

async fn fan_out(c: &Client, urls: Vec<String>) -> Vec<String> {
    let spawn = |u: String| waiter_rt::spawn_local(text(c.get(&u)));
    let tasks: Vec<_> = urls.into_iter().map(spawn).collect();
    futures_util::future::join_all(tasks.into_iter().map(|t| async { t.await.unwrap() })).await
}

#[test]
fn fan_out_to_one_origin() {
    waiter_rt::run(async {
        let (s, c) = (serve(), Client::new());
        let urls = (0..50).map(|_| url(&s, "/gate?50")).collect();
        assert!(fan_out(&c, urls).await.iter().all(|b| b == "open"));
        assert_eq!(MAX_INFLIGHT.get(), 50, "all 50 were in flight at once");
        assert_eq!((s.connections(), c.idle_connections()), (50, 50));
    });
}

#[test]
fn fan_out_to_two_origins() {
    waiter_rt::run(async {
        let (a, b, c) = (serve(), serve(), Client::new());
        // Joined futures in one task this time, rather than spawned tasks.
        let urls: Vec<_> = (0..50).map(|i| url([&a, &b][i % 2], "/gate?50")).collect();
        let all = futures_util::future::join_all(urls.iter().map(|u| text(c.get(u))));
        assert_eq!(all.await.len(), 50);
        assert_eq!(MAX_INFLIGHT.get(), 50);
        assert_eq!((a.requests(), b.requests()), (25, 25));
        assert_eq!((a.connections(), b.connections()), (25, 25));
    });
}

#[test]
fn connection_limit_makes_requests_wait() {
    waiter_rt::run(async {
        let s = serve();
        let c = Client::builder().max_connections_per_origin(4).build();
        let urls = (0..20).map(|_| url(&s, "/gate?4")).collect();
        assert_eq!(fan_out(&c, urls).await.len(), 20);
        assert_eq!(MAX_INFLIGHT.get(), 4);
        let counts = (s.requests(), s.connections(), c.open_connections());
        assert_eq!(counts, (20, 4, 4));
    });
}

/// Serves `reply` to one request on a raw socket, then closes.
fn raw(reply: &'static [u8]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        if read_head(&mut s) {
            let _ = s.write_all(reply);
        }
    });
    format!("http://{addr}/")
}

#[test]
fn malformed_responses_are_parse_errors() {
    waiter_rt::run(async {
        let c = Client::new();
        let both = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
        let cases: [(&'static [u8], ErrorKind); 4] = [
            (b"HTTP/1.1 2x0 OK\r\n\r\n", ErrorKind::StatusLine),
            (
                b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
                ErrorKind::BareLf,
            ),
            (both, ErrorKind::ContentLengthWithTransferEncoding),
            (two, ErrorKind::ConflictingContentLength),
        ];
        for (reply, kind) in cases {
            let e = fails(c.get(&raw(reply))).await;
            assert_eq!(e.kind(), ClientErrorKind::Parse(kind), "{e}");
            assert_eq!(e.parse_error().unwrap().kind(), kind);
        }
        let short = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc");
        let mut r = c.get(&short).send().await.unwrap();
        let e = r.bytes().await.unwrap_err();
        assert_eq!(e.kind(), ClientErrorKind::Parse(ErrorKind::IncompleteBody));
        let gone = r.chunk().await.unwrap_err().kind();
        assert_eq!(gone, ClientErrorKind::BodyGone);
        let bad = raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
        let e = c.get(&bad).send().await.unwrap().bytes().await.unwrap_err();
        let kind = ClientErrorKind::Parse(ErrorKind::InvalidChunkSize);
        assert_eq!(e.kind(), kind);
        assert_eq!(c.open_connections(), 0);
    });
}

#[test]
fn close_delimited_and_interim_responses() {
    waiter_rt::run(async {
        let c = Client::new();
        let old = raw(b"HTTP/1.0 200 OK\r\nServer: raw\r\n\r\nuntil the end");
        let mut r = c.get(&old).send().await.unwrap();
        assert_eq!(r.version(), Version::Http10);
        assert_eq!(r.text().await.unwrap(), "until the end");
        let reply = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(text(c.get(&raw(reply))).await, "ok");
        let e = fails(c.get(&raw(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"))).await;
        assert_eq!(e.kind(), ClientErrorKind::Unsupported);
        let pooled = c.idle_connections();
        assert_eq!(pooled, 1, "only the keep-alive response was pooled");
    });
}

#[test]
fn the_pool_does_not_keep_the_loop_alive() {
    let (u, t) = racing_server(false);
    let lp = waiter_rt::Loop::new().unwrap();
    let c = lp.block_on(async {
        let c = Client::new();
        assert_eq!(text(c.get(&u)).await, "first");
        c
    });
    assert_eq!(c.idle_connections(), 1);
    let alive = lp.is_alive();
    assert!(!alive, "idle connections and their timers are unref'd");
    drop((c, lp));
    t.join().unwrap();
}

#[test]
fn python_http_server_interop() {
    let dir = std::env::temp_dir().join(format!("waiter-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello from python\n").unwrap();
    let port = free_addr().port();
    let mut child = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "python's server did not start");
        thread::sleep(ms(50));
    }
    let result = waiter_rt::run(async move {
        let c = Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let mut r = c.get(&format!("{base}/hello.txt")).send().await?;
        let missing = c.get(&format!("{base}/nope")).send().await?.status();
        let ok = (r.status(), r.version(), r.text().await?, missing);
        assert_eq!(c.idle_connections(), 0, "HTTP/1.0 answers close");
        Ok::<_, ClientError>(ok)
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let (st, version, body, missing) = result.unwrap();
    assert_eq!((st.as_u16(), missing.as_u16()), (200, 404));
    assert_eq!(body, "hello from python\n");
    assert_eq!(version, Version::Http10);
}
