//! REST: any other request that changes state or carries a body. The tool is the host and a
//! path template (numeric and UUID segments collapsed to `{id}`) unless a configured route names
//! it; parameters are the JSON or form body and the query.

use aarmor_core::{Protocol, RiskSignal};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::body::{form_fields, BodyRead, Uninspectable};
use crate::draft::ActionDraft;

/// A configured name for a family of endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Host name, exact or `*.domain`.
    pub host: String,
    /// Path pattern: `*` matches one segment, a trailing `**` matches the rest.
    pub path: String,
    pub tool: String,
    /// Overrides the operation (default: the lower-case method).
    #[serde(default)]
    pub operation: Option<String>,
}

impl Route {
    fn matches(&self, host: &str, path: &str) -> bool {
        let host_ok = match self.host.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.')),
            None => self.host.eq_ignore_ascii_case(host),
        };
        host_ok && path_matches(&self.path, path)
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let mut pat = pattern.trim_matches('/').split('/');
    let mut segs = path.trim_matches('/').split('/');
    loop {
        match (pat.next(), segs.next()) {
            (Some("**"), _) => return true,
            (Some(p), Some(s))
                if p == "*" || p == s || (p.starts_with('{') && p.ends_with('}')) => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// True when a request with this method and body presence is an action.
pub fn is_action(method: &str, has_body: bool) -> bool {
    has_body
        || !matches!(
            method.to_ascii_uppercase().as_str(),
            "GET" | "HEAD" | "OPTIONS" | "TRACE"
        )
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A path as servers route it: percent-escapes of unreserved characters decoded (`%68ooks` is
/// `hooks`), other escapes upper-cased, and dot segments removed (`/a/../hooks` is `/hooks`),
/// as RFC 3986 (6.2.2) normalizes. Policy matches paths in this form; the request goes upstream
/// as sent. The query string is dropped.
pub fn normalize_path(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let bytes = path.as_bytes();
    let mut decoded = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            // Both are ASCII hex digits: the slice is on character boundaries.
            let hex = &path[i + 1..i + 3];
            let b = u8::from_str_radix(hex, 16).unwrap_or(0);
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                decoded.push(b as char);
            } else {
                decoded.push('%');
                decoded.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
            continue;
        }
        // Multi-byte characters are copied whole.
        let ch_len = path[i..].chars().next().map(char::len_utf8).unwrap_or(1);
        decoded.push_str(&path[i..i + ch_len]);
        i += ch_len;
    }
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "." => {}
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    let trailing_dot = decoded.ends_with("/.") || decoded.ends_with("/..");
    let mut result = if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    };
    if trailing_dot && !result.ends_with('/') {
        result.push('/');
    }
    result
}

/// `/repos/42/issues/7f1c...` → `/repos/{id}/issues/{id}`.
pub fn path_template(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path
        .split('/')
        .map(|s| {
            if (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())) || is_uuid(s) {
                "{id}"
            } else {
                s
            }
        })
        .collect();
    let t = segs.join("/");
    if t.is_empty() {
        "/".into()
    } else {
        t
    }
}

/// Body format, kept so that a modified body is written back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    None,
    Json,
    Form,
    /// UTF-8 text that is neither JSON nor a form: policies see it as a string.
    Text,
    /// `multipart/form-data`: policies see the fields by name (see [`crate::multipart`]).
    Multipart,
    /// Bytes that are not text: policies see only the risk signal (type and size).
    Opaque,
}

/// The query string of a target as fields (a repeated name: the list of its values).
pub fn query_map(path_and_query: &str) -> Map<String, Value> {
    path_and_query
        .split_once('?')
        .map(|(_, q)| form_fields(q.as_bytes()))
        .unwrap_or_default()
}

/// The action of a REST request, and how its body was encoded. A body that cannot be read the
/// way its server may read it is an error (see [`crate::body`]): the request must be refused.
pub fn draft(
    method: &str,
    host: &str,
    path_and_query: &str,
    content_type: Option<&str>,
    body: &[u8],
    routes: &[Route],
) -> Result<(ActionDraft, BodyFormat), Uninspectable> {
    let read = crate::body::read(content_type, body)?;
    Ok(draft_read(
        method,
        host,
        path_and_query,
        content_type,
        read,
        body.len(),
        routes,
    ))
}

