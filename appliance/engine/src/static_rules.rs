//! A first-match rule list from the configuration: the engine used until a policy language is
//! configured, and a predictable engine for tests. No rules means every action is allowed (and
//! logged).

use std::time::Duration;

use aarmor_core::{Action, Denial, Hold, Modification, Observation, Verdict};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::action_engine::ActionEngine;
use crate::mediator::MediationError;

/// What a matching rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleDecision {
    Allow,
    Deny,
    /// Merge `set_parameters` into the action's parameters.
    Modify,
    /// Park the action for `hold_ms`, then apply `then`.
    Hold,
}

/// One rule. Patterns use `*` as a wildcard; an absent pattern matches everything.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub tool: Option<String>,
    #[serde(default)]
    pub operation: Option<String>,
    pub decision: RuleDecision,
    #[serde(default)]
    pub reason: Option<String>,
    /// For `modify`: top-level parameters to set.
    #[serde(default)]
    pub set_parameters: Map<String, Value>,
    /// For `hold`: how long the action is parked.
    #[serde(default)]
    pub hold_ms: Option<u64>,
    /// For `hold`: the decision once the hold ends (`allow` or `deny`).
    #[serde(default)]
    pub then: Option<RuleDecision>,
}

impl Rule {
    /// Checks what serde cannot: fields that belong to a decision.
    pub fn validate(&self) -> Result<(), String> {
        match self.decision {
            RuleDecision::Modify if self.set_parameters.is_empty() => Err(format!(
                "rule `{}`: decision = \"modify\" needs set_parameters",
                self.name
            )),
            RuleDecision::Hold if self.hold_ms.is_none() => Err(format!(
                "rule `{}`: decision = \"hold\" needs hold_ms",
                self.name
            )),
            RuleDecision::Hold
                if matches!(
                    self.then,
                    Some(RuleDecision::Hold) | Some(RuleDecision::Modify)
                ) =>
            {
                Err(format!(
                    "rule `{}`: `then` must be \"allow\" or \"deny\"",
                    self.name
                ))
            }
            _ => Ok(()),
        }
    }

    fn matches(&self, action: &Action) -> bool {
        let ok = |pattern: &Option<String>, value: &str| {
            pattern.as_deref().is_none_or(|p| wildcard(p, value))
        };
        ok(&self.protocol, action.protocol.as_str())
            && ok(&self.tool, &action.tool)
            && ok(&self.operation, &action.operation)
    }

    fn reason(&self) -> String {
        self.reason
            .clone()
            .unwrap_or_else(|| format!("matched rule {}", self.name))
    }

