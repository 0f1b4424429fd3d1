//! What aarmor remembers of one session in memory: the aggregates policy reads as
//! `input.context`, and what argument provenance searches (the user's words, tool outputs).
//!
//! Everything here is bounded: texts by `max_text_bytes`, lists by fixed caps; aggregates
//! (`action_count`, classes) stay exact when lists are capped.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use aarmor_core::{Classification, DataClass, DataLabel};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::entities::{extract, Entity};

/// Prior actions kept for `input.context.prior_actions`, the most recent (the count stays exact).
pub const MAX_PRIOR_ACTIONS: usize = 16;
/// Entities remembered per session (provenance looks them up).
pub const MAX_ENTITIES: usize = 256;
/// Whole field values kept per session (`SessionState::add_whole_values`).
pub const MAX_WHOLE_VALUES: usize = 4096;
/// Entities listed in `input.context.entities`, the most recent.
pub const MAX_ENTITIES_IN_INPUT: usize = 64;
/// Content hashes remembered to recognize resent conversation history.
const MAX_SEEN: usize = 8192;

/// Instructions to the model remembered per session.
pub const MAX_INSTRUCTIONS: usize = 16;

/// A part of a tool output addressed to the model: why it was flagged, how it begins, and the
/// entities it names.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct InstructionNote {
    pub cues: Vec<String>,
    pub excerpt: String,
    #[serde(default)]
    pub entities: Vec<Entity>,
}

/// Where an entity or value was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    User,
    ToolOutput,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriorAction {
    /// Internal: to attach results and outcomes; not shown to policy.
    #[serde(skip)]
    pub action_id: String,
    pub tool: String,
    pub operation: String,
    pub decision: String,
    /// An argument of the action came from an instruction to the model (or from what an
    /// earlier steered action returned): what it returns is steered output.
    #[serde(skip)]
    pub steered: bool,
    /// An argument of the action names what the user pointed at (`SessionState::points_at`):
    /// what it returns is the material the user delegated the task to.
    #[serde(skip)]
    pub pointed: bool,
    /// Classes of what the action returned, once known.
    pub classes: BTreeSet<DataClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
}

/// A signal as policy sees it: four decimals.
pub fn rounded(x: f32) -> f64 {
    (f64::from(x) * 10_000.0).round() / 10_000.0
}

/// Appends `text` to `buf` (lower-cased) while it stays under `cap` bytes; returns where the
/// appended part starts.
fn append_bounded(buf: &mut String, text: &str, cap: usize) -> usize {
    let start = buf.len();
    if start >= cap {
        return start;
    }
    let room = cap - start;
    let mut end = text.len().min(room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    buf.push_str(&text[..end].to_lowercase());
    buf.push('\n');
    start
}

/// `append_bounded`, and the words of what was appended added to `words`, the word line of
/// `buf` (`words::words_line`), kept as the text grows so that a decision never re-reads a
/// whole session text to find its words.
///
/// Invariant: `words == words::words_line(buf)` for a pair only ever appended through
/// here. Every append ends `buf` with a line break, so no word spans two appends.
fn append_with_words(buf: &mut String, words: &mut String, text: &str, cap: usize) {
    let start = append_bounded(buf, text, cap);
    let added = super::words::words_line(&buf[start..]);
    if words.is_empty() {
        words.push_str(&added);
    } else {
        words.push_str(&added[1..]);
    }
}

/// The first `limit` entities of a set, ordered by value (a summary entry's stable list).
fn first_by_value(set: &HashSet<Entity>, limit: usize) -> Vec<Entity> {
    let mut out: Vec<Entity> = set.iter().cloned().collect();
    out.sort_by(|a, b| a.value.cmp(&b.value));
    out.truncate(limit);
    out
}
/// How a tool output was read: by a call an instruction to the model steered, or by one aimed
/// at what the user named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadBy<'a> {
    pub steered: bool,
    pub pointed: bool,
    /// The tool that returned it (its own name in its output says nothing).
    pub tool: Option<&'a str>,
}

/// What `SessionState::add_tool_output` found in one output.
#[derive(Debug, Default)]
pub struct OutputRead {
    pub entities: Vec<Entity>,
    /// The parts addressed to the model.
    pub instructions: Vec<InstructionNote>,
    pub records: super::records::RecordIds,
    /// The addresses its free text carried that it vouches for (see `vouched_prose`).
    pub pointed_prose: Vec<Entity>,
}