/// [`draft`] for a body already read.
pub fn draft_read(
    method: &str,
    host: &str,
    path_and_query: &str,
    content_type: Option<&str>,
    read: BodyRead,
    body_len: usize,
    routes: &[Route],
) -> (ActionDraft, BodyFormat) {
    let normalized = normalize_path(path_and_query);
    let path = normalized.as_str();
    let route = routes.iter().find(|r| r.matches(host, path));
    let tool = route
        .map(|r| r.tool.clone())
        .unwrap_or_else(|| format!("{host}{}", path_template(path)));
    let operation = route
        .and_then(|r| r.operation.clone())
        .unwrap_or_else(|| method.to_ascii_lowercase());
    let mut risk_signals = Vec::new();
    let mut extra = Map::new();
    let (format, body_value) = match read {
        BodyRead::Empty => (BodyFormat::None, Value::Null),
        BodyRead::Json(v) => (BodyFormat::Json, v),
        BodyRead::Form(fields) => (BodyFormat::Form, Value::Object(fields)),
        BodyRead::Multipart(parts) => {
            risk_signals.extend(parts.binary_parts.iter().cloned());
            (BodyFormat::Multipart, Value::Object(parts.fields))
        }
        BodyRead::Text(text) => (BodyFormat::Text, Value::String(text)),
        BodyRead::Opaque { strings } => {
            risk_signals.push(RiskSignal::OpaqueBody {
                content_type: content_type.unwrap_or_default().to_string(),
                bytes: body_len,
            });
            // Policy sees the text runs inside the bytes (`body_strings`), never the bytes.
            if !strings.is_empty() {
                extra.insert("body_strings".into(), Value::String(strings));
            }
            (BodyFormat::Opaque, Value::Null)
        }
    };
    let mut parameters = Map::new();
    parameters.insert("body".into(), body_value);
    parameters.insert("query".into(), Value::Object(query_map(path_and_query)));
    parameters.extend(extra);
    (
        ActionDraft {
            envelope: Default::default(),
            protocol: Protocol::Rest,
            tool,
            operation,
            parameters,
            risk_signals,
        },
        format,
    )
}

