//! OCSF 1.3 JSON for events: API Activity (class 6003) for actions that proceed or are held,
//! Detection Finding (class 2004) for denials and drift alerts. AARM fields without an OCSF
//! home (decision class, receipt chain, identity evidence, intent signals) go in
//! `unmapped.aarm`.

use aarmor_core::Decision;
use serde_json::{json, Value};

use super::event::{parameters, Event, EventKind, ParameterMode};

pub const OCSF_VERSION: &str = "1.3.0";

/// CRUD-like activity of an action, for API Activity's `activity_id`.
fn activity(operation: &str, method: &str) -> (u32, &'static str) {
    let op = operation.to_ascii_lowercase();
    let m = method.to_ascii_uppercase();
    if ["delete", "drop", "truncate"].contains(&op.as_str()) || m == "DELETE" && op == "delete" {
        return (4, "Delete");
    }
    if ["select", "get", "read", "list", "tools/list"].contains(&op.as_str()) {
        return (2, "Read");
    }
    if ["insert", "create", "post"].contains(&op.as_str()) {
        return (1, "Create");
    }
    if ["update", "put", "patch"].contains(&op.as_str()) {
        return (3, "Update");
    }
    (99, "Other")
}

/// OCSF `disposition_id` (security control profile) of a decision.
fn disposition(decision: Decision, approved: bool) -> (u32, &'static str) {
    match decision {
        Decision::Allow if approved => (8, "Approved"),
        Decision::Allow => (1, "Allowed"),
        Decision::Deny => (2, "Blocked"),
        Decision::Modify => (11, "Corrected"),
        Decision::StepUp | Decision::Defer => (14, "Delayed"),
    }
}

fn severity(event: &Event) -> (u32, &'static str) {
    if event.kind == EventKind::DriftAlert {
        return (3, "Medium");
    }
    match event.decision() {
        Decision::Deny
            if event.receipt.decision.class == Some(aarmor_core::DecisionClass::Forbidden) =>
        {
            (4, "High")
        }
        Decision::Deny => (3, "Medium"),
        Decision::StepUp | Decision::Defer | Decision::Modify => (2, "Low"),
        Decision::Allow => (1, "Informational"),
    }
}

fn epoch_ms(ts: &str) -> i64 {
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(0)
}

