//! The interception CA: creating, importing, loading and exporting the certificate authority
//! whose leaves aarmor presents to agents.
//!
//! Layout under `<data_dir>/certs/`:
//! - `ca.pem`: the signing certificate first, then (for an imported intermediate) the rest of
//!   its chain up to, optionally, the enterprise root. Public; install it on agent hosts.
//! - `ca.key`: the signing key (PKCS#8 PEM), mode 0600. Never leaves the appliance.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

/// Common name of CAs created by `aarmor ca init`.
pub const CA_COMMON_NAME: &str = "aarmor interception CA";

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a CA already exists at {0}; pass --force to replace it (agents trusting the old one will stop trusting aarmor)")]
    AlreadyExists(PathBuf),
    #[error("no CA at {0}; run `aarmor ca init` or `aarmor ca import`")]
    Missing(PathBuf),
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Paths of the CA material inside a data dir.
#[derive(Debug, Clone)]
pub struct CaPaths {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CaPaths {
    pub fn in_data_dir(data_dir: &Path) -> Self {
        let dir = data_dir.join("certs");
        Self {
            cert: dir.join("ca.pem"),
            key: dir.join("ca.key"),
            dir,
        }
    }

    pub fn exists(&self) -> bool {
        self.cert.exists() || self.key.exists()
    }
}

/// A loaded CA, ready to sign leaves.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    /// The signing certificate followed by its chain, as sent to clients after each leaf.
    chain: Vec<CertificateDer<'static>>,
    chain_pem: String,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("chain_len", &self.chain.len())
            .finish()
    }
}

impl CertificateAuthority {
    pub fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// Signing certificate plus its chain (DER), as sent after a leaf.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// `ca.pem` as stored.
    pub fn chain_pem(&self) -> &str {
        &self.chain_pem
    }

    /// The signing certificate alone, DER.
    pub fn cert_der(&self) -> &[u8] {
        self.chain[0].as_ref()
    }

    /// When the signing certificate stops being valid, Unix seconds.
    pub fn not_after(&self) -> Option<i64> {
        x509_parser::parse_x509_certificate(self.cert_der())
            .ok()
            .map(|(_, c)| c.validity().not_after.timestamp())
    }

    /// Load `ca.pem` and `ca.key`; checks that the key matches the certificate.
    pub fn load(paths: &CaPaths) -> Result<Self, CaError> {
        if !paths.cert.exists() || !paths.key.exists() {
            return Err(CaError::Missing(paths.dir.clone()));
        }
        let cert_pem = fs::read_to_string(&paths.cert).map_err(io_err(&paths.cert))?;
        let key_pem = fs::read_to_string(&paths.key).map_err(io_err(&paths.key))?;
        Self::from_pem(&cert_pem, &key_pem, &paths.cert, &paths.key)
    }

    fn from_pem(
        cert_pem: &str,
        key_pem: &str,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<Self, CaError> {
        let invalid = |path: &Path, reason: String| CaError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(cert_path, format!("not a PEM certificate file: {e}")))?;
        if chain.is_empty() {
            return Err(invalid(cert_path, "no certificate found".into()));
        }
        let key = KeyPair::from_pem(key_pem).map_err(|e| {
            invalid(
                key_path,
                format!(
                    "not a supported PEM private key (ECDSA P-256/P-384, Ed25519, RSA PKCS#8): {e}"
                ),
            )
        })?;
        let issuer = Issuer::from_ca_cert_der(&chain[0], key)
            .map_err(|e| invalid(cert_path, format!("cannot use as a CA certificate: {e}")))?;
        if !spki_matches(&chain[0], issuer.key()) {
            return Err(invalid(
                key_path,
                format!(
                    "private key does not match the certificate in {}",
                    cert_path.display()
                ),
            ));
        }
        Ok(Self {
            issuer,
            chain,
            chain_pem: cert_pem.to_string(),
        })
    }

