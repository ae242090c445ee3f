//! The initial snapshot against a real PostgreSQL and a real broker: rows that exist before the
//! first start arrive once as `r` events with Debezium's markers; rows written while the
//! snapshot runs, and pgcdc killed in the middle of it, still leave topics that replay (key by
//! key, last value wins, tombstones remove) to exactly the table; every `snapshot.mode`.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cdc::{Capture, ConnectorFile};
use common::kafka::{Rec, TestKafka};
use common::pg::TestPg;
use common::replay::{background_psql, replay, table_state};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(90);

fn value(r: &Rec) -> &Value {
    r.value.as_ref().expect("not a tombstone")
}

fn snapshot_file(parallelism: usize, chunk_pages: u32, mode: &str) -> String {
    format!(
        "[snapshot]\nmode = \"{mode}\"\nparallelism = {parallelism}\nchunk_pages = {chunk_pages}\nprogress_interval = \"100ms\"\n"
    )
}

/// Random updates, deletes and inserts on `churn`, one small transaction each, for `secs`.
fn writer_sql(secs: u32) -> String {
    format!(
        "DO $$ DECLARE stop timestamptz := clock_timestamp() + interval '{secs} seconds'; i int := 0;
         BEGIN
           WHILE clock_timestamp() < stop LOOP
             i := i + 1;
             UPDATE churn SET v = v + 1 WHERE id = 1 + (random() * 39999)::int;
             IF i % 4 = 0 THEN DELETE FROM churn WHERE id = 1 + (random() * 39999)::int; END IF;
             IF i % 4 = 1 THEN INSERT INTO churn VALUES (100000 + i, 1, 'new'); END IF;
             IF i % 7 = 0 THEN UPDATE churn SET v = v + 1 WHERE id = 100000 + i - 4; END IF;
             COMMIT;
           END LOOP;
         END $$;"
    )
}

fn churn_table(pg: &TestPg, rows: i64) {
    pg.psql(&format!(
        "CREATE TABLE churn (id int PRIMARY KEY, v bigint NOT NULL, pad text);
         INSERT INTO churn SELECT g, 0, repeat('x', 60) FROM generate_series(1, {rows}) g;"
    ));
}

fn sigterm(child: &mut Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
}

