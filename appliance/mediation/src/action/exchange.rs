//! The exchange's life as the data plane drives it (`ExchangeInspector`): header edits, the
//! request body, the response plan, the response whole, streamed or upgraded, and the outcome.

use aarmor_core::receipt_records::Execution;
use aarmor_core::{Protocol, ResponseHead, SyntheticResponse};
use aarmor_protocols::classify::{classify_body, BodyClass};
use aarmor_protocols::gate::StreamGate;
use aarmor_protocols::llm::Rendered;
use aarmor_protocols::mcp;
use aarmor_protocols::websocket::WsItem;
use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;

use crate::seam::{
    BodyVerdict, Direction, ExchangeInspector, ExchangeOutcome, HeadVerdict, HeaderRewrite,
    MediationError, Relayed, ResponsePlan, ResponseVerdict,
};

use super::credentials::echoed_credential_close;
use super::problems::{
    aarmor_headers, is_encoded, is_event_stream, unreadable_llm_response, unrecorded_problem,
};
use super::{ActionInspector, ClientMessage, Kind, ResponseHandling};

impl ActionInspector {
    /// Decides the actions the request body carries (by kind), before any credential is
    /// attached.
    async fn decide_body(&mut self, body: &Bytes) -> Result<BodyVerdict, MediationError> {
        match &self.kind {
            Kind::WebSocket(_) if !body.is_empty() => Ok(BodyVerdict::Respond(
                self.refuse_unreadable(
                    400,
                    "uninspectable-request",
                    "Refused: an upgrade request with a body",
                    "a WebSocket upgrade request carries a body, which servers read as WebSocket frames",
                )
                .await,
            )),
            Kind::WebSocket(_) => Ok(match self.decide_upgrade("websocket").await {
                HeadVerdict::Respond(refusal) => BodyVerdict::Respond(refusal),
                // Headers to drop are in `header_rewrite`.
                _ => BodyVerdict::Forward,
            }),
            Kind::Llm(dialect) => {
                let dialect = *dialect;
                Ok(self.llm_body(dialect, body).await)
            }
            Kind::Sql(ep) => {
                let ep = ep.clone();
                Ok(self.sql_body(&ep, body).await)
            }
            Kind::Undecided | Kind::Mcp | Kind::Rest => {
                match classify_body(&self.exchange.request, body) {
                    Ok(BodyClass::Mcp(req)) => {
                        self.kind = Kind::Mcp;
                        Ok(self.mcp_body(req).await)
                    }
                    Ok(BodyClass::Rest(read)) => {
                        self.kind = Kind::Rest;
                        Ok(self.rest_read(read, body.len()).await)
                    }
                    Err(e) => Ok(BodyVerdict::Respond(
                        self.refuse_unreadable(
                            415,
                            "uninspectable-request",
                            "Refused: the request body cannot be inspected",
                            &e.0,
                        )
                        .await,
                    )),
                }
            }
        }
    }

    /// The header edits of the exchange's kind: aarmor's own headers removed, readable
    /// responses requested where aarmor reads them.
    fn own_header_rewrite(&self) -> Option<HeaderRewrite> {
        // aarmor's own headers never reach the upstream; responses aarmor must read are
        // requested uncompressed.
        let mut remove = aarmor_headers(&self.exchange.request, &self.shared.engine);
        match self.kind {
            Kind::Llm(_) | Kind::Mcp | Kind::Sql(_) => Some(HeaderRewrite {
                set: vec![("accept-encoding".into(), "identity".into())],
                remove,
            }),
            // No compression extension: every message must be readable.
            Kind::WebSocket(_) => {
                remove.push("sec-websocket-extensions".into());
                Some(HeaderRewrite {
                    set: vec![],
                    remove,
                })
            }
            _ if !remove.is_empty() => Some(HeaderRewrite {
                set: vec![],
                remove,
            }),
            _ => None,
        }
    }
}

