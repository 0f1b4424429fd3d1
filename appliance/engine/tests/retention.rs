//! Retention end to end on real LMDB stores: a small store under a long run never fills, the
//! archive and the live store verify as one chain, and a deleted, edited or damaged segment is
//! named; drop mode accounts for what it dropped; a crash between archival's steps is recovered
//! without losing or repeating a receipt; with retention off, the fill levels are reported.

use std::path::Path;
use std::sync::Arc;

use aarmor_core::receipt::PolicyRef;
use aarmor_core::{
    Action, ActionId, ActionTarget, Decision, Identity, Protocol, Receipt, ReceiptDecision,
    ReceiptKind,
};
use aarmor_engine::context::ContextStore;
use aarmor_engine::receipts::archive::{list_segments, receipts_dir};
use aarmor_engine::receipts::audit::{audit, AuditScope};
use aarmor_engine::receipts::keys::VerifyingKeys;
use aarmor_engine::receipts::{Durability, Head, KeyRing, ReceiptDraft, ReceiptLog, ReceiptStore};
use aarmor_engine::retention::usage::Level;
use aarmor_engine::retention::Retention;
use aarmor_engine::{ContextSettings, RetentionMode, RetentionSettings};

const MIB: usize = 1024 * 1024;

fn draft(n: u64) -> ReceiptDraft {
    let mut parameters = serde_json::Map::new();
    // About a kilobyte per receipt, kept as is (below max_value_bytes).
    parameters.insert("note".into(), serde_json::Value::String("x".repeat(900)));
    parameters.insert("n".into(), n.into());
    ReceiptDraft::new(
        ReceiptKind::Decision,
        Action {
            envelope: Default::default(),
            action_id: ActionId(format!("act_{n:020x}")),
            timestamp: "2026-12-05T10:00:00.000Z".into(),
            protocol: Protocol::Rest,
            target: ActionTarget {
                host: "api.example".into(),
                port: 443,
                method: "POST".into(),
                path: "/v1/things".into(),
            },
            tool: "api.example/v1/things".into(),
            operation: "post".into(),
            parameters,
            identity: Identity::default(),
            context_ref: None,
            risk_signals: vec![],
            credential: None,
        },
        serde_json::json!({}),
        ReceiptDecision {
            result: Decision::Allow,
            class: None,
            rule: None,
            reason: "default".into(),
            enforced: true,
            policy: PolicyRef {
                policy_id: "p".into(),
                version: "1".into(),
                hash: "sha256:00".into(),
            },
        },
    )
}

struct Appliance {
    dir: tempfile::TempDir,
    log: ReceiptLog,
    context: Arc<ContextStore>,
    keys: VerifyingKeys,
    retention: Retention,
    runtime: tokio::runtime::Runtime,
}

fn settings(mode: RetentionMode) -> RetentionSettings {
    RetentionSettings {
        mode,
        segment_receipts: 150,
        ..RetentionSettings::default()
    }
}

/// Writes a session whose last activity was long ago (closed: not open in memory).
fn old_session(context: &ContextStore, session: &str, entries: u64) {
    use aarmor_engine::context::{ContextEntry, EntryKind, LogOp, SessionHead};
    let mut ops = Vec::new();
    let mut prev = aarmor_core::receipt::GENESIS_HASH.to_string();
    for seq in 0..entries {
        let entry = ContextEntry {
            session: session.into(),
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
        session.into(),
        SessionHead {
            seq: entries - 1,
            hash: prev,
            agent: "agent-a".into(),
            started: "2026-01-01T00:00:00.000Z".into(),
            started_unix_ms: 0,
            last_seen: "2026-01-01T00:00:00.000Z".into(),
            entries,
        },
    ));
    context.log().apply(&ops).unwrap();
}

fn start_in(dir: tempfile::TempDir, max_mb: usize, settings: RetentionSettings) -> Appliance {
    start_with(dir, max_mb, settings, Durability::Strict)
}

/// Long runs use batched durability (one sync per window, not per receipt): retention only
/// ever sees what the store committed, in either mode.
fn start_batched(max_mb: usize, settings: RetentionSettings) -> Appliance {
    start_batched_in(tempfile::tempdir().unwrap(), max_mb, settings)
}

fn start_batched_in(
    dir: tempfile::TempDir,
    max_mb: usize,
    settings: RetentionSettings,
) -> Appliance {
    let window = std::time::Duration::from_millis(5);
    start_with(dir, max_mb, settings, Durability::Batched { window })
}

