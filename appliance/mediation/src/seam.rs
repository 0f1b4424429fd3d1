//! The contract between the data plane and whatever decides what may cross it.
//!
//! Invariants the data plane upholds for every implementation:
//! - `on_request_head` runs before any byte of the request reaches the upstream.
//! - When the head verdict is `Inspect`, the whole request body is read (bounded by the
//!   configured limit) and, when the inspector wants it, `on_request_body` runs before the
//!   request is sent upstream.
//! - `response_plan` picks how the response is handled: passed through, buffered (bounded) so
//!   that `on_response` runs before any byte reaches the client, or streamed through
//!   `on_response_chunk` / `on_response_end`, where only the bytes those calls return reach the
//!   client.
//! - Any `Err`, or a call exceeding its time budget, refuses the exchange; once a streamed
//!   response has started, the client connection is cut instead.

use std::sync::Arc;

use aarmor_core::{ConnectionFacts, ProxyCredential, RequestHead, ResponseHead, SyntheticResponse};
use async_trait::async_trait;
use bytes::Bytes;

/// One request/response exchange as the mediator sees it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Unique per process, increasing; 0 for a connection-level action the mediator decides on
    /// its own (a splice, a refused destination), which is no exchange of the data plane.
    pub id: u64,
    /// What the front end established about the connection, shared by its requests.
    pub connection: Arc<ConnectionFacts>,
    /// The request head, its target made explicit.
    pub request: RequestHead,
}

/// Header edits applied to the request before it is forwarded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderRewrite {
    /// Headers set as (name, value), replacing any of that name; applied after `remove`.
    pub set: Vec<(String, String)>,
    /// Names of headers removed.
    pub remove: Vec<String>,
}

/// Decision on a request head.
pub enum HeadVerdict {
    /// Forward as is, streaming bodies both ways.
    Forward,
    /// Forward with edited headers.
    Rewrite(HeaderRewrite),
    /// Do not forward; answer the client with this response.
    Respond(SyntheticResponse),
    /// Hold the request and let this inspector see the body and/or the response.
    Inspect(Box<dyn ExchangeInspector>),
}

impl std::fmt::Debug for HeadVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Forward => f.write_str("Forward"),
            Self::Rewrite(r) => f.debug_tuple("Rewrite").field(r).finish(),
            Self::Respond(r) => f.debug_tuple("Respond").field(&r.status).finish(),
            Self::Inspect(_) => f.write_str("Inspect"),
        }
    }
}

/// A changed request: a new path-and-query and/or body (`Content-Length` is recomputed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestEdit {
    /// Origin-form path and query sent upstream instead of the client's.
    pub path: Option<String>,
    /// Body sent upstream instead of the one read.
    pub body: Option<Bytes>,
}

/// Decision on a complete request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyVerdict {
    /// Forward the request with its body as read.
    Forward,
    /// Forward this edited request instead.
    Edit(RequestEdit),
    /// Do not forward; answer the client with this response.
    Respond(SyntheticResponse),
}

/// How the upstream response is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsePlan {
    /// Streamed to the client untouched.
    Pass,
    /// Held whole (bounded); `on_response` decides.
    Buffer,
    /// Streamed through `on_response_chunk` / `on_response_end`.
    Stream,
    /// The upstream switched protocols (101): the connection is relayed both ways through
    /// `on_upgraded`, which alone decides what each side receives, until either side closes.
    Relay,
}

/// Which way bytes of an upgraded connection travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client towards the upstream.
    ToUpstream,
    /// From the upstream towards the client.
    ToClient,
}

/// What may be sent on, each way, after bytes of an upgraded connection arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relayed {
    /// Bytes to send to the upstream now; empty for none.
    pub to_upstream: Bytes,
    /// Bytes to send to the client now; empty for none.
    pub to_client: Bytes,
    /// End the relay after sending these.
    pub close: bool,
}

