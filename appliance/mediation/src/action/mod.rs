//! The protocol-aware mediator: turns each exchange into canonical actions and observations
//! (`aarmor-protocols`), asks the [`ActionEngine`] about every action, and renders the verdicts
//! back into the wire format the agent speaks.
//!
//! Fail closed, everywhere: an engine error, a decision past `decision_timeout_ms` or a hold past
//! `max_hold_ms` is a denial; a response that cannot be inspected (compressed, oversized event)
//! never reaches the client.
//!
//! The module follows the protocol families: `rest` (REST and SQL), `llm`, `mcp`,
//! `upgrade` (protocol switches and WebSocket messages); `decide` asks the engine about one
//! action; `exchange` walks an exchange through the data plane's phases; `problems` writes
//! the answers aarmor gives instead of the upstream.

mod credentials;
mod decide;
mod exchange;
mod llm;
mod mcp;
mod problems;
mod rest;
mod upgrade;
mod ws_frames;

use std::sync::Arc;
use std::time::Duration;

use aarmor_core::credential::{AskError, Attachment, CredentialAsk};
use aarmor_core::{
    Action, FinalVerdict, Identity, Protocol, ProxyCredential, RiskSignal, SessionId,
    SyntheticResponse,
};
use aarmor_protocols::classify::{classify_head, HeadClass, ProtocolConfig, SqlEndpoint};
use aarmor_protocols::gate::StreamGate;
use aarmor_protocols::llm::LlmDialect;
use aarmor_protocols::ActionDraft;
use async_trait::async_trait;
use serde_json::Value;

use crate::seam::{Exchange, HeadVerdict, HeaderRewrite, MediationError, Mediator};
use crate::{ActionEngine, MediationMetrics, MediationSettings};

use problems::{aarmor_headers, denied_problem, refusal_problem};
use ws_frames::WsState;

/// What every exchange's inspector shares.
struct Shared {
    engine: Arc<dyn ActionEngine>,
    protocols: ProtocolConfig,
    decision_timeout: Duration,
    max_hold: Duration,
    max_event_bytes: usize,
    metrics: MediationMetrics,
}

/// The default mediator of the data plane.
pub struct ActionMediator {
    shared: Arc<Shared>,
}

impl ActionMediator {
    /// The mediator over `engine`, as the `[mediation]` settings configure it; it counts into
    /// `metrics`, which the data plane registers.
    pub fn new(
        engine: Arc<dyn ActionEngine>,
        settings: &MediationSettings,
        metrics: MediationMetrics,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                engine,
                protocols: settings.protocol_config(),
                decision_timeout: settings.decision_timeout(),
                max_hold: settings.max_hold(),
                max_event_bytes: settings.max_event_bytes,
                metrics,
            }),
        }
    }
}

