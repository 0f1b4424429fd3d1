//! Shared mode (`[cluster]`): the session chains live in a store all replicas share, and this
//! replica's memory and LMDB log follow it. What a replica appends waits in the session's
//! outbox until the shared store confirms it; what other replicas appended is absorbed.
//!
//! Invariants:
//! - A session's chain in the shared store only ever grows by a compare-and-append on its head
//!   (see `crate::cluster::sessions`): two replicas cannot fork it. An append that lost the race
//!   is re-chained after the winner's entries ([`ContextStore::rebase`]) and tried again.
//! - The local LMDB log receives an entry only once the shared store holds it, so it is always
//!   a prefix-consistent copy of the shared chain (entries folded away there may remain here).
//! - A session whose outbox is not empty has effects the other replicas cannot see yet: the
//!   engine decides nothing in it until the outbox is confirmed (fail closed).

use super::*;

/// Entries a session may hold unconfirmed (while Redis is away) before more are dropped.
pub const MAX_OUTBOX: usize = 4096;

/// What a replica appended to a session and the shared store has not confirmed.
#[derive(Debug, Default, Clone)]
pub struct Outbox {
    /// The position the first entry chains onto: the session's next seq and head hash then.
    pub base_next: u64,
    pub base_hash: String,
    /// Entries for the shared store, in chain order.
    pub entries: Vec<ContextEntry>,
    /// When the session was folded: entries below this seq are replaced by a summary entry.
    pub fold_below: Option<u64>,
    /// The head after the last entry.
    pub head: Option<SessionHead>,
    /// Entries other replicas appended, absorbed while this outbox waited: already in the
    /// shared store, written to LMDB together with the outbox.
    pub absorbed: Vec<ContextEntry>,
}

impl Outbox {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds the ops of one update (chained onto the state's head before it ran).
    fn add(&mut self, ops: Vec<LogOp>, before_next: u64, before_hash: &str) {
        if self.entries.is_empty() {
            self.base_next = before_next;
            self.base_hash = before_hash.to_string();
        }
        for op in ops {
            match op {
                LogOp::Put(e) => self.entries.push(e),
                LogOp::Head(_, h) => self.head = Some(h),
                LogOp::Fold { below, .. } => self.fold_below = Some(below),
            }
        }
    }

    /// The LMDB ops that store what the shared store confirmed.
    fn log_ops(&self, session: &str) -> Vec<LogOp> {
        let mut ops = Vec::with_capacity(self.absorbed.len() + self.entries.len() + 2);
        for e in self.absorbed.iter().chain(&self.entries) {
            if e.kind == EntryKind::Summary {
                ops.push(LogOp::Fold {
                    session: session.to_string(),
                    below: e.seq,
                });
            }
            ops.push(LogOp::Put(e.clone()));
        }
        if let Some(h) = &self.head {
            ops.push(LogOp::Head(session.to_string(), h.clone()));
        }
        ops
    }
}

/// A session's chain as the shared store holds it from some seq on.
#[derive(Debug, Clone, Default)]
pub struct RemoteChain {
    /// The head; `None` when the shared store has no chain for the session.
    pub head: Option<SessionHead>,
    /// The first seq the store still holds (older entries were folded into a summary).
    pub base: u64,
    /// Entries from the seq asked for (or `base`, if older) to the head.
    pub entries: Vec<ContextEntry>,
}

/// What [`ContextStore::absorb`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Absorbed {
    /// The session now matches the shared chain.
    InStep,
    /// The entries do not continue this replica's copy (folded past it, or it diverged): read
    /// the chain from `base` and absorb it into a fresh state.
    NeedsFrom(u64),
    /// The session has an unconfirmed outbox: push it first.
    Unpushed,
}

impl ContextStore {
    /// Shared mode: appends go to the session's outbox, not to LMDB (see the module docs).
    pub fn share(&self) {
        self.shared.store(true, Ordering::Release);
    }

    pub fn is_shared(&self) -> bool {
        self.shared.load(Ordering::Acquire)
    }

    /// Where this replica's copy of the session ends: the seq of its next entry.
    pub fn next_seq(&self, session: &SessionId) -> u64 {
        {
            let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = sessions.get(&session.0) {
                return s.next_seq;
            }
        }
        match self.log.head(&session.0) {
            Ok(Some(h)) => h.seq + 1,
            _ => 0,
        }
    }

    /// Whether the session has appends the shared store has not confirmed.
    pub fn unpushed(&self, session: &SessionId) -> bool {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .get(&session.0)
            .is_some_and(|s| !s.outbox.is_empty())
    }

