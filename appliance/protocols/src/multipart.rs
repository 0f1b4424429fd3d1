//! `multipart/form-data` request bodies (file uploads with fields) as parameters: text fields by
//! name, files by name with their file name, type, size and, when they are text, their content.

use aarmor_core::RiskSignal;
use bytes::Bytes;
use futures_util::FutureExt;
use serde_json::{Map, Value};

/// Parts read at most; a body with more is not taken apart (it stays opaque).
const MAX_PARTS: usize = 1000;

/// A multipart body taken apart.
#[derive(Debug)]
pub struct Parts {
    /// `{field: "text"}`, `{file_field: {filename, content_type, bytes, text?}}`; a name that
    /// occurs more than once maps to an array of its values, in order.
    pub fields: Map<String, Value>,
    /// One per part that is not text (only its type and size are known).
    pub binary_parts: Vec<RiskSignal>,
}

/// The parts of `body`, or `None` when the content type names no boundary or the body does not
/// parse as multipart (the caller then refuses it: a lenient server might still read it).
pub fn parse(content_type: &str, body: &[u8]) -> Option<Parts> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let data = Bytes::copy_from_slice(body);
    let stream =
        futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(data) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = Map::new();
    let mut binary_parts = Vec::new();
    for _ in 0..MAX_PARTS {
        // The whole body is in memory: every step completes at once, with no executor. A step
        // that would wait means the parser wants more than the body has: not multipart.
        let field = multipart.next_field().now_or_never()?.ok()?;
        let Some(field) = field else {
            return Some(Parts {
                fields,
                binary_parts,
            });
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let part_type = field.content_type().map(|m| m.to_string());
        let content = field.bytes().now_or_never()?.ok()?;
        let text = std::str::from_utf8(&content).ok().map(str::to_string);
        let value = match (file_name, text) {
            (None, Some(text)) => Value::String(text),
            (file_name, text) => {
                let mut file = Map::new();
                file.insert(
                    "filename".into(),
                    file_name.map_or(Value::Null, Value::String),
                );
                file.insert(
                    "content_type".into(),
                    part_type.clone().map_or(Value::Null, Value::String),
                );
                file.insert("bytes".into(), content.len().into());
                match text {
                    Some(text) => {
                        file.insert("text".into(), Value::String(text));
                    }
                    None => {
                        // The text runs inside the bytes, so that a key in a binary file is seen.
                        let strings = crate::fields::printable_runs(&content);
                        if !strings.is_empty() {
                            file.insert("strings".into(), Value::String(strings));
                        }
                        binary_parts.push(RiskSignal::OpaqueBody {
                            content_type: part_type.unwrap_or_default(),
                            bytes: content.len(),
                        })
                    }
                }
                Value::Object(file)
            }
        };
        crate::fields::insert_field(&mut fields, name, value);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TYPE: &str = "multipart/form-data; boundary=XyZ";

    /// A part for [`body`]: name, file name, content type, content.
    type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

    fn body(parts: &[Part]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, file, ct, content) in parts {
            out.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"");
            out.extend_from_slice(name.as_bytes());
            out.push(b'"');
            if let Some(f) = file {
                out.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            if let Some(ct) = ct {
                out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(content);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--XyZ--\r\n");
        out
    }

    #[test]
    fn fields_and_files_by_name() {
        let b = body(&[
            ("comment", None, None, b"creds AKIAIOSFODNN7EXAMPLE"),
            ("file", Some("a.png"), Some("image/png"), b"\x89PNG\x00\xff"),
            ("notes", Some("n.txt"), Some("text/plain"), b"line one"),
            ("tag", None, None, b"a"),
            ("tag", None, None, b"b"),
        ]);
        let parts = parse(TYPE, &b).expect("multipart");
        assert_eq!(
            Value::Object(parts.fields),
            json!({
                "comment": "creds AKIAIOSFODNN7EXAMPLE",
                "file": {"filename": "a.png", "content_type": "image/png", "bytes": 6},
                "notes": {"filename": "n.txt", "content_type": "text/plain", "bytes": 8, "text": "line one"},
                "tag": ["a", "b"],
            })
        );
        assert_eq!(
            parts.binary_parts,
            vec![RiskSignal::OpaqueBody {
                content_type: "image/png".into(),
                bytes: 6
            }]
        );
    }

    #[test]
    fn not_multipart_is_none() {
        assert!(
            parse("multipart/form-data", b"--XyZ\r\n").is_none(),
            "no boundary"
        );
        assert!(parse(TYPE, b"just some bytes").is_none());
        assert!(parse(
            TYPE,
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated"
        )
        .is_none());
    }
}
