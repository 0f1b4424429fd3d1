//! The protocol-aware mediator: turns each exchange into canonical actions and observations
//! (`aarmor-protocols`), asks the [`ActionEngine`] about every action, and renders the verdicts
//! back into the wire format the agent speaks.
//!
//! Fail closed, everywhere: an engine error, a decision past `decision_timeout_ms` or a hold past
//! `max_hold_ms` is a denial; a response that cannot be inspected (compressed, oversized event)
//! never reaches the client.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aarmor_core::session::SESSION_HEADER;
use aarmor_core::{
    Action, ActionId, ActionTarget, Denial, FinalVerdict, Identity, Observation, ObservationKind,
    Protocol, ProxyCredential, ResponseHead, RiskSignal, SessionId, SessionRef, SyntheticResponse,
};
use aarmor_engine::{
    ActionEngine, BodyVerdict, Direction, Exchange, ExchangeInspector, ExchangeOutcome,
    HeadVerdict, HeaderRewrite, MediationError, Mediator, Relayed, RequestEdit, ResponsePlan,
    ResponseVerdict,
};
use aarmor_protocols::body::BodyRead;
use aarmor_protocols::classify::{
    classify_body, classify_head, BodyClass, HeadClass, ProtocolConfig, SqlEndpoint,
};
use aarmor_protocols::draft::WRAPPED_MODIFY_REFUSED;
use aarmor_protocols::gate::{GateOutput, StreamGate};
use aarmor_protocols::llm::{LlmDialect, Rendered};
use aarmor_protocols::mcp::{self, McpRequest};
use aarmor_protocols::websocket::{WsItem, WsMessage};
use aarmor_protocols::{rest, sql, ActionDraft, Observed};
use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;

use crate::metrics::Metrics;
use crate::settings::MediationSettings;
use crate::ws_mediation::{self, WsFlavor, WsState};

/// What every exchange's inspector shares.
struct Shared {
    engine: Arc<dyn ActionEngine>,
    protocols: ProtocolConfig,
    decision_timeout: Duration,
    max_hold: Duration,
    max_event_bytes: usize,
    metrics: Arc<Metrics>,
    /// Distinguishes action ids of this process from those of earlier runs.
    id_salt: u16,
    id_counter: AtomicU16,
}

/// The default mediator of the data plane.
pub struct ActionMediator {
    shared: Arc<Shared>,
}

impl ActionMediator {
    pub fn new(
        engine: Arc<dyn ActionEngine>,
        settings: &MediationSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        let mut salt = [0u8; 2];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt);
        Self {
            shared: Arc::new(Shared {
                engine,
                protocols: settings.protocol_config(),
                decision_timeout: settings.decision_timeout(),
                max_hold: settings.max_hold(),
                max_event_bytes: settings.max_event_bytes,
                metrics,
                id_salt: u16::from_be_bytes(salt),
                id_counter: AtomicU16::new(0),
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
        // read gets a decision.
        let watched = self.shared.engine.reads_are_actions(&exchange.request.host);
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
                let mut inspector = self.inspector(exchange, Kind::Rest);
                return Ok(inspector.decide_upgrade(&protocol).await);
            }
            HeadClass::Llm(dialect) => Kind::Llm(dialect),
            HeadClass::Sql(ep) => Kind::Sql(ep.clone()),
            HeadClass::Action => Kind::Undecided,
        };
        Ok(HeadVerdict::Inspect(Box::new(
            self.inspector(exchange, kind),
        )))
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
        let mut inspector = self.inspector(&exchange, Kind::Rest);
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
        inspector.session();
        let action = inspector.request_action(draft);
        let verdict = inspector.decide(&action).await;
        (action, verdict)
    }

    fn inspector(&self, exchange: &Exchange, kind: Kind) -> ActionInspector {
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
}

/// The text of an MCP tool result: its text content parts, and its structured content.
fn mcp_result_text(result: &Value) -> String {
    if let Value::String(unread) = result {
        // A response that did not parse, kept as it came.
        return unread.clone();
    }
    let mut parts: Vec<String> = result
        .get("content")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("text").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(sc) = result.get("structuredContent") {
        parts.push(sc.to_string());
    }
    if parts.is_empty() {
        return result.to_string();
    }
    parts.join("\n")
}

/// Headers only aarmor and the agent platform speak (`x-aarm-*`, and the identity headers the
/// engine names): the ones present, to remove before the request goes upstream.
fn aarmor_headers(
    request: &aarmor_core::RequestHead,
    engine: &Arc<dyn ActionEngine>,
) -> Vec<String> {
    let private = engine.private_headers();
    let mut names: Vec<String> = request
        .headers
        .iter()
        .filter(|(n, _)| {
            (n.len() >= 7 && n[..7].eq_ignore_ascii_case("x-aarm-"))
                || private.iter().any(|p| p.eq_ignore_ascii_case(n))
        })
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn is_event_stream(head: &ResponseHead) -> bool {
    head.headers
        .get_str("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/event-stream"))
}

fn is_encoded(head: &ResponseHead) -> bool {
    head.headers.all("content-encoding").any(|e| {
        let e = String::from_utf8_lossy(e);
        e.split(',')
            .any(|c| !c.trim().is_empty() && !c.trim().eq_ignore_ascii_case("identity"))
    })
}

/// Why an LLM response cannot be read the way the client will read it, if it cannot.
fn unreadable_llm_response(head: &ResponseHead) -> Option<String> {
    if head.headers.count("content-type") > 1 {
        return Some("the response has more than one Content-Type header".into());
    }
    if is_encoded(head) {
        return Some(format!(
            "the response is encoded ({}) although an uncompressed one was requested",
            head.headers.get_str("content-encoding").unwrap_or("?")
        ));
    }
    None
}

/// A problem response for a request refused with a decision, naming the action and rule.
fn refusal_problem(
    status: u16,
    kind: &str,
    title: &str,
    detail: &str,
    action: &Action,
    rule: Option<String>,
) -> SyntheticResponse {
    let mut ext = serde_json::Map::new();
    ext.insert("action_id".into(), action.action_id.0.clone().into());
    ext.insert(
        "rule".into(),
        rule.map(Value::String).unwrap_or(Value::Null),
    );
    SyntheticResponse::problem_with(status, kind, title, detail, ext)
}

/// 403 for a denied request-side action (REST, SQL).
fn denied_problem(action: &Action, denial: &Denial) -> SyntheticResponse {
    let mut ext = serde_json::Map::new();
    ext.insert("action_id".into(), action.action_id.0.clone().into());
    ext.insert("tool".into(), action.tool.clone().into());
    ext.insert("operation".into(), action.operation.clone().into());
    ext.insert(
        "rule".into(),
        denial
            .rule
            .clone()
            .map(Value::String)
            .unwrap_or(Value::Null),
    );
    ext.insert("reason".into(), denial.reason.clone().into());
    SyntheticResponse::problem_with(
        403,
        "action-denied",
        "Refused by aarmor policy",
        &denial.reason,
        ext,
    )
}

impl ActionInspector {
    fn target(&self) -> ActionTarget {
        let req = &self.exchange.request;
        ActionTarget {
            host: req.host.clone(),
            port: req.port,
            method: req.method.clone(),
            // As servers route it (`%68ooks` is `hooks`): the form path rules match.
            path: rest::normalize_path(&req.path),
        }
    }

