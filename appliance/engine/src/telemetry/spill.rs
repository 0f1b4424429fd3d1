//! A sink's spill file (`<data_dir>/telemetry/<sink>.spill`): messages that could not be sent,
//! one per line, in order, replayed before anything newer once the sink is back. It survives
//! restarts; its size is bounded (`spill_max_mb`), past which messages are dropped and counted.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::PathBuf;

pub struct Spill {
    path: PathBuf,
    bytes: u64,
    max_bytes: u64,
}

impl Spill {
    /// Opens the spill file; a last line cut short by a crash is dropped (it would otherwise
    /// block the replay of everything after it).
    pub fn open(path: PathBuf, max_bytes: u64) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let bytes = match std::fs::read(&path) {
            Ok(content) => {
                let whole = content
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1);
                if whole < content.len() {
                    tracing::warn!(path = %path.display(), bytes = content.len() - whole, "telemetry spill file ends with a partial event (a crash while writing); dropped");
                    OpenOptions::new()
                        .write(true)
                        .open(&path)?
                        .set_len(whole as u64)?;
                }
                whole as u64
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        Ok(Self {
            path,
            bytes,
            max_bytes,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends messages; returns how many did not fit (dropped).
    pub fn append(&mut self, messages: &[String]) -> std::io::Result<usize> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let mut buf = Vec::new();
        let mut dropped = 0;
        for m in messages {
            let len = m.len() as u64 + 1;
            if self.bytes + buf.len() as u64 + len > self.max_bytes {
                dropped += 1;
                continue;
            }
            buf.extend_from_slice(m.replace('\n', " ").as_bytes());
            buf.push(b'\n');
        }
        if let Err(e) = file.write_all(&buf).and_then(|_| file.sync_data()) {
            // Never leave half an event behind: it would corrupt the next one.
            let _ = file.set_len(self.bytes);
            return Err(e);
        }
        self.bytes += buf.len() as u64;
        Ok(dropped)
    }

    /// Up to `max` messages from byte `offset` on, and the offset after them.
    pub fn read_from(&self, offset: u64, max: usize) -> std::io::Result<(Vec<String>, u64)> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(e),
        };
        file.seek(SeekFrom::Start(offset))?;
        let mut reader = BufReader::new(file);
        let mut out = Vec::new();
        let mut at = offset;
        let mut line = String::new();
        while out.len() < max {
            line.clear();
            let n = reader.read_line(&mut line)?;
            if n == 0 || !line.ends_with('\n') {
                break;
            }
            at += n as u64;
            out.push(line.trim_end_matches('\n').to_string());
        }
        Ok((out, at))
    }

    /// Everything up to `offset` was delivered: keep only what follows it.
    pub fn consume(&mut self, offset: u64) -> std::io::Result<()> {
        if offset >= self.bytes {
            File::create(&self.path)?.sync_all()?;
            self.bytes = 0;
            return Ok(());
        }
        let tmp = self.path.with_extension("spill.tmp");
        {
            let mut src = File::open(&self.path)?;
            src.seek(SeekFrom::Start(offset))?;
            let mut dst = File::create(&tmp)?;
            std::io::copy(&mut src, &mut dst)?;
            dst.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        self.bytes -= offset;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_replays_in_order_and_bounds_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t/siem.spill");
        let mut s = Spill::open(path.clone(), 30).unwrap();
        assert!(s.is_empty());
        let msgs: Vec<String> = (0..5).map(|i| format!("message-{i}")).collect();
        assert_eq!(
            s.append(&msgs).unwrap(),
            2,
            "three 10-byte lines fit in 30 bytes"
        );
        let (got, at) = s.read_from(0, 1).unwrap();
        assert_eq!(got, ["message-0"]);
        s.consume(at).unwrap();
        // Survives a reopen.
        let mut s = Spill::open(path, 30).unwrap();
        let (got, at) = s.read_from(0, 10).unwrap();
        assert_eq!(got, ["message-1", "message-2"]);
        s.consume(at).unwrap();
        assert!(s.is_empty());
    }

    #[test]
    fn a_partial_last_line_is_dropped_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("siem.spill");
        std::fs::write(&path, "one\ntwo\nthr").unwrap();
        let s = Spill::open(path.clone(), 1 << 20).unwrap();
        assert_eq!(s.bytes(), 8);
        assert_eq!(s.read_from(0, 10).unwrap().0, ["one", "two"]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }
}
