//! How a decided tool call is rendered back to the agent: kept, rewritten with the modified
//! arguments, or withheld with the deny message in its place.

use aarmor_core::FinalVerdict;
use serde_json::{Map, Value};

use crate::draft::{ActionDraft, WRAPPED_MODIFY_REFUSED};

/// What the agent gets instead of a refused tool call. Placeholders: `{tool}`, `{reason}`,
/// `{rule}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyTemplate(pub String);

impl Default for DenyTemplate {
    fn default() -> Self {
        Self("[aarmor] The tool call `{tool}` was blocked by policy{rule}: {reason}".into())
    }
}

impl DenyTemplate {
    pub fn render(&self, tool: &str, reason: &str, rule: Option<&str>) -> String {
        let rule = rule.map(|r| format!(" (rule {r})")).unwrap_or_default();
        self.0
            .replace("{tool}", tool)
            .replace("{reason}", reason)
            .replace("{rule}", &rule)
    }
}

/// How one proposed call is rendered back to the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    /// Unchanged.
    Keep,
    /// Same call with these arguments.
    Arguments(Map<String, Value>),
    /// Withheld; the agent reads this text instead.
    Blocked(String),
}

impl Rendered {
    /// Turns a verdict on `draft` into what the agent sees.
    pub fn from_verdict(
        verdict: &FinalVerdict,
        draft: &ActionDraft,
        template: &DenyTemplate,
    ) -> Self {
        match verdict {
            FinalVerdict::Allow => Rendered::Keep,
            FinalVerdict::Deny(d) => {
                Rendered::Blocked(template.render(&draft.tool, &d.reason, d.rule.as_deref()))
            }
            FinalVerdict::Modify(m) if draft.is_wrapped() => Rendered::Blocked(template.render(
                &draft.tool,
                WRAPPED_MODIFY_REFUSED,
                m.rule.as_deref(),
            )),
            FinalVerdict::Modify(m) => Rendered::Arguments(m.parameters.clone()),
        }
    }

    pub fn is_allowed(&self) -> bool {
        !matches!(self, Rendered::Blocked(_))
    }
}
