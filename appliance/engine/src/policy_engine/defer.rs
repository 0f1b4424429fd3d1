//! DEFER: the action is held until what it waits for arrives (the session's context, the
//! model's signals) and is decided again, or the hold times out; either end is receipted.

use aarmor_core::receipt_records::Deferral;
use std::sync::Arc;
use std::time::Duration;

use aarmor_core::receipt::PolicyRef;
use aarmor_core::{Action, Decision, DecisionClass, Denial, Hold, SessionId, Verdict};

use crate::policy::resolve::populated;
use crate::policy::Resolution;

use super::{agent_of, session_of, shutting_down, HeldDenial, Inner, ReceiptExtra, Stage};

/// Where a hold stood when it ended without a resolution.
struct Ended {
    rounds: u32,
    waited_ms: u64,
}

/// How often a held DEFER reads its session from Redis itself (`[cluster]`).
const CLUSTER_LOOK: Duration = Duration::from_secs(2);

/// A DEFER waiting to be decided again: what the hold needs until then.
struct HeldDeferral {
    action: Action,
    res: Resolution,
    policy: PolicyRef,
    /// The decision receipt the resolution follows.
    receipt_id: String,
    limit: Duration,
    changes: tokio::sync::watch::Receiver<u64>,
    /// `[cluster]`: the lease term the hold began in (see `shared::Lease`).
    term: u64,
}

impl Inner {
    /// Holds the action until the session's context (or the model's signals) changes enough to
    /// decide it again, at most `limit`; past it, or after `max_deferrals` rounds, it is denied.
    pub(super) fn defer(
        self: &Arc<Self>,
        action: Action,
        res: Resolution,
        policy: PolicyRef,
        receipt_id: String,
    ) -> Verdict {
        let limit = self.hold_limit(res.timeout, self.settings.defer_timeout_s);
        tracing::info!(action = %action.action_id, timeout_s = limit.as_secs(), rule = ?res.rule, "action deferred until the context resolves it");
        let reason = format!("deferred: {}", res.reason);
        let held = HeldDeferral {
            term: self.lease_term(),
            changes: self.context_changed.subscribe(),
            action,
            res,
            policy,
            receipt_id,
            limit,
        };
        // `[cluster]`: published while held, so that the denial is recorded if this replica
        // stops before the hold ends.
        let guard = self.hold_deferral(&held.action, &held.receipt_id);
        let holding = self.holding();
        let resolution = self.clone().await_resolution(held);
        Verdict::Hold(Hold {
            reason,
            timeout: limit + Duration::from_secs(2),
            resolution: Box::pin(async move {
                let _published = guard;
                let _holding = holding;
                resolution.await
            }),
        })
    }

