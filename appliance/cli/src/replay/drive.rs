//! Drives recorded turns through the proxy's own mediator and engine, in process: each turn is
//! the LLM exchange the data plane would have seen (request, then the model's response), and
//! what the agent would have received, with the receipts written, says what was decided.

use anyhow::anyhow;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use aarmor_core::connection::Target;
use aarmor_core::{
    ConnectionFacts, ConnectionMode, HeaderList, Receipt, ReceiptKind, RequestHead, ResponseHead,
};
use aarmor_engine::PolicyEngine;
use aarmor_mediation::MediationSettings;
use aarmor_mediation::{ActionMediator, MediationMetrics};
use aarmor_mediation::{
    BodyVerdict, Exchange, ExchangeOutcome, HeadVerdict, Mediator, ResponsePlan, ResponseVerdict,
};
use bytes::Bytes;
use serde_json::Value;

use super::corpus::{Conversation, Dialect, Label, Turn};

/// What became of one recorded tool call.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallOutcome {
    pub conversation: String,
    pub domain: String,
    pub style: String,
    pub kind: String,
    pub split: String,
    pub call_id: String,
    pub tool: String,
    pub label: Label,
    /// The call reached the agent (in monitor mode: every call the data plane let through).
    pub delivered: bool,
    /// The policy decision, after any internal wait (a DEFER) resolved: what enforcement
    /// reaches before a human is asked. `None` when no receipt names the call.
    pub decision: Option<String>,
    /// The first decision receipted (DEFER when it waited for context).
    pub first: Option<String>,
    /// The last decision of the chain (an approver's, a timeout's).
    pub last: Option<String>,
    pub rule: Option<String>,
    pub reason: Option<String>,
    pub receipt_id: Option<String>,
    /// The intent signals the decision saw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<Value>,
    /// The decision recorded when the call was first made (conversations rebuilt from receipts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<String>,
}

/// The mediator and engine, and where in the receipt chain the next turn's receipts start.
pub struct Driver {
    mediator: ActionMediator,
    engine: PolicyEngine,
    next_seq: u64,
    exchanges: u64,
}

/// Every turn of a conversation comes from this address (an agent the default registry knows:
/// 127.0.0.0/8) on its own port.
const CLIENT: [u8; 4] = [127, 0, 0, 1];

/// The upstream's address in the connection facts; never dialled.
const UPSTREAM: [u8; 4] = [192, 0, 2, 1];

impl Driver {
    pub fn new(engine: PolicyEngine, mediation: &MediationSettings) -> anyhow::Result<Self> {
        let metrics = MediationMetrics::new().map_err(|e| anyhow!("metrics: {e}"))?;
        let mediator = ActionMediator::new(Arc::new(engine.clone()), mediation, metrics);
        Ok(Self {
            mediator,
            engine,
            next_seq: 1,
            exchanges: 0,
        })
    }

    /// Replays every turn of `conversation`, in order; one outcome per tool call.
    pub async fn conversation(
        &mut self,
        conversation: &Conversation,
        index: usize,
    ) -> anyhow::Result<Vec<CallOutcome>> {
        let mut out = Vec::new();
        for turn in conversation.turns() {
            out.extend(self.turn(conversation, index, &turn).await?);
        }
        Ok(out)
    }

    async fn turn(
        &mut self,
        conversation: &Conversation,
        index: usize,
        turn: &Turn,
    ) -> anyhow::Result<Vec<CallOutcome>> {
        let exchange = self.exchange(conversation, index, turn);
        let request = Bytes::from(serde_json::to_vec(&turn.request_body)?);
        let response = Bytes::from(serde_json::to_vec(&turn.response_body)?);
        let delivered = self.exchange_through(&exchange, request, response).await?;
        self.engine.settled().await;
        self.engine.committed().await;
        let receipts = self
            .engine
            .receipts_reader()
            .from_seq(self.next_seq, usize::MAX)
            .map_err(|e| anyhow!("reading receipts: {e}"))?;
        if let Some(last) = receipts.last() {
            self.next_seq = last.seq + 1;
        }
        Ok(match_calls(conversation, turn, &delivered, &receipts))
    }

