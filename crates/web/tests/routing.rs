//! Routing, parameters, 404/405/OPTIONS, mounting, middleware order and
//! error rendering, over real sockets.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::{get, request, serve};
use waiter_web::{json, text, App, Next, Request, Response, WebError};

fn app() -> App {
    let mut app = App::new();
    app.get("/", |_req: Request| async { "home" })
        .get("/users/{id}", |req: Request| async move {
            json(&serde_json::json!({ "id": req.param("id"), "q": req.query_param("q") }))
        })
        .post("/users/{id}", |req: Request| async move {
            text(format!("posted {}", req.param("id").unwrap()))
        })
        .delete("/users/{id}", |_req: Request| async { "deleted" })
        .all("/any", |req: Request| async move {
            text(req.method().to_string())
        })
        .get("/files/{*path}", |req: Request| async move {
            text(req.param("path").unwrap().to_owned())
        })
        .get("/fail", |_req: Request| async {
            Err::<Response, _>(WebError::new(418, "short and stout"))
        })
        .get("/boom", |_req: Request| async {
            Err::<&'static str, _>(std::io::Error::other("disk on fire"))
        });
    let mut api = App::new();
    api.use_(
        |req: Request, next: Next| async move { next.run(req).await.with_header("x-api", "1") },
    );
    api.get("/", |_req: Request| async { "api root" })
        .get("/items/{n}", |req: Request| async move {
            text(format!("item {}", req.param("n").unwrap()))
        });
    app.mount("/api", api);
    app
}

#[test]
fn routes_params_and_queries() {
    let addr = serve(app);
    let r = get(addr, "/");
    assert_eq!((r.status, r.text().as_str()), (200, "home"));
    let r = get(addr, "/users/caf%C3%A9?q=a+b%26c&x=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        serde_json::json!({ "id": "caf\u{e9}", "q": "a b&c" })
    );
    let r = request(addr, "POST", "/users/7", &[], b"");
    assert_eq!(r.text(), "posted 7");
    assert_eq!(get(addr, "/files/a/b/c.txt").text(), "a/b/c.txt");
    assert_eq!(
        request(addr, "PROPFIND", "/any", &[], b"").text(),
        "PROPFIND"
    );
    assert_eq!(request(addr, "PUT", "/any", &[], b"").text(), "PUT");
}

#[test]
fn a_trailing_slash_is_not_strict() {
    let addr = serve(app);
    let r = request(addr, "POST", "/users/7/", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "posted 7"));
    for path in ["/api", "/api/"] {
        let r = get(addr, path);
        assert_eq!((r.status, r.text().as_str()), (200, "api root"), "{path}");
        assert_eq!(r.header("x-api"), Some("1"));
    }
    assert_eq!(get(addr, "/api/items/3/").text(), "item 3");
    assert_eq!(get(addr, "/nope/").status, 404);
}

