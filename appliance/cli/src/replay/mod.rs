//! `aarmor replay`: recorded agent conversations decided offline by the same mediator and
//! engine as the proxy (no network, no listener), and a report of what would be stopped and
//! passed per label, task, domain, style and rule, with the receipts it would write.

use anyhow::anyhow;
pub mod corpus;
mod drive;
mod recorded;
mod report;

use std::path::{Path, PathBuf};
use std::time::Instant;

use aarmor_engine::settings::EnforcementMode;

use crate::builtin;
use crate::config::Config;
use crate::engine_setup;

/// What `aarmor replay` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub corpus: Vec<PathBuf>,
    /// `aarmor receipts export` output, with `context` (`aarmor context export` outputs): the
    /// recorded conversations to replay.
    pub receipts: Option<PathBuf>,
    pub context: Vec<PathBuf>,
    pub policies: Option<PathBuf>,
    pub monitor: bool,
    /// Only conversations of this split (`tune`, `report`); all when `None`.
    pub split: Option<String>,
    /// Keep the data directory (receipts, context logs) here; must not hold an earlier run.
    pub out: Option<PathBuf>,
    /// Write the report and every call's outcome as JSON here.
    pub json: Option<PathBuf>,
    /// Replay at most this many conversations.
    pub limit: Option<usize>,
}

pub fn run(mut config: Config, options: &Options) -> anyhow::Result<()> {
    let mut conversations = Vec::new();
    for path in &options.corpus {
        conversations.extend(corpus::read(path)?);
    }
    match (&options.receipts, options.context.is_empty()) {
        (Some(receipts), false) => conversations
            .extend(recorded::read(receipts, &options.context)?),
        (Some(_), true) => {
            return Err(anyhow!("--receipts needs the sessions' context exports too (--context FILE, one per `aarmor context export`)"))
        }
        (None, false) => return Err(anyhow!("--context needs the receipts export too (--receipts FILE)")),
        (None, true) => {}
    }
    if let Some(split) = &options.split {
        conversations.retain(|c| &c.split == split);
    }
    if let Some(n) = options.limit {
        conversations.truncate(n);
    }
    if conversations.is_empty() {
        return Err(anyhow!(
            "no conversation to replay (check the files and --split)"
        ));
    }
    let (data_dir, temporary) = data_dir(options.out.as_deref())?;
    config.data_dir = data_dir.clone();
    if let Some(dir) = &options.policies {
        config.policy.dir = dir.clone();
    }
    config.enforcement.mode = if options.monitor {
        EnforcementMode::Monitor
    } else {
        EnforcementMode::Enforce
    };
    // Nobody answers approvals offline: a STEP_UP is reported as held (and receipted as
    // denied for want of an approver), never waited for.
    config.approvals = Default::default();
    config.telemetry = Default::default();
    let result = replay(config, options, &conversations);
    if temporary {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    result
}

fn replay(
    mut config: Config,
    options: &Options,
    conversations: &[corpus::Conversation],
) -> anyhow::Result<()> {
    builtin::resolve(&mut config, builtin::Install::Yes)?;
    // Offline: a replay never joins the cluster its configuration may name.
    config.cluster.enabled = false;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| anyhow!("cannot start the runtime: {e}"))?;
    let mode = if options.monitor {
        "monitor"
    } else {
        "enforce"
    };
    runtime.block_on(async move {
        let engine = engine_setup::build(&config)?;
        let policy = engine.policy();
        let policy = format!("{} {} ({})", policy.policy_id, policy.version, policy.hash);
        let mut driver = drive::Driver::new(engine, &config.mediation)?;
        let started = Instant::now();
        let mut outcomes = Vec::new();
        for (i, c) in conversations.iter().enumerate() {
            let got = driver
                .conversation(c, i)
                .await
                .map_err(|e| anyhow!("conversation {}: {e}", c.id))?;
            outcomes.extend(got);
            if (i + 1) % 100 == 0 {
                eprintln!(
                    "aarmor replay: {} / {} conversations ({} s)",
                    i + 1,
                    conversations.len(),
                    started.elapsed().as_secs()
                );
            }
        }
        let report = report::build(&outcomes, mode, &policy, !options.monitor);
        print!("{}", report.text());
        println!(
            "\nreplayed in {:.1} s{}",
            started.elapsed().as_secs_f64(),
            match &options.out {
                Some(dir) => format!(
                    "; receipts and context logs in {} (verify: aarmor --data-dir {} receipts verify --public-keys {})",
                    dir.display(),
                    dir.display(),
                    dir.join("keys").join("public-keys.json").display()
                ),
                None => String::new(),
            }
        );
        if let Some(path) = &options.json {
            let doc = serde_json::json!({"report": report, "calls": outcomes});
            let text = serde_json::to_string_pretty(&doc)?;
            std::fs::write(path, text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        }
        Ok(())
    })
}

/// The data directory of the run: `out` (created; refused when it holds an earlier run), or a
/// new temporary one that is removed afterwards.
fn data_dir(out: Option<&Path>) -> anyhow::Result<(PathBuf, bool)> {
    match out {
        Some(dir) => {
            let used = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
            if used {
                return Err(anyhow!(
                    "{} is not empty: replay writes a fresh receipt chain and context logs; give a new directory",
                    dir.display()
                ));
            }
            std::fs::create_dir_all(dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
            Ok((dir.to_path_buf(), false))
        }
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir =
                std::env::temp_dir().join(format!("aarmor-replay-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
            Ok((dir, true))
        }
    }
}
