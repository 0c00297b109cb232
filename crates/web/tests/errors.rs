//! Error-handling middleware: errors and panics with their request, answered
//! or passed on, router before app, and the middleware around them.

mod common;

use common::{request, serve};
use waiter_web::middleware::{RequestId, RequestIdValue};
use waiter_web::{html, text, App, ErrorRequest, Next, Request, Response, Router, WebError};

fn get(addr: std::net::SocketAddr, path: &str) -> common::Reply {
    request(addr, "GET", path, &[], b"")
}

#[test]
fn error_middleware_sees_the_error_and_the_request_and_answers_or_passes_on() {
    let addr = serve(|| {
        let mut app = App::new();
        app.use_(RequestId::new());
        app.use_(|req: Request, next: Next| async move {
            next.run(req).await.with_header("x-outer", "1")
        });
        app.get("/users/{id}", |req: Request| async move {
            let id = req.param("id").unwrap_or_default().to_owned();
            Err::<Response, _>(WebError::new(409, format!("user {id} is locked")))
        });
        app.get("/teapot", |_req: Request| async {
            Err::<Response, _>(WebError::new(418, "short and stout"))
        });
        // First: answers 409s, with what it knows of the request.
        app.use_error(|err: WebError, req: ErrorRequest| async move {
            if err.status.as_u16() != 409 {
                return Err(err);
            }
            let id = req.extension::<RequestIdValue>().map(|v| v.0.clone());
            Ok(text(format!(
                "{} {} param={} agent={} id={} detail={}",
                req.method(),
                req.target(),
                req.param("id").unwrap_or("-"),
                req.header("user-agent").unwrap_or("-"),
                id.as_deref().unwrap_or("-"),
                err.detail
            ))
            .with_status(err.status))
        });
        // Second: turns HTML 404s into a page, and passes 418 on as 503.
        app.use_error(|err: WebError, req: ErrorRequest| async move {
            match err.status.as_u16() {
                404 if req
                    .header("accept")
                    .is_some_and(|a| a.contains("text/html")) =>
                {
                    Ok(html(format!("<h1>No {}</h1>", req.path())).with_status(err.status))
                }
                418 => Err(WebError::new(503, "the teapot is busy")),
                _ => Err(err),
            }
        });
        app
    });
    let r = request(addr, "GET", "/users/7?x=1", &[("user-agent", "t/1")], b"");
    assert_eq!(r.status, 409);
    let body = r.text();
    assert!(
        body.starts_with("GET /users/7?x=1 param=7 agent=t/1 id="),
        "{body}"
    );
    assert!(body.ends_with(" detail=user 7 is locked"), "{body}");
    // The id the request-id middleware attached is the one it answered with.
    let id = r.header("x-request-id").unwrap();
    assert!(body.contains(&format!("id={id} ")), "{body} vs {id}");
    // The middleware around the failing handler sees the response.
    assert_eq!(r.header("x-outer"), Some("1"));

    // 404s are errors too: the second one answers HTML clients.
    let r = request(addr, "GET", "/nope", &[("accept", "text/html")], b"");
    assert_eq!((r.status, r.text().as_str()), (404, "<h1>No /nope</h1>"));
    assert_eq!(r.header("x-outer"), Some("1"));
    // Others get the renderer's problem document.
    let r = get(addr, "/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));

    // An error passed on as another error reaches the renderer as that.
    let r = get(addr, "/teapot");
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["detail"], "the teapot is busy");
}

