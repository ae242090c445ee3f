//! `pgcdc status` reports the stored position, the slot and its lag, and changes nothing.

mod common;

use common::cdc::{status_lag, Capture, ConnectorFile};
use common::kafka::TestKafka;
use common::pg::TestPg;

#[test]
fn status_shows_offsets_slot_and_lag() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql("CREATE TABLE st (id int PRIMARY KEY);");
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("stat"));

    let (ok, before) = cap.status();
    assert!(ok, "{before}");
    assert!(before.contains("connector stat"), "{before}");
    assert!(before.contains("position none (first start)"), "{before}");
    assert!(
        before.contains("slot: stat_slot does not exist"),
        "{before}"
    );

    cap.run_to_current(&pg);
    let confirmed = pg
        .psql("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'stat_slot';")
        .trim()
        .to_string();
    pg.psql("INSERT INTO st SELECT generate_series(1, 1000);");
    let (ok, after) = cap.status();
    assert!(ok, "{after}");
    assert!(
        after.contains(&format!("slot: stat_slot inactive, confirmed {confirmed}")),
        "{after}"
    );
    assert!(after.contains("snapshot completed"), "{after}");
    let lag = status_lag(&after);
    assert!(lag > 0, "1000 uncaptured inserts must show as lag: {after}");
    let still = pg
        .psql("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'stat_slot';")
        .trim()
        .to_string();
    assert_eq!(still, confirmed, "status must not move the slot");
}
