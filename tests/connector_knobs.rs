//! Debezium connector properties with a server-side effect: `slot.drop.on.stop`
//! (`slot.drop_on_stop`) drops the slot at a graceful stop and only then; `lsn.flush.mode =
//! manual` (`slot.lsn_flush_mode`) never moves the slot while pgcdc's own offsets advance;
//! `replica.identity.autoset.values` (`tables.replica_identity_autoset`) alters captured tables
//! at start; `topic.heartbeat.name` (`heartbeat.topic`) names the heartbeat topic.

mod common;

use std::time::Duration;

use common::cdc::{Capture, ConnectorFile};
use common::kafka::TestKafka;
use common::pg::TestPg;

fn slot_count(pg: &TestPg, slot: &str) -> String {
    pg.psql(&format!(
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ))
    .trim()
    .to_string()
}

fn confirmed(pg: &TestPg, slot: &str) -> String {
    pg.psql(&format!(
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ))
    .trim()
    .to_string()
}

fn wait_active(cap: &Capture, pg: &TestPg, slot: &str) {
    cap.wait_until("the slot to be active", Duration::from_secs(60), || {
        pg.psql(&format!(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active"
        ))
        .trim()
            == "1"
    });
}

#[test]
fn drop_on_stop_drops_the_slot_at_sigterm_after_confirming() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql("CREATE TABLE d (id int PRIMARY KEY);");
    let file = ConnectorFile::new("dropterm")
        .slot("drop_on_stop = true")
        .extra("[heartbeat]\ninterval = \"200ms\"\ntopic = \"dropterm-beats\"");
    let cap = Capture::new(&pg, &kafka, file);
    let mut child = cap.spawn(None);
    wait_active(&cap, &pg, "dropterm_slot");
    assert!(
        cap.log().contains("slot.drop_on_stop is set"),
        "no warning at start:\n{}",
        cap.log()
    );
    pg.psql("INSERT INTO d SELECT generate_series(1, 20);");
    let end = pg.mark_end();
    let recs = kafka.read_topic("dropterm.public.d", 20, Duration::from_secs(60));
    assert_eq!(recs.len(), 20);
    // `heartbeat.topic` (Debezium topic.heartbeat.name) is the whole heartbeat topic name.
    let beats = kafka.read_topic("dropterm-beats", 1, Duration::from_secs(30));
    assert!(!beats.is_empty(), "no heartbeat on dropterm-beats");
    cap.terminate(&mut child);
    assert_eq!(
        slot_count(&pg, "dropterm_slot"),
        "0",
        "slot left behind:\n{}",
        cap.log()
    );
    // The final progress was flushed before the slot went.
    let stored = cap.offsets("dropterm").expect("offsets file");
    let stored: pgcdc::Lsn = stored["lsn"].as_str().unwrap().parse().unwrap();
    assert!(
        stored >= end.parse().unwrap(),
        "offsets behind {end}: {stored}"
    );
    let log = cap.log();
    let confirmed_at = log.find("progress confirmed").expect("progress confirmed");
    let dropped_at = log.find("slot dropped on stop").expect("slot dropped");
    assert!(confirmed_at < dropped_at, "{log}");
}

#[test]
fn drop_on_stop_drops_the_slot_at_until_lsn_and_the_default_keeps_it() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql("CREATE TABLE k (id int PRIMARY KEY);");
    let keep = Capture::new(&pg, &kafka, ConnectorFile::new("keepslot"));
    let drop = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("dropuntil").slot("drop_on_stop = true"),
    );
    pg.psql("INSERT INTO k VALUES (1), (2);");
    keep.run_to_current(&pg);
    drop.run_to_current(&pg);
    assert_eq!(
        kafka
            .read_topic("keepslot.public.k", 2, Duration::from_secs(30))
            .len(),
        2
    );
    assert_eq!(
        kafka
            .read_topic("dropuntil.public.k", 2, Duration::from_secs(30))
            .len(),
        2
    );
    assert_eq!(
        slot_count(&pg, "keepslot_slot"),
        "1",
        "the default dropped the slot:\n{}",
        keep.log()
    );
    assert!(!keep.log().contains("drop_on_stop"), "{}", keep.log());
    assert_eq!(
        slot_count(&pg, "dropuntil_slot"),
        "0",
        "slot left behind:\n{}",
        drop.log()
    );

    // The next start creates a new slot (the stored position is gone, as chosen) and streams.
    let mut child = drop.spawn(None);
    wait_active(&drop, &pg, "dropuntil_slot");
    assert!(
        drop.log().contains("a new one is created"),
        "{}",
        drop.log()
    );
    pg.psql("INSERT INTO k VALUES (3);");
    assert_eq!(
        kafka
            .read_topic("dropuntil.public.k", 3, Duration::from_secs(30))
            .len(),
        3
    );
    drop.terminate(&mut child);
    assert_eq!(slot_count(&pg, "dropuntil_slot"), "0", "{}", drop.log());
}

