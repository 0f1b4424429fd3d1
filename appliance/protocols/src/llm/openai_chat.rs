//! OpenAI Chat Completions: `messages` and `tools` are observed; `tool_calls` (function and
//! custom tools, and the legacy `function_call`) in responses are actions, streamed or not; a
//! call of a type aarmor does not know is an action too, refused.

use std::collections::{BTreeMap, HashMap};

use aarmor_core::{ObservationKind, Protocol, ToolCall};
use serde_json::{json, Map, Value};

use crate::draft::ActionDraft;
use crate::gate::{event_object, EventProcessor, GateError};
use crate::llm::{
    call_draft, content_text, uninspectable_draft, CallArguments, Rendered, TextCollector,
};
use crate::meta::MetaTool;
use crate::sse::SseEvent;
use crate::Observed;

/// Observations in a request body.
pub fn observe_request(body: &Value) -> Vec<Observed> {
    let mut out = Vec::new();
    if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        let calls = calls_by_id(messages);
        for m in messages {
            let kind = match m.get("role").and_then(Value::as_str) {
                Some("system") | Some("developer") => ObservationKind::SystemPrompt,
                Some("user") => ObservationKind::UserMessage,
                Some("tool") | Some("function") => ObservationKind::ToolResult,
                Some("assistant") => ObservationKind::AssistantText,
                _ => continue,
            };
            if let Some(text) = m.get("content").and_then(content_text) {
                let mut o = Observed::new(kind, Value::String(text));
                if kind == ObservationKind::ToolResult {
                    o.call = m
                        .get("tool_call_id")
                        .and_then(Value::as_str)
                        .and_then(|id| calls.get(id))
                        .cloned();
                }
                out.push(o);
            }
        }
    }
    if let Some(tools) = body.get("tools").filter(|t| t.is_array()) {
        out.push(Observed::new(
            ObservationKind::ToolDeclarations,
            tools.clone(),
        ));
    } else if let Some(functions) = body.get("functions").filter(|t| t.is_array()) {
        out.push(Observed::new(
            ObservationKind::ToolDeclarations,
            functions.clone(),
        ));
    }
    out
}

/// The tool calls of the conversation's assistant turns, by id (the tool results name them).
fn calls_by_id(messages: &[Value]) -> HashMap<&str, ToolCall> {
    let mut out = HashMap::new();
    for m in messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
    {
        for call in m
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(id), Some(function)) = (
                call.get("id").and_then(Value::as_str),
                call.get("function").or_else(|| call.get("custom")),
            ) else {
                continue;
            };
            let name = function.get("name").and_then(Value::as_str).unwrap_or("");
            let arguments = function.get("arguments").or_else(|| function.get("input"));
            out.insert(id, crate::recorded_call(name, arguments));
        }
    }
    out
}

/// Where a call sits in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Tool(u64),
    Legacy,
}

/// What a tool call is: a `function` (JSON arguments), a `custom` tool (free-text input), or a
/// call type aarmor does not know (refused: the client might run it).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum CallKind {
    #[default]
    Function,
    Custom,
    Unknown(String),
}

impl CallKind {
    fn of(call: &Value) -> Self {
        match call.get("type").and_then(Value::as_str) {
            None | Some("function") => Self::Function,
            Some("custom") => Self::Custom,
            Some(other) => Self::Unknown(other.to_string()),
        }
    }

    /// The member of the call that holds its name and arguments.
    fn member(&self) -> &str {
        match self {
            Self::Function => "function",
            Self::Custom => "custom",
            Self::Unknown(t) => t,
        }
    }
}

#[derive(Debug, Default, Clone)]
struct CallAcc {
    id: String,
    kind: CallKind,
    name: String,
    /// Function arguments (JSON text) or a custom tool's input (free text).
    arguments: String,
    /// The call as it came, for an unknown kind.
    raw: Option<Value>,
    /// Arguments sent as a JSON value instead of JSON text (not what the API sends, but what an
    /// SDK may hand on): judged as that value.
    arguments_value: Option<Value>,
}