/// Decision on a complete upstream response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseVerdict {
    /// Send the upstream's response to the client as it is.
    Forward,
    /// Send this body instead of the upstream's (status and other headers kept).
    Replace(Bytes),
    /// Send this response instead of the upstream's.
    Respond(SyntheticResponse),
}

/// What the client received at the end of an inspected exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeOutcome {
    /// HTTP status of the response the client received (the upstream's).
    pub status: u16,
    /// `sha256:` + hex of the response body as the client received it.
    pub body_sha256: String,
    /// Size of the body as the client received it, bytes.
    pub body_bytes: u64,
    /// From the request's arrival to the end of the response, milliseconds.
    pub duration_ms: u64,
    /// The first bytes of the body as the client received it, when the inspector asked for them
    /// (`response_copy_limit`); the body passed untouched either way.
    pub body_copy: Option<Bytes>,
}

/// Why a mediator could not decide: the data plane refuses the exchange (fail closed).
#[derive(Debug, thiserror::Error)]
pub enum MediationError {
    /// A streamed response cannot be read the way the client reads it (the stream is cut).
    #[error("cannot inspect the stream: {0}")]
    Stream(#[from] aarmor_protocols::gate::GateError),
    /// A streamed response reached the inspector without the gate that reads it.
    #[error("no stream gate for this response")]
    NoStreamGate,
    /// A decided response cannot be written back as JSON.
    #[error("cannot render the decided response: {0}")]
    Render(#[from] serde_json::Error),
    /// The frames of an upgraded connection cannot be read (the connection is cut).
    #[error("unreadable WebSocket frames: {0}")]
    WebSocket(#[from] aarmor_protocols::websocket::WsError),
    /// An upgraded connection the inspector does not relay reached it.
    #[error("an upgraded connection of an unknown kind")]
    UnknownUpgrade,
    /// Another implementation's own failure (its decider is down, its classifier failed).
    #[error("mediation failed: {0}")]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

/// Per-exchange state of a mediator that asked to inspect.
#[async_trait]
pub trait ExchangeInspector: Send {
    /// Header edits to apply to the forwarded request in any case.
    fn header_rewrite(&self) -> Option<HeaderRewrite> {
        None
    }

    /// The whole request body (decoded when it came with a `Content-Encoding`), before anything
    /// is sent upstream: whether and what to forward. The default forwards it.
    async fn on_request_body(&mut self, _body: &Bytes) -> Result<BodyVerdict, MediationError> {
        Ok(BodyVerdict::Forward)
    }

    /// The data plane could not read the request body for inspection (past the inspection limit,
    /// an encoding it cannot decode) and refuses the request with `refusal`. The inspector may
    /// record the refusal (a decision receipt) and returns what the client gets; by default,
    /// `refusal` itself. Nothing reaches the upstream either way.
    async fn on_request_refused(
        &mut self,
        refusal: SyntheticResponse,
        _reason: &str,
    ) -> SyntheticResponse {
        refusal
    }

    /// Whether `response_header_value` may change anything (the data plane asks it only then).
    fn rewrites_response_headers(&self) -> bool {
        false
    }

    /// A response header's value as the client may see it: `Some` replaces it (a brokered
    /// secret an upstream echoed). Asked before the response plan for every header's value,
    /// every header's name (`name` empty: `Some` removes the header) and the status line's
    /// reason phrase (`name` `:reason`: `Some` replaces it with the canonical one); the default
    /// keeps them all.
    fn response_header_value(&mut self, _name: &str, _value: &[u8]) -> Option<Vec<u8>> {
        None
    }

    /// How to handle the upstream response, from its head. The default passes it through.
    fn response_plan(&mut self, _head: &ResponseHead) -> ResponsePlan {
        ResponsePlan::Pass
    }

    /// The whole upstream response (`ResponsePlan::Buffer`), before any byte reaches the client:
    /// what the client gets. The default forwards it.
    async fn on_response(
        &mut self,
        _head: &ResponseHead,
        _body: &Bytes,
    ) -> Result<ResponseVerdict, MediationError> {
        Ok(ResponseVerdict::Forward)
    }

    /// Bytes of a streamed response as they arrive; returns what may reach the client now,
    /// without waiting for any decision (the data plane writes it at once).
    async fn on_response_chunk(&mut self, chunk: &Bytes) -> Result<Bytes, MediationError> {
        Ok(chunk.clone())
    }

    /// Decides what the last chunk (or the end) left held; returns the bytes that may follow,
    /// or `None` once nothing is held. The data plane calls it until `None` after every chunk
    /// and after the end.
    async fn on_response_pending(&mut self) -> Result<Option<Bytes>, MediationError> {
        Ok(None)
    }

    /// The streamed response ended; returns the last bytes for the client.
    async fn on_response_end(&mut self) -> Result<Bytes, MediationError> {
        Ok(Bytes::new())
    }

    /// Bytes of an upgraded connection (`ResponsePlan::Relay`) as they arrive from one side;
    /// returns what each side may receive now. The default relays them unchanged.
    async fn on_upgraded(
        &mut self,
        from: Direction,
        bytes: &Bytes,
    ) -> Result<Relayed, MediationError> {
        Ok(match from {
            Direction::ToUpstream => Relayed {
                to_upstream: bytes.clone(),
                ..Relayed::default()
            },
            Direction::ToClient => Relayed {
                to_client: bytes.clone(),
                ..Relayed::default()
            },
        })
    }

    /// How many bytes of the response body to keep for `on_outcome` (`body_copy`), whatever the
    /// response plan; `None` keeps nothing.
    fn response_copy_limit(&self) -> Option<usize> {
        None
    }

    /// The exchange is over: what the client received (status, sha256 of the body as sent,
    /// its size). For outcome records; nothing waits on it.
    async fn on_outcome(&mut self, _outcome: ExchangeOutcome) {}
}

/// Decides, per exchange, what may reach the upstream and what the client gets back.
#[async_trait]
pub trait Mediator: Send + Sync + 'static {
    /// Short name for logs and metrics.
    fn name(&self) -> &'static str;

    /// Decides on a request head, before any byte of the request reaches the upstream.
    async fn on_request_head(&self, exchange: &Exchange) -> Result<HeadVerdict, MediationError>;

    /// The data plane refuses to connect to `addr` for a client (aarmor's own listener, a
    /// metadata or link-local address): the mediator may record the refusal (a decision
    /// receipt) and returns the problem response the client gets (403).
    async fn on_forbidden_destination(
        &self,
        _client: Option<std::net::SocketAddr>,
        _credential: Option<&ProxyCredential>,
        host: &str,
        addr: std::net::SocketAddr,
        reason: &str,
    ) -> SyntheticResponse {
        SyntheticResponse::problem(
            403,
            "destination-forbidden",
            "The destination is not reachable through aarmor",
            &format!("{host} ({addr}): {reason}"),
        )
    }

    /// A connection is about to be spliced byte for byte (bypass): `Ok` lets it through, `Err`
    /// is the refusal (403) the client gets. A mediator records it as it sees fit; by default it
    /// passes.
    async fn on_splice(
        &self,
        _client: Option<std::net::SocketAddr>,
        _credential: Option<&ProxyCredential>,
        _host: &str,
        _addr: std::net::SocketAddr,
        _why: &str,
    ) -> Result<(), SyntheticResponse> {
        Ok(())
    }

    /// Whether a proxy credential (`Proxy-Authorization`) is one a known agent holds. With
    /// `require_proxy_auth`, the data plane refuses connections whose credential is not (407).
    /// The default knows none: without a registry to check against, nothing is accepted.
    fn knows_proxy_credential(&self, _credential: &ProxyCredential) -> bool {
        false
    }
}
