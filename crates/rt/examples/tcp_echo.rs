//! A TCP echo server on one loop: every connection is a task, state is
//! shared through `Rc<Cell<_>>` with no lock, Ctrl-C stops it cleanly, and
//! the loop's metrics print every few seconds.
//!
//! `cargo run --release -p waiter-rt --example tcp_echo -- [PORT]`, then
//! `nc 127.0.0.1 PORT`.

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use waiter_rt::net::{TcpListener, TcpStream};
use waiter_rt::signal::{signal, SIGINT, SIGTERM};

async fn echo(stream: TcpStream, bytes: Rc<Cell<u64>>) -> std::io::Result<()> {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
        bytes.set(bytes.get() + n as u64);
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse().expect("PORT must be a number"))
        .unwrap_or(7000);
    waiter_rt::run(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = TcpListener::bind(addr)?;
        println!("echo server on {}; Ctrl-C to stop", listener.local_addr()?);
        let bytes = Rc::new(Cell::new(0u64));
        let conns = Rc::new(Cell::new(0u64));

        let (b, c) = (bytes.clone(), conns.clone());
        let report = waiter_rt::set_interval(Duration::from_secs(5), move || {
            println!("{} connections so far, {} bytes echoed", c.get(), b.get());
        });
        report.unref();

        let mut int = signal(SIGINT)?;
        let mut term = signal(SIGTERM)?;
        let stop = waiter_rt::spawn_local(async move {
            std::future::poll_fn(|cx| match (int.poll_recv(cx), term.poll_recv(cx)) {
                (std::task::Poll::Pending, std::task::Poll::Pending) => std::task::Poll::Pending,
                _ => std::task::Poll::Ready(()),
            })
            .await
        });
        let accept = async {
            loop {
                let (stream, _) = listener.accept().await?;
                conns.set(conns.get() + 1);
                let b = bytes.clone();
                waiter_rt::spawn_named("echo connection", async move {
                    let _ = echo(stream, b).await;
                })
                .detach();
            }
            #[allow(unreachable_code)]
            Ok::<(), std::io::Error>(())
        };
        let mut accept = std::pin::pin!(accept);
        let mut stop = std::pin::pin!(stop);
        std::future::poll_fn(|cx| {
            if stop.as_mut().poll(cx).is_ready() {
                return std::task::Poll::Ready(Ok(()));
            }
            accept.as_mut().poll(cx)
        })
        .await?;
        println!(
            "stopping: {} connections, {} bytes echoed",
            conns.get(),
            bytes.get()
        );
        Ok(())
    })
}
