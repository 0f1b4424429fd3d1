//! LLM API requests (an action on the whole conversation) and the stream gate that holds their
//! proposed tool calls until decided.

use aarmor_core::{Denial, FinalVerdict, ObservationKind};
use aarmor_protocols::body::BodyRead;
use aarmor_protocols::gate::GateOutput;
use aarmor_protocols::llm::LlmDialect;
use bytes::Bytes;
use serde_json::Value;

use crate::seam::{BodyVerdict, RequestEdit};

use super::problems::{denied_problem, unrecorded_problem};
use super::{ActionInspector, Kind, ResponseHandling};

impl ActionInspector {
    /// An LLM API request: itself an action (`llm.<provider>` / `request`) on its whole body.
    /// Its conversation is recorded once it is allowed, so a refused request cannot plant text
    /// in the session; its response is gated (proposed tool calls are actions).
    pub(super) async fn llm_body(&mut self, dialect: LlmDialect, body: &Bytes) -> BodyVerdict {
        let read = match self.read_body(body).await {
            Ok(r) => r,
            Err(refusal) => return BodyVerdict::Respond(refusal),
        };
        let BodyRead::Json(json) = read else {
            // Not a conversation: judged as the REST request it is.
            self.kind = Kind::Rest;
            return self.rest_read(read, body.len()).await;
        };
        self.llm_stream = json.get("stream").and_then(Value::as_bool) == Some(true);
        let observed = dialect.observe_request(&json);
        let text_of = |kind| {
            observed
                .iter()
                .find(|o| o.kind == kind)
                .and_then(|o| o.content.as_str())
        };
        let conversation = text_of(ObservationKind::UserMessage)
            .map(|user| (text_of(ObservationKind::SystemPrompt).unwrap_or(""), user));
        let agent = self.agent();
        self.session = Some(
            self.shared
                .engine
                .attribute(&agent, self.explicit_session(), conversation)
                .await,
        );
        let draft = dialect.request_draft(json, &self.exchange.request.path);
        let mut action = self.request_action(draft);
        match self.decide_request_action(&mut action).await {
            FinalVerdict::Allow => {
                self.response = ResponseHandling::LlmCalls;
                match self.observe(dialect.protocol(), observed).await {
                    Ok(()) => BodyVerdict::Forward,
                    Err(why) => BodyVerdict::Respond(unrecorded_problem(&why)),
                }
            }
            FinalVerdict::Deny(d) => BodyVerdict::Respond(denied_problem(&action, &d)),
            FinalVerdict::Modify(m) => {
                let new_body = m.parameters.get("body").cloned().unwrap_or(Value::Null);
                match serde_json::to_vec(&new_body) {
                    Ok(bytes) if new_body.is_object() => {
                        self.response = ResponseHandling::LlmCalls;
                        let seen = dialect.observe_request(&new_body);
                        match self.observe(dialect.protocol(), seen).await {
                            Ok(()) => BodyVerdict::Edit(RequestEdit {
                                path: None,
                                body: Some(Bytes::from(bytes)),
                            }),
                            Err(why) => BodyVerdict::Respond(unrecorded_problem(&why)),
                        }
                    }
                    _ => BodyVerdict::Respond(denied_problem(&action, &Denial { rule: m.rule, reason: "the request had to be rewritten but the new body is not a JSON object; refused".into() })),
                }
            }
        }
    }

    /// Takes the bytes of a gate output that may go out now and keeps its held calls.
    pub(super) fn take_output(&mut self, mut out: GateOutput) -> Bytes {
        self.held_calls = std::mem::take(&mut out.pending);
        Bytes::from(out.emit)
    }
}
