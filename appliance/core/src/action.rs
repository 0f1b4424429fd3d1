//! The canonical AARM action: one thing an agent is about to do, whatever protocol carried it.
//!
//! Invariants: `tool` and `operation` are never empty; `parameters` is always a JSON object;
//! anything the parser could not make sense of is recorded in `risk_signals`, never dropped.
//! The JSON form is described by `docs/schemas/action.schema.json`.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Identifier of one action, `act_` followed by 20 hex digits (see [`crate::ids`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionId(pub String);

impl ActionId {
    /// A fresh id, unique within the process and across processes.
    pub fn fresh() -> Self {
        Self(crate::ids::next_id("act"))
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The wire protocol an action or observation was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// OpenAI Chat Completions (`/chat/completions`).
    OpenaiChat,
    /// OpenAI Responses API (`/responses`).
    OpenaiResponses,
    /// Anthropic Messages (`/v1/messages`).
    AnthropicMessages,
    /// Model Context Protocol over streamable HTTP (JSON-RPC).
    Mcp,
    /// SQL sent to a declared SQL-over-HTTP endpoint.
    Sql,
    /// Any other state-changing HTTP request.
    Rest,
    /// An act of aarmor itself that its chain records (a checkpoint of archived receipts).
    Appliance,
}

impl Protocol {
    /// The `snake_case` name of the JSON form and of the `protocol` metric label (`openai_chat`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenaiChat => "openai_chat",
            Self::OpenaiResponses => "openai_responses",
            Self::AnthropicMessages => "anthropic_messages",
            Self::Mcp => "mcp",
            Self::Sql => "sql",
            Self::Rest => "rest",
            Self::Appliance => "appliance",
        }
    }

    /// LLM protocols carry proposed tool calls in their responses.
    pub fn is_llm(self) -> bool {
        matches!(
            self,
            Self::OpenaiChat | Self::OpenaiResponses | Self::AnthropicMessages
        )
    }
}

/// Where the action was going on the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionTarget {
    /// Canonical host name (see [`crate::host`]) the request was sent to.
    pub host: String,
    /// TCP port of the upstream.
    pub port: u16,
    /// HTTP method of the request as the client sent it (`CONNECT` for a connection).
    pub method: String,
    /// Path without the query string.
    pub path: String,
}

/// Who is acting (AARM R6), bound when the action is submitted and kept across STEP_UP and
/// DEFER. `evidence` says how each part was established; `unverified` lists what could not be
/// verified (an unknown agent, a bad or expired user token, a human named only by a header).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The human the agent acts for: a verified user token's subject, or a name an operator-named
    /// header gave (then `evidence.human` says it is unverified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub human: Option<String>,
    /// The upstream credential the request carries, as `host/` + its key id (an AWS key id, a JWT
    /// `kid` or `sub`, a Basic user, else a short sha256 fingerprint); never the secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The acting agent: its registry name, else what the connection showed (`cert:…`,
    /// `proxy-user:…`, `ip:…`, `unknown`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The session the action is attributed to (a [`crate::SessionId`]); set by the data plane.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The agent's role or scope from the registry; a verified user token's role replaces it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Who acts through whom, outermost first: the human (with the token's issuer or the header
    /// that named them), any RFC 8693 actors, then the agent. Empty when no human is named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delegation_chain: Vec<Value>,
    /// Part (`agent`, `human`, `service`) ⇒ how it was established (`mtls`, `credential`,
    /// `cidr`, `jwt`, `header`, `upstream_credential`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub evidence: std::collections::BTreeMap<String, String>,
    /// Why the identity is not (fully) verified; empty when it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unverified: Vec<String>,
    /// When the earliest credential behind the identity expires (RFC 3339 UTC); a held action
    /// is re-checked against it before it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Identity {
    /// True when `unverified` is empty: every part of the identity was established.
    pub fn is_verified(&self) -> bool {
        self.unverified.is_empty()
    }
}

