//! The unwrap transform: Debezium's `ExtractNewRecordState` SMT (3.6 semantics).
//!
//! A row change becomes its new row state (`after`), optionally followed by metadata fields
//! (`add.fields`) and with metadata headers (`add.headers`). Deletes, tombstones and
//! truncates follow `delete.tombstone.handling.mode`; anything that is not a row change
//! envelope (logical messages) passes through untouched, as in Debezium.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::{Transform, TransformError};
use crate::config::{DeleteMode, EnvelopeField, FieldRef, UnwrapOptions, DELETED_FIELD};
use crate::event::schema::{field, source_schema, transaction_block_schema, Schema, SchemaType};
use crate::event::{
    ChangeEvent, DroppedFields, EventBody, FlatLayout, Op, Row, TableSchema, Value, CONNECTOR_NAME,
    DEBEZIUM_VERSION,
};

/// The schema of the copied field: the envelope field's, made optional, without default
/// (Connect's `copySchemaBasics(...).optional()`).
fn field_schema(f: &FieldRef) -> Schema {
    let strukt = match f.source {
        EnvelopeField::Op => return Schema::new(SchemaType::String).optional(true),
        EnvelopeField::TsMs | EnvelopeField::TsUs | EnvelopeField::TsNs => {
            return Schema::new(SchemaType::Int64).optional(true)
        }
        EnvelopeField::Transaction => transaction_block_schema(),
        _ => source_schema(),
    };
    let found = strukt.fields().iter().find(|x| x.name == f.field);
    // The config accepts only names of these schemas (a unit test holds them in step).
    let mut s = found.map_or_else(|| Schema::new(SchemaType::String), |x| x.schema.clone());
    s = s.optional(true);
    s.default = None;
    s
}

/// The value of `f` for `ev` (a row change or tombstone).
fn field_value(f: &FieldRef, ev: &ChangeEvent, op: Op) -> Value {
    let s = &ev.source;
    let text = |t: &str| Value::Text(Bytes::copy_from_slice(t.as_bytes()));
    let table = ev.table();
    match f.source {
        EnvelopeField::Op => Value::from_static(op.code()),
        EnvelopeField::TsMs => Value::Int64(ev.ts_nanos.div_euclid(1_000_000)),
        EnvelopeField::TsUs => Value::Int64(ev.ts_nanos.div_euclid(1_000)),
        EnvelopeField::TsNs => Value::Int64(ev.ts_nanos),
        EnvelopeField::Version => Value::from_static(DEBEZIUM_VERSION),
        EnvelopeField::Connector => Value::from_static(CONNECTOR_NAME),
        EnvelopeField::Name => text(&s.connector.name),
        EnvelopeField::Db => text(&s.connector.db),
        EnvelopeField::CommitTsMs => Value::Int64(s.commit_ts_micros.div_euclid(1000)),
        EnvelopeField::CommitTsUs => Value::Int64(s.commit_ts_micros),
        EnvelopeField::CommitTsNs => Value::Int64(s.commit_ts_micros.saturating_mul(1000)),
        // Streaming events hold null here; the envelope only shows "false" through the
        // schema default, which the copied schema does not have.
        EnvelopeField::Snapshot => match s.snapshot {
            crate::event::SnapshotMarker::False => Value::Null,
            m => Value::from_static(m.as_str()),
        },
        EnvelopeField::Sequence => {
            let last = match s.last_commit_lsn {
                Some(l) => format!("\"{}\"", l.as_u64()),
                None => "null".to_string(),
            };
            text(&format!("[{last},\"{}\"]", s.lsn.as_u64()))
        }
        EnvelopeField::Schema => table.map_or(Value::Null, |t| text(&t.schema_name)),
        EnvelopeField::Table => table.map_or(Value::Null, |t| text(&t.table_name)),
        EnvelopeField::TxId => s.xid.map_or(Value::Null, |x| Value::Int64(i64::from(x))),
        EnvelopeField::Lsn => s
            .lsn_field()
            .map_or(Value::Null, |l| Value::Int64(l.as_u64() as i64)),
        EnvelopeField::Xmin | EnvelopeField::Transaction => Value::Null,
        EnvelopeField::Origin => s.origin.as_deref().map_or(Value::Null, text),
        EnvelopeField::OriginLsn => s
            .origin_lsn
            .map_or(Value::Null, |l| Value::Int64(l.as_u64() as i64)),
    }
}