    /// The session's outbox (a copy: it stays until [`Self::pushed`] confirms it).
    pub fn outbox(&self, session: &SessionId) -> Option<Outbox> {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .get(&session.0)
            .map(|s| s.outbox.clone())
            .filter(|o| !o.is_empty())
    }

    /// Sessions with an unconfirmed outbox (retried in the background).
    pub fn unpushed_sessions(&self) -> Vec<SessionId> {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .values()
            .filter(|s| !s.outbox.is_empty())
            .map(|s| SessionId(s.id.clone()))
            .collect()
    }

    /// The shared store holds `pushed` (through its last entry): it is written to LMDB and
    /// leaves the outbox. Entries appended since stay for the next push.
    pub fn pushed(&self, session: &SessionId, pushed: &Outbox) {
        let ops = {
            let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = sessions.get_mut(&session.0) {
                let n = pushed.entries.len().min(s.outbox.entries.len());
                let same = s.outbox.entries[..n]
                    .iter()
                    .zip(&pushed.entries)
                    .all(|(a, b)| a.seq == b.seq && a.prev_hash == b.prev_hash);
                if same {
                    let rest: Vec<ContextEntry> = s.outbox.entries.drain(n..).collect();
                    let mut next = Outbox::default();
                    if let Some(first) = rest.first() {
                        next.base_next = first.seq;
                        next.base_hash = first.prev_hash.clone();
                        next.head = s.outbox.head.clone();
                    }
                    next.entries = rest;
                    s.outbox = next;
                }
            }
            pushed.log_ops(&session.0)
        };
        self.writer.send(ops);
    }

    /// Applies what the shared store holds beyond this replica's copy of the session.
    pub fn absorb(&self, session: &SessionId, remote: RemoteChain) -> Absorbed {
        let Some(head) = remote.head else {
            // Nothing shared yet (or the store lost it): this replica's copy stands, and its
            // next append starts the shared chain where the copy ends.
            return Absorbed::InStep;
        };
        let max_text = self.settings.max_text_bytes;
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if !self.admit(&mut sessions, &session.0, &head.agent) {
            return Absorbed::Unpushed;
        }
        let Some(state) = sessions.get_mut(&session.0) else {
            return Absorbed::InStep;
        };
        if !state.outbox.is_empty() {
            return Absorbed::Unpushed;
        }
        if head.seq + 1 == state.next_seq && head.hash == state.head_hash {
            return Absorbed::InStep;
        }
        let continues = remote
            .entries
            .first()
            .is_some_and(|e| e.seq == state.next_seq && e.prev_hash == state.head_hash);
        if !continues {
            match remote.entries.first() {
                // The chain from its base: it replaces whatever this replica had (a copy
                // older than a fold, or one that diverged from the shared chain).
                Some(first) if first.seq == remote.base => {
                    let mut fresh = SessionState::new(
                        &session.0,
                        &head.agent,
                        head.started.clone(),
                        &first.prev_hash,
                    );
                    fresh.next_seq = first.seq;
                    *state = fresh;
                }
                _ => {
                    tracing::warn!(session = %session, local_next = state.next_seq, shared_head = head.seq, "this replica's copy of the session does not continue the shared chain; reading it from its base");
                    return Absorbed::NeedsFrom(remote.base);
                }
            }
        }
        let mut absorbed = Outbox::default();
        for e in &remote.entries {
            if e.seq != state.next_seq || e.prev_hash != state.head_hash {
                tracing::warn!(session = %session, seq = e.seq, "a shared context entry does not chain onto the one before it; not absorbed");
                break;
            }
            replay(state, e, max_text);
            state.next_seq = e.seq + 1;
            state.head_hash = e.hash();
            state.entries = if e.kind == EntryKind::Summary {
                1
            } else {
                state.entries + 1
            };
            absorbed.absorbed.push(e.clone());
        }
        state.last_seen = Instant::now();
        absorbed.head = Some(SessionHead {
            seq: state.next_seq.saturating_sub(1),
            hash: state.head_hash.clone(),
            entries: state.entries,
            ..head
        });
        drop(sessions);
        self.metrics.count(
            &absorbed
                .absorbed
                .iter()
                .cloned()
                .map(LogOp::Put)
                .collect::<Vec<_>>(),
        );
        self.writer.send(absorbed.log_ops(&session.0));
        Absorbed::InStep
    }

