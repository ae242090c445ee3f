//! The offset store: the position pgcdc resumes from, kept in a backend (a file, a Kafka
//! topic) that it only ever moves forward.

use super::{OffsetBackend, OffsetError, Staged, StoredOffset};
use crate::lsn::Lsn;
use crate::offsets::incremental::IncrementalState;

pub struct OffsetStore {
    backend: Box<dyn OffsetBackend>,
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

impl OffsetStore {
    /// Opens the store and reads the stored position, if any. Blocks (file or network I/O).
    pub fn open(
        mut backend: Box<dyn OffsetBackend>,
        connector: &str,
        slot: &str,
    ) -> Result<Self, OffsetError> {
        let stored = backend.load()?;
        let mut store = OffsetStore {
            backend,
            connector: connector.to_string(),
            slot: slot.to_string(),
            last: None,
            snapshot_completed: false,
            incremental: None,
            staged: None,
        };
        if let Some(o) = stored {
            store.last = Some(o.lsn);
            store.snapshot_completed = o.snapshot_completed;
            store.incremental = o.incremental;
        }
        Ok(store)
    }

    /// Where the offsets are, for messages ("offsets file ...", "offsets topic ...").
    pub fn location(&self) -> String {
        self.backend.location()
    }

    /// What an operator does to make pgcdc forget the stored position.
    pub fn reset_hint(&self) -> String {
        self.backend.reset_hint()
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
    /// [`OffsetStore::store`] it may move the position anywhere: a new snapshot is a new
    /// baseline (e.g. after the slot was recreated).
    pub fn store_snapshot_completed(&mut self, resume: Lsn) -> Result<(), OffsetError> {
        self.write(resume, true)
    }

    /// Takes over a position recorded elsewhere (the offset record committed to Kafka in
    /// exactly-once mode) when it is further along than this store, which is written after it.
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
        self.backend.save(&rec)?;
        self.last = Some(lsn);
        self.snapshot_completed = snapshot_completed;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::offsets::OffsetFile;

    fn open(path: &Path, connector: &str, slot: &str) -> OffsetStore {
        OffsetStore::open(
            Box::new(OffsetFile::new(path, connector, slot)),
            connector,
            slot,
        )
        .unwrap()
    }

    #[test]
    fn round_trips_and_never_moves_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/c.offsets.json");
        let mut s = open(&path, "c", "slot");
        assert_eq!(s.position(), None);
        assert!(s.store(Lsn(100)).unwrap());
        assert!(!s.store(Lsn(50)).unwrap());
        assert!(!s.store(Lsn(100)).unwrap());
        assert_eq!(open(&path, "c", "slot").position(), Some(Lsn(100)));
    }

    #[test]
    fn snapshot_flag_survives_stream_positions_and_old_files_lack_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        // A file written before snapshots existed.
        std::fs::write(
            &path,
            r#"{"connector":"c","slot":"s","lsn":"0/10","lsn_int":16,"updated_ms":1}"#,
        )
        .unwrap();
        let mut s = open(&path, "c", "s");
        assert_eq!(s.position(), Some(Lsn(16)));
        assert!(!s.snapshot_completed());
        // A new snapshot may move the position backwards: it is a new baseline.
        s.store_snapshot_completed(Lsn(8)).unwrap();
        assert!(s.store(Lsn(9)).unwrap());
        let again = open(&path, "c", "s");
        assert_eq!(again.position(), Some(Lsn(9)));
        assert!(again.snapshot_completed());
    }

    #[test]
    fn adopts_only_positions_further_along() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        let mut s = open(&path, "c", "s");
        s.store(Lsn(50)).unwrap();
        assert!(!s.adopt(&s.record(Lsn(40), false)).unwrap());
        assert!(s.adopt(&s.record(Lsn(40), true)).unwrap());
        assert_eq!(s.position(), Some(Lsn(50)), "the flag never moves it back");
        assert!(s.adopt(&s.record(Lsn(70), false)).unwrap());
        let again = open(&path, "c", "s");
        assert_eq!(again.position(), Some(Lsn(70)));
        assert!(again.snapshot_completed());
    }

    #[test]
    fn incremental_state_is_written_with_its_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        let mut s = open(&path, "c", "s");
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
        assert_eq!(open(&path, "c", "s").incremental(), None);
        s.store(Lsn(30)).unwrap();
        let again = open(&path, "c", "s");
        assert_eq!(again.incremental(), Some(&state));
        assert_eq!(again.position(), Some(Lsn(30)));
        // A state reached at the stored position is written without moving it.
        let idle = IncrementalState {
            signal_file_offset: 99,
            ..Default::default()
        };
        staged.stage(Lsn(0), idle.clone());
        assert!(!s.store(Lsn(30)).unwrap());
        assert_eq!(open(&path, "c", "s").incremental(), Some(&idle));
        // Snapshot completion and the offset record keep it.
        s.store_snapshot_completed(Lsn(5)).unwrap();
        assert_eq!(s.record(Lsn(5), true).incremental, Some(idle));
    }
}
