//! Offsets in a local file: JSON, replaced atomically (write temp, fsync, rename, fsync dir),
//! so a crash leaves either the old or the new position, never a torn file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{OffsetBackend, OffsetError, StoredOffset};

pub struct OffsetFile {
    path: PathBuf,
    connector: String,
    slot: String,
}

impl OffsetFile {
    pub fn new(path: &Path, connector: &str, slot: &str) -> Self {
        OffsetFile {
            path: path.to_path_buf(),
            connector: connector.to_string(),
            slot: slot.to_string(),
        }
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

impl OffsetBackend for OffsetFile {
    fn location(&self) -> String {
        format!("offsets file {}", self.path.display())
    }

    fn reset_hint(&self) -> String {
        format!("delete the offsets file {}", self.path.display())
    }

    fn load(&mut self) -> Result<Option<StoredOffset>, OffsetError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(OffsetError::Read {
                    path: self.name(),
                    source,
                })
            }
        };
        let stored: StoredOffset =
            serde_json::from_str(&text).map_err(|e| OffsetError::Corrupt {
                path: self.name(),
                reason: e.to_string(),
            })?;
        if stored.lsn.as_u64() != stored.lsn_int {
            return Err(OffsetError::Corrupt {
                path: self.name(),
                reason: format!("lsn {} and lsn_int {} disagree", stored.lsn, stored.lsn_int),
            });
        }
        if stored.connector != self.connector || stored.slot != self.slot {
            return Err(OffsetError::WrongOwner {
                path: self.name(),
                found: stored.connector,
                found_slot: stored.slot,
                expected: self.connector.clone(),
            });
        }
        Ok(Some(stored))
    }

    fn save(&mut self, offset: &StoredOffset) -> Result<(), OffsetError> {
        let err = |source| OffsetError::Write {
            path: self.name(),
            source,
        };
        let mut body = serde_json::to_vec_pretty(offset).expect("offset record serializes");
        body.push(b'\n');
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(err)?;
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&tmp)
                .map_err(err)?;
            f.write_all(&body).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        fs::rename(&tmp, &self.path).map_err(err)?;
        // The rename is only durable once the directory entry is.
        File::open(dir).and_then(|d| d.sync_all()).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsn::Lsn;

    #[test]
    fn round_trips_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/c.offsets.json");
        let mut f = OffsetFile::new(&path, "c", "slot");
        assert_eq!(f.load().unwrap(), None);
        let rec = StoredOffset::new("c", "slot", Lsn(100), true);
        f.save(&rec).unwrap();
        assert_eq!(f.load().unwrap(), Some(rec));
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"lsn\": \"0/64\""), "{text}");
    }

    #[test]
    fn refuses_a_file_of_another_connector() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        OffsetFile::new(&path, "a", "s")
            .save(&StoredOffset::new("a", "s", Lsn(1), false))
            .unwrap();
        let err = OffsetFile::new(&path, "b", "s").load().err().unwrap();
        assert!(
            err.to_string().contains("belongs to connector \"a\""),
            "{err}"
        );
    }

    #[test]
    fn reports_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        fs::write(&path, "{not json").unwrap();
        let err = OffsetFile::new(&path, "a", "s").load().err().unwrap();
        assert!(err.to_string().contains("is not valid"), "{err}");
        fs::write(
            &path,
            r#"{"connector":"a","slot":"s","lsn":"0/10","lsn_int":17,"updated_ms":1}"#,
        )
        .unwrap();
        let err = OffsetFile::new(&path, "a", "s").load().err().unwrap();
        assert!(err.to_string().contains("disagree"), "{err}");
    }
}