    /// The shared store refused the outbox (another replica appended first): applies what it
    /// appended, re-chains the outbox after it, and returns the outbox to try again. A fold the
    /// outbox carried is dropped (it summarized a chain that has grown since; the next update
    /// folds again if the session is still too long).
    pub fn rebase(&self, session: &SessionId, remote: RemoteChain) -> Option<Outbox> {
        let head = remote.head?;
        let max_text = self.settings.max_text_bytes;
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let state = sessions.get_mut(&session.0)?;
        let mut outbox = std::mem::take(&mut state.outbox);
        if outbox.fold_below.take().is_some() {
            outbox.entries.retain(|e| e.kind != EntryKind::Summary);
        }
        // Entries of this outbox the store already holds (an append whose answer was lost,
        // overtaken since) are neither appended nor applied twice.
        let ours: std::collections::HashSet<String> =
            outbox.entries.iter().map(ContextEntry::hash).collect();
        let held: std::collections::HashSet<String> =
            remote.entries.iter().map(ContextEntry::hash).collect();
        outbox.entries.retain(|e| !held.contains(&e.hash()));
        for e in &remote.entries {
            if !ours.contains(&e.hash()) {
                replay(state, e, max_text);
            }
        }
        outbox.absorbed.extend(remote.entries.iter().cloned());
        outbox.base_next = head.seq + 1;
        outbox.base_hash = head.hash.clone();
        let (mut seq, mut prev) = (head.seq + 1, head.hash.clone());
        for e in &mut outbox.entries {
            e.seq = seq;
            e.prev_hash = prev;
            prev = e.hash();
            seq += 1;
        }
        state.next_seq = seq;
        state.head_hash = prev;
        state.entries = head.entries + outbox.entries.len() as u64;
        outbox.head = Some(appender::head_of(state));
        state.outbox = outbox.clone();
        Some(outbox)
    }

    /// Queues a read for the other replicas (an agent's reads count in all its sessions).
    pub(super) fn queue_shared_read(
        &self,
        agent: &str,
        c: &aarmor_core::Classification,
        found: &[entities::Entity],
    ) {
        let mut pending = self
            .unshared_reads
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Bounded by the agents there are (one aggregate each); an agent past `max_sessions`
        // waits with its session's outbox, whose actions are refused meanwhile.
        if !pending.contains_key(agent) && pending.len() >= self.settings.max_sessions {
            tracing::warn!(
                agent,
                "too many agents with unshared reads; this read stays local"
            );
            return;
        }
        pending
            .entry(agent.to_string())
            .or_default()
            .add(c.class, c.labels.iter().copied(), found);
    }

    /// Takes the reads of `agent` not yet shared (put back with [`Self::unshare_reads`] when
    /// they could not be).
    pub fn take_unshared_reads(&self, agent: &str) -> agent_reads::SharedReads {
        self.unshared_reads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(agent)
            .unwrap_or_default()
    }

    pub fn unshare_reads(&self, agent: &str, reads: agent_reads::SharedReads) {
        if reads.is_empty() {
            return;
        }
        let mut pending = self
            .unshared_reads
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        pending.entry(agent.to_string()).or_default().merge(&reads);
    }

    /// Whether `agent` has reads the other replicas have not been told of.
    pub fn has_unshared_reads(&self, agent: &str) -> bool {
        self.unshared_reads
            .lock()
            .map(|p| p.get(agent).is_some_and(|r| !r.is_empty()))
            .unwrap_or(true)
    }

    /// What other replicas shared of `agent`'s reads.
    pub fn absorb_reads(&self, agent: &str, reads: &agent_reads::SharedReads) {
        self.agent_reads.record_shared(agent, reads);
    }

    pub(super) fn note_unrecorded(&self, session: &SessionId) {
        let mut u = self.unrecorded.lock().unwrap_or_else(|p| p.into_inner());
        if u.len() >= 4096 {
            u.clear();
        }
        u.insert(session.0.clone());
    }

    /// Whether an update of the session could not be recorded at all since the last call.
    pub fn take_unrecorded(&self, session: &SessionId) -> bool {
        self.unrecorded
            .lock()
            .map(|mut u| u.remove(&session.0))
            .unwrap_or(true)
    }

    /// The agent a session in memory belongs to.
    pub fn agent_of(&self, session: &SessionId) -> Option<String> {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.get(&session.0).map(|s| s.agent.clone())
    }

    /// Drops the session from memory (its LMDB copy stays): it is rebuilt when next used.
    pub fn forget(&self, session: &SessionId) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.remove(&session.0);
    }

    /// In shared mode, hands one update's ops to the outbox instead of LMDB.
    pub(super) fn to_outbox(
        state: &mut SessionState,
        ops: Vec<LogOp>,
        before_next: u64,
        before_hash: &str,
    ) {
        state.outbox.add(ops, before_next, before_hash);
    }
}
