//! ArcSight CEF (Common Event Format, rev 25) for SIEMs that prefer it to OCSF JSON.

use aarmor_core::Decision;
use serde_json::Value;

use super::event::{parameters, Event, EventKind, ParameterMode};

/// Header fields escape `\` and `|`.
fn header(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// Extension values escape `\`, `=` and line breaks.
fn value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

fn severity(event: &Event) -> u8 {
    if event.kind == EventKind::DriftAlert {
        return 6;
    }
    match event.decision() {
        Decision::Deny => 8,
        Decision::StepUp | Decision::Defer => 5,
        Decision::Modify => 4,
        Decision::Allow => 2,
    }
}

/// The CEF line of one event.
pub fn to_cef(event: &Event, params: ParameterMode) -> String {
    let r = &event.receipt;
    let a = &r.action;
    let id = &a.identity;
    let signature = match event.kind {
        EventKind::DriftAlert => "aarm.drift".to_string(),
        _ => format!("aarm.{}", r.decision.result.as_str().to_ascii_lowercase()),
    };
    let name = match event.kind {
        EventKind::DriftAlert => format!("Intent drift on {}.{}", a.tool, a.operation),
        _ => format!("{} {}.{}", r.decision.result, a.tool, a.operation),
    };
    let rt =
        time::OffsetDateTime::parse(&r.timestamp, &time::format_description::well_known::Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000).to_string())
            .unwrap_or_default();
    let mut ext: Vec<(&str, String)> = vec![
        ("rt", rt),
        ("cat", format!("{:?}", event.kind).to_ascii_lowercase()),
        ("act", r.decision.result.as_str().to_string()),
        (
            "outcome",
            if r.decision.enforced {
                "enforced"
            } else {
                "monitored"
            }
            .into(),
        ),
        ("externalId", a.action_id.0.clone()),
        ("app", a.protocol.as_str().to_string()),
        ("dhost", a.target.host.clone()),
        ("dpt", a.target.port.to_string()),
        ("requestMethod", a.target.method.clone()),
        (
            "request",
            format!(
                "https://{}:{}{}",
                a.target.host, a.target.port, a.target.path
            ),
        ),
        ("msg", r.decision.reason.clone()),
        ("cs1Label", "agent".into()),
        ("cs1", id.agent.clone().unwrap_or_default()),
        ("cs2Label", "session".into()),
        ("cs2", id.session.clone().unwrap_or_default()),
        ("cs3Label", "rule".into()),
        ("cs3", r.decision.rule.clone().unwrap_or_default()),
        ("cs4Label", "receiptId".into()),
        ("cs4", r.receipt_id.clone()),
        ("cs5Label", "service".into()),
        ("cs5", id.service.clone().unwrap_or_default()),
        ("cs6Label", "parameters".into()),
        ("cs6", parameters(&a.parameters, params).to_string()),
    ];
    if let Some(h) = &id.human {
        ext.push(("suser", h.clone()));
    }
    if let Some(role) = &id.role {
        ext.push(("spriv", role.clone()));
    }
    if let Some(approver) = r.approval.as_ref().and_then(|x| x.approver()) {
        ext.push(("duser", approver.to_string()));
    }
    if let Some(d) = event.drift.or_else(|| {
        r.context
            .intent
            .as_ref()
            .and_then(|i| i.get("drift"))
            .and_then(Value::as_f64)
    }) {
        ext.push(("cfp1Label", "drift".into()));
        ext.push(("cfp1", format!("{d:.4}")));
    }
    let extension: Vec<String> = ext
        .into_iter()
        .map(|(k, v)| format!("{k}={}", value(&v)))
        .collect();
    format!(
        "CEF:0|aarmor|aarmor|{}|{}|{}|{}|{}",
        header(env!("CARGO_PKG_VERSION")),
        header(&signature),
        header(&name),
        severity(event),
        extension.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_header_and_extension() {
        assert_eq!(header("a|b\\c"), "a\\|b\\\\c");
        assert_eq!(value("k=v\nx\\"), "k\\=v\\nx\\\\");
    }
}
