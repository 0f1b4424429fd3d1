//! TLS client configuration for the engine's own outbound connections (syslog collectors,
//! approval webhooks): the roots of a given PEM CA file, else the public web PKI roots.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a TLS client configuration cannot be built; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("ca_file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A PEM block that is not a certificate rustls accepts.
    #[error("ca_file {}: {message}", path.display())]
    Certificate { path: PathBuf, message: String },
    #[error("ca_file {}: no PEM certificate in it", .0.display())]
    NoCertificate(PathBuf),
    #[error("TLS client configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A rustls client config (ring provider) trusting `ca_file`, or the web PKI roots without one.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|source| TlsSetupError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let bad = |message: String| TlsSetupError::Certificate {
                path: path.to_path_buf(),
                message,
            };
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| bad(e.to_string()))?;
                roots.add(cert).map_err(|e| bad(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(TlsSetupError::NoCertificate(path.to_path_buf()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
