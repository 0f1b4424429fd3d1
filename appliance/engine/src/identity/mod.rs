//! Identity binding (AARM R6): who is acting, established when an action is submitted from the
//! connection (client certificate, proxy credential, source address), the user token or
//! operator-named headers, and the upstream credential. The registry lives in the policy
//! bundle (`identities.yaml`) and is swapped with it.

pub mod registry;
pub mod service;
pub mod user_token;

use std::path::Path;

use aarmor_core::{ConnectionFacts, Identity, RequestHead};
use serde::{Deserialize, Serialize};
use serde_json::json;

use registry::{AgentMatch, RegistryFile};
use user_token::TokenVerifier;

/// The file of the policy directory that holds the registry.
pub const REGISTRY_FILE: &str = "identities.yaml";

/// What happens to an action whose identity cannot be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnverifiedMode {
    /// Denied before policy runs (rule `identity.unverified`), with a receipt.
    #[default]
    Deny,
    /// Evaluated as usual; the receipt and `input.identity.unverified` say why it is flagged.
    Flag,
}

/// The `[identity]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct IdentitySettings {
    /// `deny` (default) or `flag` actions whose identity is not verified: an agent the registry
    /// does not know, a proxy credential or client certificate it does not recognise, a user
    /// token that does not verify or has expired.
    pub unverified: UnverifiedMode,
}

/// The compiled registry of one policy bundle.
pub struct Identities {
    registry: RegistryFile,
    tokens: Option<TokenVerifier>,
    /// Lower-cased names of the identity headers (user token, human headers).
    private_headers: std::sync::Arc<[String]>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities")
            .field("agents", &self.registry.agents.len())
            .field("user_token", &self.tokens.is_some())
            .finish()
    }
}

impl Identities {
    /// No registry: every agent is unknown (and denied unless `[identity] unverified = "flag"`).
    pub fn empty() -> Self {
        Self {
            registry: RegistryFile::default(),
            tokens: None,
            private_headers: std::sync::Arc::from(Vec::new()),
        }
    }

    /// Compiles `identities.yaml` (text) of the bundle in `dir`; the JWKS it names is read now.
    pub fn compile(dir: &Path, text: &str) -> Result<Self, String> {
        let registry = RegistryFile::parse(REGISTRY_FILE, text).map_err(|e| e.to_string())?;
        let tokens = match registry.token_source() {
            Some(source) => {
                let path = RegistryFile::resolve_path(dir, &source.jwks_file);
                let jwks = std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "{REGISTRY_FILE}: human.user_token.jwks_file {}: {e}",
                        path.display()
                    )
                })?;
                Some(TokenVerifier::new(source.clone(), &jwks).map_err(|e| {
                    format!(
                        "{REGISTRY_FILE}: human.user_token.jwks_file {}: {e}",
                        path.display()
                    )
                })?)
            }
            None => None,
        };
        let mut private: Vec<String> = registry
            .human
            .headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        if let Some(t) = &tokens {
            private.push(t.header().to_ascii_lowercase());
        }
        Ok(Self {
            registry,
            tokens,
            private_headers: private.into(),
        })
    }

    /// Registered agents.
    /// Whether a proxy credential is one a registered agent holds.
    pub fn knows_credential(&self, cred: &aarmor_core::ProxyCredential) -> bool {
        self.registry.knows_credential(cred)
    }

    pub fn agent_count(&self) -> usize {
        self.registry.agents.len()
    }

    /// Whether human principals come from a verified user token.
    pub fn verifies_user_tokens(&self) -> bool {
        self.tokens.is_some()
    }

    /// Headers that carry identity and must not reach the upstream (besides `x-aarm-*`).
    pub fn private_headers(&self) -> std::sync::Arc<[String]> {
        self.private_headers.clone()
    }

    /// Binds the identity of an exchange (`session` is left for the data plane).
    pub fn resolve(&self, facts: &ConnectionFacts, request: &RequestHead, now: i64) -> Identity {
        let mut id = Identity::default();
        let mut expires: Option<i64> = None;
        match self.registry.agent(facts) {
            AgentMatch::Found { entry, evidence } => {
                id.agent = Some(entry.name.clone());
                id.role = entry.role.clone();
                id.evidence.insert("agent".into(), evidence.into());
                if evidence == "mtls" {
                    expires = facts.client_cert.as_ref().map(|c| c.not_after);
                }
            }
            AgentMatch::Unrecognised { agent, reason } | AgentMatch::Unknown { agent, reason } => {
                id.agent = Some(agent);
                id.unverified.push(reason);
            }
        }
        let token = self.tokens.as_ref().and_then(|t| {
            request
                .headers
                .get_str(t.header())
                .map(|v| (t, v.trim().trim_start_matches("Bearer ").trim()))
        });
        match token {
            Some((verifier, token)) => match verifier.verify(token, now) {
                Ok(claims) => {
                    id.human = Some(claims.human.clone());
                    if claims.role.is_some() {
                        id.role = claims.role.clone();
                    }
                    id.evidence.insert("human".into(), "jwt".into());
                    expires = Some(expires.map_or(claims.expires, |e| e.min(claims.expires)));
                    let mut chain = vec![json!({"human": claims.human, "issuer": claims.issuer})];
                    chain.extend(claims.actors.iter().map(|a| json!({"actor": a})));
                    chain.push(json!({"agent": id.agent}));
                    id.delegation_chain = chain;
                }
                Err(reason) => id.unverified.push(reason),
            },
            None => {
                let named = self.registry.human.headers.iter().find_map(|h| {
                    request
                        .headers
                        .get_str(h)
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| (h, v.to_string()))
                });
                if let Some((header, human)) = named {
                    id.evidence
                        .insert("human".into(), "unverified_header".into());
                    id.delegation_chain = vec![
                        json!({"human": human, "header": header.to_ascii_lowercase()}),
                        json!({"agent": id.agent}),
                    ];
                    id.human = Some(human);
                }
            }
        }
        if let Some(service) = service::service_identity(request) {
            id.service = Some(service);
            id.evidence
                .insert("service".into(), "upstream_credential".into());
        }
        id.expires = expires
            .and_then(|e| time::OffsetDateTime::from_unix_timestamp(e).ok())
            .map(aarmor_core::timestamp::rfc3339_millis);
        id
    }
}

/// sha256 of `data`, lower-case hex: how tokens and credentials are stored in configuration.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Whether a bound identity has expired at `now` (a held action is re-checked before it runs).
/// Both are [`aarmor_core::timestamp`] strings, which order as the times they name.
pub fn expired(identity: &Identity, now: &str) -> bool {
    identity.expires.as_deref().is_some_and(|e| e <= now)
}
