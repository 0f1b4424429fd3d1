//! Session context (AARM R2): which session an action belongs to, what the session has shown so
//! far (in memory, for policy), and the append-only, hash-chained log of it in LMDB.
//!
//! Attribution rule: an LLM request belongs to the session its `x-aarm-session` header names,
//! else to the one derived from its conversation (agent, system prompt, first user message); that
//! session becomes the agent's *active* session. A REST, MCP or SQL action without the header
//! belongs to its agent's active session if the agent was active within `session_ttl_s`, else to
//! the agent's default session. Limits: an agent that runs several conversations at once through
//! one identity (same source address or proxy credential) and does not send the header has its
//! executed actions attributed to the conversation that spoke last.
//!
//! Writes reach LMDB through one writer thread that merges what arrives within
//! `commit_window_ms` into one transaction (one fsync); the in-memory state is updated first, so
//! a decision never waits for the disk. A crash loses at most the last window of context entries
//! (decisions themselves are in the receipt log). A failed write marks the store unavailable, and
//! the engine then denies every action (fail closed).

mod action_records;
pub mod agent_reads;
mod appender;
pub mod entities;
pub mod entries;
pub mod fields;
pub mod instructions;
pub mod log;
pub mod provenance;
pub mod records;
mod restore;
pub mod shared;
mod signals;
pub mod state;
pub mod tool_outputs;
pub mod tool_words;
pub mod words;
mod writer;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aarmor_core::receipt::{sha256_tagged, GENESIS_HASH};
use aarmor_core::timestamp::now_rfc3339_millis;
use aarmor_core::{DataClass, Observation, ObservationKind, SessionId};
use serde_json::{json, Value};

use crate::data_classes::Classifiers;
use crate::settings::ContextSettings;
use appender::{
    classification_record, content_text, cut, summary_of, unix_ms, Appender, MAX_ENTRY_ENTITIES,
    MAX_LOGGED_TEXT,
};
use entries::data_of;
pub use entries::{
    ActionRecord, ClassificationRecord, ContextRecord, EntryKind, OutcomeRecord, ResolutionRecord,
    SteeringLists, SummaryRecord, TextRecord, ToolOutputRecord, UserMessageRecord,
};
pub use log::LogOp;
pub use log::{verify_chain, ChainProblem, ContextEntry, ContextLog, LogError, SessionHead};
use restore::{fold, names_json, records_json, replay};
pub use shared::{Absorbed, Outbox, RemoteChain};
pub use state::{InstructionNote, PriorAction, SessionState, Source};
pub use tool_outputs::{OutputRead, ReadBy};
use writer::{ContextMetrics, Writer};

/// What an observation changed, for the engine.
#[derive(Debug, Default)]
pub struct ObservationEffect {
    pub changed: bool,
    /// The session's original request, when this observation set it.
    pub new_original_request: Option<String>,
}

/// The session store.
pub struct ContextStore {
    settings: ContextSettings,
    log: Arc<ContextLog>,
    writer: Writer,
    sessions: Mutex<HashMap<String, SessionState>>,
    /// Agent ⇒ its active session and when it was last active.
    active: Mutex<HashMap<String, (SessionId, Instant)>>,
    /// What each agent read, across its sessions.
    agent_reads: agent_reads::AgentReads,
    last_sweep: Mutex<Instant>,
    metrics: ContextMetrics,
    /// Shared mode (see [`shared`]).
    shared: AtomicBool,
    /// Shared mode: reads not yet shared with the other replicas, by agent.
    unshared_reads: Mutex<HashMap<String, agent_reads::SharedReads>>,
    /// Shared mode: sessions whose last update could not be recorded at all (no room).
    unrecorded: Mutex<std::collections::HashSet<String>>,
}

impl ContextStore {
    pub fn register_metrics(&self, registry: &prometheus::Registry) {
        let m = &self.metrics;
        let all: [Box<dyn prometheus::core::Collector>; 3] = [
            Box::new(m.entries.clone()),
            Box::new(m.sessions.clone()),
            Box::new(m.compactions.clone()),
        ];
        for c in all {
            if let Err(e) = registry.register(c) {
                tracing::warn!(error = %e, "cannot register a context metric");
            }
        }
    }

