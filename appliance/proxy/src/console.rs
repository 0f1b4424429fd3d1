//! The approvers' web console, served by the admin listener under `/console`: sign in with an
//! approver token, see held actions with everything needed to judge them, approve or deny with
//! a comment, and search and verify receipts. The page and its script are embedded (no CDN).
//!
//! Security: the session lives in an `HttpOnly`, `SameSite=Strict` cookie; every state-changing
//! call also needs the session's CSRF token in `x-csrf-token` and a JSON content type; a
//! cross-origin `Origin` is refused; responses forbid framing and inline script (CSP).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aarmor_engine::approvals::Approver;
use pingora::protocols::http::ServerSession;
use serde_json::{json, Value};

use crate::admin_http::{json_reply, read_json, vote_reply, AdminApprovals};

const COOKIE: &str = "aarmor_console";
const INDEX_HTML: &str = include_str!("../console/index.html");
const CONSOLE_JS: &str = include_str!("../console/console.js");
const CONSOLE_CSS: &str = include_str!("../console/console.css");
/// Longest wait of a live-update request.
const LONG_POLL: Duration = Duration::from_secs(20);
const MAX_SESSIONS: usize = 10_000;

struct Session {
    approver: Approver,
    csrf: String,
    expires: Instant,
}

pub struct Console {
    desk: Arc<AdminApprovals>,
    retention: Option<Arc<aarmor_engine::retention::Retention>>,
    sessions: Mutex<HashMap<String, Session>>,
    /// The operator views read the stores: at most this many at once (the rest wait).
    views: Arc<tokio::sync::Semaphore>,
    /// The overview's costly part and when it was computed: shared by every viewer for
    /// [`ACTIVITY_FRESH`].
    activity: Arc<Mutex<Option<(Instant, Value)>>>,
}

/// How long a computed overview is served again.
const ACTIVITY_FRESH: Duration = Duration::from_secs(5);

/// Operator views computed at once; each reads up to tens of thousands of receipts.
const CONCURRENT_VIEWS: usize = 2;

fn random_hex(bytes: usize) -> Option<String> {
    let mut buf = vec![0u8; bytes];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buf).ok()?;
    Some(hex::encode(buf))
}

fn with_security_headers(mut resp: http::Response<Vec<u8>>) -> http::Response<Vec<u8>> {
    let h = resp.headers_mut();
    for (name, value) in [
        (
            "content-security-policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    resp
}

fn asset(content_type: &str, body: &str) -> http::Response<Vec<u8>> {
    crate::admin_http::reply(200, content_type, body.as_bytes().to_vec())
}

fn header<'a>(session: &'a ServerSession, name: &str) -> Option<&'a str> {
    session
        .req_header()
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
}

