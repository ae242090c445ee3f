//! Kafka Connect `JsonConverter` output for Debezium events, byte for byte.
//!
//! Per table, the rendered schemas and the `"field":` prefixes are computed once (keyed by the
//! table schema's id) so that encoding a row only writes values.

mod heartbeat;
mod schema;
mod value;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use self::value::value as write_value;
use super::{FormatError, Record};
use crate::config::BinaryHandlingMode;
use crate::event::convert::encode_binary;
use crate::event::schema::{
    message_key_schema, message_value_schema, transaction_key_schema, transaction_value_schema,
    Schema,
};
use crate::event::{
    ChangeEvent, ConnectorInfo, EventBody, FlatLayout, Row, SourceInfo, TableSchema, TxBlock,
    TxRecord, CONNECTOR_NAME, DEBEZIUM_VERSION,
};

pub use self::schema::schema_json;

/// Drop cached per-table renderings beyond this many (old Relation versions pile up otherwise).
const MAX_CACHED_TABLES: usize = 4096;
/// Per table, renderings of rows with dropped fields kept at most.
const MAX_CACHED_DROPPED: usize = 64;

/// A key with some fields left out (`drop.fields.from.key`): rendered per record, since which
/// fields go varies.
fn dropped_key_json(t: &TableSchema, dropped: &[usize], key: &Row, schemas: bool) -> Vec<u8> {
    let kept = |pos: &usize| !dropped.contains(pos);
    let fields = FieldPrefixes::new(
        t.key_indices
            .iter()
            .enumerate()
            .filter(|(pos, _)| kept(pos))
            .map(|(_, &i)| column_field(t, i)),
    );
    let mut out = Vec::with_capacity(64);
    let key_schema = t.key_schema.as_ref().map(|s| {
        let mut s = s.clone();
        let kept_fields = s
            .fields()
            .iter()
            .enumerate()
            .filter(|(pos, _)| kept(pos))
            .map(|(_, f)| f.clone())
            .collect();
        s.ty = crate::event::schema::SchemaType::Struct(kept_fields);
        s
    });
    if let (true, Some(s)) = (schemas, &key_schema) {
        out.extend_from_slice(&schema::envelope_prefix(s));
    }
    let values = key
        .iter()
        .enumerate()
        .filter(|(pos, _)| kept(pos))
        .map(|(_, v)| v);
    fields.write_values(&mut out, values);
    if schemas && key_schema.is_some() {
        out.push(b'}');
    }
    out
}

/// Field-name prefixes of a struct: `{"a":`, `,"b":`, ... in one buffer, and each field's
/// schema default.
#[derive(Debug, Default)]
struct FieldPrefixes {
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// JsonConverter writes a field's schema default in place of a null value (its
    /// `replace.null.with.default`, on by default), with or without embedded schemas.
    defaults: Vec<Option<crate::event::Value>>,
}

impl FieldPrefixes {
    fn new<'a>(fields: impl Iterator<Item = (&'a str, Option<&'a crate::event::Value>)>) -> Self {
        let mut p = FieldPrefixes::default();
        for (i, (name, default)) in fields.enumerate() {
            p.buf.push(if i == 0 { b'{' } else { b',' });
            write::str(&mut p.buf, name);
            p.buf.push(b':');
            p.ends.push(p.buf.len());
            p.defaults.push(default.cloned());
        }
        p
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }

    /// Writes `row` as a struct with these field names.
    fn write_row(&self, out: &mut Vec<u8>, row: &[crate::event::Value]) {
        self.write_values(out, row.iter());
    }

    /// Writes the values as a struct with these field names (one name per value).
    fn write_values<'v>(
        &self,
        out: &mut Vec<u8>,
        values: impl Iterator<Item = &'v crate::event::Value>,
    ) {
        let mut empty = true;
        for (i, v) in values.enumerate() {
            empty = false;
            out.extend_from_slice(self.get(i));
            match (v, self.defaults.get(i)) {
                (crate::event::Value::Null, Some(Some(d))) => write_value(out, d),
                _ => write_value(out, v),
            }
        }
        if empty {
            out.extend_from_slice(b"{}");
        } else {
            out.push(b'}');
        }
    }
}

