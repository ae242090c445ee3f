//! Exactly-once mode (`sink.exactly_once = true`): pgcdc killed with SIGKILL over and over
//! while a writer commits small transactions; a `read_committed` consumer then sees every
//! change exactly once, in per-key order (tests/common/verify.rs checks loss and order; this
//! test adds that nothing was published twice).

mod common;

use std::time::{Duration, Instant};

use common::cdc::{Capture, ConnectorFile};
use common::kafka::TestKafka;
use common::pg::TestPg;
use common::verify::{verify, Workload};

const MIN_KILLS: usize = 10;

#[test]
fn sigkill_in_exactly_once_mode_duplicates_nothing() {
    let started = Instant::now();
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let w = Workload {
        txns: 6_000,
        keys: 10,
        pace: Duration::from_millis(25),
    };
    w.create_tables(&pg);
    // No [tables]/[events] sections are rendered, so this lands in [sink].
    let file = ConnectorFile::new("eos").extra("exactly_once = true");
    let cap = Capture::new(&pg, &kafka, file);
    cap.run_once();
    let mut writer = w.start_writer(&pg);

    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut kills = 0;
    let mut kills_while_writing = 0;
    while kills < MIN_KILLS || writer.is_running() {
        let mut child = cap.spawn(None);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(300 + seed % 1200));
        let writing = writer.is_running();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        kills_while_writing += writing as usize;
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "writer too slow"
        );
    }
    writer.finish();
    cap.run_to_current(&pg);
    let log = cap.log();
    assert!(
        log.contains("resuming from the offset record committed to kafka"),
        "never resumed from a kafka offset record:\n{log}"
    );
    let v = verify(&kafka, "eos", &w);
    eprintln!(
        "exactly-once: sigkill {kills} ({kills_while_writing} while the writer was committing); \
         read_committed saw {} ledger records and {} counter records for {} transactions \
         ({} replays); {:?}",
        v.ledger_records,
        v.counter_records,
        w.txns,
        v.replays,
        started.elapsed()
    );
    assert_eq!(v.replays, 0, "a change was published twice");
    assert_eq!(v.ledger_records as i64, w.txns, "ledger records");
    // Plus one snapshot read per counter row taken by the first run.
    assert_eq!(v.counter_records as i64, w.txns + w.keys, "counter records");
    assert!(
        kills_while_writing >= MIN_KILLS,
        "only {kills_while_writing} kills landed while the writer was running"
    );
}
