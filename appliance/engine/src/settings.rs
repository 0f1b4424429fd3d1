//! Engine configuration: the `[policy]`, `[enforcement]`, `[receipts]` and `[approvals]`
//! sections of the config file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultDecision {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySettings {
    /// The policy directory (Rego files, `data.json`, `manifest.json`, `tools/`, `tests/`).
    pub dir: PathBuf,
    /// Decision when no rule produces a candidate.
    pub default_decision: DefaultDecision,
    /// Per-protocol overrides of `default_decision` (`openai_chat`, `mcp`, `sql`, `rest`, ...).
    pub defaults: BTreeMap<String, DefaultDecision>,
    /// Time budget of one evaluation, microseconds; past it the action is denied.
    pub eval_timeout_us: u64,
    /// Instruction budget of one evaluation; past it the action is denied.
    pub max_instructions: usize,
    /// How often the policy directory is checked for changes, ms; 0 turns polling off (SIGHUP
    /// still reloads).
    pub reload_poll_ms: u64,
    /// STEP_UP timeout when the rule gives none, seconds; then DENY.
    pub step_up_timeout_s: u64,
    /// DEFER timeout when the rule gives none, seconds; then DENY.
    pub defer_timeout_s: u64,
    /// Re-evaluations that may defer again before the action is denied.
    pub max_deferrals: u32,
    /// Largest parameters document given to policy, bytes; larger parameters are replaced by a
    /// summary and flagged, and the action is denied unless a rule allows it explicitly.
    pub max_parameter_bytes: usize,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("policies"),
            default_decision: DefaultDecision::Allow,
            defaults: BTreeMap::new(),
            eval_timeout_us: 50_000,
            max_instructions: 1_000_000,
            reload_poll_ms: 2000,
            step_up_timeout_s: 300,
            defer_timeout_s: 60,
            max_deferrals: 3,
            max_parameter_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnforcementMode {
    Enforce,
    Monitor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnforcementSettings {
    /// `enforce`, or `monitor`: every action is evaluated and receipted with the decision it
    /// would get, then allowed.
    pub mode: EnforcementMode,
    /// Agents (identity `agent`) in monitor mode while the rest is enforced.
    pub monitor_agents: Vec<String>,
}

impl Default for EnforcementSettings {
    fn default() -> Self {
        Self {
            mode: EnforcementMode::Enforce,
            monitor_agents: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityMode {
    Strict,
    Batched,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiptSettings {
    /// `strict`: a verdict is released once its receipt is on disk. `batched`: released at once,
    /// on disk within `batch_window_ms` (the most a crash can lose).
    pub durability: DurabilityMode,
    pub batch_window_ms: u64,
    /// Largest size of the receipt store, MiB. A full store denies every action.
    pub max_size_mb: usize,
    /// A parameter string longer than this is recorded by its hash and size, bytes.
    pub max_value_bytes: usize,
    /// An object or list of parameters larger than this (as JSON) is recorded by its hash and
    /// size, bytes.
    pub max_parameters_bytes: usize,
}

impl Default for ReceiptSettings {
    fn default() -> Self {
        Self {
            durability: DurabilityMode::Strict,
            batch_window_ms: 10,
            max_size_mb: 10 * 1024,
            max_value_bytes: 1024,
            max_parameters_bytes: 8 * 1024,
        }
    }
}

impl ReceiptSettings {
    /// What receipts keep of parameters as they are.
    pub fn elision(&self) -> aarmor_core::elide::ElisionLimits {
        aarmor_core::elide::ElisionLimits {
            max_string_bytes: self.max_value_bytes,
            max_subtree_bytes: self.max_parameters_bytes,
        }
    }

    pub fn durability(&self) -> crate::receipts::Durability {
        match self.durability {
            DurabilityMode::Strict => crate::receipts::Durability::Strict,
            DurabilityMode::Batched => crate::receipts::Durability::Batched {
                window: Duration::from_millis(self.batch_window_ms),
            },
        }
    }
}

/// What happens to receipts and closed sessions' context logs once the live stores hold
/// enough of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionMode {
    /// Sealed segments are written to the archive, then pruned from the live store.
    Archive,
    /// Nothing leaves the live stores: they fill up (warnings, then denials when full).
    Off,
    /// Pruned without an archive (the records are gone; a checkpoint receipt says which). Only
    /// when the operator asks for it.
    Drop,
}

/// The `[retention]` section: archival, pruning and the fill-level warnings of the receipt and
/// context stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    pub mode: RetentionMode,
    /// Where sealed segments go (a directory, typically a mounted volume); `None`:
    /// `<data_dir>/archive`.
    pub archive_dir: Option<std::path::PathBuf>,
    /// Most receipts in one archived segment.
    pub segment_receipts: u64,
    /// A segment is sealed at the latest this long after its first receipt, seconds, so the
    /// archive (what the SIEM and auditors ingest) lags the live chain by at most this.
    pub segment_max_age_s: u64,
    /// Receipts older than this many days leave the live store once archived (0: no age limit).
    pub keep_live_days: u64,
    /// The live receipt store is pruned (archived first) down to this size, MiB (0: half of
    /// `[receipts] max_size_mb`).
    pub keep_live_mb: usize,
    /// Closed sessions' context logs idle this many days are archived and removed from the
    /// live context store (0: kept).
    pub context_keep_days: u64,
    /// How often the stores are measured and retention applied, milliseconds.
    pub check_interval_ms: u64,
    /// A store this full (percent) raises a warning (log, syslog event, console banner).
    pub warn_percent: u8,
    /// A store this full (percent) raises an error: actions are denied once it is full.
    pub error_percent: u8,
    /// Also upload archived segments to an S3-compatible object store (`[retention.s3]`).
    pub s3: Option<S3Settings>,
}

/// The `[retention.s3]` section: where archived segments are uploaded. A receipt segment leaves
/// the live store only once it is uploaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://minio.internal:9000`, …
    pub endpoint: String,
    pub bucket: String,
    #[serde(default = "default_s3_region")]
    pub region: String,
    pub access_key_id: String,
    /// A file whose first line is the secret access key (mode 0600); without it, the
    /// environment variable `AARMOR_S3_SECRET_ACCESS_KEY`.
    #[serde(default)]
    pub secret_access_key_file: Option<std::path::PathBuf>,
    /// Prefix of every object key (`aarmor/gw-1/` → `aarmor/gw-1/receipts/receipts-….jsonl.gz`).
    #[serde(default)]
    pub prefix: String,
    /// Path-style URLs (`endpoint/bucket/key`: MinIO and most S3-compatible stores); false:
    /// virtual-host style (`bucket.endpoint/key`).
    #[serde(default = "default_true")]
    pub path_style: bool,
    /// The object store's CA (https endpoints with a private CA); default: the system roots.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

fn default_s3_region() -> String {
    "us-east-1".into()
}

fn default_true() -> bool {
    true
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            mode: RetentionMode::Archive,
            archive_dir: None,
            segment_receipts: 50_000,
            segment_max_age_s: 3600,
            keep_live_days: 7,
            keep_live_mb: 0,
            context_keep_days: 7,
            check_interval_ms: 10_000,
            warn_percent: 80,
            error_percent: 95,
            s3: None,
        }
    }
}

impl RetentionSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.segment_receipts == 0 {
            return Err("retention.segment_receipts: must be greater than 0".into());
        }
        if self.check_interval_ms == 0 {
            return Err("retention.check_interval_ms: must be greater than 0".into());
        }
        if !(1..=100).contains(&self.warn_percent) || !(1..=100).contains(&self.error_percent) {
            return Err("retention.warn_percent and error_percent: between 1 and 100".into());
        }
        if let Some(s3) = &self.s3 {
            if !(s3.endpoint.starts_with("http://") || s3.endpoint.starts_with("https://")) {
                return Err("retention.s3.endpoint: an http:// or https:// URL".into());
            }
            if s3.bucket.is_empty() || s3.access_key_id.is_empty() {
                return Err("retention.s3.bucket: bucket and access_key_id are required".into());
            }
        }
        if self.warn_percent >= self.error_percent {
            return Err(format!(
                "retention.warn_percent ({}) must be below error_percent ({})",
                self.warn_percent, self.error_percent
            ));
        }
        Ok(())
    }

    /// The archive directory under `data_dir` unless set.
    pub fn archive_dir(&self, data_dir: &std::path::Path) -> std::path::PathBuf {
        self.archive_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("archive"))
    }
}

