//! The human principal from a signed user token (JWT) the agent platform passes: signature
//! against a JWKS file (asymmetric keys only), `exp`, `nbf`, `aud` and optionally `iss`.
//! Verified tokens are cached by their hash until they expire.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::registry::UserTokenSource;

/// What a verified token says.
#[derive(Debug, Clone, PartialEq)]
pub struct UserClaims {
    pub human: String,
    pub role: Option<String>,
    /// `exp`, seconds since the Unix epoch.
    pub expires: i64,
    /// The actors of nested RFC 8693 `act` claims, outermost first.
    pub actors: Vec<String>,
    pub issuer: Option<String>,
}

struct Key {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("header", &self.source.header)
            .field("keys", &self.keys.len())
            .finish()
    }
}

/// Verifies user tokens against one JWKS.
pub struct TokenVerifier {
    source: UserTokenSource,
    keys: Vec<Key>,
    cache: Mutex<lru::LruCache<[u8; 32], UserClaims>>,
}

fn algorithms_for(params: &AlgorithmParameters, declared: Option<Algorithm>) -> Vec<Algorithm> {
    let family = match params {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(_) => vec![Algorithm::ES256, Algorithm::ES384],
        AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
        AlgorithmParameters::OctetKey(_) => vec![],
    };
    match declared {
        Some(a) if family.contains(&a) => vec![a],
        Some(_) => vec![],
        None => family,
    }
}

fn declared_algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    use jsonwebtoken::jwk::KeyAlgorithm as K;
    Some(match jwk.common.key_algorithm? {
        K::RS256 => Algorithm::RS256,
        K::RS384 => Algorithm::RS384,
        K::RS512 => Algorithm::RS512,
        K::PS256 => Algorithm::PS256,
        K::PS384 => Algorithm::PS384,
        K::PS512 => Algorithm::PS512,
        K::ES256 => Algorithm::ES256,
        K::ES384 => Algorithm::ES384,
        K::EdDSA => Algorithm::EdDSA,
        _ => Algorithm::HS256,
    })
}

impl TokenVerifier {
    /// Loads the JWKS. Symmetric (`oct`) keys are refused: a key that can verify can also sign.
    pub fn new(source: UserTokenSource, jwks_json: &str) -> Result<Self, String> {
        let set: JwkSet =
            serde_json::from_str(jwks_json).map_err(|e| format!("not a JWKS document: {e}"))?;
        let mut keys = Vec::new();
        for (i, jwk) in set.keys.iter().enumerate() {
            if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
                return Err(format!(
                    "keys[{i}]: symmetric (oct) keys are not accepted; publish the issuer's public key"
                ));
            }
            let algorithms = algorithms_for(&jwk.algorithm, declared_algorithm(jwk));
            if algorithms.is_empty() {
                return Err(format!("keys[{i}]: its alg does not fit its key type"));
            }
            let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("keys[{i}]: {e}"))?;
            keys.push(Key {
                kid: jwk.common.key_id.clone(),
                algorithms,
                key,
            });
        }
        if keys.is_empty() {
            return Err("the JWKS has no keys".into());
        }
        Ok(Self {
            source,
            keys,
            cache: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(4096).unwrap_or(NonZeroUsize::MIN),
            )),
        })
    }

    pub fn header(&self) -> &str {
        &self.source.header
    }

    /// Verifies a token; the error says why it was refused (never the token itself).
    pub fn verify(&self, token: &str, now: i64) -> Result<UserClaims, String> {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = self
            .cache
            .lock()
            .ok()
            .and_then(|mut c| c.get(&digest).cloned())
        {
            if hit.expires + self.source.leeway_s as i64 >= now {
                return Ok(hit);
            }
            return Err("the user token has expired".into());
        }
        let claims = self.verify_uncached(token)?;
        if let Ok(mut c) = self.cache.lock() {
            c.put(digest, claims.clone());
        }
        Ok(claims)
    }

    fn verify_uncached(&self, token: &str) -> Result<UserClaims, String> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| format!("the user token is malformed ({e})"))?;
        let candidates: Vec<&Key> = self
            .keys
            .iter()
            .filter(|k| match (&header.kid, &k.kid) {
                (Some(want), Some(have)) => want == have,
                (Some(_), None) => true,
                (None, _) => true,
            })
            .filter(|k| k.algorithms.contains(&header.alg))
            .collect();
        if candidates.is_empty() {
            return Err(format!(
                "no key in the JWKS for this user token (kid {}, alg {:?})",
                header.kid.as_deref().unwrap_or("none"),
                header.alg
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&self.source.audience);
        if !self.source.issuer.is_empty() {
            validation.set_issuer(&self.source.issuer);
        }
        validation.leeway = self.source.leeway_s;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "aud"]);
        let mut last = String::new();
        for key in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
                Ok(data) => return self.claims(data.claims),
                Err(e) => last = describe(&e),
            }
        }
        Err(last)
    }

    fn claims(&self, claims: Map<String, Value>) -> Result<UserClaims, String> {
        let human = claims
            .get(&self.source.subject_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                format!(
                    "the user token has no {} claim naming the human",
                    self.source.subject_claim
                )
            })?
            .to_string();
        let role = match &self.source.role_claim {
            Some(c) => claims.get(c).and_then(claim_text),
            None => claims
                .get("role")
                .and_then(claim_text)
                .or_else(|| claims.get("scope").and_then(claim_text)),
        };
        let expires = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        let mut actors = Vec::new();
        let mut act = claims.get("act");
        while let Some(a) = act.filter(|_| actors.len() < 16) {
            if let Some(sub) = a.get("sub").and_then(Value::as_str) {
                actors.push(sub.to_string());
            }
            act = a.get("act");
        }
        Ok(UserClaims {
            human,
            role,
            expires,
            actors,
            issuer: claims
                .get("iss")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

fn claim_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Array(items) => {
            let parts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        }
        _ => None,
    }
}