    /// Create a new root CA (ECDSA P-256, 10 years) and store it. Refuses to overwrite unless `force`.
    pub fn init(paths: &CaPaths, force: bool) -> Result<Self, CaError> {
        if paths.exists() && !force {
            return Err(CaError::AlreadyExists(paths.dir.clone()));
        }
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, CA_COMMON_NAME);
        dn.push(DnType::OrganizationName, "aarmor");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(3650);
        params.serial_number = Some(random_serial());
        let cert = params.self_signed(&key)?;
        let cert_pem = cert.pem();
        let key_pem = key.serialize_pem();
        write_material(paths, &cert_pem, &key_pem)?;
        Self::from_pem(&cert_pem, &key_pem, &paths.cert, &paths.key)
    }

    /// Import an enterprise-issued intermediate: `cert_file` holds the intermediate first, then
    /// optionally its chain; `key_file` its private key. Validated before anything is written.
    pub fn import(
        paths: &CaPaths,
        cert_file: &Path,
        key_file: &Path,
        force: bool,
    ) -> Result<Self, CaError> {
        if paths.exists() && !force {
            return Err(CaError::AlreadyExists(paths.dir.clone()));
        }
        let cert_pem = fs::read_to_string(cert_file).map_err(io_err(cert_file))?;
        let key_pem = fs::read_to_string(key_file).map_err(io_err(key_file))?;
        let ca = Self::from_pem(&cert_pem, &key_pem, cert_file, key_file)?;
        if !is_ca_certificate(&ca.chain[0]) {
            return Err(CaError::Invalid {
                path: cert_file.to_path_buf(),
                reason: "the first certificate is not a CA (basicConstraints CA:TRUE is required)"
                    .into(),
            });
        }
        write_material(paths, &cert_pem, &key_pem)?;
        Ok(ca)
    }

    /// Load the CA, creating one first if none exists. Returns whether it was created.
    pub fn load_or_init(paths: &CaPaths) -> Result<(Self, bool), CaError> {
        if paths.cert.exists() && paths.key.exists() {
            Ok((Self::load(paths)?, false))
        } else if paths.exists() {
            Err(CaError::Invalid {
                path: paths.dir.clone(),
                reason: "only one of ca.pem / ca.key exists; restore the missing file or re-create with `aarmor ca init --force`".into(),
            })
        } else {
            Ok((Self::init(paths, false)?, true))
        }
    }
}

/// A random positive 16-byte serial (RFC 5280 allows up to 20 octets).
pub fn random_serial() -> SerialNumber {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    // SystemRandom only fails if the OS RNG is unavailable; a time-based serial is still unique.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        let nanos = OffsetDateTime::now_utc()
            .unix_timestamp_nanos()
            .to_be_bytes();
        bytes.copy_from_slice(&nanos);
    }
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

fn spki_matches(cert: &CertificateDer<'_>, key: &KeyPair) -> bool {
    use rcgen::PublicKeyData;
    match x509_parser::parse_x509_certificate(cert.as_ref()) {
        Ok((_, x509)) => x509.public_key().subject_public_key.data.as_ref() == key.der_bytes(),
        Err(_) => false,
    }
}

fn is_ca_certificate(cert: &CertificateDer<'_>) -> bool {
    match x509_parser::parse_x509_certificate(cert.as_ref()) {
        Ok((_, x509)) => x509.is_ca(),
        Err(_) => false,
    }
}

fn write_material(paths: &CaPaths, cert_pem: &str, key_pem: &str) -> Result<(), CaError> {
    fs::create_dir_all(&paths.dir).map_err(io_err(&paths.dir))?;
    // Write the key through a temp file created 0600 from the start, then rename into place.
    let tmp_key = paths.dir.join(".ca.key.tmp");
    let _ = fs::remove_file(&tmp_key);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp_key)
        .map_err(io_err(&tmp_key))?;
    f.write_all(key_pem.as_bytes()).map_err(io_err(&tmp_key))?;
    f.sync_all().map_err(io_err(&tmp_key))?;
    fs::set_permissions(&tmp_key, fs::Permissions::from_mode(0o600)).map_err(io_err(&tmp_key))?;
    let tmp_cert = paths.dir.join(".ca.pem.tmp");
    fs::write(&tmp_cert, cert_pem).map_err(io_err(&tmp_cert))?;
    fs::rename(&tmp_key, &paths.key).map_err(io_err(&paths.key))?;
    fs::rename(&tmp_cert, &paths.cert).map_err(io_err(&paths.cert))?;
    Ok(())
}