/// The `[approvals]` section: who may answer a STEP_UP, and how they hear of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalSettings {
    /// Operator token of the approvals API and of `aarmor approvals` (automation): it may answer
    /// any approval and names the approver in the request body. Empty: off.
    pub token: String,
    /// File holding the operator token (first line), instead of `token`.
    pub token_file: Option<PathBuf>,
    /// People who approve (`[[approvals.approvers]]`), each with a token of their own for the
    /// web console and the API.
    pub approvers: Vec<ApproverSettings>,
    /// Approver groups and their members (approver names): `finance = ["ana", "ben"]`.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Groups asked when a rule names none; empty: every approver may answer.
    pub default_groups: Vec<String>,
    /// Backup groups asked when an approval is not answered within `escalate_after_s` (a rule's
    /// `escalate_to` / `escalate_after` override these); 0 turns escalation off.
    pub escalate_to: Vec<String>,
    pub escalate_after_s: u64,
    /// Whether an approver may approve an action whose human principal is themselves.
    pub allow_self_approval: bool,
    /// Notifications of approvals requested, escalated and resolved.
    pub webhooks: Vec<WebhookSettings>,
    /// How long a web console login lasts, seconds.
    pub console_session_ttl_s: u64,
    /// Base URL of the console as approvers reach it, for links in notifications
    /// (`https://aarmor-admin.corp.example`); default: the admin listener address.
    pub public_url: Option<String>,
    /// Most actions waiting for approval at once; past it a STEP_UP is denied at once (a flood
    /// of held actions cannot exhaust the appliance or bury the queue).
    pub max_pending: usize,
    /// Most actions of one agent waiting for approval at once; past it that agent's STEP_UPs
    /// are denied at once.
    pub max_pending_per_agent: usize,
    /// Approvers (names) who may use the console's operator views, Overview and Sessions: what
    /// every session's user asked and what its tools returned. The operator token always may;
    /// other approvers see held actions and receipts only.
    pub operators: Vec<String>,
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        Self {
            token: String::new(),
            token_file: None,
            approvers: Vec::new(),
            groups: BTreeMap::new(),
            default_groups: Vec::new(),
            escalate_to: Vec::new(),
            escalate_after_s: 0,
            allow_self_approval: false,
            webhooks: Vec::new(),
            console_session_ttl_s: 8 * 3600,
            max_pending: 1000,
            max_pending_per_agent: 100,
            public_url: None,
            operators: Vec::new(),
        }
    }
}

