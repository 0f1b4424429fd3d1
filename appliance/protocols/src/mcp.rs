//! MCP over streamable HTTP: JSON-RPC `tools/call` requests (single or batched) are actions;
//! `tools/list` results and call results are observed. Denials are JSON-RPC errors.

use aarmor_core::{ObservationKind, Protocol};
use serde_json::{json, Map, Value};

use crate::draft::{as_object, ActionDraft};
use crate::meta::{self, MetaTool};
use crate::sse::SseSplitter;
use crate::Observed;

/// JSON-RPC error code of a call aarmor refused. Stable: clients may match on it.
pub const DENIED_CODE: i64 = -32001;
/// The operation of every MCP tool call.
pub const CALL_OPERATION: &str = "tools/call";

/// A JSON-RPC request body: one message or a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct McpRequest {
    pub messages: Vec<Value>,
    pub batch: bool,
}

/// Parses a body that is a JSON-RPC 2.0 message or a non-empty batch of them.
pub fn parse_request(body: &[u8]) -> Option<McpRequest> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let is_msg = |v: &Value| v.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    match value {
        Value::Object(_) if is_msg(&value) => Some(McpRequest {
            messages: vec![value],
            batch: false,
        }),
        Value::Array(items) if !items.is_empty() && items.iter().all(is_msg) => Some(McpRequest {
            messages: items,
            batch: true,
        }),
        _ => None,
    }
}

/// One `tools/call` in a request.
#[derive(Debug, Clone, PartialEq)]
pub struct McpCall {
    /// Position in the batch (0 for a single message).
    pub position: usize,
    pub draft: ActionDraft,
}

/// The `tools/call` messages of a request, as actions of `server`.
pub fn calls(req: &McpRequest, server: &str, metas: &[MetaTool]) -> Vec<McpCall> {
    req.messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.get("method").and_then(Value::as_str) == Some(CALL_OPERATION))
        .map(|(position, m)| {
            let name = m
                .pointer("/params/name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or("<unnamed>");
            let args = as_object(
                m.pointer("/params/arguments")
                    .cloned()
                    .unwrap_or(Value::Null),
            );
            let resolved = meta::resolve(metas, name, args);
            let tool = if resolved.server_qualified {
                resolved.tool
            } else {
                format!("{server}.{}", resolved.tool)
            };
            McpCall {
                position,
                draft: ActionDraft {
                    protocol: Protocol::Mcp,
                    tool,
                    operation: CALL_OPERATION.into(),
                    parameters: resolved.parameters,
                    risk_signals: resolved.signal.into_iter().collect(),
                },
            }
        })
        .collect()
}

/// True when the request asks for the tool list (its response is observed).
pub fn lists_tools(req: &McpRequest) -> bool {
    req.messages
        .iter()
        .any(|m| m.get("method").and_then(Value::as_str) == Some("tools/list"))
}

/// Replaces the arguments of the call at `position`. Only for calls not made through a wrapper.
pub fn set_arguments(req: &mut McpRequest, position: usize, arguments: Map<String, Value>) {
    if let Some(params) = req
        .messages
        .get_mut(position)
        .and_then(|m| m.get_mut("params"))
        .and_then(Value::as_object_mut)
    {
        params.insert("arguments".into(), Value::Object(arguments));
    }
}

