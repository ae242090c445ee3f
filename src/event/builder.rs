//! Turns decoded pgoutput messages into Debezium change events.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::change::{
    ChangeEvent, ConnectorInfo, EventBody, KeyHeaderKind, Op, Row, SnapshotMarker, SourceInfo,
};
use super::convert;
use super::relation::{RelationCache, TableSchema};
use super::value::Value;
use super::{EventConfig, EventError};
use crate::lsn::Lsn;
use crate::source::catalog::{EnumLabels, TableInfo};
use crate::source::pgoutput::{
    Delete, Insert, LogicalMessage, Message, OldTuple, PgTimestamp, Truncate, TupleData,
    TupleValue, Update,
};

/// How much of an offending value an error message quotes.
const ERROR_TEXT_LIMIT: usize = 100;

#[derive(Debug, Clone)]
struct Txn {
    xid: u32,
    commit_ts: PgTimestamp,
    origin: Option<(Arc<str>, Lsn)>,
}

/// Where and when a snapshot was taken; the same for every row it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPoint {
    /// `source.lsn`: the WAL position the snapshot is consistent with.
    pub lsn: Lsn,
    /// `source.txId`: the snapshot transaction.
    pub xid: Option<u32>,
    /// `source.ts_ms`: when the snapshot started, microseconds since the Unix epoch.
    pub ts_micros: i64,
}

/// Stateful event builder for one replication stream: tracks Relation/Type messages and the
/// current transaction, and produces 0..n events per message.
pub struct EventBuilder {
    cfg: EventConfig,
    connector: Arc<ConnectorInfo>,
    relations: RelationCache,
    message_topic: Arc<str>,
    placeholder: Bytes,
    txn: Option<Txn>,
    last_commit_lsn: Option<Lsn>,
    last_commit_ts: Option<PgTimestamp>,
    /// Values that fail to convert become null instead of an error (see
    /// [`EventBuilder::handle_with_nulls`]).
    lenient: bool,
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A snapshot row's event, and the error of a value that could not be converted (then
/// written as null in the event).
pub type ReadRow = (ChangeEvent, Option<EventError>);

impl EventBuilder {
    pub fn new(cfg: EventConfig) -> Self {
        let connector = Arc::new(ConnectorInfo {
            name: cfg.topic_prefix.clone(),
            db: cfg.database.clone(),
        });
        let message_topic = Arc::from(super::relation::sanitize_topic(&format!(
            "{}.message",
            cfg.topic_prefix
        )));
        let placeholder = Bytes::from(cfg.unavailable_value_placeholder.clone().into_bytes());
        let mut relations = RelationCache::with_column_filter(cfg.column_filter.clone());
        relations.set_key_columns(cfg.key_columns.clone());
        relations.set_masks(cfg.masks.clone());
        EventBuilder {
            cfg,
            connector,
            relations,
            message_topic,
            placeholder,
            txn: None,
            last_commit_lsn: None,
            last_commit_ts: None,
            lenient: false,
        }
    }

    /// Seeds the first half of `source.sequence` when resuming from stored offsets.
    pub fn set_last_commit_lsn(&mut self, lsn: Option<Lsn>) {
        self.last_commit_lsn = lsn;
    }

    /// Catalog facts for a table (key columns, NOT NULL, defaults); applies from the table's
    /// next Relation message.
    pub fn set_table_info(&mut self, schema: &str, table: &str, info: TableInfo) {
        self.relations.set_table_info(schema, table, info);
    }

    /// Labels of an enum type, so its columns get Debezium's `io.debezium.data.Enum` schema.
    pub fn set_enum_labels(&mut self, type_oid: u32, labels: Vec<String>) {
        self.relations.set_enum_labels(type_oid, labels);
    }

    /// Element labels of an array-of-enum type (`mood[]`).
    pub fn set_enum_array_labels(&mut self, type_oid: u32, labels: Vec<String>) {
        self.relations.set_enum_array_labels(type_oid, labels);
    }

    /// What the catalog says about a type's labels (nothing to do for a type that is not an
    /// enum or an array of one).
    pub fn set_type_labels(&mut self, type_oid: u32, labels: EnumLabels) {
        match labels {
            EnumLabels::Enum(l) => self.set_enum_labels(type_oid, l),
            EnumLabels::ArrayOfEnum(l) => self.set_enum_array_labels(type_oid, l),
            EnumLabels::NotEnum => {}
        }
    }

    /// The schema built from the last Relation message for `oid`.
    pub fn table(&self, oid: u32) -> Option<&Arc<TableSchema>> {
        self.relations.get(oid)
    }

    /// Feeds one decoded message; `wal_start` is the XLogData position it arrived at (the
    /// change's LSN). Appends 0..n events to `out`; on error nothing is appended.
    pub fn handle(
        &mut self,
        wal_start: Lsn,
        msg: &Message,
        out: &mut Vec<ChangeEvent>,
    ) -> Result<(), EventError> {
        let mark = out.len();
        let result = self.dispatch(wal_start, msg, out);
        if result.is_err() {
            out.truncate(mark);
        }
        result
    }