    /// The REST tool name of this request: `host` + path template.
    fn rest_tool(&self) -> String {
        let req = &self.exchange.request;
        format!(
            "{}{}",
            req.host,
            rest::path_template(&rest::normalize_path(&req.path))
        )
    }

    /// Decides a protocol switch (`Upgrade`, WebSocket above all) before it reaches the upstream:
    /// an action `upgrade` on the host and path. Allowed, the request is forwarded and the
    /// switched connection relayed; anything else refuses it.
    async fn decide_upgrade(&mut self, protocol: &str) -> HeadVerdict {
        let req = &self.exchange.request;
        let mut parameters = serde_json::Map::new();
        parameters.insert("protocol".into(), Value::String(protocol.to_string()));
        parameters.insert("query".into(), Value::Object(rest::query_map(&req.path)));
        if let Some(sub) = req.headers.get_str("sec-websocket-protocol") {
            parameters.insert("subprotocols".into(), Value::String(sub.to_string()));
        }
        let draft = ActionDraft {
            envelope: Default::default(),
            protocol: Protocol::Rest,
            tool: self.rest_tool(),
            operation: "upgrade".into(),
            parameters,
            risk_signals: Vec::new(),
        };
        self.session();
        let action = self.request_action(draft);
        match self.decide(&action).await {
            FinalVerdict::Allow => {
                let remove = aarmor_headers(&self.exchange.request, &self.shared.engine);
                if remove.is_empty() {
                    HeadVerdict::Forward
                } else {
                    HeadVerdict::Rewrite(HeaderRewrite {
                        set: vec![],
                        remove,
                    })
                }
            }
            FinalVerdict::Deny(d) => HeadVerdict::Respond(denied_problem(&action, &d)),
            FinalVerdict::Modify(m) => HeadVerdict::Respond(denied_problem(
                &action,
                &Denial {
                    rule: m.rule,
                    reason:
                        "the upgrade had to be modified, which a protocol switch cannot be; refused"
                            .into(),
                },
            )),
        }
    }

    /// Refuses a request whose body cannot be read the way its server may read it, with a
    /// decision and its receipt: the action carries an `uninspectable_body` signal, which the
    /// engine refuses whatever the policy says.
    async fn refuse_unreadable(
        &mut self,
        status: u16,
        kind: &str,
        title: &str,
        reason: &str,
    ) -> SyntheticResponse {
        let req = &self.exchange.request;
        let mut parameters = serde_json::Map::new();
        parameters.insert("body".into(), Value::Null);
        parameters.insert("query".into(), Value::Object(rest::query_map(&req.path)));
        let (protocol, tool, operation) = match &self.kind {
            Kind::Llm(d) => (
                d.protocol(),
                format!("llm.{}", d.provider()),
                aarmor_protocols::llm::LLM_REQUEST_OPERATION.to_string(),
            ),
            _ => (
                Protocol::Rest,
                self.rest_tool(),
                req.method.to_ascii_lowercase(),
            ),
        };
        let draft = ActionDraft {
            envelope: Default::default(),
            protocol,
            tool,
            operation,
            parameters,
            risk_signals: vec![RiskSignal::UninspectableBody {
                reason: reason.to_string(),
            }],
        };
        self.session();
        let action = self.request_action(draft);
        let rule = match self.decide(&action).await {
            FinalVerdict::Deny(d) => d.rule,
            // The engine refuses such actions; the data plane refuses them in any case.
            _ => None,
        };
        refusal_problem(status, kind, title, reason, &action, rule)
    }

    /// Reads the request body for policy; `Err` is the refusal to answer with.
    async fn read_body(&mut self, body: &Bytes) -> Result<BodyRead, SyntheticResponse> {
        let head = &self.exchange.request;
        let read = match classify_body(head, body) {
            Ok(BodyClass::Rest(read)) => Ok(read),
            Ok(BodyClass::Mcp(req)) => Ok(BodyRead::Json(
                serde_json::from_slice(&mcp::render_request(&req)).unwrap_or(Value::Null),
            )),
            Err(e) => Err(e.0),
        };
        match read {
            Ok(r) => Ok(r),
            Err(reason) => Err(self
                .refuse_unreadable(
                    415,
                    "uninspectable-request",
                    "Refused: the request body cannot be inspected",
                    &reason,
                )
                .await),
        }
    }

