//! The one allocation of a task: its future, then its output, and what the
//! loop reports about it.
//!
//! A [`TaskCell`] starts as `Running` with the user's future in place. When
//! the future completes, the cell drops it where it is and keeps the output
//! until the task's [`JoinHandle`](super::JoinHandle) takes it, so a task
//! never allocates separately for its result. The executor sees cells only
//! through the object-safe [`AnyTask`].

use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What stall and panic reports say about a task.
pub(super) struct Meta {
    /// The name given at spawn, if any.
    pub(super) name: Option<Cow<'static, str>>,
    /// Where the task was spawned.
    pub(super) location: &'static Location<'static>,
    /// The stall label the task had set when it last yielded; restored
    /// around each of its polls, so it never leaks to other tasks.
    pub(super) label: Option<Cow<'static, str>>,
}

impl Meta {
    /// The task's name and spawn location, for reports and errors.
    pub(super) fn describe(&self) -> String {
        match &self.name {
            Some(n) => format!("'{n}' (spawned at {})", self.location),
            None => format!("spawned at {}", self.location),
        }
    }
}

/// A task's cell, seen without its future's type.
pub(super) trait AnyTask {
    /// Polls the future; `Ready` once it has completed and its output is
    /// stored.
    fn poll_task(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;

    /// Moves the stored output into `out`, an `Option<F::Output>`.
    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any);

    /// The task's report details.
    fn meta(self: Pin<&mut Self>) -> &mut Meta;
}

pin_project_lite::pin_project! {
    /// A future and, once it completes, its output.
    pub(super) struct TaskCell<F: Future> {
        meta: Meta,
        #[pin]
        stage: Stage<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StageProj]
    enum Stage<F: Future> {
        Running { #[pin] future: F },
        Done { output: Option<F::Output> },
    }
}

impl<F: Future> TaskCell<F> {
    pub(super) fn new(meta: Meta, future: F) -> TaskCell<F> {
        TaskCell {
            meta,
            stage: Stage::Running { future },
        }
    }
}

impl<F> AnyTask for TaskCell<F>
where
    F: Future,
    F::Output: 'static,
{
    fn poll_task(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut stage = self.project().stage;
        let output = match stage.as_mut().project() {
            StageProj::Running { future } => std::task::ready!(future.poll(cx)),
            StageProj::Done { .. } => return Poll::Ready(()),
        };
        // Drops the future in place: its resources go now, not when the
        // handle collects the output.
        stage.set(Stage::Done {
            output: Some(output),
        });
        Poll::Ready(())
    }

    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any) {
        if let StageProj::Done { output } = self.project().stage.project() {
            if let Some(slot) = out.downcast_mut::<Option<F::Output>>() {
                *slot = output.take();
            }
        }
    }

    fn meta(self: Pin<&mut Self>) -> &mut Meta {
        self.project().meta
    }
}