    pub fn open(data_dir: &Path, settings: ContextSettings) -> Result<Self, LogError> {
        let log = Arc::new(ContextLog::open(
            &ContextLog::dir(data_dir),
            settings.max_size_mb.saturating_mul(1024 * 1024),
        )?);
        let writer = Writer::start(
            log.clone(),
            Duration::from_millis(settings.commit_window_ms),
        )?;
        let agent_reads = agent_reads::AgentReads::new(
            Duration::from_secs(settings.session_ttl_s),
            settings.max_sessions,
        );
        Ok(Self {
            settings,
            log,
            writer,
            sessions: Mutex::new(HashMap::new()),
            active: Mutex::new(HashMap::new()),
            agent_reads,
            last_sweep: Mutex::new(Instant::now()),
            metrics: ContextMetrics::new(),
            shared: AtomicBool::new(false),
            unshared_reads: Mutex::new(HashMap::new()),
            unrecorded: Mutex::new(std::collections::HashSet::new()),
        })
    }

    pub fn settings(&self) -> &ContextSettings {
        &self.settings
    }

    /// Whether the session is open (held in memory): its log may still grow.
    pub fn is_open(&self, session: &str) -> bool {
        self.sessions
            .lock()
            .map(|s| s.contains_key(session))
            .unwrap_or(true)
    }

    pub fn log(&self) -> &ContextLog {
        &self.log
    }

    /// `Err` once a write failed: the engine must deny (fail closed).
    pub fn healthy(&self) -> Result<(), String> {
        if self.writer.failed.load(Ordering::Acquire) {
            let why = self
                .writer
                .error
                .lock()
                .ok()
                .and_then(|e| e.clone())
                .unwrap_or_else(|| "write failed".into());
            return Err(format!("context store unavailable: {why}"));
        }
        Ok(())
    }

    /// Waits until everything handed to the writer is committed (tests, shutdown).
    pub fn flush(&self) {
        self.writer.flush();
    }

    fn ttl(&self) -> Duration {
        Duration::from_secs(self.settings.session_ttl_s)
    }

    /// The session of an exchange (see the module docs for the rule). `conversation` is the
    /// system prompt and first user message of an LLM request.
    pub fn attribute(
        &self,
        agent: &str,
        explicit: Option<&str>,
        conversation: Option<(&str, &str)>,
    ) -> SessionId {
        let now = Instant::now();
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        let chosen = if let Some(h) = explicit {
            SessionId::explicit(h)
        } else if let Some((system, first_user)) = conversation {
            SessionId::derived(agent, system, first_user)
        } else {
            match active.get(agent) {
                Some((s, at)) if now.duration_since(*at) <= self.ttl() => s.clone(),
                _ => SessionId::agent_default(agent),
            }
        };
        if explicit.is_some() || conversation.is_some() || !active.contains_key(agent) {
            if active.len() >= self.settings.max_sessions && !active.contains_key(agent) {
                let ttl = self.ttl();
                active.retain(|_, (_, at)| now.duration_since(*at) <= ttl);
            }
            active.insert(agent.to_string(), (chosen.clone(), now));
        } else if let Some(slot) = active.get_mut(agent) {
            slot.1 = now;
        }
        chosen
    }

    /// The agent's active session, if it was active within `session_ttl_s`.
    pub fn active_session(&self, agent: &str) -> Option<SessionId> {
        let active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        active
            .get(agent)
            .filter(|(_, at)| at.elapsed() <= self.ttl())
            .map(|(s, _)| s.clone())
    }

    /// Records `session` as the agent's active session (shared mode: as Redis resolved it).
    pub fn set_active(&self, agent: &str, session: &SessionId) {
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        if active.len() >= self.settings.max_sessions && !active.contains_key(agent) {
            let ttl = self.ttl();
            active.retain(|_, (_, at)| at.elapsed() <= ttl);
        }
        active.insert(agent.to_string(), (session.clone(), Instant::now()));
    }

    /// The agent a session belongs to: the one that opened it (in memory, else its log head);
    /// `None` for a session nobody has opened yet.
    pub fn owner(&self, session: &SessionId) -> Option<String> {
        {
            let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = sessions.get(&session.0) {
                return Some(s.agent.clone());
            }
        }
        self.log.head(&session.0).ok().flatten().map(|h| h.agent)
    }