impl CallAcc {
    fn draft(&self, metas: &[MetaTool]) -> ActionDraft {
        match (&self.kind, &self.arguments_value) {
            (CallKind::Function, Some(v @ Value::Object(_))) => {
                return call_draft(
                    Protocol::OpenaiChat,
                    &self.name,
                    CallArguments::Value(v),
                    metas,
                )
            }
            (_, Some(_)) => {
                return uninspectable_draft(
                    Protocol::OpenaiChat,
                    "tool_call with arguments that are not text",
                    self.raw.as_ref().unwrap_or(&Value::Null),
                )
            }
            _ => {}
        }
        match &self.kind {
            CallKind::Function => call_draft(
                Protocol::OpenaiChat,
                &self.name,
                CallArguments::Text(&self.arguments),
                metas,
            ),
            CallKind::Custom => call_draft(
                Protocol::OpenaiChat,
                &self.name,
                CallArguments::Value(&json!({"input": self.arguments})),
                metas,
            ),
            CallKind::Unknown(t) => uninspectable_draft(
                Protocol::OpenaiChat,
                t,
                self.raw.as_ref().unwrap_or(&Value::Null),
            ),
        }
    }

    /// The arguments (or custom input) as they go to the client.
    fn arguments_for(&self, rendered: &Rendered) -> String {
        match (rendered, &self.kind) {
            (Rendered::Arguments(args), CallKind::Custom) => match args.get("input") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            },
            (Rendered::Arguments(args), _) => Value::Object(args.clone()).to_string(),
            _ => self.arguments.clone(),
        }
    }
}

/// The calls a non-streamed response proposes, in order.
pub fn response_calls(resp: &Value, metas: &[MetaTool]) -> Vec<ActionDraft> {
    calls_of(resp)
        .into_iter()
        .map(|(_, _, acc)| acc.draft(metas))
        .collect()
}

fn calls_of(resp: &Value) -> Vec<(usize, Slot, CallAcc)> {
    let mut calls = Vec::new();
    let Some(choices) = resp.get("choices").and_then(Value::as_array) else {
        return calls;
    };
    for (ci, choice) in choices.iter().enumerate() {
        let Some(message) = choice.get("message") else {
            continue;
        };
        if let Some(tcs) = message.get("tool_calls").and_then(Value::as_array) {
            for (ti, tc) in tcs.iter().enumerate() {
                let kind = CallKind::of(tc);
                let mut acc = acc_from(tc, tc.get(kind.member()));
                if let CallKind::Unknown(_) = kind {
                    acc.raw = Some(tc.clone());
                }
                acc.kind = kind;
                calls.push((ci, Slot::Tool(ti as u64), acc));
            }
        }
        if let Some(fc) = message.get("function_call").filter(|f| f.is_object()) {
            calls.push((ci, Slot::Legacy, acc_from(fc, Some(fc))));
        }
    }
    calls
}

fn acc_from(call: &Value, function: Option<&Value>) -> CallAcc {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    let arguments = function.and_then(|f| f.get("arguments").or_else(|| f.get("input")));
    CallAcc {
        id: s(call.get("id")),
        name: s(function.and_then(|f| f.get("name"))),
        arguments: s(arguments),
        arguments_value: arguments
            .filter(|a| !a.is_string() && !a.is_null())
            .cloned(),
        raw: Some(call.clone()),
        ..CallAcc::default()
    }
}

/// Rewrites a non-streamed response: one outcome per call of [`response_calls`], in order.
pub fn apply_to_response(resp: &mut Value, outcomes: &[Rendered]) {
    let calls = calls_of(resp);
    let Some(choices) = resp.get_mut("choices").and_then(Value::as_array_mut) else {
        return;
    };
    let mut per_choice: BTreeMap<usize, Vec<(Slot, CallAcc, &Rendered)>> = BTreeMap::new();
    for ((ci, slot, acc), rendered) in calls.into_iter().zip(outcomes) {
        per_choice
            .entry(ci)
            .or_default()
            .push((slot, acc, rendered));
    }
    for (ci, decided) in per_choice {
        let Some(choice) = choices.get_mut(ci) else {
            continue;
        };
        let mut blocked_texts = Vec::new();
        let mut kept_tools = Vec::new();
        let mut legacy_kept = true;
        let original_tools: Vec<Value> = choice
            .pointer("/message/tool_calls")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (slot, acc, rendered) in decided {
            match (slot, rendered) {
                (_, Rendered::Blocked(text)) => {
                    blocked_texts.push(text.clone());
                    if slot == Slot::Legacy {
                        legacy_kept = false;
                    }
                }
                (Slot::Tool(i), r) => {
                    let mut tc = original_tools.get(i as usize).cloned().unwrap_or(json!({}));
                    if let (Rendered::Arguments(_), Some(obj)) = (r, tc.as_object_mut()) {
                        let (member, field) = match acc.kind {
                            CallKind::Custom => ("custom", "input"),
                            _ => ("function", "arguments"),
                        };
                        let slot = obj.entry(member).or_insert_with(|| json!({}));
                        if let Some(m) = slot.as_object_mut() {
                            m.insert(field.into(), Value::String(acc.arguments_for(r)));
                        }
                    }
                    kept_tools.push(tc);
                }
                (Slot::Legacy, r) => {
                    if let Rendered::Arguments(_) = r {
                        if let Some(fc) = choice.pointer_mut("/message/function_call") {
                            fc["arguments"] = Value::String(acc.arguments_for(r));
                        }
                    }
                }
            }
        }
        let Some(message) = choice.get_mut("message").and_then(Value::as_object_mut) else {
            continue;
        };
        if message.contains_key("tool_calls") {
            if kept_tools.is_empty() {
                message.remove("tool_calls");
            } else {
                message.insert("tool_calls".into(), Value::Array(kept_tools.clone()));
            }
        }
        if !legacy_kept {
            message.remove("function_call");
        }
        if !blocked_texts.is_empty() {
            let mut text = message
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            for t in blocked_texts {
                if !text.is_empty() {
                    text.push_str("\n\n");
                }
                text.push_str(&t);
            }
            message.insert("content".into(), Value::String(text));
        }
        let any_call_left =
            !kept_tools.is_empty() || (legacy_kept && message.contains_key("function_call"));
        if !any_call_left {
            if let Some(obj) = choice.as_object_mut() {
                if matches!(
                    obj.get("finish_reason").and_then(Value::as_str),
                    Some("tool_calls") | Some("function_call")
                ) {
                    obj.insert("finish_reason".into(), Value::String("stop".into()));
                }
            }
        }
    }
}

