//! The single receipt writer: assigns `seq`, chains (`prev_hash`), signs, and group-commits.
//!
//! One thread owns the chain head, so receipts are numbered and linked without locks. Work
//! arrives on a bounded queue; each commit writes everything queued (up to `MAX_BATCH`) in one
//! LMDB transaction, i.e. one fsync per batch, never one per receipt.
//!
//! - `Durability::Strict`: `append` returns only once the receipt is on disk.
//! - `Durability::Batched { window }`: `append` returns as soon as the receipt is signed; the
//!   writer commits at least every `window`. A crash loses at most the receipts of the last
//!   window (the documented loss bound).
//!
//! After a failed commit the chain head is rolled back and the log refuses all further appends
//! (fail closed): the engine denies every action it cannot receipt.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aarmor_core::receipt::{
    canonical_json, sha256_tagged, ReceiptContext, GENESIS_HASH, RECEIPT_VERSION,
};
use aarmor_core::{Action, Receipt, ReceiptDecision, ReceiptKind};
use serde_json::Value;
use tokio::sync::oneshot;

use super::keys::KeyRing;
use super::store::{Head, ReceiptStore, StoreError};

const MAX_BATCH: usize = 4096;
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

struct Job {
    draft: ReceiptDraft,
    ack: oneshot::Sender<Result<Receipt, String>>,
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub receipts: AtomicU64,
    pub commits: AtomicU64,
    pub failures: AtomicU64,
}

/// Handle to the writer thread.
#[derive(Clone)]
pub struct ReceiptLog {
    tx: SyncSender<Job>,
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
        let head = store.head()?.unwrap_or(Head {
            seq: 0,
            hash: GENESIS_HASH.to_string(),
        });
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let failed = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(WriterStats::default());
        let (f, s) = (failed.clone(), stats.clone());
        std::thread::Builder::new()
            .name("aarmor-receipts".into())
            .spawn(move || writer_loop(store, keys, durability, head, rx, f, s))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self {
            tx,
            failed,
            stats,
            durability,
        })
    }

    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Appends one receipt; see the module docs for when this returns.
    pub async fn append(&self, draft: ReceiptDraft) -> Result<Receipt, StoreError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("an earlier commit failed".into()));
        }
        let (ack, done) = oneshot::channel();
        match self.tx.try_send(Job { draft, ack }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(StoreError::Unavailable("the writer queue is full".into()))
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(StoreError::Unavailable("the writer stopped".into()))
            }
        }
        match done.await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(StoreError::Unavailable(e)),
            Err(_) => Err(StoreError::Unavailable("the writer stopped".into())),
        }
    }
}

fn now_rfc3339_millis() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

fn writer_loop(
    store: ReceiptStore,
    keys: KeyRing,
    durability: Durability,
    mut head: Head,
    rx: mpsc::Receiver<Job>,
    failed: Arc<AtomicBool>,
    stats: Arc<WriterStats>,
) {
    let salt = {
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        u32::from_be_bytes(b)
    };
    loop {
        let Ok(first) = rx.recv() else {
            return;
        };
        let mut jobs = vec![first];
        let deadline = match durability {
            Durability::Strict => Instant::now(),
            Durability::Batched { window } => Instant::now() + window,
        };
        // Collect whatever is queued; in batched mode keep collecting until the window closes.
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    match rx.recv_timeout(deadline - now) {
                        Ok(j) => jobs.push(j),
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            }
        }
        let committed = head.clone();
        let mut batch = Vec::with_capacity(jobs.len());
        let mut strict_acks = Vec::new();
        for job in jobs {
            if failed.load(Ordering::Acquire) {
                let _ = job.ack.send(Err("receipt store unavailable".into()));
                continue;
            }
            let ReceiptDraft {
                kind,
                follows,
                action,
                context,
                decision,
                modification,
                approval,
                deferral,
                execution,
            } = job.draft;
            let seq = head.seq + 1;
            let context_hash = canonical_json(&context)
                .map(|b| sha256_tagged(&b))
                .unwrap_or_else(|_| sha256_tagged(b"null"));
            let mut receipt = Receipt {
                receipt_id: format!("rct_{:08x}{seq:012x}", salt),
                version: RECEIPT_VERSION.into(),
                seq,
                timestamp: now_rfc3339_millis(),
                kind,
                follows,
                action,
                context: ReceiptContext { context_hash },
                decision,
                modification,
                approval,
                deferral,
                execution,
                prev_hash: head.hash.clone(),
                signature: None,
            };
            let signed = receipt
                .sign(&keys.signing, &keys.key_id)
                .and_then(|_| Ok((receipt.chain_hash()?, canonical_json(&receipt)?)));
            let (hash, bytes) = match signed {
                Ok(v) => v,
                Err(e) => {
                    let _ = job.ack.send(Err(e.to_string()));
                    continue;
                }
            };
            head = Head { seq, hash };
            batch.push((seq, receipt.receipt_id.clone(), bytes));
            match durability {
                Durability::Strict => strict_acks.push((job.ack, receipt)),
                Durability::Batched { .. } => {
                    let _ = job.ack.send(Ok(receipt));
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        match store.append(&batch, &head) {
            Ok(()) => {
                stats
                    .receipts
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                stats.commits.fetch_add(1, Ordering::Relaxed);
                for (ack, receipt) in strict_acks {
                    let _ = ack.send(Ok(receipt));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, receipts = batch.len(), "cannot commit receipts; the receipt store is now unavailable and every action will be denied");
                stats.failures.fetch_add(1, Ordering::Relaxed);
                failed.store(true, Ordering::Release);
                head = committed;
                for (ack, _) in strict_acks {
                    let _ = ack.send(Err(format!("commit failed: {e}")));
                }
            }
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
