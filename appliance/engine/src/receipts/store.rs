//! The receipt store: one LMDB environment under `<data_dir>/receipts/`. This module is the only
//! place that knows the LMDB binding.
//!
//! Databases: `chain` (big-endian `seq` → canonical receipt JSON), `ids` (`receipt_id` → `seq`),
//! `meta` (`head` → `seq` and chain hash of the last receipt; `archived` → the last `seq`
//! sealed by a checkpoint and its chain hash; `archived_files` → the last `seq` written to the
//! archive (not dropped); `pruned` → the last `seq` removed from the store),
//! `segments` (big-endian last `seq` of each sealed segment still in the store → its first).
//!
//! Pruning removes whole sealed segments, oldest first, so the live store always starts right
//! after a segment whose checkpoint anchors it.
//!
//! Invariant: `pruned <= archived <= head` in archive mode — a receipt leaves the store only
//! once the archive holds it and a checkpoint receipt names its segment; in drop mode the
//! checkpoint alone (see `crate::retention`).

use std::path::{Path, PathBuf};

use aarmor_core::Receipt;
use lmdb::{Cursor, Database, DatabaseFlags, Environment, Transaction, WriteFlags};

pub use crate::retention::usage::StoreUsage;

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
    #[error("the receipt store is full ([receipts] max_size_mb); archive or prune it ([retention]) and restart")]
    StoreFull,
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

fn read_position(bytes: &[u8]) -> Result<Head, StoreError> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Head {
        seq: v["seq"].as_u64().unwrap_or(0),
        hash: v["hash"].as_str().unwrap_or_default().to_string(),
    })
}

fn position_json(p: &Head) -> String {
    serde_json::json!({"seq": p.seq, "hash": p.hash}).to_string()
}

/// Only the id of a stored receipt (pruning removes it from `ids`).
#[derive(serde::Deserialize)]
struct IdOnly {
    receipt_id: String,
}

