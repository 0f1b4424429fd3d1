//! What the admin listener's pages share: the approvals desk it is given, JSON replies, and
//! reading a request body.

use std::sync::Arc;

use aarmor_engine::approvals::{Approver, VoteOutcome};
use aarmor_engine::ApprovalError;
use pingora::protocols::http::ServerSession;
use serde_json::{json, Value};

/// What the admin listener serves approvers: the approvals API, the web console and its
/// receipts view.
pub struct AdminApprovals {
    pub approvals: Arc<aarmor_engine::Approvals>,
    pub receipts: aarmor_engine::receipts::ReceiptReader,
    pub console_session_ttl: std::time::Duration,
    /// The sessions' context logs (the console's sessions view).
    pub context: Arc<aarmor_engine::context::ContextStore>,
    /// The SIEM sinks, when configured (their state on the overview).
    pub telemetry: Option<Arc<aarmor_engine::telemetry::Telemetry>>,
}

pub(crate) fn reply(status: u16, content_type: &str, body: Vec<u8>) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .header("cache-control", "no-store")
        .body(body)
        .unwrap_or_else(|_| http::Response::new(Vec::new()))
}

pub(crate) fn json_reply(status: u16, body: Value) -> http::Response<Vec<u8>> {
    reply(status, "application/json", body.to_string().into_bytes())
}

/// Reads a request body of at most 64 KiB; `None` when it is larger.
pub(crate) async fn read_body(session: &mut ServerSession) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = session.read_request_body().await {
        body.extend_from_slice(&chunk);
        if body.len() > 64 * 1024 {
            return None;
        }
    }
    Some(body)
}

/// Parses a JSON object body (empty is `{}`); the error is a 400 reply.
pub(crate) fn json_body(body: &[u8]) -> Result<Value, Box<http::Response<Vec<u8>>>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Box::new(json_reply(
            400,
            json!({"error": "the body must be a JSON object"}),
        ))),
        Err(e) => Err(Box::new(json_reply(
            400,
            json!({"error": format!("the body is not JSON: {e}")}),
        ))),
    }
}

/// Reads and parses a JSON object body; the error is the reply to send.
pub(crate) async fn read_json(
    session: &mut ServerSession,
) -> Result<Value, Box<http::Response<Vec<u8>>>> {
    match read_body(session).await {
        Some(b) => json_body(&b),
        None => Err(Box::new(json_reply(
            413,
            json!({"error": "body too large"}),
        ))),
    }
}

/// The reply to a vote.
pub(crate) fn vote_reply(
    id: &str,
    approver: &Approver,
    result: Result<VoteOutcome, ApprovalError>,
) -> http::Response<Vec<u8>> {
    match result {
        Ok(outcome) => {
            tracing::info!(approval = %id, approver = %approver.name, outcome = ?outcome, "approval answered");
            let mut body = serde_json::to_value(&outcome).unwrap_or(json!({}));
            body["id"] = json!(id);
            body["approver"] = json!(approver.name);
            json_reply(200, body)
        }
        Err(e) => {
            let status = match &e {
                ApprovalError::NotFound(_) => 404,
                ApprovalError::Gone(_) => 410,
                ApprovalError::NotEligible(..)
                | ApprovalError::SelfApproval(_)
                | ApprovalError::OperatorAsApprover(_) => 403,
                ApprovalError::AlreadyVoted(_) => 409,
                ApprovalError::Unreachable(..) => 503,
            };
            tracing::warn!(approval = %id, approver = %approver.name, error = %e, "approval answer refused");
            json_reply(status, json!({"error": e.to_string()}))
        }
    }
}
