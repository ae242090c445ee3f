//! pgcdc killed with SIGKILL over and over while a writer commits 10,000 small transactions:
//! after a final run, every committed change is in Kafka and per-key order is kept. Duplicates
//! are allowed only as replays of unacknowledged transactions, i.e. a key's sequence may step
//! back after a restart but never skips a value.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cdc::{Capture, ConnectorFile};
use common::kafka::TestKafka;
use common::pg::TestPg;

const TXNS: i64 = 10_000;
const KEYS: i64 = 10;
const MIN_KILLS: usize = 5;

#[test]
fn sigkill_loses_nothing() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TABLE ledger (id bigint PRIMARY KEY, k int NOT NULL);
         CREATE TABLE counters (k int PRIMARY KEY, v bigint NOT NULL);
         INSERT INTO counters SELECT g, 0 FROM generate_series(0, 9) g;",
    );
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("crash"));
    cap.run_once();

    // One small transaction per iteration: a new ledger row and a counter bump for its key.
    let writer_sql = format!(
        "DO $$ BEGIN FOR i IN 1..{TXNS} LOOP
           INSERT INTO ledger VALUES (i, i % {KEYS});
           UPDATE counters SET v = v + 1 WHERE k = i % {KEYS};
           COMMIT;
           -- Paced so that the kills land while transactions are being committed.
           IF i % 10 = 0 THEN PERFORM pg_sleep(0.01); END IF;
         END LOOP; END $$;"
    );
    let mut writer = Command::new(pg.bin("psql"))
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
        ])
        .arg("-p")
        .arg(pg.port().to_string())
        .args(["-d", "postgres", "-c", &writer_sql])
        .stdout(Stdio::null())
        .spawn()
        .expect("writer");

    // Kill at pseudo-random moments (fixed seed, so a failure can be replayed).
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut kills = 0;
    let mut kills_while_writing = 0;
    let started = Instant::now();
    while kills < MIN_KILLS || writer.try_wait().unwrap().is_none() {
        let mut child = cap.spawn(None);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(300 + seed % 1200));
        let writing = writer.try_wait().unwrap().is_none();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        kills_while_writing += writing as usize;
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "writer too slow"
        );
    }
    assert!(writer.wait().unwrap().success(), "writer failed");
    cap.run_to_current(&pg);
    eprintln!("sigkill cycles: {kills} ({kills_while_writing} while the writer was committing)");
    assert!(
        kills_while_writing >= MIN_KILLS,
        "only {kills_while_writing} kills landed while the writer was running"
    );

    let ledger = kafka.read_topic(
        "crash.public.ledger",
        TXNS as usize,
        Duration::from_secs(120),
    );
    let mut seen = std::collections::BTreeSet::new();
    for r in &ledger {
        seen.insert(r.value.as_ref().unwrap()["after"]["id"].as_i64().unwrap());
    }
    let missing: Vec<i64> = (1..=TXNS).filter(|i| !seen.contains(i)).take(10).collect();
    assert!(
        missing.is_empty(),
        "lost ledger rows, first ones: {missing:?}"
    );

    // Each counter update carries the new value; per key the values must arrive in order.
    let mut per_key: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let counters = kafka.read_topic(
        "crash.public.counters",
        TXNS as usize,
        Duration::from_secs(120),
    );
    for r in &counters {
        let after = &r.value.as_ref().unwrap()["after"];
        per_key
            .entry(after["k"].as_i64().unwrap())
            .or_default()
            .push(after["v"].as_i64().unwrap());
    }
    for (k, vs) in &per_key {
        let expected_max = TXNS / KEYS;
        let mut high = 0;
        for (i, v) in vs.iter().enumerate() {
            // Either the next value, or a replay of something already seen.
            assert!(
                *v == high + 1 || *v <= high,
                "key {k}: value {v} after high-water {high} at position {i} (skipped a change)"
            );
            high = high.max(*v);
        }
        assert_eq!(high, expected_max, "key {k} did not reach its final value");
    }
    assert_eq!(per_key.len() as i64, KEYS);
    let dups = ledger.len() as i64 - TXNS;
    eprintln!(
        "ledger records: {} for {TXNS} transactions ({dups} replays of unacknowledged ones)",
        ledger.len()
    );
}
