//! Verifying the receipt chain as a whole: the archive's segments and the live store read as
//! one chain, from its first receipt to its last, naming the segment where something is
//! missing or altered.
//!
//! Checks: every receipt's signature; every link (`prev_hash`) to the receipt before it; a gap
//! in `seq` is named by the checkpoint that sealed it (an archived segment missing from the
//! archive, or one dropped by retention, whose `last_hash` the receipt after the gap must
//! carry); each archived segment's content against the hash its checkpoint recorded; a receipt
//! both archived and still live must be the same bytes in both.

use std::collections::HashMap;
use std::path::Path;

use aarmor_core::receipt::{parse_exact, GENESIS_HASH};
use aarmor_core::receipt_records::{ArchivedStore, Checkpoint, SegmentDisposition};
use aarmor_core::Receipt;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::archive::{
    list_segments, read_segment, receipts_dir, SegmentRange, CONTEXT_DIR, RECEIPTS_DIR,
};

/// How much of the chain is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditScope {
    /// The archive and the live store: every receipt from `seq` 1 must be present unless a
    /// checkpoint says it was dropped.
    Whole,
    /// The live store alone: archived segments are taken as the checkpoints describe them.
    LiveOnly,
}

/// What the audit found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditReport {
    /// Receipts verified (each once, where archive and live store overlap).
    pub receipts: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Segment files read.
    pub segments: usize,
    /// Receipts left out by checkpoints: dropped by retention, or archived (live-only audit).
    pub accounted_gaps: u64,
    /// What could not be checked and why (not a problem: e.g. a context segment whose
    /// checkpoint retention dropped).
    pub notes: Vec<String>,
    pub problems: Vec<String>,
}

impl AuditReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.receipts > 0
    }
}

/// A receipt whose predecessor was not there: checked once every checkpoint is known.
struct Gap {
    from: u64,
    to: u64,
    /// `prev_hash` of the receipt after the gap, and where it came from.
    next_prev_hash: String,
    source: String,
}

struct Walk<'k> {
    keys: &'k HashMap<String, VerifyingKey>,
    /// The last receipt walked: its `seq` and chain hash.
    last: Option<(u64, String)>,
    gaps: Vec<Gap>,
    /// Checkpoints of receipt segments seen, with the `seq` of the checkpoint receipt.
    checkpoints: Vec<(u64, Checkpoint)>,
    /// Checkpoints of archived context logs seen, likewise.
    context_checkpoints: Vec<(u64, Checkpoint)>,
    /// Digest of each walked receipt from the live store's first `seq` on.
    overlap_from: u64,
    overlap: HashMap<u64, ([u8; 32], String)>,
    report: AuditReport,
}

