//! The front end: the first bytes of every client connection. It classifies the connection
//! (CONNECT, absolute-form HTTP, or kernel-redirected), applies the pre-TLS decisions
//! (407, bypass splice, refusal of garbage), terminates TLS with a minted leaf, records the
//! connection's facts and hands the stream to the shared HTTP engine.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aarmor_core::{ClientCertificate, ConnectionFacts, ConnectionMode, ProxyCredential, Target};
use async_trait::async_trait;
use pingora::apps::{HttpServerApp, ServerApp};
use pingora::listeners::tls::Acceptor;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::{GetSocketDigest, SocketDigest, Stream};
use pingora::proxy::HttpProxy;
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::Instrument;

use crate::bypass::{bypass_match, is_bypassed, BypassMatch};
use crate::exchange::mode_label;
use crate::head::{parse_proxy_authorization, read_first_head, HeadError};
use crate::http_proxy::AarmorHttp;
use crate::listeners::accepted;
use crate::mint::ConnectionResolver;
use crate::plane::Plane;
use crate::refusal::Refusal;
use crate::sni::{looks_like_http, peek_client_hello, HelloPeek, MAX_HELLO_BYTES};

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

/// A connection to splice, and why.
struct Splice<'a> {
    client: Option<SocketAddr>,
    credential: Option<&'a ProxyCredential>,
    host: &'a str,
    addr: SocketAddr,
    /// The host's other addresses, dialled in turn when `addr` cannot be reached.
    alternates: &'a [SocketAddr],
    why: &'a str,
}

