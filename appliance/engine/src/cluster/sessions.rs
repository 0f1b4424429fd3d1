//! Session chains in Redis: attributing an exchange to a session and reading what other
//! replicas appended to it (one round trip, a script), and appending this replica's entries
//! by compare-and-append on the chain's head (one round trip, a script).
//!
//! Invariant: the append script adds entries only when the chain's head is the one they chain
//! onto (`seq` and `hash`); otherwise it returns what was appended since, and the entries are
//! re-chained after it ([`ContextStore::rebase`]). Two replicas can never fork a chain.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use aarmor_core::SessionId;
use redis::Value;

use super::{text, Cluster, ClusterError};
use crate::context::agent_reads::SharedRead;
use crate::context::{Absorbed, ContextEntry, ContextStore, Outbox, RemoteChain, SessionHead};

/// Resolves the session (`mode`: `set` records `candidate` as the agent's active session,
/// `active` reads the agent's active session or records `candidate`, `none` takes
/// `candidate`), then returns `{session, head, base, entries from ARGV[6], agent's reads}`
/// (`head` and `base` empty when the session has no chain; no reads without an agent).
const READ: &str = r#"
local p, agent, mode, session, guess = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local from, ttl = tonumber(ARGV[6]), tonumber(ARGV[7])
if mode ~= 'none' then
  local akey = p .. 'active:' .. agent
  if mode == 'active' then
    local a = redis.call('GET', akey)
    if a then
      session = a
      redis.call('PEXPIRE', akey, ttl)
    else
      redis.call('SET', akey, session, 'PX', ttl)
    end
  else
    redis.call('SET', akey, session, 'PX', ttl)
  end
end
local reads = {}
if agent ~= '' then reads = redis.call('LRANGE', p .. 'reads:' .. agent, 0, -1) end
local h = redis.call('HMGET', p .. 'head:' .. session, 'head', 'base')
if not h[1] then return {session, '', '', {}, reads} end
local base = tonumber(h[2])
if session ~= guess or from < base then from = base end
return {session, h[1], h[2], redis.call('LRANGE', p .. 'log:' .. session, from - base, -1), reads}
"#;

/// Shares the agent's reads (ARGV[13] of them, from ARGV[14]), then appends the entries after
/// them when the chain's head is (ARGV[3] - 1, ARGV[4]) (or there is no chain) and publishes
/// the session on `changed`: `{1}`; `{1}` too when the head already is the one the entries end
/// at (a retry of an append whose answer was lost). Else `{0, head, base, entries from ARGV[3]}`
/// (from `base` when the caller is ahead of the chain). The chain is never trimmed: a fold
/// appends its summary entry, and every replica can still read the whole session.
const APPEND: &str = r#"
local p, session = ARGV[1], ARGV[2]
local k = tonumber(ARGV[13])
if k > 0 then
  local rkey = p .. 'reads:' .. ARGV[11]
  for i = 14, 13 + k do redis.call('RPUSH', rkey, ARGV[i]) end
  redis.call('LTRIM', rkey, -512, -1)
  redis.call('PEXPIRE', rkey, tonumber(ARGV[12]))
end
local hkey, lkey = p .. 'head:' .. session, p .. 'log:' .. session
local expected = tonumber(ARGV[3])
local h = redis.call('HMGET', hkey, 'seq', 'hash', 'base', 'head')
local base
if h[1] then
  if tonumber(h[1]) == tonumber(ARGV[6]) and h[2] == ARGV[7] then return {1} end
  base = tonumber(h[3])
  local next = tonumber(h[1]) + 1
  if next ~= expected or h[2] ~= ARGV[4] then
    local from = expected
    if from < base or from > next then from = base end
    return {0, h[4], h[3], redis.call('LRANGE', lkey, from - base, -1)}
  end
else
  base = expected
  redis.call('DEL', lkey)
end
for i = 14 + k, #ARGV do redis.call('RPUSH', lkey, ARGV[i]) end
redis.call('HSET', hkey, 'head', ARGV[5], 'seq', ARGV[6], 'hash', ARGV[7], 'base', tostring(base))
local ttl = tonumber(ARGV[9])
redis.call('PEXPIRE', hkey, ttl)
redis.call('PEXPIRE', lkey, ttl)
redis.call('PUBLISH', p .. 'changed', ARGV[10] .. ' ' .. session)
return {1}
"#;

static READ_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(READ));
static APPEND_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(APPEND));

/// Appends retried after a conflict before the action is refused.
const MAX_APPEND_ATTEMPTS: u32 = 8;