/// Commands that install `ca.pem` into the trust store of an OS family.
pub fn install_script(os: &str, pem_path: &Path) -> Option<String> {
    let p = pem_path.display();
    let script = match os {
        "debian" => format!(
            "#!/bin/sh\n# Debian / Ubuntu: trust the aarmor CA system-wide\nset -e\ninstall -m 0644 '{p}' /usr/local/share/ca-certificates/aarmor-ca.crt\nupdate-ca-certificates\n"
        ),
        "rhel" => format!(
            "#!/bin/sh\n# RHEL / Fedora / Rocky / Alma: trust the aarmor CA system-wide\nset -e\ninstall -m 0644 '{p}' /etc/pki/ca-trust/source/anchors/aarmor-ca.pem\nupdate-ca-trust extract\n"
        ),
        "macos" => format!(
            "#!/bin/sh\n# macOS: trust the aarmor CA in the System keychain (needs admin rights)\nset -e\nsudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain '{p}'\n"
        ),
        _ => return None,
    };
    Some(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_p256_root_with_private_key_0600_and_refuses_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let paths = CaPaths::in_data_dir(dir.path());
        let ca = CertificateAuthority::init(&paths, false).unwrap();
        let mode = fs::metadata(&paths.key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (_, x509) = x509_parser::parse_x509_certificate(ca.cert_der()).unwrap();
        assert!(x509.is_ca());
        assert!(x509.subject().to_string().contains(CA_COMMON_NAME));
        assert_eq!(
            x509.public_key()
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string()),
            Some("1.2.840.10045.3.1.7".to_string()),
            "curve must be P-256"
        );
        let before = fs::read(&paths.cert).unwrap();
        assert!(matches!(
            CertificateAuthority::init(&paths, false),
            Err(CaError::AlreadyExists(_))
        ));
        assert_eq!(
            fs::read(&paths.cert).unwrap(),
            before,
            "refused init must not touch the CA"
        );
        CertificateAuthority::init(&paths, true).unwrap();
        assert_ne!(fs::read(&paths.cert).unwrap(), before);
        CertificateAuthority::load(&paths).unwrap();
    }

    #[test]
    fn load_detects_mismatched_key() {
        let dir = tempfile::tempdir().unwrap();
        let a = CaPaths::in_data_dir(&dir.path().join("a"));
        let b = CaPaths::in_data_dir(&dir.path().join("b"));
        CertificateAuthority::init(&a, false).unwrap();
        CertificateAuthority::init(&b, false).unwrap();
        fs::copy(&b.key, &a.key).unwrap();
        let err = CertificateAuthority::load(&a).unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
    }

    #[test]
    fn import_accepts_an_intermediate_and_rejects_a_leaf() {
        let dir = tempfile::tempdir().unwrap();
        // An enterprise root, and an intermediate signed by it.
        let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut root_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root_params
            .distinguished_name
            .push(DnType::CommonName, "Example Corp Root");
        let root_cert = root_params.self_signed(&root_key).unwrap();
        let root_issuer = Issuer::new(root_params, root_key);
        let int_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut int_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        int_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        int_params
            .distinguished_name
            .push(DnType::CommonName, "Example Corp aarmor intermediate");
        let int_cert = int_params.signed_by(&int_key, &root_issuer).unwrap();
        let chain = dir.path().join("chain.pem");
        fs::write(&chain, format!("{}{}", int_cert.pem(), root_cert.pem())).unwrap();
        let key = dir.path().join("int.key");
        fs::write(&key, int_key.serialize_pem()).unwrap();

        let paths = CaPaths::in_data_dir(&dir.path().join("data"));
        let ca = CertificateAuthority::import(&paths, &chain, &key, false).unwrap();
        assert_eq!(ca.chain().len(), 2);
        assert_eq!(
            fs::metadata(&paths.key).unwrap().permissions().mode() & 0o777,
            0o600
        );

        // A non-CA certificate is refused.
        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let leaf = CertificateParams::new(vec!["x.test".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &root_issuer)
            .unwrap();
        let leaf_path = dir.path().join("leaf.pem");
        fs::write(&leaf_path, leaf.pem()).unwrap();
        let leaf_key_path = dir.path().join("leaf.key");
        fs::write(&leaf_key_path, leaf_key.serialize_pem()).unwrap();
        let other = CaPaths::in_data_dir(&dir.path().join("other"));
        let err = CertificateAuthority::import(&other, &leaf_path, &leaf_key_path, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a CA"), "{err}");
        assert!(!other.exists());
    }

    #[test]
    fn install_scripts_cover_three_families() {
        let p = Path::new("/x/ca.pem");
        assert!(install_script("debian", p)
            .unwrap()
            .contains("update-ca-certificates"));
        assert!(install_script("rhel", p)
            .unwrap()
            .contains("update-ca-trust"));
        assert!(install_script("macos", p)
            .unwrap()
            .contains("add-trusted-cert"));
        assert!(install_script("windows", p).is_none());
    }
}
