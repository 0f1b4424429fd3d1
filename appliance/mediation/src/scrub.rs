//! Finding and replacing brokered secrets in bytes: [`ScrubSet`], the forms of every secret
//! aarmor holds in one automaton (ASCII case ignored), built once and shared; [`Scrubber`], a
//! stream through it that replaces each secret with its credential's placeholder across chunk
//! boundaries.

use std::sync::Arc;

use aho_corasick::AhoCorasick;
use bytes::Bytes;

/// Every form of every secret, each with its credential's name.
pub struct ScrubSet {
    automaton: AhoCorasick,
    /// The credential name of each pattern.
    names: Vec<String>,
    /// The placeholder of each pattern's credential (`aarmor:<name>`).
    replacements: Vec<Vec<u8>>,
    /// The patterns, ASCII lower-case, to tell whether a chunk ends inside one.
    lowered: Vec<Vec<u8>>,
    /// Which bytes (lower-case) begin a pattern.
    first: [bool; 256],
    /// Longest pattern, bytes.
    longest: usize,
}

impl std::fmt::Debug for ScrubSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrubSet")
            .field("patterns", &self.names.len())
            .finish()
    }
}

impl ScrubSet {
    /// The set of `(form, credential name)` patterns; `None` when there is none.
    pub fn new(patterns: &[(String, String)]) -> Option<Self> {
        let patterns: Vec<&(String, String)> =
            patterns.iter().filter(|(f, _)| !f.is_empty()).collect();
        let longest = patterns.iter().map(|(f, _)| f.len()).max()?;
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(patterns.iter().map(|(f, _)| f))
            .ok()?;
        let lowered: Vec<Vec<u8>> = patterns
            .iter()
            .map(|(f, _)| f.to_ascii_lowercase().into_bytes())
            .collect();
        let mut first = [false; 256];
        for p in &lowered {
            if let Some(b) = p.first() {
                first[*b as usize] = true;
            }
        }
        Some(Self {
            automaton,
            names: patterns.iter().map(|(_, n)| n.clone()).collect(),
            replacements: patterns
                .iter()
                .map(|(_, name)| format!("aarmor:{name}").into_bytes())
                .collect(),
            lowered,
            first,
            longest,
        })
    }

    /// The credential whose secret `bytes` carry, if any.
    pub fn find(&self, bytes: &[u8]) -> Option<&str> {
        let m = self.automaton.find(bytes)?;
        self.names.get(m.pattern().as_usize()).map(String::as_str)
    }

    /// `bytes` with every secret replaced by `mention(name)`; `None` when it holds none.
    pub fn replace_with(&self, bytes: &[u8], mention: &dyn Fn(&str) -> Vec<u8>) -> Option<Vec<u8>> {
        self.automaton.find(bytes)?;
        let mut out = Vec::with_capacity(bytes.len());
        self.automaton
            .replace_all_with_bytes(bytes, &mut out, |m, _, dst| {
                if let Some(name) = self.names.get(m.pattern().as_usize()) {
                    dst.extend_from_slice(&mention(name));
                }
                true
            });
        Some(out)
    }

    /// `bytes` with every secret replaced by its credential's placeholder.
    pub fn replace(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        self.automaton.find(bytes)?;
        let mut out = Vec::with_capacity(bytes.len());
        self.automaton
            .replace_all_with_bytes(bytes, &mut out, |m, _, dst| {
                if let Some(r) = self.replacements.get(m.pattern().as_usize()) {
                    dst.extend_from_slice(r);
                }
                true
            });
        Some(out)
    }

    /// Where the shortest suffix of `data` that is a proper prefix of a pattern begins (what a
    /// stream holds back); `data.len()` when none is. A pattern starting earlier would be whole
    /// in `data`.
    fn partial_start(&self, data: &[u8]) -> usize {
        let from = data.len().saturating_sub(self.longest.saturating_sub(1));
        for start in from..data.len() {
            let Some(b) = data.get(start) else { break };
            if !self.first[b.to_ascii_lowercase() as usize] {
                continue;
            }
            let rest = &data[start..];
            let begins_one = self
                .lowered
                .iter()
                .any(|p| p.len() > rest.len() && p[..rest.len()].eq_ignore_ascii_case(rest));
            if begins_one {
                return start;
            }
        }
        data.len()
    }
}

