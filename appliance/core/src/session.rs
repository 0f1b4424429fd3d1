//! Sessions: what ties an agent's LLM conversation to the actions it executes (AARM R2).
//!
//! A session id is, in order of preference:
//! 1. the value of the `x-aarm-session` header the agent platform sends (`explicit`);
//! 2. derived from the conversation: agent, system prompt and first user message, hashed —
//!    stable across the turns of one conversation, since every turn resends them (`derived`);
//! 3. for traffic that carries no conversation (REST, MCP, SQL), the agent's most recently
//!    active session, else the agent's own default session (`agent_default`).

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Header an agent platform sets to name its session explicitly.
pub const SESSION_HEADER: &str = "x-aarm-session";
/// Longest explicit session id accepted; longer or malformed values are hashed.
const MAX_EXPLICIT: usize = 128;

/// Identifier of one session.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub String);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn hashed(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A session and the agent acting in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRef {
    /// The session the exchange is attributed to.
    pub id: SessionId,
    /// The acting agent as identity binding named it (`unknown` when nothing did).
    pub agent: String,
}

impl SessionId {
    /// From the `x-aarm-session` header. Values made of `[A-Za-z0-9._:-]`, at most 128 long, are
    /// kept as they are; anything else is hashed so that it is safe in keys and logs.
    pub fn explicit(value: &str) -> Self {
        let v = value.trim();
        let clean = !v.is_empty()
            && v.len() <= MAX_EXPLICIT
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if clean {
            Self(v.to_string())
        } else {
            Self(format!("ses_x{}", hashed(&[v])))
        }
    }

    /// From a conversation: the agent, its system prompt (empty when none) and its first user
    /// message.
    pub fn derived(agent: &str, system_prompt: &str, first_user_message: &str) -> Self {
        Self(format!(
            "ses_{}",
            hashed(&[agent, system_prompt, first_user_message])
        ))
    }

    /// The session of an agent's traffic when nothing names one.
    pub fn agent_default(agent: &str) -> Self {
        Self(format!("ses_a{}", hashed(&[agent])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_stable_and_separates_agents_and_conversations() {
        let a = SessionId::derived("ip:10.0.0.5", "You are helpful.", "Pay the invoice");
        assert_eq!(
            a,
            SessionId::derived("ip:10.0.0.5", "You are helpful.", "Pay the invoice")
        );
        assert_ne!(
            a,
            SessionId::derived("ip:10.0.0.6", "You are helpful.", "Pay the invoice")
        );
        assert_ne!(
            a,
            SessionId::derived("ip:10.0.0.5", "You are helpful.", "Pay the rent")
        );
        // No ambiguity from concatenation.
        assert_ne!(
            SessionId::derived("a", "bc", "d"),
            SessionId::derived("a", "b", "cd")
        );
        assert!(a.0.starts_with("ses_") && a.0.len() == 28);
    }

    #[test]
    fn explicit_ids_are_kept_when_clean_and_hashed_otherwise() {
        assert_eq!(SessionId::explicit(" run-42:a.b_c ").0, "run-42:a.b_c");
        let odd = SessionId::explicit("x y\nz");
        assert!(odd.0.starts_with("ses_x"));
        assert!(SessionId::explicit(&"a".repeat(200)).0.starts_with("ses_x"));
        assert_ne!(SessionId::agent_default("a"), SessionId::agent_default("b"));
    }
}
