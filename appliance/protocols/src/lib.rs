//! aarmor's wire formats, without I/O: requests and responses become canonical actions and
//! observations, and verdicts are rendered back into bytes the agent's own SDK accepts.
//!
//! - [`classify`] is the classification table: what every request is, from its head (and, when
//!   needed, its body, read by [`body`] the way its server may read it, or refused);
//! - [`llm`] handles OpenAI Chat Completions, OpenAI Responses and Anthropic Messages;
//! - [`mcp`], [`sql`] and [`rest`] handle requests that execute actions;
//! - [`gate`] and [`sse`] hold streamed tool calls until they are decided.

pub mod body;
pub mod classify;
pub mod draft;
pub mod fields;
pub mod gate;
pub mod llm;
pub mod mcp;
pub mod meta;
pub mod multipart;
pub mod rendered;
pub mod rest;
pub mod sql;
pub mod sse;
pub mod websocket;

use aarmor_core::{ObservationKind, ToolCall};
use serde_json::Value;

pub use draft::ActionDraft;

/// An observation before the data plane adds its target and protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub kind: ObservationKind,
    pub content: Value,
    /// For a tool result: the call it answers, when the conversation shows it.
    pub call: Option<ToolCall>,
}

impl Observed {
    pub fn new(kind: ObservationKind, content: Value) -> Self {
        Self {
            kind,
            content,
            call: None,
        }
    }

    /// A tool result, with the call it answers when known.
    pub fn tool_result(content: Value, call: Option<ToolCall>) -> Self {
        Self {
            kind: ObservationKind::ToolResult,
            content,
            call,
        }
    }
}

/// A call's arguments as recorded in a conversation: JSON text is parsed, anything else is kept
/// as it came.
pub(crate) fn recorded_call(name: &str, arguments: Option<&Value>) -> ToolCall {
    let arguments = match arguments {
        Some(Value::String(text)) => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
        }
        Some(other) => other.clone(),
        None => Value::Null,
    };
    ToolCall {
        name: name.to_string(),
        arguments,
    }
}
