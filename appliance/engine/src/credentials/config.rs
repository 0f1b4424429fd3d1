//! `credentials.yaml`: the brokered credentials, where each one's secret comes from, the scope
//! it may be used for, and the upstreams (host, path pattern, tool, operation) it is bound to.
//! Compiled with the policy bundle: a bad file rejects the bundle, with the file and credential
//! named.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aarmor_core::credential::valid_name;
use aarmor_core::host::matches_pattern;
use aarmor_core::{Action, Protocol};
use serde::Deserialize;

/// The file's name in the policy directory.
pub const CREDENTIALS_FILE: &str = "credentials.yaml";

/// Longest a minted token may live: AARM R9 credentials are just-in-time.
pub const MAX_MINT_TTL_S: u64 = 60;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    credentials: BTreeMap<String, CredentialSpec>,
    #[serde(default)]
    minting: Option<MintingSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialSpec {
    source: SourceSpec,
    scope: Scope,
    #[serde(default)]
    inject: Option<InjectSpec>,
    #[serde(default)]
    attach: Attach,
    bindings: Vec<BindingSpec>,
}

/// Exactly one of its members: where the secret comes from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceSpec {
    /// A file holding the secret (mode 0600 or stricter); relative to the policy directory.
    #[serde(default)]
    file: Option<PathBuf>,
    /// An environment variable of the aarmor process.
    #[serde(default)]
    env: Option<String>,
    /// An OAuth2 client-credentials grant (RFC 6749, 4.4): the access token is the secret.
    #[serde(default)]
    oauth2: Option<OAuth2Spec>,
    /// A token aarmor signs for each allowed action.
    #[serde(default)]
    mint: Option<MintSpec>,
}

/// An OAuth2 token endpoint and the client aarmor authenticates as.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Spec {
    /// `https://` (or `http://` on loopback) URL of the token endpoint.
    pub token_url: String,
    pub client_id: String,
    /// File holding the client secret (mode 0600 or stricter).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Environment variable holding the client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// The `scope` parameter of the grant, when the endpoint wants one.
    #[serde(default)]
    pub scope: Option<String>,
    /// PEM file of CAs to trust for the token endpoint instead of the web's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// What a minted token says besides the action.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintSpec {
    /// The token's `aud`: the service that verifies it.
    pub audience: String,
    /// Seconds the token is valid, at most [`MAX_MINT_TTL_S`].
    #[serde(default = "default_ttl")]
    pub ttl_s: u64,
}

fn default_ttl() -> u64 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MintingSpec {
    #[serde(default)]
    issuer: Option<String>,
}

/// The operation class a credential may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Reads only: `GET`, `HEAD`, `OPTIONS` without a body or a method override; read-only SQL
    /// statements on a declared SQL endpoint (see [`is_read`]).
    Read,
    /// Any operation the bindings allow.
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

/// When the credential is attached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attach {
    /// Only when the agent names it with a placeholder.
    #[default]
    Placeholder,
    /// Also when the agent sends nothing and a binding matches.
    Always,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectSpec {
    #[serde(default = "default_header")]
    header: String,
    #[serde(default = "default_format")]
    format: String,
}

fn default_header() -> String {
    "authorization".into()
}

fn default_format() -> String {
    "Bearer {secret}".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingSpec {
    host: String,
    #[serde(default)]
    port: Option<u16>,
    /// Attach over plain HTTP too (a loopback or internal service); HTTPS only by default.
    #[serde(default)]
    allow_plain_http: bool,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    tools: Vec<String>,
    #[serde(default)]
    operations: Vec<String>,
}

/// Where a credential's secret comes from.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Env(String),
    OAuth2(OAuth2Spec),
    Mint(MintSpec),
}

impl Source {
    /// The source's kind, as receipts name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            Self::Env(_) => "env",
            Self::OAuth2(_) => "oauth2",
            Self::Mint(_) => "minted",
        }
    }
}

