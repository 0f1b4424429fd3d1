//! Minted credentials: a JWT (EdDSA, Ed25519) signed for one allowed action, valid for at most
//! a minute, whose claims name the action (agent, session, tool, operation, method, host, path,
//! the hash of the body sent, the receipt id). The key's public half is served as a JWKS on the
//! admin listener, so a service can accept only actions aarmor allowed.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::KeyPair as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Digest as _;

/// The file the minting key is kept in, under `<data_dir>/credentials/`.
pub const MINT_KEY_FILE: &str = "mint-key.pk8";

/// Why the minting key cannot be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum MintKeyError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not an Ed25519 PKCS#8 key: {message}", path.display())]
    Key { path: PathBuf, message: String },
}

/// What a minted token says. A verifier checks `aud`, `exp`, and that `method`, `host`, `path`
/// and `body_sha256` are those of the request it received.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MintedClaims {
    pub iss: String,
    pub aud: String,
    /// The agent the action was decided for.
    pub sub: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// Unique per token: the action id.
    pub jti: String,
    pub agent: String,
    pub session: String,
    pub tool: String,
    pub operation: String,
    pub method: String,
    pub host: String,
    /// The request target as sent upstream: path and query.
    pub path: String,
    /// `sha256:` + hex of the canonical action parameters, as the receipt hashes them.
    pub params_hash: String,
    /// `sha256:` + hex of the request body sent upstream (empty body included).
    pub body_sha256: String,
    /// The decision receipt that allowed the action.
    pub receipt_id: String,
    /// The brokered credential's name.
    pub credential: String,
    /// Its scope (`read`, `write`).
    pub scope: String,
}

/// The minting key.
pub struct Minter {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public: Vec<u8>,
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minter").field("kid", &self.kid).finish()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

impl Minter {
    /// The key in `data_dir` (created on first use, mode 0600).
    pub fn load_or_create(data_dir: &Path) -> Result<Self, MintKeyError> {
        let path = data_dir.join(MINT_KEY_FILE);
        let io = |source| MintKeyError::Io {
            path: path.clone(),
            source,
        };
        if !path.exists() {
            std::fs::create_dir_all(data_dir).map_err(io)?;
            let rng = ring::rand::SystemRandom::new();
            let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| {
                MintKeyError::Key {
                    path: path.clone(),
                    message: "cannot generate a key".into(),
                }
            })?;
            write_private(&path, doc.as_ref()).map_err(io)?;
        }
        let der = std::fs::read(&path).map_err(io)?;
        Self::from_pkcs8(&der).map_err(|message| MintKeyError::Key { path, message })
    }

    /// The key of a PKCS#8 (v2) document.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(der).map_err(|e| e.to_string())?;
        let public = pair.public_key().as_ref().to_vec();
        let fp = hex::encode(&sha2::Sha256::digest(&public)[..8]);
        Ok(Self {
            kid: format!("aarmor-mint-{fp}"),
            encoding: EncodingKey::from_ed_der(der),
            decoding: DecodingKey::from_ed_der(&public),
            public,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The first segment of every token this key mints (its JOSE header, base64url).
    pub fn header_segment(&self) -> Option<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        let token = jsonwebtoken::encode(&header, &json!({}), &self.encoding).ok()?;
        token.split('.').next().map(str::to_string)
    }

    /// The JWKS that verifies minted tokens (RFC 7517, RFC 8037 OKP key).
    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.public),
        }]})
    }

    /// Signs `claims`.
    pub fn mint(&self, claims: &MintedClaims) -> Result<String, String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// Whether `token` is one this key signed, expired or not (an agent presenting one is
    /// replaying it).
    pub fn signed(&self, token: &str) -> bool {
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return false;
        };
        if header.kid.as_deref() != Some(self.kid.as_str()) || header.alg != Algorithm::EdDSA {
            return false;
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(token, &self.decoding, &validation).is_ok()
    }
}

/// The JWTs in `text` (three base64url parts) whose header names key `kid`: every one, however
/// many other tokens surround them (each candidate's header is decoded, no signature checked).
pub fn jwts_in<'a>(text: &'a [u8], kid: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    // A JWT header starts `{"` in JSON, `eyJ` in base64url.
    let mut at = 0;
    std::iter::from_fn(move || loop {
        let start = at + memfind(text.get(at..)?, b"eyJ")?;
        let len = text[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            .count();
        at = start + len.max(3);
        let Ok(candidate) = std::str::from_utf8(&text[start..start + len]) else {
            continue;
        };
        if candidate.split('.').count() != 3 {
            continue;
        }
        let names_kid = jsonwebtoken::decode_header(candidate)
            .ok()
            .is_some_and(|h| h.kid.as_deref() == Some(kid));
        if names_kid {
            return Some(candidate);
        }
    })
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> MintedClaims {
        MintedClaims {
            iss: "aarmor".into(),
            aud: "svc".into(),
            sub: "agent".into(),
            iat: 0,
            nbf: 0,
            exp,
            jti: "act_1".into(),
            agent: "agent".into(),
            session: "s".into(),
            tool: "t".into(),
            operation: "get".into(),
            method: "GET".into(),
            host: "h".into(),
            path: "/".into(),
            params_hash: "sha256:00".into(),
            body_sha256: "sha256:00".into(),
            receipt_id: "rcpt_1".into(),
            credential: "c".into(),
            scope: "read".into(),
        }
    }

    #[test]
    fn minted_tokens_are_recognised_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let minter = Minter::load_or_create(dir.path()).unwrap();
        let again = Minter::load_or_create(dir.path()).unwrap();
        assert_eq!(minter.kid(), again.kid());
        let token = minter.mint(&claims(1)).unwrap();
        assert!(minter.signed(&token), "expired tokens are still ours");
        let text = format!("x={token}&y=1");
        assert_eq!(
            jwts_in(text.as_bytes(), minter.kid()).collect::<Vec<_>>(),
            vec![token.as_str()]
        );
        // Decoys before it do not hide it.
        let decoys = "eyJhbGciOiJub25lIn0.e30.x ".repeat(40) + &token;
        assert_eq!(jwts_in(decoys.as_bytes(), minter.kid()).count(), 1);
        assert!(token.starts_with(&minter.header_segment().unwrap()));
        let other = Minter::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(!other.signed(&token));
        let second = minter.mint(&claims(2)).unwrap();
        let (a, b): (Vec<&str>, Vec<&str>) =
            (token.split('.').collect(), second.split('.').collect());
        let forged = format!("{}.{}.{}", a[0], b[1], a[2]);
        assert!(
            !minter.signed(&forged),
            "claims swapped under another signature"
        );
        let jwks = minter.jwks();
        assert_eq!(jwks["keys"][0]["kid"], minter.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(MINT_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
    }
}
