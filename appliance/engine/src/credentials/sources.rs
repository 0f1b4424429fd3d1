//! Where secrets come from: files (mode 0600, re-read when they change), environment variables,
//! and OAuth2 client-credentials token endpoints; [`SecretSource`] is the interface an external
//! vault plugs into. Secrets live in memory only, in [`Secret`], whose `Debug` never shows them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;

use super::config::{check_private, OAuth2Spec};

/// A secret value; shown as `<secret>` in logs and debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(crate) Arc<str>);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// A secret and how long it may be used.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub secret: Secret,
    /// When to fetch again; `None` for a secret that changes only with its source.
    pub refresh_at: Option<Instant>,
}

/// Why a secret cannot be had; never contains the secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// An external store of secrets (a vault): what aarmor asks when it needs one. Implementations
/// must not log secrets and should answer within a second; aarmor caches what they return
/// until `refresh_at` and refuses the action (fail closed) when they fail.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The current secret.
    async fn fetch(&self) -> Result<Fetched, SourceError>;
}

/// Shortest secret aarmor brokers: shorter ones would also be found by chance in traffic when
/// it looks for leaks.
pub const MIN_SECRET_LEN: usize = 8;

fn checked(value: String, what: &str) -> Result<Secret, SourceError> {
    let value = value.trim_end_matches(['\r', '\n']).to_string();
    if value.len() < MIN_SECRET_LEN {
        return Err(SourceError(format!(
            "{what} holds fewer than {MIN_SECRET_LEN} bytes"
        )));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(SourceError(format!(
            "{what} holds a line break or NUL, which no header value may carry"
        )));
    }
    Ok(Secret(Arc::from(value)))
}

/// Reads a secret file: it must be private to its owner (mode 0600 or stricter).
pub fn read_secret_file(path: &Path) -> Result<Secret, SourceError> {
    check_private(path).map_err(SourceError)?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| SourceError(format!("{}: {e}", path.display())))?;
    checked(text, &path.display().to_string())
}

/// Reads a secret from the environment.
pub fn read_secret_env(var: &str) -> Result<Secret, SourceError> {
    let value = std::env::var(var)
        .map_err(|_| SourceError(format!("environment variable {var} is not set")))?;
    checked(value, &format!("environment variable {var}"))
}

/// How long a secret read from a file is used before the file is read again (a replaced file
/// is picked up within this).
pub const FILE_RECHECK: Duration = Duration::from_secs(1);

/// The client secret an OAuth2 credential authenticates with, from its file or variable.
pub fn read_client_secret(spec: &OAuth2Spec) -> Result<Secret, SourceError> {
    match (&spec.client_secret_file, &spec.client_secret_env) {
        (Some(f), _) => read_secret_file(f),
        (None, Some(v)) => read_secret_env(v),
        (None, None) => Err(SourceError("no client secret configured".into())),
    }
}

/// A secret file, read again on use once the copy held is [`FILE_RECHECK`] old.
pub struct FileSource {
    pub path: PathBuf,
}

#[async_trait]
impl SecretSource for FileSource {
    async fn fetch(&self) -> Result<Fetched, SourceError> {
        Ok(Fetched {
            secret: read_secret_file(&self.path)?,
            refresh_at: Some(Instant::now() + FILE_RECHECK),
        })
    }
}

/// An OAuth2 client-credentials grant (RFC 6749, 4.4): aarmor authenticates as the client
/// (HTTP Basic, RFC 6749 2.3.1) and uses the access token until shortly before it expires.
pub struct OAuth2Source {
    pub spec: OAuth2Spec,
    tls: Option<Arc<rustls::ClientConfig>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Seconds before its expiry a token is fetched again.
const EARLY_REFRESH_S: u64 = 30;

impl OAuth2Source {
    pub fn new(spec: OAuth2Spec) -> Result<Self, SourceError> {
        let url: http::Uri = spec
            .token_url
            .parse()
            .map_err(|e| SourceError(format!("token_url: {e}")))?;
        let tls = match url.scheme_str() {
            Some("https") => Some(
                crate::tls::client_config(spec.ca_file.as_deref())
                    .map_err(|e| SourceError(e.to_string()))?,
            ),
            _ => None,
        };
        Ok(Self { spec, tls })
    }
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, percent_encoding::NON_ALPHANUMERIC),
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[async_trait]
impl SecretSource for OAuth2Source {
    async fn fetch(&self) -> Result<Fetched, SourceError> {
        use base64::Engine as _;
        let url: http::Uri = self
            .spec
            .token_url
            .parse()
            .map_err(|e| SourceError(format!("token_url: {e}")))?;
        let client_secret = read_client_secret(&self.spec)?;
        // RFC 6749 2.3.1: the client id and secret are form-encoded, then joined for Basic.
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            enc(&self.spec.client_id),
            enc(client_secret.expose())
        ));
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &self.spec.scope {
            form.push(("scope", scope));
        }
        let body = form_encode(&form);
        let headers = [
            ("authorization", format!("Basic {basic}")),
            (
                "content-type",
                "application/x-www-form-urlencoded".to_string(),
            ),
            ("accept", "application/json".to_string()),
        ];
        let sent = tokio::time::timeout(
            Duration::from_secs(5),
            crate::http_client::send_for_body(
                &url,
                self.tls.as_ref(),
                "POST",
                &headers,
                body.as_bytes(),
            ),
        )
        .await
        .map_err(|_| SourceError(format!("token endpoint {url} did not answer in 5 s")))?
        .map_err(|e| SourceError(format!("token endpoint {url}: {e}")))?;
        let (status, body) = sent;
        if status != 200 {
            // The body of an error names the OAuth2 error; it holds no token.
            let error = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or_default();
            return Err(SourceError(format!(
                "token endpoint {url} answered {status} {error}"
            )));
        }
        let token: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| SourceError(format!("token endpoint {url}: not a token response: {e}")))?;
        if let Some(t) = &token.token_type {
            if !t.eq_ignore_ascii_case("bearer") {
                return Err(SourceError(format!(
                    "token endpoint {url} issued a {t} token; only bearer tokens are attached"
                )));
            }
        }
        let secret = checked(token.access_token, "the access token")?;
        let lifetime = token.expires_in.unwrap_or(300);
        let refresh = lifetime
            .saturating_sub(EARLY_REFRESH_S)
            .max(lifetime / 2)
            .max(1);
        Ok(Fetched {
            secret,
            refresh_at: Some(Instant::now() + Duration::from_secs(refresh)),
        })
    }
}
