//! Brokered upstream credentials (AARM R9): what an agent asks for with a placeholder, and what
//! an action records about the credential aarmor attaches — by name, never the secret.
//!
//! An agent never holds a real upstream credential. It names one with a placeholder
//! (`Authorization: Bearer aarmor:github-read`, `x-api-key: aarmor:anthropic`, or
//! `x-aarm-credential: github-read`), or sends nothing where a binding attaches one by itself;
//! aarmor replaces the placeholder with the secret only after the action is allowed.

use serde::{Deserialize, Serialize};

use crate::http::HeaderList;

/// The prefix of a placeholder value: `aarmor:<name>`.
pub const PLACEHOLDER_PREFIX: &str = "aarmor:";

/// The header that names a credential without occupying a credential header.
pub const CREDENTIAL_HEADER: &str = "x-aarm-credential";

/// Headers made to carry credentials: a malformed placeholder in one of them is refused.
const CREDENTIAL_HEADERS: &[&str] = &[CREDENTIAL_HEADER, "authorization", "x-api-key", "api-key"];

/// A credential the agent asked for by name, and the headers that carried the placeholder
/// (removed before the request leaves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialAsk {
    /// The credential's name (`github-read`).
    pub name: String,
    /// Lower-case names of the headers that carried the placeholder.
    pub headers: Vec<String>,
}

/// Why the placeholders of a request cannot be read as one credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    /// Two placeholders name different credentials.
    #[error("the request names more than one credential ({0} and {1})")]
    Several(String, String),
    /// A placeholder whose name is empty or has characters a name cannot have.
    #[error("the placeholder {0:?} does not name a credential (names are letters, digits, '.', '_' and '-')")]
    BadName(String),
}

/// Whether `name` can name a credential: 1 to 64 of `[A-Za-z0-9._-]`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The credential name a header value holds as a placeholder: `aarmor:<name>`, optionally after
/// an auth scheme (`Bearer aarmor:<name>`, `token aarmor:<name>`). `None` when it holds none.
fn placeholder_in(value: &str) -> Option<&str> {
    let value = value.trim();
    let rest = match value.split_once(char::is_whitespace) {
        Some((scheme, rest)) if !scheme.contains(':') => rest.trim_start(),
        _ => value,
    };
    let prefix = rest.get(..PLACEHOLDER_PREFIX.len())?;
    prefix
        .eq_ignore_ascii_case(PLACEHOLDER_PREFIX)
        .then(|| &rest[PLACEHOLDER_PREFIX.len()..])
}

impl CredentialAsk {
    /// The credential a request's headers ask for: every `x-aarm-credential` header and every
    /// header whose value is a placeholder. `Ok(None)` when there is none; an error when two
    /// name different credentials or one names none.
    pub fn from_headers(headers: &HeaderList) -> Result<Option<Self>, AskError> {
        let mut ask: Option<Self> = None;
        for (name, value) in headers.iter() {
            let Ok(value) = std::str::from_utf8(value) else {
                continue;
            };
            let named = if name.eq_ignore_ascii_case(CREDENTIAL_HEADER) {
                // The bare name, or the placeholder form (`aarmor:` once, any case).
                let v = value.trim();
                Some(placeholder_in(v).unwrap_or(v))
            } else {
                placeholder_in(value)
            };
            let Some(credential) = named else {
                continue;
            };
            if !valid_name(credential) {
                // In a header made for credentials a malformed placeholder is an error; in any
                // other header, text that happens to start like one is not a placeholder.
                if CREDENTIAL_HEADERS
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(name))
                {
                    return Err(AskError::BadName(value.trim().to_string()));
                }
                continue;
            }
            let header = name.to_ascii_lowercase();
            match ask.as_mut() {
                None => {
                    ask = Some(Self {
                        name: credential.to_string(),
                        headers: vec![header],
                    })
                }
                Some(a) if a.name == credential => {
                    if !a.headers.contains(&header) {
                        a.headers.push(header);
                    }
                }
                Some(a) => return Err(AskError::Several(a.name.clone(), credential.to_string())),
            }
        }
        Ok(ask)
    }
}

/// How the agent asked for the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presented {
    /// A placeholder named it.
    Placeholder,
    /// Nothing did: a binding that attaches its credential by itself matched.
    Bound,
}

/// The credential an action uses, as policy and receipts see it: names only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialUse {
    /// The credential's name in `credentials.yaml`.
    pub name: String,
    /// The operation class it may be used for (`read`, `write`).
    pub scope: String,
    /// The binding that matched: `host` + path pattern (`api.github.com/repos/**`).
    pub binding: String,
    /// Where the secret comes from: `file`, `env`, `oauth2`, or `minted` (a token aarmor signs
    /// for this action alone).
    pub source: String,
    /// How the agent asked for it.
    pub presented: Presented,
    /// What the action is, as the broker judged it for the scope: `read` (a safe method without
    /// a body or a method override) or `write`.
    pub access: String,
}

/// The request as it goes upstream once allowed, for a credential minted for it alone.
#[derive(Debug, Clone, Copy)]
pub struct SentRequest<'a> {
    /// The request target as sent: path and query (origin form).
    pub path: &'a str,
    /// The body as sent (after any modification).
    pub body: &'a [u8],
}

/// What attaching an allowed action's credential does to its request.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The header set (lower-case), replacing any of that name.
    pub header: String,
    /// Its value, the secret in it.
    pub value: String,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderList {
        let mut h = HeaderList::default();
        for (n, v) in pairs {
            h.push(*n, v.as_bytes());
        }
        h
    }

    #[test]
    fn placeholders_are_read_from_any_credential_header() {
        let ask = CredentialAsk::from_headers(&headers(&[(
            "Authorization",
            "Bearer aarmor:github-read",
        )]))
        .unwrap()
        .unwrap();
        assert_eq!(ask.name, "github-read");
        assert_eq!(ask.headers, vec!["authorization"]);
        let ask = CredentialAsk::from_headers(&headers(&[
            ("x-api-key", "aarmor:anthropic"),
            ("x-aarm-credential", "anthropic"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(ask.name, "anthropic");
        assert_eq!(ask.headers, vec!["x-api-key", "x-aarm-credential"]);
        assert_eq!(
            CredentialAsk::from_headers(&headers(&[("authorization", "Bearer sk-real")])).unwrap(),
            None
        );
        // A URL in a header is no placeholder.
        assert_eq!(
            CredentialAsk::from_headers(&headers(&[("referer", "https://aarmor:1/")])).unwrap(),
            None
        );
    }

    #[test]
    fn two_credentials_or_a_bad_name_are_refused() {
        let two = CredentialAsk::from_headers(&headers(&[
            ("authorization", "Bearer aarmor:a"),
            ("x-aarm-credential", "b"),
        ]));
        assert!(matches!(two, Err(AskError::Several(_, _))));
        let bad = CredentialAsk::from_headers(&headers(&[("authorization", "Bearer aarmor:")]));
        assert!(matches!(bad, Err(AskError::BadName(_))));
        let bad = CredentialAsk::from_headers(&headers(&[("x-aarm-credential", "a b/c")]));
        assert!(matches!(bad, Err(AskError::BadName(_))));
        let twice =
            CredentialAsk::from_headers(&headers(&[("x-aarm-credential", "aarmor:aarmor:a")]));
        assert!(matches!(twice, Err(AskError::BadName(_))));
        let upper = CredentialAsk::from_headers(&headers(&[("x-aarm-credential", "AARMOR:a")]));
        assert_eq!(upper.unwrap().unwrap().name, "a");
    }
}
