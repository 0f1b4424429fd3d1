//! Several replicas as one appliance (`[cluster]`): session context, holds and approvals shared
//! through Redis, an engine ops teams already run. Each replica keeps its own receipt chain,
//! signed with its own key (the key id names the replica).
//!
//! Keys (all under `key_prefix`, default `aarmor:`):
//! - `head:<session>` (hash: `head` JSON, `seq`, `hash`, `base`) and `log:<session>` (list of
//!   canonical entry JSON; element `i` is entry `base + i`): a session's chain;
//! - `active:<agent>`: the agent's active session (for actions without a session header);
//! - `holds` (hash: hold id → held action JSON), `vote:<id>` (a list answered by the holder);
//! - `replica:<name>` (a heartbeat with a TTL), `keys` (hash: replica → its public keys);
//! - channels `changed` (a session's chain grew), `votes` (answers for held actions),
//!   `holds` (the hold queue changed).
//!
//! Fail closed: a round trip that fails or takes longer than `timeout_ms` makes the action it
//! serves a denial (`context store unavailable`); nothing needs restarting when Redis returns,
//! the next round trip reconnects.
//!
//! Limit: Lua scripts compute key names, so a single Redis primary (with replicas, Sentinel or
//! a managed service) is required; Redis Cluster's key slots are not.

pub mod holds;
pub mod inspect;
pub mod sessions;
pub mod settings;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use settings::ClusterSettings;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0} ms")]
    Timeout(u64),
    #[error("redis answered something aarmor did not expect: {0}")]
    Protocol(String),
    #[error("the session's chain kept moving under {0} attempts to append to it")]
    Contended(u32),
    #[error("another process runs as replica {0} (its heartbeat is current): replica names must be unique; this one holds nothing it could release")]
    NameTaken(String),
}

/// Counters, exported as `aarmor_cluster_*`.
#[derive(Clone)]
pub(crate) struct ClusterMetrics {
    pub(crate) round_trips: prometheus::IntCounterVec,
    pub(crate) errors: prometheus::IntCounterVec,
    pub(crate) up: prometheus::IntGauge,
    pub(crate) conflicts: prometheus::IntCounter,
}

impl ClusterMetrics {
    fn new() -> Self {
        // Names and help are constants: valid by construction.
        let round_trips = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "cluster_redis_round_trips_total",
                "Redis round trips, by operation",
            ),
            &["op"],
        )
        .unwrap_or_else(|e| panic!("metric: {e}"));
        let errors = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "cluster_redis_errors_total",
                "Redis round trips that failed or timed out, by operation",
            ),
            &["op"],
        )
        .unwrap_or_else(|e| panic!("metric: {e}"));
        let up = prometheus::IntGauge::new(
            "cluster_redis_up",
            "1 when the last Redis round trip succeeded",
        )
        .unwrap_or_else(|e| panic!("metric: {e}"));
        let conflicts = prometheus::IntCounter::new(
            "cluster_append_conflicts_total",
            "Appends to a session's chain that another replica's append overtook (re-chained and retried)",
        )
        .unwrap_or_else(|e| panic!("metric: {e}"));
        Self {
            round_trips,
            errors,
            up,
            conflicts,
        }
    }
}

/// This replica's link to the others.
pub struct Cluster {
    settings: ClusterSettings,
    replica: String,
    client: redis::Client,
    /// The connection decisions use, made on the first of their round trips, inside the
    /// runtime that serves traffic (its I/O is driven there).
    conn: tokio::sync::OnceCell<ConnectionManager>,
    /// The connection of the background tasks (heartbeat, holds, keys), made on their thread.
    background: tokio::sync::OnceCell<ConnectionManager>,
    config: ConnectionManagerConfig,
    pub(crate) metrics: ClusterMetrics,
    /// Serializes this replica's reads and appends of one session (striped by session id), so
    /// that its own appends never race each other.
    stripes: Vec<tokio::sync::Mutex<()>>,
    /// When each session was last read from Redis (bounded).
    synced: Mutex<lru::LruCache<String, std::time::Instant>>,
    /// Sessions this replica guessed while Redis could not attribute an exchange (bounded).
    unattributed: Mutex<lru::LruCache<String, std::time::Instant>>,
    /// 0: not known yet, 1: the last round trip succeeded, 2: it failed.
    reachable: AtomicU8,
    last_error: Mutex<Option<String>>,
    /// This replica's public keys, published with its heartbeat.
    public_keys: Mutex<Vec<crate::receipts::keys::PublicKeyEntry>>,
    /// `secret_file`'s content: the key forwarded answers are authenticated with.
    secret: Option<Vec<u8>>,
    /// This process, among all that ever ran under this replica name.
    instance: String,
    /// Another live process runs under this replica's name (set by the heartbeat).
    pub(crate) name_taken: std::sync::atomic::AtomicBool,
}

const STRIPES: usize = 256;