#[test]
fn manual_flush_mode_never_moves_the_slot() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql("CREATE TABLE m (id int PRIMARY KEY);");
    let file = ConnectorFile::new("manual").slot("lsn_flush_mode = \"manual\"");
    let cap = Capture::new(&pg, &kafka, file);
    cap.run_once();
    let start = confirmed(&pg, "manual_slot");
    assert!(!start.is_empty(), "slot not created:\n{}", cap.log());

    let mut child = cap.spawn(None);
    wait_active(&cap, &pg, "manual_slot");
    pg.psql("INSERT INTO m SELECT generate_series(1, 30);");
    let end = pg.mark_end();
    assert_eq!(
        kafka
            .read_topic("manual.public.m", 30, Duration::from_secs(60))
            .len(),
        30
    );
    // pgcdc's own offsets advance past the rows...
    cap.wait_until(
        "the offsets to pass the rows",
        Duration::from_secs(30),
        || {
            cap.offsets("manual").is_some_and(|o| {
                o["lsn"].as_str().unwrap().parse::<pgcdc::Lsn>().unwrap() >= end.parse().unwrap()
            })
        },
    );
    // ...while several status updates (every second by default) leave the slot alone.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        confirmed(&pg, "manual_slot"),
        start,
        "slot moved while streaming"
    );
    cap.terminate(&mut child);
    assert_eq!(confirmed(&pg, "manual_slot"), start, "slot moved at stop");

    // The user advances the slot; a restart resumes from pgcdc's offsets, not re-publishing.
    pg.psql(&format!(
        "SELECT pg_replication_slot_advance('manual_slot', '{end}');"
    ));
    pg.psql("INSERT INTO m VALUES (31);");
    cap.run_to_current(&pg);
    let recs = kafka.read_topic("manual.public.m", 31, Duration::from_secs(30));
    assert_eq!(recs.len(), 31, "re-published or lost rows after restart");
    assert_eq!(
        confirmed(&pg, "manual_slot"),
        end,
        "slot moved after restart"
    );
}

#[test]
fn replica_identity_autoset_alters_captured_tables_at_start() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TABLE ri_full (id int PRIMARY KEY, a text, b int);
         CREATE TABLE ri_idx (id int PRIMARY KEY, code int NOT NULL);
         CREATE UNIQUE INDEX ri_idx_code ON ri_idx (code);
         CREATE TABLE ri_keep (id int PRIMARY KEY, a text);
         INSERT INTO ri_full VALUES (1, 'x', 1);
         INSERT INTO ri_keep VALUES (1, 'x');",
    );
    let file = ConnectorFile::new("riset").extra(
        "[tables]\nreplica_identity_autoset = [\"public.ri_full:FULL\", \"public.ri_idx:INDEX ri_idx_code\", \"public.nomatch.*:NOTHING\"]",
    );
    let cap = Capture::new(&pg, &kafka, file);
    cap.run_once();
    let idents = pg.psql(
        "SELECT string_agg(relname || '=' || relreplident::text, ',' ORDER BY relname) FROM pg_class \
         WHERE relname IN ('ri_full', 'ri_idx', 'ri_keep')",
    );
    assert_eq!(
        idents.trim(),
        "ri_full=f,ri_idx=i,ri_keep=d",
        "{}",
        cap.log()
    );
    let index = pg.psql(
        "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         WHERE x.indrelid = 'ri_idx'::regclass AND x.indisreplident",
    );
    assert_eq!(index.trim(), "ri_idx_code");

    pg.psql("UPDATE ri_full SET b = 2; UPDATE ri_keep SET a = 'y';");
    cap.run_to_current(&pg);
    let full = kafka.read_topic("riset.public.ri_full", 2, Duration::from_secs(30));
    let update = full
        .iter()
        .find(|r| r.op() == Some("u"))
        .expect("update event");
    let before = &update.value.as_ref().unwrap()["before"];
    assert_eq!(before["a"], "x", "before image not full: {before}");
    assert_eq!(before["b"], 1, "before image not full: {before}");
    // A table the knob leaves alone keeps DEFAULT: no before image.
    let keep = kafka.read_topic("riset.public.ri_keep", 2, Duration::from_secs(30));
    let update = keep
        .iter()
        .find(|r| r.op() == Some("u"))
        .expect("update event");
    assert!(update.value.as_ref().unwrap()["before"].is_null());

    // A refused ALTER (here: no such index) stops pgcdc with the table and the fix.
    let bad = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("ribad")
            .extra("[tables]\nreplica_identity_autoset = [\"public.ri_keep:INDEX no_such_idx\"]"),
    );
    let (status, err) = bad.run_failing(Duration::from_secs(60));
    assert!(!status.success());
    assert!(err.contains("public.ri_keep"), "{err}");
    assert!(
        err.contains("ALTER TABLE public.ri_keep REPLICA IDENTITY"),
        "{err}"
    );
}