impl Walk<'_> {
    fn step(&mut self, receipt: &Receipt, bytes: &[u8], source: &str) {
        let seq = receipt.seq;
        let (verified, chain_hash) = receipt.verify_and_chain_hash(self.keys);
        if let Err(e) = verified {
            self.report
                .problems
                .push(format!("{source}: seq {seq}: {e}"));
        }
        let expected = self.last.as_ref().map_or(1, |(s, _)| s + 1);
        if seq < expected {
            self.report.problems.push(format!(
                "{source}: seq {seq} appears after seq {}: receipts were reordered or repeated",
                expected - 1
            ));
            return;
        }
        if seq > expected {
            self.gaps.push(Gap {
                from: expected,
                to: seq - 1,
                next_prev_hash: receipt.prev_hash.clone(),
                source: source.to_string(),
            });
        } else {
            let prev = self.last.as_ref().map_or(GENESIS_HASH, |(_, h)| h.as_str());
            if receipt.prev_hash != prev {
                self.report.problems.push(format!(
                    "{source}: seq {seq}: prev_hash does not match the receipt before it (the chain was altered)"
                ));
            }
        }
        if let Some(c) = receipt.checkpoint.as_ref().and_then(|c| c.typed()) {
            match c.store {
                ArchivedStore::Receipts => self.checkpoints.push((seq, c.clone())),
                ArchivedStore::Context => self.context_checkpoints.push((seq, c.clone())),
            }
        }
        if seq >= self.overlap_from {
            self.overlap
                .insert(seq, (Sha256::digest(bytes).into(), source.to_string()));
        }
        self.last = Some((seq, chain_hash.unwrap_or_default()));
        self.report.receipts += 1;
        self.report.first_seq.get_or_insert(seq);
        self.report.last_seq = Some(seq);
    }

    /// Names every gap by the checkpoints that account for it. A checkpoint anchors the whole
    /// chain before it (its `last_hash` is the chain hash of everything up to `last_seq`): the
    /// receipt after a gap must carry the `last_hash` of the checkpoint that ends there. Within
    /// the gap, an archived segment's checkpoint names a segment missing from the archive;
    /// receipts no visible checkpoint names are accounted for when the checkpoint after them
    /// dropped its segment (older checkpoints were dropped with theirs) or in a live-only audit.
    fn resolve_gaps(&mut self, scope: AuditScope) {
        for gap in std::mem::take(&mut self.gaps) {
            let mut covering: Vec<(u64, Checkpoint)> = self
                .checkpoints
                .iter()
                .filter(|(_, c)| c.first_seq <= gap.to && c.last_seq >= gap.from)
                .cloned()
                .collect();
            covering.sort_by_key(|(_, c)| c.first_seq);
            let Some(anchor) = covering.iter().find(|(_, c)| c.last_seq == gap.to) else {
                self.report.problems.push(format!(
                    "seq {}..{}: receipts missing before {} seq {} and no checkpoint accounts for them (removed from the chain)",
                    gap.from, gap.to, gap.source, gap.to + 1
                ));
                continue;
            };
            if anchor.1.last_hash != gap.next_prev_hash {
                self.report.problems.push(format!(
                    "{}: seq {}: prev_hash does not match the checkpoint of the receipts before it (the chain was altered)",
                    gap.source,
                    gap.to + 1
                ));
            }
            let mut at = gap.from;
            for (cseq, c) in &covering {
                if c.first_seq > at {
                    self.unnamed(at, c.first_seq - 1, c, scope);
                }
                if c.disposition == SegmentDisposition::Archived && scope == AuditScope::Whole {
                    self.report.problems.push(format!(
                        "segment {} (seq {}..{}, sealed by checkpoint seq {cseq}) is missing from the archive",
                        c.segment, c.first_seq, c.last_seq
                    ));
                }
                let from = at.max(c.first_seq);
                self.report.accounted_gaps += (c.last_seq + 1).saturating_sub(from);
                at = at.max(c.last_seq + 1);
            }
        }
    }

    /// Receipts `from..=to` that no visible checkpoint names; `next` is the checkpoint after
    /// them. Those a dropped segment's checkpoint says were archived before it
    /// (`archived_through`) must be in the archive.
    fn unnamed(&mut self, from: u64, to: u64, next: &Checkpoint, scope: AuditScope) {
        let must_be_archived = match (scope, next.disposition) {
            (AuditScope::LiveOnly, _) => None,
            (_, SegmentDisposition::Dropped) if next.archived_through < from => None,
            (_, SegmentDisposition::Dropped) => Some(to.min(next.archived_through)),
            (_, SegmentDisposition::Archived) => Some(to),
        };
        let accounted_from = match must_be_archived {
            Some(end) => {
                self.report.problems.push(format!(
                    "seq {from}..{end}: missing from the archive, with the checkpoints that named them (their segments are gone)"
                ));
                end + 1
            }
            None => from,
        };
        self.report.accounted_gaps += (to + 1).saturating_sub(accounted_from);
    }
}

