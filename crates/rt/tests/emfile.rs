//! Accept survives running out of file descriptors.
//!
//! This binary lowers its own `RLIMIT_NOFILE`, so it holds a single test.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use waiter_rt::net::TcpListener;
use waiter_rt::sys;

const CLIENTS: usize = 40;

#[test]
fn accept_backs_off_on_emfile_and_serves_the_backlog_afterwards() {
    let lp = waiter_rt::Loop::new().unwrap();
    lp.block_on(async {
        let l = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let addr = l.local_addr().unwrap();
        // The clients run in a child started before the limit is lowered, so
        // only this process runs short.
        let mut child = std::process::Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import socket,time\n\
                 time.sleep(0.3)\n\
                 s=[socket.create_connection(('127.0.0.1',{}),timeout=20) for _ in range({CLIENTS})]\n\
                 time.sleep(5)\n",
                addr.port()
            ))
            .spawn()
            .expect("python3 is needed for this test");
        let (soft, _) = sys::nofile_limit().unwrap();
        sys::set_nofile_limit(sys::open_fds().unwrap() as u64 + 8).unwrap();

        let accepted = Rc::new(Cell::new(0usize));
        let a = accepted.clone();
        let server = waiter_rt::spawn_local(async move {
            let mut held = vec![];
            while held.len() < CLIENTS {
                let (s, _) = l.accept().await.unwrap();
                a.set(a.get() + 1);
                held.push(s);
            }
            held
        });

        waiter_rt::sleep(Duration::from_millis(1500)).await;
        assert!(accepted.get() < CLIENTS, "the limit did not bite");
        // Out of descriptors with clients waiting: the loop must not spin.
        let cpu0 = sys::cpu_time().unwrap();
        waiter_rt::sleep(Duration::from_millis(500)).await;
        let cpu = sys::cpu_time().unwrap() - cpu0;
        assert!(
            cpu < Duration::from_millis(250),
            "accept spun the CPU while out of descriptors: {cpu:?} in 500 ms"
        );

        // With descriptors back, every waiting client is served.
        sys::set_nofile_limit(soft).unwrap();
        let held = waiter_rt::timeout(Duration::from_secs(10), server)
            .await
            .expect("backlog not served after descriptors were freed")
            .unwrap();
        assert_eq!(held.len(), CLIENTS);
        drop(held);
        let _ = child.kill();
        let status = waiter_rt::spawn_blocking(move || child.wait()).await;
        assert!(status.unwrap().is_ok());
    });
}