#[async_trait]
impl Mediator for ActionMediator {
    fn name(&self) -> &'static str {
        "actions"
    }

    fn knows_proxy_credential(&self, credential: &ProxyCredential) -> bool {
        self.shared.engine.knows_proxy_credential(credential)
    }

    async fn on_forbidden_destination(
        &self,
        client: Option<std::net::SocketAddr>,
        credential: Option<&ProxyCredential>,
        host: &str,
        addr: std::net::SocketAddr,
        reason: &str,
    ) -> SyntheticResponse {
        // The refusal is an action too (`connect` to the host), decided and receipted: the
        // engine refuses it for its `forbidden_destination` signal whatever the policy says.
        let signal = RiskSignal::ForbiddenDestination {
            address: addr.to_string(),
            reason: reason.to_string(),
        };
        let (action, verdict) = self
            .decide_connection(client, credential, host, addr, None, vec![signal])
            .await;
        let rule = match verdict {
            FinalVerdict::Deny(d) => d.rule,
            _ => None,
        };
        refusal_problem(
            403,
            "destination-forbidden",
            "The destination is not reachable through aarmor",
            &format!("{host} ({addr}): {reason}"),
            &action,
            rule,
        )
    }

    async fn on_splice(
        &self,
        client: Option<std::net::SocketAddr>,
        credential: Option<&ProxyCredential>,
        host: &str,
        addr: std::net::SocketAddr,
        why: &str,
    ) -> Result<(), SyntheticResponse> {
        // A splice is unmediated from then on: the decision to make it is an action.
        let (action, verdict) = self
            .decide_connection(client, credential, host, addr, Some(why), Vec::new())
            .await;
        match verdict {
            FinalVerdict::Deny(d) => Err(denied_problem(&action, &d)),
            _ => Ok(()),
        }
    }

    async fn on_request_head(&self, exchange: &Exchange) -> Result<HeadVerdict, MediationError> {
        // The classification table (aarmor_protocols::classify): everything but a bodiless
        // read gets a decision. A read that names a brokered credential, or carries a secret
        // aarmor holds, is decided too.
        let ask = CredentialAsk::from_headers(&exchange.request.headers);
        let leak = credentials::head_leak(&self.shared.engine, &exchange.request);
        let watched = self.shared.engine.reads_are_actions(&exchange.request.host)
            || !matches!(ask, Ok(None))
            || leak.is_some();
        let kind = match classify_head(&exchange.request, &self.shared.protocols, watched) {
            HeadClass::BodilessRead => {
                // aarmor's own headers never reach the upstream.
                let remove = aarmor_headers(&exchange.request, &self.shared.engine);
                if !remove.is_empty() {
                    return Ok(HeadVerdict::Rewrite(HeaderRewrite {
                        set: vec![],
                        remove,
                    }));
                }
                return Ok(HeadVerdict::Forward);
            }
            // A WebSocket is decided with its request, then relayed message by message.
            HeadClass::Upgrade(protocol) if protocol == "websocket" => Kind::WebSocket(Box::new(
                WsState::new(&exchange.request.path, self.shared.max_event_bytes),
            )),
            // Any other protocol switch is decided now, then relayed as it is.
            HeadClass::Upgrade(protocol) => {
                let mut inspector = self.inspector(exchange, Kind::Rest, ask);
                inspector.leak = leak;
                if exchange.request.has_body {
                    // The body would go upstream unread (the switched connection is relayed
                    // as it is): refused, as a WebSocket upgrade with a body is.
                    let refusal = inspector
                        .refuse_unreadable(
                            400,
                            "uninspectable-request",
                            "Refused: an upgrade request with a body",
                            &format!("a request to switch to {protocol} carries a body, which aarmor would relay unread"),
                        )
                        .await;
                    return Ok(HeadVerdict::Respond(refusal));
                }
                return Ok(inspector.decide_upgrade(&protocol).await);
            }
            HeadClass::Llm(dialect) => Kind::Llm(dialect),
            HeadClass::Sql(ep) => Kind::Sql(ep.clone()),
            HeadClass::Action => Kind::Undecided,
        };
        let mut inspector = self.inspector(exchange, kind, ask);
        inspector.leak = leak;
        Ok(HeadVerdict::Inspect(Box::new(inspector)))
    }
}

impl ActionMediator {
    /// Decides a connection-level action: `connect` to `host` at `addr` (a splice, with why; or
    /// a refusal, with its signal). Identity comes from the connection: client address and
    /// proxy credential.
    async fn decide_connection(
        &self,
        client: Option<std::net::SocketAddr>,
        credential: Option<&ProxyCredential>,
        host: &str,
        addr: std::net::SocketAddr,
        splice: Option<&str>,
        risk_signals: Vec<RiskSignal>,
    ) -> (Action, FinalVerdict) {
        let exchange = Exchange {
            id: 0,
            connection: Arc::new(aarmor_core::ConnectionFacts {
                client_addr: client,
                mode: aarmor_core::ConnectionMode::ConnectIntercepted,
                target: None,
                sni: None,
                credential: credential.cloned(),
                client_cert: None,
            }),
            request: aarmor_core::RequestHead {
                method: "CONNECT".into(),
                scheme: "https",
                host: host.to_string(),
                port: addr.port(),
                path: "/".into(),
                headers: Default::default(),
                has_body: false,
            },
        };
        let mut inspector = self.inspector(&exchange, Kind::Rest, Ok(None));
        let mut parameters = serde_json::Map::new();
        parameters.insert("address".into(), Value::String(addr.to_string()));
        if let Some(why) = splice {
            parameters.insert("splice".into(), Value::String(why.to_string()));
        }
        let draft = ActionDraft {
            envelope: Default::default(),
            protocol: Protocol::Rest,
            tool: host.to_string(),
            operation: "connect".into(),
            parameters,
            risk_signals,
        };
        inspector.session().await;
        let action = inspector.request_action(draft);
        let verdict = inspector.decide(&action).await;
        (action, verdict)
    }