fn start_with(
    dir: tempfile::TempDir,
    max_mb: usize,
    settings: RetentionSettings,
    durability: Durability,
) -> Appliance {
    let (keys, _) = KeyRing::load_or_create(dir.path()).unwrap();
    let verifying = keys.verifying_keys();
    let store = ReceiptStore::open(&ReceiptStore::dir(dir.path()), max_mb * MIB).unwrap();
    let log = ReceiptLog::start(store, keys, durability).unwrap();
    let context = Arc::new(
        ContextStore::open(
            dir.path(),
            ContextSettings {
                max_size_mb: 8,
                ..ContextSettings::default()
            },
        )
        .unwrap(),
    );
    old_session(&context, "sess-closed-1", 3);
    old_session(&context, "sess-closed-2", 5);
    let retention = Retention::new(
        settings,
        &dir.path().join("archive"),
        log.clone(),
        (max_mb * MIB) as u64,
        context.clone(),
        None,
    )
    .unwrap();
    Appliance {
        dir,
        log,
        context,
        keys: verifying,
        retention,
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    }
}

impl Appliance {
    /// Appends `n` receipts, applying retention every `every`; every append must succeed.
    fn traffic(&self, from: u64, n: u64, every: u64) {
        for i in from..from + n {
            self.runtime
                .block_on(self.log.append(draft(i)))
                .unwrap_or_else(|e| panic!("receipt {i} refused: {e}"));
            if i % every == 0 {
                self.retention.run_once();
            }
        }
        self.runtime.block_on(self.log.committed());
    }

    fn live(&self) -> Vec<Vec<u8>> {
        let store = self.log.store();
        let first = store.first_seq().unwrap().unwrap_or(1);
        store.scan(first, usize::MAX).unwrap()
    }

    fn archive(&self) -> std::path::PathBuf {
        self.dir.path().join("archive")
    }

    fn audit(&self, scope: AuditScope) -> aarmor_engine::receipts::audit::AuditReport {
        let archive = self.archive();
        let archive = (scope == AuditScope::Whole).then_some(archive.as_path());
        audit(archive, &self.live(), &self.keys, scope)
    }

    /// Stops the writer's threads' users and hands back the directory (a restart).
    fn into_dir(self) -> tempfile::TempDir {
        self.dir
    }
}

fn segments(archive: &Path) -> Vec<std::path::PathBuf> {
    list_segments(&receipts_dir(archive))
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

fn checkpoints(receipts: &[Vec<u8>]) -> Vec<Receipt> {
    receipts
        .iter()
        .map(|b| serde_json::from_slice::<Receipt>(b).unwrap())
        .filter(|r| r.kind == ReceiptKind::Checkpoint)
        .collect()
}

#[test]
fn a_small_store_under_a_long_run_never_fills_and_archive_plus_live_verify() {
    let mut s = settings(RetentionMode::Archive);
    s.segment_receipts = 500;
    let a = start_batched(16, s);
    // About 30 MiB of receipts through a 16 MiB store.
    a.traffic(1, 16_000, 50);
    a.retention.run_once();
    let usage = a.log.store().usage().unwrap();
    assert!(
        usage.used_bytes < usage.limit_bytes * 3 / 4,
        "retention keeps the live store near half its size: {usage:?}"
    );
    let files = segments(&a.archive());
    assert!(files.len() >= 25, "segments written: {files:?}");
    let pruned = a.log.store().first_seq().unwrap().unwrap();
    assert!(
        pruned > 4_000,
        "the oldest receipts left the live store (first live seq {pruned})"
    );
    let whole = a.audit(AuditScope::Whole);
    assert!(whole.ok(), "{:?}", whole.problems);
    assert_eq!(whole.first_seq, Some(1));
    let checkpoints_total = whole.receipts - 16_000;
    assert!(checkpoints_total >= files.len() as u64, "{whole:?}");
    // The live store alone verifies from its checkpoints.
    let live = a.audit(AuditScope::LiveOnly);
    assert!(live.ok(), "{:?}", live.problems);
    assert!(live.accounted_gaps >= pruned - 1, "{live:?}");
    // Every receipt is in the archive once: its segments hold consecutive ranges.
    let status = a.retention.status();
    assert!(
        status.stores.iter().all(|s| s.level == Level::Ok),
        "{status:?}"
    );

    // A deleted segment is named.
    let victim = files[files.len() / 2].clone();
    let name = victim.file_name().unwrap().to_string_lossy().to_string();
    let saved = std::fs::read(&victim).unwrap();
    std::fs::remove_file(&victim).unwrap();
    let report = a.audit(AuditScope::Whole);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&name) && p.contains("missing")),
        "{:?}",
        report.problems
    );
    // An edited segment (valid gzip, one receipt's reason changed) is named.
    let text = {
        use std::io::Read;
        let mut s = String::new();
        flate2::read::GzDecoder::new(saved.as_slice())
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let edited = text.replacen("\"reason\":\"default\"", "\"reason\":\"approved\"", 1);
    assert_ne!(edited, text);
    {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&victim).unwrap(),
            flate2::Compression::default(),
        );
        gz.write_all(edited.as_bytes()).unwrap();
        gz.finish().unwrap();
    }
    let report = a.audit(AuditScope::Whole);
    assert!(!report.ok());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&name) && p.contains("signature")),
        "{:?}",
        report.problems
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&name) && p.contains("altered")),
        "{:?}",
        report.problems
    );
    // A damaged file is named too.
    std::fs::write(&victim, &saved[..saved.len() / 2]).unwrap();
    let report = a.audit(AuditScope::Whole);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&name) && p.contains("unreadable")),
        "{:?}",
        report.problems
    );
    // Put back, it verifies again.
    std::fs::write(&victim, &saved).unwrap();
    assert!(a.audit(AuditScope::Whole).ok());
}

