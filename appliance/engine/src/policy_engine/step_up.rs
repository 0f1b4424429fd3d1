//! STEP_UP: the action is held until approvers answer (quorum, escalation, self-approval
//! refused) or the hold times out; the answer is receipted as the resolution.

use aarmor_core::ids::next_id;
use aarmor_core::receipt_records::{Approval, ApprovalAnswered};
use std::sync::Arc;
use std::time::Duration;

use aarmor_core::receipt::PolicyRef;
use aarmor_core::{Action, Decision, Denial, Hold, ReceiptDecision, Verdict};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::approvals::{ApprovalAnswer, ApprovalRequest};
use crate::policy::Resolution;

use super::{
    agent_of, evaluation_context, in_future, receipt_failure, session_of, shutting_down, Decided,
    HeldDenial, Inner, ReceiptExtra, Stage,
};

/// A STEP_UP waiting for its approval: what the hold needs once the answer (or the timeout)
/// comes.
struct HeldApproval {
    id: String,
    quorum: u32,
    limit: Duration,
    /// When the approval moves on to the escalation groups, if it does.
    escalate_after: Option<Duration>,
    answer: oneshot::Receiver<ApprovalAnswer>,
    action: Action,
    input: Value,
    res: Resolution,
    policy: PolicyRef,
    /// The decision receipt the resolution follows.
    receipt_id: String,
    /// `[cluster]`: the lease term the hold began in (see `shared::Lease`).
    term: u64,
}

impl Inner {
    /// Holds the action for approval: opens the approval and returns the hold that resolves when
    /// it is answered or times out. With nobody to answer it, the hold resolves at once to DENY.
    pub(super) fn step_up(
        self: &Arc<Self>,
        action: Action,
        input: Value,
        res: Resolution,
        policy: PolicyRef,
        receipt_id: String,
    ) -> Verdict {
        let limit = self.hold_limit(res.timeout, self.settings.step_up_timeout_s);
        let id = next_id("apr");
        let room = self.approvals.has_room(agent_of(&action));
        if !self.approvals.answerable() || room.is_err() {
            // Nobody can answer, or the queue is full: denied now, not after the timeout.
            let why = match room {
                Err(e) => format!("{} — approval required, but {e}; refused", res.reason),
                Ok(()) => format!(
                    "{} — approval required, but no approver is configured ([approvals] token or approvers); refused",
                    res.reason
                ),
            };
            tracing::warn!(action = %action.action_id, rule = ?res.rule, "STEP_UP with no approvals API configured; denied at once");
            let inner = self.clone();
            return Verdict::Hold(Hold {
                reason: why.clone(),
                timeout: Duration::from_secs(5),
                resolution: Box::pin(async move {
                    let extra = ReceiptExtra {
                        approval: Some(Approval::NoApprovers { id }),
                        ..Default::default()
                    };
                    let denial = HeldDenial {
                        class: res.class,
                        rule: res.rule,
                        reason: why,
                    };
                    inner
                        .deny_held(&action, &input, receipt_id, denial, &policy, extra)
                        .await
                }),
            });
        }
        let (request, escalate_after) =
            self.approval_request(&id, &receipt_id, &action, &input, &res, limit);
        let quorum = request.quorum;
        let answer = self.approvals.open(request);
        tracing::info!(action = %action.action_id, approval = %id, timeout_s = limit.as_secs(), quorum, rule = ?res.rule, "action held for approval (STEP_UP)");
        let reason = format!("approval {id}: {}", res.reason);
        let held = HeldApproval {
            id,
            quorum,
            limit,
            escalate_after,
            answer,
            action,
            input,
            res,
            policy,
            receipt_id,
            term: self.lease_term(),
        };
        let holding = self.holding();
        let resolution = self.clone().await_approval(held);
        Verdict::Hold(Hold {
            reason,
            timeout: limit + Duration::from_secs(2),
            resolution: Box::pin(async move {
                let _holding = holding;
                resolution.await
            }),
        })
    }

    /// The approval approvers see: who may answer (the rule's route, else the directory's
    /// defaults), the quorum, and when it escalates (never past the hold's limit).
    fn approval_request(
        &self,
        id: &str,
        receipt_id: &str,
        action: &Action,
        input: &Value,
        res: &Resolution,
        limit: Duration,
    ) -> (ApprovalRequest, Option<Duration>) {
        let directory = self.approvals.directory();
        let route = &res.route;
        let groups = if route.groups.is_empty() {
            directory.default_groups.clone()
        } else {
            route.groups.clone()
        };
        let escalate_to = if route.escalate_to.is_empty() {
            directory.escalate_to.clone()
        } else {
            route.escalate_to.clone()
        };
        let escalate_after = route.escalate_after.or_else(|| {
            (directory.escalate_after_s > 0)
                .then(|| Duration::from_secs(directory.escalate_after_s))
        });
        let escalate_after = escalate_after.filter(|w| !escalate_to.is_empty() && *w < limit);
        if let Some(g) = groups.iter().find(|g| !directory.groups.contains(*g)) {
            tracing::warn!(approval = %id, group = %g, rule = ?res.rule, "a rule routes approvals to a group that [approvals.groups] does not define: only its defined groups and the operator token can answer");
        }
        let context = evaluation_context(input);
        let request = ApprovalRequest {
            id: id.to_string(),
            receipt_id: receipt_id.to_string(),
            action: action.clone(),
            risk: crate::approvals::risk_level(&context).to_string(),
            context,
            rule: res.rule.clone(),
            reason: res.reason.clone(),
            approvers: groups,
            quorum: route.quorum.max(1),
            escalate_to,
            escalates_at: escalate_after.map(in_future),
            escalated: false,
            votes: Vec::new(),
            created: aarmor_core::timestamp::now_rfc3339_millis(),
            expires: in_future(limit),
        };
        (request, escalate_after)
    }

