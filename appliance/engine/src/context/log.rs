//! The context log: per session, an append-only chain of entries in LMDB under
//! `<data_dir>/context/`. This module is the only place that knows how it is stored.
//!
//! Databases: `entries` (`session ‖ 0x00 ‖ big-endian seq` → canonical entry JSON) and `heads`
//! (`session` → the last entry's `seq` and hash, the agent, first and last activity).
//!
//! Invariants: every entry carries `prev_hash`, the sha256 of the canonical JSON of the entry
//! before it (the genesis hash for the first); a compacted session starts with a `summary` entry
//! whose `prev_hash` is the hash of the last entry it replaced, so the chain stays verifiable
//! across compaction. The head pins the last entry, so a removed tail is detected too.

use std::path::{Path, PathBuf};

use aarmor_core::receipt::{canonical_json, sha256_tagged, GENESIS_HASH};
use lmdb::{Cursor, Database, DatabaseFlags, Environment, Transaction, WriteFlags};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::entries::EntryKind;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("context store {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("context store: {0}")]
    Lmdb(#[from] lmdb::Error),
    #[error("context store: corrupt record: {0}")]
    Corrupt(String),
}

/// One entry of a session's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextEntry {
    pub session: String,
    pub seq: u64,
    /// RFC 3339 UTC, milliseconds.
    pub at: String,
    /// How `data` reads (see [`super::entries`]).
    pub kind: EntryKind,
    pub prev_hash: String,
    pub data: Value,
}

impl ContextEntry {
    /// sha256 over the canonical JSON of the entry.
    pub fn hash(&self) -> String {
        canonical_json(self)
            .map(|b| sha256_tagged(&b))
            .unwrap_or_else(|_| GENESIS_HASH.to_string())
    }
}

/// A session's position: what its next entry chains to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionHead {
    pub seq: u64,
    pub hash: String,
    pub agent: String,
    pub started: String,
    #[serde(default)]
    pub started_unix_ms: u64,
    pub last_seen: String,
    /// Entries currently stored (after compaction).
    pub entries: u64,
}

/// What a write transaction does.
#[derive(Debug, Clone)]
pub enum LogOp {
    Put(ContextEntry),
    Head(String, SessionHead),
    /// Removes the session's entries with `seq < below` (they were folded into a summary).
    Fold {
        session: String,
        below: u64,
    },
}

