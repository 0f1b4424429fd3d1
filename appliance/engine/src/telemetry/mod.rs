//! SIEM export (AARM R8): one event per decision, approval, deferral resolution and drift
//! alert, as OCSF JSON (default) or CEF, in RFC 5424 syslog messages to any number of sinks
//! over UDP, TCP or TLS. Events leave the data path at once: each sink has a bounded queue
//! drained by its own thread, which spills to disk while the sink is down. Events about the
//! appliance itself (a store filling up) travel the same way ([`health`]).

pub mod cef;
pub mod event;
pub mod health;
pub mod ocsf;
pub mod sink;
pub mod spill;
pub mod syslog;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aarmor_core::Receipt;
use prometheus::{IntCounterVec, IntGaugeVec, Opts};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

pub use event::{Event, EventKind, ParameterMode};
pub use health::{HealthEvent, HealthKind};
pub use sink::Transport;
use sink::{Endpoint, Worker};
use syslog::{Facility, Header};

/// Payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Ocsf,
    Cef,
}

/// One `[[telemetry.sinks]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SinkSettings {
    /// Name in metrics, logs and the spill file (`<data_dir>/telemetry/<name>.spill`).
    pub name: String,
    /// `udp://host:514`, `tcp://host:601` (octet counting) or `tls://host:6514` (RFC 5425).
    pub url: String,
    /// Overrides `[telemetry] format` for this sink.
    pub format: Option<Format>,
    /// TLS: PEM CA file of the collector's certificate (else the public web PKI roots).
    pub ca_file: Option<PathBuf>,
    /// TLS: the name the collector's certificate must carry (default: the URL's host).
    pub server_name: Option<String>,
}

/// The `[telemetry]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    pub sinks: Vec<SinkSettings>,
    /// `ocsf` (OCSF 1.3 JSON) or `cef`.
    pub format: Format,
    /// How action parameters appear: `hash` (default), `redact` or `raw`.
    pub parameters: ParameterMode,
    pub facility: Facility,
    /// HOSTNAME of the messages; default the machine's host name.
    pub hostname: Option<String>,
    pub app_name: String,
    /// Events waiting per sink; past it they are dropped and counted.
    pub queue_size: usize,
    /// Largest spill file per sink, MiB; past it events are dropped and counted.
    pub spill_max_mb: u64,
    /// First and longest wait between reconnection attempts, ms.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// An action whose intent drift reaches this raises a drift alert event; 0 turns them off.
    pub drift_alert_threshold: f64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            sinks: Vec::new(),
            format: Format::Ocsf,
            parameters: ParameterMode::Hash,
            facility: Facility::Local0,
            hostname: None,
            app_name: "aarmor".into(),
            queue_size: 10_000,
            spill_max_mb: 1024,
            retry_initial_ms: 200,
            retry_max_ms: 10_000,
            drift_alert_threshold: 0.7,
        }
    }
}

/// A sink URL's transport, host and port (`udp://host:514`, `tcp://host:601`, `tls://host:6514`).
pub fn parse_url(url: &str) -> Result<(Transport, String, u16), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("expected udp://host:port, tcp://host:port or tls://host:port")?;
    let transport = match scheme.to_ascii_lowercase().as_str() {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        "tls" => Transport::Tls,
        other => return Err(format!("unknown scheme {other} (udp, tcp, tls)")),
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or("the port is missing (udp://host:514)")?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{port} is not a port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return Err("host and port are required".into());
    }
    Ok((transport, host.to_string(), port))
}

impl TelemetrySettings {
    /// Checks every key; the error names it.
    pub fn validate(&self) -> Result<(), String> {
        let mut names = std::collections::BTreeSet::new();
        for (i, s) in self.sinks.iter().enumerate() {
            let key = format!("telemetry.sinks[{i}]");
            if s.name.is_empty()
                || !s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "{key}.name: give a name of letters, digits, - and _"
                ));
            }
            if !names.insert(&s.name) {
                return Err(format!("{key}.name: {} is used twice", s.name));
            }
            let (transport, _, _) = parse_url(&s.url).map_err(|e| format!("{key}.url: {e}"))?;
            if transport != Transport::Tls && (s.ca_file.is_some() || s.server_name.is_some()) {
                return Err(format!(
                    "{key}: ca_file and server_name are for tls:// sinks"
                ));
            }
        }
        if self.queue_size == 0 {
            return Err("telemetry.queue_size: must be greater than 0".into());
        }
        if self.retry_initial_ms == 0 || self.retry_max_ms < self.retry_initial_ms {
            return Err(
                "telemetry.retry_initial_ms / retry_max_ms: need 0 < initial <= max".into(),
            );
        }
        if !(0.0..=2.0).contains(&self.drift_alert_threshold) {
            return Err(
                "telemetry.drift_alert_threshold: between 0 and 2 (0 turns alerts off)".into(),
            );
        }
        Ok(())
    }
}

/// Turns events into syslog messages.
#[derive(Clone)]
pub struct Formatter {
    header: Header,
    format: Format,
    parameters: ParameterMode,
}

