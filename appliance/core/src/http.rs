//! Protocol-neutral views of one HTTP exchange, and responses aarmor writes itself.

use std::fmt;

/// Header list in wire order; names are lower-cased, values kept as bytes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderList(pub Vec<(String, Vec<u8>)>);

impl HeaderList {
    /// The first value of a header, its name compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of a header, when it is valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Appends a header at the end, its name lower-cased.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.0
            .push((name.into().to_ascii_lowercase(), value.into()));
    }

    /// Every header as (name, value), in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// Every value of a header, in wire order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// How many times a header appears.
    pub fn count(&self, name: &str) -> usize {
        self.all(name).count()
    }
}

/// Headers that carry credentials are shown redacted.
const SENSITIVE: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
];

impl fmt::Debug for HeaderList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (name, value) in &self.0 {
            if SENSITIVE.contains(&name.as_str()) {
                list.entry(&format_args!("{name}: <redacted>"));
            } else {
                list.entry(&format_args!("{name}: {}", String::from_utf8_lossy(value)));
            }
        }
        list.finish()
    }
}

/// The head of a request as the agent sent it, with its target made explicit.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// HTTP method as the client sent it.
    pub method: String,
    /// `https` when the client spoke TLS (intercepted), `http` otherwise.
    pub scheme: &'static str,
    /// Canonical host (see [`crate::host`]) the request is for.
    pub host: String,
    /// Port of the upstream the request goes to.
    pub port: u16,
    /// Origin-form path and query (`/v1/chat/completions?x=1`).
    pub path: String,
    /// The request's headers as received, aarmor's own (`x-aarm-*`) included.
    pub headers: HeaderList,
    /// The request carries a body: a `Content-Length` above 0 or a `Transfer-Encoding` in
    /// HTTP/1.1, a stream not ended by its HEADERS frame in HTTP/2. Set by the data plane from
    /// the framing, not from any one header, so that no body escapes classification.
    pub has_body: bool,
}

/// The head of an upstream response.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// HTTP status code the upstream answered with.
    pub status: u16,
    /// The response's headers as the upstream sent them.
    pub headers: HeaderList,
}

/// A response that aarmor writes itself instead of (or in place of) the upstream's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticResponse {
    /// HTTP status code sent to the client.
    pub status: u16,
    /// Headers as (name, value), names lower-case; the constructors set `content-type`.
    pub headers: Vec<(String, String)>,
    /// The body, sent as is.
    pub body: Vec<u8>,
}

impl SyntheticResponse {
    /// An RFC 9457 `application/problem+json` response. `kind` is a stable machine-readable slug.
    pub fn problem(status: u16, kind: &str, title: &str, detail: &str) -> Self {
        Self::problem_with(status, kind, title, detail, serde_json::Map::new())
    }

    /// A problem response with extension members (RFC 9457 §3.2), e.g. the rule that decided.
    pub fn problem_with(
        status: u16,
        kind: &str,
        title: &str,
        detail: &str,
        extensions: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        let mut body = extensions;
        body.insert("type".into(), format!("urn:aarmor:problem:{kind}").into());
        body.insert("title".into(), title.into());
        body.insert("status".into(), status.into());
        body.insert("detail".into(), detail.into());
        Self {
            status,
            headers: vec![("content-type".into(), "application/problem+json".into())],
            body: serde_json::to_vec(&body).unwrap_or_default(),
        }
    }

    /// A JSON response (JSON-RPC errors and other in-protocol answers).
    pub fn json(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_is_case_insensitive() {
        let mut h = HeaderList::default();
        h.push("Content-Type", "application/json");
        assert_eq!(h.get_str("content-type"), Some("application/json"));
        assert_eq!(h.get_str("CONTENT-TYPE"), Some("application/json"));
        assert_eq!(h.get("missing"), None);
    }

    #[test]
    fn debug_redacts_credentials() {
        let mut h = HeaderList::default();
        h.push("Authorization", "Bearer sk-live-123");
        h.push("Accept", "*/*");
        let shown = format!("{h:?}");
        assert!(!shown.contains("sk-live-123"), "{shown}");
        assert!(shown.contains("accept: */*"));
    }

    #[test]
    fn problem_body_is_rfc9457_json() {
        let r = SyntheticResponse::problem(
            502,
            "upstream-tls",
            "Upstream TLS failed",
            "unknown issuer",
        );
        assert_eq!(r.status, 502);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["status"], 502);
        assert_eq!(v["type"], "urn:aarmor:problem:upstream-tls");
        assert_eq!(v["detail"], "unknown issuer");
        assert_eq!(r.headers[0].1, "application/problem+json");
    }
}
