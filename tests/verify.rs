//! `pgcdc verify` and `pgcdc replay` against a real PostgreSQL and a real broker: after a
//! workload the rebuilt topics equal the tables; a copy of a topic with one record removed and
//! one value changed makes verify name both keys (and the column); verify run while pgcdc
//! streams under a writer agrees at its point and leaves pgcdc alone; replay --until an LSN
//! equals a copy of the table taken at that LSN.

mod common;

use std::process::Output;
use std::time::Duration;

use common::cdc::{Capture, ConnectorFile};
use common::kafka::TestKafka;
use common::pg::TestPg;
use common::replay::background_psql;
use pgcdc::config::{KafkaConfig, SinkConfig};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

const WAIT: Duration = Duration::from_secs(90);

/// Rows of many types, some existing before the first start (initial snapshot `r` events),
/// then inserts, updates (one leaving a TOASTed column unchanged), deletes, a key change and
/// a truncate of a second table.
fn workload_before(pg: &TestPg) {
    pg.psql(
        "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), at timestamptz,
                             tags text[], data jsonb, big text, flag boolean, day date);
         CREATE TABLE scratch (id int PRIMARY KEY, v int);
         INSERT INTO items SELECT g, 'item ' || g, g * 1.25, '2026-01-01'::timestamptz + g * interval '1 hour',
                                  ARRAY['a', g::text], jsonb_build_object('g', g), NULL, g % 2 = 0, '2026-02-03'
           FROM generate_series(1, 200) g;
         INSERT INTO scratch SELECT g, g FROM generate_series(1, 10) g;",
    );
}

fn workload_after(pg: &TestPg) {
    pg.psql(
        "INSERT INTO items SELECT g, 'new ' || g, g, now(), '{}', '[1,2]', NULL, NULL, NULL
           FROM generate_series(1000, 1050) g;
         UPDATE items SET price = price + 1, name = name || '!' WHERE id % 3 = 0;
         UPDATE items SET big = (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 300))
           WHERE id = 5;
         UPDATE items SET flag = NOT flag WHERE id = 5;
         DELETE FROM items WHERE id % 7 = 0;
         UPDATE items SET id = 5000 WHERE id = 11;
         TRUNCATE scratch;
         INSERT INTO scratch VALUES (1, 100);",
    );
}

fn verify(cap: &Capture, args: &[&str]) -> Output {
    cap.command()
        .arg("verify")
        .arg(&cap.connector)
        .args(args)
        .output()
        .expect("run pgcdc verify")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The summary line of `table` in verify's output.
fn line<'a>(out: &'a str, table: &str) -> &'a str {
    out.lines()
        .find(|l| l.trim_start().starts_with(&format!("{table}:")))
        .unwrap_or_else(|| panic!("no line for {table}:\n{out}"))
}

/// Starts pgcdc, runs the workload and waits until it has confirmed all of it.
fn streamed(pg: &TestPg, cap: &Capture, slot: &str) -> std::process::Child {
    workload_before(pg);
    let mut child = cap.spawn(None);
    // The rows above arrive as the initial snapshot, the ones below as streamed changes.
    cap.wait_for_log("streaming", WAIT);
    workload_after(pg);
    let end = pg.mark_end();
    assert!(
        common::verify::wait_confirmed(pg, slot, &end, WAIT),
        "pgcdc did not catch up:\n{}",
        cap.log()
    );
    cap.assert_running(&mut child);
    child
}