/// Assistant text of a non-streamed response.
pub fn observe_response(resp: &Value) -> Vec<Observed> {
    resp.get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.pointer("/message/content").and_then(content_text))
        .map(|t| Observed::new(ObservationKind::AssistantText, Value::String(t)))
        .collect()
}

#[derive(Debug, Default)]
struct ChoiceState {
    calls: BTreeMap<Slot, CallAcc>,
    /// Index of the tool call receiving deltas.
    open: Option<u64>,
    /// Allowed tool calls emitted so far: the next emitted call's index.
    emitted: u64,
    legacy_allowed: bool,
}

/// Streaming gate for `stream: true` chat completions.
pub struct ChatStream {
    metas: Vec<MetaTool>,
    template: Map<String, Value>,
    choices: BTreeMap<u64, ChoiceState>,
    waiting: Vec<(u64, Slot, CallAcc)>,
    /// The chunk that completed the waiting calls, emitted after them.
    residual: Option<Residual>,
    text: TextCollector,
}

enum Residual {
    Chunk(Value),
    Raw(Vec<u8>),
}

impl ChatStream {
    pub fn new(metas: Vec<MetaTool>) -> Self {
        Self {
            metas,
            template: Map::new(),
            choices: BTreeMap::new(),
            waiting: Vec::new(),
            residual: None,
            text: TextCollector::default(),
        }
    }

    fn chunk(&self, choice: Value) -> Value {
        let mut c = self.template.clone();
        c.insert("choices".into(), Value::Array(vec![choice]));
        Value::Object(c)
    }

    fn close_all(&mut self, ci: u64, completed: &mut Vec<(u64, Slot, CallAcc)>) {
        if let Some(state) = self.choices.get_mut(&ci) {
            state.open = None;
            for (slot, acc) in std::mem::take(&mut state.calls) {
                completed.push((ci, slot, acc));
            }
        }
    }

    /// Completes every open call of every choice; they wait for decisions.
    fn close_every_choice(&mut self) -> Vec<ActionDraft> {
        let mut completed = Vec::new();
        let open: Vec<u64> = self.choices.keys().copied().collect();
        for ci in open {
            self.close_all(ci, &mut completed);
        }
        let drafts = completed
            .iter()
            .map(|(_, _, a)| a.draft(&self.metas))
            .collect();
        self.waiting = completed;
        drafts
    }

    /// Adjusts `finish_reason` of a chunk's choices that ended without any call left; true
    /// when something changed.
    fn adjust_finish(&self, chunk: &mut Value) -> bool {
        let mut changed = false;
        let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else {
            return false;
        };
        for choice in choices {
            let ci = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let allowed = self
                .choices
                .get(&ci)
                .map(|s| s.emitted > 0 || s.legacy_allowed)
                .unwrap_or(false);
            if let Some(obj) = choice.as_object_mut() {
                let is_call_finish = matches!(
                    obj.get("finish_reason").and_then(Value::as_str),
                    Some("tool_calls") | Some("function_call")
                );
                if is_call_finish && !allowed {
                    obj.insert("finish_reason".into(), Value::String("stop".into()));
                    changed = true;
                }
            }
        }
        changed
    }