/// How an exchange names its session.
pub enum Naming<'a> {
    /// The `x-aarm-session` header or the conversation: it becomes the agent's active session.
    Named(SessionId),
    /// Neither: the agent's active session, else its default one.
    Active { agent: &'a str },
}

impl Cluster {
    fn reads_ttl_ms(&self) -> u64 {
        self.settings.session_retention_s.saturating_mul(1000)
    }

    /// Shares reads alone (their session had nothing else to append).
    async fn share_reads(&self, agent: &str, reads: &[SharedRead]) -> Result<(), ClusterError> {
        let key = format!("{}reads:{agent}", self.prefix());
        let mut lines = Vec::with_capacity(reads.len());
        for r in reads {
            lines
                .push(serde_json::to_string(r).map_err(|e| ClusterError::Protocol(e.to_string()))?);
        }
        let ttl = self.reads_ttl_ms();
        self.round_trip("reads", async |c| {
            let mut pipe = redis::pipe();
            for l in &lines {
                pipe.rpush(&key, l).ignore();
            }
            pipe.ltrim(&key, -512, -1)
                .ignore()
                .pexpire(&key, ttl as i64)
                .ignore();
            pipe.query_async::<()>(c).await
        })
        .await
    }

    fn retention_ms(&self) -> u64 {
        self.settings.session_retention_s.saturating_mul(1000)
    }

    fn active_ttl_ms(&self, ctx: &ContextStore) -> u64 {
        ctx.settings().session_ttl_s.max(1).saturating_mul(1000)
    }

    /// The exchange's session, read fresh from Redis (one round trip): the agent's active
    /// session is shared, so an action lands in the conversation the agent had on any replica.
    pub async fn attribute(
        &self,
        ctx: &ContextStore,
        agent: &str,
        naming: Naming<'_>,
    ) -> Result<SessionId, ClusterError> {
        let (mode, candidate, guess) = match naming {
            Naming::Named(s) => ("set", s.clone(), s),
            Naming::Active { agent } => {
                let default = SessionId::agent_default(agent);
                let guess = ctx.active_session(agent).unwrap_or_else(|| default.clone());
                ("active", default, guess)
            }
        };
        let session = self.read(ctx, agent, mode, &candidate, &guess).await?;
        ctx.set_active(agent, &session);
        self.attributed(&session);
        Ok(session)
    }

    /// Brings this replica's copy of the session up to the shared chain, unless it was read
    /// within `sync_max_age_ms` and no other replica has announced a change to it since; first
    /// pushes what this replica appended.
    pub async fn sync(&self, ctx: &ContextStore, session: &SessionId) -> Result<(), ClusterError> {
        let fresh = Duration::from_millis(self.settings.sync_max_age_ms);
        let recent = self
            .synced
            .lock()
            .ok()
            .and_then(|mut s| s.get(&session.0).copied())
            .is_some_and(|at| at.elapsed() <= fresh);
        if recent && !ctx.unpushed(session) {
            return Ok(());
        }
        self.catch_up(ctx, session, None).await
    }

    /// Resolves the session and reads it (one round trip, see [`READ`]); a second one only when
    /// the agent's active session is not the one this replica guessed, or its copy of it does
    /// not continue the shared chain.
    async fn read(
        &self,
        ctx: &ContextStore,
        agent: &str,
        mode: &str,
        candidate: &SessionId,
        guess: &SessionId,
    ) -> Result<SessionId, ClusterError> {
        let (session, remote) = {
            let _serial = self.stripe(&guess.0).lock().await;
            self.push_locked(ctx, guess).await?;
            let from = ctx.next_seq(guess);
            let reply = self
                .read_once(ctx, agent, mode, candidate, guess, from)
                .await?;
            let (session, remote, reads) = parse_read(&reply)?;
            let session = SessionId(session);
            if !agent.is_empty() {
                ctx.absorb_reads(agent, &reads);
            }
            if session == *guess {
                if ctx.absorb(&session, remote) == Absorbed::InStep {
                    self.mark_synced(&session);
                    return Ok(session);
                }
                (session, None)
            } else {
                (session, Some(remote))
            }
        };
        self.catch_up(ctx, &session, remote).await?;
        Ok(session)
    }

