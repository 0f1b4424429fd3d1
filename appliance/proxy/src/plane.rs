//! State shared by every listener and request of one running data plane.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aarmor_core::SyntheticResponse;
use aarmor_mediation::{MediationError, Mediator};

use crate::facts::FactsTable;
use crate::metrics::Metrics;
use crate::mint::LeafMinter;
use crate::settings::{ProxySettings, UpstreamSettings};
use aarmor_mediation::MediationSettings;

pub struct Plane {
    pub proxy: ProxySettings,
    pub upstream: UpstreamSettings,
    pub mediation: MediationSettings,
    pub mediator: Arc<dyn Mediator>,
    pub metrics: Arc<Metrics>,
    pub facts: Arc<FactsTable>,
    pub minter: Arc<LeafMinter>,
    /// Template for per-connection TLS configs (shared session cache and ticketer).
    pub tls_template: Arc<rustls::ServerConfig>,
    /// Verifier of client certificates (optional mTLS), wrapped per connection.
    pub client_verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    /// Upstream connector for exchanges that aarmor drives itself (inspected bodies).
    pub connector: pingora::connectors::http::Connector,
    /// Connections relayed from the TLS proxy listener: their real client and certificate.
    pub relayed: crate::listeners::Relayed,
    /// The admin listener, which no proxied connection may reach.
    pub admin_listen: std::net::SocketAddr,
    /// Addresses of the hosts configuration names (requests by address are judged as them).
    pub host_names: Arc<crate::host_names::HostNames>,
    /// Bytes held for inspection, bounded in all and per client.
    pub budget: Arc<crate::budget::InspectBudget>,
    /// Addresses a connection to which just failed (dialled last).
    pub dial: crate::dial::DialMemory,
    /// Recent answers of `resolves_to`.
    resolved: std::sync::Mutex<
        std::collections::HashMap<String, (Vec<std::net::IpAddr>, std::time::Instant)>,
    >,
    next_exchange: AtomicU64,
}

