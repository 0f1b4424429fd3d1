//! OpenAI Responses API: `instructions`, `input` and `tools` are observed; every output item the
//! client runs is an action, streamed or not — `function_call`, `custom_tool_call`,
//! `local_shell_call`, `shell_call`, `computer_call`, `apply_patch_call`, `mcp_approval_request`
//! — and so is an item of a type aarmor does not know (refused: the client might run it). Items
//! OpenAI's servers ran (web search, file search, code interpreter, remote MCP) are content. A
//! withheld item becomes an assistant `message` item at the same output index; the final
//! `response.completed` snapshot is rewritten to match.

use std::collections::HashMap;

use aarmor_core::{ObservationKind, Protocol, ToolCall};
use serde_json::{json, Value};

use crate::draft::ActionDraft;
use crate::gate::{event_object, EventProcessor, GateError};
use crate::llm::{
    call_draft, content_text, uninspectable_draft, CallArguments, Rendered, TextCollector,
};
use crate::meta::MetaTool;
use crate::sse::SseEvent;
use crate::Observed;

/// The `function_call` items of the input, by `call_id` (`function_call_output` items name
/// them).
fn function_calls_by_id(items: &[Value]) -> HashMap<&str, ToolCall> {
    let mut out = HashMap::new();
    for item in items
        .iter()
        .filter(|i| i.get("type").and_then(Value::as_str) == Some("function_call"))
    {
        if let Some(id) = item.get("call_id").and_then(Value::as_str) {
            let name = item.get("name").and_then(Value::as_str).unwrap_or("");
            out.insert(id, crate::recorded_call(name, item.get("arguments")));
        }
    }
    out
}

/// Observations in a request body.
pub fn observe_request(body: &Value) -> Vec<Observed> {
    let mut out = Vec::new();
    if let Some(instr) = body.get("instructions").and_then(Value::as_str) {
        out.push(Observed::new(
            ObservationKind::SystemPrompt,
            Value::String(instr.to_string()),
        ));
    }
    match body.get("input") {
        Some(Value::String(s)) => out.push(Observed::new(
            ObservationKind::UserMessage,
            Value::String(s.clone()),
        )),
        Some(Value::Array(items)) => {
            let calls = function_calls_by_id(items);
            for item in items {
                let kind = match (
                    item.get("type").and_then(Value::as_str),
                    item.get("role").and_then(Value::as_str),
                ) {
                    (Some("function_call_output"), _) => {
                        let output = item.get("output").cloned().unwrap_or(Value::Null);
                        let call = item
                            .get("call_id")
                            .and_then(Value::as_str)
                            .and_then(|id| calls.get(id))
                            .cloned();
                        out.push(Observed::tool_result(output, call));
                        continue;
                    }
                    (_, Some("system")) | (_, Some("developer")) => ObservationKind::SystemPrompt,
                    (_, Some("user")) => ObservationKind::UserMessage,
                    (_, Some("assistant")) => ObservationKind::AssistantText,
                    _ => continue,
                };
                if let Some(text) = item.get("content").and_then(content_text) {
                    out.push(Observed::new(kind, Value::String(text)));
                }
            }
        }
        _ => {}
    }
    if let Some(tools) = body.get("tools").filter(|t| t.is_array()) {
        out.push(Observed::new(
            ObservationKind::ToolDeclarations,
            tools.clone(),
        ));
    }
    out
}

/// What an output item is to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    /// `function_call`: JSON arguments for a declared function.
    Function,
    /// `custom_tool_call`: free-text input for a custom tool.
    Custom,
    /// A built-in tool the client runs; the member that holds what it does, and its tool name.
    BuiltIn(&'static str, &'static str),
    /// `mcp_approval_request`: approving it lets OpenAI's servers call a remote MCP tool.
    McpApproval,
    /// Messages, reasoning, and the calls OpenAI's servers ran: content.
    Content,
    /// A type aarmor does not know: the client might run it.
    Unknown,
}

fn item_kind(item: &Value) -> ItemKind {
    match item.get("type").and_then(Value::as_str).unwrap_or_default() {
        "function_call" => ItemKind::Function,
        "custom_tool_call" => ItemKind::Custom,
        "local_shell_call" => ItemKind::BuiltIn("action", "local_shell"),
        "shell_call" => ItemKind::BuiltIn("action", "shell"),
        "computer_call" => ItemKind::BuiltIn("action", "computer"),
        "apply_patch_call" => ItemKind::BuiltIn("operation", "apply_patch"),
        "mcp_approval_request" => ItemKind::McpApproval,
        "message"
        | "reasoning"
        | "web_search_call"
        | "file_search_call"
        | "code_interpreter_call"
        | "image_generation_call"
        | "mcp_call"
        | "mcp_list_tools"
        | "compaction" => ItemKind::Content,
        _ => ItemKind::Unknown,
    }
}

