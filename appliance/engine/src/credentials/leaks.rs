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
    patterns: std::sync::Arc<[(String, String)]>,
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

/// Every form a secret is looked for in: as it is, percent-encoded, hex, and base64 at each
/// alignment (matched without regard to ASCII case).
pub fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    let encoded = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    if encoded != secret {
        forms.push(encoded);
    }
    forms.push(hex::encode(secret.as_bytes()));
    forms.extend(base64_fragments(secret.as_bytes()));
    forms.retain(|f| f.len() >= MIN_FRAGMENT);
    forms
}

/// One automaton over `(form, name)` pairs, ASCII case ignored.
fn automaton(patterns: &[(String, String)]) -> Option<AhoCorasick> {
    if patterns.is_empty() {
        return None;
    }
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(patterns.iter().map(|(form, _)| form))
        .ok()
}

impl LeakMatcher {
    /// A matcher for `(credential name, secret)` pairs.
    pub fn build(version: u64, secrets: &[(String, String)]) -> Self {
        let mut patterns: Vec<(String, String)> = Vec::new();
        for (name, secret) in secrets {
            for f in forms(secret) {
                patterns.push((f, name.clone()));
            }
        }
        Self {
            version,
            automaton: automaton(&patterns),
            names: patterns.iter().map(|(_, n)| n.clone()).collect(),
            patterns: std::sync::Arc::from(patterns),
        }
    }

    /// Every `(form, credential name)` looked for.
    pub fn patterns(&self) -> std::sync::Arc<[(String, String)]> {
        self.patterns.clone()
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
        // Case and hex do not hide it either.
        assert_eq!(
            m.find(secret.to_uppercase().as_bytes()).as_deref(),
            Some("svc")
        );
        assert_eq!(
            m.find(hex::encode(secret).to_uppercase().as_bytes())
                .as_deref(),
            Some("svc")
        );
    }
}
