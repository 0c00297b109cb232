//! The timer heap: deadlines ordered by `(deadline, seq)`.
//!
//! This is a pure data structure. It never reads the clock: every operation
//! that depends on time takes `now` from the caller, which is how the loop's
//! cached time (and a test's injected clock) reaches it.
//!
//! Ordering: timers with equal deadlines fire in insertion order, because ties
//! are broken by a sequence number that grows with every insertion (libuv's
//! `start_id`).
//!
//! Insertion is O(1) and lazy: a new entry waits in an unsorted batch that is
//! merged into the heap (in O(n) when the batch is large) only when the heap
//! is next consulted, that is, at the next timers phase or poll timeout. A
//! timer created and cancelled in between (a request timeout that the
//! response beat) never touches the heap at all.
//!
//! Cancellation is O(1) and lazy: the slot is freed at once and its entry is
//! left behind as *stale* (its `seq` no longer matches the slot). Stale
//! entries are dropped when their batch is merged or when they reach the top
//! of the heap, and the heap is rebuilt when they outnumber the live ones, so
//! a workload that re-arms the same timeout on every request (keep-alive
//! timers) cannot grow the heap without bound. Every operation is O(log n)
//! amortized.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use slab::Slab;

/// Rebuild the heap once this many stale entries exist *and* they outnumber the
/// live timers. The floor keeps small heaps from being rebuilt over and over.
const COMPACT_MIN_STALE: usize = 1024;

/// Identifies one scheduled timer. Stays valid across interval re-arms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    /// Index of the slot in the slab.
    slot: u32,
    /// Generation of the slot, so a stale id never touches a reused slot.
    gen: u32,
}

/// A heap entry. Ordered by deadline, then by insertion sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// When the timer is due.
    deadline: Instant,
    /// Insertion sequence: breaks ties FIFO and detects stale entries.
    seq: u64,
    /// Slot index in the slab.
    slot: u32,
}

#[derive(Debug)]
struct Slot<T> {
    /// Generation handed out in the slot's [`TimerId`].
    gen: u32,
    /// Sequence of the heap entry that currently schedules this slot, if any.
    seq: Option<u64>,
    /// When the slot is scheduled to fire (meaningful while `seq` is set).
    deadline: Instant,
    /// The caller's payload.
    payload: T,
}

/// A min-heap of timers with O(1) cancellation. See the module docs.
#[derive(Debug)]
pub struct TimerHeap<T> {
    /// Scheduled entries; may contain stale entries for cancelled timers.
    heap: BinaryHeap<Reverse<Entry>>,
    /// Entries scheduled since the heap was last consulted, not yet in it.
    batch: Vec<Reverse<Entry>>,
    /// The live timers.
    slots: Slab<Slot<T>>,
    /// Next insertion sequence number.
    next_seq: u64,
    /// Next generation handed to a new slot.
    next_gen: u32,
    /// Heap entries whose slot was cancelled or re-armed.
    stale: usize,
}

impl<T> Default for TimerHeap<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TimerHeap<T> {
    /// An empty heap.
    pub fn new() -> Self {
        TimerHeap {
            heap: BinaryHeap::new(),
            batch: Vec::new(),
            slots: Slab::new(),
            next_seq: 0,
            next_gen: 0,
            stale: 0,
        }
    }

    /// Number of live timers (scheduled or fired-but-kept).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no timer is live.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Schedules `payload` at `deadline`.
    pub fn insert(&mut self, deadline: Instant, payload: T) -> TimerId {
        let gen = self.next_gen;
        self.next_gen = self.next_gen.wrapping_add(1);
        let slot = self.slots.insert(Slot {
            gen,
            seq: None,
            deadline,
            payload,
        }) as u32;
        let id = TimerId { slot, gen };
        self.push_entry(slot, deadline);
        id
    }

    /// Whether `id` still names a live timer.
    pub fn contains(&self, id: TimerId) -> bool {
        self.slot(id).is_some()
    }

    /// The payload of a live timer.
    pub fn get_mut(&mut self, id: TimerId) -> Option<&mut T> {
        match self.slots.get_mut(id.slot as usize) {
            Some(s) if s.gen == id.gen => Some(&mut s.payload),
            _ => None,
        }
    }

