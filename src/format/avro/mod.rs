//! Confluent's Avro wire format for Debezium events, as `AvroConverter` writes them: magic byte
//! 0, the schema's registry id (4 bytes, big-endian), then the Avro binary datum. Schemas are
//! what `AvroData` makes of the Connect schemas ([`schema::avro_schema`]); each distinct one is
//! registered once per subject and its id cached, so nothing per record goes to the registry.

mod datum;
mod default;
mod heartbeat;
mod other;
mod registry;
pub mod schema;

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;

use super::{FormatError, Record};
use crate::config::{BinaryHandlingMode, SubjectNameStrategy};
use crate::event::schema::Schema;
use crate::event::{
    ChangeEvent, EventBody, SourceInfo, TableSchema, TxBlock, CONNECTOR_NAME, DEBEZIUM_VERSION,
};

pub use registry::Registry;
pub use schema::avro_schema;

/// Where schema ids come from: the registry (register or look up `schema` under `subject`).
pub trait SchemaIds: Send + Sync + std::fmt::Debug {
    fn id(&self, subject: &str, schema: &serde_json::Value) -> Result<u32, FormatError>;
}

/// A serializer for one thread of work; `ids` is shared by all of a run's serializers.
pub fn build(
    settings: &crate::format::FormatSettings,
    ids: Arc<dyn SchemaIds>,
) -> Box<dyn crate::format::Serializer> {
    let mut f = AvroFormat::new(ids, settings.context_headers.clone());
    f.binary_mode = settings.binary_mode;
    f.strategy = settings.subject_name_strategy;
    Box::new(f)
}

impl crate::format::Serializer for AvroFormat {
    fn encode(&mut self, ev: &ChangeEvent, out: &mut Vec<Record>) -> Result<(), FormatError> {
        AvroFormat::encode(self, ev, out)
    }

    fn heartbeat(
        &self,
        topic: String,
        topic_prefix: &str,
        ts_ms: i64,
    ) -> Result<Record, FormatError> {
        // Debezium's heartbeat key and value schemas, registered like any other.
        heartbeat::record(self, topic, topic_prefix, ts_ms)
    }
}

/// Ids of one table's schemas (per Relation version: a changed table has a new schema id).
struct TableIds {
    key: Option<u32>,
    value: u32,
}

pub struct AvroFormat {
    ids: Arc<dyn SchemaIds>,
    tables: HashMap<u64, TableIds>,
    context_headers: Vec<super::Header>,
    binary_mode: BinaryHandlingMode,
    strategy: SubjectNameStrategy,
    /// Key and value schema ids of the topics with fixed schemas (messages, transaction
    /// metadata), so their records do not convert and look up the schemas each time.
    fixed: HashMap<Arc<str>, (u32, u32)>,
}

impl AvroFormat {
    pub fn new(ids: Arc<dyn SchemaIds>, context_headers: Vec<super::Header>) -> Self {
        AvroFormat {
            ids,
            tables: HashMap::new(),
            context_headers,
            binary_mode: BinaryHandlingMode::default(),
            strategy: SubjectNameStrategy::default(),
            fixed: HashMap::new(),
        }
    }

    fn table_ids(&mut self, t: &TableSchema) -> Result<&TableIds, FormatError> {
        if !self.tables.contains_key(&t.id) {
            let key = match &t.key_schema {
                Some(k) => Some(self.register(&t.topic, "key", k)?),
                None => None,
            };
            let value = self.register(&t.topic, "value", &t.envelope_schema)?;
            self.tables.insert(t.id, TableIds { key, value });
        }
        Ok(&self.tables[&t.id])
    }

    /// The ids of `topic`'s fixed key and value schemas, registered on first use.
    fn fixed_ids(
        &mut self,
        topic: &Arc<str>,
        schemas: impl FnOnce() -> (Schema, Schema),
    ) -> Result<(u32, u32), FormatError> {
        if let Some(ids) = self.fixed.get(topic) {
            return Ok(*ids);
        }
        let (key, value) = schemas();
        let ids = (
            self.register(topic, "key", &key)?,
            self.register(topic, "value", &value)?,
        );
        self.fixed.insert(topic.clone(), ids);
        Ok(ids)
    }

    fn register(&self, topic: &str, part: &str, s: &Schema) -> Result<u32, FormatError> {
        register(self.ids.as_ref(), self.strategy, topic, part, s)
    }

    pub fn encode(&mut self, ev: &ChangeEvent, out: &mut Vec<Record>) -> Result<(), FormatError> {
        let mut record = match &ev.body {
            EventBody::Change { table, .. } | EventBody::Tombstone { table } => {
                self.table_event(ev, table)?
            }
            EventBody::Message { prefix, content } => self.message(ev, prefix, content)?,
            EventBody::Transaction(rec) => self.transaction(ev, rec)?,
            EventBody::Flat { .. } => {
                return Err(FormatError::Unsupported {
                    topic: ev.topic.to_string(),
                    lsn: ev.lsn,
                    reason: "format.type = \"avro\" does not write the unwrap transform's flattened rows yet: use format.type = \"json\" with it".into(),
                })
            }
        };
        super::add_headers(&mut record, ev, &self.context_headers);
        out.push(record);
        Ok(())
    }

