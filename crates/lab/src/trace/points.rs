//! The recording points: what the app's handler and the database
//! connection call, on the loop thread, as a traced request moves on.
//! Each one reads an `Instant` and notes it in the recorder's state; the
//! stall hook attributes the notes to slices when the poll returns.
//!
//! Invariant: a traced query is matched to its reply by connection and
//! id, in order, and only once it has been written.

use std::rc::Rc;
use std::time::Instant;

use super::recorder::{Note, Recorder, Req};

/// Where a traced query is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueryState {
    /// Queued on its connection, not yet written.
    Queued,
    /// Being written (taken by the writer).
    Writing,
    /// Written, waiting for the reply.
    Sent,
    /// Answered.
    Done,
}

/// A traced query: matched to its reply by connection and id, in order.
#[derive(Debug)]
pub(super) struct Query {
    /// The database connection's index.
    conn: usize,
    /// The row asked for.
    id: u64,
    /// The request that asked.
    req: usize,
    /// Where it is.
    state: QueryState,
}

/// A traced request, handed to the code that serves it.
#[derive(Debug, Clone)]
pub(crate) struct Traced {
    /// The recorder.
    rec: Rc<Recorder>,
    /// The request's index.
    req: usize,
}

impl Recorder {
    /// A request's handler starts: traces it if it is among the first.
    pub(crate) fn enter(self: &Rc<Self>) -> Option<Traced> {
        let at = Instant::now();
        let mut st = self.state.borrow_mut();
        if st.done || st.reqs.len() >= st.limit {
            return None;
        }
        let req = st.reqs.len();
        st.reqs.push(Req::default());
        st.notes.push(Note::Entry(req, at));
        st.mark(at);
        Some(Traced {
            rec: self.clone(),
            req,
        })
    }

    /// The writer of connection `conn` takes its queued queries and is
    /// about to hand them to the kernel: their requests' waits begin now
    /// (an instant read after the write could be late, if the thread were
    /// preempted in between, and make a wait look shorter than it was).
    /// Returns the traced queries of the batch.
    pub(crate) fn take_batch(&self, conn: usize) -> Vec<usize> {
        let at = Instant::now();
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        let mut batch = Vec::new();
        for (i, q) in st.queries.iter_mut().enumerate() {
            if q.conn == conn && q.state == QueryState::Queued {
                q.state = QueryState::Writing;
                st.reqs[q.req].wait_start = Some(at);
                batch.push(i);
            }
        }
        if !batch.is_empty() {
            st.mark(at);
        }
        batch
    }

    /// The queries of `batch` (from [`take_batch`](Self::take_batch)) are
    /// written: their replies may now be matched.
    pub(crate) fn written(&self, batch: &[usize]) {
        let mut st = self.state.borrow_mut();
        for &i in batch {
            st.queries[i].state = QueryState::Sent;
        }
    }

    /// Connection `conn` read, at `at`, the reply to a query for `id`.
    pub(crate) fn replied(&self, conn: usize, id: u64, at: Instant) {
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        let q = st
            .queries
            .iter_mut()
            .find(|q| q.conn == conn && q.id == id && q.state == QueryState::Sent);
        if let Some(q) = q {
            q.state = QueryState::Done;
            st.reqs[q.req].wait_end = Some(at);
            st.mark(at);
        }
    }
}

impl Traced {
    /// The request's query for `id` is queued on database connection `conn`.
    pub(crate) fn query_queued(&self, conn: usize, id: u64) {
        self.rec.state.borrow_mut().queries.push(Query {
            conn,
            id,
            req: self.req,
            state: QueryState::Queued,
        });
    }

    /// The request starts waiting (a timer; database waits are noted by
    /// the connection).
    pub(crate) fn wait_start(&self) {
        let at = Instant::now();
        let mut st = self.rec.state.borrow_mut();
        st.reqs[self.req].wait_start = Some(at);
        st.mark(at);
    }

    /// The request's wait is over (a timer).
    pub(crate) fn wait_end(&self) {
        let at = Instant::now();
        let mut st = self.rec.state.borrow_mut();
        st.reqs[self.req].wait_end = Some(at);
        st.mark(at);
    }

    /// The request's handler returns its response.
    pub(crate) fn returned(&self) {
        let at = Instant::now();
        let mut st = self.rec.state.borrow_mut();
        st.notes.push(Note::Return(self.req, at));
        st.mark(at);
    }
}
