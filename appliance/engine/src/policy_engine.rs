//! The AARM engine: evaluates every action against the Rego bundle, resolves one of the five
//! decisions, writes a signed receipt for it, and enforces it (R1, R3, R4, R5).
//!
//! Fail closed: an evaluation error or a budget hit is a DENY; a receipt that cannot be written
//! turns any decision into a denial (an action is never allowed without its receipt); a STEP_UP
//! or DEFER that is not resolved in time is a DENY, with its own receipt.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aarmor_core::receipt::PolicyRef;
use aarmor_core::{
    Action, ConnectionFacts, Decision, DecisionClass, Denial, Hold, Identity, Modification,
    Observation, ObservationKind, Protocol, Receipt, ReceiptDecision, ReceiptKind, RequestHead,
    SessionId, SessionRef, Verdict,
};
use async_trait::async_trait;
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use crate::action_engine::ActionEngine;
use crate::approvals::{ApprovalAnswer, ApprovalRequest, Approvals};
use crate::context::state::rounded;
use crate::context::ContextStore;
use crate::identity::{IdentitySettings, UnverifiedMode};
use crate::intent::{action_text, cosine, IntentService};
use crate::mediator::MediationError;
use crate::policy::resolve::populated;
use crate::policy::{resolve, EvalLimits, PolicyError, PolicySet, Resolution, ToolSchemas};
use crate::receipts::{ReceiptDraft, ReceiptLog};
use crate::settings::{DefaultDecision, EnforcementMode, EnforcementSettings, PolicySettings};
use crate::telemetry::Telemetry;

struct Inner {
    policies: RwLock<Arc<PolicySet>>,
    settings: PolicySettings,
    enforcement: EnforcementSettings,
    identity: IdentitySettings,
    telemetry: Option<Arc<Telemetry>>,
    receipts: ReceiptLog,
    approvals: Arc<Approvals>,
    declared: ToolSchemas,
    context: Arc<ContextStore>,
    intent: Option<IntentService>,
    context_changed: watch::Sender<u64>,
    /// Deferrals of monitored actions being resolved in the background (the action ran; the
    /// resolution enforcement would reach is still receipted).
    background: watch::Sender<usize>,
    max_hold: Duration,
    ids: AtomicU64,
    /// The last receipt that let each recent action run, for its outcome receipt.
    ran: Mutex<lru::LruCache<String, (String, ReceiptDecision)>>,
}

/// The policy engine; cheap to clone.
#[derive(Clone)]
pub struct PolicyEngine {
    inner: Arc<Inner>,
}

fn in_future(d: Duration) -> String {
    aarmor_core::timestamp::rfc3339_millis(time::OffsetDateTime::now_utc() + d)
}

/// The limits of one evaluation under these settings.
pub fn eval_limits(settings: &PolicySettings) -> EvalLimits {
    EvalLimits {
        time: Duration::from_micros(settings.eval_timeout_us),
        instructions: settings.max_instructions,
    }
}

impl PolicyEngine {
    pub fn new(
        policies: PolicySet,
        settings: PolicySettings,
        enforcement: EnforcementSettings,
        receipts: ReceiptLog,
        context: Arc<ContextStore>,
        max_hold: Duration,
    ) -> Self {
        let (context_changed, _) = watch::channel(0);
        let (background, _) = watch::channel(0usize);
        let mut salt = [0u8; 4];
        let _ = getrandom::fill(&mut salt);
        Self {
            inner: Arc::new(Inner {
                policies: RwLock::new(Arc::new(policies)),
                settings,
                enforcement,
                identity: IdentitySettings::default(),
                telemetry: None,
                receipts,
                approvals: Arc::new(Approvals::default()),
                declared: ToolSchemas::default(),
                context,
                intent: None,
                context_changed,
                background,
                max_hold,
                ids: AtomicU64::new(u64::from(u32::from_be_bytes(salt)) << 32),
                ran: Mutex::new(lru::LruCache::new(
                    std::num::NonZeroUsize::new(16_384).unwrap_or(std::num::NonZeroUsize::MIN),
                )),
            }),
        }
    }

