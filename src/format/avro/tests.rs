//! The Avro serializer against `apache-avro`: every schema it makes parses, and every datum
//! decodes under it to the row's values.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use apache_avro::types::Value as Avro;
use bytes::Bytes;

use super::*;
use crate::event::{EventBuilder, EventConfig};
use crate::lsn::Lsn;
use crate::source::catalog::{ColumnInfo, TableInfo};
use crate::source::pgoutput::{
    Begin, Column, Delete, Insert, Message, OldTuple, PgTimestamp, Relation, ReplicaIdentity,
    TupleData, TupleValue,
};

/// Ids numbered in registration order, one per distinct (subject, schema).
#[derive(Debug, Default)]
struct Ids(Mutex<HashMap<(String, String), (u32, serde_json::Value)>>);

impl SchemaIds for Ids {
    fn id(&self, subject: &str, schema: &serde_json::Value) -> Result<u32, FormatError> {
        let mut m = self.0.lock().unwrap();
        let n = m.len() as u32 + 1;
        Ok(m.entry((subject.into(), schema.to_string()))
            .or_insert((n, schema.clone()))
            .0)
    }
}

impl Ids {
    fn schema(&self, id: u32) -> apache_avro::Schema {
        let m = self.0.lock().unwrap();
        let (_, json) = m.values().find(|(i, _)| *i == id).expect("registered id");
        apache_avro::Schema::parse(json).unwrap_or_else(|e| panic!("{e}: {json}"))
    }

    /// The value of a record: its schema id, then the datum decoded under that schema.
    fn decode(&self, bytes: &[u8]) -> Avro {
        assert_eq!(bytes[0], 0, "magic byte");
        let id = u32::from_be_bytes(bytes[1..5].try_into().unwrap());
        let schema = self.schema(id);
        let mut rest = &bytes[5..];
        // Deprecated in 0.22 for a builder; the one-call form reads as well for a test.
        #[allow(deprecated)]
        let v = apache_avro::from_avro_datum(&schema, &mut rest, None).unwrap();
        assert!(rest.is_empty(), "{} bytes left over", rest.len());
        v
    }
}

fn text(s: &str) -> TupleValue {
    TupleValue::Text(Bytes::copy_from_slice(s.as_bytes()))
}

/// Events of table `s.t` (id int4 key, small int2, n numeric(10,2), note text defaulting to
/// 'abc', at timestamp, flag bool, raw bytea, tags int4[]): an insert with values, an insert
/// with nulls, and a delete.
fn events() -> Vec<ChangeEvent> {
    let mut b = EventBuilder::new(EventConfig::new("p", "postgres"));
    let mut info = TableInfo {
        key_columns: Some(vec!["id".into()]),
        ..Default::default()
    };
    for c in ["small", "n", "at", "flag", "raw", "tags"] {
        info.columns.insert(
            c.into(),
            ColumnInfo {
                optional: Some(true),
                ..Default::default()
            },
        );
    }
    info.columns.insert(
        "note".into(),
        ColumnInfo {
            optional: Some(true),
            default_expr: Some("'abc'::text".into()),
            ..Default::default()
        },
    );
    b.set_table_info("s", "t", info);
    let col = |name: &str, type_oid, type_modifier| Column {
        flags: 0,
        name: name.into(),
        type_oid,
        type_modifier,
    };
    let rel = Relation {
        xid: None,
        oid: 5,
        namespace: "s".into(),
        name: "t".into(),
        replica_identity: ReplicaIdentity::Default,
        columns: vec![
            col("id", 23, -1),
            col("small", 21, -1),
            col("n", 1700, (10 << 16 | 2) + 4),
            col("note", 25, -1),
            col("at", 1114, -1),
            col("flag", 16, -1),
            col("raw", 17, -1),
            col("tags", 1007, -1),
        ],
    };
    let mut out = Vec::new();
    b.handle(Lsn(1), &Message::Relation(rel), &mut out).unwrap();
    let begin = Begin {
        final_lsn: Lsn(9),
        commit_ts: PgTimestamp(0),
        xid: 3,
    };
    b.handle(Lsn(2), &Message::Begin(begin), &mut out).unwrap();
    let full = TupleData(vec![
        text("1"),
        text("-7"),
        text("-12.34"),
        text("hello"),
        text("2024-02-29 13:45:56.123456"),
        text("t"),
        text("\\x00ff"),
        text("{1,NULL,3}"),
    ]);
    let nulls = TupleData(
        std::iter::once(text("2"))
            .chain(std::iter::repeat_n(TupleValue::Null, 7))
            .collect(),
    );
    for new in [full, nulls] {
        let insert = Insert {
            xid: None,
            relation_oid: 5,
            new,
        };
        b.handle(Lsn(3), &Message::Insert(insert), &mut out)
            .unwrap();
    }
    let delete = Delete {
        xid: None,
        relation_oid: 5,
        old: OldTuple::Key(TupleData(
            std::iter::once(text("1"))
                .chain(std::iter::repeat_n(TupleValue::Null, 7))
                .collect(),
        )),
    };
    b.handle(Lsn(4), &Message::Delete(delete), &mut out)
        .unwrap();
    out
}

