//! Anthropic Messages: `system`, `messages` and `tools` are observed; `tool_use` content blocks
//! in responses are actions, streamed or not, and so is any block of a type aarmor does not know
//! (refused: the client might run it). A withheld block becomes a text block at the same index,
//! so block indices stay contiguous for the SDK.

use std::collections::HashMap;

use aarmor_core::{ObservationKind, Protocol, ToolCall};
use serde_json::{json, Value};

use crate::draft::ActionDraft;
use crate::gate::EventProcessor;
use crate::gate::{event_object, GateError};
use crate::llm::{
    call_draft, content_text, uninspectable_draft, CallArguments, Rendered, TextCollector,
};
use crate::meta::MetaTool;
use crate::sse::SseEvent;
use crate::Observed;

/// The `tool_use` blocks of the conversation's assistant turns, by id (`tool_result` blocks name
/// them).
fn tool_uses_by_id(body: &Value) -> HashMap<&str, ToolCall> {
    let mut out = HashMap::new();
    for block in body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
    {
        if let Some(id) = block.get("id").and_then(Value::as_str) {
            let name = block.get("name").and_then(Value::as_str).unwrap_or("");
            out.insert(id, crate::recorded_call(name, block.get("input")));
        }
    }
    out
}

/// Observations in a request body.
pub fn observe_request(body: &Value) -> Vec<Observed> {
    let mut out = Vec::new();
    if let Some(system) = body.get("system").and_then(content_text) {
        out.push(Observed::new(
            ObservationKind::SystemPrompt,
            Value::String(system),
        ));
    }
    let calls = tool_uses_by_id(body);
    for m in body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = m.get("role").and_then(Value::as_str);
        match m.get("content") {
            Some(Value::String(s)) => {
                let kind = if role == Some("assistant") {
                    ObservationKind::AssistantText
                } else {
                    ObservationKind::UserMessage
                };
                out.push(Observed::new(kind, Value::String(s.clone())));
            }
            Some(Value::Array(blocks)) => {
                for b in blocks {
                    match b.get("type").and_then(Value::as_str) {
                        Some("text") => {
                            let kind = if role == Some("assistant") {
                                ObservationKind::AssistantText
                            } else {
                                ObservationKind::UserMessage
                            };
                            if let Some(t) = b.get("text").and_then(Value::as_str) {
                                out.push(Observed::new(kind, Value::String(t.to_string())));
                            }
                        }
                        Some("tool_result") => {
                            let content = b
                                .get("content")
                                .and_then(content_text)
                                .map(Value::String)
                                .unwrap_or(Value::Null);
                            let call = b
                                .get("tool_use_id")
                                .and_then(Value::as_str)
                                .and_then(|id| calls.get(id))
                                .cloned();
                            out.push(Observed::tool_result(content, call));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(tools) = body.get("tools").filter(|t| t.is_array()) {
        out.push(Observed::new(
            ObservationKind::ToolDeclarations,
            tools.clone(),
        ));
    }
    out
}

fn draft(name: &str, input: &Value, metas: &[MetaTool]) -> ActionDraft {
    call_draft(
        Protocol::AnthropicMessages,
        name,
        CallArguments::Value(input),
        metas,
    )
}

/// What a content block is to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    /// `tool_use`: the client runs it.
    ToolUse,
    /// Text, thinking, and the blocks of tools Anthropic's servers ran (server tools, the MCP
    /// connector, their results): content, nothing for the client to run.
    Content,
    /// A type aarmor does not know: the client might run it, so it is an action, refused.
    Unknown,
}

fn block_kind(block: &Value) -> BlockKind {
    match block
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "tool_use" => BlockKind::ToolUse,
        "text" | "thinking" | "redacted_thinking" | "server_tool_use" | "mcp_tool_use"
        | "mcp_tool_result" | "container_upload" => BlockKind::Content,
        t if t.ends_with("_tool_result") => BlockKind::Content,
        _ => BlockKind::Unknown,
    }
}

fn block_draft(b: &Value, metas: &[MetaTool]) -> ActionDraft {
    match block_kind(b) {
        BlockKind::ToolUse => draft(
            b.get("name").and_then(Value::as_str).unwrap_or_default(),
            b.get("input").unwrap_or(&Value::Null),
            metas,
        ),
        _ => uninspectable_draft(
            Protocol::AnthropicMessages,
            b.get("type").and_then(Value::as_str).unwrap_or_default(),
            b,
        ),
    }
}

/// The blocks of a non-streamed response the client would run (`tool_use`, and blocks of
/// unknown types), in order.
pub fn response_calls(resp: &Value, metas: &[MetaTool]) -> Vec<ActionDraft> {
    runnable(resp).map(|b| block_draft(b, metas)).collect()
}

fn runnable(resp: &Value) -> impl Iterator<Item = &Value> {
    resp.get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|b| block_kind(b) != BlockKind::Content)
}

/// Rewrites a non-streamed response: one outcome per call of [`response_calls`], in order.
pub fn apply_to_response(resp: &mut Value, outcomes: &[Rendered]) {
    let mut outcomes = outcomes.iter();
    let mut allowed = 0;
    if let Some(blocks) = resp.get_mut("content").and_then(Value::as_array_mut) {
        for block in blocks.iter_mut() {
            if block_kind(block) == BlockKind::Content {
                continue;
            }
            match outcomes.next() {
                Some(Rendered::Blocked(text)) => {
                    *block = json!({"type": "text", "text": text});
                }
                Some(Rendered::Arguments(args)) => {
                    block["input"] = Value::Object(args.clone());
                    allowed += 1;
                }
                Some(Rendered::Keep) | None => allowed += 1,
            }
        }
    }
    if allowed == 0 && resp.get("stop_reason").and_then(Value::as_str) == Some("tool_use") {
        resp["stop_reason"] = Value::String("end_turn".into());
    }
}

/// Assistant text of a non-streamed response.
pub fn observe_response(resp: &Value) -> Vec<Observed> {
    resp.get("content")
        .and_then(content_text)
        .map(|t| {
            vec![Observed::new(
                ObservationKind::AssistantText,
                Value::String(t),
            )]
        })
        .unwrap_or_default()
}

struct HeldBlock {
    index: Value,
    id: String,
    name: String,
    start_input: Value,
    partial_json: String,
    /// A block of a type aarmor does not know: its start event's block.
    unknown: Option<Value>,
    /// The block's events as they came, re-emitted unchanged when it is kept.
    raw: Vec<u8>,
}

impl HeldBlock {
    fn input(&self) -> Result<Value, String> {
        if self.partial_json.trim().is_empty() {
            return Ok(self.start_input.clone());
        }
        serde_json::from_str(&self.partial_json).map_err(|_| self.partial_json.clone())
    }
}

/// Streaming gate for `stream: true` messages.
pub struct MessagesStream {
    metas: Vec<MetaTool>,
    held: Option<HeldBlock>,
    waiting: Option<HeldBlock>,
    /// A `message_start` whose message already carries blocks the client would run: decided
    /// like a response that is not streamed, emitted once decided.
    snapshot: Option<(String, Value)>,
    tool_uses_seen: usize,
    tool_uses_allowed: usize,
    text: TextCollector,
}

impl MessagesStream {
    pub fn new(metas: Vec<MetaTool>) -> Self {
        Self {
            metas,
            held: None,
            waiting: None,
            snapshot: None,
            tool_uses_seen: 0,
            tool_uses_allowed: 0,
            text: TextCollector::default(),
        }
    }

    fn held_draft(&self, held: &HeldBlock) -> ActionDraft {
        if let Some(block) = &held.unknown {
            return block_draft(block, &self.metas);
        }
        match held.input() {
            Ok(input) => draft(&held.name, &input, &self.metas),
            Err(raw) => call_draft(
                Protocol::AnthropicMessages,
                &held.name,
                CallArguments::Text(&raw),
                &self.metas,
            ),
        }
    }
}

fn event(out: &mut Vec<u8>, name: &str, data: Value) {
    out.extend_from_slice(&SseEvent::render(Some(name), &data.to_string()));
}

impl EventProcessor for MessagesStream {
    fn process(&mut self, ev: SseEvent, out: &mut Vec<u8>) -> Result<Vec<ActionDraft>, GateError> {
        let Some(data) = event_object(&ev)? else {
            out.extend_from_slice(&ev.raw);
            return Ok(Vec::new());
        };
        let kind = data.get("type").and_then(Value::as_str).unwrap_or_default();
        let index = data.get("index").cloned().unwrap_or(Value::Null);
        let held_here = self.held.as_ref().is_some_and(|h| h.index == index);
        if kind == "message_start" {
            // The SDK keeps the message it starts with: blocks in it are calls too.
            let drafts = data
                .get("message")
                .map(|m| response_calls(m, &self.metas))
                .unwrap_or_default();
            if !drafts.is_empty() {
                self.tool_uses_seen += drafts.len();
                let name = ev.event.clone().unwrap_or_else(|| "message_start".into());
                self.snapshot = Some((name, data));
                return Ok(drafts);
            }
        }
        match kind {
            "content_block_start"
                if data
                    .get("content_block")
                    .is_some_and(|b| block_kind(b) != BlockKind::Content) =>
            {
                let block = &data["content_block"];
                let unknown = (block_kind(block) == BlockKind::Unknown).then(|| block.clone());
                if unknown.is_none() {
                    self.tool_uses_seen += 1;
                }
                self.held = Some(HeldBlock {
                    index,
                    id: block
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    name: block
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    start_input: block.get("input").cloned().unwrap_or(json!({})),
                    partial_json: String::new(),
                    unknown,
                    raw: ev.raw,
                });
                Ok(Vec::new())
            }
            "content_block_delta" if held_here => {
                if let Some(held) = self.held.as_mut() {
                    held.raw.extend_from_slice(&ev.raw);
                    if let Some(part) = data.pointer("/delta/partial_json").and_then(Value::as_str)
                    {
                        held.partial_json.push_str(part);
                    }
                }
                Ok(Vec::new())
            }
            "content_block_stop" if held_here => {
                let Some(mut held) = self.held.take() else {
                    return Ok(Vec::new());
                };
                held.raw.extend_from_slice(&ev.raw);
                let d = self.held_draft(&held);
                self.waiting = Some(held);
                Ok(vec![d])
            }
            "content_block_delta" => {
                if let Some(t) = data.pointer("/delta/text").and_then(Value::as_str) {
                    self.text.push(t);
                }
                out.extend_from_slice(&ev.raw);
                Ok(Vec::new())
            }
            "message_delta"
                if self.tool_uses_seen > 0
                    && self.tool_uses_allowed == 0
                    && data.pointer("/delta/stop_reason").and_then(Value::as_str)
                        == Some("tool_use") =>
            {
                let mut data = data;
                data["delta"]["stop_reason"] = Value::String("end_turn".into());
                event(out, ev.event.as_deref().unwrap_or("message_delta"), data);
                Ok(Vec::new())
            }
            _ => {
                out.extend_from_slice(&ev.raw);
                Ok(Vec::new())
            }
        }
    }

    fn resolve(&mut self, outcomes: Vec<Rendered>, out: &mut Vec<u8>) {
        if let Some((name, mut data)) = self.snapshot.take() {
            self.tool_uses_allowed += outcomes.iter().filter(|o| o.is_allowed()).count();
            if let Some(message) = data.get_mut("message") {
                apply_to_response(message, &outcomes);
            }
            event(out, &name, data);
            return;
        }
        let (Some(held), Some(rendered)) = (self.waiting.take(), outcomes.into_iter().next())
        else {
            return;
        };
        let index = held.index.clone();
        match rendered {
            Rendered::Blocked(text) => {
                event(
                    out,
                    "content_block_start",
                    json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
                );
                event(
                    out,
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}),
                );
            }
            Rendered::Keep if held.unknown.is_some() => {
                // Not reached while the engine refuses such blocks: passed on as it came.
                out.extend_from_slice(&held.raw);
                return;
            }
            kept => {
                self.tool_uses_allowed += 1;
                let input_json = match kept {
                    Rendered::Arguments(args) => Value::Object(args).to_string(),
                    _ => match held.input() {
                        Ok(v) => v.to_string(),
                        Err(raw) => raw,
                    },
                };
                event(
                    out,
                    "content_block_start",
                    json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": held.id, "name": held.name, "input": {}}}),
                );
                event(
                    out,
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": input_json}}),
                );
            }
        }
        event(
            out,
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        );
    }

    fn end(&mut self, _out: &mut Vec<u8>) -> Vec<ActionDraft> {
        match self.held.take() {
            Some(held) => {
                let d = self.held_draft(&held);
                self.waiting = Some(held);
                vec![d]
            }
            None => Vec::new(),
        }
    }

    fn observations(&mut self) -> Vec<Observed> {
        self.text.take_observations()
    }
}
