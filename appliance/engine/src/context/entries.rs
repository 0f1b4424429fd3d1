//! What a context log entry records: its kind, and for each kind the record `data` holds.
//!
//! Invariant: an entry read back writes exactly the JSON that was hashed into the chain. The
//! kind keeps a name this version does not know as written ([`EntryKind::Other`]), and `data`
//! stays the JSON that was written; records are read out of it ([`ContextEntry::record`]),
//! never written back from what was read.
//!
//! Records are read leniently: a field an earlier version wrote in another shape reads as its
//! default, and the lists of tool outputs and summaries (entities, record ids, addresses, names,
//! instructions) keep their elements as JSON, restored one by one (`restore.rs`), so that one
//! element in another shape is skipped rather than losing the whole entry.

use std::collections::BTreeMap;

use aarmor_core::receipt_records::Execution;
use aarmor_core::DataClass;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::log::ContextEntry;

/// The kind of a context log entry, which says how its `data` reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A system prompt seen for the first time ([`TextRecord`]).
    SystemPrompt,
    /// A user message seen for the first time ([`UserMessageRecord`]).
    UserMessage,
    /// What a tool the model called returned: summary, hash, classification, entities, and
    /// what it carried of instructions and records.
    ToolResult,
    /// What an executed action (MCP, REST, SQL) returned; read as a tool result.
    ActionResult,
    /// An action decided in the session ([`ActionRecord`]).
    Action,
    /// How a held action was finally decided ([`ResolutionRecord`]).
    Resolution,
    /// What an action that ran did ([`OutcomeRecord`]).
    Outcome,
    /// The session folded into one entry that chains onto the entries it replaced.
    Summary,
    /// A kind another version wrote, kept as written.
    Other(String),
}

impl EntryKind {
    /// The name written in the log.
    pub fn as_str(&self) -> &str {
        match self {
            Self::SystemPrompt => "system_prompt",
            Self::UserMessage => "user_message",
            Self::ToolResult => "tool_result",
            Self::ActionResult => "action_result",
            Self::Action => "action",
            Self::Resolution => "resolution",
            Self::Outcome => "outcome",
            Self::Summary => "summary",
            Self::Other(name) => name,
        }
    }

    fn named(name: &str) -> Self {
        match name {
            "system_prompt" => Self::SystemPrompt,
            "user_message" => Self::UserMessage,
            "tool_result" => Self::ToolResult,
            "action_result" => Self::ActionResult,
            "action" => Self::Action,
            "resolution" => Self::Resolution,
            "outcome" => Self::Outcome,
            "summary" => Self::Summary,
            other => Self::Other(other.to_string()),
        }
    }
}

impl Serialize for EntryKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EntryKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::named(&String::deserialize(d)?))
    }
}

/// `system_prompt`: the prompt (cut to the logged length), the hash and length of the whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TextRecord {
    pub text: String,
    /// `sha256:` + hex of the whole text.
    pub sha256: String,
    pub chars: usize,
}

/// `user_message`: the message (cut to the logged length), its hash, whether it became the
/// session's original request, and the entities found in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserMessageRecord {
    pub text: String,
    pub sha256: String,
    pub original_request: bool,
    pub entities: Vec<Value>,
}

/// `action`: an action decided in the session, and what its arguments owed to the session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActionRecord {
    pub action_id: String,
    pub tool: String,
    pub operation: String,
    /// `ALLOW`, `DENY`, `MODIFY`, `STEP_UP` or `DEFER`.
    pub decision: String,
    pub rule: Option<String>,
    /// False in monitor mode: the decision was recorded, the action allowed.
    pub enforced: bool,
    /// An argument came from an instruction to the model.
    pub steered: bool,
    /// An argument named what the user pointed at.
    pub pointed: bool,
}

/// `resolution`: how a held (STEP_UP, DEFER) action was finally decided.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResolutionRecord {
    pub action_id: String,
    pub decision: String,
    pub rule: Option<String>,
}

/// `outcome`: what an action that ran did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    pub action_id: String,
    pub execution: Execution,
}

/// Reads a field as `T`, or as its default when it holds something else (another version's
/// shape): one unreadable field never loses the rest of the record.
fn lenient<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(serde_json::from_value(Value::deserialize(d)?).unwrap_or_default())
}

