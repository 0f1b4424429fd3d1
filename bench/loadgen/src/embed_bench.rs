//! Intent cost (no network): embedding latency of the bundled model on tract for 8, 32 and 64
//! tokens, single and batched; a cache hit through the intent service; what an action whose
//! rule needs `intent.drift` pays next to one that needs no intent; and decisions needing the
//! model from 1, 4 and 16 concurrent agents (each its own session), with the model on 1 and 2
//! threads: p50 and p99 per decision and decisions per second.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aarmor_core::{
    Action, ActionId, ActionTarget, Identity, Observation, ObservationKind, Protocol,
};
use aarmor_core::{SessionId, SessionRef};
use aarmor_engine::context::ContextStore;
use aarmor_engine::intent::{Embedder, IntentService};
use aarmor_engine::policy::PolicySet;
use aarmor_engine::policy_engine::eval_limits;
use aarmor_engine::receipts::{Durability, KeyRing, ReceiptLog, ReceiptStore};
use aarmor_engine::settings::{EnforcementSettings, PolicySettings};
use aarmor_engine::{ContextSettings, IntentSettings, PolicyEngine};
use aarmor_intent::EmbeddingModel;
use aarmor_mediation::ActionEngine;
use anyhow::{Context, Result};
use serde_json::json;

const PROSE: &str = "The quarterly report shows that revenue grew in every region while costs stayed flat, \
so the finance team asked the assistant to e-mail a short summary of the numbers to the chief financial officer \
before the board meeting on Thursday, together with the list of open invoices and the forecast for the next quarter, \
and to create a ticket for the data team to refresh the dashboard with the corrected figures from the warehouse.";

/// Quantiles of a set of durations, in milliseconds.
fn ms(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)].as_secs_f64() * 1000.0;
    (at(0.5), at(0.99))
}

/// The shortest word prefix of the prose with at least `n` tokens (CLS and SEP included).
fn text_of(model: &EmbeddingModel, n: usize) -> Result<(String, usize)> {
    let words: Vec<&str> = PROSE.split(' ').collect();
    for k in 1..=words.len() {
        let text = words[..k].join(" ");
        let tokens = model.token_ids(&text)?.len();
        if tokens >= n {
            return Ok((text, tokens));
        }
    }
    anyhow::bail!("the prose has fewer than {n} tokens")
}

struct Model(EmbeddingModel);

impl Embedder for Model {
    fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        self.0.embed_batch(&refs).map_err(|e| e.to_string())
    }
}

fn action(tool: &str, params: serde_json::Value, session: &SessionId) -> Action {
    Action {
        envelope: Default::default(),
        action_id: ActionId(format!("act_bench_{tool}")),
        timestamp: "2026-11-23T00:00:00.000Z".into(),
        protocol: Protocol::OpenaiChat,
        target: ActionTarget {
            host: "api.openai.com".into(),
            port: 443,
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
        },
        tool: tool.into(),
        operation: "call".into(),
        parameters: params.as_object().cloned().unwrap_or_default(),
        identity: Identity {
            agent: Some("bench".into()),
            session: Some(session.0.clone()),
            ..Identity::default()
        },
        context_ref: None,
        risk_signals: vec![],
        credential: None,
    }
}