/// The key an item is decided under: its id, else its position.
fn item_key(item: &Value, index: Option<&Value>) -> String {
    match item.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("#{}", index.map(Value::to_string).unwrap_or_default()),
    }
}

/// An item the client would run (anything but content).
fn is_runnable(item: &Value) -> bool {
    item_kind(item) != ItemKind::Content
}

fn item_draft(item: &Value, metas: &[MetaTool]) -> ActionDraft {
    let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default();
    match item_kind(item) {
        ItemKind::Function => match item.get("arguments") {
            // Arguments as a JSON value rather than the JSON text the API sends: judged as
            // what they are (an SDK may pass them on as such).
            Some(v @ Value::Object(_)) => call_draft(
                Protocol::OpenaiResponses,
                s("name"),
                CallArguments::Value(v),
                metas,
            ),
            Some(Value::String(_)) | None | Some(Value::Null) => call_draft(
                Protocol::OpenaiResponses,
                s("name"),
                CallArguments::Text(s("arguments")),
                metas,
            ),
            Some(_) => uninspectable_draft(Protocol::OpenaiResponses, "function_call", item),
        },
        ItemKind::Custom => call_draft(
            Protocol::OpenaiResponses,
            s("name"),
            CallArguments::Value(&json!({"input": s("input")})),
            metas,
        ),
        ItemKind::BuiltIn(member, tool) => call_draft(
            Protocol::OpenaiResponses,
            tool,
            CallArguments::Value(item.get(member).unwrap_or(&Value::Null)),
            &[],
        ),
        ItemKind::McpApproval => call_draft(
            Protocol::OpenaiResponses,
            &format!("{}.{}", s("server_label"), s("name")),
            CallArguments::Text(s("arguments")),
            &[],
        ),
        ItemKind::Content | ItemKind::Unknown => {
            uninspectable_draft(Protocol::OpenaiResponses, s("type"), item)
        }
    }
}

/// The items of a non-streamed response the client would run, in order.
pub fn response_calls(resp: &Value, metas: &[MetaTool]) -> Vec<ActionDraft> {
    resp.get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| is_runnable(i))
        .map(|i| item_draft(i, metas))
        .collect()
}

/// The item that replaces a withheld call.
fn blocked_item(call: &Value, text: &str) -> Value {
    let call_id = call
        .get("id")
        .or_else(|| call.get("call_id"))
        .and_then(Value::as_str)
        .unwrap_or("call");
    json!({
        "id": format!("msg_aarmor_{call_id}"),
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    })
}

fn rendered_item(call: &Value, rendered: &Rendered) -> Value {
    match rendered {
        Rendered::Keep => call.clone(),
        Rendered::Arguments(args) => {
            let mut c = call.clone();
            let Some(obj) = c.as_object_mut() else {
                return blocked_item(call, "[aarmor] the call could not be rewritten");
            };
            match item_kind(call) {
                ItemKind::Custom => {
                    let input = match args.get("input") {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    };
                    obj.insert("input".into(), Value::String(input));
                }
                ItemKind::BuiltIn(member, _) => {
                    obj.insert(member.into(), Value::Object(args.clone()));
                }
                _ => {
                    obj.insert(
                        "arguments".into(),
                        Value::String(Value::Object(args.clone()).to_string()),
                    );
                }
            }
            c
        }
        Rendered::Blocked(text) => blocked_item(call, text),
    }
}

/// Rewrites a non-streamed response: one outcome per call of [`response_calls`], in order.
pub fn apply_to_response(resp: &mut Value, outcomes: &[Rendered]) {
    let mut outcomes = outcomes.iter();
    if let Some(items) = resp.get_mut("output").and_then(Value::as_array_mut) {
        for item in items.iter_mut() {
            if is_runnable(item) {
                if let Some(r) = outcomes.next() {
                    *item = rendered_item(item, r);
                }
            }
        }
    }
}

/// Assistant text of a non-streamed response.
pub fn observe_response(resp: &Value) -> Vec<Observed> {
    let texts: Vec<String> = resp
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| i.get("type").and_then(Value::as_str) == Some("message"))
        .filter_map(|i| i.get("content").and_then(content_text))
        .collect();
    texts
        .into_iter()
        .map(|t| Observed::new(ObservationKind::AssistantText, Value::String(t)))
        .collect()
}

struct HeldCall {
    output_index: Value,
    item_id: String,
    item: Value,
    /// Streamed arguments (function) or input (custom tool), as the deltas built them.
    arguments: String,
}

