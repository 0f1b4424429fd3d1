//! The single receipt writer: assigns `seq`, chains (`prev_hash`), signs, and group-commits.
//!
//! Receipts are numbered, chained and signed by the caller under one mutex (one order, no
//! hand-off to another thread on the decision path); a committer thread writes what is handed
//! over, merging everything pending into one LMDB transaction — one fsync per batch, never one
//! per receipt — while callers go on signing.
//!
//! - `Durability::Strict`: `append` returns only once the receipt is on disk: the committer
//!   appends the batch to the journal (one `fdatasync`, see [`super::journal`]), releases the
//!   waiting verdicts, then commits the batch to LMDB and empties the journal.
//! - `Durability::Batched { window }`: `append` returns as soon as the receipt is signed; the
//!   writer commits at least every `window`. A crash loses at most the receipts of the last
//!   window (the documented loss bound).
//!
//! After a failed commit the chain head is rolled back and the log refuses all further appends
//! (fail closed): the engine denies every action it cannot receipt.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aarmor_core::receipt::{
    canonical_json, sha256_tagged, ReceiptContext, GENESIS_HASH, RECEIPT_VERSION,
};
use aarmor_core::{Action, Receipt, ReceiptDecision, ReceiptKind};
use serde_json::Value;
use tokio::sync::oneshot;

use super::journal::Journal;
use super::keys::KeyRing;
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
    pub approval: Option<Value>,
    pub deferral: Option<Value>,
    pub execution: Option<Value>,
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub receipts: AtomicU64,
    pub commits: AtomicU64,
    pub failures: AtomicU64,
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
    /// When the oldest receipt of `batch` was signed.
    oldest: Option<Instant>,
    salt: u32,
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
            hash: canonical_json(context)
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
        let seq = self.head.seq + 1;
        let mut receipt = Receipt {
            receipt_id: format!("rct_{:08x}{seq:012x}", self.salt),
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

    fn hand_over(&mut self) -> Option<Batch> {
        if self.batch.is_empty() {
            return None;
        }
        self.oldest = None;
        Some(Batch {
            records: std::mem::take(&mut self.batch),
            head: self.head.clone(),
            strict_acks: std::mem::take(&mut self.strict_acks),
            committed: Vec::new(),
        })
    }
}

/// Handle to the receipt log; cheap to clone.
#[derive(Clone)]
pub struct ReceiptLog {
    signer: Arc<Mutex<Signer>>,
    reader: super::reader::ReceiptReader,
    commits: SyncSender<Batch>,
    failed: Arc<AtomicBool>,
    pub stats: Arc<WriterStats>,
    durability: Durability,
}