pub async fn run(
    model_dir: &Path,
    policies: &Path,
    iterations: usize,
    texts_out: Option<&Path>,
) -> Result<()> {
    let started = Instant::now();
    let model = EmbeddingModel::load(model_dir).context("loading the model")?;
    println!(
        "embed/load\tms={:.0}",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let mut texts = Vec::new();
    for n in [8usize, 32, 64] {
        let (text, tokens) = text_of(&model, n)?;
        texts.push(json!({"target_tokens": n, "tokens": tokens, "text": text}));
        for _ in 0..5 {
            model.embed(&text)?;
        }
        let mut times = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let t = Instant::now();
            std::hint::black_box(model.embed(&text)?);
            times.push(t.elapsed());
        }
        let (p50, p99) = ms(times);
        println!("embed/tract_single_{n}tok\ttokens={tokens}\tn={iterations}\tp50_ms={p50:.2}\tp99_ms={p99:.2}");
        let batch: Vec<&str> = vec![text.as_str(); 8];
        let rounds = (iterations / 4).max(10);
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            std::hint::black_box(model.embed_batch(&batch)?);
            times.push(t.elapsed());
        }
        let (p50, p99) = ms(times);
        println!(
            "embed/tract_batch8_{n}tok\ttokens={tokens}\tn={rounds}\tp50_ms={p50:.2}\tp99_ms={p99:.2}\tper_text_p50_ms={:.2}",
            p50 / 8.0
        );
    }
    if let Some(out) = texts_out {
        std::fs::write(out, serde_json::to_vec_pretty(&texts)?)?;
    }

    // The intent service: a cache hit.
    let shared_model: Arc<dyn Embedder> = Arc::new(Model(model));
    let service = IntentService::with_embedder(IntentSettings::default(), shared_model.clone());
    let text = texts[1]["text"].as_str().unwrap_or_default().to_string();
    service.embed(&text).await.map_err(anyhow::Error::msg)?;
    let mut times = Vec::with_capacity(iterations * 10);
    for _ in 0..iterations * 10 {
        let t = Instant::now();
        std::hint::black_box(service.embed(&text).await.map_err(anyhow::Error::msg)?);
        times.push(t.elapsed());
    }
    let (p50, p99) = ms(times);
    println!(
        "embed/cache_hit\tn={}\tp50_us={:.1}\tp99_us={:.1}",
        iterations * 10,
        p50 * 1000.0,
        p99 * 1000.0
    );

    // Decisions: an action no rule needs intent for, and one whose rule requires intent.drift
    // (the default pack's own drift rule is off; this bundle is the default pack plus one rule
    // that needs drift for every `create_ticket`).
    let dir = crate::scratch::ScratchDir::new()?;
    let bundle = dir.path().join("policies");
    copy_dir(policies, &bundle)?;
    std::fs::write(bundle.join("bench_drift.rego"), DRIFT_RULE)?;
    let settings = PolicySettings {
        dir: bundle.clone(),
        ..PolicySettings::default()
    };
    let set = PolicySet::load(&bundle, eval_limits(&settings))?;
    let (keys, _) = KeyRing::load_or_create(dir.path())?;
    let log = ReceiptLog::start(
        ReceiptStore::open(&dir.path().join("receipts"), 1 << 32)?,
        keys,
        Durability::Batched {
            window: Duration::from_millis(10),
        },
    )?;
    let context = Arc::new(ContextStore::open(dir.path(), ContextSettings::default())?);
    let engine = PolicyEngine::builder(
        set,
        settings,
        EnforcementSettings::default(),
        log,
        context,
        Duration::from_secs(300),
    )
    .intent(service.clone())
    .build();
    let session = SessionId("bench-session".into());
    let sref = SessionRef {
        id: session.clone(),
        agent: "bench".into(),
    };
    engine
        .observe(
            &sref,
            vec![Observation {
                protocol: Protocol::OpenaiChat,
                target: action("x", json!({}), &session).target,
                kind: ObservationKind::UserMessage,
                content: json!("Open a ticket for the data team: the revenue dashboard shows last week's numbers"),
                action_id: None,
                call: None,
            }],
        )
        .await
        .expect("observations recorded");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = iterations.min(2000);
    for (name, tool, vary) in [
        ("decide/read_no_intent", "get_dashboard", true),
        ("decide/write_needs_drift_uncached", "create_ticket", true),
        ("decide/write_needs_drift_cached", "create_ticket", false),
    ] {
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            let title = if vary {
                format!("Refresh the revenue dashboard, request {i}")
            } else {
                "Refresh the revenue dashboard".to_string()
            };
            let a = action(tool, json!({"team": "data", "title": title}), &session);
            let t = Instant::now();
            let v = engine.mediate(&a).await?;
            times.push(t.elapsed());
            std::hint::black_box(v);
        }
        let (p50, p99) = ms(times);
        println!(
            "{name}\tn={n}\tp50_us={:.0}\tp99_us={:.0}",
            p50 * 1000.0,
            p99 * 1000.0
        );
    }
    let stats = service.stats();
    println!(
        "embed/service\tembedded={}\tmodel_runs={}\tcache_hits={}\tfailures={}",
        stats.embedded.get(),
        stats.batches.get(),
        stats.cache_hits.get(),
        stats.failures.get()
    );
    drop(engine);

    // Concurrent agents, every decision needing the model (a new text each time).
    let per_agent = (iterations / 4).clamp(10, 100);
    for threads in [1usize, 2] {
        let service = IntentService::with_embedder(
            IntentSettings {
                threads,
                ..IntentSettings::default()
            },
            shared_model.clone(),
        );
        for agents in [1usize, 4, 16] {
            let scratch = crate::scratch::ScratchDir::new()?;
            let engine = drift_engine(&bundle, scratch.path(), service.clone())?;
            let late_before = service.stats().late.get();
            let (p50, p99, per_s, n) = concurrent(&engine, agents, per_agent).await?;
            println!(
                "decide/needs_model\tagents={agents}\tmodel_threads={threads}\tdecisions={n}\tp50_ms={p50:.2}\tp99_ms={p99:.2}\tdecisions_per_s={per_s:.0}\tlate={}",
                service.stats().late.get() - late_before
            );
        }
    }
    Ok(())
}

