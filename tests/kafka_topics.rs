//! Topics as Debezium users run them on Apache Kafka: compacted table topics
//! (`topic.creation.default.cleanup.policy=compact`) that the log cleaner reduces to the latest
//! row per key, deleted keys gone; and a consumer group of a standard client (Python's
//! confluent-kafka, subscribe and commit) reading what pgcdc published.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::cdc::{Capture, ConnectorFile};
use common::kafka::{KafkaOptions, Rec, TestKafka};
use common::pg::TestPg;
use serde_json::{json, Value};

fn id_of(r: &Rec) -> i64 {
    r.key.as_ref().expect("keyed record")["id"]
        .as_i64()
        .unwrap()
}

/// Records of the keys below `limit`, by key, in topic order.
fn by_key(recs: &[Rec], limit: i64) -> BTreeMap<i64, Vec<Option<Value>>> {
    let mut m: BTreeMap<i64, Vec<Option<Value>>> = BTreeMap::new();
    for r in recs.iter().filter(|r| id_of(r) < limit) {
        m.entry(id_of(r)).or_default().push(r.value.clone());
    }
    m
}

#[test]
fn compacted_table_topics_keep_the_latest_row_per_key() {
    const KEYS: i64 = 20;
    const DELETED: i64 = 5;
    const SENTINEL: i64 = 1000;
    // A cleaner that looks often, so the test does not wait for the 15 s default.
    let kafka = TestKafka::start_with(KafkaOptions {
        properties: vec!["log.cleaner.backoff.ms=200".into()],
        ..Default::default()
    });
    let pg = TestPg::start();
    pg.psql("CREATE TABLE kv (id int PRIMARY KEY, v int)");
    // Small segments and no grace periods: only closed segments are compacted, and tombstones
    // go once delete.retention.ms has passed after the cleaning that kept them.
    let file = ConnectorFile::new("compact").extra(
        r#"[sink.topic_creation.configs]
"cleanup.policy" = "compact"
"segment.ms" = "300"
"min.cleanable.dirty.ratio" = "0.01"
"delete.retention.ms" = "100"
"min.compaction.lag.ms" = "0""#,
    );
    let cap = Capture::new(&pg, &kafka, file);
    cap.run_once();
    let mut child = cap.spawn(None);
    pg.psql(&format!(
        "INSERT INTO kv SELECT g, 0 FROM generate_series(1, {KEYS}) g;
         UPDATE kv SET v = 1; UPDATE kv SET v = 2; UPDATE kv SET v = 3;
         DELETE FROM kv WHERE id <= {DELETED};"
    ));
    let topic = "compact.public.kv";
    let written = kafka.read_topic(
        topic,
        (KEYS * 4 + DELETED * 2) as usize,
        Duration::from_secs(60),
    );
    let before = by_key(&written, SENTINEL);
    assert_eq!(before.len() as i64, KEYS, "every key published: {before:?}");
    assert_eq!(
        before[&1].len(),
        6,
        "c, u, u, u, d, tombstone: {:?}",
        before[&1]
    );

    // New records roll segments, so the cleaner gets closed ones to work on, again and again.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut rounds = 0;
    let compacted = loop {
        rounds += 1;
        pg.psql(&format!("INSERT INTO kv VALUES ({}, 0)", SENTINEL + rounds));
        std::thread::sleep(Duration::from_millis(700));
        let now = by_key(
            &kafka.read_topic(topic, 0, Duration::from_secs(10)),
            SENTINEL,
        );
        let done = now.len() as i64 == KEYS - DELETED && now.values().all(|v| v.len() == 1);
        if done || Instant::now() > deadline {
            break now;
        }
    };
    cap.terminate(&mut child);
    eprintln!(
        "compaction: {} records for {KEYS} keys before, {} after {rounds} rounds ({} keys)",
        written.len(),
        compacted.values().map(Vec::len).sum::<usize>(),
        compacted.len()
    );
    for id in 1..=DELETED {
        assert!(
            !compacted.contains_key(&id),
            "deleted key {id} still there: {compacted:?}"
        );
    }
    for id in DELETED + 1..=KEYS {
        let recs = compacted
            .get(&id)
            .unwrap_or_else(|| panic!("key {id} gone"));
        assert_eq!(recs.len(), 1, "key {id} not compacted: {recs:?}");
        let v = recs[0].as_ref().expect("latest value, not a tombstone");
        assert_eq!(v["after"], json!({"id": id, "v": 3}), "key {id}");
    }
    // The topic was created compacted by pgcdc, as configured.
    let described = kafka.topic_config(topic, "cleanup.policy");
    assert_eq!(described.as_deref(), Some("compact"));
}

/// What a consumer group of confluent-kafka (librdkafka's Python client) reads: subscribe, poll
/// until `expected` messages, commit, print each as a JSON line.
const GROUP_CONSUMER: &str = r#"
import json, sys, time
from confluent_kafka import Consumer
bootstrap, group, topic, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
              "auto.offset.reset": "earliest", "enable.auto.commit": False,
              "isolation.level": "read_committed"})
c.subscribe([topic])
got, deadline = [], time.time() + 90
while len(got) < expected and time.time() < deadline:
    m = c.poll(1.0)
    if m is None or m.error():
        continue
    got.append({"key": json.loads(m.key()), "value": json.loads(m.value()) if m.value() else None,
                "headers": {k: v.decode() for k, v in (m.headers() or [])}})
c.commit(asynchronous=False)
c.close()
for g in got:
    print(json.dumps(g))
"#;

fn consume_as_group(kafka: &TestKafka, group: &str, topic: &str, expected: usize) -> Vec<Value> {
    let out = Command::new("python3")
        .args(["-c", GROUP_CONSUMER, &kafka.bootstrap(), group, topic])
        .arg(expected.to_string())
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "the confluent-kafka consumer failed (pip install confluent-kafka): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_consumer_group_of_a_standard_client_reads_the_events() {
    let kafka = TestKafka::start();
    let pg = TestPg::start();
    pg.psql("CREATE TABLE orders (id int PRIMARY KEY, qty int)");
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("grp"));
    cap.run_once();
    pg.psql(
        "INSERT INTO orders VALUES (1, 1), (2, 2);
         UPDATE orders SET qty = 10 WHERE id = 1;
         DELETE FROM orders WHERE id = 2;",
    );
    cap.run_to_current(&pg);
    let got = consume_as_group(&kafka, "billing", "grp.public.orders", 5);
    let ops: Vec<&str> = got
        .iter()
        .map(|g| g["value"]["op"].as_str().unwrap_or("tombstone"))
        .collect();
    assert_eq!(ops, ["c", "c", "u", "d", "tombstone"], "{got:#?}");
    assert_eq!(got[2]["key"], json!({"id": 1}));
    assert_eq!(got[2]["value"]["after"], json!({"id": 1, "qty": 10}));
    assert!(
        got.iter()
            .all(|g| g["headers"]["pgcdc.event.id"].is_string()),
        "every record carries its event id: {got:#?}"
    );
    // The group committed its position: a second run of the same group has nothing left.
    pg.psql("INSERT INTO orders VALUES (3, 3)");
    cap.run_to_current(&pg);
    let rest = consume_as_group(&kafka, "billing", "grp.public.orders", 1);
    assert_eq!(rest.len(), 1, "{rest:#?}");
    assert_eq!(rest[0]["value"]["after"], json!({"id": 3, "qty": 3}));
}