fn cookie(session: &ServerSession) -> Option<String> {
    session
        .req_header()
        .headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

fn query_param(session: &ServerSession, name: &str) -> Option<String> {
    query_value(session.req_header().uri.query()?, name)
}

/// The decoded value of `name` in a query string (`application/x-www-form-urlencoded`).
fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A path segment as the page encoded it (`encodeURIComponent`), decoded.
fn path_segment(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

/// A summary row of the receipts view.
fn receipt_row(r: &aarmor_core::Receipt) -> Value {
    json!({
        "receipt_id": r.receipt_id,
        "seq": r.seq,
        "timestamp": r.timestamp,
        "kind": r.kind,
        "decision": r.decision.result,
        "enforced": r.decision.enforced,
        "rule": r.decision.rule,
        "reason": r.decision.reason,
        "tool": r.action.tool,
        "operation": r.action.operation,
        "agent": r.action.identity.agent,
        "human": r.action.identity.human,
        "approver": r.approval.as_ref().and_then(|a| a.approver()),
    })
}

impl Console {
    pub fn new(
        desk: Arc<AdminApprovals>,
        retention: Option<Arc<aarmor_engine::retention::Retention>>,
    ) -> Self {
        Self {
            desk,
            retention,
            sessions: Mutex::new(HashMap::new()),
            views: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_VIEWS)),
            activity: Arc::new(Mutex::new(None)),
        }
    }

    /// The signed-in approver and their CSRF token.
    fn session(&self, session: &ServerSession) -> Option<(Approver, String)> {
        let id = cookie(session)?;
        let mut sessions = self.sessions.lock().ok()?;
        let s = sessions.get(&id)?;
        if s.expires <= Instant::now() {
            sessions.remove(&id);
            return None;
        }
        Some((s.approver.clone(), s.csrf.clone()))
    }

    /// A state-changing request must come from this origin, as JSON, with the CSRF token.
    fn check_write(
        &self,
        session: &ServerSession,
        csrf: Option<&str>,
    ) -> Result<(), Box<http::Response<Vec<u8>>>> {
        let host = header(session, "host").unwrap_or_default();
        if let Some(origin) = header(session, "origin") {
            let same = origin
                .split_once("://")
                .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host));
            if !same {
                return Err(Box::new(json_reply(
                    403,
                    json!({"error": "cross-origin request refused"}),
                )));
            }
        }
        let json_ct = header(session, "content-type")
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/json"));
        if !json_ct {
            return Err(Box::new(json_reply(
                415,
                json!({"error": "send application/json"}),
            )));
        }
        if let Some(expected) = csrf {
            let presented = header(session, "x-csrf-token").unwrap_or_default();
            let same = presented.len() == expected.len()
                && presented
                    .bytes()
                    .zip(expected.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0;
            if !same {
                return Err(Box::new(json_reply(
                    403,
                    json!({"error": "missing or wrong CSRF token"}),
                )));
            }
        }
        Ok(())
    }

    /// Runs an operator view off the async workers, a few at a time. `Ok(None)`: not found.
    async fn view(
        &self,
        compute: impl FnOnce() -> Result<Option<Value>, String> + Send + 'static,
    ) -> http::Response<Vec<u8>> {
        let Ok(_permit) = self.views.clone().acquire_owned().await else {
            return json_reply(503, json!({"error": "the console is shutting down"}));
        };
        match tokio::task::spawn_blocking(compute).await {
            Ok(Ok(Some(v))) => json_reply(200, v),
            Ok(Ok(None)) => json_reply(404, json!({"error": "not found"})),
            Ok(Err(e)) => json_reply(503, json!({"error": e})),
            Err(e) => {
                tracing::error!(error = %e, "a console view failed");
                json_reply(
                    500,
                    json!({"error": "the view failed; see the appliance log"}),
                )
            }
        }
    }

    pub async fn serve(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        with_security_headers(self.route(session).await)
    }

    async fn route(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let method = session.req_header().method.as_str().to_string();
        let path = session.req_header().uri.path().to_string();
        match (method.as_str(), path.as_str()) {
            ("GET", "/console" | "/console/") => asset("text/html; charset=utf-8", INDEX_HTML),
            ("GET", "/console/console.js") => asset("text/javascript; charset=utf-8", CONSOLE_JS),
            ("GET", "/console/console.css") => asset("text/css; charset=utf-8", CONSOLE_CSS),
            ("POST", "/console/api/login") => self.login(session).await,
            _ if path.starts_with("/console/api/") => {
                let Some((approver, csrf)) = self.session(session) else {
                    return json_reply(401, json!({"error": "sign in first"}));
                };
                self.api(session, &method, &path, approver, csrf).await
            }
            _ => json_reply(404, json!({"error": "not found"})),
        }
    }

    async fn login(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        if let Err(r) = self.check_write(session, None) {
            return *r;
        }
        let body = match read_json(session).await {
            Ok(v) => v,
            Err(r) => return *r,
        };
        let token = body
            .get("token")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(approver) = self
            .desk
            .approvals
            .directory()
            .authenticate(token.trim(), None)
        else {
            tracing::warn!("console sign-in with a wrong token");
            return json_reply(401, json!({"error": "unknown token"}));
        };
        let (Some(id), Some(csrf)) = (random_hex(32), random_hex(32)) else {
            return json_reply(500, json!({"error": "no randomness"}));
        };
        if let Ok(mut sessions) = self.sessions.lock() {
            let now = Instant::now();
            sessions.retain(|_, s| s.expires > now);
            if sessions.len() >= MAX_SESSIONS {
                return json_reply(503, json!({"error": "too many console sessions"}));
            }
            sessions.insert(
                id.clone(),
                Session {
                    approver: approver.clone(),
                    csrf: csrf.clone(),
                    expires: now + self.desk.console_session_ttl,
                },
            );
        }
        tracing::info!(approver = %approver.name, "console sign-in");
        let mut resp = json_reply(
            200,
            json!({"approver": approver.name, "groups": approver.groups, "operator": approver.operator, "operations": approver.sees_operations, "csrf": csrf}),
        );
        let cookie = format!(
            "{COOKIE}={id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}",
            self.desk.console_session_ttl.as_secs()
        );
        if let Ok(v) = http::HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert("set-cookie", v);
        }
        resp
    }

    async fn api(
        &self,
        session: &mut ServerSession,
        method: &str,
        path: &str,
        approver: Approver,
        csrf: String,
    ) -> http::Response<Vec<u8>> {
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let approvals = &self.desk.approvals;
        match (method, &parts[3..]) {
            ("GET", ["session"]) => json_reply(
                200,
                json!({"approver": approver.name, "groups": approver.groups, "operator": approver.operator, "operations": approver.sees_operations, "csrf": csrf}),
            ),
            ("GET", ["overview" | "sessions", ..]) if !approver.sees_operations => json_reply(
                403,
                json!({"error": "the operator views need the operator token or an approver named in [approvals] operators"}),
            ),
            ("GET", ["storage"]) => match &self.retention {
                Some(r) => json_reply(200, crate::admin::storage_json(&r.status())),
                None => json_reply(200, json!({"banner": null, "stores": []})),
            },
            ("POST", ["logout"]) => {
                if let Err(r) = self.check_write(session, Some(&csrf)) {
                    return *r;
                }
                if let (Some(id), Ok(mut sessions)) = (cookie(session), self.sessions.lock()) {
                    sessions.remove(&id);
                }
                let mut resp = json_reply(200, json!({"signed_out": true}));
                if let Ok(v) = http::HeaderValue::from_str(&format!(
                    "{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"
                )) {
                    resp.headers_mut().insert("set-cookie", v);
                }
                resp
            }
            ("GET", ["approvals"]) => {
                // Live updates: with ?version=N, wait until the queue changes from N.
                let mut changes = approvals.changes();
                if let Some(seen) =
                    query_param(session, "version").and_then(|v| v.parse::<u64>().ok())
                {
                    if *changes.borrow_and_update() == seen {
                        let _ = tokio::time::timeout(LONG_POLL, changes.changed()).await;
                    }
                }
                let version = *changes.borrow();
                let items: Vec<Value> = approvals
                    .list_for(&approver)
                    .into_iter()
                    .map(|r| {
                        let verdict = approvals.may_answer(&r, &approver);
                        let voted = r.votes.iter().any(|v| v.approver == approver.name);
                        let mut v = serde_json::to_value(&r).unwrap_or(json!({}));
                        v["can_answer"] = json!(verdict.is_ok() && !voted);
                        v["why_not"] = match (verdict, voted) {
                            (Err(e), _) => json!(e.to_string()),
                            (Ok(()), true) => json!("you have already answered"),
                            _ => Value::Null,
                        };
                        v
                    })
                    .collect();
                json_reply(200, json!({"version": version, "approvals": items}))
            }
            ("POST", ["approvals", id, verb @ ("approve" | "deny")]) => {
                if let Err(r) = self.check_write(session, Some(&csrf)) {
                    return *r;
                }
                let body = match read_json(session).await {
                    Ok(v) => v,
                    Err(r) => return *r,
                };
                let comment = body
                    .get("comment")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| c.chars().take(2000).collect::<String>());
                let result = approvals
                    .vote_anywhere(id, &approver, *verb == "approve", comment, "console")
                    .await;
                vote_reply(id, &approver, result)
            }
            ("GET", ["overview"]) => {
                let (desk, retention) = (self.desk.clone(), self.retention.clone());
                let cache = self.activity.clone();
                self.view(move || {
                    let fresh = cache.lock().ok().and_then(|c| {
                        c.as_ref()
                            .filter(|(at, _)| at.elapsed() < ACTIVITY_FRESH)
                            .map(|(_, v)| v.clone())
                    });
                    let activity = match fresh {
                        Some(v) => v,
                        None => {
                            let v = crate::console_views::activity(&desk);
                            if let Ok(mut c) = cache.lock() {
                                *c = Some((Instant::now(), v.clone()));
                            }
                            v
                        }
                    };
                    Ok(Some(crate::console_views::overview(
                        &desk,
                        retention.as_deref(),
                        &approver,
                        &activity,
                    )))
                })
                .await
            }
            ("GET", ["sessions"]) => {
                let q = query_param(session, "q").unwrap_or_default();
                let limit = query_param(session, "limit")
                    .and_then(|l| l.parse::<usize>().ok())
                    .unwrap_or(100)
                    .clamp(1, 1000);
                let desk = self.desk.clone();
                self.view(move || crate::console_views::sessions(&desk, &q, limit).map(Some))
                    .await
            }
            ("GET", ["sessions", id]) => {
                let (desk, id) = (self.desk.clone(), path_segment(id));
                self.view(move || crate::console_views::session(&desk, &id))
                    .await
            }
            ("GET", ["sessions", id, "verify"]) => {
                let (desk, id) = (self.desk.clone(), path_segment(id));
                self.view(move || crate::console_views::verify_session(&desk, &id))
                    .await
            }
            ("GET", ["receipts"]) => {
                let q = query_param(session, "q").unwrap_or_default();
                let limit = query_param(session, "limit")
                    .and_then(|l| l.parse::<usize>().ok())
                    .unwrap_or(50)
                    .clamp(1, 500);
                match self.desk.receipts.search(&q, limit) {
                    Ok(rs) => json_reply(
                        200,
                        json!({"receipts": rs.iter().map(receipt_row).collect::<Vec<_>>()}),
                    ),
                    Err(e) => json_reply(503, json!({"error": e.to_string()})),
                }
            }
            ("GET", ["receipts", id]) => match self.desk.receipts.get(id) {
                Ok(Some(r)) => json_reply(200, json!(r)),
                Ok(None) => json_reply(404, json!({"error": format!("no receipt {id}")})),
                Err(e) => json_reply(503, json!({"error": e.to_string()})),
            },
            ("GET", ["receipts", id, "verify"]) => match self.desk.receipts.verify(id) {
                Ok(Some(v)) => json_reply(200, json!(v)),
                Ok(None) => json_reply(404, json!({"error": format!("no receipt {id}")})),
                Err(e) => json_reply(503, json!({"error": e.to_string()})),
            },
            _ => json_reply(404, json!({"error": "not found"})),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_values() {
        let q = |v: &str| query_value(&format!("limit=5&q={v}"), "q").unwrap();
        assert_eq!(q("send%20email+now"), "send email now");
        assert_eq!(q("100%"), "100%");
        assert_eq!(q("%zz"), "%zz");
        assert_eq!(q("caf%C3%A9"), "café");
        assert_eq!(query_value("limit=5", "q"), None);
    }
}
