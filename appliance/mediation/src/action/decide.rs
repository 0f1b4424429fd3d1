//! Deciding one action: who acts and in which session, the action built from a draft with a
//! fresh id, the engine asked within its deadline (any failure is a denial), and what the
//! exchange showed recorded as observations.

use std::time::Instant;

use aarmor_core::session::SESSION_HEADER;
use aarmor_core::{
    Action, ActionId, Denial, FinalVerdict, Identity, Observation, ObservationKind, Protocol,
    SessionRef,
};
use aarmor_protocols::llm::Rendered;
use aarmor_protocols::{ActionDraft, Observed};
use serde_json::Value;

use super::mcp::mcp_result_text;
use super::{ActionInspector, Kind};

impl ActionInspector {
    /// The agent acting, as identity binding named it.
    pub(super) fn agent(&self) -> String {
        self.identity
            .agent
            .clone()
            .unwrap_or_else(|| "unknown".into())
    }

    pub(super) fn explicit_session(&self) -> Option<&str> {
        self.exchange.request.headers.get_str(SESSION_HEADER)
    }

    /// The exchange's session: attributed once, from the header or the agent's active session
    /// (LLM requests attribute theirs from the conversation first, in `on_request_body`).
    pub(super) async fn session(&mut self) -> SessionRef {
        let agent = self.agent();
        let id = match &self.session {
            Some(s) => s.clone(),
            None => {
                let s = self
                    .shared
                    .engine
                    .attribute(&agent, self.explicit_session(), None)
                    .await;
                self.session = Some(s.clone());
                s
            }
        };
        SessionRef { id, agent }
    }

    /// The action of the request itself (not of a tool call in its response): its envelope
    /// carries the request's headers besides credentials and framing, which leave with it.
    /// A brokered secret or minted token the request carries refuses it (see `credentials`).
    pub(super) fn request_action(&self, mut draft: ActionDraft) -> Action {
        let headers = self.envelope_headers();
        if !headers.is_empty() {
            draft
                .envelope
                .insert("headers".into(), Value::Object(headers));
        }
        let mut action = self.action(draft);
        self.flag_leaks(&mut action);
        action
    }

    /// Request headers policy may scan: all but credentials (never copied into a receipt),
    /// aarmor's own, and those that only frame the message.
    pub(super) fn envelope_headers(&self) -> serde_json::Map<String, Value> {
        const SKIPPED: &[&str] = &[
            "authorization",
            "proxy-authorization",
            "cookie",
            "x-api-key",
            "api-key",
            "host",
            "content-length",
            "content-type",
            "content-encoding",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "te",
            "trailer",
            "upgrade",
            "expect",
            "accept",
            "accept-encoding",
            "accept-language",
        ];
        let private = self.shared.engine.private_headers();
        let mut out = serde_json::Map::new();
        for (name, value) in self.exchange.request.headers.iter() {
            let lower = name.to_ascii_lowercase();
            if SKIPPED.contains(&lower.as_str())
                || lower.starts_with("x-aarm-")
                || lower.starts_with("proxy-")
                || private.iter().any(|p| p.eq_ignore_ascii_case(&lower))
            {
                continue;
            }
            let value = Value::String(String::from_utf8_lossy(value).into_owned());
            match out.get_mut(&lower) {
                Some(Value::Array(values)) => values.push(value),
                Some(first) => *first = Value::Array(vec![first.take(), value]),
                None => {
                    out.insert(lower, value);
                }
            }
        }
        out
    }

    pub(super) fn action(&self, draft: ActionDraft) -> Action {
        let identity = Identity {
            session: self.session.as_ref().map(|s| s.0.clone()),
            ..self.identity.clone()
        };
        draft.into_action(
            ActionId::fresh(),
            aarmor_core::timestamp::now_rfc3339_millis(),
            self.target(),
            identity,
        )
    }

    /// Asks the engine about one action, bounded in time, holds settled. Never fails: every
    /// failure is a denial.
    pub(super) async fn decide(&self, action: &Action) -> FinalVerdict {
        let started = Instant::now();
        let shared = &self.shared;
        let verdict = match tokio::time::timeout(
            shared.decision_timeout,
            shared.engine.mediate(action),
        )
        .await
        {
            Ok(Ok(v)) => v.settle(shared.max_hold, tokio::time::sleep).await,
            Ok(Err(e)) => {
                shared
                    .metrics
                    .failures
                    .with_label_values(&["engine_error"])
                    .inc();
                tracing::warn!(action = %action.action_id, engine = shared.engine.name(), error = %e, "engine failed; denying (fail closed)");
                FinalVerdict::Deny(Denial {
                    rule: None,
                    reason: format!("the policy engine failed ({e}); refused"),
                })
            }
            Err(_) => {
                shared
                    .metrics
                    .failures
                    .with_label_values(&["engine_timeout"])
                    .inc();
                tracing::warn!(action = %action.action_id, engine = shared.engine.name(), timeout_ms = shared.decision_timeout.as_millis() as u64, "engine did not decide in time; denying (fail closed)");
                FinalVerdict::Deny(Denial {
                    rule: None,
                    reason: format!(
                        "no decision within {} ms; refused",
                        shared.decision_timeout.as_millis()
                    ),
                })
            }
        };
        let label = match &verdict {
            FinalVerdict::Allow => "allow",
            FinalVerdict::Deny(_) => "deny",
            FinalVerdict::Modify(_) => "modify",
        };
        shared
            .metrics
            .actions
            .with_label_values(&[action.protocol.as_str(), label])
            .inc();
        shared
            .metrics
            .decision_duration
            .observe(started.elapsed().as_secs_f64());
        match &verdict {
            FinalVerdict::Deny(d) => {
                tracing::info!(action = %action.action_id, protocol = action.protocol.as_str(), tool = %action.tool, operation = %action.operation, rule = ?d.rule, reason = %d.reason, "action denied")
            }
            _ => {
                tracing::info!(action = %action.action_id, protocol = action.protocol.as_str(), tool = %action.tool, operation = %action.operation, decision = label, "action decided")
            }
        }
        verdict
    }

