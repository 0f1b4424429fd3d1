//! Actions as the parsers produce them, before the data plane stamps an id and a time.

use aarmor_core::{Action, ActionId, ActionTarget, Identity, Protocol, RiskSignal};
use serde_json::{Map, Value};

/// An action without its id and timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionDraft {
    pub protocol: Protocol,
    pub tool: String,
    pub operation: String,
    pub parameters: Map<String, Value>,
    /// See [`Action::envelope`].
    pub envelope: Map<String, Value>,
    pub risk_signals: Vec<RiskSignal>,
}

/// Why a MODIFY of a call made through a wrapper tool is refused: the new parameters are the
/// inner tool's and cannot be put back into the wrapper's arguments.
pub const WRAPPED_MODIFY_REFUSED: &str =
    "a modification was required but calls made through a wrapper tool cannot be rewritten";

impl ActionDraft {
    /// True when the call arrived through a wrapper tool that was resolved to the real tool.
    pub fn is_wrapped(&self) -> bool {
        self.risk_signals
            .iter()
            .any(|s| matches!(s, RiskSignal::MetaToolResolved { .. }))
    }

    pub fn into_action(
        self,
        action_id: ActionId,
        timestamp: String,
        target: ActionTarget,
        identity: Identity,
    ) -> Action {
        Action {
            envelope: self.envelope,
            action_id,
            timestamp,
            protocol: self.protocol,
            target,
            tool: self.tool,
            operation: self.operation,
            parameters: self.parameters,
            identity,
            context_ref: None,
            risk_signals: self.risk_signals,
            credential: None,
        }
    }
}

/// Parameters as a JSON object: objects as they are, anything else under `value`.
pub fn as_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => {
            let mut map = Map::new();
            map.insert("value".into(), other);
            map
        }
    }
}
