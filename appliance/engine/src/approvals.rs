//! Pending STEP_UP approvals: the action waits on a oneshot channel until an approver decides
//! through the admin API (or the CLI), or its timeout passes.

use std::collections::HashMap;
use std::sync::Mutex;

use aarmor_core::Action;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;

/// What an approver sees.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalRequest {
    pub id: String,
    /// The decision receipt of the STEP_UP.
    pub receipt_id: String,
    pub action: Action,
    /// The evaluation context the policy saw (identity, context, intent, schema).
    pub context: Value,
    pub rule: Option<String>,
    pub reason: String,
    pub approvers: Vec<String>,
    pub created: String,
    pub expires: String,
}

/// An approver's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalAnswer {
    pub approved: bool,
    pub approver: String,
    pub reason: Option<String>,
    pub at: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApprovalError {
    #[error("no pending approval {0}")]
    NotFound(String),
    #[error("approval {0} is no longer waiting (timed out or the client went away)")]
    Gone(String),
}

struct Pending {
    request: ApprovalRequest,
    answer: oneshot::Sender<ApprovalAnswer>,
}

#[derive(Default)]
pub struct Approvals {
    pending: Mutex<HashMap<String, Pending>>,
    /// False when no approver can answer (no approvals API configured): a STEP_UP is then
    /// denied at once instead of waiting for its timeout.
    unanswerable: std::sync::atomic::AtomicBool,
}

impl Approvals {
    /// Declares whether anyone can answer (the approvals API is configured).
    pub fn set_answerable(&self, answerable: bool) {
        self.unanswerable
            .store(!answerable, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn answerable(&self) -> bool {
        !self.unanswerable.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Registers a request; the receiver resolves when someone decides.
    pub fn open(&self, request: ApprovalRequest) -> oneshot::Receiver<ApprovalAnswer> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut map) = self.pending.lock() {
            map.retain(|_, p| !p.answer.is_closed());
            map.insert(
                request.id.clone(),
                Pending {
                    request,
                    answer: tx,
                },
            );
        }
        rx
    }

    /// Removes a request whose wait ended (timeout).
    pub fn close(&self, id: &str) {
        if let Ok(mut map) = self.pending.lock() {
            map.remove(id);
        }
    }

    /// Requests still waiting, oldest first.
    pub fn list(&self) -> Vec<ApprovalRequest> {
        let Ok(mut map) = self.pending.lock() else {
            return Vec::new();
        };
        map.retain(|_, p| !p.answer.is_closed());
        let mut out: Vec<ApprovalRequest> = map.values().map(|p| p.request.clone()).collect();
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        out
    }

    pub fn get(&self, id: &str) -> Option<ApprovalRequest> {
        self.pending
            .lock()
            .ok()?
            .get(id)
            .filter(|p| !p.answer.is_closed())
            .map(|p| p.request.clone())
    }

    pub fn decide(
        &self,
        id: &str,
        answer: ApprovalAnswer,
    ) -> Result<ApprovalRequest, ApprovalError> {
        let pending = self
            .pending
            .lock()
            .ok()
            .and_then(|mut m| m.remove(id))
            .ok_or_else(|| ApprovalError::NotFound(id.to_string()))?;
        let request = pending.request.clone();
        pending
            .answer
            .send(answer)
            .map_err(|_| ApprovalError::Gone(id.to_string()))?;
        Ok(request)
    }
}
