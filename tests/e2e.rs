//! End to end through a real PostgreSQL and a real Kafka-protocol broker: changes committed in
//! PostgreSQL arrive as Debezium-shaped events, and restarts neither lose nor re-publish
//! acknowledged transactions.

mod common;

use std::time::Duration;

use common::cdc::{Capture, ConnectorFile};
use common::kafka::{Rec, TestKafka};
use common::pg::TestPg;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

fn after(r: &Rec) -> &serde_json::Value {
    &r.value.as_ref().unwrap()["after"]
}

fn before(r: &Rec) -> &serde_json::Value {
    &r.value.as_ref().unwrap()["before"]
}

#[test]
fn insert_update_delete_truncate_and_message() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TABLE items (id int PRIMARY KEY, name text, qty int);
         CREATE TABLE plain (n int);",
    );
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("shop").skipped_operations(&[]),
    );
    cap.run_once(); // creates the slot and publication
    pg.psql(
        "INSERT INTO items VALUES (1, 'one', 1), (2, 'two', 2);
         UPDATE items SET qty = 10 WHERE id = 1;
         DELETE FROM items WHERE id = 2;
         SELECT pg_logical_emit_message(true, 'audit', 'hello');
         INSERT INTO plain VALUES (7);
         TRUNCATE items;",
    );
    cap.run_to_current(&pg);

    let recs = kafka.read_topic("shop.public.items", 6, WAIT);
    let ops: Vec<_> = recs.iter().map(|r| r.op().unwrap_or("tombstone")).collect();
    assert_eq!(ops, ["c", "c", "u", "d", "tombstone", "t"], "{recs:#?}");
    assert_eq!(recs[0].key, Some(json!({"id": 1})));
    assert_eq!(after(&recs[0]), &json!({"id": 1, "name": "one", "qty": 1}));
    assert_eq!(before(&recs[0]), &serde_json::Value::Null);
    assert_eq!(after(&recs[2])["qty"], json!(10));
    // REPLICA IDENTITY DEFAULT: an update carries no old row; a delete carries the key.
    assert_eq!(before(&recs[2]), &serde_json::Value::Null);
    assert_eq!(
        before(&recs[3]),
        &json!({"id": 2, "name": null, "qty": null})
    );
    assert_eq!(after(&recs[3]), &serde_json::Value::Null);
    assert_eq!(recs[4].key, Some(json!({"id": 2})));
    assert!(recs[4].value.is_none());
    assert_eq!(recs[5].key, None, "truncate events have a null key");

    let v = recs[0].value.as_ref().unwrap();
    let src = &v["source"];
    assert_eq!(src["connector"], "postgresql");
    assert_eq!(src["name"], "shop");
    assert_eq!(src["db"], "postgres");
    assert_eq!(src["schema"], "public");
    assert_eq!(src["table"], "items");
    assert_eq!(src["snapshot"], "false");
    assert!(src["lsn"].as_i64().unwrap() > 0);
    assert!(src["txId"].as_i64().unwrap() > 0);
    assert!(v["ts_ms"].as_i64().unwrap() >= src["ts_ms"].as_i64().unwrap());
    // Both inserts were one transaction.
    assert_eq!(
        src["txId"],
        recs[1].value.as_ref().unwrap()["source"]["txId"]
    );

    let plain = kafka.read_topic("shop.public.plain", 1, WAIT);
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].key, None, "a table without a key gets null keys");
    assert_eq!(after(&plain[0]), &json!({"n": 7}));

    let msgs = kafka.read_topic("shop.message", 1, WAIT);
    let audit: Vec<_> = msgs
        .iter()
        .filter(|m| m.key == Some(json!({"prefix": "audit"})))
        .collect();
    assert_eq!(audit.len(), 1, "{msgs:#?}");
    let m = audit[0].value.as_ref().unwrap();
    assert_eq!(m["op"], "m");
    assert_eq!(m["message"]["prefix"], "audit");
    assert_eq!(m["message"]["content"], "aGVsbG8="); // base64("hello")
}

