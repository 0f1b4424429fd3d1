//! RFC 8785 (JCS) canonical JSON: what receipts sign and what context-log entries hash.
//!
//! The JCS library (`serde_json_canonicalizer`) writes every value; it buffers and re-sorts each
//! object's members on every call, which makes it an order of magnitude slower than plain
//! serialization. Most values the engine canonicalizes (receipts, evaluation contexts, log
//! entries) are in a form where plain `serde_json` output is already byte-for-byte the JCS
//! output, so those are written by `serde_json` and everything else by the JCS library.
//!
//! Invariant — a `serde_json::Value` is written identically by both when ([`plain_is_canonical`]):
//! - every object's keys are in strictly ascending byte order and contain no character outside
//!   the Basic Multilingual Plane: JCS orders keys by UTF-16 code units, which for such strings is
//!   the same order as UTF-8 bytes (the orders differ only between a surrogate pair and
//!   U+E000..U+FFFF);
//! - every number is an integer of magnitude at most 2^53: JCS writes numbers as IEEE doubles in
//!   ECMAScript form, which for those is the plain integer (floats — `5.0`, `1e21`, `1e-7` —
//!   are written differently and always go to the JCS library);
//! - strings need no check: both escape exactly `"`, `\` and U+0000..U+001F, with the short
//!   forms `\b \t \n \f \r` and lowercase `\u00xx` for the rest, and write everything else as is.
//!
//! The check walks the value once; a value that fails it anywhere is written by the JCS library.
//! The tests compare both writers on values built to sit on each side of every condition.

use serde::Serialize;
use serde_json::Value;

/// Largest integer magnitude an IEEE double holds exactly (2^53).
const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// Why a value could not be written as canonical JSON (the serializer's message).
#[derive(Debug, thiserror::Error)]
#[error("cannot canonicalize: {0}")]
pub struct CanonicalError(String);

/// RFC 8785 canonical JSON of any serializable value.
pub fn canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value).map_err(|e| CanonicalError(e.to_string()))?;
    canonical_value(&value)
}

/// RFC 8785 canonical JSON of a JSON value.
pub fn canonical_value(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    if plain_is_canonical(value) {
        serde_json::to_vec(value).map_err(|e| CanonicalError(e.to_string()))
    } else {
        serde_json_canonicalizer::to_vec(value).map_err(|e| CanonicalError(e.to_string()))
    }
}

/// Whether `serde_json` writes `value` exactly as JCS does (see the module's invariant).
pub fn plain_is_canonical(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => true,
        Value::Number(n) => {
            n.as_u64().is_some_and(|u| u <= MAX_EXACT_INTEGER)
                || n.as_i64()
                    .is_some_and(|i| i.unsigned_abs() <= MAX_EXACT_INTEGER)
        }
        Value::Array(items) => items.iter().all(plain_is_canonical),
        Value::Object(map) => {
            let mut previous: Option<&str> = None;
            map.iter().all(|(key, item)| {
                let ordered = previous.is_none_or(|p| p.as_bytes() < key.as_bytes());
                previous = Some(key);
                ordered && key.chars().all(|c| c <= '\u{FFFF}') && plain_is_canonical(item)
            })
        }
    }
}

