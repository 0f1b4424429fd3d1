//! Context retention: closed sessions (not open in memory, idle `context_keep_days`) have their
//! logs written to the archive as one compressed JSON-lines segment per pass — for each session
//! a `{"session", "head"}` line, then its entries as stored — sealed by a checkpoint receipt
//! that records the segment's hash, and only then removed from the live context store.
//!
//! The segment is written pending, takes its final name once its checkpoint is committed, and
//! only then are the sessions removed — each only if its head is still the one archived (a
//! session that came back meanwhile stays live). A crash between those steps: at start, a
//! pending segment with its checkpoint is finalized and its sessions removed; one without is
//! removed (the sessions are archived again).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aarmor_core::receipt::PolicyRef;
use aarmor_core::receipt_records::{ArchivedStore, Checkpoint, SegmentDisposition};
use aarmor_core::Receipt;
use serde_json::json;

use super::receipts::{
    append_checkpoint, checkpoint_draft, elapsed_since, search_receipts, RetentionError,
    CHECKPOINT_SEARCH,
};
use crate::context::{ContextStore, SessionHead};
use crate::receipts::archive::{
    finalize, read_segment, remove_temporaries, write_lines, CONTEXT_DIR, PENDING,
};
use crate::receipts::ReceiptLog;

/// Most sessions in one context segment.
const MAX_SESSIONS: usize = 1_000;
const PREFIX: &str = "context-";
const SUFFIX: &str = ".jsonl.gz";

pub struct ContextRetention {
    context: Arc<ContextStore>,
    log: ReceiptLog,
    dir: PathBuf,
    keep: Duration,
    runtime: tokio::runtime::Runtime,
}

fn idle_for(head: &SessionHead) -> Option<Duration> {
    elapsed_since(&head.last_seen)
}

