//! `aarmor context list | show | export | verify`: the per-session context logs.

use anyhow::anyhow;
use std::io::{BufRead, Write};
use std::path::Path;

use aarmor_engine::context::{verify_chain, ContextLog};
use aarmor_engine::receipts::archive::read_segment;
use aarmor_engine::receipts::audit::find_checkpoint;
use aarmor_engine::retention::context::find_archived_session;

use crate::config::Config;

fn open_log(config: &Config) -> anyhow::Result<ContextLog> {
    let dir = ContextLog::dir(&config.data_dir);
    if !dir.join("data.mdb").exists() {
        return Err(anyhow!("no context store in {}", dir.display()));
    }
    ContextLog::open(&dir, config.context.max_size_mb.saturating_mul(1024 * 1024))
        .map_err(anyhow::Error::msg)
}

pub fn list(config: &Config) -> anyhow::Result<()> {
    let log = open_log(config)?;
    let sessions = log.sessions()?;
    println!(
        "{:<40} {:<24} {:>8} {:>8}  last seen",
        "session", "agent", "entries", "head"
    );
    for (id, h) in &sessions {
        println!(
            "{:<40} {:<24} {:>8} {:>8}  {}",
            id, h.agent, h.entries, h.seq, h.last_seen
        );
    }
    eprintln!("{} session(s)", sessions.len());
    Ok(())
}

