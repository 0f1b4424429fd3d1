//! The AARM engine: evaluates every action against the Rego bundle, resolves one of the five
//! decisions, writes a signed receipt for it, and enforces it (R1, R3, R4, R5).
//!
//! Fail closed: an evaluation error or a budget hit is a DENY; a receipt that cannot be written
//! turns any decision into a denial (an action is never allowed without its receipt); a STEP_UP
//! or DEFER that is not resolved in time is a DENY, with its own receipt.
//!
//! [`evaluation`] builds the input and resolves the decision; [`enforcement`] receipts it and
//! turns it into a verdict; [`step_up`] and [`defer`] hold the action until it is resolved.

mod defer;
mod enforcement;
mod evaluation;
mod shared;
mod step_up;

use aarmor_core::credential::{AskError, Attachment, CredentialAsk, SentRequest};
use aarmor_core::receipt_records::Execution;
use aarmor_mediation::{ActionEngine, MediationError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aarmor_core::receipt::PolicyRef;
use aarmor_core::{
    Action, ConnectionFacts, Identity, Observation, ObservationKind, ReceiptDecision, ReceiptKind,
    RequestHead, SessionId, SessionRef, Verdict,
};
use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::approvals::Approvals;
use crate::cluster::sessions::Naming;
use crate::cluster::Cluster;
use crate::context::ContextStore;
use crate::credentials::CredentialBroker;
use crate::identity::IdentitySettings;
use crate::intent::IntentService;
use crate::policy::{EvalLimits, PolicyError, PolicySet, Resolution, ToolSchemas};
use crate::receipts::{ReceiptDraft, ReceiptLog};
use crate::settings::{EnforcementSettings, PolicySettings};
use crate::telemetry::Telemetry;

use enforcement::{receipt_failure, Decided, HeldDenial, ReceiptExtra, Stage};
use evaluation::{agent_of, evaluation_context, session_of};

struct Inner {
    policies: RwLock<Arc<PolicySet>>,
    settings: PolicySettings,
    enforcement: EnforcementSettings,
    identity: IdentitySettings,
    telemetry: Option<Arc<Telemetry>>,
    retention: Option<Arc<crate::retention::Retention>>,
    receipts: ReceiptLog,
    approvals: Arc<Approvals>,
    declared: ToolSchemas,
    context: Arc<ContextStore>,
    /// `[cluster]`: the replicas' shared state.
    cluster: Option<Arc<Cluster>>,
    intent: Option<IntentService>,
    context_changed: watch::Sender<u64>,
    /// Deferrals of monitored actions being resolved in the background (the action ran; the
    /// resolution enforcement would reach is still receipted).
    background: watch::Sender<usize>,
    max_hold: Duration,
    /// `[cluster]`: the DEFERs this replica holds, published with its heartbeat.
    deferrals: shared::Deferrals,
    /// `[cluster]`: when this replica's heartbeat last reached Redis.
    lease: shared::Lease,
    /// The last receipt that let each recent action run, for its outcome receipt.
    ran: Mutex<lru::LruCache<String, (String, ReceiptDecision)>>,
    /// Brokered credentials (AARM R9): secrets, minting, leaks.
    credentials: Arc<CredentialBroker>,
    /// Set once the appliance shuts down: every hold ends, denied and receipted.
    shutdown: watch::Sender<bool>,
    /// Actions held now (STEP_UP, DEFER), counted while their hold lasts.
    holding: Arc<watch::Sender<usize>>,
}

/// Completes once the appliance shuts down (never, if the sender is gone).
pub(super) async fn shutting_down(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|down| *down).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Counts one held action while it lives.
pub(super) struct Holding(Arc<watch::Sender<usize>>);

impl Drop for Holding {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Inner {
    /// Counts a hold until the returned guard is dropped.
    pub(super) fn holding(&self) -> Holding {
        self.holding.send_modify(|n| *n += 1);
        Holding(self.holding.clone())
    }
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

/// Builds a [`PolicyEngine`]: what it needs, then what it may have. Nothing can be added once
/// the engine is built (it is shared from then on).
pub struct PolicyEngineBuilder {
    inner: Inner,
}

impl PolicyEngineBuilder {
    /// Adds the embedding service behind `intent.drift`.
    pub fn intent(mut self, intent: IntentService) -> Self {
        self.inner.intent = Some(intent);
        self
    }

    /// Sets what happens to actions whose identity is not verified.
    pub fn identity(mut self, identity: IdentitySettings) -> Self {
        self.inner.identity = identity;
        self
    }

    /// Streams an event per decision, approval, deferral resolution and drift alert to the
    /// SIEM.
    pub fn telemetry(mut self, telemetry: Arc<Telemetry>) -> Self {
        self.inner.telemetry = Some(telemetry);
        self
    }

    /// Archives, prunes and watches the stores' fill levels (its metrics and the console's
    /// banner come from it).
    pub fn retention(mut self, retention: Arc<crate::retention::Retention>) -> Self {
        self.inner.retention = Some(retention);
        self
    }

    /// Shares session context with the other replicas through Redis (`[cluster]`); the
    /// context store switches to shared mode.
    pub fn cluster(mut self, cluster: Arc<Cluster>) -> Self {
        self.inner.context.share();
        self.inner.cluster = Some(cluster);
        self
    }

    /// Brokers credentials with `broker` (its minting key); the bundle's file and environment
    /// secrets are read now, and again on every reload.
    pub fn credentials(mut self, broker: CredentialBroker) -> Result<Self, String> {
        broker.preload(&self.inner.current().credentials)?;
        self.inner.credentials = Arc::new(broker);
        Ok(self)
    }

    /// Builds the engine; with `[cluster]`, starts its background tasks (heartbeat, holds,
    /// forwarded answers, change notifications) on a thread of their own, from now on.
    pub fn build(self) -> PolicyEngine {
        let inner = Arc::new(self.inner);
        shared::start_thread(&inner);
        PolicyEngine { inner }
    }
}

impl PolicyEngine {
    /// An engine with what it needs: the policy bundle and its settings, enforcement, the
    /// receipt log, the context store, and the longest hold the data plane allows.
    pub fn builder(
        policies: PolicySet,
        settings: PolicySettings,
        enforcement: EnforcementSettings,
        receipts: ReceiptLog,
        context: Arc<ContextStore>,
        max_hold: Duration,
    ) -> PolicyEngineBuilder {
        let (context_changed, _) = watch::channel(0);
        let (background, _) = watch::channel(0usize);
        PolicyEngineBuilder {
            inner: Inner {
                policies: RwLock::new(Arc::new(policies)),
                settings,
                enforcement,
                identity: IdentitySettings::default(),
                telemetry: None,
                retention: None,
                receipts,
                approvals: Arc::new(Approvals::default()),
                declared: ToolSchemas::default(),
                context,
                cluster: None,
                intent: None,
                context_changed,
                background,
                max_hold,
                deferrals: shared::Deferrals::default(),
                lease: shared::Lease::default(),
                ran: Mutex::new(lru::LruCache::new(
                    std::num::NonZeroUsize::new(16_384).unwrap_or(std::num::NonZeroUsize::MIN),
                )),
                credentials: Arc::new(CredentialBroker::default()),
                shutdown: watch::channel(false).0,
                holding: Arc::new(watch::channel(0usize).0),
            },
        }
    }

    /// [`Self::builder`], built with nothing more.
    pub fn new(
        policies: PolicySet,
        settings: PolicySettings,
        enforcement: EnforcementSettings,
        receipts: ReceiptLog,
        context: Arc<ContextStore>,
        max_hold: Duration,
    ) -> Self {
        Self::builder(policies, settings, enforcement, receipts, context, max_hold).build()
    }

    /// Waits until every receipt written so far is in the receipt store (tests, shutdown).
    pub async fn committed(&self) {
        self.inner.receipts.committed().await;
    }

    /// The appliance is shutting down: every held action (STEP_UP, DEFER) ends now, denied,
    /// its resolution receipted with status `shutdown`; waits (at most `grace`) for them, then
    /// until every receipt is in the store.
    pub async fn shut_down(&self, grace: Duration) {
        self.inner.shutdown.send_replace(true);
        let mut held = self.inner.holding.subscribe();
        let held_now = *held.borrow();
        if held_now > 0 {
            tracing::info!(held = held_now, "shutting down: ending held actions");
        }
        let _ = tokio::time::timeout(grace, held.wait_for(|n| *n == 0)).await;
        let _ = tokio::time::timeout(grace, self.inner.receipts.committed()).await;
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

    /// The receipt log itself (retention appends checkpoints to it).
    pub fn receipt_log(&self) -> ReceiptLog {
        self.inner.receipts.clone()
    }

    /// The SIEM export, when sinks are configured.
    pub fn telemetry(&self) -> Option<Arc<Telemetry>> {
        self.inner.telemetry.clone()
    }

    /// The stores' fill levels and the archive's state, when retention runs.
    pub fn retention(&self) -> Option<Arc<crate::retention::Retention>> {
        self.inner.retention.clone()
    }

    /// The link to the other replicas, with `[cluster]`.
    pub fn cluster(&self) -> Option<Arc<Cluster>> {
        self.inner.cluster.clone()
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
        // Secrets are read before the bundle is swapped in: one that cannot be read keeps the
        // running bundle.
        self.inner
            .credentials
            .preload(&set.credentials)
            .map_err(|e| {
                PolicyError::Compile(format!("{}: {e}", crate::credentials::CREDENTIALS_FILE))
            })?;
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

    /// The credential broker (its minting key's JWKS is served on the admin listener).
    pub fn credential_broker(&self) -> Arc<CredentialBroker> {
        self.inner.credentials.clone()
    }

    /// The full evaluation of an action without enforcing or receipting it (`policy eval`).
    pub async fn explain(&self, action: &Action) -> (Value, Resolution) {
        let set = self.inner.current();
        let mut input = self.inner.input(action, &set);
        let res = self.inner.decide(&set, &mut input, action).await;
        (input, res)
    }
}
#[async_trait]
impl ActionEngine for PolicyEngine {
    fn name(&self) -> &'static str {
        "policy"
    }

    async fn mediate(&self, action: &Action) -> Result<Verdict, MediationError> {
        let started = Instant::now();
        // An action that tries to send a brokered secret or a minted token is refused; what is
        // receipted, recorded and streamed of it names the credential instead of the secret.
        let redacted;
        let action = if action
            .risk_signals
            .iter()
            .any(|s| matches!(s, aarmor_core::RiskSignal::CredentialLeak { .. }))
        {
            redacted = self.inner.credentials.redacted(action);
            &redacted
        } else {
            action
        };
        let set = self.inner.current();
        let unready = self.inner.ready(action, false).await.err();
        let mut input = self.inner.input(action, &set);
        let res = match unready {
            Some(denied) => *denied,
            None => self.inner.decide(&set, &mut input, action).await,
        };
        tracing::debug!(action = %action.action_id, decision = %res.decision, rule = ?res.rule, eval_us = started.elapsed().as_micros() as u64, "evaluated");
        Ok(self
            .inner
            .enforce(
                action,
                input,
                res,
                set.policy.clone(),
                Stage::Decision,
                ReceiptExtra::default(),
            )
            .await)
    }

    async fn record_outcome(&self, action: &Action, execution: Execution) {
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
            self.inner.share(&session_of(action));
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
                execution: Some(execution.into()),
                checkpoint: None,
            };
            if let Err(e) = inner.receipts.append_deferred(draft).await {
                tracing::error!(error = %e, "cannot write an outcome receipt");
            }
        });
    }

    fn register_metrics(&self, registry: &prometheus::Registry) {
        self.inner.context.register_metrics(registry);
        if let Some(c) = &self.inner.cluster {
            c.register(registry);
        }
        self.inner.approvals.register(registry);
        if let Some(t) = &self.inner.telemetry {
            t.register(registry);
        }
        if let Some(r) = &self.inner.retention {
            r.register(registry);
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
        let set = self.inner.current();
        set.read_action_hosts.covers(host) || set.credentials.binds_host(host)
    }

    async fn bind_credential(
        &self,
        action: &mut Action,
        ask: Result<Option<CredentialAsk>, AskError>,
        scheme: &str,
    ) {
        let set = self.inner.current();
        self.inner
            .credentials
            .bind(&set.credentials, action, ask, scheme)
            .await;
    }

    fn binds_host(&self, host: &str) -> bool {
        self.inner.current().credentials.binds_host(host)
    }

    fn response_scrub(&self) -> Option<Arc<aarmor_mediation::ScrubSet>> {
        self.inner.credentials.response_scrub()
    }

    async fn attach_credential(
        &self,
        action: &Action,
        sent: SentRequest<'_>,
    ) -> Result<Attachment, String> {
        let receipt = self
            .inner
            .ran
            .lock()
            .ok()
            .and_then(|r| r.peek(&action.action_id.0).map(|(id, _)| id.clone()))
            .ok_or("no receipt allowed this action")?;
        let set = self.inner.current();
        self.inner
            .credentials
            .attach(&set.credentials, action, &receipt, sent)
            .await
    }

    fn holds_secrets(&self) -> bool {
        self.inner.credentials.holds_secrets()
    }

    fn credential_leak(&self, bytes: &[u8]) -> Option<String> {
        self.inner.credentials.leak(bytes)
    }

    async fn attribute(
        &self,
        agent: &str,
        explicit: Option<&str>,
        conversation: Option<(&str, &str)>,
    ) -> SessionId {
        let Some(cluster) = &self.inner.cluster else {
            return self.inner.context.attribute(agent, explicit, conversation);
        };
        let naming = match (explicit, conversation) {
            (Some(h), _) => Naming::Named(SessionId::explicit(h)),
            (None, Some((system, user))) => Naming::Named(SessionId::derived(agent, system, user)),
            _ => Naming::Active { agent },
        };
        match cluster.attribute(&self.inner.context, agent, naming).await {
            Ok(session) => session,
            Err(e) => {
                // A guess: the exchange's actions are refused (see `Cluster::unattributed`).
                tracing::warn!(agent, error = %e, "cannot read the agent's session from redis");
                let guess = self.inner.context.attribute(agent, explicit, conversation);
                if explicit.is_none() && conversation.is_none() {
                    cluster.unattributed(&guess);
                }
                guess
            }
        }
    }

    async fn observe(
        &self,
        session: &SessionRef,
        mut observations: Vec<Observation>,
    ) -> Result<(), String> {
        let set = self.inner.current();
        // What the agent saw is recorded without any brokered secret in it (an upstream that
        // echoed one, in a form the response scrubber does not know).
        for o in observations.iter_mut() {
            self.inner.credentials.redact_value(&mut o.content);
        }
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
        let shared = self.inner.share_now(&session.id).await;
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
        shared
    }
}
