//! Observations: what the proxy saw that is not itself an action but feeds the session context.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::{ActionId, ActionTarget, Protocol};

/// What kind of thing was observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationKind {
    /// A system or developer prompt sent to an LLM.
    SystemPrompt,
    /// A message the user (the human behind the agent) wrote.
    UserMessage,
    /// Text the model answered with.
    AssistantText,
    /// The result of a tool call, as sent back to the LLM.
    ToolResult,
    /// Tool declarations: the `tools` of an LLM request or an MCP `tools/list` result.
    ToolDeclarations,
    /// The response of an executed action (MCP result, REST or SQL response body).
    ActionResult,
}

/// One observation. `content` is text for messages and JSON for declarations and results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The protocol the observed content was read from.
    pub protocol: Protocol,
    /// Where the exchange that carried it was going.
    pub target: ActionTarget,
    /// What was observed; says what `content` holds.
    pub kind: ObservationKind,
    /// What was seen: message text, tool declarations as JSON, a result as JSON or as text.
    pub content: Value,
    /// The action this is the result of, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id: Option<ActionId>,
    /// For a tool result inside an LLM conversation: the call it answers, as the conversation's
    /// earlier assistant turn shows it (matched by the call's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<ToolCall>,
}

/// A tool call as an LLM conversation records it: the tool's name and its arguments (an object
/// when they are JSON, else the text as it came).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The tool's name as the conversation gives it.
    pub name: String,
    /// The call's arguments: an object when they are JSON, else the text as it came.
    pub arguments: Value,
}