/// What a sink is sent: an action's event, or one about the appliance.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Action(Box<Event>),
    Health(HealthEvent),
}

impl Formatter {
    pub fn format(&self, outgoing: &Outgoing) -> String {
        match outgoing {
            Outgoing::Action(event) => self.format_action(event),
            Outgoing::Health(event) => {
                let payload = match self.format {
                    Format::Ocsf => health::to_ocsf(event).to_string(),
                    Format::Cef => health::to_cef(event),
                };
                self.header.message(
                    event.kind.syslog_severity(),
                    &event.timestamp,
                    health::MSGID,
                    &payload,
                )
            }
        }
    }

    fn format_action(&self, event: &Event) -> String {
        let payload = match self.format {
            Format::Ocsf => ocsf::to_ocsf(event, self.parameters).to_string(),
            Format::Cef => cef::to_cef(event, self.parameters),
        };
        self.header.message(
            event.syslog_severity(),
            &event.receipt.timestamp,
            event.kind.msgid(),
            &payload,
        )
    }
}

/// A SIEM sink's state, for the operator's overview.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SinkState {
    pub name: String,
    pub url: String,
    /// Connected now.
    pub up: bool,
    /// Events waiting in memory.
    pub queued: u64,
    /// Size of the spill file: events waiting on disk until the sink is back.
    pub spill_bytes: u64,
    pub sent: u64,
    pub spilled: u64,
    pub dropped: u64,
}

/// Metrics of one sink.
#[derive(Clone)]
pub struct SinkMetrics {
    pub sent: prometheus::IntCounter,
    pub spilled: prometheus::IntCounter,
    pub dropped: prometheus::IntCounter,
    pub queue_depth: prometheus::IntGauge,
    pub spill_bytes: prometheus::IntGauge,
    pub up: prometheus::IntGauge,
}

struct Metrics {
    sent: IntCounterVec,
    spilled: IntCounterVec,
    dropped: IntCounterVec,
    queue_depth: IntGaugeVec,
    spill_bytes: IntGaugeVec,
    up: IntGaugeVec,
}

impl Metrics {
    fn new() -> Result<Self, String> {
        let c = |n: &str, h: &str| {
            IntCounterVec::new(Opts::new(n, h), &["sink"]).map_err(|e| e.to_string())
        };
        let g = |n: &str, h: &str| {
            IntGaugeVec::new(Opts::new(n, h), &["sink"]).map_err(|e| e.to_string())
        };
        Ok(Self {
            sent: c(
                "telemetry_events_sent_total",
                "Telemetry events delivered to the sink",
            )?,
            spilled: c(
                "telemetry_spilled_total",
                "Telemetry events written to the spill file while the sink was down",
            )?,
            dropped: c(
                "telemetry_dropped_total",
                "Telemetry events lost: queue or spill file full",
            )?,
            queue_depth: g(
                "telemetry_queue_depth",
                "Telemetry events waiting in memory",
            )?,
            spill_bytes: g("telemetry_spill_bytes", "Size of the sink's spill file")?,
            up: g("telemetry_sink_up", "1 while the sink is connected")?,
        })
    }

    fn sink(&self, name: &str) -> SinkMetrics {
        SinkMetrics {
            sent: self.sent.with_label_values(&[name]),
            spilled: self.spilled.with_label_values(&[name]),
            dropped: self.dropped.with_label_values(&[name]),
            queue_depth: self.queue_depth.with_label_values(&[name]),
            spill_bytes: self.spill_bytes.with_label_values(&[name]),
            up: self.up.with_label_values(&[name]),
        }
    }
}

struct SinkHandle {
    name: String,
    url: String,
    tx: mpsc::Sender<Arc<Outgoing>>,
    metrics: SinkMetrics,
}

/// The exporter: cheap to call from the data path, never blocks.
pub struct Telemetry {
    sinks: Vec<SinkHandle>,
    drift_threshold: Option<f64>,
    metrics: Metrics,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".into())
}

