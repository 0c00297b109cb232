//! [`JoinHandle`] and [`JoinError`]: how a spawner gets a task's result.
//!
//! The handle is a token into the loop's task slab; the result waits in the
//! task's own slot (the output in its cell, a failure in the slot), so a
//! handle allocates nothing. A handle that is dropped without
//! [`detach`](JoinHandle::detach) cancels its task; once nobody can collect
//! a result, the slot is freed as soon as the task ends.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::event_loop::Inner;

/// Why a task did not produce its output.
pub struct JoinError {
    /// Cancelled or panicked.
    repr: JoinRepr,
    /// The task's name, or its spawn location.
    task: String,
}

enum JoinRepr {
    Cancelled,
    Panic(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    pub(crate) fn cancelled(task: String) -> JoinError {
        JoinError {
            repr: JoinRepr::Cancelled,
            task,
        }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>, task: String) -> JoinError {
        JoinError {
            repr: JoinRepr::Panic(payload),
            task,
        }
    }

    /// The task was cancelled (its handle aborted it, or the loop was dropped).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, JoinRepr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, JoinRepr::Panic(_))
    }

    /// The panic payload, if the task panicked.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            JoinRepr::Panic(p) => Ok(p),
            _ => Err(self),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            JoinRepr::Cancelled => write!(f, "task {} was cancelled", self.task),
            JoinRepr::Panic(p) => write!(f, "task {} panicked: {}", self.task, panic_message(&**p)),
        }
    }
}

impl std::error::Error for JoinError {}

/// The text of a panic payload (a `&str` or `String` message, or a
/// placeholder for any other payload).
pub fn panic_message(p: &(dyn Any + Send)) -> &str {
    if let Some(s) = p.downcast_ref::<&str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else {
        "<non-string panic payload>"
    }
}

/// An owned permission to await a task's output.
///
/// Dropping the handle cancels the task; call [`detach`](Self::detach) to let
/// it run to completion on its own.
#[must_use = "dropping a JoinHandle cancels the task; call .detach() to let it run"]
pub struct JoinHandle<T> {
    /// The task's token.
    token: u64,
    /// The loop the task lives on.
    inner: Rc<Inner>,
    /// Set once the handle no longer owns the task (detached, or its result
    /// was taken).
    released: bool,
    _output: PhantomData<fn() -> T>,
}

impl<T> JoinHandle<T> {
    pub(super) fn new(token: u64, inner: Rc<Inner>) -> JoinHandle<T> {
        JoinHandle {
            token,
            inner,
            released: false,
            _output: PhantomData,
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("token", &self.token)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// Lets the task run to completion without a handle.
    pub fn detach(mut self) {
        self.released = true;
        self.inner.tasks.release(self.token, false);
    }

    /// Cancels the task. Awaiting the handle then yields a cancelled
    /// [`JoinError`], unless the task had already finished.
    pub fn abort(&self) {
        if !self.released {
            self.inner.tasks.cancel(self.token);
        }
    }

    /// Whether the task has ended (completed, panicked, or cancelled).
    pub fn is_finished(&self) -> bool {
        self.released || self.inner.tasks.is_finished(self.token)
    }
}

impl<T: 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(
            !self.released,
            "JoinHandle polled after it returned its output"
        );
        let mut out: Option<T> = None;
        match self.inner.tasks.poll_join(self.token, &mut out, cx.waker()) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                self.released = true;
                Poll::Ready(r.map(|()| out.expect("a finished task holds its output")))
            }
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if !self.released {
            self.inner.tasks.release(self.token, true);
        }
    }
}