    /// Pushes, then absorbs `first` (a read already made) or reads the session until this
    /// replica's copy is in step with the shared chain (at most three reads).
    async fn catch_up(
        &self,
        ctx: &ContextStore,
        session: &SessionId,
        mut first: Option<RemoteChain>,
    ) -> Result<(), ClusterError> {
        let _serial = self.stripe(&session.0).lock().await;
        if ctx.unpushed(session) {
            // A read made before this push is older than the copy now: read again.
            first = None;
        }
        self.push_locked(ctx, session).await?;
        let mut from = ctx.next_seq(session);
        for _ in 0..3 {
            let remote = match first.take() {
                Some(r) => r,
                None => {
                    let reply = self
                        .read_once(ctx, "", "none", session, session, from)
                        .await?;
                    parse_read(&reply)?.1
                }
            };
            match ctx.absorb(session, remote) {
                Absorbed::InStep => {
                    self.mark_synced(session);
                    return Ok(());
                }
                Absorbed::NeedsFrom(base) => from = base,
                Absorbed::Unpushed => {
                    self.push_locked(ctx, session).await?;
                    from = ctx.next_seq(session);
                }
            }
        }
        Err(ClusterError::Protocol(format!(
            "session {} could not be brought up to its shared chain",
            session.0
        )))
    }

    async fn read_once(
        &self,
        ctx: &ContextStore,
        agent: &str,
        mode: &str,
        candidate: &SessionId,
        guess: &SessionId,
        from: u64,
    ) -> Result<Value, ClusterError> {
        let script = &*READ_SCRIPT;
        let ttl = self.active_ttl_ms(ctx);
        self.round_trip("read", async |c| {
            script
                .arg(self.prefix())
                .arg(agent)
                .arg(mode)
                .arg(&candidate.0)
                .arg(&guess.0)
                .arg(from)
                .arg(ttl)
                .invoke_async(c)
                .await
        })
        .await
    }

    /// Reads the session from Redis, however recently it was read (a held action decided again).
    pub async fn sync_now(
        &self,
        ctx: &ContextStore,
        session: &SessionId,
    ) -> Result<(), ClusterError> {
        self.forget_synced(&session.0);
        self.catch_up(ctx, session, None).await
    }

    /// An exchange could not be attributed through Redis and went to `session` by this
    /// replica's guess: actions in it are refused until an attribution succeeds (the agent's
    /// real active session may be another one, with context the guess does not have).
    pub fn unattributed(&self, session: &SessionId) {
        if let Ok(mut u) = self.unattributed.lock() {
            u.put(session.0.clone(), Instant::now());
        }
    }

    fn attributed(&self, session: &SessionId) {
        if let Ok(mut u) = self.unattributed.lock() {
            u.pop(&session.0);
        }
    }

    /// Whether `session` was a guess made while Redis could not be asked (within the TTL).
    pub fn is_unattributed(&self, session: &SessionId) -> bool {
        const GUESS_TTL: Duration = Duration::from_secs(30);
        self.unattributed
            .lock()
            .ok()
            .and_then(|mut u| u.get(&session.0).copied())
            .is_some_and(|at| at.elapsed() <= GUESS_TTL)
    }

    /// Every session is read again at its next decision.
    pub fn forget_all_synced(&self) {
        if let Ok(mut s) = self.synced.lock() {
            s.clear();
        }
    }

    /// Another replica changed the session: the next decision reads it again.
    pub fn forget_synced(&self, session: &str) {
        if let Ok(mut s) = self.synced.lock() {
            s.pop(session);
        }
    }

    fn mark_synced(&self, session: &SessionId) {
        if let Ok(mut s) = self.synced.lock() {
            s.put(session.0.clone(), Instant::now());
        }
    }

    /// Appends what this replica recorded in the session to the shared chain (nothing to do
    /// when it recorded nothing).
    pub async fn push(&self, ctx: &ContextStore, session: &SessionId) -> Result<(), ClusterError> {
        let agent = ctx.agent_of(session).unwrap_or_default();
        if !ctx.unpushed(session) && !ctx.has_unshared_reads(&agent) {
            return Ok(());
        }
        let _serial = self.stripe(&session.0).lock().await;
        self.push_locked(ctx, session).await
    }

    async fn push_locked(
        &self,
        ctx: &ContextStore,
        session: &SessionId,
    ) -> Result<(), ClusterError> {
        let agent = ctx.agent_of(session).unwrap_or_default();
        // The agent's reads go with the first attempt (they are facts whatever the chain does).
        let mut reads = ctx.take_unshared_reads(&agent);
        for attempt in 0..MAX_APPEND_ATTEMPTS {
            let Some(outbox) = ctx.outbox(session) else {
                if !reads.is_empty() {
                    if let Err(e) = self.share_reads(&agent, &reads).await {
                        ctx.unshare_reads(&agent, reads);
                        return Err(e);
                    }
                }
                return Ok(());
            };
            let appended = self.append(session, &outbox, &agent, &reads).await;
            if appended.is_err() {
                ctx.unshare_reads(&agent, std::mem::take(&mut reads));
            }
            reads.clear();
            match appended? {
                None => {
                    ctx.pushed(session, &outbox);
                    self.mark_synced(session);
                    return Ok(());
                }
                Some(remote) => {
                    self.metrics.conflicts.inc();
                    tracing::debug!(session = %session, attempt, "another replica appended first; re-chaining");
                    if ctx.rebase(session, remote).is_none() {
                        return Ok(());
                    }
                }
            }
        }
        Err(ClusterError::Contended(MAX_APPEND_ATTEMPTS))
    }

