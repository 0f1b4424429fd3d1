//! Tests of the receipt writer: one verifiable chain under concurrency and across restarts, the
//! idle flush thread, failed commits and a full store failing closed, readers during commits.

use std::collections::HashMap;

use aarmor_core::receipt::{verify_chain, PolicyRef};
use aarmor_core::{ActionId, ActionTarget, Decision, Identity, Protocol};

use super::*;

fn draft(n: u64) -> ReceiptDraft {
    ReceiptDraft::new(
        ReceiptKind::Decision,
        Action {
            envelope: Default::default(),
            action_id: ActionId(format!("act_{n:020x}")),
            timestamp: "2026-11-23T10:00:00.000Z".into(),
            protocol: Protocol::Rest,
            target: ActionTarget {
                host: "h".into(),
                port: 443,
                method: "POST".into(),
                path: "/".into(),
            },
            tool: "h/".into(),
            operation: "post".into(),
            parameters: serde_json::Map::new(),
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

/// A strict-durability log with a new key in `dir`.
fn strict_log(dir: &std::path::Path) -> ReceiptLog {
    let (keys, _) = KeyRing::load_or_create(dir).unwrap();
    ReceiptLog::start(
        ReceiptStore::open(&dir.join("receipts"), 1 << 24).unwrap(),
        keys,
        Durability::Strict,
    )
    .unwrap()
}

fn all(store_dir: &std::path::Path) -> Vec<Receipt> {
    let store = ReceiptStore::open(store_dir, 1 << 24).unwrap();
    store
        .scan(1, usize::MAX)
        .unwrap()
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_form_one_verifiable_chain_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("receipts");
    for (round, durability) in [
        Durability::Strict,
        Durability::Batched {
            window: Duration::from_millis(5),
        },
    ]
    .into_iter()
    .enumerate()
    {
        let (keys, _) = KeyRing::load_or_create(dir.path()).unwrap();
        let log = ReceiptLog::start(
            ReceiptStore::open(&store_dir, 1 << 24).unwrap(),
            keys,
            durability,
        )
        .unwrap();
        let mut tasks = Vec::new();
        for n in 0..200 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move { log.append(draft(n)).await }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        if round == 1 {
            // Batched: give the window time to commit before reading.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        log.committed().await;
        assert!(
            log.stats.commits.load(Ordering::Relaxed) < 200,
            "receipts are group-committed"
        );
        drop(log);
    }
    let receipts = all(&store_dir);
    assert_eq!(receipts.len(), 400);
    let keys: HashMap<_, _> = KeyRing::load(dir.path()).unwrap().verifying_keys();
    assert_eq!(verify_chain(&receipts, &keys, Some(GENESIS_HASH)), vec![]);
    let store = ReceiptStore::open(&store_dir, 1 << 24).unwrap();
    let r = store.get(&receipts[17].receipt_id).unwrap().unwrap();
    assert_eq!(r, receipts[17]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_receipt_is_written_by_the_idle_flush_thread() {
    for durability in [
        Durability::Batched {
            window: Duration::from_millis(20),
        },
        Durability::Strict,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (keys, _) = KeyRing::load_or_create(dir.path()).unwrap();
        let log = ReceiptLog::start(
            ReceiptStore::open(&dir.path().join("receipts"), 1 << 24).unwrap(),
            keys,
            durability,
        )
        .unwrap();
        let reader = log.reader();
        // Twice: the flush thread goes back to waiting after the first, and must be woken
        // again by the second. Nothing else (no further append, no `committed`) writes them.
        for n in 0..2 {
            let receipt = match durability {
                Durability::Strict => log.append_deferred(draft(n)).await,
                Durability::Batched { .. } => log.append(draft(n)).await,
            }
            .unwrap();
            let mut written = false;
            for _ in 0..500 {
                if reader.get(&receipt.receipt_id).unwrap().is_some() {
                    written = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(written, "{durability:?}: receipt {n} was never written");
        }
    }
}

#[test]
fn the_writer_keeps_the_recent_commit_time() {
    let stats = WriterStats::default();
    stats.note_commit(Duration::from_micros(800));
    assert_eq!(stats.recent_commit(), Duration::from_micros(800));
    stats.note_commit(Duration::from_micros(100));
    assert_eq!(stats.recent_commit(), Duration::from_micros(700));
    stats.note_commit(Duration::from_millis(3));
    assert_eq!(stats.recent_commit(), Duration::from_millis(3));
}

#[tokio::test]
async fn acknowledged_strict_receipts_survive_a_failed_lmdb_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("receipts");
    let (keys, _) = KeyRing::load_or_create(dir.path()).unwrap();
    // A store that fills up: the commit that fails comes after its receipts were journaled
    // and acknowledged.
    let log = ReceiptLog::start(
        ReceiptStore::open(&store_dir, 64 * 1024).unwrap(),
        keys,
        Durability::Strict,
    )
    .unwrap();
    let mut acknowledged: u64 = 0;
    for n in 0..400 {
        match log.append(draft(n)).await {
            Ok(_) => acknowledged += 1,
            Err(_) => break,
        }
    }
    // LMDB commits lag behind the journal; bring it up to date: the commit fails.
    log.committed().await;
    assert!(
        log.append(draft(400)).await.is_err(),
        "a failed store refuses further receipts"
    );
    assert!(acknowledged > 0);
    drop(log);
    // Restarted with room: the journal gives the acknowledged receipt back to the store.
    let (keys, _) = KeyRing::load_or_create(dir.path()).unwrap();
    let log = ReceiptLog::start(
        ReceiptStore::open(&store_dir, 1 << 24).unwrap(),
        keys,
        Durability::Strict,
    )
    .unwrap();
    let next = log.append(draft(999)).await.unwrap();
    assert_eq!(next.seq, acknowledged + 1);
    log.committed().await;
    drop(log);
    let receipts = all(&store_dir);
    assert_eq!(receipts.len() as u64, acknowledged + 1);
    let keys: HashMap<_, _> = KeyRing::load(dir.path()).unwrap().verifying_keys();
    assert_eq!(verify_chain(&receipts, &keys, Some(GENESIS_HASH)), vec![]);
    assert_eq!(
        Journal::read(&store_dir).unwrap().len(),
        1,
        "recovered receipts leave the journal; it holds the newest one only"
    );
}

#[tokio::test]
async fn a_full_store_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, _) = KeyRing::load_or_create(dir.path()).unwrap();
    // A tiny map: it fills up after a few receipts.
    let log = ReceiptLog::start(
        ReceiptStore::open(&dir.path().join("receipts"), 64 * 1024).unwrap(),
        keys,
        Durability::Strict,
    )
    .unwrap();
    let mut failures = 0;
    for n in 0..400 {
        if log.append(draft(n)).await.is_err() {
            failures += 1;
        }
        if n % 50 == 49 {
            // LMDB commits lag behind the journal: make them happen.
            log.committed().await;
        }
    }
    assert!(failures > 0, "the store must fill up");
    assert!(
        log.append(draft(999)).await.is_err(),
        "once failed, it stays failed"
    );
}

#[tokio::test]
async fn readers_see_strict_receipts_before_and_after_their_lmdb_commit() {
    let dir = tempfile::tempdir().unwrap();
    let log = strict_log(dir.path());
    let reader = log.reader();
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(log.append(draft(n)).await.unwrap().receipt_id);
    }
    for _ in 0..2 {
        let found: Vec<String> = reader
            .search("", 10)
            .unwrap()
            .into_iter()
            .map(|r| r.receipt_id)
            .collect();
        assert_eq!(found, ids.iter().rev().cloned().collect::<Vec<_>>());
        for id in &ids {
            assert_eq!(reader.get(id).unwrap().unwrap().receipt_id, *id);
            let v = reader.verify(id).unwrap().unwrap();
            assert!(v.ok, "{:?}", v.problems);
        }
        // The second round reads them from LMDB.
        log.committed().await;
    }
    assert_eq!(log.stats.receipts.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn operator_views_read_a_sessions_receipts_exactly_the_newest_digests_and_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = strict_log(dir.path());
    let reader = log.reader();
    // Sessions "a" and "ab": a search for "a" matches both, the session view only the first.
    for n in 0..6 {
        let mut d = draft(n);
        d.action.identity.session = Some(if n % 2 == 0 { "a" } else { "ab" }.into());
        log.append(d).await.unwrap();
    }
    for round in 0..2 {
        let (of_a, cut) = reader.of_session("a", 100).unwrap();
        assert_eq!(of_a.len(), 3, "round {round}");
        assert!(!cut);
        assert!(of_a
            .iter()
            .all(|r| r.action.identity.session.as_deref() == Some("a")));
        assert!(of_a.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
        let (first_two, cut) = reader.of_session("a", 2).unwrap();
        assert_eq!(first_two.len(), 2);
        assert!(cut, "the limit cut it");
        // Digests: every receipt since long ago; with a bound, the newest and `truncated`.
        let (all, truncated) = reader.digests_since("2000-01-01", 100).unwrap();
        assert_eq!((all.len(), truncated), (6, false));
        let (some, truncated) = reader.digests_since("2000-01-01", 4).unwrap();
        assert_eq!((some.len(), truncated), (4, true));
        assert_eq!(some[0].seq, 6);
        let (none, _) = reader.digests_since("2999-01-01", 100).unwrap();
        assert!(none.is_empty(), "nothing is newer than the window's start");
        // The chain check of the newest receipts.
        let check = reader.check_newest(4).unwrap();
        assert!(check.ok, "{:?}", check.problems);
        assert_eq!(
            (check.head_seq, check.first_checked, check.checked),
            (6, Some(3), 4)
        );
        // The second round reads them from LMDB.
        log.committed().await;
    }
}