fn key(session: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(session.len() + 9);
    k.extend_from_slice(session.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The `seq` of an entry key of `session`; `None` for a key of another session.
fn seq_of(session: &str, k: &[u8]) -> Option<u64> {
    let n = session.len();
    if k.len() != n + 9 || &k[..n] != session.as_bytes() || k[n] != 0 {
        return None;
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&k[n + 1..]);
    Some(u64::from_be_bytes(seq))
}

pub struct ContextLog {
    env: Environment,
    entries: Database,
    heads: Database,
}

/// A problem `verify` found, at an entry (`seq`) or at the head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainProblem {
    pub seq: Option<u64>,
    pub problem: String,
}

impl ContextLog {
    pub fn dir(data_dir: &Path) -> PathBuf {
        data_dir.join("context")
    }

    pub fn open(dir: &Path, map_size: usize) -> Result<Self, LogError> {
        let open_err = |m: String| LogError::Open {
            path: dir.to_path_buf(),
            message: m,
        };
        std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        let env = Environment::new()
            .set_max_dbs(4)
            .set_map_size(map_size)
            .open_with_permissions(dir, 0o600)
            .map_err(|e| open_err(e.to_string()))?;
        let entries = env.create_db(Some("entries"), DatabaseFlags::empty())?;
        let heads = env.create_db(Some("heads"), DatabaseFlags::empty())?;
        Ok(Self {
            env,
            entries,
            heads,
        })
    }

    /// Applies `ops` in one transaction (one fsync).
    /// How full the store is.
    pub fn usage(&self) -> Result<crate::retention::usage::StoreUsage, LogError> {
        Ok(crate::retention::usage::StoreUsage::of(&self.env)?)
    }

    pub fn apply(&self, ops: &[LogOp]) -> Result<(), LogError> {
        let mut txn = self.env.begin_rw_txn()?;
        for op in ops {
            match op {
                LogOp::Put(e) => {
                    let bytes = canonical_json(e).map_err(|e| LogError::Corrupt(e.to_string()))?;
                    txn.put(
                        self.entries,
                        &key(&e.session, e.seq),
                        &bytes,
                        WriteFlags::empty(),
                    )?;
                }
                LogOp::Head(session, head) => {
                    let bytes =
                        serde_json::to_vec(head).map_err(|e| LogError::Corrupt(e.to_string()))?;
                    txn.put(self.heads, session, &bytes, WriteFlags::empty())?;
                }
                LogOp::Fold { session, below } => {
                    let mut doomed = Vec::new();
                    {
                        let mut cursor = txn.open_ro_cursor(self.entries)?;
                        for item in cursor.iter_from(key(session, 0)) {
                            let (k, _) = item?;
                            match seq_of(session, k) {
                                Some(seq) if seq < *below => doomed.push(k.to_vec()),
                                _ => break,
                            }
                        }
                    }
                    for k in doomed {
                        txn.del(self.entries, &k, None)?;
                    }
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    pub fn head(&self, session: &str) -> Result<Option<SessionHead>, LogError> {
        let txn = self.env.begin_ro_txn()?;
        match txn.get(self.heads, &session) {
            Ok(bytes) => serde_json::from_slice(bytes)
                .map(Some)
                .map_err(|e| LogError::Corrupt(e.to_string())),
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes archived sessions (their entries and head) in one transaction, each only if its
    /// head is still the one archived (`(session, head hash)`): a session that went on after
    /// its log was archived stays. Returns how many were removed.
    pub fn remove_sessions(&self, archived: &[(String, String)]) -> Result<usize, LogError> {
        let mut txn = self.env.begin_rw_txn()?;
        let mut removed = 0;
        for (session, hash) in archived {
            let current: Option<SessionHead> = match txn.get(self.heads, session) {
                Ok(bytes) => serde_json::from_slice(bytes).ok(),
                Err(lmdb::Error::NotFound) => None,
                Err(e) => return Err(e.into()),
            };
            if current.is_none_or(|h| &h.hash != hash) {
                continue;
            }
            let mut doomed = Vec::new();
            {
                let mut cursor = txn.open_ro_cursor(self.entries)?;
                for item in cursor.iter_from(key(session, 0)) {
                    let (k, _) = item?;
                    if seq_of(session, k).is_none() {
                        break;
                    }
                    doomed.push(k.to_vec());
                }
            }
            for k in doomed {
                txn.del(self.entries, &k, None)?;
            }
            txn.del(self.heads, session, None)?;
            removed += 1;
        }
        txn.commit()?;
        Ok(removed)
    }

    /// Every session with its head, in id order.
    pub fn sessions(&self) -> Result<Vec<(String, SessionHead)>, LogError> {
        let txn = self.env.begin_ro_txn()?;
        let mut cursor = txn.open_ro_cursor(self.heads)?;
        let mut out = Vec::new();
        for item in cursor.iter_start() {
            let (k, v) = item?;
            let head: SessionHead =
                serde_json::from_slice(v).map_err(|e| LogError::Corrupt(e.to_string()))?;
            out.push((String::from_utf8_lossy(k).into_owned(), head));
        }
        Ok(out)
    }

    /// The stored entries of `session` in key order, as their stored bytes.
    pub fn raw_entries(&self, session: &str) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        let txn = self.env.begin_ro_txn()?;
        let mut cursor = txn.open_ro_cursor(self.entries)?;
        let mut out = Vec::new();
        for item in cursor.iter_from(key(session, 0)) {
            let (k, v) = item?;
            match seq_of(session, k) {
                Some(seq) => out.push((seq, v.to_vec())),
                None => break,
            }
        }
        Ok(out)
    }

    /// The stored entries of `session`, parsed.
    pub fn entries(&self, session: &str) -> Result<Vec<ContextEntry>, LogError> {
        self.raw_entries(session)?
            .into_iter()
            .map(|(_, b)| serde_json::from_slice(&b).map_err(|e| LogError::Corrupt(e.to_string())))
            .collect()
    }

    /// Overwrites or removes one stored entry as is (tests of tamper detection only).
    #[cfg(test)]
    pub(crate) fn tamper(
        &self,
        session: &str,
        seq: u64,
        bytes: Option<&[u8]>,
    ) -> Result<(), LogError> {
        let mut txn = self.env.begin_rw_txn()?;
        match bytes {
            Some(b) => txn.put(self.entries, &key(session, seq), &b, WriteFlags::empty())?,
            None => txn.del(self.entries, &key(session, seq), None)?,
        }
        txn.commit()?;
        Ok(())
    }
}

/// Checks a session's chain: entries in `(stored seq, bytes)` form, against its head when known.
/// Returns the problems; none means the log is intact.
pub fn verify_chain(
    session: &str,
    stored: &[(u64, Vec<u8>)],
    head: Option<&SessionHead>,
) -> Vec<ChainProblem> {
    let mut problems = Vec::new();
    let mut prev: Option<ContextEntry> = None;
    for (i, (seq, bytes)) in stored.iter().enumerate() {
        let entry: ContextEntry = match serde_json::from_slice(bytes) {
            Ok(e) => e,
            Err(e) => {
                problems.push(ChainProblem {
                    seq: Some(*seq),
                    problem: format!("entry is not valid JSON ({e})"),
                });
                prev = None;
                continue;
            }
        };
        if entry.seq != *seq || entry.session != session {
            problems.push(ChainProblem {
                seq: Some(*seq),
                problem: format!(
                    "entry names session {} seq {}, stored as seq {seq}",
                    entry.session, entry.seq
                ),
            });
        }
        match &prev {
            None if i == 0 => {
                let starts_clean = entry.seq == 0 && entry.prev_hash == GENESIS_HASH;
                if !starts_clean && entry.kind != EntryKind::Summary {
                    problems.push(ChainProblem {
                        seq: Some(entry.seq),
                        problem: if entry.seq == 0 {
                            "first entry does not start from the genesis hash".into()
                        } else {
                            format!("entries before seq {} are missing", entry.seq)
                        },
                    });
                }
            }
            None => {}
            Some(p) => {
                if entry.seq != p.seq + 1 {
                    problems.push(ChainProblem {
                        seq: Some(entry.seq),
                        problem: format!("entries missing before it (expected seq {})", p.seq + 1),
                    });
                } else if entry.prev_hash != p.hash() {
                    problems.push(ChainProblem {
                        seq: Some(p.seq),
                        problem:
                            "entry was changed (its hash does not match the next entry's prev_hash)"
                                .into(),
                    });
                }
            }
        }
        prev = Some(entry);
    }
    if let Some(h) = head {
        match &prev {
            None => problems.push(ChainProblem {
                seq: None,
                problem: format!("the head names seq {} but no entry is stored", h.seq),
            }),
            Some(last) if last.seq != h.seq => problems.push(ChainProblem {
                seq: None,
                problem: format!(
                    "entries removed at the end: the head names seq {}, the last stored is {}",
                    h.seq, last.seq
                ),
            }),
            Some(last) if last.hash() != h.hash => problems.push(ChainProblem {
                seq: Some(last.seq),
                problem: "entry was changed (its hash does not match the session head)".into(),
            }),
            Some(_) => {}
        }
    }
    problems
}
