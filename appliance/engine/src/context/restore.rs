//! A session's log and its memory, both ways: folding a session into one summary entry that
//! chains onto its entries, and rebuilding a session from its stored entries (after a restart
//! or an eviction).

use super::*;

/// Record ids a summary entry keeps (of each kind).
pub(super) const MAX_SUMMARY_RECORD_IDS: usize = 1024;

/// Folds a session's stored entries into one summary entry that chains onto them.
pub(super) fn fold(state: &mut SessionState, why: &str) -> Vec<LogOp> {
    let mut decisions: HashMap<String, u64> = HashMap::new();
    for a in &state.prior_actions {
        *decisions.entry(a.decision.clone()).or_default() += 1;
    }
    let through = state.next_seq.saturating_sub(1);
    let record = SummaryRecord {
        reason: why.to_string(),
        folded_entries: state.entries,
        through_seq: through,
        through_hash: state.head_hash.clone(),
        original_request: state
            .original_request
            .as_deref()
            .map(|t| cut(t, MAX_LOGGED_TEXT).to_string()),
        user_messages: state.user_messages,
        tool_results: state.tool_results,
        action_count: state.action_count,
        recent_decisions: decisions.into_iter().collect(),
        data_classes: state.data_classes.iter().map(data_of).collect(),
        data_labels: state.data_labels.iter().map(data_of).collect(),
        unclassified_reads: state.unclassified_reads,
        entities: state
            .entities
            .iter()
            .take(MAX_ENTRY_ENTITIES)
            .map(|(e, s)| json!({"kind": e.kind, "value": e.value, "source": s}))
            .collect(),
        // What makes a steered session steered survives the fold: the instructions flagged,
        // the values only free text carried (and those that were fields), and the records
        // that carried an instruction.
        steering: SteeringLists {
            instructions: state.instructions.iter().map(data_of).collect(),
            free_text_entities: state
                .free_text_entities(MAX_ENTRY_ENTITIES)
                .iter()
                .map(data_of)
                .collect(),
            field_entities: state
                .field_entity_list(MAX_ENTRY_ENTITIES)
                .iter()
                .map(data_of)
                .collect(),
            pointed_entities: state
                .pointed_prose_entities(MAX_ENTRY_ENTITIES)
                .iter()
                .map(data_of)
                .collect(),
            record_ids: state
                .record_ids
                .iter()
                .take(MAX_SUMMARY_RECORD_IDS)
                .map(data_of)
                .collect(),
            instruction_record_ids: state
                .carrier_ids
                .iter()
                .take(MAX_SUMMARY_RECORD_IDS)
                .map(data_of)
                .collect(),
            record_addresses: records_json(
                state.record_addresses.iter().take(MAX_SUMMARY_RECORD_IDS),
            ),
            record_names: names_json(state.record_names.iter().take(MAX_SUMMARY_RECORD_IDS)),
        },
        steered_outputs: state.steered_outputs,
        steered_entities: state
            .steered_entities
            .iter()
            .take(MAX_ENTRY_ENTITIES)
            .map(data_of)
            .collect(),
        steered_text: cut(&state.steered_text, MAX_LOGGED_TEXT).to_string(),
        started: state.started_at.clone(),
    };
    let data = data_of(&record);
    let below = state.next_seq;
    state.entries = 0;
    let mut app = Appender { state, ops: vec![] };
    app.append(EntryKind::Summary, data);
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
pub(super) fn replay(state: &mut SessionState, e: &ContextEntry, max_text: usize) {
    match e.record() {
        ContextRecord::UserMessage(m) if !m.text.is_empty() => {
            state.first_sight("user", &m.text);
            state.add_user_message(&m.text, max_text);
        }
        ContextRecord::SystemPrompt(p) if !p.text.is_empty() => {
            state.add_system_prompt(&p.text, max_text);
        }
        ContextRecord::ToolOutput(d) => {
            state.tool_results += 1;
            let found = logged_entities(&d.entities);
            state.add_entities(&found, Source::ToolOutput);
            if d.steered {
                // Only the summary was logged: the entities and those words still trace.
                state.add_steered_output(&d.summary, &found, max_text);
            }
            restore_steering(state, &d.steering, max_text);
            if let Some(c) = d.classification.class {
                state.data_classes.insert(c);
            }
            state.data_labels.extend(labels(&d.classification.labels));
            if d.classification.defaulted {
                state.unclassified_reads += 1;
            }
        }
        ContextRecord::Resolution(r) => {
            if let Some(a) = state.prior_action_mut(&r.action_id) {
                a.decision = r.decision;
            }
        }
        ContextRecord::Action(a) => state.add_action(PriorAction {
            action_id: a.action_id,
            tool: a.tool,
            operation: a.operation,
            decision: a.decision,
            steered: a.steered,
            pointed: a.pointed,
            classes: Default::default(),
            success: None,
        }),
        ContextRecord::Summary(d) => {
            if let Some(t) = &d.original_request {
                state.original_request = Some(t.clone());
                state.add_user_message(t, max_text);
                state.user_messages = 0;
            }
            state.user_messages += d.user_messages;
            state.tool_results = d.tool_results;
            state.action_count = d.action_count;
            state.data_classes.extend(
                d.data_classes
                    .iter()
                    .filter_map(|c| serde_json::from_value::<DataClass>(c.clone()).ok()),
            );
            state.data_labels.extend(labels(&d.data_labels));
            state.unclassified_reads = d.unclassified_reads;
            for x in &d.entities {
                let source = match x["source"].as_str() {
                    Some("user") => Source::User,
                    _ => Source::ToolOutput,
                };
                state.add_entities(&logged_entities(std::slice::from_ref(x)), source);
            }
            restore_steering(state, &d.steering, max_text);
            if d.steered_outputs > 0 {
                let steered = logged_entities(&d.steered_entities);
                state.add_steered_output(&d.steered_text, &steered, max_text);
                state.steered_outputs = d.steered_outputs;
            }
        }
        ContextRecord::UserMessage(_)
        | ContextRecord::SystemPrompt(_)
        | ContextRecord::Outcome(_)
        | ContextRecord::Unknown => {}
    }
}

/// Entities as a log entry lists them (`{"kind", "value"}`).
pub(super) fn logged_entities(list: &[Value]) -> Vec<entities::Entity> {
    Some(list)
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
pub(super) fn records_json<'a>(
    addresses: impl IntoIterator<Item = (&'a String, &'a Vec<entities::Entity>)>,
) -> Vec<Value> {
    addresses
        .into_iter()
        .map(|(id, found)| json!({"id": id, "addresses": found}))
        .collect()
}

/// Record names as a log entry lists them: `[{"id", "names": [..]}]`.
pub(super) fn names_json<'a>(
    names: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
) -> Vec<Value> {
    names
        .into_iter()
        .map(|(id, n)| json!({"id": id, "names": n}))
        .collect()
}

