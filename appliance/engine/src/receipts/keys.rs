//! Receipt signing keys in `<data_dir>/keys/`: one Ed25519 key is current; rotated keys stay in
//! `public-keys.json` so that old receipts keep verifying.
//!
//! Files: `<key_id>.key` (the 32-byte seed, hex, mode 0600), `current` (the current key id),
//! `public-keys.json` (every key ever used: `[{key_id, algorithm, public_key, created}]`, the
//! public key in standard base64). Private keys never leave the directory.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot read randomness for a new key: {0}")]
    Random(String),
}

/// One entry of `public-keys.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyEntry {
    pub key_id: String,
    pub algorithm: String,
    pub public_key: String,
    pub created: String,
    /// The cluster replica that signs with this key (`[cluster]`); absent on a single box.
    /// A merged export is verified chain by chain, one chain per replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
}

/// The current signing key and every public key ever used.
pub struct KeyRing {
    pub key_id: String,
    pub signing: SigningKey,
    pub public: Vec<PublicKeyEntry>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("key_id", &self.key_id)
            .field("public", &self.public.len())
            .finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn today() -> String {
    // Seconds are enough for a key's creation time.
    let t = aarmor_core::timestamp::now_rfc3339_millis();
    format!("{}Z", &t[..19])
}

/// Adds `entries` to `into`, once each. `Err` names a key id `into` already lists with another
/// public key or replica: one of the two sources is not what it claims, and neither may be used.
pub fn merge_public_keys(
    into: &mut Vec<PublicKeyEntry>,
    entries: Vec<PublicKeyEntry>,
) -> Result<(), String> {
    for e in entries {
        match into.iter().find(|o| o.key_id == e.key_id) {
            Some(o) if o.public_key != e.public_key || o.replica != e.replica => {
                return Err(e.key_id);
            }
            Some(_) => {}
            None => into.push(e),
        }
    }
    Ok(())
}

/// Parses `public-keys.json` content into a verification map.
/// Public keys by key id: what verification looks a receipt's `key_id` up in.
pub type VerifyingKeys = HashMap<String, VerifyingKey>;

pub fn verifying_keys(entries: &[PublicKeyEntry]) -> Result<VerifyingKeys, String> {
    let mut map = HashMap::new();
    for e in entries {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&e.public_key)
            .map_err(|err| format!("key {}: {err}", e.key_id))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("key {}: not 32 bytes", e.key_id))?;
        let key =
            VerifyingKey::from_bytes(&bytes).map_err(|err| format!("key {}: {err}", e.key_id))?;
        map.insert(e.key_id.clone(), key);
    }
    Ok(map)
}

impl KeyRing {
    /// Where the signing keys live: `<data_dir>/keys`.
    pub fn dir(data_dir: &Path) -> PathBuf {
        data_dir.join("keys")
    }

    pub fn public_keys_path(data_dir: &Path) -> PathBuf {
        Self::dir(data_dir).join("public-keys.json")
    }

    /// Loads the key ring, creating a first key when there is none.
    pub fn load_or_create(data_dir: &Path) -> Result<(Self, bool), KeyError> {
        Self::load_or_create_named(data_dir, None)
    }

    pub fn load(data_dir: &Path) -> Result<Self, KeyError> {
        let dir = Self::dir(data_dir);
        let current = dir.join("current");
        let key_id = std::fs::read_to_string(&current)
            .map_err(io(&current))?
            .trim()
            .to_string();
        let key_path = dir.join(format!("{key_id}.key"));
        let seed_hex = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
        let seed = decode_hex(seed_hex.trim()).ok_or_else(|| KeyError::Invalid {
            path: key_path.clone(),
            message: "not a 32-byte hex seed".into(),
        })?;
        let signing = SigningKey::from_bytes(&seed);
        let pub_path = Self::public_keys_path(data_dir);
        let text = std::fs::read_to_string(&pub_path).map_err(io(&pub_path))?;
        let public: Vec<PublicKeyEntry> =
            serde_json::from_str(&text).map_err(|e| KeyError::Invalid {
                path: pub_path.clone(),
                message: e.to_string(),
            })?;
        let ring = Self {
            key_id,
            signing,
            public,
        };
        let known = verifying_keys(&ring.public).map_err(|message| KeyError::Invalid {
            path: pub_path.clone(),
            message,
        })?;
        if known.get(&ring.key_id) != Some(&ring.signing.verifying_key()) {
            return Err(KeyError::Invalid {
                path: pub_path,
                message: format!(
                    "the current key {} is missing or different in public-keys.json",
                    ring.key_id
                ),
            });
        }
        Ok(ring)
    }

