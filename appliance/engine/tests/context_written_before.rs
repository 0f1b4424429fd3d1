//! A session's context log written by an earlier release (2026.12.6, whose entries were untyped
//! JSON under string kinds) still verifies, every entry writes back the JSON it was hashed as,
//! and its records read as this version's types.
//!
//! The fixture is `aarmor context export` of one session of an `aarmor replay --out` of the
//! scenario set (`tests/scenarios/as_corpus.py`) by that release.

use std::path::PathBuf;

use aarmor_engine::context::{verify_chain, ContextEntry, ContextRecord, EntryKind};

#[test]
fn a_log_of_the_previous_release_verifies_and_reads_as_records() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/context-2026.12.6/replay-53-sql-d1.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let entries: Vec<ContextEntry> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stored: Vec<(u64, Vec<u8>)> = entries
        .iter()
        .zip(&lines)
        .map(|(e, l)| (e.seq, l.as_bytes().to_vec()))
        .collect();
    let problems = verify_chain("replay-53-sql-d1", &stored, None);
    assert!(problems.is_empty(), "{problems:?}");

    // Each entry chains onto the hash of the one before it, recomputed from the typed entry.
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash(), "seq {}", pair[1].seq);
    }
    for (line, e) in lines.iter().zip(&entries) {
        let written: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(serde_json::to_value(e).unwrap(), written, "seq {}", e.seq);
    }

    let mut seen = Vec::new();
    for e in &entries {
        assert!(!matches!(e.kind, EntryKind::Other(_)), "{:?}", e.kind);
        match e.record() {
            ContextRecord::SystemPrompt(p) => {
                assert!(!p.text.is_empty() && p.sha256.starts_with("sha256:"));
                seen.push("system_prompt");
            }
            ContextRecord::UserMessage(m) => {
                assert!(!m.text.is_empty() && m.original_request);
                seen.push("user_message");
            }
            ContextRecord::Action(a) => {
                assert!(a.action_id.starts_with("act_") && !a.tool.is_empty());
                seen.push("action");
            }
            ContextRecord::Resolution(r) => {
                assert!(r.action_id.starts_with("act_") && !r.decision.is_empty());
                seen.push("resolution");
            }
            ContextRecord::ToolOutput(d) => {
                assert!(d.sha256.starts_with("sha256:") && !d.summary.is_empty());
                assert!(d.bytes > 0 && d.classification.class.is_some());
                seen.push("tool_result");
            }
            other => panic!("unexpected record {other:?}"),
        }
    }
    for kind in [
        "system_prompt",
        "user_message",
        "action",
        "resolution",
        "tool_result",
    ] {
        assert!(seen.contains(&kind), "no {kind} in {seen:?}");
    }
}
