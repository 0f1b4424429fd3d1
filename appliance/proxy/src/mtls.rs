//! Optional client certificates on intercepted TLS (mTLS to aarmor): a client may present a
//! certificate signed by the configured client CA; aarmor verifies it in the handshake and
//! records its names (SPIFFE URI SANs, DNS SANs, common name) as a connection fact for identity
//! binding. A certificate that does not verify fails the handshake; no certificate at all is
//! accepted unless `require_client_cert` is set (identity then comes from other sources).

use std::path::Path;
use std::sync::{Arc, Mutex};

use aarmor_core::ClientCertificate;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// Builds the verifier for `client_ca_file`.
pub fn client_verifier(
    ca_file: &Path,
    required: bool,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let pem = std::fs::read(ca_file)
        .map_err(|e| format!("proxy.client_ca_file {}: {e}", ca_file.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    let mut count = 0;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| format!("proxy.client_ca_file {}: {e}", ca_file.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("proxy.client_ca_file {}: {e}", ca_file.display()))?;
        count += 1;
    }
    if count == 0 {
        return Err(format!(
            "proxy.client_ca_file {}: no PEM certificate in it",
            ca_file.display()
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = if required {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder
        .build()
        .map_err(|e| format!("proxy.client_ca_file {}: {e}", ca_file.display()))
}

/// A per-connection server config like `template`, asking for client certificates. Sessions
/// are never resumed: a resumed handshake carries no certificate to bind the agent to.
pub fn with_client_auth(
    template: &rustls::ServerConfig,
    verifier: Arc<dyn ClientCertVerifier>,
    resolver: Arc<dyn rustls::server::ResolvesServerCert>,
) -> Result<rustls::ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(resolver);
    config.alpn_protocols = template.alpn_protocols.clone();
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// Wraps the verifier of one connection and keeps the end-entity certificate it verified.
#[derive(Debug)]
pub struct CapturingVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    seen: Arc<Mutex<Option<CertificateDer<'static>>>>,
}

impl CapturingVerifier {
    pub fn new(inner: Arc<dyn ClientCertVerifier>) -> Self {
        Self {
            inner,
            seen: Arc::new(Mutex::new(None)),
        }
    }

    /// Where the verified certificate lands, to read after the handshake.
    pub fn slot(&self) -> Arc<Mutex<Option<CertificateDer<'static>>>> {
        self.seen.clone()
    }
}

impl ClientCertVerifier for CapturingVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if let Ok(mut slot) = self.seen.lock() {
            *slot = Some(end_entity.clone().into_owned());
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The names identity binding uses, from a verified DER certificate.
pub fn describe(der: &[u8]) -> Option<ClientCertificate> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut out = ClientCertificate {
        fingerprint: fingerprint(der),
        not_after: cert.validity().not_after.timestamp(),
        common_name: cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string),
        ..ClientCertificate::default()
    };
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::URI(u) => out.uri_sans.push(u.to_string()),
                x509_parser::extensions::GeneralName::DNSName(d) => {
                    out.dns_sans.push(d.to_string())
                }
                _ => {}
            }
        }
    }
    Some(out)
}

/// sha256 of `der`, hex.
fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    hex::encode(digest.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_spiffe_and_dns_names() {
        let mut params = rcgen::CertificateParams::new(vec!["agent.internal".into()]).unwrap();
        params.subject_alt_names.push(rcgen::SanType::URI(
            rcgen::string::Ia5String::try_from("spiffe://corp.example/agents/billing").unwrap(),
        ));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "billing-agent");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let d = describe(cert.der()).unwrap();
        assert_eq!(d.uri_sans, vec!["spiffe://corp.example/agents/billing"]);
        assert_eq!(d.dns_sans, vec!["agent.internal"]);
        assert_eq!(d.common_name.as_deref(), Some("billing-agent"));
        assert_eq!(d.fingerprint.len(), 64);
        assert!(d.not_after > 0);
    }

    #[test]
    fn a_ca_file_without_certificates_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a pem").unwrap();
        let err = client_verifier(&path, false).unwrap_err();
        assert!(
            err.contains("client_ca_file") && err.contains("no PEM"),
            "{err}"
        );
    }
}