    /// [`Self::load_or_create`] for a cluster replica: its current key must name it (key id
    /// `aarmor-<replica>-<date>-<fingerprint>`); a key that does not (the box joined a cluster,
    /// or was renamed) is rotated, and the earlier keys stay for the receipts they signed.
    pub fn load_or_create_for(data_dir: &Path, replica: &str) -> Result<(Self, bool), KeyError> {
        let (ring, created) = Self::load_or_create_named(data_dir, Some(replica))?;
        if ring.replica_of_current() == Some(replica) {
            return Ok((ring, created));
        }
        // The keys this box signed with before it joined belong to its chain, which goes on
        // as this replica's: they are assigned to it, so a merged export keeps one chain.
        if ring.public.iter().any(|e| e.replica.is_none()) {
            let mut public = ring.public.clone();
            for e in public.iter_mut().filter(|e| e.replica.is_none()) {
                e.replica = Some(replica.to_string());
            }
            write_atomically(
                &Self::public_keys_path(data_dir),
                serde_json::to_string_pretty(&public)
                    .unwrap_or_default()
                    .as_bytes(),
            )?;
        }
        Self::rotate_named(data_dir, Some(replica)).map(|k| (k, true))
    }

    fn load_or_create_named(
        data_dir: &Path,
        replica: Option<&str>,
    ) -> Result<(Self, bool), KeyError> {
        let current = Self::dir(data_dir).join("current");
        if current.exists() {
            return Ok((Self::load(data_dir)?, false));
        }
        Self::rotate_named(data_dir, replica).map(|k| (k, true))
    }

    /// The replica the current key belongs to, if it is a replica's.
    pub fn replica_of_current(&self) -> Option<&str> {
        self.public
            .iter()
            .find(|e| e.key_id == self.key_id)
            .and_then(|e| e.replica.as_deref())
    }

    /// Creates a new current key; earlier public keys are kept. A replica's key keeps naming it.
    pub fn rotate(data_dir: &Path) -> Result<Self, KeyError> {
        let replica = Self::load(data_dir)
            .ok()
            .and_then(|r| r.replica_of_current().map(str::to_string));
        Self::rotate_named(data_dir, replica.as_deref())
    }

    fn rotate_named(data_dir: &Path, replica: Option<&str>) -> Result<Self, KeyError> {
        let dir = Self::dir(data_dir);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let signing = SigningKey::from_bytes(&seed);
        let public_bytes = signing.verifying_key().to_bytes();
        let fingerprint = aarmor_core::receipt::sha256_tagged(&public_bytes);
        let date = today();
        let key_id = format!(
            "aarmor-{}{}-{}",
            replica.map(|r| format!("{r}-")).unwrap_or_default(),
            &date[..10].replace('-', ""),
            &fingerprint[7..15]
        );
        let key_path = dir.join(format!("{key_id}.key"));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_path)
            .map_err(io(&key_path))?;
        f.write_all(hex::encode(seed).as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(io(&key_path))?;
        let pub_path = Self::public_keys_path(data_dir);
        let mut public: Vec<PublicKeyEntry> = match std::fs::read_to_string(&pub_path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| KeyError::Invalid {
                path: pub_path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(&pub_path)(e)),
        };
        public.push(PublicKeyEntry {
            key_id: key_id.clone(),
            algorithm: "Ed25519".into(),
            public_key: base64::engine::general_purpose::STANDARD.encode(public_bytes),
            created: date,
            replica: replica.map(str::to_string),
        });
        write_atomically(
            &pub_path,
            serde_json::to_string_pretty(&public)
                .unwrap_or_default()
                .as_bytes(),
        )?;
        write_atomically(&dir.join("current"), key_id.as_bytes())?;
        Ok(Self {
            key_id,
            signing,
            public,
        })
    }

    pub fn verifying_keys(&self) -> HashMap<String, VerifyingKey> {
        verifying_keys(&self.public).unwrap_or_default()
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// A 32-byte seed from its 64 hex digits.
fn decode_hex(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_load_and_rotate_keep_old_public_keys() {
        let dir = tempfile::tempdir().unwrap();
        let (first, created) = KeyRing::load_or_create(dir.path()).unwrap();
        assert!(created);
        let mode = std::fs::metadata(
            dir.path()
                .join("keys")
                .join(format!("{}.key", first.key_id)),
        )
        .unwrap()
        .permissions()
        .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, created) = KeyRing::load_or_create(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(again.key_id, first.key_id);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let second = KeyRing::rotate(dir.path()).unwrap();
        assert_ne!(second.key_id, first.key_id);
        let loaded = KeyRing::load(dir.path()).unwrap();
        assert_eq!(loaded.key_id, second.key_id);
        let keys = loaded.verifying_keys();
        assert!(keys.contains_key(&first.key_id) && keys.contains_key(&second.key_id));
    }
}
