//! `aarmor receipts verify | show | export` and `aarmor keys rotate | show`. Verification reads
//! the archive and the live store as one chain (see `aarmor_engine::receipts::audit`).

use anyhow::anyhow;
use std::io::{BufRead, Write};
use std::path::Path;

use aarmor_core::receipt::{verify_chain, GENESIS_HASH};
use aarmor_core::Receipt;
use aarmor_engine::receipts::audit::{audit, AuditScope};
use aarmor_engine::receipts::journal::Journal;
use aarmor_engine::receipts::keys::{
    merge_public_keys, verifying_keys, PublicKeyEntry, VerifyingKeys,
};
use aarmor_engine::receipts::{KeyRing, ReceiptStore};

use crate::config::Config;

fn open_store(config: &Config) -> anyhow::Result<ReceiptStore> {
    let dir = ReceiptStore::dir(&config.data_dir);
    if !dir.join("data.mdb").exists() {
        return Err(anyhow!("no receipt store in {}", dir.display()));
    }
    ReceiptStore::open(
        &dir,
        config.receipts.max_size_mb.saturating_mul(1024 * 1024),
    )
    .map_err(anyhow::Error::msg)
}

/// Every receipt of the store, in chain order, as stored: LMDB, then the strict-mode journal's
/// receipts LMDB does not have yet (acknowledged just before a crash, or being committed now).
pub(crate) fn store_lines(config: &Config) -> anyhow::Result<Vec<Vec<u8>>> {
    let store = open_store(config)?;
    let mut out = Vec::new();
    // The live store starts after what retention pruned.
    let mut from = store.first_seq()?.unwrap_or(1);
    loop {
        let page = store.scan(from, 10_000)?;
        let Some(last) = page.last() else {
            break;
        };
        let last_seq = serde_json::from_slice::<serde_json::Value>(last)
            .ok()
            .and_then(|v| v["seq"].as_u64())
            .ok_or_else(|| anyhow!("receipt store: a stored receipt has no seq"))?;
        from = last_seq + 1;
        out.extend(page);
    }
    let journaled = Journal::read(store.path()).map_err(|e| anyhow!("receipt journal: {e}"))?;
    for bytes in journaled {
        let seq = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["seq"].as_u64());
        if seq == Some(from) {
            out.push(bytes);
            from += 1;
        }
    }
    Ok(out)
}

/// What `receipts verify` reads.
pub enum VerifyScope<'a> {
    /// The archive in this directory and the live store, as one chain.
    Whole(std::path::PathBuf),
    /// The live store alone, archived segments taken as their checkpoints say.
    LiveOnly,
    /// A JSON-lines export.
    Export(&'a Path),
}

fn load_key_entries(public_keys: &Path) -> anyhow::Result<Vec<PublicKeyEntry>> {
    let text = std::fs::read_to_string(public_keys)
        .map_err(|e| anyhow!("{}: {e}", public_keys.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{}: not a public-keys.json file: {e}",
            public_keys.display()
        )
    })
}

/// The public keys of several files together; a key id listed with two different keys (or
/// for two replicas) is refused: one of the files is not what it claims.
fn merged_key_entries(files: &[std::path::PathBuf]) -> anyhow::Result<Vec<PublicKeyEntry>> {
    let mut out: Vec<PublicKeyEntry> = Vec::new();
    for f in files {
        merge_public_keys(&mut out, load_key_entries(f)?).map_err(|key_id| {
            anyhow!(
                "{}: key {key_id} is listed with another public key or replica than in an earlier file; refusing to verify with either",
                f.display()
            )
        })?;
    }
    Ok(out)
}