/// What a tool output or a summary keeps of the steering it saw: the instructions flagged, the
/// values only free text carried (and those read as fields or pointed at), and the records
/// (ids, those that carried an instruction, their addresses and names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SteeringLists {
    #[serde(deserialize_with = "lenient")]
    pub instructions: Vec<Value>,
    #[serde(deserialize_with = "lenient")]
    pub free_text_entities: Vec<Value>,
    #[serde(deserialize_with = "lenient")]
    pub field_entities: Vec<Value>,
    #[serde(deserialize_with = "lenient")]
    pub pointed_entities: Vec<Value>,
    #[serde(deserialize_with = "lenient")]
    pub record_ids: Vec<Value>,
    #[serde(deserialize_with = "lenient")]
    pub instruction_record_ids: Vec<Value>,
    /// `[{"id", "addresses": [entity, ...]}]`.
    #[serde(deserialize_with = "lenient")]
    pub record_addresses: Vec<Value>,
    /// `[{"id", "names": [..]}]`.
    #[serde(deserialize_with = "lenient")]
    pub record_names: Vec<Value>,
}

/// How a tool output was classified.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClassificationRecord {
    #[serde(deserialize_with = "lenient")]
    pub class: Option<DataClass>,
    #[serde(deserialize_with = "lenient")]
    pub labels: Vec<Value>,
    /// `[{"detector", "count"}]`.
    #[serde(deserialize_with = "lenient")]
    pub detectors: Vec<Value>,
    /// Nothing classified it: it counts as the highest class.
    #[serde(deserialize_with = "lenient")]
    pub defaulted: bool,
}

/// `tool_result` / `action_result`: what a tool or an executed action returned, never the whole
/// output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ToolOutputRecord {
    /// The first characters of the output.
    #[serde(deserialize_with = "lenient")]
    pub summary: String,
    #[serde(deserialize_with = "lenient")]
    pub sha256: String,
    #[serde(deserialize_with = "lenient")]
    pub bytes: u64,
    /// The executed action it answers.
    #[serde(deserialize_with = "lenient")]
    pub action_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub classification: ClassificationRecord,
    #[serde(deserialize_with = "lenient")]
    pub entities: Vec<Value>,
    #[serde(flatten)]
    pub steering: SteeringLists,
    /// The tool call it answers (LLM tool results).
    #[serde(deserialize_with = "lenient")]
    pub call: Option<String>,
    /// The call it answers was steered by an instruction to the model.
    #[serde(deserialize_with = "lenient")]
    pub steered: bool,
}

/// `summary`: a session folded into one entry that chains onto the entries it replaced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SummaryRecord {
    /// Why it was folded (`idle`, `entries`).
    #[serde(deserialize_with = "lenient")]
    pub reason: String,
    #[serde(deserialize_with = "lenient")]
    pub folded_entries: u64,
    #[serde(deserialize_with = "lenient")]
    pub through_seq: u64,
    #[serde(deserialize_with = "lenient")]
    pub through_hash: String,
    #[serde(deserialize_with = "lenient")]
    pub original_request: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub user_messages: u64,
    #[serde(deserialize_with = "lenient")]
    pub tool_results: u64,
    #[serde(deserialize_with = "lenient")]
    pub action_count: u64,
    /// Decisions of the session's recent actions, counted.
    #[serde(deserialize_with = "lenient")]
    pub recent_decisions: BTreeMap<String, u64>,
    #[serde(deserialize_with = "lenient")]
    pub data_classes: Vec<Value>,
    #[serde(deserialize_with = "lenient")]
    pub data_labels: Vec<Value>,
    #[serde(deserialize_with = "lenient")]
    pub unclassified_reads: u64,
    /// `[{"kind", "value", "source"}]`.
    #[serde(deserialize_with = "lenient")]
    pub entities: Vec<Value>,
    #[serde(flatten)]
    pub steering: SteeringLists,
    #[serde(deserialize_with = "lenient")]
    pub steered_outputs: u64,
    #[serde(deserialize_with = "lenient")]
    pub steered_entities: Vec<Value>,
    #[serde(deserialize_with = "lenient")]
    pub steered_text: String,
    #[serde(deserialize_with = "lenient")]
    pub started: String,
}

