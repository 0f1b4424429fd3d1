//! The mediation engine: the [`Mediator`] seam the data plane calls on every exchange, the
//! [`ActionEngine`] that decides on canonical actions, and their implementations.
//!
//! The engine never sees the data plane's sockets: it is handed requests and responses, not
//! connections (its own outbound traffic — SIEM sinks, approval webhooks — it opens
//! itself). The data plane guarantees that a mediator error or timeout refuses the exchange
//! (fail closed); mediators only have to say what they decided.

pub mod action_engine;
pub mod allow_all;
pub mod approvals;
pub mod classify;
mod commit_pace;
pub mod context;
pub mod identity;
pub mod intent;
pub mod mediator;
pub mod policy;
pub mod policy_engine;
pub mod receipts;
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

pub use action_engine::ActionEngine;
pub use allow_all::AllowAllMediator;
pub use approvals::{ApprovalAnswer, ApprovalError, ApprovalRequest, Approvals};
pub use mediator::{
    BodyVerdict, Direction, Exchange, ExchangeInspector, ExchangeOutcome, HeadVerdict,
    HeaderRewrite, MediationError, Mediator, Relayed, RequestEdit, ResponsePlan, ResponseVerdict,
};
pub use policy_engine::PolicyEngine;
pub use settings::{
    ApprovalSettings, ContextSettings, EnforcementSettings, IntentSettings, PolicySettings,
    ReceiptSettings,
};
