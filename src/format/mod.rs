//! Serializers: change events → records (topic, key bytes, value bytes, headers).
//!
//! Every path that publishes (the stream, both snapshots, heartbeats, transaction metadata)
//! turns its events into records through a [`Serializer`] made by [`FormatSettings::build`],
//! and [`encode_transformed`] runs the `[[transforms]]` first. A new format is one module
//! implementing [`Serializer`] and one `[format] type`.

pub mod avro;
pub mod json;
mod settings;

use std::sync::Arc;

pub use settings::FormatSettings;

use crate::event::ChangeEvent;
use crate::transforms::TransformChain;

/// One Kafka header: a name and a value, `None` for a header without a value. Both are
/// reference-counted so that headers on every record (Debezium's context headers) are shared,
/// not copied per record.
pub type Header = (Arc<str>, Option<bytes::Bytes>);

/// One Kafka record. `value: None` is a tombstone; `key: None` a null key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: Arc<str>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// Names and values; `None` is a header without a value (what Kafka Connect writes for a
    /// null header value).
    pub headers: Vec<Header>,
    /// Sent as the `pgcdc.event.id` header; set by the pipeline, which knows the WAL position.
    pub event_id: Option<EventId>,
}

/// Turns transformed events into records. One per thread of work (the stream, each snapshot
/// worker): serializers keep per-table caches and are not shared.
pub trait Serializer: Send + Sync {
    /// Appends the record(s) of `ev` to `out`: its change record, and a tombstone after a
    /// delete when the event asks for one.
    fn encode(&mut self, ev: &ChangeEvent, out: &mut Vec<Record>) -> Result<(), FormatError>;

    /// Debezium's heartbeat record for `topic`, keyed by the connector's `topic_prefix`.
    fn heartbeat(
        &self,
        topic: String,
        topic_prefix: &str,
        ts_ms: i64,
    ) -> Result<Record, FormatError>;
}

/// Runs `ev` through `chain` and appends the record(s) of what is left.
pub fn encode_transformed(
    chain: &TransformChain,
    format: &mut dyn Serializer,
    ev: ChangeEvent,
    out: &mut Vec<Record>,
) -> Result<(), FormatError> {
    if chain.is_empty() {
        return format.encode(&ev, out);
    }
    match chain.apply(ev)? {
        Some(ev) => format.encode(&ev, out),
        None => Ok(()),
    }
}

/// Adds the headers every serializer puts on `record` of `ev`: Debezium's context headers on
/// table events (tombstones included, not messages or transaction metadata), then the ones
/// transforms added to the event.
pub fn add_headers(record: &mut Record, ev: &ChangeEvent, context: &[Header]) {
    if ev.table().is_some() {
        record.headers.extend(context.iter().cloned());
    }
    record.headers.extend(
        ev.headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().map(bytes::Bytes::from))),
    );
}

/// Header carrying a record's [`EventId`].
pub const EVENT_ID_HEADER: &str = "pgcdc.event.id";

/// Identifies a record by where it comes from, so that the same record published again (after
/// a restart, or a retry) has the same id and consumers can drop replays.
///
/// A record of the stream: the commit LSN of its transaction and its index among the records
/// published for that transaction (for a non-transactional logical message: the message's LSN
/// and 0), written `<lsn>:<index>`. A row of the initial snapshot: the snapshot's LSN, the
/// table's place in the snapshot plan, the chunk, and the row's place in that chunk, written
/// `<lsn>:<table>.<chunk>.<row>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId {
    pub lsn: crate::lsn::Lsn,
    pub index: u64,
    /// For a snapshot row: where its chunk is in the snapshot plan.
    pub chunk: Option<SnapshotChunk>,
}

/// A chunk of the initial snapshot: the table's index in the plan and the chunk's in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnapshotChunk {
    pub table: u32,
    pub chunk: u32,
}

impl EventId {
    /// Longest text form: `FFFFFFFF/FFFFFFFF:4294967295.4294967295.18446744073709551615`.
    pub const MAX_LEN: usize = 60;

    /// A record of the stream.
    pub fn wal(lsn: crate::lsn::Lsn, index: u64) -> Self {
        EventId {
            lsn,
            index,
            chunk: None,
        }
    }

    /// Row `row` of a snapshot chunk read at `lsn`.
    pub fn snapshot_row(lsn: crate::lsn::Lsn, chunk: SnapshotChunk, row: u64) -> Self {
        EventId {
            lsn,
            index: row,
            chunk: Some(chunk),
        }
    }

    /// Writes the text form into `buf` without allocating; returns the bytes written.
    pub fn write_to(self, buf: &mut [u8; Self::MAX_LEN]) -> &[u8] {
        use std::io::Write;
        let mut cur = std::io::Cursor::new(&mut buf[..]);
        // Cannot fail: MAX_LEN fits the longest form.
        let _ = write!(cur, "{self}");
        let n = cur.position() as usize;
        &buf[..n]
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.chunk {
            None => write!(f, "{}:{}", self.lsn, self.index),
            Some(c) => write!(f, "{}:{}.{}.{}", self.lsn, c.table, c.chunk, self.index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsn::Lsn;

    #[test]
    fn event_id_text() {
        let mut buf = [0u8; EventId::MAX_LEN];
        let id = EventId::wal(Lsn(0x16_B374_D848), 3);
        assert_eq!(id.write_to(&mut buf), b"16/B374D848:3");
        let row =
            EventId::snapshot_row(Lsn(0x16_B374_D848), SnapshotChunk { table: 1, chunk: 4 }, 7);
        assert_eq!(row.write_to(&mut buf), b"16/B374D848:1.4.7");
        let max = EventId::snapshot_row(
            Lsn(u64::MAX),
            SnapshotChunk {
                table: u32::MAX,
                chunk: u32::MAX,
            },
            u64::MAX,
        );
        assert_eq!(max.write_to(&mut buf), max.to_string().as_bytes());
        assert_eq!(max.to_string().len(), EventId::MAX_LEN);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error(transparent)]
    Transform(#[from] crate::transforms::TransformError),
    #[error("cannot serialize event at {lsn} for topic {topic}: {reason}")]
    Unsupported {
        topic: String,
        lsn: crate::lsn::Lsn,
        reason: String,
    },
    #[error("schema registry, subject {subject}: {reason}")]
    Registry {
        subject: String,
        reason: String,
        /// The registry could not be reached or failed (5xx): the same request may work later.
        transient: bool,
    },
}

impl FormatError {
    /// Worth retrying from the last durable position: the registry was unreachable.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            FormatError::Registry {
                transient: true,
                ..
            }
        )
    }
}