pub fn verify(
    config: &Config,
    public_keys: &[std::path::PathBuf],
    scope: VerifyScope<'_>,
) -> anyhow::Result<()> {
    let entries = merged_key_entries(public_keys)?;
    let keys = verifying_keys(&entries).map_err(anyhow::Error::msg)?;
    let (archive, audit_scope) = match scope {
        VerifyScope::Export(path) => return verify_export(&keys, &entries, path),
        VerifyScope::Whole(dir) => (Some(dir), AuditScope::Whole),
        VerifyScope::LiveOnly => (None, AuditScope::LiveOnly),
    };
    if let Some(dir) = &archive {
        if !dir.exists() {
            eprintln!(
                "no archive at {} (nothing archived yet, or pass --archive DIR)",
                dir.display()
            );
        }
    }
    let live = store_lines(config)?;
    let report = audit(archive.as_deref(), &live, &keys, audit_scope);
    if report.receipts == 0 && report.problems.is_empty() {
        return Err(anyhow!("no receipts to verify"));
    }
    for note in &report.notes {
        println!("NOTE {note}");
    }
    let range = match (report.first_seq, report.last_seq) {
        (Some(a), Some(b)) => format!("seq {a}..{b}"),
        _ => "none".into(),
    };
    if report.ok() {
        let accounted = if report.accounted_gaps > 0 {
            format!(
                "; {} earlier receipt(s) accounted for by checkpoints{}",
                report.accounted_gaps,
                if audit_scope == AuditScope::LiveOnly {
                    " (archived or dropped)"
                } else {
                    " (dropped by retention)"
                }
            )
        } else {
            String::new()
        };
        println!(
            "OK: {} receipts ({range}) verify across {} archived segment(s) and the live store; signatures valid, chain intact{accounted}",
            report.receipts, report.segments
        );
        return Ok(());
    }
    for p in &report.problems {
        println!("FAIL {p}");
    }
    Err(anyhow!(
        "{} problem(s) in {} receipts ({range}, {} archived segment(s) read)",
        report.problems.len(),
        report.receipts,
        report.segments
    ))
}

/// Verifies an export: one chain, or (a merged export of cluster replicas) one chain per
/// replica, each checked on its own; a replica whose keys are listed but whose receipts are
/// not in the export is reported as missing.
fn verify_export(
    keys: &VerifyingKeys,
    entries: &[PublicKeyEntry],
    path: &Path,
) -> anyhow::Result<()> {
    let f = std::fs::File::open(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let lines: Vec<Vec<u8>> = std::io::BufReader::new(f)
        .lines()
        .map(|l| l.map(String::into_bytes))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let mut receipts = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let r =
            aarmor_core::receipt::parse_exact(line).map_err(|e| anyhow!("line {}: {e}", i + 1))?;
        receipts.push(r);
    }
    if receipts.is_empty() {
        return Err(anyhow!("no receipts to verify"));
    }
    let chains = replica_chains(receipts, entries);
    let merged = chains.len() > 1 || chains.keys().any(|k| k.is_some());
    let mut failed = 0usize;
    let mut total = 0usize;
    for (replica, chain) in &chains {
        let start = (chain[0].seq == 1).then_some(GENESIS_HASH);
        let problems = verify_chain(chain, keys, start);
        let (first, last) = (chain[0].seq, chain[chain.len() - 1].seq);
        let name = match replica {
            Some(r) => format!("replica {r}: "),
            None if merged => "receipts signed by no replica's key: ".to_string(),
            None => String::new(),
        };
        total += chain.len();
        if problems.is_empty() {
            println!(
                "OK: {name}{} receipts (seq {first}..{last}) verify; signatures valid, chain intact{}",
                chain.len(),
                if start.is_none() {
                    " (export starts mid-chain)"
                } else {
                    ""
                }
            );
            continue;
        }
        for p in &problems {
            println!("FAIL {name}{p}");
        }
        failed += problems.len();
    }
    let mut named: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.replica.as_deref())
        .collect();
    named.sort_unstable();
    named.dedup();
    for r in named {
        if !chains.contains_key(&Some(r.to_string())) {
            println!(
                "FAIL replica {r}: none of its receipts are in the export (its chain is missing from the merge)"
            );
            failed += 1;
        }
    }
    if failed == 0 {
        if merged {
            println!("OK: {total} receipts in {} replica chain(s)", chains.len());
        }
        return Ok(());
    }
    Err(anyhow!("{failed} problem(s) in {total} receipts"))
}

