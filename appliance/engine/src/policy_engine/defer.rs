//! DEFER: the action is held until what it waits for arrives (the session's context, the
//! model's signals) and is decided again, or the hold times out; either end is receipted.

use aarmor_core::receipt_records::Deferral;
use std::sync::Arc;
use std::time::Duration;

use aarmor_core::receipt::PolicyRef;
use aarmor_core::{Action, Decision, DecisionClass, Denial, Hold, SessionId, Verdict};

use crate::policy::Resolution;

use super::{agent_of, session_of, HeldDenial, Inner, ReceiptExtra, Stage};

impl Inner {
    pub(super) fn defer(
        self: &Arc<Self>,
        mut action: Action,
        res: Resolution,
        policy: PolicyRef,
        receipt_id: String,
    ) -> Verdict {
        let limit = self.hold_limit(res.timeout, self.settings.defer_timeout_s);
        let inner = self.clone();
        let mut changes = self.context_changed.subscribe();
        tracing::info!(action = %action.action_id, timeout_s = limit.as_secs(), rule = ?res.rule, "action deferred until the context resolves it");
        Verdict::Hold(Hold {
            reason: format!("deferred: {}", res.reason),
            timeout: limit + Duration::from_secs(2),
            resolution: Box::pin(async move {
                let started = tokio::time::Instant::now();
                let deadline = started + limit;
                let mut rounds = 0u32;
                // A deferral that waits on the model (its signal missed `timeout_ms` under
                // load) is resolved as soon as the model answers, not at the next context
                // change: the decision does not depend on whether other traffic arrives.
                let mut model_wait = res.candidates.iter().any(|c| {
                    c.decision == Decision::Defer
                        && c.requires.iter().any(|r| r.starts_with("intent."))
                });
                let waited_for = if model_wait { "intent" } else { "context" };
                loop {
                    let patience = model_wait
                        .then(|| deadline.saturating_duration_since(tokio::time::Instant::now()));
                    let changed = if model_wait {
                        model_wait = false;
                        Ok(Ok(()))
                    } else {
                        tokio::time::timeout_at(deadline, changes.changed()).await
                    };
                    if !matches!(changed, Ok(Ok(()))) {
                        let why =
                            format!("deferred action not resolved within {} s", limit.as_secs());
                        let input = inner.input(&action, &inner.current());
                        let extra = ReceiptExtra {
                            deferral: Some(Deferral::TimedOut { rounds }),
                            ..Default::default()
                        };
                        return inner
                            .deny_held(
                                &action,
                                &input,
                                receipt_id.clone(),
                                HeldDenial {
                                    class: Some(DecisionClass::ContextDefer),
                                    rule: res.rule.clone(),
                                    reason: why,
                                },
                                &policy,
                                extra,
                            )
                            .await;
                    }
                    rounds += 1;
                    // An action that came before any conversation of its agent was known sits
                    // in the agent's default session; once the agent has an active session, the
                    // action is evaluated in it (the rest of its identity is unchanged).
                    let agent = agent_of(&action).to_string();
                    if session_of(&action) == SessionId::agent_default(&agent) {
                        let active = inner.context.active_session(&agent);
                        if let Some(s) = active.filter(|s| *s != session_of(&action)) {
                            action.identity.session = Some(s.0);
                        }
                    }
                    let set = inner.current();
                    let mut input = inner.input(&action, &set);
                    let mut again = inner
                        .decide_within(&set, &mut input, &action, patience)
                        .await;
                    if again.decision == Decision::Defer {
                        if rounds < inner.settings.max_deferrals {
                            continue;
                        }
                        again.decision = Decision::Deny;
                        again.reason = format!(
                            "deferred {rounds} times without being resolved: {}",
                            again.reason
                        );
                    }
                    tracing::info!(action = %action.action_id, decision = %again.decision, rounds, "deferred action re-evaluated");
                    let verdict = Box::pin(inner.enforce(
                        &action,
                        input,
                        again,
                        set.policy.clone(),
                        Stage::Resolution {
                            follows: receipt_id.clone(),
                        },
                        ReceiptExtra {
                            deferral: Some(Deferral::Resolved {
                                rounds,
                                waited_for: waited_for.to_string(),
                                waited_ms: started.elapsed().as_millis() as u64,
                            }),
                            ..ReceiptExtra::default()
                        },
                    ))
                    .await;
                    // A resolution that is itself held (STEP_UP) is waited for here.
                    return match verdict {
                        Verdict::Hold(h) => match tokio::time::timeout(h.timeout, h.resolution).await {
                            Ok(v @ (Verdict::Allow | Verdict::Deny(_) | Verdict::Modify(_))) => v,
                            _ => Verdict::Deny(Denial {
                                rule: res.rule.clone(),
                                reason: "the deferred action's follow-up decision was not resolved in time".into(),
                            }),
                        },
                        v => v,
                    };
                }
            }),
        })
    }
}
