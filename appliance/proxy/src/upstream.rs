//! Upstream trust and addressing: the root bundle (system roots + `ca_files`) and resolution.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("upstream.ca_files: {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("cannot write the upstream root bundle {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no trusted roots at all: the system store is empty and upstream.ca_files names none")]
    Empty,
}

/// Write `<data_dir>/run/upstream-roots.pem` holding the system roots plus every certificate of
/// `ca_files`, and return its path. pingora's connector trusts exactly one file, so the union is
/// built here; each extra file is validated so a typo fails start-up with the key named.
pub fn build_root_bundle(data_dir: &Path, ca_files: &[PathBuf]) -> Result<PathBuf, TrustError> {
    let mut pems = Vec::new();
    let native = rustls_native_certs_load();
    for der in native {
        pems.push(pem::Pem::new("CERTIFICATE", der));
    }
    for path in ca_files {
        let text = fs::read(path).map_err(|e| TrustError::CaFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let certs: Vec<_> = rustls_pemfile::certs(&mut text.as_slice())
            .collect::<Result<_, _>>()
            .map_err(|e| TrustError::CaFile {
                path: path.clone(),
                reason: format!("not a PEM certificate file: {e}"),
            })?;
        if certs.is_empty() {
            return Err(TrustError::CaFile {
                path: path.clone(),
                reason: "contains no PEM certificate".into(),
            });
        }
        for c in certs {
            if let Err(e) = x509_parser::parse_x509_certificate(c.as_ref()) {
                return Err(TrustError::CaFile {
                    path: path.clone(),
                    reason: format!("unparsable certificate: {e}"),
                });
            }
            pems.push(pem::Pem::new("CERTIFICATE", c.as_ref().to_vec()));
        }
    }
    if pems.is_empty() {
        return Err(TrustError::Empty);
    }
    let dir = data_dir.join("run");
    fs::create_dir_all(&dir).map_err(|source| TrustError::Write {
        path: dir.clone(),
        source,
    })?;
    let out = dir.join("upstream-roots.pem");
    fs::write(&out, pem::encode_many(&pems)).map_err(|source| TrustError::Write {
        path: out.clone(),
        source,
    })?;
    Ok(out)
}

/// System roots that webpki can use (unparsable entries of the system store are skipped).
fn rustls_native_certs_load() -> Vec<Vec<u8>> {
    let certs = match pingora::tls::load_native_certs() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the system root store; only upstream.ca_files will be trusted");
            return Vec::new();
        }
    };
    let mut store = rustls::RootCertStore::empty();
    certs
        .into_iter()
        .filter(|c| store.add(c.clone()).is_ok())
        .map(|c| c.as_ref().to_vec())
        .collect()
}

/// Split an authority `host[:port]` (bracketed IPv6 allowed) into the bare host and its port.
pub fn parse_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let auth: http::uri::Authority = authority.parse().ok()?;
    let host = auth
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    (!host.is_empty()).then(|| (host, auth.port_u16()))
}

/// Addresses of one host kept at most (the resolver's first ones).
const MAX_ADDRESSES: usize = 8;

/// Resolve `host:port` to its addresses, in the resolver's order, without repeats, at least
/// one; bounded in time.
pub async fn resolve(host: &str, port: u16, deadline: Duration) -> Result<Vec<SocketAddr>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    match tokio::time::timeout(deadline, tokio::net::lookup_host((bare, port))).await {
        Err(_) => Err(format!("resolving {host} timed out after {deadline:?}")),
        Ok(Err(e)) => Err(format!("cannot resolve {host}: {e}")),
        Ok(Ok(found)) => {
            let mut addrs: Vec<SocketAddr> = Vec::new();
            for a in found {
                if !addrs.contains(&a) && addrs.len() < MAX_ADDRESSES {
                    addrs.push(a);
                }
            }
            if addrs.is_empty() {
                return Err(format!("{host} resolved to no address"));
            }
            Ok(addrs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_includes_extra_ca_and_rejects_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let ca = crate::ca::CertificateAuthority::init(
            &crate::ca::CaPaths::in_data_dir(&dir.path().join("x")),
            false,
        )
        .unwrap();
        let ca_file = dir.path().join("extra.pem");
        fs::write(&ca_file, ca.chain_pem()).unwrap();
        let bundle = build_root_bundle(dir.path(), &[ca_file]).unwrap();
        let text = fs::read_to_string(bundle).unwrap();
        assert!(text.contains(ca.chain_pem().lines().nth(1).unwrap()));

        let junk = dir.path().join("junk.pem");
        fs::write(&junk, "hello").unwrap();
        let err = build_root_bundle(dir.path(), &[junk])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("upstream.ca_files") && err.contains("junk.pem"),
            "{err}"
        );
        let err = build_root_bundle(dir.path(), &[dir.path().join("missing.pem")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.pem"), "{err}");
    }

    #[test]
    fn authorities() {
        assert_eq!(
            parse_authority("api.test:443"),
            Some(("api.test".into(), Some(443)))
        );
        assert_eq!(
            parse_authority("[::1]:8443"),
            Some(("::1".into(), Some(8443)))
        );
        assert_eq!(parse_authority("api.test"), Some(("api.test".into(), None)));
        assert_eq!(parse_authority("a b:1"), None);
    }

    #[tokio::test]
    async fn resolves_literals_without_dns() {
        assert_eq!(
            resolve("127.0.0.1", 8443, Duration::from_secs(1))
                .await
                .unwrap(),
            vec!["127.0.0.1:8443".parse().unwrap()]
        );
        assert_eq!(
            resolve("[::1]", 443, Duration::from_secs(1)).await.unwrap(),
            vec!["[::1]:443".parse().unwrap()]
        );
        // A name keeps every address it has, each once.
        let local = resolve("localhost", 80, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(
            local.contains(&"127.0.0.1:80".parse().unwrap()),
            "{local:?}"
        );
        let mut unique = local.clone();
        unique.dedup();
        assert_eq!(unique.len(), local.len());
        assert!(resolve("no-such-host.invalid", 443, Duration::from_secs(5))
            .await
            .is_err());
    }
}