fn column_field(t: &TableSchema, i: usize) -> (&str, Option<&crate::event::Value>) {
    let c = &t.columns[i];
    (c.name.as_str(), c.schema.default.as_ref())
}

/// A table's flattened rows under one transform layout (the unwrap transform's value).
#[derive(Debug)]
struct FlatJson {
    /// The table's columns, then the layout's fields.
    fields: FieldPrefixes,
    /// `{"schema":<Value schema plus the layout's fields>,"payload":`
    prefix: Vec<u8>,
    /// `{"schema":<the optional Value schema>,"payload":` for a null row.
    null_prefix: Vec<u8>,
}

impl FlatJson {
    /// `dropped`: positions of value fields left out (`drop.fields.header.name`).
    fn new(t: &TableSchema, layout: &FlatLayout, dropped: &[usize]) -> Self {
        let columns = t
            .value_indices
            .iter()
            .enumerate()
            .filter(|(pos, _)| !dropped.contains(pos))
            .map(|(_, &i)| column_field(t, i));
        let extra = layout
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.schema.default.as_ref()));
        // A row keeps its struct's own (required) Value schema, extended by InsertField and
        // add.fields; a null value keeps the envelope's optional `after` field schema.
        let mut schema = t.value_schema.clone().optional(false);
        if !layout.fields.is_empty() || !dropped.is_empty() {
            let mut fields: Vec<_> = t
                .value_schema
                .fields()
                .iter()
                .enumerate()
                .filter(|(pos, _)| !dropped.contains(pos))
                .map(|(_, f)| f.clone())
                .collect();
            fields.extend(layout.fields.iter().cloned());
            schema.ty = crate::event::schema::SchemaType::Struct(fields);
        }
        let row = t.value_schema.clone().optional(true);
        FlatJson {
            fields: FieldPrefixes::new(columns.chain(extra)),
            prefix: schema::envelope_prefix(&schema),
            null_prefix: schema::envelope_prefix(&row),
        }
    }
}

#[derive(Debug)]
struct TableJson {
    key_fields: FieldPrefixes,
    value_fields: FieldPrefixes,
    /// `{"schema":<Key schema>,"payload":`
    key_prefix: Option<Vec<u8>>,
    /// `{"schema":<Envelope schema>,"payload":`
    value_prefix: Vec<u8>,
    /// `,"schema":"public","table":"items","txId":`
    source_table: Vec<u8>,
    /// Size of the last value written, to allocate once.
    value_size_hint: usize,
    /// Flattened-row renderings by layout id (few: one per unwrap stage).
    flat: Vec<(u64, FlatJson)>,
    /// Renderings of flattened rows with dropped fields, by layout id and dropped positions.
    flat_dropped: Vec<((u64, Vec<usize>), FlatJson)>,
}

impl TableJson {
    fn new(t: &TableSchema) -> Self {
        let mut source_table = Vec::new();
        source_table.extend_from_slice(b",\"schema\":");
        write::str(&mut source_table, &t.schema_name);
        source_table.extend_from_slice(b",\"table\":");
        write::str(&mut source_table, &t.table_name);
        source_table.extend_from_slice(b",\"txId\":");
        TableJson {
            key_fields: FieldPrefixes::new(t.key_indices.iter().map(|&i| column_field(t, i))),
            value_fields: FieldPrefixes::new(t.value_indices.iter().map(|&i| column_field(t, i))),
            key_prefix: t.key_schema.as_ref().map(schema::envelope_prefix),
            value_prefix: schema::envelope_prefix(&t.envelope_schema),
            source_table,
            value_size_hint: 256,
            flat: Vec::new(),
            flat_dropped: Vec::new(),
        }
    }
}