    /// An LLM API request: itself an action (`llm.<provider>` / `request`) on its whole body.
    /// Its conversation is recorded once it is allowed, so a refused request cannot plant text
    /// in the session; its response is gated (proposed tool calls are actions).
    async fn llm_body(&mut self, dialect: LlmDialect, body: &Bytes) -> BodyVerdict {
        let read = match self.read_body(body).await {
            Ok(r) => r,
            Err(refusal) => return BodyVerdict::Respond(refusal),
        };
        let BodyRead::Json(json) = read else {
            // Not a conversation: judged as the REST request it is.
            self.kind = Kind::Rest;
            return self.rest_read(read, body.len()).await;
        };
        self.llm_stream = json.get("stream").and_then(Value::as_bool) == Some(true);
        let observed = dialect.observe_request(&json);
        let text_of = |kind| {
            observed
                .iter()
                .find(|o| o.kind == kind)
                .and_then(|o| o.content.as_str())
        };
        let conversation = text_of(ObservationKind::UserMessage)
            .map(|user| (text_of(ObservationKind::SystemPrompt).unwrap_or(""), user));
        let agent = self.agent();
        self.session = Some(self.shared.engine.attribute(
            &agent,
            self.explicit_session(),
            conversation,
        ));
        let draft = dialect.request_draft(json, &self.exchange.request.path);
        let action = self.request_action(draft);
        match self.decide_request_action(&action).await {
            FinalVerdict::Allow => {
                self.response = ResponseHandling::LlmCalls;
                self.observe(dialect.protocol(), observed).await;
                BodyVerdict::Forward
            }
            FinalVerdict::Deny(d) => BodyVerdict::Respond(denied_problem(&action, &d)),
            FinalVerdict::Modify(m) => {
                let new_body = m.parameters.get("body").cloned().unwrap_or(Value::Null);
                match serde_json::to_vec(&new_body) {
                    Ok(bytes) if new_body.is_object() => {
                        self.response = ResponseHandling::LlmCalls;
                        self.observe(dialect.protocol(), dialect.observe_request(&new_body))
                            .await;
                        BodyVerdict::Edit(RequestEdit {
                            path: None,
                            body: Some(Bytes::from(bytes)),
                        })
                    }
                    _ => BodyVerdict::Respond(denied_problem(&action, &Denial { rule: m.rule, reason: "the request had to be rewritten but the new body is not a JSON object; refused".into() })),
                }
            }
        }
    }

    /// Decides a message a WebSocket client sends (see `ws_mediation`).
    async fn client_message(&mut self, m: &WsMessage) -> ClientMessage {
        let flavor = match &self.kind {
            Kind::WebSocket(state) => state.flavor,
            _ => WsFlavor::Other,
        };
        let json = m
            .as_text()
            .and_then(|t| aarmor_protocols::body::strict_json(t.as_bytes()).ok());
        if let Some(req) = json
            .as_ref()
            .and_then(|v| mcp::request_from(v).ok().flatten())
        {
            // MCP over WebSocket: the same actions as over HTTP.
            let server = self
                .shared
                .protocols
                .mcp_server_name(&self.exchange.request);
            let calls = mcp::calls(&req, &server, &self.shared.protocols.meta_tools);
            self.session();
            let mut denied = Vec::new();
            for call in calls {
                let action = self.request_action(call.draft);
                match self.decide(&action).await {
                    FinalVerdict::Allow => {}
                    FinalVerdict::Deny(d) => denied.push((call.position, d.reason, d.rule)),
                    FinalVerdict::Modify(m) => denied.push((
                        call.position,
                        "a modification was required but WebSocket messages are not rewritten"
                            .into(),
                        m.rule,
                    )),
                }
            }
            if denied.is_empty() {
                return ClientMessage::Pass;
            }
            return match mcp::refusal_body(&req, &denied) {
                Some(body) => ClientMessage::Reply(ws_mediation::reply(&body)),
                None => ClientMessage::Reply(Vec::new()),
            };
        }
        if flavor == WsFlavor::Realtime {
            // The session's own events, to the provider the upgrade was allowed to.
            return ClientMessage::Pass;
        }
        let draft = ActionDraft {
            protocol: Protocol::Rest,
            tool: self.rest_tool(),
            operation: "message".into(),
            parameters: ws_mediation::message_parameters(m),
            envelope: Default::default(),
            risk_signals: Vec::new(),
        };
        self.session();
        let action = self.request_action(draft);
        match self.decide(&action).await {
            FinalVerdict::Allow => ClientMessage::Pass,
            FinalVerdict::Deny(d) => ClientMessage::Close(ws_mediation::refusal_close(&format!(
                "refused by aarmor policy: {}",
                d.reason
            ))),
            FinalVerdict::Modify(_) => ClientMessage::Close(ws_mediation::refusal_close(
                "refused by aarmor policy: a modification was required but WebSocket messages are not rewritten",
            )),
        }
    }

