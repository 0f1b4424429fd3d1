//! Approvals held by other cluster replicas: the console and the API of every replica show
//! one queue, and an answer given on any replica reaches the replica that holds the action.

use async_trait::async_trait;

use super::{ApprovalError, ApprovalRequest, Approver, VoteOutcome};

/// What another replica holds, and how to answer it (implemented over Redis by
/// `crate::cluster`).
#[async_trait]
pub trait RemoteApprovals: Send + Sync {
    /// Approvals other replicas hold now (a recent copy; it is kept fresh in the background).
    fn held_elsewhere(&self) -> Vec<ApprovalRequest>;

    /// Casts a vote on an approval another replica holds: `None` when no replica holds `id`.
    async fn vote(
        &self,
        id: &str,
        approver: &Approver,
        approve: bool,
        comment: Option<String>,
        via: &str,
    ) -> Option<Result<VoteOutcome, ApprovalError>>;
}