/// Serializes [`ChangeEvent`]s like Kafka Connect's `JsonConverter` (`schemas.enable` = `schemas`
/// for key and value). PK-change headers carry the other key as schemaless JSON.
pub struct JsonFormat {
    schemas: bool,
    tables: HashMap<u64, TableJson>,
    message_key_prefix: Vec<u8>,
    message_value_prefix: Vec<u8>,
    tx_key_prefix: Vec<u8>,
    tx_value_prefix: Vec<u8>,
    connector: Option<(Arc<ConnectorInfo>, Vec<u8>, Vec<u8>)>,
    binary_mode: BinaryHandlingMode,
    /// Appended to every record's headers (Debezium's `__debezium.context.*`).
    context_headers: Vec<crate::format::Header>,
}

/// The JSON serializer `settings` describe.
pub fn build(settings: &crate::format::FormatSettings) -> Box<dyn crate::format::Serializer> {
    let mut f = JsonFormat::new(settings.schemas);
    f.set_binary_mode(settings.binary_mode);
    f.set_context_headers(settings.context_headers.clone());
    Box::new(f)
}

impl crate::format::Serializer for JsonFormat {
    fn encode(&mut self, ev: &ChangeEvent, out: &mut Vec<Record>) -> Result<(), FormatError> {
        JsonFormat::encode(self, ev, out)
    }

    fn heartbeat(
        &self,
        topic: String,
        topic_prefix: &str,
        ts_ms: i64,
    ) -> Result<Record, FormatError> {
        Ok(JsonFormat::heartbeat(self, topic, topic_prefix, ts_ms))
    }
}

impl JsonFormat {
    pub fn new(schemas: bool) -> Self {
        JsonFormat {
            schemas,
            tables: HashMap::new(),
            message_key_prefix: schema::envelope_prefix(&message_key_schema()),
            message_value_prefix: schema::envelope_prefix(&message_value_schema(false)),
            tx_key_prefix: schema::envelope_prefix(&transaction_key_schema()),
            tx_value_prefix: schema::envelope_prefix(&transaction_value_schema()),
            binary_mode: BinaryHandlingMode::Bytes,
            connector: None,
            context_headers: Vec::new(),
        }
    }

    /// `binary.handling.mode` for logical-message content (bytes by default).
    pub fn set_binary_mode(&mut self, mode: BinaryHandlingMode) {
        self.binary_mode = mode;
        self.message_value_prefix =
            schema::envelope_prefix(&message_value_schema(mode != BinaryHandlingMode::Bytes));
    }

    /// Headers added to every table record after any key-change header.
    pub fn set_context_headers(&mut self, headers: Vec<crate::format::Header>) {
        self.context_headers = headers;
    }

    /// Appends the record(s) of one event (always exactly one today).
    pub fn encode(&mut self, ev: &ChangeEvent, out: &mut Vec<Record>) -> Result<(), FormatError> {
        let mut record = match &ev.body {
            EventBody::Change { table, .. }
            | EventBody::Tombstone { table }
            | EventBody::Flat { table, .. } => self.encode_table_event(ev, table),
            EventBody::Message { prefix, content } => self.encode_message(ev, prefix, content),
            EventBody::Transaction(rec) => self.encode_transaction(ev, rec),
        };
        super::add_headers(&mut record, ev, &self.context_headers);
        out.push(record);
        Ok(())
    }

    /// Makes `self.connector` hold the escaped `name` and `db` of `c`.
    fn refresh_connector(&mut self, c: &Arc<ConnectorInfo>) {
        if let Some((cached, _, _)) = &self.connector {
            if Arc::ptr_eq(cached, c) || **cached == **c {
                return;
            }
        }
        let mut name = Vec::new();
        write::str(&mut name, &c.name);
        let mut db = Vec::new();
        write::str(&mut db, &c.db);
        self.connector = Some((c.clone(), name, db));
    }