#[async_trait]
impl ExchangeInspector for ActionInspector {
    fn header_rewrite(&self) -> Option<HeaderRewrite> {
        let mut rewrite = self.own_header_rewrite();
        if self.scrubs {
            // A response that may carry a brokered secret must be readable to be scrubbed.
            let rw = rewrite.get_or_insert_with(HeaderRewrite::default);
            rw.set.retain(|(n, _)| n != "accept-encoding");
            rw.set.push(("accept-encoding".into(), "identity".into()));
        }
        if let Some(attached) = &self.attachment {
            // The placeholders go; the credential takes their place (after the action was
            // allowed: `attachment` is set by `attach_credential` only, which also sets
            // `scrubs`, so the response was asked for readable above).
            let rw = rewrite.get_or_insert_with(HeaderRewrite::default);
            if let Ok(Some(ask)) = &self.ask {
                rw.remove.extend(ask.headers.iter().cloned());
            }
            rw.set
                .push((attached.header.clone(), attached.value.clone()));
        }
        rewrite
    }

    async fn on_request_body(&mut self, body: &Bytes) -> Result<BodyVerdict, MediationError> {
        if self.leak.is_none() && !body.is_empty() && self.shared.engine.holds_secrets() {
            self.leak = self
                .shared
                .engine
                .credential_leak(body)
                .map(|c| (c, "body".to_string()));
        }
        let verdict = self.decide_body(body).await?;
        Ok(self.attach_credential(verdict, body).await)
    }

    async fn on_request_refused(
        &mut self,
        refusal: SyntheticResponse,
        reason: &str,
    ) -> SyntheticResponse {
        // The same refusal, now decided and receipted, naming its action.
        let decided = self.refuse_unreadable(refusal.status, "", "", reason).await;
        let mut body: serde_json::Map<String, Value> =
            serde_json::from_slice(&refusal.body).unwrap_or_default();
        if let Ok(Value::Object(ext)) = serde_json::from_slice::<Value>(&decided.body) {
            for key in ["action_id", "rule"] {
                if let Some(v) = ext.get(key) {
                    body.insert(key.into(), v.clone());
                }
            }
        }
        SyntheticResponse {
            body: serde_json::to_vec(&body).unwrap_or(refusal.body.clone()),
            ..refusal
        }
    }

    fn rewrites_response_headers(&self) -> bool {
        self.scrubs
    }

    fn response_header_value(&mut self, _name: &str, value: &[u8]) -> Option<Vec<u8>> {
        self.arm_scrubber();
        self.scrubbed_header(value)
    }

    fn response_plan(&mut self, head: &ResponseHead) -> ResponsePlan {
        self.arm_scrubber();
        let plan = self.plan_for(head);
        if self.scrubber.is_none() || plan == ResponsePlan::Relay {
            return plan;
        }
        // A credential is bound to the host: what comes back is scrubbed of every brokered
        // secret, so it must be readable, and goes through the scrubber rather than past it —
        // held whole when it is small and says its length (it keeps a `Content-Length`),
        // streamed otherwise.
        if is_encoded(head) && self.response != ResponseHandling::Refuse {
            self.response = ResponseHandling::Refuse;
            self.refusal = Some(format!(
                "the response is encoded ({}) although an uncompressed one was requested, and it may carry the brokered credential",
                head.headers.get_str("content-encoding").unwrap_or("?")
            ));
            return ResponsePlan::Buffer;
        }
        let length = head
            .headers
            .get_str("content-length")
            .and_then(|v| v.trim().parse::<usize>().ok());
        match plan {
            ResponsePlan::Pass if length.is_some_and(|l| l <= self.shared.max_event_bytes) => {
                ResponsePlan::Buffer
            }
            ResponsePlan::Pass => ResponsePlan::Stream,
            other => other,
        }
    }

