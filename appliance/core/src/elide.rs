//! What a receipt keeps of an action's values: small ones as they are, large ones and header
//! values by hash.
//!
//! A receipt proves what was decided; it need not carry a 1 MiB body to do so, and must not
//! carry a credential an agent put in a header. A value replaced here becomes
//! `{"elided": "sha256:<hex of its RFC 8785 canonical JSON>", "bytes": <that length>}`: whoever
//! holds the original can check it against the receipt, and a flood of large requests cannot
//! fill the receipt store. Policy always sees the values themselves.

use serde_json::{Map, Value};

use crate::canonical::canonical_value;
use crate::canonical::sha256_tagged;
use crate::Action;

/// Bounds of what a receipt keeps as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElisionLimits {
    /// Longest string kept, bytes.
    pub max_string_bytes: usize,
    /// Largest object or array kept whole (as canonical JSON), bytes.
    pub max_subtree_bytes: usize,
}

impl Default for ElisionLimits {
    fn default() -> Self {
        Self {
            max_string_bytes: 1024,
            max_subtree_bytes: 8 * 1024,
        }
    }
}

impl ElisionLimits {
    /// Everything by hash: what an outcome receipt keeps of the parameters its decision
    /// receipt (`follows`) already recorded.
    pub const HASH_ONLY: Self = Self {
        max_string_bytes: 0,
        max_subtree_bytes: 0,
    };
}

/// An integer of magnitude above 2^53, which an IEEE double (and so RFC 8785) cannot hold.
pub fn beyond_exact_integers(n: &serde_json::Number) -> bool {
    const EXACT: u64 = 1 << 53;
    n.as_u64().is_some_and(|u| u > EXACT) || n.as_i64().is_some_and(|i| i.unsigned_abs() > EXACT)
}

/// The marker that stands for an elided value.
pub fn elided(value: &Value) -> Value {
    let bytes = canonical_value(value).unwrap_or_default();
    let mut m = Map::new();
    m.insert("elided".into(), Value::String(sha256_tagged(&bytes)));
    m.insert("bytes".into(), Value::from(bytes.len()));
    Value::Object(m)
}

/// Size of an elision marker in JSON, about.
const MARKER_BYTES: usize = 100;

/// `value` with its large parts elided; returns the value and about its JSON size after.
pub fn elide_value(value: &Value, limits: ElisionLimits) -> (Value, usize) {
    match value {
        Value::String(s) if s.len() > limits.max_string_bytes => (elided(value), MARKER_BYTES),
        Value::String(s) => (value.clone(), s.len() + 2),
        Value::Array(items) => {
            let mut size = 2;
            let out: Vec<Value> = items
                .iter()
                .map(|v| {
                    let (v, s) = elide_value(v, limits);
                    size += s + 1;
                    v
                })
                .collect();
            if size > limits.max_subtree_bytes {
                return (elided(value), MARKER_BYTES);
            }
            (Value::Array(out), size)
        }
        Value::Object(map) => {
            let mut size = 2;
            let mut out = Map::new();
            for (k, v) in map {
                let (v, s) = elide_value(v, limits);
                size += k.len() + 4 + s;
                out.insert(k.clone(), v);
            }
            if size > limits.max_subtree_bytes {
                return (elided(value), MARKER_BYTES);
            }
            (Value::Object(out), size)
        }
        // An integer beyond 2^53 is rounded by RFC 8785 (numbers are IEEE doubles there): two
        // values would sign alike, so it is recorded as its decimal text.
        Value::Number(n) if beyond_exact_integers(n) => {
            let text = n.to_string();
            let len = text.len() + 2;
            (Value::String(text), len)
        }
        Value::Number(n) => (value.clone(), n.to_string().len()),
        Value::Bool(_) | Value::Null => (value.clone(), 5),
    }
}

/// The action as a receipt records it: parameters with large values elided, header values of
/// the envelope always by hash (they may be credentials), the rest of the envelope like the
/// parameters.
pub fn receipt_view(action: &Action, limits: ElisionLimits) -> Action {
    let mut out = action.clone();
    let (params, _) = elide_value(&Value::Object(action.parameters.clone()), limits);
    out.parameters = match params {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("parameters".into(), other);
            m
        }
    };
    let mut envelope = Map::new();
    for (k, v) in &action.envelope {
        let v = if k == "headers" {
            match v {
                Value::Object(h) => {
                    Value::Object(h.iter().map(|(n, v)| (n.clone(), elided(v))).collect())
                }
                other => elided(other),
            }
        } else {
            elide_value(v, limits).0
        };
        envelope.insert(k.clone(), v);
    }
    out.envelope = envelope;
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SMALL: ElisionLimits = ElisionLimits {
        max_string_bytes: 8,
        max_subtree_bytes: 400,
    };

    #[test]
    fn small_values_stay_large_ones_become_their_hash() {
        let v = json!({"to": "a@b.c", "body": "a long message body", "n": 5});
        let (e, _) = elide_value(&v, SMALL);
        assert_eq!(e["to"], "a@b.c");
        assert_eq!(e["n"], 5);
        let expect = sha256_tagged(&canonical_value(&json!("a long message body")).unwrap());
        assert_eq!(e["body"]["elided"], expect.as_str());
        assert_eq!(e["body"]["bytes"], 21);
    }

    #[test]
    fn integers_jcs_would_round_are_kept_as_text() {
        let (e, _) = elide_value(
            &json!({"a": 9007199254740993u64, "b": 5, "c": -9007199254740995i64}),
            SMALL,
        );
        assert_eq!(
            e,
            json!({"a": "9007199254740993", "b": 5, "c": "-9007199254740995"})
        );
    }

    #[test]
    fn many_small_values_are_bounded_as_a_whole() {
        let v = json!({"messages": (0..100).map(|i| format!("m{i}")).collect::<Vec<_>>(), "k": 1});
        let (e, size) = elide_value(&v, SMALL);
        assert!(e["messages"].get("elided").is_some(), "{e}");
        assert_eq!(e["k"], 1);
        assert!(size <= 2 * MARKER_BYTES, "{size}");
    }
}
