//! A file-backed offset store: JSON, replaced atomically (write temp, fsync, rename, fsync dir),
//! so a crash leaves either the old or the new position, never a torn file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{OffsetError, Staged, StoredOffset};
use crate::lsn::Lsn;
use crate::offsets::incremental::IncrementalState;

pub struct FileOffsetStore {
    path: PathBuf,
    connector: String,
    slot: String,
    /// Last written position: writes never move it backwards.
    last: Option<Lsn>,
    snapshot_completed: bool,
    /// The incremental snapshot state last written.
    incremental: Option<IncrementalState>,
    /// States waiting for their checkpoint (see [`Staged`]).
    staged: Option<Staged>,
}

impl FileOffsetStore {
    /// Opens the store and reads the stored position, if any.
    pub fn open(path: &Path, connector: &str, slot: &str) -> Result<Self, OffsetError> {
        let mut store = FileOffsetStore {
            path: path.to_path_buf(),
            connector: connector.to_string(),
            slot: slot.to_string(),
            last: None,
            snapshot_completed: false,
            incremental: None,
            staged: None,
        };
        if let Some(o) = store.read()? {
            store.last = Some(o.lsn);
            store.snapshot_completed = o.snapshot_completed;
            store.incremental = o.incremental;
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored resume position; `None` on first start.
    pub fn position(&self) -> Option<Lsn> {
        self.last
    }

    /// Whether a snapshot was completed (all its records acknowledged) for this connector.
    pub fn snapshot_completed(&self) -> bool {
        self.snapshot_completed
    }

    /// The stored incremental snapshot state.
    pub fn incremental(&self) -> Option<&IncrementalState> {
        self.incremental.as_ref()
    }

    /// From now on, every write takes the newest incremental state staged before its
    /// position.
    pub fn set_staged(&mut self, staged: Option<Staged>) {
        self.staged = staged;
    }

    fn read(&self) -> Result<Option<StoredOffset>, OffsetError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(OffsetError::Read {
                    path: self.path.display().to_string(),
                    source,
                })
            }
        };
        let stored: StoredOffset =
            serde_json::from_str(&text).map_err(|e| OffsetError::Corrupt {
                path: self.path.display().to_string(),
                reason: e.to_string(),
            })?;
        if stored.lsn.as_u64() != stored.lsn_int {
            return Err(OffsetError::Corrupt {
                path: self.path.display().to_string(),
                reason: format!("lsn {} and lsn_int {} disagree", stored.lsn, stored.lsn_int),
            });
        }
        if stored.connector != self.connector || stored.slot != self.slot {
            return Err(OffsetError::WrongOwner {
                path: self.path.display().to_string(),
                found: stored.connector,
                found_slot: stored.slot,
                expected: self.connector.clone(),
            });
        }
        Ok(Some(stored))
    }

    /// Durably records `lsn`. A position at or below the stored one is a no-op, so callers can
    /// never move progress backwards.
    pub fn store(&mut self, lsn: Lsn) -> Result<bool, OffsetError> {
        let incremental = self.staged.as_ref().and_then(|s| s.settle(lsn));
        let changed = incremental.is_some() && incremental != self.incremental;
        if changed {
            self.incremental = incremental;
        }
        if self.last.is_some_and(|l| lsn <= l) {
            if changed {
                // A state reached at an already stored position (a signal acted on while
                // idle): stored without moving the position.
                let last = self.last.expect("checked");
                self.write(last, self.snapshot_completed)?;
            }
            return Ok(false);
        }
        self.write(lsn, self.snapshot_completed)?;
        Ok(true)
    }

    /// Records a completed snapshot with the position streaming resumes from. Unlike
    /// [`FileOffsetStore::store`] it may move the position anywhere: a new snapshot is a new
    /// baseline (e.g. after the slot was recreated).
    pub fn store_snapshot_completed(&mut self, resume: Lsn) -> Result<(), OffsetError> {
        self.write(resume, true)
    }

    /// Takes over a position recorded elsewhere (the offset record committed to Kafka in
    /// exactly-once mode) when it is further along than this file, which is written after it.
    pub fn adopt(&mut self, o: &StoredOffset) -> Result<bool, OffsetError> {
        let ahead = self.last.is_none_or(|l| o.lsn > l);
        let snapshot = o.snapshot_completed && !self.snapshot_completed;
        if !ahead && !snapshot {
            return Ok(false);
        }
        let lsn = self.last.map_or(o.lsn, |l| l.max(o.lsn));
        if ahead {
            self.incremental = o.incremental.clone();
        }
        self.write(lsn, self.snapshot_completed || o.snapshot_completed)?;
        Ok(true)
    }

    /// The record this store would write for `lsn`.
    pub fn record(&self, lsn: Lsn, snapshot_completed: bool) -> StoredOffset {
        let mut o = StoredOffset::new(&self.connector, &self.slot, lsn, snapshot_completed);
        o.incremental = self.incremental.clone();
        o
    }

    fn write(&mut self, lsn: Lsn, snapshot_completed: bool) -> Result<(), OffsetError> {
        let rec = self.record(lsn, snapshot_completed);
        let err = |source| OffsetError::Write {
            path: self.path.display().to_string(),
            source,
        };
        let mut body = serde_json::to_vec_pretty(&rec).expect("offset record serializes");
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
        File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
        self.last = Some(lsn);
        self.snapshot_completed = snapshot_completed;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_never_moves_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/c.offsets.json");
        let mut s = FileOffsetStore::open(&path, "c", "slot").unwrap();
        assert_eq!(s.position(), None);
        assert!(s.store(Lsn(100)).unwrap());
        assert!(!s.store(Lsn(50)).unwrap());
        assert!(!s.store(Lsn(100)).unwrap());
        let again = FileOffsetStore::open(&path, "c", "slot").unwrap();
        assert_eq!(again.position(), Some(Lsn(100)));
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"lsn\": \"0/64\""), "{text}");
    }

    #[test]
    fn snapshot_flag_survives_stream_positions_and_old_files_lack_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        // A file written before snapshots existed.
        fs::write(
            &path,
            r#"{"connector":"c","slot":"s","lsn":"0/10","lsn_int":16,"updated_ms":1}"#,
        )
        .unwrap();
        let mut s = FileOffsetStore::open(&path, "c", "s").unwrap();
        assert_eq!(s.position(), Some(Lsn(16)));
        assert!(!s.snapshot_completed());
        // A new snapshot may move the position backwards: it is a new baseline.
        s.store_snapshot_completed(Lsn(8)).unwrap();
        assert!(s.store(Lsn(9)).unwrap());
        let again = FileOffsetStore::open(&path, "c", "s").unwrap();
        assert_eq!(again.position(), Some(Lsn(9)));
        assert!(again.snapshot_completed());
    }

    #[test]
    fn adopts_only_positions_further_along() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        let mut s = FileOffsetStore::open(&path, "c", "s").unwrap();
        s.store(Lsn(50)).unwrap();
        assert!(!s.adopt(&s.record(Lsn(40), false)).unwrap());
        assert!(s.adopt(&s.record(Lsn(40), true)).unwrap());
        assert_eq!(s.position(), Some(Lsn(50)), "the flag never moves it back");
        assert!(s.adopt(&s.record(Lsn(70), false)).unwrap());
        let again = FileOffsetStore::open(&path, "c", "s").unwrap();
        assert_eq!(again.position(), Some(Lsn(70)));
        assert!(again.snapshot_completed());
    }

    #[test]
    fn incremental_state_is_written_with_its_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        let mut s = FileOffsetStore::open(&path, "c", "s").unwrap();
        s.store(Lsn(10)).unwrap();
        let staged = Staged::new(None);
        s.set_staged(Some(staged.clone()));
        let state = IncrementalState {
            rows: 7,
            ..Default::default()
        };
        staged.stage(Lsn(20), state.clone());
        // The checkpoint at 20 is not after the state's position: not yet.
        s.store(Lsn(20)).unwrap();
        assert_eq!(
            FileOffsetStore::open(&path, "c", "s")
                .unwrap()
                .incremental(),
            None
        );
        s.store(Lsn(30)).unwrap();
        let again = FileOffsetStore::open(&path, "c", "s").unwrap();
        assert_eq!(again.incremental(), Some(&state));
        assert_eq!(again.position(), Some(Lsn(30)));
        // A state reached at the stored position is written without moving it.
        let idle = IncrementalState {
            signal_file_offset: 99,
            ..Default::default()
        };
        staged.stage(Lsn(0), idle.clone());
        assert!(!s.store(Lsn(30)).unwrap());
        assert_eq!(
            FileOffsetStore::open(&path, "c", "s")
                .unwrap()
                .incremental(),
            Some(&idle)
        );
        // Snapshot completion and the offset record keep it.
        s.store_snapshot_completed(Lsn(5)).unwrap();
        assert_eq!(s.record(Lsn(5), true).incremental, Some(idle));
    }

    #[test]
    fn refuses_a_file_of_another_connector() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        FileOffsetStore::open(&path, "a", "s")
            .unwrap()
            .store(Lsn(1))
            .unwrap();
        let err = FileOffsetStore::open(&path, "b", "s").err().unwrap();
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
        let err = FileOffsetStore::open(&path, "a", "s").err().unwrap();
        assert!(err.to_string().contains("is not valid"), "{err}");
    }
}