    fn denial(&self) -> Denial {
        Denial {
            rule: Some(self.name.clone()),
            reason: self.reason(),
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn wildcard(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !value.starts_with(first) || value.len() < first.len() + last.len() || !value.ends_with(last)
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// First matching rule wins; no match allows.
#[derive(Debug, Clone, Default)]
pub struct StaticRulesEngine {
    rules: Vec<Rule>,
}

impl StaticRulesEngine {
    pub fn new(rules: Vec<Rule>) -> Result<Self, String> {
        for r in &rules {
            r.validate()?;
        }
        Ok(Self { rules })
    }
}

#[async_trait]
impl ActionEngine for StaticRulesEngine {
    fn name(&self) -> &'static str {
        "static-rules"
    }

    async fn mediate(&self, action: &Action) -> Result<Verdict, MediationError> {
        let Some(rule) = self.rules.iter().find(|r| r.matches(action)) else {
            tracing::info!(action = %action.action_id, tool = %action.tool, operation = %action.operation, "allow (no rule matched)");
            return Ok(Verdict::Allow);
        };
        tracing::info!(action = %action.action_id, tool = %action.tool, operation = %action.operation, rule = %rule.name, decision = ?rule.decision, "rule matched");
        Ok(match rule.decision {
            RuleDecision::Allow => Verdict::Allow,
            RuleDecision::Deny => Verdict::Deny(rule.denial()),
            RuleDecision::Modify => {
                let mut parameters = action.parameters.clone();
                for (k, v) in &rule.set_parameters {
                    parameters.insert(k.clone(), v.clone());
                }
                Verdict::Modify(Modification {
                    rule: Some(rule.name.clone()),
                    reason: rule.reason(),
                    parameters,
                })
            }
            RuleDecision::Hold => {
                let wait = Duration::from_millis(rule.hold_ms.unwrap_or(0));
                let then = rule.then.unwrap_or(RuleDecision::Deny);
                let denial = rule.denial();
                Verdict::Hold(Hold {
                    reason: rule.reason(),
                    // The rule's own wait plus a margin; the data plane's hold limit also applies.
                    timeout: wait + Duration::from_secs(1),
                    resolution: Box::pin(async move {
                        tokio::time::sleep(wait).await;
                        match then {
                            RuleDecision::Allow => Verdict::Allow,
                            _ => Verdict::Deny(denial),
                        }
                    }),
                })
            }
        })
    }

    async fn observe(&self, observations: Vec<Observation>) {
        for o in observations {
            tracing::debug!(kind = ?o.kind, protocol = o.protocol.as_str(), "observed");
        }
    }
}

#[cfg(test)]
mod tests {
    use aarmor_core::{ActionId, ActionTarget, FinalVerdict, Identity, Protocol};
    use serde_json::json;

    use super::*;

    fn action(tool: &str, op: &str) -> Action {
        Action {
            action_id: ActionId("act_1".into()),
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            protocol: Protocol::Mcp,
            target: ActionTarget {
                host: "h".into(),
                port: 443,
                method: "POST".into(),
                path: "/mcp".into(),
            },
            tool: tool.into(),
            operation: op.into(),
            parameters: Map::new(),
            identity: Identity::default(),
            context_ref: None,
            risk_signals: vec![],
        }
    }

    fn rules(toml_rules: Value) -> StaticRulesEngine {
        StaticRulesEngine::new(serde_json::from_value(toml_rules).unwrap()).unwrap()
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*", "x"));
        assert!(wildcard("files.delete_*", "files.delete_file"));
        assert!(wildcard("*.drop*", "srv.drop_table"));
        assert!(!wildcard("delete_*", "files.delete_file"));
        assert!(wildcard("a*b*c", "aXbYc"));
        assert!(!wildcard("a*b*c", "ac"));
    }

    #[tokio::test]
    async fn first_match_wins_and_no_match_allows() {
        let e = rules(json!([
            {"name": "no-deletes", "tool": "*delete*", "decision": "deny", "reason": "destructive"},
            {"name": "all-mcp", "protocol": "mcp", "decision": "allow"}
        ]));
        match e
            .mediate(&action("files.delete_file", "tools/call"))
            .await
            .unwrap()
        {
            Verdict::Deny(d) => {
                assert_eq!(d.rule.as_deref(), Some("no-deletes"));
                assert_eq!(d.reason, "destructive");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            e.mediate(&action("files.read", "tools/call"))
                .await
                .unwrap(),
            Verdict::Allow
        ));
        assert!(matches!(
            StaticRulesEngine::default()
                .mediate(&action("x", "y"))
                .await
                .unwrap(),
            Verdict::Allow
        ));
    }

    #[tokio::test]
    async fn modify_merges_parameters_and_hold_resolves() {
        let e = rules(json!([
            {"name": "cap", "tool": "q", "decision": "modify", "set_parameters": {"limit": 10}},
            {"name": "wait", "tool": "w", "decision": "hold", "hold_ms": 10, "then": "allow"}
        ]));
        match e.mediate(&action("q", "call")).await.unwrap() {
            Verdict::Modify(m) => assert_eq!(m.parameters["limit"], 10),
            other => panic!("{other:?}"),
        }
        let held = e.mediate(&action("w", "call")).await.unwrap();
        let settled = held
            .settle(Duration::from_secs(5), tokio::time::sleep)
            .await;
        assert_eq!(settled, FinalVerdict::Allow);
        let held = e.mediate(&action("w", "call")).await.unwrap();
        let settled = held
            .settle(Duration::from_millis(1), tokio::time::sleep)
            .await;
        assert!(
            matches!(settled, FinalVerdict::Deny(_)),
            "a hold past the limit is a denial"
        );
    }

    #[test]
    fn invalid_rules_are_rejected() {
        let bad: Vec<Rule> =
            serde_json::from_value(json!([{"name": "m", "decision": "modify"}])).unwrap();
        assert!(StaticRulesEngine::new(bad)
            .unwrap_err()
            .contains("set_parameters"));
        let bad: Vec<Rule> =
            serde_json::from_value(json!([{"name": "h", "decision": "hold"}])).unwrap();
        assert!(StaticRulesEngine::new(bad).unwrap_err().contains("hold_ms"));
    }
}
