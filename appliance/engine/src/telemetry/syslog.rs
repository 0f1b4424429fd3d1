//! RFC 5424 syslog messages and their framing: one datagram per message over UDP, octet
//! counting (RFC 6587 §3.4.1 / RFC 5425) over TCP and TLS.

use serde::{Deserialize, Serialize};

/// syslog facilities an operator may pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Facility {
    Auth,
    Authpriv,
    Daemon,
    #[default]
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
    User,
}

impl Facility {
    fn code(self) -> u8 {
        match self {
            Self::User => 1,
            Self::Daemon => 3,
            Self::Auth => 4,
            Self::Authpriv => 10,
            Self::Local0 => 16,
            Self::Local1 => 17,
            Self::Local2 => 18,
            Self::Local3 => 19,
            Self::Local4 => 20,
            Self::Local5 => 21,
            Self::Local6 => 22,
            Self::Local7 => 23,
        }
    }
}

/// The fixed part of every message aarmor sends.
#[derive(Debug, Clone)]
pub struct Header {
    pub facility: Facility,
    pub hostname: String,
    pub app_name: String,
    pub procid: String,
}

/// RFC 5424 fields are printable US-ASCII without spaces, bounded in length; `-` when empty.
fn field(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if clean.is_empty() {
        "-".into()
    } else {
        clean
    }
}

impl Header {
    /// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`.
    pub fn message(&self, severity: u8, timestamp: &str, msgid: &str, msg: &str) -> String {
        let pri = u16::from(self.facility.code()) * 8 + u16::from(severity.min(7));
        format!(
            "<{pri}>1 {} {} {} {} {} - {msg}",
            field(timestamp, 64),
            field(&self.hostname, 255),
            field(&self.app_name, 48),
            field(&self.procid, 128),
            field(msgid, 32),
        )
    }
}

/// Octet-counted frame: `LEN SP MSG`.
pub fn octet_counted(message: &str) -> Vec<u8> {
    let mut out = format!("{} ", message.len()).into_bytes();
    out.extend_from_slice(message.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc5424_and_frames_by_octet_count() {
        let h = Header {
            facility: Facility::Local0,
            hostname: "gw 1".into(),
            app_name: "aarmor".into(),
            procid: "42".into(),
        };
        let m = h.message(4, "2026-11-23T10:00:00.000Z", "DECISION", "{\"a\":1}");
        assert_eq!(
            m,
            "<132>1 2026-11-23T10:00:00.000Z gw1 aarmor 42 DECISION - {\"a\":1}"
        );
        let f = octet_counted("héllo");
        assert_eq!(f, b"6 h\xc3\xa9llo");
    }
}
