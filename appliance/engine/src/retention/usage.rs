//! How full a store is, how fast it fills, and the level that says whether an operator must act
//! (below the warning level, past it, past the error level).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use lmdb::Environment;
use serde::Serialize;

use crate::telemetry::HealthKind;

/// How much of an LMDB store's map its data takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct StoreUsage {
    /// Pages in use (not on the free list), bytes.
    pub used_bytes: u64,
    /// The map size: the most the store can hold, bytes.
    pub limit_bytes: u64,
}

impl StoreUsage {
    /// Of an open LMDB environment.
    pub fn of(env: &Environment) -> Result<Self, lmdb::Error> {
        let page = u64::from(env.stat()?.page_size());
        let info = env.info()?;
        let pages = (info.last_pgno() as u64 + 1).saturating_sub(env.freelist()? as u64);
        Ok(Self {
            used_bytes: pages.saturating_mul(page),
            limit_bytes: info.map_size() as u64,
        })
    }

    /// Of the LMDB store in `dir`, opened read-only (nothing is created or written; another
    /// process may be writing it): the pages in use against `limit_bytes`.
    pub fn measure(dir: &std::path::Path, limit_bytes: u64) -> Result<Self, lmdb::Error> {
        let env = Environment::new()
            .set_max_dbs(8)
            .set_flags(lmdb::EnvironmentFlags::READ_ONLY)
            .open(dir)?;
        let used = Self::of(&env)?.used_bytes;
        Ok(Self {
            used_bytes: used,
            limit_bytes,
        })
    }

    /// Used, in percent of the limit.
    pub fn percent(&self) -> f64 {
        if self.limit_bytes == 0 {
            return 0.0;
        }
        self.used_bytes as f64 * 100.0 / self.limit_bytes as f64
    }
}

/// Whether a store needs an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Warning,
    Critical,
}

/// How far back the fill rate is measured.
const RATE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most samples kept for the rate.
const MAX_SAMPLES: usize = 512;

/// One store's fill level over time.
#[derive(Debug)]
pub struct StoreWatch {
    pub name: &'static str,
    level: Level,
    samples: VecDeque<(Instant, u64)>,
}

/// A change of level worth an event.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelChange {
    pub kind: HealthKind,
    pub message: String,
}

impl StoreWatch {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            level: Level::Ok,
            samples: VecDeque::new(),
        }
    }

    pub fn level(&self) -> Level {
        self.level
    }

    /// Records a measurement; returns the change of level it makes, if any.
    pub fn observe(
        &mut self,
        usage: StoreUsage,
        warn_percent: u8,
        error_percent: u8,
    ) -> Option<LevelChange> {
        let now = Instant::now();
        self.samples.push_back((now, usage.used_bytes));
        while self.samples.len() > MAX_SAMPLES
            || self
                .samples
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let percent = usage.percent();
        let level = if percent >= f64::from(error_percent) {
            Level::Critical
        } else if percent >= f64::from(warn_percent) {
            Level::Warning
        } else {
            Level::Ok
        };
        let before = std::mem::replace(&mut self.level, level);
        if level == before {
            return None;
        }
        let kind = match level {
            Level::Critical => HealthKind::StoreCritical,
            Level::Warning => HealthKind::StoreWarning,
            Level::Ok => HealthKind::StoreRecovered,
        };
        let message = match (level, before) {
            (Level::Warning, Level::Critical) => format!(
                "{} store back below the error level: {}",
                self.name,
                self.describe(usage, warn_percent, error_percent)
            ),
            _ => self.describe(usage, warn_percent, error_percent),
        };
        Some(LevelChange { kind, message })
    }

    /// The store's state at its current level, in plain words, with what to do.
    pub fn describe(&self, usage: StoreUsage, warn_percent: u8, error_percent: u8) -> String {
        let percent = usage.percent();
        let left = match self.seconds_left(usage) {
            Some(s) => format!(", about {} left at the current rate", human_duration(s)),
            None => String::new(),
        };
        let name = self.name;
        match self.level {
            Level::Critical => format!(
                "{name} store {percent:.0}% full (error level {error_percent}%){left}: when it is full every action is denied; archive or prune ([retention]), or raise max_size_mb"
            ),
            Level::Warning => format!(
                "{name} store {percent:.0}% full (warning level {warn_percent}%){left}; check [retention] and the archive"
            ),
            Level::Ok => format!("{name} store back below the warning level: {percent:.0}% full"),
        }
    }

    /// At the growth rate over the last minutes, seconds until the store is full; `None` when
    /// it is not growing (or too few measurements).
    pub fn seconds_left(&self, usage: StoreUsage) -> Option<u64> {
        let (t0, b0) = *self.samples.front()?;
        let (t1, b1) = *self.samples.back()?;
        let elapsed = t1.duration_since(t0).as_secs_f64();
        if elapsed < 1.0 || b1 <= b0 {
            return None;
        }
        let rate = (b1 - b0) as f64 / elapsed;
        let left = usage.limit_bytes.saturating_sub(usage.used_bytes) as f64 / rate;
        Some(left.min(u64::MAX as f64 / 2.0) as u64)
    }
}

/// `3 days`, `5 hours`, `12 minutes`, `40 seconds`.
pub fn human_duration(seconds: u64) -> String {
    match seconds {
        s if s >= 2 * 86_400 => format!("{} days", s / 86_400),
        s if s >= 2 * 3600 => format!("{} hours", s / 3600),
        s if s >= 120 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(used: u64) -> StoreUsage {
        StoreUsage {
            used_bytes: used,
            limit_bytes: 100,
        }
    }

    #[test]
    fn levels_change_once_per_crossing_in_both_directions() {
        let mut w = StoreWatch::new("receipt");
        assert_eq!(w.observe(usage(50), 80, 95), None);
        let warn = w.observe(usage(81), 80, 95).unwrap();
        assert_eq!(warn.kind, HealthKind::StoreWarning);
        assert!(warn.message.contains("81% full"), "{}", warn.message);
        assert_eq!(w.observe(usage(85), 80, 95), None);
        let crit = w.observe(usage(96), 80, 95).unwrap();
        assert_eq!(crit.kind, HealthKind::StoreCritical);
        assert!(crit.message.contains("denied"), "{}", crit.message);
        assert_eq!(
            w.observe(usage(90), 80, 95).unwrap().kind,
            HealthKind::StoreWarning
        );
        assert_eq!(
            w.observe(usage(10), 80, 95).unwrap().kind,
            HealthKind::StoreRecovered
        );
        assert_eq!(w.level(), Level::Ok);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(3 * 86_400 + 5), "3 days");
        assert_eq!(human_duration(7200), "2 hours");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(7), "7 seconds");
    }
}
