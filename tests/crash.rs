//! pgcdc killed with SIGKILL over and over while a writer commits small transactions: after a
//! final run, every committed change is in Kafka, per-key order is kept, and every replayed
//! record carries the event id of its first copy (tests/common/verify.rs).

mod common;

use std::time::{Duration, Instant};

use common::cdc::{Capture, ConnectorFile};
use common::kafka::TestKafka;
use common::pg::TestPg;
use common::verify::{kill_repeatedly, verify, Workload};

const MIN_KILLS: usize = 20;

#[test]
fn sigkill_loses_nothing() {
    let started = Instant::now();
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let w = Workload {
        txns: 10_000,
        keys: 10,
        pace: Duration::from_millis(25),
    };
    w.create_tables(&pg);
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("crash"));
    cap.run_once();
    let mut writer = w.start_writer(&pg);

    let (kills, kills_while_writing) = kill_repeatedly(
        &cap,
        &writer,
        MIN_KILLS,
        0x9e37_79b9_7f4a_7c15,
        (200, 1000),
        started,
        |_| {},
    );
    writer.finish();
    cap.run_to_current(&pg);
    let v = verify(&kafka, "crash", &w);
    eprintln!(
        "faults: sigkill {kills} ({kills_while_writing} while the writer was committing); \
         {} ledger records for {} transactions ({} replays, all with their first event id); {:?}",
        v.ledger_records,
        w.txns,
        v.replays,
        started.elapsed()
    );
    assert!(
        kills_while_writing >= MIN_KILLS,
        "only {kills_while_writing} kills landed while the writer was running"
    );
}
