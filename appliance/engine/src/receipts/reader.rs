//! Reading the receipt store while the writer runs: the most recent receipts matching a search,
//! one receipt, and its verification (signature, and its link to the receipt before it).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aarmor_core::receipt::{verify_chain, GENESIS_HASH};
use aarmor_core::Receipt;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::store::{ReceiptStore, StoreError};

/// How far back a search looks.
const SEARCH_WINDOW: u64 = 20_000;

/// Strict-mode receipts that are durable in the journal but not yet in LMDB (the store commits
/// them in larger, less frequent transactions), so that readers see every acknowledged receipt.
#[derive(Default)]
pub struct Unstored {
    by_seq: Mutex<BTreeMap<u64, (String, Vec<u8>)>>,
}

impl Unstored {
    pub(crate) fn add(&self, records: &[(u64, String, Vec<u8>)]) {
        if let Ok(mut m) = self.by_seq.lock() {
            for (seq, id, bytes) in records {
                m.insert(*seq, (id.clone(), bytes.clone()));
            }
        }
    }

    /// Forgets the receipts up to `seq`: LMDB has them.
    pub(crate) fn stored_upto(&self, seq: u64) {
        if let Ok(mut m) = self.by_seq.lock() {
            *m = m.split_off(&(seq + 1));
        }
    }

    fn newest_first(&self) -> Vec<Vec<u8>> {
        self.by_seq
            .lock()
            .map(|m| m.values().rev().map(|(_, b)| b.clone()).collect())
            .unwrap_or_default()
    }

    fn by_id(&self, receipt_id: &str) -> Option<Vec<u8>> {
        let m = self.by_seq.lock().ok()?;
        m.values()
            .find(|(id, _)| id == receipt_id)
            .map(|(_, b)| b.clone())
    }

    fn at(&self, seq: u64) -> Option<Vec<u8>> {
        let m = self.by_seq.lock().ok()?;
        m.get(&seq).map(|(_, b)| b.clone())
    }
}

#[derive(Clone)]
pub struct ReceiptReader {
    store: Arc<ReceiptStore>,
    unstored: Arc<Unstored>,
    keys: Arc<HashMap<String, VerifyingKey>>,
}

/// The result of verifying one receipt.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub receipt_id: String,
    pub seq: u64,
    pub key_id: Option<String>,
    /// Signature valid and the link to the previous receipt intact.
    pub ok: bool,
    pub problems: Vec<String>,
}

fn matches(r: &Receipt, words: &[String]) -> bool {
    if words.is_empty() {
        return true;
    }
    let a = &r.action;
    let id = &a.identity;
    let hay = [
        r.receipt_id.as_str(),
        a.action_id.0.as_str(),
        a.tool.as_str(),
        a.operation.as_str(),
        a.protocol.as_str(),
        r.decision.result.as_str(),
        r.decision.rule.as_deref().unwrap_or(""),
        r.decision.reason.as_str(),
        id.agent.as_deref().unwrap_or(""),
        id.human.as_deref().unwrap_or(""),
        id.session.as_deref().unwrap_or(""),
        a.target.host.as_str(),
    ]
    .join(" ")
    .to_lowercase();
    words.iter().all(|w| hay.contains(w.as_str()))
}

impl ReceiptReader {
    pub fn new(
        store: Arc<ReceiptStore>,
        unstored: Arc<Unstored>,
        keys: HashMap<String, VerifyingKey>,
    ) -> Self {
        Self {
            store,
            unstored,
            keys: Arc::new(keys),
        }
    }