#[test]
fn existing_rows_arrive_once_as_reads_with_debezium_markers() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
         CREATE TABLE a (id int PRIMARY KEY, name text);
         CREATE TABLE b (id int PRIMARY KEY);
         CREATE TABLE big (id int PRIMARY KEY, v bigint NOT NULL, pad text);
         CREATE TABLE kinds (id int PRIMARY KEY, t text, raw bytea, ts timestamptz,
             n numeric(10,3), arr text[], m mood, j jsonb, iv interval, f float8, d date,
             nothing text);
         INSERT INTO a VALUES (1, 'one'), (2, 'two'), (3, NULL);
         INSERT INTO big SELECT g, g * 2, repeat('p', 100) FROM generate_series(1, 20000) g;
         INSERT INTO kinds VALUES (1, E'tab\\there \"q\" back\\\\slash\\nnew line \\u00e9',
             '\\x00ff5c0a'::bytea, '2024-02-29 11:45:56.123456+05', 12345.678,
             ARRAY['x', 'y z', NULL, E'b\\\\s'], 'happy', '{\"a\": [1, 2]}',
             '1 year 2 mons 3 days 04:05:06.789', 1.5e-300, '2000-01-01', NULL);",
    );
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("snap").extra(&snapshot_file(2, 8, "initial")),
    );
    cap.run_once();
    // The same values once more, streamed this time: the snapshot's text path must give what
    // pgoutput's gives.
    pg.psql(
        "INSERT INTO kinds SELECT 2, t, raw, ts, n, arr, m, j, iv, f, d, nothing FROM kinds WHERE id = 1;
         INSERT INTO a VALUES (4, 'streamed');",
    );
    cap.run_to_current(&pg);

    let log = cap.log();
    assert!(log.contains("snapshot started"), "{log}");
    let o = cap.offsets("snap").expect("offsets written");
    assert_eq!(o["snapshot_completed"], json!(true), "{o}");

    let a = kafka.read_topic("snap.public.a", 4, WAIT);
    let kinds = kafka.read_topic("snap.public.kinds", 2, WAIT);
    let big = kafka.read_topic("snap.public.big", 20000, WAIT);
    assert!(kafka
        .read_topic("snap.public.b", 0, Duration::from_secs(3))
        .is_empty());

    let ops = |recs: &[Rec]| {
        recs.iter()
            .map(|r| r.op().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ops(&a), ["r", "r", "r", "c"]);
    assert_eq!(ops(&kinds), ["r", "c"]);
    assert_eq!(big.len(), 20000, "each row exactly once");
    let mut ids: Vec<i64> = big
        .iter()
        .map(|r| value(r)["after"]["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=20000).collect::<Vec<_>>());
    assert!(big.iter().all(|r| {
        let after = &value(r)["after"];
        after["v"].as_i64().unwrap() == after["id"].as_i64().unwrap() * 2
    }));

    // Markers: tables in (schema, table) order a, b (empty), big, kinds.
    let marker = |r: &Rec| value(r)["source"]["snapshot"].as_str().unwrap().to_string();
    assert_eq!(
        a.iter().map(marker).collect::<Vec<_>>(),
        ["first", "true", "last_in_data_collection", "false"]
    );
    assert_eq!(marker(&kinds[0]), "last");
    let mut big_markers: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &big {
        big_markers
            .entry(marker(r))
            .or_default()
            .push(value(r)["after"]["id"].as_i64().unwrap());
    }
    assert_eq!(
        big_markers["first_in_data_collection"],
        [1],
        "{:?}",
        big_markers.keys()
    );
    assert_eq!(big_markers["last_in_data_collection"], [20000]);
    assert_eq!(big_markers["true"].len(), 19998);
    assert!(log.contains("workers=2"), "{log}");
    let chunks: usize = log
        .split("chunks=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("chunk count in the log");
    assert!(
        chunks > 10,
        "big should have been split, got {chunks} chunks"
    );

    // Every snapshot row carries the same snapshot point.
    let src = |r: &Rec| value(r)["source"].clone();
    let s0 = src(&a[0]);
    for r in a[..3].iter().chain(&big).chain(&kinds[..1]) {
        let s = src(r);
        assert_eq!(s["lsn"], s0["lsn"]);
        assert_eq!(s["ts_ms"], s0["ts_ms"]);
        assert_eq!(s["txId"], s0["txId"]);
        assert_eq!(s["sequence"], json!(format!("[null,\"{}\"]", s0["lsn"])));
        assert_eq!(value(r)["before"], Value::Null);
    }
    assert!(s0["lsn"].as_i64().unwrap() > 0 && s0["txId"].as_i64().unwrap() > 0);
    // The stream continues after the snapshot point.
    assert!(src(&a[3])["lsn"].as_i64().unwrap() > s0["lsn"].as_i64().unwrap());

    // Snapshot rows carry Debezium's context headers, as streamed rows do, and an event id
    // made of the snapshot point and the row's place in the plan: unique, and the snapshot's
    // LSN in front.
    let header = |r: &Rec, name: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_ref())
            .map(|v| String::from_utf8(v.clone()).unwrap())
    };
    let snapshot_lsn = pgcdc::Lsn(s0["lsn"].as_u64().unwrap()).to_string();
    let mut event_ids = std::collections::HashSet::new();
    for r in a.iter().chain(&big).chain(&kinds) {
        let names: Vec<&str> = r
            .headers
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| k.starts_with("__debezium.context."))
            .collect();
        let debezium: Vec<String> = pgcdc::event::context::context_headers("", "")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            names, debezium,
            "the four context headers, in Debezium's order"
        );
        let id = header(r, pgcdc::format::EVENT_ID_HEADER).expect("every record has an event id");
        assert!(event_ids.insert(id.clone()), "event id {id} twice");
        if r.op() == Some("r") {
            let (lsn, place) = id.split_once(':').unwrap();
            assert_eq!(lsn, snapshot_lsn, "{id}");
            assert_eq!(place.split('.').count(), 3, "table.chunk.row: {id}");
            assert_eq!(
                header(r, "__debezium.context.runId"),
                header(&a[0], "__debezium.context.runId"),
                "one run id for the whole snapshot"
            );
        }
    }

    let mut snap = value(&kinds[0])["after"].clone();
    let mut streamed = value(&kinds[1])["after"].clone();
    snap["id"] = json!(0);
    streamed["id"] = json!(0);
    assert_eq!(snap, streamed, "snapshot and stream disagree on a value");
    assert_eq!(
        value(&kinds[0])["after"]["t"],
        json!("tab\there \"q\" back\\slash\nnew line \u{e9}")
    );
    assert_eq!(
        value(&kinds[0])["after"]["arr"],
        json!(["x", "y z", null, "b\\s"])
    );
    assert_eq!(value(&kinds[0])["after"]["raw"], json!("AP9cCg=="));
    assert_eq!(value(&kinds[0])["after"]["m"], json!("happy"));
    assert_eq!(value(&a[2])["after"], json!({"id": 3, "name": null}));

    // Restarting does not snapshot again (mode initial, offsets exist).
    cap.run_to_current(&pg);
    assert_eq!(
        kafka
            .read_topic("snap.public.a", 4, Duration::from_secs(5))
            .len(),
        4
    );
}

