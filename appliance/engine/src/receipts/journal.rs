//! The strict-mode journal: an append-only file (`<data_dir>/receipts/journal`) that makes a
//! batch of receipts durable with one `fdatasync`, so that a strict verdict waits for one sync
//! instead of an LMDB commit's two (data, then meta page).
//!
//! Protocol: the committer appends the batch to the journal and syncs it, releases the waiting
//! verdicts, then commits the same batch to LMDB and empties the journal. At start, receipts in
//! the journal that LMDB does not have (a crash between the two writes) are committed to LMDB
//! first — they were acknowledged, so they must not be lost.
//!
//! Record format: `u32` little-endian payload length, the payload's 32-byte sha256, the payload
//! (a receipt's canonical JSON). A torn record at the end (a crash during a write, whose verdict
//! was therefore never released) fails its length or checksum and ends the journal there.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Largest receipt accepted back from the journal.
const MAX_RECORD: usize = 64 * 1024 * 1024;

/// The complete records at the start of `bytes`, and where they end.
fn parse(bytes: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let mut records = Vec::new();
    let mut at = 0usize;
    while bytes.len() >= at + 36 {
        let mut n = [0u8; 4];
        n.copy_from_slice(&bytes[at..at + 4]);
        let n = u32::from_le_bytes(n) as usize;
        if n > MAX_RECORD || bytes.len() < at + 36 + n {
            break;
        }
        let payload = &bytes[at + 36..at + 36 + n];
        if Sha256::digest(payload).as_slice() != &bytes[at + 4..at + 36] {
            break;
        }
        records.push(payload.to_vec());
        at += 36 + n;
    }
    (records, at)
}

pub struct Journal {
    file: File,
    path: PathBuf,
    len: u64,
    /// Highest `seq` appended since the journal was last emptied.
    last_seq: u64,
}

impl Journal {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("journal")
    }

    /// The complete records of the journal in `dir`, read without changing it (for readers of a
    /// store a running — or crashed — aarmor writes). No journal: none.
    pub fn read(dir: &Path) -> std::io::Result<Vec<Vec<u8>>> {
        match std::fs::read(Self::path(dir)) {
            Ok(bytes) => Ok(parse(&bytes).0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Opens (creating) the journal and returns the complete records it holds.
    pub fn open(dir: &Path) -> std::io::Result<(Self, Vec<Vec<u8>>)> {
        let path = Self::path(dir);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (records, at) = parse(&bytes);
        if at < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                bytes = bytes.len() - at,
                "receipt journal ends with a torn record (a write cut by a crash); it is dropped"
            );
            file.set_len(at as u64)?;
        }
        let journal = Self {
            file,
            path,
            len: at as u64,
            last_seq: u64::MAX,
        };
        Ok((journal, records))
    }

    /// Appends `(seq, receipt)` records and syncs them to disk (one `fdatasync`).
    pub fn append<'a>(
        &mut self,
        records: impl IntoIterator<Item = (u64, &'a [u8])>,
    ) -> std::io::Result<()> {
        let mut buf = Vec::new();
        for (seq, p) in records {
            self.last_seq = if self.last_seq == u64::MAX {
                seq
            } else {
                self.last_seq.max(seq)
            };
            buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
            buf.extend_from_slice(&Sha256::digest(p));
            buf.extend_from_slice(p);
        }
        self.file.write_all_at(&buf, self.len)?;
        self.file.sync_data()?;
        self.len += buf.len() as u64;
        Ok(())
    }

    /// Empties the journal once LMDB holds everything in it. Not synced: a journal that still
    /// holds records LMDB has is replayed harmlessly (they are skipped by `seq`).
    pub fn clear(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.len = 0;
        self.last_seq = 0;
        Ok(())
    }

    /// Bytes in the journal.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Highest `seq` appended since the journal was emptied (`u64::MAX` when unknown: records
    /// found at open whose fate is settled by recovery).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn file_path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut j, records) = Journal::open(dir.path()).unwrap();
            assert!(records.is_empty());
            j.append([(1, b"one".as_slice()), (2, b"two".as_slice())])
                .unwrap();
            j.append([(3, b"three".as_slice())]).unwrap();
        }
        // A crash in the middle of a fourth record.
        let path = Journal::path(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&10u32.to_le_bytes());
        bytes.extend_from_slice(&[7u8; 20]);
        std::fs::write(&path, &bytes).unwrap();
        let (mut j, records) = Journal::open(dir.path()).unwrap();
        assert_eq!(
            records,
            [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
        // Appending after the torn tail overwrites it.
        j.append([(4, b"four".as_slice())]).unwrap();
        let (_, records) = Journal::open(dir.path()).unwrap();
        assert_eq!(records.len(), 4);
        // A changed byte ends the journal at that record.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let (mut j, records) = Journal::open(dir.path()).unwrap();
        assert_eq!(records.len(), 3);
        j.clear().unwrap();
        let (_, records) = Journal::open(dir.path()).unwrap();
        assert!(records.is_empty());
    }
}
