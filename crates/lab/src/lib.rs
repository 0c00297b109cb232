//! waiter's lab: one I/O-bound app, several server models, the same load.
//!
//! A request of the app ([`app`]) spends about 50 ms waiting on a database
//! ([`db`]) and very little computing. The lab serves it with waiter's
//! event loop and with the classic alternatives ([`servers`]: a thread per
//! connection, a fixed worker pool, prefork processes, and, when they are
//! installed, Node.js and Apache prefork with mod_php), drives each with
//! the same load ([`load`]), and measures throughput, latency, unanswered
//! connections, memory, threads and CPU ([`measure`]). The claim under
//! test: a thread or process parked on every wait runs out of workers,
//! while one event loop serves every waiting request.
//!
//! Entry points:
//! - [`run_lab`] runs the scenarios and returns a [`LabReport`]
//!   ([`LabReport::to_markdown`], [`LabReport::to_json`], [`LabReport::to_html`]).
//! - [`load::run`] is the load generator on its own (`waiter bench`).
//! - [`trace::record`] records a timeline of a few concurrent requests on
//!   the event-loop model, the request timeline measured ([`LabReport::timeline`]).
//! - [`maybe_run_child`] must be called first thing in `main` of any
//!   binary that runs the lab: models run in re-executed child processes.
#![forbid(unsafe_code)]

pub mod app;
pub mod child;
pub mod db;
mod lab;
pub mod load;
mod local;
pub mod measure;
mod report;
pub mod servers;
pub mod trace;

pub use child::{maybe_run_child, maybe_run_prefork_child};
pub use lab::{run_lab, LabOptions, Scenario};
pub use local::StopSignal;
pub use report::{LabReport, Settings, StepResult};
