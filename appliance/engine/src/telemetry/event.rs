//! What is exported: one event per decision, approval, deferral resolution and drift alert,
//! taken from the signed receipt, with the action's parameters hashed or redacted by default.

use aarmor_core::{Decision, Receipt, ReceiptKind};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Why an event is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The first decision on an action.
    Decision,
    /// The end of a STEP_UP: approved, denied, timed out, or no approver could answer.
    Approval,
    /// The end of a DEFER: re-evaluated with new context, or timed out.
    Deferral,
    /// An action whose intent drift reached `drift_alert_threshold`.
    DriftAlert,
}

impl EventKind {
    /// The syslog MSGID.
    pub fn msgid(self) -> &'static str {
        match self {
            Self::Decision => "DECISION",
            Self::Approval => "APPROVAL",
            Self::Deferral => "DEFERRAL",
            Self::DriftAlert => "DRIFT",
        }
    }
}

/// How action parameters appear in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ParameterMode {
    /// Each value replaced by `sha256:<16 hex>` of its canonical JSON (keys kept): joinable
    /// with receipts and across events without disclosing values.
    #[default]
    Hash,
    /// Each value replaced by `[REDACTED]` (keys kept).
    Redact,
    /// Values as the agent sent them.
    Raw,
}

/// One event to export.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub receipt: Receipt,
    /// The drift that raised a drift alert.
    pub drift: Option<f64>,
}

impl Event {
    /// The events a receipt gives: its decision, approval or deferral event, and a drift alert
    /// when the action's drift reached `drift_threshold`. Outcome receipts give none.
    pub fn from_receipt(receipt: &Receipt, drift_threshold: Option<f64>) -> Vec<Event> {
        let kind = match receipt.kind {
            ReceiptKind::Decision => EventKind::Decision,
            ReceiptKind::Resolution if receipt.approval.is_some() => EventKind::Approval,
            ReceiptKind::Resolution => EventKind::Deferral,
            ReceiptKind::Outcome | ReceiptKind::Checkpoint => return Vec::new(),
        };
        let mut out = vec![Event {
            kind,
            receipt: receipt.clone(),
            drift: None,
        }];
        let drift = receipt
            .context
            .intent
            .as_ref()
            .and_then(|i| i.get("drift"))
            .and_then(Value::as_f64);
        if let (Some(d), Some(t), ReceiptKind::Decision) = (drift, drift_threshold, receipt.kind) {
            if d >= t {
                out.push(Event {
                    kind: EventKind::DriftAlert,
                    receipt: receipt.clone(),
                    drift: Some(d),
                });
            }
        }
        out
    }

    /// Whether the event reports something refused, or a drift alert (a finding).
    pub fn is_finding(&self) -> bool {
        self.kind == EventKind::DriftAlert || self.receipt.decision.result == Decision::Deny
    }

    /// The receipt's decision result.
    pub fn decision(&self) -> Decision {
        self.receipt.decision.result
    }

    /// syslog severity (RFC 5424): 4 warning for refusals and drift, 5 notice for holds and
    /// modifications, 6 informational otherwise.
    pub fn syslog_severity(&self) -> u8 {
        if self.is_finding() {
            return 4;
        }
        match self.decision() {
            Decision::Allow => 6,
            _ => 5,
        }
    }
}

/// The action's parameters as `mode` shows them.
pub fn parameters(params: &Map<String, Value>, mode: ParameterMode) -> Value {
    match mode {
        ParameterMode::Raw => Value::Object(params.clone()),
        ParameterMode::Redact => Value::Object(
            params
                .keys()
                .map(|k| (k.clone(), Value::String("[REDACTED]".into())))
                .collect(),
        ),
        ParameterMode::Hash => Value::Object(
            params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(short_hash(v))))
                .collect(),
        ),
    }
}

fn short_hash(v: &Value) -> String {
    use sha2::Digest;
    let bytes =
        aarmor_core::canonical::canonical_value(v).unwrap_or_else(|_| v.to_string().into_bytes());
    let digest = sha2::Sha256::digest(&bytes);
    format!("sha256:{}", hex::encode(&digest[..8]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameters_are_hashed_or_redacted_by_key() {
        let p = json!({"to": "cfo@corp.example", "amount": 5000})
            .as_object()
            .unwrap()
            .clone();
        let hashed = parameters(&p, ParameterMode::Hash);
        assert!(hashed["to"].as_str().unwrap().starts_with("sha256:"));
        assert_eq!(hashed["to"].as_str().unwrap().len(), 23);
        assert!(!hashed.to_string().contains("cfo@"));
        assert_eq!(
            parameters(&p, ParameterMode::Redact)["amount"],
            "[REDACTED]"
        );
        assert_eq!(parameters(&p, ParameterMode::Raw)["amount"], 5000);
        // The same value hashes the same across events.
        assert_eq!(parameters(&p, ParameterMode::Hash), hashed);
    }
}
