//! Retention: keeps the receipt and context stores from ever filling up by surprise. On its own
//! thread, every `check_interval_ms`: seals segments of the receipt chain into the archive and
//! prunes what the archive holds ([`receipts`]), archives closed sessions' context logs
//! ([`context`]), measures both stores, and reports their fill
//! level — metrics always, and on each crossing of the warning or error level a log line, a
//! SIEM event and the console's banner ([`usage`]).

pub mod context;
pub mod receipts;
pub mod s3;
pub mod usage;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::{IntCounter, IntGauge, IntGaugeVec, Opts};
use serde::Serialize;

use crate::context::ContextStore;
use crate::receipts::ReceiptLog;
use crate::settings::{RetentionMode, RetentionSettings};
use crate::telemetry::{HealthEvent, HealthKind, Telemetry};

pub use receipts::{CycleReport, ReceiptRetention, RetentionError};
use usage::{Level, StoreUsage, StoreWatch};

/// One store as the console and `/metrics` show it.
#[derive(Debug, Clone, Serialize)]
pub struct StoreState {
    pub name: &'static str,
    pub usage: StoreUsage,
    pub percent: f64,
    pub level: Level,
    pub seconds_left: Option<u64>,
    /// The last level change's message.
    pub message: Option<String>,
}

/// What retention knows now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionStatus {
    pub stores: Vec<StoreState>,
    /// Receipts committed and not yet archived.
    pub archive_lag: u64,
    /// The last archival failure, while it lasts.
    pub failure: Option<String>,
}

impl RetentionStatus {
    /// What the console's banner says: the worst store past its warning level, or a failing
    /// archive; `None` when all is well.
    pub fn banner(&self) -> Option<(Level, String)> {
        let worst = self
            .stores
            .iter()
            .filter(|s| s.level != Level::Ok)
            .max_by_key(|s| s.level);
        match (worst, &self.failure) {
            (Some(s), _) => Some((
                s.level,
                s.message
                    .clone()
                    .unwrap_or_else(|| format!("{} store {:.0}% full", s.name, s.percent)),
            )),
            (None, Some(f)) => Some((Level::Warning, format!("receipt archival is failing: {f}"))),
            (None, None) => None,
        }
    }
}

struct Metrics {
    used: IntGaugeVec,
    limit: IntGaugeVec,
    seconds_left: IntGaugeVec,
    archive_lag: IntGauge,
    archived: IntCounter,
    dropped: IntCounter,
    pruned: IntCounter,
    segments: IntCounter,
    sessions: IntCounter,
    uploaded: IntCounter,
    failures: IntCounter,
}

impl Metrics {
    fn new() -> Result<Self, prometheus::Error> {
        let gv = |n: &str, h: &str| IntGaugeVec::new(Opts::new(n, h), &["store"]);
        Ok(Self {
            used: gv(
                "store_used_bytes",
                "Bytes a store's data takes (receipts, context)",
            )?,
            limit: gv(
                "store_limit_bytes",
                "Most bytes a store can hold (max_size_mb)",
            )?,
            seconds_left: gv(
                "store_seconds_left",
                "At the recent growth rate, seconds until the store is full; -1 when not growing",
            )?,
            archive_lag: IntGauge::new(
                "receipts_archive_lag",
                "Receipts committed and not yet in the archive",
            )?,
            archived: IntCounter::new(
                "receipts_archived_total",
                "Receipts written to the archive",
            )?,
            dropped: IntCounter::new(
                "receipts_dropped_total",
                "Receipts pruned without an archive (retention mode drop)",
            )?,
            pruned: IntCounter::new(
                "receipts_pruned_total",
                "Receipts removed from the live store",
            )?,
            segments: IntCounter::new(
                "receipts_segments_total",
                "Segments of the receipt chain sealed (each with its checkpoint receipt)",
            )?,
            sessions: IntCounter::new(
                "context_sessions_archived_total",
                "Closed sessions whose context log was archived and left the live store",
            )?,
            uploaded: IntCounter::new(
                "archive_segments_uploaded_total",
                "Archived segments uploaded to the object store ([retention.s3])",
            )?,
            failures: IntCounter::new(
                "retention_failures_total",
                "Retention cycles that failed (archive or prune)",
            )?,
        })
    }
}

struct Watches {
    receipts: StoreWatch,
    context: StoreWatch,
    failing: bool,
}

