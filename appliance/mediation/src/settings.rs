//! The `[mediation]` section of the config file: how exchanges become actions and how long
//! decisions may take. Every field has a default; unknown keys are errors that name the key.

use serde::{Deserialize, Serialize};

use aarmor_protocols::classify::{McpServer, SqlEndpoint};
use aarmor_protocols::meta::MetaTool;
use aarmor_protocols::rest::Route;

/// The `[mediation]` section: how exchanges become actions and how long decisions may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediationSettings {
    /// Turn agent traffic into actions and mediate them. `false` forwards everything (logged).
    pub enabled: bool,
    /// Deadline for one decision by the engine; past it the action is refused (fail closed), ms.
    pub decision_timeout_ms: u64,
    /// Longest an action may be held waiting for a pending decision (approval, deferral); past
    /// it the action is refused, ms.
    pub max_hold_ms: u64,
    /// Largest single server-sent event of a streamed LLM response, bytes.
    pub max_event_bytes: usize,
    /// What the agent reads instead of a withheld tool call. `{tool}`, `{reason}`, `{rule}`.
    pub deny_message: String,
    /// SQL-over-HTTP endpoints: `{ host, port?, path_prefix?, dialect, tool? }`.
    pub sql_endpoints: Vec<SqlEndpoint>,
    /// Names for REST endpoints: `{ host, path, tool, operation? }`.
    pub routes: Vec<Route>,
    /// Names for MCP servers: `{ host, port?, name }` (tools become `name.tool`).
    pub mcp_servers: Vec<McpServer>,
    /// Wrapper tools resolved to the real tool, in addition to the built-in ones.
    pub meta_tools: Vec<MetaTool>,
}

impl Default for MediationSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            decision_timeout_ms: 10_000,
            max_hold_ms: 300_000,
            max_event_bytes: 1024 * 1024,
            deny_message: aarmor_protocols::llm::DenyTemplate::default().0,
            sql_endpoints: Vec::new(),
            routes: Vec::new(),
            mcp_servers: Vec::new(),
            meta_tools: Vec::new(),
        }
    }
}

impl MediationSettings {
    /// The protocol layer's view of these settings.
    pub fn protocol_config(&self) -> aarmor_protocols::classify::ProtocolConfig {
        let mut cfg = aarmor_protocols::classify::ProtocolConfig {
            sql_endpoints: self.sql_endpoints.clone(),
            routes: self.routes.clone(),
            mcp_servers: self.mcp_servers.clone(),
            deny_template: aarmor_protocols::llm::DenyTemplate(self.deny_message.clone()),
            ..Default::default()
        };
        // Configured wrappers take precedence over built-in ones of the same name.
        cfg.meta_tools
            .retain(|m| !self.meta_tools.iter().any(|c| c.name == m.name));
        cfg.meta_tools.splice(0..0, self.meta_tools.iter().cloned());
        cfg
    }

    /// The deadline for one engine decision (`decision_timeout_ms`).
    pub fn decision_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.decision_timeout_ms)
    }

    /// The longest an action may be held (`max_hold_ms`).
    pub fn max_hold(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.max_hold_ms)
    }
}
