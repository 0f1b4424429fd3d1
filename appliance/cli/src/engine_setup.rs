//! Builds the policy engine for `aarmor run`: policies, signing keys, the receipt store, and the
//! watcher that reloads policies on SIGHUP or when the policy directory changes.

use anyhow::anyhow;
use std::sync::Arc;
use std::time::Duration;

use aarmor_engine::approvals::{Directory, Notifier};
use aarmor_engine::cluster::Cluster;
use aarmor_engine::context::ContextStore;
use aarmor_engine::intent::{Embedder, IntentService};
use aarmor_engine::policy::{PolicySet, PolicySources};
use aarmor_engine::policy_engine::eval_limits;
use aarmor_engine::receipts::{KeyRing, ReceiptLog, ReceiptStore};
use aarmor_engine::retention::Retention;
use aarmor_engine::settings::RetentionMode;
use aarmor_engine::telemetry::Telemetry;
use aarmor_engine::{IntentSettings, PolicyEngine};
use aarmor_intent::EmbeddingModel;

use crate::config::Config;

/// The engine of `aarmor run`: [`build`], plus the policy watcher and the approvers.
pub fn start(config: &Config) -> anyhow::Result<PolicyEngine> {
    let engine = build(config)?;
    watch_policies(engine.clone(), config);
    let approval_token = config
        .approvals
        .resolve_token()
        .map_err(anyhow::Error::msg)?;
    let directory = Directory::new(&config.approvals, approval_token.clone());
    let console_url = config
        .approvals
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.admin.listen))
        .trim_end_matches('/')
        .to_string()
        + "/console";
    let notifier = if config.approvals.webhooks.is_empty() {
        None
    } else {
        Some(Notifier::new(&config.approvals.webhooks, console_url).map_err(anyhow::Error::msg)?)
    };
    if !directory.anyone() {
        eprintln!("aarmor: no approver configured ([approvals] token or approvers): actions that need approval (STEP_UP) are denied");
    }
    engine.approvals().configure(directory, notifier);
    Ok(engine)
}

/// The policy engine of a configuration: its policy bundle, receipt log, context store, identity
/// registry, telemetry and intent model; no approvers and no policy watcher (see [`start`]).
pub fn build(config: &Config) -> anyhow::Result<PolicyEngine> {
    let dir = &config.policy.dir;
    let set = PolicySet::load(dir, eval_limits(&config.policy))
        .map_err(|e| {
            format!(
                "policy: {e} (set [policy] dir; `aarmor policy check --dir {}` shows the details)",
                dir.display()
            )
        })
        .map_err(anyhow::Error::msg)?;
    eprintln!(
        "aarmor: policy bundle {} version {} ({}) from {}",
        set.policy.policy_id,
        set.policy.version,
        set.policy.hash,
        dir.display()
    );
    let identities = &set.identities;
    if identities.agent_count() == 0 {
        eprintln!(
            "aarmor: no agent is registered ({}/identities.yaml is missing or empty): every agent is unknown, and its actions are {}",
            dir.display(),
            match config.identity.unverified {
                aarmor_engine::identity::UnverifiedMode::Deny => "denied ([identity] unverified = \"deny\")",
                aarmor_engine::identity::UnverifiedMode::Flag => "flagged ([identity] unverified = \"flag\")",
            }
        );
    } else {
        eprintln!(
            "aarmor: identity registry: {} agent(s){}",
            identities.agent_count(),
            if identities.verifies_user_tokens() {
                ", humans from verified user tokens"
            } else {
                ""
            }
        );
    }
    let replica = config
        .cluster
        .enabled
        .then(|| config.cluster.replica_name());
    let (keys, created) = match &replica {
        Some(name) => KeyRing::load_or_create_for(&config.data_dir, name)?,
        None => KeyRing::load_or_create(&config.data_dir)?,
    };
    let signing_key = keys.key_id.clone();
    let public_keys = keys.public.clone();
    if created {
        eprintln!(
            "aarmor: created receipt signing key {}; public keys for verification: {}",
            keys.key_id,
            KeyRing::public_keys_path(&config.data_dir).display()
        );
    }
    let store = ReceiptStore::open(
        &ReceiptStore::dir(&config.data_dir),
        config.receipts.max_size_mb.saturating_mul(1024 * 1024),
    )?;
    let log = ReceiptLog::start_with(
        store,
        keys,
        config.receipts.durability(),
        config.receipts.elision(),
    )
    .map_err(|e| match e {
        aarmor_engine::receipts::StoreError::Lmdb(lmdb_full) if lmdb_full.to_string().contains("MDB_MAP_FULL") => anyhow!(
            "the receipt store is full: raise [receipts] max_size_mb to start, with [retention] mode = \"archive\" (or \"drop\") to free it ({lmdb_full})"
        ),
        other => other.into(),
    })?;
    let context = Arc::new(
        ContextStore::open(&config.data_dir, config.context.clone())
            .map_err(|e| anyhow!("context store: {e}"))?,
    );
    let uses_drift = set.uses_drift;
    let mut engine = PolicyEngine::builder(
        set,
        config.policy.clone(),
        config.enforcement.clone(),
        log.clone(),
        context.clone(),
        Duration::from_millis(config.mediation.max_hold_ms),
    )
    .identity(config.identity.clone());
    if let Some(name) = &replica {
        let cluster = Cluster::new(config.cluster.clone()).map_err(|e| anyhow!("cluster: {e}"))?;
        cluster.set_public_keys(public_keys);
        eprintln!(
            "aarmor: cluster replica {name}: session context, holds and approvals shared through {}; receipts signed with {}",
            config.cluster.redis_url_redacted(),
            signing_key
        );
        engine = engine.cluster(cluster);
    }
    let mut telemetry = None;
    if !config.telemetry.sinks.is_empty() {
        let t = Arc::new(
            Telemetry::start(&config.telemetry, &config.data_dir)
                .map_err(|e| anyhow!("telemetry: {e}"))?,
        );
        eprintln!(
            "aarmor: streaming decisions to {} syslog sink(s) as {:?}",
            config.telemetry.sinks.len(),
            config.telemetry.format
        );
        engine = engine.telemetry(t.clone());
        telemetry = Some(t);
    }
    let archive_dir = config.retention.archive_dir(&config.data_dir);
    let retention = Retention::new(
        config.retention.clone(),
        &archive_dir,
        log,
        (config.receipts.max_size_mb as u64).saturating_mul(1024 * 1024),
        context,
        telemetry,
    )
    .map_err(anyhow::Error::msg)?
    .start()
    .map_err(anyhow::Error::msg)?;
    eprintln!(
        "aarmor: retention {}: {}",
        match config.retention.mode {
            RetentionMode::Archive => "archive",
            RetentionMode::Off => "off",
            RetentionMode::Drop => "drop",
        },
        match config.retention.mode {
            RetentionMode::Archive => format!(
                "receipt segments of up to {} go to {}",
                config.retention.segment_receipts,
                archive_dir.display()
            ),
            RetentionMode::Off => {
                "nothing leaves the live stores; they warn as they fill, and a full store denies every action".into()
            }
            RetentionMode::Drop => {
                "the oldest receipts are pruned without an archive when room is needed".into()
            }
        }
    );
    engine = engine.retention(retention);
    if config.intent.enabled {
        let intent = intent_service(&config.intent);
        if uses_drift {
            let started = std::time::Instant::now();
            intent.load_now(Duration::from_secs(120)).map_err(|e| {
                format!(
                    "the policy bundle reads intent.drift but the embedding model in {} did not load: {e} (set [intent] model_dir, or [intent] enabled = false to run without drift)",
                    config.intent.model_dir.display()
                )
            }).map_err(anyhow::Error::msg)?;
            eprintln!(
                "aarmor: embedding model loaded from {} in {} ms",
                config.intent.model_dir.display(),
                started.elapsed().as_millis()
            );
        }
        engine = engine.intent(intent);
    }
    let minter = aarmor_engine::credentials::mint::Minter::load_or_create(
        &config.data_dir.join("credentials"),
    )?;
    let engine = engine
        .credentials(aarmor_engine::credentials::CredentialBroker::with_minter(
            minter,
        ))
        .map_err(|e| {
            anyhow!(
                "policy: {}/{}: {e}",
                dir.display(),
                aarmor_engine::credentials::CREDENTIALS_FILE
            )
        })?;
    Ok(engine.build())
}

