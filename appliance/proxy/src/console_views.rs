//! The console's operator views, as JSON for its script: the overview of the last hour
//! (decisions per minute, top rules and agents, held actions, drift, the receipt chain's state,
//! the SIEM sinks, the stores) and the sessions, each as a timeline of what the user asked, what
//! tools returned and what was decided, with its receipts and a chain check.
//!
//! Every read here is bounded: the overview reads at most [`OVERVIEW_MAX_RECEIPTS`] receipts,
//! the chain check the newest [`CHAIN_CHECK_RECEIPTS`], a session's timeline its newest
//! [`TIMELINE_ENTRIES`] entries, its receipts are looked for among the newest receipts the
//! receipt search covers (and it says when older ones were not), and the session list is cut to
//! its limit. Callers run them off the async workers (they read LMDB and parse JSON).

use std::collections::{HashMap, HashSet};

use aarmor_core::receipt::ReceiptKind;
use aarmor_core::Receipt;
use aarmor_engine::approvals::Approver;
use aarmor_engine::context::entries::EntryKind;
use aarmor_engine::context::verify_chain;
use aarmor_engine::overview;
use serde_json::{json, Value};

use crate::admin_http::AdminApprovals;
use crate::charts;

/// Most receipts one overview reads.
pub const OVERVIEW_MAX_RECEIPTS: usize = 50_000;
/// Newest receipts whose signatures and links the overview checks.
pub const CHAIN_CHECK_RECEIPTS: usize = 1_000;
/// Most receipts shown with one session.
const SESSION_MAX_RECEIPTS: usize = 2_000;
/// Newest entries of a session its timeline shows.
const TIMELINE_ENTRIES: usize = 500;
/// Characters of a user message or system prompt the timeline shows.
const TIMELINE_TEXT_CHARS: usize = 2_000;
/// Held actions listed on the overview (the count covers all).
const HELD_LISTED: usize = 10;

/// What the receipts say of the last hour, with its charts as SVG and the chain's state: the
/// costly part of the overview, the same for every viewer (the console keeps it a few seconds).
pub fn activity(desk: &AdminApprovals) -> Value {
    let now = time::OffsetDateTime::now_utc();
    let since = overview::window_start(now);
    let (digests, truncated, read_error) =
        match desk.receipts.digests_since(&since, OVERVIEW_MAX_RECEIPTS) {
            Ok((d, t)) => (d, t, None),
            Err(e) => (Vec::new(), false, Some(e.to_string())),
        };
    let summary = overview::summarize(&digests, now, truncated);
    let chain = match desk.receipts.check_newest(CHAIN_CHECK_RECEIPTS) {
        Ok(c) => json!(c),
        Err(e) => json!({"ok": false, "problems": [e.to_string()], "checked": 0}),
    };
    let to_pairs = |items: &[overview::Ranked]| -> Vec<Value> {
        items
            .iter()
            .map(|r| json!({"name": r.name, "count": r.count}))
            .collect()
    };
    json!({
        "generated_at": summary.generated_at,
        "window_minutes": summary.window_minutes,
        "totals": summary.totals,
        "monitored": summary.monitored,
        "receipts_read": summary.receipts_read,
        "truncated": summary.truncated,
        "read_error": read_error,
        "per_minute": summary.per_minute,
        "top_rules": to_pairs(&summary.top_rules),
        "top_agents": to_pairs(&summary.top_agents),
        "drift": {"buckets": summary.drift_buckets, "unknown": summary.drift_unknown},
        "chain": chain,
        "charts": {
            "decisions": charts::decisions_per_minute(&summary.per_minute),
            "rules": charts::ranked_bars("top-rules", "Top rules, last hour", &summary.top_rules, "#455a64"),
            "agents": charts::ranked_bars("top-agents", "Top agents, last hour", &summary.top_agents, "#5d4037"),
            "drift": charts::drift_histogram(&summary.drift_buckets, summary.drift_unknown),
        },
    })
}

