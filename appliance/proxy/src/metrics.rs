//! Prometheus metrics of the data plane, in a registry of their own.

use aarmor_mediation::MediationMetrics;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub connections: IntCounterVec,
    pub connections_active: IntGauge,
    pub requests: IntCounterVec,
    pub tls_handshakes: IntCounterVec,
    pub certificates_minted: IntCounter,
    pub upstream_errors: IntCounterVec,
    pub client_errors: IntCounterVec,
    pub spliced: IntCounter,
    pub request_duration: Histogram,
    /// The mediator's metrics (actions, observations, decision time, mediation failures).
    pub mediation: MediationMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// The registry, for collectors of other crates (the engine's).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("aarmor".into()), None)?;
        let connections = IntCounterVec::new(
            Opts::new(
                "connections_total",
                "Client connections accepted, by listener and how they were handled",
            ),
            &["listener", "mode"],
        )?;
        let connections_active =
            IntGauge::new("connections_active", "Client connections currently open")?;
        let requests = IntCounterVec::new(
            Opts::new(
                "requests_total",
                "HTTP requests seen from clients, by connection mode",
            ),
            &["mode"],
        )?;
        let tls_handshakes = IntCounterVec::new(
            Opts::new(
                "tls_handshakes_total",
                "TLS handshakes with clients, by result",
            ),
            &["result"],
        )?;
        let certificates_minted =
            IntCounter::new("certificates_minted_total", "Leaf certificates minted")?;
        let upstream_errors = IntCounterVec::new(
            Opts::new(
                "upstream_errors_total",
                "Failures talking to upstreams, by kind",
            ),
            &["kind"],
        )?;
        let client_errors = IntCounterVec::new(
            Opts::new(
                "client_errors_total",
                "Bad or failed client input, by reason",
            ),
            &["reason"],
        )?;
        let spliced = IntCounter::new(
            "spliced_connections_total",
            "Connections spliced without interception (bypass)",
        )?;
        let request_duration = Histogram::with_opts(
            HistogramOpts::new(
                "request_duration_seconds",
                "Time from request head to the end of the response",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
        )?;
        let mediation = MediationMetrics::new()?;
        mediation.register(&registry)?;
        registry.register(Box::new(connections.clone()))?;
        registry.register(Box::new(connections_active.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(tls_handshakes.clone()))?;
        registry.register(Box::new(certificates_minted.clone()))?;
        registry.register(Box::new(upstream_errors.clone()))?;
        registry.register(Box::new(client_errors.clone()))?;
        registry.register(Box::new(spliced.clone()))?;
        registry.register(Box::new(request_duration.clone()))?;
        Ok(Self {
            registry,
            connections,
            connections_active,
            requests,
            tls_handshakes,
            certificates_minted,
            upstream_errors,
            client_errors,
            spliced,
            request_duration,
            mediation,
        })
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_all_families() {
        let m = Metrics::new().unwrap();
        m.requests.with_label_values(&["forward_http"]).inc();
        m.certificates_minted.inc();
        m.request_duration.observe(0.001);
        let text = String::from_utf8(m.render()).unwrap();
        assert!(text.contains("aarmor_requests_total{mode=\"forward_http\"} 1"));
        assert!(text.contains("aarmor_certificates_minted_total 1"));
        assert!(text.contains("aarmor_request_duration_seconds_bucket"));
    }
}
