//! `[snapshot]`: whether and how the tables' existing rows are read before streaming.

use serde::{Deserialize, Serialize};

use crate::config::error::Violation;

/// Upper bound for `snapshot.parallelism`: each worker holds a database connection.
pub const MAX_SNAPSHOT_PARALLELISM: usize = 64;

/// `[snapshot]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotConfig {
    /// `snapshot.mode`. Default `initial`.
    pub mode: SnapshotMode,
    /// Database connections reading the snapshot at once, each a chunk of a table at a time.
    /// Default 2.
    pub parallelism: usize,
    /// Size of one chunk, in heap pages (8 KiB each by default): tables are split into ctid
    /// ranges of this many pages. Default 4096 (32 MiB).
    pub chunk_pages: u32,
    /// How often progress (rows, rows/s, ETA) and the WAL the slot holds back are logged while
    /// a snapshot runs, when no progress bar is shown. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub progress_interval: std::time::Duration,
    /// Debezium `incremental.snapshot.chunk.size`: rows per chunk of an incremental snapshot.
    /// Default 1024.
    pub incremental_chunk_size: u32,
    /// Debezium `read.only`: incremental snapshots write nothing to the database; a chunk's
    /// window closes when the stream passes the WAL position read right after the chunk, so
    /// they work on a standby or without INSERT on the signal table. Default false.
    pub incremental_read_only: bool,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig {
            mode: SnapshotMode::Initial,
            parallelism: 2,
            chunk_pages: 4096,
            progress_interval: std::time::Duration::from_secs(5),
            incremental_chunk_size: 1024,
            incremental_read_only: false,
        }
    }
}

/// Debezium's `snapshot.mode` values that apply to pgcdc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotMode {
    /// Snapshot when no offsets are stored (first start, or an interrupted first snapshot),
    /// then stream.
    Initial,
    /// Never snapshot; stream only.
    NoData,
    /// Snapshot at every start of pgcdc, then stream from the stored position.
    Always,
    /// Snapshot unless a completed one is recorded, then exit without streaming.
    InitialOnly,
    /// Like `initial`, and also when the stored position can no longer be resumed (the slot
    /// was dropped or consumed past it): the slot is then recreated.
    WhenNeeded,
}

impl SnapshotConfig {
    pub(crate) fn validate(&self) -> Result<(), Violation> {
        if self.parallelism == 0 || self.parallelism > MAX_SNAPSHOT_PARALLELISM {
            return Err(Violation::new(
                "snapshot.parallelism",
                format!(
                    "{} must be 1 to {MAX_SNAPSHOT_PARALLELISM} (database connections reading at once)",
                    self.parallelism
                ),
            ));
        }
        if self.chunk_pages == 0 {
            return Err(Violation::new(
                "snapshot.chunk_pages",
                "must be at least 1 (heap pages per chunk, e.g. 4096)",
            ));
        }
        if self.progress_interval.is_zero() {
            return Err(Violation::new(
                "snapshot.progress_interval",
                "must be longer than zero (e.g. \"5s\")",
            ));
        }
        if self.incremental_chunk_size == 0 {
            return Err(Violation::new(
                "snapshot.incremental_chunk_size",
                "must be at least 1 (rows per incremental snapshot chunk, e.g. 1024)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked() {
        let mut c = SnapshotConfig::default();
        c.validate().unwrap();
        c.parallelism = 0;
        assert_eq!(c.validate().unwrap_err().key, "snapshot.parallelism");
        c.parallelism = MAX_SNAPSHOT_PARALLELISM + 1;
        assert_eq!(c.validate().unwrap_err().key, "snapshot.parallelism");
        c.parallelism = 1;
        c.chunk_pages = 0;
        assert_eq!(c.validate().unwrap_err().key, "snapshot.chunk_pages");
        c.chunk_pages = 1;
        c.incremental_chunk_size = 0;
        assert_eq!(
            c.validate().unwrap_err().key,
            "snapshot.incremental_chunk_size"
        );
    }
}