fn ctx_err(e: crate::context::LogError) -> RetentionError {
    RetentionError::Seal {
        first: 0,
        last: 0,
        why: format!("context: {e}"),
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> RetentionError + '_ {
    move |source| RetentionError::Archive {
        path: path.to_path_buf(),
        source,
    }
}

/// The sessions a context segment holds, with their heads' hashes.
fn sessions_in(lines: &[Vec<u8>]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .filter(|v| v.get("head").is_some())
        .filter_map(|v| {
            Some((
                v["session"].as_str()?.to_string(),
                v["head"]["hash"].as_str()?.to_string(),
            ))
        })
        .collect()
}

impl ContextRetention {
    pub fn new(
        context: Arc<ContextStore>,
        log: ReceiptLog,
        archive_dir: &Path,
        keep_days: u64,
    ) -> std::io::Result<Self> {
        Ok(Self {
            context,
            log,
            dir: archive_dir.join(CONTEXT_DIR),
            keep: Duration::from_secs(keep_days.saturating_mul(86_400)),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
        })
    }

    /// Finishes or undoes what a crash interrupted (see the module docs).
    pub fn recover(&self) -> Result<(), RetentionError> {
        let io = io_err(&self.dir);
        remove_temporaries(&self.dir).map_err(&io)?;
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(e)),
        };
        let mut names: Vec<String> = Vec::new();
        for entry in entries {
            names.push(
                entry
                    .map_err(&io)?
                    .file_name()
                    .to_string_lossy()
                    .to_string(),
            );
        }
        names.sort();
        for name in names {
            let (file_name, pending) = match name.strip_suffix(PENDING) {
                Some(n) => (n.to_string(), true),
                None => (name.clone(), false),
            };
            if !(file_name.starts_with(PREFIX) && file_name.ends_with(SUFFIX)) {
                continue;
            }
            let path = self.dir.join(&name);
            let segment = read_segment(&path).map_err(&io)?;
            let segment_name = format!("{CONTEXT_DIR}/{file_name}");
            let sealed = self
                .checkpoint_of(&segment_name)?
                .is_some_and(|c| c.content_hash == segment.content_hash);
            if pending && !sealed {
                std::fs::remove_file(&path).map_err(&io)?;
                tracing::warn!(segment = %segment_name, "removed a pending context segment a crash left without its checkpoint; its sessions are archived again");
                continue;
            }
            if pending {
                finalize(&self.dir, &file_name).map_err(&io)?;
            }
            let archived = sessions_in(&segment.lines);
            if sealed {
                let removed = self
                    .context
                    .log()
                    .remove_sessions(&archived)
                    .map_err(ctx_err)?;
                if removed > 0 {
                    tracing::info!(segment = %segment_name, sessions = removed, "archived context segment finished after a restart");
                }
            }
        }
        Ok(())
    }

    /// The checkpoint that names `segment`, among the latest receipts.
    fn checkpoint_of(&self, segment: &str) -> Result<Option<Checkpoint>, RetentionError> {
        let store = self.log.store();
        let Some(head) = store.head()? else {
            return Ok(None);
        };
        let from = head.seq.saturating_sub(CHECKPOINT_SEARCH).max(1);
        search_receipts(&store, from, |bytes| {
            let Ok(r) = serde_json::from_slice::<Receipt>(bytes) else {
                return Ok(None);
            };
            Ok(r.checkpoint.as_ref().and_then(|c| c.typed()).and_then(|c| {
                (c.store == ArchivedStore::Context && c.segment == segment).then(|| c.clone())
            }))
        })
    }

    /// Archives up to [`MAX_SESSIONS`] closed sessions; returns how many.
    pub fn cycle(&self, policy: &PolicyRef) -> Result<usize, RetentionError> {
        if self.keep.is_zero() {
            return Ok(0);
        }
        let log = self.context.log();
        let closed: Vec<(String, SessionHead)> = log
            .sessions()
            .map_err(ctx_err)?
            .into_iter()
            .filter(|(s, h)| {
                idle_for(h).is_some_and(|idle| idle >= self.keep) && !self.context.is_open(s)
            })
            .take(MAX_SESSIONS)
            .collect();
        if closed.is_empty() {
            return Ok(0);
        }
        let mut lines = Vec::new();
        let mut entries = 0u64;
        for (session, head) in &closed {
            lines.push(
                json!({"session": session, "head": head})
                    .to_string()
                    .into_bytes(),
            );
            for (_, bytes) in log.raw_entries(session).map_err(ctx_err)? {
                lines.push(bytes);
                entries += 1;
            }
        }
        let stamp = aarmor_core::timestamp::now_rfc3339_millis().replace([':', '-', '.'], "");
        // Unique even if the clock steps back: a final name is never reused.
        let unique = aarmor_core::ids::next_id("c");
        let file_name = format!(
            "{PREFIX}{stamp}-{}{SUFFIX}",
            unique.trim_start_matches("c_")
        );
        let written = write_lines(&self.dir, file_name, &lines).map_err(io_err(&self.dir))?;
        let checkpoint = Checkpoint {
            store: ArchivedStore::Context,
            disposition: SegmentDisposition::Archived,
            segment: format!("{CONTEXT_DIR}/{}", written.file_name),
            first_seq: 0,
            last_seq: 0,
            last_hash: String::new(),
            records: entries,
            content_hash: written.content_hash,
            bytes: written.bytes,
            archived_through: 0,
        };
        append_checkpoint(
            &self.log,
            &self.runtime,
            checkpoint_draft(checkpoint, policy.clone()),
        )?;
        finalize(&self.dir, &written.file_name).map_err(io_err(&self.dir))?;
        let archived: Vec<(String, String)> =
            closed.into_iter().map(|(s, h)| (s, h.hash)).collect();
        // A session that came back meanwhile (its head moved on) stays live.
        log.remove_sessions(&archived).map_err(ctx_err)
    }
}

/// A session found in the context archive: the segment that holds it, its head, its entries.
pub struct ArchivedSession {
    pub segment: String,
    pub head: SessionHead,
    pub entries: Vec<(u64, Vec<u8>)>,
}

/// Looks `session` up in the context segments under `archive_dir` (newest segment first).
pub fn find_archived_session(
    archive_dir: &Path,
    session: &str,
) -> std::io::Result<Option<ArchivedSession>> {
    let dir = archive_dir.join(CONTEXT_DIR);
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    names.sort();
    for name in names.into_iter().rev() {
        let segment = read_segment(&dir.join(&name))?;
        let mut found: Option<ArchivedSession> = None;
        for line in segment.lines {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) else {
                continue;
            };
            if v["session"].as_str() != Some(session) {
                continue;
            }
            match (v.get("head"), &mut found) {
                (Some(head), None) => {
                    let head = serde_json::from_value(head.clone())
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                    found = Some(ArchivedSession {
                        segment: format!("{CONTEXT_DIR}/{name}"),
                        head,
                        entries: Vec::new(),
                    });
                }
                (None, Some(s)) => {
                    let seq = v["seq"].as_u64().unwrap_or(0);
                    s.entries.push((seq, line));
                }
                _ => {}
            }
        }
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}
