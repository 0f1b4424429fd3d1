//! The log entries of one update, chained onto the session's head, and how the texts they
//! carry are cut and summarized.

use aarmor_core::Classification;

use super::*;

/// Longest user message copied into the log; longer ones are cut (their hash is of the whole).
pub(super) const MAX_LOGGED_TEXT: usize = 16 * 1024;
/// Characters of a tool output kept as its summary.
const SUMMARY_CHARS: usize = 160;
/// Entities listed per log entry.
pub(super) const MAX_ENTRY_ENTITIES: usize = 32;

/// Collects the entries one update appends, chained onto the session's head.
pub(super) struct Appender<'a> {
    pub(super) state: &'a mut SessionState,
    pub(super) ops: Vec<LogOp>,
}

impl Appender<'_> {
    pub(super) fn append(&mut self, kind: EntryKind, data: Value) {
        let entry = ContextEntry {
            session: self.state.id.clone(),
            seq: self.state.next_seq,
            at: now_rfc3339_millis(),
            kind,
            prev_hash: self.state.head_hash.clone(),
            data,
        };
        self.state.head_hash = entry.hash();
        self.state.next_seq += 1;
        self.state.entries += 1;
        self.ops.push(LogOp::Put(entry));
    }

    pub(super) fn finish(mut self) -> Vec<LogOp> {
        if !self.ops.is_empty() {
            self.ops
                .push(LogOp::Head(self.state.id.clone(), head_of(self.state)));
        }
        self.ops
    }
}

pub(super) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(super) fn head_of(s: &SessionState) -> SessionHead {
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

pub(super) fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

pub(super) fn summary_of(text: &str) -> String {
    text.chars().take(SUMMARY_CHARS).collect()
}

pub(super) fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn classification_record(c: &Classification) -> ClassificationRecord {
    ClassificationRecord {
        class: Some(c.class),
        labels: c.labels.iter().map(data_of).collect(),
        detectors: c
            .findings
            .iter()
            .map(|f| json!({"detector": f.detector, "count": f.count}))
            .collect(),
        defaulted: c.defaulted,
    }
}
