//! Intent cost (no network): embedding latency of the bundled model on tract for 8, 32 and 64
//! tokens, single and batched; a cache hit through the intent service; and what an action whose
//! rule needs `intent.drift` pays next to one that needs no intent (default policy pack).

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
use aarmor_engine::{ActionEngine, ContextSettings, IntentSettings, PolicyEngine};
use aarmor_intent::EmbeddingModel;
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
    let service = IntentService::with_embedder(IntentSettings::default(), Arc::new(Model(model)));
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

    // Decisions: an action no rule needs intent for, and one whose rule requires intent.drift.
    let dir = crate::scratch::ScratchDir::new()?;
    let settings = PolicySettings {
        dir: policies.to_path_buf(),
        ..PolicySettings::default()
    };
    let set = PolicySet::load(policies, eval_limits(&settings))?;
    let (keys, _) = KeyRing::load_or_create(dir.path())?;
    let log = ReceiptLog::start(
        ReceiptStore::open(&dir.path().join("receipts"), 1 << 32)?,
        keys,
        Durability::Batched {
            window: Duration::from_millis(10),
        },
    )?;
    let context = Arc::new(ContextStore::open(dir.path(), ContextSettings::default())?);
    let engine = PolicyEngine::new(
        set,
        settings,
        EnforcementSettings::default(),
        log,
        context,
        Duration::from_secs(300),
    )
    .with_intent(service.clone());
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
            }],
        )
        .await;
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
    Ok(())
}
