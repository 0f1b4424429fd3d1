//! State shared by every listener and request of one running data plane.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aarmor_core::SyntheticResponse;
use aarmor_engine::{MediationError, Mediator};

use crate::facts::FactsTable;
use crate::metrics::Metrics;
use crate::mint::LeafMinter;
use crate::settings::{ProxySettings, UpstreamSettings};

pub struct Plane {
    pub proxy: ProxySettings,
    pub upstream: UpstreamSettings,
    pub mediator: Arc<dyn Mediator>,
    pub metrics: Arc<Metrics>,
    pub facts: Arc<FactsTable>,
    pub minter: Arc<LeafMinter>,
    /// Template for per-connection TLS configs (shared session cache and ticketer).
    pub tls_template: Arc<rustls::ServerConfig>,
    /// Upstream connector for exchanges that aarmor drives itself (inspected bodies).
    pub connector: pingora::connectors::http::Connector,
    next_exchange: AtomicU64,
}

impl Plane {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        proxy: ProxySettings,
        upstream: UpstreamSettings,
        mediator: Arc<dyn Mediator>,
        metrics: Arc<Metrics>,
        minter: Arc<LeafMinter>,
        tls_template: Arc<rustls::ServerConfig>,
        connector: pingora::connectors::http::Connector,
    ) -> Self {
        Self {
            proxy,
            upstream,
            mediator,
            metrics,
            facts: Arc::new(FactsTable::default()),
            minter,
            tls_template,
            connector,
            next_exchange: AtomicU64::new(1),
        }
    }

    pub fn next_exchange_id(&self) -> u64 {
        self.next_exchange.fetch_add(1, Ordering::Relaxed)
    }

    pub fn mediation_timeout(&self) -> Duration {
        Duration::from_millis(self.proxy.mediation_timeout_ms)
    }

    /// Run one mediation call under the deadline. Errors and timeouts become the refusal the
    /// client receives: the exchange fails closed.
    pub async fn mediate<T>(
        &self,
        stage: &'static str,
        call: impl std::future::Future<Output = Result<T, MediationError>>,
    ) -> Result<T, SyntheticResponse> {
        match tokio::time::timeout(self.mediation_timeout(), call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.metrics
                    .mediation_failures
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
                    .mediation_failures
                    .with_label_values(&["timeout"])
                    .inc();
                tracing::warn!(
                    stage,
                    mediator = self.mediator.name(),
                    timeout_ms = self.proxy.mediation_timeout_ms,
                    "mediation timed out; refusing the request (fail closed)"
                );
                Err(SyntheticResponse::problem(
                    503,
                    "mediation-timeout",
                    "Refused: the request could not be mediated in time",
                    &format!(
                        "{stage}: no decision within {} ms",
                        self.proxy.mediation_timeout_ms
                    ),
                ))
            }
        }
    }
}