/// One upstream a credential is bound to.
#[derive(Debug)]
pub struct Binding {
    /// `host` + first path pattern, for receipts.
    pub label: String,
    host: String,
    port: Option<u16>,
    allow_plain_http: bool,
    paths: Option<globset::GlobSet>,
    path_text: Vec<String>,
    methods: Vec<String>,
    tools: Option<globset::GlobSet>,
    operations: Vec<String>,
}

/// One brokered credential.
#[derive(Debug)]
pub struct Credential {
    pub name: String,
    pub source: Source,
    pub scope: Scope,
    pub attach: Attach,
    /// Header the secret is set in, lower-case.
    pub header: String,
    /// The header's value, `{secret}` replaced by the secret.
    pub format: String,
    pub bindings: Vec<Binding>,
}

/// Every brokered credential of a bundle.
#[derive(Debug, Default)]
pub struct CredentialConfig {
    pub credentials: BTreeMap<String, Credential>,
    /// The `iss` of minted tokens.
    pub issuer: String,
}

fn glob_set(patterns: &[String], what: &str) -> Result<Option<globset::GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut set = globset::GlobSetBuilder::new();
    for p in patterns {
        let glob = globset::GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("{what} {p:?}: {e}"))?;
        set.add(glob);
    }
    set.build().map(Some).map_err(|e| format!("{what}: {e}"))
}

/// Methods that only read (RFC 9110 safe methods, besides TRACE, which aarmor never lets a
/// credential ride on).
const READ_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];

/// SQL statement kinds that only read (on an endpoint the operator declared for SQL).
const READ_STATEMENTS: &[&str] = &["select", "show", "explain", "describe", "values"];

