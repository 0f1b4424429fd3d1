//! The `[cluster]` section: several replicas acting as one appliance through Redis.

use serde::{Deserialize, Serialize};

/// `[cluster]`: off by default (one box keeps everything in its own stores, and needs no Redis).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// Share session context, holds and approvals with the other replicas through Redis.
    pub enabled: bool,
    /// `redis://[user:password@]host:port/db` or `rediss://` (TLS). Redis 7 protocol: Redis,
    /// Valkey and managed Redis all serve it (a single primary; Redis Cluster is not supported).
    pub redis_url: String,
    /// A file holding the URL instead (readable by the service user only; keeps the password out
    /// of this file).
    pub redis_url_file: Option<std::path::PathBuf>,
    /// `rediss://`: the CA (PEM) Redis's certificate chains to, instead of the system roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// A secret all replicas share (a file, at least 32 bytes, mode 0600): answers forwarded
    /// between replicas are authenticated with it. Without it they are authenticated with the
    /// approver's token hash from the configuration, which whoever reads the configuration knows.
    pub secret_file: Option<std::path::PathBuf>,
    /// This replica's name: it names its receipt signing keys and the actions it holds. Unique
    /// per replica; empty: the host name.
    pub replica: String,
    /// Prefix of every Redis key and channel aarmor uses (several appliances may share a Redis).
    pub key_prefix: String,
    /// Longest wait for one Redis round trip; past it the action is refused (fail closed).
    pub timeout_ms: u64,
    /// How long Redis keeps a session's shared chain after its last update, seconds.
    pub session_retention_s: u64,
    /// A decision reads the session from Redis again when this replica last read it longer
    /// ago than this (the exchange's first read is always fresh), milliseconds.
    pub sync_max_age_ms: u64,
    /// How often a replica says it is alive, seconds.
    pub heartbeat_s: u64,
    /// A replica not heard from for this long is dead: the actions it held are recorded as
    /// denied by the replica that notices, seconds.
    pub replica_timeout_s: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            redis_url: "redis://127.0.0.1:6379/0".into(),
            redis_url_file: None,
            ca_file: None,
            secret_file: None,
            replica: String::new(),
            key_prefix: "aarmor:".into(),
            timeout_ms: 500,
            session_retention_s: 7 * 24 * 3600,
            sync_max_age_ms: 50,
            heartbeat_s: 2,
            replica_timeout_s: 10,
        }
    }
}

impl ClusterSettings {
    /// Checks the values; `Err` is `key: message`.
    pub fn validate(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        let url = self.url()?;
        let key = if self.redis_url_file.is_some() {
            "cluster.redis_url_file"
        } else {
            "cluster.redis_url"
        };
        if let Err(e) = redis::Client::open(url.as_str()) {
            return Err(format!("{key}: {e}"));
        }
        if let Some(ca) = &self.ca_file {
            if !url.starts_with("rediss://") {
                return Err("cluster.ca_file: only for a rediss:// (TLS) URL".into());
            }
            if let Err(e) = std::fs::read(ca) {
                return Err(format!("cluster.ca_file: {}: {e}", ca.display()));
            }
        }
        if let Some(path) = &self.secret_file {
            match std::fs::read(path) {
                Ok(b) if b.trim_ascii().len() >= 32 => {}
                Ok(_) => {
                    return Err(format!(
                        "cluster.secret_file: {}: at least 32 bytes (e.g. `openssl rand -hex 32`)",
                        path.display()
                    ))
                }
                Err(e) => return Err(format!("cluster.secret_file: {}: {e}", path.display())),
            }
        }
        if !self.replica.is_empty() && !valid_replica_name(&self.replica) {
            return Err("cluster.replica: 1 to 63 letters, digits, '.', '_' or '-'".into());
        }
        if self.key_prefix.is_empty() || self.key_prefix.len() > 64 {
            return Err("cluster.key_prefix: 1 to 64 characters".into());
        }
        for (key, v) in [
            ("cluster.timeout_ms", self.timeout_ms),
            ("cluster.session_retention_s", self.session_retention_s),
            ("cluster.heartbeat_s", self.heartbeat_s),
        ] {
            if v == 0 {
                return Err(format!("{key}: must be greater than 0"));
            }
        }
        if self.replica_timeout_s < 3 * self.heartbeat_s {
            return Err(
                "cluster.replica_timeout_s: must be at least three times heartbeat_s".into(),
            );
        }
        Ok(())
    }

    /// The Redis URL: `redis_url`, or the content of `redis_url_file`.
    pub fn url(&self) -> Result<String, String> {
        match &self.redis_url_file {
            None => Ok(self.redis_url.clone()),
            Some(path) => std::fs::read_to_string(path)
                .map(|t| t.trim().to_string())
                .map_err(|e| format!("cluster.redis_url_file: {}: {e}", path.display())),
        }
    }

    /// The Redis URL without its password (for logs and status).
    pub fn redis_url_redacted(&self) -> String {
        let url = self
            .url()
            .unwrap_or_else(|_| "(unreadable redis_url_file)".into());
        match (url.split_once("://"), url.rfind('@')) {
            (Some((scheme, rest)), Some(at)) if at > scheme.len() + 3 => {
                let host = &url[at + 1..];
                let user = rest.split(['@', ':']).next().unwrap_or("");
                format!("{scheme}://{user}:***@{host}")
            }
            _ => url,
        }
    }

    /// The replica's name: the configured one, else the host name.
    pub fn replica_name(&self) -> String {
        if !self.replica.is_empty() {
            return self.replica.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        let cleaned: String = host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .take(63)
            .collect();
        if cleaned.is_empty() {
            "replica".into()
        } else {
            cleaned
        }
    }
}

/// A replica name: what key ids and Redis keys can carry.
pub fn valid_replica_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}
