//! Enforcing a resolution: its receipt is written first (no receipt, no action), the session
//! records it, and it becomes the verdict the data plane applies; STEP_UP and DEFER become holds.

use aarmor_core::receipt_records::{Approval, Deferral, Recorded};
use std::sync::Arc;
use std::time::Duration;

use aarmor_core::receipt::PolicyRef;
use aarmor_core::{
    Action, Decision, DecisionClass, Denial, Modification, Receipt, ReceiptDecision, ReceiptKind,
    Verdict,
};
use serde_json::Value;

use crate::policy::Resolution;
use crate::receipts::ReceiptDraft;

use super::{agent_of, evaluation_context, session_of, Inner};

/// Where a receipt stands in its action's chain.
#[derive(Debug, Clone)]
pub(super) enum Stage {
    /// The first decision about the action.
    Decision,
    /// The end of a hold (STEP_UP, DEFER) that the decision receipt `follows` began.
    Resolution { follows: String },
}

impl Stage {
    fn kind(&self) -> ReceiptKind {
        match self {
            Self::Decision => ReceiptKind::Decision,
            Self::Resolution { .. } => ReceiptKind::Resolution,
        }
    }

    fn follows(self) -> Option<String> {
        match self {
            Self::Decision => None,
            Self::Resolution { follows } => Some(follows),
        }
    }
}

/// One decision to receipt: about which action, on which input, what was decided, and what the
/// receipt records besides.
pub(super) struct Decided<'a> {
    pub(super) stage: Stage,
    pub(super) action: &'a Action,
    pub(super) input: &'a Value,
    pub(super) decision: ReceiptDecision,
    pub(super) extra: ReceiptExtra,
}

/// The DENY that ends a hold: its class, rule and reason.
pub(super) struct HeldDenial {
    pub(super) class: Option<DecisionClass>,
    pub(super) rule: Option<String>,
    pub(super) reason: String,
}

impl Inner {
    /// Writes the receipt of a decision (and streams it to the SIEM); the verdict waits for it.
    pub(super) async fn receipt(&self, decided: Decided<'_>) -> Result<Receipt, String> {
        let Decided {
            stage,
            action,
            input,
            decision,
            extra,
        } = decided;
        let draft = ReceiptDraft {
            kind: stage.kind(),
            follows: stage.follows(),
            action: action.clone(),
            context: evaluation_context(input),
            decision,
            modification: extra.modification,
            approval: extra.approval.map(Recorded::from),
            deferral: extra.deferral.map(Recorded::from),
            execution: None,
            checkpoint: None,
        };
        let receipt = self
            .receipts
            .append(draft)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(t) = &self.telemetry {
            t.receipt(&receipt);
        }
        Ok(receipt)
    }
}

#[derive(Default)]
pub(super) struct ReceiptExtra {
    pub(super) modification: Option<Value>,
    pub(super) approval: Option<Approval>,
    pub(super) deferral: Option<Deferral>,
}

pub(super) fn receipt_failure(e: &str) -> Verdict {
    tracing::error!(error = %e, "cannot write the receipt; denying (fail closed)");
    Verdict::Deny(Denial {
        rule: None,
        reason: format!("the decision could not be receipted ({e}); refused"),
    })
}

/// What an enforced decision becomes, once decided (no holds).
pub(super) fn final_verdict(action: &Action, res: &Resolution) -> Verdict {
    match res.decision {
        Decision::Allow => Verdict::Allow,
        Decision::Modify => Verdict::Modify(Modification {
            rule: res.rule.clone(),
            reason: res.reason.clone(),
            parameters: res
                .modify
                .as_ref()
                .map(|p| p.apply(&action.parameters))
                .unwrap_or_else(|| action.parameters.clone()),
        }),
        _ => Verdict::Deny(Denial {
            rule: res.rule.clone(),
            reason: res.reason.clone(),
        }),
    }
}

