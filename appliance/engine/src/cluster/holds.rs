//! Held actions across replicas: each replica publishes what it holds (STEP_UP approvals and
//! DEFERs) with a heartbeat, reads what the others hold (one queue on every console), forwards
//! an answer to the replica that holds the action (a Redis list as its inbox), and claims the
//! holds of a replica that stopped so that their denial is recorded.
//!
//! Invariant: a dead replica's holds are claimed by exactly one replica (a script reads and
//! deletes them atomically), so each lost action gets exactly one denial receipt.

use std::sync::LazyLock;
use std::time::Duration;

use aarmor_core::Action;
use redis::{AsyncCommands, Value};
use serde::{Deserialize, Serialize};

use super::{text, Cluster, ClusterError};
use crate::approvals::{ApprovalError, ApprovalRequest, VoteOutcome};

/// An action a replica holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldAction {
    /// The replica holding it (its agent's connection is there).
    pub replica: String,
    /// `step_up` or `defer`.
    pub kind: HoldKind,
    /// The approval id (STEP_UP) or the decision receipt id (DEFER).
    pub id: String,
    /// The decision receipt a resolution follows.
    pub receipt_id: String,
    pub action: Action,
    /// The evaluation context the policy saw.
    #[serde(default)]
    pub context: serde_json::Value,
    pub since: String,
    /// What approvers see (STEP_UP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalRequest>,
}

