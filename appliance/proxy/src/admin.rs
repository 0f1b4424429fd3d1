//! The admin listener: health, Prometheus metrics and the approvals API. Never served on the
//! proxy listener.
//!
//! Approvals API (only when a token is configured; every call needs `Authorization: Bearer`):
//! `GET /v1/approvals`, `GET /v1/approvals/{id}`, `POST /v1/approvals/{id}/approve`,
//! `POST /v1/approvals/{id}/deny` with an optional JSON body `{"approver": "...", "reason": "..."}`.

use std::sync::Arc;

use aarmor_engine::{ApprovalError, Approvals};
use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::json;

use crate::metrics::Metrics;

pub struct AdminApp {
    pub metrics: Arc<Metrics>,
    pub approvals: Option<Arc<Approvals>>,
    pub approval_token: Option<String>,
}

fn reply(status: u16, content_type: &str, body: Vec<u8>) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .body(body)
        .unwrap_or_else(|_| http::Response::new(Vec::new()))
}

fn json_reply(status: u16, body: serde_json::Value) -> http::Response<Vec<u8>> {
    reply(status, "application/json", body.to_string().into_bytes())
}

/// Constant-time comparison of the presented token.
fn token_matches(presented: &[u8], expected: &[u8]) -> bool {
    if presented.len() != expected.len() {
        return false;
    }
    presented
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

impl AdminApp {
    async fn approvals(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let (Some(approvals), Some(token)) = (&self.approvals, &self.approval_token) else {
            return json_reply(
                404,
                json!({"error": "the approvals API is off: set [approvals] token or token_file"}),
            );
        };
        let req = session.req_header();
        let presented = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .as_bytes()
            .to_vec();
        if !token_matches(&presented, token.as_bytes()) {
            return json_reply(401, json!({"error": "missing or wrong bearer token"}));
        }
        let method = req.method.as_str().to_string();
        let path = req.uri.path().to_string();
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        match (method.as_str(), parts.as_slice()) {
            ("GET", ["", "v1", "approvals"]) => {
                json_reply(200, json!({"approvals": approvals.list()}))
            }
            ("GET", ["", "v1", "approvals", id]) => match approvals.get(id) {
                Some(r) => json_reply(200, json!(r)),
                None => json_reply(404, json!({"error": format!("no pending approval {id}")})),
            },
            ("POST", ["", "v1", "approvals", id, verb @ ("approve" | "deny")]) => {
                let body = read_body(session).await;
                let parsed: serde_json::Value = if body.is_empty() {
                    json!({})
                } else {
                    match serde_json::from_slice(&body) {
                        Ok(v) => v,
                        Err(e) => {
                            return json_reply(
                                400,
                                json!({"error": format!("body is not JSON: {e}")}),
                            )
                        }
                    }
                };
                let approver = parsed
                    .get("approver")
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
                    .unwrap_or("admin-api")
                    .to_string();
                let reason = parsed
                    .get("reason")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                let answer =
                    aarmor_engine::policy_engine::answer(*verb == "approve", &approver, reason);
                match approvals.decide(id, answer) {
                    Ok(r) => {
                        tracing::info!(approval = %id, decision = verb, approver = %approver, action = %r.action.action_id, "approval answered");
                        json_reply(
                            200,
                            json!({"id": id, "status": if *verb == "approve" { "approved" } else { "denied" }, "approver": approver}),
                        )
                    }
                    Err(e @ ApprovalError::NotFound(_)) => {
                        json_reply(404, json!({"error": e.to_string()}))
                    }
                    Err(e @ ApprovalError::Gone(_)) => {
                        json_reply(410, json!({"error": e.to_string()}))
                    }
                }
            }
            _ => json_reply(
                405,
                json!({"error": "use GET /v1/approvals[/ID] or POST /v1/approvals/ID/approve|deny"}),
            ),
        }
    }
}

async fn read_body(session: &mut ServerSession) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = session.read_request_body().await {
        body.extend_from_slice(&chunk);
        if body.len() > 64 * 1024 {
            break;
        }
    }
    body
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let req = session.req_header();
        let path = req.uri.path().to_string();
        match (req.method.as_str(), path.as_str()) {
            ("GET", "/healthz") => reply(200, "application/json", br#"{"status":"ok"}"#.to_vec()),
            ("GET", "/metrics") => reply(200, "text/plain; version=0.0.4", self.metrics.render()),
            (_, "/healthz" | "/metrics") => reply(
                405,
                "application/json",
                br#"{"error":"method not allowed"}"#.to_vec(),
            ),
            (_, p) if p == "/v1/approvals" || p.starts_with("/v1/approvals/") => {
                self.approvals(session).await
            }
            _ => reply(
                404,
                "application/json",
                br#"{"error":"not found","endpoints":["/healthz","/metrics","/v1/approvals"]}"#
                    .to_vec(),
            ),
        }
    }
}
