//! Ids of actions, receipts, approvals and deferrals: a prefix, `_`, and 20 hex digits.
//!
//! Invariant: ids are unique within a process (a 48-bit counter) and across processes (a 32-bit
//! random salt drawn once per process, the first 8 digits). One generator serves every kind of
//! id, so two kinds never share a salt scheme that could collide.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static SALT: OnceLock<u32> = OnceLock::new();
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The process's salt. Without an entropy source it falls back to the clock and process id,
/// which still tells processes apart.
fn salt() -> u32 {
    *SALT.get_or_init(|| {
        let mut bytes = [0u8; 4];
        if getrandom::fill(&mut bytes).is_ok() {
            return u32::from_be_bytes(bytes);
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        nanos ^ std::process::id().rotate_left(16)
    })
}

/// A fresh id: `<prefix>_<salt:8 hex><counter:12 hex>`.
pub fn next_id(prefix: &str) -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff_ffff;
    format!("{prefix}_{:08x}{n:012x}", salt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_twenty_hex_digits() {
        let a = next_id("act");
        let b = next_id("act");
        assert_ne!(a, b);
        for id in [&a, &b] {
            let hex = id.strip_prefix("act_").unwrap();
            assert_eq!(hex.len(), 20);
            assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()));
        }
        // One salt per process, whatever the prefix.
        assert_eq!(a[4..12], next_id("rct")[4..12]);
    }
}
