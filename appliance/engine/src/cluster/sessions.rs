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
use crate::context::agent_reads::SharedReads;
use crate::context::{Absorbed, ContextEntry, ContextStore, Outbox, RemoteChain, SessionHead};

/// Lua that merges the agent's reads (ARGV[13], a JSON aggregate; empty: none) into
/// `reads:<ARGV[11]>`, expiring after ARGV[12] ms: classes and labels as sets, the newest 256
/// distinct entities.
macro_rules! merge_reads {
    () => {
        r#"
if ARGV[13] ~= '' then
  local rkey = p .. 'reads:' .. ARGV[11]
  local cur = redis.call('GET', rkey)
  local a = cur and cjson.decode(cur) or {}
  local b = cjson.decode(ARGV[13])
  local function union(x, y)
    local seen, out = {}, {}
    for _, v in ipairs(x or {}) do if not seen[v] then seen[v] = true; out[#out + 1] = v end end
    for _, v in ipairs(y or {}) do if not seen[v] then seen[v] = true; out[#out + 1] = v end end
    return out
  end
  a.classes = union(a.classes, b.classes)
  a.labels = union(a.labels, b.labels)
  local seen, ents = {}, {}
  for _, list in ipairs({a.entities or {}, b.entities or {}}) do
    for _, e in ipairs(list) do
      local k = tostring(e.kind) .. '\0' .. tostring(e.value)
      if not seen[k] then seen[k] = true; ents[#ents + 1] = e end
    end
  end
  while #ents > 256 do table.remove(ents, 1) end
  a.entities = ents
  redis.call('SET', rkey, cjson.encode(a), 'PX', tonumber(ARGV[12]))
end
"#
    };
}

/// Merges reads alone (ARGV as [`APPEND`]'s 11 to 13; the rest unused).
const READS: &str = concat!("local p = ARGV[1]\n", merge_reads!(), "return 1\n");

/// Resolves the session (`mode`: `set` records `candidate` as the agent's active session,
/// `active` reads the agent's active session or records `candidate`, `none` takes
/// `candidate`), then returns `{session, head, start, entries, agent's reads}`: the entries
/// from ARGV[6] when this replica's copy continues the chain (`start` is then the first seq
/// Redis keeps); for another session than ARGV[5], or ARGV[6] = -1 or older than what Redis
/// keeps, from the latest summary entry (`fold`), else the first kept entry, and `start` is
/// that seq: the caller rebuilds its copy from there. `head` is empty when there is no chain.
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
local reads = ''
if agent ~= '' then reads = redis.call('GET', p .. 'reads:' .. agent) or '' end
local h = redis.call('HMGET', p .. 'head:' .. session, 'head', 'base', 'fold')
if not h[1] then return {session, '', '', {}, reads} end
local base, fold = tonumber(h[2]), tonumber(h[3] or '0')
local start = base
if session ~= guess or from < base then
  from = base
  if fold > base then from = fold end
  start = from
end
return {session, h[1], tostring(start), redis.call('LRANGE', p .. 'log:' .. session, from - base, -1), reads}
"#;

/// Merges the agent's reads (ARGV[13], a JSON aggregate, empty for none) into `reads:<agent>`
/// (expiring after ARGV[12] ms), then appends the entries ARGV[14..] when the chain's head is
/// (ARGV[3] - 1, ARGV[4]) (or there is no chain) and publishes the session on `changed`: `{1}`;
/// `{1}` too when the head already is the one the entries end at (a retry of an append whose
/// answer was lost). Else `{0, head, base, entries from ARGV[3]}` (from `base` when the caller is
/// ahead of the chain). ARGV[8] > 0: the entries fold the session (a summary entry at that seq):
/// the log keeps the previous summary onward, so it stays bounded and every replica can rebuild
/// the session from the latest summary.
const APPEND: &str = concat!(
    r#"
local p, session = ARGV[1], ARGV[2]
"#,
    merge_reads!(),
    r#"
local hkey, lkey = p .. 'head:' .. session, p .. 'log:' .. session
local expected = tonumber(ARGV[3])
local h = redis.call('HMGET', hkey, 'seq', 'hash', 'base', 'head', 'fold')
local base
if h[1] then
  if tonumber(h[1]) == tonumber(ARGV[6]) and h[2] == ARGV[7] then return {1} end
  base = tonumber(h[3])
  local next = tonumber(h[1]) + 1
  if next ~= expected or h[2] ~= ARGV[4] then
    local from = expected
    if from < base or from > next then from = base end
    return {0, h[4], tostring(from), redis.call('LRANGE', lkey, from - base, -1)}
  end
else
  base = expected
  redis.call('DEL', lkey)
end
for i = 14, #ARGV do redis.call('RPUSH', lkey, ARGV[i]) end
local fields = {'head', ARGV[5], 'seq', ARGV[6], 'hash', ARGV[7]}
local fold = tonumber(ARGV[8])
if fold > 0 then
  local previous = tonumber(h[5] or '0')
  if previous > base then
    redis.call('LTRIM', lkey, previous - base, -1)
    base = previous
  end
  fields[#fields + 1] = 'fold'
  fields[#fields + 1] = tostring(fold)
end
fields[#fields + 1] = 'base'
fields[#fields + 1] = tostring(base)
redis.call('HSET', hkey, unpack(fields))
local ttl = tonumber(ARGV[9])
redis.call('PEXPIRE', hkey, ttl)
redis.call('PEXPIRE', lkey, ttl)
redis.call('PUBLISH', p .. 'changed', ARGV[10] .. ' ' .. session)
return {1}
"#
);

static READ_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(READ));
static APPEND_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(APPEND));
static READS_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(READS));

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
    /// Shares reads alone (their session had nothing else to append).
    async fn share_reads(
        &self,
        ctx: &ContextStore,
        agent: &str,
        reads: &SharedReads,
    ) -> Result<(), ClusterError> {
        let json =
            serde_json::to_string(reads).map_err(|e| ClusterError::Protocol(e.to_string()))?;
        let ttl = session_ttl_ms(ctx);
        let script = &*READS_SCRIPT;
        self.round_trip("reads", async |c| {
            let mut call = script.prepare_invoke();
            call.arg(self.prefix());
            for _ in 2..=10 {
                call.arg("");
            }
            call.arg(agent).arg(ttl).arg(&json);
            call.invoke_async::<i64>(c).await
        })
        .await?;
        Ok(())
    }

    fn retention_ms(&self) -> u64 {
        self.settings.session_retention_s.saturating_mul(1000)
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
            let from = ctx.next_seq(guess) as i64;
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
        if first
            .as_ref()
            .and_then(|r| r.head.as_ref())
            .is_some_and(|h| h.seq + 1 < ctx.next_seq(session))
        {
            // Another task of this replica appended after that read was made: read again.
            first = None;
        }
        self.push_locked(ctx, session).await?;
        // The session's owner: its reads are read with the chain.
        let agent = ctx.agent_of(session).unwrap_or_default();
        let mut from = ctx.next_seq(session) as i64;
        for _ in 0..3 {
            let remote = match first.take() {
                Some(r) => r,
                None => {
                    let reply = self
                        .read_once(ctx, &agent, "none", session, session, from)
                        .await?;
                    let (_, remote, reads) = parse_read(&reply)?;
                    if !agent.is_empty() {
                        ctx.absorb_reads(&agent, &reads);
                    }
                    remote
                }
            };
            match ctx.absorb(session, remote) {
                Absorbed::InStep => {
                    self.mark_synced(session);
                    return Ok(());
                }
                // Rebuilt from the latest summary (or the first entry Redis keeps).
                Absorbed::NeedsFrom(_) => from = -1,
                Absorbed::Unpushed => {
                    self.push_locked(ctx, session).await?;
                    from = ctx.next_seq(session) as i64;
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
        from: i64,
    ) -> Result<Value, ClusterError> {
        let script = &*READ_SCRIPT;
        let ttl = session_ttl_ms(ctx);
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
        if ctx.take_unrecorded(session) {
            return Err(ClusterError::Protocol(
                "no room in memory for another session with unshared context; not recorded".into(),
            ));
        }
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
                    if let Err(e) = self.share_reads(ctx, &agent, &reads).await {
                        ctx.unshare_reads(&agent, reads);
                        return Err(e);
                    }
                }
                return Ok(());
            };
            let appended = self.append(ctx, session, &outbox, &agent, &reads).await;
            if appended.is_err() {
                ctx.unshare_reads(&agent, std::mem::take(&mut reads));
            }
            reads = SharedReads::default();
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
        ctx: &ContextStore,
        session: &SessionId,
        outbox: &Outbox,
        agent: &str,
        reads: &SharedReads,
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
        let reads_ttl = session_ttl_ms(ctx);
        let shared_reads = if reads.is_empty() {
            String::new()
        } else {
            serde_json::to_string(reads).map_err(|e| ClusterError::Protocol(e.to_string()))?
        };
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
                    .arg(outbox.fold_below.unwrap_or(0))
                    .arg(retention)
                    .arg(self.replica())
                    .arg(agent)
                    .arg(reads_ttl)
                    .arg(&shared_reads);
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

/// `{session, head, start, entries, reads}` (`head` empty: the session has no chain).
fn parse_read(reply: &Value) -> Result<(String, RemoteChain, SharedReads), ClusterError> {
    let Value::Array(items) = reply else {
        return Err(ClusterError::Protocol("read: not an array".into()));
    };
    let session = items
        .first()
        .and_then(text)
        .ok_or_else(|| ClusterError::Protocol("read: no session".into()))?;
    // Reads that do not parse are left out: they only ever add to what policy sees.
    let reads = items
        .get(4)
        .and_then(text)
        .filter(|t| !t.is_empty())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    if items.get(1).and_then(text).is_none_or(|h| h.is_empty()) {
        return Ok((session, RemoteChain::default(), reads));
    }
    Ok((session, parse_chain(&items[1..4])?, reads))
}

/// `[context] session_ttl_s` in ms: how long an agent's active session stays active, and how
/// long Redis keeps its reads (as long as a replica keeps them).
fn session_ttl_ms(ctx: &ContextStore) -> u64 {
    ctx.settings().session_ttl_s.max(1).saturating_mul(1000)
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