/// `sha256:` + hex of `bytes` (canonical bytes, for hashes that anyone can recompute).
pub fn sha256_tagged(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn jcs(v: &Value) -> Vec<u8> {
        serde_json_canonicalizer::to_vec(v).unwrap()
    }

    #[test]
    fn plain_values_are_written_by_serde_json_and_match_jcs() {
        let values = [
            json!(null),
            json!(true),
            json!(0),
            json!(-1),
            json!(9_007_199_254_740_992u64),
            json!(-9_007_199_254_740_992i64),
            json!("quote \" backslash \\ slash / tab \t nl \n cr \r bs \u{8} ff \u{c} nul \u{0} us \u{1f} del \u{7f}"),
            json!("é ü 中文 \u{2028} \u{2029} \u{FFFF} \u{1F600} in a value"),
            json!({"b": 1, "a": [1, 2, {"z": null, "y": "x"}], "é": true, "\u{FB33}": 2, "": 0}),
            json!({"action": {"parameters": {"amount": 12, "to": "acct-7"}}, "seq": 4711, "tags": []}),
        ];
        for v in &values {
            assert!(plain_is_canonical(v), "{v}");
            assert_eq!(canonical_value(v).unwrap(), jcs(v), "{v}");
        }
    }

    #[test]
    fn values_plain_json_would_get_wrong_go_to_the_jcs_library() {
        let values = [
            // Floats: ECMAScript form differs from serde_json's.
            json!(5.0),
            json!(1e21),
            json!(1e-7),
            json!(0.1),
            json!(-0.0),
            // Integers a double cannot hold: JCS rounds them.
            json!(9_007_199_254_740_993u64),
            json!(u64::MAX),
            json!(-9_007_199_254_740_993i64),
            // A key outside the BMP sorts after U+E000..U+FFFF in UTF-16.
            json!({"\u{1F600}": 1, "\u{FB33}": 2}),
            json!({"nested": [{"x": 1.5}]}),
        ];
        for v in &values {
            assert!(!plain_is_canonical(v), "{v}");
            assert_eq!(canonical_value(v).unwrap(), jcs(v), "{v}");
        }
        assert_eq!(
            canonical_value(&json!({"\u{1F600}": 1, "\u{FB33}": 2, "a": [1e21, 5.0]})).unwrap(),
            // U+1F600 is D83D DE00 in UTF-16: before U+FB33, unlike in UTF-8.
            "{\"a\":[1e+21,5],\"\u{1F600}\":1,\"\u{FB33}\":2}".as_bytes()
        );
    }

    /// Random values (a fixed seed, 3000 of them) from pieces on both sides of every condition:
    /// both writers must always agree.
    #[test]
    fn random_values_canonicalize_as_the_jcs_library_does() {
        struct Rng(u64);
        impl Rng {
            fn next(&mut self, n: usize) -> usize {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0 % n as u64) as usize
            }
        }
        const KEYS: [&str; 9] = [
            "a",
            "B",
            "é",
            "\u{FB33}",
            "\u{1F600}",
            "seq",
            "",
            "a b",
            "\u{7f}",
        ];
        const STRINGS: [&str; 5] = ["x", "\"\\\n\u{1}", "\u{1F600}", "ü/€", ""];
        fn gen(rng: &mut Rng, depth: usize) -> Value {
            match rng.next(if depth > 3 { 6 } else { 8 }) {
                0 => Value::Null,
                1 => json!(rng.next(2) == 0),
                2 => json!(rng.next(1 << 20) as i64 - (1 << 19)),
                3 => {
                    json!([9_007_199_254_740_992u64, 9_007_199_254_740_993, u64::MAX][rng.next(3)])
                }
                4 => json!([0.5, 5.0, 1e21, 1e-7, -0.0, 123.456][rng.next(6)]),
                5 => json!(STRINGS[rng.next(STRINGS.len())]),
                6 => Value::Array((0..rng.next(4)).map(|_| gen(rng, depth + 1)).collect()),
                _ => Value::Object(
                    (0..rng.next(5))
                        .map(|_| (KEYS[rng.next(KEYS.len())].to_string(), gen(rng, depth + 1)))
                        .collect(),
                ),
            }
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut plain, mut library) = (0, 0);
        for _ in 0..3000 {
            let v = gen(&mut rng, 0);
            if plain_is_canonical(&v) {
                plain += 1;
            } else {
                library += 1;
            }
            assert_eq!(canonical_value(&v).unwrap(), jcs(&v), "{v}");
        }
        // Both paths were exercised.
        assert!(
            plain > 300 && library > 300,
            "plain {plain}, library {library}"
        );
    }

    #[test]
    fn serde_json_keeps_maps_sorted_and_numbers_as_written() {
        // The fast path relies on serde_json's default features: maps sorted by key (no
        // `preserve_order`) and numbers as parsed values (no `arbitrary_precision`). If a
        // dependency turned either on, these would fail (and the walk would still refuse
        // unsorted maps).
        let v: Value = serde_json::from_str(r#"{"b": 1, "a": -0}"#).unwrap();
        assert_eq!(v.to_string(), r#"{"a":-0.0,"b":1}"#);
        assert!(!plain_is_canonical(&v));
        assert_eq!(canonical_value(&v).unwrap(), br#"{"a":0,"b":1}"#);
    }

    #[test]
    fn typed_values_are_canonicalized_through_their_json_form() {
        #[derive(Serialize)]
        struct Unordered {
            zeta: u32,
            alpha: f64,
            mid: Vec<&'static str>,
        }
        let value = Unordered {
            zeta: 1,
            alpha: 2.5,
            mid: vec!["x"],
        };
        assert_eq!(
            canonical_json(&value).unwrap(),
            br#"{"alpha":2.5,"mid":["x"],"zeta":1}"#
        );
        let value = Unordered {
            zeta: 1,
            alpha: 2.0,
            mid: vec![],
        };
        assert_eq!(
            canonical_json(&value).unwrap(),
            br#"{"alpha":2,"mid":[],"zeta":1}"#
        );
    }
}