/// Verifies the archive under `archive_dir` (none: no archive) and the live store's receipts
/// (`live`, in chain order, as stored) as one chain.
pub fn audit(
    archive_dir: Option<&Path>,
    live: &[Vec<u8>],
    keys: &HashMap<String, VerifyingKey>,
    scope: AuditScope,
) -> AuditReport {
    let mut live_receipts = Vec::with_capacity(live.len());
    let mut problems = Vec::new();
    for (i, line) in live.iter().enumerate() {
        match parse_exact(line) {
            Ok(r) => live_receipts.push((r, line)),
            Err(e) => problems.push(format!("live store: receipt {}: {e}", i + 1)),
        }
    }
    let mut walk = Walk {
        keys,
        last: None,
        gaps: Vec::new(),
        checkpoints: Vec::new(),
        context_checkpoints: Vec::new(),
        overlap_from: live_receipts.first().map_or(u64::MAX, |(r, _)| r.seq),
        overlap: HashMap::new(),
        report: AuditReport {
            problems,
            ..AuditReport::default()
        },
    };
    // The content hash of each segment read, by file name.
    let mut contents: HashMap<String, (SegmentRange, String)> = HashMap::new();
    let segments = match archive_dir.map(|d| list_segments(&receipts_dir(d))) {
        None => Vec::new(),
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            walk.report
                .problems
                .push(format!("archive: cannot list its segments: {e}"));
            Vec::new()
        }
    };
    for (range, path) in segments {
        let name = range.file_name();
        let source = format!("segment {name}");
        let segment = match read_segment(&path) {
            Ok(s) => s,
            Err(e) => {
                walk.report
                    .problems
                    .push(format!("{source}: unreadable (damaged or altered): {e}"));
                continue;
            }
        };
        walk.report.segments += 1;
        contents.insert(
            format!("{RECEIPTS_DIR}/{name}"),
            (range, segment.content_hash.clone()),
        );
        let mut seqs = (u64::MAX, 0u64, 0u64);
        for (i, line) in segment.lines.iter().enumerate() {
            match parse_exact(line) {
                Ok(r) => {
                    seqs = (seqs.0.min(r.seq), seqs.1.max(r.seq), seqs.2 + 1);
                    walk.step(&r, line, &source);
                }
                Err(e) => walk
                    .report
                    .problems
                    .push(format!("{source}: line {}: {e}", i + 1)),
            }
        }
        let whole = seqs.0 == range.first_seq
            && seqs.1 == range.last_seq
            && seqs.2 == range.last_seq - range.first_seq + 1;
        if !whole {
            walk.report.problems.push(format!(
                "{source}: does not hold exactly seq {}..{} (receipts removed or added)",
                range.first_seq, range.last_seq
            ));
        }
    }
    for (r, line) in &live_receipts {
        let archived_upto = walk.last.as_ref().map_or(0, |(s, _)| *s);
        if r.seq <= archived_upto {
            match walk.overlap.get(&r.seq) {
                Some((digest, _)) if *digest == <[u8; 32]>::from(Sha256::digest(line)) => {}
                Some((_, source)) => walk.report.problems.push(format!(
                    "seq {}: the live store's receipt differs from the one in {source}",
                    r.seq
                )),
                None => walk.report.problems.push(format!(
                    "live store: seq {} appears after seq {archived_upto}: receipts were reordered or repeated",
                    r.seq
                )),
            }
            continue;
        }
        walk.step(r, line, "live store");
    }
    walk.resolve_gaps(scope);
    for (cseq, c) in &walk.checkpoints {
        if c.disposition != SegmentDisposition::Archived {
            continue;
        }
        match contents.get(&c.segment) {
            Some((range, hash))
                if *hash != c.content_hash
                    || range.first_seq != c.first_seq
                    || range.last_seq != c.last_seq =>
            {
                walk.report.problems.push(format!(
                    "segment {}: altered: its content is not what checkpoint seq {cseq} recorded",
                    c.segment
                ));
            }
            Some(_) => {}
            None if scope == AuditScope::Whole && archive_dir.is_some() => {
                // Missing and pruned: named with its gap. Missing and still live: named here.
                let live = live_receipts
                    .first()
                    .is_some_and(|(r, _)| r.seq <= c.first_seq);
                if live {
                    walk.report.problems.push(format!(
                        "segment {} (seq {}..{}, sealed by checkpoint seq {cseq}) is missing from the archive",
                        c.segment, c.first_seq, c.last_seq
                    ));
                }
            }
            None => {}
        }
    }
    if let (Some(dir), AuditScope::Whole) = (archive_dir, scope) {
        let named: std::collections::HashSet<&str> = walk
            .context_checkpoints
            .iter()
            .map(|(_, c)| c.segment.as_str())
            .collect();
        let mut unsealed = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir.join(CONTEXT_DIR)) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                let segment = format!("{CONTEXT_DIR}/{name}");
                if name.ends_with(".jsonl.gz") && !named.contains(segment.as_str()) {
                    unsealed.push(segment);
                }
            }
        }
        unsealed.sort();
        // Once segments were dropped, a context segment's checkpoint may have gone with them.
        let dropped = walk
            .checkpoints
            .iter()
            .any(|(_, c)| c.disposition == SegmentDisposition::Dropped);
        for segment in unsealed {
            if dropped {
                walk.report.notes.push(format!(
                    "context segment {segment}: its checkpoint is not in the chain (retention dropped receipts): not checked"
                ));
            } else {
                walk.report.problems.push(format!(
                    "context segment {segment}: no checkpoint in the chain seals it (added to the archive)"
                ));
            }
        }
        for (cseq, c) in &walk.context_checkpoints {
            let path = dir.join(&c.segment);
            match read_segment(&path) {
                Ok(s) if s.content_hash == c.content_hash => walk.report.segments += 1,
                Ok(_) => walk.report.problems.push(format!(
                    "context segment {}: altered: its content is not what checkpoint seq {cseq} recorded",
                    c.segment
                )),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => walk.report.problems.push(format!(
                    "context segment {} (sealed by checkpoint seq {cseq}) is missing from the archive",
                    c.segment
                )),
                Err(e) => walk.report.problems.push(format!(
                    "context segment {}: unreadable (damaged or altered): {e}",
                    c.segment
                )),
            }
        }
    }
    walk.report
}

/// The checkpoint that sealed `segment` (a path relative to the archive directory), searched in
/// the live store's receipts and the archive's receipt segments; with its `seq`.
pub fn find_checkpoint(
    archive_dir: &Path,
    live: &[Vec<u8>],
    segment: &str,
) -> Option<(u64, Checkpoint)> {
    let named = |bytes: &[u8]| {
        let r: Receipt = serde_json::from_slice(bytes).ok()?;
        let c = r.checkpoint.as_ref()?.typed()?;
        (c.segment == segment).then(|| (r.seq, c.clone()))
    };
    if let Some(found) = live.iter().rev().find_map(|b| named(b)) {
        return Some(found);
    }
    let segments = list_segments(&receipts_dir(archive_dir)).ok()?;
    segments.iter().rev().find_map(|(_, path)| {
        let s = read_segment(path).ok()?;
        s.lines.iter().find_map(|b| named(b))
    })
}