impl Inner {
    /// Enforces a resolution: receipts it and turns it into a verdict (holds included).
    pub(super) async fn enforce(
        self: &Arc<Self>,
        action: &Action,
        input: Value,
        res: Resolution,
        policy: PolicyRef,
        stage: Stage,
        mut extra: ReceiptExtra,
    ) -> Verdict {
        let monitored = self.monitored(action);
        let kind = stage.kind();
        if res.decision == Decision::Modify && !monitored {
            if let Verdict::Modify(m) = final_verdict(action, &res) {
                extra.modification = Some(Value::Object(m.parameters));
            }
        }
        let receipt = match self
            .receipt(Decided {
                stage,
                action,
                input: &input,
                decision: ReceiptDecision {
                    result: res.decision,
                    class: res.class,
                    rule: res.rule.clone(),
                    reason: res.reason.clone(),
                    enforced: !monitored,
                    policy: policy.clone(),
                },
                extra,
            })
            .await
        {
            Ok(r) => r,
            Err(e) => return receipt_failure(&e),
        };
        if action.is_llm_request() {
            // Receipted above; not one of the session's prior actions.
        } else if kind == ReceiptKind::Decision {
            self.context.record_decision(
                &session_of(action),
                agent_of(action),
                action,
                res.decision.as_str(),
                res.rule.as_deref(),
                !monitored,
            );
        } else {
            self.context.record_resolution(
                &session_of(action),
                agent_of(action),
                action,
                res.decision.as_str(),
                res.rule.as_deref(),
            );
        }
        if !action.is_llm_request() {
            self.share(&session_of(action));
        }
        if monitored || matches!(res.decision, Decision::Allow | Decision::Modify) {
            self.remember_run(&receipt);
        }
        if monitored {
            tracing::info!(action = %action.action_id, decision = %res.decision, rule = ?res.rule, "monitor mode: decision recorded, action allowed");
            if res.decision == Decision::Defer {
                // Monitor mode reports what enforcement would decide: the deferral is resolved
                // the same way, in the background, and its resolution receipted.
                if let Verdict::Hold(hold) =
                    self.defer(action.clone(), res, policy, receipt.receipt_id)
                {
                    self.background.send_modify(|n| *n += 1);
                    let inner = self.clone();
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(hold.timeout, hold.resolution).await;
                        inner.background.send_modify(|n| *n = n.saturating_sub(1));
                    });
                }
            }
            return Verdict::Allow;
        }
        match res.decision {
            Decision::StepUp => {
                self.step_up(action.clone(), input, res, policy, receipt.receipt_id)
            }
            Decision::Defer => self.defer(action.clone(), res, policy, receipt.receipt_id),
            _ => final_verdict(action, &res),
        }
    }

    /// Receipts the DENY that ends a hold (no approver can answer, a deferral timed out) and
    /// records it in the session.
    pub(super) async fn deny_held(
        &self,
        action: &Action,
        input: &Value,
        follows: String,
        denial: HeldDenial,
        policy: &PolicyRef,
        extra: ReceiptExtra,
    ) -> Verdict {
        let HeldDenial {
            class,
            rule,
            reason: why,
        } = denial;
        let receipt = self
            .receipt(Decided {
                stage: Stage::Resolution { follows },
                action,
                input,
                decision: ReceiptDecision {
                    result: Decision::Deny,
                    class,
                    rule: rule.clone(),
                    reason: why.clone(),
                    enforced: !self.monitored(action),
                    policy: policy.clone(),
                },
                extra,
            })
            .await;
        if let Err(e) = receipt {
            return receipt_failure(&e);
        }
        self.context.record_resolution(
            &session_of(action),
            agent_of(action),
            action,
            Decision::Deny.as_str(),
            rule.as_deref(),
        );
        self.share(&session_of(action));
        Verdict::Deny(Denial { rule, reason: why })
    }

    pub(super) fn remember_run(&self, receipt: &Receipt) {
        if let Ok(mut ran) = self.ran.lock() {
            ran.put(
                receipt.action.action_id.0.clone(),
                (receipt.receipt_id.clone(), receipt.decision.clone()),
            );
        }
    }

    pub(super) fn hold_limit(&self, wanted: Option<Duration>, default_s: u64) -> Duration {
        wanted
            .unwrap_or(Duration::from_secs(default_s))
            .min(self.max_hold.saturating_sub(Duration::from_millis(500)))
            .max(Duration::from_millis(1))
    }
}
