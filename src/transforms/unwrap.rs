//! The unwrap transform: Debezium's `ExtractNewRecordState` SMT (3.6 semantics).
//!
//! A row change becomes its new row state (`after`), optionally followed by metadata fields
//! (`add.fields`) and with metadata headers (`add.headers`). Deletes, tombstones and
//! truncates follow `delete.tombstone.handling.mode`; anything that is not a row change
//! envelope (logical messages) passes through untouched, as in Debezium.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Transform, TransformError};
use crate::event::schema::{field, source_schema, transaction_block_schema, Schema, SchemaType};
use crate::event::{
    ChangeEvent, EventBody, FlatLayout, Op, Row, Value, CONNECTOR_NAME, DEBEZIUM_VERSION,
};

/// `__deleted`: Debezium's rewrite marker field (not affected by the prefixes).
pub const DELETED_FIELD: &str = "__deleted";

/// `delete.tombstone.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteMode {
    /// Deletes and tombstones are dropped.
    Drop,
    /// A delete becomes a record with a null value (still carrying the row schema); tombstones
    /// are dropped. Debezium's default.
    #[default]
    Tombstone,
    /// A delete becomes its old row with `__deleted: "true"`; tombstones are dropped; other
    /// rows carry `__deleted: "false"`.
    Rewrite,
    /// Like `rewrite`, but tombstones are kept.
    RewriteWithTombstone,
    /// A delete becomes a real tombstone (no value schema); tombstones are dropped.
    DeleteToTombstone,
}

impl DeleteMode {
    fn rewrites(self) -> bool {
        matches!(self, DeleteMode::Rewrite | DeleteMode::RewriteWithTombstone)
    }
}

/// A value of the envelope that `add.fields`/`add.headers` can copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Op,
    TsMs,
    TsUs,
    TsNs,
    Version,
    Connector,
    Name,
    SourceTsMs,
    Snapshot,
    Db,
    Sequence,
    SourceTsUs,
    SourceTsNs,
    Schema,
    Table,
    TxId,
    Lsn,
    Xmin,
    Origin,
    OriginLsn,
    /// `transaction.*`: pgcdc never fills the transaction block, so these are always null.
    Transaction,
}

/// One entry of `add.fields`/`add.headers`: `[struct.]field[:new_name]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRef {
    source: Source,
    /// The output field or header name, prefix included.
    pub name: String,
    /// The envelope field's schema, made optional, without default (Connect's
    /// `copySchemaBasics(...).optional()`).
    pub schema: Schema,
}

const TOP_LEVEL: &[(&str, Source)] = &[
    ("op", Source::Op),
    ("ts_ms", Source::TsMs),
    ("ts_us", Source::TsUs),
    ("ts_ns", Source::TsNs),
];

const SOURCE_FIELDS: &[(&str, Source)] = &[
    ("version", Source::Version),
    ("connector", Source::Connector),
    ("name", Source::Name),
    ("ts_ms", Source::SourceTsMs),
    ("snapshot", Source::Snapshot),
    ("db", Source::Db),
    ("sequence", Source::Sequence),
    ("ts_us", Source::SourceTsUs),
    ("ts_ns", Source::SourceTsNs),
    ("schema", Source::Schema),
    ("table", Source::Table),
    ("txId", Source::TxId),
    ("lsn", Source::Lsn),
    ("xmin", Source::Xmin),
    ("origin", Source::Origin),
    ("origin_lsn", Source::OriginLsn),
];

const TRANSACTION_FIELDS: &[&str] = &["id", "total_order", "data_collection_order"];

fn copy_basics(s: &Schema) -> Schema {
    let mut s = s.clone().optional(true);
    s.default = None;
    s
}

fn top_level_schema(src: Source) -> Schema {
    match src {
        Source::Op => Schema::new(SchemaType::String),
        _ => Schema::new(SchemaType::Int64),
    }
}

