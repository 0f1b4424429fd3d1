//! The mediator's Prometheus metrics: actions by decision, observations by kind, decision time,
//! and exchanges refused because mediation failed.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts, Registry};

/// Metrics the mediator counts; the data plane registers them with its own registry and counts
/// its own mediation failures (timeouts, errors of any mediator) in `failures`.
#[derive(Clone)]
pub struct MediationMetrics {
    /// `mediation_failures_total{kind}`: exchanges refused because mediation failed.
    pub failures: IntCounterVec,
    /// `actions_total{protocol, decision}`: actions mediated, by final decision.
    pub actions: IntCounterVec,
    /// `observations_total{kind}`: observations recorded.
    pub observations: IntCounterVec,
    /// `decision_duration_seconds`: time to decide one action, holds included.
    pub decision_duration: Histogram,
}

impl std::fmt::Debug for MediationMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediationMetrics")
    }
}

impl MediationMetrics {
    /// The metrics, unregistered.
    pub fn new() -> Result<Self, prometheus::Error> {
        Ok(Self {
            failures: IntCounterVec::new(
                Opts::new(
                    "mediation_failures_total",
                    "Exchanges refused because mediation failed, by kind",
                ),
                &["kind"],
            )?,
            actions: IntCounterVec::new(
                Opts::new(
                    "actions_total",
                    "Actions mediated, by protocol and final decision",
                ),
                &["protocol", "decision"],
            )?,
            observations: IntCounterVec::new(
                Opts::new("observations_total", "Observations recorded, by kind"),
                &["kind"],
            )?,
            decision_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "decision_duration_seconds",
                    "Time to decide one action, holds included",
                )
                .buckets(vec![
                    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                    0.01, 0.1, 1.0, 10.0, 60.0, 300.0,
                ]),
            )?,
        })
    }

    /// Registers every metric with `registry`.
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.actions.clone()))?;
        registry.register(Box::new(self.observations.clone()))?;
        registry.register(Box::new(self.decision_duration.clone()))?;
        registry.register(Box::new(self.failures.clone()))?;
        Ok(())
    }
}
