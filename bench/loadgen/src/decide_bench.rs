//! Decision cost of the engine, without network: policy evaluation of the default pack, the
//! whole decision with its receipt in both durability modes, the latency of one `fdatasync`
//! (what strict durability adds), and the receipt writer's throughput on its own.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aarmor_core::{Action, ActionId, ActionTarget, Identity, Protocol, Verdict};
use aarmor_engine::policy::{resolve, PolicySet};
use aarmor_engine::policy_engine::eval_limits;
use aarmor_engine::receipts::{Durability, KeyRing, ReceiptDraft, ReceiptLog, ReceiptStore};
use aarmor_engine::settings::{EnforcementSettings, PolicySettings};
use aarmor_engine::PolicyEngine;
use aarmor_mediation::ActionEngine;
use anyhow::Result;
use serde_json::json;

fn actions() -> Vec<Action> {
    let mk = |protocol, tool: &str, operation: &str, params: serde_json::Value| Action {
        envelope: Default::default(),
        action_id: ActionId("act_00000000000000000000".into()),
        timestamp: "2026-11-23T10:00:00.000Z".into(),
        protocol,
        target: ActionTarget {
            host: "api.example.com".into(),
            port: 443,
            method: "POST".into(),
            path: "/v1/x".into(),
        },
        tool: tool.into(),
        operation: operation.into(),
        parameters: params.as_object().cloned().unwrap_or_default(),
        identity: Identity::default(),
        context_ref: None,
        risk_signals: vec![],
        credential: None,
    };
    vec![
        mk(
            Protocol::Sql,
            "warehouse",
            "select",
            json!({"sql": "SELECT count() FROM orders WHERE day = today()", "statement_count": 1, "statement_kinds": ["select"], "tables": ["orders"]}),
        ),
        mk(
            Protocol::Mcp,
            "files.read_file",
            "tools/call",
            json!({"path": "/srv/reports/q3.md"}),
        ),
        mk(
            Protocol::Rest,
            "api.example.com/v1/tickets/{id}",
            "put",
            json!({"body": {"status": "closed", "comment": "done, thanks"}, "query": {}}),
        ),
        mk(
            Protocol::OpenaiChat,
            "get_weather",
            "call",
            json!({"city": "Oslo", "unit": "c"}),
        ),
    ]
}

fn pct(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at =
        |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)].as_nanos() as f64 / 1000.0;
    (at(0.5), at(0.99))
}

fn engine(dir: &Path, policies: &Path, durability: Durability) -> Result<PolicyEngine> {
    let settings = PolicySettings {
        dir: policies.to_path_buf(),
        ..PolicySettings::default()
    };
    let set = PolicySet::load(policies, eval_limits(&settings))?;
    let (keys, _) = KeyRing::load_or_create(dir)?;
    let log = ReceiptLog::start(
        ReceiptStore::open(&dir.join("receipts"), 1 << 32)?,
        keys,
        durability,
    )?;
    Ok(PolicyEngine::new(
        set,
        settings,
        EnforcementSettings::default(),
        log,
        std::sync::Arc::new(aarmor_engine::context::ContextStore::open(
            dir,
            aarmor_engine::ContextSettings::default(),
        )?),
        Duration::from_secs(300),
    ))
}

pub async fn run(policies: &Path, iterations: usize) -> Result<()> {
    let actions = actions();
    let settings = PolicySettings::default();
    let set = PolicySet::load(policies, eval_limits(&settings))?;
    // 1. Policy evaluation and resolution alone (the input document prepared once per action).
    let inputs: Vec<serde_json::Value> = actions
        .iter()
        .map(|a| json!({"action": a, "identity": {}, "context": {}, "intent": {}, "schema": {"operator": false, "declared": false, "violations": []}}))
        .collect();
    let mut times = Vec::with_capacity(iterations);
    for i in 0..iterations + 1000 {
        let input = &inputs[i % inputs.len()];
        let t = Instant::now();
        let c = set.evaluate(input)?;
        let r = resolve(c, input, aarmor_core::Decision::Allow);
        std::hint::black_box(r);
        if i >= 1000 {
            times.push(t.elapsed());
        }
    }
    let (p50, p99) = pct(times);
    println!("decide/policy_eval_default_pack\tn={iterations}\tp50_us={p50:.1}\tp99_us={p99:.1}");

    // 2. The whole decision: input, evaluation, resolution, signed receipt (durable in strict),
    //    context entry. Each action in a session of its own, then all in one long session (its
    //    context grows to the 16 most recent prior actions).
    for (name, durability, one_session) in [
        ("strict", Durability::Strict, false),
        (
            "batched",
            Durability::Batched {
                window: Duration::from_millis(10),
            },
            false,
        ),
        (
            "batched_long_session",
            Durability::Batched {
                window: Duration::from_millis(10),
            },
            true,
        ),
    ] {
        let dir = crate::scratch::ScratchDir::new()?;
        let e = engine(dir.path(), policies, durability)?;
        let n = iterations.min(5000);
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            let mut a = actions[i % actions.len()].clone();
            if !one_session {
                a.identity.session = Some(format!("bench-{i}"));
            }
            let t = Instant::now();
            let v = e.mediate(&a).await?;
            if !matches!(v, Verdict::Allow) {
                anyhow::bail!("expected ALLOW for {}", a.tool);
            }
            times.push(t.elapsed());
        }
        let (p50, p99) = pct(times);
        println!("decide/decision_with_receipt_{name}\tn={n}\tp50_us={p50:.1}\tp99_us={p99:.1}");
    }

    // The yardstick for strict minus batched: one append of a receipt-sized record plus
    // `fdatasync` on the same disk (what a strict commit waits for).
    {
        use std::io::Write;
        let dir = crate::scratch::ScratchDir::new()?;
        let mut file = std::fs::File::create(dir.path().join("fsync-probe"))?;
        let record = vec![b'r'; 1024];
        let n = iterations.clamp(1, 1000);
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            file.write_all(&record)?;
            file.sync_data()?;
            times.push(t.elapsed());
        }
        let (p50, p99) = pct(times);
        println!("decide/fsync_1k_append\tn={n}\tp50_us={p50:.1}\tp99_us={p99:.1}");
    }

    // 3. The receipt writer alone: 256 concurrent producers.
    for (name, durability) in [
        ("strict", Durability::Strict),
        (
            "batched",
            Durability::Batched {
                window: Duration::from_millis(10),
            },
        ),
    ] {
        let dir = crate::scratch::ScratchDir::new()?;
        let (keys, _) = KeyRing::load_or_create(dir.path())?;
        let log = Arc::new(ReceiptLog::start(
            ReceiptStore::open(&dir.path().join("receipts"), 1 << 32)?,
            keys,
            durability,
        )?);
        let total = 100_000usize;
        let producers = 256;
        let draft = ReceiptDraft::new(
            aarmor_core::ReceiptKind::Decision,
            actions[2].clone(),
            json!({"context": {}}),
            aarmor_core::ReceiptDecision {
                result: aarmor_core::Decision::Allow,
                class: None,
                rule: None,
                reason: "no policy rule matched; default ALLOW".into(),
                enforced: true,
                policy: set.policy.clone(),
            },
        );
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..producers {
            let (log, draft) = (log.clone(), draft.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..total / producers {
                    log.append(draft.clone()).await?;
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        let elapsed = started.elapsed();
        let commits = log.stats.commits.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "decide/receipt_writer_{name}\tn={}\treceipts_per_s={:.0}\tcommits={commits}",
            total / producers * producers,
            (total / producers * producers) as f64 / elapsed.as_secs_f64()
        );
    }
    Ok(())
}
