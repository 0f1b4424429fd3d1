//! Timestamps as actions and receipts carry them: RFC 3339, UTC, with milliseconds.

/// `2026-11-23T10:00:00.123Z` for `t`.
pub fn rfc3339_millis(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The current time, as [`rfc3339_millis`] writes it.
pub fn now_rfc3339_millis() -> String {
    rfc3339_millis(time::OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_milliseconds() {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_763_892_000_123_456_789).unwrap();
        assert_eq!(rfc3339_millis(t), "2025-11-23T10:00:00.123Z");
    }
}