    /// Like [`EventBuilder::handle`] for a row change whose values failed to convert: builds it
    /// with every unconvertible value as null. The result is not a faithful event; it only
    /// tells where the change would have gone (topic, key) so that a failure can be reported
    /// or dead-lettered.
    pub fn handle_with_nulls(
        &mut self,
        wal_start: Lsn,
        msg: &Message,
        out: &mut Vec<ChangeEvent>,
    ) -> Result<(), EventError> {
        self.lenient = true;
        let r = self.handle(wal_start, msg, out);
        self.lenient = false;
        r
    }

    fn dispatch(
        &mut self,
        lsn: Lsn,
        msg: &Message,
        out: &mut Vec<ChangeEvent>,
    ) -> Result<(), EventError> {
        match msg {
            Message::Begin(b) => {
                self.txn = Some(Txn {
                    xid: b.xid,
                    commit_ts: b.commit_ts,
                    origin: None,
                });
                Ok(())
            }
            Message::Commit(c) => {
                // Debezium's "last commit LSN" is the position of the Commit message, which
                // pgoutput sends at the end of the commit record.
                self.last_commit_lsn = Some(c.end_lsn);
                self.last_commit_ts = Some(c.commit_ts);
                self.txn = None;
                Ok(())
            }
            Message::Origin(o) => {
                if let Some(txn) = self.txn.as_mut() {
                    txn.origin = Some((Arc::from(o.name.as_str()), o.commit_lsn));
                }
                Ok(())
            }
            Message::Relation(r) => {
                let table = self.relations.apply_relation(
                    r,
                    &self.cfg.topic_prefix,
                    &self.placeholder,
                    &self.cfg.modes,
                );
                tracing::debug!(
                    relation = r.oid,
                    topic = %table.topic,
                    columns = table.columns.len(),
                    "relation schema updated"
                );
                Ok(())
            }
            Message::Type(t) => {
                self.relations.apply_type(t);
                Ok(())
            }
            Message::Insert(m) => self.insert(lsn, m, out),
            Message::Update(m) => self.update(lsn, m, out),
            Message::Delete(m) => self.delete(lsn, m, out),
            Message::Truncate(m) => self.truncate(lsn, m, out),
            Message::Message(m) => self.message(lsn, m, out),
            Message::StreamStart(_)
            | Message::StreamStop
            | Message::StreamCommit(_)
            | Message::StreamAbort(_)
            | Message::StreamPrepare(_) => Err(EventError::Unsupported {
                what: "streamed in-progress transactions; connect without the streaming option",
            }),
            Message::BeginPrepare(_)
            | Message::Prepare(_)
            | Message::CommitPrepared(_)
            | Message::RollbackPrepared(_) => Err(EventError::Unsupported {
                what: "two-phase transactions; connect without the two_phase option",
            }),
        }
    }

    /// A snapshot read (`op: "r"`) of one row of `table`, whose values come in the table's
    /// column order as output-function text (what COPY ... TO in text format gives once
    /// unescaped, and what pgoutput sends). Only needs `&self`, so snapshot workers can share
    /// one builder.
    pub fn snapshot_read(
        &self,
        table: &Arc<TableSchema>,
        tuple: &TupleData,
        point: &SnapshotPoint,
        marker: SnapshotMarker,
    ) -> Result<ChangeEvent, EventError> {
        self.snapshot_row(table, tuple, point, marker, false)
    }

    /// [`EventBuilder::snapshot_read`], except that a value that cannot be converted does not
    /// fail it: the row is built with such values as null (not a faithful event, only its
    /// topic and key are) and the error is returned beside it, for `[errors]` to decide.
    pub fn snapshot_read_or_nulls(
        &self,
        table: &Arc<TableSchema>,
        tuple: &TupleData,
        point: &SnapshotPoint,
        marker: SnapshotMarker,
    ) -> Result<ReadRow, EventError> {
        match self.snapshot_row(table, tuple, point, marker, false) {
            Ok(ev) => Ok((ev, None)),
            Err(e @ EventError::Value { .. }) => {
                let ev = self.snapshot_row(table, tuple, point, marker, true)?;
                Ok((ev, Some(e)))
            }
            Err(e) => Err(e),
        }
    }

    fn snapshot_row(
        &self,
        table: &Arc<TableSchema>,
        tuple: &TupleData,
        point: &SnapshotPoint,
        marker: SnapshotMarker,
        lenient: bool,
    ) -> Result<ChangeEvent, EventError> {
        let after = self.row_with_old(table, tuple, None, lenient)?;
        let key = Self::key_of(table, &after);
        let source = SourceInfo {
            connector: self.connector.clone(),
            commit_ts_micros: point.ts_micros,
            snapshot: marker,
            last_commit_lsn: None,
            lsn: point.lsn,
            xid: point.xid,
            origin: None,
            origin_lsn: None,
        };
        Ok(self.change(
            table,
            source,
            now_nanos(),
            Op::Read,
            key,
            None,
            Some(after),
            None,
        ))
    }

