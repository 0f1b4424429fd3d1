//! Events about the appliance itself rather than an action: a store filling up (warning at the
//! configured percent, error near full), back to normal, or archival failing. Sent to the same
//! sinks as decisions, with MSGID `STORAGE`.

use serde::Serialize;
use serde_json::json;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthKind {
    /// A store passed its warning level.
    StoreWarning,
    /// A store passed its error level: actions will be denied soon if nothing is freed.
    StoreCritical,
    /// A store fell back below its warning level.
    StoreRecovered,
    /// Archiving or pruning failed; the store keeps filling.
    ArchiveFailed,
}

impl HealthKind {
    /// RFC 5424 severity: 3 error, 4 warning, 5 notice.
    pub fn syslog_severity(self) -> u8 {
        match self {
            Self::StoreCritical | Self::ArchiveFailed => 3,
            Self::StoreWarning => 4,
            Self::StoreRecovered => 5,
        }
    }

    fn cef_severity(self) -> u8 {
        match self {
            Self::StoreCritical | Self::ArchiveFailed => 9,
            Self::StoreWarning => 7,
            Self::StoreRecovered => 3,
        }
    }

    /// `storage.warning`, … (the CEF signature and the OCSF event code's detail).
    pub fn name(self) -> &'static str {
        match self {
            Self::StoreWarning => "storage.warning",
            Self::StoreCritical => "storage.critical",
            Self::StoreRecovered => "storage.recovered",
            Self::ArchiveFailed => "storage.archive_failed",
        }
    }
}

/// One event about a store.
#[derive(Debug, Clone, Serialize)]
pub struct HealthEvent {
    pub kind: HealthKind,
    /// `receipts` or `context`.
    pub store: &'static str,
    /// What happened and what to do, in plain words.
    pub message: String,
    pub used_bytes: u64,
    pub limit_bytes: u64,
    pub percent: f64,
    /// At the recent growth rate, seconds until the store is full; `None` when it is not growing.
    pub seconds_left: Option<u64>,
    /// RFC 3339 UTC, milliseconds.
    pub timestamp: String,
}

/// The syslog MSGID of health events.
pub const MSGID: &str = "STORAGE";

fn epoch_ms(ts: &str) -> i64 {
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(0)
}

/// The OCSF document (a Base Event: the appliance reporting on itself).
pub fn to_ocsf(e: &HealthEvent) -> serde_json::Value {
    let (severity_id, severity) = match e.kind {
        HealthKind::StoreCritical | HealthKind::ArchiveFailed => (4, "High"),
        HealthKind::StoreWarning => (3, "Medium"),
        HealthKind::StoreRecovered => (1, "Informational"),
    };
    json!({
        "class_uid": 0,
        "class_name": "Base Event",
        "category_uid": 0,
        "activity_id": 99,
        "type_uid": 99,
        "severity_id": severity_id,
        "severity": severity,
        "time": epoch_ms(&e.timestamp),
        "message": e.message,
        "status": e.kind.name(),
        "metadata": {
            "version": super::ocsf::OCSF_VERSION,
            "product": {"name": "aarmor", "vendor_name": "aarmor", "version": env!("CARGO_PKG_VERSION")},
            "event_code": MSGID,
        },
        "unmapped": {"aarm": {
            "event": e.kind,
            "store": e.store,
            "used_bytes": e.used_bytes,
            "limit_bytes": e.limit_bytes,
            "percent": (e.percent * 10.0).round() / 10.0,
            "seconds_left": e.seconds_left,
        }},
    })
}

/// The CEF line.
pub fn to_cef(e: &HealthEvent) -> String {
    let clean = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('=', "\\=")
            .replace(['\r', '\n'], " ")
    };
    let mut ext = format!(
        "rt={} cat=storage msg={} cs1Label=store cs1={} cn1Label=usedBytes cn1={} cn2Label=limitBytes cn2={}",
        epoch_ms(&e.timestamp),
        clean(&e.message),
        e.store,
        e.used_bytes,
        e.limit_bytes
    );
    if let Some(s) = e.seconds_left {
        ext.push_str(&format!(" cn3Label=secondsLeft cn3={s}"));
    }
    format!(
        "CEF:0|aarmor|aarmor|{}|{}|{} store {:.0}% full|{}|{ext}",
        env!("CARGO_PKG_VERSION"),
        e.kind.name(),
        e.store,
        e.percent,
        e.kind.cef_severity()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_carry_the_store_and_its_use() {
        let e = HealthEvent {
            kind: HealthKind::StoreWarning,
            store: "receipts",
            message: "receipt store 81% full; a=b".into(),
            used_bytes: 81,
            limit_bytes: 100,
            percent: 81.0,
            seconds_left: Some(3600),
            timestamp: "2026-12-05T10:00:00.000Z".into(),
        };
        let o = to_ocsf(&e);
        assert_eq!(o["unmapped"]["aarm"]["store"], "receipts");
        assert_eq!(o["metadata"]["event_code"], "STORAGE");
        let c = to_cef(&e);
        assert!(c.starts_with("CEF:0|aarmor|aarmor|"), "{c}");
        assert!(
            c.contains("|storage.warning|receipts store 81% full|7|"),
            "{c}"
        );
        assert!(c.contains("a\\=b") && c.contains("cn3=3600"), "{c}");
    }
}
