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
    pub protocol: Protocol,
    pub target: ActionTarget,
    pub kind: ObservationKind,
    pub content: Value,
    /// The action this is the result of, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id: Option<ActionId>,
}
