//! `provide.transaction.metadata`: BEGIN/END records on `<prefix>.transaction` and the
//! envelope's `transaction` block, as Debezium 3.6.3 emits them.
//!
//! Only counters are kept per transaction (one per data collection), so a huge transaction
//! costs nothing extra. What Debezium does, and this follows (checked by tests/oracle_diff.rs):
//! BEGIN is emitted at the Begin message with id `<xid>:<LSN of the Begin>`; every emitted
//! data event (not tombstones) gets `{id: "<xid>:<its own LSN>", total_order,
//! data_collection_order}`; END at the Commit carries id `<xid>:<commit end LSN>`, the event
//! count and the per-collection counts in the iteration order of Java's `HashMap`; both carry
//! the commit time. Non-transactional logical messages are outside any transaction.

use std::sync::Arc;

use super::change::{
    ChangeEvent, EventBody, SnapshotMarker, SourceInfo, TxBlock, TxRecord, TxStatus,
};
use super::ConnectorInfo;
use crate::lsn::Lsn;

/// Per-stream state of the transaction being emitted.
#[derive(Debug)]
pub struct TxMetadata {
    topic: Arc<str>,
    connector: Arc<ConnectorInfo>,
    /// Data-collection name used for logical messages (Debezium names them by a Java object
    /// identity that is not reproducible: the message topic stands in for it).
    message_collection: String,
    open: Option<OpenTx>,
}

#[derive(Debug)]
struct OpenTx {
    xid: u32,
    commit_ts_micros: i64,
    total: u64,
    /// (collection, count) in first-seen order: Java's `HashMap` order is derived from it.
    collections: Vec<(String, u64)>,
}

impl TxMetadata {
    pub fn new(topic_prefix: &str, database: &str) -> Self {
        TxMetadata {
            connector: Arc::new(ConnectorInfo {
                name: topic_prefix.to_string(),
                db: database.to_string(),
            }),
            topic: Arc::from(super::relation::sanitize_topic(&format!(
                "{topic_prefix}.transaction"
            ))),
            message_collection: super::relation::sanitize_topic(&format!("{topic_prefix}.message")),
            open: None,
        }
    }

    /// At a Begin message (`wal_start`: its XLogData position): the BEGIN record.
    pub fn begin(&mut self, xid: u32, wal_start: Lsn, commit_ts_micros: i64) -> ChangeEvent {
        self.open = Some(OpenTx {
            xid,
            commit_ts_micros,
            total: 0,
            collections: Vec::new(),
        });
        self.record(
            TxRecord {
                status: TxStatus::Begin,
                id: format!("{xid}:{}", wal_start.as_u64()),
                event_count: None,
                data_collections: None,
                ts_ms: commit_ts_micros.div_euclid(1000),
            },
            wal_start,
        )
    }