/// Something about the action a policy should know because parsing could not vouch for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RiskSignal {
    /// Tool-call arguments were not valid JSON; `parameters.raw_arguments` holds them verbatim.
    ArgumentsNotJson {
        /// The JSON parser's message.
        error: String,
    },
    /// SQL did not parse in the endpoint's dialect; `parameters.sql` holds it verbatim.
    SqlUnparsed {
        /// The SQL parser's message (`no statement` when the text held none).
        error: String,
    },
    /// A request body, or a part of a multipart body, that is not text (nor JSON, nor a form):
    /// only its size and type are known.
    OpaqueBody {
        /// The declared `Content-Type` of the body or part; empty when none was given.
        content_type: String,
        /// Size of the body or part, bytes.
        bytes: usize,
    },
    /// The call went through a wrapper tool that was resolved to the real tool.
    MetaToolResolved {
        /// Name of the wrapper tool the agent called.
        wrapper: String,
    },
    /// A wrapper tool whose inner tool could not be determined.
    MetaToolUnresolved {
        /// Name of the wrapper tool the agent called.
        wrapper: String,
    },
    /// An item an LLM response asks the client to execute, of a type aarmor does not know how
    /// to read (a new Responses API item, a Chat Completions call type, an Anthropic block).
    /// The engine refuses such an action whatever the policy says: what cannot be inspected
    /// does not run.
    UninspectableCall {
        /// The item's type as the response gave it (`<untyped>` when it had none).
        item_type: String,
    },
    /// A request body aarmor cannot read the way its server may (JSON that does not parse
    /// strictly, an unknown `Content-Encoding`, a body past the inspection limit): refused
    /// whatever the policy says, and in monitor mode too.
    UninspectableBody {
        /// Why the body cannot be read, for the refusal and the receipt.
        reason: String,
    },
    /// The destination is one aarmor never connects to for an agent (its own listeners, a
    /// link-local or metadata address): refused whatever the policy says.
    ForbiddenDestination {
        /// The socket address (`ip:port`) aarmor refused to dial.
        address: String,
        /// Why it is forbidden (aarmor's own listener, link-local, metadata service).
        reason: String,
    },
    /// The request names a brokered credential it may not use here (another host, path,
    /// method class or tool than its bindings allow; an unknown name; two names): refused
    /// whatever the policy says.
    CredentialScopeViolation {
        /// The credential named (empty when none could be read).
        credential: String,
        /// Why this use is outside the credential's bindings.
        reason: String,
    },
    /// The secret of a bound credential cannot be had now (its source failed): refused.
    CredentialUnavailable {
        /// The credential named.
        credential: String,
        /// What failed (never the secret).
        reason: String,
    },
    /// A secret aarmor holds, or a token it minted, is leaving in the request (a header, the
    /// URL, the body): agents never hold either legitimately, so this is exfiltration or
    /// replay, refused whatever the policy says.
    CredentialLeak {
        /// What leaked: a credential's name, or `minted token`.
        credential: String,
        /// Where it was found (`header authorization`, `url`, `body`, `parameters`).
        location: String,
    },
}

impl RiskSignal {
    /// True for signals that make an action impossible to judge: it is refused.
    pub fn refuses(&self) -> bool {
        matches!(
            self,
            Self::UninspectableCall { .. }
                | Self::UninspectableBody { .. }
                | Self::ForbiddenDestination { .. }
                | Self::CredentialScopeViolation { .. }
                | Self::CredentialUnavailable { .. }
                | Self::CredentialLeak { .. }
        )
    }

