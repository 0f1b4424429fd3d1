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

use aarmor_core::receipt_records::{Approval, Deferral, Execution, Recorded};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use aarmor_core::canonical::canonical_value;
use aarmor_core::receipt::{sha256_tagged, ReceiptContext, GENESIS_HASH, RECEIPT_VERSION};
use aarmor_core::{Action, Receipt, ReceiptDecision, ReceiptKind};
use serde_json::Value;
use tokio::sync::oneshot;

use super::journal::Journal;
use super::keys::KeyRing;
use super::reader::Unstored;
use super::store::{Head, ReceiptStore, StoreError};

const MAX_BATCH: usize = 4096;
/// In strict mode, how long a deferred record may wait for the next commit.
const DEFERRED_WINDOW: Duration = Duration::from_millis(10);
const QUEUE: usize = 65_536;

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
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub receipts: AtomicU64,
    pub commits: AtomicU64,
    pub failures: AtomicU64,
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
                Some(micros(crate::commit_pace::decayed_max(old, took)))
            });
    }

    fn recent_commit(&self) -> Duration {
        Duration::from_micros(self.recent_commit_us.load(Ordering::Relaxed))
    }
}

/// A verdict waiting for its receipt (by `seq`) to be durable.
type StrictAck = (oneshot::Sender<Result<(), String>>, u64);

/// A batch handed to the committer.
struct Batch {
    records: Vec<(u64, String, Vec<u8>)>,
    head: Head,
    strict_acks: Vec<StrictAck>,
    /// Answered once everything up to this batch is in LMDB (or the store failed).
    committed: Vec<oneshot::Sender<()>>,
}

/// The chain head and the receipts signed since the last hand-over. Guarded by one mutex: the
/// caller signs under it, so numbering, chaining and signing happen in one order.
struct Signer {
    keys: KeyRing,
    head: Head,
    batch: Vec<(u64, String, Vec<u8>)>,
    strict_acks: Vec<StrictAck>,
    /// `committed` callers waiting for everything signed so far to be in LMDB.
    committed: Vec<oneshot::Sender<()>>,
    /// When the oldest receipt of `batch` was signed.
    oldest: Option<Instant>,
    /// The flush thread waits on `ReceiptLog::flush` for a first pending receipt.
    flusher_idle: bool,
}

/// What a receipt records of its evaluation context, computed before the signer is locked.
struct ContextDigest {
    hash: String,
    session: Option<String>,
    intent: Option<Value>,
}

impl ContextDigest {
    fn of(context: &Value) -> Self {
        Self {
            hash: canonical_value(context)
                .map(|b| sha256_tagged(&b))
                .unwrap_or_else(|_| sha256_tagged(b"null")),
            session: context
                .pointer("/context/session")
                .and_then(Value::as_str)
                .map(str::to_string),
            intent: context
                .get("intent")
                .filter(|i| i.as_object().is_some_and(|o| !o.is_empty()))
                .cloned(),
        }
    }
}

impl Signer {
    fn seal(&mut self, draft: ReceiptDraft, digest: ContextDigest) -> Result<Receipt, String> {
        let ReceiptDraft {
            kind,
            follows,
            action,
            context: _,
            decision,
            modification,
            approval,
            deferral,
            execution,
        } = draft;
        // Large values and header values by hash (see `aarmor_core::elide`).
        let limits = aarmor_core::elide::ElisionLimits::default();
        let action = aarmor_core::elide::receipt_view(&action, limits);
        let modification = modification.map(|m| aarmor_core::elide::elide_value(&m, limits).0);
        let seq = self.head.seq + 1;
        let mut receipt = Receipt {
            receipt_id: aarmor_core::ids::next_id("rct"),
            version: RECEIPT_VERSION.into(),
            seq,
            timestamp: aarmor_core::timestamp::now_rfc3339_millis(),
            kind,
            follows,
            action,
            context: ReceiptContext {
                context_hash: digest.hash,
                session: digest.session,
                intent: digest.intent,
            },
            decision,
            modification,
            approval,
            deferral,
            execution,
            prev_hash: self.head.hash.clone(),
            signature: None,
        };
        let (hash, bytes) = receipt
            .seal(&self.keys.signing, &self.keys.key_id)
            .map_err(|e| e.to_string())?;
        self.head = Head { seq, hash };
        self.batch.push((seq, receipt.receipt_id.clone(), bytes));
        self.oldest.get_or_insert_with(Instant::now);
        Ok(receipt)
    }

