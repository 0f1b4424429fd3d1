//! The service identity: which upstream credential the action uses, named by its key id and
//! never by its secret (AWS access key id, a JWT's `kid`/`sub`, a Basic user, else a short
//! sha256 fingerprint of the secret).

use aarmor_core::RequestHead;
use base64::Engine;
use serde_json::Value;

/// Headers that carry upstream API credentials.
const CREDENTIAL_HEADERS: [&str; 4] = ["authorization", "x-api-key", "api-key", "x-goog-api-key"];

/// `host/key-id` for the first upstream credential in the request, if any.
pub fn service_identity(request: &RequestHead) -> Option<String> {
    CREDENTIAL_HEADERS.iter().find_map(|name| {
        let value = request.headers.get_str(name)?.trim();
        (!value.is_empty()).then(|| format!("{}/{}", request.host, key_id(name, value)))
    })
}

fn fingerprint(secret: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(secret.as_bytes());
    format!("sha256:{}", hex::encode(&digest[..6]))
}

fn key_id(header: &str, value: &str) -> String {
    if header != "authorization" {
        return fingerprint(value);
    }
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("AWS4-HMAC-SHA256") {
        if let Some(id) = rest
            .split(',')
            .filter_map(|p| p.trim().strip_prefix("Credential="))
            .filter_map(|c| c.split('/').next())
            .find(|id| !id.is_empty())
        {
            return format!("aws:{id}");
        }
    }
    if scheme.eq_ignore_ascii_case("basic") {
        if let Some(user) = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.split_once(':').map(|(u, _)| u.to_string()))
        {
            return format!("basic:{user}");
        }
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        if let Some(id) = jwt_key_id(rest) {
            return id;
        }
        return fingerprint(rest);
    }
    fingerprint(value)
}

/// `kid:<kid>` or `sub:<sub>` of an (unverified) JWT; naming only, never trust.
fn jwt_key_id(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (h, p, _s) = (parts.next()?, parts.next()?, parts.next()?);
    let decode = |s: &str| -> Option<Value> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let header = decode(h)?;
    if let Some(kid) = header.get("kid").and_then(Value::as_str) {
        return Some(format!("kid:{kid}"));
    }
    let payload = decode(p)?;
    payload
        .get("sub")
        .and_then(Value::as_str)
        .map(|s| format!("sub:{s}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aarmor_core::HeaderList;

    fn req(headers: &[(&str, &str)]) -> RequestHead {
        let mut h = HeaderList::default();
        for (n, v) in headers {
            h.push(*n, v.as_bytes().to_vec());
        }
        RequestHead {
            method: "POST".into(),
            scheme: "https",
            host: "api.example".into(),
            port: 443,
            path: "/v1/x".into(),
            headers: h,
            has_body: false,
        }
    }

    #[test]
    fn names_the_key_never_the_secret() {
        let s = service_identity(&req(&[("authorization", "Bearer sk-live-very-secret")])).unwrap();
        assert!(
            s.starts_with("api.example/sha256:") && !s.contains("secret"),
            "{s}"
        );
        let aws = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc";
        assert_eq!(
            service_identity(&req(&[("authorization", aws)])).unwrap(),
            "api.example/aws:AKIDEXAMPLE"
        );
        assert_eq!(
            service_identity(&req(&[("authorization", "Basic c3ZjLXVzZXI6cHc=")])).unwrap(),
            "api.example/basic:svc-user"
        );
        // header {"alg":"none","kid":"key-7"}
        let jwt = "Bearer eyJhbGciOiJub25lIiwia2lkIjoia2V5LTcifQ.e30.";
        assert_eq!(
            service_identity(&req(&[("authorization", jwt)])).unwrap(),
            "api.example/kid:key-7"
        );
        let k = service_identity(&req(&[("x-api-key", "anthropic-secret")])).unwrap();
        assert!(!k.contains("secret"));
        assert_eq!(service_identity(&req(&[])), None);
    }
}