    fn txn(&self, what: &'static str, lsn: Lsn, xid: Option<u32>) -> Result<&Txn, EventError> {
        if xid.is_some() {
            return Err(EventError::Unsupported {
                what: "changes of streamed in-progress transactions",
            });
        }
        self.txn
            .as_ref()
            .ok_or(EventError::OutsideTransaction { what, lsn })
    }

    fn table_for(&self, oid: u32) -> Result<Arc<TableSchema>, EventError> {
        self.relations
            .get(oid)
            .cloned()
            .ok_or(EventError::UnknownRelation { oid })
    }

    fn source(&self, txn: &Txn, lsn: Lsn) -> SourceInfo {
        SourceInfo {
            connector: self.connector.clone(),
            commit_ts_micros: txn.commit_ts.unix_micros(),
            snapshot: SnapshotMarker::False,
            last_commit_lsn: self.last_commit_lsn,
            lsn,
            xid: Some(txn.xid),
            origin: txn.origin.as_ref().map(|(n, _)| n.clone()),
            origin_lsn: txn.origin.as_ref().map(|(_, l)| *l),
        }
    }

    fn row(&self, table: &TableSchema, tuple: &TupleData) -> Result<Row, EventError> {
        self.row_with_old(table, tuple, None, self.lenient)
    }

    /// Like [`Self::row`], but an unchanged TOASTed value is taken from `old` (the whole old
    /// row under REPLICA IDENTITY FULL) when it is there, as Debezium does.
    fn row_with_old(
        &self,
        table: &TableSchema,
        tuple: &TupleData,
        old: Option<&TupleData>,
        lenient: bool,
    ) -> Result<Row, EventError> {
        if tuple.0.len() != table.columns.len() {
            return Err(EventError::ColumnCount {
                table: qualified(table),
                got: tuple.0.len(),
                expected: table.columns.len(),
            });
        }
        let mut row = Vec::with_capacity(tuple.0.len());
        for (i, (col, v)) in table.columns.iter().zip(&tuple.0).enumerate() {
            let v = match (v, old.and_then(|o| o.0.get(i))) {
                (TupleValue::UnchangedToast, Some(full @ TupleValue::Text(_))) => full,
                (v, _) => v,
            };
            if !table.is_emitted(i) {
                // Left out by the column filter (and not a key column): never converted, so a
                // value its type cannot hold does not fail the event, as in Debezium.
                row.push(Value::Null);
                continue;
            }
            row.push(match v {
                TupleValue::Null => Value::Null,
                TupleValue::UnchangedToast => match &col.toast {
                    Some(p) => p.clone(),
                    None => {
                        tracing::warn!(
                            table = %qualified(table),
                            column = %col.name,
                            "unchanged TOAST value of a type without a placeholder; emitting null"
                        );
                        Value::Null
                    }
                },
                TupleValue::Text(text) => match convert::convert(&col.conv, text) {
                    Ok(v) => v,
                    Err(e) if convert::emits_null(&e) => {
                        // Debezium logs and emits null for the whole column (an array
                        // holding a NaN included).
                        tracing::warn!(
                            table = %qualified(table),
                            column = %col.name,
                            value = %String::from_utf8_lossy(text),
                            reason = e.0,
                            "value has no representation in the column's type; emitting null"
                        );
                        Value::Null
                    }
                    Err(_) if lenient => Value::Null,
                    Err(e) => {
                        return Err(EventError::Value {
                            table: qualified(table),
                            column: col.name.clone(),
                            type_name: col.type_label.clone(),
                            text: truncate_text(text),
                            expected: e.0,
                        })
                    }
                },
                TupleValue::Binary(_) => {
                    return Err(EventError::Unsupported {
                        what: "binary-format column values; connect without binary 'true'",
                    })
                }
            });
        }
        Ok(row)
    }

    fn key_of(table: &TableSchema, row: &Row) -> Option<Row> {
        if table.key_indices.is_empty() {
            return None;
        }
        Some(table.key_indices.iter().map(|&i| row[i].clone()).collect())
    }

    #[allow(clippy::too_many_arguments)]
    fn change(
        &self,
        table: &Arc<TableSchema>,
        source: SourceInfo,
        ts_nanos: i64,
        op: Op,
        key: Option<Row>,
        before: Option<Row>,
        after: Option<Row>,
        key_header: Option<(KeyHeaderKind, Row)>,
    ) -> ChangeEvent {
        let lsn = source.lsn;
        ChangeEvent {
            topic: table.topic.clone(),
            body: EventBody::Change {
                table: table.clone(),
                op,
                before: before.map(|r| table.project(r)),
                after: after.map(|r| table.project(r)),
            },
            key,
            source,
            ts_nanos,
            key_header,
            lsn,
            headers: Vec::new(),
            transaction: None,
        }
    }