    /// The rule a refusal for this signal is recorded under (for signals that refuse).
    pub fn refusal_rule(&self) -> Option<&'static str> {
        match self {
            Self::UninspectableCall { .. } | Self::UninspectableBody { .. } => {
                Some("aarmor.uninspectable")
            }
            Self::ForbiddenDestination { .. } => Some("aarmor.forbidden_destination"),
            Self::CredentialScopeViolation { .. } => Some("credentials.scope_violation"),
            Self::CredentialUnavailable { .. } => Some("credentials.unavailable"),
            Self::CredentialLeak { .. } => Some("secrets.credential_leak"),
            _ => None,
        }
    }

    /// Why an action with this signal cannot be judged (for signals that refuse).
    pub fn refusal_reason(&self) -> Option<String> {
        match self {
            Self::UninspectableCall { item_type } => Some(format!(
                "the response asks the client to run an item of type {item_type:?}, which aarmor cannot inspect"
            )),
            Self::UninspectableBody { reason } => Some(format!("the request cannot be inspected: {reason}")),
            Self::ForbiddenDestination { address, reason } => {
                Some(format!("aarmor does not connect to {address}: {reason}"))
            }
            Self::CredentialScopeViolation { credential, reason } => Some(format!(
                "credential {credential:?} may not be used for this action: {reason}"
            )),
            Self::CredentialUnavailable { credential, reason } => Some(format!(
                "credential {credential:?} is unavailable ({reason}); refused (fail closed)"
            )),
            Self::CredentialLeak { credential, location } => Some(format!(
                "the request carries {} in its {location}; agents never hold it, so it is not sent",
                if credential == MINTED_TOKEN { "a token aarmor minted".to_string() } else { format!("the secret of credential {credential:?}") }
            )),
            _ => None,
        }
    }
}

/// One action, in the AARM canonical form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// Fresh for every action ([`ActionId::fresh`]); receipts and outcomes refer to it.
    pub action_id: ActionId,
    /// RFC 3339 UTC with milliseconds (`2026-01-02T03:04:05.678Z`).
    pub timestamp: String,
    /// The protocol the action was read from.
    pub protocol: Protocol,
    /// Where the request carrying the action was going.
    pub target: ActionTarget,
    /// What is acted on: a function name, `server.tool` for MCP, the SQL endpoint, `host/path`.
    pub tool: String,
    /// What is done with it: `call`, `tools/call`, a SQL statement kind, a lower-case method.
    pub operation: String,
    /// Always a JSON object.
    pub parameters: Map<String, Value>,
    /// The rest of what the request said besides the parameters, for rules that scan everything
    /// that leaves (secrets, URLs): the members of an MCP message other than the call's
    /// arguments (id, `_meta`, extra members), what a wrapper tool carried besides the inner
    /// call, a REST request's headers other than credentials and standard ones. Empty, absent.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub envelope: Map<String, Value>,
    /// Who is acting, bound when the action was submitted.
    #[serde(default)]
    pub identity: Identity,
    /// Pointer into the session context log, once context is recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_ref: Option<String>,
    /// What parsing could not vouch for; a signal that [`RiskSignal::refuses`] refuses the action.
    #[serde(default)]
    pub risk_signals: Vec<RiskSignal>,
    /// The brokered credential aarmor attaches if the action is allowed (AARM R9), by name;
    /// absent when none is asked for or bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<crate::credential::CredentialUse>,
}

/// What [`RiskSignal::CredentialLeak`] names when the leak is a token aarmor minted.
pub const MINTED_TOKEN: &str = "minted token";

/// The operation of a request to an LLM API: the request itself, an action on its body.
pub const LLM_REQUEST_OPERATION: &str = "request";

impl Action {
    /// A request to an LLM API (the conversation sent to a model), rather than something the
    /// agent does with a tool: receipted like every action, but not one of the session's prior
    /// actions in its context.
    pub fn is_llm_request(&self) -> bool {
        self.protocol.is_llm() && self.operation == LLM_REQUEST_OPERATION
    }

    /// The resolved wrapper tool name, when the call arrived through a meta-tool.
    pub fn wrapper(&self) -> Option<&str> {
        self.risk_signals.iter().find_map(|s| match s {
            RiskSignal::MetaToolResolved { wrapper } => Some(wrapper.as_str()),
            _ => None,
        })
    }
}