impl FieldRef {
    /// Parses one entry the way Debezium does: a bare name is looked up in `source`, except
    /// `op`/`ts_*` (top level) and the transaction fields; a field missing from the named
    /// struct is looked up at the top level. Unknown fields are an error here (Debezium
    /// silently ignores them).
    pub fn parse(spec: &str, prefix: &str) -> Result<FieldRef, String> {
        let spec = spec.trim();
        let parts: Vec<&str> = spec.split(':').collect();
        if parts.len() > 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "{spec:?} is not `[struct.]field[:new_name]` (e.g. \"op\", \"source.ts_ms\", \
                 \"lsn:position\")"
            ));
        }
        let path: Vec<&str> = parts[0].split('.').collect();
        let (strukt, name) = match path.as_slice() {
            [f] => {
                let s = if TRANSACTION_FIELDS.contains(f) {
                    "transaction"
                } else if TOP_LEVEL.iter().any(|(n, _)| n == f) {
                    ""
                } else {
                    "source"
                };
                (s, *f)
            }
            [s, f] => (*s, *f),
            _ => return Err(format!("{spec:?}: nested fields are not supported")),
        };
        let new_name = match parts.get(1) {
            Some(n) => format!("{prefix}{n}"),
            None if path.len() == 1 => format!("{prefix}{name}"),
            None => format!("{prefix}{strukt}_{name}"),
        };
        let in_struct = match strukt {
            "" => None,
            "source" => SOURCE_FIELDS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|&(_, src)| {
                    let sch = source_schema();
                    let f = sch.fields().iter().find(|f| f.name == name).cloned();
                    (src, f.map(|f| f.schema))
                }),
            "transaction" => TRANSACTION_FIELDS.contains(&name).then(|| {
                let sch = transaction_block_schema();
                let f = sch.fields().iter().find(|f| f.name == name).cloned();
                (Source::Transaction, f.map(|f| f.schema))
            }),
            other => {
                return Err(format!(
                    "{spec:?}: struct {other:?} is not supported (use source, transaction or a \
                     top-level field: op, ts_ms, ts_us, ts_ns)"
                ))
            }
        };
        let (source, schema) =
            match in_struct {
                Some((src, Some(schema))) => (src, schema),
                _ => {
                    match TOP_LEVEL.iter().find(|(n, _)| *n == name) {
                        Some(&(_, src)) => (src, top_level_schema(src)),
                        None => {
                            return Err(format!(
                        "{spec:?}: no field {name:?} in {} (source fields: {}; transaction \
                         fields: {}; top level: op, ts_ms, ts_us, ts_ns)",
                        if strukt.is_empty() { "the envelope" } else { strukt },
                        SOURCE_FIELDS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", "),
                        TRANSACTION_FIELDS.join(", ")
                    ))
                        }
                    }
                }
            };
        Ok(FieldRef {
            source,
            name: new_name,
            schema: copy_basics(&schema),
        })
    }

    /// The field's value for `ev` (a row change or tombstone).
    fn value(&self, ev: &ChangeEvent, op: Op) -> Value {
        let s = &ev.source;
        let text = |t: &str| Value::Text(Bytes::copy_from_slice(t.as_bytes()));
        let table = ev.table();
        match self.source {
            Source::Op => Value::from_static(op.code()),
            Source::TsMs => Value::Int64(ev.ts_nanos.div_euclid(1_000_000)),
            Source::TsUs => Value::Int64(ev.ts_nanos.div_euclid(1_000)),
            Source::TsNs => Value::Int64(ev.ts_nanos),
            Source::Version => Value::from_static(DEBEZIUM_VERSION),
            Source::Connector => Value::from_static(CONNECTOR_NAME),
            Source::Name => text(&s.connector.name),
            Source::Db => text(&s.connector.db),
            Source::SourceTsMs => Value::Int64(s.commit_ts_micros.div_euclid(1000)),
            Source::SourceTsUs => Value::Int64(s.commit_ts_micros),
            Source::SourceTsNs => Value::Int64(s.commit_ts_micros.saturating_mul(1000)),
            // Streaming events hold null here; the envelope only shows "false" through the
            // schema default, which the copied schema does not have.
            Source::Snapshot => match s.snapshot {
                crate::event::SnapshotMarker::False => Value::Null,
                m => Value::from_static(m.as_str()),
            },
            Source::Sequence => {
                let last = match s.last_commit_lsn {
                    Some(l) => format!("\"{}\"", l.as_u64()),
                    None => "null".to_string(),
                };
                text(&format!("[{last},\"{}\"]", s.lsn.as_u64()))
            }
            Source::Schema => table.map_or(Value::Null, |t| text(&t.schema_name)),
            Source::Table => table.map_or(Value::Null, |t| text(&t.table_name)),
            Source::TxId => s.xid.map_or(Value::Null, |x| Value::Int64(i64::from(x))),
            Source::Lsn => Value::Int64(s.lsn.as_u64() as i64),
            Source::Xmin | Source::Transaction => Value::Null,
            Source::Origin => s.origin.as_deref().map_or(Value::Null, text),
            Source::OriginLsn => s
                .origin_lsn
                .map_or(Value::Null, |l| Value::Int64(l.as_u64() as i64)),
        }
    }

    fn is_op(&self) -> bool {
        self.source == Source::Op
    }
}