    /// True when the flush thread sleeps waiting for work and must be woken now that a receipt
    /// was signed (it is then counted as awake).
    fn wake_flusher(&mut self) -> bool {
        std::mem::take(&mut self.flusher_idle)
    }

    /// Everything pending: receipts, the verdicts and the `committed` callers waiting on them.
    fn hand_over(&mut self) -> Option<Batch> {
        if self.batch.is_empty() && self.committed.is_empty() {
            return None;
        }
        self.oldest = None;
        Some(Batch {
            records: std::mem::take(&mut self.batch),
            head: self.head.clone(),
            strict_acks: std::mem::take(&mut self.strict_acks),
            committed: std::mem::take(&mut self.committed),
        })
    }
}

/// Where signed receipts go to become durable.
enum Sink {
    /// Batched: batches go to the committer thread, which commits them to LMDB.
    Batched(SyncSender<Batch>),
    /// Strict: the journal, written by whoever finds it idle, else by the journal thread.
    Strict(Arc<JournalStage>),
}

/// Strict mode's journal stage: the journal, the thread that writes it when a caller could not,
/// and the hand-over to the LMDB stage.
struct JournalStage {
    journal: Arc<Mutex<Journal>>,
    /// Wakes the journal thread: receipts are pending and the journal was busy.
    kick: SyncSender<()>,
    lmdb: Arc<LmdbQueue>,
    failed: Arc<AtomicBool>,
    stats: Arc<WriterStats>,
    /// Strict verdicts signed and not yet released.
    waiting: AtomicUsize,
    /// How many verdicts the last journal write released.
    last_batch: AtomicUsize,
    /// What is journaled and not yet in LMDB, for readers.
    unstored: Arc<Unstored>,
}

impl JournalStage {
    /// Writes what is pending now on the caller's thread (one sync, no wake-up in between) when
    /// the caller is alone: the journal idle, no other verdict waiting, and the last write
    /// released one verdict. Otherwise — concurrent verdicts, where a caller that blocked for a
    /// sync would hold up the tasks queued behind it on its thread and keep batches small —
    /// the journal thread writes everything that piles up, one sync per batch.
    fn commit_or_kick(&self, signer: &Mutex<Signer>) {
        let alone = self.waiting.load(Ordering::Acquire) <= 1
            && self.last_batch.load(Ordering::Relaxed) <= 1;
        if !alone {
            return self.kick(signer);
        }
        match self.journal.try_lock() {
            Ok(mut journal) => self.commit_pending(&mut journal, signer),
            Err(std::sync::TryLockError::WouldBlock) => self.kick(signer),
            Err(std::sync::TryLockError::Poisoned(_)) => {
                self.fail_pending(signer, "journal lock poisoned")
            }
        }
    }

    fn kick(&self, signer: &Mutex<Signer>) {
        if let Err(TrySendError::Disconnected(())) = self.kick.try_send(()) {
            self.fail_pending(signer, "the receipt journal thread stopped");
        }
        // `Full`: a wake-up is already queued and will take everything pending.
    }

    /// Fails closed: no receipt is written any more, and every waiting verdict is refused.
    fn fail_pending(&self, signer: &Mutex<Signer>, why: &str) {
        self.failed.store(true, Ordering::Release);
        if let Some(batch) = signer.lock().ok().and_then(|mut s| s.hand_over()) {
            answer(batch.strict_acks, Err(why.to_string()));
        }
    }

