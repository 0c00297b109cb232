//! Where the loop's time comes from: the system clock, or a
//! [`ManualClock`] that tests move by hand.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Where the loop gets its time from.
#[derive(Clone, Debug)]
pub(crate) enum Clock {
    /// `Instant::now()`.
    System,
    /// A clock the caller moves by hand.
    Manual(ManualClock),
}

/// A clock that only moves when told to: makes timer tests deterministic.
///
/// ```
/// use std::time::Duration;
/// use waiter_rt::{Loop, ManualClock, RunMode};
///
/// let clock = ManualClock::new();
/// let lp = Loop::builder().clock(clock.clone()).build().unwrap();
/// let fired = std::rc::Rc::new(std::cell::Cell::new(false));
/// let f = fired.clone();
/// lp.run_main(|| {
///     waiter_rt::set_timeout(Duration::from_secs(3600), move || f.set(true));
/// }, RunMode::NoWait);
/// assert!(!fired.get());
/// clock.advance(Duration::from_secs(3600));
/// lp.run(RunMode::NoWait);
/// assert!(fired.get());
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    /// The current reading, shared by every clone.
    now: Rc<Cell<Instant>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock that reads `Instant::now()` until advanced.
    pub fn new() -> ManualClock {
        ManualClock {
            now: Rc::new(Cell::new(Instant::now())),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        self.now.set(self.now.get() + d);
    }

    /// The current reading.
    pub fn now(&self) -> Instant {
        self.now.get()
    }
}

impl Clock {
    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            Clock::Manual(m) => m.now(),
        }
    }

    /// The loop time for a moment when the system clock read `system`:
    /// that reading itself, or the manual clock's.
    pub(crate) fn at(&self, system: Instant) -> Instant {
        match self {
            Clock::System => system,
            Clock::Manual(m) => m.now(),
        }
    }
}
