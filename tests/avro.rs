//! `[format] type = "avro"` through a real schema registry (Apicurio Registry's Confluent API,
//! `scripts/registry.sh`) and Apache Kafka: every record names a registered schema, decodes under
//! it with `apache-avro`, a column added mid-stream registers a new version, and a change the
//! subject's compatibility level refuses stops pgcdc with the subject and the level named,
//! publishing nothing after it until the level allows it.

mod common;

use std::time::Duration;

use apache_avro::types::Value as Avro;
use common::cdc::{Capture, ConnectorFile};
use common::kafka::{read_topic_raw, TestKafka};
use common::pg::TestPg;
use common::registry::TestRegistry;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

fn avro_file(name: &str, reg: &TestRegistry) -> ConnectorFile {
    ConnectorFile::new(name).format(&format!(
        "type = \"avro\"\nschema_registry_url = \"{}\"",
        reg.url()
    ))
}

/// A record's schema id and its datum decoded under the schema the registry has for that id.
fn decode(reg: &TestRegistry, bytes: &[u8]) -> (u32, Avro) {
    assert_eq!(bytes[0], 0, "magic byte");
    let id = u32::from_be_bytes(bytes[1..5].try_into().unwrap());
    let schema = apache_avro::Schema::parse(&reg.schema(id)).unwrap();
    let mut rest = &bytes[5..];
    #[allow(deprecated)]
    let v = apache_avro::from_avro_datum(&schema, &mut rest, None).unwrap();
    assert!(rest.is_empty(), "bytes after the datum");
    (id, v)
}

fn field<'a>(v: &'a Avro, name: &str) -> Option<&'a Avro> {
    let v = match v {
        Avro::Union(_, v) => v.as_ref(),
        v => v,
    };
    let Avro::Record(fields) = v else {
        return None;
    };
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| match v {
            Avro::Union(_, v) => v.as_ref(),
            v => v,
        })
}

#[test]
fn records_decode_through_the_registry_and_a_new_column_registers_a_version() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let reg = TestRegistry::start();
    pg.psql("CREATE TABLE av (id int PRIMARY KEY, name text, amount numeric(10,2));");
    let cap = Capture::new(&pg, &kafka, avro_file("av", &reg));
    cap.run_once();
    pg.psql(
        "INSERT INTO av VALUES (1, 'one', 1.50), (2, 'two', NULL);
         UPDATE av SET name = 'uno' WHERE id = 1;
         DELETE FROM av WHERE id = 2;
         ALTER TABLE av ADD COLUMN extra int DEFAULT 5;
         INSERT INTO av VALUES (3, 'three', 3.00, 7);",
    );
    cap.run_to_current(&pg);

    let recs = read_topic_raw(&kafka.bootstrap(), "av.public.av", 6, WAIT);
    assert_eq!(recs.len(), 6, "c, c, u, d, tombstone, c");
    let mut seen = Vec::new();
    for r in &recs {
        let (_, key) = decode(&reg, r.key.as_deref().expect("a key"));
        let id = field(&key, "id").cloned();
        let Some(value) = r.value.as_deref() else {
            seen.push(("tombstone".to_string(), id, None, 0));
            continue;
        };
        let (schema_id, v) = decode(&reg, value);
        let Some(Avro::String(op)) = field(&v, "op") else {
            panic!("no op: {v:?}")
        };
        let row = field(&v, "after").or_else(|| field(&v, "before")).unwrap();
        seen.push((op.clone(), id, field(row, "extra").cloned(), schema_id));
    }
    let ops: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(ops, ["c", "c", "u", "d", "tombstone", "c"], "{seen:?}");
    let ids: Vec<Option<Avro>> = seen.iter().map(|s| s.1.clone()).collect();
    assert_eq!(ids, [1, 2, 1, 2, 2, 3].map(|i| Some(Avro::Int(i))), "keys");
    assert_eq!(seen[0].2, None, "no extra column before the ALTER");
    assert_eq!(seen[5].2, Some(Avro::Int(7)));
    assert_ne!(seen[0].3, seen[5].3, "the new column is a new schema");
    let (status, versions) = reg.call("GET", "/subjects/av.public.av-value/versions", None);
    assert_eq!((status, versions), (200, json!([1, 2])));
    let first = decode(&reg, recs[0].value.as_deref().unwrap()).1;
    let after = field(&first, "after").unwrap();
    assert_eq!(field(after, "name"), Some(&Avro::String("one".into())));
    println!(
        "avro: 6 records decoded through the registry; value schema ids {} then {}",
        seen[0].3, seen[5].3
    );
}

#[test]
fn an_incompatible_change_stops_with_the_subject_and_level_named() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let reg = TestRegistry::start();
    pg.psql("CREATE TABLE inc (id int PRIMARY KEY, v int NOT NULL);");
    let cap = Capture::new(&pg, &kafka, avro_file("inc", &reg));
    cap.run_once();
    pg.psql("INSERT INTO inc VALUES (1, 10);");
    cap.run_to_current(&pg);
    let (status, body) = reg.call(
        "PUT",
        "/config/inc.public.inc-value",
        Some(&json!({"compatibility": "BACKWARD"})),
    );
    assert_eq!(status, 200, "{body}");
    // int to text: a reader of the new schema cannot read the old records.
    pg.psql("ALTER TABLE inc ALTER COLUMN v TYPE text; INSERT INTO inc VALUES (2, 'x');");

    let (status, stderr) = cap.run_failing(WAIT);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one error line:\n{stderr}");
    for needle in ["inc.public.inc-value", "BACKWARD", "incompatible"] {
        assert!(
            errors[0].contains(needle),
            "{needle:?} missing: {}",
            errors[0]
        );
    }
    println!("{}", errors[0]);
    assert_eq!(
        read_topic_raw(
            &kafka.bootstrap(),
            "inc.public.inc",
            1,
            Duration::from_secs(5)
        )
        .len(),
        1,
        "nothing after the refused change is published"
    );

    // Once the level allows it, the same change goes through: nothing was skipped.
    let (status, body) = reg.call(
        "PUT",
        "/config/inc.public.inc-value",
        Some(&json!({"compatibility": "NONE"})),
    );
    assert_eq!(status, 200, "{body}");
    cap.run_to_current(&pg);
    let recs = read_topic_raw(&kafka.bootstrap(), "inc.public.inc", 2, WAIT);
    assert_eq!(recs.len(), 2);
    let (_, v) = decode(&reg, recs[1].value.as_deref().unwrap());
    let after = field(&v, "after").unwrap();
    assert_eq!(field(after, "v"), Some(&Avro::String("x".into())));
}