    /// Decides what of an upstream's WebSocket message reaches the client: `None` drops it.
    async fn upstream_message(&mut self, m: &WsMessage) -> Option<Vec<u8>> {
        let Kind::WebSocket(state) = &self.kind else {
            return Some(m.raw.clone());
        };
        if state.flavor != WsFlavor::Realtime {
            return Some(m.raw.clone());
        }
        let Some(event) = m
            .as_text()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
        else {
            return Some(m.raw.clone());
        };
        if ws_mediation::mentions_denied(&event, &state.denied_calls) {
            return None;
        }
        if event.get("type").and_then(Value::as_str) == Some("response.done")
            && !state.denied_calls.is_empty()
        {
            let rewritten = ws_mediation::without_denied_calls(event, &state.denied_calls);
            return Some(aarmor_protocols::websocket::text_frame(
                &rewritten.to_string(),
            ));
        }
        let Some((call_id, name, arguments)) = ws_mediation::realtime_call(&event) else {
            return Some(m.raw.clone());
        };
        let draft = aarmor_protocols::llm::call_draft(
            Protocol::OpenaiResponses,
            &name,
            aarmor_protocols::llm::CallArguments::Text(&arguments),
            &self.shared.protocols.meta_tools,
        );
        self.session();
        let action = self.action(draft);
        match self.decide(&action).await {
            FinalVerdict::Allow => Some(m.raw.clone()),
            _ => {
                if let Kind::WebSocket(state) = &mut self.kind {
                    state.denied_calls.insert(call_id);
                }
                None
            }
        }
    }

    fn next_action_id(&self) -> ActionId {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let n = self.shared.id_counter.fetch_add(1, Ordering::Relaxed);
        ActionId::from_parts((millis << 16) | u64::from(self.shared.id_salt), n)
    }

    /// The agent acting, as identity binding named it.
    fn agent(&self) -> String {
        self.identity
            .agent
            .clone()
            .unwrap_or_else(|| "unknown".into())
    }

    fn explicit_session(&self) -> Option<&str> {
        self.exchange.request.headers.get_str(SESSION_HEADER)
    }

    /// The exchange's session: attributed once, from the header or the agent's active session
    /// (LLM requests attribute theirs from the conversation first, in `on_request_body`).
    fn session(&mut self) -> SessionRef {
        let agent = self.agent();
        let id = match &self.session {
            Some(s) => s.clone(),
            None => {
                let s = self
                    .shared
                    .engine
                    .attribute(&agent, self.explicit_session(), None);
                self.session = Some(s.clone());
                s
            }
        };
        SessionRef { id, agent }
    }

    /// The action of the request itself (not of a tool call in its response): its envelope
    /// carries the request's headers besides credentials and framing, which leave with it.
    fn request_action(&self, mut draft: ActionDraft) -> Action {
        let headers = self.envelope_headers();
        if !headers.is_empty() {
            draft
                .envelope
                .insert("headers".into(), Value::Object(headers));
        }
        self.action(draft)
    }

    /// Request headers policy may scan: all but credentials (never copied into a receipt),
    /// aarmor's own, and those that only frame the message.
    fn envelope_headers(&self) -> serde_json::Map<String, Value> {
        const SKIPPED: &[&str] = &[
            "authorization",
            "proxy-authorization",
            "cookie",
            "x-api-key",
            "api-key",
            "host",
            "content-length",
            "content-type",
            "content-encoding",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "te",
            "trailer",
            "upgrade",
            "expect",
            "accept",
            "accept-encoding",
            "accept-language",
        ];
        let private = self.shared.engine.private_headers();
        let mut out = serde_json::Map::new();
        for (name, value) in self.exchange.request.headers.iter() {
            let lower = name.to_ascii_lowercase();
            if SKIPPED.contains(&lower.as_str())
                || lower.starts_with("x-aarm-")
                || lower.starts_with("proxy-")
                || private.iter().any(|p| p.eq_ignore_ascii_case(&lower))
            {
                continue;
            }
            let value = Value::String(String::from_utf8_lossy(value).into_owned());
            match out.get_mut(&lower) {
                Some(Value::Array(values)) => values.push(value),
                Some(first) => *first = Value::Array(vec![first.take(), value]),
                None => {
                    out.insert(lower, value);
                }
            }
        }
        out
    }

    fn action(&self, draft: ActionDraft) -> Action {
        let identity = Identity {
            session: self.session.as_ref().map(|s| s.0.clone()),
            ..self.identity.clone()
        };
        draft.into_action(
            self.next_action_id(),
            aarmor_core::timestamp::now_rfc3339_millis(),
            self.target(),
            identity,
        )
    }

    /// Asks the engine about one action, bounded in time, holds settled. Never fails: every
    /// failure is a denial.
    async fn decide(&self, action: &Action) -> FinalVerdict {
        let started = Instant::now();
        let shared = &self.shared;
        let verdict = match tokio::time::timeout(
            shared.decision_timeout,
            shared.engine.mediate(action),
        )
        .await
        {
            Ok(Ok(v)) => v.settle(shared.max_hold, tokio::time::sleep).await,
            Ok(Err(e)) => {
                shared
                    .metrics
                    .mediation_failures
                    .with_label_values(&["engine_error"])
                    .inc();
                tracing::warn!(action = %action.action_id, engine = shared.engine.name(), error = %e, "engine failed; denying (fail closed)");
                FinalVerdict::Deny(Denial {
                    rule: None,
                    reason: format!("the policy engine failed ({e}); refused"),
                })
            }
            Err(_) => {
                shared
                    .metrics
                    .mediation_failures
                    .with_label_values(&["engine_timeout"])
                    .inc();
                tracing::warn!(action = %action.action_id, engine = shared.engine.name(), timeout_ms = shared.decision_timeout.as_millis() as u64, "engine did not decide in time; denying (fail closed)");
                FinalVerdict::Deny(Denial {
                    rule: None,
                    reason: format!(
                        "no decision within {} ms; refused",
                        shared.decision_timeout.as_millis()
                    ),
                })
            }
        };
        let label = match &verdict {
            FinalVerdict::Allow => "allow",
            FinalVerdict::Deny(_) => "deny",
            FinalVerdict::Modify(_) => "modify",
        };
        shared
            .metrics
            .actions
            .with_label_values(&[action.protocol.as_str(), label])
            .inc();
        shared
            .metrics
            .decision_duration
            .observe(started.elapsed().as_secs_f64());
        match &verdict {
            FinalVerdict::Deny(d) => {
                tracing::info!(action = %action.action_id, protocol = action.protocol.as_str(), tool = %action.tool, operation = %action.operation, rule = ?d.rule, reason = %d.reason, "action denied")
            }
            _ => {
                tracing::info!(action = %action.action_id, protocol = action.protocol.as_str(), tool = %action.tool, operation = %action.operation, decision = label, "action decided")
            }
        }
        verdict
    }

