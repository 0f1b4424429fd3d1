//! From candidate decisions to one decision (AARM R3):
//! 1. a candidate whose `requires` names an unpopulated input field becomes DEFER;
//! 2. forbidden candidates win over everything (the highest-priority one decides);
//! 3. otherwise the highest priority wins; equal priority with different decisions ⇒ DEFER;
//! 4. no candidate ⇒ the configured default for the protocol.
//!
//! Evaluation errors never reach this module: the engine turns them into DENY.

use aarmor_core::{Decision, DecisionClass};
use serde_json::Value;

use super::candidate::{ApprovalRoute, Candidate, Patch};

/// The decision and everything needed to enforce and receipt it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub decision: Decision,
    pub class: Option<DecisionClass>,
    pub rule: Option<String>,
    pub reason: String,
    pub modify: Option<Patch>,
    /// STEP_UP routing of the winning rule.
    pub route: ApprovalRoute,
    pub timeout: Option<std::time::Duration>,
    /// Every candidate that was considered, for the receipt and for explanations.
    pub candidates: Vec<Candidate>,
}

/// True when `path` (dotted, into `input`) names a populated value: present, not null, not an
/// empty string, list or object.
pub fn populated(input: &Value, path: &str) -> bool {
    let mut v = input;
    for part in path.split('.') {
        match v.get(part) {
            Some(next) => v = next,
            None => return false,
        }
    }
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

pub fn resolve(mut candidates: Vec<Candidate>, input: &Value, default: Decision) -> Resolution {
    for c in candidates.iter_mut() {
        if let Some(missing) = c.requires.iter().find(|p| !populated(input, p)) {
            c.reason = format!("{} (deferred: `{missing}` is not known yet)", c.reason);
            c.decision = Decision::Defer;
            c.class = DecisionClass::ContextDefer;
            c.modify = None;
        }
    }
    let pick = |c: &Candidate, all: &[Candidate]| Resolution {
        decision: c.decision,
        class: Some(c.class),
        rule: Some(c.rule.clone()),
        reason: c.reason.clone(),
        modify: c.modify.clone(),
        route: c.route.clone(),
        timeout: c.timeout,
        candidates: all.to_vec(),
    };
    if let Some(f) = candidates
        .iter()
        .filter(|c| c.class == DecisionClass::Forbidden)
        .max_by_key(|c| c.priority)
    {
        return pick(f, &candidates);
    }
    let Some(top) = candidates.iter().map(|c| c.priority).max() else {
        return Resolution {
            decision: default,
            class: None,
            rule: None,
            reason: format!("no policy rule matched; default {default}"),
            modify: None,
            route: ApprovalRoute::default(),
            timeout: None,
            candidates,
        };
    };
    let winners: Vec<&Candidate> = candidates.iter().filter(|c| c.priority == top).collect();
    let first = winners[0];
    if winners.iter().all(|c| c.decision == first.decision) {
        if first.decision == Decision::Modify && winners.len() > 1 {
            // Several modifications at the same priority: applied in rule-name order.
            let mut patches: Vec<&Candidate> = winners.clone();
            patches.sort_by(|a, b| a.rule.cmp(&b.rule));
            let mut res = pick(patches[0], &candidates);
            res.rule = Some(
                patches
                    .iter()
                    .map(|c| c.rule.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
            res.reason = patches
                .iter()
                .map(|c| c.reason.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            res.modify = Some(Patch::combine_all(
                patches.iter().filter_map(|c| c.modify.as_ref()),
            ));
            return res;
        }
        return pick(first, &candidates);
    }
    let mut rules: Vec<String> = winners
        .iter()
        .map(|c| format!("{} ({})", c.rule, c.decision))
        .collect();
    rules.sort();
    Resolution {
        decision: Decision::Defer,
        class: Some(DecisionClass::ContextDefer),
        rule: Some(rules.join(", ")),
        reason: format!(
            "rules of equal priority {top} disagree: {}; deferred until context resolves it",
            rules.join(", ")
        ),
        modify: None,
        route: ApprovalRoute::default(),
        timeout: winners.iter().filter_map(|c| c.timeout).min(),
        candidates,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn c(v: Value) -> Candidate {
        Candidate::parse(&v).unwrap()
    }

    #[test]
    fn forbidden_wins_over_higher_priority() {
        let r = resolve(
            vec![
                c(
                    json!({"decision": "allow", "class": "context_allow", "priority": 5000, "rule": "vip", "reason": "vip"}),
                ),
                c(
                    json!({"decision": "deny", "class": "forbidden", "priority": 1, "rule": "no-drop", "reason": "drop"}),
                ),
            ],
            &json!({}),
            Decision::Allow,
        );
        assert_eq!(
            (r.decision, r.rule.as_deref()),
            (Decision::Deny, Some("no-drop"))
        );
    }

    #[test]
    fn highest_priority_wins_and_ties_that_disagree_defer() {
        let allow = c(
            json!({"decision": "allow", "class": "context_allow", "priority": 10, "rule": "a", "reason": "ok"}),
        );
        let deny = c(
            json!({"decision": "deny", "class": "context_deny", "priority": 20, "rule": "b", "reason": "no"}),
        );
        assert_eq!(
            resolve(
                vec![allow.clone(), deny.clone()],
                &json!({}),
                Decision::Allow
            )
            .decision,
            Decision::Deny
        );
        let mut tie = deny.clone();
        tie.priority = 10;
        let r = resolve(vec![allow, tie], &json!({}), Decision::Allow);
        assert_eq!(r.decision, Decision::Defer);
        assert!(r.reason.contains("disagree"), "{}", r.reason);
    }

    #[test]
    fn missing_required_context_defers_and_no_candidate_uses_default() {
        let needs = c(
            json!({"decision": "allow", "class": "context_allow", "priority": 10, "rule": "a", "reason": "ok", "requires": ["context.original_request"]}),
        );
        let r = resolve(
            vec![needs.clone()],
            &json!({"context": {}}),
            Decision::Allow,
        );
        assert_eq!(r.decision, Decision::Defer);
        let r = resolve(
            vec![needs],
            &json!({"context": {"original_request": "delete my test data"}}),
            Decision::Allow,
        );
        assert_eq!(r.decision, Decision::Allow);
        let r = resolve(vec![], &json!({}), Decision::Deny);
        assert_eq!((r.decision, r.rule), (Decision::Deny, None));
    }

    #[test]
    fn malformed_candidates_are_errors() {
        for bad in [
            json!({"decision": "allow", "class": "context_allow", "reason": "no rule"}),
            json!({"decision": "maybe", "class": "context_allow", "rule": "r", "reason": "x"}),
            json!({"decision": "allow", "class": "forbidden", "rule": "r", "reason": "x"}),
            json!({"decision": "modify", "class": "context_allow", "rule": "r", "reason": "x"}),
            json!({"decision": "allow", "class": "context_allow", "rule": "r", "reason": "x", "priority": "high"}),
            json!("deny"),
        ] {
            assert!(Candidate::parse(&bad).is_err(), "{bad}");
        }
    }
}