    /// The deadline of a scheduled timer.
    pub fn deadline(&self, id: TimerId) -> Option<Instant> {
        self.slot(id)
            .filter(|s| s.seq.is_some())
            .map(|s| s.deadline)
    }

    /// Removes a timer, scheduled or not, and returns its payload.
    pub fn remove(&mut self, id: TimerId) -> Option<T> {
        let slot = self.slot(id)?;
        if slot.seq.is_some() {
            self.stale += 1;
        }
        let payload = self.slots.remove(id.slot as usize).payload;
        self.maybe_compact();
        Some(payload)
    }

    /// Re-arms a live timer at a new deadline (its id stays the same).
    /// Returns `false` if the timer is gone.
    pub fn reschedule(&mut self, id: TimerId, deadline: Instant) -> bool {
        let Some(slot) = self.slot(id) else {
            return false;
        };
        if slot.seq.is_some() {
            self.stale += 1;
        }
        self.push_entry(id.slot, deadline);
        self.maybe_compact();
        true
    }

    /// The earliest deadline among scheduled timers.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.merge_batch();
        self.skip_stale();
        self.heap.peek().map(|Reverse(e)| e.deadline)
    }

    /// Unschedules and returns the earliest timer due at `now`, if any.
    ///
    /// The slot stays live (so an interval can be re-armed with
    /// [`reschedule`](Self::reschedule)); the caller removes it when done.
    pub fn pop_due(&mut self, now: Instant) -> Option<TimerId> {
        self.merge_batch();
        self.skip_stale();
        let Reverse(top) = *self.heap.peek()?;
        if top.deadline > now {
            return None;
        }
        self.heap.pop();
        let slot = &mut self.slots[top.slot as usize];
        slot.seq = None;
        Some(TimerId {
            slot: top.slot,
            gen: slot.gen,
        })
    }

    fn slot(&self, id: TimerId) -> Option<&Slot<T>> {
        self.slots.get(id.slot as usize).filter(|s| s.gen == id.gen)
    }

    fn push_entry(&mut self, slot: u32, deadline: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let s = &mut self.slots[slot as usize];
        s.seq = Some(seq);
        s.deadline = deadline;
        self.batch.push(Reverse(Entry {
            deadline,
            seq,
            slot,
        }));
    }

    /// Moves the live entries of the batch into the heap.
    fn merge_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.batch);
        let before = batch.len();
        batch.retain(|e| !self.is_stale(&e.0));
        self.stale -= before - batch.len();
        // `extend` rebuilds the heap in O(n) when the batch is large.
        self.heap.extend(batch.drain(..));
        self.batch = batch;
    }

    fn is_stale(&self, e: &Entry) -> bool {
        match self.slots.get(e.slot as usize) {
            Some(s) => s.seq != Some(e.seq),
            None => true,
        }
    }

    fn skip_stale(&mut self) {
        while let Some(Reverse(top)) = self.heap.peek() {
            if !self.is_stale(top) {
                break;
            }
            self.heap.pop();
            self.stale -= 1;
        }
    }

    fn maybe_compact(&mut self) {
        let entries = self.heap.len() + self.batch.len();
        if self.stale < COMPACT_MIN_STALE || self.stale <= entries / 2 {
            return;
        }
        // Drop the batch's stale entries first: cheap, and it stays a batch.
        let mut batch = std::mem::take(&mut self.batch);
        let before = batch.len();
        batch.retain(|e| !self.is_stale(&e.0));
        self.stale -= before - batch.len();
        self.batch = batch;
        if self.stale < COMPACT_MIN_STALE || self.stale <= self.heap.len() / 2 {
            return;
        }
        let heap = std::mem::take(&mut self.heap).into_vec();
        let live: Vec<_> = heap.into_iter().filter(|e| !self.is_stale(&e.0)).collect();
        self.heap = BinaryHeap::from(live);
        self.stale = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timers_cancelled_before_the_heap_is_consulted_never_enter_it() {
        let t0 = Instant::now();
        let mut h = TimerHeap::new();
        let ids: Vec<_> = (0..10_000).map(|i| h.insert(ms(t0, i), i)).collect();
        for id in ids {
            h.remove(id);
        }
        let keep = h.insert(ms(t0, 7), u64::MAX);
        assert_eq!(h.next_deadline(), Some(ms(t0, 7)));
        assert_eq!(h.heap.len(), 1);
        assert_eq!(h.stale, 0);
        assert_eq!(h.pop_due(ms(t0, 100)), Some(keep));
    }

    fn ms(base: Instant, n: u64) -> Instant {
        base + Duration::from_millis(n)
    }

    #[test]
    fn equal_deadlines_fire_in_insertion_order() {
        let t0 = Instant::now();
        let mut h = TimerHeap::new();
        for i in 0..100 {
            h.insert(ms(t0, 5), i);
        }
        h.insert(ms(t0, 1), -1);
        let mut out = vec![];
        while let Some(id) = h.pop_due(ms(t0, 5)) {
            out.push(h.remove(id).unwrap());
        }
        let mut want = vec![-1];
        want.extend(0..100);
        assert_eq!(out, want);
    }

    #[test]
    fn nothing_due_before_deadline() {
        let t0 = Instant::now();
        let mut h = TimerHeap::new();
        h.insert(ms(t0, 10), ());
        assert_eq!(h.pop_due(ms(t0, 9)), None);
        assert_eq!(h.next_deadline(), Some(ms(t0, 10)));
        assert!(h.pop_due(ms(t0, 10)).is_some());
    }

    #[test]
    fn cancel_is_lazy_and_ids_do_not_alias() {
        let t0 = Instant::now();
        let mut h = TimerHeap::new();
        let a = h.insert(ms(t0, 1), "a");
        assert_eq!(h.remove(a), Some("a"));
        let b = h.insert(ms(t0, 2), "b");
        // `b` reuses a's slot; a's id must not reach it.
        assert_eq!(h.remove(a), None);
        assert!(!h.contains(a));
        assert_eq!(h.next_deadline(), Some(ms(t0, 2)));
        assert_eq!(h.pop_due(ms(t0, 5)), Some(b));
    }

    #[test]
    fn reschedule_keeps_id_and_drops_old_entry() {
        let t0 = Instant::now();
        let mut h = TimerHeap::new();
        let a = h.insert(ms(t0, 1), ());
        assert!(h.reschedule(a, ms(t0, 50)));
        assert_eq!(h.pop_due(ms(t0, 10)), None);
        assert_eq!(h.pop_due(ms(t0, 50)), Some(a));
        assert_eq!(h.pop_due(ms(t0, 50)), None);
        // Fired but kept: can be re-armed, like an interval.
        assert!(h.reschedule(a, ms(t0, 60)));
        assert_eq!(h.deadline(a), Some(ms(t0, 60)));
    }

    #[test]
    fn rearming_does_not_grow_the_heap_without_bound() {
        let t0 = Instant::now();
        let mut h = TimerHeap::new();
        let ids: Vec<_> = (0..10).map(|i| h.insert(ms(t0, i), ())).collect();
        for round in 0..100_000u64 {
            let id = ids[(round % 10) as usize];
            h.reschedule(id, ms(t0, 1000 + round));
        }
        let entries = h.heap.len() + h.batch.len();
        assert!(entries < 3 * COMPACT_MIN_STALE, "{entries}");
        assert_eq!(h.len(), 10);
    }

    #[test]
    fn random_operations_match_a_sorted_model() {
        // A small deterministic LCG keeps the test reproducible.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            (seed >> 33) % n
        };
        let t0 = Instant::now();
        let mut h = TimerHeap::new();
        let mut model: Vec<(u64, u64, TimerId)> = vec![];
        let mut seq = 0;
        let mut now = 0;
        for _ in 0..20_000 {
            match rnd(4) {
                0 | 1 => {
                    let d = now + rnd(100);
                    let id = h.insert(ms(t0, d), seq);
                    model.push((d, seq, id));
                    seq += 1;
                }
                2 if !model.is_empty() => {
                    let i = rnd(model.len() as u64) as usize;
                    let (_, s, id) = model.swap_remove(i);
                    assert_eq!(h.remove(id), Some(s));
                }
                _ => {
                    now += rnd(10);
                    model.sort_by_key(|m| (m.0, m.1));
                    while let Some(id) = h.pop_due(ms(t0, now)) {
                        let (d, s, mid) = model.remove(0);
                        assert!(d <= now);
                        assert_eq!(id, mid);
                        assert_eq!(h.remove(id), Some(s));
                    }
                    assert!(model.first().is_none_or(|m| m.0 > now));
                }
            }
        }
    }
}