    /// One compare-and-append; `Some` is what the chain holds beyond the outbox's base.
    async fn append(
        &self,
        session: &SessionId,
        outbox: &Outbox,
        agent: &str,
        reads: &[SharedRead],
    ) -> Result<Option<RemoteChain>, ClusterError> {
        let head = outbox
            .head
            .clone()
            .ok_or_else(|| ClusterError::Protocol("an outbox without a head".into()))?;
        let head_json =
            serde_json::to_string(&head).map_err(|e| ClusterError::Protocol(e.to_string()))?;
        let mut entries = Vec::with_capacity(outbox.entries.len());
        for e in &outbox.entries {
            let bytes = aarmor_core::receipt::canonical_json(e)
                .map_err(|e| ClusterError::Protocol(e.to_string()))?;
            entries.push(bytes);
        }
        let script = &*APPEND_SCRIPT;
        let retention = self.retention_ms();
        let reads_ttl = self.reads_ttl_ms();
        let mut shared_reads = Vec::with_capacity(reads.len());
        for r in reads {
            shared_reads
                .push(serde_json::to_string(r).map_err(|e| ClusterError::Protocol(e.to_string()))?);
        }
        let reply: Value = self
            .round_trip("append", async |c| {
                let mut call = script.prepare_invoke();
                call.arg(self.prefix())
                    .arg(&session.0)
                    .arg(outbox.base_next)
                    .arg(&outbox.base_hash)
                    .arg(&head_json)
                    .arg(head.seq)
                    .arg(&head.hash)
                    .arg(0)
                    .arg(retention)
                    .arg(self.replica())
                    .arg(agent)
                    .arg(reads_ttl)
                    .arg(shared_reads.len());
                for r in &shared_reads {
                    call.arg(r.as_str());
                }
                for e in &entries {
                    call.arg(e.as_slice());
                }
                call.invoke_async(c).await
            })
            .await?;
        let Value::Array(items) = &reply else {
            return Err(ClusterError::Protocol("append: not an array".into()));
        };
        match items.first() {
            Some(Value::Int(1)) => Ok(None),
            Some(Value::Int(0)) => Ok(Some(parse_chain(&items[1..])?)),
            _ => Err(ClusterError::Protocol("append: unknown answer".into())),
        }
    }
}

/// `{session, head, base, entries, reads}` (`head` empty: the session has no chain).
fn parse_read(reply: &Value) -> Result<(String, RemoteChain, Vec<SharedRead>), ClusterError> {
    let Value::Array(items) = reply else {
        return Err(ClusterError::Protocol("read: not an array".into()));
    };
    let session = items
        .first()
        .and_then(text)
        .ok_or_else(|| ClusterError::Protocol("read: no session".into()))?;
    let mut reads = Vec::new();
    if let Some(Value::Array(list)) = items.get(4) {
        for v in list {
            // A read that does not parse is skipped: it only ever adds to what policy sees.
            if let Some(r) = text(v).and_then(|t| serde_json::from_str(&t).ok()) {
                reads.push(r);
            }
        }
    }
    if items.get(1).and_then(text).is_none_or(|h| h.is_empty()) {
        return Ok((session, RemoteChain::default(), reads));
    }
    Ok((session, parse_chain(&items[1..4])?, reads))
}

/// `{head, base, entries}`.
fn parse_chain(items: &[Value]) -> Result<RemoteChain, ClusterError> {
    let bad = |what: &str| ClusterError::Protocol(format!("chain: {what}"));
    let head: SessionHead = items
        .first()
        .and_then(text)
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| bad("head"))?;
    let base: u64 = items
        .get(1)
        .and_then(text)
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| bad("base"))?;
    let mut entries = Vec::new();
    if let Some(Value::Array(list)) = items.get(2) {
        for v in list {
            let e: ContextEntry = text(v)
                .and_then(|t| serde_json::from_str(&t).ok())
                .ok_or_else(|| bad("entry"))?;
            entries.push(e);
        }
    }
    Ok(RemoteChain {
        head: Some(head),
        base,
        entries,
    })
}
