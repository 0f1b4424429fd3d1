//! The engine's entry points for the data plane: `mediate` an action, `observe` what is not one.

use aarmor_core::credential::{AskError, Attachment, CredentialAsk, SentRequest};
use aarmor_core::receipt_records::Execution;
use aarmor_core::{
    Action, ConnectionFacts, Identity, Observation, ProxyCredential, RequestHead, RiskSignal,
    SessionId, SessionRef, Verdict,
};
use async_trait::async_trait;

use crate::seam::MediationError;

/// Decides on canonical actions. The data plane bounds `mediate` with its decision timeout and
/// any hold with the hold limit; an error, a timeout or an unresolved hold refuses the action.
#[async_trait]
pub trait ActionEngine: Send + Sync + 'static {
    /// Short name for logs and metrics.
    fn name(&self) -> &'static str;

    /// Decides one canonical action: allow, deny, modify, or hold it until the decision is known.
    /// An `Err` refuses the action.
    async fn mediate(&self, action: &Action) -> Result<Verdict, MediationError>;

    /// Binds who is acting in an exchange (AARM R6); `session` is filled by the data plane.
    /// The default names the proxy credential's principal or the client address, unverified
    /// by no registry.
    fn identify(&self, facts: &ConnectionFacts, _request: &RequestHead) -> Identity {
        unbound_identity(facts)
    }

    /// Whether a proxy credential (`Proxy-Authorization`) belongs to a registered agent. The
    /// default registry is empty: none does.
    fn knows_proxy_credential(&self, _credential: &ProxyCredential) -> bool {
        false
    }

    /// Request headers that carry identity (a user token, a human header) and are removed before
    /// the request goes upstream, besides every `x-aarm-*` header.
    fn private_headers(&self) -> std::sync::Arc<[String]> {
        std::sync::Arc::from(Vec::new())
    }

    /// Whether every request to `host` is an action, reads (`GET`) included. The default: no
    /// host, so a read without a body is forwarded without a decision.
    fn reads_are_actions(&self, _host: &str) -> bool {
        false
    }

    /// The session of an exchange: the one the `x-aarm-session` header names (`explicit`), else
    /// the one of the conversation (`conversation`: system prompt and first user message of an
    /// LLM request), else the agent's active session. The default keeps no state.
    async fn attribute(
        &self,
        agent: &str,
        explicit: Option<&str>,
        conversation: Option<(&str, &str)>,
    ) -> SessionId {
        match (explicit, conversation) {
            (Some(h), _) => SessionId::explicit(h),
            (None, Some((system, user))) => SessionId::derived(agent, system, user),
            _ => SessionId::agent_default(agent),
        }
    }

    /// Records observations in a session's context. Must not block the data path for long.
    /// `Err` says why they could not be recorded where every decision will see them (a cluster
    /// replica that cannot reach the shared store): the exchange that showed them must not go on.
    async fn observe(
        &self,
        _session: &SessionRef,
        _observations: Vec<Observation>,
    ) -> Result<(), String> {
        Ok(())
    }

    /// Binds the brokered credential a request (sent over `scheme`) asks for with a placeholder
    /// (`ask`), or that a binding attaches by itself, to its action (AARM R9): fills
    /// `action.credential`, or adds the signal that refuses a use outside the credential's
    /// bindings. Called before `mediate`. The default brokers nothing: any placeholder is
    /// refused.
    async fn bind_credential(
        &self,
        action: &mut Action,
        ask: Result<Option<CredentialAsk>, AskError>,
        _scheme: &str,
    ) {
        let reason = match ask {
            Ok(None) => return,
            Ok(Some(_)) => "no credential broker is configured".to_string(),
            Err(e) => e.to_string(),
        };
        action
            .risk_signals
            .push(RiskSignal::CredentialScopeViolation {
                credential: String::new(),
                reason,
            });
    }

    /// The header that carries an allowed action's credential (`action.credential`), the
    /// secret or a token minted for this request as `sent`. Called only after the action was
    /// allowed; `Err` refuses the request (nothing is sent).
    async fn attach_credential(
        &self,
        _action: &Action,
        _sent: SentRequest<'_>,
    ) -> Result<Attachment, String> {
        Err("no credential broker is configured".into())
    }

    /// Whether a brokered credential is bound to `host`: its responses are scrubbed of every
    /// secret (and must be readable for it). The default brokers nothing.
    fn binds_host(&self, _host: &str) -> bool {
        false
    }

    /// Every form of every brokered secret (and of the tokens the engine mints), to scrub
    /// responses of; asked when a response arrives, so it includes what was just fetched.
    fn response_scrub(&self) -> Option<std::sync::Arc<crate::ScrubSet>> {
        None
    }

    /// Whether the engine holds any brokered secret or has minted tokens: when it does not,
    /// requests are not searched for them. The default holds none.
    fn holds_secrets(&self) -> bool {
        false
    }

    /// Which brokered credential's secret, or which token the engine minted, `bytes` carry
    /// (a header value, a URL, a body): agents never hold either. The default knows none.
    fn credential_leak(&self, _bytes: &[u8]) -> Option<String> {
        None
    }

    /// Adds the engine's own metrics to the data plane's registry (served on `/metrics`).
    fn register_metrics(&self, _registry: &prometheus::Registry) {}

    /// Records what happened when an allowed action ran: `execution` holds the upstream status,
    /// `success`, `output_hash` and `bytes`. Called after the response reached the agent.
    async fn record_outcome(&self, _action: &Action, _execution: Execution) {}
}

/// The legacy binding when no registry is in use: the proxy credential's principal, else the
/// client's address; nothing is verified.
pub fn unbound_identity(facts: &ConnectionFacts) -> Identity {
    let agent = match (&facts.credential, facts.client_addr) {
        (Some(c), _) => format!("proxy-user:{}", c.principal()),
        (None, Some(a)) => format!("ip:{}", a.ip()),
        (None, None) => "unknown".into(),
    };
    // Said, not assumed: policy that asks whether the identity was established sees that it
    // was not.
    let unverified = vec![format!(
        "no identity registry: the agent is named {agent} by its connection"
    )];
    Identity {
        agent: Some(agent),
        unverified,
        ..Identity::default()
    }
}
