//! Archived segments of the receipt chain: compressed JSON-lines files named by the `seq` range
//! they hold.
//!
//! Layout: `<archive_dir>/receipts/receipts-<first seq>-<last seq>.jsonl.gz`, 16 digits each,
//! so names sort in chain order. Each line is a receipt exactly as the store held it; the
//! checkpoint receipt that sealed the segment records the sha256 of the uncompressed lines.
//!
//! Invariant: a file under its final name is sealed (its checkpoint is committed) and never
//! changes. A segment is written as `<name>.pending` (through a temporary, fsynced, renamed,
//! the directory fsynced), and takes its final name only once its checkpoint is committed
//! ([`finalize`]); a final name is never overwritten. A file shipper may take every final-named
//! file as it appears.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

const PREFIX: &str = "receipts-";
const SUFFIX: &str = ".jsonl.gz";
const TEMPORARY: &str = ".tmp";
/// A segment written and not yet sealed by its committed checkpoint.
pub const PENDING: &str = ".pending";
/// Longest line accepted back from a segment (a receipt is far smaller).
const MAX_LINE: u64 = 64 * 1024 * 1024;
/// Most uncompressed bytes read back from one segment (a damaged or planted file cannot
/// exhaust memory).
const MAX_SEGMENT: u64 = 8 * 1024 * 1024 * 1024;

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

/// Writes `lines` (receipts, in chain order) as the pending segment `range` in `dir` (see the
/// module's invariant); [`finalize`] gives it its name once sealed.
pub fn write_segment(
    dir: &Path,
    range: SegmentRange,
    lines: &[Vec<u8>],
) -> std::io::Result<WrittenSegment> {
    write_lines(dir, range.file_name(), lines)
}

/// Writes `lines` as the compressed file `<file_name>.pending` in `dir`, whole or not at all.
/// Refuses when `file_name` exists already (a final name is never reused).
pub fn write_lines(
    dir: &Path,
    file_name: String,
    lines: &[Vec<u8>],
) -> std::io::Result<WrittenSegment> {
    std::fs::create_dir_all(dir)?;
    if dir.join(&file_name).exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{file_name} exists already: is this archive directory shared with another appliance or an earlier store?"),
        ));
    }
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
    std::fs::rename(&temporary, dir.join(format!("{file_name}{PENDING}")))?;
    sync_dir(dir)?;
    Ok(WrittenSegment {
        file_name,
        content_hash: format!("sha256:{}", hex::encode(hasher.finalize())),
        bytes,
        compressed_bytes,
    })
}

/// Gives a sealed pending segment its final name; never overwrites one (a file of that name
/// with the same content is taken as done: a crash after the link).
pub fn finalize(dir: &Path, file_name: &str) -> std::io::Result<()> {
    let pending = dir.join(format!("{file_name}{PENDING}"));
    let target = dir.join(file_name);
    match std::fs::hard_link(&pending, &target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if read_segment(&pending)?.content_hash != read_segment(&target)?.content_hash {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!("{file_name} exists already with other content; it is left as it is"),
                ));
            }
        }
        Err(e) => return Err(e),
    }
    std::fs::remove_file(&pending)?;
    sync_dir(dir)
}

/// A segment read back: its lines and the sha256 of their uncompressed bytes.
#[derive(Debug, Clone)]
pub struct ReadSegment {
    pub lines: Vec<Vec<u8>>,
    pub content_hash: String,
}

/// Reads a segment file. Any damage (not gzip, truncated, a line too long, past 8 GiB) is an
/// error.
pub fn read_segment(path: &Path) -> std::io::Result<ReadSegment> {
    let mut reader = BufReader::new(MultiGzDecoder::new(File::open(path)?).take(MAX_SEGMENT));
    let mut lines = Vec::new();
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    loop {
        let mut line = Vec::new();
        let n = (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&line);
        if line.last() != Some(&b'\n') {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                if total >= MAX_SEGMENT {
                    "larger than 8 GiB uncompressed"
                } else {
                    "the last line is cut (no newline) or longer than 64 MiB"
                },
            ));
        }
        line.pop();
        lines.push(line);
    }
    Ok(ReadSegment {
        lines,
        content_hash: format!("sha256:{}", hex::encode(hasher.finalize())),
    })
}

/// The pending segments in `dir` (written, not yet sealed), in chain order.
pub fn list_pending(dir: &Path) -> std::io::Result<Vec<(SegmentRange, PathBuf)>> {
    segments_named(dir, PENDING)
}

/// The segment files in `dir`, in chain order; no directory: none.
pub fn list_segments(dir: &Path) -> std::io::Result<Vec<(SegmentRange, PathBuf)>> {
    segments_named(dir, "")
}

/// The files of `dir` named as a segment followed by `suffix`, in chain order.
fn segments_named(dir: &Path, suffix: &str) -> std::io::Result<Vec<(SegmentRange, PathBuf)>> {
    let mut out = Vec::new();
    for entry in entries_of(dir)? {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(range) = name.strip_suffix(suffix).and_then(SegmentRange::parse) {
            out.push((range, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The entries of `dir`; no directory: none.
fn entries_of(dir: &Path) -> std::io::Result<Vec<std::fs::DirEntry>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Removes temporaries a crash left behind (a segment whose write did not finish).
pub fn remove_temporaries(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in entries_of(dir)? {
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
        // Pending until sealed: not listed as a segment.
        assert!(list_segments(dir.path()).unwrap().is_empty());
        assert_eq!(list_pending(dir.path()).unwrap().len(), 1);
        finalize(dir.path(), &w.file_name).unwrap();
        assert!(list_pending(dir.path()).unwrap().is_empty());
        let path = dir.path().join(&w.file_name);
        // A final name is never written again.
        assert!(write_segment(dir.path(), range, &lines).is_err());
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