#[test]
fn writes_during_the_snapshot_replay_to_the_table() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    churn_table(&pg, 40_000);
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("churn").extra(&snapshot_file(3, 16, "initial")),
    );
    let mut writer = background_psql(&pg, &writer_sql(6));
    std::thread::sleep(Duration::from_millis(300));
    let mut child = cap.spawn(None);
    assert!(writer.wait().unwrap().success(), "writer failed");
    cap.wait_for_log("snapshot recorded", WAIT);
    sigterm(&mut child);
    child.wait().unwrap();
    cap.run_to_current(&pg);

    let recs = kafka.read_topic("churn.public.churn", 40_000, WAIT);
    let reads: Vec<&Rec> = recs.iter().filter(|r| r.op() == Some("r")).collect();
    let snapshot_ts = value(reads[0])["source"]["ts_ms"].as_i64().unwrap();
    let snapshot_end = reads
        .iter()
        .map(|r| value(r)["ts_ms"].as_i64().unwrap())
        .max()
        .unwrap();
    let during = recs
        .iter()
        .filter(|r| r.op().is_some_and(|op| op != "r"))
        .filter(|r| {
            let ts = value(r)["source"]["ts_ms"].as_i64().unwrap();
            ts > snapshot_ts && ts < snapshot_end
        })
        .count();
    eprintln!(
        "{} records, {} reads, {during} changes committed while the snapshot ran",
        recs.len(),
        reads.len()
    );
    assert!(during > 0, "the writer did not overlap the snapshot");
    // The writer's WAL waits in the slot until the snapshot is done: operators are told how much.
    let log = cap.log();
    let lag_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("slot holds WAL while the snapshot runs"))
        .collect();
    assert!(
        lag_lines.iter().any(|l| !l.contains("lag_bytes=0")),
        "no slot lag reported while the snapshot ran:\n{log}"
    );
    let mut seen = std::collections::HashSet::new();
    for r in &reads {
        assert!(seen.insert(r.key.clone()), "key read twice: {:?}", r.key);
    }
    assert_eq!(replay(&recs), table_state(&pg, "churn"));
}