    /// Waits for the answer (escalating once its window passes), then receipts the resolution,
    /// records it in the session, and returns the verdict.
    async fn await_approval(self: Arc<Self>, held: HeldApproval) -> Verdict {
        let HeldApproval {
            id,
            quorum,
            limit,
            escalate_after,
            mut answer,
            action,
            input,
            res,
            policy,
            receipt_id,
            term,
        } = held;
        let started = tokio::time::Instant::now();
        let deadline = started + limit;
        let mut shutdown = self.shutdown.subscribe();
        let wait = async {
            match escalate_after {
                Some(window) => match tokio::time::timeout(window, &mut answer).await {
                    Ok(r) => Ok(r),
                    Err(_) => {
                        self.approvals.escalate(&id);
                        tokio::time::timeout_at(deadline, answer).await
                    }
                },
                None => tokio::time::timeout_at(deadline, answer).await,
            }
        };
        let outcome = tokio::select! {
            outcome = wait => Some(outcome),
            _ = shutting_down(&mut shutdown) => None,
        };
        let (decision, why, approval) = match outcome {
            None => (
                Decision::Deny,
                format!("aarmor is shutting down; approval {id} was not given and the action is refused"),
                Approval::Shutdown {
                    id: id.clone(),
                    waited_ms: started.elapsed().as_millis() as u64,
                    ended_at: aarmor_core::timestamp::now_rfc3339_millis(),
                },
            ),
            Some(outcome) => match outcome {
            Ok(Ok(_)) if !self.may_release(term) => (
                // Other replicas may have recorded this hold as lost and denied: it is not
                // released now, whatever the answer (one action never ends both ways).
                Decision::Deny,
                format!("approval {id} answered, but this replica lost touch with the cluster while it held the action (its holds count as lost); refused"),
                Approval::ReplicaLost {
                    id: id.clone(),
                    replica: self.replica_name(),
                },
            ),
            Ok(Ok(a)) => answered(&id, quorum, &a, &action),
            _ => (
                Decision::Deny,
                format!("approval {id} not given within {} s", limit.as_secs()),
                Approval::TimedOut {
                    id: id.clone(),
                    quorum,
                },
            ),
            },
        };
        self.approvals.close(&id, approval.status());
        let receipt = self
            .receipt(Decided {
                stage: Stage::Resolution {
                    follows: receipt_id,
                },
                action: &action,
                input: &input,
                decision: ReceiptDecision {
                    result: decision,
                    class: res.class,
                    rule: res.rule.clone(),
                    reason: why.clone(),
                    enforced: true,
                    policy: policy.clone(),
                },
                extra: ReceiptExtra {
                    approval: Some(approval),
                    ..Default::default()
                },
            })
            .await;
        match &receipt {
            Err(e) => return receipt_failure(e),
            Ok(r) if decision == Decision::Allow => self.remember_run(r),
            Ok(_) => {}
        }
        self.context.record_resolution(
            &session_of(&action),
            agent_of(&action),
            &action,
            decision.as_str(),
            res.rule.as_deref(),
        );
        self.share(&session_of(&action));
        if decision == Decision::Allow {
            Verdict::Allow
        } else {
            Verdict::Deny(Denial {
                rule: res.rule,
                reason: why,
            })
        }
    }
}

/// What an answer decides: an approval allows unless the action's credentials expired while it
/// was held; a denial denies.
fn answered(
    id: &str,
    quorum: u32,
    a: &ApprovalAnswer,
    action: &Action,
) -> (Decision, String, Approval) {
    let now = aarmor_core::timestamp::now_rfc3339_millis();
    let record = approval_record(id, quorum, a);
    if a.approved && crate::identity::expired(&action.identity, &now) {
        let why = format!(
            "approved by {}, but the credentials behind the action's identity expired at {} while it was held; refused",
            a.approver,
            action.identity.expires.as_deref().unwrap_or("?")
        );
        return (Decision::Deny, why, record);
    }
    if a.approved {
        return (
            Decision::Allow,
            format!("approved by {}", approvers_of(a)),
            record,
        );
    }
    let comment = a
        .reason
        .as_ref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    (
        Decision::Deny,
        format!("denied by {}{comment}", a.approver),
        record,
    )
}

/// What a resolution receipt records of an answered approval: every approver's identity,
/// decision, comment and time, and who decided.
pub(super) fn approval_record(id: &str, quorum: u32, a: &ApprovalAnswer) -> Approval {
    let answered = ApprovalAnswered {
        id: id.to_string(),
        approver: a.approver.clone(),
        reason: a.reason.clone(),
        at: a.at.clone(),
        quorum,
        votes: a.votes.clone(),
    };
    if a.approved {
        Approval::Approved(answered)
    } else {
        Approval::Denied(answered)
    }
}

pub(super) fn approvers_of(a: &ApprovalAnswer) -> String {
    let names: Vec<&str> = a
        .votes
        .iter()
        .filter(|v| v.approve)
        .map(|v| v.approver.as_str())
        .collect();
    if names.is_empty() {
        a.approver.clone()
    } else {
        names.join(", ")
    }
}