/// Restores from a tool result or a summary entry what tells a steered session: the values
/// only free text carried, the record ids (and those that carried an instruction), and the
/// instructions flagged.
pub(super) fn restore_steering(state: &mut SessionState, d: &SteeringLists, max_text: usize) {
    state.add_field_entities(
        logged_entities(&d.field_entities),
        logged_entities(&d.free_text_entities),
    );
    state.add_pointed_prose(&logged_entities(&d.pointed_entities));
    let ids = |v: &[Value]| -> Vec<String> {
        v.iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect()
    };
    state.add_record_ids(&ids(&d.record_ids), &ids(&d.instruction_record_ids));
    let addresses: Vec<(String, Vec<entities::Entity>)> = d
        .record_addresses
        .iter()
        .filter_map(|r| {
            let list = r["addresses"].as_array()?;
            Some((r["id"].as_str()?.to_string(), logged_entities(list)))
        })
        .collect();
    state.add_record_addresses(&addresses);
    let names: Vec<(String, Vec<String>)> = d
        .record_names
        .iter()
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
    for note in &d.instructions {
        if let Ok(note) = serde_json::from_value::<InstructionNote>(note.clone()) {
            // Only the excerpt was logged: values are still traced through its entities.
            let excerpt = note.excerpt.clone();
            state.add_instruction(note, Some((&excerpt, max_text)));
        }
    }
}

/// Data labels as logged, those this version knows.
fn labels(list: &[Value]) -> impl Iterator<Item = aarmor_core::DataLabel> + '_ {
    list.iter()
        .filter_map(|l| serde_json::from_value::<aarmor_core::DataLabel>(l.clone()).ok())
}
