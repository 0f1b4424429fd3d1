//! What the data plane knows about one client connection before any request is read.

use std::fmt;
use std::net::SocketAddr;

/// How a connection reached the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionMode {
    /// `CONNECT host:port` on the explicit listener, then TLS terminated by aarmor.
    ConnectIntercepted,
    /// `CONNECT host:port` followed by plain HTTP inside the tunnel.
    ConnectPlain,
    /// Absolute-form plain HTTP (`GET http://host/path`) on the explicit listener.
    ForwardHttp,
    /// Redirected by the kernel (nftables/iptables) to the transparent listener, TLS terminated.
    TransparentTls,
    /// Redirected by the kernel, plain HTTP.
    TransparentHttp,
}

impl ConnectionMode {
    /// Whether the client spoke TLS to aarmor (and aarmor speaks TLS to the upstream).
    pub fn is_tls(self) -> bool {
        matches!(self, Self::ConnectIntercepted | Self::TransparentTls)
    }
}

/// Where a connection is going, as far as the front end could tell before the first request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name (or IP literal) the client asked for: CONNECT authority or TLS SNI.
    pub host: String,
    /// TCP port the client asked for (for a transparent connection, the kernel-reported one).
    pub port: u16,
    /// Resolved (or kernel-reported original) address to dial.
    pub addr: SocketAddr,
    /// The host's other addresses, dialled in turn when connecting to `addr` fails (none for a
    /// transparent connection: the kernel names its one destination).
    pub alternates: Vec<SocketAddr>,
}

/// Credentials the client presented in `Proxy-Authorization`. Kept for identity binding;
/// never forwarded upstream, never logged.
#[derive(Clone, PartialEq, Eq)]
pub enum ProxyCredential {
    /// `Basic` user and password.
    Basic {
        /// The user name; never empty when parsed from the header. Loggable.
        user: String,
        /// The password, possibly empty. Never logged.
        password: String,
    },
    /// A `Bearer` token.
    Bearer {
        /// The token as sent; never empty when parsed from the header. Never logged.
        token: String,
    },
}

impl ProxyCredential {
    /// A loggable principal name: the Basic user, or `bearer` for tokens.
    pub fn principal(&self) -> &str {
        match self {
            Self::Basic { user, .. } => user,
            Self::Bearer { .. } => "bearer",
        }
    }
}

impl fmt::Debug for ProxyCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { user, .. } => write!(f, "Basic({user}, <redacted>)"),
            Self::Bearer { .. } => write!(f, "Bearer(<redacted>)"),
        }
    }
}

/// Per-connection facts, established by the front end and visible to every request on it.
#[derive(Debug, Clone)]
pub struct ConnectionFacts {
    /// The client's address; `None` when the listener could not tell.
    pub client_addr: Option<SocketAddr>,
    /// How the connection reached the proxy; says whether it is TLS.
    pub mode: ConnectionMode,
    /// Known for CONNECT and transparent connections; for forward HTTP each request names its own.
    pub target: Option<Target>,
    /// Server name the client sent in its TLS ClientHello, if any.
    pub sni: Option<String>,
    /// Parsed from `Proxy-Authorization` of the first request on the explicit listener; `None` on
    /// the transparent listener, or when absent or malformed.
    pub credential: Option<ProxyCredential>,
    /// The certificate the client presented in the TLS handshake with aarmor, verified against
    /// the configured client CA (optional mTLS).
    pub client_cert: Option<ClientCertificate>,
}

/// What identity binding needs from a verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientCertificate {
    /// URI subject alternative names (SPIFFE ids: `spiffe://trust-domain/workload`).
    pub uri_sans: Vec<String>,
    /// DNS subject alternative names.
    pub dns_sans: Vec<String>,
    /// The subject's common name, if any.
    pub common_name: Option<String>,
    /// sha256 of the DER certificate, hex.
    pub fingerprint: String,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_debug_never_shows_secrets() {
        let basic = ProxyCredential::Basic {
            user: "agent-7".into(),
            password: "hunter2".into(),
        };
        let bearer = ProxyCredential::Bearer {
            token: "tok-secret".into(),
        };
        let shown = format!("{basic:?} {bearer:?}");
        assert!(shown.contains("agent-7"));
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("tok-secret"));
        assert_eq!(bearer.principal(), "bearer");
    }

    #[test]
    fn tls_modes() {
        assert!(ConnectionMode::ConnectIntercepted.is_tls());
        assert!(ConnectionMode::TransparentTls.is_tls());
        assert!(!ConnectionMode::ForwardHttp.is_tls());
        assert!(!ConnectionMode::ConnectPlain.is_tls());
    }
}
