//! The read side of a load connection: responses parsed with
//! `waiter_proto`, matched in order to the outstanding requests.

use std::io;
use std::time::Instant;

use waiter_proto::{parse_response, BodyKind, Decoder};

use super::{Connection, Method};

/// What went wrong with a response stream.
enum Broken {
    /// `waiter_proto` rejected it, or it answered nothing we asked.
    Parse,
}

impl Connection {
    /// Reads once and handles every complete response; returns whether the
    /// connection is over (error, timeout, EOF or `Connection: close`).
    pub(super) async fn read_some(&mut self) -> bool {
        let mut chunk = vec![0u8; 8192];
        let n = match self.timed_read(&mut chunk).await {
            Ok(n) => n,
            Err(None) => {
                let k = self.outstanding.borrow().len() as u64;
                if k == 0 {
                    return false;
                }
                self.ctx.error(|e| e.timeout += k);
                self.forget_outstanding();
                return true;
            }
            Err(Some(_)) => {
                self.ctx.error(|e| e.read += 1);
                self.forget_outstanding();
                return true;
            }
        };
        if n == 0 {
            self.at_eof();
            return true;
        }
        self.buf.extend_from_slice(&chunk[..n]);
        match self.parse_all() {
            Ok(over) => over,
            Err(Broken::Parse) => {
                self.ctx.error(|e| e.parse += 1);
                self.forget_outstanding();
                true
            }
        }
    }

    /// Reads with the request timeout counted from the oldest outstanding
    /// request; `Err(None)` on timeout.
    async fn timed_read(&self, chunk: &mut [u8]) -> Result<usize, Option<io::Error>> {
        let Some(t) = self.ctx.sh.opts.timeout else {
            return self.stream.read(chunk).await.map_err(Some);
        };
        let oldest = self
            .outstanding
            .borrow()
            .front()
            .copied()
            .unwrap_or_else(Instant::now);
        let left = (oldest + t).saturating_duration_since(Instant::now());
        match waiter_rt::timeout(left, self.stream.read(chunk)).await {
            Ok(r) => r.map_err(Some),
            Err(_) => Err(None),
        }
    }

    /// The server closed: a close-delimited body ends here; anything else
    /// outstanding is a read error.
    fn at_eof(&mut self) {
        if let Some((status, mut dec, _)) = self.body.take() {
            if dec.decode_eof().is_ok() {
                self.complete(status);
            }
        }
        if !self.outstanding.borrow().is_empty() {
            self.ctx.error(|e| e.read += 1);
        }
        self.forget_outstanding();
    }

    /// Requests of a dead connection will never be answered.
    fn forget_outstanding(&self) {
        let k = self.outstanding.borrow_mut().drain(..).count();
        self.slot
            .outstanding
            .set(self.slot.outstanding.get().saturating_sub(k));
        self.freed.notify();
    }

    /// Handles every complete response in the buffer; `Ok(true)` if the
    /// server said it will close.
    fn parse_all(&mut self) -> Result<bool, Broken> {
        loop {
            match self.next_response()? {
                Some((status, keep_alive)) => {
                    if self.outstanding.borrow().is_empty() {
                        return Err(Broken::Parse);
                    }
                    self.complete(status);
                    if !keep_alive {
                        self.forget_outstanding();
                        return Ok(true);
                    }
                }
                None => return Ok(false),
            }
        }
    }

    /// Records the response to the oldest outstanding request.
    fn complete(&self, status: u16) {
        let Some(started) = self.outstanding.borrow_mut().pop_front() else {
            return;
        };
        self.slot.outstanding.set(self.slot.outstanding.get() - 1);
        self.ctx.record(&self.slot, started, status);
        self.freed.notify();
    }

    /// Parses the next complete response: its status and keep-alive.
    fn next_response(&mut self) -> Result<Option<(u16, bool)>, Broken> {
        loop {
            if self.body.is_none() {
                let method = match &self.ctx.sh.opts.fixed {
                    Some(f) => &f.method,
                    None => &Method::Get,
                };
                let parsed = parse_response(&self.buf, &self.ctx.limits, method)
                    .map_err(|_| Broken::Parse)?;
                let Some(p) = parsed else { return Ok(None) };
                self.buf.drain(..p.head_len);
                let status = p.head.status.as_u16();
                if (100..200).contains(&status) && status != 101 {
                    continue;
                }
                let dec = match p.body {
                    BodyKind::Eof => Decoder::eof(None),
                    kind => Decoder::new(kind, &self.ctx.limits, p.head_len),
                };
                self.body = Some((status, dec, p.keep_alive));
            }
            let Some((status, dec, keep_alive)) = self.body.as_mut() else {
                unreachable!("a body is being read")
            };
            let d = dec.decode(&self.buf).map_err(|_| Broken::Parse)?;
            self.buf.drain(..d.consumed);
            if d.done {
                let r = (*status, *keep_alive);
                self.body = None;
                return Ok(Some(r));
            }
            if d.consumed == 0 {
                return Ok(None);
            }
        }
    }
}
