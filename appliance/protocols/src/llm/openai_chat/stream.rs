//! A streamed Chat Completions response: text deltas pass at once; tool-call deltas are
//! collected per choice and slot, held until the call is complete and decided, then re-emitted
//! as decided (kept, rewritten, or replaced by the deny message).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::draft::ActionDraft;
use crate::gate::{event_object, EventProcessor, GateError};
use crate::llm::{Rendered, TextCollector};
use crate::meta::MetaTool;
use crate::sse::SseEvent;
use crate::Observed;

use super::{CallAcc, CallKind, Slot};

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
pub(super) fn chunk_has_content(chunk: &Value) -> bool {
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

pub(super) fn append_delta(acc: &mut CallAcc, call: &Value, function: Option<&Value>) {
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
