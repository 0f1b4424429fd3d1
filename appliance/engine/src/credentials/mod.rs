//! The credential broker (AARM R9): agents never hold upstream credentials. A request names one
//! with a placeholder (or a binding attaches one by itself); the broker checks the use against
//! the credential's bindings and scope before policy runs (a use outside them is refused,
//! `credentials.scope_violation`), and once the action is allowed, hands the data plane the
//! real secret — or a token minted for that action alone — to set in the request.
//!
//! Invariants:
//! - A secret is only ever returned by [`CredentialBroker::attach`], which the data plane calls
//!   after an ALLOW (or MODIFY); receipts, policy input, logs and SIEM events name credentials
//!   by name, scope and binding.
//! - Every secret the broker holds, in its common encodings, and every token it minted, is
//!   looked for in what leaves ([`CredentialBroker::leak`]): an agent presenting one is
//!   refused (`secrets.credential_leak`).
//! - A secret that cannot be had refuses the action (`credentials.unavailable`), before policy.

pub mod config;
mod leaks;
pub mod mint;
pub mod sources;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use aarmor_core::canonical::{canonical_value, sha256_tagged};
use aarmor_core::credential::{AskError, Attachment, CredentialAsk, Presented, SentRequest};
use aarmor_core::{Action, CredentialUse, RiskSignal};
use serde_json::Value;

use config::{Credential, Source};
pub use config::{CredentialConfig, CREDENTIALS_FILE};
use leaks::LeakMatcher;
use mint::{MintedClaims, Minter};
use sources::{
    read_client_secret, read_secret_env, read_secret_file, FileSource, OAuth2Source, Secret,
    SecretSource, SourceError,
};

/// A secret as last fetched, and from which source.
struct Cached {
    /// The source it came from (`file:/path`, `oauth2:url client`), so a changed
    /// configuration is not served an old secret.
    origin: String,
    secret: Secret,
    refresh_at: Option<Instant>,
    /// Secrets this credential had before (rotated files, refreshed tokens), newest first: an
    /// upstream may still accept them, so they are still looked for.
    previous: Vec<Secret>,
}

/// Earlier secrets of one credential still looked for in what leaves.
const PREVIOUS_KEPT: usize = 4;

/// The broker: the secrets' cache, the leak matcher, the minting key.
#[derive(Default)]
pub struct CredentialBroker {
    minter: Option<Arc<Minter>>,
    /// Whether tokens may be out there (a bundle mints, or a token was minted): from then on
    /// the markers of minted tokens are looked for.
    minted: AtomicBool,
    /// What every token this broker mints begins with, whatever its claims: its header segment,
    /// and for each minted credential the first claims as JSON (`{"iss":…,"aud":…,"sub":"`).
    /// Looked for like secrets (in every form), so a minted token is found encoded or taken
    /// apart.
    mint_markers: RwLock<Vec<String>>,
    cache: Mutex<HashMap<String, Cached>>,
    /// Bumped whenever a cached secret changes: the leak matcher is rebuilt.
    version: AtomicU64,
    leaks: RwLock<Option<Arc<LeakMatcher>>>,
    /// One OAuth2 client per credential and endpoint (its TLS configuration built once).
    oauth: Mutex<HashMap<String, Arc<OAuth2Source>>>,
}

impl std::fmt::Debug for CredentialBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialBroker")
            .field("minter", &self.minter)
            .finish_non_exhaustive()
    }
}

fn origin_of(source: &Source) -> String {
    match source {
        Source::File(p) => format!("file:{}", p.display()),
        Source::Env(v) => format!("env:{v}"),
        Source::OAuth2(o) => format!("oauth2:{} {}", o.token_url, o.client_id),
        Source::Mint(_) => "mint".into(),
    }
}

fn violation(credential: &str, reason: String) -> RiskSignal {
    RiskSignal::CredentialScopeViolation {
        credential: credential.to_string(),
        reason,
    }
}

