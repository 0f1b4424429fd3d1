//! The engine's entry points for the data plane: `mediate` an action, `observe` what is not one.

use aarmor_core::{Action, Observation, Verdict};
use async_trait::async_trait;

use crate::mediator::MediationError;

/// Decides on canonical actions. The data plane bounds `mediate` with its decision timeout and
/// any hold with the hold limit; an error, a timeout or an unresolved hold refuses the action.
#[async_trait]
pub trait ActionEngine: Send + Sync + 'static {
    /// Short name for logs and metrics.
    fn name(&self) -> &'static str;

    async fn mediate(&self, action: &Action) -> Result<Verdict, MediationError>;

    /// Records observations (session context). Must not block the data path for long; the data
    /// plane does not wait for it on the critical path of an action.
    async fn observe(&self, _observations: Vec<Observation>) {}

    /// Records what happened when an allowed action ran: `execution` holds the upstream status,
    /// `success`, `output_hash` and `bytes`. Called after the response reached the agent.
    async fn record_outcome(&self, _action: &Action, _execution: serde_json::Value) {}
}
