//! The lab's results and their renderings: a Markdown table (also fine on
//! a terminal), JSON with every figure, and an HTML page with SVG charts
//! and, when the run traced one, the event loop's timeline.
//!
//! Invariants:
//! - [`LabReport`] holds every measured figure; the renderings only
//!   format it, so `to_json` followed by `from_json` loses nothing.
//! - Figures that could not be measured are zero, never invented.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::lab::Scenario;
use crate::load::LoadReport;
use crate::measure::Machine;
use crate::servers::Model;

mod html;

/// The settings a run used.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Settings {
    /// Seconds per step.
    pub step_secs: f64,
    /// What requests wait on (`db` or `timer`).
    pub wait: String,
    /// The database delay, milliseconds.
    pub delay_ms: f64,
    /// CPU work per request of the CPU scenarios, milliseconds.
    pub cpu_ms: f64,
    /// Hash iterations that CPU work was calibrated to.
    pub cpu_iters: u64,
    /// Worker threads of the pool model.
    pub pool_workers: usize,
    /// Worker processes of the prefork model.
    pub prefork_processes: usize,
    /// Multiplexed database connections of the event-loop model.
    pub db_connections: usize,
    /// Load-generator threads.
    pub load_threads: usize,
    /// CPUs the models were pinned to (empty: not pinned).
    pub model_cpus: String,
    /// CPUs the load generator and database were pinned to (empty: not pinned).
    pub load_cpus: String,
}

/// One model under one scenario at one concurrency.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepResult {
    /// The scenario.
    pub scenario: Scenario,
    /// The model.
    pub model: Model,
    /// What the model runs on, e.g. `64 worker threads`.
    pub shape: String,
    /// Client connections.
    pub connections: usize,
    /// What the load generator saw.
    pub load: LoadReport,
    /// Resident memory of the model's processes before the load, bytes.
    pub baseline_rss_bytes: u64,
    /// Largest sum of resident memory during the load, bytes.
    pub peak_rss_bytes: u64,
    /// Sum of each process's own peak (`VmHWM`) at the end, bytes.
    pub hwm_sum_bytes: u64,
    /// Largest sum of proportional memory (PSS) during the load, bytes.
    pub peak_pss_bytes: u64,
    /// Most threads at once, over all the model's processes.
    pub peak_threads: u64,
    /// Most processes at once.
    pub peak_processes: u64,
    /// CPU seconds the model used during the load.
    pub cpu_secs: f64,
    /// CPU microseconds per response (0 when nothing was answered).
    pub cpu_us_per_request: f64,
    /// Proportional memory (PSS) near the end of the load, while every
    /// connection is still open, bytes.
    pub end_pss_bytes: u64,
    /// Extra PSS per connection over the baseline, bytes: at the end of
    /// the load for [`Scenario::Idle`], at the peak otherwise.
    pub bytes_per_connection: f64,
    /// Why the step failed, if it did (its figures are then zero).
    pub error: Option<String>,
}

/// Everything a lab run measured, with the machine and the settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LabReport {
    /// The machine.
    pub machine: Machine,
    /// `git rev-parse HEAD` of the working directory, if available.
    pub git_commit: Option<String>,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    /// The settings.
    pub settings: Settings,
    /// Every step, in the order run.
    pub steps: Vec<StepResult>,
    /// Four staggered requests traced on the event-loop model, if the run
    /// recorded them ([`crate::trace`]).
    #[serde(default)]
    pub timeline: Option<crate::trace::Timeline>,
}

/// Bytes as MiB with one decimal.
fn mib(b: u64) -> String {
    format!("{:.1}", b as f64 / (1024.0 * 1024.0))
}

/// Microseconds as milliseconds; `-` when nothing was measured.
fn ms(us: u64, measured: bool) -> String {
    if measured {
        format!("{:.1}", us as f64 / 1000.0)
    } else {
        "-".into()
    }
}

impl LabReport {
    /// Serialises every figure as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serialises")
    }

    /// Parses a report written by [`to_json`](Self::to_json).
    pub fn from_json(s: &str) -> Result<LabReport, serde_json::Error> {
        serde_json::from_str(s)
    }

    /// The steps of `scenario`, in order.
    pub fn steps_of(&self, scenario: Scenario) -> impl Iterator<Item = &StepResult> {
        self.steps.iter().filter(move |s| s.scenario == scenario)
    }

    /// Markdown: a header with the machine and settings, then one table
    /// per scenario.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let s = &self.settings;
        let _ = writeln!(out, "# waiter lab\n");
        let _ = writeln!(
            out,
            "- machine: {} x {} ({} MiB), Linux {}",
            m.cores,
            m.cpu_model,
            m.memory_bytes / (1024 * 1024),
            m.kernel
        );
        if let Some(c) = &self.git_commit {
            let _ = writeln!(out, "- commit: {c}");
        }
        let _ = writeln!(
            out,
            "- app: wait {} {:.0} ms; CPU scenarios burn {:.1} ms/request; {:.1} s per step",
            s.wait, s.delay_ms, s.cpu_ms, s.step_secs
        );
        let _ = writeln!(
            out,
            "- models: pool {} threads, prefork and apache {} processes, event loop and node {} db connections; pinned: models `{}`, load `{}`",
            s.pool_workers, s.prefork_processes, s.db_connections, s.model_cpus, s.load_cpus
        );
        let _ = writeln!(
            out,
            "\n*unserved conns*: connections that got no response at all (sent a request and were never answered, or never got past the accept queue). PSS splits shared pages among processes; RSS counts them in each."
        );
        for sc in Scenario::ALL {
            if self.steps_of(sc).next().is_some() {
                let _ = writeln!(out, "\n## {}\n", sc.title());
                self.table(&mut out, sc);
            }
        }
        if let Some(t) = &self.timeline {
            out.push_str(&t.to_markdown());
        }
        out
    }

    fn table(&self, out: &mut String, sc: Scenario) {
        out.push_str(
            "| model | conns | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | unserved conns | peak RSS MiB | peak PSS MiB | KiB/conn | threads | procs | CPU µs/req |\n",
        );
        out.push_str(
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for st in self.steps_of(sc) {
            if let Some(e) = &st.error {
                let _ = writeln!(out, "| {} | {} | failed: {e} |", st.model, st.connections);
                continue;
            }
            let l = &st.load;
            let got = l.responses > 0;
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {:.0} |",
                st.model,
                st.connections,
                l.throughput,
                ms(l.latency.p50_us, got),
                ms(l.latency.p90_us, got),
                ms(l.latency.p99_us, got),
                ms(l.latency.max_us, got),
                l.errors.total() + (l.responses - l.ok_responses()),
                l.unserved(),
                mib(st.peak_rss_bytes),
                mib(st.peak_pss_bytes),
                st.bytes_per_connection / 1024.0,
                st.peak_threads,
                st.peak_processes,
                st.cpu_us_per_request,
            );
        }
    }

    /// A self-contained HTML page: the tables and SVG charts of
    /// throughput, p99 latency and memory against concurrency, and the
    /// timeline when there is one.
    pub fn to_html(&self) -> String {
        html::render(self)
    }
}