    /// Adds the embedding service behind `intent.drift`. Call before the engine is cloned.
    pub fn with_intent(mut self, intent: IntentService) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.intent = Some(intent),
            None => tracing::error!("with_intent called on a shared engine; intent stays off"),
        }
        self
    }

    /// Sets what happens to actions whose identity is not verified. Call before the engine is
    /// cloned.
    pub fn with_identity(mut self, identity: IdentitySettings) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.identity = identity,
            None => tracing::error!("with_identity called on a shared engine; the default stays"),
        }
        self
    }

    /// Streams an event per decision, approval, deferral resolution and drift alert to the
    /// SIEM. Call before the engine is cloned.
    pub fn with_telemetry(mut self, telemetry: Arc<Telemetry>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.telemetry = Some(telemetry),
            None => {
                tracing::error!("with_telemetry called on a shared engine; telemetry stays off")
            }
        }
        self
    }

    /// Waits until every receipt written so far is in the receipt store (tests, shutdown).
    pub async fn committed(&self) {
        self.inner.receipts.committed().await;
    }

    /// Waits until no monitored action's deferral is still being resolved in the background
    /// (offline replay waits for it before it reads the receipts).
    pub async fn settled(&self) {
        let mut rx = self.inner.background.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    pub fn context(&self) -> Arc<ContextStore> {
        self.inner.context.clone()
    }

    /// Whether the running bundle reads model-based intent signals.
    pub fn uses_drift(&self) -> bool {
        self.inner.current().uses_drift
    }

    /// Reads receipts while the engine writes them (the console's receipts view).
    pub fn receipts_reader(&self) -> crate::receipts::ReceiptReader {
        self.inner.receipts.reader()
    }

    pub fn approvals(&self) -> Arc<Approvals> {
        self.inner.approvals.clone()
    }

    pub fn policy(&self) -> PolicyRef {
        self.inner.current().policy.clone()
    }

    /// Compiles the policy directory again and swaps it in; on error the old bundle stays.
    pub fn reload(&self) -> Result<PolicyRef, PolicyError> {
        let set = PolicySet::load(&self.inner.settings.dir, eval_limits(&self.inner.settings))?;
        let policy = set.policy.clone();
        if let (true, Some(intent)) = (set.uses_drift, &self.inner.intent) {
            // A bundle that now reads intent.drift: the model loads in the background.
            intent.start_loading();
        }
        if let Ok(mut p) = self.inner.policies.write() {
            *p = Arc::new(set);
        }
        Ok(policy)
    }

    /// The full evaluation of an action without enforcing or receipting it (`policy eval`).
    pub async fn explain(&self, action: &Action) -> (Value, Resolution) {
        let set = self.inner.current();
        let mut input = self.inner.input(action, &set);
        let res = self.inner.decide(&set, &mut input, action).await;
        (input, res)
    }
}