/// The addresses in the free text of an output the user pointed at (the kickoff notes naming
/// counsel, the colleague's message with the new mailbox, the bill printed as text) that the
/// output vouches for: all of them, except a payment address (IBAN, account) when the output
/// also holds one of that kind as a field of its own — then the structured record says where
/// money goes and prose offering another one (`our account has changed`) is not the record's.
fn vouched_prose(fields: &[Entity], prose: &[Entity]) -> Vec<Entity> {
    use super::entities::EntityKind;
    prose
        .iter()
        .filter(|e| {
            let payment = matches!(e.kind, EntityKind::Iban | EntityKind::Account);
            !(payment && fields.iter().any(|f| f.kind == e.kind && f != *e))
        })
        .cloned()
        .collect()
}

pub struct SessionState {
    pub id: String,
    pub agent: String,
    pub started: Instant,
    pub started_at: String,
    pub last_seen: Instant,
    /// Next entry's seq and the hash it chains to.
    pub next_seq: u64,
    pub head_hash: String,
    /// Entries stored since the last compaction.
    pub entries: u64,
    pub original_request: Option<String>,
    pub last_user_message: Option<String>,
    pub user_messages: u64,
    pub tools_declared: u64,
    pub tool_results: u64,
    pub user_text: String,
    /// The words of `user_text`, `system_text` and `instruction_text` (`append_with_words`).
    pub user_words: String,
    pub system_words: String,
    pub instruction_words: String,
    /// The system prompt(s), lower-cased: written by whoever deployed the agent, like the user's
    /// words (an API's base URL, a team's channel).
    pub system_text: String,
    system_entities: HashSet<Entity>,
    pub tool_text: String,
    /// `tool_text` as a word line (`words::words_line`), kept as it grows.
    pub tool_words: String,
    /// Parts of tool outputs addressed to the model (lower-cased), bounded like `tool_text`.
    pub instruction_text: String,
    /// Entities named in those parts.
    pub instruction_entities: HashSet<Entity>,
    /// What was flagged and why (the first `MAX_INSTRUCTIONS`), for policy and receipts.
    pub instructions: Vec<InstructionNote>,
    /// Entities tool outputs carried as fields of their own, and those seen only in free text.
    field_entities: HashSet<Entity>,
    prose_entities: HashSet<Entity>,
    /// Entities the free text of an output the user pointed at carried (`add_tool_output`).
    pointed_prose: HashSet<Entity>,
    /// Values tool outputs held as values of their own (`add_whole_values`).
    whole_values: HashSet<String>,
    /// The agent's tools, by the names `instructions::tool_names` keeps (`add_agent_tools`).
    /// Not logged: every request to the model declares them again.
    agent_tools: Vec<String>,
    /// The text (lower-cased) of the outputs the user pointed at that addressed nothing to the
    /// model, bounded like `tool_text`. Not logged: after a restart, what it vouched for is
    /// read as free text.
    pub pointed_text: String,
    pub entities: Vec<(Entity, Source)>,
    entity_index: HashSet<(Entity, Source)>,
    seen: HashSet<[u8; 32]>,
    pub prior_actions: VecDeque<PriorAction>,
    pub action_count: u64,
    pub data_classes: BTreeSet<DataClass>,
    pub data_labels: BTreeSet<DataLabel>,
    /// Reads nothing classified (counted at the default class).
    pub unclassified_reads: u64,
    pub original_embedding: Option<Arc<Vec<f32>>>,
    pub drift_max: Option<f32>,
    pub drift_ema: Option<f32>,
    pub drift_samples: u64,
    /// Record ids (a message's, a ticket's) the session's tool outputs held, lower-cased, and
    /// those of records that carried an instruction to the model (`records`).
    pub record_ids: BTreeSet<String>,
    pub carrier_ids: BTreeSet<String>,
    /// The addresses in each record's own members, by record id.
    pub record_addresses: HashMap<String, Vec<Entity>>,
    /// The names of each record (a file's name, a message's subject), by record id.
    pub record_names: HashMap<String, Vec<String>>,
    /// What tool calls an instruction to the model steered returned (a call with an argument
    /// only an instruction named: the injection's own read). Kept apart from `tool_text`, so
    /// that a value only such an output carried is traced to it (`steered_output`): the text
    /// (lower-cased), its words joined by single spaces (a write carrying a run of them carries
    /// what the steered call returned), and its entities. Bounded like `tool_text`.
    pub steered_text: String,
    pub steered_words: String,
    pub steered_entities: HashSet<Entity>,
    pub steered_outputs: u64,
}

