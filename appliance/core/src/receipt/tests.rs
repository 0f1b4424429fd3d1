//! Tests of receipts: signing, verification, the chain and its problems, canonical JSON.

use serde_json::json;

use super::*;
use crate::action::{ActionId, ActionTarget, Identity, Protocol};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn receipt(seq: u64, prev_hash: String) -> Receipt {
    Receipt {
        receipt_id: format!("rct_{seq:020x}"),
        version: RECEIPT_VERSION.into(),
        seq,
        timestamp: "2026-11-23T10:00:00.000Z".into(),
        kind: ReceiptKind::Decision,
        follows: None,
        action: Action {
            envelope: Default::default(),
            action_id: ActionId(format!("act_{seq:020x}")),
            timestamp: "2026-11-23T10:00:00.000Z".into(),
            protocol: Protocol::Sql,
            target: ActionTarget {
                host: "db".into(),
                port: 8123,
                method: "POST".into(),
                path: "/".into(),
            },
            tool: "warehouse".into(),
            operation: "drop".into(),
            parameters: json!({"sql": "DROP TABLE t", "emoji": "😀", "n": 1e21})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            identity: Identity::default(),
            context_ref: None,
            risk_signals: vec![],
            credential: None,
        },
        context: ReceiptContext {
            context_hash: sha256_tagged(b"{}"),
            session: None,
            intent: None,
        },
        decision: ReceiptDecision {
            result: Decision::Deny,
            class: Some(DecisionClass::Forbidden),
            rule: Some("sql.no_drop".into()),
            reason: "DROP is forbidden".into(),
            enforced: true,
            policy: PolicyRef {
                policy_id: "default".into(),
                version: "1".into(),
                hash: sha256_tagged(b"policy"),
            },
        },
        modification: None,
        approval: None,
        deferral: None,
        execution: None,
        checkpoint: None,
        prev_hash,
        signature: None,
    }
}

fn chain(n: u64, k: &SigningKey) -> Vec<Receipt> {
    let mut out: Vec<Receipt> = Vec::new();
    let mut prev = GENESIS_HASH.to_string();
    for seq in 1..=n {
        let mut r = receipt(seq, prev.clone());
        r.seal(k, "k1").unwrap();
        prev = r.chain_hash().unwrap();
        out.push(r);
    }
    out
}

fn keys(k: &SigningKey) -> HashMap<String, VerifyingKey> {
    HashMap::from([("k1".to_string(), k.verifying_key())])
}

#[test]
fn a_clean_chain_verifies() {
    let k = key(1);
    assert!(verify_chain(&chain(5, &k), &keys(&k), Some(GENESIS_HASH)).is_empty());
}

#[test]
fn any_changed_field_breaks_the_signature() {
    let k = key(1);
    let base = chain(3, &k);
    type Edit = Box<dyn Fn(&mut Receipt)>;
    let edits: Vec<Edit> = vec![
        Box::new(|r| r.decision.result = Decision::Allow),
        Box::new(|r| r.decision.reason.push('!')),
        Box::new(|r| r.action.tool = "other".into()),
        Box::new(|r| {
            r.action.parameters.insert("sql".into(), json!("SELECT 1"));
        }),
        Box::new(|r| r.timestamp = "2026-11-23T10:00:00.001Z".into()),
        Box::new(|r| r.context.context_hash = sha256_tagged(b"x")),
        Box::new(|r| r.decision.enforced = false),
    ];
    for edit in edits {
        let mut c = base.clone();
        edit(&mut c[1]);
        let problems = verify_chain(&c, &keys(&k), Some(GENESIS_HASH));
        assert!(
            problems.contains(&ChainProblem::Receipt {
                seq: 2,
                error: ReceiptError::BadSignature(c[1].receipt_id.clone())
            }),
            "{problems:?}"
        );
    }
}

#[test]
fn removal_reordering_and_unknown_keys_are_named() {
    let k = key(1);
    let base = chain(4, &k);
    let mut removed = base.clone();
    removed.remove(1);
    assert_eq!(
        verify_chain(&removed, &keys(&k), Some(GENESIS_HASH)),
        vec![ChainProblem::Missing {
            seq: 3,
            expected_seq: 2
        }]
    );
    let mut reordered = base.clone();
    reordered.swap(1, 2);
    let problems = verify_chain(&reordered, &keys(&k), Some(GENESIS_HASH));
    assert!(
        problems.contains(&ChainProblem::OutOfOrder {
            seq: 2,
            after_seq: 3
        }),
        "{problems:?}"
    );
    let mut foreign = base.clone();
    foreign[2].seal(&key(9), "k9").unwrap();
    let problems = verify_chain(&foreign, &keys(&k), Some(GENESIS_HASH));
    assert!(
        matches!(&problems[0], ChainProblem::Receipt { seq: 3, error: ReceiptError::UnknownKey { key_id, .. } } if key_id == "k9")
    );
    // Re-signing a changed receipt with the real key still breaks the next link.
    let mut resigned = base.clone();
    resigned[1].decision.result = Decision::Allow;
    resigned[1].seal(&k, "k1").unwrap();
    assert_eq!(
        verify_chain(&resigned, &keys(&k), Some(GENESIS_HASH)),
        vec![ChainProblem::BrokenLink { seq: 3 }]
    );
}

/// An export is read exactly: a member the signature does not cover, or an integer the
/// canonical form would round, is refused rather than ignored.
#[test]
fn exports_are_read_exactly() {
    let k = key(1);
    let r = &chain(1, &k)[0];
    let line = serde_json::to_vec(r).unwrap();
    assert_eq!(parse_exact(&line).unwrap(), *r);
    let mut v: Value = serde_json::from_slice(&line).unwrap();
    v["approved_by"] = json!("mallory");
    let e = parse_exact(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(e.starts_with("/approved_by"), "{e}");
    let mut v: Value = serde_json::from_slice(&line).unwrap();
    v["action"]["parameters"]["amount"] = json!(9007199254740993u64);
    let e = parse_exact(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(e.contains("2^53"), "{e}");
}

#[test]
fn canonical_json_is_rfc8785() {
    // Keys sorted by UTF-16 code units, numbers in ECMAScript form.
    let v = json!({"b": 1, "a": [1e21, 0.1, -0.0], "é": true, "\u{1F600}": 1, "\u{FB33}": 2});
    let s = String::from_utf8(canonical_json(&v).unwrap()).unwrap();
    assert_eq!(
        s,
        "{\"a\":[1e+21,0.1,0],\"b\":1,\"é\":true,\"\u{1F600}\":1,\"\u{FB33}\":2}"
    );
}