    /// A delete event followed, if configured, by its tombstone (same key and headers).
    fn push_delete(&self, out: &mut Vec<ChangeEvent>, table: &Arc<TableSchema>, ev: ChangeEvent) {
        let tombstone = self.cfg.tombstones_on_delete.then(|| ChangeEvent {
            topic: ev.topic.clone(),
            body: EventBody::Tombstone {
                table: table.clone(),
            },
            key: ev.key.clone(),
            source: ev.source.clone(),
            ts_nanos: ev.ts_nanos,
            key_header: ev.key_header.clone(),
            lsn: ev.lsn,
            headers: Vec::new(),
            transaction: None,
        });
        out.push(ev);
        out.extend(tombstone);
    }

    fn insert(&self, lsn: Lsn, m: &Insert, out: &mut Vec<ChangeEvent>) -> Result<(), EventError> {
        let txn = self.txn("insert", lsn, m.xid)?;
        let table = self.table_for(m.relation_oid)?;
        let after = self.row(&table, &m.new)?;
        let key = Self::key_of(&table, &after);
        let source = self.source(txn, lsn);
        out.push(self.change(
            &table,
            source,
            now_nanos(),
            Op::Create,
            key,
            None,
            Some(after),
            None,
        ));
        Ok(())
    }

    fn update(&self, lsn: Lsn, m: &Update, out: &mut Vec<ChangeEvent>) -> Result<(), EventError> {
        let txn = self.txn("update", lsn, m.xid)?;
        let table = self.table_for(m.relation_oid)?;
        let full_old = match &m.old {
            Some(OldTuple::Old(t)) => Some(t),
            _ => None,
        };
        let after = self.row_with_old(&table, &m.new, full_old, self.lenient)?;
        let new_key = Self::key_of(&table, &after);
        let before = match &m.old {
            Some(old) => Some(self.row(&table, old.data())?),
            None => None,
        };
        let source = self.source(txn, lsn);
        let ts = now_nanos();
        if self.cfg.skip_messages_without_change {
            // Debezium compares the value structs before looking at key changes; without an
            // old row (REPLICA IDENTITY DEFAULT) nothing is skipped.
            if let Some(b) = &before {
                if table.same_value(b, &after) {
                    tracing::debug!(table = %qualified(&table), lsn = %lsn, "update without change in captured columns skipped");
                    return Ok(());
                }
            }
        }
        let old_key = before.as_ref().and_then(|b| Self::key_of(&table, b));
        match (before, old_key, new_key) {
            (Some(before), Some(old_key), Some(new_key)) if old_key != new_key => {
                // Primary-key change: delete (+ tombstone) under the old key, create under the new.
                let delete = self.change(
                    &table,
                    source.clone(),
                    ts,
                    Op::Delete,
                    Some(old_key.clone()),
                    Some(before),
                    None,
                    Some((KeyHeaderKind::NewKey, new_key.clone())),
                );
                self.push_delete(out, &table, delete);
                out.push(self.change(
                    &table,
                    source,
                    ts,
                    Op::Create,
                    Some(new_key),
                    None,
                    Some(after),
                    Some((KeyHeaderKind::OldKey, old_key)),
                ));
            }
            (before, _, new_key) => out.push(self.change(
                &table,
                source,
                ts,
                Op::Update,
                new_key,
                before,
                Some(after),
                None,
            )),
        }
        Ok(())
    }

    fn delete(&self, lsn: Lsn, m: &Delete, out: &mut Vec<ChangeEvent>) -> Result<(), EventError> {
        let txn = self.txn("delete", lsn, m.xid)?;
        let table = self.table_for(m.relation_oid)?;
        let before = self.row(&table, m.old.data())?;
        let key = Self::key_of(&table, &before);
        let source = self.source(txn, lsn);
        let ev = self.change(
            &table,
            source,
            now_nanos(),
            Op::Delete,
            key,
            Some(before),
            None,
            None,
        );
        self.push_delete(out, &table, ev);
        Ok(())
    }

    fn truncate(
        &self,
        lsn: Lsn,
        m: &Truncate,
        out: &mut Vec<ChangeEvent>,
    ) -> Result<(), EventError> {
        let txn = self.txn("truncate", lsn, m.xid)?;
        if !self.cfg.emit_truncate {
            return Ok(());
        }
        let ts = now_nanos();
        for &oid in &m.relation_oids {
            let table = self.table_for(oid)?;
            let source = self.source(txn, lsn);
            out.push(self.change(&table, source, ts, Op::Truncate, None, None, None, None));
        }
        Ok(())
    }