/// What the first bytes of a tunnel (or redirected connection) turned out to be.
#[derive(Debug, PartialEq, Eq)]
enum TunnelStart {
    Tls { server_name: Option<String> },
    Http,
    Garbage(String),
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

/// Split a CONNECT authority `host:port` (port required), the host in its canonical spelling
/// (see `aarmor_core::host`): a host resolvers would read as another number is refused.
fn connect_target(target: &str) -> Option<(String, u16)> {
    match crate::upstream::parse_authority(target)? {
        (host, Some(port)) if port != 0 => Some((aarmor_core::host::canonical(&host).ok()?, port)),
        _ => None,
    }
}

/// Read the first bytes of a tunnel until they identify TLS (with the whole ClientHello) or HTTP.
async fn read_tunnel_start(
    l4: &mut L4Stream,
    mut buf: Vec<u8>,
    deadline: Duration,
) -> Result<(Vec<u8>, TunnelStart), String> {
    let classify = |buf: &[u8]| -> Option<TunnelStart> {
        let first = *buf.first()?;
        if first == 0x16 {
            return match peek_client_hello(buf) {
                HelloPeek::Complete { server_name } => Some(TunnelStart::Tls { server_name }),
                HelloPeek::Incomplete if buf.len() < MAX_HELLO_BYTES => None,
                HelloPeek::Incomplete => Some(TunnelStart::Garbage("ClientHello too large".into())),
                HelloPeek::NotTls(e) => Some(TunnelStart::Garbage(format!(
                    "invalid TLS ClientHello: {e}"
                ))),
            };
        }
        if looks_like_http(buf) {
            return Some(TunnelStart::Http);
        }
        if buf.len() < 12 && buf.iter().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        Some(TunnelStart::Garbage(format!(
            "{} bytes that are neither TLS nor HTTP",
            buf.len()
        )))
    };
    let read = async {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(start) = classify(&buf) {
                return Ok(start);
            }
            let n = l4
                .read(&mut chunk)
                .await
                .map_err(|e| format!("read error: {e}"))?;
            if n == 0 {
                return Err("client closed the tunnel before sending anything usable".to_string());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    let start = tokio::time::timeout(deadline, read)
        .await
        .map_err(|_| format!("client sent nothing usable within {deadline:?}"))??;
    Ok((buf, start))
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

    async fn connect(
        self: &Arc<Self>,
        mut l4: L4Stream,
        target: &str,
        early: &[u8],
        peer: Peer,
        shutdown: &ShutdownWatch,
    ) {
        let Peer {
            addr: client,
            credential,
            cert: client_cert,
        } = peer;
        let settings = &self.plane.proxy;
        tracing::Span::current().record("target", target);
        let Some((host, port)) = connect_target(target) else {
            tracing::warn!(target, "invalid CONNECT target");
            return Refusal::BadConnectTarget(format!("{target:?} is not host:port"))
                .send(&mut l4, &self.plane.metrics)
                .await;
        };
        let addrs = match crate::upstream::resolve(
            &host,
            port,
            Self::timeout(self.plane.upstream.connect_timeout_ms),
        )
        .await
        {
            Ok(a) => self.plane.dial.order(a),
            Err(reason) => {
                tracing::warn!(%reason, "CONNECT target does not resolve");
                return Refusal::UpstreamDns(reason)
                    .send(&mut l4, &self.plane.metrics)
                    .await;
            }
        };
        if let Some(refusal) = self
            .plane
            .refuse_destinations(client, credential.as_ref(), &host, &addrs)
            .await
        {
            return Refusal::Policy(refusal)
                .send(&mut l4, &self.plane.metrics)
                .await;
        }
        // `resolve` answers at least one address.
        let Some((&addr, alternates)) = addrs.split_first() else {
            return;
        };
        if is_bypassed(&settings.bypass, &host, Some(addr.ip())) {
            let splice = Splice {
                client,
                credential: credential.as_ref(),
                host: &host,
                addr,
                alternates,
                why: "a bypass rule matches the CONNECT target",
            };
            return self.splice(l4, early, splice, true).await;
        }
        if l4
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .is_err()
            || l4.flush().await.is_err()
        {
            return;
        }
        let (buf, start) = match read_tunnel_start(
            &mut l4,
            early.to_vec(),
            Self::timeout(settings.header_read_timeout_ms),
        )
        .await
        {
            Ok(v) => v,
            Err(reason) => {
                self.plane
                    .metrics
                    .client_errors
                    .with_label_values(&["tunnel_start"])
                    .inc();
                tracing::warn!(%reason, "closing tunnel");
                return;
            }
        };
        let target = Target {
            host: host.clone(),
            port,
            addr,
            alternates: alternates.to_vec(),
        };
        match start {
            TunnelStart::Tls { server_name } => {
                let facts = ConnectionFacts {
                    client_addr: client,
                    mode: ConnectionMode::ConnectIntercepted,
                    target: Some(target),
                    sni: server_name,
                    credential,
                    client_cert,
                };
                self.intercept(l4, buf, host, facts, shutdown).await
            }
            TunnelStart::Http => {
                l4.rewind(&buf);
                let facts = ConnectionFacts {
                    client_addr: client,
                    mode: ConnectionMode::ConnectPlain,
                    target: Some(target),
                    sni: None,
                    credential,
                    client_cert,
                };
                self.serve_http(l4, facts, shutdown).await
            }
            TunnelStart::Garbage(reason) => {
                self.plane
                    .metrics
                    .client_errors
                    .with_label_values(&["garbage_after_connect"])
                    .inc();
                tracing::warn!(%reason, "garbage after CONNECT; closing");
                let _ = l4.shutdown().await;
            }
        }
    }

    async fn transparent(
        self: &Arc<Self>,
        mut l4: L4Stream,
        client: Option<SocketAddr>,
        shutdown: &ShutdownWatch,
    ) {
        let digest = l4.get_socket_digest();
        let original = digest
            .as_ref()
            .and_then(|d| d.original_dst().and_then(|a| a.as_inet().copied()));
        let local = digest
            .as_ref()
            .and_then(|d| d.local_addr().and_then(|a| a.as_inet().copied()));
        let dst = match original {
            Some(dst) if Some(dst) != local => dst,
            _ => {
                self.plane
                    .metrics
                    .client_errors
                    .with_label_values(&["not_redirected"])
                    .inc();
                tracing::warn!("connection reached the transparent listener without a kernel redirect (no original destination); closing");
                return;
            }
        };
        tracing::Span::current().record("target", dst.to_string().as_str());
        let ip = dst.ip().to_string();
        if self
            .plane
            .refuse_destination(client, None, &ip, dst)
            .await
            .is_some()
        {
            return;
        }
        let (buf, start) = match read_tunnel_start(
            &mut l4,
            Vec::new(),
            Self::timeout(self.plane.proxy.header_read_timeout_ms),
        )
        .await
        {
            Ok(v) => v,
            Err(reason) => {
                self.plane
                    .metrics
                    .client_errors
                    .with_label_values(&["tunnel_start"])
                    .inc();
                tracing::warn!(%reason, "closing redirected connection");
                return;
            }
        };
        let bypass = &self.plane.proxy.bypass;
        let address_bypassed = is_bypassed(bypass, &ip, Some(dst.ip()));
        let by_address = |why| Splice {
            client,
            credential: None,
            host: &ip,
            addr: dst,
            alternates: &[],
            why,
        };
        match start {
            TunnelStart::Tls { server_name } => {
                let host = server_name.clone().unwrap_or_else(|| dst.ip().to_string());
                let splice = |why| Splice {
                    client,
                    credential: None,
                    host: &host,
                    addr: dst,
                    alternates: &[],
                    why,
                };
                match bypass_match(bypass, &host, Some(dst.ip())) {
                    Some(BypassMatch::Address) => {
                        let why = "a bypass rule matches the destination address";
                        return self.splice(l4, &buf, splice(why), false).await;
                    }
                    // The name is the agent's word and so is the address: splice only where
                    // the name really resolves, else intercept (mediated like anything else).
                    Some(BypassMatch::Name)
                        if self
                            .plane
                            .resolves_to(&host, aarmor_core::host::canonical_ip(dst.ip()))
                            .await =>
                    {
                        let why = "a bypass rule matches the TLS server name, which resolves to the destination";
                        return self.splice(l4, &buf, splice(why), false).await;
                    }
                    Some(BypassMatch::Name) => {
                        self.plane
                            .metrics
                            .client_errors
                            .with_label_values(&["bypass_address_mismatch"])
                            .inc();
                        tracing::warn!(sni = %host, %dst, "the bypassed name does not resolve to the destination; intercepting instead of splicing");
                    }
                    None => {}
                }
                let facts = ConnectionFacts {
                    client_addr: client,
                    mode: ConnectionMode::TransparentTls,
                    target: Some(Target {
                        host,
                        port: dst.port(),
                        addr: dst,
                        alternates: Vec::new(),
                    }),
                    sni: server_name,
                    credential: None,
                    client_cert: None,
                };
                self.intercept(l4, buf, dst.ip().to_string(), facts, shutdown)
                    .await
            }
            TunnelStart::Http => {
                if address_bypassed {
                    let why = "a bypass rule matches the destination address";
                    return self.splice(l4, &buf, by_address(why), false).await;
                }
                l4.rewind(&buf);
                let facts = ConnectionFacts {
                    client_addr: client,
                    mode: ConnectionMode::TransparentHttp,
                    target: Some(Target {
                        host: dst.ip().to_string(),
                        port: dst.port(),
                        addr: dst,
                        alternates: Vec::new(),
                    }),
                    sni: None,
                    credential: None,
                    client_cert: None,
                };
                self.serve_http(l4, facts, shutdown).await
            }
            TunnelStart::Garbage(reason) => {
                if address_bypassed {
                    let why = "a bypass rule matches the destination address of a connection that is neither TLS nor HTTP";
                    return self.splice(l4, &buf, by_address(why), false).await;
                }
                self.plane
                    .metrics
                    .client_errors
                    .with_label_values(&["not_tls_or_http"])
                    .inc();
                tracing::warn!(%reason, "redirected connection is neither TLS nor HTTP; closing (fail closed)");
                // Refused with a receipt: what aarmor cannot read does not leave.
                self.plane
                    .mediator
                    .on_forbidden_destination(
                        client,
                        None,
                        &ip,
                        dst,
                        &format!("the connection is neither TLS nor HTTP ({reason}) and no bypass rule splices it"),
                    )
                    .await;
            }
        }
    }

    /// Terminate the client's TLS with a minted leaf, then serve HTTP on the decrypted stream.
    async fn intercept(
        self: &Arc<Self>,
        mut l4: L4Stream,
        buf: Vec<u8>,
        fallback_name: String,
        mut facts: ConnectionFacts,
        shutdown: &ShutdownWatch,
    ) {
        l4.rewind(&buf);
        let digest = l4.get_socket_digest();
        let resolver = Arc::new(ConnectionResolver {
            minter: self.plane.minter.clone(),
            fallback_name: Some(fallback_name),
        });
        let (config, client_cert) = match &self.plane.client_verifier {
            None => {
                let mut config = (*self.plane.tls_template).clone();
                config.cert_resolver = resolver;
                (config, None)
            }
            Some(v) => {
                let capture = crate::mtls::CapturingVerifier::new(v.clone());
                let slot = capture.slot();
                match crate::mtls::with_client_auth(
                    &self.plane.tls_template,
                    Arc::new(capture),
                    resolver,
                ) {
                    Ok(config) => (config, Some(slot)),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot build the TLS config with client authentication; closing");
                        return;
                    }
                }
            }
        };
        let acceptor = Acceptor::from_server_config(Arc::new(config));
        let deadline = Self::timeout(self.plane.proxy.tls_handshake_timeout_ms);
        let tls = match tokio::time::timeout(deadline, acceptor.tls_handshake(l4)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                self.plane
                    .metrics
                    .tls_handshakes
                    .with_label_values(&["error"])
                    .inc();
                tracing::warn!(error = %e, sni = ?facts.sni, "TLS handshake with the client failed (does the client trust the aarmor CA?)");
                return;
            }
            Err(_) => {
                self.plane
                    .metrics
                    .tls_handshakes
                    .with_label_values(&["timeout"])
                    .inc();
                tracing::warn!(?deadline, "client TLS handshake timed out");
                return;
            }
        };
        self.plane
            .metrics
            .tls_handshakes
            .with_label_values(&["ok"])
            .inc();
        // A certificate presented on this TLS (else the one of the TLS proxy listener, if any).
        if let Some(cert) = client_cert
            .and_then(|slot| slot.lock().ok().and_then(|mut s| s.take()))
            .and_then(|der| crate::mtls::describe(&der))
        {
            facts.client_cert = Some(cert);
        }
        self.serve_stream(Box::new(tls), digest, facts, shutdown)
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

    /// Byte-for-byte splice, no TLS termination (bypass), once the mediator has decided it
    /// (a `connect` action, receipted): a refused one is closed (403 to a CONNECT).
    async fn splice(
        self: &Arc<Self>,
        mut l4: L4Stream,
        early: &[u8],
        splice: Splice<'_>,
        answer_connect: bool,
    ) {
        let addr = splice.addr;
        if let Err(refusal) = self
            .plane
            .mediator
            .on_splice(
                splice.client,
                splice.credential,
                splice.host,
                addr,
                splice.why,
            )
            .await
        {
            tracing::warn!(%addr, "bypass splice refused by policy");
            if answer_connect {
                Refusal::Policy(refusal)
                    .send(&mut l4, &self.plane.metrics)
                    .await;
            }
            return;
        }
        let connect = Self::timeout(self.plane.upstream.connect_timeout_ms);
        let mut upstream = None;
        // The last failure, should every address fail.
        let mut failure = (false, String::new());
        for candidate in std::iter::once(addr).chain(splice.alternates.iter().copied()) {
            match tokio::time::timeout(connect, tokio::net::TcpStream::connect(candidate)).await {
                Ok(Ok(s)) => {
                    upstream = Some(s);
                    break;
                }
                Ok(Err(e)) => {
                    tracing::warn!(addr = %candidate, error = %e, "bypass upstream unreachable");
                    failure = (false, format!("{candidate}: {e}"));
                }
                Err(_) => {
                    tracing::warn!(addr = %candidate, "bypass upstream connect timed out");
                    failure = (true, candidate.to_string());
                }
            }
            self.plane.dial.failed(candidate);
        }
        let Some(mut upstream) = upstream else {
            let (timed_out, detail) = failure;
            let refusal = Refusal::UpstreamUnreachable { timed_out, detail };
            if answer_connect {
                refusal.send(&mut l4, &self.plane.metrics).await;
            } else {
                refusal.count(&self.plane.metrics);
            }
            return;
        };
        let _ = upstream.set_nodelay(true);
        if answer_connect
            && (l4
                .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .await
                .is_err()
                || l4.flush().await.is_err())
        {
            return;
        }
        if !early.is_empty() && upstream.write_all(early).await.is_err() {
            return;
        }
        self.plane.metrics.spliced.inc();
        self.plane
            .metrics
            .connections
            .with_label_values(&[self.kind.label(), "bypass"])
            .inc();
        tracing::info!(addr = ?upstream.peer_addr().ok(), "bypass: splicing without interception");
        match tokio::io::copy_bidirectional(&mut l4, &mut upstream).await {
            Ok((up, down)) => {
                tracing::debug!(bytes_up = up, bytes_down = down, "bypass tunnel closed")
            }
            Err(e) => tracing::debug!(error = %e, "bypass tunnel ended with an error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