    /// Decides an action carried by the request; one allowed to run is remembered for its
    /// outcome record.
    async fn decide_request_action(&mut self, action: &Action) -> FinalVerdict {
        let verdict = self.decide(action).await;
        if !matches!(verdict, FinalVerdict::Deny(_)) {
            self.executed.push(action.clone());
        }
        verdict
    }

    /// Decides proposed tool calls (LLM responses), concurrently, and renders the outcomes.
    async fn decide_calls(&self, drafts: Vec<ActionDraft>) -> Vec<Rendered> {
        let template = &self.shared.protocols.deny_template;
        let decisions = drafts.into_iter().map(|draft| async move {
            let action = self.action(draft.clone());
            let verdict = self.decide(&action).await;
            Rendered::from_verdict(&verdict, &draft, template)
        });
        join_all(decisions).await
    }

    async fn observe(&mut self, protocol: Protocol, mut observed: Vec<Observed>) {
        if observed.is_empty() {
            return;
        }
        let session = self.session();
        // A result is tied to the action that produced it when the exchange ran exactly one.
        let result_of = match self.executed.as_slice() {
            [one] => Some(one.action_id.clone()),
            _ => None,
        };
        if protocol == Protocol::Mcp {
            // MCP tools are actions as `server.tool`: declare them under the same names.
            let server = self
                .shared
                .protocols
                .mcp_server_name(&self.exchange.request);
            for o in observed.iter_mut() {
                if o.kind != aarmor_core::ObservationKind::ToolDeclarations {
                    continue;
                }
                if let Some(tools) = o.content.as_array_mut() {
                    for tool in tools.iter_mut() {
                        if let Some(name) = tool.get("name").and_then(Value::as_str) {
                            let qualified = format!("{server}.{name}");
                            tool["name"] = Value::String(qualified);
                        }
                    }
                }
            }
        }
        let target = self.target();
        let observations: Vec<Observation> = observed
            .into_iter()
            .map(|o| {
                let kind = serde_json::to_value(o.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                self.shared
                    .metrics
                    .observations
                    .with_label_values(&[&kind])
                    .inc();
                let is_result = o.kind == ObservationKind::ActionResult;
                let content = if is_result && protocol == Protocol::Mcp {
                    Value::String(mcp_result_text(&o.content))
                } else {
                    o.content
                };
                Observation {
                    protocol,
                    target: target.clone(),
                    kind: o.kind,
                    content,
                    action_id: if is_result { result_of.clone() } else { None },
                    call: o.call,
                }
            })
            .collect();
        self.shared.engine.observe(&session, observations).await;
    }

    /// Records what an executed SQL statement, REST call or MCP message returned (classified as
    /// an executed action's result). An empty body returned nothing.
    async fn observe_result(&mut self, copy: &[u8]) {
        if copy.is_empty() {
            return;
        }
        let protocol = match self.kind {
            Kind::Sql(_) => Protocol::Sql,
            Kind::Mcp => Protocol::Mcp,
            _ => Protocol::Rest,
        };
        let text = String::from_utf8_lossy(copy).into_owned();
        self.observe(
            protocol,
            vec![Observed::new(
                ObservationKind::ActionResult,
                Value::String(text),
            )],
        )
        .await;
    }

    async fn sql_body(&mut self, ep: &SqlEndpoint, body: &Bytes) -> BodyVerdict {
        let req = self.exchange.request.clone();
        let Some(text) = sql::extract(ep.dialect, &req.method, &req.path, body) else {
            // No statement in this request (a status poll, a cancel): handled as REST.
            self.kind = Kind::Rest;
            return match self.read_body(body).await {
                Ok(read) => self.rest_read(read, body.len()).await,
                Err(refusal) => BodyVerdict::Respond(refusal),
            };
        };
        let draft = sql::draft(ep.dialect, &ep.tool_name(), &text);
        self.session();
        self.response = ResponseHandling::ResultObserve;
        let action = self.request_action(draft);
        let verdict = self.decide_request_action(&action).await;
        match verdict {
            FinalVerdict::Allow => BodyVerdict::Forward,
            FinalVerdict::Deny(d) => BodyVerdict::Respond(denied_problem(&action, &d)),
            FinalVerdict::Modify(m) => {
                let new_sql = m.parameters.get("sql").and_then(Value::as_str);
                match new_sql {
                    Some(s) if s == text.sql => BodyVerdict::Forward,
                    Some(s) => match sql::rewrite(ep.dialect, &req.path, body, s) {
                        Some((path, new_body)) => BodyVerdict::Edit(RequestEdit {
                            path: (path != req.path).then_some(path),
                            body: Some(Bytes::from(new_body)),
                        }),
                        None => BodyVerdict::Respond(denied_problem(&action, &Denial { rule: m.rule, reason: "the statement had to be rewritten but this request cannot be; refused".into() })),
                    },
                    None => BodyVerdict::Forward,
                }
            }
        }
    }

    async fn rest_read(&mut self, read: BodyRead, body_len: usize) -> BodyVerdict {
        let req = &self.exchange.request;
        let (draft, format) = rest::draft_read(
            &req.method,
            &req.host,
            &req.path,
            req.headers.get_str("content-type"),
            read,
            body_len,
            &self.shared.protocols.routes,
        );
        self.session();
        self.response = ResponseHandling::ResultObserve;
        let action = self.request_action(draft);
        let verdict = self.decide_request_action(&action).await;
        match verdict {
            FinalVerdict::Allow => BodyVerdict::Forward,
            FinalVerdict::Deny(d) => BodyVerdict::Respond(denied_problem(&action, &d)),
            FinalVerdict::Modify(m) => match rest::render_body(format, &m.parameters) {
                Some(new_body) => BodyVerdict::Edit(RequestEdit {
                    path: None,
                    body: Some(Bytes::from(new_body)),
                }),
                None => BodyVerdict::Respond(denied_problem(&action, &Denial { rule: m.rule, reason: "the body had to be rewritten but it is neither JSON, a form nor text, or the new body is not of its kind; refused".into() })),
            },
        }
    }

    async fn mcp_body(&mut self, mut req: McpRequest) -> BodyVerdict {
        let server = self
            .shared
            .protocols
            .mcp_server_name(&self.exchange.request);
        // Every message is an action: `tools/call` as the tool it calls, any other one as the
        // server's operation (a JSON-RPC envelope is never a way around a decision).
        let calls = mcp::calls(&req, &server, &self.shared.protocols.meta_tools);
        self.session();
        self.response = ResponseHandling::McpObserve;
        let mut denied = Vec::new();
        let mut modified = false;
        for call in calls {
            let wrapped = call.draft.is_wrapped();
            let action = self.request_action(call.draft);
            let verdict = self.decide_request_action(&action).await;
            match verdict {
                FinalVerdict::Allow => {}
                FinalVerdict::Deny(d) => denied.push((call.position, d.reason, d.rule)),
                FinalVerdict::Modify(m) if wrapped => {
                    denied.push((call.position, WRAPPED_MODIFY_REFUSED.into(), m.rule))
                }
                FinalVerdict::Modify(m) if !call.is_tool_call => denied.push((
                    call.position,
                    "a modification was required but only tool calls can be rewritten".into(),
                    m.rule,
                )),
                FinalVerdict::Modify(m) => {
                    mcp::set_arguments(&mut req, call.position, m.parameters);
                    modified = true;
                }
            }
        }
        if !denied.is_empty() {
            // Nothing of a refused batch runs.
            self.executed.clear();
            return match mcp::refusal_body(&req, &denied) {
                Some(body) => BodyVerdict::Respond(SyntheticResponse::json(200, body)),
                None => BodyVerdict::Respond(SyntheticResponse::problem(
                    403,
                    "action-denied",
                    "Refused by aarmor policy",
                    &denied[0].1,
                )),
            };
        }
        if modified {
            return BodyVerdict::Edit(RequestEdit {
                path: None,
                body: Some(Bytes::from(mcp::render_request(&req))),
            });
        }
        BodyVerdict::Forward
    }

    /// Takes the bytes of a gate output that may go out now and keeps its held calls.
    fn take_output(&mut self, mut out: GateOutput) -> Bytes {
        self.held_calls = std::mem::take(&mut out.pending);
        Bytes::from(out.emit)
    }
}

#[async_trait]
impl ExchangeInspector for ActionInspector {
    fn header_rewrite(&self) -> Option<HeaderRewrite> {
        // aarmor's own headers never reach the upstream; responses aarmor must read are
        // requested uncompressed.
        let mut remove = aarmor_headers(&self.exchange.request, &self.shared.engine);
        match self.kind {
            Kind::Llm(_) | Kind::Mcp | Kind::Sql(_) => Some(HeaderRewrite {
                set: vec![("accept-encoding".into(), "identity".into())],
                remove,
            }),
            // No compression extension: every message must be readable.
            Kind::WebSocket(_) => {
                remove.push("sec-websocket-extensions".into());
                Some(HeaderRewrite {
                    set: vec![],
                    remove,
                })
            }
            _ if !remove.is_empty() => Some(HeaderRewrite {
                set: vec![],
                remove,
            }),
            _ => None,
        }
    }

