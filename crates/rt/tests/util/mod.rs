//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::cell::RefCell;
use std::process::Command;
use std::rc::Rc;

/// An ordered log of events, shared by callbacks.
#[derive(Clone, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.borrow_mut().push(s.into());
    }

    /// A callback that logs `s`.
    pub fn cb(&self, s: &'static str) -> impl FnOnce() + 'static {
        let l = self.clone();
        move || l.push(s)
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}

/// Runs a JavaScript program with `node` and returns the lines it printed,
/// or `None` if node is not installed.
pub fn node_lines(js: &str) -> Option<Vec<String>> {
    let prelude = "const log = (s) => console.log(s);\n";
    let out = Command::new("node")
        .arg("-e")
        .arg(format!("{prelude}{js}"))
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

/// Number of open file descriptors of this process.
pub fn open_fds() -> usize {
    waiter_rt::sys::open_fds().unwrap()
}