/// Record ids kept per session (the oldest are kept once the bound is reached).
const MAX_RECORD_IDS: usize = 4096;

impl SessionState {
    pub fn new(id: &str, agent: &str, started_at: String, genesis: &str) -> Self {
        Self {
            id: id.to_string(),
            agent: agent.to_string(),
            started: Instant::now(),
            started_at,
            last_seen: Instant::now(),
            next_seq: 0,
            head_hash: genesis.to_string(),
            entries: 0,
            original_request: None,
            last_user_message: None,
            user_messages: 0,
            tools_declared: 0,
            tool_results: 0,
            user_text: String::new(),
            user_words: String::new(),
            system_words: String::new(),
            instruction_words: String::new(),
            system_text: String::new(),
            system_entities: HashSet::new(),
            tool_text: String::new(),
            tool_words: String::new(),
            instruction_text: String::new(),
            instruction_entities: HashSet::new(),
            instructions: Vec::new(),
            field_entities: HashSet::new(),
            prose_entities: HashSet::new(),
            pointed_prose: HashSet::new(),
            whole_values: HashSet::new(),
            agent_tools: Vec::new(),
            pointed_text: String::new(),
            entities: Vec::new(),
            entity_index: HashSet::new(),
            seen: HashSet::new(),
            prior_actions: VecDeque::new(),
            action_count: 0,
            data_classes: BTreeSet::new(),
            data_labels: BTreeSet::new(),
            unclassified_reads: 0,
            original_embedding: None,
            drift_max: None,
            drift_ema: None,
            drift_samples: 0,
            record_ids: BTreeSet::new(),
            carrier_ids: BTreeSet::new(),
            record_addresses: HashMap::new(),
            record_names: HashMap::new(),
            steered_text: String::new(),
            steered_words: String::new(),
            steered_entities: HashSet::new(),
            steered_outputs: 0,
        }
    }

    /// True the first time this content is seen in the session (LLM requests resend the whole
    /// conversation on every turn).
    pub fn first_sight(&mut self, kind: &str, content: &str) -> bool {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(kind.as_bytes());
        h.update([0u8]);
        h.update(content.as_bytes());
        let digest: [u8; 32] = h.finalize().into();
        if self.seen.len() >= MAX_SEEN {
            self.seen.clear();
        }
        self.seen.insert(digest)
    }

    pub fn add_user_message(&mut self, text: &str, max_text: usize) -> Vec<Entity> {
        if self.original_request.is_none() {
            self.original_request = Some(text.to_string());
        }
        self.last_user_message = Some(text.to_string());
        self.user_messages += 1;
        append_with_words(&mut self.user_text, &mut self.user_words, text, max_text);
        let found = extract(text);
        self.add_entities(&found, Source::User);
        found
    }

    pub fn add_system_prompt(&mut self, text: &str, max_text: usize) {
        append_with_words(
            &mut self.system_text,
            &mut self.system_words,
            text,
            max_text,
        );
        self.system_entities.extend(extract(text));
    }

    pub fn has_system_entity(&self, e: &Entity) -> bool {
        self.system_entities.contains(e)
    }