impl CredentialBroker {
    /// A broker that mints tokens with `minter`.
    pub fn with_minter(minter: Minter) -> Self {
        Self {
            minter: Some(Arc::new(minter)),
            ..Self::default()
        }
    }

    /// The minting key, when there is one.
    pub fn minter(&self) -> Option<&Minter> {
        self.minter.as_deref()
    }

    /// Binds the credential a request asks for — or, when it asks for none, the one a binding
    /// attaches by itself — to `action`. A use outside the credential's bindings and scope, or a
    /// secret that cannot be had, adds the signal that refuses the action.
    pub async fn bind(
        &self,
        config: &CredentialConfig,
        action: &mut Action,
        ask: Result<Option<CredentialAsk>, AskError>,
        scheme: &str,
    ) {
        let (credential, binding, presented) = match ask {
            Err(e) => {
                action.risk_signals.push(violation("", e.to_string()));
                return;
            }
            Ok(Some(ask)) => {
                let Some(credential) = config.credentials.get(&ask.name) else {
                    action.risk_signals.push(violation(
                        &ask.name,
                        "no credential of that name is configured (credentials.yaml)".into(),
                    ));
                    return;
                };
                match credential.binding_for(action, scheme) {
                    Ok(b) => (credential, b, Presented::Placeholder),
                    Err(why) => {
                        action.risk_signals.push(violation(&ask.name, why));
                        return;
                    }
                }
            }
            Ok(None) => match config.bound_to(action, scheme) {
                Some((c, b)) => (c, b, Presented::Bound),
                None => return,
            },
        };
        action.credential = Some(CredentialUse {
            name: credential.name.clone(),
            scope: credential.scope.as_str().into(),
            binding: binding.label.clone(),
            source: credential.source.kind().into(),
            presented,
            access: if config::is_read(action) {
                "read"
            } else {
                "write"
            }
            .into(),
        });
        if let Source::Mint(_) = credential.source {
            if self.minter.is_none() {
                action.risk_signals.push(RiskSignal::CredentialUnavailable {
                    credential: credential.name.clone(),
                    reason: "no minting key is loaded".into(),
                });
            }
            return;
        }
        if let Err(e) = self.secret(credential).await {
            tracing::warn!(credential = %credential.name, error = %e, "brokered credential unavailable; refusing");
            action.risk_signals.push(RiskSignal::CredentialUnavailable {
                credential: credential.name.clone(),
                reason: e.to_string(),
            });
        }
    }

    /// The current secret of a credential that has one (not minted), from the cache while it is
    /// fresh.
    async fn secret(&self, credential: &Credential) -> Result<Secret, SourceError> {
        let origin = origin_of(&credential.source);
        if let Ok(cache) = self.cache.lock() {
            if let Some(c) = cache.get(&credential.name) {
                let fresh = c.refresh_at.is_none_or(|at| Instant::now() < at);
                if c.origin == origin && fresh {
                    return Ok(c.secret.clone());
                }
            }
        }
        let fetched = match &credential.source {
            Source::File(path) => FileSource { path: path.clone() }.fetch().await?,
            Source::Env(var) => sources::Fetched {
                secret: read_secret_env(var)?,
                refresh_at: None,
            },
            Source::OAuth2(spec) => {
                let client = self.oauth_client(&credential.name, &origin, spec)?;
                client.fetch().await?
            }
            Source::Mint(_) => return Err(SourceError("a minted credential has no secret".into())),
        };
        self.store(
            &credential.name,
            origin,
            fetched.secret.clone(),
            fetched.refresh_at,
        );
        Ok(fetched.secret)
    }

