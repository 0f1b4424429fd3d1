//! The `aarmor` binary: configuration, the data plane, and CA management.

use anyhow::anyhow;
mod approvals_cmd;
mod builtin;
mod cluster_cmd;
mod config;
mod context_cmd;
mod doctor;
mod engine_setup;
mod policy_cmd;
mod receipts_cmd;
mod replay;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use aarmor_proxy::ca::{install_script, CaPaths, CertificateAuthority};
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigError, LogFormat, DEFAULT_CONFIG_TOML};

/// mimalloc: the data path allocates and frees small buffers per request from one thread and
/// drops them on another; it measured faster than the system allocator for that (bench/).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// aarmor: a TLS-intercepting egress proxy that sees every action an AI agent takes over the
/// network and decides, before the bytes reach the upstream, whether it may happen.
#[derive(Debug, Parser)]
#[command(name = "aarmor", version, propagate_version = true)]
struct Cli {
    /// TOML configuration file (see `aarmor config print-default`). Without it, built-in
    /// defaults are used.
    #[arg(long, short = 'c', global = true, env = "AARMOR_CONFIG")]
    config: Option<PathBuf>,
    /// Override `data_dir` from the configuration.
    #[arg(long, global = true, env = "AARMOR_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the appliance: proxy listener(s) and the admin listener. Creates a CA on first start.
    Run,
    /// Manage the interception CA (stored in <data_dir>/certs/).
    #[command(subcommand)]
    Ca(CaCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check, test and try out Rego policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Verify, show and export the signed receipts of every decision.
    #[command(subcommand)]
    Receipts(ReceiptsCommand),
    /// Manage the receipt signing keys (in <data_dir>/keys/).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Answer actions held for approval (STEP_UP), through the admin API.
    #[command(subcommand)]
    Approvals(ApprovalsCommand),
    /// List, show, export and verify the per-session context logs (in <data_dir>/context/).
    #[command(subcommand)]
    Context(ContextCommand),
    /// Inspect the replicas of a cluster (`[cluster]`) through its Redis: which are alive, all
    /// their public keys, a session's shared chain.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Check the configured appliance and say what to fix: the configuration, the data
    /// directory and its free space, the CA and its expiry, the signing keys and their modes,
    /// the stores' sizes, the policy bundle, the identity registry, the embedding model, the
    /// approvers, the SIEM sinks, the object store, the webhooks, and the running appliance.
    ///
    /// Read-only: it never creates or repairs anything. Exit status 1 when a check fails.
    /// Run it as the user the service runs as (`sudo -u aarmor aarmor --config /etc/aarmor/aarmor.toml doctor`).
    Doctor {
        /// The running appliance's admin listener, HOST:PORT (default: [admin] listen).
        #[arg(long)]
        admin: Option<String>,
        /// Skip the network checks (SIEM sinks, object store, webhooks, running appliance).
        #[arg(long)]
        offline: bool,
        /// Load the embedding model even when no policy reads intent drift.
        #[arg(long)]
        load_model: bool,
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replay recorded agent conversations against a policy bundle, offline, and report what
    /// would be stopped and passed (per label, task, domain, style and rule).
    ///
    /// Each line of a corpus file is one conversation in the OpenAI Chat Completions shape
    /// (`messages`, `tools`) or the Anthropic Messages shape (`system`, `messages` with
    /// `tool_use` blocks), with optional `id`, `domain`, `style`, `kind` (benign|injected),
    /// `split` (tune|report) and `labels` ({tool call id: benign|harmful|injected_read}).
    /// Every model turn that calls tools goes through the same mediator and engine as the
    /// proxy: the request to the model (every message before the turn), then the model's
    /// response. Nothing touches the network. Approvals are never waited for: a STEP_UP counts
    /// as stopped.
    Replay {
        /// Corpus files (JSON Lines).
        #[arg(required_unless_present = "receipts")]
        corpus: Vec<PathBuf>,
        /// Replay what aarmor recorded instead (or as well): an `aarmor receipts export` file,
        /// with the sessions' `aarmor context export` files (--context, repeated). Each session
        /// becomes a conversation of its tool calls; the report lists the calls the bundle now
        /// decides differently.
        #[arg(long)]
        receipts: Option<PathBuf>,
        /// An `aarmor context export` file (repeat for several sessions).
        #[arg(long)]
        context: Vec<PathBuf>,
        /// Policy directory (default: the configuration's `[policy] dir`, else the built-in pack).
        #[arg(long)]
        policies: Option<PathBuf>,
        /// Decide as monitor mode does (receipted, not enforced; deferrals still resolved).
        #[arg(long)]
        monitor: bool,
        /// Only the conversations of this split (`tune` or `report`).
        #[arg(long)]
        split: Option<String>,
        /// Keep the receipts and context logs in this new directory (default: a temporary one,
        /// removed afterwards).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write the report and every call's outcome (decision, rule, reason, intent
        /// signals, receipt id) as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Replay at most this many conversations.
        #[arg(long)]
        limit: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// The replicas Redis knows: alive or not, last heartbeat, actions each holds.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every replica's public keys in one public-keys.json, to verify a merged export:
    /// `aarmor receipts verify --from merged.jsonl --public-keys all-keys.json` checks each
    /// replica's chain on its own and reports a replica whose receipts are missing.
    Keys {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a session's shared context chain as Redis holds it (and export it).
    Context {
        session: String,
        /// Also write the entries as JSON lines to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ContextCommand {
    /// List the sessions with their agent, entry count and last activity.
    List,
    /// Print a session's entries and head.
    Show { session: String },
    /// Write a session's entries as JSON lines, as stored.
    Export {
        session: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a session's hash chain against its head: names any edited, removed or reordered
    /// entry. Exit status 1 when the log was altered.
    Verify {
        session: String,
        /// A JSON-lines export (`aarmor context export`) instead of the store's entries.
        #[arg(long)]
        from: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Compile the policy directory and report problems.
    Check {
        /// Policy directory (default: [policy] dir).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Run the Rego `test_` rules and the table tests in tests/*.yaml.
    Test {
        /// Policy directory (default: [policy] dir).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Evaluate one action (canonical action JSON) or input document and explain the decision.
    Eval {
        /// Policy directory (default: [policy] dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// JSON file: an action, or `{"action": ..., "context": ..., ...}`.
        #[arg(long)]
        input: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ReceiptsCommand {
    /// Verify signatures and the hash chain, offline: the archive's segments and the live store
    /// as one chain from its first receipt (a missing or altered segment is named), or an
    /// export (--from).
    Verify {
        /// public-keys.json (from <data_dir>/keys/ or `aarmor keys show`). Repeat it for a
        /// merged export of cluster replicas: one file per replica (each replica's own
        /// `<data_dir>/keys/public-keys.json`), or `aarmor cluster keys` output.
        #[arg(long, required = true)]
        public_keys: Vec<PathBuf>,
        /// A JSON-lines export (`aarmor receipts export`) instead of the archive and the store.
        #[arg(long, conflicts_with_all = ["archive", "live_only"])]
        from: Option<PathBuf>,
        /// The archive directory (default: [retention] archive_dir, else <data_dir>/archive).
        #[arg(long)]
        archive: Option<PathBuf>,
        /// The live store alone: archived segments are taken as their checkpoints describe
        /// them (the archive is not read).
        #[arg(long, conflicts_with = "archive")]
        live_only: bool,
    },
    /// Print one receipt (`rct_…`), or every receipt of one action (`act_…`: the id a refusal
    /// names).
    Show { id: String },
    /// Write receipts as JSON lines, in chain order.
    Export {
        /// A seq number or an RFC 3339 timestamp (prefix) to start from.
        #[arg(long)]
        since: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a new signing key; earlier public keys stay for verification.
    Rotate,
    /// Print the public keys (public-keys.json).
    Show,
}

#[derive(Debug, Subcommand)]
enum ApprovalsCommand {
    /// List actions waiting for approval.
    List,
    /// Show one pending approval: the full action, identity and context.
    Show { id: String },
    /// Approve the held action (as the approver whose token is in AARMOR_APPROVAL_TOKEN, or
    /// with the operator token as `--approver`).
    Approve {
        id: String,
        /// The approver named with the operator token (ignored with an approver's own token).
        #[arg(long, default_value = "cli")]
        approver: String,
        /// A comment recorded with the answer (in the follow-up receipt).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Refuse the held action.
    Deny {
        id: String,
        /// The approver named with the operator token (ignored with an approver's own token).
        #[arg(long, default_value = "cli")]
        approver: String,
        /// A comment recorded with the answer (in the follow-up receipt).
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum CaCommand {
    /// Create a new ECDSA P-256 root CA (private key mode 0600).
    Init {
        /// Replace an existing CA (agents trusting the old one stop trusting aarmor).
        #[arg(long)]
        force: bool,
    },
    /// Use an intermediate CA issued by your own root: its certificate (optionally followed by
    /// the rest of its chain) and its private key. The full chain is sent to clients.
    Import {
        #[arg(long)]
        cert: PathBuf,
        #[arg(long)]
        key: PathBuf,
        /// Replace an existing CA.
        #[arg(long)]
        force: bool,
    },
    /// Print the CA certificate (what agent hosts must trust).
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Pem)]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the commands that install the CA certificate on an agent host.
    InstallScript {
        #[arg(long, value_enum)]
        os: OsFamily,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportFormat {
    Pem,
    Der,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OsFamily {
    Debian,
    Rhel,
    Macos,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the default configuration, every key documented.
    PrintDefault,
    /// Validate a configuration file and print the effective configuration.
    Check,
}

/// Exit code for configuration errors.
const EXIT_CONFIG: u8 = 2;

fn load_config(cli: &Cli) -> Result<Config, ConfigError> {
    let mut config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    Ok(config)
}

fn init_logging(config: &Config) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Replay logs errors only (`RUST_LOG` overrides): its output is the report, and what the
/// proxy would warn about per action (a STEP_UP nobody can answer) is in it.
fn init_replay_logging() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Doctor {
        admin,
        offline,
        load_model,
        json,
    } = &cli.command
    {
        // A configuration that does not load is a finding, not a reason to stop.
        let options = doctor::Options {
            config_path: cli.config.clone(),
            admin: admin.clone(),
            offline: *offline,
            load_model: *load_model,
        };
        return doctor::command(load_config(&cli), &options, *json);
    }
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("aarmor: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let result = match &cli.command {
        Command::Run => run(config),
        Command::Doctor { .. } => Ok(()),
        Command::Ca(cmd) => ca(cmd, &config),
        Command::Config(ConfigCommand::PrintDefault) => {
            print!("{DEFAULT_CONFIG_TOML}");
            Ok(())
        }
        Command::Policy(cmd) => policy(cmd, config),
        Command::Receipts(ReceiptsCommand::Verify {
            public_keys,
            from,
            archive,
            live_only,
        }) => {
            let scope = match (from, live_only) {
                (Some(path), _) => receipts_cmd::VerifyScope::Export(path),
                (None, true) => receipts_cmd::VerifyScope::LiveOnly,
                (None, false) => receipts_cmd::VerifyScope::Whole(
                    archive
                        .clone()
                        .unwrap_or_else(|| config.retention.archive_dir(&config.data_dir)),
                ),
            };
            receipts_cmd::verify(&config, public_keys, scope)
        }
        Command::Receipts(ReceiptsCommand::Show { id }) => receipts_cmd::show(&config, id),
        Command::Receipts(ReceiptsCommand::Export { since, out }) => {
            receipts_cmd::export(&config, since.as_deref(), out.as_deref())
        }
        Command::Keys(KeysCommand::Rotate) => receipts_cmd::keys_rotate(&config),
        Command::Keys(KeysCommand::Show) => receipts_cmd::keys_show(&config),
        Command::Approvals(cmd) => match cmd {
            ApprovalsCommand::List => approvals_cmd::list(&config),
            ApprovalsCommand::Show { id } => approvals_cmd::show(&config, id),
            ApprovalsCommand::Approve {
                id,
                approver,
                reason,
            } => approvals_cmd::answer(&config, id, true, approver, reason.as_deref()),
            ApprovalsCommand::Deny {
                id,
                approver,
                reason,
            } => approvals_cmd::answer(&config, id, false, approver, reason.as_deref()),
        },
        Command::Cluster(cmd) => match cmd {
            ClusterCommand::Status { json } => cluster_cmd::status(&config, *json),
            ClusterCommand::Keys { out } => cluster_cmd::keys(&config, out.as_deref()),
            ClusterCommand::Context { session, out } => {
                cluster_cmd::context(&config, session, out.as_deref())
            }
        },
        Command::Context(cmd) => match cmd {
            ContextCommand::List => context_cmd::list(&config),
            ContextCommand::Show { session } => context_cmd::show(&config, session),
            ContextCommand::Export { session, out } => {
                context_cmd::export(&config, session, out.as_deref())
            }
            ContextCommand::Verify { session, from } => {
                context_cmd::verify(&config, session, from.as_deref())
            }
        },
        Command::Replay {
            corpus,
            receipts,
            context,
            policies,
            monitor,
            split,
            out,
            json,
            limit,
        } => {
            init_replay_logging();
            replay::run(
                config,
                &replay::Options {
                    corpus: corpus.clone(),
                    receipts: receipts.clone(),
                    context: context.clone(),
                    policies: policies.clone(),
                    monitor: *monitor,
                    split: split.clone(),
                    out: out.clone(),
                    json: json.clone(),
                    limit: *limit,
                },
            )
        }
        Command::Config(ConfigCommand::Check) => match toml::to_string_pretty(&config) {
            Ok(text) => {
                println!("# configuration is valid; effective values:\n{text}");
                Ok(())
            }
            Err(e) => Err(anyhow!("cannot render configuration: {e}")),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("aarmor: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `aarmor policy ...` on the configured directory, or on the pack installed under the data
/// directory where the configured one is the missing default.
fn policy(cmd: &PolicyCommand, mut config: Config) -> anyhow::Result<()> {
    builtin::resolve(&mut config, builtin::Install::No)?;
    let dir_or = |d: &Option<PathBuf>| d.clone().unwrap_or_else(|| config.policy.dir.clone());
    match cmd {
        PolicyCommand::Check { dir } => policy_cmd::check(&dir_or(dir), &config),
        PolicyCommand::Test { dir } => policy_cmd::test(&dir_or(dir)),
        PolicyCommand::Eval { dir, input } => policy_cmd::eval(&dir_or(dir), input, &config),
    }
}

fn run(mut config: Config) -> anyhow::Result<()> {
    init_logging(&config);
    let data_dir = config.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| anyhow!("data_dir {}: {e}", data_dir.display()))?;
    if config.mediation.enabled {
        builtin::resolve(&mut config, builtin::Install::Yes)?;
    }
    let plane = aarmor_proxy::DataPlaneConfig {
        data_dir,
        proxy: config.proxy.clone(),
        upstream: config.upstream.clone(),
        admin: config.admin.clone(),
        mediation: config.mediation.clone(),
    };
    let mut console = false;
    let mut on_shutdown: Option<aarmor_proxy::ShutdownHook> = None;
    let decider = if config.mediation.enabled {
        let engine = engine_setup::start(&config)?;
        let approvals = engine_setup::approvals_for(&engine, &config);
        console = approvals.is_some();
        let stopping = engine.clone();
        // Held actions end before the data plane stops serving: their agents are answered
        // and their resolutions receipted (`shutdown`).
        on_shutdown = Some(Box::new(move || {
            let engine = stopping.clone();
            Box::pin(async move { engine.shut_down(std::time::Duration::from_secs(3)).await })
        }));
        aarmor_proxy::Decider::Actions {
            retention: engine.retention(),
            jwks: engine.credential_broker().minter().map(|m| m.jwks()),
            engine: Arc::new(engine),
            approvals,
        }
    } else {
        tracing::warn!(
            "mediation.enabled = false: every exchange is forwarded without action mediation"
        );
        aarmor_proxy::Decider::Mediator(Arc::new(aarmor_mediation::AllowAllMediator))
    };
    let prepared = aarmor_proxy::prepare(plane, decider)?;
    let ca = prepared.ca_cert.display().to_string();
    if prepared.ca_created {
        eprintln!("aarmor: created a new interception CA: {ca}");
        eprintln!("aarmor: agents must trust it: `aarmor ca install-script --os debian|rhel|macos`, or SSL_CERT_FILE / REQUESTS_CA_BUNDLE / NODE_EXTRA_CA_CERTS={ca}");
    } else {
        eprintln!("aarmor: using interception CA {ca}");
    }
    eprintln!(
        "aarmor: explicit proxy on http://{} (set HTTPS_PROXY/HTTP_PROXY to it)",
        config.proxy.listen
    );
    if let Some(t) = config.proxy.tls_listen {
        eprintln!("aarmor: TLS proxy listener on https://{t} (set HTTPS_PROXY to it; client certificates name agents)");
    }
    if let Some(t) = config.proxy.transparent_listen {
        eprintln!("aarmor: transparent listener on {t} (for nftables/iptables REDIRECT)");
    }
    eprintln!(
        "aarmor: admin on http://{} (/healthz, /metrics{})",
        config.admin.listen,
        if console {
            ", /v1/approvals, /console"
        } else {
            ""
        }
    );
    tracing::info!(proxy = %config.proxy.listen, admin = %config.admin.listen, "aarmor started");
    prepared.run_until_stopped(on_shutdown)
}

fn ca(cmd: &CaCommand, config: &Config) -> anyhow::Result<()> {
    let paths = CaPaths::in_data_dir(&config.data_dir);
    match cmd {
        CaCommand::Init { force } => {
            CertificateAuthority::init(&paths, *force)?;
            println!(
                "created CA certificate {} (key {}, mode 0600)",
                paths.cert.display(),
                paths.key.display()
            );
            Ok(())
        }
        CaCommand::Import { cert, key, force } => {
            let ca = CertificateAuthority::import(&paths, cert, key, *force)?;
            println!(
                "imported CA ({} certificate(s) in chain) into {}",
                ca.chain().len(),
                paths.dir.display()
            );
            Ok(())
        }
        CaCommand::Export { format, out } => {
            let ca = CertificateAuthority::load(&paths)?;
            let bytes = match format {
                ExportFormat::Pem => ca.chain_pem().as_bytes().to_vec(),
                ExportFormat::Der => ca.cert_der().to_vec(),
            };
            write_out(out.as_deref(), &bytes)
        }
        CaCommand::InstallScript { os } => {
            let name = match os {
                OsFamily::Debian => "debian",
                OsFamily::Rhel => "rhel",
                OsFamily::Macos => "macos",
            };
            let cert = std::path::absolute(&paths.cert).unwrap_or_else(|_| paths.cert.clone());
            let script = install_script(name, &cert)
                .ok_or_else(|| anyhow!("unsupported OS family {name}"))?;
            print!("{script}");
            Ok(())
        }
    }
}

fn write_out(out: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    match out {
        Some(path) => std::fs::write(path, bytes).map_err(|e| anyhow!("{}: {e}", path.display())),
        None => std::io::stdout()
            .write_all(bytes)
            .map_err(|e| anyhow!("stdout: {e}")),
    }
}
