//! The demo's API over real HTTP on 127.0.0.1: public routes, auth, the
//! items routes and their errors, search and the file route.

mod common;

use std::time::Duration;

use common::Harness;
use serde_json::{json, Value};

const JSON: &str = "application/json";

#[test]
fn health_and_metrics_are_public() {
    let h = Harness::new("health");
    h.lp.block_on(async {
        let (demo, api) = h.start().await;
        let r = api.get_with("/health", None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, JSON);
        assert_eq!(r.json["status"], "ok");
        assert!(r.json["uptime_seconds"].as_f64().unwrap() >= 0.0);

        // Let the delay monitor take a few samples.
        waiter_rt::sleep(Duration::from_millis(60)).await;
        let r = api.get_with("/metrics", None).await;
        assert_eq!(r.status, 200, "{r:?}");
        let lp = &r.json["loop"];
        assert!(lp["iterations"].as_u64().unwrap() > 0, "{r:?}");
        assert!(lp["events"].as_u64().unwrap() > 0);
        assert!(lp["idle_ms"].as_f64().unwrap() > 0.0);
        assert!(lp["phase_ms"]["poll"].as_f64().is_some());
        for k in [
            "tasks",
            "pool_queue_depth",
            "pool_threads",
            "stalls",
            "panics",
        ] {
            assert!(lp[k].as_u64().is_some(), "{k} missing in {lp}");
        }
        let d = &r.json["event_loop_delay"];
        assert_eq!(d["resolution_ms"], 10.0);
        assert!(d["samples"].as_u64().unwrap() >= 2, "{d}");
        let ms = |k: &str| d[k].as_f64().unwrap();
        assert!(ms("min_ms") <= ms("p50_ms") && ms("p50_ms") <= ms("p99_ms"));
        assert!(ms("p99_ms") <= ms("max_ms") && ms("mean_ms") > 0.0, "{d}");
        demo.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn everything_else_needs_a_valid_bearer_token() {
    let h = Harness::new("auth");
    h.lp.block_on(async {
        let (demo, api) = h.start().await;
        for path in [
            "/items",
            "/items/1",
            "/search?q=lamp",
            "/aggregate",
            "/file",
        ] {
            let r = api.get_with(path, None).await;
            assert!(r.problem(401).contains("Bearer"), "{path}: {r:?}");
            let challenge = r.www_authenticate.unwrap();
            assert!(challenge.starts_with("Bearer"), "{challenge}");
        }
        let r = api.get_with("/items", Some("Bearer not-the-token")).await;
        r.problem(401);
        assert!(r.www_authenticate.unwrap().contains("invalid_token"));
        let basic = format!("Basic {}", api.token);
        api.get_with("/items", Some(&basic)).await.problem(401);
        let lower = format!("bearer {}", api.token);
        assert_eq!(api.get_with("/items", Some(&lower)).await.status, 200);
        demo.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn lists_pages_and_gets_items() {
    let h = Harness::new("list");
    h.lp.block_on(async {
        let (demo, api) = h.start().await;
        let r = api.get("/items?limit=5&offset=10").await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.json["total"], 400);
        assert_eq!(
            (r.json["limit"].clone(), r.json["offset"].clone()),
            (json!(5), json!(10))
        );
        let ids: Vec<i64> = items(&r.json)
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [11, 12, 13, 14, 15]);
        assert_eq!(items(&api.get("/items").await.json).len(), 20);

        let r = api.get("/items/3").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json["id"], 3);
        assert!(r.json["name"].as_str().unwrap().len() > 5);
        assert!(r.json["price_cents"].as_i64().unwrap() > 0);
        assert!(!r.json["tags"].as_array().unwrap().is_empty());
        assert!(r.json["created_at"].as_str().unwrap().ends_with('Z'));

        assert!(api.get("/items/99999").await.problem(404).contains("99999"));
        api.get("/items/abc").await.problem(400);
        api.get("/items?limit=0").await.problem(400);
        api.get("/items?limit=101").await.problem(400);
        api.get("/items?limit=abc").await.problem(400);
        api.get("/items?offset=-1").await.problem(400);
        demo.shutdown(Duration::from_secs(1)).await;
    });
}

/// The `items` array of a page.
fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().unwrap()
}

#[test]
fn creates_an_item_and_reads_it_back() {
    let h = Harness::new("create");
    h.lp.block_on(async {
        let (demo, api) = h.start().await;
        let body = json!({
            "name": "  Quilted Zanzibar Tea Cosy ",
            "description": "Keeps a teapot warm for an hour.",
            "price_cents": 2450,
            "tags": ["Kitchen", "gift", "kitchen"],
        });
        let r = api
            .post("/items", JSON, body.to_string().into_bytes())
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        let id = r.json["id"].as_i64().unwrap();
        assert_eq!(id, 401);
        assert_eq!(r.location.as_deref(), Some("/items/401"));
        assert_eq!(r.json["name"], "Quilted Zanzibar Tea Cosy");
        assert_eq!(r.json["tags"], json!(["kitchen", "gift"]));

        let back = api.get("/items/401").await;
        assert_eq!(back.status, 200);
        assert_eq!(back.json, r.json);
        assert_eq!(api.get("/items?limit=1").await.json["total"], 401);
        // The full-text index follows inserts.
        let found = api.get("/search?q=zanzibar").await;
        assert_eq!(found.json["results"][0]["id"], 401, "{found:?}");
        demo.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn bad_requests_get_problem_documents() {
    let h = Harness::new("errors");
    h.lp.block_on(async {
        let (demo, api) = h.start().await;
        let r = api.post("/items", JSON, b"{\"name\": ".to_vec()).await;
        assert!(r.problem(400).contains("invalid JSON"), "{r:?}");
        let r = api.post("/items", "text/plain", b"name=x".to_vec()).await;
        assert!(r.problem(415).contains("application/json"));
        let big = format!("{{\"name\": \"{}\"}}", "a".repeat(70 * 1024)).into_bytes();
        api.post("/items", JSON, big).await.problem(413);

        let long = "n".repeat(201);
        let body = json!({"name": long, "price_cents": -1, "colour": "red"}).to_string();
        let r = api.post("/items", JSON, body.into_bytes()).await;
        assert!(r.problem(422).contains("3 fields"), "{r:?}");
        let errors = r.json["errors"].as_array().unwrap();
        let fields: Vec<&str> = errors
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["colour", "name", "price_cents"]);
        assert!(errors
            .iter()
            .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty())));

        let body = json!({"name": "", "price_cents": 5}).to_string();
        let r = api.post("/items", JSON, body.into_bytes()).await;
        r.problem(422);
        assert_eq!(
            r.json["errors"],
            json!([{"field": "name", "message": "must not be empty"}])
        );
        // Nothing invalid was stored.
        assert_eq!(api.get("/items?limit=1").await.json["total"], 400);
        demo.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn search_ranks_matches() {
    let h = Harness::new("search");
    h.lp.block_on(async {
        let (demo, api) = h.start().await;
        let r = api.get("/search?q=walnut%20lamp").await;
        assert_eq!(r.status, 200, "{r:?}");
        let results = r.json["results"].as_array().unwrap();
        assert!(!results.is_empty());
        assert_eq!(r.json["total"].as_u64().unwrap() as usize, results.len());
        // The item named for both words ranks first.
        let first = results[0]["name"].as_str().unwrap();
        assert!(first.contains("Walnut Lamp"), "{first}");
        let scores: Vec<f64> = results
            .iter()
            .map(|h| h["score"].as_f64().unwrap())
            .collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        for hit in results {
            let text = format!("{} {} {}", hit["name"], hit["description"], hit["tags"]);
            let text = text.to_lowercase();
            assert!(text.contains("walnut") && text.contains("lamp"), "{text}");
        }
        assert!(results[0]["snippet"].as_str().unwrap().contains('['));

        // Prefixes and stems match; the limit applies.
        let r = api.get("/search?q=kettl&limit=3").await;
        assert_eq!(r.json["results"].as_array().unwrap().len(), 3);
        assert!(r.json["total"].as_u64().unwrap() > 3);
        let r = api.get("/search?q=kettles").await;
        assert!(r.json["total"].as_u64().unwrap() > 3, "{r:?}");
        let r = api.get("/search?q=xylophone").await;
        assert_eq!((r.status, r.json["total"].clone()), (200, json!(0)));

        assert!(api.get("/search").await.problem(400).contains('q'));
        api.get("/search?q=%20%20").await.problem(400);
        api.get("/search?q=!!").await.problem(400);
        api.get("/search?q=lamp&limit=0").await.problem(400);
        demo.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn file_route_reads_the_data_directory() {
    let h = Harness::new("file");
    h.lp.block_on(async {
        let (demo, api) = h.start().await;
        let r = api.get("/file").await;
        assert_eq!(r.status, 200, "{r:?}");
        let text = r.json["readme"]["text"].as_str().unwrap();
        assert!(text.contains("waiter demo"));
        assert_eq!(
            r.json["readme"]["bytes"].as_u64().unwrap() as usize,
            text.len()
        );
        let on_disk = std::fs::read_to_string(h.dir.join("README.txt")).unwrap();
        assert_eq!(text, on_disk);
        assert!(r.json["database"]["bytes"].as_u64().unwrap() > 0);
        assert!(r.json["database"]["path"]
            .as_str()
            .unwrap()
            .ends_with("demo.sqlite"));

        std::fs::remove_file(h.dir.join("README.txt")).unwrap();
        api.get("/file").await.problem(404);
        demo.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn database_work_runs_on_the_pool() {
    let h = Harness::new("pool");
    h.lp.block_on(async {
        let (demo, api) = h.start().await;
        // Many requests in flight at once, each with two queries.
        let tasks: Vec<_> = (1..=24)
            .map(|i| {
                let client = api.client.clone();
                let url = format!("{}/items/{i}", api.url);
                let auth = format!("Bearer {}", api.token);
                waiter_rt::spawn_local(async move {
                    let mut res = client
                        .get(&url)
                        .header("authorization", auth)
                        .send()
                        .await
                        .unwrap();
                    let body = res.text().await.unwrap();
                    (res.status().as_u16(), body)
                })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            let (status, body) = t.await.unwrap();
            assert_eq!(status, 200);
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["id"], i + 1);
        }
        assert!(h.lp.metrics().pool_threads > 0);
        let m = api.get_with("/metrics", None).await;
        assert!(m.json["loop"]["pool_threads"].as_u64().unwrap() > 0);
        demo.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn a_restart_keeps_the_data_and_the_token() {
    let h = Harness::new("restart");
    let first = h.lp.block_on(async {
        let (demo, api) = h.start().await;
        assert!(
            demo.banner().contains("400 items seeded"),
            "{}",
            demo.banner()
        );
        let body = json!({"name": "Kept", "price_cents": 1}).to_string();
        assert_eq!(
            api.post("/items", JSON, body.into_bytes()).await.status,
            201
        );
        demo.shutdown(Duration::from_secs(1)).await;
        demo.token().to_owned()
    });
    h.lp.block_on(async {
        let (demo, api) = h.start().await;
        assert_eq!(demo.token(), first);
        let banner = demo.banner();
        assert!(
            banner.contains("401 items") && !banner.contains("seeded"),
            "{banner}"
        );
        assert!(banner.contains(&demo.url()) && banner.contains(&first));
        assert_eq!(api.get("/items/401").await.json["name"], "Kept");
        demo.shutdown(Duration::from_secs(1)).await;
    });
}
