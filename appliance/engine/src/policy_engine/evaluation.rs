//! Evaluating one action: the policy input (identity, context, schemas, intent), the checks that
//! come before policy (refusals, identity, session), drift when a rule needs it, and the
//! resolution of the candidate decisions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aarmor_core::{Action, Decision, DecisionClass, Protocol, SessionId};
use serde_json::{json, Map, Value};

use crate::context::state::rounded;
use crate::identity::UnverifiedMode;
use crate::intent::{action_text, cosine};
use crate::policy::resolve::populated;
use crate::policy::{resolve, PolicyError, PolicySet, Resolution};
use crate::settings::{DefaultDecision, EnforcementMode};

use super::Inner;

impl Inner {
    pub(super) fn current(&self) -> Arc<PolicySet> {
        match self.policies.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(super) fn default_for(&self, protocol: Protocol) -> Decision {
        let d = self
            .settings
            .defaults
            .get(protocol.as_str())
            .copied()
            .unwrap_or(self.settings.default_decision);
        match d {
            DefaultDecision::Allow => Decision::Allow,
            DefaultDecision::Deny => Decision::Deny,
        }
    }

    pub(super) fn schema_input(&self, set: &PolicySet, action: &Action, params: &Value) -> Value {
        let operator = set.schemas.check(&action.tool, params);
        let declared = self.declared.check(&action.tool, params);
        let mut violations = operator["violations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        violations.extend(
            declared["violations"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        json!({
            "operator": operator["operator"],
            "declared": declared["declared"],
            "violations": violations,
        })
    }

    /// The input document: `{action, identity, context, intent, schema}`.
    pub(super) fn input(&self, action: &Action, set: &PolicySet) -> Value {
        let params = Value::Object(action.parameters.clone());
        let mut action_json = serde_json::to_value(action).unwrap_or(Value::Null);
        let size = serde_json::to_vec(&params).map(|v| v.len()).unwrap_or(0);
        if size > self.settings.max_parameter_bytes {
            action_json["parameters"] = json!({"_truncated": true, "bytes": size});
            if let Some(signals) = action_json["risk_signals"].as_array_mut() {
                signals.push(json!({"kind": "parameters_too_large", "bytes": size}));
            }
        }
        let schema = self.schema_input(set, action, &params);
        let session = session_of(action);
        // What the agent read in any of its sessions counts in a session that has seen no
        // conversation of its own (a fresh session id per request must not wash it away); a
        // session with its own conversation keeps its own memory.
        let reads = self.context.agent_reads(agent_of(action));
        // One look at the session for both.
        let (context, intent) = self
            .context
            .read(&session, |s| {
                let inherited = reads.as_ref().filter(|_| s.original_request.is_none());
                (
                    s.to_json_with(inherited),
                    s.intent_json(&action.tool, &action.parameters),
                )
            })
            .unwrap_or_else(|| match &reads {
                Some(r) => {
                    let fresh = crate::context::SessionState::new(
                        &session.0,
                        agent_of(action),
                        String::new(),
                        "",
                    );
                    (fresh.to_json_with(Some(r)), Map::new())
                }
                None => (json!({"session": session.0, "action_count": 0}), Map::new()),
            });
        json!({
            "action": action_json,
            "credential": serde_json::to_value(&action.credential).unwrap_or(Value::Null),
            "identity": serde_json::to_value(&action.identity).unwrap_or(json!({})),
            "context": context,
            "intent": intent,
            "schema": schema,
        })
    }

    /// Evaluates, computing model-based intent signals first when a candidate requires one that
    /// is not known yet (lazy: an action no such rule matches never runs the model), then resolves.
    pub(super) async fn decide(
        &self,
        set: &PolicySet,
        input: &mut Value,
        action: &Action,
    ) -> Resolution {
        self.decide_within(set, input, action, None).await
    }

    /// [`Inner::decide`], waiting up to `patience` (instead of `[intent] timeout_ms`) for the
    /// model: a deferral that waits on intent signals is resolved when they arrive.
    pub(super) async fn decide_within(
        &self,
        set: &PolicySet,
        input: &mut Value,
        action: &Action,
        patience: Option<Duration>,
    ) -> Resolution {
        if let Err(e) = self.context.healthy() {
            return deny_resolution(format!("{e}; refused (fail closed)"));
        }
        if let Some(denied) = self.identity_check(action) {
            return denied;
        }
        if let Some(refused) = refusal_check(action) {
            return refused;
        }
        if let Some(foreign) = self.session_check(action) {
            return foreign;
        }
        // Parameters too large to show policy: no rule could read them, so no rule matching is
        // not a reason to allow; only a rule that allows explicitly (whatever the parameters,
        // like an LLM request to a known provider) lets the action run.
        let unseen = input
            .pointer("/action/parameters/_truncated")
            .is_some_and(|t| t == &Value::Bool(true));
        let default = if unseen {
            Decision::Deny
        } else {
            self.default_for(action.protocol)
        };
        let resolved = |candidates: Vec<crate::policy::Candidate>, input: &Value| {
            let mut res = resolve(candidates, input, default);
            if unseen && res.rule.is_none() {
                res.class = Some(DecisionClass::Forbidden);
                res.rule = Some("aarmor.parameters_too_large".into());
                res.reason = format!(
                    "the parameters exceed policy.max_parameter_bytes ({} bytes) and no rule allows the action without reading them; refused",
                    self.settings.max_parameter_bytes
                );
            }
            res
        };
        let candidates = match set.evaluate(input) {
            Ok(c) => c,
            Err(e) => return evaluation_failed(&e),
        };
        let wants_drift = candidates.iter().any(|c| {
            c.requires
                .iter()
                .any(|r| r.starts_with("intent.drift") && !populated(input, r))
        });
        if !(wants_drift && self.add_drift(input, action, patience).await) {
            return resolved(candidates, input);
        }
        match set.evaluate(input) {
            Ok(c) => resolved(c, input),
            Err(e) => evaluation_failed(&e),
        }
    }

    /// Denies an action in a session another agent opened: a session is bound to the identity
    /// that opened it, so naming someone else's session plants nothing and runs nothing.
    pub(super) fn session_check(&self, action: &Action) -> Option<Resolution> {
        let session = session_of(action);
        let owner = self.context.owner(&session)?;
        let agent = agent_of(action);
        if owner == agent {
            return None;
        }
        let mut res = deny_resolution(format!(
            "session {session} belongs to agent {owner}, not {agent}; refused"
        ));
        res.class = Some(DecisionClass::Forbidden);
        res.rule = Some("session.foreign_identity".into());
        Some(res)
    }

    /// Denies an action whose identity is not verified (unless flagged only) or has expired.
    pub(super) fn identity_check(&self, action: &Action) -> Option<Resolution> {
        let id = &action.identity;
        if !id.is_verified() && self.identity.unverified == UnverifiedMode::Deny {
            let mut res = deny_resolution(format!(
                "identity not verified: {}; refused",
                id.unverified.join("; ")
            ));
            res.class = Some(DecisionClass::Forbidden);
            res.rule = Some("identity.unverified".into());
            return Some(res);
        }
        if crate::identity::expired(id, &aarmor_core::timestamp::now_rfc3339_millis()) {
            let mut res = deny_resolution(format!(
                "the credentials behind this identity expired at {}; refused",
                id.expires.as_deref().unwrap_or("?")
            ));
            res.class = Some(DecisionClass::Forbidden);
            res.rule = Some("identity.expired".into());
            return Some(res);
        }
        None
    }

    /// Computes `intent.drift` for the action (and updates the session's max and average);
    /// false when it cannot be known (no model, no original request, a timeout).
    pub(super) async fn add_drift(
        &self,
        input: &mut Value,
        action: &Action,
        patience: Option<Duration>,
    ) -> bool {
        let Some(intent) = &self.intent else {
            return false;
        };
        let session = session_of(action);
        let Some(original) = self
            .context
            .read(&session, |s| s.original_request.clone())
            .flatten()
        else {
            return false;
        };
        let text = action_text(
            &action.tool,
            &action.operation,
            &action.parameters,
            intent.settings().max_action_text_chars,
        );
        let started = Instant::now();
        let wait = patience.unwrap_or_else(|| Duration::from_millis(intent.settings().timeout_ms));
        let (a, b) = tokio::join!(
            intent.embed_within(&original, wait),
            intent.embed_within(&text, wait)
        );
        let (a, b) = match (a, b) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                if patience.is_none() {
                    // Decided later than it would have been on an idle appliance: counted, and
                    // the DEFER receipt says which signal it waits for.
                    intent.stats().late.inc();
                }
                tracing::warn!(action = %action.action_id, error = %e, "intent drift unknown");
                return false;
            }
        };
        let drift = (1.0 - cosine(&a, &b)).clamp(0.0, 2.0);
        let alpha = intent.settings().ema_alpha.clamp(0.0, 1.0);
        let (max, ema) = self
            .context
            .read(&session, |s| {
                s.drift_max = Some(s.drift_max.map_or(drift, |m| m.max(drift)));
                s.drift_ema = Some(
                    s.drift_ema
                        .map_or(drift, |e| alpha * drift + (1.0 - alpha) * e),
                );
                s.drift_samples += 1;
                (s.drift_max.unwrap_or(drift), s.drift_ema.unwrap_or(drift))
            })
            .unwrap_or((drift, drift));
        tracing::debug!(action = %action.action_id, drift, us = started.elapsed().as_micros() as u64, "intent drift computed");
        if let Some(obj) = input["intent"].as_object_mut() {
            obj.insert("drift".into(), json!(rounded(drift)));
            obj.insert("drift_max".into(), json!(rounded(max)));
            obj.insert("drift_ema".into(), json!(rounded(ema)));
            obj.insert("action_text".into(), json!(text));
        }
        true
    }

    /// Monitor mode applies to this action: its decisions are receipted, not enforced. What
    /// cannot be inspected is refused in monitor mode too: the data plane could not judge it,
    /// so it cannot pretend to have let it through for measurement.
    pub(super) fn monitored(&self, action: &Action) -> bool {
        self.monitor_mode(action) && !action.risk_signals.iter().any(|s| s.refuses())
    }

    pub(super) fn monitor_mode(&self, action: &Action) -> bool {
        self.enforcement.mode == EnforcementMode::Monitor
            || action
                .identity
                .agent
                .as_ref()
                .is_some_and(|a| self.enforcement.monitor_agents.contains(a))
    }
}

/// The session an action belongs to (set by the data plane), or its agent's default.
pub(super) fn session_of(action: &Action) -> SessionId {
    match &action.identity.session {
        Some(s) => SessionId(s.clone()),
        None => SessionId::agent_default(action.identity.agent.as_deref().unwrap_or("unknown")),
    }
}

pub(super) fn agent_of(action: &Action) -> &str {
    action.identity.agent.as_deref().unwrap_or("unknown")
}

/// Denies an action that carries a signal saying it cannot be judged (an item type or a body
/// aarmor cannot read): what cannot be inspected does not run.
pub(super) fn refusal_check(action: &Action) -> Option<Resolution> {
    let signal = action.risk_signals.iter().find(|s| s.refuses())?;
    let reason = signal.refusal_reason().unwrap_or_default();
    let mut res = deny_resolution(format!("{reason}; refused"));
    res.class = Some(DecisionClass::Forbidden);
    res.rule = signal.refusal_rule().map(str::to_string);
    Some(res)
}

pub(super) fn deny_resolution(reason: String) -> Resolution {
    Resolution {
        decision: Decision::Deny,
        class: None,
        rule: None,
        reason,
        modify: None,
        route: crate::policy::ApprovalRoute::default(),
        timeout: None,
        candidates: Vec::new(),
    }
}

pub(super) fn evaluation_failed(e: &PolicyError) -> Resolution {
    tracing::warn!(error = %e, "policy evaluation failed; denying (fail closed)");
    deny_resolution(format!("policy evaluation failed: {e}"))
}

/// What the policy saw besides the action: what receipts hash and approvers are shown.
pub(super) fn evaluation_context(input: &Value) -> Value {
    json!({
        "identity": input.get("identity"),
        "context": input.get("context"),
        "intent": input.get("intent"),
        "schema": input.get("schema"),
    })
}
