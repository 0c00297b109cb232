//! The timer queue: one list per duration, and a heap of the lists' heads.
//!
//! This is a pure data structure. It never reads the clock: every operation
//! that depends on time takes it from the caller, which is how the loop's
//! cached time (and a test's injected clock) reaches it.
//!
//! The layout is Node's (`lib/internal/timers.js`): timers are kept in one
//! doubly linked list per duration. Timers of one duration are created in
//! time order, so each list is already sorted by deadline and appending is
//! O(1); only the lists' heads sit in a binary heap. A server's timers come
//! in a handful of durations (a request timeout, a retry delay), so the heap
//! stays small and cache-resident however many timers are live, and firing
//! one costs O(log L) for L distinct durations instead of O(log n). Deadlines
//! that do not fit a list's order (a start time older than the list's tail,
//! as when the loop's cached time and a fresh clock reading mix) are placed
//! by walking back from the tail, which is one or two steps in practice.
//!
//! Ordering: timers with equal deadlines fire in insertion order, because
//! ties are broken by a sequence number that grows with every insertion
//! (libuv's `start_id`), within a list and across lists. Timers fire
//! strictly by `(deadline, insertion)`, as libuv orders them; Node differs
//! when the loop is late: once a list's head is due it runs every due
//! timer of that list before looking at the other lists, so a later 30 ms
//! timer can run before an earlier-due 20 ms one there, never here.
//!
//! Cancellation is O(1): the timer is unlinked and its slot freed at once,
//! and the heap is not touched. Each list has one live heap entry, a lower
//! bound of its head's `(deadline, seq)`: a list's head only ever moves later
//! when timers fire or are cancelled, so the entry stays a lower bound and is
//! brought up to date only when it reaches the top of the heap. An entry is
//! pushed when a list is created or gets a head earlier than its entry;
//! entries left behind (the list emptied, or a newer entry replaced them) are
//! garbage, dropped when they reach the top, and the heap is rebuilt from the
//! lists when garbage outnumbers the live entries, so its size stays within a
//! small multiple of the number of lists.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use slab::Slab;

/// Rebuild the heap once it holds this many stale entries and more stale
/// than live ones.
const COMPACT_MIN_STALE: usize = 1024;

/// How far in the future a timer whose deadline overflows `Instant` goes.
const FAR: Duration = Duration::from_secs(100 * 365 * 86_400);

/// No slot, in a link field.
const NIL: u32 = u32::MAX;

/// Names a timer; stays valid until the timer is removed, never aliases a
/// later timer in the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    slot: u32,
    gen: u32,
}

/// A heap entry: the head of list `list` when it was pushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    deadline: Instant,
    seq: u64,
    list: u32,
}

#[derive(Debug)]
struct Slot<T> {
    gen: u32,
    /// The list holding the timer, or `NIL` when it is not armed (fired and
    /// kept for re-arming, like an interval).
    list: u32,
    prev: u32,
    next: u32,
    seq: u64,
    deadline: Instant,
    payload: T,
}

/// The timers of one duration, in deadline order.
#[derive(Debug)]
struct List {
    /// The duration, in nanoseconds: the list's key.
    nanos: u64,
    head: u32,
    tail: u32,
    /// `(deadline, seq)` of the list's one live heap entry: a lower bound
    /// of its head, exact once refreshed.
    entry: (Instant, u64),
}

/// Timers ordered by `(deadline, insertion)`, each carrying a `T`.
#[derive(Debug)]
pub struct TimerQueue<T> {
    slots: Slab<Slot<T>>,
    lists: Slab<List>,
    by_duration: HashMap<u64, u32, BuildHasherDefault<NanosHasher>>,
    heap: BinaryHeap<Reverse<Entry>>,
    /// Heap entries that no longer name a list's head.
    stale: usize,
    next_seq: u64,
    next_gen: u32,
    /// The list the last insertion joined (perhaps gone since).
    last_list: u32,
}

