//! Receipts written by an earlier release (2026.12.6, whose approval, deferral and execution
//! records were untyped JSON) still parse and verify, and their records are read as the typed
//! records of this version: the types describe exactly what was written.
//!
//! The fixture is the start (64 receipts) of `aarmor receipts export` of an `aarmor replay --out`
//! of the scenario set (`tests/scenarios/as_corpus.py`) by that release, with the replay's
//! `public-keys.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aarmor_core::receipt::verify_chain;
use aarmor_core::receipt_records::Recorded;
use aarmor_core::Receipt;
use aarmor_engine::receipts::keys::{verifying_keys, PublicKeyEntry};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/receipts-2026.12.6")
        .join(name)
}

#[test]
fn receipts_of_the_previous_release_verify_with_typed_records() {
    let keys: Vec<PublicKeyEntry> =
        serde_json::from_slice(&std::fs::read(fixture("public-keys.json")).unwrap()).unwrap();
    let keys = verifying_keys(&keys).unwrap();
    let text = std::fs::read_to_string(fixture("receipts.jsonl")).unwrap();
    let receipts: Vec<Receipt> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(receipts.len() >= 64, "{} receipts", receipts.len());
    let problems = verify_chain(&receipts, &keys, None);
    assert!(problems.is_empty(), "{problems:?}");

    // Every record of the release is read as its type, none kept verbatim, per status.
    let mut typed: BTreeMap<String, usize> = BTreeMap::new();
    for r in &receipts {
        let statuses = [
            r.approval.as_ref().map(|a| match a {
                Recorded::Typed(t) => format!("approval {}", t.status()),
                Recorded::AsWritten(v) => panic!("approval kept as written: {v}"),
            }),
            r.deferral.as_ref().map(|d| match d {
                Recorded::Typed(t) => {
                    format!("deferral {}", serde_json::to_value(t).unwrap()["status"])
                }
                Recorded::AsWritten(v) => panic!("deferral kept as written: {v}"),
            }),
            r.execution.as_ref().map(|e| match e {
                Recorded::Typed(_) => "execution".to_string(),
                Recorded::AsWritten(v) => panic!("execution kept as written: {v}"),
            }),
        ];
        for s in statuses.into_iter().flatten() {
            *typed.entry(s).or_default() += 1;
        }
    }
    // (The scenario set holds no deferral; their written shapes are tested in
    // `aarmor_core::receipt_records`.)
    for expected in ["approval no_approvers", "execution"] {
        assert!(typed.contains_key(expected), "no {expected} in {typed:?}");
    }

    // Read back, each receipt writes the bytes its signature covers.
    for (line, r) in text.lines().filter(|l| !l.trim().is_empty()).zip(&receipts) {
        let written: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            serde_json::to_value(r).unwrap(),
            written,
            "{}",
            r.receipt_id
        );
    }
}