/// Connect's `SimpleHeaderConverter` form of a header value; `None` for null, which a Kafka
/// header without a value would carry (dropped here: our records have no null headers).
fn header_bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Text(b) => Some(b.to_vec()),
        Value::Short(s) => Some(s.as_bytes().to_vec()),
        Value::Int64(i) => Some(i.to_string().into_bytes()),
        Value::Int32(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

/// Validated options of one unwrap stage.
#[derive(Debug, Clone, PartialEq)]
pub struct UnwrapOptions {
    pub mode: DeleteMode,
    pub add_fields: Vec<FieldRef>,
    pub add_headers: Vec<FieldRef>,
    pub route_by_field: Option<String>,
    /// `replace.null.with.default`: JsonConverter substitutes schema defaults for nulls
    /// anyway, so the serialized output is the same either way.
    pub replace_null_with_default: bool,
}

impl Default for UnwrapOptions {
    fn default() -> Self {
        UnwrapOptions {
            mode: DeleteMode::default(),
            add_fields: Vec::new(),
            add_headers: Vec::new(),
            route_by_field: None,
            replace_null_with_default: true,
        }
    }
}

static NEXT_LAYOUT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Debug)]
pub struct Unwrap {
    opts: UnwrapOptions,
    layout: Arc<FlatLayout>,
    header_names: Vec<Arc<str>>,
}

impl Unwrap {
    pub fn new(opts: UnwrapOptions) -> Self {
        let mut fields = Vec::new();
        if opts.mode.rewrites() {
            // InsertField's static field: an optional string.
            fields.push(field(
                DELETED_FIELD,
                Schema::new(SchemaType::String).optional(true),
            ));
        }
        fields.extend(
            opts.add_fields
                .iter()
                .map(|f| field(f.name.clone(), f.schema.clone())),
        );
        let header_names = opts
            .add_headers
            .iter()
            .map(|f| Arc::from(f.name.as_str()))
            .collect();
        Unwrap {
            layout: Arc::new(FlatLayout {
                id: NEXT_LAYOUT_ID.fetch_add(1, Ordering::Relaxed),
                fields,
            }),
            opts,
            header_names,
        }
    }

    fn add_headers(&self, ev: &mut ChangeEvent, op: Op) {
        for (f, name) in self.opts.add_headers.iter().zip(&self.header_names) {
            if let Some(v) = header_bytes(&f.value(ev, op)) {
                ev.headers.push((name.clone(), v));
            }
        }
    }

