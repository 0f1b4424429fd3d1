//! What a receipt records besides the decision: the approval that resolved a STEP_UP, the
//! deferral that resolved a DEFER, what an executed action did, and the segment a checkpoint
//! sealed.
//!
//! Invariant: a receipt read back serializes to exactly the JSON that was signed. A record of a
//! shape this version does not know (written by another version) is therefore kept as written
//! ([`Recorded::AsWritten`]), never reshaped, so its signature still verifies.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A typed record, or one kept exactly as it was written.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded<T> {
    /// A shape of `T` that writes back exactly the JSON that was read.
    Typed(T),
    /// Not a shape of `T` (another version wrote it): kept verbatim.
    AsWritten(Value),
}

impl<T> Recorded<T> {
    /// The typed record, if it is one.
    pub fn typed(&self) -> Option<&T> {
        match self {
            Self::Typed(t) => Some(t),
            Self::AsWritten(_) => None,
        }
    }
}

impl<T> From<T> for Recorded<T> {
    fn from(t: T) -> Self {
        Self::Typed(t)
    }
}

impl<T: Serialize> Serialize for Recorded<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Typed(t) => t.serialize(s),
            Self::AsWritten(v) => v.serialize(s),
        }
    }
}

impl<'de, T: DeserializeOwned + Serialize> Deserialize<'de> for Recorded<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let written = Value::deserialize(d)?;
        // Typed only when the type writes back the very same JSON (no field dropped, added
        // or changed): the signature covers what was written.
        match T::deserialize(&written) {
            Ok(t) if serde_json::to_value(&t).ok().as_ref() == Some(&written) => Ok(Self::Typed(t)),
            _ => Ok(Self::AsWritten(written)),
        }
    }
}

/// One approver's answer to a held action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// Name of the approver who voted.
    pub approver: String,
    /// True to approve, false to deny; one denial refuses the action.
    pub approve: bool,
    /// What the approver wrote with the vote, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When the vote was cast, RFC 3339 UTC with milliseconds.
    pub at: String,
    /// `console`, `api` or `operator`.
    pub via: String,
}

/// How a STEP_UP's hold ended, as its resolution receipt records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Approval {
    /// The quorum approved.
    Approved(ApprovalAnswered),
    /// An approver denied.
    Denied(ApprovalAnswered),
    /// Nobody answered within the hold.
    TimedOut {
        /// The approval's id (as approvers saw it).
        id: String,
        /// Approvals that were needed.
        quorum: u32,
    },
    /// The appliance shut down while the action waited for its approval: denied.
    Shutdown {
        /// The approval's id.
        id: String,
        /// How long the action was held, milliseconds.
        waited_ms: u64,
        /// When the hold ended, RFC 3339 UTC with milliseconds.
        ended_at: String,
    },
    /// No approver could be asked (no approvals API, or the queue was full): denied at once.
    NoApprovers {
        /// The approval's id.
        id: String,
    },
    /// The cluster replica that held the action stopped (its agent's connection went with it):
    /// another replica recorded the denial.
    ReplicaLost {
        /// The approval's id.
        id: String,
        /// The replica that held it.
        replica: String,
    },
}

/// The answer that decided an approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalAnswered {
    /// The approval's id (as approvers saw it).
    pub id: String,
    /// The approver whose vote decided.
    pub approver: String,
    /// Their comment.
    pub reason: Option<String>,
    /// When the deciding vote was cast, RFC 3339 UTC with milliseconds.
    pub at: String,
    /// Distinct approvals the action needed.
    pub quorum: u32,
    /// Every vote, in order.
    pub votes: Vec<Vote>,
}

impl Approval {
    /// The approver whose vote decided, when one did.
    pub fn approver(&self) -> Option<&str> {
        match self {
            Self::Approved(a) | Self::Denied(a) => Some(&a.approver),
            Self::TimedOut { .. }
            | Self::NoApprovers { .. }
            | Self::ReplicaLost { .. }
            | Self::Shutdown { .. } => None,
        }
    }

    /// `approved`, `denied`, `timed_out`, `no_approvers` or `replica_lost`.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Approved(_) => "approved",
            Self::Denied(_) => "denied",
            Self::TimedOut { .. } => "timed_out",
            Self::Shutdown { .. } => "shutdown",
            Self::NoApprovers { .. } => "no_approvers",
            Self::ReplicaLost { .. } => "replica_lost",
        }
    }
}