fn field<'a>(record: &'a Avro, name: &str) -> &'a Avro {
    let Avro::Record(fields) = record else {
        panic!("not a record: {record:?}")
    };
    &fields.iter().find(|(n, _)| n == name).expect(name).1
}

/// The value inside a union (`Avro::Union(index, value)`).
fn inner(v: &Avro) -> &Avro {
    match v {
        Avro::Union(_, v) => v,
        v => v,
    }
}

#[test]
fn every_record_decodes_under_its_registered_schema() {
    let ids = Arc::new(Ids::default());
    let mut f = AvroFormat::new(ids.clone(), Vec::new());
    let mut recs = Vec::new();
    for ev in events() {
        f.encode(&ev, &mut recs).unwrap();
    }
    // insert, insert, delete, tombstone
    assert_eq!(recs.len(), 4, "{recs:?}");
    // One key and one value schema for the table, registered once each.
    assert_eq!(ids.0.lock().unwrap().len(), 2);

    let first = ids.decode(recs[0].value.as_deref().unwrap());
    assert_eq!(inner(field(&first, "op")), &Avro::String("c".into()));
    assert_eq!(inner(field(&first, "before")), &Avro::Null);
    let after = inner(field(&first, "after"));
    assert_eq!(inner(field(after, "id")), &Avro::Int(1));
    assert_eq!(inner(field(after, "small")), &Avro::Int(-7));
    assert_eq!(inner(field(after, "note")), &Avro::String("hello".into()));
    assert_eq!(inner(field(after, "flag")), &Avro::Boolean(true));
    assert_eq!(inner(field(after, "raw")), &Avro::Bytes(vec![0, 0xff]));
    assert_eq!(
        inner(field(after, "at")),
        &Avro::Long(1_709_214_356_123_456),
        "MicroTimestamp"
    );
    let Avro::Decimal(n) = inner(field(after, "n")) else {
        panic!("n: {:?}", field(after, "n"))
    };
    assert_eq!(
        Vec::<u8>::try_from(n.clone()).unwrap(),
        (-1234i32).to_be_bytes()[2..].to_vec()
    );
    assert_eq!(
        inner(field(after, "tags")),
        &Avro::Array(vec![
            Avro::Union(1, Box::new(Avro::Int(1))),
            Avro::Union(0, Box::new(Avro::Null)),
            Avro::Union(1, Box::new(Avro::Int(3))),
        ])
    );
    let source = field(&first, "source");
    assert_eq!(inner(field(source, "table")), &Avro::String("t".into()));
    assert_eq!(
        inner(field(source, "snapshot")),
        &Avro::String("false".into())
    );
    assert_eq!(inner(field(source, "txId")), &Avro::Long(3));

    // A null in a column with a default is written as the default, as the converter does.
    let second = ids.decode(recs[1].value.as_deref().unwrap());
    let after = inner(field(&second, "after"));
    assert_eq!(inner(field(after, "note")), &Avro::String("abc".into()));
    assert_eq!(inner(field(after, "at")), &Avro::Null);

    let delete = ids.decode(recs[2].value.as_deref().unwrap());
    assert_eq!(inner(field(&delete, "op")), &Avro::String("d".into()));
    assert_eq!(inner(field(&delete, "after")), &Avro::Null);
    let key = ids.decode(recs[3].key.as_deref().unwrap());
    assert_eq!(inner(field(&key, "id")), &Avro::Int(1));
    assert!(recs[3].value.is_none(), "tombstone");
}