    fn encode_table_event(&mut self, ev: &ChangeEvent, table: &Arc<TableSchema>) -> Record {
        self.refresh_connector(&ev.source.connector);
        let (name_json, db_json) = match &self.connector {
            Some((_, n, d)) => (n.as_slice(), d.as_slice()),
            None => (&b"null"[..], &b"null"[..]),
        };
        let schemas = self.schemas;
        if !self.tables.contains_key(&table.id) && self.tables.len() >= MAX_CACHED_TABLES {
            self.tables.clear();
        }
        let tj = self
            .tables
            .entry(table.id)
            .or_insert_with(|| TableJson::new(table));
        let dropped_key = match &ev.body {
            EventBody::Flat {
                dropped: Some(d), ..
            } if !d.key.is_empty() => Some(d.key.as_slice()),
            _ => None,
        };
        let key = ev.key.as_ref().map(|k| match dropped_key {
            Some(positions) => dropped_key_json(table, positions, k, schemas),
            None => {
                let mut out = Vec::with_capacity(64);
                if schemas {
                    if let Some(prefix) = &tj.key_prefix {
                        out.extend_from_slice(prefix);
                    }
                }
                tj.key_fields.write_row(&mut out, k);
                if schemas && tj.key_prefix.is_some() {
                    out.push(b'}');
                }
                out
            }
        });
        let headers = match &ev.key_header {
            Some((kind, k)) => {
                let mut h = Vec::with_capacity(32);
                tj.key_fields.write_row(&mut h, k);
                vec![(Arc::from(kind.header_name()), Some(h.into()))]
            }
            None => Vec::new(),
        };
        let value = match &ev.body {
            EventBody::Change {
                op, before, after, ..
            } => {
                let mut out = Vec::with_capacity(tj.value_size_hint + 64);
                if schemas {
                    out.extend_from_slice(&tj.value_prefix);
                }
                out.extend_from_slice(b"{\"before\":");
                write_opt_row(&mut out, &tj.value_fields, before.as_deref());
                out.extend_from_slice(b",\"after\":");
                write_opt_row(&mut out, &tj.value_fields, after.as_deref());
                out.extend_from_slice(b",\"source\":");
                write_source(&mut out, &ev.source, name_json, db_json, &tj.source_table);
                out.extend_from_slice(b",\"transaction\":");
                write_tx_block(&mut out, ev.transaction.as_ref());
                out.extend_from_slice(b",\"op\":\"");
                out.extend_from_slice(op.code().as_bytes());
                out.extend_from_slice(b"\",\"ts_ms\":");
                write_processing_ts(&mut out, ev.ts_nanos);
                out.push(b'}');
                if schemas {
                    out.push(b'}');
                }
                tj.value_size_hint = out.len();
                Some(out)
            }
            EventBody::Flat {
                row,
                extra,
                layout,
                dropped,
                ..
            } => {
                let dropped_values = dropped.as_ref().map(|d| d.value.as_slice()).unwrap_or(&[]);
                let fj = if dropped_values.is_empty() {
                    let pos = match tj.flat.iter().position(|(id, _)| *id == layout.id) {
                        Some(p) => p,
                        None => {
                            tj.flat.push((layout.id, FlatJson::new(table, layout, &[])));
                            tj.flat.len() - 1
                        }
                    };
                    &tj.flat[pos].1
                } else {
                    let pos = tj
                        .flat_dropped
                        .iter()
                        .position(|((id, d), _)| *id == layout.id && d == dropped_values);
                    let pos = match pos {
                        Some(p) => p,
                        None => {
                            // Which fields an update left unchanged varies; keep a few.
                            if tj.flat_dropped.len() >= MAX_CACHED_DROPPED {
                                tj.flat_dropped.clear();
                            }
                            let fj = FlatJson::new(table, layout, dropped_values);
                            tj.flat_dropped
                                .push(((layout.id, dropped_values.to_vec()), fj));
                            tj.flat_dropped.len() - 1
                        }
                    };
                    &tj.flat_dropped[pos].1
                };
                let mut out = Vec::with_capacity(tj.value_size_hint);
                match row {
                    Some(row) => {
                        if schemas {
                            out.extend_from_slice(&fj.prefix);
                        }
                        let kept = row
                            .iter()
                            .enumerate()
                            .filter(|(pos, _)| !dropped_values.contains(pos))
                            .map(|(_, v)| v);
                        fj.fields.write_values(&mut out, kept.chain(extra.iter()));
                    }
                    None => {
                        // JsonConverter writes a null value that has a schema as `null`
                        // (not a tombstone), or inside the envelope.
                        if schemas {
                            out.extend_from_slice(&fj.null_prefix);
                        }
                        out.extend_from_slice(b"null");
                    }
                }
                if schemas {
                    out.push(b'}');
                }
                Some(out)
            }
            _ => None,
        };
        Record {
            topic: ev.topic.clone(),
            key,
            value,
            headers,
            event_id: None,
        }
    }

