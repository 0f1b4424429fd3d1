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

/// The newest receipts of the chain, checked ([`ReceiptReader::check_newest`]).
#[derive(Debug, Clone, Serialize)]
pub struct ChainCheck {
    /// The newest receipt's seq (0: none yet).
    pub head_seq: u64,
    pub first_checked: Option<u64>,
    pub checked: usize,
    /// Every signature valid and every link intact.
    pub ok: bool,
    /// The first problems found.
    pub problems: Vec<String>,
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

    /// Visits the stored bytes of receipts newest first (those durable but not yet in LMDB
    /// first), at most `window` back from the store's head, until `visit` returns false. A
    /// receipt may be visited twice (LMDB may have just committed an unstored one): callers
    /// skip seqs they saw.
    fn newest_first(
        &self,
        window: u64,
        mut visit: impl FnMut(&[u8]) -> bool,
    ) -> Result<(), StoreError> {
        for bytes in self.unstored.newest_first() {
            if !visit(&bytes) {
                return Ok(());
            }
        }
        let Some(head) = self.store.head()? else {
            return Ok(());
        };
        let floor = head.seq.saturating_sub(window).max(1);
        let mut upto = head.seq;
        while upto >= floor {
            let from = upto.saturating_sub(499).max(floor);
            let page = self.store.scan(from, (upto - from + 1) as usize)?;
            for bytes in page.iter().rev() {
                if !visit(bytes) {
                    return Ok(());
                }
            }
            if from == floor {
                break;
            }
            upto = from - 1;
        }
        Ok(())
    }

    /// Newest first: receipts whose id, action, tool, decision, rule, reason, agent, human,
    /// session or host contain every word of `query` (case-insensitive).
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Receipt>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        self.newest_first(SEARCH_WINDOW, |bytes| {
            if let Ok(r) = serde_json::from_slice::<Receipt>(bytes) {
                // Seen twice: unstored and just committed, or, after pruning, a page that
                // started later than asked and ran into the page before.
                if seen.insert(r.seq) && matches(&r, &words) {
                    out.push(r);
                }
            }
            out.len() < limit
        })?;
        Ok(out)
    }

    /// The digests of the receipts signed at `since` or later (RFC 3339, compared as text),
    /// newest first, at most `max` of them; true with them when older ones in the window were
    /// not read because of `max`.
    pub fn digests_since(
        &self,
        since: &str,
        max: usize,
    ) -> Result<(Vec<crate::overview::ReceiptDigest>, bool), StoreError> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut truncated = false;
        self.newest_first(max as u64 + 1, |bytes| {
            let Ok(r) = serde_json::from_slice::<crate::overview::ReceiptDigest>(bytes) else {
                return true;
            };
            if r.timestamp.as_str() < since {
                // Receipts come newest first (the unstored ones are newer than the stored):
                // every one after this is older still.
                return false;
            }
            if !seen.insert(r.seq) {
                return true;
            }
            if out.len() >= max {
                truncated = true;
                return false;
            }
            out.push(r);
            true
        })?;
        Ok((out, truncated))
    }

    /// Verifies the newest `count` receipts: each signature, and each link to the receipt
    /// before it (the oldest one's own link is checked by the full audit,
    /// `aarmor receipts verify`).
    pub fn check_newest(&self, count: usize) -> Result<ChainCheck, StoreError> {
        let head = self.store.head()?.map(|h| h.seq).unwrap_or(0);
        let unstored_head = self
            .unstored
            .newest_first()
            .first()
            .and_then(|b| serde_json::from_slice::<Receipt>(b).ok())
            .map(|r| r.seq)
            .unwrap_or(0);
        let head = head.max(unstored_head);
        let from = head.saturating_sub(count.saturating_sub(1) as u64).max(1);
        let chain = if head == 0 {
            Vec::new()
        } else {
            self.from_seq(from, count)?
        };
        let problems: Vec<String> = verify_chain(&chain, &self.keys, None)
            .iter()
            .map(ToString::to_string)
            .collect();
        Ok(ChainCheck {
            head_seq: head,
            first_checked: chain.first().map(|r| r.seq),
            checked: chain.len(),
            ok: problems.is_empty(),
            problems: problems.into_iter().take(10).collect(),
        })
    }

    /// Every receipt written so far from `seq` on, in chain order, at most `limit`: the stored
    /// ones and those durable but not yet in LMDB. Call after the writer's `committed` to see
    /// every decision made before it.
    pub fn from_seq(&self, seq: u64, limit: usize) -> Result<Vec<Receipt>, StoreError> {
        // The unstored receipts first: the writer moves them to LMDB and then forgets them, so
        // read the other way round a batch committed in between would be in neither read.
        let unstored = self.unstored.newest_first();
        let mut by_seq: BTreeMap<u64, Receipt> = BTreeMap::new();
        for bytes in self.store.scan(seq, limit)? {
            if let Ok(r) = serde_json::from_slice::<Receipt>(&bytes) {
                by_seq.insert(r.seq, r);
            }
        }
        for bytes in unstored {
            if let Ok(r) = serde_json::from_slice::<Receipt>(&bytes) {
                if r.seq >= seq {
                    by_seq.entry(r.seq).or_insert(r);
                }
            }
        }
        Ok(by_seq.into_values().take(limit).collect())
    }

    /// Newest first: the receipts of `session` exactly (the session the decision saw, or the
    /// one the action named), at most `limit`, among the newest receipts the search covers;
    /// true with them when the search window ended before the session's first receipt could
    /// have been reached.
    pub fn of_session(
        &self,
        session: &str,
        limit: usize,
    ) -> Result<(Vec<Receipt>, bool), StoreError> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut oldest = u64::MAX;
        self.newest_first(SEARCH_WINDOW, |bytes| {
            if let Ok(r) = serde_json::from_slice::<Receipt>(bytes) {
                oldest = oldest.min(r.seq);
                let ours = r.context.session.as_deref() == Some(session)
                    || r.action.identity.session.as_deref() == Some(session);
                if seen.insert(r.seq) && ours {
                    out.push(r);
                }
            }
            out.len() < limit
        })?;
        let first_live = self.store.first_seq()?.unwrap_or(1);
        let cut = out.len() >= limit || (oldest != u64::MAX && oldest > first_live);
        Ok((out, cut))
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
