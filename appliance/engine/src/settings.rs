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
    /// summary and flagged.
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
            max_parameter_bytes: 256 * 1024,
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
}

impl Default for ReceiptSettings {
    fn default() -> Self {
        Self {
            durability: DurabilityMode::Strict,
            batch_window_ms: 10,
            max_size_mb: 10 * 1024,
        }
    }
}

impl ReceiptSettings {
    pub fn durability(&self) -> crate::receipts::Durability {
        match self.durability {
            DurabilityMode::Strict => crate::receipts::Durability::Strict,
            DurabilityMode::Batched => crate::receipts::Durability::Batched {
                window: Duration::from_millis(self.batch_window_ms),
            },
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalSettings {
    /// Bearer token of the admin approvals API. Empty (and no `token_file`): the API is off.
    pub token: String,
    /// File holding the token (first line), instead of `token`.
    pub token_file: Option<PathBuf>,
}

impl ApprovalSettings {
    /// The configured token, if any.
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