/// Groups receipts by the replica whose key signed them (`None`: a key no replica owns, or an
/// unsigned receipt), each group in `seq` order.
fn replica_chains(
    receipts: Vec<aarmor_core::Receipt>,
    entries: &[PublicKeyEntry],
) -> std::collections::BTreeMap<Option<String>, Vec<aarmor_core::Receipt>> {
    let owner: std::collections::HashMap<&str, &str> = entries
        .iter()
        .filter_map(|e| Some((e.key_id.as_str(), e.replica.as_deref()?)))
        .collect();
    let mut chains: std::collections::BTreeMap<Option<String>, Vec<aarmor_core::Receipt>> =
        Default::default();
    for r in receipts {
        let replica = r
            .signature
            .as_ref()
            .and_then(|s| owner.get(s.key_id.as_str()))
            .map(|r| r.to_string());
        chains.entry(replica).or_default().push(r);
    }
    if chains.len() > 1 {
        // Merged exports interleave the replicas' lines; one chain keeps its export order.
        for chain in chains.values_mut() {
            chain.sort_by_key(|r| r.seq);
        }
    }
    chains
}

pub fn show(config: &Config, id: &str) -> anyhow::Result<()> {
    if id.starts_with("act_") {
        return show_action(config, id);
    }
    if !id.starts_with("rct_") {
        return Err(anyhow!(
            "{id:?} is not a receipt id (rct_…) or an action id (act_…, the id a refusal names)"
        ));
    }
    let store = open_store(config)?;
    let in_journal = || -> Option<Receipt> {
        Journal::read(store.path())
            .ok()?
            .iter()
            .filter_map(|b| serde_json::from_slice::<Receipt>(b).ok())
            .find(|r| r.receipt_id == id)
    };
    let receipt = store
        .get(id)?
        .or_else(in_journal)
        .ok_or_else(|| anyhow!("no receipt {id}"))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&receipt).unwrap_or_default()
    );
    Ok(())
}

/// Every receipt of one action (its decision, a resolution, its outcome), in chain order: the
/// `action_id` a refusal names is enough to find what was decided and why.
fn show_action(config: &Config, action_id: &str) -> anyhow::Result<()> {
    let mut found = 0;
    for line in store_lines(config)? {
        let Ok(receipt) = serde_json::from_slice::<Receipt>(&line) else {
            continue;
        };
        if receipt.action.action_id.0 == action_id {
            println!(
                "{}",
                serde_json::to_string_pretty(&receipt).unwrap_or_default()
            );
            found += 1;
        }
    }
    if found == 0 {
        return Err(anyhow!("no receipt of action {action_id}"));
    }
    Ok(())
}

/// JSON lines, in chain order. `since` is a seq number or an RFC 3339 timestamp prefix.
pub fn export(config: &Config, since: Option<&str>, out: Option<&Path>) -> anyhow::Result<()> {
    let lines = store_lines(config)?;
    let mut sink: Box<dyn Write> = match out {
        Some(path) => {
            Box::new(std::fs::File::create(path).map_err(|e| anyhow!("{}: {e}", path.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let since_seq = since.and_then(|s| s.parse::<u64>().ok());
    let mut n = 0;
    for line in lines {
        if let Some(since) = since {
            let v: serde_json::Value = serde_json::from_slice(&line)?;
            let keep = match since_seq {
                Some(seq) => v["seq"].as_u64().unwrap_or(0) >= seq,
                None => v["timestamp"].as_str().unwrap_or_default() >= since,
            };
            if !keep {
                continue;
            }
        }
        sink.write_all(&line).and_then(|_| sink.write_all(b"\n"))?;
        n += 1;
    }
    sink.flush()?;
    eprintln!("exported {n} receipt(s)");
    Ok(())
}

pub fn keys_rotate(config: &Config) -> anyhow::Result<()> {
    let ring = KeyRing::rotate(&config.data_dir)?;
    println!(
        "new receipt signing key {}; a running aarmor signs with it after its next restart. Old public keys stay in {} for verification",
        ring.key_id,
        KeyRing::public_keys_path(&config.data_dir).display()
    );
    Ok(())
}

pub fn keys_show(config: &Config) -> anyhow::Result<()> {
    let path = KeyRing::public_keys_path(&config.data_dir);
    let text = std::fs::read_to_string(&path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
    Ok(())
}
