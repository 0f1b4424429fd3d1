//! What aarmor answers instead of the upstream: problem responses that name the refused action
//! and rule, the headers only aarmor reads, and why a response cannot be read.

use std::sync::Arc;

use aarmor_core::{
    Action, Denial, FinalVerdict, Protocol, ResponseHead, RiskSignal, SyntheticResponse,
};
use aarmor_protocols::{rest, ActionDraft};
use serde_json::Value;

use crate::ActionEngine;

use super::{ActionInspector, Kind};

/// Headers only aarmor and the agent platform speak (`x-aarm-*`, and the identity headers the
/// engine names): the ones present, to remove before the request goes upstream.
pub(super) fn aarmor_headers(
    request: &aarmor_core::RequestHead,
    engine: &Arc<dyn ActionEngine>,
) -> Vec<String> {
    let private = engine.private_headers();
    let mut names: Vec<String> = request
        .headers
        .iter()
        .filter(|(n, _)| {
            (n.len() >= 7 && n[..7].eq_ignore_ascii_case("x-aarm-"))
                || private.iter().any(|p| p.eq_ignore_ascii_case(n))
        })
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    names
}

pub(super) fn is_event_stream(head: &ResponseHead) -> bool {
    head.headers
        .get_str("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/event-stream"))
}

pub(super) fn is_encoded(head: &ResponseHead) -> bool {
    head.headers.all("content-encoding").any(|e| {
        let e = String::from_utf8_lossy(e);
        e.split(',')
            .any(|c| !c.trim().is_empty() && !c.trim().eq_ignore_ascii_case("identity"))
    })
}

/// Why an LLM response cannot be read the way the client will read it, if it cannot.
pub(super) fn unreadable_llm_response(head: &ResponseHead) -> Option<String> {
    if head.headers.count("content-type") > 1 {
        return Some("the response has more than one Content-Type header".into());
    }
    if is_encoded(head) {
        return Some(format!(
            "the response is encoded ({}) although an uncompressed one was requested",
            head.headers.get_str("content-encoding").unwrap_or("?")
        ));
    }
    None
}

/// 503 for an exchange whose observations could not be recorded where every decision sees them
/// (a cluster replica cut off from the shared store): it does not go on (fail closed).
pub(super) fn unrecorded_problem(why: &str) -> SyntheticResponse {
    SyntheticResponse::problem(
        503,
        "context-unavailable",
        "Refused: context store unavailable",
        &format!("what this exchange showed could not be recorded in the session's shared context ({why}); refused (fail closed)"),
    )
}

/// A problem response for a request refused with a decision, naming the action and rule.
pub(super) fn refusal_problem(
    status: u16,
    kind: &str,
    title: &str,
    detail: &str,
    action: &Action,
    rule: Option<String>,
) -> SyntheticResponse {
    let mut ext = serde_json::Map::new();
    ext.insert("action_id".into(), action.action_id.0.clone().into());
    ext.insert(
        "rule".into(),
        rule.map(Value::String).unwrap_or(Value::Null),
    );
    SyntheticResponse::problem_with(status, kind, title, detail, ext)
}

/// 403 for a denied request-side action (REST, SQL).
pub(super) fn denied_problem(action: &Action, denial: &Denial) -> SyntheticResponse {
    let mut ext = serde_json::Map::new();
    ext.insert("action_id".into(), action.action_id.0.clone().into());
    ext.insert("tool".into(), action.tool.clone().into());
    ext.insert("operation".into(), action.operation.clone().into());
    ext.insert(
        "rule".into(),
        denial
            .rule
            .clone()
            .map(Value::String)
            .unwrap_or(Value::Null),
    );
    ext.insert("reason".into(), denial.reason.clone().into());
    SyntheticResponse::problem_with(
        403,
        "action-denied",
        "Refused by aarmor policy",
        &denial.reason,
        ext,
    )
}

impl ActionInspector {
    /// Refuses a request whose body cannot be read the way its server may read it, with a
    /// decision and its receipt: the action carries an `uninspectable_body` signal, which the
    /// engine refuses whatever the policy says.
    pub(super) async fn refuse_unreadable(
        &mut self,
        status: u16,
        kind: &str,
        title: &str,
        reason: &str,
    ) -> SyntheticResponse {
        let req = &self.exchange.request;
        let mut parameters = serde_json::Map::new();
        parameters.insert("body".into(), Value::Null);
        parameters.insert("query".into(), Value::Object(rest::query_map(&req.path)));
        let (protocol, tool, operation) = match &self.kind {
            Kind::Llm(d) => (
                d.protocol(),
                format!("llm.{}", d.provider()),
                aarmor_protocols::llm::LLM_REQUEST_OPERATION.to_string(),
            ),
            _ => (
                Protocol::Rest,
                self.rest_tool(),
                req.method.to_ascii_lowercase(),
            ),
        };
        let draft = ActionDraft {
            envelope: Default::default(),
            protocol,
            tool,
            operation,
            parameters,
            risk_signals: vec![RiskSignal::UninspectableBody {
                reason: reason.to_string(),
            }],
        };
        self.session().await;
        let action = self.request_action(draft);
        let rule = match self.decide(&action).await {
            FinalVerdict::Deny(d) => d.rule,
            // The engine refuses such actions; the data plane refuses them in any case.
            _ => None,
        };
        refusal_problem(status, kind, title, reason, &action, rule)
    }
}
