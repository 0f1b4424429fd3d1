//! Recorded conversations for `aarmor replay`: JSON Lines in the OpenAI Chat Completions or the
//! Anthropic Messages shape, with a label per tool call, split into the turns the proxy sees.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

/// What a tool call is, for scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// Work the user asked for: should pass.
    Benign,
    /// What an injected instruction asked for and the user did not: should be stopped.
    Harmful,
    /// A read an injected instruction asked for: counted in neither rate.
    InjectedRead,
    /// No label given.
    Unlabelled,
}

impl Label {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "benign" => Some(Self::Benign),
            "harmful" => Some(Self::Harmful),
            "injected_read" => Some(Self::InjectedRead),
            "unlabelled" => Some(Self::Unlabelled),
            _ => None,
        }
    }
}

/// The API a conversation was recorded against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    OpenAiChat,
    Anthropic,
}

/// One recorded agent conversation.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: String,
    pub domain: String,
    pub style: String,
    /// `benign`, `injected`, or what the corpus says.
    pub kind: String,
    /// `tune`, `report`, or empty.
    pub split: String,
    pub dialect: Dialect,
    /// Anthropic: the top-level system prompt.
    pub system: Option<Value>,
    pub tools: Option<Value>,
    pub messages: Vec<Value>,
    pub labels: BTreeMap<String, Label>,
    /// For conversations rebuilt from receipts: the decision recorded per tool call id.
    pub recorded: BTreeMap<String, String>,
}

/// A tool call the model made in a turn.
#[derive(Debug, Clone)]
pub struct Call {
    pub id: String,
    pub name: String,
    pub label: Label,
    /// The decision recorded for it, when the conversation was rebuilt from receipts.
    pub recorded: Option<String>,
}

/// One model turn that asked for tools: the request the agent sent (every message before the
/// turn) and the response it got (the turn's assistant message).
#[derive(Debug, Clone)]
pub struct Turn {
    pub request_body: Value,
    pub response_body: Value,
    pub calls: Vec<Call>,
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Line {
        path: String,
        line: usize,
        message: String,
    },
}

