//! What the engine records in a session about its actions: decisions, how held actions were
//! resolved, what executed actions returned, and the tools the agent declared.

use aarmor_core::receipt_records::Execution;
use aarmor_core::SessionId;

use super::entries::data_of;
use super::{ActionRecord, ContextStore, EntryKind, OutcomeRecord, PriorAction, ResolutionRecord};

impl ContextStore {
    /// Counts tool declarations learned for the session.
    pub fn tools_declared(&self, session: &SessionId, agent: &str, learned: usize) {
        self.with_session(session, agent, |app| {
            app.state.tools_declared += learned as u64;
        });
    }

    /// Records a decision on an action of the session.
    pub fn record_decision(
        &self,
        session: &SessionId,
        agent: &str,
        action: &aarmor_core::Action,
        decision: &str,
        rule: Option<&str>,
        enforced: bool,
    ) {
        self.with_session(session, agent, |app| {
            // Only an executed MCP, REST or SQL action's result comes back tied to the action
            // (`ActionResult`); an LLM tool call's result comes back as a tool message that
            // names its call, and is judged from that call's arguments.
            let executed = !action.protocol.is_llm();
            let steered = executed && app.state.steers_params(&action.parameters);
            let pointed = executed && app.state.points_at_params(&action.parameters);
            app.state.add_action(PriorAction {
                action_id: action.action_id.0.clone(),
                tool: action.tool.clone(),
                operation: action.operation.clone(),
                decision: decision.to_string(),
                steered,
                pointed,
                classes: Default::default(),
                success: None,
            });
            let record = ActionRecord {
                action_id: action.action_id.0.clone(),
                tool: action.tool.clone(),
                operation: action.operation.clone(),
                decision: decision.to_string(),
                rule: rule.map(str::to_string),
                enforced,
                steered,
                pointed,
            };
            app.append(EntryKind::Action, data_of(&record));
        });
    }

    /// Records how a held (STEP_UP, DEFER) action was finally decided.
    pub fn record_resolution(
        &self,
        session: &SessionId,
        agent: &str,
        action: &aarmor_core::Action,
        decision: &str,
        rule: Option<&str>,
    ) {
        self.with_session(session, agent, |app| {
            if let Some(a) = app.state.prior_action_mut(&action.action_id.0) {
                a.decision = decision.to_string();
            }
            let record = ResolutionRecord {
                action_id: action.action_id.0.clone(),
                decision: decision.to_string(),
                rule: rule.map(str::to_string),
            };
            app.append(EntryKind::Resolution, data_of(&record));
        });
    }

    /// Records what an action that ran returned.
    pub fn record_outcome(
        &self,
        session: &SessionId,
        agent: &str,
        action_id: &str,
        execution: &Execution,
    ) {
        self.with_session(session, agent, |app| {
            if let Some(a) = app.state.prior_action_mut(action_id) {
                a.success = Some(execution.success);
            }
            let record = OutcomeRecord {
                action_id: action_id.to_string(),
                execution: execution.clone(),
            };
            app.append(EntryKind::Outcome, data_of(&record));
        });
    }
}
