//! What a tool output adds to a session: its text and entities, which of them were fields
//! and which free text, the parts addressed to the model, the records it held (their ids,
//! addresses and names), and what an output the user pointed at vouches for.

use super::entities::{extract, Entity};
use super::state::{
    append_bounded, append_with_words, first_by_value, InstructionNote, SessionState, Source,
    MAX_ENTITIES, MAX_INSTRUCTIONS, MAX_RECORD_IDS, MAX_WHOLE_VALUES,
};

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

impl SessionState {
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
        let split = super::fields::split(text, parsed.as_ref());
        self.add_whole_values(split.whole_values);
        // A pointed output vouches for its free text unless it addresses the model (below).
        let mut vouches = how.pointed && !how.steered;
        let vouched = if vouches {
            vouched_prose(&split.fields, &split.prose)
        } else {
            Vec::new()
        };
        self.add_field_entities(split.fields, split.prose);
        let mut notes = Vec::new();
        let own = how.tool.map(str::to_lowercase);
        // The tool that returned the output, by its full or its MCP leaf name.
        let is_own = |t: &str| {
            own.as_deref().is_some_and(|o| {
                o == t
                    || o.strip_suffix(t)
                        .is_some_and(|server| server.ends_with('.'))
            })
        };
        let others: Vec<String> = self
            .agent_tools
            .iter()
            .filter(|t| !is_own(t))
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
        vouches &= notes.is_empty();
        let pointed = if vouches { vouched } else { Vec::new() };
        self.add_pointed_prose(&pointed);
        if vouches {
            // Lower-cased as it is appended.
            append_bounded(&mut self.pointed_text, text, max_text);
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
}
