//! The five AARM decisions and the policy classes that produce them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What happens to an action (AARM R4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// The action proceeds as it is.
    Allow,
    /// The action is refused.
    Deny,
    /// The action proceeds with the parameters the policy's patch gives.
    Modify,
    /// The action waits for a human approval (a quorum of approvers); unanswered, it is refused.
    StepUp,
    /// The action waits for more context (intent signals, more of the session) and is decided
    /// again; still undecided when the hold runs out, it is refused.
    Defer,
}

impl Decision {
    /// The `SCREAMING_SNAKE_CASE` spelling receipts and logs use (`STEP_UP`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "ALLOW",
            Self::Deny => "DENY",
            Self::Modify => "MODIFY",
            Self::StepUp => "STEP_UP",
            Self::Defer => "DEFER",
        }
    }

    /// Parses the lower- or upper-case spelling policies use (`"step_up"`, `"STEP_UP"`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "ALLOW" => Some(Self::Allow),
            "DENY" => Some(Self::Deny),
            "MODIFY" => Some(Self::Modify),
            "STEP_UP" | "STEPUP" => Some(Self::StepUp),
            "DEFER" => Some(Self::Defer),
            _ => None,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a policy rule decided (AARM R3): a forbidden action, or a decision that depends on the
/// context of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionClass {
    /// Refused whatever the context: wins over every other rule, and must decide DENY. aarmor's
    /// own refusals (unverified identity, uninspectable request) carry it too.
    Forbidden,
    /// Refused because of what the session's context shows.
    ContextDeny,
    /// Permitted (possibly modified) because of what the session's context shows.
    ContextAllow,
    /// The context does not settle it yet: a rule needs input not known yet, or rules of equal
    /// priority disagree.
    ContextDefer,
}

impl DecisionClass {
    /// Parses the `snake_case` spelling policies write (`context_deny`); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "forbidden" => Some(Self::Forbidden),
            "context_deny" => Some(Self::ContextDeny),
            "context_allow" => Some(Self::ContextAllow),
            "context_defer" => Some(Self::ContextDefer),
            _ => None,
        }
    }

    /// The `snake_case` spelling policies and receipts use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forbidden => "forbidden",
            Self::ContextDeny => "context_deny",
            Self::ContextAllow => "context_allow",
            Self::ContextDefer => "context_defer",
        }
    }
}
