//! Finding brokered secrets in what leaves and what comes back: each secret as it is,
//! percent-encoded (every reserved character, or only those RFC 3986 does not leave alone),
//! JSON-escaped (`\/`, `\u00XX`), as HTML character references, in hex, and in base64
//! (standard and URL-safe, at each of the three byte alignments, so a secret inside a `Basic`
//! header or any base64 blob is found), all matched in one pass without regard to ASCII case
//! (one [`ScrubSet`], shared with the response scrubber).

use std::sync::Arc;

use aarmor_mediation::ScrubSet;
use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

/// Shortest encoded fragment looked for: shorter ones match by chance.
const MIN_FRAGMENT: usize = 8;

/// What RFC 3986 percent-encoding leaves as it is: letters, digits and `-._~`
/// (`encodeURIComponent`, `urllib.parse.quote`).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The secrets known at one version of the broker's cache.
pub struct LeakMatcher {
    pub version: u64,
    set: Option<Arc<ScrubSet>>,
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
            if whole >= skip + MIN_FRAGMENT {
                out.push(text[skip..whole].to_string());
            }
        }
    }
    out
}

/// `secret` with every character but letters and digits written by `escape`.
fn escaped(secret: &str, escape: impl Fn(char) -> String) -> String {
    secret
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                escape(c)
            }
        })
        .collect()
}

/// Every form a secret is looked for in (matched without regard to ASCII case).
pub fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![
        secret.to_string(),
        percent_encoding::utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
        percent_encoding::utf8_percent_encode(secret, UNRESERVED).to_string(),
        // JSON as PHP writes it (`\/`), and with every other character as `\u00XX`.
        serde_json::to_string(secret)
            .map(|j| j.trim_matches('"').replace('/', "\\/"))
            .unwrap_or_default(),
        escaped(secret, |c| format!("\\u{:04x}", c as u32)),
        escaped(secret, |c| format!("&#{};", c as u32)),
        escaped(secret, |c| format!("&#x{:x};", c as u32)),
        hex::encode(secret.as_bytes()),
    ];
    forms.extend(base64_fragments(secret.as_bytes()));
    forms.retain(|f| f.len() >= MIN_FRAGMENT);
    forms.sort();
    forms.dedup();
    forms
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
            set: ScrubSet::new(&patterns).map(Arc::new),
        }
    }

    /// The patterns as the response scrubber uses them.
    pub fn scrub_set(&self) -> Option<Arc<ScrubSet>> {
        self.set.clone()
    }

    /// `text` with every secret (in any form looked for) replaced by `[secret of <name>]`;
    /// `None` when it holds none.
    pub fn redact(&self, text: &str) -> Option<String> {
        let replaced = self.set.as_ref()?.replace_with(text.as_bytes(), &|name| {
            format!("[secret of {name}]").into_bytes()
        })?;
        Some(String::from_utf8_lossy(&replaced).into_owned())
    }

    /// The credential whose secret `bytes` carries.
    pub fn find(&self, bytes: &[u8]) -> Option<String> {
        self.set.as_ref()?.find(bytes).map(str::to_string)
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
        for encoded in [
            percent_encoding::utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
            percent_encoding::utf8_percent_encode(secret, UNRESERVED).to_string(),
            r"zq81-unusual\/secret+value".to_string(),
            r"zq81\u002dunusual\u002fsecret\u002bvalue".to_string(),
            "zq81&#45;unusual&#47;secret&#43;value".to_string(),
            "zq81&#x2d;unusual&#x2f;secret&#x2b;value".to_string(),
            secret.to_uppercase(),
            hex::encode(secret).to_uppercase(),
        ] {
            assert_eq!(
                m.find(format!("?k={encoded}").as_bytes()).as_deref(),
                Some("svc"),
                "{encoded}"
            );
        }
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
        assert_eq!(
            m.redact(&format!("key={secret}")).as_deref(),
            Some("key=[secret of svc]")
        );
    }
}
