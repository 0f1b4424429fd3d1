//! WebSocket framing (RFC 6455) for the relay of an upgraded connection: bytes of one direction
//! become whole messages (fragments joined, payloads unmasked for reading) and control frames,
//! each with the exact bytes it arrived as, so that what passes goes on unchanged and what is
//! refused can be dropped whole. Frame headers are parsed by `tungstenite`.
//!
//! Invariant: no byte is emitted before the message it belongs to is complete and decided; a
//! frame aarmor cannot read (an extension bit set, an oversized message) is an error, and the
//! relay is cut.

use std::io::Cursor;

use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};

/// One unit of a WebSocket stream, with the bytes it arrived as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsItem {
    /// A ping, pong or close frame: passed on as it came.
    Control(Vec<u8>),
    /// A whole data message (all its fragments).
    Message(WsMessage),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsMessage {
    /// True for a text message, false for binary.
    pub text: bool,
    /// The payload, unmasked and joined.
    pub payload: Vec<u8>,
    /// The frames as they arrived.
    pub raw: Vec<u8>,
}

impl WsMessage {
    /// The text of a text message (UTF-8, as RFC 6455 requires).
    pub fn as_text(&self) -> Option<&str> {
        self.text
            .then(|| std::str::from_utf8(&self.payload).ok())
            .flatten()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsError {
    #[error("a WebSocket frame aarmor cannot read: {0}")]
    Frame(String),
    #[error(
        "a frame uses an extension (reserved bits set): compressed messages cannot be inspected"
    )]
    Extension,
    #[error("a WebSocket message exceeds {0} bytes")]
    TooLarge(usize),
    #[error("a continuation frame with no message to continue, or a new message inside one")]
    Sequence,
}

/// Splits one direction of a WebSocket stream into items.
#[derive(Debug)]
pub struct WsReader {
    buf: Vec<u8>,
    /// A fragmented message being joined: (text?, payload, raw bytes).
    partial: Option<(bool, Vec<u8>, Vec<u8>)>,
    max_message: usize,
}

impl WsReader {
    pub fn new(max_message: usize) -> Self {
        Self {
            buf: Vec::new(),
            partial: None,
            max_message,
        }
    }

    /// Feeds bytes; returns the items they complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<WsItem>, WsError> {
        self.buf.extend_from_slice(bytes);
        let mut items = Vec::new();
        loop {
            let mut cursor = Cursor::new(self.buf.as_slice());
            let (header, len) = match FrameHeader::parse(&mut cursor) {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(e) => return Err(WsError::Frame(e.to_string())),
            };
            let len = usize::try_from(len).map_err(|_| WsError::TooLarge(self.max_message))?;
            if len > self.max_message {
                return Err(WsError::TooLarge(self.max_message));
            }
            let start = cursor.position() as usize;
            if self.buf.len() < start + len {
                if self.buf.len() > self.max_message + 16 {
                    return Err(WsError::TooLarge(self.max_message));
                }
                break;
            }
            if header.rsv1 || header.rsv2 || header.rsv3 {
                return Err(WsError::Extension);
            }
            let raw: Vec<u8> = self.buf.drain(..start + len).collect();
            let mut payload = raw[start..].to_vec();
            if let Some(mask) = header.mask {
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= mask[i % 4];
                }
            }
            match header.opcode {
                OpCode::Control(_) => items.push(WsItem::Control(raw)),
                OpCode::Data(Data::Continue) => {
                    let Some((text, mut joined, mut all)) = self.partial.take() else {
                        return Err(WsError::Sequence);
                    };
                    if joined.len() + payload.len() > self.max_message {
                        return Err(WsError::TooLarge(self.max_message));
                    }
                    joined.extend_from_slice(&payload);
                    all.extend_from_slice(&raw);
                    if header.is_final {
                        items.push(WsItem::Message(WsMessage {
                            text,
                            payload: joined,
                            raw: all,
                        }));
                    } else {
                        self.partial = Some((text, joined, all));
                    }
                }
                OpCode::Data(data) => {
                    if self.partial.is_some() {
                        return Err(WsError::Sequence);
                    }
                    let text = matches!(data, Data::Text);
                    if !matches!(data, Data::Text | Data::Binary) {
                        return Err(WsError::Frame(format!("reserved data opcode {data:?}")));
                    }
                    if header.is_final {
                        items.push(WsItem::Message(WsMessage { text, payload, raw }));
                    } else {
                        self.partial = Some((text, payload, raw));
                    }
                }
            }
        }
        Ok(items)
    }
}

