//! The front end: the first bytes of every client connection. It classifies the connection
//! (CONNECT, absolute-form HTTP, or kernel-redirected), applies the pre-TLS decisions
//! (407, bypass splice, refusal of garbage), terminates TLS with a minted leaf, records the
//! connection's facts and hands the stream to the shared HTTP engine.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aarmor_core::{ClientCertificate, ConnectionFacts, ConnectionMode, ProxyCredential};
use async_trait::async_trait;
use pingora::apps::{HttpServerApp, ServerApp};
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::{GetSocketDigest, SocketDigest, Stream};
use pingora::proxy::HttpProxy;
use pingora::server::ShutdownWatch;
use tracing::Instrument;

use crate::exchange::mode_label;
use crate::head::{parse_proxy_authorization, read_first_head, HeadError};
use crate::http_proxy::AarmorHttp;
use crate::listeners::accepted;
use crate::plane::Plane;
use crate::refusal::Refusal;

mod connect;
mod intercept;
mod transparent;

use connect::{read_tunnel_start, TunnelStart};
use intercept::Splice;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    Explicit,
    Transparent,
}

impl ListenerKind {
    fn label(self) -> &'static str {
        match self {
            Self::Explicit => "explicit",
            Self::Transparent => "transparent",
        }
    }
}

pub struct FrontEnd {
    pub kind: ListenerKind,
    pub plane: Arc<Plane>,
    pub http: Arc<HttpProxy<AarmorHttp>>,
}

/// Who is on the other end of a client connection, as far as the front end knows.
struct Peer {
    addr: Option<SocketAddr>,
    credential: Option<ProxyCredential>,
    cert: Option<ClientCertificate>,
}

struct ActiveGuard(prometheus::IntGauge);
impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[async_trait]
impl ServerApp for FrontEnd {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let (l4, peer) = accepted(stream)?;
        // A connection relayed from the TLS proxy listener stands for its real client.
        let (client, client_cert) = match peer.and_then(|p| self.plane.relayed.lookup(p)) {
            Some((real, cert)) if self.kind == ListenerKind::Explicit => (real, cert),
            _ => (peer, None),
        };
        self.plane.metrics.connections_active.inc();
        let _active = ActiveGuard(self.plane.metrics.connections_active.clone());
        let span = tracing::info_span!("conn", client = %client.map(|a| a.to_string()).unwrap_or_default(), listener = self.kind.label(), target = tracing::field::Empty);
        match self.kind {
            ListenerKind::Explicit => {
                self.explicit(l4, client, client_cert, shutdown)
                    .instrument(span)
                    .await
            }
            ListenerKind::Transparent => {
                self.transparent(l4, client, shutdown)
                    .instrument(span)
                    .await
            }
        }
        None
    }

    async fn cleanup(&self) {
        self.http.http_cleanup().await;
    }
}