/// One `[[approvals.approvers]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ApproverSettings {
    /// The approver's name in receipts and groups.
    pub name: String,
    /// sha256 (hex) of the approver's token: `printf %s "$TOKEN" | sha256sum`.
    pub token_sha256: String,
    /// The approver's human identity (as user tokens name humans, e.g. an e-mail); an approver
    /// never approves an action of this human unless `allow_self_approval`. Default: `name`.
    pub principal: Option<String>,
}

/// Kind of webhook payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    /// JSON event, signed: `x-aarmor-signature: sha256=<hex HMAC of timestamp.body>`.
    #[default]
    Generic,
    /// A Slack-compatible incoming-webhook payload (`text` and `blocks`).
    Slack,
}

/// One `[[approvals.webhooks]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// `https://...` (or `http://` on a trusted network).
    pub url: String,
    pub kind: WebhookKind,
    /// HMAC-SHA256 key for generic webhooks (or `secret_file`).
    pub secret: Option<String>,
    pub secret_file: Option<PathBuf>,
    /// PEM CA file for an https receiver with a private CA (else the public web PKI roots).
    pub ca_file: Option<PathBuf>,
}

impl ApprovalSettings {
    /// The configured operator token, if any.
    pub fn resolve_token(&self) -> Result<Option<String>, String> {
        if let Some(path) = &self.token_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("approvals.token_file {}: {e}", path.display()))?;
            let token = text.lines().next().unwrap_or_default().trim().to_string();
            if token.is_empty() {
                return Err(format!("approvals.token_file {} is empty", path.display()));
            }
            return Ok(Some(token));
        }
        Ok((!self.token.is_empty()).then(|| self.token.clone()))
    }

    /// Checks approvers, groups and webhooks; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        let mut names = std::collections::BTreeSet::new();
        for (i, a) in self.approvers.iter().enumerate() {
            let key = format!("approvals.approvers[{i}]");
            if a.name.trim().is_empty() {
                return Err(format!("{key}.name: must not be empty"));
            }
            if !names.insert(a.name.as_str()) {
                return Err(format!("{key}.name: {} is used twice", a.name));
            }
            if a.token_sha256.len() != 64 || !a.token_sha256.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(format!(
                    "{key}.token_sha256: expected the 64 hex digits of sha256 of the token"
                ));
            }
        }
        for (group, members) in &self.groups {
            for m in members {
                if !names.contains(m.as_str()) {
                    return Err(format!(
                        "approvals.groups.{group}: {m} is not an approver ([[approvals.approvers]])"
                    ));
                }
            }
        }
        for o in &self.operators {
            if !names.contains(o.as_str()) {
                return Err(format!(
                    "approvals.operators: {o} is not an approver ([[approvals.approvers]])"
                ));
            }
        }
        for g in self.default_groups.iter().chain(&self.escalate_to) {
            if !self.groups.contains_key(g) {
                return Err(format!(
                    "approvals: group {g} is not defined in [approvals.groups]"
                ));
            }
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            let key = format!("approvals.webhooks[{i}]");
            if !(w.url.starts_with("https://") || w.url.starts_with("http://")) {
                return Err(format!("{key}.url: expected http:// or https://"));
            }
            if w.secret.is_some() && w.secret_file.is_some() {
                return Err(format!("{key}: give secret or secret_file, not both"));
            }
        }
        if self.console_session_ttl_s == 0 {
            return Err("approvals.console_session_ttl_s: must be greater than 0".into());
        }
        Ok(())
    }
}