/// Headers and query parameters servers honour to run a request as another method.
const METHOD_OVERRIDES: &[&str] = &[
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Whether `action` is a read, as scope `read` understands it: a safe HTTP method (whatever the
/// body looks like: a JSON-RPC-shaped body does not make a `DELETE` a read), no method override,
/// no protocol switch; on a declared SQL endpoint, a read-only statement.
pub fn is_read(action: &Action) -> bool {
    let method = action.target.method.to_ascii_uppercase();
    if action.operation == "upgrade" || overrides_method(action) || carries_body(action) {
        return false;
    }
    match action.protocol {
        Protocol::Sql => READ_STATEMENTS.contains(&action.operation.as_str()),
        _ => READ_METHODS.contains(&method.as_str()),
    }
}

/// Whether a request that is not SQL carries a body (a `GET` with one: some servers act on it).
fn carries_body(action: &Action) -> bool {
    action.protocol != Protocol::Sql
        && action
            .parameters
            .get("body")
            .is_some_and(|b| !b.is_null() && b.as_str() != Some(""))
}

/// Whether the request asks the server to run it as another method (`X-HTTP-Method-Override`,
/// `_method=`).
fn overrides_method(action: &Action) -> bool {
    let headers = action.envelope.get("headers").and_then(|h| h.as_object());
    let in_headers =
        headers.is_some_and(|h| h.keys().any(|k| METHOD_OVERRIDES.contains(&k.as_str())));
    let in_query = action
        .parameters
        .get("query")
        .and_then(|q| q.as_object())
        .is_some_and(|q| q.keys().any(|k| k.eq_ignore_ascii_case("_method")));
    in_headers || in_query
}

/// Why a path could be routed by a server to another place than the glob saw: encoded
/// separators, backslashes, double encoding, `;` parameters (`..;/`).
fn ambiguous_path(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || path.contains('\\') {
        return Some("an encoded or backslash path separator");
    }
    if lower.contains("%25") {
        return Some("a double-encoded character");
    }
    if path.contains(';') {
        return Some("a `;` path parameter");
    }
    None
}

impl Binding {
    /// Why `action` (sent over `scheme`) is outside this binding; `None` when it is inside.
    pub fn mismatch(&self, action: &Action, scheme: &str) -> Option<String> {
        let t = &action.target;
        if !matches_pattern(&self.host, &t.host) {
            return Some(format!("it is bound to host {}, not {}", self.host, t.host));
        }
        if scheme != "https" && !self.allow_plain_http {
            return Some(format!(
                "it is attached over HTTPS only, and this request is {scheme} (allow_plain_http)"
            ));
        }
        if let Some(why) = ambiguous_path(&t.path) {
            return Some(format!(
                "the path {} has {why}, which servers may route elsewhere",
                t.path
            ));
        }
        if let Some(port) = self.port {
            if port != t.port {
                return Some(format!("it is bound to port {port}, not {}", t.port));
            }
        }
        if let Some(paths) = &self.paths {
            if !paths.is_match(&t.path) {
                return Some(format!(
                    "it is bound to paths {}, not {}",
                    self.path_text.join(", "),
                    t.path
                ));
            }
        }
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m == &t.method) {
            return Some(format!(
                "it is bound to methods {}, not {}",
                self.methods.join(", "),
                t.method
            ));
        }
        if let Some(tools) = &self.tools {
            if !tools.is_match(&action.tool) {
                return Some(format!("it is not bound to tool {}", action.tool));
            }
        }
        if !self.operations.is_empty() && !self.operations.contains(&action.operation) {
            return Some(format!(
                "it is bound to operations {}, not {}",
                self.operations.join(", "),
                action.operation
            ));
        }
        None
    }
}

impl Credential {
    /// The binding `action` (sent over `scheme`) may use this credential under, or why there
    /// is none.
    pub fn binding_for(&self, action: &Action, scheme: &str) -> Result<&Binding, String> {
        let protocol = action.parameters.get("protocol").and_then(|p| p.as_str());
        if action.operation == "upgrade" && protocol != Some("websocket") {
            // Its response is relayed, not read: nothing would scrub the secret from it.
            return Err(format!(
                "credentials ride only on WebSocket upgrades, whose messages aarmor reads, not on {}",
                protocol.unwrap_or("this protocol switch")
            ));
        }
        if self.scope == Scope::Read && !is_read(action) {
            let what = if overrides_method(action) {
                "a request that overrides its method".to_string()
            } else if carries_body(action) {
                format!("a {} with a body", action.target.method)
            } else if action.operation == "upgrade" {
                "a protocol switch".to_string()
            } else {
                format!("{} {}", action.target.method, action.operation)
            };
            return Err(format!("its scope is read and {what} is a write"));
        }
        let mut why = Vec::new();
        for b in &self.bindings {
            match b.mismatch(action, scheme) {
                None => return Ok(b),
                Some(w) => why.push(w),
            }
        }
        Err(why.join("; "))
    }

    /// The header value carrying `secret`.
    pub fn header_value(&self, secret: &str) -> String {
        self.format.replace("{secret}", secret)
    }
}

/// The mode bits of a secret file that must be clear: readable or writable by group or others.
#[cfg(unix)]
pub fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{}: mode {mode:o} gives the group or others access to the secret; chmod 600 it",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_private(_path: &Path) -> Result<(), String> {
    Ok(())
}

