//! OpenAI Chat Completions: `messages` and `tools` are observed; `tool_calls` (function and
//! custom tools, and the legacy `function_call`) in responses are actions, streamed or not; a
//! call of a type aarmor does not know is an action too, refused.

use std::collections::{BTreeMap, HashMap};

use aarmor_core::{ObservationKind, Protocol, ToolCall};
use serde_json::{json, Value};

use crate::draft::ActionDraft;
use crate::llm::{call_draft, content_text, uninspectable_draft, CallArguments, Rendered};
use crate::meta::MetaTool;
use crate::Observed;

mod stream;
#[cfg(test)]
mod tests;

pub use stream::ChatStream;

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
