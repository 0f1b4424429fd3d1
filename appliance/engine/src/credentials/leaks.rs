//! Finding brokered secrets in what leaves: each secret as it is, percent-encoded, and in
//! base64 (standard and URL-safe, at each of the three byte alignments, so a secret inside a
//! `Basic` header or any base64 blob is found), all matched in one pass (Aho-Corasick).

use aho_corasick::AhoCorasick;
use base64::Engine as _;

/// Shortest encoded fragment looked for: shorter ones match by chance.
const MIN_FRAGMENT: usize = 8;

/// The secrets known at one version of the broker's cache.
pub struct LeakMatcher {
    pub version: u64,
    automaton: Option<AhoCorasick>,
    /// The credential name of each pattern.
    names: Vec<String>,
}

/// The base64 text that encodes `secret` whatever bytes come before it: for each alignment,
/// the characters that depend on the secret's bytes alone.
fn base64_fragments(secret: &[u8]) -> Vec<String> {
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE,
    ];
    let mut out = Vec::new();
    for engine in engines {
        for pad in 0..3usize {
            let mut bytes = vec![0u8; pad];
            bytes.extend_from_slice(secret);
            let text = engine.encode(&bytes);
            // The first characters mix in the padding bytes; the last group may mix in what
            // follows the secret.
            let skip = [0, 2, 3][pad];
            let whole = (bytes.len() / 3) * 4;
            if whole > skip + MIN_FRAGMENT {
                out.push(text[skip..whole].to_string());
            }
        }
    }
    out
}

impl LeakMatcher {
    /// A matcher for `(credential name, secret)` pairs.
    pub fn build(version: u64, secrets: &[(String, String)]) -> Self {
        let mut patterns: Vec<String> = Vec::new();
        let mut names = Vec::new();
        for (name, secret) in secrets {
            let mut forms = vec![secret.clone()];
            let encoded =
                percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                    .to_string();
            if encoded != *secret {
                forms.push(encoded);
            }
            forms.extend(base64_fragments(secret.as_bytes()));
            for f in forms {
                if f.len() >= MIN_FRAGMENT {
                    patterns.push(f);
                    names.push(name.clone());
                }
            }
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .ascii_case_insensitive(false)
                .build(&patterns)
                .ok()
        };
        Self {
            version,
            automaton,
            names,
        }
    }

    /// `text` with every secret (in any form looked for) replaced by `[secret of <name>]`;
    /// `None` when it holds none.
    pub fn redact(&self, text: &str) -> Option<String> {
        let automaton = self.automaton.as_ref()?;
        automaton.find(text)?;
        let mut out = String::with_capacity(text.len());
        automaton.replace_all_with(text, &mut out, |m, _, dst| {
            let name = self.names.get(m.pattern().as_usize()).map(String::as_str);
            dst.push_str(&format!("[secret of {}]", name.unwrap_or("a credential")));
            true
        });
        Some(out)
    }

    /// The credential whose secret `bytes` carries.
    pub fn find(&self, bytes: &[u8]) -> Option<String> {
        let m = self.automaton.as_ref()?.find(bytes)?;
        self.names.get(m.pattern().as_usize()).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_raw_encoded_and_in_base64() {
        let secret = "zq81-unusual/secret+value";
        let m = LeakMatcher::build(1, &[("svc".into(), secret.into())]);
        assert_eq!(
            m.find(format!("x {secret} y").as_bytes()).as_deref(),
            Some("svc")
        );
        let pct = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        assert_eq!(
            m.find(format!("?k={pct}").as_bytes()).as_deref(),
            Some("svc")
        );
        for prefix in ["", "u:", "us:", "use:"] {
            for engine in [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ] {
                let text = engine.encode(format!("{prefix}{secret}"));
                assert_eq!(
                    m.find(format!("Basic {text}").as_bytes()).as_deref(),
                    Some("svc"),
                    "{prefix:?} {text}"
                );
            }
        }
        assert_eq!(m.find(b"nothing to see here, zq81-unusual"), None);
    }
}