/// A response on its way to the agent, secrets replaced with their placeholders: the last bytes
/// of a chunk that could begin a secret are held back until the next chunk (or the end).
pub struct Scrubber {
    set: Arc<ScrubSet>,
    held: Vec<u8>,
    /// The stream ended: nothing more is held back.
    ended: bool,
}

impl Scrubber {
    /// A stream scrubbed of `set`.
    pub fn new(set: Arc<ScrubSet>) -> Self {
        Self {
            set,
            held: Vec::new(),
            ended: false,
        }
    }

    /// Every secret in `bytes` replaced (a whole value: nothing is held); `None` when it holds
    /// none.
    pub fn whole(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        self.set.replace(bytes)
    }

    /// Whether `bytes` carry a secret.
    pub fn finds(&self, bytes: &[u8]) -> bool {
        self.set.find(bytes).is_some()
    }

    /// The part of the stream that can go out now, secrets replaced. After the end, all of it.
    pub fn push(&mut self, chunk: &[u8]) -> Bytes {
        if self.ended {
            return match self.whole(chunk) {
                Some(replaced) => Bytes::from(replaced),
                None => Bytes::copy_from_slice(chunk),
            };
        }
        self.held.extend_from_slice(chunk);
        let data = std::mem::take(&mut self.held);
        let set = &self.set;
        // Everything before `safe` can go; from it on, the data begins a secret the next chunk
        // may complete.
        let mut safe = set.partial_start(&data);
        let mut out = Vec::with_capacity(data.len());
        let mut at = 0;
        for m in set.automaton.find_iter(&data) {
            if m.start() >= safe {
                break;
            }
            out.extend_from_slice(&data[at..m.start()]);
            if let Some(r) = set.replacements.get(m.pattern().as_usize()) {
                out.extend_from_slice(r);
            }
            at = m.end();
            safe = safe.max(at);
        }
        let safe = safe.max(at);
        out.extend_from_slice(&data[at..safe]);
        self.held = data[safe..].to_vec();
        Bytes::from(out)
    }

    /// The end of the stream: what was held back, secrets replaced.
    pub fn finish(&mut self) -> Bytes {
        self.ended = true;
        let rest = std::mem::take(&mut self.held);
        match self.whole(&rest) {
            Some(replaced) => Bytes::from(replaced),
            None => Bytes::from(rest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubber(secret: &str) -> Scrubber {
        let set = ScrubSet::new(&[(secret.to_string(), "c".to_string())]).unwrap();
        Scrubber::new(Arc::new(set))
    }

    #[test]
    fn a_secret_split_across_chunks_is_replaced() {
        let text = b"head SECRET-VALUE-123 mid SECRET-VALUE-123 tail";
        for split in 0..text.len() {
            let mut s = scrubber("SECRET-VALUE-123");
            let mut out = Vec::new();
            out.extend_from_slice(&s.push(&text[..split]));
            out.extend_from_slice(&s.push(&text[split..]));
            out.extend_from_slice(&s.finish());
            assert_eq!(out, b"head aarmor:c mid aarmor:c tail", "split at {split}");
        }
        let mut s = scrubber("SECRET-VALUE-123");
        assert_eq!(s.whole(b"no secret"), None);
        assert_eq!(
            s.whole(b"x secret-value-123").as_deref(),
            Some(&b"x aarmor:c"[..])
        );
        let mut bytes = Vec::new();
        for b in text {
            bytes.extend_from_slice(&s.push(&[*b]));
        }
        bytes.extend_from_slice(&s.finish());
        assert_eq!(bytes, b"head aarmor:c mid aarmor:c tail");
        // Only what could begin a secret is held back: an event ending in other text goes out
        // whole at once.
        let mut s = scrubber("SECRET-VALUE-123");
        assert_eq!(
            &s.push(b"data: {\"x\": 1}\n\n")[..],
            b"data: {\"x\": 1}\n\n"
        );
        assert_eq!(&s.push(b"data: SECR")[..], b"data: ");
        assert_eq!(&s.push(b"ET-VALUE-123!")[..], b"aarmor:c!");
    }
}
