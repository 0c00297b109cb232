//! A handler that holds the loop is named by its route in the stall report.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use waiter_rt::diag::StallReport;
use waiter_web::{text, App, Request};

#[test]
fn the_stall_report_names_the_route() {
    let lp = waiter_rt::Loop::builder()
        .stall_threshold(Duration::from_millis(20))
        .build()
        .unwrap();
    let reports: Rc<RefCell<Vec<StallReport>>> = Rc::default();
    let r = reports.clone();
    lp.on_stall(move |rep| r.borrow_mut().push(rep.clone()));
    lp.block_on(async {
        let mut app = App::new();
        app.get("/reports/{id}", |_req: Request| async {
            // CPU work on the loop thread: the mistake the detector exists for.
            std::thread::sleep(Duration::from_millis(60));
            text("done")
        });
        app.get("/fast", |_req: Request| async { text("fast") });
        let server = waiter_http::Server::builder()
            .listen("127.0.0.1:0".parse().unwrap(), app)
            .unwrap();
        let addr = server.local_addr();
        let client = std::thread::spawn(move || {
            for path in ["/fast", "/reports/7"] {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                s.write_all(req.as_bytes()).unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                assert!(out.starts_with("HTTP/1.1 200"), "{out}");
            }
        });
        waiter_rt::spawn_blocking(move || client.join().unwrap())
            .await
            .unwrap();
        server.shutdown(Duration::from_secs(1)).await;
    });
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].label.as_deref(), Some("GET /reports/{id}"));
    assert!(reports[0].duration >= Duration::from_millis(60));
}
