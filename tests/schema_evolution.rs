//! Schema changes while streaming: every event carries the table's schema as of that change.
//! ADD/DROP/ALTER TYPE/RENAME COLUMN are compared with Debezium itself by tests/oracle_diff.rs
//! (table `t_evo`); this file covers what the oracle cannot settle: an enum type gaining a
//! label while pgcdc streams, where Debezium 3.6.3 keeps the labels it read at start until it
//! restarts (checked with dbz-oracle: `allowed` stays stale even after later DDL on the table).

mod common;

use std::time::Duration;

use common::cdc::{Capture, ConnectorFile};
use common::kafka::{Rec, TestKafka};
use common::pg::TestPg;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

/// The `after` field schema named `field` of a schemas-enabled change record.
fn field_schema<'a>(r: &'a Rec, field: &str) -> &'a Value {
    let schema = &r.value.as_ref().expect("a value")["schema"];
    let after = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "after")
        .expect("after field");
    after["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == field)
        .unwrap_or_else(|| panic!("no field {field} in {after}"))
}

fn allowed(r: &Rec) -> String {
    field_schema(r, "e")["parameters"]["allowed"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn payload_after(r: &Rec) -> &Value {
    &r.value.as_ref().unwrap()["payload"]["after"]
}

#[test]
fn enum_labels_added_while_streaming() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TYPE mood_evo AS ENUM ('x', 'y');
         CREATE TABLE evo (id int PRIMARY KEY, e mood_evo);",
    );
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("evo").schemas(true));
    let topic = "evo.public.evo";
    cap.run_once();

    pg.psql("INSERT INTO evo VALUES (1, 'x');");
    cap.run_to_current(&pg);
    let recs = kafka.read_topic(topic, 1, WAIT);
    assert_eq!(allowed(&recs[0]), "x,y");

    // A new label, then a restart: the new session reads the labels afresh.
    pg.psql("ALTER TYPE mood_evo ADD VALUE 'z';");
    pg.psql("INSERT INTO evo VALUES (2, 'z');");
    cap.run_to_current(&pg);
    let recs = kafka.read_topic(topic, 2, WAIT);
    assert_eq!(payload_after(&recs[1])["e"], "z");
    assert_eq!(allowed(&recs[1]), "x,y,z");

    // While streaming: the labels are read with the table's Relation message, so a label added
    // later shows once DDL on the table makes PostgreSQL send the relation again.
    let mut child = cap.spawn(None);
    pg.psql("INSERT INTO evo VALUES (3, 'y');");
    let recs = kafka.read_topic(topic, 3, WAIT);
    assert_eq!(allowed(&recs[2]), "x,y,z");
    pg.psql("ALTER TYPE mood_evo ADD VALUE 'w' BEFORE 'x';");
    pg.psql("INSERT INTO evo VALUES (4, 'w');");
    let recs = kafka.read_topic(topic, 4, WAIT);
    assert_eq!(payload_after(&recs[3])["e"], "w");
    // No Relation message in between: the labels of the session's start, as in Debezium.
    assert_eq!(allowed(&recs[3]), "x,y,z");
    pg.psql(
        "ALTER TABLE evo ADD COLUMN f int;
         INSERT INTO evo VALUES (5, 'w', 1);",
    );
    let recs = kafka.read_topic(topic, 5, WAIT);
    // In enum sort order (w was added before x).
    assert_eq!(allowed(&recs[4]), "w,x,y,z");
    assert_eq!(payload_after(&recs[4])["f"], 1);
    assert_eq!(field_schema(&recs[4], "f")["type"], "int32");
    cap.terminate(&mut child);
}
