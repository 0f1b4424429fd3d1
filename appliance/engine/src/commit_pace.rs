//! When a group-committing writer starts a commit so that it ends within its window.
//!
//! The receipt writer (batched receipts, strict mode's deferred records) and the context log
//! promise that a record is on disk one window after it arrived. Each starts the commit ahead
//! of that deadline by [`lead`]: twice what commits took lately, tracked by [`decayed_max`].

use std::time::Duration;

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
