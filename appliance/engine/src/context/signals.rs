//! The intent signals of an action read against a session: `input.intent` (provenance, tool
//! words, the record targeted, what an instruction named, drift so far) and whether a call is
//! steered. Built on `SessionState` and `provenance`, which know nothing of each other's callers.

use serde_json::{json, Map, Value};

use super::provenance::provenance;
use super::state::{rounded, SessionState};
use super::words::{names_in, words_line};
use super::{records, tool_words};

/// The shortest word of a record's name that, written by the user, points at the record
/// (`notes`, `main` and the like are too common to point at anything).
pub const MIN_POINTING_WORD: usize = 6;
/// The lengths of an id the user wrote that points at what a call reads.
const MIN_POINTED_ID: usize = 4;
const MAX_POINTED_ID: usize = 64;

impl SessionState {
    /// Whether a call with these arguments is steered: one of them came from an instruction
    /// to the model, or from what an earlier steered call returned. Costs nothing in a session
    /// that saw neither.
    pub fn steers(&self, arguments: &Value) -> bool {
        match arguments {
            Value::Object(params) => self.steers_params(params),
            Value::String(text) => {
                let mut one = Map::new();
                one.insert("input".into(), Value::String(text.clone()));
                self.steers_params(&one)
            }
            _ => false,
        }
    }

    /// `steers`, for an action's parameters: one traced to an instruction or a steered output
    /// (`provenance`), or a name whose words an instruction used and the user did not all use
    /// (the `'Finance' folder` an injection pointed to, asked for as `Finance`), unless the
    /// system prompt uses it (the deployment's own endpoint names).
    pub fn steers_params(&self, params: &Map<String, Value>) -> bool {
        if self.instruction_text.is_empty() && self.steered_outputs == 0 {
            return false;
        }
        let traced = provenance(params, self)
            .values()
            .any(|o| o == "instruction" || o == "steered_output");
        traced || (!self.instruction_text.is_empty() && self.names_only_an_instruction_used(params))
    }

    fn names_only_an_instruction_used(&self, params: &Map<String, Value>) -> bool {
        let names = params
            .values()
            .take(64)
            .filter_map(Value::as_str)
            .flat_map(names_in);
        names.into_iter().any(|name| {
            let line = words_line(&name);
            let words: Vec<String> = line.split_whitespace().map(|w| format!(" {w} ")).collect();
            !words.is_empty()
                && words.len() <= 8
                && words.iter().any(|w| w.len() >= 6)
                && words.iter().all(|w| self.instruction_words.contains(w.as_str()))
                && !words.iter().all(|w| self.user_words.contains(w.as_str()))
                // The deployment's own names (an endpoint the system prompt lists).
                && !self.system_words.contains(&line)
        })
    }

    /// Whether a call with these arguments reads what the user pointed at: an argument is an
    /// id the user wrote (`TK-8812`), or a record whose name shares a word of
    /// [`MIN_POINTING_WORD`] letters or more with what the user wrote (the document listed as
    /// `Millbrook kickoff notes`, asked for as "the kickoff notes"; the message titled
    /// `New expenses mailbox`, asked for as "the expenses address Lin sent"). A search is not a
    /// pointer: it returns what matches, the attacker's text included.
    pub fn points_at(&self, arguments: &Value) -> bool {
        let Value::Object(params) = arguments else {
            return false;
        };
        self.points_at_params(params)
    }

    /// `points_at`, for an action's parameters.
    pub fn points_at_params(&self, params: &Map<String, Value>) -> bool {
        if self.user_text.is_empty() {
            return false;
        }
        params.values().take(64).any(|v| match v {
            Value::String(s) => names_in(s).iter().any(|n| self.user_points_to(n)),
            Value::Number(n) => self.user_points_to(&n.to_string()),
            Value::Array(items) => items
                .iter()
                .take(32)
                .filter_map(records::id_text)
                .any(|id| self.user_points_to(&id)),
            _ => false,
        })
    }

