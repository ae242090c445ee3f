//! Exactly-once mode (`sink.exactly_once = true`).
//!
//! - Offset records round-trip through the compacted offsets topic: the last committed one of
//!   a connector is what a restart resumes from; aborted ones are never resumed from.
//! - pgcdc killed with SIGKILL over and over while a writer commits small transactions: a
//!   `read_committed` consumer then sees every change, in per-key order, with stable event ids
//!   (tests/common/verify.rs), exactly once.
//!
//! The test first probes that the broker hides aborted transactions from `read_committed`
//! consumers (Apache Kafka does; tansu 0.6.0, the broker of earlier test runs, did not), so a
//! duplicate can only be pgcdc's.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cdc::{Capture, ConnectorFile};
use common::kafka::TestKafka;
use common::pg::TestPg;
use common::verify::{kill_repeatedly, verify, wait_confirmed, Workload};
use pgcdc::format::Record;
use pgcdc::lsn::Lsn;
use pgcdc::offsets::{kafka as kafka_offsets, StoredOffset};
use pgcdc::sink::kafka::{KafkaSink, KafkaSinkConfig};

const MIN_KILLS: usize = 10;

fn transactional_sink(kafka: &TestKafka, id: &str) -> KafkaSink {
    let mut sink = KafkaSink::new(KafkaSinkConfig {
        bootstrap_servers: kafka.bootstrap(),
        transactional_id: Some(id.into()),
        ..Default::default()
    })
    .unwrap();
    sink.init_transactions().unwrap();
    sink
}

fn offset_rec(topic: &Arc<str>, connector: &str, lsn: u64) -> Record {
    Record {
        topic: topic.clone(),
        key: Some(connector.as_bytes().to_vec()),
        value: Some(kafka_offsets::encode(&StoredOffset::new(
            connector,
            "slot",
            Lsn(lsn),
            false,
        ))),
        headers: Vec::new(),
        event_id: None,
    }
}

