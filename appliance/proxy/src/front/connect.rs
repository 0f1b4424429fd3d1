//! `CONNECT` tunnels: the target, the first bytes inside the tunnel (TLS, plain HTTP or
//! garbage), and what becomes of the tunnel: intercepted, spliced or refused.

use std::sync::Arc;
use std::time::Duration;

use aarmor_core::{ConnectionFacts, ConnectionMode, Target};
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::bypass::is_bypassed;
use crate::refusal::Refusal;
use crate::sni::{looks_like_http, peek_client_hello, HelloPeek, MAX_HELLO_BYTES};

/// What the first bytes of a tunnel (or redirected connection) turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TunnelStart {
    Tls { server_name: Option<String> },
    Http,
    Garbage(String),
}

/// Split a CONNECT authority `host:port` (port required), the host in its canonical spelling
/// (see `aarmor_core::host`): a host resolvers would read as another number is refused.
pub(super) fn connect_target(target: &str) -> Option<(String, u16)> {
    match crate::upstream::parse_authority(target)? {
        (host, Some(port)) if port != 0 => Some((aarmor_core::host::canonical(&host).ok()?, port)),
        _ => None,
    }
}

/// Read the first bytes of a tunnel until they identify TLS (with the whole ClientHello) or HTTP.
pub(super) async fn read_tunnel_start(
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
    pub(super) async fn connect(
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
}