    fn encode_message(&mut self, ev: &ChangeEvent, prefix: &str, content: &[u8]) -> Record {
        self.refresh_connector(&ev.source.connector);
        let (name_json, db_json) = match &self.connector {
            Some((_, n, d)) => (n.as_slice(), d.as_slice()),
            None => (&b"null"[..], &b"null"[..]),
        };
        let mut key = Vec::with_capacity(64);
        if self.schemas {
            key.extend_from_slice(&self.message_key_prefix);
        }
        key.extend_from_slice(b"{\"prefix\":");
        write::str(&mut key, prefix);
        key.push(b'}');
        if self.schemas {
            key.push(b'}');
        }
        let mut value = Vec::with_capacity(512 + content.len() * 4 / 3);
        if self.schemas {
            value.extend_from_slice(&self.message_value_prefix);
        }
        value.extend_from_slice(b"{\"op\":\"m\",\"ts_ms\":");
        write::i64(&mut value, ev.ts_nanos.div_euclid(1_000_000));
        value.extend_from_slice(b",\"source\":");
        write_source(
            &mut value,
            &ev.source,
            name_json,
            db_json,
            b",\"schema\":\"\",\"table\":\"\",\"txId\":",
        );
        value.extend_from_slice(b",\"transaction\":");
        write_tx_block(&mut value, ev.transaction.as_ref());
        value.extend_from_slice(b",\"message\":{\"prefix\":");
        write::str(&mut value, prefix);
        value.extend_from_slice(b",\"content\":");
        match self.binary_mode {
            BinaryHandlingMode::Bytes => write::base64(&mut value, content),
            mode => write::str(&mut value, &encode_binary(content, mode)),
        }
        value.extend_from_slice(b"}}");
        if self.schemas {
            value.push(b'}');
        }
        Record {
            topic: ev.topic.clone(),
            key: Some(key),
            value: Some(value),
            headers: Vec::new(),
            event_id: None,
        }
    }
}

impl JsonFormat {
    /// A BEGIN/END record of `<prefix>.transaction`.
    fn encode_transaction(&mut self, ev: &ChangeEvent, rec: &TxRecord) -> Record {
        let mut key = Vec::with_capacity(160);
        if self.schemas {
            key.extend_from_slice(&self.tx_key_prefix);
        }
        key.extend_from_slice(b"{\"id\":");
        write::str(&mut key, &rec.id);
        key.push(b'}');
        if self.schemas {
            key.push(b'}');
        }
        let mut value = Vec::with_capacity(700);
        if self.schemas {
            value.extend_from_slice(&self.tx_value_prefix);
        }
        value.extend_from_slice(b"{\"status\":\"");
        value.extend_from_slice(rec.status.as_str().as_bytes());
        value.extend_from_slice(b"\",\"id\":");
        write::str(&mut value, &rec.id);
        value.extend_from_slice(b",\"event_count\":");
        write_opt_i64(&mut value, rec.event_count.map(|n| n as i64));
        value.extend_from_slice(b",\"data_collections\":");
        match &rec.data_collections {
            Some(list) => {
                value.push(b'[');
                for (i, (name, n)) in list.iter().enumerate() {
                    if i > 0 {
                        value.push(b',');
                    }
                    value.extend_from_slice(b"{\"data_collection\":");
                    write::str(&mut value, name);
                    value.extend_from_slice(b",\"event_count\":");
                    write::i64(&mut value, *n as i64);
                    value.push(b'}');
                }
                value.push(b']');
            }
            None => value.extend_from_slice(b"null"),
        }
        value.extend_from_slice(b",\"ts_ms\":");
        write::i64(&mut value, rec.ts_ms);
        value.push(b'}');
        if self.schemas {
            value.push(b'}');
        }
        Record {
            topic: ev.topic.clone(),
            key: Some(key),
            value: Some(value),
            headers: Vec::new(),
            event_id: None,
        }
    }
}