fn read_latest(kafka: &TestKafka, topic: &str, connector: &str) -> Option<StoredOffset> {
    tokio::task::block_in_place(|| {
        kafka_offsets::read_latest(
            &kafka.bootstrap(),
            &[],
            topic,
            connector,
            "slot",
            Duration::from_secs(30),
        )
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_committed_offset_record_is_read_back() {
    let kafka = TestKafka::start();
    let topic: Arc<str> = Arc::from("c.pgcdc-offsets");
    let mut sink = transactional_sink(&kafka, "pgcdc-c");
    sink.ensure_offsets_topic(&topic).await.unwrap();
    assert_eq!(read_latest(&kafka, &topic, "c"), None, "empty topic");
    for (connector, lsn) in [("c", 10), ("c", 20), ("other", 99)] {
        sink.send(&offset_rec(&topic, connector, lsn))
            .await
            .unwrap();
    }
    assert_eq!(sink.transaction_records(), 3);
    sink.commit_transaction().unwrap();
    assert_eq!(sink.transaction_age(), None, "committed");
    sink.send(&offset_rec(&topic, "c", 30)).await.unwrap();
    sink.commit_transaction().unwrap();
    let got = read_latest(&kafka, &topic, "c").expect("a record for c");
    assert_eq!(got.lsn, Lsn(30));
    assert_eq!(read_latest(&kafka, &topic, "other").unwrap().lsn, Lsn(99));
    let wrong_slot = tokio::task::block_in_place(|| {
        kafka_offsets::read_latest(
            &kafka.bootstrap(),
            &[],
            &topic,
            "c",
            "another_slot",
            Duration::from_secs(30),
        )
    });
    assert!(
        wrong_slot.is_err_and(|e| e.to_string().contains("another_slot")),
        "a record of another slot is refused"
    );
}

/// Whether the broker hides the records of an aborted transaction from `read_committed`
/// consumers (what exactly-once delivery relies on).
async fn broker_hides_aborted_transactions(kafka: &TestKafka) -> bool {
    let topic: Arc<str> = Arc::from("probe.aborts");
    let mut sink = transactional_sink(kafka, "probe");
    let rec = |n: i32| Record {
        topic: topic.clone(),
        key: Some(b"1".to_vec()),
        value: Some(format!("{{\"n\":{n}}}").into_bytes()),
        headers: Vec::new(),
        event_id: None,
    };
    sink.send(&rec(1)).await.unwrap();
    sink.commit_transaction().unwrap();
    sink.send(&rec(2)).await.unwrap();
    sink.acks().wait_for(sink.sent()).await.unwrap();
    sink.abort_transaction().unwrap();
    sink.send(&rec(3)).await.unwrap();
    sink.commit_transaction().unwrap();
    let seen = tokio::task::block_in_place(|| kafka.read_topic(&topic, 2, Duration::from_secs(20)));
    let values: Vec<i64> = seen
        .iter()
        .filter_map(|r| r.value.as_ref()?["n"].as_i64())
        .collect();
    assert!(
        values.contains(&1) && values.contains(&3),
        "committed records missing: {values:?}"
    );
    !values.contains(&2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_exactly_once_mode() {
    let started = Instant::now();
    let kafka = TestKafka::start();
    let hides_aborts = broker_hides_aborted_transactions(&kafka).await;
    tokio::task::block_in_place(|| sigkill_cycles(&kafka, hides_aborts, started));
}

fn sigkill_cycles(kafka: &TestKafka, hides_aborts: bool, started: Instant) {
    let pg = TestPg::start();
    let w = Workload {
        txns: 6_000,
        keys: 10,
        pace: Duration::from_millis(25),
    };
    w.create_tables(&pg);
    // No [tables]/[events] sections are rendered, so this lands in [sink].
    let file = ConnectorFile::new("eos").extra("exactly_once = true");
    let cap = Capture::new(&pg, kafka, file);
    cap.run_once();
    let mut writer = w.start_writer(&pg);

    // Every third start begins without the local data directory (a container that lost its
    // volume): the position then comes from the offsets topic alone, so a restart that
    // resumes from Kafka is certain to happen, not left to a kill landing between the Kafka
    // commit and the file write.
    let data_dir = cap.dir.path().join("data");
    let mut wiped = 0;
    let (kills, kills_while_writing) = kill_repeatedly(
        &cap,
        &writer,
        MIN_KILLS,
        0x2545_f491_4f6c_dd1d,
        (300, 1200),
        started,
        |kills| {
            if kills % 3 == 2 && data_dir.exists() {
                std::fs::remove_dir_all(&data_dir).unwrap();
                wiped += 1;
            }
        },
    );
    writer.finish();
    cap.run_to_current(&pg);
    let log = cap.log();
    let resumes = log
        .matches("resuming from the offset record committed to kafka")
        .count();
    assert!(
        resumes > 0,
        "never resumed from a kafka offset record ({wiped} starts without local offsets):\n{log}"
    );
    let v = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        verify(kafka, "eos", &w)
    })) {
        Ok(v) => v,
        Err(panic) => {
            // Keep what pgcdc did, to trace a loss to the start that caused it.
            let kept = std::env::temp_dir().join(format!("pgcdc-eos-{}.log", std::process::id()));
            let _ = std::fs::write(&kept, &log);
            eprintln!("pgcdc's log kept in {}", kept.display());
            std::panic::resume_unwind(panic);
        }
    };
    eprintln!(
        "exactly-once: sigkill {kills} ({kills_while_writing} while the writer was committing), \
         {resumes} resumes from a kafka offset record ({wiped} starts without local offsets); read_committed saw {} ledger and {} \
         counter records for {} transactions ({} duplicates); broker hides aborted \
         transactions: {hides_aborts}; {:?}",
        v.ledger_records,
        v.counter_records,
        w.txns,
        v.replays,
        started.elapsed()
    );
    assert!(
        kills_while_writing >= MIN_KILLS,
        "only {kills_while_writing} kills landed while the writer was running"
    );
    assert!(
        hides_aborts,
        "the broker shows aborted transactions to read_committed consumers: duplicates cannot be \
         told from pgcdc's"
    );
    assert_eq!(v.replays, 0, "a change was published twice");
    assert_eq!(v.ledger_records as i64, w.txns, "ledger records");
    // Plus one snapshot read per counter row, taken by the first run.
    assert_eq!(v.counter_records as i64, w.txns + w.keys, "counter records");
}

/// The cost of exactly-once mode: the same backlog of small transactions streamed by a plain
/// and by an exactly-once connector (process start included). Ignored by default:
/// `cargo test --test exactly_once -- --ignored --nocapture`.
#[test]
#[ignore]
fn exactly_once_throughput_cost() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let w = Workload {
        txns: 60_000,
        keys: 10,
        pace: Duration::ZERO,
    };
    w.create_tables(&pg);
    let plain = Capture::new(&pg, &kafka, ConnectorFile::new("plain"));
    let eos = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("eosb").extra("exactly_once = true"),
    );
    plain.run_once();
    eos.run_once();
    w.start_writer(&pg).finish();
    let mut took = Vec::new();
    for cap in [&plain, &eos] {
        let t = Instant::now();
        cap.run_to_current(&pg);
        took.push(t.elapsed());
    }
    let per_sec = |d: Duration| w.txns as f64 / d.as_secs_f64();
    eprintln!(
        "{} transactions of 2 changes: plain {:?} ({:.0} tx/s), exactly-once {:?} ({:.0} tx/s)",
        w.txns,
        took[0],
        per_sec(took[0]),
        took[1],
        per_sec(took[1])
    );
    let n = kafka.read_topic(
        "eosb.public.ledger",
        w.txns as usize,
        Duration::from_secs(60),
    );
    assert_eq!(
        n.len() as i64,
        w.txns,
        "exactly-once connector delivered all"
    );
}