    fn user_points_to(&self, value: &str) -> bool {
        let id = value.trim().to_lowercase();
        let chars = id.chars().count();
        if !(MIN_POINTED_ID..=MAX_POINTED_ID).contains(&chars) {
            return false;
        }
        let written_by_user = id.chars().any(|c| c.is_ascii_digit())
            && !id.contains(char::is_whitespace)
            && self.user_words.contains(&words_line(&id));
        written_by_user
            || self.record_names.get(&id).is_some_and(|names| {
                names.iter().any(|name| {
                    words_line(name).split_whitespace().any(|w| {
                        w.chars().count() >= MIN_POINTING_WORD
                            && w.chars().all(char::is_alphabetic)
                            && self.user_words.contains(&format!(" {w} "))
                    })
                })
            })
    }

    /// The parameters whose value, or the record that value identifies (by one of its names),
    /// an instruction to the model names and neither the user nor the system prompt does
    /// (`input.intent.named_by_instruction`): what an injection pointed at, whatever the agent then passed.
    /// Empty, at no cost, in a session without such an instruction.
    pub fn named_by_instruction(&self, params: &Map<String, Value>) -> Vec<String> {
        if self.instruction_text.is_empty() {
            return Vec::new();
        }
        // A name or an id, not a plain word (`DELETE`, `archive`): a digit or a separator
        // inside, or several words.
        let named = |text: &str| {
            let line = words_line(text);
            let identifier = text
                .chars()
                .any(|c| c.is_ascii_digit() || ".-_#@/".contains(c))
                || line.trim().contains(' ');
            identifier
                && line.trim().chars().count() >= 3
                && self.instruction_words.contains(&line)
                && !self.user_words.contains(&line)
                && !self.system_words.contains(&line)
        };
        let mut out = Vec::new();
        for (key, value) in params.iter().take(64) {
            let mut values: Vec<String> = match value {
                Value::String(s) => names_in(s)
                    .into_iter()
                    .map(|name| name.to_lowercase())
                    .collect(),
                Value::Number(n) => vec![n.to_string()],
                Value::Array(items) => items.iter().take(32).filter_map(records::id_text).collect(),
                _ => continue,
            };
            values.retain(|v| v.chars().count() <= 256);
            let hit = values.iter().any(|v| {
                named(v)
                    || self
                        .record_names
                        .get(v.trim())
                        .is_some_and(|names| names.iter().any(|n| named(n)))
            });
            if hit {
                out.push(key.clone());
            }
        }
        out
    }

    /// `input.intent` as far as it is known without the model: `provenance` of these parameters,
    /// where the action's tool is named (`tool_words`, once a tool output addressed the model)
    /// and the session's `drift_max` and `drift_ema` so far.
    pub fn intent_json(&self, tool: &str, params: &Map<String, Value>) -> Map<String, Value> {
        let mut intent = Map::new();
        let provenance = provenance(params, self);
        if !provenance.is_empty() {
            intent.insert("provenance".into(), Value::Object(provenance));
        }
        if !self.instructions.is_empty() || !self.user_text.is_empty() {
            let words = tool_words::of_action(tool, params);
            let (in_request, in_instructions) =
                tool_words::where_named(&words, &self.user_text, &self.instruction_text);
            intent.insert(
                "tool_words".into(),
                json!({"words": words, "in_request": in_request, "in_instructions": in_instructions}),
            );
        }
        if let Some(t) = records::target_of(params, &self.record_ids, &self.carrier_ids, |id| {
            self.record_named_by_instruction(id)
        }) {
            intent.insert("target_record".into(), json!(t.as_str()));
        }
        let named = self.named_by_instruction(params);
        if !named.is_empty() {
            intent.insert("named_by_instruction".into(), json!(named));
        }
        if let Some(m) = self.drift_max {
            intent.insert("drift_max".into(), json!(rounded(m)));
        }
        if let Some(e) = self.drift_ema {
            intent.insert("drift_ema".into(), json!(rounded(e)));
        }
        intent
    }
}
