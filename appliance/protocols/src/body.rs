//! Request bodies read the way the upstream may read them, or refused.
//!
//! A body is read once, here, into what policy sees. The rule is that aarmor never reads a body
//! more weakly than a server could: JSON is recognised whatever the declared type (servers parse
//! it regardless), and a body that looks like JSON but does not parse strictly — duplicate keys,
//! `NaN`, lone surrogates, nesting past 128, UTF-16 or UTF-32 — is [`Uninspectable`], because a
//! lenient server would still act on it while policy would see only text. The same for a
//! multipart body that does not parse. The caller refuses such a request (415); it is never
//! downgraded to a weaker reading.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::fields::{insert_field, printable_runs};
use crate::multipart::Parts;

/// A request body as policy sees it.
#[derive(Debug)]
pub enum BodyRead {
    Empty,
    Json(Value),
    /// `application/x-www-form-urlencoded`; a repeated name maps to the list of its values.
    Form(Map<String, Value>),
    Multipart(Parts),
    /// UTF-8 text that is neither JSON nor a form.
    Text(String),
    /// Bytes that are not text: their size and declared type, and the runs of printable text
    /// inside them ([`printable_runs`]), so that a key hidden in a binary blob is still seen.
    Opaque {
        strings: String,
    },
}

/// Why a body cannot be read the way its server might read it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Uninspectable(pub String);

/// Reads a request body (already decoded from any `Content-Encoding`).
pub fn read(content_type: Option<&str>, body: &[u8]) -> Result<BodyRead, Uninspectable> {
    if body.is_empty() {
        return Ok(BodyRead::Empty);
    }
    let ct = content_type.unwrap_or_default().trim().to_ascii_lowercase();
    if let Some(charset) = declared_charset(&ct) {
        if !matches!(charset.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii") {
            return Err(Uninspectable(format!(
                "a body declared in charset {charset} (aarmor reads UTF-8; a server decoding {charset} would read other text)"
            )));
        }
    }
    if ct.starts_with("multipart/form-data") {
        return crate::multipart::parse(&ct_original(content_type), body)
            .map(BodyRead::Multipart)
            .ok_or_else(|| Uninspectable("a multipart/form-data body that does not parse".into()));
    }
    if let Some(encoding) = wide_unicode(body) {
        return Err(Uninspectable(format!(
            "a body in {encoding} (servers may read it as JSON; aarmor reads UTF-8 only)"
        )));
    }
    let text = without_bom(body);
    let declared_json = ct.contains("json");
    let declared_form = ct.starts_with("application/x-www-form-urlencoded");
    let looks_json = matches!(first_non_space(text), Some(b'{' | b'['));
    match strict_json(text) {
        // Declared a form but structured JSON: a server honouring the type reads a form, one
        // parsing whatever comes reads JSON, and the two say different things.
        Ok(v) if declared_form && (v.is_object() || v.is_array()) => {
            return Err(Uninspectable(
                "a body declared as a form that is also a JSON document (servers differ on which they read)".into(),
            ))
        }
        Ok(v) if !declared_form => return Ok(BodyRead::Json(v)),
        Ok(_) => {}
        Err(e) if declared_json || (looks_json && !declared_form) => {
            return Err(Uninspectable(format!(
                "a JSON body that does not parse strictly: {e}"
            )))
        }
        Err(_) => {}
    }
    if declared_form {
        return Ok(BodyRead::Form(form_fields(body)));
    }
    match std::str::from_utf8(body) {
        Ok(s) => Ok(BodyRead::Text(s.to_string())),
        Err(_) => Ok(BodyRead::Opaque {
            strings: printable_runs(body),
        }),
    }
}

/// The `charset` parameter of a content type (lower case, unquoted), if any.
fn declared_charset(ct: &str) -> Option<String> {
    ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == "charset").then(|| v.trim().trim_matches('"').to_string())
    })
}

fn ct_original(content_type: Option<&str>) -> String {
    content_type.unwrap_or_default().trim().to_string()
}

fn first_non_space(b: &[u8]) -> Option<u8> {
    b.iter().copied().find(|c| !c.is_ascii_whitespace())
}

/// `body` without a leading UTF-8 byte order mark, which some clients write before JSON (and
/// some servers skip).
pub fn without_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// The UTF-16 or UTF-32 encoding a body is in, detected as Python's `json.loads` does on bytes
/// (a byte order mark, or the pattern of zero bytes among the first four) when the first
/// characters it decodes to are text.
fn wide_unicode(body: &[u8]) -> Option<&'static str> {
    if body.len() < 2 {
        return None;
    }
    let b = |i: usize| body.get(i).copied().unwrap_or(1);
    let (name, unit, big_endian, skip) = if body.starts_with(b"\x00\x00\xFE\xFF") {
        ("UTF-32", 4, true, 4)
    } else if body.starts_with(b"\xFF\xFE\x00\x00") {
        ("UTF-32", 4, false, 4)
    } else if body.starts_with(b"\xFE\xFF") {
        ("UTF-16", 2, true, 2)
    } else if body.starts_with(b"\xFF\xFE") {
        ("UTF-16", 2, false, 2)
    } else if b(0) == 0 && b(1) == 0 && b(2) == 0 {
        ("UTF-32", 4, true, 0)
    } else if b(1) == 0 && b(2) == 0 && b(3) == 0 {
        ("UTF-32", 4, false, 0)
    } else if b(0) == 0 {
        ("UTF-16", 2, true, 0)
    } else if b(1) == 0 {
        ("UTF-16", 2, false, 0)
    } else {
        return None;
    };
    let rest = &body[skip.min(body.len())..];
    let units: Vec<u32> = rest
        .chunks_exact(unit)
        .take(64)
        .map(|c| {
            if big_endian {
                c.iter().fold(0u32, |acc, x| (acc << 8) | u32::from(*x))
            } else {
                c.iter()
                    .rev()
                    .fold(0u32, |acc, x| (acc << 8) | u32::from(*x))
            }
        })
        .collect();
    // Text in that encoding (nine in ten of its first characters printable), not a binary
    // format that happens to start with zero bytes.
    let printable = units
        .iter()
        .filter(|v| (0x20..0x7f).contains(*v) || matches!(v, 0x09 | 0x0A | 0x0D))
        .count();
    let text = !units.is_empty() && printable * 10 >= units.len() * 9;
    (skip > 0 || text).then_some(name)
}

