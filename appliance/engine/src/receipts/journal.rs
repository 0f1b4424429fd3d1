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
//!
//! In strict mode the file is preallocated with zeros ([`PREALLOCATED`]) and records overwrite
//! them in place: an `fdatasync` that does not change the file's size or block map writes the
//! data alone, no filesystem metadata — about two thirds of the cost of a sync that grows the
//! file. Emptying the journal only moves the write position back to the start. Invariant:
//! after the records of the current journal, the file holds zeros or records from before the
//! journal was last emptied; those were in LMDB then, carry `seq`s at or below the store's
//! head, and every reader of the journal skips them by `seq` (recovery, `receipts export`).

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Largest receipt accepted back from the journal.
const MAX_RECORD: usize = 64 * 1024 * 1024;
/// Size of the zero-filled journal in strict mode. The journal is emptied once LMDB holds what
/// it has and it has grown past 1 MiB, so it rarely outgrows this; when it does, it grows as an
/// ordinary append (a slower sync) and stays at the larger size.
pub const PREALLOCATED: u64 = 4 * 1024 * 1024;

/// Writes zeros over `[from, to)` of `file`.
fn zero(file: &File, from: u64, to: u64) -> std::io::Result<()> {
    const CHUNK: usize = 256 * 1024;
    let zeros = vec![0u8; CHUNK.min(to.saturating_sub(from) as usize)];
    let mut at = from;
    while at < to {
        let n = ((to - at) as usize).min(CHUNK);
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

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
        if bytes[at..].iter().any(|b| *b != 0) {
            tracing::debug!(
                path = %path.display(),
                "receipt journal: zeroing what follows its last complete record (a torn write or the remains of older records)"
            );
            zero(&file, at as u64, bytes.len() as u64)?;
            file.sync_data()?;
        }
        let journal = Self {
            file,
            path,
            len: at as u64,
        };
        Ok((journal, records))
    }

    /// Zero-fills the file up to [`PREALLOCATED`] bytes and syncs it, so that appends overwrite
    /// allocated blocks (see the module docs).
    pub fn preallocate(&mut self) -> std::io::Result<()> {
        let size = self.file.metadata()?.len();
        if size < PREALLOCATED {
            zero(&self.file, size, PREALLOCATED)?;
            self.file.sync_all()?;
        }
        Ok(())
    }

    /// Empties the journal and gives its space back (batched mode keeps no journal).
    pub fn discard(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.len = 0;
        Ok(())
    }

    /// Appends receipts (their canonical JSON) and syncs them to disk (one `fdatasync`).
    pub fn append<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a [u8]>,
    ) -> std::io::Result<()> {
        let mut buf = Vec::new();
        for p in records {
            buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
            buf.extend_from_slice(&Sha256::digest(p));
            buf.extend_from_slice(p);
        }
        self.file.write_all_at(&buf, self.len)?;
        self.file.sync_data()?;
        self.len += buf.len() as u64;
        Ok(())
    }

    /// Empties the journal once LMDB holds everything in it: the next record is written at the
    /// start again, over the old ones (the file keeps its size and its blocks). Nothing is
    /// synced or zeroed: old records left after the new ones carry `seq`s LMDB already has,
    /// and whoever reads the journal skips them by `seq`.
    pub fn clear(&mut self) -> std::io::Result<()> {
        self.len = 0;
        Ok(())
    }

    /// Bytes in the journal.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
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
            j.append([b"one".as_slice(), b"two".as_slice()]).unwrap();
            j.append([b"three".as_slice()]).unwrap();
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
        j.append([b"four".as_slice()]).unwrap();
        let (_, records) = Journal::open(dir.path()).unwrap();
        assert_eq!(records.len(), 4);
        // A changed byte ends the journal at that record.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let (_, records) = Journal::open(dir.path()).unwrap();
        assert_eq!(records.len(), 3);
    }

    #[test]
    fn a_preallocated_journal_is_written_in_place_and_emptied_by_rewinding() {
        let dir = tempfile::tempdir().unwrap();
        let path = Journal::path(dir.path());
        let (mut j, _) = Journal::open(dir.path()).unwrap();
        j.preallocate().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), PREALLOCATED);
        j.append([b"one".as_slice(), b"two".as_slice()]).unwrap();
        assert_eq!(
            Journal::read(dir.path()).unwrap(),
            [b"one".to_vec(), b"two".to_vec()]
        );
        j.clear().unwrap();
        assert!(j.is_empty());
        // Written over the first record: the second, from before the journal was emptied, is
        // still there (readers skip it by its `seq`, which LMDB already has).
        j.append([b"uno".as_slice()]).unwrap();
        assert_eq!(
            Journal::read(dir.path()).unwrap(),
            [b"uno".to_vec(), b"two".to_vec()]
        );
        j.clear().unwrap();
        // A longer record cuts the old ones: the journal ends after it.
        j.append([b"three".as_slice()]).unwrap();
        assert_eq!(Journal::read(dir.path()).unwrap(), [b"three".to_vec()]);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            PREALLOCATED,
            "appends and emptying keep the file's size"
        );
        drop(j);
        // Reopened: the record is there, the rest is zeros, and nothing is dropped.
        let (_, records) = Journal::open(dir.path()).unwrap();
        assert_eq!(records, [b"three".to_vec()]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), PREALLOCATED);
    }
}