/// An entry's record, read out of its `data` by its kind.
#[derive(Debug, Clone, PartialEq)]
pub enum ContextRecord {
    SystemPrompt(TextRecord),
    UserMessage(UserMessageRecord),
    /// A tool result or an executed action's result.
    ToolOutput(ToolOutputRecord),
    Action(ActionRecord),
    Resolution(ResolutionRecord),
    /// An outcome; `None` when its `execution` is not of this version's shape.
    Outcome(Option<OutcomeRecord>),
    Summary(SummaryRecord),
    /// A kind this version does not know.
    Unknown,
}

impl ContextEntry {
    /// The record this entry holds. Fields a record lacks (written by an earlier version) read
    /// as their defaults.
    pub fn record(&self) -> ContextRecord {
        fn read<T: serde::de::DeserializeOwned + Default>(data: &Value) -> T {
            T::deserialize(data).unwrap_or_default()
        }
        match self.kind {
            EntryKind::SystemPrompt => ContextRecord::SystemPrompt(read(&self.data)),
            EntryKind::UserMessage => ContextRecord::UserMessage(read(&self.data)),
            EntryKind::ToolResult | EntryKind::ActionResult => {
                ContextRecord::ToolOutput(read(&self.data))
            }
            EntryKind::Action => ContextRecord::Action(read(&self.data)),
            EntryKind::Resolution => ContextRecord::Resolution(read(&self.data)),
            EntryKind::Outcome => {
                ContextRecord::Outcome(OutcomeRecord::deserialize(&self.data).ok())
            }
            EntryKind::Summary => ContextRecord::Summary(read(&self.data)),
            EntryKind::Other(_) => ContextRecord::Unknown,
        }
    }
}

/// A record's JSON for an entry's `data`. Records are plain data: writing one cannot fail;
/// should it, the entry holds `null` rather than nothing.
pub(super) fn data_of<T: Serialize>(record: &T) -> Value {
    serde_json::to_value(record).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kinds_keep_their_names_known_or_not() {
        for name in [
            "system_prompt",
            "user_message",
            "tool_result",
            "action_result",
            "action",
            "resolution",
            "outcome",
            "summary",
            "written_by_a_later_version",
        ] {
            let kind: EntryKind = serde_json::from_value(json!(name)).unwrap();
            assert_eq!(serde_json::to_value(&kind).unwrap(), json!(name));
        }
    }

    #[test]
    fn records_write_what_earlier_versions_wrote() {
        // The literals are the `json!` the log was written with before the records had types.
        let action = ActionRecord {
            action_id: "act_1".into(),
            tool: "mail.send".into(),
            operation: "call".into(),
            decision: "DENY".into(),
            rule: None,
            enforced: true,
            steered: false,
            pointed: true,
        };
        assert_eq!(
            data_of(&action),
            json!({"action_id": "act_1", "tool": "mail.send", "operation": "call",
                "decision": "DENY", "rule": null, "enforced": true, "steered": false, "pointed": true})
        );
        let resolution = ResolutionRecord {
            action_id: "act_1".into(),
            decision: "ALLOW".into(),
            rule: Some("r".into()),
        };
        assert_eq!(
            data_of(&resolution),
            json!({"action_id": "act_1", "decision": "ALLOW", "rule": "r"})
        );
        let text = TextRecord {
            text: "be brief".into(),
            sha256: "sha256:00".into(),
            chars: 8,
        };
        assert_eq!(
            data_of(&text),
            json!({"text": "be brief", "sha256": "sha256:00", "chars": 8})
        );
        let outcome = OutcomeRecord {
            action_id: "act_1".into(),
            execution: Execution {
                status: 200,
                success: true,
                output_hash: "sha256:00".into(),
                bytes: 3,
                duration_ms: 4,
            },
        };
        assert_eq!(
            data_of(&outcome),
            json!({"action_id": "act_1", "execution": {"status": 200, "success": true,
                "output_hash": "sha256:00", "bytes": 3, "duration_ms": 4}})
        );
    }
}
