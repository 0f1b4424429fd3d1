//! LLM wire formats: the requests (observations) and the responses that propose tool calls
//! (actions), streamed or not, and how verdicts are rendered back into them.

pub mod anthropic;
pub mod openai_chat;
pub mod openai_responses;

use aarmor_core::{Protocol, RiskSignal};
use serde_json::{Map, Value};

use crate::draft::{as_object, ActionDraft};
use crate::meta::{self, MetaTool};

/// The operation of every tool call an LLM proposes.
pub const TOOL_CALL_OPERATION: &str = "call";
pub use crate::rendered::{DenyTemplate, Rendered};
/// The operation of a request to an LLM API (the request itself is an action: its body leaves
/// the network like any other).
pub use aarmor_core::action::LLM_REQUEST_OPERATION;

/// The LLM APIs aarmor reads, one per wire format. Every place that depends on the format goes
/// through this type, so a new dialect is one new arm the compiler points at everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmDialect {
    /// OpenAI Chat Completions (`…/chat/completions`; also Azure OpenAI and compatible servers).
    OpenaiChat,
    /// OpenAI Responses (`…/responses`).
    OpenaiResponses,
    /// Anthropic Messages (`…/messages` with an `anthropic-version` header).
    AnthropicMessages,
}

impl LlmDialect {
    pub fn protocol(self) -> Protocol {
        match self {
            Self::OpenaiChat => Protocol::OpenaiChat,
            Self::OpenaiResponses => Protocol::OpenaiResponses,
            Self::AnthropicMessages => Protocol::AnthropicMessages,
        }
    }

    /// Who defined the format: the request action's tool is `llm.<provider>`.
    pub fn provider(self) -> &'static str {
        match self {
            Self::OpenaiChat | Self::OpenaiResponses => "openai",
            Self::AnthropicMessages => "anthropic",
        }
    }

    /// The action of the request itself: tool `llm.<provider>`, operation `request`,
    /// parameters the request body (`body`) and query string (`query`), like a REST call's.
    pub fn request_draft(self, body: Value, path_and_query: &str) -> ActionDraft {
        let mut parameters = Map::new();
        parameters.insert("body".into(), body);
        parameters.insert(
            "query".into(),
            Value::Object(crate::rest::query_map(path_and_query)),
        );
        ActionDraft {
            envelope: Default::default(),
            protocol: self.protocol(),
            tool: format!("llm.{}", self.provider()),
            operation: LLM_REQUEST_OPERATION.into(),
            parameters,
            risk_signals: Vec::new(),
        }
    }

    /// What a request body tells about the conversation (system prompt, user messages, tool
    /// results, tool declarations).
    pub fn observe_request(self, body: &Value) -> Vec<crate::Observed> {
        match self {
            Self::OpenaiChat => openai_chat::observe_request(body),
            Self::OpenaiResponses => openai_responses::observe_request(body),
            Self::AnthropicMessages => anthropic::observe_request(body),
        }
    }

    /// The calls a non-streamed response asks the client to run, in order.
    pub fn response_calls(self, resp: &Value, metas: &[MetaTool]) -> Vec<ActionDraft> {
        match self {
            Self::OpenaiChat => openai_chat::response_calls(resp, metas),
            Self::OpenaiResponses => openai_responses::response_calls(resp, metas),
            Self::AnthropicMessages => anthropic::response_calls(resp, metas),
        }
    }

    /// Assistant text of a non-streamed response.
    pub fn observe_response(self, resp: &Value) -> Vec<crate::Observed> {
        match self {
            Self::OpenaiChat => openai_chat::observe_response(resp),
            Self::OpenaiResponses => openai_responses::observe_response(resp),
            Self::AnthropicMessages => anthropic::observe_response(resp),
        }
    }

    /// Rewrites a non-streamed response: one outcome per call of [`Self::response_calls`].
    pub fn apply_to_response(self, resp: &mut Value, outcomes: &[Rendered]) {
        match self {
            Self::OpenaiChat => openai_chat::apply_to_response(resp, outcomes),
            Self::OpenaiResponses => openai_responses::apply_to_response(resp, outcomes),
            Self::AnthropicMessages => anthropic::apply_to_response(resp, outcomes),
        }
    }

    /// The streaming gate's event handling for this format.
    pub fn stream(self, metas: Vec<MetaTool>) -> Box<dyn crate::gate::EventProcessor> {
        match self {
            Self::OpenaiChat => Box::new(openai_chat::ChatStream::new(metas)),
            Self::OpenaiResponses => Box::new(openai_responses::ResponsesStream::new(metas)),
            Self::AnthropicMessages => Box::new(anthropic::MessagesStream::new(metas)),
        }
    }
}