impl Telemetry {
    /// Starts one worker thread per sink. Spill files live in `<data_dir>/telemetry/`.
    pub fn start(settings: &TelemetrySettings, data_dir: &Path) -> Result<Self, String> {
        settings.validate()?;
        let metrics = Metrics::new()?;
        let header = Header {
            facility: settings.facility,
            hostname: settings.hostname.clone().unwrap_or_else(hostname),
            app_name: settings.app_name.clone(),
            procid: std::process::id().to_string(),
        };
        let mut sinks = Vec::new();
        for (i, s) in settings.sinks.iter().enumerate() {
            let key = format!("telemetry.sinks[{i}]");
            let (transport, host, port) =
                parse_url(&s.url).map_err(|e| format!("{key}.url: {e}"))?;
            let tls = match transport {
                Transport::Tls => Some(
                    crate::tls::client_config(s.ca_file.as_deref())
                        .map_err(|e| format!("{key}.{e}"))?,
                ),
                _ => None,
            };
            let endpoint = Endpoint {
                transport,
                server_name: s.server_name.clone().unwrap_or_else(|| host.clone()),
                host,
                port,
                tls,
            };
            let spill = spill::Spill::open(
                data_dir.join("telemetry").join(format!("{}.spill", s.name)),
                settings.spill_max_mb.saturating_mul(1024 * 1024),
            )
            .map_err(|e| format!("{key}: spill file in {}: {e}", data_dir.display()))?;
            let sink_metrics = metrics.sink(&s.name);
            sink_metrics.spill_bytes.set(spill.bytes() as i64);
            let worker = Worker {
                name: s.name.clone(),
                endpoint,
                formatter: Formatter {
                    header: header.clone(),
                    format: s.format.unwrap_or(settings.format),
                    parameters: settings.parameters,
                },
                spill,
                metrics: sink_metrics.clone(),
                retry_initial: Duration::from_millis(settings.retry_initial_ms),
                retry_max: Duration::from_millis(settings.retry_max_ms),
            };
            let (tx, rx) = mpsc::channel(settings.queue_size);
            std::thread::Builder::new()
                .name(format!("aarmor-syslog-{}", s.name))
                .spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt.block_on(worker.run(rx)),
                        Err(e) => tracing::error!(error = %e, "cannot start a telemetry sink"),
                    }
                })
                .map_err(|e| format!("{key}: cannot start its thread: {e}"))?;
            sinks.push(SinkHandle {
                name: s.name.clone(),
                url: s.url.clone(),
                tx,
                metrics: sink_metrics,
            });
        }
        Ok(Self {
            sinks,
            drift_threshold: (settings.drift_alert_threshold > 0.0)
                .then_some(settings.drift_alert_threshold),
            metrics,
        })
    }

    /// Each sink's state now: connected, events waiting in memory and in its spill file.
    pub fn sink_states(&self) -> Vec<SinkState> {
        self.sinks
            .iter()
            .map(|s| SinkState {
                name: s.name.clone(),
                url: s.url.clone(),
                up: s.metrics.up.get() == 1,
                queued: s.metrics.queue_depth.get().max(0) as u64,
                spill_bytes: s.metrics.spill_bytes.get().max(0) as u64,
                sent: s.metrics.sent.get(),
                spilled: s.metrics.spilled.get(),
                dropped: s.metrics.dropped.get(),
            })
            .collect()
    }

    pub fn is_active(&self) -> bool {
        !self.sinks.is_empty()
    }

    /// Queues the events of a receipt for every sink; a full queue drops (and counts) them.
    pub fn receipt(&self, receipt: &Receipt) {
        if self.sinks.is_empty() {
            return;
        }
        for event in Event::from_receipt(receipt, self.drift_threshold) {
            self.send(Arc::new(Outgoing::Action(Box::new(event))));
        }
    }

    /// Queues an event about the appliance for every sink.
    pub fn health(&self, event: HealthEvent) {
        if !self.sinks.is_empty() {
            self.send(Arc::new(Outgoing::Health(event)));
        }
    }

    fn send(&self, event: Arc<Outgoing>) {
        for sink in &self.sinks {
            if sink.tx.try_send(event.clone()).is_err() {
                sink.metrics.dropped.inc();
                tracing::warn!(sink = %sink.name, "telemetry queue full; event dropped");
            } else {
                sink.metrics
                    .queue_depth
                    .set((sink.tx.max_capacity() - sink.tx.capacity()) as i64);
            }
        }
    }

    pub fn register(&self, registry: &prometheus::Registry) {
        let m = &self.metrics;
        for c in [&m.sent, &m.spilled, &m.dropped] {
            if let Err(e) = registry.register(Box::new(c.clone())) {
                tracing::warn!(error = %e, "cannot register a telemetry metric");
            }
        }
        for g in [&m.queue_depth, &m.spill_bytes, &m.up] {
            if let Err(e) = registry.register(Box::new(g.clone())) {
                tracing::warn!(error = %e, "cannot register a telemetry metric");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_settings_are_checked() {
        assert_eq!(
            parse_url("tls://siem.corp:6514").unwrap(),
            (Transport::Tls, "siem.corp".into(), 6514)
        );
        assert_eq!(parse_url("udp://[::1]:514").unwrap().1, "::1");
        assert!(parse_url("http://x:1")
            .unwrap_err()
            .contains("unknown scheme"));
        assert!(parse_url("tcp://x").unwrap_err().contains("port"));
        let bad = TelemetrySettings {
            sinks: vec![SinkSettings {
                name: "a".into(),
                url: "tcp://h:1".into(),
                ca_file: Some("x".into()),
                ..SinkSettings::default()
            }],
            ..TelemetrySettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("sinks[0]"));
        let dup = TelemetrySettings {
            sinks: vec![
                SinkSettings {
                    name: "a".into(),
                    url: "udp://h:1".into(),
                    ..SinkSettings::default()
                };
                2
            ],
            ..TelemetrySettings::default()
        };
        assert!(dup.validate().unwrap_err().contains("twice"));
    }
}