/// The OCSF document of one event.
pub fn to_ocsf(event: &Event, params: ParameterMode) -> Value {
    let r = &event.receipt;
    let a = &r.action;
    let id = &a.identity;
    let approved = r.approval.as_ref().and_then(|x| x.status()) == Some("approved");
    let (disposition_id, disposition_name) = disposition(r.decision.result, approved);
    let (severity_id, severity_name) = severity(event);
    let actor = json!({
        "user": id.human.as_ref().map(|h| json!({"name": h, "uid": h})),
        "app_name": id.agent,
        "session": id.session.as_ref().map(|s| json!({"uid": s})),
    });
    let api = json!({
        "operation": format!("{}.{}", a.tool, a.operation),
        "service": {"name": a.tool},
        "request": {"uid": a.action_id.0},
    });
    let dst = json!({"hostname": a.target.host, "port": a.target.port});
    let http = json!({
        "http_method": a.target.method,
        "url": {"hostname": a.target.host, "port": a.target.port, "path": a.target.path},
    });
    let aarm = json!({
        "event": event.kind,
        "protocol": a.protocol.as_str(),
        "decision": r.decision.result,
        "class": r.decision.class,
        "rule": r.decision.rule,
        "reason": r.decision.reason,
        "enforced": r.decision.enforced,
        "receipt_id": r.receipt_id,
        "receipt_seq": r.seq,
        "receipt_kind": r.kind,
        "follows": r.follows,
        "prev_hash": r.prev_hash,
        "context_hash": r.context.context_hash,
        "identity": {
            "service": id.service,
            "role": id.role,
            "evidence": id.evidence,
            "unverified": id.unverified,
            "delegation_chain": id.delegation_chain,
        },
        "parameters": parameters(&a.parameters, params),
        "intent": r.context.intent,
        "approval": r.approval,
        "deferral": r.deferral,
        "risk_signals": a.risk_signals,
        "drift": event.drift,
    });
    let metadata = json!({
        "version": OCSF_VERSION,
        "product": {"name": "aarmor", "vendor_name": "aarmor", "version": env!("CARGO_PKG_VERSION")},
        "uid": match event.kind { EventKind::DriftAlert => format!("{}:drift", r.receipt_id), _ => r.receipt_id.clone() },
        "correlation_uid": a.action_id.0,
        "event_code": event.kind.msgid(),
        "profiles": ["security_control"],
    });
    let policy = json!({
        "name": r.decision.rule.clone().unwrap_or_else(|| "default".into()),
        "uid": r.decision.policy.hash,
        "version": r.decision.policy.version,
        "desc": r.decision.policy.policy_id,
    });
    let time = epoch_ms(&r.timestamp);
    let mut doc = if event.is_finding() {
        let title = match event.kind {
            EventKind::DriftAlert => format!(
                "Intent drift {:.2} on {}.{}",
                event.drift.unwrap_or_default(),
                a.tool,
                a.operation
            ),
            _ => format!("Action denied: {}.{}", a.tool, a.operation),
        };
        json!({
            "class_uid": 2004,
            "class_name": "Detection Finding",
            "category_uid": 2,
            "category_name": "Findings",
            "activity_id": 1,
            "activity_name": "Create",
            "type_uid": 200401,
            "type_name": "Detection Finding: Create",
            "status_id": 1,
            "status": "New",
            "finding_info": {
                "uid": metadata["uid"],
                "title": title,
                "desc": r.decision.reason,
                "types": [match event.kind { EventKind::DriftAlert => "aarm/drift", _ => "aarm/denied-action" }],
                "analytic": {"name": r.decision.rule.clone().unwrap_or_else(|| "aarmor".into()), "type_id": 1, "type": "Rule"},
            },
            "evidences": [{"actor": actor, "api": api, "dst_endpoint": dst, "http_request": http}],
            "resources": [{"name": a.tool, "type": a.protocol.as_str()}],
        })
    } else {
        let (activity_id, activity_name) = activity(&a.operation, &a.target.method);
        json!({
            "class_uid": 6003,
            "class_name": "API Activity",
            "category_uid": 6,
            "category_name": "Application Activity",
            "activity_id": activity_id,
            "activity_name": activity_name,
            "type_uid": 600300 + activity_id,
            "type_name": format!("API Activity: {activity_name}"),
            "status_id": 1,
            "status": "Success",
            "actor": actor,
            "api": api,
            "src_endpoint": {"name": id.agent},
            "dst_endpoint": dst,
            "http_request": http,
            "resources": [{"name": a.tool, "type": a.protocol.as_str()}],
        })
    };
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("time".into(), json!(time));
        obj.insert("severity_id".into(), json!(severity_id));
        obj.insert("severity".into(), json!(severity_name));
        obj.insert("disposition_id".into(), json!(disposition_id));
        obj.insert("disposition".into(), json!(disposition_name));
        obj.insert(
            "action_id".into(),
            json!(if r.decision.result == Decision::Deny {
                2
            } else {
                1
            }),
        );
        obj.insert(
            "action".into(),
            json!(if r.decision.result == Decision::Deny {
                "Denied"
            } else {
                "Allowed"
            }),
        );
        obj.insert("message".into(), json!(r.decision.reason));
        obj.insert("policy".into(), policy);
        obj.insert("metadata".into(), metadata);
        obj.insert("unmapped".into(), json!({"aarm": aarm}));
    }
    strip_nulls(&mut doc);
    doc
}