#[test]
fn primary_key_change_is_delete_tombstone_create() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql("CREATE TABLE k (id int PRIMARY KEY, v text); INSERT INTO k VALUES (1, 'a');");
    // Streaming only: the row that exists before the start is not what this test is about.
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("pk").extra("[snapshot]\nmode = \"no_data\""),
    );
    cap.run_once();
    pg.psql("UPDATE k SET id = 2 WHERE id = 1;");
    let note_lsn = pg.psql("SELECT pg_logical_emit_message(false, 'note', 'x');");
    cap.run_to_current(&pg);
    let recs = kafka.read_topic("pk.public.k", 3, WAIT);

    // Event ids: the transaction's commit LSN and the record's index in it; a
    // non-transactional message is its own unit at its own LSN.
    let ids: Vec<String> = recs
        .iter()
        .map(|r| String::from_utf8(r.header("pgcdc.event.id").expect("event id").to_vec()).unwrap())
        .collect();
    let commit = ids[0].strip_suffix(":0").expect("first record has index 0");
    assert!(commit.parse::<pgcdc::Lsn>().is_ok(), "{ids:?}");
    assert_eq!(ids, [0, 1, 2].map(|i| format!("{commit}:{i}")));
    let notes = kafka.read_topic("pk.message", 1, WAIT);
    assert_eq!(
        notes[0].header("pgcdc.event.id"),
        Some(format!("{}:0", note_lsn.trim()).as_bytes())
    );

    let ops: Vec<_> = recs.iter().map(|r| r.op().unwrap_or("tombstone")).collect();
    assert_eq!(ops, ["d", "tombstone", "c"], "{recs:#?}");
    assert_eq!(recs[0].key, Some(json!({"id": 1})));
    assert_eq!(recs[1].key, Some(json!({"id": 1})));
    assert_eq!(recs[2].key, Some(json!({"id": 2})));
    assert_eq!(after(&recs[2]), &json!({"id": 2, "v": "a"}));
    let newkey: serde_json::Value =
        serde_json::from_slice(recs[0].header("__debezium.newkey").expect("newkey header"))
            .unwrap();
    assert_eq!(newkey, json!({"id": 2}));
    let oldkey: serde_json::Value =
        serde_json::from_slice(recs[2].header("__debezium.oldkey").expect("oldkey header"))
            .unwrap();
    assert_eq!(oldkey, json!({"id": 1}));
}

#[test]
fn two_tables_go_to_their_own_topics_and_filters_apply() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY);
         CREATE TABLE secret (id int PRIMARY KEY);",
    );
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("two").include_tables(&["public\\.a", "public\\.b"]),
    );
    cap.run_once();
    pg.psql(
        "BEGIN; INSERT INTO a VALUES (1); INSERT INTO b VALUES (10); INSERT INTO secret VALUES (5); COMMIT;
         INSERT INTO a VALUES (2);",
    );
    cap.run_to_current(&pg);
    let a = kafka.read_topic("two.public.a", 2, WAIT);
    let b = kafka.read_topic("two.public.b", 1, WAIT);
    assert_eq!(
        a.iter().map(|r| after(r)["id"].clone()).collect::<Vec<_>>(),
        [json!(1), json!(2)]
    );
    assert_eq!(b.len(), 1);
    assert_eq!(after(&b[0])["id"], json!(10));
    assert!(
        kafka
            .read_topic("two.public.secret", 1, Duration::from_secs(3))
            .is_empty(),
        "excluded table must not be published"
    );
}

#[test]
fn schema_lists_pick_the_schemas() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE SCHEMA inv; CREATE SCHEMA staging;
         CREATE TABLE inv.t (id int PRIMARY KEY); CREATE TABLE staging.t (id int PRIMARY KEY);",
    );
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("sch").extra("\n[tables]\nschema_include = [\"INV\"]\n"),
    );
    cap.run_once();
    pg.psql("BEGIN; INSERT INTO staging.t VALUES (7); INSERT INTO inv.t VALUES (1); COMMIT;");
    cap.run_to_current(&pg);
    let inv = kafka.read_topic("sch.inv.t", 1, WAIT);
    assert_eq!(inv.len(), 1);
    assert_eq!(after(&inv[0])["id"], json!(1));
    assert!(
        kafka
            .read_topic("sch.staging.t", 1, Duration::from_secs(3))
            .is_empty(),
        "a schema outside schema_include must not be published"
    );
}

#[test]
fn restart_does_not_republish_acknowledged_transactions() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql("CREATE TABLE r (id int PRIMARY KEY);");
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("rs"));
    cap.run_once();
    pg.psql("INSERT INTO r SELECT generate_series(1, 100);");
    cap.run_to_current(&pg);
    for i in 101..=150 {
        pg.psql(&format!("INSERT INTO r VALUES ({i});"));
    }
    cap.run_to_current(&pg);
    // A run with nothing new publishes nothing.
    cap.run_to_current(&pg);
    let recs = kafka.read_topic("rs.public.r", 150, WAIT);
    let ids: Vec<i64> = recs
        .iter()
        .map(|r| after(r)["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids[..150.min(ids.len())], (1..=150).collect::<Vec<_>>()[..]);
    assert_eq!(
        recs.len(),
        150,
        "acknowledged transactions were re-published"
    );
}

#[test]
fn replica_identity_full_keys_by_primary_key_and_schemas_follow_the_catalog() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
         CREATE TABLE f (id int PRIMARY KEY, name text NOT NULL, m mood);
         ALTER TABLE f REPLICA IDENTITY FULL;
         INSERT INTO f VALUES (1, 'a', 'ok');",
    );
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("full").schemas(true));
    cap.run_once();
    pg.psql("UPDATE f SET name = 'b', m = 'happy' WHERE id = 1;");
    cap.run_to_current(&pg);
    let recs = kafka.read_topic("full.public.f", 2, WAIT);
    assert_eq!(recs.len(), 2, "{recs:#?}");
    // The initial snapshot's row, keyed and described exactly like the streamed update.
    let snap = recs[0].value.as_ref().unwrap();
    assert_eq!(snap["payload"]["op"], json!("r"));
    assert_eq!(recs[0].key, recs[1].key);
    assert_eq!(snap["schema"], recs[1].value.as_ref().unwrap()["schema"]);
    let recs = &recs[1..];
    let key = recs[0].key.as_ref().unwrap();
    assert_eq!(
        key["payload"],
        json!({"id": 1}),
        "key is the primary key, not the whole row"
    );
    let v = recs[0].value.as_ref().unwrap();
    assert_eq!(
        v["payload"]["before"],
        json!({"id": 1, "name": "a", "m": "ok"})
    );
    assert_eq!(
        v["payload"]["after"],
        json!({"id": 1, "name": "b", "m": "happy"})
    );
    let fields = v["schema"]["fields"][1]["fields"].as_array().unwrap();
    let by_name = |n: &str| fields.iter().find(|f| f["field"] == n).unwrap().clone();
    assert_eq!(
        by_name("name")["optional"],
        json!(false),
        "NOT NULL column is required"
    );
    assert_eq!(by_name("m")["name"], json!("io.debezium.data.Enum"));
    assert_eq!(by_name("m")["parameters"]["allowed"], json!("sad,ok,happy"));
    assert_eq!(v["schema"]["name"], json!("full.public.f.Envelope"));
}