impl CredentialConfig {
    /// Compiles `credentials.yaml` of the policy directory `dir`. Relative paths are relative
    /// to `dir`. Errors name the credential.
    pub fn compile(dir: &Path, text: &str) -> Result<Self, String> {
        let file: File = yaml_serde::from_str(text).map_err(|e| e.to_string())?;
        let resolve = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                dir.join(p)
            }
        };
        let mut credentials = BTreeMap::new();
        for (name, spec) in file.credentials {
            let at = format!("credential {name:?}");
            if !valid_name(&name) {
                return Err(format!(
                    "{at}: a name is 1 to 64 letters, digits, '.', '_' or '-'"
                ));
            }
            let SourceSpec {
                file,
                env,
                oauth2,
                mint,
            } = spec.source;
            let source = match (file, env, oauth2, mint) {
                (Some(p), None, None, None) => Source::File(resolve(&p)),
                (None, Some(v), None, None) => Source::Env(v),
                (None, None, Some(mut o), None) => {
                    if o.client_secret_file.is_some() == o.client_secret_env.is_some() {
                        return Err(format!(
                            "{at}: oauth2 needs one of client_secret_file, client_secret_env"
                        ));
                    }
                    let url: http::Uri = o
                        .token_url
                        .parse()
                        .map_err(|e| format!("{at}: token_url: {e}"))?;
                    if !matches!(url.scheme_str(), Some("https") | Some("http")) {
                        return Err(format!("{at}: token_url must be https:// (or http://)"));
                    }
                    o.client_secret_file = o.client_secret_file.as_deref().map(resolve);
                    o.ca_file = o.ca_file.as_deref().map(resolve);
                    Source::OAuth2(o)
                }
                (None, None, None, Some(m)) => {
                    if m.ttl_s == 0 || m.ttl_s > MAX_MINT_TTL_S {
                        return Err(format!(
                            "{at}: mint ttl_s must be 1 to {MAX_MINT_TTL_S} seconds"
                        ));
                    }
                    if m.audience.trim().is_empty() {
                        return Err(format!("{at}: mint needs an audience"));
                    }
                    Source::Mint(m)
                }
                _ => {
                    return Err(format!(
                        "{at}: source needs exactly one of file, env, oauth2, mint"
                    ))
                }
            };
            let inject = spec.inject.unwrap_or(InjectSpec {
                header: default_header(),
                format: default_format(),
            });
            if !inject.format.contains("{secret}") {
                return Err(format!("{at}: inject format must contain {{secret}}"));
            }
            if http::HeaderName::from_bytes(inject.header.as_bytes()).is_err() {
                return Err(format!(
                    "{at}: inject header {:?} is not a header name",
                    inject.header
                ));
            }
            if spec.bindings.is_empty() {
                return Err(format!(
                    "{at}: no bindings: a credential is bound to at least one upstream"
                ));
            }
            let mut bindings = Vec::new();
            for b in spec.bindings {
                let host = b.host.trim().trim_end_matches('.').to_ascii_lowercase();
                if host.is_empty() || host == "*" || host.contains('/') {
                    return Err(format!(
                        "{at}: binding host {:?} is not a host name (use a name or *.domain)",
                        b.host
                    ));
                }
                let paths = glob_set(&b.paths, "path").map_err(|e| format!("{at}: {e}"))?;
                let tools = glob_set(&b.tools, "tool").map_err(|e| format!("{at}: {e}"))?;
                let label = format!(
                    "{host}{}",
                    b.paths.first().map(String::as_str).unwrap_or("/**")
                );
                bindings.push(Binding {
                    label,
                    host,
                    port: b.port,
                    allow_plain_http: b.allow_plain_http,
                    paths,
                    path_text: b.paths,
                    methods: b.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
                    tools,
                    operations: b.operations,
                });
            }
            credentials.insert(
                name.clone(),
                Credential {
                    name,
                    source,
                    scope: spec.scope,
                    attach: spec.attach,
                    header: inject.header.to_ascii_lowercase(),
                    format: inject.format,
                    bindings,
                },
            );
        }
        let issuer = file
            .minting
            .and_then(|m| m.issuer)
            .unwrap_or_else(|| "aarmor".into());
        Ok(Self {
            credentials,
            issuer,
        })
    }

    /// The credential attached by itself to `action` (no placeholder), if any binds it.
    pub fn bound_to(&self, action: &Action, scheme: &str) -> Option<(&Credential, &Binding)> {
        self.credentials
            .values()
            .filter(|c| c.attach == Attach::Always)
            .find_map(|c| c.binding_for(action, scheme).ok().map(|b| (c, b)))
    }

    /// Whether any credential is bound to `host`: what it answers is scrubbed of every secret,
    /// and its reads are actions.
    pub fn binds_host(&self, host: &str) -> bool {
        self.credentials
            .values()
            .any(|c| c.bindings.iter().any(|b| matches_pattern(&b.host, host)))
    }

    /// Whether any credential is minted.
    pub fn mints(&self) -> bool {
        self.credentials
            .values()
            .any(|c| matches!(c.source, Source::Mint(_)))
    }
}
