//! The receipt store: one LMDB environment under `<data_dir>/receipts/`. This module is the only
//! place that knows the LMDB binding.
//!
//! Databases: `chain` (big-endian `seq` → canonical receipt JSON), `ids` (`receipt_id` → `seq`),
//! `meta` (`head` → `seq` and chain hash of the last receipt).

use std::path::{Path, PathBuf};

use aarmor_core::Receipt;
use lmdb::{Cursor, Database, DatabaseFlags, Environment, Transaction, WriteFlags};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("receipt store {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("receipt store: {0}")]
    Lmdb(#[from] lmdb::Error),
    #[error("receipt store: corrupt record: {0}")]
    Corrupt(String),
    /// The writer refuses the receipt: the action it is for is denied (fail closed).
    #[error("receipt store unavailable: {0}")]
    Refused(#[from] WriteRefusal),
    #[error("receipt cannot be signed: {0}")]
    Sign(#[from] aarmor_core::receipt::ReceiptError),
    #[error("cannot start the receipt writer thread {name}: {source}")]
    Spawn {
        name: String,
        source: std::io::Error,
    },
    #[error("receipt journal: {0}")]
    Journal(std::io::Error),
}

/// Why the writer refuses a receipt. Once it has refused one for a failure, it refuses all.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteRefusal {
    #[error("an earlier commit failed")]
    EarlierFailure,
    #[error("the journal write failed: {0}")]
    JournalWrite(std::sync::Arc<std::io::Error>),
    #[error("the receipt journal lock is poisoned")]
    JournalPoisoned,
    #[error("the receipt signer failed")]
    SignerPoisoned,
    #[error("the receipt journal thread stopped")]
    JournalThreadStopped,
    #[error("the receipt committer is not keeping up or stopped")]
    CommitterBehind,
    #[error("the receipt committer stopped")]
    CommitterStopped,
}

/// The chain's last committed position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

pub struct ReceiptStore {
    path: PathBuf,
    env: Environment,
    chain: Database,
    ids: Database,
    meta: Database,
}

impl ReceiptStore {
    pub fn dir(data_dir: &Path) -> PathBuf {
        data_dir.join("receipts")
    }

    /// Opens (creating) the store; `map_size` bounds its size on disk.
    pub fn open(dir: &Path, map_size: usize) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let env = Environment::new()
            .set_max_dbs(4)
            .set_map_size(map_size)
            .open_with_permissions(dir, 0o600)
            .map_err(|e| StoreError::Open {
                path: dir.to_path_buf(),
                message: e.to_string(),
            })?;
        let chain = env.create_db(Some("chain"), DatabaseFlags::empty())?;
        let ids = env.create_db(Some("ids"), DatabaseFlags::empty())?;
        let meta = env.create_db(Some("meta"), DatabaseFlags::empty())?;
        Ok(Self {
            path: dir.to_path_buf(),
            env,
            chain,
            ids,
            meta,
        })
    }

    /// The store's directory (the strict-mode journal lives there too).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn head(&self) -> Result<Option<Head>, StoreError> {
        let txn = self.env.begin_ro_txn()?;
        match txn.get(self.meta, b"head") {
            Ok(bytes) => {
                let v: serde_json::Value = serde_json::from_slice(bytes)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(Some(Head {
                    seq: v["seq"].as_u64().unwrap_or(0),
                    hash: v["hash"].as_str().unwrap_or_default().to_string(),
                }))
            }
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes receipts (already chained and signed, as canonical JSON) and the new head in one
    /// transaction: one fsync for the whole batch.
    pub fn append(&self, batch: &[(u64, String, Vec<u8>)], head: &Head) -> Result<(), StoreError> {
        let mut txn = self.env.begin_rw_txn()?;
        for (seq, receipt_id, bytes) in batch {
            txn.put(self.chain, &seq.to_be_bytes(), bytes, WriteFlags::empty())?;
            txn.put(
                self.ids,
                receipt_id,
                &seq.to_be_bytes(),
                WriteFlags::empty(),
            )?;
        }
        let head_json = serde_json::json!({"seq": head.seq, "hash": head.hash}).to_string();
        txn.put(self.meta, b"head", &head_json, WriteFlags::empty())?;
        txn.commit()?;
        Ok(())
    }

    pub fn get(&self, receipt_id: &str) -> Result<Option<Receipt>, StoreError> {
        let txn = self.env.begin_ro_txn()?;
        let seq = match txn.get(self.ids, &receipt_id) {
            Ok(s) => s.to_vec(),
            Err(lmdb::Error::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let bytes = txn.get(self.chain, &seq)?;
        serde_json::from_slice(bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Receipts in chain order starting at `from_seq`, at most `limit`, as their stored bytes.
    pub fn scan(&self, from_seq: u64, limit: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.env.begin_ro_txn()?;
        let mut cursor = txn.open_ro_cursor(self.chain)?;
        let mut out = Vec::new();
        for item in cursor.iter_from(from_seq.to_be_bytes()) {
            let (_, value) = item?;
            out.push(value.to_vec());
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}
