//! Pending STEP_UP approvals and their routing: the held action waits until enough approvers
//! of its groups approve (quorum), one denies, or its timeout passes; unanswered, it is offered
//! to backup groups after the escalation window. Approvers answer through the admin API, the
//! web console or `aarmor approvals`.

pub mod directory;
pub mod notify;
pub mod remote;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use aarmor_core::Action;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{oneshot, watch};

pub use directory::{Approver, Directory};
pub use notify::Notifier;
pub use remote::RemoteApprovals;

/// One approver's answer (as resolution receipts record it).
pub use aarmor_core::receipt_records::Vote;

/// What an approver sees.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApprovalRequest {
    pub id: String,
    /// The decision receipt of the STEP_UP.
    pub receipt_id: String,
    pub action: Action,
    /// The evaluation context the policy saw (identity, context, intent, schema).
    pub context: Value,
    pub rule: Option<String>,
    pub reason: String,
    /// `low`, `medium`, `high` or `critical`, from the data touched, drift and provenance.
    pub risk: String,
    /// Groups that may answer (empty: every approver).
    pub approvers: Vec<String>,
    /// Approvals needed.
    pub quorum: u32,
    /// Backup groups, asked from `escalates_at` on.
    pub escalate_to: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalates_at: Option<String>,
    pub escalated: bool,
    pub votes: Vec<Vote>,
    pub created: String,
    pub expires: String,
}

impl ApprovalRequest {
    /// Groups that may answer now.
    pub fn eligible_groups(&self) -> Vec<String> {
        let mut g = self.approvers.clone();
        if self.escalated {
            g.extend(self.escalate_to.iter().cloned());
        }
        g
    }
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalAnswer {
    pub approved: bool,
    /// The approver whose vote decided.
    pub approver: String,
    /// Their comment.
    pub reason: Option<String>,
    pub at: String,
    /// Every vote, in order.
    pub votes: Vec<Vote>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "error", content = "detail", rename_all = "snake_case")]
pub enum ApprovalError {
    #[error("no pending approval {0}")]
    NotFound(String),
    #[error("approval {0} is no longer waiting (timed out or the client went away)")]
    Gone(String),
    #[error("{0} is not an approver of this action (groups: {1})")]
    NotEligible(String, String),
    #[error("{0} cannot approve an action of their own")]
    SelfApproval(String),
    #[error("{0} has already answered this approval")]
    AlreadyVoted(String),
    /// The replica holding the action could not be reached (`[cluster]`).
    #[error("approval {0} is held by replica {1}, which did not answer: {2}")]
    Unreachable(String, String, String),
    /// The operator token names a configured approver: it may answer for automation, never as
    /// one of the people whose distinct votes make a quorum.
    #[error("the operator token cannot answer as approver {0}: they answer with their own token")]
    OperatorAsApprover(String),
}

/// The result of one vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum VoteOutcome {
    Approved,
    Denied,
    /// More approvals are needed.
    Waiting {
        approvals: u32,
        quorum: u32,
    },
}

struct Pending {
    request: ApprovalRequest,
    answer: Option<oneshot::Sender<ApprovalAnswer>>,
}

impl Pending {
    fn alive(&self) -> bool {
        self.answer.as_ref().is_some_and(|a| !a.is_closed())
    }
}

pub struct Approvals {
    pending: Mutex<HashMap<String, Pending>>,
    directory: RwLock<Arc<Directory>>,
    notifier: RwLock<Option<Arc<Notifier>>>,
    /// Bumped on every change, for live views.
    version: watch::Sender<u64>,
    /// Actions waiting for an answer now (`aarmor_approvals_pending`), set on every change.
    pending_gauge: Option<prometheus::IntGauge>,
    /// `[cluster]`: the approvals other replicas hold.
    remote: RwLock<Option<Arc<dyn RemoteApprovals>>>,
}

impl Default for Approvals {
    fn default() -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
            directory: RwLock::new(Arc::new(Directory::default())),
            notifier: RwLock::new(None),
            version: watch::channel(0).0,
            pending_gauge: prometheus::IntGauge::new(
                "approvals_pending",
                "Actions held for approval (STEP_UP) now",
            )
            .ok(),
            remote: RwLock::new(None),
        }
    }
}

