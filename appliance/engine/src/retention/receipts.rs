//! Receipt retention: seals segments of the chain into the archive with a checkpoint receipt
//! the live chain continues from, and prunes what the archive holds once the live store is
//! over its size or age limit.
//!
//! Order of one segment's life, each step durable before the next, so that a crash at any
//! point loses and duplicates nothing: (1) the segment is written as a pending file
//! (temporary, fsync, rename); (2) its checkpoint receipt is appended and committed (checked in
//! the store); (3) the file takes its final name; (4) `archived` is recorded in the store; (5)
//! pruning removes whole sealed segments, never beyond `archived`. At start,
//! [`ReceiptRetention::recover`] finishes or undoes what a crash interrupted: a pending segment
//! whose checkpoint is in the chain (with its content hash) is finalized; one without is
//! removed (its receipts are still live and are sealed again).

use std::path::{Path, PathBuf};
use std::time::Duration;

use aarmor_core::receipt::{PolicyRef, GENESIS_HASH};
use aarmor_core::receipt_records::{ArchivedStore, Checkpoint, SegmentDisposition};
use aarmor_core::{
    Action, ActionId, ActionTarget, Decision, Identity, Protocol, Receipt, ReceiptDecision,
    ReceiptKind,
};
use serde_json::json;

use crate::receipts::archive::{
    finalize, list_pending, list_segments, read_segment, receipts_dir, remove_temporaries,
    write_segment, SegmentRange, RECEIPTS_DIR,
};
use crate::receipts::{Head, ReceiptDraft, ReceiptLog, ReceiptStore, StoreError};
use crate::settings::{RetentionMode, RetentionSettings};

/// How many receipts recovery searches for a segment's checkpoint, at most.
pub(super) const CHECKPOINT_SEARCH: u64 = 200_000;
/// Most steps (seal or prune) in one cycle; the next cycle goes on.
const MAX_STEPS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("archive {path}: {source}")]
    Archive {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("receipts seq {first}..{last} cannot be sealed: {why}")]
    Seal { first: u64, last: u64, why: String },
    #[error("the checkpoint receipt cannot be written: {0}")]
    Checkpoint(StoreError),
    #[error("the checkpoint receipt did not reach the store: {0}")]
    CheckpointNotStored(String),
    #[error("archive segment {path} is not part of this store's chain (another appliance, or a store started afresh with its archive kept): move it aside, or give this appliance an archive_dir of its own")]
    Foreign { path: PathBuf },
}

/// What one cycle did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CycleReport {
    pub segments: u64,
    pub archived: u64,
    pub dropped: u64,
    pub pruned: u64,
    /// Closed sessions whose context log was archived.
    pub sessions: u64,
}

/// Applies retention to the receipt store.
pub struct ReceiptRetention {
    pub(crate) log: ReceiptLog,
    pub(super) store: std::sync::Arc<ReceiptStore>,
    pub(super) settings: RetentionSettings,
    pub(super) dir: PathBuf,
    /// The live store is pruned down to this, bytes.
    pub(super) keep_live_bytes: u64,
    pub(super) runtime: tokio::runtime::Runtime,
    /// Segments are uploaded to an object store: pruning waits for the upload.
    pub(super) uploads: bool,
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn parse_receipt(bytes: &[u8], seq: u64) -> Result<Receipt, RetentionError> {
    serde_json::from_slice(bytes).map_err(|e| RetentionError::Seal {
        first: seq,
        last: seq,
        why: format!("receipt seq {seq} does not read: {e}"),
    })
}

/// How long ago an RFC 3339 timestamp was; `None` when it does not parse or is in the future.
pub(super) fn elapsed_since(timestamp: &str) -> Option<Duration> {
    let t = time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Duration::try_from(now() - t).ok()
}

fn age_of(receipt: &Receipt) -> Option<Duration> {
    elapsed_since(&receipt.timestamp)
}

/// Visits the stored receipts from `from` on, at most [`CHECKPOINT_SEARCH`] of them, until
/// `visit` finds what it looks for.
pub(super) fn search_receipts<T>(
    store: &ReceiptStore,
    from: u64,
    mut visit: impl FnMut(&[u8]) -> Result<Option<T>, RetentionError>,
) -> Result<Option<T>, RetentionError> {
    let mut at = from;
    while at - from < CHECKPOINT_SEARCH {
        let page = store.scan(at, 1_000)?;
        if page.is_empty() {
            break;
        }
        for bytes in &page {
            if let Some(found) = visit(bytes)? {
                return Ok(Some(found));
            }
        }
        at += page.len() as u64;
    }
    Ok(None)
}

impl ReceiptRetention {
    pub fn new(
        log: ReceiptLog,
        settings: RetentionSettings,
        archive_dir: &Path,
        keep_live_bytes: u64,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let settings_uploads = settings.s3.is_some() && settings.mode == RetentionMode::Archive;
        Ok(Self {
            store: log.store(),
            log,
            settings,
            dir: receipts_dir(archive_dir),
            keep_live_bytes,
            uploads: settings_uploads,
            runtime,
        })
    }