#[test]
fn drop_mode_prunes_without_an_archive_and_the_chain_accounts_for_it() {
    let mut s = settings(RetentionMode::Drop);
    s.segment_receipts = 500;
    let a = start_batched(16, s);
    a.traffic(1, 14_000, 50);
    assert!(
        segments(&a.archive()).is_empty(),
        "drop mode writes no archive"
    );
    let first = a.log.store().first_seq().unwrap().unwrap();
    assert!(first > 4_000, "first live seq {first}");
    let live = a.live();
    let dropped = checkpoints(&live);
    assert!(!dropped.is_empty());
    assert!(dropped.iter().all(|c| c.action.operation == "drop"));
    let report = a.audit(AuditScope::Whole);
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.accounted_gaps, first - 1);
}

#[test]
fn a_crash_between_archival_steps_loses_and_repeats_nothing() {
    let a = start_in(
        tempfile::tempdir().unwrap(),
        64,
        settings(RetentionMode::Archive),
    );
    a.traffic(1, 400, 1_000);
    // Seals two full segments (nothing to prune: the store is far from its limit).
    a.retention.run_once();
    let store = a.log.store();
    let archived = store.archived().unwrap().unwrap();
    assert_eq!(archived.seq % 150, 0, "{archived:?}");
    let sealed = segments(&a.archive());
    assert_eq!(sealed.len() as u64, archived.seq / 150);
    // A crash after the last checkpoint was committed and before its file took its final name
    // (and `archived` was recorded), plus a segment written without its checkpoint and a
    // temporary half written.
    let last = list_segments(&receipts_dir(&a.archive()))
        .unwrap()
        .pop()
        .unwrap()
        .0;
    let before = Head {
        seq: last.first_seq - 1,
        hash: serde_json::from_slice::<Receipt>(&store.scan(last.first_seq - 1, 1).unwrap()[0])
            .unwrap()
            .chain_hash()
            .unwrap(),
    };
    store
        .set_archived(before.seq.saturating_sub(149), &before, true)
        .unwrap();
    let dir_r = receipts_dir(&a.archive());
    let final_path = dir_r.join(last.file_name());
    std::fs::rename(
        &final_path,
        dir_r.join(format!("{}.pending", last.file_name())),
    )
    .unwrap();
    let orphan = dir_r.join("receipts-0000000000000999-0000000000001000.jsonl.gz.pending");
    std::fs::write(&orphan, b"not sealed").unwrap();
    let temporary = dir_r.join(format!("{}.tmp", last.file_name()));
    std::fs::write(&temporary, b"half").unwrap();
    let dir = a.into_dir();

    // Restart.
    let a = start_in(dir, 64, settings(RetentionMode::Archive));
    assert!(!orphan.exists() && !temporary.exists());
    assert!(
        final_path.exists(),
        "the sealed segment took its final name"
    );
    assert_eq!(a.log.store().archived().unwrap(), Some(archived.clone()));
    a.traffic(401, 200, 1_000);
    a.retention.run_once();
    let live = a.live();
    let checkpoints = checkpoints(&live);
    let mut ranges: Vec<(u64, u64)> = checkpoints
        .iter()
        .filter_map(|c| c.checkpoint.as_ref().and_then(|c| c.typed()))
        .map(|c| (c.first_seq, c.last_seq))
        .collect();
    let n = ranges.len();
    ranges.sort();
    ranges.dedup();
    assert_eq!(ranges.len(), n, "no segment sealed twice: {ranges:?}");
    let report = a.audit(AuditScope::Whole);
    assert!(report.ok(), "{:?}", report.problems);
    // Every draft is in the chain exactly once.
    let mut seen = std::collections::HashSet::new();
    for r in live
        .iter()
        .map(|b| serde_json::from_slice::<Receipt>(b).unwrap())
    {
        if r.kind == ReceiptKind::Decision {
            assert!(
                seen.insert(r.action.action_id.0.clone()),
                "repeated {}",
                r.action.action_id
            );
        }
    }
    assert_eq!(seen.len(), 600);
}

