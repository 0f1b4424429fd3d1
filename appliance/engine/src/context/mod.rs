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

pub mod agent_reads;
pub mod entities;
pub mod fields;
pub mod instructions;
pub mod log;
pub mod provenance;
pub mod records;
mod signals;
pub mod state;
pub mod tool_outputs;
pub mod tool_words;
pub mod words;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use aarmor_core::receipt::{sha256_tagged, GENESIS_HASH};
use aarmor_core::timestamp::now_rfc3339_millis;
use aarmor_core::{Classification, DataClass, Observation, ObservationKind, SessionId};
use serde_json::{json, Value};

use crate::classify::Classifiers;
use crate::settings::ContextSettings;
use log::LogOp;
pub use log::{verify_chain, ChainProblem, ContextEntry, ContextLog, LogError, SessionHead};
pub use state::{InstructionNote, PriorAction, SessionState, Source};
pub use tool_outputs::{OutputRead, ReadBy};

/// Longest user message copied into the log; longer ones are cut (their hash is of the whole).
const MAX_LOGGED_TEXT: usize = 16 * 1024;
/// Characters of a tool output kept as its summary.
const SUMMARY_CHARS: usize = 160;
/// Entities listed per log entry.
const MAX_ENTRY_ENTITIES: usize = 32;
const QUEUE: usize = 65_536;

/// What waits for the writer: entries to write, and callers waiting for them to be on disk.
#[derive(Default)]
struct Pending {
    ops: Vec<LogOp>,
    /// When the first of `ops` arrived: they are written one window later.
    oldest: Option<Instant>,
    /// The writer thread waits for a first pending entry and must be woken for it.
    idle: bool,
    flushes: Vec<mpsc::Sender<()>>,
    closed: bool,
}

/// Counters, exported as `aarmor_context_*` metrics.
#[derive(Clone)]
struct ContextMetrics {
    entries: prometheus::IntCounterVec,
    sessions: prometheus::IntGauge,
    compactions: prometheus::IntCounterVec,
}

impl ContextMetrics {
    fn new() -> Self {
        // Names and help are constants: valid by construction.
        let entries = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "context_entries_total",
                "Context log entries appended, by kind",
            ),
            &["kind"],
        )
        .unwrap_or_else(|e| panic!("metric: {e}"));
        let sessions = prometheus::IntGauge::new("context_sessions", "Sessions held in memory")
            .unwrap_or_else(|e| panic!("metric: {e}"));
        let compactions = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "context_compactions_total",
                "Sessions folded into a summary entry, by reason",
            ),
            &["reason"],
        )
        .unwrap_or_else(|e| panic!("metric: {e}"));
        Self {
            entries,
            sessions,
            compactions,
        }
    }
}

struct Writer {
    pending: Arc<(Mutex<Pending>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
    failed: Arc<AtomicBool>,
    error: Arc<Mutex<Option<String>>>,
}

impl Writer {
    /// Starts the writer thread (see [`write_loop`]).
    fn start(log: Arc<ContextLog>, window: Duration) -> Result<Self, LogError> {
        let pending: Arc<(Mutex<Pending>, Condvar)> = Arc::default();
        let failed = Arc::new(AtomicBool::new(false));
        let error = Arc::new(Mutex::new(None));
        let (p, f, e) = (pending.clone(), failed.clone(), error.clone());
        let window = window.max(Duration::from_millis(1));
        let thread = std::thread::Builder::new()
            .name("aarmor-context-writer".into())
            .spawn(move || write_loop(&p, &log, &f, &e, window))
            .map_err(|e| LogError::Corrupt(format!("cannot start the context writer: {e}")))?;
        Ok(Self {
            pending,
            thread: Some(thread),
            failed,
            error,
        })
    }

    fn send(&self, ops: Vec<LogOp>) {
        if ops.is_empty() {
            return;
        }
        let (lock, _) = &*self.pending;
        let mut guard = lock.lock().unwrap_or_else(|x| x.into_inner());
        if guard.ops.len() + ops.len() > QUEUE {
            drop(guard);
            tracing::error!(
                "context store writer is not keeping up; actions are denied (fail closed)"
            );
            if let Ok(mut slot) = self.error.lock() {
                *slot = Some("context writer not keeping up".into());
            }
            self.failed.store(true, Ordering::Release);
            return;
        }
        guard.ops.extend(ops);
        if guard.oldest.is_none() {
            guard.oldest = Some(Instant::now());
            if guard.idle {
                guard.idle = false;
                drop(guard);
                self.pending.1.notify_one();
            }
        }
    }