    fn emit_chunk(out: &mut Vec<u8>, chunk: &Value) {
        out.extend_from_slice(&SseEvent::render(None, &chunk.to_string()));
    }
}

/// True when a chunk still says something after tool-call deltas were taken out of it.
fn chunk_has_content(chunk: &Value) -> bool {
    if chunk.get("usage").is_some_and(|u| !u.is_null()) {
        return true;
    }
    chunk
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(|choices| {
            choices.iter().any(|c| {
                c.get("finish_reason").is_some_and(|f| !f.is_null())
                    || c.get("delta")
                        .and_then(Value::as_object)
                        .is_some_and(|d| d.values().any(|v| !v.is_null()))
            })
        })
}

impl EventProcessor for ChatStream {
    fn process(
        &mut self,
        event: SseEvent,
        out: &mut Vec<u8>,
    ) -> Result<Vec<ActionDraft>, GateError> {
        if event.data.trim() == "[DONE]" {
            // End of stream while calls are still open: decide them first.
            let drafts = self.close_every_choice();
            if !drafts.is_empty() {
                self.residual = Some(Residual::Raw(event.raw));
                return Ok(drafts);
            }
            out.extend_from_slice(&event.raw);
            return Ok(Vec::new());
        }
        let Some(mut chunk) = event_object(&event)? else {
            out.extend_from_slice(&event.raw);
            return Ok(Vec::new());
        };
        if let Some(obj) = chunk.as_object() {
            let mut template = obj.clone();
            template.remove("choices");
            template.remove("usage");
            self.template = template;
        }
        let mut touched = false;
        let mut completed = Vec::new();
        let mut finished_choices = Vec::new();
        if let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) {
            for choice in choices.iter_mut() {
                let ci = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
                if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
                    self.text.push(text);
                }
                let state = self.choices.entry(ci).or_default();
                if let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) {
                    if let Some(Value::Array(tcs)) = delta.remove("tool_calls") {
                        touched = true;
                        for (pos, tc) in tcs.iter().enumerate() {
                            let ti = tc
                                .get("index")
                                .and_then(Value::as_u64)
                                .unwrap_or(pos as u64);
                            if let Some(open) = state.open.filter(|o| *o != ti) {
                                if let Some(acc) = state.calls.remove(&Slot::Tool(open)) {
                                    completed.push((ci, Slot::Tool(open), acc));
                                }
                            }
                            state.open = Some(ti);
                            let acc = state.calls.entry(Slot::Tool(ti)).or_default();
                            if tc.get("type").is_some() {
                                acc.kind = CallKind::of(tc);
                            }
                            if let CallKind::Unknown(_) = acc.kind {
                                acc.raw = Some(tc.clone());
                            }
                            let member = acc.kind.member().to_string();
                            append_delta(acc, tc, tc.get(&member));
                        }
                    }
                    if let Some(fc) = delta.remove("function_call") {
                        touched = true;
                        let acc = state.calls.entry(Slot::Legacy).or_default();
                        append_delta(acc, &fc, Some(&fc));
                    }
                }
                if choice.get("finish_reason").is_some_and(|f| !f.is_null()) {
                    finished_choices.push(ci);
                }
            }
        }
        for ci in finished_choices {
            self.close_all(ci, &mut completed);
        }
        if !completed.is_empty() {
            let drafts = completed
                .iter()
                .map(|(_, _, a)| a.draft(&self.metas))
                .collect();
            self.waiting = completed;
            self.residual = Some(Residual::Chunk(chunk));
            return Ok(drafts);
        }
        let adjusted = self.adjust_finish(&mut chunk);
        if touched || adjusted {
            if chunk_has_content(&chunk) {
                Self::emit_chunk(out, &chunk);
            }
        } else {
            out.extend_from_slice(&event.raw);
        }
        Ok(Vec::new())
    }

    fn resolve(&mut self, outcomes: Vec<Rendered>, out: &mut Vec<u8>) {
        let waiting = std::mem::take(&mut self.waiting);
        for ((ci, slot, acc), rendered) in waiting.into_iter().zip(outcomes) {
            let state = self.choices.entry(ci).or_default();
            let choice = match (&rendered, slot) {
                (Rendered::Blocked(text), _) => json!({
                    "index": ci, "delta": {"content": format!("{text}\n")}, "finish_reason": null
                }),
                (r, Slot::Tool(_)) => {
                    let index = state.emitted;
                    state.emitted += 1;
                    let call = match &acc.kind {
                        CallKind::Custom => json!({
                            "index": index, "id": acc.id, "type": "custom",
                            "custom": {"name": acc.name, "input": acc.arguments_for(r)}
                        }),
                        // An unknown kind is refused by the engine; kept, it goes as it came.
                        CallKind::Unknown(_) => {
                            let mut raw = acc.raw.clone().unwrap_or(json!({}));
                            raw["index"] = json!(index);
                            raw
                        }
                        CallKind::Function => json!({
                            "index": index, "id": acc.id, "type": "function",
                            "function": {"name": acc.name, "arguments": acc.arguments_for(r)}
                        }),
                    };
                    json!({"index": ci, "delta": {"tool_calls": [call]}, "finish_reason": null})
                }
                (r, Slot::Legacy) => {
                    state.legacy_allowed = true;
                    json!({"index": ci, "delta": {"function_call": {
                        "name": acc.name, "arguments": acc.arguments_for(r)
                    }}, "finish_reason": null})
                }
            };
            let chunk = self.chunk(choice);
            Self::emit_chunk(out, &chunk);
        }
        match self.residual.take() {
            Some(Residual::Chunk(mut chunk)) => {
                self.adjust_finish(&mut chunk);
                if chunk_has_content(&chunk) {
                    Self::emit_chunk(out, &chunk);
                }
            }
            Some(Residual::Raw(raw)) => out.extend_from_slice(&raw),
            None => {}
        }
    }

    fn end(&mut self, _out: &mut Vec<u8>) -> Vec<ActionDraft> {
        self.close_every_choice()
    }

    fn observations(&mut self) -> Vec<Observed> {
        self.text.take_observations()
    }
}

