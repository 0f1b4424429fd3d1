//! What policy sees of fields a body carries: a repeated name becomes the list of its values,
//! and text hidden in bytes that are not text is kept as its printable runs.

use serde_json::{Map, Value};

/// Shortest run of printable characters [`printable_runs`] keeps.
const MIN_RUN: usize = 6;

/// The runs of at least six printable ASCII characters in `bytes`, one per line (what `strings`
/// shows): text smuggled inside a body that is not text.
pub fn printable_runs(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut run_start = None;
    for (i, &b) in bytes.iter().chain(std::iter::once(&0u8)).enumerate() {
        let printable = (0x20..0x7f).contains(&b) || b == b'\t';
        match (printable, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(start)) => {
                if i - start >= MIN_RUN {
                    out.push_str(&String::from_utf8_lossy(&bytes[start..i]));
                    out.push('\n');
                }
                run_start = None;
            }
            _ => {}
        }
    }
    out
}

/// Adds `value` under `name`; a repeated name becomes the list of its values.
pub fn insert_field(map: &mut Map<String, Value>, name: String, value: Value) {
    match map.get_mut(&name) {
        None => {
            map.insert(name, value);
        }
        Some(Value::Array(values)) => values.push(value),
        Some(first) => *first = Value::Array(vec![first.take(), value]),
    }
}