    async fn on_response(
        &mut self,
        head: &ResponseHead,
        body: &Bytes,
    ) -> Result<ResponseVerdict, MediationError> {
        // Scrubbed before anything reads it: what is observed and recorded is what the agent
        // gets.
        let clean = self.scrubbed_whole(body);
        let verdict = self
            .respond_to(head, clean.as_ref().unwrap_or(body))
            .await?;
        Ok(match (verdict, clean) {
            (ResponseVerdict::Forward, Some(clean)) => ResponseVerdict::Replace(clean),
            (ResponseVerdict::Replace(b), _) => {
                ResponseVerdict::Replace(self.scrubbed_whole(&b).unwrap_or(b))
            }
            (verdict, _) => verdict,
        })
    }

    async fn on_response_chunk(&mut self, chunk: &Bytes) -> Result<Bytes, MediationError> {
        // Scrubbed first: the gate, the copy that is observed and the agent all see the same.
        let clean = self.scrubbed(chunk.clone(), false);
        self.chunk_out(&clean)
    }

    async fn on_response_pending(&mut self) -> Result<Option<Bytes>, MediationError> {
        self.pending_out().await
    }

    async fn on_response_end(&mut self) -> Result<Bytes, MediationError> {
        let mut out = Vec::new();
        if self.scrubber.is_some() {
            let tail = self.scrubbed(Bytes::new(), true);
            out.extend_from_slice(&self.chunk_out(&tail)?);
        }
        out.extend_from_slice(&self.end_out().await?);
        Ok(Bytes::from(out))
    }
    async fn on_upgraded(
        &mut self,
        from: Direction,
        bytes: &Bytes,
    ) -> Result<Relayed, MediationError> {
        let Kind::WebSocket(state) = &mut self.kind else {
            // Only WebSocket connections are relayed through the inspector.
            return Err(MediationError::UnknownUpgrade);
        };
        let reader = match from {
            Direction::ToUpstream => &mut state.from_client,
            Direction::ToClient => &mut state.from_upstream,
        };
        let items = reader.push(bytes)?;
        let mut out = Relayed::default();
        let mut to_upstream = Vec::new();
        let mut to_client = Vec::new();
        for item in items {
            match (item, from) {
                (WsItem::Control(raw), Direction::ToUpstream) => to_upstream.extend(raw),
                (WsItem::Control(raw), Direction::ToClient) => {
                    if !self.control_frame_passes(&raw) {
                        to_client.extend(echoed_credential_close());
                        out.close = true;
                        break;
                    }
                    to_client.extend(raw)
                }
                (WsItem::Message(m), Direction::ToUpstream) => {
                    match self.client_message(&m).await {
                        ClientMessage::Pass => to_upstream.extend(&m.raw),
                        ClientMessage::Reply(reply) => to_client.extend(reply),
                        ClientMessage::Close(frame) => {
                            to_client.extend(frame);
                            out.close = true;
                            break;
                        }
                    }
                }
                (WsItem::Message(m), Direction::ToClient) => {
                    if let Some(bytes) = self.upstream_message(&m).await {
                        match self.scrubbed_message(&m, bytes) {
                            Some(bytes) => to_client.extend(bytes),
                            None => {
                                to_client.extend(echoed_credential_close());
                                out.close = true;
                                break;
                            }
                        }
                    }
                }
            }
        }
        out.to_upstream = Bytes::from(to_upstream);
        out.to_client = Bytes::from(to_client);
        Ok(out)
    }

    fn response_copy_limit(&self) -> Option<usize> {
        (self.response == ResponseHandling::ResultObserve).then_some(self.shared.max_event_bytes)
    }

    async fn on_outcome(&mut self, outcome: ExchangeOutcome) {
        if self.response == ResponseHandling::ResultObserve && !self.executed.is_empty() {
            // What an executed action returned, observed once the agent has it (an encoded body
            // that passed unread counts as a read of unclassified data).
            let copy = match self.result_copy.take() {
                Some(marker) => Bytes::from(marker),
                None => outcome.body_copy.clone().unwrap_or_default(),
            };
            self.observe_result(&copy).await;
        }
        for action in std::mem::take(&mut self.executed) {
            let execution = Execution {
                status: outcome.status,
                success: (200..400).contains(&outcome.status),
                output_hash: outcome.body_sha256.clone(),
                bytes: outcome.body_bytes,
                duration_ms: outcome.duration_ms,
            };
            self.shared.engine.record_outcome(&action, execution).await;
        }
    }
}