    fn archived(&self) -> Result<Head, StoreError> {
        Ok(self.store.archived()?.unwrap_or(Head {
            seq: 0,
            hash: GENESIS_HASH.to_string(),
        }))
    }

    fn receipt_at(&self, seq: u64) -> Result<Option<Receipt>, RetentionError> {
        match self.store.scan(seq, 1)?.into_iter().next() {
            Some(bytes) => {
                let r = parse_receipt(&bytes, seq)?;
                Ok((r.seq == seq).then_some(r))
            }
            None => Ok(None),
        }
    }

    /// Finishes or undoes what a crash interrupted (see the module docs). A final-named
    /// segment past the store's `archived` mark without its checkpoint is not this chain's:
    /// start is refused rather than anything deleted.
    pub fn recover(&self) -> Result<(), RetentionError> {
        if self.settings.mode != RetentionMode::Archive {
            return Ok(());
        }
        let io = |source| RetentionError::Archive {
            path: self.dir.clone(),
            source,
        };
        remove_temporaries(&self.dir).map_err(io)?;
        let mut archived = self.archived()?;
        // A pending segment: sealed (its checkpoint committed) → finalized; else removed (it
        // was never visible under its final name; its receipts are live and sealed again).
        for (range, path) in list_pending(&self.dir).map_err(io)? {
            let sealed = match range.first_seq == archived.seq + 1 {
                true => self.sealing_checkpoint(range, &path)?,
                false => None,
            };
            match sealed {
                Some(c) => {
                    finalize(&self.dir, &range.file_name()).map_err(io)?;
                    archived = self.mark_archived(range, &c)?;
                    tracing::info!(segment = %range.file_name(), "archive segment sealed before a restart, finished now");
                }
                None => {
                    std::fs::remove_file(&path).map_err(io)?;
                    tracing::warn!(segment = %range.file_name(), "removed a pending archive segment a crash left without its checkpoint; its receipts are live and will be sealed again");
                }
            }
        }
        // A final-named segment past the mark: finalized just before a crash.
        for (range, path) in list_segments(&self.dir).map_err(io)? {
            if range.last_seq <= archived.seq {
                continue;
            }
            let sealed = match range.first_seq == archived.seq + 1 {
                true => self.sealing_checkpoint(range, &path)?,
                false => None,
            };
            let Some(c) = sealed else {
                return Err(RetentionError::Foreign { path });
            };
            archived = self.mark_archived(range, &c)?;
        }
        Ok(())
    }

    /// The checkpoint in the chain that sealed the segment at `path`, if its content is what
    /// the checkpoint recorded.
    fn sealing_checkpoint(
        &self,
        range: SegmentRange,
        path: &std::path::Path,
    ) -> Result<Option<Checkpoint>, RetentionError> {
        let Some(c) = self.find_checkpoint(range)? else {
            return Ok(None);
        };
        let content = read_segment(path).map_err(|source| RetentionError::Archive {
            path: path.to_path_buf(),
            source,
        })?;
        Ok((content.content_hash == c.content_hash).then_some(c))
    }