    fn exchange(&mut self, conversation: &Conversation, index: usize, turn: &Turn) -> Exchange {
        self.exchanges += 1;
        let (host, path) = match conversation.dialect {
            Dialect::OpenAiChat => ("api.openai.com", "/v1/chat/completions"),
            Dialect::Anthropic => ("api.anthropic.com", "/v1/messages"),
        };
        let mut headers = HeaderList::default();
        headers.push("host", host);
        headers.push("content-type", "application/json");
        let length = serde_json::to_vec(&turn.request_body).map_or(0, |b| b.len());
        headers.push("content-length", length.to_string());
        match conversation.dialect {
            Dialect::OpenAiChat => headers.push("authorization", "Bearer sk-replay"),
            Dialect::Anthropic => {
                headers.push("x-api-key", "sk-ant-replay");
                headers.push("anthropic-version", "2023-06-01");
            }
        }
        // Each conversation is its own session, whatever its system prompt and first message
        // share with another one.
        headers.push(
            aarmor_core::session::SESSION_HEADER,
            format!("replay-{index}-{}", conversation.id),
        );
        let port = 20_000 + (index % 40_000) as u16;
        Exchange {
            id: self.exchanges,
            connection: Arc::new(ConnectionFacts {
                client_addr: Some(SocketAddr::from((CLIENT, port))),
                mode: ConnectionMode::ConnectIntercepted,
                target: Some(Target {
                    host: host.to_string(),
                    port: 443,
                    addr: SocketAddr::from((UPSTREAM, 443)),
                    alternates: Vec::new(),
                }),
                sni: Some(host.to_string()),
                credential: None,
                client_cert: None,
            }),
            request: RequestHead {
                method: "POST".into(),
                scheme: "https",
                host: host.to_string(),
                port: 443,
                path: path.to_string(),
                headers,
                has_body: true,
            },
        }
    }

    /// Runs one exchange through the mediator as the data plane does; returns the ids of the
    /// tool calls in the response the agent received.
    async fn exchange_through(
        &self,
        exchange: &Exchange,
        request: Bytes,
        response: Bytes,
    ) -> anyhow::Result<HashSet<String>> {
        let failed = |e: aarmor_mediation::MediationError| format!("mediation failed: {e}");
        let mut inspector = match self
            .mediator
            .on_request_head(exchange)
            .await
            .map_err(failed)
            .map_err(anyhow::Error::msg)?
        {
            HeadVerdict::Inspect(i) => i,
            // Refused before its body was read: the model was never asked.
            HeadVerdict::Respond(_) => return Ok(HashSet::new()),
            HeadVerdict::Forward | HeadVerdict::Rewrite(_) => {
                return Err(anyhow!("the LLM request was forwarded without inspection"))
            }
        };
        if let BodyVerdict::Respond(_) = inspector
            .on_request_body(&request)
            .await
            .map_err(failed)
            .map_err(anyhow::Error::msg)?
        {
            return Ok(HashSet::new());
        }
        let mut head_headers = HeaderList::default();
        head_headers.push("content-type", "application/json");
        let head = ResponseHead {
            status: 200,
            headers: head_headers,
        };
        let received = match inspector.response_plan(&head) {
            ResponsePlan::Buffer => match inspector
                .on_response(&head, &response)
                .await
                .map_err(failed)
                .map_err(anyhow::Error::msg)?
            {
                ResponseVerdict::Forward => response,
                ResponseVerdict::Replace(b) => b,
                ResponseVerdict::Respond(r) => Bytes::from(r.body),
            },
            ResponsePlan::Stream => {
                let mut all = inspector
                    .on_response_chunk(&response)
                    .await
                    .map_err(failed)
                    .map_err(anyhow::Error::msg)?
                    .to_vec();
                for _ in 0..64 {
                    match inspector
                        .on_response_pending()
                        .await
                        .map_err(failed)
                        .map_err(anyhow::Error::msg)?
                    {
                        Some(b) => all.extend_from_slice(&b),
                        None => break,
                    }
                }
                all.extend_from_slice(
                    &inspector
                        .on_response_end()
                        .await
                        .map_err(failed)
                        .map_err(anyhow::Error::msg)?,
                );
                for _ in 0..64 {
                    match inspector
                        .on_response_pending()
                        .await
                        .map_err(failed)
                        .map_err(anyhow::Error::msg)?
                    {
                        Some(b) => all.extend_from_slice(&b),
                        None => break,
                    }
                }
                Bytes::from(all)
            }
            ResponsePlan::Pass | ResponsePlan::Relay => {
                return Err(anyhow!(
                    "the LLM response would have passed without inspection"
                ))
            }
        };
        inspector
            .on_outcome(ExchangeOutcome {
                status: 200,
                body_sha256: String::new(),
                body_bytes: received.len() as u64,
                duration_ms: 0,
                body_copy: None,
            })
            .await;
        Ok(call_ids(&received))
    }
}