impl HeldCall {
    /// The item as complete as the stream made it: streamed arguments or input filled in.
    fn complete_item(&self) -> Value {
        let mut item = self.item.clone();
        let field = match item_kind(&item) {
            ItemKind::Function | ItemKind::McpApproval => "arguments",
            ItemKind::Custom => "input",
            _ => return item,
        };
        let have = item.get(field).and_then(Value::as_str).unwrap_or_default();
        if have.is_empty() && !self.arguments.is_empty() {
            item[field] = Value::String(self.arguments.clone());
        }
        item
    }
}

/// Streaming gate for `stream: true` responses.
pub struct ResponsesStream {
    metas: Vec<MetaTool>,
    held: Option<HeldCall>,
    waiting: Option<HeldCall>,
    /// Outcomes by call item id, applied to the final snapshot.
    decided: HashMap<String, Rendered>,
    /// A response snapshot event holding items the client would run that no event decided yet
    /// (ids in order): decided, then emitted rewritten.
    snapshot: Option<(Value, Vec<String>)>,
    /// Sequence number the next emitted event carries.
    next_seq: Option<u64>,
    text: TextCollector,
}

impl ResponsesStream {
    pub fn new(metas: Vec<MetaTool>) -> Self {
        Self {
            metas,
            held: None,
            waiting: None,
            decided: HashMap::new(),
            snapshot: None,
            next_seq: None,
            text: TextCollector::default(),
        }
    }

    /// Emits an event, renumbering `sequence_number` so that the client sees no gaps after
    /// events were held, merged or replaced. Untouched events keep their raw bytes.
    fn emit(&mut self, out: &mut Vec<u8>, raw: Option<&[u8]>, mut data: Value) {
        if self.next_seq.is_none() {
            self.next_seq = data.get("sequence_number").and_then(Value::as_u64);
        }
        let mut rewrite = raw.is_none();
        if let Some(n) = self.next_seq {
            if data.get("sequence_number").and_then(Value::as_u64) != Some(n) {
                data["sequence_number"] = json!(n);
                rewrite = true;
            }
            self.next_seq = Some(n + 1);
        }
        match raw {
            Some(raw) if !rewrite => out.extend_from_slice(raw),
            _ => {
                let kind = data.get("type").and_then(Value::as_str).map(str::to_string);
                out.extend_from_slice(&SseEvent::render(kind.as_deref(), &data.to_string()));
            }
        }
    }

    /// A snapshot with every decided item rendered as decided.
    fn rewrite_snapshot(&self, mut data: Value) -> Value {
        if let Some(items) = data
            .pointer_mut("/response/output")
            .and_then(Value::as_array_mut)
        {
            for (i, item) in items.iter_mut().enumerate() {
                let id = item_key(item, Some(&json!(i)));
                if let Some(r) = self.decided.get(&id) {
                    *item = rendered_item(item, r);
                }
            }
        }
        data
    }

    fn synthetic(&mut self, out: &mut Vec<u8>, data: Value) {
        self.emit(out, None, data)
    }
}

