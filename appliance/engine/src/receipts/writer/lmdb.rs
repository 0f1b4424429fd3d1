//! The LMDB stage: commits what the journal or the window thread handed over in large
//! transactions, empties the journal, and answers the callers waiting for a commit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::receipts::journal::Journal;
use crate::receipts::reader::Unstored;
use crate::receipts::store::{Head, ReceiptStore, StoreError};

use super::*;
use crate::group_commit::{Due, GroupCommitter, Pending};

/// Answers `committed` waiters when dropped (after the LMDB commit, or when it is skipped).
pub(super) struct CommittedGuard(pub(super) Vec<oneshot::Sender<()>>);

impl Drop for CommittedGuard {
    fn drop(&mut self) {
        for tx in self.0.drain(..) {
            let _ = tx.send(());
        }
    }
}

/// What is committed to LMDB: receipts (already journaled in strict mode, whose verdicts were
/// released after the journal sync; batched mode has no verdicts waiting) and the `committed`
/// callers.
pub(super) struct ToCommit {
    pub(super) records: Vec<(u64, String, Vec<u8>)>,
    pub(super) head: Head,
    pub(super) committed: CommittedGuard,
}

/// Once the journal has grown past this, LMDB is brought up to date and the journal emptied.
pub(super) const JOURNAL_CLEAR_AT: u64 = 1024 * 1024;
/// In strict mode, the longest a journaled receipt waits for its LMDB commit.
pub(super) const LMDB_LAG: Duration = Duration::from_secs(1);

/// What the journal stage hands to the LMDB stage, and when that stage is due to act.
pub(super) type LmdbQueue = GroupCommitter<LmdbPending>;

#[derive(Default)]
pub(super) struct LmdbPending {
    pub(super) work: Option<ToCommit>,
    /// When `work` is due: `LMDB_LAG` after its oldest receipt arrived.
    pub(super) due: Due,
    /// The journal's length when `work` was last added to (bytes since it was last emptied).
    pub(super) journaled: u64,
}

impl Pending for LmdbPending {
    fn due(&mut self) -> &mut Due {
        &mut self.due
    }
}

impl LmdbQueue {
    /// Adds journaled receipts (called under the journal lock, so in journal order), with the
    /// journal's length after them. Wakes the LMDB stage only when it has something to do now:
    /// the journal is due to be emptied, or a `committed` caller waits; otherwise it wakes at
    /// its own deadline. False if the queue is unusable (a thread panicked holding it).
    pub(super) fn push(&self, mut more: ToCommit, journal_len: u64) -> bool {
        let Ok(mut st) = self.lock() else {
            return false;
        };
        st.journaled = journal_len;
        if !more.records.is_empty() {
            // The stage sleeping without a deadline learns the first receipt's.
            self.arrived(&mut st);
        }
        let urgent = !more.committed.0.is_empty();
        match &mut st.work {
            None => st.work = Some(more),
            Some(work) => {
                work.records.append(&mut more.records);
                work.head = more.head.clone();
                work.committed.0.append(&mut more.committed.0);
            }
        }
        if urgent || st.journaled >= JOURNAL_CLEAR_AT {
            self.wake_now();
        }
        true
    }
}

/// The LMDB stage of strict mode. The receipts it gets are already durable in the journal, so
/// it commits them in large, infrequent transactions — when the journal has grown past
/// [`JOURNAL_CLEAR_AT`] (then the journal is emptied), at the latest [`LMDB_LAG`] after the
/// oldest arrived, or at once when a `committed` caller waits — instead of one per journal
/// write: LMDB's two syncs per commit would otherwise compete with the journal's sync that
/// verdicts wait for, and waking this thread per write would cost the writer. Readers see the
/// receipts in between through [`Unstored`].
pub(super) fn lmdb_loop(
    store: Arc<ReceiptStore>,
    journal: Arc<Mutex<Journal>>,
    unstored: Arc<Unstored>,
    queue: Arc<LmdbQueue>,
    failed: Arc<AtomicBool>,
    stats: Arc<WriterStats>,
) {
    let commit = |work: ToCommit| {
        let upto = work.head.seq;
        if commit_to_lmdb(&store, work, &failed, &stats) {
            unstored.stored_upto(upto);
            true
        } else {
            false
        }
    };
    let poisoned = || {
        tracing::error!("the receipt store thread lost its queue; every action will be denied");
        failed.store(true, Ordering::Release);
    };
    loop {
        // Waits until something is due: the journal is full, a `committed` caller waits, or
        // the oldest receipt has waited `LMDB_LAG`.
        let Ok(st) = queue.lock() else {
            return poisoned();
        };
        let mut st = queue
            .wait_due(
                st,
                |st| {
                    st.journaled >= JOURNAL_CLEAR_AT
                        || st.work.as_ref().is_some_and(|w| !w.committed.0.is_empty())
                },
                |oldest| LMDB_LAG.saturating_sub(oldest.elapsed()),
            )
            .unwrap_or_else(|e| e.into_inner());
        let clear = st.journaled >= JOURNAL_CLEAR_AT;
        if !clear {
            let work = st.work.take();
            st.due.taken();
            drop(st);
            if let Some(work) = work {
                commit(work);
            }
            continue;
        }
        drop(st);
        // Under the journal lock nothing more is journaled, and everything journaled is in the
        // queue (it is pushed under that lock): once that is committed, LMDB holds the whole
        // journal and it can be emptied.
        let Ok(mut j) = journal.lock() else {
            return poisoned();
        };
        let Ok(mut st) = queue.lock() else {
            return poisoned();
        };
        let work = st.work.take();
        st.due.taken();
        st.journaled = 0;
        drop(st);
        if work.is_none_or(&commit) {
            if let Err(e) = j.clear() {
                tracing::warn!(error = %e, "cannot empty the receipt journal; it is replayed harmlessly at the next start");
            }
        }
    }
}

/// Commits `work` to LMDB; false when it could not (the store is then failed: fail closed).
pub(super) fn commit_to_lmdb(
    store: &ReceiptStore,
    work: ToCommit,
    failed: &AtomicBool,
    stats: &WriterStats,
) -> bool {
    let ToCommit {
        records,
        head,
        committed: _committed,
    } = work;
    if records.is_empty() {
        return true;
    }
    if failed.load(Ordering::Acquire) {
        return false;
    }
    match store.append(&records, &head) {
        Ok(()) => {
            stats
                .receipts
                .fetch_add(records.len() as u64, Ordering::Relaxed);
            stats.commits.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(e) => {
            if matches!(e, StoreError::Lmdb(::lmdb::Error::MapFull)) {
                stats.store_full.store(true, Ordering::Release);
                tracing::error!(receipts = records.len(), "the receipt store is full ([receipts] max_size_mb); every action will be denied until it is archived or pruned ([retention]) and aarmor restarted");
            }
            tracing::error!(error = %e, receipts = records.len(), "cannot commit receipts; the receipt store is now unavailable and every action will be denied");
            stats.failures.fetch_add(1, Ordering::Relaxed);
            failed.store(true, Ordering::Release);
            false
        }
    }
}
