//! Retention cost without network: a store filled with receipts, then sealed into archive
//! segments and pruned by one retention pass — receipts/s archived and pruned, bytes written,
//! the compression ratio — and bytes per receipt in LMDB.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aarmor_core::receipt::PolicyRef;
use aarmor_core::{
    Action, ActionId, ActionTarget, Decision, Identity, Protocol, ReceiptDecision, ReceiptKind,
};
use aarmor_engine::context::ContextStore;
use aarmor_engine::receipts::archive::{list_segments, receipts_dir};
use aarmor_engine::receipts::{Durability, KeyRing, ReceiptDraft, ReceiptLog, ReceiptStore};
use aarmor_engine::retention::Retention;
use aarmor_engine::{ContextSettings, RetentionMode, RetentionSettings};
use anyhow::Result;
use serde_json::json;

fn draft(n: usize) -> ReceiptDraft {
    ReceiptDraft::new(
        ReceiptKind::Decision,
        Action {
            envelope: Default::default(),
            action_id: ActionId(format!("act_{n:020x}")),
            timestamp: "2026-12-05T10:00:00.000Z".into(),
            protocol: Protocol::Rest,
            target: ActionTarget {
                host: "api.example.com".into(),
                port: 443,
                method: "PUT".into(),
                path: "/v1/tickets/4711".into(),
            },
            tool: "api.example.com/v1/tickets/{id}".into(),
            operation: "put".into(),
            parameters: json!({"body": {"ticket": 4711, "status": "closed", "comment": "resolved by the agent", "n": n}, "query": {}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            identity: Identity {
                agent: Some("agent-7".into()),
                session: Some(format!("sess-{}", n / 20)),
                ..Identity::default()
            },
            context_ref: None,
            risk_signals: vec![],
            credential: None,
        },
        json!({"context": {"session": format!("sess-{}", n / 20)}}),
        ReceiptDecision {
            result: Decision::Allow,
            class: None,
            rule: None,
            reason: "no policy rule matched; default ALLOW".into(),
            enforced: true,
            policy: PolicyRef {
                policy_id: "aarmor-default".into(),
                version: "2026.12.7".into(),
                hash: "sha256:c7ab66538b26363ae0f0e6695a7ad749f12c7c54ab98d15dd25c9ae848b7f5a1"
                    .into(),
            },
        },
    )
}

pub async fn run(receipts: usize) -> Result<()> {
    let dir = crate::scratch::ScratchDir::new()?;
    let (keys, _) = KeyRing::load_or_create(dir.path())?;
    let max = 1u64 << 32;
    let log = ReceiptLog::start(
        ReceiptStore::open(&ReceiptStore::dir(dir.path()), max as usize)?,
        keys,
        Durability::Batched {
            window: Duration::from_millis(10),
        },
    )?;
    let started = Instant::now();
    for n in 0..receipts {
        log.append(draft(n)).await?;
    }
    log.committed().await;
    let fill = started.elapsed();
    let store = log.store();
    let used = store.usage()?.used_bytes;
    let first = store.first_seq()?.unwrap_or(1);
    let json_bytes: usize = store
        .scan(first, receipts)?
        .iter()
        .map(|b| b.len() + 1)
        .sum();
    println!(
        "retention/store\treceipts={receipts}\tjson_bytes_per_receipt={:.0}\tlmdb_bytes_per_receipt={:.0}\tfill_s={:.2}",
        json_bytes as f64 / receipts as f64,
        used as f64 / receipts as f64,
        fill.as_secs_f64()
    );
    let archive = dir.path().join("archive");
    let settings = RetentionSettings {
        mode: RetentionMode::Archive,
        segment_receipts: 10_000,
        // Prune everything archived: the live store is over this limit all along.
        keep_live_mb: 1,
        context_keep_days: 0,
        ..RetentionSettings::default()
    };
    let context = Arc::new(ContextStore::open(dir.path(), ContextSettings::default())?);
    let outcome = tokio::task::spawn_blocking(move || -> Result<(Duration, u64, u64)> {
        let retention = Retention::new(settings, &archive, log, max, context, None)
            .map_err(anyhow::Error::msg)?;
        let t = Instant::now();
        let mut archived = 0;
        let mut pruned = 0;
        // Bounded: each pass seals or prunes up to 256 steps.
        for _ in 0..64 {
            let r = retention.run_once();
            archived += r.archived;
            pruned += r.pruned;
            if r.segments == 0 && r.pruned == 0 {
                break;
            }
        }
        // Dropped here, off the async runtime (it owns a runtime of its own).
        drop(retention);
        Ok((t.elapsed(), archived, pruned))
    })
    .await??;
    let (took, archived, pruned) = outcome;
    let files = list_segments(&receipts_dir(&dir.path().join("archive")))?;
    let compressed: u64 = files
        .iter()
        .filter_map(|(_, p)| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "retention/archive\tarchived={archived}\tpruned={pruned}\tsegments={}\treceipts_per_s={:.0}\tcompressed_bytes_per_receipt={:.0}\tcompression={:.1}x\ttook_s={:.2}",
        files.len(),
        archived as f64 / took.as_secs_f64(),
        compressed as f64 / archived.max(1) as f64,
        json_bytes as f64 / compressed.max(1) as f64,
        took.as_secs_f64()
    );
    Ok(())
}