fn append_delta(acc: &mut CallAcc, call: &Value, function: Option<&Value>) {
    if let Some(id) = call.get("id").and_then(Value::as_str) {
        acc.id = id.to_string();
    }
    if let Some(f) = function {
        if let Some(name) = f.get("name").and_then(Value::as_str) {
            acc.name.push_str(name);
        }
        // `arguments` of a function call, `input` of a custom tool call.
        match f.get("arguments").or_else(|| f.get("input")) {
            Some(Value::String(args)) => acc.arguments.push_str(args),
            Some(Value::Null) | None => {}
            Some(other) => acc.arguments_value = Some(other.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_function_call_denied_and_kept() {
        let resp = json!({"choices": [{"index": 0, "finish_reason": "function_call", "message": {
            "role": "assistant", "content": null,
            "function_call": {"name": "send_email", "arguments": "{\"to\": \"all@corp\"}"}}}]});
        let calls = response_calls(&resp, &[]);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].tool, "send_email");
        assert_eq!(calls[0].parameters["to"], "all@corp");
        let mut denied = resp.clone();
        apply_to_response(&mut denied, &[Rendered::Blocked("no mail".into())]);
        assert!(denied.pointer("/choices/0/message/function_call").is_none());
        assert_eq!(denied["choices"][0]["finish_reason"], "stop");
        assert_eq!(denied["choices"][0]["message"]["content"], "no mail");
        let mut kept = resp.clone();
        apply_to_response(&mut kept, &[Rendered::Keep]);
        assert_eq!(kept, resp);
    }

    #[test]
    fn a_tool_result_carries_the_call_it_answers() {
        let req = json!({"messages": [
            {"role": "user", "content": "digest #support"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "read_channel", "arguments": "{\"channel\": \"support\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "3 messages"},
            {"role": "tool", "tool_call_id": "c9", "content": "orphan"}
        ]});
        let results: Vec<Observed> = observe_request(&req)
            .into_iter()
            .filter(|o| o.kind == ObservationKind::ToolResult)
            .collect();
        let call = results[0].call.as_ref().expect("linked by tool_call_id");
        assert_eq!(call.name, "read_channel");
        assert_eq!(call.arguments, json!({"channel": "support"}));
        assert!(results[1].call.is_none(), "no call has that id");
    }

    #[test]
    fn observes_roles_and_tools() {
        let req = json!({"messages": [
            {"role": "system", "content": "be careful"},
            {"role": "user", "content": [{"type": "text", "text": "delete my test data"}]},
            {"role": "tool", "content": "3 rows"}
        ], "tools": [{"type": "function", "function": {"name": "x"}}]});
        let kinds: Vec<ObservationKind> =
            observe_request(&req).into_iter().map(|o| o.kind).collect();
        assert_eq!(
            kinds,
            [
                ObservationKind::SystemPrompt,
                ObservationKind::UserMessage,
                ObservationKind::ToolResult,
                ObservationKind::ToolDeclarations
            ]
        );
    }
}
