//! Signed, chained receipts (AARM R5): what was decided about an action, by which policy, and
//! why, in a form anyone can verify offline.
//!
//! Invariants:
//! - The signed bytes are the RFC 8785 (JCS) canonical JSON of the receipt without its
//!   `signature` member; any change to any field breaks the signature.
//! - `prev_hash` is the previous receipt's chain hash: `sha256:` + hex of its signed bytes, a
//!   newline, and its signature value — so removing, inserting or reordering receipts breaks the
//!   chain; `seq` numbers the chain from 1 and says where.
//! - The first receipt of a chain has `prev_hash` = [`GENESIS_HASH`].

use std::collections::HashMap;

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::Action;
use crate::decision::{Decision, DecisionClass};
use crate::receipt_records::{Approval, Checkpoint, Deferral, Execution, Recorded};

/// `prev_hash` of the first receipt.
pub const GENESIS_HASH: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";
/// Version of the receipt format, written in every receipt's `version`.
pub const RECEIPT_VERSION: &str = "1.0";
/// The one algorithm receipts are signed with; verification refuses any other.
pub const SIGNATURE_ALGORITHM: &str = "Ed25519";

/// What a receipt records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// The decision on an action, written before the action may proceed.
    Decision,
    /// How a STEP_UP or DEFER ended; `follows` names the decision receipt.
    Resolution,
    /// What happened when the action ran (upstream status, output hash); `follows` names the
    /// receipt that let it run.
    Outcome,
    /// A sealed segment of the chain left the live store (archived, or dropped on the
    /// operator's order); `checkpoint` says which, and the chain continues from it.
    Checkpoint,
}

/// The policy bundle that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    /// The bundle manifest's `policy_id`, else the policy directory's name.
    pub policy_id: String,
    /// The bundle manifest's `version`, else the first 12 hex digits of `hash`.
    pub version: String,
    /// `sha256:` + hex over the bundle's files.
    pub hash: String,
}

/// The decision part of a receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptDecision {
    /// What was decided (for an outcome receipt: the decision that let the action run).
    pub result: Decision,
    /// The deciding rule's class (`forbidden` for aarmor's own refusals); absent when a default
    /// or a failure decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<DecisionClass>,
    /// The rule that decided; `None` when a default or a failure decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Why, in plain words: the rule's reason, or what aarmor refused for.
    pub reason: String,
    /// False in monitor mode: the decision was recorded, the action was allowed.
    pub enforced: bool,
    /// The policy bundle in force when the action was decided.
    pub policy: PolicyRef,
}

/// The context the decision saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptContext {
    /// `sha256:` + hex of the canonical JSON of the evaluation context.
    pub context_hash: String,
    /// The session the action was attributed to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The intent signals the decision saw (`drift`, `drift_max`, `drift_ema`, `provenance`),
    /// when any were known: what explains a context-dependent decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<serde_json::Value>,
}

/// The signature over the canonical receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptSignature {
    /// [`SIGNATURE_ALGORITHM`]; verification refuses any other.
    pub algorithm: String,
    /// Names the signing key; verifiers look its public key up by this id.
    pub key_id: String,
    /// Base64 (standard, padded) of the 64-byte signature.
    pub value: String,
}

/// One signed link of the receipt chain: a decision, the end of a hold, or what an action did
/// (see the module's invariants).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// `rct_` and 20 hex digits (see [`crate::ids`]), unique across processes.
    pub receipt_id: String,
    /// Receipt format version, [`RECEIPT_VERSION`].
    pub version: String,
    /// Position in the chain: 1 for the first, one more than the receipt before.
    pub seq: u64,
    /// When the receipt was signed, RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    /// What the receipt records.
    pub kind: ReceiptKind,
    /// The decision receipt this one resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// The action, its large values and header values replaced by their hash when written
    /// (see [`crate::elide`]).
    pub action: Action,
    /// What the decision saw (an outcome receipt hashes an empty context).
    pub context: ReceiptContext,
    /// The decision (for an outcome receipt: the one that let the action run).
    pub decision: ReceiptDecision,
    /// For MODIFY: the parameters after the policy's patch (the action as forwarded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modification: Option<Value>,
    /// For a STEP_UP's resolution: how its approval ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Recorded<Approval>>,
    /// For a DEFER's resolution: how the deferral ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferral: Option<Recorded<Deferral>>,
    /// For an outcome receipt: what the executed action did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<Recorded<Execution>>,
    /// For a checkpoint receipt: the segment of the chain that left the live store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Recorded<Checkpoint>>,
    /// Chain hash of the receipt before ([`Receipt::chain_hash`]); [`GENESIS_HASH`] for the first.
    pub prev_hash: String,
    /// The signature over every other member; `None` only before signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<ReceiptSignature>,
}