impl Plane {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        proxy: ProxySettings,
        upstream: UpstreamSettings,
        mediation: MediationSettings,
        mediator: Arc<dyn Mediator>,
        metrics: Arc<Metrics>,
        minter: Arc<LeafMinter>,
        tls_template: Arc<rustls::ServerConfig>,
        client_verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
        connector: pingora::connectors::http::Connector,
        admin_listen: std::net::SocketAddr,
    ) -> Self {
        let host_names =
            crate::host_names::HostNames::new(mediation.protocol_config().named_hosts());
        host_names.start();
        let budget = crate::budget::InspectBudget::new(
            proxy.max_inspect_total_bytes,
            proxy.max_inspect_client_bytes,
        );
        Self {
            host_names,
            budget,
            resolved: Default::default(),
            dial: Default::default(),
            proxy,
            upstream,
            mediation,
            mediator,
            metrics,
            facts: Arc::new(FactsTable::default()),
            minter,
            tls_template,
            client_verifier,
            connector,
            admin_listen,
            relayed: Default::default(),
            next_exchange: AtomicU64::new(1),
        }
    }

    /// Why aarmor must not connect to `addr` for an agent, if it must not: one of its own
    /// listeners (the admin listener, where approvals are answered, or a proxy listener: a loop),
    /// or a link-local, metadata or other special address not listed in
    /// `[upstream] allow_special_destinations`.
    pub fn forbidden_destination(&self, addr: std::net::SocketAddr) -> Option<String> {
        let ip = aarmor_core::host::canonical_ip(addr.ip());
        let own = [
            Some(("the admin listener", self.admin_listen)),
            Some(("the proxy listener", self.proxy.listen)),
            self.proxy.tls_listen.map(|l| ("the TLS proxy listener", l)),
            self.proxy
                .transparent_listen
                .map(|l| ("the transparent listener", l)),
        ];
        for (name, listener) in own.into_iter().flatten() {
            if listener.port() == addr.port() && reaches(listener, ip) {
                return Some(format!("{addr} is aarmor's own {name}"));
            }
        }
        if aarmor_core::host::is_link_local_or_special(ip)
            && !self
                .upstream
                .allow_special_destinations
                .iter()
                .any(|net| net.contains(&ip))
        {
            return Some(format!(
                "{ip} is a link-local, metadata or special address (allow it in upstream.allow_special_destinations)"
            ));
        }
        None
    }

    /// The refusal (403, decided and receipted by the mediator) of a connection to `addr` for a
    /// client, when `addr` is a [forbidden destination](Self::forbidden_destination); `None`
    /// when aarmor may connect there.
    pub async fn refuse_destination(
        &self,
        client: Option<std::net::SocketAddr>,
        credential: Option<&aarmor_core::ProxyCredential>,
        host: &str,
        addr: std::net::SocketAddr,
    ) -> Option<SyntheticResponse> {
        let reason = self.forbidden_destination(addr)?;
        self.metrics
            .client_errors
            .with_label_values(&["forbidden_destination"])
            .inc();
        tracing::warn!(%addr, %reason, "connection to a forbidden destination refused");
        Some(
            self.mediator
                .on_forbidden_destination(client, credential, host, addr, &reason)
                .await,
        )
    }

    /// The refusal of a connection to `host` when any of its addresses is a forbidden
    /// destination (a name that also resolves to the metadata address or to aarmor itself is
    /// refused whole: the address dialled must not depend on which one answers).
    pub async fn refuse_destinations(
        &self,
        client: Option<std::net::SocketAddr>,
        credential: Option<&aarmor_core::ProxyCredential>,
        host: &str,
        addrs: &[std::net::SocketAddr],
    ) -> Option<SyntheticResponse> {
        for addr in addrs {
            if let Some(refusal) = self
                .refuse_destination(client, credential, host, *addr)
                .await
            {
                return Some(refusal);
            }
        }
        None
    }

    /// Whether `host` resolves to `ip` (aarmor's resolver; answers cached for a minute, bounded).
    pub async fn resolves_to(&self, host: &str, ip: std::net::IpAddr) -> bool {
        const TTL: Duration = Duration::from_secs(60);
        const MAX: usize = 4096;
        if let Ok(cache) = self.resolved.lock() {
            if let Some((addrs, at)) = cache.get(host) {
                if at.elapsed() < TTL {
                    return addrs.contains(&ip);
                }
            }
        }
        let deadline = Duration::from_millis(self.upstream.connect_timeout_ms);
        let addrs: Vec<std::net::IpAddr> =
            match tokio::time::timeout(deadline, tokio::net::lookup_host((host, 0))).await {
                Ok(Ok(a)) => a.map(|s| aarmor_core::host::canonical_ip(s.ip())).collect(),
                _ => Vec::new(),
            };
        let found = addrs.contains(&ip);
        if let Ok(mut cache) = self.resolved.lock() {
            if cache.len() >= MAX {
                cache.clear();
            }
            cache.insert(host.to_string(), (addrs, std::time::Instant::now()));
        }
        found
    }

    pub fn next_exchange_id(&self) -> u64 {
        self.next_exchange.fetch_add(1, Ordering::Relaxed)
    }

    /// Budget of a call on a request head: one decision.
    pub fn head_budget(&self) -> Duration {
        self.mediation.decision_timeout()
    }

    /// Budget of a call on a body or a response: decisions that may be held.
    pub fn inspect_budget(&self) -> Duration {
        self.mediation.decision_timeout() + self.mediation.max_hold()
    }

    /// Run one mediation call within `budget`. Errors and timeouts become the refusal the
    /// client receives: the exchange fails closed.
    pub async fn mediate<T>(
        &self,
        stage: &'static str,
        budget: Duration,
        call: impl std::future::Future<Output = Result<T, MediationError>>,
    ) -> Result<T, SyntheticResponse> {
        let mut call = std::pin::pin!(call);
        // Most decisions are ready at the first poll: no timer is armed for them.
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
        let outcome = match first {
            std::task::Poll::Ready(result) => Ok(result),
            std::task::Poll::Pending => tokio::time::timeout(budget, call).await,
        };
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.metrics
                    .mediation
                    .failures
                    .with_label_values(&["error"])
                    .inc();
                tracing::warn!(stage, mediator = self.mediator.name(), error = %e, "mediation failed; refusing the request (fail closed)");
                Err(SyntheticResponse::problem(
                    503,
                    "mediation-failed",
                    "Refused: the request could not be mediated",
                    &format!("{stage}: {e}"),
                ))
            }
            Err(_) => {
                self.metrics
                    .mediation
                    .failures
                    .with_label_values(&["timeout"])
                    .inc();
                tracing::warn!(
                    stage,
                    mediator = self.mediator.name(),
                    timeout_ms = budget.as_millis() as u64,
                    "mediation timed out; refusing the request (fail closed)"
                );
                Err(SyntheticResponse::problem(
                    503,
                    "mediation-timeout",
                    "Refused: the request could not be mediated in time",
                    &format!("{stage}: no decision within {} ms", budget.as_millis()),
                ))
            }
        }
    }
}

/// Whether a connection to `ip` on the listener's port reaches the listener: its own address,
/// any address of this host when it listens on all of them, loopback when it listens there.
fn reaches(listener: std::net::SocketAddr, ip: std::net::IpAddr) -> bool {
    let bound = aarmor_core::host::canonical_ip(listener.ip());
    if ip == bound || ip.is_unspecified() {
        return true;
    }
    if ip.is_loopback() && (bound.is_loopback() || bound.is_unspecified()) {
        return true;
    }
    // Bound to every address: is `ip` one of this host's? Only a local address can be bound.
    bound.is_unspecified() && std::net::UdpSocket::bind((ip, 0)).is_ok()
}
