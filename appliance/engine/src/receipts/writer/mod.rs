//! The single receipt writer: assigns `seq`, chains (`prev_hash`), signs, and group-commits.
//!
//! Receipts are numbered, chained and signed by the caller under one mutex (one order, no
//! hand-off to another thread on the decision path); everything signed and pending is written
//! together — one fsync per batch, never one per receipt — while callers go on signing.
//!
//! - `Durability::Strict`: `append` returns only once the receipt is on disk: the pending
//!   receipts are appended to the journal (one `fdatasync`, see [`super::journal`]), the waiting
//!   verdicts are released; the LMDB stage later commits them in large batches and empties
//!   the journal (see `lmdb_loop`).
//!   Whoever finds the journal idle writes it at once, on its own thread (group-commit leader:
//!   no wake-up of another thread between a verdict and its sync); when a sync is already under
//!   way, the journal thread writes everything that piled up meanwhile as soon as it ends.
//!   Batches are taken from the signer only under the journal lock, so they reach the journal
//!   in `seq` order.
//! - `Durability::Batched { window }`: `append` returns as soon as the receipt is signed; a
//!   receipt is committed within `window` of its signing. A crash loses at most the receipts of
//!   the last window (the documented loss bound). The flush thread that keeps this promise sleeps
//!   until the oldest pending receipt is due (see `flush_loop`), and does not wake at all while
//!   nothing is pending.
//!
//! After a failed commit the chain head is rolled back and the log refuses all further appends
//! (fail closed): the engine denies every action it cannot receipt.

use aarmor_core::receipt_records::{Approval, Checkpoint, Deferral, Execution, Recorded};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aarmor_core::receipt::GENESIS_HASH;
use aarmor_core::{Action, Receipt, ReceiptDecision, ReceiptKind};
use serde_json::Value;
use tokio::sync::oneshot;

use super::journal::Journal;
use super::keys::KeyRing;
use super::reader::Unstored;
use super::store::{Head, ReceiptStore, StoreError, WriteRefusal};
use crate::group_commit::{Due, GroupCommitter};

mod flush;
mod lmdb;
mod signer;
mod strict;
#[cfg(test)]
mod tests;

use flush::*;
use lmdb::*;
use signer::*;
use strict::*;

pub(super) const MAX_BATCH: usize = 4096;
/// In strict mode, how long a deferred record may wait for the next commit.
pub(super) const DEFERRED_WINDOW: Duration = Duration::from_millis(10);
pub(super) const QUEUE: usize = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Strict,
    Batched { window: Duration },
}

/// A receipt before it is numbered, chained and signed.
#[derive(Debug, Clone)]
pub struct ReceiptDraft {
    pub kind: ReceiptKind,
    pub follows: Option<String>,
    pub action: Action,
    /// The evaluation context; its canonical hash goes into the receipt.
    pub context: Value,
    pub decision: ReceiptDecision,
    pub modification: Option<Value>,
    pub approval: Option<Recorded<Approval>>,
    pub deferral: Option<Recorded<Deferral>>,
    pub execution: Option<Recorded<Execution>>,
    pub checkpoint: Option<Recorded<Checkpoint>>,
}

impl ReceiptDraft {
    /// A draft of `kind` recording `decision` on `action` and nothing more: no `follows`,
    /// modification, approval, deferral, execution or checkpoint.
    pub fn new(
        kind: ReceiptKind,
        action: Action,
        context: Value,
        decision: ReceiptDecision,
    ) -> Self {
        Self {
            kind,
            follows: None,
            action,
            context,
            decision,
            modification: None,
            approval: None,
            deferral: None,
            execution: None,
            checkpoint: None,
        }
    }
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub receipts: AtomicU64,
    pub commits: AtomicU64,
    pub failures: AtomicU64,
    /// A commit failed because the store is full (`max_size_mb`): what refusals say.
    pub store_full: AtomicBool,
    /// How long commits take lately, in µs: the longest recent one, decaying by an eighth per
    /// commit. The flush thread hands a batch over that much earlier (twice that, bounded).
    recent_commit_us: AtomicU64,
}