impl EventProcessor for ResponsesStream {
    fn process(&mut self, ev: SseEvent, out: &mut Vec<u8>) -> Result<Vec<ActionDraft>, GateError> {
        let Some(data) = event_object(&ev)? else {
            out.extend_from_slice(&ev.raw);
            return Ok(Vec::new());
        };
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        // Events of the held item: it is emitted whole once decided.
        let of_held = self.held.as_ref().is_some_and(|h| {
            data.get("item_id").and_then(Value::as_str) == Some(h.item_id.as_str())
                || (data.get("item_id").is_none()
                    && data.get("output_index") == Some(&h.output_index))
        });
        match kind.as_str() {
            "response.output_item.added" if data.get("item").is_some_and(is_runnable) => {
                let item = data["item"].clone();
                self.held = Some(HeldCall {
                    output_index: data.get("output_index").cloned().unwrap_or(Value::Null),
                    item_id: item
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    arguments: item
                        .get("arguments")
                        .or_else(|| item.get("input"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    item,
                });
                Ok(Vec::new())
            }
            "response.output_item.done"
                if self
                    .held
                    .as_ref()
                    .is_some_and(|h| Some(&h.output_index) == data.get("output_index")) =>
            {
                let Some(mut held) = self.held.take() else {
                    return Ok(Vec::new());
                };
                if let Some(item) = data.get("item").filter(|i| i.is_object()) {
                    held.item = item.clone();
                }
                held.item = held.complete_item();
                let d = item_draft(&held.item, &self.metas);
                self.waiting = Some(held);
                Ok(vec![d])
            }
            _ if of_held => {
                // Argument or input deltas of the held item (`….delta` / `….done`).
                if let Some(h) = self.held.as_mut() {
                    if kind.ends_with(".delta") {
                        if let Some(d) = data.get("delta").and_then(Value::as_str) {
                            h.arguments.push_str(d);
                        }
                    } else if let Some(full) = data
                        .get("arguments")
                        .or_else(|| data.get("input"))
                        .and_then(Value::as_str)
                    {
                        h.arguments = full.to_string();
                    }
                }
                Ok(Vec::new())
            }
            // An item done that no `added` opened: the whole call arrives at once.
            "response.output_item.done" if data.get("item").is_some_and(is_runnable) => {
                let item = data["item"].clone();
                let id = item_key(&item, data.get("output_index"));
                if let Some(r) = self.decided.get(&id).cloned() {
                    let mut data = data;
                    data["item"] = rendered_item(&item, &r);
                    self.emit(out, None, data);
                    return Ok(Vec::new());
                }
                let held = HeldCall {
                    output_index: data.get("output_index").cloned().unwrap_or(Value::Null),
                    item_id: id,
                    arguments: String::new(),
                    item,
                };
                let d = item_draft(&held.item, &self.metas);
                self.waiting = Some(held);
                Ok(vec![d])
            }
            // A snapshot of the whole response (created, in progress, completed...): items the
            // client would run that no event decided yet are decided before it goes out.
            _ if data
                .pointer("/response/output")
                .is_some_and(Value::is_array) =>
            {
                let undecided: Vec<(String, ActionDraft)> = data
                    .pointer("/response/output")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .filter(|(_, item)| is_runnable(item))
                    .map(|(i, item)| (item_key(item, Some(&json!(i))), item))
                    .filter(|(id, _)| !self.decided.contains_key(id))
                    .map(|(id, item)| (id, item_draft(item, &self.metas)))
                    .collect();
                if !undecided.is_empty() {
                    let (ids, drafts): (Vec<String>, Vec<ActionDraft>) =
                        undecided.into_iter().unzip();
                    self.snapshot = Some((data, ids));
                    return Ok(drafts);
                }
                if self.decided.is_empty() {
                    self.emit(out, Some(&ev.raw), data);
                } else {
                    let data = self.rewrite_snapshot(data);
                    self.emit(out, None, data);
                }
                Ok(Vec::new())
            }
            _ => {
                if kind == "response.output_text.delta" {
                    if let Some(d) = data.get("delta").and_then(Value::as_str) {
                        self.text.push(d);
                    }
                }
                self.emit(out, Some(&ev.raw), data);
                Ok(Vec::new())
            }
        }
    }

    fn resolve(&mut self, outcomes: Vec<Rendered>, out: &mut Vec<u8>) {
        if let Some((data, ids)) = self.snapshot.take() {
            for (id, outcome) in ids.into_iter().zip(outcomes) {
                self.decided.insert(id, outcome);
            }
            let data = self.rewrite_snapshot(data);
            self.emit(out, None, data);
            return;
        }
        let (Some(held), Some(rendered)) = (self.waiting.take(), outcomes.into_iter().next())
        else {
            return;
        };
        let item = rendered_item(&held.item, &rendered);
        let idx = held.output_index.clone();
        match &rendered {
            Rendered::Blocked(_) => {
                self.synthetic(out, json!({"type": "response.output_item.added", "output_index": idx, "item": item.clone()}));
                self.synthetic(
                    out,
                    json!({"type": "response.output_item.done", "output_index": idx, "item": item}),
                );
            }
            _ if item_kind(&item) != ItemKind::Function => {
                // Other items: added and done whole (the final snapshot carries them too).
                let mut added = item.clone();
                added["status"] = json!("in_progress");
                self.synthetic(out, json!({"type": "response.output_item.added", "output_index": idx, "item": added}));
                self.synthetic(
                    out,
                    json!({"type": "response.output_item.done", "output_index": idx, "item": item}),
                );
            }
            _ => {
                let args = item.get("arguments").cloned().unwrap_or(json!(""));
                let mut added = item.clone();
                added["arguments"] = json!("");
                added["status"] = json!("in_progress");
                let id = item.get("id").cloned().unwrap_or(Value::Null);
                self.synthetic(out, json!({"type": "response.output_item.added", "output_index": idx, "item": added}));
                self.synthetic(out, json!({"type": "response.function_call_arguments.delta", "item_id": id, "output_index": idx, "delta": args}));
                self.synthetic(out, json!({"type": "response.function_call_arguments.done", "item_id": id, "output_index": idx, "arguments": args}));
                self.synthetic(
                    out,
                    json!({"type": "response.output_item.done", "output_index": idx, "item": item}),
                );
            }
        }
        self.decided.insert(held.item_id, rendered);
    }

    fn end(&mut self, _out: &mut Vec<u8>) -> Vec<ActionDraft> {
        match self.held.take() {
            Some(mut held) => {
                held.item = held.complete_item();
                let d = item_draft(&held.item, &self.metas);
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
