//! Incremental Server-Sent Events framing (WHATWG HTML §9.2 "event stream" interpretation).
//!
//! Streams are split into events without losing the original bytes, so events the gates do not
//! touch are passed on byte for byte. Only the fields the gates need are interpreted (`event`,
//! `data`); `id`, `retry` and comments stay in the raw bytes.

/// One complete event: its raw bytes (including the blank line that ended it) and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub raw: Vec<u8>,
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

impl SseEvent {
    /// Renders an event with the given name and single-line data.
    pub fn render(event: Option<&str>, data: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 32);
        if let Some(name) = event {
            out.extend_from_slice(b"event: ");
            out.extend_from_slice(name.as_bytes());
            out.push(b'\n');
        }
        for line in data.split('\n') {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out
    }
}

/// Splits a byte stream into events. Bytes after the last complete event wait for more input.
#[derive(Debug, Default)]
pub struct SseSplitter {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned for an event end.
    scanned: usize,
    /// Where the line being scanned starts.
    line_start: usize,
    max_event_bytes: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SseError {
    #[error("an event exceeds {0} bytes")]
    EventTooLarge(usize),
}

impl SseSplitter {
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            buf: Vec::new(),
            scanned: 0,
            line_start: 0,
            max_event_bytes,
        }
    }

    /// Feeds bytes; returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        self.buf.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.find_event_end() {
            let raw: Vec<u8> = self.buf.drain(..end).collect();
            self.scanned = 0;
            events.push(parse_event(raw));
        }
        if self.buf.len() > self.max_event_bytes {
            return Err(SseError::EventTooLarge(self.max_event_bytes));
        }
        Ok(events)
    }

    /// The stream ended: whatever is left is an event without its blank line, which clients
    /// discard (WHATWG: an unterminated event at end of stream is not dispatched). Returns it so
    /// that the caller can decide; the gates drop it, as it could hold part of a tool call.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if self.buf.is_empty() {
            return None;
        }
        let raw = std::mem::take(&mut self.buf);
        self.scanned = 0;
        self.line_start = 0;
        Some(parse_event(raw))
    }

    /// Position just after the blank line ending the first event, if one is complete.
    /// Line ends are CRLF, LF or CR. Scanning resumes where the previous call stopped.
    fn find_event_end(&mut self) -> Option<usize> {
        let b = &self.buf;
        let mut i = self.scanned;
        while i < b.len() {
            let eol_len = match b[i] {
                b'\n' => 1,
                b'\r' if i + 1 == b.len() => {
                    // A trailing CR may be the first half of CRLF: wait for the next byte.
                    break;
                }
                b'\r' if b[i + 1] == b'\n' => 2,
                b'\r' => 1,
                _ => {
                    i += 1;
                    continue;
                }
            };
            if i == self.line_start {
                // An empty line ends the event.
                self.line_start = 0;
                return Some(i + eol_len);
            }
            i += eol_len;
            self.line_start = i;
        }
        self.scanned = i;
        None
    }
}

fn parse_event(raw: Vec<u8>) -> SseEvent {
    let text = String::from_utf8_lossy(&raw);
    let mut event = None;
    let mut data: Option<String> = None;
    for line in text.split(['\n', '\r']) {
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => event = Some(value.to_string()),
            "data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_string()),
            },
            _ => {}
        }
    }
    SseEvent {
        raw,
        event,
        data: data.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_across_chunk_boundaries_and_keeps_raw_bytes() {
        let stream = b"event: a\ndata: {\"x\":1}\n\ndata: line1\ndata: line2\r\n\r\n: comment\n\n";
        for split in 0..stream.len() {
            let mut s = SseSplitter::new(1 << 20);
            let mut events = s.push(&stream[..split]).unwrap();
            events.extend(s.push(&stream[split..]).unwrap());
            assert_eq!(events.len(), 3, "split at {split}");
            assert_eq!(events[0].event.as_deref(), Some("a"));
            assert_eq!(events[0].data, "{\"x\":1}");
            assert_eq!(events[1].data, "line1\nline2");
            let joined: Vec<u8> = events.iter().flat_map(|e| e.raw.clone()).collect();
            assert_eq!(joined, stream.to_vec());
            assert!(s.finish().is_none());
        }
    }

    #[test]
    fn oversized_event_is_an_error() {
        let mut s = SseSplitter::new(16);
        assert_eq!(
            s.push(b"data: 0123456789abcdef0123"),
            Err(SseError::EventTooLarge(16))
        );
    }

    #[test]
    fn render_round_trips() {
        let raw = SseEvent::render(Some("message_stop"), "{\"type\":\"message_stop\"}");
        let mut s = SseSplitter::new(1024);
        let ev = s.push(&raw).unwrap();
        assert_eq!(ev[0].event.as_deref(), Some("message_stop"));
        assert_eq!(ev[0].data, "{\"type\":\"message_stop\"}");
        assert_eq!(ev[0].raw, raw);
    }
}