pub fn show(config: &Config, session: &str) -> anyhow::Result<()> {
    let log = open_log(config)?;
    let head = log
        .head(session)?
        .ok_or_else(|| anyhow!("no session {session}"))?;
    let entries = log.entries(session)?;
    let out = serde_json::json!({"session": session, "head": head, "entries": entries});
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

pub fn export(config: &Config, session: &str, out: Option<&Path>) -> anyhow::Result<()> {
    let log = open_log(config)?;
    if log.head(session)?.is_none() {
        return Err(anyhow!("no session {session}"));
    }
    let stored = log.raw_entries(session)?;
    let mut w: Box<dyn Write> = match out {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| anyhow!("{}: {e}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    for (_, bytes) in &stored {
        w.write_all(bytes).and_then(|_| w.write_all(b"\n"))?;
    }
    Ok(())
}

/// Verifies a session's chain in the store, or an export of it (`--from`), against the head
/// the store records.
pub fn verify(config: &Config, session: &str, from: Option<&Path>) -> anyhow::Result<()> {
    let log = open_log(config)?;
    let Some(head) = log.head(session)? else {
        return verify_archived(config, session);
    };
    let stored: Vec<(u64, Vec<u8>)> = match from {
        None => log.raw_entries(session)?,
        Some(path) => {
            let f = std::fs::File::open(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
            let mut out = Vec::new();
            for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
                let line = line.map_err(|e| anyhow!("{}: {e}", path.display()))?;
                if line.trim().is_empty() {
                    continue;
                }
                let seq = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v["seq"].as_u64())
                    .ok_or_else(|| anyhow!("line {}: not a context entry", i + 1))?;
                out.push((seq, line.into_bytes()));
            }
            out
        }
    };
    let problems = verify_chain(session, &stored, Some(&head));
    if problems.is_empty() {
        println!(
            "OK: session {session}: {} entries (through seq {}), chain intact",
            stored.len(),
            head.seq
        );
        return Ok(());
    }
    print_problems(&problems);
    Err(anyhow!(
        "session {session}: {} problem(s); the context log was altered",
        problems.len()
    ))
}

fn print_problems(problems: &[aarmor_engine::context::ChainProblem]) {
    for p in problems {
        match p.seq {
            Some(s) => println!("seq {s}: {}", p.problem),
            None => println!("head: {}", p.problem),
        }
    }
}

/// A session no longer in the live store: verified from the context archive, against the head
/// archived with it (the archive segment itself is checked against its checkpoint by
/// `aarmor receipts verify`).
fn verify_archived(config: &Config, session: &str) -> anyhow::Result<()> {
    let archive = config.retention.archive_dir(&config.data_dir);
    let found = find_archived_session(&archive, session)
        .map_err(|e| anyhow!("context archive {}: {e}", archive.display()))?
        .ok_or_else(|| {
            anyhow!(
                "no session {session} in the context store nor in the archive ({})",
                archive.display()
            )
        })?;
    // The segment must be the one a checkpoint in the signed chain sealed.
    let content = read_segment(&archive.join(&found.segment))
        .map_err(|e| anyhow!("{}: {e}", found.segment))?;
    let live = crate::receipts_cmd::store_lines(config)?;
    let Some((cseq, checkpoint)) = find_checkpoint(&archive, &live, &found.segment) else {
        return Err(anyhow!(
            "context segment {}: no checkpoint in the receipt chain seals it (added to the archive); session {session} is not verified",
            found.segment
        ));
    };
    if checkpoint.content_hash != content.content_hash {
        return Err(anyhow!(
            "context segment {}: altered: its content is not what checkpoint seq {cseq} recorded",
            found.segment
        ));
    }
    let problems = verify_chain(session, &found.entries, Some(&found.head));
    if problems.is_empty() {
        println!(
            "OK: session {session} (archived in {}, sealed by checkpoint seq {cseq}): {} entries (through seq {}), chain intact",
            found.segment,
            found.entries.len(),
            found.head.seq
        );
        return Ok(());
    }
    print_problems(&problems);
    Err(anyhow!(
        "session {session} (archived in {}): {} problem(s); the context log was altered",
        found.segment,
        problems.len()
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use aarmor_engine::context::{ContextEntry, ContextStore, EntryKind, LogOp, SessionHead};
    use aarmor_engine::receipts::{Durability, KeyRing, ReceiptLog, ReceiptStore};
    use aarmor_engine::retention::Retention;

    use super::*;

    /// A session idle since January, archived by retention.
    fn archived_session(config: &Config) {
        let (keys, _) = KeyRing::load_or_create(&config.data_dir).unwrap();
        let store = ReceiptStore::open(&ReceiptStore::dir(&config.data_dir), 1 << 26).unwrap();
        let log = ReceiptLog::start(store, keys, Durability::Strict).unwrap();
        let context =
            Arc::new(ContextStore::open(&config.data_dir, config.context.clone()).unwrap());
        let mut prev = aarmor_core::receipt::GENESIS_HASH.to_string();
        let mut ops = Vec::new();
        for seq in 0..3 {
            let entry = ContextEntry {
                session: "sess-old".into(),
                seq,
                at: "2026-01-01T00:00:00.000Z".into(),
                kind: EntryKind::UserMessage,
                prev_hash: prev.clone(),
                data: serde_json::json!({"text": format!("message {seq}")}),
            };
            prev = entry.hash();
            ops.push(LogOp::Put(entry));
        }
        ops.push(LogOp::Head(
            "sess-old".into(),
            SessionHead {
                seq: 2,
                hash: prev,
                agent: "a".into(),
                started: "2026-01-01T00:00:00.000Z".into(),
                started_unix_ms: 0,
                last_seen: "2026-01-01T00:00:00.000Z".into(),
                entries: 3,
            },
        ));
        context.log().apply(&ops).unwrap();
        let retention = Retention::new(
            config.retention.clone(),
            &config.retention.archive_dir(&config.data_dir),
            log,
            1 << 26,
            context,
            None,
        )
        .unwrap();
        assert_eq!(retention.run_once().sessions, 1);
    }

    #[test]
    fn an_archived_session_verifies_from_the_archive_against_its_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        std::thread::spawn({
            let config = config.clone();
            move || archived_session(&config)
        })
        .join()
        .unwrap();
        verify(&config, "sess-old", None).unwrap();
        // A planted segment that no checkpoint seals, sorting newest, is not taken for it.
        let context_dir = config
            .retention
            .archive_dir(&config.data_dir)
            .join("context");
        let sealed = std::fs::read_dir(&context_dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::copy(
            &sealed,
            context_dir.join("context-20991231T000000000Z-0.jsonl.gz"),
        )
        .unwrap();
        let e = verify(&config, "sess-old", None).unwrap_err().to_string();
        assert!(e.contains("no checkpoint"), "{e}");
        assert!(verify(&config, "sess-never", None).is_err());
    }
}