#[test]
fn heartbeats_decode() {
    let ids = Arc::new(Ids::default());
    let f = AvroFormat::new(ids.clone(), Vec::new());
    let r =
        crate::format::Serializer::heartbeat(&f, "__debezium-heartbeat.p".into(), "p", 42).unwrap();
    let key = ids.decode(r.key.as_deref().unwrap());
    assert_eq!(field(&key, "serverName"), &Avro::String("p".into()));
    let value = ids.decode(r.value.as_deref().unwrap());
    assert_eq!(field(&value, "ts_ms"), &Avro::Long(42));
}

#[test]
fn schema_names_and_unions_follow_avro_data() {
    let ev = &events()[0];
    let t = ev.table().unwrap();
    let s = avro_schema(&t.envelope_schema);
    assert_eq!(s["type"], "record");
    assert_eq!(s["name"], "Envelope");
    assert_eq!(s["namespace"], "p.s.t");
    assert_eq!(s["connect.name"], "p.s.t.Envelope");
    assert_eq!(s["connect.version"], 2);
    let before = &s["fields"][0];
    assert_eq!(before["type"][0], "null");
    assert_eq!(before["type"][1]["name"], "Value");
    assert_eq!(before["default"], serde_json::Value::Null);
    // The second use of the row record refers to it by name.
    assert_eq!(s["fields"][1]["type"][1], "Value");
    let snapshot = &s["fields"][2]["type"]["fields"][4];
    assert_eq!(snapshot["name"], "snapshot");
    assert_eq!(snapshot["type"][1], "null", "a default puts the type first");
    assert_eq!(snapshot["default"], "false");
    let small = &s["fields"][0]["type"][1]["fields"][1];
    assert_eq!(small["type"][1]["connect.type"], "int16");
    let n = &s["fields"][0]["type"][1]["fields"][2]["type"][1];
    assert_eq!(n["logicalType"], "decimal");
    assert_eq!(n["precision"], 10);
    assert_eq!(n["scale"], 2);
}

/// Debezium 3.6.3 with Confluent's AvroConverter 7.0.16 on the same table (`CREATE SCHEMA s;
/// CREATE TABLE s.t (id int4 primary key, small int2, n numeric(10,2), note text default 'abc',
/// at timestamp, flag bool, raw bytea, tags int4[])`, the two rows of [`events`]), as
/// `../shared/tools/dbz-oracle/run.sh --format avro --topic-prefix p` wrote it.
const DEBEZIUM: &str = include_str!("../../../tests/fixtures/avro/debezium-s.t.jsonl");

#[test]
fn schemas_and_rows_equal_debezium_avro_converter() {
    let ids = Arc::new(Ids::default());
    let mut f = AvroFormat::new(ids.clone(), Vec::new());
    let mut ours = Vec::new();
    for ev in events().into_iter().take(2) {
        f.encode(&ev, &mut ours).unwrap();
    }
    let ev = &events()[0];
    let t = ev.table().unwrap();
    for (line, rec) in DEBEZIUM.lines().zip(&ours) {
        let theirs: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            avro_schema(t.key_schema.as_ref().unwrap()),
            theirs["key"]["schema"],
            "key schema"
        );
        assert_eq!(
            avro_schema(&t.envelope_schema),
            theirs["value"]["schema"],
            "value schema"
        );
        let datum = |part: &str| {
            base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                theirs[part]["datum_b64"].as_str().unwrap(),
            )
            .unwrap()
        };
        assert_eq!(
            rec.key.as_ref().unwrap()[5..],
            datum("key")[..],
            "key datum"
        );
        // Debezium's are snapshot reads with other positions and times: compare the rows.
        let schema = apache_avro::Schema::parse(&theirs["value"]["schema"]).unwrap();
        #[allow(deprecated)]
        let their_value =
            apache_avro::from_avro_datum(&schema, &mut &datum("value")[..], None).unwrap();
        let our_value = ids.decode(rec.value.as_deref().unwrap());
        assert_eq!(field(&our_value, "after"), field(&their_value, "after"));
        let (ours, theirs) = (field(&our_value, "source"), field(&their_value, "source"));
        for name in ["version", "connector", "name", "db", "schema", "table"] {
            assert_eq!(field(ours, name), field(theirs, name), "source.{name}");
        }
    }
}