#[test]
fn not_found_method_not_allowed_and_options() {
    let addr = serve(app);
    let r = get(addr, "/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let doc = r.json();
    assert_eq!(doc["status"], 404);
    assert_eq!(doc["title"], "Not Found");
    assert_eq!(doc["type"], "about:blank");
    assert!(doc["detail"].as_str().unwrap().contains("/nope"));

    let r = request(addr, "PUT", "/users/1", &[], b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST, DELETE, OPTIONS"));
    assert_eq!(r.json()["status"], 405);

    let r = request(addr, "OPTIONS", "/users/1", &[], b"");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST, DELETE, OPTIONS"));

    let r = request(addr, "HEAD", "/users/5", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let len: usize = r.header("content-length").unwrap().parse().unwrap();
    assert_eq!(len, get(addr, "/users/5").body.len());
}

#[test]
fn mounted_router_and_errors() {
    let addr = serve(app);
    let r = get(addr, "/api");
    assert_eq!((r.status, r.text().as_str()), (200, "api root"));
    assert_eq!(r.header("x-api"), Some("1"));
    let r = get(addr, "/api/items/3");
    assert_eq!(
        (r.text().as_str(), r.header("x-api")),
        ("item 3", Some("1"))
    );
    // The router's middleware runs only for its routes.
    assert_eq!(get(addr, "/").header("x-api"), None);

    let r = get(addr, "/fail");
    assert_eq!(r.status, 418);
    assert_eq!(r.json()["detail"], "short and stout");
    let r = get(addr, "/boom");
    assert_eq!(r.status, 500);
    assert!(
        !r.text().contains("disk on fire"),
        "internal details leak: {}",
        r.text()
    );
}

#[test]
fn a_panicking_handler_gets_the_error_hook_and_the_middleware_around_it() {
    let addr = serve(|| {
        let mut app = App::new();
        app.use_(|req: Request, next: Next| async move {
            next.run(req).await.with_header("x-outer", "1")
        });
        app.on_error(|e: WebError| {
            text(format!("hook {}", e.status.as_u16())).with_status(e.status)
        });
        app.get("/panic", |_req: Request| async {
            if true {
                panic!("on purpose");
            }
            "never"
        });
        app.get("/fine", |_req: Request| async { "fine" });
        app
    });
    let r = get(addr, "/panic");
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), "hook 500");
    assert_eq!(r.header("x-outer"), Some("1"));
    assert_eq!(r.header("connection"), Some("close"));
    // The server goes on.
    assert_eq!(get(addr, "/fine").text(), "fine");
}

#[test]
fn middleware_order_and_short_circuit() {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let l = log.clone();
    let addr = serve(move || {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let mut app = App::new();
        for name in ["a", "b"] {
            let (l, seen) = (l.clone(), seen.clone());
            app.use_(move |req: Request, next: Next| {
                let (l, seen) = (l.clone(), seen.clone());
                async move {
                    seen.borrow_mut().push(format!("{name}>"));
                    let res = next.run(req).await;
                    seen.borrow_mut().push(format!("<{name}"));
                    l.lock().unwrap().extend(seen.borrow_mut().drain(..));
                    res.with_header(&format!("x-{name}"), "1")
                }
            });
        }
        app.use_(|req: Request, next: Next| async move {
            if req.header("x-block").is_some() {
                return Err(WebError::new(401, "blocked"));
            }
            Ok(next.run(req).await)
        });
        let s = seen.clone();
        app.get("/h", move |_req: Request| {
            s.borrow_mut().push("handler".to_owned());
            async { "ok" }
        });
        app
    });
    let r = get(addr, "/h");
    assert_eq!(
        (r.status, r.header("x-a"), r.header("x-b")),
        (200, Some("1"), Some("1"))
    );
    assert_eq!(*log.lock().unwrap(), ["a>", "b>", "handler", "<b", "<a"]);
    log.lock().unwrap().clear();

    let r = request(addr, "GET", "/h", &[("x-block", "1")], b"");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!((r.header("x-a"), r.header("x-b")), (Some("1"), Some("1")));
    assert_eq!(*log.lock().unwrap(), ["a>", "b>", "<b", "<a"]);
    log.lock().unwrap().clear();

    // 404s run through the middleware too.
    let r = get(addr, "/missing");
    assert_eq!((r.status, r.header("x-a")), (404, Some("1")));
}

#[test]
fn error_hook_customises_errors() {
    let addr = serve(|| {
        let mut app = App::new();
        app.on_error(|e: WebError| {
            text(format!("custom {}: {}", e.status.as_u16(), e.detail)).with_status(e.status)
        });
        app.get("/x", |_req: Request| async {
            Err::<Response, _>(WebError::bad_request("nope"))
        });
        app
    });
    let r = get(addr, "/x");
    assert_eq!((r.status, r.text().as_str()), (400, "custom 400: nope"));
    assert_eq!(get(addr, "/y").status, 404);
    assert!(get(addr, "/y").text().starts_with("custom 404"));
}

/// Answers `base|rel` for every request.
fn paths(req: Request) -> impl std::future::Future<Output = String> {
    let s = format!("{}|{}", req.base_path(), req.rel_path());
    async move { s }
}

#[test]
fn a_mounted_route_sees_the_path_below_its_mount_point() {
    let addr = serve(|| {
        let mut inner = App::new();
        inner.get("/", paths).get("/x/{n}", paths);
        let mut api = App::new();
        api.get("/", paths).get("/items/{n}", paths);
        api.mount("/v2", inner);
        api.mount("/files", paths);
        let mut app = App::new();
        app.get("/plain/{n}", paths);
        app.mount("/api", api);
        let mut users = App::new();
        users.get("/posts", paths);
        app.mount("/u/{id}", users);
        app
    });
    for (path, want) in [
        ("/plain/1", "|/plain/1"),
        ("/api", "/api|/"),
        ("/api/", "/api|/"),
        ("/api/items/3", "/api|/items/3"),
        ("/api/items/3/", "/api|/items/3/"),
        ("/api/v2", "/api/v2|/"),
        ("/api/v2/x/%41", "/api/v2|/x/%41"),
        ("/api/files", "/api/files|"),
        ("/api/files/", "/api/files|/"),
        ("/api/files/a/b.txt", "/api/files|/a/b.txt"),
        ("/u/7/posts", "/u/7|/posts"),
        ("/u/some%2Fone/posts", "/u/some%2Fone|/posts"),
    ] {
        let r = get(addr, path);
        assert_eq!((r.status, r.text().as_str()), (200, want), "{path}");
    }
}
