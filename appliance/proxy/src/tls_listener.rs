//! The TLS proxy listener (`[proxy] tls_listen`; agents set `HTTPS_PROXY=https://aarmor:3129`):
//! agents speak TLS to aarmor itself, optionally presenting a client certificate (mTLS to the
//! proxy listener). The decrypted stream is relayed over loopback to the explicit listener,
//! which serves it like any explicit-proxy connection (CONNECT, interception, bypass, 407...);
//! the relay registers the real client address and certificate under the relay socket's local
//! address, and the explicit listener binds them to the connection.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;

use crate::mint::ConnectionResolver;
use crate::plane::Plane;

/// Where a client certificate lands during the handshake.
type CertSlot = Arc<Mutex<Option<rustls::pki_types::CertificateDer<'static>>>>;

/// Where the relay reaches the explicit listener.
pub fn relay_target(listen: SocketAddr) -> SocketAddr {
    match listen {
        SocketAddr::V4(a) if a.ip().is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, a.port()))
        }
        SocketAddr::V6(a) if a.ip().is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, a.port()))
        }
        other => other,
    }
}

/// A socket bound to an ephemeral port on the target's own address.
fn bound_socket(target: SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = if target.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(target.ip(), 0))?;
    Ok(socket)
}

pub struct TlsProxyFront {
    pub plane: Arc<Plane>,
    /// The listener's own address: the certificate name when the client sends no SNI.
    pub listen: SocketAddr,
}

impl TlsProxyFront {
    fn config(&self) -> Result<(rustls::ServerConfig, Option<CertSlot>), rustls::Error> {
        let resolver = Arc::new(ConnectionResolver {
            minter: self.plane.minter.clone(),
            fallback_name: Some(self.listen.ip().to_string()),
        });
        let (mut config, slot) = match &self.plane.client_verifier {
            Some(v) => {
                let capture = crate::mtls::CapturingVerifier::new(v.clone());
                let slot = capture.slot();
                (
                    crate::mtls::with_client_auth(
                        &self.plane.tls_template,
                        Arc::new(capture),
                        resolver,
                    )?,
                    Some(slot),
                )
            }
            None => {
                let mut config = (*self.plane.tls_template).clone();
                config.cert_resolver = resolver;
                (config, None)
            }
        };
        // The proxy protocol is HTTP/1.1 (CONNECT and absolute-form requests).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok((config, slot))
    }
}

#[async_trait]
impl ServerApp for TlsProxyFront {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        _shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let (l4, client) = crate::listeners::accepted(stream)?;
        let metrics = &self.plane.metrics;
        let (config, slot) = match self.config() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the TLS listener's configuration; closing");
                return None;
            }
        };
        let deadline = Duration::from_millis(self.plane.proxy.tls_handshake_timeout_ms);
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let mut tls = match tokio::time::timeout(deadline, acceptor.accept(l4)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                metrics.tls_handshakes.with_label_values(&["error"]).inc();
                tracing::warn!(client = ?client, error = %e, "TLS handshake on the proxy's TLS listener failed");
                return None;
            }
            Err(_) => {
                metrics.tls_handshakes.with_label_values(&["timeout"]).inc();
                tracing::warn!(client = ?client, "TLS handshake on the proxy's TLS listener timed out");
                return None;
            }
        };
        metrics.tls_handshakes.with_label_values(&["ok"]).inc();
        let cert = slot
            .and_then(|s| s.lock().ok().and_then(|mut c| c.take()))
            .and_then(|der| crate::mtls::describe(&der));
        let target = relay_target(self.plane.proxy.listen);
        // Bound first, registered, then connected: the explicit listener finds the entry as
        // soon as it accepts.
        let socket = match bound_socket(target) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(%target, error = %e, "cannot open the relay socket; closing");
                return None;
            }
        };
        let Ok(local) = socket.local_addr() else {
            return None;
        };
        let _registration = self.plane.relayed.register(local, client, cert);
        let mut inner = match socket.connect(target).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(%target, error = %e, "cannot relay to the explicit listener; closing");
                return None;
            }
        };
        let _ = inner.set_nodelay(true);
        if let Err(e) = tokio::io::copy_bidirectional(&mut tls, &mut inner).await {
            tracing::debug!(error = %e, "TLS listener relay ended");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listeners::Relayed;

    #[test]
    fn relays_reach_the_explicit_listener_on_loopback() {
        assert_eq!(
            relay_target("0.0.0.0:3128".parse().unwrap()),
            "127.0.0.1:3128".parse().unwrap()
        );
        assert_eq!(
            relay_target("[::]:3128".parse().unwrap()),
            "[::1]:3128".parse().unwrap()
        );
        assert_eq!(
            relay_target("10.0.0.5:3128".parse().unwrap()),
            "10.0.0.5:3128".parse().unwrap()
        );
    }

    #[test]
    fn only_live_relay_sockets_are_recognised() {
        let t = Relayed::default();
        let local: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        let real: SocketAddr = "10.1.2.3:5555".parse().unwrap();
        {
            let _r = t.register(local, Some(real), None);
            assert_eq!(t.lookup(local).unwrap().0, Some(real));
            assert!(t.lookup("10.9.9.9:40001".parse().unwrap()).is_none());
        }
        assert!(t.lookup(local).is_none(), "gone with the relay");
    }
}
