//! MCP over streamable HTTP: every JSON-RPC message a client sends (single or batched) is an
//! action — `tools/call` as the tool it calls, any other message as the server's operation;
//! `tools/list` results and call results are observed. Denials are JSON-RPC errors.

use aarmor_core::{ObservationKind, Protocol};
use serde_json::{json, Map, Value};

use crate::body::Uninspectable;
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

/// Whether a JSON value is a JSON-RPC message: it has a `jsonrpc` member, or a method of MCP's
/// namespace (`tools/call`, `initialize`, ...): a server that does not check the `jsonrpc` member
/// would still run it, so aarmor does not check it either.
fn is_message(v: &Value) -> bool {
    let Some(o) = v.as_object() else {
        return false;
    };
    o.contains_key("jsonrpc")
        || o.get("method")
            .and_then(Value::as_str)
            .is_some_and(|m| m.contains('/') || matches!(m, "initialize" | "ping"))
}

/// The JSON-RPC request a parsed body is: one message or a non-empty batch of them; `None` when
/// the body is not JSON-RPC. A batch that mixes messages with other values is refused: a server
/// would run the messages, so they cannot be judged as anything but MCP.
pub fn request_from(value: &Value) -> Result<Option<McpRequest>, Uninspectable> {
    match value {
        Value::Object(_) if is_message(value) => Ok(Some(McpRequest {
            messages: vec![value.clone()],
            batch: false,
        })),
        Value::Array(items) if items.iter().any(is_message) => {
            if items.iter().all(is_message) {
                Ok(Some(McpRequest {
                    messages: items.clone(),
                    batch: true,
                }))
            } else {
                Err(Uninspectable(
                    "a JSON-RPC batch with members that are not messages".into(),
                ))
            }
        }
        _ => Ok(None),
    }
}

/// Parses a body that is a JSON-RPC message or a non-empty batch of them (strict JSON).
pub fn parse_request(body: &[u8]) -> Option<McpRequest> {
    let value = crate::body::strict_json(crate::body::without_bom(body)).ok()?;
    request_from(&value).ok().flatten()
}

/// One message of a request, as an action.
#[derive(Debug, Clone, PartialEq)]
pub struct McpCall {
    /// Position in the batch (0 for a single message).
    pub position: usize,
    pub draft: ActionDraft,
    /// A `tools/call` (its arguments can be rewritten); other messages cannot be.
    pub is_tool_call: bool,
}

/// Every message of a request, as an action of `server`: a `tools/call` is the tool
/// `server.tool` with the call's arguments; any other message (`initialize`, `tools/list`,
/// `resources/read`, a notification, a response to the server) is the tool `server` with the
/// method as its operation (`response` for a response) and the message's members besides
/// `jsonrpc`, `id` and `method` as its parameters.
pub fn calls(req: &McpRequest, server: &str, metas: &[MetaTool]) -> Vec<McpCall> {
    req.messages
        .iter()
        .enumerate()
        .map(
            |(position, m)| match m.get("method").and_then(Value::as_str) {
                Some(CALL_OPERATION) => McpCall {
                    position,
                    draft: tool_call_draft(m, server, metas),
                    is_tool_call: true,
                },
                method => McpCall {
                    position,
                    draft: message_draft(m, server, method.unwrap_or(RESPONSE_OPERATION)),
                    is_tool_call: false,
                },
            },
        )
        .collect()
}

/// The operation of a message that is a response (to a server's request) rather than a request.
pub const RESPONSE_OPERATION: &str = "response";

fn tool_call_draft(m: &Value, server: &str, metas: &[MetaTool]) -> ActionDraft {
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
    // Everything else the message carries (its id, the tool's name, `_meta`, extra members):
    // not the call's parameters, but it reaches the server too.
    let mut envelope = crate::llm::wrapper_envelope(resolved.wrapper_rest);
    let mut message: Map<String, Value> = m.as_object().cloned().unwrap_or_default();
    message.remove("jsonrpc");
    message.remove("method");
    if let Some(Value::Object(params)) = message.get_mut("params") {
        params.remove("arguments");
    }
    if !message.is_empty() {
        envelope.insert("message".into(), Value::Object(message));
    }
    ActionDraft {
        envelope,
        protocol: Protocol::Mcp,
        tool,
        operation: CALL_OPERATION.into(),
        parameters: resolved.parameters,
        risk_signals: resolved.signal.into_iter().collect(),
    }
}

