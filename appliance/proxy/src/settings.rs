//! Data-plane settings: the `[proxy]`, `[upstream]` and `[admin]` sections of the config file.
//!
//! Every field has a default; `deny_unknown_fields` turns typos into errors that name the key.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::bypass::BypassRule;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxySettings {
    /// Explicit proxy listener (CONNECT and absolute-form HTTP).
    pub listen: SocketAddr,
    /// Listener for kernel-redirected (nftables/iptables REDIRECT) connections; off when absent.
    pub transparent_listen: Option<SocketAddr>,
    /// TLS proxy listener (`HTTPS_PROXY=https://...`): agents speak TLS to aarmor itself,
    /// optionally with a client certificate (`client_ca_file`); off when absent.
    pub tls_listen: Option<SocketAddr>,
    /// Hosts (`api.bank.example`), wildcard domains (`*.pinned.example`, subdomains only) and
    /// IPs/CIDRs (`203.0.113.0/24`) that are spliced byte-for-byte, never decrypted.
    pub bypass: Vec<BypassRule>,
    /// Answer 407 to clients that send no usable `Proxy-Authorization` (Basic or Bearer).
    pub require_proxy_auth: bool,
    /// PEM CA(s) whose client certificates identify agents (optional mTLS on intercepted TLS:
    /// URI SANs such as SPIFFE ids, DNS SANs or the common name name the agent). Off when absent.
    pub client_ca_file: Option<PathBuf>,
    /// With `client_ca_file`: refuse TLS clients that present no certificate.
    pub require_client_cert: bool,
    /// Offer HTTP/2 to clients by ALPN on intercepted TLS.
    pub http2: bool,
    /// Worker threads of the proxy listeners; 0 = one per CPU.
    pub threads: usize,
    /// Deadline for a client to send its first request head (slowloris guard), ms.
    pub header_read_timeout_ms: u64,
    /// Deadline for the client's TLS handshake with aarmor, ms.
    pub tls_handshake_timeout_ms: u64,
    /// Largest first request head (request line + headers) accepted from a client, bytes.
    pub max_header_bytes: usize,
    /// Largest request or response body the mediator may ask to inspect; larger is refused, bytes.
    pub max_inspect_body_bytes: usize,
    /// Most bytes held for inspection at once by all exchanges; past it exchanges are refused
    /// (503), bytes.
    pub max_inspect_total_bytes: usize,
    /// Most bytes held for inspection at once for one client (its proxy credential, else its
    /// address); past it its exchanges are refused (429), bytes.
    pub max_inspect_client_bytes: usize,
    /// Number of minted leaf certificates kept in memory.
    pub leaf_cache_size: usize,
    /// Idle keep-alive timeout of client connections, seconds.
    pub client_keepalive_s: u64,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3128)),
            transparent_listen: None,
            tls_listen: None,
            bypass: Vec::new(),
            require_proxy_auth: false,
            client_ca_file: None,
            require_client_cert: false,
            http2: true,
            threads: 0,
            header_read_timeout_ms: 10_000,
            tls_handshake_timeout_ms: 10_000,
            max_header_bytes: 64 * 1024,
            max_inspect_body_bytes: 10 * 1024 * 1024,
            max_inspect_total_bytes: 512 * 1024 * 1024,
            max_inspect_client_bytes: 128 * 1024 * 1024,
            leaf_cache_size: 10_000,
            client_keepalive_s: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamSettings {
    /// Extra PEM CA files trusted for upstream servers, in addition to the system roots.
    pub ca_files: Vec<PathBuf>,
    /// TCP (and TLS) connect deadline towards upstreams, ms.
    pub connect_timeout_ms: u64,
    /// Deadline between two reads from an upstream (LLM responses can be slow), ms.
    pub read_timeout_ms: u64,
    /// How long an idle pooled upstream connection is kept, seconds.
    pub idle_timeout_s: u64,
    /// Idle upstream connections kept per worker.
    pub pool_size: usize,
    /// Link-local, metadata and other special addresses (169.254.0.0/16, fe80::/10,
    /// fd00:ec2::254, 0.0.0.0, multicast) that aarmor may connect to: none by default, so an agent
    /// cannot reach a cloud metadata service through the proxy. Listed as CIDRs.
    pub allow_special_destinations: Vec<ipnet::IpNet>,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            ca_files: Vec::new(),
            connect_timeout_ms: 10_000,
            read_timeout_ms: 300_000,
            idle_timeout_s: 60,
            pool_size: 128,
            allow_special_destinations: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// Admin listener: `GET /healthz`, `GET /metrics`. Never the proxy listener.
    pub listen: SocketAddr,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
        }
    }
}