/// The envelope's `transaction` value: the block, or null.
fn write_tx_block(out: &mut Vec<u8>, block: Option<&TxBlock>) {
    match block {
        Some(b) => {
            out.extend_from_slice(b"{\"id\":");
            write::str(out, &b.id);
            out.extend_from_slice(b",\"total_order\":");
            write::i64(out, b.total_order as i64);
            out.extend_from_slice(b",\"data_collection_order\":");
            write::i64(out, b.data_collection_order as i64);
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn write_opt_row(out: &mut Vec<u8>, fields: &FieldPrefixes, row: Option<&[crate::event::Value]>) {
    match row {
        Some(r) => fields.write_row(out, r),
        None => out.extend_from_slice(b"null"),
    }
}

/// `ts_ms` value onwards: `<ms>,"ts_us":<us>,"ts_ns":<ns>` (after `"ts_ms":`).
fn write_processing_ts(out: &mut Vec<u8>, nanos: i64) {
    write::i64(out, nanos.div_euclid(1_000_000));
    out.extend_from_slice(b",\"ts_us\":");
    write::i64(out, nanos.div_euclid(1_000));
    out.extend_from_slice(b",\"ts_ns\":");
    write::i64(out, nanos);
}

fn write_opt_i64(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => write::i64(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_source(
    out: &mut Vec<u8>,
    s: &SourceInfo,
    name_json: &[u8],
    db_json: &[u8],
    schema_table_txid: &[u8],
) {
    out.extend_from_slice(b"{\"version\":\"");
    out.extend_from_slice(DEBEZIUM_VERSION.as_bytes());
    out.extend_from_slice(b"\",\"connector\":\"");
    out.extend_from_slice(CONNECTOR_NAME.as_bytes());
    out.extend_from_slice(b"\",\"name\":");
    out.extend_from_slice(name_json);
    out.extend_from_slice(b",\"ts_ms\":");
    write::i64(out, s.commit_ts_micros.div_euclid(1000));
    out.extend_from_slice(b",\"snapshot\":\"");
    out.extend_from_slice(s.snapshot.as_str().as_bytes());
    out.extend_from_slice(b"\",\"db\":");
    out.extend_from_slice(db_json);
    // sequence is a JSON array inside a JSON string: ["<last commit>","<lsn>"].
    out.extend_from_slice(b",\"sequence\":\"[");
    match s.last_commit_lsn {
        Some(l) => {
            out.extend_from_slice(b"\\\"");
            write::i64(out, l.as_u64() as i64);
            out.extend_from_slice(b"\\\"");
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\\\"");
    write::i64(out, s.lsn.as_u64() as i64);
    out.extend_from_slice(b"\\\"]\",\"ts_us\":");
    write::i64(out, s.commit_ts_micros);
    out.extend_from_slice(b",\"ts_ns\":");
    write::i64(out, s.commit_ts_micros.saturating_mul(1000));
    out.extend_from_slice(schema_table_txid);
    write_opt_i64(out, s.xid.map(i64::from));
    out.extend_from_slice(b",\"lsn\":");
    write_opt_i64(out, s.lsn_field().map(|l| l.as_u64() as i64));
    out.extend_from_slice(b",\"xmin\":null,\"origin\":");
    match &s.origin {
        Some(o) => write::str(out, o),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"origin_lsn\":");
    write_opt_i64(out, s.origin_lsn.map(|l| l.as_u64() as i64));
    out.push(b'}');
}

/// The schema of a table's key and envelope as JsonConverter writes them (for tests/tools).
pub fn render_schema(schema: &Schema) -> String {
    let mut out = Vec::new();
    schema_json(&mut out, schema, None);
    String::from_utf8(out).unwrap_or_default()
}

/// Convenience for tests and tools: a row as schemaless JSON with the table's field names.
pub fn row_json(table: &TableSchema, row: &Row) -> String {
    let fields = FieldPrefixes::new(table.value_indices.iter().map(|&i| column_field(table, i)));
    let mut out = Vec::new();
    fields.write_row(&mut out, row);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::event::{EventBuilder, EventConfig};
    use crate::lsn::Lsn;
    use crate::source::catalog::{ColumnInfo, TableInfo};
    use crate::source::pgoutput::{
        Begin, Column, Insert, Message, PgTimestamp, Relation, ReplicaIdentity, TupleData,
        TupleValue,
    };

    fn event_with_null_defaulted_column() -> ChangeEvent {
        let mut b = EventBuilder::new(EventConfig::new("p", "db"));
        let mut info = TableInfo {
            key_columns: Some(vec!["id".into()]),
            ..Default::default()
        };
        info.columns.insert(
            "t".into(),
            ColumnInfo {
                optional: Some(true),
                default_expr: Some("'abc'::text".into()),

                ..Default::default()
            },
        );
        b.set_table_info("s", "t", info);
        let col = |name: &str, type_oid| Column {
            flags: 0,
            name: name.into(),
            type_oid,
            type_modifier: -1,
        };
        let rel = Relation {
            xid: None,
            oid: 5,
            namespace: "s".into(),
            name: "t".into(),
            replica_identity: ReplicaIdentity::Default,
            columns: vec![col("id", 23), col("t", 25)],
        };
        let mut out = Vec::new();
        b.handle(Lsn(1), &Message::Relation(rel), &mut out).unwrap();
        let begin = Begin {
            final_lsn: Lsn(9),
            commit_ts: PgTimestamp(0),
            xid: 3,
        };
        b.handle(Lsn(2), &Message::Begin(begin), &mut out).unwrap();
        let insert = Insert {
            xid: None,
            relation_oid: 5,
            new: TupleData(vec![
                TupleValue::Text(Bytes::from_static(b"1")),
                TupleValue::Null,
            ]),
        };
        b.handle(Lsn(3), &Message::Insert(insert), &mut out)
            .unwrap();
        out.pop().unwrap()
    }

    #[test]
    fn null_is_written_as_the_schema_default() {
        let ev = event_with_null_defaulted_column();
        for schemas in [false, true] {
            let mut f = JsonFormat::new(schemas);
            let mut recs = Vec::new();
            f.encode(&ev, &mut recs).unwrap();
            let v: serde_json::Value =
                serde_json::from_slice(recs[0].value.as_ref().unwrap()).unwrap();
            let payload = if schemas { &v["payload"] } else { &v };
            assert_eq!(payload["after"]["t"], "abc", "schemas={schemas}");
            if schemas {
                let after = &v["schema"]["fields"][1]["fields"][1];
                assert_eq!(after["default"], "abc");
            }
        }
    }

    #[test]
    fn context_headers_go_on_table_records_only() {
        let ev = event_with_null_defaulted_column();
        let mut f = JsonFormat::new(false);
        f.set_context_headers(vec![("h".into(), Some(b"v".to_vec().into()))]);
        let mut recs = Vec::new();
        f.encode(&ev, &mut recs).unwrap();
        assert_eq!(
            recs[0].headers,
            vec![(Arc::from("h"), Some(bytes::Bytes::from_static(b"v")))]
        );
        let msg = ChangeEvent {
            body: EventBody::Message {
                prefix: "p".into(),
                content: Bytes::new(),
            },
            key_header: None,
            ..ev
        };
        f.encode(&msg, &mut recs).unwrap();
        assert!(recs[1].headers.is_empty());
    }
}