impl FrontEnd {
    fn timeout(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    async fn explicit(
        self: &Arc<Self>,
        mut l4: L4Stream,
        client: Option<SocketAddr>,
        client_cert: Option<ClientCertificate>,
        shutdown: &ShutdownWatch,
    ) {
        let settings = &self.plane.proxy;
        let metrics = &self.plane.metrics;
        let (head, buf) = match read_first_head(
            &mut l4,
            settings.max_header_bytes,
            Self::timeout(settings.header_read_timeout_ms),
        )
        .await
        {
            Ok(v) => v,
            Err(HeadError::Closed) => return,
            Err(HeadError::Io(e)) => {
                tracing::debug!(error = %e, "client read failed");
                return;
            }
            Err(e @ HeadError::TooLarge(_)) => {
                tracing::warn!(error = %e, "refusing client: request head too large");
                return Refusal::HeadTooLarge(e.to_string())
                    .send(&mut l4, metrics)
                    .await;
            }
            Err(e @ HeadError::Timeout(_)) => {
                tracing::warn!(error = %e, "closing slow client");
                return Refusal::HeadTimeout(e.to_string())
                    .send(&mut l4, metrics)
                    .await;
            }
            Err(e @ HeadError::Malformed(_)) => {
                tracing::warn!(error = %e, "refusing client: malformed request");
                return Refusal::Malformed(e.to_string())
                    .send(&mut l4, metrics)
                    .await;
            }
        };
        let credential = head
            .proxy_authorization
            .as_deref()
            .and_then(parse_proxy_authorization);
        // A credential is accepted only when a registered agent holds it: a present but wrong
        // one is no better than none.
        let known = credential
            .as_ref()
            .is_some_and(|c| self.plane.mediator.knows_proxy_credential(c));
        if settings.require_proxy_auth && !known {
            tracing::warn!(
                presented = head.proxy_authorization.is_some(),
                "proxy authentication required: no credential of a registered agent"
            );
            return Refusal::ProxyAuthRequired.send(&mut l4, metrics).await;
        }
        if head.method.eq_ignore_ascii_case("CONNECT") {
            return self
                .connect(
                    l4,
                    &head.target,
                    &buf[head.len..],
                    Peer {
                        addr: client,
                        credential,
                        cert: client_cert,
                    },
                    shutdown,
                )
                .await;
        }
        let lower = head.target.to_ascii_lowercase();
        if lower.starts_with("http://") {
            tracing::Span::current().record("target", head.target.as_str());
            l4.rewind(&buf);
            let facts = ConnectionFacts {
                client_addr: client,
                mode: ConnectionMode::ForwardHttp,
                target: None,
                sni: None,
                credential,
                client_cert,
            };
            return self.serve_http(l4, facts, shutdown).await;
        }
        let detail = if lower.starts_with("https://") {
            "https:// URLs must be requested through CONNECT (set HTTPS_PROXY, not a plain request to the proxy)".to_string()
        } else {
            format!(
                "{} {} is not a proxy request: send CONNECT host:port or an absolute http:// URL",
                head.method, head.target
            )
        };
        tracing::warn!(%detail, "refusing non-proxy request");
        Refusal::NotAProxyRequest(detail)
            .send(&mut l4, metrics)
            .await
    }

    async fn serve_http(
        self: &Arc<Self>,
        l4: L4Stream,
        facts: ConnectionFacts,
        shutdown: &ShutdownWatch,
    ) {
        let digest = l4.get_socket_digest();
        self.serve_stream(Box::new(l4), digest, facts, shutdown)
            .await
    }

    async fn serve_stream(
        self: &Arc<Self>,
        stream: Stream,
        digest: Option<Arc<SocketDigest>>,
        facts: ConnectionFacts,
        shutdown: &ShutdownWatch,
    ) {
        let Some(digest) = digest else {
            tracing::error!("cannot identify the connection (no socket digest); closing");
            return;
        };
        self.plane
            .metrics
            .connections
            .with_label_values(&[self.kind.label(), mode_label(facts.mode)])
            .inc();
        let _registration = self.plane.facts.register(&digest, facts);
        let _ = ServerApp::process_new(&self.http, stream, shutdown).await;
    }
}

#[cfg(test)]
mod tests {

    use super::connect::connect_target;

    #[test]
    fn connect_targets() {
        assert_eq!(
            connect_target("api.test:443"),
            Some(("api.test".into(), 443))
        );
        assert_eq!(connect_target("[::1]:8443"), Some(("::1".into(), 8443)));
        assert_eq!(connect_target("api.test"), None, "port is required");
        assert_eq!(connect_target("api.test:0"), None);
        assert_eq!(connect_target("a b:1"), None);
        assert_eq!(
            connect_target("API.Test.:443"),
            Some(("api.test".into(), 443)),
            "one spelling per host"
        );
        assert_eq!(connect_target("2130706433:443"), None);
        assert_eq!(connect_target("0x7f.1:443"), None);
    }
}