/// A text message as a server sends it (unmasked, one frame).
pub fn text_frame(text: &str) -> Vec<u8> {
    frame(text.as_bytes(), OpCode::Data(Data::Text))
}

/// A close frame as a server sends it (status 1008, policy violation, with a reason).
pub fn close_frame(reason: &str) -> Vec<u8> {
    let mut payload = 1008u16.to_be_bytes().to_vec();
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    frame(&payload, OpCode::Control(Control::Close))
}

fn frame(payload: &[u8], opcode: OpCode) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    let header = FrameHeader {
        opcode,
        ..FrameHeader::default()
    };
    // Writing into a Vec cannot fail.
    let _ = Frame::from_payload(header, payload.to_vec().into()).format(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame as a client sends it (masked).
    fn client_frame(payload: &[u8], opcode: OpCode, is_final: bool) -> Vec<u8> {
        let header = FrameHeader {
            is_final,
            opcode,
            mask: Some([1, 2, 3, 4]),
            ..FrameHeader::default()
        };
        let mut out = Vec::new();
        Frame::from_payload(header, payload.to_vec().into())
            .format(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn fragments_are_joined_and_unmasked_whatever_the_chunking() {
        let mut stream = client_frame(b"hel", OpCode::Data(Data::Text), false);
        stream.extend(client_frame(b"ping", OpCode::Control(Control::Ping), true));
        stream.extend(client_frame(b"lo", OpCode::Data(Data::Continue), true));
        for chunk in [1, 3, 7, stream.len()] {
            let mut r = WsReader::new(1 << 20);
            let mut items = Vec::new();
            for piece in stream.chunks(chunk) {
                items.extend(r.push(piece).unwrap());
            }
            assert_eq!(items.len(), 2, "chunk {chunk}");
            assert!(matches!(&items[0], WsItem::Control(_)));
            match &items[1] {
                WsItem::Message(m) => {
                    assert_eq!(m.as_text(), Some("hello"));
                    let mut raw = client_frame(b"hel", OpCode::Data(Data::Text), false);
                    raw.extend(client_frame(b"lo", OpCode::Data(Data::Continue), true));
                    assert_eq!(m.raw, raw, "the bytes as they arrived");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn what_cannot_be_read_is_an_error() {
        let mut compressed = client_frame(b"x", OpCode::Data(Data::Text), true);
        compressed[0] |= 0x40;
        assert_eq!(
            WsReader::new(1 << 20).push(&compressed),
            Err(WsError::Extension)
        );
        let big = client_frame(&[b'a'; 100], OpCode::Data(Data::Binary), true);
        assert_eq!(WsReader::new(10).push(&big), Err(WsError::TooLarge(10)));
        let cont = client_frame(b"x", OpCode::Data(Data::Continue), true);
        assert_eq!(WsReader::new(1 << 20).push(&cont), Err(WsError::Sequence));
    }

    #[test]
    fn frames_aarmor_writes_are_read_back() {
        let mut r = WsReader::new(1 << 20);
        let items = r.push(&text_frame("{\"error\": 1}")).unwrap();
        assert!(matches!(&items[0], WsItem::Message(m) if m.as_text() == Some("{\"error\": 1}")));
        assert!(matches!(
            &r.push(&close_frame("denied")).unwrap()[0],
            WsItem::Control(_)
        ));
    }
}
