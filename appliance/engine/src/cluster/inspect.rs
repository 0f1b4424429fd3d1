//! What `aarmor cluster` shows an operator: the replicas and whether they are alive, the
//! public keys of all of them (for verifying a merged receipt export), and a session's shared
//! chain as Redis holds it.

use std::sync::LazyLock;

use aarmor_core::SessionId;
use redis::AsyncCommands;
use serde::Serialize;

use super::{Cluster, ClusterError};
use crate::context::{ContextEntry, SessionHead};
use crate::receipts::keys::PublicKeyEntry;

/// A replica as Redis knows it.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaStatus {
    pub replica: String,
    /// Its heartbeat is current.
    pub alive: bool,
    /// When it last said it was alive (absent once its heartbeat expired).
    pub last_heartbeat: Option<String>,
    /// Actions it holds now.
    pub holds: u64,
}

/// A session's chain, from the first entry Redis still holds.
#[derive(Debug, Clone, Serialize)]
pub struct SharedChain {
    pub head: SessionHead,
    pub base: u64,
    pub entries: Vec<ContextEntry>,
    /// The entries as stored (`seq`, canonical JSON), for verification.
    #[serde(skip)]
    pub raw: Vec<(u64, Vec<u8>)>,
}

const STATUS: &str = r#"
local p = ARGV[1]
local out = {}
for _, r in ipairs(redis.call('SMEMBERS', p .. 'replicas')) do
  out[#out + 1] = {r, redis.call('GET', p .. 'replica:' .. r) or '', redis.call('HLEN', p .. 'holds:' .. r)}
end
return out
"#;
static STATUS_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(STATUS));

impl Cluster {
    /// Publishes this replica's public keys (the content of its `public-keys.json`).
    pub async fn publish_keys(&self, public_keys: &[PublicKeyEntry]) -> Result<(), ClusterError> {
        let json = serde_json::to_string(public_keys)
            .map_err(|e| ClusterError::Protocol(e.to_string()))?;
        let key = format!("{}keys", self.prefix());
        self.round_trip("keys", async |c| {
            c.hset::<_, _, _, ()>(&key, self.replica(), &json).await
        })
        .await
    }

    /// Every replica's public keys, together: what `aarmor receipts verify` needs for a merged
    /// export.
    pub async fn public_keys(&self) -> Result<Vec<PublicKeyEntry>, ClusterError> {
        let key = format!("{}keys", self.prefix());
        let all: std::collections::BTreeMap<String, String> = self
            .round_trip("keys", async |c| c.hgetall(&key).await)
            .await?;
        let mut out: Vec<PublicKeyEntry> = Vec::new();
        for (replica, json) in all {
            let entries: Vec<PublicKeyEntry> = serde_json::from_str(&json).map_err(|e| {
                ClusterError::Protocol(format!("public keys of replica {replica}: {e}"))
            })?;
            crate::receipts::keys::merge_public_keys(&mut out, entries).map_err(|key_id| {
                ClusterError::Protocol(format!(
                    "key {key_id} is published twice with different public keys or replicas (replica {replica} and another): collect each replica's own public-keys.json instead"
                ))
            })?;
        }
        Ok(out)
    }

    /// The replicas Redis knows, alive or not.
    pub async fn replicas(&self) -> Result<Vec<ReplicaStatus>, ClusterError> {
        let rows: Vec<(String, String, u64)> = self
            .round_trip("status", async |c| {
                STATUS_SCRIPT.arg(self.prefix()).invoke_async(c).await
            })
            .await?;
        let mut out: Vec<ReplicaStatus> = rows
            .into_iter()
            .map(|(replica, beat, holds)| ReplicaStatus {
                replica,
                alive: !beat.is_empty(),
                // `<instance>|<ms>|<time>`: the time.
                last_heartbeat: (!beat.is_empty())
                    .then(|| beat.rsplit('|').next().unwrap_or(&beat).to_string()),
                holds,
            })
            .collect();
        out.sort_by(|a, b| a.replica.cmp(&b.replica));
        Ok(out)
    }

    /// A session's shared chain; `None` when Redis has none.
    pub async fn shared_chain(
        &self,
        session: &SessionId,
    ) -> Result<Option<SharedChain>, ClusterError> {
        let head_key = format!("{}head:{}", self.prefix(), session.0);
        let log_key = format!("{}log:{}", self.prefix(), session.0);
        let (head, base, lines): (Option<String>, Option<u64>, Vec<String>) = self
            .round_trip("chain", async |c| {
                redis::pipe()
                    .hget(&head_key, "head")
                    .hget(&head_key, "base")
                    .lrange(&log_key, 0, -1)
                    .query_async(c)
                    .await
            })
            .await?;
        let (Some(head), Some(base)) = (head, base) else {
            return Ok(None);
        };
        let head: SessionHead =
            serde_json::from_str(&head).map_err(|e| ClusterError::Protocol(e.to_string()))?;
        let mut entries = Vec::with_capacity(lines.len());
        let mut raw = Vec::with_capacity(lines.len());
        for l in lines {
            let e: ContextEntry =
                serde_json::from_str(&l).map_err(|e| ClusterError::Protocol(e.to_string()))?;
            raw.push((e.seq, l.into_bytes()));
            entries.push(e);
        }
        Ok(Some(SharedChain {
            head,
            base,
            entries,
            raw,
        }))
    }
}