    /// What `agent` read across all of its sessions within the TTL.
    pub fn agent_reads(&self, agent: &str) -> Option<agent_reads::Reads> {
        self.agent_reads.of(agent)
    }

    /// Runs `f` on the session's state (loaded from the log, or new) and hands what it appended
    /// to the writer.
    ///
    /// Invariant: a session belongs to the agent that opened it. Anything another agent would
    /// record in it (planted "user" text, actions) is not recorded; the engine refuses that
    /// agent's actions in it (`session.foreign_identity`).
    fn with_session<R: Default>(
        &self,
        session: &SessionId,
        agent: &str,
        f: impl FnOnce(&mut Appender<'_>) -> R,
    ) -> R {
        self.sweep_if_due();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if !self.admit(&mut sessions, &session.0, agent) {
            // The exchange that brought this is refused (`Cluster::push` reports it), as are
            // the session's actions, whose state cannot be read from Redis either.
            tracing::warn!(session = %session, "no room for another session with unshared context; nothing recorded");
            self.note_unrecorded(session);
            return R::default();
        }
        if sessions.get(&session.0).is_some_and(|s| s.agent != agent) {
            tracing::warn!(session = %session, agent, "an agent used a session another agent opened; nothing recorded");
            return R::default();
        }
        let Some(state) = sessions.get_mut(&session.0) else {
            // Inserted just above; unreachable, but never panic on the data path.
            let mut scratch =
                SessionState::new(&session.0, agent, now_rfc3339_millis(), GENESIS_HASH);
            let mut app = Appender {
                state: &mut scratch,
                ops: Vec::new(),
            };
            return f(&mut app);
        };
        state.last_seen = Instant::now();
        let (before_next, before_hash, before_entries) =
            (state.next_seq, state.head_hash.clone(), state.entries);
        let mut app = Appender {
            state,
            ops: Vec::new(),
        };
        let out = f(&mut app);
        let mut ops = app.finish();
        if state.entries > self.settings.max_entries_per_session {
            ops.extend(fold(state, "size_limit"));
        }
        self.metrics.count(&ops);
        if self.is_shared() {
            if state.outbox.entries.len() >= shared::MAX_OUTBOX {
                // Redis has been away for long: the session's actions are refused meanwhile
                // (its outbox is not empty), and what they would add is not kept (the receipts
                // have the decisions). The chain stays whole: its head goes back.
                state.next_seq = before_next;
                state.head_hash = before_hash;
                state.entries = before_entries;
                tracing::warn!(session = %session, "the session's unshared context is full; entry not recorded");
            } else if !ops.is_empty() {
                Self::to_outbox(state, ops, before_next, &before_hash);
            }
            self.metrics.sessions.set(sessions.len() as i64);
            return out;
        }
        self.metrics.sessions.set(sessions.len() as i64);
        drop(sessions);
        self.writer.send(ops);
        out
    }

    /// Makes sure the session is in memory (loaded from its log, or new), evicting the least
    /// recently active one when full. `false` in shared mode when every session in memory has
    /// appends the shared store has not confirmed (Redis away for long): nothing more is taken
    /// in. On one box the session is always admitted.
    fn admit(&self, sessions: &mut HashMap<String, SessionState>, id: &str, agent: &str) -> bool {
        if sessions.contains_key(id) {
            return true;
        }
        if sessions.len() >= self.settings.max_sessions {
            self.evict_oldest(sessions);
        }
        if self.is_shared() && sessions.len() >= self.settings.max_sessions {
            return false;
        }
        let state = self.load(id, agent);
        sessions.insert(id.to_string(), state);
        true
    }

    /// A session's state rebuilt from its log, or a new one.
    fn load(&self, id: &str, agent: &str) -> SessionState {
        let head = match self.log.head(id) {
            Ok(Some(h)) => h,
            Ok(None) => return SessionState::new(id, agent, now_rfc3339_millis(), GENESIS_HASH),
            Err(e) => {
                tracing::error!(session = id, error = %e, "cannot read a session's context; starting it afresh");
                return SessionState::new(id, agent, now_rfc3339_millis(), GENESIS_HASH);
            }
        };
        let mut state = SessionState::new(id, &head.agent, head.started.clone(), &head.hash);
        state.next_seq = head.seq + 1;
        state.entries = head.entries;
        let age = Duration::from_millis(unix_ms().saturating_sub(head.started_unix_ms));
        if let Some(t) = Instant::now().checked_sub(age) {
            state.started = t;
        }
        match self.log.entries(id) {
            Ok(entries) => {
                for e in entries {
                    replay(&mut state, &e, self.settings.max_text_bytes);
                }
            }
            Err(e) => {
                tracing::error!(session = id, error = %e, "cannot replay a session's context")
            }
        }
        state
    }

    fn evict_oldest(&self, sessions: &mut HashMap<String, SessionState>) {
        // A session with unconfirmed appends stays (shared mode): they would be lost.
        if let Some(oldest) = sessions
            .values()
            .filter(|s| s.outbox.is_empty())
            .min_by_key(|s| s.last_seen)
            .map(|s| s.id.clone())
        {
            // Its log stays; it is replayed if the session comes back.
            sessions.remove(&oldest);
        }
    }

    fn sweep_if_due(&self) {
        {
            let mut last = self.last_sweep.lock().unwrap_or_else(|p| p.into_inner());
            if last.elapsed() < Duration::from_secs(self.settings.sweep_interval_s.max(1)) {
                return;
            }
            *last = Instant::now();
        }
        self.compact_expired();
    }

    /// Folds every session idle for longer than `session_ttl_s` into a summary entry and drops it
    /// from memory. Returns how many were compacted.
    pub fn compact_expired(&self) -> usize {
        let ttl = self.ttl();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let expired: Vec<String> = sessions
            .values()
            .filter(|s| s.last_seen.elapsed() > ttl && s.outbox.is_empty())
            .map(|s| s.id.clone())
            .collect();
        let mut ops = Vec::new();
        for id in &expired {
            if let Some(mut s) = sessions.remove(id) {
                // Shared mode: another replica may still be using the session; only this
                // replica's memory of it goes (the shared chain expires on its own).
                if !self.is_shared() {
                    ops.extend(fold(&mut s, "expired"));
                }
            }
        }
        self.metrics.sessions.set(sessions.len() as i64);
        drop(sessions);
        self.metrics.count(&ops);
        self.writer.send(ops);
        expired.len()
    }

    /// Records observations of an exchange in the session.
    pub fn observe(
        &self,
        session: &SessionId,
        agent: &str,
        observations: &[Observation],
        classifiers: &Classifiers,
    ) -> ObservationEffect {
        let max_text = self.settings.max_text_bytes;
        let default_class = self.settings.unclassified;
        self.with_session(session, agent, |app| {
            let mut out = ObservationEffect::default();
            // The agent's tools first: a tool output naming one of them speaks to the agent.
            for o in observations {
                if o.kind == ObservationKind::ToolDeclarations {
                    app.state
                        .add_agent_tools(instructions::tool_names(&o.content));
                }
            }
            for o in observations {
                match o.kind {
                    ObservationKind::SystemPrompt => {
                        let text = content_text(&o.content);
                        if app.state.first_sight("system", &text) {
                            app.state.add_system_prompt(&text, max_text);
                            let record = TextRecord {
                                text: cut(&text, MAX_LOGGED_TEXT).to_string(),
                                sha256: sha256_tagged(text.as_bytes()),
                                chars: text.chars().count(),
                            };
                            app.append(EntryKind::SystemPrompt, data_of(&record));
                        }
                    }
                    ObservationKind::UserMessage => {
                        let text = content_text(&o.content);
                        if !app.state.first_sight("user", &text) {
                            continue;
                        }
                        let first = app.state.original_request.is_none();
                        let found = app.state.add_user_message(&text, max_text);
                        if first {
                            out.new_original_request = Some(text.clone());
                        }
                        let record = UserMessageRecord {
                            text: cut(&text, MAX_LOGGED_TEXT).to_string(),
                            sha256: sha256_tagged(text.as_bytes()),
                            original_request: first,
                            entities: found.iter().take(MAX_ENTRY_ENTITIES).map(data_of).collect(),
                        };
                        app.append(EntryKind::UserMessage, data_of(&record));
                        out.changed = true;
                    }
                    ObservationKind::ToolResult | ObservationKind::ActionResult => {
                        let text = content_text(&o.content);
                        let kind = if o.kind == ObservationKind::ToolResult {
                            EntryKind::ToolResult
                        } else {
                            EntryKind::ActionResult
                        };
                        if !app.state.first_sight(kind.as_str(), &text) {
                            continue;
                        }
                        let c = classifiers.classify(&text, &o.target, default_class);
                        // The call this answers was steered when an argument came from an
                        // instruction to the model (or from an earlier steered output):
                        // judged on the session as it was when the call was made.
                        // Pointed when an argument named what the user pointed at.
                        let prior = match (&o.call, &o.action_id) {
                            (None, Some(id)) => app
                                .state
                                .prior_action_mut(&id.0)
                                .map(|a| (a.steered, a.pointed, a.tool.clone())),
                            _ => None,
                        };
                        let how = match (&o.call, &prior) {
                            (Some(call), _) => ReadBy {
                                steered: app.state.steers(&call.arguments),
                                pointed: app.state.points_at(&call.arguments),
                                tool: Some(call.name.as_str()),
                            },
                            (None, Some((steered, pointed, tool))) => ReadBy {
                                steered: *steered,
                                pointed: *pointed,
                                tool: Some(tool.as_str()),
                            },
                            (None, None) => ReadBy::default(),
                        };
                        let steered = how.steered;
                        let read = app.state.add_tool_output(&text, max_text, how);
                        let (found, instructions, records) =
                            (&read.entities, &read.instructions, &read.records);
                        let logged = |keep: &dyn Fn(&entities::Entity) -> bool| -> Vec<_> {
                            found
                                .iter()
                                .filter(|e| keep(e))
                                .take(MAX_ENTRY_ENTITIES)
                                .cloned()
                                .collect()
                        };
                        let free_text = logged(&|e| app.state.only_in_free_text(e));
                        let fields = logged(&|e| app.state.is_field(e));
                        app.state.add_classification(&c);
                        self.agent_reads.record(agent, &c, found);
                        if self.is_shared() {
                            self.queue_shared_read(agent, &c, found);
                        }
                        if let Some(id) = &o.action_id {
                            if let Some(a) = app.state.prior_action_mut(&id.0) {
                                a.classes.insert(c.class);
                            }
                        }
                        let record = ToolOutputRecord {
                            summary: summary_of(&text),
                            sha256: sha256_tagged(text.as_bytes()),
                            bytes: text.len() as u64,
                            action_id: o.action_id.as_ref().map(|id| id.0.clone()),
                            classification: classification_record(&c),
                            entities: found.iter().take(MAX_ENTRY_ENTITIES).map(data_of).collect(),
                            steering: SteeringLists {
                                instructions: instructions.iter().map(data_of).collect(),
                                free_text_entities: free_text.iter().map(data_of).collect(),
                                field_entities: fields.iter().map(data_of).collect(),
                                pointed_entities: read
                                    .pointed_prose
                                    .iter()
                                    .take(MAX_ENTRY_ENTITIES)
                                    .map(data_of)
                                    .collect(),
                                record_ids: records.read.iter().map(data_of).collect(),
                                instruction_record_ids: records
                                    .carriers
                                    .iter()
                                    .map(data_of)
                                    .collect(),
                                record_addresses: records_json(
                                    records.addresses.iter().map(|(id, found)| (id, found)),
                                ),
                                record_names: names_json(
                                    records.names.iter().map(|(id, n)| (id, n)),
                                ),
                            },
                            call: o.call.as_ref().map(|c| c.name.clone()),
                            steered,
                        };
                        app.append(kind, data_of(&record));
                        out.changed = true;
                    }
                    ObservationKind::ToolDeclarations | ObservationKind::AssistantText => {}
                }
            }
            out
        })
    }

    /// `input.context` for a session, or `None` when it has recorded nothing yet.
    pub fn context_json(&self, session: &SessionId) -> Option<Value> {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.get(&session.0).map(SessionState::to_json)
    }

    /// Runs `f` on a session's state if it is in memory.
    pub fn read<R>(
        &self,
        session: &SessionId,
        f: impl FnOnce(&mut SessionState) -> R,
    ) -> Option<R> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.get_mut(&session.0).map(f)
    }
}

#[cfg(test)]
mod tests;
