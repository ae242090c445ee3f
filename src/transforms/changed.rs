//! Debezium's `ExtractChangedRecordState` SMT (3.6.3 semantics, checked with the oracle): the
//! names of the value fields an update changed and left unchanged, as two list headers.
//!
//! Every row-change envelope gets the configured headers; they hold names only when the event
//! has both a `before` and an `after` row (updates under REPLICA IDENTITY FULL), and are empty
//! lists otherwise. Values are compared like Java's `equals` on the Connect values, without
//! schema defaults. With the unwrap transform's `drop_fields_header_name` pointing at the
//! unchanged list, the flattened rows keep only what changed (and the required fields).

use std::sync::Arc;

use super::{Transform, TransformError};
use crate::config::ExtractChangedOptions;
use crate::event::convert::Conv;
use crate::event::{ChangeEvent, EventBody, Value};

#[derive(Debug)]
pub struct ExtractChanged {
    changed: Option<Arc<str>>,
    unchanged: Option<Arc<str>>,
}

impl ExtractChanged {
    pub fn new(opts: ExtractChangedOptions) -> Self {
        let name = |n: Option<String>| n.filter(|n| !n.trim().is_empty()).map(Arc::from);
        ExtractChanged {
            changed: name(opts.changed),
            unchanged: name(opts.unchanged),
        }
    }
}

/// A list of strings as Kafka Connect's `SimpleHeaderConverter` writes it: a JSON array.
pub fn list_header(names: &[&str]) -> Vec<u8> {
    serde_json::to_vec(names).unwrap_or_else(|_| b"[]".to_vec())
}

/// Parses a header written by [`list_header`]; `None` if it is not a list of strings.
pub fn parse_list_header(bytes: &[u8]) -> Option<Vec<String>> {
    serde_json::from_slice(bytes).ok()
}

/// `Objects.equals` on the Connect values Debezium builds: content equality (floats by bits,
/// NaN equal), except for bit strings, which Debezium holds as `byte[]`, equal only to
/// themselves: a non-null bit string always counts as changed (checked with the oracle;
/// bytea, a `ByteBuffer`, compares by content).
fn connect_equals(conv: &Conv, a: &Value, b: &Value) -> bool {
    match (conv, a, b) {
        (_, Value::Null, Value::Null) => true,
        (Conv::Bits, _, _) => false,
        (Conv::Array(elem), Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| connect_equals(elem, p, q))
        }
        _ => a.java_eq(b),
    }
}

impl Transform for ExtractChanged {
    fn apply(&self, mut ev: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let EventBody::Change {
            table,
            before,
            after,
            ..
        } = &ev.body
        else {
            return Ok(Some(ev));
        };
        let mut changed = Vec::new();
        let mut unchanged = Vec::new();
        if let (Some(b), Some(a)) = (before, after) {
            for (pos, &col) in table.value_indices.iter().enumerate() {
                let column = &table.columns[col];
                let name = column.name.as_str();
                let same = match (b.get(pos), a.get(pos)) {
                    (Some(x), Some(y)) => connect_equals(&column.conv, x, y),
                    (x, y) => x.is_none() && y.is_none(),
                };
                if same {
                    unchanged.push(name);
                } else {
                    changed.push(name);
                }
            }
        }
        let headers = [
            (self.changed.clone(), list_header(&changed)),
            (self.unchanged.clone(), list_header(&unchanged)),
        ];
        for (name, value) in headers {
            if let Some(name) = name {
                ev.headers.push((name, Some(value)));
            }
        }
        Ok(Some(ev))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::config::UnwrapOptions;
    use crate::event::{EventBuilder, EventConfig};
    use crate::format::FormatSettings;
    use crate::lsn::Lsn;
    use crate::source::catalog::{ColumnInfo, TableInfo};
    use crate::source::pgoutput::{
        Begin, Column, Insert, Message, OldTuple, PgTimestamp, Relation, ReplicaIdentity,
        TupleData, TupleValue, Update,
    };
    use crate::transforms::Unwrap;

    fn text(s: &'static str) -> TupleValue {
        TupleValue::Text(Bytes::from_static(s.as_bytes()))
    }

    /// Table s.t(id int4 key NOT NULL, a int4, b text, c bytea, d int4 NOT NULL) under
    /// REPLICA IDENTITY FULL: an insert, then an update changing `a` and `d`.
    fn events() -> Vec<ChangeEvent> {
        let mut b = EventBuilder::new(EventConfig::new("p", "db"));
        let mut info = TableInfo {
            key_columns: Some(vec!["id".into()]),
            ..Default::default()
        };
        for c in ["id", "d"] {
            info.columns.insert(
                c.into(),
                ColumnInfo {
                    optional: Some(false),
                    ..Default::default()
                },
            );
        }
        b.set_table_info("s", "t", info);
        let col = |name: &str, type_oid| Column {
            flags: 1,
            name: name.into(),
            type_oid,
            type_modifier: -1,
        };
        let row = |a, d| TupleData(vec![text("1"), text(a), text("x"), text("\\x01"), text(d)]);
        let msgs = [
            Message::Relation(Relation {
                xid: None,
                oid: 5,
                namespace: "s".into(),
                name: "t".into(),
                replica_identity: ReplicaIdentity::Full,
                columns: vec![
                    col("id", 23),
                    col("a", 23),
                    col("b", 25),
                    col("c", 17),
                    col("d", 23),
                ],
            }),
            Message::Begin(Begin {
                final_lsn: Lsn(90),
                commit_ts: PgTimestamp(0),
                xid: 7,
            }),
            Message::Insert(Insert {
                xid: None,
                relation_oid: 5,
                new: row("1", "5"),
            }),
            Message::Update(Update {
                xid: None,
                relation_oid: 5,
                old: Some(OldTuple::Old(row("1", "5"))),
                new: row("2", "6"),
            }),
        ];
        let mut out = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            b.handle(Lsn(10 * (i as u64 + 1)), m, &mut out).unwrap();
        }
        out
    }