impl WriterStats {
    fn note_commit(&self, took: Duration) {
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let _ = self
            .recent_commit_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                let old = Duration::from_micros(old);
                Some(micros(crate::group_commit::decayed_max(old, took)))
            });
    }

    fn recent_commit(&self) -> Duration {
        Duration::from_micros(self.recent_commit_us.load(Ordering::Relaxed))
    }
}

/// Handle to the receipt log; cheap to clone.
#[derive(Clone)]
pub struct ReceiptLog {
    signer: Arc<GroupCommitter<Signer>>,
    store: Arc<ReceiptStore>,
    reader: super::reader::ReceiptReader,
    sink: Arc<Sink>,
    failed: Arc<AtomicBool>,
    pub stats: Arc<WriterStats>,
    durability: Durability,
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), StoreError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
        .map_err(|source| StoreError::Spawn {
            name: name.to_string(),
            source,
        })
}

impl ReceiptLog {
    /// Starts the writer with the default [`aarmor_core::elide::ElisionLimits`].
    pub fn start(
        store: ReceiptStore,
        keys: KeyRing,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        Self::start_with(store, keys, durability, Default::default())
    }

    /// Starts the writer; receipts keep parameters as they are within `limits`.
    pub fn start_with(
        store: ReceiptStore,
        keys: KeyRing,
        durability: Durability,
        limits: aarmor_core::elide::ElisionLimits,
    ) -> Result<Self, StoreError> {
        let journal_err = |e: std::io::Error| StoreError::Open {
            path: Journal::path(store.path()),
            message: e.to_string(),
        };
        let (journal, journaled) = Journal::open(store.path()).map_err(journal_err)?;
        let head = store.head()?.unwrap_or(Head {
            seq: 0,
            hash: GENESIS_HASH.to_string(),
        });
        let (head, mut journal) = recover(&store, journal, journaled, head)?;
        match durability {
            Durability::Strict => journal.preallocate().map_err(journal_err)?,
            Durability::Batched { .. } => journal.discard().map_err(journal_err)?,
        }
        let store = Arc::new(store);
        let store_handle = store.clone();
        let unstored = Arc::new(Unstored::default());
        let reader = super::reader::ReceiptReader::new(
            store.clone(),
            unstored.clone(),
            keys.verifying_keys(),
        );
        let signer = Arc::new(GroupCommitter::new(Signer {
            keys,
            head,
            batch: Vec::new(),
            strict_acks: Vec::new(),
            committed: Vec::new(),
            due: Due::default(),
            limits,
        }));
        let failed = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(WriterStats::default());
        let sink = match durability {
            Durability::Strict => {
                let journal = Arc::new(Mutex::new(journal));
                let lmdb = Arc::new(LmdbQueue::new(LmdbPending::default()));
                let (q, j, u, f, st) = (
                    lmdb.clone(),
                    journal.clone(),
                    unstored.clone(),
                    failed.clone(),
                    stats.clone(),
                );
                spawn("aarmor-receipts-lmdb", move || {
                    lmdb_loop(store, j, u, q, f, st)
                })?;
                let (kick, kicks) = mpsc::sync_channel::<()>(1);
                let stage = Arc::new(JournalStage {
                    journal,
                    kick,
                    lmdb,
                    failed: failed.clone(),
                    stats: stats.clone(),
                    waiting: AtomicUsize::new(0),
                    last_batch: AtomicUsize::new(0),
                    unstored,
                });
                let (stage2, signer2) = (stage.clone(), signer.clone());
                spawn("aarmor-receipts", move || {
                    journal_loop(stage2, signer2, kicks)
                })?;
                Sink::Strict(stage)
            }
            Durability::Batched { .. } => {
                let (commits, rx) = mpsc::sync_channel::<Batch>(QUEUE);
                let (f, st) = (failed.clone(), stats.clone());
                spawn("aarmor-receipts", move || batched_loop(store, rx, f, st))?;
                Sink::Batched(commits)
            }
        };
        let sink = Arc::new(sink);
        // Writes whatever would otherwise wait longer than the window: batched receipts, and in
        // strict mode the deferred records (`append_deferred`) no verdict waits for.
        let window = match durability {
            Durability::Batched { window } => window,
            Durability::Strict => DEFERRED_WINDOW,
        };
        {
            let (signer, sink, failed, stats) =
                (signer.clone(), sink.clone(), failed.clone(), stats.clone());
            spawn("aarmor-receipts-flush", move || {
                flush_loop(&signer, &sink, &failed, &stats, window)
            })?;
        }
        Ok(Self {
            signer,
            store: store_handle,
            reader,
            sink,
            failed,
            stats,
            durability,
        })
    }

