//! The admin listener: health, Prometheus metrics, the approvals API and the approvers' web
//! console ([`crate::console`]). Never served on the proxy listeners.
//!
//! Approvals API (when an operator token or approvers are configured; every call needs
//! `Authorization: Bearer <token>`): `GET /v1/approvals`, `GET /v1/approvals/{id}`,
//! `POST /v1/approvals/{id}/approve`, `POST /v1/approvals/{id}/deny` with an optional JSON body
//! `{"comment": "..."}`. An approver's own token names them; the operator token (automation)
//! names the approver in the body (`"approver"`).
//!
//! `GET /.well-known/jwks.json` (no token): the public key that verifies the credentials aarmor
//! mints per allowed action (see `aarmor_engine::credentials::mint`).
//!
//! `GET /v1/storage` (no token, like `/metrics`): the receipt and context stores' fill levels,
//! the archive's lag, and the banner the console shows when a store passed its warning level.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::{json, Value};

use crate::admin_http::{json_reply, read_json, reply, vote_reply, AdminApprovals};
use crate::console::Console;
use crate::metrics::Metrics;

pub struct AdminApp {
    metrics: Arc<Metrics>,
    retention: Option<Arc<aarmor_engine::retention::Retention>>,
    desk: Option<Arc<AdminApprovals>>,
    console: Option<Console>,
    /// The JWKS of minted credentials.
    jwks: Option<Value>,
}

/// The stores' state with the banner an operator should see (`null` when all is well).
pub(crate) fn storage_json(
    status: &aarmor_engine::retention::RetentionStatus,
) -> serde_json::Value {
    let banner = status
        .banner()
        .map(|(level, message)| json!({"level": level, "message": message}));
    json!({"banner": banner, "stores": status.stores, "archive_lag": status.archive_lag, "failure": status.failure})
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
    pub fn new(
        metrics: Arc<Metrics>,
        desk: Option<AdminApprovals>,
        retention: Option<Arc<aarmor_engine::retention::Retention>>,
        jwks: Option<Value>,
    ) -> Self {
        let desk = desk.map(Arc::new);
        Self {
            jwks,
            metrics,
            console: desk.clone().map(|d| Console::new(d, retention.clone())),
            desk,
            retention,
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
                let result = approvals
                    .vote_anywhere(id, &approver, *verb == "approve", comment, "api")
                    .await;
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
            ("GET", "/v1/storage") => match &self.retention {
                Some(r) => json_reply(200, storage_json(&r.status())),
                None => json_reply(
                    404,
                    json!({"error": "no stores to report: mediation is off"}),
                ),
            },
            ("GET", "/.well-known/jwks.json") => match &self.jwks {
                Some(jwks) => json_reply(200, jwks.clone()),
                None => json_reply(404, json!({"error": "no minting key: mediation is off"})),
            },
            (_, "/healthz" | "/metrics" | "/v1/storage" | "/.well-known/jwks.json") => {
                json_reply(405, json!({"error": "method not allowed"}))
            }
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
                json!({"error": "not found", "endpoints": ["/healthz", "/metrics", "/v1/storage", "/.well-known/jwks.json", "/v1/approvals", "/console"]}),
            ),
        }
    }
}