impl Recorded<Approval> {
    /// The approval's status, typed or as written.
    pub fn status(&self) -> Option<&str> {
        match self {
            Self::Typed(a) => Some(a.status()),
            Self::AsWritten(v) => v.get("status").and_then(Value::as_str),
        }
    }

    /// The approver whose vote decided, typed or as written.
    pub fn approver(&self) -> Option<&str> {
        match self {
            Self::Typed(a) => a.approver(),
            Self::AsWritten(v) => v.get("approver").and_then(Value::as_str),
        }
    }
}

/// How a DEFER ended, as its resolution receipt records it: `status` says which way (resolved,
/// timed out, the appliance shut down, its replica was lost), with the rounds of
/// re-evaluation, how long it was held and when it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Deferral {
    /// What it waited for arrived and the action was decided again.
    Resolved {
        /// What resolved it: `context` (more of the session) or `intent` (the model's signals).
        method: String,
        /// The fields it waited for that are now known (`context.original_request`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        resolved_by: Vec<String>,
        /// Re-evaluations made.
        rounds: u32,
        /// How long the action was held, milliseconds.
        waited_ms: u64,
        /// When the hold ended, RFC 3339 UTC with milliseconds.
        ended_at: String,
    },
    /// Still undecided when the hold ran out: denied.
    TimedOut {
        /// Re-evaluations made before the hold ran out.
        rounds: u32,
        /// How long the action was held, milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        waited_ms: Option<u64>,
        /// The fields it waited for that never became known.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        missing: Vec<String>,
        /// When the hold ended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ended_at: Option<String>,
    },
    /// The appliance shut down while the action was held: denied (the agent is told so).
    Shutdown {
        /// Re-evaluations made before the shutdown.
        rounds: u32,
        /// How long the action was held, milliseconds.
        waited_ms: u64,
        /// When the hold ended.
        ended_at: String,
    },
    /// The cluster replica that held the action stopped (its agent's connection went with it):
    /// another replica recorded the denial.
    ReplicaLost {
        /// The replica that held it.
        replica: String,
    },
}

impl Deferral {
    /// `resolved`, `timed_out`, `shutdown` or `replica_lost`.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Resolved { .. } => "resolved",
            Self::TimedOut { .. } => "timed_out",
            Self::Shutdown { .. } => "shutdown",
            Self::ReplicaLost { .. } => "replica_lost",
        }
    }
}

/// What an executed action did, as its outcome receipt records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// The upstream's HTTP status.
    pub status: u16,
    /// 2xx or 3xx.
    pub success: bool,
    /// `sha256:` + hex of the body the agent received.
    pub output_hash: String,
    /// Size of the body the agent received, bytes.
    pub bytes: u64,
    /// From the request's arrival to the end of the response, milliseconds.
    pub duration_ms: u64,
}

/// What became of a sealed segment of the receipt chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentDisposition {
    /// Written to the archive as a compressed JSON-lines file, then pruned from the live store.
    Archived,
    /// Pruned from the live store without an archive, because the operator configured it so:
    /// the receipts are gone, and the chain records where and what they ended with.
    Dropped,
}

/// Which store a checkpoint's segment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchivedStore {
    /// A segment of the receipt chain (`first_seq..=last_seq`).
    Receipts,
    /// Closed sessions' context logs (`first_seq`, `last_seq` and `last_hash` are unused: 0, 0
    /// and empty; each session's own chain and head are in the segment).
    Context,
}