impl<T> Default for TimerQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Hashes a list's key (a duration in nanoseconds) with one multiply: the
/// keys are durations the program chose, so the default SipHash's DoS
/// resistance buys nothing here.
#[derive(Default)]
struct NanosHasher(u64);

impl Hasher for NanosHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing; the high bits are the well-mixed ones, and
        // hashbrown uses both the high and the low bits, so fold them.
        let h = (n ^ (n >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 32);
    }
}

/// `start + after`, or far in the future if that overflows.
pub(crate) fn due(start: Instant, after: Duration) -> Instant {
    start.checked_add(after).unwrap_or(start + FAR)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl<T> TimerQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        TimerQueue {
            slots: Slab::new(),
            lists: Slab::new(),
            by_duration: HashMap::default(),
            heap: BinaryHeap::new(),
            stale: 0,
            next_seq: 0,
            next_gen: 0,
            last_list: NIL,
        }
    }

    /// Number of timers, armed or kept for re-arming.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no timers.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds a timer due at `start + after`.
    pub fn insert(&mut self, start: Instant, after: Duration, payload: T) -> TimerId {
        self.insert_at(due(start, after), after, payload)
    }

    /// Adds a timer due at `deadline`, kept with the timers of duration
    /// `after` (normally `deadline - start`): for a caller that already
    /// holds the deadline, which spares adding the duration again.
    pub fn insert_at(&mut self, deadline: Instant, after: Duration, payload: T) -> TimerId {
        let gen = self.next_gen;
        self.next_gen = self.next_gen.wrapping_add(1);
        let slot = self.slots.insert(Slot {
            gen,
            list: NIL,
            prev: NIL,
            next: NIL,
            seq: 0,
            deadline,
            payload,
        }) as u32;
        self.link(slot, deadline, after);
        TimerId { slot, gen }
    }

    /// Whether `id` names a timer (armed or not).
    pub fn contains(&self, id: TimerId) -> bool {
        self.slot(id).is_some()
    }

    /// The timer's payload.
    pub fn get_mut(&mut self, id: TimerId) -> Option<&mut T> {
        match self.slots.get_mut(id.slot as usize) {
            Some(s) if s.gen == id.gen => Some(&mut s.payload),
            _ => None,
        }
    }

    /// When the timer is due, if it is armed.
    pub fn deadline(&self, id: TimerId) -> Option<Instant> {
        self.slot(id).filter(|s| s.list != NIL).map(|s| s.deadline)
    }

    /// Removes the timer and returns its payload.
    pub fn remove(&mut self, id: TimerId) -> Option<T> {
        self.slot(id)?;
        self.unlink(id.slot);
        let payload = self.slots.remove(id.slot as usize).payload;
        if self.slots.is_empty() {
            self.reset();
        }
        Some(payload)
    }

    /// Once the last timer is gone: forgets the slab's free list, so the
    /// next timers take slots in address order again instead of wherever
    /// the last ones happened to fire, and drops the heap's garbage.
    /// (Generations keep growing, so old ids still name nothing.)
    fn reset(&mut self) {
        debug_assert!(self.lists.is_empty());
        self.slots.clear();
        self.lists.clear();
        self.heap.clear();
        self.stale = 0;
    }

    /// Re-arms the timer at `start + after`, as if newly inserted (it goes
    /// after timers already due at the same instant). Returns false if `id`
    /// names no timer.
    pub fn reschedule(&mut self, id: TimerId, start: Instant, after: Duration) -> bool {
        if self.slot(id).is_none() {
            return false;
        }
        self.unlink(id.slot);
        self.link(id.slot, due(start, after), after);
        true
    }

    /// The earliest deadline.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.settle_top();
        self.heap.peek().map(|Reverse(e)| e.deadline)
    }

    /// Disarms and returns the earliest timer due at `now`, keeping its
    /// payload until it is removed or re-armed.
    pub fn pop_due(&mut self, now: Instant) -> Option<TimerId> {
        self.settle_top();
        let Reverse(top) = *self.heap.peek()?;
        if top.deadline > now {
            return None;
        }
        let slot = self.lists[top.list as usize].head;
        self.unlink(slot);
        Some(TimerId {
            slot,
            gen: self.slots[slot as usize].gen,
        })
    }

    fn slot(&self, id: TimerId) -> Option<&Slot<T>> {
        self.slots.get(id.slot as usize).filter(|s| s.gen == id.gen)
    }

    /// Arms an unarmed slot at `deadline`, in the list of duration `after`.
    fn link(&mut self, slot: u32, deadline: Instant, after: Duration) {
        let key = nanos(after);
        let seq = self.next_seq;
        self.next_seq += 1;
        // Most insertions are of the duration the last one had: its list
        // is checked first (a list's slot names it only while it holds that
        // duration, and there is one list per duration).
        let cached = self
            .lists
            .get(self.last_list as usize)
            .is_some_and(|l| l.nanos == key);
        let list = match cached {
            true => self.last_list,
            false => self.by_duration.get(&key).copied().unwrap_or(NIL),
        };
        let list = match list {
            NIL => {
                let l = self.lists.insert(List {
                    nanos: key,
                    head: NIL,
                    tail: NIL,
                    entry: (deadline, seq),
                }) as u32;
                self.by_duration.insert(key, l);
                self.heap.push(Reverse(Entry {
                    deadline,
                    seq,
                    list: l,
                }));
                l
            }
            l => l,
        };
        self.last_list = list;
        // The node to insert after: the last one due no later than us.
        let head = self.lists[list as usize].head;
        let mut prev = self.lists[list as usize].tail;
        while prev != NIL && self.slots[prev as usize].deadline > deadline {
            prev = if prev == head {
                NIL
            } else {
                self.slots[prev as usize].prev
            };
        }
        let next = if prev == NIL {
            head
        } else {
            self.slots[prev as usize].next
        };
        let s = &mut self.slots[slot as usize];
        s.list = list;
        s.seq = seq;
        s.deadline = deadline;
        s.prev = prev;
        s.next = next;
        if next == NIL {
            self.lists[list as usize].tail = slot;
        } else {
            self.slots[next as usize].prev = slot;
        }
        if prev != NIL {
            self.slots[prev as usize].next = slot;
            return;
        }
        let l = &mut self.lists[list as usize];
        l.head = slot;
        // A head earlier than the list's heap entry needs an entry of its
        // own; the old one becomes garbage.
        if (deadline, seq) < l.entry {
            l.entry = (deadline, seq);
            self.heap.push(Reverse(Entry {
                deadline,
                seq,
                list,
            }));
            self.stale += 1;
            self.maybe_compact();
        }
    }

    /// Takes an armed slot out of its list; does nothing if it is unarmed.
    /// The list's heap entry stays: it is still a lower bound.
    ///
    /// A head's `prev` link is never read, so removing the head (every
    /// firing) touches only the head and its list, not the next node.
    fn unlink(&mut self, slot: u32) {
        let (list, prev, next) = {
            let s = &mut self.slots[slot as usize];
            if s.list == NIL {
                return;
            }
            let r = (s.list, s.prev, s.next);
            s.list = NIL;
            r
        };
        if self.lists[list as usize].head != slot {
            self.slots[prev as usize].next = next;
            if next == NIL {
                self.lists[list as usize].tail = prev;
            } else {
                self.slots[next as usize].prev = prev;
            }
            return;
        }
        self.lists[list as usize].head = next;
        if next == NIL {
            // The list is gone; its heap entry is garbage.
            let l = self.lists.remove(list as usize);
            self.by_duration.remove(&l.nanos);
            self.stale += 1;
            self.maybe_compact();
        }
    }

    /// Brings the heap's top to a list's true head: drops garbage entries
    /// and replaces a lower-bound entry whose head has moved on.
    fn settle_top(&mut self) {
        while let Some(&Reverse(top)) = self.heap.peek() {
            let Some(l) = self.lists.get_mut(top.list as usize) else {
                self.heap.pop();
                self.stale -= 1;
                continue;
            };
            if l.entry.1 != top.seq {
                self.heap.pop();
                self.stale -= 1;
                continue;
            }
            let head = &self.slots[l.head as usize];
            if head.seq == top.seq {
                return;
            }
            l.entry = (head.deadline, head.seq);
            let entry = Entry {
                deadline: head.deadline,
                seq: head.seq,
                list: top.list,
            };
            if let Some(mut t) = self.heap.peek_mut() {
                *t = Reverse(entry);
            }
        }
    }

    fn maybe_compact(&mut self) {
        if self.stale < COMPACT_MIN_STALE || self.stale <= self.heap.len() / 2 {
            return;
        }
        let mut entries = Vec::with_capacity(self.lists.len());
        for (key, list) in self.lists.iter_mut() {
            let head = &self.slots[list.head as usize];
            list.entry = (head.deadline, head.seq);
            entries.push(Reverse(Entry {
                deadline: head.deadline,
                seq: head.seq,
                list: key as u32,
            }));
        }
        self.heap = BinaryHeap::from(entries);
        self.stale = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn equal_deadlines_fire_in_insertion_order_across_lists() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        // The same deadline reached through different durations.
        for i in 0..100u64 {
            q.insert(t0 + ms(i % 5), ms(5 - i % 5), i as i64);
        }
        q.insert(t0, ms(1), -1);
        let mut out = vec![];
        while let Some(id) = q.pop_due(t0 + ms(5)) {
            out.push(q.remove(id).unwrap());
        }
        let mut want = vec![-1];
        want.extend(0..100);
        assert_eq!(out, want);
        assert!(q.is_empty());
        assert!(q.lists.is_empty() && q.by_duration.is_empty());
    }

    #[test]
    fn nothing_due_before_deadline() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        q.insert(t0, ms(10), ());
        assert_eq!(q.pop_due(t0 + ms(9)), None);
        assert_eq!(q.next_deadline(), Some(t0 + ms(10)));
        assert!(q.pop_due(t0 + ms(10)).is_some());
    }

    #[test]
    fn a_start_older_than_the_tail_is_placed_in_order() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        let late = q.insert(t0 + ms(3), ms(10), "late");
        let early = q.insert(t0, ms(10), "early");
        let mid = q.insert(t0 + ms(1), ms(10), "mid");
        assert_eq!(q.next_deadline(), Some(t0 + ms(10)));
        assert_eq!(q.pop_due(t0 + ms(20)), Some(early));
        assert_eq!(q.pop_due(t0 + ms(20)), Some(mid));
        assert_eq!(q.pop_due(t0 + ms(20)), Some(late));
    }

    #[test]
    fn insert_at_shares_the_list_of_its_duration() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        let a = q.insert(t0, ms(10), "a");
        let b = q.insert_at(t0 + ms(12), ms(10), "b");
        let c = q.insert(t0 + ms(1), ms(10), "c");
        assert_eq!(q.by_duration.len(), 1);
        assert_eq!(q.deadline(b), Some(t0 + ms(12)));
        assert_eq!(q.pop_due(t0 + ms(11)), Some(a));
        assert_eq!(q.pop_due(t0 + ms(11)), Some(c));
        assert_eq!(q.pop_due(t0 + ms(11)), None);
        assert_eq!(q.pop_due(t0 + ms(12)), Some(b));
    }

    #[test]
    fn cancel_is_immediate_and_ids_do_not_alias() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        let a = q.insert(t0, ms(1), "a");
        assert_eq!(q.remove(a), Some("a"));
        let b = q.insert(t0, ms(2), "b");
        // `b` reuses a's slot; a's id must not reach it.
        assert_eq!(q.remove(a), None);
        assert!(!q.contains(a));
        assert_eq!(q.next_deadline(), Some(t0 + ms(2)));
        assert_eq!(q.pop_due(t0 + ms(5)), Some(b));
    }

    #[test]
    fn reschedule_keeps_id() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        let a = q.insert(t0, ms(1), ());
        assert!(q.reschedule(a, t0, ms(50)));
        assert_eq!(q.pop_due(t0 + ms(10)), None);
        assert_eq!(q.pop_due(t0 + ms(50)), Some(a));
        assert_eq!(q.pop_due(t0 + ms(50)), None);
        assert_eq!(q.deadline(a), None);
        // Fired but kept: can be re-armed, like an interval.
        assert!(q.reschedule(a, t0 + ms(50), ms(10)));
        assert_eq!(q.deadline(a), Some(t0 + ms(60)));
    }

    #[test]
    fn a_million_timers_of_few_durations_keep_the_heap_small() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        for i in 0..1_000_000u64 {
            q.insert(t0 + Duration::from_nanos(i), ms(1 + i % 10), ());
        }
        assert_eq!(q.lists.len(), 10);
        assert!(q.heap.len() <= 10, "{}", q.heap.len());
        let mut last = t0;
        let mut n = 0;
        while let Some(id) = q.pop_due(t0 + ms(20)) {
            let s = &q.slots[id.slot as usize];
            assert!(s.deadline >= last);
            last = s.deadline;
            q.remove(id);
            n += 1;
        }
        assert_eq!(n, 1_000_000);
        assert!(q.heap.len() + q.stale < 3 * COMPACT_MIN_STALE);
    }

    #[test]
    fn cancelling_heads_does_not_grow_the_heap_without_bound() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        let keep: Vec<_> = (0..10).map(|i| q.insert(t0, ms(1000 + i), ())).collect();
        for round in 0..100_000u64 {
            // Each new timer becomes its list's head, then is cancelled.
            let id = q.insert(t0, ms(round % 7), ());
            q.remove(id);
        }
        assert!(q.heap.len() < 3 * COMPACT_MIN_STALE, "{}", q.heap.len());
        assert_eq!(q.len(), 10);
        for id in keep {
            assert!(q.contains(id));
        }
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
        let mut q = TimerQueue::new();
        // (deadline ms, insertion order, id, duration ms)
        let mut model: Vec<(u64, u64, TimerId, u64)> = vec![];
        let mut seq = 0;
        let mut now: u64 = 0;
        for _ in 0..40_000 {
            match rnd(5) {
                0 | 1 => {
                    // Starts a little in the past or present, few durations.
                    let start = now.saturating_sub(rnd(3));
                    let after = rnd(8) * 5;
                    let id = q.insert(t0 + ms(start), ms(after), seq);
                    model.push((start + after, seq, id, after));
                    seq += 1;
                }
                2 if !model.is_empty() => {
                    let i = rnd(model.len() as u64) as usize;
                    let (_, s, id, _) = model.swap_remove(i);
                    assert_eq!(q.remove(id), Some(s));
                }
                3 if !model.is_empty() => {
                    let i = rnd(model.len() as u64) as usize;
                    let after = rnd(8) * 5;
                    let m = &mut model[i];
                    assert!(q.reschedule(m.2, t0 + ms(now), ms(after)));
                    *m = (now + after, seq, m.2, after);
                    *q.get_mut(m.2).unwrap() = seq;
                    seq += 1;
                }
                _ => {
                    now += rnd(10);
                    model.sort_by_key(|m| (m.0, m.1));
                    while let Some(id) = q.pop_due(t0 + ms(now)) {
                        let (d, s, mid, _) = model.remove(0);
                        assert!(d <= now);
                        assert_eq!(id, mid);
                        assert_eq!(q.remove(id), Some(s));
                    }
                    assert!(model.first().is_none_or(|m| m.0 > now));
                    let want = model.first().map(|m| t0 + ms(m.0));
                    assert_eq!(q.next_deadline(), want);
                }
            }
        }
    }
}