/// OCSF omits attributes it has no value for.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, x| !x.is_null());
            for x in map.values_mut() {
                strip_nulls(x);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aarmor_core::Receipt;

    pub(crate) fn receipt(result: &str, class: &str, drift: f64) -> Receipt {
        serde_json::from_value(json!({
            "receipt_id": "rct_1", "version": "1.0", "seq": 3, "timestamp": "2026-11-23T10:00:00.250Z",
            "kind": "decision",
            "action": {"action_id": "act_1", "timestamp": "2026-11-23T10:00:00.000Z", "protocol": "mcp",
                "target": {"host": "mcp.corp", "port": 443, "method": "POST", "path": "/mcp"},
                "tool": "mail.send", "operation": "tools/call", "parameters": {"to": "x@evil.example"},
                "identity": {"agent": "billing-agent", "human": "ana@corp.example", "session": "ses_1"},
                "risk_signals": []},
            "context": {"context_hash": "sha256:00", "intent": {"drift": drift}},
            "decision": {"result": result, "class": class, "rule": "r.1", "reason": "because", "enforced": true,
                "policy": {"policy_id": "p", "version": "1", "hash": "sha256:ab"}},
            "prev_hash": "sha256:00"
        }))
        .unwrap()
    }

    #[test]
    fn denials_are_findings_and_the_rest_api_activity() {
        let deny = Event::from_receipt(&receipt("DENY", "forbidden", 0.1), Some(0.7));
        assert_eq!(deny.len(), 1);
        let doc = to_ocsf(&deny[0], ParameterMode::Hash);
        assert_eq!(doc["class_uid"], 2004);
        assert_eq!(doc["type_uid"], 200401);
        assert_eq!(doc["severity_id"], 4);
        assert_eq!(doc["disposition"], "Blocked");
        assert_eq!(doc["finding_info"]["analytic"]["name"], "r.1");
        assert_eq!(doc["time"], 1_795_428_000_250i64);
        assert_eq!(
            doc["evidences"][0]["actor"]["user"]["name"],
            "ana@corp.example"
        );
        assert!(
            !doc.to_string().contains("evil.example"),
            "parameters are hashed"
        );

        // An allowed action with high drift: its API Activity, and a drift alert.
        let allow = Event::from_receipt(&receipt("ALLOW", "context_allow", 0.82), Some(0.7));
        assert_eq!(allow.len(), 2);
        let activity = to_ocsf(&allow[0], ParameterMode::Raw);
        assert_eq!(activity["class_uid"], 6003);
        assert_eq!(activity["activity_id"], 99);
        assert_eq!(activity["actor"]["app_name"], "billing-agent");
        assert_eq!(
            activity["unmapped"]["aarm"]["parameters"]["to"],
            "x@evil.example"
        );
        let alert = to_ocsf(&allow[1], ParameterMode::Hash);
        assert_eq!(alert["class_uid"], 2004);
        assert_eq!(alert["metadata"]["uid"], "rct_1:drift");
        assert_eq!(alert["unmapped"]["aarm"]["event"], "drift_alert");
        // No threshold, no alert.
        assert_eq!(
            Event::from_receipt(&receipt("ALLOW", "context_allow", 0.82), None).len(),
            1
        );
    }

    #[test]
    fn cef_lines_carry_the_decision() {
        let e = &Event::from_receipt(&receipt("DENY", "forbidden", 0.1), None)[0];
        let line = super::super::cef::to_cef(e, ParameterMode::Redact);
        assert!(line.starts_with("CEF:0|aarmor|aarmor|"), "{line}");
        assert!(
            line.contains("|aarm.deny|DENY mail.send.tools/call|8|"),
            "{line}"
        );
        assert!(line.contains("suser=ana@corp.example") && line.contains("cs3=r.1"));
        assert!(line.contains(r#"cs6={"to":"[REDACTED]"}"#), "{line}");
    }
}