    fn message(
        &mut self,
        wal_start: Lsn,
        m: &LogicalMessage,
        out: &mut Vec<ChangeEvent>,
    ) -> Result<(), EventError> {
        let lsn = if m.lsn.is_zero() { wal_start } else { m.lsn };
        let source = if m.transactional() {
            let txn = self.txn("transactional logical message", lsn, m.xid)?;
            self.source(txn, lsn)
        } else {
            // Debezium treats a non-transactional message as its own commit (it becomes the
            // "last commit") and stamps it with the last commit time it saw.
            self.last_commit_lsn = Some(lsn);
            let commit_ts = self
                .last_commit_ts
                .map(PgTimestamp::unix_micros)
                .unwrap_or_else(|| now_nanos() / 1000);
            SourceInfo {
                connector: self.connector.clone(),
                commit_ts_micros: commit_ts,
                snapshot: SnapshotMarker::False,
                last_commit_lsn: Some(lsn),
                lsn,
                xid: None,
                origin: None,
                origin_lsn: None,
            }
        };
        if !self.cfg.message_filter.matches(&m.prefix) {
            tracing::debug!(prefix = %m.prefix, lsn = %lsn, "logical message filtered out by prefix");
            return Ok(());
        }
        out.push(ChangeEvent {
            topic: self.message_topic.clone(),
            body: EventBody::Message {
                prefix: m.prefix.clone(),
                content: m.content.clone(),
            },
            key: None,
            source,
            ts_nanos: now_nanos(),
            key_header: None,
            lsn,
            headers: Vec::new(),
            transaction: None,
        });
        Ok(())
    }
}

fn qualified(table: &TableSchema) -> String {
    format!("{}.{}", table.schema_name, table.table_name)
}

fn truncate_text(text: &[u8]) -> String {
    let shown = &text[..text.len().min(ERROR_TEXT_LIMIT)];
    let mut s = String::from_utf8_lossy(shown).into_owned();
    if text.len() > ERROR_TEXT_LIMIT {
        s.push_str(&format!("... ({} bytes)", text.len()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::pgoutput::{
        Begin, Column, Commit, OldTuple, Origin, Relation, ReplicaIdentity,
    };

    fn rel(oid: u32, key: bool) -> Relation {
        Relation {
            xid: None,
            oid,
            namespace: "s".into(),
            name: "t".into(),
            replica_identity: ReplicaIdentity::Default,
            columns: vec![
                Column {
                    flags: key as u8,
                    name: "id".into(),
                    type_oid: 23,
                    type_modifier: -1,
                },
                Column {
                    flags: 0,
                    name: "d".into(),
                    type_oid: 1082,
                    type_modifier: -1,
                },
            ],
        }
    }

    fn text(v: &[&str]) -> TupleData {
        TupleData(
            v.iter()
                .map(|s| TupleValue::Text(Bytes::copy_from_slice(s.as_bytes())))
                .collect(),
        )
    }

    fn builder(cfg: EventConfig) -> EventBuilder {
        let mut b = EventBuilder::new(cfg);
        let mut out = Vec::new();
        b.handle(Lsn(1), &Message::Relation(rel(10, true)), &mut out)
            .unwrap();
        b.handle(Lsn(1), &Message::Relation(rel(11, false)), &mut out)
            .unwrap();
        b.handle(
            Lsn(2),
            &Message::Begin(Begin {
                final_lsn: Lsn(100),
                commit_ts: PgTimestamp(0),
                xid: 7,
            }),
            &mut out,
        )
        .unwrap();
        assert!(out.is_empty());
        b
    }

    fn insert(oid: u32, v: &[&str]) -> Message {
        Message::Insert(Insert {
            xid: None,
            relation_oid: oid,
            new: text(v),
        })
    }

    fn delete(oid: u32, v: &[&str]) -> Message {
        Message::Delete(Delete {
            xid: None,
            relation_oid: oid,
            old: OldTuple::Key(text(v)),
        })
    }

    #[test]
    fn insert_carries_transaction_and_key() {
        let mut b = builder(EventConfig::new("p", "db"));
        let mut out = Vec::new();
        b.handle(Lsn(50), &insert(10, &["1", "1970-01-02"]), &mut out)
            .unwrap();
        let ev = &out[0];
        assert_eq!(&*ev.topic, "p.s.t");
        assert_eq!(ev.key, Some(vec![Value::Int32(1)]));
        assert_eq!(ev.op(), Some(Op::Create));
        assert_eq!(ev.source.xid, Some(7));
        assert_eq!(ev.source.lsn, Lsn(50));
        assert_eq!(ev.source.last_commit_lsn, None);
        assert_eq!(ev.source.commit_ts_micros, 946_684_800_000_000);
        match &ev.body {
            EventBody::Change {
                after: Some(a),
                before: None,
                ..
            } => {
                assert_eq!(a[1], Value::Int32(1))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn commit_sets_last_commit_lsn_and_origin_resets() {
        let mut b = builder(EventConfig::new("p", "db"));
        let mut out = Vec::new();
        let origin = Message::Origin(Origin {
            commit_lsn: Lsn(999),
            name: "node_a".into(),
        });
        b.handle(Lsn(3), &origin, &mut out).unwrap();
        b.handle(Lsn(50), &insert(10, &["1", "2000-01-01"]), &mut out)
            .unwrap();
        assert_eq!(out[0].source.origin.as_deref(), Some("node_a"));
        assert_eq!(out[0].source.origin_lsn, Some(Lsn(999)));
        let commit = Message::Commit(Commit {
            flags: 0,
            commit_lsn: Lsn(100),
            end_lsn: Lsn(148),
            commit_ts: PgTimestamp(0),
        });
        b.handle(Lsn(148), &commit, &mut out).unwrap();
        let begin = Message::Begin(Begin {
            final_lsn: Lsn(300),
            commit_ts: PgTimestamp(1),
            xid: 8,
        });
        b.handle(Lsn(200), &begin, &mut out).unwrap();
        b.handle(Lsn(210), &insert(10, &["2", "2000-01-01"]), &mut out)
            .unwrap();
        assert_eq!(out[1].source.last_commit_lsn, Some(Lsn(148)));
        assert_eq!(out[1].source.origin, None);
    }

    fn update(old: Option<&[&str]>, new: &[&str]) -> Message {
        Message::Update(Update {
            xid: None,
            relation_oid: 10,
            old: old.map(|o| OldTuple::Old(text(o))),
            new: text(new),
        })
    }

    #[test]
    fn excluded_columns_leave_values_but_not_keys() {
        let filter =
            crate::config::filter::columns::ColumnFilter::new(&[], &["S\\.T\\.(id|x)".into()])
                .unwrap();
        let mut b = builder(EventConfig {
            column_filter: filter,
            ..EventConfig::new("p", "db")
        });
        let mut out = Vec::new();
        b.handle(Lsn(50), &insert(10, &["1", "1970-01-02"]), &mut out)
            .unwrap();
        let table = out[0].table().unwrap().clone();
        assert_eq!(table.value_indices, vec![1]);
        let names: Vec<&str> = table
            .value_schema
            .fields()
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, vec!["d"]);
        assert_eq!(out[0].key, Some(vec![Value::Int32(1)]));
        // Debezium marks the excluded key column optional in the key schema.
        let key_fields = table.key_schema.as_ref().unwrap().fields();
        assert_eq!(key_fields[0].name, "id");
        assert!(key_fields[0].schema.optional);
        match &out[0].body {
            EventBody::Change { after: Some(a), .. } => assert_eq!(a, &vec![Value::Int32(1)]),
            other => panic!("{other:?}"),
        }
        let json = crate::format::json::row_json(&table, &vec![Value::Int32(1)]);
        assert_eq!(json, "{\"d\":1}");
    }

    #[test]
    fn excluded_columns_are_not_converted() {
        let filter =
            crate::config::filter::columns::ColumnFilter::new(&[], &["S\\.T\\.d".into()]).unwrap();
        let mut b = builder(EventConfig {
            column_filter: filter,
            ..EventConfig::new("p", "db")
        });
        let mut out = Vec::new();
        // Not a date: converting it would fail the event, but the column is left out.
        b.handle(Lsn(50), &insert(10, &["1", "not a date"]), &mut out)
            .unwrap();
        assert_eq!(out[0].key, Some(vec![Value::Int32(1)]));
        // Without the filter the same row fails.
        let mut b = builder(EventConfig::new("p", "db"));
        assert!(b
            .handle(Lsn(50), &insert(10, &["1", "not a date"]), &mut Vec::new())
            .is_err());
    }

    #[test]
    fn message_key_columns_replace_the_primary_key() {
        let mut b = builder(EventConfig {
            key_columns: crate::config::filter::key_columns::KeyColumns::parse("S\\.T:d").unwrap(),
            ..EventConfig::new("p", "db")
        });
        let mut out = Vec::new();
        // Table 11 has no key of its own; both get `d` as key.
        b.handle(Lsn(50), &insert(10, &["1", "1970-01-02"]), &mut out)
            .unwrap();
        b.handle(Lsn(51), &insert(11, &["2", "1970-01-03"]), &mut out)
            .unwrap();
        assert_eq!(out[0].key, Some(vec![Value::Int32(1)]));
        assert_eq!(out[1].key, Some(vec![Value::Int32(2)]));
        let t = out[0].table().unwrap();
        assert_eq!(t.key_indices, vec![1]);
        assert_eq!(t.key_schema.as_ref().unwrap().fields()[0].name, "d");
    }

    #[test]
    fn messages_outside_the_prefix_lists_are_dropped() {
        let mut b = builder(EventConfig {
            message_filter: crate::config::filter::message::MessageFilter::new(
                &[],
                &["skip.*".to_string()],
            )
            .unwrap(),
            ..EventConfig::new("p", "db")
        });
        let msg = |prefix: &str| {
            Message::Message(LogicalMessage {
                xid: None,
                flags: 0,
                lsn: Lsn(70),
                prefix: prefix.into(),
                content: Bytes::from_static(b"x"),
            })
        };
        let mut out = Vec::new();
        b.handle(Lsn(70), &msg("skipme"), &mut out).unwrap();
        assert!(out.is_empty());
        // A filtered non-transactional message still counts as the last commit.
        assert_eq!(b.last_commit_lsn, Some(Lsn(70)));
        b.handle(Lsn(71), &msg("keep"), &mut out).unwrap();
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn updates_without_change_are_skipped_only_when_asked() {
        for skip in [false, true] {
            let mut b = builder(EventConfig {
                skip_messages_without_change: skip,
                ..EventConfig::new("p", "db")
            });
            let mut out = Vec::new();
            let same = ["1", "1970-01-02"];
            b.handle(Lsn(60), &update(Some(&same), &same), &mut out)
                .unwrap();
            // No old row (REPLICA IDENTITY DEFAULT): never skipped.
            b.handle(Lsn(61), &update(None, &same), &mut out).unwrap();
            b.handle(
                Lsn(62),
                &update(Some(&same), &["1", "1970-01-03"]),
                &mut out,
            )
            .unwrap();
            let lsns: Vec<u64> = out.iter().map(|e| e.lsn.as_u64()).collect();
            if skip {
                assert_eq!(lsns, vec![61, 62]);
            } else {
                assert_eq!(lsns, vec![60, 61, 62]);
            }
        }
    }

    #[test]
    fn skip_compares_captured_columns_only() {
        let filter =
            crate::config::filter::columns::ColumnFilter::new(&[], &["s\\.t\\.d".into()]).unwrap();
        let mut b = builder(EventConfig {
            column_filter: filter,
            skip_messages_without_change: true,
            ..EventConfig::new("p", "db")
        });
        let mut out = Vec::new();
        b.handle(
            Lsn(60),
            &update(Some(&["1", "1970-01-02"]), &["1", "1999-01-03"]),
            &mut out,
        )
        .unwrap();
        assert!(out.is_empty(), "{out:?}");
        b.handle(
            Lsn(61),
            &update(Some(&["1", "1970-01-02"]), &["2", "1970-01-02"]),
            &mut out,
        )
        .unwrap();
        assert!(!out.is_empty());
    }

    #[test]
    fn unchanged_toast_comes_from_the_full_old_row() {
        let mut b = builder(EventConfig::new("p", "db"));
        let mut out = Vec::new();
        let unchanged_date = |id: &str| {
            TupleData(vec![
                TupleValue::Text(Bytes::copy_from_slice(id.as_bytes())),
                TupleValue::UnchangedToast,
            ])
        };
        let update = |old: Option<OldTuple>| {
            Message::Update(Update {
                xid: None,
                relation_oid: 10,
                old,
                new: unchanged_date("1"),
            })
        };
        // REPLICA IDENTITY FULL: the old row has the value.
        let full = update(Some(OldTuple::Old(text(&["1", "1970-01-03"]))));
        b.handle(Lsn(70), &full, &mut out).unwrap();
        // No old row: the value is unknown (dates have no placeholder, so null).
        b.handle(Lsn(71), &update(None), &mut out).unwrap();
        let after = |ev: &ChangeEvent| match &ev.body {
            EventBody::Change { after: Some(a), .. } => a[1].clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(after(&out[0]), Value::Int32(2));
        assert_eq!(after(&out[1]), Value::Null);
    }

    #[test]
    fn numeric_nan_becomes_null_like_debezium() {
        let mut b = EventBuilder::new(EventConfig::new("p", "db"));
        let mut out = Vec::new();
        let mut r = rel(12, true);
        r.columns[1].type_oid = 1700;
        b.handle(Lsn(1), &Message::Relation(r), &mut out).unwrap();
        let begin = Message::Begin(Begin {
            final_lsn: Lsn(100),
            commit_ts: PgTimestamp(0),
            xid: 7,
        });
        b.handle(Lsn(2), &begin, &mut out).unwrap();
        b.handle(Lsn(3), &insert(12, &["1", "NaN"]), &mut out)
            .unwrap();
        match &out[0].body {
            EventBody::Change { after: Some(a), .. } => assert_eq!(a[1], Value::Null),
            other => panic!("{other:?}"),
        }
        // Anything else that does not parse is still an error.
        assert!(b
            .handle(Lsn(4), &insert(12, &["1", "abc"]), &mut out)
            .is_err());
    }

    #[test]
    fn delete_tombstone_and_null_key() {
        let mut b = builder(EventConfig::new("p", "db"));
        let mut out = Vec::new();
        b.handle(Lsn(60), &delete(11, &["1", "2000-01-01"]), &mut out)
            .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].op(), Some(Op::Delete));
        assert_eq!(out[0].key, None);
        assert!(matches!(out[1].body, EventBody::Tombstone { .. }));
        let mut cfg = EventConfig::new("p", "db");
        cfg.tombstones_on_delete = false;
        let mut b = builder(cfg);
        let mut out = Vec::new();
        b.handle(Lsn(60), &delete(10, &["1", "2000-01-01"]), &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn truncate_only_when_enabled() {
        let trunc = Message::Truncate(Truncate {
            xid: None,
            options: 0,
            relation_oids: vec![10, 11],
        });
        let mut out = Vec::new();
        builder(EventConfig::new("p", "db"))
            .handle(Lsn(70), &trunc, &mut out)
            .unwrap();
        assert!(out.is_empty());
        let mut cfg = EventConfig::new("p", "db");
        cfg.emit_truncate = true;
        builder(cfg).handle(Lsn(70), &trunc, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert!(out
            .iter()
            .all(|e| e.op() == Some(Op::Truncate) && e.key.is_none()));
    }

    #[test]
    fn bad_value_names_table_column_type_and_text() {
        let mut b = builder(EventConfig::new("p", "db"));
        let mut out = Vec::new();
        let err = b
            .handle(Lsn(80), &insert(10, &["1", "2024-02-30x"]), &mut out)
            .unwrap_err();
        let msg = err.to_string();
        for part in ["s.t.d", "date", "2024-02-30x", "expected"] {
            assert!(msg.contains(part), "{msg}");
        }
        assert!(out.is_empty());
        let long = "9".repeat(500);
        let err = b
            .handle(Lsn(80), &insert(10, &[&long, "2000-01-01"]), &mut out)
            .unwrap_err();
        assert!(err.to_string().len() < 400, "offending text is truncated");
    }

    #[test]
    fn snapshot_read_is_an_r_event_at_the_snapshot_point() {
        let b = builder(EventConfig::new("p", "db"));
        let table = b.table(10).unwrap().clone();
        let point = SnapshotPoint {
            lsn: Lsn(4096),
            xid: Some(733),
            ts_micros: 1_700_000_000_000_000,
        };
        let ev = b
            .snapshot_read(
                &table,
                &text(&["5", "2000-01-01"]),
                &point,
                SnapshotMarker::First,
            )
            .unwrap();
        assert_eq!(ev.op(), Some(Op::Read));
        assert_eq!(ev.key, Some(vec![Value::Int32(5)]));
        assert_eq!(ev.source.snapshot, SnapshotMarker::First);
        assert_eq!(ev.source.lsn, Lsn(4096));
        assert_eq!(ev.source.last_commit_lsn, None);
        assert_eq!(ev.source.xid, Some(733));
        assert_eq!(ev.source.commit_ts_micros, point.ts_micros);
        match &ev.body {
            EventBody::Change {
                before: None,
                after: Some(a),
                ..
            } => assert_eq!(a[1], Value::Int32(10957)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            b.snapshot_read(&table, &text(&["5"]), &point, SnapshotMarker::True),
            Err(EventError::ColumnCount { .. })
        ));
    }

    #[test]
    fn snapshot_markers_follow_debezium_priority() {
        use SnapshotMarker as M;
        assert_eq!(M::for_read(true, true, true, true), M::Last);
        assert_eq!(M::for_read(true, false, true, true), M::First);
        assert_eq!(
            M::for_read(false, false, true, true),
            M::LastInDataCollection
        );
        assert_eq!(
            M::for_read(false, false, true, false),
            M::FirstInDataCollection
        );
        assert_eq!(M::for_read(false, false, false, false), M::True);
        assert_eq!(M::LastInDataCollection.as_str(), "last_in_data_collection");
    }

    #[test]
    fn stream_errors() {
        let mut b = builder(EventConfig::new("p", "db"));
        let mut out = Vec::new();
        assert!(matches!(
            b.handle(Lsn(1), &insert(99, &["1", "2000-01-01"]), &mut out),
            Err(EventError::UnknownRelation { oid: 99 })
        ));
        assert!(matches!(
            b.handle(Lsn(1), &insert(10, &["1"]), &mut out),
            Err(EventError::ColumnCount {
                got: 1,
                expected: 2,
                ..
            })
        ));
        assert!(matches!(
            b.handle(Lsn(1), &Message::StreamStop, &mut out),
            Err(EventError::Unsupported { .. })
        ));
        let mut fresh = EventBuilder::new(EventConfig::new("p", "db"));
        fresh
            .handle(Lsn(1), &Message::Relation(rel(10, true)), &mut out)
            .unwrap();
        assert!(matches!(
            fresh.handle(Lsn(5), &insert(10, &["1", "2000-01-01"]), &mut out),
            Err(EventError::OutsideTransaction { .. })
        ));
        assert!(out.is_empty());
    }
}