/// Builds the action of one proposed tool call. `arguments` is the JSON text the model produced
/// (OpenAI) or the already-structured input (Anthropic).
pub fn call_draft(
    protocol: Protocol,
    name: &str,
    arguments: CallArguments<'_>,
    metas: &[MetaTool],
) -> ActionDraft {
    let mut signals = Vec::new();
    let params = match arguments {
        CallArguments::Text(text) if text.trim().is_empty() => Map::new(),
        CallArguments::Text(text) => match serde_json::from_str::<Value>(text) {
            Ok(v) => as_object(v),
            Err(e) => {
                signals.push(RiskSignal::ArgumentsNotJson {
                    error: e.to_string(),
                });
                let mut m = Map::new();
                m.insert("raw_arguments".into(), Value::String(text.to_string()));
                m
            }
        },
        CallArguments::Value(v) => as_object(v.clone()),
    };
    let name = if name.is_empty() { "<unnamed>" } else { name };
    let resolved = if signals.is_empty() {
        meta::resolve(metas, name, params)
    } else {
        meta::Resolved {
            tool: name.to_string(),
            server_qualified: false,
            parameters: params,
            signal: None,
            wrapper_rest: Map::new(),
        }
    };
    signals.extend(resolved.signal);
    ActionDraft {
        envelope: wrapper_envelope(resolved.wrapper_rest),
        protocol,
        tool: resolved.tool,
        operation: TOOL_CALL_OPERATION.into(),
        parameters: resolved.parameters,
        risk_signals: signals,
    }
}

/// The envelope of a call made through a wrapper: what the wrapper carried besides the call.
pub(crate) fn wrapper_envelope(rest: Map<String, Value>) -> Map<String, Value> {
    let mut envelope = Map::new();
    if !rest.is_empty() {
        envelope.insert("wrapper".into(), Value::Object(rest));
    }
    envelope
}

/// The action of an item an LLM response asks the client to run that aarmor cannot read: its
/// type is the tool, the item itself the parameters, and the `uninspectable_call` signal makes
/// the engine refuse it.
pub fn uninspectable_draft(protocol: Protocol, item_type: &str, item: &Value) -> ActionDraft {
    let mut parameters = match item {
        Value::Object(o) => o.clone(),
        other => {
            let mut m = Map::new();
            m.insert("item".into(), other.clone());
            m
        }
    };
    parameters.remove("type");
    let item_type = if item_type.is_empty() {
        "<untyped>"
    } else {
        item_type
    };
    ActionDraft {
        envelope: Default::default(),
        protocol,
        tool: item_type.to_string(),
        operation: TOOL_CALL_OPERATION.into(),
        parameters,
        risk_signals: vec![RiskSignal::UninspectableCall {
            item_type: item_type.to_string(),
        }],
    }
}

/// Tool-call arguments as found on the wire.
#[derive(Debug, Clone, Copy)]
pub enum CallArguments<'a> {
    Text(&'a str),
    Value(&'a Value),
}

/// Text of a message `content` that is either a string or a list of typed parts.
pub(crate) fn content_text(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

/// Collects streamed assistant text for the session context, bounded.
#[derive(Debug, Default)]
pub(crate) struct TextCollector {
    text: String,
}

impl TextCollector {
    const LIMIT: usize = 64 * 1024;

    pub fn push(&mut self, s: &str) {
        let room = Self::LIMIT.saturating_sub(self.text.len());
        if room == 0 {
            return;
        }
        let mut end = s.len().min(room);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&s[..end]);
    }

    pub fn take(&mut self) -> Option<String> {
        (!self.text.is_empty()).then(|| std::mem::take(&mut self.text))
    }

    /// The collected text as an assistant-text observation (none when empty).
    pub fn take_observations(&mut self) -> Vec<crate::Observed> {
        self.take()
            .map(|t| {
                vec![crate::Observed::new(
                    aarmor_core::ObservationKind::AssistantText,
                    Value::String(t),
                )]
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use aarmor_core::Denial;

    use super::*;
    use crate::meta::default_meta_tools;
    use aarmor_core::FinalVerdict;

    #[test]
    fn invalid_json_arguments_are_flagged_and_kept_verbatim() {
        let d = call_draft(
            Protocol::OpenaiChat,
            "run_shell",
            CallArguments::Text("{\"cmd\": \"rm -rf /\""),
            &default_meta_tools(),
        );
        assert_eq!(d.tool, "run_shell");
        assert_eq!(d.parameters["raw_arguments"], "{\"cmd\": \"rm -rf /\"");
        assert!(matches!(
            d.risk_signals[0],
            RiskSignal::ArgumentsNotJson { .. }
        ));
    }

    #[test]
    fn deny_template_renders_tool_rule_and_reason() {
        let d = call_draft(
            Protocol::OpenaiChat,
            "delete_repo",
            CallArguments::Text("{}"),
            &[],
        );
        let r = Rendered::from_verdict(
            &FinalVerdict::Deny(Denial {
                rule: Some("no-deletes".into()),
                reason: "destructive".into(),
            }),
            &d,
            &DenyTemplate::default(),
        );
        assert_eq!(
            r,
            Rendered::Blocked(
                "[aarmor] The tool call `delete_repo` was blocked by policy (rule no-deletes): destructive"
                    .into()
            )
        );
    }
}
