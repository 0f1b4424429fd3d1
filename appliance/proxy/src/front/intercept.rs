//! Interception (TLS terminated with a minted leaf, the stream handed to the HTTP engine) and
//! splicing (bytes copied both ways, unmediated, after the decision to splice was receipted).

use std::net::SocketAddr;
use std::sync::Arc;

use aarmor_core::{ConnectionFacts, ProxyCredential};
use pingora::listeners::tls::Acceptor;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::GetSocketDigest;
use pingora::server::ShutdownWatch;
use tokio::io::AsyncWriteExt;

use super::*;
use crate::mint::ConnectionResolver;
use crate::refusal::Refusal;

/// A connection to splice, and why.
pub(super) struct Splice<'a> {
    pub(super) client: Option<SocketAddr>,
    pub(super) credential: Option<&'a ProxyCredential>,
    pub(super) host: &'a str,
    pub(super) addr: SocketAddr,
    /// The host's other addresses, dialled in turn when `addr` cannot be reached.
    pub(super) alternates: &'a [SocketAddr],
    pub(super) why: &'a str,
}

impl FrontEnd {
    /// Terminate the client's TLS with a minted leaf, then serve HTTP on the decrypted stream.
    pub(super) async fn intercept(
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

    /// Byte-for-byte splice, no TLS termination (bypass), once the mediator has decided it
    /// (a `connect` action, receipted): a refused one is closed (403 to a CONNECT).
    pub(super) async fn splice(
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