/// After a reconnect inside one run, the first change still names the last durable commit in
/// `source.sequence` (Debezium keeps it in its offsets as `lsn_commit`), where a fresh session
/// would say null.
#[test]
fn the_last_commit_survives_a_reconnect() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql("CREATE TABLE seqt (id int PRIMARY KEY)");
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("seqr"));
    cap.run_once();
    let mut child = cap.spawn(None);
    pg.psql("INSERT INTO seqt VALUES (1)");
    pg.psql("INSERT INTO seqt VALUES (2)");
    let first = kafka.read_topic("seqr.public.seqt", 2, Duration::from_secs(60));
    let seq = |r: &Rec| -> Vec<Option<u64>> {
        let v = r.value.as_ref().unwrap();
        let text = v.get("payload").unwrap_or(v)["source"]["sequence"]
            .as_str()
            .unwrap()
            .to_string();
        serde_json::from_str::<Vec<Option<String>>>(&text)
            .unwrap()
            .into_iter()
            .map(|v| v.map(|n| n.parse().unwrap()))
            .collect()
    };
    let before_kill = seq(&first[1]);
    assert!(before_kill[0].is_some(), "{before_kill:?}");
    // Wait until both commits are confirmed, then drop the replication connection.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let confirmed = || {
        pg.psql("SELECT confirmed_flush_lsn >= pg_current_wal_lsn() FROM pg_replication_slots WHERE slot_name = 'seqr_slot'")
            .trim()
            == "t"
    };
    while !confirmed() {
        assert!(
            std::time::Instant::now() < deadline,
            "slot never confirmed the commits"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    pg.psql("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'seqr_slot' AND active_pid IS NOT NULL");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !cap.log().contains("session failed, reconnecting") {
        assert!(
            std::time::Instant::now() < deadline,
            "no reconnect:\n{}",
            cap.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    pg.psql("INSERT INTO seqt VALUES (3)");
    let all = kafka.read_topic("seqr.public.seqt", 3, Duration::from_secs(60));
    cap.assert_running(&mut child);
    cap.terminate(&mut child);
    let after_reconnect = seq(&all[2]);
    let last = after_reconnect[0].expect("the last commit is named after a reconnect");
    assert!(
        last > before_kill[1].unwrap(),
        "{after_reconnect:?} names a commit before row 2's change {before_kill:?}"
    );
}

/// `offsets.store = "kafka"`: nothing in the data directory, so a pgcdc started with an empty
/// one resumes exactly where the last one stopped (a file store would snapshot again).
#[test]
fn offsets_in_kafka_survive_an_empty_data_directory() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql("CREATE TABLE ok (id int PRIMARY KEY);");
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("ok").extra("[offsets]\nstore = \"kafka\"\n"),
    );
    cap.run_once();
    pg.psql("INSERT INTO ok SELECT generate_series(1, 100);");
    cap.run_to_current(&pg);
    let data = cap.dir.path().join("data");
    assert!(cap.offsets("ok").is_none(), "an offsets file was written");
    std::fs::remove_dir_all(&data).ok();
    for i in 101..=150 {
        pg.psql(&format!("INSERT INTO ok VALUES ({i});"));
    }
    cap.run_to_current(&pg);
    let recs = kafka.read_topic("ok.public.ok", 150, WAIT);
    let ids: Vec<i64> = recs
        .iter()
        .map(|r| after(r)["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        (1..=150).collect::<Vec<_>>(),
        "lost, repeated or re-snapshotted"
    );
    assert!(recs.iter().all(|r| r.op() == Some("c")));
    assert_eq!(
        kafka
            .topic_config("ok.pgcdc-offsets", "cleanup.policy")
            .as_deref(),
        Some("compact")
    );
    let (ok, status) = cap.status();
    assert!(ok, "{status}");
    assert!(
        status.contains("offsets: offsets topic ok.pgcdc-offsets"),
        "{status}"
    );
}