    /// Records a tool output: its text, its entities, and the parts of it addressed to the
    /// model (returned, for the context log).
    ///
    /// A `steered` output (the result of a call an instruction to the model steered) goes to
    /// the steered texts instead of `tool_text`. A `pointed` one (the result of a call aimed
    /// at what the user named, `SessionState::points_at`) that addresses nothing to the model
    /// vouches for the addresses its free text carries (`pointed_prose`).
    pub fn add_tool_output(&mut self, text: &str, max_text: usize, how: ReadBy<'_>) -> OutputRead {
        self.tool_results += 1;
        let found = extract(text);
        if how.steered {
            self.add_steered_output(text, &found, max_text);
        } else {
            append_with_words(&mut self.tool_text, &mut self.tool_words, text, max_text);
        }
        self.add_entities(&found, Source::ToolOutput);
        let parsed = super::fields::json_output(text);
        let (fields, prose) = super::fields::split(text, parsed.as_ref());
        self.add_whole_values(super::fields::whole_values(text, parsed.as_ref()));
        let vouched = if how.pointed && !how.steered {
            vouched_prose(&fields, &prose)
        } else {
            Vec::new()
        };
        self.add_field_entities(fields, prose);
        let mut notes = Vec::new();
        let own = how.tool.map(str::to_lowercase);
        let others: Vec<String> = self
            .agent_tools
            .iter()
            .filter(|t| {
                own.as_deref()
                    .is_none_or(|o| o != t.as_str() && !o.ends_with(&format!(".{t}")))
            })
            .cloned()
            .collect();
        for i in super::instructions::find_naming_tools(text, parsed.as_ref(), &others) {
            let note = InstructionNote {
                cues: i.cues.iter().map(|c| c.to_string()).collect(),
                excerpt: i.excerpt,
                entities: extract(&i.original),
            };
            append_with_words(
                &mut self.instruction_text,
                &mut self.instruction_words,
                &i.text,
                max_text,
            );
            self.add_instruction(note.clone(), None);
            notes.push(note);
        }
        let records = super::records::of_output(parsed.as_ref(), !notes.is_empty());
        self.add_record_ids(&records.read, &records.carriers);
        self.add_record_addresses(&records.addresses);
        self.add_record_names(&records.names);
        // An output that addresses the model vouches for nothing.
        let pointed = if notes.is_empty() {
            vouched
        } else {
            Vec::new()
        };
        self.add_pointed_prose(&pointed);
        if how.pointed && !how.steered && notes.is_empty() {
            append_bounded(&mut self.pointed_text, &text.to_lowercase(), max_text);
        }
        OutputRead {
            entities: found,
            instructions: notes,
            records,
            pointed_prose: pointed,
        }
    }

    /// Remembers the values tool outputs held as values of their own (`fields::whole_values`).
    /// Not logged: after a restart, a value found only in the tool text the log restored is
    /// read as free text, the stricter origin.
    pub fn add_whole_values(&mut self, values: Vec<String>) {
        for v in values {
            // A channel or handle is the same value with or without its sign (`#general`).
            let bare = v.trim_start_matches(['#', '@']).to_string();
            for value in [v, bare] {
                if self.whole_values.len() < MAX_WHOLE_VALUES {
                    self.whole_values.insert(value);
                }
            }
        }
    }

    /// Remembers the names of the agent's tools (from a tool declaration list).
    pub fn add_agent_tools(&mut self, names: Vec<String>) {
        for n in names {
            if self.agent_tools.len() < super::instructions::MAX_TOOL_NAMES
                && !self.agent_tools.contains(&n)
            {
                self.agent_tools.push(n);
            }
        }
    }

    /// A tool output held `value` (lower-cased) as a value of its own.
    pub fn is_whole_value(&self, value: &str) -> bool {
        self.whole_values.contains(value)
    }

    /// Remembers addresses the free text of a pointed output carried (also when restoring
    /// from the log).
    pub fn add_pointed_prose(&mut self, found: &[Entity]) {
        for e in found {
            if self.pointed_prose.len() < MAX_ENTITIES {
                self.pointed_prose.insert(e.clone());
            }
        }
    }

    /// An address free text carried in an output the user pointed at (`add_tool_output`).
    pub fn in_pointed_prose(&self, e: &Entity) -> bool {
        self.pointed_prose.contains(e)
    }

    /// Those addresses (for a summary entry; at most `limit`).
    pub fn pointed_prose_entities(&self, limit: usize) -> Vec<Entity> {
        first_by_value(&self.pointed_prose, limit)
    }

    /// Remembers what a steered call returned (also when restoring from the log).
    pub fn add_steered_output(&mut self, text: &str, found: &[Entity], max_text: usize) {
        self.steered_outputs += 1;
        append_with_words(
            &mut self.steered_text,
            &mut self.steered_words,
            text,
            max_text,
        );
        self.steered_entities.extend(found.iter().cloned());
    }

    /// Remembers the addresses of records (also when restoring from the log).
    pub fn add_record_addresses(&mut self, addresses: &[(String, Vec<Entity>)]) {
        for (id, found) in addresses {
            if self.record_addresses.len() < MAX_RECORD_IDS
                || self.record_addresses.contains_key(id)
            {
                self.record_addresses.insert(id.clone(), found.clone());
            }
        }
    }

    /// Remembers the names of records (also when restoring from the log).
    pub fn add_record_names(&mut self, names: &[(String, Vec<String>)]) {
        for (id, list) in names {
            if self.record_names.len() < MAX_RECORD_IDS || self.record_names.contains_key(id) {
                self.record_names.insert(id.clone(), list.clone());
            }
        }
    }