#[test]
fn topics_equal_the_tables_after_a_workload() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("vw")
            .schemas(true)
            .skipped_operations(&[]),
    );
    let mut child = streamed(&pg, &cap, "vw_slot");
    let out = verify(&cap, &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    let s = stdout(&out);
    // 200 + 51 rows, minus every 7th, with 11 moved to 5000.
    let items = pg.psql("SELECT count(*) FROM items").trim().to_string();
    assert!(
        line(&s, "public.items").contains(&format!(
            "{items} rows compared, 0 missing, 0 extra, 0 different"
        )),
        "{all}"
    );
    assert!(
        line(&s, "public.scratch").contains("1 rows compared, 0 missing, 0 extra, 0 different"),
        "{all}"
    );
    assert!(s.contains("result: equal (2 tables)"), "{all}");
    eprintln!("{all}");

    // One table only; an unknown one is a usage error.
    let out = verify(&cap, &["--tables", "public.scratch"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!stdout(&out).contains("public.items"), "{}", text(&out));
    let out = verify(&cap, &["--tables", "public.nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("public.nope"), "{}", text(&out));
    cap.terminate(&mut child);
}

/// One record of a topic, as bytes.
#[derive(Debug)]
struct Raw {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    event_id: Option<Vec<u8>>,
}

/// Every record of `topic`, through pgcdc's own reader.
fn read_raw(kafka: &TestKafka, topic: &str) -> Vec<Raw> {
    let sink = SinkConfig::Kafka(KafkaConfig {
        bootstrap_servers: kafka.bootstrap(),
        topic_creation: Default::default(),
        properties: Default::default(),
        exactly_once: false,
        transactional_id: None,
        offsets_topic: None,
        transaction_interval: None,
    });
    let mut out = Vec::new();
    pgcdc::sink::read_topic(&sink, topic, WAIT, |r| {
        out.push(Raw {
            key: r.key.map(<[u8]>::to_vec),
            value: r.value.map(<[u8]>::to_vec),
            event_id: r.event_id.map(<[u8]>::to_vec),
        })
    })
    .expect("read the topic");
    out
}

/// Writes `recs` to `topic` as they were (key, value, event id), except the record at `skip`.
fn copy_topic(kafka: &TestKafka, recs: &[Raw], topic: &str, skip: usize) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap())
        .create()
        .expect("producer");
    for (i, r) in recs.iter().enumerate() {
        if i == skip {
            continue;
        }
        let mut headers = OwnedHeaders::new();
        if let Some(id) = &r.event_id {
            headers = headers.insert(Header {
                key: "pgcdc.event.id",
                value: Some(id),
            });
        }
        let mut rec: BaseRecord<'_, Vec<u8>, Vec<u8>> = BaseRecord::to(topic).headers(headers);
        if let Some(k) = &r.key {
            rec = rec.key(k);
        }
        if let Some(v) = &r.value {
            rec = rec.payload(v);
        }
        producer.send(rec).map_err(|(e, _)| e).expect("produce");
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

#[test]
fn a_removed_record_is_named() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("vc").schemas(true));
    let mut child = streamed(&pg, &cap, "vc_slot");
    cap.terminate(&mut child);
    let mut recs = read_raw(&kafka, "vc.public.items");
    // The insert of row 1003, its only record (not updated or deleted later).
    let skip = recs
        .iter()
        .position(|r| {
            let v: serde_json::Value =
                serde_json::from_slice(r.value.as_deref().unwrap_or(b"null")).unwrap();
            v["payload"]["op"] == "c" && v["payload"]["after"]["id"] == 1003
        })
        .unwrap_or_else(|| panic!("no insert of 1003 among {} records", recs.len()));
    // Row 2 has one record too (its snapshot read); the copy gets another name.
    let edited = recs
        .iter_mut()
        .filter_map(|r| r.value.as_mut())
        .find(|v| String::from_utf8_lossy(v).contains(r#""name":"item 2""#))
        .expect("the record of row 2");
    *edited = String::from_utf8_lossy(edited)
        .replace(r#""name":"item 2""#, r#""name":"item two""#)
        .into_bytes();
    copy_topic(&kafka, &recs, "vc-copy.public.items", skip);
    // Same connector (its slot says how far it got), topics of the copy.
    let copy = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("vc")
            .schemas(true)
            .topic_prefix("vc-copy"),
    );
    // pgcdc is stopped: its slot stays before any new point, so give it a running one.
    let mut child = cap.spawn(None);
    let out = verify(&copy, &["--tables", "public.items"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let s = stdout(&out);
    assert!(
        line(&s, "public.items").contains("1 missing, 0 extra, 1 different"),
        "{all}"
    );
    assert!(s.contains(r#"different: {"id":2} columns name"#), "{all}");
    assert!(
        s.contains(r#"missing (in PostgreSQL, not in the topic): {"id":1003}"#),
        "{all}"
    );
    assert!(s.contains("result: different (1 of 1 tables)"), "{all}");
    eprintln!("{all}");
    cap.terminate(&mut child);
}

/// A writer churning small transactions while pgcdc streams (unwrap output, no schemas):
/// verify compares at its own point, agrees, and pgcdc keeps its slot and keeps running.
#[test]
fn verify_while_streaming_under_a_writer() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TABLE churn (id int PRIMARY KEY, v bigint NOT NULL, pad text);
         INSERT INTO churn SELECT g, 0, 'x' FROM generate_series(1, 2000) g;",
    );
    let file = ConnectorFile::new("vs").extra("[[transforms]]\ntype = \"unwrap\"\n");
    let cap = Capture::new(&pg, &kafka, file);
    let mut child = cap.spawn(None);
    cap.wait_for_log("streaming", WAIT);
    let mut writer = background_psql(
        &pg,
        "DO $$ DECLARE stop timestamptz := clock_timestamp() + interval '25 seconds'; i int := 0;
         BEGIN
           WHILE clock_timestamp() < stop LOOP
             i := i + 1;
             UPDATE churn SET v = v + 1 WHERE id = 1 + (random() * 1999)::int;
             IF i % 4 = 0 THEN DELETE FROM churn WHERE id = 1 + (random() * 1999)::int; END IF;
             IF i % 4 = 1 THEN INSERT INTO churn VALUES (100000 + i, 1, 'new'); END IF;
             COMMIT;
           END LOOP;
         END $$;",
    );
    std::thread::sleep(Duration::from_secs(2));
    let pid_before =
        pg.psql("SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'vs_slot'");
    let started = std::time::Instant::now();
    let out = verify(&cap, &[]);
    let all = text(&out);
    eprintln!("verify took {:?}:\n{all}", started.elapsed());
    assert!(
        writer.try_wait().unwrap().is_none(),
        "the writer ended before verify did"
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        line(&stdout(&out), "public.churn").contains("0 missing, 0 extra, 0 different"),
        "{all}"
    );
    eprintln!("{all}");
    cap.assert_running(&mut child);
    let pid_after =
        pg.psql("SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'vs_slot'");
    assert_eq!(
        pid_before, pid_after,
        "pgcdc's walsender changed: verify disturbed it"
    );
    assert!(writer.wait().unwrap().success());
    // Nothing of verify's is left on the server.
    let slots =
        pg.psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgcdc_verify%'");
    assert_eq!(slots.trim(), "0");
    let out = verify(&cap, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    cap.assert_running(&mut child);
    assert!(!cap.log().contains("ERROR"), "{}", cap.log());
    cap.terminate(&mut child);
}

/// Changes, then a copy of the table and the WAL position in one transaction, then more
/// changes: replay --until that position equals the copy; without --until, the table now.
#[test]
fn replay_until_an_lsn_equals_a_copy_taken_then() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL, note text);
         INSERT INTO acct SELECT g, g, 'n' || g FROM generate_series(1, 100) g;",
    );
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("vr").skipped_operations(&[]),
    );
    let mut child = cap.spawn(None);
    cap.wait_for_log("streaming", WAIT);
    let churn = |seed: i32| {
        pg.psql(&format!(
            "DO $$ BEGIN FOR i IN 1..60 LOOP
               UPDATE acct SET v = v + {seed}, note = 'u' || i WHERE id = 1 + (i * 7 + {seed}) % 100;
               IF i % 5 = 0 THEN DELETE FROM acct WHERE id = 1 + (i * 13 + {seed}) % 100; END IF;
               IF i % 3 = 0 THEN INSERT INTO acct VALUES ({seed} * 1000 + i, i, NULL); END IF;
               COMMIT;
             END LOOP; END $$;"
        ));
    };
    churn(1);
    let lsn = pg
        .psql("CREATE TABLE acct_then AS SELECT * FROM acct; SELECT pg_current_wal_insert_lsn();");
    let lsn = lsn.trim().to_string();
    churn(2);
    let end = pg.mark_end();
    assert!(
        common::verify::wait_confirmed(&pg, "vr_slot", &end, WAIT),
        "{}",
        cap.log()
    );
    let rows = |sql: &str| -> Vec<serde_json::Value> {
        pg.psql(sql)
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let replayed = |until: Option<&str>, file: &str| -> (Vec<serde_json::Value>, String) {
        let path = cap.dir.path().join(file);
        let mut c = cap.command();
        c.arg("replay")
            .arg(&cap.connector)
            .args(["--table", "public.acct", "--to"])
            .arg(&path);
        if let Some(u) = until {
            c.args(["--until", u]);
        }
        let out = c.output().expect("run pgcdc replay");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let body = std::fs::read_to_string(&path).unwrap();
        let mut got: Vec<serde_json::Value> = if file.ends_with(".csv") {
            Vec::new()
        } else {
            body.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        got.sort_by_key(|v| v["id"].as_i64());
        (got, format!("{}{body}", stdout(&out)))
    };
    let then = rows("SELECT row_to_json(t) FROM acct_then t ORDER BY id");
    let (got, out) = replayed(Some(&lsn), "then.jsonl");
    assert_eq!(got, then, "replay until {lsn}:\n{out}");
    eprintln!("{}", out.lines().next().unwrap_or_default());
    let now = rows("SELECT row_to_json(t) FROM acct t ORDER BY id");
    assert_ne!(now, then, "the second batch changed nothing");
    let (got, out) = replayed(None, "now.jsonl");
    assert_eq!(got, now, "replay of everything:\n{out}");
    let (_, csv) = replayed(Some(&lsn), "then.csv");
    let mut lines = csv.lines().skip(1);
    assert_eq!(lines.next(), Some("id,v,note"), "{csv}");
    assert_eq!(lines.count(), then.len(), "{csv}");
    cap.terminate(&mut child);
    // Stopped, pgcdc cannot confirm a new point: verify says so instead of comparing.
    let out = verify(&cap, &["--wait", "2s"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("inactive: pgcdc is not running"),
        "{}",
        text(&out)
    );
    eprintln!(
        "{}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or_default()
    );
}
