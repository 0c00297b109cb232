//! With the `tokio-io` feature, `TcpStream` speaks tokio's I/O traits, so
//! tokio-based protocol crates run on waiter's loop (no tokio runtime).
#![cfg(feature = "tokio-io")]

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use waiter_rt::net::{TcpListener, TcpStream};

#[test]
fn tokio_io_utilities_work_on_waiter_streams() {
    waiter_rt::run(async {
        let l = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let addr = l.local_addr().unwrap();
        let server = waiter_rt::spawn_local(async move {
            let (s, _) = l.accept().await.unwrap();
            let mut lines = BufReader::new(s).lines();
            let mut got = vec![];
            while let Some(line) = lines.next_line().await.unwrap() {
                got.push(line);
            }
            got
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"first line\nsecond").await.unwrap();
        c.write_all(b" line\n").await.unwrap();
        AsyncWriteExt::shutdown(&mut c).await.unwrap();
        assert_eq!(server.await.unwrap(), ["first line", "second line"]);

        // read_exact and read_to_end through tokio's extension traits.
        let l = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let addr = l.local_addr().unwrap();
        let writer = waiter_rt::spawn_local(async move {
            let (s, _) = l.accept().await.unwrap();
            s.write_all(&[7u8; 100_000]).await.unwrap();
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut head = [0u8; 10];
        c.read_exact(&mut head).await.unwrap();
        let mut rest = Vec::new();
        writer.await.unwrap();
        c.read_to_end(&mut rest).await.unwrap();
        assert_eq!(head.len() + rest.len(), 100_000);
        assert!(rest.iter().all(|&b| b == 7));
    });
}
