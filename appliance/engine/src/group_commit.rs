//! Group commit, once for every writer thread of the engine (the receipt writer's window thread
//! and LMDB stage, the context log's writer): a [`GroupCommitter`] holds the pending work under
//! one lock with the condvar its thread sleeps on. The thread sleeps while nothing is pending (the
//! caller that brings the first item wakes it), then until the oldest item is due, or acts at
//! once when something must not wait (a flush, a waiter, shutdown).
//!
//! The receipt writer (batched receipts, strict mode's deferred records) and the context log
//! promise that a record is on disk one window after it arrived. Each starts the commit ahead
//! of that deadline by [`lead`]: twice what commits took lately, tracked by [`decayed_max`].

use std::sync::{Condvar, LockResult, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Pending work that knows when it is due.
pub(crate) trait Pending {
    fn due(&mut self) -> &mut Due;
}

/// What a group-committing writer shares with the callers that give it work: the pending work
/// under one lock, and the condvar its thread sleeps on.
pub(crate) struct GroupCommitter<P> {
    pending: Mutex<P>,
    wake: Condvar,
}

impl<P: Pending> GroupCommitter<P> {
    pub(crate) fn new(pending: P) -> Self {
        Self {
            pending: Mutex::new(pending),
            wake: Condvar::new(),
        }
    }

    /// The pending work, locked: callers add to it, the thread takes it.
    pub(crate) fn lock(&self) -> LockResult<MutexGuard<'_, P>> {
        self.pending.lock()
    }

    /// Notes, under the lock, that work was added: its clock starts, and the thread is woken if
    /// it sleeps waiting for a first item.
    pub(crate) fn arrived(&self, pending: &mut P) {
        let due = pending.due();
        due.arrived();
        if due.wake() {
            self.wake.notify_one();
        }
    }

    /// Wakes the thread now (a flush, a waiter, shutdown): `now` in [`Self::wait_due`] must
    /// then say so.
    pub(crate) fn wake_now(&self) {
        self.wake.notify_one();
    }

    /// Waits, the lock released meanwhile, until the pending work is due: at once when `now`
    /// says so (a flush, a waiter, shutdown), else when `left` (given when the oldest item
    /// arrived) says no time is left; without limit while nothing is pending. Returns the guard,
    /// poisoned or not.
    pub(crate) fn wait_due<'a>(
        &'a self,
        mut guard: MutexGuard<'a, P>,
        now: impl Fn(&P) -> bool,
        mut left: impl FnMut(Instant) -> Duration,
    ) -> LockResult<MutexGuard<'a, P>> {
        let mut poisoned = false;
        loop {
            if now(&guard) {
                break;
            }
            let state = guard.due();
            let (g, p) = match state.oldest {
                None => {
                    state.idle = true;
                    let (mut g, p) = match self.wake.wait(guard) {
                        Ok(g) => (g, false),
                        Err(e) => (e.into_inner(), true),
                    };
                    g.due().idle = false;
                    (g, p)
                }
                Some(oldest) => {
                    let wait = left(oldest);
                    if wait.is_zero() {
                        break;
                    }
                    match self.wake.wait_timeout(guard, wait) {
                        Ok((g, _)) => (g, false),
                        Err(e) => (e.into_inner().0, true),
                    }
                }
            };
            guard = g;
            poisoned |= p;
        }
        if poisoned {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }
}

/// The part of a writer's pending state that says when its thread acts.
///
/// Invariant: `idle` is true only while the thread waits without a deadline (nothing pending),
/// so the caller that brings the first item, and only that one, wakes it.
#[derive(Debug, Default)]
pub(crate) struct Due {
    oldest: Option<Instant>,
    idle: bool,
}

impl Due {
    /// Notes that an item arrived (the first one since the work was last taken starts the clock).
    fn arrived(&mut self) {
        self.oldest.get_or_insert_with(Instant::now);
    }

    /// True when the thread sleeps waiting for a first item and must be woken now (it then
    /// counts as awake).
    fn wake(&mut self) -> bool {
        std::mem::take(&mut self.idle)
    }

    /// Everything pending was taken.
    pub(crate) fn taken(&mut self) {
        self.oldest = None;
    }

    /// When the oldest pending item arrived, if any is pending.
    pub(crate) fn oldest(&self) -> Option<Instant> {
        self.oldest
    }
}

/// How long before the window ends a commit starts: twice the recent commit time, at least a
/// tenth of the window (scheduling slack) and at most half of it.
pub(crate) fn lead(window: Duration, recent_commit: Duration) -> Duration {
    recent_commit
        .saturating_mul(2)
        .clamp(window / 10, window / 2)
}

/// The recent commit time after a commit that took `took`: the longest recent one, decaying by
/// an eighth per commit, so that one slow commit is remembered for a while.
pub(crate) fn decayed_max(recent: Duration, took: Duration) -> Duration {
    took.max(recent - recent / 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_start_early_enough_to_end_within_the_window() {
        let window = Duration::from_millis(10);
        // Fast commits: a tenth of the window is kept for scheduling slack.
        assert_eq!(lead(window, Duration::ZERO), window / 10);
        // Twice the recent commit time...
        assert_eq!(
            lead(window, Duration::from_millis(2)),
            Duration::from_millis(4)
        );
        // ...but never earlier than half the window.
        assert_eq!(lead(window, Duration::from_secs(1)), window / 2);
    }

    #[test]
    fn the_recent_commit_time_rises_at_once_and_decays_slowly() {
        let ms = Duration::from_millis;
        let recent = decayed_max(Duration::ZERO, ms(8));
        assert_eq!(recent, ms(8));
        // A quicker commit lowers it by an eighth only...
        assert_eq!(decayed_max(recent, ms(1)), ms(7));
        // ...a slower one raises it at once.
        assert_eq!(decayed_max(recent, ms(30)), ms(30));
    }
}