/// Needs `intent.drift` for every `create_ticket` (and denies one far from the request).
const DRIFT_RULE: &str = r#"package aarmor.policy

decisions contains d if {
	input.action.tool == "create_ticket"
	not input.intent.drift <= 0.95
	d := {"decision": "deny", "class": "context_deny", "priority": 300, "rule": "bench.drift",
	      "reason": "far from the request", "requires": ["intent.drift"]}
}
"#;

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("{}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn drift_engine(bundle: &Path, dir: &Path, service: IntentService) -> Result<PolicyEngine> {
    let settings = PolicySettings {
        dir: bundle.to_path_buf(),
        ..PolicySettings::default()
    };
    let set = PolicySet::load(bundle, eval_limits(&settings))?;
    let (keys, _) = KeyRing::load_or_create(dir)?;
    let log = ReceiptLog::start(
        ReceiptStore::open(&dir.join("receipts"), 1 << 32)?,
        keys,
        Durability::Batched {
            window: Duration::from_millis(10),
        },
    )?;
    let context = Arc::new(ContextStore::open(dir, ContextSettings::default())?);
    Ok(PolicyEngine::builder(
        set,
        settings,
        EnforcementSettings::default(),
        log,
        context,
        Duration::from_secs(300),
    )
    .intent(service)
    .build())
}

/// `agents` sessions at once, each deciding `per_agent` actions that need the model; returns
/// p50 and p99 per decision (ms), decisions per second, and the number of decisions.
async fn concurrent(
    engine: &PolicyEngine,
    agents: usize,
    per_agent: usize,
) -> Result<(f64, f64, f64, usize)> {
    let requests = [
        "Open a ticket for the data team: the revenue dashboard shows last week's numbers",
        "File a bug for the mobile team: the login screen freezes on older phones",
        "Create a ticket so facilities fixes the broken badge reader on floor three",
        "Ask IT in a ticket to renew the expiring certificate of the billing portal",
    ];
    for a in 0..agents {
        let session = SessionId(format!("bench-agent-{a}"));
        let sref = SessionRef {
            id: session.clone(),
            agent: format!("bench-{a}"),
        };
        engine
            .observe(
                &sref,
                vec![Observation {
                    protocol: Protocol::OpenaiChat,
                    target: action("x", json!({}), &session).target,
                    kind: ObservationKind::UserMessage,
                    content: json!(format!("{} (request {a})", requests[a % requests.len()])),
                    action_id: None,
                    call: None,
                }],
            )
            .await
            .expect("observations recorded");
    }
    // The original requests are embedded when first seen: let that finish.
    tokio::time::sleep(Duration::from_millis(200 + 20 * agents as u64)).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for a in 0..agents {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            let session = SessionId(format!("bench-agent-{a}"));
            let mut times = Vec::with_capacity(per_agent);
            for i in 0..per_agent {
                let title = format!(
                    "Refresh the dashboard of region {a} with the corrected figures, batch {i}"
                );
                let mut act = action(
                    "create_ticket",
                    json!({"team": "data", "title": title}),
                    &session,
                );
                act.identity.agent = Some(format!("bench-{a}"));
                let t = Instant::now();
                let v = engine.mediate(&act).await;
                times.push(t.elapsed());
                std::hint::black_box(v.ok());
            }
            times
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = all.len();
    let (p50, p99) = ms(all);
    Ok((p50, p99, n as f64 / elapsed, n))
}
