//! Messages of an upgraded WebSocket connection, decided one by one (the upgrade itself was an
//! action before the upstream saw it).
//!
//! - From the client: a JSON-RPC message (MCP over WebSocket) is one MCP action per message, a
//!   refused one answered with a JSON-RPC error and never sent on; the events of an OpenAI
//!   Realtime session go to the provider the upgrade was allowed to; any other message is an
//!   action (`message` on the host and path) and a refused one closes the connection.
//! - From the upstream: an OpenAI Realtime function call the client would run is an action; a
//!   refused one never reaches the client (its events are dropped, `response.done` rewritten).
//!   Everything else passes.
//!
//! Control frames pass as they come; compressed frames (extensions) cannot be read and cut the
//! connection: the upgrade request is sent without `Sec-WebSocket-Extensions`.

use std::collections::HashSet;

use aarmor_protocols::websocket::{close_frame, text_frame, WsMessage, WsReader};
use serde_json::Value;

/// What a WebSocket connection turned out to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsFlavor {
    /// OpenAI Realtime (`…/realtime`): function calls arrive from the upstream.
    Realtime,
    /// Anything else (MCP over WebSocket is recognised per message).
    Other,
}

/// Per-connection state.
pub struct WsState {
    pub flavor: WsFlavor,
    pub from_client: WsReader,
    pub from_upstream: WsReader,
    /// Realtime call ids refused: their later events are dropped.
    pub denied_calls: HashSet<String>,
}

impl WsState {
    pub fn new(path: &str, max_message: usize) -> Self {
        let route = path
            .split('?')
            .next()
            .unwrap_or_default()
            .trim_end_matches('/');
        let flavor = if route.ends_with("/realtime") {
            WsFlavor::Realtime
        } else {
            WsFlavor::Other
        };
        Self {
            flavor,
            from_client: WsReader::new(max_message),
            from_upstream: WsReader::new(max_message),
            denied_calls: HashSet::new(),
        }
    }
}

/// A Realtime event that completes a function call the client would run: (call id, name,
/// arguments as JSON text).
pub fn realtime_call(event: &Value) -> Option<(String, String, String)> {
    if event.get("type").and_then(Value::as_str) != Some("response.function_call_arguments.done") {
        return None;
    }
    let s = |k: &str| {
        event
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some((s("call_id"), s("name"), s("arguments")))
}

/// Whether a Realtime event carries a refused call (by `call_id`, or an item's `call_id`).
pub fn mentions_denied(event: &Value, denied: &HashSet<String>) -> bool {
    [event.get("call_id"), event.pointer("/item/call_id")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|id| denied.contains(id))
}

/// `response.done` without the function-call items that were refused.
pub fn without_denied_calls(mut event: Value, denied: &HashSet<String>) -> Value {
    if let Some(items) = event
        .pointer_mut("/response/output")
        .and_then(Value::as_array_mut)
    {
        items.retain(|item| {
            !item
                .get("call_id")
                .and_then(Value::as_str)
                .is_some_and(|id| denied.contains(id))
        });
    }
    event
}

/// A server text message (the JSON-RPC errors of refused MCP calls).
pub fn reply(text: &[u8]) -> Vec<u8> {
    text_frame(&String::from_utf8_lossy(text))
}

/// The close frame a refused message ends the connection with.
pub fn refusal_close(reason: &str) -> Vec<u8> {
    close_frame(reason)
}

/// What the policy sees of a message that is not JSON-RPC: its text, or the text runs of a
/// binary message.
pub fn message_parameters(m: &WsMessage) -> serde_json::Map<String, Value> {
    let mut p = serde_json::Map::new();
    match m.as_text() {
        Some(text) => {
            let value = aarmor_protocols::body::strict_json(text.as_bytes())
                .unwrap_or_else(|_| Value::String(text.to_string()));
            p.insert("message".into(), value);
        }
        None => {
            p.insert("message".into(), Value::Null);
            p.insert(
                "message_strings".into(),
                Value::String(aarmor_protocols::fields::printable_runs(&m.payload)),
            );
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn realtime_calls_and_their_events_are_recognised() {
        let done = json!({"type": "response.function_call_arguments.done", "call_id": "c1", "name": "bash", "arguments": "{}"});
        assert_eq!(
            realtime_call(&done),
            Some(("c1".into(), "bash".into(), "{}".into()))
        );
        let denied: HashSet<String> = ["c1".to_string()].into();
        assert!(mentions_denied(
            &json!({"type": "response.output_item.done", "item": {"call_id": "c1"}}),
            &denied
        ));
        let finished = without_denied_calls(
            json!({"type": "response.done", "response": {"output": [{"call_id": "c1"}, {"type": "message"}]}}),
            &denied,
        );
        assert_eq!(finished["response"]["output"], json!([{"type": "message"}]));
        assert_eq!(
            WsState::new("/v1/realtime?model=x", 1024).flavor,
            WsFlavor::Realtime
        );
        assert_eq!(WsState::new("/ws", 1024).flavor, WsFlavor::Other);
    }
}