/// `application/x-www-form-urlencoded` pairs (a query string or a form body) as fields; a name
/// given more than once maps to the list of its values, in order (servers differ on which one
/// they use, so policy sees all).
pub fn form_fields(encoded: &[u8]) -> Map<String, Value> {
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(encoded) {
        insert_field(&mut map, k.into_owned(), Value::String(v.into_owned()));
    }
    map
}

/// Parses JSON strictly: RFC 8259 as serde_json reads it (no `NaN`, no lone surrogates, nesting
/// up to 128), and an object may not name a key twice — servers differ on which value wins, so
/// policy cannot know which one the upstream will act on.
pub fn strict_json(text: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let StrictValue(v) = StrictValue::deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// A JSON value whose objects have no repeated keys.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        StrictValue::deserialize(d).map(|s| s.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ct: Option<&str>, body: &[u8]) -> String {
        match read(ct, body) {
            Err(Uninspectable(why)) => why,
            Ok(b) => panic!("{:?} was read as {b:?}", String::from_utf8_lossy(body)),
        }
    }

    #[test]
    fn json_is_json_whatever_the_declared_type() {
        for ct in [
            None,
            Some("text/plain"),
            Some("application/json"),
            Some("application/json; charset=UTF-8"),
        ] {
            assert!(
                matches!(read(ct, br#"{"a": 1}"#), Ok(BodyRead::Json(_))),
                "{ct:?}"
            );
        }
        assert!(matches!(
            read(None, b"\xEF\xBB\xBF{\"a\":1}"),
            Ok(BodyRead::Json(_))
        ));
        assert!(
            matches!(read(Some("application/x-www-form-urlencoded"), b"a=1&a=2"), Ok(BodyRead::Form(f)) if f["a"] == serde_json::json!(["1", "2"]))
        );
        assert!(matches!(
            read(Some("text/plain"), b"hello"),
            Ok(BodyRead::Text(_))
        ));
        assert!(matches!(
            read(None, &[0x89, b'P', b'N', b'G', 0xff, 0xfe]),
            Ok(BodyRead::Opaque { .. })
        ));
        // Text hidden in bytes that are not UTF-8 is still seen.
        match read(
            Some("application/octet-stream"),
            b"\xffAKIAIOSFODNN7EXAMPLE\x00ab",
        ) {
            Ok(BodyRead::Opaque { strings }) => assert_eq!(strings, "AKIAIOSFODNN7EXAMPLE\n"),
            other => panic!("{other:?}"),
        }
        // A binary format that starts with zero bytes is not mistaken for UTF-32 text.
        assert!(read(None, b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00\xff").is_ok());
    }

    #[test]
    fn what_a_lenient_server_reads_differently_is_refused() {
        assert!(refused(None, br#"{"to": "a@x", "to": "b@y"}"#).contains("duplicate key"));
        assert!(refused(None, br#"{"x": NaN}"#).contains("does not parse"));
        assert!(refused(Some("text/plain"), br#"{"s": "\ud800"}"#).contains("does not parse"));
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(refused(None, deep.as_bytes()).contains("does not parse"));
        assert!(refused(Some("application/json"), b"not json").contains("does not parse"));
        let utf16: Vec<u8> = "{\"a\": 1}"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert!(refused(None, &utf16).contains("UTF-16"));
        let mut bom = vec![0xFE, 0xFF];
        bom.extend("[1]".encode_utf16().flat_map(|u| u.to_be_bytes()));
        assert!(refused(Some("text/plain"), &bom).contains("UTF-16"));
        let utf32: Vec<u8> = "{}"
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        assert!(refused(None, &utf32).contains("UTF-32"));
        assert!(refused(Some("multipart/form-data; boundary=x"), b"garbage").contains("multipart"));
        // A form that is also JSON, and charsets a server would decode differently.
        assert!(refused(
            Some("application/x-www-form-urlencoded"),
            br#"{"x":"&k=AKIA%49"}"#
        )
        .contains("also a JSON"));
        assert!(
            refused(Some("application/json; charset=utf-7"), br#"{"n":"+AEE-"}"#).contains("utf-7")
        );
        assert!(refused(
            Some("application/x-www-form-urlencoded; charset=\"UTF-16BE\""),
            b"\x00k"
        )
        .contains("utf-16be"));
        let wide: Vec<u8> = "k=AKIAIOSFODNN7EXAMPLE"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert!(refused(Some("text/plain"), &wide).contains("UTF-16"));
    }

    #[test]
    fn nested_duplicates_are_found_and_trailing_bytes_refused() {
        assert!(strict_json(br#"{"a": [{"b": 1, "b": 2}]}"#).is_err());
        assert!(strict_json(br#"{"a": 1} {"b": 2}"#).is_err());
        assert_eq!(
            strict_json(br#" {"a": [1, 2.5, "x", null, true]} "#).unwrap()["a"][1],
            2.5
        );
    }
}