#[test]
fn sigkill_during_the_snapshot_redoes_it() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    churn_table(&pg, 40_000);
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("kill").extra(&snapshot_file(2, 16, "initial")),
    );
    let mut writer = background_psql(&pg, &writer_sql(15));
    let mut killed_mid_snapshot = 0;
    for round in 0..3 {
        let before = cap.log().matches("snapshot started").count();
        let progress_before = cap.log().matches("snapshot progress").count();
        let mut child = cap.spawn(None);
        let deadline = Instant::now() + WAIT;
        while cap.log().matches("snapshot started").count() == before {
            assert!(
                Instant::now() < deadline,
                "no snapshot started:\n{}",
                cap.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // Killed once chunks went out (progress is logged every 100 ms after a chunk), not
        // after a fixed time: on a loaded machine a fixed delay may end before the first chunk.
        while cap.log().matches("snapshot progress").count() <= progress_before + round {
            assert!(
                Instant::now() < deadline,
                "the snapshot made no progress:\n{}",
                cap.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(50));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        match cap.offsets("kill") {
            None => killed_mid_snapshot += 1,
            Some(o) => panic!("snapshot finished before the kill; make it bigger: {o}"),
        }
    }
    assert_eq!(killed_mid_snapshot, 3);
    // The fourth attempt completes while the writer is still going, then streams.
    let mut child = cap.spawn(None);
    cap.wait_for_log("snapshot recorded", WAIT);
    let writer_still_running = writer.try_wait().unwrap().is_none();
    assert!(writer.wait().unwrap().success(), "writer failed");
    sigterm(&mut child);
    child.wait().unwrap();
    cap.run_to_current(&pg);
    assert!(
        writer_still_running,
        "the writer ended before the last snapshot completed"
    );
    assert_eq!(
        cap.log().matches("snapshot started").count(),
        4,
        "{}",
        cap.log()
    );
    assert_eq!(
        cap.offsets("kill").unwrap()["snapshot_completed"],
        json!(true)
    );

    let recs = kafka.read_topic("kill.public.churn", 40_000, WAIT);
    let attempts: std::collections::BTreeSet<i64> = recs
        .iter()
        .filter(|r| r.op() == Some("r"))
        .map(|r| value(r)["source"]["ts_ms"].as_i64().unwrap())
        .collect();
    eprintln!(
        "{} records, reads from {} snapshot attempts",
        recs.len(),
        attempts.len()
    );
    assert!(attempts.len() >= 2, "the killed attempts published nothing");
    assert_eq!(replay(&recs), table_state(&pg, "churn"));
}

#[test]
fn modes_behave_as_documented() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TABLE churn (id int PRIMARY KEY, v bigint NOT NULL, pad text);
         INSERT INTO churn VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 3, 'c');",
    );
    let count = |topic: &str, expected: usize| -> BTreeMap<String, usize> {
        let mut ops = BTreeMap::new();
        for r in kafka.read_topic(topic, expected, Duration::from_secs(20)) {
            *ops.entry(r.op().unwrap_or("tombstone").to_string())
                .or_default() += 1;
        }
        ops
    };
    let ops = |pairs: &[(&str, usize)]| -> BTreeMap<String, usize> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };

    // no_data: only what happens after the slot exists.
    let nodata = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("nodata").extra(&snapshot_file(2, 16, "no_data")),
    );
    nodata.run_once();
    pg.psql("INSERT INTO churn VALUES (4, 4, 'd');");
    nodata.run_to_current(&pg);
    assert_eq!(count("nodata.public.churn", 1), ops(&[("c", 1)]));
    assert!(!nodata.log().contains("snapshot started"));
    assert_eq!(
        nodata.offsets("nodata").unwrap()["snapshot_completed"],
        json!(false)
    );

    // initial_only: snapshot, then exit 0 without streaming; a second start does nothing.
    let only = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("only").extra(&snapshot_file(2, 16, "initial_only")),
    );
    let mut child = only.spawn(None);
    only.wait_ok(&mut child, WAIT);
    pg.psql("INSERT INTO churn VALUES (5, 5, 'e');");
    let mut child = only.spawn(None);
    only.wait_ok(&mut child, WAIT);
    assert_eq!(count("only.public.churn", 4), ops(&[("r", 4)]));
    assert_eq!(
        only.log().matches("snapshot started").count(),
        1,
        "{}",
        only.log()
    );
    assert_eq!(
        only.offsets("only").unwrap()["snapshot_completed"],
        json!(true)
    );

    // always: a snapshot at every start, then the stream from the stored position.
    let always = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("always").extra(&snapshot_file(1, 16, "always")),
    );
    always.run_to_current(&pg);
    pg.psql("INSERT INTO churn VALUES (6, 6, 'f');");
    always.run_to_current(&pg);
    assert_eq!(
        count("always.public.churn", 12),
        ops(&[("r", 5 + 6), ("c", 1)])
    );
    assert_eq!(always.log().matches("snapshot started").count(), 2);

    // when_needed: like initial, and a new snapshot (and slot) when the slot is gone, where
    // initial stops with an error.
    let needed = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("needed").extra(&snapshot_file(2, 16, "when_needed")),
    );
    needed.run_to_current(&pg);
    needed.run_to_current(&pg);
    assert_eq!(needed.log().matches("snapshot started").count(), 1);
    pg.psql("SELECT pg_drop_replication_slot('needed_slot');");
    pg.psql("INSERT INTO churn VALUES (7, 7, 'g');");
    needed.run_to_current(&pg);
    assert_eq!(needed.log().matches("snapshot started").count(), 2);
    assert_eq!(count("needed.public.churn", 13), ops(&[("r", 6 + 7)]));

    let initial = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("initial").extra(&snapshot_file(2, 16, "initial")),
    );
    initial.run_to_current(&pg);
    pg.psql("SELECT pg_drop_replication_slot('initial_slot');");
    let status = initial
        .command()
        .arg("run")
        .arg(&initial.connector)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1));
    let err = String::from_utf8_lossy(&status.stderr);
    assert!(err.contains("does not exist"), "{err}");
}

