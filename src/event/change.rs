//! One Debezium change event, independent of the wire format.

use std::sync::Arc;

use bytes::Bytes;

use super::relation::TableSchema;
use super::value::Value;
use crate::lsn::Lsn;

/// Column values in the table's column order (or key order for keys).
pub type Row = Vec<Value>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Create,
    Update,
    Delete,
    Truncate,
    Message,
}

impl Op {
    /// The envelope's `op` code.
    pub fn code(self) -> &'static str {
        match self {
            Op::Read => "r",
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Truncate => "t",
            Op::Message => "m",
        }
    }
}

/// `source.snapshot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotMarker {
    #[default]
    False,
    True,
    First,
    Last,
    FirstInDataCollection,
    LastInDataCollection,
    /// A row read by an incremental snapshot while streaming.
    Incremental,
}

impl SnapshotMarker {
    /// Debezium's marker for a snapshot row, by its place in the snapshot: the last row of the
    /// snapshot wins over the first, and both over the per-table ones.
    pub fn for_read(
        first_in_snapshot: bool,
        last_in_snapshot: bool,
        first_in_table: bool,
        last_in_table: bool,
    ) -> Self {
        if last_in_snapshot {
            SnapshotMarker::Last
        } else if first_in_snapshot {
            SnapshotMarker::First
        } else if last_in_table {
            SnapshotMarker::LastInDataCollection
        } else if first_in_table {
            SnapshotMarker::FirstInDataCollection
        } else {
            SnapshotMarker::True
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotMarker::False => "false",
            SnapshotMarker::True => "true",
            SnapshotMarker::First => "first",
            SnapshotMarker::Last => "last",
            SnapshotMarker::FirstInDataCollection => "first_in_data_collection",
            SnapshotMarker::LastInDataCollection => "last_in_data_collection",
            SnapshotMarker::Incremental => "incremental",
        }
    }
}

/// Connector-wide identity written into every `source` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorInfo {
    /// `source.name`: the topic prefix.
    pub name: String,
    /// `source.db`.
    pub db: String,
}

/// The `source` block (schema/table come from the event body).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    pub connector: Arc<ConnectorInfo>,
    /// Commit time of the transaction, microseconds since the Unix epoch.
    pub commit_ts_micros: i64,
    pub snapshot: SnapshotMarker,
    /// End of the last committed transaction seen (first half of `sequence`).
    pub last_commit_lsn: Option<Lsn>,
    /// This change's WAL position (`lsn`, second half of `sequence`).
    pub lsn: Lsn,
    pub xid: Option<u32>,
    pub origin: Option<Arc<str>>,
    pub origin_lsn: Option<Lsn>,
}

impl SourceInfo {
    /// The `lsn` field: Debezium leaves it null on incremental snapshot rows (their position
    /// is only in `sequence`).
    pub fn lsn_field(&self) -> Option<Lsn> {
        (self.snapshot != SnapshotMarker::Incremental).then_some(self.lsn)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    /// A row change (or truncate) on a table topic.
    Change {
        table: Arc<TableSchema>,
        op: Op,
        before: Option<Row>,
        after: Option<Row>,
    },
    /// The tombstone following a delete: the delete's key, null value.
    Tombstone { table: Arc<TableSchema> },
    /// A `pg_logical_emit_message` message.
    Message { prefix: String, content: Bytes },
    /// A BEGIN or END record of `provide.transaction.metadata` (`<prefix>.transaction`).
    Transaction(TxRecord),
    /// A row flattened by the unwrap transform (Debezium's `ExtractNewRecordState`): the value
    /// is the row's struct followed by `extra` fields, or a null value carrying the row's
    /// schema when `row` is `None`.
    Flat {
        table: Arc<TableSchema>,
        /// The operation of the change this row came from.
        op: Op,
        row: Option<Row>,
        extra: Vec<Value>,
        layout: Arc<FlatLayout>,
        /// Fields left out of this record (`drop.fields.header.name`); usually `None`.
        dropped: Option<Arc<DroppedFields>>,
    },
}

/// Positions of fields a transform removed from one record, with their schema fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DroppedFields {
    /// Positions in the flattened row (value columns; appended fields are never dropped).
    pub value: Vec<usize>,
    /// Positions in the key row.
    pub key: Vec<usize>,
}

impl DroppedFields {
    pub fn is_empty(&self) -> bool {
        self.value.is_empty() && self.key.is_empty()
    }
}

/// The fields a flattening transform appends to every row, shared by all its events.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatLayout {
    /// Unique per transform instance, so serializers can cache per (table, layout).
    pub id: u64,
    /// Appended fields in order; `extra` values follow it.
    pub fields: Vec<super::schema::Field>,
}

/// `status` of a transaction metadata record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    Begin,
    End,
}

impl TxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TxStatus::Begin => "BEGIN",
            TxStatus::End => "END",
        }
    }
}

/// The value of a BEGIN/END record (`io.debezium.connector.common.TransactionMetadataValue`);
/// `id` is also the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRecord {
    pub status: TxStatus,
    /// `<txId>:<LSN>`.
    pub id: String,
    /// END only: events emitted in the transaction.
    pub event_count: Option<u64>,
    /// END only: events per data collection, in Debezium's order.
    pub data_collections: Option<Vec<(String, u64)>>,
    /// Commit time, milliseconds since the Unix epoch.
    pub ts_ms: i64,
}

/// The envelope's `transaction` block (`event.block`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxBlock {
    /// `<txId>:<LSN of this event>`.
    pub id: String,
    pub total_order: u64,
    pub data_collection_order: u64,
}

/// Which header a primary-key change carries, with the other side's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHeaderKind {
    /// `__debezium.newkey` on the delete (and its tombstone).
    NewKey,
    /// `__debezium.oldkey` on the create.
    OldKey,
}

impl KeyHeaderKind {
    pub fn header_name(self) -> &'static str {
        match self {
            KeyHeaderKind::NewKey => "__debezium.newkey",
            KeyHeaderKind::OldKey => "__debezium.oldkey",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub topic: Arc<str>,
    pub body: EventBody,
    /// Key field values in key order; `None` for a null key.
    pub key: Option<Row>,
    pub source: SourceInfo,
    /// Processing time (top-level `ts_*`), nanoseconds since the Unix epoch.
    pub ts_nanos: i64,
    pub key_header: Option<(KeyHeaderKind, Row)>,
    /// The change's position, for logging.
    pub lsn: Lsn,
    /// Headers added by transforms, after the key-change and context headers; values in
    /// Connect's `SimpleHeaderConverter` form, `None` for a null value.
    pub headers: Vec<(Arc<str>, Option<Vec<u8>>)>,
    /// The envelope's `transaction` block (`provide.transaction.metadata`).
    pub transaction: Option<TxBlock>,
}

impl ChangeEvent {
    /// The table this event belongs to, if any.
    pub fn table(&self) -> Option<&Arc<TableSchema>> {
        match &self.body {
            EventBody::Change { table, .. }
            | EventBody::Tombstone { table }
            | EventBody::Flat { table, .. } => Some(table),
            EventBody::Message { .. } | EventBody::Transaction(_) => None,
        }
    }

    /// The envelope's `op`, `None` for tombstones.
    pub fn op(&self) -> Option<Op> {
        match &self.body {
            EventBody::Change { op, .. } | EventBody::Flat { op, .. } => Some(*op),
            EventBody::Tombstone { .. } | EventBody::Transaction(_) => None,
            EventBody::Message { .. } => Some(Op::Message),
        }
    }
}
