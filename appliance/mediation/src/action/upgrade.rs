//! Protocol switches: the upgrade is an action decided before the upstream sees it; a WebSocket
//! is then relayed message by message (see `ws_frames`).

use aarmor_core::{Denial, FinalVerdict, Protocol};
use aarmor_protocols::mcp;
use aarmor_protocols::websocket::WsMessage;
use aarmor_protocols::{rest, ActionDraft};
use serde_json::Value;

use bytes::Bytes;

use crate::seam::{BodyVerdict, ExchangeInspector, HeadVerdict};

use super::problems::denied_problem;
use super::ws_frames::{self, WsFlavor};
use super::{ActionInspector, ClientMessage, Kind};

impl ActionInspector {
    /// Decides a protocol switch (`Upgrade`, WebSocket above all) before it reaches the upstream:
    /// an action `upgrade` on the host and path. Allowed, the request is forwarded and the
    /// switched connection relayed; anything else refuses it.
    pub(super) async fn decide_upgrade(&mut self, protocol: &str) -> HeadVerdict {
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
        self.session().await;
        let mut action = self.request_action(draft);
        match self.decide_request_action(&mut action).await {
            FinalVerdict::Allow => {
                let attached = self
                    .attach_credential(BodyVerdict::Forward, &Bytes::new())
                    .await;
                if let BodyVerdict::Respond(refusal) = attached {
                    return HeadVerdict::Respond(refusal);
                }
                match self.header_rewrite() {
                    Some(rw) => HeadVerdict::Rewrite(rw),
                    None => HeadVerdict::Forward,
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

    /// Decides a message a WebSocket client sends (see `ws_mediation`).
    pub(super) async fn client_message(&mut self, m: &WsMessage) -> ClientMessage {
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
            self.session().await;
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
                Some(body) => ClientMessage::Reply(ws_frames::reply(&body)),
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
            parameters: ws_frames::message_parameters(m),
            envelope: Default::default(),
            risk_signals: Vec::new(),
        };
        self.session().await;
        let action = self.request_action(draft);
        match self.decide(&action).await {
            FinalVerdict::Allow => ClientMessage::Pass,
            FinalVerdict::Deny(d) => ClientMessage::Close(ws_frames::refusal_close(&format!(
                "refused by aarmor policy: {}",
                d.reason
            ))),
            FinalVerdict::Modify(_) => ClientMessage::Close(ws_frames::refusal_close(
                "refused by aarmor policy: a modification was required but WebSocket messages are not rewritten",
            )),
        }
    }

    /// Decides what of an upstream's WebSocket message reaches the client: `None` drops it.
    pub(super) async fn upstream_message(&mut self, m: &WsMessage) -> Option<Vec<u8>> {
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
        if ws_frames::mentions_denied(&event, &state.denied_calls) {
            return None;
        }
        if event.get("type").and_then(Value::as_str) == Some("response.done")
            && !state.denied_calls.is_empty()
        {
            let rewritten = ws_frames::without_denied_calls(event, &state.denied_calls);
            return Some(aarmor_protocols::websocket::text_frame(
                &rewritten.to_string(),
            ));
        }
        let Some((call_id, name, arguments)) = ws_frames::realtime_call(&event) else {
            return Some(m.raw.clone());
        };
        let draft = aarmor_protocols::llm::call_draft(
            Protocol::OpenaiResponses,
            &name,
            aarmor_protocols::llm::CallArguments::Text(&arguments),
            &self.shared.protocols.meta_tools,
        );
        self.session().await;
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
}