    async fn on_request_body(&mut self, body: &Bytes) -> Result<BodyVerdict, MediationError> {
        match &self.kind {
            Kind::WebSocket(_) if !body.is_empty() => Ok(BodyVerdict::Respond(
                self.refuse_unreadable(
                    400,
                    "uninspectable-request",
                    "Refused: an upgrade request with a body",
                    "a WebSocket upgrade request carries a body, which servers read as WebSocket frames",
                )
                .await,
            )),
            Kind::WebSocket(_) => Ok(match self.decide_upgrade("websocket").await {
                HeadVerdict::Respond(refusal) => BodyVerdict::Respond(refusal),
                // Headers to drop are in `header_rewrite`.
                _ => BodyVerdict::Forward,
            }),
            Kind::Llm(dialect) => {
                let dialect = *dialect;
                Ok(self.llm_body(dialect, body).await)
            }
            Kind::Sql(ep) => {
                let ep = ep.clone();
                Ok(self.sql_body(&ep, body).await)
            }
            Kind::Undecided | Kind::Mcp | Kind::Rest => {
                match classify_body(&self.exchange.request, body) {
                    Ok(BodyClass::Mcp(req)) => {
                        self.kind = Kind::Mcp;
                        Ok(self.mcp_body(req).await)
                    }
                    Ok(BodyClass::Rest(read)) => {
                        self.kind = Kind::Rest;
                        Ok(self.rest_read(read, body.len()).await)
                    }
                    Err(e) => Ok(BodyVerdict::Respond(
                        self.refuse_unreadable(
                            415,
                            "uninspectable-request",
                            "Refused: the request body cannot be inspected",
                            &e.0,
                        )
                        .await,
                    )),
                }
            }
        }
    }