#[test]
fn with_retention_off_the_store_fills_and_says_so_before_it_is_full() {
    let mut s = settings(RetentionMode::Off);
    s.warn_percent = 50;
    s.error_percent = 80;
    let a = start_in(tempfile::tempdir().unwrap(), 1, s);
    let mut levels = Vec::new();
    let mut refused = None;
    for i in 1..=2_000u64 {
        if let Err(e) = a.runtime.block_on(a.log.append(draft(i))) {
            refused = Some(e.to_string());
            break;
        }
        if i % 20 == 0 {
            a.runtime.block_on(a.log.committed());
            a.retention.run_once();
            let level = a.retention.status().stores[0].level;
            if levels.last() != Some(&level) {
                levels.push(level);
            }
        }
    }
    assert_eq!(levels, vec![Level::Ok, Level::Warning, Level::Critical]);
    let refused = refused.expect("a full store refuses receipts");
    assert!(refused.contains("receipt store unavailable"), "{refused}");
    assert!(segments(&a.archive()).is_empty());
    let banner = a.retention.status().banner().unwrap();
    assert_eq!(banner.0, Level::Critical);
    assert!(banner.1.contains("receipt store"), "{}", banner.1);
}

#[test]
fn closed_sessions_leave_the_context_store_for_the_archive_under_a_checkpoint() {
    let a = start_in(
        tempfile::tempdir().unwrap(),
        64,
        settings(RetentionMode::Archive),
    );
    a.traffic(1, 10, 1_000);
    let report = a.retention.run_once();
    assert_eq!(report.sessions, 2, "{report:?}");
    let log = a.context.log();
    assert!(log.head("sess-closed-1").unwrap().is_none());
    assert!(log.raw_entries("sess-closed-2").unwrap().is_empty());
    let found =
        aarmor_engine::retention::context::find_archived_session(&a.archive(), "sess-closed-2")
            .unwrap()
            .expect("archived");
    assert_eq!(found.entries.len(), 5);
    let problems =
        aarmor_engine::context::verify_chain("sess-closed-2", &found.entries, Some(&found.head));
    assert!(problems.is_empty(), "{problems:?}");
    let live = a.live();
    let checkpoint = checkpoints(&live)
        .pop()
        .expect("a checkpoint for the context segment");
    let c = checkpoint
        .checkpoint
        .as_ref()
        .and_then(|c| c.typed())
        .unwrap()
        .clone();
    assert_eq!(c.segment, found.segment);
    assert_eq!(c.records, 8);
    let report = a.audit(AuditScope::Whole);
    assert!(report.ok(), "{:?}", report.problems);
    // An edited context segment is named by the receipts' audit.
    let path = a.archive().join(&found.segment);
    let saved = std::fs::read(&path).unwrap();
    let mut bytes = saved.clone();
    let n = bytes.len();
    bytes[n - 12] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();
    let report = a.audit(AuditScope::Whole);
    assert!(
        report.problems.iter().any(|p| p.contains(&found.segment)),
        "{:?}",
        report.problems
    );
    // A context segment no checkpoint seals is named too.
    let planted = a
        .archive()
        .join("context/context-20991231T000000000Z-0.jsonl.gz");
    std::fs::copy(&path, &planted).unwrap();
    let report = a.audit(AuditScope::Whole);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("context-20991231") && p.contains("no checkpoint")),
        "{:?}",
        report.problems
    );
    std::fs::remove_file(&planted).unwrap();
    std::fs::remove_file(&path).unwrap();
    let report = a.audit(AuditScope::Whole);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&found.segment) && p.contains("missing")),
        "{:?}",
        report.problems
    );
    std::fs::write(&path, &saved).unwrap();
    // Nothing more to archive.
    assert_eq!(a.retention.run_once().sessions, 0);
}