impl Approvals {
    /// Sets who may answer and who hears of approvals.
    pub fn configure(&self, directory: Directory, notifier: Option<Notifier>) {
        if let Ok(mut d) = self.directory.write() {
            *d = Arc::new(directory);
        }
        if let Ok(mut n) = self.notifier.write() {
            *n = notifier.map(Arc::new);
        }
    }

    /// Shows and answers the approvals other cluster replicas hold.
    pub fn set_remote(&self, remote: Arc<dyn RemoteApprovals>) {
        if let Ok(mut r) = self.remote.write() {
            *r = Some(remote);
        }
    }

    fn remote(&self) -> Option<Arc<dyn RemoteApprovals>> {
        self.remote.read().ok().and_then(|r| r.clone())
    }

    /// Tells live views that the approvals other replicas hold changed.
    pub fn remote_changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    pub fn directory(&self) -> Arc<Directory> {
        match self.directory.read() {
            Ok(d) => d.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Whether anyone can answer (else a STEP_UP is denied at once).
    pub fn answerable(&self) -> bool {
        self.directory().anyone()
    }

    /// A receiver of change notifications (the value is a counter).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Called after every change, never with `pending` locked.
    fn changed(&self) {
        if let (Some(g), Ok(map)) = (&self.pending_gauge, self.pending.lock()) {
            g.set(map.values().filter(|p| p.alive()).count() as i64);
        }
        self.version.send_modify(|v| *v += 1);
    }

    /// Exports `aarmor_approvals_pending`.
    pub fn register(&self, registry: &prometheus::Registry) {
        if let Some(g) = &self.pending_gauge {
            if let Err(e) = registry.register(Box::new(g.clone())) {
                tracing::warn!(error = %e, "cannot register the approvals metric");
            }
        }
    }

    fn notify(&self, event: &str, request: &ApprovalRequest, status: Option<&str>) {
        let notifier = self.notifier.read().ok().and_then(|n| n.clone());
        if let Some(n) = notifier {
            n.send(event, request, status);
        }
    }

    /// Whether one more request of `agent` may wait: `Err` says why not (the queue, or the
    /// agent's share of it, is full).
    pub fn has_room(&self, agent: &str) -> Result<(), String> {
        let directory = self.directory();
        let (max, max_per_agent) = (directory.max_pending, directory.max_pending_per_agent);
        let Ok(mut map) = self.pending.lock() else {
            return Err("the approval queue is unavailable".into());
        };
        map.retain(|_, p| p.alive());
        // 0: no limit (a directory nobody configured).
        if max > 0 && map.len() >= max {
            return Err(format!(
                "{} actions already wait for approval (approvals.max_pending)",
                map.len()
            ));
        }
        let mine = map
            .values()
            .filter(|p| p.request.action.identity.agent.as_deref() == Some(agent))
            .count();
        if max_per_agent > 0 && mine >= max_per_agent {
            return Err(format!(
                "agent {agent} already has {mine} actions waiting for approval (approvals.max_pending_per_agent)"
            ));
        }
        Ok(())
    }

    /// Registers a request; the receiver resolves when it is decided.
    pub fn open(&self, request: ApprovalRequest) -> oneshot::Receiver<ApprovalAnswer> {
        let (tx, rx) = oneshot::channel();
        self.notify("approval.requested", &request, None);
        if let Ok(mut map) = self.pending.lock() {
            map.retain(|_, p| p.alive());
            map.insert(
                request.id.clone(),
                Pending {
                    request,
                    answer: Some(tx),
                },
            );
        }
        self.changed();
        rx
    }

    /// Offers a request to its backup groups (its escalation window passed).
    pub fn escalate(&self, id: &str) {
        let request = self.pending.lock().ok().and_then(|mut map| {
            let p = map.get_mut(id).filter(|p| p.alive())?;
            if p.request.escalated || p.request.escalate_to.is_empty() {
                return None;
            }
            p.request.escalated = true;
            Some(p.request.clone())
        });
        if let Some(r) = request {
            tracing::info!(approval = %id, to = ?r.escalate_to, "approval escalated to backup approvers");
            self.notify("approval.escalated", &r, None);
            self.changed();
        }
    }

    /// Removes a request whose wait ended without a decision (timed out, the client went
    /// away), telling notifiers. Decided requests leave when their deciding vote arrives.
    pub fn close(&self, id: &str, outcome: &str) {
        let removed = self.pending.lock().ok().and_then(|mut map| map.remove(id));
        if let Some(p) = removed {
            self.notify("approval.resolved", &p.request, Some(outcome));
            self.changed();
        }
    }

    /// Requests still waiting, oldest first.
    /// The pending approvals `approver` may see: those routed to one of their groups (or to no
    /// group); the operator token sees all.
    pub fn list_for(&self, approver: &Approver) -> Vec<ApprovalRequest> {
        self.list()
            .into_iter()
            .filter(|r| routed_to(r, approver))
            .collect()
    }

    /// One pending approval, if `approver` may see it.
    pub fn get_for(&self, id: &str, approver: &Approver) -> Option<ApprovalRequest> {
        self.get(id).filter(|r| routed_to(r, approver))
    }

    /// Every pending approval: this replica's, and (`[cluster]`) those other replicas hold.
    pub fn list(&self) -> Vec<ApprovalRequest> {
        let mut out = self.list_local();
        if let Some(remote) = self.remote() {
            let local: std::collections::HashSet<String> =
                out.iter().map(|r| r.id.clone()).collect();
            out.extend(
                remote
                    .held_elsewhere()
                    .into_iter()
                    .filter(|r| !local.contains(&r.id)),
            );
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        out
    }

    /// The approvals this replica holds.
    pub fn list_local(&self) -> Vec<ApprovalRequest> {
        let Ok(mut map) = self.pending.lock() else {
            return Vec::new();
        };
        map.retain(|_, p| p.alive());
        let mut out: Vec<ApprovalRequest> = map.values().map(|p| p.request.clone()).collect();
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        out
    }

    pub fn get(&self, id: &str) -> Option<ApprovalRequest> {
        let local = self
            .pending
            .lock()
            .ok()?
            .get(id)
            .filter(|p| p.alive())
            .map(|p| p.request.clone());
        local.or_else(|| {
            self.remote()?
                .held_elsewhere()
                .into_iter()
                .find(|r| r.id == id)
        })
    }

    /// [`Self::vote`] on an approval whichever replica holds it (`[cluster]`).
    pub async fn vote_anywhere(
        &self,
        id: &str,
        approver: &Approver,
        approve: bool,
        comment: Option<String>,
        via: &str,
    ) -> Result<VoteOutcome, ApprovalError> {
        match self.vote(id, approver, approve, comment.clone(), via) {
            Err(ApprovalError::NotFound(_)) => {}
            other => return other,
        }
        let Some(remote) = self.remote() else {
            return Err(ApprovalError::NotFound(id.to_string()));
        };
        remote
            .vote(id, approver, approve, comment, via)
            .await
            .unwrap_or_else(|| Err(ApprovalError::NotFound(id.to_string())))
    }

    /// Whether `approver` may answer `request` now.
    pub fn may_answer(
        &self,
        request: &ApprovalRequest,
        approver: &Approver,
    ) -> Result<(), ApprovalError> {
        let directory = self.directory();
        let groups = request.eligible_groups();
        if !approver.operator
            && !groups.is_empty()
            && !groups.iter().any(|g| approver.groups.contains(g))
        {
            return Err(ApprovalError::NotEligible(
                approver.name.clone(),
                groups.join(", "),
            ));
        }
        let human = request.action.identity.human.as_deref();
        if !directory.allow_self_approval
            && human.is_some_and(|h| {
                h.eq_ignore_ascii_case(&approver.principal)
                    || h.eq_ignore_ascii_case(&approver.name)
            })
        {
            return Err(ApprovalError::SelfApproval(approver.name.clone()));
        }
        Ok(())
    }

    /// Records a vote: one denial refuses, `quorum` distinct approvals approve.
    pub fn vote(
        &self,
        id: &str,
        approver: &Approver,
        approve: bool,
        comment: Option<String>,
        via: &str,
    ) -> Result<VoteOutcome, ApprovalError> {
        let mut map = self
            .pending
            .lock()
            .map_err(|_| ApprovalError::NotFound(id.to_string()))?;
        let pending = map
            .get_mut(id)
            .ok_or_else(|| ApprovalError::NotFound(id.to_string()))?;
        if !pending.alive() {
            map.remove(id);
            return Err(ApprovalError::Gone(id.to_string()));
        }
        self.may_answer(&pending.request, approver)?;
        if approver.operator && self.directory().is_approver(&approver.name) {
            return Err(ApprovalError::OperatorAsApprover(approver.name.clone()));
        }
        // Distinct votes: one per approver, and one for the operator token whatever names it
        // gives (one token cannot complete a quorum alone).
        let voted = pending
            .request
            .votes
            .iter()
            .any(|v| v.approver == approver.name || (approver.operator && v.via == "operator"));
        if voted {
            let who = if approver.operator {
                "the operator token".to_string()
            } else {
                approver.name.clone()
            };
            return Err(ApprovalError::AlreadyVoted(who));
        }
        let vote = Vote {
            approver: approver.name.clone(),
            approve,
            comment: comment.clone(),
            at: aarmor_core::timestamp::now_rfc3339_millis(),
            via: if approver.operator {
                "operator".into()
            } else {
                via.to_string()
            },
        };
        pending.request.votes.push(vote.clone());
        let approvals = pending.request.votes.iter().filter(|v| v.approve).count() as u32;
        let quorum = pending.request.quorum.max(1);
        let outcome = if !approve {
            VoteOutcome::Denied
        } else if approvals >= quorum {
            VoteOutcome::Approved
        } else {
            VoteOutcome::Waiting { approvals, quorum }
        };
        let mut decided = None;
        if !matches!(outcome, VoteOutcome::Waiting { .. }) {
            let answer = ApprovalAnswer {
                approved: outcome == VoteOutcome::Approved,
                approver: vote.approver,
                reason: comment,
                at: vote.at,
                votes: pending.request.votes.clone(),
            };
            let sent = pending.answer.take().map(|tx| tx.send(answer));
            let request = map.remove(id).map(|p| p.request);
            if !matches!(sent, Some(Ok(()))) {
                return Err(ApprovalError::Gone(id.to_string()));
            }
            decided = request;
        }
        drop(map);
        if let Some(r) = decided {
            let status = if outcome == VoteOutcome::Approved {
                "approved"
            } else {
                "denied"
            };
            self.notify("approval.resolved", &r, Some(status));
        }
        self.changed();
        Ok(outcome)
    }
}

/// Whether an approval is routed to `approver`: an operator token, an approval routed to no
/// group, or one of the approver's groups among those it is routed to.
fn routed_to(request: &ApprovalRequest, approver: &Approver) -> bool {
    let groups = request.eligible_groups();
    approver.operator || groups.is_empty() || groups.iter().any(|g| approver.groups.contains(g))
}

/// How risky a held action looks to an approver: data classes touched, drift and argument
/// provenance in the evaluation context.
pub fn risk_level(context: &Value) -> &'static str {
    let class = context
        .pointer("/context/max_data_class")
        .and_then(Value::as_str)
        .unwrap_or("");
    let drift = context
        .pointer("/intent/drift")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let from_tools = context
        .pointer("/intent/provenance")
        .and_then(Value::as_object)
        .is_some_and(|p| p.values().any(|v| v == "tool_output"));
    let unverified = context
        .pointer("/identity/unverified")
        .and_then(Value::as_array)
        .is_some_and(|u| !u.is_empty());
    let header_human = context
        .pointer("/identity/evidence/human")
        .and_then(Value::as_str)
        == Some("unverified_header");
    let mut score = 0;
    score += match class {
        "RESTRICTED" => 2,
        "CONFIDENTIAL" => 1,
        _ => 0,
    };
    score += u32::from(drift >= 0.7) * 2 + u32::from((0.5..0.7).contains(&drift));
    score += u32::from(from_tools) * 2 + u32::from(unverified) * 2 + u32::from(header_human);
    match score {
        0 => "low",
        1 | 2 => "medium",
        3 | 4 => "high",
        _ => "critical",
    }
}

#[cfg(test)]
mod tests;
