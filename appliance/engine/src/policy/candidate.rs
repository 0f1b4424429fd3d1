//! What a policy returns: candidate decisions, parsed strictly. A malformed candidate is an
//! evaluation error (and so a denial), never silently ignored.

use std::time::Duration;

use aarmor_core::{Decision, DecisionClass};
use serde_json::{Map, Value};

/// How a MODIFY changes the action's parameters: a merge patch first, then redactions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Patch {
    /// RFC 7396 JSON merge patch on `parameters`.
    pub merge: Option<Value>,
    /// JSON pointers (into `parameters`) whose values are replaced by `"[REDACTED]"`.
    pub redact: Vec<String>,
}

/// Replacement for redacted values.
pub const REDACTED: &str = "[REDACTED]";

impl Patch {
    /// Applies the patch to parameters; the result is always an object.
    pub fn apply(&self, parameters: &Map<String, Value>) -> Map<String, Value> {
        let mut doc = Value::Object(parameters.clone());
        if let Some(m) = &self.merge {
            json_patch::merge(&mut doc, m);
        }
        for pointer in &self.redact {
            if let Some(v) = doc.pointer_mut(pointer) {
                *v = Value::String(REDACTED.into());
            }
        }
        match doc {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn combine(&mut self, other: &Patch) {
        if let Some(m) = &other.merge {
            match &mut self.merge {
                Some(existing) => json_patch::merge(existing, m),
                None => self.merge = Some(m.clone()),
            }
        }
        self.redact.extend(other.redact.iter().cloned());
    }

    /// Combines patches in order.
    pub fn combine_all<'a>(patches: impl IntoIterator<Item = &'a Patch>) -> Patch {
        let mut out = Patch::default();
        for p in patches {
            out.combine(p);
        }
        out
    }
}

/// Who may answer a STEP_UP, how many must agree, and who is asked when they do not answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApprovalRoute {
    /// Approver groups (`[approvals.groups]`); empty: `[approvals] default_groups`.
    pub groups: Vec<String>,
    /// Approvals needed (`quorum`: `"any"` = 1, or n); one denial refuses at once.
    pub quorum: u32,
    /// Backup groups asked once `escalate_after` passes without a decision.
    pub escalate_to: Vec<String>,
    pub escalate_after: Option<Duration>,
}

/// One candidate decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub decision: Decision,
    pub class: DecisionClass,
    pub priority: i64,
    pub rule: String,
    pub reason: String,
    pub modify: Option<Patch>,
    /// STEP_UP routing: `approvers` (groups), `quorum`, `escalate_to`, `escalate_after`.
    pub route: ApprovalRoute,
    pub timeout: Option<Duration>,
    /// Input paths (`context.original_request`) the rule needs; unpopulated ⇒ DEFER.
    pub requires: Vec<String>,
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

impl Candidate {
    pub fn parse(value: &Value) -> Result<Self, String> {
        let obj = value
            .as_object()
            .ok_or_else(|| format!("a decision must be an object, got {value}"))?;
        let rule = field(obj, "rule")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("decision without a `rule` name: {value}"))?
            .to_string();
        let err = |what: &str| format!("rule `{rule}`: {what}");
        let decision = field(obj, "decision")
            .and_then(Value::as_str)
            .and_then(Decision::parse)
            .ok_or_else(|| err("`decision` must be allow, deny, modify, step_up or defer"))?;
        let class = field(obj, "class")
            .and_then(Value::as_str)
            .and_then(DecisionClass::parse)
            .ok_or_else(|| {
                err("`class` must be forbidden, context_deny, context_allow or context_defer")
            })?;
        if class == DecisionClass::Forbidden && decision != Decision::Deny {
            return Err(err("class `forbidden` must decide deny"));
        }
        let priority = match field(obj, "priority") {
            None => 0,
            Some(v) => v
                .as_i64()
                .ok_or_else(|| err("`priority` must be an integer"))?,
        };
        let reason = field(obj, "reason")
            .and_then(Value::as_str)
            .ok_or_else(|| err("`reason` is required"))?
            .to_string();
        let modify = match field(obj, "modify") {
            None => None,
            Some(m) => {
                let merge = m.get("patch").filter(|p| !p.is_null()).cloned();
                let redact = match m.get("redact") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(list)) => list
                        .iter()
                        .map(|p| {
                            p.as_str()
                                .filter(|s| s.starts_with('/'))
                                .map(str::to_string)
                        })
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            err("`modify.redact` must list JSON pointers (\"/field\")")
                        })?,
                    Some(_) => return Err(err("`modify.redact` must be a list")),
                };
                if merge.is_none() && redact.is_empty() {
                    return Err(err(
                        "`modify` needs `patch` (a merge patch) or `redact` (pointers)",
                    ));
                }
                Some(Patch { merge, redact })
            }
        };
        if decision == Decision::Modify && modify.is_none() {
            return Err(err("decision modify needs `modify`"));
        }
        let strings = |name: &str| -> Result<Vec<String>, String> {
            match field(obj, name) {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| err(&format!("`{name}` must be a list of strings"))),
                Some(_) => Err(err(&format!("`{name}` must be a list of strings"))),
            }
        };
        let seconds = |name: &str| -> Result<Option<Duration>, String> {
            match field(obj, name) {
                None => Ok(None),
                Some(v) => Ok(Some(Duration::from_secs_f64(
                    v.as_f64()
                        .filter(|t| *t > 0.0 && t.is_finite() && *t < 1e9)
                        .ok_or_else(|| {
                            err(&format!("`{name}` must be a positive number of seconds"))
                        })?,
                ))),
            }
        };
        let timeout = seconds("timeout")?;
        let quorum = match field(obj, "quorum") {
            None => 1,
            Some(Value::String(s)) if s == "any" => 1,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    err("`quorum` must be \"any\" or a number of approvals from 1 to 100")
                })? as u32,
        };
        let route = ApprovalRoute {
            groups: strings("approvers")?,
            quorum,
            escalate_to: strings("escalate_to")?,
            escalate_after: seconds("escalate_after")?,
        };
        Ok(Self {
            decision,
            class,
            priority,
            rule: rule.clone(),
            reason,
            modify,
            route,
            timeout,
            requires: strings("requires")?,
        })
    }
}
