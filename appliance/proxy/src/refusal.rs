//! Why the front end answers a client itself and closes, before any request reaches the HTTP
//! engine: one value per reason, which knows its status, its problem document and the metric it
//! counts under, so that a refusal is written, counted and logged the same way everywhere.

use aarmor_core::SyntheticResponse;
use pingora::protocols::l4::stream::Stream as L4Stream;
use tokio::io::AsyncWriteExt;

use crate::head::raw_response;
use crate::metrics::Metrics;

/// A front-end refusal. Invariant: every variant but `Policy` counts under exactly one metric
/// label, so that a refusal the operator sees on the wire shows in the metrics.
#[derive(Debug)]
pub enum Refusal {
    /// The request head exceeded the configured limit (431).
    HeadTooLarge(String),
    /// The request head did not arrive in time (408).
    HeadTimeout(String),
    /// The request head does not parse (400).
    Malformed(String),
    /// `require_proxy_auth` is on and no registered agent's credential came (407).
    ProxyAuthRequired,
    /// Neither CONNECT nor an absolute `http://` URL (400); the detail says what to send.
    NotAProxyRequest(String),
    /// A CONNECT target that is not `host:port` (400).
    BadConnectTarget(String),
    /// The CONNECT target does not resolve (502).
    UpstreamDns(String),
    /// No address of a spliced upstream answered (502), or one timed out last (504).
    UpstreamUnreachable { timed_out: bool, detail: String },
    /// Refused by the data plane or the mediator, which wrote the problem document (and the
    /// receipt) already (403).
    Policy(SyntheticResponse),
}

/// The counter family a refusal counts under.
enum Counter {
    Client,
    Upstream,
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Self::HeadTooLarge(_) => 431,
            Self::HeadTimeout(_) => 408,
            Self::Malformed(_) | Self::NotAProxyRequest(_) | Self::BadConnectTarget(_) => 400,
            Self::ProxyAuthRequired => 407,
            Self::UpstreamDns(_) => 502,
            Self::UpstreamUnreachable { timed_out, .. } => {
                if *timed_out {
                    504
                } else {
                    502
                }
            }
            Self::Policy(_) => 403,
        }
    }

    fn counter(&self) -> Option<(Counter, &'static str)> {
        Some(match self {
            Self::HeadTooLarge(_) => (Counter::Client, "header_too_large"),
            Self::HeadTimeout(_) => (Counter::Client, "header_timeout"),
            Self::Malformed(_) => (Counter::Client, "malformed"),
            Self::ProxyAuthRequired => (Counter::Client, "proxy_auth"),
            Self::NotAProxyRequest(_) => (Counter::Client, "not_proxy_request"),
            Self::BadConnectTarget(_) => (Counter::Client, "bad_connect_target"),
            Self::UpstreamDns(_) => (Counter::Upstream, "dns"),
            Self::UpstreamUnreachable { .. } => (Counter::Upstream, "connect"),
            Self::Policy(_) => return None,
        })
    }

    fn extra_headers(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::ProxyAuthRequired => &[
                ("proxy-authenticate", "Basic realm=\"aarmor\""),
                ("proxy-authenticate", "Bearer realm=\"aarmor\""),
            ],
            _ => &[],
        }
    }

    /// The problem document (RFC 9457) the client receives.
    pub fn problem(&self) -> SyntheticResponse {
        let status = self.status();
        let (kind, title, detail): (&str, &str, &str) = match self {
            Self::HeadTooLarge(d) => ("header-too-large", "Request head too large", d),
            Self::HeadTimeout(d) => ("header-timeout", "Request head not received in time", d),
            Self::Malformed(d) => ("bad-request", "Malformed request", d),
            Self::ProxyAuthRequired => (
                "proxy-auth-required",
                "Proxy authentication required",
                "send Proxy-Authorization: Basic or Bearer with the credential of a registered agent",
            ),
            Self::NotAProxyRequest(d) => ("not-a-proxy-request", "Not a proxy request", d),
            Self::BadConnectTarget(d) => ("bad-request", "Invalid CONNECT target", d),
            Self::UpstreamDns(d) => ("upstream-dns", "Upstream host could not be resolved", d),
            Self::UpstreamUnreachable { timed_out, detail } => (
                "upstream-unreachable",
                if *timed_out {
                    "Upstream connection timed out"
                } else {
                    "Upstream unreachable"
                },
                detail,
            ),
            Self::Policy(p) => return p.clone(),
        };
        SyntheticResponse::problem(status, kind, title, detail)
    }

    /// Counts the refusal under its metric (what `send` does first; alone, for a connection
    /// that has no one left to answer).
    pub fn count(&self, metrics: &Metrics) {
        match self.counter() {
            Some((Counter::Client, label)) => {
                metrics.client_errors.with_label_values(&[label]).inc()
            }
            Some((Counter::Upstream, label)) => {
                metrics.upstream_errors.with_label_values(&[label]).inc()
            }
            None => {}
        }
    }

    /// Counts the refusal, writes it to the client and closes the connection.
    pub async fn send(self, l4: &mut L4Stream, metrics: &Metrics) {
        self.count(metrics);
        let status = self.status();
        let reason = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let problem = self.problem();
        let bytes = raw_response(
            status,
            reason,
            self.extra_headers(),
            "application/problem+json",
            &problem.body,
        );
        let _ = l4.write_all(&bytes).await;
        let _ = l4.flush().await;
        let _ = l4.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_status_problem_and_metric() {
        let cases = [
            (Refusal::HeadTooLarge("x".into()), 431, "header_too_large"),
            (Refusal::HeadTimeout("x".into()), 408, "header_timeout"),
            (Refusal::Malformed("x".into()), 400, "malformed"),
            (Refusal::ProxyAuthRequired, 407, "proxy_auth"),
            (
                Refusal::NotAProxyRequest("x".into()),
                400,
                "not_proxy_request",
            ),
            (
                Refusal::BadConnectTarget("x".into()),
                400,
                "bad_connect_target",
            ),
            (Refusal::UpstreamDns("x".into()), 502, "dns"),
            (
                Refusal::UpstreamUnreachable {
                    timed_out: true,
                    detail: "x".into(),
                },
                504,
                "connect",
            ),
        ];
        for (refusal, status, label) in cases {
            assert_eq!(refusal.status(), status, "{refusal:?}");
            assert_eq!(refusal.counter().map(|c| c.1), Some(label), "{refusal:?}");
            let body: serde_json::Value = serde_json::from_slice(&refusal.problem().body).unwrap();
            assert_eq!(body["status"], status, "{body}");
        }
        assert_eq!(Refusal::ProxyAuthRequired.extra_headers().len(), 2);
        let policy = Refusal::Policy(SyntheticResponse::problem(403, "denied", "Denied", "no"));
        assert_eq!(policy.status(), 403);
        assert!(policy.counter().is_none());
    }
}
