//! MCP messages: every JSON-RPC message is an action, a refused batch answered with JSON-RPC
//! errors; tool results are read as text for observation.

use aarmor_core::{FinalVerdict, SyntheticResponse};
use aarmor_protocols::draft::WRAPPED_MODIFY_REFUSED;
use aarmor_protocols::mcp::{self, McpRequest};
use bytes::Bytes;
use serde_json::Value;

use crate::seam::{BodyVerdict, RequestEdit};

use super::{ActionInspector, ResponseHandling};

/// The text of an MCP tool result: its text content parts, and its structured content.
pub(super) fn mcp_result_text(result: &Value) -> String {
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

impl ActionInspector {
    pub(super) async fn mcp_body(&mut self, mut req: McpRequest) -> BodyVerdict {
        let server = self
            .shared
            .protocols
            .mcp_server_name(&self.exchange.request);
        // Every message is an action: `tools/call` as the tool it calls, any other one as the
        // server's operation (a JSON-RPC envelope is never a way around a decision).
        let calls = mcp::calls(&req, &server, &self.shared.protocols.meta_tools);
        self.session().await;
        self.response = ResponseHandling::McpObserve;
        let mut denied = Vec::new();
        let mut modified = false;
        for call in calls {
            let wrapped = call.draft.is_wrapped();
            let mut action = self.request_action(call.draft);
            let verdict = self.decide_request_action(&mut action).await;
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
}