impl Inner {
    fn current(&self) -> Arc<PolicySet> {
        match self.policies.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn default_for(&self, protocol: Protocol) -> Decision {
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

    fn schema_input(&self, set: &PolicySet, action: &Action, params: &Value) -> Value {
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
    fn input(&self, action: &Action, set: &PolicySet) -> Value {
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
            "identity": serde_json::to_value(&action.identity).unwrap_or(json!({})),
            "context": context,
            "intent": intent,
            "schema": schema,
        })
    }

    /// Evaluates, computing model-based intent signals first when a candidate requires one that
    /// is not known yet (lazy: an action no such rule matches never runs the model), then resolves.
    async fn decide(&self, set: &PolicySet, input: &mut Value, action: &Action) -> Resolution {
        self.decide_within(set, input, action, None).await
    }

    /// [`Inner::decide`], waiting up to `patience` (instead of `[intent] timeout_ms`) for the
    /// model: a deferral that waits on intent signals is resolved when they arrive.
    async fn decide_within(
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
    fn session_check(&self, action: &Action) -> Option<Resolution> {
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
    fn identity_check(&self, action: &Action) -> Option<Resolution> {
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
    async fn add_drift(
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
    fn monitored(&self, action: &Action) -> bool {
        self.monitor_mode(action) && !action.risk_signals.iter().any(|s| s.refuses())
    }

    fn monitor_mode(&self, action: &Action) -> bool {
        self.enforcement.mode == EnforcementMode::Monitor
            || action
                .identity
                .agent
                .as_ref()
                .is_some_and(|a| self.enforcement.monitor_agents.contains(a))
    }

    fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}_{:016x}", self.ids.fetch_add(1, Ordering::Relaxed))
    }

    #[allow(clippy::too_many_arguments)]
    async fn receipt(
        &self,
        kind: ReceiptKind,
        follows: Option<String>,
        action: &Action,
        input: &Value,
        decision: Decision,
        class: Option<DecisionClass>,
        rule: Option<String>,
        reason: String,
        enforced: bool,
        policy: &PolicyRef,
        extra: ReceiptExtra,
    ) -> Result<Receipt, String> {
        let draft = ReceiptDraft {
            kind,
            follows,
            action: action.clone(),
            context: evaluation_context(input),
            decision: ReceiptDecision {
                result: decision,
                class,
                rule,
                reason,
                enforced,
                policy: policy.clone(),
            },
            modification: extra.modification,
            approval: extra.approval,
            deferral: extra.deferral,
            execution: None,
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

/// The session an action belongs to (set by the data plane), or its agent's default.
fn session_of(action: &Action) -> SessionId {
    match &action.identity.session {
        Some(s) => SessionId(s.clone()),
        None => SessionId::agent_default(action.identity.agent.as_deref().unwrap_or("unknown")),
    }
}

fn agent_of(action: &Action) -> &str {
    action.identity.agent.as_deref().unwrap_or("unknown")
}

/// Denies an action that carries a signal saying it cannot be judged (an item type or a body
/// aarmor cannot read): what cannot be inspected does not run.
fn refusal_check(action: &Action) -> Option<Resolution> {
    let signal = action.risk_signals.iter().find(|s| s.refuses())?;
    let reason = signal.refusal_reason().unwrap_or_default();
    let mut res = deny_resolution(format!("{reason}; refused"));
    res.class = Some(DecisionClass::Forbidden);
    res.rule = signal.refusal_rule().map(str::to_string);
    Some(res)
}

fn deny_resolution(reason: String) -> Resolution {
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

fn evaluation_failed(e: &PolicyError) -> Resolution {
    tracing::warn!(error = %e, "policy evaluation failed; denying (fail closed)");
    deny_resolution(format!("policy evaluation failed: {e}"))
}

/// What the policy saw besides the action: what receipts hash and approvers are shown.
fn evaluation_context(input: &Value) -> Value {
    json!({
        "identity": input.get("identity"),
        "context": input.get("context"),
        "intent": input.get("intent"),
        "schema": input.get("schema"),
    })
}

#[derive(Default)]
struct ReceiptExtra {
    modification: Option<Value>,
    approval: Option<Value>,
    deferral: Option<Value>,
}

fn receipt_failure(e: &str) -> Verdict {
    tracing::error!(error = %e, "cannot write the receipt; denying (fail closed)");
    Verdict::Deny(Denial {
        rule: None,
        reason: format!("the decision could not be receipted ({e}); refused"),
    })
}

/// What an enforced decision becomes, once decided (no holds).
fn final_verdict(action: &Action, res: &Resolution) -> Verdict {
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
    #[allow(clippy::too_many_arguments)]
    async fn enforce(
        self: &Arc<Self>,
        action: &Action,
        input: Value,
        res: Resolution,
        policy: PolicyRef,
        follows: Option<String>,
        kind: ReceiptKind,
        deferral: Option<Value>,
    ) -> Verdict {
        let monitored = self.monitored(action);
        let mut extra = ReceiptExtra {
            deferral,
            ..ReceiptExtra::default()
        };
        if res.decision == Decision::Modify && !monitored {
            if let Verdict::Modify(m) = final_verdict(action, &res) {
                extra.modification = Some(Value::Object(m.parameters));
            }
        }
        let receipt = match self
            .receipt(
                kind,
                follows,
                action,
                &input,
                res.decision,
                res.class,
                res.rule.clone(),
                res.reason.clone(),
                !monitored,
                &policy,
                extra,
            )
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
    #[allow(clippy::too_many_arguments)]
    async fn deny_held(
        &self,
        action: &Action,
        input: &Value,
        receipt_id: String,
        class: Option<DecisionClass>,
        rule: Option<String>,
        why: String,
        policy: &PolicyRef,
        extra: ReceiptExtra,
    ) -> Verdict {
        let receipt = self
            .receipt(
                ReceiptKind::Resolution,
                Some(receipt_id),
                action,
                input,
                Decision::Deny,
                class,
                rule.clone(),
                why.clone(),
                !self.monitored(action),
                policy,
                extra,
            )
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
        Verdict::Deny(Denial { rule, reason: why })
    }

    fn remember_run(&self, receipt: &Receipt) {
        if let Ok(mut ran) = self.ran.lock() {
            ran.put(
                receipt.action.action_id.0.clone(),
                (receipt.receipt_id.clone(), receipt.decision.clone()),
            );
        }
    }

    fn hold_limit(&self, wanted: Option<Duration>, default_s: u64) -> Duration {
        wanted
            .unwrap_or(Duration::from_secs(default_s))
            .min(self.max_hold.saturating_sub(Duration::from_millis(500)))
            .max(Duration::from_millis(1))
    }

    fn step_up(
        self: &Arc<Self>,
        action: Action,
        input: Value,
        res: Resolution,
        policy: PolicyRef,
        receipt_id: String,
    ) -> Verdict {
        let limit = self.hold_limit(res.timeout, self.settings.step_up_timeout_s);
        let id = self.next_id("apr");
        let full = self.approvals.has_room(agent_of(&action));
        if !self.approvals.answerable() || full.is_err() {
            // Nobody can answer, or the queue is full: denied now, not after the timeout.
            let inner = self.clone();
            let why = match full {
                Err(e) => format!("{} — approval required, but {e}; refused", res.reason),
                Ok(()) => format!(
                    "{} — approval required, but no approver is configured ([approvals] token or approvers); refused",
                    res.reason
                ),
            };
            tracing::warn!(action = %action.action_id, rule = ?res.rule, "STEP_UP with no approvals API configured; denied at once");
            return Verdict::Hold(Hold {
                reason: why.clone(),
                timeout: Duration::from_secs(5),
                resolution: Box::pin(async move {
                    let extra = ReceiptExtra {
                        approval: Some(json!({"id": id, "status": "no_approvers"})),
                        ..Default::default()
                    };
                    inner
                        .deny_held(
                            &action, &input, receipt_id, res.class, res.rule, why, &policy, extra,
                        )
                        .await
                }),
            });
        }
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
        let context = evaluation_context(&input);
        let request = ApprovalRequest {
            id: id.clone(),
            receipt_id: receipt_id.clone(),
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
        let quorum = request.quorum;
        let answer = self.approvals.open(request);
        tracing::info!(action = %action.action_id, approval = %id, timeout_s = limit.as_secs(), quorum, rule = ?res.rule, "action held for approval (STEP_UP)");
        let inner = self.clone();
        let reason = res.reason.clone();
        Verdict::Hold(Hold {
            reason: format!("approval {id}: {reason}"),
            timeout: limit + Duration::from_secs(2),
            resolution: Box::pin(async move {
                let deadline = tokio::time::Instant::now() + limit;
                let mut answer = answer;
                let outcome = match escalate_after {
                    Some(window) => match tokio::time::timeout(window, &mut answer).await {
                        Ok(r) => Ok(r),
                        Err(_) => {
                            inner.approvals.escalate(&id);
                            tokio::time::timeout_at(deadline, answer).await
                        }
                    },
                    None => tokio::time::timeout_at(deadline, answer).await,
                };
                let now = aarmor_core::timestamp::now_rfc3339_millis();
                let (decision, why, approval) = match outcome {
                    Ok(Ok(a)) if a.approved && crate::identity::expired(&action.identity, &now) => (
                        Decision::Deny,
                        format!(
                            "approved by {}, but the credentials behind the action's identity expired at {} while it was held; refused",
                            a.approver,
                            action.identity.expires.as_deref().unwrap_or("?")
                        ),
                        approval_json(&id, quorum, &a),
                    ),
                    Ok(Ok(a)) if a.approved => (
                        Decision::Allow,
                        format!("approved by {}", approvers_of(&a)),
                        approval_json(&id, quorum, &a),
                    ),
                    Ok(Ok(a)) => (
                        Decision::Deny,
                        format!(
                            "denied by {}{}",
                            a.approver,
                            a.reason
                                .as_ref()
                                .map(|r| format!(": {r}"))
                                .unwrap_or_default()
                        ),
                        approval_json(&id, quorum, &a),
                    ),
                    _ => (
                        Decision::Deny,
                        format!("approval {id} not given within {} s", limit.as_secs()),
                        json!({"id": id, "status": "timed_out", "quorum": quorum}),
                    ),
                };
                inner
                    .approvals
                    .close(&id, approval["status"].as_str().unwrap_or("resolved"));
                let receipt = inner
                    .receipt(
                        ReceiptKind::Resolution,
                        Some(receipt_id),
                        &action,
                        &input,
                        decision,
                        res.class,
                        res.rule.clone(),
                        why.clone(),
                        true,
                        &policy,
                        ReceiptExtra {
                            approval: Some(approval),
                            ..Default::default()
                        },
                    )
                    .await;
                match &receipt {
                    Err(e) => return receipt_failure(e),
                    Ok(r) if decision == Decision::Allow => inner.remember_run(r),
                    Ok(_) => {}
                }
                inner.context.record_resolution(
                    &session_of(&action),
                    agent_of(&action),
                    &action,
                    decision.as_str(),
                    res.rule.as_deref(),
                );
                if decision == Decision::Allow {
                    Verdict::Allow
                } else {
                    Verdict::Deny(Denial {
                        rule: res.rule,
                        reason: why,
                    })
                }
            }),
        })
    }

    fn defer(
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
                            deferral: Some(json!({"status": "timed_out", "rounds": rounds})),
                            ..Default::default()
                        };
                        return inner
                            .deny_held(
                                &action,
                                &input,
                                receipt_id.clone(),
                                Some(DecisionClass::ContextDefer),
                                res.rule.clone(),
                                why,
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
                        Some(receipt_id.clone()),
                        ReceiptKind::Resolution,
                        Some(json!({
                            "status": "resolved", "rounds": rounds, "waited_for": waited_for,
                            "waited_ms": started.elapsed().as_millis() as u64,
                        })),
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

/// What a resolution receipt records of the approval: every approver's identity, decision,
/// comment and time, and who decided.
fn approval_json(id: &str, quorum: u32, a: &ApprovalAnswer) -> Value {
    json!({
        "id": id,
        "status": if a.approved { "approved" } else { "denied" },
        "approver": a.approver,
        "reason": a.reason,
        "at": a.at,
        "quorum": quorum,
        "votes": a.votes,
    })
}

fn approvers_of(a: &ApprovalAnswer) -> String {
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

#[async_trait]
impl ActionEngine for PolicyEngine {
    fn name(&self) -> &'static str {
        "policy"
    }

    async fn mediate(&self, action: &Action) -> Result<Verdict, MediationError> {
        let started = Instant::now();
        let set = self.inner.current();
        let mut input = self.inner.input(action, &set);
        let res = self.inner.decide(&set, &mut input, action).await;
        tracing::debug!(action = %action.action_id, decision = %res.decision, rule = ?res.rule, eval_us = started.elapsed().as_micros() as u64, "evaluated");
        Ok(self
            .inner
            .enforce(
                action,
                input,
                res,
                set.policy.clone(),
                None,
                ReceiptKind::Decision,
                None,
            )
            .await)
    }

    async fn record_outcome(&self, action: &Action, execution: Value) {
        let ran = self
            .inner
            .ran
            .lock()
            .ok()
            .and_then(|mut r| r.pop(&action.action_id.0));
        let Some((follows, decision)) = ran else {
            tracing::debug!(action = %action.action_id, "outcome of an action without a receipt that let it run; not recorded");
            return;
        };
        if !action.is_llm_request() {
            self.inner.context.record_outcome(
                &session_of(action),
                agent_of(action),
                &action.action_id.0,
                &execution,
            );
        }
        let inner = self.inner.clone();
        let action = action.clone();
        // Written in the background: the action already ran, nothing waits for this receipt.
        tokio::spawn(async move {
            let draft = ReceiptDraft {
                kind: ReceiptKind::Outcome,
                follows: Some(follows),
                action,
                context: json!({}),
                decision,
                modification: None,
                approval: None,
                deferral: None,
                execution: Some(execution),
            };
            if let Err(e) = inner.receipts.append_deferred(draft).await {
                tracing::error!(error = %e, "cannot write an outcome receipt");
            }
        });
    }

    fn register_metrics(&self, registry: &prometheus::Registry) {
        self.inner.context.register_metrics(registry);
        if let Some(t) = &self.inner.telemetry {
            t.register(registry);
        }
        if let Some(intent) = &self.inner.intent {
            intent.stats().register(registry);
        }
    }

    fn identify(&self, facts: &ConnectionFacts, request: &RequestHead) -> Identity {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.inner.current().identities.resolve(facts, request, now)
    }

    fn private_headers(&self) -> Arc<[String]> {
        self.inner.current().identities.private_headers()
    }

    fn knows_proxy_credential(&self, credential: &aarmor_core::ProxyCredential) -> bool {
        self.inner.current().identities.knows_credential(credential)
    }

    fn reads_are_actions(&self, host: &str) -> bool {
        self.inner.current().read_action_hosts.covers(host)
    }

    fn attribute(
        &self,
        agent: &str,
        explicit: Option<&str>,
        conversation: Option<(&str, &str)>,
    ) -> SessionId {
        self.inner.context.attribute(agent, explicit, conversation)
    }

    async fn observe(&self, session: &SessionRef, observations: Vec<Observation>) {
        let set = self.inner.current();
        let mut changed = false;
        let mut learned = 0;
        for o in &observations {
            if o.kind == ObservationKind::ToolDeclarations {
                learned += self.inner.declared.learn(&o.content);
            }
        }
        if learned > 0 {
            self.inner
                .context
                .tools_declared(&session.id, &session.agent, learned);
            changed = true;
        }
        let seen = self.inner.context.observe(
            &session.id,
            &session.agent,
            &observations,
            &set.classifiers,
        );
        changed |= seen.changed;
        if let (Some(text), Some(intent)) = (seen.new_original_request, &self.inner.intent) {
            if set.uses_drift {
                // Embedded now, off the action path; actions find it in the cache.
                let intent = intent.clone();
                tokio::spawn(async move {
                    if let Err(e) = intent.embed(&text).await {
                        tracing::debug!(error = %e, "original request not embedded ahead");
                    }
                });
            }
        }
        if changed {
            self.inner.context_changed.send_modify(|g| *g += 1);
        }
    }
}