/// The body for modified parameters (`parameters.body`), in the original format. `None` when
/// the original body cannot be rewritten (opaque or multipart, or text patched into something
/// not a string).
pub fn render_body(format: BodyFormat, parameters: &Map<String, Value>) -> Option<Vec<u8>> {
    let body = parameters.get("body").unwrap_or(&Value::Null);
    match format {
        BodyFormat::Opaque | BodyFormat::Multipart => None,
        BodyFormat::Text => match body {
            Value::String(text) => Some(text.clone().into_bytes()),
            Value::Null => Some(Vec::new()),
            _ => None,
        },
        BodyFormat::None | BodyFormat::Json => {
            if body.is_null() {
                Some(Vec::new())
            } else {
                serde_json::to_vec(body).ok()
            }
        }
        BodyFormat::Form => {
            let mut ser = form_urlencoded::Serializer::new(String::new());
            for (k, v) in body.as_object()? {
                let values = match v {
                    Value::Array(values) => values.as_slice(),
                    one => std::slice::from_ref(one),
                };
                for value in values {
                    match value {
                        Value::String(s) => ser.append_pair(k, s),
                        other => ser.append_pair(k, &other.to_string()),
                    };
                }
            }
            Some(ser.finish().into_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_are_normalized_as_servers_route_them() {
        assert_eq!(normalize_path("/%68ooks/abc?x=1"), "/hooks/abc");
        assert_eq!(normalize_path("/a/../hooks/./x"), "/hooks/x");
        assert_eq!(normalize_path("/a/%2f/b"), "/a/%2F/b");
        assert_eq!(normalize_path("/../../etc"), "/etc");
        assert_eq!(normalize_path("/x/%"), "/x/%");
        assert_eq!(normalize_path("/x/%a\u{e9}"), "/x/%a\u{e9}");
        assert_eq!(normalize_path("/caf\u{e9}/%7e"), "/caf\u{e9}/~");
        assert_eq!(normalize_path(""), "/");
    }

    #[test]
    fn template_collapses_ids() {
        assert_eq!(
            path_template("/repos/42/issues/7"),
            "/repos/{id}/issues/{id}"
        );
        assert_eq!(
            path_template("/u/123e4567-e89b-12d3-a456-426614174000/x?y=1"),
            "/u/{id}/x"
        );
        assert_eq!(path_template(""), "/");
    }

    #[test]
    fn json_form_and_opaque_bodies() {
        let (d, f) = draft(
            "POST",
            "api.test",
            "/v1/users/9?dry=1",
            Some("application/json"),
            br#"{"name":"x"}"#,
            &[],
        )
        .unwrap();
        assert_eq!(d.tool, "api.test/v1/users/{id}");
        assert_eq!(d.operation, "post");
        assert_eq!(d.parameters["body"], json!({"name": "x"}));
        assert_eq!(d.parameters["query"], json!({"dry": "1"}));
        assert_eq!(f, BodyFormat::Json);
        let (d, f) = draft(
            "PUT",
            "api.test",
            "/f",
            Some("application/x-www-form-urlencoded"),
            b"a=1&b=two",
            &[],
        )
        .unwrap();
        assert_eq!(d.parameters["body"], json!({"a": "1", "b": "two"}));
        assert_eq!(render_body(f, &d.parameters).unwrap(), b"a=1&b=two");
        // A repeated name keeps every value, in order, and is written back the same way.
        let (d, f) = draft(
            "POST",
            "api.test",
            "/pay?amount=900000&amount=9",
            Some("application/x-www-form-urlencoded"),
            b"to=a&amount=5&to=b",
            &[],
        )
        .unwrap();
        assert_eq!(d.parameters["query"], json!({"amount": ["900000", "9"]}));
        assert_eq!(
            d.parameters["body"],
            json!({"to": ["a", "b"], "amount": "5"})
        );
        assert_eq!(
            render_body(f, &d.parameters).unwrap(),
            b"amount=5&to=a&to=b"
        );
        let (d, _) = draft(
            "POST",
            "api.test",
            "/upload",
            Some("application/octet-stream"),
            b"\x00\x01\xff",
            &[],
        )
        .unwrap();
        assert!(matches!(
            d.risk_signals[0],
            RiskSignal::OpaqueBody { bytes: 3, .. }
        ));
        assert_eq!(d.parameters["body"], Value::Null);
    }

    /// A file upload with fields: the fields reach policy by name, binary parts as risk
    /// signals; such a body cannot be rewritten.
    #[test]
    fn multipart_bodies_are_fields() {
        let body = b"--b1\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nsee attached\r\n--b1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\xff\r\n--b1--\r\n";
        let (d, f) = draft(
            "POST",
            "api.test",
            "/upload",
            Some("multipart/form-data; boundary=b1"),
            body,
            &[],
        )
        .unwrap();
        assert_eq!(f, BodyFormat::Multipart);
        assert_eq!(d.parameters["body"]["comment"], json!("see attached"));
        assert_eq!(d.parameters["body"]["file"]["bytes"], json!(2));
        assert!(matches!(
            d.risk_signals[..],
            [RiskSignal::OpaqueBody { bytes: 2, .. }]
        ));
        assert_eq!(render_body(f, &d.parameters), None);
        // A malformed one may be read by a lenient server: it is refused, not read as text.
        assert!(draft(
            "POST",
            "api.test",
            "/upload",
            Some("multipart/form-data; boundary=b1"),
            b"not multipart",
            &[],
        )
        .is_err());
    }

    /// JSON is read as JSON whatever the declared type, and with a byte order mark before it.
    #[test]
    fn json_under_any_label_is_json() {
        for (ct, body) in [
            (Some("text/plain"), br#"{"amount": 5000}"#.to_vec()),
            (
                Some("application/octet-stream"),
                br#"{"amount": 5000}"#.to_vec(),
            ),
            (
                Some("application/json"),
                [b"\xEF\xBB\xBF".as_slice(), br#"{"amount": 5000}"#].concat(),
            ),
        ] {
            let (d, f) = draft("POST", "api.test", "/pay", ct, &body, &[]).unwrap();
            assert_eq!(f, BodyFormat::Json, "{ct:?}");
            assert_eq!(d.parameters["body"], json!({"amount": 5000}));
        }
    }

    /// Text that is neither JSON nor a form (plain text, XML) is shown
    /// to policy as a string, so that rules reading parameters see it; it can be rewritten.
    #[test]
    fn text_bodies_are_strings() {
        for (ct, body) in [
            (Some("text/plain"), "creds AKIAIOSFODNN7EXAMPLE ok"),
            (Some("application/xml"), "<note>hello</note>"),
            (None, "plain words"),
        ] {
            let (d, f) = draft("POST", "api.test", "/notes", ct, body.as_bytes(), &[]).unwrap();
            assert_eq!(f, BodyFormat::Text, "{ct:?}");
            assert_eq!(d.parameters["body"], json!(body));
            assert!(d.risk_signals.is_empty());
            let mut patched = d.parameters.clone();
            patched.insert("body".into(), json!("[redacted]"));
            assert_eq!(render_body(f, &patched).unwrap(), b"[redacted]");
            patched.insert("body".into(), json!({"not": "text"}));
            assert_eq!(render_body(f, &patched), None);
        }
    }

    #[test]
    fn routes_name_tools() {
        let routes = vec![Route {
            host: "*.example.com".into(),
            path: "/v1/users/*/delete".into(),
            tool: "user-admin".into(),
            operation: Some("delete_user".into()),
        }];
        let (d, _) = draft(
            "POST",
            "api.example.com",
            "/v1/users/5/delete",
            None,
            b"",
            &routes,
        )
        .unwrap();
        assert_eq!(
            (d.tool.as_str(), d.operation.as_str()),
            ("user-admin", "delete_user")
        );
        let (d, _) = draft(
            "POST",
            "example.com",
            "/v1/users/5/delete",
            None,
            b"",
            &routes,
        )
        .unwrap();
        assert_eq!(d.tool, "example.com/v1/users/{id}/delete");
        assert!(path_matches("/a/**", "/a/b/c"));
        assert!(!path_matches("/a/*", "/a/b/c"));
    }

    #[test]
    fn reads_are_not_actions() {
        assert!(!is_action("GET", false));
        assert!(is_action("GET", true));
        assert!(is_action("DELETE", false));
    }
}