/// The retention service; runs on its own thread once started.
pub struct Retention {
    receipts: ReceiptRetention,
    /// In archive mode, with `context_keep_days` > 0.
    closed_sessions: Option<context::ContextRetention>,
    /// In archive mode, with `[retention.s3]`.
    object_store: Option<s3::ObjectStore>,
    archive_dir: std::path::PathBuf,
    context: Arc<ContextStore>,
    telemetry: Option<Arc<Telemetry>>,
    settings: RetentionSettings,
    watches: Mutex<Watches>,
    status: Mutex<RetentionStatus>,
    metrics: Metrics,
}

impl Retention {
    /// Prepares retention (recovering what a crash interrupted) without starting its thread.
    pub fn new(
        settings: RetentionSettings,
        archive_dir: &Path,
        log: ReceiptLog,
        receipts_max_bytes: u64,
        context: Arc<ContextStore>,
        telemetry: Option<Arc<Telemetry>>,
    ) -> Result<Self, String> {
        settings.validate()?;
        let keep_live_bytes = match settings.keep_live_mb {
            0 => receipts_max_bytes / 2,
            mb => (mb as u64).saturating_mul(1024 * 1024),
        };
        let receipts = ReceiptRetention::new(log, settings.clone(), archive_dir, keep_live_bytes)
            .map_err(|e| format!("retention: {e}"))?;
        receipts
            .recover()
            .map_err(|e| format!("retention: recovering the archive: {e}"))?;
        let closed_sessions = match settings.mode {
            RetentionMode::Archive if settings.context_keep_days > 0 => {
                let c = context::ContextRetention::new(
                    context.clone(),
                    receipts.log.clone(),
                    archive_dir,
                    settings.context_keep_days,
                )
                .map_err(|e| format!("retention: {e}"))?;
                c.recover()
                    .map_err(|e| format!("retention: recovering the context archive: {e}"))?;
                Some(c)
            }
            _ => None,
        };
        let object_store = match (&settings.s3, settings.mode) {
            (Some(s), RetentionMode::Archive) => Some(s3::ObjectStore::new(s)?),
            _ => None,
        };
        Ok(Self {
            receipts,
            closed_sessions,
            object_store,
            archive_dir: archive_dir.to_path_buf(),
            context,
            telemetry,
            settings,
            watches: Mutex::new(Watches {
                receipts: StoreWatch::new("receipt"),
                context: StoreWatch::new("context"),
                failing: false,
            }),
            status: Mutex::new(RetentionStatus::default()),
            metrics: Metrics::new().map_err(|e| format!("retention metrics: {e}"))?,
        })
    }