/// The bundled model behind the engine's embedding service.
struct Model(EmbeddingModel);

impl Embedder for Model {
    fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        self.0.embed_batch(&refs).map_err(|e| e.to_string())
    }
}

/// The embedding service; the model loads when first needed (at start when the bundle reads
/// `intent.drift`).
fn intent_service(settings: &IntentSettings) -> IntentService {
    let dir = settings.model_dir.clone();
    IntentService::new(
        settings.clone(),
        Box::new(move || {
            EmbeddingModel::load(&dir)
                .map(|m| Arc::new(Model(m)) as Arc<dyn Embedder>)
                .map_err(|e| e.to_string())
        }),
    )
}

/// Reloads on SIGHUP, and when the directory's content hash changes (polled). A bundle that
/// does not compile is rejected with its error and the running one stays.
fn watch_policies(engine: PolicyEngine, config: &Config) {
    let dir = config.policy.dir.clone();
    let poll = Duration::from_millis(config.policy.reload_poll_ms);
    let _ = std::thread::Builder::new()
        .name("aarmor-policy-watch".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                tracing::error!("cannot start the policy watcher");
                return;
            };
            rt.block_on(async move {
                let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for SIGHUP; policy reload by polling only");
                        None
                    }
                };
                let mut last_failed_hash: Option<String> = None;
                loop {
                    let by_signal = tokio::select! {
                        _ = async { match hup.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending::<()>().await } } => true,
                        _ = async { if poll.is_zero() { std::future::pending::<()>().await } else { tokio::time::sleep(poll).await } } => false,
                    };
                    let current = engine.policy().hash;
                    if !by_signal {
                        match PolicySources::read(&dir) {
                            Ok(s) if s.hash == current || Some(&s.hash) == last_failed_hash.as_ref() => continue,
                            Ok(_) => {}
                            Err(e) => {
                                tracing::debug!(error = %e, "policy directory unreadable; keeping the running bundle");
                                continue;
                            }
                        }
                    }
                    match engine.reload() {
                        Ok(p) => {
                            last_failed_hash = None;
                            tracing::info!(policy = %p.policy_id, version = %p.version, hash = %p.hash, by_signal, "policy bundle reloaded");
                        }
                        Err(e) => {
                            last_failed_hash = PolicySources::read(&dir).ok().map(|s| s.hash);
                            tracing::error!(error = %e, "new policy bundle rejected; the running one stays");
                        }
                    }
                }
            });
        });
}

/// What the admin listener serves for approvers: the approvals API, the console, receipts.
pub fn approvals_for(
    engine: &PolicyEngine,
    config: &Config,
) -> Option<aarmor_proxy::AdminApprovals> {
    let approvals = engine.approvals();
    approvals
        .answerable()
        .then(|| aarmor_proxy::AdminApprovals {
            approvals,
            receipts: engine.receipts_reader(),
            console_session_ttl: Duration::from_secs(config.approvals.console_session_ttl_s),
            context: engine.context(),
            telemetry: engine.telemetry(),
        })
}
