//! Typed pgoutput messages, protocol versions 1 to 4.
//!
//! One value of [`Message`] per XLogData payload. Column data stays in [`Bytes`] slices of the
//! frame it arrived in, so decoding a row allocates only the column vector.
//! Timestamps are PostgreSQL's: microseconds since 2000-01-01 00:00:00 UTC.

use bytes::Bytes;

use crate::lsn::Lsn;

/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
pub const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// A PostgreSQL timestamp: microseconds since 2000-01-01 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct PgTimestamp(pub i64);

impl PgTimestamp {
    pub fn unix_micros(self) -> i64 {
        self.0.saturating_add(PG_EPOCH_OFFSET_MICROS)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Begin(Begin),
    Commit(Commit),
    Origin(Origin),
    Relation(Relation),
    Type(Type),
    Insert(Insert),
    Update(Update),
    Delete(Delete),
    Truncate(Truncate),
    Message(LogicalMessage),
    StreamStart(StreamStart),
    StreamStop,
    StreamCommit(StreamCommit),
    StreamAbort(StreamAbort),
    BeginPrepare(PrepareInfo),
    Prepare(PrepareInfo),
    CommitPrepared(CommitPrepared),
    RollbackPrepared(RollbackPrepared),
    StreamPrepare(PrepareInfo),
}

/// 'B': start of a transaction (sent at commit time, unless streamed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// LSN of the commit record.
    pub final_lsn: Lsn,
    pub commit_ts: PgTimestamp,
    pub xid: u32,
}

/// 'C': end of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub flags: u8,
    /// LSN of the commit record.
    pub commit_lsn: Lsn,
    /// LSN just past the commit record: the position to confirm once the transaction is durable.
    pub end_lsn: Lsn,
    pub commit_ts: PgTimestamp,
}

/// 'O': the transaction came from another node through replication origin `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub commit_lsn: Lsn,
    pub name: String,
}

/// REPLICA IDENTITY of a relation: which old values an UPDATE/DELETE carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// 'd': primary key columns.
    Default,
    /// 'n': nothing.
    Nothing,
    /// 'f': all columns.
    Full,
    /// 'i': the columns of a chosen unique index.
    Index,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Bit 1 set: the column is part of the replica-identity key.
    pub flags: u8,
    pub name: String,
    pub type_oid: u32,
    /// atttypmod: -1 when the type has no modifier.
    pub type_modifier: i32,
}

impl Column {
    pub fn is_key(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// 'R': the shape of a table, sent before its first change in a session and after DDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Set when the message belongs to a streamed (in-progress) transaction.
    pub xid: Option<u32>,
    pub oid: u32,
    pub namespace: String,
    pub name: String,
    pub replica_identity: ReplicaIdentity,
    pub columns: Vec<Column>,
}

/// 'Y': a non-builtin type used by a following Relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type {
    pub xid: Option<u32>,
    pub oid: u32,
    pub namespace: String,
    pub name: String,
}

/// One column value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    /// 'n'
    Null,
    /// 'u': a TOASTed value that the change did not touch, so the WAL does not carry it.
    UnchangedToast,
    /// 't': the type's text output.
    Text(Bytes),
    /// 'b': the type's binary send output (only with `binary 'true'`).
    Binary(Bytes),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TupleData(pub Vec<TupleValue>);

/// The old row an UPDATE or DELETE carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldTuple {
    /// 'K': only the replica-identity key columns are meaningful (others are null).
    Key(TupleData),
    /// 'O': the whole old row (REPLICA IDENTITY FULL).
    Old(TupleData),
}

impl OldTuple {
    pub fn data(&self) -> &TupleData {
        match self {
            OldTuple::Key(t) | OldTuple::Old(t) => t,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    pub xid: Option<u32>,
    pub relation_oid: u32,
    pub new: TupleData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub xid: Option<u32>,
    pub relation_oid: u32,
    pub old: Option<OldTuple>,
    pub new: TupleData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    pub xid: Option<u32>,
    pub relation_oid: u32,
    pub old: OldTuple,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    pub xid: Option<u32>,
    /// Bit 1: CASCADE; bit 2: RESTART IDENTITY.
    pub options: u8,
    pub relation_oids: Vec<u32>,
}

/// 'M': `pg_logical_emit_message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalMessage {
    pub xid: Option<u32>,
    /// Bit 1 set: transactional.
    pub flags: u8,
    pub lsn: Lsn,
    pub prefix: String,
    pub content: Bytes,
}

impl LogicalMessage {
    pub fn transactional(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// 'S': start of a block of a streamed in-progress transaction (protocol >= 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStart {
    pub xid: u32,
    pub first_segment: bool,
}

/// 'c': a streamed transaction committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCommit {
    pub xid: u32,
    pub flags: u8,
    pub commit_lsn: Lsn,
    pub end_lsn: Lsn,
    pub commit_ts: PgTimestamp,
}

/// 'A': a streamed (sub)transaction aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAbort {
    pub xid: u32,
    pub subxid: u32,
    /// Present with protocol 4 (parallel streaming).
    pub abort_lsn: Option<Lsn>,
    pub abort_ts: Option<PgTimestamp>,
}

/// 'b' Begin Prepare, 'P' Prepare and 'p' Stream Prepare share one layout (protocol >= 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepareInfo {
    /// Zero for Begin Prepare, which has no flags byte.
    pub flags: u8,
    pub prepare_lsn: Lsn,
    pub end_lsn: Lsn,
    pub prepare_ts: PgTimestamp,
    pub xid: u32,
    pub gid: String,
}

/// 'K': a prepared transaction committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPrepared {
    pub flags: u8,
    pub commit_lsn: Lsn,
    pub end_lsn: Lsn,
    pub commit_ts: PgTimestamp,
    pub xid: u32,
    pub gid: String,
}

/// 'r': a prepared transaction rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackPrepared {
    pub flags: u8,
    pub prepare_end_lsn: Lsn,
    pub rollback_end_lsn: Lsn,
    pub prepare_ts: PgTimestamp,
    pub rollback_ts: PgTimestamp,
    pub xid: u32,
    pub gid: String,
}
