//! The configuration file: one TOML document, every key optional with a documented default.

use std::path::{Path, PathBuf};

use aarmor_engine::cluster::ClusterSettings;
use aarmor_engine::identity::IdentitySettings;
use aarmor_engine::telemetry::TelemetrySettings;
use aarmor_engine::{
    ApprovalSettings, ContextSettings, EnforcementSettings, IntentSettings, PolicySettings,
    ReceiptSettings, RetentionSettings,
};
use aarmor_mediation::MediationSettings;
use aarmor_proxy::{AdminSettings, ProxySettings, UpstreamSettings};
use serde::{Deserialize, Serialize};

/// The commented default configuration, printed by `aarmor config print-default`.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default-config.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub proxy: ProxySettings,
    pub upstream: UpstreamSettings,
    pub admin: AdminSettings,
    pub mediation: MediationSettings,
    pub policy: PolicySettings,
    pub enforcement: EnforcementSettings,
    pub receipts: ReceiptSettings,
    pub retention: RetentionSettings,
    pub approvals: ApprovalSettings,
    pub context: ContextSettings,
    pub cluster: ClusterSettings,
    pub intent: IntentSettings,
    pub identity: IdentitySettings,
    pub telemetry: TelemetrySettings,
    pub log: LogSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./aarmor-data"),
            proxy: ProxySettings::default(),
            upstream: UpstreamSettings::default(),
            admin: AdminSettings::default(),
            mediation: MediationSettings::default(),
            policy: PolicySettings::default(),
            enforcement: EnforcementSettings::default(),
            receipts: ReceiptSettings::default(),
            retention: RetentionSettings::default(),
            approvals: ApprovalSettings::default(),
            context: ContextSettings::default(),
            cluster: ClusterSettings::default(),
            intent: IntentSettings::default(),
            identity: IdentitySettings::default(),
            telemetry: TelemetrySettings::default(),
            log: LogSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// A configuration error that names the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: key `{key}`: {message}")]
    Key {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("config file {path}: {message}")]
    Syntax { path: PathBuf, message: String },
}