    async fn on_request_refused(
        &mut self,
        refusal: SyntheticResponse,
        reason: &str,
    ) -> SyntheticResponse {
        // The same refusal, now decided and receipted, naming its action.
        let decided = self.refuse_unreadable(refusal.status, "", "", reason).await;
        let mut body: serde_json::Map<String, Value> =
            serde_json::from_slice(&refusal.body).unwrap_or_default();
        if let Ok(Value::Object(ext)) = serde_json::from_slice::<Value>(&decided.body) {
            for key in ["action_id", "rule"] {
                if let Some(v) = ext.get(key) {
                    body.insert(key.into(), v.clone());
                }
            }
        }
        SyntheticResponse {
            body: serde_json::to_vec(&body).unwrap_or(refusal.body.clone()),
            ..refusal
        }
    }

    fn response_plan(&mut self, head: &ResponseHead) -> ResponsePlan {
        if let Kind::WebSocket(_) = self.kind {
            if head.status != 101 {
                return ResponsePlan::Pass;
            }
            if head.headers.get("sec-websocket-extensions").is_some() {
                // An extension was negotiated although none was offered: frames may be
                // compressed, so the connection cannot be inspected.
                self.response = ResponseHandling::Refuse;
                self.refusal = Some(
                    "the upstream switched to WebSocket with an extension aarmor did not offer"
                        .into(),
                );
                return ResponsePlan::Buffer;
            }
            return ResponsePlan::Relay;
        }
        if self.response == ResponseHandling::Pass {
            return ResponsePlan::Pass;
        }
        if self.response == ResponseHandling::ResultObserve {
            // Passed untouched; a bounded copy comes back in `on_outcome`.
            if !(200..300).contains(&head.status) {
                self.response = ResponseHandling::Pass;
            } else if is_encoded(head) {
                // Unreadable: recorded as a read of unclassified data (the default class).
                self.result_copy = Some(b"<encoded response>".to_vec());
            }
            return ResponsePlan::Pass;
        }
        if let Kind::Llm(dialect) = self.kind {
            if !(200..300).contains(&head.status) {
                // An error: no SDK runs tool calls out of it.
                return ResponsePlan::Pass;
            }
            if let Some(why) = unreadable_llm_response(head) {
                // Tool calls inside a body aarmor cannot read must not reach the agent.
                self.response = ResponseHandling::Refuse;
                self.refusal = Some(why);
                return ResponsePlan::Buffer;
            }
            // Read as the client reads it: its SDK parses a stream when it asked for one and a
            // JSON document when it did not, whatever the response's declared type.
            if self.llm_stream {
                let metas = self.shared.protocols.meta_tools.clone();
                self.gate = Some(StreamGate::new(
                    dialect.stream(metas),
                    self.shared.max_event_bytes,
                ));
                return ResponsePlan::Stream;
            }
            return ResponsePlan::Buffer;
        }
        if is_encoded(head) {
            if matches!(self.kind, Kind::Mcp) {
                // Sent encoded although aarmor asked for identity: what the agent now holds is
                // unreadable, recorded as a result of unclassified data (never skipped).
                self.response = ResponseHandling::ResultObserve;
                self.result_copy = Some(b"<encoded response>".to_vec());
            }
            return ResponsePlan::Pass;
        }
        // MCP: observe. Streams pass through with a bounded copy kept for observation.
        if is_event_stream(head) {
            self.result_copy = Some(Vec::new());
            return ResponsePlan::Stream;
        }
        ResponsePlan::Buffer
    }

    async fn on_response(
        &mut self,
        head: &ResponseHead,
        body: &Bytes,
    ) -> Result<ResponseVerdict, MediationError> {
        match (self.response, &self.kind) {
            (ResponseHandling::Refuse, _) => {
                Ok(ResponseVerdict::Respond(SyntheticResponse::problem(
                    502,
                    "uninspectable-response",
                    "Refused: the upstream response cannot be inspected",
                    &format!(
                        "{}; it may propose tool calls, so it is not passed on",
                        self.refusal
                            .as_deref()
                            .unwrap_or("the response cannot be read")
                    ),
                )))
            }
            (ResponseHandling::LlmCalls, Kind::Llm(dialect)) => {
                let dialect = *dialect;
                let Ok(mut json) = serde_json::from_slice::<Value>(body) else {
                    // The client's SDK may still read something out of it (some parse NaN,
                    // or a stream sent under another type): what aarmor cannot read is not
                    // passed on.
                    return Ok(ResponseVerdict::Respond(SyntheticResponse::problem(
                        502,
                        "uninspectable-response",
                        "Refused: the upstream response cannot be inspected",
                        "the response of the LLM API is not JSON aarmor can parse; it may propose tool calls, so it is not passed on",
                    )));
                };
                let metas = &self.shared.protocols.meta_tools;
                let drafts = dialect.response_calls(&json, metas);
                let observed = dialect.observe_response(&json);
                self.observe(dialect.protocol(), observed).await;
                if drafts.is_empty() {
                    return Ok(ResponseVerdict::Forward);
                }
                let outcomes = self.decide_calls(drafts).await;
                if outcomes.iter().all(|o| *o == Rendered::Keep) {
                    return Ok(ResponseVerdict::Forward);
                }
                dialect.apply_to_response(&mut json, &outcomes);
                let body =
                    serde_json::to_vec(&json).map_err(|e| MediationError::Failed(e.to_string()))?;
                Ok(ResponseVerdict::Replace(Bytes::from(body)))
            }
            (ResponseHandling::McpObserve, _) => {
                self.observe(
                    Protocol::Mcp,
                    mcp::observe_response(body, is_event_stream(head)),
                )
                .await;
                Ok(ResponseVerdict::Forward)
            }
            _ => Ok(ResponseVerdict::Forward),
        }
    }

