//! Entities: the values in text that identify where something goes or whom it concerns — e-mail
//! addresses, IBANs, URL hosts and account numbers — in a normalized form, so that the same
//! recipient written two ways is recognized as one (argument provenance, `context.entities`).

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::data_classes::iban_valid;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Email,
    Iban,
    Host,
    Account,
}

/// One entity, normalized: e-mails and hosts lower-case, IBANs upper-case without spaces,
/// account numbers digits only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct Entity {
    pub kind: EntityKind,
    pub value: String,
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("entity pattern {pattern}: {e}"))
}

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"));
static IBAN: LazyLock<Regex> = LazyLock::new(|| re(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,30}\b"));
static URL_HOST: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(?:https?|wss?|ftp)://(?:[^/@\s]+@)?([A-Za-z0-9.-]+)"));
static ACCOUNT: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d(?:[ -]?\d){5,33}\b"));
/// A bare domain name (`evil.example`, `files.corp.io`) as a whole value.
static BARE_HOST: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(?i)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}$")
});

/// The entities in `text`, in order of appearance per kind, without duplicates.
pub fn extract(text: &str) -> Vec<Entity> {
    let mut out: Vec<Entity> = Vec::new();
    let mut push = |kind, value: String| {
        let e = Entity { kind, value };
        if !out.contains(&e) {
            out.push(e);
        }
    };
    let mut taken: Vec<std::ops::Range<usize>> = Vec::new();
    for m in EMAIL.find_iter(text) {
        push(EntityKind::Email, m.as_str().to_ascii_lowercase());
        taken.push(m.range());
    }
    for m in IBAN.find_iter(text) {
        if iban_valid(m.as_str()) {
            push(
                EntityKind::Iban,
                m.as_str()
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '-')
                    .collect(),
            );
            taken.push(m.range());
        }
    }
    for c in URL_HOST.captures_iter(text) {
        if let Some(h) = c.get(1) {
            push(
                EntityKind::Host,
                h.as_str().trim_end_matches('.').to_ascii_lowercase(),
            );
            taken.push(h.range());
        }
    }
    let trimmed = text.trim();
    if BARE_HOST.is_match(trimmed) && !trimmed.contains('@') {
        push(EntityKind::Host, trimmed.to_ascii_lowercase());
    }
    for m in ACCOUNT.find_iter(text) {
        if taken.iter().any(|r| r.start < m.end() && m.start() < r.end) {
            continue;
        }
        let digits: String = m.as_str().chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 6 {
            push(EntityKind::Account, digits);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(EntityKind, String)> {
        extract(text)
            .into_iter()
            .map(|e| (e.kind, e.value))
            .collect()
    }

    #[test]
    fn normalized_forms() {
        assert_eq!(
            values("Send it to Jane.Doe@Example.COM"),
            [(EntityKind::Email, "jane.doe@example.com".to_string())]
        );
        assert_eq!(
            values("IBAN DE89 3704 0044 0532 0130 00 please"),
            [(EntityKind::Iban, "DE89370400440532013000".to_string())]
        );
        assert_eq!(
            values("IBAN DE89-3704-0044-0532-0130-00."),
            [(EntityKind::Iban, "DE89370400440532013000".to_string())]
        );
        assert_eq!(
            values("see https://Files.Evil.example:8443/x"),
            [(EntityKind::Host, "files.evil.example".to_string())]
        );
        assert_eq!(
            values("account 12-3456-789"),
            [(EntityKind::Account, "123456789".to_string())]
        );
        assert_eq!(
            values("evil.example"),
            [(EntityKind::Host, "evil.example".to_string())]
        );
        assert!(values("pay 40 EUR on 2026").is_empty());
    }
}