    /// Whether an instruction to the model names one of a record's addresses.
    pub fn record_named_by_instruction(&self, id: &str) -> bool {
        self.record_addresses
            .get(id)
            .is_some_and(|found| found.iter().any(|e| self.instruction_entities.contains(e)))
    }

    /// Remembers the record ids a tool output held, and those of records that carried an
    /// instruction (also when restoring from the log).
    pub fn add_record_ids(&mut self, read: &[String], carriers: &[String]) {
        for id in read.iter().chain(carriers) {
            if self.record_ids.len() < MAX_RECORD_IDS {
                self.record_ids.insert(id.clone());
            }
        }
        for id in carriers {
            if self.carrier_ids.len() < MAX_RECORD_IDS {
                self.carrier_ids.insert(id.clone());
            }
        }
    }

    /// Remembers a flagged instruction (from a tool output, or restored from the log with the
    /// text it was logged with).
    pub fn add_instruction(&mut self, note: InstructionNote, text: Option<(&str, usize)>) {
        if let Some((t, max_text)) = text {
            append_with_words(
                &mut self.instruction_text,
                &mut self.instruction_words,
                t,
                max_text,
            );
        }
        self.instruction_entities
            .extend(note.entities.iter().cloned());
        if self.instructions.len() < MAX_INSTRUCTIONS {
            self.instructions.push(note);
        }
    }

    /// Records which tool-output entities were fields and which free text (also when
    /// restoring from the log).
    pub fn add_field_entities(&mut self, fields: Vec<Entity>, prose: Vec<Entity>) {
        // Invariant: an entity seen as a field anywhere (in this output or an earlier one) is
        // never in `prose_entities`, whichever order the output listed it in.
        for e in &fields {
            self.prose_entities.remove(e);
        }
        self.field_entities.extend(fields);
        for e in prose {
            if !self.field_entities.contains(&e) {
                self.prose_entities.insert(e);
            }
        }
    }

    /// Seen in tool outputs only inside free text, never as a field of its own.
    pub fn only_in_free_text(&self, e: &Entity) -> bool {
        self.prose_entities.contains(e)
    }

    /// Seen in a tool output as a field of its own.
    pub fn is_field(&self, e: &Entity) -> bool {
        self.field_entities.contains(e)
    }

    /// The entities seen as fields (for a summary entry; at most `limit`).
    pub fn field_entity_list(&self, limit: usize) -> Vec<Entity> {
        first_by_value(&self.field_entities, limit)
    }

    /// The entities seen only in free text (for a summary entry; at most `limit`).
    pub fn free_text_entities(&self, limit: usize) -> Vec<Entity> {
        first_by_value(&self.prose_entities, limit)
    }

    pub fn has_instruction_entity(&self, e: &Entity) -> bool {
        self.instruction_entities.contains(e)
    }

    pub fn add_entities(&mut self, found: &[Entity], source: Source) {
        for e in found {
            let k = (e.clone(), source);
            if self.entity_index.contains(&k) {
                continue;
            }
            if self.entities.len() < MAX_ENTITIES {
                self.entities.push(k.clone());
            }
            self.entity_index.insert(k);
        }
    }

    pub fn add_classification(&mut self, c: &Classification) {
        self.data_classes.insert(c.class);
        self.data_labels.extend(c.labels.iter().copied());
        if c.defaulted {
            self.unclassified_reads += 1;
        }
    }

    pub fn add_action(&mut self, action: PriorAction) {
        self.action_count += 1;
        if self.prior_actions.len() >= MAX_PRIOR_ACTIONS {
            self.prior_actions.pop_front();
        }
        self.prior_actions.push_back(action);
    }

    pub fn prior_action_mut(&mut self, action_id: &str) -> Option<&mut PriorAction> {
        self.prior_actions
            .iter_mut()
            .rev()
            .find(|a| a.action_id == action_id)
    }

    pub fn has_entity(&self, e: &Entity, source: Source) -> bool {
        self.entity_index.contains(&(e.clone(), source))
    }

