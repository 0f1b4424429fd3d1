//! What the appliance decided recently, summarised for the operator's overview: decisions per
//! minute by decision, the rules and agents that decided most, and the spread of intent drift.
//!
//! Built from the receipt store (so it survives restarts and never disagrees with the receipts),
//! reading only the fields it counts ([`ReceiptDigest`]). The read is bounded: a summary says
//! when the window held more receipts than were read (`truncated`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Minutes an overview covers.
pub const WINDOW_MINUTES: usize = 60;
/// Rules and agents listed at most.
pub const TOP_N: usize = 10;
/// Buckets of the drift histogram: `[0, 0.1)`, …, `[0.9, ∞)`.
pub const DRIFT_BUCKETS: usize = 10;

/// The fields of a stored receipt an overview counts; the rest of the receipt is skipped
/// unparsed.
#[derive(Debug, Clone, Deserialize)]
pub struct ReceiptDigest {
    pub seq: u64,
    /// RFC 3339 UTC with milliseconds: compares in time order as text.
    pub timestamp: String,
    pub kind: aarmor_core::receipt::ReceiptKind,
    pub decision: DigestDecision,
    pub action: DigestAction,
    #[serde(default)]
    pub context: DigestContext,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DigestDecision {
    pub result: aarmor_core::Decision,
    #[serde(default)]
    pub rule: Option<String>,
    pub enforced: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DigestAction {
    #[serde(default)]
    pub identity: DigestIdentity,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DigestIdentity {
    #[serde(default)]
    pub agent: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DigestContext {
    #[serde(default)]
    pub intent: Option<serde_json::Value>,
}

impl ReceiptDigest {
    /// The intent drift the decision saw, when it was known.
    pub fn drift(&self) -> Option<f64> {
        self.context.intent.as_ref()?.get("drift")?.as_f64()
    }
}

/// Decisions made in one minute.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MinuteCounts {
    /// `YYYY-MM-DDTHH:MM` (UTC).
    pub minute: String,
    /// Decision (`ALLOW`, `DENY`, …) → count.
    pub decisions: BTreeMap<String, u64>,
}

/// A name and how often it decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    pub name: String,
    pub count: u64,
}

/// The overview of the last [`WINDOW_MINUTES`] minutes of decisions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    /// When it was computed (RFC 3339 UTC).
    pub generated_at: String,
    pub window_minutes: usize,
    /// One entry per minute, oldest first, [`WINDOW_MINUTES`] of them (empty minutes included).
    pub per_minute: Vec<MinuteCounts>,
    /// Decision → count over the window.
    pub totals: BTreeMap<String, u64>,
    /// Decisions not enforced (monitor mode) over the window.
    pub monitored: u64,
    pub top_rules: Vec<Ranked>,
    pub top_agents: Vec<Ranked>,
    /// Decisions per drift bucket (see [`DRIFT_BUCKETS`]).
    pub drift_buckets: Vec<u64>,
    /// Decisions whose drift was not computed (no model-based rule needed it).
    pub drift_unknown: u64,
    /// Receipts read to build it.
    pub receipts_read: usize,
    /// The window held more receipts than were read: the counts are of the newest ones.
    pub truncated: bool,
}

/// The minute key of an RFC 3339 timestamp.
fn minute_of(timestamp: &str) -> &str {
    timestamp.get(..16).unwrap_or(timestamp)
}

fn ranked(counts: HashMap<String, u64>) -> Vec<Ranked> {
    let mut v: Vec<Ranked> = counts
        .into_iter()
        .map(|(name, count)| Ranked { name, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    v.truncate(TOP_N);
    v
}

/// The window's minute keys ending at `now`, oldest first.
fn window_minutes(now: time::OffsetDateTime) -> Vec<String> {
    (0..WINDOW_MINUTES)
        .rev()
        .map(|back| {
            let t = now - time::Duration::minutes(back as i64);
            minute_of(&aarmor_core::timestamp::rfc3339_millis(t)).to_string()
        })
        .collect()
}

/// The oldest timestamp an overview ending at `now` counts (as text, comparable to receipts').
pub fn window_start(now: time::OffsetDateTime) -> String {
    let first = now - time::Duration::minutes(WINDOW_MINUTES as i64 - 1);
    format!(
        "{}:00.000Z",
        minute_of(&aarmor_core::timestamp::rfc3339_millis(first))
    )
}

/// Summarises the decision receipts among `receipts` that fall in the window ending at `now`.
/// Resolutions, outcomes and checkpoints are not decisions and are not counted.
pub fn summarize(
    receipts: &[ReceiptDigest],
    now: time::OffsetDateTime,
    truncated: bool,
) -> Overview {
    let minutes = window_minutes(now);
    let index: HashMap<&str, usize> = minutes
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let mut per_minute: Vec<MinuteCounts> = minutes
        .iter()
        .map(|m| MinuteCounts {
            minute: m.clone(),
            decisions: BTreeMap::new(),
        })
        .collect();
    let mut totals = BTreeMap::new();
    let mut rules: HashMap<String, u64> = HashMap::new();
    let mut agents: HashMap<String, u64> = HashMap::new();
    let mut drift_buckets = vec![0u64; DRIFT_BUCKETS];
    let (mut drift_unknown, mut monitored) = (0, 0);
    for r in receipts {
        if r.kind != aarmor_core::receipt::ReceiptKind::Decision {
            continue;
        }
        let Some(&slot) = index.get(minute_of(&r.timestamp)) else {
            continue;
        };
        let decision = r.decision.result.as_str().to_string();
        *per_minute[slot]
            .decisions
            .entry(decision.clone())
            .or_default() += 1;
        *totals.entry(decision).or_default() += 1;
        if !r.decision.enforced {
            monitored += 1;
        }
        let rule = r.decision.rule.as_deref().unwrap_or("(default)");
        *rules.entry(rule.to_string()).or_default() += 1;
        let agent = r
            .action
            .identity
            .agent
            .as_deref()
            .unwrap_or("(unknown agent)");
        *agents.entry(agent.to_string()).or_default() += 1;
        match r.drift() {
            Some(d) if d.is_finite() => {
                let bucket = ((d.max(0.0) * DRIFT_BUCKETS as f64) as usize).min(DRIFT_BUCKETS - 1);
                drift_buckets[bucket] += 1;
            }
            _ => drift_unknown += 1,
        }
    }
    Overview {
        generated_at: aarmor_core::timestamp::rfc3339_millis(now),
        window_minutes: WINDOW_MINUTES,
        per_minute,
        totals,
        monitored,
        top_rules: ranked(rules),
        top_agents: ranked(agents),
        drift_buckets,
        drift_unknown,
        receipts_read: receipts.len(),
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(
        seq: u64,
        timestamp: &str,
        decision: &str,
        rule: Option<&str>,
        agent: &str,
        drift: Option<f64>,
    ) -> ReceiptDigest {
        serde_json::from_value(serde_json::json!({
            "seq": seq,
            "timestamp": timestamp,
            "kind": "decision",
            "decision": {"result": decision, "rule": rule, "enforced": true, "reason": "r", "policy": {}},
            "action": {"tool": "t", "identity": {"agent": agent}},
            "context": {"context_hash": "h", "intent": drift.map(|d| serde_json::json!({"drift": d}))},
        }))
        .unwrap()
    }

    #[test]
    fn counts_decisions_in_the_window_by_minute_rule_agent_and_drift() {
        let now = time::OffsetDateTime::from_unix_timestamp(1_796_466_620).unwrap(); // 2026-12-05T10:30:20Z
        let receipts = vec![
            digest(
                1,
                "2026-12-05T09:29:59.000Z",
                "DENY",
                Some("old"),
                "a",
                None,
            ),
            digest(
                2,
                "2026-12-05T09:31:00.000Z",
                "ALLOW",
                Some("r1"),
                "a",
                Some(0.05),
            ),
            digest(
                3,
                "2026-12-05T10:30:10.000Z",
                "DENY",
                Some("r2"),
                "b",
                Some(0.95),
            ),
            digest(
                4,
                "2026-12-05T10:30:11.000Z",
                "DENY",
                Some("r2"),
                "b",
                Some(1.7),
            ),
            digest(5, "2026-12-05T10:30:12.000Z", "STEP_UP", None, "c", None),
        ];
        let o = summarize(&receipts, now, false);
        assert_eq!(o.per_minute.len(), WINDOW_MINUTES);
        assert_eq!(o.per_minute[0].minute, "2026-12-05T09:31");
        assert_eq!(o.per_minute[59].minute, "2026-12-05T10:30");
        assert_eq!(o.per_minute[0].decisions.get("ALLOW"), Some(&1));
        assert_eq!(o.per_minute[59].decisions.get("DENY"), Some(&2));
        assert_eq!(o.per_minute[59].decisions.get("STEP_UP"), Some(&1));
        assert_eq!(
            o.totals.values().sum::<u64>(),
            4,
            "the receipt before the window is not counted"
        );
        assert_eq!(
            o.top_rules[0],
            Ranked {
                name: "r2".into(),
                count: 2
            }
        );
        assert!(o.top_rules.iter().any(|r| r.name == "(default)"));
        assert_eq!(o.top_agents[0].name, "b");
        assert_eq!(o.drift_buckets[0], 1);
        assert_eq!(
            o.drift_buckets[9], 2,
            "drift past 1 lands in the last bucket"
        );
        assert_eq!(o.drift_unknown, 1);
        assert_eq!(window_start(now), "2026-12-05T09:31:00.000Z");
    }
}