    /// Decides the action again at each change of its session's context until it is no longer
    /// deferred; receipts how the deferral ended.
    async fn await_resolution(self: Arc<Self>, held: HeldDeferral) -> Verdict {
        let HeldDeferral {
            mut action,
            res,
            policy,
            receipt_id,
            limit,
            mut changes,
            term,
        } = held;
        let started = tokio::time::Instant::now();
        let deadline = started + limit;
        let mut rounds = 0u32;
        let mut shutdown = self.shutdown.subscribe();
        // The fields the deferral waits for that are not known yet: the resolution names those
        // that arrived, a timeout those that never did.
        let waiting_on = {
            let input = self.input(&action, &self.current());
            let mut fields: Vec<String> = res
                .candidates
                .iter()
                .filter(|c| c.decision == Decision::Defer)
                .flat_map(|c| c.requires.iter())
                .filter(|p| !populated(&input, p))
                .cloned()
                .collect();
            fields.sort();
            fields.dedup();
            fields
        };
        // A deferral that waits on the model (its signal missed `timeout_ms` under load) is
        // resolved as soon as the model answers, not at the next context change: the decision
        // does not depend on whether other traffic arrives.
        let mut model_wait = res.candidates.iter().any(|c| {
            c.decision == Decision::Defer && c.requires.iter().any(|r| r.starts_with("intent."))
        });
        let method = if model_wait { "intent" } else { "context" };
        loop {
            let patience =
                model_wait.then(|| deadline.saturating_duration_since(tokio::time::Instant::now()));
            let changed = if model_wait {
                model_wait = false;
                Ok(Ok(()))
            } else {
                let wait = async {
                    if self.cluster.is_some() {
                        self.cluster_change(&mut action, &mut changes, deadline)
                            .await
                    } else {
                        tokio::time::timeout_at(deadline, changes.changed()).await
                    }
                };
                tokio::select! {
                    changed = wait => changed,
                    _ = shutting_down(&mut shutdown) => {
                        let ended = Ended { rounds, waited_ms: started.elapsed().as_millis() as u64 };
                        return self.deferral_shut_down(&action, &res, &policy, receipt_id, ended).await;
                    }
                }
            };
            if !matches!(changed, Ok(Ok(()))) {
                let ended = Ended {
                    rounds,
                    waited_ms: started.elapsed().as_millis() as u64,
                };
                return self
                    .deferral_timed_out(
                        &action,
                        &res,
                        &policy,
                        receipt_id,
                        limit,
                        ended,
                        &waiting_on,
                    )
                    .await;
            }
            rounds += 1;
            self.move_to_active_session(&mut action).await;
            let set = self.current();
            let unready = self.ready(&action, true).await.err();
            let mut input = self.input(&action, &set);
            let mut again = match unready {
                Some(denied) => *denied,
                None => {
                    self.decide_within(&set, &mut input, &action, patience)
                        .await
                }
            };
            if !self.may_release(term) && again.decision != Decision::Deny {
                again.decision = Decision::Deny;
                again.reason = format!(
                    "this replica lost touch with the cluster while it held the action (its holds count as lost); refused: {}",
                    again.reason
                );
            }
            if again.decision == Decision::Defer {
                if rounds < self.settings.max_deferrals {
                    continue;
                }
                again.decision = Decision::Deny;
                again.reason = format!(
                    "deferred {rounds} times without being resolved: {}",
                    again.reason
                );
            }
            tracing::info!(action = %action.action_id, decision = %again.decision, rounds, "deferred action re-evaluated");
            let deferral = Deferral::Resolved {
                method: method.to_string(),
                resolved_by: waiting_on
                    .iter()
                    .filter(|p| populated(&input, p))
                    .cloned()
                    .collect(),
                rounds,
                waited_ms: started.elapsed().as_millis() as u64,
                ended_at: aarmor_core::timestamp::now_rfc3339_millis(),
            };
            let verdict = Box::pin(self.enforce(
                &action,
                input,
                again,
                set.policy.clone(),
                Stage::Resolution {
                    follows: receipt_id.clone(),
                },
                ReceiptExtra {
                    deferral: Some(deferral),
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
                        reason: "the deferred action's follow-up decision was not resolved in time"
                            .into(),
                    }),
                },
                v => v,
            };
        }
    }

    /// `[cluster]`: waits for a change of the context, as announced by any replica; every
    /// [`CLUSTER_LOOK`] it also reads the session from Redis itself (an announcement lost while
    /// the subscription was down must not leave the action waiting), and counts that as a change
    /// only when the session grew. `Err` at the deadline.
    async fn cluster_change(
        &self,
        action: &mut Action,
        changes: &mut tokio::sync::watch::Receiver<u64>,
        deadline: tokio::time::Instant,
    ) -> Result<Result<(), tokio::sync::watch::error::RecvError>, tokio::time::error::Elapsed> {
        loop {
            let look = (tokio::time::Instant::now() + CLUSTER_LOOK).min(deadline);
            match tokio::time::timeout_at(look, changes.changed()).await {
                Ok(r) => return Ok(r),
                Err(elapsed) if tokio::time::Instant::now() >= deadline => return Err(elapsed),
                Err(_) => {
                    self.move_to_active_session(action).await;
                    let session = session_of(action);
                    let before = self.context.next_seq(&session);
                    if self.ready(action, true).await.is_ok()
                        && self.context.next_seq(&session) != before
                    {
                        return Ok(Ok(()));
                    }
                }
            }
        }
    }

    /// An action that came before any conversation of its agent was known sits in the agent's
    /// default session; once the agent has an active session, the action is evaluated in it
    /// (the rest of its identity is unchanged).
    async fn move_to_active_session(&self, action: &mut Action) {
        let agent = agent_of(action).to_string();
        if session_of(action) == SessionId::agent_default(&agent) {
            let active = match &self.cluster {
                // The conversation may have started on another replica.
                Some(cluster) => cluster
                    .attribute(
                        &self.context,
                        &agent,
                        crate::cluster::sessions::Naming::Active { agent: &agent },
                    )
                    .await
                    .ok(),
                None => self.context.active_session(&agent),
            };
            if let Some(s) = active.filter(|s| *s != session_of(action)) {
                action.identity.session = Some(s.0);
            }
        }
    }

    /// The DENY that ends a deferral nothing resolved in time, receipted with the fields that
    /// never became known.
    #[allow(clippy::too_many_arguments)]
    async fn deferral_timed_out(
        &self,
        action: &Action,
        res: &Resolution,
        policy: &PolicyRef,
        receipt_id: String,
        limit: Duration,
        ended: Ended,
        waiting_on: &[String],
    ) -> Verdict {
        let why = format!("deferred action not resolved within {} s", limit.as_secs());
        let input = self.input(action, &self.current());
        let extra = ReceiptExtra {
            deferral: Some(Deferral::TimedOut {
                rounds: ended.rounds,
                waited_ms: Some(ended.waited_ms),
                missing: waiting_on
                    .iter()
                    .filter(|p| !populated(&input, p))
                    .cloned()
                    .collect(),
                ended_at: Some(aarmor_core::timestamp::now_rfc3339_millis()),
            }),
            ..Default::default()
        };
        let denial = HeldDenial {
            class: Some(DecisionClass::ContextDefer),
            rule: res.rule.clone(),
            reason: why,
        };
        self.deny_held(action, &input, receipt_id, denial, policy, extra)
            .await
    }

    /// The DENY that ends a deferral when the appliance shuts down, receipted.
    async fn deferral_shut_down(
        &self,
        action: &Action,
        res: &Resolution,
        policy: &PolicyRef,
        receipt_id: String,
        ended: Ended,
    ) -> Verdict {
        let input = self.input(action, &self.current());
        let extra = ReceiptExtra {
            deferral: Some(Deferral::Shutdown {
                rounds: ended.rounds,
                waited_ms: ended.waited_ms,
                ended_at: aarmor_core::timestamp::now_rfc3339_millis(),
            }),
            ..Default::default()
        };
        let denial = HeldDenial {
            class: Some(DecisionClass::ContextDefer),
            rule: res.rule.clone(),
            reason: "aarmor is shutting down; the deferred action was not resolved and is refused"
                .into(),
        };
        self.deny_held(action, &input, receipt_id, denial, policy, extra)
            .await
    }
}
