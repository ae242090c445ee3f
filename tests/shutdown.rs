//! A graceful stop (SIGTERM) flushes acknowledged progress, confirms it to PostgreSQL and exits
//! 0; the next start publishes nothing again.

mod common;

use std::time::{Duration, Instant};

use common::cdc::{Capture, ConnectorFile};
use common::kafka::TestKafka;
use common::pg::TestPg;

#[test]
fn sigterm_flushes_progress_and_exits_zero() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql("CREATE TABLE s (id int PRIMARY KEY);");
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("term"));
    let mut child = cap.spawn(None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while pg
        .psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'term_slot' AND active")
        .trim()
        != "1"
    {
        assert!(
            Instant::now() < deadline,
            "pgcdc did not start:\n{}",
            cap.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    pg.psql("INSERT INTO s SELECT generate_series(1, 50);");
    let end = pg
        .psql("SELECT pg_current_wal_insert_lsn();")
        .trim()
        .to_string();
    let recs = kafka.read_topic("term.public.s", 50, Duration::from_secs(60));
    assert_eq!(recs.len(), 50);

    // Kafka has everything; SIGTERM must leave the slot and the offsets file at least there.
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    cap.wait_ok(&mut child, Duration::from_secs(30));
    let confirmed_past_end = pg.psql(&format!(
        "SELECT confirmed_flush_lsn >= '{end}' FROM pg_replication_slots WHERE slot_name = 'term_slot'"
    ));
    assert_eq!(
        confirmed_past_end.trim(),
        "t",
        "slot not confirmed past the insert"
    );
    let offsets = std::fs::read_to_string(cap.dir.path().join("data/term.offsets.json")).unwrap();
    let stored: serde_json::Value = serde_json::from_str(&offsets).unwrap();
    let stored_lsn: pgcdc::Lsn = stored["lsn"].as_str().unwrap().parse().unwrap();
    assert!(
        stored_lsn >= end.parse().unwrap(),
        "offsets file behind: {offsets}"
    );
    assert!(cap.log().contains("progress confirmed"), "{}", cap.log());

    cap.run_to_current(&pg);
    let again = kafka.read_topic("term.public.s", 50, Duration::from_secs(30));
    assert_eq!(
        again.len(),
        50,
        "a restart after SIGTERM re-published acknowledged rows"
    );
}
