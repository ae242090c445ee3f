//! Incremental snapshot states waiting for their checkpoint. The stream stages a state when it
//! changes (a chunk emitted, a signal acted on), keyed by the position it was reached at; the
//! offset store writes the newest state staged before a checkpoint together with that
//! checkpoint, i.e. only once Kafka acknowledged every record the state claims as emitted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::lsn::Lsn;
use crate::offsets::incremental::IncrementalState;

#[derive(Debug, Default)]
struct Inner {
    /// (position, state): the state belongs to the first checkpoint after the position.
    queue: VecDeque<(Lsn, IncrementalState)>,
    /// The newest state whose checkpoint has been reached.
    settled: Option<IncrementalState>,
}

/// Shared between the stream (stages) and the offset store (settles).
#[derive(Debug, Clone, Default)]
pub struct Staged(Arc<Mutex<Inner>>);

impl Staged {
    pub fn new(settled: Option<IncrementalState>) -> Self {
        Staged(Arc::new(Mutex::new(Inner {
            queue: VecDeque::new(),
            settled,
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `state` holds from the first checkpoint after `after` on. Positions never go back: a
    /// state staged behind a newer one shares its checkpoint.
    pub fn stage(&self, after: Lsn, state: IncrementalState) {
        let mut inner = self.lock();
        let after = inner.queue.back().map_or(after, |(l, _)| after.max(*l));
        match inner.queue.back_mut() {
            Some((l, s)) if *l == after => *s = state,
            _ => inner.queue.push_back((after, state)),
        }
    }

    /// The state to store with checkpoint `lsn`, forgetting what it supersedes.
    pub fn settle(&self, lsn: Lsn) -> Option<IncrementalState> {
        let mut inner = self.lock();
        while inner.queue.front().is_some_and(|(l, _)| *l < lsn) {
            let (_, s) = inner.queue.pop_front().expect("checked");
            inner.settled = Some(s);
        }
        inner.settled.clone()
    }

    /// Like [`Staged::settle`] without forgetting anything (for an offset record written
    /// before the store sees the checkpoint).
    pub fn at(&self, lsn: Lsn) -> Option<IncrementalState> {
        let inner = self.lock();
        inner
            .queue
            .iter()
            .rev()
            .find(|(l, _)| *l < lsn)
            .map(|(_, s)| s.clone())
            .or_else(|| inner.settled.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(rows: u64) -> IncrementalState {
        IncrementalState {
            rows,
            ..Default::default()
        }
    }

    #[test]
    fn a_state_waits_for_the_checkpoint_after_it() {
        let s = Staged::new(Some(st(0)));
        s.stage(Lsn(100), st(1));
        s.stage(Lsn(200), st(2));
        // Staged behind 200: shares 200's checkpoint.
        s.stage(Lsn(150), st(3));
        assert_eq!(s.at(Lsn(100)), Some(st(0)));
        assert_eq!(s.settle(Lsn(100)), Some(st(0)), "not after 100 yet");
        assert_eq!(s.at(Lsn(150)), Some(st(1)));
        assert_eq!(s.settle(Lsn(150)), Some(st(1)));
        assert_eq!(s.at(Lsn(201)), Some(st(3)));
        assert_eq!(s.settle(Lsn(201)), Some(st(3)));
        assert_eq!(s.settle(Lsn(300)), Some(st(3)));
        assert_eq!(Staged::default().settle(Lsn(5)), None);
    }
}