/// The overview: `activity` with what is true now for this viewer — the actions held that
/// they may answer, the stores, the SIEM sinks.
pub fn overview(
    desk: &AdminApprovals,
    retention: Option<&aarmor_engine::retention::Retention>,
    approver: &Approver,
    activity: &Value,
) -> Value {
    let held = desk.approvals.list_for(approver);
    let held_rows: Vec<Value> = held
        .iter()
        .take(HELD_LISTED)
        .map(|r| {
            json!({
                "id": r.id,
                "tool": r.action.tool,
                "operation": r.action.operation,
                "agent": r.action.identity.agent,
                "rule": r.rule,
                "risk": r.risk,
                "created": r.created,
                "expires": r.expires,
                "votes": r.votes.len(),
                "quorum": r.quorum,
            })
        })
        .collect();
    let mut v = activity.clone();
    v["held"] = json!({"count": held.len(), "items": held_rows});
    v["storage"] = json!(retention.map(|r| crate::admin::storage_json(&r.status())));
    v["sinks"] = json!(desk
        .telemetry
        .as_ref()
        .map(|t| t.sink_states())
        .unwrap_or_default());
    v
}

/// Sessions whose id or agent contains `query` (case-insensitive), most recently active first.
pub fn sessions(desk: &AdminApprovals, query: &str, limit: usize) -> Result<Value, String> {
    let q = query.trim().to_lowercase();
    let mut all = desk.context.log().sessions().map_err(|e| e.to_string())?;
    let total = all.len();
    all.retain(|(id, h)| {
        q.is_empty() || id.to_lowercase().contains(&q) || h.agent.to_lowercase().contains(&q)
    });
    all.sort_by(|a, b| {
        b.1.last_seen
            .cmp(&a.1.last_seen)
            .then_with(|| a.0.cmp(&b.0))
    });
    let matched = all.len();
    let rows: Vec<Value> = all
        .into_iter()
        .take(limit)
        .map(|(id, h)| {
            json!({
                "session": id,
                "agent": h.agent,
                "started": h.started,
                "last_seen": h.last_seen,
                "entries": h.entries,
                "open": desk.context.is_open(&id),
            })
        })
        .collect();
    Ok(json!({"total": total, "matched": matched, "sessions": rows}))
}

/// What the timeline shows of one receipt.
fn receipt_item(r: &Receipt) -> Value {
    let intent = r.context.intent.as_ref();
    json!({
        "receipt_id": r.receipt_id,
        "seq": r.seq,
        "kind": r.kind,
        "timestamp": r.timestamp,
        "decision": r.decision.result,
        "enforced": r.decision.enforced,
        "rule": r.decision.rule,
        "reason": r.decision.reason,
        "drift": intent.and_then(|i| i.get("drift")),
        "drift_ema": intent.and_then(|i| i.get("drift_ema")),
        "provenance": intent.and_then(|i| i.get("provenance")),
        "approval": r.approval,
        "execution": r.execution,
    })
}

/// The receipts of `session` the receipt search covers, by action id, oldest first; true when
/// older receipts were beyond the search.
fn session_receipts(
    desk: &AdminApprovals,
    session: &str,
) -> Result<(HashMap<String, Vec<Receipt>>, bool), String> {
    let (found, cut) = desk
        .receipts
        .of_session(session, SESSION_MAX_RECEIPTS)
        .map_err(|e| e.to_string())?;
    let mut by_action: HashMap<String, Vec<Receipt>> = HashMap::new();
    for r in found.into_iter().rev() {
        by_action
            .entry(r.action.action_id.0.clone())
            .or_default()
            .push(r);
    }
    Ok((by_action, cut))
}

/// `data` with a long `text` cut to [`TIMELINE_TEXT_CHARS`] (the full text stays in the log:
/// `aarmor context show`).
fn shown_data(data: &Value) -> Value {
    let mut data = data.clone();
    if let Some(text) = data.get("text").and_then(Value::as_str) {
        if text.chars().count() > TIMELINE_TEXT_CHARS {
            let cut: String = text.chars().take(TIMELINE_TEXT_CHARS).collect();
            data["text"] = json!(cut + "…");
            data["text_cut"] = json!(true);
        }
    }
    data
}