    fn mark_archived(&self, range: SegmentRange, c: &Checkpoint) -> Result<Head, RetentionError> {
        let archived = Head {
            seq: c.last_seq,
            hash: c.last_hash.clone(),
        };
        self.store.set_archived(range.first_seq, &archived, true)?;
        Ok(archived)
    }

    /// The checkpoint that sealed `range`, searched in the receipts after it.
    fn find_checkpoint(&self, range: SegmentRange) -> Result<Option<Checkpoint>, RetentionError> {
        let name = format!("{RECEIPTS_DIR}/{}", range.file_name());
        let from = range.last_seq + 1;
        search_receipts(&self.store, from, |bytes| {
            let r = parse_receipt(bytes, from)?;
            Ok(r.checkpoint.as_ref().and_then(|c| c.typed()).and_then(|c| {
                let sealed = c.segment == name
                    && c.store == ArchivedStore::Receipts
                    && c.first_seq == range.first_seq
                    && c.last_seq == range.last_seq;
                sealed.then(|| c.clone())
            }))
        })
    }

    /// One pass: seals and prunes until nothing more is due (bounded by [`MAX_STEPS`]).
    pub fn cycle(&self) -> Result<CycleReport, RetentionError> {
        let mut report = CycleReport::default();
        if self.settings.mode == RetentionMode::Off {
            return Ok(report);
        }
        for _ in 0..MAX_STEPS {
            let Some(head) = self.store.head()? else {
                break;
            };
            let archived = self.archived()?;
            let pruned = self.store.pruned()?.map_or(0, |p| p.seq);
            let over_size = self.store.usage()?.used_bytes > self.keep_live_bytes;
            let too_old = self.settings.keep_live_days > 0 && {
                // The oldest live receipt is read only when an age limit is set.
                let first = self.receipt_at(self.store.first_seq()?.unwrap_or(head.seq + 1))?;
                first.as_ref().and_then(age_of).is_some_and(|age| {
                    age > Duration::from_secs(self.settings.keep_live_days * 86_400)
                })
            };
            let unarchived = head.seq.saturating_sub(archived.seq);
            if over_size || too_old {
                if pruned < archived.seq {
                    if self.waits_for_upload()? {
                        break;
                    }
                    let removed = self.store.prune_oldest_segment()?;
                    if removed > 0 {
                        report.pruned += removed as u64;
                        continue;
                    }
                }
                if self.more_than_checkpoints(&archived, unarchived)? {
                    self.seal(&archived, head.seq, &mut report)?;
                    continue;
                }
                break;
            }
            if self.settings.mode == RetentionMode::Archive
                && self.segment_due(&archived, unarchived)?
            {
                self.seal(&archived, head.seq, &mut report)?;
                continue;
            }
            break;
        }
        Ok(report)
    }

    /// With an object store, whether the oldest sealed segment is archived locally and not yet
    /// uploaded: it stays live until it is.
    fn waits_for_upload(&self) -> Result<bool, RetentionError> {
        if !self.uploads {
            return Ok(false);
        }
        let Some((first_seq, last_seq)) = self.store.oldest_segment()? else {
            return Ok(false);
        };
        let path = self.dir.join(
            SegmentRange {
                first_seq,
                last_seq,
            }
            .file_name(),
        );
        Ok(path.exists() && !super::s3::uploaded(&path))
    }

    /// A full segment is waiting, or its oldest receipt has waited `segment_max_age_s` (and it
    /// holds more than checkpoints: an idle chain does not seal checkpoint after checkpoint).
    fn segment_due(&self, archived: &Head, unarchived: u64) -> Result<bool, RetentionError> {
        if unarchived >= self.settings.segment_receipts {
            return Ok(true);
        }
        if unarchived == 0 {
            return Ok(false);
        }
        let Some(oldest) = self.receipt_at(archived.seq + 1)? else {
            return Ok(false);
        };
        let old = age_of(&oldest)
            .is_some_and(|a| a >= Duration::from_secs(self.settings.segment_max_age_s));
        Ok(old && self.more_than_checkpoints(archived, unarchived)?)
    }