    /// Reads the store while the writer runs (the console's receipts view).
    pub fn reader(&self) -> super::reader::ReceiptReader {
        self.reader.clone()
    }

    /// The store itself, for retention (archiving and pruning what the writer committed).
    pub fn store(&self) -> Arc<ReceiptStore> {
        self.store.clone()
    }

    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Waits until every receipt appended so far is in LMDB (readers of the store see it), in
    /// either durability. For tests and orderly shutdown; verdicts never wait for this.
    pub async fn committed(&self) {
        let (tx, rx) = oneshot::channel();
        match self.signer.lock() {
            Ok(mut s) => s.committed.push(tx),
            Err(_) => return,
        }
        if hand_over_and_send(&self.signer, &self.sink, &self.failed) {
            let _ = rx.await;
        }
    }

    /// Why appends are refused once the writer failed.
    fn refusal(&self) -> WriteRefusal {
        if self.stats.store_full.load(Ordering::Acquire) {
            WriteRefusal::StoreFull
        } else {
            WriteRefusal::EarlierFailure
        }
    }

    /// Appends one receipt; see the module docs for when this returns.
    pub async fn append(&self, draft: ReceiptDraft) -> Result<Receipt, StoreError> {
        self.append_with(draft, false).await
    }

    /// Appends a record nothing waits for (an outcome): signed and chained at once, written
    /// with the next commit or within the batch window, without a commit of its own.
    pub async fn append_deferred(&self, draft: ReceiptDraft) -> Result<Receipt, StoreError> {
        self.append_with(draft, true).await
    }

    async fn append_with(
        &self,
        draft: ReceiptDraft,
        deferred: bool,
    ) -> Result<Receipt, StoreError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(self.refusal().into());
        }
        // Canonicalizing the context is the costly part: done before taking the lock.
        let digest = ContextDigest::of(&draft.context);
        let (receipt, wait, full) = {
            let mut signer = self
                .signer
                .lock()
                .map_err(|_| WriteRefusal::SignerPoisoned)?;
            let receipt = signer.seal(draft, digest)?;
            self.signer.arrived(&mut signer);
            let wait = match self.durability {
                Durability::Strict if !deferred => {
                    let (tx, rx) = oneshot::channel();
                    signer.strict_acks.push((tx, receipt.seq));
                    Some(rx)
                }
                _ => None,
            };
            (receipt, wait, signer.batch.len() >= MAX_BATCH)
        };
        // Counts a strict verdict among the waiting ones until it is released.
        let mut _waiting = None;
        match (&*self.sink, &wait) {
            // Strict: written now by this caller or by the journal thread (see `commit_or_kick`).
            (Sink::Strict(stage), Some(_)) => {
                _waiting = Some(Waiting::new(stage));
                stage.commit_or_kick(&self.signer);
            }
            _ if full && !hand_over_and_send(&self.signer, &self.sink, &self.failed) => {
                return Err(WriteRefusal::CommitterBehind.into());
            }
            _ => {}
        }
        if let Some(wait) = wait {
            match wait.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => return Err(WriteRefusal::CommitterStopped.into()),
            }
        }
        Ok(receipt)
    }
}