#[test]
fn a_routers_error_middleware_and_renderer_come_before_the_apps() {
    let addr = serve(|| {
        let mut api = Router::new();
        api.get("/fail/{n}", |req: Request| async move {
            let n: u16 = req.param("n").unwrap().parse().unwrap();
            Err::<Response, _>(WebError::new(n, "api failure"))
        });
        api.use_error(|err: WebError, req: ErrorRequest| async move {
            if err.status.as_u16() == 401 {
                let base = req.base_path().to_owned();
                return Ok(text(format!("api login at {base}/login")).with_status(err.status));
            }
            Err(err)
        });
        api.on_error(|e: WebError| {
            text(format!("api says {}", e.status.as_u16())).with_status(e.status)
        });

        let mut admin = Router::new();
        admin.get("/fail", |_req: Request| async {
            Err::<Response, _>(WebError::new(403, "admins only"))
        });
        admin.use_error(|err: WebError, _req: ErrorRequest| async move {
            Err::<Response, _>(WebError::new(
                err.status.as_u16(),
                format!("admin: {}", err.detail),
            ))
        });

        let mut app = App::new();
        app.get("/fail", |_req: Request| async {
            Err::<Response, _>(WebError::new(401, "app failure"))
        });
        app.mount("/api", api);
        app.mount("/admin", admin);
        app.use_error(|err: WebError, _req: ErrorRequest| async move {
            text(format!(
                "app caught {}: {}",
                err.status.as_u16(),
                err.detail
            ))
            .with_status(err.status)
        });
        app
    });
    // The router's own error middleware answers its 401s.
    let r = get(addr, "/api/fail/401");
    assert_eq!(
        (r.status, r.text().as_str()),
        (401, "api login at /api/login")
    );
    // What it passes on goes to the router's renderer, not the app's.
    let r = get(addr, "/api/fail/409");
    assert_eq!((r.status, r.text().as_str()), (409, "api says 409"));
    // A router without a renderer passes on to the app's error middleware.
    let r = get(addr, "/admin/fail");
    assert_eq!(
        (r.status, r.text().as_str()),
        (403, "app caught 403: admin: admins only")
    );
    // The app's routes never see a router's error middleware.
    let r = get(addr, "/fail");
    assert_eq!(
        (r.status, r.text().as_str()),
        (401, "app caught 401: app failure")
    );
}

#[test]
fn panics_become_500_errors_for_the_error_middleware_and_close_the_connection() {
    let addr = serve(|| {
        let mut app = App::new();
        app.get("/panic", |_req: Request| async {
            if true {
                panic!("handler on purpose");
            }
            "never"
        });
        app.get("/err", |_req: Request| async {
            Err::<Response, _>(WebError::bad_request("bad"))
        });
        app.get("/fine", |_req: Request| async { "fine" });
        // A panicking error middleware is an error for the next one.
        app.use_error(|err: WebError, req: ErrorRequest| async move {
            if req.path() == "/err" {
                panic!("error middleware on purpose");
            }
            Err::<Response, _>(err)
        });
        app.use_error(|err: WebError, req: ErrorRequest| async move {
            text(format!(
                "{} for {}: {}",
                err.status.as_u16(),
                req.path(),
                err.detail
            ))
            .with_status(err.status)
        });
        app
    });
    let r = get(addr, "/panic");
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text(),
        "500 for /panic: the server failed to handle the request"
    );
    assert_eq!(r.header("connection"), Some("close"));
    let r = get(addr, "/err");
    assert_eq!(r.status, 500);
    assert!(r.text().starts_with("500 for /err: "), "{}", r.text());
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(get(addr, "/fine").text(), "fine");
}

#[test]
fn an_error_from_a_middleware_sees_the_request_as_it_arrived() {
    let addr = serve(|| {
        let mut app = App::new();
        app.use_(|req: Request, next: Next| async move {
            if req.header("authorization").is_none() {
                return Err(WebError::new(401, "who are you"));
            }
            Ok(next.run(req).await)
        });
        app.get("/me/{name}", |_req: Request| async { "me" });
        app.use_error(|err: WebError, req: ErrorRequest| async move {
            text(format!(
                "{} {} {}",
                err.status.as_u16(),
                req.path(),
                req.param("name").unwrap_or("-")
            ))
            .with_status(err.status)
        });
        app
    });
    let r = get(addr, "/me/ann");
    assert_eq!((r.status, r.text().as_str()), (401, "401 /me/ann ann"));
    let r = request(addr, "GET", "/me/ann", &[("authorization", "x")], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "me"));
}
