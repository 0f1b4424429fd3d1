//! Conversations rebuilt from what aarmor recorded: `aarmor receipts export` (each tool call's
//! parameters and decision) and `aarmor context export` (each session's system prompt, user
//! messages, tool outputs and actions, in order), for replay against another policy bundle.
//!
//! What the log keeps is what is replayed: user messages and system prompts up to 16 KiB, tool
//! outputs as their first 160 characters (the log's summary), so instructions later in a long
//! output are not seen again. Only tool calls from LLM responses are rebuilt (the actions an
//! agent executed directly, over MCP or REST, are not turns of a conversation).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use aarmor_core::{Receipt, ReceiptKind};
use serde_json::{json, Value};

use super::corpus::{Conversation, CorpusError, Dialect};

/// Reads the receipts export and the context exports; one conversation per session that made
/// at least one tool call.
pub fn read(receipts: &Path, contexts: &[PathBuf]) -> Result<Vec<Conversation>, CorpusError> {
    let calls = tool_calls(receipts)?;
    let mut sessions: BTreeMap<String, Vec<(u64, String, Value)>> = BTreeMap::new();
    for path in contexts {
        for (i, line) in lines(path)?.into_iter().enumerate() {
            let fail = |message: String| CorpusError::Line {
                path: path.display().to_string(),
                line: i + 1,
                message,
            };
            let entry: Value = serde_json::from_str(&line)
                .map_err(|e| fail(format!("not a context entry: {e}")))?;
            let session = entry["session"]
                .as_str()
                .ok_or_else(|| fail("a context entry without `session`".into()))?
                .to_string();
            let seq = entry["seq"].as_u64().unwrap_or(0);
            let kind = entry["kind"].as_str().unwrap_or_default().to_string();
            sessions
                .entry(session)
                .or_default()
                .push((seq, kind, entry["data"].clone()));
        }
    }
    let mut out = Vec::new();
    for (session, mut entries) in sessions {
        entries.sort_by_key(|(seq, _, _)| *seq);
        if let Some(c) = conversation(&session, &entries, &calls) {
            out.push(c);
        }
    }
    Ok(out)
}

fn lines(path: &Path) -> Result<Vec<String>, CorpusError> {
    let text = std::fs::read_to_string(path).map_err(|source| CorpusError::Read {
        path: path.display().to_string(),
        source,
    })?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

/// Decision receipts of tool calls from LLM responses, by action id.
fn tool_calls(path: &Path) -> Result<HashMap<String, Receipt>, CorpusError> {
    let mut out = HashMap::new();
    for (i, line) in lines(path)?.into_iter().enumerate() {
        let r: Receipt = serde_json::from_str(&line).map_err(|e| CorpusError::Line {
            path: path.display().to_string(),
            line: i + 1,
            message: format!("not a receipt: {e}"),
        })?;
        if r.kind == ReceiptKind::Decision
            && r.action.protocol.is_llm()
            && !r.action.is_llm_request()
        {
            out.insert(r.action.action_id.0.clone(), r);
        }
    }
    Ok(out)
}

fn conversation(
    session: &str,
    entries: &[(u64, String, Value)],
    calls: &HashMap<String, Receipt>,
) -> Option<Conversation> {
    let mut messages = Vec::new();
    let mut recorded = BTreeMap::new();
    let mut unanswered: Vec<String> = Vec::new();
    for (_, kind, data) in entries {
        match kind.as_str() {
            "system_prompt" => {
                if let Some(t) = data["text"].as_str() {
                    messages.push(json!({"role": "system", "content": t}));
                }
            }
            "user_message" => {
                if let Some(t) = data["text"].as_str() {
                    messages.push(json!({"role": "user", "content": t}));
                }
            }
            "action" => {
                let Some(r) = data["action_id"].as_str().and_then(|id| calls.get(id)) else {
                    continue;
                };
                let id = r.action.action_id.0.clone();
                let arguments = Value::Object(r.action.parameters.clone()).to_string();
                messages.push(json!({
                    "role": "assistant", "content": null,
                    "tool_calls": [{"id": id, "type": "function",
                                    "function": {"name": r.action.tool, "arguments": arguments}}],
                }));
                recorded.insert(id.clone(), r.decision.result.as_str().to_string());
                unanswered.push(id);
            }
            "tool_result" => {
                let text = data["text"].as_str().or_else(|| data["summary"].as_str());
                if let (Some(t), false) = (text, unanswered.is_empty()) {
                    let id = unanswered.remove(0);
                    messages.push(json!({"role": "tool", "tool_call_id": id, "content": t}));
                }
            }
            _ => {}
        }
    }
    if recorded.is_empty() {
        return None;
    }
    Some(Conversation {
        id: session.to_string(),
        domain: String::new(),
        style: String::new(),
        kind: "recorded".into(),
        split: String::new(),
        dialect: Dialect::OpenAiChat,
        system: None,
        tools: None,
        messages,
        labels: BTreeMap::new(),
        recorded,
    })
}
