//! Strict durability: the journal stage. A verdict is released once its receipt is in the
//! journal (one `fdatasync` per batch); the journal is recovered into LMDB at start.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aarmor_core::Receipt;

use crate::receipts::journal::Journal;
use crate::receipts::reader::Unstored;
use crate::receipts::store::{Head, ReceiptStore, StoreError};

use super::*;
use crate::group_commit::GroupCommitter;

/// Where signed receipts go to become durable.
pub(super) enum Sink {
    /// Batched: batches go to the committer thread, which commits them to LMDB.
    Batched(SyncSender<Batch>),
    /// Strict: the journal, written by whoever finds it idle, else by the journal thread.
    Strict(Arc<JournalStage>),
}

/// Strict mode's journal stage: the journal, the thread that writes it when a caller could not,
/// and the hand-over to the LMDB stage.
pub(super) struct JournalStage {
    pub(super) journal: Arc<Mutex<Journal>>,
    /// Wakes the journal thread: receipts are pending and the journal was busy.
    pub(super) kick: SyncSender<()>,
    pub(super) lmdb: Arc<LmdbQueue>,
    pub(super) failed: Arc<AtomicBool>,
    pub(super) stats: Arc<WriterStats>,
    /// Strict verdicts signed and not yet released.
    pub(super) waiting: AtomicUsize,
    /// How many verdicts the last journal write released.
    pub(super) last_batch: AtomicUsize,
    /// What is journaled and not yet in LMDB, for readers.
    pub(super) unstored: Arc<Unstored>,
}

impl JournalStage {
    /// Writes what is pending now on the caller's thread (one sync, no wake-up in between) when
    /// the caller is alone: the journal idle, no other verdict waiting, and the last write
    /// released one verdict. Otherwise — concurrent verdicts, where a caller that blocked for a
    /// sync would hold up the tasks queued behind it on its thread and keep batches small —
    /// the journal thread writes everything that piles up, one sync per batch.
    pub(super) fn commit_or_kick(&self, signer: &GroupCommitter<Signer>) {
        let alone = self.waiting.load(Ordering::Acquire) <= 1
            && self.last_batch.load(Ordering::Relaxed) <= 1;
        if !alone {
            return self.kick(signer);
        }
        match self.journal.try_lock() {
            Ok(mut journal) => self.commit_pending(&mut journal, signer),
            Err(std::sync::TryLockError::WouldBlock) => self.kick(signer),
            Err(std::sync::TryLockError::Poisoned(_)) => {
                self.fail_pending(signer, WriteRefusal::JournalPoisoned)
            }
        }
    }

    pub(super) fn kick(&self, signer: &GroupCommitter<Signer>) {
        if let Err(TrySendError::Disconnected(())) = self.kick.try_send(()) {
            self.fail_pending(signer, WriteRefusal::JournalThreadStopped);
        }
        // `Full`: a wake-up is already queued and will take everything pending.
    }

    /// Fails closed: no receipt is written any more, and every waiting verdict is refused.
    pub(super) fn fail_pending(&self, signer: &GroupCommitter<Signer>, why: WriteRefusal) {
        self.failed.store(true, Ordering::Release);
        if let Some(batch) = signer.lock().ok().and_then(|mut s| s.hand_over()) {
            answer(batch.strict_acks, Err(why));
        }
    }

    /// Takes everything pending from the signer (under the journal lock, so batches reach the
    /// journal in `seq` order), appends it with one sync, releases its verdicts and hands it
    /// to the LMDB stage.
    pub(super) fn commit_pending(&self, journal: &mut Journal, signer: &GroupCommitter<Signer>) {
        let batch = match signer.lock() {
            Ok(mut s) => s.hand_over(),
            Err(_) => {
                self.failed.store(true, Ordering::Release);
                return;
            }
        };
        let Some(Batch {
            records,
            head,
            strict_acks,
            committed,
        }) = batch
        else {
            return;
        };
        let committed = CommittedGuard(committed);
        if self.failed.load(Ordering::Acquire) {
            answer(strict_acks, Err(WriteRefusal::EarlierFailure));
            return;
        }
        if !records.is_empty() {
            let started = Instant::now();
            let written = journal.append(records.iter().map(|(_, _, b)| b.as_slice()));
            self.stats.note_commit(started.elapsed());
            if let Err(e) = written {
                tracing::error!(error = %e, receipts = records.len(), "cannot write the receipt journal; the receipt store is now unavailable and every action will be denied");
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                self.failed.store(true, Ordering::Release);
                answer(
                    strict_acks,
                    Err(WriteRefusal::JournalWrite(std::sync::Arc::new(e))),
                );
                return;
            }
        }
        self.last_batch.store(strict_acks.len(), Ordering::Relaxed);
        self.unstored.add(&records);
        answer(strict_acks, Ok(()));
        let work = ToCommit {
            records,
            head,
            committed,
        };
        if !self.lmdb.push(work, journal.len()) {
            self.failed.store(true, Ordering::Release);
        }
    }
}

/// One strict verdict waiting for its sync, counted in `JournalStage::waiting` while it lives.
pub(super) struct Waiting<'a>(&'a JournalStage);

impl<'a> Waiting<'a> {
    pub(super) fn new(stage: &'a JournalStage) -> Self {
        stage.waiting.fetch_add(1, Ordering::AcqRel);
        Self(stage)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Commits to LMDB the journaled receipts it does not have yet (a crash came between the two
/// writes of a strict commit): they were acknowledged, so they are kept. They must continue the
/// store's chain exactly; anything else is refused.
pub(super) fn recover(
    store: &ReceiptStore,
    mut journal: Journal,
    journaled: Vec<Vec<u8>>,
    mut head: Head,
) -> Result<(Head, Journal), StoreError> {
    let mut missing = Vec::new();
    for bytes in journaled {
        let r: Receipt = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("receipt journal: {e}")))?;
        if r.seq <= head.seq {
            continue;
        }
        if r.seq != head.seq + 1 || r.prev_hash != head.hash {
            return Err(StoreError::Corrupt(format!(
                "receipt journal {}: receipt seq {} does not continue the store's chain (head seq {}); move the journal aside to start",
                journal.file_path().display(),
                r.seq,
                head.seq
            )));
        }
        let hash = r
            .chain_hash()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        head = Head { seq: r.seq, hash };
        missing.push((r.seq, r.receipt_id.clone(), bytes));
    }
    if !missing.is_empty() {
        store.append(&missing, &head)?;
        tracing::warn!(
            receipts = missing.len(),
            "receipts acknowledged before a crash were recovered from the journal"
        );
    }
    journal.clear().map_err(StoreError::Journal)?;
    Ok((head, journal))
}

/// Releases the verdicts waiting on these receipts, with the same result for all.
pub(super) fn answer(acks: impl IntoIterator<Item = StrictAck>, result: Result<(), WriteRefusal>) {
    for (ack, _) in acks {
        let _ = ack.send(result.clone());
    }
}

/// Strict mode's journal thread: writes what piled up while the journal was busy.
pub(super) fn journal_loop(
    stage: Arc<JournalStage>,
    signer: Arc<GroupCommitter<Signer>>,
    kicks: mpsc::Receiver<()>,
) {
    while kicks.recv().is_ok() {
        match stage.journal.lock() {
            Ok(mut journal) => stage.commit_pending(&mut journal, &signer),
            Err(_) => {
                stage.fail_pending(&signer, WriteRefusal::JournalPoisoned);
                return;
            }
        }
    }
}
