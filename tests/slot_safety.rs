//! The slot's state against pgcdc's: an invalidated slot, a slot held by another consumer,
//! a slot ahead of the offsets file, and heartbeats that keep an idle slot moving. All run
//! through the real binary.

mod common;

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::cdc::{Capture, ConnectorFile};
use common::kafka::TestKafka;
use common::pg::{PgOptions, TestPg};

const TIMEOUT: Duration = Duration::from_secs(60);

fn assert_one_clear_error(status: ExitStatus, stderr: &str, needles: &[&str]) {
    assert_eq!(status.code(), Some(1), "exit status {status}:\n{stderr}");
    assert!(!stderr.contains("panicked"), "panic:\n{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "expected one error line:\n{stderr}");
    for n in needles {
        assert!(
            errors[0].contains(n),
            "error line lacks {n:?}:\n{}",
            errors[0]
        );
    }
    eprintln!("{}", errors[0]);
}

/// Rewrites the generated connector file, adding `line` to its `[slot]` or `[offsets]` table.
fn add_to_table(cap: &Capture, table: &str, line: &str) {
    let text = std::fs::read_to_string(&cap.connector).unwrap();
    let header = format!("[{table}]\n");
    let text = if text.contains(&header) {
        text.replacen(&header, &format!("{header}{line}\n"), 1)
    } else {
        format!("{text}\n{header}{line}\n")
    };
    std::fs::write(&cap.connector, text).unwrap();
}

fn slot_field(pg: &TestPg, slot: &str, field: &str) -> String {
    pg.psql(&format!(
        "SELECT {field} FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ))
    .trim()
    .to_string()
}

#[test]
fn invalidated_slot_is_a_definite_error() {
    let pg = TestPg::start_with(PgOptions {
        conf: vec!["max_slot_wal_keep_size = 1MB".into()],
        ..Default::default()
    });
    let kafka = TestKafka::start();
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("lost"));
    pg.psql("CREATE TABLE filler (id serial PRIMARY KEY, pad text)");
    cap.run_once();
    assert!(cap.dir.path().join("data/lost.offsets.json").exists());
    let mut status = String::new();
    for _ in 0..20 {
        pg.psql("INSERT INTO filler (pad) SELECT repeat('x', 500) FROM generate_series(1, 2000)");
        pg.psql("SELECT pg_switch_wal()");
        pg.psql("CHECKPOINT");
        status = slot_field(&pg, "lost_slot", "wal_status");
        if status == "lost" {
            break;
        }
    }
    assert_eq!(status, "lost", "could not get the slot invalidated");
    let (st, stderr) = cap.run_failing(TIMEOUT);
    assert_one_clear_error(
        st,
        &stderr,
        &[
            "\"lost_slot\"",
            "invalidated",
            "pg_drop_replication_slot('lost_slot')",
            "lost.offsets.json",
            "when_needed",
        ],
    );
    assert!(
        !stderr.contains("reconnecting"),
        "must not retry:\n{stderr}"
    );
}

/// A pg_recvlogical holding a slot; killed and reaped when dropped.
struct Holder(std::process::Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts pg_recvlogical on the slot and waits until it holds it; its PID as the server sees it.
fn hold_slot(pg: &TestPg, slot: &str, publication: &str) -> (Holder, String) {
    let holder = Holder(
        Command::new(pg.bin("pg_recvlogical"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
            .arg("-p")
            .arg(pg.port().to_string())
            .args(["--slot", slot, "--start", "-f", "/dev/null"])
            .args(["-o", "proto_version=1", "-o"])
            .arg(format!("publication_names={publication}"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pg_recvlogical"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pid = slot_field(pg, slot, "active_pid");
        if !pid.is_empty() {
            return (holder, pid);
        }
        assert!(Instant::now() < deadline, "pg_recvlogical did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn takeover_terminates_the_other_consumer() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql("CREATE TABLE t (id int PRIMARY KEY)");
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("grab"));
    add_to_table(&cap, "slot", "takeover = true");
    cap.run_once();
    let (other, pid) = hold_slot(&pg, "grab_slot", "grab_pub");
    pg.psql("INSERT INTO t VALUES (1)");
    cap.run_to_current(&pg);
    drop(other);
    let log = cap.log();
    let warning = log
        .lines()
        .find(|l| l.contains("WARN") && l.contains("slot.takeover"))
        .unwrap_or_else(|| panic!("no takeover warning:\n{log}"));
    assert!(
        warning.contains(&pid),
        "warning does not name PID {pid}: {warning}"
    );
    let recs = kafka.read_topic("grab.public.t", 1, Duration::from_secs(30));
    assert_eq!(
        recs.len(),
        1,
        "the change after the takeover was not captured"
    );
}

/// A slot moved past the offsets file by someone else.
fn slot_ahead(name: &str, strategy: Option<&str>) -> (TestPg, TestKafka, Capture, String) {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql("CREATE TABLE t (id int PRIMARY KEY)");
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new(name));
    if let Some(s) = strategy {
        add_to_table(&cap, "offsets", &format!("mismatch_strategy = {s:?}"));
    }
    cap.run_once();
    let before = slot_field(&pg, &format!("{name}_slot"), "confirmed_flush_lsn");
    pg.psql("INSERT INTO t VALUES (1)");
    let target = pg
        .psql("SELECT pg_current_wal_insert_lsn()")
        .trim()
        .to_string();
    // The server advances a slot only as far as WAL is flushed, which may lag the commit.
    let deadline = Instant::now() + Duration::from_secs(20);
    let passed = format!(
        "SELECT confirmed_flush_lsn >= '{target}'::pg_lsn FROM pg_replication_slots WHERE slot_name = '{name}_slot'"
    );
    while pg.psql(&passed).trim() != "t" {
        assert!(
            Instant::now() < deadline,
            "the slot did not advance to {target}"
        );
        pg.psql(&format!(
            "SELECT pg_replication_slot_advance('{name}_slot', '{target}')"
        ));
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = slot_field(&pg, &format!("{name}_slot"), "confirmed_flush_lsn");
    assert_ne!(before, after, "the slot did not advance");
    (pg, kafka, cap, after)
}

#[test]
fn slot_ahead_fails_by_default() {
    let (_pg, _kafka, cap, after) = slot_ahead("mmfail", None);
    let (st, stderr) = cap.run_failing(TIMEOUT);
    assert_one_clear_error(
        st,
        &stderr,
        &["\"mmfail_slot\"", &after, "mmfail.offsets.json"],
    );
}

#[test]
fn slot_ahead_with_trust_slot_resumes_from_the_slot() {
    let (pg, kafka, cap, after) = slot_ahead("mmslot", Some("trust_slot"));
    pg.psql("INSERT INTO t VALUES (2)");
    cap.run_to_current(&pg);
    let log = cap.log();
    let warning = log
        .lines()
        .find(|l| l.contains("WARN") && l.contains("trust_slot"))
        .unwrap_or_else(|| panic!("no trust_slot warning:\n{log}"));
    assert!(
        warning.contains(&after),
        "warning lacks the slot position {after}: {warning}"
    );
    let recs = kafka.read_topic("mmslot.public.t", 2, Duration::from_secs(10));
    let ids: Vec<_> = recs
        .iter()
        .map(|r| r.value.as_ref().unwrap()["after"]["id"].clone())
        .collect();
    assert_eq!(
        ids,
        vec![serde_json::json!(2)],
        "only the change after the slot's position"
    );
}

#[test]
fn heartbeats_and_action_query_move_an_idle_slot() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql("CREATE TABLE hb (id serial PRIMARY KEY, at timestamptz NOT NULL)");
    pg.psql("CREATE TABLE other (id int PRIMARY KEY)");
    let file = ConnectorFile::new("beat")
        .include_tables(&["public.hb"])
        .schemas(true)
        .extra("[heartbeat]\ninterval = \"300ms\"\naction_query = \"INSERT INTO hb (at) VALUES (now())\"\ntopic_prefix = \"beats\"");
    let cap = Capture::new(&pg, &kafka, file);
    let mut child = cap.spawn(None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while slot_field(&pg, "beat_slot", "active_pid").is_empty() {
        cap.assert_running(&mut child);
        assert!(
            Instant::now() < deadline,
            "pgcdc did not start:\n{}",
            cap.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    pg.psql("INSERT INTO other VALUES (1)");
    let target = pg.psql("SELECT pg_current_wal_lsn()").trim().to_string();
    let advanced = loop {
        let ok = pg.psql(&format!(
            "SELECT confirmed_flush_lsn >= '{target}'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'beat_slot'"
        ));
        if ok.trim() == "t" {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // `topic_prefix` (Debezium's topic.heartbeat.prefix) names the topic.
    let beats = kafka.read_topic("beats.beat", 2, Duration::from_secs(30));
    cap.terminate(&mut child);
    assert!(advanced, "the slot did not pass {target}:\n{}", cap.log());
    assert!(beats.len() >= 2, "heartbeat records: {}", beats.len());
    let b = &beats[0];
    let key = b.key.as_ref().unwrap();
    assert_eq!(
        key["schema"]["name"],
        "io.debezium.connector.common.ServerNameKey"
    );
    assert_eq!(key["payload"]["serverName"], "beat");
    let value = b.value.as_ref().unwrap();
    assert_eq!(
        value["schema"]["name"],
        "io.debezium.connector.common.Heartbeat"
    );
    assert!(value["payload"]["ts_ms"].as_i64().unwrap() > 1_600_000_000_000);
    let rows: i64 = pg.psql("SELECT count(*) FROM hb").trim().parse().unwrap();
    assert!(rows >= 2, "action query rows: {rows}");
    // The action query's rows are captured, since hb is in the publication.
    let hb = kafka.read_topic("beat.public.hb", 1, Duration::from_secs(10));
    assert!(!hb.is_empty(), "no change events from the heartbeat table");
}