/// Tool call ids in a response body as the agent received it (both dialects).
fn call_ids(body: &[u8]) -> HashSet<String> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return HashSet::new();
    };
    let mut ids = HashSet::new();
    for choice in v["choices"].as_array().into_iter().flatten() {
        for c in choice["message"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(id) = c["id"].as_str() {
                ids.insert(id.to_string());
            }
        }
    }
    for b in v["content"].as_array().into_iter().flatten() {
        if b["type"] == "tool_use" {
            if let Some(id) = b["id"].as_str() {
                ids.insert(id.to_string());
            }
        }
    }
    ids
}

/// Pairs each call of the turn with its decision receipt (same tool, in order) and that
/// receipt's resolutions.
fn match_calls(
    conversation: &Conversation,
    turn: &Turn,
    delivered: &HashSet<String>,
    receipts: &[Receipt],
) -> Vec<CallOutcome> {
    let decisions: Vec<&Receipt> = receipts
        .iter()
        .filter(|r| {
            r.kind == ReceiptKind::Decision
                && r.action.protocol.is_llm()
                && !r.action.is_llm_request()
        })
        .collect();
    let mut follows: BTreeMap<&str, &Receipt> = BTreeMap::new();
    for r in receipts {
        if let Some(f) = &r.follows {
            follows.insert(f.as_str(), r);
        }
    }
    let mut used = vec![false; decisions.len()];
    turn.calls
        .iter()
        .map(|call| {
            let found = decisions
                .iter()
                .enumerate()
                .find(|(i, r)| !used[*i] && r.action.tool == call.name);
            let chain: Vec<&Receipt> = match found {
                Some((i, r)) => {
                    used[i] = true;
                    let mut chain = vec![*r];
                    while let Some(next) = chain
                        .last()
                        .and_then(|r| follows.get(r.receipt_id.as_str()))
                    {
                        if chain.len() > 16 {
                            break;
                        }
                        chain.push(next);
                    }
                    chain
                }
                None => Vec::new(),
            };
            let deciding = chain
                .iter()
                .find(|r| r.decision.result != aarmor_core::Decision::Defer)
                .or(chain.first())
                .copied();
            CallOutcome {
                conversation: conversation.id.clone(),
                domain: conversation.domain.clone(),
                style: conversation.style.clone(),
                kind: conversation.kind.clone(),
                split: conversation.split.clone(),
                call_id: call.id.clone(),
                tool: call.name.clone(),
                label: call.label,
                delivered: delivered.contains(&call.id),
                decision: deciding.map(|r| r.decision.result.as_str().to_string()),
                first: chain
                    .first()
                    .map(|r| r.decision.result.as_str().to_string()),
                last: chain.last().map(|r| r.decision.result.as_str().to_string()),
                rule: deciding.and_then(|r| r.decision.rule.clone()),
                reason: deciding.map(|r| r.decision.reason.clone()),
                receipt_id: chain.first().map(|r| r.receipt_id.clone()),
                intent: deciding.and_then(|r| r.context.intent.clone()),
                recorded: call.recorded.clone(),
            }
        })
        .collect()
}