    /// Gives an emitted event of the open transaction its `transaction` block. Tombstones,
    /// transaction records and events outside a transaction are left alone.
    pub fn on_event(&mut self, ev: &mut ChangeEvent) {
        let Some(tx) = self.open.as_mut() else {
            return;
        };
        if ev.source.xid != Some(tx.xid) {
            return;
        }
        let collection = match &ev.body {
            EventBody::Change { table, .. } | EventBody::Flat { table, .. } => {
                format!("{}.{}", table.schema_name, table.table_name)
            }
            EventBody::Message { .. } => self.message_collection.clone(),
            EventBody::Tombstone { .. } | EventBody::Transaction(_) => return,
        };
        tx.total += 1;
        // Every logical message is a collection of its own in Debezium (a fresh id object).
        let order = match &ev.body {
            EventBody::Message { .. } => {
                tx.collections.push((collection, 1));
                1
            }
            _ => match tx.collections.iter_mut().find(|(c, _)| *c == collection) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    tx.collections.push((collection, 1));
                    1
                }
            },
        };
        ev.transaction = Some(TxBlock {
            id: format!("{}:{}", tx.xid, ev.source.lsn.as_u64()),
            total_order: tx.total,
            data_collection_order: order,
        });
    }

    /// At the Commit message: the END record, if a transaction is open.
    pub fn commit(&mut self, end_lsn: Lsn) -> Option<ChangeEvent> {
        let tx = self.open.take()?;
        let rec = TxRecord {
            status: TxStatus::End,
            id: format!("{}:{}", tx.xid, end_lsn.as_u64()),
            event_count: Some(tx.total),
            data_collections: Some(java_hash_map_order(tx.collections)),
            ts_ms: tx.commit_ts_micros.div_euclid(1000),
        };
        Some(self.record(rec, end_lsn))
    }

    /// Forgets the open transaction (a replayed one whose records are not sent).
    pub fn abandon(&mut self) {
        self.open = None;
    }

    fn record(&self, rec: TxRecord, lsn: Lsn) -> ChangeEvent {
        let xid = self.open.as_ref().map(|t| t.xid);
        let ts_micros = rec.ts_ms * 1000;
        ChangeEvent {
            topic: self.topic.clone(),
            body: EventBody::Transaction(rec),
            key: None,
            source: SourceInfo {
                connector: self.connector.clone(),
                commit_ts_micros: ts_micros,
                snapshot: SnapshotMarker::False,
                last_commit_lsn: None,
                lsn,
                xid,
                origin: None,
                origin_lsn: None,
            },
            ts_nanos: ts_micros.saturating_mul(1000),
            key_header: None,
            lsn,
            headers: Vec::new(),
            transaction: None,
        }
    }
}