pub struct ReceiptStore {
    path: PathBuf,
    env: Environment,
    chain: Database,
    ids: Database,
    meta: Database,
    segments: Database,
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
            .set_max_dbs(5)
            .set_map_size(map_size)
            .open_with_permissions(dir, 0o600)
            .map_err(|e| StoreError::Open {
                path: dir.to_path_buf(),
                message: e.to_string(),
            })?;
        let chain = env.create_db(Some("chain"), DatabaseFlags::empty())?;
        let ids = env.create_db(Some("ids"), DatabaseFlags::empty())?;
        let meta = env.create_db(Some("meta"), DatabaseFlags::empty())?;
        let segments = env.create_db(Some("segments"), DatabaseFlags::empty())?;
        Ok(Self {
            path: dir.to_path_buf(),
            env,
            chain,
            ids,
            meta,
            segments,
        })
    }

    /// The store's directory (the strict-mode journal lives there too).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn head(&self) -> Result<Option<Head>, StoreError> {
        self.position(b"head")
    }

    /// The last receipt written to the archive (or dropped by retention) and its chain hash.
    pub fn archived(&self) -> Result<Option<Head>, StoreError> {
        self.position(b"archived")
    }

    /// The last receipt removed from the store.
    pub fn pruned(&self) -> Result<Option<Head>, StoreError> {
        self.position(b"pruned")
    }

    fn position(&self, key: &[u8]) -> Result<Option<Head>, StoreError> {
        let txn = self.env.begin_ro_txn()?;
        match txn.get(self.meta, &key) {
            Ok(bytes) => read_position(bytes).map(Some),
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Records a sealed segment (`first_seq..=archived.seq`, its checkpoint written): the chain
    /// is archived (`to_archive`) or dropped up to `archived`, and the segment may be pruned.
    pub fn set_archived(
        &self,
        first_seq: u64,
        archived: &Head,
        to_archive: bool,
    ) -> Result<(), StoreError> {
        let mut txn = self.env.begin_rw_txn()?;
        txn.put(
            self.meta,
            b"archived",
            &position_json(archived),
            WriteFlags::empty(),
        )?;
        if to_archive {
            txn.put(
                self.meta,
                b"archived_files",
                &archived.seq.to_be_bytes(),
                WriteFlags::empty(),
            )?;
        }
        txn.put(
            self.segments,
            &archived.seq.to_be_bytes(),
            &first_seq.to_be_bytes(),
            WriteFlags::empty(),
        )?;
        txn.commit()?;
        Ok(())
    }

    /// The last `seq` written to the archive (not dropped); 0 when none.
    pub fn archived_files(&self) -> Result<u64, StoreError> {
        let txn = self.env.begin_ro_txn()?;
        match txn.get(self.meta, b"archived_files") {
            Ok(bytes) => Ok(<[u8; 8]>::try_from(bytes).map_or(0, u64::from_be_bytes)),
            Err(lmdb::Error::NotFound) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// The oldest sealed segment still in the store: its first and last `seq`.
    pub fn oldest_segment(&self) -> Result<Option<(u64, u64)>, StoreError> {
        let txn = self.env.begin_ro_txn()?;
        let mut cursor = txn.open_ro_cursor(self.segments)?;
        match cursor.iter_start().next() {
            Some(item) => {
                let (key, value) = item?;
                let seq = |b: &[u8]| <[u8; 8]>::try_from(b).map(u64::from_be_bytes).ok();
                match (seq(value), seq(key)) {
                    (Some(first), Some(last)) => Ok(Some((first, last))),
                    _ => Err(StoreError::Corrupt(
                        "a segment entry is not two seqs".into(),
                    )),
                }
            }
            None => Ok(None),
        }
    }

    /// Removes the oldest sealed segment still in the store, in one transaction that also
    /// records the new `pruned` position. Returns how many receipts it removed (0: no sealed
    /// segment is left to prune).
    pub fn prune_oldest_segment(&self) -> Result<usize, StoreError> {
        let mut txn = self.env.begin_rw_txn()?;
        let last = {
            let mut cursor = txn.open_ro_cursor(self.segments)?;
            match cursor.iter_start().next() {
                Some(item) => {
                    let (key, _) = item?;
                    <[u8; 8]>::try_from(key)
                        .map(u64::from_be_bytes)
                        .map_err(|_| StoreError::Corrupt("a segment key is not a seq".into()))?
                }
                None => return Ok(0),
            }
        };
        let mut doomed: Vec<(u64, String)> = Vec::new();
        {
            let mut cursor = txn.open_ro_cursor(self.chain)?;
            for item in cursor.iter_start() {
                let (key, value) = item?;
                let seq = <[u8; 8]>::try_from(key)
                    .map(u64::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt("a chain key is not a seq".into()))?;
                if seq > last {
                    break;
                }
                let id: IdOnly = serde_json::from_slice(value)
                    .map_err(|e| StoreError::Corrupt(format!("receipt seq {seq}: {e}")))?;
                doomed.push((seq, id.receipt_id));
            }
        }
        for (seq, id) in &doomed {
            txn.del(self.chain, &seq.to_be_bytes(), None)?;
            match txn.del(self.ids, id, None) {
                Ok(()) | Err(lmdb::Error::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        txn.del(self.segments, &last.to_be_bytes(), None)?;
        txn.put(
            self.meta,
            b"pruned",
            &position_json(&Head {
                seq: last,
                hash: String::new(),
            }),
            WriteFlags::empty(),
        )?;
        txn.commit()?;
        Ok(doomed.len())
    }

    /// The `seq` of the oldest receipt in the store.
    pub fn first_seq(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.env.begin_ro_txn()?;
        let mut cursor = txn.open_ro_cursor(self.chain)?;
        match cursor.iter_start().next() {
            Some(Ok((key, _))) => Ok(<[u8; 8]>::try_from(key).ok().map(u64::from_be_bytes)),
            Some(Err(e)) => Err(e.into()),
            None => Ok(None),
        }
    }

    /// How full the store is.
    pub fn usage(&self) -> Result<StoreUsage, StoreError> {
        Ok(StoreUsage::of(&self.env)?)
    }

    /// Writes receipts (already chained and signed, as canonical JSON) and the new head in one
    /// transaction: one fsync for the whole batch.
    pub fn append(&self, batch: &[(u64, String, Vec<u8>)], head: &Head) -> Result<(), StoreError> {
        let mut txn = self.env.begin_rw_txn()?;
        for (seq, receipt_id, bytes) in batch {
            // `seq` only grows: appended at the end, pages fill up instead of splitting in half.
            txn.put(self.chain, &seq.to_be_bytes(), bytes, WriteFlags::APPEND)?;
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
        if limit == 0 {
            return Ok(Vec::new());
        }
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