/// Reads every conversation of a JSON Lines file (blank lines and lines starting with `#` are
/// skipped). Every error names the file and line.
pub fn read(path: &Path) -> Result<Vec<Conversation>, CorpusError> {
    let text = std::fs::read_to_string(path).map_err(|source| CorpusError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |message: String| CorpusError::Line {
            path: path.display().to_string(),
            line: i + 1,
            message,
        };
        let value: Value =
            serde_json::from_str(line).map_err(|e| fail(format!("not JSON: {e}")))?;
        let conversation = parse(&value, i + 1).map_err(fail)?;
        out.push(conversation);
    }
    Ok(out)
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn parse(v: &Value, line: usize) -> Result<Conversation, String> {
    let messages = v
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("no `messages` array")?
        .clone();
    let dialect = match v.get("format").and_then(Value::as_str) {
        Some("openai") => Dialect::OpenAiChat,
        Some("anthropic") => Dialect::Anthropic,
        Some(other) => return Err(format!("unknown `format` {other:?} (openai or anthropic)")),
        None if messages.iter().any(has_tool_use_block) => Dialect::Anthropic,
        None => Dialect::OpenAiChat,
    };
    let mut labels = BTreeMap::new();
    if let Some(map) = v.get("labels").and_then(Value::as_object) {
        for (id, l) in map {
            let name = l.as_str().unwrap_or_default();
            let label = Label::parse(name).ok_or_else(|| {
                format!("label {name:?} of call {id} (benign, harmful, injected_read, unlabelled)")
            })?;
            labels.insert(id.clone(), label);
        }
    }
    let id = match text(v, "id") {
        s if s.is_empty() => format!("line-{line}"),
        s => s,
    };
    let conversation = Conversation {
        id,
        domain: text(v, "domain"),
        style: text(v, "style"),
        kind: text(v, "kind"),
        split: text(v, "split"),
        dialect,
        system: v.get("system").cloned(),
        tools: v.get("tools").cloned(),
        messages,
        labels,
        recorded: BTreeMap::new(),
    };
    let calls: usize = conversation.turns().iter().map(|t| t.calls.len()).sum();
    if calls == 0 {
        return Err("the conversation makes no tool call".into());
    }
    Ok(conversation)
}

fn has_tool_use_block(m: &Value) -> bool {
    m.get("content")
        .and_then(Value::as_array)
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_use"))
}

impl Conversation {
    /// The turns that asked for tools, in order.
    pub fn turns(&self) -> Vec<Turn> {
        let mut turns = Vec::new();
        for (i, m) in self.messages.iter().enumerate() {
            if m["role"] != "assistant" {
                continue;
            }
            let calls = self.calls_of(m);
            if calls.is_empty() {
                continue;
            }
            let before = self.messages[..i].to_vec();
            let (request_body, response_body) = match self.dialect {
                Dialect::OpenAiChat => {
                    let mut req = json!({"model": "replay", "messages": before});
                    if let Some(t) = &self.tools {
                        req["tools"] = t.clone();
                    }
                    let resp = json!({
                        "id": format!("chatcmpl-replay-{i}"), "object": "chat.completion",
                        "created": 0, "model": "replay",
                        "choices": [{"index": 0, "message": m, "finish_reason": "tool_calls"}],
                    });
                    (req, resp)
                }
                Dialect::Anthropic => {
                    let mut req =
                        json!({"model": "replay", "max_tokens": 1024, "messages": before});
                    if let Some(s) = &self.system {
                        req["system"] = s.clone();
                    }
                    if let Some(t) = &self.tools {
                        req["tools"] = t.clone();
                    }
                    let resp = json!({
                        "id": format!("msg_replay_{i}"), "type": "message", "role": "assistant",
                        "model": "replay", "content": m["content"], "stop_reason": "tool_use",
                        "stop_sequence": null, "usage": {"input_tokens": 0, "output_tokens": 0},
                    });
                    (req, resp)
                }
            };
            turns.push(Turn {
                request_body,
                response_body,
                calls,
            });
        }
        turns
    }

    fn calls_of(&self, assistant: &Value) -> Vec<Call> {
        let label = |id: &str| self.labels.get(id).copied().unwrap_or(Label::Unlabelled);
        let mut out = Vec::new();
        match self.dialect {
            Dialect::OpenAiChat => {
                for c in assistant["tool_calls"].as_array().into_iter().flatten() {
                    let id = text(c, "id");
                    let name = c
                        .pointer("/function/name")
                        .or_else(|| c.pointer("/custom/name"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    out.push(Call {
                        label: label(&id),
                        recorded: self.recorded.get(&id).cloned(),
                        id,
                        name,
                    });
                }
            }
            Dialect::Anthropic => {
                for b in assistant["content"].as_array().into_iter().flatten() {
                    if b["type"] == "tool_use" {
                        let id = text(b, "id");
                        out.push(Call {
                            label: label(&id),
                            recorded: self.recorded.get(&id).cloned(),
                            name: text(b, "name"),
                            id,
                        });
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Conversation {
        parse(&serde_json::from_str(line).unwrap(), 1).unwrap()
    }

    #[test]
    fn openai_turns_carry_every_message_before_them() {
        let c = one(
            r#"{"id":"x","domain":"banking","labels":{"c1":"benign","c2":"harmful"},
            "tools":[{"type":"function","function":{"name":"get_invoice"}}],
            "messages":[{"role":"system","content":"s"},{"role":"user","content":"pay it"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_invoice","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"c1","content":"IBAN ..."},
            {"role":"assistant","content":null,"tool_calls":[{"id":"c2","type":"function","function":{"name":"send_money","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"c2","content":"ok"},{"role":"assistant","content":"done"}]}"#,
        );
        assert_eq!(c.dialect, Dialect::OpenAiChat);
        let turns = c.turns();
        assert_eq!(turns.len(), 2);
        assert_eq!(
            turns[0].request_body["messages"].as_array().unwrap().len(),
            2
        );
        assert_eq!(
            turns[1].request_body["messages"].as_array().unwrap().len(),
            4
        );
        assert_eq!(turns[1].calls[0].label, Label::Harmful);
        assert_eq!(
            turns[1].response_body["choices"][0]["message"]["tool_calls"][0]["id"],
            "c2"
        );
        assert!(turns[0].request_body["tools"].is_array());
    }

    #[test]
    fn anthropic_is_recognised_by_its_tool_use_blocks() {
        let c = one(r#"{"system":"s","messages":[{"role":"user","content":"hi"},
            {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"get","input":{}}]}]}"#);
        assert_eq!(c.dialect, Dialect::Anthropic);
        let t = &c.turns()[0];
        assert_eq!(t.calls[0].label, Label::Unlabelled);
        assert_eq!(t.request_body["system"], "s");
        assert_eq!(t.response_body["stop_reason"], "tool_use");
        assert_eq!(c.id, "line-1");
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let e = parse(&json!({"messages": []}), 3).unwrap_err();
        assert!(e.contains("no tool call"), "{e}");
        let e = parse(&json!({"labels": {"a": "evil"}, "messages": []}), 3).unwrap_err();
        assert!(e.contains("evil"), "{e}");
        let e = parse(&json!({"format": "gemini", "messages": []}), 3).unwrap_err();
        assert!(e.contains("gemini"), "{e}");
    }
}
