//! Approval notifications: a generic JSON webhook signed with HMAC-SHA256, and a
//! Slack-compatible incoming-webhook payload. Sent off the data path, retried a few times; a
//! notification that cannot be delivered is logged, never blocks or decides anything.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::ApprovalRequest;
use crate::settings::{WebhookKind, WebhookSettings};

const ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(10);

struct Hook {
    url: http::Uri,
    kind: WebhookKind,
    secret: Option<Vec<u8>>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

pub struct Notifier {
    hooks: Vec<Arc<Hook>>,
    console_url: String,
}

/// `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>").
pub fn signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(timestamp.as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    format!("sha256={}", hex::encode(tag.as_ref()))
}

impl Notifier {
    pub fn new(settings: &[WebhookSettings], console_url: String) -> Result<Self, String> {
        let mut hooks = Vec::new();
        for (i, w) in settings.iter().enumerate() {
            let key = format!("approvals.webhooks[{i}]");
            let url: http::Uri = w.url.parse().map_err(|e| format!("{key}.url: {e}"))?;
            let https = match url.scheme_str() {
                Some("https") => true,
                Some("http") => false,
                _ => return Err(format!("{key}.url: expected http:// or https://")),
            };
            if url.host().is_none() {
                return Err(format!("{key}.url: no host"));
            }
            let secret = match (&w.secret, &w.secret_file) {
                (Some(s), _) => Some(s.as_bytes().to_vec()),
                (None, Some(path)) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| format!("{key}.secret_file {}: {e}", path.display()))?
                        .trim()
                        .as_bytes()
                        .to_vec(),
                ),
                (None, None) => None,
            };
            if w.kind == WebhookKind::Generic && secret.is_none() {
                return Err(format!(
                    "{key}: a generic webhook needs a secret (or secret_file) to sign its payloads"
                ));
            }
            let tls = if https {
                Some(
                    crate::tls::client_config(w.ca_file.as_deref())
                        .map_err(|e| format!("{key}.{e}"))?,
                )
            } else {
                None
            };
            hooks.push(Arc::new(Hook {
                url,
                kind: w.kind,
                secret,
                tls,
            }));
        }
        Ok(Self { hooks, console_url })
    }

    /// The generic payload of an event.
    pub fn payload(&self, event: &str, r: &ApprovalRequest, status: Option<&str>) -> Value {
        let id = &r.action.identity;
        json!({
            "event": event,
            "status": status.unwrap_or("pending"),
            "sent_at": aarmor_core::timestamp::now_rfc3339_millis(),
            "approval": {
                "id": r.id, "receipt_id": r.receipt_id, "rule": r.rule, "reason": r.reason,
                "risk": r.risk, "approvers": r.approvers, "quorum": r.quorum,
                "escalate_to": r.escalate_to, "escalated": r.escalated,
                "votes": r.votes, "created": r.created, "expires": r.expires,
            },
            "action": {
                "action_id": r.action.action_id.0, "protocol": r.action.protocol.as_str(),
                "tool": r.action.tool, "operation": r.action.operation,
                "target": r.action.target,
                "identity": {"agent": id.agent, "human": id.human, "session": id.session, "role": id.role},
            },
            "console_url": format!("{}#{}", self.console_url, r.id),
        })
    }

    fn slack(&self, event: &str, r: &ApprovalRequest, status: Option<&str>) -> Value {
        let resolved = format!("Approval {}", status.unwrap_or("resolved"));
        let what = match event {
            "approval.requested" => "Approval needed",
            "approval.escalated" => "Approval escalated",
            _ => resolved.as_str(),
        };
        let who = r
            .action
            .identity
            .human
            .clone()
            .or_else(|| r.action.identity.agent.clone())
            .unwrap_or_else(|| "unknown".into());
        let text = format!(
            "{what}: `{}.{}` by {who} (risk {}) — {}",
            r.action.tool, r.action.operation, r.risk, r.reason
        );
        json!({
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": format!("*{what}* — `{}.{}`\n{}", r.action.tool, r.action.operation, r.reason)}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
                    "rule `{}` · risk *{}* · agent {} · human {} · quorum {} · <{}#{}|open in aarmor>",
                    r.rule.as_deref().unwrap_or("-"), r.risk,
                    r.action.identity.agent.as_deref().unwrap_or("-"),
                    r.action.identity.human.as_deref().unwrap_or("-"),
                    r.quorum, self.console_url, r.id)}]},
            ],
        })
    }

    /// Sends `event` to every webhook, in the background.
    pub fn send(&self, event: &str, request: &ApprovalRequest, status: Option<&str>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("approval notification outside a runtime; not sent");
            return;
        };
        for hook in &self.hooks {
            let body = match hook.kind {
                WebhookKind::Generic => self.payload(event, request, status),
                WebhookKind::Slack => self.slack(event, request, status),
            }
            .to_string();
            let hook = hook.clone();
            let event = event.to_string();
            let id = request.id.clone();
            handle.spawn(async move {
                for attempt in 1..=ATTEMPTS {
                    match tokio::time::timeout(TIMEOUT, post(&hook, &event, body.as_bytes())).await {
                        Ok(Ok(status)) if (200..300).contains(&status) => return,
                        Ok(Ok(status)) => tracing::warn!(approval = %id, url = %hook.url, status, attempt, "approval webhook refused the notification"),
                        Ok(Err(e)) => tracing::warn!(approval = %id, url = %hook.url, error = %e, attempt, "approval webhook unreachable"),
                        Err(_) => tracing::warn!(approval = %id, url = %hook.url, attempt, "approval webhook timed out"),
                    }
                    tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
                }
                tracing::error!(approval = %id, url = %hook.url, event = %event, "approval notification not delivered");
            });
        }
    }
}

async fn post(hook: &Hook, event: &str, body: &[u8]) -> std::io::Result<u16> {
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let mut headers = vec![
        ("content-type", "application/json".to_string()),
        ("x-aarmor-event", event.to_string()),
        ("x-aarmor-timestamp", timestamp.clone()),
    ];
    if let Some(secret) = &hook.secret {
        headers.push(("x-aarmor-signature", signature(secret, &timestamp, body)));
    }
    crate::http_client::send(&hook.url, hook.tls.as_ref(), "POST", &headers, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_and_body() {
        // printf %s '1.{}' | openssl dgst -sha256 -hmac key
        let s = signature(b"key", "1", b"{}");
        assert_eq!(
            s,
            "sha256=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
        assert_ne!(s, signature(b"key", "2", b"{}"));
        assert_ne!(s, signature(b"other", "1", b"{}"));
    }

    #[test]
    fn generic_webhooks_need_a_secret() {
        let w = WebhookSettings {
            url: "http://127.0.0.1:9/hook".into(),
            ..WebhookSettings::default()
        };
        let err = Notifier::new(&[w], "http://x/console".into())
            .err()
            .unwrap();
        assert!(err.contains("secret"), "{err}");
    }
}