    /// Waits until everything sent so far is written.
    fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        {
            let (lock, wake) = &*self.pending;
            let mut guard = lock.lock().unwrap_or_else(|x| x.into_inner());
            guard.flushes.push(tx);
            wake.notify_one();
        }
        let _ = rx.recv_timeout(Duration::from_secs(10));
    }
}

/// The writer thread: writes everything pending in one transaction so that it is on disk one
/// `window` after the first of it arrived — it starts [`crate::commit_pace::lead`] before the
/// window ends — and at once for a flush or shutdown.
/// While nothing is pending it sleeps until something is: the sender of a first entry wakes it,
/// every other sender only pushes to a list.
fn write_loop(
    pending: &(Mutex<Pending>, Condvar),
    log: &ContextLog,
    failed: &AtomicBool,
    error: &Mutex<Option<String>>,
    window: Duration,
) {
    let mut recent_write = Duration::ZERO;
    loop {
        let lead = crate::commit_pace::lead(window, recent_write);
        let (ops, flushes, closed) = {
            let (lock, wake) = pending;
            let mut guard = lock.lock().unwrap_or_else(|x| x.into_inner());
            while guard.flushes.is_empty() && !guard.closed {
                let due = guard.oldest.map(|t| t + (window - lead));
                guard = match due.map(|d| d.saturating_duration_since(Instant::now())) {
                    Some(left) if left.is_zero() => break,
                    Some(left) => {
                        wake.wait_timeout(guard, left)
                            .unwrap_or_else(|x| x.into_inner())
                            .0
                    }
                    None => {
                        guard.idle = true;
                        let mut g = wake.wait(guard).unwrap_or_else(|x| x.into_inner());
                        g.idle = false;
                        g
                    }
                };
            }
            guard.oldest = None;
            (
                std::mem::take(&mut guard.ops),
                std::mem::take(&mut guard.flushes),
                guard.closed,
            )
        };
        if !ops.is_empty() && !failed.load(Ordering::Acquire) {
            let started = Instant::now();
            let written = log.apply(&ops);
            recent_write = crate::commit_pace::decayed_max(recent_write, started.elapsed());
            if let Err(err) = written {
                tracing::error!(error = %err, "context store write failed; actions are denied from now on (fail closed)");
                if let Ok(mut slot) = error.lock() {
                    *slot = Some(err.to_string());
                }
                failed.store(true, Ordering::Release);
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
        if closed {
            return;
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        {
            let (lock, wake) = &*self.pending;
            lock.lock().unwrap_or_else(|x| x.into_inner()).closed = true;
            wake.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What an observation changed, for the engine.
#[derive(Debug, Default)]
pub struct Observed {
    pub changed: bool,
    /// The session's original request, when this observation set it.
    pub new_original_request: Option<String>,
}

/// Collects the entries one update appends, chained onto the session's head.
struct Appender<'a> {
    state: &'a mut SessionState,
    ops: Vec<LogOp>,
}

impl Appender<'_> {
    fn append(&mut self, kind: &str, data: Value) {
        let entry = ContextEntry {
            session: self.state.id.clone(),
            seq: self.state.next_seq,
            at: now_rfc3339_millis(),
            kind: kind.to_string(),
            prev_hash: self.state.head_hash.clone(),
            data,
        };
        self.state.head_hash = entry.hash();
        self.state.next_seq += 1;
        self.state.entries += 1;
        self.ops.push(LogOp::Put(entry));
    }

    fn finish(mut self) -> Vec<LogOp> {
        if !self.ops.is_empty() {
            self.ops
                .push(LogOp::Head(self.state.id.clone(), head_of(self.state)));
        }
        self.ops
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn head_of(s: &SessionState) -> SessionHead {
    let age = s.started.elapsed().as_millis() as u64;
    SessionHead {
        started_unix_ms: unix_ms().saturating_sub(age),
        seq: s.next_seq.saturating_sub(1),
        hash: s.head_hash.clone(),
        agent: s.agent.clone(),
        started: s.started_at.clone(),
        last_seen: now_rfc3339_millis(),
        entries: s.entries,
    }
}

fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn summary_of(text: &str) -> String {
    text.chars().take(SUMMARY_CHARS).collect()
}

fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn classification_json(c: &Classification) -> Value {
    json!({
        "class": c.class,
        "labels": c.labels,
        "detectors": c.findings.iter().map(|f| json!({"detector": f.detector, "count": f.count})).collect::<Vec<_>>(),
        "defaulted": c.defaulted,
    })
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

    fn count(&self, ops: &[LogOp]) {
        for op in ops {
            match op {
                LogOp::Put(e) => {
                    self.metrics.entries.with_label_values(&[&e.kind]).inc();
                    if e.kind == "summary" {
                        let why = e.data["reason"].as_str().unwrap_or("unknown");
                        self.metrics.compactions.with_label_values(&[why]).inc();
                    }
                }
                LogOp::Head(..) | LogOp::Fold { .. } => {}
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
        })
    }

    pub fn settings(&self) -> &ContextSettings {
        &self.settings
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
        if !sessions.contains_key(&session.0) {
            if sessions.len() >= self.settings.max_sessions {
                self.evict_oldest(&mut sessions);
            }
            let state = self.load(&session.0, agent);
            sessions.insert(session.0.clone(), state);
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
        let mut app = Appender {
            state,
            ops: Vec::new(),
        };
        let out = f(&mut app);
        let mut ops = app.finish();
        if state.entries > self.settings.max_entries_per_session {
            ops.extend(fold(state, "size_limit"));
        }
        self.metrics.sessions.set(sessions.len() as i64);
        drop(sessions);
        self.count(&ops);
        self.writer.send(ops);
        out
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
        if let Some(oldest) = sessions
            .values()
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
            .filter(|s| s.last_seen.elapsed() > ttl)
            .map(|s| s.id.clone())
            .collect();
        let mut ops = Vec::new();
        for id in &expired {
            if let Some(mut s) = sessions.remove(id) {
                ops.extend(fold(&mut s, "expired"));
            }
        }
        self.metrics.sessions.set(sessions.len() as i64);
        drop(sessions);
        self.count(&ops);
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
    ) -> Observed {
        let max_text = self.settings.max_text_bytes;
        let default_class = self.settings.unclassified;
        self.with_session(session, agent, |app| {
            let mut out = Observed::default();
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
                            app.append(
                                "system_prompt",
                                json!({
                                    "text": cut(&text, MAX_LOGGED_TEXT),
                                    "sha256": sha256_tagged(text.as_bytes()),
                                    "chars": text.chars().count(),
                                }),
                            );
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
                        app.append(
                            "user_message",
                            json!({
                                "text": cut(&text, MAX_LOGGED_TEXT),
                                "sha256": sha256_tagged(text.as_bytes()),
                                "original_request": first,
                                "entities": found.iter().take(MAX_ENTRY_ENTITIES).collect::<Vec<_>>(),
                            }),
                        );
                        out.changed = true;
                    }
                    ObservationKind::ToolResult | ObservationKind::ActionResult => {
                        let text = content_text(&o.content);
                        let kind = if o.kind == ObservationKind::ToolResult {
                            "tool_result"
                        } else {
                            "action_result"
                        };
                        if !app.state.first_sight(kind, &text) {
                            continue;
                        }
                        let c = classifiers.classify(&text, &o.target, default_class);
                        // The call this answers was steered when an argument came from an
                        // instruction to the model (or from an earlier steered output):
                        // judged on the session as it was when the call was made.
                        // Pointed when an argument named what the user pointed at.
                        let executed_tool = o.action_id.as_ref().and_then(|id| {
                            app.state.prior_action_mut(&id.0).map(|a| a.tool.clone())
                        });
                        let how = match (&o.call, &o.action_id) {
                            (Some(call), _) => ReadBy {
                                steered: app.state.steers(&call.arguments),
                                pointed: app.state.points_at(&call.arguments),
                                tool: Some(call.name.as_str()),
                            },
                            (None, Some(id)) => app.state.prior_action_mut(&id.0).map_or(
                                ReadBy::default(),
                                |a| ReadBy {
                                    steered: a.steered,
                                    pointed: a.pointed,
                                    tool: executed_tool.as_deref(),
                                },
                            ),
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
                        if let Some(id) = &o.action_id {
                            if let Some(a) = app.state.prior_action_mut(&id.0) {
                                a.classes.insert(c.class);
                            }
                        }
                        app.append(
                            kind,
                            json!({
                                "summary": summary_of(&text),
                                "sha256": sha256_tagged(text.as_bytes()),
                                "bytes": text.len(),
                                "action_id": o.action_id,
                                "classification": classification_json(&c),
                                "entities": found.iter().take(MAX_ENTRY_ENTITIES).collect::<Vec<_>>(),
                                "instructions": instructions,
                                "free_text_entities": free_text,
                                "field_entities": fields,
                                "pointed_entities": read.pointed_prose.iter().take(MAX_ENTRY_ENTITIES).collect::<Vec<_>>(),
                                "record_ids": records.read,
                                "instruction_record_ids": records.carriers,
                                "record_addresses": records_json(records.addresses.iter().map(|(id, found)| (id, found))),
                                "record_names": names_json(records.names.iter().map(|(id, n)| (id, n))),
                                "call": o.call.as_ref().map(|c| &c.name),
                                "steered": steered,
                            }),
                        );
                        out.changed = true;
                    }
                    ObservationKind::ToolDeclarations | ObservationKind::AssistantText => {}
                }
            }
            out
        })
    }

    /// Counts tool declarations learned for the session.
    pub fn tools_declared(&self, session: &SessionId, agent: &str, learned: usize) {
        self.with_session(session, agent, |app| {
            app.state.tools_declared += learned as u64;
        });
    }

    /// Records a decision on an action of the session.
    pub fn record_decision(
        &self,
        session: &SessionId,
        agent: &str,
        action: &aarmor_core::Action,
        decision: &str,
        rule: Option<&str>,
        enforced: bool,
    ) {
        self.with_session(session, agent, |app| {
            // Only an executed MCP, REST or SQL action's result comes back tied to the action
            // (`ActionResult`); an LLM tool call's result comes back as a tool message that
            // names its call, and is judged from that call's arguments.
            let executed = !action.protocol.is_llm();
            let steered = executed && app.state.steers_params(&action.parameters);
            let pointed = executed && app.state.points_at_params(&action.parameters);
            app.state.add_action(PriorAction {
                action_id: action.action_id.0.clone(),
                tool: action.tool.clone(),
                operation: action.operation.clone(),
                decision: decision.to_string(),
                steered,
                pointed,
                classes: Default::default(),
                success: None,
            });
            app.append(
                "action",
                json!({
                    "action_id": action.action_id,
                    "tool": action.tool,
                    "operation": action.operation,
                    "decision": decision,
                    "rule": rule,
                    "enforced": enforced,
                    "steered": steered,
                    "pointed": pointed,
                }),
            );
        });
    }

    /// Records how a held (STEP_UP, DEFER) action was finally decided.
    pub fn record_resolution(
        &self,
        session: &SessionId,
        agent: &str,
        action: &aarmor_core::Action,
        decision: &str,
        rule: Option<&str>,
    ) {
        self.with_session(session, agent, |app| {
            if let Some(a) = app.state.prior_action_mut(&action.action_id.0) {
                a.decision = decision.to_string();
            }
            app.append(
                "resolution",
                json!({"action_id": action.action_id, "decision": decision, "rule": rule}),
            );
        });
    }

    /// Records what an action that ran returned.
    pub fn record_outcome(
        &self,
        session: &SessionId,
        agent: &str,
        action_id: &str,
        execution: &Value,
    ) {
        self.with_session(session, agent, |app| {
            let success = execution.get("success").and_then(Value::as_bool);
            if let Some(a) = app.state.prior_action_mut(action_id) {
                a.success = success;
            }
            app.append(
                "outcome",
                json!({"action_id": action_id, "execution": execution}),
            );
        });
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

/// Record ids a summary entry keeps (of each kind).
const MAX_SUMMARY_RECORD_IDS: usize = 1024;

/// Folds a session's stored entries into one summary entry that chains onto them.
fn fold(state: &mut SessionState, why: &str) -> Vec<LogOp> {
    let mut decisions: HashMap<String, u64> = HashMap::new();
    for a in &state.prior_actions {
        *decisions.entry(a.decision.clone()).or_default() += 1;
    }
    let through = state.next_seq.saturating_sub(1);
    let data = json!({
        "reason": why,
        "folded_entries": state.entries,
        "through_seq": through,
        "through_hash": state.head_hash,
        "original_request": state.original_request.as_deref().map(|t| cut(t, MAX_LOGGED_TEXT)),
        "user_messages": state.user_messages,
        "tool_results": state.tool_results,
        "action_count": state.action_count,
        "recent_decisions": decisions,
        "data_classes": state.data_classes,
        "data_labels": state.data_labels,
        "unclassified_reads": state.unclassified_reads,
        "entities": state.entities.iter().take(MAX_ENTRY_ENTITIES).map(|(e, s)| json!({"kind": e.kind, "value": e.value, "source": s})).collect::<Vec<_>>(),
        // What makes a steered session steered survives the fold: the instructions flagged,
        // the values only free text carried (and those that were fields), and the records
        // that carried an instruction.
        "instructions": state.instructions,
        "free_text_entities": state.free_text_entities(MAX_ENTRY_ENTITIES),
        "field_entities": state.field_entity_list(MAX_ENTRY_ENTITIES),
        "pointed_entities": state.pointed_prose_entities(MAX_ENTRY_ENTITIES),
        "record_ids": state.record_ids.iter().take(MAX_SUMMARY_RECORD_IDS).collect::<Vec<_>>(),
        "instruction_record_ids": state.carrier_ids.iter().take(MAX_SUMMARY_RECORD_IDS).collect::<Vec<_>>(),
        "record_addresses": records_json(state.record_addresses.iter().take(MAX_SUMMARY_RECORD_IDS)),
        "record_names": names_json(state.record_names.iter().take(MAX_SUMMARY_RECORD_IDS)),
        "steered_outputs": state.steered_outputs,
        "steered_entities": state.steered_entities.iter().take(MAX_ENTRY_ENTITIES).collect::<Vec<_>>(),
        "steered_text": cut(&state.steered_text, MAX_LOGGED_TEXT),
        "started": state.started_at,
    });
    let below = state.next_seq;
    state.entries = 0;
    let mut app = Appender { state, ops: vec![] };
    app.append("summary", data);
    let mut ops = app.finish();
    ops.insert(
        0,
        LogOp::Fold {
            session: state.id.clone(),
            below,
        },
    );
    ops
}

/// Applies one stored entry to a state being rebuilt.
fn replay(state: &mut SessionState, e: &ContextEntry, max_text: usize) {
    let d = &e.data;
    let entities = logged_entities;
    let classes = |v: &Value| -> Vec<DataClass> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| serde_json::from_value(c.clone()).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    match e.kind.as_str() {
        "user_message" => {
            if let Some(t) = d["text"].as_str() {
                state.first_sight("user", t);
                state.add_user_message(t, max_text);
            }
        }
        "system_prompt" => {
            if let Some(t) = d["text"].as_str() {
                state.add_system_prompt(t, max_text);
            }
        }
        "tool_result" | "action_result" => {
            state.tool_results += 1;
            let found = entities(&d["entities"]);
            state.add_entities(&found, Source::ToolOutput);
            if d["steered"].as_bool() == Some(true) {
                // Only the summary was logged: the entities and those words still trace.
                let summary = d["summary"].as_str().unwrap_or_default();
                state.add_steered_output(summary, &found, max_text);
            }
            restore_steering(state, d, max_text);
            if let Ok(c) = serde_json::from_value::<DataClass>(d["classification"]["class"].clone())
            {
                state.data_classes.insert(c);
            }
            if let Some(labels) = d["classification"]["labels"].as_array() {
                state.data_labels.extend(labels.iter().filter_map(|l| {
                    serde_json::from_value::<aarmor_core::DataLabel>(l.clone()).ok()
                }));
            }
            if d["classification"]["defaulted"].as_bool() == Some(true) {
                state.unclassified_reads += 1;
            }
        }
        "resolution" => {
            if let (Some(id), Some(d)) = (d["action_id"].as_str(), d["decision"].as_str()) {
                if let Some(a) = state.prior_action_mut(id) {
                    a.decision = d.to_string();
                }
            }
        }
        "action" => state.add_action(PriorAction {
            action_id: d["action_id"].as_str().unwrap_or_default().to_string(),
            tool: d["tool"].as_str().unwrap_or_default().to_string(),
            operation: d["operation"].as_str().unwrap_or_default().to_string(),
            decision: d["decision"].as_str().unwrap_or_default().to_string(),
            steered: d["steered"].as_bool().unwrap_or(false),
            pointed: d["pointed"].as_bool().unwrap_or(false),
            classes: Default::default(),
            success: None,
        }),
        "summary" => {
            if let Some(t) = d["original_request"].as_str() {
                state.original_request = Some(t.to_string());
                state.add_user_message(t, max_text);
                state.user_messages = 0;
            }
            state.user_messages += d["user_messages"].as_u64().unwrap_or(0);
            state.tool_results = d["tool_results"].as_u64().unwrap_or(0);
            state.action_count = d["action_count"].as_u64().unwrap_or(0);
            state.data_classes.extend(classes(&d["data_classes"]));
            if let Some(labels) = d["data_labels"].as_array() {
                state.data_labels.extend(labels.iter().filter_map(|l| {
                    serde_json::from_value::<aarmor_core::DataLabel>(l.clone()).ok()
                }));
            }
            state.unclassified_reads = d["unclassified_reads"].as_u64().unwrap_or(0);
            if let Some(list) = d["entities"].as_array() {
                for x in list {
                    let source = match x["source"].as_str() {
                        Some("user") => Source::User,
                        _ => Source::ToolOutput,
                    };
                    state.add_entities(&entities(&Value::Array(vec![x.clone()])), source);
                }
            }
            restore_steering(state, d, max_text);
            if d["steered_outputs"].as_u64().unwrap_or(0) > 0 {
                let text = d["steered_text"].as_str().unwrap_or_default();
                state.add_steered_output(text, &entities(&d["steered_entities"]), max_text);
                state.steered_outputs = d["steered_outputs"].as_u64().unwrap_or(1);
            }
        }
        _ => {}
    }
}

/// Entities as a log entry lists them (`{"kind", "value"}`).
fn logged_entities(v: &Value) -> Vec<entities::Entity> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    let kind = match x.get("kind")?.as_str()? {
                        "email" => entities::EntityKind::Email,
                        "iban" => entities::EntityKind::Iban,
                        "host" => entities::EntityKind::Host,
                        "account" => entities::EntityKind::Account,
                        _ => return None,
                    };
                    Some(entities::Entity {
                        kind,
                        value: x.get("value")?.as_str()?.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Record addresses as a log entry lists them: `[{"id", "addresses": [entity, ...]}]`.
fn records_json<'a>(
    addresses: impl IntoIterator<Item = (&'a String, &'a Vec<entities::Entity>)>,
) -> Value {
    Value::Array(
        addresses
            .into_iter()
            .map(|(id, found)| json!({"id": id, "addresses": found}))
            .collect(),
    )
}

/// Record names as a log entry lists them: `[{"id", "names": [..]}]`.
fn names_json<'a>(names: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>) -> Value {
    Value::Array(
        names
            .into_iter()
            .map(|(id, n)| json!({"id": id, "names": n}))
            .collect(),
    )
}

/// Restores from a tool result or a summary entry what tells a steered session: the values
/// only free text carried, the record ids (and those that carried an instruction), and the
/// instructions flagged.
fn restore_steering(state: &mut SessionState, d: &Value, max_text: usize) {
    state.add_field_entities(
        logged_entities(&d["field_entities"]),
        logged_entities(&d["free_text_entities"]),
    );
    state.add_pointed_prose(&logged_entities(&d["pointed_entities"]));
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    state.add_record_ids(&ids(&d["record_ids"]), &ids(&d["instruction_record_ids"]));
    let addresses: Vec<(String, Vec<entities::Entity>)> = d["record_addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some((
                r["id"].as_str()?.to_string(),
                logged_entities(&r["addresses"]),
            ))
        })
        .collect();
    state.add_record_addresses(&addresses);
    let names: Vec<(String, Vec<String>)> = d["record_names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let list = r["names"]
                .as_array()?
                .iter()
                .filter_map(|n| n.as_str().map(String::from))
                .take(records::MAX_NAMES_PER_RECORD)
                .collect();
            Some((r["id"].as_str()?.to_string(), list))
        })
        .collect();
    state.add_record_names(&names);
    for note in d["instructions"].as_array().into_iter().flatten() {
        if let Ok(note) = serde_json::from_value::<InstructionNote>(note.clone()) {
            // Only the excerpt was logged: values are still traced through its entities.
            let excerpt = note.excerpt.clone();
            state.add_instruction(note, Some((&excerpt, max_text)));
        }
    }
}

#[cfg(test)]
mod tests;