    /// Newest first: receipts whose id, action, tool, decision, rule, reason, agent, human,
    /// session or host contain every word of `query` (case-insensitive).
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Receipt>, StoreError> {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        let mut out = Vec::new();
        // Seen among the unstored ones (LMDB may have just committed some of them too).
        let mut seen = std::collections::HashSet::new();
        for bytes in self.unstored.newest_first() {
            if out.len() >= limit {
                return Ok(out);
            }
            if let Ok(r) = serde_json::from_slice::<Receipt>(&bytes) {
                seen.insert(r.seq);
                if matches(&r, &words) {
                    out.push(r);
                }
            }
        }
        let Some(head) = self.store.head()? else {
            return Ok(out);
        };
        let floor = head.seq.saturating_sub(SEARCH_WINDOW).max(1);
        let mut upto = head.seq;
        while upto >= floor && out.len() < limit {
            let from = upto.saturating_sub(499).max(floor);
            let page = self.store.scan(from, (upto - from + 1) as usize)?;
            for bytes in page.iter().rev() {
                let Ok(r) = serde_json::from_slice::<Receipt>(bytes) else {
                    continue;
                };
                // After pruning, a page can start later than `from` and run past `upto`.
                if r.seq <= upto && !seen.contains(&r.seq) && matches(&r, &words) {
                    out.push(r);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            if from == floor {
                break;
            }
            upto = from - 1;
        }
        Ok(out)
    }

    /// Every receipt written so far from `seq` on, in chain order, at most `limit`: the stored
    /// ones and those durable but not yet in LMDB. Call after the writer's `committed` to see
    /// every decision made before it.
    pub fn from_seq(&self, seq: u64, limit: usize) -> Result<Vec<Receipt>, StoreError> {
        let mut by_seq: BTreeMap<u64, Receipt> = BTreeMap::new();
        for bytes in self.store.scan(seq, limit)? {
            if let Ok(r) = serde_json::from_slice::<Receipt>(&bytes) {
                by_seq.insert(r.seq, r);
            }
        }
        for bytes in self.unstored.newest_first() {
            if let Ok(r) = serde_json::from_slice::<Receipt>(&bytes) {
                if r.seq >= seq {
                    by_seq.entry(r.seq).or_insert(r);
                }
            }
        }
        Ok(by_seq.into_values().take(limit).collect())
    }

    pub fn get(&self, receipt_id: &str) -> Result<Option<Receipt>, StoreError> {
        if let Some(r) = self.store.get(receipt_id)? {
            return Ok(Some(r));
        }
        Ok(self
            .unstored
            .by_id(receipt_id)
            .and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// Verifies a receipt's signature and its `prev_hash` against the receipt before it.
    pub fn verify(&self, receipt_id: &str) -> Result<Option<Verification>, StoreError> {
        let Some(r) = self.get(receipt_id)? else {
            return Ok(None);
        };
        let mut chain = Vec::new();
        if r.seq > 1 {
            let stored = self.store.scan(r.seq - 1, 1)?.into_iter().next();
            // The row found must be the one before (after pruning, `scan` finds the next one).
            if let Some(prev) = stored
                .or_else(|| self.unstored.at(r.seq - 1))
                .and_then(|b| serde_json::from_slice::<Receipt>(&b).ok())
                .filter(|p| p.seq == r.seq - 1)
            {
                chain.push(prev);
            }
        }
        let start = (r.seq == 1).then_some(GENESIS_HASH);
        let (seq, id, key_id) = (
            r.seq,
            r.receipt_id.clone(),
            r.signature.as_ref().map(|s| s.key_id.clone()),
        );
        chain.push(r);
        let mut problems: Vec<String> = verify_chain(&chain, &self.keys, start)
            .iter()
            .filter(|p| p.to_string().starts_with(&format!("seq {seq}:")))
            .map(ToString::to_string)
            .collect();
        let archived_before = || {
            self.store
                .pruned()
                .ok()
                .flatten()
                .is_some_and(|p| p.seq >= seq - 1)
        };
        if seq > 1 && chain.len() < 2 && !archived_before() {
            problems.push(format!("seq {seq}: the receipt before it is missing"));
        }
        Ok(Some(Verification {
            receipt_id: id,
            seq,
            key_id,
            ok: problems.is_empty(),
            problems,
        }))
    }
}