/// One session as a timeline: its newest [`TIMELINE_ENTRIES`] entries in order, each action
/// with its receipts, and the session's receipts no entry shows.
pub fn session(desk: &AdminApprovals, session: &str) -> Result<Option<Value>, String> {
    let log = desk.context.log();
    let Some(head) = log.head(session).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let stored = log.raw_entries(session).map_err(|e| e.to_string())?;
    let total = stored.len();
    let entries: Vec<aarmor_engine::context::ContextEntry> = stored
        .iter()
        .skip(total.saturating_sub(TIMELINE_ENTRIES))
        .filter_map(|(_, bytes)| serde_json::from_slice(bytes).ok())
        .collect();
    let (receipts, receipts_cut) = session_receipts(desk, session)?;
    let mut shown: HashSet<&str> = HashSet::new();
    let mut items = Vec::with_capacity(entries.len());
    for e in &entries {
        // An action's decision receipts go with its `action` entry, its resolution and outcome
        // receipts with the entries of those kinds.
        let wanted = match e.kind {
            EntryKind::Action => Some(ReceiptKind::Decision),
            EntryKind::Resolution => Some(ReceiptKind::Resolution),
            EntryKind::Outcome => Some(ReceiptKind::Outcome),
            _ => None,
        };
        let linked: Vec<Value> = match (wanted, e.data.get("action_id").and_then(Value::as_str)) {
            (Some(kind), Some(id)) => receipts
                .get(id)
                .into_iter()
                .flatten()
                .filter(|r| r.kind == kind && shown.insert(r.receipt_id.as_str()))
                .map(receipt_item)
                .collect(),
            _ => Vec::new(),
        };
        items.push(json!({
            "seq": e.seq,
            "at": e.at,
            "kind": e.kind.as_str(),
            "data": shown_data(&e.data),
            "receipts": linked,
        }));
    }
    // Nothing decided in the session is hidden: receipts no entry showed (the LLM calls
    // themselves, actions refused before the context recorded them, entries folded away) come
    // after the timeline.
    let mut unlisted: Vec<&Receipt> = receipts
        .values()
        .flatten()
        .filter(|r| !shown.contains(r.receipt_id.as_str()))
        .collect();
    unlisted.sort_by_key(|r| r.seq);
    Ok(Some(json!({
        "session": session,
        "head": head,
        "open": desk.context.is_open(session),
        "entries_total": total,
        "entries_shown": entries.len(),
        "receipts_cut": receipts_cut,
        "items": items,
        "other_receipts": unlisted.into_iter().map(receipt_item).collect::<Vec<_>>(),
    })))
}

/// Checks a session's context chain against its head, and each of its receipts (signature and
/// link to the receipt before it).
pub fn verify_session(desk: &AdminApprovals, session: &str) -> Result<Option<Value>, String> {
    let log = desk.context.log();
    let Some(head) = log.head(session).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let stored = log.raw_entries(session).map_err(|e| e.to_string())?;
    let context_problems = verify_chain(session, &stored, Some(&head));
    let (receipts, receipts_cut) = session_receipts(desk, session)?;
    let mut checked = 0usize;
    let mut receipt_problems = Vec::new();
    for r in receipts.values().flatten() {
        checked += 1;
        match desk.receipts.verify(&r.receipt_id) {
            Ok(Some(v)) if v.ok => {}
            Ok(Some(v)) => receipt_problems.extend(v.problems),
            Ok(None) => receipt_problems.push(format!("{}: no longer in the store", r.receipt_id)),
            Err(e) => receipt_problems.push(format!("{}: {e}", r.receipt_id)),
        }
    }
    Ok(Some(json!({
        "session": session,
        "ok": context_problems.is_empty() && receipt_problems.is_empty(),
        "context": {"entries": stored.len(), "ok": context_problems.is_empty(), "problems": context_problems},
        "receipts": {"checked": checked, "ok": receipt_problems.is_empty(), "problems": receipt_problems, "cut": receipts_cut},
    })))
}