fn message_draft(m: &Value, server: &str, operation: &str) -> ActionDraft {
    let parameters: Map<String, Value> = m
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "jsonrpc" | "id" | "method"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut envelope = Map::new();
    if let Some(id) = m.get("id") {
        envelope.insert("id".into(), id.clone());
    }
    ActionDraft {
        envelope,
        protocol: Protocol::Mcp,
        tool: server.to_string(),
        operation: if operation.is_empty() {
            "<unnamed>".into()
        } else {
            operation.to_string()
        },
        parameters,
        risk_signals: Vec::new(),
    }
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
    // What does not parse still reached the agent: it is recorded as a result nothing could
    // classify (the most sensitive class by default), never dropped.
    let mut unread = Vec::new();
    if event_stream {
        let mut splitter = SseSplitter::new(usize::MAX);
        let mut events = splitter.push(body).unwrap_or_default();
        events.extend(splitter.finish());
        for ev in events {
            if ev.data.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(&ev.data) {
                Ok(v) => messages.push(v),
                Err(_) => unread.push(ev.data),
            }
        }
    } else if !body.iter().all(u8::is_ascii_whitespace) {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(items)) => messages.extend(items),
            Ok(other) => messages.push(other),
            Err(_) => unread.push(String::from_utf8_lossy(body).into_owned()),
        }
    }
    let mut out: Vec<Observed> = unread
        .into_iter()
        .map(|text| Observed::new(ObservationKind::ActionResult, Value::String(text)))
        .collect();
    for m in messages {
        let Some(result) = m.get("result") else {
            continue;
        };
        if let Some(tools) = result.get("tools").filter(|t| t.is_array()) {
            out.push(Observed::new(
                ObservationKind::ToolDeclarations,
                tools.clone(),
            ));
        } else if ["content", "structuredContent", "contents", "messages"]
            .iter()
            .any(|k| result.get(k).is_some())
        {
            // Tool results, resources read, prompts fetched: data the agent now has.
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
        assert_eq!(c.len(), 3, "every message is an action");
        assert_eq!(
            (c[0].draft.tool.as_str(), c[0].draft.operation.as_str()),
            ("srv", "tools/list")
        );
        assert_eq!(
            (c[2].draft.tool.as_str(), c[2].draft.operation.as_str()),
            ("srv", "notifications/initialized")
        );
        assert!(!c[0].is_tool_call && c[1].is_tool_call);
        assert_eq!(c[1].position, 1);
        assert_eq!(c[1].draft.tool, "srv.rm");
        assert_eq!(
            c[1].draft.risk_signals,
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
        // A REST body with a field named `method` is not a message...
        assert!(parse_request(br#"{"method":"card","amount":5}"#).is_none());
        // ...but one in MCP's namespace is, with or without `jsonrpc`.
        assert!(
            parse_request(br#"{"method":"tools/call","params":{"name":"x"},"id":1}"#).is_some()
        );
        assert!(request_from(&json!([{"jsonrpc":"2.0","method":"x"}, {"a": 1}])).is_err());
    }

    #[test]
    fn any_method_is_an_action_with_its_members_as_parameters() {
        let req =
            parse_request(br#"{"jsonrpc":"2.0","method":"x","params":{"key":"AKIA"},"extra":1}"#)
                .unwrap();
        let c = calls(&req, "srv", &[]);
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].draft.tool.as_str(), c[0].draft.operation.as_str()),
            ("srv", "x")
        );
        assert_eq!(c[0].draft.parameters["params"]["key"], "AKIA");
        assert_eq!(c[0].draft.parameters["extra"], 1);
        let resp = parse_request(br#"{"jsonrpc":"2.0","id":3,"result":{"x":1}}"#).unwrap();
        assert_eq!(
            calls(&resp, "srv", &[])[0].draft.operation,
            RESPONSE_OPERATION
        );
    }

    #[test]
    fn results_that_do_not_parse_are_still_observed() {
        let obs = observe_response(
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"x\":NaN}}",
            false,
        );
        assert_eq!(obs.len(), 1);
        assert_eq!(obs[0].kind, ObservationKind::ActionResult);
        let obs = observe_response(b"data: not json\n\n", true);
        assert_eq!(obs[0].content, json!("not json"));
        let read = observe_response(
            br#"{"jsonrpc":"2.0","id":1,"result":{"contents":[{"text":"secret"}]}}"#,
            false,
        );
        assert_eq!(read[0].kind, ObservationKind::ActionResult);
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
