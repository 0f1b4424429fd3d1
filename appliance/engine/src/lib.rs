//! The policy engine: [`PolicyEngine`] implements `aarmor-mediation`'s `ActionEngine` — it
//! decides each canonical action (identity, context, policy, approvals, deferral) and signs a
//! receipt for every decision and outcome.
//!
//! The engine is handed actions and observations, never the data plane's connections; the
//! connections it opens are its own (SIEM sinks, approval webhooks, the receipt store). The
//! data plane refuses an action the engine fails or times out on (fail closed): the engine only
//! has to say what it decided.

pub mod approvals;
pub mod cluster;
pub mod context;
pub mod credentials;
pub mod data_classes;
mod group_commit;
pub mod http_client;
pub mod identity;
pub mod intent;
pub mod overview;
pub mod policy;
pub mod policy_engine;
pub mod receipts;
pub mod retention;
pub mod settings;
pub mod telemetry;
pub mod tls;

#[cfg(test)]
/// The repository root of the checkout under test. Cargo sets `CARGO_MANIFEST_DIR` when it runs
/// tests; the value compiled in may name another checkout that shared the build directory.
pub(crate) fn repo_root() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .join("../..")
}

pub use approvals::{ApprovalAnswer, ApprovalError, ApprovalRequest, Approvals};
pub use policy_engine::PolicyEngine;
pub use settings::{
    ApprovalSettings, ContextSettings, EnforcementSettings, IntentSettings, PolicySettings,
    ReceiptSettings, RetentionMode, RetentionSettings,
};