/// What tells one set of holds from another for the consoles: each hold's id and the votes it
/// has so far.
pub fn fingerprint(holds: &[HeldAction]) -> Vec<(String, usize)> {
    holds
        .iter()
        .map(|h| {
            (
                h.id.clone(),
                h.approval.as_ref().map_or(0, |a| a.votes.len()),
            )
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldKind {
    StepUp,
    Defer,
}

/// A vote forwarded to the replica that holds the approval. Authenticated with a MAC keyed by
/// the approver's credential as both replicas' configurations know it (see
/// `Directory::vote_key`): whoever can write to Redis cannot cast one, and the holder takes the
/// approver's groups from its own configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForwardedVote {
    pub nonce: String,
    pub id: String,
    pub approver: String,
    /// Cast with the operator token.
    pub operator: bool,
    pub approve: bool,
    pub comment: Option<String>,
    pub via: String,
    /// The replica the approver answered on.
    pub from: String,
    /// Past this (Unix ms) the vote is not applied: the approver was told it failed.
    pub deadline_ms: u64,
    /// HMAC-SHA256 of the fields above, hex.
    pub mac: String,
}

impl ForwardedVote {
    fn message(&self) -> Vec<u8> {
        let fields = [
            "aarmor-forwarded-vote-v1",
            &self.nonce,
            &self.id,
            &self.approver,
            if self.operator {
                "operator"
            } else {
                "approver"
            },
            if self.approve { "approve" } else { "deny" },
            self.comment.as_deref().unwrap_or(""),
            &self.via,
            &self.from,
            &self.deadline_ms.to_string(),
        ];
        let mut out = Vec::new();
        for f in fields {
            out.extend_from_slice(&(f.len() as u64).to_be_bytes());
            out.extend_from_slice(f.as_bytes());
        }
        out
    }

    /// Sets the MAC with `key`.
    pub fn sign(&mut self, key: &[u8]) {
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        self.mac = hex::encode(ring::hmac::sign(&k, &self.message()).as_ref());
    }

    /// Whether the MAC is right for `key` and the deadline has not passed (allowing for
    /// [`CLOCK_SKEW_MS`] between the replicas' clocks; a replay within it is refused as a second
    /// vote of the same approver).
    pub fn verify(&self, key: &[u8], now_ms: u64) -> bool {
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        let Ok(mac) = hex::decode(&self.mac) else {
            return false;
        };
        now_ms <= self.deadline_ms.saturating_add(CLOCK_SKEW_MS)
            && ring::hmac::verify(&k, &self.message(), &mac).is_ok()
    }
}

/// How far apart the replicas' clocks may be for a forwarded answer's deadline.
pub const CLOCK_SKEW_MS: u64 = 30_000;

/// Now, Unix milliseconds.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Heartbeat and this replica's holds, replaced at once; with ARGV[5] = 1 (they changed), the
/// other replicas are told on `holds`. The heartbeat is `<process instance>|<ms>|<time>`: when
/// another process (ARGV[6] is this one) beat under the same name within ARGV[7] ms, nothing is
/// written and `0` comes back (two processes must never share a replica name). Holds from ARGV[8].
const PUBLISH: &str = r#"
local p, me, ttl, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key = p .. 'replica:' .. me
local prev = redis.call('GET', key)
if prev then
  local inst, at = string.match(prev, '^([^|]+)|(%d+)|')
  if inst and inst ~= ARGV[6] and now_ms - tonumber(at) < tonumber(ARGV[7]) then return 0 end
end
redis.call('SET', key, ARGV[6] .. '|' .. now_ms .. '|' .. now, 'PX', ttl)
redis.call('SADD', p .. 'replicas', me)
local hkey = p .. 'holds:' .. me
redis.call('DEL', hkey)
for i = 8, #ARGV, 2 do redis.call('HSET', hkey, ARGV[i], ARGV[i + 1]) end
if ARGV[5] == '1' then redis.call('PUBLISH', p .. 'holds', me) end
return 1
"#;

/// The holds of the live replicas other than ARGV[2].
const OTHERS: &str = r#"
local p, me = ARGV[1], ARGV[2]
local out = {}
for _, r in ipairs(redis.call('SMEMBERS', p .. 'replicas')) do
  if r ~= me and redis.call('EXISTS', p .. 'replica:' .. r) == 1 then
    for _, v in ipairs(redis.call('HVALS', p .. 'holds:' .. r)) do out[#out + 1] = v end
  end
end
return out
"#;

/// Claims the holds of replicas whose heartbeat expired (and, with ARGV[3] = 1, this
/// replica's own holds from before a restart): read and deleted in one step.
const CLAIM: &str = r#"
local p, me, own = ARGV[1], ARGV[2], ARGV[3]
local out = {}
for _, r in ipairs(redis.call('SMEMBERS', p .. 'replicas')) do
  local dead = r ~= me and redis.call('EXISTS', p .. 'replica:' .. r) == 0
  if dead or (r == me and own == '1') then
    local hkey = p .. 'holds:' .. r
    for _, v in ipairs(redis.call('HVALS', hkey)) do out[#out + 1] = v end
    redis.call('DEL', hkey)
    if dead then redis.call('SREM', p .. 'replicas', r) end
  end
end
return out
"#;

static PUBLISH_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(PUBLISH));
static OTHERS_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(OTHERS));
static CLAIM_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(CLAIM));

/// How long a replica that forwarded a vote waits for the holder's answer.
const VOTE_WAIT: Duration = Duration::from_secs(3);

impl Cluster {
    /// Says this replica is alive and replaces the holds it publishes (`changed`: they are not
    /// the ones it published last, and the other replicas' consoles are told at once).
    /// [`ClusterError::NameTaken`] when another process runs under this replica's name.
    pub async fn publish_holds(
        &self,
        holds: &[HeldAction],
        changed: bool,
    ) -> Result<(), ClusterError> {
        let mut args: Vec<(String, String)> = Vec::with_capacity(holds.len());
        for h in holds {
            let json =
                serde_json::to_string(h).map_err(|e| ClusterError::Protocol(e.to_string()))?;
            args.push((h.id.clone(), json));
        }
        let ttl = self.settings.replica_timeout_s.saturating_mul(1000);
        let now = aarmor_core::timestamp::now_rfc3339_millis();
        // Another process's heartbeat younger than two periods: not a restart of this one.
        let taken_within = self.settings.heartbeat_s.saturating_mul(2000);
        let written = self
            .round_trip("heartbeat", async |c| {
                let mut call = PUBLISH_SCRIPT.prepare_invoke();
                call.arg(self.prefix())
                    .arg(self.replica())
                    .arg(ttl)
                    .arg(&now)
                    .arg(if changed { "1" } else { "0" })
                    .arg(self.instance())
                    .arg(taken_within);
                for (id, json) in &args {
                    call.arg(id).arg(json);
                }
                call.invoke_async::<i64>(c).await
            })
            .await?;
        let taken = written == 0;
        self.name_taken
            .store(taken, std::sync::atomic::Ordering::Release);
        if taken {
            return Err(ClusterError::NameTaken(self.replica().to_string()));
        }
        Ok(())
    }

    /// What the other live replicas hold.
    pub async fn held_by_others(&self) -> Result<Vec<HeldAction>, ClusterError> {
        let reply: Value = self
            .round_trip("holds", async |c| {
                OTHERS_SCRIPT
                    .arg(self.prefix())
                    .arg(self.replica())
                    .invoke_async(c)
                    .await
            })
            .await?;
        Ok(parse_holds(&reply))
    }

    /// Claims the holds of replicas that stopped (and, with `own`, this replica's own from
    /// before it restarted): the caller records their denial.
    pub async fn claim_lost_holds(&self, own: bool) -> Result<Vec<HeldAction>, ClusterError> {
        let reply: Value = self
            .round_trip("claim", async |c| {
                CLAIM_SCRIPT
                    .arg(self.prefix())
                    .arg(self.replica())
                    .arg(if own { "1" } else { "0" })
                    .invoke_async(c)
                    .await
            })
            .await?;
        Ok(parse_holds(&reply))
    }

    /// A connection of its own for blocking reads (a blocked read would stall the shared one).
    async fn blocking_connection(
        &self,
        wait: Duration,
    ) -> Result<redis::aio::MultiplexedConnection, ClusterError> {
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(wait + timeout));
        match tokio::time::timeout(
            timeout,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        {
            Ok(r) => r.map_err(ClusterError::Redis),
            Err(_) => Err(ClusterError::Timeout(self.settings.timeout_ms)),
        }
    }

    /// Sends a vote to the replica that holds the approval and waits for its outcome.
    /// `key`: the approver's vote key (see [`ForwardedVote`]).
    pub async fn forward_vote(
        &self,
        holder: &str,
        mut vote: ForwardedVote,
        key: &[u8],
    ) -> Result<Result<VoteOutcome, ApprovalError>, ClusterError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| ClusterError::Protocol(e.to_string()))?;
        vote.nonce = hex::encode(nonce);
        vote.from = self.replica().to_string();
        vote.deadline_ms = unix_ms() + VOTE_WAIT.as_millis() as u64;
        vote.sign(key);
        let json =
            serde_json::to_string(&vote).map_err(|e| ClusterError::Protocol(e.to_string()))?;
        let inbox = format!("{}inbox:{holder}", self.prefix());
        let reply_key = format!("{}reply:{}", self.prefix(), vote.nonce);
        let mut conn = self.blocking_connection(VOTE_WAIT).await?;
        let mut pipe = redis::pipe();
        pipe.rpush(&inbox, &json)
            .ignore()
            .pexpire(&inbox, 30_000)
            .ignore();
        pipe.query_async::<()>(&mut conn).await?;
        let answer: Option<(String, String)> =
            conn.blpop(&reply_key, VOTE_WAIT.as_secs_f64()).await?;
        let Some((_, body)) = answer else {
            // Not applied later behind the approver's back: taken back if still queued.
            let _: Result<i64, _> = conn.lrem(&inbox, 1, &json).await;
            return Err(ClusterError::Timeout(VOTE_WAIT.as_millis() as u64));
        };
        serde_json::from_str(&body).map_err(|e| ClusterError::Protocol(e.to_string()))
    }

    /// Waits (up to `wait`) for the next vote forwarded to this replica.
    pub async fn next_forwarded_vote(
        &self,
        conn: &mut Option<redis::aio::MultiplexedConnection>,
        wait: Duration,
    ) -> Result<Option<ForwardedVote>, ClusterError> {
        if conn.is_none() {
            *conn = Some(self.blocking_connection(wait).await?);
        }
        let Some(c) = conn.as_mut() else {
            return Ok(None);
        };
        let inbox = format!("{}inbox:{}", self.prefix(), self.replica());
        let got: Result<Option<(String, String)>, _> = c.blpop(&inbox, wait.as_secs_f64()).await;
        match got {
            Ok(Some((_, body))) => match serde_json::from_str(&body) {
                Ok(v) => Ok(Some(v)),
                Err(e) => {
                    tracing::warn!(error = %e, "a forwarded vote that does not parse; dropped");
                    Ok(None)
                }
            },
            Ok(None) => Ok(None),
            Err(e) => {
                *conn = None;
                Err(ClusterError::Redis(e))
            }
        }
    }

    /// Answers a forwarded vote.
    pub async fn answer_vote(
        &self,
        nonce: &str,
        outcome: &Result<VoteOutcome, ApprovalError>,
    ) -> Result<(), ClusterError> {
        let key = format!("{}reply:{nonce}", self.prefix());
        let body =
            serde_json::to_string(outcome).map_err(|e| ClusterError::Protocol(e.to_string()))?;
        self.round_trip("vote_reply", async |c| {
            let mut pipe = redis::pipe();
            pipe.rpush(&key, &body)
                .ignore()
                .pexpire(&key, 10_000)
                .ignore();
            pipe.query_async::<()>(c).await
        })
        .await
    }
}

fn parse_holds(reply: &Value) -> Vec<HeldAction> {
    let Value::Array(items) = reply else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|v| {
            let t = text(v)?;
            match serde_json::from_str(&t) {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "a held action in redis that does not parse; skipped");
                    None
                }
            }
        })
        .collect()
}
