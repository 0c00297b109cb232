//! A JSON API with routes, path parameters, middleware and errors: a todo
//! list kept in an `Rc<RefCell<_>>` shared by every request, with no lock,
//! because every handler runs on the one loop thread.
//!
//! `cargo run --release --example json_api -- --port 8080`, then
//! `curl -s localhost:8080/todos -d '{"title":"write docs"}' -H 'content-type: application/json'`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use waiter_web::middleware::{Logger, RequestId, RequestIdValue};
use waiter_web::{
    json, App, ErrorRequest, Next, Request, Response, ResponseExt, WebError, DEFAULT_BODY_LIMIT,
};

#[derive(Clone, Serialize)]
struct Todo {
    id: u64,
    title: String,
    done: bool,
}

#[derive(Deserialize)]
struct NewTodo {
    title: String,
}

#[derive(Default)]
struct Store {
    next: u64,
    todos: Vec<Todo>,
}

type Shared = Rc<RefCell<Store>>;

fn port() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .map(|p| p.parse().expect("--port takes a number"))
        .unwrap_or(8080)
}

fn id(req: &Request) -> Result<u64, WebError> {
    req.param("id")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| WebError::bad_request("the id must be a number"))
}

fn app(store: Shared) -> App {
    let mut app = App::new();
    app.use_(RequestId::new()).use_(Logger::new());
    // A middleware that runs code before and after the rest of the chain.
    app.use_(|req: Request, next: Next| async move {
        let start = Instant::now();
        let res = next.run(req).await;
        let took = format!("{}us", start.elapsed().as_micros());
        res.with_header("x-response-time", took)
    });
    let s = store.clone();
    app.get("/todos", move |_req: Request| {
        let list = s.borrow().todos.clone();
        async move { json(&list) }
    });
    let s = store.clone();
    app.post("/todos", move |mut req: Request| {
        let s = s.clone();
        async move {
            let new: NewTodo = req.json(DEFAULT_BODY_LIMIT).await?;
            if new.title.trim().is_empty() {
                return Err(WebError::new(422, "the title must not be empty"));
            }
            let mut st = s.borrow_mut();
            st.next += 1;
            let todo = Todo {
                id: st.next,
                title: new.title,
                done: false,
            };
            st.todos.push(todo.clone());
            Ok(json(&todo).with_code(201))
        }
    });
    let s = store.clone();
    app.post("/todos/{id}/done", move |req: Request| {
        let s = s.clone();
        async move {
            let id = id(&req)?;
            let mut st = s.borrow_mut();
            let t = st.todos.iter_mut().find(|t| t.id == id);
            let t = t.ok_or_else(|| WebError::not_found(format!("no todo {id}")))?;
            t.done = true;
            Ok::<Response, WebError>(json(&*t))
        }
    });
    let s = store;
    app.delete("/todos/{id}", move |req: Request| {
        let s = s.clone();
        async move {
            let id = id(&req)?;
            let mut st = s.borrow_mut();
            let before = st.todos.len();
            st.todos.retain(|t| t.id != id);
            if st.todos.len() == before {
                return Err(WebError::not_found(format!("no todo {id}")));
            }
            Ok(waiter_web::status(204))
        }
    });
    // Error-handling middleware: sees every error with its request. This
    // one logs server errors with the request id and passes every error
    // on to the renderer (a JSON problem document).
    app.use_error(|err: WebError, req: ErrorRequest| async move {
        if err.status.as_u16() >= 500 {
            let id = req.extension::<RequestIdValue>().map(|v| v.0.clone());
            tracing::error!(request_id = ?id, method = %req.method(), path = req.path(), %err, "request failed");
        }
        Err::<Response, _>(err)
    });
    app
}

fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let addr = ([127, 0, 0, 1], port()).into();
    waiter_rt::run(async move {
        let mut stop = waiter_rt::signal::stop_signals()?;
        let server = waiter_http::Server::builder().listen(addr, app(Shared::default()))?;
        println!("listening on http://{}", server.local_addr());
        // Ctrl-C or SIGTERM: finish the requests in flight, then exit.
        stop.recv().await;
        server.shutdown(std::time::Duration::from_secs(5)).await;
        Ok(())
    })
}
