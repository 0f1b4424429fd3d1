//! Kernel-redirected connections (transparent mode): the original destination, and the same
//! choices as a tunnel: intercepted, spliced or refused.

use std::net::SocketAddr;
use std::sync::Arc;

use aarmor_core::{ConnectionFacts, ConnectionMode, Target};
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::GetSocketDigest;
use pingora::server::ShutdownWatch;

use super::*;
use crate::bypass::{bypass_match, is_bypassed, BypassMatch};

impl FrontEnd {
    pub(super) async fn transparent(
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
}
