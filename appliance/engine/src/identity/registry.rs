//! The identity registry (`policies/identities.yaml`): which agents aarmor recognises and by
//! what (client certificate names, proxy credentials stored as sha256, source CIDRs), and where
//! human principals come from (a signed user token, or operator-named headers, unverified).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use super::sha256_hex;
use serde::Deserialize;

/// The parsed file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    #[serde(default)]
    pub agents: Vec<AgentEntry>,
    #[serde(default)]
    pub human: HumanSources,
}

/// One registered agent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentEntry {
    /// The agent's name in actions, receipts and policy (`identity.agent`).
    pub name: String,
    /// Role or scope of the agent (`identity.role`) unless the user token names one.
    #[serde(default)]
    pub role: Option<String>,
    /// Source networks (`10.20.0.0/16`, `127.0.0.1/32`); the most specific match wins.
    #[serde(default)]
    pub cidrs: Vec<IpNet>,
    /// Client certificate URI SANs (SPIFFE ids), exact, or a prefix ending in `/*`.
    #[serde(default)]
    pub spiffe_ids: Vec<String>,
    /// Client certificate DNS SANs or common names.
    #[serde(default)]
    pub cert_names: Vec<String>,
    /// Proxy credentials (`Proxy-Authorization`), stored hashed.
    #[serde(default)]
    pub credentials: Vec<CredentialEntry>,
}

/// A proxy credential: Basic user + sha256 of the password, or sha256 of a bearer token
/// (`printf %s "$TOKEN" | sha256sum`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialEntry {
    #[serde(default)]
    pub basic_user: Option<String>,
    #[serde(default)]
    pub password_sha256: Option<String>,
    #[serde(default)]
    pub bearer_sha256: Option<String>,
}

