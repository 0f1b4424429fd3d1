//! The admin listener: health, Prometheus metrics, the approvals API and the approvers' web
//! console ([`crate::console`]). Never served on the proxy listeners.
//!
//! Approvals API (when an operator token or approvers are configured; every call needs
//! `Authorization: Bearer <token>`): `GET /v1/approvals`, `GET /v1/approvals/{id}`,
//! `POST /v1/approvals/{id}/approve`, `POST /v1/approvals/{id}/deny` with an optional JSON body
//! `{"comment": "..."}`. An approver's own token names them; the operator token (automation)
//! names the approver in the body (`"approver"`).

use std::sync::Arc;

use aarmor_engine::approvals::{Approver, VoteOutcome};
use aarmor_engine::ApprovalError;
use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::{json, Value};

use crate::console::Console;
use crate::metrics::Metrics;
use crate::server::AdminApprovals;

pub struct AdminApp {
    metrics: Arc<Metrics>,
    desk: Option<Arc<AdminApprovals>>,
    console: Option<Console>,
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
            };
            tracing::warn!(approval = %id, approver = %approver.name, error = %e, "approval answer refused");
            json_reply(status, json!({"error": e.to_string()}))
        }
    }
}

/// The bearer token of a request.
fn bearer(session: &ServerSession) -> String {
    session
        .req_header()
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim()
        .to_string()
}

impl AdminApp {
    pub fn new(metrics: Arc<Metrics>, desk: Option<AdminApprovals>) -> Self {
        let desk = desk.map(Arc::new);
        Self {
            metrics,
            console: desk.clone().map(Console::new),
            desk,
        }
    }

    async fn approvals_api(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let Some(desk) = &self.desk else {
            return json_reply(
                404,
                json!({"error": "the approvals API is off: set [approvals] token or [[approvals.approvers]]"}),
            );
        };
        let token = bearer(session);
        let method = session.req_header().method.as_str().to_string();
        let path = session.req_header().uri.path().to_string();
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let body = match method.as_str() {
            "POST" => match read_json(session).await {
                Ok(v) => v,
                Err(r) => return *r,
            },
            _ => json!({}),
        };
        let named = body.get("approver").and_then(Value::as_str);
        let Some(approver) = desk.approvals.directory().authenticate(&token, named) else {
            return json_reply(401, json!({"error": "missing or wrong bearer token"}));
        };
        let approvals = &desk.approvals;
        match (method.as_str(), parts.as_slice()) {
            ("GET", ["", "v1", "approvals"]) => {
                json_reply(200, json!({"approvals": approvals.list_for(&approver)}))
            }
            ("GET", ["", "v1", "approvals", id]) => match approvals.get_for(id, &approver) {
                Some(r) => json_reply(200, json!(r)),
                None => json_reply(404, json!({"error": format!("no pending approval {id}")})),
            },
            ("POST", ["", "v1", "approvals", id, verb @ ("approve" | "deny")]) => {
                let comment = body
                    .get("comment")
                    .or_else(|| body.get("reason"))
                    .and_then(Value::as_str)
                    .filter(|c| !c.trim().is_empty())
                    .map(str::to_string);
                let result = approvals.vote(id, &approver, *verb == "approve", comment, "api");
                vote_reply(id, &approver, result)
            }
            _ => json_reply(
                405,
                json!({"error": "use GET /v1/approvals[/ID] or POST /v1/approvals/ID/approve|deny"}),
            ),
        }
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let req = session.req_header();
        let path = req.uri.path().to_string();
        match (req.method.as_str(), path.as_str()) {
            ("GET", "/healthz") => reply(200, "application/json", br#"{"status":"ok"}"#.to_vec()),
            ("GET", "/metrics") => reply(200, "text/plain; version=0.0.4", self.metrics.render()),
            (_, "/healthz" | "/metrics") => json_reply(405, json!({"error": "method not allowed"})),
            (_, p) if p == "/v1/approvals" || p.starts_with("/v1/approvals/") => {
                self.approvals_api(session).await
            }
            (_, p) if p == "/console" || p.starts_with("/console/") => match &self.console {
                Some(c) => c.serve(session).await,
                None => json_reply(
                    404,
                    json!({"error": "the console is off: configure approvers ([[approvals.approvers]]) or an operator token"}),
                ),
            },
            _ => json_reply(
                404,
                json!({"error": "not found", "endpoints": ["/healthz", "/metrics", "/v1/approvals", "/console"]}),
            ),
        }
    }
}