/// Java's `String.hashCode` (over UTF-16 code units).
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// The iteration order of a `java.util.HashMap<String, _>` filled with `entries` in this order:
/// by bucket (spread hash masked by the table size, which doubles past 3/4 load from 16),
/// insertion order within a bucket.
fn java_hash_map_order(entries: Vec<(String, u64)>) -> Vec<(String, u64)> {
    let mut capacity: usize = 16;
    while entries.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let bucket = |name: &str| {
        let h = java_string_hash(name) as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    let mut keyed: Vec<(usize, (String, u64))> =
        entries.into_iter().map(|e| (bucket(&e.0), e)).collect();
    keyed.sort_by_key(|(b, _)| *b);
    keyed.into_iter().map(|(_, e)| e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_string_hash_matches_known_values() {
        // Values of "".hashCode(), "a".hashCode(), "hello".hashCode() in Java.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        // Wraps like Java's int arithmetic: "public.t_nokey".hashCode() computed with
        // 32-bit wrapping.
        let wide = "public.t_nokey"
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        assert_eq!(java_string_hash("public.t_nokey"), wide as u32 as i32);
    }

    #[test]
    fn hash_map_order_follows_buckets_not_insertion() {
        // Debezium 3.6.3 lists public.t_composite before public.t_nokey and public.t_ident
        // whatever came first (seen in tests/oracle_diff.rs).
        let order = java_hash_map_order(vec![
            ("public.t_nokey".into(), 1),
            ("public.t_ident".into(), 2),
            ("public.t_composite".into(), 3),
        ]);
        let names: Vec<&str> = order.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec!["public.t_composite", "public.t_ident", "public.t_nokey"]
        );
    }

    #[test]
    fn hash_map_order_grows_the_table() {
        let many: Vec<(String, u64)> = (0..13).map(|i| (format!("s.t{i}"), i)).collect();
        let order = java_hash_map_order(many.clone());
        assert_eq!(order.len(), 13);
        // 13 entries exceed 16 * 0.75: buckets are taken modulo 32.
        let buckets: Vec<usize> = order
            .iter()
            .map(|(n, _)| {
                let h = java_string_hash(n) as u32;
                ((h ^ (h >> 16)) & 31) as usize
            })
            .collect();
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    }

    #[test]
    fn begin_and_end_frame_the_counts() {
        let mut t = TxMetadata::new("p", "db");
        let begin = t.begin(7, Lsn(100), 5_000_123);
        assert_eq!(&*begin.topic, "p.transaction");
        match &begin.body {
            EventBody::Transaction(r) => {
                assert_eq!(r.status, TxStatus::Begin);
                assert_eq!(r.id, "7:100");
                assert_eq!(r.ts_ms, 5_000);
                assert_eq!(r.event_count, None);
            }
            other => panic!("{other:?}"),
        }
        let end = t.commit(Lsn(300)).unwrap();
        match &end.body {
            EventBody::Transaction(r) => {
                assert_eq!(r.status, TxStatus::End);
                assert_eq!(r.id, "7:300");
                assert_eq!(r.event_count, Some(0));
                assert_eq!(r.data_collections, Some(vec![]));
            }
            other => panic!("{other:?}"),
        }
        assert!(t.commit(Lsn(400)).is_none());
    }

    #[test]
    fn events_are_numbered_per_transaction_and_table() {
        use crate::event::{EventBuilder, EventConfig};
        use crate::source::pgoutput::{
            Begin, Column, Delete, Insert, Message, OldTuple, PgTimestamp, Relation,
            ReplicaIdentity, TupleData, TupleValue,
        };
        use bytes::Bytes;

        let mut b = EventBuilder::new(EventConfig::new("p", "db"));
        let rel = |oid: u32, name: &str| {
            Message::Relation(Relation {
                xid: None,
                oid,
                namespace: "s".into(),
                name: name.into(),
                replica_identity: ReplicaIdentity::Default,
                columns: vec![Column {
                    flags: 1,
                    name: "id".into(),
                    type_oid: 23,
                    type_modifier: -1,
                }],
            })
        };
        let row = |v: &str| TupleData(vec![TupleValue::Text(Bytes::copy_from_slice(v.as_bytes()))]);
        let mut events = Vec::new();
        b.handle(Lsn(1), &rel(1, "a"), &mut events).unwrap();
        b.handle(Lsn(1), &rel(2, "b"), &mut events).unwrap();
        let begin = Begin {
            final_lsn: Lsn(900),
            commit_ts: PgTimestamp(0),
            xid: 42,
        };
        b.handle(Lsn(10), &Message::Begin(begin), &mut events)
            .unwrap();
        let insert = |oid, v| {
            Message::Insert(Insert {
                xid: None,
                relation_oid: oid,
                new: row(v),
            })
        };
        b.handle(Lsn(20), &insert(1, "1"), &mut events).unwrap();
        b.handle(Lsn(30), &insert(2, "2"), &mut events).unwrap();
        let delete = Message::Delete(Delete {
            xid: None,
            relation_oid: 1,
            old: OldTuple::Key(row("1")),
        });
        b.handle(Lsn(40), &delete, &mut events).unwrap();
        // insert a, insert b, delete a, tombstone a.
        assert_eq!(events.len(), 4);

        let mut t = TxMetadata::new("p", "db");
        t.begin(42, Lsn(10), 0);
        for ev in &mut events {
            t.on_event(ev);
        }
        let blocks: Vec<Option<(String, u64, u64)>> = events
            .iter()
            .map(|e| {
                e.transaction
                    .as_ref()
                    .map(|b| (b.id.clone(), b.total_order, b.data_collection_order))
            })
            .collect();
        assert_eq!(
            blocks,
            vec![
                Some(("42:20".to_string(), 1, 1)),
                Some(("42:30".to_string(), 2, 1)),
                Some(("42:40".to_string(), 3, 2)),
                None,
            ]
        );
        let end = t.commit(Lsn(900)).unwrap();
        match end.body {
            EventBody::Transaction(r) => {
                assert_eq!(r.event_count, Some(3));
                let mut counts = r.data_collections.unwrap();
                counts.sort();
                assert_eq!(counts, vec![("s.a".to_string(), 2), ("s.b".to_string(), 1)]);
            }
            other => panic!("{other:?}"),
        }
    }
}
