//! The file channel (Debezium's `signal.file`): one JSON signal per line, appended by
//! `pgcdc snapshot` or anyone else, read while streaming. The byte offset of the first line not
//! yet acted on is stored with the offsets, so a restart does not run consumed lines again.

use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::Signal;

/// A line longer than this is not a signal; it is skipped with an error instead of being
/// read into memory whole.
const MAX_LINE: u64 = 1 << 20;

/// What one poll found.
#[derive(Debug, Default, PartialEq)]
pub struct Polled {
    /// Each complete line's signal (or why it is not one), in file order.
    pub signals: Vec<Result<Signal, String>>,
    /// The offset after the last complete line read.
    pub offset: u64,
}

#[derive(Debug)]
pub struct FileChannel {
    path: PathBuf,
    offset: u64,
}

impl FileChannel {
    /// Reads `path` from `offset` on (the stored position of the first unread line).
    pub fn new(path: &Path, offset: u64) -> Self {
        FileChannel {
            path: path.to_path_buf(),
            offset,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The complete lines appended since the last poll. A missing file has no lines; a file
    /// shorter than the offset was replaced and is read from its start.
    pub fn poll(&mut self) -> std::io::Result<Polled> {
        let mut f = match fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Polled {
                    signals: Vec::new(),
                    offset: self.offset,
                })
            }
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        if len < self.offset {
            tracing::warn!(file = %self.path.display(), offset = self.offset, len, "signal file is shorter than the consumed offset (replaced?); reading it from the start");
            self.offset = 0;
        }
        f.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        f.take(len - self.offset).read_to_end(&mut buf)?;
        let mut signals = Vec::new();
        let mut consumed = 0usize;
        while let Some(nl) = buf[consumed..].iter().position(|&b| b == b'\n') {
            let line = &buf[consumed..consumed + nl];
            consumed += nl + 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if line.len() as u64 > MAX_LINE {
                signals.push(Err(format!("line of {} bytes is too long", line.len())));
                continue;
            }
            signals.push(serde_json::from_slice::<Signal>(line).map_err(|e| e.to_string()));
        }
        self.offset += consumed as u64;
        Ok(Polled {
            signals,
            offset: self.offset,
        })
    }
}

/// Appends one signal as a line (creating the file and its directory), fsynced.
pub fn append(path: &Path, signal: &Signal) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_vec(signal).expect("signal serializes");
    line.push(b'\n');
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(&line)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(id: &str) -> Signal {
        Signal {
            id: id.into(),
            kind: "pause-snapshot".into(),
            data: String::new(),
        }
    }

    #[test]
    fn reads_complete_lines_once_and_resumes_at_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/c.signals");
        let mut ch = FileChannel::new(&path, 0);
        assert_eq!(ch.poll().unwrap().signals.len(), 0);
        append(&path, &sig("a")).unwrap();
        append(&path, &sig("b")).unwrap();
        // A line still being written is left for later.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"not json\n{\"id\":\"c\"")
            .unwrap();
        let p = ch.poll().unwrap();
        assert_eq!(p.signals.len(), 3);
        assert_eq!(p.signals[0].as_ref().unwrap().id, "a");
        assert_eq!(p.signals[1].as_ref().unwrap().id, "b");
        assert!(p.signals[2].is_err());
        assert!(ch.poll().unwrap().signals.is_empty());
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b",\"type\":\"resume-snapshot\"}\n")
            .unwrap();
        let p = ch.poll().unwrap();
        assert_eq!(p.signals.len(), 1);
        assert_eq!(p.signals[0].as_ref().unwrap().kind, "resume-snapshot");
        // A restart from the stored offset sees nothing old.
        let mut again = FileChannel::new(&path, p.offset);
        assert!(again.poll().unwrap().signals.is_empty());
        // A replaced, shorter file is read from its start.
        fs::write(&path, b"{\"id\":\"z\",\"type\":\"x\"}\n").unwrap();
        let p = again.poll().unwrap();
        assert_eq!(p.signals[0].as_ref().unwrap().id, "z");
    }
}