    /// Starts the thread that runs [`Self::run_once`] every `check_interval_ms`.
    pub fn start(self) -> Result<Arc<Self>, String> {
        let this = Arc::new(self);
        let worker = this.clone();
        let interval = Duration::from_millis(this.settings.check_interval_ms);
        std::thread::Builder::new()
            .name("aarmor-retention".into())
            .spawn(move || loop {
                // A bug in one pass must not end retention for good (the stores would fill).
                let pass = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    worker.run_once();
                }));
                if pass.is_err() {
                    worker.metrics.failures.inc();
                    tracing::error!(
                        "a retention pass failed unexpectedly; retrying at the next interval"
                    );
                }
                std::thread::sleep(interval);
            })
            .map_err(|e| format!("cannot start the retention thread: {e}"))?;
        Ok(this)
    }

    /// One cycle: archive and prune, then measure and report.
    pub fn run_once(&self) -> CycleReport {
        // Uploads before (what pruning waits for) and after (what this pass sealed).
        let mut upload_failure = self.upload();
        let mut outcome = self.receipts.cycle();
        if let (Ok(report), Some(c)) = (&mut outcome, &self.closed_sessions) {
            match c.cycle(&receipts::retention_policy(&self.settings)) {
                Ok(n) => report.sessions = n as u64,
                Err(e) => outcome = Err(e),
            }
        }
        upload_failure = upload_failure.or_else(|| self.upload());
        let report = match &outcome {
            Ok(r) => *r,
            Err(_) => CycleReport::default(),
        };
        self.metrics.sessions.inc_by(report.sessions);
        self.metrics.archived.inc_by(report.archived);
        self.metrics.dropped.inc_by(report.dropped);
        self.metrics.pruned.inc_by(report.pruned);
        self.metrics.segments.inc_by(report.segments);
        if report.segments > 0 || report.pruned > 0 || report.sessions > 0 {
            tracing::info!(
                sessions = report.sessions,
                segments = report.segments,
                archived = report.archived,
                dropped = report.dropped,
                pruned = report.pruned,
                "receipt retention"
            );
        }
        let failure = outcome.err().map(|e| e.to_string()).or(upload_failure);
        self.measure(failure);
        report
    }

    /// Uploads what is archived and not yet in the object store; the error, if any.
    fn upload(&self) -> Option<String> {
        let store = self.object_store.as_ref()?;
        match store.upload_pending(&self.archive_dir, 256) {
            Ok(n) => {
                self.metrics.uploaded.inc_by(n as u64);
                None
            }
            Err(e) => Some(format!("object store: {e}")),
        }
    }

    fn measure(&self, failure: Option<String>) {
        let Ok(mut guard) = self.watches.lock() else {
            return;
        };
        let watches = &mut *guard;
        let mut events = Vec::new();
        match (&failure, watches.failing) {
            (Some(f), false) => {
                self.metrics.failures.inc();
                tracing::error!(error = %f, "retention failed; the live stores keep filling");
                events.push((HealthKind::ArchiveFailed, "receipts", f.clone(), None));
            }
            (Some(_), true) => self.metrics.failures.inc(),
            (None, true) => tracing::info!("receipt retention works again"),
            (None, false) => {}
        }
        watches.failing = failure.is_some();
        let (warn, error) = (self.settings.warn_percent, self.settings.error_percent);
        let mut stores = Vec::new();
        let measured = [
            (
                &mut watches.receipts,
                "receipts",
                self.receipts.store.usage().map_err(|e| e.to_string()),
            ),
            (
                &mut watches.context,
                "context",
                self.context.log().usage().map_err(|e| e.to_string()),
            ),
        ];
        for (watch, label, usage) in measured {
            let usage = match usage {
                Ok(u) => u,
                Err(e) => {
                    tracing::warn!(store = label, error = %e, "cannot measure a store");
                    continue;
                }
            };
            let change = watch.observe(usage, warn, error);
            let seconds_left = watch.seconds_left(usage);
            self.metrics
                .used
                .with_label_values(&[label])
                .set(usage.used_bytes as i64);
            self.metrics
                .limit
                .with_label_values(&[label])
                .set(usage.limit_bytes as i64);
            self.metrics
                .seconds_left
                .with_label_values(&[label])
                .set(seconds_left.map_or(-1, |s| s.min(i64::MAX as u64) as i64));
            if let Some(c) = &change {
                match c.kind {
                    HealthKind::StoreCritical => tracing::error!(store = label, "{}", c.message),
                    HealthKind::StoreWarning => tracing::warn!(store = label, "{}", c.message),
                    _ => tracing::info!(store = label, "{}", c.message),
                }
                events.push((
                    c.kind,
                    label,
                    c.message.clone(),
                    Some((usage, seconds_left)),
                ));
            }
            // The banner says how full it is now, not when it crossed the level.
            let message = (watch.level() != Level::Ok).then(|| watch.describe(usage, warn, error));
            stores.push(StoreState {
                name: label,
                usage,
                percent: usage.percent(),
                level: watch.level(),
                seconds_left,
                message,
            });
        }
        drop(guard);
        let store = self.receipts.store.clone();
        let lag = match (store.head(), store.archived()) {
            (Ok(h), Ok(a)) if self.settings.mode == RetentionMode::Archive => h
                .map_or(0, |h| h.seq)
                .saturating_sub(a.map_or(0, |a| a.seq)),
            _ => 0,
        };
        self.metrics.archive_lag.set(lag as i64);
        if let Ok(mut status) = self.status.lock() {
            *status = RetentionStatus {
                stores,
                archive_lag: lag,
                failure,
            };
        }
        if let Some(t) = &self.telemetry {
            for (kind, store, message, usage) in events {
                let (usage, seconds_left) = usage.unwrap_or_default();
                t.health(HealthEvent {
                    kind,
                    store,
                    message,
                    used_bytes: usage.used_bytes,
                    limit_bytes: usage.limit_bytes,
                    percent: usage.percent(),
                    seconds_left,
                    timestamp: aarmor_core::timestamp::now_rfc3339_millis(),
                });
            }
        }
    }

    /// What retention knows now (the console's banner).
    pub fn status(&self) -> RetentionStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn register(&self, registry: &prometheus::Registry) {
        let m = &self.metrics;
        let all: [Box<dyn prometheus::core::Collector>; 11] = [
            Box::new(m.sessions.clone()),
            Box::new(m.uploaded.clone()),
            Box::new(m.used.clone()),
            Box::new(m.limit.clone()),
            Box::new(m.seconds_left.clone()),
            Box::new(m.archive_lag.clone()),
            Box::new(m.archived.clone()),
            Box::new(m.dropped.clone()),
            Box::new(m.pruned.clone()),
            Box::new(m.segments.clone()),
            Box::new(m.failures.clone()),
        ];
        for c in all {
            if let Err(e) = registry.register(c) {
                tracing::warn!(error = %e, "cannot register a retention metric");
            }
        }
    }
}