    fn table_event(
        &mut self,
        ev: &ChangeEvent,
        t: &Arc<TableSchema>,
    ) -> Result<Record, FormatError> {
        let ids = self.table_ids(t)?;
        let key = match (&ev.key, ids.key, &t.key_schema) {
            (Some(k), Some(id), Some(schema)) => {
                let mut out = header(id);
                datum::row(&mut out, schema.fields(), k);
                Some(out)
            }
            _ => None,
        };
        let value = match &ev.body {
            EventBody::Change {
                op, before, after, ..
            } => {
                let mut out = header(ids.value);
                let fields = t.value_schema.fields();
                for row in [before, after] {
                    datum::long(&mut out, row.is_some() as i64);
                    if let Some(r) = row {
                        datum::row(&mut out, fields, r);
                    }
                }
                write_source(&mut out, &ev.source, &t.schema_name, &t.table_name);
                write_tx_block(&mut out, ev.transaction.as_ref());
                datum::bytes(&mut out, op.code().as_bytes());
                write_processing_ts(&mut out, ev.ts_nanos);
                Some(out)
            }
            _ => None,
        };
        let headers = Vec::new();
        Ok(Record {
            topic: ev.topic.clone(),
            key,
            value,
            headers,
            event_id: None,
        })
    }
}

/// Registers `s` (the key's or value's schema of a record on `topic`) under the subject the
/// strategy names.
fn register(
    ids: &dyn SchemaIds,
    strategy: SubjectNameStrategy,
    topic: &str,
    part: &str,
    s: &Schema,
) -> Result<u32, FormatError> {
    let full_name = || {
        s.name
            .as_deref()
            .unwrap_or("io.confluent.connect.avro.ConnectDefault")
    };
    let subject = match strategy {
        SubjectNameStrategy::TopicName => format!("{topic}-{part}"),
        SubjectNameStrategy::RecordName => full_name().to_string(),
        SubjectNameStrategy::TopicRecordName => format!("{topic}-{}", full_name()),
    };
    ids.id(&subject, &avro_schema(s))
}

/// Magic byte 0 and the schema id.
fn header(id: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.push(0);
    out.extend_from_slice(&id.to_be_bytes());
    out
}

/// An optional long (`["null", "long"]`).
fn opt_long(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => {
            datum::long(out, 1);
            datum::long(out, v);
        }
        None => datum::long(out, 0),
    }
}

fn opt_str(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(v) => {
            datum::long(out, 1);
            datum::bytes(out, v.as_bytes());
        }
        None => datum::long(out, 0),
    }
}

/// The envelope's `ts_ms`, `ts_us` and `ts_ns` (processing time).
fn write_processing_ts(out: &mut Vec<u8>, nanos: i64) {
    opt_long(out, Some(nanos.div_euclid(1_000_000)));
    opt_long(out, Some(nanos.div_euclid(1_000)));
    opt_long(out, Some(nanos));
}

fn write_tx_block(out: &mut Vec<u8>, block: Option<&TxBlock>) {
    match block {
        Some(b) => {
            datum::long(out, 1);
            datum::bytes(out, b.id.as_bytes());
            datum::long(out, b.total_order as i64);
            datum::long(out, b.data_collection_order as i64);
        }
        None => datum::long(out, 0),
    }
}

/// `io.debezium.connector.postgresql.Source`, field by field in its schema's order.
fn write_source(out: &mut Vec<u8>, s: &SourceInfo, schema: &str, table: &str) {
    datum::bytes(out, DEBEZIUM_VERSION.as_bytes());
    datum::bytes(out, CONNECTOR_NAME.as_bytes());
    datum::bytes(out, s.connector.name.as_bytes());
    datum::long(out, s.commit_ts_micros.div_euclid(1000));
    // `snapshot` has a default, so its union is ["string", "null"].
    datum::long(out, 0);
    datum::bytes(out, s.snapshot.as_str().as_bytes());
    datum::bytes(out, s.connector.db.as_bytes());
    // `["<last commit>","<lsn>"]`, written on the stack: it is on every record.
    let mut buf = [0u8; 48];
    let mut seq = std::io::Cursor::new(&mut buf[..]);
    let _ = match s.last_commit_lsn {
        Some(l) => write!(seq, "[\"{}\",\"{}\"]", l.as_u64(), s.lsn.as_u64()),
        None => write!(seq, "[null,\"{}\"]", s.lsn.as_u64()),
    };
    let n = seq.position() as usize;
    datum::long(out, 1);
    datum::bytes(out, &buf[..n]);
    opt_long(out, Some(s.commit_ts_micros));
    opt_long(out, Some(s.commit_ts_micros.saturating_mul(1000)));
    datum::bytes(out, schema.as_bytes());
    datum::bytes(out, table.as_bytes());
    opt_long(out, s.xid.map(i64::from));
    opt_long(out, s.lsn_field().map(|l| l.as_u64() as i64));
    opt_long(out, None);
    opt_str(out, s.origin.as_deref());
    opt_long(out, s.origin_lsn.map(|l| l.as_u64() as i64));
}

#[cfg(test)]
mod tests;