/// What a checkpoint receipt records: a sealed segment that left a live store. For the receipt
/// chain (`first_seq..=last_seq`), the receipt after the segment carries `prev_hash` =
/// `last_hash`, so the live chain verifies from the checkpoint without the archive; the
/// archive's file is checked against `content_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The receipt chain or closed sessions' context logs.
    pub store: ArchivedStore,
    /// Archived or dropped.
    pub disposition: SegmentDisposition,
    /// The segment's file, relative to the archive directory (empty when dropped).
    pub segment: String,
    /// `seq` of the segment's first receipt.
    pub first_seq: u64,
    /// `seq` of the segment's last receipt.
    pub last_seq: u64,
    /// Chain hash of the segment's last receipt.
    pub last_hash: String,
    /// Receipts (or context entries) in the segment.
    pub records: u64,
    /// `sha256:` + hex of the segment's JSON lines, uncompressed (for a dropped segment: of the
    /// lines it had).
    pub content_hash: String,
    /// Size of the segment's JSON lines, uncompressed, bytes.
    pub bytes: u64,
    /// The last `seq` of the chain that went to the archive so far (this segment's `last_seq`
    /// when archived; 0 when nothing ever was): receipts up to it must be in the archive, so a
    /// dropped segment never accounts for archived ones that went missing.
    pub archived_through: u64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn known_shapes_are_typed_and_write_back_the_same_json() {
        let written = json!({"id": "apr_1", "status": "approved", "approver": "alice",
            "reason": null, "at": "2026-01-01T00:00:00.000Z", "quorum": 1,
            "votes": [{"approver": "alice", "approve": true, "at": "2026-01-01T00:00:00.000Z", "via": "console"}]});
        let r: Recorded<Approval> = serde_json::from_value(written.clone()).unwrap();
        assert_eq!(r.typed().and_then(Approval::approver), Some("alice"));
        assert_eq!(serde_json::to_value(&r).unwrap(), written);
        let timed_out = json!({"status": "timed_out", "rounds": 3});
        let d: Recorded<Deferral> = serde_json::from_value(timed_out.clone()).unwrap();
        assert_eq!(
            d,
            Recorded::Typed(Deferral::TimedOut {
                rounds: 3,
                waited_ms: None,
                missing: vec![],
                ended_at: None
            })
        );
        assert_eq!(serde_json::to_value(&d).unwrap(), timed_out);
    }

    /// Every shape release 2026.12.6 wrote (its `json!` literals), typed and written back as is.
    #[test]
    fn every_shape_the_previous_release_wrote_is_typed() {
        fn typed<T: Serialize + DeserializeOwned>(written: Value) {
            let r: Recorded<T> = serde_json::from_value(written.clone()).unwrap();
            assert!(r.typed().is_some(), "kept as written: {written}");
            assert_eq!(serde_json::to_value(&r).unwrap(), written);
        }
        typed::<Approval>(json!({"id": "apr_1", "status": "no_approvers"}));
        typed::<Approval>(json!({"id": "apr_1", "status": "timed_out", "quorum": 2}));
        typed::<Approval>(json!({"id": "apr_1", "status": "denied", "approver": "bob",
            "reason": "not today", "at": "t", "quorum": 1,
            "votes": [{"approver": "bob", "approve": false, "comment": "not today", "at": "t", "via": "api"}]}));
        typed::<Deferral>(
            json!({"status": "resolved", "method": "context", "resolved_by": ["context.original_request"],
                "rounds": 1, "waited_ms": 12, "ended_at": "2026-01-02T03:04:05.678Z"}),
        );
        typed::<Deferral>(json!({"status": "timed_out", "rounds": 0}));
        typed::<Deferral>(
            json!({"status": "timed_out", "rounds": 2, "waited_ms": 5000,
            "missing": ["context.original_request"], "ended_at": "2026-01-02T03:04:05.678Z"}),
        );
        typed::<Deferral>(json!({"status": "shutdown", "rounds": 0, "waited_ms": 40,
            "ended_at": "2026-01-02T03:04:05.678Z"}));
        typed::<Execution>(
            json!({"status": 200, "success": true, "output_hash": "sha256:00",
            "bytes": 346, "duration_ms": 0}),
        );
    }

    #[test]
    fn other_shapes_are_kept_as_written() {
        // A missing field the type would write as null, an extra field, an unknown status.
        for written in [
            json!({"id": "apr_1", "status": "approved", "approver": "alice", "at": "t", "quorum": 1, "votes": []}),
            json!({"id": "apr_1", "status": "no_approvers", "note": "queue full"}),
            json!({"id": "apr_1", "status": "escalated"}),
        ] {
            let r: Recorded<Approval> = serde_json::from_value(written.clone()).unwrap();
            assert_eq!(r, Recorded::AsWritten(written.clone()));
            assert_eq!(serde_json::to_value(&r).unwrap(), written);
        }
    }
}