/// A position passed while no Kafka transaction is open (WAL without published changes, here
/// transactions that change nothing, confirmed from the server's keepalive) must reach the
/// offsets topic before the offsets file and the slot: otherwise a start without the local
/// data directory resumes from an older offset record than the slot has confirmed, and the
/// connector refuses to start (the slot is "ahead").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_without_local_offsets_after_a_quiet_stretch() {
    let kafka = TestKafka::start();
    tokio::task::block_in_place(|| {
        let pg = TestPg::start();
        pg.psql("CREATE TABLE quiet (id int PRIMARY KEY);");
        let file = ConnectorFile::new("eosq").extra("exactly_once = true");
        let cap = Capture::new(&pg, &kafka, file);
        cap.run_once();
        pg.psql("INSERT INTO quiet VALUES (1);");
        let row1 = pg
            .psql("SELECT pg_current_wal_insert_lsn();")
            .trim()
            .to_string();
        let mut child = cap.spawn(None);
        assert!(
            wait_confirmed(&pg, "eosq_slot", &row1, Duration::from_secs(60)),
            "row 1 never confirmed; log:\n{}",
            cap.log()
        );
        // Transactions without changes: the server skips them and its keepalives move past
        // them while no Kafka transaction is open.
        for _ in 0..3 {
            pg.psql("SELECT txid_current();");
        }
        let end = pg
            .psql("SELECT pg_current_wal_insert_lsn();")
            .trim()
            .to_string();
        assert!(
            wait_confirmed(&pg, "eosq_slot", &end, Duration::from_secs(60)),
            "slot never confirmed {end}; log:\n{}",
            cap.log()
        );
        child.kill().unwrap();
        child.wait().unwrap();
        pg.psql("INSERT INTO quiet VALUES (2);");
        std::fs::remove_dir_all(cap.dir.path().join("data")).unwrap();
        cap.run_to_current(&pg);
        let ids: Vec<i64> = kafka
            .read_topic("eosq.public.quiet", 2, Duration::from_secs(30))
            .iter()
            .filter_map(|r| r.value.as_ref()?["after"]["id"].as_i64())
            .collect();
        assert_eq!(ids, vec![1, 2], "log:\n{}", cap.log());
    });
}