/// The request body as it goes upstream.
pub fn render_request(req: &McpRequest) -> Vec<u8> {
    let value = if req.batch {
        Value::Array(req.messages.clone())
    } else {
        req.messages.first().cloned().unwrap_or(Value::Null)
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

/// A refusal of the whole request, as JSON-RPC: every message with an id gets an error; the
/// denied calls carry their reason, the others say that the batch was refused because of them.
/// Returns `None` when no message expects a response (notifications only).
pub fn refusal_body(
    req: &McpRequest,
    denied: &[(usize, String, Option<String>)],
) -> Option<Vec<u8>> {
    let mut responses = Vec::new();
    for (position, m) in req.messages.iter().enumerate() {
        let Some(id) = m.get("id").filter(|id| !id.is_null()) else {
            continue;
        };
        let error = match denied.iter().find(|(p, _, _)| *p == position) {
            Some((_, reason, rule)) => json!({
                "code": DENIED_CODE,
                "message": format!("aarmor denied this tool call: {reason}"),
                "data": {"reason": reason, "rule": rule},
            }),
            None => json!({
                "code": DENIED_CODE,
                "message": "aarmor refused this batch because another call in it was denied",
                "data": {"reason": "batch refused"},
            }),
        };
        responses.push(json!({"jsonrpc": "2.0", "id": id, "error": error}));
    }
    if responses.is_empty() {
        return None;
    }
    let value = if req.batch {
        Value::Array(responses)
    } else {
        responses.remove(0)
    };
    serde_json::to_vec(&value).ok()
}

/// Observations in a response body (`application/json` or `text/event-stream`).
pub fn observe_response(body: &[u8], event_stream: bool) -> Vec<Observed> {
    let mut messages = Vec::new();
    if event_stream {
        let mut splitter = SseSplitter::new(usize::MAX);
        let mut events = splitter.push(body).unwrap_or_default();
        events.extend(splitter.finish());
        for ev in events {
            if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                messages.push(v);
            }
        }
    } else if let Ok(v) = serde_json::from_slice::<Value>(body) {
        match v {
            Value::Array(items) => messages.extend(items),
            other => messages.push(other),
        }
    }
    let mut out = Vec::new();
    for m in messages {
        let Some(result) = m.get("result") else {
            continue;
        };
        if let Some(tools) = result.get("tools").filter(|t| t.is_array()) {
            out.push(Observed::new(
                ObservationKind::ToolDeclarations,
                tools.clone(),
            ));
        } else if result.get("content").is_some() || result.get("structuredContent").is_some() {
            out.push(Observed::new(ObservationKind::ActionResult, result.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use aarmor_core::RiskSignal;

    use super::*;
    use crate::meta::default_meta_tools;

    #[test]
    fn single_and_batched_tool_calls() {
        let req = parse_request(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/tmp/x"}}}"#).unwrap();
        let c = calls(&req, "files", &default_meta_tools());
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].draft.tool, "files.delete_file");
        assert_eq!(c[0].draft.operation, "tools/call");
        assert_eq!(c[0].draft.parameters["path"], "/tmp/x");

        let batch = parse_request(br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"call_tool","arguments":{"name":"rm","arguments":{"p":1}}}},{"jsonrpc":"2.0","method":"notifications/initialized"}]"#).unwrap();
        assert!(batch.batch && lists_tools(&batch));
        let c = calls(&batch, "srv", &default_meta_tools());
        assert_eq!(c[0].position, 1);
        assert_eq!(c[0].draft.tool, "srv.rm");
        assert_eq!(
            c[0].draft.risk_signals,
            vec![RiskSignal::MetaToolResolved {
                wrapper: "call_tool".into()
            }]
        );
        let body = refusal_body(&batch, &[(1, "no".into(), Some("r1".into()))]).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v.as_array().unwrap().len(),
            2,
            "notifications get no response"
        );
        assert_eq!(v[1]["id"], 2);
        assert_eq!(v[1]["error"]["code"], DENIED_CODE);
        assert_eq!(v[1]["error"]["data"]["rule"], "r1");
    }

    #[test]
    fn not_json_rpc_is_not_mcp() {
        assert!(parse_request(br#"{"query":"x"}"#).is_none());
        assert!(parse_request(b"[]").is_none());
        assert!(parse_request(b"\xff").is_none());
    }

    #[test]
    fn modified_arguments_are_rendered() {
        let mut req = parse_request(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"q","arguments":{"limit":1000}}}"#).unwrap();
        let mut args = Map::new();
        args.insert("limit".into(), json!(10));
        set_arguments(&mut req, 0, args);
        let v: Value = serde_json::from_slice(&render_request(&req)).unwrap();
        assert_eq!(v["params"]["arguments"]["limit"], 10);
    }

    #[test]
    fn tools_list_over_sse_is_observed() {
        let body = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"a\"}]}}\n\n";
        let obs = observe_response(body, true);
        assert_eq!(obs.len(), 1);
        assert_eq!(obs[0].kind, ObservationKind::ToolDeclarations);
    }
}