    /// Whether the unarchived receipts hold anything but checkpoints: sealing checkpoints
    /// alone would only make another checkpoint.
    fn more_than_checkpoints(
        &self,
        archived: &Head,
        unarchived: u64,
    ) -> Result<bool, RetentionError> {
        if unarchived > 64 {
            return Ok(true);
        }
        let lines = self.store.scan(archived.seq + 1, unarchived as usize)?;
        Ok(lines.iter().any(|b| {
            serde_json::from_slice::<Receipt>(b).map_or(true, |r| r.kind != ReceiptKind::Checkpoint)
        }))
    }

    /// Seals the receipts after `archived` (up to `head`, at most a segment's worth): writes
    /// the segment (archive mode), appends its checkpoint, records it as archived.
    fn seal(
        &self,
        archived: &Head,
        head: u64,
        report: &mut CycleReport,
    ) -> Result<(), RetentionError> {
        let first = archived.seq + 1;
        let last = head.min(archived.seq + self.settings.segment_receipts);
        if last < first {
            return Ok(());
        }
        let seal_err = |why: String| RetentionError::Seal { first, last, why };
        let lines = self.store.scan(first, (last - first + 1) as usize)?;
        if lines.len() as u64 != last - first + 1 {
            return Err(seal_err(format!("the store holds {} of them", lines.len())));
        }
        let opening = parse_receipt(&lines[0], first)?;
        if opening.seq != first || opening.prev_hash != archived.hash {
            return Err(seal_err(
                "the first does not continue the archived chain".into(),
            ));
        }
        let closing = parse_receipt(&lines[lines.len() - 1], last)?;
        if closing.seq != last {
            return Err(seal_err("the store's receipts are not consecutive".into()));
        }
        let last_hash = closing.chain_hash().map_err(|e| seal_err(e.to_string()))?;
        let range = SegmentRange {
            first_seq: first,
            last_seq: last,
        };
        let to_archive = self.settings.mode == RetentionMode::Archive;
        let archive_err = |source| RetentionError::Archive {
            path: self.dir.join(range.file_name()),
            source,
        };
        let (disposition, segment, content_hash, bytes) = if to_archive {
            let w = write_segment(&self.dir, range, &lines).map_err(archive_err)?;
            (
                SegmentDisposition::Archived,
                format!("{RECEIPTS_DIR}/{}", w.file_name),
                w.content_hash,
                w.bytes,
            )
        } else {
            let mut content = Vec::new();
            for l in &lines {
                content.extend_from_slice(l);
                content.push(b'\n');
            }
            (
                SegmentDisposition::Dropped,
                String::new(),
                aarmor_core::canonical::sha256_tagged(&content),
                content.len() as u64,
            )
        };
        let checkpoint = Checkpoint {
            store: ArchivedStore::Receipts,
            disposition,
            segment,
            first_seq: first,
            last_seq: last,
            last_hash: last_hash.clone(),
            records: last - first + 1,
            content_hash,
            bytes,
            archived_through: if to_archive {
                last
            } else {
                self.store.archived_files()?
            },
        };
        let draft = checkpoint_draft(checkpoint, retention_policy(&self.settings));
        append_checkpoint(&self.log, &self.runtime, draft)?;
        if to_archive {
            finalize(&self.dir, &range.file_name()).map_err(archive_err)?;
        }
        self.store.set_archived(
            first,
            &Head {
                seq: last,
                hash: last_hash,
            },
            to_archive,
        )?;
        report.segments += 1;
        match disposition {
            SegmentDisposition::Archived => report.archived += last - first + 1,
            SegmentDisposition::Dropped => report.dropped += last - first + 1,
        }
        Ok(())
    }
}

/// The longest a checkpoint may take to be committed before the pass fails.
const CHECKPOINT_TIMEOUT: Duration = Duration::from_secs(60);

/// Appends a checkpoint receipt and returns once the store holds it. Anything less — the
/// writer refused it, failed to commit it, or took too long — is an error: nothing is then
/// marked archived, and nothing pruned.
pub(super) fn append_checkpoint(
    log: &ReceiptLog,
    runtime: &tokio::runtime::Runtime,
    draft: ReceiptDraft,
) -> Result<Receipt, RetentionError> {
    let receipt = runtime
        .block_on(async {
            tokio::time::timeout(CHECKPOINT_TIMEOUT, async {
                let r = log.append(draft).await;
                log.committed().await;
                r
            })
            .await
        })
        .map_err(|_| RetentionError::CheckpointNotStored("not committed within 60 s".into()))?
        .map_err(RetentionError::Checkpoint)?;
    let stored = log
        .store()
        .scan(receipt.seq, 1)?
        .into_iter()
        .next()
        .and_then(|b| serde_json::from_slice::<Receipt>(&b).ok());
    match stored {
        Some(r) if r.receipt_id == receipt.receipt_id => Ok(receipt),
        _ => Err(RetentionError::CheckpointNotStored(format!(
            "receipt seq {} is not in the store",
            receipt.seq
        ))),
    }
}

/// What a checkpoint's decision names as its policy: the retention settings.
pub(super) fn retention_policy(settings: &RetentionSettings) -> PolicyRef {
    let bytes = serde_json::to_vec(settings).unwrap_or_default();
    PolicyRef {
        policy_id: "aarmor-retention".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        hash: aarmor_core::canonical::sha256_tagged(&bytes),
    }
}

/// The checkpoint receipt of a sealed segment: an act of the appliance, recorded in the chain.
pub(super) fn checkpoint_draft(checkpoint: Checkpoint, policy: PolicyRef) -> ReceiptDraft {
    let (operation, reason) = match checkpoint.disposition {
        _ if checkpoint.store == ArchivedStore::Context => (
            "archive",
            format!(
                "{} context entries of closed sessions archived to {} and leave the live store",
                checkpoint.records, checkpoint.segment
            ),
        ),
        SegmentDisposition::Archived => (
            "archive",
            format!(
                "receipts seq {}..{} archived to {} and leave the live store",
                checkpoint.first_seq, checkpoint.last_seq, checkpoint.segment
            ),
        ),
        SegmentDisposition::Dropped => (
            "drop",
            format!(
                "receipts seq {}..{} dropped from the live store without an archive ([retention] mode = \"drop\")",
                checkpoint.first_seq, checkpoint.last_seq
            ),
        ),
    };
    let action = Action {
        action_id: ActionId::fresh(),
        timestamp: aarmor_core::timestamp::now_rfc3339_millis(),
        protocol: Protocol::Appliance,
        target: ActionTarget {
            host: "aarmor".into(),
            port: 0,
            method: operation.to_ascii_uppercase(),
            path: match checkpoint.store {
                ArchivedStore::Receipts => {
                    format!("/receipts/{}-{}", checkpoint.first_seq, checkpoint.last_seq)
                }
                ArchivedStore::Context => format!("/{}", checkpoint.segment),
            },
        },
        tool: "aarmor.retention".into(),
        operation: operation.into(),
        parameters: Default::default(),
        envelope: Default::default(),
        identity: Identity {
            agent: Some("aarmor".into()),
            ..Identity::default()
        },
        context_ref: None,
        risk_signals: Vec::new(),
        credential: None,
    };
    let decision = ReceiptDecision {
        result: Decision::Allow,
        class: None,
        rule: Some("retention".into()),
        reason,
        enforced: true,
        policy,
    };
    ReceiptDraft {
        checkpoint: Some(checkpoint.into()),
        ..ReceiptDraft::new(ReceiptKind::Checkpoint, action, json!({}), decision)
    }
}
