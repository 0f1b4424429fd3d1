//! Reading the receipt store while the writer runs: the most recent receipts matching a search,
//! one receipt, and its verification (signature, and its link to the receipt before it).

use std::collections::HashMap;
use std::sync::Arc;

use aarmor_core::receipt::{verify_chain, GENESIS_HASH};
use aarmor_core::Receipt;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::store::{ReceiptStore, StoreError};

/// How far back a search looks.
const SEARCH_WINDOW: u64 = 20_000;

#[derive(Clone)]
pub struct ReceiptReader {
    store: Arc<ReceiptStore>,
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
    pub fn new(store: Arc<ReceiptStore>, keys: HashMap<String, VerifyingKey>) -> Self {
        Self {
            store,
            keys: Arc::new(keys),
        }
    }

    /// Newest first: receipts whose id, action, tool, decision, rule, reason, agent, human,
    /// session or host contain every word of `query` (case-insensitive).
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Receipt>, StoreError> {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        let Some(head) = self.store.head()? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let floor = head.seq.saturating_sub(SEARCH_WINDOW).max(1);
        let mut upto = head.seq;
        while upto >= floor && out.len() < limit {
            let from = upto.saturating_sub(499).max(floor);
            let page = self.store.scan(from, (upto - from + 1) as usize)?;
            for bytes in page.iter().rev() {
                let Ok(r) = serde_json::from_slice::<Receipt>(bytes) else {
                    continue;
                };
                if matches(&r, &words) {
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

    pub fn get(&self, receipt_id: &str) -> Result<Option<Receipt>, StoreError> {
        self.store.get(receipt_id)
    }

    /// Verifies a receipt's signature and its `prev_hash` against the receipt before it.
    pub fn verify(&self, receipt_id: &str) -> Result<Option<Verification>, StoreError> {
        let Some(r) = self.store.get(receipt_id)? else {
            return Ok(None);
        };
        let mut chain = Vec::new();
        if r.seq > 1 {
            if let Some(prev) = self
                .store
                .scan(r.seq - 1, 1)?
                .first()
                .and_then(|b| serde_json::from_slice::<Receipt>(b).ok())
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
        if seq > 1 && chain.len() < 2 {
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
