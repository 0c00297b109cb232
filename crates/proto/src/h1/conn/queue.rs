//! The queue of requests awaiting their responses.
//!
//! A server answers in order and usually has one request at a time, so the
//! oldest is kept inline and only requests parsed ahead of it go to a deque,
//! which is allocated the first time that happens. **Invariant: when
//! `first` is empty, so is `rest`.**

use std::collections::VecDeque;

/// Requests without a complete response, oldest first.
#[derive(Debug)]
pub(super) struct Queue<T> {
    /// The oldest.
    first: Option<T>,
    /// The others, oldest first.
    rest: VecDeque<T>,
}

impl<T> Queue<T> {
    pub(super) fn new() -> Queue<T> {
        Queue {
            first: None,
            rest: VecDeque::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub(super) fn front(&self) -> Option<&T> {
        self.first.as_ref()
    }

    pub(super) fn front_mut(&mut self) -> Option<&mut T> {
        self.first.as_mut()
    }

    pub(super) fn back(&self) -> Option<&T> {
        self.rest.back().or(self.first.as_ref())
    }

    pub(super) fn push_back(&mut self, item: T) {
        match self.first {
            None => self.first = Some(item),
            Some(_) => self.rest.push_back(item),
        }
    }

    pub(super) fn pop_front(&mut self) -> Option<T> {
        let front = self.first.take();
        self.first = self.rest.pop_front();
        front
    }

    pub(super) fn clear(&mut self) {
        self.first = None;
        self.rest.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_behaves_as_a_deque() {
        let mut q = Queue::new();
        let mut model = VecDeque::new();
        // Pushes and pops in every order up to a depth of 5.
        for step in 0u32..200 {
            if step % 7 < 4 && model.len() < 5 {
                q.push_back(step);
                model.push_back(step);
            } else {
                assert_eq!(q.pop_front(), model.pop_front());
            }
            if step % 11 == 10 {
                if let (Some(a), Some(b)) = (q.front_mut(), model.front_mut()) {
                    *a += 1000;
                    *b += 1000;
                }
            }
            assert_eq!(q.len(), model.len());
            assert_eq!(q.is_empty(), model.is_empty());
            assert_eq!(q.front(), model.front());
            assert_eq!(q.back(), model.back());
            if step == 150 {
                q.clear();
                model.clear();
            }
        }
        // Depth one never allocates the deque.
        let mut q = Queue::new();
        for i in 0..10 {
            q.push_back(i);
            assert_eq!(q.pop_front(), Some(i));
        }
        assert_eq!(q.rest.capacity(), 0);
    }
}