/// Why a receipt cannot be serialized, or its signature does not verify.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    /// The receipt could not be written as canonical JSON; holds the serializer's message.
    #[error("receipt cannot be serialized: {0}")]
    Serialize(String),
    /// The receipt has no signature; holds its id.
    #[error("receipt {0} is not signed")]
    Unsigned(String),
    /// Signed by a key id that is not among the known keys.
    #[error("receipt {receipt_id} is signed by unknown key `{key_id}`")]
    UnknownKey {
        /// `receipt_id` of the receipt.
        receipt_id: String,
        /// The key id its signature names.
        key_id: String,
    },
    /// Signed with an algorithm other than [`SIGNATURE_ALGORITHM`].
    #[error("receipt {receipt_id}: unsupported signature algorithm `{algorithm}`")]
    Algorithm {
        /// `receipt_id` of the receipt.
        receipt_id: String,
        /// The algorithm its signature names.
        algorithm: String,
    },
    /// The signature is malformed or does not match the signed bytes; holds the receipt's id.
    #[error("receipt {0}: signature does not verify (the receipt was changed after signing)")]
    BadSignature(String),
}

pub use crate::canonical::sha256_tagged;

/// RFC 8785 canonical JSON of any serializable value (see [`crate::canonical`]).
pub fn canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ReceiptError> {
    crate::canonical::canonical_json(value).map_err(|e| ReceiptError::Serialize(e.to_string()))
}

impl Receipt {
    /// The bytes the signature covers: canonical JSON without `signature`.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, ReceiptError> {
        let mut unsigned = self.clone();
        unsigned.signature = None;
        canonical_json(&unsigned)
    }

    /// The next receipt's `prev_hash`: over the signed bytes and the signature.
    pub fn chain_hash(&self) -> Result<String, ReceiptError> {
        Ok(Self::chain_hash_of(
            &self.signed_bytes()?,
            self.signature.as_ref(),
        ))
    }

    fn chain_hash_of(signed: &[u8], signature: Option<&ReceiptSignature>) -> String {
        let mut bytes = Vec::with_capacity(signed.len() + 100);
        bytes.extend_from_slice(signed);
        bytes.push(b'\n');
        if let Some(sig) = signature {
            bytes.extend_from_slice(sig.value.as_bytes());
        }
        sha256_tagged(&bytes)
    }

    /// Signs the receipt, canonicalizing it once. Returns its chain hash and its JSON (the
    /// signed canonical bytes with the signature member added: valid JSON, and what verifiers
    /// re-canonicalize).
    pub fn seal(
        &mut self,
        key: &SigningKey,
        key_id: &str,
    ) -> Result<(String, Vec<u8>), ReceiptError> {
        self.signature = None;
        let signed = canonical_json(&*self)?;
        let sig = key.sign(&signed);
        let signature = ReceiptSignature {
            algorithm: SIGNATURE_ALGORITHM.into(),
            key_id: key_id.into(),
            value: base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()),
        };
        let sig_json =
            serde_json::to_vec(&signature).map_err(|e| ReceiptError::Serialize(e.to_string()))?;
        let mut json = Vec::with_capacity(signed.len() + sig_json.len() + 16);
        json.extend_from_slice(&signed[..signed.len().saturating_sub(1)]);
        json.extend_from_slice(b",\"signature\":");
        json.extend_from_slice(&sig_json);
        json.push(b'}');
        self.signature = Some(signature);
        Ok((Self::chain_hash_of(&signed, self.signature.as_ref()), json))
    }

    /// Checks the signature against the known public keys.
    pub fn verify(&self, keys: &HashMap<String, VerifyingKey>) -> Result<(), ReceiptError> {
        self.verify_signed(&self.signed_bytes()?, keys)
    }

    /// Checks the signature and returns the chain hash too, canonicalizing the receipt once
    /// (what chain verification needs of every receipt). The hash is `None` when the receipt
    /// cannot be serialized.
    pub fn verify_and_chain_hash(
        &self,
        keys: &HashMap<String, VerifyingKey>,
    ) -> (Result<(), ReceiptError>, Option<String>) {
        match self.signed_bytes() {
            Ok(signed) => (
                self.verify_signed(&signed, keys),
                Some(Self::chain_hash_of(&signed, self.signature.as_ref())),
            ),
            Err(e) => (Err(e), None),
        }
    }

    fn verify_signed(
        &self,
        signed: &[u8],
        keys: &HashMap<String, VerifyingKey>,
    ) -> Result<(), ReceiptError> {
        let sig = self
            .signature
            .as_ref()
            .ok_or_else(|| ReceiptError::Unsigned(self.receipt_id.clone()))?;
        if sig.algorithm != SIGNATURE_ALGORITHM {
            return Err(ReceiptError::Algorithm {
                receipt_id: self.receipt_id.clone(),
                algorithm: sig.algorithm.clone(),
            });
        }
        let key = keys
            .get(&sig.key_id)
            .ok_or_else(|| ReceiptError::UnknownKey {
                receipt_id: self.receipt_id.clone(),
                key_id: sig.key_id.clone(),
            })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&sig.value)
            .map_err(|_| ReceiptError::BadSignature(self.receipt_id.clone()))?;
        let bytes: [u8; 64] = bytes
            .try_into()
            .map_err(|_| ReceiptError::BadSignature(self.receipt_id.clone()))?;
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        key.verify(signed, &signature)
            .map_err(|_| ReceiptError::BadSignature(self.receipt_id.clone()))
    }
}