    /// Decides an action carried by the request, the brokered credential it names (or a
    /// binding attaches) bound to it first; one allowed to run is remembered for its outcome
    /// record (and its credential attached, see `credentials`).
    pub(super) async fn decide_request_action(&mut self, action: &mut Action) -> FinalVerdict {
        self.bind_credential(action).await;
        let verdict = self.decide(action).await;
        if !matches!(verdict, FinalVerdict::Deny(_)) {
            self.executed.push(action.clone());
        }
        verdict
    }

    /// Decides proposed tool calls (LLM responses), concurrently, and renders the outcomes.
    pub(super) async fn decide_calls(&self, drafts: Vec<ActionDraft>) -> Vec<Rendered> {
        let template = &self.shared.protocols.deny_template;
        let decisions = drafts.into_iter().map(|draft| async move {
            let action = self.action(draft.clone());
            let verdict = self.decide(&action).await;
            Rendered::from_verdict(&verdict, &draft, template)
        });
        join_all(decisions).await
    }

    /// Records what the exchange showed; `Err` (see [`ActionEngine::observe`]) when it could not
    /// be recorded where every decision sees it.
    pub(super) async fn observe(
        &mut self,
        protocol: Protocol,
        mut observed: Vec<Observed>,
    ) -> Result<(), String> {
        if observed.is_empty() {
            return Ok(());
        }
        let session = self.session().await;
        // A result is tied to the action that produced it when the exchange ran exactly one.
        let result_of = match self.executed.as_slice() {
            [one] => Some(one.action_id.clone()),
            _ => None,
        };
        if protocol == Protocol::Mcp {
            // MCP tools are actions as `server.tool`: declare them under the same names.
            let server = self
                .shared
                .protocols
                .mcp_server_name(&self.exchange.request);
            for o in observed.iter_mut() {
                if o.kind != aarmor_core::ObservationKind::ToolDeclarations {
                    continue;
                }
                if let Some(tools) = o.content.as_array_mut() {
                    for tool in tools.iter_mut() {
                        if let Some(name) = tool.get("name").and_then(Value::as_str) {
                            let qualified = format!("{server}.{name}");
                            tool["name"] = Value::String(qualified);
                        }
                    }
                }
            }
        }
        let target = self.target();
        let observations: Vec<Observation> = observed
            .into_iter()
            .map(|o| {
                let kind = serde_json::to_value(o.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                self.shared
                    .metrics
                    .observations
                    .with_label_values(&[&kind])
                    .inc();
                let is_result = o.kind == ObservationKind::ActionResult;
                let content = if is_result && protocol == Protocol::Mcp {
                    Value::String(mcp_result_text(&o.content))
                } else {
                    o.content
                };
                Observation {
                    protocol,
                    target: target.clone(),
                    kind: o.kind,
                    content,
                    action_id: if is_result { result_of.clone() } else { None },
                    call: o.call,
                }
            })
            .collect();
        self.shared.engine.observe(&session, observations).await
    }

    /// Records what an executed SQL statement, REST call or MCP message returned (classified as
    /// an executed action's result). An empty body returned nothing.
    pub(super) async fn observe_result(&mut self, copy: &[u8]) {
        if copy.is_empty() {
            return;
        }
        let protocol = match self.kind {
            Kind::Sql(_) => Protocol::Sql,
            Kind::Mcp => Protocol::Mcp,
            _ => Protocol::Rest,
        };
        let text = String::from_utf8_lossy(copy).into_owned();
        // The agent has the result already: a failure to share it is logged by the engine, and
        // the session's next decision is refused until it is shared.
        let _ = self
            .observe(
                protocol,
                vec![Observed::new(
                    ObservationKind::ActionResult,
                    Value::String(text),
                )],
            )
            .await;
    }
}

/// Awaits futures concurrently, results in input order (std only; the set is small).
pub(super) async fn join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut results: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, result) in futures.iter_mut().zip(results.iter_mut()) {
            if let Some(f) = slot.as_mut() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}