    fn inspector(
        &self,
        exchange: &Exchange,
        kind: Kind,
        ask: Result<Option<CredentialAsk>, AskError>,
    ) -> ActionInspector {
        let identity = self
            .shared
            .engine
            .identify(&exchange.connection, &exchange.request);
        ActionInspector {
            identity,
            shared: self.shared.clone(),
            exchange: exchange.clone(),
            kind,
            response: ResponseHandling::Pass,
            refusal: None,
            llm_stream: false,
            gate: None,
            held_calls: Vec::new(),
            executed: Vec::new(),
            stream_ended: false,
            result_copy: None,
            session: None,
            scrubs: self.shared.engine.binds_host(&exchange.request.host),
            ask,
            leak: None,
            attachment: None,
            scrubber: None,
        }
    }
}

/// What the exchange turned out to be.
enum Kind {
    Llm(LlmDialect),
    Sql(SqlEndpoint),
    /// MCP or REST: the body decides.
    Undecided,
    Mcp,
    Rest,
    /// A WebSocket upgrade, and once switched, its messages.
    WebSocket(Box<WsState>),
}

/// What becomes of a message a WebSocket client sent.
enum ClientMessage {
    /// Sent on unchanged.
    Pass,
    /// Not sent on; the client gets this instead (JSON-RPC errors).
    Reply(Vec<u8>),
    /// Not sent on; the connection ends with this close frame.
    Close(Vec<u8>),
}

/// What to do with the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResponseHandling {
    Pass,
    /// LLM responses: tool calls are actions.
    LlmCalls,
    /// MCP responses: tool lists and results are observed.
    McpObserve,
    /// Responses of executed SQL and REST actions: passed untouched, with a bounded copy that is
    /// observed (classified) once the agent has the response.
    ResultObserve,
    /// Compressed or otherwise unreadable (see `ActionInspector::refusal`): refuse rather than
    /// pass unseen.
    Refuse,
}

struct ActionInspector {
    shared: Arc<Shared>,
    /// Who is acting, bound when the exchange arrived (the session is added per action).
    identity: Identity,
    exchange: Exchange,
    kind: Kind,
    response: ResponseHandling,
    /// Why an LLM response is refused (`ResponseHandling::Refuse`).
    refusal: Option<String>,
    /// The LLM request asked for a streamed response (`"stream": true`): the response is read
    /// as a stream whatever its declared type, as the client's SDK reads it.
    llm_stream: bool,
    gate: Option<StreamGate>,
    /// Tool calls the gate holds until they are decided.
    held_calls: Vec<ActionDraft>,
    /// Request-side actions allowed to run in this exchange, for their outcome records.
    executed: Vec<Action>,
    /// The stream ended; its observations are recorded once nothing is held.
    stream_ended: bool,
    /// Copy of a streamed MCP or SQL response, bounded, observed at its end.
    result_copy: Option<Vec<u8>>,
    /// The session the exchange belongs to, once attributed.
    session: Option<SessionId>,
    /// The brokered credential the request names with a placeholder, if any.
    ask: Result<Option<CredentialAsk>, AskError>,
    /// A brokered secret or minted token the request carries (head or body), and where.
    leak: Option<credentials::Leak>,
    /// The credential attached to the request once its action was allowed.
    attachment: Option<Attachment>,
    /// A credential is bound to the host: the response is scrubbed of every brokered secret.
    scrubs: bool,
    /// Scrubs brokered secrets from the response.
    scrubber: Option<crate::Scrubber>,
}