impl Cluster {
    /// Prepares the link; nothing is dialled yet (the first round trip connects), so a replica
    /// starts while Redis is down and refuses actions until it is back.
    pub fn new(settings: ClusterSettings) -> Result<Arc<Self>, ClusterError> {
        let url = settings.url().map_err(ClusterError::Protocol)?;
        let client = match &settings.ca_file {
            None => redis::Client::open(url.as_str())?,
            Some(ca) => {
                let root = std::fs::read(ca)
                    .map_err(|e| ClusterError::Protocol(format!("{}: {e}", ca.display())))?;
                redis::Client::build_with_tls(
                    url.as_str(),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(root),
                    },
                )?
            }
        };
        let timeout = Duration::from_millis(settings.timeout_ms);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let replica = settings.replica_name();
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|e| ClusterError::Protocol(e.to_string()))?;
        let instance = hex::encode(id);
        let secret = match &settings.secret_file {
            None => None,
            Some(path) => Some(
                std::fs::read(path)
                    .map(|b| b.trim_ascii().to_vec())
                    .map_err(|e| ClusterError::Protocol(format!("{}: {e}", path.display())))?,
            ),
        };
        Ok(Arc::new(Self {
            replica,
            client,
            conn: tokio::sync::OnceCell::new(),
            background: tokio::sync::OnceCell::new(),
            config,
            metrics: ClusterMetrics::new(),
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            synced: Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(65_536).unwrap_or(std::num::NonZeroUsize::MIN),
            )),
            unattributed: Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(16_384).unwrap_or(std::num::NonZeroUsize::MIN),
            )),
            reachable: AtomicU8::new(0),
            last_error: Mutex::new(None),
            public_keys: Mutex::new(Vec::new()),
            secret,
            instance,
            name_taken: std::sync::atomic::AtomicBool::new(false),
            settings,
        }))
    }

    /// Sets the public keys this replica publishes (its `public-keys.json`).
    pub fn set_public_keys(&self, keys: Vec<crate::receipts::keys::PublicKeyEntry>) {
        if let Ok(mut k) = self.public_keys.lock() {
            *k = keys;
        }
    }

    pub(crate) fn own_public_keys(&self) -> Vec<crate::receipts::keys::PublicKeyEntry> {
        self.public_keys
            .lock()
            .map(|k| k.clone())
            .unwrap_or_default()
    }

    /// The key an answer forwarded for `approver` is authenticated with: derived from the
    /// cluster secret when there is one, else `credential` (the approver's token hash).
    pub fn vote_key(&self, approver: &str, operator: bool, credential: Vec<u8>) -> Vec<u8> {
        match &self.secret {
            None => credential,
            Some(secret) => {
                let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
                let who = format!(
                    "aarmor-vote-key\0{}\0{approver}",
                    if operator { "operator" } else { "approver" }
                );
                ring::hmac::sign(&k, who.as_bytes()).as_ref().to_vec()
            }
        }
    }

    pub fn settings(&self) -> &ClusterSettings {
        &self.settings
    }

    /// This replica's name.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// This process's id (random per start).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn register(&self, registry: &prometheus::Registry) {
        let m = &self.metrics;
        let all: [Box<dyn prometheus::core::Collector>; 4] = [
            Box::new(m.round_trips.clone()),
            Box::new(m.errors.clone()),
            Box::new(m.up.clone()),
            Box::new(m.conflicts.clone()),
        ];
        for c in all {
            if let Err(e) = registry.register(c) {
                tracing::warn!(error = %e, "cannot register a cluster metric");
            }
        }
    }

    /// Whether the last round trip succeeded, and the last error.
    pub fn state(&self) -> (bool, Option<String>) {
        (
            self.reachable.load(Ordering::Acquire) == 1,
            self.last_error.lock().ok().and_then(|e| e.clone()),
        )
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.settings.key_prefix
    }

    pub(crate) fn stripe(&self, session: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        session.hash(&mut h);
        &self.stripes[(h.finish() as usize) % STRIPES]
    }

    /// Runs one round trip (`op` names it in the metrics) within `timeout_ms`.
    pub(crate) async fn round_trip<T, F>(&self, op: &str, f: F) -> Result<T, ClusterError>
    where
        F: AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    {
        self.metrics.round_trips.with_label_values(&[op]).inc();
        let limit = Duration::from_millis(self.settings.timeout_ms);
        // What the background tasks do never shares a connection with decisions.
        let background = matches!(
            op,
            "heartbeat" | "holds" | "claim" | "keys" | "vote_reply" | "status" | "chain"
        );
        let cell = if background {
            &self.background
        } else {
            &self.conn
        };
        let result = match cell
            .get_or_try_init(async || {
                ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
            })
            .await
        {
            Ok(conn) => {
                let mut conn = conn.clone();
                match tokio::time::timeout(limit, f(&mut conn)).await {
                    Ok(Ok(v)) => Ok(v),
                    Ok(Err(e)) => Err(ClusterError::Redis(e)),
                    Err(_) => Err(ClusterError::Timeout(self.settings.timeout_ms)),
                }
            }
            Err(e) => Err(ClusterError::Redis(e)),
        };
        match &result {
            Ok(_) => {
                if self.reachable.swap(1, Ordering::AcqRel) != 1 {
                    tracing::info!(replica = %self.replica, "redis reachable");
                }
                self.metrics.up.set(1);
            }
            Err(e) => {
                self.metrics.errors.with_label_values(&[op]).inc();
                self.metrics.up.set(0);
                if self.reachable.swap(2, Ordering::AcqRel) != 2 {
                    tracing::error!(replica = %self.replica, error = %e, "redis unreachable: actions that need shared state are refused until it returns");
                }
                if let Ok(mut last) = self.last_error.lock() {
                    *last = Some(e.to_string());
                }
            }
        }
        result
    }

    /// A dedicated connection for subscriptions (pub/sub cannot share the multiplexed one).
    pub(crate) async fn subscriber(&self) -> Result<redis::aio::PubSub, ClusterError> {
        let limit = Duration::from_millis(self.settings.timeout_ms.max(1000));
        match tokio::time::timeout(limit, self.client.get_async_pubsub()).await {
            Ok(r) => r.map_err(ClusterError::Redis),
            Err(_) => Err(ClusterError::Timeout(limit.as_millis() as u64)),
        }
    }
}

/// Reads a bulk string out of a script's reply.
pub(crate) fn text(v: &redis::Value) -> Option<String> {
    match v {
        redis::Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        redis::Value::SimpleString(s) => Some(s.clone()),
        redis::Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}
