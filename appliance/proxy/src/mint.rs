//! Minting leaf certificates on the fly, one per server name, from a bounded cache.
//!
//! All leaves share one ECDSA P-256 key generated at start-up (minting is then one signature,
//! ~25 µs); each leaf gets a random serial, SAN = the DNS name or IP, EKU serverAuth, and is
//! valid from one hour ago for 30 days. A cached leaf is re-minted once it is older than
//! [`REMINT_AFTER`], so a long-running appliance never serves an expired one.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use time::{Duration, OffsetDateTime};

use crate::ca::{random_serial, CertificateAuthority};

/// Leaf validity.
pub const LEAF_VALIDITY_DAYS: i64 = 30;
/// Age after which a cached leaf is minted again.
pub const REMINT_AFTER: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("invalid server name {0:?}")]
    InvalidName(String),
    #[error("signing the leaf failed: {0}")]
    Sign(#[from] rcgen::Error),
    #[error("leaf key unusable by rustls: {0}")]
    Key(String),
}

struct CachedLeaf {
    key: Arc<CertifiedKey>,
    minted_at: Instant,
}

/// Mints and caches leaves signed by the interception CA.
pub struct LeafMinter {
    ca: CertificateAuthority,
    leaf_key: KeyPair,
    signing_key: Arc<dyn rustls::sign::SigningKey>,
    cache: Mutex<lru::LruCache<String, CachedLeaf>>,
    on_mint: Box<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for LeafMinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeafMinter").finish_non_exhaustive()
    }
}

impl LeafMinter {
    /// `capacity` bounds the number of cached leaves; `on_mint` is called once per new leaf.
    pub fn new(
        ca: CertificateAuthority,
        capacity: usize,
        on_mint: Box<dyn Fn() + Send + Sync>,
    ) -> Result<Self, MintError> {
        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let signing_key = rustls::crypto::ring::sign::any_ecdsa_type(&der)
            .map_err(|e| MintError::Key(e.to_string()))?;
        let capacity = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Ok(Self {
            ca,
            leaf_key,
            signing_key,
            cache: Mutex::new(lru::LruCache::new(capacity)),
            on_mint,
        })
    }

    pub fn ca(&self) -> &CertificateAuthority {
        &self.ca
    }

    /// The certified key for `name` (a DNS name or IP literal), from cache or freshly minted.
    pub fn leaf_for(&self, name: &str) -> Result<Arc<CertifiedKey>, MintError> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Ok(mut cache) = self.cache.lock() {
            if let Some(hit) = cache.get(&name) {
                if hit.minted_at.elapsed() < REMINT_AFTER {
                    return Ok(hit.key.clone());
                }
            }
        }
        let key = Arc::new(self.mint(&name)?);
        if let Ok(mut cache) = self.cache.lock() {
            cache.put(
                name,
                CachedLeaf {
                    key: key.clone(),
                    minted_at: Instant::now(),
                },
            );
        }
        (self.on_mint)();
        Ok(key)
    }

    fn mint(&self, name: &str) -> Result<CertifiedKey, MintError> {
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => {
                if name.is_empty()
                    || name.len() > 253
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._*".contains(&b))
                {
                    return Err(MintError::InvalidName(name.to_string()));
                }
                SanType::DnsName(
                    name.to_string()
                        .try_into()
                        .map_err(|_| MintError::InvalidName(name.to_string()))?,
                )
            }
        };
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.subject_alt_names = vec![san];
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(LEAF_VALIDITY_DAYS);
        params.serial_number = Some(random_serial());
        let cert = params.signed_by(&self.leaf_key, self.ca.issuer())?;
        let mut chain = Vec::with_capacity(1 + self.ca.chain().len());
        chain.push(cert.der().clone());
        chain.extend(self.ca.chain().iter().cloned());
        Ok(CertifiedKey::new(chain, self.signing_key.clone()))
    }
}

/// Per-connection certificate resolver: the client's SNI if it sent one, else the name the
/// front end already knows (CONNECT authority or original destination IP).
#[derive(Debug)]
pub struct ConnectionResolver {
    pub minter: Arc<LeafMinter>,
    pub fallback_name: Option<String>,
}

impl ResolvesServerCert for ConnectionResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = client_hello
            .server_name()
            .map(str::to_string)
            .or_else(|| self.fallback_name.clone())?;
        match self.minter.leaf_for(&name) {
            Ok(key) => Some(key),
            Err(e) => {
                tracing::warn!(name = %name, error = %e, "cannot mint a leaf certificate");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::ca::CaPaths;

    fn minter(capacity: usize) -> (tempfile::TempDir, Arc<LeafMinter>, Arc<AtomicUsize>) {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::init(&CaPaths::in_data_dir(dir.path()), false).unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let m = LeafMinter::new(
            ca,
            capacity,
            Box::new(move || {
                c.fetch_add(1, Ordering::Relaxed);
            }),
        )
        .unwrap();
        (dir, Arc::new(m), count)
    }

    #[test]
    fn leaf_has_san_validity_and_chain() {
        let (_d, m, _) = minter(8);
        let key = m.leaf_for("api.example.test").unwrap();
        assert_eq!(key.cert.len(), 2, "leaf + CA");
        let (_, leaf) = x509_parser::parse_x509_certificate(key.cert[0].as_ref()).unwrap();
        let san = leaf.subject_alternative_name().unwrap().unwrap();
        assert!(format!("{:?}", san.value.general_names).contains("api.example.test"));
        let days = (leaf.validity().not_after.timestamp() - leaf.validity().not_before.timestamp())
            / 86400;
        assert_eq!(days, 30, "valid 30 days (plus the one-hour backdate)");
        assert!(!leaf.is_ca());
        let (_, ca) = x509_parser::parse_x509_certificate(m.ca().cert_der()).unwrap();
        assert_eq!(leaf.issuer(), ca.subject());
        leaf.verify_signature(Some(ca.public_key())).unwrap();
    }

    #[test]
    fn ip_names_get_ip_sans_and_serials_differ() {
        let (_d, m, _) = minter(8);
        let a = m.leaf_for("127.0.0.1").unwrap();
        let b = m.leaf_for("::1").unwrap();
        let (_, la) = x509_parser::parse_x509_certificate(a.cert[0].as_ref()).unwrap();
        let (_, lb) = x509_parser::parse_x509_certificate(b.cert[0].as_ref()).unwrap();
        assert!(format!(
            "{:?}",
            la.subject_alternative_name()
                .unwrap()
                .unwrap()
                .value
                .general_names
        )
        .contains("IPAddress"));
        assert_ne!(la.serial, lb.serial);
    }

    #[test]
    fn cache_is_bounded_and_hits_do_not_mint() {
        let (_d, m, count) = minter(2);
        m.leaf_for("a.test").unwrap();
        m.leaf_for("A.test.").unwrap();
        assert_eq!(
            count.load(Ordering::Relaxed),
            1,
            "normalized name hits the cache"
        );
        m.leaf_for("b.test").unwrap();
        m.leaf_for("c.test").unwrap();
        assert_eq!(m.cache.lock().unwrap().len(), 2);
        m.leaf_for("a.test").unwrap();
        assert_eq!(
            count.load(Ordering::Relaxed),
            4,
            "evicted entry is minted again"
        );
    }

    #[test]
    fn rejects_garbage_names() {
        let (_d, m, _) = minter(2);
        assert!(m.leaf_for("bad name\n").is_err());
        assert!(m.leaf_for("").is_err());
    }
}
