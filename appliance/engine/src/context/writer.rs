//! The context log's writer: one thread that group-commits what sessions append, so that a
//! caller waits at most one window for its entries to be on disk, and the metrics it keeps.

use super::*;
use crate::group_commit::{Due, GroupCommitter};

/// Entries waiting for the writer beyond which appending fails (the store is marked unavailable).
const QUEUE: usize = 65_536;

/// What waits for the writer: entries to write, and callers waiting for them to be on disk.
#[derive(Default)]
pub(super) struct Pending {
    pub(super) ops: Vec<LogOp>,
    /// When `ops` are due: one window after the first of them arrived.
    pub(super) due: Due,
    pub(super) flushes: Vec<mpsc::Sender<()>>,
    pub(super) closed: bool,
}

impl crate::group_commit::Pending for Pending {
    fn due(&mut self) -> &mut Due {
        &mut self.due
    }
}

/// Counters, exported as `aarmor_context_*` metrics.
#[derive(Clone)]
pub(super) struct ContextMetrics {
    pub(super) entries: prometheus::IntCounterVec,
    pub(super) sessions: prometheus::IntGauge,
    pub(super) compactions: prometheus::IntCounterVec,
}

impl ContextMetrics {
    /// Counts the entries of one update by kind, and the folds among them by reason.
    pub(super) fn count(&self, ops: &[LogOp]) {
        for op in ops {
            match op {
                LogOp::Put(e) => {
                    self.entries.with_label_values(&[e.kind.as_str()]).inc();
                    if e.kind == EntryKind::Summary {
                        let why = e.data["reason"].as_str().unwrap_or("unknown");
                        self.compactions.with_label_values(&[why]).inc();
                    }
                }
                LogOp::Head(..) | LogOp::Fold { .. } => {}
            }
        }
    }

    pub(super) fn new() -> Self {
        // Names and help are constants: valid by construction.
        let entries = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "context_entries_total",
                "Context log entries appended, by kind",
            ),
            &["kind"],
        )
        .unwrap_or_else(|e| panic!("metric: {e}"));
        let sessions = prometheus::IntGauge::new("context_sessions", "Sessions held in memory")
            .unwrap_or_else(|e| panic!("metric: {e}"));
        let compactions = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "context_compactions_total",
                "Sessions folded into a summary entry, by reason",
            ),
            &["reason"],
        )
        .unwrap_or_else(|e| panic!("metric: {e}"));
        Self {
            entries,
            sessions,
            compactions,
        }
    }
}

pub(super) struct Writer {
    pub(super) pending: Arc<GroupCommitter<Pending>>,
    pub(super) thread: Option<std::thread::JoinHandle<()>>,
    pub(super) failed: Arc<AtomicBool>,
    pub(super) error: Arc<Mutex<Option<String>>>,
}

impl Writer {
    /// Starts the writer thread (see [`write_loop`]).
    pub(super) fn start(log: Arc<ContextLog>, window: Duration) -> Result<Self, LogError> {
        let pending = Arc::new(GroupCommitter::new(Pending::default()));
        let failed = Arc::new(AtomicBool::new(false));
        let error = Arc::new(Mutex::new(None));
        let (p, f, e) = (pending.clone(), failed.clone(), error.clone());
        let window = window.max(Duration::from_millis(1));
        let thread = std::thread::Builder::new()
            .name("aarmor-context-writer".into())
            .spawn(move || write_loop(&p, &log, &f, &e, window))
            .map_err(|e| LogError::Corrupt(format!("cannot start the context writer: {e}")))?;
        Ok(Self {
            pending,
            thread: Some(thread),
            failed,
            error,
        })
    }

    pub(super) fn send(&self, ops: Vec<LogOp>) {
        if ops.is_empty() {
            return;
        }
        let mut guard = self.pending.lock().unwrap_or_else(|x| x.into_inner());
        if guard.ops.len() + ops.len() > QUEUE {
            drop(guard);
            tracing::error!(
                "context store writer is not keeping up; actions are denied (fail closed)"
            );
            if let Ok(mut slot) = self.error.lock() {
                *slot = Some("context writer not keeping up".into());
            }
            self.failed.store(true, Ordering::Release);
            return;
        }
        guard.ops.extend(ops);
        self.pending.arrived(&mut guard);
    }

    /// Waits until everything sent so far is written.
    pub(super) fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        {
            let mut guard = self.pending.lock().unwrap_or_else(|x| x.into_inner());
            guard.flushes.push(tx);
            self.pending.wake_now();
        }
        let _ = rx.recv_timeout(Duration::from_secs(10));
    }
}

/// The writer thread: writes everything pending in one transaction so that it is on disk one
/// `window` after the first of it arrived — it starts [`crate::group_commit::lead`] before the
/// window ends — and at once for a flush or shutdown.
/// While nothing is pending it sleeps until something is: the sender of a first entry wakes it,
/// every other sender only pushes to a list.
pub(super) fn write_loop(
    pending: &GroupCommitter<Pending>,
    log: &ContextLog,
    failed: &AtomicBool,
    error: &Mutex<Option<String>>,
    window: Duration,
) {
    let mut recent_write = Duration::ZERO;
    loop {
        let lead = crate::group_commit::lead(window, recent_write);
        let (ops, flushes, closed) = {
            let guard = pending.lock().unwrap_or_else(|x| x.into_inner());
            let mut guard = pending
                .wait_due(
                    guard,
                    |p| !p.flushes.is_empty() || p.closed,
                    |oldest| (oldest + (window - lead)).saturating_duration_since(Instant::now()),
                )
                .unwrap_or_else(|x| x.into_inner());
            guard.due.taken();
            (
                std::mem::take(&mut guard.ops),
                std::mem::take(&mut guard.flushes),
                guard.closed,
            )
        };
        if !ops.is_empty() && !failed.load(Ordering::Acquire) {
            let started = Instant::now();
            let written = log.apply(&ops);
            recent_write = crate::group_commit::decayed_max(recent_write, started.elapsed());
            if let Err(err) = written {
                tracing::error!(error = %err, "context store write failed; actions are denied from now on (fail closed)");
                if let Ok(mut slot) = error.lock() {
                    *slot = Some(err.to_string());
                }
                failed.store(true, Ordering::Release);
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
        if closed {
            return;
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        {
            self.pending
                .lock()
                .unwrap_or_else(|x| x.into_inner())
                .closed = true;
            self.pending.wake_now();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
