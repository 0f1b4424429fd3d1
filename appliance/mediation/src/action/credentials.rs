//! Brokered credentials on the data path (AARM R9): the placeholder a request carries is bound
//! to its action before the decision; once allowed, the real secret (or a token minted for the
//! action) is set in the request, the placeholder headers removed; what the upstream answers is
//! scrubbed of the secret; and a secret or minted token an agent sends is refused.

use aarmor_core::credential::SentRequest;
use std::sync::Arc;

use aarmor_core::{Action, RequestHead, RiskSignal, SyntheticResponse};
use aho_corasick::AhoCorasick;
use bytes::Bytes;
use serde_json::Value;

use crate::seam::BodyVerdict;
use crate::ActionEngine;

use super::ActionInspector;

/// Where in the request a leak was found, and what leaked.
pub(super) type Leak = (String, String);

/// Looks for a brokered secret or minted token in a request head: every header value
/// (credential headers included) and the target.
pub(super) fn head_leak(engine: &Arc<dyn ActionEngine>, req: &RequestHead) -> Option<Leak> {
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
        let found = self.leak.clone().or_else(|| {
            let params = serde_json::to_vec(&Value::Object(action.parameters.clone())).ok()?;
            let envelope = serde_json::to_vec(&Value::Object(action.envelope.clone())).ok()?;
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
                let name = action.credential.as_ref().map(|c| c.name.clone());
                let own: Vec<(String, String)> = attachment
                    .scrub
                    .iter()
                    .map(|form| (form.clone(), name.clone().unwrap_or_default()))
                    .collect();
                self.scrub_forms = Some(match self.scrub_forms.take() {
                    Some(known) => known.iter().cloned().chain(own).collect(),
                    None => Arc::from(own),
                });
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

/// 503 for an allowed request whose credential could not be attached.
pub(super) fn credential_problem(why: &str) -> SyntheticResponse {
    SyntheticResponse::problem(
        503,
        "credential-unavailable",
        "Refused: the brokered credential cannot be attached",
        &format!("{why}; the request was not sent"),
    )
}

/// Replaces brokered secrets in what the upstream answers with the credential's placeholder
/// (`aarmor:<name>`), across chunk boundaries: the last bytes of a chunk that could begin a
/// secret are held back until the next chunk (or the end).
pub(super) struct Scrubber {
    automaton: AhoCorasick,
    /// The placeholder of each pattern's credential.
    replacements: Vec<Vec<u8>>,
    /// Longest pattern, bytes.
    longest: usize,
    /// The patterns, ASCII lower-case, to tell whether a chunk ends inside one.
    lowered: Vec<Vec<u8>>,
    /// Which bytes (lower-case) begin a pattern.
    first: [bool; 256],
    held: Vec<u8>,
    /// The stream ended: nothing more is held back.
    ended: bool,
    /// Secrets replaced so far.
    pub(super) replaced: usize,
}

impl Scrubber {
    /// A scrubber for `(form, credential name)` patterns (ASCII case ignored); `None` for none.
    pub(super) fn new(patterns: &[(String, String)]) -> Option<Self> {
        let patterns: Vec<&(String, String)> =
            patterns.iter().filter(|(f, _)| !f.is_empty()).collect();
        let longest = patterns.iter().map(|(f, _)| f.len()).max()?;
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(patterns.iter().map(|(f, _)| f))
            .ok()?;
        let lowered: Vec<Vec<u8>> = patterns
            .iter()
            .map(|(f, _)| f.to_ascii_lowercase().into_bytes())
            .collect();
        let mut first = [false; 256];
        for p in &lowered {
            if let Some(b) = p.first() {
                first[*b as usize] = true;
            }
        }
        Some(Self {
            automaton,
            replacements: patterns
                .iter()
                .map(|(_, name)| format!("aarmor:{name}").into_bytes())
                .collect(),
            longest,
            lowered,
            first,
            held: Vec::new(),
            ended: false,
            replaced: 0,
        })
    }

    /// Replaces every secret in `bytes` (a whole value: nothing is held).
    pub(super) fn whole(&mut self, bytes: &[u8]) -> Option<Vec<u8>> {
        self.automaton.find(bytes)?;
        let mut out = Vec::with_capacity(bytes.len());
        let replacements = &self.replacements;
        self.automaton
            .replace_all_with_bytes(bytes, &mut out, |m, _, dst| {
                if let Some(r) = replacements.get(m.pattern().as_usize()) {
                    dst.extend_from_slice(r);
                }
                true
            });
        self.replaced += 1;
        Some(out)
    }

    /// The part of the stream that can go out now, secrets replaced. After the end, all of it.
    pub(super) fn push(&mut self, chunk: &[u8]) -> Bytes {
        if self.ended {
            return match self.whole(chunk) {
                Some(replaced) => Bytes::from(replaced),
                None => Bytes::copy_from_slice(chunk),
            };
        }
        self.held.extend_from_slice(chunk);
        let data = std::mem::take(&mut self.held);
        // Everything before `safe` can go; from it on, the data is the beginning of a secret
        // that the next chunk may complete. (A secret starting earlier would be whole in `data`.)
        let mut safe = self.partial_start(&data);
        let mut out = Vec::with_capacity(data.len());
        let mut at = 0;
        for m in self.automaton.find_iter(&data) {
            if m.start() >= safe {
                break;
            }
            out.extend_from_slice(&data[at..m.start()]);
            if let Some(r) = self.replacements.get(m.pattern().as_usize()) {
                out.extend_from_slice(r);
            }
            self.replaced += 1;
            at = m.end();
            safe = safe.max(at);
        }
        let safe = safe.max(at);
        out.extend_from_slice(&data[at..safe]);
        self.held = data[safe..].to_vec();
        Bytes::from(out)
    }

    /// Where the shortest suffix of `data` that is a proper prefix of a pattern begins (the
    /// bytes to hold back); `data.len()` when none is.
    fn partial_start(&self, data: &[u8]) -> usize {
        let from = data.len().saturating_sub(self.longest.saturating_sub(1));
        for start in from..data.len() {
            let Some(b) = data.get(start) else { break };
            if !self.first[b.to_ascii_lowercase() as usize] {
                continue;
            }
            let rest = &data[start..];
            let begins_one = self
                .lowered
                .iter()
                .any(|p| p.len() > rest.len() && p[..rest.len()].eq_ignore_ascii_case(rest));
            if begins_one {
                return start;
            }
        }
        data.len()
    }

    /// The end of the stream: what was held back, secrets replaced.
    pub(super) fn finish(&mut self) -> Bytes {
        self.ended = true;
        let rest = std::mem::take(&mut self.held);
        match self.whole(&rest) {
            Some(replaced) => Bytes::from(replaced),
            None => Bytes::from(rest),
        }
    }
}

impl ActionInspector {
    /// Builds the response scrubber once the response is about to be read: every secret when a
    /// credential is bound to the host, plus the forms of what was attached to this request.
    pub(super) fn arm_scrubber(&mut self) {
        if self.scrubber.is_none() {
            if let Some(forms) = &self.scrub_forms {
                self.scrubber = Scrubber::new(forms);
            }
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
        let Some(scrubber) = self.scrubber.as_mut() else {
            return Some(frames);
        };
        match m.as_text() {
            Some(text) => Some(match scrubber.whole(text.as_bytes()) {
                Some(clean) => {
                    aarmor_protocols::websocket::text_frame(&String::from_utf8_lossy(&clean))
                }
                None => frames,
            }),
            None => scrubber.whole(&m.payload).is_none().then_some(frames),
        }
    }

    /// The whole body of a held response, scrubbed; `None` when nothing had to be.
    pub(super) fn scrubbed_whole(&mut self, body: &[u8]) -> Option<Bytes> {
        self.scrubber.as_mut()?.whole(body).map(Bytes::from)
    }

    /// A response header value, scrubbed; `None` when nothing had to be.
    pub(super) fn scrubbed_header(&mut self, value: &[u8]) -> Option<Vec<u8>> {
        self.scrubber.as_mut()?.whole(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubber(secret: &str) -> Scrubber {
        Scrubber::new(&[(secret.to_string(), "c".to_string())]).unwrap()
    }

    #[test]
    fn a_secret_split_across_chunks_is_replaced() {
        let text = b"head SECRET-VALUE-123 mid SECRET-VALUE-123 tail";
        for split in 0..text.len() {
            let mut s = scrubber("SECRET-VALUE-123");
            let mut out = Vec::new();
            out.extend_from_slice(&s.push(&text[..split]));
            out.extend_from_slice(&s.push(&text[split..]));
            out.extend_from_slice(&s.finish());
            assert_eq!(out, b"head aarmor:c mid aarmor:c tail", "split at {split}");
        }
        let mut s = scrubber("SECRET-VALUE-123");
        assert_eq!(s.whole(b"no secret"), None);
        assert_eq!(
            s.whole(b"x secret-value-123").as_deref(),
            Some(&b"x aarmor:c"[..])
        );
        let mut bytes = Vec::new();
        for b in text {
            bytes.extend_from_slice(&s.push(&[*b]));
        }
        bytes.extend_from_slice(&s.finish());
        assert_eq!(bytes, b"head aarmor:c mid aarmor:c tail");
        // Only what could begin a secret is held back: an event ending in other text goes out
        // whole at once.
        let mut s = scrubber("SECRET-VALUE-123");
        assert_eq!(
            &s.push(b"data: {\"x\": 1}\n\n")[..],
            b"data: {\"x\": 1}\n\n"
        );
        assert_eq!(&s.push(b"data: SECR")[..], b"data: ");
        assert_eq!(&s.push(b"ET-VALUE-123!")[..], b"aarmor:c!");
    }
}