impl Config {
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let de = toml::Deserializer::new(text);
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let message = e.inner().message().to_string();
            if key.is_empty() || key == "." {
                ConfigError::Syntax {
                    path: path.to_path_buf(),
                    message: e.inner().to_string(),
                }
            } else {
                let line = e
                    .inner()
                    .span()
                    .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
                let message = match line {
                    Some(l) => format!("{message} (line {l})"),
                    None => message,
                };
                ConfigError::Key {
                    path: path.to_path_buf(),
                    key,
                    message,
                }
            }
        })?;
        config.validate(path)?;
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let key_err = |key: &str, message: &str| ConfigError::Key {
            path: path.to_path_buf(),
            key: key.into(),
            message: message.into(),
        };
        if let Err(e) = self.telemetry.validate() {
            let (key, message) = e.split_once(": ").unwrap_or(("telemetry", e.as_str()));
            return Err(key_err(key, message));
        }
        let p = &self.proxy;
        let positive = [
            ("proxy.header_read_timeout_ms", p.header_read_timeout_ms),
            ("proxy.tls_handshake_timeout_ms", p.tls_handshake_timeout_ms),
            (
                "mediation.decision_timeout_ms",
                self.mediation.decision_timeout_ms,
            ),
            (
                "upstream.connect_timeout_ms",
                self.upstream.connect_timeout_ms,
            ),
            ("upstream.read_timeout_ms", self.upstream.read_timeout_ms),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(key_err(key, "must be greater than 0"));
            }
        }
        if p.max_header_bytes < 1024 {
            return Err(key_err("proxy.max_header_bytes", "must be at least 1024"));
        }
        for (key, value) in [
            ("proxy.max_inspect_total_bytes", p.max_inspect_total_bytes),
            ("proxy.max_inspect_client_bytes", p.max_inspect_client_bytes),
        ] {
            if value < 1024 {
                return Err(key_err(key, "must be at least 1024"));
            }
        }
        if p.leaf_cache_size == 0 {
            return Err(key_err("proxy.leaf_cache_size", "must be greater than 0"));
        }
        if p.threads > 1024 {
            return Err(key_err("proxy.threads", "must be at most 1024"));
        }
        let m = &self.mediation;
        if p.require_proxy_auth && !m.enabled {
            return Err(key_err(
                "proxy.require_proxy_auth",
                "checks credentials against the agents of the identity registry, which needs mediation.enabled = true",
            ));
        }
        if m.max_event_bytes < 1024 {
            return Err(key_err(
                "mediation.max_event_bytes",
                "must be at least 1024",
            ));
        }
        if m.deny_message.trim().is_empty() {
            return Err(key_err("mediation.deny_message", "must not be empty"));
        }
        let pol = &self.policy;
        for (key, value) in [
            ("policy.eval_timeout_us", pol.eval_timeout_us),
            ("policy.step_up_timeout_s", pol.step_up_timeout_s),
            ("policy.defer_timeout_s", pol.defer_timeout_s),
            ("receipts.max_size_mb", self.receipts.max_size_mb as u64),
            ("policy.max_instructions", pol.max_instructions as u64),
        ] {
            if value == 0 {
                return Err(key_err(key, "must be greater than 0"));
            }
        }
        for protocol in pol.defaults.keys() {
            if ![
                "openai_chat",
                "openai_responses",
                "anthropic_messages",
                "mcp",
                "sql",
                "rest",
            ]
            .contains(&protocol.as_str())
            {
                return Err(key_err(
                    &format!("policy.defaults.{protocol}"),
                    "unknown protocol (openai_chat, openai_responses, anthropic_messages, mcp, sql, rest)",
                ));
            }
        }
        if self.receipts.batch_window_ms == 0 || self.receipts.batch_window_ms > 1000 {
            return Err(key_err(
                "receipts.batch_window_ms",
                "must be between 1 and 1000",
            ));
        }
        if let Err(e) = self.retention.validate() {
            let (key, message) = e.split_once(": ").unwrap_or(("retention", e.as_str()));
            return Err(key_err(key, message));
        }
        if self.receipts.max_value_bytes < 64 || self.receipts.max_parameters_bytes < 256 {
            return Err(key_err(
                "receipts.max_value_bytes",
                "must be at least 64 (and max_parameters_bytes at least 256)",
            ));
        }
        if let Err(e) = self.approvals.validate() {
            let (key, message) = e.split_once(": ").unwrap_or(("approvals", e.as_str()));
            return Err(key_err(key, message));
        }
        if let Err(e) = self.cluster.validate() {
            let (key, message) = e.split_once(": ").unwrap_or(("cluster", e.as_str()));
            return Err(key_err(key, message));
        }
        if let Err(e) = self.approvals.resolve_token() {
            return Err(key_err("approvals.token_file", &e));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(key_err("data_dir", "must not be empty"));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(key_err("log.level", &e.to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_documents_exactly_the_defaults() {
        let parsed = Config::parse(DEFAULT_CONFIG_TOML, Path::new("default")).unwrap();
        assert_eq!(parsed, Config::default());
        // Every key of every section appears (uncommented or commented) in the documented file.
        let json = serde_json::to_value(Config::default()).unwrap();
        for (section, value) in json.as_object().unwrap() {
            if let Some(obj) = value.as_object() {
                for key in obj.keys() {
                    assert!(
                        DEFAULT_CONFIG_TOML.contains(&format!("{key} ="))
                            || DEFAULT_CONFIG_TOML.contains(&format!("# {key} ="))
                            || DEFAULT_CONFIG_TOML.contains(&format!("[[{section}.{key}]]"))
                            || DEFAULT_CONFIG_TOML.contains(&format!("[{section}.{key}]")),
                        "{section}.{key} undocumented"
                    );
                }
            }
        }
    }

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(
            Config::parse("", Path::new("x")).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[proxy]\nlisten = \"not-an-address\"\n", "proxy.listen"),
            (
                "[proxy]\nbypass = [\"ok.test\", \"bad host\"]\n",
                "proxy.bypass",
            ),
            ("[proxy]\nlisen = \"127.0.0.1:1\"\n", "proxy"),
            (
                "[upstream]\nconnect_timeout_ms = 0\n",
                "upstream.connect_timeout_ms",
            ),
            ("[admin]\nlisten = 5\n", "admin.listen"),
            ("[log]\nformat = \"xml\"\n", "log.format"),
            ("bogus = 1\n", "bogus"),
        ];
        for (text, key) in cases {
            let err = Config::parse(text, Path::new("aarmor.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(key),
                "error for {text:?} should name {key}: {err}"
            );
            assert!(err.contains("aarmor.toml"), "{err}");
        }
        let err = Config::parse("[proxy]\nlisen = 1\n", Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn syntax_errors_are_reported() {
        let err = Config::parse("[proxy\n", Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.toml"), "{err}");
    }
}