impl ActionInspector {
    fn plan_for(&mut self, head: &ResponseHead) -> ResponsePlan {
        if let Kind::WebSocket(_) = self.kind {
            if head.status != 101 {
                return ResponsePlan::Pass;
            }
            if head.headers.get("sec-websocket-extensions").is_some() {
                // An extension was negotiated although none was offered: frames may be
                // compressed, so the connection cannot be inspected.
                self.response = ResponseHandling::Refuse;
                self.refusal = Some(
                    "the upstream switched to WebSocket with an extension aarmor did not offer"
                        .into(),
                );
                return ResponsePlan::Buffer;
            }
            return ResponsePlan::Relay;
        }
        if self.response == ResponseHandling::Pass {
            return ResponsePlan::Pass;
        }
        if self.response == ResponseHandling::ResultObserve {
            // Passed untouched; a bounded copy comes back in `on_outcome`.
            if !(200..300).contains(&head.status) {
                self.response = ResponseHandling::Pass;
            } else if is_encoded(head) {
                // Unreadable: recorded as a read of unclassified data (the default class).
                self.result_copy = Some(b"<encoded response>".to_vec());
            }
            return ResponsePlan::Pass;
        }
        if let Kind::Llm(dialect) = self.kind {
            if !(200..300).contains(&head.status) {
                // An error: no SDK runs tool calls out of it.
                return ResponsePlan::Pass;
            }
            if let Some(why) = unreadable_llm_response(head) {
                // Tool calls inside a body aarmor cannot read must not reach the agent.
                self.response = ResponseHandling::Refuse;
                self.refusal = Some(why);
                return ResponsePlan::Buffer;
            }
            // Read as the client reads it: its SDK parses a stream when it asked for one and a
            // JSON document when it did not, whatever the response's declared type.
            if self.llm_stream {
                let metas = self.shared.protocols.meta_tools.clone();
                self.gate = Some(StreamGate::new(
                    dialect.stream(metas),
                    self.shared.max_event_bytes,
                ));
                return ResponsePlan::Stream;
            }
            return ResponsePlan::Buffer;
        }
        if is_encoded(head) {
            if matches!(self.kind, Kind::Mcp) {
                // Sent encoded although aarmor asked for identity: what the agent now holds is
                // unreadable, recorded as a result of unclassified data (never skipped).
                self.response = ResponseHandling::ResultObserve;
                self.result_copy = Some(b"<encoded response>".to_vec());
            }
            return ResponsePlan::Pass;
        }
        // MCP: observe. Streams pass through with a bounded copy kept for observation.
        if is_event_stream(head) {
            self.result_copy = Some(Vec::new());
            return ResponsePlan::Stream;
        }
        ResponsePlan::Buffer
    }