    async fn on_response_chunk(&mut self, chunk: &Bytes) -> Result<Bytes, MediationError> {
        if let Some(copy) = self.result_copy.as_mut() {
            if copy.len() + chunk.len() <= self.shared.max_event_bytes {
                copy.extend_from_slice(chunk);
            }
            return Ok(chunk.clone());
        }
        let gate = self
            .gate
            .as_mut()
            .ok_or_else(|| MediationError::Failed("no stream gate".into()))?;
        let out = gate
            .push(chunk)
            .map_err(|e| MediationError::Failed(format!("cannot inspect the stream: {e}")))?;
        Ok(self.take_output(out))
    }

    async fn on_response_pending(&mut self) -> Result<Option<Bytes>, MediationError> {
        if self.held_calls.is_empty() {
            if self.stream_ended {
                self.stream_ended = false;
                if let (Some(gate), Kind::Llm(d)) = (self.gate.as_mut(), &self.kind) {
                    let p = d.protocol();
                    let observed = gate.observations();
                    self.observe(p, observed).await;
                }
            }
            return Ok(None);
        }
        let held = std::mem::take(&mut self.held_calls);
        let outcomes = self.decide_calls(held).await;
        let gate = self
            .gate
            .as_mut()
            .ok_or_else(|| MediationError::Failed("no stream gate".into()))?;
        let out = gate
            .resolve(outcomes)
            .map_err(|e| MediationError::Failed(e.to_string()))?;
        Ok(Some(self.take_output(out)))
    }

    async fn on_upgraded(
        &mut self,
        from: Direction,
        bytes: &Bytes,
    ) -> Result<Relayed, MediationError> {
        let Kind::WebSocket(state) = &mut self.kind else {
            // Only WebSocket connections are relayed through the inspector.
            return Err(MediationError::Failed(
                "an upgraded connection of an unknown kind".into(),
            ));
        };
        let reader = match from {
            Direction::ToUpstream => &mut state.from_client,
            Direction::ToClient => &mut state.from_upstream,
        };
        let items = ws_mediation::items(reader, bytes).map_err(MediationError::Failed)?;
        let mut out = Relayed::default();
        let mut to_upstream = Vec::new();
        let mut to_client = Vec::new();
        for item in items {
            match (item, from) {
                (WsItem::Control(raw), Direction::ToUpstream) => to_upstream.extend(raw),
                (WsItem::Control(raw), Direction::ToClient) => to_client.extend(raw),
                (WsItem::Message(m), Direction::ToUpstream) => {
                    match self.client_message(&m).await {
                        ClientMessage::Pass => to_upstream.extend(&m.raw),
                        ClientMessage::Reply(reply) => to_client.extend(reply),
                        ClientMessage::Close(frame) => {
                            to_client.extend(frame);
                            out.close = true;
                            break;
                        }
                    }
                }
                (WsItem::Message(m), Direction::ToClient) => {
                    if let Some(bytes) = self.upstream_message(&m).await {
                        to_client.extend(bytes);
                    }
                }
            }
        }
        out.to_upstream = Bytes::from(to_upstream);
        out.to_client = Bytes::from(to_client);
        Ok(out)
    }

    fn response_copy_limit(&self) -> Option<usize> {
        (self.response == ResponseHandling::ResultObserve).then_some(self.shared.max_event_bytes)
    }

    async fn on_outcome(&mut self, outcome: ExchangeOutcome) {
        if self.response == ResponseHandling::ResultObserve && !self.executed.is_empty() {
            // What an executed action returned, observed once the agent has it (an encoded body
            // that passed unread counts as a read of unclassified data).
            let copy = match self.result_copy.take() {
                Some(marker) => Bytes::from(marker),
                None => outcome.body_copy.clone().unwrap_or_default(),
            };
            self.observe_result(&copy).await;
        }
        for action in std::mem::take(&mut self.executed) {
            let execution = serde_json::json!({
                "status": outcome.status,
                "success": (200..400).contains(&outcome.status),
                "output_hash": outcome.body_sha256,
                "bytes": outcome.body_bytes,
                "duration_ms": outcome.duration_ms,
            });
            self.shared.engine.record_outcome(&action, execution).await;
        }
    }

    async fn on_response_end(&mut self) -> Result<Bytes, MediationError> {
        if let Some(copy) = self.result_copy.take() {
            self.observe(Protocol::Mcp, mcp::observe_response(&copy, true))
                .await;
            return Ok(Bytes::new());
        }
        let Some(gate) = self.gate.as_mut() else {
            return Ok(Bytes::new());
        };
        let out = gate
            .finish()
            .map_err(|e| MediationError::Failed(e.to_string()))?;
        let dropped = gate.dropped_tail();
        if dropped > 0 {
            tracing::warn!(
                bytes = dropped,
                "the stream ended inside an event; the unterminated event was dropped"
            );
        }
        self.stream_ended = true;
        Ok(self.take_output(out))
    }
}

/// Awaits futures concurrently, results in input order (std only; the set is small).
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut results: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, result) in futures.iter_mut().zip(results.iter_mut()) {
            if let Some(f) = slot.as_mut() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}