/// The `[context]` section: sessions and their context log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextSettings {
    /// A session idle this long is compacted into a summary entry and leaves memory; also how
    /// long an agent's conversation stays its active session for REST/MCP/SQL attribution.
    pub session_ttl_s: u64,
    /// Entries a session may store before the older ones are folded into a summary entry.
    pub max_entries_per_session: u64,
    /// Sessions kept in memory; the least recently active leave first (their log stays).
    pub max_sessions: usize,
    /// Bytes of user text and of tool output kept per session for argument provenance.
    pub max_text_bytes: usize,
    /// Class of data no detector or classifier rule classified (AARM R2: RESTRICTED).
    pub unclassified: aarmor_core::DataClass,
    /// Largest size of the context store, MiB. A full store denies every action.
    pub max_size_mb: usize,
    /// How often expired sessions are looked for, seconds.
    pub sweep_interval_s: u64,
    /// Context entries arriving within this window are written in one transaction (one fsync);
    /// a crash loses at most this window of entries.
    pub commit_window_ms: u64,
}

impl Default for ContextSettings {
    fn default() -> Self {
        Self {
            session_ttl_s: 3600,
            max_entries_per_session: 10_000,
            max_sessions: 10_000,
            max_text_bytes: 1024 * 1024,
            unclassified: aarmor_core::DataClass::Restricted,
            max_size_mb: 4 * 1024,
            sweep_interval_s: 60,
            commit_window_ms: 20,
        }
    }
}

/// The `[intent]` section: the embedding model behind `intent.drift`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntentSettings {
    /// Load the model when the policy bundle reads `intent.drift`; off: drift is never known
    /// (rules that require it defer, then deny).
    pub enabled: bool,
    /// The model directory (`model-int8.onnx`, `tokenizer.json`, `SHA256SUMS`).
    pub model_dir: std::path::PathBuf,
    /// Threads that run the model (the bounded blocking pool).
    pub threads: usize,
    /// Texts embedded together at most, when requests queue up.
    pub max_batch: usize,
    /// Texts whose embedding is cached (LRU).
    pub cache_entries: usize,
    /// Longest wait for one embedding on an action's path, ms; past it drift stays unknown.
    pub timeout_ms: u64,
    /// Characters of the action text (`tool.operation(key=value, ...)`) that are embedded.
    pub max_action_text_chars: usize,
    /// Weight of the newest drift in the session's moving average.
    pub ema_alpha: f32,
}

impl Default for IntentSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            model_dir: std::path::PathBuf::from("models/all-MiniLM-L6-v2"),
            threads: 1,
            max_batch: 8,
            cache_entries: 4096,
            timeout_ms: 250,
            max_action_text_chars: 512,
            ema_alpha: 0.3,
        }
    }
}
