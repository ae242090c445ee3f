//! The offset store: where pgcdc remembers how far the sink has acknowledged.
//!
//! The stored LSN means "every change whose WAL record starts before this position is in the
//! sink". It is written durably before the position is confirmed to PostgreSQL, so the slot
//! never moves past what the store knows; on restart the stream resumes from it. Where it is
//! written is an [`OffsetBackend`]: a local file, or a Kafka topic.

mod file;
pub mod incremental;
pub mod kafka;
mod staged;
mod store;

pub use file::OffsetFile;
pub use staged::Staged;
pub use store::OffsetStore;

use crate::lsn::Lsn;
use crate::offsets::incremental::IncrementalState;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredOffset {
    /// The connector that wrote it, to catch two connectors pointed at one file.
    pub connector: String,
    pub slot: String,
    /// Resume position, `X/X`.
    pub lsn: Lsn,
    /// The same position as an integer, as Debezium writes `lsn` in its offsets.
    pub lsn_int: u64,
    /// Unix milliseconds of the write, for operators.
    pub updated_ms: u64,
    /// An initial snapshot was taken and every one of its records acknowledged by Kafka.
    /// Files written before snapshots existed lack it: no snapshot was recorded.
    #[serde(default)]
    pub snapshot_completed: bool,
    /// The incremental snapshot and signal file position at this checkpoint. Files written
    /// before incremental snapshots existed lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<IncrementalState>,
}

impl StoredOffset {
    pub fn new(connector: &str, slot: &str, lsn: Lsn, snapshot_completed: bool) -> Self {
        let updated_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        StoredOffset {
            connector: connector.to_string(),
            slot: slot.to_string(),
            lsn,
            lsn_int: lsn.as_u64(),
            updated_ms,
            snapshot_completed,
            incremental: None,
        }
    }
}

/// Where stored offsets live. Both calls block (file or network I/O): call them off the async
/// workers, e.g. inside `tokio::task::block_in_place`.
pub trait OffsetBackend: Send {
    /// For messages: "offsets file /var/lib/pgcdc/c.offsets.json".
    fn location(&self) -> String;
    /// What an operator does to make pgcdc forget the stored position.
    fn reset_hint(&self) -> String;
    /// The stored record of this connector and slot; `None` before the first write.
    fn load(&mut self) -> Result<Option<StoredOffset>, OffsetError>;
    /// Stores `offset` durably: it is what `load` returns from then on.
    fn save(&mut self, offset: &StoredOffset) -> Result<(), OffsetError>;
}

#[derive(Debug, thiserror::Error)]
pub enum OffsetError {
    #[error("could not read offsets file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("offsets file {path} is not valid ({reason}): restore it from a backup, or delete it to start from the slot's position")]
    Corrupt { path: String, reason: String },
    #[error("offsets file {path} belongs to connector {found:?} (slot {found_slot:?}), not {expected:?}: give each connector its own offsets.path")]
    WrongOwner {
        path: String,
        found: String,
        found_slot: String,
        expected: String,
    },
    #[error("offsets topic {topic}: {reason}: check that the brokers are reachable and sink.offsets_topic is right")]
    Kafka { topic: String, reason: String },
    #[error("could not write offsets file {path}: {source}: check that the data directory is writable and the disk has room")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl OffsetError {
    /// Reading or writing offset records in Kafka may work once the brokers are back; a file that
    /// cannot be read or written needs an operator.
    pub fn is_transient(&self) -> bool {
        matches!(self, OffsetError::Kafka { .. })
    }
}