/// One thing wrong with a sequence of receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The receipt's own signature or key is wrong.
    Receipt {
        /// `seq` of the receipt.
        seq: u64,
        /// What is wrong with its signature.
        error: ReceiptError,
    },
    /// Receipts are missing before this one (its `seq` jumps).
    Missing {
        /// `seq` of the receipt after the gap.
        seq: u64,
        /// The `seq` that should have come next.
        expected_seq: u64,
    },
    /// This receipt appears out of order.
    OutOfOrder {
        /// `seq` of the receipt, not above the one before it.
        seq: u64,
        /// `seq` of the receipt it comes after.
        after_seq: u64,
    },
    /// `prev_hash` does not match the receipt before it.
    BrokenLink {
        /// `seq` of the receipt whose `prev_hash` does not match.
        seq: u64,
    },
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Receipt { seq, error } => write!(f, "seq {seq}: {error}"),
            Self::Missing { seq, expected_seq } => write!(
                f,
                "seq {seq}: receipt(s) missing before it (expected seq {expected_seq}): removed from the chain"
            ),
            Self::OutOfOrder { seq, after_seq } => write!(
                f,
                "seq {seq}: appears after seq {after_seq}: receipts were reordered"
            ),
            Self::BrokenLink { seq } => write!(
                f,
                "seq {seq}: prev_hash does not match the receipt before it (the chain was altered)"
            ),
        }
    }
}

/// Reads a receipt as exported and checks that the bytes are exactly what its signature
/// covers: no member the signed form does not have (an added field would not break the
/// signature, so it is refused here), no other form of a member, and no integer beyond 2^53
/// (RFC 8785 writes numbers as doubles, so two such integers would sign alike).
pub fn parse_exact(bytes: &[u8]) -> Result<Receipt, String> {
    let raw: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if let Some(path) = inexact_number(&raw, "") {
        return Err(format!(
            "{path}: an integer beyond 2^53, which the canonical form rounds: an edit to it would not break the signature"
        ));
    }
    let receipt: Receipt =
        serde_json::from_value(raw.clone()).map_err(|e| format!("not a receipt: {e}"))?;
    let signed = serde_json::to_value(&receipt).map_err(|e| e.to_string())?;
    if let Some(path) = first_difference(&raw, &signed, "") {
        return Err(format!(
            "{path}: not part of the signed receipt (added or rewritten after signing)"
        ));
    }
    Ok(receipt)
}

/// The path of the first integer beyond 2^53 in `v`.
fn inexact_number(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::Number(n) if crate::elide::beyond_exact_integers(n) => Some(if path.is_empty() {
            "/".into()
        } else {
            path.to_string()
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| inexact_number(x, &format!("{path}/{i}"))),
        Value::Object(m) => m
            .iter()
            .find_map(|(k, x)| inexact_number(x, &format!("{path}/{k}"))),
        _ => None,
    }
}

/// The path where `a` and `b` first differ (JSON pointer form).
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .find_map(|(k, v)| match y.get(k) {
                Some(w) => first_difference(v, w, &format!("{path}/{k}")),
                None => Some(format!("{path}/{k}")),
            })
            .or_else(|| {
                y.keys()
                    .find(|k| !x.contains_key(*k))
                    .map(|k| format!("{path}/{k}"))
            }),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, &format!("{path}/{i}"))),
        _ if a == b => None,
        _ => Some(if path.is_empty() {
            "/".into()
        } else {
            path.to_string()
        }),
    }
}

/// Verifies signatures and the hash chain of consecutive receipts. `start_hash` is the
/// `prev_hash` the first receipt must carry ([`GENESIS_HASH`] for a whole chain); `None` accepts
/// any (an export that starts mid-chain).
pub fn verify_chain(
    receipts: &[Receipt],
    keys: &HashMap<String, VerifyingKey>,
    start_hash: Option<&str>,
) -> Vec<ChainProblem> {
    let mut problems = Vec::new();
    let mut prev: Option<(u64, String)> = None;
    for r in receipts {
        let (verified, hash) = r.verify_and_chain_hash(keys);
        if let Err(error) = verified {
            problems.push(ChainProblem::Receipt { seq: r.seq, error });
        }
        match &prev {
            None => {
                if let Some(start) = start_hash {
                    if r.prev_hash != start {
                        problems.push(ChainProblem::BrokenLink { seq: r.seq });
                    }
                }
            }
            Some((prev_seq, prev_hash)) => {
                if r.seq <= *prev_seq {
                    problems.push(ChainProblem::OutOfOrder {
                        seq: r.seq,
                        after_seq: *prev_seq,
                    });
                } else if r.seq != prev_seq + 1 {
                    problems.push(ChainProblem::Missing {
                        seq: r.seq,
                        expected_seq: prev_seq + 1,
                    });
                } else if &r.prev_hash != prev_hash {
                    problems.push(ChainProblem::BrokenLink { seq: r.seq });
                }
            }
        }
        prev = Some((r.seq, hash.unwrap_or_default()));
    }
    problems
}

#[cfg(test)]
mod tests;