/// Connect's `SimpleHeaderConverter` form of a header value; `None` for null, written as a
/// Kafka header without a value, as Debezium does.
fn header_bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Text(b) => Some(b.to_vec()),
        Value::Short(s) => Some(s.as_bytes().to_vec()),
        Value::Int64(i) => Some(i.to_string().into_bytes()),
        Value::Int32(i) => Some(i.to_string().into_bytes()),
        Value::Int16(i) => Some(i.to_string().into_bytes()),
        Value::Bool(b) => Some(b.to_string().into_bytes()),
        _ => None,
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
                .map(|f| field(f.name.clone(), field_schema(f))),
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
            let v = header_bytes(&field_value(f, ev, op));
            ev.headers.push((name.clone(), v));
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
                ev.headers.push((name.clone(), Some(b"d".to_vec())));
            }
        }
    }

    fn extra(&self, ev: &ChangeEvent, op: Op, deleted: bool) -> Vec<Value> {
        let mut extra = Vec::with_capacity(self.layout.fields.len());
        if self.opts.mode.rewrites() {
            extra.push(Value::from_static(if deleted { "true" } else { "false" }));
        }
        extra.extend(self.opts.add_fields.iter().map(|f| field_value(f, ev, op)));
        extra
    }

    /// The fields named by the drop-fields header, as Debezium's `ReplaceField` would remove
    /// them; `None` when nothing is dropped.
    fn dropped(&self, ev: &ChangeEvent, table: &TableSchema) -> Option<Arc<DroppedFields>> {
        let header = self.opts.drop_fields_header.as_deref()?;
        let bytes = ev
            .headers
            .iter()
            .rev()
            .find(|(k, _)| &**k == header)
            .and_then(|(_, v)| v.as_deref())?;
        let names = super::changed::parse_list_header(bytes)?;
        if names.is_empty() {
            return None;
        }
        let pick = |fields: &[crate::event::schema::Field]| -> Vec<usize> {
            fields
                .iter()
                .enumerate()
                .filter(|(_, f)| {
                    names.contains(&f.name)
                        && (!self.opts.drop_fields_keep_schema_compatible || f.schema.optional)
                })
                .map(|(i, _)| i)
                .collect()
        };
        let value = pick(table.value_schema.fields());
        let key = match (&table.key_schema, &ev.key) {
            (Some(k), Some(_)) if self.opts.drop_fields_from_key => pick(k.fields()),
            _ => Vec::new(),
        };
        let d = DroppedFields { value, key };
        (!d.is_empty()).then(|| Arc::new(d))
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
        let (col, idx) = table
            .value_column(name)
            .ok_or_else(|| err("no such column"))?;
        if table.columns[col].schema.ty != SchemaType::String {
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
            EventBody::Message { .. } | EventBody::Flat { .. } | EventBody::Transaction(_) => {
                return Ok(Some(ev))
            }
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
                    dropped: self.dropped(&ev, &table),
                    table,
                    op,
                    row: Some(row),
                    layout: self.layout.clone(),
                }
            }
            (None, Some(row)) => {
                if self.opts.mode != DeleteMode::Drop {
                    self.route(&mut ev, &row)?;
                }
                match self.opts.mode {
                    DeleteMode::Drop => return Ok(None),
                    DeleteMode::Tombstone => EventBody::Flat {
                        table,
                        op,
                        row: None,
                        extra: Vec::new(),
                        layout: self.layout.clone(),
                        dropped: None,
                    },
                    DeleteMode::DeleteToTombstone => EventBody::Tombstone { table },
                    // Debezium drops fields of deletes before rewriting them, i.e. from the
                    // null value: nothing (the rewritten old row keeps every field).
                    DeleteMode::Rewrite | DeleteMode::RewriteWithTombstone => EventBody::Flat {
                        extra: self.extra(&ev, op, true),
                        table,
                        op,
                        row: Some(row),
                        layout: self.layout.clone(),
                        dropped: None,
                    },
                }
            }
            (None, None) => return Ok(None),
        };
        ev.body = body;
        Ok(Some(ev))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::event::{EventBuilder, EventConfig};
    use crate::format::FormatSettings;
    use crate::lsn::Lsn;
    use crate::source::catalog::TableInfo;
    use crate::source::pgoutput::{
        Begin, Column, Delete, Insert, LogicalMessage, Message, OldTuple, PgTimestamp, Relation,
        ReplicaIdentity, Truncate, TupleData, TupleValue,
    };

    fn text(s: &'static str) -> TupleValue {
        TupleValue::Text(Bytes::from_static(s.as_bytes()))
    }

    /// Events of table s.t(id int4 key, name text, dest text): insert (1, "a", "route_me"),
    /// delete of key 1 + tombstone, truncate, a logical message; in that order.
    fn events() -> Vec<ChangeEvent> {
        let mut b = EventBuilder::new(EventConfig {
            emit_truncate: true,
            ..EventConfig::new("p", "db")
        });
        b.set_table_info(
            "s",
            "t",
            TableInfo {
                key_columns: Some(vec!["id".into()]),
                ..Default::default()
            },
        );
        let col = |name: &str, type_oid| Column {
            flags: 0,
            name: name.into(),
            type_oid,
            type_modifier: -1,
        };
        let mut out = Vec::new();
        let msgs = [
            Message::Relation(Relation {
                xid: None,
                oid: 5,
                namespace: "s".into(),
                name: "t".into(),
                replica_identity: ReplicaIdentity::Default,
                columns: vec![col("id", 23), col("name", 25), col("dest", 25)],
            }),
            Message::Begin(Begin {
                final_lsn: Lsn(90),
                commit_ts: PgTimestamp(0),
                xid: 7,
            }),
            Message::Insert(Insert {
                xid: None,
                relation_oid: 5,
                new: TupleData(vec![text("1"), text("a"), text("route_me")]),
            }),
            Message::Delete(Delete {
                xid: None,
                relation_oid: 5,
                old: OldTuple::Key(TupleData(vec![
                    text("1"),
                    TupleValue::Null,
                    TupleValue::Null,
                ])),
            }),
            Message::Truncate(Truncate {
                xid: None,
                options: 0,
                relation_oids: vec![5],
            }),
            Message::Message(LogicalMessage {
                xid: None,
                flags: 1,
                lsn: Lsn(60),
                prefix: "pre".into(),
                content: Bytes::from_static(b"hi"),
            }),
        ];
        for (i, m) in msgs.iter().enumerate() {
            b.handle(Lsn(10 * (i as u64 + 1)), m, &mut out).unwrap();
        }
        out
    }

    fn unwrap(opts: UnwrapOptions) -> Vec<Option<ChangeEvent>> {
        let u = Unwrap::new(opts);
        events().into_iter().map(|e| u.apply(e).unwrap()).collect()
    }

    fn mode(mode: DeleteMode) -> UnwrapOptions {
        UnwrapOptions {
            mode,
            ..Default::default()
        }
    }

    /// The schemaless JSON value of an event, `None` for a tombstone.
    fn value_json(ev: &ChangeEvent) -> Option<serde_json::Value> {
        let mut f = FormatSettings {
            schemas: false,
            ..FormatSettings::default()
        }
        .build();
        let mut recs = Vec::new();
        f.encode(ev, &mut recs).unwrap();
        recs[0]
            .value
            .as_ref()
            .map(|v| serde_json::from_slice(v).unwrap())
    }

    fn headers(ev: &ChangeEvent) -> Vec<(String, String)> {
        ev.headers
            .iter()
            .map(|(k, v)| {
                let v = v.as_ref().map(|v| String::from_utf8(v.clone()).unwrap());
                (k.to_string(), v.unwrap_or_else(|| "<null>".into()))
            })
            .collect()
    }

    fn is_tombstone(ev: &Option<ChangeEvent>) -> bool {
        matches!(ev, Some(e) if matches!(e.body, EventBody::Tombstone { .. }))
    }

    #[test]
    fn input_has_the_expected_shape() {
        let ops: Vec<Option<Op>> = events().iter().map(ChangeEvent::op).collect();
        assert_eq!(
            ops,
            vec![
                Some(Op::Create),
                Some(Op::Delete),
                None,
                Some(Op::Truncate),
                Some(Op::Message)
            ]
        );
    }

    #[test]
    fn default_mode_is_tombstone_and_rows_are_the_after_state() {
        let out = unwrap(UnwrapOptions::default());
        let create = out[0].as_ref().unwrap();
        assert_eq!(
            value_json(create).unwrap(),
            serde_json::json!({"id": 1, "name": "a", "dest": "route_me"})
        );
        assert_eq!(create.key, Some(vec![Value::Int32(1)]));
        // The delete becomes a null value (JsonConverter writes `null`), the tombstone and
        // the truncate are dropped, the message passes unchanged.
        let delete = out[1].as_ref().unwrap();
        assert!(matches!(delete.body, EventBody::Flat { row: None, .. }));
        assert_eq!(value_json(delete), Some(serde_json::Value::Null));
        assert!(out[2].is_none());
        assert!(out[3].is_none());
        let msg = out[4].as_ref().unwrap();
        assert_eq!(msg.body, events()[4].body);
    }

    #[test]
    fn drop_mode_drops_deletes_and_tombstones() {
        let out = unwrap(mode(DeleteMode::Drop));
        assert!(out[0].is_some());
        assert!(out[1].is_none());
        assert!(out[2].is_none());
        assert!(out[3].is_none());
        assert!(out[4].is_some());
    }

    #[test]
    fn rewrite_marks_every_row_and_keeps_the_old_row_of_deletes() {
        for (m, keeps_tombstone) in [
            (DeleteMode::Rewrite, false),
            (DeleteMode::RewriteWithTombstone, true),
        ] {
            let out = unwrap(mode(m));
            assert_eq!(
                value_json(out[0].as_ref().unwrap()).unwrap(),
                serde_json::json!({"id": 1, "name": "a", "dest": "route_me", "__deleted": "false"})
            );
            assert_eq!(
                value_json(out[1].as_ref().unwrap()).unwrap(),
                serde_json::json!({"id": 1, "name": null, "dest": null, "__deleted": "true"})
            );
            assert_eq!(is_tombstone(&out[2]), keeps_tombstone, "{m:?}");
            assert!(out[3].is_none());
        }
    }

    #[test]
    fn delete_to_tombstone_turns_the_delete_into_a_tombstone() {
        let out = unwrap(mode(DeleteMode::DeleteToTombstone));
        assert!(is_tombstone(&out[1]));
        assert_eq!(value_json(out[1].as_ref().unwrap()), None);
        assert_eq!(out[1].as_ref().unwrap().key, Some(vec![Value::Int32(1)]));
        assert!(out[2].is_none());
    }

    #[test]
    fn add_fields_follow_deleted_with_prefix_and_renames() {
        let fields = [
            "op",
            "table",
            "lsn",
            "source.ts_ms",
            "txId:tx",
            "ts_ms",
            "xmin",
        ]
        .iter()
        .map(|s| FieldRef::parse(s, "__").unwrap())
        .collect();
        let out = unwrap(UnwrapOptions {
            mode: DeleteMode::Rewrite,
            add_fields: fields,
            ..Default::default()
        });
        let create = value_json(out[0].as_ref().unwrap()).unwrap();
        let keys: Vec<&String> = create.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            vec![
                "id",
                "name",
                "dest",
                "__deleted",
                "__op",
                "__table",
                "__lsn",
                "__source_ts_ms",
                "__tx",
                "__ts_ms",
                "__xmin"
            ]
        );
        assert_eq!(create["__op"], "c");
        assert_eq!(create["__table"], "t");
        assert_eq!(create["__lsn"], 30);
        assert_eq!(create["__tx"], 7);
        assert!(create["__ts_ms"].as_i64().unwrap() > 1_600_000_000_000);
        assert!(create["__xmin"].is_null());
        let delete = value_json(out[1].as_ref().unwrap()).unwrap();
        assert_eq!(delete["__op"], "d");
        assert_eq!(delete["__lsn"], 40);
    }

    #[test]
    fn add_fields_are_not_added_to_null_deletes() {
        let out = unwrap(UnwrapOptions {
            add_fields: vec![FieldRef::parse("op", "__").unwrap()],
            ..Default::default()
        });
        assert_eq!(value_json(out[0].as_ref().unwrap()).unwrap()["__op"], "c");
        assert_eq!(
            value_json(out[1].as_ref().unwrap()),
            Some(serde_json::Value::Null)
        );
    }

    #[test]
    fn added_field_schemas_are_optional_copies_without_defaults() {
        let schema = |spec: &str| field_schema(&FieldRef::parse(spec, "__").unwrap());
        let op = schema("op");
        assert!(op.optional);
        assert_eq!(op.ty, SchemaType::String);
        let snap = schema("snapshot");
        assert_eq!(snap.name.as_deref(), Some("io.debezium.data.Enum"));
        assert!(snap.default.is_none());
        let ts = schema("source.ts_ms:when");
        assert_eq!(ts.ty, SchemaType::Int64);
        assert!(ts.optional);
    }

    #[test]
    fn every_field_the_config_accepts_has_a_schema() {
        use crate::config::{SOURCE_FIELDS, TRANSACTION_FIELDS};
        let source = source_schema();
        for (name, _) in SOURCE_FIELDS {
            assert!(
                source.fields().iter().any(|f| f.name == *name),
                "source.{name}"
            );
        }
        let tx = transaction_block_schema();
        for name in TRANSACTION_FIELDS {
            assert!(
                tx.fields().iter().any(|f| f.name == *name),
                "transaction.{name}"
            );
        }
    }

    #[test]
    fn bad_field_references_are_rejected() {
        for bad in ["nope", "source.nope", "after.id", "a:b:c", "op:", "a.b.c"] {
            assert!(FieldRef::parse(bad, "__").is_err(), "{bad}");
        }
        // A top-level field named through a struct falls back to the top level.
        assert!(FieldRef::parse("source.op", "__").is_ok());
    }

    #[test]
    fn add_headers_in_simple_header_converter_form() {
        let out = unwrap(UnwrapOptions {
            mode: DeleteMode::RewriteWithTombstone,
            add_headers: ["op", "lsn", "db", "xmin"]
                .iter()
                .map(|s| FieldRef::parse(s, "__").unwrap())
                .collect(),
            ..Default::default()
        });
        let h = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            headers(out[0].as_ref().unwrap()),
            vec![
                h("__op", "c"),
                h("__lsn", "30"),
                h("__db", "db"),
                // Null values are headers without a value, as Debezium sends them.
                h("__xmin", "<null>")
            ]
        );
        // Debezium's tombstone shares the delete's headers and adds `op` again.
        assert_eq!(
            headers(out[2].as_ref().unwrap()),
            vec![
                h("__op", "d"),
                h("__lsn", "40"),
                h("__db", "db"),
                h("__xmin", "<null>"),
                h("__op", "d")
            ]
        );
        assert!(out[4].as_ref().unwrap().headers.is_empty());
    }

    #[test]
    fn route_by_field_sets_the_topic_from_the_row() {
        let out = unwrap(UnwrapOptions {
            route_by_field: Some("dest".into()),
            mode: DeleteMode::Rewrite,
            ..Default::default()
        });
        assert_eq!(&*out[0].as_ref().unwrap().topic, "route_me");
        // The delete's old row has no value there: the topic stays.
        assert_eq!(&*out[1].as_ref().unwrap().topic, "p.s.t");
        let u = Unwrap::new(UnwrapOptions {
            route_by_field: Some("id".into()),
            ..Default::default()
        });
        let err = u.apply(events().remove(0)).unwrap_err();
        assert!(err.to_string().contains("not a string"), "{err}");
    }

    #[test]
    fn schema_of_flat_rows_extends_the_required_value_schema() {
        let u = Unwrap::new(UnwrapOptions {
            mode: DeleteMode::Rewrite,
            ..Default::default()
        });
        let ev = u.apply(events().remove(0)).unwrap().unwrap();
        let mut f = FormatSettings {
            schemas: true,
            ..FormatSettings::default()
        }
        .build();
        let mut recs = Vec::new();
        f.encode(&ev, &mut recs).unwrap();
        let v: serde_json::Value = serde_json::from_slice(recs[0].value.as_ref().unwrap()).unwrap();
        assert_eq!(v["schema"]["name"], "p.s.t.Value");
        assert_eq!(v["schema"]["optional"], false);
        let last = v["schema"]["fields"].as_array().unwrap().last().unwrap();
        assert_eq!(last["field"], "__deleted");
        assert_eq!(last["optional"], true);
        assert_eq!(v["payload"]["__deleted"], "false");
    }

    #[test]
    fn second_unwrap_passes_flat_rows_through() {
        let u = Unwrap::new(mode(DeleteMode::Rewrite));
        let once = u.apply(events().remove(0)).unwrap().unwrap();
        let twice = u.apply(once.clone()).unwrap().unwrap();
        assert_eq!(once, twice);
    }
}