impl ReceiptLog {
    pub fn start(
        store: ReceiptStore,
        keys: KeyRing,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        let (journal, journaled) = Journal::open(store.path()).map_err(|e| StoreError::Open {
            path: Journal::path(store.path()),
            message: e.to_string(),
        })?;
        let head = store.head()?.unwrap_or(Head {
            seq: 0,
            hash: GENESIS_HASH.to_string(),
        });
        let (head, mut journal) = recover(&store, journal, journaled, head)?;
        let store = Arc::new(store);
        let reader = super::reader::ReceiptReader::new(store.clone(), keys.verifying_keys());
        let journal = match durability {
            Durability::Strict => Some(journal),
            Durability::Batched { .. } => {
                let _ = journal.clear();
                None
            }
        };
        let salt = {
            let mut b = [0u8; 4];
            let _ = getrandom::fill(&mut b);
            u32::from_be_bytes(b)
        };
        let signer = Arc::new(Mutex::new(Signer {
            keys,
            head,
            batch: Vec::new(),
            strict_acks: Vec::new(),
            oldest: None,
            salt,
        }));
        let (commits, rx) = mpsc::sync_channel::<Batch>(QUEUE);
        let failed = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(WriterStats::default());
        let (f, st) = (failed.clone(), stats.clone());
        std::thread::Builder::new()
            .name("aarmor-receipts".into())
            .spawn(move || commit_loop(store, journal, rx, f, st))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        {
            // Hands over whatever waits longer than the window: batched receipts, and in strict
            // mode the deferred records (`append_deferred`) no verdict waits for.
            let window = match durability {
                Durability::Batched { window } => window,
                Durability::Strict => DEFERRED_WINDOW,
            };
            let (signer, commits, failed) = (signer.clone(), commits.clone(), failed.clone());
            std::thread::Builder::new()
                .name("aarmor-receipts-flush".into())
                .spawn(move || loop {
                    std::thread::sleep(window / 2);
                    let batch = match signer.lock() {
                        Ok(mut s) if s.oldest.is_some_and(|o| o.elapsed() >= window) => {
                            s.hand_over()
                        }
                        Ok(_) => None,
                        Err(_) => return,
                    };
                    if let Some(batch) = batch {
                        if commits.send(batch).is_err() {
                            failed.store(true, Ordering::Release);
                            return;
                        }
                    }
                })
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        }
        Ok(Self {
            signer,
            reader,
            commits,
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
        let batch = match self.signer.lock() {
            Ok(mut s) => {
                let mut b = s.hand_over().unwrap_or_else(|| Batch {
                    records: Vec::new(),
                    head: s.head.clone(),
                    strict_acks: Vec::new(),
                    committed: Vec::new(),
                });
                b.committed.push(tx);
                b
            }
            Err(_) => return,
        };
        if self.commits.send(batch).is_ok() {
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
        let (receipt, wait) = {
            let mut signer = self
                .signer
                .lock()
                .map_err(|_| StoreError::Unavailable("the signer failed".into()))?;
            let receipt = signer
                .seal(draft, digest)
                .map_err(StoreError::Unavailable)?;
            let (wait, batch) = match self.durability {
                _ if deferred => {
                    let full = signer.batch.len() >= MAX_BATCH;
                    (None, if full { signer.hand_over() } else { None })
                }
                Durability::Strict => {
                    let (tx, rx) = oneshot::channel();
                    signer.strict_acks.push((tx, receipt.seq));
                    // Hand over at once: the committer merges whatever is pending.
                    (Some(rx), signer.hand_over())
                }
                Durability::Batched { .. } if signer.batch.len() >= MAX_BATCH => {
                    (None, signer.hand_over())
                }
                Durability::Batched { .. } => (None, None),
            };
            if let Some(batch) = batch {
                match self.commits.try_send(batch) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                        self.failed.store(true, Ordering::Release);
                        return Err(StoreError::Unavailable(
                            "the receipt committer is not keeping up or stopped".into(),
                        ));
                    }
                }
            }
            (receipt, wait)
        };
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

/// What the LMDB stage commits: receipts (already journaled in strict mode) and the waiters.
struct ToCommit {
    records: Vec<(u64, String, Vec<u8>)>,
    head: Head,
    /// Strict acks still to answer (batched mode: all of them; strict: none, answered after
    /// the journal sync).
    acks: Vec<StrictAck>,
    committed: CommittedGuard,
}

/// The journal is emptied once LMDB has everything in it and it has grown past this.
const JOURNAL_CLEAR_AT: u64 = 1024 * 1024;

/// Receives batches and merges whatever is pending. Strict: appends each merged batch to the
/// journal (one sync), releases its verdicts, and hands it to the LMDB stage on its own thread,
/// so the next batch's sync overlaps this one's LMDB commit. Batched: commits to LMDB here.
fn commit_loop(
    store: Arc<ReceiptStore>,
    journal: Option<Journal>,
    rx: mpsc::Receiver<Batch>,
    failed: Arc<AtomicBool>,
    stats: Arc<WriterStats>,
) {
    let journal = journal.map(|j| Arc::new(Mutex::new(j)));
    let mut lmdb_stage = None;
    let mut direct_store = None;
    match &journal {
        Some(j) => {
            let (tx, lmdb_rx) = mpsc::sync_channel::<ToCommit>(QUEUE);
            let (j, f, st) = (j.clone(), failed.clone(), stats.clone());
            let spawned = std::thread::Builder::new()
                .name("aarmor-receipts-lmdb".into())
                .spawn(move || lmdb_loop(store, Some(j), lmdb_rx, f, st));
            match spawned {
                Ok(_) => lmdb_stage = Some(tx),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the receipt store thread; every action will be denied");
                    failed.store(true, Ordering::Release);
                }
            }
        }
        None => direct_store = Some(store),
    }
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
        let mut acks: Vec<_> = batches.into_iter().flat_map(|b| b.strict_acks).collect();
        if failed.load(Ordering::Acquire) {
            answer(acks, Err("receipt store unavailable".into()));
            continue;
        }
        if let (Some(j), false) = (&journal, records.is_empty()) {
            // Strict: durable with one sync; the verdicts go now, LMDB follows.
            let written = j
                .lock()
                .map_err(|_| std::io::Error::other("journal lock poisoned"))
                .and_then(|mut j| j.append(records.iter().map(|(seq, _, b)| (*seq, b.as_slice()))));
            if let Err(e) = written {
                tracing::error!(error = %e, receipts = records.len(), "cannot write the receipt journal; the receipt store is now unavailable and every action will be denied");
                stats.failures.fetch_add(1, Ordering::Relaxed);
                failed.store(true, Ordering::Release);
                answer(acks, Err(format!("journal write failed: {e}")));
                continue;
            }
            answer(acks.drain(..), Ok(()));
        }
        let work = ToCommit {
            records,
            head,
            acks,
            committed,
        };
        match (&lmdb_stage, &direct_store) {
            (Some(tx), _) => {
                if let Err(mpsc::SendError(work)) = tx.send(work) {
                    failed.store(true, Ordering::Release);
                    answer(work.acks, Err("the receipt store thread stopped".into()));
                }
            }
            (None, Some(store)) => commit_to_lmdb(store, None, work, &failed, &stats),
            (None, None) => {
                answer(work.acks, Err("receipt store unavailable".into()));
            }
        }
    }
}

/// The LMDB stage of strict mode: commits what the journal stage hands over, merged.
fn lmdb_loop(
    store: Arc<ReceiptStore>,
    journal: Option<Arc<Mutex<Journal>>>,
    rx: mpsc::Receiver<ToCommit>,
    failed: Arc<AtomicBool>,
    stats: Arc<WriterStats>,
) {
    while let Ok(mut work) = rx.recv() {
        while let Ok(mut more) = rx.try_recv() {
            work.records.append(&mut more.records);
            work.head = more.head.clone();
            work.acks.append(&mut more.acks);
            work.committed.0.append(&mut more.committed.0);
        }
        commit_to_lmdb(&store, journal.as_deref(), work, &failed, &stats);
    }
}

fn commit_to_lmdb(
    store: &ReceiptStore,
    journal: Option<&Mutex<Journal>>,
    work: ToCommit,
    failed: &AtomicBool,
    stats: &WriterStats,
) {
    let ToCommit {
        records,
        head,
        acks,
        committed: _committed,
    } = work;
    if records.is_empty() {
        return;
    }
    if failed.load(Ordering::Acquire) {
        answer(acks, Err("receipt store unavailable".into()));
        return;
    }
    match store.append(&records, &head) {
        Ok(()) => {
            stats
                .receipts
                .fetch_add(records.len() as u64, Ordering::Relaxed);
            stats.commits.fetch_add(1, Ordering::Relaxed);
            if let Some(Ok(mut j)) = journal.map(Mutex::lock) {
                if j.last_seq() <= head.seq && j.len() >= JOURNAL_CLEAR_AT {
                    if let Err(e) = j.clear() {
                        tracing::warn!(error = %e, "cannot empty the receipt journal; it is replayed harmlessly at the next start");
                    }
                }
            }
            answer(acks, Ok(()));
        }
        Err(e) => {
            tracing::error!(error = %e, receipts = records.len(), "cannot commit receipts; the receipt store is now unavailable and every action will be denied");
            stats.failures.fetch_add(1, Ordering::Relaxed);
            failed.store(true, Ordering::Release);
            answer(acks, Err(format!("commit failed: {e}")));
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
        assert!(acknowledged > 0 && acknowledged < 400);
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
        }
        assert!(failures > 0, "the store must fill up");
        assert!(
            log.append(draft(999)).await.is_err(),
            "once failed, it stays failed"
        );
    }
}