    async fn respond_to(
        &mut self,
        head: &ResponseHead,
        body: &Bytes,
    ) -> Result<ResponseVerdict, MediationError> {
        match (self.response, &self.kind) {
            (ResponseHandling::Refuse, _) => {
                Ok(ResponseVerdict::Respond(SyntheticResponse::problem(
                    502,
                    "uninspectable-response",
                    "Refused: the upstream response cannot be inspected",
                    &format!(
                        "{}; it may propose tool calls, so it is not passed on",
                        self.refusal
                            .as_deref()
                            .unwrap_or("the response cannot be read")
                    ),
                )))
            }
            (ResponseHandling::LlmCalls, Kind::Llm(dialect)) => {
                let dialect = *dialect;
                let Ok(mut json) = serde_json::from_slice::<Value>(body) else {
                    // The client's SDK may still read something out of it (some parse NaN,
                    // or a stream sent under another type): what aarmor cannot read is not
                    // passed on.
                    return Ok(ResponseVerdict::Respond(SyntheticResponse::problem(
                        502,
                        "uninspectable-response",
                        "Refused: the upstream response cannot be inspected",
                        "the response of the LLM API is not JSON aarmor can parse; it may propose tool calls, so it is not passed on",
                    )));
                };
                let metas = &self.shared.protocols.meta_tools;
                let drafts = dialect.response_calls(&json, metas);
                let observed = dialect.observe_response(&json);
                // What a model answers adds no context entry a later decision depends on.
                let _ = self.observe(dialect.protocol(), observed).await;
                if drafts.is_empty() {
                    return Ok(ResponseVerdict::Forward);
                }
                let outcomes = self.decide_calls(drafts).await;
                if outcomes.iter().all(|o| *o == Rendered::Keep) {
                    return Ok(ResponseVerdict::Forward);
                }
                dialect.apply_to_response(&mut json, &outcomes);
                let body = serde_json::to_vec(&json)?;
                Ok(ResponseVerdict::Replace(Bytes::from(body)))
            }
            (ResponseHandling::McpObserve, _) => {
                let seen = mcp::observe_response(body, is_event_stream(head));
                match self.observe(Protocol::Mcp, seen).await {
                    Ok(()) => Ok(ResponseVerdict::Forward),
                    // A tool result the other replicas would not know the agent read: withheld.
                    Err(why) => Ok(ResponseVerdict::Respond(unrecorded_problem(&why))),
                }
            }
            _ => Ok(ResponseVerdict::Forward),
        }
    }

    fn chunk_out(&mut self, chunk: &Bytes) -> Result<Bytes, MediationError> {
        if let Some(copy) = self.result_copy.as_mut() {
            if copy.len() + chunk.len() <= self.shared.max_event_bytes {
                copy.extend_from_slice(chunk);
            }
            return Ok(chunk.clone());
        }
        if self.gate.is_none() && self.scrubber.is_some() {
            // A passed response, streamed only to be scrubbed.
            return Ok(chunk.clone());
        }
        let gate = self.gate.as_mut().ok_or(MediationError::NoStreamGate)?;
        let out = gate.push(chunk)?;
        Ok(self.take_output(out))
    }

    async fn pending_out(&mut self) -> Result<Option<Bytes>, MediationError> {
        if self.held_calls.is_empty() {
            if self.stream_ended {
                self.stream_ended = false;
                if let (Some(gate), Kind::Llm(d)) = (self.gate.as_mut(), &self.kind) {
                    let p = d.protocol();
                    let observed = gate.observations();
                    let _ = self.observe(p, observed).await;
                }
            }
            return Ok(None);
        }
        let held = std::mem::take(&mut self.held_calls);
        let outcomes = self.decide_calls(held).await;
        let gate = self.gate.as_mut().ok_or(MediationError::NoStreamGate)?;
        let out = gate.resolve(outcomes)?;
        Ok(Some(self.take_output(out)))
    }

    async fn end_out(&mut self) -> Result<Bytes, MediationError> {
        if let Some(copy) = self.result_copy.take() {
            // Streamed MCP events were passed on as they came: a failure to share them is
            // logged by the engine, and the session's next decision waits for them.
            let _ = self
                .observe(Protocol::Mcp, mcp::observe_response(&copy, true))
                .await;
            return Ok(Bytes::new());
        }
        let Some(gate) = self.gate.as_mut() else {
            return Ok(Bytes::new());
        };
        let out = gate.finish()?;
        let dropped = gate.dropped_tail();
        if dropped > 0 {
            tracing::warn!(
                bytes = dropped,
                "the stream ended inside an event; the unterminated event was dropped"
            );
        }
        self.stream_ended = true;
        Ok(self.take_output(out))
    }
}