    /// A tombstone has no envelope, so only `op` can be told ("d"). Debezium's tombstone
    /// also shares its header list with the delete before it, which this transform already
    /// extended: the tombstone carries the delete's headers, then `op` once more. The
    /// tombstone's source is the delete's, so those headers are recomputed here.
    fn add_tombstone_headers(&self, ev: &mut ChangeEvent) {
        self.add_headers(ev, Op::Delete);
        for (f, name) in self.opts.add_headers.iter().zip(&self.header_names) {
            if f.is_op() {
                ev.headers.push((name.clone(), b"d".to_vec()));
            }
        }
    }

    fn extra(&self, ev: &ChangeEvent, op: Op, deleted: bool) -> Vec<Value> {
        let mut extra = Vec::with_capacity(self.layout.fields.len());
        if self.opts.mode.rewrites() {
            extra.push(Value::from_static(if deleted { "true" } else { "false" }));
        }
        extra.extend(self.opts.add_fields.iter().map(|f| f.value(ev, op)));
        extra
    }

    /// `route.by.field`: the row's value of that column becomes the topic (null or blank keep
    /// the topic).
    fn route(&self, ev: &mut ChangeEvent, row: &Row) -> Result<(), TransformError> {
        let Some(name) = &self.opts.route_by_field else {
            return Ok(());
        };
        let Some(table) = ev.table() else {
            return Ok(());
        };
        let err = |reason| TransformError::RouteField {
            table: format!("{}.{}", table.schema_name, table.table_name),
            field: name.clone(),
            reason,
        };
        let idx = table
            .columns
            .iter()
            .position(|c| &c.name == name)
            .ok_or_else(|| err("no such column"))?;
        if table.columns[idx].schema.ty != SchemaType::String {
            return Err(err("the column is not a string"));
        }
        let topic = match row.get(idx) {
            Some(Value::Text(b)) => std::str::from_utf8(b).ok(),
            Some(Value::Short(s)) => Some(s.as_str()),
            _ => None,
        };
        if let Some(t) = topic.filter(|t| !t.trim().is_empty()) {
            ev.topic = Arc::from(t);
        }
        Ok(())
    }
}

impl Transform for Unwrap {
    fn apply(&self, mut ev: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let (op, before, after) = match &mut ev.body {
            EventBody::Tombstone { .. } => {
                self.add_tombstone_headers(&mut ev);
                return Ok((self.opts.mode == DeleteMode::RewriteWithTombstone).then_some(ev));
            }
            EventBody::Change {
                op, before, after, ..
            } => (*op, before.take(), after.take()),
            // Not a row-change envelope.
            EventBody::Message { .. } | EventBody::Flat { .. } => return Ok(Some(ev)),
        };
        let table = match ev.table() {
            Some(t) => t.clone(),
            None => return Ok(Some(ev)),
        };
        if before.is_none() && after.is_none() {
            // Truncate.
            return Ok(None);
        }
        self.add_headers(&mut ev, op);
        let body = match (after, before) {
            (Some(row), _) => {
                self.route(&mut ev, &row)?;
                EventBody::Flat {
                    extra: self.extra(&ev, op, false),
                    table,
                    op,
                    row: Some(row),
                    layout: self.layout.clone(),
                }
            }
            (None, Some(row)) => {
                match self.opts.mode {
                    DeleteMode::Drop => return Ok(None),
                    _ => self.route(&mut ev, &row)?,
                }
                match self.opts.mode {
                    DeleteMode::Drop => return Ok(None),
                    DeleteMode::Tombstone => EventBody::Flat {
                        table,
                        op,
                        row: None,
                        extra: Vec::new(),
                        layout: self.layout.clone(),
                    },
                    DeleteMode::DeleteToTombstone => EventBody::Tombstone { table },
                    DeleteMode::Rewrite | DeleteMode::RewriteWithTombstone => EventBody::Flat {
                        extra: self.extra(&ev, op, true),
                        table,
                        op,
                        row: Some(row),
                        layout: self.layout.clone(),
                    },
                }
            }
            (None, None) => return Ok(None),
        };
        ev.body = body;
        Ok(Some(ev))
    }
}
