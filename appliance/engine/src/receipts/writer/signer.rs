//! The signer: numbers, chains and signs each receipt under one mutex, and hands over what is
//! pending to the stage that makes it durable.

use aarmor_core::canonical::canonical_value;
use aarmor_core::receipt::{sha256_tagged, ReceiptContext, RECEIPT_VERSION};
use aarmor_core::Receipt;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::group_commit::Due;
use crate::receipts::keys::KeyRing;
use crate::receipts::store::Head;

use super::*;

/// A verdict waiting for its receipt (by `seq`) to be durable.
pub(super) type StrictAck = (oneshot::Sender<Result<(), WriteRefusal>>, u64);

/// A batch handed to the committer.
pub(super) struct Batch {
    pub(super) records: Vec<(u64, String, Vec<u8>)>,
    pub(super) head: Head,
    pub(super) strict_acks: Vec<StrictAck>,
    /// Answered once everything up to this batch is in LMDB (or the store failed).
    pub(super) committed: Vec<oneshot::Sender<()>>,
}

/// The chain head and the receipts signed since the last hand-over. Guarded by one mutex: the
/// caller signs under it, so numbering, chaining and signing happen in one order.
pub(super) struct Signer {
    pub(super) keys: KeyRing,
    pub(super) head: Head,
    pub(super) batch: Vec<(u64, String, Vec<u8>)>,
    pub(super) strict_acks: Vec<StrictAck>,
    /// `committed` callers waiting for everything signed so far to be in LMDB.
    pub(super) committed: Vec<oneshot::Sender<()>>,
    /// When `batch` is due to be handed over (the window thread's clock).
    pub(super) due: Due,
    /// What receipts keep of parameters as they are.
    pub(super) limits: aarmor_core::elide::ElisionLimits,
}

/// What a receipt records of its evaluation context, computed before the signer is locked.
pub(super) struct ContextDigest {
    pub(super) hash: String,
    pub(super) session: Option<String>,
    pub(super) intent: Option<Value>,
}

impl ContextDigest {
    pub(super) fn of(context: &Value) -> Self {
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

impl crate::group_commit::Pending for Signer {
    fn due(&mut self) -> &mut Due {
        &mut self.due
    }
}

impl Signer {
    pub(super) fn seal(
        &mut self,
        draft: ReceiptDraft,
        digest: ContextDigest,
    ) -> Result<Receipt, aarmor_core::receipt::ReceiptError> {
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
            checkpoint,
        } = draft;
        // Large values and header values by hash (see `aarmor_core::elide`); an outcome keeps
        // the parameters by hash alone (its decision receipt has them).
        let limits = match kind {
            ReceiptKind::Outcome => aarmor_core::elide::ElisionLimits::HASH_ONLY,
            _ => self.limits,
        };
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
            checkpoint,
            prev_hash: self.head.hash.clone(),
            signature: None,
        };
        let (hash, bytes) = receipt.seal(&self.keys.signing, &self.keys.key_id)?;
        self.head = Head { seq, hash };
        self.batch.push((seq, receipt.receipt_id.clone(), bytes));
        Ok(receipt)
    }

    /// Everything pending: receipts, the verdicts and the `committed` callers waiting on them.
    pub(super) fn hand_over(&mut self) -> Option<Batch> {
        if self.batch.is_empty() && self.committed.is_empty() {
            return None;
        }
        self.due.taken();
        Some(Batch {
            records: std::mem::take(&mut self.batch),
            head: self.head.clone(),
            strict_acks: std::mem::take(&mut self.strict_acks),
            committed: std::mem::take(&mut self.committed),
        })
    }
}