    /// Takes everything pending from the signer (under the journal lock, so batches reach the
    /// journal in `seq` order), appends it with one sync, releases its verdicts and hands it
    /// to the LMDB stage.
    fn commit_pending(&self, journal: &mut Journal, signer: &Mutex<Signer>) {
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
            answer(strict_acks, Err("receipt store unavailable".into()));
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
                answer(strict_acks, Err(format!("journal write failed: {e}")));
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

/// Handle to the receipt log; cheap to clone.
#[derive(Clone)]
pub struct ReceiptLog {
    signer: Arc<Mutex<Signer>>,
    /// Wakes the flush thread (paired with `signer`).
    flush: Arc<Condvar>,
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
        .map_err(|e| StoreError::Unavailable(format!("cannot start thread {name}: {e}")))
}

impl ReceiptLog {
    pub fn start(
        store: ReceiptStore,
        keys: KeyRing,
        durability: Durability,
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
        let unstored = Arc::new(Unstored::default());
        let reader = super::reader::ReceiptReader::new(
            store.clone(),
            unstored.clone(),
            keys.verifying_keys(),
        );
        let signer = Arc::new(Mutex::new(Signer {
            keys,
            head,
            batch: Vec::new(),
            strict_acks: Vec::new(),
            committed: Vec::new(),
            oldest: None,
            flusher_idle: false,
        }));
        let failed = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(WriterStats::default());
        let sink = match durability {
            Durability::Strict => {
                let journal = Arc::new(Mutex::new(journal));
                let lmdb = Arc::new(LmdbQueue::default());
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
        let flush = Arc::new(Condvar::new());
        {
            let (signer, flush, sink, failed, stats) = (
                signer.clone(),
                flush.clone(),
                sink.clone(),
                failed.clone(),
                stats.clone(),
            );
            spawn("aarmor-receipts-flush", move || {
                flush_loop(&signer, &flush, &sink, &failed, &stats, window)
            })?;
        }
        Ok(Self {
            signer,
            flush,
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
            return Err(StoreError::Unavailable("an earlier commit failed".into()));
        }
        // Canonicalizing the context is the costly part: done before taking the lock.
        let digest = ContextDigest::of(&draft.context);
        let (receipt, wait, full) = {
            let mut signer = self
                .signer
                .lock()
                .map_err(|_| StoreError::Unavailable("the signer failed".into()))?;
            let receipt = signer
                .seal(draft, digest)
                .map_err(StoreError::Unavailable)?;
            if signer.wake_flusher() {
                self.flush.notify_one();
            }
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
                return Err(StoreError::Unavailable(
                    "the receipt committer is not keeping up or stopped".into(),
                ));
            }
            _ => {}
        }
        if let Some(wait) = wait {
            match wait.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(StoreError::Unavailable(e)),
                Err(_) => return Err(StoreError::Unavailable("the committer stopped".into())),
            }
        }
        Ok(receipt)
    }
}

/// One strict verdict waiting for its sync, counted in `JournalStage::waiting` while it lives.
struct Waiting<'a>(&'a JournalStage);

impl<'a> Waiting<'a> {
    fn new(stage: &'a JournalStage) -> Self {
        stage.waiting.fetch_add(1, Ordering::AcqRel);
        Self(stage)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Sends everything pending on its way: batched, to the committer thread; strict, by waking the
/// journal thread (which takes it under the journal lock). False once the writer has failed.
fn hand_over_and_send(signer: &Mutex<Signer>, sink: &Sink, failed: &AtomicBool) -> bool {
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
/// Commits to LMDB the journaled receipts it does not have yet (a crash came between the two
/// writes of a strict commit): they were acknowledged, so they are kept. They must continue the
/// store's chain exactly; anything else is refused.
fn recover(
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
    journal
        .clear()
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok((head, journal))
}

/// Releases the verdicts waiting on these receipts, with the same result for all.
fn answer(acks: impl IntoIterator<Item = StrictAck>, result: Result<(), String>) {
    for (ack, _) in acks {
        let _ = ack.send(result.clone());
    }
}

/// Answers `committed` waiters when dropped (after the LMDB commit, or when it is skipped).
struct CommittedGuard(Vec<oneshot::Sender<()>>);

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
struct ToCommit {
    records: Vec<(u64, String, Vec<u8>)>,
    head: Head,
    committed: CommittedGuard,
}

/// Once the journal has grown past this, LMDB is brought up to date and the journal emptied.
const JOURNAL_CLEAR_AT: u64 = 1024 * 1024;
/// In strict mode, the longest a journaled receipt waits for its LMDB commit.
const LMDB_LAG: Duration = Duration::from_secs(1);

/// Strict mode's journal thread: writes what piled up while the journal was busy.
fn journal_loop(stage: Arc<JournalStage>, signer: Arc<Mutex<Signer>>, kicks: mpsc::Receiver<()>) {
    while kicks.recv().is_ok() {
        match stage.journal.lock() {
            Ok(mut journal) => stage.commit_pending(&mut journal, &signer),
            Err(_) => {
                stage.fail_pending(&signer, "journal lock poisoned");
                return;
            }
        }
    }
}

/// The flush thread: sleeps while nothing is pending (an appender that signs the first pending
/// receipt wakes it through `flush`), then until the oldest pending receipt is due — `window`
/// after it was signed, less the [`crate::commit_pace::lead`] its commit needs — and hands
/// everything pending over. A receipt handed over meanwhile by a full batch, a strict commit or
/// `committed` only moves the next deadline. Ends when the signer is poisoned or the writer
/// has failed.
fn flush_loop(
    signer: &Mutex<Signer>,
    flush: &Condvar,
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
        let Some(oldest) = s.oldest else {
            s.flusher_idle = true;
            s = match flush.wait(s) {
                Ok(s) => s,
                Err(_) => return,
            };
            s.flusher_idle = false;
            continue;
        };
        let lead = crate::commit_pace::lead(window, stats.recent_commit());
        let left = if handed_over == Some(oldest) {
            let first = (lead / 4).max(Duration::from_micros(100));
            recheck = (recheck * 2).max(first).min(window / 2);
            recheck
        } else {
            recheck = Duration::ZERO;
            (oldest + window.saturating_sub(lead)).saturating_duration_since(Instant::now())
        };
        drop(s);
        if left.is_zero() {
            if !hand_over_and_send(signer, sink, failed) {
                return;
            }
            handed_over = Some(oldest);
        } else {
            std::thread::sleep(left);
        }
        s = match signer.lock() {
            Ok(s) => s,
            Err(_) => return,
        };
    }
}

/// Batched mode's committer: merges whatever batches are pending into one LMDB commit.
fn batched_loop(
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

/// What the journal stage hands to the LMDB stage, and when that stage is due to act.
#[derive(Default)]
struct LmdbQueue {
    state: Mutex<LmdbPending>,
    due: std::sync::Condvar,
}

#[derive(Default)]
struct LmdbPending {
    work: Option<ToCommit>,
    /// When the oldest receipt of `work` arrived.
    oldest: Option<Instant>,
    /// The journal's length when `work` was last added to (bytes since it was last emptied).
    journaled: u64,
}

impl LmdbQueue {
    /// Adds journaled receipts (called under the journal lock, so in journal order), with the
    /// journal's length after them. Wakes the LMDB stage only when it has something to do now:
    /// the journal is due to be emptied, or a `committed` caller waits; otherwise it wakes at
    /// its own deadline. False if the queue is unusable (a thread panicked holding it).
    fn push(&self, mut more: ToCommit, journal_len: u64) -> bool {
        let Ok(mut st) = self.state.lock() else {
            return false;
        };
        st.journaled = journal_len;
        if !more.records.is_empty() {
            st.oldest.get_or_insert_with(Instant::now);
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
            self.due.notify_one();
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
fn lmdb_loop(
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
        let Ok(mut st) = queue.state.lock() else {
            return poisoned();
        };
        let clear = loop {
            let waiters = st.work.as_ref().is_some_and(|w| !w.committed.0.is_empty());
            if st.journaled >= JOURNAL_CLEAR_AT {
                break true;
            }
            let left = st.oldest.map(|t| LMDB_LAG.saturating_sub(t.elapsed()));
            if waiters || left == Some(Duration::ZERO) {
                break false;
            }
            st = match left {
                None => queue.due.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(left) => match queue.due.wait_timeout(st, left) {
                    Ok((g, _)) => g,
                    Err(e) => e.into_inner().0,
                },
            };
        };
        if !clear {
            let work = st.work.take();
            st.oldest = None;
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
        let Ok(mut st) = queue.state.lock() else {
            return poisoned();
        };
        let work = st.work.take();
        st.oldest = None;
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
fn commit_to_lmdb(
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
            tracing::error!(error = %e, receipts = records.len(), "cannot commit receipts; the receipt store is now unavailable and every action will be denied");
            stats.failures.fetch_add(1, Ordering::Relaxed);
            failed.store(true, Ordering::Release);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aarmor_core::receipt::{verify_chain, PolicyRef};
    use aarmor_core::{ActionId, ActionTarget, Decision, Identity, Protocol};

    use super::*;

    fn draft(n: u64) -> ReceiptDraft {
        ReceiptDraft {
            kind: ReceiptKind::Decision,
            follows: None,
            action: Action {
                envelope: Default::default(),
                action_id: ActionId(format!("act_{n:020x}")),
                timestamp: "2026-11-23T10:00:00.000Z".into(),
                protocol: Protocol::Rest,
                target: ActionTarget {
                    host: "h".into(),
                    port: 443,
                    method: "POST".into(),
                    path: "/".into(),
                },
                tool: "h/".into(),
                operation: "post".into(),
                parameters: serde_json::Map::new(),
                identity: Identity::default(),
                context_ref: None,
                risk_signals: vec![],
            },
            context: serde_json::json!({}),
            decision: ReceiptDecision {
                result: Decision::Allow,
                class: None,
                rule: None,
                reason: "default".into(),
                enforced: true,
                policy: PolicyRef {
                    policy_id: "p".into(),
                    version: "1".into(),
                    hash: "sha256:00".into(),
                },
            },
            modification: None,
            approval: None,
            deferral: None,
            execution: None,
        }
    }

    fn all(store_dir: &std::path::Path) -> Vec<Receipt> {
        let store = ReceiptStore::open(store_dir, 1 << 24).unwrap();
        store
            .scan(1, usize::MAX)
            .unwrap()
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_form_one_verifiable_chain_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = dir.path().join("receipts");
        for (round, durability) in [
            Durability::Strict,
            Durability::Batched {
                window: Duration::from_millis(5),
            },
        ]
        .into_iter()
        .enumerate()
        {
            let (keys, _) = KeyRing::load_or_create(dir.path()).unwrap();
            let log = ReceiptLog::start(
                ReceiptStore::open(&store_dir, 1 << 24).unwrap(),
                keys,
                durability,
            )
            .unwrap();
            let mut tasks = Vec::new();
            for n in 0..200 {
                let log = log.clone();
                tasks.push(tokio::spawn(async move { log.append(draft(n)).await }));
            }
            for t in tasks {
                t.await.unwrap().unwrap();
            }
            if round == 1 {
                // Batched: give the window time to commit before reading.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            log.committed().await;
            assert!(
                log.stats.commits.load(Ordering::Relaxed) < 200,
                "receipts are group-committed"
            );
            drop(log);
        }
        let receipts = all(&store_dir);
        assert_eq!(receipts.len(), 400);
        let keys: HashMap<_, _> = KeyRing::load(dir.path()).unwrap().verifying_keys();
        assert_eq!(verify_chain(&receipts, &keys, Some(GENESIS_HASH)), vec![]);
        let store = ReceiptStore::open(&store_dir, 1 << 24).unwrap();
        let r = store.get(&receipts[17].receipt_id).unwrap().unwrap();
        assert_eq!(r, receipts[17]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lone_receipt_is_written_by_the_idle_flush_thread() {
        for durability in [
            Durability::Batched {
                window: Duration::from_millis(20),
            },
            Durability::Strict,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let (keys, _) = KeyRing::load_or_create(dir.path()).unwrap();
            let log = ReceiptLog::start(
                ReceiptStore::open(&dir.path().join("receipts"), 1 << 24).unwrap(),
                keys,
                durability,
            )
            .unwrap();
            let reader = log.reader();
            // Twice: the flush thread goes back to waiting after the first, and must be woken
            // again by the second. Nothing else (no further append, no `committed`) writes them.
            for n in 0..2 {
                let receipt = match durability {
                    Durability::Strict => log.append_deferred(draft(n)).await,
                    Durability::Batched { .. } => log.append(draft(n)).await,
                }
                .unwrap();
                let mut written = false;
                for _ in 0..500 {
                    if reader.get(&receipt.receipt_id).unwrap().is_some() {
                        written = true;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                assert!(written, "{durability:?}: receipt {n} was never written");
            }
        }
    }

    #[test]
    fn the_writer_keeps_the_recent_commit_time() {
        let stats = WriterStats::default();
        stats.note_commit(Duration::from_micros(800));
        assert_eq!(stats.recent_commit(), Duration::from_micros(800));
        stats.note_commit(Duration::from_micros(100));
        assert_eq!(stats.recent_commit(), Duration::from_micros(700));
        stats.note_commit(Duration::from_millis(3));
        assert_eq!(stats.recent_commit(), Duration::from_millis(3));
    }

    #[tokio::test]
    async fn acknowledged_strict_receipts_survive_a_failed_lmdb_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = dir.path().join("receipts");
        let (keys, _) = KeyRing::load_or_create(dir.path()).unwrap();
        // A store that fills up: the commit that fails comes after its receipts were journaled
        // and acknowledged.
        let log = ReceiptLog::start(
            ReceiptStore::open(&store_dir, 64 * 1024).unwrap(),
            keys,
            Durability::Strict,
        )
        .unwrap();
        let mut acknowledged: u64 = 0;
        for n in 0..400 {
            match log.append(draft(n)).await {
                Ok(_) => acknowledged += 1,
                Err(_) => break,
            }
        }
        // LMDB commits lag behind the journal; bring it up to date: the commit fails.
        log.committed().await;
        assert!(
            log.append(draft(400)).await.is_err(),
            "a failed store refuses further receipts"
        );
        assert!(acknowledged > 0);
        drop(log);
        // Restarted with room: the journal gives the acknowledged receipt back to the store.
        let (keys, _) = KeyRing::load_or_create(dir.path()).unwrap();
        let log = ReceiptLog::start(
            ReceiptStore::open(&store_dir, 1 << 24).unwrap(),
            keys,
            Durability::Strict,
        )
        .unwrap();
        let next = log.append(draft(999)).await.unwrap();
        assert_eq!(next.seq, acknowledged + 1);
        log.committed().await;
        drop(log);
        let receipts = all(&store_dir);
        assert_eq!(receipts.len() as u64, acknowledged + 1);
        let keys: HashMap<_, _> = KeyRing::load(dir.path()).unwrap().verifying_keys();
        assert_eq!(verify_chain(&receipts, &keys, Some(GENESIS_HASH)), vec![]);
        assert_eq!(
            Journal::read(&store_dir).unwrap().len(),
            1,
            "recovered receipts leave the journal; it holds the newest one only"
        );
    }

    #[tokio::test]
    async fn a_full_store_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, _) = KeyRing::load_or_create(dir.path()).unwrap();
        // A tiny map: it fills up after a few receipts.
        let log = ReceiptLog::start(
            ReceiptStore::open(&dir.path().join("receipts"), 64 * 1024).unwrap(),
            keys,
            Durability::Strict,
        )
        .unwrap();
        let mut failures = 0;
        for n in 0..400 {
            if log.append(draft(n)).await.is_err() {
                failures += 1;
            }
            if n % 50 == 49 {
                // LMDB commits lag behind the journal: make them happen.
                log.committed().await;
            }
        }
        assert!(failures > 0, "the store must fill up");
        assert!(
            log.append(draft(999)).await.is_err(),
            "once failed, it stays failed"
        );
    }

    #[tokio::test]
    async fn readers_see_strict_receipts_before_and_after_their_lmdb_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, _) = KeyRing::load_or_create(dir.path()).unwrap();
        let log = ReceiptLog::start(
            ReceiptStore::open(&dir.path().join("receipts"), 1 << 24).unwrap(),
            keys,
            Durability::Strict,
        )
        .unwrap();
        let reader = log.reader();
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push(log.append(draft(n)).await.unwrap().receipt_id);
        }
        for _ in 0..2 {
            let found: Vec<String> = reader
                .search("", 10)
                .unwrap()
                .into_iter()
                .map(|r| r.receipt_id)
                .collect();
            assert_eq!(found, ids.iter().rev().cloned().collect::<Vec<_>>());
            for id in &ids {
                assert_eq!(reader.get(id).unwrap().unwrap().receipt_id, *id);
                let v = reader.verify(id).unwrap().unwrap();
                assert!(v.ok, "{:?}", v.problems);
            }
            // The second round reads them from LMDB.
            log.committed().await;
        }
        assert_eq!(log.stats.receipts.load(Ordering::Relaxed), 3);
    }
}
