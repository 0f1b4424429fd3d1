//! The contract between the data plane and whatever decides what may cross it.
//!
//! Invariants the data plane upholds for every implementation:
//! - `on_request_head` runs before any byte of the request reaches the upstream.
//! - When a head verdict asks to inspect the request body, the whole body is read (bounded by
//!   the configured limit) and `on_request_body` runs before the request is sent upstream.
//! - When a head verdict asks to inspect the response, the upstream response is buffered
//!   (bounded) and `on_response` runs before any byte of it reaches the client.
//! - Any `Err` or a call exceeding the mediation timeout refuses the exchange.

use std::sync::Arc;

use aarmor_core::{ConnectionFacts, RequestHead, ResponseHead, SyntheticResponse};
use async_trait::async_trait;
use bytes::Bytes;

/// One request/response exchange as the mediator sees it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Unique per process, increasing.
    pub id: u64,
    pub connection: Arc<ConnectionFacts>,
    pub request: RequestHead,
}

/// Header edits applied to the request before it is forwarded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderRewrite {
    pub set: Vec<(String, String)>,
    pub remove: Vec<String>,
}

/// What the mediator wants to see beyond the request head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inspection {
    pub request_body: bool,
    pub response: bool,
    /// Header edits to apply in any case.
    pub rewrite: Option<HeaderRewrite>,
}

/// Decision on a request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadVerdict {
    /// Forward as is, streaming bodies both ways.
    Forward,
    /// Forward with edited headers.
    Rewrite(HeaderRewrite),
    /// Do not forward; answer the client with this response.
    Respond(SyntheticResponse),
    /// Hold the request until the body (and/or the response) has been seen.
    Inspect(Inspection),
}

/// Decision on a complete request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyVerdict {
    Forward,
    /// Forward this body instead (Content-Length is recomputed).
    Replace(Bytes),
    Respond(SyntheticResponse),
}

/// Decision on a complete upstream response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseVerdict {
    Forward,
    /// Send this body instead of the upstream's (status and other headers kept).
    Replace(Bytes),
    Respond(SyntheticResponse),
}

#[derive(Debug, thiserror::Error)]
pub enum MediationError {
    #[error("mediator unavailable: {0}")]
    Unavailable(String),
    #[error("mediation failed: {0}")]
    Failed(String),
}

/// Decides, per exchange, what may reach the upstream and what the client gets back.
#[async_trait]
pub trait Mediator: Send + Sync + 'static {
    /// Short name for logs and metrics.
    fn name(&self) -> &'static str;

    async fn on_request_head(&self, exchange: &Exchange) -> Result<HeadVerdict, MediationError>;

    async fn on_request_body(
        &self,
        _exchange: &Exchange,
        _body: &Bytes,
    ) -> Result<BodyVerdict, MediationError> {
        Ok(BodyVerdict::Forward)
    }

    async fn on_response(
        &self,
        _exchange: &Exchange,
        _head: &ResponseHead,
        _body: &Bytes,
    ) -> Result<ResponseVerdict, MediationError> {
        Ok(ResponseVerdict::Forward)
    }
}
