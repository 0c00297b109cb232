//! JSON and form bodies, cookies and query parsing, over real sockets.

mod common;

use std::time::Duration;

use common::{request, serve};
use serde::{Deserialize, Serialize};
use waiter_web::{
    json, App, Request, ResponseExt, SameSite, SetCookie, WebError, DEFAULT_BODY_LIMIT,
};

#[derive(Debug, Deserialize, Serialize)]
struct User {
    name: String,
    age: u8,
}

fn app() -> App {
    let mut app = App::new();
    app.post("/users", |mut req: Request| async move {
        let u: User = req.json(DEFAULT_BODY_LIMIT).await?;
        Ok::<_, WebError>(json(&u).with_code(201))
    })
    .post("/small", |mut req: Request| async move {
        let u: User = req.json(16).await?;
        Ok::<_, WebError>(json(&u))
    })
    .post("/form", |mut req: Request| async move {
        let u: User = req.form(1024).await?;
        Ok::<_, WebError>(json(&u))
    })
    .get("/cookies", |req: Request| async move {
        let seen = req.cookie("sid").unwrap_or_default();
        json(&serde_json::json!({ "sid": seen, "all": req.cookies().len() })).with_cookie(
            &SetCookie::new("sid", "new value")
                .path("/")
                .max_age(Duration::from_secs(3600))
                .http_only(true)
                .same_site(SameSite::Strict),
        )
    })
    .get("/query", |req: Request| async move {
        #[derive(Deserialize)]
        struct Q {
            page: u32,
            #[serde(default)]
            tag: Vec<String>,
        }
        let q: Q = req.query_as()?;
        Ok::<_, WebError>(json(
            &serde_json::json!({ "page": q.page, "tags": q.tag, "pairs": req.query_pairs() }),
        ))
    });
    app
}

const CT_JSON: (&str, &str) = ("content-type", "application/json; charset=utf-8");

#[test]
fn json_success_and_errors() {
    let addr = serve(app);
    let r = request(
        addr,
        "POST",
        "/users",
        &[CT_JSON],
        br#"{"name":"ada","age":36}"#,
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json(), serde_json::json!({ "name": "ada", "age": 36 }));

    let r = request(
        addr,
        "POST",
        "/users",
        &[CT_JSON],
        br#"{"name":"ada","age":"x"}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with("invalid JSON: invalid type"), "{detail}");

    let r = request(addr, "POST", "/users", &[CT_JSON], b"{not json");
    assert_eq!(r.status, 400);

    let r = request(
        addr,
        "POST",
        "/users",
        &[("content-type", "text/plain")],
        b"{}",
    );
    assert_eq!(r.status, 415);
    assert_eq!(r.json()["status"], 415);
    let r = request(addr, "POST", "/users", &[], br#"{"name":"a","age":1}"#);
    assert_eq!(r.status, 415);

    let r = request(
        addr,
        "POST",
        "/small",
        &[CT_JSON],
        br#"{"name":"a long name","age":1}"#,
    );
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["status"], 413);
    let big = format!(r#"{{"name":"{}","age":1}}"#, "x".repeat(DEFAULT_BODY_LIMIT));
    let r = request(addr, "POST", "/users", &[CT_JSON], big.as_bytes());
    assert_eq!(r.status, 413);
}

#[test]
fn forms_cookies_and_queries() {
    let addr = serve(app);
    let ct = ("content-type", "application/x-www-form-urlencoded");
    let r = request(
        addr,
        "POST",
        "/form",
        &[ct],
        b"name=ada+l%C3%B6velace&age=36",
    );
    assert_eq!(
        r.json(),
        serde_json::json!({ "name": "ada l\u{f6}velace", "age": 36 })
    );
    assert_eq!(
        request(addr, "POST", "/form", &[ct], b"name=x&age=old").status,
        400
    );
    assert_eq!(
        request(addr, "POST", "/form", &[CT_JSON], b"{}").status,
        415
    );

    let r = request(
        addr,
        "GET",
        "/cookies",
        &[("cookie", "a=1; sid=abc%20d; b=2")],
        b"",
    );
    assert_eq!(r.json(), serde_json::json!({ "sid": "abc d", "all": 3 }));
    assert_eq!(
        r.header("set-cookie"),
        Some("sid=new%20value; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict")
    );

    let r = request(addr, "GET", "/query?page=2&tag=a%2Bb&tag=c+d", &[], b"");
    assert_eq!(
        r.json(),
        serde_json::json!({
            "page": 2,
            "tags": ["a+b", "c d"],
            "pairs": [["page", "2"], ["tag", "a+b"], ["tag", "c d"]]
        })
    );
    assert_eq!(request(addr, "GET", "/query?page=x", &[], b"").status, 400);
    let r = request(addr, "GET", "/query?page=1&page=2", &[], b"");
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("`page` is given more than once"),
        "{}",
        r.text()
    );
}