/// `[[transforms]]` unwrap and the column filter act on snapshot rows exactly as on streamed
/// ones: flat values with the added fields, the excluded column gone, the key untouched.
#[test]
fn unwrap_and_column_filter_apply_to_snapshot_rows() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TABLE c (id int PRIMARY KEY, name text, secret text);
         INSERT INTO c VALUES (1, 'one', 's1'), (2, 'two', 's2');",
    );
    let file = ConnectorFile::new("unw").extra(&format!(
        "[tables]\ncolumn_exclude = ['public\\.c\\.secret']\n\
         [[transforms]]\ntype = \"unwrap\"\n\
         delete_tombstone_handling_mode = \"rewrite\"\n\
         add_fields = [\"op\", \"snapshot\"]\nadd_headers = [\"op\"]\n{}",
        snapshot_file(1, 8, "initial")
    ));
    let cap = Capture::new(&pg, &kafka, file);
    cap.run_once();
    pg.psql("INSERT INTO c VALUES (3, 'three', 's3'); DELETE FROM c WHERE id = 1;");
    cap.run_to_current(&pg);

    // Snapshot reads, the insert, the delete (rewritten); its tombstone is dropped.
    let recs = kafka.read_topic("unw.public.c", 4, WAIT);
    let values: Vec<&Value> = recs.iter().map(value).collect();
    assert_eq!(
        values,
        vec![
            &json!({"id": 1, "name": "one", "__deleted": "false", "__op": "r", "__snapshot": "first"}),
            &json!({"id": 2, "name": "two", "__deleted": "false", "__op": "r", "__snapshot": "last"}),
            &json!({"id": 3, "name": "three", "__deleted": "false", "__op": "c", "__snapshot": null}),
            &json!({"id": 1, "name": null, "__deleted": "true", "__op": "d", "__snapshot": null}),
        ]
    );
    let keys: Vec<Value> = recs.iter().map(|r| r.key.clone().unwrap()).collect();
    assert_eq!(
        keys,
        vec![
            json!({"id": 1}),
            json!({"id": 2}),
            json!({"id": 3}),
            json!({"id": 1})
        ]
    );
    let ops: Vec<&[u8]> = recs.iter().map(|r| r.header("__op").unwrap()).collect();
    assert_eq!(ops, vec![&b"r"[..], b"r", b"c", b"d"]);
}
