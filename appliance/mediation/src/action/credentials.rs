//! Brokered credentials on the data path (AARM R9): the placeholder a request carries is bound
//! to its action before the decision; once allowed, the real secret (or a token minted for the
//! action) is set in the request, the placeholder headers removed; what the upstream answers is
//! scrubbed of the secret; and a secret or minted token an agent sends is refused.

use aarmor_core::credential::SentRequest;
use std::sync::Arc;

use aarmor_core::{Action, RequestHead, RiskSignal, SyntheticResponse};
use bytes::Bytes;

use crate::seam::BodyVerdict;
use crate::{ActionEngine, Scrubber};

use super::ActionInspector;

/// Where in the request a leak was found, and what leaked.
pub(super) type Leak = (String, String);

/// Looks for a brokered secret or minted token in a request head: every header value
/// (credential headers included) and the target.
pub(super) fn head_leak(engine: &Arc<dyn ActionEngine>, req: &RequestHead) -> Option<Leak> {
    if !engine.holds_secrets() {
        return None;
    }
    if let Some(c) = engine.credential_leak(req.path.as_bytes()) {
        return Some((c, "url".into()));
    }
    req.headers.iter().find_map(|(name, value)| {
        engine
            .credential_leak(value)
            .map(|c| (c, format!("header {name}")))
    })
}

impl ActionInspector {
    /// Adds the leak signal to an action of this request: found in its head, its body, or its
    /// parameters (read as the upstream reads them: JSON unescaped, forms decoded).
    pub(super) fn flag_leaks(&self, action: &mut Action) {
        let engine = &self.shared.engine;
        if !engine.holds_secrets() {
            return;
        }
        let found = self.leak.clone().or_else(|| {
            let params = serde_json::to_vec(&action.parameters).ok()?;
            let envelope = serde_json::to_vec(&action.envelope).ok()?;
            engine
                .credential_leak(&params)
                .or_else(|| engine.credential_leak(&envelope))
                .map(|c| (c, "parameters".to_string()))
        });
        if let Some((credential, location)) = found {
            action.risk_signals.push(RiskSignal::CredentialLeak {
                credential,
                location,
            });
        }
    }

    /// Binds the credential this request asks for (or a binding attaches) to its action.
    pub(super) async fn bind_credential(&self, action: &mut Action) {
        self.shared
            .engine
            .bind_credential(action, self.ask.clone(), self.exchange.request.scheme)
            .await;
    }

    /// After the request's actions were decided: when one allowed to run uses a brokered
    /// credential, its header is attached for the request as it will be sent. A credential that
    /// cannot be attached refuses the request (nothing is sent).
    pub(super) async fn attach_credential(
        &mut self,
        verdict: BodyVerdict,
        body: &Bytes,
    ) -> BodyVerdict {
        if self.attachment.is_some() {
            // Attached already (an upgrade decided from the body's phase).
            return verdict;
        }
        let (path, sent_body) = match &verdict {
            BodyVerdict::Respond(_) => return verdict,
            BodyVerdict::Forward => (self.exchange.request.path.clone(), body.clone()),
            BodyVerdict::Edit(e) => (
                e.path
                    .clone()
                    .unwrap_or_else(|| self.exchange.request.path.clone()),
                e.body.clone().unwrap_or_else(|| body.clone()),
            ),
        };
        let using: Vec<&Action> = self
            .executed
            .iter()
            .filter(|a| a.credential.is_some())
            .collect();
        let action = match using.as_slice() {
            [] => return verdict,
            [one] => (*one).clone(),
            [first, ..]
                if first
                    .credential
                    .as_ref()
                    .is_some_and(|c| c.source == "minted") =>
            {
                return BodyVerdict::Respond(credential_problem(
                    "a minted credential names one action; this request carries several (send the calls one by one)",
                ));
            }
            [first, ..] => (*first).clone(),
        };
        let sent = SentRequest {
            path: &path,
            body: &sent_body,
        };
        match self.shared.engine.attach_credential(&action, sent).await {
            Ok(attachment) => {
                // Its host is bound, so the response is scrubbed of it (`arm_scrubber`).
                self.scrubs = true;
                self.attachment = Some(attachment);
                verdict
            }
            Err(why) => {
                tracing::warn!(action = %action.action_id, error = %why, "cannot attach the brokered credential; refused");
                BodyVerdict::Respond(credential_problem(&why))
            }
        }
    }
}

/// The close frame that ends an upgraded connection whose upstream sent a brokered credential.
pub(super) fn echoed_credential_close() -> Vec<u8> {
    super::ws_frames::refusal_close("the upstream sent a brokered credential")
}

/// 503 for an allowed request whose credential could not be attached.
pub(super) fn credential_problem(why: &str) -> SyntheticResponse {
    SyntheticResponse::problem(
        503,
        "credential-unavailable",
        "Refused: the brokered credential cannot be attached",
        &format!("{why}; the request was not sent"),
    )
}

impl ActionInspector {
    /// Builds the response scrubber once the response is about to be read, when a credential is
    /// bound to the host: every form of every brokered secret (what was attached included) and
    /// the markers of minted tokens, as the engine holds them now.
    pub(super) fn arm_scrubber(&mut self) {
        if self.scrubs && self.scrubber.is_none() {
            self.scrubber = self.shared.engine.response_scrub().map(Scrubber::new);
        }
    }

    /// Bytes of the response on their way to the agent, scrubbed of brokered secrets;
    /// `last` flushes what was held back.
    pub(super) fn scrubbed(&mut self, bytes: Bytes, last: bool) -> Bytes {
        let Some(s) = self.scrubber.as_mut() else {
            return bytes;
        };
        let mut out = s.push(&bytes).to_vec();
        if last {
            out.extend_from_slice(&s.finish());
        }
        Bytes::from(out)
    }

    /// A message of an upgraded connection on its way to the agent (`frames`, as relayed):
    /// a text message is sent with brokered secrets replaced; a binary one that carries one is
    /// not sent (`None`: the connection is closed).
    pub(super) fn scrubbed_message(
        &mut self,
        m: &aarmor_protocols::websocket::WsMessage,
        frames: Vec<u8>,
    ) -> Option<Vec<u8>> {
        let Some(scrubber) = self.scrubber.as_ref() else {
            return Some(frames);
        };
        match m.as_text() {
            Some(text) => Some(match scrubber.whole(text.as_bytes()) {
                Some(clean) => {
                    aarmor_protocols::websocket::text_frame(&String::from_utf8_lossy(&clean))
                }
                None => frames,
            }),
            None => (!scrubber.finds(&m.payload)).then_some(frames),
        }
    }

    /// A control frame of an upgraded connection on its way to the agent (a close reason, a
    /// ping's payload): `false` when it carries a brokered secret (it is not sent; the
    /// connection is closed).
    pub(super) fn control_frame_passes(&self, raw: &[u8]) -> bool {
        self.scrubber.as_ref().is_none_or(|s| !s.finds(raw))
    }

    /// The whole body of a held response, scrubbed; `None` when nothing had to be.
    pub(super) fn scrubbed_whole(&mut self, body: &[u8]) -> Option<Bytes> {
        self.scrubber.as_ref()?.whole(body).map(Bytes::from)
    }

    /// A response header value (or name, or the status line's reason), scrubbed; `None` when
    /// nothing had to be.
    pub(super) fn scrubbed_header(&mut self, value: &[u8]) -> Option<Vec<u8>> {
        self.scrubber.as_ref()?.whole(value)
    }
}