#[test]
fn a_store_written_by_the_previous_release_opens_archives_and_verifies() {
    use aarmor_engine::receipts::keys::{verifying_keys, PublicKeyEntry};
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/receipts-2026.12.6");
    let old: Vec<Vec<u8>> = std::fs::read(fixtures.join("receipts.jsonl"))
        .unwrap()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let entries: Vec<PublicKeyEntry> =
        serde_json::from_slice(&std::fs::read(fixtures.join("public-keys.json")).unwrap()).unwrap();
    let old_keys = verifying_keys(&entries).unwrap();
    // The store as that release left it: its receipts in `chain` and `ids`, its head.
    let dir = tempfile::tempdir().unwrap();
    {
        let store = ReceiptStore::open(&ReceiptStore::dir(dir.path()), 64 * MIB).unwrap();
        let mut batch = Vec::new();
        let mut head = None;
        for line in &old {
            let r: Receipt = serde_json::from_slice(line).unwrap();
            head = Some(Head {
                seq: r.seq,
                hash: r.chain_hash().unwrap(),
            });
            batch.push((r.seq, r.receipt_id.clone(), line.clone()));
        }
        store.append(&batch, &head.unwrap()).unwrap();
    }
    let mut s = settings(RetentionMode::Archive);
    s.segment_receipts = 50;
    let mut a = start_in(dir, 64, s);
    a.keys.extend(old_keys);
    a.traffic(1, 120, 1_000);
    a.retention.run_once();
    let files = segments(&a.archive());
    assert!(files.len() >= 3, "{files:?}");
    let first = aarmor_engine::receipts::archive::read_segment(&files[0]).unwrap();
    assert_eq!(
        first.lines[..50],
        old[..50],
        "the old receipts are archived exactly as written"
    );
    let report = a.audit(AuditScope::Whole);
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.first_seq, Some(1));
    assert!(report.receipts >= old.len() as u64 + 120);
}

#[test]
fn a_segment_that_is_not_this_chains_is_never_deleted_and_start_is_refused() {
    let a = start_in(
        tempfile::tempdir().unwrap(),
        64,
        settings(RetentionMode::Archive),
    );
    a.traffic(1, 200, 1_000);
    a.retention.run_once();
    // Another appliance's (or an earlier store's) segment in this archive directory.
    let foreign =
        receipts_dir(&a.archive()).join("receipts-0000000000000151-0000000000000400.jsonl.gz");
    std::fs::write(&foreign, b"someone else's").unwrap();
    let dir = a.into_dir();
    let (keys, _) = KeyRing::load_or_create(dir.path()).unwrap();
    let store = ReceiptStore::open(&ReceiptStore::dir(dir.path()), 64 * MIB).unwrap();
    let log = ReceiptLog::start(store, keys, Durability::Strict).unwrap();
    let context = Arc::new(ContextStore::open(dir.path(), ContextSettings::default()).unwrap());
    let refused = Retention::new(
        settings(RetentionMode::Archive),
        &dir.path().join("archive"),
        log,
        64 * MIB as u64,
        context,
        None,
    )
    .err()
    .expect("start refused");
    assert!(
        refused.contains("not part of this store's chain"),
        "{refused}"
    );
    assert!(foreign.exists(), "nothing deleted");
}

#[test]
fn a_dropped_segment_does_not_account_for_archived_ones_that_went_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(RetentionMode::Archive);
    s.segment_receipts = 500;
    let a = start_batched_in(dir, 16, s);
    a.traffic(1, 3_000, 3_000);
    a.retention.run_once();
    assert!(segments(&a.archive()).len() >= 5);
    let dir = a.into_dir();
    // Then drop mode, with a store that needs room.
    let mut s = settings(RetentionMode::Drop);
    s.segment_receipts = 500;
    let a = start_batched_in(dir, 16, s);
    a.traffic(3_001, 12_000, 50);
    let report = a.audit(AuditScope::Whole);
    assert!(report.ok(), "{:?}", report.problems);
    // The archived segments deleted: named, though their checkpoints were dropped with later
    // segments.
    for f in segments(&a.archive()) {
        std::fs::remove_file(f).unwrap();
    }
    let report = a.audit(AuditScope::Whole);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("missing from the archive")),
        "{:?}",
        report.problems
    );
}