    fn oauth_client(
        &self,
        name: &str,
        origin: &str,
        spec: &config::OAuth2Spec,
    ) -> Result<Arc<OAuth2Source>, SourceError> {
        let key = format!("{name} {origin}");
        let mut clients = self
            .oauth
            .lock()
            .map_err(|_| SourceError("oauth2 clients unavailable".into()))?;
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let client = Arc::new(OAuth2Source::new(spec.clone())?);
        clients.insert(key, client.clone());
        Ok(client)
    }

    fn store(&self, name: &str, origin: String, secret: Secret, refresh_at: Option<Instant>) {
        if let Ok(mut cache) = self.cache.lock() {
            let earlier = cache.remove(name);
            let changed = earlier
                .as_ref()
                .is_none_or(|c| c.secret != secret || c.origin != origin);
            let previous = match earlier {
                Some(mut c) if c.secret != secret => {
                    c.previous.insert(0, c.secret);
                    c.previous.truncate(PREVIOUS_KEPT);
                    c.previous
                }
                Some(c) => c.previous,
                None => Vec::new(),
            };
            cache.insert(
                name.to_string(),
                Cached {
                    origin,
                    secret,
                    refresh_at,
                    previous,
                },
            );
            if changed {
                self.version.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Reads every file and environment secret of `config` now: a bundle whose secrets cannot
    /// be read is refused, and every secret is known to the leak matcher from the start.
    pub fn preload(&self, config: &CredentialConfig) -> Result<(), String> {
        if config.mints() && self.minter.is_some() {
            // Tokens minted before a restart may still be presented.
            self.set_mint_markers(config);
        }
        for c in config.credentials.values() {
            let secret = match &c.source {
                Source::File(p) => read_secret_file(p),
                Source::Env(v) => read_secret_env(v),
                Source::OAuth2(o) => {
                    // The client secret must be readable, and is looked for in what leaves like
                    // the tokens it buys; the token is fetched on first use.
                    let client = read_client_secret(o)
                        .map_err(|e| format!("credential {:?}: {e}", c.name))?;
                    self.store(
                        &format!("{} client secret", c.name),
                        origin_of(&c.source),
                        client,
                        None,
                    );
                    continue;
                }
                Source::Mint(_) => {
                    if self.minter.is_none() {
                        return Err(format!(
                            "credential {:?}: minted, but no minting key is loaded",
                            c.name
                        ));
                    }
                    continue;
                }
            }
            .map_err(|e| format!("credential {:?}: {e}", c.name))?;
            let refresh =
                matches!(c.source, Source::File(_)).then(|| Instant::now() + sources::FILE_RECHECK);
            self.store(&c.name, origin_of(&c.source), secret, refresh);
        }
        Ok(())
    }

    /// Whether each credential's secret can be had now, without keeping it (`aarmor doctor`):
    /// files and variables are read, OAuth2 endpoints asked for a token (unless `offline`: then
    /// only the client secret is read), minted credentials say where their key is.
    /// `(name, Ok(what) | Err(why))`.
    pub async fn check_sources(
        config: &CredentialConfig,
        mint_key: &std::path::Path,
        offline: bool,
    ) -> Vec<(String, Result<String, String>)> {
        let mut out = Vec::new();
        for c in config.credentials.values() {
            let result = match &c.source {
                Source::File(p) => read_secret_file(p).map(|_| format!("file {}", p.display())),
                Source::Env(v) => read_secret_env(v).map(|_| format!("environment variable {v}")),
                Source::OAuth2(o) if offline => read_client_secret(o).map(|_| {
                    format!(
                        "client secret readable; token endpoint {} not asked (offline)",
                        o.token_url
                    )
                }),
                Source::OAuth2(o) => match OAuth2Source::new(o.clone()) {
                    Ok(client) => client
                        .fetch()
                        .await
                        .map(|_| format!("token endpoint {} issued a token", o.token_url)),
                    Err(e) => Err(e),
                },
                Source::Mint(m) => Ok(if mint_key.exists() {
                    format!("minted for {} with {}", m.audience, mint_key.display())
                } else {
                    format!(
                        "minted for {}; the key {} is created on first start",
                        m.audience,
                        mint_key.display()
                    )
                }),
            };
            out.push((c.name.clone(), result.map_err(|e| e.to_string())));
        }
        out
    }

    /// The header to set on an allowed action's request: the credential's secret, or a token
    /// minted for this action (`receipt_id` is the decision that allowed it).
    pub async fn attach(
        &self,
        config: &CredentialConfig,
        action: &Action,
        receipt_id: &str,
        sent: SentRequest<'_>,
    ) -> Result<Attachment, String> {
        let used = action
            .credential
            .as_ref()
            .ok_or("the action uses no brokered credential")?;
        let credential = config
            .credentials
            .get(&used.name)
            .ok_or_else(|| format!("credential {:?} is no longer configured", used.name))?;
        let secret = match &credential.source {
            Source::Mint(spec) => {
                let minter = self.minter.as_ref().ok_or("no minting key is loaded")?;
                let claims = self.claims(config, spec, action, receipt_id, sent, &used.scope)?;
                if !self.minted.load(Ordering::Relaxed) {
                    self.set_mint_markers(config);
                }
                minter.mint(&claims)?
            }
            _ => self
                .secret(credential)
                .await
                .map_err(|e| e.to_string())?
                .expose()
                .to_string(),
        };
        let value = credential.header_value(&secret);
        Ok(Attachment {
            header: credential.header.clone(),
            value,
        })
    }

    fn claims(
        &self,
        config: &CredentialConfig,
        spec: &config::MintSpec,
        action: &Action,
        receipt_id: &str,
        sent: SentRequest<'_>,
        scope: &str,
    ) -> Result<MintedClaims, String> {
        use sha2::Digest as _;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let agent = action.identity.agent.clone().unwrap_or_default();
        let params = canonical_value(&Value::Object(action.parameters.clone()))
            .map_err(|e| e.to_string())?;
        Ok(MintedClaims {
            iss: config.issuer.clone(),
            aud: spec.audience.clone(),
            sub: agent.clone(),
            iat: now,
            nbf: now,
            exp: now + spec.ttl_s as i64,
            jti: action.action_id.0.clone(),
            agent,
            session: action.identity.session.clone().unwrap_or_default(),
            tool: action.tool.clone(),
            operation: action.operation.clone(),
            method: action.target.method.clone(),
            host: action.target.host.clone(),
            path: sent.path.to_string(),
            params_hash: sha256_tagged(&params),
            body_sha256: format!("sha256:{}", hex::encode(sha2::Sha256::digest(sent.body))),
            receipt_id: receipt_id.to_string(),
            credential: action
                .credential
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            scope: scope.to_string(),
        })
    }

    /// Whether the broker holds any secret or may have minted tokens out there.
    pub fn holds_secrets(&self) -> bool {
        self.version.load(Ordering::Relaxed) > 0 || self.minted.load(Ordering::Relaxed)
    }

    /// The credential whose secret (in a common encoding) `bytes` carries, or
    /// [`aarmor_core::action::MINTED_TOKEN`] for a token this broker minted (whole, encoded, or
    /// its parts).
    /// A whole minted token is found by its header segment, one of the mint markers the
    /// matcher holds from the moment tokens may exist (`set_mint_markers`).
    pub fn leak(&self, bytes: &[u8]) -> Option<String> {
        self.matcher()?.find(bytes)
    }

    /// What a minted token begins with, for `config`'s minted credentials: looked for from now
    /// on (the matcher is rebuilt).
    fn set_mint_markers(&self, config: &CredentialConfig) {
        let Some(minter) = &self.minter else {
            return;
        };
        let mut markers: Vec<String> = minter.header_segment().into_iter().collect();
        for c in config.credentials.values() {
            if let Source::Mint(m) = &c.source {
                // `{"iss":"…","aud":"…","sub":"` as the claims are serialized (in
                // `MintedClaims`' field order).
                let text = |v: &str| serde_json::to_string(v).unwrap_or_default();
                markers.push(format!(
                    "{{\"iss\":{},\"aud\":{},\"sub\":\"",
                    text(&config.issuer),
                    text(&m.audience)
                ));
            }
        }
        if let Ok(mut current) = self.mint_markers.write() {
            *current = markers;
        }
        self.minted.store(true, Ordering::Relaxed);
        self.version.fetch_add(1, Ordering::Relaxed);
    }

    /// Every form of every secret the broker holds, and the markers of its minted tokens: what
    /// the responses of hosts a credential is bound to are scrubbed of.
    pub fn response_scrub(&self) -> Option<Arc<aarmor_mediation::ScrubSet>> {
        self.matcher()?.scrub_set()
    }

    /// Replaces every secret the broker holds, in every string of `value`, by a mention of it
    /// (what is recorded of a response or tool output).
    pub fn redact_value(&self, value: &mut Value) {
        let Some(matcher) = self.matcher() else {
            return;
        };
        redact_strings(value, &|text: &str| matcher.redact(text));
    }

    /// `action` with every secret and minted token in it replaced by a mention of it: what is
    /// receipted, recorded and evaluated for an action that tried to send one.
    pub fn redacted(&self, action: &Action) -> Action {
        let Ok(mut value) = serde_json::to_value(action) else {
            return action.clone();
        };
        let matcher = self.matcher();
        redact_strings(&mut value, &|text: &str| {
            // Whole tokens first (a token's parts are also markers the matcher knows).
            let mut whole: Option<String> = None;
            if let Some(minter) = &self.minter {
                let tokens: Vec<String> = mint::jwts_in(text.as_bytes(), minter.kid())
                    .filter(|t| minter.signed(t))
                    .map(str::to_string)
                    .collect();
                for t in tokens {
                    let current = whole.take().unwrap_or_else(|| text.to_string());
                    whole = Some(current.replace(&t, "[token aarmor minted]"));
                }
            }
            let current = whole.as_deref().unwrap_or(text);
            matcher
                .as_ref()
                .and_then(|m| m.redact(current))
                .or(whole.clone())
        });
        serde_json::from_value(value).unwrap_or_else(|_| action.clone())
    }

    /// The leak matcher for the secrets known now (rebuilt when one changed).
    fn matcher(&self) -> Option<Arc<LeakMatcher>> {
        let version = self.version.load(Ordering::Relaxed);
        if version == 0 {
            return None;
        }
        if let Ok(current) = self.leaks.read() {
            if let Some(m) = current.as_ref().filter(|m| m.version == version) {
                return Some(m.clone());
            }
        }
        let secrets: Vec<(String, String)> = self
            .cache
            .lock()
            .ok()?
            .iter()
            .flat_map(|(name, c)| {
                std::iter::once(&c.secret)
                    .chain(c.previous.iter())
                    .map(move |s| (name.clone(), s.expose().to_string()))
            })
            .chain(
                self.mint_markers
                    .read()
                    .ok()?
                    .iter()
                    .map(|m| (aarmor_core::action::MINTED_TOKEN.to_string(), m.clone())),
            )
            .collect();
        let built = Arc::new(LeakMatcher::build(version, &secrets));
        if let Ok(mut current) = self.leaks.write() {
            *current = Some(built.clone());
        }
        Some(built)
    }
}

/// Rewrites every string (keys included) `redact` has a replacement for.
fn redact_strings(value: &mut Value, redact: &dyn Fn(&str) -> Option<String>) {
    match value {
        Value::String(s) => {
            if let Some(r) = redact(s) {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_strings(v, redact)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut v) in entries {
                redact_strings(&mut v, redact);
                map.insert(redact(&k).unwrap_or(k), v);
            }
        }
        _ => {}
    }
}
