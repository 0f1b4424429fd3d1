//! Who may answer approvals: the operator token (automation), and named approvers with tokens
//! of their own (stored as sha256), grouped for routing.

use std::collections::{BTreeMap, BTreeSet};

use crate::identity::sha256_hex;
use crate::settings::ApprovalSettings;

/// An authenticated approver.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Approver {
    pub name: String,
    /// The human this approver is (self-approval check).
    pub principal: String,
    pub groups: BTreeSet<String>,
    /// The operator token: may answer anything; names the approver per request.
    pub operator: bool,
    /// May use the console's operator views (Overview, Sessions): the operator token, and the
    /// approvers `[approvals] operators` names.
    pub sees_operations: bool,
}

impl Approver {
    /// The operator token acting for `name` (automation, `aarmor approvals`).
    pub fn operator(name: &str) -> Self {
        Self {
            name: name.to_string(),
            principal: name.to_string(),
            groups: BTreeSet::new(),
            operator: true,
            sees_operations: true,
        }
    }
}

#[derive(Debug, Default)]
pub struct Directory {
    operator_token: Option<String>,
    /// sha256 hex of the token ⇒ approver.
    by_token: BTreeMap<String, Approver>,
    /// Groups defined in `[approvals.groups]`.
    pub groups: BTreeSet<String>,
    pub default_groups: Vec<String>,
    pub escalate_to: Vec<String>,
    pub escalate_after_s: u64,
    pub allow_self_approval: bool,
    /// Most approvals waiting at once, in all and per agent.
    pub max_pending: usize,
    pub max_pending_per_agent: usize,
}

/// Constant-time equality.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Directory {
    pub fn new(settings: &ApprovalSettings, operator_token: Option<String>) -> Self {
        let mut groups_of: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (group, members) in &settings.groups {
            for m in members {
                groups_of
                    .entry(m.as_str())
                    .or_default()
                    .insert(group.clone());
            }
        }
        let by_token = settings
            .approvers
            .iter()
            .map(|a| {
                (
                    a.token_sha256.to_ascii_lowercase(),
                    Approver {
                        name: a.name.clone(),
                        principal: a.principal.clone().unwrap_or_else(|| a.name.clone()),
                        groups: groups_of.get(a.name.as_str()).cloned().unwrap_or_default(),
                        operator: false,
                        sees_operations: settings.operators.contains(&a.name),
                    },
                )
            })
            .collect();
        Self {
            operator_token,
            by_token,
            groups: settings.groups.keys().cloned().collect(),
            default_groups: settings.default_groups.clone(),
            escalate_to: settings.escalate_to.clone(),
            escalate_after_s: settings.escalate_after_s,
            allow_self_approval: settings.allow_self_approval,
            max_pending: settings.max_pending,
            max_pending_per_agent: settings.max_pending_per_agent,
        }
    }

    /// Whether `name` is a configured approver (with a token of their own).
    pub fn is_approver(&self, name: &str) -> bool {
        self.by_token.values().any(|a| a.name == name)
    }

    /// Whether anyone at all can answer.
    pub fn anyone(&self) -> bool {
        self.operator_token.is_some() || !self.by_token.is_empty()
    }

    /// The secret a vote forwarded between cluster replicas is authenticated with: the hash of
    /// the approver's token (of the operator token for the operator), which every replica's
    /// configuration holds and Redis never sees. `None`: no such approver here.
    pub fn vote_key(&self, name: &str, operator: bool) -> Option<Vec<u8>> {
        if operator {
            let op = self.operator_token.as_ref()?;
            return Some(sha256_hex(op.as_bytes()).into_bytes());
        }
        self.by_token
            .iter()
            .find(|(_, a)| a.name == name)
            .map(|(hash, _)| hash.clone().into_bytes())
    }

    /// The approver a forwarded vote names, as this replica's configuration defines them
    /// (groups and principal come from here, never from the forwarded vote).
    pub fn approver_named(&self, name: &str, operator: bool) -> Option<Approver> {
        if operator {
            return self
                .operator_token
                .as_ref()
                .map(|_| Approver::operator(name));
        }
        self.by_token.values().find(|a| a.name == name).cloned()
    }

    /// The approver a bearer token belongs to; `named` is who the operator token acts for.
    pub fn authenticate(&self, token: &str, named: Option<&str>) -> Option<Approver> {
        if token.is_empty() {
            return None;
        }
        if let Some(op) = &self.operator_token {
            if same(token.as_bytes(), op.as_bytes()) {
                return Some(Approver::operator(
                    named.filter(|n| !n.trim().is_empty()).unwrap_or("operator"),
                ));
            }
        }
        self.by_token.get(&sha256_hex(token.as_bytes())).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::ApproverSettings;

    #[test]
    fn tokens_name_approvers_and_their_groups() {
        let settings = ApprovalSettings {
            approvers: vec![ApproverSettings {
                name: "ana".into(),
                token_sha256: sha256_hex(b"ana-token"),
                principal: Some("ana@corp.example".into()),
            }],
            groups: [("finance".to_string(), vec!["ana".to_string()])].into(),
            ..ApprovalSettings::default()
        };
        let d = Directory::new(&settings, Some("op-token".into()));
        let ana = d.authenticate("ana-token", Some("someone-else")).unwrap();
        assert_eq!(ana.name, "ana");
        assert_eq!(ana.principal, "ana@corp.example");
        assert!(ana.groups.contains("finance") && !ana.operator);
        let op = d.authenticate("op-token", Some("ci-bot")).unwrap();
        assert!(op.operator && op.name == "ci-bot");
        assert!(d.authenticate("nope", None).is_none());
        assert!(d.authenticate("", None).is_none());
    }
}