/// Where the human principal comes from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HumanSources {
    /// A signed JWT the agent platform passes on each request.
    #[serde(default)]
    pub user_token: Option<UserTokenSource>,
    /// Headers naming the human when no token is sent; such a human is marked unverified
    /// (`identity.evidence.human = "unverified_header"`).
    #[serde(default)]
    pub headers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserTokenSource {
    /// Request header carrying the token (default `x-aarm-user-token`; stripped upstream).
    #[serde(default = "default_token_header")]
    pub header: String,
    /// JWKS file with the issuer's public keys, relative to the policy directory.
    pub jwks_file: PathBuf,
    /// Accepted `aud` values; a token for another audience is refused.
    pub audience: Vec<String>,
    /// Accepted `iss` values; empty accepts any issuer whose key is in the JWKS.
    #[serde(default)]
    pub issuer: Vec<String>,
    /// Claim naming the human (default `sub`).
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// Claim with the human's role or scope (default `role`, then `scope`).
    #[serde(default)]
    pub role_claim: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`, seconds.
    #[serde(default = "default_leeway")]
    pub leeway_s: u64,
}

fn default_token_header() -> String {
    "x-aarm-user-token".into()
}
fn default_subject_claim() -> String {
    "sub".into()
}
fn default_leeway() -> u64 {
    30
}

/// How a connection's agent was recognised.
#[derive(Debug, Clone)]
pub enum AgentMatch<'a> {
    Found {
        entry: &'a AgentEntry,
        evidence: &'static str,
    },
    /// A credential or certificate was presented and is not registered.
    Unrecognised {
        agent: String,
        reason: String,
    },
    Unknown {
        agent: String,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RegistryError {
    pub path: String,
    pub message: String,
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl RegistryFile {
    /// Parses and checks the file: unique names, well-formed hashes, a credential of one kind.
    pub fn parse(path: &str, text: &str) -> Result<Self, RegistryError> {
        let err = |message: String| RegistryError {
            path: path.to_string(),
            message,
        };
        let file: RegistryFile = yaml_serde::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut names = BTreeSet::new();
        for (i, agent) in file.agents.iter().enumerate() {
            if agent.name.trim().is_empty() {
                return Err(err(format!("agents[{i}]: name is empty")));
            }
            if !names.insert(agent.name.as_str()) {
                return Err(err(format!(
                    "agents[{i}]: name {} is used twice",
                    agent.name
                )));
            }
            for (j, c) in agent.credentials.iter().enumerate() {
                let at = format!("agents[{i}] ({}) credentials[{j}]", agent.name);
                match (&c.basic_user, &c.password_sha256, &c.bearer_sha256) {
                    (Some(_), Some(h), None) | (None, None, Some(h)) => {
                        if !is_sha256_hex(h) {
                            return Err(err(format!(
                                "{at}: expected 64 hex digits of sha256, got {} characters",
                                h.len()
                            )));
                        }
                    }
                    _ => {
                        return Err(err(format!(
                            "{at}: give either basic_user + password_sha256, or bearer_sha256"
                        )))
                    }
                }
            }
        }
        if let Some(t) = &file.human.user_token {
            if t.audience.is_empty() {
                return Err(err("human.user_token.audience: name at least one".into()));
            }
        }
        Ok(file)
    }

    /// Whether a proxy credential is one a registered agent holds (compared by hash).
    pub fn knows_credential(&self, cred: &aarmor_core::ProxyCredential) -> bool {
        self.agents
            .iter()
            .any(|e| e.credentials.iter().any(|c| credential_matches(c, cred)))
    }

    /// The agent behind a connection: client certificate first, then proxy credential, then
    /// source address.
    pub fn agent(&self, facts: &aarmor_core::ConnectionFacts) -> AgentMatch<'_> {
        if let Some(cert) = &facts.client_cert {
            for entry in &self.agents {
                let by_uri = cert
                    .uri_sans
                    .iter()
                    .any(|u| entry.spiffe_ids.iter().any(|p| spiffe_matches(p, u)));
                let by_name = cert
                    .dns_sans
                    .iter()
                    .chain(cert.common_name.iter())
                    .any(|n| entry.cert_names.iter().any(|c| c.eq_ignore_ascii_case(n)));
                if by_uri || by_name {
                    return AgentMatch::Found {
                        entry,
                        evidence: "mtls",
                    };
                }
            }
            let name = cert
                .uri_sans
                .first()
                .or(cert.common_name.as_ref())
                .or(cert.dns_sans.first())
                .cloned()
                .unwrap_or_else(|| {
                    format!(
                        "sha256:{}",
                        &cert.fingerprint[..16.min(cert.fingerprint.len())]
                    )
                });
            return AgentMatch::Unrecognised {
                agent: format!("cert:{name}"),
                reason: format!("client certificate {name} is not in the identity registry"),
            };
        }
        if let Some(cred) = &facts.credential {
            for entry in &self.agents {
                if entry
                    .credentials
                    .iter()
                    .any(|c| credential_matches(c, cred))
                {
                    return AgentMatch::Found {
                        entry,
                        evidence: "credential",
                    };
                }
            }
            let who = cred.principal().to_string();
            return AgentMatch::Unrecognised {
                agent: format!("proxy-user:{who}"),
                reason: format!("proxy credential of {who} is not in the identity registry"),
            };
        }
        let Some(ip) = facts.client_addr.map(|a| canonical_ip(a.ip())) else {
            return AgentMatch::Unknown {
                agent: "unknown".into(),
                reason: "the client's address is unknown".into(),
            };
        };
        let best = self
            .agents
            .iter()
            .flat_map(|e| e.cidrs.iter().map(move |c| (e, c)))
            .filter(|(_, c)| c.contains(&ip))
            .max_by_key(|(_, c)| c.prefix_len());
        match best {
            Some((entry, _)) => AgentMatch::Found {
                entry,
                evidence: "cidr",
            },
            None => AgentMatch::Unknown {
                agent: format!("ip:{ip}"),
                reason: format!("no registered agent for source address {ip}"),
            },
        }
    }

    pub fn token_source(&self) -> Option<&UserTokenSource> {
        self.human.user_token.as_ref()
    }

    /// Resolves a path of the file relative to the policy directory.
    pub fn resolve_path(dir: &Path, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            dir.join(p)
        }
    }
}

/// `::ffff:10.0.0.1` is `10.0.0.1`.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn spiffe_matches(pattern: &str, uri: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(prefix) => {
            uri.len() > prefix.len() + 1
                && uri.starts_with(prefix)
                && uri.as_bytes()[prefix.len()] == b'/'
        }
        None => pattern == uri,
    }
}

fn credential_matches(entry: &CredentialEntry, cred: &aarmor_core::ProxyCredential) -> bool {
    use aarmor_core::ProxyCredential;
    match (cred, entry) {
        (
            ProxyCredential::Basic { user, password },
            CredentialEntry {
                basic_user: Some(u),
                password_sha256: Some(h),
                ..
            },
        ) => u == user && sha256_hex(password.as_bytes()).eq_ignore_ascii_case(h),
        (
            ProxyCredential::Bearer { token },
            CredentialEntry {
                bearer_sha256: Some(h),
                ..
            },
        ) => sha256_hex(token.as_bytes()).eq_ignore_ascii_case(h),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use aarmor_core::{ClientCertificate, ConnectionFacts, ConnectionMode, ProxyCredential};

    use super::*;

    const FILE: &str = r#"
agents:
  - name: lab
    cidrs: [10.0.0.0/8]
  - name: builder
    role: ci
    cidrs: [10.1.2.0/24]
  - name: billing
    role: payments
    spiffe_ids: ["spiffe://corp.example/agents/billing/*"]
    cert_names: [billing-agent]
    credentials:
      - basic_user: billing
        password_sha256: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
      - bearer_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
"#;

    fn facts(ip: &str) -> ConnectionFacts {
        ConnectionFacts {
            client_addr: Some(format!("{ip}:40000").parse().unwrap()),
            mode: ConnectionMode::ConnectIntercepted,
            target: None,
            sni: None,
            credential: None,
            client_cert: None,
        }
    }

    fn name(m: AgentMatch<'_>) -> (String, String) {
        match m {
            AgentMatch::Found { entry, evidence } => (entry.name.clone(), evidence.into()),
            AgentMatch::Unrecognised { agent, .. } => (agent, "unrecognised".into()),
            AgentMatch::Unknown { agent, .. } => (agent, "unknown".into()),
        }
    }

    #[test]
    fn most_specific_cidr_wins_and_unknown_addresses_are_named() {
        let r = RegistryFile::parse("identities.yaml", FILE).unwrap();
        assert_eq!(
            name(r.agent(&facts("10.1.2.3"))),
            ("builder".into(), "cidr".into())
        );
        assert_eq!(
            name(r.agent(&facts("10.9.9.9"))),
            ("lab".into(), "cidr".into())
        );
        assert_eq!(
            name(r.agent(&facts("192.0.2.1"))),
            ("ip:192.0.2.1".into(), "unknown".into())
        );
    }

    #[test]
    fn credentials_match_by_hash_only() {
        let r = RegistryFile::parse("identities.yaml", FILE).unwrap();
        let mut f = facts("192.0.2.1");
        f.credential = Some(ProxyCredential::Basic {
            user: "billing".into(),
            password: "password".into(),
        });
        assert_eq!(name(r.agent(&f)), ("billing".into(), "credential".into()));
        f.credential = Some(ProxyCredential::Basic {
            user: "billing".into(),
            password: "wrong".into(),
        });
        assert_eq!(
            name(r.agent(&f)),
            ("proxy-user:billing".into(), "unrecognised".into())
        );
        f.credential = Some(ProxyCredential::Bearer {
            token: "test".into(),
        });
        assert_eq!(name(r.agent(&f)), ("billing".into(), "credential".into()));
        // A bad credential never falls back to the source address.
        let mut f = facts("10.1.2.3");
        f.credential = Some(ProxyCredential::Bearer {
            token: "nope".into(),
        });
        assert_eq!(name(r.agent(&f)).1, "unrecognised");
    }

    #[test]
    fn client_certificates_match_spiffe_prefixes_and_names() {
        let r = RegistryFile::parse("identities.yaml", FILE).unwrap();
        let mut f = facts("192.0.2.1");
        f.client_cert = Some(ClientCertificate {
            uri_sans: vec!["spiffe://corp.example/agents/billing/eu-1".into()],
            fingerprint: "ab".repeat(32),
            ..ClientCertificate::default()
        });
        assert_eq!(name(r.agent(&f)), ("billing".into(), "mtls".into()));
        f.client_cert = Some(ClientCertificate {
            uri_sans: vec!["spiffe://corp.example/agents/billingx".into()],
            fingerprint: "ab".repeat(32),
            ..ClientCertificate::default()
        });
        assert_eq!(
            name(r.agent(&f)),
            (
                "cert:spiffe://corp.example/agents/billingx".into(),
                "unrecognised".into()
            )
        );
        f.client_cert = Some(ClientCertificate {
            common_name: Some("Billing-Agent".into()),
            fingerprint: "ab".repeat(32),
            ..ClientCertificate::default()
        });
        assert_eq!(name(r.agent(&f)), ("billing".into(), "mtls".into()));
    }

    #[test]
    fn bad_files_name_the_entry() {
        let dup = "agents:\n  - name: a\n  - name: a\n";
        let e = RegistryFile::parse("identities.yaml", dup).unwrap_err();
        assert!(e.to_string().contains("agents[1]") && e.to_string().contains("twice"));
        let short = "agents:\n  - name: a\n    credentials:\n      - bearer_sha256: abc\n";
        let e = RegistryFile::parse("identities.yaml", short).unwrap_err();
        assert!(e.to_string().contains("64 hex"), "{e}");
        let both = "agents:\n  - name: a\n    credentials:\n      - basic_user: u\n";
        assert!(RegistryFile::parse("identities.yaml", both).is_err());
        let typo = "agent:\n  - name: a\n";
        assert!(RegistryFile::parse("identities.yaml", typo).is_err());
        let cidr = "agents:\n  - name: a\n    cidrs: [10.0.0.0/33]\n";
        assert!(RegistryFile::parse("identities.yaml", cidr).is_err());
    }
}