    /// `input.context` with what the session's agent read in its other sessions merged in
    /// (data classes, labels and entities, marked `reads_from_other_sessions`).
    pub fn to_json_with(&self, agent_reads: Option<&super::agent_reads::Reads>) -> Value {
        let mut v = self.to_json();
        let Some(reads) = agent_reads else {
            return v;
        };
        let classes: BTreeSet<DataClass> =
            self.data_classes.union(&reads.classes).copied().collect();
        let labels: BTreeSet<DataLabel> = self.data_labels.union(&reads.labels).copied().collect();
        let new_entities: Vec<&Entity> = reads
            .entities
            .iter()
            .filter(|e| {
                !self
                    .entity_index
                    .contains(&((*e).clone(), Source::ToolOutput))
            })
            .collect();
        if classes.len() == self.data_classes.len()
            && labels.len() == self.data_labels.len()
            && new_entities.is_empty()
        {
            return v;
        }
        let Some(m) = v.as_object_mut() else {
            return v;
        };
        if !classes.is_empty() {
            m.insert("max_data_class".into(), json!(classes.iter().max()));
            m.insert("data_classes".into(), json!(classes));
        }
        if !labels.is_empty() {
            m.insert("data_labels".into(), json!(labels));
        }
        if !new_entities.is_empty() {
            let mut list: Vec<Value> = m
                .get("entities")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for e in new_entities {
                list.push(json!({"kind": e.kind, "value": e.value, "source": Source::ToolOutput}));
            }
            let skip = list.len().saturating_sub(MAX_ENTITIES_IN_INPUT);
            m.insert("entities".into(), Value::Array(list.split_off(skip)));
        }
        m.insert("reads_from_other_sessions".into(), json!(true));
        v
    }

    /// `input.context`: fields that are not known yet are absent.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("session".into(), json!(self.id));
        if let Some(o) = &self.original_request {
            m.insert("original_request".into(), json!(o));
        }
        if let Some(l) = &self.last_user_message {
            m.insert("last_user_message".into(), json!(l));
        }
        m.insert("user_messages".into(), json!(self.user_messages));
        m.insert("tools_declared".into(), json!(self.tools_declared));
        m.insert("tool_results".into(), json!(self.tool_results));
        m.insert("prior_actions".into(), json!(self.prior_actions));
        m.insert("action_count".into(), json!(self.action_count));
        if !self.data_classes.is_empty() {
            m.insert("data_classes".into(), json!(self.data_classes));
            m.insert(
                "max_data_class".into(),
                json!(self.data_classes.iter().max()),
            );
        }
        if !self.data_labels.is_empty() {
            m.insert("data_labels".into(), json!(self.data_labels));
        }
        m.insert("unclassified_reads".into(), json!(self.unclassified_reads));
        if !self.instructions.is_empty() {
            m.insert(
                "instructions".into(),
                Value::Array(
                    self.instructions
                        .iter()
                        .map(|n| json!({"cues": n.cues, "excerpt": n.excerpt}))
                        .collect(),
                ),
            );
        }
        if !self.entities.is_empty() {
            m.insert(
                "entities".into(),
                Value::Array(
                    self.entities
                        .iter()
                        .skip(self.entities.len().saturating_sub(MAX_ENTITIES_IN_INPUT))
                        .map(|(e, s)| json!({"kind": e.kind, "value": e.value, "source": s}))
                        .collect(),
                ),
            );
        }
        m.insert(
            "elapsed".into(),
            json!(self.started.elapsed().as_secs_f64().round() as u64),
        );
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lines_kept_as_texts_grow_match_the_whole_text() {
        let mut text = String::new();
        let mut words = String::new();
        for (part, cap) in [
            ("Give #exec a digest", 64),
            ("of #Support-Escalations, ΣΟΦΊΑ's notes.", 64),
            ("a line cut at the bound, mid-wörd", 90),
            ("nothing fits any more", 90),
        ] {
            append_with_words(&mut text, &mut words, part, cap);
            assert_eq!(words, super::super::words::words_line(&text), "{text:?}");
        }
        assert!(text.len() <= 91);
    }

    #[test]
    fn an_address_that_is_a_field_is_not_free_text_whatever_the_key_order() {
        // `body` sorts before `from`: the prose mention is split out before the field.
        let mut state = SessionState::new("s", "a", String::new(), "");
        let mail = r#"{"from": "Tomas Castellot <tomas.c@audit.example>",
            "body": "Please share documents with me at tomas.c@audit.example."}"#;
        state.add_tool_output(mail, 4096, ReadBy::default());
        let address = extract("tomas.c@audit.example").remove(0);
        assert!(!state.only_in_free_text(&address));
        let mut state = SessionState::new("s", "a", String::new(), "");
        state.add_tool_output(
            r#"{"body": "Write to tomas.c@audit.example from now on."}"#,
            4096,
            ReadBy::default(),
        );
        assert!(state.only_in_free_text(&address));
    }
}
