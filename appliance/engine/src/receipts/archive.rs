//! Archived segments of the receipt chain: compressed JSON-lines files named by the `seq` range
//! they hold, written so that a crash leaves the whole file or none (a temporary, fsynced, then
//! renamed into place, and the directory fsynced).
//!
//! Layout: `<archive_dir>/receipts/receipts-<first seq>-<last seq>.jsonl.gz`, 16 digits each,
//! so names sort in chain order. Each line is a receipt exactly as the store held it; the
//! checkpoint receipt that sealed the segment records the sha256 of the uncompressed lines.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use aarmor_core::canonical::sha256_tagged;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

const PREFIX: &str = "receipts-";
const SUFFIX: &str = ".jsonl.gz";
const TEMPORARY: &str = ".tmp";
/// Longest line accepted back from a segment (a receipt is far smaller).
const MAX_LINE: u64 = 64 * 1024 * 1024;

/// The `seq` range of a segment, which names its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SegmentRange {
    pub first_seq: u64,
    pub last_seq: u64,
}

impl SegmentRange {
    pub fn file_name(&self) -> String {
        format!(
            "{PREFIX}{:016}-{:016}{SUFFIX}",
            self.first_seq, self.last_seq
        )
    }

    /// The range a segment file name stands for; `None` for any other name.
    pub fn parse(name: &str) -> Option<Self> {
        let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
        let (first, last) = digits.split_once('-')?;
        let range = Self {
            first_seq: first.parse().ok()?,
            last_seq: last.parse().ok()?,
        };
        (range.first_seq >= 1 && range.first_seq <= range.last_seq).then_some(range)
    }
}

/// Where receipt segments go under an archive directory (a checkpoint names its segment as
/// `receipts/<file name>`).
pub const RECEIPTS_DIR: &str = "receipts";
/// Where closed sessions' context logs go under an archive directory.
pub const CONTEXT_DIR: &str = "context";

/// The directory of receipt segments under an archive directory.
pub fn receipts_dir(archive_dir: &Path) -> PathBuf {
    archive_dir.join(RECEIPTS_DIR)
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenSegment {
    pub file_name: String,
    /// `sha256:` + hex of the uncompressed lines.
    pub content_hash: String,
    /// Size of the uncompressed lines.
    pub bytes: u64,
    /// Size of the file.
    pub compressed_bytes: u64,
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `lines` (receipts, in chain order) as the segment `range` in `dir`; an earlier file
/// of the same name is replaced whole.
pub fn write_segment(
    dir: &Path,
    range: SegmentRange,
    lines: &[Vec<u8>],
) -> std::io::Result<WrittenSegment> {
    write_lines(dir, range.file_name(), lines)
}

/// Writes `lines` as the compressed file `file_name` in `dir`, whole or not at all.
pub fn write_lines(
    dir: &Path,
    file_name: String,
    lines: &[Vec<u8>],
) -> std::io::Result<WrittenSegment> {
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!("{file_name}{TEMPORARY}"));
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut gz = GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
    for line in lines {
        gz.write_all(line)?;
        gz.write_all(b"\n")?;
        hasher.update(line);
        hasher.update(b"\n");
        bytes += line.len() as u64 + 1;
    }
    let file = gz
        .finish()?
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    file.sync_all()?;
    let compressed_bytes = file.metadata()?.len();
    drop(file);
    std::fs::rename(&temporary, dir.join(&file_name))?;
    sync_dir(dir)?;
    Ok(WrittenSegment {
        file_name,
        content_hash: format!("sha256:{}", hex::encode(hasher.finalize())),
        bytes,
        compressed_bytes,
    })
}

/// A segment read back: its lines and the sha256 of their uncompressed bytes.
#[derive(Debug, Clone)]
pub struct ReadSegment {
    pub lines: Vec<Vec<u8>>,
    pub content_hash: String,
}

/// Reads a segment file. Any damage (not gzip, truncated, a line too long) is an error.
pub fn read_segment(path: &Path) -> std::io::Result<ReadSegment> {
    let mut reader = BufReader::new(MultiGzDecoder::new(File::open(path)?));
    let mut lines = Vec::new();
    let mut content = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        content.extend_from_slice(&line);
        if line.last() != Some(&b'\n') {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the last line is cut (no newline) or longer than 64 MiB",
            ));
        }
        line.pop();
        lines.push(line);
    }
    Ok(ReadSegment {
        lines,
        content_hash: sha256_tagged(&content),
    })
}

/// The segment files in `dir`, in chain order; no directory: none.
pub fn list_segments(dir: &Path) -> std::io::Result<Vec<(SegmentRange, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        if let Some(range) = entry.file_name().to_str().and_then(SegmentRange::parse) {
            out.push((range, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Removes temporaries a crash left behind (a segment whose write did not finish).
pub fn remove_temporaries(dir: &Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(TEMPORARY) {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_chain_order_and_parse_back() {
        let r = SegmentRange {
            first_seq: 9,
            last_seq: 120,
        };
        assert_eq!(SegmentRange::parse(&r.file_name()), Some(r));
        let later = SegmentRange {
            first_seq: 121,
            last_seq: 1000,
        };
        assert!(r.file_name() < later.file_name());
        assert_eq!(SegmentRange::parse("receipts-5-4.jsonl.gz"), None);
        assert_eq!(SegmentRange::parse("receipts-0-4.jsonl.gz"), None);
        assert_eq!(SegmentRange::parse("other.jsonl.gz"), None);
    }

    #[test]
    fn a_segment_reads_back_with_its_hash_and_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let range = SegmentRange {
            first_seq: 1,
            last_seq: 2,
        };
        let lines = vec![b"{\"seq\":1}".to_vec(), b"{\"seq\":2}".to_vec()];
        let w = write_segment(dir.path(), range, &lines).unwrap();
        let path = dir.path().join(&w.file_name);
        let back = read_segment(&path).unwrap();
        assert_eq!(back.lines, lines);
        assert_eq!(back.content_hash, w.content_hash);
        assert_eq!(w.bytes, 20);
        assert_eq!(
            list_segments(dir.path()).unwrap(),
            vec![(range, path.clone())]
        );
        // A truncated file is not read as a shorter segment.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 9]).unwrap();
        assert!(read_segment(&path).is_err());
        // A leftover temporary is removed; segments stay.
        std::fs::write(dir.path().join(format!("{}.tmp", range.file_name())), b"x").unwrap();
        assert_eq!(remove_temporaries(dir.path()).unwrap(), 1);
        assert_eq!(list_segments(dir.path()).unwrap().len(), 1);
    }
}