fn describe(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => "the user token has expired".into(),
        K::ImmatureSignature => "the user token is not valid yet (nbf)".into(),
        K::InvalidAudience => "the user token is for another audience".into(),
        K::InvalidIssuer => "the user token comes from an issuer that is not accepted".into(),
        K::InvalidSignature => "the user token's signature does not verify".into(),
        K::MissingRequiredClaim(c) => format!("the user token has no {c} claim"),
        other => format!("the user token was refused ({other:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    /// An Ed25519 key pair, as PKCS#8 DER and as a JWKS entry.
    fn ed25519() -> (Vec<u8>, String) {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        use base64::Engine;
        use ring::signature::KeyPair;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1", "alg": "EdDSA", "use": "sig"}]});
        (pkcs8.as_ref().to_vec(), jwks.to_string())
    }

    fn source() -> UserTokenSource {
        UserTokenSource {
            header: "x-aarm-user-token".into(),
            jwks_file: "jwks.json".into(),
            audience: vec!["aarmor".into()],
            issuer: vec!["https://idp.example".into()],
            subject_claim: "email".into(),
            role_claim: None,
            leeway_s: 0,
        }
    }

    fn sign(der: &[u8], claims: Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        encode(&header, &claims, &EncodingKey::from_ed_der(der)).unwrap()
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn verifies_signature_audience_issuer_and_expiry() {
        let (der, jwks) = ed25519();
        let v = TokenVerifier::new(source(), &jwks).unwrap();
        let good = json!({"email": "ana@corp.example", "aud": "aarmor", "iss": "https://idp.example",
            "exp": now() + 600, "role": "finance", "act": {"sub": "copilot-platform", "act": {"sub": "planner"}}});
        let c = v.verify(&sign(&der, good.clone()), now()).unwrap();
        assert_eq!(c.human, "ana@corp.example");
        assert_eq!(c.role.as_deref(), Some("finance"));
        assert_eq!(c.actors, vec!["copilot-platform", "planner"]);

        let mut expired = good.clone();
        expired["exp"] = json!(now() - 600);
        assert!(v
            .verify(&sign(&der, expired), now())
            .unwrap_err()
            .contains("expired"));
        let mut aud = good.clone();
        aud["aud"] = json!("someone-else");
        assert!(v
            .verify(&sign(&der, aud), now())
            .unwrap_err()
            .contains("audience"));
        let mut iss = good.clone();
        iss["iss"] = json!("https://evil.example");
        assert!(v
            .verify(&sign(&der, iss), now())
            .unwrap_err()
            .contains("issuer"));
        let (other_der, _) = ed25519();
        assert!(v
            .verify(&sign(&other_der, good.clone()), now())
            .unwrap_err()
            .contains("signature"));
        assert!(v
            .verify("not.a.jwt", now())
            .unwrap_err()
            .contains("malformed"));
        // A cached token still expires.
        let token = sign(&der, good);
        v.verify(&token, now()).unwrap();
        assert!(v
            .verify(&token, now() + 3600)
            .unwrap_err()
            .contains("expired"));
    }

    #[test]
    fn hmac_tokens_and_symmetric_keys_are_refused() {
        let (_, jwks) = ed25519();
        let v = TokenVerifier::new(source(), &jwks).unwrap();
        let token = encode(
            &Header::new(Algorithm::HS256),
            &json!({"email": "x", "aud": "aarmor", "exp": now() + 60}),
            &EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert!(v.verify(&token, now()).unwrap_err().contains("no key"));
        let oct = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}).to_string();
        assert!(TokenVerifier::new(source(), &oct)
            .unwrap_err()
            .contains("symmetric"));
    }
}