    fn header<'a>(ev: &'a ChangeEvent, name: &str) -> Option<&'a [u8]> {
        ev.headers
            .iter()
            .find(|(k, _)| &**k == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn changed() -> ExtractChanged {
        ExtractChanged::new(ExtractChangedOptions {
            changed: Some("Changed".into()),
            unchanged: Some("Unchanged".into()),
        })
    }

    #[test]
    fn lists_changed_and_unchanged_fields() {
        let out: Vec<ChangeEvent> = events()
            .into_iter()
            .map(|e| changed().apply(e).unwrap().unwrap())
            .collect();
        // An insert has no old row: empty lists, as Debezium 3.6.3 writes them.
        assert_eq!(header(&out[0], "Changed"), Some(&b"[]"[..]));
        assert_eq!(header(&out[0], "Unchanged"), Some(&b"[]"[..]));
        assert_eq!(header(&out[1], "Changed"), Some(&br#"["a","d"]"#[..]));
        // bytea compares by content.
        assert_eq!(
            header(&out[1], "Unchanged"),
            Some(&br#"["id","b","c"]"#[..])
        );
        assert_eq!(
            parse_list_header(br#"["id","b"]"#),
            Some(vec!["id".to_string(), "b".to_string()])
        );
        let only_changed = ExtractChanged::new(ExtractChangedOptions {
            changed: Some("C".into()),
            unchanged: Some(" ".into()),
        });
        let ev = only_changed.apply(events().remove(1)).unwrap().unwrap();
        assert_eq!(ev.headers.len(), 1);
    }

    #[test]
    fn bit_strings_always_differ() {
        let bits = Value::Bytes(Bytes::from_static(&[5]));
        assert!(!connect_equals(&Conv::Bits, &bits, &bits.clone()));
        assert!(connect_equals(&Conv::Bits, &Value::Null, &Value::Null));
        assert!(connect_equals(&Conv::Bytea, &bits, &bits.clone()));
        let arr = |v: Value| Value::Array(vec![v]);
        let bits_array = Conv::Array(Box::new(Conv::Bits));
        assert!(!connect_equals(
            &bits_array,
            &arr(bits.clone()),
            &arr(bits.clone())
        ));
        assert!(connect_equals(
            &bits_array,
            &arr(Value::Null),
            &arr(Value::Null)
        ));
        assert!(connect_equals(
            &Conv::Float64,
            &Value::Float64(f64::NAN),
            &Value::Float64(f64::NAN)
        ));
    }

    fn unwrapped(opts: UnwrapOptions) -> (serde_json::Value, serde_json::Value) {
        let ev = changed().apply(events().remove(1)).unwrap().unwrap();
        let ev = Unwrap::new(opts).apply(ev).unwrap().unwrap();
        let mut f = FormatSettings {
            schemas: true,
            ..FormatSettings::default()
        }
        .build();
        let mut recs = Vec::new();
        f.encode(&ev, &mut recs).unwrap();
        let json = |b: &Option<Vec<u8>>| serde_json::from_slice(b.as_ref().unwrap()).unwrap();
        (json(&recs[0].key), json(&recs[0].value))
    }

    fn field_names(schema: &serde_json::Value) -> Vec<String> {
        schema["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn unwrap_drops_unchanged_optional_fields() {
        let (key, value) = unwrapped(UnwrapOptions {
            drop_fields_header: Some("Unchanged".into()),
            drop_fields_from_key: true,
            ..Default::default()
        });
        // b and c were unchanged and are optional; id is unchanged but required.
        assert_eq!(field_names(&value["schema"]), ["id", "a", "d"]);
        assert_eq!(
            value["payload"],
            serde_json::json!({"id": 1, "a": 2, "d": 6})
        );
        assert_eq!(value["schema"]["name"], "p.s.t.Value");
        assert_eq!(field_names(&key["schema"]), ["id"]);

        // Not schema-compatible: every listed field goes, from the key too.
        let (key, value) = unwrapped(UnwrapOptions {
            drop_fields_header: Some("Unchanged".into()),
            drop_fields_from_key: true,
            drop_fields_keep_schema_compatible: false,
            ..Default::default()
        });
        assert_eq!(field_names(&value["schema"]), ["a", "d"]);
        assert_eq!(value["payload"], serde_json::json!({"a": 2, "d": 6}));
        assert!(field_names(&key["schema"]).is_empty());
        assert_eq!(key["payload"], serde_json::json!({}));

        // Without the option, or naming an absent header: nothing is dropped.
        for header in [None, Some("Other".to_string())] {
            let (_, value) = unwrapped(UnwrapOptions {
                drop_fields_header: header,
                ..Default::default()
            });
            assert_eq!(field_names(&value["schema"]), ["id", "a", "b", "c", "d"]);
        }
    }
}
