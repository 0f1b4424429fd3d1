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
pub(super) fn append_bounded(buf: &mut String, text: &str, cap: usize) -> usize {
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
pub(super) fn append_with_words(buf: &mut String, words: &mut String, text: &str, cap: usize) {
    let start = append_bounded(buf, text, cap);
    let added = super::words::words_line(&buf[start..]);
    if words.is_empty() {
        words.push_str(&added);
    } else {
        words.push_str(&added[1..]);
    }
}

/// The first `limit` entities of a set, ordered by value (a summary entry's stable list).
pub(super) fn first_by_value(set: &HashSet<Entity>, limit: usize) -> Vec<Entity> {
    let mut out: Vec<Entity> = set.iter().cloned().collect();
    out.sort_by(|a, b| a.value.cmp(&b.value));
    out.truncate(limit);
    out
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
    /// Shared mode: what this replica appended and the shared store has not confirmed yet.
    pub(crate) outbox: super::shared::Outbox,
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
    pub(super) system_entities: HashSet<Entity>,
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
    pub(super) field_entities: HashSet<Entity>,
    pub(super) prose_entities: HashSet<Entity>,
    /// Entities the free text of an output the user pointed at carried (`add_tool_output`).
    pub(super) pointed_prose: HashSet<Entity>,
    /// Values tool outputs held as values of their own (`add_whole_values`).
    pub(super) whole_values: HashSet<String>,
    /// The agent's tools, by the names `instructions::tool_names` keeps (`add_agent_tools`).
    /// Not logged: every request to the model declares them again.
    pub(super) agent_tools: Vec<String>,
    /// The text (lower-cased) of the outputs the user pointed at that addressed nothing to the
    /// model, bounded like `tool_text`. Not logged: after a restart, what it vouched for is
    /// read as free text.
    pub pointed_text: String,
    pub entities: Vec<(Entity, Source)>,
    pub(super) entity_index: HashSet<(Entity, Source)>,
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
pub(super) const MAX_RECORD_IDS: usize = 4096;

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
            outbox: super::shared::Outbox::default(),
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
    use crate::context::ReadBy;

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
