//! The window thread (batched receipts, and strict mode's deferred records, are handed over
//! within their window) and batched mode's committer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::receipts::store::ReceiptStore;

use super::*;
use crate::group_commit::GroupCommitter;

/// Sends everything pending on its way: batched, to the committer thread; strict, by waking the
/// journal thread (which takes it under the journal lock). False once the writer has failed.
pub(super) fn hand_over_and_send(
    signer: &GroupCommitter<Signer>,
    sink: &Sink,
    failed: &AtomicBool,
) -> bool {
    match sink {
        Sink::Strict(stage) => {
            stage.kick(signer);
            !failed.load(Ordering::Acquire)
        }
        Sink::Batched(commits) => {
            let batch = match signer.lock() {
                Ok(mut s) => s.hand_over(),
                Err(_) => return false,
            };
            let Some(batch) = batch else {
                return true;
            };
            match commits.try_send(batch) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    failed.store(true, Ordering::Release);
                    false
                }
            }
        }
    }
}

/// The flush thread: sleeps while nothing is pending (an appender that signs the first pending
/// receipt wakes it through the signer's `GroupCommitter`), then until the oldest pending receipt is due — `window`
/// after it was signed, less the [`crate::group_commit::lead`] its commit needs — and hands
/// everything pending over. A receipt handed over meanwhile by a full batch, a strict commit or
/// `committed` only moves the next deadline. Ends when the signer is poisoned or the writer
/// has failed.
pub(super) fn flush_loop(
    signer: &GroupCommitter<Signer>,
    sink: &Sink,
    failed: &AtomicBool,
    stats: &WriterStats,
    window: Duration,
) {
    // Strict mode hands over by waking the journal thread, which takes the batch a moment
    // later: until it has, the same receipt is still the oldest and must not be handed over
    // again and again. It is looked at again after `recheck`, which doubles while the journal
    // thread is held up (a slow disk), up to half the window.
    let mut handed_over: Option<Instant> = None;
    let mut recheck = Duration::ZERO;
    let Ok(mut s) = signer.lock() else {
        return;
    };
    loop {
        let lead = crate::group_commit::lead(window, stats.recent_commit());
        let left = |oldest: Instant| {
            if handed_over == Some(oldest) {
                let first = (lead / 4).max(Duration::from_micros(100));
                recheck = (recheck * 2).max(first).min(window / 2);
                // Looked at again after `recheck`: a deadline that never passes.
                return recheck;
            }
            recheck = Duration::ZERO;
            (oldest + window.saturating_sub(lead)).saturating_duration_since(Instant::now())
        };
        s = match signer.wait_due(s, |_| false, left) {
            Ok(s) => s,
            Err(_) => return,
        };
        let oldest = s.due.oldest();
        drop(s);
        if !hand_over_and_send(signer, sink, failed) {
            return;
        }
        handed_over = oldest;
        s = match signer.lock() {
            Ok(s) => s,
            Err(_) => return,
        };
    }
}

/// Batched mode's committer: merges whatever batches are pending into one LMDB commit.
pub(super) fn batched_loop(
    store: Arc<ReceiptStore>,
    rx: mpsc::Receiver<Batch>,
    failed: Arc<AtomicBool>,
    stats: Arc<WriterStats>,
) {
    while let Ok(first) = rx.recv() {
        let mut batches = vec![first];
        while batches.len() < 1024 {
            match rx.try_recv() {
                Ok(more) => batches.push(more),
                Err(_) => break,
            }
        }
        let head = batches[batches.len() - 1].head.clone();
        let records: Vec<(u64, String, Vec<u8>)> = batches
            .iter_mut()
            .flat_map(|b| b.records.drain(..))
            .collect();
        let committed = CommittedGuard(
            batches
                .iter_mut()
                .flat_map(|b| std::mem::take(&mut b.committed))
                .collect(),
        );
        let work = ToCommit {
            records,
            head,
            committed,
        };
        let started = Instant::now();
        commit_to_lmdb(&store, work, &failed, &stats);
        stats.note_commit(started.elapsed());
    }
}
