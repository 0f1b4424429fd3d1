//! The streaming gate: passes SSE events through as they arrive and holds tool calls until
//! they are complete and decided, so that a client never receives part of a call that is later
//! withheld.
//!
//! Contract with the caller (the data plane):
//! - `push` bytes as they arrive from the upstream and write `emit` to the client at once;
//! - when an output has `pending` drafts, mediate them and call `resolve` with one outcome per
//!   draft, in order, before anything else is emitted. Bytes pushed meanwhile are queued, so the
//!   order of the stream is preserved;
//! - call `finish` when the upstream ends; it may produce pending drafts too.

use std::collections::VecDeque;

use crate::draft::ActionDraft;
use crate::rendered::Rendered;
use crate::sse::{SseError, SseEvent, SseSplitter};
use crate::Observed;

/// Bytes to send now and calls that need a decision before the stream may continue.
#[derive(Debug, Default)]
pub struct GateOutput {
    pub emit: Vec<u8>,
    pub pending: Vec<ActionDraft>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GateError {
    #[error(transparent)]
    Sse(#[from] SseError),
    #[error("{expected} outcomes expected, {got} given")]
    OutcomeCount { expected: usize, got: usize },
    /// An event the gate cannot read the way the client will (not JSON, not an object): the
    /// stream is cut rather than passed on unread.
    #[error("an event the gate cannot read: {0}")]
    Unreadable(String),
}

/// The data of an event as a JSON object, or the error that cuts the stream. Events without
/// data (comments, keep-alives) are `Ok(None)`: clients do not dispatch them.
pub fn event_object(ev: &SseEvent) -> Result<Option<serde_json::Value>, GateError> {
    let data = ev.data.trim();
    if data.is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<serde_json::Value>(data) {
        Ok(v) if v.is_object() => Ok(Some(v)),
        Ok(_) => Err(GateError::Unreadable(format!(
            "event data is JSON but not an object: {}",
            preview(data)
        ))),
        Err(e) => Err(GateError::Unreadable(format!(
            "event data is not JSON ({e}): {}",
            preview(data)
        ))),
    }
}

fn preview(data: &str) -> String {
    let mut end = data.len().min(80);
    while !data.is_char_boundary(end) {
        end -= 1;
    }
    data[..end].to_string()
}

/// One wire format's handling of stream events.
pub trait EventProcessor: Send + Sync {
    /// Handles one event: writes what may pass to `out` and returns the calls it completed. An
    /// event it cannot read is an error: the stream is cut.
    fn process(
        &mut self,
        event: SseEvent,
        out: &mut Vec<u8>,
    ) -> Result<Vec<ActionDraft>, GateError>;
    /// Renders the calls returned by the last `process`/`end`, then whatever they held back.
    fn resolve(&mut self, outcomes: Vec<Rendered>, out: &mut Vec<u8>);
    /// The stream ended: returns calls still open (a truncated stream).
    fn end(&mut self, out: &mut Vec<u8>) -> Vec<ActionDraft>;
    /// What the stream said that feeds the session context (assistant text).
    fn observations(&mut self) -> Vec<Observed>;
}

/// A streaming gate over one SSE response.
pub struct StreamGate {
    splitter: SseSplitter,
    queue: VecDeque<SseEvent>,
    waiting: usize,
    finished: bool,
    ended: bool,
    dropped_tail: usize,
    processor: Box<dyn EventProcessor>,
}

impl StreamGate {
    pub fn new(processor: Box<dyn EventProcessor>, max_event_bytes: usize) -> Self {
        Self {
            splitter: SseSplitter::new(max_event_bytes),
            queue: VecDeque::new(),
            waiting: 0,
            finished: false,
            ended: false,
            dropped_tail: 0,
            processor,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<GateOutput, GateError> {
        let events = self.splitter.push(bytes)?;
        self.queue.extend(events);
        self.drain(Vec::new())
    }

    pub fn resolve(&mut self, outcomes: Vec<Rendered>) -> Result<GateOutput, GateError> {
        if outcomes.len() != self.waiting {
            return Err(GateError::OutcomeCount {
                expected: self.waiting,
                got: outcomes.len(),
            });
        }
        self.waiting = 0;
        let mut out = Vec::new();
        self.processor.resolve(outcomes, &mut out);
        self.drain(out)
    }

    /// The upstream ended. An unterminated last event is dropped, as an SSE client would.
    pub fn finish(&mut self) -> Result<GateOutput, GateError> {
        self.dropped_tail = self.splitter.finish().map(|e| e.raw.len()).unwrap_or(0);
        self.finished = true;
        self.drain(Vec::new())
    }

    /// Bytes of an unterminated last event that `finish` dropped.
    pub fn dropped_tail(&self) -> usize {
        self.dropped_tail
    }

    /// True while decisions are outstanding.
    pub fn is_waiting(&self) -> bool {
        self.waiting > 0
    }

    pub fn observations(&mut self) -> Vec<Observed> {
        self.processor.observations()
    }

    fn drain(&mut self, mut out: Vec<u8>) -> Result<GateOutput, GateError> {
        if self.waiting > 0 {
            return Ok(GateOutput {
                emit: out,
                pending: Vec::new(),
            });
        }
        while let Some(event) = self.queue.pop_front() {
            let pending = self.processor.process(event, &mut out)?;
            if !pending.is_empty() {
                self.waiting = pending.len();
                return Ok(GateOutput { emit: out, pending });
            }
        }
        if self.finished && !self.ended {
            self.ended = true;
            let pending = self.processor.end(&mut out);
            self.waiting = pending.len();
            return Ok(GateOutput { emit: out, pending });
        }
        Ok(GateOutput {
            emit: out,
            pending: Vec::new(),
        })
    }
}
